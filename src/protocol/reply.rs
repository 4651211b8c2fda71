//! `Reply`: the value every command handler returns, and its RESP2/RESP3 encoding.
//! RESP3-only shapes (maps, sets, doubles, booleans, null) degrade to their RESP2 forms exactly as
//! Redis 7 does, so handlers describe a reply once and never look at the protocol version.
use super::ErrorReply;
use bytes::{BufMut, Bytes, BytesMut};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespVersion {
    Resp2,
    Resp3,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A status reply (`+text`).
    Status(&'static str),
    StatusOwned(String),
    Error(ErrorReply),
    Int(i64),
    Bulk(Bytes),
    /// A short bulk string held inline (no allocation): what `Reply::bulk` builds for up to
    /// `INLINE_BULK` bytes, the common case of GET/HGET/LINDEX replies.
    ShortBulk {
        len: u8,
        buf: [u8; INLINE_BULK],
    },
    /// Null bulk string (`$-1` in RESP2).
    Nil,
    /// Null array (`*-1` in RESP2).
    NilArray,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    /// A double: `,` in RESP3, a bulk string in RESP2.
    Double(f64),
    /// A double already formatted (Redis's addReplyHumanLongDouble): `,text` in RESP3, a bulk
    /// string in RESP2.
    DoubleText(String),
    Bool(bool),
    /// Verbatim string (`=len\r\ntxt:...` in RESP3, bulk in RESP2).
    Verbatim(Bytes),
    /// Verbatim string with its 3-byte format (a script's `verbatim_string` reply).
    VerbatimFmt([u8; 3], Bytes),
    /// Big number (`(digits` in RESP3, bulk in RESP2): a script's `big_number` reply.
    BigNumber(Bytes),
    /// Attributes (`|` in RESP3, left out in RESP2) before the reply they describe.
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
    /// Out-of-band push (`>` in RESP3, array in RESP2).
    Push(Vec<Reply>),
    /// Nothing is written (CLIENT REPLY OFF/SKIP, QUIT after its reply ...).
    NoReply,
    /// Several replies to one command, written back to back (SUBSCRIBE a b c).
    Many(Vec<Reply>),
}

/// Longest bulk string `Reply::bulk` keeps inline.
pub const INLINE_BULK: usize = 30;

impl Reply {
    /// An out-of-band push, or several of them (SUBSCRIBE's confirmations).
    pub fn is_push(&self) -> bool {
        match self {
            Reply::Push(_) => true,
            Reply::Many(v) => !v.is_empty() && v.iter().all(Reply::is_push),
            _ => false,
        }
    }
    pub fn bulk(b: &[u8]) -> Reply {
        if b.len() <= INLINE_BULK {
            let mut buf = [0u8; INLINE_BULK];
            buf[..b.len()].copy_from_slice(b);
            Reply::ShortBulk {
                len: b.len() as u8,
                buf,
            }
        } else {
            Reply::Bulk(Bytes::copy_from_slice(b))
        }
    }

    pub fn bulk_str(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn bulk_static(s: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(s.as_bytes()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the wire encoding of this reply to `out`.
    pub fn encode(&self, ver: RespVersion, out: &mut BytesMut) {
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::StatusOwned(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', e.text().as_bytes()),
            Reply::Int(i) => int_line(out, b':', *i),
            Reply::Bulk(b) => bulk(out, b),
            Reply::ShortBulk { len, buf } => bulk(out, &buf[..*len as usize]),
            Reply::Nil => out.put_slice(if ver == RespVersion::Resp3 {
                b"_\r\n"
            } else {
                b"$-1\r\n"
            }),
            Reply::NilArray => out.put_slice(if ver == RespVersion::Resp3 {
                b"_\r\n"
            } else {
                b"*-1\r\n"
            }),
            Reply::Array(items) => {
                int_line(out, b'*', items.len() as i64);
                items.iter().for_each(|r| r.encode(ver, out));
            }
            Reply::Set(items) => {
                int_line(
                    out,
                    if ver == RespVersion::Resp3 {
                        b'~'
                    } else {
                        b'*'
                    },
                    items.len() as i64,
                );
                items.iter().for_each(|r| r.encode(ver, out));
            }
            Reply::Push(items) => {
                int_line(
                    out,
                    if ver == RespVersion::Resp3 {
                        b'>'
                    } else {
                        b'*'
                    },
                    items.len() as i64,
                );
                items.iter().for_each(|r| r.encode(ver, out));
            }
            Reply::Map(pairs) => {
                if ver == RespVersion::Resp3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(ver, out);
                    v.encode(ver, out);
                }
            }
            Reply::Double(d) => {
                let s = crate::util::num::format_double_reply(*d);
                if ver == RespVersion::Resp3 {
                    line(out, b',', s.as_bytes());
                } else {
                    bulk(out, s.as_bytes());
                }
            }
            Reply::DoubleText(t) => {
                if ver == RespVersion::Resp3 {
                    line(out, b',', t.as_bytes());
                } else {
                    bulk(out, t.as_bytes());
                }
            }
            Reply::Bool(b) => match ver {
                RespVersion::Resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
                RespVersion::Resp2 => int_line(out, b':', *b as i64),
            },
            Reply::Verbatim(b) => {
                if ver == RespVersion::Resp3 {
                    int_line(out, b'=', b.len() as i64 + 4);
                    out.put_slice(b"txt:");
                    out.put_slice(b);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b);
                }
            }
            Reply::VerbatimFmt(fmt, b) => {
                if ver == RespVersion::Resp3 {
                    int_line(out, b'=', b.len() as i64 + 4);
                    out.put_slice(fmt);
                    out.put_slice(b":");
                    out.put_slice(b);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b);
                }
            }
            Reply::BigNumber(b) => {
                if ver == RespVersion::Resp3 {
                    line(out, b'(', b);
                } else {
                    bulk(out, b);
                }
            }
            Reply::NoReply => {}
            Reply::Many(items) => items.iter().for_each(|r| r.encode(ver, out)),
            Reply::Attribute(attrs, reply) => {
                if ver == RespVersion::Resp3 {
                    int_line(out, b'|', attrs.len() as i64);
                    for (k, v) in attrs {
                        k.encode(ver, out);
                        v.encode(ver, out);
                    }
                }
                reply.encode(ver, out);
            }
        }
    }
}

impl From<ErrorReply> for Reply {
    fn from(e: ErrorReply) -> Self {
        Reply::Error(e)
    }
}

fn line(out: &mut BytesMut, prefix: u8, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(prefix);
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

fn int_line(out: &mut BytesMut, prefix: u8, i: i64) {
    let buf = crate::util::num::IntStr::new(i);
    out.put_u8(prefix);
    out.put_slice(buf.as_bytes());
    out.put_slice(b"\r\n");
}

/// Writes a bulk string header, payload and CRLF.
pub fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 16);
    int_line(out, b'$', b.len() as i64);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: Reply, v: RespVersion) -> Vec<u8> {
        let mut b = BytesMut::new();
        r.encode(v, &mut b);
        b.to_vec()
    }

    #[test]
    fn resp2_degrades_resp3_shapes() {
        let m = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        assert_eq!(
            enc(m.clone(), RespVersion::Resp2),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(enc(m, RespVersion::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(Reply::Nil, RespVersion::Resp2), b"$-1\r\n");
        assert_eq!(enc(Reply::NilArray, RespVersion::Resp2), b"*-1\r\n");
        assert_eq!(enc(Reply::Nil, RespVersion::Resp3), b"_\r\n");
        assert_eq!(
            enc(Reply::Double(1.5), RespVersion::Resp2),
            b"$3\r\n1.5\r\n"
        );
        assert_eq!(enc(Reply::Double(1.5), RespVersion::Resp3), b",1.5\r\n");
        assert_eq!(
            enc(Reply::bulk(b"abc"), RespVersion::Resp2),
            b"$3\r\nabc\r\n"
        );
        assert_eq!(
            enc(Reply::bulk(&[b'x'; 40]), RespVersion::Resp2)[..5],
            b"$40\r\n"[..]
        );
        assert!(std::mem::size_of::<Reply>() <= 40);
    }
}
