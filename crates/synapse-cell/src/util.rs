//! Small helpers: Python's `repr()` of a string (the reference puts it in messages).

/// Python's `repr()` of a `str`: single quotes unless the text has a single quote and no
/// double quote; backslashes and control characters escaped.
pub(crate) fn pyrepr(text: &str) -> String {
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
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::pyrepr;

    #[test]
    fn repr_like_python() {
        assert_eq!(pyrepr("visi"), "'visi'");
        assert_eq!(pyrepr("it's"), "\"it's\"");
        assert_eq!(pyrepr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(pyrepr("a\nb"), "'a\\nb'");
    }
}
