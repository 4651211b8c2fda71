//! MIGRATE between slotcache and redis-server 7.0 (both directions: every type, TTLs, COPY,
//! REPLACE, KEYS, AUTH, NOKEY and the error replies compared with Redis's), and
//! `redis-cli --cluster reshard` moving slots that hold keys between slotcache nodes.
mod common;

use common::cluster::{kind, wait_until, Cluster, CLUSTER_DEADLINE};
use common::Server;
use redis::Connection;

fn run(c: &mut Connection, line: &str) -> redis::RedisResult<redis::Value> {
    let parts: Vec<&str> = line.split(' ').collect();
    let mut q = redis::cmd(parts[0]);
    for p in &parts[1..] {
        q.arg(if *p == "\"\"" { "" } else { p });
    }
    q.query(c)
}

fn ok(c: &mut Connection, line: &str) {
    run(c, line).unwrap_or_else(|e| panic!("{line}: {e}"));
}

/// Reply text of a command, errors included, for comparing two servers.
fn text(c: &mut Connection, line: &str) -> String {
    match run(c, line) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error: {e}"),
    }
}

fn populate(c: &mut Connection) {
    for line in [
        "SET s:int 42",
        "SET s:str hello",
        "RPUSH l a b 3",
        "HSET h f v g 2",
        "SADD set:i 1 2 3",
        "SADD set:s x y",
        "ZADD z 1 a 2.5 b",
        "PFADD hll a b c",
        "SET ttl v",
        "PEXPIRE ttl 500000",
    ] {
        ok(c, line);
    }
    for i in 0..300 {
        ok(c, &format!("RPUSH biglist element-{i}"));
        ok(c, &format!("ZADD bigz {i} member-{i}"));
    }
}

fn digest(c: &mut Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

const KEYS: &str = "s:int s:str l h set:i set:s z hll ttl biglist bigz";

#[test]
fn migrate_moves_every_type_both_ways() {
    let sc = Server::start(&[]);
    let rd = Server::start_redis(&[]);
    let (mut a, mut b) = (sc.client(), rd.client());
    populate(&mut a);
    let want = digest(&mut a);
    ok(
        &mut a,
        &format!(
            "MIGRATE 127.0.0.1 {} \"\" 0 5000 KEYS {KEYS} missing",
            rd.port
        ),
    );
    assert_eq!(digest(&mut b), want, "redis-server holds the same data");
    let n: i64 = redis::cmd("DBSIZE").query(&mut a).unwrap();
    assert_eq!(n, 0, "keys left the source");
    let ttl: i64 = redis::cmd("PTTL").arg("ttl").query(&mut b).unwrap();
    assert!(ttl > 400_000, "TTL carried: {ttl}");
    // And back, with COPY (the source keeps its keys) then a plain MIGRATE to another db.
    ok(
        &mut b,
        &format!("MIGRATE 127.0.0.1 {} \"\" 0 5000 COPY KEYS {KEYS}", sc.port),
    );
    assert_eq!(digest(&mut a), want);
    assert_eq!(digest(&mut b), want, "COPY keeps the source keys");
}

/// The same MIGRATE calls from slotcache and from redis-server give the same replies.
#[test]
fn migrate_replies_match_redis() {
    let target = Server::start_redis(&["--requirepass", "pw"]);
    let sc = Server::start(&[]);
    let rd = Server::start_redis(&[]);
    let tp = target.port;
    let lines = [
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH pw"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH wrong"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH2 default pw"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH2 default pw"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH pw REPLACE"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH pw COPY REPLACE"),
        format!("MIGRATE 127.0.0.1 {tp} nokey 0 1000 AUTH pw"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 KEYS k"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 BOGUS"),
        format!("MIGRATE 127.0.0.1 {tp} k 0 1000 AUTH"),
        format!("MIGRATE 127.0.0.1 {tp} k notadb 1000"),
        format!("MIGRATE 127.0.0.1 {tp} k 99 1000 AUTH pw"),
        format!("MIGRATE 127.0.0.1 {} k 0 200", common::free_port()),
        "EXISTS k".to_string(),
    ];
    let (mut a, mut b) = (sc.client(), rd.client());
    let mut t = target.client();
    redis::cmd("AUTH").arg("pw").query::<()>(&mut t).unwrap();
    // Each line from the same state: k on the source, the target holding k or not as the
    // previous line left it (so BUSYKEY and REPLACE are exercised).
    for line in &lines {
        let had: bool = redis::cmd("EXISTS").arg("k").query(&mut t).unwrap();
        ok(&mut b, "SET k v");
        let want = text(&mut b, line);
        ok(&mut t, "DEL k");
        if had {
            ok(&mut t, "SET k v");
        }
        ok(&mut a, "SET k v");
        let got = text(&mut a, line);
        assert_eq!(got, want, "{line}");
    }
}

