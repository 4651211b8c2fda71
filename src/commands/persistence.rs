//! DUMP, RESTORE (and RESTORE-ASKING), SAVE, BGSAVE, LASTSAVE, and the RDB-related DEBUG
//! subcommands (RELOAD, DIGEST, DIGEST-VALUE). The RDB codec is `store::rdb`; files and the
//! snapshot thread are `persist`.
use super::{int_arg, is, Ctx};
use crate::persist;
use crate::protocol::{ErrorReply, Reply};
use crate::state::Shared;
use crate::store::rdb::{self, decode, encode};
use crate::store::value::Value;
use crate::store::{digest, notify};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// DUMP key: the value serialized as RDB, with RDB version and CRC64 trailer; nil if absent.
pub fn dump(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let opts = encode::Options::from_config(&ctx.shared.config());
    Ok(match ctx.read_value(&a[1]) {
        None => Reply::Nil,
        Some(v) => Reply::Bulk(Bytes::from(encode::dump_payload(v, &opts))),
    })
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]:
/// checks in Redis's order (options, BUSYKEY, TTL, payload trailer, payload body).
pub fn restore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(&a[j], "REPLACE") {
            replace = true;
        } else if is(&a[j], "ABSTTL") {
            absttl = true;
        } else if is(&a[j], "IDLETIME") && more && freq.is_none() {
            let v = int_arg(&a[j + 1])?;
            if v < 0 {
                return Err(ErrorReply::invalid_idletime());
            }
            idle = Some(v);
            j += 1;
        } else if is(&a[j], "FREQ") && more && idle.is_none() {
            let v = int_arg(&a[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(ErrorReply::invalid_freq());
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    let key = &a[1];
    let db = ctx.db();
    if !replace && ctx.write_value(key).is_some() {
        return Err(ErrorReply::busy_key());
    }
    let ttl = int_arg(&a[2])?;
    if ttl < 0 {
        return Err(ErrorReply::invalid_ttl());
    }
    let value = match ctx
        .client
        .prepared
        .iter()
        .position(|(p, _)| p.as_ptr() == a[3].as_ptr())
    {
        Some(i) => ctx.client.prepared.swap_remove(i).1?,
        None => decode_payload(ctx.shared, &a[3])?,
    };
    let deleted = replace && ctx.store.remove(db, key, ctx.now_ms, false);
    let expire_at = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some((ctx.now_ms as i64).saturating_add(t) as u64),
    };
    if expire_at.is_some_and(|t| t <= ctx.now_ms) {
        if deleted {
            ctx.modified(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
        return Ok(Reply::Ok);
    }
    let access = match (idle, freq) {
        (Some(s), _) => encode::Access::Idle(s as u64),
        (_, Some(f)) => encode::Access::Freq(f as u8),
        _ => encode::Access::None,
    };
    if let Some(old) = ctx.store.load_entry(db, key, value, expire_at, access) {
        ctx.store.free(old);
    }
    if let (Some(at), false) = (expire_at, absttl) {
        // Replicas and the AOF get the absolute time, as Redis 7.0 rewrites it: the TTL
        // argument replaced and ABSTTL appended.
        let mut args = a.to_vec();
        args[2] = Bytes::from(at.to_string());
        args.push(Bytes::from_static(b"ABSTTL"));
        ctx.propagate_as(args);
    }
    ctx.modified(key);
    ctx.notify(notify::GENERIC, "restore", key);
    Ok(Reply::Ok)
}

/// A DUMP payload checked (version and CRC: "payload version or checksum are wrong") and
/// decoded ("Bad data format").
fn decode_payload(
    sh: &crate::state::Shared,
    payload: &[u8],
) -> Result<crate::store::value::Value, ErrorReply> {
    if !decode::verify_payload(payload) {
        return Err(ErrorReply::dump_payload());
    }
    let limits = rdb::Limits::from_config(&sh.config().hot);
    match decode::payload_value(payload, &limits) {
        Ok(v) if !v.is_empty_collection() => Ok(v),
        _ => Err(ErrorReply::bad_data_format()),
    }
}

/// Payloads at least this big are decoded before the store is locked.
const PREPARE_MIN: usize = 32 * 1024;

/// The payload of a big RESTORE / RESTORE-ASKING, to decode (`prepare`) before the batch
/// takes the store lock, so other clients do not wait while a large value (a migrating
/// sorted set) is rebuilt; the handler takes the result from `Client::prepared`.
pub fn to_prepare(a: &[Bytes]) -> Option<Bytes> {
    if a.len() < 4 || a[3].len() < PREPARE_MIN {
        return None;
    }
    match super::index().lookup(a) {
        super::Lookup::Found(r) if matches!(r.spec.name, "restore" | "restore-asking") => {
            Some(a[3].clone())
        }
        _ => None,
    }
}

/// Decodes a payload `to_prepare` picked.
pub fn prepare(sh: &Shared, payload: &[u8]) -> Result<Value, ErrorReply> {
    decode_payload(sh, payload)
}

/// RESTORE-ASKING: RESTORE sent by MIGRATE to a node importing the slot.
pub fn restore_asking(ctx: &mut Ctx, a: &[Bytes]) -> R {
    restore(ctx, a)
}

/// SAVE: a synchronous snapshot (the server waits, as with Redis).
pub fn save(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    if ctx.store.snapshot_active() {
        return Err(ErrorReply::bgsave_in_progress());
    }
    match persist::save_sync(ctx.shared, ctx.store) {
        Ok(()) => Ok(Reply::Ok),
        Err(_) => Err(ErrorReply::save_failed()),
    }
}

/// BGSAVE [SCHEDULE]: a point-in-time snapshot written in the background (no fork: see
/// store/snapshot.rs). Inside MULTI/EXEC it is scheduled, as in Redis.
pub fn bgsave(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let schedule = match a.len() {
        1 => false,
        2 if is(&a[1], "SCHEDULE") => true,
        _ => return Err(ErrorReply::syntax()),
    };
    let running = ctx
        .shared
        .persist
        .bgsave_running
        .load(std::sync::atomic::Ordering::Relaxed);
    let rdb_child = running && ctx.shared.persist.status().bgsave_started != 0;
    if rdb_child {
        return Err(ErrorReply::bgsave_in_progress());
    }
    if running || ctx.client.in_exec {
        if schedule || ctx.client.in_exec {
            ctx.shared.persist.status().scheduled = true;
            return Ok(Reply::Status("Background saving scheduled"));
        }
        // The slot is an AOF rewrite's or a full sync's (Redis: another child process).
        return Err(ErrorReply::bgsave_other_child());
    }
    match persist::bgsave_start(ctx.shared, ctx.store) {
        Ok(()) => Ok(Reply::Status("Background saving started")),
        Err(None) => Err(ErrorReply::bgsave_in_progress()),
        Err(Some(_)) => Err(ErrorReply::save_failed()),
    }
}

pub fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(ctx.shared.persist.status().lastsave as i64))
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty, load back.
pub fn debug_reload(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in &a[2..] {
        if is(opt, "MERGE") {
            merge = true;
        } else if is(opt, "NOFLUSH") {
            flush = false;
        } else if is(opt, "NOSAVE") {
            save = false;
        } else {
            return Err(ErrorReply::debug_reload_options());
        }
    }
    if save {
        if ctx.store.snapshot_active() {
            ctx.store.snapshot_abort();
        }
        persist::save_sync(ctx.shared, ctx.store).map_err(|_| ErrorReply::save_failed())?;
    }
    if flush {
        ctx.store.flush(None, true);
    }
    let dup = if merge {
        persist::load::Dup::Replace
    } else {
        persist::load::Dup::Refuse
    };
    let path = persist::rdb_path(ctx.shared);
    use crate::scripting::functions::RestorePolicy;
    let policy = match (flush, merge) {
        (true, _) => RestorePolicy::Flush,
        (false, false) => RestorePolicy::Append,
        (false, true) => RestorePolicy::Replace,
    };
    let loaded = persist::load::load_file_locked(ctx.shared, ctx.store, &path, dup)
        .map_err(|e| e.to_string())
        .and_then(|sum| ctx.shared.scripting.load_libraries(&sum.functions, policy));
    match loaded {
        Ok(_) => {
            tracing::info!("DB reloaded by DEBUG RELOAD");
            Ok(Reply::Ok)
        }
        Err(e) => {
            tracing::warn!(error = %e, "DEBUG RELOAD failed");
            Err(ErrorReply::reload_failed())
        }
    }
}

/// BGREWRITEAOF: a new AOF base from the dataset as of now (persist::aof). Scheduled while
/// another snapshot runs or inside MULTI, as in Redis.
pub fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    use persist::aof::NotStarted;
    if ctx.shared.persist.aof().rewrite.is_some() {
        return Err(ErrorReply::aof_rewrite_in_progress());
    }
    let busy = ctx
        .shared
        .persist
        .bgsave_running
        .load(std::sync::atomic::Ordering::Relaxed);
    if busy || ctx.client.in_exec {
        let mut a = ctx.shared.persist.aof();
        a.scheduled = true;
        // A manual rewrite is not held back by earlier failures.
        a.consecutive_failures = 0;
        return Ok(Reply::Status(
            "Background append only file rewriting scheduled",
        ));
    }
    match persist::aof::rewrite_start(ctx.shared, ctx.store) {
        Ok(()) => Ok(Reply::Status(
            "Background append only file rewriting started",
        )),
        Err(NotStarted::InProgress) => Err(ErrorReply::aof_rewrite_in_progress()),
        Err(NotStarted::Scheduled) => Ok(Reply::Status(
            "Background append only file rewriting scheduled",
        )),
        Err(NotStarted::Failed(_)) => Err(ErrorReply::aof_rewrite_failed()),
    }
}

/// DEBUG LOADAOF: the AOF written out, the keyspace emptied and loaded back from the AOF.
/// A failure to load stops the server, as in Redis.
pub fn debug_loadaof(ctx: &mut Ctx) -> R {
    use persist::aof::replay;
    if ctx.shared.persist.aof().loading {
        // An AOF that asks to load itself would never end.
        return Err(ErrorReply::aof_loadaof_while_loading());
    }
    persist::aof::flush_now(ctx.shared);
    ctx.store.flush(None, false);
    let m = ctx.shared.persist.aof().manifest.clone();
    let m = if m.is_empty() {
        replay::manifest(ctx.shared).unwrap_or_default()
    } else {
        m
    };
    match replay::load_all(ctx.shared, &m, replay::Access::Locked(ctx.store)) {
        Ok(_) => {}
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    ctx.store.dirty = 0;
    tracing::info!("Append Only File loaded by DEBUG LOADAOF");
    Ok(Reply::Ok)
}

/// DEBUG DIGEST: the dataset digest, as redis-server computes it.
pub fn debug_digest(ctx: &mut Ctx) -> R {
    Ok(Reply::StatusOwned(digest::hex(&digest::dataset_digest(
        ctx.store,
    ))))
}

/// DEBUG DIGEST-VALUE key ...: each key's value digest (zeros for a missing key; expired
/// keys still count, as in Redis).
pub fn debug_digest_value(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let db = ctx.store.db(ctx.client.db);
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|k| {
                let mut d = [0u8; 20];
                if let Some(e) = db.get(k) {
                    digest::value_digest(&mut d, e);
                }
                Reply::StatusOwned(digest::hex(&d))
            })
            .collect(),
    ))
}
