//! The read-only CLUSTER views: INFO, NODES, SLOTS, SHARDS, LINKS, REPLICAS/SLAVES, MYID,
//! MYSHARDID and HELP, shaped exactly as Redis 7.0.15 shapes them (checked against a live
//! redis-server in `tests/cluster_commands.rs`). Each is built from `ClusterState` by a pure
//! function so the shapes are unit-tested; the CLUSTER NODES text itself belongs to
//! `cluster::nodes_conf` (also used for REPLICAS lines).
use super::cluster_common::cluster_of;
use super::Ctx;
use crate::cluster::node::{flag, ranges_of, Node};
use crate::cluster::nodes_conf;
use crate::cluster::state::{ClusterState, EndpointType, Health, NONE};
use crate::cluster::topology::endpoint_host;
use crate::cluster::wire::MsgType;
use crate::protocol::{ErrorReply, Reply};
use crate::slot::SLOTS;
use bytes::Bytes;
use std::fmt::Write;

type R = Result<Reply, ErrorReply>;

/// Redis's `genClusterInfoString`: slot health counts, epochs, then per-type bus message
/// counters (only the non-zero ones) and their totals.
pub(crate) fn info_text(st: &ClusterState) -> String {
    let (mut assigned, mut ok, mut pfail, mut fail) = (0, 0, 0, 0);
    for &owner in st.slots.iter().filter(|&&o| o != NONE) {
        assigned += 1;
        let n = &st.nodes[owner as usize];
        if n.has(flag::FAIL) {
            fail += 1;
        } else if n.has(flag::PFAIL) {
            pfail += 1;
        } else {
            ok += 1;
        }
    }
    let me = st.me();
    let my_epoch = match me.primary.as_ref().and_then(|p| st.node(p)) {
        Some(p) if me.is_replica() => p.config_epoch,
        _ => me.config_epoch,
    };
    let state = if st.health == Health::Ok {
        "ok"
    } else {
        "fail"
    };
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        "cluster_state:{state}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{ok}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        st.nodes.len(),
        st.size(),
        st.current_epoch,
    );
    for (counts, dir) in [(&st.stats.sent, "sent"), (&st.stats.received, "received")] {
        let mut total = 0;
        for (t, &n) in MsgType::ALL.iter().zip(counts.iter()) {
            if n != 0 {
                total += n;
                let _ = write!(s, "cluster_stats_messages_{}_{dir}:{n}\r\n", t.name());
            }
        }
        let _ = write!(s, "cluster_stats_messages_{dir}:{total}\r\n");
    }
    let _ = write!(
        s,
        "total_cluster_links_buffer_limit_exceeded:{}\r\n",
        st.stats.links_buffer_limit_exceeded
    );
    s
}

/// The replicas of `primary`, in table order (Redis's `node->slaves`).
fn replicas_of<'a>(st: &'a ClusterState, primary: &'a Node) -> impl Iterator<Item = &'a Node> {
    st.nodes
        .iter()
        .filter(move |n| n.is_replica() && n.primary == Some(primary.id))
}

/// Replication offset as CLUSTER SHARDS reports it: ours is 0 (no replication yet).
fn repl_offset(n: &Node) -> i64 {
    if n.is_myself() {
        0
    } else {
        n.repl_offset as i64
    }
}

/// One node of a CLUSTER SLOTS range: preferred endpoint, port, id and the other endpoints.
fn slots_node(n: &Node, kind: EndpointType) -> Reply {
    let host = match kind {
        EndpointType::Unknown => Reply::Nil,
        _ => Reply::bulk_str(&endpoint_host(n, kind)),
    };
    let mut meta = Vec::new();
    if kind != EndpointType::Ip {
        meta.push((Reply::bulk_static("ip"), Reply::bulk_str(&n.ip)));
    }
    if kind != EndpointType::Hostname && !n.hostname.is_empty() {
        meta.push((Reply::bulk_static("hostname"), Reply::bulk_str(&n.hostname)));
    }
    Reply::Array(vec![
        host,
        Reply::Int(n.port as i64),
        Reply::bulk(&n.id),
        Reply::Map(meta),
    ])
}

