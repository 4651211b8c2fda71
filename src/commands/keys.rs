//! Generic keyspace commands: DEL/UNLINK/EXISTS/TOUCH, TYPE, RENAME, COPY/MOVE, KEYS/SCAN,
//! RANDOMKEY, the EXPIRE/TTL family and OBJECT.
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::slot::SLOTS;
use crate::store::propagation::ExpiryMode;
use crate::store::{notify, Entry, Ttl};
use crate::util::cstr::keyword_eq as is;
use crate::util::glob;
use bytes::Bytes;
use rand::Rng;

type R = Result<Reply, ErrorReply>;

fn del_generic(ctx: &mut Ctx, a: &[Bytes], lazy: bool) -> R {
    let mut n = 0;
    for k in &a[1..] {
        if ctx.store.remove(ctx.client.db, k, ctx.now_ms, lazy) {
            ctx.modified(k);
            ctx.notify(notify::GENERIC, "del", k);
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

pub fn del(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let lazy = ctx.shared.config().hot.lazy_user_del;
    del_generic(ctx, a, lazy)
}

pub fn unlink(ctx: &mut Ctx, a: &[Bytes]) -> R {
    del_generic(ctx, a, true)
}

pub fn exists(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let n = a[1..]
        .iter()
        .filter(|k| {
            ctx.store
                .lookup_read(ctx.client.db, k, ctx.now_ms, false)
                .is_some()
        })
        .count();
    Ok(Reply::Int(n as i64))
}

pub fn touch(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let t = ctx.touch();
    let n = a[1..]
        .iter()
        .filter(|k| ctx.store.lookup(ctx.client.db, k, ctx.now_ms, t).is_some())
        .count();
    Ok(Reply::Int(n as i64))
}

pub fn r#type(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Status(
        match ctx.store.lookup(ctx.client.db, &a[1], ctx.now_ms, false) {
            Some(e) => e.value.type_name(),
            None => "none",
        },
    ))
}

fn take(ctx: &mut Ctx, db: usize, key: &[u8]) -> Option<Entry> {
    ctx.store.lookup(db, key, ctx.now_ms, false)?;
    ctx.store.db_mut(db).remove(key)
}

fn put(ctx: &mut Ctx, db: usize, key: &[u8], e: Entry) {
    let ttl = e.expire_at().map_or(Ttl::Clear, Ttl::At);
    if let Some(old) = ctx.store.insert(db, key, e.value, ttl) {
        ctx.store.free(old);
    }
    ctx.modified(key);
}

fn rename_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> R {
    let db = ctx.client.db;
    if !ctx.store.exists(db, &a[1], ctx.now_ms) {
        return Err(ErrorReply::no_such_key());
    }
    if a[1] == a[2] {
        return Ok(if nx { Reply::Int(0) } else { Reply::Ok });
    }
    if nx && ctx.store.exists(db, &a[2], ctx.now_ms) {
        return Ok(Reply::Int(0));
    }
    let e = take(ctx, db, &a[1]).expect("exists");
    ctx.modified(&a[1]);
    ctx.notify(notify::GENERIC, "rename_from", &a[1]);
    put(ctx, db, &a[2], e);
    ctx.notify(notify::GENERIC, "rename_to", &a[2]);
    Ok(if nx { Reply::Int(1) } else { Reply::Ok })
}

pub fn rename(ctx: &mut Ctx, a: &[Bytes]) -> R {
    rename_generic(ctx, a, false)
}

pub fn renamenx(ctx: &mut Ctx, a: &[Bytes]) -> R {
    rename_generic(ctx, a, true)
}

/// An argument Redis reads with `getIntFromObjectOrReply`: an integer, then within C `int`.
pub(super) fn int32_arg(arg: &[u8]) -> Result<i64, ErrorReply> {
    let n = int_arg(arg)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(ErrorReply::range_between(i32::MIN as i64, i32::MAX as i64));
    }
    Ok(n)
}

/// A database number (COPY ... DB, MOVE, SELECT): an `int`, then an existing database.
pub(super) fn db_arg(ctx: &Ctx, arg: &[u8]) -> Result<usize, ErrorReply> {
    let n = int32_arg(arg)?;
    if n < 0 || n as usize >= ctx.store.databases() {
        return Err(ErrorReply::db_index());
    }
    Ok(n as usize)
}

