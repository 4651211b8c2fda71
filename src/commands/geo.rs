//! GEO commands: points kept in a sorted set whose scores are 52-bit geohashes
//! (`util::geohash`). GEOADD (NX XX CH), GEODIST, GEOHASH, GEOPOS, and the searches:
//! GEOSEARCH / GEOSEARCHSTORE (FROMMEMBER|FROMLONLAT, BYRADIUS|BYBOX) and the older
//! GEORADIUS / GEORADIUSBYMEMBER with their _RO variants (STORE / STOREDIST on the writable
//! ones), all with ASC|DESC, COUNT [ANY] and WITHCOORD / WITHDIST / WITHHASH.
//!
//! Replies, errors and the order of checks follow Redis 7.0's geo.c (checked against
//! redis-server 7.0.15, tests/diff/geo.txt): the source key's type is checked before any
//! argument; GEOADD validates every coordinate before looking at the key; a search scans the
//! nine cells around the centre in Redis's order and sorts with Redis's routines
//! (`sort::msort`, `sort::pqsort` for COUNT), so results at equal distances come back in the
//! same order too. Distances print as `%.4f`; coordinates as Redis's "human" long double
//! (`%.17Lf` without trailing zeros), in RESP3 as a double carrying that text, as Redis.
use super::sort::{msort, pqsort};
use super::zsets::{limits, parse_score, read_zset, store_result, write_zset};
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::notify;
use crate::store::types::zset::{AddFlags, AddResult, ZSet};
use crate::store::Value;
use crate::util::geohash::{self, Shape, ShapeKind};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

// ---------------------------------------------------------------------------------------------
// Argument parsing shared by the commands.

/// A longitude/latitude pair (Redis's extractLongLatOrReply): both must parse as doubles, then
/// fall inside the indexable area.
fn lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), ErrorReply> {
    let lon = parse_score(lon).ok_or_else(ErrorReply::not_float)?;
    let lat = parse_score(lat).ok_or_else(ErrorReply::not_float)?;
    if !geohash::valid_lonlat(lon, lat) {
        return Err(ErrorReply::geo_lonlat(lon, lat));
    }
    Ok((lon, lat))
}

/// Metres per unit (Redis's extractUnitOrReply; case-insensitive since 7.0).
fn unit(arg: &[u8]) -> Result<f64, ErrorReply> {
    Ok(if is(arg, "m") {
        1.0
    } else if is(arg, "km") {
        1000.0
    } else if is(arg, "ft") {
        0.3048
    } else if is(arg, "mi") {
        1609.34
    } else {
        return Err(ErrorReply::geo_unit());
    })
}

/// `radius unit`: the radius in the user's unit and metres per unit.
fn radius_arg(radius: &[u8], u: &[u8]) -> Result<(f64, f64), ErrorReply> {
    let r = parse_score(radius).ok_or_else(ErrorReply::geo_radius_not_float)?;
    if r < 0.0 {
        return Err(ErrorReply::geo_radius_negative());
    }
    Ok((r, unit(u)?))
}

/// `width height unit`: the box kind and metres per unit.
fn box_arg(w: &[u8], h: &[u8], u: &[u8]) -> Result<(ShapeKind, f64), ErrorReply> {
    let width = parse_score(w).ok_or_else(ErrorReply::geo_width_not_float)?;
    let height = parse_score(h).ok_or_else(ErrorReply::geo_height_not_float)?;
    if height < 0.0 || width < 0.0 {
        return Err(ErrorReply::geo_box_negative());
    }
    Ok((ShapeKind::Box { width, height }, unit(u)?))
}

/// The position of `member` (Redis's longLatFromMember).
fn member_lonlat(z: &ZSet, member: &[u8]) -> Option<(f64, f64)> {
    geohash::score_to_lonlat(z.score(member)?)
}

// ---------------------------------------------------------------------------------------------
// Reply formatting.

/// A distance as Redis prints it (`%.4f`).
fn distance_reply(d: f64) -> Reply {
    Reply::Bulk(Bytes::from(format!("{d:.4}")))
}

