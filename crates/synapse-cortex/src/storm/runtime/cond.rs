//! Filters: `+cond` / `-cond` with the reference's comparator semantics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::future::BoxFuture;
use rmpv::Value;

use super::error::{Flow, RResult, StormError, rterr};
use super::eval::{eval, eval_name, eval_tag};
use super::exec::{ItemStream, inline, once};
use super::runt::{Item, Runt};
use super::value::{Val, lock};
use crate::model::{Cmpr, Model};
use crate::node::Node;
use crate::storm::ast::Span;
use crate::storm::plan::{CondPlan, Expr, OpKind, Pipeline, TagExpr};

/// A filter operator.
pub(crate) fn filter_op(
    runt: Arc<Runt>,
    pipe: Pipeline,
    idx: usize,
    input: ItemStream,
) -> ItemStream {
    async_stream::try_stream! {
        let op = &pipe.ops[idx];
        let OpKind::Filter { must, cond } = &op.kind else { return; };
        let model = Arc::clone(runt.view.model());
        let ctx = CondCtx { model: &model, cache: Mutex::new(HashMap::new()) };
        let mut input = input;
        while let Some(item) = input.next().await {
            let mut item = item?;
            let before = runt.shared.edit_gen();
            let answ = ctx.eval(&runt, cond, &mut item, op.span).await?;
            if answ == *must {
                yield super::exec::refresh(&runt, item, before).await?;
            }
        }
    }
    .boxed()
}

/// Comparators compiled once per filter for runtime-safe values.
pub(crate) struct CondCtx<'m> {
    pub(crate) model: &'m Model,
    cache: Mutex<HashMap<(usize, String), Arc<Cmpr<'m>>>>,
}

/// The type of a full prop name (form, prop or universal prop).
fn prop_type<'m>(model: &'m Model, full: &str) -> Option<crate::model::Type<'m>> {
    if let Some(form) = model.form(full) {
        return Some(form.ty());
    }
    model
        .prop(full)
        .or_else(|| model.univ(full))
        .map(|p| p.ty())
}

/// The value of a relative prop of a node (`asn`, `.seen`, `a::b` implicit pivots): the full
/// name of the prop and its value.
pub(crate) fn prop_value<'a>(
    runt: &'a Arc<Runt>,
    node: &'a Node,
    name: &'a str,
    span: Span,
) -> BoxFuture<'a, RResult<(Option<String>, Option<Value>)>> {
    Box::pin(async move {
        let model = runt.model();
        if !name.contains("::") {
            let Some(form) = model.form(&node.form) else {
                return Ok((None, None));
            };
            let Some(prop) = form.prop(name) else {
                return Err(runt
                    .error(span, "NoSuchProp", format!("No property named {name}."))
                    .pipe(|f| with(f, &[("name", name), ("form", &node.form)])));
            };
            return Ok((Some(prop.full().to_owned()), node.get(name).cloned()));
        }
        let names: Vec<&str> = name.split("::").collect();
        let mut cur = node.clone();
        for (idx, part) in names.iter().enumerate() {
            let Some(valu) = cur.get(part).cloned() else {
                return Ok((None, None));
            };
            let Some(prop) = model.form(&cur.form).and_then(|f| f.prop(part)) else {
                return Err(runt.error(span, "NoSuchProp", format!("No property named {part}.")));
            };
            if idx == names.len() - 1 {
                return Ok((Some(prop.full().to_owned()), Some(valu)));
            }
            let tname = prop.ty().name().to_owned();
            if model.form(&tname).is_none() {
                return Err(runt.error(span, "NoSuchForm", format!("No form named {tname}.")));
            }
            match runt
                .view
                .get_node_by_ndef(&tname, &valu)
                .await
                .map_err(Flow::from)?
            {
                Some(next) => cur = next,
                None => return Ok((None, None)),
            }
        }
        Ok((None, None))
    })
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}

impl<T> Pipe for T {}

fn with(flow: Flow, keys: &[(&str, &str)]) -> Flow {
    match flow {
        Flow::Err(mut e) => {
            for (k, v) in keys {
                e.set(k, Value::from(*v));
            }
            Flow::Err(e)
        }
        other => other,
    }
}

/// Whether a node has a tag matching a name or glob.
pub(crate) fn tag_matches(node: &Node, name: &str) -> bool {
    if name == "*" {
        return !node.tags.is_empty();
    }
    if name.contains('*') {
        let re = tag_glob(name);
        return node.tags.iter().any(|(t, _)| re.is_match(t));
    }
    node.tag(name).is_some()
}

