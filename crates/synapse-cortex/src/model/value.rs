//! Canonical msgpack encoding, node identity (buid, guid) and Python-compatible value helpers.
//!
//! The reference hashes msgpack bytes produced by Python's `msgpack` packer (`use_bin_type=True`):
//! non-negative ints always use the unsigned family, negative ints the signed family (both the
//! smallest that fits), floats are always float64, strings use fixstr/str8/str16/str32, and
//! ints beyond 64 bits are ext type 0 (unsigned magnitude) or 1 (two's complement).
//! [`encode`] reproduces those bytes exactly.

use md5::Md5;
use rmpv::Value;
use sha2::{Digest, Sha256};

/// Append the canonical (Python msgpack compatible) encoding of `valu` to `out`.
pub fn encode(valu: &Value, out: &mut Vec<u8>) {
    match valu {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => {
            if let Some(u) = i.as_u64() {
                encode_uint(u, out);
            } else if let Some(s) = i.as_i64() {
                encode_sint(s, out);
            }
        }
        Value::F32(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f64::from(*f).to_be_bytes());
        }
        Value::F64(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::String(s) => {
            let byts = s.as_bytes();
            let n = byts.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.push(0xd9);
                out.push(n as u8);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(byts);
        }
        Value::Binary(b) => {
            let n = b.len();
            if n <= 0xff {
                out.push(0xc4);
                out.push(n as u8);
            } else if n <= 0xffff {
                out.push(0xc5);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xc6);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            let n = items.len();
            if n < 16 {
                out.push(0x90 | n as u8);
            } else if n <= 0xffff {
                out.push(0xdc);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdd);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for item in items {
                encode(item, out);
            }
        }
        Value::Map(items) => {
            let n = items.len();
            if n < 16 {
                out.push(0x80 | n as u8);
            } else if n <= 0xffff {
                out.push(0xde);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdf);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for (k, v) in items {
                encode(k, out);
                encode(v, out);
            }
        }
        Value::Ext(code, byts) => {
            let n = byts.len();
            match n {
                1 => out.push(0xd4),
                2 => out.push(0xd5),
                4 => out.push(0xd6),
                8 => out.push(0xd7),
                16 => out.push(0xd8),
                _ if n <= 0xff => {
                    out.push(0xc7);
                    out.push(n as u8);
                }
                _ if n <= 0xffff => {
                    out.push(0xc8);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
                _ => {
                    out.push(0xc9);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            out.push(*code as u8);
            out.extend_from_slice(byts);
        }
    }
}

fn encode_uint(u: u64, out: &mut Vec<u8>) {
    if u < 0x80 {
        out.push(u as u8);
    } else if u <= 0xff {
        out.push(0xcc);
        out.push(u as u8);
    } else if u <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn encode_sint(s: i64, out: &mut Vec<u8>) {
    if s >= 0 {
        encode_uint(s as u64, out);
    } else if s >= -32 {
        out.push(s as i8 as u8);
    } else if s >= -128 {
        out.push(0xd0);
        out.push(s as i8 as u8);
    } else if s >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(s as i16).to_be_bytes());
    } else if s >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(s as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&s.to_be_bytes());
    }
}

/// The canonical msgpack bytes of `valu` (see [`encode`]).
pub fn packb(valu: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode(valu, &mut out);
    out
}

/// The 32 byte node id of `(form, norm)`: sha256 of the msgpack of the ndef tuple.
pub fn buid(form: &str, norm: &Value) -> [u8; 32] {
    let mut out = Vec::with_capacity(form.len() + 48);
    out.push(0x92);
    encode(&Value::from(form), &mut out);
    encode(norm, &mut out);
    Sha256::digest(&out).into()
}

/// The 64 hex char iden of a node (hex of its buid).
pub fn iden(form: &str, norm: &Value) -> String {
    hex::encode(buid(form, norm))
}

/// A stable guid: md5 hex of the msgpack of `valu` (the reference's `s_common.guid(valu)`).
pub fn guid_of(valu: &Value) -> String {
    hex::encode(Md5::digest(packb(valu)))
}

/// A random guid (32 lowercase hex chars).
pub fn guid_random() -> String {
    let byts: [u8; 16] = rand::random();
    hex::encode(byts)
}

/// Python's `type(valu)` as the reference prints it (`<class 'str'>`).
pub(crate) fn py_type(valu: &Value) -> &'static str {
    match valu {
        Value::Nil => "<class 'NoneType'>",
        Value::Boolean(_) => "<class 'bool'>",
        Value::Integer(_) => "<class 'int'>",
        Value::F32(_) | Value::F64(_) => "<class 'float'>",
        Value::String(_) => "<class 'str'>",
        Value::Binary(_) => "<class 'bytes'>",
        Value::Array(_) => "<class 'tuple'>",
        Value::Map(_) => "<class 'dict'>",
        Value::Ext(0 | 1, _) => "<class 'int'>",
        Value::Ext(..) => "<class 'msgpack.ExtType'>",
    }
}

