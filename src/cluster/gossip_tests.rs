//! Unit tests of `gossip::process` (kept apart: the module itself stays small). Each test
//! drives a `ClusterState` with hand-built messages on links whose receivers are kept, so
//! what was queued can be decoded and checked. The clock is `NOW`; the expected behaviour
//! is Redis 7.0's `clusterProcessPacket`.
use super::*;
use crate::cluster::node::random_id;
use crate::cluster::state::NONE;
use crate::cluster::wire::{self, set_slot_bit};
use bytes::Bytes;
use std::ops::Range;
use tokio::sync::mpsc::unbounded_channel;

use crate::cluster::test_support::{add, new_state, outbound, NOW};

/// Node names: 40 times one hex digit, so their order is known.
const ME: NodeId = [b'5'; 40];
const A: NodeId = [b'a'; 40];
const B: NodeId = [b'b'; 40];
const C: NodeId = [b'c'; 40];
const X: NodeId = [b'e'; 40];

use crate::cluster::test_support::Rx;

fn give_me(st: &mut ClusterState, epoch: u64, slots: Range<u16>) {
    st.me_mut().config_epoch = epoch;
    let i = st.my_idx();
    for s in slots {
        st.add_slot(s, i);
    }
}

/// Inbound link, not yet attached to a node, as the listener accepts them.
fn inbound(st: &mut ClusterState) -> (LinkId, Rx) {
    let (tx, rx) = unbounded_channel();
    (st.add_link(None, false, tx, NOW).0, rx)
}

/// The header `id` would send given what we know of it (`messages::my_header` seen from
/// here): its address, role, and its own or its primary's slots and configEpoch.
fn header_of(st: &ClusterState, id: NodeId, t: MsgType) -> Header {
    let n = st.node(&id).expect("known");
    let shard = n.primary.and_then(|p| st.node(&p)).unwrap_or(n);
    let mut h = Header::new(t, id);
    h.port = n.port;
    h.pport = n.pport;
    h.cport = n.cport;
    h.myip = n.ip.clone();
    h.current_epoch = st.current_epoch;
    h.config_epoch = shard.config_epoch;
    h.myslots = shard.slots.0.clone();
    h.replicaof = n.primary;
    h.flags = n.flags & (flag::MASTER | flag::SLAVE);
    h
}

fn gossip(header: Header, entries: Vec<GossipEntry>, extensions: Vec<Extension>) -> Message {
    Message {
        header,
        body: Body::Gossip {
            entries,
            extensions,
        },
    }
}

/// A gossip entry about a known node, with its address (so no address change is implied).
fn entry_of(st: &ClusterState, id: NodeId, flags: u16) -> GossipEntry {
    let n = st.node(&id).expect("known");
    GossipEntry {
        node_id: id,
        ping_sent: 0,
        pong_received: 0,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags,
        pport: 0,
    }
}

fn bitmap(slots: Range<u16>) -> Box<wire::SlotBitmap> {
    let mut b = Box::new([0u8; wire::SLOT_BITMAP_LEN]);
    for s in slots {
        set_slot_bit(&mut b, s, true);
    }
    b
}

fn peer() -> Peer {
    Peer {
        ip: "10.0.0.2".into(),
        local_ip: "10.0.0.1".into(),
    }
}

fn run(st: &mut ClusterState, link: LinkId, msg: Message) {
    process(st, link, msg, &peer(), NOW);
}

/// Every frame queued on a link so far, decoded.
fn sent(rx: &mut Rx) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(frame) = rx.try_recv() {
        out.push(wire::decode(&frame).expect("we send valid frames"));
    }
    out
}

fn types(msgs: &[Message]) -> Vec<MsgType> {
    msgs.iter().map(|m| m.header.msg_type).collect()
}

fn flags_of(st: &ClusterState, id: NodeId) -> u16 {
    st.node(&id).expect("known").flags
}

