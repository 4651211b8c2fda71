//! The hash value type, in Redis's two encodings:
//! - `Pack` ("listpack"): one exact-size byte block of field, value, field, value ... in
//!   insertion order, used while the hash has at most `hash-max-listpack-entries` fields and
//!   every field and value is at most `hash-max-listpack-value` bytes. Lookups scan it.
//! - `Dict` ("hashtable", see `dict.rs`) beyond that. The conversion is one-way, as in Redis.
//!
//! Pack entry format (our own, denser than Redis's listpack for short strings): a header byte
//! `0x00..=0x7f` is a string of that length; `0x81..=0x88` an integer of 1..8 little-endian
//! two's-complement bytes (only for canonical decimal integers, so equal texts always encode
//! identically and a lookup compares encoded bytes); `0xc0` a string whose length follows as a
//! LEB128 varint. Knows nothing of RESP or of the config: callers pass `Limits`.
use super::dict::{Dict, Elem};
use rand::Rng;

/// Redis's listpack safety limit (LISTPACK_MAX_SAFETY_SIZE): a pack never grows past 1 GB.
const PACK_MAX_BYTES: usize = 1 << 30;
const INT_BASE: u8 = 0x80;
const LONG_STR: u8 = 0xc0;

/// The thresholds that decide the encoding (hash-max-listpack-entries / -value).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// An element encoded for a pack: header bytes plus the string body (empty for integers).
pub(super) struct Enc<'a> {
    head: [u8; 11],
    head_len: usize,
    body: &'a [u8],
}

