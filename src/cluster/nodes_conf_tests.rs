//! Unit tests of nodes_conf (kept apart: the module itself stays small).
use super::*;
use crate::cluster::migration::Event;

const A: &str = "0c2534f216f8d59bbb9b963399d95d802c283487";
const B: &str = "aa4fbe4149179125138391d463a4e74648081a87";
const C: &str = "8b828971c006ccde9da01cce74066595de8d9eaf";
const H: &str = "c2b48dcf9c40a6436011a18c3f37b0275ee75396";

/// CLUSTER NODES on redis-server 7.0.15 (node A, port 27101): B has a hostname and slot
/// 101, C replicates A, a MEET to a dead port left a handshake node, A migrates 5 and 6
/// to B and imports 101 from B.
const RECORDED_NODES: &str = "\
c2b48dcf9c40a6436011a18c3f37b0275ee75396 127.0.0.1:27199@37199 handshake - 0 0 0 disconnected
aa4fbe4149179125138391d463a4e74648081a87 127.0.0.1:27102@37102,host-b.example master - 0 1795370181460 0 connected 101
8b828971c006ccde9da01cce74066595de8d9eaf 127.0.0.1:27103@37103 slave 0c2534f216f8d59bbb9b963399d95d802c283487 0 1795370182467 1 connected
0c2534f216f8d59bbb9b963399d95d802c283487 127.0.0.1:27101@37101,host-a myself,master - 0 1795370180000 1 connected 0-100 102 200-16383 [5->-aa4fbe4149179125138391d463a4e74648081a87] [6->-aa4fbe4149179125138391d463a4e74648081a87] [101-<-aa4fbe4149179125138391d463a4e74648081a87]
";

/// A's nodes.conf a moment earlier (C's pong time differs): no handshake node, a vars line.
const RECORDED_FILE: &str = "\
aa4fbe4149179125138391d463a4e74648081a87 127.0.0.1:27102@37102,host-b.example master - 0 1795370181460 0 connected 101
8b828971c006ccde9da01cce74066595de8d9eaf 127.0.0.1:27103@37103 slave 0c2534f216f8d59bbb9b963399d95d802c283487 0 1795370181000 1 connected
0c2534f216f8d59bbb9b963399d95d802c283487 127.0.0.1:27101@37101,host-a myself,master - 0 1795370180000 1 connected 0-100 102 200-16383 [5->-aa4fbe4149179125138391d463a4e74648081a87] [6->-aa4fbe4149179125138391d463a4e74648081a87] [101-<-aa4fbe4149179125138391d463a4e74648081a87]
vars currentEpoch 2 lastVoteEpoch 0
";

fn id(s: &str) -> NodeId {
    node::parse_id(s.as_bytes()).unwrap()
}

fn settings(port: u16, hostname: &str) -> Settings {
    Settings {
        port,
        cport: port + 10000,
        announce_hostname: hostname.into(),
        ..Default::default()
    }
}

fn add(st: &mut ClusterState, name: &str, flags: u16, port: u16, host: &str) -> usize {
    let mut n = Node::new(id(name), flags, 0);
    n.ip = "127.0.0.1".into();
    n.port = port;
    n.cport = port + 10000;
    n.hostname = host.into();
    st.add_node(n)
}

