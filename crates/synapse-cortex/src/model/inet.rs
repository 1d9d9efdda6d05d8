//! Internet types: IPv4/IPv6 addresses and ranges, CIDRs, FQDNs (IDNA), emails, URLs,
//! server/client addresses, RFC 2822 addresses, HTTP cookies and DNS names.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use rmpv::Value;
use unicode_normalization::UnicodeNormalization;

use super::NormInfo;
use super::error::{ModelError, Result};
use super::types::{Kind, Normed, Type, bad, no_norm};
use super::value::{as_pyint, as_str, int_value, py_isprintable, py_lower, py_repr_str, py_strip};

struct Lookups {
    services: HashMap<String, i64>,
    phone: Vec<(String, String)>,
}

static LOOKUPS: LazyLock<Lookups> = LazyLock::new(|| {
    let data: serde_json::Value = serde_json::from_str(include_str!("../../data/lookups.json"))
        .unwrap_or(serde_json::Value::Null);
    let services = data
        .get("services")
        .and_then(|s| s.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    let phone = data
        .get("phone")
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        p.get(0)?.as_str()?.to_string(),
                        p.get(1)?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Lookups { services, phone }
});

/// The country code for a phone number by longest known prefix.
pub(crate) fn phone_cc(digits: &str) -> Option<String> {
    LOOKUPS
        .phone
        .iter()
        .filter(|(pref, _)| digits.starts_with(pref.as_str()))
        .max_by_key(|(pref, _)| pref.len())
        .map(|(_, cc)| cc.clone())
}

fn printables(text: &str) -> String {
    text.chars().filter(|c| py_isprintable(*c)).collect()
}

// ---- IPv4 --------------------------------------------------------------------------------

/// Parse like glibc `inet_aton`: 1-4 parts, each decimal, octal (leading 0) or hex (0x).
pub(crate) fn inet_aton(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    // inet_aton stops at the first whitespace.
    let text = text
        .split(|c: char| c.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for part in &parts {
        if part.is_empty() {
            return None;
        }
        let low = part.to_ascii_lowercase();
        let (radix, digits) = if let Some(h) = low.strip_prefix("0x") {
            (16, h)
        } else if low.len() > 1 && low.starts_with('0') {
            (8, &low[1..])
        } else {
            (10, low.as_str())
        };
        if !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        if v > u64::from(u32::MAX) {
            return None;
        }
        vals.push(v as u32);
    }
    let n = vals.len();
    let mut out: u64 = 0;
    for (i, v) in vals.iter().enumerate() {
        if i < n - 1 {
            if *v > 255 {
                return None;
            }
            out |= u64::from(*v) << (24 - 8 * i);
        } else {
            let bits = 32 - 8 * (n - 1);
            if bits < 32 && u64::from(*v) >= (1u64 << bits) {
                return None;
            }
            out |= u64::from(*v);
        }
    }
    Some(out as u32)
}

pub(crate) fn ipv4_repr(v: u32) -> String {
    let b = v.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn in_net4(ip: u32, net: u32, bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    ip & mask == net & mask
}

fn ipv4_flags(ip: u32) -> (bool, bool, bool, bool, bool) {
    let n = |a: u8, b: u8, c: u8, d: u8| u32::from_be_bytes([a, b, c, d]);
    let private = [
        (n(0, 0, 0, 0), 8),
        (n(10, 0, 0, 0), 8),
        (n(127, 0, 0, 0), 8),
        (n(169, 254, 0, 0), 16),
        (n(172, 16, 0, 0), 12),
        (n(192, 0, 0, 0), 29),
        (n(192, 0, 0, 170), 31),
        (n(192, 0, 2, 0), 24),
        (n(192, 168, 0, 0), 16),
        (n(198, 18, 0, 0), 15),
        (n(198, 51, 100, 0), 24),
        (n(203, 0, 113, 0), 24),
        (n(240, 0, 0, 0), 4),
        (n(255, 255, 255, 255), 32),
    ]
    .iter()
    .any(|(net, bits)| in_net4(ip, *net, *bits));
    (
        in_net4(ip, n(224, 0, 0, 0), 4),
        in_net4(ip, n(127, 0, 0, 0), 8),
        in_net4(ip, n(169, 254, 0, 0), 16),
        private,
        in_net4(ip, n(240, 0, 0, 0), 4),
    )
}

fn ipv4_type(ip: u32) -> &'static str {
    let (multicast, loopback, linklocal, private, reserved) = ipv4_flags(ip);
    if multicast {
        "multicast"
    } else if loopback {
        "loopback"
    } else if linklocal {
        "linklocal"
    } else if private {
        "private"
    } else if reserved {
        "reserved"
    } else if in_net4(ip, u32::from_be_bytes([100, 64, 0, 0]), 10) {
        "shared"
    } else {
        "unicast"
    }
}

fn ipv4_info(ip: u32) -> NormInfo {
    let mut info = NormInfo::default();
    info.subs.push(("type".into(), Value::from(ipv4_type(ip))));
    info
}

pub(crate) fn ipv4_from_str(name: &str, text: &str) -> Result<u32> {
    let text = printables(&text.replace("[.]", ".").replace("(.)", "."));
    inet_aton(&text).ok_or_else(|| bad(name, "illegal IP address string passed to inet_aton"))
}

pub(crate) fn norm_ipv4(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let ip = match valu {
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            let v = as_pyint(valu).unwrap_or_default();
            if !(0..=i128::from(u32::MAX)).contains(&v) {
                return Err(bad(name, "Value outside of IPv4 range"));
            }
            v as u32
        }
        Value::String(_) => ipv4_from_str(name, as_str(valu).unwrap_or_default())?,
        _ => return Err(no_norm(name, valu)),
    };
    Ok((Value::from(ip), ipv4_info(ip)))
}

/// `(min, max)` inclusive of a CIDR string `a.b.c.d/n` for ipv4 lifts and filters.
pub(crate) fn ipv4_cidr_range(name: &str, text: &str) -> Result<(u32, u32)> {
    let (addr, mask) = text.split_once('/').unwrap_or((text, ""));
    let ip = ipv4_from_str(name, addr)?;
    let mask: i64 = py_strip(mask)
        .parse()
        .map_err(|_| bad(name, format!("Invalid CIDR Mask \"{text}\"")))?;
    if !(0..=32).contains(&mask) {
        return Err(bad(name, format!("Invalid CIDR Mask \"{text}\"")));
    }
    let size = 1u64 << (32 - mask);
    let netmask = (0xffff_ffffu64 - (size - 1)) as u32;
    let minv = ip & netmask;
    Ok((minv, (u64::from(minv) + size - 1) as u32))
}

// ---- IPv6 --------------------------------------------------------------------------------

fn parse_ipv4_strict(text: &str) -> std::result::Result<u32, String> {
    if text.is_empty() {
        return Err("Address cannot be empty".into());
    }
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() != 4 {
        return Err(format!("Expected 4 octets in {}", py_repr_str(text)));
    }
    let mut out = 0u32;
    for oct in octets {
        let err = |e: String| format!("{e} in {}", py_repr_str(text));
        if oct.is_empty() {
            return Err(err("Empty octet not permitted".into()));
        }
        if !oct.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "Only decimal digits permitted in {}",
                py_repr_str(oct)
            )));
        }
        if oct.len() > 3 {
            return Err(err(format!(
                "At most 3 characters permitted in {}",
                py_repr_str(oct)
            )));
        }
        if oct.len() > 1 && oct.starts_with('0') {
            return Err(err(format!(
                "Leading zeros are not permitted in {}",
                py_repr_str(oct)
            )));
        }
        let v: u32 = oct.parse().unwrap_or(0);
        if v > 255 {
            return Err(err(format!("Octet {v} (> 255) not permitted")));
        }
        out = (out << 8) | v;
    }
    Ok(out)
}

