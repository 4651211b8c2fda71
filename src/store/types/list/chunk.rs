//! One chunk of a list: a byte buffer of listpack-style entries (the codec in `entry`), the
//! element view (`Elem`), the searched-value view (`Needle`) and the chunk-size rule
//! (`ChunkLimit`, Redis's quicklist fill). Used only by `list.rs`; no RESP, no keyspace.
use super::End;
use crate::util::num::IntStr;
use bytes::Bytes;
/// How large one chunk may grow: Redis's quicklist fill rule (`_quicklistNodeAllowInsert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimit {
    pub(super) max_bytes: usize,
    max_entries: usize,
}

impl ChunkLimit {
    /// Redis's SIZE_SAFETY_LIMIT: the byte cap when the limit is an entry count.
    const SAFETY_BYTES: usize = 8192;

    /// From `list-max-listpack-size`: -1..-5 are 4/8/16/32/64 KiB (below -5 counts as -5),
    /// positive is an entry count (at most 32768, Redis's FILL_MAX), 0 one entry per chunk.
    pub fn from_fill(fill: i64) -> ChunkLimit {
        if fill < 0 {
            let level = (-(fill.max(-5))) as u32;
            ChunkLimit {
                max_bytes: 4096 << (level - 1),
                max_entries: usize::MAX,
            }
        } else {
            ChunkLimit {
                max_bytes: Self::SAFETY_BYTES,
                max_entries: fill.clamp(1, 1 << 15) as usize,
            }
        }
    }

    pub fn allows(&self, bytes: usize, entries: usize) -> bool {
        bytes <= self.max_bytes && entries <= self.max_entries
    }
}

impl Default for ChunkLimit {
    fn default() -> Self {
        ChunkLimit::from_fill(-2)
    }
}

/// One element as stored: a string or a canonical integer (which reads back as its decimal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Elem::Str(s) => Bytes::copy_from_slice(s),
            Elem::Int(i) => Bytes::copy_from_slice(IntStr::new(*i).as_bytes()),
        }
    }

    /// Equality with a searched value, as listpack's `lpCompare`.
    pub fn matches(&self, n: &Needle) -> bool {
        match self {
            Elem::Str(s) => *s == n.bytes,
            Elem::Int(i) => n.int == Some(*i),
        }
    }
}

/// A value searched for (LPOS, LREM, LINSERT), with its integer form computed once.
pub struct Needle<'a> {
    bytes: &'a [u8],
    pub(super) int: Option<i64>,
}

impl<'a> Needle<'a> {
    pub fn new(bytes: &'a [u8]) -> Needle<'a> {
        Needle {
            bytes,
            int: entry::int_of(bytes),
        }
    }
}

/// The entry codec (listpack's layout, with a 64-bit length for strings over 4095 bytes).
pub(super) mod entry {
    use super::Elem;

    const STR6: u8 = 0x80;
    const INT13: u8 = 0xC0;
    const STR12: u8 = 0xE0;
    const STR64: u8 = 0xF0;
    const INT16: u8 = 0xF1;
    const INT24: u8 = 0xF2;
    const INT32: u8 = 0xF3;
    const INT64: u8 = 0xF4;

    /// The integer an element is stored as: canonical decimal only (`string2ll`), so "01" and
    /// "+1" stay strings and read back unchanged.
    pub fn int_of(e: &[u8]) -> Option<i64> {
        if e.len() <= 20 {
            crate::util::num::parse_i64(e)
        } else {
            None
        }
    }

    fn int_len(v: i64) -> usize {
        match v {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        }
    }

    fn str_header_len(n: usize) -> usize {
        match n {
            0..=63 => 1,
            64..=4095 => 2,
            _ => 9,
        }
    }

    fn backlen_len(mut l: usize) -> usize {
        let mut n = 1;
        while l > 127 {
            n += 1;
            l >>= 7;
        }
        n
    }

