//! Edits: `[ ... ]` operators staged into the query's editor, applied when a node leaves the
//! edit block (one batch per node per block; permissions are checked per cortex.md §10).
//! Batches are written without waiting for a commit: the query commits them before it ends
//! (see `execute` in `runtime.rs`). A node add reads, in one go, the state of every node the
//! rest of its edit block touches (runtime-safe prop values, constant tags).

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use rmpv::Value;

use super::cond::tostor;
use super::error::{Flow, RResult, StormError, rterr};
use super::eval::{eval, eval_name, eval_tag, tag_norm};
use super::exec::{ItemStream, empty, once};
use super::runt::{Item, Runt, patch_node};
use super::value::Val;
use crate::node::Node;
use crate::storm::ast::{SetOper, Span};
use crate::storm::plan::{
    EdgeTarget, EditPlan, Expr, ExprKind, NameExpr, OpKind, Pipeline, TagExpr,
};

/// After a run of edit operators: apply the staged edits and refresh the node.
pub(crate) fn flush_op(runt: Arc<Runt>, input: ItemStream) -> ItemStream {
    async_stream::try_stream! {
        let mut input = input;
        while let Some(item) = input.next().await {
            let item = item?;
            yield flush_item(&runt, item).await?;
        }
    }
    .boxed()
}

/// Apply pending edits and patch the item's node with what was applied.
pub(crate) async fn flush_item(runt: &Arc<Runt>, mut item: Item) -> RResult<Item> {
    let batches = {
        let mut editor = runt.shared.editor.lock().await;
        runt.flush(&mut editor).await?
    };
    if !batches.is_empty() {
        let mut node = (*item.node).clone();
        patch_node(&mut node, &batches);
        item.node = Arc::new(node);
    }
    Ok(item)
}

/// Apply pending edits (used before anything that reads the view).
pub(crate) async fn flush(runt: &Arc<Runt>) -> RResult<()> {
    let mut editor = runt.shared.editor.lock().await;
    runt.flush(&mut editor).await?;
    Ok(())
}

/// Whether evaluating an expression may read the view (then staged edits are applied first).
pub(crate) fn is_simple(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Const(_)
        | ExprKind::Var(_)
        | ExprKind::RelProp(_)
        | ExprKind::UnivProp(_)
        | ExprKind::Tag(_)
        | ExprKind::TagProp { .. } => true,
        ExprKind::List(items) | ExprKind::ExprList(items) | ExprKind::Format(items) => {
            items.iter().all(is_simple)
        }
        ExprKind::ExprDict(pairs) => pairs.iter().all(|(k, v)| is_simple(k) && is_simple(v)),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::And(lhs, rhs) | ExprKind::Or(lhs, rhs) => {
            is_simple(lhs) && is_simple(rhs)
        }
        ExprKind::Unary { operand, .. } => is_simple(operand),
        ExprKind::Deref { base, key } => is_simple(base) && is_simple(key),
        ExprKind::Call { .. } | ExprKind::Query(_) => false,
    }
}

fn name_simple(name: &NameExpr) -> bool {
    match name {
        NameExpr::Const(_) => true,
        NameExpr::Dynamic(e) => is_simple(e),
    }
}

fn tag_simple(tag: &TagExpr) -> bool {
    match tag {
        TagExpr::Dynamic(e) => is_simple(e),
        _ => true,
    }
}

fn edit_simple(edit: &EditPlan) -> bool {
    match edit {
        EditPlan::NodeAdd { form, value, .. } => name_simple(form) && is_simple(value),
        EditPlan::Parens { .. } | EditPlan::Edge { .. } => false,
        EditPlan::PropSet { name, value, .. } => name_simple(name) && is_simple(value),
        EditPlan::CondPropSet {
            name, cond, value, ..
        } => name_simple(name) && is_simple(value) && cond.as_ref().is_none_or(is_simple),
        EditPlan::PropDel { name, .. } => name_simple(name),
        EditPlan::TagAdd { tag, value, .. } => {
            tag_simple(tag) && value.as_ref().is_none_or(|(_, v)| is_simple(v))
        }
        EditPlan::TagDel(tag) => tag_simple(tag),
        EditPlan::TagPropSet {
            tag, prop, value, ..
        } => tag_simple(tag) && name_simple(prop) && is_simple(value),
        EditPlan::TagPropDel { tag, prop } => tag_simple(tag) && name_simple(prop),
    }
}

