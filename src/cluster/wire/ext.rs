//! Ping extensions: the optional records after the gossip entries of PING/PONG/MEET
//! (`clusterMsgPingExt` in Redis `cluster.h`, written by `writePingExt`).
//!
//! Each record is `length u32, type u16, unused u16` (8 bytes; `length` first, counting the
//! header) followed by a payload padded with zeros to a multiple of 8, so every record is
//! 8-byte aligned (`getAlignedPingExtSize`). Types: HOSTNAME = 0 (Redis 7.0), HUMAN_NODENAME
//! = 1, FORGOTTEN_NODE = 2, SHARDID = 3 (added in 7.2). Redis 7.0 logs and skips types it
//! doesn't know, so sending 7.2 types to a 7.0 node is harmless.
//!
//! Owns [`Extension`] and its encoding. Depends only on `cursor.rs`.

use super::cursor::{put_u16, put_u32, put_u64, put_zeros, Reader};
use super::{NodeName, NAME_LEN};

/// Size of the record header (`length`, `type`, `unused`).
pub const EXT_HEADER_LEN: usize = 8;

/// Extension type numbers (`CLUSTERMSG_EXT_TYPE_*`).
pub mod ext_type {
    pub const HOSTNAME: u16 = 0;
    pub const HUMAN_NODENAME: u16 = 1;
    pub const FORGOTTEN_NODE: u16 = 2;
    pub const SHARDID: u16 = 3;
}

/// Payload size of FORGOTTEN_NODE: node name + ttl.
const FORGOTTEN_NODE_LEN: usize = NAME_LEN + 8;

/// One ping extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// `cluster-announce-hostname` of the sender. Sent NUL-terminated; bytes after the first
    /// NUL are not part of it, so a string containing NUL does not round-trip.
    Hostname(String),
    /// `cluster-announce-human-nodename` (7.2+), same encoding as `Hostname`.
    HumanNodename(String),
    /// 7.2+: the sender did `CLUSTER FORGET node_id`; receivers drop the node and refuse to
    /// re-add it for `ttl` seconds.
    ForgottenNode { node_id: NodeName, ttl: u64 },
    /// 7.2+: the sender's shard id (40 hex characters).
    ShardId(NodeName),
    /// A type this code doesn't interpret, kept so it can be logged or relayed. `payload`
    /// is everything after the record header, padding included; `encode` pads it with zeros
    /// to a multiple of 8, so only 8-aligned payloads round-trip byte for byte.
    Unknown { ext_type: u16, payload: Vec<u8> },
}

/// Why a ping extension was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtProblem {
    /// Fewer than 8 bytes left for the record header.
    HeaderBeyondFrame,
    /// `length` is smaller than the record header itself (0 included).
    LengthTooSmall(u32),
    /// `length` is not a multiple of 8 (Redis: "without proper padding").
    Unaligned(u32),
    /// `length` runs past the end of the frame.
    BeyondFrame(u32),
    /// Payload shorter than the fixed size of its type (FORGOTTEN_NODE, SHARDID).
    PayloadTooShort(u32),
    /// HOSTNAME/HUMAN_NODENAME payload without a terminating NUL.
    Unterminated,
}

impl std::fmt::Display for ExtProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExtProblem::HeaderBeyondFrame => write!(f, "header runs past the frame"),
            ExtProblem::LengthTooSmall(n) => write!(f, "length {n} is smaller than its header"),
            ExtProblem::Unaligned(n) => write!(f, "length {n} is not a multiple of 8"),
            ExtProblem::BeyondFrame(n) => write!(f, "length {n} runs past the frame"),
            ExtProblem::PayloadTooShort(n) => write!(f, "length {n} is too short for its type"),
            ExtProblem::Unterminated => write!(f, "string is not NUL-terminated"),
        }
    }
}

fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

