//! Lifts: nodes from the indexes (a comparison always goes through the prop's index ranges).

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use rmpv::Value;

use super::cond::tostor;
use super::error::{Flow, RResult, StormError};
use super::eval::{eval, eval_name, eval_tag};
use super::exec::ItemStream;
use super::runt::{Item, Runt};
use super::value::Val;
use crate::model::Model;
use crate::node::Node;
use crate::storm::ast::Span;
use crate::storm::plan::{LiftHint, LiftPlan, LiftSource, OpKind, Pipeline};

type NodeStream = BoxStream<'static, RResult<Node>>;

/// A lift operator: inbound nodes pass first (runtime-safe lifts), or the lift runs per node.
pub(crate) fn lift_op(
    runt: Arc<Runt>,
    pipe: Pipeline,
    idx: usize,
    input: ItemStream,
) -> ItemStream {
    async_stream::try_stream! {
        let op = &pipe.ops[idx];
        let OpKind::Lift(lift) = &op.kind else { return; };
        let mut input = input;
        if op.runtsafe {
            while let Some(item) = input.next().await {
                yield item?;
            }
            let mut nodes = lift_nodes(&runt, lift, None, op.span).await?;
            while let Some(node) = nodes.next().await {
                let node = node?;
                let path = runt.init_path(&node);
                yield Item { node: Arc::new(node), path };
            }
            return;
        }
        while let Some(item) = input.next().await {
            let item = item?;
            let mut nodes = lift_nodes(&runt, lift, Some(&item), op.span).await?;
            let from = Arc::clone(&item.node);
            let path = item.path.clone();
            yield item;
            while let Some(node) = nodes.next().await {
                let node = node?;
                let npath = path.fork(&from, &node, runtime_link);
                yield Item { node: Arc::new(node), path: npath };
            }
        }
    }
    .boxed()
}

fn runtime_link() -> Value {
    Value::Map(vec![(Value::from("type"), Value::from("runtime"))])
}

fn from_view(stream: crate::view::NodeStream) -> NodeStream {
    stream.map(|r| r.map_err(Flow::from)).boxed()
}

/// Forms a name may mean (`inet:fqdn`, `inet:*`, an interface).
pub(crate) fn forms_by_look(model: &Model, name: &str) -> Option<Vec<String>> {
    if let Some(form) = model.form(name) {
        return Some(vec![form.name().to_owned()]);
    }
    if let Some(prefix) = name.strip_suffix('*') {
        let forms: Vec<String> = model
            .forms()
            .filter(|f| f.name().starts_with(prefix))
            .map(|f| f.name().to_owned())
            .collect();
        return (!forms.is_empty()).then_some(forms);
    }
    let forms = model.forms_by_interface(name);
    (!forms.is_empty()).then(|| forms.iter().map(|f| f.name().to_owned()).collect())
}

fn no_prop(runt: &Runt, span: Span, name: &str) -> Flow {
    runt.at(
        span,
        Flow::Err(
            StormError::new("NoSuchProp", format!("No property named {name}.")).with("name", name),
        ),
    )
}

/// Full prop names of an interface prop (`inet:service:base:platform` style names).
fn iface_props(model: &Model, name: &str) -> Vec<String> {
    // an interface prop is "<iface>:<rel>": the rel prop of every form implementing it
    let mut out = Vec::new();
    for iface in model.interface_names() {
        if let Some(rel) = name.strip_prefix(iface).and_then(|r| r.strip_prefix(':')) {
            for form in model.forms_by_interface(iface) {
                if let Some(prop) = form.prop(rel) {
                    out.push(prop.full().to_owned());
                }
            }
        }
    }
    out
}

