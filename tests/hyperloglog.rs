//! HyperLogLog, black-box: the estimate stays within three standard errors (3 x 0.81%) for
//! 100k and 1M distinct elements; values move between slotcache and a real redis-server 7.0
//! with GET/SET and count the same on both; the value grows element by element exactly as
//! Redis's does, through the sparse -> dense promotion; writes spoil WATCH.
mod common;
use common::Server;
use redis::{Commands, Connection};

/// Redis's documented standard error for 16384 registers.
const STANDARD_ERROR: f64 = 0.0081;

/// Adds `prefix0 .. prefix{n-1}` to `key` in batches, pipelined.
fn add_range(c: &mut Connection, key: &str, prefix: &str, range: std::ops::Range<u64>) {
    let items: Vec<String> = range.map(|i| format!("{prefix}{i}")).collect();
    let mut pipe = redis::pipe();
    for chunk in items.chunks(10_000) {
        pipe.cmd("PFADD").arg(key).arg(chunk).ignore();
    }
    let _: () = pipe.query(c).unwrap();
}

fn pfcount(c: &mut Connection, keys: &[&str]) -> i64 {
    redis::cmd("PFCOUNT").arg(keys).query(c).unwrap()
}

fn raw(c: &mut Connection, key: &str) -> Vec<u8> {
    c.get(key).unwrap()
}

fn assert_within_error(estimate: i64, n: u64) {
    let err = (estimate as f64 - n as f64).abs() / n as f64;
    assert!(
        err <= 3.0 * STANDARD_ERROR,
        "estimate {estimate} for {n} distinct elements: error {:.3}% exceeds 3 x 0.81%",
        err * 100.0
    );
}

#[test]
fn estimates_within_three_standard_errors() {
    let s = Server::start(&[]);
    let mut c = s.client();
    add_range(&mut c, "k100k", "a", 0..100_000);
    assert_within_error(pfcount(&mut c, &["k100k"]), 100_000);
    add_range(&mut c, "k1m", "b", 0..1_000_000);
    assert_within_error(pfcount(&mut c, &["k1m"]), 1_000_000);
    // Adding the same elements again changes nothing.
    add_range(&mut c, "k100k", "a", 0..100_000);
    assert_within_error(pfcount(&mut c, &["k100k"]), 100_000);
    // The union of disjoint sets, counted and merged.
    assert_within_error(pfcount(&mut c, &["k100k", "k1m"]), 1_100_000);
    let _: () = redis::cmd("PFMERGE")
        .arg(&["u", "k100k", "k1m"])
        .query(&mut c)
        .unwrap();
    assert_within_error(pfcount(&mut c, &["u"]), 1_100_000);
    // Small cardinalities are close to exact.
    add_range(&mut c, "small", "c", 0..100);
    assert_within_error(pfcount(&mut c, &["small"]), 100);
}

#[test]
fn values_round_trip_between_redis_and_slotcache() {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut a, mut b) = (ours.client(), redis.client());
    // A sparse and a dense value built on each side.
    for (key, n) in [("sparse", 300), ("dense", 50_000)] {
        add_range(&mut a, key, "x", 0..n);
        add_range(&mut b, key, "x", 0..n);
        assert_eq!(
            raw(&mut a, key),
            raw(&mut b, key),
            "{key}: same bytes after the same PFADDs"
        );
        let from_redis = raw(&mut b, key);
        let from_ours = raw(&mut a, key);
        let _: () = a.set(format!("{key}-copy"), from_redis).unwrap();
        let _: () = b.set(format!("{key}-copy"), from_ours).unwrap();
        let copy = format!("{key}-copy");
        let expected = pfcount(&mut b, &[key]);
        assert_eq!(
            pfcount(&mut a, &[copy.as_str()]),
            expected,
            "{key} copied from redis"
        );
        assert_eq!(
            pfcount(&mut b, &[copy.as_str()]),
            expected,
            "{key} copied to redis"
        );
        // Both copies keep working and stay identical.
        add_range(&mut a, &copy, "y", 0..1000);
        add_range(&mut b, &copy, "y", 0..1000);
        assert_eq!(
            pfcount(&mut a, &[copy.as_str()]),
            pfcount(&mut b, &[copy.as_str()])
        );
        assert_eq!(raw(&mut a, &copy), raw(&mut b, &copy));
    }
    let keys = ["sparse", "dense", "sparse-copy", "dense-copy"];
    assert_eq!(pfcount(&mut a, &keys), pfcount(&mut b, &keys));
}

#[test]
fn grows_like_redis_one_element_at_a_time() {
    let ours = Server::start(&["--hll-sparse-max-bytes", "1500"]);
    let redis = Server::start_redis(&["--hll-sparse-max-bytes", "1500"]);
    let (mut a, mut b) = (ours.client(), redis.client());
    let mut promoted_at = None;
    for i in 0..1500u32 {
        let e = format!("el{i}");
        let ra: i64 = a.pfadd("g", &e).unwrap();
        let rb: i64 = b.pfadd("g", &e).unwrap();
        assert_eq!(ra, rb, "PFADD reply for element {i}");
        let (la, lb): (usize, usize) = (a.strlen("g").unwrap(), b.strlen("g").unwrap());
        assert_eq!(la, lb, "length after element {i}");
        if i % 25 == 0 || (la == 12304 && promoted_at.is_none()) {
            assert_eq!(
                raw(&mut a, "g"),
                raw(&mut b, "g"),
                "bytes after element {i}"
            );
            assert_eq!(
                pfcount(&mut a, &["g"]),
                pfcount(&mut b, &["g"]),
                "count after element {i}"
            );
        }
        if la == 12304 && promoted_at.is_none() {
            promoted_at = Some(i);
        }
    }
    assert!(
        promoted_at.is_some(),
        "1500 elements promote past 1500 bytes"
    );
    assert_eq!(raw(&mut a, "g"), raw(&mut b, "g"));
}

#[test]
fn writes_spoil_watch_like_redis() {
    for s in [Server::start(&[]), Server::start_redis(&[])] {
        let (mut a, mut other) = (s.client(), s.client());
        let _: i64 = a.pfadd("w", "x").unwrap();
        // PFADD that changes a register, and PFCOUNT refreshing a stale cache, both write.
        for spoiler in [("PFADD", "y"), ("PFCOUNT", "")] {
            let _: () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
            let mut cmd = redis::cmd(spoiler.0);
            cmd.arg("w");
            if !spoiler.1.is_empty() {
                cmd.arg(spoiler.1);
            }
            let _: i64 = cmd.query(&mut other).unwrap();
            let r: Option<Vec<i64>> = redis::pipe()
                .atomic()
                .cmd("PFCOUNT")
                .arg("w")
                .query(&mut a)
                .unwrap();
            assert_eq!(r, None, "{} spoils WATCH (port {})", spoiler.0, s.port);
        }
        // A PFADD that changes nothing and a PFCOUNT answered from the cache do not.
        let _: () = redis::cmd("WATCH").arg("w").query(&mut a).unwrap();
        let _: i64 = other.pfadd("w", "x").unwrap();
        let _: i64 = pfcount(&mut other, &["w"]);
        let r: Option<Vec<i64>> = redis::pipe()
            .atomic()
            .cmd("PFCOUNT")
            .arg("w")
            .query(&mut a)
            .unwrap();
        assert_eq!(r, Some(vec![2]), "port {}", s.port);
    }
}
