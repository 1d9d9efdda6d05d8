//! Helpers to run the reference Python (from `SYNAPSE_REF_PYTHON`).

use std::path::PathBuf;
use std::process::{Command, Output};

/// The reference interpreter. Fails (never skips) when it is not configured.
pub(crate) fn ref_python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!(
            "SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or point it at a python \
             with synapse 2.x installed) to run the interop tests"
        ),
    }
}

/// A script in tests/py.
pub(crate) fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// Run a reference Python script to completion, off the async runtime.
pub(crate) async fn run(name: &str, args: Vec<String>) -> Output {
    let path = script(name);
    tokio::task::spawn_blocking(move || {
        Command::new(ref_python())
            .arg(path)
            .args(args)
            .env("SYN_LOG_LEVEL", "WARNING")
            .output()
            .expect("cannot run the reference python")
    })
    .await
    .expect("join")
}

/// Panic with the script's output unless it succeeded.
pub(crate) fn assert_ok(out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "reference script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
