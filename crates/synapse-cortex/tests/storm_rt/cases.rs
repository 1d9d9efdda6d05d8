//! Data-driven Storm cases of our own (expectations recorded from the reference).

use super::util::{Core, msgpack_to_json};

/// Print the messages of `STORM_DEBUG` queries (separated by `;;`), for development.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_messages() {
    let text = std::env::var("STORM_DEBUG").unwrap_or_else(|_| "[inet:asn=1]".into());
    let core = Core::new().await;
    let mut all = Vec::new();
    for q in text.split(";;") {
        let mesgs = core.storm(q, &serde_json::json!({})).await;
        for m in &mesgs {
            eprintln!("{} {}", m.kind, msgpack_to_json(&m.info));
        }
        all.extend(mesgs);
    }
    assert!(all.iter().any(|m| m.kind == "fini"));
}
