//! The RDB of a full sync, from the store's point-in-time snapshot (store/snapshot.rs: no fork,
//! short locked steps on a thread of its own). One snapshot runs at a time (it shares the
//! "child" slot with BGSAVE, as a forked child would): a replica waits for a running one.
//!
//! Two shapes, as Redis: diskless (`repl-diskless-sync yes` and the replica said `capa eof`)
//! streams the snapshot through a bounded channel to the replica's socket between
//! `$EOF:<mark>` and the mark; otherwise the snapshot goes to a temporary file first and is sent
//! as `$<length>` (SYNC clients, old replicas, `repl-diskless-sync no`).
use crate::persist::file::SnapshotWriter;
use crate::state::Shared;
use crate::store::rdb::encode::{Options, ReplInfo};
use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A snapshot begun for a full sync.
pub struct Started {
    /// The stream offset the snapshot reflects: the replica continues at `offset + 1`.
    pub offset: u64,
    pub replid: String,
    head: Vec<u8>,
    opts: Options,
    checksum: bool,
}

/// Takes the snapshot slot (shared with BGSAVE), waiting while another snapshot runs.
pub async fn acquire(sh: &Shared) {
    while sh.persist.bgsave_running.swap(true, Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Begins the snapshot under the store lock, at the current stream offset, and registers
/// replica `id`'s cursor there so the backlog keeps what follows for it.
pub fn begin(sh: &Shared, id: u64) -> Started {
    let mut store = sh.lock_store();
    sh.repl.ensure_backlog();
    store.propagation.enabled = true;
    let replid = sh.repl.state().replid.clone();
    let offset = {
        let mut b = sh.repl.backlog();
        // The replica starts in database 0: the next command selects its own.
        b.last_db = None;
        let end = b.end();
        b.set_cursor(id, Some(end + 1));
        end
    };
    let info = ReplInfo {
        stream_db: 0,
        replid: replid.clone(),
        offset: offset as i64,
    };
    let (head, opts, checksum) = crate::persist::snapshot_head(sh, &mut store, Some(&info));
    Started {
        offset,
        replid,
        head,
        opts,
        checksum,
    }
}

/// Writes the whole snapshot into `w` (on the calling thread). The snapshot slot is released
/// and a failed snapshot aborted in the store.
pub fn produce<W: Write>(sh: &Shared, s: &Started, w: W) -> std::io::Result<W> {
    let mut sw = SnapshotWriter::new(w, s.opts, s.checksum);
    let res = sw
        .write(&s.head)
        .and_then(|_| crate::persist::write_steps(sh, &mut sw))
        .and_then(|_| sw.finish_stream());
    if res.is_err() {
        sh.lock_store().snapshot_abort();
    }
    sh.persist.bgsave_running.store(false, Relaxed);
    res
}

/// Bytes handed to the socket task in pieces of this size.
const PIECE: usize = 256 * 1024;

/// `Write` into a bounded channel read by the task that owns the replica's socket: the
/// snapshot thread blocks when the replica reads slowly (backpressure, bounded memory).
pub struct ChannelWriter {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Vec<u8>>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(PIECE),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE));
        self.tx
            .blocking_send(piece)
            .map_err(|_| std::io::Error::other("replica connection closed"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Runs `produce` on a thread of its own into a channel; the receiver gets the pieces.
pub fn stream(sh: Arc<Shared>, s: Started) -> (mpsc::Receiver<Vec<u8>>, Arc<Started>) {
    let (tx, rx) = mpsc::channel(8);
    let s = Arc::new(s);
    let started = s.clone();
    std::thread::Builder::new()
        .name("slotcache-sync".into())
        .spawn(move || {
            if let Err(e) = produce(&sh, &started, ChannelWriter::new(tx)) {
                tracing::warn!(error = %e, "Diskless full sync snapshot failed");
            }
        })
        .expect("spawn sync thread");
    (rx, s)
}

/// Runs `produce` into a temporary file (disk-based sync); returns its path when complete.
pub async fn to_file(sh: Arc<Shared>, s: Started) -> std::io::Result<(std::path::PathBuf, u64)> {
    let seq = sh.persist.temp_seq.fetch_add(1, Relaxed);
    let path = std::path::PathBuf::from(format!("temp-sync-{}-{seq}.rdb", std::process::id()));
    let p = path.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<(std::path::PathBuf, u64)> {
        let f = match std::fs::File::create(&p) {
            Ok(f) => f,
            Err(e) => {
                sh.lock_store().snapshot_abort();
                sh.persist.bgsave_running.store(false, Relaxed);
                return Err(e);
            }
        };
        let w = produce(&sh, &s, std::io::BufWriter::with_capacity(1 << 20, f))?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        let len = f.metadata()?.len();
        Ok((p, len))
    })
    .await
    .map_err(std::io::Error::other)?
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&path);
    })
}
