//! Keyspace micro-benchmarks on `slotcache::store::Store`: filling a database with 1M small
//! string keys (16-byte values, as `redis-benchmark -d 16`), single-key lookups that hit and
//! miss in a 1M-key database, a pipeline of 16 lookups with and without the batch prefetch
//! (Db::prefetch), the key's hash slot (CRC16), and the O(1) per-slot key count (CLUSTER
//! COUNTKEYSINSLOT).
//!
//! Lookups cycle through a shuffled key list so successive probes land in different slot
//! tables, as random client keys would, instead of re-reading one warm cache line.
//!
//! A plain `hashbrown::HashMap` holding the same keys is the comparison group for lookups: it
//! tells the store's own costs (slot hashing, 16384 tables, expiry and LRU bookkeeping) apart from
//! the machine's memory latency.
//!
//! Kept short on purpose (`sample_size(20)`, short measurement; 10 flat samples for the 1M fill)
//! so `cargo bench` stays within a few minutes on a 2-core machine.
mod common;

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput,
};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use slotcache::slot::{key_slot, SLOTS};
use slotcache::store::{EvictionConfig, EvictionPolicy, Store, Ttl, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEYS: usize = 1_000_000;
const VALUE: &[u8] = b"xxxxxxxxxxxxxxxx";

fn new_store() -> Store {
    Store::new(
        16,
        EvictionConfig {
            maxmemory: 0,
            policy: EvictionPolicy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            lazy_expire: false,
        },
    )
}

/// `key:<12 digits>`, the shape of redis-benchmark's `-r` keys.
fn keys(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}:{i:012}").into_bytes())
        .collect()
}

fn filled(keys: &[Vec<u8>]) -> Store {
    let mut store = new_store();
    for k in keys {
        store.insert(0, k, Value::from_bytes(VALUE), Ttl::Clear);
    }
    store
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn insert(c: &mut Criterion) {
    let keys = keys("key", KEYS);
    let mut g = c.benchmark_group("store_insert");
    // Flat sampling runs one fill per sample instead of criterion's 1, 2, 3 ... n ramp (210
    // fills for 20 samples); 10 samples (criterion's minimum) of ~1 s keep this near 15 s.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(12));
    g.throughput(Throughput::Elements(KEYS as u64));
    g.bench_function("1M_keys_16B_values", |b| {
        b.iter_batched(
            new_store,
            |mut store| {
                for k in &keys {
                    store.insert(0, k, Value::from_bytes(VALUE), Ttl::Clear);
                }
                store // dropped outside the timed section
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut present = keys("key", KEYS);
    let mut store = filled(&present);
    assert_eq!(store.db(0).len(), KEYS);
    let mut rng = SmallRng::seed_from_u64(7);
    present.shuffle(&mut rng);
    let mut absent = keys("nokey", 64 * 1024);
    absent.shuffle(&mut rng);
    let now = now_ms();

    let mut g = c.benchmark_group("store_lookup_1M");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("hit", |b| {
        b.iter(|| {
            i = (i + 1) % present.len();
            let found = store.lookup_read(0, &present[i], now, true).is_some();
            assert!(found);
        })
    });
    let mut i = 0;
    g.bench_function("miss", |b| {
        b.iter(|| {
            i = (i + 1) % absent.len();
            let found = store.lookup_read(0, &absent[i], now, true).is_some();
            assert!(!found);
        })
    });
    g.finish();

    let baseline: hashbrown::HashMap<Vec<u8>, [u8; 16], ahash::RandomState> =
        present.iter().map(|k| (k.clone(), [b'x'; 16])).collect();
    let mut g = c.benchmark_group("baseline_hashbrown_lookup_1M");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("hit", |b| {
        b.iter(|| {
            i = (i + 1) % present.len();
            assert!(baseline.get(black_box(&present[i][..])).is_some());
        })
    });
    let mut i = 0;
    g.bench_function("miss", |b| {
        b.iter(|| {
            i = (i + 1) % absent.len();
            assert!(baseline.get(black_box(&absent[i][..])).is_none());
        })
    });
    g.finish();
    drop(baseline);

    // A pipeline of 16 GETs as the connection runs it: with Db::prefetch over the batch first
    // (what conn.rs does), and without (each lookup's misses in turn).
    let mut g = c.benchmark_group("store_pipeline16_lookup_1M");
    g.throughput(Throughput::Elements(16));
    for prefetch in [false, true] {
        let mut i = 0;
        let name = if prefetch { "prefetched" } else { "one_by_one" };
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 16) % (present.len() - 16);
                let batch = &present[i..i + 16];
                if prefetch {
                    store.db(0).prefetch(batch.iter().map(|k| &k[..]));
                }
                for k in batch {
                    assert!(store.lookup_read(0, k, now, true).is_some());
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("key_slot");
    g.throughput(Throughput::Elements(1));
    let key = b"key:000000123456";
    g.bench_function("16_bytes", |b| b.iter(|| key_slot(black_box(key))));
    g.bench_function("16_bytes_crc16_crate_bytewise", |b| {
        b.iter(|| crc16::State::<crc16::XMODEM>::calculate(black_box(key)))
    });
    g.finish();

    let mut g = c.benchmark_group("store_slot_len_1M");
    g.throughput(Throughput::Elements(1));
    let slots: Vec<usize> = present
        .iter()
        .take(4096)
        .map(|k| key_slot(k) as usize)
        .collect();
    let total: usize = (0..SLOTS).map(|s| store.db(0).slot_len(s)).sum();
    assert_eq!(total, KEYS);
    let mut i = 0;
    g.bench_function("slot_len", |b| {
        b.iter(|| {
            i = (i + 1) % slots.len();
            black_box(store.db(0).slot_len(black_box(slots[i])))
        })
    });
    g.bench_function("all_16384_slots", |b| {
        b.iter(|| {
            (0..SLOTS)
                .map(|s| store.db(0).slot_len(black_box(s)))
                .sum::<usize>()
        })
    });
    g.finish();
}

fn config() -> criterion::Criterion {
    common::config(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = insert, lookup
}
criterion_main!(benches);
