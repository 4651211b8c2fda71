//! Raw RESP for the differential tests: one exact reply read off a socket (RESP2 or RESP3),
//! its canonical form (aggregates sorted), and a connection that reopens itself after an I/O
//! error. Shared by tests/differential.rs (scripted) and tests/fuzz.rs (generated).
use super::resp;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// One parsed reply: its exact bytes, its type byte, and (for aggregates) its elements.
#[derive(Debug)]
pub struct Node {
    pub raw: Vec<u8>,
    pub kind: u8,
    pub children: Vec<Node>,
}

pub fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Reads one CRLF-terminated line (with the CRLF) into `raw`, returning it without the CRLF.
pub fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(bad("connection closed"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!("line without CRLF: {}", show(&line))));
    }
    raw.extend_from_slice(&line);
    line.truncate(line.len() - 2);
    Ok(line)
}

pub fn parse_len(b: &[u8]) -> std::io::Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad length {}", show(b))))
}

/// Reads exactly one RESP2/RESP3 reply.
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<Node> {
    let mut raw = Vec::new();
    let line = read_line(r, &mut raw)?;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(bad("empty line"));
    };
    let mut children = Vec::new();
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
        b'$' | b'=' | b'!' => {
            let n = parse_len(rest)?;
            if n >= 0 {
                let mut body = vec![0u8; n as usize + 2];
                r.read_exact(&mut body)?;
                if !body.ends_with(b"\r\n") {
                    return Err(bad("bulk without CRLF"));
                }
                raw.extend_from_slice(&body);
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = parse_len(rest)?;
            let items = if kind == b'%' || kind == b'|' {
                n * 2
            } else {
                n
            };
            for _ in 0..items.max(0) {
                let c = read_reply(r)?;
                raw.extend_from_slice(&c.raw);
                children.push(c);
            }
            if kind == b'|' {
                // An attribute precedes the real reply: keep both bytes, type of the reply.
                let real = read_reply(r)?;
                raw.extend_from_slice(&real.raw);
                return Ok(Node {
                    raw,
                    kind: real.kind,
                    children: real.children,
                });
            }
        }
        _ => return Err(bad(format!("unknown reply type {}", show(&line)))),
    }
    Ok(Node {
        raw,
        kind,
        children,
    })
}

/// Printable form of reply bytes, truncated for the report.
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(600) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 600 {
        s.push_str(&format!("... ({} bytes)", b.len()));
    }
    s
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Compare {
    Exact,
    Sorted,
    TypeOnly,
}

/// A connection to one server with a buffered reader on its socket.
pub struct Conn {
    pub port: u16,
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(super::DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            port,
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<Node, String> {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let res = self
            .w
            .write_all(&resp(&refs))
            .and_then(|_| read_reply(&mut self.r));
        res.map_err(|e| {
            // The stream may be out of step now: start over on a fresh connection.
            *self = Conn::open(self.port);
            format!("<io error: {e}>")
        })
    }
}

/// The reply with the elements of every aggregate sorted (map pairs sorted as pairs), so two
/// replies that differ only in element order compare equal.
pub fn canonical(n: &Node) -> Vec<u8> {
    if n.children.is_empty() {
        return n.raw.clone();
    }
    let mut items: Vec<Vec<u8>> = if n.kind == b'%' {
        n.children
            .chunks(2)
            .map(|p| [canonical(&p[0]), canonical(&p[1])].concat())
            .collect()
    } else {
        n.children.iter().map(canonical).collect()
    };
    items.sort();
    let header_len = n.raw.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1);
    let mut out = n.raw[..header_len].to_vec();
    items.iter().for_each(|i| out.extend_from_slice(i));
    out
}

pub fn same(mode: Compare, a: &Node, b: &Node) -> bool {
    match mode {
        Compare::Exact => a.raw == b.raw,
        Compare::TypeOnly => a.kind == b.kind,
        Compare::Sorted => canonical(a) == canonical(b),
    }
}

/// Where two replies first differ, with some context, for long replies.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<String> {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    if a.len().max(b.len()) <= 600 {
        return None;
    }
    let from = i.saturating_sub(80);
    let window = |s: &[u8]| show(&s[from.min(s.len())..(i + 80).min(s.len())]);
    Some(format!(
        "first difference at byte {i}:\n    slotcache: ...{}\n    redis:     ...{}",
        window(a),
        window(b)
    ))
}
