//! `synapse-servers cortex`: the Cortex, with the local Axon the reference runs in
//! `<dirn>/axon` when the `axon` directive does not name a remote one.
//!
//! The two services are composed here (the Cortex crate does not depend on the Axon crate):
//! the Axon cell opens without listeners of its own and the Cortex calls it through an
//! [`AxonClient`] bound to the Axon's root user. It closes with the Cortex.

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use synapse_axon::AxonService;
use synapse_cell::{
    Args, CellApi, CellOptions, Config, ConnInfo, LaunchOpts, Reply, Service, ServiceCell,
};
use synapse_cortex::cortex::{AxonClient, Cortex};

/// The Cortex's local Axon: an Axon cell in `<dirn>/axon` called as its root user.
pub(crate) struct LocalAxon {
    cell: ServiceCell<AxonService>,
    api: CellApi<AxonService>,
}

impl LocalAxon {
    /// Open the Axon cell in `dirn`, passing on the Cortex's `http:proxy` and `tls:ca:dir`.
    pub(crate) async fn open(dirn: &Path, conf: &Config) -> synapse_cell::Result<LocalAxon> {
        let mut opts = CellOptions::new(dirn, &AxonService::def())
            .conf("health:sysctl:checks", serde_json::json!(false))?;
        for key in ["http:proxy", "tls:ca:dir"] {
            if let Some(valu) = conf.get_str(key) {
                opts = opts.conf(key, serde_json::json!(valu))?;
            }
        }
        let cell = ServiceCell::<AxonService>::open(opts).await?;
        let root = cell.cell().auth().root_iden();
        let api = cell.session(&root, ConnInfo::local());
        Ok(LocalAxon { cell, api })
    }
}

impl AxonClient for LocalAxon {
    fn call<'a>(&'a self, meth: &'a str, args: Args) -> BoxFuture<'a, synapse_cell::Result<Reply>> {
        Box::pin(self.api.call(meth, args))
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.cell.fini())
    }
}

/// Before the Cortex opens: open its local Axon in `<dirn>/axon` unless `axon` names a
/// remote one.
pub(crate) async fn open_axon(opts: LaunchOpts, conf: Config) -> anyhow::Result<Option<LocalAxon>> {
    if conf.get_str("axon").is_some() {
        return Ok(None);
    }
    let axon = LocalAxon::open(&opts.dirn.join("axon"), &conf)
        .await
        .map_err(|err| anyhow::anyhow!("{}: {}", err.name(), err.mesg()))?;
    Ok(Some(axon))
}

/// Once the Cortex is open, before it serves: hand it the local Axon.
pub(crate) fn set_axon(cell: &ServiceCell<Cortex>, axon: Option<LocalAxon>) {
    if let Some(axon) = axon {
        cell.service().set_axon(Arc::new(axon));
    }
}
