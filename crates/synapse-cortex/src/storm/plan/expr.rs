//! Planned expressions: values with constants folded and runtime safety resolved.

use std::sync::Arc;

use super::PlanError;
use super::op::{Pipeline, build_pipeline};
use super::scope::{Scope, missing};
use crate::storm::ast::*;

/// A planned value expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Whether it has one value for the whole query (computable without a node).
    pub runtsafe: bool,
    /// Where it was written.
    pub span: Span,
}

/// A constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// A string.
    Str(String),
    /// An integer.
    Int(i128),
    /// An integer too large for `i128`, as decimal digits.
    BigInt(String),
    /// A decimal number, as written.
    Number(String),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
    /// A list of constants (a Storm list, or tuple when passed to a type).
    List(Vec<Const>),
}

/// The kinds of planned expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A constant.
    Const(Const),
    /// A list with non-constant items.
    List(Vec<Expr>),
    /// `[a, b]` inside an expression, with non-constant items.
    ExprList(Vec<Expr>),
    /// `{k: v}` inside an expression.
    ExprDict(Vec<(Expr, Expr)>),
    /// A variable.
    Var(VarRef),
    /// `base.key`
    Deref {
        /// The value dereferenced.
        base: Box<Expr>,
        /// The key.
        key: Box<Expr>,
    },
    /// `func(args, name=valu)`
    Call {
        /// The called value.
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments.
        kwargs: Vec<(String, Expr)>,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `-x`, `not x`
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a and b` (short-circuit)
    And(Box<Expr>, Box<Expr>),
    /// `a or b` (short-circuit)
    Or(Box<Expr>, Box<Expr>),
    /// `:prop` of the current node.
    RelProp(NameExpr),
    /// `.prop` of the current node.
    UnivProp(NameExpr),
    /// `#tag` interval of the current node.
    Tag(TagExpr),
    /// `#tag:prop` of the current node.
    TagProp {
        /// The tag.
        tag: TagExpr,
        /// The prop.
        prop: NameExpr,
    },
    /// A format string: the representations of the parts, concatenated.
    Format(Vec<Expr>),
    /// A query used as a value.
    Query(QueryExpr),
}

/// A variable reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarRef {
    /// The name.
    pub name: String,
    /// Whether the variable is runtime-safe (else it is read from the node's path first).
    pub runtsafe: bool,
}

/// A name that is constant or computed (prop names, tag prop names, form names).
#[derive(Clone, Debug, PartialEq)]
pub enum NameExpr {
    /// A literal name.
    Const(String),
    /// Computed at run time.
    Dynamic(Box<Expr>),
}

impl NameExpr {
    /// Whether the name can be computed without a node.
    pub fn runtsafe(&self) -> bool {
        match self {
            NameExpr::Const(_) => true,
            NameExpr::Dynamic(expr) => expr.runtsafe,
        }
    }
}

/// A tag name or glob.
#[derive(Clone, Debug, PartialEq)]
pub enum TagExpr {
    /// A literal tag (segments joined with dots); a glob when it contains `*`.
    Const(String),
    /// Segments, some from variables (each normalized as a tag part at run time).
    Segments(Vec<TagSegExpr>),
    /// The whole name from a value (a tag, or a list of tags where the operation allows).
    Dynamic(Box<Expr>),
    /// Every tag (`-> #`).
    All,
}

impl TagExpr {
    /// Whether the name can be computed without a node.
    pub fn runtsafe(&self) -> bool {
        match self {
            TagExpr::Const(_) | TagExpr::All => true,
            TagExpr::Segments(segs) => segs.iter().all(|seg| match seg {
                TagSegExpr::Text(_) => true,
                TagSegExpr::Var(var) => var.runtsafe,
            }),
            TagExpr::Dynamic(expr) => expr.runtsafe,
        }
    }

    /// Whether the literal contains a glob.
    pub fn is_glob(&self) -> bool {
        matches!(self, TagExpr::Const(name) if name.contains('*'))
    }
}

/// One segment of a tag with variable segments.
#[derive(Clone, Debug, PartialEq)]
pub enum TagSegExpr {
    /// A literal segment.
    Text(String),
    /// A variable segment.
    Var(VarRef),
}

