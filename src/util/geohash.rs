//! Geohash math with Redis's exact arithmetic, for the GEO commands (which keep points in a
//! sorted set whose scores are these hashes).
//!
//! - A point is stored as a 52-bit interleaved hash: 26 bits of latitude (even bits) and 26 of
//!   longitude (odd bits), over longitude -180..180 and latitude -85.05112878..85.05112878 (the
//!   Web Mercator limits; Redis cannot index the poles).
//! - Decoding gives the centre of the hash's cell, clamped to those limits.
//! - Distances use the haversine formula on a sphere of radius 6372797.560856 m.
//! - A radius or box search covers its bounding box with the cell holding the centre plus its
//!   eight neighbours, at a precision ("step") estimated from the radius; each cell is a score
//!   range `[min, max)` of the sorted set, and candidates are filtered by the exact shape test.
//!
//! Every formula keeps Redis's operation order and its float -> int conversions, so decoded
//! coordinates, distances and the cells searched are bit-for-bit those of redis-server (its
//! `geohash.c` and `geohash_helper.c` as of 7.0). Pure: no I/O, no state, no crate deps.

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate of a stored point (Redis's GEO_STEP_MAX): 2 * 26 = 52 bits.
pub const STEP_MAX: u8 = 26;
/// Redis's EARTH_RADIUS_IN_METERS.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Earth's circumference in Web Mercator metres (Redis's MERCATOR_MAX).
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A hash of `step` bits per coordinate. `{0, 0}` marks a neighbour excluded from a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash shifted to 52 bits: the lowest score of a point inside this cell.
    pub fn align52(&self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }

    /// The sorted-set score range `[min, max)` holding every point of this cell.
    pub fn score_range(&self) -> (f64, f64) {
        let next = HashBits {
            bits: self.bits + 1,
            step: self.step,
        };
        (self.align52() as f64, next.align52() as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The rectangle of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

const WGS84_LON: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the 32 bits of `v` over the even bits of the result.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` into 32 bits (the inverse of `spread`).
fn gather(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude cell index in the even bits, longitude in the odd bits.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// `(lat index, lon index)` of an interleaved hash.
fn deinterleave(bits: u64) -> (u32, u32) {
    (gather(bits), gather(bits >> 1))
}

/// Encodes a point at `step` bits per coordinate over the given ranges; None outside the
/// Web Mercator limits or the ranges (Redis's geohashEncode).
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step == 0 || step > 32 {
        return None;
    }
    let outside = |v: f64, r: Range| v < r.min || v > r.max;
    if outside(lon, WGS84_LON)
        || outside(lat, WGS84_LAT)
        || outside(lon, lon_r)
        || outside(lat, lat_r)
    {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min) * cells;
    let lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min) * cells;
    // C converts double -> uint32_t by truncation; the offsets are in 0..=2^step.
    Some(HashBits {
        bits: interleave(lat_offset as u32, lon_offset as u32),
        step,
    })
}

/// Encodes a point over Redis's coordinate ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LON, WGS84_LAT, lon, lat, step)
}

/// The cell of a hash (Redis's geohashDecode).
pub fn decode(lon_r: Range, lat_r: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let (ilat, ilon) = deinterleave(hash.bits);
    let cells = (1u64 << hash.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    // `index + 1` is computed in 32 bits, as in C.
    let edge = |i: u32, r: Range, scale: f64| r.min + (f64::from(i) / cells) * scale;
    Some(Area {
        lat: Range {
            min: edge(ilat, lat_r, lat_scale),
            max: edge(ilat.wrapping_add(1), lat_r, lat_scale),
        },
        lon: Range {
            min: edge(ilon, lon_r, lon_scale),
            max: edge(ilon.wrapping_add(1), lon_r, lon_scale),
        },
    })
}

pub fn decode_wgs84(hash: HashBits) -> Option<Area> {
    decode(WGS84_LON, WGS84_LAT, hash)
}

/// The centre of a hash's cell, clamped to the coordinate limits: `(lon, lat)`.
pub fn decode_to_lonlat(hash: HashBits) -> Option<(f64, f64)> {
    let a = decode_wgs84(hash)?;
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// A double converted to uint64_t as x86-64 code compiled by gcc does it: values below 2^63
/// through a signed conversion (a negative in-range score keeps its two's-complement bits),
/// larger ones by offsetting by 2^63; out-of-range results are the "indefinite" value.
fn x86_f64_to_u64(v: f64) -> u64 {
    const TWO_63: f64 = 9223372036854775808.0;
    let signed = |x: f64| {
        if (-TWO_63..TWO_63).contains(&x) {
            x as i64
        } else {
            i64::MIN
        }
    };
    if v < TWO_63 {
        signed(v) as u64
    } else {
        (signed(v - TWO_63) as u64) ^ (1 << 63)
    }
}

/// The `(lon, lat)` of a sorted-set score (Redis's decodeGeohash): any score decodes, as the
/// score's integer bits read as a 26-step hash.
pub fn score_to_lonlat(score: f64) -> Option<(f64, f64)> {
    decode_to_lonlat(HashBits {
        bits: x86_f64_to_u64(score),
        step: STEP_MAX,
    })
}

/// The score GEOADD stores for a point; None outside the limits.
pub fn lonlat_to_score(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(|h| h.align52())
}

/// Whether `(lon, lat)` can be indexed.
pub fn valid_lonlat(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The standard 11-character base32 geohash of a point stored with `score`: the point is
/// decoded and re-encoded over latitude -90..90 (the standard range); the 11th character
/// stands for bits Redis does not have and is always '0'.
pub fn geohash_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = score_to_lonlat(score)?;
    let std_lon = Range {
        min: -180.0,
        max: 180.0,
    };
    let std_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(std_lon, std_lat, lon, lat, STEP_MAX)?.bits;
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    Some(out)
}

/// Moves a hash one cell east (`d > 0`) or west (`d < 0`), wrapping around.
fn move_x(h: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    h.bits = x | y;
}

/// Moves a hash one cell north (`d > 0`) or south (`d < 0`), wrapping around.
fn move_y(h: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    h.bits = x | y;
}

/// The eight cells around a hash.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neighbors {
    pub north: HashBits,
    pub south: HashBits,
    pub east: HashBits,
    pub west: HashBits,
    pub north_east: HashBits,
    pub north_west: HashBits,
    pub south_east: HashBits,
    pub south_west: HashBits,
}

pub fn neighbors(h: HashBits) -> Neighbors {
    let moved = |dx: i8, dy: i8| {
        let mut n = h;
        move_x(&mut n, dx);
        move_y(&mut n, dy);
        n
    };
    Neighbors {
        east: moved(1, 0),
        west: moved(-1, 0),
        south: moved(0, -1),
        north: moved(0, 1),
        north_west: moved(-1, 1),
        north_east: moved(1, 1),
        south_east: moved(1, -1),
        south_west: moved(-1, -1),
    }
}

/// Great-circle distance in metres (haversine), as Redis's geohashGetDistance.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lat1r = deg_rad(lat1);
    let lon1r = deg_rad(lon1);
    let lat2r = deg_rad(lat2);
    let lon2r = deg_rad(lon2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_M * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// The bits per coordinate of cells about the size of `range_m` at latitude `lat` (Redis's
/// geohashEstimateStepsByRadius).
pub fn estimate_step(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2; // make sure the range is included in most of the base cases
               // Wider cells towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The area of a search: a circle of `radius` or an axis-aligned `width` x `height` box, in
/// the user's unit (`conversion` metres per unit), around `(lon, lat)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub conversion: f64,
    pub kind: ShapeKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

impl Shape {
    /// `[min_lon, min_lat, max_lon, max_lat]` of the shape (Redis's geohashBoundingBox): the
    /// longitude span is taken at the edge nearer the pole, where it is widest.
    pub fn bounding_box(&self) -> [f64; 4] {
        let (half_h, half_w) = match self.kind {
            ShapeKind::Radius(r) => (self.conversion * r, self.conversion * r),
            ShapeKind::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(half_h / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom =
            rad_deg(half_w / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The distance in metres from the centre to `(lon, lat)` if that point is inside the
    /// shape. A box tests the east-west distance along the point's parallel and the
    /// north-south distance along its meridian.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            ShapeKind::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                let lon_distance = distance(lon, lat, self.lon, lat);
                let lat_distance = distance(lon, lat, lon, self.lat);
                if lon_distance > w / 2.0 || lat_distance > h / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The cells to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE, SW); excluded
    /// neighbours are zero hashes (Redis's geohashCalculateAreasByShapeWGS84).
    pub fn search_cells(&self) -> [HashBits; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_m = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut step = estimate_step(radius_m, self.lat);
        let at = |step: u8| {
            let hash = encode_wgs84(self.lon, self.lat, step).unwrap_or_default();
            (hash, neighbors(hash), decode_wgs84(hash))
        };
        let (mut hash, mut n, mut area) = at(step);
        // A step estimated too fine near the edge of a cell leaves part of the area outside
        // the nine cells: one step coarser then.
        let cell = |h: HashBits| decode_wgs84(h);
        let too_small = cell(n.north).is_some_and(|a| a.lat.max < max_lat)
            || cell(n.south).is_some_and(|a| a.lat.min > min_lat)
            || cell(n.east).is_some_and(|a| a.lon.max < max_lon)
            || cell(n.west).is_some_and(|a| a.lon.min > min_lon);
        if step > 1 && too_small {
            step -= 1;
            (hash, n, area) = at(step);
        }
        // Drop the neighbours the area does not reach.
        if step >= 2 {
            if let Some(a) = area {
                let zero = HashBits::default();
                if a.lat.min < min_lat {
                    (n.south, n.south_west, n.south_east) = (zero, zero, zero);
                }
                if a.lat.max > max_lat {
                    (n.north, n.north_east, n.north_west) = (zero, zero, zero);
                }
                if a.lon.min < min_lon {
                    (n.west, n.south_west, n.north_west) = (zero, zero, zero);
                }
                if a.lon.max > max_lon {
                    (n.east, n.south_east, n.north_east) = (zero, zero, zero);
                }
            }
        }
        [
            hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scores_and_positions() {
        // Values printed by redis-server 7.0 (GEOADD then ZSCORE / GEOPOS / GEOHASH).
        assert_eq!(
            lonlat_to_score(13.361389, 38.115556),
            Some(3479099956230698)
        );
        assert_eq!(
            lonlat_to_score(15.087269, 37.502669),
            Some(3479447370796909)
        );
        let (lon, lat) = score_to_lonlat(3479099956230698.0).unwrap();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(&geohash_string(3479099956230698.0).unwrap(), b"sqc8b49rny0");
        assert_eq!(&geohash_string(3479447370796909.0).unwrap(), b"sqdtr74hyu0");
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut lon = -180.0;
        while lon <= 180.0 {
            let mut lat = LAT_MIN;
            while lat <= LAT_MAX {
                let score = lonlat_to_score(lon, lat).unwrap();
                assert!(score < 1 << 52);
                let (dlon, dlat) = score_to_lonlat(score as f64).unwrap();
                // A 26-bit cell is 360/2^26 degrees wide and 170/2^26 high.
                assert!(
                    (dlon - lon).abs() <= 360.0 / (1u64 << 26) as f64,
                    "{lon} {dlon}"
                );
                assert!(
                    (dlat - lat).abs() <= 171.0 / (1u64 << 26) as f64,
                    "{lat} {dlat}"
                );
                // Re-encoding the decoded centre gives the same cell.
                assert_eq!(lonlat_to_score(dlon, dlat), Some(score));
                lat += 7.3;
            }
            lon += 11.7;
        }
    }

    #[test]
    fn limits_are_enforced() {
        assert!(lonlat_to_score(180.0, LAT_MAX).is_some());
        assert!(lonlat_to_score(-180.0, LAT_MIN).is_some());
        assert!(lonlat_to_score(180.0001, 0.0).is_none());
        assert!(lonlat_to_score(0.0, 85.06).is_none());
        assert!(!valid_lonlat(f64::INFINITY, 0.0));
        assert!(valid_lonlat(0.0, -85.05112878));
    }

    #[test]
    fn interleave_round_trips() {
        for (a, b) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (u32::MAX, 7),
        ] {
            assert_eq!(deinterleave(interleave(a, b)), (a, b));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn distances() {
        // GEODIST Palermo Catania in redis-server: 166274.1516 m.
        let (lon1, lat1) = score_to_lonlat(3479099956230698.0).unwrap();
        let (lon2, lat2) = score_to_lonlat(3479447370796909.0).unwrap();
        assert_eq!(
            format!("{:.4}", distance(lon1, lat1, lon2, lat2)),
            "166274.1516"
        );
        assert_eq!(distance(10.0, 20.0, 10.0, 20.0), 0.0);
        // A quarter of the equator.
        let q = distance(0.0, 0.0, 90.0, 0.0);
        assert!((q - EARTH_RADIUS_M * std::f64::consts::FRAC_PI_2).abs() < 1e-6);
    }

    #[test]
    fn neighbours_wrap_and_move() {
        let h = encode_wgs84(0.5, 0.5, 4).unwrap();
        let n = neighbors(h);
        let c = decode_wgs84(h).unwrap();
        let e = decode_wgs84(n.east).unwrap();
        let north = decode_wgs84(n.north).unwrap();
        assert_eq!(e.lon.min, c.lon.max);
        assert_eq!(north.lat.min, c.lat.max);
        // East of the last column is the first one.
        let edge = encode_wgs84(179.9, 0.0, 3).unwrap();
        assert_eq!(decode_wgs84(neighbors(edge).east).unwrap().lon.min, -180.0);
    }

    #[test]
    fn steps_follow_redis() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1000.0, 0.0), 14);
        assert_eq!(estimate_step(1000.0, 70.0), 13);
        assert_eq!(estimate_step(1000.0, -85.0), 12);
        assert_eq!(estimate_step(5_000_000.0, 0.0), 2);
        assert_eq!(estimate_step(20_000_000.0, 0.0), 1);
        assert_eq!(estimate_step(f64::INFINITY, 0.0), 1);
    }

    #[test]
    fn search_cells_cover_the_circle() {
        let shape = Shape {
            lon: 15.0,
            lat: 37.0,
            conversion: 1000.0,
            kind: ShapeKind::Radius(200.0),
        };
        let cells = shape.search_cells();
        let (lon, lat) = score_to_lonlat(3479099956230698.0).unwrap();
        assert!(shape.contains(lon, lat).is_some());
        let score = 3479099956230698.0;
        assert!(cells.iter().filter(|c| !c.is_zero()).any(|c| {
            let (min, max) = c.score_range();
            score >= min && score < max
        }));
        let boxed = Shape {
            kind: ShapeKind::Box {
                width: 400.0,
                height: 400.0,
            },
            ..shape
        };
        assert!(boxed.contains(lon, lat).is_some());
        assert!(boxed.contains(lon, lat + 3.0).is_none());
    }

    #[test]
    fn odd_scores_decode_like_redis() {
        // Negative scores keep their two's-complement bits; huge ones give the indefinite
        // value; both decode to clamped coordinates.
        assert_eq!(x86_f64_to_u64(-1.0), u64::MAX);
        assert_eq!(x86_f64_to_u64(1e30), 0);
        assert_eq!(x86_f64_to_u64(12.9), 12);
        let (lon, lat) = score_to_lonlat(-1.0).unwrap();
        assert!(valid_lonlat(lon, lat));
    }
}
