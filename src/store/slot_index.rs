//! A database's per-slot index: for each of the 16384 hash slots, the table of its keys' slab
//! positions and its count of keys with a TTL.
//!
//! Two levels, allocated on demand: 256 chunks of 64 slots each. A flat array of 16384 table
//! headers would cost half a megabyte at a database's first write (a one-key database would
//! show 0.5 MB of used_memory, and Redis's lazyfree test compares used_memory with twice the
//! startup figure). A chunk is 2.3 KB; a standalone workload's keys spread over every chunk
//! soon, and then the cost is the flat array's plus 2 KB of chunk pointers. The extra pointer
//! load on lookups hits the 2 KB top level, which stays in L1.
use super::slot_table::SlotTable;
use crate::slot::SLOTS;

const CHUNK: usize = 64;
const CHUNKS: usize = SLOTS / CHUNK;

struct Chunk {
    tables: [SlotTable; CHUNK],
    volatile: [u32; CHUNK],
    /// Slots of this chunk with a non-empty table or a TTL count: the chunk is freed at 0.
    used: u32,
}

#[derive(Default)]
pub struct SlotIndex {
    /// Empty until the first insert; then CHUNKS entries.
    chunks: Vec<Option<Box<Chunk>>>,
}

impl SlotIndex {
    #[inline]
    fn chunk(&self, slot: usize) -> Option<&Chunk> {
        self.chunks.get(slot / CHUNK)?.as_deref()
    }

    #[inline]
    fn chunk_mut(&mut self, slot: usize) -> Option<&mut Chunk> {
        self.chunks.get_mut(slot / CHUNK)?.as_deref_mut()
    }

    /// The table of `slot`, if its chunk exists.
    #[inline]
    pub fn table(&self, slot: usize) -> Option<&SlotTable> {
        self.chunk(slot).map(|c| &c.tables[slot % CHUNK])
    }

    /// Runs `f` on the table of `slot`, creating its chunk first, then keeps the chunk's
    /// occupancy right.
    pub fn with_table<R>(&mut self, slot: usize, f: impl FnOnce(&mut SlotTable) -> R) -> R {
        if self.chunks.is_empty() {
            self.chunks = (0..CHUNKS).map(|_| None).collect();
        }
        let c = self.chunks[slot / CHUNK].get_or_insert_with(Box::default);
        let was = c.in_use(slot % CHUNK);
        let r = f(&mut c.tables[slot % CHUNK]);
        self.settle(slot, was);
        r
    }

    /// Runs `f` on the table of `slot` if its chunk exists (removals).
    pub fn with_existing<R>(
        &mut self,
        slot: usize,
        f: impl FnOnce(&mut SlotTable) -> Option<R>,
    ) -> Option<R> {
        let c = self.chunk_mut(slot)?;
        let was = c.in_use(slot % CHUNK);
        let r = f(&mut c.tables[slot % CHUNK]);
        if c.tables[slot % CHUNK].is_empty() {
            // Give an emptied slot's index back (a slot moved away, or evicted empty).
            c.tables[slot % CHUNK] = SlotTable::default();
        }
        self.settle(slot, was);
        r
    }

    pub fn volatile(&self, slot: usize) -> u32 {
        self.chunk(slot).map_or(0, |c| c.volatile[slot % CHUNK])
    }

    /// Adds `delta` to the TTL count of `slot` (whose chunk exists: the key is indexed).
    pub fn add_volatile(&mut self, slot: usize, delta: i32) {
        if let Some(c) = self.chunk_mut(slot) {
            let was = c.in_use(slot % CHUNK);
            let v = &mut c.volatile[slot % CHUNK];
            *v = v.wrapping_add_signed(delta);
            self.settle(slot, was);
        }
    }

    /// Updates the chunk's count of used slots after a change to `slot`; frees an unused chunk.
    fn settle(&mut self, slot: usize, was: bool) {
        let Some(entry) = self.chunks.get_mut(slot / CHUNK) else {
            return;
        };
        let Some(c) = entry.as_deref_mut() else {
            return;
        };
        let now = c.in_use(slot % CHUNK);
        match (was, now) {
            (false, true) => c.used += 1,
            (true, false) => c.used -= 1,
            _ => {}
        }
        if c.used == 0 {
            *entry = None;
        }
    }

    /// Every slot's table in slot order (absent chunks skipped).
    pub fn tables(&self) -> impl Iterator<Item = &SlotTable> {
        self.chunks.iter().flatten().flat_map(|c| c.tables.iter())
    }

    /// Bytes of the index itself (chunk pointers and chunks).
    pub fn overhead(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Option<Box<Chunk>>>()
            + self.chunks.iter().flatten().count() * std::mem::size_of::<Chunk>()
    }
}

impl Default for Chunk {
    fn default() -> Chunk {
        Chunk {
            tables: std::array::from_fn(|_| SlotTable::default()),
            volatile: [0; CHUNK],
            used: 0,
        }
    }
}

impl Chunk {
    fn in_use(&self, i: usize) -> bool {
        !self.tables[i].is_empty() || self.volatile[i] != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_and_go_with_their_slots() {
        let mut ix = SlotIndex::default();
        assert!(ix.table(5).is_none());
        assert_eq!(ix.overhead(), 0);
        ix.with_table(5, |t| t.insert(1, 7, |_| 1));
        ix.add_volatile(5, 1);
        assert_eq!(ix.table(5).map(|t| t.len()), Some(1));
        assert_eq!(ix.volatile(5), 1);
        let one_chunk = ix.overhead();
        assert!(one_chunk > 0 && one_chunk < 16 * 1024, "{one_chunk}");
        ix.with_table(SLOTS - 1, |t| t.insert(2, 8, |_| 2));
        assert!(ix.overhead() > one_chunk);
        assert_eq!(ix.tables().map(|t| t.len()).sum::<usize>(), 2);
        // The TTL count keeps slot 5's chunk alive after its key leaves the table.
        assert_eq!(ix.with_existing(5, |t| t.remove(1, |i| i == 7)), Some(7));
        assert!(ix.table(5).is_some());
        ix.add_volatile(5, -1);
        assert!(ix.table(5).is_none());
        assert_eq!(
            ix.with_existing(SLOTS - 1, |t| t.remove(2, |i| i == 8)),
            Some(8)
        );
        assert_eq!(ix.tables().count(), 0);
    }
}
