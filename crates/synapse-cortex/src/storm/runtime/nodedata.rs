//! Node data carried on nodes: as the reference's node objects, which live as long as the
//! query, a node keeps the data `$node.data.load()` read and the data the query set (`set`,
//! `cacheset`) or popped, and the packed node the client receives (`nodedata`) shows it, on
//! every later appearance of the node in the query.

use std::collections::HashMap;
use std::sync::Mutex;

use rmpv::Value;

use super::runt::Shared;
use crate::nodeedit::Buid;

/// Per-query node data by node: `Some` a value the node carries, `None` one it dropped.
pub(crate) type Carried = Mutex<HashMap<Buid, Vec<(String, Option<Value>)>>>;

/// Note that `buid` now carries `name` (or dropped it, with `None`).
pub(crate) fn carry(shared: &Shared, buid: Buid, name: &str, valu: Option<Value>) {
    let mut map = shared.nodedata.lock().unwrap_or_else(|e| e.into_inner());
    let items = map.entry(buid).or_default();
    match items.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = valu,
        None => items.push((name.to_owned(), valu)),
    }
}

/// Lay the carried node data of `buid` over a packed node's `nodedata`.
pub(crate) fn overlay(shared: &Shared, buid: &Buid, pode: &mut Value) {
    let map = shared.nodedata.lock().unwrap_or_else(|e| e.into_inner());
    let Some(items) = map.get(buid) else {
        return;
    };
    let Value::Array(parts) = pode else {
        return;
    };
    let Some(Value::Map(info)) = parts.get_mut(1) else {
        return;
    };
    let slot = match info
        .iter()
        .position(|(k, _)| k.as_str() == Some("nodedata"))
    {
        Some(idx) => idx,
        None => {
            info.push((Value::from("nodedata"), Value::Map(Vec::new())));
            info.len() - 1
        }
    };
    if !matches!(info[slot].1, Value::Map(_)) {
        info[slot].1 = Value::Map(Vec::new());
    }
    let Value::Map(data) = &mut info[slot].1 else {
        return;
    };
    for (name, valu) in items {
        let at = data
            .iter()
            .position(|(k, _)| k.as_str() == Some(name.as_str()));
        match (at, valu) {
            (Some(idx), Some(valu)) => data[idx].1 = valu.clone(),
            (None, Some(valu)) => data.push((Value::from(name.as_str()), valu.clone())),
            (Some(idx), None) => {
                data.remove(idx);
            }
            (None, None) => {}
        }
    }
}