/// Whether a node add can run without an inbound node.
fn add_runtsafe(edit: &EditPlan) -> bool {
    match edit {
        EditPlan::NodeAdd { form, value, .. } => form.runtsafe() && value.runtsafe,
        EditPlan::Parens { add, .. } => add_runtsafe(add),
        _ => false,
    }
}

/// One edit operator.
pub(crate) fn edit_op(
    runt: Arc<Runt>,
    pipe: Pipeline,
    idx: usize,
    input: ItemStream,
) -> ItemStream {
    async_stream::try_stream! {
        let op = &pipe.ops[idx];
        let OpKind::Edit(edit) = &op.kind else { return; };
        runt.req_writable(op.span)?;
        let simple = edit_simple(edit);
        let runtsafe = add_runtsafe(edit);
        let mut input = input;
        match edit {
            EditPlan::NodeAdd { .. } => {
                if runtsafe {
                    while let Some(item) = input.next().await {
                        yield item?;
                    }
                    if !simple {
                        boxed_flush(&runt).await?;
                    }
                    let made = boxed_add(&runt, edit, None, op.span, Some((&pipe, idx))).await?;
                    for item in made {
                        yield item;
                    }
                } else {
                    while let Some(item) = input.next().await {
                        let item = item?;
                        if !simple {
                            boxed_flush(&runt).await?;
                        }
                        let made = boxed_add(&runt, edit, Some(&item), op.span, Some((&pipe, idx))).await?;
                        for made in made {
                            yield made;
                        }
                        yield item;
                    }
                }
            }
            EditPlan::Parens { add, edits } => {
                if runtsafe {
                    while let Some(item) = input.next().await {
                        yield item?;
                    }
                    boxed_flush(&runt).await?;
                    let made = boxed_add(&runt, add, None, op.span, None).await?;
                    for item in made {
                        yield boxed_parens(&runt, edits, item, op.span).await?;
                    }
                } else {
                    while let Some(item) = input.next().await {
                        let item = item?;
                        boxed_flush(&runt).await?;
                        let made = boxed_add(&runt, add, Some(&item), op.span, None).await?;
                        let mut out = Vec::new();
                        for m in made {
                            out.push(boxed_parens(&runt, edits, m, op.span).await?);
                        }
                        yield item;
                        for m in out {
                            yield m;
                        }
                    }
                }
            }
            _ => {
                while let Some(item) = input.next().await {
                    let mut item = item?;
                    if !simple {
                        // what is pending (this node's own add, with `.created`) is applied
                        // and patched into the node before the edit runs its subqueries
                        item = Box::pin(flush_item(&runt, item)).await?;
                    }
                    yield boxed_edit(&runt, edit, item, op.span).await?;
                }
            }
        }
    }
    .boxed()
}

// The edit operator's stream awaits these through boxes: inline, each call site's future
// is a slot of the operator's poll frame, and unoptimized builds do not share the slots (a
// few nested edit blocks then overflowed a worker's stack).

fn boxed_flush(runt: &Arc<Runt>) -> BoxFuture<'_, RResult<()>> {
    Box::pin(flush(runt))
}

fn boxed_add<'a>(
    runt: &'a Arc<Runt>,
    edit: &'a EditPlan,
    item: Option<&'a Item>,
    span: Span,
    block: Option<(&'a Pipeline, usize)>,
) -> BoxFuture<'a, RResult<Vec<Item>>> {
    Box::pin(guarded(runt, node_add(runt, edit, item, span, block)))
}

fn boxed_edit<'a>(
    runt: &'a Arc<Runt>,
    edit: &'a EditPlan,
    item: Item,
    span: Span,
) -> BoxFuture<'a, RResult<Item>> {
    Box::pin(guarded(runt, apply_edit(runt, edit, item, span)))
}

