//! `SlotTable`: one hash slot's key index, a hashbrown raw table of 4-byte slab positions.
//!
//! A wrapper rather than hashbrown's safe `HashTable` for one reason: `prefetch_probe` needs the
//! table's control bytes and buckets by address (the raw table's `data_end` and `buckets`),
//! so that a pipeline's lookups can load them ahead of time (Db::prefetch). The unsafe code
//! is confined here: iteration borrows the table, and the prefetch only computes addresses.
use hashbrown_raw::raw::RawTable;

pub struct SlotTable(RawTable<u32>);

impl Default for SlotTable {
    fn default() -> Self {
        SlotTable(RawTable::new())
    }
}

impl SlotTable {
    #[inline]
    pub fn get(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        self.0.get(hash, |&i| eq(i)).copied()
    }

    /// Calls `f` with every stored position whose hash tag matches `hash` (the candidates a
    /// lookup would compare), without comparing anything.
    #[inline]
    pub fn candidates(&self, hash: u64, mut f: impl FnMut(u32)) {
        self.0.get(hash, |&i| {
            f(i);
            false
        });
    }

    pub fn remove(&mut self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        self.0.remove_entry(hash, |&i| eq(i))
    }

    pub fn insert(&mut self, hash: u64, i: u32, hasher: impl Fn(u32) -> u64) {
        self.0.insert(hash, i, |&j| hasher(j));
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        // SAFETY: the iterator borrows the table, so it cannot outlive it or see it change.
        unsafe { self.0.iter() }.map(|b| unsafe { *b.as_ref() })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Hints the CPU to load what a lookup of `hash` reads first: the control bytes at the
    /// probe's start and the buckets of that group (stored below the control bytes, last
    /// bucket first). Only addresses are computed; nothing is read.
    #[inline]
    pub fn prefetch_probe(&self, hash: u64) {
        let pos = hash as usize & (self.0.buckets() - 1);
        let end = self.0.data_end().as_ptr() as *const u32;
        prefetch((end as *const u8).wrapping_add(pos));
        prefetch(end.wrapping_sub(pos + 1) as *const u8);
        prefetch(end.wrapping_sub(pos + 16) as *const u8);
    }
}

/// A hint to load the cache line at `p`; never faults, whatever the address.
#[inline]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never dereferences.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_iter() {
        let hash = |i: u32| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut t = SlotTable::default();
        t.prefetch_probe(hash(1)); // an empty table: only a hint, must not fault
        for i in 0..1000 {
            t.insert(hash(i), i, hash);
        }
        assert_eq!(t.len(), 1000);
        for i in 0..1000 {
            t.prefetch_probe(hash(i));
            assert_eq!(t.get(hash(i), |j| j == i), Some(i));
            let mut seen = Vec::new();
            t.candidates(hash(i), |j| seen.push(j));
            assert!(seen.contains(&i));
        }
        assert_eq!(t.get(hash(5000), |j| j == 5000), None);
        assert_eq!(t.remove(hash(7), |j| j == 7), Some(7));
        assert_eq!(t.remove(hash(7), |j| j == 7), None);
        let mut all: Vec<u32> = t.iter().collect();
        all.sort();
        assert_eq!(all.len(), 999);
        assert!(!all.contains(&7));
        assert!(t.capacity() >= 999 && !t.is_empty());
    }
}
