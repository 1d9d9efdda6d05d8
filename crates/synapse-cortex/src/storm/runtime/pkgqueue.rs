//! `$lib.pkg.queues(<pkg>)`: the queues of a Storm package (`pkg:queues`, its `add`, `gen`,
//! `del`, `get`, `list`) and each queue (`pkg:queue`: `get`, `pop`, `put`, `puts`, `gets`,
//! `cull`, `size`, `name`, `pkgname`), every use requiring `power-ups.<pkg>.admin`, as the
//! reference's. The storage is the Cortex's (`cortex/pkgqueue.rs`).

use std::sync::Arc;

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;

use super::error::{Flow, RResult};
use super::ext::{Args, ExtObj, cell_err, cortex, nosuchname};
use super::queue::{entry_val, offs_of};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Key, Obj, Val, new_dict};

/// The methods of a `pkg:queues` object.
pub(crate) const QUEUES_METHODS: &[&str] = &["add", "gen", "del", "get", "list"];

/// The methods of a `pkg:queue` object.
pub(crate) const QUEUE_METHODS: &[&str] = &["get", "pop", "put", "puts", "gets", "cull", "size"];

fn req_admin(runt: &Runt, pkg: &str) -> RResult<()> {
    runt.confirm(&["power-ups", pkg, "admin"], None)
}

/// `$lib.pkg.queues(name)`.
pub(crate) fn lib_queues(runt: &Runt, pkg: &str) -> RResult<Val> {
    req_admin(runt, pkg)?;
    Ok(Val::Obj(Arc::new(Obj::Ext(ExtObj::PkgQueues(
        pkg.to_owned(),
    )))))
}

fn queue_val(pkg: &str, name: &str) -> Val {
    Val::Obj(Arc::new(Obj::Ext(ExtObj::PkgQueue(
        pkg.to_owned(),
        name.to_owned(),
    ))))
}

fn status_val(status: &synapse_slab::QueueStatus) -> Val {
    let mut out = IndexMap::new();
    out.insert(Key::Str(Arc::from("name")), Val::from(status.name.as_str()));
    out.insert(Key::Str(Arc::from("meta")), Val::from_msgpack(&status.meta));
    out.insert(
        Key::Str(Arc::from("size")),
        status.size.map_or(Val::Null, |v| Val::Int(v.into())),
    );
    out.insert(
        Key::Str(Arc::from("offs")),
        status.offs.map_or(Val::Null, |v| Val::Int(v.into())),
    );
    new_dict(out)
}

async fn add(runt: &Runt, pkg: &str, name: &str) -> RResult<Val> {
    req_admin(runt, pkg)?;
    cortex(runt)?
        .add_pkg_queue(pkg, name)
        .await
        .map_err(cell_err)?;
    Ok(queue_val(pkg, name))
}

fn get(runt: &Runt, pkg: &str, name: &str) -> RResult<Val> {
    req_admin(runt, pkg)?;
    cortex(runt)?
        .pkg_queue_status(pkg, name)
        .map_err(cell_err)?;
    Ok(queue_val(pkg, name))
}

/// Call a method of `$lib.pkg.queues(pkg)`.
pub(crate) async fn call_queues(
    runt: &Arc<Runt>,
    pkg: &str,
    func: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    match func {
        "add" => add(runt, pkg, &args.req(0, "name")?.to_str()?).await,
        "get" => get(runt, pkg, &args.req(0, "name")?.to_str()?),
        "gen" => {
            let name = args.req(0, "name")?.to_str()?;
            match get(runt, pkg, &name) {
                Err(Flow::Err(e)) if e.name == "NoSuchName" => add(runt, pkg, &name).await,
                other => other,
            }
        }
        "del" => {
            let name = args.req(0, "name")?.to_str()?;
            req_admin(runt, pkg)?;
            cortex(runt)?
                .del_pkg_queue(pkg, &name)
                .await
                .map_err(cell_err)?;
            Ok(Val::Null)
        }
        "list" => {
            req_admin(runt, pkg)?;
            let items: Vec<RResult<GenItem>> = cortex(runt)?
                .pkg_queues(Some(pkg))
                .iter()
                .map(|status| Ok(GenItem::Val(status_val(status))))
                .collect();
            Ok(GenVal::val(futures::stream::iter(items).boxed()))
        }
        other => Err(nosuchname(other)),
    }
}

/// Call a method of a package queue.
pub(crate) async fn call_queue(
    runt: &Arc<Runt>,
    pkg: &str,
    name: &str,
    func: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    req_admin(runt, pkg)?;
    let core = cortex(runt)?;
    match func {
        "put" | "puts" => {
            let items = if func == "put" {
                vec![args.req(0, "item")?.to_msgpack()?]
            } else {
                match args.req(0, "items")?.to_msgpack()? {
                    Value::Array(items) => items,
                    other => vec![other],
                }
            };
            let offs = core
                .pkg_queue_puts(pkg, name, items)
                .await
                .map_err(cell_err)?;
            Ok(Val::Int(offs.into()))
        }
        "get" => {
            let offs = offs_of(args.int(0, "offs")?);
            let wait = args.bool(1, "wait", true);
            let mut items = core.pkg_queue_gets(pkg, name, offs, wait, Some(1));
            match items.next().await {
                Some(item) => Ok(entry_val(item.map_err(cell_err)?)),
                None => Ok(Val::Null),
            }
        }
        "gets" => {
            let offs = offs_of(args.int(0, "offs")?);
            let wait = args.bool(1, "wait", true);
            let size = args
                .int(2, "size")?
                .map(|s| usize::try_from(s.max(0)).unwrap_or(usize::MAX));
            let stream = core
                .pkg_queue_gets(pkg, name, offs, wait, size)
                .map(|item| item.map(|i| GenItem::Val(entry_val(i))).map_err(cell_err));
            Ok(GenVal::val(stream.boxed()))
        }
        "pop" => {
            let offs = args.int(0, "offs")?;
            let wait = args.bool(1, "wait", false);
            let offs = match offs {
                Some(offs) => offs_of(Some(offs)),
                None => match core
                    .pkg_queue_gets(pkg, name, 0, wait, Some(1))
                    .next()
                    .await
                {
                    Some(item) => item.map_err(cell_err)?.0,
                    None => return Ok(Val::Null),
                },
            };
            match core
                .pkg_queue_pop(pkg, name, offs)
                .await
                .map_err(cell_err)?
            {
                Some(entry) => Ok(entry_val(entry)),
                None => Ok(Val::Null),
            }
        }
        "cull" => {
            let offs = args.req(0, "offs")?.to_int()?;
            if offs >= 0 {
                core.pkg_queue_cull(pkg, name, offs_of(Some(offs)))
                    .await
                    .map_err(cell_err)?;
            }
            Ok(Val::Null)
        }
        "size" => Ok(core
            .pkg_queue_size(pkg, name)
            .map_or(Val::Int(0), |n| Val::Int(n.into()))),
        other => Err(nosuchname(other)),
    }
}
