//! Periodic work at `hz`: the active-expiry cycle (Redis's slow cycle: up to 25% of each tick,
//! scaled by active-expire-effort, repeated while more than 10% of sampled keys were stale),
//! taken in short locked steps so clients interleave with it.
use crate::state::{now_ms, Shared};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Keys sampled per locked step (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP is 20 per db loop).
const STEP_KEYS: usize = 200;

/// Samples the instantaneous metrics every 100 ms, as Redis's serverCron does.
pub async fn sample_metrics(sh: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        crate::state::tick_coarse_clock();
        sh.stats.sample();
        resize_reply_buffers(&sh);
    }
}

/// The clients cron's reply-buffer pass (Redis's clientsCronResizeOutputBuffer).
fn resize_reply_buffers(sh: &Shared) {
    if !sh.reply_buf_resizing.load(Relaxed) {
        return;
    }
    let reset = sh.reply_buf_peak_reset_ms.load(Relaxed);
    let reset = (reset >= 0).then_some(reset as u64);
    let now = now_ms();
    for h in sh.clients.all() {
        h.resize_reply_buffer(now, reset);
    }
}

pub async fn run(sh: Arc<Shared>) {
    loop {
        let (hz, effort) = {
            let c = sh.config();
            (c.hot.hz.max(1), c.hot.active_expire_effort.clamp(1, 10))
        };
        let period = Duration::from_micros(1_000_000 / hz as u64);
        tokio::time::sleep(period).await;
        if sh.cron_paused.load(Relaxed) {
            continue;
        }
        // Never wait for the keyspace here: while a script holds it, a worker blocked on the
        // lock (rather than handed over, as lock_store does only once the script is marked
        // running) would leave too few workers to answer BUSY and SCRIPT KILL.
        if let Some(mut store) = sh.store.try_lock() {
            sh.stats.note_memory(store.used_memory(sh.allocated()));
            if !store.tracking.is_empty() {
                store.tracking.enforce_limit();
                super::dispatch::deliver_invalidations(&sh, &mut store, now_ms());
            }
        }
        if !sh.migrate.is_empty() {
            sh.migrate.close_idle();
        }
        // A replica does not expire keys itself: its primary's DELs arrive in the stream.
        // Nor does anyone while clients are paused (no DEL may be propagated then).
        if !sh.active_expire.load(Relaxed)
            || sh.repl.role_replica.load(Relaxed)
            || sh.pause_state(now_ms()).is_some()
        {
            continue;
        }
        // Redis: 25% of the period at effort 1, +2% per extra effort point.
        let budget = period.mul_f64((25 + 2 * (effort - 1)) as f64 / 100.0);
        let stale_goal = 10.0 - (effort - 1) as f64;
        let start = Instant::now();
        let (mut sampled, mut expired) = (0usize, 0usize);
        loop {
            let st = {
                // A busy script: skip this tick (see above).
                let Some(mut store) = sh.lock_store_unless_script() else {
                    break;
                };
                let st = store.active_expire_step(now_ms(), STEP_KEYS * effort as usize);
                crate::replication::propagate::flush(&sh, &mut store);
                super::dispatch::publish_events(&sh, &mut store, now_ms());
                super::dispatch::deliver_invalidations(&sh, &mut store, now_ms());
                st
            };
            sampled += st.sampled;
            expired += st.expired;
            let stale = if st.sampled > 0 {
                st.expired as f64 * 100.0 / st.sampled as f64
            } else {
                0.0
            };
            if st.sampled == 0 || stale <= stale_goal {
                break;
            }
            if start.elapsed() >= budget {
                if let Some(mut store) = sh.lock_store_unless_script() {
                    store.stats.expired_time_cap_reached_count += 1;
                }
                break;
            }
            tokio::task::yield_now().await;
        }
        let Some(mut store) = sh.lock_store_unless_script() else {
            continue;
        };
        let took = start.elapsed().as_millis() as u64;
        store.stats.expire_cycle_cpu_milliseconds += took;
        sh.latency.sample("expire-cycle", took, now_ms() / 1000);
        if sampled > 0 {
            let perc = expired as f64 / sampled as f64;
            store.stats.expired_stale_perc = perc * 0.05 + store.stats.expired_stale_perc * 0.95;
        }
    }
}
