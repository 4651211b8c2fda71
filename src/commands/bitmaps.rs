//! Bitmap commands on strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.
//! Bit 0 is the most significant bit of the first byte, as in Redis.
use super::strings::clamp_range;
use super::{int_arg, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::{notify, Ttl, Value};
use crate::util::cstr::keyword_eq as is;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// A bit offset argument (`getBitOffsetFromArgument`), optionally `#N` (N * bits). As in Redis
/// the `#` product wraps on overflow before the range check, so a wrapped product that lands
/// in range is accepted.
fn bit_offset(ctx: &Ctx, arg: &[u8], hash_ok: bool, bits: u64) -> Result<u64, ErrorReply> {
    let use_hash = hash_ok && bits > 0 && arg.first() == Some(&b'#');
    let digits = if use_hash { &arg[1..] } else { arg };
    let mut off = crate::util::num::parse_i64(digits).ok_or_else(ErrorReply::bit_offset)?;
    if use_hash {
        off = off.wrapping_mul(bits as i64);
    }
    if off < 0 || (off >> 3) >= ctx.proto_max_bulk_len() {
        return Err(ErrorReply::bit_offset());
    }
    Ok(off as u64)
}

/// The string at `key` as bytes (empty when missing); WRONGTYPE otherwise.
fn read(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, ErrorReply> {
    Ok(super::strings::read_string(ctx, key)?.map(|b| b.to_vec()))
}

/// The growable buffer of `key`, created when missing, at least `min_len` bytes long.
/// The string at `key` as a buffer of at least `min_len` bytes, and whether that created or
/// grew it (a change even if no bit flips, as Redis's lookupStringForBitCommand counts it).
fn writable<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    min_len: usize,
) -> Result<(&'a mut Vec<u8>, bool), ErrorReply> {
    let db = ctx.client.db;
    let mut grew = false;
    match ctx.store.lookup(db, key, ctx.now_ms, true) {
        Some(e) if !e.value.is_string() => return Err(ErrorReply::wrong_type()),
        Some(_) => {}
        None => {
            ctx.store
                .insert(db, key, Value::Raw(Box::default()), Ttl::Clear);
            grew = true;
        }
    }
    let e = ctx.store.db_mut(db).get_mut(key).expect("present");
    let buf = e.value.make_raw();
    if buf.len() < min_len {
        buf.resize(min_len, 0);
        grew = true;
    }
    Ok((buf, grew))
}

pub fn setbit(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let off = bit_offset(ctx, &a[2], false, 0)?;
    let on = match a[3].as_ref() {
        b"1" => true,
        b"0" => false,
        _ => return Err(ErrorReply::bit_value()),
    };
    let byte = (off >> 3) as usize;
    let (buf, grew) = writable(ctx, &a[1], byte + 1)?;
    let mask = 1u8 << (7 - (off & 7));
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    // Setting a bit to what it was is no write (not counted in dirty, nor notified).
    if grew || old != on {
        ctx.modified(&a[1]);
        ctx.notify(notify::STRING, "setbit", &a[1]);
    }
    Ok(Reply::Int(old as i64))
}

pub fn getbit(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let off = bit_offset(ctx, &a[2], false, 0)?;
    let v = read(ctx, &a[1])?.unwrap_or_default();
    let byte = (off >> 3) as usize;
    Ok(Reply::Int(
        v.get(byte).map_or(0, |b| (b >> (7 - (off & 7))) & 1) as i64,
    ))
}

/// Parses `[start end [BYTE|BIT]]` into a bit range over a string of `len` bytes.
fn bit_range(a: &[Bytes], len: usize) -> Result<Option<(u64, u64)>, ErrorReply> {
    let start = int_arg(&a[0])?;
    let end = int_arg(&a[1])?;
    // An empty negative range answers 0 before the unit is looked at, as Redis's bitcount.
    if start < 0 && end < 0 && start > end {
        return Ok(None);
    }
    let bit_mode = a
        .get(2)
        .map(|m| index_unit(m))
        .transpose()?
        .unwrap_or(false);
    let total = if bit_mode { len as u64 * 8 } else { len as u64 };
    let Some((s, e)) = clamp_range(start, end, total as usize) else {
        return Ok(None);
    };
    Ok(Some(if bit_mode {
        (s as u64, e as u64)
    } else {
        (s as u64 * 8, e as u64 * 8 + 7)
    }))
}

fn bit_at(v: &[u8], i: u64) -> bool {
    (v[(i >> 3) as usize] >> (7 - (i & 7))) & 1 == 1
}

/// BITCOUNT looks the key up first: a missing key counts 0 whatever the other arguments.
pub fn bitcount(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let Some(v) = read(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let (s, e) = match a.len() {
        2 if v.is_empty() => return Ok(Reply::Int(0)),
        2 => (0, v.len() as u64 * 8 - 1),
        4 | 5 => match bit_range(&a[2..], v.len())? {
            Some(r) => r,
            None => return Ok(Reply::Int(0)),
        },
        _ => return Err(ErrorReply::syntax()),
    };
    // Whole bytes in the middle, single bits at the edges.
    let mut n = 0u64;
    let mut i = s;
    while i <= e {
        if i & 7 == 0 && i + 7 <= e {
            n += v[(i >> 3) as usize].count_ones() as u64;
            i += 8;
        } else {
            n += bit_at(&v, i) as u64;
            i += 1;
        }
    }
    Ok(Reply::Int(n as i64))
}

/// `BYTE` / `BIT`: whether a range is in bits.
fn index_unit(arg: &[u8]) -> Result<bool, ErrorReply> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(ErrorReply::syntax())
    }
}

