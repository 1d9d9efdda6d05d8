//! The operator pipeline: each planned operator becomes a stream transformer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use rmpv::Value;

use super::error::{Flow, RResult, StormError, rterr};
use super::eval::{eval, eval_iter};
use super::runt::{FuncVal, GenItem, GenVal, Item, Path, Runt, Shared};
use super::value::Val;
use super::{Parsed, StormOpts};
use crate::storm::plan::{self, LiftSource, NameExpr, Op, OpKind, Pipeline, PlanOpts, SetTarget};
use crate::view::View;

/// A stream of pipeline items.
pub(crate) type ItemStream = BoxStream<'static, RResult<Item>>;

pub(crate) fn empty() -> ItemStream {
    stream::empty().boxed()
}

pub(crate) fn once(item: Item) -> ItemStream {
    stream::once(async move { Ok(item) }).boxed()
}

/// Plan a query for a runtime with the given runtime-safe variables.
pub(crate) fn plan_query(
    runt_text: &str,
    query: &crate::storm::ast::Query,
    vars: Vec<String>,
    outer: Vec<String>,
) -> RResult<plan::Plan> {
    plan::plan(
        query,
        &PlanOpts {
            vars,
            outer_vars: outer,
        },
    )
    .map_err(|e| {
        Flow::Err(
            StormError::new(e.name, e.mesg.clone())
                .with("name", "")
                .highlight(runt_text, e.span),
        )
    })
    .map_err(|flow| match flow {
        Flow::Err(mut e) => {
            if e.name == "NoSuchVar" {
                let name = e.mesg.trim_start_matches("Missing variable: ").to_owned();
                e.set("name", Value::from(name.as_str()));
            } else {
                e.info.retain(|(k, _)| k != "name");
            }
            Flow::Err(e)
        }
        other => other,
    })
}

/// The top-level runtime of a query.
pub(crate) fn root_runtime(
    shared: &Arc<Shared>,
    text: &str,
    vars: Vec<(String, Val)>,
    parsed: &Parsed,
) -> RResult<Arc<Runt>> {
    let names: Vec<String> = vars.iter().map(|(k, _)| k.clone()).collect();
    let runtvars = match parsed {
        Parsed::Query(query) => plan_query(text, query, names.clone(), Vec::new())?.vars,
        Parsed::Lookup(look) => match &look.query {
            Some(query) => plan_query(text, query, names.clone(), Vec::new())?.vars,
            None => Vec::new(),
        },
    };
    let mut rv: HashMap<String, bool> = runtvars.into_iter().collect();
    for name in names {
        rv.insert(name, true);
    }
    Ok(Arc::new(Runt {
        shared: Arc::clone(shared),
        vars: Mutex::new(vars.into_iter().collect()),
        runtvars: rv,
        root: None,
        funcscope: false,
        asroot: shared.opts.sudo,
        text: Arc::from(text),
        depth: 0,
        view: shared.view.clone(),
        emitq: None,
    }))
}

/// Run a parsed query in its top-level runtime.
pub(crate) fn run_parsed(runt: &Arc<Runt>, parsed: &Parsed) -> RResult<ItemStream> {
    let input = initial_input(runt);
    match parsed {
        Parsed::Query(query) => {
            let names: Vec<String> = runt
                .shared
                .opts
                .vars
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            let plan = plan_query(&runt.text, query, names, Vec::new())?;
            Ok(run_pipeline(runt, &plan.root, input))
        }
        Parsed::Lookup(look) => {
            let stream = super::lib::lookup_stream(runt, look, input)?;
            match &look.query {
                Some(query) => {
                    let names: Vec<String> = runt
                        .shared
                        .opts
                        .vars
                        .iter()
                        .map(|(k, _)| k.clone())
                        .collect();
                    let plan = plan_query(&runt.text, query, names, Vec::new())?;
                    Ok(run_pipeline(runt, &plan.root, stream))
                }
                None => Ok(stream),
            }
        }
    }
}