/// The regex of a tag glob (`*` matches one level; a trailing `*` more).
pub(crate) fn tag_glob(glob: &str) -> regex::Regex {
    let mut pat = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => pat.push_str("[^.]+?"),
            other => pat.push_str(&regex::escape(&other.to_string())),
        }
    }
    if glob.ends_with('*') {
        pat.truncate(pat.len() - "[^.]+?".len());
        pat.push_str(".+");
    }
    pat.push('$');
    regex::Regex::new(&pat)
        .unwrap_or_else(|_| regex::Regex::new("^$").unwrap_or_else(|_| unreachable_regex()))
}

fn unreachable_regex() -> regex::Regex {
    // "^$" always compiles; this is never reached.
    regex::Regex::new("").unwrap_or_else(|_| std::process::abort())
}

/// A value for comparisons and storage (`tostor`): numbers become strings, nodes their ndef.
pub(crate) fn tostor(v: &Val) -> RResult<Value> {
    match v {
        Val::Num(d) => Ok(Value::from(super::value::dec_str(d))),
        Val::List(_) | Val::Tuple(_) => {
            let items = v.seq_items().unwrap_or_default();
            let mut out = Vec::with_capacity(items.len());
            for i in &items {
                out.push(tostor(i)?);
            }
            Ok(Value::Array(out))
        }
        other => other.to_msgpack(),
    }
}

