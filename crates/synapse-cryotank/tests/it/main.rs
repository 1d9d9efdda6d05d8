//! Integration tests of synapse-cryotank: a CryoCell in-process, served by the cell's telepath
//! Daemon on 127.0.0.1 and driven by the Rust clients (API shapes, permissions, waits, bad
//! input, restarts, concurrent writers), and the tank log against a model.

// Test helpers outside #[test] functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod model;
mod perms;

use std::path::Path;

use synapse_cell::{CellOptions, Service, ServiceCell};
use synapse_cryotank::{CryoCell, CryoClient, TankClient};
use synapse_telepath::Value;

/// A CryoCell listening on 127.0.0.1 with root's password `secret`.
pub(crate) struct Cryo {
    pub(crate) svc: ServiceCell<CryoCell>,
    pub(crate) port: u16,
}

impl Cryo {
    pub(crate) async fn open(dirn: &Path) -> Cryo {
        let opts = CellOptions::new(dirn, &CryoCell::def())
            .conf("auth:passwd", "secret".into())
            .unwrap();
        let svc = ServiceCell::<CryoCell>::open(opts).await.unwrap();
        let addr = svc
            .cell()
            .daemon()
            .listen("tcp://127.0.0.1:0")
            .await
            .unwrap();
        let port = addr.port().unwrap();
        Cryo { svc, port }
    }

    /// The URL of `path` for `user:passwd`.
    pub(crate) fn url(&self, user: &str, path: &str) -> String {
        format!("tcp://{user}:secret@127.0.0.1:{}/{path}", self.port)
    }

    pub(crate) async fn root(&self) -> CryoClient {
        CryoClient::open(&self.url("root", "")).await.unwrap()
    }

    pub(crate) async fn tank(&self, user: &str, name: &str) -> TankClient {
        TankClient::open(&self.url(user, &format!("cryotank/{name}")))
            .await
            .unwrap()
    }

    pub(crate) async fn fini(self) {
        self.svc.fini().await;
    }
}

/// The value of `key` in a map value.
pub(crate) fn get<'a>(valu: &'a Value, key: &str) -> &'a Value {
    valu.as_map()
        .and_then(|items| items.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {valu}"))
}

/// The remote error name of a failed call.
pub(crate) fn err_name<T: std::fmt::Debug>(res: Result<T, synapse_telepath::Error>) -> String {
    match res {
        Err(synapse_telepath::Error::Remote(err)) => err.name.clone(),
        other => panic!("expected a remote error, got {other:?}"),
    }
}
