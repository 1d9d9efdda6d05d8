//! CPE 2.3 formatted strings and CPE 2.2 URIs, with conversion between the two bindings.

use std::sync::LazyLock;

use regex::Regex;
use rmpv::Value;

use super::NormInfo;
use super::error::Result;
use super::types::{Normed, bad};
use super::value::{as_str, py_lower, py_strip};

static CPE23_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let comp =
        r#"(?::(([?]+|\*)?([a-z0-9-._]|\\[\\?*!"\#$%&'()+,/:;<=>@\[\]^`{|}~])+([?]+|\*)?|[*-]))"#;
    let pat = format!(
        r"(?i)^cpe:2\.3:[aho\*-]{comp}{{5}}:([*-]|(([a-z]{{2,3}}){{1}}(-([0-9]{{3}}|[a-z]{{2}}))?)){comp}{{4}}$"
    );
    Regex::new(&pat).ok()
});

static CPE22_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let unreserved = r"[A-Za-z0-9\-\._~]";
    let pct = "%(?:21|22|23|24|25|26|27|28|28|29|2a|2b|2c|2f|3a|3b|3c|3d|3e|3f|40|5b|5c|5d|5e|60|7b|7c|7d|7e)";
    let spec = "(?:%01+|%02)";
    let wo = format!("(?:{unreserved}|{pct})*");
    let w = format!("{spec}?(?:{unreserved}|{pct})+{spec}?");
    let string = format!("(?:{w}|{wo})");
    let region = "(?:[A-Za-z]{2}|[0-9]{3})";
    let lang = format!(r"(?:(?:[A-Za-z]{{2,3}}(?:\-{region})?))?");
    let part = "[hoa]?";
    let s = &string;
    let list = format!(
        "(?:{part}:{s}:{s}:{s}:{s}:{s}:{lang}|{part}:{s}:{s}:{s}:{s}:{s}|{part}:{s}:{s}:{s}:{s}|{part}:{s}:{s}:{s}|{part}:{s}:{s}|{part}:{s}|{part})"
    );
    Regex::new(&format!("(?i)^cpe:/{list}$")).ok()
});

fn valid23(text: &str) -> bool {
    CPE23_RE.as_ref().is_some_and(|re| re.is_match(text))
}

fn valid22(text: &str) -> bool {
    CPE22_RE.as_ref().is_some_and(|re| re.is_match(text))
}

/// Split on unescaped `:`, stripping each part.
fn cpesplit(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            part.push(c);
            if let Some(n) = chars.next() {
                part.push(n);
            }
            continue;
        }
        if c == ':' {
            parts.push(std::mem::take(&mut part));
            continue;
        }
        part.push(c);
    }
    parts.push(part);
    parts
        .into_iter()
        .map(|p| py_strip(&p).to_string())
        .collect()
}

const ESCAPES: &str = "!\"#$%&'()+,/:;<=>@[]^`{|}~\\?*";

fn is_esc(c: char) -> bool {
    ESCAPES.contains(c)
}

fn fsb_escape(name: &str, text: &str) -> Result<String> {
    if text == "*" || text == "-" {
        return Ok(text.to_string());
    }
    let invalid: Vec<String> = text
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "-._".contains(*c) || is_esc(*c)))
        .map(String::from)
        .collect();
    if !invalid.is_empty() {
        return Err(bad(
            name,
            format!(
                "Invalid CPE 2.3 character(s) ({}) detected.",
                invalid.join(", ")
            ),
        ));
    }
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut out = String::new();
    for (idx, c) in chars.iter().enumerate() {
        let c = *c;
        if !is_esc(c) {
            out.push(c);
            continue;
        }
        let esc = format!("\\{c}");
        if idx == 0 && idx == n - 1 {
            out.push_str(&esc);
            continue;
        }
        if c == '\\' {
            if idx == 0 {
                if is_esc(chars[idx + 1]) {
                    out.push(c);
                } else {
                    out.push_str(&esc);
                }
                continue;
            }
            if idx == n - 1 {
                if chars[idx - 1] == '\\' {
                    out.push(c);
                } else {
                    out.push_str(&esc);
                }
                continue;
            }
            if chars[idx - 1] == '\\' || is_esc(chars[idx + 1]) {
                out.push(c);
                continue;
            }
            out.push_str(&esc);
            continue;
        }
        if idx == 0 {
            out.push_str(&esc);
            continue;
        }
        if chars[idx - 1] != '\\' {
            out.push_str(&esc);
            continue;
        }
        out.push(c);
    }
    Ok(out)
}