impl<'m> CondCtx<'m> {
    /// A comparator of a type with a value, compiled once when the value is runtime-safe.
    fn cmpr(
        &self,
        key: Option<(usize, &str)>,
        ty: crate::model::Type<'m>,
        cmpr: &str,
        valu: &Value,
    ) -> RResult<Arc<Cmpr<'m>>> {
        if let Some((addr, full)) = key
            && let Some(c) = lock(&self.cache).get(&(addr, full.to_owned()))
        {
            return Ok(Arc::clone(c));
        }
        let compiled = Arc::new(ty.cmpr(cmpr, valu)?);
        if let Some((addr, full)) = key {
            lock(&self.cache).insert((addr, full.to_owned()), Arc::clone(&compiled));
        }
        Ok(compiled)
    }

    /// Evaluate a condition on an item (subqueries may add path variables).
    pub(crate) fn eval<'a>(
        &'a self,
        runt: &'a Arc<Runt>,
        cond: &'a CondPlan,
        item: &'a mut Item,
        span: Span,
    ) -> BoxFuture<'a, RResult<bool>> {
        Box::pin(async move {
            let addr = cond as *const CondPlan as usize;
            match cond {
                CondPlan::Not(inner) => Ok(!self.eval(runt, inner, item, span).await?),
                CondPlan::And(a, b) => {
                    if !self.eval(runt, a, item, span).await? {
                        return Ok(false);
                    }
                    self.eval(runt, b, item, span).await
                }
                CondPlan::Or(a, b) => {
                    if self.eval(runt, a, item, span).await? {
                        return Ok(true);
                    }
                    self.eval(runt, b, item, span).await
                }
                CondPlan::HasProp { name, univ } => {
                    let mut name = eval_name(runt, name, Some(item)).await?;
                    if *univ && !name.starts_with('.') {
                        name = format!(".{name}");
                    }
                    if !name.contains("::") {
                        return Ok(item.node.get(&name).is_some());
                    }
                    let (_, valu) = prop_value(runt, &item.node, &name, span).await?;
                    Ok(valu.is_some())
                }
                CondPlan::PropCmp {
                    name,
                    univ,
                    cmpr,
                    value,
                } => {
                    let mut name = eval_name(runt, name, Some(item)).await?;
                    if *univ && !name.starts_with('.') {
                        name = format!(".{name}");
                    }
                    let (full, valu) = prop_value(runt, &item.node, &name, span).await?;
                    let (Some(full), Some(valu)) = (full, valu) else {
                        return Ok(false);
                    };
                    let xval = eval(runt, value, Some(item)).await?;
                    let xval = match &xval {
                        Val::Node(node) => node.valu.clone(),
                        other => tostor(other)?,
                    };
                    if xval.is_nil() {
                        return Ok(false);
                    }
                    let Some(ty) = prop_type(self.model, &full) else {
                        return Ok(false);
                    };
                    let key = value.runtsafe.then_some((addr, full.as_str()));
                    let c = self
                        .cmpr(key, ty, cmpr, &xval)
                        .map_err(|e| runt.at(value.span, e))?;
                    Ok(c.matches(&valu))
                }
                CondPlan::HasAbsProp(name) => {
                    let forms = abs_forms(self.model, name).map_err(|e| runt.at(span, e))?;
                    Ok(match forms {
                        AbsMatch::Form(forms) => forms.iter().any(|f| *f == item.node.form),
                        AbsMatch::Prop(form, prop) => {
                            item.node.form == form && item.node.get(&prop).is_some()
                        }
                    })
                }
                CondPlan::AbsPropCmp { prop, cmpr, value } => {
                    let model = self.model;
                    let (form, rel, ty) = if let Some(form) = model.form(prop) {
                        (Some(form.name().to_owned()), None, form.ty())
                    } else if let Some(p) = model.prop(prop) {
                        (
                            p.form().map(|f| f.name().to_owned()),
                            Some(p.name().to_owned()),
                            p.ty(),
                        )
                    } else {
                        let props: Vec<_> = model
                            .forms()
                            .filter_map(|f| {
                                f.props().find(|p| {
                                    p.full().ends_with(&format!(":{prop}")) || p.full() == prop
                                })
                            })
                            .collect();
                        let _ = props;
                        return Err(runt
                            .error(span, "NoSuchProp", format!("No property named {prop}."))
                            .pipe(|f| with(f, &[("name", prop)])));
                    };
                    if let Some(form) = &form
                        && *form != item.node.form
                    {
                        return Ok(false);
                    }
                    let valu = match &rel {
                        None => Some(item.node.valu.clone()),
                        Some(rel) => item.node.get(rel).cloned(),
                    };
                    let Some(valu) = valu else { return Ok(false) };
                    let xval = eval(runt, value, Some(item)).await?;
                    let xval = match &xval {
                        Val::Node(node) => node.valu.clone(),
                        other => tostor(other)?,
                    };
                    let key = value.runtsafe.then_some((addr, prop.as_str()));
                    let c = self
                        .cmpr(key, ty, cmpr, &xval)
                        .map_err(|e| runt.at(value.span, e))?;
                    Ok(c.matches(&valu))
                }
                CondPlan::Tag(tag) => {
                    let name = eval_tag(runt, tag, Some(item), false).await?;
                    Ok(tag_matches(&item.node, &name))
                }
                CondPlan::TagCmp { tag, cmpr, value } => {
                    let name = eval_tag(runt, tag, Some(item), false).await?;
                    if name.contains('*') {
                        return Err(runt.error(span, "StormRuntimeError", format!("Wildcard tag names may not be used in conjunction with tag value comparison: {name}")));
                    }
                    let xval = tostor(&eval(runt, value, Some(item)).await?)?;
                    let ty = self.model.ty("ival").ok_or_else(|| rterr("no ival type"))?;
                    let key = value.runtsafe.then_some((addr, "#"));
                    let c = self
                        .cmpr(key, ty, cmpr, &xval)
                        .map_err(|e| runt.at(value.span, e))?;
                    let Some(ival) = item.node.tag(&name) else {
                        return Ok(false);
                    };
                    Ok(c.matches(&crate::nodeedit::ival_value(ival)))
                }
                CondPlan::HasTagProp { tag, prop } => {
                    let tag = eval_tag(runt, tag, Some(item), false).await?;
                    let prop = eval_name(runt, prop, Some(item)).await?;
                    if tag == "*" {
                        return Ok(item
                            .node
                            .tagprops
                            .iter()
                            .any(|(_, props)| props.iter().any(|(n, _)| *n == prop)));
                    }
                    if tag.contains('*') {
                        let re = tag_glob(&tag);
                        return Ok(item.node.tagprops.iter().any(|(t, props)| {
                            re.is_match(t) && props.iter().any(|(n, _)| *n == prop)
                        }));
                    }
                    Ok(item.node.tagprop(&tag, &prop).is_some())
                }
                CondPlan::TagPropCmp {
                    tag,
                    prop,
                    cmpr,
                    value,
                } => {
                    let tag = eval_tag(runt, tag, Some(item), false).await?;
                    let prop = eval_name(runt, prop, Some(item)).await?;
                    if tag.contains('*') {
                        return Err(runt.error(span, "StormRuntimeError", format!("Wildcard tag names may not be used in conjunction with tagprop value comparison: {tag}")));
                    }
                    let Some(ty) = crate::node::tagprop_type(self.model, &prop) else {
                        return Err(runt.error(
                            span,
                            "NoSuchTagProp",
                            format!("No such tag property: {prop}"),
                        ));
                    };
                    let xval = tostor(&eval(runt, value, Some(item)).await?)?;
                    let Some(curv) = item.node.tagprop(&tag, &prop).cloned() else {
                        return Ok(false);
                    };
                    let c = ty
                        .cmpr(cmpr, &xval)
                        .map_err(|e| runt.at(value.span, Flow::from(e)))?;
                    Ok(c.matches(&curv))
                }
                CondPlan::SubQuery { body, cmp } => {
                    let (cmpr, limit) = match cmp {
                        None => (None, None),
                        Some((cmpr, expr)) => {
                            let v = eval(runt, expr, Some(item)).await?;
                            (Some(cmpr.as_str()), Some(intify(&v)?))
                        }
                    };
                    subq_cond(runt, body, item, cmpr, limit, span).await
                }
                CondPlan::Array { name, cmpr, value } => {
                    let name = eval_name(runt, name, Some(item)).await?;
                    let Some(prop) = self.model.form(&item.node.form).and_then(|f| f.prop(&name))
                    else {
                        return Err(runt.error(
                            span,
                            "NoSuchProp",
                            format!("No property named {name}."),
                        ));
                    };
                    let Some(elem) = prop.ty().array_elem() else {
                        return Err(runt.error(
                            span,
                            "BadCmprType",
                            format!("Array filter syntax is invalid for non-array prop {name}."),
                        ));
                    };
                    let Some(Value::Array(items)) = item.node.get(&name).cloned() else {
                        return Ok(false);
                    };
                    let xval = tostor(&eval(runt, value, Some(item)).await?)?;
                    let c = elem
                        .cmpr(cmpr, &xval)
                        .map_err(|e| runt.at(value.span, Flow::from(e)))?;
                    Ok(items.iter().any(|i| c.matches(i)))
                }
                CondPlan::Value(expr) => Ok(eval(runt, expr, Some(item)).await?.truthy()),
            }
        })
    }
}

