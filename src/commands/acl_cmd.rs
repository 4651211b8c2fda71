//! ACL subcommands: SETUSER GETUSER DELUSER USERS LIST WHOAMI CAT DRYRUN GENPASS LOG LOAD
//! SAVE HELP. The users and rules live in `acl/`; this file turns them into replies and
//! disconnects the clients of deleted or reloaded users.
use super::{flag, int_arg, is, Ctx, Lookup, Resolved};
use crate::acl::check::{Denied, Request};
use crate::acl::user::{READ, WRITE};
use crate::acl::{catalog::CATEGORIES, describe, Session, User};
use crate::protocol::{ErrorReply, Reply};
use crate::state::Shared;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

fn pubsub_all(ctx: &Ctx) -> bool {
    ctx.shared
        .config()
        .get("acl-pubsub-default")
        .is_some_and(|v| v.eq_ignore_ascii_case("allchannels"))
}

fn bulk_string(s: String) -> Reply {
    Reply::bulk(s.as_bytes())
}

pub fn acl_setuser(ctx: &mut Ctx, a: &[Bytes]) -> R {
    for i in 2..a.len() {
        ctx.redact(i);
    }
    let rules: Vec<&[u8]> = a[3..].iter().map(|b| b.as_ref()).collect();
    let all = pubsub_all(ctx);
    let old = ctx
        .shared
        .acl
        .setuser(&a[2], &rules, all)
        .map_err(ErrorReply::err)?;
    if old.is_some() {
        disconnect_revoked_subscribers(ctx, &a[2]);
    }
    Ok(Reply::Ok)
}

/// A user's channel permissions shrank: its clients subscribed to what it may no longer
/// access are disconnected (Redis's ACLKillPubsubClientsIfNeeded).
fn disconnect_revoked_subscribers(ctx: &mut Ctx, name: &[u8]) {
    let Some(user) = ctx.shared.acl.user(name) else {
        return;
    };
    let me = ctx.client.id;
    let subs = ctx.shared.pubsub.subscriptions_by_client();
    for h in ctx.shared.clients.all() {
        if h.view_mut().user.as_bytes() != name {
            continue;
        }
        let Some((channels, patterns)) = subs.get(&h.id) else {
            continue;
        };
        let allowed = |c: &[u8], pattern: bool| {
            user.selectors
                .iter()
                .any(|s| crate::acl::check::channel_allowed(s, c, pattern))
        };
        let revoked = channels.iter().any(|c| !allowed(c, false))
            || patterns.iter().any(|p| !allowed(p, true));
        if revoked {
            super::client_cmd::kill(ctx, &h, me);
        }
    }
}

pub fn acl_getuser(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let Some(u) = ctx.shared.acl.user(&a[2]) else {
        return Ok(Reply::Nil);
    };
    let cat = &ctx.shared.acl.catalog;
    let b = Reply::bulk_static;
    let selectors = u.selectors[1..]
        .iter()
        .map(|s| {
            Reply::Map(vec![
                (b("commands"), bulk_string(describe::command_rules(cat, s))),
                (b("keys"), bulk_string(describe::keys(s))),
                (b("channels"), bulk_string(describe::channels(s))),
            ])
        })
        .collect();
    let root = u.root();
    Ok(Reply::Map(vec![
        (
            b("flags"),
            Reply::Set(u.flag_names().into_iter().map(b).collect()),
        ),
        (
            b("passwords"),
            Reply::Array(
                u.passwords
                    .iter()
                    .map(|p| Reply::bulk(p.as_bytes()))
                    .collect(),
            ),
        ),
        (
            b("commands"),
            bulk_string(describe::command_rules(cat, root)),
        ),
        (b("keys"), bulk_string(describe::keys(root))),
        (b("channels"), bulk_string(describe::channels(root))),
        (b("selectors"), Reply::Array(selectors)),
    ]))
}

pub fn acl_deluser(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let names: Vec<&[u8]> = a[2..].iter().map(|b| b.as_ref()).collect();
    let n = ctx.shared.acl.deluser(&names).map_err(ErrorReply::err)?;
    disconnect_users(ctx, |u| names.contains(&u));
    Ok(Reply::Int(n as i64))
}

/// Disconnects the clients whose user `gone` says no longer stands (the caller after its reply).
fn disconnect_users(ctx: &mut Ctx, gone: impl Fn(&[u8]) -> bool) {
    let me = ctx.client.id;
    for h in ctx.shared.clients.all() {
        let user = h.view_mut().user.clone();
        if gone(user.as_bytes()) {
            super::client_cmd::kill(ctx, &h, me);
        }
    }
}

