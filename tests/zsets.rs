//! Sorted sets, black-box: what the differential suite cannot compare byte for byte —
//! encoding conversions at the configured thresholds, ranks and ranges on a 100k-member zset
//! checked against a model, ZSCAN returning every member while the zset changes under it
//! (including the slot compaction after mass deletion), ZRANDMEMBER's contracts, and memory
//! per element measured against redis-server (an ignored test that prints the table).
mod common;
use common::{cmd, config_set, encoding, Server};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redis::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// ZADD `key` with `items`, in batches.
fn zadd(c: &mut Connection, key: &str, items: &[(f64, String)]) {
    for chunk in items.chunks(1000) {
        let mut r = redis::cmd("ZADD");
        r.arg(key);
        for (s, m) in chunk {
            r.arg(*s).arg(m);
        }
        let _: i64 = r.query(c).unwrap();
    }
}

fn members(n: usize, prefix: &str) -> Vec<(f64, String)> {
    (0..n).map(|i| (i as f64, format!("{prefix}{i}"))).collect()
}

fn range_withscores(c: &mut Connection, key: &str) -> Vec<(String, f64)> {
    cmd(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

#[test]
fn encoding_follows_the_thresholds() {
    let s = Server::start(&[]);
    let mut c = s.client();
    // Defaults: 128 entries, 64-byte members.
    zadd(&mut c, "z", &members(128, "m"));
    assert_eq!(encoding(&mut c, "z"), "listpack");
    let before = range_withscores(&mut c, "z");
    zadd(&mut c, "z", &[(0.5, "extra".into())]);
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    let mut after = range_withscores(&mut c, "z");
    after.retain(|(m, _)| m != "extra");
    assert_eq!(after, before, "conversion keeps every member and score");

    zadd(&mut c, "v", &[(1.0, "x".repeat(64))]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    zadd(&mut c, "v", &[(2.0, "y".repeat(65))]);
    assert_eq!(encoding(&mut c, "v"), "skiplist");
    // A new key is created for its first member: too long means skiplist at once.
    zadd(&mut c, "w", &[(1.0, "y".repeat(65)), (2.0, "a".into())]);
    assert_eq!(encoding(&mut c, "w"), "skiplist");
    let _: f64 = cmd(&mut c, &["ZINCRBY", "w2", "1", &"q".repeat(65)]);
    assert_eq!(encoding(&mut c, "w2"), "skiplist");
    // Updating a member's score never converts.
    zadd(&mut c, "u", &members(3, "m"));
    let _: f64 = cmd(&mut c, &["ZINCRBY", "u", "100", "m0"]);
    assert_eq!(encoding(&mut c, "u"), "listpack");

    config_set(&mut c, "zset-max-listpack-entries", "4");
    config_set(&mut c, "zset-max-listpack-value", "8");
    zadd(&mut c, "s", &members(4, "m"));
    assert_eq!(encoding(&mut c, "s"), "listpack");
    zadd(&mut c, "s", &[(9.0, "m9".into())]);
    assert_eq!(encoding(&mut c, "s"), "skiplist");
    // One-way: shrinking and raising the limits does not convert back.
    let _: i64 = cmd(&mut c, &["ZREMRANGEBYRANK", "s", "0", "-2"]);
    config_set(&mut c, "zset-max-listpack-entries", "128");
    zadd(&mut c, "s", &[(1.0, "a".into())]);
    assert_eq!(encoding(&mut c, "s"), "skiplist");
    config_set(&mut c, "zset-max-listpack-entries", "4");

    // Results built whole start compact when they fit.
    let _: i64 = cmd(&mut c, &["ZUNIONSTORE", "r1", "1", "s"]);
    assert_eq!(encoding(&mut c, "r1"), "listpack");
    zadd(&mut c, "big", &members(10, "m"));
    let _: i64 = cmd(&mut c, &["ZUNIONSTORE", "r2", "1", "big"]);
    assert_eq!(encoding(&mut c, "r2"), "skiplist");
    let _: i64 = cmd(&mut c, &["ZRANGESTORE", "r3", "big", "0", "3"]);
    assert_eq!(encoding(&mut c, "r3"), "listpack");
    let _: i64 = cmd(&mut c, &["ZRANGESTORE", "r4", "big", "0", "4"]);
    assert_eq!(encoding(&mut c, "r4"), "skiplist");
    zadd(&mut c, "long", &[(1.0, "123456789".into())]);
    let _: i64 = cmd(&mut c, &["ZINTERSTORE", "r5", "1", "long"]);
    assert_eq!(encoding(&mut c, "r5"), "skiplist");
    let _: i64 = cmd(&mut c, &["SADD", "set", "a", "b"]);
    let _: i64 = cmd(&mut c, &["ZUNIONSTORE", "r6", "1", "set"]);
    assert_eq!(encoding(&mut c, "r6"), "listpack");
    assert_eq!(
        range_withscores(&mut c, "r6"),
        vec![("a".to_string(), 1.0), ("b".to_string(), 1.0)]
    );

    config_set(&mut c, "zset-max-listpack-entries", "0");
    zadd(&mut c, "zero", &[(1.0, "a".into())]);
    assert_eq!(encoding(&mut c, "zero"), "skiplist");
    let _: i64 = cmd(&mut c, &["ZUNIONSTORE", "r7", "1", "r6"]);
    assert_eq!(encoding(&mut c, "r7"), "skiplist");
}

/// The model: member -> score, and the members in Redis's order.
struct Model {
    scores: BTreeMap<String, f64>,
}

impl Model {
    fn sorted(&self) -> Vec<(f64, String)> {
        let mut v: Vec<(f64, String)> = self.scores.iter().map(|(m, s)| (*s, m.clone())).collect();
        v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
        v
    }
}

/// Checks ranks, scores, rank ranges, score ranges and counts at random points.
fn check_against(c: &mut Connection, key: &str, model: &Model, rng: &mut SmallRng) {
    let sorted = model.sorted();
    let n = sorted.len();
    let card: usize = cmd(c, &["ZCARD", key]);
    assert_eq!(card, n);
    let mut p = redis::pipe();
    let picks: Vec<usize> = (0..2000).map(|_| rng.gen_range(0..n)).collect();
    for &i in &picks {
        p.cmd("ZRANK").arg(key).arg(&sorted[i].1);
        p.cmd("ZREVRANK").arg(key).arg(&sorted[i].1);
        p.cmd("ZSCORE").arg(key).arg(&sorted[i].1);
    }
    let got: Vec<redis::Value> = p.query(c).unwrap();
    for (k, &i) in picks.iter().enumerate() {
        let rank: usize = redis::from_redis_value(&got[3 * k]).unwrap();
        let rev: usize = redis::from_redis_value(&got[3 * k + 1]).unwrap();
        let score: f64 = redis::from_redis_value(&got[3 * k + 2]).unwrap();
        assert_eq!(
            (rank, rev, score),
            (i, n - 1 - i, sorted[i].0),
            "member {}",
            sorted[i].1
        );
    }
    for _ in 0..50 {
        let i = rng.gen_range(0..n);
        let got: Vec<String> = cmd(c, &["ZRANGE", key, &i.to_string(), &(i + 9).to_string()]);
        let want: Vec<String> = sorted[i..(i + 10).min(n)]
            .iter()
            .map(|e| e.1.clone())
            .collect();
        assert_eq!(got, want, "ZRANGE {i}");
        let got: Vec<String> = cmd(
            c,
            &["ZRANGE", key, &i.to_string(), &(i + 4).to_string(), "REV"],
        );
        let want: Vec<String> = sorted
            .iter()
            .rev()
            .skip(i)
            .take(5)
            .map(|e| e.1.clone())
            .collect();
        assert_eq!(got, want, "ZRANGE {i} REV");
        let (lo, hi) = (
            rng.gen_range(0..250) as f64,
            rng.gen_range(0..250) as f64 + 0.5,
        );
        let in_range: Vec<&(f64, String)> =
            sorted.iter().filter(|e| e.0 > lo && e.0 <= hi).collect();
        let count: usize = cmd(c, &["ZCOUNT", key, &format!("({lo}"), &hi.to_string()]);
        assert_eq!(count, in_range.len(), "ZCOUNT ({lo} {hi}");
        let got: Vec<String> = cmd(
            c,
            &[
                "ZRANGEBYSCORE",
                key,
                &format!("({lo}"),
                &hi.to_string(),
                "LIMIT",
                "3",
                "5",
            ],
        );
        let want: Vec<String> = in_range
            .iter()
            .skip(3)
            .take(5)
            .map(|e| e.1.clone())
            .collect();
        assert_eq!(got, want, "ZRANGEBYSCORE ({lo} {hi} LIMIT 3 5");
        let got: Vec<String> = cmd(
            c,
            &[
                "ZREVRANGEBYSCORE",
                key,
                &hi.to_string(),
                &format!("({lo}"),
                "LIMIT",
                "2",
                "4",
            ],
        );
        let want: Vec<String> = in_range
            .iter()
            .rev()
            .skip(2)
            .take(4)
            .map(|e| e.1.clone())
            .collect();
        assert_eq!(got, want, "ZREVRANGEBYSCORE {hi} ({lo} LIMIT 2 4");
    }
}

#[test]
fn ranks_on_a_100k_zset_match_a_model() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let mut rng = SmallRng::seed_from_u64(42);
    let n = 100_000;
    // Scores with many ties (so member order matters) and fractions.
    let items: Vec<(f64, String)> = (0..n)
        .map(|i| ((rng.gen_range(0..1000) as f64) / 4.0, format!("m{i}")))
        .collect();
    zadd(&mut c, "big", &items);
    assert_eq!(encoding(&mut c, "big"), "skiplist");
    let mut model = Model {
        scores: items.iter().map(|(s, m)| (m.clone(), *s)).collect(),
    };
    check_against(&mut c, "big", &model, &mut rng);

    // Updates move members; removals by member, rank and score; pops at both ends.
    let mut p = redis::pipe();
    for _ in 0..3000 {
        let m = format!("m{}", rng.gen_range(0..n));
        let by = (rng.gen_range(-40..40) as f64) / 4.0;
        *model.scores.get_mut(&m).unwrap() += by;
        p.cmd("ZINCRBY").arg("big").arg(by).arg(&m).ignore();
    }
    for _ in 0..3000 {
        let m = format!("m{}", rng.gen_range(0..n));
        model.scores.remove(&m);
        p.cmd("ZREM").arg("big").arg(&m).ignore();
    }
    for i in 0..2000 {
        let m = format!("new{i}");
        let s = (rng.gen_range(-100..1100) as f64) / 4.0;
        model.scores.insert(m.clone(), s);
        p.cmd("ZADD").arg("big").arg(s).arg(&m).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    check_against(&mut c, "big", &model, &mut rng);

    let sorted = model.sorted();
    let removed: i64 = cmd(&mut c, &["ZREMRANGEBYRANK", "big", "1000", "4999"]);
    assert_eq!(removed, 4000);
    sorted[1000..5000].iter().for_each(|e| {
        model.scores.remove(&e.1);
    });
    let doomed: Vec<String> = model
        .sorted()
        .iter()
        .filter(|e| e.0 >= 100.0 && e.0 < 120.0)
        .map(|e| e.1.clone())
        .collect();
    let removed: usize = cmd(&mut c, &["ZREMRANGEBYSCORE", "big", "100", "(120"]);
    assert_eq!(removed, doomed.len());
    doomed.iter().for_each(|m| {
        model.scores.remove(m);
    });
    let sorted = model.sorted();
    let popped: Vec<(String, f64)> = cmd(&mut c, &["ZPOPMIN", "big", "25"]);
    assert_eq!(
        popped,
        sorted[..25]
            .iter()
            .map(|e| (e.1.clone(), e.0))
            .collect::<Vec<_>>()
    );
    let popped: Vec<(String, f64)> = cmd(&mut c, &["ZPOPMAX", "big", "25"]);
    let want: Vec<(String, f64)> = sorted
        .iter()
        .rev()
        .take(25)
        .map(|e| (e.1.clone(), e.0))
        .collect();
    assert_eq!(popped, want);
    for e in sorted[..25].iter().chain(sorted.iter().rev().take(25)) {
        model.scores.remove(&e.1);
    }
    check_against(&mut c, "big", &model, &mut rng);

    // Lex ranges on a same-score skiplist.
    let lex: Vec<(f64, String)> = (0..20_000).map(|i| (0.0, format!("k{i:05}"))).collect();
    zadd(&mut c, "lex", &lex);
    let count: usize = cmd(&mut c, &["ZLEXCOUNT", "lex", "[k01000", "(k02000"]);
    assert_eq!(count, 1000);
    let got: Vec<String> = cmd(
        &mut c,
        &["ZRANGE", "lex", "(k12345", "+", "BYLEX", "LIMIT", "0", "3"],
    );
    assert_eq!(got, ["k12346", "k12347", "k12348"]);
    let got: Vec<String> = cmd(
        &mut c,
        &["ZREVRANGEBYLEX", "lex", "(k12345", "-", "LIMIT", "0", "2"],
    );
    assert_eq!(got, ["k12344", "k12343"]);
    let removed: usize = cmd(&mut c, &["ZREMRANGEBYLEX", "lex", "[k05000", "[k14999"]);
    assert_eq!(removed, 10_000);
    let rank: usize = cmd(&mut c, &["ZRANK", "lex", "k15000"]);
    assert_eq!(rank, 5000);
}

/// Full ZSCAN from cursor 0 with `count`, running `between(step)` after each call.
fn scan_all(
    c: &mut Connection,
    key: &str,
    count: usize,
    mut between: impl FnMut(&mut Connection, usize),
) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = "0".to_string();
    for step in 0.. {
        let (next, items): (String, Vec<String>) =
            cmd(c, &["ZSCAN", key, &cursor, "COUNT", &count.to_string()]);
        assert_eq!(items.len() % 2, 0);
        out.extend(items.chunks(2).map(|p| p[0].clone()));
        if next == "0" {
            break;
        }
        assert!(step < 100_000, "scan does not end");
        cursor = next;
        between(c, step);
    }
    out
}

#[test]
fn zscan_returns_every_member() {
    let s = Server::start(&[]);
    let mut c = s.client();
    // A listpack comes back whole, cursor 0, whatever COUNT says.
    zadd(&mut c, "small", &members(50, "m"));
    let (next, items): (String, Vec<String>) = cmd(&mut c, &["ZSCAN", "small", "0", "COUNT", "1"]);
    assert_eq!((next.as_str(), items.len()), ("0", 100));

    // An unchanged skiplist: every member exactly once.
    zadd(&mut c, "big", &members(30_000, "m"));
    let got = scan_all(&mut c, "big", 100, |_, _| {});
    assert_eq!(got.len(), 30_000);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 30_000);
    let got = scan_all(&mut c, "big", 1000, |_, _| {});
    assert_eq!(got.len(), 30_000);

    // MATCH filters members (and drops their scores).
    let (_, items): (String, Vec<String>) = cmd(
        &mut c,
        &["ZSCAN", "big", "0", "MATCH", "m1*", "COUNT", "100000"],
    );
    assert!(items
        .chunks(2)
        .all(|p| p[0].starts_with("m1") && p[1].parse::<f64>().is_ok()));

    // Members present for the whole scan are returned while others come and go, including
    // a mass deletion that compacts the node slots in the middle of the scan.
    let stable: Vec<(f64, String)> = (0..5000).map(|i| (i as f64, format!("s{i}"))).collect();
    let volatile: Vec<(f64, String)> = (0..20_000)
        .map(|i| (10_000.0 + i as f64, format!("v{i}")))
        .collect();
    zadd(&mut c, "mix", &stable);
    zadd(&mut c, "mix", &volatile);
    let mut rng = SmallRng::seed_from_u64(7);
    let got = scan_all(&mut c, "mix", 200, |c, step| {
        if step == 20 {
            let _: usize = cmd(c, &["ZREMRANGEBYSCORE", "mix", "10000", "+inf"]);
        }
        let mut p = redis::pipe();
        for _ in 0..20 {
            p.cmd("ZADD")
                .arg("mix")
                .arg(rng.gen_range(0..20_000))
                .arg(format!("n{}", rng.gen_range(0..1000)))
                .ignore();
            p.cmd("ZREM")
                .arg("mix")
                .arg(format!("n{}", rng.gen_range(0..1000)))
                .ignore();
        }
        let _: () = p.query(c).unwrap();
    });
    let seen: HashSet<&String> = got.iter().collect();
    for (_, m) in &stable {
        assert!(
            seen.contains(m),
            "{m} was present throughout but not returned"
        );
    }
}

#[test]
fn zrandmember_contracts() {
    let s = Server::start(&[]);
    let mut c = s.client();
    for (key, n) in [("small", 50usize), ("big", 2000)] {
        zadd(&mut c, key, &members(n, "m"));
        let all: HashSet<String> = (0..n).map(|i| format!("m{i}")).collect();
        for count in [1, 5, n / 3, n / 2, n - 1] {
            let got: Vec<String> = cmd(&mut c, &["ZRANDMEMBER", key, &count.to_string()]);
            assert_eq!(got.len(), count, "{key} {count}");
            assert_eq!(
                got.iter().collect::<HashSet<_>>().len(),
                count,
                "distinct: {key} {count}"
            );
            assert!(got.iter().all(|m| all.contains(m)));
        }
        let got: Vec<String> = cmd(&mut c, &["ZRANDMEMBER", key, &(n + 10).to_string()]);
        assert_eq!(got.len(), n);
        // Negative counts repeat members; many picks cover the zset.
        let got: Vec<String> = cmd(
            &mut c,
            &["ZRANDMEMBER", key, &(-(20 * n as i64)).to_string()],
        );
        assert_eq!(got.len(), 20 * n);
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            n,
            "{key}: coverage"
        );
        // Scores come with their members.
        let got: Vec<(String, f64)> = cmd(&mut c, &["ZRANDMEMBER", key, "-100", "WITHSCORES"]);
        assert!(got.iter().all(|(m, s)| format!("m{s}") == *m));
        let mut seen = HashMap::new();
        for _ in 0..(20 * n.min(200)) {
            let m: String = cmd(&mut c, &["ZRANDMEMBER", key]);
            *seen.entry(m).or_insert(0) += 1;
        }
        assert!(
            seen.len() > n.min(200) / 2,
            "{key}: single picks look random"
        );
    }
}

