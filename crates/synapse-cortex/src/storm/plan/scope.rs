//! Variable classification: which variables are runtime-safe, with the reference's rules.

use std::collections::HashMap;

use super::{PlanError, PlanOpts};
use crate::storm::ast::*;

/// The variables of one runtime (a query, or a function body when it is planned).
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    /// Name to runtime safety; absent names are unknown.
    vars: HashMap<String, bool>,
    /// Names in the order they were first classified.
    order: Vec<String>,
}

impl Scope {
    /// The scope of a top-level runtime: `$node` and `$path` are per-node, `$lib`, the given
    /// variables and the variables of enclosing runtimes are runtime-safe.
    pub(crate) fn root(opts: &PlanOpts) -> Scope {
        let mut scope = Scope {
            vars: HashMap::new(),
            order: Vec::new(),
        };
        scope.set("node", false);
        scope.set("path", false);
        scope.set("lib", true);
        for name in opts.outer_vars.iter().chain(&opts.vars) {
            scope.set(name, true);
        }
        scope
    }

    fn set(&mut self, name: &str, runtsafe: bool) {
        if self.vars.insert(name.to_string(), runtsafe).is_none() {
            self.order.push(name.to_string());
        }
    }

    /// Whether `name` is known and runtime-safe.
    pub(crate) fn is_runtsafe(&self, name: &str) -> bool {
        self.vars.get(name).copied().unwrap_or(false)
    }

