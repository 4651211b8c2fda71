//! Lua scripting and functions as Redis 7.0 runs them: EVAL/EVALSHA with the script cache
//! (eval.rs), FUNCTION libraries and FCALL (functions.rs), the sandboxed Lua 5.1 states
//! (sandbox.rs, libs/), the `redis` API (api.rs), value conversion (convert.rs) and one run's
//! context and slow-script handling (run.rs).
//!
//! Thread model: a script runs on the connection's thread with the store lock held, so it is
//! atomic like any command. The Lua states live in `Scripting::engines` (a mutex always taken
//! after the store lock). What other threads need while a script runs, whether one runs,
//! whether it passed busy-reply-threshold, SCRIPT/FUNCTION KILL, is in `RunState`, outside
//! both locks: connections wait on it instead of on the store (server/conn.rs) and answer
//! -BUSY once the script is timed out. The commands a script calls go back through the
//! dispatcher (`CallFn`, set by the server at startup: scripting does not depend on server).
pub mod api;
pub mod convert;
pub mod eval;
pub mod functions;
pub mod libs;
pub mod lua;
pub mod run;
pub mod sandbox;

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

/// Flags a script declares (shebang `flags=` or `register_function` flags) and a run's state.
pub type RunFlags = u32;
pub mod flags {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// An EVAL script without a shebang (Redis's SCRIPT_FLAG_EVAL_COMPAT_MODE).
    pub const EVAL_COMPAT: u32 = 1 << 8;
    // Run state (Redis's SCRIPT_* run flags).
    pub const READ_ONLY: u32 = 1 << 16;
    pub const RUN_ALLOW_OOM: u32 = 1 << 17;
    pub const RUN_ALLOW_CROSS_SLOT: u32 = 1 << 18;
    pub const WRITE_DIRTY: u32 = 1 << 19;
    pub const EVAL_MODE: u32 = 1 << 20;

    /// The declarable flags by name, in Redis's order (FUNCTION LIST prints them so).
    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    pub fn by_name(name: &str, case_insensitive: bool) -> Option<u32> {
        NAMES
            .iter()
            .find(|(_, n)| {
                if case_insensitive {
                    n.eq_ignore_ascii_case(name)
                } else {
                    *n == name
                }
            })
            .map(|(f, _)| *f)
    }
}

pub fn sha1_hex(b: &[u8]) -> String {
    sha1_smol::Sha1::from(b).digest().to_string()
}

/// What is known about the running script, for FUNCTION STATS and SCRIPT KILL.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub name: String,
    pub args: Vec<Bytes>,
    pub start: Instant,
    pub eval: bool,
    /// Sent by our primary: cannot be killed.
    pub obey: bool,
}

/// Whether a script runs and what other clients may do meanwhile (see the module doc).
#[derive(Default)]
pub struct RunState {
    running: AtomicBool,
    timed_out: AtomicBool,
    killed: AtomicBool,
    dirty: AtomicBool,
    info: Mutex<Option<RunInfo>>,
    /// Woken when a run starts timing out or ends.
    pub changed: tokio::sync::Notify,
}

pub enum KillError {
    NotBusy,
    FromPrimary,
    Unkillable,
    WrongKind { running_eval: bool },
}

impl RunState {
    fn info(&self) -> MutexGuard<'_, Option<RunInfo>> {
        self.info.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn running(&self) -> bool {
        self.running.load(SeqCst)
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out.load(SeqCst)
    }

    pub fn killed(&self) -> bool {
        self.killed.load(SeqCst)
    }

    pub fn current(&self) -> Option<RunInfo> {
        self.info().clone()
    }

    pub fn begin(&self, info: RunInfo) {
        *self.info() = Some(info);
        self.killed.store(false, SeqCst);
        self.dirty.store(false, SeqCst);
        self.timed_out.store(false, SeqCst);
        self.running.store(true, SeqCst);
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, SeqCst);
    }

    pub fn enter_timed_out(&self, elapsed_ms: u64) {
        if !self.timed_out.swap(true, SeqCst) {
            let name = self.info().as_ref().map(|i| i.name.clone());
            tracing::warn!(elapsed_ms, script = ?name, "Slow script detected: still in execution; other clients get -BUSY until it ends");
            self.changed.notify_waiters();
        }
    }

    pub fn end(&self) {
        self.running.store(false, SeqCst);
        self.timed_out.store(false, SeqCst);
        self.killed.store(false, SeqCst);
        *self.info() = None;
        self.changed.notify_waiters();
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL.
    pub fn kill(&self, eval: bool) -> Result<(), KillError> {
        let info = self.info();
        let Some(i) = info.as_ref().filter(|_| self.running()) else {
            return Err(KillError::NotBusy);
        };
        if i.obey {
            return Err(KillError::FromPrimary);
        }
        if self.dirty.load(SeqCst) {
            return Err(KillError::Unkillable);
        }
        if i.eval != eval {
            return Err(KillError::WrongKind {
                running_eval: i.eval,
            });
        }
        self.killed.store(true, SeqCst);
        Ok(())
    }
}

/// The Lua states and what they hold.
pub struct Engines {
    pub eval: eval::EvalEngine,
    pub functions: functions::FunctionEngine,
    /// The client scripts run commands as (Redis's lua client), made on first use.
    pub client: Option<crate::state::Client>,
}

