//! The cluster bus transport (tokio): a listener on the bus port, one task per link that reads
//! frames and writes queued frames, and the cron driver. All decisions are made by the pure
//! modules (`gossip`, `cron`) under the state lock; this file only moves bytes and applies
//! `Effects` through the `Host` after unlocking. It runs on its own tasks, so a node busy with
//! data commands keeps answering PINGs.
//!
//! Frames are read into a growing buffer with the length checked first (`wire::frame_len`
//! against `MAX_FRAME`), so a declared length never allocates; a framing error closes the link
//! and is logged, a bad message is dropped, as Redis does.
use super::cron::{self, Connect};
use super::gossip::{self, Peer};
use super::node::LinkId;
use super::state::{LinkIo, Settings};
use super::wire;
use super::{Cluster, Effects};
use crate::util::now_ms;
use bytes::BytesMut;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// Largest frame accepted: a header plus a PUBLISH of up to 64 MiB (a ping with gossip about
/// thousands of nodes is far smaller).
pub const MAX_FRAME: usize = wire::HEADER_LEN + (64 << 20);
const CRON_PERIOD: Duration = Duration::from_millis(100);

/// What the bus needs from the rest of the server.
pub trait Host: Send + Sync + 'static {
    /// The cluster-* settings as configured now.
    fn settings(&self) -> Settings;
    /// Applies bus effects: deliver PUBLISH/PUBLISHSHARD locally, delete keys of lost slots,
    /// notify shard subscribers of slots that moved away, change the replication link, pause
    /// writes for a manual failover.
    fn apply(&self, effects: Effects);
    /// This node's replication offset and link, for elections and the bus header.
    fn replication(&self) -> super::failover::ReplView;
}

/// Starts the listener and the cron. `listener` is bound on the bus port already.
///
/// The bus gets a thread and a single-threaded runtime of its own: client connections block
/// their worker threads on the store lock, and a node whose workers are all busy (or waiting
/// for the lock) must still answer PINGs, or its peers would flag it PFAIL.
pub fn start(
    cluster: Arc<Cluster>,
    host: Arc<dyn Host>,
    listener: std::net::TcpListener,
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("cluster-bus".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("cluster bus listener: {e}");
                        return;
                    }
                };
                tokio::spawn(accept_loop(cluster.clone(), host.clone(), listener));
                cron_loop(cluster, host).await
            })
        })?;
    Ok(())
}

async fn accept_loop(cluster: Arc<Cluster>, host: Arc<dyn Host>, listener: TcpListener) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting cluster node connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (tx, rx) = unbounded_channel();
        let (link, io) = cluster.lock().add_link(None, false, tx, now_ms());
        tracing::debug!(link, peer = %addr, "Accepting cluster node connection");
        tokio::spawn(run_link(
            cluster.clone(),
            host.clone(),
            link,
            stream,
            rx,
            io,
        ));
    }
}

async fn cron_loop(cluster: Arc<Cluster>, host: Arc<dyn Host>) {
    let mut seen = cluster.topology();
    let mut tick = tokio::time::interval(CRON_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = cluster.wake.notified() => {}
        }
        let settings = host.settings();
        let repl = host.replication();
        let (connects, mut effects) = {
            let mut st = cluster.lock();
            st.apply_settings(settings);
            st.repl = repl;
            let connects = cron::tick(&mut st, now_ms());
            (connects, Cluster::take_effects(&mut st))
        };
        let topo = cluster.topology();
        if !Arc::ptr_eq(&topo, &seen) {
            effects.topology_changed = true;
            seen = topo;
        }
        if !effects.is_empty() {
            host.apply(effects);
        }
        for c in connects {
            tokio::spawn(connect(cluster.clone(), host.clone(), c));
        }
    }
}

async fn connect(cluster: Arc<Cluster>, host: Arc<dyn Host>, c: Connect) {
    let timeout = Duration::from_millis(cluster.lock().settings.node_timeout.max(1000));
    let addr = format!("{}:{}", c.ip, c.cport);
    let target = if c.ip.contains(':') {
        format!("[{}]:{}", c.ip, c.cport)
    } else {
        addr
    };
    match tokio::time::timeout(timeout, TcpStream::connect(&target)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            run_link(cluster, host, c.link, stream, c.rx, c.io).await
        }
        Ok(Err(e)) => {
            tracing::debug!(node_id = %super::node::id_str(&c.node), "Unable to connect to Cluster Node [{target}]: {e}");
            cron::connect_failed(&mut cluster.lock(), c.link, now_ms());
        }
        Err(_) => cron::connect_failed(&mut cluster.lock(), c.link, now_ms()),
    }
}

/// One link: frames in, frames out, until either side closes or the state frees the link.
async fn run_link(
    cluster: Arc<Cluster>,
    host: Arc<dyn Host>,
    link: LinkId,
    stream: TcpStream,
    mut rx: UnboundedReceiver<Vec<u8>>,
    io: Arc<LinkIo>,
) {
    let peer = Peer {
        ip: stream
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        local_ip: stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    };
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(8192);
    let reason = loop {
        tokio::select! {
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => break "connection closed".to_string(),
                Ok(_) => {
                    if let Err(e) = handle_frames(&cluster, &host, link, &mut buf, &peer) {
                        break e;
                    }
                }
                Err(e) => break e.to_string(),
            },
            out = rx.recv() => match out {
                Some(frame) => {
                    let written = tokio::select! {
                        r = wr.write_all(&frame) => r,
                        // Freed while the peer wasn't reading: drop the socket now.
                        _ = io.closed.notified() => return,
                    };
                    io.queued.fetch_sub(frame.len(), Relaxed);
                    if let Err(e) = written {
                        break e.to_string();
                    }
                }
                // The state freed the link.
                None => return,
            },
        }
    };
    tracing::debug!(link, "I/O error on cluster link: {reason}");
    cluster.lock().free_link(link);
}

/// Processes every complete frame in `buf`. An error closes the link.
fn handle_frames(
    cluster: &Cluster,
    host: &Arc<dyn Host>,
    link: LinkId,
    buf: &mut BytesMut,
    peer: &Peer,
) -> Result<(), String> {
    while buf.len() >= wire::PREFIX_LEN {
        let prefix: [u8; wire::PREFIX_LEN] = buf[..wire::PREFIX_LEN].try_into().expect("len");
        let len = wire::frame_len(&prefix, MAX_FRAME).map_err(|e| {
            tracing::warn!(link, peer = %peer.ip, "Bad cluster bus frame, closing link: {e}");
            e.to_string()
        })?;
        if buf.len() < len {
            buf.reserve((len - buf.len()).min(64 << 10));
            return Ok(());
        }
        let frame = buf.split_to(len);
        match wire::decode(&frame) {
            Ok(msg) => {
                let effects = {
                    let mut st = cluster.lock();
                    if !st.links.contains_key(&link) {
                        return Err("link freed".into());
                    }
                    gossip::process(&mut st, link, msg, peer, now_ms());
                    Cluster::take_effects(&mut st)
                };
                if !effects.is_empty() {
                    host.apply(effects);
                }
            }
            // Redis drops a message with bad content and keeps reading; here any bad frame
            // closes the link (the peer reconnects), so a confused or hostile sender can't
            // keep a half-understood stream going. Unknown types (a newer Redis) are skipped.
            Err(e @ wire::WireError::UnknownType(_)) => {
                tracing::debug!(link, "Ignoring cluster bus message: {e}");
            }
            Err(e) => {
                tracing::warn!(link, peer = %peer.ip, "Bad cluster bus frame, closing link: {e}");
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}
