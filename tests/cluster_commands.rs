//! CLUSTER subcommands and READONLY / READWRITE / ASKING: the node under test (see
//! `common::cluster`, `CLUSTER_KIND`) against a real cluster-enabled redis-server 7.0, reply for
//! reply in raw RESP2 and RESP3, for valid and invalid input. Node ids, ports and millisecond
//! timestamps are replaced by placeholders before comparing; everything else (error texts,
//! reply shapes, RESP lengths) must be identical. Without cluster mode, every one of these
//! commands must answer as Redis does ("cluster support disabled").
mod common;
use common::cluster::{frame_len, kind, wait_until, Conn, Kind, Node, Opts, CLUSTER_DEADLINE};
use common::Server;

/// How a reply is compared. Redis lists nodes in hash-table order, so listings of several
/// nodes are compared as sets: `~` sorts the elements of an array reply, `^` the lines of a
/// bulk or verbatim string (CLUSTER NODES); `!` runs the command without comparing.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Exact,
    SortElements,
    SortLines,
    Skip,
}

/// `$ID`, `$PEER` and `$PEERPORT` in a script are replaced, per side, by the node's own id,
/// its peer's id and the peer's port; a leading `~`, `^` or `!` picks the `Mode`.
fn expand(cmd: &str, me: &Node, peer: Option<&Node>) -> (Mode, Vec<String>) {
    let (mode, cmd) = match cmd.as_bytes()[0] {
        b'!' => (Mode::Skip, &cmd[1..]),
        b'~' => (Mode::SortElements, &cmd[1..]),
        b'^' => (Mode::SortLines, &cmd[1..]),
        _ => (Mode::Exact, cmd),
    };
    let words = cmd
        .split(' ')
        .map(|w| match (w, peer) {
            ("$ID", _) => me.id(),
            ("$PEER", Some(p)) => p.id(),
            ("$PEERPORT", Some(p)) => p.port.to_string(),
            _ => w.to_string(),
        })
        .collect();
    (mode, words)
}

/// The reply with its order-free parts sorted (see `Mode`).
fn canonical(reply: String, mode: Mode) -> String {
    let Some(head_end) = reply.find("\r\n").map(|i| i + 2) else {
        return reply;
    };
    let (head, body) = reply.split_at(head_end);
    match mode {
        Mode::SortElements if head.starts_with('*') => {
            let mut rest = body.as_bytes();
            let mut items = Vec::new();
            while let Some(n) = frame_len(rest) {
                items.push(String::from_utf8_lossy(&rest[..n]).into_owned());
                rest = &rest[n..];
            }
            items.sort();
            format!("{head}{}", items.concat())
        }
        Mode::SortLines => {
            let text = body.strip_suffix("\r\n").unwrap_or(body);
            let (prefix, text) = text.split_at(if text.starts_with("txt:") { 4 } else { 0 });
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            lines.sort();
            format!("{head}{prefix}{}\r\n", lines.concat())
        }
        _ => reply,
    }
}

/// Placeholders for what differs between two otherwise identical nodes. Ids are 40 hex chars
/// and ports 5 digits on both sides, so the RESP length prefixes stay comparable.
fn normalize(reply: &str, nodes: &[&Node]) -> String {
    let mut s = reply.to_string();
    for (i, n) in nodes.iter().enumerate() {
        s = s.replace(&n.id(), &format!("<node{i}:{}>", "_".repeat(31)));
        s = s.replace(&n.bus_port().to_string(), &format!("<b{i}>"));
        s = s.replace(&n.port.to_string(), &format!("<p{i}>"));
    }
    // CLUSTER LINKS send-buffer-allocated is the capacity Redis's send buffer kept from its
    // last message (it varies with the gossip it carried); only its presence is compared.
    let key = "send-buffer-allocated\r\n:";
    let mut from = 0;
    while let Some(i) = s[from..].find(key).map(|i| from + i + key.len()) {
        let digits = s[i..].bytes().take_while(u8::is_ascii_digit).count();
        s.replace_range(i..i + digits, "<alloc>");
        from = i;
    }
    // Unix-ms timestamps (CLUSTER NODES ping/pong, LINKS create-time): any run of 13 digits.
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run == 13 {
            out.push_str("<ms__________>");
            i += run;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// One side of a comparison: the node the script runs on, and the peer it may know.
struct Side<'a> {
    me: &'a Node,
    peer: Option<&'a Node>,
}

impl Side<'_> {
    fn run(&self, conn: &mut Conn, script: &[&str]) -> Vec<(String, String)> {
        let mut nodes = vec![self.me];
        nodes.extend(self.peer);
        let mut out = Vec::new();
        for cmd in script {
            let (mode, words) = expand(cmd, self.me, self.peer);
            let args: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
            let reply = conn
                .call(&args)
                .unwrap_or_else(|e| panic!("{cmd} on {:?}: {e}", self.me.kind));
            if mode != Mode::Skip {
                out.push((cmd.to_string(), canonical(normalize(&reply, &nodes), mode)));
            }
        }
        out
    }
}

