//! The Cortex's link to its Axon: the [`AxonClient`] trait (any `AxonApi` method, called as
//! the Cortex), the remote implementation over telepath ([`TeleAxon`], for the `axon`
//! directive) and the slot the Cortex keeps it in, with the reference's "axon ready" wait.
//!
//! The local Axon the reference runs in `<dirn>/axon` when `axon` is unset is composed by the
//! servers binary (this crate does not depend on the Axon crate): it opens the Axon cell and
//! hands the Cortex an [`AxonClient`] with [`crate::cortex::Cortex::set_axon`].

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use rmpv::Value;
use synapse_cell::{Args, Error, MethDef, Reply, Result, ShareObject};
use synapse_telepath::{Client, ClientOptions, Response, ShareProxy};
use tokio::sync::watch;

/// An Axon as the Cortex uses it: call any `AxonApi` method (`put`, `has`, `size`, `get`
/// (generator), `upload` (share), `hashset`, `iterMpkFile`, `wget`, ...) with the Cortex's
/// rights on the Axon.
pub trait AxonClient: Send + Sync + 'static {
    /// Call a method: unary methods reply [`Reply::Value`], generators [`Reply::Genr`],
    /// `upload` a [`Reply::Share`].
    fn call<'a>(&'a self, meth: &'a str, args: Args) -> BoxFuture<'a, Result<Reply>>;

    /// Whether the Axon can take calls now (a remote one may be reconnecting).
    fn is_ready(&self) -> bool {
        true
    }

    /// Wait until the Axon can take calls (at most `timeout`).
    fn wait_ready(&self, timeout: Option<Duration>) -> BoxFuture<'_, Result<()>> {
        let _ = timeout;
        Box::pin(async { Ok(()) })
    }

    /// Tear down the link (or the local Axon).
    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

fn tele_error(err: synapse_telepath::Error) -> Error {
    Error::from(synapse_telepath::RemoteError::from(err))
}

fn timeout_error(timeout: Option<Duration>) -> Error {
    let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
    Error::named(
        "TimeOut",
        format!("Timed out waiting {secs} seconds for the Axon to be ready."),
    )
    .with("timeout", secs)
}

/// A remote Axon over telepath (the `axon` directive), reconnecting as needed.
pub struct TeleAxon {
    client: Client,
}

impl std::fmt::Debug for TeleAxon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeleAxon")
            .field("client", &self.client)
            .finish()
    }
}

impl TeleAxon {
    /// Start connecting to `url` (must run inside a tokio runtime).
    pub fn connect(url: &str) -> Result<TeleAxon> {
        let client = Client::new([url], ClientOptions::default())
            .map_err(|err| Error::bad_arg(format!("bad axon url: {err}")).with("url", url))?;
        Ok(TeleAxon { client })
    }
}

impl AxonClient for TeleAxon {
    fn call<'a>(&'a self, meth: &'a str, args: Args) -> BoxFuture<'a, Result<Reply>> {
        Box::pin(async move {
            let proxy = self.client.proxy(None).await.map_err(tele_error)?;
            let resp = proxy
                .invoke(meth, args.args, args.kwargs, None)
                .await
                .map_err(tele_error)?;
            Ok(match resp {
                Response::Value(valu) => Reply::Value(valu),
                Response::Stream(items) => {
                    Reply::Genr(items.map(|item| item.map_err(tele_error)).boxed())
                }
                Response::Share(share) => Reply::Share(Arc::new(RemoteShare::new(share))),
            })
        })
    }

    fn is_ready(&self) -> bool {
        self.client.try_proxy().is_some()
    }

    fn wait_ready(&self, timeout: Option<Duration>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.client
                .proxy(timeout)
                .await
                .map(|_| ())
                .map_err(|_| timeout_error(timeout))
        })
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.client.fini())
    }
}

/// A share of the remote Axon (an upload) passed on to the Cortex's caller.
struct RemoteShare {
    share: ShareProxy,
    meths: Vec<MethDef>,
    classes: Vec<String>,
}

impl RemoteShare {
    fn new(share: ShareProxy) -> Self {
        let info = share.sharinfo();
        let meths = synapse_cell::map_get(info, "meths")
            .and_then(Value::as_map)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|(name, minfo)| {
                        let name = name.as_str()?.to_owned();
                        let genr =
                            synapse_cell::map_get(minfo, "genr").is_some_and(synapse_cell::truthy);
                        Some(MethDef {
                            name: Cow::Owned(name),
                            genr,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let classes = synapse_cell::map_get(info, "classes")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        RemoteShare {
            share,
            meths,
            classes,
        }
    }
}

impl ShareObject for RemoteShare {
    fn typename(&self) -> &str {
        "upload"
    }

    fn methods(&self) -> Vec<MethDef> {
        self.meths.clone()
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    fn call(&self, meth: &str, args: Args) -> BoxFuture<'_, Result<Reply>> {
        let genr = self.meths.iter().any(|m| m.name == meth && m.genr);
        let meth = meth.to_owned();
        Box::pin(async move {
            if genr {
                let items = self
                    .share
                    .stream(&meth, args.args, args.kwargs)
                    .await
                    .map_err(tele_error)?;
                return Ok(Reply::Genr(
                    items.map(|item| item.map_err(tele_error)).boxed(),
                ));
            }
            let valu = self
                .share
                .call(&meth, args.args, args.kwargs)
                .await
                .map_err(tele_error)?;
            Ok(Reply::Value(valu))
        })
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.share.fini())
    }
}

/// Where the Cortex keeps its Axon: set once it is available, waited for by its users.
pub(crate) struct AxonSlot {
    tx: watch::Sender<Option<Arc<dyn AxonClient>>>,
}

impl AxonSlot {
    pub(crate) fn new() -> Self {
        AxonSlot {
            tx: watch::channel(None).0,
        }
    }

    pub(crate) fn set(&self, axon: Arc<dyn AxonClient>) {
        self.tx.send_replace(Some(axon));
    }

    pub(crate) fn set_remote(&self, axon: TeleAxon) {
        self.set(Arc::new(axon));
    }

    /// The Axon, if there is one and it is ready.
    pub(crate) fn current(&self) -> Option<Arc<dyn AxonClient>> {
        self.tx.borrow().clone().filter(|axon| axon.is_ready())
    }

    pub(crate) async fn wait(&self, timeout: Option<Duration>) -> Result<Arc<dyn AxonClient>> {
        let start = tokio::time::Instant::now();
        let mut rx = self.tx.subscribe();
        let waiting = rx.wait_for(Option::is_some);
        let axon = match timeout {
            Some(limit) => tokio::time::timeout(limit, waiting)
                .await
                .map_err(|_| timeout_error(timeout))?,
            None => waiting.await,
        }
        .map_err(|_| Error::named("IsFini", "The Cortex is shutting down."))?
        .clone()
        .ok_or_else(|| timeout_error(timeout))?;
        let left = timeout.map(|limit| limit.saturating_sub(start.elapsed()));
        axon.wait_ready(left).await?;
        Ok(axon)
    }

    pub(crate) async fn fini(&self) {
        let axon = self.tx.send_replace(None);
        if let Some(axon) = axon {
            axon.fini().await;
        }
    }
}
