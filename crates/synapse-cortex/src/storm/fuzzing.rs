//! Fuzzing entry points for the Storm parser, shared by the `storm_parse` target in `fuzz/` and
//! by property tests (so CI exercises the same code on the stable toolchain). They never panic
//! on any input; they panic only when a checked property of the parser is broken.

use super::ast::{Oper, OperKind, Query, Span};
use super::{SyntaxError, parse_eval, parse_lookup, parse_query};

/// Parse `data` (as UTF-8, lossily) in every mode and check the results.
pub fn parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_text(&text);
}

/// Parse `text` in every mode and check the results.
pub fn check_text(text: &str) {
    match parse_query(text) {
        Ok(query) => check_query(text, &query),
        Err(err) => check_error(text, &err),
    }
    match parse_lookup(text) {
        Ok(lookup) => {
            if let Some(query) = &lookup.query {
                check_query(text, query);
            }
        }
        Err(err) => check_error(text, &err),
    }
    if let Err(err) = parse_eval(text) {
        check_error(text, &err);
    }
    // Parsing is a pure function of the text.
    assert_eq!(
        parse_query(text),
        parse_query(text),
        "parsing is not deterministic"
    );
}

/// Errors point inside the text, at character boundaries, with consistent line numbers.
fn check_error(text: &str, err: &SyntaxError) {
    assert!(!err.mesg.is_empty(), "empty error message");
    let Some(pos) = err.pos else { return };
    assert!(
        pos.span.start <= pos.span.end && pos.span.end <= text.len(),
        "error span {:?} outside the text",
        pos.span
    );
    assert!(
        text.is_char_boundary(pos.span.start) && text.is_char_boundary(pos.span.end),
        "error span splits a character"
    );
    assert_eq!(
        pos.at as usize,
        text[..pos.span.start].chars().count(),
        "error offset is not the character offset"
    );
    assert_eq!(
        pos.line as usize,
        text[..pos.span.start].matches('\n').count() + 1,
        "wrong error line"
    );
    assert!(pos.column >= 1);
}

/// Operator spans lie inside the query span, in order, on character boundaries.
fn check_query(text: &str, query: &Query) {
    check_span(text, query.span);
    let mut last_end = query.span.start;
    for oper in &query.opers {
        check_span(text, oper.span);
        assert!(
            oper.span.start >= last_end,
            "operator spans overlap or go backwards: {:?}",
            query.opers
        );
        assert!(
            oper.span.end <= query.span.end,
            "operator span {:?} outside its query {:?}",
            oper.span,
            query.span
        );
        last_end = oper.span.end;
        check_nested(text, oper);
    }
}

fn check_nested(text: &str, oper: &Oper) {
    let inner: Vec<&Query> = match &oper.kind {
        OperKind::SubQuery(sub) => vec![&sub.query],
        OperKind::For { body, .. } | OperKind::While { body, .. } => vec![&body.query],
        OperKind::If { clauses, otherwise } => clauses
            .iter()
            .map(|clause| &clause.body.query)
            .chain(otherwise.iter().map(|sub| &sub.query))
            .collect(),
        OperKind::Switch { cases, .. } => cases.iter().map(|case| &case.body.query).collect(),
        OperKind::Try { body, catches } => std::iter::once(body)
            .chain(catches.iter().map(|catch| &catch.body))
            .collect(),
        OperKind::Function(func) => vec![&func.body],
        OperKind::Init(query) | OperKind::Fini(query) | OperKind::Empty(query) => vec![query],
        _ => Vec::new(),
    };
    for query in inner {
        assert!(
            query.span.start >= oper.span.start && query.span.end <= oper.span.end,
            "nested query {:?} outside its operator {:?}",
            query.span,
            oper.span
        );
        check_query(text, query);
    }
}

fn check_span(text: &str, span: Span) {
    assert!(
        span.start <= span.end && span.end <= text.len(),
        "span {span:?} outside the text"
    );
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "span {span:?} splits a character"
    );
}