/// The nodes of a lift.
async fn lift_nodes(
    runt: &Arc<Runt>,
    lift: &LiftPlan,
    item: Option<&Item>,
    span: Span,
) -> RResult<NodeStream> {
    let view = &runt.view;
    let model = runt.model();
    let reverse = lift.reverse;
    match &lift.source {
        LiftSource::Prop { name } => {
            let name = eval_name(runt, name, item).await?;
            if let Some(form) = model.form(&name) {
                if form.is_runt() {
                    return super::lib::runt_lift(runt, &name, None).await;
                }
                if let Some(hint) = &lift.hint
                    && let Some(stream) = hinted(runt, &name, hint, item, reverse).await?
                {
                    return Ok(stream);
                }
                return Ok(from_view(view.lift_form(&name, reverse)?));
            }
            if model.prop(&name).is_some() || (name.starts_with('.') && model.univ(&name).is_some())
            {
                return Ok(from_view(view.lift_prop(&name, reverse)?));
            }
            if let Some(forms) = forms_by_look(model, &name) {
                let mut streams = Vec::new();
                for form in forms {
                    if model.form(&form).is_some_and(|f| f.is_runt()) {
                        continue;
                    }
                    streams.push(from_view(view.lift_form(&form, reverse)?));
                }
                return Ok(stream::iter(streams).flatten().boxed());
            }
            let props = iface_props(model, &name);
            if props.is_empty() {
                return Err(no_prop(runt, span, &name));
            }
            let mut streams = Vec::new();
            for full in props {
                streams.push(from_view(view.lift_prop(&full, reverse)?));
            }
            Ok(stream::iter(streams).flatten().boxed())
        }
        LiftSource::PropCmp { name, cmpr, value } => {
            let name = eval_name(runt, name, item).await?;
            let valu = eval(runt, value, item).await?;
            let valu = match &valu {
                Val::Node(node) => node.valu.clone(),
                other => tostor(other)?,
            };
            let (name, pivs) = match name.split_once("::") {
                Some((head, rest)) => (
                    head.to_owned(),
                    Some(rest.split("::").map(str::to_owned).collect::<Vec<_>>()),
                ),
                None => (name, None),
            };
            let props: Vec<String> = if model.prop(&name).is_some()
                || model.form(&name).is_some()
                || (name.starts_with('.') && model.univ(&name).is_some())
            {
                vec![name.clone()]
            } else {
                let props = iface_props(model, &name);
                if props.is_empty() {
                    return Err(no_prop(runt, span, &name));
                }
                props
            };
            if let Some(form) = model.form(&name)
                && form.is_runt()
            {
                return super::lib::runt_lift(runt, &name, Some((cmpr.as_str(), valu))).await;
            }
            if let Some(pivs) = pivs {
                return pivlift(runt, &props, &pivs, cmpr, &valu, reverse, span, value.span).await;
            }
            let mut streams = Vec::new();
            for full in &props {
                let s = view
                    .lift_prop_valu(full, cmpr, &valu, reverse)
                    .map_err(|e| runt.at(value.span, Flow::from(e)))?;
                streams.push(from_view(s));
            }
            Ok(stream::iter(streams).flatten().boxed())
        }
        LiftSource::Array { name, cmpr, value } => {
            let name = eval_name(runt, name, item).await?;
            let valu = tostor(&eval(runt, value, item).await?)?;
            let props: Vec<String> = if model.prop(&name).is_some() {
                vec![name.clone()]
            } else {
                let props = iface_props(model, &name);
                if props.is_empty() {
                    return Err(no_prop(runt, span, &name));
                }
                props
            };
            let mut streams = Vec::new();
            for full in &props {
                let Some(prop) = model.prop(full) else {
                    continue;
                };
                let Some(elem) = prop.ty().array_elem() else {
                    return Err(runt.error(
                        span,
                        "BadTypeValu",
                        format!("Prop {full} is not an array type."),
                    ));
                };
                let lifts = elem
                    .stor_lifts(cmpr, &valu)
                    .map_err(|e| runt.at(value.span, Flow::from(e)))?;
                let form = prop.form().map(|f| f.name().to_owned()).unwrap_or_default();
                let bys: Vec<crate::layer::LiftBy> = lifts
                    .into_iter()
                    .map(|cmpr| crate::layer::LiftBy::Array {
                        form: form.clone(),
                        prop: Some(prop.name().to_owned()),
                        cmpr,
                    })
                    .collect();
                streams.push(from_view(view.lift_chain(bys, reverse)?));
            }
            Ok(stream::iter(streams).flatten().boxed())
        }
        LiftSource::Tag { tag, form, cmp } => {
            let tag = eval_tag(runt, tag, item, true).await?;
            let forms: Vec<Option<String>> = match form {
                None => vec![None],
                Some(form) => {
                    let name = eval_name(runt, form, item).await?;
                    forms_by_look(model, &name)
                        .ok_or_else(|| no_prop(runt, span, &name))?
                        .into_iter()
                        .map(Some)
                        .collect()
                }
            };
            let cmp = match cmp {
                Some((cmpr, expr)) => Some((
                    cmpr.clone(),
                    tostor(&eval(runt, expr, item).await?)?,
                    expr.span,
                )),
                None => None,
            };
            let mut streams = Vec::new();
            for form in forms {
                let s = match &cmp {
                    Some((cmpr, valu, vspan)) => view
                        .lift_tag_valu(&tag, form.as_deref(), cmpr, valu, reverse)
                        .map_err(|e| runt.at(*vspan, Flow::from(e)))?,
                    None => view.lift_tag(&tag, form.as_deref(), reverse)?,
                };
                streams.push(from_view(s));
            }
            Ok(stream::iter(streams).flatten().boxed())
        }
        LiftSource::TagProp {
            tag,
            prop,
            form,
            cmp,
        } => {
            let tag = eval_tag(runt, tag, item, true).await?;
            let prop = eval_name(runt, prop, item).await?;
            if crate::node::tagprop_type(model, &prop).is_none() {
                return Err(runt.error(
                    span,
                    "NoSuchTagProp",
                    format!("No such tag property: {prop}"),
                ));
            }
            let forms: Vec<Option<String>> = match form {
                None => vec![None],
                Some(form) => {
                    let name = eval_name(runt, form, item).await?;
                    forms_by_look(model, &name)
                        .ok_or_else(|| no_prop(runt, span, &name))?
                        .into_iter()
                        .map(Some)
                        .collect()
                }
            };
            let mut streams = Vec::new();
            for form in forms {
                let s = match cmp {
                    Some((cmpr, expr)) => {
                        let valu = tostor(&eval(runt, expr, item).await?)?;
                        view.lift_tagprop_valu(form.as_deref(), &tag, &prop, cmpr, &valu, reverse)
                            .map_err(|e| runt.at(expr.span, Flow::from(e)))?
                    }
                    None => view.lift_tagprop(form.as_deref(), &tag, &prop, reverse)?,
                };
                streams.push(from_view(s));
            }
            Ok(stream::iter(streams).flatten().boxed())
        }
        LiftSource::TagTag { tag, cmp } => {
            let tag = eval_tag(runt, tag, item, true).await?;
            let cmp = match cmp {
                Some((cmpr, expr)) => Some((cmpr.clone(), tostor(&eval(runt, expr, item).await?)?)),
                None => None,
            };
            let runt = Arc::clone(runt);
            let stream = async_stream::try_stream! {
                if runt.view.get_node_by_ndef("syn:tag", &Value::from(tag.as_str())).await.map_err(Flow::from)?.is_none() {
                    return;
                }
                let mut done = std::collections::HashSet::new();
                done.insert(tag.clone());
                let first = match &cmp {
                    Some((cmpr, valu)) => runt.view.lift_tag_valu(&tag, None, cmpr, valu, reverse)?,
                    None => runt.view.lift_tag(&tag, None, reverse)?,
                };
                let mut todo = std::collections::VecDeque::new();
                todo.push_back(first);
                while let Some(mut genr) = todo.pop_front() {
                    while let Some(node) = genr.next().await {
                        let node = node.map_err(Flow::from)?;
                        if node.form == "syn:tag" {
                            if let Some(name) = node.valu.as_str()
                                && done.insert(name.to_owned())
                            {
                                todo.push_back(runt.view.lift_tag(name, None, reverse)?);
                            }
                            continue;
                        }
                        yield node;
                    }
                }
            };
            Ok(stream.boxed())
        }
    }
}

