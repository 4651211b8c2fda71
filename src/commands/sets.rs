//! Set commands on one key: SADD/SREM/SMOVE, SISMEMBER/SMISMEMBER/SMEMBERS/SCARD, SPOP,
//! SRANDMEMBER and SSCAN, with Redis 7.0's replies and errors. Multi-key algebra (SINTER*,
//! SUNION*, SDIFF*) is in `sets_algebra.rs`. The representation (intset or hashtable, and
//! when to convert) is `store::types::set`.
use super::hashes::{command_rng, elem_reply, scan_opts, scan_reply};
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::notify;
use crate::store::types::dict::Elem;
use crate::store::types::set::Set;
use crate::store::Value;
use bytes::Bytes;
use rand::Rng;
use std::cell::Cell;
use std::collections::HashSet;

type R = Result<Reply, ErrorReply>;

/// SPOP with a count rebuilds the set from the members it keeps once it pops at least this
/// many times more members than it keeps (Redis's SPOP_MOVE_STRATEGY_MUL).
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;
/// SRANDMEMBER picks by elimination when asked for more than 1/3 of the set
/// (Redis's SRANDMEMBER_SUB_STRATEGY_MUL).
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;

pub(super) fn intset_limit(ctx: &Ctx) -> usize {
    ctx.shared.config().hot.set_max_intset_entries
}

