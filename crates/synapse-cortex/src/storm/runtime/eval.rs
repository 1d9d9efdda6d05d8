//! Expression evaluation.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt};
use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::error::{Flow, RResult, StormError, rterr};
use super::exec::{self, empty};
use super::runt::{GenItem, Item, QueryVal, Runt};
use super::value::{Numeric, Val, lock, new_dict, new_list, py_equal, py_order};
use crate::storm::ast::{BinOp, Span, UnaryOp};
use crate::storm::plan::{Const, Expr, ExprKind, NameExpr, QueryExpr, TagExpr, TagSegExpr};

/// A constant as a value.
pub(crate) fn const_val(c: &Const) -> RResult<Val> {
    Ok(match c {
        Const::Str(s) => Val::from(s.as_str()),
        Const::Int(i) => Val::Int(*i),
        Const::BigInt(text) => {
            return Err(Flow::Err(StormError::new(
                "BadCast",
                format!("Integer too large: {text}"),
            )));
        }
        Const::Number(text) => Val::Num(
            text.parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(text))
                .map_err(|_| rterr(format!("Invalid number: {text}")))?,
        ),
        Const::Bool(b) => Val::Bool(*b),
        Const::Null => Val::Null,
        Const::List(items) => new_list(items.iter().map(const_val).collect::<RResult<_>>()?),
    })
}