/// A Python int taken from a value (ints, and ext 0/1 big ints), saturated to `i128`.
pub(crate) fn as_pyint(valu: &Value) -> Option<i128> {
    match valu {
        Value::Integer(i) => {
            if let Some(u) = i.as_u64() {
                Some(i128::from(u))
            } else {
                i.as_i64().map(i128::from)
            }
        }
        Value::Ext(0, byts) => {
            if byts.len() > 15 && byts[..byts.len() - 15].iter().any(|b| *b != 0) {
                return Some(i128::MAX);
            }
            let mut v: i128 = 0;
            for b in byts {
                v = (v << 8) | i128::from(*b);
            }
            Some(v)
        }
        Value::Ext(1, byts) => {
            let neg = byts.first().is_some_and(|b| b & 0x80 != 0);
            if byts.len() > 16 {
                let fill = if neg { 0xff } else { 0 };
                if byts[..byts.len() - 16].iter().any(|b| *b != fill) {
                    return Some(if neg { i128::MIN } else { i128::MAX });
                }
            }
            let mut v: i128 = if neg { -1 } else { 0 };
            for b in byts {
                v = (v << 8) | i128::from(*b);
            }
            Some(v)
        }
        _ => None,
    }
}

/// An int value: plain msgpack ints when they fit, ext 0/1 beyond 64 bits.
pub(crate) fn int_value(v: i128) -> Value {
    if let Ok(s) = i64::try_from(v) {
        Value::from(s)
    } else if let Ok(u) = u64::try_from(v) {
        Value::from(u)
    } else if v > 0 {
        let byts = v.to_be_bytes();
        let skip = byts.iter().take_while(|b| **b == 0).count();
        Value::Ext(0, byts[skip..].to_vec())
    } else {
        let byts = v.to_be_bytes();
        // Minimal two's complement width as the reference computes it: bit_length // 8 + 1.
        let bitlen = 128 - (!v).leading_zeros() as usize;
        let size = bitlen / 8 + 1;
        Value::Ext(1, byts[16 - size..].to_vec())
    }
}

/// Python's `str.isspace()` for one char.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(text: &str) -> &str {
    text.trim_matches(py_isspace)
}

/// Python's `str.split()` (no separator): runs of whitespace, no empty parts.
pub(crate) fn py_split_ws(text: &str) -> impl Iterator<Item = &str> {
    text.split(py_isspace).filter(|p| !p.is_empty())
}

/// Python's `' '.join(text.split())`.
pub(crate) fn onespace(text: &str) -> String {
    py_split_ws(text).collect::<Vec<_>>().join(" ")
}

