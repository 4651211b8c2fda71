//! Lua scripting and functions, black-box: a slow script answered with -BUSY and ended by
//! SCRIPT KILL / FUNCTION KILL (polled, never slept), a script that wrote being unkillable
//! until SHUTDOWN NOSAVE, script effects and functions replicating to a replica, the cluster
//! key rules, a busy script not getting its node marked as failing, and redis-py's `Lock` plus
//! a Redlock-style lock against a slotcache cluster. Reply-by-reply comparison with
//! redis-server is in tests/diff/scripting.txt (tests/differential.rs).
mod common;

use common::cluster::{self, wait_until, Cluster, Node, Opts, CLUSTER_DEADLINE};
use common::{run_python_ok, wait_for, Server};
use redis::{Connection, Value};
use std::time::Duration;

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(c: &mut Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => panic!("{args:?}: expected an error, got {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
    }
}

/// Runs `args` on a fresh connection in a thread; the thread returns the reply or error.
fn in_background(server: &Server, args: &[&str]) -> std::thread::JoinHandle<Result<Value, String>> {
    let mut c = server.client();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        cmd.query::<Value>(&mut c).map_err(|e| e.to_string())
    })
}

/// Polls PING on `c` until the server answers -BUSY.
fn wait_busy(c: &mut Connection) -> String {
    let mut last = String::new();
    wait_for("a -BUSY reply", || {
        match redis::cmd("PING").query::<String>(c) {
            Ok(v) => {
                last = v;
                None
            }
            Err(e) if e.code() == Some("BUSY") => Some(e.to_string()),
            Err(e) => panic!("PING: {e}"),
        }
    });
    last
}

fn wait_pong(c: &mut Connection) {
    wait_for("PONG after the script ended", || {
        redis::cmd("PING")
            .query::<String>(c)
            .ok()
            .filter(|p| p == "PONG")
    });
}

#[test]
fn slow_script_gets_busy_replies_and_is_killed() {
    let s = Server::start(&["--busy-reply-threshold", "50"]);
    let mut c = s.client();
    let script = in_background(&s, &["EVAL", "while true do end", "0"]);
    wait_busy(&mut c);
    assert!(err(&mut c, &["GET", "k"]).contains("You can only call SCRIPT KILL"));
    // FUNCTION KILL cannot stop an EVAL; FUNCTION STATS says an EVAL runs.
    assert!(err(&mut c, &["FUNCTION", "KILL"]).starts_with("BUSY"));
    let _: String = q(&mut c, &["SCRIPT", "KILL"]);
    wait_pong(&mut c);
    let reply = script.join().unwrap();
    let e = reply.expect_err("the killed script replies an error");
    assert!(e.contains("Script killed by user with SCRIPT KILL"), "{e}");
    assert!(err(&mut c, &["SCRIPT", "KILL"]).starts_with("NOTBUSY"));
}

#[test]
fn slow_function_is_killed_by_function_kill() {
    let s = Server::start(&["--busy-reply-threshold", "50"]);
    let mut c = s.client();
    let lib = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)";
    let _: String = q(&mut c, &["FUNCTION", "LOAD", lib]);
    let call = in_background(&s, &["FCALL", "spin", "0"]);
    wait_busy(&mut c);
    let stats: Value = q(&mut c, &["FUNCTION", "STATS"]);
    let text = format!("{stats:?}");
    assert!(
        text.contains("spin") && text.contains("duration_ms"),
        "{text}"
    );
    assert!(err(&mut c, &["SCRIPT", "KILL"]).starts_with("BUSY"));
    let _: String = q(&mut c, &["FUNCTION", "KILL"]);
    wait_pong(&mut c);
    assert!(call.join().unwrap().is_err());
}

#[test]
fn script_that_wrote_is_unkillable_until_shutdown_nosave() {
    let mut s = Server::start(&["--busy-reply-threshold", "50"]);
    let mut c = s.client();
    let script = in_background(
        &s,
        &["EVAL", "redis.call('set','x','y') while true do end", "0"],
    );
    wait_busy(&mut c);
    assert!(err(&mut c, &["SCRIPT", "KILL"]).starts_with("UNKILLABLE"));
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<Value>(&mut c);
    assert!(s.wait_exit().success());
    assert!(script.join().unwrap().is_err());
}

fn in_sync(primary: &Server, replica: &Server) {
    let (mut p, mut r) = (primary.client(), replica.client());
    wait_for("replica in sync", || {
        let info: String = q(&mut r, &["INFO", "replication"]);
        let pd: String = q(&mut p, &["DEBUG", "DIGEST"]);
        let rd: String = q(&mut r, &["DEBUG", "DIGEST"]);
        (info.contains("master_link_status:up") && pd == rd).then_some(())
    });
}

