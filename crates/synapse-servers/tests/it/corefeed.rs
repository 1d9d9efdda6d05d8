//! The feed APIs of `synapse-servers cortex` (`addFeedData`, `getFeedFuncs`, the feed tool and
//! `$lib.feed`) against a reference Cortex booted by the script, side by side through the
//! reference Python client.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn feeds_match_the_reference_and_the_feed_tool_works() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let out = run_py(
        "corefeed_interop.py",
        &["compare".to_string(), server.port.to_string()],
    );
    assert_ok(&out);
    server.stop();
}
