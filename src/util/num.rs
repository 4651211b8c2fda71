//! Number parsing and formatting with Redis's exact rules (`string2ll`, `strtod` checks, `%.17g`).

/// Strict signed 64-bit parse, as Redis's `string2ll`: optional `-`, no `+`, no spaces, no leading
/// zeros (except "0"), no overflow.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = if b[0] == b'-' {
        (true, &b[1..])
    } else {
        (false, b)
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i128).wrapping_neg() as i64)
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// An unsigned long as C's `strtoul(s, &end, 10)` reads it, with Redis's SCAN-cursor checks
/// (`parseScanCursorOrReply`): the string is read up to its first NUL, must not start with a
/// space and must be consumed entirely; a sign is allowed (`-1` wraps to `u64::MAX`), leading
/// zeros are fine, an empty string is 0, and a value beyond `u64::MAX` is refused (ERANGE).
pub fn parse_strtoul(b: &[u8]) -> Option<u64> {
    let b = crate::util::cstr::until_nul(b);
    if b.first()
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        return None;
    }
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        // No digits: strtoul consumes nothing, so only the empty string is "fully consumed".
        return b.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A double as Redis's `getDoubleFromObject` accepts it: no leading space, whole string consumed,
/// `inf`/`-inf` allowed, NaN rejected.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let lower = s.to_ascii_lowercase();
    let v: f64 = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("inf") || lower.contains("nan") {
                return None;
            }
            s.parse().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// `%.17g`, as Redis formats doubles in replies (`addReplyDouble`); `inf`/`-inf` for infinities.
/// Whole numbers below 1e17 (most scores) print as plain integers, exactly as %.17g does,
/// without the general formatting path.
pub fn format_double_reply(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e17 && !(d == 0.0 && d.is_sign_negative()) {
        return String::from_utf8_lossy(IntStr::new(d as i64).as_bytes()).into_owned();
    }
    format_g(d, 17)
}

/// C's `%.{prec}g`.
pub fn format_g(d: f64, prec: usize) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = prec.max(1);
    let e = format!("{:.*e}", p - 1, d);
    let (mant, exp) = e.split_once('e').unwrap();
    let x: i32 = exp.parse().unwrap();
    if x < -4 || x >= p as i32 {
        let mant = trim_zeros(mant);
        format!("{}e{}{:02}", mant, if x < 0 { '-' } else { '+' }, x.abs())
    } else {
        let decimals = (p as i32 - 1 - x).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A stack-formatted integer (avoids a heap allocation per integer reply).
pub struct IntStr {
    buf: [u8; 20],
    start: usize,
}

impl IntStr {
    pub fn new(i: i64) -> IntStr {
        let mut buf = [0u8; 20];
        let mut pos = 20;
        let neg = i < 0;
        let mut v = i.unsigned_abs();
        loop {
            pos -= 1;
            buf[pos] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if neg {
            pos -= 1;
            buf[pos] = b'-';
        }
        IntStr { buf, start: pos }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_reply_fast_path_matches_g17() {
        for d in [
            0.0,
            -0.0,
            1.0,
            -7.0,
            123456789.0,
            99999999999999999.0,
            1e16,
            -1e16,
            1e17,
            2.5,
            1e300,
        ] {
            assert_eq!(format_double_reply(d), format_g(d, 17), "{d}");
        }
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"+4"[..], b" 4", b"04", b"-0", b"", b"1a", b"-"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn g_format_matches_c() {
        assert_eq!(format_g(1.5, 17), "1.5");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(123456.0, 17), "123456");
        assert_eq!(format_g(0.0001, 17), "0.0001");
        assert_eq!(format_g(0.00001, 17), "1.0000000000000001e-05");
    }

    #[test]
    fn strtoul_like_scan_cursors() {
        assert_eq!(parse_strtoul(b"0"), Some(0));
        assert_eq!(parse_strtoul(b"007"), Some(7));
        assert_eq!(parse_strtoul(b"+5"), Some(5));
        assert_eq!(parse_strtoul(b"-1"), Some(u64::MAX));
        assert_eq!(parse_strtoul(b""), Some(0));
        assert_eq!(parse_strtoul(b"5\0junk"), Some(5));
        assert_eq!(parse_strtoul(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b" 0"[..],
            b"-",
            b"+",
            b"1x",
            b"18446744073709551616",
            b"0x10",
        ] {
            assert_eq!(parse_strtoul(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn intstr() {
        assert_eq!(IntStr::new(i64::MIN).as_bytes(), b"-9223372036854775808");
        assert_eq!(IntStr::new(0).as_bytes(), b"0");
    }
}
