//! Codec tests: every value type round-trips through DUMP payloads and whole streams, and
//! mutated or truncated payloads and files never panic (a bounded fuzz run in the normal
//! test suite; the black-box side is tests/persistence.rs).
use super::decode::{payload_value, verify_payload, Reader};
use super::encode::{dump_payload, Options};
use super::*;
use crate::store::types::{hash::Hash, list::End, list::List, set::Set, zset};
use crate::store::{CowBox, Value};
use rand::{Rng, SeedableRng};

fn sample_values() -> Vec<Value> {
    let limits = Limits::default();
    let mut out = vec![
        Value::Int(0),
        Value::Int(-129),
        Value::Int(i64::MAX),
        Value::from_bytes(b"hello"),
        Value::from_bytes(&vec![b'z'; 5000]),
        Value::from_bytes(
            &(0..3000u32)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<_>>(),
        ),
    ];
    for n in [3usize, 200, 5000] {
        let mut l = List::new();
        for i in 0..n {
            let e = if i % 3 == 0 {
                i.to_string()
            } else {
                format!("elem-{i}")
            };
            l.push(End::Right, e.as_bytes(), limits.list);
        }
        out.push(Value::List(CowBox::new(l)));
        let mut h = Hash::default();
        for i in 0..n {
            h.set(
                format!("f{i}").as_bytes(),
                i.to_string().as_bytes(),
                limits.hash,
            );
        }
        out.push(Value::Hash(CowBox::new(h)));
        let mut s = Set::default();
        let mut t = Set::for_member(b"x");
        for i in 0..n {
            s.add(
                ((i as i64) * 100_003 - 7).to_string().as_bytes(),
                limits.set_max_intset,
            );
            t.add(format!("m{i}").as_bytes(), limits.set_max_intset);
        }
        out.push(Value::Set(CowBox::new(s)));
        out.push(Value::Set(CowBox::new(t)));
        let mut z = zset::ZSet::for_first_member(limits.zset, 2);
        for i in 0..n {
            let score = if i % 2 == 0 { i as f64 } else { i as f64 / 3.0 };
            z.add(
                format!("m{i}").as_bytes(),
                score,
                Default::default(),
                limits.zset,
            );
        }
        out.push(Value::ZSet(CowBox::new(z)));
        out.push(Value::Stream(CowBox::new(sample_stream(n as u64))));
    }
    out
}

/// A stream of `n` entries (two field layouts, so both entry encodings), some deleted and
/// trimmed, with a consumer group holding pending entries of two consumers.
fn sample_stream(n: u64) -> crate::store::types::stream::Stream {
    use crate::store::types::stream::{Group, NodeLimits, Stream, StreamId, Trim};
    let lim = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };
    let mut s = Stream::default();
    for i in 1..=n {
        let pairs: Vec<bytes::Bytes> = if i % 5 == 0 {
            vec!["other".into(), i.to_string().into()]
        } else {
            vec![
                "f".into(),
                format!("v{i}").into(),
                "n".into(),
                i.to_string().into(),
            ]
        };
        s.append(StreamId::new(1000 + i, i % 3), &pairs, lim);
    }
    s.delete(StreamId::new(1002, 2));
    s.trim(Trim::MinId(StreamId::new(1002, 0)), false, 0);
    let mut g = Group::new(StreamId::new(1003, 0), Some(3));
    let (a, b) = (bytes::Bytes::from("alice"), bytes::Bytes::from("bob"));
    g.consumer(&a, 5);
    g.consumer(&b, 6);
    g.deliver(StreamId::new(1002, 2), &a, 7, 1);
    g.deliver(StreamId::new(1003, 0), &b, 8, 2);
    s.groups.insert("grp".into(), g);
    s.groups
        .insert("empty".into(), Group::new(StreamId::MIN, None));
    s
}

#[test]
fn every_value_round_trips_through_a_payload() {
    for compress in [true, false] {
        let opts = Options {
            compress,
            list_fill: -2,
        };
        for v in sample_values() {
            let p = dump_payload(&v, &opts);
            assert!(verify_payload(&p));
            let back = payload_value(&p, &Limits::default()).expect("decodes");
            assert_eq!(back, v, "{} {}", v.type_name(), v.encoding());
            assert_eq!(back.encoding(), v.encoding());
        }
    }
}

