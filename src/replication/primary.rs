//! Serving a replica: the PSYNC decision (partial from the backlog when the replication ID and
//! offset allow, else full), the full sync (fullsync.rs), then the stream from the replica's
//! offset, while reading its `REPLCONF ACK`s. The connection task that received PSYNC/SYNC
//! hands its socket here and the connection ends with the link.
//!
//! A replica is one cursor into the shared backlog (backlog.rs): it is sent what it has not
//! seen, in pieces, and dropped when it falls further behind than its output-buffer limit
//! (`client-output-buffer-limit replica`), or acknowledges nothing for `repl-timeout`.
use super::{fullsync, ReplicaInfo, ReplicaState};
use crate::protocol::{ParseLimits, RequestParser};
use crate::state::{now_ms, Client, Shared};
use bytes::BytesMut;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a replica said about itself with REPLCONF before PSYNC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    pub listening_port: u16,
    pub ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// PSYNC/SYNC was received: the connection is a replica link.
    pub synced: bool,
}

/// How a replica's sync begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// +CONTINUE, then the stream from this offset.
    Partial { from: u64 },
    /// +FULLRESYNC (PSYNC) or nothing (SYNC), an RDB, then the stream.
    Full { psync: bool },
}

/// PSYNC `replid` `offset`: partial when `replid` is our history (or the previous one, up to
/// where it ended) and the backlog still holds `offset`.
pub fn decide(sh: &Shared, replid: &[u8], offset: i64) -> Plan {
    let st = sh.repl.state();
    let b = sh.repl.backlog();
    let ours = replid == st.replid.as_bytes();
    let previous = replid == st.replid2.as_bytes() && offset <= st.second_offset;
    if replid != b"?" && (ours || previous) && offset >= 0 && b.can_serve(offset as u64) {
        sh.repl.counters.sync_partial_ok.fetch_add(1, Relaxed);
        return Plan::Partial {
            from: offset as u64,
        };
    }
    if replid != b"?" {
        sh.repl.counters.sync_partial_err.fetch_add(1, Relaxed);
    }
    sh.repl.counters.sync_full.fetch_add(1, Relaxed);
    Plan::Full { psync: true }
}

type Io<T> = std::io::Result<T>;

/// Runs the replica link on `stream` until it ends.
pub async fn serve(sh: Arc<Shared>, stream: &mut TcpStream, client: &Client, plan: Plan) {
    let id = client.id;
    client.handle.view_mut().link = Some('S');
    let hello = client.replica_hello.clone().unwrap_or_default();
    let ip = hello
        .ip
        .clone()
        .unwrap_or_else(|| client.handle.addr.ip().to_string());
    sh.repl.state().replicas.insert(
        id,
        ReplicaInfo {
            ip: ip.clone(),
            port: hello.listening_port,
            state: ReplicaState::WaitBgsave,
            ack_offset: 0,
            ack_ms: now_ms(),
        },
    );
    tracing::info!(replica = %format!("{ip}:{}", hello.listening_port), ?plan, "Replica asks for synchronization");
    let res = run(&sh, stream, client, &hello, plan).await;
    if let Err(e) = &res {
        tracing::warn!(replica = %format!("{ip}:{}", hello.listening_port), error = %e, "Connection with replica lost");
    }
    sh.repl.state().replicas.remove(&id);
    sh.repl.backlog().set_cursor(id, None);
    sh.repl.acked.notify_waiters();
}

fn set_state(sh: &Shared, id: u64, state: ReplicaState) {
    if let Some(r) = sh.repl.state().replicas.get_mut(&id) {
        tracing::debug!(from = r.state.name(), to = state.name(), "replica state");
        r.state = state;
    }
}

async fn run(
    sh: &Arc<Shared>,
    stream: &mut TcpStream,
    client: &Client,
    hello: &Hello,
    plan: Plan,
) -> Io<()> {
    let id = client.id;
    let from = match plan {
        Plan::Partial { from } => {
            sh.repl.backlog().set_cursor(id, Some(from));
            let line = match hello.capa_psync2 {
                true => format!("+CONTINUE {}\r\n", sh.repl.state().replid),
                false => "+CONTINUE\r\n".to_string(),
            };
            stream.write_all(line.as_bytes()).await?;
            from
        }
        Plan::Full { psync } => full_sync(sh, stream, client, hello, psync).await? + 1,
    };
    // After an EOF-marked payload the replica must find the mark at the end of what it read:
    // nothing follows until its first ACK says it loaded (Redis's repl_put_online_on_ack).
    let wait_ack = matches!(plan, Plan::Full { .. }) && hello.capa_eof;
    if !wait_ack {
        set_state(sh, id, ReplicaState::Online);
    }
    stream_from(sh, stream, client, from, wait_ack).await
}

