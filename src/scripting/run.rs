//! One script run: the context `redis.call` reaches through the Lua registry (Redis's
//! scriptRunCtx), the count hook that notices a slow script and a SCRIPT KILL, and the call of
//! a compiled function with Redis's error formatting.
use super::lua::{self, lua_State};
use super::{convert, RunFlags};
use crate::protocol::{ErrorReply, Reply};
use crate::state::{Client, Shared};
use crate::store::Store;
use bytes::Bytes;
use mlua_sys as ffi;
use std::ffi::c_int;
use std::time::Instant;

pub const CTX_KEY: &str = "__RUN_CTX__";

/// What the dispatcher needs to run a command on a script's behalf (server/script_call.rs).
pub struct CallState {
    pub flags: RunFlags,
    /// The slot of the keys accessed so far (cluster mode), for Redis's same-slot rule.
    pub slot: Option<u16>,
    /// maxmemory was exceeded when the script started (Redis's pre_command_oom_state).
    pub oom_at_start: bool,
    /// The caller must be obeyed (our primary): no refusals.
    pub obey: bool,
    /// Whether the script's commands reach the replication stream (redis.set_repl).
    pub replicate: bool,
}

/// Runs one command for the script and returns its reply.
pub type CallFn = fn(&Shared, &mut Store, &mut Client, &[Bytes], &mut CallState) -> Reply;

pub struct RunCtx<'a> {
    pub sh: &'a Shared,
    pub store: &'a mut Store,
    pub client: &'a mut Client,
    pub call: CallFn,
    pub state: CallState,
    pub start: Instant,
    /// busy-reply-threshold in ms (0: never).
    pub threshold_ms: u64,
    /// The run handed its tokio worker back (see `leave_worker`).
    pub left_worker: bool,
}

/// The context of the running script, or None outside a run (e.g. while FUNCTION LOAD runs
/// the library's top level).
pub unsafe fn ctx<'a>(l: *mut lua_State) -> Option<&'a mut RunCtx<'a>> {
    let p = lua::get_pointer(l, CTX_KEY) as *mut RunCtx<'a>;
    p.as_mut()
}

/// The count hook (every 100k instructions, as Redis): marks the run timed out once it passes
/// busy-reply-threshold (other clients then get -BUSY) and ends it after SCRIPT/FUNCTION KILL.
pub unsafe extern "C-unwind" fn count_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let killed = match ctx(l) {
        Some(c) => {
            // Every hook call: the hand-over may not have stuck (see leave_worker).
            leave_worker(!c.left_worker);
            c.left_worker = true;
            let elapsed = c.start.elapsed().as_millis() as u64;
            if c.threshold_ms > 0 && elapsed >= c.threshold_ms {
                c.sh.scripting.run.enter_timed_out(elapsed);
            }
            c.sh.scripting.run.killed()
        }
        None => false,
    };
    if killed {
        // Every line from now on raises again, so pcall cannot keep the script alive.
        ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKLINE, 0);
        convert::push_error(l, b"Script killed by user with SCRIPT KILL...", false);
        ffi::lua_error(l);
    }
}

/// A script still running after 100k instructions gives its tokio worker back to the
/// runtime (`block_in_place`), so I/O, timers, the cluster bus and the tasks queued on this
/// worker keep being served while it runs; the script goes on on this thread, which leaves
/// the worker pool when the connection task next yields. Short scripts never get here and pay
/// nothing. The hand-over only sticks if the replacement thread takes the worker's core
/// before the closure returns (otherwise tokio gives the core back to this thread, and the
/// tasks queued on it wait for the script: under CPU load SCRIPT KILL itself could wait
/// forever). So the first call sleeps 1 ms to let it, and every later hook call (each 100k
/// instructions) tries again: once this thread holds no core, block_in_place only runs the
/// closure.
fn leave_worker(first: bool) {
    let multi_thread = crate::util::on_multi_thread_runtime();
    if multi_thread {
        let _ = std::panic::catch_unwind(|| {
            tokio::task::block_in_place(|| {
                if first {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                } else {
                    std::thread::yield_now()
                }
            })
        });
    }
}

