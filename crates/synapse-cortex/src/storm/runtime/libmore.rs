//! Small tier-2 libraries: `$lib.lift` (`byNodeData`, `tagsByPref`), `$lib.tags.prefix` and
//! `$lib.spooled.set`.

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;

use super::error::{Flow, RResult, rterr};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Val, new_list};
use crate::storm::ast::Span;

/// The libraries of this module.
const LIBS: &[&str] = &["lib.lift", "lib.tags", "lib.spooled"];

/// Whether `path` is one of this module's libraries.
pub(crate) fn is_lib(path: &str) -> bool {
    LIBS.contains(&path)
}

/// The functions of one of this module's libraries.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.lift" => &["byNodeData", "tagsByPref"],
        "lib.tags" => &["prefix"],
        "lib.spooled" => &["set"],
        _ => &[],
    }
}

fn arg(args: &[Val], kwargs: &[(String, Val)], idx: usize, name: &str) -> Option<Val> {
    args.get(idx).cloned().or_else(|| {
        kwargs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

fn req(args: &[Val], kwargs: &[(String, Val)], idx: usize, name: &str, func: &str) -> RResult<Val> {
    arg(args, kwargs, idx, name).ok_or_else(|| {
        rterr(format!(
            "{func}() missing 1 required positional argument: '{name}'"
        ))
    })
}

/// Call a function of one of this module's libraries.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    path: &str,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    match (path, name) {
        ("lib.lift", "byNodeData") => {
            let dname = req(&args, &kwargs, 0, "name", name)?.to_str()?;
            let nodes = runt.view.lift_data_name(&dname).map_err(Flow::from)?;
            let stream = nodes.map(|n| {
                n.map(|n| GenItem::Val(Val::Node(Arc::new(n))))
                    .map_err(Flow::from)
            });
            Ok(GenVal::val(stream.boxed()))
        }
        ("lib.lift", "tagsByPref") => {
            let prefix = req(&args, &kwargs, 0, "prefix", name)?.to_str()?;
            let depth = match arg(&args, &kwargs, 1, "depth") {
                None => 0,
                Some(v) => v.to_int()?,
            };
            tags_by_pref(runt, prefix, depth)
        }
        ("lib.tags", "prefix") => {
            let names = req(&args, &kwargs, 0, "names", name)?;
            let prefix = req(&args, &kwargs, 1, "prefix", name)?.to_str()?;
            let ispart = arg(&args, &kwargs, 2, "ispart").is_some_and(|v| v.truthy());
            let mut iter = super::eval::eval_iter(runt, names, Span::default()).await?;
            let mut items = Vec::new();
            while let Some(item) = iter.next().await {
                items.push(item?);
            }
            let part = runt
                .model()
                .ty("syn:tag:part")
                .ok_or_else(|| rterr("no syn:tag:part type"))?;
            let mut out = Vec::new();
            for item in items {
                if ispart {
                    out.push(Val::from(format!("{prefix}.{}", item.to_str()?)));
                    continue;
                }
                if let Ok((norm, _)) = part.norm(&item.to_msgpack()?)
                    && let Some(norm) = norm.as_str()
                {
                    out.push(Val::from(format!("{prefix}.{norm}")));
                }
            }
            Ok(new_list(out))
        }
        ("lib.spooled", "set") => {
            // a set held in memory (the reference spools large sets to disk)
            let mut set = indexmap::IndexSet::new();
            for valu in &args {
                set.insert(valu.to_key()?);
            }
            Ok(Val::Set(Arc::new(std::sync::Mutex::new(set))))
        }
        _ => Err(super::ext::nosuchname(name)),
    }
}

/// `syn:tag` nodes whose name starts with `prefix`, at most `depth` levels below it.
fn tags_by_pref(runt: &Arc<Runt>, prefix: String, depth: i128) -> RResult<Val> {
    let maxdots = prefix.matches('.').count() as i128 + depth.max(0);
    let nodes = runt
        .view
        .lift_prop_valu("syn:tag", "^=", &Value::from(prefix.as_str()), false)
        .map_err(Flow::from)?;
    let stream = nodes.filter_map(move |n| async move {
        match n {
            Err(e) => Some(Err(Flow::from(e))),
            Ok(node) => {
                let dots = node.valu.as_str().map_or(0, |s| s.matches('.').count()) as i128;
                (dots <= maxdots).then(|| Ok(GenItem::Val(Val::Node(Arc::new(node)))))
            }
        }
    });
    Ok(GenVal::val(stream.boxed()))
}
