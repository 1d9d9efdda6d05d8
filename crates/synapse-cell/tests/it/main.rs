//! Integration tests of synapse-cell: the HTTP API in-process and over TLS, the telepath
//! CellApi in-process, and the real Python client against `synapse-servers cell`.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod http;
mod service;
mod tls;

use serde_json::Value as Json;
use synapse_cell::{BaseCell, CellOptions, Service, ServiceCell};
use tempfile::TempDir;

/// A fresh base cell in a temp dir with root's password `secret` and extra `conf`.
pub(crate) async fn open_cell(conf: &[(&str, Json)]) -> (TempDir, ServiceCell<BaseCell>) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = CellOptions::new(dir.path().join("cell"), &BaseCell::def())
        .conf("auth:passwd", "secret".into())
        .unwrap();
    for (key, valu) in conf {
        opts = opts.conf(key, valu.clone()).unwrap();
    }
    let cell = ServiceCell::<BaseCell>::open(opts).await.unwrap();
    (dir, cell)
}
