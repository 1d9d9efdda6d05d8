//! A blocking facade for code that is not async: every call runs on a shared background
//! runtime (as the reference's sync helpers run on its global event loop thread).

use std::future::Future;
use std::sync::OnceLock;

use rmpv::Value;

use crate::error::Error;
use crate::proxy::{self, Kwargs, ProxyOptions};

fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(THREAD_NAME)
                .enable_all()
                .build()
                .map_err(|err| tracing::error!(%err, "cannot start the telepath sync runtime"))
                .ok()
        })
        .as_ref()
        .ok_or_else(|| Error::Io(std::io::Error::other("no telepath sync runtime")))
}

const THREAD_NAME: &str = "telepath-sync";

/// Run `fut` on the background runtime and wait for it. Works from any thread (also from
/// inside another runtime, where it blocks that thread: avoid it in async code). Refused on
/// the background runtime's own thread, where it would deadlock.
fn block_on<F>(fut: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if std::thread::current().name() == Some(THREAD_NAME) {
        return Err(Error::BlockingInAsync);
    }
    let task = runtime()?.spawn(fut);
    futures::executor::block_on(task).map_err(|err| {
        Error::Io(std::io::Error::other(format!(
            "telepath sync task failed: {err}"
        )))
    })
}

/// A blocking [`proxy::Proxy`].
#[derive(Debug, Clone)]
pub struct Proxy {
    inner: proxy::Proxy,
}

impl Proxy {
    /// Connect (see [`proxy::Proxy::open`]).
    pub fn open(url: &str) -> Result<Proxy, Error> {
        Self::open_with(url, ProxyOptions::default())
    }

    /// Connect with options.
    pub fn open_with(url: &str, opts: ProxyOptions) -> Result<Proxy, Error> {
        let url = url.to_owned();
        let inner = block_on(async move { proxy::Proxy::open_with(&url, opts).await })??;
        Ok(Proxy { inner })
    }

    /// The async proxy underneath.
    pub fn as_async(&self) -> &proxy::Proxy {
        &self.inner
    }

    /// Call a method (see [`proxy::Proxy::call`]).
    pub fn call(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        let proxy = self.inner.clone();
        let meth = meth.to_owned();
        block_on(async move { proxy.call(&meth, args, kwargs).await })?
    }

    /// Call a generator method: an iterator over its items.
    pub fn stream(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Stream, Error> {
        let proxy = self.inner.clone();
        let meth = meth.to_owned();
        let inner = block_on(async move { proxy.stream(&meth, args, kwargs).await })??;
        Ok(Stream { inner: Some(inner) })
    }

    /// Call a method returning a share.
    pub fn share(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Share, Error> {
        let proxy = self.inner.clone();
        let meth = meth.to_owned();
        let inner = block_on(async move { proxy.share(&meth, args, kwargs).await })??;
        Ok(Share { inner: Some(inner) })
    }

    /// Close the proxy.
    pub fn fini(&self) -> Result<(), Error> {
        let proxy = self.inner.clone();
        block_on(async move { proxy.fini().await })
    }
}

/// The items of a remote generator, as an iterator. Dropping it early cancels the generator.
#[derive(Debug)]
pub struct Stream {
    inner: Option<proxy::RemoteStream>,
}

impl Iterator for Stream {
    type Item = Result<Value, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut stream = self.inner.take()?;
        let res = block_on(async move {
            let item = futures::StreamExt::next(&mut stream).await;
            (item, stream)
        });
        match res {
            Ok((Some(item), stream)) => {
                self.inner = Some(stream);
                Some(item)
            }
            Ok((None, _)) => None,
            Err(err) => Some(Err(err)),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Drop the remote stream inside the runtime (closing its link needs it).
        if let Some(inner) = self.inner.take()
            && let Ok(rt) = runtime()
        {
            let _guard = rt.enter();
            drop(inner);
        }
    }
}

/// A blocking share proxy.
#[derive(Debug)]
pub struct Share {
    inner: Option<proxy::ShareProxy>,
}

impl Share {
    /// The share's iden.
    pub fn iden(&self) -> &str {
        self.inner.as_ref().map(|share| share.iden()).unwrap_or("")
    }

    /// Call a method of the share.
    pub fn call(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        let share = self.inner.as_ref().ok_or(Error::IsFini)?.clone();
        let meth = meth.to_owned();
        block_on(async move { share.call(&meth, args, kwargs).await })?
    }

    /// Close the share.
    pub fn fini(&mut self) -> Result<(), Error> {
        match self.inner.take() {
            Some(share) => block_on(async move { share.fini().await }),
            None => Ok(()),
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Some(share) = self.inner.take()
            && let Ok(rt) = runtime()
        {
            let _guard = rt.enter();
            drop(share);
        }
    }
}