fn boxed_parens<'a>(
    runt: &'a Arc<Runt>,
    edits: &'a [EditPlan],
    item: Item,
    span: Span,
) -> BoxFuture<'a, RResult<Item>> {
    Box::pin(parens_edits(runt, edits, item, span))
}

/// On an error, apply what was staged before (the reference applies each edit as it goes).
async fn guarded<T>(
    runt: &Arc<Runt>,
    fut: impl std::future::Future<Output = RResult<T>>,
) -> RResult<T> {
    match fut.await {
        Ok(v) => Ok(v),
        Err(e) => {
            let _ = flush(runt).await;
            Err(e)
        }
    }
}

async fn parens_edits(
    runt: &Arc<Runt>,
    edits: &[EditPlan],
    item: Item,
    span: Span,
) -> RResult<Item> {
    let mut item = item;
    for edit in edits {
        if !edit_simple(edit) {
            item = flush_item(runt, item).await?;
        }
        item = guarded(runt, apply_edit(runt, edit, item, span)).await?;
    }
    flush_item(runt, item).await
}

/// The values a primary value expands to (`inet:ipv4` CIDR blocks and ranges).
fn type_vals(runt: &Runt, form: &str, valu: Value) -> RResult<Vec<Value>> {
    if form == "inet:ipv4"
        && let Some(text) = valu.as_str()
    {
        let ty = runt
            .model()
            .ty("inet:ipv4")
            .ok_or_else(|| rterr("no inet:ipv4 type"))?;
        let as_int = |v: &str| -> RResult<i64> {
            let (n, _) = ty.norm(&Value::from(v))?;
            Ok(n.as_i64().unwrap_or_default())
        };
        if let Some((addr, bits)) = text.split_once('/') {
            let base = as_int(addr)?;
            let bits: u32 = bits.trim().parse().map_err(|_| {
                Flow::Err(
                    StormError::new("BadTypeValu", format!("Invalid CIDR Mask: {text}"))
                        .with("name", "inet:ipv4"),
                )
            })?;
            if bits > 32 {
                return Err(Flow::Err(
                    StormError::new("BadTypeValu", format!("Invalid CIDR Mask: {text}"))
                        .with("name", "inet:ipv4"),
                ));
            }
            let size: i64 = 1i64 << (32 - bits);
            let min = base & !(size - 1);
            return Ok((min..min + size).map(Value::from).collect());
        }
        if let Some((a, b)) = text.split_once('-') {
            let (min, max) = (as_int(a)?, as_int(b)?);
            return Ok((min..=max).map(Value::from).collect());
        }
    }
    if form == "inet:http:cookie"
        && let Some(text) = valu.as_str()
    {
        return Ok(text
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Value::from)
            .collect());
    }
    Ok(vec![valu])
}

/// What the edit operators after a node add (up to the end of the edit block) will set on
/// the new node, as far as it is known without the node: runtime-safe property values and
/// constant tags. The node add reads the state of every node these touch in one read.
async fn lookahead(
    runt: &Arc<Runt>,
    pipe: &Pipeline,
    idx: usize,
) -> (Vec<(String, Value)>, Vec<String>) {
    let mut props = Vec::new();
    let mut tags = Vec::new();
    for op in pipe.ops.iter().skip(idx + 1) {
        let OpKind::Edit(edit) = &op.kind else {
            break;
        };
        match edit {
            EditPlan::PropSet {
                name: NameExpr::Const(name),
                univ: false,
                oper: SetOper::Set | SetOper::TrySet,
                value,
            } if value.runtsafe && is_simple(value) => {
                if let Ok(valu) = eval(runt, value, None).await
                    && let Ok(valu) = tostor(&valu)
                {
                    props.push((name.clone(), valu));
                }
            }
            EditPlan::TagAdd {
                tag: TagExpr::Const(tag),
                ..
            } if !tag.contains('*') => tags.push(tag.clone()),
            _ => {}
        }
    }
    (props, tags)
}

