//! Helpers for the storage tests.

use futures::TryStreamExt;
use rmpv::Value;
use synapse_cortex::model::Model;
use synapse_cortex::node::Node;
use synapse_cortex::nodeedit::EditMeta;
use synapse_cortex::view::{AllowAll, Editor, NodeStream, View, Views};

pub(crate) async fn open(dir: &std::path::Path) -> Views {
    Views::open(dir, Model::load_default().unwrap())
        .await
        .unwrap()
}

pub(crate) fn editor(view: &View) -> Editor {
    view.editor(EditMeta::now("root"), AllowAll::arc())
}

pub(crate) async fn nodes(stream: NodeStream) -> Vec<Node> {
    stream.try_collect().await.unwrap()
}

pub(crate) fn s(text: &str) -> Value {
    Value::from(text)
}

pub(crate) fn ndefs(nodes: &[Node]) -> Vec<(String, Value)> {
    nodes
        .iter()
        .map(|n| (n.form.clone(), n.valu.clone()))
        .collect()
}
