//! Writing RDB: lengths, strings (int / LZF / raw, `rdbSaveRawString`), values in the
//! encodings Redis 7.0 writes (`rdbSaveObject`), key/value records with their expiry and
//! LRU/LFU opcodes, the header with its AUX fields, and the EOF + CRC64 trailer. Everything is
//! appended to a `Vec<u8>`; the caller streams the buffer to a file or socket and keeps the
//! CRC over what it wrote.
use super::listpack::Builder;
use super::*;
use crate::store::types::hash::Hash;
use crate::store::types::list::List;
use crate::store::types::set::Set;
use crate::store::types::zset::ZSet;
use crate::store::Value;

/// Where encoded bytes go: a `Vec` (DUMP payloads, snapshot steps) or a sink that streams to
/// a file as it fills (big values, so encoding one never needs a buffer of its size).
pub trait Sink {
    fn push(&mut self, b: u8);
    fn extend_from_slice(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn push(&mut self, b: u8) {
        Vec::push(self, b)
    }
    #[inline]
    fn extend_from_slice(&mut self, b: &[u8]) {
        Vec::extend_from_slice(self, b)
    }
}

/// How values are written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub compress: bool,
    /// `list-max-listpack-size`: how a list is split into quicklist nodes.
    pub list_fill: i64,
}

impl Options {
    /// `rdbcompression` and `list-max-listpack-size` from the live config.
    pub fn from_config(c: &crate::config::Config) -> Options {
        Options {
            compress: c.get("rdbcompression") != Some("no"),
            list_fill: c.hot.list_max_listpack_size,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compress: true,
            list_fill: -2,
        }
    }
}

/// The access information saved with a key (RDB_OPCODE_IDLE / RDB_OPCODE_FREQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    None,
    /// Idle seconds (an LRU policy is in force).
    Idle(u64),
    /// The LFU counter (an LFU policy is in force).
    Freq(u8),
}

