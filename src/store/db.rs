//! One logical database: 16384 per-hash-slot tables, so a slot's keys can be counted in O(1)
//! and listed or deleted without scanning the keyspace (cluster mode and migration need it).
//! The tables are allocated on demand, 64 slots at a time (slot_index.rs). Entries live in a
//! `Slab`; the tables hold their 4-byte slab positions (see slab.rs for why).
//!
//! Every change of a key's expiry goes through here, keeping the `expires` counters exact.
use super::bytes::SmallBytes;
use super::slab::Slab;
use super::slot_index::SlotIndex;
use super::slot_table::{prefetch, SlotTable};
use super::value::{Entry, Value};
use crate::slot::{key_slot, SLOTS};
use ahash::RandomState;

pub enum Lookup<'a> {
    Found(&'a mut Entry),
    /// The key had expired and has just been removed.
    Expired(Entry),
    Missing,
}

/// What `Db::insert` should do with the TTL of a key it overwrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Drop any old TTL (plain SET).
    Clear,
    /// Keep the old TTL (SET KEEPTTL, SETRANGE, INCR ...).
    Keep,
    /// Expire at this unix-ms time.
    At(u64),
}

pub struct Db {
    /// Per-slot index: slab positions of the slot's keys, and per slot the number of keys
    /// with a TTL (active expiry skips slots with none).
    index: SlotIndex,
    slab: Slab,
    expires: usize,
    hasher: RandomState,
}

impl Db {
    pub fn new(hasher: RandomState) -> Db {
        Db {
            index: SlotIndex::default(),
            slab: Slab::default(),
            expires: 0,
            hasher,
        }
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    pub fn expires(&self) -> usize {
        self.expires
    }

    /// Slab position of `key`, if present.
    fn find(&self, key: &[u8]) -> Option<(usize, u32)> {
        let slot = key_slot(key) as usize;
        let slab = &self.slab;
        self.index
            .table(slot)?
            .get(self.hasher.hash_one(key), |i| {
                slab.get(i).key.as_slice() == key
            })
            .map(|i| (slot, i))
    }

    /// Warms the CPU cache for the lookups of `keys` that are about to run (the keys of a
    /// pipelined batch). With a dataset much larger than the cache a lookup is three to four
    /// dependent misses (the slot's table header, its control bytes and index, the entry):
    /// `perf annotate` put ~40% of a pipelined GET's CPU on those loads. Issued for a whole
    /// batch, in stages, the misses of different keys overlap instead of queueing: first
    /// every table header, then every probe (its entry prefetched on a hash match), so the
    /// commands themselves find their entries in cache.
    pub fn prefetch<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        const MAX: usize = 32;
        let mut at = [(None::<&SlotTable>, 0u64); MAX];
        let mut n = 0;
        for k in keys.take(MAX) {
            let t = self.index.table(key_slot(k) as usize);
            if let Some(t) = t {
                prefetch(t as *const SlotTable as *const u8);
            }
            at[n] = (t, self.hasher.hash_one(k));
            n += 1;
        }
        for &(t, hash) in &at[..n] {
            if let Some(t) = t {
                t.prefetch_probe(hash);
            }
        }
        for &(t, hash) in &at[..n] {
            if let Some(t) = t {
                t.candidates(hash, |i| self.slab.prefetch(i));
            }
        }
    }