/// Parse an IPv6 address as Python's `ipaddress.IPv6Address` (scope ids kept as text).
pub(crate) fn parse_ipv6(text: &str) -> std::result::Result<(u128, Option<String>), String> {
    if text.contains('/') {
        return Err(format!("Unexpected '/' in {}", py_repr_str(text)));
    }
    let (addr, scope) = match text.split_once('%') {
        Some((a, s)) => {
            if s.is_empty() || s.contains('%') {
                return Err(format!("Invalid IPv6 address: \"{}\"", py_repr_str(text)));
            }
            (a, Some(s.to_string()))
        }
        None => (text, None),
    };
    if addr.is_empty() {
        return Err("Address cannot be empty".into());
    }
    let rep = py_repr_str(addr);
    let mut parts: Vec<String> = addr.split(':').map(String::from).collect();
    if parts.len() < 3 {
        return Err(format!("At least 3 parts expected in {rep}"));
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let last = parts.pop().unwrap_or_default();
        let v4 = parse_ipv4_strict(&last).map_err(|e| format!("{e} in {rep}"))?;
        parts.push(format!("{:x}", (v4 >> 16) & 0xffff));
        parts.push(format!("{:x}", v4 & 0xffff));
    }
    if parts.len() > 9 {
        return Err(format!("At most 8 colons permitted in {rep}"));
    }
    let mut skip = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return Err(format!("At most one '::' permitted in {rep}"));
            }
            skip = Some(i);
        }
    }
    let (hi, lo) = if let Some(skip) = skip {
        let mut hi = skip;
        let mut lo = parts.len() - skip - 1;
        if parts[0].is_empty() {
            hi -= 1;
            if hi > 0 {
                return Err(format!(
                    "Leading ':' only permitted as part of '::' in {rep}"
                ));
            }
        }
        if parts.last().is_some_and(String::is_empty) {
            lo -= 1;
            if lo > 0 {
                return Err(format!(
                    "Trailing ':' only permitted as part of '::' in {rep}"
                ));
            }
        }
        if 8 < hi + lo + 1 {
            return Err(format!("Expected at most 7 other parts with '::' in {rep}"));
        }
        (hi, lo)
    } else {
        if parts.len() != 8 {
            return Err(format!("Exactly 8 parts expected without '::' in {rep}"));
        }
        if parts[0].is_empty() {
            return Err(format!(
                "Leading ':' only permitted as part of '::' in {rep}"
            ));
        }
        if parts[7].is_empty() {
            return Err(format!(
                "Trailing ':' only permitted as part of '::' in {rep}"
            ));
        }
        (8, 0)
    };
    let hextet = |p: &str| -> std::result::Result<u128, String> {
        if !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "Only hex digits permitted in {} in {rep}",
                py_repr_str(p)
            ));
        }
        if p.len() > 4 {
            return Err(format!(
                "At most 4 characters permitted in {} in {rep}",
                py_repr_str(p)
            ));
        }
        Ok(u128::from_str_radix(p, 16).unwrap_or(0))
    };
    let mut ip: u128 = 0;
    for p in &parts[..hi] {
        ip = (ip << 16) | hextet(p)?;
    }
    ip = ip.checked_shl(16 * (8 - hi - lo) as u32).unwrap_or(0);
    for p in &parts[parts.len() - lo..] {
        ip = (ip << 16) | hextet(p)?;
    }
    Ok((ip, scope))
}

