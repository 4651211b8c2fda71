//! `Dict`: the hash table behind big hashes and sets (OBJECT ENCODING "hashtable"), and `Elem`,
//! the borrowed view of one element that every hash/set representation hands out.
//!
//! Layout, chosen for memory: a power-of-two array of bucket heads (8 bytes each, load factor
//! kept between 1/10 and 1) and one heap block per element holding everything about it:
//!
//! ```text
//! [next: *mut u8][varint key_len][key bytes][varint value_len][value bytes]
//! ```
//!
//! so an element costs one allocation of `8 + ~2 + key + value` bytes plus its share of the
//! bucket array. Redis's dict spends a 24-byte `dictEntry` plus one `sds` allocation for the
//! field and another for the value. A set stores an empty value (one byte).
//!
//! Why chaining rather than a ready-made open-addressing table (hashbrown): HSCAN/SSCAN must
//! return every element present for a whole scan even when the table grows or shrinks between
//! calls. With chaining, an element always sits in bucket `hash & mask`, which is exactly what
//! Redis's reverse-binary cursor (`dictScan`) relies on; hashbrown exposes no such order.
//! Resizing is done at once (no incremental rehash).
//!
//! Random picks are uniform: a random bucket and a random position below an upper bound of
//! the longest chain (`max_chain`), retried until the position holds an element.
//!
//! Safety: the raw element blocks are owned by exactly one `Dict` (like a `Box`), created by
//! `node_new` and freed by `node_free` with the layout recomputed from their own lengths. All
//! `unsafe` is in this file. Pure data structure: depends only on `util::num` (for `Elem`).
use ahash::RandomState;
use rand::Rng;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::borrow::Cow;
use std::ptr::NonNull;

const PTR: usize = std::mem::size_of::<usize>();
/// Smallest bucket array, as Redis's DICT_HT_INITIAL_SIZE.
const MIN_BUCKETS: usize = 4;

/// One element of a hash (field or value) or set (member), as stored: either bytes or, for
/// the compact encodings, an integer whose canonical decimal text is the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element's text.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Elem::Str(s) => Cow::Borrowed(s),
            Elem::Int(i) => Cow::Owned(crate::util::num::IntStr::new(*i).as_bytes().to_vec()),
        }
    }

    /// Length of the element's text.
    pub fn len(&self) -> usize {
        match self {
            Elem::Str(s) => s.len(),
            Elem::Int(i) => crate::util::num::IntStr::new(*i).as_bytes().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().into_owned()
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes `n` as LEB128 at `p`, returning the bytes written.
///
/// Safety: `p` must be valid for `varint_len(n)` bytes.
unsafe fn put_varint(p: *mut u8, mut n: usize) -> usize {
    let mut i = 0;
    while n >= 0x80 {
        p.add(i).write((n as u8) | 0x80);
        n >>= 7;
        i += 1;
    }
    p.add(i).write(n as u8);
    i + 1
}

/// Reads a LEB128 value at `p`: (value, bytes read).
///
/// Safety: `p` must point at a varint written by `put_varint`.
unsafe fn get_varint(p: *const u8) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = p.add(i).read();
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b < 0x80 {
            return (n, i);
        }
        shift += 7;
    }
}

/// A pointer to one element block (see the module doc), or the end of a chain.
type Link = Option<NonNull<u8>>;

fn node_layout(size: usize) -> Layout {
    Layout::from_size_align(size, PTR).expect("element size")
}

fn node_size(key_len: usize, value_len: usize) -> usize {
    PTR + varint_len(key_len) + key_len + varint_len(value_len) + value_len
}

/// Allocates an element block.
fn node_new(key: &[u8], value: &[u8], next: Link) -> NonNull<u8> {
    let size = node_size(key.len(), value.len());
    let layout = node_layout(size);
    // SAFETY: the layout has a nonzero size; every byte written below lies within `size`.
    unsafe {
        let p = alloc(layout);
        let Some(nn) = NonNull::new(p) else {
            handle_alloc_error(layout)
        };
        (p as *mut Link).write(next);
        let mut at = PTR;
        at += put_varint(p.add(at), key.len());
        std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(at), key.len());
        at += key.len();
        at += put_varint(p.add(at), value.len());
        std::ptr::copy_nonoverlapping(value.as_ptr(), p.add(at), value.len());
        debug_assert_eq!(at + value.len(), size);
        nn
    }
}

