//! Replica promotion, after the Redis 7.0 cluster spec ("Replica election and promotion") and
//! `clusterHandleSlaveFailover` / `clusterSendFailoverAuthIfNeeded` /
//! `clusterHandleManualFailover`. One `Election` enum advanced by `tick` (every cron run, `now`
//! injected), every transition logged by `set`.
//!
//! Automatic: when my primary is FAIL (and serves slots), I wait `500 ms + random(0..500) +
//! rank * 1000` (rank: replicas of the same primary with a greater replication offset), bump
//! currentEpoch and broadcast FAILOVER_AUTH_REQUEST; each primary serving slots grants one vote
//! per epoch (persisted before it answers) and none for the same primary within
//! 2 x node-timeout; with a majority of the slot-serving primaries I take my primary's slots
//! under the election's epoch and tell everyone (PONG). Without a majority within the auth
//! timeout (2 x node-timeout, at least 2 s), the attempt expires and another may start after
//! twice that.
//!
//! Manual (CLUSTER FAILOVER): the replica sends MFSTART; its primary pauses writes and
//! announces its offset (PAUSED flag) in PINGs; once the replica's offset matches, it runs the
//! election at once with FORCEACK (voters grant it although the primary is up): no
//! acknowledged write is lost. FORCE skips the primary's part; TAKEOVER skips the vote.
//!
//! The replication link itself is the host's: the state records which primary this node must
//! follow and the host reconciles (see `Follow`).
use super::messages;
use super::node::{flag, NodeId};
use super::state::ClusterState;
use super::wire::{mflags0, Body, Header, Message, MsgType};
use rand::Rng;
use std::collections::HashSet;

/// Manual failover: how long the whole handshake may take (`CLUSTER_MF_TIMEOUT`).
pub const MANUAL_TIMEOUT_MS: u64 = 5000;
/// A primary serving a manual failover pauses writes for twice that (`CLUSTER_MF_PAUSE_MULT`).
pub const MANUAL_PAUSE_MULT: u64 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Election {
    Idle,
    /// Votes will be requested at `start_at`; `rank` set the delay.
    Scheduled {
        start_at: u64,
        rank: usize,
    },
    /// Votes requested in `epoch` at `sent_at`, granted by `voters` so far.
    Voting {
        epoch: u64,
        sent_at: u64,
        voters: HashSet<NodeId>,
    },
}

/// A manual failover this replica runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manual {
    pub end: u64,
    /// FORCE: do not wait for the primary's offset.
    pub force: bool,
    /// The paused primary's offset, once announced.
    pub primary_offset: Option<u64>,
}

/// What this node knows about its own replication (refreshed from the host every tick).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplView {
    pub offset: u64,
    /// The address the replication link follows (None: a primary).
    pub following: Option<(String, u16)>,
    pub link_up: bool,
    /// Milliseconds the link has been down (0 while up).
    pub down_ms: u64,
}

/// A change of role for the host to carry out on the replication side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Stop following (this node was promoted).
    Primary,
    /// Replicate this address.
    Replicate { ip: String, port: u16 },
}

#[derive(Debug, Clone)]
pub struct Failover {
    pub election: Election,
    /// When the current or last attempt began (retries wait twice the auth timeout).
    pub attempt_at: u64,
    pub manual: Option<Manual>,
    /// Primary side of a manual failover: the replica, when the pause began, and its end.
    pub serving: Option<(NodeId, u64, u64)>,
    /// Writes must pause until this unix ms (the host applies it).
    pub pause_until: Option<u64>,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            election: Election::Idle,
            attempt_at: 0,
            manual: None,
            serving: None,
            pause_until: None,
        }
    }
}

fn set(st: &mut ClusterState, to: Election) {
    let from = std::mem::replace(&mut st.failover.election, to);
    let name = |e: &Election| match e {
        Election::Idle => "idle".to_string(),
        Election::Scheduled { start_at, rank } => format!("scheduled(at={start_at}, rank={rank})"),
        Election::Voting { epoch, voters, .. } => {
            format!("voting(epoch={epoch}, votes={})", voters.len())
        }
    };
    if std::mem::discriminant(&from) != std::mem::discriminant(&st.failover.election) {
        tracing::info!(from = %name(&from), to = %name(&st.failover.election), "failover election");
    }
}

