//! The `redis` table scripts see (Redis 7.0's script_lua.c): call/pcall, error_reply,
//! status_reply, sha1hex, log and its levels, setresp, set_repl and the REPL_* flags,
//! replicate_commands, breakpoint/debug (no debugger: no-ops), acl_check_cmd, the version
//! fields, and the replacements of `pcall` and `math.random`/`math.randomseed`.
use super::convert;
use super::lua::{self, lua_State};
use super::run::{self, RunCtx};
use crate::protocol::RespVersion;
use bytes::Bytes;
use mlua_sys as ffi;
use std::ffi::c_int;

pub const REPL_NONE: f64 = 0.0;
pub const REPL_AOF: f64 = 1.0;
pub const REPL_REPLICA: f64 = 2.0;
pub const REPL_ALL: f64 = 3.0;

/// Fills the table on top of the stack with the API of a script run (EVAL and FCALL).
pub unsafe fn register_run_api(l: *mut lua_State) {
    lua::set_function(l, -1, "call", redis_call);
    lua::set_function(l, -1, "pcall", redis_pcall);
    register_log(l);
    register_version(l);
    lua::set_function(l, -1, "setresp", set_resp);
    lua::set_function(l, -1, "sha1hex", sha1hex);
    lua::set_function(l, -1, "error_reply", error_reply);
    lua::set_function(l, -1, "status_reply", status_reply);
    lua::set_function(l, -1, "set_repl", set_repl);
    lua::set_number(l, -1, "REPL_NONE", REPL_NONE);
    lua::set_number(l, -1, "REPL_AOF", REPL_AOF);
    lua::set_number(l, -1, "REPL_SLAVE", REPL_REPLICA);
    lua::set_number(l, -1, "REPL_REPLICA", REPL_REPLICA);
    lua::set_number(l, -1, "REPL_ALL", REPL_ALL);
    lua::set_function(l, -1, "acl_check_cmd", acl_check_cmd);
}

/// redis.log and the LOG_* levels (also in the FUNCTION LOAD environment).
pub unsafe fn register_log(l: *mut lua_State) {
    lua::set_function(l, -1, "log", log);
    lua::set_number(l, -1, "LOG_DEBUG", 0.0);
    lua::set_number(l, -1, "LOG_VERBOSE", 1.0);
    lua::set_number(l, -1, "LOG_NOTICE", 2.0);
    lua::set_number(l, -1, "LOG_WARNING", 3.0);
}

pub unsafe fn register_version(l: *mut lua_State) {
    let v = crate::REDIS_VERSION;
    let num = v
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0))
        .fold(0u32, |a, b| (a << 8) | b);
    lua::set_number(l, -1, "REDIS_VERSION_NUM", num as f64);
    lua::push_str(l, v);
    lua::set_field(l, -2, "REDIS_VERSION");
}

/// EVAL-only extras: breakpoint/debug (debugger absent), replicate_commands (always on in 7.0).
pub unsafe fn register_eval_extras(l: *mut lua_State) {
    lua::set_function(l, -1, "breakpoint", breakpoint);
    lua::set_function(l, -1, "debug", debug);
    lua::set_function(l, -1, "replicate_commands", replicate_commands);
}

/// Raises the error table on top of the stack.
unsafe fn raise_table(l: *mut lua_State) -> ! {
    ffi::lua_error(l)
}

unsafe fn raise_msg(l: *mut lua_State, msg: &str) -> ! {
    convert::push_error(l, msg.as_bytes(), false);
    raise_table(l)
}

/// The command's arguments from the Lua stack: strings as they are, numbers as `%.17g`.
unsafe fn args_from_stack(l: *mut lua_State) -> Result<Vec<Bytes>, &'static str> {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        return Err("Please specify at least one argument for this redis lib call");
    }
    let mut args = Vec::with_capacity(n as usize);
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TNUMBER => {
                let d = ffi::lua_tonumber(l, i);
                args.push(Bytes::from(crate::util::num::format_g(d, 17)));
            }
            ffi::LUA_TSTRING => args.push(Bytes::copy_from_slice(
                lua::to_bytes(l, i).unwrap_or_default(),
            )),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    ffi::lua_settop(l, 0);
    Ok(args)
}

unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    generic_call(l, true)
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut lua_State) -> c_int {
    generic_call(l, false)
}

/// redis.call / redis.pcall: runs the command through the dispatcher's script path and
/// pushes its reply; an error reply is raised by call, returned by pcall.
unsafe fn generic_call(l: *mut lua_State, raise: bool) -> c_int {
    let is_error = lua::guard(l, || {
        let Some(ctx) = run::ctx(l) else {
            return -1;
        };
        let args = match args_from_stack(l) {
            Ok(a) => a,
            Err(msg) => {
                ffi::lua_settop(l, 0);
                convert::push_error(l, msg.as_bytes(), false);
                return 1;
            }
        };
        let reply = call_command(ctx, &args);
        let err = reply.is_error();
        convert::push_reply(l, &reply, ctx.client.resp);
        err as c_int
    });
    match is_error {
        -1 => raise_msg(
            l,
            "redis.call/pcall can only be called inside a script invocation",
        ),
        1 if raise => raise_table(l),
        _ => 1,
    }
}

/// Runs one command for the script; a panic in the command ends only this call.
fn call_command(ctx: &mut RunCtx, args: &[Bytes]) -> crate::protocol::Reply {
    let (sh, call) = (ctx.sh, ctx.call);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        call(sh, ctx.store, ctx.client, args, &mut ctx.state)
    }));
    r.unwrap_or_else(|_| {
        crate::protocol::Reply::Error(crate::protocol::ErrorReply::script(
            "ERR internal error while running the command".into(),
        ))
    })
}

/// Redis 7's `pcall`: an error object that is a table with an `err` string becomes that
/// string, as older scripts expect.
pub unsafe extern "C-unwind" fn pcall(l: *mut lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            lua::get_field(l, -1, b"err");
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            } else {
                ffi::lua_pop(l, 1);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

unsafe extern "C-unwind" fn sha1hex(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        raise_msg(l, "wrong number of arguments");
    }
    let hex = {
        let s = lua::to_bytes(l, 1).unwrap_or_default();
        super::sha1_hex(s)
    };
    lua::push_str(l, &hex);
    1
}

unsafe extern "C-unwind" fn error_reply(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        convert::push_error(l, b"wrong number or type of arguments", false);
        return 1;
    }
    let text = {
        let s = lua::to_bytes(l, -1).unwrap_or_default();
        let mut v = Vec::with_capacity(s.len() + 1);
        if !s.starts_with(b"-") {
            v.push(b'-');
        }
        v.extend_from_slice(s);
        v
    };
    convert::push_error(l, &text, false);
    drop(text);
    1
}

unsafe extern "C-unwind" fn status_reply(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        convert::push_error(l, b"wrong number or type of arguments", false);
        return 1;
    }
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushvalue(l, -2);
    lua::set_field(l, -2, "ok");
    1
}