#[test]
fn meet_from_unknown_sender_creates_handshake_node_and_pongs() {
    let mut st = new_state(ME);
    let (l, mut rx) = inbound(&mut st);
    let mut h = Header::new(MsgType::Meet, A);
    (h.port, h.pport, h.cport, h.flags) = (7001, 0, 17001, flag::MASTER);
    // An unknown node in a MEET's gossip is not added: Redis wants a known sender for that.
    let stranger = GossipEntry {
        node_id: C,
        ip: "10.0.0.9".into(),
        port: 7009,
        cport: 17009,
        flags: flag::MASTER,
        ..entry_of(&st, ME, 0)
    };
    run(&mut st, l, gossip(h, vec![stranger], vec![]));
    assert_eq!(
        st.nodes.len(),
        2,
        "one handshake node, not the gossiped one"
    );
    let n = st.nodes.iter().find(|n| !n.is_myself()).unwrap();
    assert_eq!(n.flags, flag::HANDSHAKE);
    assert_ne!(n.id, A, "a handshake node has a random name until its PONG");
    assert_eq!((n.ip.as_str(), n.port, n.cport), ("10.0.0.2", 7001, 17001));
    assert_eq!(st.me().ip, "10.0.0.1", "a MEET tells us our address");
    let replies = sent(&mut rx);
    assert_eq!(types(&replies), [MsgType::Pong]);
    assert_eq!(replies[0].header.sender, ME);

    // An announced IP wins over the socket's; with cluster-announce-ip ours is not learned.
    let mut st = new_state(ME);
    st.settings.announce_ip = "192.168.1.1".into();
    st.me_mut().ip = "192.168.1.1".into();
    let (l, _rx) = inbound(&mut st);
    let mut h = Header::new(MsgType::Meet, A);
    h.myip = "10.0.0.3".into();
    run(&mut st, l, gossip(h, vec![], vec![]));
    assert!(st
        .nodes
        .iter()
        .any(|n| n.in_handshake() && n.ip == "10.0.0.3"));
    assert_eq!(st.me().ip, "192.168.1.1");
}

#[test]
fn ping_from_unknown_sender_only_pongs() {
    let mut st = new_state(ME);
    st.me_mut().ip = "10.0.0.5".into();
    let (l, mut rx) = inbound(&mut st);
    run(
        &mut st,
        l,
        gossip(Header::new(MsgType::Ping, A), vec![], vec![]),
    );
    assert_eq!(st.nodes.len(), 1, "only a MEET creates a node");
    assert_eq!(types(&sent(&mut rx)), [MsgType::Pong]);
    assert_eq!(
        st.me().ip,
        "10.0.0.5",
        "a PING only sets our IP when we have none"
    );
    st.me_mut().ip.clear();
    run(
        &mut st,
        l,
        gossip(Header::new(MsgType::Ping, A), vec![], vec![]),
    );
    assert_eq!(st.me().ip, "10.0.0.1");
}

#[test]
fn pong_completes_handshake_or_drops_duplicate() {
    let mut st = new_state(ME);
    let tmp = random_id();
    add(&mut st, tmp, flag::HANDSHAKE, 0, 0..0);
    let (l, _rx) = outbound(&mut st, tmp);
    let mut h = Header::new(MsgType::Pong, A);
    (h.myip, h.port, h.cport, h.flags) = ("10.0.0.7".into(), 7001, 17001, flag::MASTER);
    run(&mut st, l, gossip(h, vec![], vec![]));
    assert!(st.node(&tmp).is_none(), "renamed");
    let n = st.node(&A).expect("known by its real name");
    assert!(!n.in_handshake() && n.is_primary());
    assert_eq!(n.link, Some(l));
    assert_eq!(st.links[&l].node, Some(A));

    // We already know the sender: the handshake node goes, with its link; the known node
    // takes the address it answered from.
    let tmp = random_id();
    add(&mut st, tmp, flag::HANDSHAKE, 0, 0..0);
    let (l2, _rx2) = outbound(&mut st, tmp);
    let mut h = header_of(&st, A, MsgType::Pong);
    h.myip = "10.0.0.8".into();
    run(&mut st, l2, gossip(h, vec![], vec![]));
    assert!(st.node(&tmp).is_none());
    assert!(!st.links.contains_key(&l2));
    assert_eq!(st.nodes.len(), 2);
    assert_eq!(st.node(&A).unwrap().ip, "10.0.0.8");
}