/// Nodes given with the query (`opts.idens`, `opts.ndefs`).
fn initial_input(runt: &Arc<Runt>) -> ItemStream {
    let opts = &runt.shared.opts;
    if opts.idens.is_empty() && opts.ndefs.is_empty() {
        return empty();
    }
    let runt = Arc::clone(runt);
    async_stream::try_stream! {
        let ndefs = runt.shared.opts.ndefs.clone();
        for ndef in ndefs {
            let Some([form, valu]) = ndef.as_array().map(Vec::as_slice) else { continue };
            let Some(form) = form.as_str() else { continue };
            let Some(fobj) = runt.model().form(form) else { continue };
            let Ok((norm, _)) = fobj.ty().norm(valu) else { continue };
            if let Some(node) = runt.view.get_node_by_ndef(form, &norm).await.map_err(Flow::from)? {
                let path = runt.init_path(&node);
                yield Item { node: Arc::new(node), path };
            }
        }
        let idens = runt.shared.opts.idens.clone();
        for iden in idens {
            let buid = iden.as_str().and_then(|s| {
                let byts = hex::decode(s).ok()?;
                <[u8; 32]>::try_from(byts.as_slice()).ok()
            });
            let Some(buid) = buid else {
                Err(Flow::Err(StormError::new("NoSuchIden", "Iden must be 64 hex digits")
                    .with("iden", iden.clone())))?;
                continue;
            };
            if let Some(node) = runt.view.get_node(buid).await.map_err(Flow::from)? {
                let path = runt.init_path(&node);
                yield Item { node: Arc::new(node), path };
            }
        }
    }
    .boxed()
}

/// An operator's stream polled on a fresh stack segment when the current one runs low: each
/// operator polls the one before it, so long pipelines nest polls deeply.
struct GrowStack(ItemStream);

impl futures::Stream for GrowStack {
    type Item = RResult<Item>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let inner = &mut self.0;
        stacker::maybe_grow(128 * 1024, 1024 * 1024, || inner.poll_next_unpin(cx))
    }
}

/// Chain the operators of a pipeline over an input stream.
pub(crate) fn run_pipeline(runt: &Arc<Runt>, pipe: &Pipeline, input: ItemStream) -> ItemStream {
    let stream = chain_ops(runt, pipe, input);
    if pipe.ops.len() > 8 {
        GrowStack(stream).boxed()
    } else {
        stream
    }
}

fn chain_ops(runt: &Arc<Runt>, pipe: &Pipeline, input: ItemStream) -> ItemStream {
    let mut stream = input;
    let ops = &pipe.ops;
    let mut idx = 0;
    while idx < ops.len() {
        if matches!(ops[idx].kind, OpKind::Edit(_)) {
            let start = idx;
            while idx < ops.len() && matches!(ops[idx].kind, OpKind::Edit(_)) {
                stream = super::edit::edit_op(Arc::clone(runt), pipe.clone(), idx, stream);
                idx += 1;
            }
            let _ = start;
            stream = super::edit::flush_op(Arc::clone(runt), stream);
            continue;
        }
        stream = run_op(Arc::clone(runt), pipe.clone(), idx, stream);
        if idx % 8 == 7 {
            stream = GrowStack(stream).boxed();
        }
        idx += 1;
    }
    stream
}

/// Run a sub-pipeline inline over one item.
pub(crate) fn inline(runt: &Arc<Runt>, pipe: &Pipeline, input: ItemStream) -> ItemStream {
    run_pipeline(runt, pipe, input)
}

/// What one pass of a loop body produces next.
enum Pass {
    /// An item to pass on.
    Item(Item),
    /// The pass ended by `break` (`true`) or `continue` (`false`).
    End(bool),
}

/// One pass of a loop body: its items, then, on `break` or `continue`, the item the
/// statement carries (if any) and the end of the pass; other errors end it as they are.
fn loop_pass(mut body: ItemStream) -> impl futures::Stream<Item = RResult<Pass>> {
    async_stream::stream! {
        while let Some(step) = body.next().await {
            let (carried, brk) = match step {
                Ok(item) => {
                    yield Ok(Pass::Item(item));
                    continue;
                }
                Err(Flow::Break(carried)) => (carried, true),
                Err(Flow::Continue(carried)) => (carried, false),
                Err(err) => {
                    yield Err(err);
                    return;
                }
            };
            if let Some(item) = carried {
                yield Ok(Pass::Item(*item));
            }
            yield Ok(Pass::End(brk));
            return;
        }
    }
}

fn op_at(pipe: &Pipeline, idx: usize) -> &Op {
    &pipe.ops[idx]
}

