//! Failure detection and the cluster state: PFAIL after cluster-node-timeout without a PONG,
//! FAIL once a majority of slot-owning primaries report it within 2 x node-timeout, clearing
//! FAIL, and the ok/fail decision with the minority rule and the rejoin delay. Every function
//! takes `now` (unix ms), so tests drive the clock. Mirrors Redis 7.0's cluster.c rules.
use super::node::{flag, NodeId};
use super::state::{ClusterState, Health, NONE};
use crate::slot::SLOTS;

/// Failure reports stay valid for node-timeout times this.
pub const FAIL_REPORT_VALIDITY_MULT: u64 = 2;
/// A primary's FAIL flag is cleared after node-timeout times this if it still serves slots.
pub const FAIL_UNDO_TIME_MULT: u64 = 2;
/// A primary waits this long after start before declaring the cluster ok.
pub const WRITABLE_DELAY: u64 = 2000;
pub const MIN_REJOIN_DELAY: u64 = 500;
pub const MAX_REJOIN_DELAY: u64 = 5000;

/// Turns a node's PFAIL into FAIL when, counting ourselves if we are a primary, a majority of
/// the primaries serving slots reported it recently (Redis's `markNodeAsFailingIfNeeded`).
/// Returns true if it did: the caller broadcasts FAIL.
pub fn mark_failing_if_needed(st: &mut ClusterState, id: &NodeId, now: u64) -> bool {
    let needed = st.needed_quorum();
    let me_primary = st.me().is_primary();
    let validity = st.settings.node_timeout * FAIL_REPORT_VALIDITY_MULT;
    let Some(node) = st.node_mut(id) else {
        return false;
    };
    if !node.has(flag::PFAIL) || node.has(flag::FAIL) {
        return false;
    }
    let failures = node.valid_fail_reports(now, validity) + usize::from(me_primary);
    if failures < needed {
        return false;
    }
    node.flags &= !flag::PFAIL;
    node.flags |= flag::FAIL;
    node.fail_time = now;
    tracing::info!(node_id = %node.id_str(), "Marking node as failing (quorum reached).");
    st.todo.update_state = true;
    st.mark_save(false);
    true
}

/// We can talk to a FAIL node again: replicas and slot-less primaries are cleared at once,
/// primaries still serving slots after 2 x node-timeout (nobody failed them over).
pub fn clear_failure_if_needed(st: &mut ClusterState, id: &NodeId, now: u64) {
    let undo = st.settings.node_timeout * FAIL_UNDO_TIME_MULT;
    let Some(node) = st.node_mut(id) else { return };
    if !node.has(flag::FAIL) {
        return;
    }
    let clear = if node.is_replica() || node.numslots == 0 {
        tracing::info!(node_id = %node.id_str(), "Clear FAIL state for node: is reachable again.");
        true
    } else if now.saturating_sub(node.fail_time) > undo {
        tracing::info!(
            node_id = %node.id_str(),
            "Clear FAIL state for node: is reachable again and nobody is serving its slots after some time."
        );
        true
    } else {
        false
    };
    if clear {
        node.flags &= !flag::FAIL;
        st.todo.update_state = true;
        st.mark_save(false);
    }
}

/// Flags nodes that have not answered a PING for longer than node-timeout as PFAIL
/// (the failure-detection part of Redis's clusterCron). Returns true if any changed.
pub fn detect_timeouts(st: &mut ClusterState, now: u64) -> bool {
    let timeout = st.settings.node_timeout;
    let mut changed = false;
    for node in st.nodes.iter_mut() {
        if node.has(flag::MYSELF | flag::NOADDR | flag::HANDSHAKE) || node.ping_sent == 0 {
            continue;
        }
        // Any data on the bus is proof of liveness, like a PONG.
        let delay = now
            .saturating_sub(node.ping_sent)
            .min(now.saturating_sub(node.data_received));
        if delay > timeout && !node.failing() {
            tracing::debug!(node_id = %node.id_str(), "*** NODE possibly failing");
            node.flags |= flag::PFAIL;
            changed = true;
        }
    }
    changed
}

