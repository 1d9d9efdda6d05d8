//! `$lib.export.toaxon(query, opts=$lib.null)`: run a query as an export (the Cortex's
//! `exportStorm`: podes with the edges between exported nodes) and save the packed nodes in the
//! Axon, returning `(size, sha256)`.

use std::sync::Arc;

use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, cell_err, cortex, nosuchname};
use super::runt::Runt;
use super::value::Val;
use crate::cortex::StormCall;

/// The library path.
const LIB: &str = "lib.export";

/// Whether `path` is this module's library.
pub(crate) fn is_lib(path: &str) -> bool {
    path == LIB
}

/// The functions of `$lib.export`.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    if path == LIB { &["toaxon"] } else { &[] }
}

/// `(path, functions)` (storm docs).
pub(crate) fn lib_docs() -> Vec<(String, Vec<&'static str>)> {
    vec![(LIB.to_owned(), lib_funcs(LIB).to_vec())]
}

/// Call `$lib.export.<name>`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    let func = format!("$lib.export.{name}");
    let args = Args::new(&func, &args, &kwargs);
    match name {
        "toaxon" => {
            super::ext::req_not_readonly(runt, &func)?;
            to_axon(runt, &args).await
        }
        other => Err(nosuchname(other)),
    }
}

/// `$lib.export.toaxon()`: the export runs as the query's user, in the query's view unless
/// `opts` names another.
async fn to_axon(runt: &Arc<Runt>, args: &Args<'_>) -> RResult<Val> {
    let text = args.req(0, "query")?.to_str()?;
    let opts = match args.get(1, "opts") {
        None => Value::Nil,
        Some(opts) => opts.to_msgpack()?,
    };
    let mut items = match opts {
        Value::Nil => Vec::new(),
        Value::Map(items) => items,
        _ => {
            return Err(Flow::Err(StormError::new(
                "BadArg",
                "$lib.export.toaxon() opts argument must be a dictionary.",
            )));
        }
    };
    let user = runt.shared.user.iden.as_str();
    items.retain(|(key, _)| key.as_str() != Some("user"));
    items.push((Value::from("user"), Value::from(user)));
    if !items.iter().any(|(key, _)| key.as_str() == Some("view")) {
        items.push((Value::from("view"), Value::from(runt.view.iden().as_str())));
    }
    let opts = Value::Map(items);
    // the query's own edits first: the export reads the view outside the query's editor
    super::edit::flush(runt).await?;
    let core = cortex(runt)?;
    let user = core.user_from_opts(&opts).map_err(cell_err)?;
    let call = StormCall { text, opts, user };
    let (size, sha256) = core.export_storm_to_axon(call).await.map_err(cell_err)?;
    Ok(Val::Tuple(Arc::from(vec![
        Val::Int(i128::from(size)),
        Val::from(sha256),
    ])))
}