#[test]
fn script_effects_and_functions_replicate() {
    // Linked first: writes made before the full sync would arrive through the snapshot.
    let (primary, replica) = common::primary_and_replica();
    let mut r = replica.client();
    let mut p = primary.client();
    // Non-deterministic effects: the replica gets the values, not the script.
    let _: Value = q(
        &mut p,
        &[
            "EVAL",
            "redis.call('set', KEYS[1], tostring(math.random())) redis.call('incr', KEYS[2]) return 1",
            "2",
            "rand",
            "counter",
        ],
    );
    // redis.set_repl(REPL_NONE): the write stays on the primary.
    let _: Value = q(
        &mut p,
        &[
            "EVAL",
            "redis.set_repl(redis.REPL_NONE) redis.call('set','local-only','1') redis.set_repl(redis.REPL_ALL) redis.call('set','both','1') return 1",
            "0",
        ],
    );
    let lib = "#!lua name=lib\nredis.register_function{function_name='get_it', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    let _: String = q(&mut p, &["FUNCTION", "LOAD", lib]);
    wait_for("both and the library on the replica", || {
        let both: Option<String> = q(&mut r, &["GET", "both"]);
        let libs: Vec<Value> = q(&mut r, &["FUNCTION", "LIST"]);
        (both.is_some() && libs.len() == 1).then_some(())
    });
    let local: Option<String> = q(&mut r, &["GET", "local-only"]);
    assert_eq!(local, None, "REPL_NONE writes are not replicated");
    let _: i64 = q(&mut p, &["DEL", "local-only"]);
    in_sync(&primary, &replica);
    let on_primary: String = q(&mut p, &["GET", "rand"]);
    let on_replica: String = q(&mut r, &["FCALL_RO", "get_it", "1", "rand"]);
    assert_eq!(on_primary, on_replica);
    // A read-only replica refuses scripts that may write.
    assert!(err(&mut r, &["EVAL", "#!lua\nreturn 1", "0"]).starts_with("READONLY"));
    let one: i64 = q(&mut r, &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]);
    assert_eq!(one, 1);
}

#[test]
fn functions_survive_a_restart() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let lib = "#!lua name=keep\nredis.register_function('hello', function() return 'hi' end)";
    let _: String = q(&mut c, &["FUNCTION", "LOAD", lib]);
    let dump: Vec<u8> = q(&mut c, &["FUNCTION", "DUMP"]);
    let _: String = q(&mut c, &["SAVE"]);
    let dir = s.into_dir();
    let s = Server::start_in(dir, &[]);
    let mut c = s.client();
    let hi: String = q(&mut c, &["FCALL", "hello", "0"]);
    assert_eq!(hi, "hi");
    // The DUMP payload is redis-server's format: it restores there.
    let redis = Server::start_redis(&[]);
    let mut rc = redis.client();
    let _: String = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(dump)
        .query(&mut rc)
        .unwrap();
    let hi: String = q(&mut rc, &["FCALL", "hello", "0"]);
    assert_eq!(hi, "hi");
}

/// The cluster shared by the cluster tests of this file (not changed by them).
fn cluster() -> &'static Cluster {
    static C: std::sync::OnceLock<Cluster> = std::sync::OnceLock::new();
    cluster::shared(&C, || Cluster::start(3, cluster::kind()))
}

fn owner<'a>(c: &'a Cluster, key: &str) -> &'a Node {
    let slot = cluster::key_slot(key.as_bytes());
    c.nodes
        .iter()
        .find(|n| {
            n.nodes().iter().any(|l| {
                l.has_flag("myself") && l.slots.iter().any(|(a, b)| *a <= slot && slot <= *b)
            })
        })
        .expect("every slot is served")
}

/// A key in another slot than `key` but served by the same node.
fn neighbour(c: &Cluster, key: &str) -> String {
    let node = owner(c, key).port;
    let slot = cluster::key_slot(key.as_bytes());
    (0..)
        .map(|i| format!("n{i}"))
        .find(|k| cluster::key_slot(k.as_bytes()) != slot && owner(c, k).port == node)
        .unwrap()
}

