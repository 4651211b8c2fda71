//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO and SCRIPT: run a Lua script or
//! function atomically under the store lock, with Redis 7.0's checks before the run
//! (scriptPrepareForRun) and its replies (eval.c, functions.c, script.c).
use super::Ctx;
use crate::protocol::{ErrorReply, Reply, RespVersion};
use crate::scripting::run::{CallState, RunCtx};
use crate::scripting::{flags, RunFlags, RunInfo};
use crate::state::Client;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

type R = Result<Reply, ErrorReply>;

/// EVAL script numkeys [key ...] [arg ...]
pub fn eval(ctx: &mut Ctx, args: &[Bytes]) -> R {
    feed_monitor(ctx, args);
    eval_generic(ctx, args, false, false)
}

/// EVAL_RO: EVAL whose script may not write.
pub fn eval_ro(ctx: &mut Ctx, args: &[Bytes]) -> R {
    feed_monitor(ctx, args);
    eval_generic(ctx, args, false, true)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
pub fn evalsha(ctx: &mut Ctx, args: &[Bytes]) -> R {
    feed_monitor(ctx, args);
    eval_generic(ctx, args, true, false)
}

pub fn evalsha_ro(ctx: &mut Ctx, args: &[Bytes]) -> R {
    feed_monitor(ctx, args);
    eval_generic(ctx, args, true, true)
}

/// FCALL function numkeys [key ...] [arg ...]
pub fn fcall(ctx: &mut Ctx, args: &[Bytes]) -> R {
    feed_monitor(ctx, args);
    fcall_generic(ctx, args, false)
}

pub fn fcall_ro(ctx: &mut Ctx, args: &[Bytes]) -> R {
    feed_monitor(ctx, args);
    fcall_generic(ctx, args, true)
}

/// Scripts are shown to MONITOR as they start, before the commands they run (the table
/// marks them skip-monitor so the dispatcher does not show them again when they end).
fn feed_monitor(ctx: &Ctx, args: &[Bytes]) {
    ctx.shared.feed_monitor(ctx.client, args, ctx.now_ms);
}

/// Whether the script an EVAL, EVALSHA or FCALL would run may write: false only for a
/// script or function declared `no-writes` (an unknown one cannot run, so neither writes).
pub fn script_may_write(sh: &crate::state::Shared, args: &[Bytes]) -> bool {
    let no_writes = |f: RunFlags| f & flags::EVAL_COMPAT == 0 && f & flags::NO_WRITES != 0;
    let Some(body) = args.get(1) else {
        return false;
    };
    if body.starts_with(b"#!") {
        // EVAL with a shebang (a 40-byte sha never starts with "#!").
        return crate::scripting::shebang_flags(body).is_ok_and(|(f, _)| !no_writes(f));
    }
    let mut guard = sh.scripting.engines();
    let Some(engines) = guard.as_mut() else {
        return true;
    };
    let sha = String::from_utf8_lossy(body).to_ascii_lowercase();
    if let Some(s) = engines.eval.get(&sha) {
        return !no_writes(s.flags);
    }
    match engines.functions.function(body) {
        Some(f) => !no_writes(f.flags),
        // EVAL without a shebang (eval compatibility mode) may write.
        None => true,
    }
}

/// The keys and arguments after `numkeys`, checked as Redis checks them.
fn split_keys<'a>(
    args: &'a [Bytes],
    bad_int: ErrorReply,
) -> Result<(&'a [Bytes], &'a [Bytes]), ErrorReply> {
    let n = crate::util::num::parse_i64(&args[2]).ok_or(bad_int)?;
    if n > (args.len() - 3) as i64 {
        return Err(ErrorReply::numkeys_too_many());
    }
    if n < 0 {
        return Err(ErrorReply::numkeys_negative());
    }
    let n = n as usize;
    Ok((&args[3..3 + n], &args[3 + n..]))
}

fn eval_generic(ctx: &mut Ctx, args: &[Bytes], by_sha: bool, ro: bool) -> R {
    if by_sha && args[1].len() != 40 {
        return Err(ErrorReply::no_script());
    }
    let (keys, argv) = split_keys(args, ErrorReply::not_integer())?;
    let sh = ctx.shared;
    let mut guard = sh.scripting.engines();
    let engines = guard.as_mut().expect("created by engines()");
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        if engines.eval.get(&sha).is_none() {
            return Err(ErrorReply::no_script());
        }
        sha
    } else {
        engines
            .eval
            .create(&args[1])
            .map_err(|e| ErrorReply::script_err(&e))?
    };
    let script_flags = engines.eval.get(&sha).map(|s| s.flags).unwrap_or(0);
    let run_flags = prepare(ctx, script_flags, ro)? | flags::EVAL_MODE;
    let client = script_client(ctx, &mut engines.client, keys);
    let eval = &mut engines.eval;
    let name = sha.clone();
    run_with(ctx, client, run_flags, keys, args, &name, |run| {
        eval.run(&sha, keys, argv, run)
    })
}

