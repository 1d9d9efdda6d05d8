//! Model-specific types: files (bytes, base, path), geo (latlong, dist, area), it:semver,
//! telco (phone, IMEI, IMSI).

use base64::Engine;

use md5::Md5;
use rmpv::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::NormInfo;
use super::error::Result;
use super::types::{Normed, Type, bad, no_norm};
use super::value::{as_str, int_value, py_lower, py_strip};

fn ok(v: Value) -> Result<Normed> {
    Ok((v, NormInfo::default()))
}

// ---- files -----------------------------------------------------------------------------

pub(crate) fn filebytes_from_bytes(_ty: &Type<'_>, byts: &[u8]) -> Result<Normed> {
    let sha256 = hex::encode(Sha256::digest(byts));
    let mut info = NormInfo::default();
    info.subs
        .push(("md5".into(), Value::from(hex::encode(Md5::digest(byts)))));
    info.subs
        .push(("sha1".into(), Value::from(hex::encode(Sha1::digest(byts)))));
    info.subs
        .push(("sha256".into(), Value::from(sha256.as_str())));
    info.subs.push((
        "sha512".into(),
        Value::from(hex::encode(Sha512::digest(byts))),
    ));
    info.subs
        .push(("size".into(), Value::from(byts.len() as u64)));
    Ok((Value::from(format!("sha256:{sha256}")), info))
}

pub(crate) fn norm_filebytes(ty: &Type<'_>, valu: &str) -> Result<Normed> {
    let name = ty.name();
    if valu == "*" {
        return ok(Value::from(format!("guid:{}", super::value::guid_random())));
    }
    let Some((kind, kval)) = valu.split_once(':') else {
        if valu.chars().count() == 64 {
            if valu.bytes().all(|b| b.is_ascii_hexdigit()) {
                let low = valu.to_ascii_lowercase();
                let mut info = NormInfo::default();
                info.subs.push(("sha256".into(), Value::from(low.as_str())));
                return Ok((Value::from(format!("sha256:{low}")), info));
            }
            return Err(bad(
                name,
                format!(
                    "invalid unadorned file:bytes value: Non-hexadecimal digit found - valu={valu}"
                ),
            ));
        }
        return Err(bad(
            name,
            format!("unadorned file:bytes value is not a sha256 - valu={valu}"),
        ));
    };
    if kind == "base64" {
        let byts = b64decode_lenient(kval).map_err(|e| {
            bad(
                name,
                format!("invalid file:bytes base64 value: {e} - valu={kval}"),
            )
        })?;
        return filebytes_from_bytes(ty, &byts);
    }
    let kval = py_lower(kval);
    match kind {
        "hex" => {
            let byts = hex::decode(&kval).map_err(|e| {
                let why = match e {
                    hex::FromHexError::OddLength => "Odd-length string".to_string(),
                    _ => "Non-hexadecimal digit found".to_string(),
                };
                bad(
                    name,
                    format!("invalid file:bytes hex value: {why} - valu={kval}"),
                )
            })?;
            filebytes_from_bytes(ty, &byts)
        }
        "guid" => {
            if kval.len() == 32 && kval.bytes().all(|b| b.is_ascii_hexdigit()) {
                ok(Value::from(format!("guid:{kval}")))
            } else {
                Err(bad(name, format!("guid is not a guid - valu={kval}")))
            }
        }
        "sha256" => {
            if kval.chars().count() != 64 {
                return Err(bad(
                    name,
                    format!("invalid length for sha256 value - valu={kval}"),
                ));
            }
            if !kval.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(
                    name,
                    format!(
                        "invalid file:bytes sha256 value: Non-hexadecimal digit found - valu={kval}"
                    ),
                ));
            }
            let mut info = NormInfo::default();
            info.subs
                .push(("sha256".into(), Value::from(kval.as_str())));
            Ok((Value::from(format!("sha256:{kval}")), info))
        }
        _ => Err(bad(
            name,
            format!("unable to norm as file:bytes - valu={valu}"),
        )),
    }
}

