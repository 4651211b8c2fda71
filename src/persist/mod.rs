//! RDB persistence for the server: SAVE (synchronous, the store locked as in Redis), BGSAVE
//! (the store's incremental point-in-time snapshot, written by the `slotcache-rdb` thread in
//! short locked steps: no fork, no pause), `save <seconds> <changes>` points, save on
//! shutdown, loading at startup and DEBUG RELOAD. Uses `state` (status, config, store lock)
//! and `store` (snapshot engine, RDB codec); the command handlers call in from above.
//!
//! Lock order: the store lock before `persist.status` (never the other way).
pub mod aof;
pub mod file;
pub mod load;

use crate::state::{now_ms, Shared};
use crate::store::rdb::encode::{self, Options};
use crate::store::Store;
use file::SnapshotFile;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Work for the snapshot thread.
pub enum Job {
    /// Continue the snapshot begun in the store into this file.
    Bgsave(SnapshotFile),
    /// The same for an AOF rewrite's new base file.
    AofRewrite(SnapshotFile),
}

/// Hands `job` to the snapshot thread; false when it is not running.
pub fn send_job(sh: &Shared, job: Job) -> bool {
    sh.persist
        .jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|tx| tx.send(job).is_ok())
        .unwrap_or(false)
}

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed background save, save points wait this
/// long before trying again.
const RETRY_DELAY_SECS: u64 = 5;

/// How long the snapshot thread rests after each step, in multiples of the step's duration.
const SNAPSHOT_REST_FACTOR: u32 = 3;

/// `dir`/`dbfilename` (the process runs in `dir`, as redis-server does).
pub fn rdb_path(sh: &Shared) -> PathBuf {
    let c = sh.config();
    PathBuf::from(c.get("dbfilename").unwrap_or("dump.rdb"))
}

fn options(sh: &Shared) -> (Options, bool) {
    let c = sh.config();
    (Options::from_config(&c), c.get("rdbchecksum") != Some("no"))
}

