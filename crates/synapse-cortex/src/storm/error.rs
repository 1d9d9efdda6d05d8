//! Storm syntax errors (`BadSyntax`).

use std::fmt;

use super::ast::Span;

/// A Storm syntax error: the reference's `BadSyntax`.
///
/// Positions follow the reference: `at` is a character offset into the query text, lines and
/// columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The message (`Unexpected token '...' at line L, column C, expecting one of: ...`).
    pub mesg: String,
    /// Where the error is, when known.
    pub pos: Option<ErrorPos>,
    /// The text of the unexpected token, when the error is an unexpected token.
    pub token: Option<String>,
    /// The offending literal (for string escape errors), as the reference reports it.
    pub valu: Option<String>,
}

/// The position of a syntax error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorPos {
    /// The byte range of the offending text.
    pub span: Span,
    /// Character offset of the start (the reference's `at`).
    pub at: u32,
    /// Character offset of the end.
    pub end: u32,
    /// 1-based line of the start.
    pub line: u32,
    /// 1-based column of the start.
    pub column: u32,
    /// 1-based line of the end.
    pub end_line: u32,
    /// 1-based column of the end.
    pub end_column: u32,
}

impl ErrorPos {
    /// The position of `span` within `text`.
    pub(crate) fn new(text: &str, span: Span) -> ErrorPos {
        let (at, line, column) = locate(text, span.start);
        let (end, end_line, end_column) = locate(text, span.end.max(span.start));
        ErrorPos {
            span,
            at: small(at),
            end: small(end),
            line: small(line),
            column: small(column),
            end_line: small(end_line),
            end_column: small(end_column),
        }
    }
}

fn small(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Character offset, line and column of a byte offset.
pub(crate) fn locate(text: &str, offset: usize) -> (usize, usize, usize) {
    let offset = offset.min(text.len());
    let head = text.get(..offset).unwrap_or(text);
    let chars = head.chars().count();
    let line = head.matches('\n').count() + 1;
    let line_start = head.rfind('\n').map(|idx| idx + 1).unwrap_or(0);
    let column = head[line_start..].chars().count() + 1;
    (chars, line, column)
}

impl SyntaxError {
    /// An error with a message and a position in `text`.
    pub(crate) fn at(text: &str, span: Span, mesg: impl Into<String>) -> SyntaxError {
        SyntaxError {
            mesg: mesg.into(),
            pos: Some(ErrorPos::new(text, span)),
            token: None,
            valu: None,
        }
    }

    /// The reference's `at`: the character offset of the error, when known.
    pub fn offset(&self) -> Option<usize> {
        self.pos.map(|pos| pos.at as usize)
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, fmt: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt.write_str(&self.mesg)
    }
}

impl std::error::Error for SyntaxError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_counts_characters() {
        let text = "ab\ncdé\nf";
        assert_eq!(locate(text, 0), (0, 1, 1));
        assert_eq!(locate(text, 3), (3, 2, 1));
        assert_eq!(locate(text, 7), (6, 2, 4));
        assert_eq!(locate(text, 8), (7, 3, 1));
        assert_eq!(locate(text, 99), (8, 3, 2));
    }
}