fn auth_timeout(st: &ClusterState) -> u64 {
    (st.settings.node_timeout * 2).max(2000)
}

/// Replicas of my primary that are ahead of me (and could fail over): my rank.
fn rank(st: &ClusterState, primary: &NodeId) -> usize {
    let me = st.me();
    st.nodes
        .iter()
        .filter(|n| n.id != me.id && n.primary.as_ref() == Some(primary) && n.is_replica())
        .filter(|n| !n.has(flag::FAIL | flag::PFAIL | flag::NOFAILOVER))
        .filter(|n| n.repl_offset > st.repl.offset)
        .count()
}

/// The cron's part: advance the election, keep the replication link on the right primary,
/// expire a manual failover.
pub fn tick(st: &mut ClusterState, now: u64) {
    reconcile_link(st);
    if let Some((replica, _, end)) = st.failover.serving {
        if now > end || st.me().is_replica() {
            // Done (I am the replica now) or timed out: writes resume at once.
            st.failover.serving = None;
            st.failover.pause_until = Some(0);
        } else if let Some(link) = st.node(&replica).and_then(|n| n.link) {
            // The replica hears my final offset every tick (Redis pings mf_slave each cron).
            messages::send_ping(st, link, MsgType::Ping, now);
        }
    }
    if st.failover.manual.as_ref().is_some_and(|m| now > m.end) {
        tracing::warn!("Manual failover timed out.");
        st.failover.manual = None;
        if matches!(st.failover.election, Election::Voting { .. }) {
            set(st, Election::Idle);
        }
    }
    let me = st.me();
    let primary_id = match (me.is_replica(), me.primary) {
        (true, Some(p)) => p,
        _ => {
            st.failover.manual = None;
            if st.failover.election != Election::Idle {
                set(st, Election::Idle);
            }
            return;
        }
    };
    let Some(primary) = st.node(&primary_id) else {
        return;
    };
    let manual_ready = st
        .failover
        .manual
        .as_ref()
        .is_some_and(|m| m.force || m.primary_offset.is_some_and(|o| o == st.repl.offset));
    let wanted = (primary.has(flag::FAIL) || manual_ready)
        && primary.numslots > 0
        && (!st.settings.replica_no_failover || st.failover.manual.is_some());
    if !wanted {
        if matches!(st.failover.election, Election::Scheduled { .. }) {
            set(st, Election::Idle);
        }
        return;
    }
    if st.failover.manual.is_none() && data_too_old(st) {
        return;
    }
    let timeout = auth_timeout(st);
    match st.failover.election.clone() {
        Election::Idle => {
            if manual_ready {
                st.failover.attempt_at = now;
                set(
                    st,
                    Election::Scheduled {
                        start_at: now,
                        rank: 0,
                    },
                );
            } else if now.saturating_sub(st.failover.attempt_at) > timeout * 2 {
                let r = rank(st, &primary_id);
                let delay = 500 + rand::thread_rng().gen_range(0..500) + r as u64 * 1000;
                st.failover.attempt_at = now + delay;
                set(
                    st,
                    Election::Scheduled {
                        start_at: now + delay,
                        rank: r,
                    },
                );
            }
        }
        Election::Scheduled {
            start_at,
            rank: old,
        } => {
            let mut start_at = start_at;
            if st.failover.manual.is_none() {
                // Replicas ahead of me may have appeared: wait longer for them.
                let r = rank(st, &primary_id);
                if r > old {
                    start_at += (r - old) as u64 * 1000;
                    st.failover.attempt_at = start_at;
                    st.failover.election = Election::Scheduled { start_at, rank: r };
                }
            }
            if now >= start_at {
                request_votes(st, now);
            }
        }
        Election::Voting { sent_at, .. } => {
            if now.saturating_sub(sent_at) > timeout {
                tracing::warn!("Failover attempt expired.");
                st.failover.manual = None;
                set(st, Election::Idle);
            }
        }
    }
}

