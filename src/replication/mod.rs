//! Replication, wire-compatible with Redis 7.0's PSYNC2: roles, replication IDs and offsets,
//! the stream fed from the dispatcher (`propagate`), serving replicas (`primary`: PSYNC
//! decisions, full sync from a snapshot, streaming, ACKs, WAIT) and following a primary
//! (`link`: handshake, transfer, loading, applying). Depends on `state` (the `Shared` value, the
//! store lock), `store` (snapshots, propagation queue, RDB codec), `persist` and `protocol`;
//! `server` and `commands` call in.
//!
//! Lock order: the store lock before `state` before `backlog`. The backlog is only appended to
//! while the store lock is held, so the stream is in execution order.
pub mod backlog;
pub mod failover;
pub mod fullsync;
pub mod link;
pub mod primary;
pub mod propagate;

use crate::state::Shared;
use backlog::Backlog;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::{watch, Notify};

/// Where the link to our primary stands (Redis's `repl_state`), for ROLE and INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Transfer,
    Loading,
    Connected,
}

impl LinkState {
    /// ROLE's name for it.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer | LinkState::Loading => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The primary this node replicates.
#[derive(Debug, Clone)]
pub struct PrimaryInfo {
    pub host: String,
    pub port: u16,
    pub link: LinkState,
    /// Unix ms of the last byte from the primary.
    pub last_io_ms: u64,
    /// Unix ms when the link went down (0 while up).
    pub down_since_ms: u64,
    /// Full-sync transfer progress (bytes; total -1 when streamed without a length).
    pub sync_total: i64,
    pub sync_read: u64,
}

/// Where a replica of this node stands (INFO's `slaveN:state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    WaitBgsave,
    SendBulk,
    Online,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub ip: String,
    pub port: u16,
    pub state: ReplicaState,
    pub ack_offset: u64,
    pub ack_ms: u64,
}

#[derive(Debug)]
pub struct ReplState {
    pub replid: String,
    /// The previous history's ID after a promotion, valid up to `second_offset - 1`.
    pub replid2: String,
    pub second_offset: i64,
    pub primary: Option<PrimaryInfo>,
    /// Connected replicas by client id.
    pub replicas: BTreeMap<u64, ReplicaInfo>,
    /// The database our primary's stream last selected: kept across a link drop, since a
    /// partial resync continues the stream where it was (Redis keeps the cached master).
    pub primary_db: usize,
    /// A coordinated failover (FAILOVER) in progress.
    pub failover: failover::State,
}

pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

pub fn random_replid() -> String {
    (0..40)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect()
}

