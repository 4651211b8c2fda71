//! Redis's RDB serialization, version 10 (Redis 7.0): the one codec behind DUMP/RESTORE,
//! snapshots (SAVE/BGSAVE, warm restarts) and, later, MIGRATE and a replica's full sync.
//! Typed, no RESP inside; values go in and out through the store's own types.
//!
//! - `encode`: writes what a 7.0 server writes (compact listpack/intset encodings where Redis
//!   would use them, LZF for strings over 20 bytes when `rdbcompression` is on).
//! - `decode`: reads every encoding Redis 7.0 reads, RDB versions 1-10: strings (int, raw,
//!   LZF), linked lists, ziplists, quicklists (v1 ziplist nodes, v2 listpack/plain nodes),
//!   zipmaps, intsets, listpacks, zsets with text or binary scores. Every length is checked
//!   against what is left (a slice) or read in bounded chunks (a stream), so a declared
//!   length never drives an allocation; every embedded structure is fully parsed (Redis's
//!   deep sanitization, always on), so duplicates, bad back-lengths or unsorted intsets are
//!   `Bad data format`, never a panic.
//! - `load`: the opcode loop of a whole file (AUX, SELECTDB, RESIZEDB, EXPIRETIME, IDLE,
//!   FREQ, MODULE_AUX skipped when it carries no data we need, FUNCTION refused, EOF + CRC64).
//!
//! Crates, measured with `cargo bench --bench rdb` (benches/rdb.rs) on the 2-core dev machine:
//! CRC64-Jones comes from `crc` (`CRC_64_REDIS`, slice-by-16 table): ~3 GiB/s. LZF
//! decompression comes from `lzf` (bounds-checked; 1.8-3.4 GiB/s). Its compressor allocates
//! and zeroes a 64K-entry table on every call: 3.45 us for a 100-byte string against 0.22 us
//! for ours (1 KiB: 4.0 us vs 1.45 us), so `lzf.rs` has its own compressor with a per-thread
//! table that is never cleared (stale entries are verified, never trusted). Encoding one small
//! string record costs ~10 ns; a whole SAVE of 1M such keys is bound by fetching the entries
//! from memory (see store/snapshot.rs).
pub mod decode;
pub mod encode;
pub mod listpack;
pub mod load;
pub mod lzf;
pub mod stream;
pub mod ziplist;

use crate::store::types::{hash, list::ChunkLimit, zset};

/// RDB_VERSION of Redis 7.0.
pub const RDB_VERSION: u16 = 10;

// Length encodings (rdb.h).
pub const RDB_6BITLEN: u8 = 0;
pub const RDB_14BITLEN: u8 = 1;
pub const RDB_32BITLEN: u8 = 0x80;
pub const RDB_64BITLEN: u8 = 0x81;
pub const RDB_ENCVAL: u8 = 3;
pub const RDB_ENC_INT8: u8 = 0;
pub const RDB_ENC_INT16: u8 = 1;
pub const RDB_ENC_INT32: u8 = 2;
pub const RDB_ENC_LZF: u8 = 3;

// Object types.
pub const RDB_TYPE_STRING: u8 = 0;
pub const RDB_TYPE_LIST: u8 = 1;
pub const RDB_TYPE_SET: u8 = 2;
pub const RDB_TYPE_ZSET: u8 = 3;
pub const RDB_TYPE_HASH: u8 = 4;
pub const RDB_TYPE_ZSET_2: u8 = 5;
pub const RDB_TYPE_MODULE: u8 = 6;
pub const RDB_TYPE_MODULE_2: u8 = 7;
pub const RDB_TYPE_HASH_ZIPMAP: u8 = 9;
pub const RDB_TYPE_LIST_ZIPLIST: u8 = 10;
pub const RDB_TYPE_SET_INTSET: u8 = 11;
pub const RDB_TYPE_ZSET_ZIPLIST: u8 = 12;
pub const RDB_TYPE_HASH_ZIPLIST: u8 = 13;
pub const RDB_TYPE_LIST_QUICKLIST: u8 = 14;
pub const RDB_TYPE_STREAM_LISTPACKS: u8 = 15;
pub const RDB_TYPE_HASH_LISTPACK: u8 = 16;
pub const RDB_TYPE_ZSET_LISTPACK: u8 = 17;
pub const RDB_TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const RDB_TYPE_STREAM_LISTPACKS_2: u8 = 19;

