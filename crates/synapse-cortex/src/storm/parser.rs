//! The Storm parser: a recursive-descent parser over the context-sensitive lexer.
//!
//! Every time the parser consumes a token it names the set of terminals that may come next
//! (see [`super::sets`]); the lexer scans the following token with exactly that set. The sets
//! mirror the reference grammar's parse states, which is what makes the same text lex the same
//! way here and in the reference (an unquoted `5` after `=`, a tag segment after `#`, a command
//! name at the start of an operator, ...).

mod cmd;
mod expr;
mod oper;

use super::ast::{Lookup, Query, Span, Value};
use super::error::{ErrorPos, SyntaxError};
use super::lexer::{Lexer, Term, TermSet, Token};
use super::sets;
use super::unescape;

/// Deepest nesting of subqueries, expressions and lists the parser accepts.
///
/// The reference has no explicit limit (Python's recursion limit ends it with an internal error
/// somewhere between 150 and 500 levels, depending on the construct); we refuse deeper input with
/// a syntax error.
pub const MAX_DEPTH: usize = 1000;

/// Stack that must remain before parsing a nested construct; below it a new segment is used.
const STACK_RED_ZONE: usize = 256 * 1024;
/// Size of the stack segments allocated for deep nesting.
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

type Result<T> = std::result::Result<T, SyntaxError>;

/// Parse a Storm query (the reference's `Parser(text).query()`).
pub fn parse_query(text: &str) -> std::result::Result<Query, SyntaxError> {
    let mut parser = Parser::new(text, sets::Q_START)?;
    let query = parser.query()?;
    parser.expect_end()?;
    parser.finish(query)
}

/// Parse a query in lookup (or search) mode: whitespace-separated indicators, then an optional
/// `| query` (the reference's `Parser(text).lookup()`).
pub fn parse_lookup(text: &str) -> std::result::Result<Lookup, SyntaxError> {
    let mut parser = Parser::new(text, sets::LOOK_START)?;
    let mut items = Vec::new();
    loop {
        let tok = parser.tok;
        let value = match tok.term {
            Term::DoubleQuotedString | Term::SingleQuotedString | Term::WhiteTokn => {
                let text = parser.string_token(tok)?;
                Value {
                    kind: super::ast::ValueKind::Str(text),
                    span: parser.span_of(tok),
                }
            }
            _ => break,
        };
        parser.bump(sets::LOOK_START)?;
        items.push(value);
    }
    let mut query = None;
    if parser.tok.term == Term::VBar {
        parser.bump(sets::Q_START)?;
        query = Some(parser.query()?);
    }
    parser.expect_end()?;
    let lookup = Lookup { items, query };
    parser.finish(lookup)
}

/// Split the command line of a Storm CLI command into arguments (the reference's
/// `Parser(text).cmdrargs()`): whitespace-separated words, quoted strings (kept with their
/// quotes), `--opt=valu` and `{ query }` (as the query's text).
pub fn parse_cmdrargs(text: &str) -> std::result::Result<Vec<String>, SyntaxError> {
    let mut parser = Parser::new(text, sets::CMDR_START)?;
    let mut argv: Vec<String> = Vec::new();
    loop {
        let arg = parser.cmdr_arg()?;
        argv.push(arg);
        if parser.tok.term == Term::EqNoSpace {
            parser.bump(sets::CMDR_NEXT)?;
            let value = parser.cmdr_arg()?;
            if let Some(last) = argv.last_mut() {
                last.push('=');
                last.push_str(&value);
            }
        }
        if parser.tok.term == Term::End {
            break;
        }
    }
    parser.finish(argv)
}

/// Parse a single value (the reference's `Parser(text).eval()`), e.g. for `$lib.eval`.
pub fn parse_eval(text: &str) -> std::result::Result<Value, SyntaxError> {
    let mut parser = Parser::new(text, sets::VALU_START)?;
    let value = parser.valu(expr::Ctx::Storm)?;
    parser.expect_end()?;
    parser.finish(value)
}

