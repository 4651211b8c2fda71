//! The registry of connected clients (CLIENT LIST / KILL / INFO, maxclients): one handle per
//! connection with the fields other clients may read, refreshed by the owning connection.
use super::pubsub::{Mailbox, Message};
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;

/// What CLIENT LIST shows about a connection, updated by its task after each batch.
#[derive(Debug, Clone, Default)]
pub struct ClientView {
    pub name: String,
    pub db: usize,
    pub resp: u8,
    pub omem: usize,
    pub lib_name: String,
    pub lib_ver: String,
    pub monitor: bool,
    /// Channel, pattern and shard-channel subscriptions.
    pub subs: (usize, usize, usize),
    /// Commands queued in MULTI (-1 outside MULTI).
    pub multi: i64,
    /// A replication link: 'M' our primary's, 'S' a replica's (CLIENT LIST flags, TYPE).
    pub link: Option<char>,
    /// CLIENT TRACKING: on, in BCAST mode, its redirect target gone (flags t, B, R).
    pub tracking: bool,
    pub tracking_bcast: bool,
    pub tracking_broken: bool,
    /// CLIENT TRACKING REDIRECT target (redir=, -1 when none).
    pub redirect: i64,
    /// The ACL user (user=).
    pub user: String,
}

pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    /// Unix ms (coarse: super::coarse_now_ms) of the last read from the client.
    last_interaction_ms: AtomicU64,
    pub view: Mutex<ClientView>,
    killed: AtomicBool,
    pub kill_notify: Notify,
    /// Woken when a key this client is blocked on changes.
    pub block_notify: Arc<Notify>,
    /// Out-of-band messages to this client (Pub/Sub, tracking invalidations).
    pub mailbox: Mailbox,
    /// True while the connection waits in a blocking command.
    pub blocked: AtomicBool,
    /// The command table id (commands::CommandIndex::all) of the client's last command,
    /// usize::MAX before the first: CLIENT LIST's `cmd=`. An atomic, not part of the view,
    /// so the per-command cost is one relaxed store.
    pub last_cmd: std::sync::atomic::AtomicUsize,
    /// CLIENT UNBLOCK request for a blocked client: Some(true) = with an error.
    pub unblock: Mutex<Option<bool>>,
    /// The reply buffer's size (rbs=), adapted to the client's replies (`resize_reply_buffer`);
    /// the connection reallocates its buffer to it when the buffer is empty.
    pub reply_buf_size: std::sync::atomic::AtomicUsize,
    /// The most of the reply buffer one batch of replies used since the last reset (rbp=).
    pub reply_buf_peak: std::sync::atomic::AtomicUsize,
    reply_buf_peak_reset_ms: AtomicU64,
}

/// The reply buffer's bounds (Redis's PROTO_REPLY_MIN_BYTES, PROTO_REPLY_CHUNK_BYTES).
pub const REPLY_BUF_MIN: usize = 1024;
pub const REPLY_BUF_MAX: usize = 16 * 1024;

impl ClientHandle {
    /// What CLIENT LIST / CLIENT INFO show about this client, to update.
    pub fn view_mut(&self) -> std::sync::MutexGuard<'_, ClientView> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A batch of replies of `used` bytes went through the reply buffer.
    pub fn note_reply_bytes(&self, used: usize) {
        let size = self.reply_buf_size.load(Ordering::Relaxed);
        self.reply_buf_peak
            .fetch_max(used.min(size), Ordering::Relaxed);
    }

    /// Redis's clientsCronResizeOutputBuffer: halves an idle reply buffer (down to 1 KiB,
    /// just above the peak use) and doubles a full one (up to 16 KiB); the peak restarts every
    /// `peak_reset_ms` (None: never). Returns whether the size changed.
    pub fn resize_reply_buffer(&self, now_ms: u64, peak_reset_ms: Option<u64>) -> bool {
        let size = self.reply_buf_size.load(Ordering::Relaxed);
        let peak = self.reply_buf_peak.load(Ordering::Relaxed);
        let new = if size / 2 >= REPLY_BUF_MIN && peak < size / 2 {
            REPLY_BUF_MIN.max(peak + 1)
        } else if size * 2 < REPLY_BUF_MAX * 2 && peak == size {
            REPLY_BUF_MAX.min(size * 2)
        } else {
            size
        };
        let last = self.reply_buf_peak_reset_ms.load(Ordering::Relaxed);
        if peak_reset_ms.is_some_and(|t| now_ms.saturating_sub(last) >= t) {
            self.reply_buf_peak.store(0, Ordering::Relaxed);
            self.reply_buf_peak_reset_ms
                .store(now_ms, Ordering::Relaxed);
        }
        if new != size {
            self.reply_buf_size.store(new, Ordering::Relaxed);
            self.mailbox.wake();
            return true;
        }
        false
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
        self.mailbox.wake();
    }

