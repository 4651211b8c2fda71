//! HyperLogLog in Redis 7.0's exact string encoding, so a value written here reads back
//! byte for byte like one written by Redis (GET/SET, DUMP/RESTORE, replication all carry it),
//! and PFCOUNT answers the same numbers. A HyperLogLog is an ordinary string value; this module
//! only interprets its bytes. It depends on nothing else in the crate (no RESP, no keyspace).
//!
//! # Layout
//! ```text
//! +------+----------+---------+---------------------+------------------------------+
//! | HYLL | encoding | 3 bytes | cached card. (u64le) | registers (dense or sparse)  |
//! +------+----------+---------+---------------------+------------------------------+
//!   0..4     4         5..8          8..16                 16..
//! ```
//! - 16384 registers (P = 14), each the length of the `0...01` run in the 50 hash bits that
//!   are not the register index (1..=51), hashed with MurmurHash64A and Redis's seed.
//! - Dense: 16384 6-bit registers packed LSB first (12288 bytes; a valid dense value is
//!   exactly 12304 bytes long).
//! - Sparse: run-length opcodes, see [`Op`]. Values above 32 do not fit, and neither does a
//!   string longer than `hll-sparse-max-bytes`: such an update promotes the value to dense.
//! - The cached cardinality is valid while the top bit of its last byte is clear.
//!
//! # Faithful to the byte
//! Corrupted values behave as in redis-server 7.0.15, not just "an error", because the bytes
//! left behind are visible through GET:
//! - an update walks the sparse opcodes only up to the register it sets, so a value whose runs
//!   do not add up to 16384 still takes elements it covers; counting, merging and converting
//!   to dense check the whole value (a run past register 16383 or a short total is corrupted,
//!   as with Redis's CVE-2025-32023 checks);
//! - when the last opcode is an XZERO cut after its first byte, Redis reads the byte past the
//!   end of its string as the second one: the sds terminator (0) for a value just written,
//!   but splitting that XZERO leaves the last byte of the new opcodes there. [`Hll`] tracks that
//!   byte through one command. Redis keeps it across commands too (it lives in the string's
//!   allocation); slotcache starts every command from 0, so only a corrupted value edited by
//!   several commands in a row can differ.
//!
//! The estimator is Ertl's improved one ("New cardinality estimation algorithms for
//! HyperLogLog sketches", arXiv:1702.01284), computed in the same order of double operations as
//! Redis so the rounded results agree.

/// Bytes before the registers.
pub const HEADER_LEN: usize = 16;
const P: usize = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Hash bits left once the register index is taken: the longest run is Q + 1.
const Q: usize = 64 - P;
const REGISTER_BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << REGISTER_BITS) - 1;
/// Exact length of a dense value.
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * REGISTER_BITS).div_ceil(8);

const MAGIC: &[u8; 4] = b"HYLL";
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
/// The byte of the cached cardinality whose top bit marks the cache stale.
const CARD_FLAG_AT: usize = CARD_AT + 7;
const CARD_STALE: u8 = 0x80;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;

/// MurmurHash64A seed used by Redis for HyperLogLog elements.
const SEED: u32 = 0xadc8_3b19;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2), the alpha constant of the estimator for m -> infinity (Redis writes
/// 0.721347520444481703680, the same double).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const _: () = assert!(DENSE_LEN == 12304);
const _: () = assert!(CARD_FLAG_AT == HEADER_LEN - 1);

/// The value is not a well-formed HyperLogLog (`-INVALIDOBJ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupted;

/// A sparse-representation opcode.
///
/// - `ZERO`  `00xxxxxx`: 1..=64 registers at 0.
/// - `XZERO` `01xxxxxx yyyyyyyy`: 1..=16384 registers at 0 (14-bit length, big endian).
/// - `VAL`   `1vvvvvxx`: 1..=4 registers at value 1..=32.
///
/// Lengths and values are stored minus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Zero(usize),
    XZero(usize),
    Val { value: u8, len: usize },
}

impl Op {
    /// Decodes the opcode whose first byte is `b0`; `b1` is the byte after it (only read by
    /// XZERO).
    pub fn decode(b0: u8, b1: u8) -> Op {
        match b0 & 0xc0 {
            0x00 => Op::Zero((b0 & 0x3f) as usize + 1),
            0x40 => Op::XZero(((((b0 & 0x3f) as usize) << 8) | b1 as usize) + 1),
            _ => Op::Val {
                value: ((b0 >> 2) & 0x1f) + 1,
                len: (b0 & 0x03) as usize + 1,
            },
        }
    }

