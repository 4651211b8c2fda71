//! Hashes and sets, black-box: what the differential suite cannot compare byte for byte —
//! encoding conversions at the configured thresholds, the random commands (uniqueness,
//! coverage, distribution), SPOP's bookkeeping, HSCAN/SSCAN returning every element even
//! while the table is resized, and memory per element measured against redis-server.
mod common;
use common::{cmd, config_set, encoding, Server};
use redis::Connection;
use std::collections::{HashMap, HashSet};

/// HSET `key` with fields `{prefix}{i}` = `v{i}` for i in `range`, in batches.
fn fill_hash(c: &mut Connection, key: &str, prefix: &str, range: std::ops::Range<usize>) {
    let items: Vec<usize> = range.collect();
    for chunk in items.chunks(500) {
        let mut r = redis::cmd("HSET");
        r.arg(key);
        for i in chunk {
            r.arg(format!("{prefix}{i}")).arg(format!("v{i}"));
        }
        let _: i64 = r.query(c).unwrap();
    }
}

/// SADD `key` with members `{prefix}{i}` for i in `range`, in batches.
fn fill_set(c: &mut Connection, key: &str, prefix: &str, range: std::ops::Range<usize>) {
    let items: Vec<usize> = range.collect();
    for chunk in items.chunks(500) {
        let mut r = redis::cmd("SADD");
        r.arg(key);
        for i in chunk {
            r.arg(format!("{prefix}{i}"));
        }
        let _: i64 = r.query(c).unwrap();
    }
}

#[test]
fn hash_encoding_follows_the_thresholds() {
    let s = Server::start(&[]);
    let mut c = s.client();
    // Defaults: 512 entries, 64-byte values.
    fill_hash(&mut c, "h", "f", 0..512);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    fill_hash(&mut c, "h", "f", 512..513);
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let _: i64 = cmd(&mut c, &["HSET", "v", "f", &"x".repeat(64)]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    let _: i64 = cmd(&mut c, &["HSET", "v", "g", &"x".repeat(65)]);
    assert_eq!(encoding(&mut c, "v"), "hashtable");

    config_set(&mut c, "hash-max-listpack-entries", "10");
    config_set(&mut c, "hash-max-listpack-value", "5");
    fill_hash(&mut c, "s", "f", 0..10);
    assert_eq!(encoding(&mut c, "s"), "listpack");
    let _: i64 = cmd(&mut c, &["HINCRBY", "s", "counter", "1"]);
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    // One-way: emptying most of it and raising the limits does not convert back.
    for i in 0..10 {
        let _: i64 = cmd(&mut c, &["HDEL", "s", &format!("f{i}")]);
    }
    config_set(&mut c, "hash-max-listpack-entries", "512");
    let _: i64 = cmd(&mut c, &["HSET", "s", "a", "1"]);
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    let all: HashMap<String, String> = cmd(&mut c, &["HGETALL", "s"]);
    assert_eq!(
        all,
        HashMap::from([("counter".into(), "1".into()), ("a".into(), "1".into())])
    );
    // A value growing past the limit through HINCRBYFLOAT converts too.
    let _: i64 = cmd(&mut c, &["HSET", "fl", "x", "1"]);
    let _: String = cmd(&mut c, &["HINCRBYFLOAT", "fl", "x", "0.125"]);
    assert_eq!(encoding(&mut c, "fl"), "listpack");
    let _: String = cmd(&mut c, &["HINCRBYFLOAT", "fl", "x", "0.0001"]);
    assert_eq!(encoding(&mut c, "fl"), "hashtable");
}

#[test]
fn set_encoding_follows_the_thresholds() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let ints: Vec<String> = (0..512).map(|i| (i * 1000 - 250_000).to_string()).collect();
    let mut r = redis::cmd("SADD");
    r.arg("s").arg(&ints);
    let _: i64 = r.query(&mut c).unwrap();
    assert_eq!(encoding(&mut c, "s"), "intset");
    let sorted: Vec<i64> = cmd(&mut c, &["SMEMBERS", "s"]);
    assert!(
        sorted.windows(2).all(|w| w[0] < w[1]),
        "intset members come sorted"
    );
    let _: i64 = cmd(&mut c, &["SADD", "s", "9999999999"]);
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    assert_eq!(cmd::<i64>(&mut c, &["SCARD", "s"]), 513);

    let _: i64 = cmd(&mut c, &["SADD", "t", "1", "2", "notanint"]);
    assert_eq!(encoding(&mut c, "t"), "hashtable");
    let _: i64 = cmd(&mut c, &["SREM", "t", "notanint"]);
    assert_eq!(encoding(&mut c, "t"), "hashtable");

    config_set(&mut c, "set-max-intset-entries", "4");
    let _: i64 = cmd(&mut c, &["SADD", "u", "1", "2", "3", "4"]);
    assert_eq!(encoding(&mut c, "u"), "intset");
    let _: i64 = cmd(&mut c, &["SADD", "u", "5"]);
    assert_eq!(encoding(&mut c, "u"), "hashtable");
    // Stored algebra results start as an intset, like Redis's.
    let _: i64 = cmd(&mut c, &["SINTERSTORE", "w", "u", "u"]);
    assert_eq!(encoding(&mut c, "w"), "hashtable");
    let _: i64 = cmd(&mut c, &["SADD", "few", "1", "2"]);
    let _: i64 = cmd(&mut c, &["SINTERSTORE", "w", "u", "few"]);
    assert_eq!(encoding(&mut c, "w"), "intset");
}