/// A double as Redis's `ld2string(LD_STR_HUMAN)`: `%.17Lf` of the value (a double widened
/// to long double prints its exact value, like Rust's `{:.17}`), trailing zeros and a
/// trailing dot removed, "-0" as "0".
fn human(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// One coordinate (Redis's addReplyHumanLongDouble): a bulk string in RESP2, a double with
/// the same text in RESP3.
fn coord_reply(v: f64) -> Reply {
    Reply::DoubleText(human(v))
}

fn position_reply((lon, lat): (f64, f64)) -> Reply {
    Reply::Array(vec![coord_reply(lon), coord_reply(lat)])
}

// ---------------------------------------------------------------------------------------------
// GEOADD / GEODIST / GEOHASH / GEOPOS.

/// GEOADD key [NX|XX] [CH] lon lat member [lon lat member ...]: ZADD with the points'
/// geohashes as scores. Replies the number of members added (with CH: added or moved).
pub fn geoadd(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (mut f, mut ch, mut first) = (AddFlags::default(), false, 2);
    while first < a.len() {
        let o = &a[first][..];
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if !is(o, "ch") {
            break;
        } else {
            ch = true;
        }
        first += 1;
    }
    let rest = a.len() - first;
    if !rest.is_multiple_of(3) || (f.nx && f.xx) {
        return Err(ErrorReply::syntax());
    }
    let mut points = Vec::with_capacity(rest / 3);
    for p in a[first..].chunks(3) {
        let (lon, lat) = lonlat(&p[0], &p[1])?;
        let score = geohash::lonlat_to_score(lon, lat).expect("validated coordinates") as f64;
        points.push((score, &p[2]));
    }
    if points.is_empty() {
        return Err(ErrorReply::syntax());
    }
    let key = &a[1];
    let lim = limits(ctx);
    let mut created = None;
    let z = match write_zset(ctx, key)? {
        Some(z) => z,
        None if f.xx => return Ok(Reply::Int(0)),
        None => created.insert(ZSet::for_first_member(lim, points[0].1.len())),
    };
    let (mut added, mut updated) = (0, 0);
    for (score, member) in points {
        match z.add(member, score, f, lim) {
            AddResult::Added(_) => added += 1,
            AddResult::Updated(_) => updated += 1,
            _ => {}
        }
    }
    if let Some(z) = created {
        ctx.put_value(key, Value::ZSet(crate::store::CowBox::new(z)));
    } else if added + updated > 0 {
        ctx.modified(key);
    }
    if added + updated > 0 {
        ctx.notify(notify::ZSET, "zadd", key);
    }
    Ok(Reply::Int(if ch { added + updated } else { added }))
}

/// GEODIST key member1 member2 [M|KM|FT|MI]: the distance, or nil when a member is missing.
pub fn geodist(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let to_meters = match a.len() {
        4 => 1.0,
        5 => unit(&a[4])?,
        _ => return Err(ErrorReply::syntax()),
    };
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(p1), Some(p2)) = (member_lonlat(z, &a[2]), member_lonlat(z, &a[3])) else {
        return Ok(Reply::Nil);
    };
    Ok(distance_reply(
        geohash::distance(p1.0, p1.1, p2.0, p2.1) / to_meters,
    ))
}

/// GEOHASH key member ...: each member's 11-character geohash, or nil.
pub fn geohash(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let z = read_zset(ctx, &a[1])?;
    let hash = |m: &Bytes| {
        let s = z.as_ref()?.score(m)?;
        geohash::geohash_string(s).map(|h| Reply::bulk(&h))
    };
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| hash(m).unwrap_or(Reply::Nil))
            .collect(),
    ))
}

/// GEOPOS key member ...: each member's `[longitude, latitude]`, or a nil array.
pub fn geopos(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let z = read_zset(ctx, &a[1])?;
    let pos = |m: &Bytes| member_lonlat(z.as_ref()?, m).map(position_reply);
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| pos(m).unwrap_or(Reply::NilArray))
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Searches.

pub fn georadius(ctx: &mut Ctx, a: &[Bytes]) -> R {
    search(ctx, a, Mode::Coords { store: true })
}

