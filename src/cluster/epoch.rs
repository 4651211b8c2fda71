//! Epochs: currentEpoch / configEpoch bookkeeping, Redis's configEpoch collision rule (of two
//! primaries with one configEpoch, the one with the smaller name takes a new one) and BUMPEPOCH.
use super::node::NodeId;
use super::state::ClusterState;

/// Two primaries announce the same configEpoch: if the sender's name is greater than ours we
/// (the smaller name) take `currentEpoch + 1` (Redis's `clusterHandleConfigEpochCollision`). True if we did.
pub fn handle_collision(st: &mut ClusterState, sender: &NodeId) -> bool {
    let Some(s) = st.node(sender) else {
        return false;
    };
    let me = st.me();
    if s.config_epoch != me.config_epoch || !s.is_primary() || !me.is_primary() {
        return false;
    }
    if s.id <= me.id {
        return false;
    }
    st.current_epoch += 1;
    let epoch = st.current_epoch;
    st.me_mut().config_epoch = epoch;
    st.mark_save(true);
    tracing::info!(node_id = %super::node::id_str(sender), epoch, "WARNING: configEpoch collision with node. configEpoch set to {epoch}");
    true
}

/// CLUSTER BUMPEPOCH: a new configEpoch unless ours is already the unique greatest.
/// Returns (bumped, our config epoch).
pub fn bump(st: &mut ClusterState) -> (bool, u64) {
    let mine = st.me().config_epoch;
    // Redis's clusterGetMaxEpoch: the greatest configEpoch, or currentEpoch if greater.
    let max = st.max_config_epoch().max(st.current_epoch);
    if mine != 0 && mine == max {
        return (false, mine);
    }
    st.current_epoch += 1;
    let epoch = st.current_epoch;
    st.me_mut().config_epoch = epoch;
    st.mark_save(true);
    (true, epoch)
}

/// Raises currentEpoch / a sender's configEpoch from a header (true if anything changed).
pub fn learn(st: &mut ClusterState, sender: &NodeId, current: u64, config: u64) {
    if current > st.current_epoch {
        st.current_epoch = current;
        st.mark_save(false);
    }
    if let Some(n) = st.node_mut(sender) {
        if config > n.config_epoch {
            n.config_epoch = config;
            st.mark_save(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::node::{flag, Node};
    use crate::cluster::state::Settings;

    #[test]
    fn greater_name_moves_on() {
        let low = [b'1'; 40];
        let high = [b'9'; 40];
        // We are the greater name: we keep our epoch.
        let mut st = ClusterState::new(high, Settings::default(), 0);
        st.add_node(Node::new(low, flag::MASTER, 0));
        assert!(!handle_collision(&mut st, &low));
        // We are the smaller name: we take a new one.
        let mut st = ClusterState::new(low, Settings::default(), 0);
        st.add_node(Node::new(high, flag::MASTER, 0));
        st.current_epoch = 5;
        assert!(handle_collision(&mut st, &high));
        assert_eq!(st.me().config_epoch, 6);
        assert_eq!(st.current_epoch, 6);
        assert!(!handle_collision(&mut st, &high));
    }

    #[test]
    fn bump_only_when_not_unique_max() {
        let mut st = ClusterState::new([b'a'; 40], Settings::default(), 0);
        let mut other = Node::new([b'b'; 40], flag::MASTER, 0);
        other.config_epoch = 3;
        st.add_node(other);
        st.current_epoch = 3;
        assert_eq!(bump(&mut st), (true, 4));
        assert_eq!(bump(&mut st), (false, 4));
    }
}
