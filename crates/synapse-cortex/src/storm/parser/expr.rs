//! Values and expressions: literals, variables, dereferences, calls, lists, dicts, format
//! strings, embedded queries and `$( ... )` expressions.

use super::{Parser, Result};
use crate::storm::ast::*;
use crate::storm::error::SyntaxError;
use crate::storm::lexer::{Term, TermSet, Token};
use crate::storm::sets;
use crate::storm::unescape;

/// Where a value is parsed: decides which terminals may follow its last token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// A value in a Storm operator (after `=`, as an argument, ...).
    Storm,
    /// The variable at the start of an operator (`$x.y = ...`).
    Oper,
    /// Inside an expression (`$( ... )`, format string expressions, JSON literals).
    Expr,
    /// A variable in the verb list of an edge walk (`-(($a, $b))>`).
    WalkVerb,
}

impl Ctx {
    /// After a variable name, a dereferenced name or a call.
    pub(super) fn after_var(self) -> TermSet {
        match self {
            Ctx::Storm => sets::VF_VAR,
            Ctx::Oper => sets::VAR_DEREF_AT_OPER,
            Ctx::Expr => sets::E_AFTER_VAR,
            Ctx::WalkVerb => sets::VAR_IN_MINUS_PAREN_PAREN,
        }
    }

    /// After the `)` of a call.
    fn after_call(self) -> TermSet {
        match self {
            Ctx::Storm | Ctx::Oper | Ctx::WalkVerb => sets::VF_VAR,
            Ctx::Expr => sets::E_AFTER_VAR,
        }
    }

    /// After the `)` of a `$( ... )` expression or the closing backquote of a format string.
    fn after_expr(self) -> TermSet {
        match self {
            Ctx::Storm | Ctx::Oper | Ctx::WalkVerb => sets::VF_EXPR,
            Ctx::Expr => sets::E_AFTER_VAR,
        }
    }
}

/// A parsed item of a parenthesized value, before knowing whether the parentheses hold a list
/// or an expression.
struct ParenAtom {
    value: Value,
    /// May be an item of a list.
    list_ok: bool,
    /// May be (the start of) an expression.
    expr_ok: bool,
}