/// A query used as a value.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryExpr {
    /// `${ query }`: a query object, planned in its own runtime when it runs.
    Embed {
        /// The query text.
        text: String,
        /// The parsed query.
        query: Arc<Query>,
    },
    /// `{ query }` as a value: runs in a sub-runtime and yields the single node's value (or
    /// the returned value).
    Value(Box<Pipeline>),
}

pub(crate) fn konst(kind: Const, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Const(kind),
        runtsafe: true,
        span,
    }
}

fn boxed(expr: Expr) -> Box<Expr> {
    Box::new(expr)
}

/// Plan a value in `scope`.
pub(crate) fn build(value: &Value, scope: &Scope) -> Result<Expr, PlanError> {
    let span = value.span;
    let cnst = |kind: Const| Ok(konst(kind, span));
    let all = |exprs: &[&Expr]| exprs.iter().all(|expr| expr.runtsafe);
    let (kind, runtsafe) = match &value.kind {
        ValueKind::Str(text) => return cnst(Const::Str(text.clone())),
        ValueKind::Int(num) => return cnst(Const::Int(*num)),
        ValueKind::BigInt(text) => return cnst(Const::BigInt(text.clone())),
        ValueKind::Number(text) => return cnst(Const::Number(text.clone())),
        ValueKind::Bool(flag) => return cnst(Const::Bool(*flag)),
        ValueKind::Null => return cnst(Const::Null),
        ValueKind::VarList(names) => {
            return cnst(Const::List(names.iter().cloned().map(Const::Str).collect()));
        }
        ValueKind::ArgvQuery { text, .. } => return cnst(Const::Str(text.clone())),
        ValueKind::List(items) | ValueKind::ExprList(items) => {
            let items = items
                .iter()
                .map(|item| build(item, scope))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(consts) = all_const(&items) {
                return cnst(Const::List(consts));
            }
            let safe = items.iter().all(|item| item.runtsafe);
            if matches!(value.kind, ValueKind::List(_)) {
                (ExprKind::List(items), safe)
            } else {
                (ExprKind::ExprList(items), safe)
            }
        }
        ValueKind::ExprDict(pairs) => {
            let pairs = pairs
                .iter()
                .map(|(key, val)| Ok((build(key, scope)?, build(val, scope)?)))
                .collect::<Result<Vec<_>, PlanError>>()?;
            let safe = pairs.iter().all(|(key, val)| key.runtsafe && val.runtsafe);
            (ExprKind::ExprDict(pairs), safe)
        }
        ValueKind::Var(name) => {
            if !scope.is_known(name) {
                return Err(missing(name, span));
            }
            let var = VarRef {
                name: name.clone(),
                runtsafe: scope.is_runtsafe(name),
            };
            let safe = var.runtsafe;
            (ExprKind::Var(var), safe)
        }
        ValueKind::Deref { base, key } => {
            let (base, key) = (build(base, scope)?, build(key, scope)?);
            let safe = all(&[&base, &key]);
            (
                ExprKind::Deref {
                    base: boxed(base),
                    key: boxed(key),
                },
                safe,
            )
        }
        ValueKind::Call { func, args, kwargs } => {
            let func = build(func, scope)?;
            let args = args
                .iter()
                .map(|arg| build(arg, scope))
                .collect::<Result<Vec<_>, _>>()?;
            let kwargs = kwargs
                .iter()
                .map(|kw| Ok((kw.name.clone(), build(&kw.value, scope)?)))
                .collect::<Result<Vec<_>, PlanError>>()?;
            let safe = func.runtsafe
                && args.iter().all(|a| a.runtsafe)
                && kwargs.iter().all(|(_, v)| v.runtsafe);
            (
                ExprKind::Call {
                    func: boxed(func),
                    args,
                    kwargs,
                },
                safe,
            )
        }
        ValueKind::DollarExpr(inner) => return build(inner, scope),
        ValueKind::Binary { op, lhs, rhs } => {
            let (lhs, rhs) = (build(lhs, scope)?, build(rhs, scope)?);
            let safe = all(&[&lhs, &rhs]);
            (
                ExprKind::Binary {
                    op: *op,
                    lhs: boxed(lhs),
                    rhs: boxed(rhs),
                },
                safe,
            )
        }
        ValueKind::Unary { op, operand } => {
            let operand = build(operand, scope)?;
            let safe = operand.runtsafe;
            (
                ExprKind::Unary {
                    op: *op,
                    operand: boxed(operand),
                },
                safe,
            )
        }
        ValueKind::And(lhs, rhs) | ValueKind::Or(lhs, rhs) => {
            let (lhs, rhs) = (build(lhs, scope)?, build(rhs, scope)?);
            let safe = all(&[&lhs, &rhs]);
            let kind = if matches!(value.kind, ValueKind::And(..)) {
                ExprKind::And(boxed(lhs), boxed(rhs))
            } else {
                ExprKind::Or(boxed(lhs), boxed(rhs))
            };
            (kind, safe)
        }
        ValueKind::RelPropValue(prop) => (ExprKind::RelProp(name_expr(&prop.name, scope)?), false),
        ValueKind::UnivPropValue(prop) => {
            (ExprKind::UnivProp(name_expr(&prop.name, scope)?), false)
        }
        ValueKind::TagValue(tag) => (ExprKind::Tag(tag_expr(tag, scope)?), false),
        ValueKind::TagPropValue(prop) => (
            ExprKind::TagProp {
                tag: tag_expr(&prop.tag, scope)?,
                prop: name_expr(&prop.prop, scope)?,
            },
            false,
        ),
        ValueKind::FormatString(parts) => {
            let parts = parts
                .iter()
                .map(|part| build(part, scope))
                .collect::<Result<Vec<_>, _>>()?;
            match parts.as_slice() {
                [] => return cnst(Const::Str(String::new())),
                [
                    Expr {
                        kind: ExprKind::Const(Const::Str(text)),
                        ..
                    },
                ] => return cnst(Const::Str(text.clone())),
                _ => {}
            }
            let safe = parts.iter().all(|part| part.runtsafe);
            (ExprKind::Format(parts), safe)
        }
        ValueKind::EmbedQuery { text, query } => (
            ExprKind::Query(QueryExpr::Embed {
                text: text.clone(),
                query: Arc::new((**query).clone()),
            }),
            true,
        ),
        ValueKind::SubQuery(sub) => (
            ExprKind::Query(QueryExpr::Value(Box::new(build_pipeline(
                &sub.query, scope,
            )?))),
            true,
        ),
    };
    Ok(Expr {
        kind,
        runtsafe,
        span,
    })
}

