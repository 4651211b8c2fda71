//! The client side of MIGRATE: cached connections to target nodes (Redis's
//! `migrateCachedSocket`: one per host:port, at most 64, closed after 10 s unused) and a
//! `Job`: values captured from the keyspace, serialized and sent with RESTORE, the target's
//! replies read back, with per-operation timeouts. A job runs as its own task on the runtime
//! (asynchronous sockets; big values are serialized on the blocking pool) while the keyspace
//! stays open to other clients; it knows nothing of the keyspace: the command
//! (commands/migrate.rs) captures the values and applies the outcome.
use crate::protocol::encode_request;
use crate::store::rdb::encode;
use crate::store::value::Value;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL.
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
const MAX_LINE: usize = 64 * 1024;
/// Values whose heap size adds up to more than this are serialized on the blocking pool.
const INLINE_SERIALIZE: usize = 256 * 1024;

/// A connection to a target, and the database last SELECTed on it (-1: unknown).
pub struct Conn {
    s: TcpStream,
    buf: BytesMut,
    pub last_db: i64,
    last_use: Instant,
}

fn timed_out() -> std::io::Error {
    std::io::ErrorKind::TimedOut.into()
}

impl Conn {
    pub async fn send(&mut self, buf: &[u8], timeout: Duration) -> std::io::Result<()> {
        tokio::time::timeout(timeout, self.s.write_all(buf))
            .await
            .map_err(|_| timed_out())?
    }

    /// One reply line (status, error or integer), without CRLF. A target sending a longer
    /// line than `MAX_LINE` is an error (Redis reads replies into a 1 KiB buffer).
    pub async fn read_line(&mut self, timeout: Duration) -> std::io::Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1);
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > MAX_LINE {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            self.buf.reserve(4096);
            let n = tokio::time::timeout(timeout, self.s.read_buf(&mut self.buf))
                .await
                .map_err(|_| timed_out())??;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

#[derive(Default)]
pub struct Cache {
    conns: Mutex<HashMap<String, Conn>>,
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached connection to `host:port`, or a new one (connect timeout `timeout`). The
    /// caller hands it back with `put` when the exchange went well.
    pub async fn take(&self, host: &str, port: &str, timeout: Duration) -> std::io::Result<Conn> {
        let name = format!("{host}:{port}");
        if let Some(mut c) = self.lock().remove(&name) {
            // Anything unread on an idle connection (or a close) makes it unusable.
            c.buf.clear();
            return Ok(c);
        }
        let port: u16 = port.parse().map_err(|_| std::io::ErrorKind::InvalidInput)?;
        let s = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| timed_out())??;
        s.set_nodelay(true)?;
        Ok(Conn {
            s,
            buf: BytesMut::new(),
            last_db: -1,
            last_use: Instant::now(),
        })
    }

    pub fn put(&self, host: &str, port: &str, mut c: Conn) {
        c.last_use = Instant::now();
        let mut m = self.lock();
        if m.len() >= CACHE_ITEMS {
            // Too many: drop one at random (the map's first), as Redis does.
            if let Some(k) = m.keys().next().cloned() {
                m.remove(&k);
            }
        }
        m.insert(format!("{host}:{port}"), c);
    }

    /// Closes connections unused for 10 s (called periodically).
    pub fn close_idle(&self) {
        self.lock().retain(|_, c| c.last_use.elapsed() <= CACHE_TTL);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One key to move: its value as captured (collections shared, not copied) and its remaining
/// TTL in ms (0 = none).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Bytes,
    pub value: Value,
    pub ttl_ms: u64,
}

/// Everything a MIGRATE sends, captured under the store lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub host: String,
    pub port: String,
    pub db: i64,
    pub timeout: Duration,
    pub replace: bool,
    /// AUTH password, or AUTH2 username password.
    pub auth: Option<(Option<Bytes>, Bytes)>,
    /// RESTORE, or RESTORE-ASKING in cluster mode.
    pub restore: &'static [u8],
    pub opts: encode::Options,
    pub items: Vec<Item>,
}

/// A MIGRATE between capture and completion: the job, COPY, and the source database.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub job: Job,
    pub copy: bool,
    pub db: usize,
}

/// How a job ended. `acked[i]`: the target stored `items[i]`.
#[derive(Debug)]
pub struct Done {
    pub acked: Vec<bool>,
    pub error: Option<Failure>,
}

#[derive(Debug)]
pub enum Failure {
    /// The IOERR text's tail ("writing to target instance", ...).
    Io(&'static str),
    /// The target's own error, without its '-'.
    Target(String),
}

/// The target's replies to one request: an AUTH/SELECT error (if any) and each RESTORE's
/// outcome.
type Acks = Vec<Result<(), String>>;

/// Where an exchange failed, whether it was a timeout (never retried), and the replies read
/// so far (None when no RESTORE reply arrived).
struct Broken {
    writing: bool,
    timed_out: bool,
    acks: Option<Acks>,
}

impl Broken {
    fn new(writing: bool, e: &std::io::Error, acks: Option<Acks>) -> Broken {
        let timed_out = matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        );
        Broken {
            writing,
            timed_out,
            acks,
        }
    }
}