/// The compressed text of an IPv6 address (Python `IPv6Address.compressed`).
pub(crate) fn ipv6_compressed(ip: u128) -> String {
    let hextets: Vec<u16> = (0..8).map(|i| (ip >> (112 - 16 * i)) as u16).collect();
    let (mut best_start, mut best_len) = (None, 0usize);
    let mut i = 0;
    while i < 8 {
        if hextets[i] == 0 {
            let start = i;
            while i < 8 && hextets[i] == 0 {
                i += 1;
            }
            let len = i - start;
            if len > best_len && len > 1 {
                best_start = Some(start);
                best_len = len;
            }
        } else {
            i += 1;
        }
    }
    let fmt = |s: &[u16]| {
        s.iter()
            .map(|h| format!("{h:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    match best_start {
        Some(start) => format!(
            "{}::{}",
            fmt(&hextets[..start]),
            fmt(&hextets[start + best_len..])
        ),
        None => fmt(&hextets),
    }
}

fn in_net6(ip: u128, net: u128, bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    ip & mask == net & mask
}

fn v6(text: &str) -> u128 {
    parse_ipv6(text).map(|x| x.0).unwrap_or(0)
}

fn ipv6_type(ip: u128) -> &'static str {
    let mapped = ipv6_mapped(ip);
    if in_net6(ip, v6("ff00::"), 8) {
        return "multicast";
    }
    if ip == 1 {
        return "loopback";
    }
    if in_net6(ip, v6("fe80::"), 10) {
        return "linklocal";
    }
    let private = match mapped {
        Some(v4) => ipv4_flags(v4).3,
        None => [
            ("::1", 128),
            ("::", 128),
            ("::ffff:0:0", 96),
            ("100::", 64),
            ("2001::", 23),
            ("2001:2::", 48),
            ("2001:db8::", 32),
            ("2001:10::", 28),
            ("fc00::", 7),
            ("fe80::", 10),
        ]
        .iter()
        .any(|(n, b)| in_net6(ip, v6(n), *b)),
    };
    if private {
        return "private";
    }
    let reserved = [
        ("::", 8),
        ("100::", 8),
        ("200::", 7),
        ("400::", 6),
        ("800::", 5),
        ("1000::", 4),
        ("4000::", 3),
        ("6000::", 3),
        ("8000::", 3),
        ("a000::", 3),
        ("c000::", 3),
        ("e000::", 4),
        ("f000::", 5),
        ("f800::", 6),
        ("fe00::", 9),
    ]
    .iter()
    .any(|(n, b)| in_net6(ip, v6(n), *b));
    if reserved {
        return "reserved";
    }
    "unicast"
}

fn ipv6_scope(ip: u128) -> &'static str {
    if ip == 1 || in_net6(ip, v6("fe80::"), 10) {
        return "link-local";
    }
    if in_net6(ip, v6("ff00::"), 8) {
        let pref = (ip >> 112) as u16;
        return match pref {
            0xff00 => "reserved",
            0xff01 => "interface-local",
            0xff02 => "link-local",
            0xff03 => "realm-local",
            0xff04 => "admin-local",
            0xff05 => "site-local",
            0xff08 => "organization-local",
            0xff0e => "global",
            0xff0f => "reserved",
            _ => "unassigned",
        };
    }
    "global"
}

fn ipv6_mapped(ip: u128) -> Option<u32> {
    ((ip >> 32) == 0xffff).then_some(ip as u32)
}

/// Normalize an IPv6 address given as text or int.
pub(crate) fn norm_ipv6_raw(name: &str, valu: &Value) -> Result<Normed> {
    let (ip, scope) = match valu {
        Value::Ext(0, byts) => {
            if byts.len() > 16 && byts[..byts.len() - 16].iter().any(|b| *b != 0) {
                return Err(bad(
                    name,
                    "value (>= 2**128) is not permitted as an IPv6 address",
                ));
            }
            let mut v: u128 = 0;
            for b in byts {
                v = (v << 8) | u128::from(*b);
            }
            (v, None)
        }
        Value::Integer(_) | Value::Ext(1, _) => {
            let v = as_pyint(valu).unwrap_or_default();
            if v < 0 {
                return Err(bad(
                    name,
                    format!("{v} (< 0) is not permitted as an IPv6 address"),
                ));
            }
            (v as u128, None)
        }
        Value::String(_) => {
            let mut text = printables(as_str(valu).unwrap_or_default());
            if !text.contains(':') {
                text = format!("::ffff:{text}");
            }
            parse_ipv6(&text).map_err(|m| bad(name, m))?
        }
        _ => return Err(no_norm(name, valu)),
    };
    let mut info = NormInfo::default();
    info.subs.push(("type".into(), Value::from(ipv6_type(ip))));
    info.subs
        .push(("scope".into(), Value::from(ipv6_scope(ip))));
    if let Some(v4) = ipv6_mapped(ip) {
        info.subs.push(("ipv4".into(), Value::from(v4)));
        return Ok((Value::from(format!("::ffff:{}", ipv4_repr(v4))), info));
    }
    let mut text = ipv6_compressed(ip);
    if let Some(scope) = scope {
        text = format!("{text}%{scope}");
    }
    Ok((Value::from(text), info))
}

pub(crate) fn norm_ipv6(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    norm_ipv6_raw(ty.name(), valu)
}

/// The 128 bit int of a normalized IPv6 text (for ordering comparisons).
pub(crate) fn ipv6_int(text: &str) -> Option<u128> {
    parse_ipv6(text).ok().map(|x| x.0)
}

/// `(min, max)` inclusive of an IPv6 CIDR (non strict) for lifts and filters.
pub(crate) fn ipv6_cidr_range(name: &str, text: &str) -> Result<(u128, u128)> {
    let (addr, mask) = text.split_once('/').unwrap_or((text, ""));
    let (ip, _) = parse_ipv6(addr).map_err(|m| bad(name, m))?;
    let mask: u32 = mask.parse().ok().filter(|m| *m <= 128).ok_or_else(|| {
        bad(
            name,
            format!("{} is not a valid netmask", py_repr_str(mask)),
        )
    })?;
    let netmask = if mask == 0 {
        0
    } else {
        u128::MAX << (128 - mask)
    };
    Ok((ip & netmask, (ip & netmask) | !netmask))
}

// ---- CIDRs and ranges ----------------------------------------------------------------

fn cidr4_parts(ty: &Type<'_>, text: &str) -> Result<(String, u32, u32, i64)> {
    let name = ty.name();
    let missing = || bad(name, "Invalid/Missing CIDR Mask");
    let (ip, mask) = text.split_once('/').ok_or_else(missing)?;
    let mask = super::numeric::py_float(mask)
        .filter(|_| {
            py_strip(mask)
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '_')
        })
        .map(|f| f as i64)
        .ok_or_else(missing)?;
    if !(0..=32).contains(&mask) {
        return Err(bad(name, "Invalid CIDR Mask"));
    }
    let ip = ipv4_from_str(name, ip)?;
    let size = 1u64 << (32 - mask);
    let netmask = (0xffff_ffffu64 - (size - 1)) as u32;
    let network = ip & netmask;
    let broadcast = (u64::from(network) + size - 1) as u32;
    Ok((
        format!("{}/{mask}", ipv4_repr(network)),
        network,
        broadcast,
        mask,
    ))
}

