//! The tier-2 Storm libraries and commands (queues, macros, auth) of `synapse-servers cortex`
//! against a reference Cortex (booted by the script), side by side through the reference
//! Python client; then a restart of ours, after which the queues and macros are still there.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn storm_queues_macros_and_auth_match_the_reference_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(
        "stormlibs_interop.py",
        &["compare".to_string(), server.port.to_string()],
    );
    assert_ok(&out);
    server.stop();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py(
        "stormlibs_interop.py",
        &["verify".to_string(), server.port.to_string()],
    );
    assert_ok(&out);
    server.stop();
}