/// The set at `key` for a read command; WRONGTYPE for another type.
pub(super) fn read_set<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut Set>, ErrorReply> {
    match ctx.read_value(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// Runs `f` on the set at `key` for a write; `f` returns its result and whether it changed
/// the set. A missing key gives `None`, unless `create` names the first member to add: then
/// `f` runs on a new set able to hold it (Redis's `setTypeCreate`), stored if left non-empty.
/// A set left empty deletes its key.
fn update_set<T>(
    ctx: &mut Ctx,
    key: &[u8],
    create: Option<&[u8]>,
    event: &'static str,
    f: impl FnOnce(&mut Set) -> (T, bool),
) -> Result<Option<T>, ErrorReply> {
    match ctx.write_value(key) {
        Some(Value::Set(s)) => {
            let (t, changed) = f(s);
            let empty = s.is_empty();
            if changed {
                ctx.modified(key);
                ctx.notify(notify::SET, event, key);
            }
            if empty {
                ctx.delete_key(key);
                ctx.notify(notify::GENERIC, "del", key);
            }
            Ok(Some(t))
        }
        Some(_) => Err(ErrorReply::wrong_type()),
        None => match create {
            Some(first) => {
                let mut s = Set::for_member(first);
                let (t, _) = f(&mut s);
                if !s.is_empty() {
                    ctx.put_value(key, Value::Set(crate::store::CowBox::new(s)));
                    ctx.notify(notify::SET, event, key);
                }
                Ok(Some(t))
            }
            None => Ok(None),
        },
    }
}

pub fn sadd(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let max = intset_limit(ctx);
    let added = update_set(ctx, &a[1], Some(&a[2]), "sadd", |s| {
        let n = a[2..].iter().filter(|m| s.add(m, max)).count() as i64;
        (n, n > 0)
    })?;
    Ok(Reply::Int(added.unwrap_or(0)))
}

pub fn srem(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let removed = update_set(ctx, &a[1], None, "srem", |s| {
        let mut n = 0;
        for m in &a[2..] {
            n += s.remove(m) as i64;
            if s.is_empty() {
                break;
            }
        }
        (n, n > 0)
    })?;
    Ok(Reply::Int(removed.unwrap_or(0)))
}

pub fn sismember(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let s = read_set(ctx, &a[1])?;
    Ok(Reply::Int(s.is_some_and(|s| s.contains(&a[2])) as i64))
}

pub fn smismember(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let s = read_set(ctx, &a[1])?;
    let has = |m: &Bytes| Reply::Int(s.as_ref().is_some_and(|s| s.contains(m)) as i64);
    Ok(Reply::Array(a[2..].iter().map(has).collect()))
}

pub fn scard(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Int(
        read_set(ctx, &a[1])?.map_or(0, |s| s.len()) as i64
    ))
}

/// In Redis 7.0 SMEMBERS is SINTER of one key: the members in the set's own order.
pub fn smembers(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let s = read_set(ctx, &a[1])?;
    Ok(Reply::Set(s.map_or_else(Vec::new, |s| {
        s.iter().map(elem_reply).collect()
    })))
}

/// Which of the two keys of SMOVE hold what.
enum Slot {
    Missing,
    Set,
}

fn set_slot(ctx: &mut Ctx, key: &[u8]) -> Result<Slot, ErrorReply> {
    match ctx.write_value(key) {
        None => Ok(Slot::Missing),
        Some(Value::Set(_)) => Ok(Slot::Set),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// SMOVE: a missing source answers 0 before any type check of the destination.
pub fn smove(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    let src_slot = match ctx.write_value(src) {
        None => return Ok(Reply::Int(0)),
        Some(Value::Set(_)) => Slot::Set,
        Some(_) => return Err(ErrorReply::wrong_type()),
    };
    let dst_slot = set_slot(ctx, dst)?;
    debug_assert!(matches!(src_slot, Slot::Set));
    if src == dst {
        let s = read_set(ctx, src)?.expect("present");
        return Ok(Reply::Int(s.contains(m) as i64));
    }
    let removed = update_set(ctx, src, None, "srem", |s| {
        let r = s.remove(m);
        (r, r)
    })?;
    if removed != Some(true) {
        return Ok(Reply::Int(0));
    }
    let max = intset_limit(ctx);
    let first = matches!(dst_slot, Slot::Missing).then_some(m.as_ref());
    if first.is_some() {
        ctx.put_value(
            dst,
            Value::Set(crate::store::CowBox::new(Set::for_member(m))),
        );
    }
    update_set(ctx, dst, None, "sadd", |s| {
        let added = s.add(m, max);
        ((), added)
    })?;
    Ok(Reply::Int(1))
}

/// SPOP key [count]: without a count, one random member (nil for a missing key).
pub fn spop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    match a.len() {
        3 => return spop_count(ctx, a),
        n if n > 3 => return Err(ErrorReply::syntax()),
        _ => {}
    }
    let mut rng = command_rng(ctx);
    let popped = update_set(ctx, &a[1], None, "spop", |s| {
        let m = s.random(&mut rng).to_vec();
        s.remove(&m);
        (m, true)
    })?;
    let popped = popped.map(Bytes::from);
    if let Some(m) = &popped {
        ctx.propagate_as(vec![Bytes::from_static(b"SREM"), a[1].clone(), m.clone()]);
    }
    Ok(popped.map_or(Reply::Nil, Reply::Bulk))
}

/// Redis's three cases: popping at least the whole set replies with it (as SUNION of the key
/// would) and deletes the key; popping few members removes random ones one by one; popping
/// most of the set keeps `size - count` random members in a new set (so its encoding is
/// chosen afresh, as in Redis) and replies with the rest.
fn spop_count(ctx: &mut Ctx, a: &[Bytes]) -> R {
    // Redis's getPositiveLongFromObjectOrReply: one message for "not a number" and "< 0".
    let count = crate::util::num::parse_i64(&a[2])
        .filter(|&c| c >= 0)
        .ok_or_else(ErrorReply::value_out_of_range_must_be_positive)? as u64;
    let key = &a[1];
    let max = intset_limit(ctx);
    let mut rng = command_rng(ctx);
    let Some(s) = read_set_for_write(ctx, key)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let size = s.len() as u64;
    if count >= size {
        // The reply comes from a fresh set built from this one, as Redis's SUNION of the key
        // builds it (its iteration order, not the source's).
        let mut all = Set::default();
        for e in s.iter() {
            all.add_elem(e, max);
        }
        let out = all.iter().map(elem_reply).collect();
        ctx.delete_key(key);
        ctx.propagate_as(vec![Bytes::from_static(b"DEL"), key.clone()]);
        ctx.notify(notify::SET, "spop", key);
        ctx.notify(notify::GENERIC, "del", key);
        return Ok(Reply::Set(out));
    }
    let remaining = size - count;
    let mut out = Vec::with_capacity(count as usize);
    if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        for _ in 0..count {
            let m = s.random(&mut rng).to_vec();
            s.remove(&m);
            out.push(Reply::Bulk(Bytes::from(m)));
        }
    } else {
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            let m = s.random(&mut rng).to_vec();
            kept.get_or_insert_with(|| Set::for_member(&m)).add(&m, max);
            s.remove(&m);
        }
        out.extend(s.iter().map(elem_reply));
        *s = kept.expect("remaining > 0");
    }
    ctx.modified(key);
    // Replicas remove the members popped here (Redis sends SREMs in batches; one suffices).
    let mut srem = vec![Bytes::from_static(b"SREM"), key.clone()];
    srem.extend(out.iter().filter_map(|r| match r {
        Reply::Bulk(b) => Some(b.clone()),
        _ => None,
    }));
    ctx.propagate_as(srem);
    ctx.notify(notify::SET, "spop", key);
    Ok(Reply::Set(out))
}