unsafe extern "C-unwind" fn set_repl(l: *mut lua_State) -> c_int {
    let Some(ctx) = run::ctx(l) else {
        raise_msg(
            l,
            "redis.set_repl can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        raise_msg(l, "redis.set_repl() requires two arguments.");
    }
    let flags = ffi::lua_tonumber(l, -1) as i64;
    if flags & !3 != 0 {
        raise_msg(
            l,
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    // Without an AOF, only the replica flag matters.
    ctx.state.replicate = flags & 2 != 0;
    0
}

unsafe extern "C-unwind" fn set_resp(l: *mut lua_State) -> c_int {
    let Some(ctx) = run::ctx(l) else {
        raise_msg(
            l,
            "redis.setresp can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        raise_msg(l, "redis.setresp() requires one argument.");
    }
    let resp = ffi::lua_tonumber(l, -1) as i64;
    ctx.client.resp = match resp {
        2 => RespVersion::Resp2,
        3 => RespVersion::Resp3,
        _ => raise_msg(l, "RESP version must be 2 or 3."),
    };
    0
}

unsafe extern "C-unwind" fn log(l: *mut lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc < 2 {
        raise_msg(l, "redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, 1) == 0 {
        raise_msg(l, "First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, 1) as i64;
    if !(0..=3).contains(&level) {
        raise_msg(l, "Invalid debug level.");
    }
    lua::guard(l, || {
        let mut parts = Vec::new();
        for i in 2..=argc {
            if let Some(s) = lua::to_bytes(l, i) {
                parts.push(String::from_utf8_lossy(s).into_owned());
            }
        }
        let msg = parts.join(" ");
        match level {
            0 => tracing::debug!(target: "lua", "{msg}"),
            1 => tracing::info!(target: "lua", "{msg}"),
            2 => tracing::info!(target: "lua", "{msg}"),
            _ => tracing::warn!(target: "lua", "{msg}"),
        }
        0
    })
}

unsafe extern "C-unwind" fn breakpoint(l: *mut lua_State) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

unsafe extern "C-unwind" fn debug(_l: *mut lua_State) -> c_int {
    0
}

unsafe extern "C-unwind" fn replicate_commands(l: *mut lua_State) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

/// Whether the script's user (its caller's) may run the command given: true, or nil when
/// refused (nothing is logged). Unknown commands are an error, as in Redis.
unsafe extern "C-unwind" fn acl_check_cmd(l: *mut lua_State) -> c_int {
    let Some(ctx) = run::ctx(l) else {
        raise_msg(
            l,
            "redis.acl_check_cmd can only be called inside a script invocation",
        );
    };
    let args = match args_from_stack(l) {
        Ok(args) => args,
        Err(msg) => {
            convert::push_error(l, msg.as_bytes(), false);
            raise_table(l)
        }
    };
    let r = match crate::commands::index().lookup(&args) {
        crate::commands::Lookup::Found(r) | crate::commands::Lookup::Container(r) => r,
        _ => raise_msg(l, "Invalid command passed to redis.acl_check_cmd()"),
    };
    let allowed = match ctx.sh.acl.session_user(&mut ctx.client.user) {
        Some(user) => crate::commands::acl_check_request(ctx.sh, &user, &r, &args).is_ok(),
        None => false,
    };
    if allowed {
        ffi::lua_pushboolean(l, 1);
    } else {
        ffi::lua_pushnil(l);
    }
    1
}

/// math.random as Redis 7.0 ships it: Lua's own algorithm over rand48, so a seed gives the
/// same sequence on every platform.
pub unsafe extern "C-unwind" fn math_random(l: *mut lua_State) -> c_int {
    let Some(ctx) = run::ctx(l) else {
        raise_msg(
            l,
            "math.random can only be called inside a script invocation",
        );
    };
    let max = i32::MAX as f64;
    let r = (ctx.sh.scripting.rand48() as i64 % i32::MAX as i64) as f64 / max;
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let u = ffi::luaL_checkinteger(l, 1) as i32;
            if u < 1 {
                ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
        }
        2 => {
            let lo = ffi::luaL_checkinteger(l, 1) as i32;
            let u = ffi::luaL_checkinteger(l, 2) as i32;
            if lo > u {
                ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * (u as f64 - lo as f64 + 1.0)).floor() + lo as f64);
        }
        _ => lua::raise_str(l, "wrong number of arguments"),
    }
    1
}

pub unsafe extern "C-unwind" fn math_randomseed(l: *mut lua_State) -> c_int {
    let Some(ctx) = run::ctx(l) else {
        raise_msg(
            l,
            "math.randomseed can only be called inside a script invocation",
        );
    };
    let seed = ffi::luaL_checkinteger(l, 1) as i32;
    ctx.sh.scripting.srand48(seed);
    0
}
