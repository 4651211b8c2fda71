//! CLIENT subcommands: ID SETNAME GETNAME SETINFO LIST INFO KILL PAUSE UNPAUSE NO-EVICT
//! NO-TOUCH REPLY HELP.
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::state::{After, ClientHandle, Pause, ReplyMode};
use bytes::Bytes;
use std::sync::Arc;

type R = Result<Reply, ErrorReply>;

/// Client names may not contain spaces or special characters (Redis's validateClientName).
pub fn validate_name(name: &[u8]) -> Result<(), ErrorReply> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(ErrorReply::client_name_spaces());
    }
    Ok(())
}

pub fn client_id(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(ctx.client.id as i64))
}

pub fn client_setname(ctx: &mut Ctx, a: &[Bytes]) -> R {
    validate_name(&a[2])?;
    ctx.client.name = (!a[2].is_empty()).then(|| a[2].clone());
    ctx.client
        .handle
        .view
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .name = String::from_utf8_lossy(&a[2]).into_owned();
    Ok(Reply::Ok)
}

pub fn client_getname(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(ctx.client.name.clone().map_or(Reply::Nil, Reply::Bulk))
}

pub fn client_setinfo(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let v = String::from_utf8_lossy(&a[3]).into_owned();
    if v.chars().any(|c| !('!'..='~').contains(&c)) {
        return Err(ErrorReply::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&a[2]).to_ascii_uppercase()
        )));
    }
    if is(&a[2], "LIB-NAME") {
        ctx.client.handle.view_mut().lib_name = v.clone();
        ctx.client.lib_name = Some(v);
    } else if is(&a[2], "LIB-VER") {
        ctx.client.handle.view_mut().lib_ver = v.clone();
        ctx.client.lib_ver = Some(v);
    } else {
        return Err(ErrorReply::err(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(&a[2])
        )));
    }
    Ok(Reply::Ok)
}

/// The size of a request as a RESP multibulk (what it occupies in Redis's query buffer).
fn request_size(a: &[Bytes]) -> usize {
    let digits = |n: usize| n.to_string().len();
    3 + digits(a.len())
        + a.iter()
            .map(|x| 5 + digits(x.len()) + x.len())
            .sum::<usize>()
}

fn cmd_name(id: usize) -> Option<&'static str> {
    super::index().all.get(id).map(|(spec, _)| spec.name)
}

/// The connection's own view is refreshed after each batch; refresh it now so CLIENT LIST/INFO
/// shows this very command.
fn refresh_self(ctx: &Ctx) {
    let mut v = ctx.client.handle.view_mut();
    v.db = ctx.client.db;
    v.resp = if ctx.client.resp == crate::protocol::RespVersion::Resp3 {
        3
    } else {
        2
    };
    v.name = ctx
        .client
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
}

pub fn client_info(ctx: &mut Ctx, a: &[Bytes]) -> R {
    refresh_self(ctx);
    Ok(Reply::Verbatim(Bytes::from(
        ctx.client.handle.list_line(&cmd_name, request_size(a)) + "\n",
    )))
}

fn client_type_ok(h: &ClientHandle, t: &str) -> bool {
    let v = h.view.lock().unwrap_or_else(|e| e.into_inner());
    let pubsub = v.subs.0 + v.subs.1 + v.subs.2 > 0;
    match t {
        "normal" => !v.monitor && v.link.is_none() && !pubsub,
        "pubsub" => pubsub,
        "master" => v.link == Some('M'),
        "replica" | "slave" => v.link == Some('S'),
        _ => false,
    }
}

fn parse_type(t: &[u8]) -> Result<String, ErrorReply> {
    let s = String::from_utf8_lossy(t).to_ascii_lowercase();
    if ["normal", "master", "replica", "slave", "pubsub"].contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(ErrorReply::client_type(t))
    }
}

