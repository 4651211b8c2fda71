//! Set algebra over several keys: SINTER/SINTERCARD/SINTERSTORE, SUNION/SUNIONSTORE and
//! SDIFF/SDIFFSTORE, following Redis 7.0's `sinterGenericCommand` and
//! `sunionDiffGenericCommand`: every key is looked up and type-checked first (a missing key is
//! an empty set, a wrong type anywhere is WRONGTYPE), results are built by adding members to
//! a new set that starts as an intset, so a stored result gets the encoding Redis gives it,
//! and a `*STORE` with an empty result deletes the destination.
//!
//! The sets are read through shared borrows of the store all at once: lazy expiry, hit/miss
//! counting and the type checks happen in a first pass with `read_value`, then the (now
//! live) values are borrowed together from the database.
use super::hashes::elem_reply;
use super::sets::intset_limit;
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::types::set::Set;
use crate::store::Value;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// Looks every key up as a read (expiry, stats) and checks its type; true where a set exists.
fn check_keys(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<bool>, ErrorReply> {
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        present.push(match ctx.read_value(k) {
            None => false,
            Some(Value::Set(_)) => true,
            Some(_) => return Err(ErrorReply::wrong_type()),
        });
    }
    Ok(present)
}

/// The sets at `keys` (after `check_keys`), borrowed together.
fn borrow_sets<'a>(ctx: &'a Ctx, keys: &[Bytes]) -> Vec<Option<&'a Set>> {
    let db = ctx.store.db(ctx.client.db);
    keys.iter()
        .map(|k| match db.get(k) {
            Some(e) if !e.is_expired(ctx.now_ms) => match &e.value {
                Value::Set(s) => Some(&**s),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Where a computed set goes.
enum Output<'a> {
    Reply,
    /// Store at the key, raising this keyspace event (sinterstore / sunionstore / sdiffstore).
    Store(&'a [u8], &'static str),
}

/// Replies with the members of `result`, or stores it at `dst` (deleting `dst` when empty)
/// and replies with its size.
fn finish(ctx: &mut Ctx, result: Set, out: Output) -> R {
    match out {
        Output::Reply => Ok(Reply::Set(result.iter().map(elem_reply).collect())),
        Output::Store(dst, event) => {
            let n = result.len() as i64;
            if n > 0 {
                ctx.put_value(dst, Value::Set(crate::store::CowBox::new(result)));
                ctx.notify(crate::store::notify::SET, event, dst);
            } else if ctx.delete_key(dst) {
                ctx.notify(crate::store::notify::GENERIC, "del", dst);
            }
            Ok(Reply::Int(n))
        }
    }
}

/// How SINTER reports: the members, their count up to a limit (0 = none), or a stored set.
enum Inter<'a> {
    Members,
    Card(u64),
    Store(&'a [u8]),
}

fn inter_generic(ctx: &mut Ctx, keys: &[Bytes], mode: Inter) -> R {
    let present = check_keys(ctx, keys)?;
    let max = intset_limit(ctx);
    if present.contains(&false) {
        return match mode {
            Inter::Members => Ok(Reply::Set(Vec::new())),
            Inter::Card(_) => Ok(Reply::Int(0)),
            Inter::Store(dst) => finish(ctx, Set::default(), Output::Store(dst, "sinterstore")),
        };
    }
    let mut sets: Vec<&Set> = borrow_sets(ctx, keys)
        .into_iter()
        .map(|s| s.expect("checked"))
        .collect();
    // Smallest first (a stable sort, like glibc's qsort) to test as few members as possible.
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let in_all = |e| {
        rest.iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains_elem(e))
    };
    let mut result = Set::default();
    let mut members = Vec::new();
    let mut card = 0u64;
    for e in first.iter().filter(|&e| in_all(e)) {
        match mode {
            Inter::Members => members.push(elem_reply(e)),
            Inter::Card(limit) => {
                card += 1;
                if limit != 0 && card >= limit {
                    break;
                }
            }
            Inter::Store(_) => {
                result.add_elem(e, max);
            }
        }
    }
    match mode {
        Inter::Members => Ok(Reply::Set(members)),
        Inter::Card(_) => Ok(Reply::Int(card as i64)),
        Inter::Store(dst) => finish(ctx, result, Output::Store(dst, "sinterstore")),
    }
}

pub fn sinter(ctx: &mut Ctx, a: &[Bytes]) -> R {
    inter_generic(ctx, &a[1..], Inter::Members)
}

pub fn sinterstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    inter_generic(ctx, &a[2..], Inter::Store(&a[1]))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
pub fn sintercard(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let numkeys = int_arg(&a[1]).map_err(|_| ErrorReply::numkeys_not_positive())?;
    if numkeys < 1 {
        return Err(ErrorReply::numkeys_not_positive());
    }
    if numkeys as u64 > (a.len() - 2) as u64 {
        return Err(ErrorReply::numkeys_over_args());
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < a.len() {
        if is(&a[i], "LIMIT") && i + 1 < a.len() {
            let l = int_arg(&a[i + 1]).map_err(|_| ErrorReply::limit_negative())?;
            if l < 0 {
                return Err(ErrorReply::limit_negative());
            }
            limit = l as u64;
            i += 2;
        } else {
            return Err(ErrorReply::syntax());
        }
    }
    inter_generic(ctx, &a[2..keys_end], Inter::Card(limit))
}

/// The union of `sets` (None = missing key) built as Redis builds it: members added in order
/// to a set that starts as an intset.
pub(super) fn union_of(sets: &[Option<&Set>], max_intset: usize) -> Set {
    let mut out = Set::default();
    for s in sets.iter().flatten() {
        for e in s.iter() {
            out.add_elem(e, max_intset);
        }
    }
    out
}

/// The difference `sets[0] - sets[1..]`, with Redis's choice of algorithm (it decides the
/// encoding of the result): 1 tests each member of the first set against the others, 2 adds
/// the first set and removes the others' members.
fn diff_of(sets: &[Option<&Set>], max_intset: usize) -> Set {
    let mut out = Set::default();
    let Some(first) = sets[0] else { return out };
    let same = |s: &Option<&Set>| s.is_some_and(|s| std::ptr::eq(s, first));
    if sets[1..].iter().any(same) {
        return out;
    }
    let one_work = sets
        .iter()
        .flatten()
        .map(|_| first.len() as u64)
        .sum::<u64>()
        / 2;
    let two_work = sets.iter().flatten().map(|s| s.len() as u64).sum::<u64>();
    if one_work <= two_work {
        let mut others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for e in first.iter() {
            if !others.iter().any(|s| s.contains_elem(e)) {
                out.add_elem(e, max_intset);
            }
        }
    } else {
        for e in first.iter() {
            out.add_elem(e, max_intset);
        }
        for s in sets[1..].iter().flatten() {
            if out.is_empty() {
                break;
            }
            for e in s.iter() {
                out.remove_elem(e);
            }
        }
    }
    out
}

fn union_diff(ctx: &mut Ctx, keys: &[Bytes], diff: bool, out: Output) -> R {
    check_keys(ctx, keys)?;
    let max = intset_limit(ctx);
    let sets = borrow_sets(ctx, keys);
    let result = if diff {
        diff_of(&sets, max)
    } else {
        union_of(&sets, max)
    };
    finish(ctx, result, out)
}

pub fn sunion(ctx: &mut Ctx, a: &[Bytes]) -> R {
    union_diff(ctx, &a[1..], false, Output::Reply)
}

pub fn sunionstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    union_diff(ctx, &a[2..], false, Output::Store(&a[1], "sunionstore"))
}

pub fn sdiff(ctx: &mut Ctx, a: &[Bytes]) -> R {
    union_diff(ctx, &a[1..], true, Output::Reply)
}

pub fn sdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    union_diff(ctx, &a[2..], true, Output::Store(&a[1], "sdiffstore"))
}
