//! The real Python client (`synapse.telepath` 2.x) against the Rust Daemon.

use std::sync::atomic::Ordering;

use crate::fixture::test_daemon;
use crate::python;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_against_rust_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, state) = test_daemon();
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let sock = dir.path().join("sock");
    daemon
        .listen(&format!("unix://{}", sock.display()))
        .await
        .unwrap();

    let out = python::run(
        "ref_client.py",
        vec![
            format!("tcp://127.0.0.1:{}", addr.port().unwrap()),
            sock.display().to_string(),
        ],
    )
    .await;
    python::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for check in [
        "calls",
        "errors",
        "genrs",
        "shares",
        "handshakes",
        "raw",
        "sync",
    ] {
        assert!(
            stdout.contains(&format!("ok {check}")),
            "missing check {check}: {stdout}"
        );
    }
    // The early break closed the pool link and the server cancelled the generator.
    assert!(state.cancelled.load(Ordering::SeqCst) >= 1);
    // The upload was saved and its share torn down by share:fini.
    assert_eq!(
        state.saved.lock().unwrap().as_slice(),
        [b"hello world".to_vec()]
    );
    assert!(state.share_finis.load(Ordering::SeqCst) >= 1);
    // Every session ended with its client.
    daemon.fini().await;
    assert!(daemon.sessions().is_empty());
}