/// Recursive-descent parser state.
pub(crate) struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Token,
    /// The set `tok` was scanned with.
    tok_set: TermSet,
    /// The last consumed token.
    last: Option<Token>,
    /// Current nesting depth.
    depth: usize,
    /// The first error found by a check that the reference only runs after a successful parse
    /// (string escapes, duplicate arguments, ...): reported if the parse itself succeeds.
    deferred: Option<SyntaxError>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, start: TermSet) -> Result<Parser<'a>> {
        let lexer = Lexer::new(text);
        let tok = Token {
            term: Term::End,
            start: 0,
            end: 0,
        };
        let mut parser = Parser {
            text,
            lexer,
            tok,
            tok_set: start,
            last: None,
            depth: 0,
            deferred: None,
        };
        parser.tok = parser.scan(0, start)?;
        Ok(parser)
    }

    fn finish<T>(self, value: T) -> Result<T> {
        match self.deferred {
            Some(err) => Err(err),
            None => Ok(value),
        }
    }

    /// Scan the token at `pos` with `accept`, failing like the reference when nothing matches.
    fn scan(&mut self, pos: usize, accept: TermSet) -> Result<Token> {
        self.tok_set = accept;
        match self.lexer.scan(pos, accept) {
            Ok(tok) => Ok(tok),
            Err(at) => Err(self.lex_error(at, accept)),
        }
    }

    /// Consume the current token and scan the next one with `next`.
    fn bump(&mut self, next: TermSet) -> Result<Token> {
        let tok = self.tok;
        self.last = Some(tok);
        self.tok = self.scan(tok.end, next)?;
        Ok(tok)
    }

    /// Consume the current token if it is `term`, else fail.
    fn expect(&mut self, term: Term, next: TermSet) -> Result<Token> {
        if self.tok.term != term {
            return Err(self.unexpected());
        }
        self.bump(next)
    }

    fn expect_end(&self) -> Result<()> {
        if self.tok.term != Term::End {
            return Err(self.unexpected());
        }
        Ok(())
    }

    fn span_of(&self, tok: Token) -> Span {
        Span::new(tok.start, tok.end)
    }

    fn tok_text(&self, tok: Token) -> &'a str {
        let text: &'a str = self.text;
        text.get(tok.start..tok.end).unwrap_or("")
    }

    /// Span from `start` to the end of the last consumed token.
    fn span_from(&self, start: usize) -> Span {
        let end = self.last.map(|tok| tok.end).unwrap_or(start).max(start);
        Span::new(start, end)
    }

    /// Parse a nested construct: counts the nesting depth and grows the stack on demand, so
    /// that deeply nested input can neither overflow the thread's stack nor run away.
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            let span = Span::new(self.tok.start, self.tok.end);
            return Err(SyntaxError::at(
                self.text,
                span,
                format!("Query is nested too deeply (more than {MAX_DEPTH} levels)."),
            ));
        }
        self.depth += 1;
        let result = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || parse(self));
        self.depth -= 1;
        result
    }

    /// Remember an error that only counts if the parse otherwise succeeds.
    fn defer(&mut self, err: SyntaxError) {
        if self.deferred.is_none() {
            self.deferred = Some(err);
        }
    }

    /// The error for the current token not fitting the grammar here.
    fn unexpected(&self) -> SyntaxError {
        let tok = self.tok;
        if tok.term == Term::End {
            // The reference reports the end of input at the start of the last token.
            let at = self.last.map(|last| last.start).unwrap_or(0);
            return self.token_error(Term::End, Span::new(at, at), "");
        }
        self.token_error(tok.term, self.span_of(tok), self.tok_text(tok))
    }

    /// The error for text that no accepted terminal matches: describe it with the terminal the
    /// full grammar would have seen there.
    fn lex_error(&self, at: usize, accept: TermSet) -> SyntaxError {
        match self.lexer.scan(at, TermSet::ALL) {
            Ok(tok) if tok.term != Term::End => {
                let mut err = self.token_error(tok.term, self.span_of(tok), self.tok_text(tok));
                err.mesg = self.expected_message(tok.term, at, accept);
                err
            }
            _ => {
                let chr = self.text[at..].chars().next().unwrap_or(' ');
                let pos = ErrorPos::new(self.text, Span::new(at, at));
                SyntaxError {
                    mesg: format!(
                        "No terminal matches '{chr}' in the current parser context, at line {} col {}",
                        pos.line, pos.column
                    ),
                    pos: Some(pos),
                    token: None,
                    valu: None,
                }
            }
        }
    }

    fn token_error(&self, term: Term, span: Span, text: &str) -> SyntaxError {
        let mesg = self.expected_message(term, span.start, self.tok_set);
        let mut pos = ErrorPos::new(self.text, span);
        // the reference counts the end of a token from its text lines
        let lines: Vec<&str> = text.lines().collect();
        if term == Term::End {
            pos.end_line = pos.line.saturating_sub(1).max(1);
            pos.end_column = pos.column;
        } else if lines.len() > 1 {
            let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            pos.end_line = pos.line.saturating_add(count(lines.len() - 1));
            pos.end_column = count(lines.last().map(|l| l.chars().count()).unwrap_or(0));
        }
        SyntaxError {
            mesg,
            pos: Some(pos),
            token: Some(text.to_string()),
            valu: None,
        }
    }

    fn expected_message(&self, term: Term, at: usize, accept: TermSet) -> String {
        let pos = ErrorPos::new(self.text, Span::new(at, at));
        let mut expected: Vec<&str> = accept.iter().map(Term::english).collect();
        expected.sort_unstable();
        expected.dedup();
        format!(
            "Unexpected token '{}' at line {}, column {}, expecting one of: {}",
            term.english(),
            pos.line,
            pos.column,
            expected.join(", ")
        )
    }

    /// The string value of a quoted-string or word token.
    fn string_token(&mut self, tok: Token) -> Result<String> {
        let raw = self.tok_text(tok);
        Ok(match raw.as_bytes().first() {
            Some(b'"') => match unescape::double_quoted(raw) {
                Ok(text) => text,
                Err(err) => {
                    self.defer(self.escape_error(raw, err));
                    String::new()
                }
            },
            Some(b'\'') if tok.term == Term::TripleQuotedString => raw
                .get(3..raw.len().saturating_sub(3))
                .unwrap_or("")
                .to_string(),
            Some(b'\'') => raw
                .get(1..raw.len().saturating_sub(1))
                .unwrap_or("")
                .to_string(),
            _ => raw.to_string(),
        })
    }

    fn escape_error(&self, raw: &str, err: unescape::EscapeError) -> SyntaxError {
        let repr = crate::model::value::py_repr_str(raw);
        SyntaxError {
            mesg: format!("Invalid character in string {repr}: {}", err.0),
            pos: None,
            token: None,
            valu: Some(repr),
        }
    }

    /// Parse a query body (the caller has scanned its first token).
    fn query(&mut self) -> Result<Query> {
        self.nested(Self::query_body)
    }

    fn query_body(&mut self) -> Result<Query> {
        let start = self.tok.start;
        let last_before = self.last;
        let mut opers = Vec::new();
        if self.tok.term == Term::VBar {
            self.bump(sets::Q_AFTER_LEAD_PIPE)?;
        }
        // an empty edit block is an item without operators
        let mut items = 0;
        loop {
            match self.tok.term {
                Term::End | Term::RBrace => break,
                Term::VBar if items > 0 => {
                    self.bump(sets::Q_AFTER_PIPE)?;
                    self.item(&mut opers)?;
                }
                _ => self.item(&mut opers)?,
            }
            items += 1;
        }
        let consumed = self.last != last_before;
        let span = if consumed {
            self.span_from(start)
        } else {
            Span::new(start, start)
        };
        Ok(Query { opers, span })
    }

    /// One cmdr argument: a word, a quoted string (with its quotes), an option or a subquery.
    fn cmdr_arg(&mut self) -> Result<String> {
        let tok = self.tok;
        match tok.term {
            Term::LBrace => {
                let (query, _) = self.braced_query(sets::VF_SUBQ)?;
                Ok(query.span.text(self.text).to_string())
            }
            Term::CmdOpt | Term::CmdrTokn | Term::DoubleQuotedString | Term::SingleQuotedString => {
                self.bump(sets::CMDR_NEXT)?;
                Ok(self.tok_text(tok).to_string())
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `{ query }`: the current token is `{`; `after` is the set following `}`.
    fn braced_query(&mut self, after: TermSet) -> Result<(Query, Span)> {
        let open = self.expect(Term::LBrace, sets::Q_BRACE_START)?;
        let query = self.query()?;
        if self.tok.term != Term::RBrace {
            return Err(self.unexpected());
        }
        self.bump(after)?;
        Ok((query, self.span_from(open.start)))
    }
}

#[cfg(test)]
mod tests;
