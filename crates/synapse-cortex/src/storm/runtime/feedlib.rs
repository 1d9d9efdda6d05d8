//! `$lib.feed.ingest`, `$lib.feed.genr` and `$lib.feed.fromAxon`: the Cortex's feed functions
//! (`syn.nodes`, packed node definitions) from Storm.
//!
//! Node definitions go through the query's own editor, so they are applied after the query's
//! earlier edits, announced as `node:edits` and seen by triggers like any other Storm edit.
//! Both skip bad definitions with a `warn` message (the reference's non-strict `addNodes`);
//! `genr` yields the nodes.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, cell_err, cortex};
use super::runt::{GenItem, GenVal, Runt};
use super::value::Val;
use crate::nodeedit::Buid;

/// The feed function every Cortex has.
const SYN_NODES: &str = "syn.nodes";

/// Node definitions applied per flush.
const CHUNK: usize = 1000;

/// Call `$lib.feed.<name>` (`list` stays with the admin library).
pub(crate) async fn call_lib(runt: &Arc<Runt>, name: &str, args: &Args<'_>) -> RResult<Val> {
    match name {
        "ingest" => {
            super::ext::req_not_readonly(runt, "$lib.feed.ingest")?;
            let feed = args.req(0, "name")?.to_str()?;
            let data = args.req(1, "data")?;
            runt.layer_confirm(&feed_perm(&feed))?;
            let defs = node_defs(&feed, &data, "has no len()")?;
            add_defs(runt, &defs).await?;
            Ok(Val::Null)
        }
        "genr" => {
            super::ext::req_not_readonly(runt, "$lib.feed.genr")?;
            let feed = args.req(0, "name")?.to_str()?;
            let data = args.req(1, "data")?;
            Ok(GenVal::val(genr(Arc::clone(runt), feed, data)))
        }
        "fromAxon" => {
            super::ext::req_not_readonly(runt, "$lib.feed.fromAxon")?;
            let sha256 = args.req(0, "sha256")?.to_str()?;
            from_axon(runt, &sha256).await
        }
        other => Err(super::ext::nosuchname(other)),
    }
}

/// `$lib.feed.genr()`: each definition added (and its node yielded) as the generator is
/// consumed, one at a time as in the reference: a generator left early adds no more.
fn genr(runt: Arc<Runt>, feed: String, data: Val) -> BoxStream<'static, RResult<GenItem>> {
    async_stream::try_stream! {
        runt.layer_confirm(&feed_perm(&feed))?;
        let defs = node_defs(&feed, &data, "is not iterable")?;
        if !defs.is_empty() {
            log_feed(&runt, defs.len());
        }
        for def in defs {
            for node in add_chunk(&runt, std::slice::from_ref(&def)).await? {
                yield GenItem::Val(node);
            }
        }
    }
    .boxed()
}

/// `feed:data.<name parts>`
fn feed_perm(name: &str) -> Vec<&str> {
    let mut perm = vec!["feed:data"];
    perm.extend(name.split('.'));
    perm
}

/// The node definitions of a `syn.nodes` feed; `NoSuchName` for any other feed. `null` data
/// fails as in the reference (`nulls`: the end of its Python error message).
fn node_defs(name: &str, data: &Val, nulls: &str) -> RResult<Vec<Value>> {
    if name != SYN_NODES {
        return Err(Flow::Err(
            StormError::new("NoSuchName", format!("No feed function named {name}"))
                .with("name", name),
        ));
    }
    match data.to_msgpack()? {
        Value::Array(items) => Ok(items),
        Value::Nil => Err(super::error::rterr(format!(
            "object of type 'NoneType' {nulls}"
        ))),
        _ => Err(Flow::Err(StormError::new(
            "BadArg",
            "syn.nodes feed data must be a list of packed nodes",
        ))),
    }
}

