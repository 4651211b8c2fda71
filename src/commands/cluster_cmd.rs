//! CLUSTER subcommands that change the cluster state, besides slot assignment (in
//! `cluster_slots`): MEET, FORGET, RESET, SET-CONFIG-EPOCH, BUMPEPOCH, SAVECONFIG, REPLICATE,
//! FAILOVER; the key helpers KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT, COUNT-FAILURE-REPORTS;
//! and the per-connection READONLY, READWRITE and ASKING. The read-only views (INFO, NODES, SLOTS, SHARDS, LINKS, REPLICAS, MYID,
//! MYSHARDID, HELP) live in `cluster_info`.
//!
//! Replies, error texts and the order of checks follow Redis 7.0.15's `clusterCommand`: every
//! one of these answers "cluster support disabled" when cluster mode is off (HELP and KEYSLOT
//! included, as in Redis). Handlers parse, take `Cluster::lock()` once and call a rule function
//! on `ClusterState` (unit-tested in `cluster_cmd_tests.rs`, without a server); the lock guard's drop updates the
//! cluster state, republishes routing and saves nodes.conf as `st.todo` asks. The store is
//! already locked by the dispatcher, which is the documented order (store, then cluster state).
//!
//! Helpers every CLUSTER handler shares (the cluster or Redis's error, the state-change marks)
//! are in `cluster_common`.
use super::cluster_common::{changed, cluster_of, drop_unserved_shard_channels};
use super::cluster_slots::unassign;
use super::{int_arg, is, Ctx};
use crate::cluster::node::{self, flag, Node, NodeId};
use crate::cluster::state::ClusterState;
use crate::cluster::{epoch, failure, nodes_conf};
use crate::protocol::{ErrorReply, Reply};
use crate::slot::SLOTS;
use crate::util::num::parse_i64;
use bytes::Bytes;
use std::net::{Ipv4Addr, Ipv6Addr};

type R = Result<Reply, ErrorReply>;

/// How long a FORGET keeps a node from being re-added by gossip (`CLUSTER_BLACKLIST_TTL`).
pub const FORGET_BAN_MS: u64 = 60_000;
/// Default distance from the client port to the bus port (`CLUSTER_PORT_INCR`).
const PORT_INCR: i64 = 10_000;

// ---------------------------------------------------------------------------------------------
// MEET / FORGET / RESET
// ---------------------------------------------------------------------------------------------

