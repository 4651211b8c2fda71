//! The resumable request parser: multibulk (`*N\r\n$len\r\n...`) and inline requests, with
//! Redis's limits and exact protocol-error texts. It keeps its position between reads, so a
//! large bulk trickling in is never re-scanned, and it never allocates from a declared length:
//! argument storage grows only with bytes that have arrived.
//!
//! Like Redis, the two bytes after a bulk payload are skipped without being checked
//! (`*1\r\n$4\r\nPINGXX\r\n` answers +PONG).
use super::{inline, ErrorReply};
use bytes::{Buf, Bytes, BytesMut};

/// `PROTO_INLINE_MAX_SIZE`: the longest inline request or count line.
pub const INLINE_MAX: usize = 64 * 1024;
/// Before AUTH: at most this many arguments ...
pub const UNAUTH_MAX_ARGS: i64 = 10;
/// ... and bulk strings of at most this length.
pub const UNAUTH_MAX_BULK: i64 = 16384;

#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// proto-max-bulk-len
    pub max_bulk: i64,
    pub authenticated: bool,
}

/// A protocol error: the server replies with the error and closes the connection.
pub type ParseError = ErrorReply;

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// Inside a multibulk: `remaining` arguments still to read.
    Args { remaining: usize },
    /// Waiting for a bulk payload of `len` bytes (+ CRLF).
    Payload { remaining: usize, len: usize },
}

#[derive(Debug, Default)]
pub struct RequestParser {
    state: State,
    args: Vec<Bytes>,
}

