//! The Redis 7.0 cluster bus message format ("RCmb"), as pure code: typed messages and their
//! byte encoding, with no I/O.
//!
//! Owns the wire layout of every cluster bus message: the fixed header (`header.rs`), the
//! per-type bodies and their exact lengths (`body.rs`), ping extensions (`ext.rs`), and the
//! framing rules below. Depends on nothing else in the crate but `slot::SLOTS`; the bus
//! transport reads frames with [`frame_len`] + [`decode`] and writes them with [`encode`].
//!
//! ```text
//! 0      4        8     10     12     14      16            40      80         2128
//! | RCmb | totlen | ver | port | type | count | epochs+offset | sender | myslots | slaveof ..
//! 2168   2214         2216        2246    2248    2250    2252    2253     2256
//! | myip | extensions | notused1 | pport | cport | flags | state | mflags | body ...
//! ```
//! All integers are big-endian. A frame is exactly `totlen` bytes: the 2256-byte header plus
//! the body its type needs (see `body.rs`), never the C struct's `sizeof(clusterMsg)` (4352).
//!
//! Validation follows Redis 7.0 (`clusterReadHandler` + the checks at the top of
//! `clusterProcessPacket`, which 7.2 moved into `clusterIsValidPacket`), with two kinds of
//! failure, told apart by [`WireError::closes_link`]:
//! - framing (bad signature, `totlen` < 2256 or over the caller's cap): Redis frees the link,
//!   because the stream can't be resynchronised;
//! - content (version, unknown type, length not matching the type, bad extension): Redis
//!   drops that one message and keeps reading.
//!
//! Where Redis is looser than this code, the difference is deliberate and only rejects input
//! Redis itself never produces: extension lengths are read as the full `u32` (7.0 truncates
//! them to `u16`), an extension shorter than its own 8-byte header (e.g. length 0, which 7.0
//! accepts and then re-reads forever) is rejected, a string extension must contain its NUL,
//! and PUBLISH lengths are summed without `u32` wrap-around.

mod body;
mod cursor;
mod ext;
mod header;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_live;
#[cfg(test)]
mod tests_malformed;

pub use body::{
    gossip_offset, Body, GossipEntry, FAIL_LEN, GOSSIP_ENTRY_LEN, MODULE_PREFIX_LEN,
    PUBLISH_PREFIX_LEN, UPDATE_LEN,
};
pub use ext::{ext_type, ExtProblem, Extension, EXT_HEADER_LEN};
pub use header::{mflags0, node_flags, offset, Header, MsgType, STATE_FAIL, STATE_OK};

/// Every frame starts with these four bytes ("Redis Cluster message bus").
pub const SIGNATURE: [u8; 4] = *b"RCmb";
/// `CLUSTER_PROTO_VER`: messages with another version are dropped.
pub const PROTO_VER: u16 = 1;
/// Node names and shard ids: 40 hex characters, not NUL-terminated (`CLUSTER_NAMELEN`).
pub const NAME_LEN: usize = 40;
/// IP address fields (`NET_IP_STR_LEN`).
pub const IP_LEN: usize = 46;
/// One bit per slot.
pub const SLOT_BITMAP_LEN: usize = crate::slot::SLOTS / 8;
/// Bytes before the body (`offsetof(clusterMsg, data)`, Redis's `CLUSTERMSG_MIN_LEN`).
pub const HEADER_LEN: usize = offset::DATA;
/// Smallest `totlen` Redis accepts: it closes the link on anything shorter than a header.
pub const MIN_FRAME: usize = HEADER_LEN;
/// Bytes needed to learn a frame's length (signature + `totlen`).
pub const PREFIX_LEN: usize = 8;

/// A node name or shard id as it travels on the wire.
pub type NodeName = [u8; NAME_LEN];
/// Slot ownership bitmap: slot `s` is bit `s % 8` (least significant first) of byte `s / 8`.
pub type SlotBitmap = [u8; SLOT_BITMAP_LEN];

/// One cluster bus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    /// Must be the variant that [`Body::fits`] `header.msg_type`.
    pub body: Body,
}

impl Message {
    /// The frame length `encode` will produce (`totlen`).
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.body.wire_len()
    }
}

/// Why bytes could not be read as a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The frame doesn't start with "RCmb".
    BadSignature([u8; 4]),
    /// `totlen` is below [`MIN_FRAME`].
    TooShort { totlen: u32 },
    /// `totlen` is above the cap given to [`frame_len`].
    TooLong { totlen: u32, max: usize },
    /// The slice given to [`decode`] is shorter than `need` bytes (8, or `totlen`).
    Incomplete { need: usize, got: usize },
    /// The slice given to [`decode`] is longer than its `totlen`.
    Trailing { totlen: u32, got: usize },
    /// `ver` is not [`PROTO_VER`].
    BadVersion(u16),
    /// A type number Redis 7.0 doesn't define (Redis counts and ignores these).
    UnknownType(u16),
    /// `totlen` differs from the length the type and its length fields imply.
    LengthMismatch {
        msg_type: MsgType,
        totlen: u32,
        expected: u64,
    },
    /// PING/PONG/MEET declares more gossip entries than fit in the `room` body bytes.
    CountBeyondFrame { count: u16, room: usize },
    /// Ping extension number `index` (from 0) is malformed.
    BadExtension { index: u16, problem: ExtProblem },
}

