//! SLOWLOG and MEMORY subcommands.
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn slowlog_get(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let n = match a.get(2) {
        None => 10,
        Some(c) => {
            let c = int_arg(c).map_err(|_| ErrorReply::slowlog_count())?;
            if c < -1 {
                return Err(ErrorReply::slowlog_count());
            }
            if c == -1 {
                usize::MAX
            } else {
                c as usize
            }
        }
    };
    let log = ctx.shared.slowlog.lock().unwrap_or_else(|e| e.into_inner());
    let out = log
        .newest(n)
        .map(|e| {
            Reply::Array(vec![
                Reply::Int(e.id as i64),
                Reply::Int(e.time as i64),
                Reply::Int(e.duration_us as i64),
                Reply::Array(e.args.iter().map(|a| Reply::Bulk(a.clone())).collect()),
                Reply::bulk(e.addr.as_bytes()),
                Reply::bulk(e.name.as_bytes()),
            ])
        })
        .collect();
    Ok(Reply::Array(out))
}

pub fn slowlog_len(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(
        ctx.shared
            .slowlog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len() as i64,
    ))
}

pub fn slowlog_reset(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.shared
        .slowlog
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reset();
    Ok(Reply::Ok)
}

pub fn slowlog_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}

/// Bytes a key costs: the slot-table bucket, the key and the value's own heap data.
pub fn memory_usage(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() != 3 && !(a.len() == 5 && is(&a[3], "SAMPLES") && int_arg(&a[4]).is_ok()) {
        return Err(ErrorReply::syntax());
    }
    let Some(e) = ctx.store.lookup(ctx.client.db, &a[2], ctx.now_ms, false) else {
        return Ok(Reply::Nil);
    };
    let size =
        std::mem::size_of::<crate::store::Entry>() + 1 + e.key.heap_size() + e.value.heap_size();
    Ok(Reply::Int(size as i64))
}

pub fn memory_stats(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let used = ctx.store.used_memory(ctx.shared.allocated()) as i64;
    let rss = crate::observability::alloc::rss() as i64;
    let keys = ctx.store.total_keys() as i64;
    let b = Reply::bulk_static;
    let mut m = vec![
        (b("peak.allocated"), Reply::Int(used)),
        (b("total.allocated"), Reply::Int(used)),
        (b("startup.allocated"), Reply::Int(0)),
        (b("replication.backlog"), Reply::Int(0)),
        (b("clients.slaves"), Reply::Int(0)),
        (
            b("clients.normal"),
            Reply::Int(ctx.shared.clients.len() as i64 * 16384),
        ),
        (b("cluster.links"), Reply::Int(0)),
        (b("aof.buffer"), Reply::Int(0)),
        (b("lua.caches"), Reply::Int(0)),
        (b("functions.caches"), Reply::Int(0)),
    ];
    for i in 0..ctx.store.databases() {
        let db = ctx.store.db(i);
        if db.is_empty() {
            continue;
        }
        m.push((
            Reply::bulk(format!("db.{i}").as_bytes()),
            Reply::Map(vec![
                (
                    b("overhead.hashtable.main"),
                    Reply::Int(db.table_overhead() as i64),
                ),
                (b("overhead.hashtable.expires"), Reply::Int(0)),
            ]),
        ));
    }
    m.extend([
        (b("overhead.total"), Reply::Int(0)),
        (b("keys.count"), Reply::Int(keys)),
        (
            b("keys.bytes-per-key"),
            Reply::Int(if keys > 0 { used / keys } else { 0 }),
        ),
        (b("dataset.bytes"), Reply::Int(used)),
        (b("dataset.percentage"), Reply::Double(100.0)),
        (b("peak.percentage"), Reply::Double(100.0)),
        (b("allocator.allocated"), Reply::Int(used)),
        (b("allocator.active"), Reply::Int(used)),
        (b("allocator.resident"), Reply::Int(rss)),
        (b("rss-overhead.bytes"), Reply::Int(rss - used)),
        (
            b("rss-overhead.ratio"),
            Reply::Double(if used > 0 {
                rss as f64 / used as f64
            } else {
                1.0
            }),
        ),
        (
            b("fragmentation"),
            Reply::Double(if used > 0 {
                rss as f64 / used as f64
            } else {
                1.0
            }),
        ),
        (b("fragmentation.bytes"), Reply::Int(rss - used)),
    ]);
    Ok(Reply::Map(m))
}

pub fn memory_doctor(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Verbatim(Bytes::from_static(
        b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
    )))
}

pub fn memory_malloc_stats(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Verbatim(Bytes::from(format!(
        "Stats not supported for the current allocator (system malloc, counted): allocated={} rss={}\n",
        ctx.store.used_memory(ctx.shared.allocated()),
        crate::observability::alloc::rss()
    ))))
}

pub fn memory_purge(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    // glibc keeps freed memory in its arenas; malloc_trim hands it back to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
    Ok(Reply::Ok)
}

pub fn memory_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    ))
}
