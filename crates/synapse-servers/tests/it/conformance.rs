//! The Storm conformance corpus (recorded from the reference) run by the reference's runner,
//! `stormcheck.py`, driving the real Python client against the real `synapse-servers cortex`
//! binary (`--spawn`, one server reused across suites).

use std::path::PathBuf;
use std::process::Command;

use super::server::ref_python;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synapse-cortex/tests/conformance")
}

/// Run one corpus file; the runner's output on failure.
fn run_corpus(corpus: &PathBuf) {
    let dir = corpus_dir();
    let spawn = format!(
        "{} cortex {{dirn}} --telepath tcp://127.0.0.1:{{port}}/ --https 0",
        env!("CARGO_BIN_EXE_synapse-servers")
    );
    let out = Command::new(ref_python())
        .arg(dir.join("stormcheck.py"))
        .args(["--spawn", &spawn, "--reuse", "--quiet", "run"])
        .arg(corpus)
        .output()
        .expect("run stormcheck.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "stormcheck failed:\n{stdout}\n{stderr}"
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.ends_with(" 0 failed"),
        "unexpected summary: {summary}"
    );
}

#[test]
fn conformance_visible_corpus() {
    run_corpus(&corpus_dir().join("storm-visible.jsonl"));
}

#[test]
fn conformance_recorded_corpus() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../synapse-cortex/tests/storm_rt/recorded.jsonl");
    run_corpus(&path);
}
