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
    /// Durations, for LATENCY HISTOGRAM and INFO latencystats.
    pub hist: super::latency::Histogram,
}

#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub net_repl_input_bytes: AtomicU64,
    pub net_repl_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    pub client_qbuf_limit_disconnections: AtomicU64,
    pub client_outbuf_limit_disconnections: AtomicU64,
    /// Reads from and writes to client sockets (INFO total_reads/writes_processed).
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    /// used_memory once the server was up (INFO used_memory_startup).
    pub startup_memory: AtomicU64,
    /// The highest used_memory seen (INFO used_memory_peak): noted by INFO and every
    /// active-expiry tick.
    peak_memory: AtomicU64,
    commands: Vec<CommandStat>,
    samples: Mutex<Samples>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// Redis's instantaneous metrics: 16 samples of per-second rates, taken every 100 ms.
#[derive(Default)]
struct Samples {
    last: Option<(std::time::Instant, [u64; 5])>,
    rates: std::collections::VecDeque<[f64; 5]>,
}

/// The instantaneous_* fields of INFO stats.
pub struct Rates {
    pub ops: u64,
    pub input_kbps: f64,
    pub output_kbps: f64,
    pub repl_input_kbps: f64,
    pub repl_output_kbps: f64,
}

impl Stats {
    /// Records `used` as used memory now; returns the peak.
    pub fn note_memory(&self, used: usize) -> usize {
        let prev = self.peak_memory.fetch_max(used as u64, Relaxed);
        prev.max(used as u64) as usize
    }

    /// Takes one sample of commands and of client and replication bytes in and out (called
    /// every 100 ms).
    pub fn sample(&self) {
        let now = std::time::Instant::now();
        let cur = [
            self.commands_processed.load(Relaxed),
            self.net_input_bytes.load(Relaxed),
            self.net_output_bytes.load(Relaxed),
            self.net_repl_input_bytes.load(Relaxed),
            self.net_repl_output_bytes.load(Relaxed),
        ];
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((t, prev)) = s.last {
            let dt = now.duration_since(t).as_secs_f64().max(1e-3);
            let rate = [0, 1, 2, 3, 4].map(|i| cur[i].saturating_sub(prev[i]) as f64 / dt);
            s.rates.push_back(rate);
            if s.rates.len() > 16 {
                s.rates.pop_front();
            }
        }
        s.last = Some((now, cur));
    }

    /// The instantaneous rates: means over the samples.
    pub fn instantaneous(&self) -> Rates {
        let s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let n = s.rates.len().max(1) as f64;
        let mut sum = [0.0; 5];
        for r in &s.rates {
            for (a, b) in sum.iter_mut().zip(r) {
                *a += b;
            }
        }
        Rates {
            ops: (sum[0] / n) as u64,
            input_kbps: sum[1] / n / 1024.0,
            output_kbps: sum[2] / n / 1024.0,
            repl_input_kbps: sum[3] / n / 1024.0,
            repl_output_kbps: sum[4] / n / 1024.0,
        }
    }

    /// Counters for `commands` commands (the size of the command index).
    pub fn new(commands: usize) -> Stats {
        Stats {
            commands: (0..commands).map(|_| CommandStat::default()).collect(),
            ..Default::default()
        }
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
            .map(|(i, s)| {
                (
                    i,
                    s.calls.load(Relaxed),
                    s.usec.load(Relaxed),
                    s.rejected.load(Relaxed),
                    s.failed.load(Relaxed),
                )
            })
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
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for a in [
            &self.connections_received,
            &self.commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.net_repl_input_bytes,
            &self.net_repl_output_bytes,
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
            c.hist.reset();
        }
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