/// `inet_pton` + `inet_ntop`: the address in its canonical text, or None if it is neither an
/// IPv4 dotted quad nor an IPv6 address. glibc prints IPv4-compatible IPv6 addresses
/// (`::a.b.c.d`) in dotted form, where Rust prints hex, hence the special case.
pub(crate) fn normalize_ip(ip: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(crate::util::cstr::until_nul(ip)).ok()?;
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        return Some(v4.to_string());
    }
    let v6 = s.parse::<Ipv6Addr>().ok()?;
    let w = v6.segments();
    if w[..6] == [0; 6] && w[6] != 0 {
        let o = v6.octets();
        return Some(format!("::{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
    }
    Some(v6.to_string())
}

/// Redis's `clusterStartHandshake`: Err(()) for an invalid address or port (EINVAL); Ok(false)
/// when a handshake with that address is already under way; Ok(true) when a new handshake
/// node (random name, HANDSHAKE|MEET) was added for the bus to connect to.
pub(crate) fn start_handshake(
    st: &mut ClusterState,
    ip: &[u8],
    port: i32,
    cport: i32,
    now: u64,
) -> Result<bool, ()> {
    let ip = normalize_ip(ip).ok_or(())?;
    let valid = 1..=65535;
    if !valid.contains(&port) || !valid.contains(&cport) {
        return Err(());
    }
    let (port, cport) = (port as u16, cport as u16);
    let in_progress = st.nodes.iter().any(|n| {
        n.in_handshake() && n.ip.eq_ignore_ascii_case(&ip) && n.port == port && n.cport == cport
    });
    if in_progress {
        return Ok(false);
    }
    let mut n = Node::new(node::random_id(), flag::HANDSHAKE | flag::MEET, now);
    n.ip = ip;
    n.port = port;
    n.cport = cport;
    st.add_node(n);
    Ok(true)
}

/// CLUSTER MEET <ip> <port> [<bus-port>]
pub fn cluster_meet(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    if a.len() > 5 {
        return Err(ErrorReply::subcommand_syntax(&a[1], "cluster"));
    }
    let port = parse_i64(&a[3]).ok_or_else(|| ErrorReply::cluster_meet_port(&a[3]))?;
    let cport = match a.get(4) {
        Some(c) => parse_i64(c).ok_or_else(|| ErrorReply::cluster_meet_bus_port(c))?,
        None => port.wrapping_add(PORT_INCR),
    };
    // Redis passes the long longs to `int` parameters: out-of-range values wrap.
    let started = start_handshake(
        &mut cluster.lock(),
        &a[2],
        port as i32,
        cport as i32,
        ctx.now_ms,
    )
    .map_err(|()| ErrorReply::cluster_meet_address(&a[2], &a[3]))?;
    if started {
        cluster.wake.notify_one();
    }
    Ok(Reply::Ok)
}

/// Redis 7.0's FORGET rules: not myself, not my primary; the node is banned from gossip for a
/// minute and removed.
pub(crate) fn forget_node(st: &mut ClusterState, name: &[u8], now: u64) -> Result<(), ErrorReply> {
    let id = st
        .node_by_name(name)
        .map(|n| n.id)
        .ok_or_else(|| ErrorReply::cluster_unknown_node(name))?;
    let me = st.me();
    if id == me.id {
        return Err(ErrorReply::cluster_forget_myself());
    }
    if me.is_replica() && me.primary == Some(id) {
        return Err(ErrorReply::cluster_forget_my_primary());
    }
    st.blacklist.retain(|_, until| *until > now);
    st.blacklist.insert(id, now + FORGET_BAN_MS);
    st.del_node(&id);
    changed(st);
    Ok(())
}

pub fn cluster_forget(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    forget_node(&mut cluster.lock(), &a[2], ctx.now_ms)?;
    Ok(Reply::Ok)
}

/// Redis's `clusterReset`: a replica becomes a primary; slots, migration marks and every
/// other node are dropped; HARD also zeroes the epochs and takes a new node name (and shard
/// id). Returns whether we were a replica (the caller then empties the keyspace).
pub(crate) fn reset_node(st: &mut ClusterState, hard: bool) -> bool {
    let was_replica = st.me().is_replica();
    if was_replica {
        let me = st.me_mut();
        me.flags = (me.flags & !flag::SLAVE) | flag::MASTER;
        me.primary = None;
    }
    st.migration.reset();
    st.todo.topology = true;
    for slot in 0..SLOTS as u16 {
        unassign(st, slot);
    }
    let me = st.myself;
    let others: Vec<NodeId> = st
        .nodes
        .iter()
        .map(|n| n.id)
        .filter(|id| *id != me)
        .collect();
    for id in &others {
        st.del_node(id);
    }
    if hard {
        st.current_epoch = 0;
        st.last_vote_epoch = 0;
        st.me_mut().config_epoch = 0;
        tracing::info!("configEpoch set to 0 via CLUSTER RESET HARD");
        let new = node::random_id();
        st.rename_node(&me, new);
        st.myself = new;
        st.me_mut().shard_id = node::random_id();
        tracing::info!(node_id = %node::id_str(&new), "Node hard reset, now I'm {}", node::id_str(&new));
    }
    changed(st);
    // Redis's clusterReset persists with fsync.
    st.mark_save(true);
    was_replica
}

/// CLUSTER RESET [HARD|SOFT]
pub fn cluster_reset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let hard = match a.get(2) {
        _ if a.len() > 3 => return Err(ErrorReply::subcommand_syntax(&a[1], "cluster")),
        None => false,
        Some(w) if is(w, "hard") => true,
        Some(w) if is(w, "soft") => false,
        Some(_) => return Err(ErrorReply::syntax()),
    };
    let mut st = cluster.lock();
    if st.me().is_primary() && !ctx.store.db(ctx.db()).is_empty() {
        return Err(ErrorReply::cluster_reset_with_keys());
    }
    let was_replica = reset_node(&mut st, hard);
    drop(st);
    if was_replica {
        ctx.store.flush(None, false);
    }
    drop_unserved_shard_channels(ctx, cluster);
    Ok(Reply::Ok)
}

