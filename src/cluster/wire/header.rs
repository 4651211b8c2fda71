//! The fixed 2256-byte header every cluster bus message starts with (`clusterMsg` up to its
//! `data` union in Redis 7.0 `cluster.h`), the message-type table, and the node/message flag
//! vocabulary carried in it.
//!
//! Owns: field offsets (checked at compile time, like Redis's `static_assert`s), [`MsgType`],
//! [`Header`] and its encoding. The body after the header belongs to `body.rs`. Depends only
//! on `cursor.rs`.

use super::cursor::{cstr_field, put_cstr_field, put_u16, put_u32, put_u64, put_zeros, Reader};
use super::{NodeName, SlotBitmap, WireError, IP_LEN, NAME_LEN, SLOT_BITMAP_LEN};

/// Byte offsets of the header fields, as in Redis 7.0 `cluster.h`.
pub mod offset {
    pub const SIG: usize = 0;
    pub const TOTLEN: usize = 4;
    pub const VER: usize = 8;
    pub const PORT: usize = 10;
    pub const TYPE: usize = 12;
    pub const COUNT: usize = 14;
    pub const CURRENT_EPOCH: usize = 16;
    pub const CONFIG_EPOCH: usize = 24;
    pub const OFFSET: usize = 32;
    pub const SENDER: usize = 40;
    pub const MYSLOTS: usize = 80;
    pub const SLAVEOF: usize = 2128;
    pub const MYIP: usize = 2168;
    pub const EXTENSIONS: usize = 2214;
    pub const NOTUSED1: usize = 2216;
    pub const PPORT: usize = 2246;
    pub const CPORT: usize = 2248;
    pub const FLAGS: usize = 2250;
    pub const STATE: usize = 2252;
    pub const MFLAGS: usize = 2253;
    /// Start of the `data` union: the body.
    pub const DATA: usize = 2256;
}

/// Reserved bytes after `extensions` (`notused1[30]`), zero on the wire.
const NOTUSED1_LEN: usize = 30;

// Each field starts where the previous one ends: the sequential writer in `Header::encode`
// and the offsets above can't drift apart.
const _: () = {
    use offset::*;
    assert!(TOTLEN == SIG + 4 && VER == TOTLEN + 4 && PORT == VER + 2 && TYPE == PORT + 2);
    assert!(COUNT == TYPE + 2 && CURRENT_EPOCH == COUNT + 2 && CONFIG_EPOCH == CURRENT_EPOCH + 8);
    assert!(OFFSET == CONFIG_EPOCH + 8 && SENDER == OFFSET + 8 && MYSLOTS == SENDER + NAME_LEN);
    assert!(SLAVEOF == MYSLOTS + SLOT_BITMAP_LEN && MYIP == SLAVEOF + NAME_LEN);
    assert!(EXTENSIONS == MYIP + IP_LEN && NOTUSED1 == EXTENSIONS + 2);
    assert!(PPORT == NOTUSED1 + NOTUSED1_LEN && CPORT == PPORT + 2 && FLAGS == CPORT + 2);
    assert!(STATE == FLAGS + 2 && MFLAGS == STATE + 1 && DATA == MFLAGS + 3);
};

/// `CLUSTER_NODE_*`: the sender's node flags (`Header::flags`, `GossipEntry::flags`).
pub mod node_flags {
    pub const MASTER: u16 = 1 << 0;
    pub const SLAVE: u16 = 1 << 1;
    pub const PFAIL: u16 = 1 << 2;
    pub const FAIL: u16 = 1 << 3;
    pub const MYSELF: u16 = 1 << 4;
    pub const HANDSHAKE: u16 = 1 << 5;
    pub const NOADDR: u16 = 1 << 6;
    pub const MEET: u16 = 1 << 7;
    pub const MIGRATE_TO: u16 = 1 << 8;
    pub const NOFAILOVER: u16 = 1 << 9;
    /// Redis 7.2+: the node understands ping extensions. 7.0 never sets it.
    pub const EXTENSIONS_SUPPORTED: u16 = 1 << 10;
}

