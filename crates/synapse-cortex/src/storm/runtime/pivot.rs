//! Pivots, joins and light-edge walks.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use rmpv::Value;

use super::cond::tostor;
use super::error::{Flow, RResult, StormError};
use super::eval::{eval, eval_name, eval_tag};
use super::exec::{ItemStream, empty};
use super::runt::{Item, Runt};
use super::value::Val;
use crate::model::Model;
use crate::node::Node;
use crate::storm::ast::Span;
use crate::storm::plan::{OpKind, Pipeline, PivotKindPlan, TargetPlan, WalkPlan};

/// How the props of each form refer to other nodes, and which props have each type.
#[derive(Default)]
pub(crate) struct PivotIndex {
    /// form -> (relprop, destform) for props whose type is a form.
    prop: HashMap<String, Vec<(String, String)>>,
    /// form -> (relprop, destform) for array props of a form type.
    array: HashMap<String, Vec<(String, String)>>,
    /// form -> relprops of ndef type.
    ndef: HashMap<String, Vec<String>>,
    /// form -> relprops of arrays of ndefs.
    ndefarray: HashMap<String, Vec<String>>,
    /// type name -> full names of (non-universal) props of that type.
    by_type: HashMap<String, Vec<String>>,
    /// element type name -> full names of array props of that element type.
    array_by_type: HashMap<String, Vec<String>>,
}

impl PivotIndex {
    pub(crate) fn build(model: &Model) -> PivotIndex {
        let mut idx = PivotIndex::default();
        for form in model.forms() {
            let fname = form.name().to_owned();
            for prop in form.props() {
                if prop.is_univ() {
                    continue;
                }
                let ty = prop.ty();
                let rel = prop.name().to_owned();
                if let Some(elem) = ty.array_elem() {
                    idx.array_by_type
                        .entry(elem.name().to_owned())
                        .or_default()
                        .push(prop.full().to_owned());
                    if elem.ctor() == "ndef" {
                        idx.ndefarray.entry(fname.clone()).or_default().push(rel);
                    } else if model.form(elem.name()).is_some() {
                        idx.array
                            .entry(fname.clone())
                            .or_default()
                            .push((rel, elem.name().to_owned()));
                    }
                    continue;
                }
                idx.by_type
                    .entry(ty.name().to_owned())
                    .or_default()
                    .push(prop.full().to_owned());
                if ty.ctor() == "ndef" {
                    idx.ndef.entry(fname.clone()).or_default().push(rel);
                } else if model.form(ty.name()).is_some() {
                    idx.prop
                        .entry(fname.clone())
                        .or_default()
                        .push((rel, ty.name().to_owned()));
                }
            }
        }
        idx
    }
}

fn empty_vec<T>() -> &'static [T] {
    &[]
}

fn link(kind: &str, extra: &[(&str, Value)]) -> Value {
    let mut out = vec![(Value::from("type"), Value::from(kind))];
    for (k, v) in extra {
        out.push((Value::from(*k), v.clone()));
    }
    Value::Map(out)
}

fn prop_link(prop: &str, reverse: bool) -> Value {
    if reverse {
        link(
            "prop",
            &[("prop", Value::from(prop)), ("reverse", Value::from(true))],
        )
    } else {
        link("prop", &[("prop", Value::from(prop))])
    }
}

type Found = BoxStream<'static, RResult<(Node, Value)>>;

fn found_stream(runt: &Arc<Runt>, stream: crate::view::NodeStream, lnk: Value) -> Found {
    let _ = runt;
    stream
        .map(move |r| r.map(|n| (n, lnk.clone())).map_err(Flow::from))
        .boxed()
}

/// Nodes whose form value or prop equals a value; `norm` normalizes it first (the reference
/// skips normalization when the value already has the prop's type).
fn lift_eq(runt: &Runt, full: &str, valu: &Value, norm: bool) -> RResult<crate::view::NodeStream> {
    if norm {
        return Ok(runt.view.lift_prop_valu(full, "=", valu, false)?);
    }
    let model = runt.model();
    let eq = |stortype: i64| crate::model::StorLift {
        cmpr: "=".into(),
        valu: valu.clone(),
        stortype,
    };
    let by = if let Some(form) = model.form(full) {
        crate::layer::LiftBy::FormValu {
            form: form.name().to_owned(),
            cmpr: eq(form.ty().stortype()),
        }
    } else if let Some(prop) = model.prop(full) {
        match prop.form() {
            Some(form) => crate::layer::LiftBy::PropValu {
                form: form.name().to_owned(),
                prop: prop.name().to_owned(),
                cmpr: eq(prop.stortype()),
            },
            None => crate::layer::LiftBy::UnivValu {
                prop: prop.name().to_owned(),
                cmpr: eq(prop.stortype()),
            },
        }
    } else {
        return Err(Flow::Err(
            StormError::new("NoSuchProp", format!("No property named {full}.")).with("name", full),
        ));
    };
    Ok(runt.view.lift(&by, false)?)
}

