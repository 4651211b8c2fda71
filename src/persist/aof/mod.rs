//! The append-only file, as Redis 7.0's multi-part AOF: in `appenddirname`, a base file (an
//! RDB snapshot), incremental files of the commands written since, and a manifest naming
//! them (manifest.rs). Every write the server propagates is appended to the current
//! incremental file under the store lock, before its client is answered (so a crash of the
//! process loses nothing written); `appendfsync` decides when the disk sees it: `always`
//! before the reply, `everysec` from the AOF thread once a second, `no` when the kernel
//! likes. BGREWRITEAOF (and `auto-aof-rewrite-*`, and turning the AOF on) opens a new
//! incremental file and writes a new base from the store's point-in-time snapshot on the
//! snapshot thread (the "child" slot BGSAVE and full syncs share); when it is complete the
//! manifest swaps to it and the files it covers are deleted. Loading (startup, DEBUG
//! LOADAOF) is replay.rs.
//!
//! Lock order: the store lock, then `PersistState::aof`.
//!
//! Difference from Redis: the base is always written as RDB (`aof-use-rdb-preamble no`
//! still produces `.base.rdb`); a base in command form written by Redis loads fine.
pub mod load;
pub mod manifest;
pub mod replay;

use crate::state::Shared;
use crate::store::propagation::Op;
use crate::store::Store;
use manifest::Manifest;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Redis's aof_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    On,
    /// Turned on at runtime: writes go to a temporary incremental file until the first
    /// rewrite completes, then the AOF is on.
    WaitRewrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    fn from_config(v: Option<&str>) -> Fsync {
        match v {
            Some("always") => Fsync::Always,
            Some("no") => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

/// A rewrite in progress.
#[derive(Debug)]
pub struct Rewrite {
    started: Instant,
    /// The new base file's name (in the AOF directory).
    base: String,
    /// The AOF was turned off meanwhile: the result is dropped.
    cancelled: bool,
}

/// The AOF's state: files, counters for INFO, the pending rewrite.
#[derive(Debug)]
pub struct Aof {
    pub mode: Mode,
    pub manifest: Manifest,
    fsync: Fsync,
    /// The incremental file being appended to.
    file: Option<Arc<File>>,
    /// Bytes not yet written (a failed write is retried, as Redis's aof_buf).
    pending: Vec<u8>,
    last_db: Option<usize>,
    /// Written since the last fsync.
    unsynced: bool,
    last_fsync: Instant,
    /// INFO aof_current_size / aof_base_size.
    pub current_size: u64,
    pub base_size: u64,
    pub rewrite: Option<Rewrite>,
    pub scheduled: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    pub last_rewrite_ok: bool,
    pub last_rewrite_secs: i64,
    pub write_error: Option<String>,
    /// `write_error.is_some()`, readable without this lock (PersistState keeps a clone).
    write_failed: Arc<AtomicBool>,
    /// Replaying the files: what the replay runs is not appended again.
    pub loading: bool,
    pub delayed_fsync: u64,
}

impl Aof {
    /// The AOF state; `write_failed` mirrors its write errors for lock-free checks.
    pub fn new(write_failed: Arc<AtomicBool>) -> Aof {
        Aof {
            mode: Mode::Off,
            manifest: Manifest::default(),
            fsync: Fsync::Everysec,
            file: None,
            pending: Vec::new(),
            last_db: None,
            unsynced: false,
            last_fsync: Instant::now(),
            current_size: 0,
            base_size: 0,
            rewrite: None,
            scheduled: false,
            rewrites: 0,
            consecutive_failures: 0,
            last_rewrite_ok: true,
            last_rewrite_secs: -1,
            write_error: None,
            write_failed,
            loading: false,
            delayed_fsync: 0,
        }
    }
}

/// Where the AOF files live and what they are called.
pub struct Names {
    pub dir: PathBuf,
    pub prefix: String,
}

pub fn names(sh: &Shared) -> Names {
    let c = sh.config();
    Names {
        dir: PathBuf::from(c.get("appenddirname").unwrap_or("appendonlydir")),
        prefix: c
            .get("appendfilename")
            .unwrap_or("appendonly.aof")
            .to_string(),
    }
}

fn temp_incr_name(prefix: &str) -> String {
    format!("temp-{prefix}.incr")
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

impl Aof {
    /// Writes what is pending; a failure is kept for INFO and MISCONF and retried.
    fn write_pending(&mut self) {
        let Some(f) = self.file.clone() else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            match (&*f).write(&self.pending) {
                Ok(0) => {
                    self.write_error = Some("short write".into());
                    self.write_failed.store(true, Relaxed);
                    return;
                }
                Ok(n) => {
                    self.pending.drain(..n);
                    self.current_size += n as u64;
                    self.unsynced = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if self.write_error.is_none() {
                        tracing::warn!(error = %e, "Error writing to the AOF file");
                    }
                    self.write_error = Some(e.to_string());
                    self.write_failed.store(true, Relaxed);
                    return;
                }
            }
        }
        if self.write_error.take().is_some() {
            self.write_failed.store(false, Relaxed);
            tracing::warn!("AOF write error looks solved, Redis can write again.");
        }
        if self.fsync == Fsync::Always && self.unsynced {
            if let Err(e) = f.sync_data() {
                // Redis exits here: an acknowledged write might not be on disk.
                tracing::error!(error = %e, "Can't persist AOF for fsync error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            self.unsynced = false;
            self.last_fsync = Instant::now();
        }
    }

    /// Switches appends to `f` (the previous file is synced first, as Redis's
    /// aof_background_fsync_and_close).
    fn switch_file(&mut self, f: File) {
        self.write_pending();
        if let Some(old) = self.file.take() {
            if self.unsynced {
                let _ = old.sync_data();
            }
        }
        self.file = Some(Arc::new(f));
        self.last_db = None;
        self.unsynced = false;
    }
}

/// Appends a command batch (the ops one command or transaction queued) to the AOF.
pub fn feed(sh: &Shared, ops: &[Op], transaction: bool) {
    let mut a = sh.persist.aof();
    if a.mode == Mode::Off || a.loading {
        return;
    }
    let ops: Vec<&Op> = ops.iter().filter(|o| !o.repl_only).collect();
    if ops.is_empty() {
        return;
    }
    let mut out = std::mem::take(&mut a.pending);
    let mut last_db = a.last_db;
    crate::store::propagation::encode_ops(&mut out, &mut last_db, &ops, transaction);
    a.last_db = last_db;
    a.pending = out;
    a.write_pending();
}

/// Writes what is pending (DEBUG LOADAOF reads the files next).
pub fn flush_now(sh: &Shared) {
    sh.persist.aof().write_pending();
}

/// MISCONF for writes while the AOF cannot be written (checked on every write: the AOF
/// lock is taken only after a failure).
pub fn write_error(sh: &Shared) -> Option<String> {
    if !sh.persist.aof_write_failed.load(Relaxed) {
        return None;
    }
    sh.persist.aof().write_error.clone()
}

/// Opens an incremental file for appending (O_APPEND, so a truncation by a later load does
/// not leave a hole), emptied first when `truncate`.
fn open_append(path: &std::path::Path, truncate: bool) -> std::io::Result<File> {
    if truncate {
        File::create(path)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Startup with `appendonly yes`, after loading (Redis's aofOpenIfNeededOnServerStart):
/// a base file when there is none yet (the dataset as loaded), then the last incremental
/// file opened for appending, and the manifest written. Any failure stops the server.
pub fn open_on_startup(sh: &Shared, mut manifest: Manifest) {
    let n = names(sh);
    sh.lock_store().propagation.enabled = true;
    let fatal = |what: String| -> ! {
        tracing::error!("{what}");
        eprintln!("{what}");
        std::process::exit(1);
    };
    if let Err(e) = std::fs::create_dir_all(&n.dir) {
        fatal(format!(
            "Can't open or create append-only dir {}: {e}",
            n.dir.display()
        ));
    }
    if manifest.is_empty() {
        let base = manifest.new_base(&n.prefix);
        let mut store = sh.lock_store();
        if let Err(e) = write_base_sync(sh, &mut store, &n.dir.join(&base)) {
            fatal(format!("Can't create the AOF base file {base}: {e}"));
        }
        tracing::info!("Creating AOF base file {base} on server start");
    }
    let had_incr = !manifest.incr.is_empty();
    let incr = manifest.last_incr(&n.prefix);
    let f = match open_append(&n.dir.join(&incr), false) {
        Ok(f) => f,
        Err(e) => fatal(format!("Can't open the append-only file {incr}: {e}")),
    };
    if let Err(e) = manifest::write(&n.dir, &n.prefix, &manifest) {
        fatal(format!("Can't write the AOF manifest: {e}"));
    }
    let base_size = manifest
        .base
        .as_ref()
        .map_or(0, |b| file_size(&n.dir.join(&b.name)));
    let total: u64 = manifest
        .live()
        .map(|f| file_size(&n.dir.join(&f.name)))
        .sum();
    let mut a = sh.persist.aof();
    a.mode = Mode::On;
    a.fsync = Fsync::from_config(sh.config().get("appendfsync"));
    a.manifest = manifest;
    a.file = Some(Arc::new(f));
    a.last_db = None;
    a.current_size = total;
    a.base_size = base_size;
    drop(a);
    if had_incr {
        tracing::info!("Opening AOF incr file {incr} on server start");
    } else {
        tracing::info!("Creating AOF incr file {incr} on server start");
    }
    del_history(sh);
}

/// The whole dataset as an RDB file at `path`, with the store locked (a base at startup).
fn write_base_sync(sh: &Shared, store: &mut Store, path: &std::path::Path) -> std::io::Result<()> {
    let (head, opts, checksum) = super::snapshot_head(sh, store, None);
    let seq = sh.persist.temp_seq.fetch_add(1, Relaxed);
    let mut f = super::file::SnapshotFile::create(path.to_path_buf(), seq, opts, checksum)?;
    f.write(&head)?;
    loop {
        let Some(c) = store.snapshot_step(usize::MAX) else {
            f.discard();
            return Err(std::io::Error::other("snapshot aborted"));
        };
        if let Err(e) = f.write_chunk(&c, false) {
            store.snapshot_abort();
            f.discard();
            return Err(e);
        }
        if c.finished {
            break;
        }
    }
    f.finish().map(|_| ())
}

/// Deletes the history files and writes the manifest without them.
fn del_history(sh: &Shared) {
    let n = names(sh);
    let mut a = sh.persist.aof();
    if a.manifest.history.is_empty() {
        return;
    }
    for h in std::mem::take(&mut a.manifest.history) {
        tracing::info!("Removing the history file {} in the background", h.name);
        let _ = std::fs::remove_file(n.dir.join(&h.name));
    }
    if let Err(e) = manifest::write(&n.dir, &n.prefix, &a.manifest) {
        tracing::warn!(error = %e, "Can't write the AOF manifest");
    }
}

/// Why a rewrite did not start.
#[derive(Debug)]
pub enum NotStarted {
    /// Already running (BGREWRITEAOF's error).
    InProgress,
    /// Another snapshot holds the slot: it starts when that one is done.
    Scheduled,
    Failed(String),
}

/// Starts a rewrite (Redis's rewriteAppendOnlyFileBackground) with the store locked by the
/// caller: a new incremental file takes the writes from now on, and the snapshot thread
/// writes the dataset as of now into the new base.
pub fn rewrite_start(sh: &Shared, store: &mut Store) -> Result<(), NotStarted> {
    let mut a = sh.persist.aof();
    match &a.rewrite {
        // One being dropped (the AOF was restarted): the next starts once it has stopped.
        Some(rw) if rw.cancelled => {
            a.scheduled = true;
            return Err(NotStarted::Scheduled);
        }
        Some(_) => return Err(NotStarted::InProgress),
        None => {}
    }
    if sh.persist.bgsave_running.swap(true, Relaxed) {
        a.scheduled = true;
        return Err(NotStarted::Scheduled);
    }
    let n = names(sh);
    let fail = |a: &mut Aof, e: String| {
        sh.persist.bgsave_running.store(false, Relaxed);
        a.last_rewrite_ok = false;
        a.consecutive_failures += 1;
        tracing::warn!("Can't rewrite append only file in background: {e}");
        Err(NotStarted::Failed(e))
    };
    if let Err(e) = std::fs::create_dir_all(&n.dir) {
        return fail(&mut a, format!("Can't open or create append-only dir: {e}"));
    }
    match a.mode {
        Mode::On => {
            let mut m = a.manifest.clone();
            let name = m.new_incr(&n.prefix);
            let f = match open_append(&n.dir.join(&name), true) {
                Ok(f) => f,
                Err(e) => {
                    return fail(
                        &mut a,
                        format!("Can't open the append-only file {name}: {e}"),
                    )
                }
            };
            if let Err(e) = manifest::write(&n.dir, &n.prefix, &m) {
                return fail(&mut a, format!("Can't write the AOF manifest: {e}"));
            }
            a.switch_file(f);
            a.manifest = m;
            tracing::info!("Creating AOF incr file {name} on background rewrite");
        }
        Mode::WaitRewrite => {
            let name = temp_incr_name(&n.prefix);
            match open_append(&n.dir.join(&name), true) {
                Ok(f) => a.switch_file(f),
                Err(e) => {
                    return fail(
                        &mut a,
                        format!("Can't open the append-only file {name}: {e}"),
                    )
                }
            }
        }
        Mode::Off => {}
    }
    let mut m = a.manifest.clone();
    let base = m.new_base(&n.prefix);
    let (head, opts, checksum) = super::snapshot_head(sh, store, None);
    let seq = sh.persist.temp_seq.fetch_add(1, Relaxed);
    let started = super::file::SnapshotFile::create(n.dir.join(&base), seq, opts, checksum)
        .and_then(|mut f| f.write(&head).map(|_| f));
    let f = match started {
        Ok(f) => f,
        Err(e) => {
            store.snapshot_abort();
            return fail(&mut a, e.to_string());
        }
    };
    if !super::send_job(sh, super::Job::AofRewrite(f)) {
        store.snapshot_abort();
        return fail(&mut a, "snapshot thread not running".into());
    }
    a.rewrite = Some(Rewrite {
        started: Instant::now(),
        base,
        cancelled: false,
    });
    a.scheduled = false;
    a.rewrites += 1;
    tracing::info!("Background append only file rewriting started");
    Ok(())
}

/// The snapshot thread's half of a rewrite: the base written (or not), then the manifest
/// switched to it (Redis's backgroundRewriteDoneHandler).
pub(super) fn run_rewrite(sh: &Shared, f: super::file::SnapshotFile) {
    let outcome = super::write_file(sh, f);
    let store = sh.lock_store();
    let n = names(sh);
    let mut a = sh.persist.aof();
    let Some(rw) = a.rewrite.take() else {
        sh.persist.bgsave_running.store(false, Relaxed);
        return;
    };
    if rw.cancelled {
        // The AOF was turned off meanwhile: the new base belongs to no AOF.
        let _ = std::fs::remove_file(n.dir.join(&rw.base));
        drop(a);
        drop(store);
        sh.persist.bgsave_running.store(false, Relaxed);
        return;
    }
    a.last_rewrite_secs = rw.started.elapsed().as_secs() as i64;
    let done = outcome.and_then(|()| finish_rewrite(&mut a, &n, &rw.base));
    match done {
        Ok(()) => {
            a.last_rewrite_ok = true;
            a.consecutive_failures = 0;
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            a.last_rewrite_ok = false;
            a.consecutive_failures += 1;
            let _ = std::fs::remove_file(n.dir.join(&rw.base));
            tracing::warn!(error = %e, "Background AOF rewrite terminated with error");
            if a.mode == Mode::WaitRewrite {
                // Redis drops the temporary incremental file and tries again.
                let _ = std::fs::remove_file(n.dir.join(temp_incr_name(&n.prefix)));
                a.scheduled = true;
            }
        }
    }
    drop(a);
    drop(store);
    sh.persist.bgsave_running.store(false, Relaxed);
    del_history(sh);
}

fn finish_rewrite(a: &mut Aof, n: &Names, base: &str) -> std::io::Result<()> {
    let mut m = a.manifest.clone();
    let got = m.new_base(&n.prefix);
    if got != base {
        return Err(std::io::Error::other(
            "the AOF manifest changed during the rewrite",
        ));
    }
    if a.mode == Mode::WaitRewrite {
        let name = m.new_incr(&n.prefix);
        std::fs::rename(n.dir.join(temp_incr_name(&n.prefix)), n.dir.join(&name))?;
    }
    m.rewritten(a.file.is_some());
    manifest::write(&n.dir, &n.prefix, &m)?;
    a.manifest = m;
    if a.mode != Mode::Off {
        // Redis's aof_rewrite_base_size: the new base and the incremental file since.
        a.current_size = a
            .manifest
            .live()
            .map(|f| file_size(&n.dir.join(&f.name)))
            .sum();
        a.base_size = a.current_size;
        a.mode = Mode::On;
    }
    Ok(())
}

/// CONFIG SET appendonly / appendfsync took effect in the configuration: turn the AOF on
/// (a rewrite writes the first base; Redis's startAppendOnly) or off (stopAppendOnly).
/// `in_exec`: inside a transaction the rewrite is scheduled instead. Err when the AOF could
/// not be turned on.
pub fn apply_config(sh: &Shared, store: &mut Store, in_exec: bool) -> Result<(), String> {
    let (on, fsync) = {
        let c = sh.config();
        (
            c.get("appendonly") == Some("yes"),
            Fsync::from_config(c.get("appendfsync")),
        )
    };
    let mut a = sh.persist.aof();
    a.fsync = fsync;
    match (a.mode, on) {
        (Mode::Off, true) => {
            store.propagation.enabled = true;
            a.mode = Mode::WaitRewrite;
            a.write_error = None;
            a.write_failed.store(false, Relaxed);
            if let Some(rw) = a.rewrite.as_mut() {
                // A rewrite begun while the AOF was off does not collect the writes:
                // drop it and start again once it has stopped.
                rw.cancelled = true;
                store.snapshot_abort();
                a.scheduled = true;
                return Ok(());
            }
            if in_exec {
                a.scheduled = true;
                return Ok(());
            }
            drop(a);
            match rewrite_start(sh, store) {
                Ok(()) | Err(NotStarted::Scheduled) | Err(NotStarted::InProgress) => Ok(()),
                Err(NotStarted::Failed(e)) => {
                    sh.persist.aof().mode = Mode::Off;
                    Err(e)
                }
            }
        }
        (Mode::On | Mode::WaitRewrite, false) => {
            stop(sh, &mut a, store);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A replica loaded its primary's dataset (a full sync): the AOF no longer describes the
/// keyspace, so it starts over from a rewrite of the new dataset (Redis's
/// restartAOFAfterSYNC).
pub fn restart_after_sync(sh: &Shared) {
    let mut store = sh.lock_store();
    let mut a = sh.persist.aof();
    if a.mode == Mode::Off {
        return;
    }
    stop(sh, &mut a, &mut store);
    a.mode = Mode::WaitRewrite;
    drop(a);
    if let Err(NotStarted::Failed(e)) = rewrite_start(sh, &mut store) {
        tracing::warn!("Failed to restart the AOF after a full sync: {e}");
        sh.persist.aof().scheduled = true;
    }
}

fn stop(sh: &Shared, a: &mut Aof, store: &mut Store) {
    a.write_pending();
    if let Some(f) = a.file.take() {
        if let Err(e) = f.sync_data() {
            tracing::warn!(error = %e, "Fail to fsync the AOF file");
        }
    }
    if a.mode == Mode::WaitRewrite {
        let n = names(sh);
        let _ = std::fs::remove_file(n.dir.join(temp_incr_name(&n.prefix)));
    }
    a.mode = Mode::Off;
    a.pending.clear();
    a.last_db = None;
    a.scheduled = false;
    a.unsynced = false;
    if let Some(rw) = a.rewrite.as_mut() {
        if !rw.cancelled {
            tracing::info!("Killing running AOF rewrite");
            rw.cancelled = true;
            store.snapshot_abort();
        }
    }
}

/// Before exiting: a running rewrite is stopped, the file written and synced.
pub fn shutdown(sh: &Shared, store: &mut Store) {
    let mut a = sh.persist.aof();
    if a.mode == Mode::Off {
        return;
    }
    if let Some(rw) = a.rewrite.as_mut() {
        rw.cancelled = true;
        store.snapshot_abort();
    }
    a.write_pending();
    if let Some(f) = &a.file {
        if let Err(e) = f.sync_data() {
            tracing::warn!(error = %e, "Fail to fsync the AOF file");
        }
    }
}

/// Redis's AOF_REWRITE_LIMITE_THRESHOLD: after this many failures in a row, automatic
/// rewrites wait (a minute here) between attempts.
const FAILURES_BEFORE_LIMIT: u64 = 3;

/// Whether the AOF thread should start a rewrite now: one is scheduled, or the AOF grew by
/// `auto-aof-rewrite-percentage` over its size after the last rewrite and is past
/// `auto-aof-rewrite-min-size`.
fn rewrite_due(sh: &Shared, last_try: Option<Instant>) -> bool {
    let limited = |a: &Aof| {
        a.consecutive_failures >= FAILURES_BEFORE_LIMIT
            && last_try.is_some_and(|t| t.elapsed() < Duration::from_secs(60))
    };
    let (perc, min) = {
        let c = sh.config();
        let num = |k: &str| c.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (
            num("auto-aof-rewrite-percentage"),
            num("auto-aof-rewrite-min-size"),
        )
    };
    let a = sh.persist.aof();
    if a.rewrite.is_some() || limited(&a) {
        return false;
    }
    if a.scheduled {
        return true;
    }
    if a.mode != Mode::On || perc == 0 || a.current_size <= min {
        return false;
    }
    let base = a.base_size.max(1);
    (a.current_size * 100 / base).saturating_sub(100) >= perc
}

/// The AOF thread: `everysec` fsyncs (outside every lock, on the file's own handle),
/// retries of failed writes, scheduled and automatic rewrites.
pub fn start_thread(sh: Arc<Shared>) {
    std::thread::Builder::new()
        .name("slotcache-aof".into())
        .spawn(move || {
            let mut last_try: Option<Instant> = None;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let sync = {
                    let mut a = sh.persist.aof();
                    if !a.pending.is_empty() {
                        a.write_pending();
                    }
                    let due = a.fsync == Fsync::Everysec
                        && a.unsynced
                        && a.last_fsync.elapsed() >= Duration::from_secs(1);
                    if due {
                        a.unsynced = false;
                        a.last_fsync = Instant::now();
                        a.file.clone()
                    } else {
                        None
                    }
                };
                if let Some(f) = sync {
                    if let Err(e) = f.sync_data() {
                        tracing::warn!(error = %e, "AOF fsync failed");
                    }
                }
                if sh.persist.bgsave_running.load(Relaxed) || sh.persist.loading.load(Relaxed) {
                    continue;
                }
                if rewrite_due(&sh, last_try) {
                    last_try = Some(Instant::now());
                    let mut store = sh.lock_store();
                    let _ = rewrite_start(&sh, &mut store);
                }
            }
        })
        .expect("spawn AOF thread");
}

/// INFO persistence's aof_* fields, in Redis's order.
pub fn info(sh: &Shared, out: &mut String, aof_enabled_config: bool) {
    use std::fmt::Write as _;
    let a = sh.persist.aof();
    let running = a.rewrite.as_ref().is_some_and(|r| !r.cancelled);
    let _ = write!(
        out,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\n\
         aof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\n\
         aof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\n\
         aof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n\
         aof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        (a.mode != Mode::Off) as u8,
        running as u8,
        a.scheduled as u8,
        a.last_rewrite_secs,
        a.rewrite
            .as_ref()
            .map_or(-1, |r| r.started.elapsed().as_secs() as i64),
        if a.last_rewrite_ok { "ok" } else { "err" },
        a.rewrites,
        a.consecutive_failures,
        if a.write_error.is_none() { "ok" } else { "err" },
    );
    if aof_enabled_config {
        let _ = write!(
            out,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\n\
             aof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:{}\r\n",
            a.current_size,
            a.base_size,
            a.scheduled as u8,
            a.pending.len(),
            a.delayed_fsync
        );
    }
}