fn assert_distinct_subset(got: &[String], all: &HashSet<String>, expect_len: usize, what: &str) {
    assert_eq!(got.len(), expect_len, "{what}");
    let uniq: HashSet<&String> = got.iter().collect();
    assert_eq!(uniq.len(), got.len(), "{what}: duplicates in {got:?}");
    assert!(got.iter().all(|m| all.contains(m)), "{what}: not a member");
}

/// Every member drawn, and the counts pass a chi-square test (6 sigma over the expected
/// statistic, so a fair sampler fails about once in a billion runs).
fn assert_uniform(counts: &HashMap<String, usize>, members: usize, draws: usize, what: &str) {
    assert_eq!(counts.len(), members, "{what}: every member drawn");
    let mean = draws as f64 / members as f64;
    let chi2: f64 = counts
        .values()
        .map(|&n| (n as f64 - mean).powi(2) / mean)
        .sum();
    let dof = (members - 1) as f64;
    let bound = dof + 6.0 * (2.0 * dof).sqrt();
    assert!(
        chi2 < bound,
        "{what}: chi-square {chi2:.1} over {bound:.1} ({counts:?})"
    );
}

#[test]
fn srandmember_and_spop_pick_distinct_members_uniformly() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: i64 = cmd(
        &mut c,
        &[
            "SADD", "ints", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
        ],
    );
    fill_set(&mut c, "big", "m", 0..1000);
    for (key, size) in [("ints", 10usize), ("big", 1000)] {
        let all: HashSet<String> = cmd(&mut c, &["SMEMBERS", key]);
        // Case 1 (count 1), case 4 (few), case 3 (most), case 2 (all or more).
        for n in [1, size / 5, size * 2 / 3, size - 1, size, size + 5] {
            let got: Vec<String> = cmd(&mut c, &["SRANDMEMBER", key, &n.to_string()]);
            assert_distinct_subset(&got, &all, n.min(size), &format!("SRANDMEMBER {key} {n}"));
        }
        let draws = 20 * size.max(1000);
        let got: Vec<String> = cmd(&mut c, &["SRANDMEMBER", key, &format!("-{draws}")]);
        assert_eq!(got.len(), draws);
        let mut counts = HashMap::new();
        got.into_iter()
            .for_each(|m| *counts.entry(m).or_insert(0) += 1);
        assert_uniform(&counts, size, draws, &format!("SRANDMEMBER {key} -{draws}"));
        let mut single = HashMap::new();
        for _ in 0..(200 * size.min(10)) {
            let m: String = cmd(&mut c, &["SRANDMEMBER", key]);
            *single.entry(m).or_insert(0) += 1;
        }
        if size <= 10 {
            assert_uniform(&single, size, 2000, &format!("SRANDMEMBER {key}"));
        }
    }

    // SPOP: few (one by one) and most (rebuild) both remove exactly what they return.
    for (n, size) in [(3usize, 1000usize), (900, 1000), (5, 10), (9, 10)] {
        let key = format!("pop{n}_{size}");
        fill_set(&mut c, &key, "", 0..size);
        let all: HashSet<String> = cmd(&mut c, &["SMEMBERS", &key]);
        let popped: Vec<String> = cmd(&mut c, &["SPOP", &key, &n.to_string()]);
        assert_distinct_subset(&popped, &all, n, &format!("SPOP {key} {n}"));
        let left: HashSet<String> = cmd(&mut c, &["SMEMBERS", &key]);
        assert_eq!(left.len(), size - n);
        assert!(popped.iter().all(|m| !left.contains(m)));
        let single: String = cmd(&mut c, &["SPOP", &key]);
        assert!(left.contains(&single));
        assert_eq!(cmd::<usize>(&mut c, &["SCARD", &key]), size - n - 1);
    }
    // Popping most of a hashtable of integers keeps the rest as a fresh intset (as Redis).
    fill_set(&mut c, "wide", "", 0..600);
    assert_eq!(encoding(&mut c, "wide"), "hashtable");
    let _: Vec<String> = cmd(&mut c, &["SPOP", "wide", "590"]);
    assert_eq!(encoding(&mut c, "wide"), "intset");
    assert_eq!(cmd::<usize>(&mut c, &["SCARD", "wide"]), 10);
}

