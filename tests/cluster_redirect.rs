//! Routing in a 3-primary cluster: MOVED for every key-bearing command family sent to the
//! wrong node (exact text), the `redis` crate's cluster client and `redis-cli -c` following
//! redirects, CROSSSLOT, SELECT, READONLY/READWRITE/ASKING, MULTI/EXEC with a foreign key,
//! CLUSTERDOWN (unassigned slot, cluster down, reads when down), and keyless commands answered
//! locally. Node kind: `CLUSTER_KIND` (see `common::cluster`).
mod common;
use common::cluster::{
    key_slot, kind, redis_cli, shared, stdout, wait_until, Cluster, Node, CLUSTER_DEADLINE,
};
use std::sync::OnceLock;

/// The cluster shared by the tests that do not change the topology.
fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    shared(&C, || Cluster::start(3, kind()))
}

/// Every key-bearing command family. `K` is a key, `A` `B` `D` keys with the same hash tag
/// (so multi-key commands are single-slot); all are replaced by keys tagged with `{tag}`.
const KEYED: &[&str] = &[
    // strings
    "GET K",
    "SET K v",
    "SET K v NX EX 100",
    "SETNX K v",
    "SETEX K 100 v",
    "PSETEX K 100000 v",
    "GETSET K v",
    "GETDEL K",
    "GETEX K PERSIST",
    "APPEND K v",
    "STRLEN K",
    "INCR K",
    "DECR K",
    "INCRBY K 2",
    "DECRBY K 2",
    "INCRBYFLOAT K 1.5",
    "GETRANGE K 0 -1",
    "SUBSTR K 0 1",
    "SETRANGE K 0 v",
    "MSETNX A 1 B 2",
    "LCS A B",
    // hashes
    "HSET K f v",
    "HSETNX K f v",
    "HMSET K f v",
    "HGET K f",
    "HMGET K f g",
    "HGETALL K",
    "HDEL K f",
    "HLEN K",
    "HEXISTS K f",
    "HINCRBY K f 1",
    "HINCRBYFLOAT K f 1.5",
    "HKEYS K",
    "HVALS K",
    "HSTRLEN K f",
    "HRANDFIELD K",
    "HSCAN K 0",
    // lists
    "LPUSH K a",
    "RPUSH K a",
    "LPUSHX K a",
    "RPUSHX K a",
    "LPOP K",
    "RPOP K",
    "LLEN K",
    "LRANGE K 0 -1",
    "LINDEX K 0",
    "LSET K 0 v",
    "LINSERT K BEFORE a b",
    "LREM K 0 a",
    "LTRIM K 0 1",
    "LPOS K a",
    "RPOPLPUSH A B",
    "LMOVE A B LEFT RIGHT",
    "LMPOP 2 A B LEFT",
    "BLPOP K 1",
    "BRPOP A B 1",
    "BRPOPLPUSH A B 1",
    "BLMOVE A B LEFT LEFT 1",
    "BLMPOP 1 2 A B LEFT",
    // sets
    "SADD K m",
    "SREM K m",
    "SMEMBERS K",
    "SISMEMBER K m",
    "SMISMEMBER K m n",
    "SCARD K",
    "SPOP K",
    "SRANDMEMBER K 2",
    "SMOVE A B m",
    "SINTER A B",
    "SINTERCARD 2 A B",
    "SUNION A B",
    "SDIFF A B",
    "SINTERSTORE D A B",
    "SUNIONSTORE D A B",
    "SDIFFSTORE D A B",
    "SSCAN K 0",
    // sorted sets
    "ZADD K 1 m",
    "ZINCRBY K 1 m",
    "ZSCORE K m",
    "ZMSCORE K m n",
    "ZCARD K",
    "ZCOUNT K 0 10",
    "ZLEXCOUNT K - +",
    "ZRANGE K 0 -1",
    "ZRANGEBYSCORE K 0 10",
    "ZRANGEBYLEX K - +",
    "ZREVRANGE K 0 -1",
    "ZRANK K m",
    "ZREVRANK K m",
    "ZREM K m",
    "ZREMRANGEBYRANK K 0 1",
    "ZPOPMIN K",
    "ZPOPMAX K",
    "BZPOPMIN K 1",
    "BZPOPMAX A B 1",
    "ZRANDMEMBER K",
    "ZUNIONSTORE D 2 A B",
    "ZINTERSTORE D 2 A B",
    "ZUNION 2 A B",
    "ZINTER 2 A B",
    "ZDIFF 2 A B",
    "ZDIFFSTORE D 2 A B",
    "ZRANGESTORE D K 0 -1",
    "ZMPOP 1 K MIN",
    "BZMPOP 1 2 A B MAX",
    "ZSCAN K 0",
    // bitmaps
    "SETBIT K 7 1",
    "GETBIT K 7",
    "BITCOUNT K",
    "BITPOS K 1",
    "BITOP AND D A B",
    "BITOP NOT D A",
    "BITFIELD K GET u8 0",
    "BITFIELD_RO K GET u8 0",
    // hyperloglog
    "PFADD K x",
    "PFCOUNT K",
    "PFCOUNT A B",
    "PFMERGE D A B",
    // geo
    "GEOADD K 13.361389 38.115556 p",
    "GEOPOS K p",
    "GEODIST K p q",
    "GEOHASH K p",
    "GEOSEARCH K FROMLONLAT 15 37 BYRADIUS 200 km",
    "GEOSEARCHSTORE D K FROMLONLAT 15 37 BYRADIUS 200 km",
    "GEORADIUS K 15 37 200 km",
    "GEORADIUSBYMEMBER K p 100 km",
    // generic key commands
    "EXISTS K",
    "EXISTS A B",
    "TYPE K",
    "DEL K",
    "DEL A B",
    "UNLINK A B",
    "TOUCH A B",
    "EXPIRE K 100",
    "PEXPIRE K 100000",
    "EXPIREAT K 99999999999",
    "PEXPIREAT K 99999999999999",
    "TTL K",
    "PTTL K",
    "EXPIRETIME K",
    "PEXPIRETIME K",
    "PERSIST K",
    "RENAME A B",
    "RENAMENX A B",
    "COPY A B",
    "OBJECT ENCODING K",
    "OBJECT REFCOUNT K",
    "MEMORY USAGE K",
    // multi-key
    "MSET A 1 B 2",
    "MGET A B",
    "MGET A",
    // sort
    "SORT K",
    "SORT K LIMIT 0 1 STORE D",
    "SORT_RO K",
];

