//! The INFO report, with Redis 7.0's section names and field names: which sections, in
//! which order (here); each section's fields (sections.rs, replication.rs).
/// One `name:value` line of a section.
macro_rules! field {
    ($out:expr, $($arg:tt)*) => {{ let _ = write!($out, $($arg)*); $out.push_str("\r\n"); }};
}
mod replication;
mod sections;

use crate::state::Shared;
use crate::store::Store;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Every section in the order INFO prints them, and whether plain `INFO` includes it
/// (`all`/`everything` include them all).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Renders the sections asked for (`[]` = default, `all`, `everything`, or names).
pub fn render(sh: &Shared, st: &Store, asked: &[String]) -> String {
    let default = asked.is_empty() || asked.iter().any(|s| s == "default");
    let all = asked.iter().any(|s| s == "all" || s == "everything");
    let mut out = String::new();
    for &(name, in_default) in SECTIONS {
        let want = all || (default && in_default) || asked.iter().any(|s| s == name);
        if !want {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let title = match name {
            "cpu" => "CPU".to_string(),
            n => n[..1].to_uppercase() + &n[1..],
        };
        let _ = writeln!(out, "# {title}\r");
        section(&mut out, sh, st, name);
    }
    out
}

pub(super) fn rusage(who: i32) -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_stime), tv(ru.ru_utime))
}

fn section(out: &mut String, sh: &Shared, st: &Store, name: &str) {
    let cfg = sh.config();
    let uptime = sh.started.elapsed().as_secs();
    match name {
        "server" => sections::server(out, sh, st, &cfg, uptime),
        "clients" => sections::clients(out, sh, st, &cfg),
        "memory" => sections::memory(out, sh, st, &cfg),
        "persistence" => persistence(sh, st, out),
        "stats" => sections::stats(out, sh, st),
        "replication" => replication::section(sh, out),
        "cpu" => sections::cpu(out, sh),
        "commandstats" => sections::commandstats(out, sh),
        "errorstats" => sections::errorstats(out, sh),
        "latencystats" => sections::latencystats(out, sh, &cfg),
        "cluster" => field!(out, "cluster_enabled:{}", cfg.hot.cluster_enabled as u8),
        "keyspace" => sections::keyspace(out, sh, st),
        _ => {}
    }
}

pub(super) fn human(n: usize) -> String {
    let f = n as f64;
    if f < 1024.0 {
        format!("{n}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

/// INFO persistence: Redis 7.0's fields. There is no fork, so the copy-on-write fields are 0.
pub(super) fn persistence(sh: &Shared, st: &Store, out: &mut String) {
    use std::fmt::Write;
    let p = &sh.persist;
    let loading = p.loading.load(Relaxed);
    let s = p.status();
    let now = crate::state::now_ms() / 1000;
    let running = s.bgsave_started != 0;
    let _ = write!(
        out,
        "loading:{}\r\nasync_loading:0\r\n\
         current_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\n\
         current_fork_perc:0.00\r\ncurrent_save_keys_processed:{}\r\n\
         current_save_keys_total:{}\r\nrdb_changes_since_last_save:{}\r\n\
         rdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\n\
         rdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\n\
         rdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:{}\r\n",
        loading as u8,
        if running { s.keys_processed } else { 0 },
        if running { st.total_keys() } else { 0 },
        st.dirty,
        running as u8,
        s.lastsave,
        if s.last_bgsave_ok { "ok" } else { "err" },
        s.last_bgsave_secs,
        if running {
            now.saturating_sub(s.bgsave_started) as i64
        } else {
            -1
        },
        s.saves,
        s.loading_keys,
    );
    let aof_config = sh.config().get("appendonly") == Some("yes");
    crate::persist::aof::info(sh, out, aof_config);
    if loading {
        let perc = if s.loading_total_bytes > 0 {
            s.loading_loaded_bytes as f64 * 100.0 / s.loading_total_bytes as f64
        } else {
            0.0
        };
        let _ = write!(
            out,
            "loading_start_time:{}\r\nloading_total_bytes:{}\r\nloading_rdb_used_mem:0\r\n\
             loading_loaded_bytes:{}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:1\r\n",
            s.loading_started, s.loading_total_bytes, s.loading_loaded_bytes
        );
    }
}

/// The Lua fields of INFO memory, as Redis 7.0 names them (`used_memory_lua` is the old name
/// of `used_memory_vm_eval`; the function engine's state exists from startup in Redis, here
/// from the first script or function).
pub(super) fn scripting_memory(sh: &Shared, out: &mut String) {
    let m = sh.scripting.memory();
    let vm_total = m.lua_eval + m.lua_functions;
    field!(out, "used_memory_lua:{}", m.lua_eval);
    field!(out, "used_memory_vm_eval:{}", m.lua_eval);
    field!(out, "used_memory_lua_human:{}", human(m.lua_eval));
    field!(out, "used_memory_scripts_eval:{}", m.scripts);
    field!(out, "number_of_cached_scripts:{}", m.cached_scripts);
    field!(out, "number_of_functions:{}", m.function_count);
    field!(out, "number_of_libraries:{}", m.library_count);
    field!(out, "used_memory_vm_functions:{}", m.lua_functions);
    field!(out, "used_memory_vm_total:{vm_total}");
    field!(out, "used_memory_vm_total_human:{}", human(vm_total));
    field!(out, "used_memory_functions:{}", m.functions);
    field!(out, "used_memory_scripts:{}", m.scripts + m.functions);
    field!(
        out,
        "used_memory_scripts_human:{}",
        human(m.scripts + m.functions)
    );
}
