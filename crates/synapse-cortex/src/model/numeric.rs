//! Numeric and time-like base types: int (and its model subclasses), float, bool, time,
//! duration, velocity, ival, hex and hugenum.

use rmpv::Value;

use super::NormInfo;
use super::error::Result;
use super::time::{self, FUTURE, MAXTIME};
use super::types::{Kind, Normed, Type, bad, no_norm, pair};
use super::value::{as_pyint, as_str, int_value, py_int0, py_lower, py_repr, py_strip};

fn ok(v: Value) -> Result<Normed> {
    Ok((v, NormInfo::default()))
}

/// Python's `float(text)`; `None` when Python raises ValueError.
pub(crate) fn py_float(text: &str) -> Option<f64> {
    let s = py_strip(text);
    if s.is_empty() {
        return None;
    }
    let clean: String = if s.contains('_') {
        let chars: Vec<char> = s.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if *c == '_' {
                let before = i > 0 && chars[i - 1].is_ascii_digit();
                let after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if !before || !after {
                    return None;
                }
            }
        }
        s.replace('_', "")
    } else {
        s.to_string()
    };
    let low = clean.to_ascii_lowercase();
    let body = low.trim_start_matches(['+', '-']);
    if low.len() - body.len() > 1 {
        return None;
    }
    if matches!(body, "inf" | "infinity" | "nan") {
        return clean.parse::<f64>().ok();
    }
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        return None;
    }
    clean.parse::<f64>().ok()
}

fn float_err(text: &str) -> String {
    format!(
        "could not convert string to float: {}",
        super::value::py_repr_str(text)
    )
}

/// Int, and the model classes deriving from it (geo:dist, geo:area, it:semver, imei, imsi).
pub(crate) fn norm_int_family(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let ival = match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => as_pyint(valu).unwrap_or_default(),
        Value::Boolean(b) => i128::from(*b),
        Value::F64(_) | Value::F32(_) => {
            let f = match valu {
                Value::F64(f) => *f,
                Value::F32(f) => f64::from(*f),
                _ => 0.0,
            };
            if f.is_nan() {
                return Err(bad(name, "cannot convert float NaN to integer"));
            }
            if f.is_infinite() {
                return Err(bad(name, "cannot convert float infinity to integer"));
            }
            f.trunc() as i128
        }
        Value::String(_) => {
            let text = as_str(valu).unwrap_or_default();
            match ty.kind() {
                Kind::GeoDist { baseoff } => {
                    return super::misc::norm_dist_str(name, text, *baseoff);
                }
                Kind::GeoArea => return super::misc::norm_area_str(name, text),
                Kind::SemVer => return super::misc::norm_semver_str(name, text),
                Kind::Int(opts) if !opts.enums.is_empty() => {
                    let low = py_lower(text);
                    if let Some((v, _)) = opts.enums.iter().find(|(_, n)| py_lower(n) == low) {
                        return norm_int_value(ty, *v);
                    }
                    py_int0(text).map_err(|m| bad(name, m))?
                }
                _ => py_int0(text).map_err(|m| bad(name, m))?,
            }
        }
        _ => return Err(no_norm(name, valu)),
    };
    norm_int_value(ty, ival)
}

fn norm_int_value(ty: &Type<'_>, valu: i128) -> Result<Normed> {
    let name = ty.name();
    match ty.kind() {
        Kind::Int(opts) => {
            if valu < opts.min {
                return Err(bad(name, format!("value is below min={}", opts.min)));
            }
            if valu > opts.max {
                return Err(bad(name, format!("value is above max={}", opts.max)));
            }
            if !opts.enums.is_empty() && opts.strict && !opts.enums.iter().any(|(v, _)| *v == valu)
            {
                return Err(bad(name, "Value is not a valid enum value."));
            }
            ok(int_value(valu))
        }
        Kind::GeoDist { .. } | Kind::GeoArea => ok(int_value(valu)),
        Kind::SemVer => super::misc::norm_semver_int(name, valu),
        Kind::Imei => super::misc::norm_imei(name, valu),
        Kind::Imsi => super::misc::norm_imsi(name, valu),
        _ => ok(int_value(valu)),
    }
}

