//! The mutable cluster state (Redis's `clusterState`): the nodes this node knows, who owns each
//! slot, epochs, migration marks, the FORGET ban list, bus links and message counters. One
//! `Mutex<ClusterState>` in `Cluster` holds it; every rule that changes it takes `now` (unix ms)
//! as an input. Depends on `node` and `wire` only.
use super::node::{flag, LinkId, Node, NodeId};
use crate::slot::SLOTS;
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

/// No owner in `ClusterState::slots`.
pub const NONE: u16 = u16::MAX;

/// cluster-preferred-endpoint-type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointType {
    #[default]
    Ip,
    Hostname,
    Unknown,
}

/// The cluster-* directives, copied from the config on every cron tick.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub node_timeout: u64,
    pub require_full_coverage: bool,
    pub allow_reads_when_down: bool,
    pub allow_pubsubshard_when_down: bool,
    pub announce_ip: String,
    pub announce_hostname: String,
    pub announce_port: u16,
    pub announce_bus_port: u16,
    pub announce_tls_port: u16,
    pub preferred_endpoint: EndpointType,
    /// cluster-link-sendbuf-limit: a link with more queued bytes is freed (0 = no limit).
    pub link_sendbuf_limit: u64,
    /// cluster-replica-validity-factor, cluster-replica-no-failover, repl-ping-replica-period.
    pub replica_validity_factor: u64,
    pub replica_no_failover: bool,
    pub repl_ping_period_s: u64,
    /// cluster-allow-replica-migration: a primary left without slots follows their new owner.
    pub allow_replica_migration: bool,
    /// The client port and bus port this process listens on.
    pub port: u16,
    pub cport: u16,
    pub config_file: PathBuf,
}

impl Settings {
    /// Ports we announce: (client, tls, bus).
    pub fn announced_ports(&self) -> (u16, u16, u16) {
        let port = if self.announce_port != 0 {
            self.announce_port
        } else {
            self.port
        };
        let bus = if self.announce_bus_port != 0 {
            self.announce_bus_port
        } else {
            self.cport
        };
        (port, self.announce_tls_port, bus)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    Fail,
}

/// One bus connection as the state sees it (the socket itself lives in its task).
#[derive(Debug)]
pub struct Link {
    /// The node this link belongs to; for inbound links, set once the sender is known.
    pub node: Option<NodeId>,
    pub outbound: bool,
    pub ctime: u64,
    pub tx: UnboundedSender<Vec<u8>>,
    /// Shared with the link's task: queued bytes and the close signal.
    pub io: std::sync::Arc<LinkIo>,
}

/// What a link's state entry shares with its task.
#[derive(Debug, Default)]
pub struct LinkIo {
    /// Bytes handed to the link task and not yet written (CLUSTER LINKS send-buffer-*,
    /// cluster-link-sendbuf-limit).
    pub queued: std::sync::atomic::AtomicUsize,
    /// Signalled when the state frees the link, so a task stuck writing to a peer that stopped
    /// reading lets go of the socket at once.
    pub closed: tokio::sync::Notify,
}

/// Message counters per bus message type (CLUSTER INFO cluster_stats_messages_*).
#[derive(Debug, Default, Clone)]
pub struct BusStats {
    pub sent: [u64; super::wire::MsgType::COUNT],
    pub received: [u64; super::wire::MsgType::COUNT],
    pub links_buffer_limit_exceeded: u64,
}

/// Work the state asks for after a change, done outside the lock or at the end of the event.
#[derive(Debug, Default)]
pub struct Todo {
    pub save_config: bool,
    pub fsync_config: bool,
    pub update_state: bool,
    /// Slots or nodes changed: republish the routing snapshot.
    pub topology: bool,
}

pub struct ClusterState {
    pub myself: NodeId,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    pub health: Health,
    pub nodes: Vec<Node>,
    /// Owner of each slot as an index into `nodes` (`NONE` = unassigned).
    pub slots: Box<[u16]>,
    /// Open slots: migrating to or importing from another primary.
    pub migration: super::migration::Marks,
    /// CLUSTER FORGET ban: node -> unix ms when the ban ends.
    pub blacklist: HashMap<NodeId, u64>,
    pub links: HashMap<LinkId, Link>,
    pub next_link_id: LinkId,
    pub stats: BusStats,
    pub settings: Settings,
    pub todo: Todo,
    /// When we were last in a minority partition (rejoin delay), and when the state started.
    pub among_minority_time: u64,
    pub start_time: u64,
    /// Slots we lost to another node: their keys must go (done outside the lock).
    pub lost_slots: Vec<u16>,
    /// Cron iterations, for the once-a-second random ping.
    pub cron_iterations: u64,
    /// PINGs built so far (gossip de-duplication stamp).
    pub pings_built: u64,
    /// Slots whose owner stopped claiming them (Redis's `owner_not_claiming_slot`).
    pub owner_not_claiming: super::node::SlotBits,
    /// Bus PUBLISH / PUBLISHSHARD received: (shard, channel, message), delivered outside the lock.
    pub inbox: Vec<(bool, bytes::Bytes, bytes::Bytes)>,
    /// Replica promotion (failover.rs).
    pub failover: super::failover::Failover,
    /// This node's replication, as the host last reported it.
    pub repl: super::failover::ReplView,
    /// A role change for the host's replication link, applied outside the lock.
    pub follow: Option<super::failover::Follow>,
}

impl ClusterState {
    /// A fresh state with only `myself`, a primary without slots.
    pub fn new(myself: NodeId, settings: Settings, now: u64) -> ClusterState {
        let mut me = Node::new(myself, flag::MYSELF | flag::MASTER, now);
        let (port, pport, cport) = settings.announced_ports();
        me.port = port;
        me.pport = pport;
        me.cport = cport;
        me.ip = settings.announce_ip.clone();
        me.hostname = settings.announce_hostname.clone();
        ClusterState {
            myself,
            current_epoch: 0,
            last_vote_epoch: 0,
            health: Health::Fail,
            nodes: vec![me],
            slots: vec![NONE; SLOTS].into_boxed_slice(),
            migration: Default::default(),
            blacklist: HashMap::new(),
            links: HashMap::new(),
            next_link_id: 1,
            stats: BusStats::default(),
            settings,
            todo: Todo::default(),
            among_minority_time: 0,
            start_time: now,
            lost_slots: Vec::new(),
            cron_iterations: 0,
            pings_built: 0,
            failover: Default::default(),
            repl: Default::default(),
            follow: None,
            owner_not_claiming: Default::default(),
            inbox: Vec::new(),
        }
    }

