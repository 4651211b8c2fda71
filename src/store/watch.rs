//! WATCH bookkeeping: which clients watch which keys, and which clients' transactions are
//! spoiled because a watched key was written, expired, evicted or flushed since. Lives in the
//! store so that every removal path (lazy/active expiry, eviction, FLUSHDB) can spoil watchers
//! under the same lock that changed the key.
use std::collections::{HashMap, HashSet};

type WatchKey = (usize, Box<[u8]>);

/// One client's watch on one key. `expired`: the key was logically expired (present, past
/// its TTL) when watched, so its deletion by expiry or a flush changes nothing the client saw
/// (Redis's watchedKey.expired).
#[derive(Clone, Copy)]
struct Watcher {
    client: u64,
    expired: bool,
}

#[derive(Default)]
pub struct Watches {
    by_key: HashMap<WatchKey, Vec<Watcher>>,
    by_client: HashMap<u64, Vec<WatchKey>>,
    dirty: HashSet<u64>,
}

/// What a database swapped in holds for a watched key: (present, present but expired).
pub type Replacement<'a> = &'a dyn Fn(&[u8]) -> (bool, bool);

impl Watches {
    pub fn watch(&mut self, client: u64, db: usize, key: &[u8], expired: bool) {
        let k: WatchKey = (db, key.into());
        let list = self.by_client.entry(client).or_default();
        if list.contains(&k) {
            return;
        }
        list.push(k.clone());
        self.by_key
            .entry(k)
            .or_default()
            .push(Watcher { client, expired });
    }

    /// True when no key is watched (the write path skips the bookkeeping).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The keys `client` watches that were not already expired when watched (EXEC fails if
    /// one of them has expired since).
    pub fn live_keys_of(&self, client: u64) -> impl Iterator<Item = &WatchKey> {
        let keys = self
            .by_client
            .get(&client)
            .map_or(&[][..], |v| v.as_slice());
        keys.iter().filter(move |k| {
            self.by_key
                .get(*k)
                .is_some_and(|ws| ws.iter().any(|w| w.client == client && !w.expired))
        })
    }

    pub fn unwatch_all(&mut self, client: u64) {
        self.dirty.remove(&client);
        for k in self.by_client.remove(&client).unwrap_or_default() {
            if let Some(v) = self.by_key.get_mut(&k) {
                v.retain(|w| w.client != client);
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

    /// A key changed (`exists`: it is present afterwards): spoil the transactions of its
    /// watchers, except where an already-expired key was deleted (no logical change).
    #[inline]
    pub fn touch(&mut self, db: usize, key: &[u8], exists: bool) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(ws) = self.by_key.get_mut(&(db, Box::from(key))) {
            for w in ws.iter_mut() {
                if w.expired && !exists {
                    w.expired = false;
                    continue;
                }
                self.dirty.insert(w.client);
            }
        }
    }

    /// Database `db` is emptied (FLUSHDB, FLUSHALL) or, with `replaced`, swapped with another
    /// (SWAPDB): spoils the watchers of keys it held or that the other one brings, as
    /// Redis's touchAllWatchedKeysInDb. `held(key)`: (present, present but expired) in `db`.
    pub fn touch_db(&mut self, db: usize, held: Replacement, replaced: Option<Replacement>) {
        for ((d, key), ws) in self.by_key.iter_mut() {
            if *d != db {
                continue;
            }
            let (in_emptied, _) = held(key);
            let (in_new, new_expired) = replaced.map_or((false, false), |r| r(key));
            if !in_emptied && !in_new {
                continue;
            }
            for w in ws.iter_mut() {
                if w.expired {
                    if !in_new {
                        w.expired = false; // an expired key deleted: no change
                        continue;
                    } else if new_expired {
                        continue; // expired before, expired now
                    }
                } else if !in_emptied && new_expired {
                    w.expired = true; // a missing key replaced by an expired one
                    continue;
                }
                self.dirty.insert(w.client);
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
        w.watch(1, 0, b"a", false);
        w.watch(2, 0, b"b", false);
        w.touch(0, b"a", true);
        w.touch(1, b"b", true);
        assert!(w.is_dirty(1));
        assert!(!w.is_dirty(2));
        w.unwatch_all(1);
        assert!(!w.is_dirty(1));
        let all: Replacement = &|_| (true, false);
        w.touch_db(0, all, None);
        assert!(w.is_dirty(2));
        w.touch(0, b"a", true);
        assert!(!w.is_dirty(1));
    }

    #[test]
    fn deleting_a_key_expired_when_watched_is_no_change() {
        let mut w = Watches::default();
        w.watch(1, 0, b"a", true);
        assert_eq!(w.live_keys_of(1).count(), 0);
        w.touch(0, b"a", false);
        assert!(!w.is_dirty(1));
        // Deleted now: a key that appears again is a change.
        w.touch(0, b"a", true);
        assert!(w.is_dirty(1));
    }

    #[test]
    fn flush_spares_watchers_of_missing_keys() {
        let mut w = Watches::default();
        w.watch(1, 0, b"a", false);
        let none: Replacement = &|_| (false, false);
        w.touch_db(0, none, None);
        assert!(!w.is_dirty(1));
        // Swapped with a database holding an expired `a`: still no change, now expired.
        let expired: Replacement = &|_| (true, true);
        w.touch_db(0, none, Some(expired));
        assert!(!w.is_dirty(1));
        assert_eq!(w.live_keys_of(1).count(), 0);
    }
}
