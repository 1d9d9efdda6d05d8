//! Bulk node ingest: `addNodes` and the `syn.nodes` feed.
//!
//! Node definitions are applied in batches: each batch is normalized through the editor with
//! the state of every node it touches prefetched in one read per layer, handed to the write
//! layer in slices (each atomic, written by the slab thread while the next one is normalized),
//! committed, and only then are its nodes read back and yielded. A pode the caller received
//! therefore names a committed node (a crash loses no acknowledged node and leaves no
//! half-written one); a crash may keep the first slices of the batch in flight.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_cell::{Error, Result};

use crate::node::PackOpts;
use crate::nodeedit::{Buid, EditMeta};
use crate::view::{self, AllowAll, View};

use super::view_error;

/// Node definitions per committed batch.
pub(crate) const BATCH: usize = 1000;

/// Node definitions per slice of a batch handed to the layer (see [`add_batch`]).
const SLICE: usize = 125;

/// Whether an editor error only spoils one node definition (skipped with a warning, as the
/// reference's non-strict snap does) rather than the whole batch.
fn is_item_error(err: &view::Error) -> bool {
    !matches!(
        err,
        view::Error::Layer(_) | view::Error::IsReadOnly(_) | view::Error::Denied(_)
    )
}

/// Add one batch; the packed nodes added or merged, in input order.
pub(crate) async fn add_batch(
    view: &View,
    user: &str,
    defs: &[Value],
    pack: bool,
) -> Result<Vec<Value>> {
    if view.is_readonly() {
        return Err(Error::named("IsReadOnly", "The view is in read-only mode."));
    }
    let mut editor = view.editor(EditMeta::now(user), AllowAll::arc());
    editor.set_strict(false);
    // Applied in slices without waiting for the rows to be written: the slab thread writes
    // the rows of one slice while this task normalizes the next. Nothing is acknowledged
    // before the commit below.
    editor.set_deferred_commit(true);
    let slices: Vec<&[Value]> = defs.chunks(SLICE).collect();
    if let Some(first) = slices.first() {
        editor.prefetch_defs(first).await.map_err(view_error)?;
    }
    let mut buids: Vec<Buid> = Vec::with_capacity(defs.len());
    let layer = view.write_layer();
    // The commit of the slice handed over last, with the range of its nodes in `buids`.
    let mut committing = None;
    let mut podes = Vec::new();
    for (idx, slice) in slices.iter().copied().enumerate() {
        let first = buids.len();
        for def in slice {
            match editor.add_node_def(def).await {
                Ok(Some(buid)) => buids.push(buid),
                Ok(None) => {}
                Err(err) if is_item_error(&err) => {
                    tracing::warn!(cause = %err, "addNodes failed on a node definition");
                }
                Err(err) => return Err(view_error(err)),
            }
        }
        for warning in editor.take_warnings() {
            tracing::warn!("addNodes: {warning}");
        }
        // Each slice is committed on its own, while this task normalizes the next one; the
        // next slice waits for that commit, or the slab thread would fold it into the same
        // commit. Small commits dirty fewer pages each, so the layer file keeps fewer freed
        // pages (LMDB reuses a commit's freed pages two commits later), and write no slower.
        // The model hooks and the batch's nodeedits are made while the slab thread still
        // writes the previous slice.
        editor.prepare().await.map_err(view_error)?;
        if let Some((commit, range)) = committing.take() {
            wait_commit(commit).await?;
            editor.mark_committed();
            if pack {
                podes.push(read_podes(view, &buids[range]));
            }
        }
        editor.apply().await.map_err(view_error)?;
        committing = Some((layer.sync_later(), first..buids.len()));
        // The next slice's nodes are read while the slab thread writes this one (all but
        // those this slice touched, which are read after it when needed).
        if let Some(next) = slices.get(idx + 1) {
            editor.prefetch_defs_ahead(next).await.map_err(view_error)?;
        }
    }
    if let Some((commit, range)) = committing {
        wait_commit(commit).await?;
        if pack {
            podes.push(read_podes(view, &buids[range]));
        }
    }
    let mut out = Vec::with_capacity(buids.len());
    for task in podes {
        let packed = task
            .await
            .map_err(|err| Error::named("SynErr", format!("reading added nodes failed: {err}")))?;
        out.extend(packed?);
    }
    Ok(out)
}

/// Read back and pack the nodes of a committed slice, on a task of its own so that it runs
/// while the next slices are normalized and written. The write layer is read as of its last
/// commit: a pode shows its node as its slice left it, or as a later slice did.
fn read_podes(view: &View, buids: &[Buid]) -> tokio::task::JoinHandle<Result<Vec<Value>>> {
    let view = view.clone();
    let buids = buids.to_vec();
    tokio::spawn(async move {
        let nodes = view.get_nodes_committed(&buids).await.map_err(view_error)?;
        let model = view.model();
        Ok(nodes
            .into_iter()
            .flatten()
            .map(|node| node.pack(model, PackOpts::default()))
            .collect())
    })
}

async fn wait_commit(commit: impl Future<Output = Result<(), crate::layer::Error>>) -> Result<()> {
    commit
        .await
        .map_err(|err| view_error(view::Error::from(err)))
}

/// The podes of `defs` added to `view` batch by batch (see the module docs). An error ends
/// the stream after its batch.
pub(crate) fn add_nodes(
    defs: Vec<Value>,
    view: View,
    user: String,
) -> BoxStream<'static, Result<Value>> {
    let defs = Arc::new(defs);
    stream::unfold(Some(0usize), move |state| {
        let view = view.clone();
        let user = user.clone();
        let defs = Arc::clone(&defs);
        async move {
            let start = state?;
            if start >= defs.len() {
                return None;
            }
            let end = (start + BATCH).min(defs.len());
            match add_batch(&view, &user, &defs[start..end], true).await {
                Ok(podes) => Some((stream::iter(podes.into_iter().map(Ok)).boxed(), Some(end))),
                Err(err) => Some((stream::once(async move { Err(err) }).boxed(), None)),
            }
        }
    })
    .flatten()
    .boxed()
}

/// Feed `items` (packed nodes) into `view` without yielding them (`addFeedData('syn.nodes')`).
pub(crate) async fn feed_nodes(view: &View, user: &str, items: &[Value]) -> Result<()> {
    for chunk in items.chunks(BATCH) {
        add_batch(view, user, chunk, false).await?;
    }
    Ok(())
}
