//! `Slab`: the entries of one database, stored densely in fixed-size chunks and addressed by a
//! `u32` index. The per-slot hash tables hold only these 4-byte indices, so a key costs its
//! 64-byte entry plus ~5-9 bytes of index (measured: an inline `HashTable<Entry>` costs
//! 74-130 bytes per key depending on load, more than Redis's ~96). Chunks have a fixed size,
//! so growth never copies or doubles; freed places are reused first.
use super::value::Entry;

const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

#[derive(Default)]
pub struct Slab {
    chunks: Vec<Vec<Option<Entry>>>,
    free: Vec<u32>,
    len: usize,
}

impl Slab {
    pub fn insert(&mut self, e: Entry) -> u32 {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)] = Some(e);
            return i;
        }
        let last_full = self.chunks.last().map_or(true, |c| c.len() == CHUNK);
        if last_full {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let n = self.chunks.len() - 1;
        let c = &mut self.chunks[n];
        c.push(Some(e));
        ((n << CHUNK_BITS) + c.len() - 1) as u32
    }

    #[inline]
    pub fn get(&self, i: u32) -> &Entry {
        self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
            .as_ref()
            .expect("live slab index")
    }

    #[inline]
    pub fn get_mut(&mut self, i: u32) -> &mut Entry {
        self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
            .as_mut()
            .expect("live slab index")
    }

    /// Hints the CPU to load the entry at `i` (a bulk walk issues these ahead of reading, so
    /// the cache misses of scattered entries overlap instead of queueing).
    #[inline]
    pub fn prefetch(&self, i: u32) {
        let Some(c) = self.chunks.get((i >> CHUNK_BITS) as usize) else {
            return;
        };
        let p = c.as_ptr().wrapping_add(i as usize & (CHUNK - 1));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }

    /// The entry at `i` if that place is occupied (random sampling).
    pub fn try_get(&self, i: u32) -> Option<&Entry> {
        self.chunks
            .get((i >> CHUNK_BITS) as usize)?
            .get(i as usize & (CHUNK - 1))?
            .as_ref()
    }

    pub fn remove(&mut self, i: u32) -> Entry {
        let e = self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
            .take()
            .expect("live slab index");
        self.free.push(i);
        self.len -= 1;
        e
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Number of places (occupied or free): random indices are drawn below this.
    pub fn capacity(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |c| (self.chunks.len() - 1) * CHUNK + c.len())
    }

    /// Bytes held by free places, ready for new keys: not counted as used memory.
    pub fn free_bytes(&self) -> usize {
        let unused_tail = self.chunks.last().map_or(0, |c| CHUNK - c.len());
        (self.free.len() + unused_tail) * std::mem::size_of::<Option<Entry>>()
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::bytes::SmallBytes;
    use crate::store::value::Value;

    fn e(i: i64) -> Entry {
        Entry {
            key: SmallBytes::new(&i.to_le_bytes()),
            value: Value::Int(i),
            expire_at: 0,
            lru: 0,
        }
    }

    #[test]
    fn insert_remove_reuse() {
        assert_eq!(
            std::mem::size_of::<Option<Entry>>(),
            std::mem::size_of::<Entry>()
        );
        let mut s = Slab::default();
        let idx: Vec<u32> = (0..3000).map(|i| s.insert(e(i))).collect();
        assert_eq!(s.get(idx[2500]).value, Value::Int(2500));
        let removed = s.remove(idx[10]);
        assert_eq!(removed.value, Value::Int(10));
        assert!(s.try_get(idx[10]).is_none());
        assert_eq!(s.insert(e(99)), idx[10]);
        assert_eq!(s.capacity(), 3000);
    }
}
