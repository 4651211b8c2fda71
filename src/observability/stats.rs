//! Server counters for INFO stats / commandstats / errorstats. Atomics, updated without locks
//! on the request path.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    pub client_qbuf_limit_disconnections: AtomicU64,
    pub client_outbuf_limit_disconnections: AtomicU64,
    commands: Vec<CommandStat>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Counters for `commands` commands (the size of the command index).
    pub fn new(commands: usize) -> Stats {
        Stats { commands: (0..commands).map(|_| CommandStat::default()).collect(), ..Default::default() }
    }

    /// The counters of command `id` (its index in the command index).
    pub fn command(&self, id: usize) -> &CommandStat {
        &self.commands[id]
    }

    /// Snapshot of (id, calls, usec, rejected, failed) for commands with activity.
    pub fn command_snapshot(&self) -> Vec<(usize, u64, u64, u64, u64)> {
        self.commands
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.calls.load(Relaxed), s.usec.load(Relaxed), s.rejected.load(Relaxed), s.failed.load(Relaxed)))
            .filter(|s| s.1 + s.3 + s.4 > 0)
            .collect()
    }

    pub fn count_error(&self, code: &str) {
        self.error_replies.fetch_add(1, Relaxed);
        let mut e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        // Redis caps distinct error codes at 128 to bound memory.
        if e.len() < 128 || e.contains_key(code) {
            *e.entry(code.to_string()).or_default() += 1;
        }
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for a in [
            &self.connections_received,
            &self.commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
            &self.client_qbuf_limit_disconnections,
            &self.client_outbuf_limit_disconnections,
        ] {
            a.store(0, Relaxed);
        }
        for c in self.commands.iter() {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Relaxed);
            }
        }
        self.errors.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
