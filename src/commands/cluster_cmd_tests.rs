//! Unit tests of the CLUSTER rules in `cluster_cmd`, on a bare `ClusterState` (no server).
use super::*;
use crate::cluster::migration::Event;
use crate::cluster::state::Settings;
use crate::commands::cluster_slots::*;

const ME: NodeId = [b'a'; 40];
const OTHER: NodeId = [b'b'; 40];
const REPLICA: NodeId = [b'c'; 40];

/// Myself plus a primary `OTHER` and a replica `REPLICA` of `OTHER`.
fn state() -> ClusterState {
    let mut st = ClusterState::new(ME, Settings::default(), 0);
    st.add_node(Node::new(OTHER, flag::MASTER, 0));
    let mut r = Node::new(REPLICA, flag::SLAVE, 0);
    r.primary = Some(OTHER);
    st.add_node(r);
    st
}

fn err<T: std::fmt::Debug>(r: Result<T, ErrorReply>) -> String {
    r.unwrap_err().text().to_string()
}

fn bytes(v: &[&str]) -> Vec<Bytes> {
    v.iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

#[test]
fn slot_arguments() {
    assert_eq!(parse_slot(b"0"), Ok(0));
    assert_eq!(parse_slot(b"16383"), Ok(16383));
    for bad in [&b"16384"[..], b"-1", b"x", b"1.0", b" 1", b""] {
        assert_eq!(err(parse_slot(bad)), "ERR Invalid or out of range slot");
    }
}

#[test]
fn slot_picks_check_ownership_then_repetition() {
    let mut st = state();
    let me = st.my_idx();
    st.add_slot(5, me);
    let mut add = SlotPick::new(false);
    assert_eq!(err(add.check(&st, 4, 6)), "ERR Slot 5 is already busy");
    let mut add = SlotPick::new(false);
    add.check(&st, 10, 12).unwrap();
    assert_eq!(
        err(add.check(&st, 12, 13)),
        "ERR Slot 12 specified multiple times"
    );
    let mut del = SlotPick::new(true);
    assert_eq!(
        err(del.check(&st, 5, 6)),
        "ERR Slot 6 is already unassigned"
    );
    let mut del = SlotPick::new(true);
    del.check(&st, 5, 5).unwrap();
    assert_eq!(
        err(del.check(&st, 5, 5)),
        "ERR Slot 5 specified multiple times"
    );

    let mut add = SlotPick::new(false);
    add.check(&st, 100, 102).unwrap();
    st.migration.advance(101, Event::Import(OTHER));
    add.apply(&mut st);
    assert_eq!(st.me().numslots, 4);
    assert!(st.migration.is_empty());
    assert!(st.todo.update_state && st.todo.save_config);
    let mut del = SlotPick::new(true);
    del.check(&st, 100, 100).unwrap();
    del.apply(&mut st);
    assert_eq!(st.owner_id(100), None);
    assert_eq!(st.owner_id(101), Some(ME));
}

#[test]
fn setslot_actions_parse() {
    let a = bytes(&["MIGRATING", "n"]);
    assert_eq!(SetSlot::parse(&a), Ok(SetSlot::Migrating(b"n")));
    assert_eq!(SetSlot::parse(&bytes(&["stable"])), Ok(SetSlot::Stable));
    assert_eq!(
        SetSlot::parse(&bytes(&["node", "x"])),
        Ok(SetSlot::Node(b"x"))
    );
    let syntax = "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";
    for bad in [
        &["stable", "x"][..],
        &["node"],
        &["importing", "a", "b"],
        &["foo"],
    ] {
        assert_eq!(err(SetSlot::parse(&bytes(bad))), syntax);
    }
}

#[test]
fn setslot_migrating_and_importing_rules() {
    let mut st = state();
    let me = st.my_idx();
    st.add_slot(1, me);
    let set = |st: &mut ClusterState, slot, a| apply_setslot(st, slot, a, 0, 0);
    assert_eq!(
        err(set(&mut st, 2, SetSlot::Migrating(&OTHER))),
        "ERR I'm not the owner of hash slot 2"
    );
    assert_eq!(
        err(set(&mut st, 1, SetSlot::Migrating(b"nobody"))),
        "ERR I don't know about node nobody"
    );
    assert_eq!(
        err(set(&mut st, 1, SetSlot::Migrating(&REPLICA))),
        "ERR Target node is not a master"
    );
    set(&mut st, 1, SetSlot::Migrating(&OTHER)).unwrap();
    assert_eq!(st.migration.migrating_to(1), Some(OTHER));
    assert!(st.todo.topology);
    assert_eq!(
        err(set(&mut st, 1, SetSlot::Importing(&OTHER))),
        "ERR I'm already the owner of hash slot 1"
    );
    set(&mut st, 2, SetSlot::Importing(&OTHER)).unwrap();
    assert_eq!(st.migration.importing_from(2), Some(OTHER));
    set(&mut st, 1, SetSlot::Stable).unwrap();
    set(&mut st, 2, SetSlot::Stable).unwrap();
    assert!(st.migration.is_empty());
}

#[test]
fn setslot_node_rules() {
    let mut st = state();
    let me = st.my_idx();
    st.add_slot(1, me);
    st.migration.advance(1, Event::Migrate(OTHER));
    assert_eq!(
        err(apply_setslot(&mut st, 1, SetSlot::Node(b"x"), 0, 0)),
        "ERR Unknown node x"
    );
    assert_eq!(
        err(apply_setslot(&mut st, 1, SetSlot::Node(&REPLICA), 0, 0)),
        "ERR Target node is not a master"
    );
    assert_eq!(
        err(apply_setslot(&mut st, 1, SetSlot::Node(&OTHER), 3, 0)),
        "ERR Can't assign hashslot 1 to a different node while I still hold keys for this hash slot."
    );
    // Keys but staying mine: allowed, and the migration mark stays while keys remain.
    apply_setslot(&mut st, 1, SetSlot::Node(&ME), 3, 0).unwrap();
    assert_eq!(st.migration.migrating_to(1), Some(OTHER));
    // Empty: the slot moves and the mark goes.
    apply_setslot(&mut st, 1, SetSlot::Node(&OTHER), 0, 0).unwrap();
    assert_eq!(st.owner_id(1), Some(OTHER));
    assert!(st.migration.is_empty());
    assert_eq!(st.me().numslots, 0);
}

#[test]
fn closing_an_import_takes_a_new_epoch() {
    let mut st = state();
    st.current_epoch = 4;
    let oi = st.idx(&OTHER).unwrap();
    st.add_slot(9, oi);
    apply_setslot(&mut st, 9, SetSlot::Importing(&OTHER), 0, 0).unwrap();
    apply_setslot(&mut st, 9, SetSlot::Node(&ME), 2, 0).unwrap();
    assert_eq!(st.owner_id(9), Some(ME));
    assert!(st.migration.is_empty());
    assert_eq!((st.current_epoch, st.me().config_epoch), (5, 5));
    // Not importing: no bump.
    apply_setslot(&mut st, 10, SetSlot::Node(&ME), 0, 0).unwrap();
    assert_eq!(st.me().config_epoch, 5);
}

#[test]
fn ip_normalization_matches_inet_ntop() {
    let n = |s: &str| normalize_ip(s.as_bytes());
    assert_eq!(n("127.0.0.1").as_deref(), Some("127.0.0.1"));
    assert_eq!(n("127.0.0.1\0junk").as_deref(), Some("127.0.0.1"));
    assert_eq!(n("::1").as_deref(), Some("::1"));
    assert_eq!(n("0:0:0:0:0:0:0:1").as_deref(), Some("::1"));
    assert_eq!(n("FE80:0:0:0:0:0:0:A").as_deref(), Some("fe80::a"));
    assert_eq!(n("::ffff:1.2.3.4").as_deref(), Some("::ffff:1.2.3.4"));
    assert_eq!(n("::1.2.3.4").as_deref(), Some("::1.2.3.4"));
    for bad in [
        "127.000.0.1",
        "0x7f.0.0.1",
        "abc",
        "1.2.3",
        "256.0.0.1",
        "",
        "::1%lo",
    ] {
        assert_eq!(n(bad), None, "{bad}");
    }
}

#[test]
fn handshake_start_rules() {
    let mut st = ClusterState::new(ME, Settings::default(), 0);
    assert_eq!(start_handshake(&mut st, b"abc", 7000, 17000, 0), Err(()));
    assert_eq!(start_handshake(&mut st, b"127.0.0.1", 0, 10000, 0), Err(()));
    assert_eq!(
        start_handshake(&mut st, b"127.0.0.1", 7000, 65536, 0),
        Err(())
    );
    assert_eq!(
        start_handshake(&mut st, b"127.0.0.1", 7000, 17000, 5),
        Ok(true)
    );
    assert_eq!(
        start_handshake(&mut st, b"127.0.0.1", 7000, 17000, 6),
        Ok(false)
    );
    assert_eq!(
        start_handshake(&mut st, b"127.0.0.1", 7000, 17001, 6),
        Ok(true)
    );
    let n = &st.nodes[1];
    assert_eq!(
        (n.ip.as_str(), n.port, n.cport, n.ctime),
        ("127.0.0.1", 7000, 17000, 5)
    );
    assert_eq!(n.flags, flag::HANDSHAKE | flag::MEET);
    assert_eq!(st.nodes.len(), 3);
}

#[test]
fn forget_rules() {
    let mut st = state();
    assert_eq!(err(forget_node(&mut st, b"zz", 0)), "ERR Unknown node zz");
    assert_eq!(
        err(forget_node(&mut st, &ME, 0)),
        "ERR I tried hard but I can't forget myself..."
    );
    st.me_mut().flags = flag::MYSELF | flag::SLAVE;
    st.me_mut().primary = Some(OTHER);
    assert_eq!(
        err(forget_node(&mut st, &OTHER, 0)),
        "ERR Can't forget my master!"
    );
    forget_node(&mut st, &REPLICA, 1000).unwrap();
    assert!(st.node(&REPLICA).is_none());
    assert_eq!(st.blacklist.get(&REPLICA), Some(&(1000 + FORGET_BAN_MS)));
    assert_eq!(
        err(forget_node(&mut st, &REPLICA, 1000)),
        format!("ERR Unknown node {}", "c".repeat(40))
    );
}

#[test]
fn reset_soft_and_hard() {
    let mut st = state();
    let me = st.my_idx();
    st.add_slot(3, me);
    st.migration.advance(3, Event::Migrate(OTHER));
    st.current_epoch = 7;
    st.me_mut().config_epoch = 6;
    assert!(!reset_node(&mut st, false));
    assert_eq!(st.nodes.len(), 1);
    assert_eq!(st.owner_id(3), None);
    assert!(st.migration.is_empty());
    assert_eq!((st.myself, st.current_epoch), (ME, 7));

    st.add_node(Node::new(OTHER, flag::MASTER, 0));
    st.me_mut().flags = flag::MYSELF | flag::SLAVE;
    st.me_mut().primary = Some(OTHER);
    let shard = st.me().shard_id;
    assert!(reset_node(&mut st, true));
    assert_ne!(st.myself, ME);
    assert_eq!(st.me().id, st.myself);
    assert!(st.me().is_primary() && !st.me().is_replica() && st.me().primary.is_none());
    assert_ne!(st.me().shard_id, shard);
    assert_eq!(
        (st.current_epoch, st.last_vote_epoch, st.me().config_epoch),
        (0, 0, 0)
    );
    assert!(st.todo.fsync_config && st.todo.update_state);
}

#[test]
fn set_config_epoch_rules() {
    let mut st = ClusterState::new(ME, Settings::default(), 0);
    assert_eq!(
        err(apply_config_epoch(&mut st, -1)),
        "ERR Invalid config epoch specified: -1"
    );
    apply_config_epoch(&mut st, 0).unwrap();
    apply_config_epoch(&mut st, 7).unwrap();
    assert_eq!((st.current_epoch, st.me().config_epoch), (7, 7));
    assert_eq!(
        err(apply_config_epoch(&mut st, 9)),
        "ERR Node config epoch is already non-zero"
    );
    assert_eq!(
        err(apply_config_epoch(&mut state(), 9)),
        "ERR The user can assign a config epoch only when the node does not know any other node."
    );
}

#[test]
fn replicate_preconditions() {
    let mut st = state();
    assert_eq!(err(check_replicate(&st, b"x", true)), "ERR Unknown node x");
    assert_eq!(
        err(check_replicate(&st, &ME, true)),
        "ERR Can't replicate myself"
    );
    assert_eq!(
        err(check_replicate(&st, &REPLICA, true)),
        "ERR I can only replicate a master, not a replica."
    );
    let not_empty = "ERR To set a master the node must be empty and without assigned slots.";
    assert_eq!(err(check_replicate(&st, &OTHER, false)), not_empty);
    let me = st.my_idx();
    st.add_slot(0, me);
    assert_eq!(err(check_replicate(&st, &OTHER, true)), not_empty);
    st.del_slot(0);
    assert!(check_replicate(&st, &OTHER, true).is_ok());
}

#[test]
fn strerror_drops_rusts_suffix() {
    let e = std::io::Error::from_raw_os_error(2);
    assert_eq!(crate::util::strerror(&e), "No such file or directory");
}

#[test]
fn failover_preconditions() {
    let mut st = state();
    assert_eq!(
        err(check_failover(&st, false)),
        "ERR You should send CLUSTER FAILOVER to a replica"
    );
    st.me_mut().flags = flag::MYSELF | flag::SLAVE;
    assert_eq!(
        err(check_failover(&st, true)),
        "ERR I'm a replica but my master is unknown to me"
    );
    st.me_mut().primary = Some(OTHER);
    assert_eq!(
        err(check_failover(&st, false)),
        "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"
    );
    assert!(check_failover(&st, true).is_ok());
}
