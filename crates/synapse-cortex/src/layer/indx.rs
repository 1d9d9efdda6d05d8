//! Index encodings per storage type, and lift comparators compiled to index scans.
//!
//! Each storage type encodes a normalized value to index bytes whose byte order is the value
//! order the reference gives (§8.5 of the cortex spec). A lift comparator (`=`, `<`, `^=`,
//! `range=`, `@=`, ...) on a storage type becomes one or more [`IndexScan`]s relative to an
//! index prefix, plus an optional per-row [`RowFilter`].

use rmpv::Value;
use sha2::{Digest, Sha256};

use crate::layer::Error;
use crate::nodeedit::{packb, stortype as st};

/// UTF-8 values longer than this are truncated to [`UTF8_KEEP`] bytes plus an 8 byte hash.
const UTF8_MAX: usize = 256;
const UTF8_KEEP: usize = 248;

/// Index bytes of `valu` for `stortype`: one entry, or one per element for array types.
pub(crate) fn indx(stortype: i64, valu: &Value) -> Result<Vec<Vec<u8>>, Error> {
    if stortype & st::ARRAY_FLAG != 0 {
        let elem = stortype & 0x7fff;
        let items = valu
            .as_array()
            .ok_or_else(|| bad(stortype, "array value is not a list"))?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(indx_one(elem, item)?);
        }
        return Ok(out);
    }
    Ok(vec![indx_one(stortype, valu)?])
}

/// Index bytes of a single (non-array) value.
pub(crate) fn indx_one(stortype: i64, valu: &Value) -> Result<Vec<u8>, Error> {
    match stortype {
        st::UTF8 => Ok(utf8_indx(text(stortype, valu)?.as_bytes())),
        st::FQDN => {
            let rev: String = text(stortype, valu)?.chars().rev().collect();
            Ok(utf8_indx(rev.as_bytes()))
        }
        st::LOC | st::TAG => Ok(hier_indx(text(stortype, valu)?)),
        st::GUID => guid_indx(stortype, valu),
        st::TIME | st::MINTIME | st::MAXTIME => int_indx(st::I64, valu),
        st::IVAL => {
            let (min, max) = ival_pair(stortype, valu)?;
            let mut out = int_bytes(st::I64, min.into())?;
            out.extend(int_bytes(st::I64, max.into())?);
            Ok(out)
        }
        st::MSGP | st::NDEF => Ok(Sha256::digest(packb(valu)).to_vec()),
        st::LATLONG => {
            let (lat, lon) = latlong(valu).ok_or_else(|| bad(stortype, "bad latlong"))?;
            latlong_indx(lat, lon).ok_or_else(|| bad(stortype, "latlong out of range"))
        }
        st::IPV6 => ipv6_indx(stortype, valu),
        st::FLOAT64 => {
            let valu = float(valu).ok_or_else(|| bad(stortype, "not a float"))?;
            Ok(float_indx(valu).to_vec())
        }
        st::HUGENUM => {
            let valu = valu
                .as_str()
                .ok_or_else(|| bad(stortype, "hugenum is not a string"))?;
            hugenum_indx(valu)
                .map(|b| b.to_vec())
                .ok_or_else(|| bad(stortype, "bad hugenum"))
        }
        _ if int_size(stortype).is_some() => int_indx(stortype, valu),
        _ => Err(bad(stortype, "unknown storage type")),
    }
}

/// The value encoded by index bytes, when they hold it whole (short strings, ints, ...).
pub(crate) fn decode_indx(stortype: i64, byts: &[u8]) -> Option<Value> {
    match stortype {
        st::UTF8 => utf8_decode(byts).map(Value::from),
        st::FQDN => utf8_decode(byts).map(|s| Value::from(s.chars().rev().collect::<String>())),
        st::LOC | st::TAG => {
            let text = std::str::from_utf8(byts).ok()?;
            (byts.len() < UTF8_MAX).then(|| Value::from(text.strip_suffix('.').unwrap_or(text)))
        }
        st::GUID => Some(Value::from(hex::encode(byts))),
        st::TIME | st::MINTIME | st::MAXTIME => decode_int(st::I64, byts),
        _ if int_size(stortype).is_some() => decode_int(stortype, byts),
        _ => None,
    }
}

fn bad(stortype: i64, mesg: &str) -> Error {
    Error::BadValu {
        stortype,
        mesg: mesg.to_owned(),
    }
}

fn text(stortype: i64, valu: &Value) -> Result<&str, Error> {
    valu.as_str()
        .ok_or_else(|| bad(stortype, "value is not a string"))
}

fn utf8_indx(byts: &[u8]) -> Vec<u8> {
    if byts.len() <= UTF8_MAX {
        return byts.to_vec();
    }
    let mut out = byts[..UTF8_KEEP].to_vec();
    out.extend_from_slice(&Sha256::digest(byts)[..8]);
    out
}

fn utf8_decode(byts: &[u8]) -> Option<String> {
    if byts.len() >= UTF8_MAX {
        return None;
    }
    std::str::from_utf8(byts).ok().map(str::to_owned)
}

fn hier_indx(text: &str) -> Vec<u8> {
    let mut byts = text.as_bytes().to_vec();
    byts.push(b'.');
    utf8_indx(&byts)
}

