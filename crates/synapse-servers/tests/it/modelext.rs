//! The extended model of `synapse-servers cortex` against a reference Cortex (booted by the
//! script), side by side through the reference Python client: forms, form props and
//! universal props added at runtime, nodes using them, errors; then a restart of both, after
//! which lifts, the model export and removals still match.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn extended_model_matches_the_reference_and_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let results = tmp.path().join("after.json").display().to_string();
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(
        "modelext_interop.py",
        &[
            "compare".to_string(),
            server.port.to_string(),
            results.clone(),
        ],
    );
    assert_ok(&out);
    server.stop();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py(
        "modelext_interop.py",
        &["verify".to_string(), server.port.to_string(), results],
    );
    assert_ok(&out);
    server.stop();
}
