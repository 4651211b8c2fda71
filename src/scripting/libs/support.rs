//! Helpers shared by the bundled libraries: a growable byte buffer owned by the Lua state (so
//! a Lua error raised while it is in use frees it with the next collection instead of leaking
//! it), `luaL_error`/`luaL_argerror` with the `!` type, and C's double-to-integer casts as
//! x86-64 performs them (the C libraries rely on them for out-of-range values).
use mlua_sys as ffi;
use std::ffi::{c_char, c_int, CStr};

pub use crate::scripting::lua::lua_State;

const BUFFER_META: &CStr = c"slotcache.libs.buffer";

/// `luaL_error(l, fmt, args...)`, typed `!`. The C format (a `&CStr`) is Lua's subset of printf
/// (`%s`, `%d` taking an int, `%c`, `%f`); no Rust value with a destructor may be alive.
macro_rules! raise {
    ($l:expr, $fmt:expr $(, $arg:expr)* $(,)?) => {{
        mlua_sys::luaL_error($l, $fmt.as_ptr() $(, $arg)*);
        mlua_sys::lua_error($l)
    }};
}
pub(crate) use raise;

/// `luaL_argerror`, typed `!`.
pub unsafe fn arg_error(l: *mut lua_State, narg: c_int, msg: *const c_char) -> ! {
    ffi::luaL_argerror(l, narg, msg);
    ffi::lua_error(l)
}

/// lauxlib's `luaL_checkstack` as Lua 5.1 defines it ("stack overflow (msg)").
pub unsafe fn check_stack(l: *mut lua_State, n: c_int, msg: &CStr) {
    if ffi::lua_checkstack(l, n) == 0 {
        raise!(l, c"stack overflow (%s)", msg.as_ptr());
    }
}

/// Pushes a userdata holding an empty `Vec<u8>` that is dropped when the userdata is
/// collected, and returns a pointer to it. It stays valid while the userdata is on the stack.
pub unsafe fn push_buffer(l: *mut lua_State) -> *mut Vec<u8> {
    let p = ffi::lua_newuserdata(l, std::mem::size_of::<Vec<u8>>()) as *mut Vec<u8>;
    p.write(Vec::new());
    if ffi::luaL_newmetatable_(l, BUFFER_META.as_ptr()) != 0 {
        ffi::lua_pushcfunction(l, buffer_gc);
        ffi::lua_setfield(l, -2, c"__gc".as_ptr());
    }
    ffi::lua_setmetatable(l, -2);
    p
}

unsafe extern "C-unwind" fn buffer_gc(l: *mut lua_State) -> c_int {
    let p = ffi::lua_touserdata(l, 1) as *mut Vec<u8>;
    if !p.is_null() {
        std::ptr::drop_in_place(p);
        p.write(Vec::new());
    }
    0
}

/// Pushes the buffer's bytes as a string and releases its memory.
pub unsafe fn push_buffer_result(l: *mut lua_State, buf: *mut Vec<u8>) {
    ffi::lua_pushlstring_(l, (*buf).as_ptr() as *const c_char, (*buf).len());
    *buf = Vec::new();
}

const TWO_63: f64 = 9223372036854775808.0;

/// `(int64_t)d`: out-of-range values and NaN give `i64::MIN` (cvttsd2si).
pub fn c_i64(d: f64) -> i64 {
    if (-TWO_63..TWO_63).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// `(int)d`: out-of-range values and NaN give `i32::MIN`.
pub fn c_i32(d: f64) -> i32 {
    if d > -2147483649.0 && d < 2147483648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// `(uint64_t)d` as gcc compiles it for x86-64.
pub fn c_u64(d: f64) -> u64 {
    if d >= TWO_63 {
        (c_i64(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        c_i64(d) as u64
    }
}

#[cfg(test)]
pub mod testing {
    use crate::scripting::lua::State;
    use mlua_sys as ffi;

    /// A state with the standard libraries and the four bundled ones.
    pub fn state() -> State {
        let s = State::new();
        unsafe {
            ffi::luaL_openlibs(s.0);
            let libs: [(&str, ffi::lua_CFunction); 4] = [
                ("bit", super::super::bit::open),
                ("cjson", super::super::cjson::open),
                ("cmsgpack", super::super::cmsgpack::open),
                ("struct", super::super::structlib::open),
            ];
            for (name, f) in libs {
                ffi::lua_pushcfunction(s.0, f);
                crate::scripting::lua::push_str(s.0, name);
                assert_eq!(ffi::lua_pcall(s.0, 1, 0, 0), 0);
            }
        }
        s
    }

    /// Runs `code`; its results as text (strings as bytes, lossily) or the error message.
    pub fn run(s: &State, code: &str) -> Result<Vec<String>, String> {
        unsafe {
            let l = s.0;
            ffi::lua_settop(l, 0);
            let rc = ffi::luaL_loadbuffer(l, code.as_ptr() as _, code.len(), c"=test".as_ptr());
            if rc != 0 || ffi::lua_pcall(l, 0, ffi::LUA_MULTRET, 0) != 0 {
                let msg = crate::scripting::lua::to_bytes(l, -1).unwrap_or(b"?");
                return Err(String::from_utf8_lossy(msg).into_owned());
            }
            let mut out = Vec::new();
            for i in 1..=ffi::lua_gettop(l) {
                out.push(match ffi::lua_type(l, i) {
                    ffi::LUA_TNIL => "nil".to_string(),
                    ffi::LUA_TBOOLEAN => (ffi::lua_toboolean(l, i) != 0).to_string(),
                    ffi::LUA_TNUMBER | ffi::LUA_TSTRING => {
                        let b = crate::scripting::lua::to_bytes(l, i).unwrap();
                        String::from_utf8_lossy(b).into_owned()
                    }
                    t => std::ffi::CStr::from_ptr(ffi::lua_typename(l, t))
                        .to_string_lossy()
                        .into_owned(),
                });
            }
            ffi::lua_settop(l, 0);
            Ok(out)
        }
    }

    /// An error message without the "test:<line>: " that luaL_error puts before it when a Lua
    /// function called the library function.
    fn strip_position(e: &str) -> String {
        match e.strip_prefix("test:").and_then(|r| r.split_once(": ")) {
            Some((line, rest)) if line.bytes().all(|b| b.is_ascii_digit()) => rest.to_string(),
            _ => e.to_string(),
        }
    }

    /// Lua helpers for test chunks: `eq(got, want)`, `err(f, ...)` (the error `f(...)` raises)
    /// and `hex(s)`. Errors report the failing line of the chunk.
    const PRELUDE: &str = r#"local function eq(got, want)
  if got ~= want then error(string.format('got %q, want %q', tostring(got), tostring(want)), 2) end
end
local function err(f, ...)
  local ok, e = pcall(f, ...)
  if ok then error('no error raised', 2) end
  return (tostring(e):gsub('^test:%d+: ', ''))
end
local function hex(s)
  return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end
"#;

    /// Runs the test chunk `code` (after the prelude) in a fresh state; panics on an error.
    pub fn check(code: &str) {
        if let Err(e) = run(&state(), &format!("{PRELUDE}{code}")) {
            panic!("{e}");
        }
    }

    /// Runs `code` in a fresh state and returns its results joined by spaces.
    pub fn eval(code: &str) -> Result<String, String> {
        run(&state(), code)
            .map(|v| v.join(" "))
            .map_err(|e| strip_position(&e))
    }
}
