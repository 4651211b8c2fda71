//! String commands: GET/SET and their options, the INCR family, APPEND, ranges, MGET/MSET, LCS.
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::{notify, Ttl, Value};
use crate::util::cstr::keyword_eq as is;
use crate::util::longdouble::LongDouble;
use crate::util::num::parse_i64;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// The string at `key` (None if missing), WRONGTYPE for other types. Counts hits/misses.
pub(super) fn read_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, ErrorReply> {
    let touch = ctx.touch();
    match ctx.store.lookup_read(ctx.client.db, key, ctx.now_ms, touch) {
        None => Ok(None),
        Some(e) => match e.value.as_bytes() {
            Some(b) => Ok(Some(Bytes::copy_from_slice(&b))),
            None => Err(ErrorReply::wrong_type()),
        },
    }
}

/// Checks that `key` is absent or a string, without counting a hit.
fn check_string(ctx: &mut Ctx, key: &[u8]) -> Result<bool, ErrorReply> {
    match ctx.store.lookup(ctx.client.db, key, ctx.now_ms, false) {
        None => Ok(false),
        Some(e) if e.value.is_string() => Ok(true),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// Stores a string value and raises `event` (none when empty: the caller raises its own).
/// A stored expiry also raises `expire`, as Redis's SET EX does.
fn store(ctx: &mut Ctx, key: &[u8], value: Value, ttl: Ttl, event: &'static str) {
    let old = ctx.store.insert(ctx.client.db, key, value, ttl);
    if let Some(old) = old {
        ctx.store.free(old);
    }
    ctx.modified(key);
    if !event.is_empty() {
        ctx.notify(notify::STRING, event, key);
        if let Ttl::At(_) = ttl {
            ctx.notify(notify::GENERIC, "expire", key);
        }
    }
}

/// GET, without an intermediate copy: the reply is built straight from the stored value.
pub fn get(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let touch = ctx.touch();
    match ctx
        .store
        .lookup_read(ctx.client.db, &a[1], ctx.now_ms, touch)
    {
        None => Ok(Reply::Nil),
        Some(e) => match &e.value {
            Value::Int(i) => Ok(Reply::bulk(crate::util::num::IntStr::new(*i).as_bytes())),
            Value::Str(s) => Ok(Reply::bulk(s)),
            Value::Raw(v) => Ok(Reply::bulk(v)),
            _ => Err(ErrorReply::wrong_type()),
        },
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Millis,
}

/// Parses an expire argument into absolute unix ms (Redis's getExpireMillisecondsOrReply).
fn expire_ms(
    ctx: &Ctx,
    arg: &[u8],
    unit: Unit,
    relative: bool,
    cmd: &str,
) -> Result<u64, ErrorReply> {
    let v = int_arg(arg)?;
    if v <= 0 || (unit == Unit::Seconds && v > i64::MAX / 1000) {
        return Err(ErrorReply::invalid_expire(cmd));
    }
    let mut ms = if unit == Unit::Seconds { v * 1000 } else { v };
    if relative {
        ms = ms.wrapping_add(ctx.now_ms as i64);
    }
    if ms <= 0 {
        return Err(ErrorReply::invalid_expire(cmd));
    }
    Ok(ms as u64)
}

/// Which expiry option SET / GETEX was given (at most one of them).
#[derive(Clone, Copy, PartialEq)]
enum ExpireOpt {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireOpt {
    fn unit(self) -> Unit {
        if matches!(self, ExpireOpt::Ex | ExpireOpt::ExAt) {
            Unit::Seconds
        } else {
            Unit::Millis
        }
    }

    fn relative(self) -> bool {
        matches!(self, ExpireOpt::Ex | ExpireOpt::Px)
    }
}

#[derive(Default)]
struct SetOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The expiry option and its still unparsed argument: Redis validates the time only after
    /// every option parsed (and GETEX only once the key is found).
    expire: Option<(ExpireOpt, &'a [u8])>,
}

impl SetOpts<'_> {
    /// The absolute expiry in unix ms, if an expiry option was given.
    fn expire_at(&self, ctx: &Ctx, cmd: &str) -> Result<Option<u64>, ErrorReply> {
        self.expire
            .map(|(opt, arg)| expire_ms(ctx, arg, opt.unit(), opt.relative(), cmd))
            .transpose()
    }
}

/// Parses SET / GETEX options from `args` (after the fixed arguments), as Redis's
/// `parseExtendedStringArgumentsOrReply`: an option conflicting with one already given is a
/// syntax error, but repeating the same one (`EX 1 EX 2`, `NX NX`) is allowed, the last wins.
fn parse_set_opts(args: &[Bytes], getex: bool) -> Result<SetOpts<'_>, ErrorReply> {
    let mut o = SetOpts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let expire_kind = if is(a, "EX") {
            Some(ExpireOpt::Ex)
        } else if is(a, "PX") {
            Some(ExpireOpt::Px)
        } else if is(a, "EXAT") {
            Some(ExpireOpt::ExAt)
        } else if is(a, "PXAT") {
            Some(ExpireOpt::PxAt)
        } else {
            None
        };
        let other_expire = |k: ExpireOpt| o.expire.is_some_and(|(e, _)| e != k);
        if !getex && is(a, "NX") && !o.xx {
            o.nx = true;
        } else if !getex && is(a, "XX") && !o.nx {
            o.xx = true;
        } else if !getex && is(a, "GET") {
            o.get = true;
        } else if !getex && is(a, "KEEPTTL") && o.expire.is_none() {
            o.keepttl = true;
        } else if getex && is(a, "PERSIST") && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(k), Some(arg)) = (expire_kind, next) {
            if o.keepttl || o.persist || other_expire(k) {
                return Err(ErrorReply::syntax());
            }
            o.expire = Some((k, arg.as_ref()));
            i += 1;
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 1;
    }
    Ok(o)
}

pub fn set(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let o = parse_set_opts(&a[3..], false)?;
    let expire = o.expire_at(ctx, "set")?;
    let key = &a[1];
    let old = if o.get { read_string(ctx, key)? } else { None };
    // A plain SET needs no lookup before the insert (which replaces whatever is there); NX/XX
    // need existence, and KEEPTTL must not keep the TTL of a key that has already expired.
    let exists = if o.get {
        old.is_some()
    } else if o.nx || o.xx || o.keepttl {
        check_exists(ctx, key)
    } else {
        false
    };
    if (o.nx && exists) || (o.xx && !exists) {
        return Ok(if o.get {
            old.map_or(Reply::Nil, Reply::Bulk)
        } else {
            Reply::Nil
        });
    }
    let ttl = match (expire, o.keepttl) {
        (Some(at), _) => Ttl::At(at),
        (None, true) => Ttl::Keep,
        _ => Ttl::Clear,
    };
    set_with_ttl(ctx, key, &a[2], ttl);
    Ok(if o.get {
        old.map_or(Reply::Nil, Reply::Bulk)
    } else {
        Reply::Ok
    })
}

fn check_exists(ctx: &mut Ctx, key: &[u8]) -> bool {
    ctx.store.exists(ctx.client.db, key, ctx.now_ms)
}

/// Stores a value. With an expiry, replicas get `SET key value PXAT ms`. An expiry already in
/// the past is stored as given, as Redis 7.0 does: the key counts in DBSIZE until expiry
/// reclaims it (no command sees it meanwhile) and then goes with an `expired` event and a DEL.
fn set_with_ttl(ctx: &mut Ctx, key: &Bytes, v: &Bytes, ttl: Ttl) {
    if let Ttl::At(at) = ttl {
        ctx.propagate_as(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            v.clone(),
            Bytes::from_static(b"PXAT"),
            Bytes::from(at.to_string()),
        ]);
    }
    store(ctx, key, Value::from_bytes(v), ttl, "set");
}

