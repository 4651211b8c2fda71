//! Following a primary (REPLICAOF host port): one task per link generation drives
//! `LinkState` Connect -> Connecting -> Handshake -> (Transfer -> Loading) -> Connected, every
//! transition through `set_link`, which logs it. The handshake is Redis 7.0's: PING, AUTH
//! (masterauth), REPLCONF listening-port / ip-address / capa eof psync2, PSYNC with our
//! replication ID and offset (so a former primary, or a replica after a link drop, continues
//! partially). A full sync receives the RDB to a temporary file (`repl-diskless-load
//! disabled`), empties the keyspace and loads it with clients answered -LOADING, then keeps it
//! as `dbfilename`. Connected, the primary's commands run as the primary client (no replies,
//! expired keys still visible to them) and the bytes applied go to our own backlog, so our
//! offset is the primary's and our replicas receive the same stream (chained replication).
//! An ACK goes back every second and on `REPLCONF GETACK`.
use super::{propagate, LinkState, NO_REPLID};
use crate::protocol::{ParseLimits, RequestParser};
use crate::state::{now_ms, Client, Shared};
use crate::store::propagation::ExpiryMode;
use crate::store::Store;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Res<T> = Result<T, String>;

/// REPLICAOF host port: this node follows `host:port` from now on (the caller holds the store
/// lock; the link task starts once it is released).
pub fn follow(sh: &Arc<Shared>, store: &mut Store, host: String, port: u16) {
    set_replicaof_config(sh, &format!("{host} {port}"));
    store.propagation.expiry = ExpiryMode::Hide;
    // Once promoted, this node's writes feed its replicas.
    store.propagation.enabled = true;
    sh.repl.state().primary = Some(super::PrimaryInfo {
        host: host.clone(),
        port,
        link: LinkState::Connect,
        last_io_ms: 0,
        down_since_ms: now_ms(),
        sync_total: -1,
        sync_read: 0,
    });
    sh.repl.role_replica.store(true, Relaxed);
    // Our own replicas resync with the new history (partially, when it continues ours).
    drop_replicas(sh);
    let generation = sh.repl.generation.fetch_add(1, Relaxed) + 1;
    tokio::spawn(run(sh.clone(), host, port, generation));
}

/// REPLICAOF NO ONE: this node becomes a primary with a new replication ID; the old one stays
/// valid for partial resyncs up to the current offset.
/// CONFIG GET replicaof shows the primary followed now, as Redis's does.
fn set_replicaof_config(sh: &Shared, value: &str) {
    let mut c = sh.config.write().unwrap_or_else(|e| e.into_inner());
    let _ = c.set("replicaof", &[value.to_string()]);
}

pub fn stop_following(sh: &Shared, store: &mut Store) {
    set_replicaof_config(sh, "");
    sh.repl.generation.fetch_add(1, Relaxed);
    store.propagation.expiry = ExpiryMode::Delete;
    sh.repl.state().primary = None;
    sh.repl.role_replica.store(false, Relaxed);
    sh.repl.shift_replid();
    drop_replicas(sh);
    tracing::info!("MASTER MODE enabled");
}

fn drop_replicas(sh: &Shared) {
    let ids: Vec<u64> = sh.repl.state().replicas.keys().copied().collect();
    for id in ids {
        if let Some(h) = sh.clients.get(id) {
            h.kill();
        }
    }
}

fn current(sh: &Shared, generation: u64) -> bool {
    sh.repl.generation.load(Relaxed) == generation
}

fn set_link(sh: &Shared, generation: u64, to: LinkState) {
    if !current(sh, generation) {
        return;
    }
    let mut st = sh.repl.state();
    if let Some(p) = st.primary.as_mut() {
        if p.link != to {
            tracing::info!(from = ?p.link, to = ?to, primary = %format!("{}:{}", p.host, p.port), "replication link");
            if to == LinkState::Connected {
                p.down_since_ms = 0;
                p.last_io_ms = now_ms();
            } else if p.link == LinkState::Connected {
                p.down_since_ms = now_ms();
            }
            p.link = to;
        }
    }
}

