//! The compact ("listpack") representation: every entry in one byte buffer, linear scans.
use super::*;

#[derive(Clone)]
pub(super) struct Compact {
    /// `[u32 LE count][entry]...`, exactly sized.
    pub(super) buf: Box<[u8]>,
}

/// Where one entry sits in the buffer.
#[derive(Clone, Copy)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) member: (usize, usize),
    pub(super) score: f64,
    pub(super) end: usize,
}

pub(super) const TWO_53: f64 = 9007199254740992.0;

pub(super) fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let c = b[*pos];
        *pos += 1;
        v |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// The varint a score is stored as when it is integral (even: zigzag << 1), else None (stored
/// as tag 1 + 8 raw bytes). -0.0 is stored as the integer 0, as Redis 7.0's listpack stores
/// integral scores as integers (`double2ll` in `zzlInsertAt`): a listpack loses the sign of
/// zero, a skiplist keeps it.
pub(super) fn int_score(s: f64) -> Option<u64> {
    if s.fract() == 0.0 && s.abs() < TWO_53 {
        let i = s as i64;
        Some((((i << 1) ^ (i >> 63)) as u64) << 1)
    } else {
        None
    }
}

pub(super) fn entry_len(mlen: usize, s: f64) -> usize {
    varint_len(mlen as u64) + mlen + int_score(s).map_or(9, varint_len)
}

pub(super) fn put_entry(out: &mut Vec<u8>, m: &[u8], s: f64) {
    put_varint(out, m.len() as u64);
    out.extend_from_slice(m);
    match int_score(s) {
        Some(v) => put_varint(out, v),
        None => {
            out.push(1);
            out.extend_from_slice(&s.to_bits().to_le_bytes());
        }
    }
}

pub(super) fn get_score(b: &[u8], pos: &mut usize) -> f64 {
    let v = get_varint(b, pos);
    if v & 1 == 0 {
        let zz = v >> 1;
        ((zz >> 1) as i64 ^ -((zz & 1) as i64)) as f64
    } else {
        let raw: [u8; 8] = b[*pos..*pos + 8].try_into().expect("8 bytes");
        *pos += 8;
        f64::from_bits(u64::from_le_bytes(raw))
    }
}

impl Compact {
    pub(super) fn new() -> Compact {
        Compact {
            buf: vec![0u8; 4].into_boxed_slice(),
        }
    }

    pub(super) fn len(&self) -> usize {
        u32::from_le_bytes(self.buf[..4].try_into().expect("header")) as usize
    }

    pub(super) fn spans(&self) -> SpanIter<'_> {
        SpanIter {
            buf: &self.buf,
            pos: 4,
        }
    }

    pub(super) fn iter(&self) -> CompactIter<'_> {
        CompactIter {
            spans: self.spans(),
        }
    }

    pub(super) fn member(&self, sp: &Span) -> &[u8] {
        &self.buf[sp.member.0..sp.member.1]
    }

    pub(super) fn find(&self, m: &[u8]) -> Option<(usize, Span)> {
        self.spans()
            .enumerate()
            .find(|(_, sp)| self.member(sp) == m)
    }

    /// Byte offset of the entry at `rank` (the buffer end when `rank == len`).
    pub(super) fn offset_of(&self, rank: usize) -> usize {
        self.spans().nth(rank).map_or(self.buf.len(), |sp| sp.start)
    }

    /// Replaces `buf[from..to]` with `with`, adjusting the count by `delta`.
    pub(super) fn splice(&mut self, from: usize, to: usize, with: &[u8], delta: i64) {
        let mut v = Vec::with_capacity(self.buf.len() - (to - from) + with.len());
        v.extend_from_slice(&self.buf[..from]);
        v.extend_from_slice(with);
        v.extend_from_slice(&self.buf[to..]);
        let n = (self.len() as i64 + delta) as u32;
        v[..4].copy_from_slice(&n.to_le_bytes());
        self.buf = v.into_boxed_slice();
    }

    /// Inserts an absent member at its place in the order.
    pub(super) fn insert(&mut self, m: &[u8], s: f64) {
        let at = self
            .spans()
            .find(|sp| cmp_key(sp.score, self.member(sp), s, m) == Ordering::Greater)
            .map_or(self.buf.len(), |sp| sp.start);
        let mut e = Vec::with_capacity(entry_len(m.len(), s));
        put_entry(&mut e, m, s);
        self.splice(at, at, &e, 1);
    }
}

pub(super) struct SpanIter<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl Iterator for SpanIter<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let mut p = self.pos;
        let mlen = get_varint(self.buf, &mut p) as usize;
        let member = (p, p + mlen);
        p += mlen;
        let score = get_score(self.buf, &mut p);
        self.pos = p;
        Some(Span {
            start,
            member,
            score,
            end: p,
        })
    }
}

pub struct CompactIter<'a> {
    spans: SpanIter<'a>,
}

impl<'a> Iterator for CompactIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let sp = self.spans.next()?;
        Some((&self.spans.buf[sp.member.0..sp.member.1], sp.score))
    }
}