/// Evaluate an expression (with the current node and path, if any).
pub(crate) fn eval<'a>(
    runt: &'a Arc<Runt>,
    expr: &'a Expr,
    item: Option<&'a Item>,
) -> BoxFuture<'a, RResult<Val>> {
    async move {
        match &expr.kind {
            ExprKind::Const(c) => const_val(c),
            ExprKind::List(items) | ExprKind::ExprList(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(eval(runt, i, item).await?);
                }
                let list = new_list(out);
                // A tuple literal `(a, b)` is a plain Python list in the reference.
                if matches!(expr.kind, ExprKind::List(_)) {
                    super::pyvals::mark(&list);
                }
                Ok(list)
            }
            ExprKind::ExprDict(pairs) => {
                let mut out = IndexMap::new();
                for (k, v) in pairs {
                    let key = eval(runt, k, item).await?;
                    if key.is_mutable() {
                        return Err(Flow::Err(
                            StormError::new("BadArg", "Mutable values are not allowed as dictionary keys")
                                .with("name", key.repr()),
                        ));
                    }
                    let valu = eval(runt, v, item).await?;
                    out.insert(key.to_key()?, valu);
                }
                Ok(new_dict(out))
            }
            ExprKind::Var(var) => {
                let path = item.map(|i| &i.path);
                if var.name == "node"
                    && let Some(item) = item
                {
                    return Ok(Val::Node(item.node.clone()));
                }
                if var.name == "path"
                    && let Some(item) = item
                {
                    return Ok(Val::Path(Arc::new(std::sync::Mutex::new(item.path.clone()))));
                }
                match runt.get_var(&var.name, path) {
                    Some(v) => Ok(v),
                    None => {
                        let mesg = if runt.is_runtvar(&var.name) || var.runtsafe {
                            format!("Runtsafe variable used before assignment: {}", var.name)
                        } else {
                            format!("Non-runtsafe variable used before assignment: {}", var.name)
                        };
                        Err(runt.at(
                            expr.span,
                            Flow::Err(
                                StormError::new("NoSuchVar", mesg)
                                    .with("name", var.name.as_str())
                                    .with("runtsafe", var.runtsafe),
                            ),
                        ))
                    }
                }
            }
            ExprKind::Deref { base, key } => {
                let basev = eval(runt, base, item).await?;
                if basev.is_null() {
                    return Ok(Val::Null);
                }
                let name = eval(runt, key, item).await?;
                super::lib::deref(runt, &basev, &name)
                    .await
                    .map_err(|e| runt.at(key.span, e))
            }
            ExprKind::Call { func, args, kwargs } => {
                let funcv = eval(runt, func, item).await?;
                let mut argv = Vec::with_capacity(args.len());
                for a in args {
                    argv.push(eval(runt, a, item).await?);
                }
                let mut kw = Vec::with_capacity(kwargs.len());
                for (k, v) in kwargs {
                    kw.push((k.clone(), eval(runt, v, item).await?));
                }
                GrowStack(Box::pin(call(runt, &funcv, argv, kw, item, expr.span))).await
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = eval(runt, lhs, item).await?;
                let b = eval(runt, rhs, item).await?;
                binary(*op, &a, &b).map_err(|e| {
                    let span = if matches!(&e, Flow::Err(err) if err.mesg == "Cannot divide by zero") {
                        rhs.span
                    } else {
                        expr.span
                    };
                    runt.at(span, e)
                })
            }
            ExprKind::Unary { op, operand } => {
                let v = eval(runt, operand, item).await?;
                match op {
                    UnaryOp::Not => Ok(Val::Bool(!v.truthy())),
                    UnaryOp::Neg => match v.to_number().map_err(|e| runt.at(expr.span, e))? {
                        Numeric::Int(i) => Ok(Val::Int(-i)),
                        Numeric::Dec(d) => Ok(Val::Num(-d)),
                    },
                }
            }
            ExprKind::And(lhs, rhs) => {
                if !eval(runt, lhs, item).await?.truthy() {
                    return Ok(Val::Bool(false));
                }
                Ok(Val::Bool(eval(runt, rhs, item).await?.truthy()))
            }
            ExprKind::Or(lhs, rhs) => {
                if eval(runt, lhs, item).await?.truthy() {
                    return Ok(Val::Bool(true));
                }
                Ok(Val::Bool(eval(runt, rhs, item).await?.truthy()))
            }
            ExprKind::RelProp(name) | ExprKind::UnivProp(name) => {
                let Some(item) = item else {
                    return Ok(Val::Null);
                };
                let mut name = eval_name(runt, name, Some(item)).await?;
                if matches!(expr.kind, ExprKind::UnivProp(NameExpr::Dynamic(_))) {
                    name = format!(".{name}");
                }
                super::cond::prop_value(runt, &item.node, &name, expr.span)
                    .await
                    .map(|(_, v)| v.map(|v| Val::from_msgpack(&v)).unwrap_or(Val::Null))
            }
            ExprKind::Tag(tag) => {
                let Some(item) = item else {
                    return Ok(Val::Null);
                };
                let name = eval_tag(runt, tag, Some(item), true).await?;
                Ok(match item.node.tag(&name) {
                    Some(ival) => Val::from_msgpack(&crate::nodeedit::ival_value(ival)),
                    None => Val::Null,
                })
            }
            ExprKind::TagProp { tag, prop } => {
                let Some(item) = item else {
                    return Ok(Val::Null);
                };
                let tag = eval_tag(runt, tag, Some(item), true).await?;
                let prop = eval_name(runt, prop, Some(item)).await?;
                Ok(match item.node.tagprop(&tag, &prop) {
                    Some(v) => Val::from_msgpack(v),
                    None => Val::Null,
                })
            }
            ExprKind::Format(parts) => {
                let mut out = String::new();
                for part in parts {
                    let v = eval(runt, part, item).await?;
                    out.push_str(&repr_str(&v));
                }
                Ok(Val::from(out))
            }
            ExprKind::Query(QueryExpr::Embed { text, query }) => {
                let mut vars = runt.scope_vars();
                if let Some(item) = item {
                    for (k, v) in &item.path.vars {
                        match vars.iter_mut().find(|(n, _)| n.as_str() == &**k) {
                            Some(slot) => slot.1 = v.clone(),
                            None => vars.push((k.to_string(), v.clone())),
                        }
                    }
                }
                Ok(Val::Query(Arc::new(QueryVal {
                    text: text.clone(),
                    query: Arc::clone(query),
                    vars,
                    runt: Arc::clone(runt),
                })))
            }
            ExprKind::Query(QueryExpr::Value(pipe)) => {
                subquery_value(runt, pipe, expr.span, 1).await.map(|mut v| {
                    if v.len() == 1 { v.remove(0) } else { Val::Null }
                })
            }
        }
    }
    .boxed()
}