#[test]
fn hrandfield_picks_distinct_fields_uniformly() {
    let s = Server::start(&[]);
    let mut c = s.client();
    fill_hash(&mut c, "small", "f", 0..10);
    fill_hash(&mut c, "big", "f", 0..1000);
    assert_eq!(encoding(&mut c, "small"), "listpack");
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    for (key, size) in [("small", 10usize), ("big", 1000)] {
        let all: HashMap<String, String> = cmd(&mut c, &["HGETALL", key]);
        let fields: HashSet<String> = all.keys().cloned().collect();
        for n in [1, size / 5, size * 2 / 3, size, size + 1] {
            let got: Vec<String> = cmd(&mut c, &["HRANDFIELD", key, &n.to_string()]);
            assert_distinct_subset(&got, &fields, n.min(size), &format!("HRANDFIELD {key} {n}"));
            let pairs: Vec<String> =
                cmd(&mut c, &["HRANDFIELD", key, &n.to_string(), "WITHVALUES"]);
            assert_eq!(pairs.len(), 2 * n.min(size));
            for p in pairs.chunks(2) {
                assert_eq!(all[&p[0]], p[1], "WITHVALUES pairs a field with its value");
            }
        }
        let draws = 20 * size.max(1000);
        let got: Vec<String> = cmd(&mut c, &["HRANDFIELD", key, &format!("-{draws}")]);
        let mut counts = HashMap::new();
        got.into_iter()
            .for_each(|m| *counts.entry(m).or_insert(0) += 1);
        assert_uniform(&counts, size, draws, &format!("HRANDFIELD {key} -{draws}"));
        let pairs: Vec<String> = cmd(&mut c, &["HRANDFIELD", key, "-50", "WITHVALUES"]);
        assert_eq!(pairs.len(), 100);
        assert!(pairs.chunks(2).all(|p| all[&p[0]] == p[1]));
    }
}

/// Runs a full HSCAN/SSCAN with `count`, calling `between(step)` after every call; returns
/// every element returned (field names only for HSCAN).
fn full_scan(
    c: &mut Connection,
    cmd_name: &str,
    key: &str,
    count: usize,
    mut between: impl FnMut(&mut Connection, usize),
) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    let mut step = 0;
    loop {
        let (next, items): (String, Vec<String>) =
            cmd(c, &[cmd_name, key, &cursor, "COUNT", &count.to_string()]);
        if cmd_name == "HSCAN" {
            out.extend(items.chunks(2).map(|p| p[0].clone()));
        } else {
            out.extend(items);
        }
        step += 1;
        between(c, step);
        if next == "0" {
            return out;
        }
        cursor = next;
        assert!(step < 1_000_000, "scan does not terminate");
    }
}

