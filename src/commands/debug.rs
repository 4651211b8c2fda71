//! DEBUG: the subcommands Redis's own tests and tools use. Each is what Redis does, or
//! refused with Redis's "unknown subcommand" error; none is a stub.
use super::{float_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;
use std::time::Duration;

type R = Result<Reply, ErrorReply>;

/// DEBUG is refused unless enable-debug-command allows it (`local`: loopback clients only).
/// DEBUG REPLYBUFFER PEAK-RESET-TIME <ms|never|reset> | RESIZING <0|1>.
fn debug_replybuffer(ctx: &mut Ctx, what: &[u8], value: &[u8]) -> R {
    use std::sync::atomic::Ordering::Relaxed;
    let sh = ctx.shared;
    if super::is(what, "peak-reset-time") {
        let ms = if super::is(value, "never") {
            -1
        } else if super::is(value, "reset") {
            crate::state::REPLY_BUF_PEAK_RESET_MS
        } else {
            super::int_arg(value)?
        };
        sh.reply_buf_peak_reset_ms.store(ms, Relaxed);
    } else if super::is(what, "resizing") {
        sh.reply_buf_resizing
            .store(super::int_arg(value)? != 0, Relaxed);
    } else {
        return Err(ErrorReply::syntax());
    }
    Ok(Reply::Ok)
}

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
        ("sleep", 3) => {
            // The whole server stops, as Redis's does: the keyspace stays locked while this
            // worker sleeps (what tests of slow commands, SLOWLOG and expiry races rely on).
            let secs = float_arg(&a[2])?;
            std::thread::sleep(Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
            Ok(Reply::Ok)
        }
        ("quicklist-packed-threshold", 3) => {
            // Redis stores list elements above this size in nodes of their own. slotcache's
            // lists have no such nodes: the value is checked as Redis checks it, and has no
            // effect (the commands behave the same either way).
            let v = crate::config::parse_memory(&String::from_utf8_lossy(&a[2]));
            let ok = v.is_some_and(|v| (0..=(1 << 32) - (1 << 20)).contains(&v));
            if !ok {
                return Err(ErrorReply::err("argument must be a memory value bigger than 1 and smaller than 4gb"));
            }
            Ok(Reply::Ok)
        }
        ("replybuffer", 4) => debug_replybuffer(ctx, &a[2], &a[3]),
        ("pause-cron", 3) => {
            let on = super::int_arg(&a[2])? != 0;
            ctx.shared.cron_paused.store(on, std::sync::atomic::Ordering::Relaxed);
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
                "PAUSE-CRON <0|1>",
                "    Stop periodic cron job processing.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Sets the threshold for elements to be inserted as plain vs packed nodes",
                "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
                "    (slotcache: accepted and checked; its lists have no plain nodes.)",
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