fn guid_indx(stortype: i64, valu: &Value) -> Result<Vec<u8>, Error> {
    let text = text(stortype, valu)?;
    let mut out = [0u8; 16];
    hex::decode_to_slice(text, &mut out).map_err(|_| bad(stortype, "not a guid"))?;
    Ok(out.to_vec())
}

fn ipv6_indx(stortype: i64, valu: &Value) -> Result<Vec<u8>, Error> {
    let text = text(stortype, valu)?;
    let addr: std::net::Ipv6Addr = text.parse().map_err(|_| bad(stortype, "not an ipv6"))?;
    Ok(addr.octets().to_vec())
}

// ----- ints -----

/// Byte size and signedness of an int storage type.
pub(crate) fn int_size(stortype: i64) -> Option<(usize, bool)> {
    Some(match stortype {
        st::U8 => (1, false),
        st::U16 => (2, false),
        st::U32 => (4, false),
        st::U64 => (8, false),
        st::I8 => (1, true),
        st::I16 => (2, true),
        st::I32 => (4, true),
        st::I64 | st::TIME | st::MINTIME | st::MAXTIME => (8, true),
        st::U128 => (16, false),
        st::I128 => (16, true),
        _ => return None,
    })
}

/// An integer of any size the wire carries: sign and magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BigInt {
    neg: bool,
    mag: u128,
}

impl From<i64> for BigInt {
    fn from(valu: i64) -> Self {
        BigInt {
            neg: valu < 0,
            mag: u128::from(valu.unsigned_abs()),
        }
    }
}

impl BigInt {
    /// Parse an int value: msgpack ints, bools, or the ext types 0 (unsigned magnitude) and 1
    /// (two's complement) the wire uses beyond 64 bits.
    pub(crate) fn from_value(valu: &Value) -> Option<BigInt> {
        match valu {
            Value::Integer(int) => {
                if let Some(u) = int.as_u64() {
                    Some(BigInt {
                        neg: false,
                        mag: u128::from(u),
                    })
                } else {
                    int.as_i64().map(BigInt::from)
                }
            }
            Value::Boolean(b) => Some(BigInt {
                neg: false,
                mag: u128::from(*b),
            }),
            Value::Ext(0, byts) if byts.len() <= 16 => {
                let mut buf = [0u8; 16];
                buf[16 - byts.len()..].copy_from_slice(byts);
                Some(BigInt {
                    neg: false,
                    mag: u128::from_be_bytes(buf),
                })
            }
            Value::Ext(1, byts) if !byts.is_empty() && byts.len() <= 16 => {
                let fill = if byts[0] & 0x80 != 0 { 0xff } else { 0 };
                let mut buf = [fill; 16];
                buf[16 - byts.len()..].copy_from_slice(byts);
                let valu = i128::from_be_bytes(buf);
                Some(BigInt {
                    neg: valu < 0,
                    mag: valu.unsigned_abs(),
                })
            }
            _ => None,
        }
    }

    fn add_one(self) -> BigInt {
        if self.neg {
            let mag = self.mag - 1;
            BigInt { neg: mag != 0, mag }
        } else {
            BigInt {
                neg: false,
                mag: self.mag.saturating_add(1),
            }
        }
    }

    fn sub_one(self) -> BigInt {
        if self.neg {
            BigInt {
                neg: true,
                mag: self.mag.saturating_add(1),
            }
        } else if self.mag == 0 {
            BigInt { neg: true, mag: 1 }
        } else {
            BigInt {
                neg: false,
                mag: self.mag - 1,
            }
        }
    }

    fn to_value(self) -> Value {
        if !self.neg {
            if let Ok(small) = u64::try_from(self.mag) {
                return Value::from(small);
            }
            let byts = self.mag.to_be_bytes();
            let skip = byts.iter().take_while(|b| **b == 0).count();
            return Value::Ext(0, byts[skip..].to_vec());
        }
        if let Ok(small) = i64::try_from(self.mag).map(|m| -m) {
            return Value::from(small);
        }
        match i128::try_from(self.mag) {
            Ok(mag) => Value::Ext(1, (-mag).to_be_bytes().to_vec()),
            Err(_) => Value::Ext(1, i128::MIN.to_be_bytes().to_vec()),
        }
    }
}

/// Where `valu + offset` falls for an int storage type.
enum Shifted {
    Below,
    At(u128),
    Above,
}

fn int_offset(size: usize, signed: bool) -> u128 {
    if signed {
        (1u128 << (size * 8 - 1)) - 1
    } else {
        0
    }
}

fn int_max(size: usize) -> u128 {
    if size >= 16 {
        u128::MAX
    } else {
        (1u128 << (size * 8)) - 1
    }
}

fn shift(valu: BigInt, size: usize, signed: bool) -> Shifted {
    let offset = int_offset(size, signed);
    let shifted = if valu.neg {
        match offset.checked_sub(valu.mag) {
            Some(v) => v,
            None => return Shifted::Below,
        }
    } else {
        match offset.checked_add(valu.mag) {
            Some(v) => v,
            None => return Shifted::Above,
        }
    };
    if shifted > int_max(size) {
        Shifted::Above
    } else {
        Shifted::At(shifted)
    }
}

