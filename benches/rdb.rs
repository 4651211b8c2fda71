//! RDB codec micro-benchmarks, the measurements behind the crate choices recorded in
//! `store/rdb/mod.rs`: CRC64-Jones (`crc` crate, slice-by-16 table) throughput; LZF compression
//! of a 1 KiB and a 100-byte compressible string with our compressor (reused hash table) and
//! with the `lzf` crate's (a fresh 64K-entry table per call); LZF decompression (crate); and
//! encoding one string key/value record as SAVE does for each of 1M keys.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use slotcache::store::rdb::{encode, lzf, CRC64};
use slotcache::store::Value;
use std::time::Duration;

fn text(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"abcdefgh-user:1234;"[i % 19] ^ (i / 97) as u8)
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("rdb");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    let mb = vec![7u8; 1 << 20];
    g.throughput(Throughput::Bytes(mb.len() as u64));
    g.bench_function("crc64 1MiB", |b| b.iter(|| CRC64.checksum(black_box(&mb))));
    for n in [100usize, 1024] {
        let s = text(n);
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(format!("lzf compress ours {n}B"), |b| {
            b.iter(|| lzf::compress(black_box(&s), n - 4))
        });
        g.bench_function(format!("lzf compress crate {n}B"), |b| {
            b.iter(|| ::lzf::compress(black_box(&s)))
        });
        let c = lzf::compress(&s, n - 4).expect("compressible");
        g.bench_function(format!("lzf decompress {n}B"), |b| {
            b.iter(|| lzf::decompress(black_box(&c), n))
        });
    }
    g.throughput(Throughput::Elements(1));
    let v = Value::from_bytes(b"value:1234567890");
    let opts = encode::Options::default();
    let mut out = Vec::with_capacity(1 << 20);
    g.bench_function("encode string record", |b| {
        b.iter(|| {
            out.clear();
            encode::write_entry(
                &mut out,
                b"key:123456",
                black_box(&v),
                None,
                encode::Access::None,
                &opts,
            );
        })
    });
    g.finish();
}

criterion_group!(rdb, benches);
criterion_main!(rdb);