pub(crate) fn norm_cidr4(ty: &Type<'_>, text: &str) -> Result<Normed> {
    let (norm, network, broadcast, mask) = cidr4_parts(ty, text)?;
    let mut info = NormInfo::default();
    info.subs.push(("broadcast".into(), Value::from(broadcast)));
    info.subs.push(("mask".into(), Value::from(mask)));
    info.subs.push(("network".into(), Value::from(network)));
    Ok((Value::from(norm), info))
}

fn cidr6_parts(name: &str, text: &str) -> Result<(String, u128, u128, u32)> {
    if !text.contains('/') {
        return Err(bad(name, "Invalid/Missing CIDR Mask"));
    }
    let (addr, mask) = text.split_once('/').unwrap_or((text, ""));
    let (ip, _) = parse_ipv6(addr)
        .map_err(|m| bad(name, m.replacen(" expected from ", " expected in ", 1)))?;
    let mask: u32 = if !mask.is_empty() && mask.bytes().all(|b| b.is_ascii_digit()) {
        mask.parse().ok().filter(|m| *m <= 128)
    } else {
        None
    }
    .ok_or_else(|| {
        bad(
            name,
            format!("{} is not a valid netmask", py_repr_str(mask)),
        )
    })?;
    let netmask = if mask == 0 {
        0
    } else {
        u128::MAX << (128 - mask)
    };
    if ip & !netmask != 0 {
        return Err(bad(name, format!("{text} has host bits set")));
    }
    let network = ip & netmask;
    let broadcast = network | !netmask;
    Ok((
        format!("{}/{mask}", ipv6_compressed(network)),
        network,
        broadcast,
        mask,
    ))
}

pub(crate) fn norm_cidr6(name: &str, text: &str) -> Result<Normed> {
    let (norm, network, broadcast, mask) = cidr6_parts(name, text)?;
    let mut info = NormInfo::default();
    info.subs
        .push(("broadcast".into(), Value::from(ipv6_compressed(broadcast))));
    info.subs.push(("mask".into(), Value::from(mask)));
    info.subs
        .push(("network".into(), Value::from(ipv6_compressed(network))));
    Ok((Value::from(norm), info))
}

/// Range types: `range`, `inet:ipv4range`, `inet:ipv6range`.
pub(crate) fn norm_range(ty: &Type<'_>, valu: &Value) -> Result<Normed> {
    let name = ty.name();
    let (sub, kind) = match ty.kind() {
        Kind::Range { sub } => (*sub, 0),
        Kind::Ipv4Range { sub } => (*sub, 4),
        Kind::Ipv6Range { sub } => (*sub, 6),
        _ => return Err(no_norm(name, valu)),
    };
    let subtype = ty.other(sub);
    let items: Vec<Value> = match valu {
        Value::Array(items) => items.clone(),
        Value::String(_) => {
            let text = as_str(valu).unwrap_or_default();
            if kind == 4 && !text.contains('-') {
                let cidr = ty.named("inet:cidr4")?;
                let (_, network, broadcast, _) = cidr4_parts(&cidr, text)?;
                vec![Value::from(network), Value::from(broadcast)]
            } else if kind == 6 && !text.contains('-') {
                let (_, network, broadcast, _) = cidr6_parts("inet:cidr6", text)?;
                vec![
                    Value::from(ipv6_compressed(network)),
                    Value::from(ipv6_compressed(broadcast)),
                ]
            } else {
                text.splitn(2, '-').map(Value::from).collect()
            }
        }
        _ => return Err(no_norm(name, valu)),
    };
    if items.len() != 2 {
        return Err(bad(
            name,
            format!(
                "Must be a 2-tuple of type {}: {}",
                subtype.name(),
                super::value::trim_text(&super::types::py_repr_seq(
                    &items,
                    matches!(valu, Value::String(_))
                ))
            ),
        ));
    }
    let (minv, _) = subtype.norm(&items[0])?;
    let (maxv, _) = subtype.norm(&items[1])?;
    let greater = if kind == 6 {
        ipv6_int(as_str(&minv).unwrap_or_default()) > ipv6_int(as_str(&maxv).unwrap_or_default())
    } else {
        super::types::py_cmp(&minv, &maxv) == std::cmp::Ordering::Greater
    };
    if greater {
        return Err(bad(name, "minval cannot be greater than maxval"));
    }
    let mut info = NormInfo::default();
    info.subs.push(("min".into(), minv.clone()));
    info.subs.push(("max".into(), maxv.clone()));
    Ok((Value::Array(vec![minv, maxv]), info))
}

// ---- FQDN ----------------------------------------------------------------------------------

static FQDN_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[\w._-]+$").ok());

/// Whether a name matches the reference's `fqdnre` (`^[\w._-]+$`); ASCII is checked
/// byte by byte (`\w` there is `[A-Za-z0-9_]`).
fn fqdn_chars_ok(valu: &str) -> bool {
    if valu.is_ascii() {
        return !valu.is_empty()
            && valu
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    }
    FQDN_RE.as_ref().is_some_and(|re| re.is_match(valu))
}

fn is_dotted_quad(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && !(p.len() > 1 && p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|v| v <= 255)
        })
}

/// IDNA encoding as the reference: UTS 46 (non-transitional), or for ASCII names the
/// lenient label-length check of Python's `idna` codec.
fn idna_encode(text: &str) -> Option<String> {
    if text.is_ascii() {
        let labels: Vec<&str> = text.split('.').collect();
        let n = labels.len();
        for (i, label) in labels.iter().enumerate() {
            if i < n - 1 && (label.is_empty() || label.len() >= 64) {
                return None;
            }
            if i == n - 1 && label.len() >= 64 {
                return None;
            }
        }
        return Some(text.to_ascii_lowercase());
    }
    if let Some(out) = uts46_to_ascii(text) {
        return Some(out);
    }
    // The reference falls back to the IDNA 2003 codec (nameprep), which maps some code points
    // to nothing (RFC 3454 table B.1) and case folds before encoding.
    let mapped: String = text
        .chars()
        .filter(|c| {
            !matches!(*c as u32, 0xad | 0x34f | 0x1806 | 0x180b..=0x180d | 0x200b..=0x200d | 0x2060 | 0xfe00..=0xfe0f | 0xfeff)
        })
        .collect::<String>()
        .to_lowercase()
        .replace('\u{df}', "ss")
        .replace('\u{3c2}', "\u{3c3}")
        .nfkc()
        .collect();
    if mapped.is_ascii() {
        return idna_encode(&mapped);
    }
    uts46_to_ascii(&mapped).or_else(|| idna2003_to_ascii(&mapped))
}

