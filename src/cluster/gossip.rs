//! Handling one received bus message (Redis's `clusterProcessPacket`): learning epochs, the
//! MEET handshake, renaming handshake nodes, PONG bookkeeping, slot claims and UPDATEs, epoch
//! collisions, the gossip section (failure reports, new nodes), ping extensions, FAIL and
//! PUBLISH. Pure state changes plus queued replies; takes `now`.
use super::epoch;
use super::failure;
use super::messages::{self, EXTENSIONS_SUPPORTED};
use super::node::{flag, LinkId, Node, NodeId};
use super::ownership::update_slots_with;
use super::state::ClusterState;
use super::wire::{Body, Extension, GossipEntry, Header, Message, MsgType};

/// Where a message came from, as the socket says.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The remote address of the connection.
    pub ip: String,
    /// Our address on the connection (how the peer reaches us).
    pub local_ip: String,
}

fn known_sender(st: &ClusterState, h: &Header) -> Option<NodeId> {
    st.node(&h.sender)
        .filter(|n| !n.in_handshake())
        .map(|n| n.id)
}

pub fn process(st: &mut ClusterState, link: LinkId, msg: Message, peer: &Peer, now: u64) {
    let h = &msg.header;
    let t = h.msg_type;
    st.stats.received[t as usize] += 1;
    let sender = known_sender(st, h);
    let Some(link_info) = st.links.get(&link) else {
        return;
    };
    let outbound = link_info.outbound;
    let link_node = link_info.node;
    if let Some(s) = sender {
        if !outbound && link_node.is_none() {
            attach_inbound(st, link, s);
        }
        let n = st.node_mut(&s).expect("known sender");
        n.data_received = now;
        n.repl_offset = h.offset;
        n.ext_supported = h.flags & EXTENSIONS_SUPPORTED != 0;
        epoch::learn(st, &s, h.current_epoch, h.config_epoch);
    }
    match (t, &msg.body) {
        (
            MsgType::Ping | MsgType::Pong | MsgType::Meet,
            Body::Gossip {
                entries,
                extensions,
            },
        ) => {
            if matches!(t, MsgType::Ping | MsgType::Meet) {
                on_ping_or_meet(st, link, h, sender, entries, peer, now);
            }
            if let Some(s) = sender {
                super::failover::on_paused_offset(st, &s, h);
            }
            on_config(st, link, h, sender, entries, extensions, peer, now);
        }
        (MsgType::Fail, Body::Fail { node_id }) => on_fail(st, sender, node_id, now),
        // PUBLISH from a node we don't know is dropped, as in Redis.
        (MsgType::Publish | MsgType::PublishShard, Body::Publish { channel, message })
            if sender.is_some() =>
        {
            st.inbox
                .push((t == MsgType::PublishShard, channel.clone(), message.clone()));
        }
        (
            MsgType::Update,
            Body::Update {
                config_epoch,
                node_id,
                slots,
            },
        ) => {
            if sender.is_none() {
                return;
            }
            let Some(n) = st.node_mut(node_id) else {
                return;
            };
            if n.config_epoch >= *config_epoch {
                return;
            }
            if n.is_replica() {
                n.flags = (n.flags & !flag::SLAVE) | flag::MASTER;
                n.primary = None;
            }
            n.config_epoch = *config_epoch;
            st.mark_save(true);
            update_slots_with(st, node_id, *config_epoch, slots);
        }
        (MsgType::FailoverAuthRequest, Body::Empty) => {
            if let Some(s) = sender {
                super::failover::on_request(st, &s, h, now);
            }
        }
        (MsgType::FailoverAuthAck, Body::Empty) => {
            if let Some(s) = sender {
                super::failover::on_ack(st, &s, h, now);
            }
        }
        (MsgType::MfStart, Body::Empty) => {
            if let Some(s) = sender {
                super::failover::on_mfstart(st, &s, now);
            }
        }
        // MODULE: understood, dropped (there are no modules).
        _ => {}
    }
}

fn attach_inbound(st: &mut ClusterState, link: LinkId, sender: NodeId) {
    let old = st.node(&sender).and_then(|n| n.inbound_link);
    if let Some(old) = old.filter(|&o| o != link) {
        st.free_link(old);
    }
    if let Some(l) = st.links.get_mut(&link) {
        l.node = Some(sender);
    }
    if let Some(n) = st.node_mut(&sender) {
        n.inbound_link = Some(link);
    }
}

