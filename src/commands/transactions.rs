//! MULTI / EXEC / DISCARD / WATCH / UNWATCH. Queueing and EXEC itself happen in the dispatcher
//! (server/dispatch.rs), which sees every command of a client in MULTI state; the handlers
//! here cover the transitions and the cases the dispatcher passes through.
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use crate::state::Multi;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn multi(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    begin(ctx.client)
}

/// MULTI touches only the client: it is also served while a script holds the store
/// (server/busy.rs).
pub fn begin(client: &mut crate::state::Client) -> R {
    if client.multi.is_some() {
        return Err(ErrorReply::multi_nested());
    }
    client.multi = Some(Multi::default());
    Ok(Reply::Ok)
}

/// Reached only outside MULTI: inside one, the dispatcher runs the transaction.
pub fn exec(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Err(ErrorReply::exec_without_multi())
}

pub fn discard(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    if ctx.client.multi.take().is_none() {
        return Err(ErrorReply::discard_without_multi());
    }
    ctx.store.watches.unwatch_all(ctx.client.id);
    Ok(Reply::Ok)
}

pub fn watch(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if ctx.client.multi.is_some() {
        return Err(ErrorReply::watch_in_multi());
    }
    let now = ctx.now_ms;
    let db = ctx.client.db;
    for k in &a[1..] {
        let expired = ctx.store.db(db).get(k).is_some_and(|e| e.is_expired(now));
        ctx.store.watches.watch(ctx.client.id, db, k, expired);
    }
    Ok(Reply::Ok)
}

pub fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.store.watches.unwatch_all(ctx.client.id);
    Ok(Reply::Ok)
}