/// The IDNA 2003 `ToASCII` of a nameprep-mapped name, label by label: an ASCII label as is,
/// others checked against the prohibited code points and the bidi rule of RFC 3454, then
/// punycode with the `xn--` prefix; every label 1-63 characters.
fn idna2003_to_ascii(text: &str) -> Option<String> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut out = Vec::new();
    for label in text.split('.') {
        let ascii = if label.is_ascii() {
            label.to_owned()
        } else {
            if label.chars().any(nameprep_prohibited) {
                return None;
            }
            let randal: Vec<bool> = label.chars().map(bidi_randal).collect();
            if randal.iter().any(|r| *r)
                && (label.chars().any(|c| c.is_alphabetic() && !bidi_randal(c))
                    || !randal.first().copied().unwrap_or(false)
                    || !randal.last().copied().unwrap_or(false))
            {
                return None;
            }
            if label.starts_with("xn--") {
                return None;
            }
            format!("xn--{}", idna::punycode::encode_str(label)?)
        };
        if ascii.is_empty() || ascii.len() >= 64 {
            return None;
        }
        out.push(ascii.to_ascii_lowercase());
    }
    Some(out.join("."))
}

/// RFC 3454 tables C.1.2 to C.9: non-ASCII spaces and controls, private use, non-characters,
/// surrogates, ideographic description and bidi control characters, tags.
fn nameprep_prohibited(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0xa0 | 0x1680 | 0x2000..=0x200b | 0x202f | 0x205f | 0x3000
        | 0x80..=0x9f | 0x6dd | 0x70f | 0x180e | 0x200c..=0x200f | 0x2028..=0x202e
        | 0x2060..=0x2063 | 0x206a..=0x206f | 0xfeff | 0xfff9..=0xfffd | 0x1d173..=0x1d17a
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd
        | 0xfdd0..=0xfdef | 0x2ff0..=0x2ffb | 0x340 | 0x341 | 0xe0001 | 0xe0020..=0xe007f)
        || u & 0xfffe == 0xfffe
}

/// RFC 3454 table D.1: characters of bidi class R or AL.
fn bidi_randal(c: char) -> bool {
    matches!(c as u32,
        0x5be | 0x5c0 | 0x5c3 | 0x5d0..=0x5ea | 0x5f0..=0x5f4 | 0x61b | 0x61f | 0x621..=0x63a
        | 0x640..=0x64a | 0x66d..=0x66f | 0x671..=0x6d5 | 0x6dd | 0x6e5 | 0x6e6 | 0x6fa..=0x6fe
        | 0x700..=0x70d | 0x710 | 0x712..=0x72c | 0x780..=0x7a5 | 0x7b1 | 0x200f | 0xfb1d
        | 0xfb1f..=0xfb28 | 0xfb2a..=0xfb36 | 0xfb38..=0xfb3c | 0xfb3e | 0xfb40 | 0xfb41
        | 0xfb43 | 0xfb44 | 0xfb46..=0xfbb1 | 0xfbd3..=0xfd3d | 0xfd50..=0xfd8f
        | 0xfd92..=0xfdc7 | 0xfdf0..=0xfdfc | 0xfe70..=0xfe74 | 0xfe76..=0xfefc)
}

fn uts46_to_ascii(text: &str) -> Option<String> {
    let uts46 = idna::uts46::Uts46::new();
    uts46
        .to_ascii(
            text.as_bytes(),
            idna::uts46::AsciiDenyList::EMPTY,
            idna::uts46::Hyphens::Allow,
            idna::uts46::DnsLength::Ignore,
        )
        .ok()
        .map(|s| s.into_owned())
        .filter(|s| s.split('.').all(|l| !l.is_empty() && l.len() < 64))
}

/// The fqdn text before IDNA: NFKC, unicode dots and defangs replaced, stripped.
fn fqdn_prep(text: &str) -> String {
    if text.is_ascii() {
        // NFKC and the ideographic dots change nothing in ASCII.
        let valu: std::borrow::Cow<'_, str> = if text.contains("[.]") || text.contains("(.)") {
            text.replace("[.]", ".").replace("(.)", ".").into()
        } else {
            text.into()
        };
        return py_strip(&valu).trim_matches('.').to_string();
    }
    let mut valu: String = text.nfkc().collect();
    valu = valu.replace(['\u{3002}', '\u{ff0e}', '\u{ff61}'], ".");
    valu = valu.replace("[.]", ".").replace("(.)", ".");
    py_strip(&valu).trim_matches('.').to_string()
}

/// The scrape rule's FQDN check: the text, after NFKC and dot mapping, encodes with IDNA.
pub(crate) fn fqdn_idna_ok(text: &str) -> bool {
    idna_encode(&fqdn_prep(text)).is_some()
}

/// The value the reference's fqdn error carries for an input (for nested error messages).
fn fqdn_err_valu(text: &str) -> String {
    let prep = fqdn_prep(text);
    idna_encode(&prep).unwrap_or(prep)
}

pub(crate) fn norm_fqdn(ty: &Type<'_>, text: &str) -> Result<Normed> {
    let name = ty.name();
    let valu = fqdn_prep(text);
    let valu = idna_encode(&valu)
        .ok_or_else(|| bad(name, "Failed to encode/decode the value with idna/utf8."))?;
    if !fqdn_chars_ok(&valu) {
        return Err(bad(name, "FQDN failed to match fqdnre [^[\\w._-]+$]"));
    }
    if is_dotted_quad(&valu) {
        return Err(bad(name, "FQDN Got an IP address instead"));
    }
    let mut info = NormInfo::default();
    match valu.split_once('.') {
        Some((host, domain)) => {
            info.subs.push(("host".into(), Value::from(host)));
            info.subs.push(("domain".into(), Value::from(domain)));
        }
        None => {
            info.subs.push(("host".into(), Value::from(valu.as_str())));
            info.subs.push(("issuffix".into(), Value::from(1)));
        }
    }
    Ok((Value::from(valu), info))
}