fn raw_int(valu: u128, size: usize) -> Vec<u8> {
    valu.to_be_bytes()[16 - size..].to_vec()
}

fn int_bytes(stortype: i64, valu: BigInt) -> Result<Vec<u8>, Error> {
    let (size, signed) = int_size(stortype).ok_or_else(|| bad(stortype, "not an int type"))?;
    match shift(valu, size, signed) {
        Shifted::At(v) => Ok(raw_int(v, size)),
        _ => Err(bad(stortype, "int out of range for its storage type")),
    }
}

fn int_indx(stortype: i64, valu: &Value) -> Result<Vec<u8>, Error> {
    let valu = BigInt::from_value(valu).ok_or_else(|| bad(stortype, "value is not an int"))?;
    int_bytes(stortype, valu)
}

fn decode_int(stortype: i64, byts: &[u8]) -> Option<Value> {
    let (size, signed) = int_size(stortype)?;
    if byts.len() != size {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[16 - size..].copy_from_slice(byts);
    let raw = u128::from_be_bytes(buf);
    let offset = int_offset(size, signed);
    let valu = if raw >= offset {
        BigInt {
            neg: false,
            mag: raw - offset,
        }
    } else {
        BigInt {
            neg: true,
            mag: offset - raw,
        }
    };
    Some(valu.to_value())
}

fn time_of(valu: &Value) -> Option<i64> {
    valu.as_i64()
}

fn ival_pair(stortype: i64, valu: &Value) -> Result<(i64, i64), Error> {
    let items = valu
        .as_array()
        .ok_or_else(|| bad(stortype, "interval is not a list"))?;
    match items.as_slice() {
        [min, max] => Ok((
            time_of(min).ok_or_else(|| bad(stortype, "interval needs two times"))?,
            time_of(max).ok_or_else(|| bad(stortype, "interval needs two times"))?,
        )),
        _ => Err(bad(stortype, "interval needs two times")),
    }
}

// ----- floats -----

fn float(valu: &Value) -> Option<f64> {
    match valu {
        Value::F64(f) => Some(*f),
        Value::F32(f) => Some(f64::from(*f)),
        Value::Integer(i) => i.as_f64(),
        _ => None,
    }
}

/// Order preserving float encoding: numeric order is byte order (NaNs sort outside the
/// infinities, `-0.0` just below `0.0`).
pub(crate) fn float_indx(valu: f64) -> [u8; 8] {
    let bits = valu.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    };
    ordered.to_be_bytes()
}

// ----- latlong -----

const GEO_SCALE: f64 = 100_000_000.0;
const LAT_SPACE: f64 = 90.0 * GEO_SCALE;
const LON_SPACE: f64 = 180.0 * GEO_SCALE;
const EARTH_RADIUS_MM: f64 = 6_371_008_800.0;

fn latlong(valu: &Value) -> Option<(f64, f64)> {
    let items = valu.as_array()?;
    match items.as_slice() {
        [lat, lon] => Some((float(lat)?, float(lon)?)),
        _ => None,
    }
}

fn geo5(valu: f64, space: f64) -> Option<[u8; 5]> {
    let scaled = (valu * GEO_SCALE).round_ties_even() + space;
    if !(0.0..=1_099_511_627_775.0).contains(&scaled) {
        return None;
    }
    // The range check above makes the conversion exact.
    let int = scaled as u64;
    let byts = int.to_be_bytes();
    let mut out = [0u8; 5];
    out.copy_from_slice(&byts[3..]);
    Some(out)
}

fn geo5_decode(byts: &[u8], space: f64) -> f64 {
    let mut buf = [0u8; 8];
    buf[3..].copy_from_slice(byts);
    (u64::from_be_bytes(buf) as f64 - space) / GEO_SCALE
}

/// Longitude then latitude, 5 bytes each, so a longitude range scan is cheap.
fn latlong_indx(lat: f64, lon: f64) -> Option<Vec<u8>> {
    let mut out = geo5(lon, LON_SPACE)?.to_vec();
    out.extend(geo5(lat, LAT_SPACE)?);
    Some(out)
}

/// Haversine distance in mm between two `(lat, lon)` points.
pub(crate) fn haversine(p1: (f64, f64), p2: (f64, f64)) -> f64 {
    let dlat = (p2.0 - p1.0).to_radians();
    let dlon = (p2.1 - p1.1).to_radians();
    let lat1 = p1.0.to_radians();
    let lat2 = p2.0.to_radians();
    let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * a.sqrt().asin() * EARTH_RADIUS_MM
}

fn bbox(lat: f64, lon: f64, dist: f64) -> (f64, f64, f64, f64) {
    let latr = lat.to_radians();
    let lonr = lon.to_radians();
    let prad = EARTH_RADIUS_MM * latr.cos();
    let latd = dist / EARTH_RADIUS_MM;
    let lond = dist / prad;
    (
        (latr - latd).to_degrees(),
        (latr + latd).to_degrees(),
        (lonr - lond).to_degrees(),
        (lonr + lond).to_degrees(),
    )
}

// ----- hugenum -----

const HUGE_LEN: usize = 20;
const HUGE_SCALE: usize = 24;