    /// CLIENT UNBLOCK: wakes the client if it is blocked. Returns whether it was.
    pub fn request_unblock(&self, with_error: bool) -> bool {
        if !self.blocked.load(Ordering::SeqCst) {
            return false;
        }
        *self.unblock.lock().unwrap_or_else(|e| e.into_inner()) = Some(with_error);
        self.block_notify.notify_one();
        true
    }

    pub fn take_unblock(&self) -> Option<bool> {
        self.unblock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    pub fn touch(&self) {
        self.last_interaction_ms
            .store(super::coarse_now_ms(), Ordering::Relaxed);
    }

    pub fn idle_secs(&self) -> u64 {
        let now = super::now_ms();
        now.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000
    }

    /// One CLIENT LIST line (without the trailing newline), Redis 7.0's field order.
    /// The CLIENT LIST line; `cmd_name` names a command table id. `qbuf`: bytes waiting in
    /// the query buffer (the caller's own line counts the request being served, as Redis's
    /// does; other connections have parsed everything they read).
    pub fn list_line(
        &self,
        cmd_name: &dyn Fn(usize) -> Option<&'static str>,
        qbuf: usize,
    ) -> String {
        let v = self.view.lock().unwrap_or_else(|e| e.into_inner()).clone();
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            v.name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            flags(&v, self.blocked.load(Ordering::Relaxed)),
            v.db,
            v.subs.0,
            v.subs.1,
            v.subs.2,
            v.multi,
            qbuf,
            self.reply_buf_size.load(Ordering::Relaxed),
            self.reply_buf_peak.load(Ordering::Relaxed),
            v.omem,
            self.reply_buf_size.load(Ordering::Relaxed) + qbuf + v.omem,
            cmd_name(self.last_cmd.load(Ordering::Relaxed)).unwrap_or("NULL"),
            v.user,
            if v.tracking { v.redirect } else { -1 },
            v.resp,
            v.lib_name,
            v.lib_ver,
        )
    }
}

/// CLIENT LIST flags, in Redis's order: O monitor, P pubsub, x in MULTI, b blocked, N none.
fn flags(v: &ClientView, blocked: bool) -> String {
    let mut f = String::new();
    f.extend(v.link);
    if v.monitor {
        f.push('O');
    }
    if v.subs.0 + v.subs.1 + v.subs.2 > 0 {
        f.push('P');
    }
    if v.multi >= 0 {
        f.push('x');
    }
    if blocked {
        f.push('b');
    }
    if v.tracking {
        f.push('t');
        if v.tracking_broken {
            f.push('R');
        }
        if v.tracking_bcast {
            f.push('B');
        }
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

#[derive(Default)]
pub struct ClientRegistry {
    map: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a connection; the receiver is the connection's end of its mailbox.
    pub fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
    ) -> (Arc<ClientHandle>, UnboundedReceiver<Message>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut rx = None;
        let h = Arc::new_cyclic(|weak| {
            let (mailbox, r) = Mailbox::new(weak.clone());
            rx = Some(r);
            ClientHandle {
                id,
                addr,
                laddr,
                created: Instant::now(),
                last_interaction_ms: AtomicU64::new(super::now_ms()),
                view: Mutex::new(ClientView {
                    resp: 2,
                    multi: -1,
                    user: "default".into(),
                    ..Default::default()
                }),
                killed: AtomicBool::new(false),
                kill_notify: Notify::new(),
                block_notify: Arc::new(Notify::new()),
                mailbox,
                blocked: AtomicBool::new(false),
                last_cmd: std::sync::atomic::AtomicUsize::new(usize::MAX),
                reply_buf_size: std::sync::atomic::AtomicUsize::new(REPLY_BUF_MAX),
                reply_buf_peak: std::sync::atomic::AtomicUsize::new(0),
                reply_buf_peak_reset_ms: AtomicU64::new(super::coarse_now_ms()),
                unblock: Mutex::new(None),
            }
        });
        self.map.insert(id, h.clone());
        (h, rx.expect("set by new_cyclic"))
    }

    pub fn unregister(&self, id: u64) {
        self.map.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.get(&id).map(|h| h.clone())
    }

    /// Every client, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.map.iter().map(|e| e.value().clone()).collect();
        v.sort_by_key(|h| h.id);
        v
    }
}