/// Runs `script` on both sides (each on one connection) and asserts identical replies.
fn compare(ours: Side, redis: Side, script: &[&str]) {
    let a = ours.run(&mut ours.me.conn(), script);
    let b = redis.run(&mut redis.me.conn(), script);
    for ((cmd, got), (_, want)) in a.iter().zip(&b) {
        assert_eq!(got, want, "reply to `{cmd}` differs from redis-server");
    }
    assert_eq!(a.len(), b.len());
}

/// A node that knows one peer.
fn pair<'a>(me: &'a Node, peer: &'a Node) -> Side<'a> {
    Side {
        me,
        peer: Some(peer),
    }
}

fn single(n: &Node) -> Side<'_> {
    Side { me: n, peer: None }
}

fn wait_ok(n: &Node) {
    wait_until("cluster_state:ok", CLUSTER_DEADLINE, || {
        match n.cluster_info_field("cluster_state").as_deref() {
            Some("ok") => Ok(()),
            other => Err(format!("cluster_state {other:?}")),
        }
    });
}

const ARGUMENT_ERRORS: &[&str] = &[
    "CLUSTER HELP",
    "CLUSTER help x",
    "CLUSTER MEET 127.0.0.1 1 2 3",
    "CLUSTER RESET hard x",
    "CLUSTER RESET foo",
    "CLUSTER NODES x",
    "CLUSTER FOO",
    "CLUSTER",
    "CLUSTER ADDSLOTS",
    "CLUSTER ADDSLOTSRANGE 1 2 3",
    "CLUSTER DELSLOTSRANGE 1",
    "CLUSTER ADDSLOTS abc",
    "CLUSTER ADDSLOTS 16384",
    "CLUSTER ADDSLOTS -1",
    "CLUSTER ADDSLOTS 1 1",
    "CLUSTER ADDSLOTS 1 abc",
    "CLUSTER ADDSLOTS 1 2 3 4",
    "CLUSTER ADDSLOTS 3 5",
    "CLUSTER DELSLOTS 100",
    "CLUSTER DELSLOTS 1 1",
    "CLUSTER ADDSLOTSRANGE 10 5",
    "CLUSTER ADDSLOTSRANGE 10 20 15 25",
    "CLUSTER ADDSLOTSRANGE 10 20 30 40",
    "CLUSTER ADDSLOTSRANGE 10 x",
    "CLUSTER ADDSLOTSRANGE 50 60 x 1",
    "CLUSTER DELSLOTSRANGE 30 35 50 60",
    "CLUSTER DELSLOTSRANGE 30 35",
    "CLUSTER SLOTS",
    "CLUSTER SHARDS",
    "CLUSTER NODES",
    "CLUSTER INFO",
    "CLUSTER SETSLOT 1",
    "CLUSTER SETSLOT x migrating abc",
    "CLUSTER SETSLOT x foo",
    "CLUSTER SETSLOT 1 migrating abc",
    "CLUSTER SETSLOT 1 migrating $ID",
    "CLUSTER SETSLOT 100 migrating abc",
    "CLUSTER SETSLOT 1 importing abc",
    "CLUSTER SETSLOT 100 importing abc",
    "CLUSTER SETSLOT 100 importing abc extra",
    "CLUSTER SETSLOT 100 foo",
    "CLUSTER SETSLOT 100 stable x",
    "CLUSTER SETSLOT 100 stable",
    "CLUSTER SETSLOT 100 node abc",
    "CLUSTER SETSLOT 100 node",
    "CLUSTER SETSLOT 100 importing $ID",
    "CLUSTER NODES",
    "CLUSTER SETSLOT 100 node $ID",
    "CLUSTER SETSLOT 1 migrating $ID",
    "CLUSTER NODES",
    "CLUSTER SETSLOT 1 stable",
    "CLUSTER BUMPEPOCH",
    "CLUSTER BUMPEPOCH",
    "CLUSTER SET-CONFIG-EPOCH 5",
    "CLUSTER SET-CONFIG-EPOCH x",
    "CLUSTER SET-CONFIG-EPOCH -1",
    "CLUSTER COUNTKEYSINSLOT x",
    "CLUSTER COUNTKEYSINSLOT 16384",
    "CLUSTER COUNTKEYSINSLOT -1",
    "CLUSTER COUNTKEYSINSLOT 5",
    "CLUSTER GETKEYSINSLOT x 1",
    "CLUSTER GETKEYSINSLOT 1 x",
    "CLUSTER GETKEYSINSLOT 16384 1",
    "CLUSTER GETKEYSINSLOT 1 -1",
    "CLUSTER GETKEYSINSLOT 1 10",
    "CLUSTER KEYSLOT {foo}bar",
    "CLUSTER FORGET abc",
    "CLUSTER FORGET 0123456789012345678901234567890123456789",
    "CLUSTER FORGET $ID",
    "CLUSTER REPLICAS abc",
    "CLUSTER SLAVES abc",
    "CLUSTER REPLICAS $ID",
    "CLUSTER REPLICATE abc",
    "CLUSTER REPLICATE $ID",
    "CLUSTER COUNT-FAILURE-REPORTS abc",
    "CLUSTER COUNT-FAILURE-REPORTS $ID",
    "CLUSTER SAVECONFIG",
    "CLUSTER LINKS",
    "CLUSTER MYID",
    "CLUSTER MEET abc 7802",
    "CLUSTER MEET 127.0.0.1 abc",
    "CLUSTER MEET 127.0.0.1 7802 abc",
    "CLUSTER MEET 127.0.0.1 0",
    "CLUSTER MEET 127.0.0.1 -5",
    "CLUSTER MEET 127.0.0.1 70000",
    "CLUSTER MEET 127.0.0.1 7802 0",
    "CLUSTER MEET 127.0.0.1 7802 70000",
    "CLUSTER MEET 127.000.0.1 7",
    "CLUSTER MEET 0x7f.0.0.1 7",
    "CLUSTER MEET 1.2.3 7",
    "CLUSTER FAILOVER",
    "CLUSTER FAILOVER x",
    "CLUSTER FAILOVER force",
    "CLUSTER FAILOVER takeover x",
    // Rows 48-53 of ../shared/redis-reference/bad-inputs.md.
    "CLUSTER SETSLOT 16384 STABLE",
    "CLUSTER SETSLOT -1 STABLE",
    "CLUSTER COUNTKEYSINSLOT 99999",
    "CLUSTER GETKEYSINSLOT 0 -1",
    "CLUSTER ADDSLOTS 0",
    "CLUSTER ADDSLOTS 0",
    "CLUSTER MEET 999.1.1.1 7000",
    "CLUSTER MEET 127.0.0.1 99999",
    "CLUSTER SETSLOT 0 NODE 0123456789012345678901234567890123456789",
    "CLUSTER INFO",
    "READONLY",
    "READONLY x",
    "READWRITE",
    "ASKING",
    "!HELLO 3",
    "CLUSTER INFO",
    "CLUSTER NODES",
    "CLUSTER SLOTS",
    "CLUSTER SHARDS",
    "CLUSTER LINKS",
    "CLUSTER HELP",
    "CLUSTER REPLICAS $ID",
    "CLUSTER BUMPEPOCH",
];

