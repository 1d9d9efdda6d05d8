//! Python's `repr()` and `pprint.pformat()` of decoded msgpack values (arrays are tuples, as
//! the reference's unpacker makes them), so that `synapse-tools cryo` prints what the
//! reference's tools print.

use std::cmp::Ordering;

use synapse_telepath::Value;

/// `pprint.pformat(valu)` with the default width of 80 and sorted dict keys.
pub(crate) fn pformat(valu: &Value) -> String {
    let mut out = String::new();
    Printer { width: 80 }.format(valu, &mut out, 0, 0, 1);
    out
}

/// `repr(valu)`; `sort` sorts dict keys as pprint does (`str()` / `repr()` keep their order).
pub(crate) fn repr(valu: &Value, sort: bool) -> String {
    let mut out = String::new();
    write_repr(valu, sort, &mut out);
    out
}

struct Printer {
    width: usize,
}

impl Printer {
    fn format(
        &self,
        valu: &Value,
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        let rep = repr(valu, true);
        let max_width = self.width.saturating_sub(indent + allowance);
        if rep.chars().count() > max_width {
            match valu {
                Value::Map(items) if !items.is_empty() => {
                    return self.dict(items, out, indent, allowance, level + 1);
                }
                Value::Array(items) if !items.is_empty() => {
                    return self.tuple(items, out, indent, allowance, level + 1);
                }
                Value::String(_) => {
                    if let Some(text) = py_str(valu) {
                        return self.string(&text, &rep, out, indent, allowance, level + 1);
                    }
                }
                Value::Binary(byts) if byts.len() > 4 => {
                    return self.bytes(byts, out, indent, allowance, level + 1);
                }
                _ => {}
            }
        }
        out.push_str(&rep);
    }

    fn dict(
        &self,
        items: &[(Value, Value)],
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        out.push('{');
        let indent = indent + 1;
        let allowance = allowance + 1;
        let delim = format!(",\n{}", " ".repeat(indent));
        let sorted = sorted_items(items);
        let last = sorted.len() - 1;
        for (i, (key, valu)) in sorted.into_iter().enumerate() {
            let rep = repr(key, true);
            out.push_str(&rep);
            out.push_str(": ");
            let width = rep.chars().count();
            self.format(
                valu,
                out,
                indent + width + 2,
                if i == last { allowance } else { 1 },
                level,
            );
            if i != last {
                out.push_str(&delim);
            }
        }
        out.push('}');
    }

    fn tuple(
        &self,
        items: &[Value],
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        let endchar = if items.len() == 1 { ",)" } else { ")" };
        out.push('(');
        let indent = indent + 1;
        let allowance = allowance + endchar.len();
        let delim = format!(",\n{}", " ".repeat(indent));
        let last = items.len() - 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(&delim);
            }
            self.format(
                item,
                out,
                indent,
                if i == last { allowance } else { 1 },
                level,
            );
        }
        out.push_str(endchar);
    }

    fn string(
        &self,
        text: &[PyChar],
        rep: &str,
        out: &mut String,
        indent: usize,
        allowance: usize,
        level: usize,
    ) {
        let (mut indent, mut allowance) = (indent, allowance);
        if level == 1 {
            indent += 1;
            allowance += 1;
        }
        let lines = split_lines(text);
        let max_width = self.width.saturating_sub(indent);
        let mut max_width1 = max_width;
        let mut chunks: Vec<String> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let line_rep = str_repr(line);
            let is_last_line = i == lines.len() - 1;
            if is_last_line {
                max_width1 = max_width1.saturating_sub(allowance);
            }
            if line_rep.chars().count() <= max_width1 {
                chunks.push(line_rep);
                continue;
            }
            let parts = space_parts(line);
            let mut max_width2 = max_width;
            let mut current: Vec<PyChar> = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                let mut candidate = current.clone();
                candidate.extend_from_slice(part);
                if j == parts.len() - 1 && is_last_line {
                    max_width2 = max_width2.saturating_sub(allowance);
                }
                if str_repr(&candidate).chars().count() > max_width2 {
                    if !current.is_empty() {
                        chunks.push(str_repr(&current));
                    }
                    current = part.clone();
                } else {
                    current = candidate;
                }
            }
            if !current.is_empty() {
                chunks.push(str_repr(&current));
            }
        }
        if chunks.len() == 1 {
            out.push_str(rep);
            return;
        }
        if level == 1 {
            out.push('(');
        }
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(chunk);
        }
        if level == 1 {
            out.push(')');
        }
    }

    fn bytes(&self, byts: &[u8], out: &mut String, indent: usize, allowance: usize, level: usize) {
        let (mut indent, mut allowance) = (indent, allowance);
        let parens = level == 1;
        if parens {
            indent += 1;
            allowance += 1;
            out.push('(');
        }
        let mut width = self.width.saturating_sub(indent);
        let last = byts.len() / 4 * 4;
        let mut current: Vec<u8> = Vec::new();
        let mut reps = Vec::new();
        for (i, part) in byts.chunks(4).enumerate() {
            let mut candidate = current.clone();
            candidate.extend_from_slice(part);
            if i * 4 == last {
                width = width.saturating_sub(allowance);
            }
            if bytes_repr(&candidate).len() > width {
                if !current.is_empty() {
                    reps.push(bytes_repr(&current));
                }
                current = part.to_vec();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            reps.push(bytes_repr(&current));
        }
        for (i, rep) in reps.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(rep);
        }
        if parens {
            out.push(')');
        }
    }
}