pub(crate) fn fqdn_repr(valu: &str) -> String {
    if !valu.split('.').any(|l| l.starts_with("xn--")) {
        return valu.to_string();
    }
    let (text, res) = idna::domain_to_unicode(valu);
    if res.is_ok() { text } else { valu.to_string() }
}

// ---- email, addr, url ------------------------------------------------------------------

pub(crate) fn norm_email(ty: &Type<'_>, text: &str) -> Result<Normed> {
    let name = ty.name();
    let Some((user, fqdn)) = text.split_once('@') else {
        return Err(bad(
            name,
            format!("Email address expected in <user>@<fqdn> format, got \"{text}\""),
        ));
    };
    let plus = user
        .split_once('+')
        .map(|(base, plus)| (base, py_lower(py_strip(plus))));
    let rewrap = |tname: &str, item: &str, e: ModelError| {
        bad(
            name,
            format!(
                "BadTypeValu: mesg={} name={} valu={}",
                py_repr_str(&e.mesg()),
                py_repr_str(tname),
                py_repr_str(item)
            ),
        )
    };
    let (fqdnnorm, _) = ty
        .named("inet:fqdn")?
        .norm(&Value::from(fqdn))
        .map_err(|e| rewrap("inet:fqdn", &fqdn_err_valu(fqdn), e))?;
    let (usernorm, _) = ty
        .named("inet:user")?
        .norm(&Value::from(user))
        .map_err(|e| rewrap("inet:user", user, e))?;
    let fqdnnorm = as_str(&fqdnnorm).unwrap_or_default().to_string();
    let usernorm = as_str(&usernorm).unwrap_or_default().to_string();
    let mut info = NormInfo::default();
    info.subs
        .push(("fqdn".into(), Value::from(fqdnnorm.as_str())));
    info.subs
        .push(("user".into(), Value::from(usernorm.as_str())));
    if let Some((base, plus)) = plus {
        info.subs.push(("plus".into(), Value::from(plus)));
        info.subs
            .push(("base".into(), Value::from(format!("{base}@{fqdnnorm}"))));
    }
    Ok((Value::from(format!("{usernorm}@{fqdnnorm}")), info))
}

static SRV6_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)^\[([a-f0-9\.:]+)\](?::(\d+))?$").ok());

fn port_norm(ty: &Type<'_>, text: &str) -> Result<i64> {
    let (port, _) = ty.named("inet:port")?.norm(&Value::from(text))?;
    Ok(as_pyint(&port).unwrap_or_default() as i64)
}

const ADDR_PROTOS: &[&str] = &["tcp", "udp", "icmp", "host", "gre"];

pub(crate) fn norm_addr(ty: &Type<'_>, orig: &str) -> Result<Normed> {
    let name = ty.name();
    let Kind::InetAddr { defport, defproto } = ty.kind() else {
        return Err(no_norm(name, &Value::from(orig)));
    };
    let mut info = NormInfo::default();
    let low = py_lower(orig);
    let (proto, rest) = match low.split_once("://") {
        Some((p, r)) => (p.to_string(), r.to_string()),
        None => (defproto.clone(), low.clone()),
    };
    if !ADDR_PROTOS.contains(&proto.as_str()) {
        return Err(bad(
            name,
            format!(
                "inet:addr protocol must be one of: {}",
                ADDR_PROTOS.join(",")
            ),
        ));
    }
    info.subs
        .push(("proto".into(), Value::from(proto.as_str())));
    let valu = py_strip(&rest).trim_matches('/').to_string();

    let get_port = |valu: &str| -> Result<(String, Option<i64>, String)> {
        if let Some((v, p)) = valu.split_once(':') {
            let port = port_norm(ty, p)?;
            return Ok((v.to_string(), Some(port), format!(":{port}")));
        }
        if let Some(p) = defport.filter(|p| *p != 0) {
            return Ok((valu.to_string(), Some(p), format!(":{p}")));
        }
        Ok((valu.to_string(), None, String::new()))
    };

    if proto == "host" {
        let (valu, port, pstr) = get_port(&valu)?;
        if let Some(port) = port.filter(|p| *p != 0) {
            info.subs.push(("port".into(), Value::from(port)));
        }
        let host = super::value::guid_of(&Value::from(valu));
        info.subs.push(("host".into(), Value::from(host.as_str())));
        return Ok((Value::from(format!("host://{host}{pstr}")), info));
    }

    let v6info = |info: &mut NormInfo, v6: &Normed| {
        if let Some(v4) = v6.1.sub("ipv4") {
            info.subs.push(("ipv4".into(), v4.clone()));
        }
        info.subs.push(("ipv6".into(), v6.0.clone()));
    };

    if valu.starts_with('[') {
        let caps = SRV6_RE.as_ref().and_then(|re| re.captures(&valu));
        let Some(caps) = caps else {
            return Err(bad(name, format!("Invalid IPv6 w/port ({orig})")));
        };
        let addr = caps.get(1).map(|m| m.as_str()).unwrap_or_default();
        let v6 = norm_ipv6_raw("inet:ipv6", &Value::from(addr))?;
        v6info(&mut info, &v6);
        let mut portstr = String::new();
        let mut port = None;
        if let Some(p) = caps.get(2) {
            let pn = port_norm(ty, p.as_str())?;
            info.subs.push(("port".into(), Value::from(pn)));
            portstr = format!(":{pn}");
            port = Some(pn);
        }
        if port.is_some_and(|p| p != 0) && proto == "gre" {
            return Err(bad(
                name,
                format!("Protocol {proto} does not allow specifying ports."),
            ));
        }
        return Ok((
            Value::from(format!(
                "{proto}://[{}]{portstr}",
                as_str(&v6.0).unwrap_or_default()
            )),
            info,
        ));
    }
    if valu.matches(':').count() >= 2 {
        let v6 = norm_ipv6_raw("inet:ipv6", &Value::from(valu.as_str()))?;
        v6info(&mut info, &v6);
        return Ok((
            Value::from(format!("{proto}://[{}]", as_str(&v6.0).unwrap_or_default())),
            info,
        ));
    }
    let (valu, port, pstr) = get_port(&valu)?;
    if let Some(port) = port.filter(|p| *p != 0) {
        info.subs.push(("port".into(), Value::from(port)));
    }
    if port.is_some_and(|p| p != 0) && proto == "gre" {
        return Err(bad(
            name,
            format!("Protocol {proto} does not allow specifying ports."),
        ));
    }
    let ip = ipv4_from_str("inet:ipv4", &valu)?;
    info.subs.push(("ipv4".into(), Value::from(ip)));
    Ok((
        Value::from(format!("{proto}://{}{pstr}", ipv4_repr(ip))),
        info,
    ))
}