#[test]
fn pong_on_outbound_link_resets_ping_timer_and_pfail() {
    let mut st = new_state(ME);
    add(&mut st, A, flag::MASTER | flag::PFAIL, 1, 0..0);
    st.node_mut(&A).unwrap().ping_sent = NOW - 5000;
    let (inb, _rx) = inbound(&mut st);
    let pong = gossip(header_of(&st, A, MsgType::Pong), vec![], vec![]);
    run(&mut st, inb, pong);
    let n = st.node(&A).unwrap();
    assert_eq!(
        n.ping_sent,
        NOW - 5000,
        "a PONG on an inbound link answers no PING of ours"
    );
    assert!(n.has(flag::PFAIL));
    let (out, _rx) = outbound(&mut st, A);
    let pong = gossip(header_of(&st, A, MsgType::Pong), vec![], vec![]);
    run(&mut st, out, pong);
    let n = st.node(&A).unwrap();
    assert_eq!((n.ping_sent, n.pong_received), (0, NOW));
    assert!(!n.has(flag::PFAIL));
}

/// Four slot-owning primaries (quorum 3) with links both ways; X is PFAIL for us.
fn four_primaries() -> (ClusterState, [(LinkId, Rx); 2], [Rx; 3]) {
    let mut st = new_state(ME);
    give_me(&mut st, 1, 0..100);
    add(&mut st, A, flag::MASTER, 2, 100..200);
    add(&mut st, B, flag::MASTER, 3, 200..300);
    add(&mut st, X, flag::MASTER | flag::PFAIL, 4, 300..400);
    let outs = [A, B, X].map(|id| outbound(&mut st, id).1);
    let ins = [inbound(&mut st), inbound(&mut st)];
    (st, ins, outs)
}

fn ping_with(st: &mut ClusterState, link: LinkId, from: NodeId, entries: Vec<GossipEntry>) {
    let h = header_of(st, from, MsgType::Ping);
    run(st, link, gossip(h, entries, vec![]));
}

#[test]
fn gossip_failure_reports_reach_quorum_and_fail_is_broadcast() {
    let (mut st, [(la, _ra), (lb, _rb)], mut outs) = four_primaries();
    let pfail = entry_of(&st, X, flag::MASTER | flag::PFAIL);
    let healthy = entry_of(&st, X, flag::MASTER);
    ping_with(&mut st, la, A, vec![pfail.clone()]);
    let reporters = |st: &ClusterState| -> Vec<NodeId> {
        st.node(&X)
            .unwrap()
            .fail_reports
            .iter()
            .map(|r| r.from)
            .collect()
    };
    assert_eq!(reporters(&st), [A]);
    assert!(flags_of(&st, X) & flag::FAIL == 0, "me + A = 2 of 3");
    ping_with(&mut st, la, A, vec![healthy]);
    assert!(reporters(&st).is_empty(), "A sees X again: its report goes");
    ping_with(&mut st, la, A, vec![pfail]);
    for rx in outs.iter_mut() {
        assert!(sent(rx).is_empty());
    }
    let fail = entry_of(&st, X, flag::MASTER | flag::FAIL);
    ping_with(&mut st, lb, B, vec![fail]);
    let n = st.node(&X).unwrap();
    assert!(n.has(flag::FAIL) && !n.has(flag::PFAIL), "me + A + B");
    assert_eq!(n.fail_time, NOW);
    for rx in outs.iter_mut() {
        let msgs = sent(rx);
        assert_eq!(types(&msgs), [MsgType::Fail], "FAIL on every outbound link");
        assert!(matches!(msgs[0].body, Body::Fail { node_id } if node_id == X));
    }
}

