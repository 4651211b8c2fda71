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
    c.authenticated = !ctx.shared.acl.auth_required();
    c.user = crate::acl::Session::default();
    c.handle.view_mut().user = "default".into();
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

/// Checks a username/password pair; on success the client acts as that user. A failure is
/// logged in ACL LOG (reason auth, the command name as typed).
fn authenticate(ctx: &mut Ctx, user: &[u8], pass: &[u8], cmd: &Bytes) -> Result<(), ErrorReply> {
    match ctx.shared.acl.authenticate(user, pass) {
        Some(u) => {
            ctx.client.authenticated = true;
            super::switch_user(ctx, &u);
            Ok(())
        }
        None => {
            let context = if ctx.client.multi.is_some() || ctx.client.in_exec {
                "multi"
            } else {
                "toplevel"
            };
            let who = ctx.client.handle.clone();
            super::acl_log_event(
                ctx.shared,
                &who,
                crate::acl::log::Reason::Auth,
                cmd.to_vec(),
                user.to_vec(),
                context,
            );
            Err(ErrorReply::wrong_pass())
        }
    }
}

pub fn auth(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() > 3 {
        return Err(ErrorReply::syntax());
    }
    for i in 1..a.len() {
        ctx.redact(i);
    }
    let (user, pass): (&[u8], &Bytes) = if a.len() == 3 {
        (&a[1], &a[2])
    } else {
        (crate::acl::DEFAULT_USER, &a[1])
    };
    let default_nopass = ctx
        .shared
        .acl
        .user(crate::acl::DEFAULT_USER)
        .is_some_and(|u| u.nopass);
    if a.len() == 2 && default_nopass {
        return Err(ErrorReply::auth_not_configured());
    }
    authenticate(ctx, user, pass, &a[0])?;
    Ok(Reply::Ok)
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
    while i < a.len() {
        if is(&a[i], "AUTH") && i + 2 < a.len() {
            ctx.redact(i + 1);
            ctx.redact(i + 2);
            authenticate(ctx, &a[i + 1], &a[i + 2], &a[0])?;
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
    if ctx.client.needs_auth(&ctx.shared.acl) {
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
