//! SORT and SORT_RO: sort the elements of a list, set or sorted set, numerically (by default)
//! or lexicographically (ALPHA), by the elements themselves or by weights read from other keys
//! (`BY weight_*`, `BY obj_*->field`), optionally returning other keys' values (`GET`) and/or
//! storing the result in a list (`STORE`, SORT only). Replies, errors, the order of checks and
//! even the order of equal elements follow Redis 7.0's sort.c, checked against redis-server
//! 7.0.15 (tests/diff/sort.txt).
//!
//! Also home of Redis's two sorting routines, shared with the GEO commands, because the order
//! in which they leave *equal* elements is visible in replies:
//! - `msort`: what glibc's `qsort` does (a top-down merge sort, stable);
//! - `pqsort`: Redis's partial quicksort (NetBSD's Bentley-McIlroy qsort that skips the
//!   partitions outside the requested range), used for SORT ... BY ... LIMIT and for GEO
//!   searches with COUNT. Not stable: equal elements end up where that algorithm puts them.
//!
//! One Redis 7.0 quirk is deliberately not reproduced: sort.c tests `errno == ERANGE` after
//! `strtod` without clearing errno first, so once any earlier command left ERANGE behind
//! (an overflowing float argument, say), Redis fails every numeric SORT with "One or more
//! scores can't be converted into double" until something resets errno. Here only a value
//! that itself overflows or underflows fails (tests/diff/sort.txt resets errno in Redis with
//! INCRBYFLOAT where it matters).
//!
//! Depends on the store's value types and `zsets`' C `strtod`; knows nothing of the socket.
use super::zsets::strtod;
use super::{is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::notify;
use crate::store::types::list::{ChunkLimit, End, List};
use crate::store::types::zset::{AddFlags, Limits, ZSet};
use crate::store::Value;
use crate::util::cstr::until_nul;
use crate::util::num::parse_i64;
use bytes::Bytes;
use std::cmp::Ordering;

type R = Result<Reply, ErrorReply>;

pub fn sort(ctx: &mut Ctx, a: &[Bytes]) -> R {
    sort_generic(ctx, a, false)
}

pub fn sort_ro(ctx: &mut Ctx, a: &[Bytes]) -> R {
    sort_generic(ctx, a, true)
}

/// The parsed options.
struct SortArgs<'a> {
    desc: bool,
    alpha: bool,
    limit: (i64, i64),
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*` (e.g. `nosort`): keep the stored order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse_args<'a>(
    ctx: &mut Ctx,
    a: &'a [Bytes],
    readonly: bool,
) -> Result<SortArgs<'a>, ErrorReply> {
    let cluster = ctx.shared.config().hot.cluster_enabled;
    // BY and GET patterns read keys the ACL check never saw: the user must read every key.
    let mut full_access = None;
    let mut reads_all =
        |ctx: &mut Ctx| *full_access.get_or_insert_with(|| super::acl_cmd::reads_all_keys(ctx, a));
    let mut s = SortArgs {
        desc: false,
        alpha: false,
        limit: (0, -1),
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let arg = &a[j][..];
        if is(arg, "asc") {
            s.desc = false;
        } else if is(arg, "desc") {
            s.desc = true;
        } else if is(arg, "alpha") {
            s.alpha = true;
        } else if is(arg, "limit") && left >= 2 {
            let start = parse_i64(&a[j + 1]).ok_or_else(ErrorReply::not_integer)?;
            let count = parse_i64(&a[j + 2]).ok_or_else(ErrorReply::not_integer)?;
            s.limit = (start, count);
            j += 2;
        } else if !readonly && is(arg, "store") && left >= 1 {
            s.store = Some(&a[j + 1]);
            j += 1;
        } else if is(arg, "by") && left >= 1 {
            let pattern = &a[j + 1][..];
            s.by = Some(pattern);
            if !until_nul(pattern).contains(&b'*') {
                s.dontsort = true;
            } else if cluster {
                return Err(ErrorReply::sort_by_in_cluster());
            } else if !reads_all(ctx) {
                return Err(ErrorReply::sort_by_noperm());
            }
            j += 1;
        } else if is(arg, "get") && left >= 1 {
            if cluster {
                return Err(ErrorReply::sort_get_in_cluster());
            }
            if !reads_all(ctx) {
                return Err(ErrorReply::sort_get_noperm());
            }
            s.gets.push(&a[j + 1]);
            j += 1;
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    Ok(s)
}

/// One element and its sort key.
struct Item {
    obj: Bytes,
    score: f64,
    weight: Option<Bytes>,
}

impl Item {
    fn new(obj: Bytes) -> Item {
        Item {
            obj,
            score: 0.0,
            weight: None,
        }
    }
}

fn sort_generic(ctx: &mut Ctx, a: &[Bytes], readonly: bool) -> R {
    let mut args = parse_args(ctx, a, readonly)?;
    let limits = super::zsets::limits(ctx);
    let from_script = ctx.client.script;
    let (mut items, start, end) = match ctx.read_value(&a[1]) {
        None => (Vec::new(), -1, -2),
        Some(v) => {
            match v {
                Value::List(_) => {}
                // A set has no order of its own: when storing, or for a script, sort it so
                // the result is deterministic.
                Value::Set(_) if args.dontsort && (args.store.is_some() || from_script) => {
                    args.dontsort = false;
                    args.alpha = true;
                    args.by = None;
                }
                Value::Set(_) => {}
                Value::ZSet(z) => make_indexed(z, limits),
                _ => return Err(ErrorReply::wrong_type()),
            }
            load(v, &args)
        }
    };
    if !args.dontsort {
        if let Some(err) = weigh(ctx, &mut items, &args) {
            return Err(err);
        }
        let cmp = |x: &Item, y: &Item| compare(x, y, &args);
        if args.by.is_some() && (start != 0 || end != items.len() as i64 - 1) {
            if end >= start {
                pqsort(&mut items, start as usize, end as usize, cmp);
            }
        } else {
            msort(&mut items, cmp);
        }
    }
    let range = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &[][..]
    };
    match args.store {
        None => Ok(Reply::Array(output(ctx, range, &args.gets))),
        Some(dst) => Ok(Reply::Int(store(ctx, dst, range, &args.gets))),
    }
}

/// Redis converts a listpack-encoded zset to a skiplist before sorting it, for good (OBJECT
/// ENCODING says "skiplist" afterwards).
fn make_indexed(z: &mut ZSet, limits: Limits) {
    if z.is_compact() {
        let mut t = ZSet::new_indexed();
        for (m, s) in z.iter() {
            t.add(m, s, AddFlags::default(), limits);
        }
        *z = t;
    }
}

/// Loads the elements to sort, and the inclusive output range `start..=end` over them (empty
/// when `end < start`). With nothing to sort, a list or zset is read only over the LIMIT range,
/// in DESC order when asked; a set keeps its own order.
fn load(v: &Value, args: &SortArgs) -> (Vec<Item>, i64, i64) {
    let len = match v {
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        _ => 0,
    } as i64;
    let (start, end) = limit_range(args.limit, len);
    let direct = args.dontsort && !matches!(v, Value::Set(_));
    if direct && end < start {
        return (Vec::new(), start, end);
    }
    let n = (end - start + 1).max(0) as usize;
    let item = |b: &[u8]| Item::new(Bytes::copy_from_slice(b));
    let items: Vec<Item> = match v {
        Value::List(l) if direct && args.desc => l
            .iter()
            .rev()
            .skip(start as usize)
            .take(n)
            .map(|e| Item::new(e.to_bytes()))
            .collect(),
        Value::List(l) if direct => l
            .iter_from(start as usize)
            .take(n)
            .map(|e| Item::new(e.to_bytes()))
            .collect(),
        Value::List(l) => l.iter().map(|e| Item::new(e.to_bytes())).collect(),
        Value::Set(s) => s.iter().map(|e| item(&e.bytes())).collect(),
        Value::ZSet(z) if direct => {
            let from = if args.desc { len - 1 - start } else { start } as usize;
            z.iter_from(from, args.desc)
                .take(n)
                .map(|(m, _)| item(m))
                .collect()
        }
        Value::ZSet(z) => z.iter().map(|(m, _)| item(m)).collect(),
        _ => Vec::new(),
    };
    if direct {
        let n = items.len() as i64;
        (items, 0, n - 1)
    } else {
        (items, start, end)
    }
}

/// LIMIT offset count resolved against `len` as Redis does (clamped first, so a huge count
/// allocates nothing): `(start, end)` inclusive, `end < start` when empty.
fn limit_range((offset, count): (i64, i64), len: i64) -> (i64, i64) {
    let mut start = offset.clamp(0, len);
    let count = count.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    (start, end.min(len - 1))
}

/// Loads every item's sort key: its BY weight or the element itself, as a number unless
/// ALPHA. Returns the conversion error Redis reports (after loading everything).
fn weigh(ctx: &mut Ctx, items: &mut [Item], args: &SortArgs) -> Option<ErrorReply> {
    let mut bad = false;
    for it in items.iter_mut() {
        let val = match args.by {
            Some(pattern) => match lookup_by_pattern(ctx, pattern, &it.obj) {
                Some(v) => v,
                None => continue,
            },
            None => it.obj.clone(),
        };
        if args.alpha {
            if args.by.is_some() {
                it.weight = Some(val);
            }
        } else {
            let (score, used, erange) = strtod(&val);
            // strtod must stop at the end of the C string.
            bad |= val.get(used).is_some_and(|&c| c != 0) || erange || score.is_nan();
            it.score = score;
        }
    }
    bad.then(ErrorReply::sort_not_double)
}

/// C's `strcmp`/`strcoll` in the C locale: bytes up to the first NUL.
fn cmp_cstr(a: &[u8], b: &[u8]) -> Ordering {
    until_nul(a).cmp(until_nul(b))
}

/// Redis's sortCompare.
fn compare(x: &Item, y: &Item, args: &SortArgs) -> i32 {
    let binary = args.store.is_some();
    let ord = if !args.alpha {
        if x.score > y.score {
            Ordering::Greater
        } else if x.score < y.score {
            Ordering::Less
        } else {
            x.obj.cmp(&y.obj)
        }
    } else if args.by.is_some() {
        match (&x.weight, &y.weight) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) if binary => a.cmp(b),
            (Some(a), Some(b)) => cmp_cstr(a, b),
        }
    } else if binary {
        x.obj.cmp(&y.obj)
    } else {
        cmp_cstr(&x.obj, &y.obj)
    };
    let c = ord as i32;
    if args.desc {
        -c
    } else {
        c
    }
}

/// The value a GET/BY pattern names for element `subst` (Redis's lookupKeyByPattern): `#` is
/// the element itself; otherwise the first `*` is replaced by the element and the result is
/// a string key, or `key->field` of a hash. Patterns are read as C strings where Redis does.
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], subst: &[u8]) -> Option<Bytes> {
    if pattern.first() == Some(&b'#') && pattern.get(1).is_none_or(|&c| c == 0) {
        return Some(Bytes::copy_from_slice(subst));
    }
    let cpat = until_nul(pattern);
    let star = cpat.iter().position(|&c| c == b'*')?;
    let arrow = cpat[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i);
    let field = arrow
        .filter(|&f| f + 2 < cpat.len())
        .map(|f| &pattern[f + 2..]);
    let key_end = field.map_or(pattern.len(), |f| pattern.len() - f.len() - 2);
    let mut key = Vec::with_capacity(key_end + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    match (ctx.read_value(&key)?, field) {
        (Value::Hash(h), Some(f)) => h.get(f).map(|e| Bytes::from(e.to_vec())),
        (v, None) => v.as_bytes().map(|b| Bytes::copy_from_slice(&b)),
        _ => None,
    }
}

fn output(ctx: &mut Ctx, range: &[Item], gets: &[&[u8]]) -> Vec<Reply> {
    let mut out = Vec::with_capacity(range.len() * gets.len().max(1));
    for it in range {
        if gets.is_empty() {
            out.push(Reply::Bulk(it.obj.clone()));
        }
        for g in gets {
            out.push(lookup_by_pattern(ctx, g, &it.obj).map_or(Reply::Nil, Reply::Bulk));
        }
    }
    out
}

/// SORT ... STORE: the result replaces `dst` as a list (a missing GET value is stored as an
/// empty string); an empty result deletes `dst`. Returns the number of elements stored.
fn store(ctx: &mut Ctx, dst: &[u8], range: &[Item], gets: &[&[u8]]) -> i64 {
    let limit = ChunkLimit::from_fill(ctx.shared.config().hot.list_max_listpack_size);
    let mut list = List::new();
    for it in range {
        if gets.is_empty() {
            list.push(End::Right, &it.obj, limit);
        }
        for g in gets {
            let v = lookup_by_pattern(ctx, g, &it.obj).unwrap_or_default();
            list.push(End::Right, &v, limit);
        }
    }
    let n = list.len() as i64;
    if n > 0 {
        ctx.put_value(dst, Value::List(crate::store::CowBox::new(list)));
        ctx.notify(notify::LIST, "sortstore", dst);
    } else if ctx.delete_key(dst) {
        ctx.notify(notify::GENERIC, "del", dst);
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Redis's sorting routines (see the module doc). Comparators return <0, 0, >0 like C's.

/// glibc's `qsort`: a top-down merge sort taking from the left run on ties (stable).
pub(super) fn msort<T>(v: &mut Vec<T>, mut cmp: impl FnMut(&T, &T) -> i32) {
    if v.len() < 2 {
        return;
    }
    let mut idx: Vec<usize> = (0..v.len()).collect();
    let mut tmp = Vec::with_capacity(v.len());
    msort_rec(&mut idx, &mut tmp, &mut |a, b| cmp(&v[a], &v[b]));
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(
        idx.into_iter()
            .map(|i| slots[i].take().expect("each index once")),
    );
}

fn msort_rec(b: &mut [usize], tmp: &mut Vec<usize>, cmp: &mut impl FnMut(usize, usize) -> i32) {
    let n = b.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort_rec(&mut b[..n1], tmp, cmp);
    msort_rec(&mut b[n1..], tmp, cmp);
    tmp.clear();
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(b[i], b[j]) <= 0 {
            tmp.push(b[i]);
            i += 1;
        } else {
            tmp.push(b[j]);
            j += 1;
        }
    }
    tmp.extend_from_slice(&b[i..n1]);
    let done = tmp.len();
    b[..done].copy_from_slice(tmp);
}

/// Redis's `pqsort`: sorts `v` enough that the positions `lo..=hi` hold what a full sort
/// would put there.
pub(super) fn pqsort<T>(v: &mut [T], lo: usize, hi: usize, mut cmp: impl FnMut(&T, &T) -> i32) {
    pqsort_rec(v, 0, v.len(), &mut cmp, lo, hi);
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &mut impl FnMut(&T, &T) -> i32) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(v: &mut [T], a: usize, n: usize, cmp: &mut impl FnMut(&T, &T) -> i32) {
    for m in a + 1..a + n {
        let mut l = m;
        while l > a && cmp(&v[l - 1], &v[l]) > 0 {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Picks a pivot (median of three, or ninther above 40 elements), moves it to `v[a]` and
/// partitions `v[a..a+n]` around it, elements equal to it gathered at both ends. Returns the
/// partition pointers `(pa, pb, pc, pd)`, or None when nothing moved (the caller then
/// finishes with an insertion sort).
fn partition<T>(
    v: &mut [T],
    a: usize,
    n: usize,
    cmp: &mut impl FnMut(&T, &T) -> i32,
) -> Option<(usize, usize, usize, usize)> {
    let mut pm = a + n / 2;
    if n > 7 {
        let (mut pl, mut pn) = (a, a + n - 1);
        if n > 40 {
            let d = n / 8;
            pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
            pm = med3(v, pm - d, pm, pm + d, cmp);
            pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
        }
        pm = med3(v, pl, pm, pn, cmp);
    }
    v.swap(a, pm);
    let (mut pa, mut pb) = (a + 1, a + 1);
    let (mut pc, mut pd) = (a + n - 1, a + n - 1);
    let mut swapped = false;
    loop {
        while pb <= pc {
            let c = cmp(&v[pb], &v[a]);
            if c > 0 {
                break;
            }
            if c == 0 {
                swapped = true;
                v.swap(pa, pb);
                pa += 1;
            }
            pb += 1;
        }
        while pb <= pc {
            let c = cmp(&v[pc], &v[a]);
            if c < 0 {
                break;
            }
            if c == 0 {
                swapped = true;
                v.swap(pc, pd);
                pd -= 1;
            }
            pc -= 1;
        }
        if pb > pc {
            break;
        }
        v.swap(pb, pc);
        swapped = true;
        pb += 1;
        pc -= 1;
    }
    swapped.then_some((pa, pb, pc, pd))
}

/// One partition step on `v[a..a+n]` (Bentley-McIlroy three-way partitioning), recursing
/// into the smaller-address side and looping on the other, skipping any side that holds no
/// position of `lo..=hi`.
fn pqsort_rec<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &mut impl FnMut(&T, &T) -> i32,
    lo: usize,
    hi: usize,
) {
    loop {
        if n < 7 {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let Some((pa, pb, pc, pd)) = partition(v, a, n, cmp) else {
            insertion_sort(v, a, n, cmp);
            return;
        };
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let outside = |s: usize, m: usize| hi < s || lo >= s + m;
        let r = pb - pa;
        if r > 1 && !outside(a, r) {
            pqsort_rec(v, a, r, cmp, lo, hi);
        }
        let r = pd - pc;
        if r <= 1 {
            return;
        }
        a = pn - r;
        n = r;
        if outside(a, n) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_range_clamps_like_redis() {
        assert_eq!(limit_range((0, -1), 5), (0, 4));
        assert_eq!(limit_range((2, i64::MAX), 3), (2, 2));
        assert_eq!(limit_range((-5, 2), 5), (0, 1));
        assert_eq!(limit_range((7, 2), 5), (4, 3));
        assert_eq!(limit_range((0, 0), 5), (0, -1));
        assert_eq!(limit_range((0, -1), 0), (-1, -2));
        assert_eq!(limit_range((i64::MIN, i64::MIN), 4), (0, 3));
    }

    fn c(a: &i32, b: &i32) -> i32 {
        a.cmp(b) as i32
    }

    #[test]
    fn msort_is_stable() {
        let mut v: Vec<(i32, i32)> = (0..100).map(|i| ((i * 37) % 7, i)).collect();
        msort(&mut v, |a, b| a.0.cmp(&b.0) as i32);
        assert!(v
            .windows(2)
            .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
    }

    #[test]
    fn pqsort_sorts_the_requested_range() {
        let mut seed = 12345u64;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            let v: Vec<i32> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 40) as i32 % 50
                })
                .collect();
            let mut full = v.clone();
            full.sort();
            if n == 0 {
                continue;
            }
            for (lo, hi) in [
                (0, n - 1),
                (0, n.min(3) - 1),
                (n / 2, n / 2),
                (n - 1, n - 1),
            ] {
                let mut p = v.clone();
                pqsort(&mut p, lo, hi, c);
                assert_eq!(&p[lo..=hi], &full[lo..=hi], "n={n} {lo}..={hi}");
            }
        }
    }
}
