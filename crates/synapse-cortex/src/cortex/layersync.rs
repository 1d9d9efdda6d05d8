//! Layer push and pull: a layer's edits copied to another layer over telepath, as the
//! reference's `addLayrPush` / `addLayrPull`.
//!
//! A push sends the batches of a local layer's edit log to a layer reached by a telepath URL
//! (`tcp://user:pass@host:port/*/layer/<iden>`, served by [`crate::coreapi`]'s `LayerApi`) with
//! `storNodeEdits`; a pull follows a remote layer's `syncNodeEdits` and applies the batches to
//! the local layer. The configurations (`pdef`: `iden`, `url`, `user`, `time`, `offs`,
//! `queue:size`, `chunk:size`) are kept in the layer def (`pushs` / `pulls`), so they survive a
//! restart. Each runs as a background Boss task (`layer push: <layer> <iden>`) that reconnects
//! a second after an error, and records how far it got in the Storm global `push:<iden>` (for
//! pulls too, as the reference does): a restarted sync resumes after that offset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use rmpv::Value;
use synapse_base::Task;
use synapse_cell::{Error, Result, TaskOpts};

use super::{Cortex, poisoned, view_error};
use crate::layer::Layer;
use crate::nodeedit::{BuidForm, EditMeta, NodeEdit};

/// The reference's `layer_pdef_qsize` (default and largest `queue:size`).
const QUEUE_SIZE_MAX: i64 = 10_000;
/// The reference's `layer_pdef_csize` (default and largest `chunk:size`).
const CHUNK_SIZE_MAX: i64 = 1_000;
/// How long a failed sync waits before it reconnects.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The running push and pull tasks, by configuration iden.
#[derive(Default)]
pub(crate) struct LayerSyncs {
    tasks: Mutex<HashMap<String, Task<()>>>,
}

fn schema(mesg: impl Into<String>) -> Error {
    Error::named("SchemaViolation", mesg)
}

