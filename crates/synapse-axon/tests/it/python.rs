//! The reference's Python client (telepath, HTTPS, pushfile/pullfile) against the reference
//! Axon and against `synapse-servers axon`: both must give the same answers.

use serde_json::Value as Json;

use crate::binary::servers_bin;
use crate::server::Server;

/// The reference's python, from `SYNAPSE_REF_PYTHON` (set by `cargo xtask`).
pub(crate) fn ref_python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or export it) to run the interop tests"
        ),
    }
}

const SCRIPT: &str = include_str!("axon_client.py");

/// Run the client script against a server: its JSON report.
fn run_client(python: &str, srv: &Server, workdir: &std::path::Path) -> Json {
    let script = workdir.join("axon_client.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(srv.url())
        .arg(srv.https.to_string())
        .arg(workdir)
        .output()
        .expect("run the python client");
    assert!(
        out.status.success(),
        "the python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client's JSON report")
}

/// Keys whose answers differ on purpose (see the crate docs): error messages that come from
/// Python's own codecs and parsers.
const DELIBERATE: &[&str] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_sees_the_same_axon() {
    let python = ref_python();
    let dir = tempfile::tempdir().unwrap();

    let refdir = dir.path().join("ref");
    std::fs::create_dir_all(&refdir).unwrap();
    let reference = {
        let srv = Server::start_python(&python, &refdir.join("axon")).await;
        let report = run_client(&python, &srv, &refdir);
        drop(srv);
        report
    };

    let ourdir = dir.path().join("ours");
    std::fs::create_dir_all(&ourdir).unwrap();
    let ours = {
        let srv = Server::start_rust(&servers_bin(), &ourdir.join("axon")).await;
        run_client(&python, &srv, &ourdir)
    };

    let (Json::Object(want), Json::Object(got)) = (&reference, &ours) else {
        panic!("the reports are not objects");
    };
    let mut diffs = Vec::new();
    for (key, valu) in want {
        if DELIBERATE.contains(&key.as_str()) {
            continue;
        }
        if got.get(key) != Some(valu) {
            diffs.push(format!(
                "{key}:\n  reference: {valu}\n  ours:      {}",
                got.get(key).unwrap_or(&Json::Null)
            ));
        }
    }
    for key in got.keys() {
        if !want.contains_key(key) {
            diffs.push(format!("{key}: only in ours"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