pub fn client_list(ctx: &mut Ctx, a: &[Bytes]) -> R {
    refresh_self(ctx);
    let mut filter_type = None;
    let mut ids: Option<Vec<u64>> = None;
    if a.len() > 2 {
        if is(&a[2], "TYPE") && a.len() == 4 {
            filter_type = Some(parse_type(&a[3])?);
        } else if is(&a[2], "ID") && a.len() >= 4 {
            let mut v = Vec::new();
            for id in &a[3..] {
                let n = int_arg(id)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ErrorReply::err("Invalid client ID"))?;
                v.push(n as u64);
            }
            ids = Some(v);
        } else {
            return Err(ErrorReply::syntax());
        }
    }
    let mut out = String::new();
    for h in ctx.shared.clients.all() {
        if filter_type
            .as_deref()
            .is_some_and(|t| !client_type_ok(&h, t))
        {
            continue;
        }
        if ids.as_ref().is_some_and(|ids| !ids.contains(&h.id)) {
            continue;
        }
        let qbuf = if h.id == ctx.client.id {
            request_size(a)
        } else {
            0
        };
        out.push_str(&h.list_line(&cmd_name, qbuf));
        out.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    typ: Option<String>,
    addr: Option<String>,
    laddr: Option<String>,
    skipme: bool,
    maxage: Option<u64>,
    user: Option<String>,
}

fn kill_filter(ctx: &Ctx, a: &[Bytes]) -> Result<KillFilter, ErrorReply> {
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    let mut i = 2;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return Err(ErrorReply::syntax());
        };
        let s = String::from_utf8_lossy(v).into_owned();
        if is(&a[i], "ID") {
            f.id = Some(
                int_arg(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ErrorReply::err("client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(&a[i], "TYPE") {
            f.typ = Some(parse_type(v)?);
        } else if is(&a[i], "ADDR") {
            f.addr = Some(s);
        } else if is(&a[i], "LADDR") {
            f.laddr = Some(s);
        } else if is(&a[i], "USER") {
            if ctx.shared.acl.user(v).is_none() {
                return Err(ErrorReply::err(format!("No such user '{s}'")));
            }
            f.user = Some(s);
        } else if is(&a[i], "SKIPME") {
            f.skipme = match s.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(ErrorReply::syntax()),
            };
        } else if is(&a[i], "MAXAGE") {
            f.maxage = Some(int_arg(v)?.max(0) as u64);
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 2;
    }
    Ok(f)
}

fn matches_filter(h: &Arc<ClientHandle>, f: &KillFilter, me: u64) -> bool {
    f.id.map_or(true, |id| h.id == id)
        && f.typ.as_deref().map_or(true, |t| client_type_ok(h, t))
        && f.addr.as_deref().map_or(true, |a| h.addr.to_string() == a)
        && f.laddr
            .as_deref()
            .map_or(true, |a| h.laddr.to_string() == a)
        && f.user.as_deref().map_or(true, |u| h.view_mut().user == u)
        && f.maxage
            .map_or(true, |m| h.created.elapsed().as_secs() >= m)
        && !(f.skipme && h.id == me)
}

pub fn client_kill(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let me = ctx.client.id;
    if a.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = String::from_utf8_lossy(&a[2]).into_owned();
        let Some(h) = ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|h| h.addr.to_string() == addr)
        else {
            return Err(ErrorReply::no_such_client());
        };
        kill(ctx, &h, me);
        return Ok(Reply::Ok);
    }
    let f = kill_filter(ctx, a)?;
    let mut n = 0;
    for h in ctx.shared.clients.all() {
        if matches_filter(&h, &f, me) {
            kill(ctx, &h, me);
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

pub(super) fn kill(ctx: &mut Ctx, h: &Arc<ClientHandle>, me: u64) {
    if h.id == me {
        ctx.client.after = Some(After::Close);
    } else {
        h.kill();
    }
}

pub fn client_pause(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let ms = crate::util::num::parse_i64(&a[2]).ok_or_else(ErrorReply::timeout_invalid)?;
    if ms < 0 {
        return Err(ErrorReply::timeout_negative());
    }
    let write_only = match a.get(3) {
        None => false,
        Some(m) if a.len() == 4 && is(m, "WRITE") => true,
        Some(m) if a.len() == 4 && is(m, "ALL") => false,
        _ => return Err(ErrorReply::syntax()),
    };
    let until = ctx.now_ms.saturating_add(ms as u64);
    // A new pause never shortens an existing one, and ALL wins over WRITE (as Redis).
    let p = ctx.shared.pause_state(ctx.now_ms);
    let until_ms = p.map_or(until, |p| p.until_ms.max(until));
    ctx.shared.set_pause(Pause {
        until_ms,
        write_only: p.map_or(write_only, |p| p.write_only && write_only),
    });
    ctx.store.expiry_paused_until = until_ms;
    Ok(Reply::Ok)
}

pub fn client_unpause(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.shared.set_pause(Pause::default());
    ctx.store.expiry_paused_until = 0;
    Ok(Reply::Ok)
}

fn on_off(arg: &[u8]) -> Result<bool, ErrorReply> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(ErrorReply::syntax())
    }
}

