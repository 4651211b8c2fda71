//! FUNCTION LOAD|DELETE|LIST|DUMP|RESTORE|FLUSH|STATS|KILL|HELP (functions.c).
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use crate::scripting::flags;
use crate::scripting::functions::{self, RestorePolicy};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

fn engine<T>(ctx: &Ctx, f: impl FnOnce(&mut functions::FunctionEngine) -> T) -> T {
    let mut g = ctx.shared.scripting.engines();
    let e = &mut g.as_mut().expect("created by engines()").functions;
    let r = f(e);
    ctx.shared.scripting.note_counts(e);
    r
}

/// FUNCTION LOAD [REPLACE] function-code
pub fn function_load(ctx: &mut Ctx, args: &[Bytes]) -> R {
    let mut replace = false;
    for a in &args[2..args.len() - 1] {
        if !a.eq_ignore_ascii_case(b"replace") {
            return Err(ErrorReply::script_err(&format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(a)
            )));
        }
        replace = true;
    }
    let code = &args[args.len() - 1];
    let name = engine(ctx, |e| e.load(code, replace)).map_err(|e| ErrorReply::script_err(&e))?;
    ctx.store.dirty += 1;
    Ok(Reply::Bulk(Bytes::from(name)))
}

/// FUNCTION DELETE library-name
pub fn function_delete(ctx: &mut Ctx, args: &[Bytes]) -> R {
    if !engine(ctx, |e| e.delete(&args[2])) {
        return Err(ErrorReply::library_not_found());
    }
    ctx.store.dirty += 1;
    Ok(Reply::Ok)
}

/// FUNCTION FLUSH [ASYNC|SYNC]
pub fn function_flush(ctx: &mut Ctx, args: &[Bytes]) -> R {
    if args.len() > 3 {
        return Err(ErrorReply::subcommand_syntax(&args[1], "FUNCTION"));
    }
    super::scripting::flush_mode(args, ErrorReply::function_flush_option())?;
    engine(ctx, |e| e.flush());
    ctx.store.dirty += 1;
    Ok(Reply::Ok)
}

/// FUNCTION KILL: only reaches here when no script runs (see SCRIPT KILL).
pub fn function_kill(ctx: &mut Ctx, _args: &[Bytes]) -> R {
    super::scripting::kill_reply(ctx.shared, false)
}

/// FUNCTION STATS
pub fn function_stats(ctx: &mut Ctx, _args: &[Bytes]) -> R {
    stats_reply(ctx.shared)
}

/// FUNCTION STATS's reply; also served while a script is busy (server/busy.rs), so it
/// reads nothing behind the engines' lock the script holds.
pub fn stats_reply(sh: &crate::state::Shared) -> R {
    let running = sh
        .scripting
        .run
        .current()
        .filter(|_| sh.scripting.run.running());
    if running.as_ref().is_some_and(|r| r.eval) {
        return Err(ErrorReply::busy_eval());
    }
    let running = match running {
        None => Reply::Nil,
        Some(r) => Reply::Map(vec![
            (Reply::bulk_static("name"), Reply::Bulk(Bytes::from(r.name))),
            (
                Reply::bulk_static("command"),
                Reply::Array(r.args.into_iter().map(Reply::Bulk).collect()),
            ),
            (
                Reply::bulk_static("duration_ms"),
                Reply::Int(r.start.elapsed().as_millis() as i64),
            ),
        ]),
    };
    let (libraries, functions) = sh.scripting.counts();
    Ok(Reply::Map(vec![
        (Reply::bulk_static("running_script"), running),
        (
            Reply::bulk_static("engines"),
            Reply::Map(vec![(
                Reply::bulk_static("LUA"),
                Reply::Map(vec![
                    (
                        Reply::bulk_static("libraries_count"),
                        Reply::Int(libraries as i64),
                    ),
                    (
                        Reply::bulk_static("functions_count"),
                        Reply::Int(functions as i64),
                    ),
                ]),
            )]),
        ),
    ]))
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
pub fn function_list(ctx: &mut Ctx, args: &[Bytes]) -> R {
    let (mut with_code, mut pattern): (bool, Option<&Bytes>) = (false, None);
    let mut i = 2;
    while i < args.len() {
        if !with_code && args[i].eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && args[i].eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= args.len() {
                return Err(ErrorReply::library_name_missing());
            }
            i += 1;
            pattern = Some(&args[i]);
        } else {
            return Err(ErrorReply::unknown_argument(&args[i]));
        }
        i += 1;
    }
    let libs = engine(ctx, |e| {
        e.libraries()
            .filter(|l| {
                pattern.is_none_or(|p| crate::util::glob::matches(p, l.name.as_bytes(), true))
            })
            .map(|l| library_reply(l, with_code))
            .collect()
    });
    Ok(Reply::Array(libs))
}

fn library_reply(l: &functions::Library, with_code: bool) -> Reply {
    let fs = l
        .functions
        .values()
        .map(|f| {
            Reply::Map(vec![
                (Reply::bulk_static("name"), Reply::bulk_str(&f.name)),
                (
                    Reply::bulk_static("description"),
                    f.desc.clone().map(Reply::Bulk).unwrap_or(Reply::Nil),
                ),
                (
                    Reply::bulk_static("flags"),
                    Reply::Set(
                        flags::NAMES
                            .iter()
                            .filter(|(bit, _)| f.flags & bit != 0)
                            .map(|(_, n)| Reply::Status(n))
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    let mut m = vec![
        (Reply::bulk_static("library_name"), Reply::bulk_str(&l.name)),
        (Reply::bulk_static("engine"), Reply::bulk_static("LUA")),
        (Reply::bulk_static("functions"), Reply::Array(fs)),
    ];
    if with_code {
        m.push((
            Reply::bulk_static("library_code"),
            Reply::Bulk(l.code.clone()),
        ));
    }
    Reply::Map(m)
}

/// FUNCTION DUMP
pub fn function_dump(ctx: &mut Ctx, _args: &[Bytes]) -> R {
    let opts = crate::store::rdb::encode::Options::from_config(&ctx.shared.config());
    let payload = engine(ctx, |e| functions::dump_payload(e, &opts));
    Ok(Reply::Bulk(Bytes::from(payload)))
}

/// FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]
pub fn function_restore(ctx: &mut Ctx, args: &[Bytes]) -> R {
    if args.len() > 4 {
        return Err(ErrorReply::subcommand_syntax(&args[1], "FUNCTION"));
    }
    let policy = match args.get(3) {
        None => RestorePolicy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => RestorePolicy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => RestorePolicy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => RestorePolicy::Flush,
        Some(_) => return Err(ErrorReply::restore_policy()),
    };
    if !crate::store::rdb::decode::verify_payload(&args[2]) {
        return Err(ErrorReply::dump_payload());
    }
    let codes = crate::store::rdb::decode::function_payload_codes(&args[2])
        .map_err(ErrorReply::script_err)?;
    let codes = codes.into_iter().map(Bytes::from).collect();
    engine(ctx, |e| e.restore(codes, policy)).map_err(|e| ErrorReply::script_err(&e))?;
    ctx.store.dirty += 1;
    Ok(Reply::Ok)
}

/// FUNCTION HELP
pub fn function_help(_ctx: &mut Ctx, _args: &[Bytes]) -> R {
    Ok(super::help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    ))
}
