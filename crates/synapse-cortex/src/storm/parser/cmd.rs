//! Command invocations and their argument lists.

use super::expr::Ctx;
use super::{Parser, Result};
use crate::storm::ast::*;
use crate::storm::lexer::Term;
use crate::storm::sets;

impl Parser<'_> {
    /// `name args...` (the current token is the command name).
    pub(super) fn command(&mut self) -> Result<CmdCall> {
        let name_tok = self.bump(sets::CMD_AFTER_NAME)?;
        let name = self.tok_text(name_tok).to_string();
        let mut args = Vec::new();
        loop {
            let tok = self.tok;
            match tok.term {
                Term::CmdOpt => {
                    self.bump(sets::CMD_AFTER_OPT)?;
                    args.push(Value {
                        kind: ValueKind::Str(self.tok_text(tok).to_string()),
                        span: self.span_of(tok),
                    });
                    if self.tok.term == Term::EqNoSpace {
                        self.bump(sets::CMD_OPT_VALUE)?;
                        args.push(self.cmd_arg()?);
                    }
                }
                term if is_arg_start(term) => args.push(self.cmd_arg()?),
                _ => break,
            }
        }
        Ok(CmdCall {
            name,
            args,
            name_span: self.span_of(name_tok),
        })
    }

    /// One argument: a subquery, a value or an unquoted word.
    fn cmd_arg(&mut self) -> Result<Value> {
        match self.tok.term {
            Term::LBrace => {
                let (query, span) = self.braced_query(sets::CMD_AFTER_ARGV_QUERY)?;
                let text = query.span.text(self.text).to_string();
                Ok(Value {
                    kind: ValueKind::ArgvQuery {
                        text,
                        query: Box::new(query),
                    },
                    span,
                })
            }
            Term::Dot => {
                // `.$var` is a universal prop value; otherwise the dot starts a word
                let start = self.tok.start;
                let dot = self.bump(sets::CMD_AFTER_DOT)?;
                if self.tok.term == Term::Dollar {
                    let value = self.varvalu_with(sets::VARTOKN_ONLY, Ctx::Storm)?;
                    let prop = UnivProp {
                        name: NamePart::Value(Box::new(value)),
                        span: self.span_from(start),
                    };
                    return Ok(Value {
                        span: prop.span,
                        kind: ValueKind::UnivPropValue(prop),
                    });
                }
                let mut text = self.tok_text(dot).to_string();
                self.word_punct_rest(&mut text)?;
                self.word_glue(&mut text)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_from(start),
                })
            }
            term if is_word_start(term) => self.wordtokn(),
            Term::Dollar
            | Term::RelName
            | Term::ColonDollar
            | Term::UnivName
            | Term::Hash
            | Term::HashSpace
            | Term::TripleQuotedString
            | Term::DoubleQuotedString
            | Term::SingleQuotedString
            | Term::Backquote
            | Term::LPar
            | Term::EmbedQueryStart => self.argvalu(Ctx::Storm),
            _ => Err(self.unexpected()),
        }
    }

    /// An unquoted command argument: words and punctuation glued together without spaces.
    fn wordtokn(&mut self) -> Result<Value> {
        let start = self.tok.start;
        let mut text = String::new();
        let tok = self.tok;
        match tok.term {
            Term::NonQuoteWord => {
                self.bump(sets::CMD_AFTER_WORD)?;
                text.push_str(self.tok_text(tok));
                if self.tok.term == Term::CommaSpace {
                    let comma = self.bump(sets::CMD_AFTER_NAMEISH)?;
                    text.push_str(self.tok_text(comma));
                }
            }
            Term::CmdName | Term::Props => {
                self.bump(sets::CMD_AFTER_NAMEISH)?;
                text.push_str(self.tok_text(tok));
            }
            _ => self.word_punct(&mut text)?,
        }
        self.word_glue(&mut text)?;
        Ok(Value {
            kind: ValueKind::Str(text),
            span: self.span_from(start),
        })
    }

    /// `(+|-|cmpr|[|.|->)+ (word|cmdname|", ")?`
    fn word_punct(&mut self, text: &mut String) -> Result<()> {
        if !is_punct(self.tok.term) {
            return Err(self.unexpected());
        }
        let tok = self.bump(sets::CMD_AFTER_PUNCT)?;
        text.push_str(self.tok_text(tok));
        self.word_punct_rest(text)
    }

    /// The rest of a punctuation run after its first token.
    fn word_punct_rest(&mut self, text: &mut String) -> Result<()> {
        while is_punct(self.tok.term) {
            let tok = self.bump(sets::CMD_AFTER_PUNCT)?;
            text.push_str(self.tok_text(tok));
        }
        let tok = self.tok;
        match tok.term {
            Term::NonQuoteWord => {
                self.bump(sets::CMD_AFTER_WORD)?;
                text.push_str(self.tok_text(tok));
            }
            Term::CmdName | Term::CommaSpace => {
                self.bump(sets::CMD_AFTER_NAMEISH)?;
                text.push_str(self.tok_text(tok));
            }
            _ => {}
        }
        Ok(())
    }

    /// `(,|=|]) tail` repeated, where the glue touches both sides.
    fn word_glue(&mut self, text: &mut String) -> Result<()> {
        while matches!(
            self.tok.term,
            Term::CommaNoSpace | Term::EqNoSpace | Term::RSqbNoSpace
        ) {
            let glue = self.bump(sets::CMD_AFTER_GLUE)?;
            text.push_str(self.tok_text(glue));
            let tok = self.tok;
            match tok.term {
                Term::NonQuoteWord => {
                    self.bump(sets::CMD_AFTER_WORD)?;
                    text.push_str(self.tok_text(tok));
                }
                Term::Props | Term::CmdName => {
                    self.bump(sets::CMD_AFTER_NAMEISH)?;
                    text.push_str(self.tok_text(tok));
                }
                _ => self.word_punct(text)?,
            }
        }
        Ok(())
    }
}

/// Tokens that start an argument (other than a `--option`).
fn is_arg_start(term: Term) -> bool {
    is_word_start(term)
        || matches!(
            term,
            Term::LBrace
                | Term::Dollar
                | Term::RelName
                | Term::ColonDollar
                | Term::UnivName
                | Term::Hash
                | Term::HashSpace
                | Term::TripleQuotedString
                | Term::DoubleQuotedString
                | Term::SingleQuotedString
                | Term::Backquote
                | Term::LPar
                | Term::EmbedQueryStart
        )
}

/// Tokens that start an unquoted word argument.
fn is_word_start(term: Term) -> bool {
    is_punct(term) || matches!(term, Term::NonQuoteWord | Term::CmdName | Term::Props)
}

/// Punctuation that may be glued into a word argument.
fn is_punct(term: Term) -> bool {
    matches!(
        term,
        Term::ExprPlus | Term::ExprMinus | Term::Cmpr | Term::LSqb | Term::Dot | Term::RightPivot
    )
}