/// `CLUSTERMSG_FLAG0_*`: bits of `mflags[0]`.
pub mod mflags0 {
    /// The sending primary is paused for a manual failover.
    pub const PAUSED: u8 = 1 << 0;
    /// Grant the FAILOVER_AUTH_REQUEST even though the primary is up (manual failover).
    pub const FORCEACK: u8 = 1 << 1;
    /// PING/PONG/MEET carries `extensions` ping extensions after the gossip entries. Framing,
    /// not state: `decode` clears it and `encode` sets it from the body.
    pub const EXT_DATA: u8 = 1 << 2;
}

/// `Header::state` as Redis sends it (`CLUSTER_OK`, `CLUSTER_FAIL`).
pub const STATE_OK: u8 = 0;
pub const STATE_FAIL: u8 = 1;

/// Declares the message types once: the enum, its wire numbers, `ALL`, and the names Redis
/// uses in `CLUSTER INFO` (`cluster_stats_messages_<name>_sent`, `clusterGetMessageTypeString`).
macro_rules! message_types {
    ($($variant:ident = $num:literal, $name:literal;)*) => {
        /// `CLUSTERMSG_TYPE_*`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum MsgType {
            $($variant = $num,)*
        }

        impl MsgType {
            /// Every type, in wire-number order (index = wire number).
            pub const ALL: [MsgType; [$($num),*].len()] = [$(MsgType::$variant),*];
            /// `CLUSTERMSG_TYPE_COUNT`: size of per-type stats arrays.
            pub const COUNT: usize = Self::ALL.len();

            /// The type for a wire number, `None` for numbers Redis 7.0 doesn't define.
            pub fn from_u16(v: u16) -> Option<MsgType> {
                match v {
                    $($num => Some(MsgType::$variant),)*
                    _ => None,
                }
            }

            /// Redis's name for the type, as in `CLUSTER INFO` statistics.
            pub fn name(self) -> &'static str {
                match self {
                    $(MsgType::$variant => $name,)*
                }
            }
        }
    };
}

message_types! {
    Ping = 0, "ping";
    Pong = 1, "pong";
    Meet = 2, "meet";
    Fail = 3, "fail";
    Publish = 4, "publish";
    FailoverAuthRequest = 5, "auth-req";
    FailoverAuthAck = 6, "auth-ack";
    Update = 7, "update";
    MfStart = 8, "mfstart";
    Module = 9, "module";
    PublishShard = 10, "publishshard";
}

impl std::fmt::Display for MsgType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The header fields that carry information. Framing fields are derived when encoding:
/// `sig`, `ver`, `totlen`, `count` and `extensions` come from the body, as does the
/// `EXT_DATA` bit of `mflags[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub msg_type: MsgType,
    /// Client port (TLS port if TLS is on), as announced.
    pub port: u16,
    /// The sender's `currentEpoch`.
    pub current_epoch: u64,
    /// The sender's `configEpoch`, or its primary's if the sender is a replica.
    pub config_epoch: u64,
    /// Replication offset: primary's own, or the processed offset of a replica.
    pub offset: u64,
    /// The sender's node name (40 hex characters).
    pub sender: NodeName,
    /// Slots served by the sender, or by its primary if it is a replica.
    pub myslots: Box<SlotBitmap>,
    /// The sender's primary if it is a replica (`slaveof` on the wire; all zero = `None`).
    pub replicaof: Option<NodeName>,
    /// Announced IP (`cluster-announce-ip`); empty = receiver uses the socket's peer address.
    /// At most 45 bytes go on the wire.
    pub myip: String,
    /// Plaintext client port when `port` is the TLS port, else 0.
    pub pport: u16,
    /// Cluster bus port.
    pub cport: u16,
    /// [`node_flags`] of the sender.
    pub flags: u16,
    /// [`STATE_OK`] or [`STATE_FAIL`] from the sender's point of view.
    pub state: u8,
    /// Message flags, see [`mflags0`]. `EXT_DATA` is always clear here (derived from the body).
    pub mflags: [u8; 3],
}

