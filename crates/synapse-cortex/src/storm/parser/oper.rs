//! Pipeline operators: lifts, filters, pivots, edge walks, edits, variables and control flow.

use super::expr::Ctx;
use super::{Parser, Result};
use crate::storm::ast::*;
use crate::storm::error::SyntaxError;
use crate::storm::lexer::{Term, TermSet};
use crate::storm::sets;

impl Parser<'_> {
    /// One item of a query: an operator, an edit block or a command.
    pub(super) fn item(&mut self, opers: &mut Vec<Oper>) -> Result<()> {
        let start = self.tok.start;
        let kind = match self.tok.term {
            Term::LSqb => return self.edit_block(opers),
            Term::CmdName => OperKind::Cmd(self.command()?),
            Term::Function => OperKind::Function(self.function()?),
            Term::Init | Term::Fini | Term::Empty => {
                let term = self.tok.term;
                self.bump(sets::LBRACE_ONLY)?;
                let (query, _) = self.braced_query(sets::AFTER_BLOCK)?;
                match term {
                    Term::Init => OperKind::Init(query),
                    Term::Fini => OperKind::Fini(query),
                    _ => OperKind::Empty(query),
                }
            }
            Term::Try => self.trycatch()?,
            Term::Yield => {
                self.bump(sets::YIELD_NEXT)?;
                if self.tok.term == Term::LBrace {
                    let (query, span) = self.braced_query(sets::AFTER_SUBQUERY)?;
                    OperKind::SubQuery(SubQuery {
                        query,
                        yields: true,
                        span,
                    })
                } else {
                    OperKind::YieldValue(self.argvalu(Ctx::Storm)?)
                }
            }
            Term::LBrace => {
                let (query, span) = self.braced_query(sets::AFTER_SUBQUERY)?;
                OperKind::SubQuery(SubQuery {
                    query,
                    yields: false,
                    span,
                })
            }
            Term::RightPivot | Term::RightJoin => self.right_pivot()?,
            Term::LeftPivot | Term::LeftJoin => {
                let join = self.tok.term == Term::LeftJoin;
                self.bump(sets::LEFT_PIVOT_TARGET)?;
                let tok = self.tok;
                let kind = match tok.term {
                    Term::ExprTimes => PivotKind::In,
                    Term::Props | Term::UnivName => {
                        PivotKind::InFrom(self.tok_text(tok).to_string(), self.span_of(tok))
                    }
                    _ => return Err(self.unexpected()),
                };
                self.bump(sets::Q_FOLLOW)?;
                OperKind::Pivot(Pivot { kind, join })
            }
            Term::WalkNPivoN1 | Term::WalkNPivoN2 | Term::WalkNJoinN1 | Term::WalkNJoinN2 => {
                let term = self.tok.term;
                self.bump(sets::STAR_ONLY)?;
                self.expect(Term::ExprTimes, sets::Q_FOLLOW)?;
                let out = matches!(term, Term::WalkNPivoN1 | Term::WalkNJoinN1);
                let join = matches!(term, Term::WalkNJoinN1 | Term::WalkNJoinN2);
                let kind = if out {
                    PivotKind::WalkAllOut
                } else {
                    PivotKind::WalkAllIn
                };
                OperKind::Pivot(Pivot { kind, join })
            }
            Term::LPar => {
                let names = self.varlist()?;
                self.expect(Term::Equal, sets::VALU_START)?;
                let value = self.valu(Ctx::Storm)?;
                OperKind::SetVarList { names, value }
            }
            Term::Dollar => self.var_oper()?,
            Term::ExprPlus | Term::ExprMinus => {
                let must = self.tok.term == Term::ExprPlus;
                self.bump(sets::COND_START)?;
                let cond = self.cond()?;
                OperKind::Filter { must, cond }
            }
            Term::EdgeAddN1Init => {
                self.bump(sets::COND_START)?;
                let cond = self.condexpr()?;
                self.expect(Term::RPar, sets::AFTER_COND_PAREN)?;
                OperKind::Filter { must: true, cond }
            }
            Term::EdgeN1Init => self.minus_paren()?,
            Term::EdgeN2Init | Term::EdgeN2JoinInit => {
                let join = self.tok.term == Term::EdgeN2JoinInit;
                self.bump(sets::VALU_START)?;
                let verb = self.valu(Ctx::Storm)?;
                self.expect(Term::EdgeN2Fini, sets::WALK_DEST)?;
                OperKind::EdgeWalk(self.walk_rest(true, join, verb)?)
            }
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::RELPROP_AT_OPER)?;
                let join = match self.tok.term {
                    Term::RightPivot => false,
                    Term::RightJoin => true,
                    _ => return Err(self.unexpected()),
                };
                self.bump(sets::PROP_PIVOT_TARGET)?;
                let tok = self.tok;
                let kind = match tok.term {
                    Term::ExprTimes => {
                        self.bump(sets::Q_FOLLOW)?;
                        PivotKind::PropOut(prop)
                    }
                    Term::Props | Term::UnivName => {
                        self.bump(sets::Q_FOLLOW)?;
                        PivotKind::Prop {
                            prop,
                            target: PivotTarget::Name(
                                self.tok_text(tok).to_string(),
                                self.span_of(tok),
                            ),
                        }
                    }
                    Term::LPar | Term::Dollar => {
                        let value = if tok.term == Term::LPar {
                            self.valulist_value()?
                        } else {
                            self.varvalu(Ctx::Storm)?
                        };
                        PivotKind::Prop {
                            prop,
                            target: PivotTarget::Value(value),
                        }
                    }
                    _ => return Err(self.unexpected()),
                };
                OperKind::Pivot(Pivot { kind, join })
            }
            Term::For => self.forloop()?,
            Term::While => {
                self.bump(sets::VALU_START)?;
                let cond = self.valu(Ctx::Storm)?;
                let body = self.bare_subquery()?;
                OperKind::While { cond, body }
            }
            Term::If => self.ifstmt()?,
            Term::Switch => self.switch()?,
            Term::Break => {
                self.bump(sets::AFTER_CONTROL)?;
                OperKind::Break
            }
            Term::Continue => {
                self.bump(sets::AFTER_CONTROL)?;
                OperKind::Continue
            }
            Term::Stop => {
                self.bump(sets::AFTER_CONTROL)?;
                OperKind::Stop
            }
            Term::Return => {
                self.bump(sets::LPAR_ONLY)?;
                self.expect(Term::LPar, sets::RETURN_VALU)?;
                let value = if self.tok.term == Term::RPar {
                    None
                } else {
                    Some(self.valu(Ctx::Storm)?)
                };
                self.expect(Term::RPar, sets::AFTER_RETURN)?;
                OperKind::Return(value)
            }
            Term::Emit => {
                self.bump(sets::VALU_START)?;
                OperKind::Emit(self.valu(Ctx::Storm)?)
            }
            Term::Props
            | Term::UnivName
            | Term::WildProps
            | Term::EmbedProps
            | Term::Deref
            | Term::Hash
            | Term::HashSpace => OperKind::Lift(Lift {
                kind: self.lift()?,
                reverse: false,
            }),
            Term::Reverse => {
                self.bump(sets::LPAR_ONLY)?;
                self.expect(Term::LPar, sets::REVERSE_LIFT)?;
                match self.tok.term {
                    Term::Props
                    | Term::UnivName
                    | Term::WildProps
                    | Term::EmbedProps
                    | Term::Deref
                    | Term::Hash
                    | Term::HashSpace => {}
                    _ => return Err(self.unexpected()),
                }
                let kind = self.lift()?;
                self.expect(Term::RPar, sets::Q_FOLLOW)?;
                OperKind::Lift(Lift {
                    kind,
                    reverse: true,
                })
            }
            _ => return Err(self.unexpected()),
        };
        opers.push(Oper {
            kind,
            span: self.span_from(start),
        });
        Ok(())
    }

    /// `[ edits ]`: each edit becomes its own operator.
    fn edit_block(&mut self, opers: &mut Vec<Oper>) -> Result<()> {
        self.bump(sets::EDIT_START)?;
        while self.tok.term != Term::RSqb {
            let edit = self.edit()?;
            opers.push(Oper {
                span: edit.span,
                kind: OperKind::Edit(edit),
            });
        }
        self.bump(sets::Q_FOLLOW)?;
        Ok(())
    }

    /// One edit operation inside `[ ... ]`.
    fn edit(&mut self) -> Result<Edit> {
        let start = self.tok.start;
        let kind = match self.tok.term {
            Term::Props | Term::Deref => self.node_add()?,
            Term::LPar => {
                self.bump(sets::EDIT_PARENS_START)?;
                let add = match self.tok.term {
                    Term::Props | Term::Deref => {
                        let add_start = self.tok.start;
                        let kind = self.node_add()?;
                        Edit {
                            kind,
                            span: self.span_from(add_start),
                        }
                    }
                    _ => return Err(self.unexpected()),
                };
                let mut edits = Vec::new();
                while self.tok.term != Term::RPar {
                    edits.push(self.edit()?);
                }
                self.bump(sets::AFTER_EDIT_PARENS)?;
                EditKind::Parens {
                    add: Box::new(add),
                    edits,
                }
            }
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::RELPROP_IN_EDIT)?;
                match self.tok.term {
                    Term::ExprTimes | Term::Deref => self.cond_prop_set(prop)?,
                    Term::ModSetMulti | Term::TryModSetMulti => {
                        let oper = self.set_oper()?;
                        let value = self.valu(Ctx::Storm)?;
                        EditKind::PropSet {
                            prop: PropPath::Rel(prop),
                            oper,
                            value,
                        }
                    }
                    Term::EqSpace
                    | Term::EqNoSpace
                    | Term::ModSet
                    | Term::TrySet
                    | Term::TryModSet => {
                        let oper = self.set_oper()?;
                        let value = self.valu(Ctx::Storm)?;
                        EditKind::PropSet {
                            prop: PropPath::Rel(prop),
                            oper,
                            value,
                        }
                    }
                    _ => return Err(self.unexpected()),
                }
            }
            Term::UnivName | Term::Dot => {
                let prop = self.univprop(sets::UNIVPROP_IN_EDIT)?;
                match self.tok.term {
                    Term::EqSpace
                    | Term::EqNoSpace
                    | Term::ModSet
                    | Term::TrySet
                    | Term::TryModSet => {
                        let oper = self.set_oper()?;
                        let value = self.valu(Ctx::Storm)?;
                        EditKind::PropSet {
                            prop: PropPath::Univ(prop),
                            oper,
                            value,
                        }
                    }
                    _ => return Err(self.unexpected()),
                }
            }
            Term::ExprPlus => {
                self.bump(sets::EDIT_PLUS)?;
                let mut try_add = false;
                if self.tok.term == Term::SetTagOper {
                    try_add = true;
                    self.bump(sets::HASH_ONLY)?;
                }
                if self.tok.term != Term::Hash {
                    return Err(self.unexpected());
                }
                let tag = self.tagname(Ctx::Storm)?;
                if self.tok.term == Term::ColonNoSpace && !try_add {
                    let prop = self.tagprop_rest(tag, Ctx::Storm)?;
                    let oper = match self.tok.term {
                        Term::EqSpace
                        | Term::EqNoSpace
                        | Term::ModSet
                        | Term::TrySet
                        | Term::TryModSet => self.set_oper()?,
                        _ => return Err(self.unexpected()),
                    };
                    let value = self.valu(Ctx::Storm)?;
                    EditKind::TagPropSet { prop, oper, value }
                } else {
                    let value = match self.tok.term {
                        Term::EqSpace | Term::EqNoSpace | Term::TrySet => {
                            let oper = self.set_oper()?;
                            Some((oper, self.valu(Ctx::Storm)?))
                        }
                        _ => None,
                    };
                    EditKind::TagAdd {
                        try_add,
                        tag,
                        value,
                    }
                }
            }
            Term::ExprMinus => {
                self.bump(sets::EDIT_MINUS)?;
                match self.tok.term {
                    Term::RelName | Term::ColonDollar => {
                        EditKind::PropDel(self.relprop(sets::RELPROP_IN_EDIT)?)
                    }
                    Term::UnivName | Term::Dot => {
                        EditKind::UnivDel(self.univprop(sets::UNIVPROP_IN_EDIT)?)
                    }
                    Term::Hash => {
                        let tag = self.tagname(Ctx::Storm)?;
                        if self.tok.term == Term::ColonNoSpace {
                            EditKind::TagPropDel(self.tagprop_rest(tag, Ctx::Storm)?)
                        } else {
                            EditKind::TagDel(tag)
                        }
                    }
                    _ => return Err(self.unexpected()),
                }
            }
            Term::EdgeAddN1Init | Term::EdgeN1Init | Term::EdgeN2Init => {
                let term = self.tok.term;
                self.bump(sets::VALU_START)?;
                let verb = self.valu(Ctx::Storm)?;
                let (reverse, add) = match (term, self.tok.term) {
                    (Term::EdgeAddN1Init, Term::EdgeN1Fini) => (false, true),
                    (Term::EdgeN1Init, Term::EdgeN1Fini) => (false, false),
                    (Term::EdgeN2Init, Term::EdgeAddN2Fini) => (true, true),
                    (Term::EdgeN2Init, Term::EdgeN2Fini) => (true, false),
                    _ => return Err(self.unexpected()),
                };
                self.bump(sets::EDGE_EDIT_TARGET)?;
                let target = match self.tok.term {
                    Term::LBrace => self.subquery_value(sets::AFTER_SUBQUERY)?,
                    Term::Dollar => self.varvalu(Ctx::Storm)?,
                    _ => return Err(self.unexpected()),
                };
                if add {
                    EditKind::EdgeAdd {
                        reverse,
                        verb,
                        target,
                    }
                } else {
                    EditKind::EdgeDel {
                        reverse,
                        verb,
                        target,
                    }
                }
            }
            _ => return Err(self.unexpected()),
        };
        Ok(Edit {
            kind,
            span: self.span_from(start),
        })
    }

    /// `form=valu` (the current token is the form name or `*`).
    fn node_add(&mut self) -> Result<EditKind> {
        let form = match self.tok.term {
            Term::Props => {
                let tok = self.bump(sets::NODE_ADD_OPER)?;
                PropRef::Name(self.tok_text(tok).to_string(), self.span_of(tok))
            }
            _ => self.derefprops()?,
        };
        let oper = match self.tok.term {
            Term::EqSpace | Term::EqNoSpace | Term::ModSet | Term::TrySet | Term::TryModSet => {
                self.set_oper()?
            }
            _ => return Err(self.unexpected()),
        };
        let value = self.valu(Ctx::Storm)?;
        Ok(EditKind::NodeAdd { form, oper, value })
    }

    /// `*$var` as a form or prop name.
    fn derefprops(&mut self) -> Result<PropRef> {
        self.expect(Term::Deref, sets::DOLLAR_ONLY)?;
        if self.tok.term != Term::Dollar {
            return Err(self.unexpected());
        }
        Ok(PropRef::Deref(Box::new(
            self.varvalu_with(sets::VARTOKN_ONLY, Ctx::Storm)?,
        )))
    }

    /// An assignment operator, followed by a value.
    fn set_oper(&mut self) -> Result<SetOper> {
        let text = self.tok_text(self.tok);
        let oper = match text {
            "=" => SetOper::Set,
            "?=" => SetOper::TrySet,
            "+=" => SetOper::Add,
            "-=" => SetOper::Remove,
            "?+=" => SetOper::TryAdd,
            "?-=" => SetOper::TryRemove,
            "++=" => SetOper::AddMany,
            "--=" => SetOper::RemoveMany,
            "?++=" => SetOper::TryAddMany,
            "?--=" => SetOper::TryRemoveMany,
            _ => return Err(self.unexpected()),
        };
        self.bump(sets::VALU_START)?;
        Ok(oper)
    }

    /// `:prop*unset=valu` or `:prop*$var=valu` (the current token is `*`).
    fn cond_prop_set(&mut self, prop: RelProp) -> Result<EditKind> {
        let cond = if self.tok.term == Term::ExprTimes {
            self.bump(sets::UNSET_ONLY)?;
            self.expect(Term::Unset, sets::COND_SET_OPER)?;
            SetCondition::Unset
        } else {
            self.expect(Term::Deref, sets::DOLLAR_ONLY)?;
            self.expect(Term::Dollar, sets::VARTOKN_ONLY)?;
            SetCondition::Value(Box::new(self.cond_var_atom()?))
        };
        let try_set = match self.tok.term {
            Term::Equal => false,
            Term::TrySet => true,
            _ => return Err(self.unexpected()),
        };
        self.bump(sets::VALU_START)?;
        let value = self.valu(Ctx::Storm)?;
        Ok(EditKind::CondPropSet {
            prop,
            cond,
            try_set,
            value,
        })
    }

    /// `:name` or `:$var` (the current token is the relative name or `:$`).
    pub(super) fn relprop(&mut self, after_name: TermSet) -> Result<RelProp> {
        let tok = self.tok;
        if tok.term == Term::RelName || tok.term == Term::ExprRelName {
            self.bump(after_name)?;
            let name = self.tok_text(tok).trim_start_matches(':').to_string();
            return Ok(RelProp {
                name: NamePart::Name(name, self.span_of(tok)),
                span: self.span_of(tok),
            });
        }
        self.expect(Term::ColonDollar, sets::VARTOKN_ONLY)?;
        let value = self.var_atom(Ctx::Storm)?;
        Ok(RelProp {
            name: NamePart::Value(Box::new(value)),
            span: self.span_from(tok.start),
        })
    }

    /// `.name` or `.$var` (the current token is the universal name or `.`).
    pub(super) fn univprop(&mut self, after_name: TermSet) -> Result<UnivProp> {
        let tok = self.tok;
        if tok.term == Term::UnivName || tok.term == Term::ExprUnivName {
            self.bump(after_name)?;
            let name = self.tok_text(tok).to_string();
            return Ok(UnivProp {
                name: NamePart::Name(name, self.span_of(tok)),
                span: self.span_of(tok),
            });
        }
        self.expect(Term::Dot, sets::DOLLAR_ONLY)?;
        if self.tok.term != Term::Dollar {
            return Err(self.unexpected());
        }
        let value = self.varvalu_with(sets::VARTOKN_ONLY, Ctx::Storm)?;
        Ok(UnivProp {
            name: NamePart::Value(Box::new(value)),
            span: self.span_from(tok.start),
        })
    }

    /// A lift (the current token starts it).
    fn lift(&mut self) -> Result<LiftKind> {
        let tok = self.tok;
        match tok.term {
            Term::Hash | Term::HashSpace => {
                self.bump(sets::TAG_LIFT_START)?;
                if self.tok.term == Term::Hash {
                    // `##tag`: the second `#` starts the tag name
                    let tag = self.tagname(Ctx::Storm)?;
                    let cmp = self.opt_comparison()?;
                    return Ok(LiftKind::TagTag { tag, cmp });
                }
                let tag = self.tagname_body(tok.start, Ctx::Storm)?;
                if self.tok.term == Term::ColonNoSpace {
                    let prop = self.tagprop_name(Ctx::Storm, sets::VF_UNIV)?;
                    let cmp = self.opt_comparison()?;
                    return Ok(LiftKind::TagProp { tag, prop, cmp });
                }
                let cmp = self.opt_comparison()?;
                Ok(LiftKind::Tag { tag, cmp })
            }
            Term::EmbedProps => {
                self.bump(sets::AFTER_EMBEDPROPS)?;
                let prop = PropRef::Name(self.tok_text(tok).to_string(), self.span_of(tok));
                if self.tok.term == Term::ArrayCondStart {
                    let cmp = self.array_comparison()?;
                    return Ok(LiftKind::Array { prop, cmp });
                }
                let cmp = self.comparison()?;
                Ok(LiftKind::PropBy { prop, cmp })
            }
            Term::WildProps => {
                self.bump(sets::AFTER_WILDPROPS_LIFT)?;
                let form = PropRef::Name(self.tok_text(tok).to_string(), self.span_of(tok));
                if self.tok.term == Term::Hash {
                    return self.form_tag_lift(form);
                }
                Ok(LiftKind::Prop { prop: form })
            }
            _ => {
                let prop = if tok.term == Term::Deref {
                    self.derefprops()?
                } else {
                    self.bump(sets::AFTER_PROPS_LIFT)?;
                    PropRef::Name(self.tok_text(tok).to_string(), self.span_of(tok))
                };
                match self.tok.term {
                    Term::Hash => self.form_tag_lift(prop),
                    Term::ArrayCondStart => {
                        let cmp = self.array_comparison()?;
                        Ok(LiftKind::Array { prop, cmp })
                    }
                    term if is_cmpr_start(term) => {
                        let cmp = self.comparison()?;
                        Ok(LiftKind::PropBy { prop, cmp })
                    }
                    _ => Ok(LiftKind::Prop { prop }),
                }
            }
        }
    }

    /// `form#tag` and `form#tag:prop` lifts (the current token is the `#`).
    fn form_tag_lift(&mut self, form: PropRef) -> Result<LiftKind> {
        let tag = self.tagname(Ctx::Storm)?;
        if self.tok.term == Term::ColonNoSpace {
            let prop = self.tagprop_name(Ctx::Storm, sets::FORMTAGPROP_IN_LIFT)?;
            let cmp = self.opt_comparison()?;
            return Ok(LiftKind::FormTagProp {
                form,
                tag,
                prop,
                cmp,
            });
        }
        let cmp = self.opt_comparison()?;
        Ok(LiftKind::FormTag { form, tag, cmp })
    }

    /// A comparison operator and value, if the current token starts one.
    fn opt_comparison(&mut self) -> Result<Option<Comparison>> {
        if is_cmpr_start(self.tok.term) {
            return Ok(Some(self.comparison()?));
        }
        Ok(None)
    }

    /// `_cmpr _valu`
    pub(super) fn comparison(&mut self) -> Result<Comparison> {
        let cmpr = self.cmpr()?;
        let value = self.valu(Ctx::Storm)?;
        Ok(Comparison { cmpr, value })
    }

    /// A comparison operator (`=`, `~=`, `*range=`, ...), followed by a value.
    fn cmpr(&mut self) -> Result<Cmpr> {
        let tok = self.tok;
        match tok.term {
            Term::ExprTimes => {
                self.bump(sets::BYNAME_ONLY)?;
                let name = self.expect(Term::ByName, sets::VALU_START)?;
                Ok(Cmpr {
                    text: self.tok_text(name).to_string(),
                    span: Span::new(tok.start, name.end),
                })
            }
            term if is_cmpr_start(term) => {
                self.bump(sets::VALU_START)?;
                Ok(Cmpr {
                    text: self.tok_text(tok).to_string(),
                    span: self.span_of(tok),
                })
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `*[ cmpr valu ]` (the current token is `*[`).
    fn array_comparison(&mut self) -> Result<Comparison> {
        self.bump(sets::ARRAY_CMPR)?;
        let tok = self.tok;
        let cmpr = match tok.term {
            Term::ByName
            | Term::Cmpr
            | Term::CmprOther
            | Term::EqSpace
            | Term::EqNoSpace
            | Term::SetTagOper
            | Term::TrySet => {
                self.bump(sets::VALU_START)?;
                Cmpr {
                    text: self.tok_text(tok).to_string(),
                    span: self.span_of(tok),
                }
            }
            _ => return Err(self.unexpected()),
        };
        let value = self.valu(Ctx::Storm)?;
        self.expect(Term::RSqb, sets::AFTER_ARRAY_CMP)?;
        Ok(Comparison { cmpr, value })
    }

    /// A filter condition (one `_cond`).
    pub(super) fn cond(&mut self) -> Result<Cond> {
        self.nested(Self::cond_body)
    }

    fn cond_body(&mut self) -> Result<Cond> {
        let start = self.tok.start;
        let kind = match self.tok.term {
            Term::Not => {
                self.bump(sets::COND_START)?;
                CondKind::Not(Box::new(self.cond()?))
            }
            Term::LPar => {
                self.bump(sets::COND_START)?;
                let cond = self.condexpr()?;
                self.expect(Term::RPar, sets::COND_INNER_PAREN_CLOSE)?;
                return Ok(cond);
            }
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::RELPROP_IN_COND)?;
                match self.tok.term {
                    Term::ArrayCondStart => CondKind::Array {
                        prop,
                        cmp: self.array_comparison()?,
                    },
                    term if is_cmpr_start(term) => CondKind::RelPropCmp {
                        prop: PropPath::Rel(prop),
                        cmp: self.comparison()?,
                    },
                    _ => CondKind::HasRelProp(PropPath::Rel(prop)),
                }
            }
            Term::UnivName | Term::Dot => {
                let prop = self.univprop(sets::UNIVPROP_IN_COND)?;
                if is_cmpr_start(self.tok.term) {
                    CondKind::RelPropCmp {
                        prop: PropPath::Univ(prop),
                        cmp: self.comparison()?,
                    }
                } else {
                    CondKind::HasRelProp(PropPath::Univ(prop))
                }
            }
            Term::Props => {
                let tok = self.bump(sets::PROPS_IN_COND)?;
                let prop = self.tok_text(tok).to_string();
                if is_cmpr_start(self.tok.term) {
                    CondKind::AbsPropCmp {
                        prop,
                        prop_span: self.span_of(tok),
                        cmp: self.comparison()?,
                    }
                } else {
                    CondKind::HasAbsProp(prop, self.span_of(tok))
                }
            }
            Term::WildProps => {
                let tok = self.bump(sets::WILDPROPS_IN_COND)?;
                CondKind::HasAbsProp(self.tok_text(tok).to_string(), self.span_of(tok))
            }
            Term::MatchHash | Term::MatchHashWild => {
                let tag = self.tagmatch()?;
                if self.tok.term == Term::ColonNoSpace {
                    let prop = self.tagprop_name(Ctx::Storm, sets::TAGPROP_IN_COND)?;
                    if is_cmpr_start(self.tok.term) {
                        CondKind::TagPropCmp {
                            tag,
                            prop,
                            cmp: self.comparison()?,
                        }
                    } else {
                        CondKind::HasTagProp { tag, prop }
                    }
                } else if is_cmpr_start(self.tok.term) {
                    CondKind::TagCmp {
                        tag,
                        cmp: self.comparison()?,
                    }
                } else {
                    CondKind::Tag(tag)
                }
            }
            Term::LBrace => {
                let (query, _) = self.braced_query(sets::AFTER_COND_SUBQUERY)?;
                let cmp = self.opt_comparison()?;
                CondKind::SubQuery { query, cmp }
            }
            Term::Dollar => CondKind::Value(self.dollar_value(Ctx::Storm)?),
            _ => return Err(self.unexpected()),
        };
        Ok(Cond {
            kind,
            span: self.span_from(start),
        })
    }

    /// `cond (and|or cond)*`, left associative with equal precedence.
    pub(super) fn condexpr(&mut self) -> Result<Cond> {
        let start = self.tok.start;
        let mut cond = self.cond()?;
        loop {
            let and = match self.tok.term {
                Term::And => true,
                Term::Or => false,
                _ => return Ok(cond),
            };
            self.bump(sets::COND_START)?;
            let rhs = self.cond()?;
            let kind = if and {
                CondKind::And(Box::new(cond), Box::new(rhs))
            } else {
                CondKind::Or(Box::new(cond), Box::new(rhs))
            };
            cond = Cond {
                kind,
                span: self.span_from(start),
            };
        }
    }

    /// `-(`: a negated condition (`-(cond)`) or an outgoing edge walk (`-(verb)> dest`).
    fn minus_paren(&mut self) -> Result<OperKind> {
        self.bump(sets::MINUS_PAREN)?;
        let start = self.tok.start;
        let verb = match self.tok.term {
            // only walks
            Term::NonQuoteWord
            | Term::TripleQuotedString
            | Term::VarTokn
            | Term::Backquote
            | Term::EmbedQueryStart => Some(self.walk_verb_atom()?),
            // only conditions
            Term::Not | Term::MatchHash | Term::MatchHashWild | Term::WildProps => None,
            Term::Props => {
                let tok = self.bump(sets::PROPS_IN_MINUS_PAREN)?;
                if matches!(self.tok.term, Term::EdgeN1Fini | Term::EdgeN1JoinFini) {
                    Some(Value {
                        kind: ValueKind::Str(self.tok_text(tok).to_string()),
                        span: self.span_of(tok),
                    })
                } else {
                    let prop = self.tok_text(tok).to_string();
                    let kind = if is_cmpr_start(self.tok.term) {
                        CondKind::AbsPropCmp {
                            prop,
                            prop_span: self.span_of(tok),
                            cmp: self.comparison()?,
                        }
                    } else {
                        CondKind::HasAbsProp(prop, self.span_of(tok))
                    };
                    let first = Cond {
                        kind,
                        span: self.span_from(start),
                    };
                    return self.finish_minus_cond(first, start);
                }
            }
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::RELPROP_IN_MINUS_PAREN)?;
                if matches!(self.tok.term, Term::EdgeN1Fini | Term::EdgeN1JoinFini) {
                    Some(Value {
                        span: prop.span,
                        kind: ValueKind::RelPropValue(prop),
                    })
                } else {
                    let kind = match self.tok.term {
                        Term::ArrayCondStart => CondKind::Array {
                            prop,
                            cmp: self.array_comparison()?,
                        },
                        term if is_cmpr_start(term) => CondKind::RelPropCmp {
                            prop: PropPath::Rel(prop),
                            cmp: self.comparison()?,
                        },
                        _ => CondKind::HasRelProp(PropPath::Rel(prop)),
                    };
                    let first = Cond {
                        kind,
                        span: self.span_from(start),
                    };
                    return self.finish_minus_cond(first, start);
                }
            }
            Term::UnivName | Term::Dot => {
                let prop = self.univprop(sets::UNIVPROP_IN_MINUS_PAREN)?;
                if matches!(self.tok.term, Term::EdgeN1Fini | Term::EdgeN1JoinFini) {
                    Some(Value {
                        span: prop.span,
                        kind: ValueKind::UnivPropValue(prop),
                    })
                } else {
                    let kind = if is_cmpr_start(self.tok.term) {
                        CondKind::RelPropCmp {
                            prop: PropPath::Univ(prop),
                            cmp: self.comparison()?,
                        }
                    } else {
                        CondKind::HasRelProp(PropPath::Univ(prop))
                    };
                    let first = Cond {
                        kind,
                        span: self.span_from(start),
                    };
                    return self.finish_minus_cond(first, start);
                }
            }
            Term::LBrace => {
                let (query, span) = self.braced_query(sets::AFTER_MINUS_PAREN_SUBQUERY)?;
                if matches!(self.tok.term, Term::EdgeN1Fini | Term::EdgeN1JoinFini) {
                    let sub = SubQuery {
                        query,
                        yields: false,
                        span,
                    };
                    Some(Value {
                        kind: ValueKind::SubQuery(Box::new(sub)),
                        span,
                    })
                } else {
                    let cmp = self.opt_comparison()?;
                    let first = Cond {
                        kind: CondKind::SubQuery { query, cmp },
                        span: self.span_from(start),
                    };
                    return self.finish_minus_cond(first, start);
                }
            }
            Term::Dollar => {
                let value = self.dollar_value(Ctx::Storm)?;
                let is_expr = matches!(value.kind, ValueKind::DollarExpr(_));
                if !is_expr && matches!(self.tok.term, Term::EdgeN1Fini | Term::EdgeN1JoinFini) {
                    Some(value)
                } else {
                    let first = Cond {
                        span: value.span,
                        kind: CondKind::Value(value),
                    };
                    return self.finish_minus_cond(first, start);
                }
            }
            Term::LPar => {
                // a list of verbs (walk), a variable list (walk) or a parenthesized condition
                match self.minus_paren_paren()? {
                    Ok(verb) => Some(verb),
                    Err(cond) => return self.finish_minus_cond(cond, start),
                }
            }
            _ => return Err(self.unexpected()),
        };
        match verb {
            Some(verb) => {
                let join = match self.tok.term {
                    Term::EdgeN1Fini => false,
                    Term::EdgeN1JoinFini => true,
                    _ => return Err(self.unexpected()),
                };
                self.bump(sets::WALK_DEST)?;
                Ok(OperKind::EdgeWalk(self.walk_rest(false, join, verb)?))
            }
            None => {
                let cond = self.condexpr()?;
                self.expect(Term::RPar, sets::AFTER_COND_PAREN)?;
                Ok(OperKind::Filter { must: false, cond })
            }
        }
    }

    /// Continue a `-( cond ...)` filter after its first condition.
    fn finish_minus_cond(&mut self, mut cond: Cond, start: usize) -> Result<OperKind> {
        loop {
            let and = match self.tok.term {
                Term::And => true,
                Term::Or => false,
                _ => break,
            };
            self.bump(sets::COND_START)?;
            let rhs = self.cond()?;
            let kind = if and {
                CondKind::And(Box::new(cond), Box::new(rhs))
            } else {
                CondKind::Or(Box::new(cond), Box::new(rhs))
            };
            cond = Cond {
                kind,
                span: self.span_from(start),
            };
        }
        self.expect(Term::RPar, sets::AFTER_COND_PAREN)?;
        Ok(OperKind::Filter { must: false, cond })
    }

    /// `-((...)`: returns the verb value for a walk, or the condition for a filter.
    fn minus_paren_paren(&mut self) -> Result<std::result::Result<Value, Cond>> {
        let open = self.bump(sets::MINUS_PAREN_PAREN)?;
        let start = self.tok.start;
        match self.tok.term {
            Term::Not
            | Term::MatchHash
            | Term::MatchHashWild
            | Term::WildProps
            | Term::LPar
            | Term::LBrace => {
                let cond = self.condexpr()?;
                self.expect(Term::RPar, sets::COND_INNER_PAREN_CLOSE)?;
                Ok(Err(cond))
            }
            Term::Comma | Term::RPar => {
                // `(,)` and `()`: empty variable lists
                if self.tok.term == Term::Comma {
                    self.bump(sets::RPAR_ONLY)?;
                }
                let close = self.expect(Term::RPar, sets::VARLIST_CLOSE)?;
                Ok(Ok(Value {
                    kind: ValueKind::VarList(Vec::new()),
                    span: Span::new(open.start, close.end),
                }))
            }
            Term::Dollar => {
                let value = self.dollar_value(Ctx::WalkVerb)?;
                match (&value.kind, self.tok.term) {
                    // `($a, $b)`: a variable list (the reference prefers it to the alternatives)
                    (ValueKind::Var(name), Term::Comma | Term::RPar) => {
                        let mut names = vec![name.clone()];
                        while self.tok.term == Term::Comma {
                            self.bump(sets::VARLIST_AFTER_COMMA)?;
                            if self.tok.term == Term::RPar {
                                break;
                            }
                            self.expect(Term::Dollar, sets::VARTOKN_ONLY)?;
                            let tok = self.expect(Term::VarTokn, sets::VARLIST_AFTER_NAME)?;
                            names.push(self.string_token(tok)?);
                        }
                        let close = self.expect(Term::RPar, sets::VARLIST_CLOSE)?;
                        Ok(Ok(Value {
                            kind: ValueKind::VarList(names),
                            span: Span::new(open.start, close.end),
                        }))
                    }
                    (ValueKind::DollarExpr(_), _) | (_, Term::And | Term::Or | Term::RPar) => {
                        let first = Cond {
                            span: value.span,
                            kind: CondKind::Value(value),
                        };
                        Ok(Err(self.finish_inner_cond(first, start)?))
                    }
                    _ => Ok(Ok(self.walklist_rest(open, vec![value])?)),
                }
            }
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::RELPROP_IN_MINUS_PAREN_PAREN)?;
                if self.tok.term == Term::Comma {
                    let item = Value {
                        span: prop.span,
                        kind: ValueKind::RelPropValue(prop),
                    };
                    return Ok(Ok(self.walklist_rest(open, vec![item])?));
                }
                let kind = match self.tok.term {
                    Term::ArrayCondStart => CondKind::Array {
                        prop,
                        cmp: self.array_comparison()?,
                    },
                    term if is_cmpr_start(term) => CondKind::RelPropCmp {
                        prop: PropPath::Rel(prop),
                        cmp: self.comparison()?,
                    },
                    _ => CondKind::HasRelProp(PropPath::Rel(prop)),
                };
                let first = Cond {
                    kind,
                    span: self.span_from(start),
                };
                Ok(Err(self.finish_inner_cond(first, start)?))
            }
            Term::UnivName | Term::Dot => {
                let prop = self.univprop(sets::UNIVPROP_IN_MINUS_PAREN_PAREN)?;
                if self.tok.term == Term::Comma {
                    let item = Value {
                        span: prop.span,
                        kind: ValueKind::UnivPropValue(prop),
                    };
                    return Ok(Ok(self.walklist_rest(open, vec![item])?));
                }
                let kind = if is_cmpr_start(self.tok.term) {
                    CondKind::RelPropCmp {
                        prop: PropPath::Univ(prop),
                        cmp: self.comparison()?,
                    }
                } else {
                    CondKind::HasRelProp(PropPath::Univ(prop))
                };
                let first = Cond {
                    kind,
                    span: self.span_from(start),
                };
                Ok(Err(self.finish_inner_cond(first, start)?))
            }
            Term::Props => {
                let tok = self.bump(sets::PROPS_IN_MINUS_PAREN_PAREN)?;
                let prop = self.tok_text(tok).to_string();
                if self.tok.term == Term::Comma {
                    let item = Value {
                        kind: ValueKind::Str(prop),
                        span: self.span_of(tok),
                    };
                    return Ok(Ok(self.walklist_rest(open, vec![item])?));
                }
                let kind = if is_cmpr_start(self.tok.term) {
                    CondKind::AbsPropCmp {
                        prop,
                        prop_span: self.span_of(tok),
                        cmp: self.comparison()?,
                    }
                } else {
                    CondKind::HasAbsProp(prop, self.span_of(tok))
                };
                let first = Cond {
                    kind,
                    span: self.span_from(start),
                };
                Ok(Err(self.finish_inner_cond(first, start)?))
            }
            _ => {
                let item = self.walklist_item()?;
                Ok(Ok(self.walklist_rest(open, vec![item])?))
            }
        }
    }

    /// One item of a walk verb list.
    fn walklist_item(&mut self) -> Result<Value> {
        let tok = self.tok;
        match tok.term {
            Term::NonQuoteWord | Term::TripleQuotedString | Term::VarTokn | Term::Props => {
                self.bump(sets::WALKLIST_AFTER_ITEM)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Backquote => self.formatstring(Ctx::Storm),
            Term::Dollar => self.varvalu(Ctx::Storm),
            Term::RelName | Term::ColonDollar => {
                let prop = self.relprop(sets::WALKLIST_AFTER_ITEM)?;
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::RelPropValue(prop),
                })
            }
            Term::UnivName | Term::Dot => {
                let prop = self.univprop(sets::WALKLIST_AFTER_ITEM)?;
                Ok(Value {
                    span: prop.span,
                    kind: ValueKind::UnivPropValue(prop),
                })
            }
            Term::Hash | Term::HashSpace => self.tag_value(Ctx::Storm),
            _ => Err(self.unexpected()),
        }
    }

    /// The rest of a walk verb list after its first item (the current token must be `,`).
    fn walklist_rest(
        &mut self,
        open: crate::storm::lexer::Token,
        mut items: Vec<Value>,
    ) -> Result<Value> {
        if self.tok.term != Term::Comma {
            return Err(self.unexpected());
        }
        while self.tok.term == Term::Comma {
            self.bump(sets::WALKLIST_AFTER_COMMA)?;
            if self.tok.term == Term::RPar {
                break;
            }
            items.push(self.walklist_item()?);
        }
        let close = self.expect(Term::RPar, sets::WALK_VERB_END)?;
        Ok(Value {
            kind: ValueKind::List(items),
            span: Span::new(open.start, close.end),
        })
    }

    fn finish_inner_cond(&mut self, mut cond: Cond, start: usize) -> Result<Cond> {
        loop {
            let and = match self.tok.term {
                Term::And => true,
                Term::Or => false,
                _ => break,
            };
            self.bump(sets::COND_START)?;
            let rhs = self.cond()?;
            let kind = if and {
                CondKind::And(Box::new(cond), Box::new(rhs))
            } else {
                CondKind::Or(Box::new(cond), Box::new(rhs))
            };
            cond = Cond {
                kind,
                span: self.span_from(start),
            };
        }
        self.expect(Term::RPar, sets::COND_INNER_PAREN_CLOSE)?;
        Ok(cond)
    }

    /// A single-token or simple walk verb after `-(`.
    fn walk_verb_atom(&mut self) -> Result<Value> {
        let tok = self.tok;
        match tok.term {
            Term::NonQuoteWord | Term::TripleQuotedString | Term::VarTokn => {
                self.bump(sets::WALK_VERB_END)?;
                let text = self.string_token(tok)?;
                Ok(Value {
                    kind: ValueKind::Str(text),
                    span: self.span_of(tok),
                })
            }
            Term::Backquote => self.formatstring(Ctx::Storm),
            Term::EmbedQueryStart => self.embedquery(),
            _ => Err(self.unexpected()),
        }
    }

    /// The destination and optional comparison of an edge walk (after `)>` or `)-`).
    fn walk_rest(&mut self, reverse: bool, join: bool, verb: Value) -> Result<EdgeWalk> {
        let tok = self.tok;
        let dest = match tok.term {
            Term::Wildcard | Term::Props | Term::WildProps => {
                self.bump(sets::AFTER_WALK_DEST)?;
                Value {
                    kind: ValueKind::Str(self.tok_text(tok).to_string()),
                    span: self.span_of(tok),
                }
            }
            Term::LPar => self.valulist_value()?,
            Term::Dollar => self.varvalu(Ctx::Storm)?,
            _ => return Err(self.unexpected()),
        };
        let cmp = self.opt_comparison()?;
        Ok(EdgeWalk {
            reverse,
            join,
            verb,
            dest,
            cmp,
        })
    }

    /// `->` and `-+>` pivots.
    fn right_pivot(&mut self) -> Result<OperKind> {
        let join = self.tok.term == Term::RightJoin;
        self.bump(if join {
            sets::RIGHT_JOIN_TARGET
        } else {
            sets::RIGHT_PIVOT_TARGET
        })?;
        let tok = self.tok;
        let kind = match tok.term {
            Term::ExprTimes => {
                self.bump(sets::Q_FOLLOW)?;
                PivotKind::Out
            }
            Term::AllTags => {
                self.bump(sets::Q_FOLLOW)?;
                PivotKind::ToTags(None)
            }
            Term::MatchHash | Term::MatchHashWild => PivotKind::ToTags(Some(self.tagmatch()?)),
            Term::Props | Term::UnivName | Term::WildProps => {
                self.bump(sets::Q_FOLLOW)?;
                PivotKind::ToForm(PivotTarget::Name(
                    self.tok_text(tok).to_string(),
                    self.span_of(tok),
                ))
            }
            Term::LPar => PivotKind::ToForm(PivotTarget::Value(self.valulist_value()?)),
            Term::Dollar => PivotKind::ToForm(PivotTarget::Value(self.varvalu(Ctx::Storm)?)),
            Term::LBrace if !join => {
                let (query, _) = self.braced_query(sets::Q_FOLLOW)?;
                PivotKind::Raw(query)
            }
            _ => return Err(self.unexpected()),
        };
        Ok(OperKind::Pivot(Pivot { kind, join }))
    }

    /// `$...` at the start of an operator: `$x = valu`, `$x.y = valu` or a value evaluated for
    /// its effects.
    fn var_oper(&mut self) -> Result<OperKind> {
        self.bump(sets::VARTOKN_ONLY)?;
        let tok = self.tok;
        if tok.term != Term::VarTokn {
            return Err(self.unexpected());
        }
        self.bump(sets::VAR_AT_OPER)?;
        let name = self.string_token(tok)?;
        if self.tok.term == Term::Equal {
            self.bump(sets::VALU_START)?;
            let value = self.valu(Ctx::Storm)?;
            return Ok(OperKind::SetVar { name, value });
        }
        let mut value = Value {
            kind: ValueKind::Var(name),
            span: self.span_from(tok.start),
        };
        let start = value.span.start;
        loop {
            match self.tok.term {
                Term::Dot => {
                    let target = value;
                    let key = self.deref_key(Ctx::Oper, Ctx::Oper.after_var())?;
                    if matches!(self.tok.term, Term::EqSpace | Term::EqNoSpace) {
                        self.bump(sets::VALU_START)?;
                        let new = self.valu(Ctx::Storm)?;
                        return Ok(OperKind::SetItem {
                            target,
                            key,
                            value: new,
                        });
                    }
                    value = Value {
                        kind: ValueKind::Deref {
                            base: Box::new(target),
                            key: Box::new(key),
                        },
                        span: self.span_from(start),
                    };
                }
                Term::LParNoSpace => value = self.call(value, sets::VF_VAR)?,
                _ => break,
            }
        }
        Ok(OperKind::VarEval(value))
    }

    /// `( $a, $b )` variable list (the current token is `(`).
    pub(super) fn varlist(&mut self) -> Result<Vec<String>> {
        self.bump(sets::VARLIST_START)?;
        let mut names = Vec::new();
        loop {
            match self.tok.term {
                Term::RPar => break,
                Term::Comma if names.is_empty() => {
                    self.bump(sets::RPAR_ONLY)?;
                    break;
                }
                Term::Dollar => {
                    self.bump(sets::VARTOKN_ONLY)?;
                    let tok = self.expect(Term::VarTokn, sets::VARLIST_AFTER_NAME)?;
                    names.push(self.string_token(tok)?);
                    if self.tok.term == Term::Comma {
                        self.bump(sets::VARLIST_AFTER_COMMA)?;
                    } else if self.tok.term != Term::RPar {
                        return Err(self.unexpected());
                    }
                }
                _ => return Err(self.unexpected()),
            }
        }
        self.expect(Term::RPar, sets::VARLIST_CLOSE)?;
        Ok(names)
    }

    fn forloop(&mut self) -> Result<OperKind> {
        self.bump(sets::FOR_VARS)?;
        let vars = match self.tok.term {
            Term::Dollar => {
                self.bump(sets::VARTOKN_ONLY)?;
                let tok = self.expect(Term::VarTokn, sets::IN_ONLY)?;
                ForVars::One(self.string_token(tok)?)
            }
            Term::LPar => ForVars::Many(self.varlist()?),
            _ => return Err(self.unexpected()),
        };
        self.expect(Term::In, sets::VALU_START)?;
        let iter = self.valu(Ctx::Storm)?;
        let body = self.bare_subquery()?;
        Ok(OperKind::For { vars, iter, body })
    }

    /// `{ query }` as a loop or clause body.
    fn bare_subquery(&mut self) -> Result<SubQuery> {
        if self.tok.term != Term::LBrace {
            return Err(self.unexpected());
        }
        let (query, span) = self.braced_query(sets::AFTER_SUBQUERY)?;
        Ok(SubQuery {
            query,
            yields: false,
            span,
        })
    }

    fn ifstmt(&mut self) -> Result<OperKind> {
        let mut clauses = Vec::new();
        loop {
            let start = self.tok.start;
            self.bump(sets::VALU_START)?;
            let cond = self.valu(Ctx::Storm)?;
            let body = self.bare_subquery()?;
            clauses.push(IfClause {
                cond,
                body,
                span: self.span_from(start),
            });
            if self.tok.term != Term::Elif {
                break;
            }
        }
        let mut otherwise = None;
        if self.tok.term == Term::Else {
            self.bump(sets::LBRACE_ONLY)?;
            otherwise = Some(self.bare_subquery()?);
        }
        Ok(OperKind::If { clauses, otherwise })
    }

    fn switch(&mut self) -> Result<OperKind> {
        let switch_start = self.tok.start;
        self.bump(sets::DOLLAR_ONLY)?;
        if self.tok.term != Term::Dollar {
            return Err(self.unexpected());
        }
        let value = self.varvalu_with(sets::VARTOKN_ONLY, Ctx::Storm)?;
        self.expect(Term::LBrace, sets::SWITCH_CASE)?;
        let mut cases: Vec<SwitchCase> = Vec::new();
        while self.tok.term != Term::RBrace {
            let start = self.tok.start;
            let tok = self.tok;
            let (values, default) = match tok.term {
                Term::DefaultCase => {
                    self.bump(sets::COLON_ONLY)?;
                    (Vec::new(), true)
                }
                Term::CaseBare | Term::DoubleQuotedString | Term::SingleQuotedString => {
                    self.bump(sets::COLON_ONLY)?;
                    (vec![self.string_token(tok)?], false)
                }
                Term::LPar => {
                    self.bump(sets::SWITCH_MULTI)?;
                    let mut values = Vec::new();
                    loop {
                        let item = self.tok;
                        match item.term {
                            Term::MCaseBare
                            | Term::DoubleQuotedString
                            | Term::SingleQuotedString => {
                                self.bump(sets::COMMA_RPAR)?;
                                values.push(self.string_token(item)?);
                            }
                            _ => return Err(self.unexpected()),
                        }
                        match self.tok.term {
                            Term::Comma => {
                                self.bump(sets::SWITCH_MULTI)?;
                            }
                            Term::RPar if values.len() > 1 => {
                                self.bump(sets::COLON_ONLY)?;
                                break;
                            }
                            _ => return Err(self.unexpected()),
                        }
                    }
                    (values, false)
                }
                _ => return Err(self.unexpected()),
            };
            self.expect(Term::Colon, sets::LBRACE_ONLY)?;
            if self.tok.term != Term::LBrace {
                return Err(self.unexpected());
            }
            let (query, span) = self.braced_query(sets::SWITCH_CASE)?;
            cases.push(SwitchCase {
                values,
                default,
                body: SubQuery {
                    query,
                    yields: false,
                    span,
                },
                span: self.span_from(start),
            });
        }
        self.bump(sets::Q_FOLLOW)?;
        self.check_switch(&cases, self.span_from(switch_start));
        Ok(OperKind::Switch { value, cases })
    }

    /// The reference rejects more than one default case and duplicate case values.
    fn check_switch(&mut self, cases: &[SwitchCase], span: Span) {
        let mut seen = std::collections::HashSet::new();
        let mut count = 0;
        for case in cases {
            if case.default {
                count += 1;
                if count > 1 {
                    let mesg = format!(
                        "Switch statements cannot have more than one default case. Found {count}."
                    );
                    self.defer(SyntaxError::at(self.text, span, mesg));
                    return;
                }
            }
            for value in &case.values {
                if !seen.insert(value.as_str()) {
                    let mesg = format!(
                        "Switch statements cannot have duplicate switch cases: {}",
                        trim_text(value)
                    );
                    self.defer(SyntaxError::at(self.text, span, mesg));
                    return;
                }
            }
        }
    }

    fn trycatch(&mut self) -> Result<OperKind> {
        self.bump(sets::LBRACE_ONLY)?;
        let (body, _) = self.braced_query(sets::AFTER_TRY)?;
        let mut catches = Vec::new();
        while self.tok.term == Term::Catch {
            let start = self.tok.start;
            self.bump(sets::VALU_START)?;
            let errors = self.valu(Ctx::Storm)?;
            self.expect(Term::As, sets::VARTOKN_ONLY)?;
            let tok = self.expect(Term::VarTokn, sets::LBRACE_ONLY)?;
            let var = self.string_token(tok)?;
            if self.tok.term != Term::LBrace {
                return Err(self.unexpected());
            }
            let (query, _) = self.braced_query(sets::AFTER_TRY)?;
            catches.push(Catch {
                errors,
                var,
                body: query,
                span: self.span_from(start),
            });
        }
        Ok(OperKind::Try { body, catches })
    }

    fn function(&mut self) -> Result<Function> {
        self.bump(sets::VARTOKN_ONLY)?;
        let tok = self.expect(Term::VarTokn, sets::LPAR_ONLY)?;
        let name = self.string_token(tok)?;
        let open = self.expect(Term::LPar, sets::FUNC_PARAMS_START)?;
        let mut params: Vec<Param> = Vec::new();
        if self.tok.term != Term::RPar {
            loop {
                let tok = self.expect(Term::VarTokn, sets::FUNC_PARAM_AFTER_NAME)?;
                let pname = self.string_token(tok)?;
                let default = if self.tok.term == Term::EqNoSpace {
                    self.bump(sets::VALU_START)?;
                    Some(self.valu(Ctx::Storm)?)
                } else {
                    None
                };
                params.push(Param {
                    name: pname,
                    default,
                    span: self.span_of(tok),
                });
                match self.tok.term {
                    Term::Comma => {
                        self.bump(sets::VARTOKN_ONLY)?;
                    }
                    Term::RPar => break,
                    _ => return Err(self.unexpected()),
                }
            }
        }
        let close = self.expect(Term::RPar, sets::LBRACE_ONLY)?;
        let params_span = Span::new(open.start, close.end);
        self.check_params(&params, params_span);
        if self.tok.term != Term::LBrace {
            return Err(self.unexpected());
        }
        let (body, _) = self.braced_query(sets::AFTER_BLOCK)?;
        Ok(Function {
            name,
            params,
            body,
            params_span,
        })
    }

    fn check_params(&mut self, params: &[Param], span: Span) {
        let mut names = std::collections::HashSet::new();
        let mut kwfound = false;
        for param in params {
            if !names.insert(param.name.as_str()) {
                let mesg = format!(
                    "Duplicate parameter \"{}\" in function definition",
                    param.name
                );
                self.defer(SyntaxError::at(self.text, param.span, mesg));
                return;
            }
            if param.default.is_some() {
                kwfound = true;
            } else if kwfound {
                let mesg = format!(
                    "Positional parameter \"{}\" follows keyword parameter in definition",
                    param.name
                );
                self.defer(SyntaxError::at(self.text, span, mesg));
                return;
            }
        }
    }
}

/// Tokens that start a comparison operator (`_cmpr`).
pub(super) fn is_cmpr_start(term: Term) -> bool {
    matches!(
        term,
        Term::ExprTimes
            | Term::Cmpr
            | Term::CmprOther
            | Term::EqSpace
            | Term::EqNoSpace
            | Term::TrySet
            | Term::SetTagOper
    )
}

/// The reference shortens long values in messages.
fn trim_text(text: &str) -> String {
    const MAX: usize = 256;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX - 3).collect();
    format!("{head}...")
}