    /// Appends the encoding. Lengths and values must be in the opcode's range.
    pub fn encode(self, out: &mut Vec<u8>) {
        match self {
            Op::Zero(len) => {
                debug_assert!((1..=SPARSE_ZERO_MAX_LEN).contains(&len));
                out.push((len - 1) as u8);
            }
            Op::XZero(len) => {
                debug_assert!((1..=SPARSE_XZERO_MAX_LEN).contains(&len));
                let l = len - 1;
                out.push((l >> 8) as u8 | 0x40);
                out.push((l & 0xff) as u8);
            }
            Op::Val { value, len } => out.push(val_byte(value, len)),
        }
    }

    /// Bytes taken by the opcode.
    pub fn size(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }

    /// Registers covered.
    pub fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) => n,
            Op::Val { len, .. } => len,
        }
    }

    /// The shortest zero-run opcode for `len` registers (ZERO up to 64, else XZERO).
    fn zeros(len: usize) -> Op {
        if len > SPARSE_ZERO_MAX_LEN {
            Op::XZero(len)
        } else {
            Op::Zero(len)
        }
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    debug_assert!((1..=SPARSE_VAL_MAX_VALUE).contains(&value));
    debug_assert!((1..=SPARSE_VAL_MAX_LEN).contains(&len));
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

// ---------------------------------------------------------------------------------------------
// Hashing

/// MurmurHash2, 64-bit version (MurmurHash64A), reading words little endian as Redis does on
/// every architecture.
pub fn murmur64a(data: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed as u64 ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the length of its `0...01` pattern (1..=Q+1).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // The extra bit at Q bounds the run when the remaining hash bits are all zero.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------------
// Header

/// A new, empty HyperLogLog, sparse (one XZERO covering every register), cache valid at 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 2);
    v.extend_from_slice(MAGIC);
    v.push(SPARSE);
    v.resize(HEADER_LEN, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        Op::XZero(n).encode(&mut v);
        left -= n;
    }
    v
}

/// Whether a string looks like a HyperLogLog, the check Redis makes before any HLL command:
/// long enough for the header, the magic, a known encoding, and the exact dense length.
/// Sparse opcodes are only checked as they are read.
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HEADER_LEN
        && &b[..4] == MAGIC
        && b[ENCODING_AT] <= SPARSE
        && (b[ENCODING_AT] != DENSE || b.len() == DENSE_LEN)
}

pub fn is_dense(b: &[u8]) -> bool {
    b[ENCODING_AT] == DENSE
}

/// The cached cardinality, if the cache is valid.
pub fn cached_cardinality(b: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(b[CARD_AT..CARD_AT + 8].try_into().expect("8 bytes"));
    (b[CARD_FLAG_AT] & CARD_STALE == 0).then_some(card)
}

pub fn store_cardinality(b: &mut [u8], card: u64) {
    b[CARD_AT..CARD_AT + 8].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale (keeping its other bits, as Redis does).
pub fn invalidate_cache(b: &mut [u8]) {
    b[CARD_FLAG_AT] |= CARD_STALE;
}

// ---------------------------------------------------------------------------------------------
// Dense registers

/// Register `index` of a dense register area (bits `6*index ..` counted from each byte's LSB).
pub fn dense_get(regs: &[u8], index: usize) -> u8 {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let word = regs[byte] as u16 | (regs.get(byte + 1).copied().unwrap_or(0) as u16) << 8;
    ((word >> shift) as u8) & REGISTER_MAX
}

/// Sets register `index` of a dense register area to `value` (0..=63).
pub fn dense_set(regs: &mut [u8], index: usize, value: u8) {
    let bit = index * REGISTER_BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let mut word = regs[byte] as u16 | (regs.get(byte + 1).copied().unwrap_or(0) as u16) << 8;
    word &= !((REGISTER_MAX as u16) << shift);
    word |= ((value & REGISTER_MAX) as u16) << shift;
    regs[byte] = word as u8;
    // The last register ends inside its first byte, so nothing is written past the area.
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = (word >> 8) as u8;
    }
}

