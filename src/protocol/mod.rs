//! The client wire protocol: RESP2/RESP3 request parsing (including inline commands), the
//! `Reply` value every handler returns, and `ErrorReply`, the only place error text lives.
//! No I/O here: the server feeds bytes in and writes the encoded bytes out.
pub mod errors;
pub mod inline;
pub use inline::split_args as inline_args;
pub mod parser;
pub mod reply;

pub use errors::ErrorReply;
pub use parser::{ParseError, ParseLimits, RequestParser};
pub use reply::{Reply, RespVersion};

/// Appends a request (a RESP array of bulk strings) to `out`: what this server sends when it
/// is the client (MIGRATE, cluster formation).
pub fn encode_request(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