fn expand(template: &str, tag: &str) -> Vec<String> {
    template
        .split(' ')
        .map(|w| match w {
            "K" => format!("k{tag}"),
            "A" => format!("a{tag}"),
            "B" => format!("b{tag}"),
            "D" => format!("d{tag}"),
            other => other.to_string(),
        })
        .collect()
}

/// Sends every command of `templates` to `from` with keys owned by `owner`; all must get
/// `-MOVED <slot> 127.0.0.1:<owner port>` and change nothing. Reports every mismatch at once.
fn assert_all_moved(c: &Cluster, templates: &[&str], from: usize, owner: usize) {
    let tag = c.tag_on(owner, "redirect");
    let slot = key_slot(tag.as_bytes());
    let want = format!("-MOVED {slot} 127.0.0.1:{}\r\n", c.nodes[owner].port);
    let cmds: Vec<Vec<Vec<u8>>> = templates
        .iter()
        .map(|t| {
            expand(t, &tag)
                .into_iter()
                .map(String::into_bytes)
                .collect()
        })
        .collect();
    let replies = c.nodes[from].conn().pipeline(&cmds).expect("pipeline");
    let wrong: Vec<String> = templates
        .iter()
        .zip(replies)
        .filter(|(_, r)| String::from_utf8_lossy(r) != want)
        .map(|(t, r)| format!("{:?} -> {:?}", expand(t, &tag), String::from_utf8_lossy(&r)))
        .collect();
    assert!(
        wrong.is_empty(),
        "sent to node {from} (owner {owner}), expected {want:?}:\n{}",
        wrong.join("\n")
    );
    // Nothing ran: the owner has none of the keys.
    let exists: i64 = c.nodes[owner].query(&[
        "EXISTS",
        &format!("k{tag}"),
        &format!("a{tag}"),
        &format!("b{tag}"),
        &format!("d{tag}"),
    ]);
    assert_eq!(exists, 0);
}