/// Raises a dense register to `count` if it is lower. Returns whether it changed.
fn dense_raise(regs: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(regs, index) {
        dense_set(regs, index, count);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Updates

/// An HLL being edited by one command. Besides the bytes it tracks the byte Redis's string
/// holds just past its end (the sds terminator slot): 0 for a string just read, but a split of
/// a truncated final XZERO leaves the last byte of the new opcodes there, and Redis reads it
/// back as that XZERO's second byte on the next update.
pub struct Hll<'a> {
    buf: &'a mut Vec<u8>,
    past_end: u8,
}

impl<'a> Hll<'a> {
    /// Edits `buf`, which must pass [`is_hll`].
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Hll { buf, past_end: 0 }
    }

    /// Adds `element`: raises its register if its pattern is longer. Returns whether a
    /// register changed (PFADD's reply). A sparse update marks the cached cardinality stale, a
    /// dense one does not: the caller invalidates it once after a batch of adds.
    pub fn add(&mut self, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupted> {
        let (index, count) = pattern(element);
        self.set_register(index, count, sparse_max_bytes)
    }

    /// Raises register `index` to `count` (1..=63) if it is lower, in either representation.
    pub fn set_register(
        &mut self,
        index: usize,
        count: u8,
        sparse_max_bytes: usize,
    ) -> Result<bool, Corrupted> {
        match self.buf[ENCODING_AT] {
            DENSE => Ok(dense_raise(&mut self.buf[HEADER_LEN..], index, count)),
            SPARSE => self.sparse_set(index, count, sparse_max_bytes),
            _ => Err(Corrupted),
        }
    }

    /// Converts a sparse value to dense (no-op when dense). The header, including the cached
    /// cardinality and the unused bytes, is kept. Fails if the runs do not cover exactly the
    /// registers.
    pub fn to_dense(&mut self) -> Result<(), Corrupted> {
        if self.buf[ENCODING_AT] == DENSE {
            return Ok(());
        }
        let mut dense = vec![0u8; DENSE_LEN];
        dense[..HEADER_LEN].copy_from_slice(&self.buf[..HEADER_LEN]);
        dense[ENCODING_AT] = DENSE;
        let sparse = SparseView {
            regs: &self.buf[HEADER_LEN..],
            past_end: self.past_end,
        };
        sparse.for_each_value(|i, v| dense_set(&mut dense[HEADER_LEN..], i, v))?;
        *self.buf = dense;
        self.past_end = 0;
        Ok(())
    }

    fn op_at(&self, i: usize) -> Op {
        let next = match self.buf.get(i + 1) {
            Some(&b) => b,
            None if i + 1 == self.buf.len() => self.past_end,
            None => 0,
        };
        Op::decode(self.buf[i], next)
    }

    /// Finds the opcode covering register `index`. `None` if the opcodes end before it.
    fn locate(&self, index: usize) -> Option<Located> {
        let (mut p, mut first, mut prev) = (HEADER_LEN, 0, None);
        while p < self.buf.len() {
            let op = self.op_at(p);
            if index < first + op.span() {
                return Some(Located {
                    at: p,
                    op,
                    first,
                    prev,
                });
            }
            prev = Some(p);
            p += op.size();
            first += op.span();
        }
        None
    }

    /// Raises register `index` of a sparse value to `count`, splitting the covering opcode and
    /// then merging equal adjacent VAL opcodes, exactly as Redis edits the bytes. Promotes to
    /// dense when `count` exceeds 32 or the grown string would exceed `sparse_max_bytes`.
    fn sparse_set(
        &mut self,
        index: usize,
        count: u8,
        sparse_max_bytes: usize,
    ) -> Result<bool, Corrupted> {
        if count > SPARSE_VAL_MAX_VALUE {
            return self.promote(index, count);
        }
        let Some(Located {
            at,
            op,
            first,
            prev,
        }) = self.locate(index)
        else {
            return Err(Corrupted);
        };
        match op {
            Op::Val { value, .. } if value >= count => return Ok(false),
            // A single register: rewrite the opcode byte in place.
            Op::Val { len: 1, .. } | Op::Zero(1) => self.buf[at] = val_byte(count, 1),
            _ => {
                let seq = split(op, first, index, count);
                let (len, old_len) = (self.buf.len(), op.size());
                let new_len = len + seq.len() - old_len;
                if new_len > len && new_len > sparse_max_bytes {
                    return self.promote(index, count);
                }
                self.buf.splice(at..(at + old_len).min(len), seq);
                // Replacing a truncated final XZERO writes one byte past the new end.
                self.past_end = self.buf.get(new_len).copied().unwrap_or(0);
                self.buf.truncate(new_len);
            }
        }
        self.merge_adjacent_vals(prev.unwrap_or(HEADER_LEN));
        invalidate_cache(self.buf);
        Ok(true)
    }

    /// Merges adjacent VAL opcodes with the same value whose runs fit one opcode, scanning at
    /// most five opcodes from `from` (the opcode before the edit).
    fn merge_adjacent_vals(&mut self, from: usize) {
        let buf = &mut *self.buf;
        let mut p = from;
        let mut scan = 5;
        while p < buf.len() && scan > 0 {
            scan -= 1;
            let b = buf[p];
            if !is_val(b) {
                p += Op::decode(b, 0).size();
                continue;
            }
            if let Some(&next) = buf.get(p + 1).filter(|&&n| is_val(n)) {
                let (Op::Val { value, len }, Op::Val { value: v2, len: l2 }) =
                    (Op::decode(b, 0), Op::decode(next, 0))
                else {
                    unreachable!("both are VAL opcodes")
                };
                if value == v2 && len + l2 <= SPARSE_VAL_MAX_LEN {
                    buf[p + 1] = val_byte(value, len + l2);
                    buf.remove(p);
                    self.past_end = 0;
                    // Stay on the merged opcode: it may merge with the next one too.
                    continue;
                }
            }
            p += 1;
        }
    }

    /// Converts to dense and sets the register there (it always changes: the sparse value
    /// could not hold the new count).
    fn promote(&mut self, index: usize, count: u8) -> Result<bool, Corrupted> {
        self.to_dense()?;
        Ok(dense_raise(&mut self.buf[HEADER_LEN..], index, count))
    }
}

/// Where a sparse update lands: the opcode covering the register and its neighbour.
struct Located {
    /// Offset of the opcode covering the register.
    at: usize,
    op: Op,
    /// First register the opcode covers.
    first: usize,
    /// Offset of the opcode before it, if any.
    prev: Option<usize>,
}

/// The opcodes replacing `op` (covering registers from `first`) once register `index` is set
/// to `count`: at most XZERO-VAL-XZERO, 5 bytes.
fn split(op: Op, first: usize, index: usize, count: u8) -> Vec<u8> {
    let last = first + op.span() - 1;
    let mut seq = Vec::with_capacity(5);
    let run = |len: usize| match op {
        Op::Val { value, .. } => Op::Val { value, len },
        _ => Op::zeros(len),
    };
    if index != first {
        run(index - first).encode(&mut seq);
    }
    Op::Val {
        value: count,
        len: 1,
    }
    .encode(&mut seq);
    if index != last {
        run(last - index).encode(&mut seq);
    }
    seq
}

/// The sparse register area of a value, read-only.
struct SparseView<'a> {
    regs: &'a [u8],
    /// The byte read past the end (see [`Hll`]).
    past_end: u8,
}