pub(crate) fn norm_float(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let Kind::Float {
        min,
        minisvalid,
        max,
        maxisvalid,
    } = ty.kind()
    else {
        return Err(no_norm(name, valu));
    };
    let f = match valu {
        Value::F64(f) => *f,
        Value::F32(f) => f64::from(*f),
        Value::Integer(_) | Value::Ext(0 | 1, _) => as_pyint(valu).unwrap_or_default() as f64,
        Value::String(_) => {
            let text = as_str(valu).unwrap_or_default();
            py_float(text).ok_or_else(|| bad(name, float_err(text)))?
        }
        _ => return Err(no_norm(name, valu)),
    };
    if let Some(min) = min {
        let okmin = if *minisvalid { f >= *min } else { f > *min };
        if !okmin {
            return Err(bad(
                name,
                format!("value is below min={}", super::value::py_float_str(*min)),
            ));
        }
    }
    if let Some(max) = max {
        let okmax = if *maxisvalid { f <= *max } else { f < *max };
        if !okmax {
            return Err(bad(
                name,
                format!("value is above max={}", super::value::py_float_str(*max)),
            ));
        }
    }
    ok(Value::F64(f))
}

pub(crate) fn norm_bool(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    match valu {
        Value::Boolean(b) => ok(Value::from(i64::from(*b))),
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            ok(Value::from(i64::from(as_pyint(valu) != Some(0))))
        }
        Value::String(_) => {
            let text = as_str(valu).unwrap_or_default();
            if let Ok(i) = py_int0(text) {
                return ok(Value::from(i64::from(i != 0)));
            }
            match py_strip(&py_lower(text)) {
                "true" | "t" | "y" | "yes" | "on" => ok(Value::from(1)),
                "false" | "f" | "n" | "no" | "off" => ok(Value::from(0)),
                _ => Err(bad(name, "Failed to norm bool")),
            }
        }
        _ => Err(no_norm(name, valu)),
    }
}

fn time_int(name: &str, valu: i128) -> Result<i64> {
    if valu > i128::from(MAXTIME) && valu != i128::from(FUTURE) {
        return Err(bad(
            name,
            format!(
                "Time exceeds max size [{MAXTIME}] allowed for a non-future marker, got {valu}"
            ),
        ));
    }
    i64::try_from(valu).map_err(|_| bad(name, format!("Time value out of range: {valu}")))
}

/// The reference's `Time._normPyStr`.
pub(crate) fn time_str(name: &str, text: &str) -> Result<i64> {
    let valu = py_lower(py_strip(text));
    if valu == "now" {
        return time_int(name, i128::from(time::now()));
    }
    if valu == "?" {
        return Ok(FUTURE);
    }
    let (valu, base) = time::parsetz(&valu).map_err(|m| bad(name, m))?;
    if time::has_unit(&valu) && (valu.contains('-') || valu.contains('+')) {
        let splitter = if valu.contains('-') { '-' } else { '+' };
        let (bgn, end) = valu.split_once(splitter).unwrap_or((&valu, ""));
        let delt = time::delta(&format!("{splitter}{end}")).map_err(|m| bad(name, m))?;
        let bgn = if bgn.is_empty() {
            time::now()
        } else {
            time_str(name, bgn)? + base
        };
        return time_int(name, i128::from(delt) + i128::from(bgn));
    }
    let tick = time::parse(&valu, Some(base), true).map_err(|m| bad(name, m))?;
    time_int(name, i128::from(tick))
}

pub(crate) fn norm_time(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => ok(Value::from(time_int(
            name,
            as_pyint(valu).unwrap_or_default(),
        )?)),
        Value::String(_) => ok(Value::from(time_str(
            name,
            as_str(valu).unwrap_or_default(),
        )?)),
        _ => Err(no_norm(name, valu)),
    }
}

/// The reference's `Time._getLiftValu`: relative strings are relative to `relto`.
pub(crate) fn time_lift_valu(ty: &Type<'_>, valu: &Value, relto: Option<i64>) -> Result<i64> {
    let name = ty.name();
    if let Some(text) = as_str(valu) {
        let low = py_lower(py_strip(text));
        if low.is_empty() {
            return Err(bad(name, format!("Invalid time provided, got [{text}]")));
        }
        if low == "now" {
            return Ok(time::now());
        }
        if low.starts_with('-') || low.starts_with('+') {
            let delt = time::delta(&low).map_err(|m| bad(name, m))?;
            let relto = relto.unwrap_or_else(time::now);
            return time_int(name, i128::from(delt) + i128::from(relto));
        }
    }
    let tick = ty.named("time")?.norm(valu)?.0;
    Ok(as_pyint(&tick)
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or_default())
}

