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
use common::wire::{first_difference, read_reply, same, show, Compare, Conn, Node};
use common::Server;
use std::io::BufReader;
use std::path::{Path, PathBuf};

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