/// A subquery used as a value: the values of its nodes (at most `limit`) or its return value.
pub(crate) async fn subquery_value(
    runt: &Arc<Runt>,
    pipe: &crate::storm::plan::Pipeline,
    span: Span,
    limit: usize,
) -> RResult<Vec<Val>> {
    let subr = exec::sub_runtime(runt, runt.runtvars.clone(), Vec::new(), false, None)?;
    let mut stream = exec::run_pipeline(&subr, pipe, empty());
    let mut out = Vec::new();
    loop {
        match stream.next().await {
            None => break,
            Some(Ok(item)) => {
                out.push(Val::Node(item.node));
                if out.len() > limit {
                    let text = span.text(&runt.text);
                    let inner = text.trim_start_matches('{').trim_end_matches('}').trim();
                    return Err(runt.error(
                        span,
                        "BadTypeValu",
                        format!(
                            "Subquery used as a value yielded too many (>{limit}) nodes. {}",
                            inner
                        ),
                    ));
                }
            }
            Some(Err(Flow::Return(v))) => return Ok(vec![v]),
            Some(Err(e)) => return Err(e),
        }
    }
    Ok(out)
}

/// `torepr(valu, usestr=True)`: what format strings and `$lib.print` kwargs show.
pub(crate) fn repr_str(v: &Val) -> String {
    match v {
        Val::Str(s) => s.to_string(),
        Val::Int(_) | Val::Float(_) | Val::Bytes(_) | Val::Tuple(_) | Val::Set(_) => {
            v.to_str().unwrap_or_default()
        }
        other => other.repr(),
    }
}

/// A computed name (prop names, tag prop names, forms).
pub(crate) async fn eval_name(
    runt: &Arc<Runt>,
    name: &NameExpr,
    item: Option<&Item>,
) -> RResult<String> {
    match name {
        NameExpr::Const(n) => Ok(n.clone()),
        NameExpr::Dynamic(expr) => {
            let v = eval(runt, expr, item).await?;
            match v {
                Val::Str(s) => Ok(s.to_string()),
                other => {
                    let styp = other.typename();
                    Err(runt.error(
                        expr.span,
                        "StormRuntimeError",
                        format!(
                            "Expected value of type 'str', got '{styp}' with value {}.",
                            other.repr()
                        ),
                    ))
                }
            }
        }
    }
}

/// A tag name (normalized when computed, as the reference's `TagName`; as given for matches).
pub(crate) async fn eval_tag(
    runt: &Arc<Runt>,
    tag: &TagExpr,
    item: Option<&Item>,
    norm: bool,
) -> RResult<String> {
    match tag {
        TagExpr::Const(t) => Ok(t.clone()),
        TagExpr::All => Ok(String::new()),
        TagExpr::Dynamic(expr) => {
            let v = eval(runt, expr, item).await?;
            let Val::Str(text) = v else {
                return Err(Flow::Err(StormError::new(
                    "BadTypeValu",
                    "Invalid value type for tag name, tag names must be strings.",
                )));
            };
            if !norm {
                return Ok(text.to_string());
            }
            tag_norm(runt, &text)
        }
        TagExpr::Segments(segs) => {
            let mut parts = Vec::with_capacity(segs.len());
            for seg in segs {
                match seg {
                    TagSegExpr::Text(t) => parts.push(t.clone()),
                    TagSegExpr::Var(var) => {
                        let v =
                            runt.get_var(&var.name, item.map(|i| &i.path))
                                .ok_or_else(|| {
                                    Flow::Err(
                                        StormError::new(
                                            "NoSuchVar",
                                            format!("Missing variable: {}", var.name),
                                        )
                                        .with("name", var.name.as_str()),
                                    )
                                })?;
                        if v.is_null() {
                            return Err(Flow::Err(StormError::new(
                                "BadTypeValu",
                                format!(
                                    "Null value from var ${} is not allowed in tag names.",
                                    var.name
                                ),
                            )));
                        }
                        let text = v.to_str()?;
                        if norm {
                            parts.push(tag_norm(runt, &text)?);
                        } else {
                            parts.push(text);
                        }
                    }
                }
            }
            Ok(parts.join("."))
        }
    }
}

/// Normalize a tag name (`syn:tag`).
pub(crate) fn tag_norm(runt: &Runt, text: &str) -> RResult<String> {
    let ty = runt
        .model()
        .ty("syn:tag")
        .ok_or_else(|| rterr("the model has no syn:tag type"))?;
    let (norm, _) = ty.norm(&rmpv::Value::from(text))?;
    Ok(norm.as_str().unwrap_or_default().to_owned())
}

