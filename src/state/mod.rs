//! Shared server state: one `Shared` value behind an `Arc`, holding the config, the locked
//! store, the client registry, statistics and the slow log. No globals: everything hangs off
//! this value.
//!
//! Lock order: `store` before `config` before `slowlog`/`clients` internals. The store lock is
//! never held across an `.await`.
pub mod client;
pub mod clients;
pub mod persist;
pub mod pubsub;

pub use client::{After, Client, Multi, ReplyMode};
pub use clients::{ClientHandle, ClientRegistry};

use crate::config::Config;
use crate::observability::{slowlog::SlowLog, stats::Stats};
use crate::store::Store;
use bytes::Bytes;
use std::sync::{Mutex, RwLock};
use std::time::Instant;
use tokio::sync::{broadcast, Notify};

/// CLIENT PAUSE state. `Shared::pause_until` mirrors `until_ms` so the request path can check
/// for a pause with one atomic load.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pause {
    /// Unix ms until which clients are paused (0 = not paused).
    pub until_ms: u64,
    /// true: only write commands are paused (CLIENT PAUSE ... WRITE).
    pub write_only: bool,
}

pub struct Shared {
    pub config: RwLock<Config>,
    pub store: parking_lot::Mutex<Store>,
    pub clients: ClientRegistry,
    pub stats: Stats,
    pub slowlog: Mutex<SlowLog>,
    /// The latency monitor's events (LATENCY), its threshold kept in step by CONFIG SET.
    pub latency: crate::observability::latency::Monitor,
    /// MONITOR feed: formatted lines for every command executed.
    pub monitor: broadcast::Sender<Bytes>,
    /// Connections in MONITOR mode (checked per command instead of the channel's own count,
    /// which takes a lock).
    /// DEBUG PAUSE-CRON: the periodic work (active expiry ...) is suspended.
    pub cron_paused: std::sync::atomic::AtomicBool,
    /// Connections holding a command back while clients are paused (INFO blocked_clients
    /// counts them, as Redis counts its postponed clients).
    pub paused_clients: std::sync::atomic::AtomicUsize,
    pub monitors: std::sync::atomic::AtomicUsize,
    pub pubsub: pubsub::PubSub,
    pub pause: Mutex<Pause>,
    pub pause_until: std::sync::atomic::AtomicU64,
    pub unpaused: Notify,
    pub shutdown: Notify,
    pub started: Instant,
    pub run_id: String,
    /// slowlog-log-slower-than, mirrored here so the request path needs no config lock.
    pub slowlog_slower_than: std::sync::atomic::AtomicI64,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: std::sync::atomic::AtomicBool,
    /// DEBUG REPLYBUFFER RESIZING: the clients cron adapts reply buffers to their use.
    pub reply_buf_resizing: std::sync::atomic::AtomicBool,
    /// DEBUG REPLYBUFFER PEAK-RESET-TIME in ms (-1: never).
    pub reply_buf_peak_reset_ms: std::sync::atomic::AtomicI64,
    /// Port actually bound (port 0 picks a free one).
    pub bound_port: std::sync::atomic::AtomicU16,
    /// Cluster mode state (`cluster-enabled yes`), else None.
    pub cluster: Option<std::sync::Arc<crate::cluster::Cluster>>,
    /// Snapshot and loading state (RDB).
    pub persist: persist::PersistState,
    /// MIGRATE's cached connections to target nodes.
    pub migrate: crate::migrate::Cache,
    /// Replication: role, IDs, the stream's backlog, replicas.
    pub repl: crate::replication::Replication,
    /// Lua scripts and functions, and the state of a running script.
    pub scripting: crate::scripting::Scripting,
    /// Users, permissions and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// Generation of the client listeners: an accept loop ends when it moves on (CONFIG SET
    /// port/bind replaced its listener).
    pub listen_generation: tokio::sync::watch::Sender<u64>,
    /// Binds new client listeners for the config's `port` and `bind` and retires the old
    /// ones, returning the port bound (set by the server at startup).
    pub rebind: std::sync::OnceLock<RebindFn>,
    /// This value's own `Arc` (set once by `Shared::start`), for work that outlives a command.
    me: std::sync::OnceLock<std::sync::Weak<Shared>>,
}