/// Redis's `clusterReplyMultiBulkSlots`: one entry per run of slots with the same owner, the
/// owner first, then its replicas that are not failing and have replicated something.
pub(crate) fn slots_reply(st: &ClusterState) -> Reply {
    let kind = st.settings.preferred_endpoint;
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=SLOTS {
        let owner = st.slots[start];
        if i < SLOTS && st.slots[i] == owner {
            continue;
        }
        if owner != NONE {
            let n = &st.nodes[owner as usize];
            let mut entry = vec![Reply::Int(start as i64), Reply::Int(i as i64 - 1)];
            entry.push(slots_node(n, kind));
            for r in replicas_of(st, n) {
                if !r.has(flag::FAIL) && repl_offset(r) != 0 {
                    entry.push(slots_node(r, kind));
                }
            }
            out.push(Reply::Array(entry));
        }
        start = i;
    }
    Reply::Array(out)
}

/// `getPreferredEndpoint`, as CLUSTER SHARDS prints it ("" when the type is unknown-endpoint).
fn shard_endpoint(n: &Node, kind: EndpointType) -> String {
    endpoint_host(n, kind)
}

/// Redis's `addNodeDetailsToShardReply`.
fn shard_node(n: &Node, kind: EndpointType) -> Reply {
    let mut m = vec![("id", Reply::bulk(&n.id))];
    if n.port != 0 {
        m.push(("port", Reply::Int(n.port as i64)));
    }
    m.push(("ip", Reply::bulk_str(&n.ip)));
    m.push(("endpoint", Reply::bulk_str(&shard_endpoint(n, kind))));
    if !n.hostname.is_empty() {
        m.push(("hostname", Reply::bulk_str(&n.hostname)));
    }
    let offset = repl_offset(n);
    let role = if n.is_replica() { "replica" } else { "master" };
    let health = if n.has(flag::FAIL) {
        "fail"
    } else if n.is_replica() && offset == 0 {
        "loading"
    } else {
        "online"
    };
    m.push(("role", Reply::bulk_static(role)));
    m.push(("replication-offset", Reply::Int(offset)));
    m.push(("health", Reply::bulk_static(health)));
    Reply::Map(
        m.into_iter()
            .map(|(k, v)| (Reply::bulk_static(k), v))
            .collect(),
    )
}

/// Redis 7.0's `clusterReplyShards`: one shard per primary (with or without slots): its slot
/// ranges from the slot table as start/end pairs, then the primary and its replicas.
pub(crate) fn shards_reply(st: &ClusterState) -> Reply {
    let kind = st.settings.preferred_endpoint;
    let shards = st
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.is_primary())
        .map(|(i, n)| {
            let owned = (0..SLOTS as u16).filter(|&s| st.slots[s as usize] as usize == i);
            let slots = ranges_of(owned)
                .into_iter()
                .flat_map(|(a, b)| [Reply::Int(a as i64), Reply::Int(b as i64)])
                .collect();
            let mut nodes = vec![shard_node(n, kind)];
            nodes.extend(replicas_of(st, n).map(|r| shard_node(r, kind)));
            Reply::Map(vec![
                (Reply::bulk_static("slots"), Reply::Array(slots)),
                (Reply::bulk_static("nodes"), Reply::Array(nodes)),
            ])
        })
        .collect();
    Reply::Array(shards)
}