/// The values a value iterates over (`for`, `toiter`).
pub(crate) async fn eval_iter(
    runt: &Arc<Runt>,
    valu: Val,
    span: Span,
) -> RResult<BoxStream<'static, RResult<Val>>> {
    Ok(match valu {
        Val::Null => stream::empty().boxed(),
        Val::Dict(items) => {
            let items: Vec<Val> = lock(&items)
                .iter()
                .map(|(k, v)| Val::Tuple(Arc::from(vec![k.to_val(), v.clone()])))
                .collect();
            stream::iter(items.into_iter().map(Ok)).boxed()
        }
        Val::Obj(obj)
            if matches!(
                &*obj,
                super::value::Obj::UserKv { .. } | super::value::Obj::Text(_)
            ) =>
        {
            let items = Box::pin(super::typesmore::obj_iter(runt, &obj))
                .await?
                .unwrap_or_default();
            stream::iter(items.into_iter().map(Ok)).boxed()
        }
        Val::Obj(obj) if matches!(&*obj, super::value::Obj::PkgVars(_)) => {
            let items = match &*obj {
                super::value::Obj::PkgVars(pkg) => super::pkg::vars_list(runt, pkg).await?,
                _ => Vec::new(),
            };
            stream::iter(items.into_iter().map(Ok)).boxed()
        }
        Val::Obj(obj) if matches!(&*obj, super::value::Obj::Tally(_)) => {
            let items: Vec<Val> = match &*obj {
                super::value::Obj::Tally(items) => lock(items)
                    .iter()
                    .map(|(k, v)| Val::Tuple(Arc::from(vec![k.to_val(), v.clone()])))
                    .collect(),
                _ => Vec::new(),
            };
            stream::iter(items.into_iter().map(Ok)).boxed()
        }
        Val::Str(text) => {
            let chars: Vec<Val> = text.chars().map(|c| Val::from(c.to_string())).collect();
            stream::iter(chars.into_iter().map(Ok)).boxed()
        }
        Val::Gen(g) => {
            let taken = g.stream.lock().await.take();
            match taken {
                Some(s) => s
                    .map(|item| {
                        item.map(|i| match i {
                            GenItem::Val(v) => v,
                            GenItem::Item(item) => Val::Node(item.node),
                        })
                    })
                    .boxed(),
                None => stream::empty().boxed(),
            }
        }
        Val::Query(q) => {
            let nodes = super::lib::query_nodes(runt, &q)?;
            nodes.map(|item| item.map(|i| Val::Node(i.node))).boxed()
        }
        Val::NodeProps(node) => {
            let items: Vec<Val> = node
                .props
                .iter()
                .map(|(k, v)| {
                    Val::Tuple(Arc::from(vec![Val::from(k.as_str()), Val::from_msgpack(v)]))
                })
                .collect();
            stream::iter(items.into_iter().map(Ok)).boxed()
        }
        other => match other.seq_items() {
            Some(items) => stream::iter(items.into_iter().map(Ok)).boxed(),
            None => {
                let styp = other.pytype();
                return Err(runt.error(
                    span,
                    "StormRuntimeError",
                    format!("'{styp}' object is not iterable: {}", other.py_repr()),
                ));
            }
        },
    })
}

/// Call a callable value.
pub(crate) async fn call(
    runt: &Arc<Runt>,
    func: &Val,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
    item: Option<&Item>,
    span: Span,
) -> RResult<Val> {
    match func {
        Val::Func(f) => exec::call_func(f, args, kwargs)
            .await
            .map_err(|e| runt.at(span, e)),
        Val::Bound(b) => super::lib::call_method(runt, &b.0, &b.1, args, kwargs, item)
            .await
            .map_err(|e| runt.at(span, e)),
        Val::Lib(path) if matches!(&**path, "lib.dict" | "lib.list") => {
            let (parent, last) = path.rsplit_once('.').unwrap_or(("lib", path));
            super::lib::call_method(runt, &Val::Lib(Arc::from(parent)), last, args, kwargs, item)
                .await
                .map_err(|e| runt.at(span, e))
        }
        other => {
            let styp = other.typename();
            let text = span.text(&runt.text).to_owned();
            Err(runt.error(
                span,
                "StormRuntimeError",
                format!("'{styp}' object is not callable: {text}"),
            ))
        }
    }
}

