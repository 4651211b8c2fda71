//! Hash commands: HSET/HSETNX/HMSET, HGET/HMGET/HEXISTS/HSTRLEN/HLEN, HDEL, HKEYS/HVALS/
//! HGETALL, HINCRBY/HINCRBYFLOAT, HRANDFIELD and HSCAN, with Redis 7.0's replies and errors.
//! The representation (listpack-like pack or hashtable, and when to convert) is
//! `store::types::hash`; this file parses arguments, applies Redis's order of checks and
//! shapes replies. Also home of the SCAN-option parser shared with SSCAN.
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply, RespVersion};
use crate::store::notify;
use crate::store::types::dict::Elem;
use crate::store::types::hash::{Hash, Limits};
use crate::store::Value;
use crate::util::glob;
use crate::util::longdouble::LongDouble;
use crate::util::num::parse_i64;
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::Cell;
use std::collections::HashSet;

type R = Result<Reply, ErrorReply>;

pub(super) fn elem_reply(e: Elem) -> Reply {
    match e {
        Elem::Str(s) => Reply::bulk(s),
        Elem::Int(i) => Reply::bulk(crate::util::num::IntStr::new(i).as_bytes()),
    }
}

/// A private RNG seeded from the store's, so a command can draw numbers while it holds a
/// borrow of a value inside the store.
pub(super) fn command_rng(ctx: &mut Ctx) -> SmallRng {
    SmallRng::seed_from_u64(ctx.store.rng().gen())
}

fn limits(ctx: &Ctx) -> Limits {
    let c = ctx.shared.config();
    Limits {
        max_entries: c.hot.hash_max_listpack_entries,
        max_value: c.hot.hash_max_listpack_value,
    }
}

/// The hash at `key` for a read command; WRONGTYPE for another type.
fn read_hash<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Hash>, ErrorReply> {
    match ctx.read_value(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// Runs `f` on the hash at `key` for a write. `f` returns its result and whether it changed
/// the hash; a change raises keyspace event `event` (and `del` when the hash is left empty,
/// which deletes its key). A missing key gives `None`, unless `create`: then `f` runs on a new
/// hash, which is stored if `f` left it non-empty.
fn update_hash<T>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    event: &'static str,
    f: impl FnOnce(&mut Hash) -> Result<(T, bool), ErrorReply>,
) -> Result<Option<T>, ErrorReply> {
    match ctx.write_value(key) {
        Some(Value::Hash(h)) => {
            let (t, changed) = f(h)?;
            let empty = h.is_empty();
            if changed {
                ctx.modified(key);
                ctx.notify(notify::HASH, event, key);
            }
            if empty {
                ctx.delete_key(key);
                ctx.notify(notify::GENERIC, "del", key);
            }
            Ok(Some(t))
        }
        Some(_) => Err(ErrorReply::wrong_type()),
        None if create => {
            let mut h = Hash::default();
            let (t, _) = f(&mut h)?;
            if !h.is_empty() {
                ctx.put_value(key, Value::Hash(crate::store::CowBox::new(h)));
                ctx.notify(notify::HASH, event, key);
            }
            Ok(Some(t))
        }
        None => Ok(None),
    }
}

/// HSET / HMSET: field-value pairs; returns the number of new fields.
fn set_pairs(ctx: &mut Ctx, a: &[Bytes], name: &str) -> Result<i64, ErrorReply> {
    if a.len() % 2 == 1 {
        return Err(ErrorReply::wrong_arity(name));
    }
    let lim = limits(ctx);
    let created = update_hash(ctx, &a[1], true, "hset", |h| {
        h.prepare_for(a[2..].iter().map(|b| b.as_ref()), lim);
        let n = a[2..]
            .chunks(2)
            .filter(|p| h.set(&p[0], &p[1], lim))
            .count();
        Ok((n as i64, true))
    })?;
    Ok(created.unwrap_or(0))
}

pub fn hset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    set_pairs(ctx, a, "hset").map(Reply::Int)
}

pub fn hmset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    set_pairs(ctx, a, "hmset").map(|_| Reply::Ok)
}

pub fn hsetnx(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let lim = limits(ctx);
    let set = update_hash(ctx, &a[1], true, "hset", |h| {
        if h.contains(&a[2]) {
            return Ok((false, false));
        }
        h.prepare_for([a[2].as_ref(), a[3].as_ref()].into_iter(), lim);
        h.set(&a[2], &a[3], lim);
        Ok((true, true))
    })?;
    Ok(Reply::Int((set == Some(true)) as i64))
}

pub fn hget(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let h = read_hash(ctx, &a[1])?;
    Ok(h.and_then(|h| h.get(&a[2])).map_or(Reply::Nil, elem_reply))
}

