//! The pre-7.0 embedded encodings Redis still reads from old RDB files and DUMP payloads:
//! ziplist (lists, hashes and zsets before 7.0, quicklist v1 nodes), zipmap (hashes before
//! 2.6) and intset (sets of integers, still written by 7.0). Each parser checks the whole
//! blob and returns None on any inconsistency.
use crate::store::types::dict::Elem;

/// Every element of a ziplist (ziplist.c), structure fully checked.
pub fn ziplist_entries(buf: &[u8]) -> Option<Vec<Elem<'_>>> {
    if buf.len() < 11 {
        return None;
    }
    let zlbytes = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
    let zltail = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
    let zllen = u16::from_le_bytes([buf[8], buf[9]]);
    if zlbytes != buf.len() || buf[buf.len() - 1] != 0xff {
        return None;
    }
    let end = buf.len() - 1;
    let mut out = Vec::new();
    let mut pos = 10;
    let mut prev_len = 0usize;
    let mut last = 10;
    while pos < end {
        let start = pos;
        // prevlen
        let b = buf[pos];
        let prevlen = if b < 254 {
            pos += 1;
            b as usize
        } else if b == 254 {
            let l = buf.get(pos + 1..pos + 5)?;
            pos += 5;
            u32::from_le_bytes(l.try_into().ok()?) as usize
        } else {
            return None;
        };
        if prevlen != prev_len {
            return None;
        }
        let enc = *buf.get(pos)?;
        let take = |from: usize, n: usize| buf.get(from..from.checked_add(n)?);
        let (elem, next) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                (Elem::Str(take(pos + 1, n)?), pos + 1 + n)
            }
            1 => {
                let n = ((enc as usize & 0x3f) << 8) | *buf.get(pos + 1)? as usize;
                (Elem::Str(take(pos + 2, n)?), pos + 2 + n)
            }
            2 => {
                if enc != 0x80 {
                    return None;
                }
                let l = take(pos + 1, 4)?;
                let n = u32::from_be_bytes(l.try_into().ok()?) as usize;
                (Elem::Str(take(pos + 5, n)?), pos + 5 + n)
            }
            _ => match enc {
                0xc0 => {
                    let l = take(pos + 1, 2)?;
                    (Elem::Int(i16::from_le_bytes([l[0], l[1]]) as i64), pos + 3)
                }
                0xd0 => {
                    let l = take(pos + 1, 4)?;
                    (
                        Elem::Int(i32::from_le_bytes(l.try_into().ok()?) as i64),
                        pos + 5,
                    )
                }
                0xe0 => {
                    let l = take(pos + 1, 8)?;
                    (Elem::Int(i64::from_le_bytes(l.try_into().ok()?)), pos + 9)
                }
                0xf0 => {
                    let l = take(pos + 1, 3)?;
                    let v = i32::from_le_bytes([0, l[0], l[1], l[2]]) >> 8;
                    (Elem::Int(v as i64), pos + 4)
                }
                0xfe => {
                    let l = take(pos + 1, 1)?;
                    (Elem::Int(l[0] as i8 as i64), pos + 2)
                }
                0xf1..=0xfd => (Elem::Int((enc & 0x0f) as i64 - 1), pos + 1),
                _ => return None,
            },
        };
        if next > end {
            return None;
        }
        out.push(elem);
        prev_len = next - start;
        last = start;
        pos = next;
    }
    if !out.is_empty() && zltail != last || out.is_empty() && zltail != 10 {
        return None;
    }
    if zllen != u16::MAX && zllen as usize != out.len() {
        return None;
    }
    Some(out)
}

/// (field, value) pairs of a zipmap (zipmap.c), fully checked.
pub fn zipmap_pairs(buf: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut pos = 1;
    let mut out = Vec::new();
    let len_at = |pos: &mut usize| -> Option<usize> {
        let b = *buf.get(*pos)?;
        if b < 254 {
            *pos += 1;
            Some(b as usize)
        } else if b == 254 {
            let l = buf.get(*pos + 1..*pos + 5)?;
            *pos += 5;
            Some(u32::from_le_bytes(l.try_into().ok()?) as usize)
        } else {
            None
        }
    };
    buf.first()?;
    loop {
        if *buf.get(pos)? == 0xff {
            if pos + 1 != buf.len() {
                return None;
            }
            break;
        }
        let klen = len_at(&mut pos)?;
        let key = buf.get(pos..pos.checked_add(klen)?)?;
        pos += klen;
        let vlen = len_at(&mut pos)?;
        let free = *buf.get(pos)? as usize;
        pos += 1;
        let val = buf.get(pos..pos.checked_add(vlen)?)?;
        pos += vlen + free;
        out.push((key, val));
    }
    let zmlen = buf[0];
    if zmlen < 254 && zmlen as usize != out.len() {
        return None;
    }
    Some(out)
}

/// The members of an intset blob (intset.c): width, count, strictly ascending members.
pub fn intset_members(buf: &[u8]) -> Option<Vec<i64>> {
    if buf.len() < 8 {
        return None;
    }
    let width = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
    let count = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width)? != buf.len() - 8 {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for c in buf[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes(c.try_into().ok()?),
        };
        if out.last().is_some_and(|&p| p >= v) {
            return None;
        }
        out.push(v);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_checks_order_and_size() {
        let mut b = vec![2, 0, 0, 0, 2, 0, 0, 0];
        b.extend_from_slice(&1i16.to_le_bytes());
        b.extend_from_slice(&5i16.to_le_bytes());
        assert_eq!(intset_members(&b), Some(vec![1, 5]));
        let mut unsorted = b.clone();
        unsorted[8..10].copy_from_slice(&9i16.to_le_bytes());
        assert_eq!(intset_members(&unsorted), None);
        assert_eq!(intset_members(&b[..11]), None);
        let mut huge = b.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(intset_members(&huge), None);
    }

    #[test]
    fn ziplist_from_redis_2_8() {
        // A ziplist of ["a", 1, "hello"] as Redis 2.8 wrote it.
        let zl: Vec<u8> = vec![
            0x17, 0, 0, 0, 0x0f, 0, 0, 0, 3, 0, 0x00, 0x01, b'a', 0x03, 0xf2, 0x02, 0x05, b'h',
            b'e', b'l', b'l', b'o', 0xff,
        ];
        let e = ziplist_entries(&zl).expect("valid");
        assert_eq!(e, vec![Elem::Str(b"a"), Elem::Int(1), Elem::Str(b"hello")]);
        for i in 0..zl.len() {
            let _ = ziplist_entries(&zl[..i]);
            let mut bad = zl.clone();
            bad[i] ^= 0x55;
            let _ = ziplist_entries(&bad);
        }
    }

    #[test]
    fn zipmap_pairs_parse() {
        let zm: Vec<u8> = vec![1, 1, b'f', 2, 0, b'v', b'1', 0xff];
        assert_eq!(zipmap_pairs(&zm), Some(vec![(&b"f"[..], &b"v1"[..])]));
        assert_eq!(zipmap_pairs(&zm[..6]), None);
    }
}
