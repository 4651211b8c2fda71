//! Bitmap commands on strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.
//! Bit 0 is the most significant bit of the first byte, as in Redis.
use super::strings::clamp_range;
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::{Ttl, Value};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// A bit offset argument (`getBitOffsetFromArgument`), optionally `#N` (N * bits).
fn bit_offset(ctx: &Ctx, arg: &[u8], hash_ok: bool, bits: u64) -> Result<u64, ErrorReply> {
    let (mul, digits) = if hash_ok && arg.first() == Some(&b'#') { (bits, &arg[1..]) } else { (1, arg) };
    let v = crate::util::num::parse_i64(digits).filter(|v| *v >= 0).ok_or_else(ErrorReply::bit_offset)?;
    let off = (v as u64).checked_mul(mul).ok_or_else(ErrorReply::bit_offset)?;
    if (off >> 3) >= ctx.proto_max_bulk_len() as u64 {
        return Err(ErrorReply::bit_offset());
    }
    Ok(off)
}

/// The string at `key` as bytes (empty when missing); WRONGTYPE otherwise.
fn read(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, ErrorReply> {
    Ok(super::strings::read_string(ctx, key)?.map(|b| b.to_vec()))
}

/// The growable buffer of `key`, created when missing, at least `min_len` bytes long.
fn writable<'a>(ctx: &'a mut Ctx, key: &[u8], min_len: usize) -> Result<&'a mut Vec<u8>, ErrorReply> {
    let db = ctx.client.db;
    match ctx.store.lookup(db, key, ctx.now_ms, true) {
        Some(e) if !e.value.is_string() => return Err(ErrorReply::wrong_type()),
        Some(_) => {}
        None => {
            ctx.store.insert(db, key, Value::Raw(Box::default()), Ttl::Clear);
        }
    }
    let e = ctx.store.db_mut(db).get_mut(key).expect("present");
    let buf = e.value.make_raw();
    if buf.len() < min_len {
        buf.resize(min_len, 0);
    }
    Ok(buf)
}

pub fn setbit(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let off = bit_offset(ctx, &a[2], false, 0)?;
    let on = match a[3].as_ref() {
        b"1" => true,
        b"0" => false,
        _ => return Err(ErrorReply::bit_value()),
    };
    let byte = (off >> 3) as usize;
    let buf = writable(ctx, &a[1], byte + 1)?;
    let mask = 1u8 << (7 - (off & 7));
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    ctx.modified(&a[1]);
    Ok(Reply::Int(old as i64))
}

pub fn getbit(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let off = bit_offset(ctx, &a[2], false, 0)?;
    let v = read(ctx, &a[1])?.unwrap_or_default();
    let byte = (off >> 3) as usize;
    Ok(Reply::Int(v.get(byte).map_or(0, |b| (b >> (7 - (off & 7))) & 1) as i64))
}

/// Parses `[start end [BYTE|BIT]]` into a bit range over a string of `len` bytes.
fn bit_range(a: &[Bytes], len: usize) -> Result<Option<(u64, u64)>, ErrorReply> {
    let start = int_arg(&a[0])?;
    let end = int_arg(&a[1])?;
    let bit_mode = match a.get(2) {
        None => false,
        Some(m) if is(m, "BIT") => true,
        Some(m) if is(m, "BYTE") => false,
        Some(_) => return Err(ErrorReply::syntax()),
    };
    let total = if bit_mode { len as u64 * 8 } else { len as u64 };
    let Some((s, e)) = clamp_range(start, end, total as usize) else { return Ok(None) };
    Ok(Some(if bit_mode { (s as u64, e as u64) } else { (s as u64 * 8, e as u64 * 8 + 7) }))
}

fn bit_at(v: &[u8], i: u64) -> bool {
    (v[(i >> 3) as usize] >> (7 - (i & 7))) & 1 == 1
}

