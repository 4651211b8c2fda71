//! INFO replication: Redis 7.0's fields for a primary and for a replica, and the sync counters
//! of INFO stats.
use crate::state::{now_ms, Shared};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

pub fn section(sh: &Shared, out: &mut String) {
    let now = now_ms();
    let st = sh.repl.state();
    let (end, first, histlen, active, size) = {
        let b = sh.repl.backlog();
        (b.end(), b.first(), b.histlen(), b.active, b.size)
    };
    match &st.primary {
        None => field!(out, "role:master"),
        Some(p) => {
            let connected = p.link == crate::replication::LinkState::Connected;
            let syncing = matches!(
                p.link,
                crate::replication::LinkState::Transfer | crate::replication::LinkState::Loading
            );
            field!(out, "role:slave");
            field!(out, "master_host:{}", p.host);
            field!(out, "master_port:{}", p.port);
            field!(
                out,
                "master_link_status:{}",
                if connected { "up" } else { "down" }
            );
            let io = if p.last_io_ms == 0 {
                -1
            } else {
                (now.saturating_sub(p.last_io_ms) / 1000) as i64
            };
            field!(out, "master_last_io_seconds_ago:{io}");
            field!(out, "master_sync_in_progress:{}", syncing as u8);
            field!(out, "slave_read_repl_offset:{end}");
            field!(out, "slave_repl_offset:{end}");
            if syncing {
                let total = p.sync_total;
                let left = if total >= 0 {
                    total - p.sync_read as i64
                } else {
                    0
                };
                let perc = if total > 0 {
                    p.sync_read as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                field!(out, "master_sync_total_bytes:{total}");
                field!(out, "master_sync_read_bytes:{}", p.sync_read);
                field!(out, "master_sync_left_bytes:{left}");
                field!(out, "master_sync_perc:{perc:.2}");
                field!(out, "master_sync_last_io_seconds_ago:{io}");
            }
            if !connected {
                let since = match p.down_since_ms {
                    0 => -1,
                    t => (now.saturating_sub(t) / 1000) as i64,
                };
                field!(out, "master_link_down_since_seconds:{since}");
            }
            let cfg = sh.config();
            field!(
                out,
                "slave_priority:{}",
                cfg.get("replica-priority").unwrap_or("100")
            );
            field!(
                out,
                "slave_read_only:{}",
                (cfg.get("replica-read-only") == Some("yes")) as u8
            );
            field!(out, "replica_announced:1");
        }
    }
    field!(out, "connected_slaves:{}", st.replicas.len());
    for (i, r) in st.replicas.values().enumerate() {
        let lag = now.saturating_sub(r.ack_ms) / 1000;
        field!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}",
            r.ip,
            r.port,
            r.state.name(),
            r.ack_offset
        );
    }
    field!(out, "master_failover_state:{}", st.failover.name());
    field!(out, "master_replid:{}", st.replid);
    field!(out, "master_replid2:{}", st.replid2);
    field!(out, "master_repl_offset:{end}");
    field!(out, "second_repl_offset:{}", st.second_offset);
    field!(out, "repl_backlog_active:{}", active as u8);
    field!(out, "repl_backlog_size:{size}");
    field!(
        out,
        "repl_backlog_first_byte_offset:{}",
        if active { first } else { 0 }
    );
    field!(out, "repl_backlog_histlen:{histlen}");
}

/// The INFO stats fields about syncs and replication traffic.
pub fn stats(sh: &Shared, out: &mut String) {
    let c = &sh.repl.counters;
    field!(out, "sync_full:{}", c.sync_full.load(Relaxed));
    field!(out, "sync_partial_ok:{}", c.sync_partial_ok.load(Relaxed));
    field!(out, "sync_partial_err:{}", c.sync_partial_err.load(Relaxed));
}
