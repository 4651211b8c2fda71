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

mod compact;
mod indexed;
#[cfg(test)]
mod tests;

use compact::*;
use indexed::*;

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
