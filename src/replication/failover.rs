//! Standalone coordinated failover (FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]), as
//! Redis 7.0: the primary pauses writes, waits until a replica (or the one named) acknowledged
//! its whole stream, then becomes that replica's replica with `PSYNC <replid> <offset> FAILOVER`,
//! which the replica takes as the order to promote itself before answering (+CONTINUE, since
//! its new history continues ours). No acknowledged write is lost. One enum, advanced by
//! `tick` (every 100 ms) and the link's PSYNC outcome, every transition logged by `set`.
use super::link;
use crate::state::{now_ms, Pause, Shared};
use crate::store::Store;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    None,
    /// Writes paused; waiting for a replica (`target`, or any) to acknowledge everything.
    WaitForSync {
        target: Option<(String, u16)>,
        /// Unix ms when waiting ends (0 = never): abort, or with `force` fail over anyway.
        end_ms: u64,
        force: bool,
    },
    /// Following `target` with PSYNC ... FAILOVER; done once it answers.
    InProgress { target: (String, u16) },
}

impl State {
    /// INFO's `master_failover_state`.
    pub fn name(&self) -> &'static str {
        match self {
            State::None => "no-failover",
            State::WaitForSync { .. } => "waiting-for-sync",
            State::InProgress { .. } => "failover-in-progress",
        }
    }
}

fn set(sh: &Shared, to: State) {
    let mut st = sh.repl.state();
    if st.failover != to {
        tracing::info!(
            from = st.failover.name(),
            to = to.name(),
            ?to,
            "coordinated failover"
        );
        st.failover = to;
    }
}

/// FAILOVER accepted: pause writes and start waiting (the caller validated the request and
/// holds the store lock).
pub fn start(sh: &Shared, target: Option<(String, u16)>, timeout_ms: u64, force: bool) {
    let now = now_ms();
    sh.set_pause(Pause {
        until_ms: u64::MAX / 2,
        write_only: true,
    });
    set(
        sh,
        State::WaitForSync {
            target,
            end_ms: if timeout_ms == 0 { 0 } else { now + timeout_ms },
            force,
        },
    );
    // Replicas acknowledge the GETACK itself: once one does, it has everything.
    super::propagate::feed_raw(sh, &["REPLCONF", "GETACK", "*"]);
}

/// Back to normal: writes resume; a failover in progress returns this node to primary. The
/// caller holds the store lock.
pub fn abort(sh: &Shared, store: &mut Store, why: &str) {
    let was = sh.repl.state().failover.clone();
    if was == State::None {
        return;
    }
    tracing::warn!(reason = why, "FAILOVER aborted");
    if matches!(was, State::InProgress { .. }) {
        link::stop_following(sh, store);
    }
    clear(sh);
}

/// The failover ended (the target answered our PSYNC, or it was aborted).
pub fn clear(sh: &Shared) {
    set(sh, State::None);
    sh.set_pause(Pause::default());
}

/// Every 100 ms: time out, or hand over once a replica has acknowledged the whole stream.
pub fn tick(sh: &Arc<Shared>) {
    let State::WaitForSync {
        target,
        end_ms,
        force,
    } = sh.repl.state().failover.clone()
    else {
        return;
    };
    let now = now_ms();
    if end_ms != 0 && now >= end_ms {
        match (force, target) {
            (true, Some(t)) => {
                tracing::warn!(target = %format!("{}:{}", t.0, t.1), "FAILOVER time out exceeded, failing over");
                hand_over(sh, t);
            }
            _ => abort(
                sh,
                &mut sh.lock_store(),
                "Replica never caught up before timeout",
            ),
        }
        return;
    }
    let offset = sh.repl.offset();
    let synced = {
        let st = sh.repl.state();
        st.replicas
            .values()
            .filter(|r| r.state == super::ReplicaState::Online && r.ack_offset == offset)
            .map(|r| (r.ip.clone(), r.port))
            .find(|addr| target.as_ref().is_none_or(|t| t == addr))
    };
    if let Some(t) = synced {
        tracing::info!(target = %format!("{}:{}", t.0, t.1), "Failover target is synced, failing over");
        hand_over(sh, t);
    }
}

fn hand_over(sh: &Arc<Shared>, target: (String, u16)) {
    set(
        sh,
        State::InProgress {
            target: target.clone(),
        },
    );
    let mut store = sh.lock_store();
    link::follow(sh, &mut store, target.0, target.1);
}