/// The reference's `Time.getTickTock`: an ordered `(tick, tock)` from two values.
pub(crate) fn tick_tock(ty: &Type<'_>, vals: &[Value]) -> Result<(i64, i64)> {
    let name = ty.name();
    if vals.len() != 2 {
        return Err(bad(
            name,
            format!(
                "Time range must have a length of 2: {}",
                super::types::py_repr_tuple(vals)
            ),
        ));
    }
    let tick = time_lift_valu(ty, &vals[0], None).map_err(|e| {
        // A ValueError (bad relative size) for the first value is reported by the reference
        // with this message; for the second one it is not caught.
        if e.mesg().starts_with("invalid literal for int()") {
            bad(
                name,
                format!(
                    "Unable to process the value for val0 in _getLiftValu, got {}",
                    super::types::repr_to_string(&vals[0])
                ),
            )
        } else {
            e
        }
    })?;
    let mut sortval = false;
    let (tick, tock) = match as_str(&vals[1]) {
        Some(text) if text.starts_with("+-") || text.starts_with("-+") => {
            sortval = true;
            let delt = time::delta(&text[2..]).map_err(|m| bad(name, m))?;
            (tick - delt, tick + delt)
        }
        Some(text) if text.starts_with('-') => {
            sortval = true;
            (tick, time_lift_valu(ty, &vals[1], Some(tick))?)
        }
        _ => (tick, time_lift_valu(ty, &vals[1], Some(tick))?),
    };
    if sortval && tick >= tock {
        return Ok((tick.min(tock), tick.max(tock)));
    }
    Ok((tick, tock))
}

pub(crate) fn norm_ival(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let pair_of = |a: i64, b: i64| Value::Array(vec![Value::from(a), Value::from(b)]);
    match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            let minv = time_int(name, as_pyint(valu).unwrap_or_default())?;
            let maxv = time_int(name, i128::from(minv) + 1)?;
            ok(pair_of(minv, maxv))
        }
        Value::String(_) => {
            let text = py_lower(py_strip(as_str(valu).unwrap_or_default()));
            if text == "?" {
                return Err(bad(name, "interval requires begin time"));
            }
            if let Some((a, b)) = text.split_once(',') {
                let (minv, maxv) = ival_ticktock(ty, &[Value::from(a), Value::from(b)])?;
                return ok(pair_of(minv, maxv));
            }
            let minv = time_str(name, &text)?;
            let maxv = time_int(name, i128::from(minv) + 1)?;
            ok(pair_of(minv, maxv))
        }
        Value::Array(items) => {
            let (minv, mut maxv) = ival_ticktock(ty, items)?;
            if minv == maxv {
                if maxv == FUTURE {
                    return Err(bad(
                        name,
                        "Ival upper range cannot exceed future size marker",
                    ));
                }
                maxv += 1;
            }
            if minv > maxv {
                return Err(bad(name, "Ival range must in (min, max) format"));
            }
            ok(pair_of(minv, maxv))
        }
        _ => Err(no_norm(name, valu)),
    }
}

fn ival_ticktock(ty: &Type<'_>, items: &[Value]) -> Result<(i64, i64)> {
    let name = ty.name();
    if items.len() != 2 {
        return Err(bad(name, "Ival _normPyIter requires 2 items"));
    }
    let timetype = ty.named("time")?;
    let (tick, tock) = tick_tock(&timetype, items)?;
    Ok((
        time_int(name, i128::from(tick))?,
        time_int(name, i128::from(tock))?,
    ))
}

pub(crate) fn norm_duration(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => ok(valu.clone()),
        Value::String(_) => {
            let text = py_strip(as_str(valu).unwrap_or_default());
            if text.is_empty() {
                return Err(bad(name, "Duration string must have non-zero length."));
            }
            duration_str(text)
                .map(|d| (int_value(d), NormInfo::default()))
                .map_err(|m| bad(name, m))
        }
        _ => Err(no_norm(name, valu)),
    }
}