fn huge_mul_add(num: &mut [u8; HUGE_LEN], digit: u8) -> bool {
    let mut carry = u32::from(digit);
    for byte in num.iter_mut().rev() {
        let cur = u32::from(*byte) * 10 + carry;
        *byte = (cur & 0xff) as u8;
        carry = cur >> 8;
    }
    carry == 0
}

fn huge_add(a: &[u8; HUGE_LEN], b: &[u8; HUGE_LEN]) -> Option<[u8; HUGE_LEN]> {
    let mut out = [0u8; HUGE_LEN];
    let mut carry = 0u16;
    for idx in (0..HUGE_LEN).rev() {
        let sum = u16::from(a[idx]) + u16::from(b[idx]) + carry;
        out[idx] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

fn huge_sub(a: &[u8; HUGE_LEN], b: &[u8; HUGE_LEN]) -> Option<[u8; HUGE_LEN]> {
    let mut out = [0u8; HUGE_LEN];
    let mut borrow = 0i16;
    for idx in (0..HUGE_LEN).rev() {
        let mut diff = i16::from(a[idx]) - i16::from(b[idx]) - borrow;
        borrow = 0;
        if diff < 0 {
            diff += 256;
            borrow = 1;
        }
        out[idx] = diff as u8;
    }
    (borrow == 0).then_some(out)
}

fn huge_offset() -> [u8; HUGE_LEN] {
    let mut out = [0xffu8; HUGE_LEN];
    out[0] = 0x7f;
    out
}

fn huge_one() -> [u8; HUGE_LEN] {
    let mut out = [0u8; HUGE_LEN];
    out[HUGE_LEN - 1] = 1;
    out
}

/// Hugenum index: the value scaled by 10^24, plus 2^159 - 1, as 20 big-endian bytes.
pub(crate) fn hugenum_indx(text: &str) -> Option<[u8; HUGE_LEN]> {
    let text = text.trim();
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut mag = [0u8; HUGE_LEN];
    for byte in int.bytes() {
        if !huge_mul_add(&mut mag, byte - b'0') {
            return None;
        }
    }
    let frac = frac.as_bytes();
    for idx in 0..HUGE_SCALE {
        let digit = frac.get(idx).map_or(0, |b| b - b'0');
        if !huge_mul_add(&mut mag, digit) {
            return None;
        }
    }
    if neg {
        huge_sub(&huge_offset(), &mag)
    } else {
        huge_add(&huge_offset(), &mag)
    }
}

// ----- lifts -----

/// What part of an index one scan visits, relative to the index prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanKind {
    /// Rows of exactly this key.
    Dups(Vec<u8>),
    /// Rows whose key starts with these bytes.
    Prefix(Vec<u8>),
    /// Rows from `min` up to keys starting with `max` (the reference's `scanByRange`).
    Range(Vec<u8>, Vec<u8>),
}

/// A per-row check made after the index scan.
#[derive(Debug, Clone)]
pub(crate) enum RowFilter {
    /// Skip rows whose index bytes equal these (float `<` / `>`).
    NotEqual(Vec<u8>),
    /// Interval index rows overlapping `[min, max)`.
    IvalOverlap { min: Vec<u8>, max: Vec<u8> },
    /// Rows whose value matches a regex (case-insensitive search).
    Regex {
        /// The compiled regex.
        regex: regex::Regex,
        /// The storage type of the indexed values.
        stortype: i64,
    },
    /// Lat/long rows within `dist` mm of a point.
    Near {
        /// The center.
        point: (f64, f64),
        /// The distance in mm.
        dist: f64,
        /// Latitude bounds (index bytes).
        latmin: [u8; 5],
        /// Latitude bounds (index bytes).
        latmax: [u8; 5],
    },
    /// Guid rows whose byte `at` has this high nibble (odd length hex prefixes).
    HexNibble {
        /// Index of the byte to check.
        at: usize,
        /// The wanted high nibble.
        nibble: u8,
    },
    /// Tag rows whose tag value equals this interval.
    TagEq(crate::nodeedit::TagIval),
    /// Tag rows whose tag interval overlaps `[min, max)`.
    TagAt(i64, i64),
}

/// One index scan of a lift.
#[derive(Debug, Clone)]
pub(crate) struct IndexScan {
    /// Keys to visit, relative to the lift's index prefix.
    pub(crate) kind: ScanKind,
    /// Visit in descending order.
    pub(crate) back: bool,
    /// Row filter.
    pub(crate) filter: Option<RowFilter>,
}

impl IndexScan {
    fn new(kind: ScanKind, back: bool) -> Self {
        IndexScan {
            kind,
            back,
            filter: None,
        }
    }

    fn filtered(kind: ScanKind, back: bool, filter: RowFilter) -> Self {
        IndexScan {
            kind,
            back,
            filter: Some(filter),
        }
    }
}

fn no_cmpr(cmpr: &str) -> Error {
    Error::NoSuchCmpr {
        cmpr: cmpr.to_owned(),
    }
}

fn pair(stortype: i64, valu: &Value) -> Result<(&Value, &Value), Error> {
    match valu.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((a, b)),
        _ => Err(bad(stortype, "expected a (min, max) pair")),
    }
}

