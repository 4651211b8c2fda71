//! The list value type: elements packed listpack-style into byte chunks.
//!
//! Each element is one *entry* in a chunk's byte buffer, encoded as in Redis's listpack: a
//! header (canonical integers stored as 1-9 byte integers, strings as a 1/2/9-byte length and
//! the bytes) and a trailing "backlen" (the header+payload size, 7 bits per byte) so a chunk can
//! be walked from either end. A list is `Packed` (one chunk, one allocation besides the box)
//! while it fits one chunk and `Chunked` (a `VecDeque` of chunks, O(1) pushes and pops at both
//! ends, O(chunks) to seek an index) beyond. The chunk limit comes from
//! `list-max-listpack-size` like Redis's quicklist node limit (negative: 4..64 KiB per chunk,
//! positive: that many entries with an 8 KiB safety cap).
//!
//! Invariant: `Packed` iff the list has at most one chunk; every chunk of a `Chunked` list is
//! non-empty. Switching between the two moves the chunk (no copying), so unlike Redis 7.2 there
//! is no need for hysteresis.
//!
//! OBJECT ENCODING: Redis 7.0 always answers "quicklist" for a list (the "listpack" list
//! encoding arrived in 7.2; checked against redis-server 7.0.15, whatever the size and
//! list-max-listpack-size), so `encoding()` does too, whatever the representation.
//!
//! Depends on nothing but `bytes` and util::num; knows nothing of RESP.
use crate::util::num::IntStr;
use bytes::Bytes;
use std::collections::VecDeque;

