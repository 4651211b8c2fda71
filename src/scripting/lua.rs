//! The thin layer over the Lua 5.1 C API (mlua-sys): an owned state, the read-only table
//! switch of our patched Lua (vendor/lua-5.1.5/PATCHES.md), and stack helpers.
//!
//! Contract for every `extern "C-unwind"` function registered with Lua: Lua raises errors by
//! `longjmp`, which skips Rust destructors. So a function that may raise (`raise`, or a Lua
//! API call that can fail) holds no value with a destructor at that point: it computes into
//! owned values inside an inner scope, drops them, then raises. Panics are caught at the
//! boundary (`guard`) and become Lua errors, never unwinding through C frames.
use mlua_sys as ffi;
use std::ffi::{c_char, c_int, c_void};

pub use ffi::lua_State;

extern "C-unwind" {
    fn lua_enablereadonlytable(l: *mut lua_State, idx: c_int, enabled: c_int);
    fn lua_isreadonlytable(l: *mut lua_State, idx: c_int) -> c_int;
}

/// An owned Lua state, closed on drop. Only used under the scripting mutex.
pub struct State(pub *mut lua_State);

// The state is only touched by the thread holding the scripting mutex.
unsafe impl Send for State {}

impl Drop for State {
    fn drop(&mut self) {
        unsafe { ffi::lua_close(self.0) }
    }
}

impl State {
    pub fn new() -> State {
        let l = unsafe { ffi::luaL_newstate() };
        assert!(!l.is_null(), "Lua state allocation failed");
        State(l)
    }

    /// Bytes of memory the state uses (Redis's `luaMemory`).
    pub fn memory(&self) -> usize {
        unsafe { ffi::lua_gc(self.0, ffi::LUA_GCCOUNT, 0) as usize * 1024 }
    }
}

pub unsafe fn set_readonly(l: *mut lua_State, idx: c_int, on: bool) {
    lua_enablereadonlytable(l, idx, on as c_int)
}

pub unsafe fn is_readonly(l: *mut lua_State, idx: c_int) -> bool {
    lua_isreadonlytable(l, idx) != 0
}

pub unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len());
}

pub unsafe fn push_str(l: *mut lua_State, s: &str) {
    push_bytes(l, s.as_bytes())
}

/// The string at `idx` (numbers are converted in place, as `lua_tolstring` does).
pub unsafe fn to_bytes<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p as *const u8, len))
    }
}

/// The string at `idx` only if it really is a string (no number conversion).
pub unsafe fn string_at<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    if ffi::lua_type(l, idx) == ffi::LUA_TSTRING {
        to_bytes(l, idx)
    } else {
        None
    }
}

pub unsafe fn get_field(l: *mut lua_State, idx: c_int, k: &[u8]) {
    let idx = abs_index(l, idx);
    push_bytes(l, k);
    ffi::lua_gettable(l, idx);
}

pub unsafe fn raw_get_field(l: *mut lua_State, idx: c_int, k: &[u8]) -> c_int {
    let idx = abs_index(l, idx);
    push_bytes(l, k);
    ffi::lua_rawget(l, idx);
    ffi::lua_type(l, -1)
}

/// `t[k] = top` for the table at `idx` (pops the value).
pub unsafe fn set_field(l: *mut lua_State, idx: c_int, k: &str) {
    let idx = abs_index(l, idx);
    push_str(l, k);
    ffi::lua_insert(l, -2);
    ffi::lua_settable(l, idx);
}

pub unsafe fn abs_index(l: *mut lua_State, idx: c_int) -> c_int {
    if idx > 0 || idx <= ffi::LUA_REGISTRYINDEX {
        idx
    } else {
        ffi::lua_gettop(l) + idx + 1
    }
}

/// `t[name] = f` for the table at `idx` (as it is before the call).
pub unsafe fn set_function(l: *mut lua_State, idx: c_int, name: &str, f: ffi::lua_CFunction) {
    let idx = abs_index(l, idx);
    ffi::lua_pushcfunction(l, f);
    set_field(l, idx, name);
}

pub unsafe fn set_number(l: *mut lua_State, idx: c_int, name: &str, n: f64) {
    let idx = abs_index(l, idx);
    ffi::lua_pushnumber(l, n);
    set_field(l, idx, name);
}

/// Raises `msg` as a plain Lua error string (`luaL_error` without position formatting).
pub unsafe fn raise_str(l: *mut lua_State, msg: &str) -> ! {
    push_str(l, msg);
    ffi::lua_error(l)
}

/// A raw pointer kept in the registry under `key` (Redis's luaSaveOnRegistry).
pub unsafe fn save_pointer(l: *mut lua_State, key: &str, p: *mut c_void) {
    push_str(l, key);
    if p.is_null() {
        ffi::lua_pushnil(l);
    } else {
        ffi::lua_pushlightuserdata(l, p);
    }
    ffi::lua_settable(l, ffi::LUA_REGISTRYINDEX);
}

pub unsafe fn get_pointer(l: *mut lua_State, key: &str) -> *mut c_void {
    push_str(l, key);
    ffi::lua_gettable(l, ffi::LUA_REGISTRYINDEX);
    let p = ffi::lua_touserdata(l, -1);
    ffi::lua_pop(l, 1);
    p
}

/// Runs `f`, turning a panic into a Lua error so it never unwinds through Lua's C frames.
pub unsafe fn guard(l: *mut lua_State, f: impl FnOnce() -> c_int) -> c_int {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(n) => n,
        Err(_) => raise_str(l, "internal error in a Redis Lua library function"),
    }
}

/// Lua's `%.14g` for numbers (tostring), used where Redis relies on `lua_tostring`.
pub fn number_to_string(n: f64) -> String {
    crate::util::num::format_g(n, 14)
}
