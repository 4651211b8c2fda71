//! The routing snapshot: who serves each slot, where to redirect, migration marks and whether
//! the cluster is ok. Immutable once built; `Cluster` swaps in a new `Arc` after every change
//! and the request path clones the `Arc` once per command.
use super::migration::Mark;
use super::node::{Node, NodeId};
use super::state::{ClusterState, EndpointType, Health, NONE};
use std::collections::HashMap;

/// Where clients are sent for a node (MOVED/ASK), per cluster-preferred-endpoint-type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct Topology {
    pub ok: bool,
    pub me: u16,
    /// My primary's index when I am a replica.
    pub my_primary: Option<u16>,
    pub owners: Box<[u16]>,
    pub endpoints: Vec<Endpoint>,
    pub migrating: HashMap<u16, u16>,
    pub importing: HashMap<u16, u16>,
    pub allow_reads_when_down: bool,
    pub allow_pubsubshard_when_down: bool,
}

/// Redis's `getPreferredEndpoint`: the IP, the hostname ("?" when it has none), or "" for
/// unknown-endpoint (MOVED then reads `-MOVED <slot> :<port>`).
pub fn endpoint_host(n: &Node, kind: EndpointType) -> String {
    match kind {
        EndpointType::Ip => n.ip.clone(),
        EndpointType::Hostname if !n.hostname.is_empty() => n.hostname.clone(),
        EndpointType::Hostname => "?".into(),
        EndpointType::Unknown => String::new(),
    }
}

impl Topology {
    pub fn build(st: &ClusterState) -> Topology {
        let kind = st.settings.preferred_endpoint;
        let index_of = |id: &NodeId| st.idx(id).map_or(NONE, |i| i as u16);
        let (mut migrating, mut importing) = (HashMap::new(), HashMap::new());
        for (slot, mark) in st.migration.sorted() {
            match mark {
                Mark::Migrating(id) => migrating.insert(slot, index_of(&id)),
                Mark::Importing(id) => importing.insert(slot, index_of(&id)),
            };
        }
        let me = st.my_idx() as u16;
        Topology {
            ok: st.health == Health::Ok,
            me,
            my_primary: st
                .me()
                .primary
                .as_ref()
                .map(index_of)
                .filter(|&i| i != NONE),
            owners: st.slots.clone(),
            endpoints: st
                .nodes
                .iter()
                .map(|n| Endpoint {
                    host: endpoint_host(n, kind),
                    port: n.port,
                })
                .collect(),
            migrating,
            importing,
            allow_reads_when_down: st.settings.allow_reads_when_down,
            allow_pubsubshard_when_down: st.settings.allow_pubsubshard_when_down,
        }
    }

    /// Does this node serve `slot` (for SSUBSCRIBE bookkeeping and slot-loss notices)?
    pub fn serves(&self, slot: u16) -> bool {
        let owner = self.owners[slot as usize];
        owner == self.me || (owner != NONE && Some(owner) == self.my_primary)
    }
}
