//! What clients see when the topology changes under them: a client blocked on a key whose slot
//! moves away (BLPOP, XREAD) gets MOVED (not an endless wait), and the cluster-announce-* /
//! cluster-preferred-endpoint-type settings show up in redirections, CLUSTER SLOTS and CLUSTER
//! NODES after CONFIG SET. Node kind: `CLUSTER_KIND` (see `common::cluster`).
mod common;
use common::cluster::{key_slot, kind, wait_until, Cluster, Conn, CLUSTER_DEADLINE};

#[test]
fn blocked_client_is_redirected_when_its_slot_moves() {
    let c = Cluster::start_manual(&[kind(); 3]);
    let key = c.key_on(0, "blk");
    let slot = key_slot(key.as_bytes()).to_string();
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let mut blocked = Conn::connect_timeout(a.port, CLUSTER_DEADLINE).unwrap();
    blocked.send(&["BLPOP", &key, "0"]).unwrap();
    // A stream reader blocked on the same (missing) key is redirected the same way.
    let mut reader = Conn::connect_timeout(a.port, CLUSTER_DEADLINE).unwrap();
    reader
        .send(&["XREAD", "BLOCK", "0", "STREAMS", &key, "$"])
        .unwrap();
    wait_until("the clients to block", CLUSTER_DEADLINE, || {
        let info = a.call(&["INFO", "clients"]);
        if info.contains("blocked_clients:2") {
            Ok(())
        } else {
            Err(info)
        }
    });
    // Node a gives the (empty) slot to b; b takes it with a new epoch so everyone agrees.
    let b_id = b.id();
    assert_eq!(
        a.call(&["CLUSTER", "SETSLOT", &slot, "NODE", &b_id]),
        "+OK\r\n"
    );
    for conn in [&mut blocked, &mut reader] {
        let reply = conn.read_frame().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&reply),
            format!("-MOVED {slot} 127.0.0.1:{}\r\n", b.port)
        );
    }
    assert_eq!(
        b.call(&["CLUSTER", "SETSLOT", &slot, "NODE", &b_id]),
        "+OK\r\n"
    );
    assert!(b.call(&["CLUSTER", "BUMPEPOCH"]).starts_with("+BUMPED"));
    wait_until(
        "every node to route the slot to b",
        CLUSTER_DEADLINE,
        || {
            for n in &c.nodes {
                let r = n.call(&["GET", &key]);
                let ok = if n.port == b.port {
                    r == "$-1\r\n"
                } else {
                    r == format!("-MOVED {slot} 127.0.0.1:{}\r\n", b.port)
                };
                if !ok {
                    return Err(format!("node {}: {r}", n.port));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn announced_hostname_and_port_reach_redirects_slots_and_nodes() {
    let c = Cluster::start_manual(&[kind(); 2]);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let key = c.key_on(1, "ann");
    let slot = key_slot(key.as_bytes());
    assert_eq!(
        b.call(&[
            "CONFIG",
            "SET",
            "cluster-announce-hostname",
            "node-b.example"
        ]),
        "+OK\r\n"
    );
    assert_eq!(
        a.call(&[
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "hostname"
        ]),
        "+OK\r\n"
    );
    let want = format!("-MOVED {slot} node-b.example:{}\r\n", b.port);
    wait_until("MOVED to b's hostname", CLUSTER_DEADLINE, || {
        let r = a.call(&["GET", &key]);
        if r == want {
            Ok(())
        } else {
            Err(r)
        }
    });
    let slots = a.call(&["CLUSTER", "SLOTS"]);
    assert!(slots.contains("node-b.example"), "{slots}");
    // Unknown endpoint: redirections carry an empty host (Redis's getPreferredEndpoint).
    assert_eq!(
        a.call(&[
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "unknown-endpoint"
        ]),
        "+OK\r\n"
    );
    assert_eq!(
        a.call(&["GET", &key]),
        format!("-MOVED {slot} :{}\r\n", b.port)
    );
    // An announced client port replaces the real one in the others' view.
    assert_eq!(
        a.call(&["CONFIG", "SET", "cluster-preferred-endpoint-type", "ip"]),
        "+OK\r\n"
    );
    assert_eq!(
        b.call(&["CONFIG", "SET", "cluster-announce-port", "1234"]),
        "+OK\r\n"
    );
    let b_id = b.id();
    wait_until("a to see b's announced port", CLUSTER_DEADLINE, || {
        let line = a
            .nodes()
            .into_iter()
            .find(|l| l.id == b_id)
            .ok_or("b missing")?;
        if line.port == 1234 && line.addr.contains(",node-b.example") {
            Ok(())
        } else {
            Err(format!("{line:?}"))
        }
    });
    assert_eq!(
        a.call(&["GET", &key]),
        format!("-MOVED {slot} 127.0.0.1:1234\r\n")
    );
}

/// An open slot (SETSLOT MIGRATING / IMPORTING, as redis-cli --cluster reshard leaves it while
/// keys move): the source serves keys it still has, sends ASK when all are gone and TRYAGAIN
/// for a mix; the target
/// serves them only after ASKING (one command), answers TRYAGAIN for multi-key requests with
/// missing keys, and MOVED without ASKING.
#[test]
fn open_slot_ask_asking_and_tryagain() {
    let c = Cluster::start_manual(&[kind(); 2]);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let tag = c.tag_on(0, "mig");
    let slot = key_slot(tag.as_bytes()).to_string();
    let (present, missing, other) = (
        format!("{tag}present"),
        format!("{tag}missing"),
        format!("{tag}other"),
    );
    assert_eq!(a.call(&["SET", &present, "1"]), "+OK\r\n");
    assert_eq!(
        b.call(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &a.id()]),
        "+OK\r\n"
    );
    assert_eq!(
        a.call(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &b.id()]),
        "+OK\r\n"
    );
    let ask = format!("-ASK {slot} 127.0.0.1:{}\r\n", b.port);
    let moved = format!("-MOVED {slot} 127.0.0.1:{}\r\n", a.port);
    assert_eq!(a.call(&["GET", &present]), "$1\r\n1\r\n");
    assert_eq!(a.call(&["GET", &missing]), ask);
    // Some keys still here, some gone: retry later (Redis 7.0 answers TRYAGAIN, not ASK).
    assert_eq!(
        a.call(&["MGET", &present, &missing]),
        "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    );
    assert_eq!(a.call(&["MGET", &missing, &other]), ask);
    assert_eq!(b.call(&["GET", &missing]), moved);
    let mut conn = b.conn();
    assert_eq!(conn.call(&["ASKING"]).unwrap(), "+OK\r\n");
    assert_eq!(conn.call(&["GET", &missing]).unwrap(), "$-1\r\n");
    assert_eq!(
        conn.call(&["GET", &missing]).unwrap(),
        moved,
        "ASKING lasts one command"
    );
    assert_eq!(conn.call(&["ASKING"]).unwrap(), "+OK\r\n");
    assert_eq!(
        conn.call(&["MGET", &missing, &other]).unwrap(),
        "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    );
    assert_eq!(conn.call(&["ASKING"]).unwrap(), "+OK\r\n");
    assert_eq!(conn.call(&["SET", &missing, "2"]).unwrap(), "+OK\r\n");
    for n in [a, b] {
        assert_eq!(n.call(&["CLUSTER", "SETSLOT", &slot, "STABLE"]), "+OK\r\n");
    }
    assert_eq!(b.call(&["GET", &present]), moved);
}