#[test]
fn gossip_reports_from_replicas_do_not_count() {
    let (mut st, _ins, _outs) = four_primaries();
    add(&mut st, C, flag::SLAVE, 0, 0..0);
    st.node_mut(&C).unwrap().primary = Some(A);
    let (l, _rx) = inbound(&mut st);
    let pfail = entry_of(&st, X, flag::MASTER | flag::PFAIL);
    ping_with(&mut st, l, C, vec![pfail]);
    assert!(st.node(&X).unwrap().fail_reports.is_empty());
}

#[test]
fn gossip_adds_unknown_nodes_unless_noaddr_or_forgotten() {
    let (mut st, [(la, _ra), _], _outs) = four_primaries();
    let new = |id: NodeId, flags: u16| GossipEntry {
        node_id: id,
        ping_sent: 0,
        pong_received: 0,
        ip: "10.0.0.9".into(),
        port: 7009,
        cport: 17009,
        flags,
        pport: 0,
    };
    let (noaddr, banned) = ([b'd'; 40], [b'f'; 40]);
    st.blacklist.insert(banned, NOW + 60_000);
    let entries = vec![
        new(C, flag::SLAVE),
        new(noaddr, flag::MASTER | flag::NOADDR),
        new(banned, flag::MASTER),
    ];
    ping_with(&mut st, la, A, entries);
    let c = st.node(&C).expect("added from a known sender's gossip");
    assert_eq!((c.ip.as_str(), c.port, c.cport), ("10.0.0.9", 7009, 17009));
    assert_eq!(c.flags, flag::SLAVE);
    assert!(st.node(&noaddr).is_none());
    assert!(st.node(&banned).is_none());
}

#[test]
fn fail_message_marks_node_unless_sender_unknown_or_about_myself() {
    let (mut st, [(la, _ra), (lb, _rb)], _outs) = four_primaries();
    let fail = |from: NodeId, about: NodeId| Message {
        header: Header::new(MsgType::Fail, from),
        body: Body::Fail { node_id: about },
    };
    run(&mut st, lb, fail(C, X));
    assert!(flags_of(&st, X) & flag::FAIL == 0, "unknown sender ignored");
    ping_with(&mut st, la, A, vec![]); // the link now belongs to A
    run(&mut st, la, fail(A, ME));
    assert!(flags_of(&st, ME) & flag::FAIL == 0, "never FAIL myself");
    run(&mut st, la, fail(A, X));
    let n = st.node(&X).unwrap();
    assert!(n.has(flag::FAIL) && !n.has(flag::PFAIL));
    assert_eq!(n.fail_time, NOW);
}

#[test]
fn slot_claim_with_greater_epoch_takes_my_slots() {
    let mut st = new_state(ME);
    give_me(&mut st, 1, 0..100);
    add(&mut st, A, flag::MASTER, 1, 0..0);
    let (l, _rx) = inbound(&mut st);
    let mut h = header_of(&st, A, MsgType::Ping);
    (h.config_epoch, h.myslots) = (5, bitmap(0..10));
    run(&mut st, l, gossip(h, vec![], vec![]));
    assert_eq!(st.owner_id(0), Some(A));
    assert_eq!(st.owner_id(9), Some(A));
    assert_eq!(st.owner_id(10), Some(ME));
    assert_eq!(st.lost_slots, (0..10).collect::<Vec<u16>>());
    assert_eq!(st.me().numslots, 90);
}

