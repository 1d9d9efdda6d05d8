//! `synapse-servers cortex` with the reference Python client: the CoreApi, the model export,
//! permissions, HTTPS, the local Axon, a restart, and SIGKILL during a bulk `addNodes`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::server::{Server, assert_ok, ref_python, run_py};

fn model_json() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../synapse-cortex/data/model-2.256.json"
    )
    .to_string()
}

fn args(cmd: &str, server: &Server, dirn: &std::path::Path) -> Vec<String> {
    vec![
        cmd.to_string(),
        "127.0.0.1".to_string(),
        server.port.to_string(),
        server.https.to_string(),
        dirn.display().to_string(),
        model_json(),
    ]
}

#[test]
fn python_client_against_the_cortex_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py("cortex_interop.py", &args("setup", &server, &dirn));
    let first: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    // the local axon lives in <dirn>/axon, a cell of its own
    assert!(dirn.join("axon").join("cell.guid").exists());
    let log = server.stop();
    assert!(log.contains("shutting down"), "{log}");

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py("cortex_interop.py", &args("verify", &server, &dirn));
    let second: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    assert_eq!(first["visi"], second["visi"]);
    server.stop();
}

#[test]
fn unknown_cortex_directives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    std::fs::create_dir_all(&dirn).unwrap();
    for (yaml, key) in [
        ("axonn: tcp://x/\n", "axonn"),
        ("max:nodes: 0\n", "max:nodes"),
    ] {
        std::fs::write(dirn.join("cell.yaml"), yaml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_synapse-servers"))
            .args([
                "cortex",
                dirn.to_str().unwrap(),
                "--https",
                "0",
                "--telepath",
                "tcp://127.0.0.1:0/",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{yaml}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

#[test]
fn sigkill_during_bulk_add_nodes_loses_no_acknowledged_batch() {
    sigkill_loses_no_acknowledged_batch("bulk", "check");
}

/// Storm applies its edits without a commit per node: a query's nodes must still be durable
/// once it returned to the client.
#[test]
fn sigkill_during_storm_node_creation_loses_no_acknowledged_query() {
    sigkill_loses_no_acknowledged_batch("stormbulk", "stormcheck");
}

fn sigkill_loses_no_acknowledged_batch(write: &str, check: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let mut server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/cortex_interop.py");
    let mut writer = Command::new(ref_python())
        .args([script, write, "127.0.0.1", &server.port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = writer.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = 0;
    while let Some(Ok(line)) = lines.next() {
        if let Some(num) = line.strip_prefix("ack ") {
            acked = num.parse::<usize>().unwrap();
            if acked >= 5 {
                break;
            }
        }
    }
    assert!(
        acked >= 5,
        "the writer stopped early:\n{}",
        server.log_text()
    );
    server.kill();
    let _ = writer.wait();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py(
        "cortex_interop.py",
        &[
            check.to_string(),
            "127.0.0.1".to_string(),
            server.port.to_string(),
            acked.to_string(),
        ],
    );
    assert_ok(&out);
    server.stop();
}