pub use crate::util::now_ms;

/// Redis's default reply_buffer_peak_reset_time.
pub const REPLY_BUF_PEAK_RESET_MS: i64 = 5000;

pub type RebindFn = fn(&Shared, &Config) -> std::io::Result<u16>;

static COARSE_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The wall clock as of the last `tick_coarse_clock` (every 100 ms, by the metrics task), like
/// Redis's cached `server.unixtime`: for per-request bookkeeping that needs no precision (a
/// client's last interaction), so it costs no clock read.
pub fn coarse_now_ms() -> u64 {
    match COARSE_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => now_ms(),
        t => t,
    }
}

pub fn tick_coarse_clock() {
    COARSE_MS.store(now_ms(), std::sync::atomic::Ordering::Relaxed);
}

/// `args` with those whose bit is set in `mask` replaced by "(redacted)" (passwords: what
/// MONITOR and SLOWLOG show, as Redis's redactClientCommandArgument).
pub fn redact(args: &[Bytes], mask: u64) -> std::borrow::Cow<'_, [Bytes]> {
    if mask == 0 {
        return std::borrow::Cow::Borrowed(args);
    }
    let hidden = Bytes::from_static(b"(redacted)");
    std::borrow::Cow::Owned(
        args.iter()
            .enumerate()
            .map(|(i, a)| {
                if i < 64 && mask & (1 << i) != 0 {
                    hidden.clone()
                } else {
                    a.clone()
                }
            })
            .collect(),
    )
}