pub fn client_no_evict(ctx: &mut Ctx, a: &[Bytes]) -> R {
    ctx.client.no_evict = on_off(&a[2])?;
    Ok(Reply::Ok)
}

pub fn client_no_touch(ctx: &mut Ctx, a: &[Bytes]) -> R {
    ctx.client.no_touch = on_off(&a[2])?;
    Ok(Reply::Ok)
}

pub fn client_reply(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if is(&a[2], "ON") {
        ctx.client.reply_mode = ReplyMode::On;
        Ok(Reply::Ok)
    } else if is(&a[2], "OFF") {
        ctx.client.reply_mode = ReplyMode::Off;
        Ok(Reply::NoReply)
    } else if is(&a[2], "SKIP") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
        Ok(Reply::NoReply)
    } else {
        Err(ErrorReply::syntax())
    }
}

pub fn client_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    ))
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP].
pub fn client_tracking(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let on = on_off(&a[2])?;
    let mut o = crate::store::tracking::Options::default();
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "REDIRECT") && i + 1 < a.len() {
            let id = int_arg(&a[i + 1])?;
            if id != ctx.client.id as i64 && ctx.shared.clients.get(id.max(0) as u64).is_none() {
                return Err(ErrorReply::redirect_missing());
            }
            o.redirect = Some(id as u64);
            i += 1;
        } else if is(&a[i], "PREFIX") && i + 1 < a.len() {
            o.prefixes.push(a[i + 1].clone());
            i += 1;
        } else if is(&a[i], "BCAST") {
            o.bcast = true;
        } else if is(&a[i], "OPTIN") {
            o.optin = true;
        } else if is(&a[i], "OPTOUT") {
            o.optout = true;
        } else if is(&a[i], "NOLOOP") {
            o.noloop = true;
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 1;
    }
    let id = ctx.client.id;
    if !on {
        ctx.store.tracking.disable(id);
        ctx.client.tracking = false;
        ctx.client.caching = None;
        let mut v = ctx.client.handle.view_mut();
        (v.tracking, v.tracking_bcast, v.tracking_broken) = (false, false, false);
        return Ok(Reply::Ok);
    }
    if !o.bcast && !o.prefixes.is_empty() {
        return Err(ErrorReply::prefix_needs_bcast());
    }
    if o.optin && o.optout {
        return Err(ErrorReply::optin_and_optout());
    }
    if o.bcast && (o.optin || o.optout) {
        return Err(ErrorReply::optin_with_bcast());
    }
    for (x, p) in o.prefixes.iter().enumerate() {
        if let Some(q) = o.prefixes[x + 1..]
            .iter()
            .find(|q| q.starts_with(p) || p.starts_with(q))
        {
            return Err(ErrorReply::prefix_overlap(p, q));
        }
    }
    if let Some(old) = ctx.store.tracking.options(id) {
        if old.bcast != o.bcast {
            return Err(ErrorReply::tracking_switch_bcast());
        }
        // From OPTIN to OPTOUT or back (either way from or to the default is a change).
        if (o.optin && old.optout) || (o.optout && old.optin) {
            return Err(ErrorReply::tracking_switch_opt());
        }
        // Re-enabling adds to the prefixes already registered, which the new ones may not
        // overlap, as in Redis.
        for p in &o.prefixes {
            if let Some(q) = old
                .prefixes
                .iter()
                .find(|q| q.starts_with(p) || p.starts_with(q))
            {
                return Err(ErrorReply::prefix_overlap_existing(p, q));
            }
        }
        let mut merged = old.prefixes.clone();
        merged.append(&mut o.prefixes);
        o.prefixes = merged;
    }
    {
        let mut v = ctx.client.handle.view_mut();
        (v.tracking, v.tracking_bcast, v.tracking_broken) = (true, o.bcast, false);
        v.redirect = o.redirect.map_or(0, |r| r as i64);
    }
    ctx.store.tracking.enable(id, o);
    ctx.client.tracking = true;
    Ok(Reply::Ok)
}