pub fn write_len(out: &mut impl Sink, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push((RDB_14BITLEN << 6) | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(RDB_32BITLEN);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(RDB_64BITLEN);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// `rdbEncodeInteger`: an integer that fits 32 bits as an encoded string. False if it does not.
fn write_encoded_int(out: &mut impl Sink, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push((RDB_ENCVAL << 6) | RDB_ENC_INT8);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push((RDB_ENCVAL << 6) | RDB_ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push((RDB_ENCVAL << 6) | RDB_ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `rdbSaveRawString`: integer encoding for short canonical integers, LZF when enabled and it
/// saves at least 4 bytes, else verbatim.
pub fn write_string(out: &mut impl Sink, s: &[u8], opts: &Options) {
    if s.len() <= 11 {
        if let Some(v) = crate::util::num::parse_i64(s) {
            if write_encoded_int(out, v) {
                return;
            }
        }
    }
    if opts.compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push((RDB_ENCVAL << 6) | RDB_ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `rdbSaveLongLongAsStringObject`.
pub fn write_int_string(out: &mut impl Sink, v: i64) {
    if !write_encoded_int(out, v) {
        let t = crate::util::num::IntStr::new(v);
        write_len(out, t.as_bytes().len() as u64);
        out.extend_from_slice(t.as_bytes());
    }
}

/// The RDB type byte a value is written with (`rdbSaveObjectType`).
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => RDB_TYPE_STRING,
        Value::List(_) => RDB_TYPE_LIST_QUICKLIST_2,
        Value::Set(s) => match **s {
            Set::Ints(_) => RDB_TYPE_SET_INTSET,
            Set::Dict(_) => RDB_TYPE_SET,
        },
        Value::ZSet(z) if z.is_compact() => RDB_TYPE_ZSET_LISTPACK,
        Value::ZSet(_) => RDB_TYPE_ZSET_2,
        Value::Hash(h) => match **h {
            Hash::Pack(_) => RDB_TYPE_HASH_LISTPACK,
            Hash::Dict(_) => RDB_TYPE_HASH,
        },
        Value::Stream(_) => RDB_TYPE_STREAM_LISTPACKS_2,
    }
}

/// The value's body (`rdbSaveObject`), without its type byte.
pub fn write_value(out: &mut impl Sink, v: &Value, opts: &Options) {
    match v {
        Value::Int(i) => write_int_string(out, *i),
        Value::Str(s) => write_string(out, s, opts),
        Value::Raw(r) => write_string(out, r, opts),
        Value::List(l) => write_list(out, l, opts),
        Value::Set(s) => write_set(out, s, opts),
        Value::ZSet(z) => write_zset(out, z, opts),
        Value::Hash(h) => write_hash(out, h, opts),
        Value::Stream(st) => super::stream::write_stream(out, st, opts),
    }
}

/// Quicklist 2: the node count, then each node as (container, listpack), nodes cut by the
/// list-max-listpack-size rule as Redis's quicklist would cut them. Two passes (sizes, then
/// nodes) so no more than one node is built at a time.
fn write_list(out: &mut impl Sink, l: &List, opts: &Options) {
    let limit = crate::store::types::list::ChunkLimit::from_fill(opts.list_fill);
    let add = |b: &mut Builder, e: crate::store::types::list::Elem| match e {
        crate::store::types::list::Elem::Int(i) => b.push_int(i),
        crate::store::types::list::Elem::Str(s) => b.push_str(s),
    };
    // Pass 1: how many elements go in each node.
    let mut counts: Vec<usize> = Vec::new();
    let (mut bytes, mut n) = (7usize, 0usize);
    for e in l.iter() {
        let mut probe = Builder::new();
        add(&mut probe, e);
        let grow = probe.bytes() - 7;
        if n > 0 && !limit.allows(bytes + grow, n + 1) {
            counts.push(n);
            bytes = 7;
            n = 0;
        }
        bytes += grow;
        n += 1;
    }
    if n > 0 {
        counts.push(n);
    }
    write_len(out, counts.len() as u64);
    let mut it = l.iter();
    for c in counts {
        let mut b = Builder::new();
        for e in it.by_ref().take(c) {
            add(&mut b, e);
        }
        write_len(out, QUICKLIST_NODE_CONTAINER_PACKED);
        write_string(out, &b.finish(), opts);
    }
}

fn write_set(out: &mut impl Sink, s: &Set, opts: &Options) {
    match s {
        Set::Ints(i) => {
            let members: Vec<i64> = i.iter().collect();
            let width = members
                .iter()
                .map(|&v| {
                    if i16::try_from(v).is_ok() {
                        2
                    } else if i32::try_from(v).is_ok() {
                        4
                    } else {
                        8
                    }
                })
                .max()
                .unwrap_or(2);
            let mut blob = Vec::with_capacity(8 + width * members.len());
            blob.extend_from_slice(&(width as u32).to_le_bytes());
            blob.extend_from_slice(&(members.len() as u32).to_le_bytes());
            for v in members {
                blob.extend_from_slice(&v.to_le_bytes()[..width]);
            }
            write_string(out, &blob, opts);
        }
        Set::Dict(d) => {
            write_len(out, d.len() as u64);
            for (m, _) in d.iter() {
                write_string(out, m, opts);
            }
        }
    }
}

/// A score as a listpack holds it: `d2string` text, stored as an integer when it is one.
fn push_score(b: &mut Builder, score: f64) {
    let text = crate::util::num::format_double_reply(score);
    b.push_str(text.as_bytes());
}

fn write_zset(out: &mut impl Sink, z: &ZSet, opts: &Options) {
    if z.is_compact() {
        let mut b = Builder::new();
        for (m, s) in z.iter() {
            b.push_str(m);
            push_score(&mut b, s);
        }
        write_string(out, &b.finish(), opts);
    } else {
        // Greatest first, as Redis walks its skiplist from the tail (cheap inserts on load).
        write_len(out, z.len() as u64);
        for (m, s) in z.iter_from(z.len() - 1, true) {
            write_string(out, m, opts);
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

fn write_hash(out: &mut impl Sink, h: &Hash, opts: &Options) {
    match h {
        Hash::Pack(p) => {
            let mut b = Builder::new();
            for (f, v) in p.iter() {
                b.push_elem(f);
                b.push_elem(v);
            }
            write_string(out, &b.finish(), opts);
        }
        Hash::Dict(d) => {
            write_len(out, d.len() as u64);
            for (f, v) in d.iter() {
                write_string(out, f, opts);
                write_string(out, v, opts);
            }
        }
    }
}

/// One key (`rdbSaveKeyValuePair`): expiry, access info, type, key, value.
pub fn write_entry(
    out: &mut impl Sink,
    key: &[u8],
    v: &Value,
    expire_at: Option<u64>,
    access: Access,
    opts: &Options,
) {
    if let Some(t) = expire_at {
        out.push(RDB_OPCODE_EXPIRETIME_MS);
        out.extend_from_slice(&t.to_le_bytes());
    }
    match access {
        Access::None => {}
        Access::Idle(secs) => {
            out.push(RDB_OPCODE_IDLE);
            write_len(out, secs);
        }
        Access::Freq(f) => {
            out.push(RDB_OPCODE_FREQ);
            out.push(f);
        }
    }
    out.push(value_type(v));
    write_string(out, key, opts);
    write_value(out, v, opts);
}

fn write_aux(out: &mut impl Sink, key: &str, val: &[u8], opts: &Options) {
    out.push(RDB_OPCODE_AUX);
    write_string(out, key.as_bytes(), opts);
    write_string(out, val, opts);
}

/// The replication position saved with a snapshot (for a replica's full sync and restarts).
#[derive(Debug, Clone, Default)]
pub struct ReplInfo {
    pub stream_db: i64,
    pub replid: String,
    pub offset: i64,
}

/// "REDIS0010" and the AUX fields `rdbSaveInfoAuxFields` writes.
pub fn write_header(
    out: &mut impl Sink,
    ctime: u64,
    used_mem: u64,
    repl: Option<&ReplInfo>,
    opts: &Options,
) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let int = |i: i64| crate::util::num::IntStr::new(i).as_bytes().to_vec();
    write_aux(out, "redis-ver", crate::REDIS_VERSION.as_bytes(), opts);
    write_aux(out, "redis-bits", b"64", opts);
    write_aux(out, "ctime", &int(ctime as i64), opts);
    write_aux(out, "used-mem", &int(used_mem as i64), opts);
    if let Some(r) = repl {
        write_aux(out, "repl-stream-db", &int(r.stream_db), opts);
        write_aux(out, "repl-id", r.replid.as_bytes(), opts);
        write_aux(out, "repl-offset", &int(r.offset), opts);
    }
    write_aux(out, "aof-base", b"0", opts);
}

pub fn write_select_db(out: &mut impl Sink, db: usize) {
    out.push(RDB_OPCODE_SELECTDB);
    write_len(out, db as u64);
}

pub fn write_resize_db(out: &mut impl Sink, keys: usize, expires: usize) {
    out.push(RDB_OPCODE_RESIZEDB);
    write_len(out, keys as u64);
    write_len(out, expires as u64);
}

/// The DUMP payload of a value: type, body, RDB version (2 bytes LE), CRC64 (8 bytes LE).
pub fn dump_payload(v: &Value, opts: &Options) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(value_type(v));
    write_value(&mut out, v, opts);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One function library as RDB_OPCODE_FUNCTION2 and its code (rdbSaveFunctions).
pub fn write_function(out: &mut Vec<u8>, code: &[u8], opts: &Options) {
    out.push(RDB_OPCODE_FUNCTION2);
    write_string(out, code, opts);
}

/// Appends the DUMP trailer (RDB version, CRC64) to a payload body.
pub fn seal_payload(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
