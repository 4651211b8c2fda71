//! Building and sending bus messages from the state: the header that describes myself, PING /
//! PONG / MEET with Redis's choice of gossip entries and the ping extensions, FAIL, UPDATE and
//! PUBLISH. Frames are queued on link channels (`ClusterState::send`), never written here.
use super::node::{flag, LinkId, Node, NodeId};
use super::state::{ClusterState, Health};
use super::wire::{self, Body, Extension, GossipEntry, Header, Message, MsgType};
use bytes::Bytes;
use rand::Rng;

/// 7.2's "I understand ping extensions" header flag (`CLUSTER_NODE_EXTENSIONS_SUPPORTED`).
pub const EXTENSIONS_SUPPORTED: u16 = wire::node_flags::EXTENSIONS_SUPPORTED;

/// The header every message from us starts with (Redis's `clusterBuildMessageHdr`): a
/// replica announces its primary's slots and configEpoch.
pub fn my_header(st: &ClusterState, t: MsgType) -> Header {
    let me = st.me();
    let primary = me.primary.as_ref().and_then(|p| st.node(p));
    let (slots, config_epoch) = match primary {
        Some(p) => (p.slots.0.clone(), p.config_epoch),
        None => (me.slots.0.clone(), me.config_epoch),
    };
    let (port, pport, cport) = st.settings.announced_ports();
    let mut h = Header::new(t, me.id);
    h.port = port;
    h.pport = pport;
    h.cport = cport;
    h.current_epoch = st.current_epoch;
    h.config_epoch = config_epoch;
    h.myslots = slots;
    h.replicaof = me.primary;
    h.offset = st.repl.offset;
    h.myip = st.settings.announce_ip.clone();
    h.flags = me.flags | EXTENSIONS_SUPPORTED;
    h.state = match st.health {
        Health::Ok => wire::STATE_OK,
        Health::Fail => wire::STATE_FAIL,
    };
    h
}