fn fsb_unescape(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut out = String::new();
    for (idx, c) in chars.iter().enumerate() {
        if idx == n - 1 {
            out.push(*c);
            continue;
        }
        if *c == '\\' && is_esc(chars[idx + 1]) {
            continue;
        }
        out.push(*c);
    }
    out
}

const URI_PCT: &[(&str, &str)] = &[
    ("%25", "%"),
    ("%21", "!"),
    ("%22", "\""),
    ("%23", "#"),
    ("%24", "$"),
    ("%26", "&"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2a", "*"),
    ("%2b", "+"),
    ("%2c", ","),
    ("%2f", "/"),
    ("%3a", ":"),
    ("%3b", ";"),
    ("%3c", "<"),
    ("%3d", "="),
    ("%3e", ">"),
    ("%3f", "?"),
    ("%40", "@"),
    ("%5b", "["),
    ("%5c", "\\"),
    ("%5d", "]"),
    ("%5e", "^"),
    ("%60", "`"),
    ("%7b", "{"),
    ("%7c", "|"),
    ("%7d", "}"),
    ("%7e", "~"),
];

fn uri_quote(text: &str) -> String {
    let mut t = text.to_string();
    for (pct, c) in URI_PCT {
        t = t.replace(c, pct);
    }
    t
}

fn uri_unquote(text: &str) -> String {
    let mut t = text.to_string();
    for (pct, c) in URI_PCT.iter().rev() {
        t = t.replace(pct, c);
    }
    t
}

fn unspecified(t: &str) -> bool {
    t.is_empty() || t == "*"
}

fn uri_pack(edition: &str, sw: &str, tsw: &str, thw: &str, other: &str) -> String {
    if unspecified(sw) && unspecified(tsw) && unspecified(thw) && unspecified(other) {
        return edition.to_string();
    }
    let pick = |t: &str| {
        if unspecified(t) {
            String::new()
        } else {
            t.to_string()
        }
    };
    format!(
        "~{}~{}~{}~{}~{}",
        edition,
        pick(sw),
        pick(tsw),
        pick(thw),
        pick(other)
    )
}

fn zip22(parts: &[String]) -> String {
    let mut parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    while parts.last().is_some_and(|p| p.is_empty() || *p == "*") {
        parts.pop();
    }
    parts.truncate(7);
    format!("cpe:/{}", parts.join(":"))
}

fn chop22(name: &str, text: &str) -> Result<Vec<String>> {
    let rest = text.split_once(":/").map(|x| x.1).unwrap_or_default();
    let parts = cpesplit(rest);
    if parts.len() > 7 {
        return Err(bad(
            name,
            format!("CPE 2.2 string has {} parts, expected <= 7.", parts.len()),
        ));
    }
    Ok(parts)
}

const FIELDS: [&str; 11] = [
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
];

pub(crate) fn norm_cpe23(name: &str, valu: &str) -> Result<Normed> {
    let text = py_lower(valu);
    let (v2_3, v2_2, parts) = if let Some(rest) = text.strip_prefix("cpe:2.3:") {
        if !valid23(&text) {
            return Err(bad(name, "CPE 2.3 string appears to be invalid."));
        }
        let mut parts = cpesplit(rest);
        if parts.len() > 11 {
            return Err(bad(
                name,
                format!(
                    "CPE 2.3 string has {} fields, expected up to 11.",
                    parts.len()
                ),
            ));
        }
        while parts.len() < 11 {
            parts.push("*".into());
        }
        let v2_3 = format!("cpe:2.3:{}", parts.join(":"));
        let mut v22: Vec<String> = Vec::with_capacity(11);
        for (idx, part) in parts.iter().enumerate() {
            if part == "*" || ((idx == 0 || idx == 6) && part == "-") {
                v22.push(String::new());
                continue;
            }
            v22.push(uri_quote(&fsb_unescape(part)));
        }
        v22[5] = uri_pack(&v22[5], &v22[7], &v22[8], &v22[9], &v22[10]);
        let v2_2 = zip22(&v22[..7]);
        if !valid22(&v2_2) {
            return Err(bad(name, "Invalid CPE 2.3 to CPE 2.2 conversion."));
        }
        let parts: Vec<String> = parts.iter().map(|p| fsb_unescape(p)).collect();
        (v2_3, v2_2, parts)
    } else if text.starts_with("cpe:/") {
        if !valid22(&text) {
            return Err(bad(name, "CPE 2.2 string appears to be invalid."));
        }
        let mut parts = chop22(name, &text)?;
        for p in parts.iter_mut() {
            if p.is_empty() {
                *p = "*".into();
            }
        }
        while parts.len() < 11 {
            parts.push("*".into());
        }
        let ed = parts[5].clone();
        if ed.starts_with('~') && ed.matches('~').count() == 5 {
            let unpacked: Vec<String> = ed[1..].splitn(6, '~').map(String::from).collect();
            parts[5] = if unpacked[0].is_empty() {
                "*".into()
            } else {
                unpacked[0].clone()
            };
            for (i, idx) in [7usize, 8, 9, 10].iter().enumerate() {
                if !unpacked[i + 1].is_empty() {
                    parts[*idx] = unpacked[i + 1].clone();
                }
            }
        }
        let parts: Vec<String> = parts.iter().map(|p| uri_unquote(p)).collect();
        let escaped = parts
            .iter()
            .map(|p| fsb_escape(name, p))
            .collect::<Result<Vec<_>>>()?;
        let parts: Vec<String> = parts.iter().map(|p| fsb_unescape(p)).collect();
        let v2_3 = format!("cpe:2.3:{}", escaped.join(":"));
        if !valid23(&v2_3) {
            return Err(bad(name, "Invalid CPE 2.2 to CPE 2.3 conversion."));
        }
        (v2_3, text.clone(), parts)
    } else {
        return Err(bad(
            name,
            "CPE 2.3 string is expected to start with \"cpe:2.3:\"",
        ));
    };
    let mut info = NormInfo::default();
    for (i, field) in FIELDS.iter().enumerate() {
        info.subs.push((
            (*field).into(),
            Value::from(parts.get(i).cloned().unwrap_or_default()),
        ));
    }
    info.subs.push(("v2_2".into(), Value::from(v2_2)));
    Ok((Value::from(v2_3), info))
}

pub(crate) fn norm_cpe23_list(name: &str, items: &[Value]) -> Result<Normed> {
    Err(super::types::no_norm(name, &Value::Array(items.to_vec())))
}

pub(crate) fn norm_cpe22(name: &str, valu: &str) -> Result<Normed> {
    let text = py_lower(valu);
    let parts = if text.starts_with("cpe:/") {
        if !valid22(&text) {
            return Err(bad(name, "CPE 2.2 string appears to be invalid."));
        }
        chop22(name, &text)?
    } else if let Some(rest) = text.strip_prefix("cpe:2.3:") {
        if !valid23(&text) {
            return Err(bad(name, "CPE 2.3 string appears to be invalid."));
        }
        cpesplit(rest)
    } else {
        return Err(bad(
            name,
            "CPE 2.2 string is expected to start with \"cpe:/\"",
        ));
    };
    let v2_2 = zip22(&parts);
    if !valid22(&v2_2) {
        return Err(bad(name, "CPE 2.2 string appears to be invalid."));
    }
    Ok((Value::from(v2_2), NormInfo::default()))
}

pub(crate) fn norm_cpe22_list(name: &str, items: &[Value]) -> Result<Normed> {
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        match as_str(item) {
            Some(s) => parts.push(s.to_string()),
            None => return Err(bad(name, "sequence item: expected str instance")),
        }
    }
    Ok((Value::from(zip22(&parts)), NormInfo::default()))
}