/// Python's `str.lower()`.
pub(crate) fn py_lower(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

/// Python's `repr()` of a str.
pub(crate) fn py_repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if !py_isprintable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable()` for one char: control, format, separator
/// (other than space), surrogate and private use characters are not printable.
pub(crate) fn py_isprintable(c: char) -> bool {
    let n = c as u32;
    if n < 0x20 || (0x7f..=0xa0).contains(&n) {
        return false;
    }
    !matches!(n,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890 | 0x891 | 0x8e2 | 0x180e
        | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

/// Python's `str(float)`.
pub(crate) fn py_float_str(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let exp = f.abs().log10().floor() as i32;
    let sci = format!("{f:e}");
    // The exponent from the shortest representation is authoritative.
    let exp = sci
        .split('e')
        .nth(1)
        .and_then(|e| e.parse::<i32>().ok())
        .unwrap_or(exp);
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let (mant, _) = sci.split_once('e').unwrap_or((&sci, "0"));
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// `format(Decimal(str(f)), 'f')` as the reference's str type renders floats.
pub(crate) fn py_float_decimal_str(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let repr = py_float_str(f);
    if repr.contains('e') {
        format!("{f}")
    } else {
        repr
    }
}

/// Parse like Python's `int(text, 0)`; the error is the reference's message.
pub(crate) fn py_int0(text: &str) -> Result<i128, String> {
    let err = || {
        format!(
            "invalid literal for int() with base 0: {}",
            py_repr_str(text)
        )
    };
    let s = py_strip(text);
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if lower.starts_with("0x") {
        (16, &body[2..], true)
    } else if lower.starts_with("0o") {
        (8, &body[2..], true)
    } else if lower.starts_with("0b") {
        (2, &body[2..], true)
    } else {
        (10, body, false)
    };
    // Underscores may separate digits (and follow a base prefix).
    let digits = if prefixed {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(err());
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_digit(radix)) {
        return Err(err());
    }
    if radix == 10 && clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
        return Err(err());
    }
    let mut v: i128 = 0;
    for c in clean.chars() {
        let d = i128::from(c.to_digit(radix).unwrap_or(0));
        v = v.saturating_mul(i128::from(radix)).saturating_add(d);
    }
    Ok(if neg { -v } else { v })
}

/// Python's `repr()` of a value (used in messages).
pub(crate) fn py_repr(valu: &Value) -> String {
    match valu {
        Value::Nil => "None".into(),
        Value::Boolean(true) => "True".into(),
        Value::Boolean(false) => "False".into(),
        Value::Integer(_) | Value::Ext(0 | 1, _) => {
            as_pyint(valu).map(|v| v.to_string()).unwrap_or_default()
        }
        Value::F32(f) => py_float_str(f64::from(*f)),
        Value::F64(f) => py_float_str(*f),
        Value::String(s) => py_repr_str(s.as_str().unwrap_or_default()),
        Value::Binary(b) => {
            let mut out = String::from("b'");
            for x in b {
                match *x {
                    b'\\' => out.push_str("\\\\"),
                    b'\'' => out.push_str("\\'"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    0x20..=0x7e => out.push(*x as char),
                    _ => out.push_str(&format!("\\x{x:02x}")),
                }
            }
            out.push('\'');
            out
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            if parts.len() == 1 {
                format!("({},)", parts[0])
            } else {
                format!("({})", parts.join(", "))
            }
        }
        Value::Map(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Ext(code, byts) => format!(
            "ExtType(code={code}, data={})",
            py_repr(&Value::Binary(byts.clone()))
        ),
    }
}

/// The reference's `trimText(text, n=256)`.
pub(crate) fn trim_text(text: &str) -> String {
    let n = 256;
    if text.chars().count() <= n {
        return text.to_string();
    }
    let keep: String = text.chars().take(n - 3).collect();
    format!("{keep}...")
}

/// The string content of a value, when it is a (valid UTF-8) string.
pub(crate) fn as_str(valu: &Value) -> Option<&str> {
    match valu {
        Value::String(s) => s.as_str(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndef_vectors() {
        let ndef = Value::Array(vec![Value::from("inet:ipv4"), Value::from(16909060)]);
        assert_eq!(
            hex::encode(packb(&ndef)),
            "92a9696e65743a69707634ce01020304"
        );
        assert_eq!(
            iden("inet:ipv4", &Value::from(16909060)),
            "20153b758f9d5eaaa38e4f4a65c36da797c3e59e549620fa7c4895e1a920991f"
        );
        assert_eq!(
            iden("inet:fqdn", &Value::from("vertex.link")),
            "3ecd51e142a5acfcde42c02ff5c68378bfaf1eaf49fe9721550b6e7d6013b699"
        );
        let dnsa = Value::Array(vec![Value::from("vertex.link"), Value::from(16909060)]);
        assert_eq!(
            iden("inet:dns:a", &dnsa),
            "02488bc284ffd0f60f474d5af66a8c0cf89789f766b51fde1d3da9b227005f47"
        );
        assert_eq!(
            guid_of(&Value::Array(vec!["a".into(), "b".into()])),
            "a5fcb7ee50dd99f27ff8f8aa5aedfbe1"
        );
        assert_eq!(
            guid_of(&Value::Array(vec![1.into(), "a".into()])),
            "e6d151fc6c0cff7cf098be131d4ae403"
        );
    }

    #[test]
    fn int_encodings() {
        assert_eq!(packb(&Value::from(-1)), vec![0xff]);
        assert_eq!(packb(&Value::from(-33)), vec![0xd0, 0xdf]);
        assert_eq!(packb(&Value::from(200i64)), vec![0xcc, 200]);
        assert_eq!(packb(&Value::from(1.5f64))[0], 0xcb);
        assert_eq!(
            int_value(1 << 64),
            Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 0])
        );
    }

    #[test]
    fn python_helpers() {
        assert_eq!(py_int0("0x10"), Ok(16));
        assert_eq!(py_int0(" -5 "), Ok(-5));
        assert_eq!(py_int0("1_000"), Ok(1000));
        assert!(py_int0("010").is_err());
        assert_eq!(py_int0("000"), Ok(0));
        assert_eq!(py_float_str(1.0), "1.0");
        assert_eq!(py_float_str(1e20), "1e+20");
        assert_eq!(py_float_str(1.5e-7), "1.5e-07");
        assert_eq!(py_float_decimal_str(1e20), "100000000000000000000");
        assert_eq!(py_float_decimal_str(1.5e-7), "0.00000015");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
    }
}
