//! Sorted set commands, part 2: ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES),
//! ZRANGESTORE and the older ZRANGEBYSCORE/ZREVRANGEBYSCORE/ZRANGEBYLEX/ZREVRANGEBYLEX, all
//! through one parser and one collector, as Redis's `zrangeGenericCommand`.
use super::zsets::{
    clamp_ranks, entries_reply, lex_first, lex_last, read_zset, resp3, score_first, score_last,
    store_result, LexRange, ScoreRange,
};
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::types::zset::ZSet;
use crate::util::cstr::keyword_eq as is;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

#[derive(Clone, Copy, PartialEq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

/// A parsed range request.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct Request {
    range: Range,
    rev: bool,
    withscores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

pub fn zrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range_command(ctx, a, By::Auto, Dir::Auto)
}

/// ZREVRANGE key start stop [WITHSCORES].
pub fn zrevrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range_command(ctx, a, By::Rank, Dir::Reverse)
}

pub fn zrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range_command(ctx, a, By::Score, Dir::Forward)
}

pub fn zrevrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range_command(ctx, a, By::Score, Dir::Reverse)
}

pub fn zrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range_command(ctx, a, By::Lex, Dir::Forward)
}

pub fn zrevrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    range_command(ctx, a, By::Lex, Dir::Reverse)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]: the range goes to
/// `dst` (replacing it; deleting it when the range is empty) and the reply is its size.
pub fn zrangestore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let req = parse(a, 2, true, By::Auto, Dir::Auto)?;
    let items = match read_zset(ctx, &a[2])? {
        Some(z) => collect(z, &req)
            .into_iter()
            .map(|(m, s)| (m.to_vec(), s))
            .collect(),
        None => Vec::new(),
    };
    let mut items: Vec<(Vec<u8>, f64)> = items;
    if req.rev {
        items.reverse();
    }
    Ok(store_result(ctx, &a[1], items, "zrangestore"))
}

fn range_command(ctx: &mut Ctx, a: &[Bytes], by: By, dir: Dir) -> R {
    let req = parse(a, 1, false, by, dir)?;
    let resp3 = resp3(ctx);
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    Ok(entries_reply(collect(z, &req), req.withscores, resp3))
}

/// Options after `<src> <min> <max>` (at `src`), then the conflicts, then the bounds, in
/// Redis's order so the same error wins.
fn parse(
    a: &[Bytes],
    src: usize,
    store: bool,
    mut by: By,
    mut dir: Dir,
) -> Result<Request, ErrorReply> {
    let (mut withscores, mut offset, mut limit) = (false, 0, -1);
    let mut j = src + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        if !store && is(&a[j], "withscores") {
            withscores = true;
        } else if is(&a[j], "limit") && left >= 2 {
            offset = int_arg(&a[j + 1])?;
            limit = int_arg(&a[j + 2])?;
            j += 2;
        } else if dir == Dir::Auto && is(&a[j], "rev") {
            dir = Dir::Reverse;
        } else if by == By::Auto && is(&a[j], "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(&a[j], "byscore") {
            by = By::Score;
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    let rev = dir == Dir::Reverse;
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(ErrorReply::zrange_limit_needs_by());
    }
    if withscores && by == By::Lex {
        return Err(ErrorReply::zrange_withscores_bylex());
    }
    let (mut lo, mut hi) = (&a[src + 1], &a[src + 2]);
    if rev && by != By::Rank {
        // Given as max, min.
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        By::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Range::Lex(LexRange::parse(lo, hi)?),
        _ => Range::Rank(int_arg(lo)?, int_arg(hi)?),
    };
    Ok(Request {
        range,
        rev,
        withscores,
        offset,
        limit,
    })
}

/// Whether an entry is still in range, walking away from the first one.
type InRange<'a> = Box<dyn Fn(&[u8], f64) -> bool + 'a>;

/// The entries a request selects, in reply order.
fn collect<'z>(z: &'z ZSet, req: &Request) -> Vec<(&'z [u8], f64)> {
    let rev = req.rev;
    let (first, in_range): (Option<usize>, InRange<'_>) = match &req.range {
        Range::Rank(start, end) => {
            let Some((s, e)) = clamp_ranks(*start, *end, z.len()) else {
                return Vec::new();
            };
            let from = if rev { z.len() - 1 - s } else { s };
            return z.iter_from(from, rev).take(e - s + 1).collect();
        }
        Range::Score(r) => {
            if req.offset > 0 && req.offset as u64 >= z.len() as u64 {
                return Vec::new();
            }
            let first = if rev {
                score_last(z, r)
            } else {
                score_first(z, r)
            };
            (
                first,
                if rev {
                    Box::new(move |_, s| r.gte_min(s))
                } else {
                    Box::new(move |_, s| r.lte_max(s))
                },
            )
        }
        Range::Lex(r) => {
            let first = if rev { lex_last(z, r) } else { lex_first(z, r) };
            (
                first,
                if rev {
                    Box::new(move |m, _| r.gte_min(m))
                } else {
                    Box::new(move |m, _| r.lte_max(m))
                },
            )
        }
    };
    // A negative offset skips everything (Redis's `while (ln && offset--)` runs off the end);
    // a negative count means no limit.
    let (Some(first), Ok(offset)) = (first, usize::try_from(req.offset)) else {
        return Vec::new();
    };
    let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
    z.iter_from(first, rev)
        .skip(offset)
        .take(limit)
        .take_while(|(m, s)| in_range(m, *s))
        .collect()
}
