//! Pub/Sub in a 3-primary cluster: PUBLISH reaches subscribers on every node (over the bus),
//! shard channels live on the owner of their slot (SSUBSCRIBE/SPUBLISH elsewhere get MOVED),
//! PUBSUB SHARDCHANNELS / SHARDNUMSUB are per node. Node kind: `CLUSTER_KIND` (see
//! `common::cluster`).
mod common;
use common::cluster::{key_slot, kind, shared, Cluster, Conn};
use std::sync::OnceLock;

fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    shared(&C, || Cluster::start(3, kind()))
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// `*3 kind channel count` as sent for (s|p)subscribe confirmations.
fn confirm(kind: &str, chan: &str, count: i64) -> String {
    format!("*3\r\n{}{}:{count}\r\n", bulk(kind), bulk(chan))
}

fn message(kind: &str, chan: &str, payload: &str) -> String {
    format!("*3\r\n{}{}{}", bulk(kind), bulk(chan), bulk(payload))
}

fn next(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.read_frame().expect("a pushed message")).into_owned()
}

#[test]
fn publish_reaches_subscribers_on_every_node() {
    let c = cluster();
    let chan = "news";
    // One channel subscriber and one pattern subscriber per node.
    let mut subs: Vec<Conn> = Vec::new();
    let mut psubs: Vec<Conn> = Vec::new();
    for node in &c.nodes {
        let mut s = node.conn();
        assert_eq!(
            s.call(&["SUBSCRIBE", chan]).unwrap(),
            confirm("subscribe", chan, 1)
        );
        subs.push(s);
        let mut p = node.conn();
        assert_eq!(
            p.call(&["PSUBSCRIBE", "new*"]).unwrap(),
            confirm("psubscribe", "new*", 1)
        );
        psubs.push(p);
    }
    for (i, node) in c.nodes.iter().enumerate() {
        let payload = format!("from-node-{i}");
        // PUBLISH counts the receivers on the publishing node only.
        assert_eq!(node.call(&["PUBLISH", chan, &payload]), ":2\r\n");
        for (s, p) in subs.iter_mut().zip(psubs.iter_mut()) {
            assert_eq!(next(s), message("message", chan, &payload));
            assert_eq!(
                next(p),
                format!(
                    "*4\r\n{}{}{}{}",
                    bulk("pmessage"),
                    bulk("new*"),
                    bulk(chan),
                    bulk(&payload)
                )
            );
        }
    }
    // A channel nobody listens to on the publishing node still propagates (count 0 locally).
    let mut only_b = c.nodes[1].conn();
    only_b.call(&["SUBSCRIBE", "lonely"]).unwrap();
    assert_eq!(c.nodes[0].call(&["PUBLISH", "lonely", "hi"]), ":0\r\n");
    assert_eq!(next(&mut only_b), message("message", "lonely", "hi"));
    // PUBSUB CHANNELS / NUMSUB are local to each node.
    for node in &c.nodes {
        let n: Vec<redis::Value> = node.query(&["PUBSUB", "NUMSUB", chan]);
        assert_eq!(n[1], redis::Value::Int(1));
    }
}

#[test]
fn shard_channels_live_on_the_slot_owner() {
    let c = cluster();
    let chan = c.key_on(1, "shard-chan");
    let slot = key_slot(chan.as_bytes());
    let moved = format!("-MOVED {slot} 127.0.0.1:{}\r\n", c.nodes[1].port);
    for i in [0, 2] {
        let mut s = c.nodes[i].conn();
        assert_eq!(s.call(&["SSUBSCRIBE", &chan]).unwrap(), moved);
        // still a normal connection afterwards
        assert_eq!(s.call(&["PING"]).unwrap(), "+PONG\r\n");
        assert_eq!(c.nodes[i].call(&["SPUBLISH", &chan, "x"]), moved);
        assert_eq!(
            c.nodes[i].call(&["SSUBSCRIBE", "a", "b"]),
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        );
    }
    let owner = &c.nodes[1];
    let mut s1 = owner.conn();
    let mut s2 = owner.conn();
    for s in [&mut s1, &mut s2] {
        assert_eq!(
            s.call(&["SSUBSCRIBE", &chan]).unwrap(),
            confirm("ssubscribe", &chan, 1)
        );
    }
    assert_eq!(owner.call(&["SPUBLISH", &chan, "hello"]), ":2\r\n");
    for s in [&mut s1, &mut s2] {
        assert_eq!(next(s), message("smessage", &chan, "hello"));
    }
    let chans: Vec<String> = owner.query(&["PUBSUB", "SHARDCHANNELS"]);
    assert!(chans.contains(&chan), "{chans:?}");
    let numsub: Vec<redis::Value> = owner.query(&["PUBSUB", "SHARDNUMSUB", &chan]);
    assert_eq!(
        numsub,
        vec![
            redis::Value::BulkString(chan.clone().into_bytes()),
            redis::Value::Int(2)
        ]
    );
    for i in [0, 2] {
        let chans: Vec<String> = c.nodes[i].query(&["PUBSUB", "SHARDCHANNELS"]);
        assert!(!chans.contains(&chan), "{chans:?}");
    }
    // Plain PUBLISH on the same name does not reach shard subscribers.
    assert_eq!(owner.call(&["PUBLISH", &chan, "plain"]), ":0\r\n");
    assert_eq!(owner.call(&["SPUBLISH", &chan, "second"]), ":2\r\n");
    for s in [&mut s1, &mut s2] {
        assert_eq!(next(s), message("smessage", &chan, "second"));
    }
    // SUNSUBSCRIBE drops it from SHARDCHANNELS once nobody is left.
    for s in [&mut s1, &mut s2] {
        assert_eq!(
            s.call(&["SUNSUBSCRIBE", &chan]).unwrap(),
            confirm("sunsubscribe", &chan, 0)
        );
    }
    let numsub: Vec<redis::Value> = owner.query(&["PUBSUB", "SHARDNUMSUB", &chan]);
    assert_eq!(numsub[1], redis::Value::Int(0));
}