// ---------------------------------------------------------------------------------------------
// Epochs, SAVECONFIG, REPLICATE, COUNT-FAILURE-REPORTS
// ---------------------------------------------------------------------------------------------

/// SET-CONFIG-EPOCH: only on a node that knows nobody else and has no configEpoch yet.
pub(crate) fn apply_config_epoch(st: &mut ClusterState, epoch: i64) -> Result<(), ErrorReply> {
    if epoch < 0 {
        return Err(ErrorReply::cluster_invalid_epoch(epoch));
    }
    if st.nodes.len() > 1 {
        return Err(ErrorReply::cluster_epoch_others_known());
    }
    if st.me().config_epoch != 0 {
        return Err(ErrorReply::cluster_epoch_nonzero());
    }
    let epoch = epoch as u64;
    st.me_mut().config_epoch = epoch;
    tracing::info!(
        epoch,
        "configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH"
    );
    st.current_epoch = st.current_epoch.max(epoch);
    changed(st);
    Ok(())
}

pub fn cluster_set_config_epoch(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let epoch = int_arg(&a[2])?;
    apply_config_epoch(&mut cluster.lock(), epoch)?;
    Ok(Reply::Ok)
}

/// CLUSTER BUMPEPOCH: `+BUMPED <epoch>` or `+STILL <epoch>`.
pub fn cluster_bumpepoch(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let (bumped, epoch) = epoch::bump(&mut cluster.lock());
    let word = if bumped { "BUMPED" } else { "STILL" };
    Ok(Reply::StatusOwned(format!("{word} {epoch}")))
}

/// CLUSTER SAVECONFIG: writes nodes.conf now, with fsync.
pub fn cluster_saveconfig(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let mut st = cluster.lock();
    let path = st.settings.config_file.clone();
    nodes_conf::save(&st, &path, true)
        .map_err(|e| ErrorReply::cluster_save_config(&crate::util::strerror(&e)))?;
    st.todo.save_config = false;
    st.todo.fsync_config = false;
    Ok(Reply::Ok)
}

/// REPLICATE's preconditions, in Redis's order; Ok(()) means Redis would now replicate.
pub(crate) fn check_replicate(
    st: &ClusterState,
    name: &[u8],
    db_empty: bool,
) -> Result<(), ErrorReply> {
    let n = st
        .node_by_name(name)
        .ok_or_else(|| ErrorReply::cluster_unknown_node(name))?;
    if n.is_myself() {
        return Err(ErrorReply::cluster_replicate_myself());
    }
    if n.is_replica() {
        return Err(ErrorReply::cluster_replicate_replica());
    }
    let me = st.me();
    if me.is_primary() && (me.numslots != 0 || !db_empty) {
        return Err(ErrorReply::cluster_replicate_not_empty());
    }
    Ok(())
}

/// CLUSTER REPLICATE <node-id>: this node becomes a replica of that primary (the replication
/// link follows once the state is unlocked).
pub fn cluster_replicate(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let db_empty = ctx.store.db(0).is_empty();
    let mut st = cluster.lock();
    check_replicate(&st, &a[2], db_empty)?;
    let id = st.node_by_name(&a[2]).expect("checked").id;
    crate::cluster::failover::set_my_primary(&mut st, id);
    cluster.wake.notify_one();
    Ok(Reply::Ok)
}

