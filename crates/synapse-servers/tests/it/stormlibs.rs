//! The tier-2 Storm libraries and commands (queues, macros, ...) of `synapse-servers cortex`
//! against the reference Cortex, side by side through the reference Python client; then a
//! restart of ours, after which the queues and macros are still there.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn storm_queues_and_macros_match_the_reference_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let refdirn = tmp.path().join("refcore");
    std::fs::create_dir_all(&refdirn).unwrap();
    std::fs::write(refdirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let reference = Server::start_ref("cortex", None, &refdirn);

    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(
        "stormlibs_interop.py",
        &[
            "compare".to_string(),
            reference.port.to_string(),
            server.port.to_string(),
        ],
    );
    assert_ok(&out);
    server.stop();
    drop(reference);

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py(
        "stormlibs_interop.py",
        &["verify".to_string(), server.port.to_string()],
    );
    assert_ok(&out);
    server.stop();
}
