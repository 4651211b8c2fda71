//! Loading the AOF into the store (Redis's loadAppendOnlyFiles): the manifest's base, then
//! its incremental files, each command run by an "obey" client (no redirection, no
//! refusal, keys never expire on access meanwhile, nothing propagated or appended again).
//! At startup the store lock is taken per batch of commands (clients get -LOADING); DEBUG
//! LOADAOF runs with the store already locked. An old-style single `appendfilename` in the
//! working directory is moved into the AOF directory first, as Redis 7.0 does.
use super::load::{Commands, Stop};
use super::manifest::{self, Manifest};
use super::names;
use crate::persist::load::{load_reader_batched, load_stream, loading_started, Dup};
use crate::state::{Client, Shared};
use crate::store::propagation::ExpiryMode;
use crate::store::rdb::decode::Reader;
use crate::store::Store;
use bytes::Bytes;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

const BATCH: usize = 1024;

/// How the AOF loaded.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// No AOF files (none yet).
    NotExist,
    /// The files are all empty.
    Empty,
    Ok,
    /// The last file ended mid-command and was cut back to its last complete one.
    Truncated,
}

/// Who holds the store while loading.
pub enum Access<'a> {
    /// The caller (DEBUG LOADAOF).
    Locked(&'a mut Store),
    /// Taken per batch (startup).
    PerBatch,
}

impl Access<'_> {
    fn with<R>(&mut self, sh: &Shared, f: impl FnOnce(&mut Store) -> R) -> R {
        match self {
            Access::Locked(s) => f(s),
            Access::PerBatch => f(&mut sh.lock_store()),
        }
    }
}

/// Reads the manifest (moving an old-style AOF into the directory when there is one).
pub fn manifest(sh: &Shared) -> Result<Manifest, String> {
    let n = names(sh);
    let dir_exists = n.dir.is_dir();
    let m = if dir_exists {
        manifest::read(&n.dir, &n.prefix)?.unwrap_or_default()
    } else {
        Manifest::default()
    };
    let old = Path::new(&n.prefix);
    let upgrade = old.is_file()
        && (!dir_exists
            || m.is_empty()
            || (m.incr.is_empty()
                && m.base.as_ref().is_some_and(|b| b.name == n.prefix)
                && !n.dir.join(&n.prefix).exists()));
    if !upgrade {
        return Ok(m);
    }
    std::fs::create_dir_all(&n.dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            n.dir.display()
        )
    })?;
    let mut m = Manifest::default();
    m.base = Some(manifest::FileInfo {
        name: n.prefix.clone(),
        seq: 1,
        kind: manifest::Kind::Base,
    });
    m.base_seq = 1;
    manifest::write(&n.dir, &n.prefix, &m).map_err(|e| e.to_string())?;
    std::fs::rename(old, n.dir.join(&n.prefix)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {} into dir {}: {e}",
            n.prefix,
            n.dir.display()
        )
    })?;
    tracing::info!(
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        n.prefix,
        n.dir.display()
    );
    Ok(m)
}