/// One code point of a Python string: a char, or a lone surrogate (kept by `surrogatepass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PyChar {
    /// A Unicode scalar value.
    Char(char),
    /// A surrogate code point (U+D800..U+DFFF).
    Surrogate(u16),
}

/// The code points of a decoded str value (UTF-8 with surrogates allowed); bytes that are not
/// even that become U+FFFD.
pub(crate) fn py_str(valu: &Value) -> Option<Vec<PyChar>> {
    let Value::String(text) = valu else {
        return None;
    };
    let mut out = Vec::new();
    let mut bytes = text.as_bytes();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.extend(text.chars().map(PyChar::Char));
                return Some(out);
            }
            Err(err) => {
                let (good, rest) = bytes.split_at(err.valid_up_to());
                out.extend(
                    std::str::from_utf8(good)
                        .unwrap_or_default()
                        .chars()
                        .map(PyChar::Char),
                );
                match rest {
                    [0xed, b1 @ 0xa0..=0xbf, b2 @ 0x80..=0xbf, ..] => {
                        let code = 0xd000 | (u16::from(b1 & 0x3f) << 6) | u16::from(b2 & 0x3f);
                        out.push(PyChar::Surrogate(code));
                        bytes = &rest[3..];
                    }
                    _ => {
                        out.push(PyChar::Char('\u{fffd}'));
                        let skip = err.error_len().unwrap_or(rest.len()).max(1);
                        bytes = &rest[skip.min(rest.len())..];
                    }
                }
            }
        }
    }
}

/// `str.splitlines(keepends=True)`.
fn split_lines(text: &[PyChar]) -> Vec<Vec<PyChar>> {
    let mut lines = Vec::new();
    let mut current = Vec::new();
    let mut iter = text.iter().peekable();
    while let Some(&ch) = iter.next() {
        current.push(ch);
        let PyChar::Char(c) = ch else { continue };
        let ends = match c {
            '\r' => {
                if iter.peek() == Some(&&PyChar::Char('\n')) {
                    current.push(PyChar::Char('\n'));
                    iter.next();
                }
                true
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => true,
            _ => false,
        };
        if ends {
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn is_space(ch: PyChar) -> bool {
    match ch {
        PyChar::Char(c) => c.is_whitespace() || ('\x1c'..='\x1f').contains(&c),
        PyChar::Surrogate(_) => false,
    }
}

/// `re.findall(r'\S*\s*', line)` without the final empty match.
fn space_parts(line: &[PyChar]) -> Vec<Vec<PyChar>> {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < line.len() {
        let start = i;
        while i < line.len() && !is_space(line[i]) {
            i += 1;
        }
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        parts.push(line[start..i].to_vec());
    }
    parts
}

/// Python's `str.isprintable()` for one code point (an approximation of the Unicode
/// categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs other than the space).
fn printable(c: char) -> bool {
    !matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{a0}' | '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}'
        | '\u{6dd}' | '\u{70f}' | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200f}'
        | '\u{2028}'..='\u{202f}' | '\u{205f}'..='\u{206f}' | '\u{3000}' | '\u{e000}'..='\u{f8ff}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{fffe}' | '\u{ffff}'
        | '\u{f0000}'..='\u{10ffff}')
}

fn str_repr(text: &[PyChar]) -> String {
    let has = |c: char| text.contains(&PyChar::Char(c));
    let quote = if has('\'') && !has('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text {
        match *ch {
            PyChar::Surrogate(code) => out.push_str(&format!("\\u{code:04x}")),
            PyChar::Char(c) => match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if c == quote => {
                    out.push('\\');
                    out.push(c);
                }
                c if printable(c) => out.push(c),
                c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            },
        }
    }
    out.push(quote);
    out
}