#[test]
fn cluster_key_rules() {
    let c = cluster();
    let key = "{script}a";
    let node = owner(c, key);
    let other = c.nodes.iter().find(|n| n.port != node.port).unwrap();
    let mut on_owner = node.client();
    let mut elsewhere = other.client();
    // Declared keys route like any command.
    let set = ["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", key];
    assert!(err(&mut elsewhere, &set).starts_with("MOVED"));
    let _: String = q(&mut on_owner, &set);
    assert!(err(&mut on_owner, &["EVAL", "return 1", "2", key, "b"]).starts_with("CROSSSLOT"));
    // An undeclared key served by another node.
    let far = (0..)
        .map(|i| format!("far{i}"))
        .find(|k| owner(c, k).port != node.port)
        .unwrap();
    let e = err(
        &mut on_owner,
        &["EVAL", &format!("return redis.call('get', '{far}')"), "0"],
    );
    assert!(
        e.contains("Script attempted to access a non local key in a cluster node"),
        "{e}"
    );
    // A local key in another slot: refused with a shebang, allowed in compatibility mode.
    let near = neighbour(c, key);
    let body = format!("return redis.call('get', '{near}')");
    let e = err(
        &mut on_owner,
        &["EVAL", &format!("#!lua\n{body}"), "1", key],
    );
    assert!(e.contains("do not hash to the same slot"), "{e}");
    let _: Value = q(&mut on_owner, &["EVAL", &body, "1", key]);
    let _: Value = q(
        &mut on_owner,
        &[
            "EVAL",
            &format!("#!lua flags=allow-cross-slot-keys\n{body}"),
            "1",
            key,
        ],
    );
    assert!(err(
        &mut on_owner,
        &["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"]
    )
    .contains("'no-cluster' flag is set"));
}

#[test]
fn busy_script_does_not_fail_its_node() {
    if cluster::kind() != cluster::Kind::Slotcache {
        return;
    }
    let opts = Opts {
        extra: vec!["--busy-reply-threshold".into(), "100".into()],
        ..Opts::timeout(1000)
    };
    let c = Cluster::start_opts(3, cluster::kind(), &opts);
    let busy = &c.nodes[0];
    let id = busy.id();
    let port = busy.port;
    let caller = std::thread::spawn(move || {
        cluster::redis_cli(&["-p", &port.to_string(), "EVAL", "while true do end", "0"])
    });
    wait_until("the script to be busy", CLUSTER_DEADLINE, || {
        let out = cluster::stdout(&cluster::redis_cli(&["-p", &port.to_string(), "PING"]));
        if out.starts_with("BUSY") {
            Ok(())
        } else {
            Err(out)
        }
    });
    // Three node timeouts with the script running: the others keep hearing from the node.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(3000) {
        for n in &c.nodes[1..] {
            let flags = n.flags_of(&id).unwrap().unwrap_or_default();
            assert!(
                !flags.iter().any(|f| f == "fail"),
                "marked failing: {flags:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = cluster::stdout(&cluster::redis_cli(&[
        "-p",
        &port.to_string(),
        "SCRIPT",
        "KILL",
    ]));
    assert_eq!(killed.trim(), "OK");
    let out = cluster::stdout(&caller.join().unwrap());
    assert!(out.contains("Script killed by user"), "{out}");
    wait_until("cluster ok", CLUSTER_DEADLINE, || {
        match busy.cluster_info_field("cluster_state").as_deref() {
            Some("ok") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// redis-py's Lock (SET NX PX plus Lua release/extend scripts through EVALSHA) and a
/// Redlock-style lock (a release script that deletes only the caller's token) against the
/// cluster, run by python3 with the redis package.
#[test]
fn redis_py_locks_on_a_cluster() {
    let c = cluster();
    let port = c.nodes[0].port;
    let script = format!(
        r#"
import uuid, redis
from redis.cluster import RedisCluster
from redis.exceptions import LockNotOwnedError
rc = RedisCluster(host="127.0.0.1", port={port})
lock = rc.lock("py-lock", timeout=10)
assert lock.acquire(blocking=False)
other = rc.lock("py-lock", timeout=10)
assert not other.acquire(blocking=False)
assert lock.extend(5)
assert lock.locked() and lock.owned()
lock.release()
assert not lock.locked()
assert other.acquire(blocking=False)
stolen = rc.lock("py-lock")
stolen.local.token = b"not-the-owner"
try:
    stolen.release()
    raise SystemExit("released a lock it does not own")
except LockNotOwnedError:
    pass
other.release()
release = rc.register_script(
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end")
for i in range(20):
    key = "redlock:%d" % i
    token = str(uuid.uuid4())
    assert rc.set(key, token, nx=True, px=10000)
    assert not rc.set(key, "someone-else", nx=True, px=10000)
    assert release(keys=[key], args=["wrong"]) == 0
    assert release(keys=[key], args=[token]) == 1
    assert rc.get(key) is None
print("ok")
"#
    );
    run_python_ok(&script);
}
