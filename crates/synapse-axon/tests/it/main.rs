//! Integration tests of synapse-axon: the store, the telepath API in-process, the HTTP API
//! in-process, and the real binary (durability, memory) and the reference's Python client
//! against it.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod binary;
mod http;
mod https;
mod python;
mod server;
mod store;
mod wget;
mod wget_interop;

use rmpv::Value;
use serde_json::Value as Json;
use synapse_axon::AxonService;
use synapse_cell::{Args, CellOptions, ConnInfo, Reply, Service, ServiceCell};
use tempfile::TempDir;

/// A fresh Axon cell in a temp dir with root's password `secret` and extra `conf`.
pub(crate) async fn open_axon(conf: &[(&str, Json)]) -> (TempDir, ServiceCell<AxonService>) {
    let dir = tempfile::tempdir().unwrap();
    let cell = open_axon_in(dir.path(), conf).await;
    (dir, cell)
}

/// An Axon cell in `path/axon`.
pub(crate) async fn open_axon_in(
    path: &std::path::Path,
    conf: &[(&str, Json)],
) -> ServiceCell<AxonService> {
    let mut opts = CellOptions::new(path.join("axon"), &AxonService::def())
        .conf("auth:passwd", "secret".into())
        .unwrap();
    for (key, valu) in conf {
        opts = opts.conf(key, valu.clone()).unwrap();
    }
    ServiceCell::<AxonService>::open(opts).await.unwrap()
}

/// A telepath session of the root user.
pub(crate) fn root_api(cell: &ServiceCell<AxonService>) -> synapse_cell::CellApi<AxonService> {
    let root = cell.cell().auth().root_iden();
    cell.session(&root, ConnInfo::local())
}

/// A call's error in its wire form.
#[derive(Debug)]
pub(crate) struct Fail {
    name: String,
    info: Value,
}

impl Fail {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn mesg(&self) -> &str {
        self.get("mesg").and_then(Value::as_str).unwrap_or_default()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        synapse_cell::map_get(&self.info, key)
    }
}

impl From<synapse_cell::Error> for Fail {
    fn from(err: synapse_cell::Error) -> Self {
        let (name, info) = err.to_remote();
        Fail { name, info }
    }
}

impl From<synapse_telepath::RemoteError> for Fail {
    fn from(err: synapse_telepath::RemoteError) -> Self {
        Fail {
            name: err.name,
            info: err.info,
        }
    }
}

/// Call and expect a value.
pub(crate) async fn call(
    api: &synapse_cell::CellApi<AxonService>,
    meth: &str,
    args: Vec<Value>,
) -> Result<Value, Fail> {
    match api.call(meth, Args::positional(args)).await? {
        Reply::Value(valu) => Ok(valu),
        other => panic!("{meth} did not return a value: {other:?}"),
    }
}

/// Call a generator and collect its items (stopping at the first error).
pub(crate) async fn genr(
    api: &synapse_cell::CellApi<AxonService>,
    meth: &str,
    args: Args,
) -> Result<Vec<Value>, Fail> {
    use futures::StreamExt;
    match api.call(meth, args).await? {
        Reply::Genr(mut items) => {
            let mut out = Vec::new();
            while let Some(item) = items.next().await {
                out.push(item?);
            }
            Ok(out)
        }
        other => panic!("{meth} is not a generator: {other:?}"),
    }
}

/// Call a method of a share.
pub(crate) async fn share_call(
    share: &std::sync::Arc<dyn synapse_cell::ShareObject>,
    meth: &str,
    args: Vec<Value>,
) -> Result<Value, Fail> {
    match share.call(meth, Args::positional(args)).await? {
        Reply::Value(valu) => Ok(valu),
        other => panic!("{meth} did not return a value: {other:?}"),
    }
}

/// Binary value.
pub(crate) fn bin(byts: &[u8]) -> Value {
    Value::Binary(byts.to_vec())
}