/// Recomputes ok/fail (Redis's `clusterUpdateState`): fail if a slot is unassigned or served
/// by a FAIL node (with cluster-require-full-coverage) or if we cannot reach a majority of
/// the slot-owning primaries; a primary coming back from the minority waits the rejoin delay.
pub fn update_state(st: &mut ClusterState, now: u64) {
    st.todo.update_state = false;
    let me_primary = st.me().is_primary();
    if me_primary && st.health == Health::Fail && now.saturating_sub(st.start_time) < WRITABLE_DELAY
    {
        return;
    }
    let mut new = Health::Ok;
    if st.settings.require_full_coverage {
        let uncovered = (0..SLOTS).any(|s| match st.slots[s] {
            NONE => true,
            i => st.nodes[i as usize].has(flag::FAIL),
        });
        if uncovered {
            new = Health::Fail;
        }
    }
    let reachable = st
        .nodes
        .iter()
        .filter(|n| n.is_primary() && n.numslots > 0 && !n.failing())
        .count();
    if reachable < st.needed_quorum() {
        new = Health::Fail;
        st.among_minority_time = now;
    }
    if new != st.health {
        let rejoin = st
            .settings
            .node_timeout
            .clamp(MIN_REJOIN_DELAY, MAX_REJOIN_DELAY);
        if new == Health::Ok && me_primary && now.saturating_sub(st.among_minority_time) < rejoin {
            return;
        }
        tracing::warn!(
            "Cluster state changed: {}",
            if new == Health::Ok { "ok" } else { "fail" }
        );
        st.health = new;
        st.todo.topology = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::node::{random_id, Node};
    use crate::cluster::state::Settings;

    /// Three primaries splitting the slots; node-timeout 1000.
    fn three(now: u64) -> (ClusterState, [NodeId; 3]) {
        let settings = Settings {
            node_timeout: 1000,
            require_full_coverage: true,
            ..Default::default()
        };
        let me = random_id();
        let mut st = ClusterState::new(me, settings, now);
        let ids = [me, random_id(), random_id()];
        for id in &ids[1..] {
            st.add_node(Node::new(*id, flag::MASTER, now));
        }
        for s in 0..SLOTS as u16 {
            let i = st.idx(&ids[s as usize * 3 / SLOTS]).unwrap();
            st.add_slot(s, i);
        }
        (st, ids)
    }

    #[test]
    fn pfail_then_fail_with_quorum() {
        let (mut st, ids) = three(0);
        st.node_mut(&ids[1]).unwrap().ping_sent = 100;
        assert!(!detect_timeouts(&mut st, 1000));
        assert!(detect_timeouts(&mut st, 1200));
        assert!(st.node(&ids[1]).unwrap().has(flag::PFAIL));
        // Myself alone is 1 of the 2 needed.
        assert!(!mark_failing_if_needed(&mut st, &ids[1], 1200));
        st.node_mut(&ids[1]).unwrap().add_fail_report(ids[2], 1200);
        assert!(mark_failing_if_needed(&mut st, &ids[1], 1300));
        let n = st.node(&ids[1]).unwrap();
        assert!(n.has(flag::FAIL) && !n.has(flag::PFAIL));
    }

    #[test]
    fn old_fail_reports_do_not_count() {
        let (mut st, ids) = three(0);
        let n = st.node_mut(&ids[1]).unwrap();
        n.flags |= flag::PFAIL;
        n.add_fail_report(ids[2], 100);
        assert!(!mark_failing_if_needed(&mut st, &ids[1], 100 + 2001));
    }

    #[test]
    fn state_ok_fail_and_rejoin_delay() {
        let (mut st, ids) = three(0);
        update_state(&mut st, 100);
        assert_eq!(st.health, Health::Fail, "writable delay after start");
        update_state(&mut st, 2500);
        assert_eq!(st.health, Health::Ok);
        st.node_mut(&ids[1]).unwrap().flags |= flag::FAIL;
        update_state(&mut st, 2600);
        assert_eq!(st.health, Health::Fail, "a FAIL owner uncovers slots");
        st.settings.require_full_coverage = false;
        update_state(&mut st, 2700);
        assert_eq!(st.health, Health::Ok, "2 of 3 primaries reachable");
        st.node_mut(&ids[2]).unwrap().flags |= flag::PFAIL;
        update_state(&mut st, 2800);
        assert_eq!(st.health, Health::Fail, "minority");
        st.node_mut(&ids[2]).unwrap().flags &= !flag::PFAIL;
        update_state(&mut st, 3000);
        assert_eq!(st.health, Health::Fail, "rejoin delay");
        update_state(&mut st, 3900);
        assert_eq!(st.health, Health::Ok);
    }

    #[test]
    fn clear_fail_of_serving_primary_waits() {
        let (mut st, ids) = three(0);
        let n = st.node_mut(&ids[1]).unwrap();
        n.flags |= flag::FAIL;
        n.fail_time = 1000;
        clear_failure_if_needed(&mut st, &ids[1], 2000);
        assert!(st.node(&ids[1]).unwrap().has(flag::FAIL));
        clear_failure_if_needed(&mut st, &ids[1], 3001);
        assert!(!st.node(&ids[1]).unwrap().has(flag::FAIL));
    }
}