fn py_int10(text: &str) -> Option<i128> {
    let s = py_strip(text);
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i128 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn duration_str(text: &str) -> std::result::Result<i128, String> {
    let mut dura: i128 = 0;
    let mut text = text.to_string();
    let numerr = |t: &str| format!("Invalid numeric value in duration: {t}.");
    let secs = |t: &str, cur: &str| -> std::result::Result<i128, String> {
        let f = py_float(t).ok_or_else(|| numerr(cur))?;
        let ms = f * 1000.0;
        if !ms.is_finite() {
            return Err(numerr(cur));
        }
        Ok(ms.trunc() as i128)
    };
    if let Some((days, rest)) = text.clone().split_once('D') {
        // The reference reports the text after the days split when the days are invalid.
        text = rest.to_string();
        let d = py_int0(py_strip(days)).map_err(|_| numerr(&text))?;
        dura += d * i128::from(time::ONEDAY);
        text = py_strip(rest).to_string();
    }
    if !text.is_empty() {
        if text.contains(':') {
            let parts: Vec<&str> = text.split(':').collect();
            match parts.len() {
                2 => {
                    dura +=
                        py_int10(parts[0]).ok_or_else(|| numerr(&text))? * i128::from(time::ONEMIN);
                    dura += secs(parts[1], &text)?;
                }
                3 => {
                    dura += py_int10(parts[0]).ok_or_else(|| numerr(&text))?
                        * i128::from(time::ONEHOUR);
                    dura +=
                        py_int10(parts[1]).ok_or_else(|| numerr(&text))? * i128::from(time::ONEMIN);
                    dura += secs(parts[2], &text)?;
                }
                _ => return Err("Invalid number of : characters for duration.".into()),
            }
        } else {
            dura += secs(&text, &text)?;
        }
    }
    Ok(dura)
}

pub(crate) fn repr_duration(valu: i128) -> String {
    let oneday = i128::from(time::ONEDAY);
    let days = valu.div_euclid(oneday);
    let rem = valu.rem_euclid(oneday);
    let hours = rem / i128::from(time::ONEHOUR);
    let rem = rem % i128::from(time::ONEHOUR);
    let minutes = rem / i128::from(time::ONEMIN);
    let rem = rem % i128::from(time::ONEMIN);
    let seconds = rem / 1000;
    let millis = rem % 1000;
    let mut out = String::new();
    if days != 0 {
        out.push_str(&format!("{days}D "));
    }
    out.push_str(&format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}"));
    out
}

const SPEED_DIST: &[(&str, f64)] = &[
    ("mm", 1.0),
    ("millimeters", 1.0),
    ("k", 1_000_000.0),
    ("km", 1_000_000.0),
    ("kilometers", 1_000_000.0),
    ("nmi", 1_852_000.0),
    ("in", 25.4),
    ("inches", 25.4),
    ("ft", 304.8),
    ("feet", 304.8),
    ("mi", 1_609_344.0),
    ("miles", 1_609_344.0),
];

const SPEED_DURA: &[(&str, f64)] = &[
    ("s", 1.0),
    ("sec", 1.0),
    ("min", 60.0),
    ("minute", 60.0),
    ("h", 3600.0),
    ("hr", 3600.0),
    ("hour", 3600.0),
];

pub(crate) fn norm_velocity(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let Kind::Velocity { relative } = ty.kind() else {
        return Err(no_norm(name, valu));
    };
    match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            let v = as_pyint(valu).unwrap_or_default();
            if v < 0 && !relative {
                return Err(bad(name, "Non-relative velocities may not be negative."));
            }
            ok(int_value(v))
        }
        Value::String(_) => {
            let text = py_strip(&py_lower(as_str(valu).unwrap_or_default())).to_string();
            if text.is_empty() {
                return Err(bad(name, "Empty string is not a valid velocity."));
            }
            let chars: Vec<char> = text.chars().collect();
            let mut off = 0;
            while off < chars.len() && " \t\n".contains(chars[off]) {
                off += 1;
            }
            let start = off;
            while off < chars.len() && "-0123456789.".contains(chars[off]) {
                off += 1;
            }
            let mut nums: String = chars[start..off].iter().collect();
            while off < chars.len() && " \t\n".contains(chars[off]) {
                off += 1;
            }
            if nums.is_empty() {
                nums = "1".into();
            }
            let base = py_float(&nums).ok_or_else(|| bad(name, float_err(&nums)))?;
            if base < 0.0 && !relative {
                return Err(bad(name, "Non-relative velocities may not be negative."));
            }
            let unit: String = chars[off..].iter().collect();
            let unit = py_strip(&unit);
            let toint = |f: f64| -> Result<Normed> {
                if !f.is_finite() {
                    return Err(bad(name, "cannot convert float infinity to integer"));
                }
                ok(int_value(f.trunc() as i128))
            };
            if unit.is_empty() {
                return toint(base);
            }
            if let Some((dist, dura)) = unit.split_once('/') {
                let distmod = SPEED_DIST
                    .iter()
                    .find(|(n, _)| *n == dist)
                    .map(|x| x.1)
                    .ok_or_else(|| bad(name, format!("Unrecognized distance type: {dist}.")))?;
                let duramod = SPEED_DURA
                    .iter()
                    .find(|(n, _)| *n == dura)
                    .map(|x| x.1)
                    .ok_or_else(|| bad(name, format!("Unrecognized duration type: {dura}.")))?;
                return toint((base * distmod) / duramod);
            }
            match unit {
                "mph" => toint((base * 1_609_344.0) / 3600.0),
                "kph" => toint((base * 1_000_000.0) / 3600.0),
                "knots" | "kts" => toint((base * 1_852_000.0) / 3600.0),
                "c" => toint(base * 299_792_458_000.0),
                _ => Err(bad(name, format!("Unknown velocity unit: {unit}."))),
            }
        }
        _ => Err(no_norm(name, valu)),
    }
}