async fn run(sh: Arc<Shared>, host: String, port: u16, generation: u64) {
    while current(&sh, generation) {
        let res = session(&sh, &host, port, generation).await;
        set_link(&sh, generation, LinkState::Connect);
        if let Err(e) = res {
            if current(&sh, generation) {
                tracing::warn!(primary = %format!("{host}:{port}"), error = %e, "Replication link failed");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Bytes from the primary not consumed yet.
struct Conn {
    s: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> Res<()> {
        let n = tokio::time::timeout(self.timeout, self.s.read_buf(&mut self.buf))
            .await
            .map_err(|_| "timeout reading from the primary".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed by the primary".into());
        }
        Ok(())
    }

    async fn line(&mut self) -> Res<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let l = self.buf.split_to(i + 1);
                let l = String::from_utf8_lossy(&l).trim_end().to_string();
                return Ok(l);
            }
            if self.buf.len() > 64 * 1024 {
                return Err("reply line too long".into());
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, args: &[&str]) -> Res<()> {
        let mut out = Vec::new();
        propagate::encode(&mut out, args);
        self.s.write_all(&out).await.map_err(|e| e.to_string())
    }

    async fn call(&mut self, args: &[&str]) -> Res<String> {
        self.send(args).await?;
        self.line().await
    }
}

async fn session(sh: &Arc<Shared>, host: &str, port: u16, generation: u64) -> Res<()> {
    set_link(sh, generation, LinkState::Connecting);
    let timeout = Duration::from_secs(super::config_u64(sh, "repl-timeout", 60));
    let s = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "timeout connecting to the primary".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = s.set_nodelay(true);
    let mut c = Conn {
        s,
        buf: BytesMut::with_capacity(64 * 1024),
        timeout,
    };
    set_link(sh, generation, LinkState::Handshake);
    handshake(sh, &mut c).await?;
    let (replid, offset) = psync_args(sh);
    let failing_over = matches!(
        sh.repl.state().failover,
        super::failover::State::InProgress { .. }
    );
    let offset = offset.to_string();
    let mut psync = vec!["PSYNC", replid.as_str(), offset.as_str()];
    if failing_over {
        // FAILOVER: the target promotes itself before answering (coordinated failover).
        psync.push("FAILOVER");
    }
    c.send(&psync).await?;
    // Newlines keep the link alive while the primary prepares the sync.
    let reply = loop {
        let l = c.line().await?;
        if !l.is_empty() {
            break l;
        }
    };
    if !current(sh, generation) {
        return Ok(());
    }
    if failing_over {
        if reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE") {
            super::failover::clear(sh);
        } else {
            super::failover::abort(
                sh,
                &mut sh.lock_store(),
                "Failover target rejected psync request",
            );
            return Err(format!("PSYNC FAILOVER refused: {reply}"));
        }
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut it = rest.split_whitespace();
        let id = it.next().unwrap_or_default().to_string();
        let off: u64 = it.next().and_then(|o| o.parse().ok()).unwrap_or(0);
        tracing::info!(replid = %id, offset = off, "Full resync from primary");
        full_sync(sh, &mut c, generation, id, off).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        continue_partially(sh, rest.trim());
    } else {
        return Err(format!("Unexpected reply to PSYNC from primary: {reply}"));
    }
    set_link(sh, generation, LinkState::Connected);
    apply_stream(sh, c, generation).await
}

async fn handshake(sh: &Shared, c: &mut Conn) -> Res<()> {
    let pong = c.call(&["PING"]).await?;
    if !pong.starts_with('+')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from primary: '{pong}'"));
    }
    let (auth, user, announce_ip, announce_port) = {
        let cfg = sh.config();
        let get = |n: &str| cfg.get(n).filter(|v| !v.is_empty()).map(str::to_string);
        (
            get("masterauth"),
            get("masteruser"),
            get("replica-announce-ip"),
            get("replica-announce-port").filter(|p| p != "0"),
        )
    };
    if let Some(pass) = auth {
        let reply = match &user {
            Some(u) => c.call(&["AUTH", u, &pass]).await?,
            None => c.call(&["AUTH", &pass]).await?,
        };
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    let port = announce_port.unwrap_or_else(|| sh.bound_port.load(Relaxed).to_string());
    let reply = c.call(&["REPLCONF", "listening-port", &port]).await?;
    if reply.starts_with('-') {
        tracing::info!(reply = %reply, "(Non critical) Primary does not understand REPLCONF listening-port");
    }
    if let Some(ip) = announce_ip {
        let _ = c.call(&["REPLCONF", "ip-address", &ip]).await?;
    }
    let reply = c
        .call(&["REPLCONF", "capa", "eof", "capa", "psync2"])
        .await?;
    if reply.starts_with('-') {
        tracing::info!(reply = %reply, "(Non critical) Primary does not understand REPLCONF capa");
    }
    Ok(())
}

/// Our history for PSYNC: the replication ID and the next offset we need, or `? -1` when we
/// have none (never synced and never a primary with a backlog).
fn psync_args(sh: &Shared) -> (String, i64) {
    let b = sh.repl.backlog();
    if !b.active {
        return ("?".into(), -1);
    }
    (sh.repl.state().replid.clone(), b.end() as i64 + 1)
}

/// +CONTINUE [new-id]: the primary continues our history; when its ID is new (it was
/// promoted), ours becomes the secondary one, and our replicas must learn it.
fn continue_partially(sh: &Shared, new_id: &str) {
    let offset = sh.repl.offset();
    let changed = {
        let mut st = sh.repl.state();
        if !new_id.is_empty() && new_id != st.replid {
            st.replid2 = std::mem::replace(&mut st.replid, new_id.to_string());
            st.second_offset = offset as i64 + 1;
            true
        } else {
            false
        }
    };
    if changed {
        drop_replicas(sh);
    }
    tracing::info!(offset, "Successful partial resynchronization with primary");
}

/// Receives the RDB (to a temporary file), then loads it in place of the keyspace.
async fn full_sync(
    sh: &Arc<Shared>,
    c: &mut Conn,
    generation: u64,
    replid: String,
    offset: u64,
) -> Res<()> {
    set_link(sh, generation, LinkState::Transfer);
    let header = loop {
        // Newlines are keepalives while the primary prepares the RDB.
        let l = c.line().await?;
        if !l.is_empty() {
            break l;
        }
    };
    let path = std::path::PathBuf::from(format!("temp-{}.{}.rdb", now_ms(), std::process::id()));
    let got = receive(sh, c, &header, &path).await;
    if let Err(e) = got {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    if !current(sh, generation) {
        let _ = std::fs::remove_file(&path);
        return Ok(());
    }
    set_link(sh, generation, LinkState::Loading);
    let sh2 = sh.clone();
    let p2 = path.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&sh2, &p2))
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = loaded {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    let _ = std::fs::rename(&path, crate::persist::rdb_path(sh));
    {
        let _store = sh.lock_store();
        let mut st = sh.repl.state();
        st.replid = replid;
        st.primary_db = 0;
        st.replid2 = NO_REPLID.to_string();
        st.second_offset = -1;
        sh.repl.backlog().reset(offset);
        sh.repl.live.store(true, Relaxed);
    }
    drop_replicas(sh);
    tracing::info!(offset, "MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

/// Reads the payload announced by `header` (`$<len>` or `$EOF:<mark>`) into `path`.
async fn receive(sh: &Shared, c: &mut Conn, header: &str, path: &std::path::Path) -> Res<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).map_err(|e| e.to_string())?,
    );
    let progress = |read: u64, total: i64| {
        if let Some(p) = sh.repl.state().primary.as_mut() {
            p.sync_read = read;
            p.sync_total = total;
            p.last_io_ms = now_ms();
        }
    };
    if let Some(mark) = header.strip_prefix("$EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err(format!("Bad EOF mark from primary: {header}"));
        }
        let mut read = 0u64;
        // The last 40 bytes are held back until more arrive: they may be the mark.
        loop {
            // The mark ends the payload (whatever follows is the stream, should a primary
            // not wait for our first ACK as Redis's do).
            if let Some(n) = c.buf.windows(40).position(|w| w == mark.as_slice()) {
                f.write_all(&c.buf[..n]).map_err(|e| e.to_string())?;
                let _ = c.buf.split_to(n + 40);
                break;
            }
            if c.buf.len() > 40 {
                let n = c.buf.len() - 40;
                f.write_all(&c.buf[..n]).map_err(|e| e.to_string())?;
                let _ = c.buf.split_to(n);
                read += n as u64;
                progress(read, -1);
            }
            c.fill().await?;
        }
    } else {
        let total: u64 = header
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                format!("Bad protocol from MASTER, the first byte is not '$': {header}")
            })?;
        let mut read = 0u64;
        while read < total {
            if c.buf.is_empty() {
                c.fill().await?;
            }
            let n = (c.buf.len() as u64).min(total - read) as usize;
            f.write_all(&c.buf[..n]).map_err(|e| e.to_string())?;
            let _ = c.buf.split_to(n);
            read += n as u64;
            progress(read, total as i64);
        }
    }
    f.flush().map_err(|e| e.to_string())?;
    f.get_ref().sync_all().map_err(|e| e.to_string())
}

