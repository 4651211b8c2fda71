//! List commands: LPUSH/RPUSH(X), LPOP/RPOP [count], LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM,
//! LTRIM, LPOS, LMOVE/RPOPLPUSH, LMPOP. Replies, errors and the order of checks (arguments
//! parsed before or after the key lookup) follow Redis 7.0's t_list.c, verified against
//! redis-server 7.0.15 (tests/diff/lists.txt). Two 7.0 quirks kept on purpose: LPOS
//! `RANK -9223372036854775808` is no error (Redis negates it with wrap-around and then counts every
//! match), and LREM with that count removes all matches from the tail.
//!
//! For the blocking commands (commands/blocking.rs) the pop and move logic is in key-taking
//! functions that return what they popped and never reply themselves: `list_pop`,
//! `list_pop_first`, `list_move`, plus the argument parsers `parse_list_end` and
//! `parse_lmpop`. Every write goes through `ctx.modified` (which wakes blocked clients) and
//! raises Redis's keyspace events in Redis's order (the command's event, then `del` when a
//! list empties; LMOVE: the destination's push event before the source's pop event).
use super::{int_arg, parse_mpop, Ctx, MpopArgs};
use crate::protocol::{ErrorReply, Reply};
use crate::store::types::list::{ChunkLimit, End, List, Needle};
use crate::store::{notify, Value};
use crate::util::cstr::keyword_eq as is;
use crate::util::num::parse_i64;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

// --- Shared helpers ---------------------------------------------------------------------------

fn limit(ctx: &Ctx) -> ChunkLimit {
    ChunkLimit::from_fill(ctx.shared.config().hot.list_max_listpack_size)
}

