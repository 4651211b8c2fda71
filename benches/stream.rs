//! Stream micro-benchmarks on `slotcache::store::types::stream::Stream`: XADD's append (an
//! entry with the node's fields, so SAMEFIELDS, into 100-entry listpack nodes), XRANGE of 10
//! entries from the middle of a 100k-entry stream (binary search over nodes, then one node
//! decoded), XREVRANGE COUNT 1 (the last entry), and XDEL + XADD churn (tombstones in place).
//! Short runs (`sample_size(20)`) to keep `cargo bench` quick on a 2-core machine.
mod common;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use slotcache::store::types::stream::{NodeLimits, Stream, StreamId};
use std::time::Duration;

const LIM: NodeLimits = NodeLimits {
    max_bytes: 4096,
    max_entries: 100,
};

fn fields(i: u64) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"name"),
        Bytes::from(format!("user{}", i % 1000)),
        Bytes::from_static(b"score"),
        Bytes::from((i % 97).to_string()),
        Bytes::from_static(b"tag"),
        Bytes::from(format!("t{}", i % 10)),
    ]
}

fn filled(n: u64) -> Stream {
    let mut s = Stream::default();
    for i in 1..=n {
        s.append(StreamId::new(i, 0), &fields(i), LIM);
    }
    s
}

fn append(c: &mut Criterion) {
    let f = fields(7);
    c.bench_function("stream/xadd_append", |b| {
        b.iter_batched_ref(
            || (filled(1000), 1001u64),
            |(s, next)| {
                for _ in 0..100 {
                    s.append(StreamId::new(*next, 0), black_box(&f), LIM);
                    *next += 1;
                }
            },
            BatchSize::SmallInput,
        )
    });
}

fn read(c: &mut Criterion) {
    let s = filled(100_000);
    c.bench_function("stream/xrange_10_middle", |b| {
        b.iter(|| {
            black_box(s.range(
                StreamId::new(black_box(50_000), 0),
                StreamId::MAX,
                10,
                false,
            ))
        })
    });
    c.bench_function("stream/xrevrange_last", |b| {
        b.iter(|| black_box(s.range(StreamId::MIN, StreamId::MAX, 1, true)))
    });
    c.bench_function("stream/xdel_then_xadd", |b| {
        b.iter_batched_ref(
            || (filled(10_000), 1u64),
            |(s, i)| {
                s.delete(StreamId::new(*i, 0));
                s.append(StreamId::new(10_000 + *i, 0), &fields(*i), LIM);
                *i += 1;
            },
            BatchSize::SmallInput,
        )
    });
}

fn config() -> criterion::Criterion {
    common::config(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = append, read
}
criterion_main!(benches);
