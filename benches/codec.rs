//! RESP codec micro-benchmarks: request parsing (a 16-request SET/GET multibulk pipeline, and
//! inline requests) and reply encoding. `redis-protocol` 6 decodes and encodes the same bytes as a
//! comparison group; it is a RESP frame codec only (no inline commands, no RESP3 degradation),
//! so only the comparable shapes have a `redis-protocol` row.
//!
//! redis-protocol is built with its default features (no `bytes`), so its zero-copy
//! `decode_bytes_mut` is not available; `decode_range` (no copies, ranges into the buffer) and
//! `decode` (owned `Vec<u8>` frames) bracket it.
//!
//! Kept short on purpose (`sample_size(20)`, ~2 s per benchmark) so `cargo bench` stays within a
//! few minutes on a 2-core machine.
mod common;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redis_protocol::resp2::{decode as rp_decode, encode as rp_encode, types::OwnedFrame};
use slotcache::protocol::{ParseLimits, Reply, RequestParser, RespVersion};
use std::time::Duration;

const LIMITS: ParseLimits = ParseLimits {
    max_bulk: 512 * 1024 * 1024,
    authenticated: true,
};
const PIPELINE: usize = 16;
const VALUE: &[u8] = b"xxxxxxxxxxxxxxxx"; // 16 bytes, as redis-benchmark -d 16

fn multibulk(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// 16 requests alternating `SET key:<n> <16 bytes>` and `GET key:<n>`, as redis-benchmark -P 16
/// would send them.
fn set_get_pipeline() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PIPELINE {
        let key = format!("key:{:012}", i * 7919);
        if i % 2 == 0 {
            multibulk(&[b"SET", key.as_bytes(), VALUE], &mut out);
        } else {
            multibulk(&[b"GET", key.as_bytes()], &mut out);
        }
    }
    out
}

fn inline_pipeline() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PIPELINE {
        let line = if i % 2 == 0 {
            format!(
                "SET key:{:012} {}\r\n",
                i * 7919,
                std::str::from_utf8(VALUE).unwrap()
            )
        } else {
            format!("GET key:{:012}\r\n", i * 7919)
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Parses every request in `wire`, returning how many were found (so nothing is optimized away).
fn slotcache_parse_all(wire: &mut BytesMut) -> usize {
    let mut parser = RequestParser::new();
    let mut n = 0;
    while let Some(args) = parser.next(wire, &LIMITS).expect("valid request") {
        n += args.len();
        black_box(&args);
    }
    n
}

fn redis_protocol_decode_all(wire: &[u8]) -> usize {
    let mut at = 0;
    let mut n = 0;
    while let Some((frame, used)) = rp_decode::decode(&wire[at..]).expect("valid frame") {
        at += used;
        n += 1;
        black_box(&frame);
    }
    n
}

fn redis_protocol_decode_range_all(wire: &[u8]) -> usize {
    let mut at = 0;
    let mut n = 0;
    while let Some((frame, used)) = rp_decode::decode_range(&wire[at..]).expect("valid frame") {
        at += used;
        n += 1;
        black_box(&frame);
    }
    n
}

fn parse(c: &mut Criterion) {
    let wire = set_get_pipeline();
    // Both sides must see the same 16 requests.
    assert_eq!(redis_protocol_decode_all(&wire), PIPELINE);
    let mut check = BytesMut::from(&wire[..]);
    let mut parser = RequestParser::new();
    let mut found = 0;
    while let Some(args) = parser.next(&mut check, &LIMITS).unwrap() {
        assert!(args[0] == "SET" || args[0] == "GET");
        found += 1;
    }
    assert_eq!(found, PIPELINE);

    let mut g = c.benchmark_group("parse_pipeline16_multibulk");
    g.throughput(Throughput::Elements(PIPELINE as u64));
    g.bench_function("slotcache", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| slotcache_parse_all(buf),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("redis_protocol_decode", |b| {
        b.iter(|| redis_protocol_decode_all(black_box(&wire)))
    });
    g.bench_function("redis_protocol_decode_range", |b| {
        b.iter(|| redis_protocol_decode_range_all(black_box(&wire)))
    });
    g.finish();

    let inline = inline_pipeline();
    let mut g = c.benchmark_group("parse_inline");
    g.throughput(Throughput::Elements(PIPELINE as u64));
    g.bench_function("slotcache_pipeline16", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&inline[..]),
            |buf| slotcache_parse_all(buf),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Replies paired with the redis-protocol frame that encodes to the same RESP2 bytes.
fn replies() -> Vec<(&'static str, Reply, OwnedFrame)> {
    let ten: Vec<Reply> = (0..10)
        .map(|i| Reply::bulk(format!("member:{i:04}").as_bytes()))
        .collect();
    let ten_frames = (0..10)
        .map(|i| OwnedFrame::BulkString(format!("member:{i:04}").into_bytes()))
        .collect();
    vec![
        ("ok", Reply::Ok, OwnedFrame::SimpleString(b"OK".to_vec())),
        (
            "bulk16",
            Reply::Bulk(Bytes::from_static(VALUE)),
            OwnedFrame::BulkString(VALUE.to_vec()),
        ),
        ("nil", Reply::Nil, OwnedFrame::Null),
        ("int", Reply::Int(1_234_567), OwnedFrame::Integer(1_234_567)),
        ("array10", Reply::Array(ten), OwnedFrame::Array(ten_frames)),
    ]
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_reply");
    for (name, reply, frame) in replies() {
        // Same bytes from both encoders, or the comparison means nothing.
        let mut ours = BytesMut::new();
        reply.encode(RespVersion::Resp2, &mut ours);
        let mut theirs = vec![0u8; 4096];
        let len = rp_encode::encode(&mut theirs, &frame, false).unwrap();
        assert_eq!(&ours[..], &theirs[..len], "{name}");

        let mut out = BytesMut::with_capacity(64 * 1024);
        g.bench_function(format!("slotcache_resp2/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(&reply).encode(RespVersion::Resp2, &mut out);
                black_box(out.len())
            })
        });
        g.bench_function(format!("slotcache_resp3/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(&reply).encode(RespVersion::Resp3, &mut out);
                black_box(out.len())
            })
        });
        g.bench_function(format!("redis_protocol/{name}"), |b| {
            b.iter(|| rp_encode::encode(&mut theirs, black_box(&frame), false).unwrap())
        });
    }
    // A pipeline's worth of replies into one buffer, as the server flushes them.
    let pipeline: Vec<Reply> = (0..PIPELINE)
        .map(|i| {
            if i % 2 == 0 {
                Reply::Ok
            } else {
                Reply::Bulk(Bytes::from_static(VALUE))
            }
        })
        .collect();
    let mut out = BytesMut::with_capacity(64 * 1024);
    g.throughput(Throughput::Elements(PIPELINE as u64));
    g.bench_function("slotcache_resp2/pipeline16_ok_bulk", |b| {
        b.iter(|| {
            out.clear();
            for r in black_box(&pipeline) {
                r.encode(RespVersion::Resp2, &mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

fn config() -> criterion::Criterion {
    common::config(Duration::from_millis(1500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, encode
}
criterion_main!(benches);