/// A form lift narrowed by the filter after it.
async fn hinted(
    runt: &Arc<Runt>,
    form: &str,
    hint: &LiftHint,
    item: Option<&Item>,
    reverse: bool,
) -> RResult<Option<NodeStream>> {
    let view = &runt.view;
    let model = runt.model();
    match hint {
        LiftHint::Tag(tag) => {
            let tag = eval_tag(runt, tag, item, false).await?;
            if tag.is_empty() || tag.contains('*') {
                return Ok(None);
            }
            Ok(Some(from_view(view.lift_tag(&tag, Some(form), reverse)?)))
        }
        LiftHint::Prop { name, univ, cmp } => {
            let Ok(name) = eval_name(runt, name, item).await else {
                return Ok(None);
            };
            let full = if *univ {
                if name.starts_with('.') {
                    format!("{form}{name}")
                } else {
                    format!("{form}.{name}")
                }
            } else {
                format!("{form}:{name}")
            };
            if model.prop(&full).is_none() {
                return Ok(Some(stream::empty().boxed()));
            }
            if let Some((cmpr, expr)) = cmp
                && expr.runtsafe
                && let Ok(valu) = eval(runt, expr, item).await
                && !valu.is_null()
                && let Ok(valu) = tostor(&valu)
                && let Ok(s) = view.lift_prop_valu(&full, cmpr, &valu, reverse)
            {
                return Ok(Some(from_view(s)));
            }
            Ok(Some(from_view(view.lift_prop(&full, reverse)?)))
        }
    }
}

