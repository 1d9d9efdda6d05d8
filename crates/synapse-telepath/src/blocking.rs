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
                .thread_name("telepath-sync")
                .enable_all()
                .build()
                .map_err(|err| tracing::error!(%err, "cannot start the telepath sync runtime"))
                .ok()
        })
        .as_ref()
        .ok_or_else(|| Error::Io(std::io::Error::other("no telepath sync runtime")))
}

fn block_on<F: Future>(fut: F) -> Result<F::Output, Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::BlockingInAsync);
    }
    Ok(runtime()?.block_on(fut))
}

/// A blocking [`proxy::Proxy`].
#[derive(Debug, Clone)]
pub struct Proxy {
    inner: proxy::Proxy,
}

impl Proxy {
    /// Connect (see [`proxy::Proxy::open`]). Fails with [`Error::BlockingInAsync`] when
    /// called from inside an async runtime.
    pub fn open(url: &str) -> Result<Proxy, Error> {
        Self::open_with(url, ProxyOptions::default())
    }

    /// Connect with options.
    pub fn open_with(url: &str, opts: ProxyOptions) -> Result<Proxy, Error> {
        let inner = block_on(proxy::Proxy::open_with(url, opts))??;
        Ok(Proxy { inner })
    }

    /// The async proxy underneath.
    pub fn as_async(&self) -> &proxy::Proxy {
        &self.inner
    }

    /// Call a method (see [`proxy::Proxy::call`]).
    pub fn call(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        block_on(self.inner.call(meth, args, kwargs))?
    }

    /// Call a generator method: an iterator over its items.
    pub fn stream(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Stream, Error> {
        let inner = block_on(self.inner.stream(meth, args, kwargs))??;
        Ok(Stream { inner: Some(inner) })
    }

    /// Call a method returning a share.
    pub fn share(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Share, Error> {
        let inner = block_on(self.inner.share(meth, args, kwargs))??;
        Ok(Share { inner: Some(inner) })
    }

    /// Close the proxy.
    pub fn fini(&self) -> Result<(), Error> {
        block_on(self.inner.fini())
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
        let stream = self.inner.as_mut()?;
        match block_on(futures::StreamExt::next(stream)) {
            Ok(item) => {
                if item.is_none() {
                    self.inner = None;
                }
                item
            }
            Err(err) => {
                self.inner = None;
                Some(Err(err))
            }
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
        let share = self.inner.as_ref().ok_or(Error::IsFini)?;
        block_on(share.call(meth, args, kwargs))?
    }

    /// Close the share.
    pub fn fini(&mut self) -> Result<(), Error> {
        match self.inner.take() {
            Some(share) => block_on(share.fini()),
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
