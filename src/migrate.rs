//! The client side of MIGRATE: cached connections to target nodes (Redis's
//! `migrateCachedSocket`: one per host:port, at most 64, closed after 10 s unused) and the
//! blocking request/reply exchange with timeouts. Knows nothing of the keyspace: the command
//! (commands/migrate.rs) builds the payloads and applies the replies.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL.
const CACHE_ITEMS: usize = 64;
const CACHE_TTL: Duration = Duration::from_secs(10);
const MAX_LINE: u64 = 64 * 1024;

/// A connection to a target, and the database last SELECTed on it (-1: unknown).
pub struct Conn {
    r: BufReader<TcpStream>,
    pub last_db: i64,
    last_use: Instant,
}

impl Conn {
    pub fn send(&mut self, buf: &[u8], timeout: Duration) -> std::io::Result<()> {
        let s = self.r.get_mut();
        s.set_write_timeout(Some(timeout))?;
        s.write_all(buf)
    }

    /// One reply line (status, error or integer), without CRLF. A target sending a longer
    /// line than `MAX_LINE` is an error (Redis reads replies into a 1 KiB buffer).
    pub fn read_line(&mut self, timeout: Duration) -> std::io::Result<String> {
        self.r.get_mut().set_read_timeout(Some(timeout))?;
        let mut line = String::new();
        let n = (&mut self.r).take(MAX_LINE).read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
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
    pub fn take(&self, host: &str, port: &str, timeout: Duration) -> std::io::Result<Conn> {
        let name = format!("{host}:{port}");
        if let Some(c) = self.lock().remove(&name) {
            return Ok(c);
        }
        let port: u16 = port.parse().map_err(|_| std::io::ErrorKind::InvalidInput)?;
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or(std::io::ErrorKind::AddrNotAvailable)?;
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_nodelay(true)?;
        Ok(Conn {
            r: BufReader::new(s),
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