fn is_iden(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn get<'v>(items: &'v [(Value, Value)], key: &str) -> Option<&'v Value> {
    items
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Check a push or pull configuration as the reference's `reqValidPush` and fill in the
/// defaults of `queue:size` and `chunk:size`.
pub(crate) fn validate_pdef(pdef: Value) -> Result<Value> {
    let Value::Map(mut items) = pdef else {
        return Err(schema("data must be object"));
    };
    let missing: Vec<&str> = ["iden", "url", "user", "time"]
        .into_iter()
        .filter(|key| get(&items, key).is_none())
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = ["iden", "url", "user", "time"]
            .iter()
            .map(|k| format!("'{k}'"))
            .collect();
        return Err(schema(format!(
            "data must contain [{}] properties",
            names.join(", ")
        )));
    }
    for key in ["iden", "user"] {
        match get(&items, key).and_then(Value::as_str) {
            Some(text) if is_iden(text) => {}
            Some(text) => {
                return Err(
                    schema(format!("data.{key} must match pattern ^[0-9a-f]{{32}}$"))
                        .with("value", text),
                );
            }
            None => return Err(schema(format!("data.{key} must be string"))),
        }
    }
    if get(&items, "url").and_then(Value::as_str).is_none() {
        return Err(schema("data.url must be string"));
    }
    if !matches!(
        get(&items, "time"),
        Some(Value::Integer(_) | Value::F64(_) | Value::F32(_))
    ) {
        return Err(schema("data.time must be number"));
    }
    for (key, max) in [
        ("queue:size", QUEUE_SIZE_MAX),
        ("chunk:size", CHUNK_SIZE_MAX),
    ] {
        match get(&items, key) {
            None => items.push((Value::from(key), Value::from(max))),
            Some(Value::Integer(n)) => match n.as_i64() {
                Some(n) if n < 1 => {
                    return Err(schema(format!(
                        "data.{key} must be bigger than or equal to 1"
                    )));
                }
                Some(n) if n > max => {
                    return Err(schema(format!(
                        "data.{key} must be smaller than or equal to {max}"
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(schema(format!(
                        "data.{key} must be smaller than or equal to {max}"
                    )));
                }
            },
            Some(_) => return Err(schema(format!("data.{key} must be integer"))),
        }
    }
    Ok(Value::Map(items))
}

/// What a sync task needs to know of its configuration.
#[derive(Clone)]
struct SyncDef {
    layer: String,
    iden: String,
    url: String,
    user: String,
    offs: u64,
    chunk: usize,
    queue: usize,
    pull: bool,
}

impl SyncDef {
    fn new(layer: &str, pdef: &Value, pull: bool) -> Option<SyncDef> {
        let Value::Map(items) = pdef else { return None };
        let text = |key: &str| get(items, key).and_then(Value::as_str).map(str::to_owned);
        let int = |key: &str, defv: i64| get(items, key).and_then(Value::as_i64).unwrap_or(defv);
        Some(SyncDef {
            layer: layer.to_owned(),
            iden: text("iden")?,
            url: text("url")?,
            user: text("user").unwrap_or_default(),
            offs: u64::try_from(int("offs", 0)).unwrap_or(0),
            chunk: usize::try_from(int("chunk:size", CHUNK_SIZE_MAX).max(1)).unwrap_or(1),
            queue: usize::try_from(int("queue:size", QUEUE_SIZE_MAX).max(1)).unwrap_or(1),
            pull,
        })
    }

    fn kind(&self) -> &'static str {
        if self.pull { "pull" } else { "push" }
    }

    /// The Storm global holding the last offset synced (`push:<iden>` for both kinds).
    fn var(&self) -> String {
        format!("push:{}", self.iden)
    }
}

impl Cortex {
    fn req_layer(&self, iden: &str) -> Result<Layer> {
        self.views().layer(iden).ok_or_else(|| {
            Error::named("NoSuchLayer", format!("No such layer {iden}")).with("iden", iden)
        })
    }

    /// Add a push (`pull` false) or pull configuration to a layer and start it. A
    /// configuration whose iden the layer has already is left as it is.
    pub async fn add_layer_sync(
        self: &Arc<Self>,
        layriden: &str,
        pdef: Value,
        pull: bool,
    ) -> Result<()> {
        let pdef = validate_pdef(pdef)?;
        let layer = self.req_layer(layriden)?;
        let Some(sdef) = SyncDef::new(layriden, &pdef, pull) else {
            return Err(schema(
                "data must contain ['iden', 'url', 'user', 'time'] properties",
            ));
        };
        let (_, changed) = layer.set_sync_def(pull, &sdef.iden, Some(pdef));
        if !changed {
            return Ok(());
        }
        self.views()
            .save_layer_def(&layer)
            .await
            .map_err(view_error)?;
        self.run_layer_sync(sdef);
        Ok(())
    }

    /// Remove a push or pull configuration from a layer and stop it (nothing happens for an
    /// unknown layer or iden, as the reference).
    pub async fn del_layer_sync(&self, layriden: &str, iden: &str, pull: bool) -> Result<()> {
        let Some(layer) = self.views().layer(layriden) else {
            return Ok(());
        };
        let (_, changed) = layer.set_sync_def(pull, iden, None);
        if !changed {
            return Ok(());
        }
        self.views()
            .save_layer_def(&layer)
            .await
            .map_err(view_error)?;
        self.stop_layer_sync(iden).await;
        Ok(())
    }

    /// Start the pushes and pulls of every layer (when the Cortex starts).
    pub(crate) fn start_layer_syncs(self: &Arc<Self>) {
        for layer in self.views().layers() {
            let def = layer.def();
            for (pull, defs) in [(false, &def.pushs), (true, &def.pulls)] {
                for (_, pdef) in defs.iter().flatten() {
                    if let Some(sdef) = SyncDef::new(&def.iden, pdef, pull) {
                        self.run_layer_sync(sdef);
                    }
                }
            }
        }
    }

    /// Stop every push and pull (the Cortex is shutting down).
    pub(crate) async fn stop_layer_syncs(&self) {
        let tasks: Vec<Task<()>> = {
            let mut tasks = self.syncs.tasks.lock().unwrap_or_else(poisoned);
            tasks.drain().map(|(_, task)| task).collect()
        };
        for task in tasks {
            task.cancel();
            task.join().await;
        }
    }

    async fn stop_layer_sync(&self, iden: &str) {
        let task = self
            .syncs
            .tasks
            .lock()
            .unwrap_or_else(poisoned)
            .remove(iden);
        if let Some(task) = task {
            task.cancel();
            task.join().await;
        }
    }

    fn run_layer_sync(self: &Arc<Self>, sdef: SyncDef) {
        let mut tasks = self.syncs.tasks.lock().unwrap_or_else(poisoned);
        if tasks.get(&sdef.iden).is_some_and(|t| !t.is_finished()) {
            return;
        }
        let root = self.cell().auth().root_iden();
        let rootname = self
            .cell()
            .auth()
            .user(&root)
            .map_or_else(|| "root".to_owned(), |u| u.name.clone());
        let name = format!("layer {}: {} {}", sdef.kind(), sdef.layer, sdef.iden);
        let mut topts = TaskOpts::new(&name, &root, &rootname);
        topts.background = true;
        let iden = sdef.iden.clone();
        match self
            .cell()
            .boss()
            .spawn(topts, sync_loop(Arc::downgrade(self), sdef))
        {
            Ok((_, task)) => {
                tasks.insert(iden, task);
            }
            Err(err) => tracing::warn!(%iden, cause = %err, "cannot start a layer sync"),
        }
    }
}

/// Run a sync until it is removed or the Cortex goes away, reconnecting after errors.
async fn sync_loop(core: Weak<Cortex>, sdef: SyncDef) {
    // The last failure logged as a warning: the same one again is logged at debug level (a
    // sync to a server that is down retries every second).
    let mut last_err = None::<String>;
    loop {
        let Some(cortex) = core.upgrade() else { break };
        let layer = match cortex.views().layer(&sdef.layer) {
            Some(layer) => layer,
            None => break,
        };
        let def = layer.def();
        let defs = if sdef.pull { &def.pulls } else { &def.pushs };
        if !defs.iter().flatten().any(|(iden, _)| *iden == sdef.iden) {
            break;
        }
        let res = if sdef.pull {
            pull_once(&cortex, &layer, &sdef).await
        } else {
            push_once(&cortex, &layer, &sdef).await
        };
        match res {
            Err(err) => {
                let text = err.to_string();
                if last_err.as_deref() == Some(text.as_str()) {
                    tracing::debug!(
                        layer = %sdef.layer, iden = %sdef.iden, cause = %text,
                        "layer {} failed again", sdef.kind()
                    );
                } else {
                    tracing::warn!(
                        layer = %sdef.layer, iden = %sdef.iden, url = %redact(&sdef.url),
                        cause = %text, "layer {} failed; retrying every second", sdef.kind()
                    );
                    last_err = Some(text);
                }
            }
            Ok(()) => last_err = None,
        }
        drop(cortex);
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let creds = &url[start + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn tele_err(err: synapse_telepath::Error) -> Error {
    Error::named(err.name(), err.to_string())
}

/// Where a sync starts: after the offset it recorded, else the configured `offs`.
async fn start_offset(core: &Cortex, sdef: &SyncDef) -> Result<u64> {
    Ok(match core.get_storm_var(&sdef.var()).await? {
        Some(valu) => valu
            .as_u64()
            .map_or(sdef.offs, |offs| offs.saturating_add(1)),
        None => sdef.offs,
    })
}

/// Batches `(offset, edits)` gathered into chunks: everything that is ready, up to the queue
/// size, flushed whenever a chunk exceeds `chunk:size` edits.
async fn drain_chunks<S, F, Fut>(mut source: S, sdef: &SyncDef, mut store: F) -> Result<()>
where
    S: futures::Stream<Item = Result<(u64, Vec<NodeEdit>)>> + Unpin,
    F: FnMut(Vec<NodeEdit>, u64) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    while let Some(first) = source.next().await {
        let mut ready = vec![first?];
        while ready.len() < sdef.queue {
            match source.next().now_or_never() {
                Some(Some(item)) => ready.push(item?),
                _ => break,
            }
        }
        let mut chunk = Vec::new();
        let mut last = None;
        for (offs, edits) in ready {
            chunk.extend(edits);
            last = Some(offs);
            if chunk.len() > sdef.chunk {
                store(std::mem::take(&mut chunk), offs).await?;
                last = None;
            }
        }
        if let Some(offs) = last {
            store(chunk, offs).await?;
        }
    }
    Ok(())
}

/// Send the local layer's edits to the remote layer.
async fn push_once(core: &Arc<Cortex>, layer: &Layer, sdef: &SyncDef) -> Result<()> {
    let proxy = synapse_telepath::Proxy::open(&sdef.url)
        .await
        .map_err(tele_err)?;
    let offs = start_offset(core, sdef).await?;
    let source = layer
        .sync_edits(offs, true)
        .map(|entry| {
            entry
                .map(|entry| (entry.offset, entry.edits))
                .map_err(|err| view_error(err.into()))
        })
        .boxed();
    let res = drain_chunks(source, sdef, |edits, offs| {
        let proxy = &proxy;
        async move {
            let meta = EditMeta {
                time: synapse_base::now_ms(),
                user: sdef.user.clone(),
                extra: Vec::new(),
            };
            proxy
                .call(
                    "storNodeEdits",
                    vec![
                        NodeEdit::list_to_value(&edits, BuidForm::Bytes),
                        meta.to_value(),
                    ],
                    vec![],
                )
                .await
                .map_err(tele_err)?;
            core.set_storm_var(&sdef.var(), Value::from(offs)).await?;
            Ok(())
        }
    })
    .await;
    proxy.fini().await;
    res
}

/// Apply the remote layer's edits to the local layer.
async fn pull_once(core: &Arc<Cortex>, layer: &Layer, sdef: &SyncDef) -> Result<()> {
    let proxy = synapse_telepath::Proxy::open(&sdef.url)
        .await
        .map_err(tele_err)?;
    let offs = start_offset(core, sdef).await?;
    let stream = proxy
        .stream(
            "syncNodeEdits",
            vec![Value::from(offs)],
            vec![("wait".to_owned(), Value::Boolean(true))],
        )
        .await
        .map_err(tele_err)?;
    let source = stream
        .map(|item| {
            let item = item.map_err(tele_err)?;
            let bad = || Error::bad_arg("syncNodeEdits yielded a bad item");
            let parts = item.as_array().ok_or_else(bad)?;
            let offs = parts.first().and_then(Value::as_u64).ok_or_else(bad)?;
            let edits = parts
                .get(1)
                .map(NodeEdit::list_from_value)
                .transpose()
                .map_err(|err| Error::bad_arg(err.mesg.clone()))?
                .unwrap_or_default();
            Ok((offs, edits))
        })
        .boxed();
    let res = drain_chunks(source, sdef, |edits, offs| async move {
        let meta = EditMeta {
            time: synapse_base::now_ms(),
            user: sdef.user.clone(),
            extra: Vec::new(),
        };
        layer
            .apply(edits, meta)
            .await
            .map_err(|err| view_error(err.into()))?;
        core.set_storm_var(&sdef.var(), Value::from(offs)).await?;
        Ok(())
    })
    .await;
    proxy.fini().await;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdef(items: &[(&str, Value)]) -> Value {
        Value::Map(
            items
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn pdef_schema() {
        let iden = "a".repeat(32);
        let good = pdef(&[
            ("iden", Value::from(iden.as_str())),
            ("url", Value::from("tcp://127.0.0.1:1/*/layer")),
            ("user", Value::from(iden.as_str())),
            ("time", Value::from(1)),
        ]);
        let filled = validate_pdef(good.clone()).unwrap();
        let Value::Map(items) = &filled else { panic!() };
        assert_eq!(get(items, "queue:size"), Some(&Value::from(10_000)));
        assert_eq!(get(items, "chunk:size"), Some(&Value::from(1_000)));

        let err = validate_pdef(pdef(&[("url", Value::from("x"))])).unwrap_err();
        assert!(err.to_string().contains("must contain"), "{err}");

        let Value::Map(mut items) = good else {
            panic!()
        };
        items.push((Value::from("chunk:size"), Value::from(1001)));
        let err = validate_pdef(Value::Map(items)).unwrap_err();
        assert!(
            err.to_string().contains("smaller than or equal to 1000"),
            "{err}"
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact("tcp://root:secret@127.0.0.1:1/*/layer"),
            "tcp://root:****@127.0.0.1:1/*/layer"
        );
        assert_eq!(redact("cell:///tmp/x"), "cell:///tmp/x");
    }
}
