//! Reading RDB: a `Reader` over any `io::Read` (a DUMP payload slice, a file, later a
//! socket) that counts its offset and keeps the CRC64 of what it read, and the value decoder
//! (`rdbLoadObject`) for every type and encoding Redis 7.0 reads. No declared length is trusted:
//! when the input size is known a length past it is refused at once, and strings are read
//! in bounded chunks, so memory only grows with bytes actually present.
use super::*;
use crate::store::types::dict::Elem;
use crate::store::types::hash::Hash;
use crate::store::types::list::{End, List};
use crate::store::types::set::Set;
use crate::store::types::zset::{AddFlags, AddResult, ZSet};
use crate::store::Value;
use std::io::Read;

/// Strings are read this much at a time, so a lying length costs at most one chunk.
const CHUNK: usize = 1 << 16;

pub struct Reader<R> {
    inner: R,
    pos: u64,
    /// Bytes left in the input, when known.
    remaining: Option<u64>,
    crc: crc::Digest<'static, u64, crc::Table<16>>,
}

impl<'a> Reader<&'a [u8]> {
    pub fn from_slice(b: &'a [u8]) -> Self {
        let n = b.len() as u64;
        Reader::new(b, Some(n))
    }
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R, size: Option<u64>) -> Self {
        Reader {
            inner,
            pos: 0,
            remaining: size,
            crc: CRC64.digest(),
        }
    }

    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// CRC64 of everything read so far.
    pub fn crc(&self) -> u64 {
        self.crc.clone().finalize()
    }

    pub fn corrupt<T>(&self, what: impl Into<String>) -> Result<T> {
        Err(RdbError::Corrupt {
            offset: self.pos,
            what: what.into(),
        })
    }

    fn check_available(&self, n: u64) -> Result<()> {
        match self.remaining {
            Some(r) if n > r => self.corrupt(format!("length {n} past the end of the input")),
            _ => Ok(()),
        }
    }

    pub fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.check_available(buf.len() as u64)?;
        match self.inner.read_exact(buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return self.corrupt("unexpected end of input")
            }
            Err(e) => return Err(e.into()),
        }
        self.crc.update(buf);
        self.pos += buf.len() as u64;
        if let Some(r) = &mut self.remaining {
            *r -= buf.len() as u64;
        }
        Ok(())
    }

    pub fn read_u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub(super) fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    /// `n` bytes, read in bounded chunks.
    pub fn read_vec(&mut self, n: u64) -> Result<Vec<u8>> {
        self.check_available(n)?;
        let n = usize::try_from(n).or_else(|_| self.corrupt("length too large"))?;
        let mut v = Vec::with_capacity(n.min(CHUNK));
        while v.len() < n {
            let at = v.len();
            let step = (n - at).min(CHUNK);
            v.resize(at + step, 0);
            self.read_exact(&mut v[at..])?;
        }
        Ok(v)
    }

    /// `rdbLoadLenByRef`: the length, or the encoding type when `encoded` is true.
    pub fn read_len_enc(&mut self) -> Result<(u64, bool)> {
        let b = self.read_u8()?;
        match b >> 6 {
            0 => Ok(((b & 0x3f) as u64, false)),
            1 => {
                let lo = self.read_u8()?;
                Ok(((((b & 0x3f) as u64) << 8) | lo as u64, false))
            }
            3 => Ok(((b & 0x3f) as u64, true)),
            _ => match b {
                RDB_32BITLEN => Ok((u32::from_be_bytes(self.read_array()?) as u64, false)),
                RDB_64BITLEN => Ok((u64::from_be_bytes(self.read_array()?), false)),
                _ => self.corrupt(format!("unknown length encoding {b}")),
            },
        }
    }

    pub fn read_len(&mut self) -> Result<u64> {
        match self.read_len_enc()? {
            (n, false) => Ok(n),
            _ => self.corrupt("encoded length where a length was expected"),
        }
    }

    /// A string (`rdbGenericLoadStringObject`): integer-encoded strings come back as `Int`.
    pub fn read_string_value(&mut self) -> Result<StrVal> {
        let (len, enc) = self.read_len_enc()?;
        if !enc {
            return Ok(StrVal::Bytes(self.read_vec(len)?));
        }
        match len as u8 {
            RDB_ENC_INT8 => Ok(StrVal::Int(self.read_u8()? as i8 as i64)),
            RDB_ENC_INT16 => Ok(StrVal::Int(i16::from_le_bytes(self.read_array()?) as i64)),
            RDB_ENC_INT32 => Ok(StrVal::Int(i32::from_le_bytes(self.read_array()?) as i64)),
            RDB_ENC_LZF => {
                let clen = self.read_len()?;
                let len = self.read_len()?;
                let c = self.read_vec(clen)?;
                match usize::try_from(len)
                    .ok()
                    .and_then(|n| lzf::decompress(&c, n))
                {
                    Some(v) => Ok(StrVal::Bytes(v)),
                    None => self.corrupt("invalid LZF compressed string"),
                }
            }
            e => self.corrupt(format!("unknown string encoding {e}")),
        }
    }

    pub fn read_string(&mut self) -> Result<Vec<u8>> {
        Ok(match self.read_string_value()? {
            StrVal::Bytes(b) => b,
            StrVal::Int(i) => crate::util::num::IntStr::new(i).as_bytes().to_vec(),
        })
    }

    /// A score written as text (`rdbLoadDoubleValue`, RDB_TYPE_ZSET).
    fn read_text_double(&mut self) -> Result<f64> {
        let n = self.read_u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let b = self.read_vec(n as u64)?;
                match std::str::from_utf8(&b)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(d) => Ok(d),
                    None => self.corrupt("invalid double"),
                }
            }
        }
    }

    fn read_binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.read_array()?))
    }

    /// A value of RDB type `t` (`rdbLoadObject`), built with `limits`.
    pub fn read_value(&mut self, t: u8, limits: &Limits) -> Result<Value> {
        use crate::store::CowBox;
        Ok(match t {
            RDB_TYPE_STRING => match self.read_string_value()? {
                StrVal::Int(i) => Value::Int(i),
                StrVal::Bytes(b) => Value::from_bytes(&b),
            },
            RDB_TYPE_LIST => Value::List(CowBox::new(self.read_linked_list(limits)?)),
            RDB_TYPE_LIST_ZIPLIST | RDB_TYPE_LIST_QUICKLIST | RDB_TYPE_LIST_QUICKLIST_2 => {
                Value::List(CowBox::new(self.read_packed_list(t, limits)?))
            }
            RDB_TYPE_SET => Value::Set(CowBox::new(self.read_set(limits)?)),
            RDB_TYPE_SET_INTSET => Value::Set(CowBox::new(self.read_intset(limits)?)),
            RDB_TYPE_ZSET | RDB_TYPE_ZSET_2 => Value::ZSet(CowBox::new(self.read_zset(t, limits)?)),
            RDB_TYPE_ZSET_ZIPLIST | RDB_TYPE_ZSET_LISTPACK => {
                Value::ZSet(CowBox::new(self.read_packed_zset(t, limits)?))
            }
            RDB_TYPE_HASH => Value::Hash(CowBox::new(self.read_hash(limits)?)),
            RDB_TYPE_HASH_ZIPMAP | RDB_TYPE_HASH_ZIPLIST | RDB_TYPE_HASH_LISTPACK => {
                Value::Hash(CowBox::new(self.read_packed_hash(t, limits)?))
            }
            RDB_TYPE_STREAM_LISTPACKS | RDB_TYPE_STREAM_LISTPACKS_2 => {
                Value::Stream(CowBox::new(self.read_stream(t)?))
            }
            RDB_TYPE_MODULE | RDB_TYPE_MODULE_2 => {
                return Err(RdbError::Unsupported {
                    offset: self.pos,
                    what: "module values".into(),
                })
            }
            _ => return self.corrupt(format!("unknown object type {t}")),
        })
    }

    /// RDB_TYPE_LIST: a count, then the elements as strings (RDB 1-6 lists).
    fn read_linked_list(&mut self, limits: &Limits) -> Result<List> {
        let n = self.read_len()?;
        let mut l = List::new();
        for _ in 0..n {
            let e = self.read_string()?;
            l.push(End::Right, &e, limits.list);
        }
        Ok(l)
    }

    /// A ziplist (RDB_TYPE_LIST_ZIPLIST) or a quicklist of ziplist (v1) or listpack/plain (v2)
    /// nodes. Empty nodes are skipped, as Redis does.
    fn read_packed_list(&mut self, t: u8, limits: &Limits) -> Result<List> {
        let mut l = List::new();
        let nodes = if t == RDB_TYPE_LIST_ZIPLIST {
            1
        } else {
            self.read_len()?
        };
        for _ in 0..nodes {
            let container = if t == RDB_TYPE_LIST_QUICKLIST_2 {
                self.read_len()?
            } else {
                QUICKLIST_NODE_CONTAINER_PACKED
            };
            let blob = self.read_string()?;
            match container {
                QUICKLIST_NODE_CONTAINER_PLAIN => l.push(End::Right, &blob, limits.list),
                QUICKLIST_NODE_CONTAINER_PACKED => {
                    let Some(items) = unpack(t != RDB_TYPE_LIST_QUICKLIST_2, &blob) else {
                        return self.corrupt("invalid quicklist node");
                    };
                    for e in &items {
                        l.push(End::Right, &e.bytes(), limits.list);
                    }
                }
                c => return self.corrupt(format!("unknown quicklist container {c}")),
            }
        }
        Ok(l)
    }

    /// RDB_TYPE_SET: a count, then the members; a duplicate is corruption.
    fn read_set(&mut self, limits: &Limits) -> Result<Set> {
        let n = self.read_len()?;
        let mut s = Set::default();
        for i in 0..n {
            let m = self.read_string()?;
            if i == 0 {
                s = Set::for_member(&m);
            }
            if !s.add(&m, limits.set_max_intset) {
                return self.corrupt("duplicate set members detected");
            }
        }
        Ok(s)
    }

    fn read_intset(&mut self, limits: &Limits) -> Result<Set> {
        let blob = self.read_string()?;
        let Some(members) = ziplist::intset_members(&blob) else {
            return self.corrupt("invalid intset");
        };
        let mut s = Set::default();
        for m in members {
            s.add_elem(Elem::Int(m), limits.set_max_intset);
        }
        Ok(s)
    }

    /// RDB_TYPE_ZSET (text scores) or RDB_TYPE_ZSET_2 (binary scores).
    fn read_zset(&mut self, t: u8, limits: &Limits) -> Result<ZSet> {
        let n = self.read_len()?;
        let mut z = ZSet::new_compact();
        for i in 0..n {
            let m = self.read_string()?;
            let s = if t == RDB_TYPE_ZSET {
                self.read_text_double()?
            } else {
                self.read_binary_double()?
            };
            if i == 0 {
                z = ZSet::for_first_member(limits.zset, m.len());
            }
            self.zadd(&mut z, &m, s, limits)?;
        }
        Ok(z)
    }

    /// A zset as a ziplist or listpack of member, score pairs.
    fn read_packed_zset(&mut self, t: u8, limits: &Limits) -> Result<ZSet> {
        let blob = self.read_string()?;
        let Some(items) = unpack(t == RDB_TYPE_ZSET_ZIPLIST, &blob).filter(|i| i.len() % 2 == 0)
        else {
            return self.corrupt("invalid zset listpack");
        };
        let mut z = ZSet::new_compact();
        for (i, pair) in items.chunks_exact(2).enumerate() {
            let m = pair[0].bytes();
            let s = match pair[1] {
                Elem::Int(i) => i as f64,
                Elem::Str(s) => match crate::util::num::parse_f64(s) {
                    Some(d) => d,
                    None => return self.corrupt("invalid zset score"),
                },
            };
            if i == 0 {
                z = ZSet::for_first_member(limits.zset, m.len());
            }
            self.zadd(&mut z, &m, s, limits)?;
        }
        Ok(z)
    }

    /// RDB_TYPE_HASH: a count, then field, value strings; a duplicate field is corruption.
    fn read_hash(&mut self, limits: &Limits) -> Result<Hash> {
        let n = self.read_len()?;
        let mut h = Hash::default();
        for _ in 0..n {
            let f = self.read_string()?;
            let v = self.read_string()?;
            self.hset(&mut h, &f, &v, limits)?;
        }
        Ok(h)
    }

    /// A hash as a zipmap, ziplist or listpack.
    fn read_packed_hash(&mut self, t: u8, limits: &Limits) -> Result<Hash> {
        let blob = self.read_string()?;
        let mut h = Hash::default();
        if t == RDB_TYPE_HASH_ZIPMAP {
            let Some(pairs) = ziplist::zipmap_pairs(&blob) else {
                return self.corrupt("invalid zipmap");
            };
            for (f, v) in pairs {
                self.hset(&mut h, f, v, limits)?;
            }
            return Ok(h);
        }
        let Some(items) = unpack(t == RDB_TYPE_HASH_ZIPLIST, &blob).filter(|i| i.len() % 2 == 0)
        else {
            return self.corrupt("invalid hash listpack");
        };
        for pair in items.chunks_exact(2) {
            self.hset(&mut h, &pair[0].bytes(), &pair[1].bytes(), limits)?;
        }
        Ok(h)
    }

    fn hset(&self, h: &mut Hash, f: &[u8], v: &[u8], limits: &Limits) -> Result<()> {
        if h.set(f, v, limits.hash) {
            Ok(())
        } else {
            self.corrupt("duplicate hash fields detected")
        }
    }

    fn zadd(&self, z: &mut ZSet, m: &[u8], s: f64, limits: &Limits) -> Result<()> {
        if s.is_nan() {
            return self.corrupt("zset with NaN score detected");
        }
        match z.add(m, s, AddFlags::default(), limits.zset) {
            AddResult::Added(_) => Ok(()),
            _ => self.corrupt("duplicate zset fields detected"),
        }
    }

    /// Skips a module value body (`rdbLoadCheckModuleValue`): opcodes until EOF.
    pub fn skip_module_value(&mut self) -> Result<()> {
        loop {
            match self.read_len()? {
                RDB_MODULE_OPCODE_EOF => return Ok(()),
                RDB_MODULE_OPCODE_SINT | RDB_MODULE_OPCODE_UINT => {
                    self.read_len()?;
                }
                RDB_MODULE_OPCODE_STRING => {
                    self.read_string()?;
                }
                RDB_MODULE_OPCODE_FLOAT => {
                    self.read_array::<4>()?;
                }
                RDB_MODULE_OPCODE_DOUBLE => {
                    self.read_array::<8>()?;
                }
                o => return self.corrupt(format!("unknown module opcode {o}")),
            }
        }
    }

    pub fn read_u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.read_array()?))
    }

    pub fn read_i32_le(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.read_array()?))
    }
}