impl WireError {
    /// Whether the link must be closed: the byte stream can no longer be split into frames.
    /// Other errors concern one well-delimited frame, which is dropped (as Redis does).
    pub fn closes_link(&self) -> bool {
        matches!(
            self,
            WireError::BadSignature(_)
                | WireError::TooShort { .. }
                | WireError::TooLong { .. }
                | WireError::Incomplete { .. }
                | WireError::Trailing { .. }
        )
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::BadSignature(sig) => write!(f, "bad signature \"{}\"", sig.escape_ascii()),
            WireError::TooShort { totlen } => {
                write!(f, "frame length {totlen} is below the minimum {MIN_FRAME}")
            }
            WireError::TooLong { totlen, max } => {
                write!(f, "frame length {totlen} is above the limit {max}")
            }
            WireError::Incomplete { need, got } => {
                write!(f, "incomplete frame: {got} bytes of {need}")
            }
            WireError::Trailing { totlen, got } => {
                write!(f, "{got} bytes given for a frame of length {totlen}")
            }
            WireError::BadVersion(v) => write!(f, "unsupported protocol version {v}"),
            WireError::UnknownType(t) => write!(f, "unknown message type {t}"),
            WireError::LengthMismatch {
                msg_type,
                totlen,
                expected,
            } => write!(
                f,
                "invalid {msg_type} message of length {totlen}, expected {expected}"
            ),
            WireError::CountBeyondFrame { count, room } => {
                write!(f, "{count} gossip entries do not fit in {room} bytes")
            }
            WireError::BadExtension { index, problem } => {
                write!(f, "ping extension {index}: {problem}")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// Checks the first 8 bytes of a frame and returns its total length (`totlen`, prefix
/// included). Errors here all [close the link](WireError::closes_link). `max` bounds what
/// the caller is willing to buffer; Redis has no cap, and PUBLISH frames carry whole
/// messages, so it should be at least `proto-max-bulk-len` plus a header.
pub fn frame_len(prefix: &[u8; PREFIX_LEN], max: usize) -> Result<usize, WireError> {
    let [s0, s1, s2, s3, l0, l1, l2, l3] = *prefix;
    let sig = [s0, s1, s2, s3];
    if sig != SIGNATURE {
        return Err(WireError::BadSignature(sig));
    }
    let totlen = u32::from_be_bytes([l0, l1, l2, l3]);
    let len = totlen as usize;
    if len < MIN_FRAME {
        return Err(WireError::TooShort { totlen });
    }
    if len > max {
        return Err(WireError::TooLong { totlen, max });
    }
    Ok(len)
}

/// Decodes one whole frame (prefix included, exactly `totlen` bytes), applying the checks
/// Redis 7.0 applies before acting on a message. Never panics, and allocates only after a
/// length has been checked against the frame.
pub fn decode(frame: &[u8]) -> Result<Message, WireError> {
    let prefix: &[u8; PREFIX_LEN] = frame
        .get(..PREFIX_LEN)
        .and_then(|p| p.try_into().ok())
        .ok_or(WireError::Incomplete {
            need: PREFIX_LEN,
            got: frame.len(),
        })?;
    let len = frame_len(prefix, usize::MAX)?;
    let totlen = len as u32; // frame_len read it from a u32
    if frame.len() < len {
        return Err(WireError::Incomplete {
            need: len,
            got: frame.len(),
        });
    }
    if frame.len() > len {
        return Err(WireError::Trailing {
            totlen,
            got: frame.len(),
        });
    }
    // len >= MIN_FRAME = HEADER_LEN, so the fixed fields below are in the frame.
    let field = |at: usize| u16::from_be_bytes([frame[at], frame[at + 1]]);
    let version = field(offset::VER);
    if version != PROTO_VER {
        return Err(WireError::BadVersion(version));
    }
    let raw_type = field(offset::TYPE);
    let msg_type = MsgType::from_u16(raw_type).ok_or(WireError::UnknownType(raw_type))?;
    let (header, framing) = header::decode(&frame[..HEADER_LEN], msg_type)?;
    let body = body::decode(msg_type, &framing, &frame[HEADER_LEN..])?;
    Ok(Message { header, body })
}

/// Encodes `msg` as Redis 7.0 would send it: `totlen`, `count`, `extensions` and the
/// `EXT_DATA` bit are computed from the body, unused bytes are zero, and the frame is exactly
/// `msg.wire_len()` bytes.
///
/// # Panics
/// If the frame would exceed 4 GiB or a gossip body holds more than 65535 entries or
/// extensions (not representable on the wire). In debug builds, also if the body doesn't
/// [fit](Body::fits) the header's type; release builds encode it anyway and the receiver
/// will reject it with a length mismatch.
pub fn encode(msg: &Message) -> Vec<u8> {
    debug_assert!(
        msg.body.fits(msg.header.msg_type),
        "{} message with a mismatched body",
        msg.header.msg_type
    );
    let len = msg.wire_len();
    let totlen = u32::try_from(len).expect("cluster bus frame over 4 GiB");
    let (count, extensions) = msg.body.counts();
    let mut out = Vec::with_capacity(len);
    msg.header
        .encode(&mut out, totlen, count, extensions, extensions > 0);
    msg.body.encode(&mut out);
    debug_assert_eq!(out.len(), len);
    out
}

/// Whether `slot` is set in `bits` (Redis's `bitmapTestBit`).
///
/// # Panics
/// If `slot` >= 16384.
pub fn slot_bit(bits: &SlotBitmap, slot: u16) -> bool {
    let slot = usize::from(slot);
    bits[slot / 8] & (1 << (slot % 8)) != 0
}

/// Sets or clears `slot` in `bits`.
///
/// # Panics
/// If `slot` >= 16384.
pub fn set_slot_bit(bits: &mut SlotBitmap, slot: u16, on: bool) {
    let slot = usize::from(slot);
    let mask = 1 << (slot % 8);
    if on {
        bits[slot / 8] |= mask;
    } else {
        bits[slot / 8] &= !mask;
    }
}