impl Parser<'_> {
    /// `_valu`: any value, including unquoted words and subqueries.
    pub(super) fn valu(&mut self, ctx: Ctx) -> Result<Value> {
        let tok = self.tok;
        match tok.term {
            Term::NonQuoteWord => {
                self.bump(sets::VF_WORD)?;
                Ok(Value {
                    kind: ValueKind::Str(self.tok_text(tok).to_string()),
                    span: self.span_of(tok),
                })
            }
            Term::LBrace => self.subquery_value(sets::VF_SUBQ),
            _ => self.argvalu(ctx),
        }
    }

    /// `_argvalu`: a value without unquoted words and subqueries.
    pub(super) fn argvalu(&mut self, ctx: Ctx) -> Result<Value> {
        let tok = self.tok;
        match tok.term {
            Term::Dollar => self.dollar_value(ctx),
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::VF_STR)?;
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::RelPropValue(prop),
                })
            }
            Term::UnivName | Term::Dot => {
                let prop = self.univprop(sets::VF_UNIV)?;
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::UnivPropValue(prop),
                })
            }
            Term::Hash | Term::HashSpace => self.tag_value(ctx),
            Term::TripleQuotedString | Term::DoubleQuotedString | Term::SingleQuotedString => {
                self.bump(sets::VF_STR)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Backquote => self.formatstring(ctx),
            Term::LPar => self.paren_value(),
            Term::EmbedQueryStart => self.embedquery(),
            _ => Err(self.unexpected()),
        }
    }

    /// `{ query }` as a value.
    pub(super) fn subquery_value(&mut self, after: TermSet) -> Result<Value> {
        let (query, span) = self.braced_query(after)?;
        Ok(Value {
            kind: ValueKind::SubQuery(Box::new(SubQuery {
                query,
                yields: false,
                span,
            })),
            span,
        })
    }

    /// `$name...` or `$( expr )...` (the current token is `$`).
    pub(super) fn dollar_value(&mut self, ctx: Ctx) -> Result<Value> {
        let dollar = self.bump(sets::DOLLAR_NEXT)?;
        if self.tok.term == Term::LPar {
            let inner = self.dollar_expr(self.tok.start, ctx)?;
            return self.dollar_chain(inner, ctx, false);
        }
        self.var_chain(dollar.start, ctx)
    }

    /// `$name...` in contexts that do not allow `$( ... )` (the current token is `$`).
    pub(super) fn varvalu(&mut self, ctx: Ctx) -> Result<Value> {
        self.varvalu_with(sets::VARTOKN_ONLY, ctx)
    }

    /// `$name...` scanning the name with `after_dollar`.
    pub(super) fn varvalu_with(&mut self, after_dollar: TermSet, ctx: Ctx) -> Result<Value> {
        let dollar = self.expect(Term::Dollar, after_dollar)?;
        self.var_chain(dollar.start, ctx)
    }

    /// The variable atom after `:$` (the current token is the name).
    pub(super) fn var_atom(&mut self, ctx: Ctx) -> Result<Value> {
        let start = self.tok.start;
        self.var_chain(start, ctx)
    }

    /// A variable name followed by dereferences and calls (the current token is the name).
    ///
    /// Like the reference, the value's span starts at the name, not at a `$` before it.
    fn var_chain(&mut self, _dollar: usize, ctx: Ctx) -> Result<Value> {
        let tok = self.tok;
        let start = tok.start;
        match tok.term {
            Term::VarTokn | Term::ExprVarTokn => {}
            _ => return Err(self.unexpected()),
        }
        self.bump(ctx.after_var())?;
        let name = self.string_token(tok)?;
        let value = Value {
            kind: ValueKind::Var(name),
            span: self.span_from(start),
        };
        self.deref_chain(value, start, ctx)
    }

    /// `.key` and `(args)` suffixes.
    fn deref_chain(&mut self, mut value: Value, start: usize, ctx: Ctx) -> Result<Value> {
        loop {
            match self.tok.term {
                Term::Dot => {
                    let key = self.deref_key(ctx, ctx.after_var())?;
                    value = Value {
                        kind: ValueKind::Deref {
                            base: Box::new(value),
                            key: Box::new(key),
                        },
                        span: self.span_from(start),
                    };
                }
                Term::LParNoSpace => value = self.call(value, ctx.after_call())?,
                _ => return Ok(value),
            }
        }
    }

    /// The suffixes allowed after `$( ... )` and `( ... )`.
    fn dollar_chain(&mut self, inner: Value, ctx: Ctx, inner_expr: bool) -> Result<Value> {
        let start = inner.span.start;
        let mut value = inner;
        loop {
            match self.tok.term {
                Term::Dot => {
                    let key = if inner_expr {
                        self.inner_deref_key()?
                    } else {
                        // names dereferenced from an expression have their own follow set
                        let after = if ctx == Ctx::Expr {
                            ctx.after_var()
                        } else {
                            sets::DEREF_NAME_AFTER_EXPR
                        };
                        self.deref_key(ctx, after)?
                    };
                    value = Value {
                        kind: ValueKind::Deref {
                            base: Box::new(value),
                            key: Box::new(key),
                        },
                        span: self.span_from(start),
                    };
                }
                Term::LParNoSpace => value = self.call(value, ctx.after_call())?,
                _ => return Ok(value),
            }
        }
    }

    /// `.name`, `.$var`, ``.`fmt` `` or `.(expr)` (the current token is `.`); `after_name`
    /// follows a literal name.
    pub(super) fn deref_key(&mut self, ctx: Ctx, after_name: TermSet) -> Result<Value> {
        self.bump(sets::DEREF_KEY)?;
        let tok = self.tok;
        match tok.term {
            Term::VarTokn => {
                self.bump(after_name)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Dollar => {
                self.bump(sets::DOLLAR_NEXT)?;
                if self.tok.term == Term::LPar {
                    return self.dollar_expr(self.tok.start, ctx);
                }
                let name = self.expect(Term::VarTokn, ctx.after_var())?;
                let text = self.string_token(name)?;
                Ok(Value {
                    kind: ValueKind::Var(text),
                    span: self.span_of(name),
                })
            }
            Term::Backquote => self.formatstring(ctx),
            Term::LPar => self.dollar_expr(tok.start, ctx),
            _ => Err(self.unexpected()),
        }
    }

    /// The deref key after an inner expression (`("a").upper`): expression-style names.
    fn inner_deref_key(&mut self) -> Result<Value> {
        self.bump(sets::INNER_DEREF_KEY)?;
        let tok = self.tok;
        match tok.term {
            Term::ExprVarTokn => {
                self.bump(sets::E_AFTER_VAR)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Dollar => {
                self.bump(sets::DOLLAR_NEXT_EXPR)?;
                if self.tok.term == Term::LPar {
                    return self.inner_paren_expr(self.tok.start);
                }
                let name = self.expect(Term::ExprVarTokn, sets::E_AFTER_VAR)?;
                let text = self.string_token(name)?;
                Ok(Value {
                    kind: ValueKind::Var(text),
                    span: self.span_of(name),
                })
            }
            Term::Backquote => self.formatstring(Ctx::Expr),
            Term::LPar => self.inner_paren_expr(tok.start),
            _ => Err(self.unexpected()),
        }
    }

    /// `( expr )` after a `$` (the current token is `(`).
    fn dollar_expr(&mut self, start: usize, ctx: Ctx) -> Result<Value> {
        self.bump(sets::EXPR_START)?;
        let expr = self.expror(None)?;
        self.expect(Term::RPar, ctx.after_expr())?;
        Ok(Value {
            kind: ValueKind::DollarExpr(Box::new(expr)),
            span: self.span_from(start),
        })
    }

    /// `( expr )` inside an expression (the current token is `(`).
    fn inner_paren_expr(&mut self, start: usize) -> Result<Value> {
        self.bump(sets::EXPR_START)?;
        let expr = self.expror(None)?;
        self.expect(Term::RPar, sets::E_AFTER_VAR)?;
        Ok(Value {
            kind: ValueKind::DollarExpr(Box::new(expr)),
            span: self.span_from(start),
        })
    }

    /// `func(args)` (the current token is the `(` touching the function).
    pub(super) fn call(&mut self, func: Value, after: TermSet) -> Result<Value> {
        self.nested(|parser| parser.call_body(func, after))
    }

    fn call_body(&mut self, func: Value, after: TermSet) -> Result<Value> {
        let start = func.span.start;
        self.bump(sets::CALL_ARGS_START)?;
        let mut args: Vec<Value> = Vec::new();
        let mut kwargs: Vec<Kwarg> = Vec::new();
        if self.tok.term == Term::Comma {
            self.bump(sets::RPAR_ONLY)?;
        } else {
            while self.tok.term != Term::RPar {
                let tok = self.tok;
                let mut kwarg = None;
                let arg = if matches!(tok.term, Term::NonQuoteWord | Term::VarTokn) {
                    self.bump(sets::CALL_AFTER_WORD)?;
                    let text = self.string_token(tok)?;
                    if matches!(self.tok.term, Term::EqSpace | Term::EqNoSpace) {
                        self.bump(sets::VALU_START)?;
                        let value = self.valu(Ctx::Storm)?;
                        kwarg = Some(Kwarg {
                            name: text,
                            value,
                            span: self.span_from(tok.start),
                        });
                        None
                    } else {
                        Some(Value {
                            kind: ValueKind::Str(text),
                            span: self.span_of(tok),
                        })
                    }
                } else {
                    Some(self.valu(Ctx::Storm)?)
                };
                match (arg, kwarg) {
                    (Some(arg), _) => {
                        if !kwargs.is_empty() {
                            let err = SyntaxError::at(
                                self.text,
                                arg.span,
                                "Positional argument follows keyword argument in function call",
                            );
                            self.defer(err);
                        }
                        args.push(arg);
                    }
                    (None, Some(kwarg)) => {
                        if kwargs.iter().any(|other| other.name == kwarg.name) {
                            let mesg = format!(
                                "Duplicate keyword argument \"{}\" in function call",
                                kwarg.name
                            );
                            self.defer(SyntaxError::at(self.text, self.span_of(tok), mesg));
                        }
                        kwargs.push(kwarg);
                    }
                    (None, None) => {}
                }
                match self.tok.term {
                    Term::Comma => {
                        self.bump(sets::CALL_ARGS_AFTER_COMMA)?;
                    }
                    Term::RPar => break,
                    _ => return Err(self.unexpected()),
                }
            }
        }
        self.expect(Term::RPar, after)?;
        Ok(Value {
            kind: ValueKind::Call {
                func: Box::new(func),
                args,
                kwargs,
            },
            span: self.span_from(start),
        })
    }

    /// The variable atom of a conditional prop set (`:prop*$var.x=...`), which has its own
    /// follow sets (the current token is the name).
    pub(super) fn cond_var_atom(&mut self) -> Result<Value> {
        let tok = self.tok;
        let start = tok.start;
        self.expect(Term::VarTokn, sets::COND_VAR_AFTER)?;
        let name = self.string_token(tok)?;
        let mut value = Value {
            kind: ValueKind::Var(name),
            span: self.span_from(start),
        };
        loop {
            match self.tok.term {
                Term::Dot => {
                    self.bump(sets::COND_VAR_DEREF_KEY)?;
                    let ktok = self.tok;
                    let key = match ktok.term {
                        Term::VarTokn => {
                            self.bump(sets::COND_VAR_AFTER)?;
                            Value {
                                kind: ValueKind::Str(self.string_token(ktok)?),
                                span: self.span_of(ktok),
                            }
                        }
                        Term::Dollar => {
                            self.bump(sets::DOLLAR_NEXT)?;
                            if self.tok.term == Term::LPar {
                                self.cond_dollar_expr(self.tok.start)?
                            } else {
                                let name = self.expect(Term::VarTokn, sets::COND_VAR_AFTER)?;
                                Value {
                                    kind: ValueKind::Var(self.string_token(name)?),
                                    span: Span::new(ktok.start, name.end),
                                }
                            }
                        }
                        Term::LPar => self.cond_dollar_expr(ktok.start)?,
                        _ => return Err(self.unexpected()),
                    };
                    value = Value {
                        kind: ValueKind::Deref {
                            base: Box::new(value),
                            key: Box::new(key),
                        },
                        span: self.span_from(start),
                    };
                }
                Term::LParNoSpace => value = self.call(value, sets::COND_VAR_CALL_CLOSE)?,
                _ => return Ok(value),
            }
        }
    }

    fn cond_dollar_expr(&mut self, start: usize) -> Result<Value> {
        self.bump(sets::EXPR_START)?;
        let expr = self.expror(None)?;
        self.expect(Term::RPar, sets::COND_VAR_AFTER)?;
        Ok(Value {
            kind: ValueKind::DollarExpr(Box::new(expr)),
            span: self.span_from(start),
        })
    }

    /// `#tag` or `#tag:prop` as a value (the current token is the `#`).
    pub(super) fn tag_value(&mut self, ctx: Ctx) -> Result<Value> {
        let start = self.tok.start;
        let tag = self.tagname(ctx)?;
        if self.tok.term == Term::ColonNoSpace {
            let prop = self.tagprop_rest(tag, ctx)?;
            return Ok(Value {
                span: prop.span,
                kind: ValueKind::TagPropValue(prop),
            });
        }
        Ok(Value {
            kind: ValueKind::TagValue(tag),
            span: self.span_from(start),
        })
    }

    /// A tag name (the current token is `#`).
    pub(super) fn tagname(&mut self, ctx: Ctx) -> Result<TagName> {
        let start = self.tok.start;
        self.bump(sets::TAG_START)?;
        self.tagname_body(start, ctx)
    }

    /// The part of a tag name after the `#`.
    pub(super) fn tagname_body(&mut self, start: usize, ctx: Ctx) -> Result<TagName> {
        if self.tok.term == Term::Dollar {
            let value = self.varvalu_with(sets::VARTOKN_ONLY, ctx)?;
            return Ok(TagName {
                kind: TagNameKind::Value(Box::new(value)),
                span: self.span_from(start),
            });
        }
        let segs = self.tag_segments(Term::TagSegNoVar, sets::VF_TAG, sets::TAG_START)?;
        Ok(TagName {
            kind: TagNameKind::Segments(segs),
            span: self.span_from(start),
        })
    }

    /// `seg(.seg|.$var)*`
    fn tag_segments(
        &mut self,
        seg_term: Term,
        after_seg: TermSet,
        after_dot: TermSet,
    ) -> Result<Vec<TagSegment>> {
        let mut segs = Vec::new();
        let tok = self.expect(seg_term, after_seg)?;
        segs.push(TagSegment::Text(
            self.tok_text(tok).to_string(),
            self.span_of(tok),
        ));
        while self.tok.term == Term::Dot {
            self.bump(after_dot)?;
            let tok = self.tok;
            if tok.term == Term::Dollar {
                self.bump(sets::VARTOKN_ONLY)?;
                let name = self.expect(Term::VarTokn, sets::VF_VAR)?;
                segs.push(TagSegment::Var(
                    self.string_token(name)?,
                    Span::new(name.start, name.end),
                ));
            } else {
                let tok = self.expect(seg_term, after_seg)?;
                segs.push(TagSegment::Text(
                    self.tok_text(tok).to_string(),
                    self.span_of(tok),
                ));
            }
        }
        Ok(segs)
    }

    /// A tag glob (the current token is `#`).
    pub(super) fn tagmatch(&mut self) -> Result<TagName> {
        let start = self.tok.start;
        if self.tok.term == Term::MatchHashWild {
            self.bump(sets::WILDTAG_ONLY)?;
            let segs = self.tag_segments(
                Term::WildTagSegNoVar,
                sets::AFTER_WILDTAG,
                sets::WILDTAG_AFTER_DOT,
            )?;
            return Ok(TagName {
                kind: TagNameKind::Segments(segs),
                span: self.span_from(start),
            });
        }
        self.expect(Term::MatchHash, sets::TAG_START)?;
        self.tagname_body(start, Ctx::Storm)
    }

    /// `:prop` after a tag name (the current token is `:`); `after` follows a literal name.
    pub(super) fn tagprop_name(&mut self, ctx: Ctx, after: TermSet) -> Result<NamePart> {
        self.bump(sets::TAGPROP_NAME)?;
        let tok = self.tok;
        match tok.term {
            Term::BaseProp => {
                self.bump(after)?;
                Ok(NamePart::Name(
                    self.tok_text(tok).to_string(),
                    self.span_of(tok),
                ))
            }
            Term::Dollar => Ok(NamePart::Value(Box::new(
                self.varvalu_with(sets::VARTOKN_ONLY, ctx)?,
            ))),
            _ => Err(self.unexpected()),
        }
    }

    /// `tag:prop` given the tag (the current token is `:`).
    pub(super) fn tagprop_rest(&mut self, tag: TagName, ctx: Ctx) -> Result<TagProp> {
        let start = tag.span.start;
        let prop = self.tagprop_name(ctx, sets::VF_UNIV)?;
        Ok(TagProp {
            tag,
            prop,
            span: self.span_from(start),
        })
    }

    /// A format string (the current token is the opening backquote).
    pub(super) fn formatstring(&mut self, ctx: Ctx) -> Result<Value> {
        self.nested(|parser| parser.formatstring_body(ctx))
    }

    fn formatstring_body(&mut self, ctx: Ctx) -> Result<Value> {
        let open = self.bump(sets::FMT_BODY)?;
        let mut parts = Vec::new();
        loop {
            let tok = self.tok;
            match tok.term {
                Term::FormatText => {
                    self.bump(sets::FMT_BODY)?;
                    let raw = self.tok_text(tok);
                    let text = match unescape::format_text(raw) {
                        Ok(text) => text,
                        Err(err) => {
                            self.defer(self.escape_error(&format!("'''{raw}'''"), err));
                            String::new()
                        }
                    };
                    parts.push(Value {
                        kind: ValueKind::Str(text),
                        span: self.span_of(tok),
                    });
                }
                Term::LBrace => {
                    self.bump(sets::EXPR_START)?;
                    parts.push(self.expror(None)?);
                    self.expect(Term::RBrace, sets::FMT_BODY)?;
                }
                Term::Backquote => {
                    self.bump(ctx.after_expr())?;
                    break;
                }
                _ => return Err(self.unexpected()),
            }
        }
        Ok(Value {
            kind: ValueKind::FormatString(parts),
            span: self.span_from(open.start),
        })
    }

    /// `${ query }` (the current token is `${`).
    pub(super) fn embedquery(&mut self) -> Result<Value> {
        let open = self.bump(sets::Q_BRACE_START)?;
        let query = self.query()?;
        if self.tok.term != Term::RBrace {
            return Err(self.unexpected());
        }
        // the state after an embedded query's `}` is the same wherever it appears
        let close = self.bump(sets::VF_EMBED)?;
        let text = self
            .text
            .get(open.end..close.start)
            .unwrap_or("")
            .to_string();
        Ok(Value {
            kind: ValueKind::EmbedQuery {
                text,
                query: Box::new(query),
            },
            span: Span::new(open.start, close.end),
        })
    }

    /// `( ... )` as a value: a list (`(a, b)`) or an expression (`(1 + 2)`), decided by what
    /// follows the first item (the current token is `(`).
    fn paren_value(&mut self) -> Result<Value> {
        let open = self.bump(sets::PAREN_FIRST)?;
        let value = self.paren_after_open(open, sets::VF_LIST, Ctx::Storm)?;
        Ok(value)
    }

    /// The contents of a parenthesized value after its `(`; `after_list` follows a list's `)`.
    fn paren_after_open(&mut self, open: Token, after_list: TermSet, ctx: Ctx) -> Result<Value> {
        self.nested(|parser| parser.paren_after_open_body(open, after_list, ctx))
    }

    fn paren_after_open_body(
        &mut self,
        open: Token,
        after_list: TermSet,
        ctx: Ctx,
    ) -> Result<Value> {
        let atom = match self.tok.term {
            Term::RPar => {
                let close = self.bump(after_list)?;
                return Ok(Value {
                    kind: ValueKind::List(Vec::new()),
                    span: Span::new(open.start, close.end),
                });
            }
            Term::ListTokn => {
                let tok = self.bump(sets::COMMA_RPAR)?;
                let item = Value {
                    kind: ValueKind::Str(self.tok_text(tok).to_string()),
                    span: self.span_of(tok),
                };
                return self.list_rest(open, vec![item], after_list);
            }
            Term::Number
            | Term::HexNumber
            | Term::OctNumber
            | Term::Bool
            | Term::Null
            | Term::NotOp
            | Term::ExprNeg
            | Term::LSqb => {
                let expr = self.expror(None)?;
                self.expect(Term::RPar, ctx.after_expr())?;
                let value = Value {
                    kind: ValueKind::DollarExpr(Box::new(expr)),
                    span: self.span_from(open.start),
                };
                return self.dollar_chain(value, ctx, ctx == Ctx::Expr);
            }
            Term::LBrace => {
                if self.brace_is_dict()? {
                    let value = self.exprdict()?;
                    ParenAtom {
                        value,
                        list_ok: false,
                        expr_ok: true,
                    }
                } else {
                    let value = self.subquery_value(sets::VF_SUBQ)?;
                    ParenAtom {
                        value,
                        list_ok: true,
                        expr_ok: false,
                    }
                }
            }
            Term::LPar => {
                let inner_open = self.bump(sets::PAREN_FIRST)?;
                let inner = self.paren_after_open(inner_open, sets::VF_LIST, Ctx::Expr)?;
                let is_list = matches!(inner.kind, ValueKind::List(_));
                ParenAtom {
                    value: inner,
                    list_ok: true,
                    expr_ok: !is_list,
                }
            }
            Term::TripleQuotedString | Term::DoubleQuotedString | Term::SingleQuotedString => {
                let tok = self.bump(sets::PAREN_STR_AFTER)?;
                let text = self.string_token(tok)?;
                let value = Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                };
                ParenAtom {
                    value,
                    list_ok: true,
                    expr_ok: true,
                }
            }
            _ => ParenAtom {
                value: self.expr_atom()?,
                list_ok: true,
                expr_ok: true,
            },
        };
        match self.tok.term {
            Term::Comma if atom.list_ok => self.list_rest(open, vec![atom.value], after_list),
            Term::RPar if atom.expr_ok => {
                self.bump(ctx.after_expr())?;
                let value = Value {
                    kind: ValueKind::DollarExpr(Box::new(atom.value)),
                    span: self.span_from(open.start),
                };
                self.dollar_chain(value, ctx, ctx == Ctx::Expr)
            }
            Term::Comma | Term::RPar => Err(self.unexpected()),
            _ if atom.expr_ok => {
                let expr = self.expror(Some(atom.value))?;
                self.expect(Term::RPar, ctx.after_expr())?;
                let value = Value {
                    kind: ValueKind::DollarExpr(Box::new(expr)),
                    span: self.span_from(open.start),
                };
                self.dollar_chain(value, ctx, ctx == Ctx::Expr)
            }
            _ => Err(self.unexpected()),
        }
    }

    /// The items of a list after its first item (the current token is `,`).
    fn list_rest(
        &mut self,
        open: Token,
        mut items: Vec<Value>,
        after_list: TermSet,
    ) -> Result<Value> {
        loop {
            match self.tok.term {
                Term::Comma => {
                    self.bump(sets::LIST_AFTER_COMMA)?;
                    if self.tok.term == Term::RPar {
                        break;
                    }
                    items.push(self.list_item()?);
                }
                Term::RPar if items.len() > 1 => break,
                _ => return Err(self.unexpected()),
            }
        }
        let close = self.bump(after_list)?;
        Ok(Value {
            kind: ValueKind::List(items),
            span: Span::new(open.start, close.end),
        })
    }

    /// One item of a list after a comma (`listvalu`).
    fn list_item(&mut self) -> Result<Value> {
        let tok = self.tok;
        match tok.term {
            Term::ListTokn => {
                self.bump(sets::COMMA_RPAR)?;
                Ok(Value {
                    kind: ValueKind::Str(self.tok_text(tok).to_string()),
                    span: self.span_of(tok),
                })
            }
            Term::LBrace => self.subquery_value(sets::VF_SUBQ),
            Term::LPar => {
                let open = self.bump(sets::PAREN_FIRST)?;
                let value = self.paren_after_open(open, sets::VF_LIST, Ctx::Expr)?;
                Ok(value)
            }
            Term::TripleQuotedString | Term::DoubleQuotedString | Term::SingleQuotedString => {
                self.bump(sets::COMMA_RPAR)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Dollar
            | Term::Backquote
            | Term::EmbedQueryStart
            | Term::ExprRelName
            | Term::ColonDollar
            | Term::ExprUnivName
            | Term::Dot
            | Term::Hash
            | Term::HashSpace => self.expr_atom(),
            _ => Err(self.unexpected()),
        }
    }

    /// `(a, b)` in contexts that only allow a list (the current token is `(`).
    pub(super) fn valulist_value(&mut self) -> Result<Value> {
        let open = self.bump(sets::LIST_START)?;
        if self.tok.term == Term::RPar {
            let close = self.bump(sets::VF_LIST)?;
            return Ok(Value {
                kind: ValueKind::List(Vec::new()),
                span: Span::new(open.start, close.end),
            });
        }
        let first = self.list_item()?;
        let value = self.list_rest(open, vec![first], sets::VF_LIST)?;
        Ok(value)
    }

    /// After `( {`: does the brace start a dict (`{"a": 1}`) rather than a subquery? The
    /// reference parses both at once and the dict wins whenever the next token can start a key.
    fn brace_is_dict(&mut self) -> Result<bool> {
        // Look at the token after `{` with the merged set, without consuming anything.
        let Some(after) = self.peek_after(sets::PAREN_BRACE) else {
            return Ok(true);
        };
        Ok(match after.term {
            Term::VarTokn
            | Term::Number
            | Term::HexNumber
            | Term::OctNumber
            | Term::Bool
            | Term::Null
            | Term::DoubleQuotedString
            | Term::SingleQuotedString
            | Term::TripleQuotedString
            | Term::Backquote
            | Term::ExprRelName
            | Term::ExprUnivName
            | Term::EmbedQueryStart
            | Term::RBrace
            | Term::Dot
            | Term::Dollar
            | Term::ColonDollar => true,
            Term::Hash | Term::HashSpace => {
                // `##tag` is a tag-of-tag lift
                !matches!(self.lexer.scan(after.end, sets::TAG_LIFT_START), Ok(next) if next.term == Term::Hash)
            }
            Term::LPar => {
                // `()` and `(,` only fit a variable list
                !matches!(self.lexer.scan(after.end, sets::PAREN_FIRST_OR_VARLIST), Ok(next) if matches!(next.term, Term::RPar | Term::Comma))
            }
            Term::LSqb => {
                // an edit block unless the next token starts an expression
                matches!(
                    self.lexer.scan(after.end, sets::LSQB_MERGED),
                    Ok(next) if matches!(
                        next.term,
                        Term::Number | Term::HexNumber | Term::OctNumber | Term::Bool | Term::Null | Term::VarTokn
                            | Term::DoubleQuotedString | Term::SingleQuotedString | Term::TripleQuotedString
                            | Term::Backquote | Term::ExprRelName | Term::ExprUnivName | Term::LSqb | Term::LBrace
                            | Term::Dollar | Term::EmbedQueryStart
                    )
                )
            }
            Term::LBrace => true,
            _ => false,
        })
    }

    /// The token after the current one, scanned with `accept`, without consuming anything.
    fn peek_after(&self, accept: TermSet) -> Option<Token> {
        self.lexer.scan(self.tok.end, accept).ok()
    }

    /// `[ ... ]` in an expression (the current token is `[`).
    fn exprlist(&mut self) -> Result<Value> {
        self.nested(Self::exprlist_body)
    }

    fn exprlist_body(&mut self) -> Result<Value> {
        let open = self.bump(sets::JSON_LIST_START)?;
        let mut items = Vec::new();
        while self.tok.term != Term::RSqb {
            items.push(self.json_item(sets::JSON_LIST_AFTER_WORD)?);
            match self.tok.term {
                Term::Comma => {
                    self.bump(sets::JSON_LIST_START)?;
                }
                Term::RSqb => break,
                _ => return Err(self.unexpected()),
            }
        }
        self.bump(sets::E_AFTER_ATOM)?;
        Ok(Value {
            kind: ValueKind::ExprList(items),
            span: self.span_from(open.start),
        })
    }

    /// `{ key: value, ... }` in an expression (the current token is `{`).
    fn exprdict(&mut self) -> Result<Value> {
        self.nested(Self::exprdict_body)
    }

    fn exprdict_body(&mut self) -> Result<Value> {
        let open = self.bump(sets::JSON_DICT_START)?;
        let mut pairs = Vec::new();
        while self.tok.term != Term::RBrace {
            let key = self.json_item(sets::JSON_DICT_AFTER_KEY)?;
            match self.tok.term {
                Term::Colon | Term::ExprColonNoSpace => {
                    self.bump(sets::JSON_DICT_VALUE)?;
                }
                _ => return Err(self.unexpected()),
            }
            let value = self.json_item(sets::JSON_DICT_AFTER_VALUE)?;
            pairs.push((key, value));
            match self.tok.term {
                Term::Comma => {
                    self.bump(sets::JSON_DICT_START)?;
                }
                Term::RBrace => break,
                _ => return Err(self.unexpected()),
            }
        }
        self.bump(sets::E_AFTER_ATOM)?;
        Ok(Value {
            kind: ValueKind::ExprDict(pairs),
            span: self.span_from(open.start),
        })
    }

    /// An item of a JSON-style list or dict: an expression atom or a bare word, which must be a
    /// number.
    fn json_item(&mut self, after_word: TermSet) -> Result<Value> {
        let tok = self.tok;
        if tok.term != Term::VarTokn {
            return self.expr_atom();
        }
        self.bump(after_word)?;
        let raw = self.tok_text(tok);
        if raw.starts_with('"') || raw.starts_with('\'') {
            let text = self.string_token(tok)?;
            return Ok(Value {
                kind: ValueKind::Str(text),
                span: self.span_of(tok),
            });
        }
        let kind = match py_int(raw) {
            Some(kind) => kind,
            None => {
                self.defer(SyntaxError::at(
                    self.text,
                    self.span_of(tok),
                    "Unexpected unquoted string in JSON expression",
                ));
                ValueKind::Str(raw.to_string())
            }
        };
        Ok(Value {
            kind,
            span: self.span_of(tok),
        })
    }

    /// `expror`, optionally starting from an already parsed first atom.
    pub(super) fn expror(&mut self, first: Option<Value>) -> Result<Value> {
        self.nested(|parser| parser.expror_body(first))
    }

    fn expror_body(&mut self, first: Option<Value>) -> Result<Value> {
        let mut lhs = self.exprand(first)?;
        while self.tok.term == Term::Or {
            self.bump(sets::EXPR_START)?;
            let rhs = self.exprand(None)?;
            let span = lhs.span.to(rhs.span);
            lhs = Value {
                kind: ValueKind::Or(Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn exprand(&mut self, first: Option<Value>) -> Result<Value> {
        let mut lhs = self.exprnot(first)?;
        while self.tok.term == Term::And {
            self.bump(sets::EXPR_START)?;
            let rhs = self.exprnot(None)?;
            let span = lhs.span.to(rhs.span);
            lhs = Value {
                kind: ValueKind::And(Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn exprnot(&mut self, first: Option<Value>) -> Result<Value> {
        if first.is_none() && self.tok.term == Term::NotOp {
            let tok = self.bump(sets::EXPR_OPERAND)?;
            let operand = self.exprcmp(None)?;
            let span = self.span_of(tok).to(operand.span);
            return Ok(Value {
                kind: ValueKind::Unary {
                    op: UnaryOp::Not,
                    operand: Box::new(operand),
                },
                span,
            });
        }
        self.exprcmp(first)
    }

    fn exprcmp(&mut self, first: Option<Value>) -> Result<Value> {
        let mut lhs = self.exprsum(first)?;
        loop {
            let op = match self.tok.term {
                Term::Cmpr => match self.tok_text(self.tok) {
                    "<=" => BinOp::Le,
                    ">=" => BinOp::Ge,
                    "!=" => BinOp::Ne,
                    "~=" => BinOp::Regex,
                    "^=" => BinOp::Prefix,
                    ">" => BinOp::Gt,
                    _ => BinOp::Lt,
                },
                Term::EqSpace | Term::EqNoSpace => BinOp::Eq,
                _ => return Ok(lhs),
            };
            self.bump(sets::EXPR_OPERAND)?;
            let rhs = self.exprsum(None)?;
            lhs = binary(op, lhs, rhs);
        }
    }

    fn exprsum(&mut self, first: Option<Value>) -> Result<Value> {
        let mut lhs = self.exprproduct(first)?;
        loop {
            let op = match self.tok.term {
                Term::ExprPlus => BinOp::Add,
                Term::ExprMinus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.bump(sets::EXPR_OPERAND)?;
            let rhs = self.exprproduct(None)?;
            lhs = binary(op, lhs, rhs);
        }
    }

    fn exprproduct(&mut self, first: Option<Value>) -> Result<Value> {
        let mut lhs = self.exprunary(first)?;
        loop {
            let op = match self.tok.term {
                Term::ExprTimes => BinOp::Mul,
                Term::ExprDivide => BinOp::Div,
                Term::ExprModulo => BinOp::Mod,
                _ => return Ok(lhs),
            };
            self.bump(sets::EXPR_OPERAND)?;
            let rhs = self.exprunary(None)?;
            lhs = binary(op, lhs, rhs);
        }
    }

    fn exprunary(&mut self, first: Option<Value>) -> Result<Value> {
        self.nested(|parser| parser.exprunary_body(first))
    }

    fn exprunary_body(&mut self, first: Option<Value>) -> Result<Value> {
        if first.is_none() && self.tok.term == Term::ExprNeg {
            let tok = self.bump(sets::EXPR_OPERAND)?;
            let operand = self.exprunary(None)?;
            let span = self.span_of(tok).to(operand.span);
            return Ok(Value {
                kind: ValueKind::Unary {
                    op: UnaryOp::Neg,
                    operand: Box::new(operand),
                },
                span,
            });
        }
        self.exprpow(first)
    }

    fn exprpow(&mut self, first: Option<Value>) -> Result<Value> {
        let mut lhs = match first {
            Some(value) => value,
            None => self.expr_atom()?,
        };
        while self.tok.term == Term::ExprPow {
            self.bump(sets::EXPR_POW_OPERAND)?;
            let rhs = self.expr_atom()?;
            lhs = binary(BinOp::Pow, lhs, rhs);
        }
        Ok(lhs)
    }

    /// `_exprvalu`: one operand of an expression.
    fn expr_atom(&mut self) -> Result<Value> {
        let tok = self.tok;
        match tok.term {
            Term::Number | Term::HexNumber | Term::OctNumber => {
                self.bump(sets::E_AFTER_ATOM)?;
                let raw = self.tok_text(tok);
                let kind = if tok.term == Term::Number && raw.contains('.') {
                    ValueKind::Number(raw.to_string())
                } else {
                    py_int(raw).unwrap_or_else(|| ValueKind::BigInt(raw.to_string()))
                };
                Ok(Value {
                    kind,
                    span: self.span_of(tok),
                })
            }
            Term::Bool => {
                self.bump(sets::E_AFTER_ATOM)?;
                Ok(Value {
                    kind: ValueKind::Bool(self.tok_text(tok) == "true"),
                    span: self.span_of(tok),
                })
            }
            Term::Null => {
                self.bump(sets::E_AFTER_ATOM)?;
                Ok(Value {
                    kind: ValueKind::Null,
                    span: self.span_of(tok),
                })
            }
            Term::LSqb => self.exprlist(),
            Term::LBrace => self.exprdict(),
            Term::Dollar => {
                let dollar = self.bump(sets::DOLLAR_NEXT_EXPR)?;
                if self.tok.term == Term::LPar {
                    let inner = self.inner_paren_expr(self.tok.start)?;
                    return self.dollar_chain(inner, Ctx::Expr, true);
                }
                self.var_chain(dollar.start, Ctx::Expr)
            }
            Term::ExprRelName => {
                let prop = self.relprop(sets::E_AFTER_ATOM)?;
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::RelPropValue(prop),
                })
            }
            Term::ColonDollar => {
                self.bump(sets::EXPRVARTOKN_ONLY)?;
                let value = self.var_chain(tok.start, Ctx::Expr)?;
                let prop = RelProp {
                    name: NamePart::Value(Box::new(value)),
                    span: self.span_from(tok.start),
                };
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::RelPropValue(prop),
                })
            }
            Term::ExprUnivName => {
                let prop = self.univprop(sets::E_AFTER_UNIV)?;
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::UnivPropValue(prop),
                })
            }
            Term::Dot => {
                self.bump(sets::DOLLAR_ONLY)?;
                let dollar = self.expect(Term::Dollar, sets::EXPRVARTOKN_ONLY)?;
                let value = self.var_chain(dollar.start, Ctx::Expr)?;
                let prop = UnivProp {
                    name: NamePart::Value(Box::new(value)),
                    span: self.span_from(tok.start),
                };
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::UnivPropValue(prop),
                })
            }
            Term::Hash | Term::HashSpace => self.expr_tag_value(),
            Term::TripleQuotedString | Term::DoubleQuotedString | Term::SingleQuotedString => {
                self.bump(sets::E_AFTER_ATOM)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Backquote => self.formatstring(Ctx::Expr),
            Term::LPar => {
                let inner = self.inner_paren_expr(tok.start)?;
                self.dollar_chain(inner, Ctx::Expr, true)
            }
            Term::EmbedQueryStart => self.embedquery(),
            _ => Err(self.unexpected()),
        }
    }

    /// `#tag` / `#tag:prop` inside an expression.
    fn expr_tag_value(&mut self) -> Result<Value> {
        let start = self.tok.start;
        self.bump(sets::EXPR_TAG_START)?;
        let tag = if self.tok.term == Term::Dollar {
            let dollar = self.expect(Term::Dollar, sets::EXPRVARTOKN_ONLY)?;
            let value = self.var_chain(dollar.start, Ctx::Expr)?;
            TagName {
                kind: TagNameKind::Value(Box::new(value)),
                span: self.span_from(start),
            }
        } else {
            let mut segs = Vec::new();
            let tok = self.expect(Term::ExprTagSegNoVar, sets::E_AFTER_TAGSEG)?;
            segs.push(TagSegment::Text(
                self.tok_text(tok).to_string(),
                self.span_of(tok),
            ));
            while self.tok.term == Term::Dot {
                self.bump(sets::EXPR_TAG_AFTER_DOT)?;
                let tok = self.tok;
                if tok.term == Term::Dollar {
                    self.bump(sets::EXPRVARTOKN_ONLY)?;
                    let name = self.expect(Term::ExprVarTokn, sets::E_AFTER_VAR)?;
                    segs.push(TagSegment::Var(
                        self.string_token(name)?,
                        Span::new(name.start, name.end),
                    ));
                } else {
                    let tok = self.expect(Term::ExprTagSegNoVar, sets::E_AFTER_TAGSEG)?;
                    segs.push(TagSegment::Text(
                        self.tok_text(tok).to_string(),
                        self.span_of(tok),
                    ));
                }
            }
            TagName {
                kind: TagNameKind::Segments(segs),
                span: self.span_from(start),
            }
        };
        if self.tok.term == Term::ExprColonNoSpace {
            self.bump(sets::TAGPROP_NAME)?;
            let ptok = self.tok;
            let prop = match ptok.term {
                Term::BaseProp => {
                    self.bump(sets::E_AFTER_ATOM)?;
                    NamePart::Name(self.tok_text(ptok).to_string(), self.span_of(ptok))
                }
                Term::Dollar => {
                    let dollar = self.expect(Term::Dollar, sets::EXPRVARTOKN_ONLY)?;
                    NamePart::Value(Box::new(self.var_chain(dollar.start, Ctx::Expr)?))
                }
                _ => return Err(self.unexpected()),
            };
            let prop = TagProp {
                tag,
                prop,
                span: self.span_from(start),
            };
            return Ok(Value {
                span: prop.span,
                kind: ValueKind::TagPropValue(prop),
            });
        }
        Ok(Value {
            span: tag.span,
            kind: ValueKind::TagValue(tag),
        })
    }
}

fn binary(op: BinOp, lhs: Value, rhs: Value) -> Value {
    let span = lhs.span.to(rhs.span);
    Value {
        kind: ValueKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    }
}

/// Python's `int(text, 0)`: decimal, `0x`, `0o` and `0b` literals with `_` separators.
pub(crate) fn py_int(text: &str) -> Option<ValueKind> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else {
        (10, lower.as_str())
    };
    // underscores may separate digits (and follow a radix prefix)
    let trimmed = if radix != 10 {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    if trimmed.is_empty()
        || trimmed.starts_with('_')
        || trimmed.ends_with('_')
        || trimmed.contains("__")
    {
        return None;
    }
    let clean: String = trimmed.chars().filter(|c| *c != '_').collect();
    if !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if radix == 10 && clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
        return None;
    }
    match i128::from_str_radix(&clean, radix) {
        Ok(value) => Some(ValueKind::Int(if neg { -value } else { value })),
        Err(_) => Some(ValueKind::BigInt(big_decimal(&clean, radix, neg))),
    }
}

/// The decimal digits of a big integer written in `radix`.
fn big_decimal(digits: &str, radix: u32, neg: bool) -> String {
    // schoolbook conversion into base 10^9 limbs
    let mut limbs: Vec<u64> = vec![0];
    for chr in digits.chars() {
        let mut carry = u64::from(chr.to_digit(radix).unwrap_or(0));
        for limb in limbs.iter_mut() {
            let value = *limb * u64::from(radix) + carry;
            *limb = value % 1_000_000_000;
            carry = value / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let mut iter = limbs.iter().rev();
    if let Some(first) = iter.next() {
        out.push_str(&first.to_string());
    }
    for limb in iter {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_literals() {
        assert_eq!(py_int("10"), Some(ValueKind::Int(10)));
        assert_eq!(py_int("-0x10"), Some(ValueKind::Int(-16)));
        assert_eq!(py_int("0o17"), Some(ValueKind::Int(15)));
        assert_eq!(py_int("0b101"), Some(ValueKind::Int(5)));
        assert_eq!(py_int("1_000"), Some(ValueKind::Int(1000)));
        assert_eq!(py_int("0x_1f"), Some(ValueKind::Int(31)));
        assert_eq!(py_int("00"), Some(ValueKind::Int(0)));
        assert_eq!(py_int("01"), None);
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("foo"), None);
        assert_eq!(
            py_int("0xffffffffffffffffffffffffffffffffff"),
            Some(ValueKind::BigInt(
                "87112285931760246646623899502532662132735".into()
            ))
        );
    }
}