/// Nodes with an array prop having an element equal to a value (normalized when `norm`).
fn array_eq(
    runt: &Runt,
    prop: crate::model::Prop<'_>,
    valu: &Value,
    norm: bool,
) -> RResult<crate::view::NodeStream> {
    let Some(elem) = prop.ty().array_elem() else {
        return Ok(futures::stream::empty().boxed());
    };
    let lifts = if norm {
        elem.stor_lifts("=", valu)?
    } else {
        vec![crate::model::StorLift {
            cmpr: "=".into(),
            valu: valu.clone(),
            stortype: prop.stortype() & !crate::model::stortype::ARRAY_FLAG,
        }]
    };
    let bys = lifts
        .into_iter()
        .map(|cmpr| crate::layer::LiftBy::Array {
            form: prop.form().map(|f| f.name().to_owned()).unwrap_or_default(),
            prop: Some(prop.name().to_owned()),
            cmpr,
        })
        .collect();
    Ok(runt.view.lift_chain(bys, false)?)
}

/// Whether a node's value needs normalizing for a prop of another type.
fn needs_norm(runt: &Runt, node: &Node, full: &str) -> bool {
    let model = runt.model();
    let nty = model.form(&node.form).map(|f| f.ty().name().to_owned());
    let pty = model
        .prop(full)
        .map(|p| p.ty().name().to_owned())
        .or_else(|| model.form(full).map(|f| f.ty().name().to_owned()));
    nty != pty
}

fn node_ndef(node: &Node) -> Value {
    node.ndef()
}

