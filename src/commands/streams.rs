//! Stream commands that work on entries: XADD, XRANGE/XREVRANGE, XLEN, XDEL, XTRIM, XSETID,
//! with Redis 7.0's parsing (t_stream.c: same order of checks, same lenient number parsing)
//! and replies. Also the ID parsers and entry replies the other stream files share.
//! Consumer groups are `streams_groups.rs`, XREAD/XREADGROUP `streams_read.rs`, XINFO
//! `streams_info.rs`; the type itself is `store::types::stream`.
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::notify;
use crate::store::types::stream::{Fields, NodeLimits, Stream, StreamId, Trim};
use crate::store::{CowBox, Value};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// `string2ull`: a canonical integer (refused if negative), else C's `strtoull` (leading
/// spaces, a sign, no trailing garbage, no overflow; `-` negates modulo 2^64).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::util::num::parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i == s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// An ID as `streamGenericParseIDOrReply` reads it. `strict` refuses `-` and `+`;
/// `missing_seq` completes a bare `<ms>`. With `seq_star`, `<ms>-*` is accepted and gives
/// `(id, false)` (sequence to be generated).
pub(super) fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), ErrorReply> {
    let bad = ErrorReply::stream_invalid_id;
    // Redis copies the argument into a 128-byte buffer and stops at a NUL.
    if arg.len() > 127 {
        return Err(bad());
    }
    let arg = crate::util::cstr::until_nul(arg);
    match arg {
        b"-" if !strict => return Ok((StreamId::MIN, true)),
        b"+" if !strict => return Ok((StreamId::MAX, true)),
        b"-" | b"+" => return Err(bad()),
        _ => {}
    }
    let (ms_part, seq_part) = match arg.iter().position(|&c| c == b'-') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms_part).ok_or_else(bad)?;
    match seq_part {
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, string2ull(s).ok_or_else(bad)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// A strict ID (`streamParseStrictIDOrReply`): no `-`/`+`, a bare `<ms>` means `<ms>-0`.
pub(super) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, ErrorReply> {
    parse_id_full(arg, 0, true, false).map(|r| r.0)
}

/// An ID that may be `-`/`+` (`streamParseIDOrReply`).
pub(super) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, ErrorReply> {
    parse_id_full(arg, missing_seq, false, false).map(|r| r.0)
}

/// A range bound (`streamParseIntervalIDOrReply`): `(` makes it exclusive, then the ID is
/// moved one step inwards (`start`: up, else down), with Redis's errors past the ends.
pub(super) fn parse_bound(arg: &[u8], start: bool) -> Result<StreamId, ErrorReply> {
    let missing = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], missing, true, false)?.0;
        if start {
            id.next().ok_or_else(ErrorReply::stream_bad_start)
        } else {
            id.prev().ok_or_else(ErrorReply::stream_bad_end)
        }
    } else {
        parse_id(arg, missing)
    }
}

pub(super) fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// One entry as Redis sends it: `[id, [field, value, ...]]`.
pub(super) fn entry_reply(id: StreamId, fields: Fields) -> Reply {
    let mut fv = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        fv.push(Reply::Bulk(f));
        fv.push(Reply::Bulk(v));
    }
    Reply::Array(vec![id_reply(id), Reply::Array(fv)])
}

pub(super) fn entries_reply(entries: Vec<(StreamId, Fields)>) -> Reply {
    Reply::Array(
        entries
            .into_iter()
            .map(|(id, f)| entry_reply(id, f))
            .collect(),
    )
}

pub(super) fn node_limits(ctx: &Ctx) -> NodeLimits {
    let c = ctx.shared.config();
    NodeLimits {
        max_bytes: c.hot.stream_node_max_bytes,
        max_entries: c.hot.stream_node_max_entries,
    }
}