impl Extension {
    /// The wire type number.
    pub fn ext_type(&self) -> u16 {
        match self {
            Extension::Hostname(_) => ext_type::HOSTNAME,
            Extension::HumanNodename(_) => ext_type::HUMAN_NODENAME,
            Extension::ForgottenNode { .. } => ext_type::FORGOTTEN_NODE,
            Extension::ShardId(_) => ext_type::SHARDID,
            Extension::Unknown { ext_type, .. } => *ext_type,
        }
    }

    /// Payload bytes before padding.
    fn payload_len(&self) -> usize {
        match self {
            Extension::Hostname(s) | Extension::HumanNodename(s) => s.len() + 1,
            Extension::ForgottenNode { .. } => FORGOTTEN_NODE_LEN,
            Extension::ShardId(_) => NAME_LEN,
            Extension::Unknown { payload, .. } => payload.len(),
        }
    }

    /// Size of the whole record on the wire, header and padding included.
    pub fn wire_len(&self) -> usize {
        EXT_HEADER_LEN + align8(self.payload_len())
    }

    /// Appends the record.
    ///
    /// # Panics
    /// If the record would exceed `u32::MAX` bytes (only possible with an absurd `Unknown`
    /// payload or string).
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        let len = self.wire_len();
        let start = out.len();
        put_u32(out, u32::try_from(len).expect("ping extension over 4 GiB"));
        put_u16(out, self.ext_type());
        put_u16(out, 0);
        match self {
            Extension::Hostname(s) | Extension::HumanNodename(s) => {
                out.extend_from_slice(s.as_bytes());
            }
            Extension::ForgottenNode { node_id, ttl } => {
                out.extend_from_slice(node_id);
                put_u64(out, *ttl);
            }
            Extension::ShardId(id) => out.extend_from_slice(id),
            Extension::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
        // Zero padding; for strings this includes the terminating NUL.
        put_zeros(out, start + len - out.len());
    }

    /// Parses one record from `r`, which holds the rest of the frame. On success the record
    /// (padding included) has been consumed.
    pub(super) fn decode(r: &mut Reader<'_>) -> Result<Extension, ExtProblem> {
        let mut head = Reader::new(
            r.take(EXT_HEADER_LEN)
                .ok_or(ExtProblem::HeaderBeyondFrame)?,
        );
        let (len, ty) = match (head.u32(), head.u16()) {
            (Some(len), Some(ty)) => (len, ty),
            _ => return Err(ExtProblem::HeaderBeyondFrame),
        };
        if (len as usize) < EXT_HEADER_LEN {
            return Err(ExtProblem::LengthTooSmall(len));
        }
        if len % 8 != 0 {
            return Err(ExtProblem::Unaligned(len));
        }
        let payload = r
            .take(len as usize - EXT_HEADER_LEN)
            .ok_or(ExtProblem::BeyondFrame(len))?;
        Self::from_payload(ty, len, payload)
    }

    fn from_payload(ty: u16, len: u32, payload: &[u8]) -> Result<Extension, ExtProblem> {
        let mut p = Reader::new(payload);
        let ext = match ty {
            ext_type::HOSTNAME => Extension::Hostname(nul_terminated(payload)?),
            ext_type::HUMAN_NODENAME => Extension::HumanNodename(nul_terminated(payload)?),
            ext_type::FORGOTTEN_NODE => match (p.array::<NAME_LEN>(), p.u64()) {
                (Some(node_id), Some(ttl)) => Extension::ForgottenNode { node_id, ttl },
                _ => return Err(ExtProblem::PayloadTooShort(len)),
            },
            ext_type::SHARDID => {
                Extension::ShardId(p.array().ok_or(ExtProblem::PayloadTooShort(len))?)
            }
            ext_type => Extension::Unknown {
                ext_type,
                payload: payload.to_vec(),
            },
        };
        Ok(ext)
    }
}

/// The string before the first NUL of `payload`; the NUL must be inside the record (Redis
/// reads it with `strlen`, which would otherwise run into whatever follows).
fn nul_terminated(payload: &[u8]) -> Result<String, ExtProblem> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .ok_or(ExtProblem::Unterminated)?;
    Ok(String::from_utf8_lossy(&payload[..end]).into_owned())
}