/// Compile `cmpr valu` on values of `stortype` into scans (empty when nothing can match).
pub(crate) fn lift_scans(
    stortype: i64,
    cmpr: &str,
    valu: &Value,
    back: bool,
) -> Result<Vec<IndexScan>, Error> {
    if stortype & st::ARRAY_FLAG != 0 {
        // Array values are indexed whole by their msgpack hash.
        return lift_scans(st::MSGP, cmpr, valu, back);
    }
    let scan = |kind| Ok(vec![IndexScan::new(kind, back)]);
    match stortype {
        st::UTF8 => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(st::UTF8, valu)?)),
            "^=" => scan(ScanKind::Prefix(indx_one(st::UTF8, valu)?)),
            "range=" => {
                let (min, max) = pair(stortype, valu)?;
                scan(ScanKind::Range(
                    indx_one(st::UTF8, min)?,
                    indx_one(st::UTF8, max)?,
                ))
            }
            "~=" => regex_scan(stortype, valu, back),
            _ => Err(no_cmpr(cmpr)),
        },
        st::FQDN => match cmpr {
            "=" => {
                let text = text(stortype, valu)?;
                match text.strip_prefix('*') {
                    Some(suffix) => {
                        let rev: String = suffix.chars().rev().collect();
                        scan(ScanKind::Prefix(utf8_indx(rev.as_bytes())))
                    }
                    None => scan(ScanKind::Dups(indx_one(st::FQDN, valu)?)),
                }
            }
            "~=" => regex_scan(stortype, valu, back),
            _ => Err(no_cmpr(cmpr)),
        },
        st::LOC | st::TAG => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(stortype, valu)?)),
            "^=" => scan(ScanKind::Prefix(indx_one(stortype, valu)?)),
            _ => Err(no_cmpr(cmpr)),
        },
        st::GUID => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(stortype, valu)?)),
            "^=" => guid_prefix(stortype, valu, back),
            _ => Err(no_cmpr(cmpr)),
        },
        st::IVAL => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(stortype, valu)?)),
            "@=" => {
                let (min, max) = ival_pair(stortype, valu)?;
                Ok(vec![IndexScan::filtered(
                    ScanKind::Prefix(Vec::new()),
                    back,
                    RowFilter::IvalOverlap {
                        min: int_bytes(st::I64, min.into())?,
                        max: int_bytes(st::I64, max.into())?,
                    },
                )])
            }
            _ => Err(no_cmpr(cmpr)),
        },
        st::MSGP => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(stortype, valu)?)),
            "~=" => regex_scan(stortype, valu, back),
            _ => Err(no_cmpr(cmpr)),
        },
        st::NDEF => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(stortype, valu)?)),
            _ => Err(no_cmpr(cmpr)),
        },
        st::LATLONG => match cmpr {
            "=" => scan(ScanKind::Dups(indx_one(stortype, valu)?)),
            "near=" => near_scan(stortype, valu, back),
            _ => Err(no_cmpr(cmpr)),
        },
        st::IPV6 => ipv6_scans(cmpr, valu, back),
        st::FLOAT64 => float_scans(cmpr, valu, back),
        st::HUGENUM => huge_scans(cmpr, valu, back),
        st::TIME | st::MINTIME | st::MAXTIME if cmpr == "@=" => {
            let (min, max) = ival_pair(stortype, valu)?;
            int_scans(
                st::I64,
                "range=",
                &Value::Array(vec![min.into(), (max - 1).into()]),
                back,
            )
        }
        _ if int_size(stortype).is_some() => int_scans(stortype, cmpr, valu, back),
        _ => Err(bad(stortype, "unknown storage type")),
    }
}

fn regex_scan(stortype: i64, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let pattern = text(stortype, valu)?;
    let regex = regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .map_err(|err| Error::BadValu {
            stortype,
            mesg: format!("bad regex: {err}"),
        })?;
    Ok(vec![IndexScan::filtered(
        ScanKind::Prefix(Vec::new()),
        back,
        RowFilter::Regex { regex, stortype },
    )])
}

fn guid_prefix(stortype: i64, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let hexpref = match valu {
        Value::Binary(byts) => {
            return Ok(vec![IndexScan::new(ScanKind::Prefix(byts.clone()), back)]);
        }
        other => text(stortype, other)?.to_ascii_lowercase(),
    };
    let even = hexpref.len() / 2 * 2;
    let byts = hex::decode(&hexpref[..even]).map_err(|_| bad(stortype, "not a guid prefix"))?;
    if even == hexpref.len() {
        return Ok(vec![IndexScan::new(ScanKind::Prefix(byts), back)]);
    }
    let nibble = u8::from_str_radix(&hexpref[even..], 16).map_err(|_| bad(stortype, "not hex"))?;
    Ok(vec![IndexScan::filtered(
        ScanKind::Prefix(byts),
        back,
        RowFilter::HexNibble {
            at: even / 2,
            nibble,
        },
    )])
}

