//! Message bodies: what follows the 2256-byte header (the `clusterMsgData` union of Redis 7.0
//! `cluster.h`), and the exact length each message type must have.
//!
//! Redis never sends the union at its C size (2096 bytes, its largest member UPDATE): every
//! frame is exactly the header plus the bytes its type needs, and `clusterIsValidPacket`
//! (`clusterProcessPacket` in 7.0) drops a message whose `totlen` differs from that:
//!
//! | type                         | body                                                   |
//! |------------------------------|--------------------------------------------------------|
//! | PING, PONG, MEET             | `count` x 104-byte gossip entries, then ping extensions |
//! | FAIL                         | node name (40)                                          |
//! | PUBLISH, PUBLISHSHARD        | channel_len u32, message_len u32, channel, message      |
//! | AUTH_REQUEST, AUTH_ACK, MFSTART | nothing                                              |
//! | UPDATE                       | config_epoch u64, node name (40), slot bitmap (2048)    |
//! | MODULE                       | module_id u64, len u32, type u8, payload (len)          |
//!
//! Owns [`Body`], [`GossipEntry`] and the per-type length rules. Depends on `cursor.rs`,
//! `ext.rs` and the shared types in `mod.rs`.

use bytes::Bytes;

use super::cursor::{cstr_field, put_cstr_field, put_u16, put_u32, put_u64, Reader};
use super::ext::Extension;
use super::header::{Framing, MsgType};
use super::{NodeName, SlotBitmap, WireError, HEADER_LEN, IP_LEN, NAME_LEN, SLOT_BITMAP_LEN};

/// Size of one gossip entry (`clusterMsgDataGossip`).
pub const GOSSIP_ENTRY_LEN: usize = 104;
/// FAIL body (`clusterMsgDataFail`).
pub const FAIL_LEN: usize = NAME_LEN;
/// UPDATE body (`clusterMsgDataUpdate`).
pub const UPDATE_LEN: usize = 8 + NAME_LEN + SLOT_BITMAP_LEN;
/// PUBLISH/PUBLISHSHARD bytes before the channel: `sizeof(clusterMsgDataPublish) - 8`, the
/// 8 being the placeholder `bulk_data[8]` Redis subtracts again when computing the length.
pub const PUBLISH_PREFIX_LEN: usize = 8;
/// MODULE bytes before the payload: `sizeof(clusterMsgModule) - 3` (placeholder `bulk_data[3]`).
pub const MODULE_PREFIX_LEN: usize = 13;

/// Byte offsets inside a gossip entry.
pub mod gossip_offset {
    pub const NODENAME: usize = 0;
    pub const PING_SENT: usize = 40;
    pub const PONG_RECEIVED: usize = 44;
    pub const IP: usize = 48;
    pub const PORT: usize = 94;
    pub const CPORT: usize = 96;
    pub const FLAGS: usize = 98;
    pub const PPORT: usize = 100;
    pub const NOTUSED1: usize = 102;
}

const _: () = {
    use gossip_offset::*;
    assert!(PING_SENT == NODENAME + NAME_LEN && PONG_RECEIVED == PING_SENT + 4);
    assert!(IP == PONG_RECEIVED + 4 && PORT == IP + IP_LEN && CPORT == PORT + 2);
    assert!(FLAGS == CPORT + 2 && PPORT == FLAGS + 2 && NOTUSED1 == PPORT + 2);
    assert!(GOSSIP_ENTRY_LEN == NOTUSED1 + 2);
};

/// What the sender knows about one other node (`clusterMsgDataGossip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipEntry {
    pub node_id: NodeName,
    /// When the sender last pinged the node, unix seconds (0 = no ping pending).
    pub ping_sent: u32,
    /// When the sender last received a pong from the node, unix seconds.
    pub pong_received: u32,
    /// At most 45 bytes go on the wire.
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    /// `node_flags` as seen by the sender.
    pub flags: u16,
    pub pport: u16,
}

impl GossipEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.node_id);
        put_u32(out, self.ping_sent);
        put_u32(out, self.pong_received);
        put_cstr_field(out, &self.ip, IP_LEN);
        put_u16(out, self.port);
        put_u16(out, self.cport);
        put_u16(out, self.flags);
        put_u16(out, self.pport);
        put_u16(out, 0); // notused1
    }

    fn decode(r: &mut Reader<'_>) -> Option<GossipEntry> {
        let entry = GossipEntry {
            node_id: r.array()?,
            ping_sent: r.u32()?,
            pong_received: r.u32()?,
            ip: cstr_field(r.take(IP_LEN)?),
            port: r.u16()?,
            cport: r.u16()?,
            flags: r.u16()?,
            pport: r.u16()?,
        };
        r.u16()?; // notused1
        Some(entry)
    }
}

