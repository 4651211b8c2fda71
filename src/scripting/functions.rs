//! FUNCTION libraries (functions.c, function_lua.c): `#!lua name=<lib>` code whose top level
//! registers functions with `redis.register_function`; the registry of libraries and
//! functions; FCALL's run; FUNCTION LIST/DUMP/RESTORE data. The Lua engine is one state for
//! all libraries, as in Redis.
use super::lua::{self, lua_State, State};
use super::run::{self, RunCtx};
use super::{flags, sandbox, RunFlags};
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;
use mlua_sys as ffi;
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::time::{Duration, Instant};

/// How long a library's top level may run in FUNCTION LOAD.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
const LOAD_CTX_KEY: &str = "__LIBRARY_CTX__";

pub struct Function {
    pub name: String,
    pub desc: Option<Bytes>,
    pub flags: RunFlags,
    /// Reference of the callback in the Lua registry.
    fref: c_int,
}

pub struct Library {
    pub name: String,
    pub code: Bytes,
    /// By function name.
    pub functions: BTreeMap<String, Function>,
}

pub struct FunctionEngine {
    state: State,
    /// By library name.
    libraries: BTreeMap<String, Library>,
    /// Lowercased function name -> (library name, function name as registered).
    index: BTreeMap<String, (String, String)>,
    calls: u32,
}

/// What FUNCTION LOAD's top level registered so far (lives on the loader's stack; the Lua
/// registry holds a pointer to it while the code runs).
struct LoadCtx {
    functions: BTreeMap<String, Function>,
    start: Instant,
}

impl Default for FunctionEngine {
    fn default() -> Self {
        Self::new()
    }
}