pub struct Scripting {
    engines: Mutex<Option<Engines>>,
    pub run: RunState,
    /// Runs a command for a script (the dispatcher's script path).
    pub call: OnceLock<run::CallFn>,
    /// math.random's rand48 state (one per server, as Redis's).
    rand: AtomicU64,
    /// Libraries and functions loaded, readable while a script holds the engines
    /// (FUNCTION STATS during a busy script).
    libraries: AtomicU64,
    functions: AtomicU64,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: `noscript` commands allowed in scripts (tests).
    pub allow_noscript: AtomicBool,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            engines: Mutex::new(None),
            run: RunState::default(),
            call: OnceLock::new(),
            rand: AtomicU64::new(0x1234_ABCD_330E),
            libraries: AtomicU64::new(0),
            functions: AtomicU64::new(0),
            allow_noscript: AtomicBool::new(false),
        }
    }
}

impl Scripting {
    /// The engines, created on first use. Lock order: the store, then this.
    pub fn engines(&self) -> MutexGuard<'_, Option<Engines>> {
        let mut g = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(Engines {
                eval: eval::EvalEngine::new(),
                functions: functions::FunctionEngine::new(),
                client: None,
            });
        }
        g
    }

    /// Memory of the engines if they exist: (eval Lua, functions Lua, scripts cache,
    /// function libraries, number of cached scripts, number of functions, libraries).
    pub fn memory(&self) -> MemoryStats {
        let g = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            None => MemoryStats {
                lua_eval: 0,
                lua_functions: 0,
                scripts: 0,
                functions: 0,
                cached_scripts: 0,
                function_count: 0,
                library_count: 0,
            },
            Some(e) => MemoryStats {
                lua_eval: e.eval.lua_memory(),
                lua_functions: e.functions.lua_memory(),
                scripts: e.eval.scripts_memory(),
                functions: e.functions.memory(),
                cached_scripts: e.eval.count(),
                function_count: e.functions.function_count(),
                library_count: e.functions.library_count(),
            },
        }
    }

    /// Records the function engine's counts after a change (FUNCTION STATS reads them).
    pub fn note_counts(&self, f: &functions::FunctionEngine) {
        self.libraries.store(f.library_count() as u64, SeqCst);
        self.functions.store(f.function_count() as u64, SeqCst);
    }

    /// (libraries, functions), without the engines' lock.
    pub fn counts(&self) -> (u64, u64) {
        (self.libraries.load(SeqCst), self.functions.load(SeqCst))
    }

    /// The code of every function library (for snapshots), without creating the engines.
    pub fn library_codes(&self) -> Vec<Bytes> {
        let g = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref()
            .map(|e| e.functions.libraries().map(|l| l.code.clone()).collect())
            .unwrap_or_default()
    }

    /// The libraries of a loaded snapshot: they replace the current ones at startup and on a
    /// full sync (`Flush`); DEBUG RELOAD NOFLUSH appends them (`Append`, an existing library
    /// is an error) or with MERGE replaces same-named ones (`Replace`).
    pub fn load_libraries(
        &self,
        codes: &[Vec<u8>],
        policy: functions::RestorePolicy,
    ) -> Result<(), String> {
        if codes.is_empty()
            && self
                .engines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
        {
            return Ok(());
        }
        let mut g = self.engines();
        let f = &mut g.as_mut().expect("created by engines()").functions;
        let codes = codes.iter().map(|c| Bytes::copy_from_slice(c)).collect();
        let r = f.restore(codes, policy);
        self.note_counts(f);
        r
    }

    pub fn rand48(&self) -> i32 {
        let x = self.rand.load(SeqCst);
        let next = (x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & 0xFFFF_FFFF_FFFF;
        self.rand.store(next, SeqCst);
        (next >> 17) as i32
    }

    pub fn srand48(&self, seed: i32) {
        let s = seed as u32 as u64;
        self.rand.store((s << 16) | 0x330E, SeqCst);
    }
}

pub struct MemoryStats {
    pub lua_eval: usize,
    pub lua_functions: usize,
    pub scripts: usize,
    pub functions: usize,
    pub cached_scripts: usize,
    pub function_count: usize,
    pub library_count: usize,
}

/// Redis's evalExtractShebangFlags: the flags of a `#!lua flags=...` first line and its length
/// (the line feed is kept so line numbers stay right); no shebang is EVAL_COMPAT.
pub fn shebang_flags(body: &[u8]) -> Result<(RunFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((flags::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let parts: Vec<String> = crate::protocol::inline::split_args(&body[..end])
        .unwrap_or_default()
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut f = 0;
    for p in &parts[1..] {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {p}"));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(',') {
            match flags::by_name(name, false) {
                Some(x) => f |= x,
                None => return Err(format!("Unexpected flag in script shebang: {name}")),
            }
        }
    }
    Ok((f, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_the_c_sequence() {
        // srand48(0) then lrand48() three times, as glibc gives them.
        let s = Scripting::default();
        s.srand48(0);
        assert_eq!(
            (s.rand48(), s.rand48(), s.rand48()),
            (366850414, 1610402240, 206956554)
        );
    }

    #[test]
    fn shebang_flags_are_parsed_like_redis() {
        assert_eq!(shebang_flags(b"return 1").unwrap(), (flags::EVAL_COMPAT, 0));
        assert_eq!(
            shebang_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(),
            (flags::NO_WRITES | flags::ALLOW_OOM, 31)
        );
        assert_eq!(shebang_flags(b"#!lua\nreturn 1").unwrap(), (0, 5));
        assert_eq!(
            shebang_flags(b"#!lua flags=bad\n").unwrap_err(),
            "Unexpected flag in script shebang: bad"
        );
        assert_eq!(
            shebang_flags(b"#!python\n").unwrap_err(),
            "Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            shebang_flags(b"#!lua name=x\n").unwrap_err(),
            "Unknown lua shebang option: name=x"
        );
        assert_eq!(
            shebang_flags(b"#!lua").unwrap_err(),
            "Invalid script shebang"
        );
    }
}