fn fcall_generic(ctx: &mut Ctx, args: &[Bytes], ro: bool) -> R {
    let sh = ctx.shared;
    let mut guard = sh.scripting.engines();
    let engines = guard.as_mut().expect("created by engines()");
    let name = String::from_utf8_lossy(&args[1]).into_owned();
    let Some(script_flags) = engines.functions.function(&args[1]).map(|f| f.flags) else {
        return Err(ErrorReply::function_not_found());
    };
    let (keys, argv) = split_keys(args, ErrorReply::bad_numkeys())?;
    let run_flags = prepare(ctx, script_flags, ro)?;
    let client = script_client(ctx, &mut engines.client, keys);
    let functions = &mut engines.functions;
    run_with(ctx, client, run_flags, keys, args, &name, |run| {
        functions.call(&name, keys, argv, run)
    })
}

/// Redis's scriptPrepareForRun: refusals decided by the script's declared flags, and the
/// run flags.
fn prepare(ctx: &mut Ctx, script_flags: RunFlags, ro: bool) -> Result<RunFlags, ErrorReply> {
    let sh = ctx.shared;
    let compat = script_flags & flags::EVAL_COMPAT != 0;
    let obey = ctx.client.primary_link;
    let stale = crate::replication::stale_refused(sh);
    if !compat {
        if script_flags & flags::NO_CLUSTER != 0 && sh.cluster.is_some() {
            return Err(ErrorReply::script_no_cluster());
        }
        if stale && script_flags & flags::ALLOW_STALE == 0 {
            return Err(ErrorReply::script_stale());
        }
        if script_flags & flags::NO_WRITES == 0 {
            if sh.repl.role_replica.load(Relaxed)
                && crate::replication::config_yes(sh, "replica-read-only")
                && !obey
            {
                return Err(ErrorReply::script_readonly_replica());
            }
            if crate::persist::writes_refused(sh) && !obey {
                return Err(ErrorReply::script_misconf());
            }
            if ro {
                return Err(ErrorReply::script_write_in_ro());
            }
            if !crate::replication::enough_replicas(sh, ctx.now_ms) {
                return Err(ErrorReply::no_replicas());
            }
        }
        if script_flags & (flags::ALLOW_OOM | flags::NO_WRITES) == 0 && over_maxmemory(ctx) {
            return Err(ErrorReply::script_oom());
        }
    } else if stale {
        return Err(ErrorReply::master_down());
    }
    let mut f = 0;
    if ro || (!compat && script_flags & flags::NO_WRITES != 0) {
        f |= flags::READ_ONLY;
    }
    if !compat && script_flags & flags::ALLOW_OOM != 0 {
        f |= flags::RUN_ALLOW_OOM;
    }
    if compat || script_flags & flags::ALLOW_CROSS_SLOT != 0 {
        f |= flags::RUN_ALLOW_CROSS_SLOT;
    }
    Ok(f)
}

/// maxmemory is exceeded now, even after eviction (Redis's pre_command_oom_state).
fn over_maxmemory(ctx: &mut Ctx) -> bool {
    let sh = ctx.shared;
    ctx.store.eviction.maxmemory > 0
        && !ctx.client.primary_link
        && !sh.repl.role_replica.load(Relaxed)
        && !ctx.store.evict_to_fit(&|| sh.allocated())
}

/// The script client, set up for this caller: its database, RESP2, its cluster view.
fn script_client<'a>(ctx: &Ctx, slot: &'a mut Option<Client>, keys: &[Bytes]) -> &'a mut Client {
    let c = slot.get_or_insert_with(|| {
        let any = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let (handle, _rx) = ctx.shared.clients.register(any, any);
        ctx.shared.clients.unregister(handle.id);
        let mut c = Client::new(handle, true);
        c.script = true;
        c.in_exec = true;
        c
    });
    c.db = ctx.client.db;
    c.time_snapshot = Some(ctx.now_ms);
    c.acting_for = Some(ctx.client.id);
    // The script's commands run as the caller's ACL user.
    c.user = ctx.client.user.clone();
    c.script_keys.clear();
    if ctx.client.tracking {
        c.script_keys.extend_from_slice(keys);
    }
    c.resp = RespVersion::Resp2;
    c.asking = ctx.client.asking;
    c.readonly = ctx.client.readonly;
    c.topology = ctx.client.topology.clone();
    c.multi = None;
    c
}