/// An integer directive (rdb-key-save-delay, key-load-delay), 0 when unset.
fn config_int(sh: &Shared, name: &str) -> i64 {
    sh.config()
        .get(name)
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Sleeps for the test delays rdb-key-save-delay / key-load-delay after `keys` keys, as
/// Redis's debugDelay: `delay` > 0 is microseconds per key, -n one 1 us sleep per n keys. At
/// least `floor` is slept.
fn debug_delay(delay: i64, keys: u64, floor: Duration) {
    let per_key = Duration::from_micros(delay.max(0) as u64 * keys);
    std::thread::sleep(floor.max(per_key));
    if delay < 0 {
        for _ in 0..keys / delay.unsigned_abs() {
            std::thread::sleep(Duration::from_micros(1));
        }
    }
}

/// The configured save points (seconds, changes).
pub fn save_points(sh: &Shared) -> Vec<(u64, u64)> {
    let c = sh.config();
    let nums: Vec<u64> = c
        .get("save")
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Begins a snapshot in `store` (the point in time is now): the header (with the replication
/// AUX fields for a full sync) and the snapshot preamble, and the encoding settings.
pub fn snapshot_head(
    sh: &Shared,
    store: &mut Store,
    repl: Option<&encode::ReplInfo>,
) -> (Vec<u8>, Options, bool) {
    let (opts, checksum) = options(sh);
    let mut head = Vec::new();
    let used = store.used_memory(sh.allocated()) as u64;
    encode::write_header(&mut head, now_ms() / 1000, used, repl, &opts);
    for code in sh.scripting.library_codes() {
        encode::write_function(&mut head, &code, &opts);
    }
    // Preserved versions of keys written during the save may use a tenth of the dataset.
    head.extend_from_slice(&store.snapshot_begin(opts, (used / 10) as usize));
    (head, opts, checksum)
}

/// Opens the temp file and writes the header and the snapshot preamble, beginning the
/// snapshot in `store` (the point in time is now).
fn begin(sh: &Shared, store: &mut Store) -> std::io::Result<SnapshotFile> {
    let (opts, checksum) = options(sh);
    let seq = sh.persist.temp_seq.fetch_add(1, Relaxed);
    let mut f = SnapshotFile::create(rdb_path(sh), seq, opts, checksum)?;
    let (head, _, _) = snapshot_head(sh, store, None);
    if let Err(e) = f.write(&head) {
        store.snapshot_abort();
        f.discard();
        return Err(e);
    }
    Ok(f)
}

/// SAVE: the whole snapshot with the store locked by the caller.
pub fn save_sync(sh: &Shared, store: &mut Store) -> std::io::Result<()> {
    // A running background save holds the store's snapshot; callers abort it first when
    // they mean to (FLUSHALL, SHUTDOWN) or refuse (SAVE).
    if store.snapshot_active() {
        return Err(std::io::Error::other("background save in progress"));
    }
    let start = std::time::Instant::now();
    let mut f = begin(sh, store)?;
    let dirty = store.dirty;
    let mut keys = 0;
    let res = loop {
        let Some(c) = store.snapshot_step(usize::MAX) else {
            break Err(std::io::Error::other("snapshot aborted"));
        };
        keys = c.keys;
        if let Err(e) = f.write_chunk(&c, false) {
            store.snapshot_abort();
            break Err(e);
        }
        if c.finished {
            break Ok(());
        }
    };
    match res {
        Ok(()) => {
            let bytes = f.finish()?;
            store.dirty = store.dirty.saturating_sub(dirty);
            let mut st = sh.persist.status();
            st.lastsave = now_ms() / 1000;
            st.last_bgsave_ok = true;
            sh.persist.bgsave_failed.store(false, Relaxed);
            st.saves += 1;
            st.keys_processed = keys;
            tracing::info!(
                keys,
                bytes,
                secs = start.elapsed().as_secs_f64(),
                "DB saved on disk"
            );
            Ok(())
        }
        Err(e) => {
            f.discard();
            tracing::warn!(error = %e, "Failed saving the DB");
            Err(e)
        }
    }
}

/// BGSAVE: begins the snapshot now (under the caller's store lock) and hands the rest to the
/// snapshot thread. Err(true) when one is already running.
pub fn bgsave_start(sh: &Shared, store: &mut Store) -> Result<(), Option<std::io::Error>> {
    if sh.persist.bgsave_running.swap(true, Relaxed) {
        return Err(None);
    }
    let now = now_ms() / 1000;
    let f = match begin(sh, store) {
        Ok(f) => f,
        Err(e) => {
            sh.persist.bgsave_running.store(false, Relaxed);
            let mut st = sh.persist.status();
            st.last_bgsave_ok = false;
            sh.persist.bgsave_failed.store(true, Relaxed);
            st.last_bgsave_try = now;
            tracing::warn!(error = %e, "Can't save in background");
            return Err(Some(e));
        }
    };
    {
        let mut st = sh.persist.status();
        st.bgsave_started = now;
        st.last_bgsave_try = now;
        st.dirty_before = store.dirty;
        st.keys_processed = 0;
        st.scheduled = false;
    }
    if !send_job(sh, Job::Bgsave(f)) {
        store.snapshot_abort();
        sh.persist.bgsave_running.store(false, Relaxed);
        return Err(Some(std::io::Error::other("snapshot thread not running")));
    }
    tracing::info!("Background saving started");
    Ok(())
}

/// Steps the snapshot begun in the store until it is complete, writing each step to `w`.
/// rdb-key-save-delay (for tests and benchmarks) slows the keys a step serializes itself
/// (writers' captures are not slowed): positive, a step takes about 1 ms worth of keys and
/// sleeps their total delay; negative (-n), one 1 us sleep per n keys, as Redis's debugDelay.
pub fn write_steps<W: std::io::Write>(
    sh: &Shared,
    w: &mut file::SnapshotWriter<W>,
) -> std::io::Result<()> {
    loop {
        let delay = config_int(sh, "rdb-key-save-delay");
        let budget = match delay {
            0 => usize::MAX,
            d if d > 0 => (1000 / d).max(1) as usize,
            _ => 1000,
        };
        let work = std::time::Instant::now();
        let chunk = sh.lock_store().snapshot_step(budget);
        let step_time = work.elapsed();
        let Some(c) = chunk else {
            return Err(std::io::Error::other("snapshot aborted"));
        };
        sh.persist.status().keys_processed = c.keys;
        w.write_chunk(&c, true)?;
        if c.finished {
            return Ok(());
        }
        // Duty cycle: the thread rests three times as long as a step held the lock, so the
        // store lock and the core it shares with clients stay at least 75% theirs.
        let rest = (step_time * SNAPSHOT_REST_FACTOR).min(Duration::from_millis(50));
        debug_delay(delay, c.stepped, rest);
    }
}

/// Steps the snapshot into `f` until done, then completes the file (renamed into place) or
/// drops it, aborting the snapshot in the store.
fn write_file(sh: &Shared, mut f: SnapshotFile) -> std::io::Result<()> {
    match write_steps(sh, &mut f.out) {
        Ok(()) => f.finish().map(|_| ()),
        Err(e) => {
            sh.lock_store().snapshot_abort();
            f.discard();
            Err(e)
        }
    }
}

/// The snapshot thread's half of a BGSAVE: steps until done, writing as it goes.
fn run_bgsave(sh: &Shared, f: SnapshotFile) {
    let start = std::time::Instant::now();
    let outcome = write_file(sh, f);
    let now = now_ms() / 1000;
    let mut store = sh.lock_store();
    let mut st = sh.persist.status();
    st.last_bgsave_secs = start.elapsed().as_secs() as i64;
    st.bgsave_started = 0;
    match outcome {
        Ok(()) => {
            store.dirty = store.dirty.saturating_sub(st.dirty_before);
            st.lastsave = now;
            st.last_bgsave_ok = true;
            sh.persist.bgsave_failed.store(false, Relaxed);
            st.saves += 1;
            tracing::info!(
                keys = st.keys_processed,
                "Background saving terminated with success"
            );
        }
        Err(e) if e.to_string() == "snapshot aborted" => {
            tracing::warn!("Background saving aborted");
        }
        Err(e) => {
            st.last_bgsave_ok = false;
            sh.persist.bgsave_failed.store(true, Relaxed);
            tracing::warn!(error = %e, "Background saving error");
        }
    }
    drop(st);
    drop(store);
    sh.persist.bgsave_running.store(false, Relaxed);
}

/// Whether a save point (or a scheduled BGSAVE) asks for a background save now.
fn save_point_due(sh: &Shared, dirty: u64) -> bool {
    let now = now_ms() / 1000;
    let st = sh.persist.status();
    if st.scheduled {
        return true;
    }
    let retry_ok = st.last_bgsave_ok || now.saturating_sub(st.last_bgsave_try) > RETRY_DELAY_SECS;
    let since = now.saturating_sub(st.lastsave);
    drop(st);
    retry_ok
        && save_points(sh)
            .iter()
            .any(|&(secs, changes)| dirty >= changes && since >= secs)
}

/// Starts the snapshot thread: background saves, and the save points checked every 100 ms.
pub fn start(sh: Arc<Shared>) {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    *sh.persist.jobs.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    std::thread::Builder::new()
        .name("slotcache-rdb".into())
        .spawn(move || loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Job::Bgsave(f)) => run_bgsave(&sh, f),
                Ok(Job::AofRewrite(f)) => aof::run_rewrite(&sh, f),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if sh.persist.bgsave_running.load(Relaxed) || sh.persist.loading.load(Relaxed) {
                        continue;
                    }
                    let mut store = sh.lock_store();
                    if save_point_due(&sh, store.dirty) {
                        let _ = bgsave_start(&sh, &mut store);
                    }
                }
                Err(_) => return,
            }
        })
        .expect("spawn snapshot thread");
}

/// MISCONF: writes are refused after a failed background save when save points exist and
/// stop-writes-on-bgsave-error is on.
pub fn writes_refused(sh: &Shared) -> bool {
    if !sh.persist.bgsave_failed.load(Relaxed) {
        return false;
    }
    sh.config().get("stop-writes-on-bgsave-error") != Some("no") && !save_points(sh).is_empty()
}

/// Before exiting (SHUTDOWN, SIGTERM): stops a background save and saves when save points are
/// configured (or `force_save`). Err when the save failed.
pub fn save_on_shutdown(
    sh: &Shared,
    store: &mut Store,
    force_save: bool,
    nosave: bool,
) -> std::io::Result<()> {
    // A background save stops at its next step (it finds no snapshot) and drops its file.
    store.snapshot_abort();
    aof::shutdown(sh, store);
    if nosave || (!force_save && save_points(sh).is_empty()) {
        return Ok(());
    }
    tracing::info!("Saving the final RDB snapshot before exiting.");
    save_sync(sh, store)
}