/// A node add: the created (or existing) nodes. `block` is the pipeline and index of the
/// operator, to read ahead what the rest of the edit block touches.
async fn node_add(
    runt: &Arc<Runt>,
    edit: &EditPlan,
    item: Option<&Item>,
    span: Span,
    block: Option<(&Pipeline, usize)>,
) -> RResult<Vec<Item>> {
    let EditPlan::NodeAdd { form, oper, value } = edit else {
        return Ok(Vec::new());
    };
    let tryset = matches!(oper, SetOper::TrySet);
    if !matches!(oper, SetOper::Set | SetOper::TrySet) {
        return Err(runt.error(
            span,
            "StormRuntimeError",
            format!("Invalid operator {} for a node add.", oper.as_str()),
        ));
    }
    let formname = eval_name(runt, form, item).await?;
    runt.layer_confirm(&["node", "add", &formname])?;
    let Some(fobj) = runt.model().form(&formname) else {
        return Err(runt
            .error(span, "NoSuchForm", format!("No form named {formname}."))
            .pipe_name(&formname));
    };
    let valu = eval(runt, value, item).await?;
    let valu = match (&valu, fobj.ty().ctor()) {
        (Val::Node(node), _) => node.valu.clone(),
        _ => tostor(&valu)?,
    };
    let vals = match type_vals(runt, &formname, valu) {
        Ok(vals) => vals,
        Err(_) if tryset => return Ok(Vec::new()),
        Err(e) => return Err(runt.at(value.span, e)),
    };
    let ahead = match block {
        Some((pipe, idx)) => lookahead(runt, pipe, idx).await,
        None => (Vec::new(), Vec::new()),
    };
    let mut out = Vec::new();
    let mut editor = runt.shared.editor.lock().await;
    if vals.len() == 1 && !(ahead.0.is_empty() && ahead.1.is_empty()) {
        let mut wanted = Vec::new();
        editor.add_node_buids(&formname, &vals[0], &ahead.0, &mut wanted);
        for tag in &ahead.1 {
            editor.tag_buids(tag, &mut wanted);
        }
        editor.prefetch(&wanted).await.map_err(Flow::from)?;
    }
    for valu in vals {
        let added = editor.add_node(&formname, &valu).await;
        let buid = match added {
            Ok(Some(buid)) => buid,
            Ok(None) => continue,
            Err(crate::view::Error::Model(e)) if tryset && e.class() == "BadTypeValu" => continue,
            Err(e) => return Err(runt.at(value.span, Flow::from(e))),
        };
        let node = editor.node(&buid).await.map_err(Flow::from)?;
        if let Some(node) = node {
            let path = runt.init_path(&node);
            out.push(Item {
                node: Arc::new(node),
                path,
            });
        }
    }
    Ok(out)
}

trait NameErr {
    fn pipe_name(self, name: &str) -> Flow;
}

impl NameErr for Flow {
    fn pipe_name(self, name: &str) -> Flow {
        match self {
            Flow::Err(e) => Flow::Err(e.with("name", name)),
            other => other,
        }
    }
}

fn is_ignored(flow: &Flow, tryset: bool) -> bool {
    tryset && matches!(flow, Flow::Err(e) if e.name == "BadTypeValu")
}

/// The editor's current state of a node.
async fn current(runt: &Arc<Runt>, node: &Node) -> RResult<Node> {
    let mut editor = runt.shared.editor.lock().await;
    Ok(editor
        .node(&node.buid)
        .await
        .map_err(Flow::from)?
        .unwrap_or_else(|| node.clone()))
}

async fn refreshed(runt: &Arc<Runt>, mut item: Item) -> RResult<Item> {
    let node = current(runt, &item.node).await?;
    item.node = Arc::new(node);
    Ok(item)
}

fn confirm_prop(runt: &Runt, form: &str, prop: &str, set: bool) -> RResult<()> {
    let act = if set { "set" } else { "del" };
    if runt.allowed(
        &["node", "prop", act, form, prop],
        Some(&runt.view.write_layer().iden()),
    ) {
        return Ok(());
    }
    let full = if prop.starts_with('.') {
        format!("{form}{prop}")
    } else {
        format!("{form}:{prop}")
    };
    if runt.allowed(
        &["node", "prop", act, &full],
        Some(&runt.view.write_layer().iden()),
    ) {
        return Ok(());
    }
    runt.layer_confirm(&["node", "prop", act, form, prop])
}