    fn body_len(e: &[u8], int: Option<i64>) -> usize {
        match int {
            Some(v) => int_len(v),
            None => str_header_len(e.len()) + e.len(),
        }
    }

    /// Bytes the entry for `e` takes, backlen included.
    pub fn encoded_len(e: &[u8]) -> usize {
        let b = body_len(e, int_of(e));
        b + backlen_len(b)
    }

    /// Writes the entry for `e` into `out`, which is exactly `encoded_len(e)` bytes.
    pub fn write(out: &mut [u8], e: &[u8]) {
        let int = int_of(e);
        let body = body_len(e, int);
        match int {
            Some(v @ 0..=127) => out[0] = v as u8,
            Some(v @ -4096..=4095) => {
                let u = (v as u16) & 0x1FFF;
                out[0] = INT13 | (u >> 8) as u8;
                out[1] = u as u8;
            }
            Some(v) => {
                let n = int_len(v) - 1;
                out[0] = match n {
                    2 => INT16,
                    3 => INT24,
                    4 => INT32,
                    _ => INT64,
                };
                out[1..=n].copy_from_slice(&v.to_le_bytes()[..n]);
            }
            None => {
                let n = e.len();
                let h = str_header_len(n);
                match h {
                    1 => out[0] = STR6 | n as u8,
                    2 => {
                        out[0] = STR12 | (n >> 8) as u8;
                        out[1] = n as u8;
                    }
                    _ => {
                        out[0] = STR64;
                        out[1..9].copy_from_slice(&(n as u64).to_le_bytes());
                    }
                }
                out[h..h + n].copy_from_slice(e);
            }
        }
        // Backlen: the high 7-bit group first; every byte after the first has the top bit set,
        // so a reader walking backwards knows when to stop.
        let n = backlen_len(body);
        for i in 0..n {
            let group = ((body >> (7 * (n - 1 - i))) & 127) as u8;
            out[body + i] = if i == 0 { group } else { group | 128 };
        }
    }

    fn sign_extend(v: u64, bits: u32) -> i64 {
        ((v << (64 - bits)) as i64) >> (64 - bits)
    }

    fn le(buf: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b[..buf.len()].copy_from_slice(buf);
        u64::from_le_bytes(b)
    }

    /// The element at `off` and the size of its whole entry (backlen included).
    pub fn read(buf: &[u8], off: usize) -> (Elem<'_>, usize) {
        let h = buf[off];
        let (elem, body) = match h {
            0x00..=0x7F => (Elem::Int(h as i64), 1),
            0x80..=0xBF => {
                let n = (h & 0x3F) as usize;
                (Elem::Str(&buf[off + 1..off + 1 + n]), 1 + n)
            }
            0xC0..=0xDF => {
                let v = ((h as u64 & 0x1F) << 8) | buf[off + 1] as u64;
                (Elem::Int(sign_extend(v, 13)), 2)
            }
            0xE0..=0xEF => {
                let n = ((h as usize & 0x0F) << 8) | buf[off + 1] as usize;
                (Elem::Str(&buf[off + 2..off + 2 + n]), 2 + n)
            }
            STR64 => {
                let n = le(&buf[off + 1..off + 9]) as usize;
                (Elem::Str(&buf[off + 9..off + 9 + n]), 9 + n)
            }
            INT16..=INT64 => {
                let n = if h == INT64 {
                    8
                } else {
                    (h - INT16) as usize + 2
                };
                let v = le(&buf[off + 1..off + 1 + n]);
                (Elem::Int(sign_extend(v, 8 * n as u32)), 1 + n)
            }
            _ => unreachable!("corrupt list entry header {h:#x}"),
        };
        (elem, body + backlen_len(body))
    }

