//! The Lua environment exactly as Redis 7.0 builds it (script_lua.c, eval.c, function_lua.c):
//! the libraries it loads, the globals allowed while loading them, the `redis` API, the
//! error handler that records where an error happened, and then the lock: the globals table
//! raises "Script attempted to access nonexistent global variable" on unknown reads, and it
//! and every table reachable from it become read-only ("Attempt to modify a readonly table").
use super::api;
use super::libs;
use super::lua::{self, lua_State, State};
use mlua_sys as ffi;
use std::ffi::c_int;

/// Globals the libraries and the API may create while the state is built.
const ALLOWED_GLOBALS: &[&str] = &[
    "string",
    "cjson",
    "bit",
    "cmsgpack",
    "math",
    "table",
    "struct",
    "redis",
    "__redis__err__handler",
    "xpcall",
    "tostring",
    "getfenv",
    "setmetatable",
    "next",
    "assert",
    "tonumber",
    "rawequal",
    "collectgarbage",
    "getmetatable",
    "rawset",
    "pcall",
    "coroutine",
    "type",
    "_G",
    "select",
    "unpack",
    "gcinfo",
    "pairs",
    "rawget",
    "loadstring",
    "ipairs",
    "_VERSION",
    "setfenv",
    "load",
    "error",
    "newproxy",
    "debug",
];

/// Globals Lua's base library defines that scripts must not have (silently dropped).
const DENIED_GLOBALS: &[&str] = &["dofile", "loadfile", "print"];

/// Records the caller's source and line on an error (Redis's error handler, in Lua so it can
/// use the debug library before `debug` is removed from the globals).
const ERROR_HANDLER: &str = "local dbg = debug
debug = nil
local error_handler = function (err)
  local i = dbg.getinfo(2,'nSl')
  if i and i.what == 'C' then
    i = dbg.getinfo(3,'nSl')
  end
  if type(err) ~= 'table' then
    err = {err='ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
return error_handler";

pub const ERROR_HANDLER_KEY: &str = "__ERROR_HANDLER__";
pub const LIBRARY_API_KEY: &str = "__LIBRARY_API__";
pub const GLOBALS_API_KEY: &str = "__GLOBALS_API__";

unsafe extern "C-unwind" fn new_index_allow_list(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 3 {
        lua::raise_str(l, "Wrong number of arguments to luaNewIndexAllowList");
    }
    let allowed = match lua::to_bytes(l, 2) {
        Some(name) => {
            let name = String::from_utf8_lossy(name);
            let ok = ALLOWED_GLOBALS.contains(&name.as_ref());
            if !ok && !DENIED_GLOBALS.contains(&name.as_ref()) {
                tracing::warn!(global = %name, "A key was added to Lua globals which is not on the globals allow list nor listed on the deny list.");
            }
            ok
        }
        None => false,
    };
    if allowed {
        ffi::lua_rawset(l, 1);
    }
    0
}

unsafe extern "C-unwind" fn protected_table_error(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 2 {
        lua::raise_str(l, "Wrong number of arguments to luaProtectedTableError");
    }
    let name = lua::to_bytes(l, 2).map(|b| String::from_utf8_lossy(b).into_owned());
    let msg = format!(
        "Script attempted to access nonexistent global variable '{}'",
        name.unwrap_or_default()
    );
    // luaL_error: the message carries the caller's position.
    ffi::luaL_where(l, 1);
    lua::push_str(l, &msg);
    drop(msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// Sets a metatable raising on reads of missing keys on the table on top of the stack.
unsafe fn set_error_metatable(l: *mut lua_State) {
    ffi::lua_createtable(l, 0, 1);
    lua::set_function(l, -1, "__index", protected_table_error);
    ffi::lua_setmetatable(l, -2);
}

/// Makes the table on top of the stack, the tables it holds and their metatables read-only.
unsafe fn protect_recursively(l: *mut lua_State) {
    if lua::is_readonly(l, -1) {
        return;
    }
    lua::set_readonly(l, -1, true);
    ffi::lua_checkstack(l, 2);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            protect_recursively(l);
        }
        ffi::lua_pop(l, 1);
    }
    if ffi::lua_getmetatable(l, -1) != 0 {
        protect_recursively(l);
        ffi::lua_pop(l, 1);
    }
}

unsafe fn load_lib(l: *mut lua_State, name: &str, open: ffi::lua_CFunction) {
    ffi::lua_pushcfunction(l, open);
    lua::push_str(l, name);
    ffi::lua_call(l, 1, 0);
}

/// The libraries, `pcall`, the `redis` table with the run API, and the rand48 `math.random`
/// (Redis's luaRegisterRedisAPI). The `redis` table is left on the globals.
unsafe fn register_redis_api(l: *mut lua_State) {
    // Only allow-listed globals may be created while the libraries load.
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_createtable(l, 0, 1);
    lua::set_function(l, -1, "__newindex", new_index_allow_list);
    ffi::lua_setmetatable(l, -2);
    ffi::lua_pop(l, 1);

    load_lib(l, "", ffi::luaopen_base);
    load_lib(l, "table", ffi::luaopen_table);
    load_lib(l, "string", ffi::luaopen_string);
    load_lib(l, "math", ffi::luaopen_math);
    load_lib(l, "debug", ffi::luaopen_debug);
    load_lib(l, "cjson", libs::cjson::open);
    load_lib(l, "struct", libs::structlib::open);
    load_lib(l, "cmsgpack", libs::cmsgpack::open);
    load_lib(l, "bit", libs::bit::open);

    ffi::lua_pushcfunction(l, api::pcall);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"pcall".as_ptr());

    ffi::lua_createtable(l, 0, 32);
    api::register_run_api(l);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());

    ffi::lua_getfield_(l, ffi::LUA_GLOBALSINDEX, c"math".as_ptr());
    lua::set_function(l, -1, "random", api::math_random);
    lua::set_function(l, -1, "randomseed", api::math_randomseed);
    ffi::lua_pop(l, 1);
}

