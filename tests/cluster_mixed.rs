//! Mixed clusters: two nodes of the kind under test (`CLUSTER_KIND`, see `common::cluster`)
//! and two real redis-server 7.0 nodes, formed with CLUSTER ADDSLOTSRANGE + SET-CONFIG-EPOCH +
//! MEET. They must speak the same bus protocol: agree on the topology, redirect to each other,
//! carry each other's PUBLISH, and detect each other's failure. Under `CLUSTER_KIND=redis` all
//! four are redis-server, which validates the tests.
mod common;
use common::cluster::{
    key_slot, kind, redis_cli_stdin, shared, stdout, wait_until, Cluster, Conn, Kind, Node,
    CLUSTER_DEADLINE,
};
use std::sync::OnceLock;

/// Nodes 0 and 1 are the kind under test, 2 and 3 redis-server.
fn mixed() -> Cluster {
    Cluster::start_mixed(&[kind(), kind(), Kind::Redis, Kind::Redis])
}

fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    shared(&C, mixed)
}

#[test]
fn all_nodes_tell_the_same_story() {
    let c = cluster();
    let v = c.wait_healthy();
    assert_eq!(v.len(), 4);
    for (i, node) in c.nodes.iter().enumerate() {
        let line = v.iter().find(|s| s.id == node.id()).unwrap();
        assert_eq!(line.config_epoch, i as u64 + 1);
        assert_eq!(line.slots, vec![common::cluster::even_range(i, 4)]);
        let info = node.cluster_info().unwrap();
        assert_eq!(info["cluster_known_nodes"], "4");
        assert_eq!(info["cluster_size"], "4");
        assert_eq!(info["cluster_current_epoch"], "4");
        assert_eq!(info["cluster_my_epoch"], (i + 1).to_string());
    }
}

#[test]
fn redirects_between_kinds() {
    let c = cluster();
    // MOVED from every node to every other, exact text.
    for owner in 0..4 {
        let key = c.key_on(owner, "mixed-moved");
        let want = format!(
            "-MOVED {} 127.0.0.1:{}\r\n",
            key_slot(key.as_bytes()),
            c.nodes[owner].port
        );
        for from in (0..4).filter(|f| *f != owner) {
            for cmd in [
                &["GET", key.as_str()][..],
                &["SET", &key, "v"],
                &["HSET", &key, "f", "v"],
                &["ZADD", &key, "1", "m"],
                &["EXPIRE", &key, "10"],
            ] {
                assert_eq!(c.nodes[from].call(cmd), want, "{cmd:?} on node {from}");
            }
        }
    }
    // The cluster client writes one key into every slot and reads them all back.
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", c.nodes[2].port)])
            .unwrap();
    let mut con = client.get_connection().expect("cluster connection");
    let mut keys: Vec<Option<String>> = vec![None; 16384];
    let mut left = 16384;
    for i in 0.. {
        let k = format!("slot-key:{i}");
        let s = key_slot(k.as_bytes()) as usize;
        if keys[s].is_none() {
            keys[s] = Some(k);
            left -= 1;
            if left == 0 {
                break;
            }
        }
    }
    let keys: Vec<String> = keys.into_iter().map(Option::unwrap).collect();
    let mut pipe = redis::cluster::cluster_pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg(format!("v-{k}")).ignore();
    }
    let () = pipe.query(&mut con).expect("pipelined SETs");
    let mut pipe = redis::cluster::cluster_pipe();
    for k in &keys {
        pipe.cmd("GET").arg(k);
    }
    let got: Vec<String> = pipe.query(&mut con).expect("pipelined GETs");
    for (k, v) in keys.iter().zip(&got) {
        assert_eq!(v, &format!("v-{k}"));
    }
    // Each node holds exactly the keys of its own slots.
    let map = c.slot_map();
    for (i, node) in c.nodes.iter().enumerate() {
        let own: usize = map[i].iter().map(|(a, b)| (*b - *a) as usize + 1).sum();
        let n: usize = node.query(&["DBSIZE"]);
        assert!(n >= own, "node {i} DBSIZE {n} < {own}");
        for (a, b) in &map[i] {
            for slot in [*a, *b] {
                let cnt = node.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
                assert_eq!(cnt, ":1\r\n", "slot {slot} on node {i}");
            }
        }
    }
    // redis-cli -c through every node, following MOVED across kinds.
    for (e, entry) in c.nodes.iter().enumerate() {
        let ks: Vec<String> = (0..4).map(|o| c.key_on(o, &format!("cli-{e}-"))).collect();
        let script: String = ks.iter().map(|k| format!("SET {k} from-{e}\n")).collect();
        let port = entry.port.to_string();
        let out = redis_cli_stdin(&["-c", "-p", &port], &script);
        let text = stdout(&out);
        assert_eq!(text.lines().filter(|l| *l == "OK").count(), 4, "{text}");
        let script: String = ks.iter().map(|k| format!("GET {k}\n")).collect();
        let reader = ((e + 1) % 4).to_string();
        let port = c.nodes[(e + 1) % 4].port.to_string();
        let out = redis_cli_stdin(&["-c", "-p", &port], &script);
        let text = stdout(&out);
        assert_eq!(
            text.lines().filter(|l| *l == format!("from-{e}")).count(),
            4,
            "read via node {reader}: {text}"
        );
    }
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

#[test]
fn publish_crosses_kinds() {
    let c = cluster();
    let chan = "mixed-news";
    let mut subs: Vec<Conn> = c
        .nodes
        .iter()
        .map(|n| {
            let mut s = n.conn();
            assert_eq!(
                s.call(&["SUBSCRIBE", chan]).unwrap(),
                format!("*3\r\n{}{}:1\r\n", bulk("subscribe"), bulk(chan))
            );
            s
        })
        .collect();
    for (i, node) in c.nodes.iter().enumerate() {
        let payload = format!("from-{i}");
        assert_eq!(node.call(&["PUBLISH", chan, &payload]), ":1\r\n");
        for (j, s) in subs.iter_mut().enumerate() {
            let got = String::from_utf8_lossy(&s.read_frame().unwrap()).into_owned();
            assert_eq!(
                got,
                format!("*3\r\n{}{}{}", bulk("message"), bulk(chan), bulk(&payload)),
                "published on node {i}, received on node {j}"
            );
        }
    }
}

/// Kills `victim` and waits until every node in `observers` flags it `fail`; then restarts it
/// and waits until the cluster is healthy again.
fn kill_and_watch(c: &Cluster, victim: usize, observers: &[usize]) {
    let id = c.nodes[victim].id();
    c.nodes[victim].kill9();
    for o in observers {
        let n: &Node = &c.nodes[*o];
        wait_until(
            &format!("node {o} ({:?}) to flag node {victim} fail", n.kind),
            CLUSTER_DEADLINE,
            || {
                let f = n.flags_of(&id)?.ok_or("not listed")?;
                if f.iter().any(|x| x == "fail") {
                    Ok(())
                } else {
                    Err(format!("{f:?}"))
                }
            },
        );
        wait_until("cluster_state:fail", CLUSTER_DEADLINE, || {
            match n.cluster_info_field("cluster_state").as_deref() {
                Some("fail") => Ok(()),
                s => Err(format!("{s:?}")),
            }
        });
    }
    c.nodes[victim].restart();
    c.wait_healthy();
}

#[test]
fn redis_node_failure_is_detected_by_the_other_kind() {
    let c = mixed();
    kill_and_watch(&c, 2, &[0, 1]);
}

#[test]
fn other_kind_failure_is_detected_by_redis_nodes() {
    let c = mixed();
    kill_and_watch(&c, 0, &[2, 3]);
}
