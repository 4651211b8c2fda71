//! A raw RESP client connection: replies as the exact bytes the server sent.
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A client connection that returns replies as the exact bytes the server sent (one complete
/// RESP frame per reply), so tests can compare error texts byte for byte.
pub struct Conn {
    pub s: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Conn {
    pub fn connect(port: u16) -> io::Result<Conn> {
        Conn::connect_timeout(port, Duration::from_secs(5))
    }

    pub fn connect_timeout(port: u16, t: Duration) -> io::Result<Conn> {
        let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), t)?;
        s.set_nodelay(true)?;
        let mut c = Conn {
            s,
            buf: Vec::new(),
            timeout: Duration::from_secs(10),
        };
        c.set_timeout(Duration::from_secs(10));
        Ok(c)
    }

    /// How long `read_frame` waits for a complete reply.
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
        let _ = self.s.set_write_timeout(Some(t));
    }

    pub fn send(&mut self, args: &[&str]) -> io::Result<()> {
        let b: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_bytes(&b)
    }

    pub fn send_bytes(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.s.write_all(&super::super::resp(args))
    }

    /// Reads one complete RESP frame (raw bytes), waiting at most the timeout.
    pub fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        let start = Instant::now();
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Ok(self.buf.drain(..n).collect());
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no complete reply; got {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
            self.s.set_read_timeout(Some(left))?;
            match self.s.read(&mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("closed; got {:?}", String::from_utf8_lossy(&self.buf)),
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a command and returns the reply as text (lossy UTF-8), e.g. `"+OK\r\n"`.
    pub fn call(&mut self, args: &[&str]) -> io::Result<String> {
        self.send(args)?;
        Ok(String::from_utf8_lossy(&self.read_frame()?).into_owned())
    }

    pub fn call_bytes(&mut self, args: &[&[u8]]) -> io::Result<Vec<u8>> {
        self.send_bytes(args)?;
        self.read_frame()
    }

    /// Sends a command and parses the reply with the `redis` crate's parser.
    pub fn call_value(&mut self, args: &[&str]) -> io::Result<redis::Value> {
        self.send(args)?;
        let f = self.read_frame()?;
        redis::parse_redis_value(&f).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Sends all commands in one write, then reads one reply per command.
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for c in cmds {
            let a: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            out.extend_from_slice(&super::super::resp(&a));
        }
        self.s.write_all(&out)?;
        cmds.iter().map(|_| self.read_frame()).collect()
    }
}

/// Length of the complete RESP2/RESP3 frame at the start of `b`, if it is complete.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    fn line_end(b: &[u8], from: usize) -> Option<usize> {
        b[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    }
    fn parse(b: &[u8], at: usize) -> Option<usize> {
        let t = *b.get(at)?;
        let end = line_end(b, at + 1)?;
        let num = || -> Option<i64> { std::str::from_utf8(&b[at + 1..end]).ok()?.parse().ok() };
        let after = end + 2;
        match t {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(after),
            b'$' | b'=' | b'!' => {
                let n = num()?;
                if n < 0 {
                    return Some(after);
                }
                let stop = after + n as usize + 2;
                (b.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = num()?;
                let items = if t == b'%' || t == b'|' { n * 2 } else { n };
                let mut pos = after;
                for _ in 0..items.max(0) {
                    pos = parse(b, pos)?;
                }
                if t == b'|' {
                    // an attribute precedes the real reply
                    return parse(b, pos);
                }
                Some(pos)
            }
            _ => Some(after), // inline / unknown: one line
        }
    }
    if b.is_empty() {
        return None;
    }
    parse(b, 0)
}

/// RESP bytes of a command given as byte strings (for `Conn::pipeline`).
pub fn argv(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}
