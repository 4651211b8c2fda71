//! Sorted set commands, part 4: ZPOPMIN/ZPOPMAX, ZMPOP and ZRANDMEMBER.
//!
//! For the blocking commands (BZPOPMIN BZPOPMAX BZMPOP) the pop logic is in key-taking
//! functions that return what they popped and never reply themselves, so a blocked client can
//! simply run them again when a key is written: `zset_pop`, `zset_pop_first`, the argument
//! parser `parse_zmpop`, and the reply shape `zmpop_reply` (ZMPOP/BZMPOP; BZPOPMIN/BZPOPMAX answer a
//! flat `[key, member, score]` with the score as `Reply::Double`). A zset key only comes into existence through
//! `Ctx::put_value`, which signals blocked clients.
use super::zsets::{after_removal, bulk, entries_reply, read_zset, resp3, write_zset};
use super::{int_arg, parse_mpop, Ctx, MpopArgs};
use crate::protocol::{ErrorReply, Reply};
use crate::store::types::zset::{End, ZSet};
use crate::util::cstr::keyword_eq as is;
use bytes::Bytes;
use rand::Rng;

type R = Result<Reply, ErrorReply>;

use super::RANDOM_REPLY_MAX;

/// Popped `(member, score)` entries, in pop order.
pub(crate) type Popped = Vec<(Bytes, f64)>;

/// Pops up to `count` entries from `end` of the zset at `key`, in pop order; the key is
/// deleted when emptied. `Ok(None)` when the key does not exist; WRONGTYPE for other types.
pub(crate) fn zset_pop(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Popped>, ErrorReply> {
    let Some(z) = write_zset(ctx, key)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(count.min(z.len()));
    while out.len() < count {
        match z.pop(end) {
            Some((m, s)) => out.push((Bytes::from(m), s)),
            None => break,
        }
    }
    let empty = z.is_empty();
    let event = if end == End::Min {
        "zpopmin"
    } else {
        "zpopmax"
    };
    after_removal(ctx, key, event, out.len(), empty);
    Ok(Some(out))
}

/// Pops from the first existing key among `keys` (Redis's `genericZpopCommand`): a non-zset
/// met before any zset is WRONGTYPE; `Ok(None)` when no key exists.
pub(crate) fn zset_pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Result<Option<(Bytes, Popped)>, ErrorReply> {
    for key in keys {
        if let Some(v) = zset_pop(ctx, key, end, count)? {
            return Ok(Some((key.clone(), v)));
        }
    }
    Ok(None)
}

/// Parses ZMPOP / BZMPOP arguments from `a[numkeys_idx]` (1 for ZMPOP, 2 for BZMPOP).
pub(crate) fn parse_zmpop(
    a: &[Bytes],
    numkeys_idx: usize,
) -> Result<MpopArgs<'_, End>, ErrorReply> {
    parse_mpop(a, numkeys_idx, |w| {
        if is(w, "min") {
            Some(End::Min)
        } else if is(w, "max") {
            Some(End::Max)
        } else {
            None
        }
    })
}

/// `[key, [[member, score], ...]]`, in RESP2 and RESP3 alike.
pub(crate) fn zmpop_reply(key: Bytes, items: Popped) -> Reply {
    Reply::Array(vec![Reply::Bulk(key), entries_reply(items, true, true)])
}

pub fn zpopmin(ctx: &mut Ctx, a: &[Bytes]) -> R {
    zpop_command(ctx, a, End::Min)
}

pub fn zpopmax(ctx: &mut Ctx, a: &[Bytes]) -> R {
    zpop_command(ctx, a, End::Max)
}

/// ZPOPMIN/ZPOPMAX key [count]: a flat member/score array, nested pairs in RESP3 when a count
/// was given.
fn zpop_command(ctx: &mut Ctx, a: &[Bytes], end: End) -> R {
    if a.len() > 3 {
        return Err(ErrorReply::syntax());
    }
    let count = match a.get(2) {
        Some(c) => Some(
            int_arg(c)
                .ok()
                .filter(|&c| c >= 0)
                .ok_or_else(ErrorReply::value_out_of_range_must_be_positive)?,
        ),
        None => None,
    };
    let nested = resp3(ctx) && count.is_some();
    let n = count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX));
    let items = zset_pop(ctx, &a[1], end, n)?.unwrap_or_default();
    Ok(entries_reply(items, true, nested))
}

