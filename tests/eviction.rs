//! maxmemory: used memory stays under the limit under a write flood, each policy evicts what it
//! should, noeviction refuses writes with Redis's OOM error, and LRU keeps hot keys.
mod common;
use common::Server;
use redis::Commands;

fn used_memory(c: &mut redis::Connection) -> u64 {
    common::info_field(c, "memory", "used_memory") as u64
}

fn stat(c: &mut redis::Connection, field: &str) -> u64 {
    common::info_field(c, "stats", field) as u64
}

/// Sets maxmemory to the current usage plus `extra` bytes and the given policy.
fn limit(c: &mut redis::Connection, extra: u64, policy: &str) -> u64 {
    let max = used_memory(c) + extra;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(max)
        .arg("maxmemory-policy")
        .arg(policy)
        .query(c)
        .unwrap();
    max
}

#[test]
fn write_flood_stays_under_maxmemory() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let max = limit(&mut c, 4 << 20, "allkeys-lru");
    let value = vec![b'x'; 1000];
    for batch in 0..40 {
        let mut p = redis::pipe();
        for i in 0..1000 {
            p.cmd("SET")
                .arg(format!("k:{batch}:{i}"))
                .arg(&value)
                .ignore();
        }
        let _: () = p.query(&mut c).unwrap();
        let used = used_memory(&mut c);
        // Within one batch of writes of the limit, as in Redis (eviction runs before each command).
        assert!(used <= max + (1 << 20), "used {used} > max {max}");
    }
    assert!(stat(&mut c, "evicted_keys") > 0);
    assert!(redis::cmd("DBSIZE").query::<u64>(&mut c).unwrap() < 40_000);
}

#[test]
fn noeviction_refuses_writes_but_serves_reads() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = c.set("before", "v").unwrap();
    limit(&mut c, 1 << 20, "noeviction");
    let value = vec![b'x'; 10_000];
    let mut err = None;
    for i in 0..1000 {
        if let Err(e) = c.set::<_, _, ()>(format!("k{i}"), &value) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("writes must be refused once full");
    assert_eq!(err.code(), Some("OOM"));
    assert!(
        err.to_string()
            .contains("command not allowed when used memory > 'maxmemory'"),
        "{err}"
    );
    assert_eq!(c.get::<_, String>("before").unwrap(), "v");
    // Deleting is allowed and frees room.
    let _: i64 = c.del("k0").unwrap();
}

#[test]
fn volatile_policies_only_evict_keys_with_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = Server::start(&[]);
        let mut c = s.client();
        let value = vec![b'p'; 1000];
        for i in 0..300 {
            let _: () = c.set(format!("persistent:{i}"), &value).unwrap();
        }
        limit(&mut c, 2 << 20, policy);
        for i in 0..5000 {
            let _: Result<(), _> = redis::cmd("SET")
                .arg(format!("vol:{i}"))
                .arg(&value)
                .arg("EX")
                .arg(1000)
                .query(&mut c);
        }
        for i in 0..300 {
            assert!(
                c.exists::<_, bool>(format!("persistent:{i}")).unwrap(),
                "{policy} evicted a persistent key"
            );
        }
        assert!(stat(&mut c, "evicted_keys") > 0, "{policy} evicted nothing");
    }
}

#[test]
fn lru_keeps_hot_keys() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let value = vec![b'v'; 1000];
    limit(&mut c, 4 << 20, "allkeys-lru");
    let hot: Vec<String> = (0..300).map(|i| format!("hot:{i}")).collect();
    for k in &hot {
        let _: () = c.set(k, &value).unwrap();
    }
    for batch in 0..40 {
        let mut p = redis::pipe();
        for i in 0..500 {
            p.cmd("SET")
                .arg(format!("cold:{batch}:{i}"))
                .arg(&value)
                .ignore();
        }
        let _: () = p.query(&mut c).unwrap();
        let mut p = redis::pipe();
        for k in &hot {
            p.cmd("GET").arg(k);
        }
        let _: Vec<Option<Vec<u8>>> = p.query(&mut c).unwrap();
    }
    let alive = hot
        .iter()
        .filter(|k| c.exists::<_, bool>(k.as_str()).unwrap())
        .count();
    assert!(
        alive >= 270,
        "only {alive} of 300 hot keys survived LRU eviction"
    );
    assert!(stat(&mut c, "evicted_keys") > 10_000);
}

#[test]
fn lfu_tracks_frequency() {
    let s = Server::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.client();
    let _: () = c.set("k", "v").unwrap();
    let f0: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut c)
        .unwrap();
    for _ in 0..1000 {
        let _: String = c.get("k").unwrap();
    }
    let f1: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert!(f1 > f0, "{f0} -> {f1}");
    let e = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("k")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("An LFU maxmemory policy is selected"),
        "{e}"
    );
}
