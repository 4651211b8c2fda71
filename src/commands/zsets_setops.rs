//! Sorted set commands, part 3: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as
//! Redis's `zunionInterDiffGenericCommand`. Inputs may be zsets or sets (a set member counts
//! with score 1); a missing key is an empty input. Arguments are checked in Redis's order:
//! numkeys, then every key's type, then WEIGHTS/AGGREGATE/WITHSCORES/LIMIT.
//!
//! Scores are aggregated input by input in Redis's order (inputs sorted by size, stably, for
//! union and intersection), so sums of non-integers round the same way.
use super::zsets::{entries_reply, parse_score, resp3, store_result};
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::types::dict::Elem;
use crate::store::types::set::Set;
use crate::store::types::zset::ZSet;
use crate::store::Value;
use crate::util::cstr::keyword_eq as is;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashMap;

type R = Result<Reply, ErrorReply>;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// What the command does with the result.
#[derive(Clone, Copy, PartialEq)]
enum Out<'a> {
    Reply,
    Store(&'a Bytes),
    Cardinality,
}

pub fn zunion(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Union, Out::Reply, "zunion")
}

pub fn zinter(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Inter, Out::Reply, "zinter")
}

pub fn zdiff(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Diff, Out::Reply, "zdiff")
}

pub fn zintercard(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Inter, Out::Cardinality, "zintercard")
}

pub fn zunionstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Union, Out::Store(&a[1]), "zunionstore")
}

pub fn zinterstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Inter, Out::Store(&a[1]), "zinterstore")
}

pub fn zdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setop(ctx, a, Op::Diff, Out::Store(&a[1]), "zdiffstore")
}