    /// Whether `name` is known at all.
    pub(crate) fn is_known(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// Every classified variable, in classification order.
    pub(crate) fn classified(&self) -> Vec<(String, bool)> {
        self.order
            .iter()
            .map(|name| (name.clone(), self.is_runtsafe(name)))
            .collect()
    }

    /// Record an assignment: once runtime-safe, always runtime-safe.
    fn declare(&mut self, name: &str, runtsafe: bool) {
        if self.is_runtsafe(name) {
            return;
        }
        self.set(name, runtsafe);
    }

    /// Classify every variable assigned in `query` (in document order, as the reference does
    /// before running a query).
    pub(crate) fn declare_query(&mut self, query: &Query) -> Result<(), PlanError> {
        for oper in &query.opers {
            self.declare_oper(oper)?;
        }
        Ok(())
    }

    fn declare_oper(&mut self, oper: &Oper) -> Result<(), PlanError> {
        match &oper.kind {
            OperKind::SetVar { name, value } => {
                if !self.is_known(name) && mentions_var(value, name) {
                    return Err(missing(name, oper.span));
                }
                let safe = self.value_runtsafe(value);
                self.declare(name, safe);
                self.declare_value(value)
            }
            OperKind::SetVarList { names, value } => {
                let safe = self.value_runtsafe(value);
                for name in names {
                    self.declare(name, safe);
                }
                Ok(())
            }
            OperKind::For { vars, iter, body } => {
                let safe = self.value_runtsafe(iter);
                match vars {
                    ForVars::One(name) => self.declare(name, safe),
                    ForVars::Many(names) => names.iter().for_each(|name| self.declare(name, safe)),
                }
                self.declare_query(&body.query)
            }
            OperKind::Try { body, catches } => {
                self.declare_query(body)?;
                for catch in catches {
                    self.declare_value(&catch.errors)?;
                    self.declare(&catch.var, true);
                    self.declare_query(&catch.body)?;
                }
                Ok(())
            }
            OperKind::Function(func) => {
                self.declare(&func.name, true);
                Ok(())
            }
            OperKind::SubQuery(sub) => self.declare_query(&sub.query),
            OperKind::While { cond, body } => {
                self.declare_value(cond)?;
                self.declare_query(&body.query)
            }
            OperKind::If { clauses, otherwise } => {
                for clause in clauses {
                    self.declare_value(&clause.cond)?;
                    self.declare_query(&clause.body.query)?;
                }
                match otherwise {
                    Some(body) => self.declare_query(&body.query),
                    None => Ok(()),
                }
            }
            OperKind::Switch { value, cases } => {
                self.declare_value(value)?;
                for case in cases {
                    self.declare_query(&case.body.query)?;
                }
                Ok(())
            }
            OperKind::Init(query) | OperKind::Fini(query) | OperKind::Empty(query) => {
                self.declare_query(query)
            }
            OperKind::Pivot(Pivot {
                kind: PivotKind::Raw(query),
                ..
            }) => self.declare_query(query),
            OperKind::Cmd(cmd) => {
                for arg in &cmd.args {
                    self.declare_value(arg)?;
                }
                Ok(())
            }
            OperKind::VarEval(value) | OperKind::YieldValue(value) | OperKind::Emit(value) => {
                self.declare_value(value)
            }
            OperKind::SetItem { target, key, value } => {
                self.declare_value(target)?;
                self.declare_value(key)?;
                self.declare_value(value)
            }
            OperKind::Return(Some(value)) => self.declare_value(value),
            OperKind::Filter { cond, .. } => self.declare_cond(cond),
            OperKind::Lift(lift) => self.declare_lift(&lift.kind),
            OperKind::Edit(edit) => self.declare_edit(edit),
            OperKind::EdgeWalk(walk) => {
                self.declare_value(&walk.verb)?;
                self.declare_value(&walk.dest)?;
                match &walk.cmp {
                    Some(cmp) => self.declare_value(&cmp.value),
                    None => Ok(()),
                }
            }
            OperKind::Pivot(Pivot {
                kind: PivotKind::ToForm(PivotTarget::Value(value)),
                ..
            })
            | OperKind::Pivot(Pivot {
                kind:
                    PivotKind::Prop {
                        target: PivotTarget::Value(value),
                        ..
                    },
                ..
            }) => self.declare_value(value),
            _ => Ok(()),
        }
    }

    fn declare_lift(&mut self, kind: &LiftKind) -> Result<(), PlanError> {
        let cmp = match kind {
            LiftKind::PropBy { cmp, .. } | LiftKind::Array { cmp, .. } => Some(cmp),
            LiftKind::FormTag { cmp, .. }
            | LiftKind::Tag { cmp, .. }
            | LiftKind::TagTag { cmp, .. }
            | LiftKind::TagProp { cmp, .. }
            | LiftKind::FormTagProp { cmp, .. } => cmp.as_ref(),
            LiftKind::Prop { .. } => None,
        };
        match cmp {
            Some(cmp) => self.declare_value(&cmp.value),
            None => Ok(()),
        }
    }

    fn declare_edit(&mut self, edit: &Edit) -> Result<(), PlanError> {
        match &edit.kind {
            EditKind::NodeAdd { value, .. }
            | EditKind::PropSet { value, .. }
            | EditKind::CondPropSet { value, .. }
            | EditKind::TagPropSet { value, .. }
            | EditKind::TagAdd {
                value: Some((_, value)),
                ..
            } => self.declare_value(value),
            EditKind::Parens { add, edits } => {
                self.declare_edit(add)?;
                edits.iter().try_for_each(|edit| self.declare_edit(edit))
            }
            EditKind::EdgeAdd { verb, target, .. } | EditKind::EdgeDel { verb, target, .. } => {
                self.declare_value(verb)?;
                self.declare_value(target)
            }
            _ => Ok(()),
        }
    }

    /// Assignments inside values: only subqueries used as values and `{ }` command arguments
    /// contain operators (embedded queries `${ }` are planned in their own runtime).
    fn declare_value(&mut self, value: &Value) -> Result<(), PlanError> {
        let mut result = Ok(());
        visit_values(value, &mut |value| {
            if result.is_err() {
                return;
            }
            match &value.kind {
                ValueKind::SubQuery(sub) => result = self.declare_query(&sub.query),
                ValueKind::ArgvQuery { query, .. } => result = self.declare_query(query),
                _ => {}
            }
        });
        result
    }

    fn declare_cond(&mut self, cond: &Cond) -> Result<(), PlanError> {
        match &cond.kind {
            CondKind::Not(inner) => self.declare_cond(inner),
            CondKind::And(lhs, rhs) | CondKind::Or(lhs, rhs) => {
                self.declare_cond(lhs)?;
                self.declare_cond(rhs)
            }
            CondKind::SubQuery { query, .. } => self.declare_query(query),
            CondKind::Value(value) => self.declare_value(value),
            _ => Ok(()),
        }
    }

    /// Whether a value is runtime-safe with the current classification.
    pub(crate) fn value_runtsafe(&self, value: &Value) -> bool {
        match &value.kind {
            ValueKind::Var(name) => self.is_runtsafe(name),
            ValueKind::RelPropValue(_)
            | ValueKind::UnivPropValue(_)
            | ValueKind::TagValue(_)
            | ValueKind::TagPropValue(_) => false,
            // queries run in their own runtime (or are text)
            ValueKind::EmbedQuery { .. } | ValueKind::SubQuery(_) | ValueKind::ArgvQuery { .. } => {
                true
            }
            _ => {
                let mut safe = true;
                for_each_child(value, &mut |child| {
                    safe = safe && self.value_runtsafe(child)
                });
                safe
            }
        }
    }
}

/// The reference's `NoSuchVar` for a variable read but never assigned.
pub(crate) fn missing(name: &str, span: Span) -> PlanError {
    PlanError {
        name: "NoSuchVar",
        mesg: format!("Missing variable: {name}"),
        span,
    }
}

/// Whether `value` reads the variable `name` (outside embedded queries).
fn mentions_var(value: &Value, name: &str) -> bool {
    let mut found = false;
    visit_values(value, &mut |value| {
        if matches!(&value.kind, ValueKind::Var(var) if var == name) {
            found = true;
        }
    });
    found
}

/// Call `visit` on `value` and every value nested in it, not descending into queries.
pub(crate) fn visit_values(value: &Value, visit: &mut dyn FnMut(&Value)) {
    visit(value);
    for_each_child(value, &mut |child| visit_values(child, visit));
}

/// The direct sub-values of a value (the values inside names and tags included).
pub(crate) fn for_each_child(value: &Value, each: &mut dyn FnMut(&Value)) {
    let name_part = |part: &NamePart, each: &mut dyn FnMut(&Value)| {
        if let NamePart::Value(value) = part {
            each(value);
        }
    };
    let tag = |tag: &TagName, each: &mut dyn FnMut(&Value)| {
        if let TagNameKind::Value(value) = &tag.kind {
            each(value);
        }
    };
    match &value.kind {
        ValueKind::List(items) | ValueKind::ExprList(items) | ValueKind::FormatString(items) => {
            items.iter().for_each(each)
        }
        ValueKind::ExprDict(pairs) => {
            for (key, val) in pairs {
                each(key);
                each(val);
            }
        }
        ValueKind::Deref { base, key } => {
            each(base);
            each(key);
        }
        ValueKind::Call { func, args, kwargs } => {
            each(func);
            args.iter().for_each(&mut *each);
            kwargs.iter().for_each(|kwarg| each(&kwarg.value));
        }
        ValueKind::DollarExpr(inner) => each(inner),
        ValueKind::Binary { lhs, rhs, .. } | ValueKind::And(lhs, rhs) | ValueKind::Or(lhs, rhs) => {
            each(lhs);
            each(rhs);
        }
        ValueKind::Unary { operand, .. } => each(operand),
        ValueKind::RelPropValue(prop) => name_part(&prop.name, each),
        ValueKind::UnivPropValue(prop) => name_part(&prop.name, each),
        ValueKind::TagValue(name) => tag(name, each),
        ValueKind::TagPropValue(prop) => {
            tag(&prop.tag, each);
            name_part(&prop.prop, each);
        }
        _ => {}
    }
}