/// Runs `body` as the current script: RunState for other clients, the run context for
/// `redis.call`, and the EVAL itself kept out of the replication stream (its commands are
/// propagated instead, as Redis 7.0's effects replication).
fn run_with(
    ctx: &mut Ctx,
    client: &mut Client,
    run_flags: RunFlags,
    keys: &[Bytes],
    args: &[Bytes],
    name: &str,
    body: impl FnOnce(&mut RunCtx) -> Result<Reply, ErrorReply>,
) -> R {
    let sh = ctx.shared;
    let call = *sh.scripting.call.get().expect("set at startup");
    let threshold_ms = sh
        .config()
        .get("busy-reply-threshold")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let slot = (sh.cluster.is_some() && !keys.is_empty()).then(|| crate::slot::key_slot(&keys[0]));
    let state = CallState {
        flags: run_flags,
        slot,
        oom_at_start: run_flags & flags::RUN_ALLOW_OOM == 0 && over_maxmemory(ctx),
        obey: ctx.client.primary_link,
        replicate: true,
    };
    sh.scripting.run.begin(RunInfo {
        name: name.to_string(),
        args: args.to_vec(),
        start: std::time::Instant::now(),
        eval: run_flags & flags::EVAL_MODE != 0,
        obey: ctx.client.primary_link,
    });
    let mut run = RunCtx {
        sh,
        store: &mut *ctx.store,
        client,
        call,
        state,
        start: std::time::Instant::now(),
        threshold_ms,
        left_worker: false,
    };
    let result = body(&mut run);
    sh.scripting.run.end();
    ctx.store.propagation.skip_self();
    result
}

/// SCRIPT LOAD script
pub fn script_load(ctx: &mut Ctx, args: &[Bytes]) -> R {
    let mut g = ctx.shared.scripting.engines();
    let e = g.as_mut().expect("created by engines()");
    let sha = e
        .eval
        .create(&args[2])
        .map_err(|e| ErrorReply::script_err(&e))?;
    Ok(Reply::Bulk(Bytes::from(sha)))
}

/// SCRIPT EXISTS sha1 [sha1 ...]
pub fn script_exists(ctx: &mut Ctx, args: &[Bytes]) -> R {
    let g = ctx.shared.scripting.engines();
    let e = g.as_ref().expect("created by engines()");
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|s| Reply::Int(e.eval.exists(&s.to_ascii_lowercase()) as i64))
            .collect(),
    ))
}

/// SCRIPT FLUSH [ASYNC|SYNC]
pub fn script_flush(ctx: &mut Ctx, args: &[Bytes]) -> R {
    flush_mode(args, ErrorReply::script_flush_option())?;
    let mut g = ctx.shared.scripting.engines();
    g.as_mut().expect("created by engines()").eval.flush();
    Ok(Reply::Ok)
}

/// The SYNC|ASYNC argument of SCRIPT FLUSH and FUNCTION FLUSH (both free at once here: the
/// Lua state is closed in place).
pub(super) fn flush_mode(args: &[Bytes], err: ErrorReply) -> Result<(), ErrorReply> {
    match args.len() {
        2 => Ok(()),
        3 if args[2].eq_ignore_ascii_case(b"sync") || args[2].eq_ignore_ascii_case(b"async") => {
            Ok(())
        }
        _ => Err(err),
    }
}

/// SCRIPT KILL: only reaches here when no script runs (a running one is killed from the
/// connection without the store lock, server/busy.rs).
pub fn script_kill(ctx: &mut Ctx, _args: &[Bytes]) -> R {
    kill_reply(ctx.shared, true)
}

/// The reply of SCRIPT KILL (`eval`) / FUNCTION KILL for the current run state.
pub fn kill_reply(sh: &crate::state::Shared, eval: bool) -> R {
    use crate::scripting::KillError;
    match sh.scripting.run.kill(eval) {
        Ok(()) => Ok(Reply::Ok),
        Err(KillError::NotBusy) => Err(ErrorReply::not_busy()),
        Err(KillError::FromPrimary) => Err(ErrorReply::unkillable_from_primary()),
        Err(KillError::Unkillable) => Err(ErrorReply::unkillable_dirty()),
        Err(KillError::WrongKind { running_eval: true }) => Err(ErrorReply::busy_eval()),
        Err(KillError::WrongKind {
            running_eval: false,
        }) => Err(ErrorReply::busy_function()),
    }
}

/// SCRIPT DEBUG YES|SYNC|NO: there is no Lua debugger; NO is accepted, YES and SYNC refused.
pub fn script_debug(_ctx: &mut Ctx, args: &[Bytes]) -> R {
    if args[2].eq_ignore_ascii_case(b"no") {
        Ok(Reply::Ok)
    } else if args[2].eq_ignore_ascii_case(b"yes") || args[2].eq_ignore_ascii_case(b"sync") {
        Err(ErrorReply::script_err(
            "SCRIPT DEBUG is not supported: this server has no Lua debugger",
        ))
    } else {
        Err(ErrorReply::script_debug_option())
    }
}

/// SCRIPT HELP
pub fn script_help(_ctx: &mut Ctx, _args: &[Bytes]) -> R {
    Ok(super::help_reply(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    ))
}