/// Python's non-strict `base64.b64decode`: characters outside the alphabet are ignored.
fn b64decode_lenient(text: &str) -> std::result::Result<Vec<u8>, String> {
    let mut data = String::new();
    let mut pads = 0;
    for c in text.chars() {
        if c == '=' {
            if !data.is_empty() {
                pads += 1;
                if (data.len() + pads).is_multiple_of(4) {
                    break;
                }
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '+' || c == '/' {
            if pads > 0 {
                pads = 0;
            }
            data.push(c);
        }
    }
    let n = data.len();
    if n % 4 == 1 {
        return Err(format!(
            "Invalid base64-encoded string: number of data characters ({n}) cannot be 1 more than a multiple of 4"
        ));
    }
    if !n.is_multiple_of(4) && !(n + pads).is_multiple_of(4) {
        return Err("Incorrect padding".into());
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(data.as_bytes())
        .map_err(|e| e.to_string())
}

/// A minimal structural check of a GeoJSON object (the reference validates a JSON schema).
pub(crate) fn is_geojson(valu: &Value) -> bool {
    fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
        match v {
            Value::Map(items) => items
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    fn is_num(v: &Value) -> bool {
        matches!(v, Value::Integer(_) | Value::F64(_) | Value::F32(_))
    }
    fn position(v: &Value) -> bool {
        matches!(v, Value::Array(p) if p.len() >= 2 && p.iter().all(is_num))
    }
    fn depth(v: &Value, n: usize) -> bool {
        if n == 0 {
            return position(v);
        }
        matches!(v, Value::Array(items) if items.iter().all(|i| depth(i, n - 1)))
    }
    fn geometry(v: &Value) -> bool {
        let Some(kind) = get(v, "type").and_then(|t| t.as_str()) else {
            return false;
        };
        match kind {
            "GeometryCollection" => {
                matches!(get(v, "geometries"), Some(Value::Array(g)) if g.iter().all(geometry))
            }
            _ => {
                let Some(coords) = get(v, "coordinates") else {
                    return false;
                };
                match kind {
                    "Point" => position(coords),
                    "LineString" | "MultiPoint" => depth(coords, 1),
                    "Polygon" | "MultiLineString" => depth(coords, 2),
                    "MultiPolygon" => depth(coords, 3),
                    _ => false,
                }
            }
        }
    }
    fn feature(v: &Value) -> bool {
        get(v, "type").and_then(|t| t.as_str()) == Some("Feature")
            && get(v, "geometry").is_some_and(|g| matches!(g, Value::Nil) || geometry(g))
            && get(v, "properties").is_some_and(|p| matches!(p, Value::Nil | Value::Map(_)))
    }
    match get(valu, "type").and_then(|t| t.as_str()) {
        Some("Feature") => feature(valu),
        Some("FeatureCollection") => {
            matches!(get(valu, "features"), Some(Value::Array(f)) if f.iter().all(feature))
        }
        Some(_) => geometry(valu),
        None => false,
    }
}

pub(crate) fn norm_filebase(name: &str, valu: &str) -> Result<Normed> {
    let norm = py_lower(py_strip(valu)).replace('\\', "/");
    if norm.contains('/') {
        return Err(bad(name, "file:base may not contain /"));
    }
    let mut info = NormInfo::default();
    if let Some((_, ext)) = norm.rsplit_once('.') {
        info.subs.push(("ext".into(), Value::from(ext)));
    }
    Ok((Value::from(norm), info))
}

pub(crate) fn norm_filepath(name: &str, valu: &str) -> Result<Normed> {
    if valu.is_empty() {
        return ok(Value::from(""));
    }
    let lead = if valu.starts_with('/') { "/" } else { "" };
    let text = py_lower(py_strip(valu)).replace('\\', "/");
    let text = text.trim_matches('/');
    if text.is_empty() {
        return ok(Value::from(""));
    }
    if text == "." || text == ".." {
        return Err(bad(name, "Cannot norm a bare relative path."));
    }
    let mut path: Vec<&str> = Vec::new();
    for part in text.split('/').filter(|p| !p.is_empty()) {
        match part {
            "." => continue,
            ".." => {
                path.pop();
            }
            p => path.push(p),
        }
    }
    if path.is_empty() {
        return ok(Value::from(""));
    }
    let full = format!("{lead}{}", path.join("/"));
    let base = path[path.len() - 1];
    let mut info = NormInfo::default();
    info.subs.push(("base".into(), Value::from(base)));
    if let Some((_, ext)) = base.rsplit_once('.') {
        info.subs.push(("ext".into(), Value::from(ext)));
    }
    if path.len() > 1 {
        info.subs.push((
            "dir".into(),
            Value::from(format!("{lead}{}", path[..path.len() - 1].join("/"))),
        ));
    }
    Ok((Value::from(full), info))
}

// ---- geo ---------------------------------------------------------------------------------

const DIST_UNITS: &[(&str, f64)] = &[
    ("mm", 1.0),
    ("millimeter", 1.0),
    ("millimeters", 1.0),
    ("cm", 10.0),
    ("centimeter", 10.0),
    ("centimeters", 10.0),
    ("foot", 304.8),
    ("feet", 304.8),
    ("m", 1000.0),
    ("meter", 1000.0),
    ("meters", 1000.0),
    ("mile", 1_609_344.0),
    ("miles", 1_609_344.0),
    ("km", 1_000_000.0),
    ("kilometer", 1_000_000.0),
    ("kilometers", 1_000_000.0),
    ("yard", 914.4),
    ("yards", 914.4),
];

const AREA_UNITS: &[(&str, f64)] = &[
    ("mm²", 1.0),
    ("sq.mm", 1.0),
    ("cm²", 10.0),
    ("sq.cm", 10.0),
    ("foot²", 304.8),
    ("feet²", 304.8),
    ("sq.feet", 304.8),
    ("m²", 1000.0),
    ("sq.m", 1000.0),
    ("sq.meters", 1000.0),
    ("mile²", 1_609_344.0),
    ("miles²", 1_609_344.0),
    ("sq.miles", 1_609_344.0),
    ("km²", 1_000_000.0),
    ("sq.km", 1_000_000.0),
    ("yard²", 914.4),
    ("sq.yards", 914.4),
];

/// `s_grammar.parse_float`: optional whitespace, `-?\d+(\.\d+)?([eE][-+]\d+)?`.
fn parse_float(text: &str) -> Option<(f64, usize)> {
    static RE: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^\s*-?\d+(\.\d+)?([eE][-+]\d+)?").ok());
    let m = RE.as_ref()?.find(text)?;
    let f = super::numeric::py_float(m.as_str())?;
    Some((f, m.end()))
}

/// `s_grammar.nom` with trim: skip spaces/tabs/newlines, take chars in the set, skip again.
fn nom(text: &str, off: usize, cset: impl Fn(char) -> bool) -> &str {
    let rest = &text[off..];
    let rest = rest.trim_start_matches([' ', '\t', '\n']);
    let end = rest.find(|c: char| !cset(c)).unwrap_or(rest.len());
    &rest[..end]
}

fn float_to_int(f: f64) -> i128 {
    if f.is_finite() { f.trunc() as i128 } else { 0 }
}

pub(crate) fn norm_dist_str(name: &str, text: &str, baseoff: i128) -> Result<Normed> {
    let Some((valu, off)) = parse_float(text) else {
        return Err(bad(
            name,
            format!("Distance requires a valid number and unit. No valid number found: {text}"),
        ));
    };
    let unit = nom(text, off, |c| c.is_ascii_alphabetic());
    let mult = DIST_UNITS
        .iter()
        .find(|(n, _)| *n == py_lower(unit))
        .map(|x| x.1)
        .ok_or_else(|| bad(name, format!("Unknown unit of distance: {text}")))?;
    let norm = float_to_int(valu * mult) + baseoff;
    if norm < 0 {
        return Err(bad(name, format!("A geo:dist may not be negative: {text}")));
    }
    ok(int_value(norm))
}

pub(crate) fn norm_area_str(name: &str, text: &str) -> Result<Normed> {
    let Some((valu, off)) = parse_float(text) else {
        return Err(bad(
            name,
            format!("Area requires a valid number and unit, no valid number found: {text}"),
        ));
    };
    let unit = nom(text, off, |c| c.is_ascii_alphabetic() || c == '.');
    let mult = AREA_UNITS
        .iter()
        .find(|(n, _)| *n == py_lower(unit))
        .map(|x| x.1)
        .ok_or_else(|| bad(name, format!("Unknown unit of area: {text}")))?;
    let norm = float_to_int(valu * mult);
    if norm < 0 {
        return Err(bad(name, format!("A geo:area may not be negative: {text}")));
    }
    ok(int_value(norm))
}

pub(crate) fn repr_dist(valu: i128) -> String {
    let absv = valu.unsigned_abs();
    let mut text = None;
    for (base, unit) in [(1_000_000.0, "km"), (1000.0, "m"), (10.0, "cm")] {
        if absv as f64 >= base {
            text = Some(format!(
                "{} {unit}",
                super::value::py_float_str(absv as f64 / base)
            ));
            break;
        }
    }
    let text = text.unwrap_or_else(|| format!("{absv} mm"));
    if valu < 0 { format!("-{text}") } else { text }
}

pub(crate) fn repr_area(valu: i128) -> String {
    for (base, unit) in [(1_000_000.0, "sq.km"), (1000.0, "sq.m"), (10.0, "sq.cm")] {
        if valu as f64 >= base {
            return format!("{} {unit}", super::value::py_float_str(valu as f64 / base));
        }
    }
    format!("{valu} sq.mm")
}

pub(crate) fn norm_latlong(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let items: Vec<Value> = match valu {
        Value::String(_) => py_strip(as_str(valu).unwrap_or_default())
            .split(',')
            .map(Value::from)
            .collect(),
        Value::Array(items) => items.clone(),
        _ => return Err(no_norm(name, valu)),
    };
    if items.len() != 2 {
        return Err(bad(name, "Valu must contain valid latitude,longitude"));
    }
    let rewrap = |tname: &str, item: &Value, e: super::ModelError| {
        // The reference reports str() of the inner error; range errors carry the float value.
        let shown = match item {
            Value::String(s) => match super::numeric::py_float(s.as_str().unwrap_or_default()) {
                Some(f) if !e.mesg().starts_with("could not convert") => {
                    super::value::py_float_str(f)
                }
                _ => super::value::py_repr(item),
            },
            Value::Integer(_) => {
                super::value::py_float_str(super::value::as_pyint(item).unwrap_or(0) as f64)
            }
            other => super::value::py_repr(other),
        };
        bad(
            name,
            format!(
                "BadTypeValu: mesg={} name={} valu={shown}",
                super::value::py_repr_str(&e.mesg()),
                super::value::py_repr_str(tname)
            ),
        )
    };
    let (lat, _) = ty
        .named("geo:latitude")?
        .norm(&items[0])
        .map_err(|e| rewrap("geo:latitude", &items[0], e))?;
    let (lon, _) = ty
        .named("geo:longitude")?
        .norm(&items[1])
        .map_err(|e| rewrap("geo:longitude", &items[1], e))?;
    let mut info = NormInfo::default();
    info.subs.push(("lat".into(), lat.clone()));
    info.subs.push(("lon".into(), lon.clone()));
    Ok((Value::Array(vec![lat, lon]), info))
}

// ---- it:semver -------------------------------------------------------------------------

const MASK20: i128 = 0xfffff;
const MASK60: i128 = 0xfff_ffff_ffff_ffff;

fn pack_version(major: i128, minor: i128, patch: i128) -> i128 {
    (patch & MASK20) | ((minor & MASK20) << 20) | ((major & MASK20) << 40)
}

fn semver_parse(text: &str) -> Option<Vec<(String, Value)>> {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^(?P<maj>0|[1-9][0-9]*)\.(?P<min>0|[1-9][0-9]*)\.(?P<pat>0|[1-9][0-9]*)(\-(?P<pre>[0-9A-Za-z\-\.]+))?(\+(?P<bld>[0-9A-Za-z\.\-]+))?$",
        )
        .ok()
    });
    let txt = py_strip(text).trim_start_matches(['v', 'V']);
    let caps = RE.as_ref()?.captures(txt)?;
    let num = |n: &str| caps.name(n).and_then(|m| m.as_str().parse::<i128>().ok());
    let mut subs = vec![
        ("major".to_string(), int_value(num("maj")?)),
        ("minor".to_string(), int_value(num("min")?)),
        ("patch".to_string(), int_value(num("pat")?)),
    ];
    if let Some(pre) = caps.name("pre").map(|m| m.as_str()) {
        for part in pre.split('.') {
            if part.is_empty() {
                return None;
            }
            if part.bytes().all(|b| b.is_ascii_digit()) && part.starts_with('0') && part.len() > 1 {
                return None;
            }
        }
        subs.push(("pre".into(), Value::from(pre)));
    }
    if let Some(bld) = caps.name("bld").map(|m| m.as_str()) {
        if bld.split('.').any(str::is_empty) {
            return None;
        }
        subs.push(("build".into(), Value::from(bld)));
    }
    Some(subs)
}

fn version_parts(text: &str) -> Option<Vec<(String, Value)>> {
    let seps = ".-_+";
    let text = py_strip(text).trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let mut text = text.trim_start_matches(|c: char| seps.contains(c));
    let mut parts = Vec::new();
    loop {
        let digits: &str = &text[..text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len())];
        if digits.is_empty() {
            break;
        }
        let rest = &text[digits.len()..];
        let sepn = rest.find(|c: char| !seps.contains(c)).unwrap_or(rest.len());
        if sepn == 0 && !rest.is_empty() {
            break;
        }
        parts.push(digits.parse::<i128>().ok()?);
        text = &rest[sepn..];
        if text.is_empty() {
            break;
        }
    }
    if parts.is_empty() {
        return None;
    }
    let keys = ["major", "minor", "patch"];
    Some(
        parts
            .iter()
            .zip(keys)
            .map(|(v, k)| (k.to_string(), int_value(*v)))
            .collect(),
    )
}

