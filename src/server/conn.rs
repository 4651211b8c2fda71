//! One client connection: read, decode every complete request in the buffer, execute them with
//! the store locked once per batch, encode the replies, flush once. Protocol errors are replied
//! to and the connection closed, as Redis does; the query buffer is bounded by
//! client-query-buffer-limit.
use super::dispatch::{execute, Outcome};
use crate::config::BufferLimit;
use crate::protocol::{ErrorReply, ParseLimits, Reply, RequestParser, RespVersion};
use crate::state::pubsub::{Kind, Message};
use crate::state::{now_ms, After, Client, ReplyMode, Shared};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

const READ_CHUNK: usize = 16 * 1024;
/// Pipelined requests whose keys are prefetched together: enough to overlap the misses,
/// few enough that the lines are still in L1/L2 when their commands run.
const PREFETCH_WINDOW: usize = 16;
/// Query buffer cap before AUTH.
const UNAUTH_QBUF: usize = 1024 * 1024;

/// Why a connection ends.
enum End {
    Closed,
    Shutdown,
}

fn is_local(addr: &SocketAddr) -> bool {
    // Redis 7.0.15 treats only 127.0.0.1 and ::1 as local for protected mode.
    match addr.ip() {
        std::net::IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// Refuses a connection with one error line before any request is read.
async fn refuse(mut stream: TcpStream, e: ErrorReply) {
    let mut out = BytesMut::new();
    Reply::Error(e).encode(RespVersion::Resp2, &mut out);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}

pub async fn serve(sh: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    sh.stats.connections_received.fetch_add(1, Relaxed);
    let (maxclients, protected, needs_auth, keepalive) = {
        let c = sh.config();
        (
            c.hot.maxclients,
            c.hot.protected_mode,
            sh.acl.auth_required(),
            c.hot.tcp_keepalive,
        )
    };
    if sh.clients.len() >= maxclients {
        sh.stats.rejected_connections.fetch_add(1, Relaxed);
        return refuse(stream, ErrorReply::max_clients()).await;
    }
    if protected && !needs_auth && !is_local(&addr) {
        return refuse(stream, ErrorReply::protected_mode()).await;
    }
    let _ = stream.set_nodelay(true);
    if keepalive > 0 {
        let sock = socket2_keepalive(&stream, keepalive);
        let _ = sock;
    }
    let laddr = stream.local_addr().unwrap_or(addr);
    let (handle, rx) = sh.clients.register(addr, laddr);
    let mut reg = Registered {
        sh: sh.clone(),
        client: Client::new(handle, !needs_auth),
    };
    let end = Connection {
        sh: sh.clone(),
        stream,
        client: &mut reg.client,
        rx,
        monitor: None,
    }
    .run()
    .await;
    if let End::Shutdown = end {
        // First: SHUTDOWN NOSAVE during a busy script must not wait for the store below.
        sh.clients.unregister(reg.client.handle.id);
        sh.shutdown.notify_one();
    }
}

/// A connected client's registration. However the connection ends, by returning or by a panic
/// unwinding its task, Drop takes it out of CLIENT LIST, WATCH, tracking and Pub/Sub: no ghost
/// client stays behind.
struct Registered {
    sh: Arc<Shared>,
    client: Client,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let id = self.client.handle.id;
        self.sh.clients.unregister(id);
        {
            let mut store = self.sh.lock_store();
            store.watches.unwatch_all(id);
            store.tracking.disable(id);
        }
        crate::commands::pubsub::unsubscribe_all(&self.sh, &mut self.client);
    }
}

fn socket2_keepalive(stream: &TcpStream, secs: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let on: libc::c_int = 1;
    let idle: libc::c_int = secs as libc::c_int;
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            &on as *const _ as *const libc::c_void,
            4,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            &idle as *const _ as *const libc::c_void,
            4,
        );
    }
    Ok(())
}