fn near_scan(stortype: i64, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let (point, dist) = pair(stortype, valu)?;
    let (lat, lon) = latlong(point).ok_or_else(|| bad(stortype, "bad latlong"))?;
    let dist = float(dist).ok_or_else(|| bad(stortype, "bad distance"))?;
    let (latmin, latmax, lonmin, lonmax) = bbox(lat, lon, dist);
    let clamp5 = |valu: f64, space: f64| {
        geo5(valu, space).unwrap_or(if valu < 0.0 { [0; 5] } else { [0xff; 5] })
    };
    Ok(vec![IndexScan::filtered(
        ScanKind::Range(
            clamp5(lonmin, LON_SPACE).to_vec(),
            clamp5(lonmax, LON_SPACE).to_vec(),
        ),
        back,
        RowFilter::Near {
            point: (lat, lon),
            dist,
            latmin: clamp5(latmin, LAT_SPACE),
            latmax: clamp5(latmax, LAT_SPACE),
        },
    )])
}

fn int_scans(stortype: i64, cmpr: &str, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let (size, signed) = int_size(stortype).ok_or_else(|| bad(stortype, "not an int type"))?;
    let bigint = |valu: &Value| {
        BigInt::from_value(valu).ok_or_else(|| bad(stortype, "lift value is not an int"))
    };
    let full = raw_int(int_max(size), size);
    let zero = vec![0u8; size];
    let ge = |valu: BigInt| -> Vec<IndexScan> {
        match shift(valu, size, signed) {
            Shifted::Above => Vec::new(),
            Shifted::Below => vec![IndexScan::new(
                ScanKind::Range(zero.clone(), full.clone()),
                back,
            )],
            Shifted::At(min) => vec![IndexScan::new(
                ScanKind::Range(raw_int(min, size), full.clone()),
                back,
            )],
        }
    };
    let le = |valu: BigInt| -> Vec<IndexScan> {
        match shift(valu, size, signed) {
            Shifted::Below => Vec::new(),
            Shifted::Above => vec![IndexScan::new(
                ScanKind::Range(zero.clone(), full.clone()),
                back,
            )],
            Shifted::At(max) => vec![IndexScan::new(
                ScanKind::Range(zero.clone(), raw_int(max, size)),
                back,
            )],
        }
    };
    match cmpr {
        "=" => Ok(match shift(bigint(valu)?, size, signed) {
            Shifted::At(v) => vec![IndexScan::new(ScanKind::Dups(raw_int(v, size)), back)],
            _ => Vec::new(),
        }),
        ">=" => Ok(ge(bigint(valu)?)),
        ">" => Ok(ge(bigint(valu)?.add_one())),
        "<=" => Ok(le(bigint(valu)?)),
        "<" => Ok(le(bigint(valu)?.sub_one())),
        "range=" => {
            let (min, max) = pair(stortype, valu)?;
            let min = match shift(bigint(min)?, size, signed) {
                Shifted::Above => return Ok(Vec::new()),
                Shifted::Below => 0,
                Shifted::At(v) => v,
            };
            let max = match shift(bigint(max)?, size, signed) {
                Shifted::Below => return Ok(Vec::new()),
                Shifted::Above => int_max(size),
                Shifted::At(v) => v,
            };
            Ok(vec![IndexScan::new(
                ScanKind::Range(raw_int(min, size), raw_int(max, size)),
                back,
            )])
        }
        _ => Err(no_cmpr(cmpr)),
    }
}

fn ipv6_scans(cmpr: &str, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let stortype = st::IPV6;
    let addr = |valu: &Value| -> Result<u128, Error> {
        let text = text(stortype, valu)?;
        text.parse::<std::net::Ipv6Addr>()
            .map(u128::from)
            .map_err(|_| bad(stortype, "not an ipv6"))
    };
    let range = |min: u128, max: u128| {
        vec![IndexScan::new(
            ScanKind::Range(min.to_be_bytes().to_vec(), max.to_be_bytes().to_vec()),
            back,
        )]
    };
    Ok(match cmpr {
        "=" => vec![IndexScan::new(
            ScanKind::Dups(addr(valu)?.to_be_bytes().to_vec()),
            back,
        )],
        "range=" => {
            let (min, max) = pair(stortype, valu)?;
            range(addr(min)?, addr(max)?)
        }
        "<" => match addr(valu)?.checked_sub(1) {
            Some(max) => range(0, max),
            None => Vec::new(),
        },
        "<=" => range(0, addr(valu)?),
        ">" => match addr(valu)?.checked_add(1) {
            Some(min) => range(min, u128::MAX),
            None => Vec::new(),
        },
        ">=" => range(addr(valu)?, u128::MAX),
        _ => return Err(no_cmpr(cmpr)),
    })
}

fn float_scans(cmpr: &str, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let stortype = st::FLOAT64;
    let num = |valu: &Value| -> Result<f64, Error> {
        let num = float(valu).ok_or_else(|| bad(stortype, "lift value is not a float"))?;
        if num.is_nan() {
            return Err(Error::NotANumberCompared);
        }
        Ok(num)
    };
    let lo = float_indx(f64::NEG_INFINITY).to_vec();
    let hi = float_indx(f64::INFINITY).to_vec();
    let range = |min: Vec<u8>, max: Vec<u8>| IndexScan::new(ScanKind::Range(min, max), back);
    Ok(match cmpr {
        "=" => {
            let num = float(valu).ok_or_else(|| bad(stortype, "lift value is not a float"))?;
            vec![IndexScan::new(
                ScanKind::Dups(float_indx(num).to_vec()),
                back,
            )]
        }
        ">=" => vec![range(float_indx(num(valu)?).to_vec(), hi)],
        "<=" => vec![range(lo, float_indx(num(valu)?).to_vec())],
        ">" => {
            let at = float_indx(num(valu)?).to_vec();
            let mut scan = range(at.clone(), hi);
            scan.filter = Some(RowFilter::NotEqual(at));
            vec![scan]
        }
        "<" => {
            let at = float_indx(num(valu)?).to_vec();
            let mut scan = range(lo, at.clone());
            scan.filter = Some(RowFilter::NotEqual(at));
            vec![scan]
        }
        "range=" => {
            let (min, max) = pair(stortype, valu)?;
            let (min, max) = (num(min)?, num(max)?);
            if min > max {
                return Ok(Vec::new());
            }
            vec![range(float_indx(min).to_vec(), float_indx(max).to_vec())]
        }
        _ => return Err(no_cmpr(cmpr)),
    })
}