// Opcodes.
pub const RDB_OPCODE_FUNCTION2: u8 = 245;
pub const RDB_OPCODE_FUNCTION: u8 = 246;
pub const RDB_OPCODE_MODULE_AUX: u8 = 247;
pub const RDB_OPCODE_IDLE: u8 = 248;
pub const RDB_OPCODE_FREQ: u8 = 249;
pub const RDB_OPCODE_AUX: u8 = 250;
pub const RDB_OPCODE_RESIZEDB: u8 = 251;
pub const RDB_OPCODE_EXPIRETIME_MS: u8 = 252;
pub const RDB_OPCODE_EXPIRETIME: u8 = 253;
pub const RDB_OPCODE_SELECTDB: u8 = 254;
pub const RDB_OPCODE_EOF: u8 = 255;

// Module value opcodes (RDB_TYPE_MODULE_2 / MODULE_AUX bodies).
pub const RDB_MODULE_OPCODE_EOF: u64 = 0;
pub const RDB_MODULE_OPCODE_SINT: u64 = 1;
pub const RDB_MODULE_OPCODE_UINT: u64 = 2;
pub const RDB_MODULE_OPCODE_FLOAT: u64 = 3;
pub const RDB_MODULE_OPCODE_DOUBLE: u64 = 4;
pub const RDB_MODULE_OPCODE_STRING: u64 = 5;

// Quicklist 2 node containers.
pub const QUICKLIST_NODE_CONTAINER_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_CONTAINER_PACKED: u64 = 2;

/// CRC64-Jones (Redis's `crc64`), reflected, init 0.
pub static CRC64: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

/// Why a payload or file could not be read. `offset` is where in the input it was noticed.
#[derive(Debug)]
pub enum RdbError {
    Io(std::io::Error),
    /// The bytes do not form a valid value or file.
    Corrupt {
        offset: u64,
        what: String,
    },
    /// A type this server cannot hold (streams, modules).
    Unsupported {
        offset: u64,
        what: String,
    },
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::Io(e) => write!(f, "I/O error: {e}"),
            RdbError::Corrupt { offset, what } => write!(f, "{what} (at offset {offset})"),
            RdbError::Unsupported { offset, what } => {
                write!(f, "{what} not supported (at offset {offset})")
            }
        }
    }
}

impl From<std::io::Error> for RdbError {
    fn from(e: std::io::Error) -> Self {
        RdbError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, RdbError>;

/// The encoding thresholds a loaded value is built with (the config's *-max-listpack-* and
/// set-max-intset-entries), so a loaded value has the encoding Redis would give it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub hash: hash::Limits,
    pub zset: zset::Limits,
    pub set_max_intset: usize,
    pub list: ChunkLimit,
    /// list-max-listpack-size as configured (the writer splits quicklist nodes by it).
    pub list_fill: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash: hash::Limits {
                max_entries: 128,
                max_value: 64,
            },
            zset: zset::Limits {
                entries: 128,
                value: 64,
            },
            set_max_intset: 512,
            list: ChunkLimit::from_fill(-2),
            list_fill: -2,
        }
    }
}

impl Limits {
    pub fn from_config(hot: &crate::config::Hot) -> Limits {
        Limits {
            hash: hash::Limits {
                max_entries: hot.hash_max_listpack_entries,
                max_value: hot.hash_max_listpack_value,
            },
            zset: zset::Limits {
                entries: hot.zset_max_listpack_entries,
                value: hot.zset_max_listpack_value,
            },
            set_max_intset: hot.set_max_intset_entries,
            list: ChunkLimit::from_fill(hot.list_max_listpack_size),
            list_fill: hot.list_max_listpack_size,
        }
    }
}

#[cfg(test)]
mod tests;