/// Redis's `addReplyClusterLinksDescription`: for each node, its outbound then its inbound
/// link. "events" is "r", plus "w" while bytes wait to be written.
pub(crate) fn links_reply(st: &ClusterState) -> Reply {
    let mut out = Vec::new();
    for n in &st.nodes {
        for id in [n.link, n.inbound_link].into_iter().flatten() {
            let Some(l) = st.links.get(&id) else { continue };
            let queued = l.io.queued.load(std::sync::atomic::Ordering::Relaxed) as i64;
            let events = if queued > 0 { "rw" } else { "r" };
            let dir = if l.outbound { "to" } else { "from" };
            out.push(Reply::Map(vec![
                (Reply::bulk_static("direction"), Reply::bulk_static(dir)),
                (Reply::bulk_static("node"), Reply::bulk(&n.id)),
                (
                    Reply::bulk_static("create-time"),
                    Reply::Int(l.ctime as i64),
                ),
                (Reply::bulk_static("events"), Reply::bulk_static(events)),
                (
                    Reply::bulk_static("send-buffer-allocated"),
                    Reply::Int(queued),
                ),
                (Reply::bulk_static("send-buffer-used"), Reply::Int(queued)),
            ]));
        }
    }
    Reply::Array(out)
}

/// CLUSTER REPLICAS: the CLUSTER NODES line (without its newline) of each replica of `name`.
pub(crate) fn replicas_reply(st: &ClusterState, name: &[u8]) -> R {
    let n = st
        .node_by_name(name)
        .ok_or_else(|| ErrorReply::cluster_unknown_node(name))?;
    if n.is_replica() {
        return Err(ErrorReply::cluster_not_a_primary());
    }
    let text = nodes_conf::nodes_text(st, false);
    let lines = replicas_of(st, n)
        .filter_map(|r| text.lines().find(|l| l.as_bytes().starts_with(&r.id)))
        .map(Reply::bulk_str)
        .collect();
    Ok(Reply::Array(lines))
}

pub fn cluster_info(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let text = info_text(&cluster_of(ctx)?.lock());
    Ok(Reply::Verbatim(Bytes::from(text)))
}

pub fn cluster_nodes(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let text = nodes_conf::nodes_text(&cluster_of(ctx)?.lock(), false);
    Ok(Reply::Verbatim(Bytes::from(text)))
}

pub fn cluster_slots(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(slots_reply(&cluster_of(ctx)?.lock()))
}

pub fn cluster_shards(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(shards_reply(&cluster_of(ctx)?.lock()))
}

pub fn cluster_links(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(links_reply(&cluster_of(ctx)?.lock()))
}

pub fn cluster_replicas(ctx: &mut Ctx, a: &[Bytes]) -> R {
    replicas_reply(&cluster_of(ctx)?.lock(), &a[2])
}

pub fn cluster_slaves(ctx: &mut Ctx, a: &[Bytes]) -> R {
    cluster_replicas(ctx, a)
}

pub fn cluster_myid(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::bulk(&cluster_of(ctx)?.lock().myself))
}

/// CLUSTER MYSHARDID (Redis 7.2): the shard id we announce in ping extensions.
pub fn cluster_myshardid(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::bulk(&cluster_of(ctx)?.lock().me().shard_id))
}

/// Redis 7.0.15's CLUSTER HELP text, verbatim (without 7.2's MYSHARDID, which slotcache
/// serves too).
const HELP: &[&str] = &[
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
];