/// CLUSTER FAILOVER's checks, in Redis's order (`force` also for TAKEOVER); Ok(()) means
/// Redis would now start the failover.
pub(crate) fn check_failover(st: &ClusterState, force: bool) -> Result<(), ErrorReply> {
    let me = st.me();
    if me.is_primary() {
        return Err(ErrorReply::cluster_failover_on_primary());
    }
    let primary = me
        .primary
        .and_then(|p| st.node(&p))
        .ok_or_else(ErrorReply::cluster_failover_primary_unknown)?;
    if !force && (primary.has(flag::FAIL) || primary.link.is_none()) {
        return Err(ErrorReply::cluster_failover_primary_down());
    }
    Ok(())
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER]: Redis's refusals, then TAKEOVER promotes at once and
/// the others start a manual failover (cluster/failover.rs).
pub fn cluster_failover(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let force = match a.get(2) {
        _ if a.len() > 3 => return Err(ErrorReply::subcommand_syntax(&a[1], "cluster")),
        None => false,
        Some(w) if is(w, "force") || is(w, "takeover") => true,
        Some(_) => return Err(ErrorReply::syntax()),
    };
    let mut st = cluster.lock();
    check_failover(&st, force)?;
    let now = ctx.now_ms;
    let takeover = a.get(2).is_some_and(|w| is(w, "takeover"));
    if takeover {
        // No vote: a new epoch of my own, and my primary's slots (Redis's
        // clusterBumpConfigEpochWithoutConsensus + failoverReplaceYourMaster).
        st.current_epoch += 1;
        let epoch = st.current_epoch;
        st.me_mut().config_epoch = epoch;
        tracing::warn!(epoch, "Taking over the primary (CLUSTER FAILOVER TAKEOVER)");
        crate::cluster::failover::promote(&mut st, epoch, now);
    } else {
        st.failover.manual = Some(crate::cluster::failover::Manual {
            end: now + crate::cluster::failover::MANUAL_TIMEOUT_MS,
            force,
            primary_offset: None,
        });
        if !force {
            let link = st
                .me()
                .primary
                .and_then(|p| st.node(&p))
                .and_then(|p| p.link);
            if let Some(l) = link {
                crate::cluster::messages::send_mfstart(&mut st, l);
            }
        }
        tracing::info!(force, "Manual failover user request accepted.");
    }
    drop(st);
    cluster.wake.notify_one();
    Ok(Reply::Ok)
}

/// CLUSTER COUNT-FAILURE-REPORTS <node-id>: reports still valid (2 x node-timeout).
pub fn cluster_count_failure_reports(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let mut st = cluster.lock();
    let validity = st.settings.node_timeout * failure::FAIL_REPORT_VALIDITY_MULT;
    let n = st
        .nodes
        .iter_mut()
        .find(|n| n.id[..] == *a[2])
        .ok_or_else(|| ErrorReply::cluster_unknown_node(&a[2]))?;
    Ok(Reply::Int(n.valid_fail_reports(ctx.now_ms, validity) as i64))
}

// ---------------------------------------------------------------------------------------------
// Keys and slots
// ---------------------------------------------------------------------------------------------

pub fn cluster_keyslot(ctx: &mut Ctx, a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    Ok(Reply::Int(crate::slot::key_slot(&a[2]) as i64))
}

/// Keys in a slot of database 0 (logically expired ones included, as in Redis).
pub fn cluster_countkeysinslot(ctx: &mut Ctx, a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    let slot = int_arg(&a[2])?;
    if !(0..SLOTS as i64).contains(&slot) {
        return Err(ErrorReply::cluster_bad_slot());
    }
    Ok(Reply::Int(ctx.store.db(0).slot_len(slot as usize) as i64))
}

pub fn cluster_getkeysinslot(ctx: &mut Ctx, a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    let slot = int_arg(&a[2])?;
    let max = int_arg(&a[3])?;
    if !(0..SLOTS as i64).contains(&slot) || max < 0 {
        return Err(ErrorReply::cluster_bad_slot_or_count());
    }
    let keys = ctx.store.db(0).slot_keys(slot as usize, max as usize);
    Ok(Reply::Array(keys.iter().map(|k| Reply::bulk(k)).collect()))
}

// ---------------------------------------------------------------------------------------------
// READONLY / READWRITE / ASKING
// ---------------------------------------------------------------------------------------------

pub fn readonly(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    ctx.client.readonly = true;
    Ok(Reply::Ok)
}

pub fn readwrite(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    ctx.client.readonly = false;
    Ok(Reply::Ok)
}

/// ASKING: the next command may touch an importing slot (the dispatcher clears the flag).
pub fn asking(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    cluster_of(ctx)?;
    ctx.client.asking = true;
    Ok(Reply::Ok)
}

#[cfg(test)]
#[path = "cluster_cmd_tests.rs"]
mod tests;
