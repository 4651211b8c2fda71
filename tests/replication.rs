//! Replication, black-box: slotcache replicas of slotcache, redis-server replicas of slotcache
//! and the reverse (PSYNC2 on the wire), the effective commands in the stream, partial resyncs
//! after a link drop or a promotion, WAIT, ROLE and INFO replication.
mod common;

use common::{wait_for, Server};
use redis::{Connection, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FAST: &[&str] = &["--repl-diskless-sync-delay", "0"];
/// A backlog big enough for the writes a loaded primary takes while a dropped link comes
/// back (the replica reconnects within a second, as Redis's do).
const LOADED: &[&str] = &[
    "--repl-diskless-sync-delay",
    "0",
    "--repl-backlog-size",
    "64mb",
];

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn info_field(c: &mut Connection, field: &str) -> Option<String> {
    let info: String = q(c, &["INFO", "replication"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.to_string()))
}

fn stat(c: &mut Connection, field: &str) -> u64 {
    let info: String = q(c, &["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO stats"))
}

fn replicate(replica: &Server, primary: &Server) {
    let mut c = replica.client();
    let _: String = q(
        &mut c,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
}

/// Waits until `replica` is linked, has processed everything `primary` sent, and both hold
/// the same data (checked together and retried: an expiry on the primary may add a DEL to the
/// stream between the two reads).
fn assert_in_sync(primary: &Server, replica: &Server) {
    let (mut p, mut r) = (primary.client(), replica.client());
    let start = std::time::Instant::now();
    loop {
        let up = info_field(&mut r, "master_link_status").as_deref() == Some("up");
        let pos = info_field(&mut p, "master_repl_offset");
        let rpos = info_field(&mut r, "slave_repl_offset");
        let pd: String = q(&mut p, &["DEBUG", "DIGEST"]);
        let rd: String = q(&mut r, &["DEBUG", "DIGEST"]);
        if up && pos.is_some() && pos == rpos && pd == rd {
            assert_ne!(pd, "0".repeat(40), "the dataset is not empty");
            return;
        }
        if start.elapsed() > common::DEADLINE {
            let pi: String = q(&mut p, &["INFO", "replication"]);
            let ri: String = q(&mut r, &["INFO", "replication"]);
            panic!("replica not in sync (digests {pd} / {rd}):\nprimary:\n{pi}\nreplica:\n{ri}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes of every kind whose replication needs care (non-deterministic, relative times,
/// blocking, transactions, other databases).
fn tricky_writes(c: &mut Connection) {
    for line in [
        "SET s1 v1",
        "SETEX s2 1000 v2",
        "SET s3 v3 PX 900000",
        "EXPIRE s1 500",
        "INCRBYFLOAT f 1.1",
        "INCRBYFLOAT f 2.25",
        "HINCRBYFLOAT h fld 0.5",
        "SADD set a b c d e f",
        "SPOP set",
        "SPOP set 2",
        "RPUSH l 1 2 3",
        "BLPOP l 0",
        "BRPOPLPUSH l l2 0",
        "ZADD z 1 a 2 b 3 c",
        "BZPOPMIN z 0",
        "GETEX s2 PX 700000",
        "SELECT 5",
        "SET other db5",
        "SELECT 0",
        "SET gone x",
        "PEXPIRE gone 1",
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        let _: Value = q(c, &args);
    }
    let _: Value = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("tx")
        .cmd("LPUSH")
        .arg("txl")
        .arg("x")
        .query(c)
        .unwrap();
}

#[test]
fn replica_follows_effects_and_refuses_writes() {
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let mut p = primary.client();
    let _: () = q(&mut p, &["MSET", "before1", "a", "before2", "b"]);
    replicate(&replica, &primary);
    tricky_writes(&mut p);
    assert_in_sync(&primary, &replica);

    let mut r = replica.client();
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<Value>(&mut r)
        .unwrap_err();
    assert_eq!(err.kind(), redis::ErrorKind::ReadOnly);
    assert!(err
        .to_string()
        .contains("You can't write against a read only replica."));
    // Keys the primary expired are gone on the replica through the primary's DEL.
    wait_for("expired key deleted on the replica", || {
        let n: i64 = q(&mut r, &["EXISTS", "gone"]);
        (n == 0).then_some(())
    });
    let ttl: i64 = q(&mut r, &["TTL", "s1"]);
    assert!(
        (490..=500).contains(&ttl),
        "TTL carried as an absolute time: {ttl}"
    );

    let role: Vec<Value> = q(&mut r, &["ROLE"]);
    assert_eq!(role[0], Value::BulkString(b"slave".to_vec()));
    assert_eq!(role[3], Value::BulkString(b"connected".to_vec()));
    let role: Vec<Value> = q(&mut p, &["ROLE"]);
    assert_eq!(role[0], Value::BulkString(b"master".to_vec()));
    let Value::Array(replicas) = &role[2] else {
        panic!("ROLE replicas: {role:?}")
    };
    assert_eq!(replicas.len(), 1);
    assert_eq!(info_field(&mut p, "connected_slaves").as_deref(), Some("1"));
    let line = info_field(&mut p, "slave0").unwrap();
    assert!(
        line.contains(&format!("port={}", replica.port)) && line.contains("state=online"),
        "{line}"
    );

    // WAIT: one replica acknowledges; asking for two times out with one.
    let _: () = q(&mut p, &["SET", "acked", "1"]);
    let n: i64 = q(&mut p, &["WAIT", "1", "5000"]);
    assert_eq!(n, 1);
    let n: i64 = q(&mut p, &["WAIT", "2", "200"]);
    assert_eq!(n, 1);
    let err = redis::cmd("WAIT")
        .arg(1)
        .arg(0)
        .query::<Value>(&mut r)
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("WAIT cannot be used with replica instances"));
}

/// Reads RESP arrays from a raw SYNC stream until `until` is seen (or the deadline).
fn read_commands(s: &mut TcpStream, buf: &mut Vec<u8>, until: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    loop {
        while let Some((cmd, used)) = parse_array(buf) {
            buf.drain(..used);
            let done = cmd.join(" ") == until;
            out.push(cmd);
            if done {
                return out;
            }
        }
        assert!(start.elapsed() < common::DEADLINE, "stream so far: {out:?}");
        let mut b = [0u8; 4096];
        match s.read(&mut b) {
            Ok(0) => panic!("stream closed; got {out:?}"),
            Ok(n) => buf.extend_from_slice(&b[..n]),
            Err(_) => {}
        }
    }
}

fn parse_array(b: &[u8]) -> Option<(Vec<String>, usize)> {
    let line = |at: usize| -> Option<(String, usize)> {
        let i = b[at..].windows(2).position(|w| w == b"\r\n")?;
        Some((
            String::from_utf8_lossy(&b[at..at + i]).into_owned(),
            at + i + 2,
        ))
    };
    let (head, mut at) = line(0)?;
    let n: usize = head.strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::new();
    for _ in 0..n {
        let (len, next) = line(at)?;
        let len: usize = len.strip_prefix('$')?.parse().ok()?;
        if b.len() < next + len + 2 {
            return None;
        }
        args.push(String::from_utf8_lossy(&b[next..next + len]).into_owned());
        at = next + len + 2;
    }
    Some((args, at))
}

/// Attaches to the stream as the Redis test suite does (SYNC, then the `$<len>` RDB).
fn attach(server: &Server) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"SYNC\r\n").unwrap();
    let mut buf = Vec::new();
    let payload = loop {
        let mut b = [0u8; 65536];
        if let Ok(n) = s.read(&mut b) {
            assert!(n > 0, "closed during SYNC");
            buf.extend_from_slice(&b[..n]);
        }
        while buf.first() == Some(&b'\n') {
            buf.remove(0);
        }
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let len: usize = std::str::from_utf8(&buf[1..i]).unwrap().parse().unwrap();
            if buf.len() >= i + 2 + len {
                let rest = buf.split_off(i + 2 + len);
                break std::mem::replace(&mut buf, rest)[i + 2..].to_vec();
            }
        }
    };
    assert!(payload.starts_with(b"REDIS"), "an RDB comes first");
    (s, buf)
}

#[test]
fn the_stream_carries_effects_not_requests() {
    let primary = Server::start(FAST);
    let mut p = primary.client();
    let (mut s, mut buf) = attach(&primary);
    for line in [
        "SADD set only",
        "SPOP set",
        "SETEX k 100 v",
        "EXPIRE k 200",
        "INCRBYFLOAT f 1.5",
        "RPUSH l a",
        "BLPOP l 0",
        "GET k",
        "SET gd v",
        "GETDEL gd",
        "ZADD z 1 a 2 b 3 c",
        "ZMPOP 1 z MIN COUNT 10",
        "RPUSH ml x y",
        "LMPOP 1 ml RIGHT COUNT 1",
        "SELECT 3",
        "SET three 3",
        "PING",
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        let _: Value = q(&mut p, &args);
    }
    let _: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .cmd("SET")
        .arg("b")
        .arg("2")
        .query(&mut p)
        .unwrap();
    let _: () = q(&mut p, &["SET", "end", "1"]);
    let got = read_commands(&mut s, &mut buf, "SET end 1");
    let names: Vec<String> = got.iter().map(|c| c[0].to_uppercase()).collect();
    assert!(!names.contains(&"SPOP".into()), "{got:?}");
    assert!(!names.contains(&"BLPOP".into()), "{got:?}");
    assert!(!names.contains(&"SETEX".into()), "{got:?}");
    for name in ["GETDEL", "ZMPOP", "LMPOP"] {
        assert!(!names.contains(&name.into()), "{name}: {got:?}");
    }
    assert!(
        !names.contains(&"GET".into()),
        "reads are not propagated: {got:?}"
    );
    let find = |pred: &dyn Fn(&Vec<String>) -> bool| got.iter().any(|c| pred(c));
    assert!(find(&|c| c.join(" ") == "SREM set only"), "{got:?}");
    assert!(
        find(&|c| c[0] == "SET" && c[1] == "k" && c[3] == "PXAT"),
        "{got:?}"
    );
    assert!(find(&|c| c[0] == "PEXPIREAT" && c[1] == "k"), "{got:?}");
    assert!(find(&|c| c.join(" ") == "SET f 1.5 KEEPTTL"), "{got:?}");
    assert!(find(&|c| c.join(" ") == "LPOP l"), "{got:?}");
    // As Redis 7.0: GETDEL as DEL, ZMPOP / LMPOP as a pop of the count actually popped.
    assert!(find(&|c| c.join(" ") == "DEL gd"), "{got:?}");
    assert!(find(&|c| c.join(" ") == "ZPOPMIN z 3"), "{got:?}");
    assert!(find(&|c| c.join(" ") == "RPOP ml 1"), "{got:?}");
    let i = got
        .iter()
        .position(|c| c.join(" ") == "SET three 3")
        .unwrap();
    assert_eq!(got[i - 1].join(" "), "SELECT 3", "{got:?}");
    let m = got.iter().position(|c| c[0] == "MULTI").expect("MULTI");
    assert_eq!(got[m + 1].join(" "), "SET a 1");
    assert_eq!(got[m + 2].join(" "), "SET b 2");
    assert_eq!(got[m + 3][0], "EXEC");
}

/// A writer on its own connection until stopped; returns how many writes were acknowledged.
fn writer(port: u16, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let k = format!("w{}", i % 500);
            let _: () = redis::pipe()
                .cmd("SET")
                .arg(&k)
                .arg(i)
                .ignore()
                .cmd("HINCRBY")
                .arg("hw")
                .arg(i % 50)
                .arg(1)
                .ignore()
                .cmd("SADD")
                .arg("sw")
                .arg(i % 1000)
                .ignore()
                .query(&mut c)
                .unwrap();
            i += 1;
            count.store(i, Ordering::Relaxed);
        }
    })
}

