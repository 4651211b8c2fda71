//! WATCH bookkeeping: which clients watch which keys, and which clients' transactions are
//! spoiled because a watched key was written, expired, evicted or flushed since. Lives in the
//! store so that every removal path (lazy/active expiry, eviction, FLUSHDB) can spoil watchers
//! under the same lock that changed the key.
use std::collections::{HashMap, HashSet};

type WatchKey = (usize, Box<[u8]>);

#[derive(Default)]
pub struct Watches {
    by_key: HashMap<WatchKey, Vec<u64>>,
    by_client: HashMap<u64, Vec<WatchKey>>,
    dirty: HashSet<u64>,
}

impl Watches {
    pub fn watch(&mut self, client: u64, db: usize, key: &[u8]) {
        let k: WatchKey = (db, key.into());
        let list = self.by_client.entry(client).or_default();
        if list.contains(&k) {
            return;
        }
        list.push(k.clone());
        self.by_key.entry(k).or_default().push(client);
    }

    /// The keys `client` watches.
    pub fn keys_of(&self, client: u64) -> &[WatchKey] {
        self.by_client.get(&client).map_or(&[], |v| v.as_slice())
    }

    pub fn unwatch_all(&mut self, client: u64) {
        self.dirty.remove(&client);
        for k in self.by_client.remove(&client).unwrap_or_default() {
            if let Some(v) = self.by_key.get_mut(&k) {
                v.retain(|&c| c != client);
                if v.is_empty() {
                    self.by_key.remove(&k);
                }
            }
        }
    }

    pub fn is_dirty(&self, client: u64) -> bool {
        self.dirty.contains(&client)
    }

    pub fn mark_dirty(&mut self, client: u64) {
        self.dirty.insert(client);
    }

    /// A key changed: spoil the transactions of its watchers.
    #[inline]
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(clients) = self.by_key.get(&(db, Box::from(key))) {
            self.dirty.extend(clients.iter().copied());
        }
    }

    /// A whole database changed (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn touch_db(&mut self, db: usize) {
        for ((d, _), clients) in &self.by_key {
            if *d == db {
                self.dirty.extend(clients.iter().copied());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_spoils_only_watchers() {
        let mut w = Watches::default();
        w.watch(1, 0, b"a");
        w.watch(2, 0, b"b");
        w.touch(0, b"a");
        w.touch(1, b"b");
        assert!(w.is_dirty(1));
        assert!(!w.is_dirty(2));
        w.unwatch_all(1);
        assert!(!w.is_dirty(1));
        w.touch_db(0);
        assert!(w.is_dirty(2));
        w.touch(0, b"a");
        assert!(!w.is_dirty(1));
    }
}