pub fn acl_users(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Array(
        ctx.shared
            .acl
            .names()
            .iter()
            .map(|n| Reply::bulk(n))
            .collect(),
    ))
}

pub fn acl_list(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let cat = &ctx.shared.acl.catalog;
    Ok(Reply::Array(
        ctx.shared
            .acl
            .all()
            .iter()
            .map(|u| bulk_string(describe::user_line(cat, u)))
            .collect(),
    ))
}

pub fn acl_whoami(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::bulk(&ctx.client.user.name))
}

pub fn acl_cat(ctx: &mut Ctx, a: &[Bytes]) -> R {
    match a.len() {
        2 => Ok(Reply::Array(
            CATEGORIES.iter().map(|c| Reply::bulk_static(c)).collect(),
        )),
        3 => {
            let bit = crate::acl::catalog::category_bit(&a[2]).ok_or_else(|| {
                ErrorReply::err(format!(
                    "Unknown category '{}'",
                    String::from_utf8_lossy(&a[2][..a[2].len().min(128)])
                ))
            })?;
            Ok(Reply::Array(
                ctx.shared
                    .acl
                    .catalog
                    .entries
                    .iter()
                    .filter(|e| e.categories & bit != 0)
                    .map(|e| Reply::bulk_static(e.name))
                    .collect(),
            ))
        }
        _ => Err(ErrorReply::subcommand_syntax(&a[1], "acl")),
    }
}

pub fn acl_dryrun(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let user = ctx.shared.acl.user(&a[2]).ok_or_else(|| {
        ErrorReply::err(format!(
            "User '{}' not found",
            String::from_utf8_lossy(&a[2])
        ))
    })?;
    let args = &a[3..];
    let r = match super::index().lookup(args) {
        Lookup::Found(r) => r,
        Lookup::Container(r) if r.spec.handler.is_some() => r,
        _ => {
            return Err(ErrorReply::err(format!(
                "Command '{}' not found",
                String::from_utf8_lossy(&args[0])
            )))
        }
    };
    if !super::arity_ok(r.spec, args.len()) {
        return Err(ErrorReply::wrong_arity(r.spec.name));
    }
    let check = check_request(ctx.shared, &user, &r, args);
    Ok(match check {
        Ok(()) => Reply::Ok,
        Err(d) => Reply::bulk(&denial_text(r.spec.name, args, d)),
    })
}

/// Checks `args` (resolved as `r`) for `user`: the keys and channels the command table
/// says it touches.
pub fn check_request(sh: &Shared, user: &User, r: &Resolved, args: &[Bytes]) -> Result<(), Denied> {
    let keys: Vec<(usize, u8)> = if r.spec.key_specs.is_empty() && r.flags & flag::KEYS_MIGRATE == 0
    {
        Vec::new()
    } else {
        r.keys(args)
            .unwrap_or_default()
            .into_iter()
            .filter(|k| k.index < args.len())
            .map(|k| (k.index, key_need(k.flags)))
            .collect()
    };
    let channels: Vec<(usize, bool)> = if r.flags & flag::CHANNEL_FIRST_ARG != 0 {
        vec![(1, false)]
    } else if r.flags & flag::CHANNEL_ARGS != 0 {
        (1..args.len()).map(|i| (i, false)).collect()
    } else if r.flags & flag::CHANNEL_PATTERNS != 0 {
        (1..args.len()).map(|i| (i, true)).collect()
    } else {
        Vec::new()
    };
    let req = Request {
        id: r.id,
        args,
        keys: &keys,
        channels: &channels,
    };
    sh.acl.check(user, &req)
}

/// The access a key spec's flags need: reading its value needs R, changing it W; a key
/// whose value is neither read nor changed (EXISTS, TYPE) matches any pattern.
fn key_need(flags: &[&str]) -> u8 {
    let mut need = 0;
    for f in flags {
        match *f {
            "access" => need |= READ,
            "insert" | "delete" | "update" => need |= WRITE,
            _ => {}
        }
    }
    need
}

/// Records an ACL LOG entry with the client's CLIENT LIST line.
pub fn log_event(
    sh: &Shared,
    client: &std::sync::Arc<crate::state::ClientHandle>,
    reason: crate::acl::log::Reason,
    object: Vec<u8>,
    username: Vec<u8>,
    context: &'static str,
) {
    let info = client.list_line(
        &|id| crate::commands::index().all.get(id).map(|(s, _)| s.name),
        0,
    );
    sh.acl.log_event(crate::acl::log::Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        created_ms: crate::state::now_ms(),
        client_info: info,
    });
}