#[test]
fn replies_and_errors_match_redis_on_a_lone_node() {
    let ours = Node::start(kind());
    let redis = Node::start(Kind::Redis);
    compare(single(&ours), single(&redis), ARGUMENT_ERRORS);
}

/// Keys block FLUSHSLOTS, RESET and SETSLOT NODE elsewhere; SET-CONFIG-EPOCH on a fresh node;
/// closing an import; RESET SOFT then HARD (new id, epochs back to 0).
#[test]
fn keys_epochs_and_reset_match_redis() {
    let ours = Node::start(kind());
    let redis = Node::start(Kind::Redis);
    let setup = [
        "CLUSTER SET-CONFIG-EPOCH 0",
        "CLUSTER SET-CONFIG-EPOCH 7",
        "CLUSTER SET-CONFIG-EPOCH 9",
        "CLUSTER ADDSLOTSRANGE 0 16383",
    ];
    compare(single(&ours), single(&redis), &setup);
    wait_ok(&ours);
    wait_ok(&redis);
    let script = [
        "CLUSTER INFO",
        "SET foo 1",
        "CLUSTER COUNTKEYSINSLOT 12182",
        "CLUSTER GETKEYSINSLOT 12182 0",
        "CLUSTER GETKEYSINSLOT 12182 5",
        "CLUSTER FLUSHSLOTS",
        "CLUSTER RESET",
        "CLUSTER RESET HARD",
        "CLUSTER REPLICATE $ID",
        "CLUSTER SETSLOT 12182 node 0123456789012345678901234567890123456789",
        "CLUSTER SETSLOT 12182 importing $ID",
        "CLUSTER SETSLOT 12182 node $ID",
        "DEL foo",
        "CLUSTER DELSLOTS 12182",
        "CLUSTER INFO",
        "CLUSTER SETSLOT 12182 importing $ID",
        "CLUSTER SETSLOT 12182 migrating $ID",
        "CLUSTER NODES",
        "CLUSTER SETSLOT 12182 node $ID",
        "CLUSTER BUMPEPOCH",
        "CLUSTER NODES",
        "CLUSTER INFO",
        "CLUSTER FLUSHSLOTS",
        "CLUSTER SLOTS",
        "CLUSTER ADDSLOTS 7",
        "CLUSTER RESET SOFT",
        "CLUSTER INFO",
        "CLUSTER NODES",
        "CLUSTER RESET HARD",
        "CLUSTER INFO",
    ];
    let (old_ours, old_redis) = (ours.id(), redis.id());
    compare(single(&ours), single(&redis), &script);
    assert_ne!(ours.id(), old_ours, "RESET HARD takes a new node id");
    assert_ne!(redis.id(), old_redis);
    compare(
        single(&ours),
        single(&redis),
        &["CLUSTER NODES", "CLUSTER MYID"],
    );
}