/// A string as stored: bytes, or an integer encoding.
pub enum StrVal {
    Bytes(Vec<u8>),
    Int(i64),
}

/// The elements of a ziplist or a listpack, fully checked.
fn unpack(ziplist: bool, blob: &[u8]) -> Option<Vec<Elem<'_>>> {
    if ziplist {
        ziplist::ziplist_entries(blob)
    } else {
        listpack::entries(blob)
    }
}

/// Checks a DUMP payload's trailer (`verifyDumpPayload`): the RDB version must not be newer
/// than ours and the CRC64 must match (a zero CRC is accepted only when `skip_crc`).
pub fn verify_payload(p: &[u8]) -> bool {
    if p.len() < 10 {
        return false;
    }
    let footer = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_VERSION {
        return false;
    }
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    CRC64.checksum(&p[..p.len() - 8]) == crc
}

/// Decodes a DUMP payload already verified: one type byte and its value (like Redis, bytes
/// after the value are ignored).
pub fn payload_value(p: &[u8], limits: &Limits) -> Result<Value> {
    let mut r = Reader::from_slice(&p[..p.len() - 10]);
    let t = r.read_u8()?;
    r.read_value(t, limits)
}

/// The library codes of a FUNCTION DUMP payload already verified (functionRestoreCommand):
/// FUNCTION2 records until the 10-byte trailer. Errors are Redis's texts.
pub fn function_payload_codes(p: &[u8]) -> std::result::Result<Vec<Vec<u8>>, &'static str> {
    let body = &p[..p.len() - 10];
    let mut r = Reader::from_slice(body);
    let mut codes = Vec::new();
    while (r.offset() as usize) < body.len() {
        let t = r.read_u8().map_err(|_| "can not read data type")?;
        if t != RDB_OPCODE_FUNCTION2 {
            return Err("given type is not a function");
        }
        let code = r
            .read_string()
            .map_err(|_| "failed loading the given functions payload")?;
        codes.push(code);
    }
    Ok(codes)
}
