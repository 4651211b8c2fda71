//! Active expiry, after Redis's adaptive cycle (`activeExpireCycle`): each run walks slots that
//! hold keys with a TTL, deleting expired ones, and keeps going while the share of expired
//! keys found stays above the acceptable-stale threshold and the time budget lasts. The store
//! lock is taken in short steps (see server::background), so clients are never stalled for a
//! whole cycle.
use super::Store;
use crate::slot::SLOTS;

/// Where the previous cycle stopped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cursor {
    db: usize,
    slot: usize,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ExpireCycleStats {
    pub sampled: usize,
    pub expired: usize,
    /// True when the cursor wrapped around every database.
    pub wrapped: bool,
}

impl Store {
    /// Active-expire keys in up to `max_keys` sampled keys starting at the saved cursor.
    pub fn active_expire_step(&mut self, now_ms: u64, max_keys: usize) -> ExpireCycleStats {
        let mut st = ExpireCycleStats::default();
        let dbs = self.databases();
        if (0..dbs).all(|d| self.db(d).expires() == 0) {
            return st;
        }
        let mut visited = 0;
        let mut expired_keys: Vec<Vec<u8>> = Vec::new();
        while st.sampled < max_keys && visited < SLOTS * dbs {
            let Cursor { db, slot } = self.expire_cursor;
            if self.db(db).expires() == 0 {
                // Nothing volatile in this database: skip the rest of it in one step.
                visited += SLOTS - slot;
                self.next_db(&mut st);
                continue;
            }
            if self.db(db).slot_volatile(slot) > 0 {
                for e in self.db(db).slot_entries(slot) {
                    if let Some(at) = e.expire_at() {
                        st.sampled += 1;
                        if at <= now_ms {
                            expired_keys.push(e.key.to_vec());
                        }
                    }
                }
                for k in expired_keys.drain(..) {
                    if let Some(e) = self.db_mut(db).remove(&k) {
                        self.propagation.deleted(db, &k);
                        self.watches.touch(db, &k, false);
                        self.tracking.invalidate(&k, 0);
                        self.events.raise(super::notify::EXPIRED, "expired", db, &k);
                        st.expired += 1;
                        self.stats.expired_keys += 1;
                        self.free_expired(e.value);
                    }
                }
            }
            visited += 1;
            self.expire_cursor.slot += 1;
            if self.expire_cursor.slot == SLOTS {
                self.next_db(&mut st);
            }
        }
        st
    }

    fn next_db(&mut self, st: &mut ExpireCycleStats) {
        self.expire_cursor.slot = 0;
        self.expire_cursor.db = (self.expire_cursor.db + 1) % self.databases();
        if self.expire_cursor.db == 0 {
            st.wrapped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EvictionConfig, EvictionPolicy, Store, Ttl, Value};

    #[test]
    fn expired_keys_are_removed_without_access() {
        let ev = EvictionConfig {
            maxmemory: 0,
            policy: EvictionPolicy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            lazy_expire: false,
        };
        let mut s = Store::new(2, ev);
        for i in 0..100 {
            s.insert(1, format!("k{i}").as_bytes(), Value::Int(i), Ttl::At(1000));
            s.insert(1, format!("p{i}").as_bytes(), Value::Int(i), Ttl::Clear);
        }
        s.insert(0, b"late", Value::Int(1), Ttl::At(5000));
        let mut total = 0;
        for _ in 0..100 {
            total += s.active_expire_step(2000, 20).expired;
        }
        assert_eq!(total, 100);
        assert_eq!(s.db(1).len(), 100);
        assert_eq!(s.db(0).len(), 1);
        assert_eq!(s.stats.expired_keys, 100);
    }
}
