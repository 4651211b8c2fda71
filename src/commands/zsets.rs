//! Sorted set commands, part 1: ZADD/ZINCRBY, ZREM, ZCARD, ZSCORE/ZMSCORE, ZRANK/ZREVRANK,
//! ZCOUNT/ZLEXCOUNT, ZREMRANGEBY{RANK,SCORE,LEX}, ZSCAN, and what the other zset files share:
//! typed lookups, write bookkeeping (modified, keyspace events, deleting an emptied key),
//! storing a computed result, and reply shapes. Score parsing and range bounds are in
//! `zsets_bounds.rs` (re-exported here), the ZRANGE family in `zsets_range.rs`,
//! ZUNION/ZINTER/ZDIFF in `zsets_setops.rs`, the pops and ZRANDMEMBER in `zsets_pop.rs`.
pub(super) use super::zsets_bounds::{
    clamp_ranks, lex_first, lex_last, parse_score, score_first, score_last, strtod, LexRange,
    ScoreRange,
};
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply, RespVersion};
use crate::store::types::zset::{AddFlags, AddResult, Limits, ZSet};
use crate::store::{notify, Value};
use crate::util::cstr::keyword_eq as is;
use crate::util::{glob, num};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// The encoding thresholds from the live config.
pub(super) fn limits(ctx: &Ctx) -> Limits {
    let hot = &ctx.shared.config().hot;
    Limits {
        entries: hot.zset_max_listpack_entries,
        value: hot.zset_max_listpack_value,
    }
}

