//! [`Client`]: a proxy that reconnects (the reference's `telepath.Client`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmpv::Value;
use synapse_base::Base;
use tokio::sync::watch;

use crate::error::Error;
use crate::proxy::{Kwargs, Proxy, ProxyOptions, RemoteStream, ShareProxy};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Options for each proxy.
    pub proxy: ProxyOptions,
    /// The pause between connection attempts (the reference's `retrysleep`, 0.2 s).
    pub retry_sleep: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            proxy: ProxyOptions::default(),
            retry_sleep: Duration::from_millis(200),
        }
    }
}

type OnLink = Arc<dyn Fn(Proxy) -> BoxFuture<'static, ()> + Send + Sync>;

/// Keeps a [`Proxy`] open to one of several URLs, reconnecting (to the next URL in turn)
/// whenever it closes.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    base: Base,
    current: watch::Sender<Option<Proxy>>,
    /// Held while a new proxy's callbacks run and it becomes current.
    on_link: tokio::sync::Mutex<Vec<OnLink>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ready", &self.try_proxy().is_some())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Start connecting to `urls` (tried in turn). Must be called inside a tokio runtime.
    pub fn new<I, S>(urls: I, opts: ClientOptions) -> Result<Client, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let urls: Vec<String> = urls.into_iter().map(Into::into).collect();
        if urls.is_empty() {
            return Err(Error::BadUrl("a Client needs at least one URL".into()));
        }
        for url in &urls {
            crate::url::UrlInfo::parse(url)?;
        }
        let (current, _) = watch::channel(None);
        let inner = Arc::new(ClientInner {
            base: Base::new(),
            current,
            on_link: tokio::sync::Mutex::new(Vec::new()),
        });
        {
            let weak = Arc::downgrade(&inner);
            inner.base.on_fini(move || async move {
                if let Some(inner) = weak.upgrade()
                    && let Some(proxy) = inner.current.send_replace(None)
                {
                    proxy.fini().await;
                }
            });
        }
        let weak = Arc::downgrade(&inner);
        inner.base.spawn(async move {
            let mut idx = 0usize;
            loop {
                let url = &urls[idx % urls.len()];
                idx = idx.wrapping_add(1);
                match Proxy::open_with(url, opts.proxy.clone()).await {
                    Ok(proxy) => {
                        let Some(inner) = weak.upgrade() else {
                            proxy.fini().await;
                            return;
                        };
                        {
                            let callbacks = inner.on_link.lock().await;
                            for callback in callbacks.iter() {
                                callback(proxy.clone()).await;
                            }
                            inner.current.send_replace(Some(proxy.clone()));
                        }
                        drop(inner);
                        proxy.wait_fini(None).await;
                        if let Some(inner) = weak.upgrade() {
                            inner.current.send_replace(None);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "telepath client connect failed");
                    }
                }
                tokio::time::sleep(opts.retry_sleep).await;
            }
        })?;
        Ok(Client { inner })
    }

    /// Run `callback` with each new proxy before it is handed out, and now with the current
    /// one if connected (as the reference's `Client.onlink`).
    pub async fn on_link<F, Fut>(&self, callback: F)
    where
        F: Fn(Proxy) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let callback: OnLink = Arc::new(move |proxy| Box::pin(callback(proxy)));
        let current = {
            let mut callbacks = self.inner.on_link.lock().await;
            callbacks.push(Arc::clone(&callback));
            self.try_proxy()
        };
        if let Some(proxy) = current {
            callback(proxy).await;
        }
    }

    /// The current proxy, if connected.
    pub fn try_proxy(&self) -> Option<Proxy> {
        self.inner
            .current
            .borrow()
            .clone()
            .filter(|proxy| !proxy.is_fini())
    }

    /// The current proxy, waiting up to `timeout` for a connection.
    pub async fn proxy(&self, timeout: Option<Duration>) -> Result<Proxy, Error> {
        if self.inner.base.is_fini() {
            return Err(Error::IsFini);
        }
        let mut rx = self.inner.current.subscribe();
        let wait = async {
            loop {
                if let Some(proxy) = rx.borrow_and_update().clone()
                    && !proxy.is_fini()
                {
                    return Ok(proxy);
                }
                if rx.changed().await.is_err() {
                    return Err(Error::IsFini);
                }
            }
        };
        match timeout {
            Some(limit) => tokio::time::timeout(limit, wait)
                .await
                .map_err(|_| Error::NotReady("telepath client is not connected".into()))?,
            None => wait.await,
        }
    }

    /// Wait until connected.
    pub async fn wait_ready(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.proxy(timeout).await.map(|_| ())
    }

    /// [`Proxy::call`] on the current proxy (fails with `NotReady` if not connected).
    pub async fn call(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        self.ready()?.call(meth, args, kwargs).await
    }

    /// [`Proxy::stream`] on the current proxy.
    pub async fn stream(
        &self,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<RemoteStream, Error> {
        self.ready()?.stream(meth, args, kwargs).await
    }

    /// [`Proxy::share`] on the current proxy.
    pub async fn share(
        &self,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<ShareProxy, Error> {
        self.ready()?.share(meth, args, kwargs).await
    }

    fn ready(&self) -> Result<Proxy, Error> {
        self.try_proxy()
            .ok_or_else(|| Error::NotReady("telepath client is not connected".into()))
    }

    /// Stop reconnecting and close the proxy.
    pub async fn fini(&self) {
        self.inner.base.fini().await;
    }
}