/// The RDB part of a full sync. Returns the offset the snapshot reflects.
async fn full_sync(
    sh: &Arc<Shared>,
    stream: &mut TcpStream,
    client: &Client,
    hello: &Hello,
    psync: bool,
) -> Io<u64> {
    let diskless = super::config_yes(sh, "repl-diskless-sync") && hello.capa_eof && psync;
    if diskless {
        // Replicas arriving together share the wait (Redis starts one transfer for them all;
        // here each gets its own snapshot, one after the other).
        let delay = super::config_u64(sh, "repl-diskless-sync-delay", 5);
        tokio::time::sleep(Duration::from_secs(delay)).await;
    }
    fullsync::acquire(sh).await;
    let started = fullsync::begin(sh, client.id);
    let offset = started.offset;
    if psync {
        let line = format!("+FULLRESYNC {} {}\r\n", started.replid, offset);
        if let Err(e) = stream.write_all(line.as_bytes()).await {
            sh.lock_store().snapshot_abort();
            sh.persist.bgsave_running.store(false, Relaxed);
            return Err(e);
        }
    }
    set_state(sh, client.id, ReplicaState::SendBulk);
    tracing::info!(
        offset,
        diskless,
        "Starting BGSAVE for SYNC with target: {}",
        if diskless { "replicas sockets" } else { "disk" }
    );
    if diskless {
        let mark: String = super::random_replid();
        stream
            .write_all(format!("$EOF:{mark}\r\n").as_bytes())
            .await?;
        let (mut rx, _s) = fullsync::stream(sh.clone(), started);
        while let Some(piece) = rx.recv().await {
            stream.write_all(&piece).await?;
        }
        stream.write_all(mark.as_bytes()).await?;
    } else {
        let (path, len) = fullsync::to_file(sh.clone(), started).await?;
        let sent = send_file(stream, &path, len).await;
        let _ = std::fs::remove_file(&path);
        sent?;
    }
    tracing::info!(offset, "Synchronization with replica succeeded");
    Ok(offset)
}

async fn send_file(stream: &mut TcpStream, path: &std::path::Path, len: u64) -> Io<()> {
    stream.write_all(format!("${len}\r\n").as_bytes()).await?;
    use std::io::Read;
    // Plain file reads in 1 MiB pieces (the page cache serves them; tokio's fs is not built).
    let mut f = std::fs::File::open(path)?;
    let mut piece = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut piece)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&piece[..n]).await?;
    }
}

/// Sends the stream from `from` on, reading ACKs, until the link fails.
async fn stream_from(
    sh: &Shared,
    stream: &mut TcpStream,
    client: &Client,
    from: u64,
    mut wait_ack: bool,
) -> Io<()> {
    let id = client.id;
    let handle = client.handle.clone();
    let mut fed = sh.repl.fed.subscribe();
    let (mut rd, mut wr) = stream.split();
    let mut next = from;
    let mut inbuf = BytesMut::with_capacity(1024);
    let mut parser = RequestParser::new();
    let limits = ParseLimits {
        max_bulk: 1 << 20,
        authenticated: true,
    };
    loop {
        if wait_ack
            && sh
                .repl
                .state()
                .replicas
                .get(&id)
                .is_some_and(|r| r.state == ReplicaState::Online)
        {
            wait_ack = false;
        }
        while !wait_ack {
            let piece = {
                let b = sh.repl.backlog();
                b.read(next, 1 << 20)
            };
            let Some(piece) = piece else {
                return Err(std::io::Error::other(
                    "replica fell behind its output buffer limit",
                ));
            };
            if piece.is_empty() {
                break;
            }
            wr.write_all(&piece).await?;
            next += piece.len() as u64;
            sh.repl.backlog().set_cursor(id, Some(next));
            sh.stats
                .net_repl_output_bytes
                .fetch_add(piece.len() as u64, Relaxed);
        }
        let timeout = super::config_u64(sh, "repl-timeout", 60);
        tokio::select! {
            _ = fed.changed() => {}
            n = rd.read_buf(&mut inbuf) => {
                match n {
                    Ok(0) => return Err(std::io::Error::other("replica closed the connection")),
                    Err(e) => return Err(e),
                    Ok(n) => {
                        sh.stats.net_repl_input_bytes.fetch_add(n as u64, Relaxed);
                        read_acks(sh, id, &mut parser, &mut inbuf, &limits)?;
                    }
                }
            }
            _ = handle.kill_notify.notified() => return Err(std::io::Error::other("killed")),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                let last = sh.repl.state().replicas.get(&id).map_or(0, |r| r.ack_ms);
                if now_ms().saturating_sub(last) > timeout * 1000 {
                    return Err(std::io::Error::other("timeout: no ACK from the replica"));
                }
            }
        }
    }
}

