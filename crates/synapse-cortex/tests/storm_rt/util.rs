//! An in-process cortex for Storm tests and helpers to run queries.

use std::sync::Arc;

use futures::StreamExt;
use rmpv::Value;
use serde_json::Value as Json;
use synapse_cortex::model::Model;
use synapse_cortex::storm::runtime::{self, Message, StormCore, StormOpts, StormUser};
use synapse_cortex::view::Views;

/// A cortex on a temporary directory.
pub(crate) struct Core {
    pub(crate) core: Arc<StormCore>,
    _dir: tempfile::TempDir,
}

impl Core {
    pub(crate) async fn new() -> Core {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = Model::load_default().expect("model");
        // as the cortex does: the default view and layer are created by root
        let views = Views::open_as(dir.path(), model, &Core::root().iden)
            .await
            .expect("views");
        Core {
            core: Arc::new(StormCore::new(Arc::new(views))),
            _dir: dir,
        }
    }

    pub(crate) fn root() -> StormUser {
        StormUser::admin("0434a354c0d7c0b1c0d7c0b1c0d7c0b1", "root")
    }

    /// Every message of a `storm()` call.
    pub(crate) async fn storm(&self, text: &str, opts: &Json) -> Vec<Message> {
        self.storm_as(Core::root(), text, opts).await
    }

    pub(crate) async fn storm_as(&self, user: StormUser, text: &str, opts: &Json) -> Vec<Message> {
        let opts = match StormOpts::from_value(&json_to_msgpack(opts)) {
            Ok(opts) => opts,
            Err(e) => return vec![Message::new("err", e.to_value())],
        };
        runtime::storm(Arc::clone(&self.core), user, text.to_owned(), opts)
            .collect()
            .await
    }

    /// `callStorm()`: the JSON of the return value, or the error class.
    pub(crate) async fn call(&self, text: &str, opts: &Json) -> Result<Json, String> {
        let opts = StormOpts::from_value(&json_to_msgpack(opts)).map_err(|e| e.name.clone())?;
        match runtime::call_storm(Arc::clone(&self.core), Core::root(), text, opts).await {
            Ok(v) => Ok(msgpack_to_json(&v)),
            Err(e) => Err(e.name),
        }
    }
}

/// JSON to msgpack (objects become maps, arrays arrays).
pub(crate) fn json_to_msgpack(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => match n.as_u64() {
                Some(u) => Value::from(u),
                None => Value::F64(n.as_f64().unwrap_or_default()),
            },
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_msgpack).collect()),
        Json::Object(items) => Value::Map(
            items
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), json_to_msgpack(v)))
                .collect(),
        ),
    }
}

/// Msgpack to JSON as the runner's `plain()` does (bytes as `{"$bytes": hex}`).
pub(crate) fn msgpack_to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => match i.as_i64() {
            Some(v) => Json::from(v),
            None => Json::from(i.as_u64().unwrap_or_default()),
        },
        Value::F32(f) => Json::from(*f as f64),
        Value::F64(f) => Json::from(*f),
        Value::String(s) => Json::from(s.as_str().unwrap_or_default()),
        Value::Binary(b) => serde_json::json!({"$bytes": hex::encode(b)}),
        Value::Array(items) => Json::Array(items.iter().map(msgpack_to_json).collect()),
        Value::Map(items) => Json::Object(
            items
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap_or_default().to_owned(),
                        msgpack_to_json(v),
                    )
                })
                .collect(),
        ),
        Value::Ext(..) => Json::Null,
    }
}

/// The comparable parts of a `storm()` stream, as the runner records them.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) nodes: Vec<Json>,
    pub(crate) mesgs: Vec<Json>,
    pub(crate) error: Option<String>,
}

pub(crate) fn outcome(mesgs: &[Message]) -> Outcome {
    let mut out = Outcome::default();
    for mesg in mesgs {
        match mesg.kind.as_str() {
            "node" => {
                let pode = msgpack_to_json(&mesg.info);
                let form = pode[0][0].clone();
                let valu = pode[0][1].clone();
                let mut props = pode[1]["props"].as_object().cloned().unwrap_or_default();
                props.remove(".created");
                let mut tags: Vec<String> = pode[1]["tags"]
                    .as_object()
                    .map(|t| t.keys().cloned().collect())
                    .unwrap_or_default();
                tags.sort();
                out.nodes.push(serde_json::json!([form, valu, props, tags]));
            }
            "print" | "warn" => {
                let info = msgpack_to_json(&mesg.info);
                out.mesgs.push(serde_json::json!([mesg.kind, info["mesg"]]));
            }
            "err" if out.error.is_none() => {
                out.error = msgpack_to_json(&mesg.info)[0].as_str().map(str::to_owned);
            }
            _ => {}
        }
    }
    out
}

/// A canonical text of a JSON value (sorted keys) for multiset comparisons.
pub(crate) fn canon(v: &Json) -> String {
    match v {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Json::from(k.as_str()), canon(&map[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(canon).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// Compare two lists (in order, or as multisets); a description of the difference.
pub(crate) fn same_list(want: &[Json], have: &[Json], ordered: bool) -> Option<String> {
    let w: Vec<String> = want.iter().map(canon).collect();
    let h: Vec<String> = have.iter().map(canon).collect();
    let (mut ws, mut hs) = (w.clone(), h.clone());
    if !ordered {
        ws.sort();
        hs.sort();
    }
    if ws == hs {
        return None;
    }
    Some(format!("expected {w:?}\n      got {h:?}"))
}

/// Replay a recorded suite (`{"setup": [query], "cases": [{query, opts?, expect}]}`, written
/// by one of the `gen_recorded_*.py` scripts from the reference) on a fresh cortex: each
/// case's messages, reduced by `canon`, must equal what the reference produced.
pub(crate) async fn replay_recorded(
    recorded: &Json,
    min_cases: usize,
    canon: fn(&str, &Json) -> Option<Json>,
) {
    let core = Core::new().await;
    for q in recorded["setup"].as_array().expect("setup") {
        let mesgs = core
            .storm(q.as_str().expect("setup query"), &serde_json::json!({}))
            .await;
        assert!(
            mesgs.iter().all(|m| m.kind != "err"),
            "setup {q} failed: {mesgs:?}"
        );
    }
    let cases = recorded["cases"].as_array().expect("cases");
    assert!(cases.len() >= min_cases);
    let mut failed = Vec::new();
    for case in cases {
        let query = case["query"].as_str().expect("query");
        let mut opts = match &case["opts"] {
            Json::Object(o) => Json::Object(o.clone()),
            _ => serde_json::json!({}),
        };
        opts["repr"] = Json::Bool(false);
        let have: Vec<Json> = core
            .storm(query, &opts)
            .await
            .iter()
            .filter_map(|m| canon(&m.kind, &msgpack_to_json(&m.info)))
            .collect();
        let want = case["expect"].as_array().expect("expect");
        if &have != want {
            failed.push(format!(
                "{query} {opts}\n  want {}\n  have {}",
                Json::Array(want.clone()),
                Json::Array(have)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