/// A binary operator of expressions.
pub(crate) fn binary(op: BinOp, a: &Val, b: &Val) -> RResult<Val> {
    let num = |v: &Val| v.to_number();
    Ok(match op {
        BinOp::Eq => Val::Bool(py_equal(&a.cmprvalu(), &b.cmprvalu())),
        BinOp::Ne => Val::Bool(!py_equal(&a.cmprvalu(), &b.cmprvalu())),
        BinOp::Prefix => Val::Bool(a.to_str()?.starts_with(&b.to_str()?)),
        BinOp::Regex => {
            let pat = b.to_str()?;
            let re = regex::RegexBuilder::new(&pat)
                .case_insensitive(true)
                .build()
                .map_err(|e| rterr(format!("Invalid regex: {e}")))?;
            Val::Bool(re.is_match(&a.to_str()?))
        }
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            let (x, y) = (num(a)?, num(b)?);
            let ord = match (x, y) {
                (Numeric::Int(x), Numeric::Int(y)) => x.cmp(&y),
                (x, y) => x.to_dec().cmp(&y.to_dec()),
            };
            use std::cmp::Ordering::*;
            Val::Bool(match op {
                BinOp::Lt => ord == Less,
                BinOp::Gt => ord == Greater,
                BinOp::Le => ord != Greater,
                _ => ord != Less,
            })
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow => {
            arith(op, num(a)?, num(b)?)?
        }
    })
}

fn overflow() -> Flow {
    rterr("Integer overflow")
}

fn arith(op: BinOp, x: Numeric, y: Numeric) -> RResult<Val> {
    let zero = || rterr("Cannot divide by zero");
    if let (Numeric::Int(x), Numeric::Int(y)) = (x, y) {
        return Ok(Val::Int(match op {
            BinOp::Add => x.checked_add(y).ok_or_else(overflow)?,
            BinOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            BinOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            BinOp::Div => {
                if y == 0 {
                    return Err(zero());
                }
                let q = x / y;
                if x % y != 0 && ((x < 0) != (y < 0)) {
                    q - 1
                } else {
                    q
                }
            }
            BinOp::Mod => {
                if y == 0 {
                    return Err(zero());
                }
                let r = x % y;
                if r != 0 && ((r < 0) != (y < 0)) {
                    r + y
                } else {
                    r
                }
            }
            _ => {
                if y < 0 {
                    let base = Decimal::from_i128_with_scale(x, 0);
                    return pow_dec(base, Decimal::from_i128_with_scale(y, 0));
                }
                let exp = u32::try_from(y).map_err(|_| overflow())?;
                x.checked_pow(exp).ok_or_else(overflow)?
            }
        }));
    }
    let (x, y) = (x.to_dec(), y.to_dec());
    Ok(Val::Num(match op {
        BinOp::Add => x.checked_add(y).ok_or_else(overflow)?,
        BinOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
        BinOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
        BinOp::Div => {
            if y.is_zero() {
                return Err(zero());
            }
            x.checked_div(y).ok_or_else(overflow)?
        }
        BinOp::Mod => {
            if y.is_zero() {
                return Err(zero());
            }
            x.checked_rem(y).ok_or_else(overflow)?
        }
        _ => return pow_dec(x, y),
    }))
}

fn pow_dec(x: Decimal, y: Decimal) -> RResult<Val> {
    use rust_decimal::MathematicalOps;
    x.checked_powd(y)
        .map(Val::Num)
        .ok_or_else(|| rterr("Invalid operation on a Number"))
}

/// Python's ordering of values for `sorted`, `min`, `max`.
pub(crate) fn order(a: &Val, b: &Val) -> std::cmp::Ordering {
    py_order(a, b).unwrap_or(std::cmp::Ordering::Equal)
}

/// A future polled on a fresh stack segment when the current one runs low: Storm recursion
/// (functions calling functions) nests polls deeply. The red zone is larger than what one
/// level of Storm nesting (pipeline operator, call, expression) takes between two checks in
/// an unoptimized build.
struct GrowStack<'a, T>(futures::future::BoxFuture<'a, T>);

impl<T> std::future::Future for GrowStack<'_, T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        let fut = &mut self.0;
        stacker::maybe_grow(1024 * 1024, 4 * 1024 * 1024, || fut.as_mut().poll(cx))
    }
}