impl SparseView<'_> {
    /// The opcodes in order.
    fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        let mut p = 0;
        std::iter::from_fn(move || {
            let b0 = *self.regs.get(p)?;
            let b1 = match self.regs.get(p + 1) {
                Some(&b) => b,
                None => self.past_end,
            };
            let op = Op::decode(b0, b1);
            p += op.size();
            Some(op)
        })
    }

    /// Calls `f(index, value)` for every non-zero register. The runs must cover exactly the
    /// 16384 registers: one reaching past the last register, or a total short of it, is
    /// corrupted (redis-server 7.0.15 rejects both, with its CVE-2025-32023 checks).
    fn for_each_value(&self, mut f: impl FnMut(usize, u8)) -> Result<(), Corrupted> {
        let mut idx = 0;
        for op in self.ops() {
            if idx + op.span() > REGISTERS {
                return Err(Corrupted);
            }
            if let Op::Val { value, len } = op {
                (idx..idx + len).for_each(|i| f(i, value));
            }
            idx += op.span();
        }
        if idx == REGISTERS {
            Ok(())
        } else {
            Err(Corrupted)
        }
    }
}

/// A value's sparse registers as read at the start of a command.
fn sparse(b: &[u8]) -> SparseView<'_> {
    SparseView {
        regs: &b[HEADER_LEN..],
        past_end: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Counting

/// Histogram of register values: how many registers hold each value 0..=63.
type Histogram = [u64; 64];

/// The estimated cardinality of one HyperLogLog (ignores the cache). A sparse value whose
/// opcodes do not cover exactly 16384 registers is corrupted.
pub fn cardinality(b: &[u8]) -> Result<u64, Corrupted> {
    let regs = &b[HEADER_LEN..];
    let mut histo: Histogram = [0; 64];
    if b[ENCODING_AT] == DENSE {
        (0..REGISTERS).for_each(|i| histo[dense_get(regs, i) as usize] += 1);
    } else {
        sparse(b).for_each_value(|_, v| histo[v as usize] += 1)?;
        histo[0] = REGISTERS as u64 - histo.iter().sum::<u64>();
    }
    Ok(estimate(&histo))
}

/// Registers as one byte each: the union of several HyperLogLogs (PFCOUNT of many keys,
/// PFMERGE).
pub struct Registers(Box<[u8; REGISTERS]>);

impl Default for Registers {
    fn default() -> Self {
        Registers(Box::new([0; REGISTERS]))
    }
}

impl Registers {
    /// Takes the register-wise maximum with a HyperLogLog (already checked with [`is_hll`]).
    pub fn merge(&mut self, b: &[u8]) -> Result<(), Corrupted> {
        let max = &mut self.0;
        if b[ENCODING_AT] == DENSE {
            let regs = &b[HEADER_LEN..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(regs, i));
            }
            return Ok(());
        }
        sparse(b).for_each_value(|i, v| max[i] = max[i].max(v))
    }

    pub fn cardinality(&self) -> u64 {
        let mut histo: Histogram = [0; 64];
        self.0.iter().for_each(|&r| histo[r as usize] += 1);
        estimate(&histo)
    }

    /// Raises every register of `hll` to these values (PFMERGE's write). Like Redis, a
    /// register a corrupted sparse destination cannot take is skipped.
    pub fn write_into(&self, hll: &mut Hll, sparse_max_bytes: usize) {
        for (i, &v) in self.0.iter().enumerate() {
            if v != 0 {
                let _ = hll.set_register(i, v, sparse_max_bytes);
            }
        }
    }
}

