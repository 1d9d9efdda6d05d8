//! Scraping in Storm (`scrape`, `$lib.scrape`, lookup and autoadd modes) on our Cortex,
//! compared query by query with the reference Cortex through the reference client.

use crate::server::{Server, assert_ok, run_py};

#[test]
fn scrape_queries_match_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let dirn = tmp.path().join("cortex");
    let server = Server::start("cortex", &dirn, &["--auth-passwd", "secret"]);
    let url = format!("tcp://root:secret@127.0.0.1:{}/", server.port);
    let refdirn = tmp.path().join("refcortex");
    let out = run_py("scrape_interop.py", &[url, refdirn.display().to_string()]);
    let res: serde_json::Value = serde_json::from_str(assert_ok(&out).trim()).unwrap();
    assert_eq!(res["queries"], 21);
    server.stop();
}