pub fn setnx(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if check_exists(ctx, &a[1]) {
        return Ok(Reply::Int(0));
    }
    store(ctx, &a[1], Value::from_bytes(&a[2]), Ttl::Clear, "set");
    Ok(Reply::Int(1))
}

fn setex_generic(ctx: &mut Ctx, a: &[Bytes], unit: Unit, cmd: &str) -> R {
    let at = expire_ms(ctx, &a[2], unit, true, cmd)?;
    set_with_ttl(ctx, &a[1], &a[3], Ttl::At(at));
    Ok(Reply::Ok)
}

pub fn setex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setex_generic(ctx, a, Unit::Seconds, "setex")
}

pub fn psetex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    setex_generic(ctx, a, Unit::Millis, "psetex")
}

pub fn getset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let old = read_string(ctx, &a[1])?;
    store(ctx, &a[1], Value::from_bytes(&a[2]), Ttl::Clear, "set");
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

pub fn getdel(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let old = read_string(ctx, &a[1])?;
    if old.is_some() {
        ctx.store.remove(ctx.client.db, &a[1], ctx.now_ms, false);
        ctx.modified(&a[1]);
        ctx.notify(notify::GENERIC, "del", &a[1]);
        // Propagated as DEL, as Redis 7.0 does.
        ctx.propagate_as(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
    }
    Ok(old.map_or(Reply::Nil, Reply::Bulk))
}

/// GETEX: the options are checked first, then the key is looked up, and only then is the
/// expiry time validated (so a missing key answers nil even for `EX 0`).
pub fn getex(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let o = parse_set_opts(&a[2..], true)?;
    let Some(v) = read_string(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    let expire = o.expire_at(ctx, "getex")?;
    let db = ctx.client.db;
    if let Some(at) = expire {
        let event = if at <= ctx.now_ms {
            ctx.store.remove(db, &a[1], ctx.now_ms, false);
            ctx.propagate_as(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
            "del"
        } else {
            ctx.store.db_mut(db).set_expire(&a[1], Some(at));
            ctx.propagate_as(super::pexpireat_args(&a[1], at));
            "expire"
        };
        ctx.modified(&a[1]);
        ctx.notify(notify::GENERIC, event, &a[1]);
    } else if o.persist
        && ctx
            .store
            .db(db)
            .get(&a[1])
            .and_then(|e| e.expire_at())
            .is_some()
    {
        ctx.store.db_mut(db).set_expire(&a[1], None);
        ctx.modified(&a[1]);
        ctx.propagate_as(vec![Bytes::from_static(b"PERSIST"), a[1].clone()]);
        ctx.notify(notify::GENERIC, "persist", &a[1]);
    }
    Ok(Reply::Bulk(v))
}

/// The integer held at `key` (0 when missing).
fn current_int(ctx: &mut Ctx, key: &[u8]) -> Result<i64, ErrorReply> {
    match ctx
        .store
        .lookup(ctx.client.db, key, ctx.now_ms, ctx.touch())
    {
        None => Ok(0),
        Some(e) => match &e.value {
            Value::Int(i) => Ok(*i),
            v => match v.as_bytes() {
                Some(b) => parse_i64(&b).ok_or_else(ErrorReply::not_integer),
                None => Err(ErrorReply::wrong_type()),
            },
        },
    }
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> R {
    let cur = current_int(ctx, key)?;
    let new = cur.checked_add(by).ok_or_else(ErrorReply::overflow)?;
    store(ctx, key, Value::Int(new), Ttl::Keep, "incrby");
    Ok(Reply::Int(new))
}

pub fn incr(ctx: &mut Ctx, a: &[Bytes]) -> R {
    incr_by(ctx, &a[1], 1)
}

pub fn decr(ctx: &mut Ctx, a: &[Bytes]) -> R {
    incr_by(ctx, &a[1], -1)
}

pub fn incrby(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let by = int_arg(&a[2])?;
    incr_by(ctx, &a[1], by)
}

pub fn decrby(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let by = int_arg(&a[2])?;
    if by == i64::MIN {
        return Err(ErrorReply::decr_overflow());
    }
    incr_by(ctx, &a[1], -by)
}

/// INCRBYFLOAT computes in x87 `long double` as Redis does (see `util::longdouble`): both the
/// stored value and the increment must parse as one, and the sum is stored as its `%.17Lf`
/// text with trailing zeros removed.
pub fn incrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cur = match ctx
        .store
        .lookup(ctx.client.db, &a[1], ctx.now_ms, ctx.touch())
    {
        None => LongDouble::Zero { neg: false },
        Some(e) => match e.value.as_bytes() {
            Some(b) => LongDouble::parse(&b).ok_or_else(ErrorReply::not_float)?,
            None => return Err(ErrorReply::wrong_type()),
        },
    };
    let by = LongDouble::parse(&a[2]).ok_or_else(ErrorReply::not_float)?;
    let new = cur.add(by);
    if !new.is_finite() {
        return Err(ErrorReply::nan_or_inf());
    }
    let text = new.to_human_string();
    store(
        ctx,
        &a[1],
        Value::Str(crate::store::bytes::SmallBytes::new(text.as_bytes())),
        Ttl::Keep,
        "incrbyfloat",
    );
    // Replicas store the result, not the addition (float rounding may differ).
    ctx.propagate_as(vec![
        Bytes::from_static(b"SET"),
        a[1].clone(),
        Bytes::from(text.clone()),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Ok(Reply::bulk(text.as_bytes()))
}

pub fn append(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let max = ctx.proto_max_bulk_len();
    let db = ctx.client.db;
    let touch = ctx.touch();
    let len = match ctx.store.lookup(db, &a[1], ctx.now_ms, touch) {
        None => None,
        Some(e) => {
            if !e.value.is_string() {
                return Err(ErrorReply::wrong_type());
            }
            if (e.value.str_len() + a[2].len()) as i64 > max {
                return Err(ErrorReply::string_too_long());
            }
            let buf = e.value.make_raw();
            buf.extend_from_slice(&a[2]);
            Some(buf.len())
        }
    };
    let len = match len {
        Some(l) => l,
        None => {
            // A new key holds the argument encoded as SET would store it (int / embstr / raw);
            // only a later APPEND turns it into a growable raw string.
            store(ctx, &a[1], Value::from_bytes(&a[2]), Ttl::Clear, "");
            a[2].len()
        }
    };
    ctx.modified(&a[1]);
    ctx.notify(notify::STRING, "append", &a[1]);
    Ok(Reply::Int(len as i64))
}

pub fn strlen(ctx: &mut Ctx, a: &[Bytes]) -> R {
    match ctx
        .store
        .lookup_read(ctx.client.db, &a[1], ctx.now_ms, ctx.touch())
    {
        None => Ok(Reply::Int(0)),
        Some(e) if e.value.is_string() => Ok(Reply::Int(e.value.str_len() as i64)),
        Some(_) => Err(ErrorReply::wrong_type()),
    }
}

/// Redis's GETRANGE index arithmetic; returns the byte range to reply with.
pub(super) fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return None;
    }
    Some((s as usize, e as usize))
}

pub fn getrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (start, end) = (int_arg(&a[2])?, int_arg(&a[3])?);
    let Some(v) = read_string(ctx, &a[1])? else {
        return Ok(Reply::bulk(b""));
    };
    Ok(match clamp_range(start, end, v.len()) {
        Some((s, e)) => Reply::Bulk(v.slice(s..=e)),
        None => Reply::bulk(b""),
    })
}

pub fn substr(ctx: &mut Ctx, a: &[Bytes]) -> R {
    getrange(ctx, a)
}

pub fn setrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let offset = int_arg(&a[2])?;
    if offset < 0 {
        return Err(ErrorReply::offset_out_of_range());
    }
    let value = &a[3];
    let exists = check_string(ctx, &a[1])?;
    if value.is_empty() {
        let len = if exists {
            ctx.store
                .db(ctx.client.db)
                .get(&a[1])
                .map_or(0, |e| e.value.str_len())
        } else {
            0
        };
        return Ok(Reply::Int(len as i64));
    }
    if offset as i128 + value.len() as i128 > ctx.proto_max_bulk_len() as i128 {
        return Err(ErrorReply::string_too_long());
    }
    let offset = offset as usize;
    if !exists {
        store(ctx, &a[1], Value::Raw(Box::default()), Ttl::Clear, "");
    }
    let e = ctx
        .store
        .db_mut(ctx.client.db)
        .get_mut(&a[1])
        .expect("just checked");
    let buf = e.value.make_raw();
    if buf.len() < offset + value.len() {
        buf.resize(offset + value.len(), 0);
    }
    buf[offset..offset + value.len()].copy_from_slice(value);
    let len = buf.len();
    ctx.modified(&a[1]);
    ctx.notify(notify::STRING, "setrange", &a[1]);
    Ok(Reply::Int(len as i64))
}

pub fn mget(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let touch = ctx.touch();
    let mut out = Vec::with_capacity(a.len() - 1);
    for k in &a[1..] {
        let r = match ctx.store.lookup_read(ctx.client.db, k, ctx.now_ms, touch) {
            Some(e) => e.value.as_bytes().map_or(Reply::Nil, |b| Reply::bulk(&b)),
            None => Reply::Nil,
        };
        out.push(r);
    }
    Ok(Reply::Array(out))
}

pub fn mset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() % 2 == 0 {
        return Err(ErrorReply::wrong_arity("mset"));
    }
    for kv in a[1..].chunks(2) {
        store(ctx, &kv[0], Value::from_bytes(&kv[1]), Ttl::Clear, "set");
    }
    Ok(Reply::Ok)
}

