//! Clients blocked on keys (BLPOP, BZPOPMIN, BLMOVE ...), in FIFO order per key. A write to a
//! key wakes the first client waiting on it; that client retries its command under the store
//! lock and, if it is served, wakes the next one, so wake-ups follow arrival order and none is
//! lost (registration happens under the same lock as the write that signals).
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::Notify;

type Key = (usize, Box<[u8]>);

#[derive(Default)]
pub struct Blocked {
    by_key: HashMap<Key, VecDeque<(u64, Arc<Notify>)>>,
}

impl Blocked {
    /// Queues `client` on `key` (keeps its place if already queued).
    pub fn register(&mut self, client: u64, wake: &Arc<Notify>, db: usize, key: &[u8]) {
        let q = self.by_key.entry((db, key.into())).or_default();
        if !q.iter().any(|(c, _)| *c == client) {
            q.push_back((client, wake.clone()));
        }
    }

    /// Removes `client` from the queues of `keys`.
    pub fn unregister(&mut self, client: u64, db: usize, keys: &[bytes::Bytes]) {
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
            if let Some((_, n)) = q.front() {
                n.notify_one();
            }
        }
    }

    /// `key` is gone (deleted, its group destroyed): every waiter must look again, not only
    /// the first. A waiter that still has nothing to read blocks again without passing the
    /// turn on, so waking the first alone could leave an XREADGROUP behind a plain XREAD
    /// waiting forever for an error it should get now.
    pub fn signal_all(&mut self, db: usize, key: &[u8]) {
        if let Some(q) = self.by_key.get(&(db, Box::from(key))) {
            for (_, n) in q {
                n.notify_one();
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
                for (_, n) in q {
                    n.notify_one();
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