fn hex_prenorm(text: &str) -> String {
    let low = py_lower(py_strip(text));
    let low = low.strip_prefix("0x").unwrap_or(&low);
    low.replace([' ', ':'], "")
}

pub(crate) fn norm_hex(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let Kind::Hex { size, zeropad } = ty.kind() else {
        return Err(no_norm(name, valu));
    };
    match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            let v = as_pyint(valu).unwrap_or_default();
            let extra = if v < 0 { 8 } else { 7 };
            let bitlen = if v >= 0 {
                128 - v.leading_zeros()
            } else {
                128 - (!v).leading_zeros()
            } as usize;
            let bytelen = ((bitlen + extra) / 8).max(zeropad / 2);
            let full = v.to_be_bytes();
            let hexval = if bytelen >= 16 {
                let fill = if v < 0 { "ff" } else { "00" };
                format!("{}{}", fill.repeat(bytelen - 16), hex::encode(full))
            } else {
                hex::encode(&full[16 - bytelen..])
            };
            if *size > 0 && hexval.len() != *size {
                return Err(bad(name, "Invalid width."));
            }
            ok(Value::from(hexval))
        }
        Value::String(_) => hex_str(name, *size, *zeropad, as_str(valu).unwrap_or_default()),
        Value::Binary(b) => hex_str(name, *size, *zeropad, &hex::encode(b)),
        _ => Err(no_norm(name, valu)),
    }
}

fn hex_str(name: &str, size: usize, zeropad: usize, text: &str) -> Result<Normed> {
    let mut valu = hex_prenorm(text);
    if !valu.chars().count().is_multiple_of(2) {
        valu = format!("0{valu}");
    }
    if valu.is_empty() {
        return Err(bad(name, "No string left after stripping."));
    }
    if zeropad > 0 && valu.len() < zeropad {
        valu = format!("{}{valu}", "0".repeat(zeropad - valu.len()));
    }
    if !valu.is_ascii() {
        return Err(bad(
            "hex",
            "string argument should contain only ASCII characters",
        ));
    }
    if !valu.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("hex", "Non-hexadecimal digit found"));
    }
    if size > 0 && valu.len() != size {
        return Err(bad(name, "Invalid width."));
    }
    ok(Value::from(valu))
}

/// The hex prefix for `^=` lifts and `=` wildcard lifts.
pub(crate) fn hex_lift_prefix(text: &str) -> String {
    hex_prenorm(text)
}

// ---- hugenum -------------------------------------------------------------------------

/// A decimal number: `(-1)^neg * coef * 10^exp`, coef as big-endian decimal digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dec {
    pub(crate) neg: bool,
    pub(crate) coef: Vec<u8>,
    pub(crate) exp: i64,
}

fn trim_lead(mut d: Vec<u8>) -> Vec<u8> {
    let n = d.iter().take_while(|x| **x == 0).count();
    d.drain(..n.min(d.len().saturating_sub(1)));
    if d.is_empty() {
        d.push(0);
    }
    d
}