impl Job {
    /// Serializes the values and moves them, as Redis's `migrateCommand`: one write with
    /// [AUTH] [SELECT] and a RESTORE per key, then one reply per command. A socket error
    /// before any RESTORE reply is retried once on a fresh connection (the cached one may have
    /// been closed by the target); a timeout is not.
    pub async fn run(&self, cache: &Cache) -> Done {
        let size: usize = self.items.iter().map(|i| i.value.heap_size()).sum();
        let payloads = if size > INLINE_SERIALIZE {
            let (items, opts) = (self.items.clone(), self.opts);
            tokio::task::spawn_blocking(move || serialize(&items, &opts))
                .await
                .expect("serializing does not panic")
        } else {
            serialize(&self.items, &self.opts)
        };
        let mut done = Done {
            acked: vec![false; self.items.len()],
            error: None,
        };
        let mut may_retry = true;
        loop {
            let mut conn = match cache.take(&self.host, &self.port, self.timeout).await {
                Ok(c) => c,
                // Redis's non-blocking connect does not see a refusal: its first write fails.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    if may_retry {
                        may_retry = false;
                        continue;
                    }
                    done.error = Some(Failure::Io("writing to target instance"));
                    return done;
                }
                Err(_) => {
                    done.error = Some(Failure::Io("connecting to the client"));
                    return done;
                }
            };
            let select = conn.last_db != self.db;
            let cmd = self.request(&payloads, select);
            match self.exchange(&mut conn, &cmd, select).await {
                Err(b) => {
                    if may_retry && b.acks.is_none() && !b.timed_out {
                        may_retry = false;
                        continue;
                    }
                    // Keys the target acknowledged before the error are gone from here.
                    if let Some(acks) = &b.acks {
                        mark(&mut done.acked, acks);
                    }
                    done.error = Some(Failure::Io(if b.writing {
                        "writing to target instance"
                    } else {
                        "reading to target instance"
                    }));
                    return done;
                }
                Ok((pre_error, acks)) => {
                    mark(&mut done.acked, &acks);
                    let target_error = pre_error.or_else(|| acks.into_iter().find_map(|r| r.err()));
                    match target_error {
                        Some(e) => done.error = Some(Failure::Target(e)),
                        None => {
                            conn.last_db = self.db;
                            cache.put(&self.host, &self.port, conn);
                        }
                    }
                    return done;
                }
            }
        }
    }

    fn request(&self, payloads: &[Vec<u8>], select: bool) -> Vec<u8> {
        let size: usize = payloads.iter().map(|p| p.len() + 64).sum();
        let mut cmd = Vec::with_capacity(size + 64);
        if let Some((user, pass)) = &self.auth {
            match user {
                Some(u) => encode_request(&mut cmd, &[b"AUTH", u, pass]),
                None => encode_request(&mut cmd, &[b"AUTH", pass]),
            }
        }
        if select {
            encode_request(&mut cmd, &[b"SELECT", self.db.to_string().as_bytes()]);
        }
        for (item, payload) in self.items.iter().zip(payloads) {
            let ttl = item.ttl_ms.to_string();
            let mut args: Vec<&[u8]> = vec![self.restore, &item.key, ttl.as_bytes(), payload];
            if self.replace {
                args.push(b"REPLACE");
            }
            encode_request(&mut cmd, &args);
        }
        cmd
    }

    /// Sends `cmd` and reads the AUTH, SELECT and RESTORE replies.
    async fn exchange(
        &self,
        conn: &mut Conn,
        cmd: &[u8],
        select: bool,
    ) -> Result<(Option<String>, Acks), Broken> {
        if let Err(e) = conn.send(cmd, self.timeout).await {
            return Err(Broken::new(true, &e, None));
        }
        let mut pre_error = None;
        for wanted in [self.auth.is_some(), select] {
            if !wanted {
                continue;
            }
            match conn.read_line(self.timeout).await {
                Ok(l) if l.starts_with('-') => pre_error = pre_error.or(Some(l[1..].to_string())),
                Ok(_) => {}
                Err(e) => return Err(Broken::new(false, &e, None)),
            }
        }
        let mut acks = Vec::with_capacity(self.items.len());
        for _ in 0..self.items.len() {
            match conn.read_line(self.timeout).await {
                Ok(l) if l.starts_with('-') => acks.push(Err(l[1..].to_string())),
                // Behind a failed AUTH/SELECT nothing was restored where we meant it.
                Ok(_) if pre_error.is_some() => acks.push(Err(String::new())),
                Ok(_) => acks.push(Ok(())),
                Err(e) => {
                    let some = (!acks.is_empty()).then_some(acks);
                    return Err(Broken::new(false, &e, some));
                }
            }
        }
        Ok((pre_error, acks))
    }
}

fn serialize(items: &[Item], opts: &encode::Options) -> Vec<Vec<u8>> {
    items
        .iter()
        .map(|i| encode::dump_payload(&i.value, opts))
        .collect()
}

fn mark(acked: &mut [bool], acks: &Acks) {
    for (a, r) in acked.iter_mut().zip(acks) {
        *a = r.is_ok();
    }
}
