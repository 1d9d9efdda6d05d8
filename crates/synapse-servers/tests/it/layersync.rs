//! Layer telepath paths (`*/layer/<iden>`, `*/view`), pushes and pulls between
//! `synapse-servers cortex` and a reference Cortex, driven by the reference Python client:
//! ours pushes into itself, pulls from the reference, and the reference pushes into ours;
//! then our server restarts and the syncs go on.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn layers_push_and_pull_with_the_reference_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let refdirn = tmp.path().join("refcore");
    std::fs::create_dir_all(&refdirn).unwrap();
    std::fs::write(refdirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let refcore = Server::start_ref("cortex", None, &refdirn);

    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let args = |cmd: &str, server: &Server| {
        vec![
            cmd.to_string(),
            "127.0.0.1".to_string(),
            server.port.to_string(),
            refcore.port.to_string(),
        ]
    };
    let out = run_py("layersync_interop.py", &args("setup", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    let ports = (server.port, server.https);
    server.stop();

    // The same ports: the push goes to the server's own URL.
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start_at("cortex", &dirn, &[], ports);
    let out = run_py("layersync_interop.py", &args("verify", &server));
    if !out.status.success() {
        panic!(
            "verify failed:\n{}\n--- our server's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log_text()
        );
    }
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();
    refcore.stop();
}