#[test]
fn every_family_gets_moved_from_a_non_owner() {
    let c = cluster();
    for from in 0..3 {
        for owner in (0..3).filter(|o| *o != from) {
            assert_all_moved(c, KEYED, from, owner);
        }
    }
}

/// DUMP and RESTORE are key-bearing too (and MIGRATE's building blocks).
#[test]
fn dump_and_restore_get_moved_from_a_non_owner() {
    let c = cluster();
    assert_all_moved(c, &["DUMP K", "RESTORE K 0 payload"], 2, 0);
}

#[test]
fn moved_names_the_owner_of_each_slot_range_edge() {
    let c = cluster();
    // The first and last slot of every node's range, asked on every other node.
    for (owner, ranges) in c.slot_map().iter().enumerate() {
        for (a, b) in ranges {
            for slot in [*a, *b] {
                let key = (0..)
                    .map(|i| format!("edge:{i}"))
                    .find(|k| key_slot(k.as_bytes()) == slot)
                    .unwrap();
                for from in (0..3).filter(|f| *f != owner) {
                    let r = c.nodes[from].call(&["GET", &key]);
                    assert_eq!(
                        r,
                        format!("-MOVED {slot} 127.0.0.1:{}\r\n", c.nodes[owner].port)
                    );
                }
                assert_eq!(c.nodes[owner].call(&["GET", &key]), "$-1\r\n");
            }
        }
    }
}