/// cluster-replica-validity-factor: a replica whose link has been down for too long may not
/// promote itself (its data may be far behind).
fn data_too_old(st: &ClusterState) -> bool {
    let f = st.settings.replica_validity_factor;
    if f == 0 || st.repl.link_up {
        return false;
    }
    let age = st.repl.down_ms.saturating_sub(st.settings.node_timeout);
    age > st.settings.repl_ping_period_s * 1000 + st.settings.node_timeout * f
}

fn request_votes(st: &mut ClusterState, now: u64) {
    st.failover.attempt_at = now;
    st.current_epoch += 1;
    let epoch = st.current_epoch;
    let mut h = messages::my_header(st, MsgType::FailoverAuthRequest);
    if st.failover.manual.is_some() {
        h.mflags[0] |= mflags0::FORCEACK;
    }
    let frame = super::wire::encode(&Message {
        header: h,
        body: Body::Empty,
    });
    messages::broadcast(st, MsgType::FailoverAuthRequest, &frame);
    st.mark_save(true);
    tracing::info!(epoch, "Starting a failover election");
    set(
        st,
        Election::Voting {
            epoch,
            sent_at: now,
            voters: HashSet::new(),
        },
    );
}

/// FAILOVER_AUTH_ACK from `sender`: counted if it serves slots and acks our epoch.
pub fn on_ack(st: &mut ClusterState, sender: &NodeId, h: &Header, now: u64) {
    let voter = st
        .node(sender)
        .is_some_and(|n| n.is_primary() && n.numslots > 0);
    let needed = st.needed_quorum();
    if let Election::Voting { epoch, voters, .. } = &mut st.failover.election {
        if !voter || h.current_epoch < *epoch {
            return;
        }
        voters.insert(*sender);
        if voters.len() >= needed {
            let epoch = *epoch;
            tracing::info!(epoch, votes = voters.len(), "Failover election won");
            promote(st, epoch, now);
        }
    }
}

/// Takes my primary's slots and becomes a primary (Redis's `failoverReplaceYourMaster`).
pub fn promote(st: &mut ClusterState, epoch: u64, now: u64) {
    let Some(old) = st.me().primary else { return };
    let my_idx = st.my_idx();
    let slots: Vec<u16> = st
        .node(&old)
        .map(|n| n.slots.iter().collect())
        .unwrap_or_default();
    {
        let me = st.me_mut();
        me.flags = (me.flags & !flag::SLAVE) | flag::MASTER;
        me.primary = None;
        if me.config_epoch < epoch {
            me.config_epoch = epoch;
        }
    }
    for s in slots {
        st.del_slot(s);
        st.add_slot(s, my_idx);
    }
    st.failover.manual = None;
    set(st, Election::Idle);
    st.todo.update_state = true;
    st.todo.topology = true;
    st.mark_save(true);
    reconcile_link(st);
    messages::broadcast_pong(st, now);
}

/// FAILOVER_AUTH_REQUEST from `sender`: grant the vote if the rules allow (one per epoch,
/// persisted before the reply; the primary FAIL unless FORCEACK; none for the same primary
/// within 2 x node-timeout; no slot claimed with an older configEpoch than its owner's).
pub fn on_request(st: &mut ClusterState, sender: &NodeId, h: &Header, now: u64) {
    let me = st.me();
    if me.is_replica() || me.numslots == 0 {
        return;
    }
    if h.current_epoch < st.current_epoch {
        tracing::info!(node_id = %super::node::id_str(sender), "Failover auth denied: request epoch is older");
        return;
    }
    if st.last_vote_epoch == st.current_epoch {
        tracing::info!(node_id = %super::node::id_str(sender), epoch = st.current_epoch, "Failover auth denied: already voted in this epoch");
        return;
    }
    let Some(node) = st.node(sender) else { return };
    let Some(primary_id) = node.primary.filter(|_| node.is_replica()) else {
        return;
    };
    let Some(primary) = st.node(&primary_id) else {
        return;
    };
    let force = h.mflags[0] & mflags0::FORCEACK != 0;
    if !primary.has(flag::FAIL) && !force {
        tracing::info!(node_id = %super::node::id_str(sender), "Failover auth denied: its primary is up");
        return;
    }
    if now.saturating_sub(primary.voted_time) < st.settings.node_timeout * 2 {
        tracing::info!(node_id = %super::node::id_str(sender), "Failover auth denied: voted for a replica of this primary recently");
        return;
    }
    let stale = (0..crate::slot::SLOTS as u16)
        .filter(|&j| super::wire::slot_bit(&h.myslots, j))
        .any(|j| st.owner(j).is_some_and(|o| o.config_epoch > h.config_epoch));
    if stale {
        tracing::info!(node_id = %super::node::id_str(sender), "Failover auth denied: a claimed slot has a newer owner");
        return;
    }
    st.last_vote_epoch = st.current_epoch;
    if let Some(p) = st.node_mut(&primary_id) {
        p.voted_time = now;
    }
    // The vote is on disk before the ACK leaves: the save happens when the state is unlocked,
    // before the bus task (single-threaded) can write the frame.
    st.mark_save(true);
    let Some(link) = st.node(sender).and_then(|n| n.link.or(n.inbound_link)) else {
        return;
    };
    let frame = super::wire::encode(&Message {
        header: messages::my_header(st, MsgType::FailoverAuthAck),
        body: Body::Empty,
    });
    st.send(link, MsgType::FailoverAuthAck as usize, frame);
    tracing::info!(node_id = %super::node::id_str(sender), epoch = st.current_epoch, "Failover auth granted");
}

