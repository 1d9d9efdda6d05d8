//! The tier-1 `$lib` functions and Storm type methods of `typesmore.rs`, replayed against what
//! the reference produced (recorded_types.json, from gen_recorded_types.py).

use serde_json::{Value as Json, json};

use super::util::replay_recorded;

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
    replay_recorded(&recorded, 60, canon).await;
}