#[test]
fn cluster_client_workload_reads_back_and_keyless_commands_stay_local() {
    let c = cluster();
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", c.nodes[1].port)])
            .unwrap();
    let mut con = client.get_connection().expect("cluster connection");
    const N: usize = 1500;
    for i in 0..N {
        let _: () = redis::cmd("SET")
            .arg(format!("wl:{i}"))
            .arg(format!("value-{i}"))
            .query(&mut con)
            .unwrap();
    }
    for i in 0..300 {
        let _: () = redis::cmd("HSET")
            .arg(format!("wlh:{{u{i}}}"))
            .arg("n")
            .arg(i)
            .query(&mut con)
            .unwrap();
        let _: i64 = redis::cmd("INCRBY")
            .arg(format!("wlc:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
        // multi-key on one slot through the client
        let _: () = redis::cmd("MSET")
            .arg(format!("wlm:{{u{i}}}:a"))
            .arg(i)
            .arg(format!("wlm:{{u{i}}}:b"))
            .arg(i + 1)
            .query(&mut con)
            .unwrap();
    }
    for i in 0..N {
        let v: String = redis::cmd("GET")
            .arg(format!("wl:{i}"))
            .query(&mut con)
            .unwrap();
        assert_eq!(v, format!("value-{i}"));
    }
    for i in 0..300 {
        let h: i64 = redis::cmd("HGET")
            .arg(format!("wlh:{{u{i}}}"))
            .arg("n")
            .query(&mut con)
            .unwrap();
        assert_eq!(h, i as i64);
        let n: i64 = redis::cmd("GET")
            .arg(format!("wlc:{i}"))
            .query(&mut con)
            .unwrap();
        assert_eq!(n, i as i64);
        let m: Vec<i64> = redis::cmd("MGET")
            .arg(format!("wlm:{{u{i}}}:a"))
            .arg(format!("wlm:{{u{i}}}:b"))
            .query(&mut con)
            .unwrap();
        assert_eq!(m, vec![i as i64, i as i64 + 1]);
    }
    // Each node holds exactly the workload keys of its own slots: KEYS, RANDOMKEY and DBSIZE
    // are answered from the local keyspace, never redirected.
    let map = c.slot_map();
    let owns = |idx: usize, k: &str| {
        let s = key_slot(k.as_bytes());
        map[idx].iter().any(|(a, b)| (*a..=*b).contains(&s))
    };
    let mut total = 0;
    for (idx, node) in c.nodes.iter().enumerate() {
        let mut keys: Vec<String> = node.query(&["KEYS", "wl:*"]);
        keys.sort();
        let mut mine: Vec<String> = (0..N)
            .map(|i| format!("wl:{i}"))
            .filter(|k| owns(idx, k))
            .collect();
        mine.sort();
        assert!(!mine.is_empty());
        assert_eq!(keys, mine, "KEYS wl:* on node {idx}");
        total += keys.len();
        for _ in 0..20 {
            let k: String = node.query(&["RANDOMKEY"]);
            assert!(owns(idx, &k), "RANDOMKEY {k} on node {idx}");
        }
        let dbsize: usize = node.query(&["DBSIZE"]);
        // the other tests of this file add at most a few dozen keys
        assert!(
            dbsize >= mine.len() && dbsize < mine.len() + 1000 && dbsize < N,
            "DBSIZE {dbsize} on node {idx} owning {} workload keys",
            mine.len()
        );
        assert_eq!(node.call(&["PING"]), "+PONG\r\n");
        assert_eq!(node.call(&["ECHO", "hi"]), "$2\r\nhi\r\n");
        let info: String = node.query(&["INFO", "cluster"]);
        assert!(info.contains("cluster_enabled:1"), "{info}");
        let info: String = node.query(&["INFO"]);
        assert!(info.contains("redis_version:"), "{info}");
        let time: Vec<String> = node.query(&["TIME"]);
        assert_eq!(time.len(), 2);
    }
    assert_eq!(total, N);
}

#[test]
fn redis_cli_follows_redirects() {
    let c = cluster();
    for owner in 0..3 {
        for entry in (0..3).filter(|e| *e != owner) {
            let key = c.key_on(owner, &format!("cli-{entry}-"));
            let val = format!("set-via-{entry}");
            let out = c.nodes[entry].cli(&["-c", "SET", &key, &val]);
            assert_eq!(stdout(&out), "OK\n", "SET {key} via node {entry}");
            let other = (0..3).find(|o| *o != owner && *o != entry).unwrap();
            let out = c.nodes[other].cli(&["-c", "GET", &key]);
            assert_eq!(
                stdout(&out),
                format!("{val}\n"),
                "GET {key} via node {other}"
            );
            // Without -c the redirect is shown, not followed.
            let out = c.nodes[other].cli(&["GET", &key]);
            let slot = key_slot(key.as_bytes());
            assert_eq!(
                stdout(&out).trim_end(),
                format!("MOVED {slot} 127.0.0.1:{}", c.nodes[owner].port)
            );
        }
    }
    // Cluster-mode redis-cli sends each line of stdin, following redirects.
    let keys: Vec<String> = (0..30).map(|i| format!("cli-batch:{i}")).collect();
    let script: String = keys.iter().map(|k| format!("SET {k} v-{k}\n")).collect();
    let p = c.nodes[0].port.to_string();
    let out = common::cluster::redis_cli_stdin(&["-c", "-p", &p], &script);
    let text = stdout(&out);
    let oks = text.lines().filter(|l| *l == "OK").count();
    assert_eq!(oks, keys.len(), "{text}");
    assert!(
        text.lines()
            .all(|l| l == "OK" || l.starts_with("-> Redirected to slot [")),
        "{text}"
    );
    for k in &keys {
        let out = redis_cli(&["-c", "-p", &c.nodes[2].port.to_string(), "GET", k]);
        assert_eq!(stdout(&out), format!("v-{k}\n"));
    }
}

#[test]
fn crossslot_for_keys_in_different_slots() {
    let c = cluster();
    let want = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    // `a` and `b` live in different slots (and on different nodes); `{x}a` and `{y}a` too.
    assert_ne!(key_slot(b"a"), key_slot(b"b"));
    for node in &c.nodes {
        for cmd in [
            &["MSET", "a", "1", "b", "2"][..],
            &["MGET", "a", "b"],
            &["DEL", "a", "b"],
            &["EXISTS", "a", "b"],
            &["SUNIONSTORE", "a", "b", "c"],
            &["SUNIONSTORE", "{x}d", "{x}a", "{y}a"],
            &["MSET", "{x}1", "1", "{y}1", "1"],
            &["RENAME", "{x}1", "{y}1"],
            // SORT's STORE key has an incomplete key spec; Redis still finds it.
            &["SORT", "{x}l", "STORE", "{y}l"],
            &[
                "SORT", "{x}l", "LIMIT", "0", "1", "BY", "nosort", "STORE", "{y}l",
            ],
        ] {
            assert_eq!(node.call(cmd), want, "{cmd:?} on {}", node.port);
        }
    }
    // Same tag: one slot, no CROSSSLOT (executed or redirected).
    for node in &c.nodes {
        let r = node.call(&["MSET", "{x}1", "1", "{x}2", "2"]);
        assert!(r == "+OK\r\n" || r.starts_with("-MOVED "), "{r}");
    }
}

#[test]
fn select_readonly_readwrite_asking() {
    let c = cluster();
    for node in &c.nodes {
        let mut con = node.conn();
        assert_eq!(
            con.call(&["SELECT", "1"]).unwrap(),
            "-ERR SELECT is not allowed in cluster mode\r\n"
        );
        assert_eq!(con.call(&["SELECT", "0"]).unwrap(), "+OK\r\n");
        assert_eq!(con.call(&["READONLY"]).unwrap(), "+OK\r\n");
        assert_eq!(con.call(&["READWRITE"]).unwrap(), "+OK\r\n");
        assert_eq!(con.call(&["ASKING"]).unwrap(), "+OK\r\n");
        // ASKING does not let a foreign, stable slot through.
        let idx = c.nodes.iter().position(|n| n.port == node.port).unwrap();
        let owner = (idx + 1) % 3;
        let key = c.key_on(owner, "asking");
        assert_eq!(
            con.call(&["GET", &key]).unwrap(),
            format!(
                "-MOVED {} 127.0.0.1:{}\r\n",
                key_slot(key.as_bytes()),
                c.nodes[owner].port
            )
        );
    }
}

#[test]
fn multi_with_a_foreign_key_aborts_exec() {
    let c = cluster();
    let node = &c.nodes[0];
    let local = c.key_on(0, "multi-local");
    let local2 = c.key_on(0, "multi-local-b");
    let foreign = c.key_on(1, "multi-foreign");
    let moved = format!(
        "-MOVED {} 127.0.0.1:{}\r\n",
        key_slot(foreign.as_bytes()),
        c.nodes[1].port
    );
    let mut con = node.conn();
    assert_eq!(con.call(&["MULTI"]).unwrap(), "+OK\r\n");
    assert_eq!(con.call(&["SET", &local, "1"]).unwrap(), "+QUEUED\r\n");
    assert_eq!(con.call(&["SET", &foreign, "1"]).unwrap(), moved);
    assert_eq!(
        con.call(&["EXEC"]).unwrap(),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(con.call(&["EXISTS", &local]).unwrap(), ":0\r\n");
    // The connection is out of MULTI again and works normally.
    assert_eq!(con.call(&["SET", &local, "2"]).unwrap(), "+OK\r\n");
    // A transaction on one local slot runs.
    assert_eq!(con.call(&["MULTI"]).unwrap(), "+OK\r\n");
    assert_eq!(con.call(&["INCR", &local]).unwrap(), "+QUEUED\r\n");
    assert_eq!(con.call(&["GET", &local]).unwrap(), "+QUEUED\r\n");
    assert_eq!(con.call(&["EXEC"]).unwrap(), "*2\r\n:3\r\n$1\r\n3\r\n");
    // Two local keys in different slots: each queues, EXEC refuses the whole.
    assert_ne!(key_slot(local.as_bytes()), key_slot(local2.as_bytes()));
    assert_eq!(con.call(&["MULTI"]).unwrap(), "+OK\r\n");
    assert_eq!(con.call(&["SET", &local, "4"]).unwrap(), "+QUEUED\r\n");
    assert_eq!(con.call(&["SET", &local2, "4"]).unwrap(), "+QUEUED\r\n");
    assert_eq!(
        con.call(&["EXEC"]).unwrap(),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(con.call(&["GET", &local]).unwrap(), "$1\r\n3\r\n");
    assert_eq!(con.call(&["EXISTS", &local2]).unwrap(), ":0\r\n");
    assert_eq!(con.call(&["DEL", &local]).unwrap(), ":1\r\n");
}

fn state(n: &Node) -> Result<String, String> {
    n.cluster_info()?
        .remove("cluster_state")
        .ok_or_else(|| "no cluster_state".to_string())
}

#[test]
fn clusterdown_when_a_slot_is_unassigned() {
    // Its own cluster: this test breaks slot coverage.
    let c = Cluster::start(3, kind());
    let a = &c.nodes[0];
    let key = c.key_on(0, "down");
    let other_local = c.key_on(0, "down-other");
    let foreign = c.key_on(1, "down-foreign");
    let slot = key_slot(key.as_bytes());
    assert_ne!(slot, key_slot(other_local.as_bytes()));
    assert_eq!(a.call(&["SET", &other_local, "v"]), "+OK\r\n");
    assert_eq!(
        a.call(&["CLUSTER", "DELSLOTS", &slot.to_string()]),
        "+OK\r\n"
    );
    wait_until(
        "node 0 to report cluster_state:fail",
        CLUSTER_DEADLINE,
        || match state(a)?.as_str() {
            "fail" => Ok(()),
            s => Err(s.to_string()),
        },
    );
    assert_eq!(
        a.cluster_info_field("cluster_slots_assigned").as_deref(),
        Some("16383")
    );
    let mut con = a.conn();
    let not_served = "-CLUSTERDOWN Hash slot not served\r\n";
    let down = "-CLUSTERDOWN The cluster is down\r\n";
    assert_eq!(con.call(&["GET", &key]).unwrap(), not_served);
    assert_eq!(con.call(&["SET", &key, "v"]).unwrap(), not_served);
    assert_eq!(con.call(&["GET", &other_local]).unwrap(), down);
    assert_eq!(con.call(&["SET", &other_local, "w"]).unwrap(), down);
    assert_eq!(con.call(&["GET", &foreign]).unwrap(), down);
    // Keyless commands still work.
    assert_eq!(con.call(&["PING"]).unwrap(), "+PONG\r\n");
    // Reads when down: reads of served slots work, writes are refused.
    assert_eq!(
        con.call(&["CONFIG", "SET", "cluster-allow-reads-when-down", "yes"])
            .unwrap(),
        "+OK\r\n"
    );
    assert_eq!(con.call(&["GET", &other_local]).unwrap(), "$1\r\nv\r\n");
    assert_eq!(
        con.call(&["SET", &other_local, "w"]).unwrap(),
        "-CLUSTERDOWN The cluster is down and only accepts read commands\r\n"
    );
    assert_eq!(con.call(&["GET", &key]).unwrap(), not_served);
    assert_eq!(
        con.call(&["GET", &foreign]).unwrap(),
        format!(
            "-MOVED {} 127.0.0.1:{}\r\n",
            key_slot(foreign.as_bytes()),
            c.nodes[1].port
        )
    );
    // The other nodes still route the slot to node 0 (DELSLOTS is local) and stay ok.
    for other in &c.nodes[1..] {
        assert_eq!(state(other).unwrap(), "ok");
        assert_eq!(
            other.call(&["GET", &key]),
            format!("-MOVED {slot} 127.0.0.1:{}\r\n", a.port)
        );
    }
    // Taking the slot back makes node 0 ok again.
    assert_eq!(
        a.call(&["CLUSTER", "ADDSLOTS", &slot.to_string()]),
        "+OK\r\n"
    );
    c.wait_healthy();
    assert_eq!(a.call(&["SET", &other_local, "w"]), "+OK\r\n");
}
