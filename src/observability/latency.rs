//! Latency: per-command histograms (LATENCY HISTOGRAM, INFO latencystats) and the latency
//! monitor's events (LATENCY LATEST / HISTORY / GRAPH / DOCTOR / RESET), sampled when an event
//! takes at least latency-monitor-threshold milliseconds, as Redis's latency.c keeps them.
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Power-of-two buckets in microseconds: bucket i holds durations in (2^(i-1), 2^i] µs
/// (bucket 0: up to 1 µs). Redis uses an HDR histogram and reports it in the same powers of two.
const BUCKETS: usize = 40;

pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Histogram {
    #[inline]
    pub fn record(&self, usec: u64) {
        let i = if usec <= 1 {
            0
        } else {
            (64 - (usec - 1).leading_zeros()) as usize
        };
        self.buckets[i.min(BUCKETS - 1)].fetch_add(1, Relaxed);
    }

    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Relaxed);
        }
    }

    /// (bucket upper bound in µs, samples up to it) for the buckets holding samples.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut total = 0;
        let mut out = Vec::new();
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Relaxed);
            if n > 0 {
                total += n;
                out.push((1u64 << i, total));
            }
        }
        out
    }

    /// The duration (µs, a bucket bound) under which `pct` percent of the samples fall.
    pub fn percentile(&self, pct: f64) -> Option<u64> {
        let cdf = self.cumulative();
        let total = cdf.last()?.1;
        let want = ((pct / 100.0) * total as f64).ceil().max(1.0) as u64;
        cdf.iter().find(|(_, c)| *c >= want).map(|(b, _)| *b)
    }
}

/// Samples an event keeps (Redis's LATENCY_TS_LEN).
const HISTORY: usize = 160;

#[derive(Default, Clone)]
pub struct Event {
    /// (unix seconds, milliseconds), oldest first; one per second (the worst of it).
    pub samples: VecDeque<(u64, u64)>,
    /// Worst latency since the last reset.
    pub max: u64,
}

#[derive(Default)]
pub struct Monitor {
    events: Mutex<BTreeMap<&'static str, Event>>,
    /// latency-monitor-threshold in ms (0: the monitor is off).
    pub threshold_ms: AtomicU64,
}

impl Monitor {
    pub fn new(threshold_ms: u64) -> Monitor {
        Monitor {
            threshold_ms: threshold_ms.into(),
            ..Default::default()
        }
    }

    /// Records `ms` for `event` if the monitor is on and it reaches the threshold.
    #[inline]
    pub fn sample(&self, event: &'static str, ms: u64, now_secs: u64) {
        let t = self.threshold_ms.load(Relaxed);
        if t == 0 || ms < t {
            return;
        }
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let e = events.entry(event).or_default();
        e.max = e.max.max(ms);
        match e.samples.back_mut() {
            Some(last) if last.0 == now_secs => last.1 = last.1.max(ms),
            _ => {
                if e.samples.len() == HISTORY {
                    e.samples.pop_front();
                }
                e.samples.push_back((now_secs, ms));
            }
        }
    }

    pub fn events(&self) -> BTreeMap<&'static str, Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the named events (all when `names` is empty); returns how many there were.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let before = events.len();
        events.retain(|k, _| !names.iter().any(|n| n.eq_ignore_ascii_case(k.as_bytes())));
        before - events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_powers_of_two() {
        let h = Histogram::default();
        for us in [1, 2, 3, 4, 5, 1000] {
            h.record(us);
        }
        assert_eq!(
            h.cumulative(),
            vec![(1, 1), (2, 2), (4, 4), (8, 5), (1024, 6)]
        );
        assert_eq!(h.percentile(50.0), Some(4));
        assert_eq!(h.percentile(100.0), Some(1024));
    }

    #[test]
    fn monitor_keeps_the_worst_sample_per_second() {
        let m = Monitor::default();
        m.sample("command", 500, 1);
        assert!(m.events().is_empty(), "off while the threshold is 0");
        m.threshold_ms.store(100, Relaxed);
        m.sample("command", 50, 1);
        m.sample("command", 200, 1);
        m.sample("command", 300, 1);
        m.sample("command", 150, 2);
        let e = &m.events()["command"];
        assert_eq!(e.samples, [(1, 300), (2, 150)]);
        assert_eq!(e.max, 300);
        assert_eq!(m.reset(&[b"other"]), 0);
        assert_eq!(m.reset(&[]), 1);
    }
}
