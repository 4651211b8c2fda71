//! Blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP. Each tries its non-blocking core once;
//! with nothing to pop it queues the client on its keys (store::blocking, FIFO per key) and
//! asks the connection to wait (`After::Block`). A write to one of the keys wakes the first
//! waiter, whose command then runs again; the deadline answers with the command's null reply.
//! Inside MULTI/EXEC nothing blocks: the null reply comes at once, as in Redis. Replicas get the
//! pop that ran (LPOP key, LMOVE ..., ZPOPMIN key count), never the blocking form.
use super::lists::{list_move, list_pop_first, parse_list_end, parse_lmpop};
use super::zsets_pop::{parse_zmpop, zmpop_reply, zset_pop_first};
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use crate::state::After;
use crate::store::types::list::End;
use crate::store::types::zset::End as ZEnd;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn list_pop_name(end: End) -> Bytes {
    b(if end == End::Left { "LPOP" } else { "RPOP" })
}

fn zset_pop_name(end: ZEnd) -> Bytes {
    b(if end == ZEnd::Min {
        "ZPOPMIN"
    } else {
        "ZPOPMAX"
    })
}

fn end_name(end: End) -> Bytes {
    b(if end == End::Left { "LEFT" } else { "RIGHT" })
}

/// A blocking timeout in seconds (decimals allowed) as an absolute deadline in unix ms
/// (0 = forever), with Redis 7.0's errors.
pub(super) fn deadline(ctx: &Ctx, arg: &[u8]) -> Result<u64, ErrorReply> {
    let secs = crate::util::num::parse_f64(arg).ok_or_else(ErrorReply::timeout_not_float)?;
    let ms = (secs * 1000.0).ceil();
    // Redis 7.0 converts without a range check: values past LLONG_MAX come out negative.
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(ErrorReply::timeout_negative());
    }
    Ok(if ms == 0.0 {
        0
    } else {
        ctx.now_ms.saturating_add(ms as u64)
    })
}

/// Nothing to pop: wait on `keys` until `deadline_ms`, then answer `on_timeout`.
pub(super) fn block_on(ctx: &mut Ctx, keys: &[Bytes], deadline_ms: u64, on_timeout: Reply) -> R {
    block_on_retrying(ctx, keys, deadline_ms, on_timeout, None)
}

/// `block_on`, running `retry` (instead of the command received) on each wake-up.
pub(super) fn block_on_retrying(
    ctx: &mut Ctx,
    keys: &[Bytes],
    deadline_ms: u64,
    on_timeout: Reply,
    retry: Option<Vec<Bytes>>,
) -> R {
    if ctx.client.in_exec {
        return Ok(on_timeout);
    }
    let (id, db) = (ctx.client.id, ctx.client.db);
    let wake = ctx.client.handle.block_notify.clone();
    for k in keys {
        ctx.store.blocked.register(id, &wake, db, k);
    }
    ctx.client.after = Some(After::Block {
        keys: keys.to_vec(),
        deadline_ms,
        on_timeout,
        retry,
    });
    Ok(Reply::NoReply)
}

/// On a retry after a wake-up, a key that now holds another type keeps the client blocked
/// (Redis 7.0 serves blocked clients only from keys of the right type).
fn retry_ok<T>(ctx: &Ctx, r: Result<Option<T>, ErrorReply>) -> Result<Option<T>, ErrorReply> {
    match r {
        Err(e) if ctx.client.block_retry && e == ErrorReply::wrong_type() => Ok(None),
        other => other,
    }
}

fn bpop(ctx: &mut Ctx, a: &[Bytes], end: End) -> R {
    let keys = &a[1..a.len() - 1];
    let deadline = deadline(ctx, &a[a.len() - 1])?;
    let r = list_pop_first(ctx, keys, end, 1);
    match retry_ok(ctx, r)? {
        Some((key, mut v)) => {
            ctx.propagate_as(vec![list_pop_name(end), key.clone()]);
            Ok(Reply::Array(vec![
                Reply::Bulk(key),
                Reply::Bulk(v.remove(0)),
            ]))
        }
        None => block_on(ctx, keys, deadline, Reply::NilArray),
    }
}

