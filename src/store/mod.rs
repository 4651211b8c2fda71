//! The keyspace: databases of per-slot tables, lazy and active expiry, LRU/LFU bookkeeping,
//! eviction under maxmemory and lazy freeing. It knows nothing of RESP or of the cluster; the
//! server wraps one `Store` in a mutex and every command runs with it locked (see server/).
pub mod blocking;
pub mod bytes;
pub mod db;
pub mod digest;
mod evict;
mod expire;
pub mod fence;
pub mod hll;
mod lazyfree;
pub mod notify;
pub mod propagation;
pub mod rdb;
mod slab;
mod slot_index;
mod slot_table;
pub mod snapshot;
pub mod tracking;
pub mod types;
pub mod value;
pub mod watch;

pub use db::{Db, Lookup, Ttl};
pub use evict::{lfu_decayed, EvictionPolicy, LFU_INIT_VAL};
pub use expire::ExpireCycleStats;
pub use value::{CowBox, Entry, Value};

use ahash::RandomState;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Counters INFO stats reports about the keyspace.
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_eviction_exceeded_time: u64,
}

/// The eviction settings the store needs (a copy of the config's, refreshed on CONFIG SET).
#[derive(Debug, Clone, Copy)]
pub struct EvictionConfig {
    pub maxmemory: u64,
    pub policy: EvictionPolicy,
    pub samples: usize,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// lazyfree-lazy-expire: expired values are freed on the lazy-free thread; otherwise where
    /// they expire, as Redis does by default (a big value then stalls the expiry like Redis's).
    pub lazy_expire: bool,
}

pub struct Store {
    /// CLIENT PAUSE's end (unix ms): until then expired keys are hidden, not deleted.
    pub expiry_paused_until: u64,
    dbs: Vec<Db>,
    pub stats: KeyspaceStats,
    pub eviction: EvictionConfig,
    /// Writes since start (INFO rdb_changes_since_last_save).
    pub dirty: u64,
    /// Unix ms when the store was created: the LRU clock's zero.
    started_ms: u64,
    rng: SmallRng,
    lazyfree: lazyfree::LazyFree,
    expire_cursor: expire::Cursor,
    /// WATCHed keys and spoiled transactions.
    pub watches: watch::Watches,
    /// Clients blocked on keys.
    pub blocked: blocking::Blocked,
    /// Keyspace notifications raised and not yet published.
    pub events: notify::Events,
    /// Client-side caching state (CLIENT TRACKING).
    pub tracking: tracking::Tracking,
    /// The snapshot being written, if any (see snapshot.rs).
    pub snapshot: Option<Box<snapshot::Snapshot>>,
    /// Keys a MIGRATE is moving: writes to them wait (fence.rs).
    pub fences: fence::Fences,
    /// What replicas must do too (propagation.rs), and how this role expires keys.
    pub propagation: propagation::Propagation,
}