fn find(buf: &[u8], c: u8) -> Option<usize> {
    buf.iter().position(|&b| b == c)
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when part of a request has been consumed and the rest is awaited.
    pub fn in_request(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Takes the next complete request out of `buf`. `Ok(None)`: more bytes are needed.
    /// Empty requests (`*0`, `*-1`, blank lines) are consumed and skipped.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        lim: &ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        loop {
            match self.state {
                State::Idle => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    if buf[0] == b'*' {
                        let Some(n) = self.count_line(buf, b'*', lim)? else {
                            return Ok(None);
                        };
                        if n > 0 {
                            self.args = Vec::with_capacity((n as usize).min(1024));
                            self.state = State::Args {
                                remaining: n as usize,
                            };
                        }
                    } else if let Some(args) = Self::inline(buf)? {
                        if !args.is_empty() {
                            return Ok(Some(args));
                        }
                    } else {
                        return Ok(None);
                    }
                }
                State::Args { remaining: 0 } => {
                    self.state = State::Idle;
                    return Ok(Some(std::mem::take(&mut self.args)));
                }
                State::Args { remaining } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let Some(len) = self.count_line(buf, b'$', lim)? else {
                        return Ok(None);
                    };
                    self.state = State::Payload {
                        remaining,
                        len: len as usize,
                    };
                }
                State::Payload { remaining, len } => {
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    buf.advance(2);
                    self.args.push(arg);
                    self.state = State::Args {
                        remaining: remaining - 1,
                    };
                }
            }
        }
    }

    /// Parses a `*N` or `$N` line. `None` when the CRLF has not arrived yet.
    fn count_line(
        &mut self,
        buf: &mut BytesMut,
        kind: u8,
        lim: &ParseLimits,
    ) -> Result<Option<i64>, ParseError> {
        let Some(cr) = find(buf, b'\r') else {
            if buf.len() > INLINE_MAX {
                return Err(ErrorReply::protocol(if kind == b'*' {
                    "too big mbulk count string"
                } else {
                    "too big bulk count string"
                }));
            }
            return Ok(None);
        };
        if cr + 1 >= buf.len() {
            return Ok(None); // the '\n' has not arrived
        }
        if kind == b'$' && buf[0] != b'$' {
            return Err(ErrorReply::protocol_expected_dollar(buf[0]));
        }
        let n = crate::util::num::parse_i64(&buf[1..cr]);
        let n = if kind == b'*' {
            match n {
                Some(n) if n <= i32::MAX as i64 => n,
                _ => return Err(ErrorReply::protocol("invalid multibulk length")),
            }
        } else {
            match n {
                Some(n) if n >= 0 && n <= lim.max_bulk => n,
                _ => return Err(ErrorReply::protocol("invalid bulk length")),
            }
        };
        if !lim.authenticated {
            if kind == b'*' && n > UNAUTH_MAX_ARGS {
                return Err(ErrorReply::protocol("unauthenticated multibulk length"));
            }
            if kind == b'$' && n > UNAUTH_MAX_BULK {
                return Err(ErrorReply::protocol("unauthenticated bulk length"));
            }
        }
        buf.advance(cr + 2);
        Ok(Some(n))
    }

    fn inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        let Some(nl) = find(buf, b'\n') else {
            if buf.len() > INLINE_MAX {
                return Err(ErrorReply::protocol("too big inline request"));
            }
            return Ok(None);
        };
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let args = inline::split_args(&buf[..end])?;
        buf.advance(nl + 1);
        Ok(Some(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: ParseLimits = ParseLimits {
        max_bulk: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<String>) {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        loop {
            match p.next(&mut buf, &LIM) {
                Ok(Some(a)) => out.push(a),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.text().to_string())),
            }
        }
    }

    #[test]
    fn pipelined_multibulk_and_inline() {
        let (cmds, err) =
            all(b"*1\r\n$4\r\nPING\r\nPING\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n\r\n*0\r\n*-10\r\n");
        assert!(err.is_none());
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[2][1], Bytes::from("k"));
    }

    #[test]
    fn byte_at_a_time_is_resumable() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(a) = p.next(&mut buf, &LIM).unwrap() {
                got = Some(a);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
    }

    #[test]
    fn protocol_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"*3000000000\r\n", "invalid multibulk length"),
            (b"*abc\r\n", "invalid multibulk length"),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
                "expected '$', got 'f'",
            ),
            (b"*1\r\n$-1\r\n", "invalid bulk length"),
            (b"*1\r\n$2000000000\r\n", "invalid bulk length"),
            (b"*1\r\n$+4\r\n", "invalid bulk length"),
            (b"set \"\"\"k\"\"\" v\r\n", "unbalanced quotes in request"),
        ];
        for (input, msg) in cases {
            let (_, err) = all(input);
            assert_eq!(
                err.unwrap(),
                format!("ERR Protocol error: {msg}"),
                "{:?}",
                input
            );
        }
        let big = vec![b'A'; 70000];
        assert_eq!(
            all(&big).1.unwrap(),
            "ERR Protocol error: too big inline request"
        );
        let mut count = b"*".to_vec();
        count.extend(vec![b'1'; 70000]);
        assert_eq!(
            all(&count).1.unwrap(),
            "ERR Protocol error: too big mbulk count string"
        );
    }

    #[test]
    fn bulk_trailer_is_not_checked() {
        let (cmds, err) = all(b"*1\r\n$4\r\nPINGXX\r\n");
        assert!(err.is_none());
        assert_eq!(cmds[0][0], Bytes::from("PING"));
    }

    #[test]
    fn unauthenticated_limits() {
        let lim = ParseLimits {
            authenticated: false,
            ..LIM
        };
        let mut p = RequestParser::new();
        let mut b = BytesMut::from(&b"*11\r\n"[..]);
        assert!(p
            .next(&mut b, &lim)
            .unwrap_err()
            .text()
            .ends_with("unauthenticated multibulk length"));
        let mut p = RequestParser::new();
        let mut b = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$16385\r\n"[..]);
        assert!(p
            .next(&mut b, &lim)
            .unwrap_err()
            .text()
            .ends_with("unauthenticated bulk length"));
    }

    /// The parser's fuzz target: random byte mutations of valid pipelines (multibulk and
    /// inline), fed whole and in random pieces. It must never panic, never return a request
    /// with more arguments than it declared, and give the same requests and error whichever
    /// way the bytes arrive (it is resumable at every byte). FUZZ_PARSER_CASES raises the
    /// number of cases (default 3000).
    #[test]
    fn fuzz_mutated_pipelines() {
        let cases: u64 = std::env::var("FUZZ_PARSER_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        let seeds: &[&[u8]] = &[
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"GET \"a b\" 'c\\'d'\r\n",
            b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
            b"\r\n\n*0\r\n*-1\r\n",
            b"SET k \"\\x41\\n\"\r\n",
        ];
        let interesting: &[u8] = b"*$\r\n-+0123456789\"'\\ x";
        for _ in 0..cases {
            let mut input = Vec::new();
            for _ in 0..1 + rnd(4) {
                input.extend_from_slice(seeds[rnd(seeds.len())]);
            }
            for _ in 0..rnd(4) {
                let at = rnd(input.len() + 1);
                match rnd(3) {
                    0 if at < input.len() => input[at] = interesting[rnd(interesting.len())],
                    1 => input.insert(at, interesting[rnd(interesting.len())]),
                    _ if at < input.len() => {
                        input.remove(at);
                    }
                    _ => {}
                }
            }
            let whole = all(&input);
            // The same bytes in random pieces.
            let mut p = RequestParser::new();
            let mut buf = BytesMut::new();
            let (mut got, mut err) = (vec![], None);
            let mut i = 0;
            while i < input.len() && err.is_none() {
                let n = 1 + rnd(8);
                buf.extend_from_slice(&input[i..(i + n).min(input.len())]);
                i += n;
                loop {
                    match p.next(&mut buf, &LIM) {
                        Ok(Some(a)) => {
                            assert!(!a.is_empty(), "{input:?}");
                            got.push(a);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            err = Some(e.text().to_string());
                            break;
                        }
                    }
                }
            }
            assert_eq!(
                (got, err),
                whole,
                "input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
