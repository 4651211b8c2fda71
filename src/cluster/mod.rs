//! Cluster mode (`cluster-enabled yes`): hash-slot ownership, routing, and the Redis 7.0
//! cluster bus that keeps nodes (slotcache or redis-server) in agreement.
//!
//! ```text
//!  wire/        bytes <-> typed bus messages (pure)
//!  node, state  what this node knows (ClusterState, one Mutex)      <- CLUSTER commands
//!  gossip       one received message -> state changes + replies     <- bus link tasks
//!  cron         every 100 ms: links, pings, PFAIL, cluster state    <- bus cron task
//!  failure, epoch, ownership   the rules gossip and cron apply
//!  messages     building PING/PONG/MEET/FAIL/UPDATE/PUBLISH frames
//!  nodes_conf   nodes.conf (and CLUSTER NODES text), saved atomically, locked
//!  topology     immutable routing snapshot, swapped after each change
//!  routing      per-command decision: serve, MOVED, ASK, CROSSSLOT, TRYAGAIN, CLUSTERDOWN
//!  form         --cluster-form: a tiny client that forms a cluster of primaries
//!  bus          tokio transport: listener, links, cron driver (the only async code here)
//! ```
//! Lock order: the store lock (held by commands) before `Cluster::state`, before
//! `Cluster::topology`. The bus never takes the store lock while holding the state lock: its
//! effects on the keyspace and on subscribers (`Effects`) are applied after releasing it.
pub mod bus;
pub mod cron;
pub mod epoch;
pub mod failover;
pub mod failure;
pub mod form;
pub mod gossip;
pub mod messages;
pub mod migration;
pub mod node;
pub mod nodes_conf;
pub mod ownership;
pub mod routing;
pub mod state;
#[cfg(test)]
mod test_support;
pub mod topology;
pub mod wire;

use bytes::Bytes;
use state::{ClusterState, Settings};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use topology::Topology;

pub struct Cluster {
    state: Mutex<ClusterState>,
    topology: RwLock<Arc<Topology>>,
    /// Bumped with every new snapshot: connections keep their own `Arc` and only re-read the
    /// shared one when this moved (a plain load per command instead of a lock and a shared
    /// refcount bounced between cores).
    generation: std::sync::atomic::AtomicU64,
    /// Held for the life of the process: one node per nodes.conf.
    _lock: std::fs::File,
    /// Wakes the cron early (after MEET, so the handshake starts at once).
    pub wake: tokio::sync::Notify,
    /// Notified after every new routing snapshot: blocked clients re-check their slot (MOVED
    /// or CLUSTERDOWN instead of waiting forever, as Redis's clusterRedirectBlockedClientIfNeeded).
    pub changed: tokio::sync::Notify,
}

/// What the bus changed outside the cluster state, applied by the host after unlocking.
#[derive(Debug, Default)]
pub struct Effects {
    pub publish: Vec<(bool, Bytes, Bytes)>,
    pub lost_slots: Vec<u16>,
    /// The routing snapshot changed since the cron last looked (shard channels re-checked).
    pub topology_changed: bool,
    /// The replication link must change (a promotion, CLUSTER REPLICATE, a lost shard).
    pub follow: Option<failover::Follow>,
    /// Writes pause until this unix ms (a manual failover this primary serves).
    pub pause_until: Option<u64>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty()
            && self.lost_slots.is_empty()
            && !self.topology_changed
            && self.follow.is_none()
            && self.pause_until.is_none()
    }
}

/// The state, locked; on drop it updates the cluster state, republishes the routing snapshot
/// and saves nodes.conf as the changes require (Redis's `clusterBeforeSleep`).
pub struct Locked<'a> {
    cluster: &'a Cluster,
    st: MutexGuard<'a, ClusterState>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = ClusterState;
    fn deref(&self) -> &ClusterState {
        &self.st
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut ClusterState {
        &mut self.st
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.cluster.finish(&mut self.st);
    }
}

impl Cluster {
    /// Locks nodes.conf, loads it (or starts a new node) and saves it back, as Redis does at
    /// startup. Errors carry Redis's messages.
    pub fn open(settings: Settings, now: u64) -> std::io::Result<Cluster> {
        let path = settings.config_file.clone();
        let lock = nodes_conf::lock(&path)?;
        let mut st = match nodes_conf::load(&path, settings.clone(), now)? {
            Some(st) => st,
            None => {
                let st = ClusterState::new(node::random_id(), settings, now);
                tracing::info!(node_id = %st.me().id_str(), "No cluster configuration found, I'm {}", st.me().id_str());
                st
            }
        };
        st.todo.topology = true;
        st.mark_save(true);
        let topo = Arc::new(Topology::build(&st));
        let cluster = Cluster {
            state: Mutex::new(st),
            topology: RwLock::new(topo),
            generation: std::sync::atomic::AtomicU64::new(1),
            _lock: lock,
            wake: tokio::sync::Notify::new(),
            changed: tokio::sync::Notify::new(),
        };
        drop(cluster.lock());
        Ok(cluster)
    }

    pub fn lock(&self) -> Locked<'_> {
        Locked {
            cluster: self,
            st: self.state.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// The current routing snapshot.
    pub fn topology(&self) -> Arc<Topology> {
        self.topology
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Refreshes a connection's cached snapshot if a newer one was published.
    pub fn refresh(&self, cache: &mut Option<(u64, Arc<Topology>)>) {
        let current = self.generation.load(std::sync::atomic::Ordering::Acquire);
        if cache.as_ref().is_none_or(|(g, _)| *g != current) {
            *cache = Some((current, self.topology()));
        }
    }

    fn finish(&self, st: &mut ClusterState) {
        if st.todo.update_state {
            failure::update_state(st, crate::util::now_ms());
        }
        if std::mem::take(&mut st.todo.topology) {
            let t = Arc::new(Topology::build(st));
            *self.topology.write().unwrap_or_else(|e| e.into_inner()) = t;
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            self.changed.notify_waiters();
        }
        if std::mem::take(&mut st.todo.save_config) {
            let fsync = std::mem::take(&mut st.todo.fsync_config);
            let path = st.settings.config_file.clone();
            if let Err(e) = nodes_conf::save(st, &path, fsync) {
                tracing::error!("Could not save cluster config {}: {e}", path.display());
            }
        }
    }

    /// Takes what the host must apply (pub/sub deliveries, keys of lost slots).
    pub fn take_effects(st: &mut ClusterState) -> Effects {
        Effects {
            publish: std::mem::take(&mut st.inbox),
            lost_slots: std::mem::take(&mut st.lost_slots),
            topology_changed: false,
            follow: st.follow.take(),
            pause_until: st.failover.pause_until.take(),
        }
    }
}
