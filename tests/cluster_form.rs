//! Forming and administering a cluster: `redis-cli --cluster create/check/info/call/
//! set-timeout/fix`, formation by plain commands, CLUSTER INFO / SLOTS / SHARDS / MYID / NODES
//! formats, a whole-cluster restart from nodes.conf, the nodes.conf lock, CLUSTER FORGET and its
//! ban, config-epoch collision resolution, CLUSTER BUMPEPOCH. Node kind: `CLUSTER_KIND` (see
//! `common::cluster`).
mod common;
use common::cluster::{
    agree, healthy, kind, plain, redis_cli, redis_cli_stdin, shared, stdout, wait_until, Cluster,
    Kind, Node, NodeLine, Opts, CLUSTER_DEADLINE, NODE_TIMEOUT_MS,
};
use redis::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Shared by the read-only tests (and set-timeout, which nothing else here depends on).
fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    shared(&C, || {
        let opts = Opts {
            config_file: true,
            ..Opts::default()
        };
        Cluster::start_opts(3, kind(), &opts)
    })
}

fn is_hex40(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn redis_cli_check_info_call_and_set_timeout() {
    let c = cluster();
    for node in &c.nodes {
        let out = redis_cli(&["--cluster", "check", &node.addr()]);
        let text = plain(&stdout(&out));
        assert!(out.status.success(), "check via {}: {text}", node.port);
        assert!(
            text.contains("[OK] All nodes agree about slots configuration."),
            "{text}"
        );
        assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
        assert!(
            !text.contains("[ERR]") && !text.contains("[WARNING]"),
            "{text}"
        );
    }
    let out = redis_cli(&["--cluster", "info", &c.nodes[1].addr()]);
    let text = plain(&stdout(&out));
    assert!(out.status.success(), "{text}");
    let map = c.slot_map();
    for (i, node) in c.nodes.iter().enumerate() {
        let slots: usize = map[i].iter().map(|(a, b)| (*b - *a) as usize + 1).sum();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{} (", node.addr())))
            .unwrap_or_else(|| panic!("no line for {} in {text}", node.addr()));
        assert!(
            line.ends_with(&format!("-> 0 keys | {slots} slots | 0 slaves.")),
            "{line}"
        );
    }
    assert!(text.contains("[OK] 0 keys in 3 masters."), "{text}");

    let out = redis_cli(&["--cluster", "call", &c.nodes[2].addr(), "PING"]);
    let text = plain(&stdout(&out));
    assert!(out.status.success(), "{text}");
    for node in &c.nodes {
        assert!(text.contains(&format!("{}: PONG", node.addr())), "{text}");
    }
    let out = redis_cli(&["--cluster", "call", &c.nodes[2].addr(), "CLUSTER", "MYID"]);
    let text = plain(&stdout(&out));
    for node in &c.nodes {
        assert!(
            text.contains(&format!("{}: {}", node.addr(), node.id())),
            "{text}"
        );
    }

    let out = redis_cli(&["--cluster", "set-timeout", &c.nodes[0].addr(), "5000"]);
    let text = plain(&stdout(&out));
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("New node timeout set. 3 OK, 0 ERR."),
        "{text}"
    );
    for node in &c.nodes {
        let v: Vec<String> = node.query(&["CONFIG", "GET", "cluster-node-timeout"]);
        assert_eq!(v, vec!["cluster-node-timeout", "5000"]);
        // set-timeout also rewrites the config file
        let conf = std::fs::read_to_string(node.dir.path().join("redis.conf")).unwrap();
        assert!(
            conf.lines().any(|l| l == "cluster-node-timeout 5000"),
            "{conf}"
        );
    }
}

#[test]
fn cluster_info_fields_are_sane() {
    let c = cluster();
    let int = |m: &BTreeMap<String, String>, k: &str| -> i64 {
        m.get(k)
            .unwrap_or_else(|| panic!("CLUSTER INFO lacks {k}: {m:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("{k} not an integer: {m:?}"))
    };
    // Every node has sent pings and received pongs by now (gossip runs all the time).
    wait_until("ping/pong counters to move", CLUSTER_DEADLINE, || {
        for node in &c.nodes {
            let m = node.cluster_info()?;
            for k in [
                "cluster_stats_messages_ping_sent",
                "cluster_stats_messages_pong_received",
                "cluster_stats_messages_ping_received",
                "cluster_stats_messages_pong_sent",
            ] {
                if int(&m, k) <= 0 {
                    return Err(format!("{k} on {}", node.port));
                }
            }
        }
        Ok(())
    });
    for node in &c.nodes {
        let m = node.cluster_info().unwrap();
        assert_eq!(m["cluster_state"], "ok");
        assert_eq!(int(&m, "cluster_slots_assigned"), 16384);
        assert_eq!(int(&m, "cluster_slots_ok"), 16384);
        assert_eq!(int(&m, "cluster_slots_pfail"), 0);
        assert_eq!(int(&m, "cluster_slots_fail"), 0);
        assert_eq!(int(&m, "cluster_known_nodes"), 3);
        assert_eq!(int(&m, "cluster_size"), 3);
        let my = int(&m, "cluster_my_epoch");
        let cur = int(&m, "cluster_current_epoch");
        assert!(my >= 1 && cur >= my, "epochs {my} {cur}");
        // the totals are the sums of the per-type counters
        for dir in ["sent", "received"] {
            let total = int(&m, &format!("cluster_stats_messages_{dir}"));
            let parts: i64 = m
                .iter()
                .filter(|(k, _)| {
                    k.starts_with("cluster_stats_messages_")
                        && k.ends_with(&format!("_{dir}"))
                        && **k != format!("cluster_stats_messages_{dir}")
                })
                .map(|(_, v)| v.parse::<i64>().unwrap())
                .sum();
            assert_eq!(total, parts, "{dir} totals: {m:?}");
        }
        assert!(m.contains_key("total_cluster_links_buffer_limit_exceeded"));
    }
    // cluster_current_epoch is the highest config epoch of the cluster
    let max_epoch = c.nodes[0]
        .nodes()
        .iter()
        .map(|l| l.config_epoch)
        .max()
        .unwrap();
    let cur: u64 = c.nodes[0]
        .cluster_info_field("cluster_current_epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(cur, max_epoch);
}

/// Replaces node ports and ids with their index (nodes ordered by their first slot), and
/// replication offsets by 0, so two equivalent clusters give equal values.
fn normalize(v: Value, ports: &[u16], ids: &[String], key: Option<&str>) -> Value {
    match v {
        // node ports are >= 20000, slots < 16384: no confusion
        Value::Int(p) if ports.iter().any(|q| *q as i64 == p) => {
            let i = ports.iter().position(|q| *q as i64 == p).unwrap();
            Value::SimpleString(format!("port#{i}"))
        }
        Value::Int(_) if key == Some("replication-offset") => Value::Int(0),
        Value::BulkString(b) => {
            let s = String::from_utf8_lossy(&b).to_string();
            match ids.iter().position(|id| *id == s) {
                Some(i) => Value::SimpleString(format!("id#{i}")),
                None => Value::BulkString(b),
            }
        }
        Value::Array(items) => {
            // RESP2 maps are flat arrays of name, value
            let mut out = Vec::new();
            let mut prev: Option<String> = None;
            for it in items {
                let k = prev.take();
                let name = match &it {
                    Value::BulkString(b) => Some(String::from_utf8_lossy(b).to_string()),
                    _ => None,
                };
                out.push(normalize(it, ports, ids, k.as_deref()));
                prev = name;
            }
            Value::Array(out)
        }
        Value::Map(kv) => Value::Map(
            kv.into_iter()
                .map(|(k, v)| {
                    let name = match &k {
                        Value::BulkString(b) => String::from_utf8_lossy(b).to_string(),
                        _ => String::new(),
                    };
                    let v = normalize(v, ports, ids, Some(&name));
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

fn by_first_slot(c: &Cluster) -> (Vec<u16>, Vec<String>) {
    let map = c.slot_map();
    let mut order: Vec<usize> = (0..c.nodes.len()).collect();
    order.sort_by_key(|i| map[*i][0].0);
    (
        order.iter().map(|i| c.nodes[*i].port).collect(),
        order.iter().map(|i| c.nodes[*i].id()).collect(),
    )
}

fn sorted_if_array(v: Value) -> Value {
    match v {
        Value::Array(mut items) => {
            items.sort_by_key(|x| format!("{x:?}"));
            Value::Array(items)
        }
        other => other,
    }
}

#[test]
fn cluster_slots_and_shards_have_redis_shape() {
    let subject = cluster();
    // A separate Redis cluster even under CLUSTER_KIND=redis, so the normalization is tested.
    let oracle = &Cluster::start(3, Kind::oracle());
    let (sp, si) = by_first_slot(subject);
    let (op, oi) = by_first_slot(oracle);
    for proto in ["2", "3"] {
        for cmd in [&["CLUSTER", "SLOTS"][..], &["CLUSTER", "SHARDS"]] {
            for i in 0..3 {
                let get = |c: &Cluster, ports: &[u16], ids: &[String]| {
                    let mut con = c.nodes[i].conn();
                    con.call(&["HELLO", proto]).unwrap();
                    let v = con.call_value(cmd).unwrap();
                    let v = normalize(v, ports, ids, None);
                    // SHARDS lists shards in no particular order
                    if cmd[1] == "SHARDS" {
                        sorted_if_array(v)
                    } else {
                        v
                    }
                };
                let got = get(subject, &sp, &si);
                let want = get(oracle, &op, &oi);
                assert_eq!(got, want, "{cmd:?} RESP{proto} on node {i}");
            }
        }
    }
    // The shape itself: three ranges, each [start, end, [ip, port, id, ...]].
    let slots: Vec<Value> = subject.nodes[0].query(&["CLUSTER", "SLOTS"]);
    assert_eq!(slots.len(), 3);
}

#[test]
fn myid_and_cluster_nodes_format() {
    let c = cluster();
    let ids: BTreeSet<String> = c.nodes.iter().map(|n| n.id()).collect();
    assert_eq!(ids.len(), 3);
    for node in &c.nodes {
        let id = node.id();
        assert!(is_hex40(&id), "MYID {id:?}");
        let text: String = node.query(&["CLUSTER", "NODES"]);
        assert!(text.ends_with('\n'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let mut myself = 0;
        for raw in lines {
            let f: Vec<&str> = raw.split(' ').collect();
            assert!(f.len() >= 9, "{raw}");
            assert!(is_hex40(f[0]), "id in {raw}");
            assert!(ids.contains(f[0]), "unknown id in {raw}");
            // 127.0.0.1:<port>@<port+10000>
            let (ipport, cport) = f[1].split_once('@').expect(raw);
            let (ip, port) = ipport.split_once(':').expect(raw);
            assert_eq!(ip, "127.0.0.1", "{raw}");
            let port: u16 = port.parse().expect(raw);
            assert!(c.ports().contains(&port), "{raw}");
            assert_eq!(cport, (port + 10000).to_string(), "{raw}");
            let flags: Vec<&str> = f[2].split(',').collect();
            for fl in &flags {
                assert!(
                    [
                        "myself",
                        "master",
                        "slave",
                        "fail?",
                        "fail",
                        "handshake",
                        "noaddr",
                        "nofailover",
                        "noflags"
                    ]
                    .contains(fl),
                    "flag {fl} in {raw}"
                );
            }
            if flags.contains(&"myself") {
                myself += 1;
                assert_eq!(f[0], id, "{raw}");
                assert_eq!(port, node.port, "{raw}");
                assert_eq!(f[2], "myself,master", "{raw}");
            } else {
                assert_eq!(f[2], "master", "{raw}");
            }
            assert_eq!(f[3], "-", "primary of a primary: {raw}");
            let ping_sent: u64 = f[4].parse().expect(raw);
            let _pong_recv: u64 = f[5].parse().expect(raw);
            if flags.contains(&"myself") {
                assert_eq!(ping_sent, 0, "{raw}");
            }
            let epoch: u64 = f[6].parse().expect(raw);
            assert!(epoch >= 1, "{raw}");
            assert_eq!(f[7], "connected", "{raw}");
            for s in &f[8..] {
                let ok = match s.split_once('-') {
                    Some((a, b)) => {
                        let (a, b): (u16, u16) = (a.parse().expect(raw), b.parse().expect(raw));
                        a < b && b < 16384
                    }
                    None => s.parse::<u16>().expect(raw) < 16384,
                };
                assert!(ok, "slot range {s} in {raw}");
            }
            assert!(NodeLine::parse(raw).is_some(), "{raw}");
        }
        assert_eq!(myself, 1, "{text}");
        // CLUSTER MYSHARDID is 7.2; CLUSTER NODES of an unknown sub-command is an error
        let r = node.call(&["CLUSTER", "NOSUCHSUBCOMMAND"]);
        assert!(
            r.starts_with("-ERR unknown subcommand 'NOSUCHSUBCOMMAND'"),
            "{r}"
        );
    }
}

#[test]
fn manual_formation_survives_a_whole_cluster_restart() {
    let c = Cluster::start_manual(&[kind(); 3]);
    let before = c.wait_healthy();
    // SET-CONFIG-EPOCH i+1 on node i
    for (i, node) in c.nodes.iter().enumerate() {
        let id = node.id();
        let line = before.iter().find(|s| s.id == id).unwrap();
        assert_eq!(line.config_epoch, i as u64 + 1);
        assert_eq!(line.slots, vec![common::cluster::even_range(i, 3)]);
    }
    let ids: Vec<String> = c.nodes.iter().map(|n| n.id()).collect();
    let key = c.key_on(1, "restart");
    assert_eq!(
        c.nodes[0].call(&["SET", &key, "v"]).chars().next(),
        Some('-')
    );
    for node in &c.nodes {
        node.kill9();
    }
    for node in &c.nodes {
        node.restart();
    }
    let after = c.wait_healthy();
    assert_eq!(after, before);
    let ids_after: Vec<String> = c.nodes.iter().map(|n| n.id()).collect();
    assert_eq!(ids_after, ids);
    assert_eq!(
        c.nodes[0].call(&["GET", &key]),
        format!(
            "-MOVED {} 127.0.0.1:{}\r\n",
            common::cluster::key_slot(key.as_bytes()),
            c.nodes[1].port
        )
    );
}

#[test]
fn a_second_process_cannot_take_a_locked_nodes_conf() {
    let node = Node::start(kind());
    let id = node.id();
    let twin_port = common::cluster::free_cluster_port();
    let mut twin = node.spawn_twin(twin_port);
    let status = wait_until("the second process to exit", CLUSTER_DEADLINE, || {
        twin.try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "still running".to_string())
    });
    assert!(!status.success(), "second process exited with {status}");
    // The first one is unharmed and its nodes.conf still names it.
    assert!(node.ping());
    assert_eq!(node.id(), id);
    let conf = std::fs::read_to_string(node.dir.path().join("nodes.conf")).unwrap();
    assert!(
        conf.lines()
            .any(|l| l.starts_with(&id) && l.contains("myself")),
        "{conf}"
    );
}

#[test]
fn redis_cli_fix_covers_an_unassigned_slot() {
    let c = Cluster::start(3, kind());
    let slot = c.slot_map()[0][0].0 + 100;
    assert_eq!(
        c.nodes[0].call(&["CLUSTER", "DELSLOTS", &slot.to_string()]),
        "+OK\r\n"
    );
    let out = redis_cli(&["--cluster", "check", &c.nodes[1].addr()]);
    let text = plain(&stdout(&out));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("[ERR] Not all 16384 slots are covered by nodes."),
        "{text}"
    );
    let out = redis_cli_stdin(
        &["--cluster", "fix", &c.nodes[1].addr(), "--cluster-yes"],
        "yes\nyes\nyes\n",
    );
    let text = plain(&stdout(&out));
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("[{slot}]")), "{text}");
    c.wait_healthy();
    let out = redis_cli(&["--cluster", "check", &c.nodes[2].addr()]);
    let text = plain(&stdout(&out));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
}

#[test]
fn forget_removes_a_node_and_gossip_does_not_bring_it_back() {
    let mut c = Cluster::start(3, kind());
    let d = c.add_empty_node(kind(), &Opts::default());
    let d_id = c.nodes[d].id();
    let lists_d =
        |n: &Node| -> Result<bool, String> { Ok(n.try_nodes()?.iter().any(|l| l.id == d_id)) };
    // Errors first.
    let a = &c.nodes[0];
    assert_eq!(
        a.call(&["CLUSTER", "FORGET", &a.id()]),
        "-ERR I tried hard but I can't forget myself...\r\n"
    );
    let unknown = "0123456789012345678901234567890123456789";
    assert_eq!(
        a.call(&["CLUSTER", "FORGET", unknown]),
        format!("-ERR Unknown node {unknown}\r\n")
    );
    // Node 0 forgets D while nodes 1 and 2 may still gossip about it: it must stay forgotten
    // (the 60 s ban). Nodes 1 and 2 may have dropped D already: slotcache sends 7.2's
    // forgotten-node ping extension to peers that understand it (Redis 7.0 doesn't), so their
    // FORGET answers OK or "Unknown node".
    assert_eq!(a.call(&["CLUSTER", "FORGET", &d_id]), "+OK\r\n");
    let watch = Duration::from_millis(2 * NODE_TIMEOUT_MS);
    let start = Instant::now();
    while start.elapsed() < watch {
        assert!(!lists_d(a).unwrap(), "gossip re-added the forgotten node");
        std::thread::sleep(Duration::from_millis(50));
    }
    for n in &c.nodes[1..3] {
        let r = n.call(&["CLUSTER", "FORGET", &d_id]);
        assert!(
            r == "+OK\r\n" || r == format!("-ERR Unknown node {d_id}\r\n"),
            "FORGET on {}: {r}",
            n.port
        );
    }
    let start = Instant::now();
    while start.elapsed() < watch {
        for n in &c.nodes[..3] {
            assert!(!lists_d(n).unwrap(), "node {} lists D again", n.port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rest: Vec<&Node> = c.nodes[..3].iter().collect();
    healthy(&rest).unwrap();
    for n in &rest {
        assert_eq!(
            n.cluster_info_field("cluster_known_nodes").as_deref(),
            Some("3")
        );
    }
}

#[test]
fn colliding_config_epochs_are_resolved_and_bumpepoch() {
    let c = Cluster::start_manual_opts(&[kind(); 3], &Opts::default(), false);
    // All nodes started at config epoch 0; they must end with distinct ones.
    let v = wait_until("distinct config epochs", CLUSTER_DEADLINE, || {
        let v = agree(&c.refs())?;
        let epochs: BTreeSet<u64> = v.iter().map(|s| s.config_epoch).collect();
        if epochs.len() == 3 {
            Ok(v)
        } else {
            Err(format!("epochs {v:?}"))
        }
    });
    c.wait_healthy();
    let max = v.iter().map(|s| s.config_epoch).max().unwrap();
    let epoch_of = |n: &Node| v.iter().find(|s| s.id == n.id()).unwrap().config_epoch;
    let top = c.nodes.iter().find(|n| epoch_of(n) == max).unwrap();
    let low = c.nodes.iter().find(|n| epoch_of(n) < max).unwrap();
    wait_until("current epochs to reach the max", CLUSTER_DEADLINE, || {
        for n in &c.nodes {
            let cur = n.cluster_info_field("cluster_current_epoch");
            if cur != Some(max.to_string()) {
                return Err(format!("node {} current epoch {cur:?}", n.port));
            }
        }
        Ok(())
    });
    assert_eq!(
        top.call(&["CLUSTER", "BUMPEPOCH"]),
        format!("+STILL {max}\r\n")
    );
    assert_eq!(
        low.call(&["CLUSTER", "BUMPEPOCH"]),
        format!("+BUMPED {}\r\n", max + 1)
    );
    assert_eq!(
        low.call(&["CLUSTER", "BUMPEPOCH"]),
        format!("+STILL {}\r\n", max + 1)
    );
    let low_id = low.id();
    wait_until("everyone to see the bumped epoch", CLUSTER_DEADLINE, || {
        let v = agree(&c.refs())?;
        let e = v.iter().find(|s| s.id == low_id).unwrap().config_epoch;
        if e != max + 1 {
            return Err(format!("epoch {e}"));
        }
        for n in &c.nodes {
            let cur = n.cluster_info_field("cluster_current_epoch");
            if cur != Some((max + 1).to_string()) {
                return Err(format!("node {} current epoch {cur:?}", n.port));
            }
        }
        Ok(())
    });
    assert_eq!(
        low.cluster_info_field("cluster_my_epoch"),
        Some((max + 1).to_string())
    );
}

/// `slotcache-server --cluster-form <options> <addrs>`.
fn run_form(options: &[&str], addrs: &[String]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_slotcache-server"))
        .arg("--cluster-form")
        .args(options)
        .args(addrs)
        .output()
        .expect("run slotcache-server --cluster-form")
}

/// The project's own formation command (`slotcache-server --cluster-form`, what
/// scripts/local.sh uses): empty nodes become a healthy cluster of primaries splitting the slots
/// evenly; running it again on a formed cluster changes nothing. The tool speaks plain RESP, so
/// it forms redis-server nodes too (CLUSTER_KIND=redis).
#[test]
fn cluster_form_command_forms_empty_nodes() {
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(kind())).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr()).collect();
    let form = || run_form(&[], &addrs);
    let out = form();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("All 16384 slots covered"));
    let refs: Vec<&Node> = nodes.iter().collect();
    let story = common::cluster::wait_healthy(&refs);
    let before: Vec<String> = refs.iter().map(|n| n.id()).collect();
    // Each node serves one contiguous third, in the order given.
    for (i, n) in refs.iter().enumerate() {
        let slots: i64 = n
            .cluster_info_field("cluster_slots_assigned")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(slots, 16384);
        let mine = n
            .nodes()
            .into_iter()
            .find(|l| l.flags.iter().any(|f| f == "myself"))
            .expect("myself line");
        let range = ((i * 16384 / 3) as u16, ((i + 1) * 16384 / 3 - 1) as u16);
        assert_eq!(mine.slots, vec![range], "node {i}");
    }
    assert!(!story.is_empty());
    let again = form();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let after: Vec<String> = refs.iter().map(|n| n.id()).collect();
    assert_eq!(before, after);
    healthy(&refs).unwrap();
    // A node that already belongs to a cluster is refused.
    let extra = Node::start(kind());
    let (ip, port) = (nodes[0].addr(), nodes[0].port.to_string());
    let ip = ip.rsplit_once(':').unwrap().0.to_string();
    assert_eq!(extra.call(&["CLUSTER", "MEET", &ip, &port]), "+OK\r\n");
    wait_until(
        "the extra node to learn the cluster",
        CLUSTER_DEADLINE,
        || match extra.cluster_info_field("cluster_known_nodes").as_deref() {
            Some("1") | None => Err("still alone".to_string()),
            Some(_) => Ok(()),
        },
    );
    let out = run_form(&[], &[extra.addr()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
}

/// `--cluster-form --replicas 1` (what scripts/local.sh runs): 3 primaries with a replica each,
/// every replica linked and in CLUSTER NODES as the replica of its primary; running it again
/// changes nothing.
#[test]
fn cluster_form_with_replicas() {
    let nodes: Vec<Node> = (0..6).map(|_| Node::start(kind())).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr()).collect();
    let form = || run_form(&["--replicas", "1"], &addrs);
    let out = form();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..3 {
        let primary = nodes[i].id();
        let replica = &nodes[i + 3];
        wait_until("replica role agreed", CLUSTER_DEADLINE, || {
            let lines = nodes[i].try_nodes()?;
            let ok = lines
                .iter()
                .any(|l| l.id == replica.id() && l.has_flag("slave") && l.primary == primary);
            ok.then_some(()).ok_or_else(|| "not yet".to_string())
        });
        let info: String = replica.query(&["INFO", "replication"]);
        assert!(info.contains("master_link_status:up"), "{info}");
    }
    let again = form();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
