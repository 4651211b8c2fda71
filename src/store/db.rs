//! One logical database: 16384 per-hash-slot tables, so a slot's keys can be counted in O(1)
//! and listed or deleted without scanning the keyspace (cluster mode and migration need it).
//! The tables are allocated on the first write, so an unused database costs nothing.
//!
//! Every change of a key's expiry goes through here, keeping the `expires` counters exact.
use super::bytes::SmallBytes;
use super::value::{Entry, Value};
use crate::slot::{key_slot, SLOTS};
use ahash::RandomState;
use hashbrown::hash_table::{Entry as TableEntry, HashTable};

pub struct Db {
    tables: Vec<HashTable<Entry>>,
    /// Keys with a TTL, per slot (active expiry skips slots with none).
    volatile: Vec<u32>,
    keys: usize,
    expires: usize,
    hasher: RandomState,
}

/// Keeps the TTL counters right when a key's expiry goes from `old` to `new` (0 = none).
fn account(expires: &mut usize, volatile: &mut [u32], slot: usize, old: u64, new: u64) {
    match (old != 0, new != 0) {
        (false, true) => {
            *expires += 1;
            volatile[slot] += 1;
        }
        (true, false) => {
            *expires -= 1;
            volatile[slot] -= 1;
        }
        _ => {}
    }
}

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

impl Db {
    pub fn new(hasher: RandomState) -> Db {
        Db { tables: Vec::new(), volatile: Vec::new(), keys: 0, expires: 0, hasher }
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    pub fn expires(&self) -> usize {
        self.expires
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn ensure_tables(&mut self) {
        if self.tables.is_empty() {
            self.tables = (0..SLOTS).map(|_| HashTable::new()).collect();
            self.volatile = vec![0; SLOTS];
        }
    }

    /// The entry for `key`, expired or not (callers apply lazy expiry).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        if self.tables.is_empty() {
            return None;
        }
        let slot = key_slot(key) as usize;
        self.tables[slot].find(self.hash(key), |e| e.key.as_slice() == key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.tables.is_empty() {
            return None;
        }
        let slot = key_slot(key) as usize;
        let h = self.hash(key);
        self.tables[slot].find_mut(h, |e| e.key.as_slice() == key)
    }

    /// Inserts or overwrites `key`. Returns the old value, if any.
    pub fn insert(&mut self, key: &[u8], value: Value, ttl: Ttl, lru: u32) -> Option<Value> {
        self.ensure_tables();
        let slot = key_slot(key) as usize;
        let h = self.hash(key);
        let hasher = &self.hasher;
        let table = &mut self.tables[slot];
        match table.entry(h, |e| e.key.as_slice() == key, |e| hasher.hash_one(e.key.as_slice())) {
            TableEntry::Occupied(mut o) => {
                let e = o.get_mut();
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
                Some(old)
            }
            TableEntry::Vacant(v) => {
                let exp = match ttl {
                    Ttl::At(t) => t,
                    _ => 0,
                };
                v.insert(Entry { key: SmallBytes::new(key), value, expire_at: exp, lru });
                self.keys += 1;
                self.account_expire(slot, 0, exp);
                None
            }
        }
    }

    fn account_expire(&mut self, slot: usize, old: u64, new: u64) {
        account(&mut self.expires, &mut self.volatile, slot, old, new);
    }

    /// Finds `key` with lazy expiry in one probe: an expired entry is removed and handed back.
    pub fn lookup_mut(&mut self, key: &[u8], now_ms: u64) -> Lookup<'_> {
        if self.tables.is_empty() {
            return Lookup::Missing;
        }
        let slot = key_slot(key) as usize;
        let h = self.hash(key);
        match self.tables[slot].find_entry(h, |e| e.key.as_slice() == key) {
            Err(_) => Lookup::Missing,
            Ok(o) if o.get().is_expired(now_ms) => {
                let (e, _) = o.remove();
                self.keys -= 1;
                account(&mut self.expires, &mut self.volatile, slot, e.expire_at, 0);
                Lookup::Expired(e)
            }
            Ok(o) => Lookup::Found(o.into_mut()),
        }
    }

    /// Sets (`Some`) or clears (`None`) the TTL of an existing key. Returns false if absent.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let slot = key_slot(key) as usize;
        let Some(e) = self.get_mut(key) else { return false };
        let old = e.expire_at;
        e.expire_at = at.unwrap_or(0);
        let new = e.expire_at;
        self.account_expire(slot, old, new);
        true
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        if self.tables.is_empty() {
            return None;
        }
        let slot = key_slot(key) as usize;
        let h = self.hash(key);
        let found = self.tables[slot].find_entry(h, |e| e.key.as_slice() == key).ok()?;
        let (e, _) = found.remove();
        self.keys -= 1;
        self.account_expire(slot, e.expire_at, 0);
        Some(e)
    }

    /// Number of keys in `slot` (CLUSTER COUNTKEYSINSLOT), O(1).
    pub fn slot_len(&self, slot: usize) -> usize {
        self.tables.get(slot).map_or(0, |t| t.len())
    }

    pub fn slot_volatile(&self, slot: usize) -> usize {
        self.volatile.get(slot).map_or(0, |&v| v as usize)
    }

    /// Iterates the entries of one slot.
    pub fn slot_entries(&self, slot: usize) -> impl Iterator<Item = &Entry> {
        self.tables.get(slot).into_iter().flat_map(|t| t.iter())
    }

    /// Keys of `slot` up to `limit` (CLUSTER GETKEYSINSLOT, migration).
    pub fn slot_keys(&self, slot: usize, limit: usize) -> Vec<SmallBytes> {
        self.slot_entries(slot).take(limit).map(|e| e.key.clone()).collect()
    }

    /// All entries, slot by slot.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.tables.iter().flat_map(|t| t.iter())
    }

    /// A uniformly chosen slot among the non-empty ones near `start`, then a random entry in it.
    /// `r` supplies randomness. None when the database is empty.
    pub fn random_entry(&self, start: usize, r: usize, volatile_only: bool) -> Option<&Entry> {
        if self.keys == 0 || (volatile_only && self.expires == 0) {
            return None;
        }
        for i in 0..SLOTS {
            let slot = (start + i) % SLOTS;
            let t = &self.tables[slot];
            let n = if volatile_only { self.volatile[slot] as usize } else { t.len() };
            if n == 0 {
                continue;
            }
            if volatile_only {
                return t.iter().filter(|e| e.expire_at != 0).nth(r % n);
            }
            return t.iter().nth(r % n);
        }
        None
    }

    /// Removes every key, returning the old tables (so the caller can free them elsewhere).
    pub fn take_all(&mut self) -> Db {
        let fresh = Db::new(self.hasher.clone());
        std::mem::replace(self, fresh)
    }

    /// Approximate bytes held by the slot tables themselves (not the values' heap data).
    pub fn table_overhead(&self) -> usize {
        self.tables.iter().map(|t| t.capacity() * (std::mem::size_of::<Entry>() + 1)).sum()
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
