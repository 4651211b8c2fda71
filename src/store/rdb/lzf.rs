//! LZF, the compression of RDB strings (`RDB_ENC_LZF`) and compressed quicklist nodes.
//! Decompression is the `lzf` crate's (bounds-checked). Compression is our own: the crate's
//! compressor allocates and zeroes a 64K-entry table on every call, which dominated the cost
//! of saving many short strings; here the table lives per thread and is never cleared (a stale
//! entry is harmless: every candidate match is verified against the input).
use std::cell::RefCell;

const HLOG: u32 = 14;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

thread_local! {
    static TABLE: RefCell<Vec<u32>> = RefCell::new(vec![0; HSIZE]);
}

#[inline]
fn hash3(b: &[u8]) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2654435761) >> (32 - HLOG)) as usize
}

/// Compresses `input` into at most `max_out` bytes. None when the output would not fit
/// (Redis then stores the string verbatim).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.len() < 3 || max_out == 0 {
        return None;
    }
    TABLE.with(|t| compress_with(&mut t.borrow_mut(), input, max_out))
}

fn compress_with(table: &mut [u32], input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(max_out.min(input.len() + input.len() / 32 + 1));
    let mut lit_start = 0usize; // start of the pending literal run in `input`
    let mut i = 0usize;
    let n = input.len();
    let flush_lits = |out: &mut Vec<u8>, from: usize, to: usize| -> bool {
        let mut s = from;
        while s < to {
            let run = (to - s).min(MAX_LIT);
            if out.len() + 1 + run > max_out {
                return false;
            }
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
        }
        true
    };
    while i + 2 < n {
        let h = hash3(&input[i..]);
        let cand = table[h] as usize;
        table[h] = i as u32;
        if cand < i && i - cand <= MAX_OFF && input[cand..cand + 3] == input[i..i + 3] {
            let off = i - cand - 1;
            let maxlen = (n - i).min(MAX_REF);
            let mut len = 3;
            while len < maxlen && input[cand + len] == input[i + len] {
                len += 1;
            }
            if !flush_lits(&mut out, lit_start, i) {
                return None;
            }
            let l = len - 2;
            if l < 7 {
                if out.len() + 2 > max_out {
                    return None;
                }
                out.push(((l as u8) << 5) | (off >> 8) as u8);
            } else {
                if out.len() + 3 > max_out {
                    return None;
                }
                out.push((7 << 5) | (off >> 8) as u8);
                out.push((l - 7) as u8);
            }
            out.push(off as u8);
            // Index the positions inside the match so later data can refer to them.
            let end = i + len;
            let mut j = i + 1;
            while j < end && j + 2 < n {
                table[hash3(&input[j..])] = j as u32;
                j += 1;
            }
            i = end;
            lit_start = i;
        } else {
            i += 1;
        }
    }
    if !flush_lits(&mut out, lit_start, n) {
        return None;
    }
    Some(out)
}

/// Decompresses `input` into exactly `out_len` bytes. LZF expands at most 264 bytes per
/// 2-3 input bytes, so a declared length beyond that ratio is refused before allocating.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if out_len == 0 || out_len / 132 > input.len() + 1 {
        return None;
    }
    let v = lzf::decompress(input, out_len).ok()?;
    (v.len() == out_len).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn round_trips_and_matches_the_crate_decoder() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for round in 0..300 {
            let len = rng.gen_range(3..5000);
            let alphabet = if round % 3 == 0 { 2 } else { 20 };
            let data: Vec<u8> = (0..len)
                .map(|_| b'a' + rng.gen_range(0..alphabet))
                .collect();
            if let Some(c) = compress(&data, data.len()) {
                assert!(c.len() <= data.len());
                assert_eq!(decompress(&c, data.len()).unwrap(), data);
            }
        }
        let rep = vec![b'x'; 100_000];
        let c = compress(&rep, rep.len() - 4).expect("compressible");
        assert!(c.len() < 2000);
        assert_eq!(decompress(&c, rep.len()).unwrap(), rep);
    }

    #[test]
    fn incompressible_and_hostile_inputs() {
        let data: Vec<u8> = (0..=255u8).collect();
        assert!(compress(&data, data.len() - 4).is_none());
        assert!(decompress(&[0x1f, 1, 2], 1 << 40).is_none());
        assert!(decompress(&[0xe0, 0xff, 0xff], 300).is_none());
        assert!(decompress(&[], 10).is_none());
    }
}