fn intify(v: &Val) -> RResult<i128> {
    match v {
        Val::Str(s) => {
            let low = s.to_lowercase();
            if low == "true" {
                return Ok(1);
            }
            if low == "false" {
                return Ok(0);
            }
            crate::model::value::py_int0(&low).map_err(|_| {
                Flow::Err(StormError::new(
                    "BadCast",
                    format!("Failed to make an integer from \"{low}\"."),
                ))
            })
        }
        other => other.to_int(),
    }
}

async fn subq_cond(
    runt: &Arc<Runt>,
    body: &Pipeline,
    item: &mut Item,
    cmpr: Option<&str>,
    valu: Option<i128>,
    span: Span,
) -> RResult<bool> {
    let mut sub = inline(runt, body, once(item.clone()));
    let mut size: i128 = 0;
    let mut last = None;
    let valu = valu.unwrap_or(0);
    let result = loop {
        match sub.next().await {
            None => {
                break match cmpr {
                    None => false,
                    Some("=") => size == valu,
                    Some(">") | Some(">=") => false,
                    Some("<") | Some("<=") => true,
                    Some("!=") => size != valu,
                    Some(other) => {
                        return Err(runt.error(
                            span,
                            "NoSuchCmpr",
                            format!("No such comparator {other}"),
                        ));
                    }
                };
            }
            Some(r) => {
                let subi = r?;
                size += 1;
                last = Some(subi.path);
                match cmpr {
                    None => break true,
                    Some("=") if size > valu => break false,
                    Some(">") if size > valu => break true,
                    Some("<") if size >= valu => break false,
                    Some(">=") if size >= valu => break true,
                    Some("<=") if size > valu => break false,
                    Some("!=") if size > valu => break true,
                    _ => {}
                }
            }
        }
    };
    if let Some(last) = last {
        item.path.update(&last);
    }
    Ok(result)
}

/// What an absolute prop name in a filter matches.
pub(crate) enum AbsMatch {
    Form(Vec<String>),
    Prop(String, String),
}

/// Resolve `+form`, `+form:prop`, `+inet:*`, `+interface`.
pub(crate) fn abs_forms(model: &Model, name: &str) -> RResult<AbsMatch> {
    if let Some(form) = model.form(name) {
        return Ok(AbsMatch::Form(vec![form.name().to_owned()]));
    }
    if let Some(prop) = model.prop(name)
        && let Some(form) = prop.form()
    {
        return Ok(AbsMatch::Prop(
            form.name().to_owned(),
            prop.name().to_owned(),
        ));
    }
    if let Some(prefix) = name.strip_suffix('*') {
        let forms: Vec<String> = model
            .forms()
            .filter(|f| f.name().starts_with(prefix))
            .map(|f| f.name().to_owned())
            .collect();
        if forms.is_empty() {
            return Err(Flow::Err(
                StormError::new("NoSuchForm", format!("No forms match pattern: {name}"))
                    .with("name", name),
            ));
        }
        return Ok(AbsMatch::Form(forms));
    }
    let iface = model.forms_by_interface(name);
    if !iface.is_empty() {
        return Ok(AbsMatch::Form(
            iface.iter().map(|f| f.name().to_owned()).collect(),
        ));
    }
    Err(Flow::Err(
        StormError::new("NoSuchProp", format!("No property named {name}.")).with("name", name),
    ))
}

#[allow(dead_code)]
fn _tag(_: &TagExpr, _: &Expr) {}