/// Every notification (channel, payload) that `commands` raise on `server`, in order, with
/// notify-keyspace-events KEA.
fn notifications(server: &Server, commands: &[&[&str]]) -> Vec<(String, String)> {
    common::keyspace_events(server, commands)
}

#[test]
fn notifications_match_redis() {
    let script: &[&[&str]] = &[
        &["ZADD", "k", "1", "a", "2", "b"],
        &["ZADD", "k", "1", "a"],
        &["ZADD", "k", "XX", "5", "nope"],
        &["ZINCRBY", "k", "1", "a"],
        &["ZADD", "k", "INCR", "1", "a"],
        &["ZADD", "k", "CH", "9", "a", "9", "c"],
        &["ZREM", "k", "zz"],
        &["ZREM", "k", "a"],
        &["ZREMRANGEBYSCORE", "k", "100", "200"],
        &["ZREMRANGEBYSCORE", "k", "0", "100"],
        &["ZADD", "k", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZREMRANGEBYRANK", "k", "0", "0"],
        &["ZREMRANGEBYLEX", "k", "[b", "[b"],
        &["ZPOPMIN", "k"],
        &["ZPOPMIN", "k", "0"],
        &["ZPOPMAX", "k", "5"],
        &["ZADD", "s1", "1", "a", "2", "b"],
        &["ZUNIONSTORE", "d", "1", "s1"],
        &["ZINTERSTORE", "d", "2", "s1", "nokey"],
        &["ZINTERSTORE", "d", "2", "s1", "nokey"],
        &["ZDIFFSTORE", "d", "1", "s1"],
        &["ZRANGESTORE", "d2", "s1", "0", "0"],
        &["ZRANGESTORE", "d2", "s1", "5", "9"],
        &["ZMPOP", "2", "nokey", "s1", "MAX", "COUNT", "1"],
        &["ZMPOP", "1", "s1", "MIN", "COUNT", "5"],
        &["ZREM", "d", "a", "b"],
    ];
    let ours = notifications(&Server::start(&[]), script);
    let redis = notifications(&Server::start_redis(&[]), script);
    assert_eq!(ours, redis);
}

/// Prints bytes per element, slotcache vs redis-server: INFO used_memory (ours counts the
/// bytes requested, Redis jemalloc's size classes) and RSS.
/// Run with `cargo test --test zsets -- --ignored --nocapture`.
#[test]
#[ignore]
fn memory_per_element_vs_redis() {
    type Load = Box<dyn Fn(&mut Connection)>;
    let small = |keys: usize, float: bool| -> Load {
        Box::new(move |c: &mut Connection| {
            let mut p = redis::pipe();
            for k in 0..keys {
                let mut r = redis::cmd("ZADD");
                r.arg(format!("z:{k}"));
                for i in 0..10 {
                    let s = if float { i as f64 * 1.1 } else { i as f64 };
                    r.arg(s).arg(format!("m{i}"));
                }
                p.add_command(r).ignore();
                if k % 500 == 499 {
                    let _: () = p.query(c).unwrap();
                    p = redis::pipe();
                }
            }
        })
    };
    let big = |n: usize| -> Load {
        Box::new(move |c: &mut Connection| {
            let items: Vec<(f64, String)> =
                (0..n).map(|i| (i as f64, format!("member:{i}"))).collect();
            zadd(c, "big", &items);
        })
    };
    let scenarios: Vec<(&str, usize, Load)> = vec![
        (
            "baseline: 10k string keys (B/key)",
            10_000,
            Box::new(|c: &mut Connection| {
                let mut r = redis::cmd("MSET");
                (0..10_000).for_each(|k| {
                    r.arg(format!("z:{k}")).arg("x");
                });
                let _: () = r.query(c).unwrap();
            }),
        ),
        (
            "10k zsets x 10 members, integer scores (listpack)",
            100_000,
            small(10_000, false),
        ),
        (
            "10k zsets x 10 members, float scores (listpack)",
            100_000,
            small(10_000, true),
        ),
        (
            "100k zsets x 10 members, integer scores (listpack)",
            1_000_000,
            small(100_000, false),
        ),
        ("1 zset x 1M members (skiplist)", 1_000_000, big(1_000_000)),
        ("1 zset x 600k members (skiplist)", 600_000, big(600_000)),
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