/// Two nodes of the same kind with distinct config epochs (so no epoch collision picks a
/// random winner): MEET, then the views that list a peer (NODES, SLOTS, SHARDS, LINKS,
/// REPLICAS), SETSLOT with a peer, the epoch and failure-report commands, and FORGET.
#[test]
fn two_node_views_and_forget_match_redis() {
    let (a, b) = (Node::start(kind()), Node::start(kind()));
    let (ra, rb) = (Node::start(Kind::Redis), Node::start(Kind::Redis));
    compare(single(&b), single(&rb), &["CLUSTER SET-CONFIG-EPOCH 2"]);
    let meet = [
        "CLUSTER SET-CONFIG-EPOCH 1",
        "CLUSTER ADDSLOTSRANGE 0 99",
        "CLUSTER MEET 127.0.0.1 $PEERPORT",
    ];
    compare(pair(&a, &b), pair(&ra, &rb), &meet);
    for (x, y) in [(&a, &b), (&ra, &rb)] {
        wait_until(
            "the peers to finish their handshake",
            CLUSTER_DEADLINE,
            || {
                let knows = |p: &Node, q: &Node| {
                    p.nodes().iter().any(|l| l.id == q.id() && l.is_primary())
                        && p.call(&["CLUSTER", "LINKS"]).starts_with("*2\r\n")
                };
                let epochs = x.cluster_info_field("cluster_current_epoch").as_deref() == Some("2");
                (knows(x, y) && knows(y, x) && epochs)
                    .then_some(())
                    .ok_or("not yet".to_string())
            },
        );
    }
    let script = [
        "^CLUSTER NODES",
        "CLUSTER SLOTS",
        "~CLUSTER SHARDS",
        "CLUSTER LINKS",
        "CLUSTER REPLICAS $PEER",
        "CLUSTER COUNT-FAILURE-REPORTS $PEER",
        "CLUSTER SET-CONFIG-EPOCH 3",
        "CLUSTER BUMPEPOCH",
        "CLUSTER REPLICATE $PEER",
        "CLUSTER SETSLOT 5 migrating $PEER",
        "CLUSTER SETSLOT 200 importing $PEER",
        "^CLUSTER NODES",
        "CLUSTER SETSLOT 5 stable",
        "CLUSTER SETSLOT 200 stable",
        "CLUSTER SETSLOT 6 node $PEER",
        "CLUSTER SLOTS",
        "!HELLO 3",
        "~CLUSTER SHARDS",
        "CLUSTER SLOTS",
        "CLUSTER LINKS",
        "CLUSTER FORGET $PEER",
        "CLUSTER FORGET $PEER",
        "CLUSTER REPLICAS $PEER",
        "~CLUSTER SHARDS",
        "^CLUSTER NODES",
    ];
    compare(pair(&a, &b), pair(&ra, &rb), &script);
}

