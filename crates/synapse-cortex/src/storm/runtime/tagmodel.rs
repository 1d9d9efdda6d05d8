//! `$lib.model.tags`: the tag model from Storm (the reference's `LibModelTags`): `get` and
//! `list` for everyone, `set`, `pop` and `del` behind `model.tag.set`.

use std::sync::Arc;

use rmpv::Value;

use super::error::RResult;
use super::ext::{Args, cell_err, cortex};
use super::runt::Runt;
use super::value::Val;

/// The library path.
pub(crate) const LIB: &str = "lib.model.tags";

/// The functions of `$lib.model.tags`.
pub(crate) const LIB_FUNCS: &[&str] = &["get", "set", "pop", "del", "list"];

/// Call a function of `$lib.model.tags`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let args = Args::new(name, args, kwargs);
    let core = cortex(runt)?;
    let confirm = || runt.confirm(&["model", "tag", "set"], None);
    Ok(match name {
        "get" => {
            let tag = args.req(0, "tagname")?.to_str()?;
            core.tag_model(&tag)
                .map_or(Val::Null, |meta| Val::from_msgpack(&meta))
        }
        "list" => {
            let items = core
                .tag_models()
                .into_iter()
                .map(|(tag, meta)| Value::Array(vec![Value::from(tag.as_str()), meta]))
                .collect();
            Val::from_msgpack(&Value::Array(items))
        }
        "set" => {
            let tag = args.req(0, "tagname")?.to_str()?;
            let prop = args.req(1, "propname")?.to_str()?;
            let valu = args.req(2, "propvalu")?.to_msgpack()?;
            confirm()?;
            core.set_tag_model(&tag, &prop, valu)
                .await
                .map_err(cell_err)?;
            Val::Null
        }
        "pop" => {
            let tag = args.req(0, "tagname")?.to_str()?;
            let prop = args.req(1, "propname")?.to_str()?;
            confirm()?;
            let old = core.pop_tag_model(&tag, &prop).await.map_err(cell_err)?;
            Val::from_msgpack(&old)
        }
        "del" => {
            let tag = args.req(0, "tagname")?.to_str()?;
            confirm()?;
            core.del_tag_model(&tag).await.map_err(cell_err)?;
            Val::Null
        }
        _ => return Err(super::ext::nosuchname(name)),
    })
}