impl Store {
    pub fn new(databases: usize, eviction: EvictionConfig) -> Store {
        let hasher = RandomState::new();
        Store {
            expiry_paused_until: 0,
            dbs: (0..databases).map(|_| Db::new(hasher.clone())).collect(),
            stats: KeyspaceStats::default(),
            eviction,
            dirty: 0,
            started_ms: crate::util::now_ms(),
            rng: SmallRng::from_entropy(),
            lazyfree: lazyfree::LazyFree::start(),
            expire_cursor: expire::Cursor::default(),
            watches: watch::Watches::default(),
            blocked: blocking::Blocked::default(),
            events: notify::Events::default(),
            tracking: tracking::Tracking::default(),
            snapshot: None,
            fences: fence::Fences::default(),
            propagation: propagation::Propagation::default(),
        }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub fn db(&self, i: usize) -> &Db {
        &self.dbs[i]
    }

    pub fn db_mut(&mut self, i: usize) -> &mut Db {
        &mut self.dbs[i]
    }

    /// Looks a key up for a command: lazy expiry, and the LRU/LFU access stamp unless `touch`
    /// is false (CLIENT NO-TOUCH, OBJECT, TYPE ...).
    pub fn lookup(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        touch: bool,
    ) -> Option<&mut Entry> {
        self.lookup_counted(db, key, now_ms, touch, false)
    }

    /// As `lookup`, counting keyspace hits and misses (read commands).
    pub fn lookup_read(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        touch: bool,
    ) -> Option<&mut Entry> {
        self.lookup_counted(db, key, now_ms, touch, true)
    }

    fn lookup_counted(
        &mut self,
        db: usize,
        key: &[u8],
        now_ms: u64,
        touch: bool,
        count: bool,
    ) -> Option<&mut Entry> {
        let clock = self.lru_clock_at(now_ms);
        let ev = self.eviction;
        // During CLIENT PAUSE keys expire logically but are not deleted (no DEL may be
        // propagated while writes are paused), as Redis's expireIfNeeded.
        let mode = if now_ms < self.expiry_paused_until {
            propagation::ExpiryMode::Hide
        } else {
            self.propagation.expiry
        };
        let now_ms = match mode {
            propagation::ExpiryMode::Delete => now_ms,
            propagation::ExpiryMode::Ignore => 0,
            propagation::ExpiryMode::Hide => {
                if self.dbs[db].get(key).is_some_and(|e| e.is_expired(now_ms)) {
                    self.stats.keyspace_misses += count as u64;
                    return None;
                }
                now_ms
            }
        };
        match self.dbs[db].lookup_mut(key, now_ms) {
            Lookup::Found(e) => {
                if touch {
                    e.lru = evict::touched(e.lru, &ev, clock, &mut self.rng);
                }
                self.stats.keyspace_hits += count as u64;
                Some(e)
            }
            Lookup::Expired(old) => {
                self.stats.expired_keys += 1;
                self.propagation.deleted(db, key);
                self.watches.touch(db, key, false);
                self.events.raise(notify::EXPIRED, "expired", db, key);
                self.tracking.invalidate(key, 0);
                self.stats.keyspace_misses += count as u64;
                if self.eviction.lazy_expire {
                    self.lazyfree.free(old.value);
                }
                None
            }
            Lookup::Missing => {
                self.stats.keyspace_misses += count as u64;
                None
            }
        }
    }

    /// True if `key` exists (after lazy expiry), without touching it.
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: u64) -> bool {
        self.lookup(db, key, now_ms, false).is_some()
    }

    /// Stores `value` at `key` with a fresh access stamp.
    pub fn insert(&mut self, db: usize, key: &[u8], value: Value, ttl: Ttl) -> Option<Value> {
        let lru = evict::new_stamp(&self.eviction, self.lru_clock());
        let old = self.dbs[db].insert(key, value, ttl, lru);
        if old.is_none() {
            self.events.raise(notify::NEW, "new", db, key);
        }
        old
    }

    /// Stores a key read from an RDB stream (loading, RESTORE), with its saved access
    /// information applied as Redis's `objectSetLRUOrLFU` does. Returns the replaced value.
    pub fn load_entry(
        &mut self,
        db: usize,
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
        access: rdb::encode::Access,
    ) -> Option<Value> {
        let clock = self.lru_clock();
        let mut lru = evict::new_stamp(&self.eviction, clock);
        match access {
            rdb::encode::Access::Idle(secs) if self.eviction.policy.is_lru() => {
                lru = clock.wrapping_sub((secs.min(u32::MAX as u64 / 1000) * 1000) as u32);
            }
            rdb::encode::Access::Freq(f) if self.eviction.policy.is_lfu() => {
                lru = (lru & !0xff) | f as u32;
            }
            _ => {}
        }
        let ttl = match expire_at {
            Some(t) => Ttl::At(t),
            None => Ttl::Clear,
        };
        self.db_mut(db).insert(key, value, ttl, lru)
    }

    /// Deletes `key` (after lazy expiry). Large values are freed on the lazy-free thread when
    /// `lazy` is set (UNLINK, lazyfree-lazy-user-del).
    pub fn remove(&mut self, db: usize, key: &[u8], now_ms: u64, lazy: bool) -> bool {
        if self.lookup(db, key, now_ms, false).is_none() {
            return false;
        }
        let e = self.dbs[db].remove(key).expect("present after lookup");
        self.watches.touch(db, key, false);
        if lazy {
            self.free(e.value);
        }
        true
    }