/// Loads every file of `m`. Err is fatal (Redis exits).
pub fn load_all(sh: &Shared, m: &Manifest, mut access: Access) -> Result<Loaded, String> {
    let n = names(sh);
    if m.is_empty() {
        return Ok(Loaded::NotExist);
    }
    let mut total = 0u64;
    for f in m.live() {
        match std::fs::metadata(n.dir.join(&f.name)) {
            Ok(md) => total += md.len(),
            Err(e) => {
                return Err(format!(
                    "Unable to obtain the AOF file {} length. stat: {e}",
                    f.name
                ))
            }
        }
    }
    if total == 0 {
        return Ok(Loaded::Empty);
    }
    loading_started(sh, total);
    sh.persist.aof().loading = true;
    let count = m.live().count();
    let mut outcome = Ok(Loaded::Ok);
    for (i, f) in m.live().enumerate() {
        let start = std::time::Instant::now();
        let last = i + 1 == count;
        match load_file(sh, &n.dir, &f.name, last, &mut access) {
            Ok(Loaded::Truncated) if !last => {
                outcome = Err("Fatal error: the truncated file is not the last file".into());
                break;
            }
            Ok(r) => {
                let kind = if f.kind == manifest::Kind::Base {
                    "base"
                } else {
                    "incr"
                };
                tracing::info!(
                    "DB loaded from {kind} file {}: {:.3} seconds",
                    f.name,
                    start.elapsed().as_secs_f64()
                );
                if r == Loaded::Truncated {
                    outcome = Ok(Loaded::Truncated);
                }
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    sh.persist.aof().loading = false;
    outcome
}

/// One file: its RDB part if it starts with one, then its commands.
fn load_file(
    sh: &Shared,
    dir: &Path,
    name: &str,
    last: bool,
    access: &mut Access,
) -> Result<Loaded, String> {
    let path = dir.join(name);
    let f = std::fs::File::open(&path).map_err(|e| {
        format!("Fatal error: can't open the append log file {name} for reading: {e}")
    })?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        return Ok(Loaded::Empty);
    }
    let mut br = BufReader::with_capacity(1 << 20, f);
    let is_rdb = br
        .fill_buf()
        .map(|b| b.starts_with(b"REDIS"))
        .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
    let mut offset = 0;
    if is_rdb {
        let mut r = Reader::new(&mut br, Some(size));
        let res = match access {
            Access::PerBatch => load_reader_batched(sh, &mut r, size),
            Access::Locked(store) => {
                let (limits, dbs, check) = crate::persist::load::settings(sh);
                load_stream(&mut r, store, dbs, &limits, check, Dup::Refuse).and_then(|sum| {
                    sh.scripting
                        .load_libraries(
                            &sum.functions,
                            crate::scripting::functions::RestorePolicy::Replace,
                        )
                        .map(|_| sum)
                        .map_err(|e| crate::store::rdb::RdbError::Corrupt { offset: 0, what: e })
                })
            }
        };
        if let Err(e) = res {
            return Err(format!(
                "Error reading the RDB base file {name}, AOF loading aborted: {e}"
            ));
        }
        offset = r.offset();
    }
    replay_commands(sh, &path, name, Commands::new(br, offset), last, access)
}

/// A client that runs the AOF's commands (Redis's AOF fake client).
fn loader_client(sh: &Shared) -> Client {
    let any = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let (handle, _rx) = sh.clients.register(any, any);
    sh.clients.unregister(handle.id);
    let mut c = Client::new(handle, true);
    // The "obey" client of dispatch: never redirected, refused or paused.
    c.primary_link = true;
    c
}

fn replay_commands<R: BufRead>(
    sh: &Shared,
    path: &Path,
    name: &str,
    mut cmds: Commands<R>,
    last: bool,
    access: &mut Access,
) -> Result<Loaded, String> {
    let Some(run) = sh.repl.apply.get().copied() else {
        return Err("no command executor".into());
    };
    let mut client = loader_client(sh);
    let delay = super::super::config_int(sh, "key-load-delay");
    let batch_size = if delay != 0 { 16 } else { BATCH };
    let stop = loop {
        let mut batch: Vec<Vec<Bytes>> = Vec::with_capacity(batch_size);
        let mut end = None;
        while batch.len() < batch_size {
            match cmds.next_command() {
                Ok(Some(args)) => {
                    if matches!(
                        crate::commands::index().lookup(&args),
                        crate::commands::Lookup::Unknown
                    ) {
                        return Err(format!(
                            "Unknown command '{}' reading the append only file {name}",
                            String::from_utf8_lossy(&args[0])
                        ));
                    }
                    batch.push(args);
                    cmds.applied();
                }
                Ok(None) => {
                    end = Some(Ok(()));
                    break;
                }
                Err(e) => {
                    end = Some(Err(e));
                    break;
                }
            }
        }
        let n = batch.len() as u64;
        access.with(sh, |store| {
            let mode = store.propagation.expiry;
            store.propagation.expiry = ExpiryMode::Ignore;
            for args in batch {
                run(sh, store, &mut client, &args);
                client.after = None;
            }
            store.propagation.discard();
            store.propagation.expiry = mode;
        });
        if delay != 0 && n > 0 {
            super::super::debug_delay(delay, n, std::time::Duration::ZERO);
        }
        if let Some(e) = end {
            break e;
        }
    };
    match stop {
        Ok(()) => Ok(Loaded::Ok),
        Err(Stop::Format) => Err(format!(
            "Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
        )),
        Err(Stop::Io(e)) => Err(format!(
            "Unrecoverable error reading the append only file {name}: {e}"
        )),
        Err(Stop::ShortRead) => {
            let truncate_ok = sh.config().get("aof-load-truncated") != Some("no");
            if truncate_ok && last {
                tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
                tracing::warn!(
                    "!!! Truncating the AOF {name} at offset {} !!!",
                    cmds.valid_up_to
                );
                let cut = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_len(cmds.valid_up_to));
                match cut {
                    Ok(()) => {
                        tracing::warn!(
                            "AOF {name} loaded anyway because aof-load-truncated is enabled"
                        );
                        return Ok(Loaded::Truncated);
                    }
                    Err(e) => tracing::warn!("Error truncating the AOF file {name}: {e}"),
                }
            }
            Err(format!(
                "Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            ))
        }
    }
}

/// Startup with `appendonly yes`: the AOF replaces the RDB file as the source of the
/// dataset (none is loaded when there is no AOF yet), then the AOF is opened for writing.
/// Failures stop the server, as in Redis.
pub fn load_at_startup(sh: &Shared) {
    let fatal = |what: String| -> ! {
        tracing::error!("{what}");
        eprintln!("{what}");
        std::process::exit(1);
    };
    let m = manifest(sh)
        .unwrap_or_else(|e| fatal(format!("*** FATAL AOF MANIFEST FILE ERROR *** {e}")));
    let start = std::time::Instant::now();
    // Clients get -LOADING until the AOF is open for their writes too.
    sh.persist.loading.store(true, Relaxed);
    let res = load_all(sh, &m, Access::PerBatch);
    match res {
        Ok(Loaded::Ok | Loaded::Truncated) => {
            tracing::info!(
                secs = start.elapsed().as_secs_f64(),
                "DB loaded from append only file"
            );
            sh.lock_store().dirty = 0;
        }
        Ok(Loaded::Empty | Loaded::NotExist) => {}
        Err(e) => fatal(e),
    }
    super::open_on_startup(sh, m);
    sh.persist.loading.store(false, Relaxed);
}