fn cmp_mag(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let a = &a[a.iter().take_while(|x| **x == 0).count()..];
    let b = &b[b.iter().take_while(|x| **x == 0).count()..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let (mut i, mut j, mut carry) = (a.len(), b.len(), 0u8);
    while i > 0 || j > 0 || carry > 0 {
        let x = if i > 0 { a[i - 1] } else { 0 };
        let y = if j > 0 { b[j - 1] } else { 0 };
        let s = x + y + carry;
        out.push(s % 10);
        carry = s / 10;
        i = i.saturating_sub(1);
        j = j.saturating_sub(1);
    }
    out.reverse();
    trim_lead(out)
}

/// a - b for |a| >= |b|.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let (mut i, mut j, mut borrow) = (a.len(), b.len(), 0i8);
    while i > 0 {
        let x = a[i - 1] as i8;
        let y = if j > 0 { b[j - 1] as i8 } else { 0 };
        let mut d = x - y - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out.push(d as u8);
        i -= 1;
        j = j.saturating_sub(1);
    }
    out.reverse();
    trim_lead(out)
}

fn mul_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut acc = vec![0u32; a.len() + b.len()];
    for (i, x) in a.iter().enumerate().rev() {
        for (j, y) in b.iter().enumerate().rev() {
            acc[i + j + 1] += u32::from(*x) * u32::from(*y);
        }
    }
    for k in (1..acc.len()).rev() {
        let carry = acc[k] / 10;
        acc[k] %= 10;
        acc[k - 1] += carry;
    }
    trim_lead(acc.into_iter().map(|x| x as u8).collect())
}

impl Dec {
    fn zero() -> Dec {
        Dec {
            neg: false,
            coef: vec![0],
            exp: 0,
        }
    }

    fn is_zero(&self) -> bool {
        self.coef.iter().all(|d| *d == 0)
    }