struct Connection<'a> {
    sh: Arc<Shared>,
    stream: TcpStream,
    client: &'a mut Client,
    /// Pub/Sub messages and invalidations for this client.
    rx: UnboundedReceiver<Message>,
    /// The MONITOR feed, while the client monitors.
    monitor: Option<MonitorFeed>,
}

/// A subscription to the MONITOR feed; counted in `Shared::monitors` (commands are formatted
/// for the feed only while someone listens) and shown as flag O in CLIENT LIST while it lives.
struct MonitorFeed {
    sh: Arc<Shared>,
    handle: Arc<crate::state::clients::ClientHandle>,
    rx: tokio::sync::broadcast::Receiver<Bytes>,
}

impl MonitorFeed {
    fn new(sh: &Arc<Shared>, handle: &Arc<crate::state::clients::ClientHandle>) -> Self {
        let rx = sh.monitor.subscribe();
        sh.monitors.fetch_add(1, Relaxed);
        handle.view_mut().monitor = true;
        MonitorFeed {
            sh: sh.clone(),
            handle: handle.clone(),
            rx,
        }
    }
}

impl Drop for MonitorFeed {
    fn drop(&mut self) {
        self.sh.monitors.fetch_sub(1, Relaxed);
        self.handle.view_mut().monitor = false;
    }
}