/// The key and value of an element block. The slices live as long as the block, which the
/// caller ties to a borrow of the owning `Dict`.
///
/// Safety: `p` must be a live block from `node_new`.
unsafe fn node_parts<'a>(p: NonNull<u8>) -> (&'a [u8], &'a [u8]) {
    let base = p.as_ptr();
    let (klen, n) = get_varint(base.add(PTR));
    let kstart = PTR + n;
    let (vlen, m) = get_varint(base.add(kstart + klen));
    let vstart = kstart + klen + m;
    (
        std::slice::from_raw_parts(base.add(kstart), klen),
        std::slice::from_raw_parts(base.add(vstart), vlen),
    )
}

/// Safety: `p` must be a live block from `node_new`.
unsafe fn node_next(p: NonNull<u8>) -> Link {
    (p.as_ptr() as *const Link).read()
}

/// Safety: `p` must be a live block from `node_new`.
unsafe fn node_set_next(p: NonNull<u8>, next: Link) {
    (p.as_ptr() as *mut Link).write(next)
}

/// Safety: `p` must be a live block from `node_new`, not used afterwards.
unsafe fn node_free(p: NonNull<u8>) -> usize {
    let (k, v) = node_parts(p);
    let size = node_size(k.len(), v.len());
    dealloc(p.as_ptr(), node_layout(size));
    size
}

/// The chained hash table; see the module doc.
pub struct Dict {
    buckets: Box<[Link]>,
    len: usize,
    /// Bytes of all element blocks (for MEMORY USAGE without a walk).
    node_bytes: usize,
    /// Upper bound of the longest chain; exact after a resize, raised by inserts.
    max_chain: usize,
    hasher: RandomState,
}

// SAFETY: a Dict owns its element blocks exclusively (no sharing, no interior mutability), so
// moving it to or sharing it with another thread is as safe as for a `Vec<Box<[u8]>>`.
unsafe impl Send for Dict {}
unsafe impl Sync for Dict {}

impl Default for Dict {
    fn default() -> Self {
        Dict::with_capacity(0)
    }
}

impl Dict {
    /// A table sized for `n` elements without a resize (Redis's `dictExpand`).
    pub fn with_capacity(n: usize) -> Dict {
        Dict {
            buckets: empty_buckets(n.max(MIN_BUCKETS).next_power_of_two()),
            len: 0,
            node_bytes: 0,
            max_chain: 0,
            hasher: RandomState::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned: the bucket array and every element block.
    pub fn heap_size(&self) -> usize {
        self.buckets.len() * PTR + self.node_bytes
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    fn bucket_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) as usize) & self.mask()
    }

    fn find(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let mut cur = self.buckets[self.bucket_of(key)];
        while let Some(p) = cur {
            // SAFETY: every link in a chain is a live block owned by self.
            unsafe {
                if node_parts(p).0 == key {
                    return Some(p);
                }
                cur = node_next(p);
            }
        }
        None
    }