/// The part of a message after the header; which variant goes with which [`MsgType`] is
/// given by [`Body::fits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// PING, PONG, MEET.
    Gossip {
        entries: Vec<GossipEntry>,
        extensions: Vec<Extension>,
    },
    /// FAIL: `node_id` is now considered failed by the sender.
    Fail { node_id: NodeName },
    /// PUBLISH and PUBLISHSHARD.
    Publish { channel: Bytes, message: Bytes },
    /// UPDATE: `node_id` serves `slots` under `config_epoch`.
    Update {
        config_epoch: u64,
        node_id: NodeName,
        slots: Box<SlotBitmap>,
    },
    /// MODULE. Redis copies `module_id` as 8 opaque bytes (it is "already endian adjusted");
    /// here they are read as a big-endian `u64`, which round-trips the bytes unchanged.
    Module {
        module_id: u64,
        module_type: u8,
        payload: Bytes,
    },
    /// FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: Redis sends only the header.
    Empty,
}

impl Body {
    /// Whether this body is the one Redis sends with `msg_type`.
    pub fn fits(&self, msg_type: MsgType) -> bool {
        use MsgType::*;
        matches!(
            (self, msg_type),
            (Body::Gossip { .. }, Ping | Pong | Meet)
                | (Body::Fail { .. }, Fail)
                | (Body::Publish { .. }, Publish | PublishShard)
                | (Body::Update { .. }, Update)
                | (Body::Module { .. }, Module)
                | (Body::Empty, FailoverAuthRequest | FailoverAuthAck | MfStart)
        )
    }

    /// Bytes this body takes after the header.
    pub fn wire_len(&self) -> usize {
        match self {
            Body::Gossip {
                entries,
                extensions,
            } => {
                entries.len() * GOSSIP_ENTRY_LEN
                    + extensions.iter().map(Extension::wire_len).sum::<usize>()
            }
            Body::Fail { .. } => FAIL_LEN,
            Body::Publish { channel, message } => {
                PUBLISH_PREFIX_LEN + channel.len() + message.len()
            }
            Body::Update { .. } => UPDATE_LEN,
            Body::Module { payload, .. } => MODULE_PREFIX_LEN + payload.len(),
            Body::Empty => 0,
        }
    }

    /// The header's `count` and `extensions` fields for this body.
    ///
    /// # Panics
    /// If a gossip body has more than 65535 entries or extensions.
    pub(super) fn counts(&self) -> (u16, u16) {
        match self {
            Body::Gossip {
                entries,
                extensions,
            } => (
                u16::try_from(entries.len()).expect("over 65535 gossip entries"),
                u16::try_from(extensions.len()).expect("over 65535 ping extensions"),
            ),
            _ => (0, 0),
        }
    }

    /// Appends the body.
    ///
    /// # Panics
    /// If a PUBLISH channel/message or a MODULE payload exceeds `u32::MAX` bytes.
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Body::Gossip {
                entries,
                extensions,
            } => {
                entries.iter().for_each(|e| e.encode(out));
                extensions.iter().for_each(|e| e.encode(out));
            }
            Body::Fail { node_id } => out.extend_from_slice(node_id),
            Body::Publish { channel, message } => {
                put_u32(out, len_u32(channel.len()));
                put_u32(out, len_u32(message.len()));
                out.extend_from_slice(channel);
                out.extend_from_slice(message);
            }
            Body::Update {
                config_epoch,
                node_id,
                slots,
            } => {
                put_u64(out, *config_epoch);
                out.extend_from_slice(node_id);
                out.extend_from_slice(&slots[..]);
            }
            Body::Module {
                module_id,
                module_type,
                payload,
            } => {
                put_u64(out, *module_id);
                put_u32(out, len_u32(payload.len()));
                out.push(*module_type);
                out.extend_from_slice(payload);
            }
            Body::Empty => {}
        }
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("cluster bus field over 4 GiB")
}