pub fn client_caching(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let Some(o) = ctx
        .store
        .tracking
        .options(ctx.client.id)
        .filter(|o| o.optin || o.optout)
    else {
        return Err(ErrorReply::caching_needs_opt());
    };
    let yes = if is(&a[2], "YES") {
        true
    } else if is(&a[2], "NO") {
        false
    } else {
        return Err(ErrorReply::syntax());
    };
    if yes && !o.optin {
        return Err(ErrorReply::caching_yes_needs_optin());
    }
    if !yes && !o.optout {
        return Err(ErrorReply::caching_no_needs_optout());
    }
    ctx.client.caching = Some(yes);
    Ok(Reply::Ok)
}

pub fn client_getredir(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(
        match ctx.store.tracking.options(ctx.client.id) {
            None => -1,
            Some(o) => o.redirect.map_or(0, |r| r as i64),
        },
    ))
}

pub fn client_trackinginfo(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let b = Reply::bulk_static;
    let (flags, redirect, prefixes) = match ctx.store.tracking.options(ctx.client.id) {
        None => (vec![b("off")], -1, vec![]),
        Some(o) => {
            let mut f = vec![b("on")];
            for (on, name) in [(o.bcast, "bcast"), (o.optin, "optin"), (o.optout, "optout")] {
                if on {
                    f.push(b(name));
                }
            }
            match ctx.client.caching {
                Some(true) => f.push(b("caching-yes")),
                Some(false) => f.push(b("caching-no")),
                None => {}
            }
            if o.noloop {
                f.push(b("noloop"));
            }
            let redirect = o.redirect.map_or(0, |r| r as i64);
            if o.redirect
                .is_some_and(|r| ctx.shared.clients.get(r).is_none())
            {
                f.push(b("broken_redirect"));
            }
            // BCAST without PREFIX listens to the empty prefix, shown as such.
            let prefixes = if o.bcast && o.prefixes.is_empty() {
                vec![Reply::bulk_static("")]
            } else {
                o.prefixes.iter().cloned().map(Reply::Bulk).collect()
            };
            (f, redirect, prefixes)
        }
    };
    Ok(Reply::Map(vec![
        (b("flags"), Reply::Set(flags)),
        (b("redirect"), Reply::Int(redirect)),
        (b("prefixes"), Reply::Array(prefixes)),
    ]))
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocking command.
pub fn client_unblock(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let id = int_arg(&a[2])?;
    let with_error = match a.get(3) {
        None => false,
        Some(m) if is(m, "TIMEOUT") => false,
        Some(m) if is(m, "ERROR") => true,
        Some(_) => return Err(ErrorReply::unblock_reason()),
    };
    let Some(h) = ctx.shared.clients.get(id.max(0) as u64) else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::Int(h.request_unblock(with_error) as i64))
}