    /// The value stored for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        // SAFETY: the block is owned by self, so it lives as long as the borrow of self.
        self.find(key).map(|p| unsafe { node_parts(p).1 })
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts `key` with `value`, replacing the value of an existing key. True if the key is
    /// new.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        let b = self.bucket_of(key);
        let mut slot: *mut Link = &mut self.buckets[b];
        let mut depth = 0;
        // SAFETY: `slot` always points at a bucket head or at the `next` field of a live
        // block of this table; blocks are only freed after being unlinked.
        unsafe {
            while let Some(p) = *slot {
                let (k, v) = node_parts(p);
                if k == key && v.len() == value.len() {
                    // Same size (HINCRBY and friends): overwrite in place, through `p`.
                    let off = v.as_ptr().offset_from(p.as_ptr()) as usize;
                    std::ptr::copy_nonoverlapping(value.as_ptr(), p.as_ptr().add(off), value.len());
                    return false;
                }
                if k == key {
                    let fresh = node_new(key, value, node_next(p));
                    self.node_bytes += node_size(key.len(), value.len());
                    self.node_bytes -= node_size(k.len(), v.len());
                    *slot = Some(fresh);
                    node_free(p);
                    return false;
                }
                slot = p.as_ptr() as *mut Link;
                depth += 1;
            }
            let head = self.buckets[b];
            self.buckets[b] = Some(node_new(key, value, head));
        }
        self.node_bytes += node_size(key.len(), value.len());
        self.len += 1;
        self.max_chain = self.max_chain.max(depth + 1);
        if self.len > self.buckets.len() {
            self.resize(self.len);
        }
        true
    }

    /// Removes `key`. True if it was present. The table shrinks when under 10% full, as
    /// Redis's `htNeedsResize`/`dictResize` do after a delete.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        let b = self.bucket_of(key);
        let mut slot: *mut Link = &mut self.buckets[b];
        // SAFETY: as in `insert`.
        unsafe {
            while let Some(p) = *slot {
                if node_parts(p).0 == key {
                    *slot = node_next(p);
                    self.node_bytes -= node_free(p);
                    self.len -= 1;
                    if self.buckets.len() > MIN_BUCKETS && self.len * 10 < self.buckets.len() {
                        self.resize(self.len);
                    }
                    return true;
                }
                slot = p.as_ptr() as *mut Link;
            }
        }
        false
    }

    /// Rebuilds the bucket array with the smallest power of two >= `n` (at least 4) buckets.
    fn resize(&mut self, n: usize) {
        let size = n.max(MIN_BUCKETS).next_power_of_two();
        let old = std::mem::replace(&mut self.buckets, empty_buckets(size));
        let mask = size - 1;
        for head in old.iter() {
            let mut cur = *head;
            while let Some(p) = cur {
                // SAFETY: blocks move from the old chains to the new ones; each is linked
                // exactly once.
                unsafe {
                    cur = node_next(p);
                    let b = (self.hasher.hash_one(node_parts(p).0) as usize) & mask;
                    node_set_next(p, self.buckets[b]);
                    self.buckets[b] = Some(p);
                }
            }
        }
        self.max_chain = self
            .buckets
            .iter()
            .map(|&h| chain_len(h))
            .max()
            .unwrap_or(0);
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            dict: self,
            bucket: 0,
            cur: None,
        }
    }

    /// A uniformly random element (key, value). The table must not be empty.
    pub fn random<R: Rng>(&self, rng: &mut R) -> (&[u8], &[u8]) {
        assert!(self.len > 0, "random element of an empty dict");
        loop {
            let b = rng.gen_range(0..self.buckets.len());
            let pos = rng.gen_range(0..self.max_chain.max(1));
            let mut cur = self.buckets[b];
            let mut i = 0;
            while let Some(p) = cur {
                // SAFETY: live blocks of self, borrowed for the borrow of self.
                unsafe {
                    if i == pos {
                        return node_parts(p);
                    }
                    cur = node_next(p);
                }
                i += 1;
            }
        }
    }

    /// Visits the bucket named by `cursor` and returns the next cursor (0 when done), with
    /// Redis's reverse-binary increment: every element present for the whole scan is visited
    /// at least once even if the table is resized between calls.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        let mask = self.mask() as u64;
        let mut cur = self.buckets[(cursor & mask) as usize];
        while let Some(p) = cur {
            // SAFETY: live blocks of self.
            unsafe {
                let (k, v) = node_parts(p);
                f(k, v);
                cur = node_next(p);
            }
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }
}

fn empty_buckets(n: usize) -> Box<[Link]> {
    vec![None; n].into_boxed_slice()
}

fn chain_len(mut cur: Link) -> usize {
    let mut n = 0;
    while let Some(p) = cur {
        // SAFETY: callers pass chains of live blocks.
        cur = unsafe { node_next(p) };
        n += 1;
    }
    n
}

impl Drop for Dict {
    fn drop(&mut self) {
        for head in self.buckets.iter_mut() {
            let mut cur = head.take();
            while let Some(p) = cur {
                // SAFETY: each block is reached once and freed once; the buckets are cleared.
                unsafe {
                    cur = node_next(p);
                    node_free(p);
                }
            }
        }
    }
}

