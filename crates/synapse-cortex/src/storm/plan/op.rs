//! Planned operators: the node/path pipeline.

use std::sync::Arc;

use super::PlanError;
use super::expr::{Expr, NameExpr, TagExpr, build, name_expr, prop_expr, tag_expr};
use super::scope::Scope;
use crate::storm::ast::*;

/// A sequence of operators; nodes flow through them left to right.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Pipeline {
    /// The operators (shared: a pipeline is cheap to clone).
    pub ops: Arc<[Op]>,
    /// Where the query was written.
    pub span: Span,
}

/// A planned operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// What it does.
    pub kind: OpKind,
    /// Whether it can run without an inbound node (its expressions are all runtime-safe): a
    /// runtime-safe lift runs once after passing its inbound nodes through; a runtime-safe
    /// assignment, evaluation or command still runs when no node comes in.
    pub runtsafe: bool,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of planned operators.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// Produce nodes from the indexes (after passing inbound nodes through).
    Lift(LiftPlan),
    /// Keep (`must`) or drop nodes matching a condition.
    Filter {
        /// `+` keeps matching nodes, `-` drops them.
        must: bool,
        /// The condition.
        cond: CondPlan,
    },
    /// A pivot or join.
    Pivot(PivotPlan),
    /// A light-edge walk.
    Walk(WalkPlan),
    /// A node or node-data edit, applied to every inbound node (or creating nodes).
    Edit(EditPlan),
    /// A command: bound to the command registry at run time.
    Cmd(CmdPlan),
    /// An assignment.
    Set {
        /// The variables assigned.
        target: SetTarget,
        /// The value.
        value: Expr,
    },
    /// `$x.key = value`
    SetItem {
        /// The value modified.
        target: Expr,
        /// The key.
        key: Expr,
        /// The new value.
        value: Expr,
    },
    /// A value computed for its effects.
    Eval(Expr),
    /// A subquery run per node in the same runtime (its nodes replace the inbound node when
    /// `yields`; otherwise the inbound node goes on, carrying the subquery's path variables).
    SubQuery {
        /// The subquery.
        body: Pipeline,
        /// `yield { }`
        yields: bool,
    },
    /// `yield $value`: the nodes (or node generator) a value gives.
    YieldValue(Expr),
    /// `-> { query }`: the query in a sub-runtime per node.
    RawPivot(Pipeline),
    /// `for $x in value { }`
    For {
        /// The loop variables.
        vars: Vec<String>,
        /// The iterated value.
        iter: Expr,
        /// The body.
        body: Pipeline,
    },
    /// `while cond { }`
    While {
        /// The condition.
        cond: Expr,
        /// The body.
        body: Pipeline,
    },
    /// `if` / `elif` / `else`
    If {
        /// The conditional arms.
        arms: Vec<IfArm>,
        /// The `else` body.
        otherwise: Option<Pipeline>,
    },
    /// `switch $value { ... }`
    Switch {
        /// The value switched on.
        value: Expr,
        /// The cases.
        arms: Vec<CaseArm>,
        /// The `*` case.
        default: Option<Pipeline>,
    },
    /// `try { } catch ... { }`
    Try {
        /// The protected body.
        body: Pipeline,
        /// The handlers, in order.
        catches: Vec<CatchArm>,
    },
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `stop` (ends a generator function).
    Stop,
    /// `return(value)`
    Return(Option<Expr>),
    /// `emit value`
    Emit(Expr),
    /// Defines a function variable when reached.
    Function(Arc<FuncPlan>),
    /// `init { }`: runs before the first node passes (or once if none does).
    Init(Pipeline),
    /// `fini { }`: runs after the last node has passed.
    Fini(Pipeline),
    /// `empty { }`: runs if no node passed.
    Empty(Pipeline),
}

/// The variables of an assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetTarget {
    /// `$x = ...`
    One(String),
    /// `($a, $b) = ...`: unpacks an iterable.
    Many(Vec<String>),
}

/// One `if`/`elif` arm.
#[derive(Clone, Debug, PartialEq)]
pub struct IfArm {
    /// The condition.
    pub cond: Expr,
    /// The body.
    pub body: Pipeline,
}

/// One switch case.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseArm {
    /// The values it matches (as strings).
    pub values: Vec<String>,
    /// The body.
    pub body: Pipeline,
}

/// One catch handler.
#[derive(Clone, Debug, PartialEq)]
pub struct CatchArm {
    /// The error names caught (a name, a list or `*`).
    pub errors: Expr,
    /// The variable receiving the error.
    pub var: String,
    /// The handler.
    pub body: Pipeline,
}

