//! Streams, black-box: blocked XREAD/XREADGROUP clients woken in arrival order, timing out,
//! failing as 7.0 does when their group or key goes away, and never blocking inside MULTI;
//! consumer-group recovery with XAUTOCLAIM after a consumer dies; streams with groups through
//! a restart and through DUMP/RESTORE to and from a real redis-server; XREADGROUP's effects on
//! a replica; and a redis-py consumer-group worker against a slotcache cluster. Reply-by-reply
//! comparison with redis-server is tests/diff/streams.txt (tests/differential.rs).
mod common;

use common::cluster::{self, Cluster};
use common::{run_python_ok, wait_for, Server};
use redis::{Connection, Value};

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs `args` on its own connection in a thread; the thread returns the reply or error.
fn in_background(s: &Server, args: &[&str]) -> std::thread::JoinHandle<Result<Value, String>> {
    let mut c = s.client();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        cmd.query::<Value>(&mut c).map_err(|e| e.to_string())
    })
}

/// XREADGROUP GROUP g <consumer> BLOCK 0 STREAMS s > on its own connection.
fn blocked_group_read(
    s: &Server,
    consumer: &str,
) -> std::thread::JoinHandle<Result<Value, String>> {
    in_background(
        s,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            consumer,
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    )
}

fn blocked_clients(c: &mut Connection) -> usize {
    let info: String = q(c, &["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn wait_blocked(c: &mut Connection, n: usize) {
    wait_for(&format!("{n} blocked clients"), || {
        (blocked_clients(c) == n).then_some(())
    });
}

/// The entry IDs in an XREAD/XREADGROUP reply (RESP2: [[key, [[id, fields]...]]...]).
fn ids_of(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Array(streams) = v {
        for s in streams {
            if let Value::Array(kv) = s {
                if let Some(Value::Array(entries)) = kv.get(1) {
                    for e in entries {
                        if let Value::Array(e) = e {
                            if let Some(Value::BulkString(id)) = e.first() {
                                out.push(String::from_utf8_lossy(id).into_owned());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn blocked_readers_are_served_in_arrival_order() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: String = q(&mut c, &["XADD", "s", "1-0", "f", "old"]);
    // Two plain readers on `$`: both see the next entry, not the old one.
    let r1 = in_background(&s, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 1);
    let r2 = in_background(&s, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 2);
    let _: String = q(&mut c, &["XADD", "s", "2-0", "f", "new"]);
    for r in [r1, r2] {
        assert_eq!(ids_of(&r.join().unwrap().unwrap()), vec!["2-0"]);
    }
    // Two group readers on `>`: each new entry goes to the first one still waiting.
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    let a = blocked_group_read(&s, "alice");
    wait_blocked(&mut c, 1);
    let b = blocked_group_read(&s, "bob");
    wait_blocked(&mut c, 2);
    let _: String = q(&mut c, &["XADD", "s", "3-0", "f", "x"]);
    assert_eq!(ids_of(&a.join().unwrap().unwrap()), vec!["3-0"]);
    assert_eq!(blocked_clients(&mut c), 1, "bob keeps waiting");
    let _: String = q(&mut c, &["XADD", "s", "4-0", "f", "y"]);
    assert_eq!(ids_of(&b.join().unwrap().unwrap()), vec!["4-0"]);
    let pending: Vec<Value> = q(&mut c, &["XPENDING", "s", "g"]);
    assert_eq!(pending[0], Value::Int(2));
    // A deadline answers with a null array.
    let t: Value = q(&mut c, &["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]);
    assert_eq!(t, Value::Nil);
    // Inside MULTI nothing blocks.
    let _: String = q(&mut c, &["MULTI"]);
    let _: String = q(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    let r: Vec<Value> = q(&mut c, &["EXEC"]);
    assert_eq!(r, vec![Value::Nil]);
}

#[test]
fn blocked_group_readers_fail_when_their_group_or_key_goes() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let r = blocked_group_read(&s, "c");
    wait_blocked(&mut c, 1);
    let _: i64 = q(&mut c, &["XGROUP", "DESTROY", "s", "g"]);
    let e = r.join().unwrap().unwrap_err();
    assert!(
        e.contains("NOGROUP") && e.contains("no longer exists"),
        "{e}"
    );

    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    let r = blocked_group_read(&s, "c");
    // A plain reader survives the key's deletion and gets what comes later.
    let plain = in_background(&s, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 2);
    let _: i64 = q(&mut c, &["DEL", "s"]);
    let e = r.join().unwrap().unwrap_err();
    assert!(
        e.contains("UNBLOCKED") && e.contains("stream key no longer exists"),
        "{e}"
    );
    assert_eq!(blocked_clients(&mut c), 1);
    let _: String = q(&mut c, &["XADD", "s", "5-0", "f", "v"]);
    assert_eq!(ids_of(&plain.join().unwrap().unwrap()), vec!["5-0"]);
}

#[test]
fn a_dead_consumers_entries_are_recovered_with_xautoclaim() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: String = q(
        &mut c,
        &["XGROUP", "CREATE", "jobs", "workers", "$", "MKSTREAM"],
    );
    for i in 1..=10 {
        let _: String = q(&mut c, &["XADD", "jobs", "*", "job", &i.to_string()]);
    }
    {
        // This worker takes every job and dies without acknowledging any.
        let mut dead = s.client();
        let got: Value = q(
            &mut dead,
            &[
                "XREADGROUP",
                "GROUP",
                "workers",
                "dead",
                "COUNT",
                "10",
                "STREAMS",
                "jobs",
                ">",
            ],
        );
        assert_eq!(ids_of(&got).len(), 10);
    }
    let summary: Vec<Value> = q(&mut c, &["XPENDING", "jobs", "workers"]);
    assert_eq!(summary[0], Value::Int(10));
    // The survivor claims what has been idle long enough, polling until it has all of it.
    let mut claimed: Vec<String> = Vec::new();
    wait_for("every job claimed", || {
        let r: Vec<Value> = q(
            &mut c,
            &[
                "XAUTOCLAIM",
                "jobs",
                "workers",
                "alive",
                "20",
                "0",
                "COUNT",
                "100",
            ],
        );
        if let Value::Array(entries) = &r[1] {
            for e in entries {
                if let Value::Array(e) = e {
                    if let Some(Value::BulkString(id)) = e.first() {
                        claimed.push(String::from_utf8_lossy(id).into_owned());
                    }
                }
            }
        }
        (claimed.len() == 10).then_some(())
    });
    for id in &claimed {
        let n: i64 = q(&mut c, &["XACK", "jobs", "workers", id]);
        assert_eq!(n, 1);
    }
    let summary: Vec<Value> = q(&mut c, &["XPENDING", "jobs", "workers"]);
    assert_eq!(summary[0], Value::Int(0));
    let consumers: Vec<Vec<Value>> = q(&mut c, &["XINFO", "CONSUMERS", "jobs", "workers"]);
    assert_eq!(consumers.len(), 2);
    for cons in consumers {
        assert_eq!(cons[3], Value::Int(0), "no consumer keeps pending entries");
    }
}

/// A stream with two groups, pending entries, deletions and a trim.
fn build(c: &mut Connection) {
    for i in 1..=250 {
        let _: String = q(
            c,
            &[
                "XADD",
                "s",
                &format!("{i}-1"),
                "n",
                &i.to_string(),
                "tag",
                "x",
            ],
        );
    }
    let _: String = q(c, &["XADD", "s", "300-1", "other", "fields"]);
    let _: i64 = q(c, &["XDEL", "s", "5-1", "120-1"]);
    let _: i64 = q(c, &["XTRIM", "s", "MINID", "3-1"]);
    let _: String = q(c, &["XGROUP", "CREATE", "s", "g1", "0"]);
    let _: String = q(
        c,
        &["XGROUP", "CREATE", "s", "g2", "100-1", "ENTRIESREAD", "98"],
    );
    let _: Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "7",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let _: Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let _: i64 = q(c, &["XACK", "s", "g1", "3-1"]);
    let _: i64 = q(c, &["XGROUP", "CREATECONSUMER", "s", "g2", "carol"]);
}

/// What must survive a trip through RDB: entries, counters, groups, PELs, consumers.
fn state(c: &mut Connection) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    out.push(q(c, &["XRANGE", "s", "-", "+"]));
    out.push(q(c, &["XLEN", "s"]));
    out.push(q(c, &["XINFO", "GROUPS", "s"]));
    out.push(q(c, &["XPENDING", "s", "g1"]));
    out.push(q(
        c,
        &["XPENDING", "s", "g1", "IDLE", "0", "-", "+", "100", "bob"],
    ));
    let info: Vec<Value> = q(c, &["XINFO", "STREAM", "s"]);
    // length .. recorded-first-entry-id, groups, first and last entry (not the tree shape).
    for (i, v) in info.iter().enumerate() {
        if i % 2 == 1 && ![3, 5].contains(&i) {
            out.push(v.clone());
        }
    }
    out
}

/// XPENDING's extended form includes idle times: keep IDs, consumers and delivery counts.
fn strip_idle(v: &mut [Value]) {
    if let Value::Array(rows) = &mut v[4] {
        for r in rows {
            if let Value::Array(f) = r {
                f[2] = Value::Nil;
            }
        }
    }
}

#[test]
fn streams_survive_restart_and_travel_to_and_from_redis() {
    let s = Server::start(&[]);
    let mut c = s.client();
    build(&mut c);
    let mut before = state(&mut c);
    strip_idle(&mut before);
    let _: String = q(&mut c, &["SAVE"]);
    let s = Server::start_in(s.into_dir(), &[]);
    let mut c = s.client();
    let mut after = state(&mut c);
    strip_idle(&mut after);
    assert_eq!(before, after, "after a restart");

    // slotcache's DUMP restores in redis-server 7.0 with the same content, and back.
    let redis = Server::start_redis(&[]);
    let mut r = redis.client();
    let dump: Vec<u8> = q(&mut c, &["DUMP", "s"]);
    let _: String = redis::cmd("RESTORE")
        .arg("s")
        .arg(0)
        .arg(&dump)
        .query(&mut r)
        .unwrap();
    let mut in_redis = state(&mut r);
    strip_idle(&mut in_redis);
    assert_eq!(before, in_redis, "restored in redis-server");
    let back: Vec<u8> = q(&mut r, &["DUMP", "s"]);
    let _: i64 = q(&mut c, &["DEL", "s"]);
    let _: String = redis::cmd("RESTORE")
        .arg("s")
        .arg(0)
        .arg(&back)
        .query(&mut c)
        .unwrap();
    let mut round = state(&mut c);
    strip_idle(&mut round);
    assert_eq!(before, round, "restored from redis-server");
    let d1: Vec<String> = q(&mut c, &["DEBUG", "DIGEST-VALUE", "s"]);
    let d2: Vec<String> = q(&mut r, &["DEBUG", "DIGEST-VALUE", "s"]);
    assert_eq!(d1, d2);
}

#[test]
fn group_reads_and_claims_replicate() {
    let (primary, replica) = common::primary_and_replica();
    let mut r = replica.client();
    let mut p = primary.client();
    let _: String = q(&mut p, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    for _ in 0..20 {
        let _: String = q(&mut p, &["XADD", "s", "MAXLEN", "~", "5", "*", "f", "v"]);
    }
    let _: Value = q(
        &mut p,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let _: Value = q(
        &mut p,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "NOACK",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let _: Value = q(
        &mut p,
        &["XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "1"],
    );
    let view = |c: &mut Connection| -> Vec<Value> {
        vec![
            q(c, &["XRANGE", "s", "-", "+"]),
            q(c, &["XINFO", "GROUPS", "s"]),
            q(c, &["XPENDING", "s", "g"]),
            q(c, &["XINFO", "STREAM", "s"]),
        ]
    };
    let want = view(&mut p);
    wait_for("the replica's stream and group match", || {
        (view(&mut r) == want).then_some(())
    });
}

/// A redis-py worker pool on a slotcache cluster: producers XADD jobs to streams in different
/// slots, workers XREADGROUP with BLOCK and XACK; every job is processed exactly once.
#[test]
fn redis_py_consumer_group_worker_on_a_cluster() {
    let c = Cluster::start(3, cluster::kind());
    let port = c.nodes[0].port;
    let script = format!(
        r#"
import redis, threading
from redis.cluster import RedisCluster
rc = RedisCluster(host="127.0.0.1", port={port})
streams = ["jobs:%d" % i for i in range(6)]
slots = set(rc.keyslot(s) for s in streams)
assert len(slots) == 6
for s in streams:
    rc.xgroup_create(s, "workers", id="$", mkstream=True)
done = {{}}
lock = threading.Lock()
def worker(name, stream):
    w = RedisCluster(host="127.0.0.1", port={port})
    while True:
        got = w.xreadgroup("workers", name, {{stream: ">"}}, count=10, block=200)
        if not got:
            return
        for _, entries in got:
            for id, fields in entries:
                with lock:
                    key = (stream, fields[b"n"])
                    assert key not in done, key
                    done[key] = name
                w.xack(stream, "workers", id)
threads = []
for s in streams:
    for k in range(2):
        t = threading.Thread(target=worker, args=("w%d" % k, s))
        t.start()
        threads.append(t)
for i in range(300):
    rc.xadd(streams[i % 6], {{"n": str(i)}})
for t in threads:
    t.join()
assert len(done) == 300, len(done)
for s in streams:
    assert rc.xpending(s, "workers")["pending"] == 0
    assert rc.xlen(s) == 50
try:
    rc.execute_command("XREAD", "STREAMS", "jobs:0", "jobs:1", "0", "0", target_nodes=rc.get_random_node())
    raise SystemExit("a cross-slot XREAD was served")
except redis.exceptions.ClusterCrossSlotError:
    pass
print("ok")
"#
    );
    run_python_ok(&script);
}

#[test]
fn deleting_a_stream_reaches_a_group_reader_queued_behind_a_plain_reader() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    // The plain reader waits first, so it is first in the key's queue.
    let plain = in_background(&s, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut c, 1);
    let r = blocked_group_read(&s, "c");
    wait_blocked(&mut c, 2);
    let _: i64 = q(&mut c, &["DEL", "s"]);
    // Polled with a deadline: a lost wake-up would leave the group reader blocked forever.
    wait_blocked(&mut c, 1);
    let e = r.join().unwrap().unwrap_err();
    assert!(e.contains("UNBLOCKED"), "{e}");
    let _: String = q(&mut c, &["XADD", "s", "5-0", "f", "v"]);
    assert_eq!(ids_of(&plain.join().unwrap().unwrap()), vec!["5-0"]);
}
