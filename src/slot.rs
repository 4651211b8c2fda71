//! Key -> hash slot: CRC16-XMODEM of the key (or of its first non-empty `{hash tag}`) & 16383.
//! Pure functions; no dependencies on the rest of the crate.

pub const SLOTS: usize = 16384;

/// The hash slot of `key`, as Redis's `keyHashSlot`.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&c| c == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&c| c == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16_xmodem(hashed) & (SLOTS as u16 - 1)
}

/// CRC16-XMODEM (Redis's crc16), eight bytes per step ("slicing-by-8"). Every keyed command
/// computes it at least once and a pipeline's prefetch twice: byte at a time (the `crc16`
/// crate, kept as this function's test oracle) it was ~7% of a pipelined GET's CPU.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let t = &CRC_TABLES;
        let a = c[0] ^ (crc >> 8) as u8;
        let b = c[1] ^ crc as u8;
        crc = t[7][a as usize]
            ^ t[6][b as usize]
            ^ t[5][c[2] as usize]
            ^ t[4][c[3] as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc << 8) ^ CRC_TABLES[0][((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

/// CRC_TABLES[k][v]: the CRC of byte `v` followed by `k` zero bytes (polynomial 0x1021).
static CRC_TABLES: [[u16; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    let mut v = 0;
    while v < 256 {
        let mut crc = (v as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        t[0][v] = crc;
        v += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut v = 0;
        while v < 256 {
            let prev = t[k - 1][v];
            t[k][v] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            v += 1;
        }
        k += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Values from redis-server 7.0 CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), 8363); // empty tag: the whole key is hashed
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"123456789"), 0x31C3);
    }

    #[test]
    fn slicing_matches_the_bytewise_crc() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for len in 0..200 {
            for _ in 0..20 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                assert_eq!(
                    crc16_xmodem(&data),
                    crc16::State::<crc16::XMODEM>::calculate(&data),
                    "len {len}"
                );
            }
        }
    }
}
