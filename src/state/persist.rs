//! What INFO persistence, LASTSAVE and the save points need to know about snapshots: plain
//! data, kept in `Shared::persist`; the operations live in `crate::persist`.
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;

#[derive(Debug)]
pub struct Status {
    /// Unix seconds of the last successful save (startup time before any).
    pub lastsave: u64,
    pub last_bgsave_ok: bool,
    /// Unix seconds of the last background save attempt (retry delay after a failure).
    pub last_bgsave_try: u64,
    /// Seconds the last background save took (-1 before any).
    pub last_bgsave_secs: i64,
    /// Unix seconds when the running background save began (0 = none).
    pub bgsave_started: u64,
    /// `store.dirty` when the running background save began.
    pub dirty_before: u64,
    /// BGSAVE SCHEDULE (or BGSAVE inside MULTI) waiting for its turn.
    pub scheduled: bool,
    pub saves: u64,
    /// Keys written by the current or last save (INFO current_save_keys_processed).
    pub keys_processed: u64,
    /// Unix seconds when the loading began, and bytes loaded so far / total.
    pub loading_started: u64,
    pub loading_loaded_bytes: u64,
    pub loading_total_bytes: u64,
    pub loading_keys: u64,
}

/// Persistence state shared by the command path, the snapshot thread and INFO.
#[derive(Debug)]
pub struct PersistState {
    pub status: Mutex<Status>,
    /// A dataset is being loaded: commands without the `loading` flag get -LOADING.
    pub loading: AtomicBool,
    /// A background save is running.
    pub bgsave_running: AtomicBool,
    /// The last background save failed (mirrors `Status::last_bgsave_ok` for the MISCONF
    /// check on every write without taking the status lock).
    pub bgsave_failed: AtomicBool,
    /// Sequence for temporary file names.
    pub temp_seq: AtomicU64,
    /// Where the snapshot thread takes its jobs (set when it starts).
    pub jobs: Mutex<Option<std::sync::mpsc::Sender<crate::persist::Job>>>,
    /// The append-only file (after the store lock in lock order).
    pub aof: Mutex<crate::persist::aof::Aof>,
    /// The AOF could not be written (MISCONF), checked without the AOF lock.
    pub aof_write_failed: std::sync::Arc<AtomicBool>,
}

impl PersistState {
    pub fn new(now_secs: u64) -> PersistState {
        let aof_write_failed = std::sync::Arc::new(AtomicBool::new(false));
        PersistState {
            status: Mutex::new(Status {
                lastsave: now_secs,
                last_bgsave_ok: true,
                last_bgsave_try: 0,
                last_bgsave_secs: -1,
                bgsave_started: 0,
                dirty_before: 0,
                scheduled: false,
                saves: 0,
                keys_processed: 0,
                loading_started: 0,
                loading_loaded_bytes: 0,
                loading_total_bytes: 0,
                loading_keys: 0,
            }),
            loading: AtomicBool::new(false),
            bgsave_running: AtomicBool::new(false),
            bgsave_failed: AtomicBool::new(false),
            temp_seq: AtomicU64::new(0),
            jobs: Mutex::new(None),
            aof: Mutex::new(crate::persist::aof::Aof::new(aof_write_failed.clone())),
            aof_write_failed,
        }
    }

    pub fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn aof(&self) -> std::sync::MutexGuard<'_, crate::persist::aof::Aof> {
        self.aof.lock().unwrap_or_else(|e| e.into_inner())
    }
}
