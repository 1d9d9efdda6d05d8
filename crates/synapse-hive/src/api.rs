//! The hive over telepath: [`HiveApi`], the per-session object of the reference's remote hive
//! (`synapse.lib.hive.HiveApi`, removed from the reference in 2.200 but still spoken by old
//! tools), and [`HiveShare`], the factory a daemon shares.

use std::sync::{Arc, OnceLock};

use futures::FutureExt;
use futures::future::BoxFuture;
use rmpv::Value;
use synapse_telepath::{Call, Methods, RemoteError, Session, Share, ShareFactory, genr};
use tokio::sync::{Mutex, mpsc, watch};

use crate::error::Error;
use crate::hive::{Hive, path_from_value};

/// The most messages a session's edit queue holds (the reference's queue size).
const QUEUE_SIZE: usize = 10_000;

fn remote(err: Error) -> RemoteError {
    RemoteError::new(err.class(), err.to_string())
}

fn sync_msg(iden: Value) -> Value {
    Value::Array(vec![
        Value::from("hive:sync"),
        Value::Map(vec![(Value::from("iden"), iden)]),
    ])
}

/// One session's view of a hive: reads, writes, and the `edits()` stream of the subtrees the
/// session synchronized with `treeAndSync`.
pub struct HiveApi {
    hive: Hive,
    queue: mpsc::Sender<Value>,
    edits: Arc<Mutex<mpsc::Receiver<Value>>>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for HiveApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiveApi").finish_non_exhaustive()
    }
}

impl HiveApi {
    /// A new session object over `hive`.
    pub fn new(hive: Hive) -> Arc<HiveApi> {
        let (queue, edits) = mpsc::channel(QUEUE_SIZE);
        Arc::new(HiveApi {
            hive,
            queue,
            edits: Arc::new(Mutex::new(edits)),
            stop: watch::channel(false).0,
        })
    }

    /// The session object as a telepath share.
    pub fn share(hive: Hive) -> Arc<dyn Share> {
        methods().bind(HiveApi::new(hive))
    }

    fn sync(&self, iden: Value) -> Result<(), RemoteError> {
        self.queue
            .try_send(sync_msg(iden))
            .map_err(|_| RemoteError::new("SynErr", "the session's edit queue is full"))
    }
}

/// Resolves once the session object is torn down.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        let done = *stop.borrow_and_update();
        if done || stop.changed().await.is_err() {
            return;
        }
    }
}

fn path_param(value: Option<Value>) -> Result<Vec<String>, RemoteError> {
    path_from_value(&value.unwrap_or(Value::Nil)).map_err(remote)
}

fn methods() -> &'static Arc<Methods<HiveApi>> {
    static METHODS: OnceLock<Arc<Methods<HiveApi>>> = OnceLock::new();
    METHODS.get_or_init(|| {
        Arc::new(
            Methods::<HiveApi>::new(["synapse.lib.hive.HiveApi", "synapse.lib.base.Base"])
                .unary("get", |api, mut call: Call| async move {
                    let mut params = call.params(&["full"])?;
                    let path = path_param(params.opt("full")?)?;
                    Ok(api.hive.get(&path).unwrap_or(Value::Nil))
                })
                .genr("edits", |api, mut call: Call| {
                    call.no_args()?;
                    let edits = Arc::clone(&api.edits);
                    let mut stop = api.stop.subscribe();
                    Ok(genr(move |y| async move {
                        loop {
                            let next = async {
                                let mut rx = edits.lock().await;
                                rx.recv().await
                            };
                            tokio::select! {
                                () = stopped(&mut stop) => return Ok(()),
                                msg = next => match msg {
                                    Some(msg) => y.emit(msg).await,
                                    None => return Ok(()),
                                },
                            }
                        }
                    }))
                })
                .unary("treeAndSync", |api, mut call: Call| async move {
                    let mut params = call.params(&["path", "iden"])?;
                    let path = path_param(params.opt("path")?)?;
                    let iden: Value = params.req("iden")?;
                    if !api.hive.subscribe_msgs(&path, &api.queue) {
                        return Err(RemoteError::new(
                            "SynErr",
                            "the session's edit queue is full",
                        ));
                    }
                    api.sync(iden)?;
                    Ok(Value::Nil)
                })
                .unary("setAndSync", |api, mut call: Call| async move {
                    let mut params = call.params(&["path", "valu", "iden", "nexs="])?;
                    let path = path_param(params.opt("path")?)?;
                    let valu: Value = params.req("valu")?;
                    let iden: Value = params.req("iden")?;
                    let _nexs: Option<bool> = params.opt("nexs")?;
                    let old = api.hive.set(&path, valu).await.map_err(remote)?;
                    api.sync(iden)?;
                    Ok(old)
                })
                .unary("addAndSync", |api, mut call: Call| async move {
                    let mut params = call.params(&["path", "valu", "iden"])?;
                    let path = path_param(params.opt("path")?)?;
                    let valu: Value = params.req("valu")?;
                    let iden: Value = params.req("iden")?;
                    let new = api.hive.add(&path, valu).await.map_err(remote)?;
                    api.sync(iden)?;
                    Ok(new)
                })
                .unary("popAndSync", |api, mut call: Call| async move {
                    let mut params = call.params(&["path", "iden", "nexs="])?;
                    let path = path_param(params.opt("path")?)?;
                    let iden: Value = params.req("iden")?;
                    let _nexs: Option<bool> = params.opt("nexs")?;
                    let valu = api.hive.pop(&path).await.map_err(remote)?;
                    api.sync(iden)?;
                    Ok(valu)
                })
                .unary("saveHiveTree", |api, mut call: Call| async move {
                    let mut params = call.params(&["path="])?;
                    let path = path_param(params.opt("path")?)?;
                    Ok(api.hive.save_tree(&path))
                })
                .unary("loadHiveTree", |api, mut call: Call| async move {
                    let mut params = call.params(&["tree", "path=", "trim="])?;
                    let tree: Value = params.req("tree")?;
                    let path = path_param(params.opt("path")?)?;
                    let trim = params.or("trim", false)?;
                    api.hive
                        .load_tree(&tree, &path, trim)
                        .await
                        .map_err(remote)?;
                    Ok(Value::Nil)
                })
                .on_fini(|api| async move {
                    api.stop.send_replace(true);
                    api.edits.lock().await.close();
                }),
        )
    })
}

/// Shares a hive on a daemon: every session gets its own [`HiveApi`]. No authentication: a
/// Cell wraps the hive API in its own permission checks.
#[derive(Debug, Clone)]
pub struct HiveShare {
    hive: Hive,
}

impl HiveShare {
    /// A factory for `hive`'s session objects.
    pub fn new(hive: Hive) -> Arc<HiveShare> {
        Arc::new(HiveShare { hive })
    }
}

impl ShareFactory for HiveShare {
    fn open<'a>(
        &'a self,
        _sess: &'a Session,
        _path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn Share>, RemoteError>> {
        futures::future::ready(Ok(HiveApi::share(self.hive.clone()))).boxed()
    }
}
