//! The reference's Python client calls `wget`, `wput` and `postfiles` on the reference Axon
//! and on `synapse-servers axon` (the script `axon_wget_client.py` runs the HTTP server both
//! talk to): the normalized result dicts must be the same.

use serde_json::Value as Json;

use crate::binary::servers_bin;
use crate::python::ref_python;
use crate::server::Server;

const SCRIPT: &str = include_str!("axon_wget_client.py");

/// Run the script against a server: its JSON report.
fn run_script(python: &str, srv: &Server, workdir: &std::path::Path) -> Json {
    let script = workdir.join("axon_wget_client.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(srv.url())
        .output()
        .expect("run the python client");
    assert!(
        out.status.success(),
        "the python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client's JSON report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_gets_the_same_transfers() {
    let python = ref_python();
    let dir = tempfile::tempdir().unwrap();

    let refdir = dir.path().join("ref");
    std::fs::create_dir_all(&refdir).unwrap();
    let reference = {
        let srv = Server::start_python(&python, &refdir.join("axon")).await;
        run_script(&python, &srv, &refdir)
    };

    let ourdir = dir.path().join("ours");
    std::fs::create_dir_all(&ourdir).unwrap();
    let ours = {
        let srv = Server::start_rust(&servers_bin(), &ourdir.join("axon")).await;
        run_script(&python, &srv, &ourdir)
    };

    let (Json::Object(want), Json::Object(got)) = (&reference, &ours) else {
        panic!("the reports are not objects");
    };
    assert!(
        want.len() >= 19,
        "the reference report is short: {reference}"
    );
    let mut diffs = Vec::new();
    for (key, valu) in want {
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
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