/// BITPOS, checked in Redis's order: the bit, then the key (a missing key is all zeros), then
/// the argument count, start, unit and end. Unlike BITCOUNT there is no early exit for two
/// negative indexes.
pub fn bitpos(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let bit = match int_arg(&a[2])? {
        0 => false,
        1 => true,
        _ => return Err(ErrorReply::bitpos_bit()),
    };
    let Some(v) = read(ctx, &a[1])? else {
        return Ok(Reply::Int(if bit { -1 } else { 0 }));
    };
    if a.len() > 6 {
        return Err(ErrorReply::syntax());
    }
    let (mut start, bit_mode, end) = if a.len() == 3 {
        (0, false, None)
    } else {
        let start = int_arg(&a[3])?;
        let bit_mode = if a.len() == 6 {
            index_unit(&a[5])?
        } else {
            false
        };
        let end = if a.len() >= 5 {
            Some(int_arg(&a[4])?)
        } else {
            None
        };
        (start, bit_mode, end)
    };
    let len = if bit_mode {
        v.len() as i64 * 8
    } else {
        v.len() as i64
    };
    let end_given = end.is_some();
    let mut end = end.unwrap_or(len - 1);
    if start < 0 {
        start = len.saturating_add(start);
    }
    if end < 0 {
        end = len.saturating_add(end);
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end {
        return Ok(Reply::Int(-1));
    }
    let (s, e) = if bit_mode {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    };
    for i in s..=e {
        if bit_at(&v, i) == bit {
            return Ok(Reply::Int(i as i64));
        }
    }
    // Looking for a clear bit with no explicit end: the string is padded with zeros on the right.
    if !bit && !end_given {
        return Ok(Reply::Int((e + 1) as i64));
    }
    Ok(Reply::Int(-1))
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

pub fn bitop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let op = [
        ("AND", BitOp::And),
        ("OR", BitOp::Or),
        ("XOR", BitOp::Xor),
        ("NOT", BitOp::Not),
    ]
    .into_iter()
    .find(|(name, _)| is(&a[1], name))
    .map(|(_, op)| op)
    .ok_or_else(ErrorReply::syntax)?;
    if op == BitOp::Not && a.len() != 4 {
        return Err(ErrorReply::bitop_not_one_key());
    }
    let mut srcs = Vec::new();
    for k in &a[3..] {
        srcs.push(read(ctx, k)?.unwrap_or_default());
    }
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; maxlen];
    for (i, o) in out.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *o = match op {
            BitOp::Not => !byte(&srcs[0]),
            BitOp::And => srcs.iter().map(byte).fold(0xff, |x, y| x & y),
            BitOp::Or => srcs.iter().map(byte).fold(0, |x, y| x | y),
            BitOp::Xor => srcs.iter().map(byte).fold(0, |x, y| x ^ y),
        };
    }
    let db = ctx.client.db;
    if out.is_empty() {
        if ctx.store.remove(db, &a[2], ctx.now_ms, false) {
            ctx.modified(&a[2]);
            ctx.notify(notify::GENERIC, "del", &a[2]);
        }
    } else {
        ctx.store
            .insert(db, &a[2], Value::Raw(Box::new(out)), Ttl::Clear);
        ctx.modified(&a[2]);
        ctx.notify(notify::STRING, "set", &a[2]);
    }
    Ok(Reply::Int(maxlen as i64))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug)]
struct FieldType {
    signed: bool,
    bits: u32,
}

fn field_type(arg: &[u8]) -> Result<FieldType, ErrorReply> {
    // Redis reads the type as a C string (`strlen`), so it ends at the first NUL.
    let arg = crate::util::cstr::until_nul(arg);
    // Redis 7.0 accepts only lowercase `i` / `u`.
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(ErrorReply::bitfield_type()),
    };
    let bits = crate::util::num::parse_i64(&arg[1..]).ok_or_else(ErrorReply::bitfield_type)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(ErrorReply::bitfield_type());
    }
    Ok(FieldType {
        signed,
        bits: bits as u32,
    })
}