/// Parses the body of a `msg_type` message. `body` is everything after the header and
/// `framing` holds the header's `totlen`/`count`/`extensions`/`EXT_DATA`. Every length is
/// compared with the frame before anything is read or allocated.
pub(super) fn decode(msg_type: MsgType, framing: &Framing, body: &[u8]) -> Result<Body, WireError> {
    use MsgType::*;
    let mismatch = |expected: u64| WireError::LengthMismatch {
        msg_type,
        totlen: framing.totlen,
        expected,
    };
    let mut r = Reader::new(body);
    let decoded = match msg_type {
        Ping | Pong | Meet => decode_gossip(framing, &mut r)?,
        Fail => Body::Fail {
            node_id: exact::<FAIL_LEN>(&mut r).ok_or(mismatch(fixed_len(FAIL_LEN)))?,
        },
        Publish | PublishShard => decode_publish(&mut r, mismatch)?,
        Update => {
            let raw = exact::<UPDATE_LEN>(&mut r).ok_or(mismatch(fixed_len(UPDATE_LEN)))?;
            let mut u = Reader::new(&raw);
            match (u.u64(), u.array(), u.array()) {
                (Some(config_epoch), Some(node_id), Some(slots)) => Body::Update {
                    config_epoch,
                    node_id,
                    slots: Box::new(slots),
                },
                _ => return Err(mismatch(fixed_len(UPDATE_LEN))),
            }
        }
        Module => decode_module(&mut r, mismatch)?,
        FailoverAuthRequest | FailoverAuthAck | MfStart => {
            exact::<0>(&mut r).ok_or(mismatch(fixed_len(0)))?;
            Body::Empty
        }
    };
    if r.remaining() != 0 {
        // Only reachable for PING/PONG/MEET: bytes after the gossip and extensions.
        return Err(mismatch((HEADER_LEN + r.pos()) as u64));
    }
    Ok(decoded)
}

fn fixed_len(body_len: usize) -> u64 {
    (HEADER_LEN + body_len) as u64
}

/// The whole rest of the body as `N` bytes, or `None` if it is not exactly `N` long.
fn exact<const N: usize>(r: &mut Reader<'_>) -> Option<[u8; N]> {
    if r.remaining() != N {
        return None;
    }
    r.array()
}

fn decode_gossip(framing: &Framing, r: &mut Reader<'_>) -> Result<Body, WireError> {
    let count = framing.count;
    let room = r.remaining();
    if usize::from(count) * GOSSIP_ENTRY_LEN > room {
        return Err(WireError::CountBeyondFrame { count, room });
    }
    let mut entries = Vec::with_capacity(count.into());
    for _ in 0..count {
        // Cannot fail: the room for `count` entries was checked above.
        entries.push(GossipEntry::decode(r).ok_or(WireError::CountBeyondFrame { count, room })?);
    }
    // Redis looks at `extensions` only when EXT_DATA is set; otherwise any bytes left over
    // are a length mismatch, reported by the caller.
    let mut extensions = Vec::new();
    if framing.ext_data {
        // Each record is at least 8 bytes, which bounds the allocation by the frame.
        extensions.reserve(usize::from(framing.extensions).min(r.remaining() / 8));
        for index in 0..framing.extensions {
            let ext = Extension::decode(r)
                .map_err(|problem| WireError::BadExtension { index, problem })?;
            extensions.push(ext);
        }
    }
    Ok(Body::Gossip {
        entries,
        extensions,
    })
}

fn decode_publish(
    r: &mut Reader<'_>,
    mismatch: impl Fn(u64) -> WireError,
) -> Result<Body, WireError> {
    let at_least = mismatch(fixed_len(PUBLISH_PREFIX_LEN));
    let (channel_len, message_len) = match (r.u32(), r.u32()) {
        (Some(c), Some(m)) => (c as usize, m as usize),
        _ => return Err(at_least),
    };
    // Summed in u64: two u32 lengths can't overflow it (Redis sums them in u32 and wraps).
    let expected = fixed_len(PUBLISH_PREFIX_LEN) + channel_len as u64 + message_len as u64;
    if expected != (HEADER_LEN + PUBLISH_PREFIX_LEN + r.remaining()) as u64 {
        return Err(mismatch(expected));
    }
    match (r.take(channel_len), r.take(message_len)) {
        (Some(channel), Some(message)) => Ok(Body::Publish {
            channel: Bytes::copy_from_slice(channel),
            message: Bytes::copy_from_slice(message),
        }),
        _ => Err(mismatch(expected)),
    }
}

fn decode_module(
    r: &mut Reader<'_>,
    mismatch: impl Fn(u64) -> WireError,
) -> Result<Body, WireError> {
    let at_least = mismatch(fixed_len(MODULE_PREFIX_LEN));
    let (module_id, len, module_type) = match (r.u64(), r.u32(), r.u8()) {
        (Some(id), Some(len), Some(ty)) => (id, len as usize, ty),
        _ => return Err(at_least),
    };
    let expected = fixed_len(MODULE_PREFIX_LEN) + len as u64;
    if expected != (HEADER_LEN + MODULE_PREFIX_LEN + r.remaining()) as u64 {
        return Err(mismatch(expected));
    }
    let payload = r.take(len).ok_or(mismatch(expected))?;
    Ok(Body::Module {
        module_id,
        module_type,
        payload: Bytes::copy_from_slice(payload),
    })
}
