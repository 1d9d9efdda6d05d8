//! `$lib.storm`: evaluate a Storm value expression (`eval`) and run a query as a stream of
//! its messages (`run`).

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::lib::arg;
use super::runt::{GenItem, GenVal, Runt};
use super::value::Val;

/// The library path.
pub(crate) const LIB: &str = "lib.storm";
/// Its functions.
pub(crate) const LIB_FUNCS: &[&str] = &["eval", "run"];

/// Call a `$lib.storm` function.
pub(crate) async fn call(
    runt: &Arc<Runt>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let req = |i: usize, n: &str| super::lib::req(args, kwargs, i, n, name);
    match name {
        "eval" => {
            let text = req(0, "text")?.to_str()?;
            let cast = match arg(args, kwargs, 1, "cast") {
                None | Some(Val::Null) => None,
                Some(v) => Some(v.to_str()?),
            };
            eval_text(runt, &text, cast.as_deref()).await
        }
        "run" => {
            let query = req(0, "query")?.to_str()?;
            let opts = match arg(args, kwargs, 1, "opts") {
                None | Some(Val::Null) => Value::Map(Vec::new()),
                Some(v) => v.to_msgpack()?,
            };
            run_query(runt, query, opts)
        }
        _ => super::error::err("NoSuchName", format!("Cannot find name [{name}]")),
    }
}

/// `$lib.storm.eval(text, cast=None)`: the value of one Storm value expression, computed in
/// the calling runtime's scope, optionally normalized by a type or a property's type.
async fn eval_text(runt: &Arc<Runt>, text: &str, cast: Option<&str>) -> RResult<Val> {
    // only a single value is accepted (so the wrapped query below cannot hold anything else)
    crate::storm::parse_eval(text)
        .map_err(|e| Flow::Err(crate::storm::runtime::bad_syntax(text, &e)))?;
    let model = runt.model();
    let casttype = match cast.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            model
                .ty(c)
                .or_else(|| model.prop(c).map(|p| p.ty()))
                .ok_or_else(|| {
                    Flow::Err(StormError::new(
                        "NoSuchType",
                        format!("No type or property found for name: {c}"),
                    ))
                })?,
        ),
    };
    let wrapped = format!("return({text})");
    let (subr, pipe) = super::flow::sub_with_vars(runt, &wrapped, Vec::new())?;
    let mut out = super::exec::run_pipeline(&subr, &pipe, super::exec::empty());
    let mut valu = Val::Null;
    while let Some(item) = out.next().await {
        match item {
            Ok(_) => {}
            Err(Flow::Return(v)) => {
                valu = v;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    match casttype {
        None => Ok(valu),
        Some(ty) => {
            let (norm, _) = ty.norm(&super::cond::tostor(&valu)?)?;
            Ok(Val::from_msgpack(&norm))
        }
    }
}

/// `$lib.storm.run(query, opts=None)`: the messages of a query run as the calling user (or,
/// with the `impersonate` permission, another one) in the calling view by default.
fn run_query(runt: &Arc<Runt>, query: String, opts: Value) -> RResult<Val> {
    let mut opts = match opts {
        Value::Map(items) => items,
        _ => {
            return Err(Flow::Err(StormError::new(
                "BadArg",
                "Storm options must be a dictionary.",
            )));
        }
    };
    let me = runt.shared.user.clone();
    let user = match opts.iter().find(|(k, _)| k.as_str() == Some("user")) {
        Some((_, Value::Nil)) | None => me.clone(),
        Some((_, v)) => {
            let iden = v.as_str().unwrap_or_default().to_owned();
            if iden == me.iden {
                me.clone()
            } else {
                runt.confirm(&["impersonate"], None)?;
                runt.shared
                    .core
                    .host
                    .user_by_name_or_iden(&iden)
                    .map_err(Flow::Err)?
            }
        }
    };
    opts.retain(|(k, _)| k.as_str() != Some("user"));
    if !opts.iter().any(|(k, _)| k.as_str() == Some("view")) {
        opts.push((Value::from("view"), Value::from(runt.view.iden())));
    }
    let sopts =
        crate::storm::runtime::StormOpts::from_value(&Value::Map(opts)).map_err(Flow::Err)?;
    let core = Arc::clone(&runt.shared.core);
    let stream = crate::storm::runtime::storm(core, user, query, sopts).map(|mesg| {
        Ok(GenItem::Val(Val::Tuple(Arc::from(vec![
            Val::from(mesg.kind.as_str()),
            Val::from_msgpack(&mesg.info),
        ]))))
    });
    Ok(GenVal::val(stream.boxed()))
}