pub fn georadius_ro(ctx: &mut Ctx, a: &[Bytes]) -> R {
    search(ctx, a, Mode::Coords { store: false })
}

pub fn georadiusbymember(ctx: &mut Ctx, a: &[Bytes]) -> R {
    search(ctx, a, Mode::Member { store: true })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx, a: &[Bytes]) -> R {
    search(ctx, a, Mode::Member { store: false })
}

pub fn geosearch(ctx: &mut Ctx, a: &[Bytes]) -> R {
    search(ctx, a, Mode::Search { store: false })
}

pub fn geosearchstore(ctx: &mut Ctx, a: &[Bytes]) -> R {
    search(ctx, a, Mode::Search { store: true })
}

/// Which command family is searching (Redis's RADIUS_COORDS / RADIUS_MEMBER / GEOSEARCH
/// flags); `store` says whether STORE/STOREDIST (GEORADIUS*) or a destination key
/// (GEOSEARCHSTORE) is allowed.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Coords { store: bool },
    Member { store: bool },
    Search { store: bool },
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// The parsed search.
struct Search<'a> {
    center: (f64, f64),
    kind: ShapeKind,
    conversion: f64,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    count: i64,
    order: Order,
    store: Option<&'a [u8]>,
    storedist: bool,
}

impl Search<'_> {
    fn shape(&self) -> Shape {
        Shape {
            lon: self.center.0,
            lat: self.center.1,
            conversion: self.conversion,
            kind: self.kind,
        }
    }
}

/// One point found.
struct Found {
    member: Vec<u8>,
    score: f64,
    lon: f64,
    lat: f64,
    dist: f64,
}

/// Redis's georadiusGeneric: type check, arguments, search, sort, reply or store.
fn search(ctx: &mut Ctx, a: &[Bytes], mode: Mode) -> R {
    let src = if mode == (Mode::Search { store: true }) {
        2
    } else {
        1
    };
    let z = read_zset(ctx, &a[src])?;
    let s = parse_search(a, mode, z.as_deref())?;
    let event = if matches!(mode, Mode::Search { .. }) {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let Some(z) = z else {
        return Ok(match s.store {
            None => Reply::Array(Vec::new()),
            Some(dst) => store_result(ctx, dst, Vec::new(), event),
        });
    };
    let limit = if s.any { s.count as usize } else { 0 };
    let mut found = points_in_shape(z, &s.shape(), limit);
    if found.is_empty() && s.store.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    let returned = if s.count == 0 || (found.len() as i64) < s.count {
        found.len()
    } else {
        s.count as usize
    };
    if s.order != Order::None {
        let sign = if s.order == Order::Desc { -1 } else { 1 };
        let cmp = |x: &Found, y: &Found| {
            sign * if x.dist > y.dist {
                1
            } else if x.dist == y.dist {
                0
            } else {
                -1
            }
        };
        if returned == found.len() {
            msort(&mut found, cmp);
        } else {
            pqsort(&mut found, 0, returned - 1, cmp);
        }
    }
    found.truncate(returned);
    for f in &mut found {
        f.dist /= s.conversion;
    }
    match s.store {
        None => Ok(search_reply(&s, found)),
        Some(dst) => Ok(store_found(ctx, dst, s.storedist, found, event)),
    }
}

/// Parses a search's arguments in Redis's single pass, erroring at the first problem. `z` is
/// the source zset, used to locate FROMMEMBER / GEORADIUSBYMEMBER's member; when it is
/// missing the member is not looked up (and GEORADIUSBYMEMBER's radius not parsed).
fn parse_search<'a>(
    a: &'a [Bytes],
    mode: Mode,
    z: Option<&ZSet>,
) -> Result<Search<'a>, ErrorReply> {
    let mut s = Search {
        center: (0.0, 0.0),
        kind: ShapeKind::Radius(0.0),
        conversion: 0.0,
        withdist: false,
        withhash: false,
        withcoord: false,
        any: false,
        count: 0,
        order: Order::None,
        store: None,
        storedist: false,
    };
    let base = parse_fixed(&mut s, a, mode, z)?;
    let mut seen = Seen::default();
    let opts = &a[base..];
    let mut i = 0;
    while i < opts.len() {
        i += parse_option(&mut s, &mut seen, &opts[i..], mode, z)? + 1;
    }
    let search = matches!(mode, Mode::Search { .. });
    if s.store.is_some() && (s.withdist || s.withhash || s.withcoord) {
        let what = if search {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(ErrorReply::geo_store_with(what));
    }
    if search && !(seen.from_member || seen.from_lonlat) {
        return Err(ErrorReply::geo_needs_from(&a[0]));
    }
    if search && !(seen.by_radius || seen.by_box) {
        return Err(ErrorReply::geo_needs_by(&a[0]));
    }
    if s.any && s.count == 0 {
        return Err(ErrorReply::geo_any_needs_count());
    }
    // COUNT means the nearest ones: sort unless ANY says any will do.
    if s.count != 0 && s.order == Order::None && !s.any {
        s.order = Order::Asc;
    }
    Ok(s)
}