/// Takes the complete `REPLCONF ACK <offset>` commands out of `inbuf`.
fn read_acks(
    sh: &Shared,
    id: u64,
    parser: &mut RequestParser,
    inbuf: &mut BytesMut,
    limits: &ParseLimits,
) -> Io<()> {
    loop {
        match parser.next(inbuf, limits) {
            Ok(Some(args)) => {
                let is_ack = args.len() >= 3
                    && args[0].eq_ignore_ascii_case(b"replconf")
                    && args[1].eq_ignore_ascii_case(b"ack");
                if !is_ack {
                    continue;
                }
                let Some(off) = crate::util::num::parse_i64(&args[2]) else {
                    continue;
                };
                if let Some(r) = sh.repl.state().replicas.get_mut(&id) {
                    r.ack_offset = r.ack_offset.max(off.max(0) as u64);
                    r.ack_ms = now_ms();
                    r.state = ReplicaState::Online;
                }
                sh.repl.acked.notify_waiters();
            }
            Ok(None) => return Ok(()),
            Err(_) => return Err(std::io::Error::other("protocol error from replica")),
        }
    }
}

/// Every 100 ms a coordinated failover's progress; once a second: PING into the stream every
/// `repl-ping-replica-period` (so replicas can tell a live primary from a dead link), the
/// min-replicas-to-write mirror, the backlog's size and replica limit.
pub async fn cron(sh: Arc<Shared>) {
    let mut since_ping = 0u64;
    let mut ticks = 0u64;
    loop {
        // Every 100 ms: a coordinated failover; every second: the rest.
        tokio::time::sleep(Duration::from_millis(100)).await;
        super::failover::tick(&sh);
        ticks += 1;
        if ticks % 10 != 0 {
            continue;
        }
        sh.repl
            .min_replicas
            .store(super::config_u64(&sh, "min-replicas-to-write", 0), Relaxed);
        let (size, hard) = {
            let c = sh.config();
            let size = c.get("repl-backlog-size").and_then(|v| v.parse().ok());
            (size.unwrap_or(1 << 20), c.hot.obuf_replica.hard)
        };
        {
            let mut b = sh.repl.backlog();
            b.size = size;
            // client-output-buffer-limit replica <hard>: 0 means no limit.
            b.replica_limit = if hard == 0 {
                usize::MAX / 4
            } else {
                hard as usize
            };
        }
        since_ping += 1;
        let period = super::config_u64(&sh, "repl-ping-replica-period", 10).max(1);
        if since_ping < period {
            continue;
        }
        since_ping = 0;
        if sh.repl.role_replica.load(Relaxed) || sh.repl.state().replicas.is_empty() {
            continue;
        }
        let _store = sh.lock_store();
        super::propagate::feed_raw(&sh, &["PING"]);
    }
}

/// WAIT's blocking half: asks replicas for their offsets, then waits until `replicas` of them
/// acknowledged `offset` or the deadline passes. Returns how many did.
pub async fn wait_for_acks(sh: &Shared, offset: u64, replicas: usize, deadline_ms: u64) -> usize {
    {
        let _store = sh.lock_store();
        super::propagate::feed_raw(sh, &["REPLCONF", "GETACK", "*"]);
    }
    loop {
        let acked = sh.repl.acked.notified();
        let n = sh.repl.acked_at_least(offset);
        if n >= replicas {
            return n;
        }
        let wait = match deadline_ms {
            0 => Duration::from_secs(3600),
            d => Duration::from_millis(d.saturating_sub(now_ms())),
        };
        if deadline_ms != 0 && now_ms() >= deadline_ms {
            return n;
        }
        let _ = tokio::time::timeout(wait, acked).await;
    }
}
