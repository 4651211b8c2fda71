//! COMMAND and its subcommands, all answered from the command table.
use super::{arity_ok, CommandSpec, Ctx, Lookup};
use crate::protocol::{ErrorReply, Reply};
use crate::util::cstr::keyword_eq as is;
use crate::util::glob;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn command(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Array(
        super::index()
            .top_level()
            .map(CommandSpec::info_reply)
            .collect(),
    ))
}

pub fn command_count(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(super::index().top_level().count() as i64))
}

/// Finds a command or `parent|sub` by name.
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((p, sub)) => {
            let parent = super::index().get(p.as_bytes())?;
            super::index()
                .get_sub(parent.spec, sub.as_bytes())
                .map(|r| r.spec)
        }
        None => super::index().get(s.as_bytes()).map(|r| r.spec),
    }
}

pub fn command_info(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() == 2 {
        return command(ctx, a);
    }
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|n| find(n).map_or(Reply::Nil, CommandSpec::info_reply))
            .collect(),
    ))
}

fn docs_reply(spec: &CommandSpec) -> Reply {
    let Reply::Map(mut m) = spec.docs.to_reply() else {
        return spec.docs.to_reply();
    };
    if !spec.subcommands.is_empty() {
        let subs = spec
            .subcommands
            .iter()
            .map(|s| (Reply::bulk_static(s.name), docs_reply(s)))
            .collect();
        m.push((Reply::bulk_static("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(m)
}

pub fn command_docs(_ctx: &mut Ctx, a: &[Bytes]) -> R {
    let specs: Vec<&CommandSpec> = if a.len() == 2 {
        super::index().top_level().collect()
    } else {
        a[2..].iter().filter_map(|n| find(n)).collect()
    };
    Ok(Reply::Map(
        specs
            .into_iter()
            .map(|s| (Reply::bulk_static(s.name), docs_reply(s)))
            .collect(),
    ))
}

pub fn command_list(_ctx: &mut Ctx, a: &[Bytes]) -> R {
    let filter: Box<dyn Fn(&CommandSpec) -> bool> = match a.len() {
        2 => Box::new(|_| true),
        5 if is(&a[2], "FILTERBY") => {
            let v = a[4].clone();
            if is(&a[3], "MODULE") {
                Box::new(|_| false)
            } else if is(&a[3], "ACLCAT") {
                let cat = format!("@{}", String::from_utf8_lossy(&v).to_ascii_lowercase());
                Box::new(move |s| s.acl.contains(&cat.as_str()))
            } else if is(&a[3], "PATTERN") {
                Box::new(move |s| glob::matches(&v, s.name.as_bytes(), true))
            } else {
                return Err(ErrorReply::syntax());
            }
        }
        _ => return Err(ErrorReply::syntax()),
    };
    let mut out = Vec::new();
    for s in super::index().top_level() {
        if filter(s) {
            out.push(Reply::bulk_static(s.name));
        }
        for sub in s.subcommands {
            if filter(sub) {
                out.push(Reply::bulk_static(sub.name));
            }
        }
    }
    Ok(Reply::Array(out))
}

/// Resolves the command in `COMMAND GETKEYS <cmd> args...` and returns its keys.
fn getkeys_of(a: &[Bytes]) -> Result<Vec<super::spec::KeyRef>, ErrorReply> {
    let argv = &a[2..];
    let r = match super::index().lookup(argv) {
        Lookup::Found(r) | Lookup::Container(r) => r,
        _ => return Err(ErrorReply::invalid_command()),
    };
    let spec = r.spec;
    // Redis's order: no key specs at all, then the arity, then the positions themselves.
    if spec.key_specs.is_empty() && !spec.flags.contains(&"movablekeys") {
        return Err(ErrorReply::no_keys_in_command());
    }
    if !arity_ok(spec, argv.len()) {
        return Err(ErrorReply::invalid_arguments_for_getkeys());
    }
    // No key found is a failure too, unless keys are optional for the command.
    match r.keys(argv) {
        Some(keys) if !keys.is_empty() => Ok(keys),
        _ if spec.flags.contains(&"no_mandatory_keys") => Ok(Vec::new()),
        _ => Err(ErrorReply::invalid_keys_for_getkeys()),
    }
}

pub fn command_getkeys(_ctx: &mut Ctx, a: &[Bytes]) -> R {
    let keys = getkeys_of(a)?;
    Ok(Reply::Array(
        keys.iter()
            .map(|k| Reply::Bulk(a[2 + k.index].clone()))
            .collect(),
    ))
}

pub fn command_getkeysandflags(_ctx: &mut Ctx, a: &[Bytes]) -> R {
    let keys = getkeys_of(a)?;
    Ok(Reply::Array(
        keys.iter()
            .map(|k| {
                Reply::Array(vec![
                    Reply::Bulk(a[2 + k.index].clone()),
                    Reply::Set(k.flags.iter().map(|f| Reply::Status(f)).collect()),
                ])
            })
            .collect(),
    ))
}

pub fn command_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    ))
}