    /// Parse Python `Decimal(str)` syntax (finite numbers only).
    pub(crate) fn parse(text: &str) -> Option<Dec> {
        let s = py_strip(text).replace('_', "");
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s.as_str()),
        };
        let (mant, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
            None => (body, 0),
        };
        let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
        if ip.is_empty() && fp.is_empty() {
            return None;
        }
        if !ip.bytes().all(|b| b.is_ascii_digit()) || !fp.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let coef: Vec<u8> = ip.bytes().chain(fp.bytes()).map(|b| b - b'0').collect();
        Some(Dec {
            neg,
            coef: trim_lead(coef),
            exp: exp - fp.len() as i64,
        })
    }

    fn from_int(v: i128) -> Dec {
        let coef = v
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|b| b - b'0')
            .collect();
        Dec {
            neg: v < 0,
            coef,
            exp: 0,
        }
    }

    /// Align two values to the same exponent.
    fn aligned(&self, other: &Dec) -> (Vec<u8>, Vec<u8>, i64) {
        let exp = self.exp.min(other.exp);
        let mut a = self.coef.clone();
        a.extend(std::iter::repeat_n(0, (self.exp - exp) as usize));
        let mut b = other.coef.clone();
        b.extend(std::iter::repeat_n(0, (other.exp - exp) as usize));
        (a, b, exp)
    }

    pub(crate) fn cmp(&self, other: &Dec) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        let (sa, sb) = (
            if self.is_zero() {
                0
            } else if self.neg {
                -1
            } else {
                1
            },
            if other.is_zero() {
                0
            } else if other.neg {
                -1
            } else {
                1
            },
        );
        if sa != sb {
            return sa.cmp(&sb);
        }
        if sa == 0 {
            return Equal;
        }
        let (a, b, _) = self.aligned(other);
        let mag = cmp_mag(&a, &b);
        if sa < 0 { mag.reverse() } else { mag }
    }

    fn add(&self, other: &Dec) -> Dec {
        let (a, b, exp) = self.aligned(other);
        if self.neg == other.neg {
            return Dec {
                neg: self.neg,
                coef: add_mag(&a, &b),
                exp,
            };
        }
        match cmp_mag(&a, &b) {
            std::cmp::Ordering::Less => Dec {
                neg: other.neg,
                coef: sub_mag(&b, &a),
                exp,
            },
            _ => Dec {
                neg: self.neg,
                coef: sub_mag(&a, &b),
                exp,
            },
        }
    }

    fn mul(&self, other: &Dec) -> Dec {
        Dec {
            neg: self.neg != other.neg,
            coef: mul_mag(&self.coef, &other.coef),
            exp: self.exp + other.exp,
        }
        .round_prec(49)
    }

    /// Round (half even) to keep at most `digits` digits after dropping `drop` low digits.
    fn drop_digits(&self, drop: usize) -> Dec {
        if drop == 0 {
            return self.clone();
        }
        let n = self.coef.len();
        if drop > n {
            return Dec {
                neg: self.neg,
                coef: vec![0],
                exp: self.exp + drop as i64,
            };
        }
        let keep = &self.coef[..n - drop];
        let rest = &self.coef[n - drop..];
        let first = rest[0];
        let tail_nonzero = rest[1..].iter().any(|d| *d != 0);
        let last_odd = keep.last().is_some_and(|d| d % 2 == 1);
        let up = first > 5 || (first == 5 && (tail_nonzero || last_odd));
        let mut coef = if keep.is_empty() {
            vec![0]
        } else {
            keep.to_vec()
        };
        if up {
            coef = add_mag(&coef, &[1]);
        }
        Dec {
            neg: self.neg,
            coef: trim_lead(coef),
            exp: self.exp + drop as i64,
        }
    }

    fn round_prec(&self, prec: usize) -> Dec {
        let coef = trim_lead(self.coef.clone());
        let d = Dec {
            coef,
            ..self.clone()
        };
        if d.coef.len() > prec {
            d.drop_digits(d.coef.len() - prec)
        } else {
            d
        }
    }

    /// `quantize(Decimal('1E-24'))` (half even).
    fn quantize24(&self) -> Dec {
        if self.exp >= -24 {
            let mut coef = self.coef.clone();
            coef.extend(std::iter::repeat_n(0, (self.exp + 24) as usize));
            return Dec {
                neg: self.neg,
                coef: trim_lead(coef),
                exp: -24,
            };
        }
        self.drop_digits((-24 - self.exp) as usize)
    }

    /// Remainder with the sign of the dividend (Python Decimal `divmod`).
    fn rem(&self, m: &Dec) -> Dec {
        let (a, b, exp) = self.aligned(m);
        // Long division remainder of a by b.
        let mut r: Vec<u8> = vec![0];
        for d in a {
            r.push(d);
            r = trim_lead(r);
            while cmp_mag(&r, &b) != std::cmp::Ordering::Less {
                r = sub_mag(&r, &b);
            }
        }
        Dec {
            neg: self.neg,
            coef: r,
            exp,
        }
    }

    /// `'{:f}'.format(self.normalize())`.
    pub(crate) fn to_plain(&self) -> String {
        let mut coef = trim_lead(self.coef.clone());
        let mut exp = self.exp;
        if coef == [0] {
            return if self.neg { "-0".into() } else { "0".into() };
        }
        while coef.len() > 1 && coef.last() == Some(&0) {
            coef.pop();
            exp += 1;
        }
        let digits: String = coef.iter().map(|d| char::from(b'0' + d)).collect();
        let body = if exp >= 0 {
            format!("{digits}{}", "0".repeat(exp as usize))
        } else {
            let point = digits.len() as i64 + exp;
            if point > 0 {
                format!(
                    "{}.{}",
                    &digits[..point as usize],
                    &digits[point as usize..]
                )
            } else {
                format!("0.{}{digits}", "0".repeat((-point) as usize))
            }
        };
        if self.neg { format!("-{body}") } else { body }
    }
}

const HUGEMAX: &str = "730750818665451459101842";

fn hugenum_of(name: &str, valu: &Value) -> Result<Dec> {
    let invalid = || {
        bad(
            name,
            "Invalid hugenum: [<class 'decimal.ConversionSyntax'>]",
        )
    };
    match valu {
        Value::String(_) => {
            let text = as_str(valu).unwrap_or_default();
            if text.starts_with("0x") {
                return py_int0(text).map(Dec::from_int).map_err(|m| bad(name, m));
            }
            Dec::parse(text).ok_or_else(invalid)
        }
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            Ok(Dec::from_int(as_pyint(valu).unwrap_or_default()))
        }
        Value::Boolean(b) => Ok(Dec::from_int(i128::from(*b))),
        Value::F64(f) => Dec::parse(&super::value::py_float_str(*f)).ok_or_else(invalid),
        Value::F32(f) => Dec::parse(&super::value::py_float_str(f64::from(*f))).ok_or_else(invalid),
        _ => Err(bad(
            name,
            format!(
                "conversion from {} to Decimal is not supported",
                py_type_short(valu)
            ),
        )),
    }
}

fn py_type_short(valu: &Value) -> &'static str {
    match valu {
        Value::Array(_) => "list",
        Value::Map(_) => "dict",
        Value::Binary(_) => "bytes",
        _ => "NoneType",
    }
}