/// The stream at `key` for a read; WRONGTYPE for another type.
pub(super) fn read_stream<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut Stream>, ErrorReply> {
    match ctx.read_value(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// The stream at `key` for a write; WRONGTYPE for another type.
pub(super) fn write_stream<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut Stream>, ErrorReply> {
    match ctx.write_value(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// XADD/XTRIM options (`streamAddTrimArgs`).
#[derive(Default)]
struct TrimArgs {
    rule: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Index of the MAXLEN/MINID value (the `~`/`=` is just before it when given).
    value_idx: usize,
    has_marker: bool,
    no_mkstream: bool,
    /// XADD's ID (None: `*`) and whether its sequence was given.
    id: Option<(StreamId, bool)>,
    id_idx: usize,
}

/// `streamParseAddOrTrimArgsOrReply`, in Redis's order of checks.
fn parse_trim_args(ctx: &Ctx, a: &[Bytes], xadd: bool) -> Result<TrimArgs, ErrorReply> {
    let mut t = TrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (is(opt, "MAXLEN") || is(opt, "MINID")) && more > 0 {
            if t.rule.is_some() {
                return Err(ErrorReply::stream_maxlen_minid());
            }
            t.approx = false;
            t.has_marker = false;
            let next = a[i + 1].as_ref();
            if more >= 2 && (next == b"~" || next == b"=") {
                t.approx = next == b"~";
                t.has_marker = true;
                i += 1;
            }
            if is(opt, "MAXLEN") {
                let n = int_arg(&a[i + 1])?;
                if n < 0 {
                    return Err(ErrorReply::stream_maxlen_negative());
                }
                t.rule = Some(Trim::MaxLen(n as u64));
            } else {
                t.rule = Some(Trim::MinId(parse_strict_id(&a[i + 1])?));
            }
            i += 1;
            t.value_idx = i;
        } else if is(opt, "LIMIT") && more > 0 {
            let n = int_arg(&a[i + 1])?;
            if n < 0 {
                return Err(ErrorReply::stream_limit_negative());
            }
            t.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "NOMKSTREAM") {
            t.no_mkstream = true;
        } else if xadd {
            t.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 1;
    }
    t.id_idx = i;
    if t.limit > 0 && t.rule.is_none() {
        return Err(ErrorReply::stream_limit_without_strategy());
    }
    if !xadd && t.rule.is_none() {
        return Err(ErrorReply::stream_xtrim_needs_strategy());
    }
    if ctx.client.primary_link {
        // The primary rewrote the trim to be exact: never cap it here.
        t.limit = 0;
    } else if limit_given {
        if !t.approx {
            return Err(ErrorReply::stream_limit_without_approx());
        }
    } else if t.approx {
        let lim = 100u64.saturating_mul(ctx.shared.config().hot.stream_node_max_entries as u64);
        t.limit = if lim == 0 { 10000 } else { lim.min(1_000_000) };
    } else {
        t.limit = 0;
    }
    Ok(t)
}

/// What replicas get for an approximate trim: `=` and the length (or first ID) it left, so
/// they trim exactly as much (`streamRewriteTrimArgument`).
fn rewrite_trim(args: &mut [Bytes], t: &TrimArgs, s: &Stream) {
    if !t.approx {
        return;
    }
    args[t.value_idx - 1] = Bytes::from_static(b"=");
    args[t.value_idx] = match t.rule {
        Some(Trim::MaxLen(_)) => Bytes::from(s.length.to_string()),
        _ => s.edge_id(true).unwrap_or(StreamId::MIN).to_bytes(),
    };
}

/// The ID XADD gives the entry (`streamAppendItem`), or its error.
fn next_id(
    s: &Stream,
    given: Option<(StreamId, bool)>,
    now_ms: u64,
) -> Result<StreamId, ErrorReply> {
    let id = match given {
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    // Redis fails here without setting errno, so it reports this.
                    return Err(ErrorReply::stream_too_large());
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            } else {
                id
            }
        }
        None => {
            if now_ms > s.last_id.ms {
                StreamId::new(now_ms, 0)
            } else {
                s.last_id
                    .next()
                    .ok_or_else(ErrorReply::stream_id_too_small)?
            }
        }
    };
    if id > s.last_id {
        Ok(id)
    } else {
        Err(ErrorReply::stream_id_too_small())
    }
}

pub fn xadd(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let t = parse_trim_args(ctx, a, true)?;
    let field_pos = t.id_idx + 1;
    if a.len() < field_pos + 2 || (a.len() - field_pos) % 2 == 1 {
        return Err(ErrorReply::wrong_arity("xadd"));
    }
    if let Some((id, true)) = t.id {
        if id.is_zero() {
            return Err(ErrorReply::stream_id_zero());
        }
    }
    let key = &a[1];
    let lim = node_limits(ctx);
    let now = ctx.now_ms;
    let created = match write_stream(ctx, key)? {
        Some(_) => false,
        None if t.no_mkstream => return Ok(Reply::Nil),
        None => true,
    };
    if created {
        ctx.put_value(key, Value::Stream(CowBox::new(Stream::default())));
    }
    let s = write_stream(ctx, key)?.expect("stream present");
    if s.last_id == StreamId::MAX {
        return Err(ErrorReply::stream_exhausted());
    }
    let id = next_id(s, t.id, now)?;
    s.append(id, &a[field_pos..], lim);
    let mut trimmed = 0;
    if let Some(rule) = t.rule {
        trimmed = s.trim(rule, t.approx, t.limit);
    }
    let mut prop = a.to_vec();
    if t.rule.is_some() {
        rewrite_trim(&mut prop, &t, s);
    }
    if !matches!(t.id, Some((_, true))) {
        prop[t.id_idx] = id.to_bytes();
    }
    ctx.modified(key);
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    ctx.propagate_as(prop);
    Ok(id_reply(id))
}

fn range(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> R {
    let (sarg, earg) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
    let start = parse_bound(sarg, true)?;
    let end = parse_bound(earg, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < a.len() {
        if is(&a[j], "COUNT") && j + 1 < a.len() {
            count = int_arg(&a[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(ErrorReply::syntax());
        }
    }
    let Some(s) = read_stream(ctx, &a[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    if count == 0 {
        return Ok(Reply::NilArray);
    }
    let n = if count < 0 { 0 } else { count as usize };
    Ok(entries_reply(s.range(start, end, n, rev)))
}

pub fn xrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range(ctx, a, false)
}

pub fn xrevrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range(ctx, a, true)
}

pub fn xlen(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Int(
        read_stream(ctx, &a[1])?.map_or(0, |s| s.len() as i64),
    ))
}

pub fn xdel(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let key = &a[1];
    if write_stream(ctx, key)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let ids = a[2..]
        .iter()
        .map(|x| parse_strict_id(x))
        .collect::<Result<Vec<_>, _>>()?;
    let s = write_stream(ctx, key)?.expect("stream present");
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        ctx.modified(key);
        ctx.store.dirty += deleted as u64 - 1;
        ctx.notify(notify::STREAM, "xdel", key);
    }
    Ok(Reply::Int(deleted as i64))
}

pub fn xtrim(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let t = parse_trim_args(ctx, a, false)?;
    let key = &a[1];
    let Some(s) = write_stream(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let deleted = s.trim(t.rule.expect("strategy checked"), t.approx, t.limit);
    if deleted > 0 {
        let mut prop = a.to_vec();
        rewrite_trim(&mut prop, &t, s);
        ctx.modified(key);
        ctx.store.dirty += deleted - 1;
        ctx.notify(notify::STREAM, "xtrim", key);
        ctx.propagate_as(prop);
    }
    Ok(Reply::Int(deleted as i64))
}

pub fn xsetid(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let id = parse_strict_id(&a[2])?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if is(&a[i], "ENTRIESADDED") && more > 0 {
            let n = int_arg(&a[i + 1])?;
            if n < 0 {
                return Err(ErrorReply::stream_entries_added());
            }
            entries_added = Some(n as u64);
        } else if is(&a[i], "MAXDELETEDID") && more > 0 {
            max_deleted = parse_strict_id(&a[i + 1])?;
            if id < max_deleted {
                return Err(ErrorReply::stream_setid_below_max_deleted());
            }
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 2;
    }
    let key = &a[1];
    let Some(s) = write_stream(ctx, key)? else {
        return Err(ErrorReply::no_such_key());
    };
    if s.length > 0 {
        if s.edge_id(false).is_some_and(|top| id < top) {
            return Err(ErrorReply::stream_setid_below_top());
        }
        if entries_added.is_some_and(|n| s.length > n) {
            return Err(ErrorReply::stream_setid_below_length());
        }
    }
    s.drop_tombstone_nodes();
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted = max_deleted;
    }
    ctx.modified(key);
    ctx.notify(notify::STREAM, "xsetid", key);
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        let p = |s: &str| parse_id(s.as_bytes(), 0).ok();
        assert_eq!(p("5"), Some(StreamId::new(5, 0)));
        assert_eq!(p("5-3"), Some(StreamId::new(5, 3)));
        assert_eq!(p(" 13"), Some(StreamId::new(13, 0)));
        assert_eq!(p("+14"), Some(StreamId::new(14, 0)));
        assert_eq!(p("16-01"), Some(StreamId::new(16, 1)));
        assert_eq!(p("-"), Some(StreamId::MIN));
        assert_eq!(p("+"), Some(StreamId::MAX));
        assert_eq!(p("-5"), None);
        assert_eq!(p("5 "), None);
        assert_eq!(p("1-2-3"), None);
        assert_eq!(p("18446744073709551616"), None);
        assert!(parse_strict_id(b"-").is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true).unwrap(),
            (StreamId::new(7, 0), false)
        );
        assert!(parse_strict_id(b"7-*").is_err());
        assert_eq!(parse_bound(b"(5", true).unwrap(), StreamId::new(5, 1));
        assert_eq!(
            parse_bound(b"5", false).unwrap(),
            StreamId::new(5, u64::MAX)
        );
        assert!(parse_bound(b"(0-0", false).is_err());
    }
}
