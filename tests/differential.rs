//! Differential suite: every command line of `tests/diff/*.txt` is sent, RESP-encoded over a raw
//! socket, to one slotcache and to one real redis-server 7.0, and the raw reply bytes are
//! compared. Mismatches are collected (file:line, command, both replies) and reported together.
//!
//! Script format (one command per line, as redis-cli splits it):
//! - `#` starts a comment line; blank lines are skipped.
//! - Arguments are separated by spaces; `"..."` takes `\\ \" \n \r \t \b \a \xHH` escapes and
//!   `'...'` takes `\'`.
//! - A line may start with a directive for replies that legitimately differ between two Redis
//!   servers: `!sort ` compares the elements of the aggregate reply as a sorted multiset
//!   (KEYS), `!type ` compares only the reply's type byte (TIME, CLIENT ID, SCAN cursors, ...).
//!
//! Each file runs on fresh connections (DB 0, RESP2) after a FLUSHALL, so files are independent.
//! Replies are read by parsing exactly one complete RESP2/RESP3 value: nothing depends on timing;
//! the socket timeout only keeps a hung server from hanging the suite.
//! `DIFF_FILE=<stem>` runs one file only.
mod common;
use common::{resp, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

/// One parsed reply: its exact bytes, its type byte, and (for aggregates) its elements.
#[derive(Debug)]
struct Node {
    raw: Vec<u8>,
    kind: u8,
    children: Vec<Node>,
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Reads one CRLF-terminated line (with the CRLF) into `raw`, returning it without the CRLF.
fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
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

fn parse_len(b: &[u8]) -> std::io::Result<i64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad length {}", show(b))))
}

/// Reads exactly one RESP2/RESP3 reply.
fn read_reply(r: &mut impl BufRead) -> std::io::Result<Node> {
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
fn show(b: &[u8]) -> String {
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

/// Splits a line like redis-cli's `sdssplitargs`. None on unbalanced quotes.
fn split_args(line: &str) -> Option<Vec<Vec<u8>>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                let c = *b.get(i)?;
                if c == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    if let Some(h) = hex {
                        cur.push(h);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < b.len() {
                    i += 1;
                    cur.push(match b[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if insq {
                let c = *b.get(i)?;
                if c == b'\\' && b.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match b.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') if cur.is_empty() => inq = true,
                    Some(b'\'') if cur.is_empty() => insq = true,
                    Some(&c) => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Compare {
    Exact,
    Sorted,
    TypeOnly,
}

/// A connection to one server with a buffered reader on its socket.
struct Conn {
    port: u16,
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(common::DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            port,
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    fn call(&mut self, args: &[Vec<u8>]) -> Result<Node, String> {
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
fn canonical(n: &Node) -> Vec<u8> {
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

fn same(mode: Compare, a: &Node, b: &Node) -> bool {
    match mode {
        Compare::Exact => a.raw == b.raw,
        Compare::TypeOnly => a.kind == b.kind,
        Compare::Sorted => canonical(a) == canonical(b),
    }
}

/// Where two replies first differ, with some context, for long replies.
fn first_difference(a: &[u8], b: &[u8]) -> Option<String> {
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

struct Mismatch {
    at: String,
    cmd: String,
    mode: Compare,
    ours: String,
    redis: String,
    diff: Option<String>,
}

fn run_file(path: &Path, ours: &Server, redis: &Server, out: &mut Vec<Mismatch>) -> usize {
    let text = std::fs::read_to_string(path).expect("read script");
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let (mut a, mut b) = (Conn::open(ours.port), Conn::open(redis.port));
    let flush = vec![b"FLUSHALL".to_vec()];
    a.call(&flush).expect("FLUSHALL slotcache");
    b.call(&flush).expect("FLUSHALL redis");
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let mut l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut mode = Compare::Exact;
        if let Some(rest) = l.strip_prefix("!sort ") {
            (mode, l) = (Compare::Sorted, rest);
        } else if let Some(rest) = l.strip_prefix("!type ") {
            (mode, l) = (Compare::TypeOnly, rest);
        }
        let at = format!("{name}:{}", i + 1);
        let args = split_args(l).unwrap_or_else(|| panic!("{at}: unbalanced quotes"));
        assert!(!args.is_empty(), "{at}: no command");
        count += 1;
        let (ra, rb) = (a.call(&args), b.call(&args));
        let ok = match (&ra, &rb) {
            (Ok(x), Ok(y)) => same(mode, x, y),
            _ => false,
        };
        if !ok {
            let text = |r: &Result<Node, String>| match r {
                Ok(n) => show(&n.raw),
                Err(e) => e.clone(),
            };
            let diff = match (&ra, &rb) {
                (Ok(x), Ok(y)) => first_difference(&x.raw, &y.raw),
                _ => None,
            };
            out.push(Mismatch {
                at,
                cmd: l.to_string(),
                mode,
                ours: text(&ra),
                redis: text(&rb),
                diff,
            });
        }
    }
    count
}

fn script_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff");
    let only = std::env::var("DIFF_FILE").ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/diff")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .filter(|p| {
            only.as_deref()
                .map_or(true, |o| p.file_stem().is_some_and(|s| s == o))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn replies_match_redis() {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut mismatches = Vec::new();
    let mut total = 0;
    let files = script_files();
    assert!(!files.is_empty(), "no scripts in tests/diff");
    for f in &files {
        total += run_file(f, &ours, &redis, &mut mismatches);
    }
    if !mismatches.is_empty() {
        let mut report = format!(
            "{} of {} commands differ from redis-server:\n",
            mismatches.len(),
            total
        );
        for m in &mismatches {
            report.push_str(&format!(
                "\n{}: {}{}\n  slotcache: {}\n  redis:     {}\n",
                m.at,
                m.cmd,
                if m.mode == Compare::Exact {
                    String::new()
                } else {
                    format!("  [{:?}]", m.mode)
                },
                m.ours,
                m.redis
            ));
            if let Some(d) = &m.diff {
                report.push_str(&format!("  {d}\n"));
            }
        }
        panic!("{report}");
    }
    eprintln!(
        "{total} commands in {} files: all replies identical",
        files.len()
    );
}

#[cfg(test)]
mod harness_tests {
    use super::*;

    #[test]
    fn splits_like_redis_cli() {
        let v = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            split_args(r#"SET k "a b" 'c d'"#).unwrap(),
            v(&["SET", "k", "a b", "c d"])
        );
        assert_eq!(
            split_args(r#"SET k "\x00\xff\n\"""#).unwrap(),
            vec![b"SET".to_vec(), b"k".to_vec(), vec![0, 255, b'\n', b'"']]
        );
        assert_eq!(
            split_args(r#"SET k """#).unwrap(),
            vec![b"SET".to_vec(), b"k".to_vec(), vec![]]
        );
        assert!(split_args(r#"SET "k"x"#).is_none());
        assert!(split_args(r#"SET "k"#).is_none());
    }

    #[test]
    fn reads_one_reply_of_each_type() {
        let input =
            b"*2\r\n$3\r\nfoo\r\n%1\r\n+a\r\n:1\r\n_\r\n,1.5\r\n|1\r\n+k\r\n+v\r\n#t\r\n$-1\r\n"
                .to_vec();
        let mut r = BufReader::new(&input[..]);
        let n = read_reply(&mut r).unwrap();
        assert_eq!(n.kind, b'*');
        assert_eq!(n.children.len(), 2);
        assert_eq!(read_reply(&mut r).unwrap().raw, b"_\r\n");
        assert_eq!(read_reply(&mut r).unwrap().raw, b",1.5\r\n");
        assert_eq!(read_reply(&mut r).unwrap().kind, b'#');
        assert_eq!(read_reply(&mut r).unwrap().raw, b"$-1\r\n");
    }
}
