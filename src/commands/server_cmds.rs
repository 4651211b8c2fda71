//! Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME INFO MONITOR SHUTDOWN DEBUG.
use super::{float_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::state::After;
use bytes::Bytes;
use std::time::Duration;

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

/// DEBUG is refused unless enable-debug-command allows it (`local`: loopback clients only).
pub fn debug(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let mode = ctx.shared.config().hot.debug_command.clone();
    match mode.as_str() {
        "yes" => {}
        "local" if ctx.client.handle.addr.ip().is_loopback() => {}
        "local" => return Err(ErrorReply::debug_local()),
        _ => return Err(ErrorReply::debug_disabled()),
    }
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("sleep", 3) if ctx.client.script => {
            // Inside a script the server itself sleeps, as Redis's DEBUG SLEEP always does.
            let secs = float_arg(&a[2])?;
            std::thread::sleep(Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
            Ok(Reply::Ok)
        }
        ("sleep", 3) => {
            let secs = float_arg(&a[2])?;
            ctx.client.after = Some(After::Sleep(Duration::from_secs_f64(secs.max(0.0))));
            Ok(Reply::Ok)
        }
        ("protocol", 3) => debug_protocol(ctx, &a[2]),
        ("set-disable-deny-scripts", 3) => {
            let on = super::int_arg(&a[2])? != 0;
            ctx.shared
                .scripting
                .allow_noscript
                .store(on, std::sync::atomic::Ordering::Relaxed);
            Ok(Reply::Ok)
        }
        ("set-active-expire", 3) => {
            let on = super::int_arg(&a[2])? != 0;
            ctx.shared.active_expire.store(on, std::sync::atomic::Ordering::Relaxed);
            Ok(Reply::Ok)
        }
        ("object", 3) => {
            let clock = ctx.store.lru_clock();
            // Like Redis's, DEBUG OBJECT looks at the dictionary: an expired key not yet
            // deleted is still shown.
            let Some(e) = ctx.store.db(ctx.client.db).get(&a[2]) else {
                return Err(ErrorReply::no_such_key());
            };
            let len = e.value.as_bytes().map_or(0, |b| b.len());
            Ok(Reply::StatusOwned(format!(
                "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e as *const _,
                e.value.encoding(),
                len,
                e.lru / 1000,
                clock.wrapping_sub(e.lru) / 1000
            )))
        }
        ("populate", 3..=5) => debug_populate(ctx, a),
        ("reload", _) => super::persistence::debug_reload(ctx, a),
        ("loadaof", 2) => super::persistence::debug_loadaof(ctx),
        ("digest", 2) => super::persistence::debug_digest(ctx),
        ("digest-value", _) => super::persistence::debug_digest_value(ctx, a),
        // Redis crashes the process here (serverPanic). slotcache contains a panicking command
        // to its connection (server/dispatch.rs contain_panic), so DEBUG PANIC shows exactly
        // that: the caller gets the error and is disconnected, everyone else goes on.
        ("panic", 2) => panic!("DEBUG PANIC called at Unix time {}", ctx.now_ms / 1000),
        ("help", _) => Ok(super::help_reply(
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "OBJECT <key>",
                "    Show low level info about `key` and associated value.",
                "PANIC",
                "    Panic in the command (slotcache: this client is disconnected, the server goes on).",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                "    it is used instead of the 'key' prefix. These are not propagated to",
                "    replicas. Cluster slots are not respected so keys not belonging to the",
                "    current node can be created in cluster mode.",
                "LOADAOF",
                "    Flush the AOF buffers on disk and reload the AOF in memory.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Options: MERGE, NOFLUSH, NOSAVE.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        )),
        _ => Err(ErrorReply::debug_unknown(&a[1])),
    }
}

/// DEBUG POPULATE count [prefix] [size]: `prefix:N` = "value:N" (zero-padded or cut to `size`
/// bytes when given), skipping keys that exist, as Redis does.
fn debug_populate(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let count = super::int_arg(&a[2])?;
    if count < 0 {
        return Err(ErrorReply::populate_count());
    }
    let prefix = a.get(3).map_or(&b"key"[..], |p| &p[..]);
    let size = match a.get(4) {
        Some(s) => {
            let v = super::int_arg(s)?;
            if v < 0 {
                return Err(ErrorReply::populate_size());
            }
            Some(v as usize)
        }
        None => None,
    };
    let db = ctx.client.db;
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.store.db(db).get(&key).is_some() {
            continue;
        }
        let text = format!("value:{j}");
        let value = match size {
            None => crate::store::Value::from_bytes(text.as_bytes()),
            Some(n) => {
                let mut v = vec![0u8; n];
                let m = n.min(text.len());
                v[..m].copy_from_slice(&text.as_bytes()[..m]);
                crate::store::Value::from_bytes(&v)
            }
        };
        ctx.store.insert(db, &key, value, crate::store::Ttl::Clear);
    }
    Ok(Reply::Ok)
}

/// DEBUG PROTOCOL <type>: one reply of each RESP type, for client and script tests.
fn debug_protocol(ctx: &mut Ctx, kind: &[u8]) -> R {
    let resp3 = ctx.client.resp == crate::protocol::RespVersion::Resp3;
    let ints = || (0..3).map(Reply::Int).collect::<Vec<_>>();
    let kind = String::from_utf8_lossy(kind).to_ascii_lowercase();
    Ok(match kind.as_str() {
        "string" => Reply::bulk_static("Hello World"),
        "integer" => Reply::Int(12345),
        "double" => Reply::Double(3.141),
        "bignum" => Reply::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999")),
        "null" => Reply::Nil,
        "array" => Reply::Array(ints()),
        "set" => Reply::Set(ints()),
        "map" => Reply::Map((0..3).map(|j| (Reply::Int(j), Reply::Bool(j == 1))).collect()),
        "attrib" => {
            let real = Reply::bulk_static("Some real reply following the attribute");
            if resp3 {
                Reply::Attribute(
                    vec![(
                        Reply::bulk_static("key-popularity"),
                        Reply::Array(vec![Reply::bulk_static("key:123"), Reply::Int(90)]),
                    )],
                    Box::new(real),
                )
            } else {
                real
            }
        }
        "push" => {
            if !resp3 {
                return Err(ErrorReply::err("RESP2 is not supported by this command"));
            }
            Reply::Many(vec![
                Reply::Push(vec![Reply::bulk_static("server-cpu-usage"), Reply::Int(42)]),
                Reply::bulk_static("Some real reply following the push reply"),
            ])
        }
        "verbatim" => Reply::Verbatim(Bytes::from_static(b"This is a verbatim\nstring")),
        "true" => Reply::Bool(true),
        "false" => Reply::Bool(false),
        _ => {
            return Err(ErrorReply::err(
                "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    })
}
