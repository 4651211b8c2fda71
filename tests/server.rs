//! Server and introspection commands: INFO, COMMAND, SLOWLOG, MEMORY, DEBUG, FLUSHALL ASYNC,
//! errorstats/commandstats, KEYS/SCAN over many keys.
mod common;
use common::Server;
use redis::Commands;
use std::collections::HashSet;

fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

#[test]
fn info_has_redis_sections_and_fields() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let all = info(&mut c, "everything");
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Commandstats",
        "# Errorstats",
        "# Cluster",
        "# Keyspace",
    ] {
        assert!(all.contains(section), "missing {section}");
    }
    for field in [
        "redis_version:7.0.15",
        "tcp_port:",
        "connected_clients:",
        "used_memory:",
        "maxmemory_policy:noeviction",
        "total_commands_processed:",
        "keyspace_hits:",
        "used_cpu_sys:",
        "cluster_enabled:0",
        "role:master",
    ] {
        assert!(all.contains(field), "missing {field}");
    }
    let default = info(&mut c, "default");
    assert!(!default.contains("# Commandstats"));
    let one = info(&mut c, "keyspace");
    assert!(one.starts_with("# Keyspace"), "{one}");
}

#[test]
fn commandstats_and_errorstats_count() {
    let s = Server::start(&[]);
    let mut c = s.client();
    for _ in 0..3 {
        let _: () = c.set("k", "v").unwrap();
    }
    let _ = redis::cmd("GET").query::<()>(&mut c);
    let _ = redis::cmd("NOSUCHCMD").query::<()>(&mut c);
    let _: () = c.set("s", "abc").unwrap();
    let _ = c.incr::<_, _, i64>("s", 1);
    let stats = info(&mut c, "commandstats");
    assert!(stats.contains("cmdstat_set:calls=4,"), "{stats}");
    assert!(
        stats.contains("cmdstat_get:calls=0,") && stats.contains("rejected_calls=1"),
        "{stats}"
    );
    assert!(
        stats.contains("cmdstat_incrby:calls=1,") && stats.contains("failed_calls=1"),
        "{stats}"
    );
    let errs = info(&mut c, "errorstats");
    assert!(errs.contains("errorstat_ERR:count=3"), "{errs}");
}

#[test]
fn command_info_matches_redis_for_every_command() {
    let s = Server::start(&[]);
    let r = Server::start_redis(&[]);
    let mut c = s.client();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
    assert!(names.len() > 70);
    let ours_only = ["client|setinfo", "client|no-touch", "cluster|myshardid"]; // Redis 7.2 additions
                                                                                // A container (CONFIG, CLIENT ...) lists its subcommands in Redis's hash order, including
                                                                                // ones slotcache does not serve, so containers are compared through each subcommand.
    let is_container = |n: &str| names.iter().any(|m| m.starts_with(&format!("{n}|")));
    for name in names
        .iter()
        .filter(|n| !ours_only.contains(&n.as_str()) && !is_container(n))
    {
        for sub in ["INFO", "DOCS"] {
            let req = common::resp(&[b"COMMAND", sub.as_bytes(), name.as_bytes()]);
            let want = r.raw().reply(&req, 1);
            let mut conn = s.raw();
            let got = conn.reply(&req, want.len());
            // Replies may arrive in pieces: read until both are complete by length.
            let want = if want.len() < got.len() {
                r.raw().reply(&req, got.len())
            } else {
                want
            };
            assert_eq!(got, want, "COMMAND {sub} {name}");
        }
    }
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    assert_eq!(
        count as usize,
        names.iter().filter(|n| !n.contains('|')).count()
    );
}

#[test]
fn command_getkeys() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let k: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    assert_eq!(k, vec!["a", "b"]);
    let k: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("BITOP")
        .arg("AND")
        .arg("d")
        .arg("x")
        .arg("y")
        .query(&mut c)
        .unwrap();
    assert_eq!(k, vec!["d", "x", "y"]);
    let e = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("PING")
        .arg("x")
        .query::<Vec<String>>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string().contains("The command has no key arguments"),
        "{e}"
    );
    let e = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("SET")
        .arg("k")
        .query::<Vec<String>>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Invalid number of arguments specified for command"),
        "{e}"
    );
    let e = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("NOPE")
        .arg("x")
        .query::<Vec<String>>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Invalid command specified"), "{e}");
}

#[test]
fn slowlog_records_and_resets() {
    let s = Server::start(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.client();
    let _: () = c.set("slow", "x").unwrap();
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert!(!entries.is_empty());
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert!(len >= 1);
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
    let e = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-2)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("count should be greater than or equal to -1"),
        "{e}"
    );
}

#[test]
fn memory_usage_and_debug() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = c.set("small", "x").unwrap();
    let _: () = c.set("big", vec![b'x'; 10_000]).unwrap();
    let small: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("small")
        .query(&mut c)
        .unwrap();
    let big: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("big")
        .query(&mut c)
        .unwrap();
    assert!(small > 0 && big > 10_000, "{small} {big}");
    let none: Option<i64> = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(none, None);
    let obj: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg("small")
        .query(&mut c)
        .unwrap();
    assert!(obj.contains("encoding:embstr"), "{obj}");
    let s2 = Server::start(&["--enable-debug-command", "no"]);
    let e = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg(0)
        .query::<()>(&mut s2.client())
        .unwrap_err();
    assert!(e.to_string().contains("DEBUG command not allowed"), "{e}");
}

#[test]
fn flushall_async_frees_big_keyspaces() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let mut p = redis::pipe();
    for i in 0..100_000 {
        p.cmd("SET").arg(i).arg(i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let _: () = c.set("big", vec![b'x'; 1 << 20]).unwrap();
    let n: i64 = c.unlink("big").unwrap();
    assert_eq!(n, 1);
    let _: () = redis::cmd("FLUSHALL").arg("ASYNC").query(&mut c).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
    let e = redis::cmd("FLUSHALL")
        .arg("LATER")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("syntax error"), "{e}");
}

#[test]
fn scan_returns_every_key_exactly_when_stable() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let mut p = redis::pipe();
    for i in 0..5000 {
        p.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .unwrap();
        // Keys written during the scan must not break it.
        let _: () = c.set(format!("new:{calls}"), 1).unwrap();
        seen.extend(keys);
        calls += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in 0..5000 {
        assert!(
            seen.contains(&format!("key:{i}")),
            "key:{i} missing from SCAN"
        );
    }
    let (_, typed): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(100000)
        .arg("TYPE")
        .arg("hash")
        .query(&mut c)
        .unwrap();
    assert!(typed.is_empty());
    let (_, matched): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("key:1?")
        .arg("COUNT")
        .arg(100000)
        .query(&mut c)
        .unwrap();
    assert_eq!(matched.len(), 10);
    let keys: Vec<String> = c.keys("key:4??").unwrap();
    assert_eq!(keys.len(), 100);
}