    /// Deletes every key of `slot` in database 0 (a slot this cluster node no longer serves,
    /// Redis's `delKeysInSlot`), raising `del` events. Returns how many went.
    pub fn delete_slot_keys(&mut self, slot: usize, now_ms: u64) -> usize {
        self.capture_slot(slot);
        let keys = self.dbs[0].slot_keys(slot, usize::MAX);
        let mut n = 0;
        for k in keys {
            if self.remove(0, &k, now_ms, true) {
                self.propagation.deleted(0, &k);
                self.events.raise(notify::GENERIC, "del", 0, &k);
                self.tracking.invalidate(&k, 0);
                n += 1;
            }
        }
        n
    }

    /// Drops a value, on the lazy-free thread if it is big enough to stall the caller.
    pub fn free(&self, v: Value) {
        self.lazyfree.free(v);
    }

    /// An expired value: freed as lazyfree-lazy-expire says.
    pub fn free_expired(&self, v: Value) {
        if self.eviction.lazy_expire {
            self.lazyfree.free(v);
        } else {
            drop(v);
        }
    }

    /// Empties database `db` (or all when None). `lazy` frees the old data on the lazy-free
    /// thread, so FLUSHALL ASYNC returns at once whatever the keyspace size.
    pub fn flush(&mut self, db: Option<usize>, lazy: bool) -> usize {
        let range = match db {
            Some(i) => i..i + 1,
            None => 0..self.dbs.len(),
        };
        let mut removed = 0;
        self.tracking.invalidate_all();
        let now = crate::util::now_ms();
        for i in range {
            if !self.watches.is_empty() {
                let d = &self.dbs[i];
                let held = |k: &[u8]| presence(d, k, now);
                self.watches.touch_db(i, &held, None);
            }
            self.blocked.signal_db(i);
            removed += self.dbs[i].len();
            let old = self.dbs[i].take_all();
            if lazy {
                self.lazyfree.free_db(old);
            }
        }
        self.dirty += removed as u64;
        removed
    }

    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if !self.watches.is_empty() {
            let now = crate::util::now_ms();
            let (da, db) = (&self.dbs[a], &self.dbs[b]);
            let in_a = |k: &[u8]| presence(da, k, now);
            let in_b = |k: &[u8]| presence(db, k, now);
            self.watches.touch_db(a, &in_a, Some(&in_b));
            self.watches.touch_db(b, &in_b, Some(&in_a));
        }
        self.blocked.signal_db(a);
        self.blocked.signal_db(b);
        self.dbs.swap(a, b);
    }

    pub fn lazyfree_pending(&self) -> usize {
        self.lazyfree.pending()
    }

    pub fn reset_lazyfreed_objects(&self) {
        self.lazyfree.reset_freed();
    }

    pub fn lazyfreed_objects(&self) -> u64 {
        self.lazyfree.freed()
    }

    /// Milliseconds since the store started (wrapping): the LRU clock.
    pub fn lru_clock(&self) -> u32 {
        let now = crate::util::now_ms();
        self.lru_clock_at(now)
    }

    /// The LRU clock at `now_ms` (unix ms), without reading the clock again.
    pub fn lru_clock_at(&self, now_ms: u64) -> u32 {
        now_ms.wrapping_sub(self.started_ms) as u32
    }

    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }

    /// Reusable slab space across databases: allocated, but available for new keys, so not
    /// counted in used_memory (like an allocator's free lists).
    pub fn free_bytes(&self) -> usize {
        self.dbs.iter().map(|d| d.free_bytes()).sum()
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }
}

/// Whether `db` holds `key`: (present, present but past its TTL), for WATCH.
fn presence(db: &Db, key: &[u8], now_ms: u64) -> (bool, bool) {
    db.get(key)
        .map_or((false, false), |e| (true, e.is_expired(now_ms)))
}
