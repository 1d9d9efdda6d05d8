//! Storm dmons of `synapse-servers cortex` with the reference Python client: the CoreApi dmon
//! methods (shapes, errors, permissions), dmons that feed a queue, fail and restart, are
//! enabled, disabled, bumped and deleted, then a restart: the dmons survive, the enabled ones
//! run again.

use crate::server::{Server, assert_ok, run_py};

fn args(cmd: &str, server: &Server) -> Vec<String> {
    vec![
        cmd.to_string(),
        "127.0.0.1".to_string(),
        server.port.to_string(),
    ]
}

#[test]
fn dmons_run_through_the_coreapi_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py("dmon_interop.py", &args("setup", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py("dmon_interop.py", &args("verify", &server));
    assert_eq!(assert_ok(&out).trim(), "ok");
    server.stop();
}