/// `replica` follows `primary` while a writer runs; then the link is dropped and the replica
/// continues partially; both reach the same digest each time.
fn sync_under_load(primary: &Server, replica: &Server) {
    let mut p = primary.client();
    for i in 0..2000 {
        let _: () = q(&mut p, &["SET", &format!("pre{i}"), &i.to_string()]);
    }
    let (stop, count) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let w = writer(primary.port, stop.clone(), count.clone());
    replicate(replica, primary);
    let mut r = replica.client();
    wait_for("link up under load", || {
        (info_field(&mut r, "master_link_status")? == "up").then_some(())
    });
    let seen = count.load(Ordering::Relaxed);
    wait_for("writes after the sync", || {
        (count.load(Ordering::Relaxed) > seen + 200).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert_in_sync(primary, replica);

    // Drop the link: the replica reconnects and continues from its offset.
    let partial_before = stat(&mut p, "sync_partial_ok");
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(primary.port, stop.clone(), count.clone());
    let _: Value = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    wait_for("partial resync", || {
        (stat(&mut p, "sync_partial_ok") > partial_before).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert_in_sync(primary, replica);
}

#[test]
fn redis_replica_of_slotcache_under_load() {
    let primary = Server::start(LOADED);
    let replica = Server::start_redis(&[]);
    sync_under_load(&primary, &replica);
}

#[test]
fn slotcache_replica_of_redis_under_load() {
    let primary = Server::start_redis(LOADED);
    let replica = Server::start(&[]);
    sync_under_load(&primary, &replica);
}

#[test]
fn slotcache_replica_of_slotcache_under_load_disk_sync() {
    let primary = Server::start(&[LOADED, &["--repl-diskless-sync", "no"]].concat());
    let replica = Server::start(&[]);
    sync_under_load(&primary, &replica);
}

/// A replica promoted with REPLICAOF NO ONE keeps its history: the other replica, and the old
/// primary, follow it with partial resyncs (PSYNC2's secondary replication ID).
#[test]
fn promotion_keeps_history_for_partial_resyncs() {
    let a = Server::start(FAST);
    let b = Server::start(FAST);
    let c = Server::start(FAST);
    replicate(&b, &a);
    replicate(&c, &a);
    let mut pa = a.client();
    tricky_writes(&mut pa);
    assert_in_sync(&a, &b);
    assert_in_sync(&a, &c);

    let mut pb = b.client();
    let _: String = q(&mut pb, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(info_field(&mut pb, "role").as_deref(), Some("master"));
    assert_ne!(
        info_field(&mut pb, "master_replid2").as_deref(),
        Some("0000000000000000000000000000000000000000")
    );
    replicate(&c, &b);
    replicate(&a, &b);
    let _: () = q(&mut pb, &["SET", "after-promotion", "1"]);
    assert_in_sync(&b, &c);
    assert_in_sync(&b, &a);
    assert_eq!(
        stat(&mut pb, "sync_partial_ok"),
        2,
        "both continued partially"
    );
    assert_eq!(stat(&mut pb, "sync_full"), 0);
}

/// A chained replica receives its primary's stream through the middle replica.
#[test]
fn chained_replicas() {
    let a = Server::start(FAST);
    let b = Server::start(FAST);
    let c = Server::start_redis(&[]);
    replicate(&b, &a);
    replicate(&c, &b);
    let mut pa = a.client();
    tricky_writes(&mut pa);
    assert_in_sync(&a, &b);
    assert_in_sync(&a, &c);
}

/// FAILOVER (standalone, coordinated): the primary pauses writes, waits for its replica, and
/// the two swap roles with a partial resync; Redis's refusals around it.
#[test]
fn coordinated_failover_swaps_roles() {
    let a = Server::start(FAST);
    let b = Server::start(FAST);
    let mut pa = a.client();
    let err = redis::cmd("FAILOVER").query::<Value>(&mut pa).unwrap_err();
    assert!(
        err.to_string()
            .contains("FAILOVER requires connected replicas."),
        "{err}"
    );
    let err = redis::cmd("FAILOVER")
        .arg("ABORT")
        .query::<Value>(&mut pa)
        .unwrap_err();
    assert!(
        err.to_string().contains("No failover in progress."),
        "{err}"
    );
    replicate(&b, &a);
    tricky_writes(&mut pa);
    assert_in_sync(&a, &b);
    let mut pb = b.client();
    let err = redis::cmd("FAILOVER").query::<Value>(&mut pb).unwrap_err();
    assert!(
        err.to_string()
            .contains("not valid when server is a replica"),
        "{err}"
    );
    let err = redis::cmd("FAILOVER")
        .arg("TO")
        .arg("127.0.0.1")
        .arg(b.port)
        .arg("FORCE")
        .query::<Value>(&mut pa)
        .unwrap_err();
    assert!(err.to_string().contains("requires both a timeout"), "{err}");

    let _: String = q(
        &mut pa,
        &[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &b.port.to_string(),
            "TIMEOUT",
            "10000",
        ],
    );
    wait_for("roles swapped", || {
        let ra = info_field(&mut pa, "role")?;
        let rb = info_field(&mut pb, "role")?;
        (ra == "slave" && rb == "master").then_some(())
    });
    wait_for("failover state cleared", || {
        (info_field(&mut pa, "master_failover_state")? == "no-failover").then_some(())
    });
    let _: () = q(&mut pb, &["SET", "after-failover", "1"]);
    assert_in_sync(&b, &a);
    assert_eq!(
        stat(&mut pb, "sync_partial_ok"),
        1,
        "the old primary continued partially"
    );
    // Writes are no longer paused on the old primary: it refuses them as a replica.
    let err = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<Value>(&mut pa)
        .unwrap_err();
    assert_eq!(err.kind(), redis::ErrorKind::ReadOnly);
}
