//! Helpers: a Cortex in a temp dir, sessions, calls, users.

use std::path::Path;

use futures::TryStreamExt;
use rmpv::Value;
use synapse_cell::{Args, CellApi, CellOptions, ConnInfo, Reply, Rule, Service, ServiceCell};
use synapse_cortex::cortex::Cortex;

pub(crate) type Core = ServiceCell<Cortex>;

/// Open (or reopen) the Cortex in `dirn`, root's password `secret`.
pub(crate) async fn open(dirn: &Path) -> Core {
    let opts = CellOptions::new(dirn, &Cortex::def())
        .conf("auth:passwd", "secret".into())
        .unwrap();
    ServiceCell::<Cortex>::open(opts).await.unwrap()
}

/// A fresh Cortex in a temp dir.
pub(crate) async fn fresh() -> (tempfile::TempDir, Core) {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir.path().join("core")).await;
    (dir, core)
}

pub(crate) fn root(core: &Core) -> CellApi<Cortex> {
    let iden = core.cell().auth().root_iden();
    core.session(&iden, ConnInfo::local())
}

/// A new user (with password `secret`), its session and iden.
pub(crate) async fn user(core: &Core, name: &str) -> (CellApi<Cortex>, String) {
    let user = core
        .cell()
        .auth()
        .add_user(name, Some("secret"), None, None)
        .await
        .unwrap();
    (
        core.session(&user.iden, ConnInfo::local()),
        user.iden.clone(),
    )
}

/// Allow `perm` to the user `iden` on `gate`.
pub(crate) async fn allow(core: &Core, iden: &str, perm: &[&str], gate: Option<&str>) {
    core.cell()
        .auth()
        .add_user_rule(iden, Rule::new(true, perm), None, gate)
        .await
        .unwrap();
}

pub(crate) fn s(text: &str) -> Value {
    Value::from(text)
}

pub(crate) fn list(items: Vec<Value>) -> Value {
    Value::Array(items)
}

pub(crate) fn dict(items: Vec<(&str, Value)>) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

pub(crate) fn get<'a>(valu: &'a Value, key: &str) -> &'a Value {
    synapse_cell::map_get(valu, key).unwrap_or_else(|| panic!("no {key} in {valu}"))
}

/// A plain method call.
pub(crate) async fn call(
    api: &CellApi<Cortex>,
    meth: &str,
    args: Vec<Value>,
) -> Result<Value, synapse_cell::Error> {
    match api.call(meth, Args::positional(args)).await? {
        Reply::Value(valu) => Ok(valu),
        other => panic!("{meth} replied {other:?}"),
    }
}

/// A generator call, collected.
pub(crate) async fn genr(
    api: &CellApi<Cortex>,
    meth: &str,
    args: Vec<Value>,
) -> Result<Vec<Value>, synapse_cell::Error> {
    match api.call(meth, Args::positional(args)).await? {
        Reply::Genr(items) => items.try_collect().await,
        other => panic!("{meth} replied {other:?}"),
    }
}

/// A node definition `[[form, valu], info]`.
pub(crate) fn nodedef(form: &str, valu: Value, info: Value) -> Value {
    list(vec![list(vec![s(form), valu]), info])
}

pub(crate) fn ndef_of(pode: &Value) -> (String, Value) {
    let ndef = pode.as_array().unwrap()[0].as_array().unwrap();
    (ndef[0].as_str().unwrap().to_string(), ndef[1].clone())
}