#[test]
fn stale_slot_claim_gets_an_update_on_the_senders_link() {
    let mut st = new_state(ME);
    add(&mut st, A, flag::MASTER, 5, 100..110);
    add(&mut st, B, flag::MASTER, 10, 200..300);
    let (_out, mut out_rx) = outbound(&mut st, A);
    let (inb, mut in_rx) = inbound(&mut st);
    let mut h = header_of(&st, A, MsgType::Ping);
    h.myslots = bitmap(100..110);
    set_slot_bit(&mut h.myslots, 200, true);
    run(&mut st, inb, gossip(h, vec![], vec![]));
    assert_eq!(st.owner_id(200), Some(B), "epoch 5 does not beat 10");
    assert_eq!(types(&sent(&mut in_rx)), [MsgType::Pong]);
    let msgs = sent(&mut out_rx);
    assert_eq!(types(&msgs), [MsgType::Update]);
    match &msgs[0].body {
        Body::Update {
            config_epoch,
            node_id,
            slots,
        } => {
            assert_eq!((*config_epoch, *node_id), (10, B));
            assert!(wire::slot_bit(slots, 200) && !wire::slot_bit(slots, 100));
        }
        other => panic!("not an UPDATE body: {other:?}"),
    }
}

/// Redis computes `dirty_slots` against the sender's primary when the sender is a replica,
/// so a replica of a stale primary is sent an UPDATE too.
#[test]
fn replica_of_stale_primary_gets_an_update() {
    let mut st = new_state(ME);
    add(&mut st, A, flag::MASTER, 5, 0..0);
    add(&mut st, B, flag::MASTER, 10, 200..300);
    add(&mut st, C, flag::SLAVE, 0, 0..0);
    st.node_mut(&C).unwrap().primary = Some(A);
    let (_out, mut out_rx) = outbound(&mut st, C);
    let (inb, _in_rx) = inbound(&mut st);
    let mut h = header_of(&st, C, MsgType::Ping);
    h.myslots = bitmap(200..210); // its stale view of A's slots
    run(&mut st, inb, gossip(h, vec![], vec![]));
    assert_eq!(types(&sent(&mut out_rx)), [MsgType::Update]);
    assert_eq!(st.owner_id(200), Some(B));
}

/// Redis's "Master turned into a slave! Reconfigure the node": clusterDelNodeSlots.
#[test]
fn primary_turned_replica_loses_its_slots() {
    let mut st = new_state(ME);
    add(&mut st, A, flag::MASTER, 5, 100..110);
    add(&mut st, B, flag::MASTER, 10, 200..300);
    let (l, _rx) = inbound(&mut st);
    let mut h = header_of(&st, B, MsgType::Ping);
    (h.sender, h.replicaof, h.flags) = (A, Some(B), flag::SLAVE);
    run(&mut st, l, gossip(h, vec![], vec![]));
    let a = st.node(&A).unwrap();
    assert!(a.is_replica() && !a.is_primary());
    assert_eq!(a.primary, Some(B));
    assert_eq!(a.numslots, 0);
    assert_eq!(st.slots[100], NONE);
}

#[test]
fn update_message_reassigns_slots_only_with_newer_epoch() {
    let mut st = new_state(ME);
    give_me(&mut st, 1, 0..100);
    add(&mut st, A, flag::MASTER, 2, 100..200);
    add(&mut st, B, flag::MASTER, 3, 200..300);
    let (l, _rx) = inbound(&mut st);
    let update = |from: NodeId, epoch: u64, slots: Range<u16>| Message {
        header: Header::new(MsgType::Update, from),
        body: Body::Update {
            config_epoch: epoch,
            node_id: B,
            slots: bitmap(slots),
        },
    };
    run(&mut st, l, update(C, 11, 0..10));
    assert_eq!(st.owner_id(0), Some(ME), "unknown sender ignored");
    ping_with(&mut st, l, A, vec![]);
    run(&mut st, l, update(A, 11, 0..10));
    assert_eq!(st.node(&B).unwrap().config_epoch, 11);
    assert_eq!(st.owner_id(0), Some(B));
    assert_eq!(st.owner_id(200), Some(B));
    assert_eq!(st.lost_slots, (0..10).collect::<Vec<u16>>());
    run(&mut st, l, update(A, 4, 10..20));
    assert_eq!(
        st.owner_id(10),
        Some(ME),
        "older than B's epoch 11: ignored"
    );
    assert_eq!(st.node(&B).unwrap().config_epoch, 11);
}

