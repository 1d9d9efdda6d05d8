//! Decoding of Storm string literals.
//!
//! Double-quoted strings and the text of format strings use Python's string-literal escapes
//! (the reference evaluates them as Python literals): `\n`, `\t`, `\xhh`, `\uhhhh`, octal
//! `\ooo`, ...; unknown escapes are kept as written. Single- and triple-quoted strings are raw.

/// Why a literal could not be decoded (the text mirrors Python's own complaint).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EscapeError(pub(crate) String);

/// Decode a double-quoted literal, quotes included.
pub(crate) fn double_quoted(raw: &str) -> Result<String, EscapeError> {
    let content = raw
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(raw);
    decode(content, false)
}

/// Decode the text of a format string (between expressions).
pub(crate) fn format_text(raw: &str) -> Result<String, EscapeError> {
    // `\`` and `\{` only protect the format delimiters; the rest are Python escapes.
    let text = raw.replace("\\`", "`").replace("\\{", "{");
    let trailing = text.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        // the backslash would escape the closing quotes of the Python literal
        return Err(EscapeError(
            "unterminated triple-quoted string literal (detected at line 1) (<unknown>, line 1)"
                .into(),
        ));
    }
    decode(&text, true)
}

fn unicode_error(start: usize, end: usize, what: &str) -> EscapeError {
    EscapeError(format!(
        "(unicode error) 'unicodeescape' codec can't decode bytes in position {start}-{end}: {what} (<unknown>, line 1)"
    ))
}

fn decode(content: &str, multiline: bool) -> Result<String, EscapeError> {
    if content.contains('\0') {
        return Err(EscapeError(
            "source code string cannot contain null bytes".into(),
        ));
    }
    let bytes = content.as_bytes();
    let mut out = String::with_capacity(content.len());
    let mut chars = content.char_indices().peekable();
    while let Some((idx, chr)) = chars.next() {
        match chr {
            '\r' if !multiline => {
                return Err(EscapeError(
                    "unterminated string literal (detected at line 1) (<unknown>, line 1)".into(),
                ));
            }
            '\r' => {
                if chars.peek().map(|(_, c)| *c) == Some('\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\\' => {
                let Some((_, esc)) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match esc {
                    '\n' => {}
                    '\r' => {
                        if chars.peek().map(|(_, c)| *c) == Some('\n') {
                            chars.next();
                        }
                    }
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    '"' => out.push('"'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '0'..='7' => {
                        let mut value = esc as u32 - '0' as u32;
                        for _ in 0..2 {
                            match chars.peek() {
                                Some((_, digit @ '0'..='7')) => {
                                    value = value * 8 + (*digit as u32 - '0' as u32);
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        // at most 0o777, always a valid scalar value
                        out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
                    }
                    'x' | 'u' | 'U' => {
                        let (count, what) = match esc {
                            'x' => (2, "truncated \\xXX escape"),
                            'u' => (4, "truncated \\uXXXX escape"),
                            _ => (8, "truncated \\UXXXXXXXX escape"),
                        };
                        let mut value = 0u32;
                        let mut taken = 0;
                        while taken < count {
                            match chars.peek() {
                                Some((_, digit)) if digit.is_ascii_hexdigit() => {
                                    value = value * 16 + digit.to_digit(16).unwrap_or(0);
                                    chars.next();
                                    taken += 1;
                                }
                                _ => break,
                            }
                        }
                        let end = chars.peek().map(|(pos, _)| *pos).unwrap_or(bytes.len());
                        if taken < count {
                            return Err(unicode_error(idx, end.saturating_sub(1), what));
                        }
                        match char::from_u32(value) {
                            Some(decoded) => out.push(decoded),
                            None if value > 0x10ffff => {
                                return Err(unicode_error(
                                    idx,
                                    end.saturating_sub(1),
                                    "illegal Unicode character",
                                ));
                            }
                            // A lone surrogate: Python keeps it, but it cannot live in a Rust
                            // string (and could never be stored or sent); reject it here.
                            None => {
                                return Err(unicode_error(
                                    idx,
                                    end.saturating_sub(1),
                                    "surrogate code points are not allowed",
                                ));
                            }
                        }
                    }
                    'N' => {
                        // Named escapes need the Unicode name database, which we do not carry.
                        let end = chars.peek().map(|(pos, _)| *pos).unwrap_or(bytes.len());
                        return Err(unicode_error(
                            idx,
                            end.saturating_sub(1),
                            "unknown Unicode character name",
                        ));
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_escapes() {
        assert_eq!(double_quoted(r#""a\"b""#).unwrap(), "a\"b");
        assert_eq!(
            double_quoted(r#""hello\\world!""#).unwrap(),
            "hello\\world!"
        );
        assert_eq!(
            double_quoted(r#""hello\tworld!""#).unwrap(),
            "hello\tworld!"
        );
        assert_eq!(
            double_quoted(r#""hello\040world!""#).unwrap(),
            "hello world!"
        );
        assert_eq!(
            double_quoted(r#""hello\xffworld!""#).unwrap(),
            "hello\u{ff}world!"
        );
        assert_eq!(double_quoted(r#""\777""#).unwrap(), "\u{1ff}");
        assert_eq!(double_quoted(r#""a\qb""#).unwrap(), "a\\qb");
        assert_eq!(double_quoted(r#""\u00e9\U0001F600""#).unwrap(), "é😀");
        assert_eq!(double_quoted(r#""hello\'world!""#).unwrap(), "hello'world!");
    }

    #[test]
    fn python_escape_errors() {
        let err = double_quoted("\"foo\0bar\"").unwrap_err();
        assert_eq!(err.0, "source code string cannot contain null bytes");
        let err = double_quoted(r#""a\x0""#).unwrap_err();
        assert!(err.0.contains("truncated \\xXX escape"), "{}", err.0);
        assert!(
            double_quoted(r#""\U00110000""#)
                .unwrap_err()
                .0
                .contains("illegal Unicode character")
        );
        assert!(double_quoted("\"a\rb\"").is_err());
        assert!(double_quoted(r#""\ud800""#).is_err());
    }

    #[test]
    fn format_text_escapes() {
        assert_eq!(format_text("a\\`b\\{c").unwrap(), "a`b{c");
        assert_eq!(format_text("it's \\n").unwrap(), "it's \n");
        assert_eq!(format_text("x\r\ny").unwrap(), "x\ny");
        assert_eq!(format_text("a\\\\").unwrap(), "a\\");
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(
            crate::model::value::py_repr_str("\"foo\0bar\""),
            "'\"foo\\x00bar\"'"
        );
        assert_eq!(crate::model::value::py_repr_str("it's"), "\"it's\"");
        assert_eq!(crate::model::value::py_repr_str("a'b\"c"), "'a\\'b\"c'");
    }
}
