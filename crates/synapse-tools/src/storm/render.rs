//! How the Storm CLI prints Storm messages, as the reference's `synapse.tools.storm`: nodes
//! (`form=repr`, then props sorted: normal, `_ext`, `.univ`; then tags), prints, warnings,
//! errors (a caret under `BadSyntax` positions) and the closing `complete.` line. Values
//! without a repr print as Python's `str()` would.

use synapse_telepath::Value;

fn get<'a>(valu: &'a Value, key: &str) -> Option<&'a Value> {
    match valu {
        Value::Map(items) => items
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn entries(valu: Option<&Value>) -> &[(Value, Value)] {
    match valu {
        Some(Value::Map(items)) => items,
        _ => &[],
    }
}

fn py_quote(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_float(num: f64) -> String {
    if num.is_nan() {
        return "nan".into();
    }
    if num.is_infinite() {
        return if num > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if num == num.trunc() && num.abs() < 1e16 {
        return format!("{num:.1}");
    }
    format!("{num}")
}

/// Python's `repr()` of a value as the client decodes it (arrays are tuples).
pub(crate) fn py_repr(valu: &Value) -> String {
    match valu {
        Value::Nil => "None".into(),
        Value::Boolean(true) => "True".into(),
        Value::Boolean(false) => "False".into(),
        Value::Integer(num) => num.to_string(),
        Value::F32(num) => py_float(f64::from(*num)),
        Value::F64(num) => py_float(*num),
        Value::String(text) => match text.as_str() {
            Some(text) => py_quote(text),
            None => format!("{:?}", text.as_bytes()),
        },
        Value::Binary(byts) => {
            let mut out = String::from("b'");
            for byte in byts {
                match byte {
                    b'\\' => out.push_str("\\\\"),
                    b'\'' => out.push_str("\\'"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    0x20..=0x7e => out.push(char::from(*byte)),
                    other => out.push_str(&format!("\\x{other:02x}")),
                }
            }
            out.push('\'');
            out
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            if inner.len() == 1 {
                format!("({},)", inner[0])
            } else {
                format!("({})", inner.join(", "))
            }
        }
        Value::Map(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Ext(tag, byts) => big_int(*tag, byts).unwrap_or_else(|| format!("ExtType({tag})")),
    }
}

/// Ints beyond 64 bits travel as ext 0 (magnitude) / ext 1 (two's complement, negative).
fn big_int(tag: i8, byts: &[u8]) -> Option<String> {
    if byts.len() > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[16 - byts.len()..].copy_from_slice(byts);
    match tag {
        0 => Some(u128::from_be_bytes(buf).to_string()),
        1 => {
            if byts.first().is_some_and(|b| b & 0x80 != 0) {
                for slot in buf.iter_mut().take(16 - byts.len()) {
                    *slot = 0xff;
                }
            }
            Some(i128::from_be_bytes(buf).to_string())
        }
        _ => None,
    }
}

/// Python's `str()`: strings as they are, anything else as `repr()`.
pub(crate) fn py_str(valu: &Value) -> String {
    match valu {
        Value::String(text) => text.as_str().map_or_else(|| py_repr(valu), str::to_owned),
        other => py_repr(other),
    }
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The reference's `s_time.repr`: `YYYY/MM/DD HH:MM:SS.mmm`, `?` for the max time.
pub(crate) fn time_repr(tick: i64) -> String {
    if tick == i64::MAX {
        return "?".into();
    }
    let days = tick.div_euclid(86_400_000);
    let rest = tick.rem_euclid(86_400_000);
    let (year, month, day) = civil(days);
    let (hour, minute) = (rest / 3_600_000, (rest / 60_000) % 60);
    let (second, millis) = ((rest / 1000) % 60, rest % 1000);
    format!("{year}/{month:02}/{day:02} {hour:02}:{minute:02}:{second:02}.{millis:03}")
}

/// Leaf tags, plus inner tags that have a time or tag properties (`s_node.tagsnice`).
fn tags_nice(info: &Value) -> Vec<String> {
    let mut tags: Vec<(String, bool)> = entries(get(info, "tags"))
        .iter()
        .filter_map(|(k, v)| {
            let timed = v
                .as_array()
                .is_some_and(|ival| ival.iter().any(|t| !t.is_nil()));
            k.as_str().map(|k| (k.to_owned(), timed))
        })
        .collect();
    // longest first, as the reference walks them (stable for equal lengths)
    tags.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
    let mut out: Vec<String> = Vec::new();
    for (tag, timed) in tags {
        let look = format!("{tag}.");
        if !timed && out.iter().any(|r| r.starts_with(&look)) {
            continue;
        }
        out.push(tag);
    }
    for (tag, _) in entries(get(info, "tagprops")) {
        if let Some(tag) = tag.as_str()
            && !out.iter().any(|t| t == tag)
        {
            out.push(tag.to_owned());
        }
    }
    out
}

/// The lines printing a packed node.
pub(crate) fn node_lines(pode: &Value, hideprops: bool, hidetags: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let Some([ndef, info]) = pode.as_array().map(Vec::as_slice) else {
        return lines;
    };
    let (form, valu) = match ndef.as_array().map(Vec::as_slice) {
        Some([form, valu]) => (py_str(form), valu),
        _ => return lines,
    };
    let formvalu = match get(info, "repr") {
        Some(repr) if !repr.is_nil() => py_str(repr),
        _ => py_str(valu),
    };
    lines.push(format!("{form}={formvalu}"));
    if !hideprops {
        let reprs = get(info, "reprs");
        let mut props = Vec::new();
        let mut extns = Vec::new();
        let mut univs = Vec::new();
        for (name, pvalu) in entries(get(info, "props")) {
            let Some(name) = name.as_str() else { continue };
            let shown = match reprs.and_then(|r| get(r, name)) {
                Some(repr) if !repr.is_nil() => py_str(repr),
                _ => py_str(pvalu),
            };
            if name.starts_with('.') {
                univs.push((name.to_owned(), shown));
            } else if name.starts_with('_') {
                extns.push((format!(":{name}"), shown));
            } else {
                props.push((format!(":{name}"), shown));
            }
        }
        for group in [&mut props, &mut extns, &mut univs] {
            group.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, shown) in group.iter() {
                lines.push(format!("        {name} = {shown}"));
            }
        }
    }
    if !hidetags {
        let mut tags = tags_nice(info);
        tags.sort();
        let tagvals = get(info, "tags");
        for tag in tags {
            let Some(ival) = tagvals.and_then(|t| get(t, &tag)) else {
                continue;
            };
            let mut printed = false;
            if let Some([min, max]) = ival.as_array().map(Vec::as_slice)
                && !(min.is_nil() && max.is_nil())
            {
                let show = |t: &Value| t.as_i64().map_or_else(|| py_str(t), time_repr);
                lines.push(format!("        #{tag} = ({}, {})", show(min), show(max)));
                printed = true;
            }
            let tprops = get(info, "tagprops").and_then(|t| get(t, &tag));
            let mut shown: Vec<(String, String)> = entries(tprops)
                .iter()
                .filter_map(|(name, pvalu)| {
                    let name = name.as_str()?;
                    let repr = get(info, "tagpropreprs")
                        .and_then(|r| get(r, &tag))
                        .and_then(|r| get(r, name))
                        .map_or_else(|| py_str(pvalu), py_str);
                    Some((name.to_owned(), repr))
                })
                .collect();
            shown.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, repr) in &shown {
                lines.push(format!("        #{tag}:{name} = {repr}"));
                printed = true;
            }
            if !printed {
                lines.push(format!("        #{tag}"));
            }
        }
    }
    lines
}

/// The number of individual edits in a `node:edits` message.
pub(crate) fn edit_count(info: &Value) -> usize {
    match get(info, "edits") {
        Some(Value::Array(edits)) => edits
            .iter()
            .filter_map(|e| e.as_array().and_then(|parts| parts.get(2)))
            .filter_map(Value::as_array)
            .map(Vec::len)
            .sum(),
        _ => 0,
    }
}

/// `complete. N nodes in T ms (R/sec).`
pub(crate) fn fini_line(info: &Value) -> String {
    let took = get(info, "took")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(1);
    let count = get(info, "count").and_then(Value::as_i64).unwrap_or(0);
    let pers = count as f64 / (took as f64 / 1000.0);
    format!(
        "complete. {count} nodes in {took} ms ({}/sec).",
        pers as i64
    )
}

/// `WARNING: mesg k=v, ...`.
pub(crate) fn warn_line(info: &Value) -> String {
    let mut warn = get(info, "mesg").map(py_str).unwrap_or_default();
    let extra: Vec<String> = entries(Some(info))
        .iter()
        .filter(|(k, _)| k.as_str() != Some("mesg"))
        .map(|(k, v)| format!("{}={}", py_str(k), py_str(v)))
        .collect();
    if !extra.is_empty() {
        warn = format!("{warn} {}", extra.join(", "));
    }
    format!("WARNING: {warn}")
}

/// The lines printing an `err` message: `BadSyntax` shows the query with a caret.
pub(crate) fn err_lines(err: &Value) -> Vec<String> {
    let Some([name, info]) = err.as_array().map(Vec::as_slice) else {
        return vec![format!("ERROR: {}", py_str(err))];
    };
    if name.as_str() == Some("BadSyntax")
        && let (Some(pos), Some(text), Some(mesg)) = (
            get(info, "at").and_then(Value::as_i64),
            get(info, "text").and_then(Value::as_str),
            get(info, "mesg").and_then(Value::as_str),
        )
    {
        let chars: Vec<char> = text.replace('\n', " ").chars().collect();
        let tlen = chars.len() as i64;
        let mut pos = pos.max(0);
        let mut shown: String = chars.iter().collect();
        if tlen > 60 {
            let start = (pos - 30).max(0) as usize;
            let end = ((pos + 30).max(0) as usize).min(chars.len());
            shown = chars[start.min(end)..end].iter().collect();
            if pos < tlen - 30 {
                shown.push_str("...");
            }
            if pos > 30 {
                shown = format!("...{shown}");
                pos = 33;
            }
        }
        return vec![
            shown,
            format!("{}^", " ".repeat(pos as usize)),
            format!("Syntax Error: {mesg}"),
        ];
    }
    let text = get(info, "mesg").map_or_else(|| py_str(name), py_str);
    vec![format!("ERROR: {text}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    fn map(items: Vec<(&str, Value)>) -> Value {
        Value::Map(items.into_iter().map(|(k, v)| (s(k), v)).collect())
    }

    #[test]
    fn nodes_print_as_the_reference() {
        // recorded: `[inet:fqdn=cli.vertex.link +#test]` with repr on
        let pode = Value::Array(vec![
            Value::Array(vec![s("inet:fqdn"), s("cli.vertex.link")]),
            map(vec![
                ("iden", s("x")),
                (
                    "tags",
                    map(vec![("test", Value::Array(vec![Value::Nil, Value::Nil]))]),
                ),
                (
                    "props",
                    map(vec![
                        (".created", Value::from(1795615198241i64)),
                        ("host", s("cli")),
                        ("domain", s("vertex.link")),
                        ("issuffix", Value::from(0)),
                        ("iszone", Value::from(0)),
                        ("zone", s("vertex.link")),
                    ]),
                ),
                ("tagprops", map(vec![])),
                (
                    "reprs",
                    map(vec![
                        (".created", s("2026/11/25 13:56:38.241")),
                        ("issuffix", s("false")),
                        ("iszone", s("false")),
                    ]),
                ),
            ]),
        ]);
        assert_eq!(
            node_lines(&pode, false, false),
            vec![
                "inet:fqdn=cli.vertex.link",
                "        :domain = vertex.link",
                "        :host = cli",
                "        :issuffix = false",
                "        :iszone = false",
                "        :zone = vertex.link",
                "        .created = 2026/11/25 13:56:38.241",
                "        #test",
            ]
        );
        assert_eq!(
            node_lines(&pode, true, true),
            vec!["inet:fqdn=cli.vertex.link"]
        );
    }

    #[test]
    fn tags_values_and_tagprops() {
        let pode = Value::Array(vec![
            Value::Array(vec![s("inet:ipv4"), Value::from(16909060)]),
            map(vec![
                ("repr", s("1.2.3.4")),
                (
                    "tags",
                    map(vec![
                        ("foo", Value::Array(vec![Value::Nil, Value::Nil])),
                        (
                            "foo.bar",
                            Value::Array(vec![
                                Value::from(1577836800000i64),
                                Value::from(1609459200000i64),
                            ]),
                        ),
                        ("rep", Value::Array(vec![Value::Nil, Value::Nil])),
                        ("rep.vt", Value::Array(vec![Value::Nil, Value::Nil])),
                    ]),
                ),
                (
                    "props",
                    map(vec![("asn", Value::from(10)), ("_ext", s("x"))]),
                ),
                (
                    "tagprops",
                    map(vec![("rep.vt", map(vec![("score", Value::from(10))]))]),
                ),
            ]),
        ]);
        assert_eq!(
            node_lines(&pode, false, false),
            vec![
                "inet:ipv4=1.2.3.4",
                "        :asn = 10",
                "        :_ext = x",
                "        #foo.bar = (2020/01/01 00:00:00.000, 2021/01/01 00:00:00.000)",
                "        #rep.vt:score = 10",
            ]
        );
    }

    #[test]
    fn python_strs_and_times() {
        let comp = Value::Array(vec![s("vertex.link"), Value::from(134744072)]);
        assert_eq!(py_str(&comp), "('vertex.link', 134744072)");
        assert_eq!(py_repr(&Value::Array(vec![Value::from(1)])), "(1,)");
        assert_eq!(
            py_repr(&map(vec![("a", Value::Boolean(true)), ("b", Value::Nil)])),
            "{'a': True, 'b': None}"
        );
        assert_eq!(py_repr(&Value::F64(1.0)), "1.0");
        assert_eq!(py_repr(&Value::F64(0.5)), "0.5");
        assert_eq!(py_repr(&Value::Binary(b"a'\x00".to_vec())), "b'a\\'\\x00'");
        assert_eq!(py_str(&s("it's")), "it's");
        assert_eq!(py_repr(&s("it's")), "\"it's\"");
        assert_eq!(
            py_repr(&Value::Ext(0, vec![1, 0, 0, 0, 0, 0, 0, 0, 0])),
            "18446744073709551616"
        );
        assert_eq!(time_repr(0), "1970/01/01 00:00:00.000");
        assert_eq!(time_repr(1795615198241), "2026/11/25 13:59:58.241");
        assert_eq!(time_repr(-1), "1969/12/31 23:59:59.999");
        assert_eq!(time_repr(951782400000), "2000/02/29 00:00:00.000");
        assert_eq!(time_repr(i64::MAX), "?");
    }

    #[test]
    fn messages() {
        let fini = map(vec![("took", Value::from(6)), ("count", Value::from(1))]);
        assert_eq!(fini_line(&fini), "complete. 1 nodes in 6 ms (166/sec).");
        let fini = map(vec![("took", Value::from(0)), ("count", Value::from(0))]);
        assert_eq!(fini_line(&fini), "complete. 0 nodes in 1 ms (0/sec).");
        let warn = map(vec![
            ("mesg", s("careful")),
            ("foo", s("bar")),
            ("n", Value::from(1)),
        ]);
        assert_eq!(warn_line(&warn), "WARNING: careful foo=bar, n=1");
        let edits = map(vec![(
            "edits",
            Value::Array(vec![
                Value::Array(vec![
                    s("a"),
                    s("inet:fqdn"),
                    Value::Array(vec![Value::Nil, Value::Nil]),
                ]),
                Value::Array(vec![s("b"), s("syn:tag"), Value::Array(vec![Value::Nil])]),
            ]),
        )]);
        assert_eq!(edit_count(&edits), 3);
        let err = Value::Array(vec![
            s("BadSyntax"),
            map(vec![
                ("at", Value::from(10)),
                ("text", s("inet:fqdn=")),
                ("mesg", s("Unexpected token")),
            ]),
        ]);
        assert_eq!(
            err_lines(&err),
            vec![
                "inet:fqdn=",
                "          ^",
                "Syntax Error: Unexpected token"
            ]
        );
        let long = format!("{} [", "a".repeat(80));
        let err = Value::Array(vec![
            s("BadSyntax"),
            map(vec![
                ("at", Value::from(81)),
                ("text", s(&long)),
                ("mesg", s("x")),
            ]),
        ]);
        let lines = err_lines(&err);
        assert_eq!(lines[0], format!("...{} [", "a".repeat(29)));
        assert_eq!(lines[1], format!("{}^", " ".repeat(33)));
        let err = Value::Array(vec![
            s("NoSuchProp"),
            map(vec![("mesg", s("No property named inet:ipv5."))]),
        ]);
        assert_eq!(err_lines(&err), vec!["ERROR: No property named inet:ipv5."]);
    }
}
