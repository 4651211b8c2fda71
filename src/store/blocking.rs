//! Clients blocked on keys (BLPOP, BZPOPMIN, BLMOVE ...), in FIFO order per key. A write to a
//! key wakes the first client waiting on it; that client retries its command under the store
//! lock and, served or not, wakes the next one (`signal` after it is served, `signal_next`
//! when it blocks again), so wake-ups follow arrival order and none is lost (registration
//! happens under the same lock as the write that signals).
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::Notify;

type Key = (usize, Box<[u8]>);

#[derive(Default)]
pub struct Blocked {
    by_key: HashMap<Key, VecDeque<(u64, Arc<Notify>)>>,
    /// Clients signalled and not yet run again: no longer counted as blocked, as in Redis,
    /// where the write that serves a client unblocks it before the writer's reply.
    woken: std::collections::HashSet<u64>,
}

impl Blocked {
    /// Queues `client` on `key` (keeps its place if already queued).
    pub fn register(&mut self, client: u64, wake: &Arc<Notify>, db: usize, key: &[u8]) {
        self.woken.remove(&client);
        let q = self.by_key.entry((db, key.into())).or_default();
        if !q.iter().any(|(c, _)| *c == client) {
            q.push_back((client, wake.clone()));
        }
    }

    /// Removes `client` from the queues of `keys`.
    pub fn unregister(&mut self, client: u64, db: usize, keys: &[bytes::Bytes]) {
        self.woken.remove(&client);
        for k in keys {
            let key: Key = (db, k.as_ref().into());
            if let Some(q) = self.by_key.get_mut(&key) {
                q.retain(|(c, _)| *c != client);
                if q.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// A key changed: wake the first client blocked on it.
    #[inline]
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(q) = self.by_key.get(&(db, Box::from(key))) {
            if let Some((c, n)) = q.front() {
                n.notify_one();
                self.woken.insert(*c);
            }
        }
    }

    /// `client` was woken on `keys` and blocks again (nothing for it there): the turn passes
    /// to the client queued right after it on each key, which may be able to use the change
    /// (an XREADGROUP, told its key is gone, queued behind a plain XREAD that waits on). The
    /// turn only moves back along the queue, so a chain of such wake-ups ends at its tail.
    pub fn signal_next(&mut self, client: u64, db: usize, keys: &[bytes::Bytes]) {
        for k in keys {
            if let Some(q) = self.by_key.get(&(db, Box::from(k.as_ref()))) {
                if let Some(i) = q.iter().position(|(c, _)| *c == client) {
                    if let Some((c, n)) = q.get(i + 1) {
                        n.notify_one();
                        self.woken.insert(*c);
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Database `db` was flushed or swapped: wake every waiter of each of its keys, so
    /// clients whose key is gone learn it (XREADGROUP fails with UNBLOCKED) and the others
    /// re-check.
    pub fn signal_db(&mut self, db: usize) {
        for ((d, _), q) in &self.by_key {
            if *d == db {
                for (c, n) in q {
                    n.notify_one();
                    self.woken.insert(*c);
                }
            }
        }
    }

    /// Number of blocked clients (INFO blocked_clients counts clients, not keys).
    pub fn clients(&self) -> usize {
        let mut ids: Vec<u64> = self
            .by_key
            .values()
            .flat_map(|q| q.iter().map(|(c, _)| *c))
            .filter(|c| !self.woken.contains(c))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    pub fn keys(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_wakeups() {
        let mut b = Blocked::default();
        let (n1, n2) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        b.register(1, &n1, 0, b"k");
        b.register(2, &n2, 0, b"k");
        b.register(1, &n1, 0, b"k");
        assert_eq!(b.clients(), 2);
        b.signal(0, b"k");
        // Only the first waiter holds a permit.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(1), n1.notified())
                .await
                .unwrap();
        });
        b.unregister(1, 0, &[bytes::Bytes::from_static(b"k")]);
        b.signal(0, b"k");
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(1), n2.notified())
                .await
                .unwrap();
        });
        b.unregister(2, 0, &[bytes::Bytes::from_static(b"k")]);
        assert_eq!(b.keys(), 0);
    }
}