fn bytes_repr(byts: &[u8]) -> String {
    let quote = if byts.contains(&b'\'') && !byts.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(byts.len() + 3);
    out.push('b');
    out.push(char::from(quote));
    for &b in byts {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(char::from(quote));
    out
}

/// Python's `repr(float)`: the shortest round-trip digits, fixed notation for decimal
/// exponents from -4 to 15, else `1e+16` style.
pub(crate) fn float_repr(num: f64) -> String {
    if num.is_nan() {
        return "nan".into();
    }
    if num.is_infinite() {
        return if num > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{num:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let ndigits = digits.len() as i32;
    let decpt = exp + 1;
    let body = if (-4 < decpt) && (decpt <= 16) {
        if decpt <= 0 {
            format!("0.{}{digits}", "0".repeat((-decpt) as usize))
        } else if decpt >= ndigits {
            format!("{digits}{}.0", "0".repeat((decpt - ndigits) as usize))
        } else {
            let (int, frac) = digits.split_at(decpt as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{esign}{:02}", exp.abs())
    };
    format!("{sign}{body}")
}

/// The decimal digits of a big-endian unsigned magnitude.
fn decimal(magnitude: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    let mut num: Vec<u8> = magnitude.iter().copied().skip_while(|b| *b == 0).collect();
    while !num.is_empty() {
        let mut rem: u32 = 0;
        let mut next = Vec::with_capacity(num.len());
        for byte in &num {
            let cur = (rem << 8) | u32::from(*byte);
            let quot = (cur / 10) as u8;
            rem = cur % 10;
            if !(next.is_empty() && quot == 0) {
                next.push(quot);
            }
        }
        digits.push(b'0' + rem as u8);
        num = next;
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.iter().rev().map(|d| char::from(*d)).collect()
}

/// The decimal text of a big integer carried as msgpack ext 0 (magnitude) or 1 (two's
/// complement).
pub(crate) fn bigint(code: i8, byts: &[u8]) -> Option<String> {
    match code {
        0 => Some(decimal(byts)),
        1 if byts.first().is_some_and(|b| b & 0x80 != 0) => {
            // Negate the two's complement to get the magnitude.
            let mut mag: Vec<u8> = byts.iter().map(|b| !b).collect();
            for byte in mag.iter_mut().rev() {
                let (sum, carry) = byte.overflowing_add(1);
                *byte = sum;
                if !carry {
                    break;
                }
            }
            Some(format!("-{}", decimal(&mag)))
        }
        1 => Some(decimal(byts)),
        _ => None,
    }
}

fn write_repr(valu: &Value, sort: bool, out: &mut String) {
    match valu {
        Value::Nil => out.push_str("None"),
        Value::Boolean(true) => out.push_str("True"),
        Value::Boolean(false) => out.push_str("False"),
        Value::Integer(int) => out.push_str(&int.to_string()),
        Value::F32(num) => out.push_str(&float_repr(f64::from(*num))),
        Value::F64(num) => out.push_str(&float_repr(*num)),
        Value::String(_) => out.push_str(&str_repr(&py_str(valu).unwrap_or_default())),
        Value::Binary(byts) => out.push_str(&bytes_repr(byts)),
        Value::Array(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, sort, out);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::Map(items) => {
            out.push('{');
            let items: Vec<(&Value, &Value)> = if sort {
                sorted_items(items)
            } else {
                items.iter().map(|(k, v)| (k, v)).collect()
            };
            for (i, (key, item)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(key, sort, out);
                out.push_str(": ");
                write_repr(item, sort, out);
            }
            out.push('}');
        }
        Value::Ext(code, byts) => match bigint(*code, byts) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&format!("ExtType(code={code}, data={})", bytes_repr(byts))),
        },
    }
}

fn sorted_items(items: &[(Value, Value)]) -> Vec<(&Value, &Value)> {
    let mut items: Vec<(&Value, &Value)> = items.iter().map(|(k, v)| (k, v)).collect();
    items.sort_by(|a, b| py_cmp(a.0, b.0));
    items
}

/// A number as Python compares it (bool and int compare with float).
fn number(valu: &Value) -> Option<f64> {
    match valu {
        Value::Boolean(flag) => Some(f64::from(u8::from(*flag))),
        Value::Integer(int) => int.as_f64(),
        Value::F32(num) => Some(f64::from(*num)),
        Value::F64(num) => Some(*num),
        _ => None,
    }
}

/// Python's `<` where it is defined; otherwise pprint's fallback, the type name.
fn py_cmp(a: &Value, b: &Value) -> Ordering {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        if let (Value::Integer(i), Value::Integer(j)) = (a, b) {
            return match (i.as_i64(), j.as_i64(), i.as_u64(), j.as_u64()) {
                (Some(x), Some(y), _, _) => x.cmp(&y),
                (_, _, Some(x), Some(y)) => x.cmp(&y),
                (None, Some(_), _, _) => Ordering::Greater,
                _ => Ordering::Less,
            };
        }
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    match (a, b) {
        (Value::String(_), Value::String(_)) => py_str(a).cmp(&py_str(b)),
        (Value::Binary(x), Value::Binary(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                match py_cmp(i, j) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
            x.len().cmp(&y.len())
        }
        _ => type_name(a).cmp(type_name(b)),
    }
}

fn type_name(valu: &Value) -> &'static str {
    match valu {
        Value::Nil => "<class 'NoneType'>",
        Value::Boolean(_) => "<class 'bool'>",
        Value::Integer(_) | Value::Ext(..) => "<class 'int'>",
        Value::F32(_) | Value::F64(_) => "<class 'float'>",
        Value::String(_) => "<class 'str'>",
        Value::Binary(_) => "<class 'bytes'>",
        Value::Array(_) => "<class 'tuple'>",
        Value::Map(_) => "<class 'dict'>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: Vec<(&str, Value)>) -> Value {
        Value::Map(
            items
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn reprs_match_python() {
        let cases: Vec<(Value, &str)> = vec![
            (Value::Nil, "None"),
            (Value::Boolean(true), "True"),
            (Value::from(-5), "-5"),
            (Value::from("it's"), "\"it's\""),
            (Value::from("a\"b"), "'a\"b'"),
            (Value::from("both'\""), "'both\\'\"'"),
            (
                Value::from("\x00\x7f\u{a0}\u{2028}é😀\t\n"),
                "'\\x00\\x7f\\xa0\\u2028é😀\\t\\n'",
            ),
            (Value::Binary(b"\x00a'\"".to_vec()), "b'\\x00a\\'\"'"),
            (Value::Array(vec![1.into()]), "(1,)"),
            (Value::Array(vec!["x".into(), 2.into()]), "('x', 2)"),
            (Value::Array(vec![]), "()"),
            (
                map(vec![("b", 1.into()), ("a", Value::Nil)]),
                "{'a': None, 'b': 1}",
            ),
            (
                Value::Map(vec![("b".into(), 2.into()), (1.into(), "a".into())]),
                "{1: 'a', 'b': 2}",
            ),
            (
                Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 5]),
                "18446744073709551621",
            ),
            (
                Value::Ext(
                    1,
                    vec![0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                ),
                "-9223372036854775809",
            ),
        ];
        for (valu, want) in cases {
            assert_eq!(repr(&valu, true), want, "{valu:?}");
        }
        // str() of a dict keeps its order.
        assert_eq!(
            repr(&map(vec![("b", 1.into()), ("a", 2.into())]), false),
            "{'b': 1, 'a': 2}"
        );
    }

    #[test]
    fn floats_match_python() {
        let cases = [
            (1e20, "1e+20"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5, "1.5"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for (num, want) in cases {
            assert_eq!(float_repr(num), want);
        }
    }

    #[test]
    fn pformat_wraps_as_python() {
        // pprint.pformat((0, {'b': 'x'*50, 'a': [1,2,3], 'c': ('y'*30, 'z'*40)})) with the list
        // arriving as a tuple.
        let valu = Value::Array(vec![
            0.into(),
            map(vec![
                ("b", "x".repeat(50).into()),
                ("a", Value::Array(vec![1.into(), 2.into(), 3.into()])),
                (
                    "c",
                    Value::Array(vec!["y".repeat(30).into(), "z".repeat(40).into()]),
                ),
            ]),
        ]);
        let want = format!(
            "(0,\n {{'a': (1, 2, 3),\n  'b': '{}',\n  'c': ('{}',\n        '{}')}})",
            "x".repeat(50),
            "y".repeat(30),
            "z".repeat(40)
        );
        assert_eq!(pformat(&valu), want);
        // Long strings with spaces are split into adjacent literals.
        let words = "word ".repeat(30);
        let valu = Value::Array(vec![1.into(), words.as_str().into()]);
        let out = pformat(&valu);
        assert!(out.starts_with("(1,\n 'word word"), "{out}");
        assert!(out.lines().count() > 2, "{out}");
        assert!(out.lines().all(|line| line.chars().count() <= 80), "{out}");
        // Short values stay on one line.
        assert_eq!(
            pformat(&Value::Array(vec![5.into(), Value::Array(vec![1.into()])])),
            "(5, (1,))"
        );
    }

    #[test]
    fn lone_surrogates_print_escaped() {
        let valu = synapse_telepath::codec::decode(b"\xa5a\xed\xb0\x80b").unwrap();
        assert_eq!(repr(&valu, true), "'a\\udc00b'");
    }
}