pub fn cluster_help(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    Ok(super::help_reply("CLUSTER", HELP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::node::{random_id, Node};
    use crate::cluster::state::Settings;

    fn state() -> ClusterState {
        let mut st = ClusterState::new([b'a'; 40], Settings::default(), 0);
        st.me_mut().ip = "127.0.0.1".into();
        st.me_mut().port = 7000;
        st
    }

    fn flat(r: &Reply) -> String {
        match r {
            Reply::Array(v) => format!("[{}]", v.iter().map(flat).collect::<Vec<_>>().join(" ")),
            Reply::Map(v) => format!(
                "{{{}}}",
                v.iter()
                    .map(|(k, v)| format!("{}={}", flat(k), flat(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Reply::Int(i) => i.to_string(),
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::ShortBulk { len, buf } => String::from_utf8_lossy(&buf[..*len as usize]).into(),
            Reply::Nil => "nil".into(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn info_lists_only_nonzero_message_types() {
        let mut st = state();
        let me = st.my_idx();
        for s in 0..10 {
            st.add_slot(s, me);
        }
        st.stats.sent[MsgType::Ping as usize] = 2;
        st.stats.sent[MsgType::Meet as usize] = 1;
        st.stats.received[MsgType::Pong as usize] = 3;
        let t = info_text(&st);
        assert!(t.starts_with(
            "cluster_state:fail\r\ncluster_slots_assigned:10\r\ncluster_slots_ok:10\r\n"
        ));
        assert!(t.contains("cluster_known_nodes:1\r\ncluster_size:1\r\n"));
        assert!(t.contains(
            "cluster_stats_messages_ping_sent:2\r\ncluster_stats_messages_meet_sent:1\r\ncluster_stats_messages_sent:3\r\n\
             cluster_stats_messages_pong_received:3\r\ncluster_stats_messages_received:3\r\n\
             total_cluster_links_buffer_limit_exceeded:0\r\n"
        ));
    }

    #[test]
    fn slots_group_runs_and_list_available_replicas() {
        let mut st = state();
        let me = st.my_idx();
        let other = random_id();
        let mut o = Node::new(other, flag::MASTER, 0);
        o.ip = "127.0.0.2".into();
        o.port = 7001;
        o.hostname = "h2".into();
        let oi = st.add_node(o);
        let mut r = Node::new([b'r'; 40], flag::SLAVE, 0);
        r.primary = Some(other);
        r.repl_offset = 5;
        st.add_node(r);
        let mut lagging = Node::new([b'l'; 40], flag::SLAVE, 0);
        lagging.primary = Some(other);
        st.add_node(lagging);
        for s in [0, 1, 2, 16383] {
            st.add_slot(s, me);
        }
        for s in 3..5 {
            st.add_slot(s, oi);
        }
        let a = "a".repeat(40);
        let o = node_str(&other);
        let r = "r".repeat(40);
        assert_eq!(
            flat(&slots_reply(&st)),
            format!(
                "[[0 2 [127.0.0.1 7000 {a} {{}}]] [3 4 [127.0.0.2 7001 {o} {{hostname=h2}}] \
                 [ 0 {r} {{}}]] [16383 16383 [127.0.0.1 7000 {a} {{}}]]]"
            )
        );
        st.settings.preferred_endpoint = EndpointType::Unknown;
        let s = flat(&slots_reply(&st));
        assert!(
            s.contains(&format!("[nil 7001 {o} {{ip=127.0.0.2 hostname=h2}}]")),
            "{s}"
        );
    }

    fn node_str(id: &[u8; 40]) -> String {
        String::from_utf8_lossy(id).into_owned()
    }

    #[test]
    fn shards_one_per_primary_with_replicas() {
        let mut st = state();
        let me = st.my_idx();
        for s in (0..3).chain(7..8) {
            st.add_slot(s, me);
        }
        let mut r = Node::new([b'r'; 40], flag::SLAVE, 0);
        r.primary = Some(st.myself);
        r.port = 7002;
        st.add_node(r);
        let a = "a".repeat(40);
        let r = "r".repeat(40);
        assert_eq!(
            flat(&shards_reply(&st)),
            format!(
                "[{{slots=[0 2 7 7] nodes=[{{id={a} port=7000 ip=127.0.0.1 endpoint=127.0.0.1 \
                 role=master replication-offset=0 health=online}} {{id={r} port=7002 ip= \
                 endpoint= role=replica replication-offset=0 health=loading}}]}}]"
            )
        );
        st.settings.preferred_endpoint = EndpointType::Hostname;
        assert!(flat(&shards_reply(&st)).contains("endpoint=? role=master"));
    }

    #[test]
    fn replicas_errors() {
        let mut st = state();
        let mut r = Node::new([b'r'; 40], flag::SLAVE, 0);
        r.primary = Some(st.myself);
        st.add_node(r);
        assert_eq!(
            replicas_reply(&st, b"nope").unwrap_err().text(),
            "ERR Unknown node nope"
        );
        assert_eq!(
            replicas_reply(&st, &[b'r'; 40]).unwrap_err().text(),
            "ERR The specified node is not a master"
        );
    }
}