/// Library and function names: letters, digits and underscores, at least one.
fn valid_name(n: &[u8]) -> bool {
    !n.is_empty() && n.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

impl FunctionEngine {
    pub fn new() -> FunctionEngine {
        FunctionEngine {
            state: sandbox::function_state(register_function),
            libraries: BTreeMap::new(),
            index: BTreeMap::new(),
            calls: 0,
        }
    }

    pub fn lua_memory(&self) -> usize {
        self.state.memory()
    }

    pub fn memory(&self) -> usize {
        self.libraries
            .values()
            .map(|l| {
                l.name.len()
                    + l.code.len()
                    + l.functions
                        .values()
                        .map(|f| f.name.len() + f.desc.as_ref().map_or(0, |d| d.len()) + 64)
                        .sum::<usize>()
                    + 64
            })
            .sum()
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// Function names are case-insensitive (Redis's functions dict); library names are not.
    pub fn function(&self, name: &[u8]) -> Option<&Function> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let (lib, fname) = self.index.get(&key)?;
        self.libraries.get(lib)?.functions.get(fname)
    }

    /// FUNCTION FLUSH: a fresh engine.
    pub fn flush(&mut self) {
        *self = FunctionEngine::new();
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, lib: &[u8]) -> bool {
        let Some(name) = std::str::from_utf8(lib).ok() else {
            return false;
        };
        match self.libraries.remove(name) {
            Some(l) => {
                self.unlink(&l);
                self.release(l.functions);
                true
            }
            None => false,
        }
    }

    fn unlink(&mut self, l: &Library) {
        for f in l.functions.keys() {
            self.index.remove(&f.to_ascii_lowercase());
        }
    }

    fn release(&mut self, fs: BTreeMap<String, Function>) {
        for f in fs.values() {
            unsafe { ffi::luaL_unref(self.state.0, ffi::LUA_REGISTRYINDEX, f.fref) };
        }
    }

    /// FUNCTION LOAD: compiles `code` and runs its top level; returns the library name.
    pub fn load(&mut self, code: &Bytes, replace: bool) -> Result<String, String> {
        let (name, engine, body) = metadata(code)?;
        if !valid_name(name.as_bytes()) {
            return Err(BAD_NAME.into());
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine}' not found"));
        }
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let functions = self.compile(body)?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        if let Some(f) = functions.keys().find(|f| {
            self.index
                .get(&f.to_ascii_lowercase())
                .is_some_and(|(l, _)| *l != name)
        }) {
            let msg = format!("Function {f} already exists");
            self.release(functions);
            return Err(msg);
        }
        if let Some(old) = self.libraries.remove(&name) {
            self.unlink(&old);
            self.release(old.functions);
        }
        for f in functions.keys() {
            self.index
                .insert(f.to_ascii_lowercase(), (name.clone(), f.clone()));
        }
        self.libraries.insert(
            name.clone(),
            Library {
                name: name.clone(),
                code: code.clone(),
                functions,
            },
        );
        Ok(name)
    }

    /// Runs a library's top level with the load API as globals; returns what it registered.
    fn compile(&mut self, body: &[u8]) -> Result<BTreeMap<String, Function>, String> {
        let l = self.state.0;
        let mut ctx = LoadCtx {
            functions: BTreeMap::new(),
            start: Instant::now(),
        };
        let result = unsafe {
            sandbox::switch_globals(l, true);
            let r = if ffi::luaL_loadbuffer(
                l,
                body.as_ptr() as *const _,
                body.len(),
                c"@user_function".as_ptr(),
            ) != 0
            {
                let msg = lua::to_bytes(l, -1)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                ffi::lua_pop(l, 1);
                Err(format!("Error compiling function: {msg}"))
            } else {
                lua::save_pointer(l, LOAD_CTX_KEY, &mut ctx as *mut LoadCtx as *mut _);
                ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, 100_000);
                let rc = ffi::lua_pcall(l, 0, 0, 0);
                ffi::lua_sethook(l, None, 0, 0);
                lua::save_pointer(l, LOAD_CTX_KEY, std::ptr::null_mut());
                if rc != 0 {
                    let info = run::ErrorInfo::extract(l);
                    ffi::lua_pop(l, 1);
                    Err(format!("Error registering functions: {}", info.msg))
                } else {
                    Ok(())
                }
            };
            sandbox::switch_globals(l, false);
            r
        };
        match result {
            Ok(()) => Ok(ctx.functions),
            Err(e) => {
                self.release(ctx.functions);
                Err(e)
            }
        }
    }

    /// FCALL: runs `name` with the KEYS and ARGV tables as its two arguments.
    pub fn call(
        &mut self,
        name: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        ctx: &mut RunCtx,
    ) -> Result<Reply, ErrorReply> {
        let Some(f) = self.function(name.as_bytes()) else {
            return Err(ErrorReply::function_not_found());
        };
        let l = self.state.0;
        unsafe {
            ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, c"__ERROR_HANDLER__".as_ptr());
            ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, f.fref);
            super::eval::push_array(l, keys);
            super::eval::push_array(l, argv);
            let r = run::call(l, ctx, 2, name);
            super::eval::gc_step(&self.state, &mut self.calls);
            r
        }
    }

    /// FUNCTION RESTORE (functionRestoreCommand + libraryJoin): the payload's libraries are
    /// compiled into a staging engine first, so a bad payload changes nothing. Flush replaces
    /// everything; Append fails on an existing library; Replace swaps same-named libraries.
    /// A function name held by a library that stays is a clash either way.
    pub fn restore(&mut self, codes: Vec<Bytes>, policy: RestorePolicy) -> Result<(), String> {
        let mut staged = FunctionEngine::new();
        for c in &codes {
            staged.load(c, false)?;
        }
        if policy == RestorePolicy::Flush {
            *self = staged;
            return Ok(());
        }
        if policy == RestorePolicy::Append {
            if let Some(n) = staged
                .libraries
                .keys()
                .find(|n| self.libraries.contains_key(*n))
            {
                return Err(format!("Library {n} already exists"));
            }
        }
        for (key, (_, f)) in &staged.index {
            if self
                .index
                .get(key)
                .is_some_and(|(lib, _)| !staged.libraries.contains_key(lib))
            {
                return Err(format!("Function {f} already exists"));
            }
        }
        for c in codes {
            self.load(&c, true)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Append,
    Replace,
    Flush,
}

/// The `#!<engine> name=<lib>` first line (functionExtractLibMetaData): (name, engine, code
/// after the shebang, its line feed kept).
fn metadata(code: &[u8]) -> Result<(String, String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts: Vec<String> = crate::protocol::inline::split_args(&code[..end])
        .map_err(|_| "Invalid library metadata".to_string())?
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = first[2..].to_string();
    let mut name = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(p[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {p}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((name, engine, &code[end..]))
}

unsafe extern "C-unwind" fn load_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let p = lua::get_pointer(l, LOAD_CTX_KEY) as *mut LoadCtx;
    if let Some(ctx) = p.as_ref() {
        if ctx.start.elapsed() > LOAD_TIMEOUT {
            ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
            super::convert::push_error(l, b"FUNCTION LOAD timeout", false);
            ffi::lua_error(l);
        }
    }
}

/// redis.register_function(name, callback) or redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}.
unsafe extern "C-unwind" fn register_function(l: *mut lua_State) -> c_int {
    let p = lua::get_pointer(l, LOAD_CTX_KEY) as *mut LoadCtx;
    let err: String = match p.as_mut() {
        None => "redis.register_function can only be called on FUNCTION LOAD command".into(),
        Some(ctx) => match read_args(l) {
            Err(e) => e.to_string(),
            Ok(f) => {
                if !valid_name(f.name.as_bytes()) {
                    ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.fref);
                    BAD_NAME.to_string()
                } else if ctx.functions.contains_key(&f.name) {
                    ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.fref);
                    "Function already exists in the library".to_string()
                } else {
                    ctx.functions.insert(f.name.clone(), f);
                    return 0;
                }
            }
        },
    };
    super::convert::push_error(l, err.as_bytes(), false);
    drop(err);
    ffi::lua_error(l)
}