/// The arguments before the options: GEORADIUS's centre and radius, GEORADIUSBYMEMBER's
/// member and radius, GEOSEARCHSTORE's destination. Returns where the options start.
fn parse_fixed<'a>(
    s: &mut Search<'a>,
    a: &'a [Bytes],
    mode: Mode,
    z: Option<&ZSet>,
) -> Result<usize, ErrorReply> {
    Ok(match mode {
        Mode::Coords { .. } => {
            s.center = lonlat(&a[2], &a[3])?;
            let (r, conv) = radius_arg(&a[4], &a[5])?;
            (s.kind, s.conversion) = (ShapeKind::Radius(r), conv);
            6
        }
        Mode::Member { .. } => {
            if let Some(z) = z {
                s.center = member_lonlat(z, &a[2]).ok_or_else(ErrorReply::geo_member_missing)?;
                let (r, conv) = radius_arg(&a[3], &a[4])?;
                (s.kind, s.conversion) = (ShapeKind::Radius(r), conv);
            }
            5
        }
        Mode::Search { store: false } => 2,
        Mode::Search { store: true } => {
            s.store = Some(&a[1]);
            3
        }
    })
}

/// Which of GEOSEARCH's mutually exclusive options were given.
#[derive(Default)]
struct Seen {
    from_member: bool,
    from_lonlat: bool,
    by_radius: bool,
    by_box: bool,
}

/// Parses the option at `opts[0]`; returns how many of its arguments it consumed.
fn parse_option<'a>(
    s: &mut Search<'a>,
    seen: &mut Seen,
    opts: &'a [Bytes],
    mode: Mode,
    z: Option<&ZSet>,
) -> Result<usize, ErrorReply> {
    let (radius_store, search, search_store) = match mode {
        Mode::Coords { store } | Mode::Member { store } => (store, false, false),
        Mode::Search { store } => (false, true, store),
    };
    let arg = &opts[0][..];
    let left = opts.len() - 1;
    if is(arg, "withdist") {
        s.withdist = true;
    } else if is(arg, "withhash") {
        s.withhash = true;
    } else if is(arg, "withcoord") {
        s.withcoord = true;
    } else if is(arg, "any") {
        s.any = true;
    } else if is(arg, "asc") {
        s.order = Order::Asc;
    } else if is(arg, "desc") {
        s.order = Order::Desc;
    } else if is(arg, "count") && left >= 1 {
        s.count = int_arg(&opts[1])?;
        if s.count <= 0 {
            return Err(ErrorReply::geo_count_not_positive());
        }
        return Ok(1);
    } else if (is(arg, "store") || is(arg, "storedist")) && left >= 1 && radius_store {
        s.store = Some(&opts[1]);
        s.storedist = is(arg, "storedist");
        return Ok(1);
    } else if is(arg, "storedist") && search_store {
        s.storedist = true;
    } else if is(arg, "frommember") && left >= 1 && search && !seen.from_lonlat {
        if let Some(z) = z {
            s.center = member_lonlat(z, &opts[1]).ok_or_else(ErrorReply::geo_member_missing)?;
        }
        seen.from_member = true;
        return Ok(1);
    } else if is(arg, "fromlonlat") && left >= 2 && search && !seen.from_member {
        s.center = lonlat(&opts[1], &opts[2])?;
        seen.from_lonlat = true;
        return Ok(2);
    } else if is(arg, "byradius") && left >= 2 && search && !seen.by_box {
        let (r, conv) = radius_arg(&opts[1], &opts[2])?;
        (s.kind, s.conversion) = (ShapeKind::Radius(r), conv);
        seen.by_radius = true;
        return Ok(2);
    } else if is(arg, "bybox") && left >= 3 && search && !seen.by_radius {
        (s.kind, s.conversion) = box_arg(&opts[1], &opts[2], &opts[3])?;
        seen.by_box = true;
        return Ok(3);
    } else {
        return Err(ErrorReply::syntax());
    }
    Ok(0)
}