pub fn bitcount(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() == 3 || a.len() > 5 {
        return Err(ErrorReply::syntax());
    }
    let v = read(ctx, &a[1])?;
    let v = v.unwrap_or_default();
    let (s, e) = if a.len() >= 4 {
        match bit_range(&a[2..], v.len())? {
            Some(r) => r,
            None => return Ok(Reply::Int(0)),
        }
    } else if v.is_empty() {
        return Ok(Reply::Int(0));
    } else {
        (0, v.len() as u64 * 8 - 1)
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

pub fn bitpos(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let bit = match a[2].as_ref() {
        b"1" => true,
        b"0" => false,
        _ => {
            int_arg(&a[2])?;
            return Err(ErrorReply::bitpos_bit());
        }
    };
    if a.len() > 6 {
        return Err(ErrorReply::syntax());
    }
    let Some(v) = read(ctx, &a[1])? else { return Ok(Reply::Int(if bit { -1 } else { 0 })) };
    let end_given = a.len() >= 5;
    let range = match a.len() {
        3 => clamp_range(0, -1, v.len()).map(|(s, e)| (s as u64 * 8, e as u64 * 8 + 7)),
        4 => {
            let start = int_arg(&a[3])?;
            clamp_range(start, -1, v.len()).map(|(s, e)| (s as u64 * 8, e as u64 * 8 + 7))
        }
        _ => bit_range(&a[3..], v.len())?,
    };
    let Some((s, e)) = range else { return Ok(Reply::Int(-1)) };
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

pub fn bitop(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let op = String::from_utf8_lossy(&a[1]).to_ascii_uppercase();
    if !["AND", "OR", "XOR", "NOT"].contains(&op.as_str()) {
        return Err(ErrorReply::syntax());
    }
    if op == "NOT" && a.len() != 4 {
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
        *o = match op.as_str() {
            "NOT" => !byte(&srcs[0]),
            "AND" => srcs.iter().map(byte).fold(0xff, |x, y| x & y),
            "OR" => srcs.iter().map(byte).fold(0, |x, y| x | y),
            _ => srcs.iter().map(byte).fold(0, |x, y| x ^ y),
        };
    }
    let db = ctx.client.db;
    if out.is_empty() {
        if ctx.store.remove(db, &a[2], ctx.now_ms, false) {
            ctx.modified(&a[2]);
        }
    } else {
        ctx.store.insert(db, &a[2], Value::Raw(Box::new(out)), Ttl::Clear);
        ctx.modified(&a[2]);
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
    let signed = match arg.first() {
        Some(b'i') | Some(b'I') => true,
        Some(b'u') | Some(b'U') => false,
        _ => return Err(ErrorReply::bitfield_type()),
    };
    let bits = crate::util::num::parse_i64(&arg[1..]).ok_or_else(ErrorReply::bitfield_type)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(ErrorReply::bitfield_type());
    }
    Ok(FieldType { signed, bits: bits as u32 })
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
        let bit = v.get((pos >> 3) as usize).map_or(0, |b| (b >> (7 - (pos & 7))) & 1);
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

/// Applies overflow semantics to `v` (computed exactly) for type `t`. None means FAIL.
fn fit(v: i128, t: FieldType, ov: Overflow) -> Option<i64> {
    let (min, max): (i128, i128) =
        if t.signed { (-(1i128 << (t.bits - 1)), (1i128 << (t.bits - 1)) - 1) } else { (0, (1i128 << t.bits) - 1) };
    if v >= min && v <= max {
        return Some(v as i64);
    }
    match ov {
        Overflow::Fail => None,
        Overflow::Sat => Some(if v > max { max as i64 } else { min as i64 }),
        Overflow::Wrap => {
            let m = 1i128 << t.bits;
            let mut w = v.rem_euclid(m);
            if t.signed && w > max {
                w -= m;
            }
            Some(w as i64)
        }
    }
}

fn parse_bitfield(ctx: &Ctx, a: &[Bytes], read_only: bool) -> Result<Vec<Op>, ErrorReply> {
    let mut ops = Vec::new();
    let mut ov = Overflow::Wrap;
    let mut i = 2;
    while i < a.len() {
        let remaining = a.len() - i - 1;
        if is(&a[i], "GET") && remaining >= 2 {
            let t = field_type(&a[i + 1])?;
            ops.push(Op::Get(t, bit_offset(ctx, &a[i + 2], true, t.bits as u64)?));
            i += 3;
        } else if !read_only && is(&a[i], "SET") && remaining >= 3 {
            let t = field_type(&a[i + 1])?;
            let off = bit_offset(ctx, &a[i + 2], true, t.bits as u64)?;
            ops.push(Op::Set(t, off, int_arg(&a[i + 3])?, ov));
            i += 4;
        } else if !read_only && is(&a[i], "INCRBY") && remaining >= 3 {
            let t = field_type(&a[i + 1])?;
            let off = bit_offset(ctx, &a[i + 2], true, t.bits as u64)?;
            ops.push(Op::Incr(t, off, int_arg(&a[i + 3])?, ov));
            i += 4;
        } else if !read_only && is(&a[i], "OVERFLOW") && remaining >= 1 {
            ov = match String::from_utf8_lossy(&a[i + 1]).to_ascii_uppercase().as_str() {
                "WRAP" => Overflow::Wrap,
                "SAT" => Overflow::Sat,
                "FAIL" => Overflow::Fail,
                _ => return Err(ErrorReply::bitfield_overflow()),
            };
            i += 2;
        } else if read_only && !is(&a[i], "GET") {
            return Err(ErrorReply::bitfield_ro_write());
        } else {
            return Err(ErrorReply::syntax());
        }
    }
    Ok(ops)
}

fn bitfield_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> R {
    let ops = parse_bitfield(ctx, a, read_only)?;
    let writes = ops.iter().any(|o| !matches!(o, Op::Get(..)));
    if !writes {
        let v = read(ctx, &a[1])?.unwrap_or_default();
        return Ok(Reply::Array(
            ops.iter()
                .map(|o| match o {
                    Op::Get(t, off) => Reply::Int(get_field(&v, *off, *t)),
                    _ => unreachable!(),
                })
                .collect(),
        ));
    }
    let max_end = ops
        .iter()
        .map(|o| match o {
            Op::Get(t, off) | Op::Set(t, off, ..) | Op::Incr(t, off, ..) => ((off + t.bits as u64 + 7) / 8) as usize,
        })
        .max()
        .unwrap_or(0);
    let buf = writable(ctx, &a[1], 0)?;
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Get(t, off) => out.push(Reply::Int(get_field(buf, off, t))),
            Op::Set(t, off, val, ov) => {
                if buf.len() < max_end {
                    buf.resize(max_end, 0);
                }
                let old = get_field(buf, off, t);
                match fit(val as i128, t, ov) {
                    Some(n) => {
                        set_field(buf, off, t, n);
                        out.push(Reply::Int(old));
                    }
                    None => out.push(Reply::Nil),
                }
            }
            Op::Incr(t, off, by, ov) => {
                if buf.len() < max_end {
                    buf.resize(max_end, 0);
                }
                let old = get_field(buf, off, t);
                match fit(old as i128 + by as i128, t, ov) {
                    Some(n) => {
                        set_field(buf, off, t, n);
                        out.push(Reply::Int(n));
                    }
                    None => out.push(Reply::Nil),
                }
            }
        }
    }
    ctx.modified(&a[1]);
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
        let u8t = FieldType { signed: false, bits: 8 };
        let i5 = FieldType { signed: true, bits: 5 };
        set_field(&mut v, 3, u8t, 200);
        assert_eq!(get_field(&v, 3, u8t), 200);
        set_field(&mut v, 20, i5, -3);
        assert_eq!(get_field(&v, 20, i5), -3);
        assert_eq!(fit(256, u8t, Overflow::Wrap), Some(0));
        assert_eq!(fit(300, u8t, Overflow::Sat), Some(255));
        assert_eq!(fit(-1, u8t, Overflow::Fail), None);
        assert_eq!(fit(16, i5, Overflow::Wrap), Some(-16));
        assert_eq!(fit(-17, i5, Overflow::Sat), Some(-16));
    }
}