/// Whether the client's user may read any key with this command (SORT BY/GET patterns).
pub(super) fn reads_all_keys(ctx: &mut Ctx, a: &[Bytes]) -> bool {
    let Some(user) = ctx.shared.acl.session_user(&mut ctx.client.user) else {
        return ctx.client.primary_link;
    };
    if user.unrestricted || ctx.client.primary_link {
        return true;
    }
    match super::index().lookup(a) {
        Lookup::Found(r) => {
            crate::acl::check::reads_all_keys(&ctx.shared.acl.catalog, &user, r.id, a)
        }
        _ => false,
    }
}

/// DRYRUN's verdict text. Redis formats the key or channel with `%s`: it ends at a NUL byte.
fn denial_text(fullname: &str, args: &[Bytes], d: Denied) -> Vec<u8> {
    let until_nul = |b: &Bytes| crate::util::cstr::until_nul(b).to_vec();
    let (head, arg, tail): (&str, Vec<u8>, &str) = match d {
        Denied::Command => {
            return format!("This user has no permissions to run the '{fullname}' command")
                .into_bytes()
        }
        Denied::Key(i) => (
            "This user has no permissions to access the '",
            until_nul(&args[i]),
            "' key",
        ),
        Denied::Channel(i) => (
            "This user has no permissions to access the '",
            until_nul(&args[i]),
            "' channel",
        ),
    };
    [head.as_bytes(), &arg, tail.as_bytes()].concat()
}

pub fn acl_genpass(_ctx: &mut Ctx, a: &[Bytes]) -> R {
    let bits = match a.len() {
        2 => 256,
        3 => int_arg(&a[2])?,
        _ => return Err(ErrorReply::subcommand_syntax(&a[1], "acl")),
    };
    if bits <= 0 || bits > 4096 {
        return Err(ErrorReply::acl_genpass_bits());
    }
    let chars = (bits as usize).div_ceil(4);
    let hex: String = (0..chars)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    Ok(Reply::bulk(hex.as_bytes()))
}

pub fn acl_log(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let count = match a.len() {
        2 => 10,
        3 if is(&a[2], "RESET") => {
            ctx.shared.acl.log().reset();
            return Ok(Reply::Ok);
        }
        3 => int_arg(&a[2])?.max(0) as usize,
        _ => return Err(ErrorReply::subcommand_syntax(&a[1], "acl")),
    };
    let now = crate::state::now_ms();
    let b = Reply::bulk_static;
    let log = ctx.shared.acl.log();
    let entries = log
        .newest(count)
        .map(|e| {
            Reply::Map(vec![
                (b("count"), Reply::Int(e.count as i64)),
                (b("reason"), b(e.reason.name())),
                (b("context"), b(e.context)),
                (b("object"), Reply::bulk(&e.object)),
                (b("username"), Reply::bulk(&e.username)),
                (
                    b("age-seconds"),
                    Reply::Double(now.saturating_sub(e.created_ms) as f64 / 1000.0),
                ),
                (b("client-info"), Reply::bulk(e.client_info.as_bytes())),
            ])
        })
        .collect();
    Ok(Reply::Array(entries))
}

fn aclfile(ctx: &Ctx) -> Result<String, ErrorReply> {
    ctx.shared
        .config()
        .get("aclfile")
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .ok_or_else(ErrorReply::acl_no_file)
}

pub fn acl_load(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let file = aclfile(ctx)?;
    let all = pubsub_all(ctx);
    crate::acl::file::load(&ctx.shared.acl, &file, all).map_err(ErrorReply::err)?;
    // Every client of a user other than the default one starts over (as Redis 7.0 does).
    disconnect_users(ctx, |u| u != crate::acl::DEFAULT_USER);
    Ok(Reply::Ok)
}

pub fn acl_save(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let file = aclfile(ctx)?;
    crate::acl::file::save(&ctx.shared.acl, &file).map_err(|e| {
        tracing::warn!(file, error = %e, "ACL SAVE failed");
        ErrorReply::acl_save_failed()
    })?;
    Ok(Reply::Ok)
}

pub fn acl_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    const LINES: &[&str] = &[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::Status(l)).collect(),
    ))
}

/// The client now acts as `user` (AUTH, HELLO AUTH), or as the default user again (RESET).
pub fn switch_user(ctx: &mut Ctx, user: &User) {
    ctx.client.user = Session::for_user(&user.name);
    ctx.client.handle.view_mut().user = String::from_utf8_lossy(&user.name).into_owned();
}
