//! The vendored conformance corpus (recorded from the reference) replayed against an
//! in-process cortex, one fresh cortex per suite, as `stormcheck.py` does.

use serde_json::Value as Json;

use super::util::{Core, canon, outcome, same_list};

const VISIBLE: &str = include_str!("../conformance/storm-visible.jsonl");

/// Run a corpus; the failures as text.
pub(crate) async fn run_corpus(text: &str, filter: Option<&str>) -> (usize, Vec<String>) {
    run_corpus_with(text, filter, false).await
}

/// Printed messages with view / layer / user idens (32 hex digits, random per run) masked.
fn mask_idens(mesgs: &[Json]) -> Vec<Json> {
    let re = regex::Regex::new(r"\b[0-9a-f]{32}\b").expect("regex");
    mesgs
        .iter()
        .map(|m| match m {
            Json::Array(parts) => Json::Array(
                parts
                    .iter()
                    .map(|p| match p {
                        Json::String(s) => Json::String(re.replace_all(s, "<iden>").into_owned()),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
        .collect()
}

/// Run a corpus, optionally with idens in printed messages masked.
async fn run_corpus_with(text: &str, filter: Option<&str>, mask: bool) -> (usize, Vec<String>) {
    let mut passed = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let suite: Json = serde_json::from_str(line).expect("suite is JSON");
        let name = suite["suite"].as_str().unwrap_or_default();
        let core = Core::new().await;
        let mut setuperr = None;
        for q in suite["setup"].as_array().into_iter().flatten() {
            let q = q.as_str().unwrap_or_default();
            let out = outcome(&core.storm(q, &serde_json::json!({"repr": false})).await);
            if let Some(e) = out.error {
                setuperr = Some(format!("setup query failed with {e}: {q}"));
                break;
            }
        }
        for case in suite["cases"].as_array().into_iter().flatten() {
            let id = format!("{name}/{}", case["id"].as_str().unwrap_or_default());
            if filter.is_some_and(|f| !id.contains(f)) {
                continue;
            }
            if let Some(e) = &setuperr {
                failures.push(format!("FAIL {id}\n  {e}"));
                continue;
            }
            let query = case["query"].as_str().unwrap_or_default();
            let mut opts = case.get("opts").cloned().unwrap_or(serde_json::json!({}));
            if opts.get("repr").is_none() {
                opts["repr"] = Json::Bool(false);
            }
            let want = &case["expect"];
            let mut diffs = Vec::new();
            if case.get("mode").and_then(Json::as_str) == Some("call") {
                let (ret, err) = match core.call(query, &opts).await {
                    Ok(v) => (v, None),
                    Err(e) => (Json::Null, Some(e)),
                };
                if want["error"].as_str().map(str::to_owned) != err {
                    diffs.push(format!(
                        "  error: expected {:?}, got {:?}",
                        want["error"], err
                    ));
                }
                if canon(&want["return"]) != canon(&ret) {
                    diffs.push(format!(
                        "  return: expected {}\n          got      {}",
                        canon(&want["return"]),
                        canon(&ret)
                    ));
                }
            } else {
                let out = outcome(&core.storm(query, &opts).await);
                if want["error"].as_str().map(str::to_owned) != out.error {
                    diffs.push(format!(
                        "  error: expected {:?}, got {:?}",
                        want["error"], out.error
                    ));
                }
                let ordered = case.get("ordered").and_then(Json::as_bool).unwrap_or(false);
                let empty = Vec::new();
                let wn = want["nodes"].as_array().unwrap_or(&empty);
                if let Some(d) = same_list(wn, &out.nodes, ordered) {
                    diffs.push(format!("  nodes {d}"));
                }
                let wm = want["mesgs"].as_array().unwrap_or(&empty);
                let (wm, hm) = if mask {
                    (mask_idens(wm), mask_idens(&out.mesgs))
                } else {
                    (wm.clone(), out.mesgs.clone())
                };
                if let Some(d) = same_list(&wm, &hm, ordered) {
                    diffs.push(format!("  mesgs {d}"));
                }
            }
            if diffs.is_empty() {
                passed += 1;
            } else {
                failures.push(format!("FAIL {id} [{query}]\n{}", diffs.join("\n")));
            }
        }
    }
    (passed, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_visible() {
    let filter = std::env::var("STORM_CASE").ok();
    let (passed, failures) = run_corpus(VISIBLE, filter.as_deref()).await;
    assert!(
        failures.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
}

/// Our own cases (`gen_recorded.py`), recorded from the reference with `stormcheck.py record`.
const RECORDED: &str = include_str!("recorded.jsonl");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_recorded() {
    let filter = std::env::var("STORM_CASE").ok();
    let (passed, failures) = run_corpus(RECORDED, filter.as_deref()).await;
    assert!(
        failures.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
}

/// Cases of the commands in `runtime/morecmds.rs` (`gen_recorded_cmds.py`), recorded from
/// the reference; printed idens are masked (they are random per run).
const RECORDED_CMDS: &str = include_str!("recorded_cmds.jsonl");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_recorded_cmds() {
    let filter = std::env::var("STORM_CASE").ok();
    let (passed, failures) = run_corpus_with(RECORDED_CMDS, filter.as_deref(), true).await;
    assert!(
        failures.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
}

/// Cases of `help`, `movetag`, `lift.byverb` and the other tier-1 commands
/// (`gen_recorded_tier1.py`), recorded from the reference (2.256).
const RECORDED_TIER1: &str = include_str!("recorded_tier1.jsonl");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_recorded_tier1() {
    let filter = std::env::var("STORM_CASE").ok();
    let (passed, failures) = run_corpus(RECORDED_TIER1, filter.as_deref()).await;
    assert!(
        failures.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
}

/// Cases of `help` on libraries, functions, nodes and Storm types (`gen_recorded_help.py`),
/// recorded from an in-process reference Cortex (2.256).
const RECORDED_HELP: &str = include_str!("recorded_help.jsonl");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_recorded_help() {
    let filter = std::env::var("STORM_CASE").ok();
    let (passed, failures) = run_corpus(RECORDED_HELP, filter.as_deref()).await;
    assert!(
        failures.is_empty(),
        "{} passed, {} failed:\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
}