    /// Start offset of the entry that ends at `end`.
    pub fn start_before(buf: &[u8], end: usize) -> usize {
        let (mut p, mut v, mut shift) = (end - 1, 0usize, 0);
        loop {
            let b = buf[p];
            v |= ((b & 127) as usize) << shift;
            if b & 128 == 0 {
                return p - v;
            }
            shift += 7;
            p -= 1;
        }
    }
}

/// Entries of one chunk, walkable from both ends.
#[derive(Clone)]
pub(super) struct Entries<'a> {
    buf: &'a [u8],
    pub(super) front: usize,
    pub(super) back: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (e, n) = entry::read(self.buf, self.front);
        self.front += n;
        Some(e)
    }
}

impl DoubleEndedIterator for Entries<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back = entry::start_before(self.buf, self.back);
        Some(entry::read(self.buf, self.back).0)
    }
}

/// A run of entries in one buffer.
#[derive(Debug, Clone, Default)]
pub(super) struct Chunk {
    pub(super) buf: Vec<u8>,
    pub(super) count: u32,
}

impl Chunk {
    pub(super) fn entries(&self) -> Entries<'_> {
        Entries {
            buf: &self.buf,
            front: 0,
            back: self.buf.len(),
        }
    }

    pub(super) fn entries_from(&self, i: usize) -> Entries<'_> {
        Entries {
            buf: &self.buf,
            front: self.offset(i),
            back: self.buf.len(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether `bytes` more in `n` more entries keep the chunk within `limit`. An empty chunk
    /// takes any single element, however big (Redis gives such an element its own node).
    pub(super) fn fits(&self, limit: ChunkLimit, bytes: usize, n: usize) -> bool {
        (self.count == 0 && n == 1) || limit.allows(self.buf.len() + bytes, self.len() + n)
    }

    /// Byte offset of entry `i` (0..=count), walking from the nearer end.
    pub(super) fn offset(&self, i: usize) -> usize {
        let n = self.len();
        if i <= n / 2 {
            (0..i).fold(0, |off, _| off + entry::read(&self.buf, off).1)
        } else {
            (i..n).fold(self.buf.len(), |off, _| entry::start_before(&self.buf, off))
        }
    }

    /// Makes room for `n` more bytes: exact for the first entries, then 1.5x growth capped at
    /// the chunk limit, so a small list costs little more than its bytes.
    pub(super) fn grow(&mut self, n: usize, cap_hint: usize) {
        let (len, cap) = (self.buf.len(), self.buf.capacity());
        if cap - len >= n {
            return;
        }
        let want = (len + len / 2).min(cap_hint).max(len + n);
        self.buf.reserve_exact(want - len);
    }

    pub(super) fn insert(&mut self, off: usize, e: &[u8], cap_hint: usize) {
        let n = entry::encoded_len(e);
        self.grow(n, cap_hint);
        let old = self.buf.len();
        self.buf.resize(old + n, 0);
        self.buf.copy_within(off..old, off + n);
        entry::write(&mut self.buf[off..off + n], e);
        self.count += 1;
    }

    pub(super) fn push(&mut self, end: End, e: &[u8], cap_hint: usize) {
        let off = if end == End::Left { 0 } else { self.buf.len() };
        self.insert(off, e, cap_hint);
    }

    /// Removes up to `n` entries from `end`, appending them to `out` (in pop order) if given.
    pub(super) fn take(&mut self, end: End, n: usize, out: Option<&mut Vec<Bytes>>) -> usize {
        let n = n.min(self.len());
        let mut it = self.entries();
        let mut out = out;
        for _ in 0..n {
            let e = if end == End::Left {
                it.next()
            } else {
                it.next_back()
            };
            if let (Some(o), Some(e)) = (out.as_deref_mut(), e) {
                o.push(e.to_bytes());
            }
        }
        let (front, back) = (it.front, it.back);
        if end == End::Left {
            self.buf.drain(..front);
        } else {
            self.buf.truncate(back);
        }
        self.count -= n as u32;
        self.shrink();
        n
    }

    /// Returns spare capacity once a chunk has shrunk well below it.
    pub(super) fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 2);
        }
    }

    /// Removes up to `max` entries equal to `n`, scanning from `from`. Returns how many.
    pub(super) fn remove_matching(&mut self, n: &Needle, max: usize, from: End) -> usize {
        let mut ranges = Vec::new();
        let mut it = self.entries();
        while ranges.len() < max {
            let (e, range) = match from {
                End::Left => {
                    let start = it.front;
                    let Some(e) = it.next() else { break };
                    (e, (start, it.front))
                }
                End::Right => {
                    let end = it.back;
                    let Some(e) = it.next_back() else { break };
                    (e, (it.back, end))
                }
            };
            if e.matches(n) {
                ranges.push(range);
            }
        }
        if from == End::Right {
            ranges.reverse();
        }
        let Some(&(mut w, _)) = ranges.first() else {
            return 0;
        };
        for (i, &(_, e)) in ranges.iter().enumerate() {
            let next = ranges.get(i + 1).map_or(self.buf.len(), |r| r.0);
            self.buf.copy_within(e..next, w);
            w += next - e;
        }
        self.buf.truncate(w);
        self.count -= ranges.len() as u32;
        self.shrink();
        ranges.len()
    }

    /// Splits off the second half of the entries.
    pub(super) fn split(&mut self) -> Chunk {
        let keep = self.len() / 2;
        let off = self.offset(keep);
        let right = Chunk {
            buf: self.buf.split_off(off),
            count: self.count - keep as u32,
        };
        self.count = keep as u32;
        self.buf.shrink_to_fit();
        right
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_at_every_boundary() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"01".to_vec(),
            b"+1".to_vec(),
            b"-0".to_vec(),
        ];
        for v in [
            0i64,
            127,
            128,
            -1,
            4095,
            4096,
            -4096,
            -4097,
            32767,
            32768,
            -32768,
            -32769,
            8_388_607,
            8_388_608,
            -8_388_608,
            2_147_483_647,
            2_147_483_648,
            -2_147_483_649,
            i64::MAX,
            i64::MIN,
        ] {
            samples.push(v.to_string().into_bytes());
        }
        for n in [63, 64, 127, 128, 4095, 4096, 20000] {
            samples.push(vec![b'x'; n]);
        }
        let mut buf = Vec::new();
        for s in &samples {
            let at = buf.len();
            buf.resize(at + entry::encoded_len(s), 0);
            entry::write(&mut buf[at..], s);
        }
        let c = Chunk {
            buf,
            count: samples.len() as u32,
        };
        let fwd: Vec<Vec<u8>> = c.entries().map(|e| e.to_bytes().to_vec()).collect();
        assert_eq!(fwd, samples);
        let mut bwd: Vec<Vec<u8>> = c.entries().rev().map(|e| e.to_bytes().to_vec()).collect();
        bwd.reverse();
        assert_eq!(bwd, samples);
        assert_eq!(Needle::new(b"127").int, Some(127));
        assert!(
            Elem::Int(5).matches(&Needle::new(b"5")) && !Elem::Int(5).matches(&Needle::new(b"05"))
        );
    }

    #[test]
    fn limits_follow_redis_fill() {
        assert_eq!(
            ChunkLimit::from_fill(-2),
            ChunkLimit {
                max_bytes: 8192,
                max_entries: usize::MAX
            }
        );
        assert_eq!(ChunkLimit::from_fill(-9).max_bytes, 65536);
        assert_eq!(ChunkLimit::from_fill(-1).max_bytes, 4096);
        assert_eq!(ChunkLimit::from_fill(0).max_entries, 1);
        assert_eq!(
            ChunkLimit::from_fill(100),
            ChunkLimit {
                max_bytes: 8192,
                max_entries: 100
            }
        );
        assert_eq!(ChunkLimit::from_fill(1 << 20).max_entries, 1 << 15);
    }
}