pub fn msetnx(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() % 2 == 0 {
        return Err(ErrorReply::wrong_arity("msetnx"));
    }
    for kv in a[1..].chunks(2) {
        if check_exists(ctx, &kv[0]) {
            return Ok(Reply::Int(0));
        }
    }
    for kv in a[1..].chunks(2) {
        store(ctx, &kv[0], Value::from_bytes(&kv[1]), Ttl::Clear, "set");
    }
    Ok(Reply::Int(1))
}

/// LCS, in Redis's order: both keys looked up and type-checked first, then the options.
pub fn lcs(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let mut strs = Vec::with_capacity(2);
    let mut wrong_type = false;
    for k in &a[1..3] {
        let v = match ctx
            .store
            .lookup_read(ctx.client.db, k, ctx.now_ms, ctx.touch())
        {
            None => Bytes::new(),
            Some(e) => match e.value.as_bytes() {
                Some(b) => Bytes::copy_from_slice(&b),
                None => {
                    wrong_type = true;
                    Bytes::new()
                }
            },
        };
        strs.push(v);
    }
    if wrong_type {
        return Err(ErrorReply::lcs_not_strings());
    }
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "IDX") {
            get_idx = true;
        } else if is(&a[i], "LEN") {
            get_len = true;
        } else if is(&a[i], "WITHMATCHLEN") {
            with_len = true;
        } else if is(&a[i], "MINMATCHLEN") && i + 1 < a.len() {
            min_len = int_arg(&a[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 1;
    }
    if get_idx && get_len {
        return Err(ErrorReply::lcs_idx_len());
    }
    let (x, y) = (&strs[0], &strs[1]);
    let cells = (x.len() as u128 + 1) * (y.len() as u128 + 1) * 4;
    if cells > ctx.proto_max_bulk_len() as u128 {
        return Err(ErrorReply::lcs_too_big());
    }
    Ok(lcs_reply(
        x,
        y,
        get_len,
        get_idx,
        with_len,
        min_len as usize,
    ))
}

fn lcs_reply(
    x: &[u8],
    y: &[u8],
    get_len: bool,
    get_idx: bool,
    with_len: bool,
    min_len: usize,
) -> Reply {
    let (alen, blen) = (x.len(), y.len());
    let w = blen + 1;
    let mut t = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if x[i - 1] == y[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    if get_len {
        return Reply::Int(total as i64);
    }
    let mut result = vec![0u8; total];
    let mut matches = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if x[i - 1] == y[j - 1] {
            result[idx - 1] = x[i - 1];
            if a_start == alen {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let mlen = a_end - a_start + 1;
            if min_len == 0 || mlen >= min_len {
                let range = |s: usize, e: usize| {
                    Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)])
                };
                let mut m = vec![range(a_start, a_end), range(b_start, b_end)];
                if with_len {
                    m.push(Reply::Int(mlen as i64));
                }
                matches.push(Reply::Array(m));
            }
            a_start = alen;
        }
    }
    if get_idx {
        Reply::Map(vec![
            (Reply::bulk(b"matches"), Reply::Array(matches)),
            (Reply::bulk(b"len"), Reply::Int(total as i64)),
        ])
    } else {
        Reply::bulk(&result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_clamps_like_redis() {
        assert_eq!(clamp_range(0, 4294967297, 3), Some((0, 2)));
        assert_eq!(clamp_range(-1, -2, 3), None);
        assert_eq!(clamp_range(-100, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(5, 10, 3), None);
    }

    #[test]
    fn lcs_matches_redis_example() {
        // From the Redis docs: LCS ohmytext mynewtext -> "mytext".
        assert_eq!(
            lcs_reply(b"ohmytext", b"mynewtext", false, false, false, 0),
            Reply::bulk(b"mytext")
        );
        assert_eq!(
            lcs_reply(b"ohmytext", b"mynewtext", true, false, false, 0),
            Reply::Int(6)
        );
        let idx = lcs_reply(b"ohmytext", b"mynewtext", false, true, false, 4);
        let r = |a: i64, b: i64| Reply::Array(vec![Reply::Int(a), Reply::Int(b)]);
        assert_eq!(
            idx,
            Reply::Map(vec![
                (
                    Reply::bulk(b"matches"),
                    Reply::Array(vec![Reply::Array(vec![r(4, 7), r(5, 8)])])
                ),
                (Reply::bulk(b"len"), Reply::Int(6)),
            ])
        );
    }
}