/// The zset at `key` for a read command (hit/miss counted); WRONGTYPE for other types.
pub(super) fn read_zset<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut ZSet>, ErrorReply> {
    match ctx.read_value(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// The zset at `key` for a write command; WRONGTYPE for other types.
pub(super) fn write_zset<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut ZSet>, ErrorReply> {
    match ctx.write_value(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// After `removed` entries left the zset at `key` (by `event`): marks it modified, raises the
/// keyspace event, and deletes the key (with its "del" event) if the zset is now empty.
pub(super) fn after_removal(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    removed: usize,
    now_empty: bool,
) {
    if removed == 0 {
        return;
    }
    if now_empty {
        ctx.delete_key(key);
    } else {
        ctx.modified(key);
    }
    ctx.notify(notify::ZSET, event, key);
    if now_empty {
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// Stores a computed result at `dst` (replacing any value, as SET does) and answers its size;
/// an empty result deletes `dst` instead (the *STORE commands, ZRANGESTORE).
pub(super) fn store_result(
    ctx: &mut Ctx,
    dst: &[u8],
    items: Vec<(Vec<u8>, f64)>,
    event: &'static str,
) -> Reply {
    if items.is_empty() {
        if ctx.delete_key(dst) {
            ctx.notify(notify::GENERIC, "del", dst);
        }
        return Reply::Int(0);
    }
    let n = items.len();
    let z = ZSet::from_sorted(items, limits(ctx));
    ctx.put_value(dst, Value::ZSet(crate::store::CowBox::new(z)));
    ctx.notify(notify::ZSET, event, dst);
    Reply::Int(n as i64)
}

pub(super) fn bulk(m: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(m))
}

pub(super) fn resp3(ctx: &Ctx) -> bool {
    ctx.client.resp == RespVersion::Resp3
}

/// Members, with their scores when `withscores`: one flat array in RESP2, `[member, score]`
/// pairs in RESP3 (Redis avoids a map there because the order matters).
pub(super) fn entries_reply<'a, M: AsRef<[u8]> + 'a>(
    items: impl IntoIterator<Item = (M, f64)>,
    withscores: bool,
    resp3: bool,
) -> Reply {
    let mut out = Vec::new();
    for (m, s) in items {
        let m = bulk(m.as_ref());
        match (withscores, resp3) {
            (false, _) => out.push(m),
            (true, false) => out.extend([m, Reply::Double(s)]),
            (true, true) => out.push(Reply::Array(vec![m, Reply::Double(s)])),
        }
    }
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY.

pub fn zadd(ctx: &mut Ctx, a: &[Bytes]) -> R {
    zadd_generic(ctx, a, false)
}

pub fn zincrby(ctx: &mut Ctx, a: &[Bytes]) -> R {
    zadd_generic(ctx, a, true)
}

/// ZADD's options: flags, CH, and where the score/member pairs start.
fn zadd_options(a: &[Bytes], incr: bool) -> Result<(AddFlags, bool, usize), ErrorReply> {
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = a.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(ErrorReply::syntax());
    }
    if f.nx && f.xx {
        return Err(ErrorReply::zadd_xx_and_nx());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(ErrorReply::zadd_gt_lt_nx());
    }
    if f.incr && rest > 2 {
        return Err(ErrorReply::zadd_incr_pair());
    }
    Ok((f, ch, i))
}

/// ZADD and ZINCRBY (Redis's `zaddGenericCommand`): options, every score parsed before any
/// change, then the adds in order.
fn zadd_generic(ctx: &mut Ctx, a: &[Bytes], incr: bool) -> R {
    let (f, ch, first) = zadd_options(a, incr)?;
    let pairs: Vec<(f64, &Bytes)> = a[first..]
        .chunks(2)
        .map(|p| {
            parse_score(&p[0])
                .map(|s| (s, &p[1]))
                .ok_or_else(ErrorReply::not_float)
        })
        .collect::<Result<_, _>>()?;
    let key = &a[1];
    let lim = limits(ctx);
    let (mut added, mut updated, mut processed, mut last) = (0i64, 0i64, 0, 0.0);
    let mut created = None;
    let z = match write_zset(ctx, key)? {
        Some(z) => z,
        None if f.xx => return Ok(if f.incr { Reply::Nil } else { Reply::Int(0) }),
        None => created.insert(ZSet::for_first_member(lim, pairs[0].1.len())),
    };
    let mut nan = false;
    for &(score, member) in &pairs {
        match z.add(member, score, f, lim) {
            AddResult::Nan => {
                nan = true;
                break;
            }
            AddResult::Added(s) => (added, processed, last) = (added + 1, processed + 1, s),
            AddResult::Updated(s) => (updated, processed, last) = (updated + 1, processed + 1, s),
            AddResult::Unchanged(s) => (processed, last) = (processed + 1, s),
            AddResult::Skipped => {}
        }
    }
    if let Some(z) = created {
        ctx.put_value(key, Value::ZSet(crate::store::CowBox::new(z)));
    } else if added + updated > 0 {
        ctx.modified(key);
    }
    if added + updated > 0 {
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if nan {
        return Err(ErrorReply::zset_score_nan());
    }
    Ok(match (f.incr, processed > 0) {
        (true, true) => Reply::Double(last),
        (true, false) => Reply::Nil,
        (false, _) => Reply::Int(if ch { added + updated } else { added }),
    })
}

// ---------------------------------------------------------------------------------------------
// ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK.

pub fn zrem(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let key = &a[1];
    let Some(z) = write_zset(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut deleted = 0;
    for m in &a[2..] {
        deleted += z.remove(m) as usize;
        if z.is_empty() {
            break;
        }
    }
    let empty = z.is_empty();
    after_removal(ctx, key, "zrem", deleted, empty);
    Ok(Reply::Int(deleted as i64))
}

pub fn zcard(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Int(
        read_zset(ctx, &a[1])?.map_or(0, |z| z.len() as i64),
    ))
}

pub fn zscore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let score = read_zset(ctx, &a[1])?.and_then(|z| z.score(&a[2]));
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

pub fn zmscore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let z = read_zset(ctx, &a[1])?;
    let scores = a[2..].iter().map(|m| {
        z.as_ref()
            .and_then(|z| z.score(m))
            .map_or(Reply::Nil, Reply::Double)
    });
    Ok(Reply::Array(scores.collect()))
}

pub fn zrank(ctx: &mut Ctx, a: &[Bytes]) -> R {
    rank_generic(ctx, a, false)
}

pub fn zrevrank(ctx: &mut Ctx, a: &[Bytes]) -> R {
    rank_generic(ctx, a, true)
}

fn rank_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> R {
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    let len = z.len();
    Ok(z.rank(&a[2]).map_or(Reply::Nil, |r| {
        Reply::Int(if rev { len - 1 - r } else { r } as i64)
    }))
}

// ---------------------------------------------------------------------------------------------
// ZCOUNT, ZLEXCOUNT.

pub fn zcount(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let r = ScoreRange::parse(&a[2], &a[3])?;
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let count = match (score_first(z, &r), score_last(z, &r)) {
        (Some(f), Some(l)) if l >= f => l - f + 1,
        _ => 0,
    };
    Ok(Reply::Int(count as i64))
}

pub fn zlexcount(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let r = LexRange::parse(&a[2], &a[3])?;
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let Some(first) = lex_first(z, &r) else {
        return Ok(Reply::Int(0));
    };
    let count = if z.is_compact() {
        // A listpack is counted by walking from the first match, as Redis does.
        z.iter_from(first, false)
            .take_while(|(m, _)| r.lte_max(m))
            .count()
    } else {
        lex_last(z, &r).map_or(0, |l| (l + 1).saturating_sub(first))
    };
    Ok(Reply::Int(count as i64))
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBYRANK / BYSCORE / BYLEX.

pub fn zremrangebyrank(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (start, end) = (int_arg(&a[2])?, int_arg(&a[3])?);
    let key = &a[1];
    let Some(z) = write_zset(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let Some((s, e)) = clamp_ranks(start, end, z.len()) else {
        return Ok(Reply::Int(0));
    };
    let n = z.remove_range(s, e);
    let empty = z.is_empty();
    after_removal(ctx, key, "zremrangebyrank", n, empty);
    Ok(Reply::Int(n as i64))
}

pub fn zremrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let r = ScoreRange::parse(&a[2], &a[3])?;
    remove_run(ctx, &a[1], "zremrangebyscore", |z| {
        let first = score_first(z, &r)?;
        Some((
            first,
            z.iter_from(first, false)
                .take_while(|e| r.lte_max(e.1))
                .count(),
        ))
    })
}

pub fn zremrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let r = LexRange::parse(&a[2], &a[3])?;
    remove_run(ctx, &a[1], "zremrangebylex", |z| {
        let first = lex_first(z, &r)?;
        Some((
            first,
            z.iter_from(first, false)
                .take_while(|e| r.lte_max(e.0))
                .count(),
        ))
    })
}

/// Removes the run `(first rank, count)` that `find` picks, as Redis deletes from the first
/// entry in range while entries stay in range.
fn remove_run(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    find: impl Fn(&ZSet) -> Option<(usize, usize)>,
) -> R {
    let Some(z) = write_zset(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let n = match find(z) {
        Some((first, count)) if count > 0 => z.remove_range(first, first + count - 1),
        _ => 0,
    };
    let empty = z.is_empty();
    after_removal(ctx, key, event, n, empty);
    Ok(Reply::Int(n as i64))
}

// ---------------------------------------------------------------------------------------------
// ZSCAN.

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is checked first, then the key,
/// then the options (Redis's `zscanCommand` + `scanGenericCommand`). A listpack is returned
/// whole with cursor 0; a skiplist's cursor is a node slot (see `store::types::zset`).
pub fn zscan(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cursor = num::parse_strtoul(&a[2]).ok_or_else(ErrorReply::invalid_cursor)?;
    let empty_scan = || Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(vec![])]);
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(empty_scan());
    };
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - i;
        if is(&a[i], "count") && more >= 2 {
            let c = int_arg(&a[i + 1])?;
            if c < 1 {
                return Err(ErrorReply::syntax());
            }
            count = usize::try_from(c).unwrap_or(usize::MAX);
        } else if is(&a[i], "match") && more >= 2 {
            pattern = Some(&a[i + 1]).filter(|p| p.as_ref() != b"*");
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 2;
    }
    let mut items = Vec::new();
    let next = z.scan(cursor, count, &mut items);
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        if pattern.is_none_or(|p| glob::matches(p, m, false)) {
            out.push(bulk(m));
            out.push(Reply::Bulk(Bytes::from(num::format_double_reply(s))));
        }
    }
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::Array(out),
    ]))
}
