//! Score and range arguments of the sorted set commands, read as Redis's C code reads them,
//! and the range searches over a `ZSet` built on them.
//!
//! Scores are parsed two ways, as in Redis: ZADD/ZINCRBY/WEIGHTS take `string2d` (whole
//! argument, no leading space, no overflow), range bounds take bare `strtod` on the C string
//! (`zslParseRange`: leading spaces, an empty bound is 0, "1e400" is inf). `util::num::parse_f64`
//! is neither (it accepts "1e400" and rejects hex floats), so both live here on one `strtod`.
//! Lex bounds follow `zslParseLexRange`; the first/last searches follow `zslFirstInRange` and
//! friends, including their "is any of it in range" pre-check.
use crate::protocol::ErrorReply;
use crate::store::types::zset::ZSet;
use crate::util::cstr::until_nul;

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// C's `strtod` over bytes: `(value, bytes consumed, ERANGE)`, consumed 0 when nothing
/// converts. Leading whitespace, a sign, `inf`/`infinity`, `nan[(chars)]`, hex floats
/// (`0x1.8p3`) and decimals with an optional exponent, as glibc reads them; ERANGE is
/// reported only where Redis looks at it (overflow to inf, underflow to zero).
pub(super) fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let start = i;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    if starts_with_ci(rest, b"inf") {
        let n = if starts_with_ci(rest, b"infinity") {
            8
        } else {
            3
        };
        return (sign(f64::INFINITY), i + n, false);
    }
    if starts_with_ci(rest, b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let close = rest[4..]
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
                .map(|p| p + 4);
            if let Some(c) = close.filter(|&c| rest[c] == b')') {
                n = c + 1;
            }
        }
        return (f64::NAN, i + n, false);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        return match hex_float(&rest[2..]) {
            Some((v, n, erange)) => (sign(v), i + 2 + n, erange),
            None => (sign(0.0), i + 1, false),
        };
    }
    let (mut j, mut digits, mut nonzero) = (0, 0, false);
    let mut eat_digits = |j: &mut usize| {
        while *j < rest.len() && rest[*j].is_ascii_digit() {
            nonzero |= rest[*j] != b'0';
            digits += 1;
            *j += 1;
        }
    };
    eat_digits(&mut j);
    if rest.get(j) == Some(&b'.') {
        j += 1;
        eat_digits(&mut j);
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'+' || rest[k] == b'-') {
            k += 1;
        }
        if k < rest.len() && rest[k].is_ascii_digit() {
            while k < rest.len() && rest[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..i + j]).expect("ascii");
    let v: f64 = text.parse().unwrap_or(0.0);
    (v, i + j, v.is_infinite() || (v == 0.0 && nonzero))
}

/// The digits of a hex float after `0x`: `(value, bytes consumed, ERANGE)`, None without a
/// hex digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let (mut mant, mut exp, mut digits, mut j) = (0u128, 0i64, 0, 0);
    let mut nonzero = false;
    let mut take = |d: u32, frac: bool, mant: &mut u128, exp: &mut i64| {
        nonzero |= d != 0;
        if *mant < 1 << 120 {
            *mant = *mant * 16 + u128::from(d);
            if frac {
                *exp -= 4;
            }
        } else if !frac {
            *exp += 4;
        }
    };
    while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(16)) {
        take(d, false, &mut mant, &mut exp);
        digits += 1;
        j += 1;
    }
    if s.get(j) == Some(&b'.') {
        j += 1;
        while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(16)) {
            take(d, true, &mut mant, &mut exp);
            digits += 1;
            j += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if j < s.len() && (s[j] | 0x20) == b'p' {
        let mut k = j + 1;
        let eneg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if k < s.len() && s[k].is_ascii_digit() {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + i64::from(s[k] - b'0')).min(1 << 20);
                k += 1;
            }
            exp += if eneg { -e } else { e };
            j = k;
        }
    }
    let mut v = mant as f64;
    let mut e = exp.clamp(-5000, 5000) as i32;
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step);
        e -= step;
    }
    Some((v, j, v.is_infinite() || (v == 0.0 && nonzero)))
}

/// A score argument as Redis's `getDoubleFromObject` (`string2d`) reads it: the whole
/// argument, no leading space, NaN refused, overflow/underflow refused.
pub(super) fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let (v, n, erange) = strtod(arg);
    (n == arg.len() && !v.is_nan() && !erange).then_some(v)
}