/// Calls the function below the error handler on the stack (`[handler, f, args...]` with
/// `nargs` arguments) and converts its result or error into the reply. `name` is what
/// errors cite (`f_<sha>` or the function name).
/// An error the script raised itself is `Err` (counted by the dispatcher); an error reply a
/// failing command already counted comes back as `Ok(Reply::Error)`.
pub unsafe fn call(
    l: *mut lua_State,
    ctx: &mut RunCtx,
    nargs: c_int,
    name: &str,
) -> Result<Reply, ErrorReply> {
    let handler_idx = -(nargs + 2);
    let base = ffi::lua_gettop(l) + handler_idx;
    lua::save_pointer(l, CTX_KEY, ctx as *mut RunCtx as *mut std::ffi::c_void);
    ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, 100_000);
    let err = ffi::lua_pcall(l, nargs, 1, handler_idx);
    let reply = if err != 0 {
        error_reply(l, name)
    } else {
        match convert::pop_reply(l, ctx.client.resp) {
            (Reply::Error(e), false) => Err(e),
            (r, _) => Ok(r),
        }
    };
    ffi::lua_sethook(l, None, 0, 0);
    lua::save_pointer(l, CTX_KEY, std::ptr::null_mut());
    // Drop the error handler (and anything left above the base).
    ffi::lua_settop(l, base);
    reply
}

/// Redis's formatting of a script error: `{err=..., source=..., line=...}` from the error
/// handler becomes "<err> script: <name>, on <source>:<line>."; anything else "Error running
/// script".
unsafe fn error_reply(l: *mut lua_State, name: &str) -> Result<Reply, ErrorReply> {
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        let msg = lua::to_bytes(l, -1)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| "execution failure".into());
        let msg: String = msg.chars().take(100).collect();
        ffi::lua_pop(l, 1);
        return Err(ErrorReply::script(format!(
            "ERR Error running script {name}, {msg}"
        )));
    }
    let info = ErrorInfo::extract(l);
    ffi::lua_pop(l, 1);
    let mut text = info.msg;
    if let (Some(src), Some(line)) = (info.source, info.line) {
        text.push_str(&format!(" script: {name}, on {src}:{line}."));
    }
    let e = ErrorReply::script(text.replace(['\r', '\n'], " "));
    if info.counted {
        // The command that failed already counted this error (errorstats).
        Ok(Reply::Error(e))
    } else {
        Err(e)
    }
}

/// The fields of an error table (Redis's luaExtractErrorInformation).
pub struct ErrorInfo {
    pub msg: String,
    pub source: Option<String>,
    pub line: Option<String>,
    pub counted: bool,
}

impl ErrorInfo {
    pub unsafe fn extract(l: *mut lua_State) -> ErrorInfo {
        let mut info = ErrorInfo {
            msg: String::new(),
            source: None,
            line: None,
            counted: false,
        };
        let t = ffi::lua_type(l, -1);
        if t == ffi::LUA_TSTRING || t == ffi::LUA_TNUMBER {
            info.msg = format!("ERR {}", string_at_top(l).unwrap_or_default());
            return info;
        }
        if t != ffi::LUA_TTABLE {
            return info;
        }
        info.msg = field_string(l, b"err").unwrap_or_default();
        info.source = field_string(l, b"source");
        info.line = field_string(l, b"line");
        lua::raw_get_field(l, -1, b"ignore_error_stats_update");
        info.counted = ffi::lua_toboolean(l, -1) != 0;
        ffi::lua_pop(l, 1);
        info
    }
}

unsafe fn string_at_top(l: *mut lua_State) -> Option<String> {
    lua::to_bytes(l, -1).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// `t[field]` of the table on top, if it is a string (or number). Raw: this runs outside
/// any protected call, where a metamethod raising an error would abort the process.
unsafe fn field_string(l: *mut lua_State, field: &[u8]) -> Option<String> {
    lua::raw_get_field(l, -1, field);
    let v = if ffi::lua_isstring(l, -1) != 0 {
        string_at_top(l)
    } else {
        None
    };
    ffi::lua_pop(l, 1);
    v
}