#[test]
fn scans_return_every_element_even_across_resizes() {
    let s = Server::start(&[]);
    let mut c = s.client();
    fill_hash(&mut c, "h", "f", 0..3000);
    fill_set(&mut c, "s", "m", 0..3000);
    for (cmd_name, key, prefix) in [("HSCAN", "h", "f"), ("SSCAN", "s", "m")] {
        let expected: HashSet<String> = (0..3000).map(|i| format!("{prefix}{i}")).collect();
        for count in [1, 10, 100, 5000] {
            let got = full_scan(&mut c, cmd_name, key, count, |_, _| {});
            let seen: HashSet<String> = got.iter().cloned().collect();
            assert_eq!(seen, expected, "{cmd_name} COUNT {count}");
        }
        // Grow the table 10x after a few calls, then shrink it back: elements present for
        // the whole scan are still all returned.
        let got = full_scan(&mut c, cmd_name, key, 20, |c, step| {
            if step == 5 {
                if cmd_name == "HSCAN" {
                    fill_hash(c, key, "extra", 0..30_000);
                } else {
                    fill_set(c, key, "extra", 0..30_000);
                }
            }
            if step == 400 {
                let del = if cmd_name == "HSCAN" { "HDEL" } else { "SREM" };
                for chunk in (0..30_000).collect::<Vec<_>>().chunks(1000) {
                    let mut r = redis::cmd(del);
                    r.arg(key);
                    chunk.iter().for_each(|i| {
                        r.arg(format!("extra{i}"));
                    });
                    let _: i64 = r.query(c).unwrap();
                }
            }
        });
        let seen: HashSet<String> = got
            .into_iter()
            .filter(|m| !m.starts_with("extra"))
            .collect();
        assert_eq!(seen, expected, "{cmd_name} across resizes");
    }
    // MATCH filters what each call collected; together the calls cover every match.
    let mut cursor = "0".to_string();
    let mut matched = HashSet::new();
    loop {
        let (next, items): (String, Vec<String>) = cmd(
            &mut c,
            &["SSCAN", "s", &cursor, "MATCH", "m1*", "COUNT", "50"],
        );
        assert!(items.iter().all(|m| m.starts_with("m1")), "{items:?}");
        matched.extend(items);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let expect: HashSet<String> = (0..3000)
        .map(|i| format!("m{i}"))
        .filter(|m| m.starts_with("m1"))
        .collect();
    assert_eq!(matched, expect);
}

#[test]
fn generic_commands_see_hashes_and_sets() {
    let s = Server::start(&[]);
    let mut c = s.client();
    fill_hash(&mut c, "h", "f", 0..2000);
    fill_set(&mut c, "s", "m", 0..2000);
    let _: i64 = cmd(&mut c, &["HSET", "hs", "a", "1"]);
    let _: i64 = cmd(&mut c, &["SADD", "ss", "1"]);
    assert_eq!(cmd::<String>(&mut c, &["TYPE", "h"]), "hash");
    assert_eq!(cmd::<String>(&mut c, &["TYPE", "s"]), "set");
    let big: i64 = cmd(&mut c, &["MEMORY", "USAGE", "h"]);
    let small: i64 = cmd(&mut c, &["MEMORY", "USAGE", "hs"]);
    assert!(
        big > 2000 * 10 && small < 200,
        "MEMORY USAGE h={big} hs={small}"
    );
    let big: i64 = cmd(&mut c, &["MEMORY", "USAGE", "s"]);
    let small: i64 = cmd(&mut c, &["MEMORY", "USAGE", "ss"]);
    assert!(
        big > 2000 * 10 && small < 200,
        "MEMORY USAGE s={big} ss={small}"
    );
    let _: i64 = cmd(&mut c, &["COPY", "s", "s2"]);
    let _: i64 = cmd(&mut c, &["SREM", "s2", "m1"]);
    assert_eq!(cmd::<i64>(&mut c, &["SCARD", "s"]), 2000);
    assert_eq!(cmd::<i64>(&mut c, &["SCARD", "s2"]), 1999);
    assert_eq!(encoding(&mut c, "s2"), "hashtable");
    let _: () = cmd(&mut c, &["RENAME", "h", "h2"]);
    assert_eq!(cmd::<i64>(&mut c, &["HLEN", "h2"]), 2000);
    // Big values are freed (lazily or not) without trouble.
    assert_eq!(cmd::<i64>(&mut c, &["UNLINK", "h2", "s"]), 2);
    assert_eq!(cmd::<i64>(&mut c, &["DEL", "s2"]), 1);
    let (_, keys): (String, Vec<String>) =
        cmd(&mut c, &["SCAN", "0", "TYPE", "set", "COUNT", "1000"]);
    assert_eq!(keys, vec!["ss".to_string()]);
}

/// Prints bytes per element, slotcache vs redis-server, for the shapes of the report:
/// INFO used_memory (ours counts requested bytes, Redis jemalloc's size classes) and RSS.
/// Run with `cargo test --test hashes_sets -- --ignored --nocapture`.
#[test]
#[ignore]
fn memory_per_element_vs_redis() {
    type Load = Box<dyn Fn(&mut Connection)>;
    let scenarios: Vec<(&str, usize, Load)> = vec![
        (
            "baseline: 100k string keys (B/key)",
            100_000,
            Box::new(|c: &mut Connection| {
                for k in 0..100 {
                    let mut r = redis::cmd("MSET");
                    (0..1000).for_each(|i| {
                        r.arg(format!("h:{}", k * 1000 + i)).arg("x");
                    });
                    let _: () = r.query(c).unwrap();
                }
            }),
        ),
        (
            "100k hashes x 10 fields (listpack)",
            1_000_000,
            Box::new(|c: &mut Connection| {
                let mut p = redis::pipe();
                for k in 0..100_000 {
                    let mut r = redis::cmd("HSET");
                    r.arg(format!("h:{k}"));
                    (0..10).for_each(|i| {
                        r.arg(format!("field{i}")).arg(format!("v{i}"));
                    });
                    p.add_command(r).ignore();
                    if k % 1000 == 999 {
                        let _: () = p.query(c).unwrap();
                        p = redis::pipe();
                    }
                }
            }),
        ),
        (
            "1 hash x 100k fields (hashtable)",
            100_000,
            Box::new(|c: &mut Connection| fill_hash(c, "big", "field:", 0..100_000)),
        ),
        (
            "100k int sets x 10 members (intset)",
            1_000_000,
            Box::new(|c: &mut Connection| {
                let mut p = redis::pipe();
                for k in 0..100_000 {
                    let mut r = redis::cmd("SADD");
                    r.arg(format!("s:{k}"));
                    (0..10).for_each(|i| {
                        r.arg(k * 10 + i);
                    });
                    p.add_command(r).ignore();
                    if k % 1000 == 999 {
                        let _: () = p.query(c).unwrap();
                        p = redis::pipe();
                    }
                }
            }),
        ),
        (
            "1 set x 100k members (hashtable)",
            100_000,
            Box::new(|c: &mut Connection| fill_set(c, "big", "member:", 0..100_000)),
        ),
        (
            "1 set x 100k ints (hashtable)",
            100_000,
            Box::new(|c: &mut Connection| fill_set(c, "big", "", 0..100_000)),
        ),
    ];
    println!(
        "| scenario | slotcache used_memory | redis used_memory | slotcache RSS | redis RSS |"
    );
    println!("|---|---|---|---|---|");
    for (name, n, load) in &scenarios {
        let (xu, xr) = common::measure_memory(Server::start(&[]), load.as_ref(), *n);
        let (yu, yr) = common::measure_memory(Server::start_redis(&[]), load.as_ref(), *n);
        println!("| {name} | {xu:.1} | {yu:.1} | {xr:.1} | {yr:.1} |");
    }
}

/// Counts a client chooses cannot take the server down: a huge negative SRANDMEMBER or
/// HRANDFIELD count (picks with repetition, one reply element each) is refused as ZRANDMEMBER's
/// is, instead of allocating the reply; COMMAND GETKEYS with a key count near i64::MAX gets
/// redis-server's error. The server answers afterwards.
#[test]
fn client_chosen_counts_cannot_kill_the_server() {
    let s = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut c = s.client();
    fill_set(&mut c, "s", "m", 0..10);
    fill_hash(&mut c, "h", "f", 0..10);
    let _: i64 = cmd(&mut c, &["ZADD", "z", "1", "a"]);
    for args in [
        &["SRANDMEMBER", "s", "-1000000000000"][..],
        &["SRANDMEMBER", "s", "-9223372036854775807"],
        &["HRANDFIELD", "h", "-1000000000000"],
        &["HRANDFIELD", "h", "-4611686018427387903", "WITHVALUES"],
        &["ZRANDMEMBER", "z", "-1000000000000"],
    ] {
        let r: redis::RedisResult<redis::Value> = redis::cmd(args[0]).arg(&args[1..]).query(&mut c);
        let e = r.expect_err("refused");
        assert_eq!(e.detail(), Some("value is out of range"), "{args:?}");
    }
    // A bounded negative count still answers with repetition.
    let v: Vec<String> = cmd(&mut c, &["SRANDMEMBER", "s", "-100"]);
    assert_eq!(v.len(), 100);
    let mut r = redis.client();
    for args in [
        &[
            "COMMAND",
            "GETKEYS",
            "ZUNIONSTORE",
            "dst",
            "9223372036854775807",
            "k1",
        ][..],
        &[
            "COMMAND",
            "GETKEYS",
            "ZUNIONSTORE",
            "dst",
            "4611686018427387904",
            "k1",
        ],
        &["COMMAND", "GETKEYS", "ZUNIONSTORE", "dst", "1", "k1"],
    ] {
        let q = |c: &mut Connection| -> String {
            let r: redis::RedisResult<redis::Value> = redis::cmd(args[0]).arg(&args[1..]).query(c);
            format!("{r:?}")
        };
        assert_eq!(q(&mut c), q(&mut r), "{args:?}");
    }
    let pong: String = cmd(&mut c, &["PING"]);
    assert_eq!(pong, "PONG");
}
