//! Per-connection client state, owned by the connection task and handed to handlers.
use super::ClientHandle;
use crate::protocol::RespVersion;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command.
    Skip,
    /// Set by CLIENT REPLY SKIP; becomes `Skip` after the CLIENT command itself.
    SkipNext,
}

/// Something the connection must do after the current command, outside the store lock.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// Flush pending replies and close (QUIT, CLIENT KILL of oneself, protocol errors).
    Close,
    /// Turn this connection into a MONITOR feed.
    Monitor,
    /// Stop the server (SHUTDOWN).
    Shutdown,
    /// Wait for one of `keys` to change, then run the command again; on `deadline_ms`
    /// (unix ms, 0 = never) reply `on_timeout` instead (BLPOP and friends).
    Block {
        keys: Vec<Bytes>,
        deadline_ms: u64,
        on_timeout: crate::protocol::Reply,
        /// The command to run on wake-ups when it differs from the one received (XREAD's `$`
        /// stands for the last ID at the time it blocked).
        retry: Option<Vec<Bytes>>,
    },
    /// Run a MIGRATE's network part outside the store lock, then finish it under the lock
    /// and reply (commands/migrate.rs).
    Migrate(Box<crate::migrate::Pending>),
    /// This connection is a replica now (PSYNC/SYNC): hand the socket to replication.
    Replica(crate::replication::primary::Plan),
    /// WAIT: reply with how many replicas acknowledged `offset`, once `replicas` did or at
    /// `deadline_ms` (0 = never).
    Wait {
        offset: u64,
        replicas: usize,
        deadline_ms: u64,
    },
}

/// An open MULTI: the queued commands and whether one of them was refused (EXECABORT).
#[derive(Debug, Default)]
pub struct Multi {
    pub queue: Vec<Vec<Bytes>>,
    pub failed: bool,
}

/// This connection's subscriptions and its message queue.
pub struct Subscriptions {
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
    pub shards: BTreeSet<Bytes>,
}

impl Subscriptions {
    /// Channel + pattern subscriptions (the count SUBSCRIBE/PSUBSCRIBE replies carry).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

pub struct Client {
    pub id: u64,
    pub handle: Arc<ClientHandle>,
    pub db: usize,
    pub resp: RespVersion,
    /// Authenticated by AUTH/HELLO, or let in by a default user without password when it
    /// connected. Whether it must authenticate is decided per command (`needs_auth`).
    pub authenticated: bool,
    /// The ACL user the client acts as.
    pub user: crate::acl::Session,
    pub name: Option<Bytes>,
    pub lib_name: Option<String>,
    pub lib_ver: Option<String>,
    pub reply_mode: ReplyMode,
    pub no_evict: bool,
    pub no_touch: bool,
    pub after: Option<After>,
    pub multi: Option<Multi>,
    /// A transaction was discarded without the store at hand (an EXEC refused while a script
    /// was busy): its WATCHes go with the next command.
    pub unwatch_pending: bool,
    /// MONITOR mode: the connection streams every executed command; its own commands may
    /// not touch the keyspace (Redis marks monitors as replicas). RESET ends it.
    pub monitor: bool,
    /// Arguments of the current command that MONITOR and SLOWLOG must not show (bit i:
    /// argument i), set by its handler (Ctx::redact).
    pub redacted: u64,
    /// Invalidations for this client caused before its command ran (keys evicted to make
    /// room, the tracking table trimmed): they go out before its reply, as in Redis.
    pub early_invalidations: Vec<Option<Vec<Bytes>>>,
    /// True while EXEC runs the queued commands (blocking commands must not block then).
    pub in_exec: bool,
    /// The client scripts run their commands as (MONITOR shows it as `lua`; the script
    /// checked the command already, scripting/run.rs).
    pub script: bool,
    /// For the script client: the time its commands see (Redis freezes the clock for a
    /// script's whole run, so a key cannot expire half-way).
    pub time_snapshot: Option<u64>,
    /// For the script client: the caller it acts for (tracking: NOLOOP and the keys a
    /// script's reads make the caller track) and the keys the caller declared.
    pub acting_for: Option<u64>,
    pub script_keys: Vec<bytes::Bytes>,
    /// Present once the client has subscribed to something.
    pub sub: Option<Subscriptions>,
    /// CLIENT TRACKING is on (its options live in the store's tracking table).
    pub tracking: bool,
    /// CLIENT CACHING yes/no, for the next command only.
    pub caching: Option<bool>,
    /// True while a blocked command runs again after a wake-up.
    pub block_retry: bool,
    /// Cluster: ASKING was sent (serves an importing slot for the next command).
    pub asking: bool,
    /// Cluster: READONLY mode (reads served by a replica of the slot's primary).
    pub readonly: bool,
    /// Cluster: this connection's copy of the routing snapshot, with its generation.
    pub topology: Option<(u64, std::sync::Arc<crate::cluster::topology::Topology>)>,
    /// RESTORE payloads of the current batch decoded before the store was locked (payload,
    /// value or error), taken by the RESTORE that carries the same payload.
    /// This client is the link to our primary (its commands come from the replication
    /// stream) or the AOF loader: an "obey" client, never refused or redirected.
    pub primary_link: bool,
    /// The replication offset after this client's last write (WAIT waits for it).
    pub woff: u64,
    /// What a replica told us with REPLCONF (before PSYNC).
    pub replica_hello: Option<crate::replication::primary::Hello>,
    pub prepared: Vec<(
        Bytes,
        Result<crate::store::value::Value, crate::protocol::ErrorReply>,
    )>,
}

impl Client {
    /// Redis's authRequired: not authenticated while the default user wants a password.
    pub fn needs_auth(&self, acl: &crate::acl::Acl) -> bool {
        !self.authenticated && acl.auth_required()
    }

    /// True while subscribed to at least one channel, pattern or shard channel.
    pub fn subscribed(&self) -> bool {
        self.sub
            .as_ref()
            .is_some_and(|s| s.count() + s.shards.len() > 0)
    }

    /// The subscriptions, created on first use.
    pub fn subs(&mut self) -> &mut Subscriptions {
        self.sub.get_or_insert_with(|| Subscriptions {
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            shards: BTreeSet::new(),
        })
    }

    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Client {
        Client {
            id: handle.id,
            handle,
            db: 0,
            resp: RespVersion::Resp2,
            authenticated,
            user: crate::acl::Session::default(),
            name: None,
            lib_name: None,
            lib_ver: None,
            reply_mode: ReplyMode::On,
            no_evict: false,
            no_touch: false,
            after: None,
            multi: None,
            unwatch_pending: false,
            monitor: false,
            redacted: 0,
            early_invalidations: Vec::new(),
            in_exec: false,
            script: false,
            time_snapshot: None,
            acting_for: None,
            script_keys: Vec::new(),
            sub: None,
            tracking: false,
            caching: None,
            block_retry: false,
            prepared: Vec::new(),
            primary_link: false,
            woff: 0,
            replica_hello: None,
            asking: false,
            readonly: false,
            topology: None,
        }
    }
}