/// The announced IP, or the socket's peer address when the sender announces none.
fn sender_ip(h: &Header, peer: &Peer) -> String {
    if h.myip.is_empty() {
        peer.ip.clone()
    } else {
        h.myip.clone()
    }
}

fn on_ping_or_meet(
    st: &mut ClusterState,
    link: LinkId,
    h: &Header,
    sender: Option<NodeId>,
    entries: &[GossipEntry],
    peer: &Peer,
    now: u64,
) {
    // Only cluster nodes MEET us, so their view of our address is the one to announce.
    let learn_ip = h.msg_type == MsgType::Meet || st.me().ip.is_empty();
    if learn_ip
        && st.settings.announce_ip.is_empty()
        && !peer.local_ip.is_empty()
        && st.me().ip != peer.local_ip
    {
        st.me_mut().ip = peer.local_ip.clone();
        tracing::warn!("IP address for this node updated to {}", peer.local_ip);
        st.mark_save(false);
        st.todo.topology = true;
    }
    if sender.is_none() && h.msg_type == MsgType::Meet {
        let mut n = Node::new(super::node::random_id(), flag::HANDSHAKE, now);
        n.ip = sender_ip(h, peer);
        n.port = h.port;
        n.pport = h.pport;
        n.cport = h.cport;
        st.add_node(n);
        st.mark_save(false);
        // As Redis: the gossip of a MEET is read even though the sender is not known yet;
        // that refreshes nodes we know, new nodes are learned once the handshake completes.
        process_gossip(st, None, entries, now);
    }
    messages::send_ping(st, link, MsgType::Pong, now);
}

/// Address change announced by a known node: take it and reconnect.
fn update_address_if_needed(st: &mut ClusterState, id: &NodeId, h: &Header, peer: &Peer) -> bool {
    let ip = sender_ip(h, peer);
    let Some(n) = st.node_mut(id) else {
        return false;
    };
    if n.ip == ip && n.port == h.port && n.cport == h.cport && n.pport == h.pport {
        return false;
    }
    n.ip = ip;
    n.port = h.port;
    n.pport = h.pport;
    n.cport = h.cport;
    n.flags &= !flag::NOADDR;
    tracing::info!(node_id = %n.id_str(), ip = %n.ip, port = n.port, "Address updated for node");
    if let Some(l) = n.link {
        st.free_link(l);
    }
    st.mark_save(false);
    true
}

#[allow(clippy::too_many_arguments)]
fn on_config(
    st: &mut ClusterState,
    link: LinkId,
    h: &Header,
    sender: Option<NodeId>,
    entries: &[GossipEntry],
    extensions: &[Extension],
    peer: &Peer,
    now: u64,
) {
    let link_node = st
        .links
        .get(&link)
        .and_then(|l| l.outbound.then_some(l.node).flatten());
    if let Some(ln) = link_node {
        let in_handshake = st.node(&ln).is_some_and(|n| n.in_handshake());
        if in_handshake {
            if let Some(s) = sender {
                // We already know this node under its real name: keep that one.
                update_address_if_needed(st, &s, h, peer);
                st.del_node(&ln);
                return;
            }
            st.rename_node(&ln, h.sender);
            let n = st.node_mut(&h.sender).expect("renamed");
            n.flags &= !flag::HANDSHAKE;
            n.flags |= h.flags & (flag::MASTER | flag::SLAVE);
            tracing::info!(node_id = %n.id_str(), "Handshake with node completed.");
            st.mark_save(false);
        } else if ln != h.sender {
            // The address now answers with another name: forget the address.
            if let Some(n) = st.node_mut(&ln) {
                n.flags |= flag::NOADDR;
                n.ip.clear();
                n.port = 0;
                n.pport = 0;
                n.cport = 0;
            }
            st.free_link(link);
            st.mark_save(false);
            return;
        }
    }
    // A just-renamed handshake node answers for the link, but, as in Redis, the rest of this
    // packet is not taken as coming from a known sender: its epochs, role, slots, gossip and
    // extensions are learned from the next one, together (never slots without their epoch).
    let renamed = sender.is_none();
    let Some(s) = sender.or_else(|| known_sender(st, h)) else {
        return;
    };
    if let Some(n) = st.node_mut(&s) {
        n.flags = (n.flags & !flag::NOFAILOVER) | (h.flags & flag::NOFAILOVER);
    }
    if h.msg_type == MsgType::Ping && update_address_if_needed(st, &s, h, peer) {
        st.todo.update_state = true;
    }
    if outbound_pong(st, link, h) {
        let n = st.node_mut(&s).expect("sender");
        n.pong_received = now;
        n.ping_sent = 0;
        if n.has(flag::PFAIL) {
            n.flags &= !flag::PFAIL;
            st.todo.update_state = true;
            st.mark_save(false);
        } else if n.has(flag::FAIL) {
            failure::clear_failure_if_needed(st, &s, now);
        }
    }
    if renamed {
        return;
    }
    update_role(st, &s, h);
    on_slot_claims(st, &s, h);
    process_gossip(st, Some(s), entries, now);
    process_extensions(st, &s, extensions, now);
}

