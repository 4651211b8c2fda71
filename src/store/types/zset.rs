//! The sorted set value type: unique members (binary strings) each with an `f64` score (never
//! NaN), ordered by score and then by member bytes (memcmp, shorter first), as Redis orders them.
//!
//! Two representations, reported by OBJECT ENCODING under Redis 7.0's names:
//! - "listpack" (`Compact`): every entry packed into one exact-size byte buffer
//!   (`[u32 count][varint member length][member][score]...`, in order; integral scores below
//!   2^53 are a zigzag varint, others 1 tag byte + 8 raw bytes). Operations are linear scans, as
//!   on Redis's listpack, and the value costs about what a listpack costs.
//! - "skiplist" (`Indexed`): an order-statistic treap whose nodes live in chunked arrays and are
//!   addressed by `u32`, plus a hash index member -> node. Rank, select and score/lex bounds are
//!   O(log n); a range is O(log n + m). A treap instead of Redis's skip list: a node is one
//!   fixed 48-byte slot (score, inline member up to 22 bytes, children, subtree size, priority)
//!   instead of a node with a variable level array plus a dict entry plus an sds string, and
//!   split/merge make range deletion O(log n + m) with little code.
//!
//! Conversion is one-way, compact -> indexed, when an add crosses zset-max-listpack-entries or
//! zset-max-listpack-value (Redis's `zsetAdd`); results built whole (`from_sorted`: the *STORE
//! commands) start compact when they fit (`zsetConvertToListpackIfNeeded`).
//!
//! Node slots are stable for a member's lifetime, so ZSCAN's cursor is a slot index; when the
//! arrays are compacted after mass deletion a generation in the cursor's high bits restarts
//! an old scan (duplicates are allowed, misses are not).
//!
//! Pure data structure: knows nothing of RESP or of commands; depends on `store::bytes`.
use crate::store::bytes::SmallBytes;
use ahash::RandomState;
use hashbrown::HashTable;
use std::cmp::Ordering;

/// The encoding thresholds (zset-max-listpack-entries / zset-max-listpack-value).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// Redis refuses to grow a listpack past 1 GiB (`lpSafeToAdd`); past that we convert too.
const COMPACT_MAX_BYTES: usize = 1 << 30;

/// Which end of the order a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Min,
    Max,
}

/// ZADD's condition flags (ZINCRBY is `incr`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What `add` did, with the member's resulting score where it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddResult {
    /// The (resulting) score is NaN: nothing changed.
    Nan,
    Added(f64),
    Updated(f64),
    /// Processed, but the score stayed the same.
    Unchanged(f64),
    /// Not processed because of NX/XX/GT/LT.
    Skipped,
}

/// Redis's order: by score, then by member bytes.
#[inline]
fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

pub struct ZSet {
    repr: Repr,
}

enum Repr {
    Compact(Compact),
    Indexed(Box<Indexed>),
}

impl ZSet {
    pub fn new_compact() -> ZSet {
        ZSet {
            repr: Repr::Compact(Compact::new()),
        }
    }

    pub fn new_indexed() -> ZSet {
        ZSet {
            repr: Repr::Indexed(Box::new(Indexed::new())),
        }
    }

    /// The empty zset ZADD creates for a new key: compact unless the thresholds are 0 or the
    /// first member is already too long (Redis 7.0 looks at the first member only).
    pub fn for_first_member(limits: Limits, member_len: usize) -> ZSet {
        if limits.entries == 0 || member_len > limits.value {
            Self::new_indexed()
        } else {
            Self::new_compact()
        }
    }

