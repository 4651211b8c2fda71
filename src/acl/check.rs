//! May this user run this request? (Redis's ACLCheckAllUserCommandPerm.) A request is allowed
//! when one selector allows all of it: the command, every key with the access its key spec
//! needs, every channel. Otherwise the refusal reported is the most specific any selector
//! reached (channel over key over command; the later argument among equals).
use super::catalog::Catalog;
use super::user::{Selector, User};
use crate::util::glob;

/// What a request needs checked, prepared by the dispatcher from the command table.
pub struct Request<'a> {
    pub id: usize,
    pub args: &'a [bytes::Bytes],
    /// Keys: argument index and the access needed (READ | WRITE bits; 0: any pattern).
    pub keys: &'a [(usize, u8)],
    /// Channels: argument index and whether it is a pattern (PSUBSCRIBE).
    pub channels: &'a [(usize, bool)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    /// The argument index of the key.
    Key(usize),
    /// The argument index of the channel.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }
}

pub fn check(catalog: &Catalog, user: &User, req: &Request) -> Result<(), Denied> {
    if user.unrestricted {
        return Ok(());
    }
    let mut worst = Denied::Command;
    for sel in &user.selectors {
        match check_selector(catalog, sel, req) {
            Ok(()) => return Ok(()),
            Err(d) => {
                let (r, p) = d.rank();
                let (wr, wp) = worst.rank();
                if r > wr || (r == wr && p > wp) {
                    worst = d;
                }
            }
        }
    }
    Err(worst)
}

fn check_selector(catalog: &Catalog, sel: &Selector, req: &Request) -> Result<(), Denied> {
    if !command_allowed(catalog, sel, req.id, req.args) {
        return Err(Denied::Command);
    }
    if !sel.all_keys {
        for &(i, need) in req.keys {
            if !key_allowed(sel, &req.args[i], need) {
                return Err(Denied::Key(i));
            }
        }
    }
    if !sel.all_channels {
        for &(i, pattern) in req.channels {
            if !channel_allowed(sel, &req.args[i], pattern) {
                return Err(Denied::Channel(i));
            }
        }
    }
    Ok(())
}

pub fn command_allowed(
    catalog: &Catalog,
    sel: &Selector,
    id: usize,
    args: &[bytes::Bytes],
) -> bool {
    if sel.all_commands || catalog.entries[id].no_auth || sel.bit(id) {
        return true;
    }
    args.len() >= 2
        && sel
            .first_args_of(id)
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&args[1]))
}

pub fn key_allowed(sel: &Selector, key: &[u8], need: u8) -> bool {
    sel.all_keys
        || sel
            .keys
            .iter()
            .any(|k| k.perms & need == need && glob::matches(&k.pattern, key, false))
}

/// A channel matches a channel pattern by glob; a PSUBSCRIBE pattern only an equal pattern.
pub fn channel_allowed(sel: &Selector, channel: &[u8], is_pattern: bool) -> bool {
    sel.all_channels
        || sel.channels.iter().any(|c| {
            if is_pattern {
                c.as_slice() == channel
            } else {
                glob::matches(c, channel, false)
            }
        })
}

/// SORT BY/GET with patterns read arbitrary keys: allowed when a selector that allows the
/// command reads every key (allkeys, or a `*` pattern with read access).
pub fn reads_all_keys(catalog: &Catalog, user: &User, id: usize, args: &[bytes::Bytes]) -> bool {
    user.selectors.iter().any(|s| {
        command_allowed(catalog, s, id, args)
            && (s.all_keys
                || s.keys
                    .iter()
                    .any(|k| k.pattern == b"*" && k.perms & super::user::READ != 0))
    })
}