/// The state node A had when RECORDED_NODES was taken.
fn recorded_state() -> ClusterState {
    let mut st = ClusterState::new(id(A), settings(27101, "host-a"), 0);
    st.me_mut().ip = "127.0.0.1".into();
    st.me_mut().config_epoch = 1;
    st.me_mut().pong_received = 1795370180000;
    let b = add(&mut st, B, flag::MASTER, 27102, "host-b.example");
    st.nodes[b].pong_received = 1795370181460;
    st.nodes[b].link = Some(1);
    let c = add(&mut st, C, flag::SLAVE, 27103, "");
    st.nodes[c].primary = Some(id(A));
    st.nodes[c].pong_received = 1795370182467;
    st.nodes[c].link = Some(2);
    add(&mut st, H, flag::HANDSHAKE, 27199, "");
    let me = st.my_idx();
    for s in (0..=100).chain([102]).chain(200..SLOTS as u16) {
        st.add_slot(s, me);
    }
    st.add_slot(101, b);
    st.migration.advance(5, Event::Migrate(id(B)));
    st.migration.advance(6, Event::Migrate(id(B)));
    st.migration.advance(101, Event::Import(id(B)));
    st.current_epoch = 2;
    st
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn cluster_nodes_matches_redis() {
    let text = nodes_text(&recorded_state(), false);
    assert!(text.starts_with(A) && text.ends_with('\n'));
    assert_eq!(text.len(), RECORDED_NODES.len());
    assert_eq!(sorted_lines(&text), sorted_lines(RECORDED_NODES));
}

#[test]
fn nodes_conf_matches_redis() {
    let mut st = recorded_state();
    let c = st.idx(&id(C)).unwrap();
    st.nodes[c].pong_received = 1795370181000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.conf");
    save(&st, &path, true).unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(file.ends_with("\nvars currentEpoch 2 lastVoteEpoch 0\n"));
    assert_eq!(sorted_lines(&file), sorted_lines(RECORDED_FILE));
    // The temp file was renamed into place, not left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn fresh_node_lines_match_redis() {
    // redis-server 7.0.15 right after start: no ip yet, no hostname comma, `0 0` timers.
    let st = ClusterState::new(id(B), settings(27102, ""), 0);
    assert_eq!(
        nodes_text(&st, false),
        format!("{B} :27102@37102 myself,master - 0 0 0 connected\n")
    );
}

/// A state exercising every field the file carries; timers are 0 or `now`, no links, so
/// that a loaded copy prints identically.
fn rich_state(now: u64) -> ClusterState {
    let mut st = ClusterState::new(id(A), settings(7000, "host-a"), 0);
    st.me_mut().ip = "10.0.0.1".into();
    st.me_mut().config_epoch = 4;
    st.me_mut().flags |= flag::NOFAILOVER;
    let b = add(&mut st, B, flag::MASTER | flag::FAIL, 7001, "host-b");
    st.nodes[b].config_epoch = 7;
    st.nodes[b].ping_sent = now;
    let c = add(&mut st, C, flag::SLAVE | flag::PFAIL, 7002, "");
    st.nodes[c].primary = Some(id(B));
    st.nodes[c].pong_received = now;
    add(&mut st, H, flag::MASTER | flag::NOADDR, 7003, "");
    add(&mut st, &"d".repeat(40), flag::HANDSHAKE, 7004, "");
    let me = st.my_idx();
    for s in (0..10).chain([12, 14]).chain(16000..16384) {
        st.add_slot(s, me);
    }
    st.add_slot(11, b);
    st.migration.advance(3, Event::Migrate(id(B)));
    st.migration.advance(11, Event::Import(id(B)));
    st.current_epoch = 9;
    st.last_vote_epoch = 8;
    st
}

#[test]
fn save_load_round_trip() {
    let now = 1_700_000_000_000;
    let st = rich_state(now);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.conf");
    save(&st, &path, false).unwrap();
    let loaded = load(&path, settings(7000, "host-a"), now).unwrap().unwrap();
    assert_eq!(nodes_text(&loaded, true), nodes_text(&st, true));
    assert!(
        loaded.node(&id(&"d".repeat(40))).is_none(),
        "handshake not saved"
    );
    assert_eq!((loaded.current_epoch, loaded.last_vote_epoch), (9, 8));
    assert_eq!(loaded.myself, id(A));
    assert_eq!(
        loaded.me().flags,
        flag::MYSELF | flag::MASTER | flag::NOFAILOVER
    );
    assert_eq!(loaded.me().hostname, "host-a");
    let b = loaded.node(&id(B)).unwrap();
    assert_eq!((b.fail_time, b.ping_sent, b.pong_received), (now, now, 0));
    assert_eq!((b.config_epoch, b.hostname.as_str()), (7, "host-b"));
    let c = loaded.node(&id(C)).unwrap();
    assert_eq!(
        (c.primary, c.flags),
        (Some(id(B)), flag::SLAVE | flag::PFAIL)
    );
    assert_eq!((c.ip.as_str(), c.port, c.cport), ("127.0.0.1", 7002, 17002));
    assert_eq!(loaded.owner_id(11), Some(id(B)));
    assert_eq!(loaded.me().numslots, 10 + 2 + 384);
    assert_eq!(loaded.migration, st.migration);
    assert_eq!(loaded.migration.migrating_to(3), Some(id(B)));
    assert_eq!(loaded.migration.importing_from(11), Some(id(B)));
    // Saving again replaces the file (rename) and leaves no temp file.
    save(&loaded, &path, true).unwrap();
    let again = load(&path, settings(7000, "host-a"), now).unwrap().unwrap();
    assert_eq!(nodes_text(&again, true), nodes_text(&st, true));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn load_str(content: &str, s: Settings, now: u64) -> io::Result<Option<ClusterState>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.conf");
    std::fs::write(&path, content).unwrap();
    load(&path, s, now)
}

#[test]
fn loads_redis_file_with_padding() {
    // Redis 7.0 pads an in-place rewrite with newlines when the file shrinks.
    let content = format!("{RECORDED_FILE}\n\n\n");
    let st = load_str(&content, settings(27101, ""), 5).unwrap().unwrap();
    assert_eq!(st.myself, id(A));
    assert_eq!(st.nodes.len(), 3);
    assert_eq!(st.current_epoch, 2);
    assert_eq!(st.me().pong_received, 5, "non-zero timers become now");
    assert_eq!(
        st.me().hostname,
        "",
        "myself's hostname follows the settings"
    );
    let c = st.node(&id(C)).unwrap();
    assert_eq!((c.ping_sent, c.pong_received, c.link), (0, 5, None));
    assert_eq!(st.owner_id(101), Some(id(B)));
}

#[test]
fn myself_follows_settings_after_load() {
    // Verified on 7.0.15: `10.0.0.9:7000,oldhost` came back as `10.0.0.9:27104@37104`.
    let line = format!("{A} 10.0.0.9:7000,oldhost myself,master - 0 0 3 connected 1-5\n");
    let st = load_str(&line, settings(27104, ""), 1).unwrap().unwrap();
    let me = st.me();
    assert_eq!(
        (me.ip.as_str(), me.port, me.cport),
        ("10.0.0.9", 27104, 37104)
    );
    assert_eq!((me.hostname.as_str(), me.config_epoch), ("", 3));
    assert_eq!(st.current_epoch, 3, "raised to the largest configEpoch");
    let mut s = settings(27104, "new");
    s.announce_ip = "192.168.1.1".into();
    let st = load_str(&line, s, 1).unwrap().unwrap();
    assert_eq!(
        (st.me().ip.as_str(), st.me().hostname.as_str()),
        ("192.168.1.1", "new")
    );
}

#[test]
fn address_formats() {
    let content = format!(
        "{A} 10.0.0.9:7000 myself,master - 0 0 0 connected\n\
         {B} 10.0.0.8:7001@7 master - 0 0 0 connected\n\
         {C} ::1:7002@17010,c.example slave {B} 0 0 0 connected\n\
         {H} 10.0.0.7:7003, master - 0 0 0 connected\n"
    );
    let st = load_str(&content, settings(7000, ""), 1).unwrap().unwrap();
    let addr = |n: &str| {
        let n = st.node(&id(n)).unwrap();
        (n.ip.clone(), n.port, n.cport, n.hostname.clone())
    };
    assert_eq!(addr(A).0, "10.0.0.9");
    assert_eq!(addr(B), ("10.0.0.8".into(), 7001, 7, String::new()));
    assert_eq!(addr(C), ("::1".into(), 7002, 17010, "c.example".into()));
    assert_eq!(addr(H), ("10.0.0.7".into(), 7003, 17003, String::new()));
    let text = nodes_text(&st, true);
    assert!(text.contains(&format!("{H} 10.0.0.7:7003@17003 master")));
}

#[test]
fn placeholders_for_nodes_only_referenced() {
    // A primary or open-slot peer without its own line exists, with no flags (as in Redis).
    let content = format!(
        "{A} :7000@17000 myself,slave {B} 0 0 0 connected [7-<-{C}]\nvars currentEpoch 1\n"
    );
    let st = load_str(&content, settings(7000, ""), 1).unwrap().unwrap();
    assert_eq!(st.node(&id(B)).unwrap().flags, 0);
    assert_eq!(st.me().primary, Some(id(B)));
    assert_eq!(st.migration.importing_from(7), Some(id(C)));
    assert!(nodes_text(&st, false).contains(&format!("{B} :0@0 noflags - 0 0 0 disconnected\n")));
}

#[test]
fn missing_or_empty_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.conf");
    assert!(load(&path, settings(7000, ""), 0).unwrap().is_none());
    std::fs::write(&path, "").unwrap();
    assert!(load(&path, settings(7000, ""), 0).unwrap().is_none());
}

