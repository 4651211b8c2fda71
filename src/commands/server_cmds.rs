//! Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME INFO MONITOR SHUTDOWN DEBUG.
use super::{is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::state::After;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(ctx.store.db(ctx.client.db).len() as i64))
}

/// `[ASYNC|SYNC]` of FLUSHDB/FLUSHALL: whether to free lazily.
fn flush_mode(ctx: &Ctx, a: &[Bytes]) -> Result<bool, ErrorReply> {
    match a.get(1) {
        None if a.len() == 1 => Ok(ctx.shared.config().hot.lazy_user_flush),
        Some(m) if a.len() == 2 && is(m, "ASYNC") => Ok(true),
        Some(m) if a.len() == 2 && is(m, "SYNC") => Ok(false),
        _ => Err(ErrorReply::syntax()),
    }
}

pub fn flushdb(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let lazy = flush_mode(ctx, a)?;
    ctx.store.flush(Some(ctx.client.db), lazy);
    ctx.store.dirty += 1;
    ctx.force_propagate();
    Ok(Reply::Ok)
}

pub fn flushall(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let lazy = flush_mode(ctx, a)?;
    ctx.store.flush(None, lazy);
    // As Redis's flushAllDataAndResetRDB: a running snapshot is dropped and, when save points
    // exist, the empty dataset is saved at once so a restart does not bring the data back.
    // An AOF rewrite goes on (Redis kills only an RDB child): its incremental file gets the
    // FLUSHALL.
    if ctx.shared.persist.aof().rewrite.is_none() {
        ctx.store.snapshot_abort();
    }
    if !crate::persist::save_points(ctx.shared).is_empty() {
        let _ = crate::persist::save_sync(ctx.shared, ctx.store);
    }
    ctx.store.dirty += 1;
    ctx.force_propagate();
    Ok(Reply::Ok)
}

pub fn swapdb(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if ctx.shared.cluster.is_some() {
        return Err(ErrorReply::swapdb_cluster());
    }
    let x = crate::util::num::parse_i64(&a[1]).ok_or_else(ErrorReply::swapdb_first)?;
    let y = crate::util::num::parse_i64(&a[2]).ok_or_else(ErrorReply::swapdb_second)?;
    let n = ctx.store.databases() as i64;
    if x < 0 || x >= n || y < 0 || y >= n {
        return Err(ErrorReply::db_index());
    }
    ctx.store.swap_dbs(x as usize, y as usize);
    ctx.store.dirty += 1;
    Ok(Reply::Ok)
}

pub fn time(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk(d.as_secs().to_string().as_bytes()),
        Reply::bulk(d.subsec_micros().to_string().as_bytes()),
    ]))
}

pub fn info(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let sections: Vec<String> = a[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = super::info::render(ctx.shared, ctx.store, &sections);
    Ok(Reply::Verbatim(Bytes::from(text)))
}

pub fn monitor(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    // A transaction expects a reply per command: it cannot turn into a feed.
    if ctx.client.in_exec || ctx.client.script {
        return Err(ErrorReply::monitor_deny_blocking());
    }
    // Already monitoring: Redis ignores the command, without a reply.
    if ctx.client.monitor {
        return Ok(Reply::NoReply);
    }
    ctx.client.monitor = true;
    ctx.client.after = Some(After::Monitor);
    Ok(Reply::Ok)
}

pub fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> R {
    for opt in &a[1..] {
        if !(is(opt, "NOSAVE")
            || is(opt, "SAVE")
            || is(opt, "NOW")
            || is(opt, "FORCE")
            || is(opt, "ABORT"))
        {
            return Err(ErrorReply::syntax());
        }
        if is(opt, "ABORT") {
            // There is never a shutdown in progress to abort: slotcache stops at once.
            return Err(ErrorReply::err("No shutdown in progress."));
        }
    }
    let flag = |w: &str| a[1..].iter().any(|o| is(o, w));
    let res = crate::persist::save_on_shutdown(ctx.shared, ctx.store, flag("SAVE"), flag("NOSAVE"));
    if res.is_err() && !flag("FORCE") {
        return Err(ErrorReply::shutdown_failed());
    }
    ctx.client.after = Some(After::Shutdown);
    Ok(Reply::NoReply)
}