impl Header {
    /// A header of `msg_type` from `sender` with every other field zero or empty.
    pub fn new(msg_type: MsgType, sender: NodeName) -> Header {
        Header {
            msg_type,
            port: 0,
            current_epoch: 0,
            config_epoch: 0,
            offset: 0,
            sender,
            myslots: Box::new([0; SLOT_BITMAP_LEN]),
            replicaof: None,
            myip: String::new(),
            pport: 0,
            cport: 0,
            flags: 0,
            state: STATE_OK,
            mflags: [0; 3],
        }
    }

    /// Appends the 2256 header bytes. `totlen`, `count` and `extensions` are computed by the
    /// caller from the body; `ext_data` sets the `EXT_DATA` bit.
    pub(super) fn encode(
        &self,
        out: &mut Vec<u8>,
        totlen: u32,
        count: u16,
        extensions: u16,
        ext_data: bool,
    ) {
        let start = out.len();
        out.extend_from_slice(&super::SIGNATURE);
        put_u32(out, totlen);
        put_u16(out, super::PROTO_VER);
        put_u16(out, self.port);
        put_u16(out, self.msg_type as u16);
        put_u16(out, count);
        put_u64(out, self.current_epoch);
        put_u64(out, self.config_epoch);
        put_u64(out, self.offset);
        out.extend_from_slice(&self.sender);
        out.extend_from_slice(&self.myslots[..]);
        out.extend_from_slice(&self.replicaof.unwrap_or([0; NAME_LEN]));
        put_cstr_field(out, &self.myip, IP_LEN);
        put_u16(out, extensions);
        put_zeros(out, NOTUSED1_LEN);
        put_u16(out, self.pport);
        put_u16(out, self.cport);
        put_u16(out, self.flags);
        out.push(self.state);
        let mut mflags = self.mflags;
        mflags[0] &= !mflags0::EXT_DATA;
        if ext_data {
            mflags[0] |= mflags0::EXT_DATA;
        }
        out.extend_from_slice(&mflags);
        debug_assert_eq!(out.len() - start, offset::DATA);
    }
}

/// The framing fields of a decoded header, needed to parse the body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Framing {
    pub totlen: u32,
    /// Number of gossip entries (PING/PONG/MEET only).
    pub count: u16,
    /// Number of ping extensions, meaningful only when `ext_data` is set.
    pub extensions: u16,
    pub ext_data: bool,
}

/// Parses the header fields after the signature, length and version have been checked.
/// `raw` is at least the first [`offset::DATA`] bytes of the frame; the message type has
/// already been mapped to `msg_type`.
pub(super) fn decode(raw: &[u8], msg_type: MsgType) -> Result<(Header, Framing), WireError> {
    let short = WireError::Incomplete {
        need: offset::DATA,
        got: raw.len(),
    };
    parse(raw, msg_type).ok_or(short)
}

fn parse(raw: &[u8], msg_type: MsgType) -> Option<(Header, Framing)> {
    let mut r = Reader::new(raw);
    r.take(offset::TOTLEN)?; // signature, checked by the caller
    let totlen = r.u32()?;
    r.u16()?; // version, checked by the caller
    let port = r.u16()?;
    r.u16()?; // type, passed in as `msg_type`
    let count = r.u16()?;
    let current_epoch = r.u64()?;
    let config_epoch = r.u64()?;
    let offset = r.u64()?;
    let sender = r.array::<NAME_LEN>()?;
    let myslots = Box::new(r.array::<SLOT_BITMAP_LEN>()?);
    let slaveof = r.array::<NAME_LEN>()?;
    let myip = cstr_field(r.take(IP_LEN)?);
    let extensions = r.u16()?;
    r.take(NOTUSED1_LEN)?;
    let pport = r.u16()?;
    let cport = r.u16()?;
    let flags = r.u16()?;
    let state = r.u8()?;
    let mut mflags = r.array::<3>()?;
    let ext_data = mflags[0] & mflags0::EXT_DATA != 0;
    mflags[0] &= !mflags0::EXT_DATA;
    let header = Header {
        msg_type,
        port,
        current_epoch,
        config_epoch,
        offset,
        sender,
        myslots,
        replicaof: (slaveof != [0; NAME_LEN]).then_some(slaveof),
        myip,
        pport,
        cport,
        flags,
        state,
        mflags,
    };
    let framing = Framing {
        totlen,
        count,
        extensions,
        ext_data,
    };
    Some((header, framing))
}