/// Every point of `z` inside `shape`, in scan order: the cells of `search_cells` (a cell equal
/// to the one scanned just before it is skipped, except after the centre: Redis's quirk),
/// each as a score range in zset order. With `limit` (COUNT ... ANY) the scan stops once that
/// many points were found.
fn points_in_shape(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Found> {
    let cells = shape.search_cells();
    let mut found = Vec::new();
    let full = |found: &Vec<Found>| limit > 0 && found.len() >= limit;
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() || (last != 0 && *cell == cells[last]) {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = cell.score_range();
        if let Some(rank) = z.first_where(|_, s| s >= min) {
            for (member, score) in z.iter_from(rank, false) {
                if score >= max {
                    break;
                }
                if let Some((lon, lat)) = geohash::score_to_lonlat(score) {
                    if let Some(dist) = shape.contains(lon, lat) {
                        found.push(Found {
                            member: member.to_vec(),
                            score,
                            lon,
                            lat,
                            dist,
                        });
                    }
                }
                if full(&found) {
                    break;
                }
            }
        }
        last = i;
    }
    found
}

fn search_reply(s: &Search, found: Vec<Found>) -> Reply {
    let with = s.withdist || s.withhash || s.withcoord;
    let items = found.into_iter().map(|f| {
        let member = Reply::Bulk(Bytes::from(f.member));
        if !with {
            return member;
        }
        let mut item = vec![member];
        if s.withdist {
            item.push(distance_reply(f.dist));
        }
        if s.withhash {
            item.push(Reply::Int(f.score as i64));
        }
        if s.withcoord {
            item.push(position_reply((f.lon, f.lat)));
        }
        Reply::Array(item)
    });
    Reply::Array(items.collect())
}

/// STORE / STOREDIST / GEOSEARCHSTORE: the points found become the sorted set at `dst`
/// (scored by geohash, or by distance in the user's unit), compact when it fits the listpack
/// thresholds; no points deletes `dst`. Replies the number of points stored.
fn store_found(
    ctx: &mut Ctx,
    dst: &[u8],
    storedist: bool,
    found: Vec<Found>,
    event: &'static str,
) -> Reply {
    let mut items: Vec<(Vec<u8>, f64)> = found
        .into_iter()
        .map(|f| (f.member, if storedist { f.dist } else { f.score }))
        .collect();
    // In zset order, each member once (a point is only found twice if Redis's cell scan
    // visits a cell twice, where Redis itself would assert).
    items.sort_by(|x, y| x.0.cmp(&y.0));
    items.dedup_by(|x, y| x.0 == y.0);
    items.sort_by(|x, y| x.1.total_cmp(&y.1).then_with(|| x.0.cmp(&y.0)));
    store_result(ctx, dst, items, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_doubles_print_like_redis() {
        assert_eq!(human(13.361389338970184), "13.36138933897018433");
        assert_eq!(human(38.1155563954963), "38.11555639549629859");
        assert_eq!(human(1.5), "1.5");
        assert_eq!(human(-0.0), "0");
        assert_eq!(human(10.0), "10");
        assert_eq!(human(-180.0), "-180");
    }

    #[test]
    fn units() {
        assert_eq!(unit(b"KM").unwrap(), 1000.0);
        assert_eq!(unit(b"mi").unwrap(), 1609.34);
        assert!(unit(b"miles").is_err());
    }
}