impl<'a> Enc<'a> {
    pub(super) fn new(b: &'a [u8]) -> Enc<'a> {
        let mut head = [0u8; 11];
        if let Some(i) = crate::util::num::parse_i64(b) {
            let n = int_width(i);
            head[0] = INT_BASE + n as u8;
            head[1..=n].copy_from_slice(&i.to_le_bytes()[..n]);
            return Enc {
                head,
                head_len: 1 + n,
                body: &[],
            };
        }
        if b.len() < 0x80 {
            head[0] = b.len() as u8;
            return Enc {
                head,
                head_len: 1,
                body: b,
            };
        }
        head[0] = LONG_STR;
        let mut n = b.len();
        let mut i = 1;
        while n >= 0x80 {
            head[i] = (n as u8) | 0x80;
            n >>= 7;
            i += 1;
        }
        head[i] = n as u8;
        Enc {
            head,
            head_len: i + 1,
            body: b,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.head_len + self.body.len()
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head[..self.head_len]);
        out.extend_from_slice(self.body);
    }

    /// True if the entry at `pos` of `buf` is this element.
    fn is_at(&self, buf: &[u8], pos: usize) -> bool {
        let h = &self.head[..self.head_len];
        buf[pos..].starts_with(h) && buf[pos + h.len()..].starts_with(self.body)
    }
}

/// Bytes needed to hold `i` in two's complement.
fn int_width(i: i64) -> usize {
    (1..8)
        .find(|&n| {
            let shift = 64 - 8 * n as u32;
            (i << shift) >> shift == i
        })
        .unwrap_or(8)
}

/// Decodes the entry at `pos`: the element and the position after it.
fn decode(buf: &[u8], pos: usize) -> (Elem<'_>, usize) {
    let h = buf[pos];
    if h < 0x80 {
        let end = pos + 1 + h as usize;
        return (Elem::Str(&buf[pos + 1..end]), end);
    }
    if h < LONG_STR {
        let n = (h - INT_BASE) as usize;
        let mut le = [0u8; 8];
        le[..n].copy_from_slice(&buf[pos + 1..pos + 1 + n]);
        let shift = 64 - 8 * n as u32;
        let v = (i64::from_le_bytes(le) << shift) >> shift;
        return (Elem::Int(v), pos + 1 + n);
    }
    let (mut len, mut shift, mut at) = (0usize, 0, pos + 1);
    loop {
        let b = buf[at];
        len |= ((b & 0x7f) as usize) << shift;
        at += 1;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (Elem::Str(&buf[at..at + len]), at + len)
}

/// The compact encoding: see the module doc. `buf` is empty, or a 2-byte little-endian pair
/// count (`u16::MAX`: 65535 or more, count by walking, as Redis's listpack header) followed by
/// the entries. The count lives in the block so that a `Hash` is only 16 bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pack {
    buf: Box<[u8]>,
}

const HEADER: usize = 2;

/// Where a field's entry sits: field start, value start, value end.
struct Found {
    field: usize,
    value: usize,
    end: usize,
}

impl Pack {
    pub fn len(&self) -> usize {
        match self.buf.get(..HEADER) {
            None => 0,
            Some(h) => match u16::from_le_bytes([h[0], h[1]]) {
                u16::MAX => self.iter().count(),
                n => n as usize,
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn find(&self, field: &Enc) -> Option<Found> {
        let mut pos = HEADER;
        while pos < self.buf.len() {
            let hit = field.is_at(&self.buf, pos);
            let value = decode(&self.buf, pos).1;
            let end = decode(&self.buf, value).1;
            if hit {
                return Some(Found {
                    field: pos,
                    value,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    /// Rebuilds the block as `buf[..from] + insert + buf[to..]` at its exact size, with the
    /// pair count changed by `delta`.
    fn splice(&mut self, from: usize, to: usize, insert: &[&Enc], delta: isize) {
        let pairs = self.len().checked_add_signed(delta).expect("pair count");
        if pairs == 0 {
            self.buf = Box::default();
            return;
        }
        let (from, to) = (from.max(HEADER), to.max(HEADER));
        let old = if self.buf.is_empty() {
            &[0u8, 0][..]
        } else {
            &self.buf[..]
        };
        let add: usize = insert.iter().map(|e| e.len()).sum();
        let mut v = Vec::with_capacity(old.len() - (to - from) + add);
        v.extend_from_slice(&(pairs.min(u16::MAX as usize) as u16).to_le_bytes());
        v.extend_from_slice(&old[HEADER..from]);
        insert.iter().for_each(|e| e.write(&mut v));
        v.extend_from_slice(&old[to..]);
        self.buf = v.into_boxed_slice();
    }

    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let (f, v) = (Enc::new(field), Enc::new(value));
        match self.find(&f) {
            Some(at) => {
                self.splice(at.value, at.end, &[&v], 0);
                false
            }
            None => {
                let end = self.buf.len();
                self.splice(end, end, &[&f, &v], 1);
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(&Enc::new(field)) {
            Some(at) => {
                self.splice(at.field, at.end, &[], -1);
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            pos: HEADER,
        }
    }
}

pub struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (Elem<'a>, Elem<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, at) = decode(self.buf, self.pos);
        let (v, end) = decode(self.buf, at);
        self.pos = end;
        Some((f, v))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Hash {
    Pack(Pack),
    Dict(Box<Dict>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::default())
    }
}

impl Hash {
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Dict(_) => "hashtable",
        }
    }

    /// Heap bytes owned (MEMORY USAGE, lazy-free decisions).
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Pack(p) => p.buf.len(),
            Hash::Dict(d) => std::mem::size_of::<Dict>() + d.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len(),
            Hash::Dict(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<Elem<'_>> {
        match self {
            Hash::Pack(p) => p
                .find(&Enc::new(field))
                .map(|at| decode(&p.buf, at.value).0),
            Hash::Dict(d) => d.get(field).map(Elem::Str),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.find(&Enc::new(field)).is_some(),
            Hash::Dict(d) => d.contains(field),
        }
    }

    /// Converts to a hashtable (one-way).
    fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut d = Dict::with_capacity(p.len());
            for (f, v) in p.iter() {
                d.insert(&f.bytes(), &v.bytes());
            }
            *self = Hash::Dict(Box::new(d));
        }
    }

    /// Redis's `hashTypeTryConversion`: before a write of these arguments, converts a compact
    /// hash if one of them is longer than the value limit or the pack would pass 1 GB.
    pub fn prepare_for<'a>(&mut self, args: impl Iterator<Item = &'a [u8]>, limits: Limits) {
        let Hash::Pack(p) = self else { return };
        let mut sum = 0usize;
        for a in args {
            if a.len() > limits.max_value {
                return self.convert();
            }
            sum += a.len();
        }
        if p.buf.len() + sum > PACK_MAX_BYTES {
            self.convert();
        }
    }

    /// Sets `field` to `value` (Redis's `hashTypeSet`), converting when a limit is passed.
    /// True if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if matches!(self, Hash::Pack(_))
            && (field.len() > limits.max_value || value.len() > limits.max_value)
        {
            self.convert();
        }
        let new = match self {
            Hash::Pack(p) => p.set(field, value),
            Hash::Dict(d) => d.insert(field, value),
        };
        if matches!(self, Hash::Pack(p) if p.len() > limits.max_entries) {
            self.convert();
        }
        new
    }

    /// Deletes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.remove(field),
            Hash::Dict(d) => d.remove(field),
        }
    }

    /// (field, value) pairs: insertion order for a pack, table order for a hashtable.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Elem<'_>, Elem<'_>)> + '_> {
        match self {
            Hash::Pack(p) => Box::new(p.iter()),
            Hash::Dict(d) => Box::new(d.iter().map(|(f, v)| (Elem::Str(f), Elem::Str(v)))),
        }
    }

    /// A uniformly random (field, value). The hash must not be empty.
    pub fn random<R: Rng>(&self, rng: &mut R) -> (Elem<'_>, Elem<'_>) {
        match self {
            Hash::Pack(p) => {
                let i = rng.gen_range(0..p.len());
                p.iter().nth(i).expect("index below len")
            }
            Hash::Dict(d) => {
                let (f, v) = d.random(rng);
                (Elem::Str(f), Elem::Str(v))
            }
        }
    }

    /// One HSCAN step from `cursor`: a pack is returned whole with cursor 0; a hashtable
    /// visits buckets (see `Dict::scan`) while `more()` allows.
    pub fn scan(
        &self,
        cursor: u64,
        mut more: impl FnMut() -> bool,
        mut f: impl FnMut(Elem, Elem),
    ) -> u64 {
        match self {
            Hash::Pack(p) => {
                p.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Dict(d) => {
                let mut cursor = cursor;
                loop {
                    cursor = d.scan(cursor, |k, v| f(Elem::Str(k), Elem::Str(v)));
                    if cursor == 0 || !more() {
                        return cursor;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_entries: 4,
        max_value: 8,
    };

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn integers_encode_compactly_and_round_trip() {
        for s in [
            "0",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "32767",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            let e = Enc::new(s.as_bytes());
            let mut v = Vec::new();
            e.write(&mut v);
            assert_eq!(decode(&v, 0).0.to_vec(), s.as_bytes(), "{s}");
            assert!(matches!(decode(&v, 0).0, Elem::Int(_)));
        }
        assert_eq!(Enc::new(b"5").len(), 2);
        assert_eq!(Enc::new(b"12345").len(), 3);
        for s in ["007", "-0", "+1", " 1", "1.0", "99999999999999999999"] {
            assert!(
                matches!(
                    decode(
                        &{
                            let mut v = Vec::new();
                            Enc::new(s.as_bytes()).write(&mut v);
                            v
                        },
                        0
                    )
                    .0,
                    Elem::Str(_)
                ),
                "{s}"
            );
        }
        let long = vec![b'x'; 1000];
        let mut v = Vec::new();
        Enc::new(&long).write(&mut v);
        assert_eq!(decode(&v, 0), (Elem::Str(&long), v.len()));
    }

    #[test]
    fn pack_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", L));
        assert!(h.set(b"10", b"x", L));
        assert!(h.set(b"b", b"2", L));
        assert!(!h.set(b"a", b"one", L));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"one".to_vec()),
                (b"10".to_vec(), b"x".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(h.get(b"10").unwrap().to_vec(), b"x");
        assert!(h.get(b"010").is_none());
        assert!(h.remove(b"10"));
        assert!(!h.remove(b"10"));
        assert_eq!(h.len(), 2);
        assert_eq!(
            pairs(&h),
            vec![
                (b"a".to_vec(), b"one".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }

    #[test]
    fn pack_counts_past_the_header_limit() {
        let lim = Limits {
            max_entries: 100_000,
            max_value: 64,
        };
        let mut h = Hash::default();
        h.set(b"0", b"", lim);
        let Hash::Pack(p) = &mut h else {
            unreachable!()
        };
        let mut v = p.buf.to_vec();
        for i in 1..65_540 {
            Enc::new(i.to_string().as_bytes()).write(&mut v);
            Enc::new(b"").write(&mut v);
        }
        v[..2].copy_from_slice(&u16::MAX.to_le_bytes());
        p.buf = v.into_boxed_slice();
        assert_eq!(h.len(), 65_540);
        for i in 0..5 {
            assert!(h.remove(i.to_string().as_bytes()));
        }
        assert_eq!(h.len(), 65_535);
        assert!(h.remove(b"65539"));
        assert_eq!(h.len(), 65_534);
        let Hash::Pack(p) = &h else { unreachable!() };
        assert_eq!(&p.buf[..2], &65_534u16.to_le_bytes());
        assert_eq!(h.iter().next().unwrap().0, Elem::Int(5));
    }

    #[test]
    fn random_operations_match_a_model() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(7);
        for lim in [
            L,
            Limits {
                max_entries: 64,
                max_value: 200,
            },
            Limits {
                max_entries: 10_000,
                max_value: 10_000,
            },
        ] {
            let mut h = Hash::default();
            // Insertion-ordered model: the pack keeps this order.
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..4000 {
                let f = match rng.gen_range(0..4) {
                    0 => rng.gen_range(-200..200).to_string().into_bytes(),
                    1 => vec![b'x'; rng.gen_range(0..300)],
                    _ => format!("f{}", rng.gen_range(0..80)).into_bytes(),
                };
                let v = if rng.gen_bool(0.5) {
                    rng.gen::<i64>().to_string().into_bytes()
                } else {
                    vec![b'v'; rng.gen_range(0..150)]
                };
                let pos = model.iter().position(|(k, _)| *k == f);
                if rng.gen_bool(0.7) {
                    h.prepare_for([&f[..], &v[..]].into_iter(), lim);
                    assert_eq!(h.set(&f, &v, lim), pos.is_none());
                    match pos {
                        Some(i) => model[i].1 = v,
                        None => model.push((f, v)),
                    }
                } else {
                    assert_eq!(h.remove(&f), pos.is_some());
                    if let Some(i) = pos {
                        model.remove(i);
                    }
                }
                assert_eq!(h.len(), model.len());
            }
            for (f, v) in &model {
                assert_eq!(h.get(f).map(|e| e.to_vec()).as_ref(), Some(v));
            }
            let mut got = pairs(&h);
            if h.encoding() == "hashtable" {
                got.sort();
                model.sort();
            }
            assert_eq!(got, model);
        }
    }

    #[test]
    fn converts_one_way_at_the_limits() {
        let mut h = Hash::default();
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", L);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f4", b"v", L);
        assert_eq!(h.encoding(), "hashtable");
        for i in 0..5 {
            h.remove(format!("f{i}").as_bytes());
        }
        h.set(b"x", b"y", L);
        assert_eq!(h.encoding(), "hashtable");

        let mut h = Hash::default();
        h.set(b"f", b"12345678", L);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", b"123456789", L);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f").unwrap().to_vec(), b"123456789");

        let mut h = Hash::default();
        h.prepare_for([&b"short"[..], &b"much too long"[..]].into_iter(), L);
        assert_eq!(h.encoding(), "hashtable");
    }
}