enum Op {
    Get(FieldType, u64),
    Set(FieldType, u64, i64, Overflow),
    Incr(FieldType, u64, i64, Overflow),
}

fn get_field(v: &[u8], off: u64, t: FieldType) -> i64 {
    let mut u: u64 = 0;
    for i in 0..t.bits as u64 {
        let pos = off + i;
        let bit = v
            .get((pos >> 3) as usize)
            .map_or(0, |b| (b >> (7 - (pos & 7))) & 1);
        u = (u << 1) | bit as u64;
    }
    if t.signed && t.bits < 64 && (u >> (t.bits - 1)) & 1 == 1 {
        (u | (!0u64 << t.bits)) as i64
    } else {
        u as i64
    }
}

fn set_field(v: &mut [u8], off: u64, t: FieldType, value: i64) {
    let u = value as u64;
    for i in 0..t.bits as u64 {
        let bit = (u >> (t.bits as u64 - 1 - i)) & 1;
        let pos = off + i;
        let mask = 1u8 << (7 - (pos & 7));
        let b = &mut v[(pos >> 3) as usize];
        if bit == 1 {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// `value + incr` stored in a field of type `t` under overflow mode `ov`; None means FAIL.
/// A port of Redis's `checkSignedBitfieldOverflow` / `checkUnsignedBitfieldOverflow`, wrapping
/// intermediate arithmetic included, because it decides some edge cases differently from exact
/// arithmetic: `OVERFLOW SAT SET i5 0 -9223372036854775808` stores +15 (`max - value` wraps
/// negative, which reads as an upward overflow), and `SET u8 0 -1` overflows upwards (255
/// under SAT) since the unsigned field sees the value's 64-bit pattern.
fn apply_overflow(value: i64, incr: i64, t: FieldType, ov: Overflow) -> Option<i64> {
    let bits = t.bits;
    let (overflow_up, overflow_down, max, min) = if t.signed {
        let max: i64 = if bits == 64 {
            i64::MAX
        } else {
            (1i64 << (bits - 1)) - 1
        };
        let min = -max - 1;
        let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
        let min_incr = min.wrapping_sub(value);
        let up = value > max
            || (bits != 64 && incr > max_incr)
            || (value >= 0 && incr > 0 && incr > max_incr);
        let down = value < min
            || (bits != 64 && incr < min_incr)
            || (value < 0 && incr < 0 && incr < min_incr);
        (up, down, max, min)
    } else {
        let value = value as u64;
        let max: u64 = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let max_incr = max.wrapping_sub(value) as i64;
        let min_incr = value.wrapping_neg() as i64;
        let up = value > max || (incr > 0 && incr > max_incr);
        let down = incr < 0 && incr < min_incr;
        (up, down, max as i64, 0)
    };
    let sum = (value as u64).wrapping_add(incr as u64);
    if !overflow_up && !overflow_down {
        return Some(sum as i64);
    }
    match ov {
        Overflow::Fail => None,
        Overflow::Sat => Some(if overflow_up { max } else { min }),
        Overflow::Wrap if bits == 64 => Some(sum as i64),
        Overflow::Wrap => {
            let mask = u64::MAX << bits;
            let negative = t.signed && sum & (1u64 << (bits - 1)) != 0;
            Some(if negative { sum | mask } else { sum & !mask } as i64)
        }
    }
}

/// Parses the operations of BITFIELD / BITFIELD_RO the same way (Redis shares the parser):
/// BITFIELD_RO refuses SET / INCRBY only once the whole command parsed.
fn parse_bitfield(ctx: &Ctx, a: &[Bytes]) -> Result<Vec<Op>, ErrorReply> {
    let mut ops = Vec::new();
    let mut ov = Overflow::Wrap;
    let mut i = 2;
    while i < a.len() {
        let remaining = a.len() - i - 1;
        if is(&a[i], "OVERFLOW") && remaining >= 1 {
            ov = if is(&a[i + 1], "WRAP") {
                Overflow::Wrap
            } else if is(&a[i + 1], "SAT") {
                Overflow::Sat
            } else if is(&a[i + 1], "FAIL") {
                Overflow::Fail
            } else {
                return Err(ErrorReply::bitfield_overflow());
            };
            i += 2;
            continue;
        }
        let get = is(&a[i], "GET") && remaining >= 2;
        let set = is(&a[i], "SET") && remaining >= 3;
        let incr = is(&a[i], "INCRBY") && remaining >= 3;
        if !(get || set || incr) {
            return Err(ErrorReply::syntax());
        }
        let t = field_type(&a[i + 1])?;
        let off = bit_offset(ctx, &a[i + 2], true, t.bits as u64)?;
        if get {
            ops.push(Op::Get(t, off));
            i += 3;
            continue;
        }
        let v = int_arg(&a[i + 3])?;
        ops.push(if set {
            Op::Set(t, off, v, ov)
        } else {
            Op::Incr(t, off, v, ov)
        });
        i += 4;
    }
    Ok(ops)
}

/// Runs a parsed BITFIELD. Like Redis, a command with any write first grows the string to the
/// highest bit any SET / INCRBY may touch (even if it then fails on overflow); GETs past the
/// end read zeros.
fn bitfield_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> R {
    let ops = parse_bitfield(ctx, a)?;
    let write_end = ops
        .iter()
        .filter_map(|o| match o {
            Op::Set(t, off, ..) | Op::Incr(t, off, ..) => {
                Some(((off + t.bits as u64 - 1) >> 3) as usize + 1)
            }
            Op::Get(..) => None,
        })
        .max();
    let Some(write_end) = write_end else {
        let v = read(ctx, &a[1])?.unwrap_or_default();
        let get = |o: &Op| match o {
            Op::Get(t, off) => Reply::Int(get_field(&v, *off, *t)),
            _ => unreachable!("no writes"),
        };
        return Ok(Reply::Array(ops.iter().map(get).collect()));
    };
    if read_only {
        return Err(ErrorReply::bitfield_ro_write());
    }
    let (buf, grew) = writable(ctx, &a[1], write_end)?;
    let mut out = Vec::with_capacity(ops.len());
    let mut changes = 0;
    for op in ops {
        let is_write = !matches!(op, Op::Get(..));
        let mut changed = false;
        let reply = match op {
            Op::Get(t, off) => Reply::Int(get_field(buf, off, t)),
            Op::Set(t, off, val, ov) => {
                let old = get_field(buf, off, t);
                apply_overflow(val, 0, t, ov).map(|n| {
                    set_field(buf, off, t, n);
                    changed = get_field(buf, off, t) != old;
                    old
                })
            }
            .map_or(Reply::Nil, Reply::Int),
            Op::Incr(t, off, by, ov) => {
                let old = get_field(buf, off, t);
                apply_overflow(old, by, t, ov).map(|n| {
                    set_field(buf, off, t, n);
                    changed = n != old;
                    n
                })
            }
            .map_or(Reply::Nil, Reply::Int),
        };
        // A write that leaves the field as it was is no change (unless the string grew).
        if is_write && reply != Reply::Nil && (grew || changed) {
            changes += 1;
        }
        out.push(reply);
    }
    if changes > 0 {
        ctx.modified(&a[1]);
        ctx.store.dirty += changes - 1; // one per changing operation, as Redis counts
        ctx.notify(notify::STRING, "setbit", &a[1]);
    }
    Ok(Reply::Array(out))
}

pub fn bitfield(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bitfield_generic(ctx, a, false)
}

pub fn bitfield_ro(ctx: &mut Ctx, a: &[Bytes]) -> R {
    bitfield_generic(ctx, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_overflow() {
        let mut v = vec![0u8; 8];
        let u8t = FieldType {
            signed: false,
            bits: 8,
        };
        let i5 = FieldType {
            signed: true,
            bits: 5,
        };
        set_field(&mut v, 3, u8t, 200);
        assert_eq!(get_field(&v, 3, u8t), 200);
        set_field(&mut v, 20, i5, -3);
        assert_eq!(get_field(&v, 20, i5), -3);
        let set = |v: i64, t: FieldType, ov: Overflow| apply_overflow(v, 0, t, ov);
        assert_eq!(set(256, u8t, Overflow::Wrap), Some(0));
        assert_eq!(set(300, u8t, Overflow::Sat), Some(255));
        assert_eq!(set(-1, u8t, Overflow::Fail), None);
        assert_eq!(set(-1, u8t, Overflow::Sat), Some(255));
        assert_eq!(set(16, i5, Overflow::Wrap), Some(-16));
        assert_eq!(set(-17, i5, Overflow::Sat), Some(-16));
        // Redis's wrapping `max - value` makes this an upward overflow.
        assert_eq!(set(i64::MIN, i5, Overflow::Sat), Some(15));
        assert_eq!(apply_overflow(250, 10, u8t, Overflow::Wrap), Some(4));
        assert_eq!(apply_overflow(5, -10, u8t, Overflow::Sat), Some(0));
        let i64t = FieldType {
            signed: true,
            bits: 64,
        };
        assert_eq!(
            apply_overflow(i64::MAX, 1, i64t, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(
            apply_overflow(i64::MAX, 1, i64t, Overflow::Sat),
            Some(i64::MAX)
        );
    }
}
