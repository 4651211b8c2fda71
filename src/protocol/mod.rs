//! The client wire protocol: RESP2/RESP3 request parsing (including inline commands), the
//! `Reply` value every handler returns, and `ErrorReply`, the only place error text lives.
//! No I/O here: the server feeds bytes in and writes the encoded bytes out.
pub mod errors;
mod inline;
pub use inline::split_args as inline_args;
pub mod parser;
pub mod reply;

pub use errors::ErrorReply;
pub use parser::{ParseError, ParseLimits, RequestParser};
pub use reply::{Reply, RespVersion};