/// Empties the keyspace and loads `path` (clients get -LOADING meanwhile).
fn load(sh: &Shared, path: &std::path::Path) -> Res<()> {
    sh.persist.loading.store(true, Relaxed);
    {
        let mut store = sh.lock_store();
        store.snapshot_abort();
        store.flush(None, true);
        store.propagation.discard();
    }
    let res = crate::persist::load::load_file_batched(sh, path);
    sh.persist.loading.store(false, Relaxed);
    match res {
        Ok(_) => {
            crate::persist::aof::restart_after_sync(sh);
            Ok(())
        }
        Err(e) => {
            sh.lock_store().flush(None, true);
            Err(format!(
                "Failed trying to load the MASTER synchronization DB from disk: {e}"
            ))
        }
    }
}

/// Applies the primary's commands until the link fails or REPLICAOF changes.
async fn apply_stream(sh: &Arc<Shared>, mut c: Conn, generation: u64) -> Res<()> {
    let addr = c.s.peer_addr().map_err(|e| e.to_string())?;
    let laddr = c.s.local_addr().unwrap_or(addr);
    let (handle, _rx) = sh.clients.register(addr, laddr);
    handle.view_mut().link = Some('M');
    let mut client = Client::new(handle.clone(), true);
    client.primary_link = true;
    client.db = sh.repl.state().primary_db;
    let res = apply_loop(sh, &mut c, &mut client, generation).await;
    sh.repl.state().primary_db = client.db;
    sh.clients.unregister(handle.id);
    res
}