/// `form:prop::pivprop=valu`: lift by the last prop, then pivot back through the chain.
#[allow(clippy::too_many_arguments)]
async fn pivlift(
    runt: &Arc<Runt>,
    props: &[String],
    pivs: &[String],
    cmpr: &str,
    valu: &Value,
    reverse: bool,
    span: Span,
    vspan: Span,
) -> RResult<NodeStream> {
    let model = runt.model();
    let first = model
        .prop(&props[0])
        .ok_or_else(|| no_prop(runt, span, &props[0]))?;
    let mut names = Vec::new();
    let mut tname = first.ty().name().to_owned();
    for piv in pivs {
        let full = format!("{tname}:{piv}");
        let prop = model
            .prop(&full)
            .ok_or_else(|| no_prop(runt, span, &full))?;
        names.push(full);
        tname = prop.ty().name().to_owned();
    }
    let last = names.last().cloned().unwrap_or_default();
    let base = runt
        .view
        .lift_prop_valu(&last, cmpr, valu, reverse)
        .map_err(|e| runt.at(vspan, Flow::from(e)))?;
    let mut stream = from_view(base);
    for name in names.iter().rev().skip(1) {
        let runt = Arc::clone(runt);
        let name = name.clone();
        stream = stream
            .then(move |node| {
                let runt = Arc::clone(&runt);
                let name = name.clone();
                async move {
                    let node = node?;
                    let s = runt.view.lift_prop_valu(&name, "=", &node.valu, reverse)?;
                    Ok::<_, Flow>(from_view(s))
                }
            })
            .map(|r| match r {
                Ok(s) => s,
                Err(e) => stream::once(async move { Err(e) }).boxed(),
            })
            .flatten()
            .boxed();
    }
    let runt = Arc::clone(runt);
    let props = props.to_vec();
    Ok(stream
        .then(move |node| {
            let runt = Arc::clone(&runt);
            let props = props.clone();
            async move {
                let node = node?;
                let mut streams = Vec::new();
                for full in &props {
                    streams.push(from_view(
                        runt.view.lift_prop_valu(full, "=", &node.valu, reverse)?,
                    ));
                }
                Ok::<_, Flow>(stream::iter(streams).flatten().boxed())
            }
        })
        .map(|r: RResult<NodeStream>| match r {
            Ok(s) => s,
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed())
}