    /// A zset from entries already in order with unique members (a computed result): compact
    /// when it fits the thresholds.
    pub fn from_sorted(items: Vec<(Vec<u8>, f64)>, limits: Limits) -> ZSet {
        let maxlen = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let total: usize = items.iter().map(|(m, _)| m.len()).sum();
        if items.len() <= limits.entries && maxlen <= limits.value && total < COMPACT_MAX_BYTES {
            let mut buf = Vec::with_capacity(
                4 + items
                    .iter()
                    .map(|(m, s)| entry_len(m.len(), *s))
                    .sum::<usize>(),
            );
            buf.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for (m, s) in &items {
                put_entry(&mut buf, m, *s);
            }
            return ZSet {
                repr: Repr::Compact(Compact {
                    buf: buf.into_boxed_slice(),
                }),
            };
        }
        let mut t = Indexed::new();
        t.build(items.into_iter().map(|(m, s)| (SmallBytes::from_vec(m), s)));
        ZSet {
            repr: Repr::Indexed(Box::new(t)),
        }
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Compact(_) => "listpack",
            Repr::Indexed(_) => "skiplist",
        }
    }

    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Compact(_))
    }

    /// Heap bytes owned (MEMORY USAGE, lazy-free decisions).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Compact(c) => c.buf.len(),
            Repr::Indexed(t) => std::mem::size_of::<Indexed>() + t.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Compact(c) => c.len(),
            Repr::Indexed(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Compact(c) => c.find(member).map(|(_, sp)| sp.score),
            Repr::Indexed(t) => t.find(member).map(|i| t.node(i).score),
        }
    }

    /// Adds `member` or updates its score under ZADD's flags (Redis's `zsetAdd`). A new member
    /// that crosses the thresholds converts a compact zset first.
    pub fn add(&mut self, member: &[u8], score: f64, f: AddFlags, limits: Limits) -> AddResult {
        if score.is_nan() {
            return AddResult::Nan;
        }
        if let Some(cur) = self.score(member) {
            if f.nx {
                return AddResult::Skipped;
            }
            let new = if f.incr { score + cur } else { score };
            if new.is_nan() {
                return AddResult::Nan;
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return AddResult::Skipped;
            }
            if new == cur {
                return AddResult::Unchanged(new);
            }
            match &mut self.repr {
                Repr::Compact(c) => {
                    let (_, sp) = c.find(member).expect("present");
                    c.splice(sp.start, sp.end, &[], -1);
                    c.insert(member, new);
                }
                Repr::Indexed(t) => t.set_score(member, new),
            }
            return AddResult::Updated(new);
        }
        if f.xx {
            return AddResult::Skipped;
        }
        self.insert_new(member, score, limits);
        AddResult::Added(score)
    }

    /// Inserts a member known to be absent, converting first if the thresholds say so.
    fn insert_new(&mut self, member: &[u8], score: f64, limits: Limits) {
        if let Repr::Compact(c) = &self.repr {
            if c.len() + 1 > limits.entries
                || member.len() > limits.value
                || c.buf.len() + member.len() > COMPACT_MAX_BYTES
            {
                self.convert_to_indexed();
            }
        }
        match &mut self.repr {
            Repr::Compact(c) => c.insert(member, score),
            Repr::Indexed(t) => t.insert(SmallBytes::new(member), score),
        }
    }

    fn convert_to_indexed(&mut self) {
        if let Repr::Compact(c) = &self.repr {
            let mut t = Indexed::new();
            t.build(c.iter().map(|(m, s)| (SmallBytes::new(m), s)));
            self.repr = Repr::Indexed(Box::new(t));
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Compact(c) => match c.find(member) {
                Some((_, sp)) => {
                    c.splice(sp.start, sp.end, &[], -1);
                    true
                }
                None => false,
            },
            Repr::Indexed(t) => t.remove(member),
        }
    }

    /// 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Compact(c) => c.find(member).map(|(i, _)| i),
            Repr::Indexed(t) => t.find(member).map(|i| t.rank_of(i)),
        }
    }

    /// The entry at ascending rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank, false).next()
    }

    /// All entries in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Entries from ascending rank `rank` on, ascending, or descending (towards rank 0) when
    /// `rev`.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        if rank >= self.len() {
            return Iter::Done;
        }
        match &self.repr {
            Repr::Compact(c) if !rev => {
                let mut it = c.iter();
                for _ in 0..rank {
                    it.next();
                }
                Iter::Compact(it)
            }
            Repr::Compact(c) => Iter::Buffered(c.iter().take(rank + 1).collect::<Vec<_>>()),
            Repr::Indexed(t) => Iter::Tree(TreeIter::new(t, rank, rev)),
        }
    }

    /// The first rank whose entry satisfies `pred`. Compact: a scan from the head, as Redis
    /// scans a listpack. Indexed: `pred` must be false then true along the order (a lower
    /// bound), found by descent.
    pub fn first_where(&self, pred: impl Fn(&[u8], f64) -> bool) -> Option<usize> {
        match &self.repr {
            Repr::Compact(c) => c.iter().position(|(m, s)| pred(m, s)),
            Repr::Indexed(t) => {
                let n = t.partition(|m, s| !pred(m, s));
                (n < t.len()).then_some(n)
            }
        }
    }

    /// The last rank whose entry satisfies `pred`. Compact: a scan from the tail. Indexed:
    /// `pred` must be true then false along the order.
    pub fn last_where(&self, pred: impl Fn(&[u8], f64) -> bool) -> Option<usize> {
        match &self.repr {
            Repr::Compact(c) => {
                let all: Vec<_> = c.iter().collect();
                all.iter().rposition(|&(m, s)| pred(m, s))
            }
            Repr::Indexed(t) => t.partition(pred).checked_sub(1),
        }
    }

    /// Removes the entries of ascending ranks `start..=end` (clamped by the caller); returns
    /// how many went.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        if start > end || start >= self.len() {
            return 0;
        }
        let end = end.min(self.len() - 1);
        match &mut self.repr {
            Repr::Compact(c) => {
                let from = c.offset_of(start);
                let to = c.offset_of(end + 1);
                c.splice(from, to, &[], -((end - start + 1) as i64));
            }
            Repr::Indexed(t) => t.remove_range(start, end - start + 1),
        }
        end - start + 1
    }

    /// Removes and returns the lowest or highest entry.
    pub fn pop(&mut self, end: End) -> Option<(Vec<u8>, f64)> {
        let rank = match end {
            End::Min => 0,
            End::Max => self.len().checked_sub(1)?,
        };
        let (m, s) = self.get(rank).map(|(m, s)| (m.to_vec(), s))?;
        self.remove_range(rank, rank);
        Some((m, s))
    }

    /// One step of ZSCAN: appends entries to `out` and returns the next cursor (0 when done).
    /// A compact zset is returned whole in one call, as Redis returns a listpack. Indexed: up
    /// to `count` entries, visiting at most `10 * count` slots (Redis's bucket budget).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, out: &mut Vec<(&'a [u8], f64)>) -> u64 {
        match &self.repr {
            Repr::Compact(c) => {
                out.extend(c.iter());
                0
            }
            Repr::Indexed(t) => t.scan(cursor, count, out),
        }
    }
}