/// A pivot operator.
pub(crate) fn pivot_op(
    runt: Arc<Runt>,
    pipe: Pipeline,
    idx: usize,
    input: ItemStream,
) -> ItemStream {
    async_stream::try_stream! {
        let op = &pipe.ops[idx];
        let mut input = input;
        let index = runt.shared.core.pivot_index(runt.view.model());
        match &op.kind {
            OpKind::RawPivot(body) => {
                while let Some(item) = input.next().await {
                    let _item = item?;
                    let subr = super::exec::sub_runtime(&runt, runt.runtvars.clone(), Vec::new(), false, None)?;
                    let mut sub = super::exec::run_pipeline(&subr, body, empty());
                    while let Some(i) = sub.next().await {
                        yield i?;
                    }
                }
            }
            OpKind::Walk(walk) => {
                while let Some(item) = input.next().await {
                    let item = item?;
                    if walk.join {
                        yield item.clone();
                    }
                    let mut found = walk_edges(&runt, walk, &item, op.span).await?;
                    while let Some(x) = found.next().await {
                        let (node, lnk) = x?;
                        let path = item.path.fork(&item.node, &node, || lnk);
                        yield Item { node: Arc::new(node), path };
                    }
                }
            }
            OpKind::Pivot(pivot) if batchable(&pipe, idx) => {
                // The nodes before this operator come from reads only, so reading a few of
                // them ahead changes nothing observable: the pivots of every node ready now
                // run concurrently (their reads overlap instead of taking turns), then their
                // nodes are yielded in input order.
                let mut chunks = input.ready_chunks(PIVOT_BATCH);
                while let Some(chunk) = chunks.next().await {
                    let mut items = Vec::with_capacity(chunk.len());
                    let mut failed = None;
                    for item in chunk {
                        match item {
                            Ok(item) => items.push(item),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    let runt = &runt;
                    let index = &index;
                    let kind = &pivot.kind;
                    let span = op.span;
                    let mut done = futures::stream::iter(items.into_iter().map(|item| async move {
                        let found = match pivots(runt, index, kind, &item, span).await {
                            Ok(found) => Ok(head(found).await),
                            Err(e) => Err(e),
                        };
                        (item, found)
                    }))
                    .buffered(PIVOT_CONCURRENCY);
                    while let Some((item, found)) = done.next().await {
                        if pivot.join {
                            yield item.clone();
                        }
                        let (first, rest) = match found {
                            Ok(found) => found,
                            Err(Flow::Err(e)) if e.name == "BadTypeValu" || e.name == "BadLiftValu" => {
                                let mesg = format!("{} [{}] during pivot: {}", e.name, Val::from_msgpack(&item.node.valu).py_repr(), e.mesg);
                                runt.shared.warn(&mesg, Vec::new()).await;
                                continue;
                            }
                            Err(e) => Err(e)?,
                        };
                        for x in first {
                            let (node, lnk) = x?;
                            let path = item.path.fork(&item.node, &node, || lnk);
                            yield Item { node: Arc::new(node), path };
                        }
                        if let Some(mut rest) = rest {
                            while let Some(x) = rest.next().await {
                                let (node, lnk) = x?;
                                let path = item.path.fork(&item.node, &node, || lnk);
                                yield Item { node: Arc::new(node), path };
                            }
                        }
                    }
                    if let Some(e) = failed {
                        Err(e)?;
                    }
                }
            }
            OpKind::Pivot(pivot) => {
                let mut warned = false;
                while let Some(item) = input.next().await {
                    let item = item?;
                    if pivot.join {
                        yield item.clone();
                    }
                    let found = pivots(&runt, &index, &pivot.kind, &item, op.span).await;
                    let mut found = match found {
                        Ok(found) => found,
                        Err(Flow::Err(e)) if e.name == "BadTypeValu" || e.name == "BadLiftValu" => {
                            if !warned {
                                warned = true;
                            }
                            let mesg = format!("{} [{}] during pivot: {}", e.name, Val::from_msgpack(&item.node.valu).py_repr(), e.mesg);
                            runt.shared.warn(&mesg, Vec::new()).await;
                            continue;
                        }
                        Err(e) => Err(e)?,
                    };
                    while let Some(x) = found.next().await {
                        let (node, lnk) = x?;
                        let path = item.path.fork(&item.node, &node, || lnk);
                        yield Item { node: Arc::new(node), path };
                    }
                }
            }
            _ => {
                while let Some(item) = input.next().await {
                    yield item?;
                }
            }
        }
    }
    .boxed()
}

/// Input nodes whose pivots run together at most.
const PIVOT_BATCH: usize = 64;
/// Pivots of a batch in flight at once (each read is a blocking-pool job: a few overlap
/// the hand-offs without a crowd of threads).
const PIVOT_CONCURRENCY: usize = 6;
/// Nodes of each pivot read ahead (the rest stream when yielded).
const PIVOT_HEAD: usize = 32;

/// The first nodes of a pivot's stream (up to an error or [`PIVOT_HEAD`]) and the rest of
/// it, if any.
async fn head(mut found: Found) -> (Vec<RResult<(Node, Value)>>, Option<Found>) {
    let mut out = Vec::new();
    while out.len() < PIVOT_HEAD {
        match found.next().await {
            Some(Ok(x)) => out.push(Ok(x)),
            Some(Err(e)) => {
                out.push(Err(e));
                return (out, None);
            }
            None => return (out, None),
        }
    }
    (out, Some(found))
}

/// Whether the pivot at `idx` may read its input ahead: every operator before it only reads
/// (lifts of constant or plain values, pivots that evaluate nothing), so running them ahead
/// of this one has no visible effect.
fn batchable(pipe: &Pipeline, idx: usize) -> bool {
    use crate::storm::plan::{LiftSource, NameExpr, TagExpr};
    let plain_pivot = |kind: &PivotKindPlan| match kind {
        PivotKindPlan::Out | PivotKindPlan::In | PivotKindPlan::InFrom(_) => true,
        PivotKindPlan::ToForm(target) => matches!(target, TargetPlan::Name(_)),
        PivotKindPlan::PropOut(name) => matches!(name, NameExpr::Const(_)),
        PivotKindPlan::Prop { prop, target } => {
            matches!(prop, NameExpr::Const(_)) && matches!(target, TargetPlan::Name(_))
        }
        PivotKindPlan::ToTags(_) | PivotKindPlan::WalkAllOut | PivotKindPlan::WalkAllIn => false,
    };
    let OpKind::Pivot(this) = &pipe.ops[idx].kind else {
        return false;
    };
    if !plain_pivot(&this.kind) {
        return false;
    }
    pipe.ops[..idx].iter().all(|op| match &op.kind {
        OpKind::Pivot(p) => plain_pivot(&p.kind),
        OpKind::Lift(lift) => match &lift.source {
            LiftSource::Prop { name } => matches!(name, NameExpr::Const(_)),
            LiftSource::PropCmp { name, value, .. } => {
                matches!(name, NameExpr::Const(_)) && super::edit::is_simple(value)
            }
            LiftSource::Tag { tag, form, cmp } => {
                matches!(tag, TagExpr::Const(_))
                    && form
                        .as_ref()
                        .is_none_or(|f| matches!(f, NameExpr::Const(_)))
                    && cmp.as_ref().is_none_or(|(_, v)| super::edit::is_simple(v))
            }
            _ => false,
        },
        _ => false,
    })
}

/// The nodes a pivot reaches from one node.
async fn pivots(
    runt: &Arc<Runt>,
    index: &Arc<PivotIndex>,
    kind: &PivotKindPlan,
    item: &Item,
    span: Span,
) -> RResult<Found> {
    let node = &item.node;
    let view = runt.view.clone();
    let model = runt.model();
    let mut out: Vec<Found> = Vec::new();
    match kind {
        PivotKindPlan::Out => out.extend(pivots_out(runt, index, node).await?),
        PivotKindPlan::In => out.extend(pivots_in(runt, index, node).await?),
        PivotKindPlan::WalkAllOut => {
            out.extend(pivots_out(runt, index, node).await?);
            out.push(edge_nodes(runt, view.edges_n1(node.buid, None), false));
        }
        PivotKindPlan::WalkAllIn => {
            out.extend(pivots_in(runt, index, node).await?);
            out.push(edge_nodes(runt, view.edges_n2(node.buid, None), true));
        }
        PivotKindPlan::ToTags(tag) => {
            let (leaf, filt) = match tag {
                None => (true, None),
                Some(tag) => (false, Some(eval_tag(runt, tag, Some(item), false).await?)),
            };
            let names: Vec<String> = if leaf {
                node.leaf_tags().into_iter().map(str::to_owned).collect()
            } else {
                node.tags.iter().map(|(t, _)| t.clone()).collect()
            };
            let mut nodes = Vec::new();
            for name in names {
                if let Some(f) = &filt {
                    if f.contains('*') {
                        if !fnmatch(&name, f) {
                            continue;
                        }
                    } else if name != *f {
                        continue;
                    }
                }
                if let Some(pivo) = view
                    .get_node_by_ndef("syn:tag", &Value::from(name.as_str()))
                    .await?
                {
                    nodes.push(Ok((
                        pivo,
                        link("tag", &[("tag", Value::from(name.as_str()))]),
                    )));
                }
            }
            out.push(futures::stream::iter(nodes).boxed());
        }
        PivotKindPlan::InFrom(form) => {
            if model.form(form).is_none() {
                return Err(runt.error(span, "NoSuchForm", format!("No form named {form}.")));
            }
            let tname = model
                .form(&node.form)
                .map(|f| f.ty().name().to_owned())
                .unwrap_or_default();
            let isedge = model
                .form(&node.form)
                .is_some_and(|f| f.ty().ctor() == "edge" || f.ty().ctor() == "timeedge");
            if !isedge {
                return Err(runt.error(
                    span,
                    "StormRuntimeError",
                    format!(
                        "Pivot in from a specific form cannot be used with nodes of type {tname}"
                    ),
                ));
            }
        }
        PivotKindPlan::ToForm(target) => {
            let names = target_names(runt, target, item, span).await?;
            let strict = names.len() == 1 && !names[0].1;
            for (name, _) in names {
                out.extend(form_pivot(runt, index, node, &name, strict, span).await?);
            }
        }
        PivotKindPlan::PropOut(prop) => {
            let name = eval_name(runt, prop, Some(item)).await?;
            let Some(pdef) = model.form(&node.form).and_then(|f| f.prop(&name)) else {
                return Ok(empty_found());
            };
            let Some(valu) = node.get(&name).cloned() else {
                return Ok(empty_found());
            };
            let lnk = prop_link(pdef.name(), false);
            let ty = pdef.ty();
            if let Some(elem) = ty.array_elem() {
                let items = valu.as_array().cloned().unwrap_or_default();
                let mut nodes = Vec::new();
                if elem.ctor() == "ndef" {
                    for i in items {
                        if let Some(p) = get_ndef(runt, &i).await? {
                            nodes.push(Ok((p, lnk.clone())));
                        }
                    }
                } else if model.form(elem.name()).is_some() {
                    for i in items {
                        if let Some(p) = view.get_node_by_ndef(elem.name(), &i).await? {
                            nodes.push(Ok((p, lnk.clone())));
                        }
                    }
                } else {
                    runt.shared.warn(&format!("The source property \"{name}\" array type \"{}\" is not a form. Cannot pivot.", elem.name()), Vec::new()).await;
                }
                out.push(futures::stream::iter(nodes).boxed());
            } else if ty.ctor() == "ndef" {
                if let Some(p) = get_ndef(runt, &valu).await? {
                    out.push(futures::stream::iter(vec![Ok((p, lnk))]).boxed());
                }
            } else if model.form(ty.name()).is_some() {
                if let Some(p) = view.get_node_by_ndef(ty.name(), &valu).await? {
                    out.push(futures::stream::iter(vec![Ok((p, lnk))]).boxed());
                }
            } else {
                runt.shared.warn(&format!("The source property \"{name}\" type \"{}\" is not a form. Cannot pivot.", ty.name()), Vec::new()).await;
            }
        }
        PivotKindPlan::Prop { prop, target } => {
            let name = eval_name(runt, prop, Some(item)).await?;
            let (full, valu) = super::cond::prop_value(runt, node, &name, span).await?;
            let (Some(full), Some(valu)) = (full, valu) else {
                return Ok(empty_found());
            };
            let Some(srcprop) = model.prop(&full) else {
                return Ok(empty_found());
            };
            let names = target_names(runt, target, item, span).await?;
            for (dest, _) in names {
                let lnk = if model.form(&dest).is_some() {
                    prop_link(srcprop.name(), false)
                } else {
                    link(
                        "prop",
                        &[
                            ("prop", Value::from(srcprop.name())),
                            ("dest", Value::from(dest.as_str())),
                        ],
                    )
                };
                let src_elem = srcprop.ty().array_elem();
                let destform = model.form(&dest);
                let destprop = model.prop(&dest);
                let dest_is_array = destprop.is_some_and(|p| p.ty().is_array());
                if let Some(elem) = src_elem
                    && !dest_is_array
                {
                    let items = valu.as_array().cloned().unwrap_or_default();
                    if elem.ctor() == "ndef" && destform.is_some() {
                        let mut nodes = Vec::new();
                        for i in items {
                            if i.as_array().and_then(|a| a.first()).and_then(Value::as_str)
                                != Some(dest.as_str())
                            {
                                continue;
                            }
                            if let Some(p) = get_ndef(runt, &i).await? {
                                nodes.push(Ok((p, lnk.clone())));
                            }
                        }
                        out.push(futures::stream::iter(nodes).boxed());
                    } else {
                        for i in items {
                            out.push(found_stream(
                                runt,
                                lift_eq(runt, &dest, &i, true)?,
                                lnk.clone(),
                            ));
                        }
                    }
                    continue;
                }
                if srcprop.ty().ctor() == "ndef" && destform.is_some() {
                    if valu
                        .as_array()
                        .and_then(|a| a.first())
                        .and_then(Value::as_str)
                        != Some(dest.as_str())
                    {
                        continue;
                    }
                    match get_ndef(runt, &valu).await? {
                        Some(p) => out.push(futures::stream::iter(vec![Ok((p, lnk))]).boxed()),
                        None => {
                            runt.shared
                                .warn(
                                    &format!(
                                        "Missing node corresponding to ndef {}",
                                        Val::from_msgpack(&valu).py_repr()
                                    ),
                                    Vec::new(),
                                )
                                .await
                        }
                    }
                    continue;
                }
                if dest_is_array && srcprop.ty().array_elem().is_none() {
                    let dp = destprop.map(|p| p.ty());
                    if let Some(dp) = dp
                        && let Some(elem) = dp.array_elem()
                    {
                        let lifts = elem.stor_lifts("=", &valu)?;
                        let dprop = model.prop(&dest).ok_or_else(|| {
                            Flow::Err(StormError::new(
                                "NoSuchProp",
                                format!("No property named {dest}."),
                            ))
                        })?;
                        let bys = lifts
                            .into_iter()
                            .map(|cmpr| crate::layer::LiftBy::Array {
                                form: dprop
                                    .form()
                                    .map(|f| f.name().to_owned())
                                    .unwrap_or_default(),
                                prop: Some(dprop.name().to_owned()),
                                cmpr,
                            })
                            .collect();
                        out.push(found_stream(runt, view.lift_chain(bys, false)?, lnk));
                    }
                    continue;
                }
                out.push(found_stream(runt, lift_eq(runt, &dest, &valu, true)?, lnk));
            }
        }
    }
    Ok(futures::stream::iter(out).flatten().boxed())
}

fn empty_found() -> Found {
    futures::stream::empty().boxed()
}

/// Target names: `(name, from a list or wildcard)`.
async fn target_names(
    runt: &Arc<Runt>,
    target: &TargetPlan,
    item: &Item,
    span: Span,
) -> RResult<Vec<(String, bool)>> {
    let model = runt.model();
    let names: Vec<String> = match target {
        TargetPlan::Name(name) => vec![name.clone()],
        TargetPlan::Value(expr) => {
            let v = eval(runt, expr, Some(item)).await?;
            match v.seq_items() {
                Some(items) => {
                    let mut out = Vec::new();
                    for i in items {
                        let name = i.to_str()?;
                        if model.prop(&name).is_none() && model.form(&name).is_none() {
                            return Err(runt.error(
                                span,
                                "NoSuchProp",
                                format!("No property named {name}."),
                            ));
                        }
                        out.push(name);
                    }
                    return Ok(out.into_iter().map(|n| (n, true)).collect());
                }
                None => vec![v.to_str()?],
            }
        }
    };
    let mut out = Vec::new();
    for name in names {
        if model.form(&name).is_some() || model.prop(&name).is_some() {
            out.push((name, false));
            continue;
        }
        match super::lift::forms_by_look(model, &name) {
            Some(forms) => out.extend(forms.into_iter().map(|f| (f, true))),
            None => {
                return Err(runt.at(
                    span,
                    Flow::Err(
                        StormError::new("NoSuchProp", format!("No property named {name}."))
                            .with("name", name.as_str()),
                    ),
                ));
            }
        }
    }
    Ok(out)
}

async fn get_ndef(runt: &Arc<Runt>, ndef: &Value) -> RResult<Option<Node>> {
    let Some([form, valu]) = ndef.as_array().map(Vec::as_slice) else {
        return Ok(None);
    };
    let Some(form) = form.as_str() else {
        return Ok(None);
    };
    Ok(runt.view.get_node_by_ndef(form, valu).await?)
}

fn edge_nodes(
    runt: &Arc<Runt>,
    edges: BoxStream<'static, Result<(String, crate::nodeedit::Buid), crate::view::Error>>,
    reverse: bool,
) -> Found {
    let view = runt.view.clone();
    edges
        .then(move |edge| {
            let view = view.clone();
            async move {
                let (verb, buid) = edge.map_err(Flow::from)?;
                let node = view.get_node(buid).await.map_err(Flow::from)?;
                let lnk = if reverse {
                    link(
                        "edge",
                        &[
                            ("verb", Value::from(verb.as_str())),
                            ("reverse", Value::from(true)),
                        ],
                    )
                } else {
                    link("edge", &[("verb", Value::from(verb.as_str()))])
                };
                Ok::<_, Flow>(node.map(|n| (n, lnk)))
            }
        })
        .filter_map(|r| async move {
            match r {
                Ok(Some(x)) => Some(Ok(x)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
        .boxed()
}

/// `-> *`
async fn pivots_out(runt: &Arc<Runt>, index: &PivotIndex, node: &Node) -> RResult<Vec<Found>> {
    let view = &runt.view;
    let mut out: Vec<Found> = Vec::new();
    if node.form == "syn:tag"
        && let Some(tag) = node.valu.as_str()
    {
        let lnk = link(
            "tag",
            &[("tag", Value::from(tag)), ("reverse", Value::from(true))],
        );
        out.push(found_stream(runt, view.lift_tag(tag, None, false)?, lnk));
        return Ok(out);
    }
    let model = runt.model();
    let Some(form) = model.form(&node.form) else {
        return Ok(out);
    };
    let mut found = Vec::new();
    for prop in form.props() {
        let Some(valu) = node.get(prop.name()) else {
            continue;
        };
        let lnk = || prop_link(prop.name(), false);
        let ty = prop.ty();
        if ty.ctor() == "ndef" {
            if let Some(p) = get_ndef(runt, valu).await? {
                found.push(Ok((p, lnk())));
            }
            continue;
        }
        if let Some(elem) = ty.array_elem() {
            let items = valu.as_array().cloned().unwrap_or_default();
            if elem.ctor() == "ndef" {
                for i in items {
                    if let Some(p) = get_ndef(runt, &i).await? {
                        found.push(Ok((p, lnk())));
                    }
                }
            } else if model.form(elem.name()).is_some() {
                for i in items {
                    if let Some(p) = view.get_node_by_ndef(elem.name(), &i).await? {
                        found.push(Ok((p, lnk())));
                    }
                }
            }
            continue;
        }
        if model.form(ty.name()).is_none() {
            continue;
        }
        if let Some(p) = view.get_node_by_ndef(ty.name(), valu).await?
            && p.buid != node.buid
        {
            found.push(Ok((p, lnk())));
        }
    }
    let _ = index;
    out.push(futures::stream::iter(found).boxed());
    Ok(out)
}

/// `<- *`
async fn pivots_in(runt: &Arc<Runt>, index: &PivotIndex, node: &Node) -> RResult<Vec<Found>> {
    let view = &runt.view;
    let mut out: Vec<Found> = Vec::new();
    let tname = runt
        .model()
        .form(&node.form)
        .map(|f| f.ty().name().to_owned())
        .unwrap_or_else(|| node.form.clone());
    for full in index
        .by_type
        .get(&tname)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        let rel = full.rsplit_once(':').map(|(_, r)| r).unwrap_or(full);
        let rel = runt
            .model()
            .prop(full)
            .map(|p| p.name().to_owned())
            .unwrap_or_else(|| rel.to_owned());
        out.push(found_stream(
            runt,
            lift_eq(runt, full, &node.valu, needs_norm(runt, node, full))?,
            prop_link(&rel, true),
        ));
    }
    for full in index
        .array_by_type
        .get(&tname)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        let Some(prop) = runt.model().prop(full) else {
            continue;
        };
        let Some(elem) = prop.ty().array_elem() else {
            continue;
        };
        let norm = Some(elem.name()) != runt.model().form(&node.form).map(|f| f.ty().name());
        out.push(found_stream(
            runt,
            array_eq(runt, prop, &node.valu, norm)?,
            prop_link(prop.name(), true),
        ));
    }
    let mut refs = Vec::new();
    for (buid, prop) in view.ndef_refs(node.buid).await? {
        if let Some(p) = view.get_node(buid).await? {
            refs.push(Ok((p, prop_link(&prop, true))));
        }
    }
    out.push(futures::stream::iter(refs).boxed());
    Ok(out)
}

/// `-> form` / `-> form:prop`
async fn form_pivot(
    runt: &Arc<Runt>,
    index: &PivotIndex,
    node: &Node,
    dest: &str,
    strict: bool,
    span: Span,
) -> RResult<Vec<Found>> {
    let model = runt.model();
    let view = &runt.view;
    let mut out: Vec<Found> = Vec::new();
    if model.form(dest).is_none() {
        let Some(prop) = model.prop(dest) else {
            return Err(runt.error(span, "NoSuchProp", format!("No property named {dest}.")));
        };
        let lnk = prop_link(prop.name(), true);
        let ty = prop.ty();
        if ty.ctor() == "ndef" {
            out.push(found_stream(
                runt,
                lift_eq(runt, dest, &node_ndef(node), false)?,
                lnk,
            ));
            return Ok(out);
        }
        if let Some(elem) = ty.array_elem() {
            let valu = if elem.ctor() == "ndef" {
                node_ndef(node)
            } else {
                node.valu.clone()
            };
            let norm = elem.ctor() != "ndef"
                && Some(elem.name()) != model.form(&node.form).map(|f| f.ty().name());
            out.push(found_stream(runt, array_eq(runt, prop, &valu, norm)?, lnk));
            return Ok(out);
        }
        out.push(found_stream(
            runt,
            lift_eq(runt, dest, &node.valu, needs_norm(runt, node, dest))?,
            lnk,
        ));
        return Ok(out);
    }
    if node.form == "syn:tag"
        && let Some(tag) = node.valu.as_str()
    {
        let lnk = link(
            "tag",
            &[("tag", Value::from(tag)), ("reverse", Value::from(true))],
        );
        out.push(found_stream(
            runt,
            view.lift_tag(tag, Some(dest), false)?,
            lnk,
        ));
        return Ok(out);
    }
    let mut found = false;
    let mut direct = Vec::new();
    let src = node.form.as_str();
    for (rel, form) in index
        .prop
        .get(src)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        if form != dest {
            continue;
        }
        found = true;
        if let Some(valu) = node.get(rel)
            && let Some(p) = view.get_node_by_ndef(dest, valu).await?
        {
            direct.push(Ok((p, prop_link(rel, false))));
        }
    }
    for (rel, form) in index
        .array
        .get(src)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        if form != dest {
            continue;
        }
        found = true;
        if let Some(Value::Array(items)) = node.get(rel) {
            for i in items {
                if let Some(p) = view.get_node_by_ndef(dest, i).await? {
                    direct.push(Ok((p, prop_link(rel, false))));
                }
            }
        }
    }
    for rel in index
        .ndef
        .get(src)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        found = true;
        if let Some(valu) = node.get(rel)
            && valu
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                == Some(dest)
            && let Some(p) = get_ndef(runt, valu).await?
        {
            direct.push(Ok((p, prop_link(rel, false))));
        }
    }
    for rel in index
        .ndefarray
        .get(src)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        found = true;
        if let Some(Value::Array(items)) = node.get(rel) {
            for i in items {
                if i.as_array().and_then(|a| a.first()).and_then(Value::as_str) == Some(dest)
                    && let Some(p) = get_ndef(runt, i).await?
                {
                    direct.push(Ok((p, prop_link(rel, false))));
                }
            }
        }
    }
    out.push(futures::stream::iter(direct).boxed());
    for (rel, form) in index
        .prop
        .get(dest)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        if form != src {
            continue;
        }
        found = true;
        let full = format!("{dest}:{rel}");
        out.push(found_stream(
            runt,
            lift_eq(runt, &full, &node.valu, false)?,
            prop_link(rel, true),
        ));
    }
    for (rel, form) in index
        .array
        .get(dest)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        if form != src {
            continue;
        }
        found = true;
        let Some(prop) = model.prop(&format!("{dest}:{rel}")) else {
            continue;
        };
        let Some(elem) = prop.ty().array_elem() else {
            continue;
        };
        let _ = elem;
        out.push(found_stream(
            runt,
            array_eq(runt, prop, &node.valu, false)?,
            prop_link(rel, true),
        ));
    }
    for rel in index
        .ndef
        .get(dest)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        found = true;
        let full = format!("{dest}:{rel}");
        out.push(found_stream(
            runt,
            lift_eq(runt, &full, &node_ndef(node), false)?,
            prop_link(rel, true),
        ));
    }
    for rel in index
        .ndefarray
        .get(dest)
        .map(Vec::as_slice)
        .unwrap_or(empty_vec())
    {
        found = true;
        let Some(prop) = model.prop(&format!("{dest}:{rel}")) else {
            continue;
        };
        let Some(elem) = prop.ty().array_elem() else {
            continue;
        };
        let _ = elem;
        out.push(found_stream(
            runt,
            array_eq(runt, prop, &node_ndef(node), false)?,
            prop_link(rel, true),
        ));
    }
    if strict && !found {
        return Err(runt.at(
            span,
            Flow::Err(
                StormError::new(
                    "NoSuchPivot",
                    format!("No pivot found for {src} -> {dest}."),
                )
                .with("n1", src)
                .with("n2", dest),
            ),
        ));
    }
    Ok(out)
}