#[test]
fn corrupted_files() {
    let ok = format!("{A} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected");
    let cases = [
        format!(
            "{} 127.0.0.1:1@2 myself,master - 0 0 0 connected",
            A.to_uppercase()
        ),
        "abc 127.0.0.1:1@2 myself,master - 0 0 0 connected".to_string(),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0"),
        format!("{A} 127.0.0.1 myself,master - 0 0 0 connected"),
        format!("{A} 127.0.0.1:70000@1 myself,master - 0 0 0 connected"),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected 16384"),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected 1-16384"),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected [5]"),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected [5->-{B}"),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected [5->-abc]"),
        format!("{A} 127.0.0.1:1@2 myself,master bad 0 0 0 connected"),
        format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 \"connected"),
        "vars currentEpoch".to_string(),
        "vars currentEpoch 2 lastVoteEpoch 1 foo".to_string(),
    ];
    for bad in cases {
        let content = if bad.starts_with("vars") {
            format!("{ok}\n{bad}\n")
        } else {
            format!("{bad}\n")
        };
        let e = load_str(&content, settings(7000, ""), 0).err().expect(&bad);
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad}");
        let want = format!("Unrecoverable error: corrupted cluster config file \"{bad}\".");
        assert_eq!(e.to_string(), want);
    }
    // No myself line: the message names the last line read.
    let e = load_str(
        &format!("{B} :1@2 master - 0 0 0 connected\n"),
        settings(1, ""),
        0,
    )
    .err()
    .unwrap();
    assert_eq!(
        e.to_string(),
        "Unrecoverable error: corrupted cluster config file \"\"."
    );
    let e = load_str(
        &format!("{A} :1@2 myself,master,bogus - 0 0 0 connected\n"),
        settings(1, ""),
        0,
    )
    .err()
    .unwrap();
    assert_eq!(e.to_string(), UNKNOWN_FLAG);
}