/// Add node definitions through the query's editor, non-strict as the reference's
/// `addNodes` (a bad definition, value or property is skipped with a `warn` message); the
/// nodes added or merged, in order. Errors of the layer or the view end the query.
async fn add_defs(runt: &Arc<Runt>, defs: &[Value]) -> RResult<Vec<Val>> {
    log_feed(runt, defs.len());
    let mut out = Vec::with_capacity(defs.len());
    for chunk in defs.chunks(CHUNK) {
        out.extend(add_chunk(runt, chunk).await?);
    }
    Ok(out)
}

fn log_feed(runt: &Runt, count: usize) {
    tracing::info!(
        user = %runt.shared.user.name,
        "User ({}) adding feed data ({SYN_NODES}): {count}",
        runt.shared.user.name,
    );
}

/// Add a chunk of definitions as one flush of the query's editor, after its pending edits.
async fn add_chunk(runt: &Arc<Runt>, chunk: &[Value]) -> RResult<Vec<Val>> {
    let mut editor = runt.shared.editor.lock().await;
    // the query's earlier edits go first
    runt.flush(&mut editor).await?;
    editor.set_strict(false);
    let added = stage_defs(runt, &mut editor, chunk).await;
    editor.set_strict(true);
    let buids = match added {
        Ok(buids) => buids,
        Err(err) => {
            editor.reset();
            return Err(err);
        }
    };
    for warning in editor.take_warnings() {
        runt.shared.warn(&warning, Vec::new()).await;
    }
    runt.flush(&mut editor).await?;
    drop(editor);
    let nodes = runt.view.get_nodes(&buids).await.map_err(Flow::from)?;
    Ok(nodes
        .into_iter()
        .flatten()
        .map(|node| Val::Node(Arc::new(node)))
        .collect())
}

/// Stage node definitions, skipping bad ones with a warning.
async fn stage_defs(
    runt: &Runt,
    editor: &mut crate::view::Editor,
    defs: &[Value],
) -> RResult<Vec<Buid>> {
    editor.prefetch_defs(defs).await.map_err(Flow::from)?;
    let mut buids = Vec::with_capacity(defs.len());
    for def in defs {
        match editor.add_node_def(def).await {
            Ok(Some(buid)) => buids.push(buid),
            Ok(None) => {}
            Err(err) if is_item_error(&err) => {
                let mesg = format!(
                    "addNodes failed on {}: {err}",
                    super::value::Val::from_msgpack(def).repr()
                );
                runt.shared.warn(&mesg, Vec::new()).await;
            }
            Err(err) => return Err(Flow::from(err)),
        }
    }
    Ok(buids)
}

/// Whether an editor error only spoils one node definition.
fn is_item_error(err: &crate::view::Error) -> bool {
    !matches!(
        err,
        crate::view::Error::Layer(_)
            | crate::view::Error::IsReadOnly(_)
            | crate::view::Error::Denied(_)
    )
}

/// `$lib.feed.fromAxon(sha256)`: the Cortex's `feedFromAxon` as the query's user in its view.
async fn from_axon(runt: &Arc<Runt>, sha256: &str) -> RResult<Val> {
    // the query's edits first: the feed writes to the same layer outside the query's editor
    super::edit::flush(runt).await?;
    let core = cortex(runt)?;
    let opts = Value::Map(vec![
        (
            Value::from("user"),
            Value::from(runt.shared.user.iden.as_str()),
        ),
        (Value::from("view"), Value::from(runt.view.iden().as_str())),
    ]);
    let user = core.user_from_opts(&opts).map_err(cell_err)?;
    let view = core.view_from_opts(&opts, &user).map_err(cell_err)?;
    core.confirm(&user, &["node"], Some(&view.write_layer().iden()))
        .map_err(cell_err)?;
    let count = core
        .feed_from_axon(sha256, &view, &user)
        .await
        .map_err(cell_err)?;
    Ok(Val::Int(i128::from(count)))
}
