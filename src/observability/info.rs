//! The INFO report, with Redis 7.0's section names and field names.
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

macro_rules! field {
    ($out:expr, $($arg:tt)*) => {{ let _ = write!($out, $($arg)*); $out.push_str("\r\n"); }};
}

fn rusage(who: i32) -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_stime), tv(ru.ru_utime))
}

fn section(out: &mut String, sh: &Shared, st: &Store, name: &str) {
    let cfg = sh.config();
    let uptime = sh.started.elapsed().as_secs();
    match name {
        "server" => {
            field!(out, "redis_version:{}", crate::REDIS_VERSION);
            field!(out, "slotcache_version:{}", env!("CARGO_PKG_VERSION"));
            field!(out, "redis_git_sha1:00000000");
            field!(out, "redis_git_dirty:0");
            field!(out, "redis_build_id:0");
            field!(
                out,
                "redis_mode:{}",
                if cfg.hot.cluster_enabled {
                    "cluster"
                } else {
                    "standalone"
                }
            );
            field!(
                out,
                "os:{} {}",
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            field!(out, "arch_bits:64");
            field!(out, "monotonic_clock:POSIX clock_gettime");
            field!(out, "multiplexing_api:epoll");
            field!(out, "process_id:{}", std::process::id());
            field!(out, "process_supervised:no");
            field!(out, "run_id:{}", sh.run_id);
            field!(out, "tcp_port:{}", sh.bound_port.load(Relaxed));
            field!(out, "server_time_usec:{}", crate::state::now_ms() * 1000);
            field!(out, "uptime_in_seconds:{uptime}");
            field!(out, "uptime_in_days:{}", uptime / 86400);
            field!(out, "hz:{}", cfg.hot.hz);
            field!(out, "configured_hz:{}", cfg.hot.hz);
            field!(out, "lru_clock:{}", st.lru_clock() / 1000);
            field!(
                out,
                "executable:{}",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            field!(
                out,
                "config_file:{}",
                cfg.file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            field!(out, "io_threads_active:0");
        }
        "clients" => {
            field!(out, "connected_clients:{}", sh.clients.len());
            field!(out, "cluster_connections:0");
            field!(out, "maxclients:{}", cfg.hot.maxclients);
            field!(out, "client_recent_max_input_buffer:0");
            field!(out, "client_recent_max_output_buffer:0");
            field!(out, "blocked_clients:{}", st.blocked.clients());
            field!(out, "tracking_clients:0");
            field!(out, "clients_in_timeout_table:0");
        }
        "memory" => {
            let used = st.used_memory(sh.allocated());
            let rss = super::alloc::rss();
            field!(out, "used_memory:{used}");
            field!(out, "used_memory_human:{}", human(used));
            field!(out, "used_memory_rss:{rss}");
            field!(out, "used_memory_rss_human:{}", human(rss));
            field!(out, "used_memory_peak:{used}");
            field!(out, "used_memory_peak_human:{}", human(used));
            field!(out, "used_memory_dataset:{used}");
            field!(out, "maxmemory:{}", cfg.hot.maxmemory);
            field!(out, "maxmemory_human:{}", human(cfg.hot.maxmemory as usize));
            field!(out, "maxmemory_policy:{}", cfg.hot.policy.name());
            field!(
                out,
                "mem_fragmentation_ratio:{:.2}",
                if used > 0 {
                    rss as f64 / used as f64
                } else {
                    1.0
                }
            );
            field!(out, "mem_allocator:libc");
            field!(out, "lazyfree_pending_objects:{}", st.lazyfree_pending());
            field!(out, "lazyfreed_objects:{}", st.lazyfreed_objects());
            scripting_memory(sh, out);
        }
        "persistence" => {
            let _ = uptime;
            persistence(sh, st, out);
        }
        "stats" => {
            let s = &sh.stats;
            let k = &st.stats;
            field!(
                out,
                "total_connections_received:{}",
                s.connections_received.load(Relaxed)
            );
            field!(
                out,
                "total_commands_processed:{}",
                s.commands_processed.load(Relaxed)
            );
            let (ops, in_kbps, out_kbps) = s.instantaneous();
            field!(out, "instantaneous_ops_per_sec:{ops}");
            field!(
                out,
                "total_net_input_bytes:{}",
                s.net_input_bytes.load(Relaxed)
            );
            field!(
                out,
                "total_net_output_bytes:{}",
                s.net_output_bytes.load(Relaxed)
            );
            field!(out, "instantaneous_input_kbps:{in_kbps:.2}");
            field!(out, "instantaneous_output_kbps:{out_kbps:.2}");
            field!(
                out,
                "rejected_connections:{}",
                s.rejected_connections.load(Relaxed)
            );
            field!(out, "expired_keys:{}", k.expired_keys);
            field!(out, "expired_stale_perc:{:.2}", k.expired_stale_perc);
            field!(
                out,
                "expired_time_cap_reached_count:{}",
                k.expired_time_cap_reached_count
            );
            field!(
                out,
                "expire_cycle_cpu_milliseconds:{}",
                k.expire_cycle_cpu_milliseconds
            );
            field!(out, "evicted_keys:{}", k.evicted_keys);
            field!(out, "evicted_clients:0");
            field!(
                out,
                "total_eviction_exceeded_time:{}",
                k.total_eviction_exceeded_time
            );
            field!(out, "keyspace_hits:{}", k.keyspace_hits);
            field!(out, "keyspace_misses:{}", k.keyspace_misses);
            for (name, n) in sh.pubsub.counts() {
                field!(out, "{name}:{n}");
            }
            // No fork: a snapshot is a thread (see store/snapshot.rs).
            field!(out, "latest_fork_usec:0");
            field!(out, "total_forks:0");
            super::info_replication::stats(sh, out);
            field!(out, "migrate_cached_sockets:{}", sh.migrate.len());
            field!(out, "total_error_replies:{}", s.error_replies.load(Relaxed));
            field!(
                out,
                "client_query_buffer_limit_disconnections:{}",
                s.client_qbuf_limit_disconnections.load(Relaxed)
            );
            field!(
                out,
                "client_output_buffer_limit_disconnections:{}",
                s.client_outbuf_limit_disconnections.load(Relaxed)
            );
        }
        "replication" => super::info_replication::section(sh, out),
        "cpu" => {
            let (sys, user) = rusage(libc::RUSAGE_SELF);
            let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
            field!(out, "used_cpu_sys:{sys:.6}");
            field!(out, "used_cpu_user:{user:.6}");
            field!(out, "used_cpu_sys_children:{csys:.6}");
            field!(out, "used_cpu_user_children:{cuser:.6}");
        }
        "commandstats" => {
            for (id, calls, usec, rejected, failed) in sh.stats.command_snapshot() {
                let name = sh.commands.all[id].0.name;
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                field!(
                    out,
                    "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}"
                );
            }
        }
        "errorstats" => {
            for (code, n) in sh.stats.errors() {
                field!(out, "errorstat_{code}:count={n}");
            }
        }
        "cluster" => field!(out, "cluster_enabled:{}", cfg.hot.cluster_enabled as u8),
        "keyspace" => {
            for i in 0..st.databases() {
                let db = st.db(i);
                if !db.is_empty() {
                    field!(
                        out,
                        "db{i}:keys={},expires={},avg_ttl=0",
                        db.len(),
                        db.expires()
                    );
                }
            }
        }
        _ => {}
    }
}

fn human(n: usize) -> String {
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
fn persistence(sh: &Shared, st: &Store, out: &mut String) {
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
fn scripting_memory(sh: &Shared, out: &mut String) {
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