impl Clone for ZSet {
    fn clone(&self) -> ZSet {
        ZSet {
            repr: match &self.repr {
                Repr::Compact(c) => Repr::Compact(c.clone()),
                Repr::Indexed(t) => Repr::Indexed(t.clone()),
            },
        }
    }
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::new_compact()
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZSet({}, {} entries)", self.encoding(), self.len())
    }
}

/// Iterator over `(member, score)`.
pub enum Iter<'a> {
    Done,
    Compact(CompactIter<'a>),
    /// Compact entries collected for a descending walk.
    Buffered(Vec<(&'a [u8], f64)>),
    Tree(TreeIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Done => None,
            Iter::Compact(it) => it.next(),
            Iter::Buffered(v) => v.pop(),
            Iter::Tree(it) => it.next(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compact ("listpack") representation.

#[derive(Clone)]
struct Compact {
    /// `[u32 LE count][entry]...`, exactly sized.
    buf: Box<[u8]>,
}

/// Where one entry sits in the buffer.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    member: (usize, usize),
    score: f64,
    end: usize,
}

const TWO_53: f64 = 9007199254740992.0;

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let c = b[*pos];
        *pos += 1;
        v |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// The varint a score is stored as when it is integral (even: zigzag << 1), else None (stored
/// as tag 1 + 8 raw bytes). -0.0 is stored as the integer 0, as Redis 7.0's listpack stores
/// integral scores as integers (`double2ll` in `zzlInsertAt`): a listpack loses the sign of
/// zero, a skiplist keeps it.
fn int_score(s: f64) -> Option<u64> {
    if s.fract() == 0.0 && s.abs() < TWO_53 {
        let i = s as i64;
        Some((((i << 1) ^ (i >> 63)) as u64) << 1)
    } else {
        None
    }
}

fn entry_len(mlen: usize, s: f64) -> usize {
    varint_len(mlen as u64) + mlen + int_score(s).map_or(9, varint_len)
}

fn put_entry(out: &mut Vec<u8>, m: &[u8], s: f64) {
    put_varint(out, m.len() as u64);
    out.extend_from_slice(m);
    match int_score(s) {
        Some(v) => put_varint(out, v),
        None => {
            out.push(1);
            out.extend_from_slice(&s.to_bits().to_le_bytes());
        }
    }
}

fn get_score(b: &[u8], pos: &mut usize) -> f64 {
    let v = get_varint(b, pos);
    if v & 1 == 0 {
        let zz = v >> 1;
        ((zz >> 1) as i64 ^ -((zz & 1) as i64)) as f64
    } else {
        let raw: [u8; 8] = b[*pos..*pos + 8].try_into().expect("8 bytes");
        *pos += 8;
        f64::from_bits(u64::from_le_bytes(raw))
    }
}

impl Compact {
    fn new() -> Compact {
        Compact {
            buf: vec![0u8; 4].into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        u32::from_le_bytes(self.buf[..4].try_into().expect("header")) as usize
    }

    fn spans(&self) -> SpanIter<'_> {
        SpanIter {
            buf: &self.buf,
            pos: 4,
        }
    }

    fn iter(&self) -> CompactIter<'_> {
        CompactIter {
            spans: self.spans(),
        }
    }

    fn member(&self, sp: &Span) -> &[u8] {
        &self.buf[sp.member.0..sp.member.1]
    }

    fn find(&self, m: &[u8]) -> Option<(usize, Span)> {
        self.spans()
            .enumerate()
            .find(|(_, sp)| self.member(sp) == m)
    }

    /// Byte offset of the entry at `rank` (the buffer end when `rank == len`).
    fn offset_of(&self, rank: usize) -> usize {
        self.spans().nth(rank).map_or(self.buf.len(), |sp| sp.start)
    }

    /// Replaces `buf[from..to]` with `with`, adjusting the count by `delta`.
    fn splice(&mut self, from: usize, to: usize, with: &[u8], delta: i64) {
        let mut v = Vec::with_capacity(self.buf.len() - (to - from) + with.len());
        v.extend_from_slice(&self.buf[..from]);
        v.extend_from_slice(with);
        v.extend_from_slice(&self.buf[to..]);
        let n = (self.len() as i64 + delta) as u32;
        v[..4].copy_from_slice(&n.to_le_bytes());
        self.buf = v.into_boxed_slice();
    }

    /// Inserts an absent member at its place in the order.
    fn insert(&mut self, m: &[u8], s: f64) {
        let at = self
            .spans()
            .find(|sp| cmp_key(sp.score, self.member(sp), s, m) == Ordering::Greater)
            .map_or(self.buf.len(), |sp| sp.start);
        let mut e = Vec::with_capacity(entry_len(m.len(), s));
        put_entry(&mut e, m, s);
        self.splice(at, at, &e, 1);
    }
}

struct SpanIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Iterator for SpanIter<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let mut p = self.pos;
        let mlen = get_varint(self.buf, &mut p) as usize;
        let member = (p, p + mlen);
        p += mlen;
        let score = get_score(self.buf, &mut p);
        self.pos = p;
        Some(Span {
            start,
            member,
            score,
            end: p,
        })
    }
}

pub struct CompactIter<'a> {
    spans: SpanIter<'a>,
}

