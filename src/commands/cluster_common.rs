//! What the CLUSTER command handlers (cluster_cmd, cluster_slots, cluster_info) share: the
//! cluster or Redis's "cluster support disabled", and the marks a state change leaves.
use super::Ctx;
use crate::cluster::state::ClusterState;
use crate::cluster::Cluster;
use crate::protocol::ErrorReply;

/// The cluster, or Redis's error when this instance is not in cluster mode.
pub(super) fn cluster_of<'a>(ctx: &Ctx<'a>) -> Result<&'a Cluster, ErrorReply> {
    let shared: &'a crate::state::Shared = ctx.shared;
    shared
        .cluster
        .as_deref()
        .ok_or_else(ErrorReply::cluster_disabled)
}

/// After a command made this node stop serving slots (DELSLOTS, FLUSHSLOTS, SETSLOT NODE,
/// RESET), their shard channels go, as in Redis's `clusterDelSlot`. Call it after the state
/// lock is released: the routing snapshot is republished then.
pub(super) fn drop_unserved_shard_channels(ctx: &Ctx, cluster: &Cluster) {
    let topo = cluster.topology();
    ctx.shared
        .pubsub
        .drop_shard_channels(|ch| topo.serves(crate::slot::key_slot(ch)), ctx.now_ms);
}

/// Marks what Redis's `clusterDoBeforeSleep(UPDATE_STATE|SAVE_CONFIG)` marks: nodes.conf is
/// rewritten without fsync (the changes that need it, epochs, fsync themselves).
pub(super) fn changed(st: &mut ClusterState) {
    st.todo.update_state = true;
    st.mark_save(false);
}