fn huge_scans(cmpr: &str, valu: &Value, back: bool) -> Result<Vec<IndexScan>, Error> {
    let stortype = st::HUGENUM;
    let huge = |valu: &Value| -> Result<[u8; HUGE_LEN], Error> {
        let text = match valu {
            Value::String(_) => text(stortype, valu)?.to_owned(),
            Value::Integer(i) => i.to_string(),
            _ => return Err(bad(stortype, "lift value is not a hugenum")),
        };
        hugenum_indx(&text).ok_or_else(|| bad(stortype, "bad hugenum"))
    };
    let zero = vec![0u8; HUGE_LEN];
    let full = vec![0xffu8; HUGE_LEN];
    let range = |min: Vec<u8>, max: Vec<u8>| vec![IndexScan::new(ScanKind::Range(min, max), back)];
    Ok(match cmpr {
        "=" => vec![IndexScan::new(ScanKind::Dups(huge(valu)?.to_vec()), back)],
        ">=" => range(huge(valu)?.to_vec(), full),
        "<=" => range(zero, huge(valu)?.to_vec()),
        ">" => match huge_add(&huge(valu)?, &huge_one()) {
            Some(min) => range(min.to_vec(), full),
            None => Vec::new(),
        },
        "<" => match huge_sub(&huge(valu)?, &huge_one()) {
            Some(max) => range(zero, max.to_vec()),
            None => Vec::new(),
        },
        "range=" => {
            let (min, max) = pair(stortype, valu)?;
            range(huge(min)?.to_vec(), huge(max)?.to_vec())
        }
        _ => return Err(no_cmpr(cmpr)),
    })
}

/// Scans of a tag value lift (`#tag=ival`, `#tag@=ival`): every row of the tag, filtered.
pub(crate) fn tag_valu_scans(
    cmpr: &str,
    ival: crate::nodeedit::TagIval,
    back: bool,
) -> Result<Vec<IndexScan>, Error> {
    let filter = match cmpr {
        "=" => RowFilter::TagEq(ival),
        "@=" => match ival {
            (Some(min), Some(max)) => RowFilter::TagAt(min, max),
            _ => return Ok(Vec::new()),
        },
        _ => return Err(no_cmpr(cmpr)),
    };
    Ok(vec![IndexScan::filtered(
        ScanKind::Prefix(Vec::new()),
        back,
        filter,
    )])
}

/// Check a row against a filter that needs only the index bytes (after the lift prefix).
/// `None` means the filter needs the row's value.
pub(crate) fn filter_indx(filter: &RowFilter, indx: &[u8]) -> Option<bool> {
    match filter {
        RowFilter::NotEqual(skip) => Some(indx != skip.as_slice()),
        RowFilter::IvalOverlap { min, max } => {
            if indx.len() < 16 {
                return Some(false);
            }
            let tick = &indx[indx.len() - 16..indx.len() - 8];
            let tock = &indx[indx.len() - 8..];
            Some(tick < max.as_slice() && tock > min.as_slice())
        }
        RowFilter::Near {
            point,
            dist,
            latmin,
            latmax,
        } => {
            if indx.len() != 10 {
                return Some(false);
            }
            let latb = &indx[5..10];
            if latb > latmax.as_slice() || latb < latmin.as_slice() {
                return Some(false);
            }
            let lat = geo5_decode(latb, LAT_SPACE);
            let lon = geo5_decode(&indx[..5], LON_SPACE);
            Some(haversine(*point, (lat, lon)) <= *dist)
        }
        RowFilter::HexNibble { at, nibble } => {
            Some(indx.get(*at).is_some_and(|b| b >> 4 == *nibble))
        }
        RowFilter::Regex { .. } | RowFilter::TagEq(_) | RowFilter::TagAt(..) => None,
    }
}