/// MFSTART from my replica `sender`: pause writes and announce my offset to it.
pub fn on_mfstart(st: &mut ClusterState, sender: &NodeId, now: u64) {
    let mine = st
        .node(sender)
        .is_some_and(|n| n.is_replica() && n.primary == Some(st.myself));
    if !mine || st.me().is_replica() {
        return;
    }
    let end = now + MANUAL_TIMEOUT_MS;
    st.failover.serving = Some((*sender, now, end));
    st.failover.pause_until = Some(now + MANUAL_TIMEOUT_MS * MANUAL_PAUSE_MULT);
    tracing::info!(node_id = %super::node::id_str(sender), "Manual failover requested by replica");
}

/// A PING/PONG from my primary with the PAUSED flag: its final offset for a manual failover.
pub fn on_paused_offset(st: &mut ClusterState, sender: &NodeId, h: &Header) {
    if h.mflags[0] & mflags0::PAUSED == 0 || st.me().primary != Some(*sender) {
        return;
    }
    if let Some(m) = st.failover.manual.as_mut() {
        if m.primary_offset.is_none() {
            tracing::info!(
                offset = h.offset,
                "Received replication offset for paused primary manual failover"
            );
        }
        m.primary_offset = Some(h.offset);
    }
}

/// Whether PINGs to `to` carry PAUSED and the final offset (a manual failover I serve; the
/// flag waits a moment after the pause so the offset includes writes already running).
pub fn paused_for(st: &ClusterState, to: &NodeId, now: u64) -> bool {
    st.failover
        .serving
        .is_some_and(|(r, since, _)| r == *to && now >= since + 200)
}

/// Makes the replication link follow `me.primary` (or nothing for a primary).
pub fn reconcile_link(st: &mut ClusterState) {
    let want = st
        .me()
        .primary
        .and_then(|p| st.node(&p))
        .filter(|p| !p.ip.is_empty() && p.port != 0)
        .map(|p| (p.ip.clone(), p.port));
    st.follow = (want != st.repl.following).then(|| match want {
        Some((ip, port)) => Follow::Replicate { ip, port },
        None => Follow::Primary,
    });
}

/// This node becomes a replica of `primary` (CLUSTER REPLICATE, or a primary that lost its last
/// slot to `primary`): its own slots are dropped.
pub fn set_my_primary(st: &mut ClusterState, primary: NodeId) {
    let mine: Vec<u16> = st.me().slots.iter().collect();
    for s in mine {
        st.del_slot(s);
    }
    if st.me().is_primary() {
        // A replica has no open slots (Redis's clusterCloseAllSlots).
        st.migration.reset();
    }
    let me = st.me_mut();
    me.flags = (me.flags & !(flag::MASTER | flag::MIGRATE_TO)) | flag::SLAVE;
    me.primary = Some(primary);
    st.failover.manual = None;
    st.todo.update_state = true;
    st.todo.topology = true;
    st.mark_save(true);
    reconcile_link(st);
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
