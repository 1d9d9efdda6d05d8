//! `$lib.queue`, queue objects and the `queue.add/del/list` commands: persistent named queues
//! of the Cortex, with the reference's permissions (`queue.add` globally; `queue.get`,
//! `queue.put`, `queue.del` on the queue's gate `queue:<name>`).

use std::sync::Arc;

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;

use super::cmds::Opts;
use super::error::{Flow, RResult};
use super::ext::{Args, Body, ExtObj, cell_err, cortex, nosuchname, opt, req_not_readonly};
use super::runt::{GenItem, GenVal, Runt};
use super::value::{Key, Obj, Val, new_dict, new_list};
use crate::cortex::Cortex;

/// The functions of `$lib.queue`.
pub(crate) const LIB_FUNCS: &[&str] = &["add", "gen", "del", "get", "list"];

/// The methods of a queue object.
pub(crate) const METHODS: &[&str] = &["get", "pop", "put", "puts", "gets", "cull", "size"];

/// The commands of this module.
pub(crate) const CMDS: &[&str] = &["queue.add", "queue.del", "queue.list"];

fn gate(name: &str) -> String {
    format!("queue:{name}")
}

fn queue_val(name: &str) -> Val {
    Val::Obj(Arc::new(Obj::Ext(ExtObj::Queue(name.to_owned()))))
}

fn confirm(runt: &Runt, perm: &str, name: &str) -> RResult<()> {
    runt.confirm(&["queue", perm], Some((&gate(name), "queue")))
}

async fn add(runt: &Runt, name: &str) -> RResult<Val> {
    req_not_readonly(runt, "$lib.queue.add")?;
    runt.confirm(&["queue", "add"], None)?;
    let core = cortex(runt)?;
    core.add_queue(name, &runt.shared.user.iden)
        .await
        .map_err(cell_err)?;
    Ok(queue_val(name))
}

