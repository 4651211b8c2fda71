//! The lazy-free thread: big values and whole flushed databases are dropped here, off the
//! request path (UNLINK, FLUSHALL ASYNC, lazyfree-lazy-* directives).
use super::{Db, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

/// Redis's LAZYFREE_THRESHOLD is 64 allocations; for strings we use bytes.
const LAZY_BYTES: usize = 64 * 1024;
/// LAZYFREE_THRESHOLD, for values whose cost Redis counts in allocations.
const LAZY_ALLOCATIONS: u64 = 64;

/// Held only to be dropped on the lazy-free thread.
#[allow(dead_code)]
enum Garbage {
    Value(Value),
    Db(Box<Db>),
}

pub struct LazyFree {
    tx: Sender<Garbage>,
    counters: Arc<(AtomicUsize, AtomicU64)>,
}

impl LazyFree {
    pub fn start() -> LazyFree {
        let (tx, rx) = channel::<Garbage>();
        let counters = Arc::new((AtomicUsize::new(0), AtomicU64::new(0)));
        let c = counters.clone();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for g in rx {
                    drop(g);
                    c.0.fetch_sub(1, Ordering::Relaxed);
                    c.1.fetch_add(1, Ordering::Relaxed);
                }
            })
            .expect("spawn lazyfree thread");
        LazyFree { tx, counters }
    }

    pub fn free(&self, v: Value) {
        let lazy = match &v {
            // Redis's lazyfreeGetFreeEffort for streams: radix-tree nodes plus groups times
            // their PEL (the first group's standing for all), past LAZYFREE_THRESHOLD (64).
            Value::Stream(s) => s.free_effort() > LAZY_ALLOCATIONS,
            _ => v.heap_size() >= LAZY_BYTES,
        };
        if lazy {
            self.send(Garbage::Value(v));
        }
    }

    pub fn free_db(&self, db: Db) {
        if !db.is_empty() {
            self.send(Garbage::Db(Box::new(db)));
        }
    }

    fn send(&self, g: Garbage) {
        self.counters.0.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.tx.send(g) {
            drop(e.0);
            self.counters.0.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn pending(&self) -> usize {
        self.counters.0.load(Ordering::Relaxed)
    }

    pub fn freed(&self) -> u64 {
        self.counters.1.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT (Redis's lazyfreeResetStats).
    pub fn reset_freed(&self) {
        self.counters.1.store(0, Ordering::Relaxed);
    }
}