async fn apply_loop(
    sh: &Arc<Shared>,
    c: &mut Conn,
    client: &mut Client,
    generation: u64,
) -> Res<()> {
    let mut parser = RequestParser::new();
    let limits = ParseLimits {
        max_bulk: i64::MAX,
        authenticated: true,
    };
    let mut consumed = 0u64;
    let mut last_ack = std::time::Instant::now();
    let mut last_io = std::time::Instant::now();
    send_ack(sh, c).await?;
    loop {
        let mut ack_now = false;
        let mut batch: Vec<(Vec<Bytes>, u64)> = Vec::new();
        loop {
            let before = c.buf.len();
            let next = parser.next(&mut c.buf, &limits);
            consumed += (before - c.buf.len()) as u64;
            match next {
                Ok(Some(args)) => {
                    batch.push((args, consumed));
                    consumed = 0;
                }
                Ok(None) => break,
                Err(e) => return Err(format!("protocol error from the primary: {e:?}")),
            }
        }
        if !batch.is_empty() {
            ack_now = apply(sh, client, batch);
        }
        if ack_now || last_ack.elapsed() >= Duration::from_secs(1) {
            send_ack(sh, c).await?;
            last_ack = std::time::Instant::now();
        }
        if !current(sh, generation) || client.handle.is_killed() {
            return Ok(());
        }
        let timeout = c.timeout;
        let read = tokio::time::timeout(Duration::from_secs(1), c.s.read_buf(&mut c.buf)).await;
        match read {
            Err(_) => {
                if last_io.elapsed() > timeout {
                    return Err("MASTER timeout: no data nor PING received".into());
                }
            }
            Ok(Ok(0)) => return Err("connection closed by the primary".into()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(n)) => {
                last_io = std::time::Instant::now();
                sh.stats.net_repl_input_bytes.fetch_add(n as u64, Relaxed);
                if let Some(p) = sh.repl.state().primary.as_mut() {
                    p.last_io_ms = now_ms();
                }
            }
        }
    }
}

/// Runs a batch of the primary's commands under one store lock, forwarding each to our backlog
/// as it is applied. Returns true when the primary asked for an ACK.
fn apply(sh: &Shared, client: &mut Client, batch: Vec<(Vec<Bytes>, u64)>) -> bool {
    let mut ack = false;
    let mut store = sh.lock_store();
    store.propagation.expiry = ExpiryMode::Ignore;
    let mut out = Vec::new();
    for (args, len) in batch {
        let getack = args.len() >= 2
            && args[0].eq_ignore_ascii_case(b"replconf")
            && args[1].eq_ignore_ascii_case(b"getack");
        if getack {
            ack = true;
        } else {
            if let Some(run) = sh.repl.apply.get() {
                run(sh, &mut store, client, &args);
            }
            client.after = None;
        }
        // The stream we pass on is the one we applied, byte for byte (Redis's primaries send
        // canonical multibulk, which re-encodes to the same bytes and length).
        out.clear();
        propagate::encode(&mut out, &args);
        if out.len() as u64 != len {
            tracing::debug!(
                len,
                encoded = out.len(),
                "non-canonical command from primary"
            );
        }
        sh.repl.backlog().append(&out);
    }
    store.propagation.expiry = ExpiryMode::Hide;
    let end = sh.repl.backlog().end();
    drop(store);
    sh.repl.fed.send_replace(end);
    ack
}

async fn send_ack(sh: &Shared, c: &mut Conn) -> Res<()> {
    let off = sh.repl.offset().to_string();
    c.send(&["REPLCONF", "ACK", &off]).await
}
