//! Redis's listpack byte format (listpack.c, 7.0): what hashes, small sorted sets and
//! quicklist nodes are written as. `Builder` writes one; `entries` parses one completely
//! (Redis's deep integrity check: header size, element count, every encoding, every
//! back-length, the terminator) before anything is built from it.
use crate::store::types::dict::Elem;

pub const HEADER: usize = 6;
pub const EOF: u8 = 0xff;
/// Redis's listpack element-count field saturates here (count unknown, walk to count).
const NUMELE_UNKNOWN: u16 = u16::MAX;

/// Builds a listpack by appending elements.
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Builder { buf, count: 0 }
    }

    /// Bytes the finished listpack will have.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a string element; a canonical integer text is stored as an integer, as
    /// `lpAppend` does.
    pub fn push_str(&mut self, s: &[u8]) {
        encode_str(&mut self.buf, s);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        encode_int(&mut self.buf, v);
        self.count += 1;
    }

    pub fn push_elem(&mut self, e: Elem) {
        match e {
            Elem::Int(i) => self.push_int(i),
            Elem::Str(s) => self.push_str(s),
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count >= NUMELE_UNKNOWN as usize {
            NUMELE_UNKNOWN
        } else {
            self.count as u16
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// Appends one string element (with its back-length) to `buf`; a canonical integer text is
/// stored as an integer, as `lpAppend` does. Shared by `Builder` and the stream nodes, which
/// keep their listpacks in this exact format (store::types::stream).
pub fn encode_str(buf: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 20 {
        if let Some(v) = crate::util::num::parse_i64(s) {
            return encode_int(buf, v);
        }
    }
    let start = buf.len();
    let n = s.len();
    if n < 64 {
        buf.push(0x80 | n as u8);
    } else if n < 4096 {
        buf.push(0xe0 | (n >> 8) as u8);
        buf.push(n as u8);
    } else {
        buf.push(0xf0);
        buf.extend_from_slice(&(n as u32).to_le_bytes());
    }
    buf.extend_from_slice(s);
    encode_backlen(buf, start);
}

/// Appends one integer element (with its back-length) to `buf`.
pub fn encode_int(buf: &mut Vec<u8>, v: i64) {
    let start = buf.len();
    if (0..=127).contains(&v) {
        buf.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64 & 0x1fff) as u16;
        buf.push(0xc0 | (u >> 8) as u8);
        buf.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        buf.push(0xf1);
        buf.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8388608..=8388607).contains(&v) {
        buf.push(0xf2);
        buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if i32::try_from(v).is_ok() {
        buf.push(0xf3);
        buf.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        buf.push(0xf4);
        buf.extend_from_slice(&v.to_le_bytes());
    }
    encode_backlen(buf, start);
}

/// lpEncodeBacklen for the element that starts at `start`: big-endian 7-bit groups, every
/// byte but the first flagged 0x80.
fn encode_backlen(buf: &mut Vec<u8>, start: usize) {
    let l = buf.len() - start;
    if l <= 127 {
        buf.push(l as u8);
    } else if l < 16383 {
        buf.push((l >> 7) as u8);
        buf.push((l & 127) as u8 | 128);
    } else if l < 2097151 {
        buf.push((l >> 14) as u8);
        buf.push(((l >> 7) & 127) as u8 | 128);
        buf.push((l & 127) as u8 | 128);
    } else if l < 268435455 {
        buf.push((l >> 21) as u8);
        buf.push(((l >> 14) & 127) as u8 | 128);
        buf.push(((l >> 7) & 127) as u8 | 128);
        buf.push((l & 127) as u8 | 128);
    } else {
        buf.push((l >> 28) as u8);
        buf.push(((l >> 21) & 127) as u8 | 128);
        buf.push(((l >> 14) & 127) as u8 | 128);
        buf.push(((l >> 7) & 127) as u8 | 128);
        buf.push((l & 127) as u8 | 128);
    }
}

/// Number of bytes of the back-length that encodes `l`.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Reads the back-length ending at `end` (exclusive): the value and its size.
fn read_backlen(buf: &[u8], end: usize, max: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    let mut shift = 0;
    let mut i = end;
    for n in 1..=5 {
        if i == 0 || n > max {
            return None;
        }
        i -= 1;
        let b = buf[i];
        v |= ((b & 127) as usize) << shift;
        shift += 7;
        if b & 128 == 0 {
            return Some((v, n));
        }
    }
    None
}

/// Parses one entry at `pos`: the element and the position after its back-length.
pub fn entry(buf: &[u8], pos: usize) -> Option<(Elem<'_>, usize)> {
    let b = *buf.get(pos)?;
    let take = |from: usize, n: usize| buf.get(from..from.checked_add(n)?);
    let (elem, enc_end) = if b & 0x80 == 0 {
        (Elem::Int(b as i64), pos + 1)
    } else if b & 0xc0 == 0x80 {
        let n = (b & 0x3f) as usize;
        (Elem::Str(take(pos + 1, n)?), pos + 1 + n)
    } else if b & 0xe0 == 0xc0 {
        let lo = *buf.get(pos + 1)?;
        let u = ((b as u16 & 0x1f) << 8) | lo as u16;
        let v = if u >= 1 << 12 {
            u as i64 - (1 << 13)
        } else {
            u as i64
        };
        (Elem::Int(v), pos + 2)
    } else if b & 0xf0 == 0xe0 {
        let n = ((b as usize & 0x0f) << 8) | *buf.get(pos + 1)? as usize;
        (Elem::Str(take(pos + 2, n)?), pos + 2 + n)
    } else {
        match b {
            0xf0 => {
                let l = take(pos + 1, 4)?;
                let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                (Elem::Str(take(pos + 5, n)?), pos + 5 + n)
            }
            0xf1 => {
                let l = take(pos + 1, 2)?;
                (Elem::Int(i16::from_le_bytes([l[0], l[1]]) as i64), pos + 3)
            }
            0xf2 => {
                let l = take(pos + 1, 3)?;
                let v = i32::from_le_bytes([0, l[0], l[1], l[2]]) >> 8;
                (Elem::Int(v as i64), pos + 4)
            }
            0xf3 => {
                let l = take(pos + 1, 4)?;
                (
                    Elem::Int(i32::from_le_bytes([l[0], l[1], l[2], l[3]]) as i64),
                    pos + 5,
                )
            }
            0xf4 => {
                let l = take(pos + 1, 8)?;
                (Elem::Int(i64::from_le_bytes(l.try_into().ok()?)), pos + 9)
            }
            _ => return None,
        }
    };
    let len = enc_end - pos;
    let bl = backlen_size(len);
    let end = enc_end.checked_add(bl)?;
    if end > buf.len() {
        return None;
    }
    let (v, n) = read_backlen(buf, end, bl)?;
    (v == len && n == bl).then_some((elem, end))
}

/// Every element of a listpack, after checking the whole structure. None if anything is off.
pub fn entries(buf: &[u8]) -> Option<Vec<Elem<'_>>> {
    if buf.len() < HEADER + 1 {
        return None;
    }
    let total = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let count = u16::from_le_bytes([buf[4], buf[5]]);
    if total != buf.len() || buf[buf.len() - 1] != EOF {
        return None;
    }
    let body = &buf[..buf.len() - 1];
    let mut out = Vec::with_capacity((count as usize).min(body.len()));
    let mut pos = HEADER;
    while pos < body.len() {
        let (e, next) = entry(body, pos)?;
        out.push(e);
        pos = next;
    }
    if count != NUMELE_UNKNOWN && out.len() != count as usize {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_encoding() {
        let long = vec![b'z'; 5000];
        let mid = vec![b'm'; 300];
        let strs: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"hello",
            &mid,
            &long,
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"4096",
            b"-32768",
            b"32767",
            b"40000",
            b"-8388608",
            b"8388607",
            b"2147483647",
            b"-2147483648",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"01",
            b"-0",
            b"1.5",
        ];
        let mut b = Builder::new();
        for s in &strs {
            b.push_str(s);
        }
        let lp = b.finish();
        let back = entries(&lp).expect("valid");
        assert_eq!(back.len(), strs.len());
        for (e, s) in back.iter().zip(&strs) {
            assert_eq!(e.bytes().as_ref(), *s);
        }
    }

    #[test]
    fn rejects_damage() {
        let mut b = Builder::new();
        b.push_str(b"abc");
        b.push_int(1000);
        let lp = b.finish();
        assert!(entries(&lp).is_some());
        for i in 0..lp.len() {
            for bit in 0..8 {
                let mut bad = lp.clone();
                bad[i] ^= 1 << bit;
                // Must not panic; most flips are refused.
                let _ = entries(&bad);
            }
            assert!(entries(&lp[..i]).is_none());
        }
    }
}