pub(crate) fn norm_semver_str(name: &str, text: &str) -> Result<Normed> {
    let text = py_strip(text);
    if text.is_empty() {
        return Err(bad(name, "No text left after stripping whitespace"));
    }
    let mut subs = semver_parse(text)
        .or_else(|| version_parts(text))
        .ok_or_else(|| bad(name, "Unable to parse string as a semver."))?;
    for key in ["minor", "patch"] {
        if !subs.iter().any(|(k, _)| k == key) {
            subs.push((key.to_string(), Value::from(0)));
        }
    }
    let get = |k: &str| {
        subs.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| super::value::as_pyint(v))
            .unwrap_or(0)
    };
    let valu = pack_version(get("major"), get("minor"), get("patch"));
    Ok((
        int_value(valu),
        NormInfo {
            subs,
            ..NormInfo::default()
        },
    ))
}

pub(crate) fn norm_semver_int(name: &str, valu: i128) -> Result<Normed> {
    if valu < 0 {
        return Err(bad(name, "Cannot norm a negative integer as a semver."));
    }
    if valu > MASK60 {
        return Err(bad(
            name,
            "Cannot norm a integer larger than 1152921504606846975 as a semver.",
        ));
    }
    let (major, minor, patch) = ((valu >> 40) & MASK20, (valu >> 20) & MASK20, valu & MASK20);
    let mut info = NormInfo::default();
    info.subs.push(("major".into(), int_value(major)));
    info.subs.push(("minor".into(), int_value(minor)));
    info.subs.push(("patch".into(), int_value(patch)));
    Ok((int_value(pack_version(major, minor, patch)), info))
}