/// A lift.
#[derive(Clone, Debug, PartialEq)]
pub struct LiftPlan {
    /// The index access.
    pub source: LiftSource,
    /// Lift in reverse index order.
    pub reverse: bool,
    /// For a plain lift of a form: the narrower index the following filters allow (the first
    /// hint of the reference's "right hints"), used when the name turns out to be a form.
    pub hint: Option<LiftHint>,
}

/// Where a lift reads from. Comparisons are resolved by the prop's type at run time into index
/// ranges (equality, ranges, prefixes, CIDR blocks, intervals, ...).
#[derive(Clone, Debug, PartialEq)]
pub enum LiftSource {
    /// Every node of a form, every node with a prop (a universal prop across forms, every form
    /// matching a wildcard or implementing an interface).
    Prop {
        /// The form, prop, wildcard or interface name.
        name: NameExpr,
    },
    /// Nodes whose prop (or primary value) compares with a value.
    PropCmp {
        /// The form or prop.
        name: NameExpr,
        /// The comparison (`=`, `<`, `range=`, `~=`, `@=`, ...).
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// Nodes whose array prop has an element comparing with a value.
    Array {
        /// The array prop.
        name: NameExpr,
        /// The comparison.
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// Nodes with a tag (of a form, optionally with an interval comparison).
    Tag {
        /// The tag.
        tag: TagExpr,
        /// Only this form.
        form: Option<NameExpr>,
        /// An interval comparison.
        cmp: Option<(String, Expr)>,
    },
    /// Nodes with a tag prop (of a form, optionally compared).
    TagProp {
        /// The tag.
        tag: TagExpr,
        /// The tag prop.
        prop: NameExpr,
        /// Only this form.
        form: Option<NameExpr>,
        /// A comparison.
        cmp: Option<(String, Expr)>,
    },
    /// `##tag`: nodes carrying tags whose `syn:tag` node has the tag.
    TagTag {
        /// The tag of tags.
        tag: TagExpr,
        /// A comparison.
        cmp: Option<(String, Expr)>,
    },
}

/// What a filter after a form lift tells the lift.
#[derive(Clone, Debug, PartialEq)]
pub enum LiftHint {
    /// Lift the form's nodes with this tag.
    Tag(TagExpr),
    /// Lift by this secondary (or universal) prop, compared when a comparison is given.
    Prop {
        /// The prop name relative to the form.
        name: NameExpr,
        /// A universal prop (`.seen`).
        univ: bool,
        /// The comparison.
        cmp: Option<(String, Expr)>,
    },
}

/// A filter condition.
#[derive(Clone, Debug, PartialEq)]
pub enum CondPlan {
    /// `not c`
    Not(Box<CondPlan>),
    /// `a and b`
    And(Box<CondPlan>, Box<CondPlan>),
    /// `a or b`
    Or(Box<CondPlan>, Box<CondPlan>),
    /// The node has the relative or universal prop.
    HasProp {
        /// The prop.
        name: NameExpr,
        /// A universal prop.
        univ: bool,
    },
    /// The relative or universal prop compares with a value.
    PropCmp {
        /// The prop.
        name: NameExpr,
        /// A universal prop.
        univ: bool,
        /// The comparison.
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// The node is of the form / has the full prop (wildcards allowed).
    HasAbsProp(String),
    /// The full prop (or form value) compares with a value.
    AbsPropCmp {
        /// The form or full prop.
        prop: String,
        /// The comparison.
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// The node has a tag matching the name or glob.
    Tag(TagExpr),
    /// The node's tag interval compares with a value.
    TagCmp {
        /// The tag.
        tag: TagExpr,
        /// The comparison.
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// The node has the tag prop.
    HasTagProp {
        /// The tag (glob).
        tag: TagExpr,
        /// The prop.
        prop: NameExpr,
    },
    /// The tag prop compares with a value.
    TagPropCmp {
        /// The tag (glob).
        tag: TagExpr,
        /// The prop.
        prop: NameExpr,
        /// The comparison.
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// The subquery yields at least one node, or a number of nodes comparing with a value
    /// (evaluation stops as soon as the answer is known).
    SubQuery {
        /// The subquery, run per node in the same runtime.
        body: Pipeline,
        /// The count comparison.
        cmp: Option<(String, Expr)>,
    },
    /// An element of the array prop compares with a value.
    Array {
        /// The array prop.
        name: NameExpr,
        /// The comparison.
        cmpr: String,
        /// The value.
        value: Expr,
    },
    /// The truth of a value.
    Value(Expr),
}

/// A pivot.
#[derive(Clone, Debug, PartialEq)]
pub struct PivotPlan {
    /// The kind of pivot.
    pub kind: PivotKindPlan,
    /// Yield the inbound node too.
    pub join: bool,
}

/// The kinds of pivots (names are resolved against the model at run time).
#[derive(Clone, Debug, PartialEq)]
pub enum PivotKindPlan {
    /// `-> *`
    Out,
    /// `-> form`, `-> form:prop`, `-> (list)`, `-> $var`
    ToForm(TargetPlan),
    /// `-> #glob` (`None`: every tag)
    ToTags(Option<TagExpr>),
    /// `<- *`
    In,
    /// `<- form`
    InFrom(String),
    /// `:prop -> *`
    PropOut(NameExpr),
    /// `:prop -> target`
    Prop {
        /// The source prop.
        prop: NameExpr,
        /// The target.
        target: TargetPlan,
    },
    /// `--> *`
    WalkAllOut,
    /// `<-- *`
    WalkAllIn,
}

/// A pivot target.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetPlan {
    /// A name.
    Name(String),
    /// Names from a value.
    Value(Expr),
}

/// A light-edge walk.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkPlan {
    /// Incoming edges.
    pub reverse: bool,
    /// Yield the inbound node too.
    pub join: bool,
    /// The verb(s) (`*` for any).
    pub verb: Expr,
    /// The destination forms (`*` for any).
    pub dest: Expr,
    /// A comparison on the destination's primary value.
    pub cmp: Option<(String, Expr)>,
}

/// An edit.
#[derive(Clone, Debug, PartialEq)]
pub enum EditPlan {
    /// Add (or lift) a node.
    NodeAdd {
        /// The form.
        form: NameExpr,
        /// `=` or `?=` (others are rejected when run, as the reference does).
        oper: SetOper,
        /// The primary value.
        value: Expr,
    },
    /// Add a node and apply edits to it only.
    Parens {
        /// The node add.
        add: Box<EditPlan>,
        /// The edits of the new node.
        edits: Vec<EditPlan>,
    },
    /// Set (or add to / remove from an array) a relative or universal prop.
    PropSet {
        /// The prop.
        name: NameExpr,
        /// A universal prop.
        univ: bool,
        /// The operator.
        oper: SetOper,
        /// The value.
        value: Expr,
    },
    /// Set a prop only under a condition (`*unset=`, `*$how=`).
    CondPropSet {
        /// The prop.
        name: NameExpr,
        /// `None` for `unset`, else the value naming the condition.
        cond: Option<Expr>,
        /// `?=`
        try_set: bool,
        /// The value.
        value: Expr,
    },
    /// Delete a prop.
    PropDel {
        /// The prop.
        name: NameExpr,
        /// A universal prop.
        univ: bool,
    },
    /// Add a tag (with an optional interval).
    TagAdd {
        /// `+?#`
        try_add: bool,
        /// The tag (a value may give several).
        tag: TagExpr,
        /// The interval.
        value: Option<(SetOper, Expr)>,
    },
    /// Delete a tag and its children.
    TagDel(TagExpr),
    /// Set a tag prop.
    TagPropSet {
        /// The tag.
        tag: TagExpr,
        /// The prop.
        prop: NameExpr,
        /// The operator.
        oper: SetOper,
        /// The value.
        value: Expr,
    },
    /// Delete a tag prop.
    TagPropDel {
        /// The tag.
        tag: TagExpr,
        /// The prop.
        prop: NameExpr,
    },
    /// Add or delete light edges to the nodes of a subquery or value.
    Edge {
        /// Add (else delete).
        add: bool,
        /// Edges from the other nodes to this one.
        reverse: bool,
        /// The verb.
        verb: Expr,
        /// The other ends.
        target: EdgeTarget,
    },
}

/// The other end of an edge edit.
#[derive(Clone, Debug, PartialEq)]
pub enum EdgeTarget {
    /// A subquery run per node in the same runtime.
    Query(Pipeline),
    /// A value: a node, a list of nodes or of idens.
    Value(Expr),
}

/// A command invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct CmdPlan {
    /// The command name.
    pub name: String,
    /// The arguments (subquery arguments are their text), parsed by the command's spec.
    pub args: Vec<Expr>,
}

/// A function definition.
#[derive(Clone, Debug, PartialEq)]
pub struct FuncPlan {
    /// The name (a runtime-safe variable once defined).
    pub name: String,
    /// Parameters, positional first; defaults must be runtime-safe.
    pub params: Vec<(String, Option<Expr>)>,
    /// The body, planned in its own runtime when called (its variables depend on the caller).
    pub body: Arc<Query>,
    /// How calls behave.
    pub kind: FuncKind,
}

/// How a function's calls behave, from its body (as the reference decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncKind {
    /// `return`s a value and never `emit`s: a call gives the value.
    Value,
    /// `emit`s: a call gives a generator of values.
    Emitter,
    /// Otherwise: a call gives a generator of nodes.
    Nodes,
}

/// Plan a query run in the runtime of `scope` (its assignments must already be classified).
pub(crate) fn build_pipeline(query: &Query, scope: &Scope) -> Result<Pipeline, PlanError> {
    let mut ops = Vec::with_capacity(query.opers.len());
    for (idx, oper) in query.opers.iter().enumerate() {
        let mut op = build_op(oper, scope)?;
        if let OpKind::Lift(lift) = &mut op.kind
            && matches!(
                lift.source,
                LiftSource::Prop {
                    name: NameExpr::Const(_)
                }
            )
        {
            lift.hint = right_hint(&query.opers[idx + 1..], scope)?;
        }
        ops.push(op);
    }
    Ok(Pipeline {
        ops: ops.into(),
        span: query.span,
    })
}

fn cmp_of(cmp: &Comparison, scope: &Scope) -> Result<(String, Expr), PlanError> {
    Ok((cmp.cmpr.text.clone(), build(&cmp.value, scope)?))
}

fn opt_cmp(cmp: &Option<Comparison>, scope: &Scope) -> Result<Option<(String, Expr)>, PlanError> {
    cmp.as_ref().map(|cmp| cmp_of(cmp, scope)).transpose()
}

fn build_op(oper: &Oper, scope: &Scope) -> Result<Op, PlanError> {
    let kind = match &oper.kind {
        OperKind::Lift(lift) => OpKind::Lift(LiftPlan {
            source: lift_source(&lift.kind, scope)?,
            reverse: lift.reverse,
            hint: None,
        }),
        OperKind::Filter { must, cond } => OpKind::Filter {
            must: *must,
            cond: build_cond(cond, scope)?,
        },
        OperKind::Pivot(pivot) => pivot_op(pivot, scope)?,
        OperKind::EdgeWalk(walk) => OpKind::Walk(WalkPlan {
            reverse: walk.reverse,
            join: walk.join,
            verb: build(&walk.verb, scope)?,
            dest: build(&walk.dest, scope)?,
            cmp: opt_cmp(&walk.cmp, scope)?,
        }),
        OperKind::Edit(edit) => OpKind::Edit(build_edit(edit, scope)?),
        OperKind::Cmd(cmd) => OpKind::Cmd(CmdPlan {
            name: cmd.name.clone(),
            args: cmd
                .args
                .iter()
                .map(|arg| build(arg, scope))
                .collect::<Result<_, _>>()?,
        }),
        OperKind::SetVar { name, value } => OpKind::Set {
            target: SetTarget::One(name.clone()),
            value: build(value, scope)?,
        },
        OperKind::SetVarList { names, value } => OpKind::Set {
            target: SetTarget::Many(names.clone()),
            value: build(value, scope)?,
        },
        OperKind::SetItem { target, key, value } => OpKind::SetItem {
            target: build(target, scope)?,
            key: build(key, scope)?,
            value: build(value, scope)?,
        },
        OperKind::VarEval(value) => OpKind::Eval(build(value, scope)?),
        OperKind::SubQuery(sub) => OpKind::SubQuery {
            body: build_pipeline(&sub.query, scope)?,
            yields: sub.yields,
        },
        OperKind::YieldValue(value) => OpKind::YieldValue(build(value, scope)?),
        OperKind::For { vars, iter, body } => OpKind::For {
            vars: match vars {
                ForVars::One(name) => vec![name.clone()],
                ForVars::Many(names) => names.clone(),
            },
            iter: build(iter, scope)?,
            body: build_pipeline(&body.query, scope)?,
        },
        OperKind::While { cond, body } => OpKind::While {
            cond: build(cond, scope)?,
            body: build_pipeline(&body.query, scope)?,
        },
        OperKind::If { clauses, otherwise } => OpKind::If {
            arms: clauses
                .iter()
                .map(|clause| {
                    Ok(IfArm {
                        cond: build(&clause.cond, scope)?,
                        body: build_pipeline(&clause.body.query, scope)?,
                    })
                })
                .collect::<Result<_, PlanError>>()?,
            otherwise: otherwise
                .as_ref()
                .map(|body| build_pipeline(&body.query, scope))
                .transpose()?,
        },
        OperKind::Switch { value, cases } => {
            let mut arms = Vec::new();
            let mut default = None;
            for case in cases {
                let body = build_pipeline(&case.body.query, scope)?;
                if case.default {
                    default = Some(body);
                } else {
                    arms.push(CaseArm {
                        values: case.values.clone(),
                        body,
                    });
                }
            }
            OpKind::Switch {
                value: build(value, scope)?,
                arms,
                default,
            }
        }
        OperKind::Try { body, catches } => OpKind::Try {
            body: build_pipeline(body, scope)?,
            catches: catches
                .iter()
                .map(|catch| {
                    Ok(CatchArm {
                        errors: build(&catch.errors, scope)?,
                        var: catch.var.clone(),
                        body: build_pipeline(&catch.body, scope)?,
                    })
                })
                .collect::<Result<_, PlanError>>()?,
        },
        OperKind::Break => OpKind::Break,
        OperKind::Continue => OpKind::Continue,
        OperKind::Stop => OpKind::Stop,
        OperKind::Return(value) => OpKind::Return(
            value
                .as_ref()
                .map(|value| build(value, scope))
                .transpose()?,
        ),
        OperKind::Emit(value) => OpKind::Emit(build(value, scope)?),
        OperKind::Function(func) => OpKind::Function(Arc::new(FuncPlan {
            name: func.name.clone(),
            params: func
                .params
                .iter()
                .map(|param| {
                    Ok((
                        param.name.clone(),
                        param
                            .default
                            .as_ref()
                            .map(|value| build(value, scope))
                            .transpose()?,
                    ))
                })
                .collect::<Result<_, PlanError>>()?,
            body: Arc::new(func.body.clone()),
            kind: func_kind(&func.body),
        })),
        OperKind::Init(query) => OpKind::Init(build_pipeline(query, scope)?),
        OperKind::Fini(query) => OpKind::Fini(build_pipeline(query, scope)?),
        OperKind::Empty(query) => OpKind::Empty(build_pipeline(query, scope)?),
    };
    let runtsafe = op_runtsafe(&kind);
    Ok(Op {
        kind,
        runtsafe,
        span: oper.span,
    })
}

/// Whether an operator's expressions are all runtime-safe.
fn op_runtsafe(kind: &OpKind) -> bool {
    let cmp_safe =
        |cmp: &Option<(String, Expr)>| cmp.as_ref().is_none_or(|(_, value)| value.runtsafe);
    match kind {
        OpKind::Lift(lift) => match &lift.source {
            LiftSource::Prop { name } => name.runtsafe(),
            LiftSource::PropCmp { name, value, .. } | LiftSource::Array { name, value, .. } => {
                name.runtsafe() && value.runtsafe
            }
            LiftSource::Tag { tag, form, cmp } => {
                tag.runtsafe() && form.as_ref().is_none_or(NameExpr::runtsafe) && cmp_safe(cmp)
            }
            LiftSource::TagProp {
                tag,
                prop,
                form,
                cmp,
            } => {
                tag.runtsafe()
                    && prop.runtsafe()
                    && form.as_ref().is_none_or(NameExpr::runtsafe)
                    && cmp_safe(cmp)
            }
            LiftSource::TagTag { tag, cmp } => tag.runtsafe() && cmp_safe(cmp),
        },
        OpKind::Cmd(cmd) => cmd.args.iter().all(|arg| arg.runtsafe),
        OpKind::Set { value, .. } | OpKind::Eval(value) | OpKind::YieldValue(value) => {
            value.runtsafe
        }
        OpKind::SetItem { target, key, value } => target.runtsafe && key.runtsafe && value.runtsafe,
        OpKind::Function(func) => func
            .params
            .iter()
            .all(|(_, default)| default.as_ref().is_none_or(|value| value.runtsafe)),
        OpKind::SubQuery { .. } | OpKind::Init(_) | OpKind::Fini(_) | OpKind::Empty(_) => true,
        _ => false,
    }
}

fn lift_source(kind: &LiftKind, scope: &Scope) -> Result<LiftSource, PlanError> {
    Ok(match kind {
        LiftKind::Prop { prop } => LiftSource::Prop {
            name: prop_expr(prop, scope)?,
        },
        LiftKind::PropBy { prop, cmp } => {
            let (cmpr, value) = cmp_of(cmp, scope)?;
            LiftSource::PropCmp {
                name: prop_expr(prop, scope)?,
                cmpr,
                value,
            }
        }
        LiftKind::Array { prop, cmp } => {
            let (cmpr, value) = cmp_of(cmp, scope)?;
            LiftSource::Array {
                name: prop_expr(prop, scope)?,
                cmpr,
                value,
            }
        }
        LiftKind::FormTag { form, tag, cmp } => LiftSource::Tag {
            tag: tag_expr(tag, scope)?,
            form: Some(prop_expr(form, scope)?),
            cmp: opt_cmp(cmp, scope)?,
        },
        LiftKind::Tag { tag, cmp } => LiftSource::Tag {
            tag: tag_expr(tag, scope)?,
            form: None,
            cmp: opt_cmp(cmp, scope)?,
        },
        LiftKind::TagTag { tag, cmp } => LiftSource::TagTag {
            tag: tag_expr(tag, scope)?,
            cmp: opt_cmp(cmp, scope)?,
        },
        LiftKind::TagProp { tag, prop, cmp } => LiftSource::TagProp {
            tag: tag_expr(tag, scope)?,
            prop: name_expr(prop, scope)?,
            form: None,
            cmp: opt_cmp(cmp, scope)?,
        },
        LiftKind::FormTagProp {
            form,
            tag,
            prop,
            cmp,
        } => LiftSource::TagProp {
            tag: tag_expr(tag, scope)?,
            prop: name_expr(prop, scope)?,
            form: Some(prop_expr(form, scope)?),
            cmp: opt_cmp(cmp, scope)?,
        },
    })
}

/// The hint a form lift takes from the `+` filters right after it (skipping other lifts and
/// `-` filters, stopping at anything else), as the reference does.
fn right_hint(rest: &[Oper], scope: &Scope) -> Result<Option<LiftHint>, PlanError> {
    for oper in rest {
        match &oper.kind {
            OperKind::Lift(_) => continue,
            OperKind::Filter { must: false, .. } => continue,
            OperKind::Filter { must: true, cond } => {
                if let Some(hint) = cond_hint(cond, scope)? {
                    return Ok(Some(hint));
                }
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

fn cond_hint(cond: &Cond, scope: &Scope) -> Result<Option<LiftHint>, PlanError> {
    Ok(match &cond.kind {
        // (the reference takes both hints of an `and` from its left side)
        CondKind::And(lhs, _) => cond_hint(lhs, scope)?,
        CondKind::Tag(tag) => {
            let tag = tag_expr(tag, scope)?;
            (!tag.is_glob() && tag.runtsafe()).then_some(LiftHint::Tag(tag))
        }
        CondKind::HasRelProp(prop) => Some(prop_hint(prop, None, scope)?),
        CondKind::RelPropCmp { prop, cmp } => {
            Some(prop_hint(prop, Some(cmp_of(cmp, scope)?), scope)?)
        }
        _ => None,
    })
}

fn prop_hint(
    prop: &PropPath,
    cmp: Option<(String, Expr)>,
    scope: &Scope,
) -> Result<LiftHint, PlanError> {
    let (name, univ) = match prop {
        PropPath::Rel(rel) => (name_expr(&rel.name, scope)?, false),
        PropPath::Univ(univ) => (name_expr(&univ.name, scope)?, true),
    };
    // `:a::b` hints only the first prop, without the comparison
    if let NameExpr::Const(text) = &name
        && let Some((head, _)) = text.split_once("::")
    {
        return Ok(LiftHint::Prop {
            name: NameExpr::Const(head.to_string()),
            univ,
            cmp: None,
        });
    }
    Ok(LiftHint::Prop { name, univ, cmp })
}

fn build_cond(cond: &Cond, scope: &Scope) -> Result<CondPlan, PlanError> {
    let prop_path = |prop: &PropPath| -> Result<(NameExpr, bool), PlanError> {
        Ok(match prop {
            PropPath::Rel(rel) => (name_expr(&rel.name, scope)?, false),
            PropPath::Univ(univ) => (name_expr(&univ.name, scope)?, true),
        })
    };
    Ok(match &cond.kind {
        CondKind::Not(inner) => CondPlan::Not(Box::new(build_cond(inner, scope)?)),
        CondKind::And(lhs, rhs) => CondPlan::And(
            Box::new(build_cond(lhs, scope)?),
            Box::new(build_cond(rhs, scope)?),
        ),
        CondKind::Or(lhs, rhs) => CondPlan::Or(
            Box::new(build_cond(lhs, scope)?),
            Box::new(build_cond(rhs, scope)?),
        ),
        CondKind::HasRelProp(prop) => {
            let (name, univ) = prop_path(prop)?;
            CondPlan::HasProp { name, univ }
        }
        CondKind::RelPropCmp { prop, cmp } => {
            let (name, univ) = prop_path(prop)?;
            let (cmpr, value) = cmp_of(cmp, scope)?;
            CondPlan::PropCmp {
                name,
                univ,
                cmpr,
                value,
            }
        }
        CondKind::HasAbsProp(prop, _) => CondPlan::HasAbsProp(prop.clone()),
        CondKind::AbsPropCmp { prop, cmp, .. } => {
            let (cmpr, value) = cmp_of(cmp, scope)?;
            CondPlan::AbsPropCmp {
                prop: prop.clone(),
                cmpr,
                value,
            }
        }
        CondKind::Tag(tag) => CondPlan::Tag(tag_expr(tag, scope)?),
        CondKind::TagCmp { tag, cmp } => {
            let (cmpr, value) = cmp_of(cmp, scope)?;
            CondPlan::TagCmp {
                tag: tag_expr(tag, scope)?,
                cmpr,
                value,
            }
        }
        CondKind::HasTagProp { tag, prop } => CondPlan::HasTagProp {
            tag: tag_expr(tag, scope)?,
            prop: name_expr(prop, scope)?,
        },
        CondKind::TagPropCmp { tag, prop, cmp } => {
            let (cmpr, value) = cmp_of(cmp, scope)?;
            CondPlan::TagPropCmp {
                tag: tag_expr(tag, scope)?,
                prop: name_expr(prop, scope)?,
                cmpr,
                value,
            }
        }
        CondKind::SubQuery { query, cmp } => CondPlan::SubQuery {
            body: build_pipeline(query, scope)?,
            cmp: opt_cmp(cmp, scope)?,
        },
        CondKind::Array { prop, cmp } => {
            let (cmpr, value) = cmp_of(cmp, scope)?;
            CondPlan::Array {
                name: name_expr(&prop.name, scope)?,
                cmpr,
                value,
            }
        }
        CondKind::Value(value) => CondPlan::Value(build(value, scope)?),
    })
}

fn pivot_op(pivot: &Pivot, scope: &Scope) -> Result<OpKind, PlanError> {
    let target = |target: &PivotTarget| -> Result<TargetPlan, PlanError> {
        Ok(match target {
            PivotTarget::Name(name, _) => TargetPlan::Name(name.clone()),
            PivotTarget::Value(value) => TargetPlan::Value(build(value, scope)?),
        })
    };
    let kind = match &pivot.kind {
        PivotKind::Raw(query) => return Ok(OpKind::RawPivot(build_pipeline(query, scope)?)),
        PivotKind::Out => PivotKindPlan::Out,
        PivotKind::ToForm(tgt) => PivotKindPlan::ToForm(target(tgt)?),
        PivotKind::ToTags(tag) => {
            PivotKindPlan::ToTags(tag.as_ref().map(|tag| tag_expr(tag, scope)).transpose()?)
        }
        PivotKind::In => PivotKindPlan::In,
        PivotKind::InFrom(form, _) => PivotKindPlan::InFrom(form.clone()),
        PivotKind::PropOut(prop) => PivotKindPlan::PropOut(name_expr(&prop.name, scope)?),
        PivotKind::Prop { prop, target: tgt } => PivotKindPlan::Prop {
            prop: name_expr(&prop.name, scope)?,
            target: target(tgt)?,
        },
        PivotKind::WalkAllOut => PivotKindPlan::WalkAllOut,
        PivotKind::WalkAllIn => PivotKindPlan::WalkAllIn,
    };
    Ok(OpKind::Pivot(PivotPlan {
        kind,
        join: pivot.join,
    }))
}

fn build_edit(edit: &Edit, scope: &Scope) -> Result<EditPlan, PlanError> {
    Ok(match &edit.kind {
        EditKind::NodeAdd { form, oper, value } => EditPlan::NodeAdd {
            form: prop_expr(form, scope)?,
            oper: *oper,
            value: build(value, scope)?,
        },
        EditKind::Parens { add, edits } => EditPlan::Parens {
            add: Box::new(build_edit(add, scope)?),
            edits: edits
                .iter()
                .map(|edit| build_edit(edit, scope))
                .collect::<Result<_, _>>()?,
        },
        EditKind::PropSet { prop, oper, value } => {
            let (name, univ) = match prop {
                PropPath::Rel(rel) => (name_expr(&rel.name, scope)?, false),
                PropPath::Univ(univ) => (name_expr(&univ.name, scope)?, true),
            };
            EditPlan::PropSet {
                name,
                univ,
                oper: *oper,
                value: build(value, scope)?,
            }
        }
        EditKind::CondPropSet {
            prop,
            cond,
            try_set,
            value,
        } => EditPlan::CondPropSet {
            name: name_expr(&prop.name, scope)?,
            cond: match cond {
                SetCondition::Unset => None,
                SetCondition::Value(value) => Some(build(value, scope)?),
            },
            try_set: *try_set,
            value: build(value, scope)?,
        },
        EditKind::PropDel(prop) => EditPlan::PropDel {
            name: name_expr(&prop.name, scope)?,
            univ: false,
        },
        EditKind::UnivDel(prop) => EditPlan::PropDel {
            name: name_expr(&prop.name, scope)?,
            univ: true,
        },
        EditKind::TagAdd {
            try_add,
            tag,
            value,
        } => EditPlan::TagAdd {
            try_add: *try_add,
            tag: tag_expr(tag, scope)?,
            value: value
                .as_ref()
                .map(|(oper, value)| Ok::<_, PlanError>((*oper, build(value, scope)?)))
                .transpose()?,
        },
        EditKind::TagDel(tag) => EditPlan::TagDel(tag_expr(tag, scope)?),
        EditKind::TagPropSet { prop, oper, value } => EditPlan::TagPropSet {
            tag: tag_expr(&prop.tag, scope)?,
            prop: name_expr(&prop.prop, scope)?,
            oper: *oper,
            value: build(value, scope)?,
        },
        EditKind::TagPropDel(prop) => EditPlan::TagPropDel {
            tag: tag_expr(&prop.tag, scope)?,
            prop: name_expr(&prop.prop, scope)?,
        },
        EditKind::EdgeAdd {
            reverse,
            verb,
            target,
        }
        | EditKind::EdgeDel {
            reverse,
            verb,
            target,
        } => EditPlan::Edge {
            add: matches!(edit.kind, EditKind::EdgeAdd { .. }),
            reverse: *reverse,
            verb: build(verb, scope)?,
            target: match &target.kind {
                ValueKind::SubQuery(sub) => EdgeTarget::Query(build_pipeline(&sub.query, scope)?),
                _ => EdgeTarget::Value(build(target, scope)?),
            },
        },
    })
}

/// How a function behaves, from its body: the reference looks for `emit` and `return`
/// anywhere in it except inside nested functions and values.
fn func_kind(body: &Query) -> FuncKind {
    let (emits, returns) = (
        has_oper(body, &|kind| matches!(kind, OperKind::Emit(_))),
        has_oper(body, &|kind| matches!(kind, OperKind::Return(_))),
    );
    if emits {
        FuncKind::Emitter
    } else if returns {
        FuncKind::Value
    } else {
        FuncKind::Nodes
    }
}

fn has_oper(query: &Query, pred: &dyn Fn(&OperKind) -> bool) -> bool {
    query.opers.iter().any(|oper| {
        pred(&oper.kind)
            || match &oper.kind {
                OperKind::SubQuery(sub) => has_oper(&sub.query, pred),
                OperKind::For { body, .. } | OperKind::While { body, .. } => {
                    has_oper(&body.query, pred)
                }
                OperKind::If { clauses, otherwise } => {
                    clauses
                        .iter()
                        .any(|clause| has_oper(&clause.body.query, pred))
                        || otherwise
                            .as_ref()
                            .is_some_and(|body| has_oper(&body.query, pred))
                }
                OperKind::Switch { cases, .. } => {
                    cases.iter().any(|case| has_oper(&case.body.query, pred))
                }
                OperKind::Try { body, catches } => {
                    has_oper(body, pred) || catches.iter().any(|catch| has_oper(&catch.body, pred))
                }
                OperKind::Init(query) | OperKind::Fini(query) | OperKind::Empty(query) => {
                    has_oper(query, pred)
                }
                OperKind::Pivot(Pivot {
                    kind: PivotKind::Raw(query),
                    ..
                }) => has_oper(query, pred),
                _ => false,
            }
    })
}
