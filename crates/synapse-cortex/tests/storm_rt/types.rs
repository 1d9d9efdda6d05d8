//! The tier-1 `$lib` functions and Storm type methods of `typesmore.rs`, replayed against what
//! the reference produced (recorded_types.json, from gen_recorded_types.py).

use serde_json::{Value as Json, json};

use super::util::{Core, msgpack_to_json};

/// The comparable part of a message, as the recorder writes it.
fn canon(kind: &str, info: &Json) -> Option<Json> {
    match kind {
        "node" => Some(json!(["node", info[0][0], info[0][1]])),
        "print" | "warn" => Some(json!([kind, info["mesg"]])),
        "err" => Some(json!(["err", info[0], info[1]["mesg"]])),
        _ => None,
    }
}

#[tokio::test]
async fn tier1_types_match_the_reference() {
    let recorded: Json =
        serde_json::from_str(include_str!("recorded_types.json")).expect("recorded_types.json");
    let core = Core::new().await;
    for q in recorded["setup"].as_array().expect("setup") {
        let mesgs = core
            .storm(q.as_str().expect("setup query"), &json!({}))
            .await;
        assert!(
            mesgs.iter().all(|m| m.kind != "err"),
            "setup {q} failed: {mesgs:?}"
        );
    }
    let cases = recorded["cases"].as_array().expect("cases");
    assert!(cases.len() >= 60);
    let mut failed = Vec::new();
    for case in cases {
        let query = case["query"].as_str().expect("query");
        let have: Vec<Json> = core
            .storm(query, &json!({}))
            .await
            .iter()
            .filter_map(|m| canon(&m.kind, &msgpack_to_json(&m.info)))
            .collect();
        let want = case["expect"].as_array().expect("expect");
        if &have != want {
            failed.push(format!(
                "{query}\n  want {}\n  have {}",
                Json::Array(want.clone()),
                Json::Array(have)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