/// Which end of a list (Redis's LEFT/head and RIGHT/tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// How large one chunk may grow: Redis's quicklist fill rule (`_quicklistNodeAllowInsert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimit {
    max_bytes: usize,
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

    fn allows(&self, bytes: usize, entries: usize) -> bool {
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
    int: Option<i64>,
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
mod entry {
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
struct Entries<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
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
struct Chunk {
    buf: Vec<u8>,
    count: u32,
}

impl Chunk {
    fn entries(&self) -> Entries<'_> {
        Entries {
            buf: &self.buf,
            front: 0,
            back: self.buf.len(),
        }
    }

    fn entries_from(&self, i: usize) -> Entries<'_> {
        Entries {
            buf: &self.buf,
            front: self.offset(i),
            back: self.buf.len(),
        }
    }

    fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether `bytes` more in `n` more entries keep the chunk within `limit` (an empty chunk
    /// takes any element).
    fn fits(&self, limit: ChunkLimit, bytes: usize, n: usize) -> bool {
        self.count == 0 || limit.allows(self.buf.len() + bytes, self.len() + n)
    }

    /// Byte offset of entry `i` (0..=count), walking from the nearer end.
    fn offset(&self, i: usize) -> usize {
        let n = self.len();
        if i <= n / 2 {
            (0..i).fold(0, |off, _| off + entry::read(&self.buf, off).1)
        } else {
            (i..n).fold(self.buf.len(), |off, _| entry::start_before(&self.buf, off))
        }
    }

    /// Makes room for `n` more bytes: exact for the first entries, then 1.5x growth capped at
    /// the chunk limit, so a small list costs little more than its bytes.
    fn grow(&mut self, n: usize, cap_hint: usize) {
        let (len, cap) = (self.buf.len(), self.buf.capacity());
        if cap - len >= n {
            return;
        }
        let want = (len + len / 2).min(cap_hint).max(len + n);
        self.buf.reserve_exact(want - len);
    }

    fn insert(&mut self, off: usize, e: &[u8], cap_hint: usize) {
        let n = entry::encoded_len(e);
        self.grow(n, cap_hint);
        let old = self.buf.len();
        self.buf.resize(old + n, 0);
        self.buf.copy_within(off..old, off + n);
        entry::write(&mut self.buf[off..off + n], e);
        self.count += 1;
    }

    fn push(&mut self, end: End, e: &[u8], cap_hint: usize) {
        let off = if end == End::Left { 0 } else { self.buf.len() };
        self.insert(off, e, cap_hint);
    }

    /// Removes up to `n` entries from `end`, appending them to `out` (in pop order) if given.
    fn take(&mut self, end: End, n: usize, out: Option<&mut Vec<Bytes>>) -> usize {
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
    fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 2);
        }
    }

    /// Removes up to `max` entries equal to `n`, scanning from `from`. Returns how many.
    fn remove_matching(&mut self, n: &Needle, max: usize, from: End) -> usize {
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
    fn split(&mut self) -> Chunk {
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

#[derive(Debug, Clone, Default)]
struct Chunks {
    deque: VecDeque<Chunk>,
    len: usize,
}

#[derive(Debug, Clone)]
enum Repr {
    Packed(Chunk),
    Chunked(Box<Chunks>),
}

/// A list value. Indexes are 0-based from the left; commands resolve negative indexes.
#[derive(Debug, Clone)]
pub struct List {
    repr: Repr,
}

impl Default for List {
    fn default() -> Self {
        List {
            repr: Repr::Packed(Chunk::default()),
        }
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// OBJECT ENCODING name: always "quicklist" in Redis 7.0 (see the module doc).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes owned (MEMORY USAGE, lazy-free decisions).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(c) => c.buf.capacity(),
            Repr::Chunked(cs) => {
                std::mem::size_of::<Chunks>()
                    + cs.deque.capacity() * std::mem::size_of::<Chunk>()
                    + cs.deque.iter().map(|c| c.buf.capacity()).sum::<usize>()
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(c) => c.len(),
            Repr::Chunked(cs) => cs.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slices(&self) -> (&[Chunk], &[Chunk]) {
        match &self.repr {
            Repr::Packed(c) => (std::slice::from_ref(c), &[]),
            Repr::Chunked(cs) => cs.deque.as_slices(),
        }
    }

    /// All elements, left to right (`.rev()` for right to left).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Elem<'_>> + '_ {
        let (a, b) = self.slices();
        a.iter().chain(b).flat_map(Chunk::entries)
    }

    /// Elements from `index` (< len) to the right end, seeking by chunk counts first.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (ci, ei) = self.locate(index);
        let (a, b) = self.slices();
        let mut chunks = a.iter().chain(b).skip(ci);
        let first = chunks.next().map(|c| c.entries_from(ei));
        first
            .into_iter()
            .flatten()
            .chain(chunks.flat_map(Chunk::entries))
    }

    /// The chunk holding element `index` (< len) and the element's position in it.
    fn locate(&self, index: usize) -> (usize, usize) {
        let Repr::Chunked(cs) = &self.repr else {
            return (0, index);
        };
        if index < cs.len / 2 {
            let mut i = index;
            for (ci, c) in cs.deque.iter().enumerate() {
                if i < c.len() {
                    return (ci, i);
                }
                i -= c.len();
            }
        } else {
            let mut from_end = cs.len - index; // >= 1
            for (ci, c) in cs.deque.iter().enumerate().rev() {
                if from_end <= c.len() {
                    return (ci, c.len() - from_end);
                }
                from_end -= c.len();
            }
        }
        unreachable!("index {index} beyond list length {}", cs.len)
    }

    fn chunk(&self, ci: usize) -> &Chunk {
        match &self.repr {
            Repr::Packed(c) => c,
            Repr::Chunked(cs) => &cs.deque[ci],
        }
    }

    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        if index >= self.len() {
            return None;
        }
        let (ci, ei) = self.locate(index);
        let c = self.chunk(ci);
        Some(entry::read(&c.buf, c.offset(ei)).0)
    }

    pub fn push(&mut self, end: End, e: &[u8], limit: ChunkLimit) {
        let n = entry::encoded_len(e);
        match &mut self.repr {
            Repr::Packed(c) if c.fits(limit, n, 1) => c.push(end, e, limit.max_bytes),
            Repr::Packed(c) => {
                let old = std::mem::take(c);
                let mut deque = VecDeque::with_capacity(4);
                deque.push_back(old);
                self.repr = Repr::Chunked(Box::new(Chunks {
                    len: deque[0].len(),
                    deque,
                }));
                self.push(end, e, limit);
            }
            Repr::Chunked(cs) => {
                cs.len += 1;
                let c = if end == End::Left {
                    cs.deque.front_mut()
                } else {
                    cs.deque.back_mut()
                };
                let c = c.expect("a chunked list has chunks");
                if c.fits(limit, n, 1) {
                    c.push(end, e, limit.max_bytes);
                    return;
                }
                c.buf.shrink_to_fit();
                let mut fresh = Chunk::default();
                fresh.push(end, e, limit.max_bytes);
                match end {
                    End::Left => cs.deque.push_front(fresh),
                    End::Right => cs.deque.push_back(fresh),
                }
            }
        }
    }

    /// Pushes every element of `elems` in order (LPUSH a b c leaves c at the head). A small
    /// list that stays one chunk gets exactly the room it needs at once.
    pub fn push_all(&mut self, end: End, elems: &[Bytes], limit: ChunkLimit) {
        if let Repr::Packed(c) = &mut self.repr {
            let total: usize = elems.iter().map(|e| entry::encoded_len(e)).sum();
            if c.fits(limit, total, elems.len()) && end == End::Right {
                c.buf.reserve_exact(total);
            } else if c.fits(limit, total, elems.len()) {
                let mut buf = Vec::with_capacity(c.buf.len() + total);
                for e in elems.iter().rev() {
                    let at = buf.len();
                    buf.resize(at + entry::encoded_len(e), 0);
                    entry::write(&mut buf[at..], e);
                }
                buf.extend_from_slice(&c.buf);
                c.buf = buf;
                c.count += elems.len() as u32;
                return;
            }
        }
        for e in elems {
            self.push(end, e, limit);
        }
    }

    /// Removes and returns up to `n` elements from `end`, in pop order.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        self.take(end, n, Some(&mut out));
        out
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        self.pop_many(end, 1).pop()
    }

    /// Removes up to `n` elements from `end` (collecting them into `out` if given); whole
    /// chunks are dropped without decoding when nothing is collected.
    fn take(&mut self, end: End, n: usize, mut out: Option<&mut Vec<Bytes>>) -> usize {
        let cs = match &mut self.repr {
            Repr::Packed(c) => return c.take(end, n, out),
            Repr::Chunked(cs) => cs,
        };
        let mut done = 0;
        while done < n {
            let c = if end == End::Left {
                cs.deque.front_mut()
            } else {
                cs.deque.back_mut()
            };
            let Some(c) = c else { break };
            if out.is_none() && c.len() <= n - done {
                done += c.len();
                c.count = 0;
            } else {
                done += c.take(end, n - done, out.as_deref_mut());
            }
            if c.count == 0 {
                match end {
                    End::Left => cs.deque.pop_front(),
                    End::Right => cs.deque.pop_back(),
                };
            }
        }
        cs.len -= done;
        self.normalize();
        done
    }

    /// Removes `front` elements from the left and `back` from the right (LTRIM).
    pub fn trim(&mut self, front: usize, back: usize) {
        self.take(End::Left, front, None);
        self.take(End::Right, back, None);
    }

    /// Replaces element `index`; false if out of range.
    pub fn set(&mut self, index: usize, e: &[u8], limit: ChunkLimit) -> bool {
        if index >= self.len() {
            return false;
        }
        let (ci, ei) = self.locate(index);
        let cs = self.chunks_mut();
        let c = &mut cs.deque[ci];
        let off = c.offset(ei);
        let old = entry::read(&c.buf, off).1;
        if entry::encoded_len(e) == old {
            entry::write(&mut c.buf[off..off + old], e);
        } else {
            c.buf.drain(off..off + old);
            c.count -= 1;
            c.insert(off, e, limit.max_bytes);
            split_over(cs, ci, limit);
        }
        self.normalize();
        true
    }

    /// Inserts `e` so that it becomes element `index` (0..=len).
    pub fn insert(&mut self, index: usize, e: &[u8], limit: ChunkLimit) {
        if index >= self.len() {
            return self.push(End::Right, e, limit);
        }
        if index == 0 {
            return self.push(End::Left, e, limit);
        }
        let (ci, ei) = self.locate(index);
        let cs = self.chunks_mut();
        cs.len += 1;
        let c = &mut cs.deque[ci];
        let off = c.offset(ei);
        c.insert(off, e, limit.max_bytes);
        split_over(cs, ci, limit);
        self.normalize();
    }

    /// Removes up to `max` elements equal to `n`, scanning from `from` (LREM). Chunks left
    /// small are merged with their neighbours. Returns how many were removed.
    pub fn remove_matching(
        &mut self,
        n: &Needle,
        max: usize,
        from: End,
        limit: ChunkLimit,
    ) -> usize {
        let cs = self.chunks_mut();
        let count = cs.deque.len();
        let mut removed = 0;
        for i in 0..count {
            if removed == max {
                break;
            }
            let ci = if from == End::Left { i } else { count - 1 - i };
            removed += cs.deque[ci].remove_matching(n, max - removed, from);
        }
        if removed > 0 {
            cs.len -= removed;
            let old = std::mem::take(&mut cs.deque);
            for c in old.into_iter().filter(|c| c.count > 0) {
                match cs.deque.back_mut() {
                    Some(last) if last.fits(limit, c.buf.len(), c.len()) => {
                        last.buf.extend_from_slice(&c.buf);
                        last.count += c.count;
                    }
                    _ => cs.deque.push_back(c),
                }
            }
        }
        self.normalize();
        removed
    }

    /// The chunks as a deque, converting a packed list; `normalize` converts back.
    fn chunks_mut(&mut self) -> &mut Chunks {
        if let Repr::Packed(c) = &mut self.repr {
            let c = std::mem::take(c);
            let len = c.len();
            let mut deque = VecDeque::with_capacity(2);
            if len > 0 {
                deque.push_back(c);
            }
            self.repr = Repr::Chunked(Box::new(Chunks { deque, len }));
        }
        match &mut self.repr {
            Repr::Chunked(cs) => cs,
            Repr::Packed(_) => unreachable!(),
        }
    }

    /// Restores the invariant: at most one chunk means `Packed`.
    fn normalize(&mut self) {
        if let Repr::Chunked(cs) = &mut self.repr {
            if cs.deque.len() <= 1 {
                let c = cs.deque.pop_front().unwrap_or_default();
                self.repr = Repr::Packed(c);
            }
        }
    }
}