/// Runs the error-handler chunk and leaves the handler on the stack.
unsafe fn push_error_handler(l: *mut lua_State) {
    let rc = ffi::luaL_loadbuffer(
        l,
        ERROR_HANDLER.as_ptr() as *const _,
        ERROR_HANDLER.len(),
        c"@err_handler_def".as_ptr(),
    );
    assert_eq!(rc, 0, "error handler compiles");
    ffi::lua_call(l, 0, 1);
}

/// The EVAL engine: globals hold KEYS/ARGV during a run and the error handler as
/// `__redis__err__handler` (eval.c's scriptingInit).
pub fn eval_state() -> State {
    let st = State::new();
    let l = st.0;
    unsafe {
        register_redis_api(l);
        ffi::lua_getfield_(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());
        api::register_eval_extras(l);
        ffi::lua_pop(l, 1);
        push_error_handler(l);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"__redis__err__handler".as_ptr());
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        set_error_metatable(l);
        protect_recursively(l);
        ffi::lua_pop(l, 1);
    }
    st
}

/// The FUNCTION engine (function_lua.c's luaEngineInitEngine): the real globals are kept in
/// the registry; scripts see an empty read-only table whose metatable's __index points at
/// them, switched to the library-loading API (`redis.register_function`, `redis.log`, the
/// version) while FUNCTION LOAD runs a library's top level.
pub fn function_state(register_function: ffi::lua_CFunction) -> State {
    let st = State::new();
    let l = st.0;
    unsafe {
        register_redis_api(l);

        // The globals FUNCTION LOAD code sees: only `redis` with the load API.
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_createtable(l, 0, 8);
        lua::set_function(l, -1, "register_function", register_function);
        api::register_log(l);
        api::register_version(l);
        set_error_metatable(l);
        lua::set_field(l, -2, "redis");
        set_error_metatable(l);
        protect_recursively(l);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"__LIBRARY_API__".as_ptr());

        push_error_handler(l);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"__ERROR_HANDLER__".as_ptr());

        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        set_error_metatable(l);
        protect_recursively(l);
        ffi::lua_pop(l, 1);

        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"__GLOBALS_API__".as_ptr());

        // New globals: empty, read-only, reading through to the real ones.
        ffi::lua_createtable(l, 0, 0);
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        lua::set_field(l, -2, "__index");
        lua::set_readonly(l, -1, true);
        ffi::lua_setmetatable(l, -2);
        lua::set_readonly(l, -1, true);
        ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
    }
    st
}

/// Points the function engine's globals at the load API (`loading`) or back at the run API.
pub unsafe fn switch_globals(l: *mut lua_State, loading: bool) {
    ffi::lua_getmetatable(l, ffi::LUA_GLOBALSINDEX);
    lua::set_readonly(l, -1, false);
    let key = if loading {
        c"__LIBRARY_API__"
    } else {
        c"__GLOBALS_API__"
    };
    ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_setfield(l, -2, c"__index".as_ptr());
    lua::set_readonly(l, -1, true);
    ffi::lua_pop(l, 1);
}