unsafe fn read_args(l: *mut lua_State) -> Result<Function, &'static str> {
    let argc = ffi::lua_gettop(l);
    if !(1..=2).contains(&argc) {
        return Err("wrong number of arguments to redis.register_function");
    }
    if argc == 2 {
        let Some(name) = lua::string_at(l, 1).or_else(|| {
            (ffi::lua_type(l, 1) == ffi::LUA_TNUMBER)
                .then(|| lua::to_bytes(l, 1).unwrap_or_default())
        }) else {
            return Err("first argument to redis.register_function must be a string");
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if ffi::lua_type(l, 2) != ffi::LUA_TFUNCTION {
            return Err("second argument to redis.register_function must be a function");
        }
        let fref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
        return Ok(Function {
            name,
            desc: None,
            flags: 0,
            fref,
        });
    }
    if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    }
    let (mut name, mut desc, mut fref, mut fl) = (None, None, None, 0);
    let fail = |l, fref: Option<c_int>, e| {
        if let Some(r) = fref {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
        }
        Err(e)
    };
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, 1) != 0 {
        if ffi::lua_isstring(l, -2) == 0 {
            ffi::lua_pop(l, 2);
            return fail(
                l,
                fref,
                "named argument key given to redis.register_function is not a string",
            );
        }
        // lua_tolstring would convert a number key in place and break lua_next.
        ffi::lua_pushvalue(l, -2);
        let key = String::from_utf8_lossy(lua::to_bytes(l, -1).unwrap_or_default()).to_lowercase();
        ffi::lua_pop(l, 1);
        match key.as_str() {
            "function_name" => {
                match (ffi::lua_isstring(l, -1) != 0)
                    .then(|| lua::to_bytes(l, -1))
                    .flatten()
                {
                    Some(s) => name = Some(String::from_utf8_lossy(s).into_owned()),
                    None => {
                        ffi::lua_pop(l, 2);
                        return fail(l, fref, "function_name argument given to redis.register_function must be a string");
                    }
                }
            }
            "description" => {
                match (ffi::lua_isstring(l, -1) != 0)
                    .then(|| lua::to_bytes(l, -1))
                    .flatten()
                {
                    Some(s) => desc = Some(Bytes::copy_from_slice(s)),
                    None => {
                        ffi::lua_pop(l, 2);
                        return fail(l, fref, "description argument given to redis.register_function must be a string");
                    }
                }
            }
            "callback" => {
                if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                    ffi::lua_pop(l, 2);
                    return fail(
                        l,
                        fref,
                        "callback argument given to redis.register_function must be a function",
                    );
                }
                if let Some(old) = fref {
                    ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, old);
                }
                fref = Some(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
                continue;
            }
            "flags" => {
                if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                    ffi::lua_pop(l, 2);
                    return fail(l, fref, "flags argument to redis.register_function must be a table representing function flags");
                }
                match read_flags(l) {
                    Some(f) => fl = f,
                    None => {
                        ffi::lua_pop(l, 2);
                        return fail(l, fref, "unknown flag given");
                    }
                }
            }
            _ => {
                ffi::lua_pop(l, 2);
                return fail(l, fref, "unknown argument given to redis.register_function");
            }
        }
        ffi::lua_pop(l, 1);
    }
    let Some(name) = name else {
        return fail(
            l,
            fref,
            "redis.register_function must get a function name argument",
        );
    };
    let Some(fref) = fref else {
        return Err("redis.register_function must get a callback argument");
    };
    Ok(Function {
        name,
        desc,
        flags: fl,
        fref,
    })
}

/// The flags table on top of the stack: a list of flag names (case-insensitive).
unsafe fn read_flags(l: *mut lua_State) -> Option<RunFlags> {
    let mut f = 0;
    let mut j = 1;
    loop {
        ffi::lua_rawgeti_(l, -1, j);
        j += 1;
        match ffi::lua_type(l, -1) {
            ffi::LUA_TNIL => {
                ffi::lua_pop(l, 1);
                return Some(f);
            }
            ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
                let name =
                    String::from_utf8_lossy(lua::to_bytes(l, -1).unwrap_or_default()).into_owned();
                ffi::lua_pop(l, 1);
                f |= flags::by_name(&name, true)?;
            }
            _ => {
                ffi::lua_pop(l, 1);
                return None;
            }
        }
    }
}

/// FUNCTION DUMP's payload: each library as RDB_OPCODE_FUNCTION2 + its code, then the RDB
/// version and CRC64, as Redis writes it.
pub fn dump_payload(engine: &FunctionEngine, opts: &crate::store::rdb::encode::Options) -> Vec<u8> {
    let mut out = Vec::new();
    for lib in engine.libraries() {
        crate::store::rdb::encode::write_function(&mut out, &lib.code, opts);
    }
    crate::store::rdb::encode::seal_payload(out)
}
