//! Shared by the cluster unit tests (gossip, failover): a state with a known clock, nodes with
//! an address, and links whose receivers are kept so what was queued can be checked.
use super::node::{LinkId, Node, NodeId};
use super::state::{ClusterState, Settings};
use std::ops::Range;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

pub const NOW: u64 = 1_700_000_000_000;

pub type Rx = UnboundedReceiver<Vec<u8>>;

/// A fresh state (node timeout 1000 ms) for `me`, created a minute before `NOW`.
pub fn new_state(me: NodeId) -> ClusterState {
    let settings = Settings {
        node_timeout: 1000,
        port: 7000,
        cport: 17000,
        allow_replica_migration: true,
        ..Default::default()
    };
    ClusterState::new(me, settings, NOW - 60_000)
}

/// A node with an address, a configEpoch and slots.
pub fn add(st: &mut ClusterState, id: NodeId, flags: u16, epoch: u64, slots: Range<u16>) {
    let mut n = Node::new(id, flags, NOW - 60_000);
    n.ip = "10.0.0.7".into();
    n.port = 7001;
    n.cport = 17001;
    n.config_epoch = epoch;
    let i = st.add_node(n);
    for s in slots {
        st.add_slot(s, i);
    }
}

/// Outbound link to `node` (recorded as its link), as the cron opens them.
pub fn outbound(st: &mut ClusterState, node: NodeId) -> (LinkId, Rx) {
    let (tx, rx) = unbounded_channel();
    let (l, _) = st.add_link(Some(node), true, tx, NOW);
    st.node_mut(&node).expect("known").link = Some(l);
    (l, rx)
}
