//! The set value type, in Redis 7.0's two encodings (7.0 has no listpack sets):
//! - `IntSet` ("intset"): a sorted array of integers in one exact-size block, 2, 4 or 8 bytes
//!   each (the width grows when a wider value arrives and never shrinks, as Redis's intset),
//!   used while every member is a canonical decimal integer and there are at most
//!   `set-max-intset-entries` members. Its header is 1 byte (Redis's: 8).
//! - `Dict` ("hashtable", see `dict.rs`) otherwise. The conversion is one-way.
//!
//! Knows nothing of RESP or of the config: callers pass the intset limit.
use super::dict::{Dict, Elem};
use crate::util::num::parse_i64;
use rand::Rng;

/// Redis caps set-max-intset-entries at 1G entries (intset internals).
const INTSET_HARD_MAX: usize = 1 << 30;

/// `[width][member * width little-endian bytes]`, sorted ascending; empty when no members.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntSet {
    buf: Box<[u8]>,
}

fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    fn width(&self) -> usize {
        self.buf.first().map_or(2, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            (self.buf.len() - 1) / self.width()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let at = 1 + i * w;
        let mut le = [0u8; 8];
        le[..w].copy_from_slice(&self.buf[at..at + w]);
        let shift = 64 - 8 * w as u32;
        (i64::from_le_bytes(le) << shift) >> shift
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width() {
            // Wider than every member: below them all or above them all.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Rebuilds the block at `width` with `v` inserted at `at` (or removed from `at` when
    /// `v` is None).
    fn rebuild(&mut self, width: usize, at: usize, v: Option<i64>) {
        let n = self.len();
        let new_len = if v.is_some() { n + 1 } else { n - 1 };
        if width == self.width() && n > 0 && new_len > 0 {
            // Same width: one exact-size copy with the member spliced in or out (memcpy).
            let cut = 1 + at * width;
            let mut out = Vec::with_capacity(1 + new_len * width);
            out.extend_from_slice(&self.buf[..cut]);
            match v {
                Some(x) => {
                    out.extend_from_slice(&x.to_le_bytes()[..width]);
                    out.extend_from_slice(&self.buf[cut..]);
                }
                None => out.extend_from_slice(&self.buf[cut + width..]),
            }
            self.buf = out.into_boxed_slice();
            return;
        }
        let mut out = Vec::with_capacity(1 + new_len * width);
        out.push(width as u8);
        let mut push = |x: i64| out.extend_from_slice(&x.to_le_bytes()[..width]);
        for i in 0..n {
            if i == at {
                match v {
                    Some(x) => push(x),
                    None => continue,
                }
            }
            push(self.get(i));
        }
        if let (Some(x), true) = (v, at == n) {
            push(x);
        }
        self.buf = if new_len == 0 {
            Box::default()
        } else {
            out.into_boxed_slice()
        };
    }

    pub fn insert(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(_) => false,
            Err(at) => {
                self.rebuild(self.width().max(width_for(v)), at, Some(v));
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(at) => {
                self.rebuild(self.width(), at, None);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Set {
    Ints(IntSet),
    Dict(Box<Dict>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

impl Set {
    /// An empty set that can hold `first` (Redis's `setTypeCreate`): an intset when it is an
    /// integer, else a hashtable.
    pub fn for_member(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::default()
        } else {
            Set::Dict(Box::default())
        }
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Dict(_) => "hashtable",
        }
    }

    /// Heap bytes owned (MEMORY USAGE, lazy-free decisions).
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(s) => s.buf.len(),
            Set::Dict(d) => std::mem::size_of::<Dict>() + d.heap_size(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Dict(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn convert(&mut self) {
        if let Set::Ints(s) = self {
            let mut d = Dict::with_capacity(s.len());
            for v in s.iter() {
                d.insert(crate::util::num::IntStr::new(v).as_bytes(), b"");
            }
            *self = Set::Dict(Box::new(d));
        }
    }

    /// Adds `m` (Redis's `setTypeAdd`), converting to a hashtable for a non-integer member or
    /// past `max_intset` members. True if it was not a member.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            Set::Ints(s) => match parse_i64(m) {
                Some(v) => {
                    let added = s.insert(v);
                    if added && s.len() > max_intset.min(INTSET_HARD_MAX) {
                        self.convert();
                    }
                    added
                }
                None => {
                    self.convert();
                    self.add(m, max_intset)
                }
            },
            Set::Dict(d) => d.insert(m, b""),
        }
    }

    /// Adds an element from another set.
    pub fn add_elem(&mut self, e: Elem, max_intset: usize) -> bool {
        match (e, &mut *self) {
            (Elem::Int(v), Set::Ints(s)) => {
                let added = s.insert(v);
                if added && s.len() > max_intset.min(INTSET_HARD_MAX) {
                    self.convert();
                }
                added
            }
            _ => self.add(&e.bytes(), max_intset),
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            Set::Dict(d) => d.remove(m),
        }
    }

    pub fn remove_elem(&mut self, e: Elem) -> bool {
        match (e, &mut *self) {
            (Elem::Int(v), Set::Ints(s)) => s.remove(v),
            _ => self.remove(&e.bytes()),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => parse_i64(m).is_some_and(|v| s.contains(v)),
            Set::Dict(d) => d.contains(m),
        }
    }

    pub fn contains_elem(&self, e: Elem) -> bool {
        match (e, self) {
            (Elem::Int(v), Set::Ints(s)) => s.contains(v),
            _ => self.contains(&e.bytes()),
        }
    }

    /// Members: ascending for an intset, table order for a hashtable.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Elem<'_>> + '_> {
        match self {
            Set::Ints(s) => Box::new(s.iter().map(Elem::Int)),
            Set::Dict(d) => Box::new(d.iter().map(|(k, _)| Elem::Str(k))),
        }
    }

    /// A uniformly random member. The set must not be empty.
    pub fn random<R: Rng>(&self, rng: &mut R) -> Elem<'_> {
        match self {
            Set::Ints(s) => Elem::Int(s.get(rng.gen_range(0..s.len()))),
            Set::Dict(d) => Elem::Str(d.random(rng).0),
        }
    }

    /// One SSCAN step from `cursor`: an intset is returned whole with cursor 0; a hashtable
    /// visits buckets (see `Dict::scan`) while `more()` allows.
    pub fn scan(
        &self,
        cursor: u64,
        mut more: impl FnMut() -> bool,
        mut f: impl FnMut(Elem),
    ) -> u64 {
        match self {
            Set::Ints(s) => {
                s.iter().for_each(|v| f(Elem::Int(v)));
                0
            }
            Set::Dict(d) => {
                let mut cursor = cursor;
                loop {
                    cursor = d.scan(cursor, |k, _| f(Elem::Str(k)));
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

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn intset_sorted_and_widens() {
        let mut s = IntSet::default();
        for v in [5, -3, 100, 5, 0] {
            s.insert(v);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 0, 5, 100]);
        assert_eq!(s.width(), 2);
        s.insert(70000);
        assert_eq!(s.width(), 4);
        s.insert(i64::MIN);
        s.insert(i64::MAX);
        assert_eq!(s.width(), 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 0, 5, 100, 70000, i64::MAX]
        );
        assert!(s.contains(70000) && !s.contains(70001) && !s.contains(1 << 40));
        assert!(s.remove(i64::MIN) && !s.remove(i64::MIN));
        assert_eq!(s.len(), 6);
        assert_eq!(s.buf.len(), 1 + 6 * 8);
        for v in [-3, 0, 5, 100, 70000, i64::MAX] {
            assert!(s.remove(v));
        }
        assert_eq!(s.len(), 0);
        let narrow = IntSet::default();
        assert!(!narrow.contains(1 << 20) && !narrow.contains(-(1 << 40)));
    }

    #[test]
    fn random_operations_match_a_model() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(42);
        for max in [0, 4, 64, 512] {
            let mut s = Set::default();
            let mut model = std::collections::HashSet::new();
            for _ in 0..5000 {
                let m = match rng.gen_range(0..10) {
                    0 => format!("s{}", rng.gen_range(0..50)),
                    1 => rng.gen::<i64>().to_string(),
                    _ => rng.gen_range(-300..300).to_string(),
                };
                if rng.gen_bool(0.6) {
                    assert_eq!(s.add(m.as_bytes(), max), model.insert(m.clone()), "add {m}");
                } else {
                    assert_eq!(s.remove(m.as_bytes()), model.remove(&m), "remove {m}");
                }
                assert_eq!(s.len(), model.len());
            }
            let got: std::collections::HashSet<String> = s
                .iter()
                .map(|e| String::from_utf8(e.to_vec()).unwrap())
                .collect();
            assert_eq!(got, model);
            for m in &model {
                assert!(s.contains(m.as_bytes()));
            }
        }
    }

    #[test]
    fn set_encodings_follow_redis() {
        let mut s = Set::for_member(b"1");
        assert_eq!(s.encoding(), "intset");
        for m in ["3", "1", "2"] {
            s.add(m.as_bytes(), 3);
        }
        assert_eq!(
            members(&s),
            vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
        assert!(s.contains(b"2") && !s.contains(b"02") && !s.contains(b"x"));
        s.add(b"4", 3);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"4") && s.contains(b"1"));
        let mut t = Set::for_member(b"a");
        assert_eq!(t.encoding(), "hashtable");
        t.add(b"1", 512);
        assert_eq!(t.encoding(), "hashtable");
        let mut u = Set::for_member(b"1");
        u.add(b"1", 512);
        u.add(b"x", 512);
        assert_eq!(u.encoding(), "hashtable");
        assert_eq!(u.len(), 2);
        assert!(u.remove(b"1") && u.remove(b"x") && u.is_empty());
    }
}