fn run_op(runt: Arc<Runt>, pipe: Pipeline, idx: usize, input: ItemStream) -> ItemStream {
    let op = op_at(&pipe, idx);
    match &op.kind {
        OpKind::Lift(_) => super::lift::lift_op(runt, pipe, idx, input),
        OpKind::Filter { .. } => super::cond::filter_op(runt, pipe, idx, input),
        OpKind::Pivot(_) | OpKind::Walk(_) | OpKind::RawPivot(_) => {
            super::pivot::pivot_op(runt, pipe, idx, input)
        }
        OpKind::Edit(_) => super::edit::edit_op(runt, pipe, idx, input),
        OpKind::Cmd(_) => super::cmds::cmd_op(runt, pipe, idx, input),
        _ => ctrl_op(runt, pipe, idx, input),
    }
}

fn set_target(
    runt: &Runt,
    target: &SetTarget,
    valu: Val,
    path: Option<&mut Path>,
    span: crate::storm::ast::Span,
) -> RResult<()> {
    match target {
        SetTarget::One(name) => {
            if matches!(valu, Val::Undef) {
                runt.pop_var(name);
                if let Some(path) = path {
                    path.pop(name);
                }
            } else {
                runt.set_var(name, valu.clone());
                if let Some(path) = path {
                    path.set(name, valu);
                }
            }
            Ok(())
        }
        SetTarget::Many(names) => {
            let items = valu.seq_items().ok_or_else(|| {
                runt.at(
                    span,
                    rterr(format!("Value is not iterable: {}", valu.py_repr())),
                )
            })?;
            if items.len() < names.len() {
                return Err(runt.error(
                    span,
                    "StormVarListError",
                    format!(
                        "Attempting to assign more items than we have variables to assign to: {}",
                        valu.py_repr()
                    ),
                ));
            }
            let mut path = path;
            for (name, item) in names.iter().zip(items) {
                runt.set_var(name, item.clone());
                if let Some(path) = path.as_deref_mut() {
                    path.set(name, item);
                }
            }
            Ok(())
        }
    }
}

