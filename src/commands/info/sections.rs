//! The fields of each INFO section, Redis 7.0's names in Redis's order.
use super::{human, rusage, scripting_memory};
use crate::config::Config;
use crate::state::Shared;
use crate::store::Store;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn server(out: &mut String, sh: &Shared, st: &Store, cfg: &Config, uptime: u64) {
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
    field!(out, "atomicvar_api:c11-builtin");
    // Not built by gcc: rustc's version would mislead tools that parse this.
    field!(out, "gcc_version:0.0.0");
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

pub(super) fn clients(out: &mut String, sh: &Shared, st: &Store, cfg: &Config) {
    field!(out, "connected_clients:{}", sh.clients.len());
    field!(out, "cluster_connections:0");
    field!(out, "maxclients:{}", cfg.hot.maxclients);
    field!(out, "client_recent_max_input_buffer:0");
    field!(out, "client_recent_max_output_buffer:0");
    let paused = sh.paused_clients.load(std::sync::atomic::Ordering::Relaxed);
    field!(out, "blocked_clients:{}", st.blocked.clients() + paused);
    field!(out, "tracking_clients:{}", st.tracking.tracking_clients());
    field!(out, "clients_in_timeout_table:0");
}

/// INFO memory. The allocator is glibc's malloc behind a counting wrapper: allocator_allocated
/// is what the wrapper counts, allocator_active the heap glibc holds (mallinfo2's arena plus
/// mmapped blocks), allocator_resident the RSS; the overhead is the startup footprint, the
/// key index tables, the replication backlog and the clients' buffers, the dataset the rest.
pub(super) fn memory(out: &mut String, sh: &Shared, st: &Store, cfg: &Config) {
    let used = st.used_memory(sh.allocated());
    let peak = sh.stats.note_memory(used);
    let startup = sh.stats.startup_memory.load(Relaxed) as usize;
    let rss = crate::observability::alloc::rss();
    let allocated = sh.allocated();
    let active = crate::observability::alloc::heap_footprint().max(allocated);
    let backlog = {
        let b = sh.repl.backlog();
        if b.active {
            b.size
        } else {
            0
        }
    };
    // Each connection's read and write buffers (conn.rs: 16 KiB each to start).
    let clients = sh.clients.len() * 32 * 1024;
    let tables: usize = (0..st.databases()).map(|i| st.db(i).table_overhead()).sum();
    let overhead = (startup + tables + backlog + clients).min(used);
    let dataset = used - overhead;
    let pct = |a: usize, b: usize| {
        if b > 0 {
            a as f64 * 100.0 / b as f64
        } else {
            0.0
        }
    };
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let total = crate::observability::alloc::total_system_memory();
    field!(out, "used_memory:{used}");
    field!(out, "used_memory_human:{}", human(used));
    field!(out, "used_memory_rss:{rss}");
    field!(out, "used_memory_rss_human:{}", human(rss));
    field!(out, "used_memory_peak:{peak}");
    field!(out, "used_memory_peak_human:{}", human(peak));
    field!(out, "used_memory_peak_perc:{:.2}%", pct(used, peak));
    field!(out, "used_memory_overhead:{overhead}");
    field!(out, "used_memory_startup:{startup}");
    field!(out, "used_memory_dataset:{dataset}");
    field!(
        out,
        "used_memory_dataset_perc:{:.2}%",
        pct(dataset, used.saturating_sub(startup))
    );
    field!(out, "allocator_allocated:{allocated}");
    field!(out, "allocator_active:{active}");
    field!(out, "allocator_resident:{rss}");
    field!(out, "total_system_memory:{total}");
    field!(out, "total_system_memory_human:{}", human(total));
    scripting_memory(sh, out);
    field!(out, "maxmemory:{}", cfg.hot.maxmemory);
    field!(out, "maxmemory_human:{}", human(cfg.hot.maxmemory as usize));
    field!(out, "maxmemory_policy:{}", cfg.hot.policy.name());
    field!(out, "allocator_frag_ratio:{:.2}", ratio(active, allocated));
    field!(out, "allocator_frag_bytes:{}", active - allocated);
    field!(out, "allocator_rss_ratio:{:.2}", ratio(rss, active));
    field!(out, "allocator_rss_bytes:{}", rss as i64 - active as i64);
    field!(out, "rss_overhead_ratio:1.00");
    field!(out, "rss_overhead_bytes:0");
    field!(out, "mem_fragmentation_ratio:{:.2}", ratio(rss, used));
    field!(out, "mem_fragmentation_bytes:{}", rss as i64 - used as i64);
    field!(out, "mem_not_counted_for_evict:0");
    field!(out, "mem_replication_backlog:{backlog}");
    field!(out, "mem_total_replication_buffers:{backlog}");
    field!(out, "mem_clients_slaves:0");
    field!(out, "mem_clients_normal:{clients}");
    field!(out, "mem_cluster_links:0");
    field!(out, "mem_aof_buffer:0");
    field!(out, "mem_allocator:libc");
    field!(out, "active_defrag_running:0");
    field!(out, "lazyfree_pending_objects:{}", st.lazyfree_pending());
    field!(out, "lazyfreed_objects:{}", st.lazyfreed_objects());
}

pub(super) fn stats(out: &mut String, sh: &Shared, st: &Store) {
    let s = &sh.stats;
    let k = &st.stats;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed);
    let rates = s.instantaneous();
    field!(
        out,
        "total_connections_received:{}",
        n(&s.connections_received)
    );
    field!(out, "total_commands_processed:{}", n(&s.commands_processed));
    field!(out, "instantaneous_ops_per_sec:{}", rates.ops);
    field!(out, "total_net_input_bytes:{}", n(&s.net_input_bytes));
    field!(out, "total_net_output_bytes:{}", n(&s.net_output_bytes));
    field!(
        out,
        "total_net_repl_input_bytes:{}",
        n(&s.net_repl_input_bytes)
    );
    field!(
        out,
        "total_net_repl_output_bytes:{}",
        n(&s.net_repl_output_bytes)
    );
    field!(out, "instantaneous_input_kbps:{:.2}", rates.input_kbps);
    field!(out, "instantaneous_output_kbps:{:.2}", rates.output_kbps);
    field!(
        out,
        "instantaneous_input_repl_kbps:{:.2}",
        rates.repl_input_kbps
    );
    field!(
        out,
        "instantaneous_output_repl_kbps:{:.2}",
        rates.repl_output_kbps
    );
    field!(out, "rejected_connections:{}", n(&s.rejected_connections));
    super::replication::stats(sh, out);
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
    // Eviction runs to completion inside the command that needs the room: never "exceeded".
    field!(out, "current_eviction_exceeded_time:0");
    field!(out, "keyspace_hits:{}", k.keyspace_hits);
    field!(out, "keyspace_misses:{}", k.keyspace_misses);
    for (name, n) in sh.pubsub.counts() {
        field!(out, "{name}:{n}");
    }
    // No fork: a snapshot is a thread (see store/snapshot.rs).
    field!(out, "latest_fork_usec:0");
    field!(out, "total_forks:0");
    field!(out, "migrate_cached_sockets:{}", sh.migrate.len());
    // A replica never expires keys itself (writable-replica key expiry is not tracked).
    field!(out, "slave_expires_tracked_keys:0");
    // No active defragmentation (glibc malloc has none to drive).
    for f in [
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        field!(out, "{f}:0");
    }
    let t = &st.tracking;
    field!(out, "tracking_total_keys:{}", t.tracked_keys());
    field!(out, "tracking_total_items:{}", t.tracked_items());
    field!(out, "tracking_total_prefixes:{}", t.tracked_prefixes());
    field!(out, "unexpected_error_replies:0");
    field!(out, "total_error_replies:{}", n(&s.error_replies));
    field!(out, "dump_payload_sanitizations:0");
    field!(out, "total_reads_processed:{}", n(&s.reads_processed));
    field!(out, "total_writes_processed:{}", n(&s.writes_processed));
    // One thread does all the I/O of a connection: none is threaded I/O in Redis's sense.
    field!(out, "io_threaded_reads_processed:0");
    field!(out, "io_threaded_writes_processed:0");
    field!(out, "reply_buffer_shrinks:0");
    field!(out, "reply_buffer_expands:0");
    // Redis 7.2's counters, kept: slotcache has had them since before 7.0 parity work.
    field!(
        out,
        "client_query_buffer_limit_disconnections:{}",
        n(&s.client_qbuf_limit_disconnections)
    );
    field!(
        out,
        "client_output_buffer_limit_disconnections:{}",
        n(&s.client_outbuf_limit_disconnections)
    );
}

