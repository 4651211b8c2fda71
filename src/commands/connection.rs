//! Connection commands: PING ECHO QUIT RESET AUTH HELLO SELECT.
use super::Ctx;
use crate::protocol::{ErrorReply, Reply, RespVersion};
use crate::state::{After, ReplyMode};
use crate::util::cstr::keyword_eq as is;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn ping(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if ctx.client.resp == RespVersion::Resp2 && ctx.client.subscribed() && a.len() <= 2 {
        // A subscribed RESP2 client gets PING's answer as a message-shaped array.
        let msg = a.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::bulk_static("pong"),
            Reply::Bulk(msg),
        ]));
    }
    match a.len() {
        1 => Ok(Reply::Status("PONG")),
        2 => Ok(Reply::Bulk(a[1].clone())),
        _ => Err(ErrorReply::wrong_arity("ping")),
    }
}

pub fn echo(_ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Bulk(a[1].clone()))
}

pub fn quit(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.client.after = Some(After::Close);
    Ok(Reply::Ok)
}

pub fn reset(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let c = &mut *ctx.client;
    c.db = 0;
    c.resp = RespVersion::Resp2;
    c.name = None;
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    c.no_touch = false;
    c.authenticated = ctx.shared.config().hot.requirepass.is_none();
    c.multi = None;
    // The connection sees the flag go and stops the feed (server/conn.rs).
    c.monitor = false;
    c.tracking = false;
    c.caching = None;
    ctx.store.watches.unwatch_all(c.id);
    ctx.store.tracking.disable(c.id);
    {
        let mut v = c.handle.view_mut();
        (v.tracking, v.tracking_bcast, v.tracking_broken) = (false, false, false);
        // Before the reply goes out (the feed itself stops after the batch).
        v.monitor = false;
    }
    super::pubsub::unsubscribe_all(ctx.shared, ctx.client);
    Ok(Reply::Status("RESET"))
}

/// Checks a username/password pair against the default user (requirepass).
fn check_password(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> bool {
    if user.is_some_and(|u| u != b"default") {
        return false;
    }
    match &ctx.shared.config().hot.requirepass {
        None => true,
        Some(p) => p.as_bytes() == pass,
    }
}

pub fn auth(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() > 3 {
        return Err(ErrorReply::syntax());
    }
    for i in 1..a.len() {
        ctx.redact(i);
    }
    let (user, pass) = if a.len() == 3 {
        (Some(a[1].as_ref()), &a[2])
    } else {
        (None, &a[1])
    };
    if user.is_none() && ctx.shared.config().hot.requirepass.is_none() {
        return Err(ErrorReply::auth_not_configured());
    }
    if check_password(ctx, user, pass) {
        ctx.client.authenticated = true;
        Ok(Reply::Ok)
    } else {
        Err(ErrorReply::wrong_pass())
    }
}

pub fn hello(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let mut ver = None;
    if a.len() >= 2 {
        let v = crate::util::num::parse_i64(&a[1]).ok_or_else(ErrorReply::proto_version_not_int)?;
        if !(2..=3).contains(&v) {
            return Err(ErrorReply::no_proto());
        }
        ver = Some(if v == 3 {
            RespVersion::Resp3
        } else {
            RespVersion::Resp2
        });
    }
    let mut name = None;
    let mut i = 2;
    let mut authed = false;
    while i < a.len() {
        if is(&a[i], "AUTH") && i + 2 < a.len() {
            ctx.redact(i + 1);
            ctx.redact(i + 2);
            if !check_password(ctx, Some(&a[i + 1]), &a[i + 2]) {
                return Err(ErrorReply::wrong_pass());
            }
            authed = true;
            i += 3;
        } else if is(&a[i], "SETNAME") && i + 1 < a.len() {
            super::client_cmd::validate_name(&a[i + 1])?;
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Err(ErrorReply::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&a[i])
            )));
        }
    }
    if authed {
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(ErrorReply::hello_noauth());
    }
    if let Some(n) = name {
        ctx.client.name = (!n.is_empty()).then_some(n);
    }
    if let Some(v) = ver {
        ctx.client.resp = v;
    }
    let cluster = ctx.shared.config().hot.cluster_enabled;
    let b = Reply::bulk_static;
    Ok(Reply::Map(vec![
        (b("server"), b("redis")),
        (b("version"), b(crate::REDIS_VERSION)),
        (
            b("proto"),
            Reply::Int(if ctx.client.resp == RespVersion::Resp3 {
                3
            } else {
                2
            }),
        ),
        (b("id"), Reply::Int(ctx.client.id as i64)),
        (b("mode"), b(if cluster { "cluster" } else { "standalone" })),
        (b("role"), b("master")),
        (b("modules"), Reply::Array(vec![])),
    ]))
}

pub fn select(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let n = super::keys::int32_arg(&a[1])?;
    if ctx.shared.config().hot.cluster_enabled && n != 0 {
        return Err(ErrorReply::select_cluster());
    }
    ctx.client.db = super::keys::db_arg(ctx, &a[1])?;
    Ok(Reply::Ok)
}