fn ctrl_op(runt: Arc<Runt>, pipe: Pipeline, idx: usize, input: ItemStream) -> ItemStream {
    async_stream::try_stream! {
        let op = op_at(&pipe, idx);
        let mut input = input;
        match &op.kind {
            OpKind::Set { target, value } => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let mut item = item?;
                    count += 1;
                    let valu = eval(&runt, value, Some(&item)).await?;
                    set_target(&runt, target, valu, Some(&mut item.path), value.span)?;
                    yield item;
                }
                if count == 0 && value.runtsafe {
                    let valu = eval(&runt, value, None).await?;
                    set_target(&runt, target, valu, None, value.span)?;
                }
            }
            OpKind::SetItem { target, key, value } => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let base = eval(&runt, target, Some(&item)).await?;
                    let name = eval(&runt, key, Some(&item)).await?;
                    let valu = eval(&runt, value, Some(&item)).await?;
                    super::lib::setitem(&runt, &base, name, valu).await.map_err(|e| runt.at(target.span, e))?;
                    yield item;
                }
                if count == 0 && op.runtsafe {
                    let base = eval(&runt, target, None).await?;
                    let name = eval(&runt, key, None).await?;
                    let valu = eval(&runt, value, None).await?;
                    super::lib::setitem(&runt, &base, name, valu).await.map_err(|e| runt.at(target.span, e))?;
                }
            }
            OpKind::Eval(value) => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    eval(&runt, value, Some(&item)).await?;
                    yield item;
                }
                if count == 0 && value.runtsafe {
                    let valu = eval(&runt, value, None).await?;
                    if let Val::Gen(g) = valu {
                        let mut guard = g.stream.lock().await;
                        if let Some(s) = guard.as_mut() {
                            while let Some(x) = s.next().await {
                                x?;
                            }
                        }
                    }
                }
            }
            OpKind::SubQuery { body, yields } => {
                while let Some(item) = input.next().await {
                    let mut item = item?;
                    let before = runt.shared.edit_gen();
                    let mut last: Option<Path> = None;
                    let mut sub = inline(&runt, body, once(item.clone()));
                    while let Some(subi) = sub.next().await {
                        let subi = subi?;
                        if *yields {
                            last = Some(subi.path.clone());
                            yield subi;
                        } else {
                            last = Some(subi.path);
                        }
                    }
                    if let Some(last) = last {
                        item.path.update(&last);
                    }
                    yield refresh(&runt, item, before).await?;
                }
            }
            OpKind::YieldValue(value) => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let valu = eval(&runt, value, Some(&item)).await?;
                    let mut nodes = super::lib::nodes_from_value(&runt, valu, value.span);
                    while let Some(node) = nodes.next().await {
                        let node = node?;
                        let path = runt.init_path(&node);
                        yield Item { node, path };
                    }
                    yield item;
                }
                if count == 0 && value.runtsafe {
                    let valu = eval(&runt, value, None).await?;
                    let mut nodes = super::lib::nodes_from_value(&runt, valu, value.span);
                    while let Some(node) = nodes.next().await {
                        let node = node?;
                        let path = runt.init_path(&node);
                        yield Item { node, path };
                    }
                }
            }
            OpKind::For { vars, iter, body } => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let valu = eval(&runt, iter, Some(&item)).await?;
                    let mut items = eval_iter(&runt, valu, iter.span).await?;
                    while let Some(x) = items.next().await {
                        let x = x?;
                        let mut path = item.path.clone();
                        assign_loop_vars(&runt, vars, x, Some(&mut path), iter.span)?;
                        let mut pass = std::pin::pin!(loop_pass(inline(&runt, body, once(Item { node: item.node.clone(), path }))));
                        let mut brk = false;
                        while let Some(step) = pass.next().await {
                            match step? {
                                Pass::Item(i) => yield i,
                                Pass::End(b) => brk = b,
                            }
                        }
                        if brk {
                            break;
                        }
                    }
                }
                if count == 0 && iter.runtsafe {
                    let valu = eval(&runt, iter, None).await?;
                    let mut items = eval_iter(&runt, valu, iter.span).await?;
                    while let Some(x) = items.next().await {
                        let x = x?;
                        assign_loop_vars(&runt, vars, x, None, iter.span)?;
                        let mut pass = std::pin::pin!(loop_pass(inline(&runt, body, empty())));
                        let mut brk = false;
                        while let Some(step) = pass.next().await {
                            match step? {
                                Pass::Item(i) => yield i,
                                Pass::End(b) => brk = b,
                            }
                        }
                        if brk {
                            break;
                        }
                    }
                }
            }
            OpKind::While { cond, body } => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    while eval(&runt, cond, Some(&item)).await?.truthy() {
                        let mut pass = std::pin::pin!(loop_pass(inline(&runt, body, once(item.clone()))));
                        let mut brk = false;
                        while let Some(step) = pass.next().await {
                            match step? {
                                Pass::Item(i) => yield i,
                                Pass::End(b) => brk = b,
                            }
                        }
                        if brk {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                }
                if count == 0 && cond.runtsafe {
                    while eval(&runt, cond, None).await?.truthy() {
                        let mut pass = std::pin::pin!(loop_pass(inline(&runt, body, empty())));
                        let mut brk = false;
                        while let Some(step) = pass.next().await {
                            match step? {
                                Pass::Item(i) => yield i,
                                Pass::End(b) => brk = b,
                            }
                        }
                        if brk {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                }
            }
            OpKind::If { arms, otherwise } => {
                let mut count = 0;
                let allsafe = arms.iter().all(|arm| arm.cond.runtsafe);
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let mut chosen = None;
                    for arm in arms.iter() {
                        if eval(&runt, &arm.cond, Some(&item)).await?.truthy() {
                            chosen = Some(&arm.body);
                            break;
                        }
                    }
                    let chosen = chosen.or(otherwise.as_ref());
                    match chosen {
                        Some(body) => {
                            let mut sub = inline(&runt, body, once(item));
                            while let Some(i) = sub.next().await {
                                yield i?;
                            }
                        }
                        None => yield item,
                    }
                }
                if count == 0 && allsafe {
                    let mut chosen = None;
                    for arm in arms.iter() {
                        if eval(&runt, &arm.cond, None).await?.truthy() {
                            chosen = Some(&arm.body);
                            break;
                        }
                    }
                    if let Some(body) = chosen.or(otherwise.as_ref()) {
                        let mut sub = inline(&runt, body, empty());
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
                }
            }
            OpKind::Switch { value, arms, default } => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let valu = eval(&runt, value, Some(&item)).await?.to_str()?;
                    let body = arms.iter().find(|arm| arm.values.contains(&valu)).map(|arm| &arm.body).or(default.as_ref());
                    match body {
                        Some(body) => {
                            let mut sub = inline(&runt, body, once(item));
                            while let Some(i) = sub.next().await {
                                yield i?;
                            }
                        }
                        None => yield item,
                    }
                }
                if count == 0 && value.runtsafe {
                    let valu = eval(&runt, value, None).await?.to_str()?;
                    let body = arms.iter().find(|arm| arm.values.contains(&valu)).map(|arm| &arm.body).or(default.as_ref());
                    if let Some(body) = body {
                        let mut sub = inline(&runt, body, empty());
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
                }
            }
            OpKind::Try { body, catches } => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let mut sub = inline(&runt, body, once(item.clone()));
                    let mut caught = None;
                    loop {
                        match sub.next().await {
                            None => break,
                            Some(Ok(i)) => yield i,
                            Some(Err(Flow::Err(e))) => { caught = Some(e); break; }
                            Some(Err(other)) => Err(other)?,
                        }
                    }
                    if let Some(e) = caught {
                        let arm = find_catch(&runt, catches, &e, Some(&item)).await?;
                        let Some(arm) = arm else { Err(Flow::Err(e))?; continue; };
                        let mut item = item;
                        let errv = error_val(&e);
                        item.path.set(&arm.var, errv.clone());
                        runt.set_var(&arm.var, errv);
                        let mut sub = inline(&runt, &arm.body, once(item));
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
                }
                if count == 0 {
                    let mut sub = inline(&runt, body, empty());
                    let mut caught = None;
                    loop {
                        match sub.next().await {
                            None => break,
                            Some(Ok(i)) => yield i,
                            Some(Err(Flow::Err(e))) => { caught = Some(e); break; }
                            Some(Err(other)) => Err(other)?,
                        }
                    }
                    if let Some(e) = caught {
                        let arm = find_catch(&runt, catches, &e, None).await?;
                        let Some(arm) = arm else { Err(Flow::Err(e))?; return; };
                        runt.set_var(&arm.var, error_val(&e));
                        let mut sub = inline(&runt, &arm.body, empty());
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
                }
            }
            OpKind::Break => {
                if let Some(item) = input.next().await {
                    Err(Flow::Break(Some(Box::new(item?))))?;
                }
                Err(Flow::Break(None))?;
            }
            OpKind::Continue => {
                if let Some(item) = input.next().await {
                    Err(Flow::Continue(Some(Box::new(item?))))?;
                }
                Err(Flow::Continue(None))?;
            }
            OpKind::Stop => {
                if let Some(item) = input.next().await {
                    item?;
                }
                Err(Flow::Stop)?;
            }
            OpKind::Return(value) => {
                if let Some(item) = input.next().await {
                    let item = item?;
                    let valu = match value {
                        Some(v) => eval(&runt, v, Some(&item)).await?,
                        None => Val::Null,
                    };
                    Err(Flow::Return(valu))?;
                }
                if op.runtsafe || value.as_ref().is_none_or(|v| v.runtsafe) {
                    let valu = match value {
                        Some(v) => eval(&runt, v, None).await?,
                        None => Val::Null,
                    };
                    Err(Flow::Return(valu))?;
                }
            }
            OpKind::Emit(value) => {
                let mut count = 0;
                while let Some(item) = input.next().await {
                    let item = item?;
                    count += 1;
                    let valu = eval(&runt, value, Some(&item)).await?;
                    emit(&runt, valu).await.map_err(|e| runt.at(op.span, e))?;
                    yield item;
                }
                if count == 0 && value.runtsafe {
                    let valu = eval(&runt, value, None).await?;
                    emit(&runt, valu).await.map_err(|e| runt.at(op.span, e))?;
                }
            }
            OpKind::Function(func) => {
                let mut defaults = Vec::new();
                for (name, default) in &func.params {
                    let valu = match default {
                        Some(expr) => {
                            if !expr.runtsafe {
                                Err(runt.error(expr.span, "StormRuntimeError", "Non-runtsafe default parameter value not allowed"))?;
                            }
                            let v = eval(&runt, expr, None).await?;
                            if v.is_mutable() {
                                Err(runt.error(expr.span, "StormRuntimeError", "Mutable default parameter value not allowed"))?;
                            }
                            Some(v)
                        }
                        None => None,
                    };
                    defaults.push((name.clone(), valu));
                }
                let fval = Val::Func(Arc::new(FuncVal {
                    plan: Arc::clone(func),
                    runt: Arc::clone(&runt),
                    defaults,
                    body: OnceLock::new(),
                }));
                runt.set_var(&func.name, fval);
                while let Some(item) = input.next().await {
                    yield item?;
                }
            }
            OpKind::Init(body) => {
                let mut once_done = false;
                while let Some(item) = input.next().await {
                    let item = item?;
                    if !once_done {
                        once_done = true;
                        let mut sub = inline(&runt, body, empty());
                        while let Some(i) = sub.next().await {
                            yield i?;
                        }
                    }
                    yield item;
                }
                if !once_done {
                    let mut sub = inline(&runt, body, empty());
                    while let Some(i) = sub.next().await {
                        yield i?;
                    }
                }
            }
            OpKind::Fini(body) => {
                while let Some(item) = input.next().await {
                    yield item?;
                }
                let mut sub = inline(&runt, body, empty());
                while let Some(i) = sub.next().await {
                    yield i?;
                }
            }
            OpKind::Empty(body) => {
                let mut any = false;
                while let Some(item) = input.next().await {
                    any = true;
                    yield item?;
                }
                if !any {
                    let mut sub = inline(&runt, body, empty());
                    while let Some(i) = sub.next().await {
                        yield i?;
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

/// Re-read an item's node when edits were applied since `before` (nodes are live objects in
/// the reference: a subquery's edits show on the node that goes on).
pub(crate) async fn refresh(runt: &Arc<Runt>, mut item: Item, before: u64) -> RResult<Item> {
    if runt.shared.edit_gen() == before {
        return Ok(item);
    }
    match runt
        .view
        .get_node(item.node.buid)
        .await
        .map_err(Flow::from)?
    {
        Some(node) => item.node = Arc::new(node),
        None => {
            // Deleted meanwhile: as the reference's node object, which the deletion stripped
            // of its props and tags (later edits still apply to it).
            let mut node = (*item.node).clone();
            node.props.clear();
            node.tags.clear();
            node.tagprops.clear();
            item.node = Arc::new(node);
        }
    }
    Ok(item)
}

fn assign_loop_vars(
    runt: &Runt,
    vars: &[String],
    item: Val,
    mut path: Option<&mut Path>,
    span: crate::storm::ast::Span,
) -> RResult<()> {
    if vars.len() == 1 {
        runt.set_var(&vars[0], item.clone());
        if let Some(path) = path {
            path.set(&vars[0], item);
        }
        return Ok(());
    }
    let items = match item.seq_items() {
        Some(items) => items,
        None => {
            return Err(runt.error(
                span,
                "StormVarListError",
                format!(
                    "Number of items to unpack does not match the number of variables: {}",
                    item.py_repr()
                ),
            ));
        }
    };
    if items.len() != vars.len() {
        return Err(runt.error(
            span,
            "StormVarListError",
            format!(
                "Number of items to unpack does not match the number of variables: {}",
                item.py_repr()
            ),
        ));
    }
    for (name, valu) in vars.iter().zip(items) {
        runt.set_var(name, valu.clone());
        if let Some(path) = path.as_deref_mut() {
            path.set(name, valu);
        }
    }
    Ok(())
}

async fn find_catch<'p>(
    runt: &Arc<Runt>,
    catches: &'p [plan::CatchArm],
    err: &StormError,
    path: Option<&Item>,
) -> RResult<Option<&'p plan::CatchArm>> {
    for arm in catches {
        let valu = eval(runt, &arm.errors, path).await?;
        match &valu {
            Val::Str(name) => {
                if &**name == "*" || **name == *errname(err) {
                    return Ok(Some(arm));
                }
            }
            other => match other.seq_items() {
                Some(items) => {
                    if items.iter().any(|i| i.as_str() == Some(errname(err))) {
                        return Ok(Some(arm));
                    }
                }
                None => {
                    let etyp = other.pytype();
                    return Err(runt.error(
                        arm.errors.span,
                        "StormRuntimeError",
                        format!("catch block must be a str or list object. {etyp} not allowed."),
                    ));
                }
            },
        }
    }
    Ok(None)
}

/// The name a catch block matches: the class, or the `errname` of a `$lib.raise()`.
fn errname(err: &StormError) -> &str {
    match err.get("errname").and_then(Value::as_str) {
        Some(name) if err.name == "StormRaise" => name,
        _ => err.name.as_str(),
    }
}

/// The `$e` of a catch block: `{"name", "mesg", "info"}`.
pub(crate) fn error_val(err: &StormError) -> Val {
    let mut info = indexmap::IndexMap::new();
    for (k, v) in &err.info {
        info.insert(
            super::value::Key::Str(Arc::from(k.as_str())),
            Val::from_msgpack(v),
        );
    }
    let mut out = indexmap::IndexMap::new();
    out.insert(
        super::value::Key::Str(Arc::from("name")),
        Val::from(errname(err)),
    );
    out.insert(
        super::value::Key::Str(Arc::from("mesg")),
        Val::from(err.mesg.as_str()),
    );
    out.insert(
        super::value::Key::Str(Arc::from("info")),
        super::value::new_dict(info),
    );
    super::value::new_dict(out)
}

async fn emit(runt: &Arc<Runt>, valu: Val) -> RResult<()> {
    let mut cur: Option<&Runt> = Some(runt);
    while let Some(r) = cur {
        if let Some(q) = &r.emitq {
            q.send(Ok(valu)).await.map_err(|_| Flow::Stop)?;
            return Ok(());
        }
        if r.funcscope {
            break;
        }
        cur = r.root.as_deref();
    }
    Err(rterr("Cannot emit from outside of an emitter function"))
}

/// A sub-runtime sharing this runtime's scope.
pub(crate) fn sub_runtime(
    runt: &Arc<Runt>,
    runtvars: HashMap<String, bool>,
    vars: Vec<(String, Val)>,
    funcscope: bool,
    emitq: Option<tokio::sync::mpsc::Sender<RResult<Val>>>,
) -> RResult<Arc<Runt>> {
    if runt.depth >= super::runt::MAX_DEPTH {
        return Err(Flow::Err(StormError::new(
            "RecursionLimitHit",
            "Maximum Storm pipeline depth exceeded.",
        )));
    }
    Ok(Arc::new(Runt {
        shared: Arc::clone(&runt.shared),
        vars: Mutex::new(vars.into_iter().collect()),
        runtvars,
        root: Some(Arc::clone(runt)),
        funcscope,
        asroot: runt.asroot,
        text: Arc::clone(&runt.text),
        depth: runt.depth + 1,
        view: runt.view.clone(),
        emitq,
    }))
}

/// Names of every variable visible to a runtime (for planning sub-runtimes).
pub(crate) fn visible_vars(runt: &Runt) -> Vec<String> {
    let mut out: Vec<String> = runt.scope_vars().into_iter().map(|(k, _)| k).collect();
    let mut cur = Some(runt);
    while let Some(r) = cur {
        for (k, safe) in &r.runtvars {
            if *safe && !out.contains(k) {
                out.push(k.clone());
            }
        }
        cur = r.root.as_deref();
    }
    out
}

/// Call a Storm function with arguments.
pub(crate) async fn call_func(
    func: &Arc<FuncVal>,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    let name = &func.plan.name;
    let runt = &func.runt;
    let argdefs = &func.defaults;
    let argcount = args.len() + kwargs.len();
    if argcount > argdefs.len() {
        return Err(rterr(format!(
            "{name}() takes {} arguments but {argcount} were provided",
            argdefs.len()
        )));
    }
    let mut merged: Vec<(String, Val)> = Vec::new();
    let mut posnames = Vec::new();
    for (pos, valu) in args.into_iter().enumerate() {
        let pname = argdefs[pos].0.clone();
        posnames.push(pname.clone());
        merged.push((pname, valu));
    }
    let mut kwargs = kwargs;
    for (pname, defv) in argdefs.iter().skip(merged.len()) {
        let valu = match kwargs.iter().position(|(k, _)| k == pname) {
            Some(pos) => kwargs.remove(pos).1,
            None => match defv {
                Some(v) => v.clone(),
                None => return Err(rterr(format!("{name}() missing required argument {pname}"))),
            },
        };
        merged.push((pname.clone(), valu));
    }
    if let Some((first, _)) = kwargs.first() {
        if posnames.contains(first) {
            return Err(rterr(format!(
                "{name}() got multiple values for parameter {first}"
            )));
        }
        let plural = if kwargs.len() > 1 { "s" } else { "" };
        let keys: Vec<&str> = kwargs.iter().map(|(k, _)| k.as_str()).collect();
        return Err(rterr(format!(
            "{name}() got unexpected keyword argument{plural}: {}",
            keys.join(",")
        )));
    }
    let plan = func
        .body
        .get_or_init(|| {
            let vars: Vec<String> = func.defaults.iter().map(|(k, _)| k.clone()).collect();
            plan::plan(
                &func.plan.body,
                &PlanOpts {
                    vars,
                    outer_vars: visible_vars(runt),
                },
            )
        })
        .clone()
        .map_err(|e| {
            Flow::Err(StormError::new(e.name, e.mesg.clone()).highlight(&runt.text, e.span))
        })?;
    let runtvars: HashMap<String, bool> = plan.vars.iter().cloned().collect();
    match func.plan.kind {
        plan::FuncKind::Value => {
            let subr = sub_runtime(runt, runtvars, merged, true, None)?;
            let mut stream = run_pipeline(&subr, &plan.root, empty());
            loop {
                match stream.next().await {
                    None => return Ok(Val::Null),
                    Some(Ok(_)) => {}
                    Some(Err(Flow::Return(valu))) => return Ok(valu),
                    Some(Err(Flow::Break(_))) | Some(Err(Flow::Continue(_))) => {
                        return Err(rterr(format!(
                            "function {name} - Loop control statement used outside of a loop."
                        )));
                    }
                    Some(Err(Flow::Stop)) => {
                        return Err(rterr(format!(
                            "function {name} - Generator control statement \"stop\" used outside of a generator function."
                        )));
                    }
                    Some(Err(e)) => return Err(e),
                }
            }
        }
        plan::FuncKind::Emitter => {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<RResult<Val>>(1);
            let subr = sub_runtime(runt, runtvars, merged, true, Some(tx.clone()))?;
            let root = plan.root.clone();
            // the body runs alongside its consumer, one emitted value at a time
            let producer = async move {
                let mut stream = run_pipeline(&subr, &root, empty());
                loop {
                    match stream.next().await {
                        None | Some(Err(Flow::Stop)) => break,
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            let _ = tx.send(Err(e)).await;
                            break;
                        }
                    }
                }
            };
            let stream = async_stream::try_stream! {
                let producer = producer;
                futures::pin_mut!(producer);
                let mut done = false;
                loop {
                    if done {
                        match rx.recv().await {
                            Some(v) => yield GenItem::Val(v?),
                            None => break,
                        }
                        continue;
                    }
                    tokio::select! {
                        biased;
                        v = rx.recv() => match v {
                            Some(v) => yield GenItem::Val(v?),
                            None => break,
                        },
                        _ = &mut producer => { done = true; }
                    }
                }
            };
            Ok(GenVal::val(stream.boxed()))
        }
        plan::FuncKind::Nodes => {
            let subr = sub_runtime(runt, runtvars, merged, true, None)?;
            let root = plan.root.clone();
            let stream = async_stream::try_stream! {
                let mut s = run_pipeline(&subr, &root, empty());
                loop {
                    match s.next().await {
                        None | Some(Err(Flow::Stop)) => break,
                        Some(Ok(item)) => yield GenItem::Item(item),
                        Some(Err(e)) => Err(e)?,
                    }
                }
            };
            Ok(GenVal::val(stream.boxed()))
        }
    }
}

/// Count without running the pipeline when the query is a plain lift the indexes count.
pub(crate) async fn fast_count(view: &View, text: &str, opts: &StormOpts) -> Option<u64> {
    if !opts.vars.is_empty()
        || !opts.idens.is_empty()
        || !opts.ndefs.is_empty()
        || opts.mode != "storm"
        || opts.limit.is_some()
    {
        return None;
    }
    let query = crate::storm::parse_query(text).ok()?;
    let plan = plan::plan(&query, &PlanOpts::default()).ok()?;
    if view.layers().len() != 1 {
        return None;
    }
    let [op] = &*plan.root.ops else {
        return None;
    };
    let OpKind::Lift(lift) = &op.kind else {
        return None;
    };
    if lift.hint.is_some() {
        return None;
    }
    let model = view.model();
    match &lift.source {
        LiftSource::Prop {
            name: NameExpr::Const(name),
        } => {
            let form = model.form(name)?;
            if form.is_runt() {
                return None;
            }
            view.count_form(name).await.ok().map(|n| n.max(0) as u64)
        }
        _ => None,
    }
}
