//! MULTI / EXEC / DISCARD / WATCH / UNWATCH. Queueing and EXEC itself happen in the dispatcher
//! (server/dispatch.rs), which sees every command of a client in MULTI state; the handlers
//! here cover the transitions and the cases the dispatcher passes through.
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use crate::state::Multi;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn multi(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    if ctx.client.multi.is_some() {
        return Err(ErrorReply::multi_nested());
    }
    ctx.client.multi = Some(Multi::default());
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
    for k in &a[1..] {
        ctx.store.watches.watch(ctx.client.id, ctx.client.db, k);
    }
    Ok(Reply::Ok)
}

pub fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.store.watches.unwatch_all(ctx.client.id);
    Ok(Reply::Ok)
}