#[test]
fn lenient_fields_as_redis() {
    // Flags are case-insensitive, unknown vars are skipped, numbers parse like atoi.
    let content = format!(
        "{A} 1.2.3.4:7000@17000 MySelf,Master,noflags - 0 0 5x connected 3 \"4-5\"\n\
         VARS currentepoch 3 lastVoteEpoch 2 somethingNew 1\n"
    );
    let st = load_str(&content, settings(7000, ""), 0).unwrap().unwrap();
    assert_eq!(st.me().flags, flag::MYSELF | flag::MASTER);
    assert_eq!(
        (st.me().config_epoch, st.current_epoch, st.last_vote_epoch),
        (5, 5, 2)
    );
    assert_eq!(st.me().slots.ranges(), vec![(3, 5)]);
}

#[test]
fn split_args_like_sdssplitargs() {
    assert_eq!(split_args("  a  b\t").unwrap(), ["a", "b"]);
    assert_eq!(
        split_args(r#""x\x41\n" 'it\'s'"#).unwrap(),
        ["xA\n", "it's"]
    );
    assert!(split_args(r#""open"#).is_none());
    assert!(split_args(r#""a"b"#).is_none());
    assert!(split_args("   ").unwrap().is_empty());
}

#[test]
fn lock_refuses_a_second_holder_even_after_saves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodes.conf");
    let held = lock(&path).unwrap();
    let refused = |path: &Path| {
        let e = lock(path).expect_err("second lock must fail");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            e.to_string(),
            format!(
                "Sorry, the cluster configuration file {} is already used by a different \
                 Redis Cluster node. Please make sure that different nodes use different \
                 cluster configuration files.",
                path.display()
            )
        );
    };
    refused(&path);
    let st = ClusterState::new(id(A), settings(7000, ""), 0);
    save(&st, &path, true).unwrap();
    save(&st, &path, false).unwrap();
    refused(&path);
    drop(held);
    let _again = lock(&path).unwrap();
}