fn gossip_entry(n: &Node) -> GossipEntry {
    GossipEntry {
        node_id: n.id,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// Redis's gossip choice (`clusterSendPing`): about a tenth of the nodes, at least 3, picked at
/// random, skipping myself, the receiver, handshake/noaddr nodes and disconnected slot-less
/// ones; then every PFAIL node, so failure reports spread fast.
fn pick_gossip(st: &mut ClusterState, receiver: Option<NodeId>) -> Vec<GossipEntry> {
    let total = st.nodes.len();
    let mut fresh = total as i64 - 2;
    let wanted = ((total / 10).max(3) as i64).min(fresh.max(0)) as usize;
    st.pings_built += 1;
    let stamp = st.pings_built;
    let mut out = Vec::with_capacity(wanted);
    let mut rng = rand::thread_rng();
    let mut iterations = wanted * 3;
    while fresh > 0 && out.len() < wanted && iterations > 0 {
        iterations -= 1;
        let n = &mut st.nodes[rng.gen_range(0..total)];
        if n.is_myself() || n.has(flag::PFAIL) || Some(n.id) == receiver {
            continue;
        }
        if n.has(flag::HANDSHAKE | flag::NOADDR) || (n.link.is_none() && n.numslots == 0) {
            fresh -= 1;
            continue;
        }
        if n.last_in_ping_gossip == stamp {
            continue;
        }
        n.last_in_ping_gossip = stamp;
        out.push(gossip_entry(n));
        fresh -= 1;
    }
    for n in &st.nodes {
        if n.has(flag::PFAIL) && !n.has(flag::HANDSHAKE | flag::NOADDR) {
            out.push(gossip_entry(n));
        }
    }
    out
}

/// Ping extensions for a receiver: the hostname when set (7.0 understands it); shard id and
/// forgotten nodes only for peers that advertise extension support.
fn extensions(st: &ClusterState, receiver_ext: bool, now: u64) -> Vec<Extension> {
    let me = st.me();
    let mut out = Vec::new();
    if !me.hostname.is_empty() {
        out.push(Extension::Hostname(me.hostname.clone()));
    }
    if receiver_ext {
        if !me.human_nodename.is_empty() {
            out.push(Extension::HumanNodename(me.human_nodename.clone()));
        }
        for (id, until) in &st.blacklist {
            if *until > now {
                out.push(Extension::ForgottenNode {
                    node_id: *id,
                    ttl: (until - now) / 1000,
                });
            }
        }
        out.push(Extension::ShardId(me.shard_id));
    }
    out
}

/// Sends PING, PONG or MEET on `link`; a PING starts the node's ping timer.
pub fn send_ping(st: &mut ClusterState, link: LinkId, t: MsgType, now: u64) {
    let receiver = st.links.get(&link).and_then(|l| l.node);
    let receiver_ext = receiver
        .and_then(|id| st.node(&id))
        .is_some_and(|n| n.ext_supported);
    if t == MsgType::Ping {
        if let Some(n) = receiver.and_then(|id| st.node_mut(&id)) {
            n.ping_sent = now;
        }
    }
    let entries = pick_gossip(st, receiver);
    let mut header = my_header(st, t);
    if receiver.is_some_and(|r| super::failover::paused_for(st, &r, now)) {
        header.mflags[0] |= wire::mflags0::PAUSED;
    }
    let msg = Message {
        header,
        body: Body::Gossip {
            entries,
            extensions: extensions(st, receiver_ext, now),
        },
    };
    st.send(link, t as usize, wire::encode(&msg));
}

/// Sends an encoded frame on every connected node's outbound link (Redis's
/// `clusterBroadcastMessage`: not myself, not handshake nodes).
pub fn broadcast(st: &mut ClusterState, t: MsgType, frame: &[u8]) {
    for l in broadcast_links(st) {
        st.send(l, t as usize, frame.to_vec());
    }
}

/// Outbound links of every node but myself and handshake nodes.
fn broadcast_links(st: &ClusterState) -> Vec<LinkId> {
    st.nodes
        .iter()
        .filter(|n| !n.has(flag::MYSELF | flag::HANDSHAKE))
        .filter_map(|n| n.link)
        .collect()
}

/// A PONG to every connected node: my new configuration, at once (after a promotion).
pub fn broadcast_pong(st: &mut ClusterState, now: u64) {
    for l in broadcast_links(st) {
        send_ping(st, l, MsgType::Pong, now);
    }
}

/// Asks my primary to start a manual failover (it pauses writes and sends its offset).
pub fn send_mfstart(st: &mut ClusterState, link: LinkId) {
    let msg = Message {
        header: my_header(st, MsgType::MfStart),
        body: Body::Empty,
    };
    st.send(link, MsgType::MfStart as usize, wire::encode(&msg));
}

/// Tells everybody that `failing` is FAIL.
pub fn broadcast_fail(st: &mut ClusterState, failing: NodeId) {
    let msg = Message {
        header: my_header(st, MsgType::Fail),
        body: Body::Fail { node_id: failing },
    };
    broadcast(st, MsgType::Fail, &wire::encode(&msg));
}

/// Tells `link`'s node that `about` serves its slots with a newer configEpoch.
pub fn send_update(st: &mut ClusterState, link: LinkId, about: &NodeId) {
    let Some(n) = st.node(about) else { return };
    let msg = Message {
        header: my_header(st, MsgType::Update),
        body: Body::Update {
            config_epoch: n.config_epoch,
            node_id: n.id,
            slots: n.slots.0.clone(),
        },
    };
    st.send(link, MsgType::Update as usize, wire::encode(&msg));
}

/// PUBLISH goes to every node; PUBLISHSHARD to the nodes of my shard (my primary and its
/// replicas, or my replicas).
pub fn publish(st: &mut ClusterState, shard: bool, channel: &Bytes, message: &Bytes) {
    let t = if shard {
        MsgType::PublishShard
    } else {
        MsgType::Publish
    };
    let msg = Message {
        header: my_header(st, t),
        body: Body::Publish {
            channel: channel.clone(),
            message: message.clone(),
        },
    };
    let frame = wire::encode(&msg);
    if !shard {
        return broadcast(st, t, &frame);
    }
    let me = st.me();
    let primary = me.primary.unwrap_or(me.id);
    let links: Vec<LinkId> = st
        .nodes
        .iter()
        .filter(|n| !n.is_myself() && (n.id == primary || n.primary == Some(primary)))
        .filter_map(|n| n.link)
        .collect();
    for l in links {
        st.send(l, t as usize, frame.clone());
    }
}