impl Shared {
    /// Sends one command to the MONITOR clients (when there are any): time, db, who sent it
    /// (`lua` for a script's commands) and its arguments, redacted where the handler said so.
    pub fn feed_monitor(&self, client: &Client, args: &[Bytes], now: u64) {
        if self.monitors.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let who = if client.script {
            "lua".to_string()
        } else {
            client.handle.addr.to_string()
        };
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            now / 1000,
            (now % 1000) * 1000,
            client.db,
            who
        );
        for a in redact(args, client.redacted).iter() {
            line.push(' ');
            line.push_str(&crate::util::repr(a));
        }
        line.push_str("\r\n");
        let _ = self.monitor.send(Bytes::from(line));
    }

    pub fn new(
        config: Config,
        cluster: Option<std::sync::Arc<crate::cluster::Cluster>>,
        acl: crate::acl::Acl,
    ) -> Shared {
        let command_count = acl.catalog.len();
        let mut store = Store::new(config.hot.databases, config.eviction());
        store.events.flags = config.hot.notify_flags;
        store.tracking.max_keys = config.num("tracking-table-max-keys") as usize;
        let slowlog = SlowLog::new(config.hot.slowlog_max_len);
        let (monitor, _) = broadcast::channel(4096);
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
            .collect();
        let slower_than = config.hot.slowlog_slower_than;
        let latency_threshold = config.num("latency-monitor-threshold").max(0) as u64;
        let backlog_size = config
            .get("repl-backlog-size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 20);
        Shared {
            config: RwLock::new(config),
            store: parking_lot::Mutex::new(store),
            stats: Stats::new(command_count),
            clients: ClientRegistry::default(),
            slowlog: Mutex::new(slowlog),
            monitor,
            monitors: Default::default(),
            cron_paused: Default::default(),
            paused_clients: Default::default(),
            pubsub: pubsub::PubSub::default(),
            pause: Mutex::new(Pause::default()),
            pause_until: Default::default(),
            unpaused: Notify::new(),
            shutdown: Notify::new(),
            started: Instant::now(),
            run_id,
            bound_port: Default::default(),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            reply_buf_resizing: std::sync::atomic::AtomicBool::new(true),
            reply_buf_peak_reset_ms: std::sync::atomic::AtomicI64::new(REPLY_BUF_PEAK_RESET_MS),
            slowlog_slower_than: std::sync::atomic::AtomicI64::new(slower_than),
            latency: crate::observability::latency::Monitor::new(latency_threshold),
            cluster,
            persist: persist::PersistState::new(now_ms() / 1000),
            migrate: Default::default(),
            repl: crate::replication::Replication::new(backlog_size),
            scripting: Default::default(),
            acl,
            listen_generation: tokio::sync::watch::Sender::new(0),
            rebind: std::sync::OnceLock::new(),
            me: std::sync::OnceLock::new(),
        }
    }

    /// Wraps the value in its `Arc` and remembers it (see `arc`).
    pub fn start(self) -> std::sync::Arc<Shared> {
        let sh = std::sync::Arc::new(self);
        let _ = sh.me.set(std::sync::Arc::downgrade(&sh));
        sh
    }

    /// The `Arc` this value lives in (for tasks a command starts).
    pub fn arc(&self) -> std::sync::Arc<Shared> {
        self.me
            .get()
            .and_then(|w| w.upgrade())
            .expect("Shared::start was called")
    }

    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The keyspace lock (parking_lot: no poisoning; a panicking command is contained by the
    /// dispatcher, and connections need its timed wait, `lock_store_unless_script`).
    ///
    /// While a Lua script runs it holds this lock for its whole run (scripting/mod.rs): a
    /// task that must wait then hands its worker to the runtime (`block_in_place`), so the
    /// bus, cron and the other connections keep running. Connections wait for scripts on
    /// `scripting.run` instead (server/busy.rs).
    pub fn lock_store(&self) -> parking_lot::MutexGuard<'_, Store> {
        if let Some(g) = self.store.try_lock() {
            return g;
        }
        let multi_thread = crate::util::on_multi_thread_runtime();
        if !multi_thread {
            return self.store.lock();
        }
        // Wait in short slices: a script may take the lock just before we ask and only then
        // be marked running. Once it is, this worker hands its other tasks over
        // (block_in_place) before waiting on, so SCRIPT KILL still finds a free worker; a
        // plain lock() here left both workers stuck behind an endless script.
        loop {
            if self.scripting.run.running() {
                return tokio::task::block_in_place(|| self.store.lock());
            }
            if let Some(g) = self.store.try_lock_for(std::time::Duration::from_millis(5)) {
                return g;
            }
        }
    }

    /// The store lock for a connection's batch, or None once a script runs (the connection
    /// then waits for it without the lock, server/busy.rs). Waits in short timed slices so a
    /// script that starts while we wait is noticed.
    pub fn lock_store_unless_script(&self) -> Option<parking_lot::MutexGuard<'_, Store>> {
        loop {
            if self.scripting.run.running() {
                return None;
            }
            if let Some(g) = self.store.try_lock_for(std::time::Duration::from_millis(5)) {
                return Some(g);
            }
        }
    }

    /// Bytes currently allocated by the process (the counting allocator); used memory is this
    /// less the store's reusable space (`Store::used_memory`).
    pub fn allocated(&self) -> usize {
        crate::observability::alloc::allocated()
    }

    /// The current pause, if one is in force at `now`.
    pub fn pause_state(&self, now: u64) -> Option<Pause> {
        if self.pause_until.load(std::sync::atomic::Ordering::Relaxed) <= now {
            return None;
        }
        let p = *self.pause.lock().unwrap_or_else(|e| e.into_inner());
        (p.until_ms > now).then_some(p)
    }

    pub fn set_pause(&self, p: Pause) {
        *self.pause.lock().unwrap_or_else(|e| e.into_inner()) = p;
        self.pause_until
            .store(p.until_ms, std::sync::atomic::Ordering::Relaxed);
        if p.until_ms == 0 {
            self.unpaused.notify_waiters();
        }
    }
}