/// A regex match against a value, searching strings and (recursively) lists of strings.
pub(crate) fn regex_matches(regex: &regex::Regex, valu: &Value) -> bool {
    match valu {
        Value::String(text) => text.as_str().is_some_and(|t| regex.is_match(t)),
        Value::Array(items) => items.iter().any(|item| regex_matches(regex, item)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(stortype: i64, valu: Value) -> Vec<u8> {
        indx_one(stortype, &valu).unwrap()
    }

    #[test]
    fn ints_follow_the_reference_offsets() {
        assert_eq!(
            one(st::I64, Value::from(0)),
            hex::decode("7fffffffffffffff").unwrap()
        );
        assert_eq!(
            one(st::I64, Value::from(-1)),
            hex::decode("7ffffffffffffffe").unwrap()
        );
        assert_eq!(one(st::U32, Value::from(16909060)), vec![1, 2, 3, 4]);
        assert!(indx_one(st::U8, &Value::from(256)).is_err());
        assert!(indx_one(st::U8, &Value::from(-1)).is_err());
        let big = Value::Ext(0, vec![1; 16]);
        assert_eq!(one(st::U128, big), vec![1; 16]);
        assert_eq!(
            decode_indx(st::I64, &one(st::I64, Value::from(-5))),
            Some(Value::from(-5))
        );
    }

    #[test]
    fn strings_truncate_and_fqdns_reverse() {
        assert_eq!(
            one(st::FQDN, Value::from("vertex.link")),
            b"knil.xetrev".to_vec()
        );
        assert_eq!(one(st::TAG, Value::from("foo.bar")), b"foo.bar.".to_vec());
        let long = "a".repeat(300);
        let indx = one(st::UTF8, Value::from(long.as_str()));
        assert_eq!(indx.len(), 256);
        assert_eq!(&indx[..248], &long.as_bytes()[..248]);
        assert_eq!(decode_indx(st::UTF8, &indx), None);
        assert_eq!(
            decode_indx(st::FQDN, b"knil.xetrev"),
            Some(Value::from("vertex.link"))
        );
        assert_eq!(
            decode_indx(st::TAG, b"foo.bar."),
            Some(Value::from("foo.bar"))
        );
    }

    #[test]
    fn ival_and_guid_and_ipv6() {
        let ival = Value::Array(vec![Value::from(1), Value::from(2)]);
        assert_eq!(one(st::IVAL, ival).len(), 16);
        assert_eq!(
            one(st::GUID, Value::from("a5fcb7ee50dd99f27ff8f8aa5aedfbe1")),
            hex::decode("a5fcb7ee50dd99f27ff8f8aa5aedfbe1").unwrap()
        );
        assert!(indx_one(st::GUID, &Value::from("xyz")).is_err());
        let v6 = one(st::IPV6, Value::from("::ffff:1.2.3.4"));
        assert_eq!(&v6[12..], &[1, 2, 3, 4]);
    }

    #[test]
    fn hugenums_scale_by_ten_to_the_24() {
        let zero = hugenum_indx("0").unwrap();
        assert_eq!(zero, huge_offset());
        let one = hugenum_indx("0.000000000000000000000001").unwrap();
        assert_eq!(huge_sub(&one, &zero), Some(huge_one()));
        assert!(hugenum_indx("-1.5").unwrap() < hugenum_indx("-1.4").unwrap());
        assert!(hugenum_indx("730750818665451459101842").is_some());
        assert!(hugenum_indx("abc").is_none());
    }

    #[test]
    fn latlong_orders_by_longitude() {
        let a = one(
            st::LATLONG,
            Value::Array(vec![Value::F64(10.0), Value::F64(-5.0)]),
        );
        let b = one(
            st::LATLONG,
            Value::Array(vec![Value::F64(-10.0), Value::F64(5.0)]),
        );
        assert!(a < b);
        assert!(haversine((0.0, 0.0), (0.0, 1.0)) > 111_000_000.0);
    }

    proptest! {
        #[test]
        fn int_order_is_byte_order(a in any::<i64>(), b in any::<i64>()) {
            prop_assume!(a != i64::MIN && b != i64::MIN);
            let ia = one(st::I64, Value::from(a));
            let ib = one(st::I64, Value::from(b));
            prop_assert_eq!(a.cmp(&b), ia.cmp(&ib));
        }

        #[test]
        fn float_order_is_byte_order(a in any::<f64>(), b in any::<f64>()) {
            prop_assume!(!a.is_nan() && !b.is_nan());
            let (ia, ib) = (float_indx(a), float_indx(b));
            if a < b { prop_assert!(ia < ib); }
            if a > b { prop_assert!(ia > ib); }
        }

        #[test]
        fn hugenum_order_is_byte_order(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000, fa in 0u32..1000, fb in 0u32..1000) {
            let ta = format!("{}{}.{:03}", if a < 0 { "-" } else { "" }, a.unsigned_abs(), fa);
            let tb = format!("{}{}.{:03}", if b < 0 { "-" } else { "" }, b.unsigned_abs(), fb);
            let va = if a < 0 { -(a.unsigned_abs() as f64 * 1000.0 + fa as f64) } else { a as f64 * 1000.0 + fa as f64 };
            let vb = if b < 0 { -(b.unsigned_abs() as f64 * 1000.0 + fb as f64) } else { b as f64 * 1000.0 + fb as f64 };
            let (ia, ib) = (hugenum_indx(&ta).unwrap(), hugenum_indx(&tb).unwrap());
            prop_assert_eq!(va.partial_cmp(&vb), Some(ia.cmp(&ib)));
        }

        #[test]
        fn int_decode_round_trips(a in any::<i32>()) {
            let byts = one(st::I32, Value::from(a));
            prop_assert_eq!(decode_indx(st::I32, &byts), Some(Value::from(a)));
        }
    }
}