pub fn copy(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let src_db = ctx.client.db;
    let (mut dst_db, mut replace) = (src_db, false);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "REPLACE") {
            replace = true;
        } else if is(&a[i], "DB") && i + 1 < a.len() {
            dst_db = db_arg(ctx, &a[i + 1])?;
            i += 1;
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 1;
    }
    // Cluster mode has database 0 only: a key copied elsewhere would vanish from every view.
    if ctx.shared.cluster.is_some() && (src_db != 0 || dst_db != 0) {
        return Err(ErrorReply::copy_db_cluster());
    }
    if src_db == dst_db && a[1] == a[2] {
        return Err(ErrorReply::same_object());
    }
    let Some(src) = ctx
        .store
        .lookup(src_db, &a[1], ctx.now_ms, false)
        .map(|e| e.clone())
    else {
        return Ok(Reply::Int(0));
    };
    if ctx.store.exists(dst_db, &a[2], ctx.now_ms) && !replace {
        return Ok(Reply::Int(0));
    }
    put(ctx, dst_db, &a[2], src);
    ctx.store
        .events
        .raise(notify::GENERIC, "copy_to", dst_db, &a[2]);
    Ok(Reply::Int(1))
}

pub fn r#move(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if ctx.shared.cluster.is_some() {
        return Err(ErrorReply::move_cluster());
    }
    let src_db = ctx.client.db;
    let dst_db = db_arg(ctx, &a[2])?;
    if src_db == dst_db {
        return Err(ErrorReply::same_object());
    }
    if !ctx.store.exists(src_db, &a[1], ctx.now_ms) || ctx.store.exists(dst_db, &a[1], ctx.now_ms) {
        return Ok(Reply::Int(0));
    }
    let e = take(ctx, src_db, &a[1]).expect("exists");
    ctx.modified(&a[1]);
    ctx.notify(notify::GENERIC, "move_from", &a[1]);
    put(ctx, dst_db, &a[1], e);
    ctx.store
        .events
        .raise(notify::GENERIC, "move_to", dst_db, &a[1]);
    Ok(Reply::Int(1))
}

pub fn keys(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let pat = &a[1];
    let all = pat.as_ref() == b"*";
    let now = ctx.now_ms;
    let out: Vec<Reply> = ctx
        .store
        .db(ctx.client.db)
        .iter()
        .filter(|e| !e.is_expired(now) && (all || glob::matches(pat, &e.key, false)))
        .map(|e| Reply::bulk(&e.key))
        .collect();
    Ok(Reply::Array(out))
}

/// SCAN's cursor is the next hash slot to visit: a key present for the whole scan sits in one
/// slot, and every slot is visited once, so it is returned. COUNT is a hint, as in Redis:
/// whole slots are returned, so a call may return more keys than COUNT.
pub fn scan(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cursor = crate::util::num::parse_strtoul(&a[1]).ok_or_else(ErrorReply::invalid_cursor)?;
    let (mut pattern, mut count, mut typ) = (None, 10usize, None);
    let mut i = 2;
    while i < a.len() {
        let val = a.get(i + 1).ok_or_else(ErrorReply::syntax)?;
        if is(&a[i], "MATCH") {
            pattern = Some(val.clone()).filter(|p| p.as_ref() != b"*");
        } else if is(&a[i], "COUNT") {
            let c = int_arg(val)?;
            if c < 1 {
                return Err(ErrorReply::syntax());
            }
            count = c as usize;
        } else if is(&a[i], "TYPE") {
            typ = Some(val.clone());
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 2;
    }
    let now = ctx.now_ms;
    let db = ctx.store.db(ctx.client.db);
    let mut slot = usize::try_from(cursor).unwrap_or(usize::MAX);
    let mut keys = Vec::new();
    // Expired keys the scan meets (past the pattern) are deleted, as Redis's expireIfNeeded.
    let mut expired = Vec::new();
    while slot < SLOTS && keys.len() < count {
        for e in db.slot_entries(slot) {
            if let Some(p) = &pattern {
                if !glob::matches(p, &e.key, false) {
                    continue;
                }
            }
            if e.is_expired(now) {
                expired.push(e.key.to_vec());
                continue;
            }
            if let Some(t) = &typ {
                if !is(t, e.value.type_name()) {
                    continue;
                }
            }
            keys.push(Reply::bulk(&e.key));
        }
        slot += 1;
    }
    let dbi = ctx.client.db;
    for k in expired {
        ctx.store.exists(dbi, &k, now);
    }
    let next = if slot >= SLOTS { 0 } else { slot };
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string().as_bytes()),
        Reply::Array(keys),
    ]))
}