pub fn blpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bpop(ctx, a, End::Left)
}

pub fn brpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bpop(ctx, a, End::Right)
}

pub fn blmpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let deadline = deadline(ctx, &a[1])?;
    let args = parse_lmpop(a, 2)?;
    let r = list_pop_first(ctx, args.keys, args.end, args.count);
    match retry_ok(ctx, r)? {
        Some((key, v)) => {
            let n = Bytes::from(v.len().to_string());
            ctx.propagate_as(vec![list_pop_name(args.end), key.clone(), n]);
            Ok(Reply::Array(vec![
                Reply::Bulk(key),
                Reply::Array(v.into_iter().map(Reply::Bulk).collect()),
            ]))
        }
        None => block_on(ctx, args.keys, deadline, Reply::NilArray),
    }
}

fn bmove(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from: End, to: End, timeout: &[u8]) -> R {
    let deadline = deadline(ctx, timeout)?;
    let r = list_move(ctx, src, dst, from, to);
    // On a retry, a source of another type keeps the client blocked (retry_ok), but a
    // destination of another type is the answer: Redis's serveClientBlockedOnList replies
    // WRONGTYPE to the woken client and leaves the element in the source.
    if let Err(e) = &r {
        let src_is_list = ctx
            .store
            .db(ctx.client.db)
            .get(src)
            .is_some_and(|e| matches!(e.value, crate::store::Value::List(_)));
        if ctx.client.block_retry && *e == ErrorReply::wrong_type() && src_is_list {
            return r.map(|_| Reply::Nil);
        }
    }
    match retry_ok(ctx, r)? {
        Some(e) => {
            let (f, t) = (end_name(from), end_name(to));
            ctx.propagate_as(vec![b("LMOVE"), src.clone(), dst.clone(), f, t]);
            Ok(Reply::Bulk(e))
        }
        None => block_on(ctx, std::slice::from_ref(src), deadline, Reply::Nil),
    }
}

pub fn blmove(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let from = parse_list_end(&a[3])?;
    let to = parse_list_end(&a[4])?;
    bmove(ctx, &a[1], &a[2], from, to, &a[5])
}

pub fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bmove(ctx, &a[1], &a[2], End::Right, End::Left, &a[3])
}

fn bzpop(ctx: &mut Ctx, a: &[Bytes], end: ZEnd) -> R {
    let keys = &a[1..a.len() - 1];
    let deadline = deadline(ctx, &a[a.len() - 1])?;
    let r = zset_pop_first(ctx, keys, end, 1);
    match retry_ok(ctx, r)? {
        Some((key, mut v)) => {
            ctx.propagate_as(vec![zset_pop_name(end), key.clone()]);
            let (member, score) = v.remove(0);
            Ok(Reply::Array(vec![
                Reply::Bulk(key),
                Reply::Bulk(member),
                Reply::Double(score),
            ]))
        }
        None => block_on(ctx, keys, deadline, Reply::NilArray),
    }
}

pub fn bzpopmin(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bzpop(ctx, a, ZEnd::Min)
}

pub fn bzpopmax(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bzpop(ctx, a, ZEnd::Max)
}

pub fn bzmpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let deadline = deadline(ctx, &a[1])?;
    let args = parse_zmpop(a, 2)?;
    let r = zset_pop_first(ctx, args.keys, args.end, args.count);
    match retry_ok(ctx, r)? {
        Some((key, items)) => {
            let n = Bytes::from(items.len().to_string());
            ctx.propagate_as(vec![zset_pop_name(args.end), key.clone(), n]);
            Ok(zmpop_reply(key, items))
        }
        None => block_on(ctx, args.keys, deadline, Reply::NilArray),
    }
}
