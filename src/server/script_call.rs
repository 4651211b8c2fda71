//! A command called from a script (`redis.call`), Redis's scriptCall: the checks it must pass
//! first (a known command with the right arity, not `noscript`, the replica and write rules,
//! maxmemory before the script's first write, and in cluster mode keys this node serves, all
//! in one slot unless the script allows cross-slot keys), then the ordinary execution path as
//! the script client. Refusals use Redis's script-specific texts.
use super::dispatch::{self, Outcome};
use crate::commands::{arity_ok, flag, Lookup, Resolved};
use crate::protocol::{ErrorReply, Reply};
use crate::scripting::flags;
use crate::scripting::run::CallState;
use crate::state::{now_ms, Client, Shared};
use crate::store::Store;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub fn call(
    sh: &Shared,
    store: &mut Store,
    client: &mut Client,
    args: &[Bytes],
    st: &mut CallState,
) -> Reply {
    let r = match resolve(args) {
        Ok(r) => r,
        Err(e) => return rejected(sh, None, e),
    };
    if let Err(e) = check(sh, store, client, &r, args, st) {
        return rejected(sh, Some(&r), e);
    }
    let mark = store.propagation.len();
    let out = dispatch::run(sh, store, client, args);
    if !st.replicate {
        // redis.set_repl(redis.REPL_NONE): the command's effects stay local.
        store.propagation.truncate(mark);
    }
    match out {
        Outcome::Reply(r) => r,
        Outcome::Paused(_) | Outcome::Fenced(_) => {
            unreachable!("pauses and fences do not apply to a script's commands")
        }
    }
}

/// The command (a container without a handler is a wrong-arity call, as Redis's lookup).
fn resolve(args: &[Bytes]) -> Result<Resolved, ErrorReply> {
    match crate::commands::index().lookup(args) {
        Lookup::Found(r) => Ok(r),
        Lookup::Container(r) if r.spec.handler.is_some() => Ok(r),
        Lookup::Container(_) => Err(ErrorReply::script_wrong_arity()),
        Lookup::UnknownSub | Lookup::Unknown => Err(ErrorReply::script_unknown_command()),
    }
}

fn rejected(sh: &Shared, r: Option<&Resolved>, e: ErrorReply) -> Reply {
    if let Some(r) = r {
        sh.stats.command(r.id).rejected.fetch_add(1, Relaxed);
    }
    sh.stats.count_error(e.code());
    Reply::Error(e)
}

fn check(
    sh: &Shared,
    store: &Store,
    client: &mut Client,
    r: &Resolved,
    args: &[Bytes],
    st: &mut CallState,
) -> Result<(), ErrorReply> {
    if !arity_ok(r.spec, args.len()) {
        return Err(ErrorReply::script_wrong_arity());
    }
    // Scripting commands stay refused even under DEBUG SET-DISABLE-DENY-SCRIPTS: the engine
    // is in use by the running script.
    let scripting = r.spec.acl.contains(&"@scripting");
    if r.flags & flag::NOSCRIPT != 0 && (scripting || !sh.scripting.allow_noscript.load(Relaxed)) {
        return Err(ErrorReply::script_noscript_command());
    }
    if r.flags & flag::STALE == 0 && crate::replication::stale_refused(sh) {
        return Err(ErrorReply::script_stale_command());
    }
    if let Some(user) = super::acl_gate::restricted_user(sh, client) {
        if let Err(d) = super::acl_gate::check(sh, &user, r, args) {
            super::acl_gate::log_denial(sh, client, r, args, d, "lua");
            return Err(super::acl_gate::script_error(d));
        }
    }
    let write = r.flags & flag::WRITE != 0;
    if st.flags & flags::READ_ONLY != 0 && r.flags & (flag::WRITE | flag::MAY_REPLICATE) != 0 {
        return Err(ErrorReply::script_write_from_ro());
    }
    let dirty = st.flags & flags::WRITE_DIRTY != 0;
    if write && !dirty && !st.obey {
        crate::replication::writes_allowed(sh, now_ms())?;
    }
    if st.flags & flags::RUN_ALLOW_OOM == 0
        && store.eviction.maxmemory > 0
        && !st.obey
        && !dirty
        && st.oom_at_start
        && r.flags & flag::DENYOOM != 0
    {
        return Err(ErrorReply::oom());
    }
    if write {
        st.flags |= flags::WRITE_DIRTY;
        sh.scripting.run.mark_dirty();
    }
    if sh.cluster.is_some() && !st.obey {
        cluster_check(store, client, r, args, st)?;
    }
    Ok(())
}

/// The keys must be served here, and (unless the script allows cross-slot keys) be in the
/// slot the script's declared keys or first access chose.
fn cluster_check(
    store: &Store,
    client: &Client,
    r: &Resolved,
    args: &[Bytes],
    st: &mut CallState,
) -> Result<(), ErrorReply> {
    if let Some((_, topo)) = &client.topology {
        super::route::check(topo, store, client, r, args, now_ms()).map_err(|e| {
            if e.code() != "CLUSTERDOWN" {
                ErrorReply::script_non_local_key()
            } else if e.text().contains("only accepts read") {
                ErrorReply::script_cluster_down_ro()
            } else {
                ErrorReply::script_cluster_down()
            }
        })?;
    }
    let mut keys = Vec::new();
    super::route::keys_of(r, args, &mut keys);
    let Some(first) = keys.first() else {
        return Ok(());
    };
    let slot = crate::slot::key_slot(first);
    if st.flags & flags::RUN_ALLOW_CROSS_SLOT == 0 {
        match st.slot {
            None => st.slot = Some(slot),
            Some(s) if s != slot => return Err(ErrorReply::script_cross_slot()),
            Some(_) => {}
        }
    }
    Ok(())
}
