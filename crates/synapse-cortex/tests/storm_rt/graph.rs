//! The subgraph projection (`graph` command and option), `once` and `tag.prune`, replayed
//! against what the reference produced (recorded_graph.json, from gen_recorded_graph.py):
//! nodes in order, with their tags, path metadata and `path.edges`.

use serde_json::{Value as Json, json};

use super::util::replay_recorded;

/// The comparable part of a message, as the recorder writes it.
fn canon(kind: &str, info: &Json) -> Option<Json> {
    match kind {
        "node" => {
            let form = info[0][0].clone();
            let valu = info[0][1].clone();
            let inf = &info[1];
            let mut tags: Vec<String> = inf["tags"]
                .as_object()
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            tags.sort();
            let mut path = inf["path"].as_object().cloned().unwrap_or_default();
            let edges = path.remove("edges");
            let mut edges: Vec<String> = edges
                .and_then(|e| e.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(sorted_json)
                .collect();
            edges.sort();
            Some(json!(["node", form, valu, tags, Json::Object(path), edges]))
        }
        "print" | "warn" => Some(json!([kind, info["mesg"]])),
        "err" => Some(json!(["err", info[0], info[1]["mesg"]])),
        _ => None,
    }
}

/// JSON text with sorted keys and Python's separators, as `json.dumps(..., sort_keys=True)`.
fn sorted_json(v: &Json) -> String {
    match v {
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(sorted_json).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}: {}", Json::from(k.as_str()), sorted_json(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

#[tokio::test]
async fn graph_once_and_tag_prune_match_the_reference() {
    let recorded: Json =
        serde_json::from_str(include_str!("recorded_graph.json")).expect("recorded_graph.json");
    replay_recorded(&recorded, 20, canon).await;
}