fn all_const(items: &[Expr]) -> Option<Vec<Const>> {
    items
        .iter()
        .map(|item| match &item.kind {
            ExprKind::Const(value) => Some(value.clone()),
            _ => None,
        })
        .collect()
}

/// Plan a name that may come from a value.
pub(crate) fn name_expr(part: &NamePart, scope: &Scope) -> Result<NameExpr, PlanError> {
    Ok(match part {
        NamePart::Name(name, _) => NameExpr::Const(name.clone()),
        NamePart::Value(value) => NameExpr::Dynamic(boxed(build(value, scope)?)),
    })
}

/// Plan a form or prop reference.
pub(crate) fn prop_expr(prop: &PropRef, scope: &Scope) -> Result<NameExpr, PlanError> {
    Ok(match prop {
        PropRef::Name(name, _) => NameExpr::Const(name.clone()),
        PropRef::Deref(value) => NameExpr::Dynamic(boxed(build(value, scope)?)),
    })
}

/// Plan a tag name or glob.
pub(crate) fn tag_expr(tag: &TagName, scope: &Scope) -> Result<TagExpr, PlanError> {
    Ok(match &tag.kind {
        TagNameKind::All => TagExpr::All,
        TagNameKind::Value(value) => TagExpr::Dynamic(boxed(build(value, scope)?)),
        TagNameKind::Segments(segs) => {
            if segs.iter().all(|seg| matches!(seg, TagSegment::Text(..))) {
                let parts: Vec<&str> = segs
                    .iter()
                    .filter_map(|seg| match seg {
                        TagSegment::Text(text, _) => Some(text.as_str()),
                        TagSegment::Var(..) => None,
                    })
                    .collect();
                TagExpr::Const(parts.join("."))
            } else {
                let mut out = Vec::new();
                for seg in segs {
                    out.push(match seg {
                        TagSegment::Text(text, _) => TagSegExpr::Text(text.clone()),
                        TagSegment::Var(name, span) => {
                            if !scope.is_known(name) {
                                return Err(missing(name, *span));
                            }
                            TagSegExpr::Var(VarRef {
                                name: name.clone(),
                                runtsafe: scope.is_runtsafe(name),
                            })
                        }
                    });
                }
                TagExpr::Segments(out)
            }
        }
    })
}