#[test]
fn reshard_with_keys_through_redis_cli() {
    let c = Cluster::start_manual(&[kind(); 2]);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    // Keys of several types in many slots of node a.
    let mut keys = Vec::new();
    for i in 0..400 {
        let k = c.key_on(0, &format!("rk{i}-"));
        match i % 4 {
            0 => a.call(&["SET", &k, &format!("v{i}")]),
            1 => a.call(&["RPUSH", &k, "x", "y"]),
            2 => a.call(&["HSET", &k, "f", "v"]),
            _ => a.call(&["ZADD", &k, "1", "m"]),
        };
        keys.push(k);
    }
    let before = a.call(&["DBSIZE"]);
    let out = common::cluster::redis_cli(&[
        "--cluster",
        "reshard",
        &a.addr(),
        "--cluster-from",
        &a.id(),
        "--cluster-to",
        &b.id(),
        "--cluster-slots",
        "4000",
        "--cluster-yes",
        "--cluster-pipeline",
        "7",
    ]);
    assert!(out.status.success(), "{}", common::cluster::stdout(&out));
    wait_until("both nodes to agree", CLUSTER_DEADLINE, || {
        let check = common::cluster::redis_cli(&["--cluster", "check", &a.addr()]);
        let s = common::cluster::stdout(&check);
        if check.status.success() && s.contains("All 16384 slots covered") {
            Ok(())
        } else {
            Err(s)
        }
    });
    // Every key still there, on the node that now owns its slot; none on both.
    let moved: i64 = b.query(&["DBSIZE"]);
    let kept: i64 = a.query(&["DBSIZE"]);
    assert!(moved > 0, "some keys moved");
    assert_eq!(format!(":{}\r\n", moved + kept), before);
    for (i, k) in keys.iter().enumerate() {
        let owner = &c.nodes[c.owner_of(common::cluster::key_slot(k.as_bytes()))];
        let t = owner.call(&["TYPE", k]);
        let want = ["+string\r\n", "+list\r\n", "+hash\r\n", "+zset\r\n"][i % 4];
        assert_eq!(t, want, "{k}");
    }
}

/// MIGRATE does not stop the source: while the target is frozen (SIGSTOP) and a MIGRATE waits
/// on it, other clients are served, the moving key can be read, and a write to it waits until
/// the MIGRATE is over (then runs on what is left).
#[test]
fn migrate_waiting_on_a_frozen_target_blocks_only_writes_to_its_keys() {
    let sc = Server::start(&[]);
    let target = Server::start_redis(&[]);
    let mut c = sc.client();
    ok(&mut c, "SET moving old");
    ok(&mut c, "SET other x");
    for i in 0..2000 {
        ok(&mut c, &format!("ZADD bigz {i} m{i}"));
    }
    target.signal(libc::SIGSTOP);
    let (port, tport) = (sc.port, target.port);
    let migrate = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        run(
            &mut c,
            &format!("MIGRATE 127.0.0.1 {tport} \"\" 0 60000 KEYS moving bigz"),
        )
    });
    common::wait_for("MIGRATE to be in flight", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        list.contains("cmd=migrate").then_some(())
    });
    // Served while the MIGRATE waits: other keys, and reads of the keys in flight.
    c.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    assert_eq!(text(&mut c, "GET other"), "bulk-string('\"x\"')");
    assert_eq!(text(&mut c, "GET moving"), "bulk-string('\"old\"')");
    assert_eq!(text(&mut c, "ZCARD bigz"), "int(2000)");
    ok(&mut c, "SET other y");
    // A write to a key in flight waits for the MIGRATE.
    let writer = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        run(&mut c, "SET moving new")
    });
    common::wait_for("the write to wait for the MIGRATE", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        list.contains("cmd=set").then_some(())
    });
    assert!(
        !migrate.is_finished(),
        "the target is frozen: MIGRATE cannot be done"
    );
    assert!(
        !writer.is_finished(),
        "the write waits while its key is in flight"
    );
    target.signal(libc::SIGCONT);
    assert_eq!(format!("{:?}", migrate.join().unwrap().unwrap()), "ok");
    writer.join().unwrap().unwrap();
    // The old value moved; the write ran afterwards on the source.
    assert_eq!(text(&mut c, "GET moving"), "bulk-string('\"new\"')");
    assert_eq!(text(&mut c, "EXISTS bigz"), "int(0)");
    let mut t = target.client();
    assert_eq!(text(&mut t, "GET moving"), "bulk-string('\"old\"')");
    assert_eq!(text(&mut t, "ZCARD bigz"), "int(2000)");
}