/// Apply a per-node edit.
async fn apply_edit(runt: &Arc<Runt>, edit: &EditPlan, item: Item, span: Span) -> RResult<Item> {
    // A node deleted since it entered the pipeline (by a subquery, ...) is still edited.
    runt.shared.editor.lock().await.adopt(&item.node);
    let model = Arc::clone(runt.view.model());
    let form = model.form(&item.node.form);
    let isrunt = form.is_some_and(|f| f.is_runt());
    match edit {
        EditPlan::PropSet {
            name,
            univ,
            oper,
            value,
        } => {
            let mut name = eval_name(runt, name, Some(&item)).await?;
            if *univ && !name.starts_with('.') {
                name = format!(".{name}");
            }
            let Some(prop) = form.and_then(|f| f.prop(&name)) else {
                return Err(runt.at(
                    span,
                    Flow::Err(
                        StormError::new("NoSuchProp", format!("No property named {name}."))
                            .with("name", name.as_str())
                            .with("form", item.node.form.as_str()),
                    ),
                ));
            };
            if !isrunt {
                confirm_prop(runt, &item.node.form, &name, true)?;
            }
            let tryset = matches!(
                oper,
                SetOper::TrySet
                    | SetOper::TryAdd
                    | SetOper::TryRemove
                    | SetOper::TryAddMany
                    | SetOper::TryRemoveMany
            );
            let isarray = prop.ty().is_array();
            let res: RResult<()> = async {
                let valu = eval(runt, value, Some(&item)).await?;
                let isndef = prop.ty().ctor() == "ndef";
                let valu = match (&valu, isndef) {
                    (Val::Node(n), true) => n.ndef(),
                    _ => tostor(&valu)?,
                };
                let cur = current(runt, &item.node).await?;
                let newv = match oper {
                    SetOper::Set | SetOper::TrySet => {
                        if prop.ty().ctor() == "ival"
                            && let Some(old) = cur.get(&name)
                        {
                            let (norm, _) = prop.ty().norm(&valu)?;
                            prop.ty().merge(old, &norm)
                        } else {
                            valu
                        }
                    }
                    SetOper::Add | SetOper::TryAdd | SetOper::Remove | SetOper::TryRemove => {
                        if !isarray {
                            return Err(runt.error(
                                span,
                                "StormRuntimeError",
                                format!(
                                    "Property set using ({}) is only valid on arrays.",
                                    oper.as_str()
                                ),
                            ));
                        }
                        let mut arry = cur
                            .get(&name)
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        if matches!(oper, SetOper::Add | SetOper::TryAdd) {
                            arry.push(valu);
                        } else if let Some(elem) = prop.ty().array_elem() {
                            let (norm, _) = elem.norm(&valu)?;
                            if let Some(pos) = arry.iter().position(|v| *v == norm) {
                                arry.remove(pos);
                            }
                        }
                        Value::Array(arry)
                    }
                    SetOper::AddMany
                    | SetOper::TryAddMany
                    | SetOper::RemoveMany
                    | SetOper::TryRemoveMany => {
                        if !isarray {
                            return Err(runt.error(
                                span,
                                "StormRuntimeError",
                                format!(
                                    "Property set using ({}) is only valid on arrays.",
                                    oper.as_str()
                                ),
                            ));
                        }
                        if valu.is_nil() {
                            return Ok(());
                        }
                        let Value::Array(items) = valu else {
                            return Err(runt.error(
                                span,
                                "StormRuntimeError",
                                format!(
                                    "'{}' object is not iterable: {}",
                                    "str",
                                    crate::model::value::py_repr(&valu)
                                ),
                            ));
                        };
                        let add = matches!(oper, SetOper::AddMany | SetOper::TryAddMany);
                        let mut arry = cur
                            .get(&name)
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        let elem = prop
                            .ty()
                            .array_elem()
                            .ok_or_else(|| rterr("not an array"))?;
                        for i in items {
                            let norm = match elem.norm(&i) {
                                Ok((n, _)) => n,
                                Err(_) if tryset => continue,
                                Err(e) => return Err(e.into()),
                            };
                            if add {
                                arry.push(norm);
                            } else if let Some(pos) = arry.iter().position(|v| *v == norm) {
                                arry.remove(pos);
                            }
                        }
                        Value::Array(arry)
                    }
                };
                let mut editor = runt.shared.editor.lock().await;
                editor
                    .set_prop(&item.node.buid, &name, &newv)
                    .await
                    .map_err(Flow::from)?;
                Ok(())
            }
            .await;
            match res {
                Ok(()) => {}
                Err(e) if is_ignored(&e, tryset) => {}
                Err(e) => return Err(runt.at(value.span, e)),
            }
            refreshed(runt, item).await
        }
        EditPlan::CondPropSet {
            name,
            cond,
            try_set,
            value,
        } => {
            let name = eval_name(runt, name, Some(&item)).await?;
            let Some(prop) = form.and_then(|f| f.prop(&name)) else {
                return Err(runt.at(
                    span,
                    Flow::Err(
                        StormError::new("NoSuchProp", format!("No property named {name}."))
                            .with("name", name.as_str()),
                    ),
                ));
            };
            let how = match cond {
                None => "unset".to_owned(),
                Some(expr) => {
                    let v = eval(runt, expr, Some(&item)).await?.to_str()?;
                    if !["always", "unset", "never"].contains(&v.as_str()) {
                        return Err(runt.error(
                            expr.span,
                            "StormRuntimeError",
                            format!("Invalid conditional set operator ({v})."),
                        ));
                    }
                    v
                }
            };
            let cur = current(runt, &item.node).await?;
            let oldv = cur.get(&name).cloned();
            if how == "never" || (how == "unset" && oldv.is_some()) {
                return Ok(item);
            }
            if !isrunt {
                confirm_prop(runt, &item.node.form, &name, true)?;
            }
            let res: RResult<()> = async {
                let valu = eval(runt, value, Some(&item)).await?;
                let mut valu = match (&valu, prop.ty().ctor() == "ndef") {
                    (Val::Node(n), true) => n.ndef(),
                    _ => tostor(&valu)?,
                };
                if prop.ty().ctor() == "ival"
                    && let Some(old) = &oldv
                {
                    let (norm, _) = prop.ty().norm(&valu)?;
                    valu = prop.ty().merge(old, &norm);
                }
                let mut editor = runt.shared.editor.lock().await;
                editor
                    .set_prop(&item.node.buid, &name, &valu)
                    .await
                    .map_err(Flow::from)?;
                Ok(())
            }
            .await;
            match res {
                Ok(()) => {}
                Err(e) if is_ignored(&e, *try_set) => {}
                Err(e) => return Err(runt.at(value.span, e)),
            }
            refreshed(runt, item).await
        }
        EditPlan::PropDel { name, univ } => {
            let mut name = eval_name(runt, name, Some(&item)).await?;
            if *univ && !name.starts_with('.') {
                name = format!(".{name}");
            }
            if *univ {
                if model.univ(&name).is_none() {
                    return Err(runt.at(
                        span,
                        Flow::Err(
                            StormError::new("NoSuchProp", format!("No property named {name}."))
                                .with("name", name.as_str()),
                        ),
                    ));
                }
                runt.layer_confirm(&["node", "prop", "del", &name])?;
            } else {
                if form.and_then(|f| f.prop(&name)).is_none() {
                    return Err(runt.at(
                        span,
                        Flow::Err(
                            StormError::new("NoSuchProp", format!("No property named {name}."))
                                .with("name", name.as_str())
                                .with("form", item.node.form.as_str()),
                        ),
                    ));
                }
                confirm_prop(runt, &item.node.form, &name, false)?;
            }
            {
                let mut editor = runt.shared.editor.lock().await;
                editor
                    .del_prop(&item.node.buid, &name)
                    .await
                    .map_err(|e| runt.at(span, Flow::from(e)))?;
            }
            refreshed(runt, item).await
        }
        EditPlan::TagAdd {
            try_add,
            tag,
            value,
        } => {
            let names = match tag_array(runt, tag, &item, *try_add).await {
                Ok(names) => names,
                Err(e) if is_ignored(&e, *try_add) => return Ok(item),
                Err(e) => return Err(e),
            };
            if isrunt {
                return Err(Flow::Err(
                    StormError::new("IsRuntForm", "Cannot add tags to runt nodes.")
                        .with("form", item.node.form.as_str()),
                ));
            }
            let mut valu = Value::Array(vec![Value::Nil, Value::Nil]);
            if let Some((oper, expr)) = value {
                let v = eval(runt, expr, Some(&item)).await?;
                valu = tostor(&v)?;
                if matches!(oper, SetOper::TrySet) {
                    valu = match model.ty("ival").map(|t| t.norm(&valu)) {
                        Some(Ok((norm, _))) => norm,
                        _ => Value::Array(vec![Value::Nil, Value::Nil]),
                    };
                }
            }
            for name in &names {
                let parts: Vec<&str> = std::iter::once("node")
                    .chain(["tag", "add"])
                    .chain(name.split('.'))
                    .collect();
                runt.layer_confirm(&parts)?;
            }
            {
                let mut editor = runt.shared.editor.lock().await;
                for name in &names {
                    match editor.add_tag(&item.node.buid, name, Some(&valu)).await {
                        Ok(_) => {}
                        Err(crate::view::Error::Model(e))
                            if *try_add && e.class() == "BadTypeValu" => {}
                        Err(e) => {
                            let span = value.as_ref().map(|(_, e)| e.span).unwrap_or(span);
                            return Err(runt.at(span, Flow::from(e)));
                        }
                    }
                }
            }
            refreshed(runt, item).await
        }
        EditPlan::TagDel(tag) => {
            let names = match tag_array(runt, tag, &item, true).await {
                Ok(names) => names,
                Err(e) if is_ignored(&e, true) => Vec::new(),
                Err(e) => return Err(e),
            };
            for name in &names {
                let parts: Vec<&str> = std::iter::once("node")
                    .chain(["tag", "del"])
                    .chain(name.split('.'))
                    .collect();
                runt.layer_confirm(&parts)?;
            }
            {
                let mut editor = runt.shared.editor.lock().await;
                for name in &names {
                    editor
                        .del_tag(&item.node.buid, name)
                        .await
                        .map_err(Flow::from)?;
                }
            }
            refreshed(runt, item).await
        }
        EditPlan::TagPropSet {
            tag,
            prop,
            oper,
            value,
        } => {
            let tag = eval_tag(runt, tag, Some(&item), true).await?;
            let prop = eval_name(runt, prop, Some(&item)).await?;
            let valu = tostor(&eval(runt, value, Some(&item)).await?)?;
            let parts: Vec<&str> = std::iter::once("node")
                .chain(["tag", "add"])
                .chain(tag.split('.'))
                .collect();
            runt.layer_confirm(&parts)?;
            let res = {
                let mut editor = runt.shared.editor.lock().await;
                editor
                    .set_tagprop(&item.node.buid, &tag, &prop, &valu)
                    .await
            };
            match res {
                Ok(_) => {}
                Err(crate::view::Error::Model(e))
                    if matches!(oper, SetOper::TrySet) && e.class() == "BadTypeValu" => {}
                Err(crate::view::Error::NoSuchTagProp(name)) => {
                    return Err(runt.at(
                        span,
                        Flow::Err(
                            StormError::new(
                                "NoSuchTagProp",
                                format!("No such tag property: {name}"),
                            )
                            .with("name", name.as_str()),
                        ),
                    ));
                }
                Err(e) => return Err(runt.at(value.span, Flow::from(e))),
            }
            refreshed(runt, item).await
        }
        EditPlan::TagPropDel { tag, prop } => {
            let tag = eval_tag(runt, tag, Some(&item), true).await?;
            let prop = eval_name(runt, prop, Some(&item)).await?;
            let parts: Vec<&str> = std::iter::once("node")
                .chain(["tag", "del"])
                .chain(tag.split('.'))
                .collect();
            runt.layer_confirm(&parts)?;
            {
                let mut editor = runt.shared.editor.lock().await;
                editor
                    .del_tagprop(&item.node.buid, &tag, &prop)
                    .await
                    .map_err(|e| runt.at(span, Flow::from(e)))?;
            }
            refreshed(runt, item).await
        }
        EditPlan::Edge {
            add,
            reverse,
            verb,
            target,
        } => {
            let verb = eval(runt, verb, Some(&item)).await?.to_str()?;
            let act = if *add { "add" } else { "del" };
            runt.layer_confirm(&["node", "edge", act, &verb])?;
            if isrunt {
                return Err(runt.error(
                    span,
                    "IsRuntForm",
                    format!("Edges cannot be used with runt nodes: {}", item.node.form),
                ));
            }
            let others: Vec<Arc<Node>> = match target {
                EdgeTarget::Query(body) => {
                    let subr = super::exec::sub_runtime(
                        runt,
                        runt.runtvars.clone(),
                        Vec::new(),
                        false,
                        None,
                    )?;
                    let mut sub = super::exec::run_pipeline(&subr, body, empty());
                    let mut out = Vec::new();
                    while let Some(i) = sub.next().await {
                        out.push(i?.node);
                    }
                    out
                }
                EdgeTarget::Value(expr) => {
                    let v = eval(runt, expr, Some(&item)).await?;
                    let mut nodes = super::lib::nodes_from_value(runt, v, expr.span);
                    let mut out = Vec::new();
                    while let Some(n) = nodes.next().await {
                        out.push(n?);
                    }
                    out
                }
            };
            {
                let mut editor = runt.shared.editor.lock().await;
                for other in others {
                    if model.form(&other.form).is_some_and(|f| f.is_runt()) {
                        return Err(runt.error(
                            span,
                            "IsRuntForm",
                            format!("Edges cannot be used with runt nodes: {}", other.form),
                        ));
                    }
                    let (n1, n2) = if *reverse {
                        (other.buid, item.node.buid)
                    } else {
                        (item.node.buid, other.buid)
                    };
                    let res = if *add {
                        editor.add_edge(&n1, &verb, &n2).await
                    } else {
                        editor.del_edge(&n1, &verb, &n2).await
                    };
                    res.map_err(|e| runt.at(span, Flow::from(e)))?;
                }
            }
            // edges to other nodes are applied now (they are visible to the next operators)
            flush_item(runt, item).await
        }
        EditPlan::NodeAdd { .. } | EditPlan::Parens { .. } => Ok(item),
    }
}

/// Tag names of a tag edit (a value may give a list of tags).
async fn tag_array(
    runt: &Arc<Runt>,
    tag: &TagExpr,
    item: &Item,
    ignore: bool,
) -> RResult<Vec<String>> {
    match tag {
        TagExpr::Dynamic(expr) => {
            let v = eval(runt, expr, Some(item)).await?;
            let vals = v.seq_items().unwrap_or_else(|| vec![v.clone()]);
            let mut out = Vec::new();
            for valu in vals {
                let res = match &valu {
                    Val::Str(s) => tag_norm(runt, s),
                    _ => Err(Flow::Err(StormError::new(
                        "BadTypeValu",
                        "Invalid value type for tag name, tag names must be strings.",
                    ))),
                };
                match res {
                    Ok(n) => out.push(n),
                    Err(e) if ignore && is_ignored(&e, true) => {}
                    Err(e) => return Err(runt.at(expr.span, e)),
                }
            }
            Ok(out)
        }
        other => Ok(vec![eval_tag(runt, other, Some(item), true).await?]),
    }
}

#[allow(dead_code)]
fn _unused(_: &dyn Fn() -> ItemStream) {
    let _ = once;
}