/// Parse hugenum text with units (`10kg`), as `HugeNum._normHugeText`.
fn huge_text(ty: &Type<'_>, raw: &str) -> Result<Dec> {
    let name = ty.name();
    let Kind::HugeNum { units, .. } = ty.kind() else {
        return Err(no_norm(name, &Value::from(raw)));
    };
    let text = py_strip(&py_lower(raw)).replace([',', ' '], "");
    static FLOATRE: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^\s*-?\d+(\.\d+)?([eE][-+]\d+)?").ok());
    let Some(m) = FLOATRE.as_ref().and_then(|re| re.find(&text)) else {
        return Err(bad(
            name,
            format!("Value does not start with a number: \"{raw}\""),
        ));
    };
    let mut huge = Dec::parse(m.as_str()).ok_or_else(|| {
        bad(
            name,
            format!("Value does not start with a number: \"{raw}\""),
        )
    })?;
    let rest: String = text[m.end()..]
        .chars()
        .skip_while(|c| " \t\n".contains(*c))
        .collect();
    let unit: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == 'µ')
        .collect();
    if !unit.is_empty() {
        let mult = units
            .iter()
            .find(|(n, _)| *n == unit)
            .and_then(|(_, m)| Dec::parse(m))
            .ok_or_else(|| bad(name, format!("Unknown units for value: \"{raw}\"")))?;
        huge = huge.mul(&mult);
    }
    Ok(huge)
}

pub(crate) fn norm_hugenum(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let Kind::HugeNum { modulo, .. } = ty.kind() else {
        return Err(no_norm(name, valu));
    };
    if matches!(valu, Value::Nil) {
        return Err(bad(name, "Hugenum type may not be null."));
    }
    if let Value::F64(f) = valu
        && !f.is_finite()
    {
        return Err(bad(name, format!("Invalid hugenum: {}", py_repr(valu))));
    }
    let mut huge = match valu {
        Value::String(_) => huge_text(ty, as_str(valu).unwrap_or_default())?,
        _ => hugenum_of(name, valu)?,
    };
    if let Some(m) = modulo.as_deref().and_then(Dec::parse) {
        huge = huge.rem(&m);
        if huge.neg && !huge.is_zero() {
            huge = huge.add(&m);
        }
        huge = huge.quantize24();
    }
    let max = Dec::parse(HUGEMAX).unwrap_or_else(Dec::zero);
    let shown = match valu {
        Value::String(_) => as_str(valu).unwrap_or_default().to_string(),
        other => py_repr(other),
    };
    if huge.cmp(&max) == std::cmp::Ordering::Greater {
        return Err(bad(
            name,
            format!("Value ({shown}) is too large for hugenum."),
        ));
    }
    let abs = Dec {
        neg: false,
        ..huge.clone()
    };
    if abs.cmp(&max) == std::cmp::Ordering::Greater {
        return Err(bad(
            name,
            format!("Value ({shown}) is too small for hugenum."),
        ));
    }
    ok(Value::from(huge.quantize24().to_plain()))
}

/// A hugenum value as a decimal for comparisons.
pub(crate) fn hugenum_dec(valu: &Value) -> Option<Dec> {
    match valu {
        Value::String(_) => Dec::parse(as_str(valu)?),
        Value::Integer(_) | Value::Ext(0 | 1, _) => Some(Dec::from_int(as_pyint(valu)?)),
        Value::F64(f) => Dec::parse(&super::value::py_float_str(*f)),
        _ => None,
    }
}

/// Accessor used by comparators on ival values.
pub(crate) fn ival_pair(v: &Value) -> Option<(i64, i64)> {
    let (a, b) = pair(v)?;
    Some((
        i64::try_from(as_pyint(a)?).ok()?,
        i64::try_from(as_pyint(b)?).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let d = Dec::parse("1.50").map(|d| d.quantize24().to_plain());
        assert_eq!(d.as_deref(), Some("1.5"));
        let d = Dec::parse("-370").map(|d| {
            let m = Dec::parse("360").unwrap_or_else(Dec::zero);
            let r = d.rem(&m);
            r.add(&m).to_plain()
        });
        assert_eq!(d.as_deref(), Some("350"));
        assert_eq!(
            Dec::parse("1e3").map(|d| d.to_plain()).as_deref(),
            Some("1000")
        );
        assert_eq!(repr_duration(3_600_000), "01:00:00.000");
        assert_eq!(repr_duration(172_800_000), "2D 00:00:00.000");
    }
}