fn get(runt: &Runt, name: &str) -> RResult<Val> {
    confirm(runt, "get", name)?;
    cortex(runt)?.queue_status(name).map_err(cell_err)?;
    Ok(queue_val(name))
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

/// The queues the user may read (`queue.get` on each gate).
fn readable(runt: &Runt, core: &Cortex) -> Vec<synapse_slab::QueueStatus> {
    core.queues()
        .into_iter()
        .filter(|status| runt.allowed(&["queue", "get"], Some(&gate(&status.name))))
        .collect()
}

/// Call a `$lib.queue` function.
pub(crate) async fn call_lib(runt: &Arc<Runt>, func: &str, args: &Args<'_>) -> RResult<Val> {
    match func {
        "add" => add(runt, &args.req(0, "name")?.to_str()?).await,
        "get" => get(runt, &args.req(0, "name")?.to_str()?),
        "gen" => {
            let name = args.req(0, "name")?.to_str()?;
            match get(runt, &name) {
                Err(Flow::Err(e)) if e.name == "NoSuchName" => add(runt, &name).await,
                other => other,
            }
        }
        "del" => {
            let name = args.req(0, "name")?.to_str()?;
            req_not_readonly(runt, "$lib.queue.del")?;
            confirm(runt, "del", &name)?;
            cortex(runt)?.del_queue(&name).await.map_err(cell_err)?;
            Ok(Val::Null)
        }
        "list" => {
            let core = cortex(runt)?;
            Ok(new_list(
                readable(runt, &core).iter().map(status_val).collect(),
            ))
        }
        other => Err(nosuchname(other)),
    }
}

/// A queue offset argument (negative is 0).
pub(super) fn offs_of(offs: Option<i128>) -> u64 {
    offs.map_or(0, |o| u64::try_from(o.max(0)).unwrap_or(u64::MAX))
}

/// A queue entry as Storm sees it: `(offset, item)`.
pub(super) fn entry_val((offs, item): (u64, Value)) -> Val {
    Val::Tuple(Arc::from(vec![
        Val::Int(offs.into()),
        Val::from_msgpack(&item),
    ]))
}

/// Call a method of a queue object.
pub(crate) async fn call_obj(
    runt: &Arc<Runt>,
    name: &str,
    func: &str,
    args: &Args<'_>,
) -> RResult<Val> {
    let core = cortex(runt)?;
    match func {
        "put" | "puts" => {
            let items = if func == "put" {
                vec![args.req(0, "item")?.to_msgpack()?]
            } else {
                let items = args.req(0, "items")?;
                match items.seq_items() {
                    Some(items) => items
                        .iter()
                        .map(Val::to_msgpack)
                        .collect::<RResult<Vec<_>>>()?,
                    None => match items.to_msgpack()? {
                        Value::Array(items) => items,
                        other => vec![other],
                    },
                }
            };
            req_not_readonly(runt, &format!("$lib.queue.{func}"))?;
            confirm(runt, "put", name)?;
            let offs = core.queue_puts(name, items).await.map_err(cell_err)?;
            Ok(Val::Int(offs.into()))
        }
        "get" => {
            let offs = offs_of(args.int(0, "offs")?);
            let cull = args.bool(1, "cull", true);
            let wait = args.int_flag(2, "wait", true)?;
            confirm(runt, "get", name)?;
            let mut items = core.queue_gets(name, offs, cull, wait, Some(1));
            match items.next().await {
                Some(item) => Ok(entry_val(item.map_err(cell_err)?)),
                None => Ok(Val::Null),
            }
        }
        "gets" => {
            let offs = offs_of(args.int(0, "offs")?);
            let wait = args.int_flag(1, "wait", true)?;
            let cull = args.bool(2, "cull", false);
            let size = args
                .int(3, "size")?
                .map(|s| usize::try_from(s.max(0)).unwrap_or(usize::MAX));
            confirm(runt, "get", name)?;
            let stream = core
                .queue_gets(name, offs, cull, wait, size)
                .map(|item| item.map(|i| GenItem::Val(entry_val(i))).map_err(cell_err));
            Ok(GenVal::val(stream.boxed()))
        }
        "pop" => {
            let offs = args.int(0, "offs")?;
            let wait = args.bool(1, "wait", false);
            req_not_readonly(runt, "$lib.queue.pop")?;
            confirm(runt, "get", name)?;
            let offs = match offs {
                Some(offs) => offs_of(Some(offs)),
                // without an offset, the first item (waiting for one if asked)
                None => match core.queue_gets(name, 0, false, wait, Some(1)).next().await {
                    Some(item) => item.map_err(cell_err)?.0,
                    None => return Ok(Val::Null),
                },
            };
            match core.queue_pop(name, offs).await.map_err(cell_err)? {
                Some(entry) => Ok(entry_val(entry)),
                None => Ok(Val::Null),
            }
        }
        "cull" => {
            let offs = args.req(0, "offs")?.to_int()?;
            req_not_readonly(runt, "$lib.queue.cull")?;
            confirm(runt, "get", name)?;
            if offs >= 0 {
                core.queue_cull(name, offs_of(Some(offs)))
                    .await
                    .map_err(cell_err)?;
            }
            Ok(Val::Null)
        }
        "size" => {
            confirm(runt, "get", name)?;
            Ok(core
                .queue_size(name)
                .map_or(Val::Null, |size| Val::Int(size.into())))
        }
        other => Err(nosuchname(other)),
    }
}

/// Run the body of a queue command.
pub(crate) async fn cmd_body(runt: &Arc<Runt>, cmd: &str, opts: &Opts) -> RResult<Body> {
    match cmd {
        "queue.add" => {
            let name = opt(opts, "name").to_str()?;
            add(runt, &name).await?;
            Ok(Body::lines(vec![format!("queue added: {name}")]))
        }
        "queue.del" => {
            let name = opt(opts, "name").to_str()?;
            req_not_readonly(runt, "$lib.queue.del")?;
            confirm(runt, "del", &name)?;
            cortex(runt)?.del_queue(&name).await.map_err(cell_err)?;
            Ok(Body::lines(vec![format!("queue removed: {name}")]))
        }
        _ => {
            let core = cortex(runt)?;
            let show = |v: Option<i64>| v.map_or("None".to_owned(), |v| v.to_string());
            let each = readable(runt, &core)
                .iter()
                .map(|status| {
                    vec![format!(
                        "    {:<32}:  size: {} offs: {}",
                        status.name,
                        show(status.size),
                        show(status.offs)
                    )]
                })
                .collect();
            Ok(Body {
                before: vec!["Storm queue list:".to_owned()],
                each: Some(each),
                after: Vec::new(),
                ..Body::default()
            })
        }
    }
}