pub fn hmget(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let h = read_hash(ctx, &a[1])?;
    let get = |f: &Bytes| {
        h.as_ref()
            .and_then(|h| h.get(f))
            .map_or(Reply::Nil, elem_reply)
    };
    Ok(Reply::Array(a[2..].iter().map(get).collect()))
}

pub fn hexists(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let h = read_hash(ctx, &a[1])?;
    Ok(Reply::Int(h.is_some_and(|h| h.contains(&a[2])) as i64))
}

pub fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let h = read_hash(ctx, &a[1])?;
    Ok(Reply::Int(
        h.and_then(|h| h.get(&a[2])).map_or(0, |v| v.len()) as i64,
    ))
}

pub fn hlen(ctx: &mut Ctx, a: &[Bytes]) -> R {
    Ok(Reply::Int(
        read_hash(ctx, &a[1])?.map_or(0, |h| h.len()) as i64
    ))
}

pub fn hdel(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let removed = update_hash(ctx, &a[1], false, "hdel", |h| {
        let mut n = 0;
        for f in &a[2..] {
            n += h.remove(f) as i64;
            if h.is_empty() {
                break;
            }
        }
        Ok((n, n > 0))
    })?;
    Ok(Reply::Int(removed.unwrap_or(0)))
}

/// HKEYS / HVALS / HGETALL.
fn get_all(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) -> R {
    let Some(h) = read_hash(ctx, key)? else {
        return Ok(if fields && values {
            Reply::Map(Vec::new())
        } else {
            Reply::Array(Vec::new())
        });
    };
    if fields && values {
        return Ok(Reply::Map(
            h.iter()
                .map(|(f, v)| (elem_reply(f), elem_reply(v)))
                .collect(),
        ));
    }
    Ok(Reply::Array(
        h.iter()
            .map(|(f, v)| elem_reply(if fields { f } else { v }))
            .collect(),
    ))
}

pub fn hkeys(ctx: &mut Ctx, a: &[Bytes]) -> R {
    get_all(ctx, &a[1], true, false)
}

pub fn hvals(ctx: &mut Ctx, a: &[Bytes]) -> R {
    get_all(ctx, &a[1], false, true)
}

pub fn hgetall(ctx: &mut Ctx, a: &[Bytes]) -> R {
    get_all(ctx, &a[1], true, true)
}

pub fn hincrby(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let incr = int_arg(&a[3])?;
    let lim = limits(ctx);
    let new = update_hash(ctx, &a[1], true, "hincrby", |h| {
        let cur = match h.get(&a[2]) {
            None => 0,
            Some(Elem::Int(i)) => i,
            Some(Elem::Str(s)) => parse_i64(s).ok_or_else(ErrorReply::hash_not_integer)?,
        };
        let new = cur.checked_add(incr).ok_or_else(ErrorReply::overflow)?;
        h.set(&a[2], crate::util::num::IntStr::new(new).as_bytes(), lim);
        Ok((new, true))
    })?;
    Ok(Reply::Int(new.expect("created")))
}

/// HINCRBYFLOAT adds in x87 long double and stores the `%.17Lf`-style text, as INCRBYFLOAT.
pub fn hincrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let incr = LongDouble::parse(&a[3]).ok_or_else(ErrorReply::not_float)?;
    if !incr.is_finite() {
        return Err(ErrorReply::value_nan_or_inf());
    }
    let lim = limits(ctx);
    let text = update_hash(ctx, &a[1], true, "hincrbyfloat", |h| {
        let cur = match h.get(&a[2]) {
            None => LongDouble::Zero { neg: false },
            Some(v) => LongDouble::parse(&v.bytes()).ok_or_else(ErrorReply::hash_not_float)?,
        };
        let new = cur.add(incr);
        if !new.is_finite() {
            return Err(ErrorReply::nan_or_inf());
        }
        let text = new.to_human_string();
        h.set(&a[2], text.as_bytes(), lim);
        Ok((text, true))
    })?;
    let text = text.expect("created");
    ctx.propagate_as(vec![
        Bytes::from_static(b"HSET"),
        a[1].clone(),
        a[2].clone(),
        Bytes::from(text.clone()),
    ]);
    Ok(Reply::bulk(text.as_bytes()))
}