/// Splits chunk `ci` (recursively) until every part is within `limit` or holds one entry.
fn split_over(cs: &mut Chunks, ci: usize, limit: ChunkLimit) {
    let c = &mut cs.deque[ci];
    if c.len() > 1 && !limit.allows(c.buf.len(), c.len()) {
        let right = c.split();
        cs.deque.insert(ci + 1, right);
        split_over(cs, ci + 1, limit);
        split_over(cs, ci, limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    fn elems(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_bytes().to_vec()).collect()
    }

    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        let want: Vec<Vec<u8>> = model.iter().cloned().collect();
        assert_eq!(l.len(), model.len());
        assert_eq!(elems(l), want);
        let mut back: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_bytes().to_vec()).collect();
        back.reverse();
        assert_eq!(back, want);
        if let Repr::Chunked(cs) = &l.repr {
            assert!(cs.deque.len() >= 2 && cs.deque.iter().all(|c| c.count > 0));
            assert_eq!(cs.deque.iter().map(|c| c.len()).sum::<usize>(), cs.len);
        }
    }

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

    #[test]
    fn small_lists_stay_one_compact_chunk() {
        assert!(std::mem::size_of::<List>() <= 32);
        let mut l = List::new();
        let v: Vec<Bytes> = (0..10)
            .map(|i| Bytes::from(format!("element:{i}")))
            .collect();
        l.push_all(End::Right, &v, ChunkLimit::default());
        assert!(matches!(l.repr, Repr::Packed(_)));
        assert_eq!(l.heap_size(), 10 * 11);
        let mut m = List::new();
        m.push_all(End::Left, &v, ChunkLimit::default());
        assert_eq!(m.get(0).unwrap().to_bytes(), "element:9");
        assert_eq!(m.heap_size(), 10 * 11);
    }

    #[test]
    fn grows_into_chunks_and_back() {
        let limit = ChunkLimit::from_fill(4);
        let mut l = List::new();
        let mut model = VecDeque::new();
        for i in 0..50 {
            let e = format!("{i}").into_bytes();
            if i % 2 == 0 {
                l.push(End::Right, &e, limit);
                model.push_back(e);
            } else {
                l.push(End::Left, &e, limit);
                model.push_front(e);
            }
            check(&l, &model);
        }
        assert!(matches!(l.repr, Repr::Chunked(_)));
        let popped = l.pop_many(End::Right, 47);
        let want: Vec<Vec<u8>> = (0..47).map(|_| model.pop_back().unwrap()).collect();
        assert_eq!(popped.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), want);
        check(&l, &model);
        assert!(matches!(l.repr, Repr::Packed(_)));
    }

    #[test]
    fn random_operations_match_a_model() {
        let mut rng = SmallRng::seed_from_u64(7);
        for fill in [-1, 1, 3, 16, -2] {
            let limit = ChunkLimit::from_fill(fill);
            let mut l = List::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..1500 {
                let e: Vec<u8> = match rng.gen_range(0..4) {
                    0 => rng.gen_range(-5000i64..5000).to_string().into_bytes(),
                    1 => vec![b'a' + rng.gen_range(0..3u8); rng.gen_range(0..3)],
                    2 => vec![b'z'; rng.gen_range(60..300)],
                    _ => rng.gen::<i64>().to_string().into_bytes(),
                };
                let len = model.len();
                match rng.gen_range(0..10) {
                    0 | 1 => {
                        l.push(End::Left, &e, limit);
                        model.push_front(e);
                    }
                    2 | 3 => {
                        l.push(End::Right, &e, limit);
                        model.push_back(e);
                    }
                    4 => {
                        let n = rng.gen_range(0..4);
                        let end = if rng.gen() { End::Left } else { End::Right };
                        let got: Vec<Vec<u8>> =
                            l.pop_many(end, n).iter().map(|b| b.to_vec()).collect();
                        let want: Vec<Vec<u8>> = (0..n.min(len))
                            .map(|_| {
                                if end == End::Left {
                                    model.pop_front()
                                } else {
                                    model.pop_back()
                                }
                                .unwrap()
                            })
                            .collect();
                        assert_eq!(got, want);
                    }
                    5 if len > 0 => {
                        let i = rng.gen_range(0..len);
                        assert!(l.set(i, &e, limit));
                        model[i] = e;
                    }
                    6 => {
                        let i = rng.gen_range(0..=len);
                        l.insert(i, &e, limit);
                        model.insert(i, e);
                    }
                    7 if len > 0 => {
                        let i = rng.gen_range(0..len);
                        assert_eq!(l.get(i).unwrap().to_bytes().to_vec(), model[i]);
                        let from: Vec<Vec<u8>> =
                            l.iter_from(i).map(|e| e.to_bytes().to_vec()).collect();
                        assert_eq!(from, model.iter().skip(i).cloned().collect::<Vec<_>>());
                    }
                    8 => {
                        let needle = model
                            .get(rng.gen_range(0..len.max(1)))
                            .cloned()
                            .unwrap_or_default();
                        let max = rng.gen_range(1..4);
                        let from = if rng.gen() { End::Left } else { End::Right };
                        let got = l.remove_matching(&Needle::new(&needle), max, from, limit);
                        let mut want = 0;
                        let idx: Vec<usize> = if from == End::Left {
                            (0..len).collect()
                        } else {
                            (0..len).rev().collect()
                        };
                        let mut del = Vec::new();
                        for i in idx {
                            if want < max && model[i] == needle {
                                del.push(i);
                                want += 1;
                            }
                        }
                        del.sort_unstable();
                        for i in del.into_iter().rev() {
                            model.remove(i);
                        }
                        assert_eq!(got, want);
                    }
                    9 if len > 4 && rng.gen_range(0..4) == 0 => {
                        let (f, b) = (rng.gen_range(0..3), rng.gen_range(0..3));
                        l.trim(f, b);
                        model.drain(..f);
                        model.truncate(model.len() - b);
                    }
                    _ => {}
                }
                if step % 10 == 0 || model.len() < 20 {
                    check(&l, &model);
                }
                if step % 100 == 0 {
                    let mut c = l.clone();
                    assert!(c == l);
                    c.push(End::Left, b"x", limit);
                    assert!(c != l);
                }
            }
            check(&l, &model);
        }
    }

    #[test]
    fn large_lists_are_fast_at_both_ends() {
        let limit = ChunkLimit::default();
        let mut l = List::new();
        for i in 0..200_000u32 {
            let e = i.to_string();
            l.push(
                if i % 2 == 0 { End::Left } else { End::Right },
                e.as_bytes(),
                limit,
            );
        }
        assert_eq!(l.len(), 200_000);
        assert_eq!(l.get(100_000).unwrap(), Elem::Int(1));
        assert_eq!(l.get(0).unwrap(), Elem::Int(199_998));
        l.trim(1000, 1000);
        assert_eq!(l.len(), 198_000);
        assert_eq!(l.pop_many(End::Left, 100_000).len(), 100_000);
        assert_eq!(l.pop_many(End::Right, 100_000).len(), 98_000);
        assert!(l.is_empty() && matches!(l.repr, Repr::Packed(_)));
    }
}