impl<'a> Iterator for CompactIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let sp = self.spans.next()?;
        Some((&self.spans.buf[sp.member.0..sp.member.1], sp.score))
    }
}

// ---------------------------------------------------------------------------------------------
// Indexed ("skiplist") representation: an order-statistic treap in chunked node arrays.

const NIL: u32 = u32::MAX;
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One member. A free slot has `size == 0` and links the free list through `left`.
#[derive(Clone)]
struct Node {
    score: f64,
    member: SmallBytes,
    left: u32,
    right: u32,
    /// Nodes in this subtree (0 = free slot).
    size: u32,
    /// Treap priority: a parent's is never lower than its children's.
    prio: u32,
}

#[derive(Clone)]
struct Indexed {
    /// Node slots; only the last chunk grows, so growth never copies more than one chunk.
    chunks: Vec<Vec<Node>>,
    slots: u32,
    root: u32,
    free: u32,
    index: HashTable<u32>,
    hasher: RandomState,
    rng: u64,
    /// Heap bytes of members too long to sit inline.
    member_heap: usize,
    /// Bumped when slots are renumbered (ZSCAN cursors from before restart).
    generation: u32,
}

fn node_in(chunks: &[Vec<Node>], i: u32) -> &Node {
    &chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
}

impl Indexed {
    fn new() -> Indexed {
        Indexed {
            chunks: Vec::new(),
            slots: 0,
            root: NIL,
            free: NIL,
            index: HashTable::new(),
            hasher: RandomState::new(),
            rng: rand::random::<u64>() | 1,
            member_heap: 0,
            generation: 0,
        }
    }

    fn heap_size(&self) -> usize {
        let nodes: usize = self
            .chunks
            .iter()
            .map(|c| c.capacity() * std::mem::size_of::<Node>())
            .sum();
        nodes
            + self.chunks.capacity() * std::mem::size_of::<Vec<Node>>()
            + self.index.allocation_size()
            + self.member_heap
    }

    fn len(&self) -> usize {
        self.sz(self.root) as usize
    }

    #[inline]
    fn node(&self, i: u32) -> &Node {
        node_in(&self.chunks, i)
    }

    #[inline]
    fn node_mut(&mut self, i: u32) -> &mut Node {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
    }