/// `urllib.parse.unquote` (UTF-8, invalid sequences replaced).
fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let (h, l) = (bytes[i + 1], bytes[i + 2]);
            if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() {
                let hexval = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hexval(h) * 16 + hexval(l));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

static DRIVE_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\w[:|]").ok());

fn drive(text: &str) -> bool {
    DRIVE_RE.as_ref().is_some_and(|re| re.is_match(text))
}

pub(crate) fn norm_url(ty: &Type<'_>, text: &str) -> Result<Normed> {
    let name = ty.name();
    let mut orig = text.to_string();
    if text.starts_with("\\\\") {
        orig = unc_norm(name, text)?;
    }
    let mut info = NormInfo::default();
    let mut proto = String::new();
    let mut valu = String::new();
    let mut is_unc = false;
    let mut local = false;
    for splitter in ["://///", ":////"] {
        if let Some((p, v)) = orig.split_once(splitter)
            && py_lower(p) == "file"
        {
            proto = "file".into();
            valu = v.to_string();
            is_unc = true;
            break;
        }
    }
    if proto.is_empty()
        && let Some((p, v)) = orig.split_once("://")
    {
        proto = py_lower(p);
        valu = v.to_string();
    }
    if proto.is_empty()
        && let Some((p, v)) = orig.split_once(':')
        && py_lower(p) == "file"
        && !v.is_empty()
    {
        proto = "file".into();
        valu = v.to_string();
        local = true;
    }
    if proto.is_empty() || valu.is_empty() {
        return Err(bad(name, "Invalid/Missing protocol"));
    }
    info.subs
        .push(("proto".into(), Value::from(proto.as_str())));
    let mut queryrem = String::new();
    if let Some((v, q)) = valu.clone().split_once('?') {
        valu = v.to_string();
        queryrem = q.to_string();
    }
    let mut pathpart = String::new();
    let mut pathsub = String::new();
    if let Some((v, p)) = valu.clone().split_once('/') {
        valu = v.to_string();
        pathpart = p.to_string();
        if local && drive(&valu) {
            pathpart = format!("{valu}/{pathpart}");
            valu = String::new();
        }
        if proto == "file" && drive(&pathpart) {
            pathsub = pathpart.clone();
            pathpart = format!("/{pathpart}");
        } else {
            pathpart = format!("/{pathpart}");
            pathsub = pathpart.clone();
        }
    }
    info.subs.push(("path".into(), Value::from(pathsub)));
    let parampart = if queryrem.is_empty() {
        String::new()
    } else {
        format!("?{queryrem}")
    };
    info.subs
        .push(("params".into(), Value::from(parampart.as_str())));

    let mut authparts: Option<String> = None;
    if let Some((auth, v)) = valu.clone().rsplit_once('@') {
        authparts = Some(auth.to_string());
        valu = v.to_string();
        let (user, pass) = match auth.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (auth, None),
        };
        info.subs.push(("user".into(), Value::from(unquote(user))));
        if let Some(pass) = pass {
            info.subs
                .push(("passwd".into(), Value::from(unquote(pass))));
        }
    }

    let mut host: Option<String> = None;
    let mut port: Option<String> = None;
    if valu.starts_with('[') || valu.matches(':').count() >= 2 {
        let mut addr = valu.clone();
        if let Some(caps) = SRV6_RE.as_ref().and_then(|re| re.captures(&valu)) {
            addr = caps
                .get(1)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default();
            port = caps.get(2).map(|m| m.as_str().to_string());
        }
        if let Ok((v6, v6info)) = norm_ipv6_raw("inet:ipv6", &Value::from(addr)) {
            info.subs.push(("ipv6".into(), v6.clone()));
            if let Some(v4) = v6info.sub("ipv4") {
                info.subs.push(("ipv4".into(), v4.clone()));
            }
            host = Some(format!("[{}]", as_str(&v6).unwrap_or_default()));
        }
    } else {
        let (part, p) = match valu.split_once(':') {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (valu.clone(), None),
        };
        port = p;
        if let Ok(ip) = ipv4_from_str("inet:ipv4", &part) {
            host = Some(ipv4_repr(ip));
            info.subs.push(("ipv4".into(), Value::from(ip)));
        }
        if host.is_none()
            && let Ok((fqdn, _)) = ty.named("inet:fqdn")?.norm(&Value::from(part.as_str()))
        {
            host = Some(as_str(&fqdn).unwrap_or_default().to_string());
            info.subs.push(("fqdn".into(), fqdn));
        }
        if host.is_none() && part == "+" {
            host = Some("+".into());
        }
    }
    if host.as_deref().is_some_and(|h| !h.is_empty()) && local {
        return Err(bad(name, "Host specified on local-only file URI"));
    }
    let mut portnorm: Option<i64> = None;
    if let Some(p) = &port {
        let pn = port_norm(ty, p)?;
        info.subs.push(("port".into(), Value::from(pn)));
        portnorm = Some(pn);
    } else if let Some(def) = LOOKUPS.services.get(&proto).filter(|p| **p != 0) {
        info.subs.push(("port".into(), Value::from(*def)));
    }
    let mut hostparts = String::new();
    if is_unc {
        hostparts.push_str("//");
    }
    if let Some(auth) = authparts.as_ref().filter(|a| !a.is_empty()) {
        hostparts = format!("{auth}@");
    }
    if let Some(h) = &host {
        hostparts.push_str(h);
        if let Some(pn) = portnorm {
            hostparts.push_str(&format!(":{pn}"));
        }
    }
    if proto != "file" && host.is_none() {
        return Err(bad(name, "Missing address/url"));
    }
    if hostparts.is_empty() && pathpart.is_empty() {
        return Err(bad(name, "Missing address/url"));
    }
    let base = format!("{proto}://{hostparts}{pathpart}");
    info.subs.push(("base".into(), Value::from(base.as_str())));
    Ok((Value::from(format!("{base}{parampart}")), info))
}