/// A score interval (`zrangespec`).
#[derive(Debug, Clone, Copy)]
pub(super) struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    /// `zslParseRange`: `(` makes a bound exclusive; the rest goes to strtod on the C string.
    pub(super) fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, ErrorReply> {
        fn bound(arg: &[u8]) -> Option<(f64, bool)> {
            let s = until_nul(arg);
            let (s, ex) = match s.first() {
                Some(b'(') => (&s[1..], true),
                _ => (s, false),
            };
            let (v, n, _) = strtod(s);
            (n == s.len() && !v.is_nan()).then_some((v, ex))
        }
        match (bound(min), bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                max,
                minex,
                maxex,
            }),
            _ => Err(ErrorReply::zset_range_not_float()),
        }
    }

    pub(super) fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    pub(super) fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// A lex bound: `-` and `+` are the strings below and above every string.
#[derive(Debug, Clone, PartialEq)]
enum Lex {
    Neg,
    Pos,
    Str(Vec<u8>),
}

/// `sdscmplex`: `-`/`+` are equal only to themselves.
fn cmp_lex(a: &Lex, b: &Lex) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Lex::Neg, Lex::Neg) | (Lex::Pos, Lex::Pos) => Equal,
        (Lex::Neg, _) | (_, Lex::Pos) => Less,
        (Lex::Pos, _) | (_, Lex::Neg) => Greater,
        (Lex::Str(x), Lex::Str(y)) => x.cmp(y),
    }
}

fn cmp_member(m: &[u8], b: &Lex) -> std::cmp::Ordering {
    match b {
        Lex::Neg => std::cmp::Ordering::Greater,
        Lex::Pos => std::cmp::Ordering::Less,
        Lex::Str(y) => m.cmp(y),
    }
}

/// A lexicographic interval (`zlexrangespec`).
#[derive(Debug, Clone)]
pub(super) struct LexRange {
    min: Lex,
    max: Lex,
    minex: bool,
    maxex: bool,
}