impl Clone for Dict {
    /// A deep copy with the same bucket layout and chain order.
    fn clone(&self) -> Dict {
        let mut out = Dict {
            buckets: empty_buckets(self.buckets.len()),
            len: self.len,
            node_bytes: self.node_bytes,
            max_chain: self.max_chain,
            hasher: self.hasher.clone(),
        };
        for (i, head) in self.buckets.iter().enumerate() {
            let mut tail: *mut Link = &mut out.buckets[i];
            let mut cur = *head;
            while let Some(p) = cur {
                // SAFETY: reading live blocks of self; writing fresh blocks owned by `out`.
                unsafe {
                    let (k, v) = node_parts(p);
                    let fresh = node_new(k, v, None);
                    *tail = Some(fresh);
                    tail = fresh.as_ptr() as *mut Link;
                    cur = node_next(p);
                }
            }
        }
        out
    }
}

impl PartialEq for Dict {
    fn eq(&self, other: &Dict) -> bool {
        self.len == other.len && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl std::fmt::Debug for Dict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (show(k), show(v))))
            .finish()
    }
}

/// Iterates (key, value) in bucket order.
pub struct Iter<'a> {
    dict: &'a Dict,
    bucket: usize,
    cur: Link,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(p) = self.cur {
                // SAFETY: live blocks of the borrowed dict.
                unsafe {
                    self.cur = node_next(p);
                    return Some(node_parts(p));
                }
            }
            if self.bucket >= self.dict.buckets.len() {
                return None;
            }
            self.cur = self.dict.buckets[self.bucket];
            self.bucket += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, SeedableRng};
    use std::collections::{HashMap, HashSet};

    fn key(i: usize) -> Vec<u8> {
        format!("field:{i}").into_bytes()
    }

    #[test]
    fn insert_get_replace_remove() {
        let mut d = Dict::default();
        for i in 0..1000 {
            assert!(d.insert(&key(i), format!("v{i}").as_bytes()));
        }
        assert_eq!(d.len(), 1000);
        assert!(!d.insert(&key(7), &[b'x'; 300]));
        assert_eq!(d.get(&key(7)), Some(&[b'x'; 300][..]));
        assert_eq!(d.get(&key(8)), Some(&b"v8"[..]));
        assert_eq!(d.get(b"nope"), None);
        for i in 0..995 {
            assert!(d.remove(&key(i)));
            assert!(!d.remove(&key(i)));
        }
        assert_eq!(d.len(), 5);
        assert!(d.buckets.len() <= 64, "shrunk: {}", d.buckets.len());
        assert_eq!(d.iter().count(), 5);
        let expected: usize = (995..1000)
            .map(|i| node_size(key(i).len(), format!("v{i}").len()))
            .sum();
        assert_eq!(d.node_bytes, expected);
    }

    #[test]
    fn long_keys_and_empty_values() {
        let mut d = Dict::default();
        let big = vec![7u8; 100_000];
        d.insert(&big, b"");
        d.insert(b"", &big);
        assert_eq!(d.get(&big), Some(&b""[..]));
        assert_eq!(d.get(b""), Some(&big[..]));
        let c = d.clone();
        assert_eq!(c, d);
        drop(d);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d = Dict::default();
        for i in 0..500 {
            d.insert(&key(i), b"");
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            step += 1;
            // Grow and shrink the table mid-scan; keys 0..500 stay present throughout.
            if step == 10 {
                for i in 500..5000 {
                    d.insert(&key(i), b"");
                }
            }
            if step == 200 {
                for i in 500..5000 {
                    d.remove(&key(i));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(&key(i)), "missed {i}");
        }
    }

    #[test]
    fn random_is_roughly_uniform() {
        let mut d = Dict::default();
        for i in 0..20 {
            d.insert(&key(i), b"");
        }
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..40_000 {
            *counts.entry(d.random(&mut rng).0.to_vec()).or_default() += 1;
        }
        assert_eq!(counts.len(), 20);
        for (_, c) in counts {
            assert!((1600..2400).contains(&c), "{c}");
        }
    }
}
