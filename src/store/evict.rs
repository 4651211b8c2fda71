//! maxmemory eviction with Redis's eight policies, approximated by sampling like Redis:
//! `maxmemory-samples` random keys per database, the best candidate by idle time (LRU),
//! decayed access frequency (LFU) or nearest expiry (TTL) is evicted, until used memory is
//! back under the limit. The `lru` field of an entry is a millisecond LRU clock, or under an
//! LFU policy Redis's layout: minutes (16 bits) << 8 | logarithmic counter (8 bits).
use super::{EvictionConfig, Store};
use crate::slot::SLOTS;
use rand::Rng;

/// Redis's LFU_INIT_VAL: new keys start with this counter so they are not evicted at once.
pub const LFU_INIT_VAL: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl EvictionPolicy {
    pub const ALL: [(&'static str, EvictionPolicy); 8] = [
        ("volatile-lru", EvictionPolicy::VolatileLru),
        ("volatile-lfu", EvictionPolicy::VolatileLfu),
        ("volatile-random", EvictionPolicy::VolatileRandom),
        ("volatile-ttl", EvictionPolicy::VolatileTtl),
        ("allkeys-lru", EvictionPolicy::AllKeysLru),
        ("allkeys-lfu", EvictionPolicy::AllKeysLfu),
        ("allkeys-random", EvictionPolicy::AllKeysRandom),
        ("noeviction", EvictionPolicy::NoEviction),
    ];

    pub fn parse(s: &str) -> Option<EvictionPolicy> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, p)| *p)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap()
    }

    /// An LRU policy: keys' idle time is saved in snapshots (MAXMEMORY_FLAG_LRU).
    pub fn is_lru(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru
        )
    }

    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

fn minutes_now() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    ((secs / 60) & 0xffff) as u32
}

/// The stamp of a newly written key.
pub fn new_stamp(ev: &EvictionConfig, clock_ms: u32) -> u32 {
    if ev.policy.is_lfu() {
        (minutes_now() << 8) | LFU_INIT_VAL
    } else {
        clock_ms
    }
}

/// The LFU counter after decay (`LFUDecrAndReturn`).
pub fn lfu_decayed(lru: u32, ev: &EvictionConfig) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 0xff;
    let now = minutes_now();
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = if ev.lfu_decay_time > 0 {
        elapsed / ev.lfu_decay_time
    } else {
        0
    };
    counter.saturating_sub(periods)
}

/// The stamp after an access (`updateLFU` or the LRU clock).
pub fn touched(lru: u32, ev: &EvictionConfig, clock_ms: u32, rng: &mut impl Rng) -> u32 {
    if !ev.policy.is_lfu() {
        return clock_ms;
    }
    let mut counter = lfu_decayed(lru, ev);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * ev.lfu_log_factor as f64 + 1.0);
        if rng.gen::<f64>() < p {
            counter += 1;
        }
    }
    (minutes_now() << 8) | counter
}

/// Milliseconds since the last access under an LRU stamp.
pub fn idle_ms(lru: u32, clock_ms: u32) -> u64 {
    clock_ms.wrapping_sub(lru) as u64
}

impl Store {
    /// Used memory: `allocated` (process-wide allocation count) less the reusable slab space.
    pub fn used_memory(&self, allocated: usize) -> usize {
        allocated.saturating_sub(self.free_bytes())
    }

    /// Evicts keys until used memory is at most maxmemory. Returns false when that is
    /// impossible (noeviction, or nothing left that the policy may evict).
    pub fn evict_to_fit(&mut self, allocated: &dyn Fn() -> usize) -> bool {
        let ev = self.eviction;
        if ev.maxmemory == 0 {
            return true;
        }
        while self.used_memory(allocated()) as u64 > ev.maxmemory {
            if ev.policy == EvictionPolicy::NoEviction {
                return false;
            }
            let Some((db, key)) = self.pick_victim() else {
                return false;
            };
            self.capture_slot(crate::slot::key_slot(&key) as usize);
            if let Some(e) = self.db_mut(db).remove(&key) {
                self.stats.evicted_keys += 1;
                self.propagation.deleted(db, &key);
                self.watches.touch(db, &key, false);
                self.tracking.invalidate(&key, 0);
                self.events
                    .raise(super::notify::EVICTED, "evicted", db, &key);
                self.dirty += 1;
                drop(e);
            }
        }
        true
    }

    fn pick_victim(&mut self) -> Option<(usize, Vec<u8>)> {
        let ev = self.eviction;
        let clock = self.lru_clock();
        let volatile = ev.policy.volatile_only();
        let mut best: Option<(u64, usize, Vec<u8>)> = None;
        for db in 0..self.databases() {
            let samples = if matches!(
                ev.policy,
                EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom
            ) {
                1
            } else {
                ev.samples.max(1)
            };
            for _ in 0..samples {
                let start = self.rng.gen_range(0..SLOTS);
                let r = self.rng.gen::<usize>();
                let Some(e) = self.dbs[db].random_entry(start, r, volatile) else {
                    break;
                };
                let score = match ev.policy {
                    EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => {
                        idle_ms(e.lru, clock)
                    }
                    EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
                        255 - lfu_decayed(e.lru, &ev) as u64
                    }
                    EvictionPolicy::VolatileTtl => u64::MAX - e.expire_at().unwrap_or(u64::MAX),
                    _ => 0,
                };
                if best.as_ref().map_or(true, |b| score > b.0) {
                    best = Some((score, db, e.key.to_vec()));
                }
            }
        }
        best.map(|(_, db, k)| (db, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for (name, p) in EvictionPolicy::ALL {
            assert_eq!(EvictionPolicy::parse(name), Some(p));
            assert_eq!(p.name(), name);
        }
        assert_eq!(EvictionPolicy::parse("bogus"), None);
    }

    #[test]
    fn lru_evicts_idle_keys_first() {
        let ev = EvictionConfig {
            maxmemory: 1,
            policy: EvictionPolicy::AllKeysLru,
            samples: 64,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            lazy_expire: false,
        };
        let mut s = Store::new(1, ev);
        for i in 0..10u32 {
            s.insert(
                0,
                format!("k{i}").as_bytes(),
                super::super::Value::Int(i as i64),
                super::super::Ttl::Clear,
            );
        }
        // make k0 the most recently used by backdating everything else
        let old = s.lru_clock().wrapping_sub(100_000);
        for i in 1..10u32 {
            s.db_mut(0).get_mut(format!("k{i}").as_bytes()).unwrap().lru = old;
        }
        s.db_mut(0).get_mut(b"k0").unwrap().lru = s.lru_clock();
        let mut evicted = 0;
        while s.db(0).len() > 1 {
            let (_, k) = s.pick_victim().unwrap();
            assert_ne!(k, b"k0");
            s.db_mut(0).remove(&k);
            evicted += 1;
        }
        assert_eq!(evicted, 9);
    }
}