impl LexRange {
    /// `zslParseLexRange`: `[x` inclusive, `(x` exclusive, `-`/`+` alone (up to a NUL).
    pub(super) fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, ErrorReply> {
        fn item(arg: &[u8]) -> Option<(Lex, bool)> {
            let alone = arg.len() == 1 || arg.get(1) == Some(&0);
            match arg.first() {
                Some(b'+') if alone => Some((Lex::Pos, true)),
                Some(b'-') if alone => Some((Lex::Neg, true)),
                Some(b'(') => Some((Lex::Str(arg[1..].to_vec()), true)),
                Some(b'[') => Some((Lex::Str(arg[1..].to_vec()), false)),
                _ => None,
            }
        }
        match (item(min), item(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(LexRange {
                min,
                max,
                minex,
                maxex,
            }),
            _ => Err(ErrorReply::zset_lex_range()),
        }
    }

    pub(super) fn gte_min(&self, m: &[u8]) -> bool {
        let c = cmp_member(m, &self.min);
        if self.minex {
            c.is_gt()
        } else {
            c.is_ge()
        }
    }

    pub(super) fn lte_max(&self, m: &[u8]) -> bool {
        let c = cmp_member(m, &self.max);
        if self.maxex {
            c.is_lt()
        } else {
            c.is_le()
        }
    }

    fn is_empty(&self) -> bool {
        let c = cmp_lex(&self.min, &self.max);
        c.is_gt() || (c.is_eq() && (self.minex || self.maxex))
    }
}

/// Redis's `zzlIsInRange`/`zslIsInRange` test: the range is not empty, the highest entry
/// reaches the minimum and the lowest reaches the maximum.
fn may_overlap(
    z: &ZSet,
    empty: bool,
    gte_min: impl Fn(&[u8], f64) -> bool,
    lte_max: impl Fn(&[u8], f64) -> bool,
) -> bool {
    if empty || z.is_empty() {
        return false;
    }
    let (last, first) = (z.get(z.len() - 1).expect("last"), z.get(0).expect("first"));
    gte_min(last.0, last.1) && lte_max(first.0, first.1)
}

/// Rank of the first entry in a score range (`zslFirstInRange`).
pub(super) fn score_first(z: &ZSet, r: &ScoreRange) -> Option<usize> {
    if !may_overlap(z, r.is_empty(), |_, s| r.gte_min(s), |_, s| r.lte_max(s)) {
        return None;
    }
    let i = z.first_where(|_, s| r.gte_min(s))?;
    z.get(i).filter(|e| r.lte_max(e.1)).map(|_| i)
}

/// Rank of the last entry in a score range (`zslLastInRange`).
pub(super) fn score_last(z: &ZSet, r: &ScoreRange) -> Option<usize> {
    if !may_overlap(z, r.is_empty(), |_, s| r.gte_min(s), |_, s| r.lte_max(s)) {
        return None;
    }
    let i = z.last_where(|_, s| r.lte_max(s))?;
    z.get(i).filter(|e| r.gte_min(e.1)).map(|_| i)
}

/// Rank of the first entry in a lex range (`zslFirstInLexRange`; a scan on a compact zset,
/// so mixed scores behave as on Redis's listpack).
pub(super) fn lex_first(z: &ZSet, r: &LexRange) -> Option<usize> {
    if !may_overlap(z, r.is_empty(), |m, _| r.gte_min(m), |m, _| r.lte_max(m)) {
        return None;
    }
    let i = z.first_where(|m, _| r.gte_min(m))?;
    z.get(i).filter(|e| r.lte_max(e.0)).map(|_| i)
}

/// Rank of the last entry in a lex range (`zslLastInLexRange`).
pub(super) fn lex_last(z: &ZSet, r: &LexRange) -> Option<usize> {
    if !may_overlap(z, r.is_empty(), |m, _| r.gte_min(m), |m, _| r.lte_max(m)) {
        return None;
    }
    let i = z.last_where(|m, _| r.lte_max(m))?;
    z.get(i).filter(|e| r.gte_min(e.0)).map(|_| i)
}

/// Clamps Redis-style rank arguments (negative from the end) to `start..=end` within `len`;
/// None when the range is empty.
pub(super) fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_reads_like_glibc() {
        let t = |s: &str| strtod(s.as_bytes());
        assert_eq!(t("1.5"), (1.5, 3, false));
        assert_eq!(t("  -2e3x"), (-2000.0, 6, false));
        assert_eq!(t("1e"), (1.0, 1, false));
        assert_eq!(t("1e+"), (1.0, 1, false));
        assert_eq!(t(".5"), (0.5, 2, false));
        assert_eq!(t("5."), (5.0, 2, false));
        assert_eq!(t("0x10"), (16.0, 4, false));
        assert_eq!(t("0x1.8p1"), (3.0, 7, false));
        assert_eq!(t("0x"), (0.0, 1, false));
        assert_eq!(t("-Infinity"), (f64::NEG_INFINITY, 9, false));
        assert_eq!(t("infin"), (f64::INFINITY, 3, false));
        assert_eq!(t(""), (0.0, 0, false));
        assert_eq!(t("-"), (0.0, 0, false));
        assert_eq!(t("."), (0.0, 0, false));
        assert!(t("1e400").2);
        assert!(t("1e-400").2);
        assert!(!t("0e-400").2);
        let (v, n, _) = t("nan(abc)");
        assert!(v.is_nan() && n == 8);
    }

    #[test]
    fn scores_parse_like_string2d() {
        assert_eq!(parse_score(b"1"), Some(1.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"1e-310"), Some(1e-310));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"1\0",
            b"abc",
        ] {
            assert_eq!(parse_score(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ranges_parse_like_redis() {
        let r = ScoreRange::parse(b"(1", b" 5").unwrap();
        assert!(!r.gte_min(1.0) && r.gte_min(1.5) && r.lte_max(5.0));
        let r = ScoreRange::parse(b"", b"(").unwrap();
        assert!(r.is_empty());
        assert!(ScoreRange::parse(b"1\0zz", b"2").is_ok());
        for bad in [&b"x"[..], b"nan", b"(nan", b"1 ", b"  "] {
            assert!(ScoreRange::parse(bad, b"1").is_err(), "{bad:?}");
        }
        let l = LexRange::parse(b"-", b"+").unwrap();
        assert!(l.gte_min(b"") && l.lte_max(b"\xff"));
        assert!(LexRange::parse(b"+", b"+").unwrap().is_empty());
        assert!(LexRange::parse(b"[a", b"(a").unwrap().is_empty());
        assert!(LexRange::parse(b"-\0x", b"+").is_ok());
        for bad in [&b""[..], b"a", b"-x", b"+x"] {
            assert!(LexRange::parse(bad, b"+").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rank_clamping() {
        assert_eq!(clamp_ranks(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_ranks(3, 2, 5), None);
        assert_eq!(clamp_ranks(5, 10, 5), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 5), Some((0, 4)));
    }
}