    pub fn idx(&self, id: &NodeId) -> Option<usize> {
        self.nodes.iter().position(|n| &n.id == id)
    }

    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.iter().find(|n| &n.id == id)
    }

    pub fn node_mut(&mut self, id: &NodeId) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| &n.id == id)
    }

    /// A node by the prefix-free name a client typed (CLUSTER FORGET/SETSLOT/COUNT-FAILURE...).
    pub fn node_by_name(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id[..] == *name)
    }

    pub fn me(&self) -> &Node {
        self.node(&self.myself).expect("myself is always known")
    }

    pub fn me_mut(&mut self) -> &mut Node {
        let id = self.myself;
        self.node_mut(&id).expect("myself is always known")
    }

    pub fn my_idx(&self) -> usize {
        self.idx(&self.myself).expect("myself is always known")
    }

    pub fn add_node(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.todo.topology = true;
        self.nodes.len() - 1
    }

    /// Removes a node (FORGET, handshake timeout, duplicate): its slots become unassigned,
    /// its fail reports about others go, and its links are closed.
    pub fn del_node(&mut self, id: &NodeId) {
        let Some(i) = self.idx(id) else { return };
        for l in [self.nodes[i].link, self.nodes[i].inbound_link]
            .into_iter()
            .flatten()
        {
            self.free_link(l);
        }
        let last = self.nodes.len() - 1;
        for owner in self.slots.iter_mut() {
            if *owner as usize == i {
                *owner = NONE;
            } else if *owner as usize == last {
                *owner = i as u16;
            }
        }
        self.migration.forget(id);
        for n in &mut self.nodes {
            n.del_fail_report(id);
        }
        self.nodes.swap_remove(i);
        self.todo.topology = true;
    }

    /// Changes a handshake node's random name into the name it told us.
    pub fn rename_node(&mut self, old: &NodeId, new: NodeId) {
        if let Some(n) = self.node_mut(old) {
            n.id = new;
        }
        for l in self.links.values_mut() {
            if l.node.as_ref() == Some(old) {
                l.node = Some(new);
            }
        }
        self.todo.topology = true;
    }

    pub fn owner(&self, slot: u16) -> Option<&Node> {
        match self.slots[slot as usize] {
            NONE => None,
            i => self.nodes.get(i as usize),
        }
    }

    /// Unassigned, or its owner no longer claims it.
    pub fn slot_unclaimed(&self, slot: u16) -> bool {
        self.slots[slot as usize] == NONE || self.owner_not_claiming.get(slot)
    }

    pub fn owner_id(&self, slot: u16) -> Option<NodeId> {
        self.owner(slot).map(|n| n.id)
    }

    /// Assigns `slot` to the node at `idx` (which must not already be taken).
    pub fn add_slot(&mut self, slot: u16, idx: usize) -> bool {
        if self.slots[slot as usize] != NONE {
            return false;
        }
        self.nodes[idx].add_slot(slot);
        self.slots[slot as usize] = idx as u16;
        self.todo.topology = true;
        true
    }

    pub fn del_slot(&mut self, slot: u16) -> bool {
        let owner = self.slots[slot as usize];
        if owner == NONE {
            return false;
        }
        self.nodes[owner as usize].del_slot(slot);
        self.slots[slot as usize] = NONE;
        self.todo.topology = true;
        true
    }

    /// Primaries serving at least one slot (Redis's `cluster->size`).
    pub fn size(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.is_primary() && n.numslots > 0)
            .count()
    }

    /// Majority of `size()`.
    pub fn needed_quorum(&self) -> usize {
        self.size() / 2 + 1
    }

    pub fn blacklisted(&mut self, id: &NodeId, now: u64) -> bool {
        self.blacklist.retain(|_, until| *until > now);
        self.blacklist.contains_key(id)
    }

    /// The largest configEpoch of any node (CLUSTER INFO, BUMPEPOCH).
    pub fn max_config_epoch(&self) -> u64 {
        self.nodes.iter().map(|n| n.config_epoch).max().unwrap_or(0)
    }

    /// Whatever is worth saving may change routing too (addresses, flags, epochs), so the
    /// snapshot is rebuilt with every save: a cheap copy, and no change can be forgotten.
    pub fn mark_save(&mut self, fsync: bool) {
        self.todo.save_config = true;
        self.todo.fsync_config |= fsync;
        self.todo.topology = true;
    }

    /// Takes new cluster-* settings (CONFIG SET, or the cron's periodic read): myself's
    /// announced address follows them and routing is republished. No-op if unchanged.
    pub fn apply_settings(&mut self, s: Settings) {
        if self.settings == s {
            return;
        }
        let (port, pport, cport) = s.announced_ports();
        let me = self.me_mut();
        me.port = port;
        me.pport = pport;
        me.cport = cport;
        if !s.announce_ip.is_empty() {
            me.ip = s.announce_ip.clone();
        }
        me.hostname = s.announce_hostname.clone();
        self.settings = s;
        self.todo.topology = true;
        self.todo.update_state = true;
        self.mark_save(false);
    }

    /// A new link id, with its state entry.
    pub fn add_link(
        &mut self,
        node: Option<NodeId>,
        outbound: bool,
        tx: UnboundedSender<Vec<u8>>,
        now: u64,
    ) -> (LinkId, std::sync::Arc<LinkIo>) {
        let id = self.next_link_id;
        self.next_link_id += 1;
        let io = std::sync::Arc::new(LinkIo::default());
        self.links.insert(
            id,
            Link {
                node,
                outbound,
                ctime: now,
                tx,
                io: io.clone(),
            },
        );
        (id, io)
    }

    /// Forgets a link (its task sees the channel close and drops the socket).
    pub fn free_link(&mut self, link: LinkId) {
        if let Some(l) = self.links.remove(&link) {
            l.io.closed.notify_one();
            if let Some(n) = l.node.and_then(|id| self.node_mut(&id)) {
                if n.link == Some(link) {
                    n.link = None;
                }
                if n.inbound_link == Some(link) {
                    n.inbound_link = None;
                }
            }
        }
    }

    /// Queues an encoded frame on a link; counts it as sent. A link whose queue passes
    /// cluster-link-sendbuf-limit (a peer that stopped reading) is freed, as Redis does; the
    /// cron reconnects it.
    pub fn send(&mut self, link: LinkId, msg_type: usize, frame: Vec<u8>) {
        let limit = self.settings.link_sendbuf_limit;
        let Some(l) = self.links.get(&link) else {
            return;
        };
        let queued =
            l.io.queued
                .fetch_add(frame.len(), std::sync::atomic::Ordering::Relaxed)
                + frame.len();
        if l.tx.send(frame).is_ok() && msg_type < self.stats.sent.len() {
            self.stats.sent[msg_type] += 1;
        }
        if limit > 0 && queued as u64 > limit {
            tracing::warn!(
                link,
                queued,
                limit,
                "Freeing cluster link: send buffer over cluster-link-sendbuf-limit"
            );
            self.stats.links_buffer_limit_exceeded += 1;
            self.free_link(link);
        }
    }
}