/// Ertl's improved raw estimator over the register histogram, with Redis's operation order.
fn estimate(histo: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for &h in histo[1..=Q].iter().rev() {
        z += h as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    c_llround_to_u64(ALPHA_INF * m * m / z)
}

/// Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Ertl's tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Redis's `(uint64_t)(double)llroundl(v)` on x86-64: round half away from zero; a result out
/// of the i64 range (or NaN, or the infinity of an all-maximal HLL) is LLONG_MIN, which then
/// converts to 2^63.
fn c_llround_to_u64(v: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    let r = v.round();
    let rounded = if r.is_nan() || !(-TWO63..TWO63).contains(&r) {
        i64::MIN
    } else {
        r as i64
    };
    let e = rounded as f64;
    if e < TWO63 {
        e as i64 as u64
    } else {
        ((e - TWO63) as i64 as u64) ^ (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One element added by its own command.
    fn add(b: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupted> {
        Hll::new(b).add(element, sparse_max_bytes)
    }

    fn to_dense(b: &mut Vec<u8>) -> Result<(), Corrupted> {
        Hll::new(b).to_dense()
    }

    fn dense_with(f: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut b = new_sparse();
        to_dense(&mut b).unwrap();
        (0..REGISTERS).for_each(|i| dense_set(&mut b[HEADER_LEN..], i, f(i)));
        b
    }

    fn add_all(b: &mut Vec<u8>, items: impl Iterator<Item = String>) -> usize {
        items
            .filter(|e| add(b, e.as_bytes(), 3000).unwrap())
            .count()
    }

    #[test]
    fn murmur_matches_reference_vectors() {
        // Redis 7.0 stores PFADD x hello as XZERO:9216 VAL:1,1 XZERO:7167.
        assert_eq!(pattern(b"hello"), (9216, 1));
        // Seed and length enter the hash; an empty input hashes to a mix of the seed alone.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"", SEED), 0);
        assert_ne!(murmur64a(b"12345678", SEED), murmur64a(b"123456789", SEED));
    }

    #[test]
    fn registers_get_and_set_without_touching_neighbours() {
        let mut regs = vec![0u8; DENSE_LEN - HEADER_LEN];
        let mut expect = vec![0u8; REGISTERS];
        let mut x: u32 = 12345;
        for round in 0..3 {
            for (i, e) in expect.iter_mut().enumerate() {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let v = ((x >> 16) as u8 ^ i as u8 ^ round) & REGISTER_MAX;
                *e = v;
                dense_set(&mut regs, i, v);
            }
            for (i, &e) in expect.iter().enumerate() {
                assert_eq!(dense_get(&regs, i), e, "register {i}");
            }
        }
        dense_set(&mut regs, REGISTERS - 1, 63);
        assert_eq!(dense_get(&regs, REGISTERS - 1), 63);
        assert_eq!(regs[regs.len() - 1] >> 2, 63);
    }

    #[test]
    fn sparse_opcodes_round_trip() {
        let cases = [
            Op::Zero(1),
            Op::Zero(64),
            Op::XZero(1),
            Op::XZero(65),
            Op::XZero(16384),
            Op::Val { value: 1, len: 1 },
            Op::Val { value: 32, len: 4 },
            Op::Val { value: 17, len: 3 },
        ];
        for op in cases {
            let mut b = Vec::new();
            op.encode(&mut b);
            assert_eq!(b.len(), op.size());
            assert_eq!(Op::decode(b[0], b.get(1).copied().unwrap_or(0)), op);
        }
        let mut b = Vec::new();
        Op::XZero(16384).encode(&mut b);
        assert_eq!(b, [0x7f, 0xff]);
        // Every byte decodes to some opcode and re-encodes to itself.
        for b0 in 0..=255u8 {
            let op = Op::decode(b0, 0x5a);
            let mut out = Vec::new();
            op.encode(&mut out);
            assert_eq!(out[0], b0);
        }
    }

    #[test]
    fn new_value_is_redis_empty_hll() {
        let b = new_sparse();
        assert_eq!(b, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert!(is_hll(&b));
        assert_eq!(cached_cardinality(&b), Some(0));
        assert_eq!(cardinality(&b), Ok(0));
    }

    #[test]
    fn bytes_match_redis() {
        // Recorded from redis-server 7.0: PFADD h a b c ; GET h.
        let mut b = new_sparse();
        assert_eq!(
            add_all(&mut b, ["a", "b", "c"].iter().map(|s| s.to_string())),
            3
        );
        assert_eq!(
            &b[..],
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"
        );
        // PFADD x hello ; PFCOUNT x ; GET x.
        let mut b = new_sparse();
        add(&mut b, b"hello", 3000).unwrap();
        invalidate_cache(&mut b);
        assert_eq!(cached_cardinality(&b), None);
        let card = cardinality(&b).unwrap();
        store_cardinality(&mut b, card);
        assert_eq!(
            &b[..],
            b"HYLL\x01\0\0\0\x01\0\0\0\0\0\0\0\x63\xff\x80\x5b\xfe"
        );
    }

    #[test]
    fn known_cardinalities() {
        // Recorded from redis-server 7.0 with elements "0".."n-1": (n, PFCOUNT, STRLEN).
        let mut b = new_sparse();
        let mut done = 0;
        for (n, card, len) in [
            (100, 100, 287),
            (1000, 1001, 1923),
            (10000, 9987, DENSE_LEN),
            (100000, 99565, DENSE_LEN),
        ] {
            add_all(&mut b, (done..n).map(|i| i.to_string()));
            done = n;
            assert_eq!(cardinality(&b), Ok(card), "n={n}");
            assert_eq!(b.len(), len, "n={n}");
        }
        assert!(is_dense(&b));
    }

    #[test]
    fn promotes_at_sparse_max_bytes() {
        let mut b = new_sparse();
        let mut i = 0;
        while !is_dense(&b) {
            let before = b.len();
            add(&mut b, i.to_string().as_bytes(), 300).unwrap();
            assert!(
                is_dense(&b) || b.len() <= 300,
                "sparse grew past the limit: {before} -> {}",
                b.len()
            );
            i += 1;
        }
        assert_eq!(b.len(), DENSE_LEN);
        // The promoted value counts the same as one built from the same elements.
        let mut c = new_sparse();
        to_dense(&mut c).unwrap();
        (0..i).for_each(|j| {
            add(&mut c, j.to_string().as_bytes(), 300).unwrap();
        });
        assert_eq!(cardinality(&b), cardinality(&c));
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_sparse();
        let mut d = new_sparse();
        to_dense(&mut d).unwrap();
        for i in 0..2000 {
            let e = format!("e{i}");
            assert_eq!(
                add(&mut s, e.as_bytes(), 1 << 20),
                add(&mut d, e.as_bytes(), 1 << 20)
            );
        }
        assert!(!is_dense(&s));
        assert_eq!(cardinality(&s), cardinality(&d));
        let mut conv = s.clone();
        to_dense(&mut conv).unwrap();
        assert_eq!(conv[HEADER_LEN..], d[HEADER_LEN..]);
        let mut u = Registers::default();
        u.merge(&s).unwrap();
        assert_eq!(Some(u.cardinality()), cardinality(&d).ok());
    }

    #[test]
    fn corrupted_sparse_values() {
        // Runs short of 16384 registers: counting fails, merging fails.
        let mut b = new_sparse();
        b.truncate(HEADER_LEN);
        b.push(0x3f);
        assert_eq!(cardinality(&b), Err(Corrupted));
        assert_eq!(Registers::default().merge(&b), Err(Corrupted));
        assert_eq!(add(&mut b.clone(), b"x", 3000), Err(Corrupted));
        // A run past the last register is corrupted everywhere.
        let mut t = new_sparse();
        t.push(0x80);
        assert_eq!(cardinality(&t), Err(Corrupted));
        assert_eq!(Registers::default().merge(&t), Err(Corrupted));
        assert_eq!(to_dense(&mut t), Err(Corrupted));
    }

    #[test]
    fn truncated_xzero_reads_the_terminator() {
        // Recorded from redis-server 7.0: SET c "HYLL\x01" + 10 zero bytes + "\x80\x7f"; PFADD c a b c.
        let mut b = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f".to_vec();
        assert!(is_hll(&b));
        let mut hll = Hll::new(&mut b);
        for e in ["a", "b", "c"] {
            hll.add(e.as_bytes(), 3000).unwrap();
        }
        assert_eq!(
            &b[..],
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80`\xf3\x80P\xb1\x84K\xfb\x80A"
        );
    }

    #[test]
    fn byte_past_the_end_carries_through_one_command() {
        // Recorded from redis-server 7.0.15: SET t <XZERO:1881 VAL:2,1 XZERO cut after 0x77>;
        // PFADD t 22278 e503 e1406. Each split of the cut XZERO leaves its last byte past the
        // end, and the next split reads it as the XZERO's second byte.
        let mut b = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x47\x58\x84\x77".to_vec();
        let mut hll = Hll::new(&mut b);
        for e in ["22278", "e503", "e1406"] {
            assert_eq!(hll.add(e.as_bytes(), 3000), Ok(true));
        }
        assert_eq!(&b[HEADER_LEN..], b"GX\x84D)\x84m;\x80C\x95\x8cB");
        // Reading 0 there instead (a new command) gives other runs.
        let mut c = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x47\x58\x84\x77".to_vec();
        for e in ["22278", "e503", "e1406"] {
            Hll::new(&mut c).add(e.as_bytes(), 3000).unwrap();
        }
        assert_ne!(b, c);
    }

    #[test]
    fn estimator_edges() {
        assert_eq!(Registers::default().cardinality(), 0);
        // All registers at the maximum: the estimate overflows like Redis's llroundl.
        assert_eq!(cardinality(&dense_with(|_| 63)), Ok(1 << 63));
        assert_eq!(cardinality(&dense_with(|_| 50)), Ok(1 << 63));
        let c = cardinality(&dense_with(|i| (i % 3) as u8)).unwrap();
        assert!(c > 10000 && c < 100000, "{c}");
        assert_eq!(c_llround_to_u64(2.5), 3);
        assert_eq!(c_llround_to_u64(f64::INFINITY), 1 << 63);
    }
}