    /// The entry for `key`, expired or not (callers apply lazy expiry).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.find(key).map(|(_, i)| self.slab.get(i))
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let (_, i) = self.find(key)?;
        Some(self.slab.get_mut(i))
    }

    /// Inserts or overwrites `key`. Returns the old value, if any.
    pub fn insert(&mut self, key: &[u8], value: Value, ttl: Ttl, lru: u32) -> Option<Value> {
        if let Some((slot, i)) = self.find(key) {
            let e = self.slab.get_mut(i);
            let old_exp = e.expire_at;
            let new_exp = match ttl {
                Ttl::Clear => 0,
                Ttl::Keep => old_exp,
                Ttl::At(t) => t,
            };
            e.expire_at = new_exp;
            e.lru = lru;
            let old = std::mem::replace(&mut e.value, value);
            self.account_expire(slot, old_exp, new_exp);
            return Some(old);
        }
        let slot = key_slot(key) as usize;
        let exp = match ttl {
            Ttl::At(t) => t,
            _ => 0,
        };
        let i = self.slab.insert(Entry {
            key: SmallBytes::new(key),
            value,
            expire_at: exp,
            lru,
        });
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index.with_table(slot, |t| {
            t.insert(hasher.hash_one(key), i, |j| {
                hasher.hash_one(slab.get(j).key.as_slice())
            })
        });
        self.account_expire(slot, 0, exp);
        None
    }

    /// Keeps the TTL counters right when a key's expiry goes from `old` to `new` (0 = none).
    fn account_expire(&mut self, slot: usize, old: u64, new: u64) {
        match (old != 0, new != 0) {
            (false, true) => {
                self.expires += 1;
                self.index.add_volatile(slot, 1);
            }
            (true, false) => {
                self.expires -= 1;
                self.index.add_volatile(slot, -1);
            }
            _ => {}
        }
    }

    /// Finds `key` with lazy expiry: an expired entry is removed and handed back.
    pub fn lookup_mut(&mut self, key: &[u8], now_ms: u64) -> Lookup<'_> {
        let Some((_, i)) = self.find(key) else {
            return Lookup::Missing;
        };
        if self.slab.get(i).is_expired(now_ms) {
            return Lookup::Expired(self.remove(key).expect("present"));
        }
        Lookup::Found(self.slab.get_mut(i))
    }

    /// Sets (`Some`) or clears (`None`) the TTL of an existing key. Returns false if absent.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let Some((slot, i)) = self.find(key) else {
            return false;
        };
        let e = self.slab.get_mut(i);
        let old = e.expire_at;
        e.expire_at = at.unwrap_or(0);
        let new = e.expire_at;
        self.account_expire(slot, old, new);
        true
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let slot = key_slot(key) as usize;
        let (slab, hash) = (&self.slab, self.hasher.hash_one(key));
        let i = self.index.with_existing(slot, |t| {
            t.remove(hash, |i| slab.get(i).key.as_slice() == key)
        })?;
        let e = self.slab.remove(i);
        self.account_expire(slot, e.expire_at, 0);
        Some(e)
    }

    /// Number of keys in `slot` (CLUSTER COUNTKEYSINSLOT), O(1).
    pub fn slot_len(&self, slot: usize) -> usize {
        self.index.table(slot).map_or(0, |t| t.len())
    }

    pub fn slot_volatile(&self, slot: usize) -> usize {
        self.index.volatile(slot) as usize
    }

    /// Iterates the entries of one slot.
    pub fn slot_entries(&self, slot: usize) -> impl Iterator<Item = &Entry> {
        self.index
            .table(slot)
            .into_iter()
            .flat_map(|t| t.iter())
            .map(|i| self.slab.get(i))
    }

    /// Iterates the entries of one slot after prefetching them all (snapshots and other bulk
    /// walks: the entries are scattered, so overlapping their cache misses is most of the cost).
    pub fn slot_entries_prefetched(&self, slot: usize) -> impl Iterator<Item = &Entry> {
        self.prefetch_slot(slot);
        self.slot_entries(slot)
    }

    /// Prefetches the entries of `slot` (see `slot_entries_prefetched`).
    pub fn prefetch_slot(&self, slot: usize) {
        if let Some(t) = self.index.table(slot) {
            t.iter().for_each(|i| self.slab.prefetch(i));
        }
    }

    /// Keys of `slot` up to `limit` (CLUSTER GETKEYSINSLOT, migration).
    pub fn slot_keys(&self, slot: usize, limit: usize) -> Vec<SmallBytes> {
        self.slot_entries(slot)
            .take(limit)
            .map(|e| e.key.clone())
            .collect()
    }

    /// All entries, slot by slot.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.index
            .tables()
            .flat_map(|t| t.iter())
            .map(|i| self.slab.get(i))
    }

    /// A random entry: uniform over keys, by probing random slab places (`r` supplies the
    /// randomness). With `volatile_only`, only keys with a TTL. None when there is none.
    pub fn random_entry(&self, start: usize, r: usize, volatile_only: bool) -> Option<&Entry> {
        if self.is_empty() || (volatile_only && self.expires == 0) {
            return None;
        }
        let cap = self.slab.capacity();
        let mut x = r as u64 | 1;
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if let Some(e) = self.slab.try_get((x % cap as u64) as u32) {
                if !volatile_only || e.expire_at != 0 {
                    return Some(e);
                }
            }
        }
        // Sparse (or few volatile keys): walk the slots from `start`.
        (0..SLOTS)
            .map(|k| (start + k) % SLOTS)
            .filter(|&s| {
                if volatile_only {
                    self.slot_volatile(s) > 0
                } else {
                    self.slot_len(s) > 0
                }
            })
            .flat_map(|s| self.slot_entries(s))
            .find(|e| !volatile_only || e.expire_at != 0)
    }

    /// Removes every key, returning the old contents (so the caller can free them elsewhere).
    pub fn take_all(&mut self) -> Db {
        let fresh = Db::new(self.hasher.clone());
        std::mem::replace(self, fresh)
    }

    /// Bytes of the per-slot index: its tables' buckets and the index itself.
    pub fn table_overhead(&self) -> usize {
        self.index.tables().map(|t| t.capacity() * 5).sum::<usize>() + self.index.overhead()
    }

    /// Reusable bytes in the slab (not counted as used memory).
    pub fn free_bytes(&self) -> usize {
        self.slab.free_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_and_counters() {
        let mut db = Db::new(RandomState::new());
        assert!(db.insert(b"a", Value::Int(1), Ttl::Clear, 0).is_none());
        assert!(db.insert(b"{a}b", Value::Int(2), Ttl::At(100), 0).is_none());
        assert_eq!(db.len(), 2);
        assert_eq!(db.expires(), 1);
        assert_eq!(db.slot_len(key_slot(b"a") as usize), 2);
        db.insert(b"{a}b", Value::Int(3), Ttl::Keep, 0);
        assert_eq!(db.get(b"{a}b").unwrap().expire_at(), Some(100));
        db.insert(b"{a}b", Value::Int(3), Ttl::Clear, 0);
        assert_eq!(db.expires(), 0);
        assert!(db.set_expire(b"a", Some(5)));
        assert_eq!(db.slot_volatile(key_slot(b"a") as usize), 1);
        assert!(db.remove(b"a").is_some());
        assert_eq!(db.expires(), 0);
        assert_eq!(db.len(), 1);
        assert!(db.remove(b"a").is_none());
    }
}