pub fn zmpop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let args = parse_zmpop(a, 1)?;
    Ok(
        match zset_pop_first(ctx, args.keys, args.end, args.count)? {
            Some((key, items)) => {
                // Replicas and the AOF get ZPOPMIN/ZPOPMAX key <popped>, as Redis 7.0.
                let name = if args.end == End::Min {
                    "ZPOPMIN"
                } else {
                    "ZPOPMAX"
                };
                ctx.propagate_as(vec![
                    Bytes::from_static(name.as_bytes()),
                    key.clone(),
                    Bytes::from(items.len().to_string()),
                ]);
                zmpop_reply(key, items)
            }
            None => Reply::NilArray,
        },
    )
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub fn zrandmember(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() >= 3 {
        let l = int_arg(&a[2])?;
        if l == i64::MIN {
            return Err(ErrorReply::range_between(-i64::MAX, i64::MAX));
        }
        if a.len() > 4 || (a.len() == 4 && !is(&a[3], "withscores")) {
            return Err(ErrorReply::syntax());
        }
        let withscores = a.len() == 4;
        // Redis 7.0.15 refuses counts whose RESP2 reply length (2 * count) would overflow.
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(ErrorReply::value_out_of_range());
        }
        return randmember_count(ctx, &a[1], l, withscores);
    }
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    if z.is_empty() {
        return Ok(Reply::Nil);
    }
    let i = rand::thread_rng().gen_range(0..z.len());
    Ok(bulk(z.get(i).expect("in range").0))
}

/// ZRANDMEMBER with a count (Redis's `zrandmemberWithCountCommand`): a negative count picks
/// with repetition; a positive one distinct members, the whole zset (highest score first, as
/// Redis walks it) when the count covers it.
fn randmember_count(ctx: &mut Ctx, key: &[u8], l: i64, withscores: bool) -> R {
    let resp3 = resp3(ctx);
    let Some(z) = read_zset(ctx, key)? else {
        return Ok(Reply::Array(vec![]));
    };
    let size = z.len();
    let count = l.unsigned_abs();
    if count == 0 || size == 0 {
        return Ok(Reply::Array(vec![]));
    }
    if l > 0 && count >= size as u64 {
        return Ok(entries_reply(
            z.iter_from(size - 1, true),
            withscores,
            resp3,
        ));
    }
    if l < 0 && count > RANDOM_REPLY_MAX {
        return Err(ErrorReply::value_out_of_range());
    }
    let z: &ZSet = z;
    let ranks = random_ranks(size, count as usize, l > 0);
    // A compact zset is decoded once rather than walked per pick.
    let all: Option<Vec<(&[u8], f64)>> = z.is_compact().then(|| z.iter().collect());
    let pick = |r: usize| {
        all.as_ref()
            .map_or_else(|| z.get(r).expect("in range"), |v| v[r])
    };
    Ok(entries_reply(
        ranks.into_iter().map(pick),
        withscores,
        resp3,
    ))
}

/// `count` ranks below `size`: with repetition, or distinct (`count < size`) in random order.
fn random_ranks(size: usize, count: usize, distinct: bool) -> Vec<usize> {
    let rng = &mut rand::thread_rng();
    if !distinct {
        return (0..count).map(|_| rng.gen_range(0..size)).collect();
    }
    // Floyd's sampling, then shuffled: O(count) whatever the zset size.
    let mut chosen = std::collections::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    for j in size - count..size {
        let t = rng.gen_range(0..=j);
        let pick = if chosen.contains(&t) { j } else { t };
        chosen.insert(pick);
        out.push(pick);
    }
    for i in (1..out.len()).rev() {
        out.swap(i, rng.gen_range(0..=i));
    }
    out
}