#[derive(Debug, Default)]
pub struct Counters {
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

pub struct Replication {
    state: Mutex<ReplState>,
    backlog: Mutex<Backlog>,
    /// The backlog exists (mirrors `Backlog::active` for the request path).
    pub live: AtomicBool,
    /// The stream's end offset after each append: replica senders wait on it.
    pub fed: watch::Sender<u64>,
    /// A replica acknowledged an offset (WAIT waits on it).
    pub acked: Notify,
    /// Bumped whenever REPLICAOF changes the primary: a link of an older generation stops.
    pub generation: AtomicU64,
    pub counters: Counters,
    /// A WAIT asked replicas for their offsets since the last GETACK went out.
    pub want_ack: AtomicBool,
    /// min-replicas-to-write, mirrored by the cron for the write path.
    pub min_replicas: AtomicU64,
    /// This node follows a primary (mirrors `state.primary.is_some()` for the request path).
    pub role_replica: AtomicBool,
    /// How the primary's commands run on a replica: the server's dispatcher, installed at
    /// startup (replication sits below the server and cannot name it).
    pub apply: std::sync::OnceLock<ApplyFn>,
}

/// Executes one command for a client with the store locked (the reply is dropped).
pub type ApplyFn =
    fn(&Shared, &mut crate::store::Store, &mut crate::state::Client, &[bytes::Bytes]);

impl Replication {
    pub fn new(backlog_size: usize) -> Replication {
        Replication {
            state: Mutex::new(ReplState {
                replid: random_replid(),
                replid2: NO_REPLID.to_string(),
                second_offset: -1,
                primary: None,
                replicas: BTreeMap::new(),
                primary_db: 0,
                failover: failover::State::None,
            }),
            backlog: Mutex::new(Backlog::new(backlog_size)),
            live: AtomicBool::new(false),
            fed: watch::channel(0).0,
            acked: Notify::new(),
            generation: AtomicU64::new(0),
            counters: Counters::default(),
            want_ack: AtomicBool::new(false),
            role_replica: AtomicBool::new(false),
            min_replicas: AtomicU64::new(0),
            apply: std::sync::OnceLock::new(),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, ReplState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn backlog(&self) -> MutexGuard<'_, Backlog> {
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        self.backlog().end()
    }

    pub fn is_replica(&self) -> bool {
        self.state().primary.is_some()
    }

    /// Replicas whose last ACK is at least `offset`.
    pub fn acked_at_least(&self, offset: u64) -> usize {
        self.state()
            .replicas
            .values()
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }

    /// Replicas that acknowledged within `max_lag` seconds (min-replicas-to-write).
    pub fn good_replicas(&self, now_ms: u64, max_lag: u64) -> usize {
        self.state()
            .replicas
            .values()
            .filter(|r| {
                r.state == ReplicaState::Online && now_ms.saturating_sub(r.ack_ms) <= max_lag * 1000
            })
            .count()
    }

    /// Creates the backlog if it does not exist yet (a replica attaches, or this node follows a
    /// primary). Its offsets continue from `master_repl_offset`.
    pub fn ensure_backlog(&self) {
        let mut b = self.backlog();
        if !b.active {
            let end = b.end();
            b.reset(end);
            self.live.store(true, Relaxed);
        }
    }

    /// A new history begins (this node became a primary): the old ID stays valid up to the
    /// current offset, so replicas of the old primary continue partially (PSYNC2).
    pub fn shift_replid(&self) {
        let offset = self.offset();
        let mut st = self.state();
        st.replid2 = std::mem::replace(&mut st.replid, random_replid());
        st.second_offset = offset as i64 + 1;
        tracing::info!(
            replid = %st.replid,
            replid2 = %st.replid2,
            second_offset = st.second_offset,
            "Setting secondary replication ID"
        );
    }
}

/// Settings read from the config on each use.
pub fn config_u64(sh: &Shared, name: &str, default: u64) -> u64 {
    sh.config()
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn config_yes(sh: &Shared, name: &str) -> bool {
    sh.config().get(name) == Some("yes")
}

/// Writes are refused on a read-only replica, after a failed background save (MISCONF), and
/// without enough good replicas (min-replicas-to-write).
pub fn writes_allowed(sh: &Shared, now: u64) -> Result<(), crate::protocol::ErrorReply> {
    use crate::protocol::ErrorReply;
    if sh.repl.role_replica.load(Relaxed) && config_yes(sh, "replica-read-only") {
        return Err(ErrorReply::read_only_replica());
    }
    if crate::persist::writes_refused(sh) {
        return Err(ErrorReply::misconf());
    }
    if let Some(e) = crate::persist::aof::write_error(sh) {
        return Err(ErrorReply::aof_misconf(&e));
    }
    if !enough_replicas(sh, now) {
        return Err(ErrorReply::no_replicas());
    }
    Ok(())
}

/// min-replicas-to-write is met (or not configured, or this node is a replica).
pub fn enough_replicas(sh: &Shared, now: u64) -> bool {
    let min = sh.repl.min_replicas.load(Relaxed);
    if min == 0 || sh.repl.role_replica.load(Relaxed) {
        return true;
    }
    let lag = config_u64(sh, "min-replicas-max-lag", 10);
    lag == 0 || (sh.repl.good_replicas(now, lag) as u64) >= min
}

/// replica-serve-stale-data no, with the link to the primary down.
pub fn stale_refused(sh: &Shared) -> bool {
    if !sh.repl.role_replica.load(Relaxed) {
        return false;
    }
    let up = sh
        .repl
        .state()
        .primary
        .as_ref()
        .is_some_and(|p| p.link == LinkState::Connected);
    !up && sh.config().get("replica-serve-stale-data") == Some("no")
}