/// `-(verb)> dest` / `<(verb)- dest`
async fn walk_edges(runt: &Arc<Runt>, walk: &WalkPlan, item: &Item, span: Span) -> RResult<Found> {
    let model = runt.model();
    let verbs = eval(runt, &walk.verb, Some(item)).await?;
    let verbs: Vec<String> = match &verbs {
        Val::Str(s) => vec![s.to_string()],
        other => match other.seq_items() {
            Some(items) => items.iter().map(Val::to_str).collect::<RResult<_>>()?,
            None => {
                return Err(runt.error(
                    span,
                    "StormRuntimeError",
                    format!(
                        "walk operation expected a string or list.  got: {}.",
                        other.py_repr()
                    ),
                ));
            }
        },
    };
    let dest = eval(runt, &walk.dest, Some(item)).await?;
    let dests: Vec<String> = match dest.seq_items() {
        Some(items) => items.iter().map(Val::to_str).collect::<RResult<_>>()?,
        None => vec![dest.to_str()?],
    };
    let wild = dests.iter().any(|d| d == "*");
    if wild && walk.cmp.is_some() {
        return Err(runt.error(
            span,
            "StormRuntimeError",
            "Wild card walk operations do not support comparison.",
        ));
    }
    let mut forms: Vec<String> = Vec::new();
    let mut formprops: Vec<(String, String)> = Vec::new();
    if !wild {
        for d in &dests {
            if let Some(f) = model.form(d) {
                forms.push(f.name().to_owned());
            } else if let Some(p) = model.prop(d) {
                formprops.push((
                    p.form().map(|f| f.name().to_owned()).unwrap_or_default(),
                    p.name().to_owned(),
                ));
            } else {
                match super::lift::forms_by_look(model, d) {
                    Some(fs) => forms.extend(fs),
                    None => {
                        return Err(runt.error(
                            span,
                            "NoSuchProp",
                            format!("No property named {d}."),
                        ));
                    }
                }
            }
        }
    }
    let cmp = match &walk.cmp {
        Some((cmpr, expr)) => Some((cmpr.clone(), tostor(&eval(runt, expr, Some(item)).await?)?)),
        None => None,
    };
    let mut outs: Vec<Found> = Vec::new();
    for verb in verbs {
        let verb = if verb == "*" { None } else { Some(verb) };
        let edges = if walk.reverse {
            runt.view.edges_n2(item.node.buid, verb.as_deref())
        } else {
            runt.view.edges_n1(item.node.buid, verb.as_deref())
        };
        outs.push(edge_nodes(runt, edges, walk.reverse));
    }
    let runt2 = Arc::clone(runt);
    let stream = futures::stream::iter(outs).flatten().filter_map(move |r| {
        let forms = forms.clone();
        let formprops = formprops.clone();
        let cmp = cmp.clone();
        let runt = Arc::clone(&runt2);
        async move {
            let (node, lnk) = match r {
                Ok(x) => x,
                Err(e) => return Some(Err(e)),
            };
            if wild {
                return Some(Ok((node, lnk)));
            }
            let model = runt.model();
            if forms.contains(&node.form) {
                if let Some((cmpr, valu)) = &cmp {
                    let ok = model
                        .form(&node.form)
                        .and_then(|f| f.ty().cmpr(cmpr, valu).ok())
                        .is_some_and(|c| c.matches(&node.valu));
                    return ok.then_some(Ok((node, lnk)));
                }
                return Some(Ok((node, lnk)));
            }
            for (form, prop) in &formprops {
                if *form != node.form {
                    continue;
                }
                if let Some(v) = node.get(prop) {
                    match &cmp {
                        None => return Some(Ok((node, lnk))),
                        Some((cmpr, valu)) => {
                            let ok = model
                                .form(form)
                                .and_then(|f| f.prop(prop))
                                .and_then(|p| p.ty().cmpr(cmpr, valu).ok())
                                .is_some_and(|c| c.matches(v));
                            if ok {
                                return Some(Ok((node, lnk)));
                            }
                        }
                    }
                }
            }
            None
        }
    });
    Ok(stream.boxed())
}

/// Python's `fnmatch` (used by `-> #glob`).
pub(crate) fn fnmatch(name: &str, pat: &str) -> bool {
    let mut re = String::from("^");
    for c in pat.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(name))
}