/// The list at `key` for a read command (hit/miss counted); WRONGTYPE for other types.
fn read_list<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut List>, ErrorReply> {
    match ctx.read_value(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// The list at `key` for a write command; WRONGTYPE for other types.
fn write_list<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut List>, ErrorReply> {
    match ctx.write_value(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// Stores a new (non-empty) list at `key`: the only place a list key is created.
fn create_list(ctx: &mut Ctx, key: &[u8], list: List) {
    ctx.put_value(key, Value::List(crate::store::CowBox::new(list)));
}

/// A write to the list at `key` that left it non-empty: marks it modified and raises the
/// list event `event` (keyspace notifications).
fn written(ctx: &mut Ctx, key: &[u8], event: &'static str) {
    ctx.modified(key);
    ctx.notify(notify::LIST, event, key);
}

/// After elements were removed from the list at `key`: raises `event`, then deletes the key
/// with a `del` event if the list is now empty (Redis never keeps an empty list).
fn removed_from(ctx: &mut Ctx, key: &[u8], event: &'static str, now_empty: bool) {
    if now_empty {
        ctx.notify(notify::LIST, event, key);
        ctx.delete_key(key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        written(ctx, key, event);
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// LEFT / RIGHT (Redis's getListPositionFromObjectOrReply).
pub(crate) fn parse_list_end(arg: &[u8]) -> Result<End, ErrorReply> {
    if is(arg, "right") {
        Ok(End::Right)
    } else if is(arg, "left") {
        Ok(End::Left)
    } else {
        Err(ErrorReply::syntax())
    }
}

/// A non-negative integer argument; `err` for non-integers and negatives alike (Redis's
/// getPositiveLongFromObjectOrReply with a message).
fn non_negative(arg: &[u8], err: fn() -> ErrorReply) -> Result<i64, ErrorReply> {
    parse_i64(arg).filter(|&v| v >= 0).ok_or_else(err)
}

/// Resolves LRANGE/LTRIM-style `start`/`end` against `len`: the inclusive range, or None when
/// empty. No overflow for any i64 pair.
fn clamp_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// Resolves a possibly negative element index; None when out of range.
fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn bulks(v: Vec<Bytes>) -> Reply {
    Reply::Array(v.into_iter().map(Reply::Bulk).collect())
}

// --- Pop / move cores (shared with the blocking commands) ---------------------------------------

/// Pops up to `count` (>= 1) elements from `end` of the list at `key`, in pop order; the key is
/// deleted when emptied. `Ok(None)` when the key does not exist.
pub(crate) fn list_pop(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Bytes>>, ErrorReply> {
    let Some(l) = write_list(ctx, key)? else {
        return Ok(None);
    };
    let popped = l.pop_many(end, count);
    let empty = l.is_empty();
    removed_from(ctx, key, pop_event(end), empty);
    Ok(Some(popped))
}

/// Pops up to `count` elements from the first existing list among `keys` (LMPOP, and BLPOP /
/// BRPOP / BLMPOP when they find data): the key and its elements, `Ok(None)` when no key
/// exists. A non-list key met before any list is WRONGTYPE.
pub(crate) fn list_pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Result<Option<(Bytes, Vec<Bytes>)>, ErrorReply> {
    for key in keys {
        if let Some(v) = list_pop(ctx, key, end, count)? {
            return Ok(Some((key.clone(), v)));
        }
    }
    Ok(None)
}

/// LMOVE's core: pops from `from` of `src` and pushes to `to` of `dst` (created if missing),
/// returning the element; `Ok(None)` when `src` does not exist. A non-list `src` or `dst` is
/// WRONGTYPE with nothing changed. `src == dst` rotates the list.
pub(crate) fn list_move(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Bytes>, ErrorReply> {
    let limit = limit(ctx);
    if write_list(ctx, src)?.is_none() {
        return Ok(None);
    }
    let dst_exists = write_list(ctx, dst)?.is_some();
    let l = write_list(ctx, src)?.expect("checked above");
    let e = l.pop(from).expect("lists in the keyspace are never empty");
    if src == dst {
        l.push(to, &e, limit);
        written(ctx, dst, push_event(to));
        ctx.notify(notify::LIST, pop_event(from), src);
        return Ok(Some(e));
    }
    let empty = l.is_empty();
    if dst_exists {
        write_list(ctx, dst)?
            .expect("checked above")
            .push(to, &e, limit);
        written(ctx, dst, push_event(to));
    } else {
        let mut l = List::new();
        l.push(to, &e, limit);
        create_list(ctx, dst, l);
        ctx.notify(notify::LIST, push_event(to), dst);
    }
    removed_from(ctx, src, pop_event(from), empty);
    Ok(Some(e))
}

/// Parses LMPOP / BLMPOP arguments from `a[numkeys_idx]` (1 for LMPOP, 2 for BLMPOP).
pub(crate) fn parse_lmpop(
    a: &[Bytes],
    numkeys_idx: usize,
) -> Result<MpopArgs<'_, End>, ErrorReply> {
    parse_mpop(a, numkeys_idx, |w| parse_list_end(w).ok())
}

// --- Push ----------------------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, a: &[Bytes], end: End, only_existing: bool) -> R {
    let (key, elems) = (&a[1], &a[2..]);
    let limit = limit(ctx);
    if let Some(l) = write_list(ctx, key)? {
        l.push_all(end, elems, limit);
        let len = l.len();
        written(ctx, key, push_event(end));
        return Ok(Reply::Int(len as i64));
    }
    if only_existing {
        return Ok(Reply::Int(0));
    }
    let mut l = List::new();
    l.push_all(end, elems, limit);
    let len = l.len();
    create_list(ctx, key, l);
    ctx.notify(notify::LIST, push_event(end), key);
    Ok(Reply::Int(len as i64))
}

pub fn lpush(ctx: &mut Ctx, a: &[Bytes]) -> R {
    push_generic(ctx, a, End::Left, false)
}

pub fn rpush(ctx: &mut Ctx, a: &[Bytes]) -> R {
    push_generic(ctx, a, End::Right, false)
}

pub fn lpushx(ctx: &mut Ctx, a: &[Bytes]) -> R {
    push_generic(ctx, a, End::Left, true)
}

pub fn rpushx(ctx: &mut Ctx, a: &[Bytes]) -> R {
    push_generic(ctx, a, End::Right, true)
}

// --- Pop -----------------------------------------------------------------------------------------

/// LPOP/RPOP key [count]: without count a bulk (nil if missing); with count an array (null
/// array if missing, empty for count 0 on an existing list).
fn pop_generic(ctx: &mut Ctx, a: &[Bytes], end: End, name: &str) -> R {
    if a.len() > 3 {
        return Err(ErrorReply::wrong_arity(name));
    }
    let key = &a[1];
    let Some(count) = a.get(2) else {
        let popped = list_pop(ctx, key, end, 1)?;
        return Ok(popped
            .and_then(|mut v| v.pop())
            .map_or(Reply::Nil, Reply::Bulk));
    };
    let count = non_negative(count, ErrorReply::value_out_of_range_must_be_positive)?;
    if count == 0 {
        return Ok(match write_list(ctx, key)? {
            None => Reply::NilArray,
            Some(_) => Reply::Array(Vec::new()),
        });
    }
    let popped = list_pop(ctx, key, end, count.try_into().unwrap_or(usize::MAX))?;
    Ok(popped.map_or(Reply::NilArray, bulks))
}

pub fn lpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    pop_generic(ctx, a, End::Left, "lpop")
}

pub fn rpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    pop_generic(ctx, a, End::Right, "rpop")
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let args = parse_lmpop(a, 1)?;
    Ok(
        match list_pop_first(ctx, args.keys, args.end, args.count)? {
            Some((key, elems)) => {
                // Replicas and the AOF get LPOP/RPOP key <popped>, as Redis 7.0.
                let name = if args.end == End::Left {
                    "LPOP"
                } else {
                    "RPOP"
                };
                ctx.propagate_as(vec![
                    Bytes::from_static(name.as_bytes()),
                    key.clone(),
                    Bytes::from(elems.len().to_string()),
                ]);
                Reply::Array(vec![Reply::Bulk(key), bulks(elems)])
            }
            None => Reply::NilArray,
        },
    )
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let from = parse_list_end(&a[3])?;
    let to = parse_list_end(&a[4])?;
    Ok(list_move(ctx, &a[1], &a[2], from, to)?.map_or(Reply::Nil, Reply::Bulk))
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(list_move(ctx, &a[1], &a[2], End::Right, End::Left)?.map_or(Reply::Nil, Reply::Bulk))
}

// --- Read ----------------------------------------------------------------------------------------

pub fn llen(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Int(
        read_list(ctx, &a[1])?.map_or(0, |l| l.len()) as i64
    ))
}

/// LRANGE key start stop: indexes parsed before the lookup; any i64 pair is safe
/// (`LRANGE l -9223372036854775808 9223372036854775807` is the whole list).
pub fn lrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let start = int_arg(&a[2])?;
    let end = int_arg(&a[3])?;
    let Some(l) = read_list(ctx, &a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((from, to)) = clamp_range(l.len(), start, end) else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(
        l.iter_from(from)
            .take(to - from + 1)
            .map(|e| Reply::Bulk(e.to_bytes()))
            .collect(),
    ))
}

/// LINDEX key index: the key is looked up before the index is parsed.
pub fn lindex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let Some(l) = read_list(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    let index = int_arg(&a[2])?;
    let elem = resolve_index(l.len(), index).and_then(|i| l.get(i));
    Ok(elem.map_or(Reply::Nil, |e| Reply::Bulk(e.to_bytes())))
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (mut rank, mut count, mut maxlen) = (1i64, -1i64, 0i64);
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(&a[j], "RANK") && more {
            j += 1;
            rank = int_arg(&a[j])?;
            if rank == 0 {
                return Err(ErrorReply::lpos_rank_zero());
            }
        } else if is(&a[j], "COUNT") && more {
            j += 1;
            count = non_negative(&a[j], ErrorReply::lpos_count_negative)?;
        } else if is(&a[j], "MAXLEN") && more {
            j += 1;
            maxlen = non_negative(&a[j], ErrorReply::lpos_maxlen_negative)?;
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    // As Redis: a negative rank searches from the tail. Negating i64::MIN wraps to itself, so
    // that rank then lets every match count (7.0 behaviour, kept for compatibility).
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let Some(l) = read_list(ctx, &a[1])? else {
        return Ok(if count != -1 {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let needle = Needle::new(&a[2]);
    let len = l.len() as i64;
    let elems: Box<dyn Iterator<Item = _>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    let (mut matches, mut found) = (0i64, Vec::new());
    for (scanned, e) in elems.enumerate() {
        if maxlen != 0 && scanned as i64 >= maxlen {
            break;
        }
        if !e.matches(&needle) {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(if from_tail {
                len - scanned as i64 - 1
            } else {
                scanned as i64
            });
            if count == -1 || (count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count) {
                break;
            }
        }
    }
    Ok(match count {
        -1 => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
        _ => Reply::Array(found.into_iter().map(Reply::Int).collect()),
    })
}

// --- Modify in place -----------------------------------------------------------------------------

/// LSET key index element: `ERR no such key` first, then WRONGTYPE, then the index.
pub fn lset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let limit = limit(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        return Err(ErrorReply::no_such_key());
    };
    let index = int_arg(&a[2])?;
    let Some(i) = resolve_index(l.len(), index) else {
        return Err(ErrorReply::index_out_of_range());
    };
    l.set(i, &a[3], limit);
    written(ctx, &a[1], "lset");
    Ok(Reply::Ok)
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without
/// the key.
pub fn linsert(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let after = if is(&a[2], "after") {
        true
    } else if is(&a[2], "before") {
        false
    } else {
        return Err(ErrorReply::syntax());
    };
    let limit = limit(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let pivot = Needle::new(&a[3]);
    let Some(at) = l.iter().position(|e| e.matches(&pivot)) else {
        return Ok(Reply::Int(-1));
    };
    l.insert(at + after as usize, &a[4], limit);
    let len = l.len();
    written(ctx, &a[1], "linsert");
    Ok(Reply::Int(len as i64))
}

/// LREM key count element: count > 0 from the head, < 0 from the tail, 0 all.
pub fn lrem(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let count = int_arg(&a[2])?;
    let limit = limit(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let from = if count < 0 { End::Right } else { End::Left };
    // i64::MIN negates to itself in Redis and never equals the removed count: no limit.
    let max = match count {
        0 | i64::MIN => usize::MAX,
        c => c.unsigned_abs().try_into().unwrap_or(usize::MAX),
    };
    let removed = l.remove_matching(&Needle::new(&a[3]), max, from, limit);
    let empty = l.is_empty();
    if removed > 0 {
        removed_from(ctx, &a[1], "lrem", empty);
    }
    Ok(Reply::Int(removed as i64))
}

/// LTRIM key start stop: keeps the range (deleting the key if it is empty).
pub fn ltrim(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let start = int_arg(&a[2])?;
    let end = int_arg(&a[3])?;
    let Some(l) = write_list(ctx, &a[1])? else {
        return Ok(Reply::Ok);
    };
    let len = l.len();
    let (front, back) = match clamp_range(len, start, end) {
        Some((from, to)) => (from, len - 1 - to),
        None => (len, 0),
    };
    l.trim(front, back);
    let empty = l.is_empty();
    removed_from(ctx, &a[1], "ltrim", empty);
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_never_overflow() {
        assert_eq!(clamp_range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(clamp_range(5, -2, -1), Some((3, 4)));
        assert_eq!(clamp_range(5, 3, 1), None);
        assert_eq!(clamp_range(5, 5, 10), None);
        assert_eq!(clamp_range(0, 0, -1), None);
        assert_eq!(clamp_range(5, -100, -6), None);
        assert_eq!(resolve_index(3, -3), Some(0));
        assert_eq!(resolve_index(3, -4), None);
        assert_eq!(resolve_index(3, i64::MIN), None);
        assert_eq!(resolve_index(3, 3), None);
    }

    #[test]
    fn mpop_arguments() {
        let v = |s: &[&str]| {
            s.iter()
                .map(|x| Bytes::copy_from_slice(x.as_bytes()))
                .collect::<Vec<_>>()
        };
        let a = v(&["lmpop", "2", "a", "b", "right", "COUNT", "3"]);
        let p = parse_lmpop(&a, 1).ok().unwrap();
        assert_eq!((p.keys.len(), p.end, p.count), (2, End::Right, 3));
        let err = |s: &[&str]| parse_lmpop(&v(s), 1).err().unwrap();
        assert_eq!(
            err(&["lmpop", "0", "a", "left"]),
            ErrorReply::numkeys_not_positive()
        );
        assert_eq!(
            err(&["lmpop", "9223372036854775807", "a", "left"]),
            ErrorReply::syntax()
        );
        assert_eq!(
            err(&["lmpop", "1", "a", "left", "count", "0"]),
            ErrorReply::count_not_positive()
        );
        assert_eq!(
            err(&["lmpop", "1", "a", "left", "count", "1", "count", "1"]),
            ErrorReply::syntax()
        );
    }
}