pub fn randomkey(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let db = ctx.client.db;
    for _ in 0..100 {
        let start = ctx.store.rng().gen_range(0..SLOTS);
        let r = ctx.store.rng().gen::<usize>();
        let Some(key) = ctx
            .store
            .db(db)
            .random_entry(start, r, false)
            .map(|e| e.key.to_vec())
        else {
            return Ok(Reply::Nil);
        };
        if ctx.store.exists(db, &key, ctx.now_ms) {
            return Ok(Reply::Bulk(Bytes::from(key)));
        }
    }
    Ok(Reply::Nil)
}

#[derive(Clone, Copy, PartialEq)]
enum Cond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

fn expire_generic(ctx: &mut Ctx, a: &[Bytes], millis: bool, absolute: bool) -> R {
    let cmd = match (millis, absolute) {
        (false, false) => "expire",
        (true, false) => "pexpire",
        (false, true) => "expireat",
        (true, true) => "pexpireat",
    };
    // Redis checks the options before the time argument.
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &a[3..] {
        if is(opt, "NX") {
            nx = true;
        } else if is(opt, "XX") {
            xx = true;
        } else if is(opt, "GT") {
            gt = true;
        } else if is(opt, "LT") {
            lt = true;
        } else {
            return Err(ErrorReply::unsupported_option(opt));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(ErrorReply::nx_xx_gt_lt());
    }
    if gt && lt {
        return Err(ErrorReply::gt_and_lt());
    }
    let when = int_arg(&a[2])?;
    let cond = if nx {
        Cond::Nx
    } else if gt {
        Cond::Gt
    } else if lt {
        Cond::Lt
    } else if xx {
        Cond::Xx
    } else {
        Cond::None
    };
    let mut when = when;
    if !millis {
        if when > i64::MAX / 1000 || when < i64::MIN / 1000 {
            return Err(ErrorReply::invalid_expire(cmd));
        }
        when *= 1000;
    }
    if !absolute {
        if when > i64::MAX - ctx.now_ms as i64 {
            return Err(ErrorReply::invalid_expire(cmd));
        }
        when += ctx.now_ms as i64;
    }
    let db = ctx.client.db;
    let Some(e) = ctx.store.lookup(db, &a[1], ctx.now_ms, false) else {
        return Ok(Reply::Int(0));
    };
    let current = e.expire_at();
    let allowed = match cond {
        Cond::None => true,
        Cond::Nx => current.is_none(),
        Cond::Xx => current.is_some(),
        Cond::Gt => current.is_some_and(|c| when > c as i64),
        Cond::Lt => current.map_or(true, |c| when < c as i64),
    };
    if xx && current.is_none() {
        return Ok(Reply::Int(0));
    }
    if !allowed {
        return Ok(Reply::Int(0));
    }
    // A time already past deletes the key, on a primary (a replica waits for its DEL).
    let event = if when <= ctx.now_ms as i64 && ctx.store.propagation.expiry == ExpiryMode::Delete {
        let lazy = ctx.shared.config().hot.lazy_expire;
        ctx.store.remove(db, &a[1], ctx.now_ms, lazy);
        ctx.propagate_as(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
        "del"
    } else {
        ctx.store
            .db_mut(db)
            .set_expire(&a[1], Some(when.max(0) as u64));
        ctx.propagate_as(super::pexpireat_args(&a[1], when.max(0) as u64));
        "expire"
    };
    ctx.modified(&a[1]);
    ctx.notify(notify::GENERIC, event, &a[1]);
    Ok(Reply::Int(1))
}

pub fn expire(ctx: &mut Ctx, a: &[Bytes]) -> R {
    expire_generic(ctx, a, false, false)
}

pub fn pexpire(ctx: &mut Ctx, a: &[Bytes]) -> R {
    expire_generic(ctx, a, true, false)
}

pub fn expireat(ctx: &mut Ctx, a: &[Bytes]) -> R {
    expire_generic(ctx, a, false, true)
}

pub fn pexpireat(ctx: &mut Ctx, a: &[Bytes]) -> R {
    expire_generic(ctx, a, true, true)
}

/// TTL / PTTL / EXPIRETIME / PEXPIRETIME. The second-resolution forms round to the nearest
/// second, `(ms + 500) / 1000`, computed unsigned as Redis's compiled code effectively does
/// (EXPIRETIME of PEXPIREAT 9223372036854775807 is 9223372036854776).
fn ttl_generic(ctx: &mut Ctx, a: &[Bytes], millis: bool, absolute: bool) -> R {
    let now = ctx.now_ms;
    let Some(e) = ctx.store.lookup_read(ctx.client.db, &a[1], now, false) else {
        return Ok(Reply::Int(-2));
    };
    let Some(at) = e.expire_at() else {
        return Ok(Reply::Int(-1));
    };
    let ms = if absolute { at } else { at.saturating_sub(now) };
    Ok(Reply::Int(if millis {
        ms as i64
    } else {
        ((ms + 500) / 1000) as i64
    }))
}

pub fn ttl(ctx: &mut Ctx, a: &[Bytes]) -> R {
    ttl_generic(ctx, a, false, false)
}

pub fn pttl(ctx: &mut Ctx, a: &[Bytes]) -> R {
    ttl_generic(ctx, a, true, false)
}

pub fn expiretime(ctx: &mut Ctx, a: &[Bytes]) -> R {
    ttl_generic(ctx, a, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx, a: &[Bytes]) -> R {
    ttl_generic(ctx, a, true, true)
}

pub fn persist(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let db = ctx.client.db;
    let has = ctx
        .store
        .lookup(db, &a[1], ctx.now_ms, false)
        .and_then(|e| e.expire_at())
        .is_some();
    if has {
        ctx.store.db_mut(db).set_expire(&a[1], None);
        ctx.modified(&a[1]);
        ctx.notify(notify::GENERIC, "persist", &a[1]);
    }
    Ok(Reply::Int(has as i64))
}

fn object_entry<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Option<&'a mut Entry> {
    ctx.store.lookup(ctx.client.db, key, ctx.now_ms, false)
}

pub fn object_encoding(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(object_entry(ctx, &a[2]).map_or(Reply::Nil, |e| Reply::bulk_static(e.value.encoding())))
}

pub fn object_refcount(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let lru_lfu = !matches!(
        ctx.store.eviction.policy,
        crate::store::EvictionPolicy::NoEviction
    ) && ctx.store.eviction.maxmemory > 0;
    Ok(object_entry(ctx, &a[2]).map_or(Reply::Nil, |e| {
        // Redis shares the integers 0..9999 (refcount INT_MAX) unless maxmemory needs per-key LRU.
        let shared =
            matches!(e.value, crate::store::Value::Int(i) if (0..10000).contains(&i)) && !lru_lfu;
        Reply::Int(if shared { i32::MAX as i64 } else { 1 })
    }))
}

/// OBJECT IDLETIME / FREQ look the key up first (a missing key is nil under any policy),
/// then refuse if the policy does not track what was asked.
pub fn object_idletime(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let clock = ctx.store.lru_clock();
    let lfu = ctx.store.eviction.policy.is_lfu();
    let Some(e) = object_entry(ctx, &a[2]) else {
        return Ok(Reply::Nil);
    };
    if lfu {
        return Err(ErrorReply::lfu_selected());
    }
    Ok(Reply::Int((clock.wrapping_sub(e.lru) / 1000) as i64))
}

pub fn object_freq(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let ev = ctx.store.eviction;
    let Some(e) = object_entry(ctx, &a[2]) else {
        return Ok(Reply::Nil);
    };
    if !ev.policy.is_lfu() {
        return Err(ErrorReply::lfu_not_selected());
    }
    Ok(Reply::Int(crate::store::lfu_decayed(e.lru, &ev) as i64))
}

pub fn object_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    ))
}