/// UNC path (`\\server\share\path`) to a `smb://` (or `https://`/`http://`) URL.
fn unc_norm(name: &str, valu: &str) -> Result<String> {
    let parts: Vec<&str> = valu.split('\\').collect();
    if parts.len() < 4 || parts[2].is_empty() || parts[3].is_empty() {
        return Err(bad(name, "Invalid UNC path: Host and share are required."));
    }
    let mut host = parts[2].to_string();
    let mut proto = "smb";
    let mut port = 0i64;
    if let Some((h, extra)) = host.clone().split_once('@') {
        host = h.to_string();
        for piece in extra.split('@') {
            if piece.eq_ignore_ascii_case("ssl") {
                proto = "https";
            } else if let Ok(p) = piece.parse::<i64>() {
                port = p;
                if proto == "smb" {
                    proto = "http";
                }
            } else {
                return Err(bad(
                    name,
                    format!("Invalid UNC path: Invalid host name {}.", parts[2]),
                ));
            }
        }
    }
    if host.ends_with(".ipv6-literal.net") {
        host = format!(
            "[{}]",
            host.trim_end_matches(".ipv6-literal.net").replace('-', ":")
        );
    }
    let mut out = format!("{proto}://{host}");
    if port != 0 {
        out.push_str(&format!(":{port}"));
    }
    out.push('/');
    out.push_str(&parts[3..].join("/"));
    Ok(out)
}

pub(crate) fn norm_cookie(text: &str) -> Result<Normed> {
    let text = py_strip(text);
    let mut info = NormInfo::default();
    let (first, rest) = match text.split_once('=') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let cname = py_strip(first.split(';').next().unwrap_or_default());
    info.subs.push(("name".into(), Value::from(cname)));
    if let Some(rest) = rest {
        let cval = py_strip(rest.split(';').next().unwrap_or_default());
        info.subs.push(("value".into(), Value::from(cval)));
    }
    Ok((Value::from(text), info))
}

pub(crate) fn norm_rfc2822(ty: &Type<'_>, text: &str) -> Result<Normed> {
    let name = ty.name();
    let valu = text.replace(['"', '\''], " ");
    let valu = super::value::onespace(&py_lower(py_strip(&valu)));
    let (pname, addr) = match (valu.rfind('<'), valu.rfind('>')) {
        (Some(lt), Some(gt)) if lt < gt => (
            py_strip(&valu[..lt]).to_string(),
            py_strip(&valu[lt + 1..gt]).to_string(),
        ),
        _ => (String::new(), valu.clone()),
    };
    if pname.is_empty() && addr.is_empty() {
        return Err(bad(name, format!("No name or email parsed from {valu}")));
    }
    let mut info = NormInfo::default();
    if !pname.is_empty() {
        info.subs.push(("name".into(), Value::from(pname.as_str())));
    }
    let mut norm = valu.clone();
    if let Ok((mail, _)) = ty.named("inet:email")?.norm(&Value::from(addr.as_str())) {
        let mail = as_str(&mail).unwrap_or_default().to_string();
        info.subs.push(("email".into(), Value::from(mail.as_str())));
        norm = if pname.is_empty() {
            mail
        } else {
            format!("{pname} <{mail}>")
        };
    }
    Ok((Value::from(norm), info))
}

pub(crate) fn norm_dnsname(ty: &Type<'_>, text: &str) -> Result<Normed> {
    let norm = py_strip(&py_lower(text)).to_string();
    let mut info = NormInfo::default();
    if !norm.is_empty() && norm.chars().all(|c| c.is_numeric()) {
        // Integer-only names are kept as-is.
    } else if let Some(rest) = norm.strip_suffix(".in-addr.arpa") {
        let rev: Vec<&str> = rest.split('.').rev().collect();
        if let Ok(ip) = ipv4_from_str("inet:ipv4", &rev.join(".")) {
            info.subs.push(("ipv4".into(), Value::from(ip)));
        }
    } else if let Some(rest) = norm.strip_suffix(".ip6.arpa") {
        let parts: String = rest.chars().rev().filter(|c| *c != '.').collect();
        if parts.chars().count() == 32
            && let Ok(v) = u128::from_str_radix(&parts, 16)
            && let Ok((v6, v6info)) = norm_ipv6_raw("inet:ipv6", &int_value(v as i128).clone())
        {
            info.subs.push(("ipv6".into(), v6));
            if let Some(v4) = v6info.sub("ipv4") {
                info.subs.push(("ipv4".into(), v4.clone()));
            }
        }
    } else {
        if let Ok(ip) = ipv4_from_str("inet:ipv4", &norm) {
            info.subs.push(("ipv4".into(), Value::from(ip)));
        } else if let Ok((v6, v6info)) = norm_ipv6_raw("inet:ipv6", &Value::from(norm.as_str())) {
            info.subs.push(("ipv6".into(), v6));
            if let Some(v4) = v6info.sub("ipv4") {
                info.subs.push(("ipv4".into(), v4.clone()));
            }
        }
        if let Ok((fqdn, _)) = ty.named("inet:fqdn")?.norm(&Value::from(norm.as_str())) {
            info.subs.push(("fqdn".into(), fqdn));
        }
    }
    Ok((Value::from(norm), info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The byte check of ASCII names agrees with the reference's `fqdnre`.
        #[test]
        fn ascii_names_match_fqdnre_byte_by_byte(name in "[ -~]{0,12}") {
            let by_re = FQDN_RE.as_ref().is_some_and(|re| re.is_match(&name));
            prop_assert_eq!(fqdn_chars_ok(&name), by_re);
        }

        /// The ASCII shortcut of `fqdn_prep` gives what NFKC and the dot mapping give.
        #[test]
        fn ascii_prep_skips_nothing(name in "[ -~\\t]{0,16}") {
            let mut slow: String = name.nfkc().collect();
            slow = slow.replace("[.]", ".").replace("(.)", ".");
            let slow = py_strip(&slow).trim_matches('.').to_string();
            prop_assert_eq!(fqdn_prep(&name), slow);
        }
    }
}