pub(crate) fn repr_semver(valu: i128) -> String {
    format!(
        "{}.{}.{}",
        (valu >> 40) & MASK20,
        (valu >> 20) & MASK20,
        valu & MASK20
    )
}

// ---- telco ---------------------------------------------------------------------------------

pub(crate) fn norm_phone(name: &str, valu: &str) -> Result<Normed> {
    let digs: String = valu.chars().filter(char::is_ascii_digit).collect();
    if digs.is_empty() {
        return Err(bad(name, "requires a digit string"));
    }
    let mut info = NormInfo::default();
    let numb = digs.trim_start_matches('0');
    if let Some(cc) = super::inet::phone_cc(numb) {
        info.subs.push(("loc".into(), Value::from(cc)));
    }
    Ok((Value::from(digs), info))
}

pub(crate) fn repr_phone(valu: &str) -> String {
    if valu.starts_with('1') && valu.chars().count() == 11 && valu.is_ascii() {
        return format!("+1 ({}) {}-{}", &valu[1..4], &valu[4..7], &valu[7..11]);
    }
    format!("+{valu}")
}

fn imei_csum(text: &str) -> String {
    let mut total = 0u32;
    for (i, c) in text.chars().take(14).enumerate() {
        let mut v = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            v *= 2;
        }
        total += v
            .to_string()
            .chars()
            .filter_map(|d| d.to_digit(10))
            .sum::<u32>();
    }
    let remd = total % 10;
    (if remd == 0 { 0 } else { 10 - remd }).to_string()
}

