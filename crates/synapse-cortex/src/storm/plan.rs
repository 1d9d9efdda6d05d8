//! Query plans: what the Storm runtime executes, built from a parsed query.
//!
//! Planning runs once per query, before any node is touched, and does everything that does not
//! need storage or the data model:
//!
//! * **Variables.** Every variable reference is classified *runtime-safe* (one value for the
//!   whole query: options, `$lib`, assignments whose value does not depend on a node) or
//!   *per-node* (path variables), with the reference's rules: the first assignment of a name
//!   decides, `$node` and `$path` are always per-node, and a variable that is read but never
//!   assigned nor given is a `NoSuchVar` error before execution.
//! * **Operators.** Each operator knows whether it is runtime-safe: a runtime-safe lift runs once
//!   after passing its inbound nodes through, a runtime-safe command computes its arguments once,
//!   a runtime-safe assignment still runs when no node comes in.
//! * **Lifts.** A lift names its index access: all nodes of a form or prop, a prop compared with
//!   a value (the type resolves the comparison to index ranges at run time, so no comparison
//!   scans a whole form), array elements, tags with or without forms, intervals and tag props. A
//!   plain form lift records the *hints* the reference takes from the filters that follow it
//!   (`inet:ipv4 +:asn=10` lifts by `inet:ipv4:asn=10`, `inet:fqdn +#foo` by tag).
//! * **Expressions.** Constant parts are folded; every expression carries its runtime safety.
//! * **Functions.** A function is classified from its body, as the reference does: one that
//!   `return`s a value (and never `emit`s) is called for its value, one that `emit`s is a value
//!   generator, any other yields nodes.
//! * **Subqueries and embedded queries** get their own plans; commands keep argument
//!   expressions and the text of `{ query }` arguments.
//!
//! Names of forms, props, tags and commands stay names: binding them to the data model, the
//! command registry and the layers' indexes happens at run time (the model can change between
//! planning and execution, e.g. through extended model edits in the same query).

mod expr;
mod op;
mod scope;

pub use expr::{Const, Expr, ExprKind, NameExpr, QueryExpr, TagExpr, TagSegExpr, VarRef};
pub use op::{
    CaseArm, CatchArm, CmdPlan, CondPlan, EdgeTarget, EditPlan, FuncKind, FuncPlan, IfArm,
    LiftHint, LiftPlan, LiftSource, Op, OpKind, Pipeline, PivotKindPlan, PivotPlan, SetTarget,
    TargetPlan, WalkPlan,
};

use super::ast::{Query, Span};

/// What the caller supplies before execution.
#[derive(Clone, Debug, Default)]
pub struct PlanOpts {
    /// Names of the variables given with the query (`opts.vars`); they are runtime-safe.
    pub vars: Vec<String>,
    /// Names of variables visible from an enclosing runtime (sub-runtimes, function bodies).
    pub outer_vars: Vec<String>,
}

/// A planned query.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The operators, in order.
    pub root: Pipeline,
    /// Variables classified by the planner: name and whether it is runtime-safe.
    pub vars: Vec<(String, bool)>,
}

/// An error found while planning: the reference raises these before running anything.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{mesg}")]
pub struct PlanError {
    /// The reference's error class (`NoSuchVar`, `StormRuntimeError`, ...).
    pub name: &'static str,
    /// The message.
    pub mesg: String,
    /// Where the offending construct was written.
    pub span: Span,
}

/// Plan a parsed query.
pub fn plan(query: &Query, opts: &PlanOpts) -> Result<Plan, PlanError> {
    let mut scope = scope::Scope::root(opts);
    scope.declare_query(query)?;
    let root = op::build_pipeline(query, &scope)?;
    Ok(Plan {
        root,
        vars: scope.classified(),
    })
}

#[cfg(test)]
mod tests;