/// HRANDFIELD key [count [WITHVALUES]]: the count and option are checked before the key.
pub fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() >= 3 {
        let l = int_arg(&a[2])?;
        if l == i64::MIN {
            return Err(ErrorReply::range_between(-i64::MAX, i64::MAX));
        }
        let withvalues = match a.len() {
            3 => false,
            4 if is(&a[3], "WITHVALUES") => true,
            _ => return Err(ErrorReply::syntax()),
        };
        if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            return Err(ErrorReply::value_out_of_range());
        }
        return hrandfield_count(ctx, &a[1], l, withvalues);
    }
    let mut rng = command_rng(ctx);
    let Some(h) = read_hash(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    Ok(elem_reply(h.random(&mut rng).0))
}

/// Redis's cases: a negative count samples with repetition (random order); a count of at
/// least the size returns the whole hash in its order; else `count` distinct fields, picked
/// by elimination when that is most of the hash, or by repeated draws otherwise.
fn hrandfield_count(ctx: &mut Ctx, key: &[u8], l: i64, withvalues: bool) -> R {
    let nested = withvalues && ctx.client.resp == RespVersion::Resp3;
    let mut rng = command_rng(ctx);
    let Some(h) = read_hash(ctx, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let size = h.len() as u64;
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    if !uniq && count > super::RANDOM_REPLY_MAX {
        return Err(ErrorReply::value_out_of_range());
    }
    let replies = if uniq { count.min(size) } else { count };
    let per = if withvalues && !nested { 2 } else { 1 };
    let mut out = Vec::with_capacity(replies.min(1 << 20) as usize * per);
    let mut push = |f: Elem, v: Elem| {
        if nested {
            out.push(Reply::Array(vec![elem_reply(f), elem_reply(v)]));
        } else {
            out.push(elem_reply(f));
            if withvalues {
                out.push(elem_reply(v));
            }
        }
    };
    if !uniq || count == 1 {
        for _ in 0..count {
            let (f, v) = h.random(&mut rng);
            push(f, v);
        }
    } else if count >= size {
        h.iter().for_each(|(f, v)| push(f, v));
    } else if count * 3 > size {
        let mut all: Vec<_> = h.iter().collect();
        for i in 0..count as usize {
            let j = rng.gen_range(i..all.len());
            all.swap(i, j);
        }
        all.truncate(count as usize);
        all.into_iter().for_each(|(f, v)| push(f, v));
    } else {
        let mut seen = HashSet::new();
        while (seen.len() as u64) < count {
            let (f, v) = h.random(&mut rng);
            if seen.insert(f.to_vec()) {
                push(f, v);
            }
        }
    }
    Ok(Reply::Array(out))
}

/// HSCAN / SSCAN options (Redis's `scanGenericCommand`): COUNT must be >= 1, MATCH `*` is
/// the same as no pattern; anything else (TYPE included) is a syntax error.
pub(super) struct ScanOpts {
    pub count: usize,
    pub pattern: Option<Bytes>,
}

pub(super) fn scan_opts(a: &[Bytes]) -> Result<ScanOpts, ErrorReply> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < a.len() {
        if is(&a[i], "COUNT") && i + 1 < a.len() {
            let c = int_arg(&a[i + 1])?;
            if c < 1 {
                return Err(ErrorReply::syntax());
            }
            o.count = c as usize;
        } else if is(&a[i], "MATCH") && i + 1 < a.len() {
            o.pattern = Some(a[i + 1].clone()).filter(|p| p.as_ref() != b"*");
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 2;
    }
    Ok(o)
}

impl ScanOpts {
    /// Redis's loop bound for a hashtable: stop after COUNT*10 buckets or once `collected`
    /// (elements, counting a hash's field and value separately) reaches COUNT.
    pub(super) fn budget<'a>(&'a self, collected: &'a Cell<usize>) -> impl FnMut() -> bool + 'a {
        let mut iterations = self.count.saturating_mul(10);
        move || {
            let go = iterations > 0 && collected.get() < self.count;
            iterations = iterations.saturating_sub(1);
            go
        }
    }

    pub(super) fn matches(&self, e: &Elem) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| glob::matches(p, &e.bytes(), false))
    }
}

/// The `[cursor, [elements]]` reply of the SCAN family.
pub(super) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::bulk(cursor.to_string().as_bytes()),
        Reply::Array(items),
    ])
}

pub fn hscan(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cursor = crate::util::num::parse_strtoul(&a[2]).ok_or_else(ErrorReply::invalid_cursor)?;
    let Some(h) = read_hash(ctx, &a[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = scan_opts(&a[3..])?;
    let collected = Cell::new(0);
    let mut items = Vec::new();
    let next = h.scan(cursor, opts.budget(&collected), |f, v| {
        collected.set(collected.get() + 2);
        if opts.matches(&f) {
            items.push(elem_reply(f));
            items.push(elem_reply(v));
        }
    });
    Ok(scan_reply(next, items))
}
