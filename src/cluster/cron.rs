//! The cluster's periodic work, every 100 ms (Redis's `clusterCron`): drop stale handshakes,
//! open links to nodes without one, ping a random node each second and any node whose PONG is
//! older than half the node timeout, reconnect silent links, flag PFAIL, update the state.
use super::failure;
use super::messages;
use super::node::{flag, LinkId, NodeId};
use super::state::{ClusterState, Health, LinkIo};
use super::wire::MsgType;
use rand::Rng;
use std::sync::Arc;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// An outbound link the cron created: the transport connects it and pumps `rx` into it.
pub struct Connect {
    pub link: LinkId,
    pub node: NodeId,
    pub ip: String,
    pub cport: u16,
    pub rx: UnboundedReceiver<Vec<u8>>,
    pub io: Arc<LinkIo>,
}

pub fn tick(st: &mut ClusterState, now: u64) -> Vec<Connect> {
    st.cron_iterations += 1;
    let handshake_timeout = st.settings.node_timeout.max(1000);
    let stale: Vec<NodeId> = st
        .nodes
        .iter()
        .filter(|n| n.in_handshake() && now.saturating_sub(n.ctime) > handshake_timeout)
        .map(|n| n.id)
        .collect();
    for id in stale {
        st.del_node(&id);
    }
    let connects = open_links(st, now);
    if st.cron_iterations.is_multiple_of(10) {
        ping_random(st, now);
    }
    ping_and_reconnect(st, now);
    if failure::detect_timeouts(st, now) || st.health == Health::Fail || st.todo.update_state {
        failure::update_state(st, now);
    }
    super::failover::tick(st, now);
    connects
}

/// A link for every node that has none; the first frame queued is a MEET (for nodes we were
/// asked to meet) or a PING, so failure detection starts at once.
fn open_links(st: &mut ClusterState, now: u64) -> Vec<Connect> {
    let want: Vec<NodeId> = st
        .nodes
        .iter()
        .filter(|n| !n.has(flag::MYSELF | flag::NOADDR) && n.link.is_none())
        .map(|n| n.id)
        .collect();
    let mut out = Vec::new();
    for id in want {
        let (tx, rx) = unbounded_channel();
        let (link, io) = st.add_link(Some(id), true, tx, now);
        let n = st.node_mut(&id).expect("listed");
        n.link = Some(link);
        let meet = n.has(flag::MEET);
        let old_ping = n.ping_sent;
        let (ip, cport) = (n.ip.clone(), n.cport);
        let t = if meet { MsgType::Meet } else { MsgType::Ping };
        messages::send_ping(st, link, t, now);
        let n = st.node_mut(&id).expect("listed");
        if old_ping != 0 {
            n.ping_sent = old_ping;
        }
        if meet {
            // MEET goes once; from the PONG on we PING like everyone else.
            n.ping_sent = now;
        }
        n.flags &= !flag::MEET;
        out.push(Connect {
            link,
            node: id,
            ip,
            cport,
            rx,
            io,
        });
    }
    out
}

/// The transport could not connect: forget the link, keep the ping timer running so the
/// node times out (Redis sets ping_sent on a failed connect).
pub fn connect_failed(st: &mut ClusterState, link: LinkId, now: u64) {
    let node = st.links.get(&link).and_then(|l| l.node);
    st.free_link(link);
    if let Some(n) = node.and_then(|id| st.node_mut(&id)) {
        if n.ping_sent == 0 {
            n.ping_sent = now;
        }
    }
}

/// Once a second: of five random nodes, ping the one with the oldest PONG.
fn ping_random(st: &mut ClusterState, now: u64) {
    let mut rng = rand::thread_rng();
    let mut best: Option<(u64, LinkId)> = None;
    for _ in 0..5 {
        let n = &st.nodes[rng.gen_range(0..st.nodes.len())];
        let Some(link) = n.link else { continue };
        if n.ping_sent != 0 || n.has(flag::MYSELF | flag::HANDSHAKE) {
            continue;
        }
        if best.is_none_or(|(p, _)| n.pong_received < p) {
            best = Some((n.pong_received, link));
        }
    }
    if let Some((_, link)) = best {
        messages::send_ping(st, link, MsgType::Ping, now);
    }
}

fn ping_and_reconnect(st: &mut ClusterState, now: u64) {
    let timeout = st.settings.node_timeout;
    let ids: Vec<NodeId> = st
        .nodes
        .iter()
        .filter(|n| !n.has(flag::MYSELF | flag::NOADDR | flag::HANDSHAKE))
        .map(|n| n.id)
        .collect();
    for id in ids {
        let Some(n) = st.node(&id) else { continue };
        let Some(link) = n.link else { continue };
        let ctime = st.links.get(&link).map_or(now, |l| l.ctime);
        let ping_delay = now.saturating_sub(n.ping_sent);
        let data_delay = now.saturating_sub(n.data_received);
        if now.saturating_sub(ctime) > timeout
            && n.ping_sent != 0
            && ping_delay > timeout / 2
            && data_delay > timeout / 2
        {
            // Silent link: drop it; the next tick reconnects.
            st.free_link(link);
            continue;
        }
        if n.ping_sent == 0 && now.saturating_sub(n.pong_received) > timeout / 2 {
            messages::send_ping(st, link, MsgType::Ping, now);
        }
    }
}