#[test]
fn config_epoch_collision_smaller_name_bumps() {
    for (me, other, bumped) in [
        ([b'1'; 40], [b'9'; 40], true),
        ([b'9'; 40], [b'1'; 40], false),
    ] {
        let mut st = new_state(me);
        st.me_mut().config_epoch = 3;
        st.current_epoch = 7;
        add(&mut st, other, flag::MASTER, 3, 0..0);
        let (l, _rx) = inbound(&mut st);
        ping_with(&mut st, l, other, vec![]);
        let expected = if bumped { (8, 8) } else { (3, 7) };
        assert_eq!((st.me().config_epoch, st.current_epoch), expected);
    }
}

#[test]
fn extensions_hostname_shard_id_and_forgotten_node() {
    let (mut st, [(la, _ra), _], _outs) = four_primaries();
    let exts = vec![
        Extension::Hostname("a.example".into()),
        Extension::ShardId([b'7'; 40]),
        Extension::ForgottenNode {
            node_id: B,
            ttl: 60,
        },
        Extension::ForgottenNode {
            node_id: ME,
            ttl: 60,
        },
    ];
    let h = header_of(&st, A, MsgType::Ping);
    run(&mut st, la, gossip(h, vec![], exts));
    let a = st.node(&A).unwrap();
    assert_eq!(a.hostname, "a.example");
    assert_eq!(a.shard_id, [b'7'; 40]);
    assert!(st.node(&B).is_none(), "forgotten");
    assert_eq!(st.blacklist.get(&B), Some(&(NOW + 60_000)));
    assert!(st.node(&ME).is_some() && !st.blacklist.contains_key(&ME));
    let b = GossipEntry {
        node_id: B,
        ..entry_of(&st, A, flag::MASTER)
    };
    ping_with(&mut st, la, A, vec![b]);
    assert!(st.node(&B).is_none(), "the ban keeps it out of gossip");
    assert_eq!(
        st.node(&A).unwrap().hostname,
        "",
        "no hostname extension: none"
    );
}

#[test]
fn publish_is_delivered_only_from_known_senders() {
    let (mut st, [(la, _ra), (lb, _rb)], _outs) = four_primaries();
    let publish = |t: MsgType, from: NodeId| Message {
        header: Header::new(t, from),
        body: Body::Publish {
            channel: Bytes::from_static(b"ch"),
            message: Bytes::from_static(b"hi"),
        },
    };
    run(&mut st, lb, publish(MsgType::Publish, C));
    assert!(st.inbox.is_empty());
    run(&mut st, la, publish(MsgType::Publish, A));
    run(&mut st, la, publish(MsgType::PublishShard, A));
    let ch = Bytes::from_static(b"ch");
    let hi = Bytes::from_static(b"hi");
    assert_eq!(st.inbox, [(false, ch.clone(), hi.clone()), (true, ch, hi)]);
}

#[test]
fn epochs_learned_from_known_senders_only() {
    let mut st = new_state(ME);
    add(&mut st, A, flag::MASTER, 2, 0..0);
    let (l, _rx) = inbound(&mut st);
    let mut h = Header::new(MsgType::Ping, C);
    h.current_epoch = 50;
    run(&mut st, l, gossip(h, vec![], vec![]));
    assert_eq!(st.current_epoch, 0, "unknown sender");
    let mut h = header_of(&st, A, MsgType::Ping);
    (h.current_epoch, h.config_epoch) = (20, 9);
    run(&mut st, l, gossip(h, vec![], vec![]));
    assert_eq!(
        (st.current_epoch, st.node(&A).unwrap().config_epoch),
        (20, 9)
    );
    let mut h = header_of(&st, A, MsgType::Ping);
    (h.current_epoch, h.config_epoch) = (5, 4);
    run(&mut st, l, gossip(h, vec![], vec![]));
    assert_eq!(
        (st.current_epoch, st.node(&A).unwrap().config_epoch),
        (20, 9),
        "never lowered"
    );
}