pub(super) fn cpu(out: &mut String, _sh: &Shared) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    field!(out, "used_cpu_sys:{sys:.6}");
    field!(out, "used_cpu_user:{user:.6}");
    field!(out, "used_cpu_sys_children:{csys:.6}");
    field!(out, "used_cpu_user_children:{cuser:.6}");
    // Redis's main thread: the thread answering INFO, one of the runtime's workers.
    let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
    field!(out, "used_cpu_sys_main_thread:{tsys:.6}");
    field!(out, "used_cpu_user_main_thread:{tuser:.6}");
}

pub(super) fn commandstats(out: &mut String, sh: &Shared) {
    for (id, calls, usec, rejected, failed) in sh.stats.command_snapshot() {
        let name = crate::commands::index().all[id].0.name;
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

/// Per command, the latency percentiles of latency-tracking-info-percentiles, in µs (the
/// bound of the power-of-two bucket each falls in).
pub(super) fn latencystats(out: &mut String, sh: &Shared, cfg: &Config) {
    if cfg.get("latency-tracking") != Some("yes") {
        return;
    }
    let pcts: Vec<f64> = cfg
        .get("latency-tracking-info-percentiles")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for (id, calls, ..) in sh.stats.command_snapshot() {
        if calls == 0 || pcts.is_empty() {
            continue;
        }
        let hist = &sh.stats.command(id).hist;
        let parts: Vec<String> = pcts
            .iter()
            .map(|&p| {
                let v = hist.percentile(p).unwrap_or(0);
                format!("p{}={v}.000", crate::util::num::format_g(p, 17))
            })
            .collect();
        let name = crate::commands::index().all[id].0.name;
        field!(out, "latency_percentiles_usec_{name}:{}", parts.join(","));
    }
}

pub(super) fn errorstats(out: &mut String, sh: &Shared) {
    for (code, n) in sh.stats.errors() {
        field!(out, "errorstat_{code}:count={n}");
    }
}

pub(super) fn keyspace(out: &mut String, _sh: &Shared, st: &Store) {
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
