//! The CoreApi's raw row and sync methods (`iterFormRows`, `iterPropRows`, `iterUnivRows`,
//! `iterTagRows`, `iterTagPropRows`, `syncLayersEvents`, `syncIndexEvents`) driven by the
//! reference Python client, against `synapse-servers cortex` and the reference cortex side by
//! side: the same script must see the same rows, errors and events from both.

use crate::server::{Server, assert_ok, run_py};

fn run(server: &Server) -> serde_json::Value {
    let args = ["127.0.0.1".to_string(), server.port.to_string()];
    let out = run_py("rows_interop.py", &args);
    serde_json::from_str(assert_ok(&out).trim()).expect("the script prints JSON")
}

#[test]
fn layer_rows_and_sync_events_match_the_reference() {
    let tmp = tempfile::tempdir().unwrap();

    let dirn = tmp.path().join("ref");
    std::fs::create_dir_all(&dirn).unwrap();
    std::fs::write(dirn.join("cell.yaml"), "auth:passwd: secret\n").unwrap();
    let server = Server::start_ref("cortex", None, &dirn);
    let want = run(&server);
    server.stop();

    let dirn = tmp.path().join("rust");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let got = run(&server);
    server.stop();

    let want = want.as_object().expect("an object");
    assert!(want["form"].as_array().is_some_and(|rows| rows.len() == 2));
    assert!(want["live"].as_array().is_some_and(|rows| rows.len() == 3));
    for (key, valu) in want {
        assert_eq!(&got[key], valu, "{key} differs from the reference");
    }
    assert_eq!(got.as_object().map(|o| o.len()), Some(want.len()));
}