/// The next lines of the MONITOR feed, as many as are queued (never resolves without a feed).
async fn monitor_lines(feed: Option<&mut MonitorFeed>) -> Option<BytesMut> {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let Some(feed) = feed else {
        return std::future::pending().await;
    };
    let mut out = BytesMut::new();
    loop {
        match feed.rx.recv().await {
            Ok(l) => {
                out.extend_from_slice(&l);
                break;
            }
            // A monitor too slow for the feed misses lines rather than holding memory.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
    while out.len() < 64 * 1024 {
        match feed.rx.try_recv() {
            Ok(l) => out.extend_from_slice(&l),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    Some(out)
}

impl Connection<'_> {
    async fn run(mut self) -> End {
        let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut out = BytesMut::with_capacity(READ_CHUNK);
        let mut parser = RequestParser::new();
        let handle = self.client.handle.clone();
        let mut last_view: View = (usize::MAX, RespVersion::Resp2, None, (0, 0, 0), -1);
        let mut soft_since = None;
        loop {
            // The reply buffer follows the size the clients cron chose for this client.
            let reply_buf = handle.reply_buf_size.load(Relaxed);
            if out.is_empty() && out.capacity() != reply_buf {
                out = BytesMut::with_capacity(reply_buf);
            }
            let (limits, qbuf_limit, idle_timeout, obuf) = {
                let c = self.sh.config();
                let authenticated = !self.client.needs_auth(&self.sh.acl);
                let lim = ParseLimits {
                    max_bulk: c.hot.proto_max_bulk_len,
                    authenticated,
                };
                // Before AUTH the query buffer is capped at 1 MiB, as Redis does.
                let qbuf = if authenticated {
                    c.hot.query_buffer_limit
                } else {
                    c.hot.query_buffer_limit.min(UNAUTH_QBUF)
                };
                (lim, qbuf, c.hot.timeout_secs, c.hot.obuf_normal)
            };
            let mut batch: Vec<Vec<Bytes>> = Vec::new();
            let mut proto_err = None;
            loop {
                match parser.next(&mut inbuf, &limits) {
                    Ok(Some(args)) => {
                        batch.push(args);
                        // Re-check the auth limits after an AUTH in the same pipeline.
                        if !limits.authenticated {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        proto_err = Some(e);
                        break;
                    }
                }
            }
            let more_parsed = !batch.is_empty() && !limits.authenticated;
            if !batch.is_empty() {
                if let Some(end) = self.run_batch(batch, &mut out).await {
                    self.write(&out).await;
                    return end;
                }
            }
            if let Some(e) = proto_err {
                self.sh.stats.count_error(e.code());
                Reply::Error(e).encode(self.client.resp, &mut out);
                self.write(&out).await;
                return End::Closed;
            }
            if inbuf.len() > qbuf_limit {
                tracing::warn!(client = %self.client.handle.addr, "Closing client that reached max query buffer length");
                self.sh
                    .stats
                    .client_qbuf_limit_disconnections
                    .fetch_add(1, Relaxed);
                return End::Closed;
            }
            if self.over_output_limit(out.len(), obuf, &mut soft_since) {
                return End::Closed;
            }
            if !out.is_empty() {
                self.sh
                    .stats
                    .net_output_bytes
                    .fetch_add(out.len() as u64, Relaxed);
                handle.note_reply_bytes(out.len());
                // The reply waits until every other connection that is ready now has run its
                // batch: the yield puts this task behind them, so the replies of one pass go
                // out together, as Redis's beforeSleep writes all pending clients at once.
                // Written one by one instead, each write wakes the client's reader out of
                // epoll (an IPI and a context switch on the client's core): with 50 pipelined
                // clients that wake-up was ~30% of the server's CPU (sock_def_readable in
                // `perf`), against ~4% for redis-server; written in a burst, the first write
                // wakes the reader and the rest find it already awake.
                tokio::task::yield_now().await;
                if !self.write(&out).await {
                    return End::Closed;
                }
                out.clear();
            }
            if self.monitor.is_some() && !self.client.monitor {
                self.monitor = None; // RESET
            }
            self.publish_view(&mut last_view);
            if more_parsed && !inbuf.is_empty() {
                continue;
            }
            if inbuf.capacity() - inbuf.len() < 1024 {
                inbuf.reserve(READ_CHUNK);
            }
            // Pub/Sub clients and monitors are exempt from the idle timeout, as in Redis.
            let idle_timeout = if self.client.subscribed() || self.monitor.is_some() {
                0
            } else {
                idle_timeout
            };
            let read = self.stream.read_buf(&mut inbuf);
            // A kill arrives on the message queue too (Kind::Wake): this wait, once per
            // request, registers no `Notify` waiter. (The wake may have been taken with other
            // messages by write_messages: the flag is what counts.)
            if handle.is_killed() {
                return End::Closed;
            }
            let n = tokio::select! {
                biased;
                r = read => r,
                m = self.rx.recv() => {
                    if handle.is_killed() {
                        return End::Closed;
                    }
                    if let Some(m) = m {
                        if !self.write_messages(m).await {
                            return End::Closed;
                        }
                    }
                    continue;
                }
                lines = monitor_lines(self.monitor.as_mut()) => {
                    if let Some(l) = lines {
                        self.sh.stats.net_output_bytes.fetch_add(l.len() as u64, Relaxed);
                        if !self.write(&l).await {
                            return End::Closed;
                        }
                    }
                    continue;
                }
                _ = idle(idle_timeout) => return End::Closed,
            };
            match n {
                Ok(0) | Err(_) => return End::Closed,
                Ok(n) => {
                    self.sh.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                    self.sh.stats.reads_processed.fetch_add(1, Relaxed);
                    handle.touch();
                }
            }
            // Messages queued before these requests arrived go out before their replies (an
            // invalidation caused by another client's write precedes the reply to a command
            // sent after that write, as in Redis); the biased select above favours the read.
            if let Ok(m) = self.rx.try_recv() {
                if !self.write_messages(m).await {
                    return End::Closed;
                }
            }
            if handle.is_killed() {
                return End::Closed;
            }
        }
    }

    /// Runs a batch of requests, taking the store lock once for as long as no command needs
    /// to wait. Returns `Some` when the connection must end.
    async fn run_batch(&mut self, batch: Vec<Vec<Bytes>>, out: &mut BytesMut) -> Option<End> {
        let mut i = 0;
        self.client.prepared.clear();
        // (Only for authenticated clients: nobody else gets to make us decode.)
        let big: Vec<Bytes> = batch
            .iter()
            .filter(|_| !self.client.needs_auth(&self.sh.acl))
            .filter_map(|args| crate::commands::to_prepare(args))
            .collect();
        if !big.is_empty() {
            // Decoded on the blocking pool: neither the store nor this worker's other
            // connections wait for a large RESTORE to be rebuilt.
            let sh = self.sh.clone();
            let decoded = tokio::task::spawn_blocking(move || {
                big.into_iter()
                    .map(|p| {
                        let v = crate::commands::prepare(&sh, &p);
                        (p, v)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
            // A panic while decoding leaves the payloads to the handler (under the lock).
            self.client.prepared = decoded.unwrap_or_default();
        }
        while i < batch.len() {
            let mut paused_until = None;
            let mut fenced = None;
            if self.sh.scripting.run.running() {
                let sh = self.sh.clone();
                match super::busy::wait(&sh, self.client, &batch[i]).await {
                    super::busy::Busy::Proceed => {}
                    super::busy::Busy::Reply(r) => {
                        self.emit(r, out);
                        i += 1;
                        continue;
                    }
                    super::busy::Busy::Shutdown => return Some(End::Shutdown),
                }
            }
            {
                let sh = self.sh.clone();
                let Some(mut store) = sh.lock_store_unless_script() else {
                    continue;
                };
                let mut prefetched = i;
                while i < batch.len() {
                    if i >= prefetched && batch.len() - i > 1 {
                        // A pipeline: the cache misses of the next PREFETCH_WINDOW lookups
                        // overlap (Db::prefetch). The second argument is the key of nearly
                        // every keyed command; for others the prefetch is wasted, not wrong.
                        prefetched = batch.len().min(i + PREFETCH_WINDOW);
                        let keys = batch[i..prefetched].iter().filter_map(|a| a.get(1));
                        store.db(self.client.db).prefetch(keys.map(|k| &k[..]));
                    }
                    match execute(&sh, &mut store, self.client, &batch[i]) {
                        Outcome::Paused(until) => {
                            paused_until = Some(until);
                            break;
                        }
                        Outcome::Fenced(w) => {
                            fenced = Some(w);
                            break;
                        }
                        // A deferred MIGRATE replies when it finishes.
                        Outcome::Reply(_)
                            if matches!(self.client.after, Some(After::Migrate(_))) => {}
                        Outcome::Reply(r) => {
                            for keys in std::mem::take(&mut self.client.early_invalidations) {
                                let m = Message::invalidate(keys);
                                if let Some(push) = message_reply(m, self.client) {
                                    push.encode(self.client.resp, out);
                                }
                            }
                            self.emit(r, out)
                        }
                    }
                    i += 1;
                    if self.client.after.is_some() {
                        break;
                    }
                }
            }
            if let Some(until) = paused_until {
                self.flush(out).await;
                let wait = until.saturating_sub(now_ms());
                self.sh.paused_clients.fetch_add(1, Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    _ = self.sh.unpaused.notified() => {}
                }
                self.sh.paused_clients.fetch_sub(1, Relaxed);
                continue;
            }
            if let Some(mut w) = fenced {
                self.flush(out).await;
                let _ = w.changed().await;
                continue;
            }
            match self.client.after.take() {
                None => {}
                Some(After::Close) => return Some(End::Closed),
                Some(After::Shutdown) => return Some(End::Shutdown),
                Some(After::Migrate(p)) => {
                    self.flush(out).await;
                    let reply = self.migrate(p).await;
                    self.emit(reply, out);
                }
                Some(After::Replica(plan)) => {
                    self.flush(out).await;
                    let sh = self.sh.clone();
                    crate::replication::primary::serve(sh, &mut self.stream, self.client, plan)
                        .await;
                    return Some(End::Closed);
                }
                Some(After::Wait {
                    offset,
                    replicas,
                    deadline_ms,
                }) => {
                    self.flush(out).await;
                    let handle = self.client.handle.clone();
                    let wait = crate::replication::primary::wait_for_acks(
                        &self.sh,
                        offset,
                        replicas,
                        deadline_ms,
                    );
                    let n = tokio::select! {
                        n = wait => n,
                        _ = handle.kill_notify.notified() => return Some(End::Closed),
                    };
                    self.emit(Reply::Int(n as i64), out);
                }
                Some(After::Monitor) => {
                    self.flush(out).await;
                    let handle = self.client.handle.clone();
                    self.monitor = Some(MonitorFeed::new(&self.sh, &handle));
                }
                Some(After::Block {
                    keys,
                    deadline_ms,
                    on_timeout,
                    retry,
                }) => {
                    self.flush(out).await;
                    let args = retry.as_deref().unwrap_or(&batch[i - 1]);
                    if let Some(end) = self.block(args, keys, deadline_ms, on_timeout, out).await {
                        return Some(end);
                    }
                }
            }
        }
        None
    }

    /// Runs a MIGRATE's job (the keyspace stays open meanwhile), then finishes it under the
    /// store lock. The job's values are dropped after the lock is gone.
    async fn migrate(&mut self, p: Box<crate::migrate::Pending>) -> Reply {
        // A task of its own, so a panic in it still lets `finish` lift the fence.
        let (sh, job) = (self.sh.clone(), std::sync::Arc::new(*p));
        let running = job.clone();
        let done = tokio::spawn(async move { running.job.run(&sh.migrate).await })
            .await
            .ok();
        let sh = self.sh.clone();
        let reply = {
            let mut store = sh.lock_store();
            let now = now_ms();
            let r = crate::commands::finish_migrate(&sh, &mut store, self.client, &job, done);
            let end = crate::replication::propagate::flush(&sh, &mut store);
            self.client.woff = self.client.woff.max(end);
            super::dispatch::publish_events(&sh, &mut store, now);
            super::dispatch::deliver_invalidations(&sh, &mut store, now);
            r
        };
        drop(job);
        reply
    }

    /// Waits until a key of `keys` changes (then retries `args`), the deadline passes (then
    /// replies `on_timeout`), or the client goes away.
    async fn block(
        &mut self,
        args: &[Bytes],
        keys: Vec<Bytes>,
        deadline_ms: u64,
        on_timeout: Reply,
        out: &mut BytesMut,
    ) -> Option<End> {
        let handle = self.client.handle.clone();
        let db = self.client.db;
        let sh = self.sh.clone();
        let mut watch_eof = true;
        handle
            .blocked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let finish = |store: &mut crate::store::Store| {
            handle
                .blocked
                .store(false, std::sync::atomic::Ordering::SeqCst);
            store.blocked.unregister(handle.id, db, &keys);
            // Pass the turn on: the next waiter may find data left over.
            for k in &keys {
                store.blocked.signal(db, k);
            }
        };
        let mut fence_wait: Option<tokio::sync::watch::Receiver<u64>> = None;
        loop {
            if let Some(mut w) = fence_wait.take() {
                let _ = w.changed().await;
                handle.block_notify.notify_one();
            }
            let wait = if deadline_ms == 0 {
                u64::MAX / 4
            } else {
                deadline_ms.saturating_sub(now_ms())
            };
            let mut probe = [0u8; 1];
            tokio::select! {
                _ = handle.block_notify.notified() => {}
                _ = topology_changed(&sh) => {}
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {
                    finish(&mut sh.lock_store());
                    super::dispatch::count_unblocked(&sh, args, false);
                    self.emit(on_timeout, out);
                    return None;
                }
                _ = handle.kill_notify.notified() => {
                    finish(&mut sh.lock_store());
                    return Some(End::Closed);
                }
                r = self.stream.peek(&mut probe), if watch_eof => {
                    if matches!(r, Ok(0) | Err(_)) {
                        finish(&mut sh.lock_store());
                        return Some(End::Closed);
                    }
                    // Data arrived: it waits in the socket until this command is answered.
                    watch_eof = false;
                    continue;
                }
            }
            if let Some(with_error) = handle.take_unblock() {
                finish(&mut sh.lock_store());
                super::dispatch::count_unblocked(&sh, args, with_error);
                let r = if with_error {
                    Reply::Error(ErrorReply::unblocked())
                } else {
                    on_timeout
                };
                self.emit(r, out);
                return None;
            }
            let mut store = sh.lock_store();
            self.client.block_retry = true;
            let outcome = execute(&sh, &mut store, self.client, args);
            self.client.block_retry = false;
            if let Outcome::Fenced(w) = outcome {
                // Its keys are being migrated: run it again once the MIGRATE is over.
                fence_wait = Some(w);
                continue;
            }
            match self.client.after.take() {
                Some(After::Block { .. }) => {
                    store.blocked.signal_next(handle.id, db, &keys);
                    continue;
                }
                other => {
                    self.client.after = other;
                    finish(&mut store);
                    drop(store);
                    if let Outcome::Reply(r) = outcome {
                        self.emit(r, out);
                    }
                    return None;
                }
            }
        }
    }

    fn emit(&mut self, r: Reply, out: &mut BytesMut) {
        // Pushes ((un)subscribe confirmations) go out whatever CLIENT REPLY says, as Redis's
        // CLIENT_PUSHING replies do.
        let shown = match self.client.reply_mode {
            ReplyMode::On => true,
            ReplyMode::Off => false,
            ReplyMode::Skip => {
                self.client.reply_mode = ReplyMode::On;
                false
            }
            ReplyMode::SkipNext => {
                self.client.reply_mode = ReplyMode::Skip;
                false
            }
        };
        if shown || r.is_push() {
            r.encode(self.client.resp, out);
        }
    }

    async fn flush(&mut self, out: &mut BytesMut) {
        if !out.is_empty() {
            self.sh
                .stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Relaxed);
            self.write(out).await;
            out.clear();
        }
    }

    /// Writes `buf` unless the client is killed first (a killed client stuck on a full socket
    /// must still go away). Returns false if the connection is done.
    async fn write(&mut self, mut buf: &[u8]) -> bool {
        let handle = self.client.handle.clone();
        if handle.is_killed() {
            return false;
        }
        self.sh.stats.writes_processed.fetch_add(1, Relaxed);
        // Most replies fit the socket buffer: one non-blocking write, no waiter set up.
        match self.stream.try_write(buf) {
            Ok(n) if n == buf.len() => return true,
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return false,
        }
        tokio::select! {
            r = self.stream.write_all(buf) => r.is_ok(),
            _ = handle.kill_notify.notified() => false,
        }
    }

    /// Writes `first` and every other message already queued, in one write.
    async fn write_messages(&mut self, first: Message) -> bool {
        let mut out = BytesMut::new();
        let mut m = Some(first);
        let mut size = 0;
        while let Some(msg) = m {
            size += msg.size();
            if msg.kind == Kind::ShardLost {
                if let Some(s) = self.client.sub.as_mut() {
                    s.shards.remove(&msg.channel);
                }
            }
            if let Some(r) = message_reply(msg, self.client) {
                r.encode(self.client.resp, &mut out);
            }
            m = self.rx.try_recv().ok();
            if out.len() > 64 * 1024 {
                break;
            }
        }
        self.client.handle.mailbox.pending.fetch_sub(size, Relaxed);
        self.sh
            .stats
            .net_output_bytes
            .fetch_add(out.len() as u64, Relaxed);
        self.write(&out).await
    }

    /// client-output-buffer-limit for normal clients: past the hard limit, or past the soft
    /// limit for `soft_seconds`, the client is closed (Redis: "scheduled to be closed ASAP").
    fn over_output_limit(
        &self,
        pending: usize,
        lim: BufferLimit,
        soft_since: &mut Option<Instant>,
    ) -> bool {
        let pending = pending as u64;
        let hard = lim.hard > 0 && pending > lim.hard;
        let soft = lim.soft > 0 && pending > lim.soft;
        let soft_expired = if soft {
            let since = *soft_since.get_or_insert_with(Instant::now);
            since.elapsed().as_secs() >= lim.soft_seconds
        } else {
            *soft_since = None;
            false
        };
        if hard || soft_expired {
            tracing::warn!(client = %self.client.handle.addr, "Client scheduled to be closed ASAP for overcoming of output buffer limits.");
            self.sh
                .stats
                .client_outbuf_limit_disconnections
                .fetch_add(1, Relaxed);
            return true;
        }
        false
    }

    /// Refreshes what CLIENT LIST shows about this connection, when it changed.
    fn publish_view(&self, last: &mut View) {
        let c = &*self.client;
        let subs = c.sub.as_ref().map_or((0, 0, 0), |s| {
            (s.channels.len(), s.patterns.len(), s.shards.len())
        });
        let multi = c.multi.as_ref().map_or(-1, |m| m.queue.len() as i64);
        let now = (c.db, c.resp, c.name.clone(), subs, multi);
        if *last == now {
            return;
        }
        let mut v = c.handle.view_mut();
        v.db = now.0;
        v.resp = if now.1 == RespVersion::Resp3 { 3 } else { 2 };
        v.name = now
            .2
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        v.subs = subs;
        v.multi = multi;
        *last = now;
    }
}

/// What was last published to CLIENT LIST: db, protocol, name, subscriptions, MULTI depth.
type View = (
    usize,
    RespVersion,
    Option<Bytes>,
    (usize, usize, usize),
    i64,
);

/// `message` / `pmessage` / `smessage` as Redis sends them (a push in RESP3). An invalidation
/// is a push to a RESP3 client, a `__redis__:invalidate` message to a RESP2 client subscribed
/// to that channel (a redirect target), and dropped otherwise, as in Redis.
fn message_reply(m: Message, client: &Client) -> Option<Reply> {
    Some(match m.kind {
        Kind::Wake => return None,
        Kind::RedirectBroken if client.resp == RespVersion::Resp3 => {
            let id = crate::util::num::parse_i64(&m.payload).unwrap_or(-1);
            Reply::Push(vec![
                Reply::bulk_static("tracking-redir-broken"),
                Reply::Int(id),
            ])
        }
        Kind::RedirectBroken => return None,
        Kind::Invalidate => {
            let keys = m.keys.map_or(Reply::NilArray, |k| {
                Reply::Array(k.into_iter().map(Reply::Bulk).collect())
            });
            if client.resp == RespVersion::Resp3 {
                Reply::Push(vec![Reply::bulk_static("invalidate"), keys])
            } else if client
                .sub
                .as_ref()
                .is_some_and(|s| s.channels.contains(INVALIDATE_CHANNEL.as_bytes()))
            {
                Reply::Push(vec![
                    Reply::bulk_static("message"),
                    Reply::bulk_static(INVALIDATE_CHANNEL),
                    keys,
                ])
            } else {
                return None;
            }
        }
        Kind::Channel => Reply::Push(vec![
            Reply::bulk_static("message"),
            Reply::Bulk(m.channel),
            Reply::Bulk(m.payload),
        ]),
        Kind::ShardLost => Reply::Push(vec![
            Reply::bulk_static("sunsubscribe"),
            Reply::Bulk(m.channel),
            Reply::Int(client.sub.as_ref().map_or(0, |s| s.shards.len()) as i64),
        ]),
        Kind::Shard => Reply::Push(vec![
            Reply::bulk_static("smessage"),
            Reply::Bulk(m.channel),
            Reply::Bulk(m.payload),
        ]),
        Kind::Pattern => Reply::Push(vec![
            Reply::bulk_static("pmessage"),
            Reply::Bulk(m.pattern.unwrap_or_default()),
            Reply::Bulk(m.channel),
            Reply::Bulk(m.payload),
        ]),
    })
}

const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";

/// Resolves when the cluster's routing changes (never outside cluster mode).
async fn topology_changed(sh: &Shared) {
    match &sh.cluster {
        Some(c) => c.changed.notified().await,
        None => std::future::pending().await,
    }
}

async fn idle(timeout_secs: u64) {
    if timeout_secs == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_secs(timeout_secs)).await;
}