/// cluster-announce-hostname and each cluster-preferred-endpoint-type: SLOTS puts the other
/// endpoints in its metadata map (a null endpoint for unknown-endpoint), SHARDS an "" endpoint.
#[test]
fn endpoints_and_hostnames_match_redis() {
    for endpoint in ["ip", "hostname", "unknown-endpoint"] {
        let opts = Opts {
            extra: [
                "--cluster-announce-hostname",
                "host-a.example",
                "--cluster-preferred-endpoint-type",
                endpoint,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            ..Opts::default()
        };
        let (a, b) = (Node::start_with(kind(), &opts), Node::start(kind()));
        let (ra, rb) = (
            Node::start_with(Kind::Redis, &opts),
            Node::start(Kind::Redis),
        );
        compare(single(&b), single(&rb), &["CLUSTER SET-CONFIG-EPOCH 2"]);
        let setup = [
            "CLUSTER SET-CONFIG-EPOCH 1",
            "CLUSTER ADDSLOTS 1 2 3",
            "CLUSTER MEET 127.0.0.1 $PEERPORT",
        ];
        compare(pair(&a, &b), pair(&ra, &rb), &setup);
        for (x, y) in [(&a, &b), (&ra, &rb)] {
            wait_until(
                "the peer to learn our address, slots and hostname",
                CLUSTER_DEADLINE,
                || {
                    let ok = y.nodes().iter().any(|l| {
                        l.id == x.id()
                            && l.addr.starts_with("127.0.0.1:")
                            && l.slot_count() == 3
                            && l.config_epoch == 1
                            && l.raw.contains(",host-a.example ")
                    });
                    let ok = ok && x.nodes().iter().any(|l| l.id == y.id() && l.is_primary());
                    ok.then_some(()).ok_or("not yet".to_string())
                },
            );
        }
        let script = [
            "CLUSTER SLOTS",
            "~CLUSTER SHARDS",
            "^CLUSTER NODES",
            "!HELLO 3",
            "CLUSTER SLOTS",
            "~CLUSTER SHARDS",
        ];
        compare(pair(&a, &b), pair(&ra, &rb), &script);
        compare(pair(&b, &a), pair(&rb, &ra), &script);
    }
}

/// Outside cluster mode every CLUSTER subcommand (HELP and KEYSLOT included), READONLY,
/// READWRITE and ASKING answer "cluster support disabled"; arity and unknown subcommands are
/// checked first.
#[test]
fn without_cluster_mode_everything_is_disabled() {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let script: &[&[&str]] = &[
        &["CLUSTER", "HELP"],
        &["CLUSTER", "INFO"],
        &["CLUSTER", "MYID"],
        &["CLUSTER", "MYSHARDID"],
        &["CLUSTER", "KEYSLOT", "foo"],
        &["CLUSTER", "ADDSLOTS", "1"],
        &["CLUSTER", "SETSLOT", "1", "stable"],
        &["CLUSTER", "MEET", "127.0.0.1", "1"],
        &["CLUSTER", "NODES"],
        &["CLUSTER", "KEYSLOT"],
        &["CLUSTER", "FOO"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
    ];
    let mut a = Conn::connect(ours.port).expect("connect");
    let mut b = Conn::connect(redis.port).expect("connect");
    for argv in script {
        let got = a.call(argv).expect("reply");
        if argv == &["CLUSTER", "MYSHARDID"] {
            // 7.0 has no MYSHARDID (unknown subcommand); ours declares it (7.2).
            assert_eq!(got, "-ERR This instance has cluster support disabled\r\n");
            continue;
        }
        assert_eq!(got, b.call(argv).expect("reply"), "{argv:?}");
    }
}

/// Giving up a slot (DELSLOTS, FLUSHSLOTS, SETSLOT NODE, RESET) unsubscribes the shard
/// channels of that slot, as Redis's `clusterDelSlot` does.
#[test]
fn losing_a_slot_drops_its_shard_channels_like_redis() {
    for k in [kind(), Kind::Redis] {
        let n = Node::start(k);
        let mut admin = n.conn();
        let mut sub = n.conn();
        for (give_up, channel) in [
            ("CLUSTER DELSLOTS 12182", "foo"),
            ("CLUSTER FLUSHSLOTS", "foo"),
            ("CLUSTER RESET", "foo"),
        ] {
            assert_eq!(
                admin.call(&["CLUSTER", "ADDSLOTS", "12182"]).unwrap(),
                "+OK\r\n"
            );
            assert_eq!(
                sub.call(&["SSUBSCRIBE", channel]).unwrap(),
                "*3\r\n$10\r\nssubscribe\r\n$3\r\nfoo\r\n:1\r\n"
            );
            let words: Vec<&str> = give_up.split(' ').collect();
            assert_eq!(admin.call(&words).unwrap(), "+OK\r\n", "{k:?} {give_up}");
            let push = String::from_utf8_lossy(&sub.read_frame().unwrap()).into_owned();
            assert_eq!(
                push, "*3\r\n$12\r\nsunsubscribe\r\n$3\r\nfoo\r\n:0\r\n",
                "{k:?} {give_up}"
            );
        }
    }
}

/// Cluster mode has database 0 only: SWAPDB, MOVE, COPY ... DB n and SELECT n are refused with
/// 7.0's errors (they would make keys vanish from every client's view); COPY within db 0 works.
#[test]
fn multi_database_commands_are_refused_in_cluster_mode() {
    let ours = Node::start(kind());
    let redis = Node::start(Kind::Redis);
    compare(
        single(&ours),
        single(&redis),
        &["CLUSTER ADDSLOTSRANGE 0 16383"],
    );
    wait_ok(&ours);
    wait_ok(&redis);
    let script = [
        "SET {k}a 1",
        "SWAPDB 0 1",
        "SWAPDB x 1",
        "MOVE {k}a 1",
        "MOVE {k}a 0",
        "COPY {k}a {k}b DB 1",
        "COPY {k}a {k}b DB 0",
        "COPY {k}a {k}b DB x",
        "COPY {k}a {k}a",
        "COPY {k}a {k}c",
        "SELECT 1",
        "SELECT 0",
        "GET {k}a",
        "GET {k}c",
        "DBSIZE",
    ];
    compare(single(&ours), single(&redis), &script);
}
