//! Loading an RDB file into the store: at startup (clients get -LOADING meanwhile) and for
//! DEBUG RELOAD. Keys are inserted in batches, each under one short store lock; keys already
//! expired are dropped, empty collections skipped, a duplicate key is an error unless merging.
use crate::state::{now_ms, Shared};
use crate::store::rdb::{self, decode::Reader, load::LoadedKey, RdbError};
use crate::store::Store;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

const BATCH: usize = 1000;

/// How loaded keys meet existing ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dup {
    /// A key twice is corruption (a file load).
    Refuse,
    /// A loaded key replaces the existing one (DEBUG RELOAD MERGE).
    Replace,
}

/// Inserts one loaded key (expired keys and empty collections are dropped); a duplicate is an
/// error unless `dup` allows it (the error has no file offset: the key is already parsed).
fn insert(store: &mut Store, k: LoadedKey, now: u64, dup: Dup) -> Result<(), RdbError> {
    if k.expire_at.is_some_and(|t| t <= now) || k.value.is_empty_collection() {
        return Ok(());
    }
    if dup == Dup::Refuse && store.db(k.db).get(&k.key).is_some() {
        return Err(RdbError::Corrupt {
            offset: 0,
            what: format!(
                "duplicated key '{}' in DB {}",
                String::from_utf8_lossy(&k.key),
                k.db
            ),
        });
    }
    store.load_entry(k.db, &k.key, k.value, k.expire_at, k.access);
    Ok(())
}

/// Loads `path` taking the store lock per batch (startup). A missing file is Ok(None).
pub fn load_file_batched(sh: &Shared, path: &Path) -> Result<Option<rdb::load::Summary>, RdbError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let size = f.metadata()?.len();
    loading_started(sh, size);
    let mut r = Reader::new(BufReader::with_capacity(1 << 20, f), Some(size));
    load_reader_batched(sh, &mut r, size).map(Some)
}

/// Resets INFO's loading fields for a load of `total` bytes.
pub fn loading_started(sh: &Shared, total: u64) {
    let mut st = sh.persist.status();
    st.loading_started = now_ms() / 1000;
    st.loading_total_bytes = total;
    st.loading_loaded_bytes = 0;
    st.loading_keys = 0;
}

/// Loads the RDB `r` reads (of `size` bytes) taking the store lock per batch, and its
/// function libraries. The reader stops right after the RDB's checksum (an AOF's RDB part
/// may be followed by commands).
pub fn load_reader_batched<R: Read>(
    sh: &Shared,
    r: &mut Reader<R>,
    size: u64,
) -> Result<rdb::load::Summary, RdbError> {
    let (limits, databases, check) = settings(sh);
    // key-load-delay (tests): microseconds per key, or one 1 us sleep per -n keys, slept
    // between batches outside the store lock.
    let delay = super::config_int(sh, "key-load-delay");
    let batch_size = if delay != 0 { 16 } else { BATCH };
    let mut batch: Vec<LoadedKey> = Vec::with_capacity(batch_size);
    let flush = |batch: &mut Vec<LoadedKey>, offset: u64| -> Result<(), RdbError> {
        let now = now_ms();
        let n = batch.len() as u64;
        let mut store = sh.lock_store();
        for k in batch.drain(..) {
            insert(&mut store, k, now, Dup::Refuse)?;
        }
        drop(store);
        if delay != 0 {
            super::debug_delay(delay, n, std::time::Duration::ZERO);
        }
        let mut st = sh.persist.status();
        st.loading_loaded_bytes = offset;
        Ok(())
    };
    let mut keys = 0u64;
    let mut sum = rdb::load::load(r, databases, &limits, check, |k| {
        batch.push(k);
        keys += 1;
        if batch.len() >= batch_size {
            flush(&mut batch, 0)?;
        }
        Ok(())
    })?;
    flush(&mut batch, size)?;
    if let Err(e) = sh.scripting.load_libraries(
        &sum.functions,
        crate::scripting::functions::RestorePolicy::Flush,
    ) {
        tracing::warn!(error = %e, "The function libraries in the RDB failed to load");
    }
    sum.keys = keys;
    sh.persist.status().loading_keys = keys;
    Ok(sum)
}

/// Loads `path` into a store the caller has locked (DEBUG RELOAD).
pub fn load_file_locked(
    sh: &Shared,
    store: &mut Store,
    path: &Path,
    dup: Dup,
) -> Result<rdb::load::Summary, RdbError> {
    let f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let (limits, databases, check) = settings(sh);
    load_stream(
        &mut Reader::new(BufReader::with_capacity(1 << 20, f), Some(size)),
        store,
        databases,
        &limits,
        check,
        dup,
    )
}

/// Loads a whole RDB stream into `store`.
pub fn load_stream<R: Read>(
    r: &mut Reader<R>,
    store: &mut Store,
    databases: usize,
    limits: &rdb::Limits,
    check: bool,
    dup: Dup,
) -> Result<rdb::load::Summary, RdbError> {
    let now = now_ms();
    rdb::load::load(r, databases, limits, check, |k| insert(store, k, now, dup))
}

/// The RDB limits, database count and checksum setting loads use.
pub(crate) fn settings(sh: &Shared) -> (rdb::Limits, usize, bool) {
    let c = sh.config();
    (
        rdb::Limits::from_config(&c.hot),
        c.hot.databases,
        c.get("rdbchecksum") != Some("no"),
    )
}

/// Startup: loads `dbfilename` if present, with -LOADING answered meanwhile. A corrupt file
/// stops the server with the offset where it went wrong, as Redis does.
pub fn load_at_startup(sh: &Shared) {
    let path = super::rdb_path(sh);
    if !path.exists() {
        return;
    }
    sh.persist.loading.store(true, Relaxed);
    let start = std::time::Instant::now();
    let res = load_file_batched(sh, &path);
    sh.persist.loading.store(false, Relaxed);
    match res {
        Ok(None) => {}
        Ok(Some(sum)) => {
            tracing::info!(
                keys = sum.keys,
                secs = start.elapsed().as_secs_f64(),
                "DB loaded from disk"
            );
            let mut store = sh.lock_store();
            store.dirty = 0;
        }
        Err(e) => {
            let msg = format!(
                "Fatal error loading the DB ({}): {e}. Exiting.",
                path.display()
            );
            tracing::error!("{msg}");
            eprintln!("{msg}");
            std::process::exit(1);
        }
    }
}
