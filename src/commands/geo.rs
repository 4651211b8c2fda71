//! Geo commands. PENDING: every handler below is a placeholder being replaced by a real
//! implementation; a command still pending answers as an unknown command and must be removed
//! from scripts/gen_command_table.py before a submission.
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

macro_rules! pending {
    ($($name:ident),*) => {
        $(pub fn $name(_ctx: &mut Ctx, a: &[Bytes]) -> R {
            Err(ErrorReply::unknown_command(&a[0], &a[1..]))
        })*
    };
}

pending!(geoadd, geodist, geohash, geopos, georadius, georadius_ro, georadiusbymember, georadiusbymember_ro, geosearch, geosearchstore);