/// The set at `key` for a write command (no hit/miss counting); WRONGTYPE for another type.
fn read_set_for_write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Set>, ErrorReply> {
    match ctx.write_value(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// SRANDMEMBER key [count]: the count is checked before the key (-2^63 is out of range).
pub fn srandmember(ctx: &mut Ctx, a: &[Bytes]) -> R {
    match a.len() {
        3 => return srandmember_count(ctx, a),
        n if n > 3 => return Err(ErrorReply::syntax()),
        _ => {}
    }
    let mut rng = command_rng(ctx);
    let Some(s) = read_set(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    Ok(elem_reply(s.random(&mut rng)))
}

/// Redis's cases: a negative count (or 1) samples with repetition; a count of at least the
/// size returns the whole set in its order; else `count` distinct members, by elimination
/// when that is most of the set or by repeated draws otherwise.
fn srandmember_count(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let l = int_arg(&a[2])?;
    if l == i64::MIN {
        return Err(ErrorReply::range_between(-i64::MAX, i64::MAX));
    }
    let mut rng = command_rng(ctx);
    let Some(s) = read_set(ctx, &a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let size = s.len() as u64;
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    if !uniq && count > super::RANDOM_REPLY_MAX {
        return Err(ErrorReply::value_out_of_range());
    }
    let out = if !uniq || count == 1 {
        (0..count).map(|_| elem_reply(s.random(&mut rng))).collect()
    } else if count >= size {
        s.iter().map(elem_reply).collect()
    } else if count * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        let mut all: Vec<Elem> = s.iter().collect();
        for i in 0..count as usize {
            let j = rng.gen_range(i..all.len());
            all.swap(i, j);
        }
        all[..count as usize]
            .iter()
            .map(|&e| elem_reply(e))
            .collect()
    } else {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(count as usize);
        while (seen.len() as u64) < count {
            let e = s.random(&mut rng);
            if seen.insert(e) {
                out.push(elem_reply(e));
            }
        }
        out
    };
    Ok(Reply::Array(out))
}

pub fn sscan(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cursor = crate::util::num::parse_strtoul(&a[2]).ok_or_else(ErrorReply::invalid_cursor)?;
    let Some(s) = read_set(ctx, &a[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_opts(&a[3..])?;
    let collected = Cell::new(0);
    let mut items = Vec::new();
    let next = s.scan(cursor, opts.budget(&collected), |m| {
        collected.set(collected.get() + 1);
        if opts.matches(&m) {
            items.push(elem_reply(m));
        }
    });
    Ok(scan_reply(next, items))
}