/// One input.
#[derive(Clone, Copy)]
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    /// The same key given twice (Redis compares the objects).
    fn same(&self, other: &Src) -> bool {
        match (self, other) {
            (Src::Z(a), Src::Z(b)) => std::ptr::eq(*a, *b),
            (Src::S(a), Src::S(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (Cow<'a, [u8]>, f64)> + 'a> {
        match *self {
            Src::Missing => Box::new(std::iter::empty()),
            Src::Z(z) => Box::new(z.iter().map(|(m, s)| (Cow::Borrowed(m), s))),
            Src::S(s) => Box::new(s.iter().map(|e| {
                let m = match e {
                    Elem::Str(b) => Cow::Borrowed(b),
                    Elem::Int(_) => Cow::Owned(e.to_vec()),
                };
                (m, 1.0)
            })),
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
}

/// Options after the keys.
struct Options {
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

fn parse_options(
    a: &[Bytes],
    mut j: usize,
    n: usize,
    op: Op,
    out: Out,
) -> Result<Options, ErrorReply> {
    let mut o = Options {
        weights: vec![1.0; n],
        agg: Agg::Sum,
        withscores: false,
        limit: 0,
    };
    let card = out == Out::Cardinality;
    while j < a.len() {
        let remaining = a.len() - j;
        if op != Op::Diff && !card && remaining > n && is(&a[j], "weights") {
            for (i, w) in o.weights.iter_mut().enumerate() {
                *w = parse_score(&a[j + 1 + i]).ok_or_else(ErrorReply::zset_weight_not_float)?;
            }
            j += n + 1;
        } else if op != Op::Diff && !card && remaining >= 2 && is(&a[j], "aggregate") {
            let v = &a[j + 1];
            o.agg = if is(v, "sum") {
                Agg::Sum
            } else if is(v, "min") {
                Agg::Min
            } else if is(v, "max") {
                Agg::Max
            } else {
                return Err(ErrorReply::syntax());
            };
            j += 2;
        } else if out == Out::Reply && is(&a[j], "withscores") {
            o.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(&a[j], "limit") {
            let l = int_arg(&a[j + 1])
                .ok()
                .filter(|&l| l >= 0)
                .ok_or_else(ErrorReply::limit_negative)?;
            o.limit = usize::try_from(l).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(ErrorReply::syntax());
        }
    }
    Ok(o)
}

/// `zunionInterAggregate`: a sum of +inf and -inf is 0.
fn aggregate(target: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Agg::Min => {
            if v < *target {
                *target = v;
            }
        }
        Agg::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

fn weighted(s: f64, w: f64) -> f64 {
    let v = s * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn setop(ctx: &mut Ctx, a: &[Bytes], op: Op, out: Out, name: &str) -> R {
    let nk_idx = if matches!(out, Out::Store(_)) { 2 } else { 1 };
    let n = int_arg(&a[nk_idx])?;
    if n < 1 {
        return Err(ErrorReply::zset_needs_one_key(name));
    }
    if n > (a.len() - nk_idx - 1) as i64 {
        return Err(ErrorReply::syntax());
    }
    let n = n as usize;
    let keys = &a[nk_idx + 1..nk_idx + 1 + n];
    for k in keys {
        if let Some(v) = ctx.read_value(k) {
            if !matches!(v, Value::ZSet(_) | Value::Set(_)) {
                return Err(ErrorReply::wrong_type());
            }
        }
    }
    let o = parse_options(a, nk_idx + 1 + n, n, op, out)?;
    let resp3 = resp3(ctx);
    let (result, card) = {
        let db = ctx.store.db(ctx.client.db);
        let mut srcs: Vec<(Src, f64)> = keys
            .iter()
            .zip(&o.weights)
            .map(|(k, &w)| match db.get(k).map(|e| &e.value) {
                Some(Value::ZSet(z)) => (Src::Z(z), w),
                Some(Value::Set(s)) => (Src::S(s), w),
                _ => (Src::Missing, w),
            })
            .collect();
        if op != Op::Diff {
            srcs.sort_by_key(|(s, _)| s.len());
        }
        let (mut result, card) = match op {
            Op::Inter => inter(&srcs, o.agg, out == Out::Cardinality, o.limit),
            Op::Union => (union(&srcs, o.agg), 0),
            Op::Diff => (diff(&srcs), 0),
        };
        result.sort_by(|x, y| {
            x.1.partial_cmp(&y.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| x.0.cmp(&y.0))
        });
        let result: Vec<(Vec<u8>, f64)> = match out {
            Out::Store(_) => result
                .into_iter()
                .map(|(m, s)| (m.into_owned(), s))
                .collect(),
            _ => return Ok(reply(result, card, out, o.withscores, resp3)),
        };
        (result, card)
    };
    debug_assert_eq!(card, 0);
    let Out::Store(dst) = out else {
        unreachable!("replies returned above")
    };
    let event = match op {
        Op::Union => "zunionstore",
        Op::Inter => "zinterstore",
        Op::Diff => "zdiffstore",
    };
    Ok(store_result(ctx, dst, result, event))
}

fn reply(
    result: Vec<(Cow<[u8]>, f64)>,
    card: usize,
    out: Out,
    withscores: bool,
    resp3: bool,
) -> Reply {
    match out {
        Out::Cardinality => Reply::Int(card as i64),
        _ => entries_reply(result, withscores, resp3),
    }
}

type Entries<'a> = Vec<(Cow<'a, [u8]>, f64)>;

/// Members of the smallest input found in every other one; or only their count (ZINTERCARD,
/// stopping at `limit` when non-zero).
fn inter<'a>(
    srcs: &[(Src<'a>, f64)],
    agg: Agg,
    count_only: bool,
    limit: usize,
) -> (Entries<'a>, usize) {
    let (mut out, mut card) = (Vec::new(), 0);
    let (first, w0) = srcs[0];
    if first.len() == 0 {
        return (out, 0);
    }
    'members: for (m, s) in first.iter() {
        let mut score = weighted(s, w0);
        for (src, w) in &srcs[1..] {
            let v = if src.same(&first) {
                Some(s)
            } else {
                src.find(&m)
            };
            match v {
                Some(v) => aggregate(&mut score, v * w, agg),
                None => continue 'members,
            }
        }
        if count_only {
            card += 1;
            if limit > 0 && card >= limit {
                break;
            }
        } else {
            out.push((m, score));
        }
    }
    (out, card)
}

fn union<'a>(srcs: &[(Src<'a>, f64)], agg: Agg) -> Entries<'a> {
    let mut acc: HashMap<Cow<'a, [u8]>, f64, ahash::RandomState> = HashMap::default();
    if let Some((largest, _)) = srcs.last() {
        acc.reserve(largest.len());
    }
    for (src, w) in srcs {
        for (m, s) in src.iter() {
            let score = weighted(s, *w);
            acc.entry(m)
                .and_modify(|t| aggregate(t, score, agg))
                .or_insert(score);
        }
    }
    acc.into_iter().collect()
}

/// Members of the first input in none of the others, with their first-input scores. The
/// first key repeated among the others leaves nothing.
fn diff<'a>(srcs: &[(Src<'a>, f64)]) -> Entries<'a> {
    let (first, _) = srcs[0];
    if first.len() == 0 || srcs[1..].iter().any(|(s, _)| s.same(&first)) {
        return Vec::new();
    }
    first
        .iter()
        .filter(|(m, _)| srcs[1..].iter().all(|(s, _)| s.find(m).is_none()))
        .collect()
}