    #[inline]
    fn sz(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.node(t).size
        }
    }

    fn fix(&mut self, t: u32) {
        let n = self.node(t);
        let s = 1 + self.sz(n.left) + self.sz(n.right);
        self.node_mut(t).size = s;
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let chunks = &self.chunks;
        self.index
            .find(self.hash(m), |&i| node_in(chunks, i).member.as_slice() == m)
            .copied()
    }

    /// A slot for a new node (a free one first), not yet linked anywhere.
    fn alloc(&mut self, member: SmallBytes, score: f64) -> u32 {
        self.member_heap += member.heap_size();
        let prio = self.next_prio();
        let node = Node {
            score,
            member,
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        if self.free != NIL {
            let i = self.free;
            self.free = self.node(i).left;
            *self.node_mut(i) = node;
            return i;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::new());
        }
        self.chunks.last_mut().expect("chunk").push(node);
        self.slots += 1;
        self.slots - 1
    }

    /// Returns slot `i` to the free list (already unlinked from the tree and the index).
    fn release(&mut self, i: u32) {
        let free = self.free;
        let n = self.node_mut(i);
        let old = std::mem::replace(&mut n.member, SmallBytes::new(&[]));
        n.size = 0;
        n.left = free;
        n.right = NIL;
        self.member_heap -= old.heap_size();
        self.free = i;
    }

    fn index_insert(&mut self, i: u32) {
        let h = self.hash(self.node(i).member.as_slice());
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index.insert_unique(h, i, |&j| {
            hasher.hash_one(node_in(chunks, j).member.as_slice())
        });
    }

    fn index_remove(&mut self, i: u32) {
        let h = self.hash(self.node(i).member.as_slice());
        if let Ok(e) = self.index.find_entry(h, |&j| j == i) {
            e.remove();
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.node(a).prio >= self.node(b).prio {
            let r = self.node(a).right;
            let m = self.merge(r, b);
            self.node_mut(a).right = m;
            self.fix(a);
            a
        } else {
            let l = self.node(b).left;
            let m = self.merge(a, l);
            self.node_mut(b).left = m;
            self.fix(b);
            b
        }
    }

    /// Splits `t` into (nodes for which `goes_left` holds, the rest); `goes_left` must hold on
    /// a prefix of the order.
    fn split_by(&mut self, t: u32, goes_left: &dyn Fn(&Node) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if goes_left(self.node(t)) {
            let (l, r) = self.split_by(self.node(t).right, goes_left);
            self.node_mut(t).right = l;
            self.fix(t);
            (t, r)
        } else {
            let (l, r) = self.split_by(self.node(t).left, goes_left);
            self.node_mut(t).left = r;
            self.fix(t);
            (l, t)
        }
    }

    /// Splits `t` into (its first `k` nodes, the rest).
    fn split_at(&mut self, t: u32, k: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let ls = self.sz(self.node(t).left);
        if k <= ls {
            let (l, r) = self.split_at(self.node(t).left, k);
            self.node_mut(t).left = r;
            self.fix(t);
            (l, t)
        } else {
            let (l, r) = self.split_at(self.node(t).right, k - ls - 1);
            self.node_mut(t).right = l;
            self.fix(t);
            (t, r)
        }
    }

    /// Links the detached node `i` into the subtree `t`; returns the new subtree root.
    fn link(&mut self, t: u32, i: u32) -> u32 {
        if t == NIL {
            return i;
        }
        if self.node(i).prio > self.node(t).prio {
            let (s, m) = (self.node(i).score, self.node(i).member.clone());
            let (l, r) = self.split_by(t, &|n: &Node| {
                cmp_key(n.score, &n.member, s, &m) == Ordering::Less
            });
            let n = self.node_mut(i);
            n.left = l;
            n.right = r;
            self.fix(i);
            return i;
        }
        if self.before(i, t) {
            let c = self.link(self.node(t).left, i);
            self.node_mut(t).left = c;
        } else {
            let c = self.link(self.node(t).right, i);
            self.node_mut(t).right = c;
        }
        self.node_mut(t).size += 1;
        t
    }

    /// True if node `i` sorts before node `t`.
    fn before(&self, i: u32, t: u32) -> bool {
        let (ni, nt) = (self.node(i), self.node(t));
        cmp_key(ni.score, &ni.member, nt.score, &nt.member) == Ordering::Less
    }

    /// Unlinks node `i` (present) from the subtree `t`; returns the new subtree root.
    fn unlink(&mut self, t: u32, i: u32) -> u32 {
        if t == i {
            let n = self.node(i);
            return self.merge(n.left, n.right);
        }
        if self.before(i, t) {
            let c = self.unlink(self.node(t).left, i);
            self.node_mut(t).left = c;
        } else {
            let c = self.unlink(self.node(t).right, i);
            self.node_mut(t).right = c;
        }
        self.node_mut(t).size -= 1;
        t
    }

    fn insert(&mut self, member: SmallBytes, score: f64) {
        let i = self.alloc(member, score);
        self.root = self.link(self.root, i);
        self.index_insert(i);
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        let Some(i) = self.find(m) else { return false };
        self.root = self.unlink(self.root, i);
        self.index_remove(i);
        self.release(i);
        self.maybe_compact();
        true
    }

    fn set_score(&mut self, m: &[u8], score: f64) {
        let i = self.find(m).expect("present");
        self.root = self.unlink(self.root, i);
        let n = self.node_mut(i);
        n.score = score;
        n.left = NIL;
        n.right = NIL;
        n.size = 1;
        self.root = self.link(self.root, i);
    }

    /// Ascending rank of node `i`, by descent from the root.
    fn rank_of(&self, i: u32) -> usize {
        let (s, m) = (self.node(i).score, self.node(i).member.as_slice());
        let (mut t, mut rank) = (self.root, 0usize);
        while t != NIL {
            let n = self.node(t);
            match cmp_key(s, m, n.score, &n.member) {
                Ordering::Less => t = n.left,
                Ordering::Greater => {
                    rank += self.sz(n.left) as usize + 1;
                    t = n.right;
                }
                Ordering::Equal => return rank + self.sz(n.left) as usize,
            }
        }
        unreachable!("rank of a node not in the tree")
    }

    /// How many entries, from the lowest, satisfy `pred` (true on a prefix of the order).
    fn partition(&self, pred: impl Fn(&[u8], f64) -> bool) -> usize {
        let (mut t, mut count) = (self.root, 0usize);
        while t != NIL {
            let n = self.node(t);
            if pred(&n.member, n.score) {
                count += self.sz(n.left) as usize + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// Removes `count` entries from ascending rank `start` in O(log n + count).
    fn remove_range(&mut self, start: usize, count: usize) {
        let (l, r) = self.split_at(self.root, start as u32);
        let (mid, r2) = self.split_at(r, count as u32);
        self.root = self.merge(l, r2);
        let mut stack = vec![mid];
        while let Some(t) = stack.pop() {
            if t == NIL {
                continue;
            }
            stack.push(self.node(t).left);
            stack.push(self.node(t).right);
            self.index_remove(t);
            self.release(t);
        }
        self.maybe_compact();
    }

    /// Builds the tree from entries in order (empty tree only): nodes in order, then the
    /// treap shape from their priorities in one pass (a Cartesian-tree build).
    fn build(&mut self, items: impl Iterator<Item = (SmallBytes, f64)>) {
        debug_assert!(self.root == NIL && self.slots == 0);
        for (m, s) in items {
            self.alloc(m, s);
        }
        let mut stack: Vec<u32> = Vec::new();
        for i in 0..self.slots {
            let mut last = NIL;
            while let Some(&top) = stack.last() {
                if self.node(top).prio >= self.node(i).prio {
                    break;
                }
                last = stack.pop().expect("top");
            }
            self.node_mut(i).left = last;
            if let Some(&top) = stack.last() {
                self.node_mut(top).right = i;
            }
            stack.push(i);
        }
        self.root = stack.first().copied().unwrap_or(NIL);
        self.fix_sizes();
        self.index.reserve(self.slots as usize, |_| 0);
        for i in 0..self.slots {
            self.index_insert(i);
        }
    }

    /// Recomputes every subtree size, children before parents (iterative post-order).
    fn fix_sizes(&mut self) {
        let mut stack = vec![(self.root, false)];
        while let Some((t, done)) = stack.pop() {
            if t == NIL {
                continue;
            }
            if done {
                self.fix(t);
            } else {
                stack.push((t, true));
                stack.push((self.node(t).left, false));
                stack.push((self.node(t).right, false));
            }
        }
    }

    /// After mass deletion, renumbers the live nodes densely (most slots free) and shrinks
    /// the index, as Redis shrinks a dict that fell under 10% use.
    fn maybe_compact(&mut self) {
        let len = self.len();
        if self.slots as usize > 2 * CHUNK && len * 4 < self.slots as usize {
            let mut order = Vec::with_capacity(len);
            let mut it = TreeIter::new(self, 0, false);
            while let Some(i) = it.next_node() {
                order.push(i);
            }
            // Members move to the new slots (no copies of long ones).
            let items: Vec<(SmallBytes, f64)> = order
                .into_iter()
                .map(|i| {
                    let n = self.node_mut(i);
                    (
                        std::mem::replace(&mut n.member, SmallBytes::new(&[])),
                        n.score,
                    )
                })
                .collect();
            let generation = self.generation.wrapping_add(1);
            *self = Indexed {
                hasher: self.hasher.clone(),
                rng: self.rng,
                generation,
                ..Indexed::new()
            };
            self.build(items.into_iter());
        } else if self.index.capacity() > 8 * len.max(16) {
            let (chunks, hasher) = (&self.chunks, &self.hasher);
            self.index.shrink_to(len, |&j| {
                hasher.hash_one(node_in(chunks, j).member.as_slice())
            });
        }
    }

    fn scan<'a>(&'a self, cursor: u64, count: usize, out: &mut Vec<(&'a [u8], f64)>) -> u64 {
        let tag = u64::from(self.generation & 0x7fff_ffff);
        let mut slot = if cursor >> 32 == tag {
            (cursor & 0xffff_ffff) as u32
        } else {
            0
        };
        let mut budget = count.saturating_mul(10).max(1);
        let start_len = out.len();
        while slot < self.slots && budget > 0 && out.len() - start_len < count {
            let n = self.node(slot);
            if n.size != 0 {
                out.push((n.member.as_slice(), n.score));
            }
            slot += 1;
            budget -= 1;
        }
        if slot >= self.slots {
            0
        } else {
            tag << 32 | u64::from(slot)
        }
    }
}

/// In-order walk from a rank, with an explicit stack: O(log n) to start, O(1) amortized per
/// step.
pub struct TreeIter<'a> {
    t: &'a Indexed,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> TreeIter<'a> {
    fn new(t: &'a Indexed, rank: usize, rev: bool) -> TreeIter<'a> {
        let mut stack = Vec::new();
        let (mut x, mut r) = (t.root, rank as u32);
        while x != NIL {
            let n = t.node(x);
            let ls = t.sz(n.left);
            if r < ls {
                if !rev {
                    stack.push(x);
                }
                x = n.left;
            } else if r == ls {
                stack.push(x);
                break;
            } else {
                if rev {
                    stack.push(x);
                }
                r -= ls + 1;
                x = n.right;
            }
        }
        TreeIter { t, stack, rev }
    }

    fn next_node(&mut self) -> Option<u32> {
        let x = self.stack.pop()?;
        let n = self.t.node(x);
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = self.t.node(c);
            c = if self.rev { cn.right } else { cn.left };
        }
        Some(x)
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let x = self.next_node()?;
        let n = self.t.node(x);
        Some((n.member.as_slice(), n.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;

    const SMALL: Limits = Limits {
        entries: 128,
        value: 64,
    };

    /// A model: the ordered set of (score bits in an order-preserving form, member).
    fn model_vec(m: &BTreeSet<(i64, Vec<u8>)>) -> Vec<(Vec<u8>, f64)> {
        m.iter().map(|(s, k)| (k.clone(), *s as f64)).collect()
    }

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn sizes_stay_small() {
        // Value::ZSet boxes a ZSet: 16 bytes; a skiplist node is one 48-byte slot.
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
        assert_eq!(std::mem::size_of::<Node>(), 48);
    }

    #[test]
    fn compact_scores_round_trip() {
        let mut z = ZSet::new_compact();
        let scores = [
            0.0,
            -1e-320,
            1.0,
            -1.0,
            0.5,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            4503599627370496.0,
            9007199254740993.0,
            -123456789.0,
        ];
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(
                z.add(format!("m{i}").as_bytes(), *s, AddFlags::default(), SMALL),
                AddResult::Added(*s)
            );
        }
        for (i, s) in scores.iter().enumerate() {
            let got = z.score(format!("m{i}").as_bytes()).unwrap();
            assert_eq!(got.to_bits(), s.to_bits(), "{s}");
        }
        let c = contents(&z);
        assert!(c
            .windows(2)
            .all(|w| cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less));
    }

    #[test]
    fn converts_at_thresholds() {
        let lim = Limits {
            entries: 3,
            value: 5,
        };
        let mut z = ZSet::for_first_member(lim, 1);
        for m in ["a", "b", "c"] {
            z.add(m.as_bytes(), 1.0, AddFlags::default(), lim);
        }
        assert_eq!(z.encoding(), "listpack");
        z.add(b"d", 1.0, AddFlags::default(), lim);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSet::for_first_member(lim, 1);
        z.add(b"abcdef", 1.0, AddFlags::default(), lim);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSet::for_first_member(lim, 6).encoding(), "skiplist");
        assert_eq!(
            ZSet::for_first_member(
                Limits {
                    entries: 0,
                    value: 64
                },
                1
            )
            .encoding(),
            "skiplist"
        );
    }

    #[test]
    fn add_flags_follow_redis() {
        let mut z = ZSet::new_compact();
        let f = |nx, xx, gt, lt, incr| AddFlags {
            nx,
            xx,
            gt,
            lt,
            incr,
        };
        assert_eq!(
            z.add(b"a", 1.0, f(false, true, false, false, false), SMALL),
            AddResult::Skipped
        );
        assert_eq!(
            z.add(b"a", 1.0, f(true, false, false, false, false), SMALL),
            AddResult::Added(1.0)
        );
        assert_eq!(
            z.add(b"a", 5.0, f(true, false, false, false, false), SMALL),
            AddResult::Skipped
        );
        assert_eq!(
            z.add(b"a", 0.0, f(false, false, true, false, false), SMALL),
            AddResult::Skipped
        );
        assert_eq!(
            z.add(b"a", 2.0, f(false, false, true, false, false), SMALL),
            AddResult::Updated(2.0)
        );
        assert_eq!(
            z.add(b"a", 2.0, f(false, false, false, false, false), SMALL),
            AddResult::Unchanged(2.0)
        );
        assert_eq!(
            z.add(b"a", 3.0, f(false, false, false, false, true), SMALL),
            AddResult::Updated(5.0)
        );
        z.add(b"a", f64::INFINITY, AddFlags::default(), SMALL);
        assert_eq!(
            z.add(
                b"a",
                f64::NEG_INFINITY,
                f(false, false, false, false, true),
                SMALL
            ),
            AddResult::Nan
        );
        assert_eq!(
            z.add(b"b", f64::NAN, AddFlags::default(), SMALL),
            AddResult::Nan
        );
    }

    /// Random operations on both encodings against a BTreeSet model.
    #[test]
    fn matches_a_model() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for limits in [
            SMALL,
            Limits {
                entries: 0,
                value: 0,
            },
        ] {
            let mut z = ZSet::for_first_member(limits, 1);
            let mut model: BTreeSet<(i64, Vec<u8>)> = BTreeSet::new();
            for step in 0..20000 {
                let m = format!("m{}", rng.gen_range(0..600)).into_bytes();
                let s = rng.gen_range(-50..50) as i64;
                match rng.gen_range(0..10) {
                    0..=5 => {
                        let old = model.iter().find(|(_, k)| *k == m).cloned();
                        if let Some(o) = old {
                            model.remove(&o);
                        }
                        model.insert((s, m.clone()));
                        z.add(&m, s as f64, AddFlags::default(), limits);
                    }
                    6 | 7 => {
                        let old = model.iter().find(|(_, k)| *k == m).cloned();
                        assert_eq!(z.remove(&m), old.is_some());
                        if let Some(o) = old {
                            model.remove(&o);
                        }
                    }
                    8 => {
                        let n = model.len();
                        if n > 0 {
                            let a = rng.gen_range(0..n);
                            let b = (a + rng.gen_range(0..5)).min(n - 1);
                            let v: Vec<_> = model.iter().cloned().collect();
                            for e in &v[a..=b] {
                                model.remove(e);
                            }
                            assert_eq!(z.remove_range(a, b), b - a + 1);
                        }
                    }
                    _ => {
                        let v = model_vec(&model);
                        if let Some(i) = v.iter().position(|(k, _)| *k == m) {
                            assert_eq!(z.rank(&m), Some(i));
                            let r = rng.gen_range(0..v.len());
                            let back: Vec<_> =
                                z.iter_from(r, true).map(|(m, s)| (m.to_vec(), s)).collect();
                            let want: Vec<_> = v[..=r].iter().rev().cloned().collect();
                            assert_eq!(back, want);
                        } else {
                            assert_eq!(z.rank(&m), None);
                        }
                    }
                }
                assert_eq!(z.len(), model.len(), "step {step}");
                if step % 500 == 0 {
                    assert_eq!(contents(&z), model_vec(&model));
                }
            }
            assert_eq!(contents(&z), model_vec(&model));
        }
    }

    #[test]
    fn long_members_survive_compaction() {
        let long = |i: usize| format!("{i:040}").into_bytes();
        let mut z = ZSet::new_indexed();
        for i in 0..6000 {
            z.add(&long(i), (i % 7) as f64, AddFlags::default(), SMALL);
        }
        for i in (0..6000).filter(|i| i % 10 != 0) {
            assert!(z.remove(&long(i)));
        }
        let Repr::Indexed(t) = &z.repr else {
            panic!("indexed")
        };
        assert!(
            t.slots < 1500,
            "compacted once under a quarter live: {}",
            t.slots
        );
        assert_eq!(t.member_heap, 600 * 40);
        for i in (0..6000).step_by(10) {
            assert_eq!(z.score(&long(i)), Some((i % 7) as f64));
        }
        let c = contents(&z);
        assert!(c
            .windows(2)
            .all(|w| cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less));
    }

    #[test]
    fn bounds_and_scan_on_a_big_tree() {
        let items: Vec<(Vec<u8>, f64)> = (0..5000)
            .map(|i| (format!("k{i:05}").into_bytes(), (i / 10) as f64))
            .collect();
        let mut z = ZSet::from_sorted(items.clone(), SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.first_where(|_, s| s >= 10.0), Some(100));
        assert_eq!(z.last_where(|_, s| s < 10.0), Some(99));
        assert_eq!(z.first_where(|_, s| s > 1e9), None);
        assert_eq!(z.get(4321).unwrap().0, b"k04321");
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, 7, &mut seen);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 5000);
        // Mass deletion compacts the slots; an old cursor restarts rather than skipping.
        let mut out = Vec::new();
        let c = z.scan(0, 100, &mut out);
        assert_ne!(c, 0);
        assert_eq!(z.remove_range(0, 4899), 4900);
        assert_eq!(z.len(), 100);
        let mut out = Vec::new();
        let mut c = z.scan(c, 1000, &mut out);
        while c != 0 {
            c = z.scan(c, 1000, &mut out);
        }
        let out: Vec<(Vec<u8>, f64)> = out.into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let mut got = out.clone();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        got.dedup();
        assert_eq!(got, items[4900..].to_vec());
        assert_eq!(z.pop(End::Max).unwrap().0, b"k04999");
        assert_eq!(z.pop(End::Min).unwrap().0, b"k04900");
    }
}