/// The sender's slot claims: take the slots it wins by configEpoch, tell it (UPDATE) about
/// slots a newer owner serves, and resolve a configEpoch collision between primaries.
fn on_slot_claims(st: &mut ClusterState, s: &NodeId, h: &Header) {
    let sender_primary = st.node(s).is_some_and(|n| n.is_primary());
    // Compared with the sender's shard: its own slots, or its primary's for a replica
    // (Redis's `sender_master`), so a replica of a stale primary is sent the UPDATE too.
    let shard = st.node(s).and_then(|n| match n.primary {
        Some(p) if !n.is_primary() => st.node(&p),
        _ => Some(n),
    });
    let dirty = shard.is_some_and(|n| *n.slots.0 != *h.myslots);
    if sender_primary && dirty {
        update_slots_with(st, s, h.config_epoch, &h.myslots);
    }
    if dirty {
        // The sender claims slots a newer owner serves: tell it.
        let newer = (0..crate::slot::SLOTS as u16)
            .filter(|&j| super::wire::slot_bit(&h.myslots, j))
            .filter(|&j| st.owner_id(j) != Some(*s) && !st.slot_unclaimed(j))
            .find_map(|j| {
                st.owner(j)
                    .filter(|o| o.config_epoch > h.config_epoch)
                    .map(|o| o.id)
            });
        if let (Some(owner), Some(l)) = (newer, st.node(s).and_then(|n| n.link)) {
            messages::send_update(st, l, &owner);
        }
    }
    let me_primary = st.me().is_primary();
    let collide = st
        .node(s)
        .is_some_and(|n| n.is_primary() && h.config_epoch == st.me().config_epoch);
    if me_primary && collide {
        epoch::handle_collision(st, s);
    }
}

fn outbound_pong(st: &ClusterState, link: LinkId, h: &Header) -> bool {
    h.msg_type == MsgType::Pong && st.links.get(&link).is_some_and(|l| l.outbound)
}

/// Role as announced: an empty `slaveof` means primary.
fn update_role(st: &mut ClusterState, s: &NodeId, h: &Header) {
    let Some(n) = st.node_mut(s) else { return };
    match h.replicaof {
        None if n.is_replica() || !n.is_primary() => {
            n.flags = (n.flags & !flag::SLAVE) | flag::MASTER;
            n.primary = None;
            st.mark_save(false);
            st.todo.update_state = true;
        }
        Some(p) if n.primary != Some(p) || !n.is_replica() => {
            // A primary turned replica serves nothing (Redis's clusterDelNodeSlots).
            let lost: Vec<u16> = if n.is_primary() {
                n.slots.iter().collect()
            } else {
                Vec::new()
            };
            n.flags = (n.flags & !(flag::MASTER | flag::MIGRATE_TO)) | flag::SLAVE;
            n.primary = Some(p);
            for slot in lost {
                st.del_slot(slot);
            }
            st.mark_save(false);
            st.todo.update_state = true;
        }
        _ => {}
    }
}

