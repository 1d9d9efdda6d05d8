//! Storm exports (`exportStorm` over telepath and HTTPS, `$lib.export.toaxon`, an export fed
//! into the other Cortex), `$lib.json.schema` and the user notification methods of
//! `synapse-servers cortex`, side by side with a reference Cortex booted by the script, through
//! the reference Python client.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn exports_and_notifications_match_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(
        "stormexport_interop.py",
        &[
            "compare".to_string(),
            server.port.to_string(),
            server.https.to_string(),
        ],
    );
    assert_ok(&out);
    server.stop();
}
