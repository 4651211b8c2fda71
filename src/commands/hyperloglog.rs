//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE. A HyperLogLog is a string value in Redis's
//! exact encoding; `store::hll` owns the bytes and the algorithms, these handlers only look
//! keys up, check them, and reply as Redis 7.0 does:
//! - a key of another type is the generic WRONGTYPE; a string that is not an HLL (too short,
//!   no `HYLL` magic, unknown encoding, dense of the wrong length, an integer) is
//!   `-WRONGTYPE Key is not a valid HyperLogLog string value.`;
//! - sparse opcodes that do not add up are `-INVALIDOBJ Corrupted HLL object detected`.
//!
//! Like Redis, PFADD, single-key PFCOUNT and PFMERGE's destination turn the value into a "raw"
//! string (Redis's `dbUnshareStringValue`), and single-key PFCOUNT writes the cardinality it
//! computed back into the header as a cache.
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use crate::store::hll::{self, Hll, Registers};
use crate::store::{notify, Ttl, Value};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// The `hll-sparse-max-bytes` directive: the longest sparse value before promotion to dense.
fn sparse_max_bytes(ctx: &Ctx) -> usize {
    let config = ctx.shared.config();
    config
        .get("hll-sparse-max-bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// Redis's `isHLLObjectOrReply`: the bytes of a value that holds a HyperLogLog.
fn hll_bytes(v: &Value) -> Result<&[u8], ErrorReply> {
    match v {
        Value::Str(s) if hll::is_hll(s.as_slice()) => Ok(s.as_slice()),
        Value::Raw(b) if hll::is_hll(b) => Ok(b),
        // An integer-encoded string is never an HLL, whatever its digits.
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => Err(ErrorReply::hll_wrong_type()),
        _ => Err(ErrorReply::wrong_type()),
    }
}

/// Checks a value and turns it into its growable form for an in-place update.
fn hll_mut(v: &mut Value) -> Result<&mut Vec<u8>, ErrorReply> {
    hll_bytes(v)?;
    Ok(v.make_raw())
}

/// PFADD key [element ...]: adds elements; 1 if a register changed (or the key was created).
pub fn pfadd(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let max_bytes = sparse_max_bytes(ctx);
    let key = &a[1];
    let Some(v) = ctx.write_value(key) else {
        let mut buf = hll::new_sparse();
        let mut new = Hll::new(&mut buf);
        for e in &a[2..] {
            new.add(e, max_bytes).expect("a new HLL is well formed");
        }
        hll::invalidate_cache(&mut buf);
        ctx.put_value(key, Value::Raw(Box::new(buf)));
        ctx.notify(notify::STRING, "pfadd", key);
        return Ok(Reply::Int(1));
    };
    let buf = hll_mut(v)?;
    let mut sketch = Hll::new(buf);
    let mut updated = false;
    let mut result = Ok(());
    for e in &a[2..] {
        match sketch.add(e, max_bytes) {
            Ok(changed) => updated |= changed,
            // Elements added before the corrupted part stay, as in Redis.
            Err(hll::Corrupted) => {
                result = Err(ErrorReply::hll_corrupted());
                break;
            }
        }
    }
    if updated && result.is_ok() {
        hll::invalidate_cache(buf);
    }
    if updated {
        ctx.modified(key);
    }
    result?;
    if updated {
        ctx.notify(notify::STRING, "pfadd", key);
    }
    Ok(Reply::Int(updated as i64))
}

/// PFCOUNT key [key ...]: the estimated cardinality of one HLL (cached in its header), or of
/// the union of several (computed, never cached). Missing keys count as empty.
pub fn pfcount(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() > 2 {
        let union = union_of(ctx, &a[1..])?.0;
        return Ok(Reply::Int(union.cardinality() as i64));
    }
    let key = &a[1];
    let Some(v) = ctx.read_value(key) else {
        return Ok(Reply::Int(0));
    };
    let buf = hll_mut(v)?;
    if let Some(card) = hll::cached_cardinality(buf) {
        return Ok(Reply::Int(card as i64));
    }
    let card = hll::cardinality(buf).map_err(|_| ErrorReply::hll_corrupted())?;
    hll::store_cardinality(buf, card);
    ctx.modified(key);
    // Redis replies with the unsigned estimate as a signed 64-bit integer.
    Ok(Reply::Int(card as i64))
}

/// The register-wise maximum of the HLLs at `keys` (missing keys are empty), and whether any
/// of them is dense.
fn union_of(ctx: &mut Ctx, keys: &[Bytes]) -> Result<(Registers, bool), ErrorReply> {
    let mut union = Registers::default();
    let mut any_dense = false;
    for key in keys {
        let Some(v) = ctx.read_value(key) else {
            continue;
        };
        let b = hll_bytes(v)?;
        any_dense |= hll::is_dense(b);
        union.merge(b).map_err(|_| ErrorReply::hll_corrupted())?;
    }
    Ok((union, any_dense))
}

/// PFMERGE destkey [sourcekey ...]: stores the union of the sources and of the destination
/// itself into the destination (created empty when missing, so with no sources it only
/// creates it). The result is dense if any input was.
pub fn pfmerge(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let max_bytes = sparse_max_bytes(ctx);
    let dest = &a[1];
    // Redis reads the destination as the first source.
    let (union, any_dense) = union_of(ctx, &a[1..])?;
    if ctx.write_value(dest).is_none() {
        let db = ctx.db();
        ctx.store.insert(
            db,
            dest,
            Value::Raw(Box::new(hll::new_sparse())),
            Ttl::Clear,
        );
    }
    let v = ctx.write_value(dest).expect("destination exists");
    // Checked as the first source above.
    let buf = v.make_raw();
    let mut sketch = Hll::new(buf);
    if any_dense {
        sketch.to_dense().map_err(|_| ErrorReply::hll_corrupted())?;
    }
    union.write_into(&mut sketch, max_bytes);
    hll::invalidate_cache(buf);
    ctx.modified(dest);
    // A merge is a mass add: Redis raises `pfadd`.
    ctx.notify(notify::STRING, "pfadd", dest);
    Ok(Reply::Ok)
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: the internals the tests look at, as Redis
/// shows them. GETREG and TODENSE turn a sparse value dense (a write).
pub fn pfdebug(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let key = &a[2];
    let Some(v) = ctx.write_value(key) else {
        return Err(ErrorReply::err("The specified key does not exist"));
    };
    let buf = hll_mut(v)?;
    let dense = hll::is_dense(buf);
    let densify = |buf: &mut Vec<u8>| {
        Hll::new(buf)
            .to_dense()
            .map_err(|_| ErrorReply::hll_corrupted())
    };
    match sub.as_str() {
        "getreg" if a.len() == 3 => {
            densify(buf)?;
            let regs = &buf[hll::HEADER_LEN..];
            let out = (0..hll::REGISTERS)
                .map(|i| Reply::Int(hll::dense_get(regs, i) as i64))
                .collect();
            if !dense {
                ctx.modified(key);
            }
            Ok(Reply::Array(out))
        }
        "decode" if a.len() == 3 => {
            if dense {
                return Err(ErrorReply::err("HLL encoding is not sparse"));
            }
            let mut parts = Vec::new();
            let mut i = hll::HEADER_LEN;
            while i < buf.len() {
                let op = hll::Op::decode(buf[i], buf.get(i + 1).copied().unwrap_or(0));
                parts.push(match op {
                    hll::Op::Zero(n) => format!("z:{n}"),
                    hll::Op::XZero(n) => format!("Z:{n}"),
                    hll::Op::Val { value, len } => format!("v:{value},{len}"),
                });
                i += op.size();
            }
            Ok(Reply::Bulk(Bytes::from(parts.join(" "))))
        }
        "encoding" if a.len() == 3 => Ok(Reply::Status(if dense { "dense" } else { "sparse" })),
        "todense" if a.len() == 3 => {
            densify(buf)?;
            if !dense {
                ctx.modified(key);
            }
            Ok(Reply::Int(!dense as i64))
        }
        _ => Err(ErrorReply::err(format!(
            "Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(&a[1])
        ))),
    }
}

/// PFSELFTEST: checks the register packing (every register set and read back through random
/// values) and the estimator (the error at growing cardinalities stays within the bounds
/// Redis's self test allows), as Redis's pfselftestCommand does.
pub fn pfselftest(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut regs = vec![0u8; hll::DENSE_LEN - hll::HEADER_LEN];
    for _ in 0..1000 {
        let values: Vec<u8> = (0..hll::REGISTERS).map(|_| (next() % 64) as u8).collect();
        for (i, &v) in values.iter().enumerate() {
            hll::dense_set(&mut regs, i, v);
        }
        if values
            .iter()
            .enumerate()
            .any(|(i, &v)| hll::dense_get(&regs, i) != v)
        {
            return Err(ErrorReply::err("TESTFAILED Register error"));
        }
    }
    let mut buf = hll::new_sparse();
    let relerr = 1.04 / (hll::REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    for j in 1..=1_000_000u64 {
        Hll::new(&mut buf)
            .add(&next().to_le_bytes(), 3000)
            .map_err(|_| ErrorReply::err("TESTFAILED corrupted HLL"))?;
        if j != checkpoint {
            continue;
        }
        checkpoint *= 10;
        let card = hll::cardinality(&buf).map_err(|_| ErrorReply::hll_corrupted())?;
        let maxerr = if j == 10 {
            1.0
        } else {
            (relerr * 6.0 * j as f64).ceil()
        };
        if (card as f64 - j as f64).abs() > maxerr {
            return Err(ErrorReply::err(format!(
                "TESTFAILED Too big error. card:{card} abserr:{}",
                (card as f64 - j as f64).abs()
            )));
        }
    }
    Ok(Reply::Ok)
}