pub(crate) fn norm_imei(name: &str, valu: i128) -> Result<Normed> {
    let mut imei = valu.to_string();
    match imei.len() {
        14 => imei.push_str(&imei_csum(&imei)),
        15 => {
            if imei_csum(&imei) != imei[14..] {
                return Err(bad(name, "invalid imei checksum byte"));
            }
        }
        _ => return Err(bad(name, "Failed to norm IMEI")),
    }
    if imei.starts_with('-') {
        return Err(bad(name, "Failed to norm IMEI"));
    }
    let num = |s: &str| s.parse::<i64>().unwrap_or(0);
    let mut info = NormInfo::default();
    info.subs
        .push(("tac".into(), Value::from(num(&imei[0..8]))));
    info.subs
        .push(("serial".into(), Value::from(num(&imei[8..14]))));
    info.subs
        .push(("cd".into(), Value::from(num(&imei[14..15]))));
    Ok((int_value(i128::from(num(&imei))), info))
}

pub(crate) fn norm_imsi(name: &str, valu: i128) -> Result<Normed> {
    let imsi = valu.to_string();
    if imsi.len() > 15 {
        return Err(bad(name, format!("invalid imsi len: {}", imsi.len())));
    }
    let mcc: String = imsi.chars().take(3).collect();
    let mut info = NormInfo::default();
    info.subs.push(("mcc".into(), Value::from(mcc)));
    Ok((int_value(valu), info))
}