#[test]
fn a_stream_round_trips() {
    let opts = Options::default();
    let mut buf = Vec::new();
    encode::write_header(&mut buf, 1, 2, None, &opts);
    encode::write_select_db(&mut buf, 3);
    let vals = sample_values();
    for (i, v) in vals.iter().enumerate() {
        let exp = (i % 2 == 0).then_some(4_000_000_000_000 + i as u64);
        encode::write_entry(
            &mut buf,
            format!("k{i}").as_bytes(),
            v,
            exp,
            encode::Access::Idle(5),
            &opts,
        );
    }
    buf.push(RDB_OPCODE_EOF);
    let crc = CRC64.checksum(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    let mut got = Vec::new();
    let mut r = Reader::from_slice(&buf);
    let sum = load::load(&mut r, 16, &Limits::default(), true, |k| {
        got.push(k);
        Ok(())
    })
    .expect("loads");
    assert_eq!(
        sum.aux("redis-ver").unwrap(),
        crate::REDIS_VERSION.as_bytes()
    );
    assert_eq!(got.len(), vals.len());
    for (i, k) in got.iter().enumerate() {
        assert_eq!(k.db, 3);
        assert_eq!(k.value, vals[i]);
        assert_eq!(k.expire_at.is_some(), i % 2 == 0);
        assert_eq!(k.access, encode::Access::Idle(5));
    }
    // A flipped byte in the body fails the checksum (or the parse), never panics.
    let mut bad = buf.clone();
    bad[40] ^= 0x20;
    assert!(load::load(
        &mut Reader::from_slice(&bad),
        16,
        &Limits::default(),
        true,
        |_| Ok(())
    )
    .is_err());
}

/// Mutations of valid payloads and streams: decoding returns Ok or Err, never panics, and
/// never allocates by a declared length (the reader bounds lengths by what is left).
#[test]
fn fuzz_payloads_and_streams() {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed);
    let opts = Options {
        compress: true,
        list_fill: 8,
    };
    let seeds: Vec<Vec<u8>> = sample_values()
        .iter()
        .map(|v| {
            let mut out = vec![encode::value_type(v)];
            encode::write_value(&mut out, v, &opts);
            out
        })
        .filter(|p| p.len() < 20_000)
        .collect();
    let cases = std::env::var("RDB_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000usize);
    for case in 0..cases {
        let mut p = seeds[case % seeds.len()].clone();
        match rng.gen_range(0..4) {
            0 => {
                let i = rng.gen_range(0..p.len());
                p[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let n = rng.gen_range(0..p.len());
                p.truncate(n);
            }
            2 => {
                for _ in 0..rng.gen_range(1..8) {
                    let i = rng.gen_range(0..p.len());
                    p[i] = rng.gen();
                }
            }
            _ => {
                // A huge length prefix where a length is read.
                let i = rng.gen_range(0..p.len());
                let tail = p.split_off(i);
                p.extend_from_slice(&[
                    RDB_64BITLEN,
                    0x7f,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                ]);
                p.extend_from_slice(&tail);
            }
        }
        if p.is_empty() {
            continue;
        }
        let mut r = Reader::from_slice(&p);
        if let Ok(t) = r.read_u8() {
            let _ = r.read_value(t, &Limits::default());
        }
        let mut stream = b"REDIS0010".to_vec();
        stream.extend_from_slice(&p);
        let _ = load::load(
            &mut Reader::from_slice(&stream),
            16,
            &Limits::default(),
            true,
            |_| Ok(()),
        );
    }
}

#[test]
fn hostile_structures_are_refused() {
    let lim = Limits::default();
    let payload = |t: u8, body: &[u8]| {
        let mut out = vec![t];
        out.extend_from_slice(body);
        let mut r = Reader::from_slice(&out);
        let t = r.read_u8().unwrap();
        r.read_value(t, &lim)
    };
    // A set with a duplicate member.
    assert!(payload(RDB_TYPE_SET, &[2, 1, b'a', 1, b'a']).is_err());
    // A hash with a duplicate field.
    assert!(payload(RDB_TYPE_HASH, &[2, 1, b'f', 1, b'v', 1, b'f', 1, b'w']).is_err());
    // A zset with a NaN score (text form 253).
    assert!(payload(RDB_TYPE_ZSET, &[1, 1, b'm', 253]).is_err());
    // A declared count far past the input.
    assert!(payload(
        RDB_TYPE_LIST,
        &[RDB_32BITLEN, 0xff, 0xff, 0xff, 0xff, 1, b'a']
    )
    .is_err());
    // A string longer than the input.
    assert!(payload(RDB_TYPE_STRING, &[RDB_32BITLEN, 0x7f, 0xff, 0xff, 0xff]).is_err());
    // LZF claiming a 1 TB output.
    assert!(payload(
        RDB_TYPE_STRING,
        &[0xc3, 3, RDB_64BITLEN, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2]
    )
    .is_err());
    // Unsorted intset.
    let mut is = vec![];
    is.extend_from_slice(&2u32.to_le_bytes());
    is.extend_from_slice(&2u32.to_le_bytes());
    is.extend_from_slice(&5i16.to_le_bytes());
    is.extend_from_slice(&1i16.to_le_bytes());
    let mut body = vec![is.len() as u8];
    body.extend_from_slice(&is);
    assert!(payload(RDB_TYPE_SET_INTSET, &body).is_err());
    // A stream whose node count runs past the input is refused, not misread.
    assert!(payload(RDB_TYPE_STREAM_LISTPACKS_2, &[0]).is_err());
    assert!(payload(RDB_TYPE_STREAM_LISTPACKS_2, &[5, 16]).is_err());
}