/// The gossip section: failure reports from primaries, pong times of healthy nodes, address
/// changes of unreachable ones, and nodes we don't know yet.
fn process_gossip(
    st: &mut ClusterState,
    sender: Option<NodeId>,
    entries: &[GossipEntry],
    now: u64,
) {
    let sender_primary = sender
        .and_then(|s| st.node(&s))
        .is_some_and(|n| n.is_primary());
    for g in entries {
        let reported_failing = g.flags & (flag::FAIL | flag::PFAIL) != 0;
        if st.node(&g.node_id).is_none() {
            let banned = st.blacklisted(&g.node_id, now);
            if sender.is_some() && g.flags & flag::NOADDR == 0 && !banned {
                let mut n = Node::new(
                    g.node_id,
                    g.flags & !(flag::MYSELF | EXTENSIONS_SUPPORTED),
                    now,
                );
                n.ip = g.ip.clone();
                n.port = g.port;
                n.pport = g.pport;
                n.cport = g.cport;
                st.add_node(n);
                st.mark_save(false);
            }
            continue;
        }
        if g.node_id == st.myself {
            continue;
        }
        if let (true, Some(s)) = (sender_primary, sender) {
            let n = st.node_mut(&g.node_id).expect("known");
            if reported_failing {
                if n.add_fail_report(s, now) {
                    tracing::debug!(node_id = %n.id_str(), "Node reported as not reachable.");
                }
                if failure::mark_failing_if_needed(st, &g.node_id, now) {
                    messages::broadcast_fail(st, g.node_id);
                }
            } else {
                n.del_fail_report(&s);
            }
        }
        let n = st.node_mut(&g.node_id).expect("known");
        if !reported_failing && n.ping_sent == 0 && n.fail_reports.is_empty() {
            let pong = g.pong_received as u64 * 1000;
            if pong <= now + 500 && pong > n.pong_received {
                n.pong_received = pong;
            }
        }
        let moved = n.ip != g.ip || n.port != g.port || n.cport != g.cport;
        if n.failing() && g.flags & flag::NOADDR == 0 && !reported_failing && moved {
            n.ip = g.ip.clone();
            n.port = g.port;
            n.pport = g.pport;
            n.cport = g.cport;
            n.flags &= !flag::NOADDR;
            if let Some(l) = n.link {
                st.free_link(l);
            }
        }
    }
}

fn process_extensions(st: &mut ClusterState, s: &NodeId, exts: &[Extension], now: u64) {
    let mut saw_hostname = false;
    for e in exts {
        match e {
            Extension::Hostname(name) => {
                saw_hostname = true;
                set_hostname(st, s, name);
            }
            Extension::HumanNodename(name) => {
                if let Some(n) = st.node_mut(s) {
                    n.human_nodename = name.clone();
                }
            }
            Extension::ForgottenNode { node_id, ttl } => {
                let is_me_or_primary =
                    *node_id == st.myself || st.me().primary.as_ref() == Some(node_id);
                if st.node(node_id).is_some() && !is_me_or_primary {
                    st.blacklist.insert(*node_id, now + ttl * 1000);
                    st.del_node(node_id);
                    st.mark_save(false);
                }
            }
            Extension::ShardId(id) => {
                if let Some(n) = st.node_mut(s) {
                    if n.shard_id != *id {
                        n.shard_id = *id;
                        st.mark_save(false);
                    }
                }
            }
            Extension::Unknown { ext_type, .. } => {
                tracing::warn!(ext_type, "Received unknown extension type");
            }
        }
    }
    // No hostname extension means the sender has none (Redis clears it the same way).
    if !saw_hostname {
        set_hostname(st, s, "");
    }
}

fn set_hostname(st: &mut ClusterState, s: &NodeId, name: &str) {
    if let Some(n) = st.node_mut(s) {
        if n.hostname != name {
            n.hostname = name.to_string();
            st.todo.topology = true;
            st.mark_save(false);
        }
    }
}

fn on_fail(st: &mut ClusterState, sender: Option<NodeId>, failing: &NodeId, now: u64) {
    if sender.is_none() {
        tracing::info!(node_id = %super::node::id_str(failing), "Ignoring FAIL message from unknown node");
        return;
    }
    let Some(n) = st.node_mut(failing) else {
        return;
    };
    if n.has(flag::FAIL | flag::MYSELF) {
        return;
    }
    tracing::info!(node_id = %n.id_str(), "FAIL message received about node");
    n.flags = (n.flags | flag::FAIL) & !flag::PFAIL;
    n.fail_time = now;
    st.todo.update_state = true;
    st.mark_save(false);
}

#[cfg(test)]
#[path = "gossip_tests.rs"]
mod tests;
