//! Node data carried on nodes (`runtime/nodedata.rs`: the packed nodes' `nodedata`) and the
//! printing of Python-native lists and dicts (`runtime/pyvals.rs`), replayed against what the
//! reference produced (recorded_gaps.json, from gen_recorded_gaps.py).

use serde_json::{Value as Json, json};

use super::util::replay_recorded;

/// Times (of `cacheset` envelopes) differ between runs.
fn mask_times(valu: &Json) -> Json {
    match valu {
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_times(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(mask_times).collect()),
        Json::Number(n) if n.as_i64().is_some_and(|n| n > 1_500_000_000_000) => json!("time"),
        other => other.clone(),
    }
}

/// The comparable part of a message, as the recorder writes it: nodes with their node data.
fn canon(kind: &str, info: &Json) -> Option<Json> {
    match kind {
        "node" => Some(json!([
            "node",
            info[0][0],
            info[0][1],
            mask_times(&info[1]["nodedata"])
        ])),
        "print" | "warn" => Some(json!([kind, info["mesg"]])),
        "err" => Some(json!(["err", info[0], info[1]["mesg"]])),
        _ => None,
    }
}

#[tokio::test]
async fn storm_gaps_match_the_reference() {
    let recorded: Json =
        serde_json::from_str(include_str!("recorded_gaps.json")).expect("recorded_gaps.json");
    replay_recorded(&recorded, 45, canon).await;
}
