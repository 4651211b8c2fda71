//! EVAL's engine: the script cache (SHA1 -> body and declared flags), each script compiled
//! once into a function kept in the Lua registry as `f_<sha>`, and running one with KEYS and
//! ARGV set as globals (eval.c).
use super::lua::{self, State};
use super::run::{self, RunCtx};
use super::{sandbox, RunFlags};
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;
use mlua_sys as ffi;
use std::collections::HashMap;

pub struct Script {
    pub body: Bytes,
    pub flags: RunFlags,
}

pub struct EvalEngine {
    state: State,
    scripts: HashMap<String, Script>,
    /// Bytes of the cached bodies and their SHAs (used_memory_scripts_eval).
    mem: usize,
    /// Runs since the last Lua GC step.
    calls: u32,
}

impl Default for EvalEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl EvalEngine {
    pub fn new() -> EvalEngine {
        EvalEngine {
            state: sandbox::eval_state(),
            scripts: HashMap::new(),
            mem: 0,
            calls: 0,
        }
    }

    pub fn lua_memory(&self) -> usize {
        self.state.memory()
    }

    pub fn scripts_memory(&self) -> usize {
        self.mem + self.scripts.len() * 64
    }

    pub fn count(&self) -> usize {
        self.scripts.len()
    }

    pub fn get(&self, sha: &str) -> Option<&Script> {
        self.scripts.get(sha)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha).is_ok_and(|s| self.scripts.contains_key(s))
    }

    /// SCRIPT FLUSH: a fresh Lua state and an empty cache.
    pub fn flush(&mut self) {
        *self = EvalEngine::new();
    }

    /// Compiles and caches `body` (SCRIPT LOAD, first EVAL); returns its SHA1. Errors are
    /// Redis's texts without the code.
    pub fn create(&mut self, body: &Bytes) -> Result<String, String> {
        let sha = super::sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = super::shebang_flags(body)?;
        let l = self.state.0;
        let code = &body[shebang_len..];
        unsafe {
            let rc = ffi::luaL_loadbuffer(
                l,
                code.as_ptr() as *const _,
                code.len(),
                c"@user_script".as_ptr(),
            );
            if rc != 0 {
                let msg = lua::to_bytes(l, -1)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                ffi::lua_pop(l, 1);
                return Err(format!("Error compiling script (new function): {msg}"));
            }
            let key = std::ffi::CString::new(format!("f_{sha}")).expect("hex");
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
        }
        self.mem += sha.len() + body.len();
        self.scripts.insert(
            sha.clone(),
            Script {
                body: body.clone(),
                flags,
            },
        );
        Ok(sha)
    }

    /// Runs the cached script `sha` (already created) with KEYS and ARGV.
    pub fn run(
        &mut self,
        sha: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        ctx: &mut RunCtx,
    ) -> Result<Reply, ErrorReply> {
        let l = self.state.0;
        unsafe {
            ffi::lua_getfield_(l, ffi::LUA_GLOBALSINDEX, c"__redis__err__handler".as_ptr());
            let key = std::ffi::CString::new(format!("f_{sha}")).expect("hex");
            ffi::lua_getfield_(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
            drop(key);
            lua::set_readonly(l, ffi::LUA_GLOBALSINDEX, false);
            push_array(l, keys);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"KEYS".as_ptr());
            push_array(l, argv);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"ARGV".as_ptr());
            lua::set_readonly(l, ffi::LUA_GLOBALSINDEX, true);
            let r = run::call(l, ctx, 0, sha);
            gc_step(&self.state, &mut self.calls);
            r
        }
    }
}

/// Redis runs a Lua GC step every 50 script calls instead of letting Lua do a full cycle.
pub fn gc_step(st: &State, calls: &mut u32) {
    *calls += 1;
    if *calls >= 50 {
        *calls = 0;
        unsafe {
            ffi::lua_gc(st.0, ffi::LUA_GCSTEP, 50);
        }
    }
}

pub unsafe fn push_array(l: *mut lua::lua_State, items: &[Bytes]) {
    ffi::lua_createtable(l, items.len() as i32, 0);
    for (i, it) in items.iter().enumerate() {
        lua::push_bytes(l, it);
        ffi::lua_rawseti_(l, -2, i as i32 + 1);
    }
}
