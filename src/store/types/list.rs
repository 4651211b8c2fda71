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
mod chunk;

use bytes::Bytes;
use chunk::{entry, Chunk};
pub use chunk::{ChunkLimit, Elem, Needle};
use std::collections::VecDeque;

/// Which end of a list (Redis's LEFT/head and RIGHT/tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
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
                // Grow the deque by a quarter, not VecDeque's doubling: chunks are added once
                // per few KiB, and the slack would be the only overhead a big list has.
                if cs.deque.len() == cs.deque.capacity() {
                    cs.deque.reserve_exact((cs.deque.len() / 4).max(4));
                }
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
    fn one_big_push_is_still_chunked() {
        let limit = ChunkLimit::default();
        let v: Vec<Bytes> = (0..10_000)
            .map(|i| Bytes::from(format!("element:{i}")))
            .collect();
        for end in [End::Left, End::Right] {
            let mut l = List::new();
            l.push_all(end, &v, limit);
            let Repr::Chunked(cs) = &l.repr else {
                panic!("10k elements in one chunk")
            };
            assert!(cs.deque.iter().all(|c| c.buf.len() <= 8192));
            assert_eq!(l.len(), 10_000);
            let first = if end == End::Right {
                "element:0"
            } else {
                "element:9999"
            };
            assert_eq!(l.get(0).unwrap().to_bytes(), first);
        }
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
