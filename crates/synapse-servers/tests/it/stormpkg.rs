//! Storm packages on `synapse-servers cortex` through the reference Python client: a package
//! with a module and a command added with `addStormPkg` and used through `storm()`, bad
//! definitions refused with the reference's errors, `pkg.load` and `nodes.import` over HTTP;
//! after a restart the packages are still there and work, then `delStormPkg` removes them.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn storm_packages_work_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(
        "stormpkg_interop.py",
        &["add".to_string(), server.port.to_string()],
    );
    assert_ok(&out);
    server.stop();

    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start("cortex", &dirn, &[]);
    let out = run_py(
        "stormpkg_interop.py",
        &["verify".to_string(), server.port.to_string()],
    );
    assert_ok(&out);
    server.stop();
}
