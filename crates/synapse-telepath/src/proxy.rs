//! The client: [`Proxy`] calls a remote shared object; streams and shares come back as
//! [`RemoteStream`] and [`ShareProxy`].

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_base::Base;
use tokio::io::WriteHalf;
use tokio_util::sync::CancellationToken;

use crate::codec::{DEFAULT_MAX_MESSAGE, FrameDecoder, encode};
use crate::error::{Error, parse_retn};
use crate::link::{BoxIo, Conn, Target, read_mesg, write_bytes};
use crate::msg::{self, ReplyMesg, mesg, split_mesg, televers};
use crate::tls::CertDir;
use crate::url::UrlInfo;
use crate::value::{ValueExt, vmap};

/// A hard cap on idle pool links.
const MAX_POOL: usize = 1024;

/// Keyword arguments of a call.
pub type Kwargs = Vec<(String, Value)>;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Default time limit for each call (until its first reply); `None` waits forever.
    pub timeout: Option<Duration>,
    /// Time limit for connecting and the handshake.
    pub connect_timeout: Option<Duration>,
    /// The largest message accepted from the server.
    pub max_message: usize,
    /// Where `ssl://` URLs find CAs and user certificates.
    pub certdir: CertDir,
    /// Idle pool links kept for good: above this, one idle link is closed every
    /// [`ProxyOptions::cull_interval`] (the reference's `_links_max`, 12).
    pub max_idle: usize,
    /// How often an idle link above [`ProxyOptions::max_idle`] is closed (the reference: 10 s).
    pub cull_interval: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            timeout: None,
            connect_timeout: Some(Duration::from_secs(10)),
            max_message: DEFAULT_MAX_MESSAGE,
            certdir: CertDir::default(),
            max_idle: 12,
            cull_interval: Duration::from_secs(10),
        }
    }
}

/// A connection to an object shared by a telepath server.
///
/// The handshake link holds the session; calls go over a pool of extra links (opened on
/// demand, reused in FIFO order), each naming the session, so concurrent calls run in
/// parallel. Cloning gives another handle on the same proxy.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<ProxyInner>,
    timeout: Option<Duration>,
}

struct ProxyInner {
    base: Base,
    target: Target,
    url: String,
    max_message: usize,
    max_idle: usize,
    sess: String,
    sharinfo: Value,
    features: Value,
    ahainfo: Value,
    pool: Mutex<VecDeque<Conn>>,
    /// Calls in flight (pool links taken), see [`Conn`].
    in_flight: Arc<AtomicUsize>,
    main_tx: tokio::sync::Mutex<Option<WriteHalf<BoxIo>>>,
    /// Shares still open, by iden, with their "closed" flag.
    shares: Mutex<HashMap<String, Arc<AtomicBool>>>,
    rx_token: CancellationToken,
}

impl Drop for ProxyInner {
    fn drop(&mut self) {
        self.rx_token.cancel();
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.inner.url)
            .field("sess", &self.inner.sess)
            .finish_non_exhaustive()
    }
}

/// What a call returned.
pub enum Response {
    /// A value (`t2:fini`).
    Value(Value),
    /// A generator (`t2:genr`).
    Stream(RemoteStream),
    /// A new shared object (`t2:share`).
    Share(ShareProxy),
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Response::Value(value) => f.debug_tuple("Value").field(value).finish(),
            Response::Stream(_) => f.write_str("Stream(..)"),
            Response::Share(share) => f.debug_tuple("Share").field(&share.iden()).finish(),
        }
    }
}

/// Open a proxy with the default options (`synapse.telepath.openurl`).
pub async fn openurl(url: &str) -> Result<Proxy, Error> {
    Proxy::open(url).await
}

impl Proxy {
    /// Connect to `url`, do the handshake (with `user:passwd` from the URL) and return the
    /// proxy. Handshake failures come back as [`Error::Remote`] (e.g. `AuthDeny`).
    pub async fn open(url: &str) -> Result<Proxy, Error> {
        Self::open_with(url, ProxyOptions::default()).await
    }

    /// [`Proxy::open`] with options.
    pub async fn open_with(url: &str, opts: ProxyOptions) -> Result<Proxy, Error> {
        let info = UrlInfo::parse(url)?;
        let connect = Self::connect(&info, &opts);
        match opts.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connect)
                .await
                .map_err(|_| Error::Timeout)?,
            None => connect.await,
        }
    }

    async fn connect(info: &UrlInfo, opts: &ProxyOptions) -> Result<Proxy, Error> {
        let target = Target::from_url(info, &opts.certdir)?;
        let auth = match &info.user {
            Some(user) => Value::Array(vec![
                Value::from(user.as_str()),
                vmap([(
                    "passwd",
                    info.passwd
                        .as_deref()
                        .map(Value::from)
                        .unwrap_or(Value::Nil),
                )]),
            ]),
            None => Value::Nil,
        };
        let syn = mesg(
            "tele:syn",
            vmap([
                ("auth", auth),
                ("vers", televers()),
                ("name", Value::from(info.share_name())),
            ]),
        );
        let io = target.connect().await?;
        let (rd, mut wr) = tokio::io::split(io);
        let mut rd = rd;
        let mut dec = FrameDecoder::new(opts.max_message);
        write_bytes(&mut wr, &encode(&syn)?).await?;
        let reply = read_mesg(&mut rd, &mut dec).await?.ok_or_else(|| {
            Error::LinkShutDown("socket closed by server before handshake".to_owned())
        })?;
        let Some((kind, mut reply)) = split_mesg(reply) else {
            return Err(Error::BadMesgFormat(
                "handshake reply is not a message".into(),
            ));
        };
        if kind != "tele:syn" {
            return Err(Error::BadMesgFormat(format!(
                "expected a tele:syn reply, got {kind}"
            )));
        }
        let vers = reply.get_key("vers").cloned().unwrap_or(Value::Nil);
        if vers[0].as_u64() != Some(msg::TELEVERS.0) {
            return Err(Error::BadMesgVers(vers.to_string()));
        }
        let retn = reply.take_key("retn").unwrap_or(Value::Nil);
        parse_retn(retn)??;
        let Some(sess) = reply
            .get_key("sess")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(Error::BadMesgFormat(
                "the server gave no session (task v1 servers are not supported)".into(),
            ));
        };
        let sharinfo = reply.take_key("sharinfo").unwrap_or(Value::Map(Vec::new()));
        let features = reply.take_key("features").unwrap_or(Value::Map(Vec::new()));
        let ahainfo = reply.take_key("ahainfo").unwrap_or(Value::Map(Vec::new()));
        let base = Base::new();
        let rx_token = CancellationToken::new();
        let inner = Arc::new(ProxyInner {
            base: base.clone(),
            target,
            url: info.sanitized(),
            max_message: opts.max_message,
            max_idle: opts.max_idle,
            sess,
            sharinfo,
            features,
            ahainfo,
            pool: Mutex::new(VecDeque::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            main_tx: tokio::sync::Mutex::new(Some(wr)),
            shares: Mutex::new(HashMap::new()),
            rx_token: rx_token.clone(),
        });
        {
            let weak = Arc::downgrade(&inner);
            base.on_fini(move || async move {
                let Some(inner) = weak.upgrade() else { return };
                inner.rx_token.cancel();
                lock(&inner.pool).clear();
                for (_, closed) in lock(&inner.shares).drain() {
                    closed.store(true, Ordering::SeqCst);
                }
                inner.main_tx.lock().await.take();
            });
        }
        // The main link's receive loop: the old protocol's server-sent `share:fini`, and the
        // end of the session when the server closes the link.
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                let res = tokio::select! {
                    () = rx_token.cancelled() => return,
                    res = read_mesg(&mut rd, &mut dec) => res,
                };
                let Some(inner) = weak.upgrade() else { return };
                match res {
                    Ok(Some(value)) => match split_mesg(value) {
                        Some((kind, info)) if kind == "share:fini" => {
                            if let Some(iden) = info.get_key("share").and_then(Value::as_str)
                                && let Some(closed) = lock(&inner.shares).remove(iden)
                            {
                                closed.store(true, Ordering::SeqCst);
                            }
                        }
                        other => {
                            tracing::warn!(?other, "unexpected message on the main link");
                        }
                    },
                    Ok(None) | Err(_) => {
                        tracing::debug!(url = %inner.url, "main link closed: proxy fini");
                        inner.base.fini().await;
                        return;
                    }
                }
            }
        });
        // Close one idle link per interval while more than `max_idle` are idle.
        let weak = Arc::downgrade(&inner);
        let cull_token = inner.rx_token.clone();
        let interval = opts.cull_interval.max(Duration::from_millis(1));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = cull_token.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                let mut pool = lock(&inner.pool);
                if pool.len() > inner.max_idle {
                    pool.pop_front();
                }
            }
        });
        Ok(Proxy {
            inner,
            timeout: opts.timeout,
        })
    }

    /// The same proxy with another per-call time limit.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Proxy {
        Proxy {
            inner: Arc::clone(&self.inner),
            timeout,
        }
    }

    /// The session iden the server gave.
    pub fn session(&self) -> &str {
        &self.inner.sess
    }

    /// The server's sharinfo for the object: `meths`, `classes`, `syn:version`, `syn:commit`.
    pub fn sharinfo(&self) -> &Value {
        &self.inner.sharinfo
    }

    /// The handshake's `features` map.
    pub fn features(&self) -> &Value {
        &self.inner.features
    }

    /// The handshake's `ahainfo` map.
    pub fn ahainfo(&self) -> &Value {
        &self.inner.ahainfo
    }

    /// True if the server has feature `name` at version `vers` or later.
    pub fn has_feature(&self, name: &str, vers: u64) -> bool {
        self.inner
            .features
            .get_key(name)
            .and_then(Value::as_u64)
            .unwrap_or(0)
            >= vers
    }

    /// True if sharinfo lists method `name`.
    pub fn has_method(&self, name: &str) -> bool {
        self.inner.sharinfo["meths"].get_key(name).is_some()
    }

    /// True if sharinfo flags method `name` as a generator.
    pub fn is_genr(&self, name: &str) -> bool {
        self.inner.sharinfo["meths"][name]["genr"] == Value::Boolean(true)
    }

    /// The server's Synapse version from sharinfo.
    pub fn syn_version(&self) -> Option<(u64, u64, u64)> {
        let vers = self.inner.sharinfo.get_key("syn:version")?;
        Some((vers[0].as_u64()?, vers[1].as_u64()?, vers[2].as_u64()?))
    }

    /// The remote object's class names.
    pub fn classes(&self) -> Vec<String> {
        self.inner.sharinfo["classes"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The proxy's lifecycle.
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// True once closed (by [`Proxy::fini`] or because the server closed the main link).
    pub fn is_fini(&self) -> bool {
        self.inner.base.is_fini()
    }

    /// Wait until the proxy is closed.
    pub async fn wait_fini(&self, timeout: Option<Duration>) -> bool {
        self.inner.base.wait_fini(timeout).await
    }

    /// Close the proxy: shares, pool links and the main link (which ends the session).
    pub async fn fini(&self) {
        self.inner.base.fini().await;
    }

    /// How many idle pool links are open.
    pub fn idle_links(&self) -> usize {
        lock(&self.inner.pool).len()
    }

    async fn take_conn(&self) -> Result<Conn, Error> {
        if self.is_fini() {
            return Err(Error::IsFini);
        }
        let pooled = lock(&self.inner.pool).pop_front();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let io = self.inner.target.connect_raw().await?;
                Conn::new(
                    io,
                    self.inner.max_message,
                    Arc::clone(&self.inner.in_flight),
                )
            }
        };
        conn.busy();
        Ok(conn)
    }

    fn put_conn(&self, mut conn: Conn) {
        conn.idle();
        if self.is_fini() {
            return;
        }
        // Links in use by concurrent callers come back here: keep them (closing them would
        // make the next calls reconnect); the cull task trims the excess slowly.
        let mut pool = lock(&self.inner.pool);
        if pool.len() < MAX_POOL {
            pool.push_back(conn);
        }
    }

    async fn with_limit<T, F>(&self, fut: F) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, Error>>,
    {
        match self.timeout {
            Some(limit) => tokio::time::timeout(limit, fut)
                .await
                .map_err(|_| Error::Timeout)?,
            None => fut.await,
        }
    }

    /// Call a method and return whatever it produced. `name` picks a share of the session
    /// (`None` = the object from the handshake).
    pub async fn invoke(
        &self,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
        name: Option<&str>,
    ) -> Result<Response, Error> {
        let work = async move {
            let mut conn = self.take_conn().await?;
            let (mut args, mut kwargs) = (args, kwargs);
            conn.send_spliced(|out| {
                msg::write_t2_init(meth, &mut args, &mut kwargs, name, &self.inner.sess, out)
            })
            .await?;
            // Free the arguments while the server works (a batch of records is thousands of
            // allocations).
            drop((args, kwargs));
            let first = match conn.recv_reply().await? {
                ReplyMesg::FiniOk(value) => {
                    self.put_conn(conn);
                    return Ok(Response::Value(value));
                }
                ReplyMesg::YieldOk(_) => {
                    return Err(Error::BadMesgFormat(
                        "Telepath protocol violation: unexpected message type: t2:yield".into(),
                    ));
                }
                ReplyMesg::Other(first) => first,
            };
            let Some((kind, mut info)) = split_mesg(first) else {
                return Err(Error::BadMesgFormat("reply is not a message".into()));
            };
            match kind.as_str() {
                "t2:fini" => {
                    let retn = info.take_key("retn").unwrap_or(Value::Nil);
                    self.put_conn(conn);
                    Ok(Response::Value(parse_retn(retn)??))
                }
                "t2:genr" => Ok(Response::Stream(RemoteStream::new(self.clone(), conn))),
                "t2:share" => {
                    self.put_conn(conn);
                    let iden = info
                        .get_key("iden")
                        .and_then(Value::as_str)
                        .ok_or_else(|| Error::BadMesgFormat("t2:share without iden".into()))?
                        .to_owned();
                    let sharinfo = info.take_key("sharinfo").unwrap_or(Value::Map(Vec::new()));
                    let closed = Arc::new(AtomicBool::new(false));
                    lock(&self.inner.shares).insert(iden.clone(), Arc::clone(&closed));
                    Ok(Response::Share(ShareProxy {
                        inner: Arc::new(ShareInner {
                            proxy: self.clone(),
                            iden,
                            sharinfo,
                            closed,
                        }),
                    }))
                }
                other => Err(Error::BadMesgFormat(format!(
                    "Telepath protocol violation: unexpected message type: {other}"
                ))),
            }
        };
        self.with_limit(work).await
    }

    /// Call a method that returns a value. A generator's items are collected into an array;
    /// a share is closed and refused.
    pub async fn call(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        self.call_on(None, meth, args, kwargs).await
    }

    async fn call_on(
        &self,
        name: Option<&str>,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<Value, Error> {
        match self.invoke(meth, args, kwargs, name).await? {
            Response::Value(value) => Ok(value),
            Response::Stream(mut stream) => {
                let mut items = Vec::new();
                while let Some(item) = futures::StreamExt::next(&mut stream).await {
                    items.push(item?);
                }
                Ok(Value::Array(items))
            }
            Response::Share(share) => {
                share.fini().await;
                Err(Error::BadMesgFormat(format!(
                    "{meth} returned a share: use Proxy::share"
                )))
            }
        }
    }

    /// Call a generator method: the items as a stream. Dropping the stream early closes its
    /// link, which cancels the generator on the server.
    pub async fn stream(
        &self,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<RemoteStream, Error> {
        self.stream_on(None, meth, args, kwargs).await
    }

    async fn stream_on(
        &self,
        name: Option<&str>,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<RemoteStream, Error> {
        match self.invoke(meth, args, kwargs, name).await? {
            Response::Stream(stream) => Ok(stream),
            // The reference's generator call yields nothing for a None result.
            Response::Value(Value::Nil) => Ok(RemoteStream {
                inner: Box::pin(futures::stream::empty()),
            }),
            Response::Value(_) => Err(Error::BadMesgFormat(format!("{meth} is not a generator"))),
            Response::Share(share) => {
                share.fini().await;
                Err(Error::BadMesgFormat(format!("{meth} returned a share")))
            }
        }
    }

    /// Call a method that returns a share (e.g. an Axon upload).
    pub async fn share(
        &self,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<ShareProxy, Error> {
        match self.invoke(meth, args, kwargs, None).await? {
            Response::Share(share) => Ok(share),
            Response::Value(_) | Response::Stream(_) => Err(Error::BadMesgFormat(format!(
                "{meth} did not return a share"
            ))),
        }
    }

    async fn send_main(&self, value: &Value) -> Result<(), Error> {
        let bytes = encode(value)?;
        let mut main = self.inner.main_tx.lock().await;
        match main.as_mut() {
            Some(io) => write_bytes(io, &bytes).await,
            None => Err(Error::IsFini),
        }
    }
}

/// The items of a remote generator. Ends after the last item, or after an error item.
/// Dropping it early closes its link (the server then cancels the generator).
pub struct RemoteStream {
    inner: BoxStream<'static, Result<Value, Error>>,
}

impl std::fmt::Debug for RemoteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteStream")
    }
}

impl RemoteStream {
    fn new(proxy: Proxy, conn: Conn) -> Self {
        // The link is boxed: the state moves in and out of each item's future.
        let state = Some((proxy, Box::new(conn)));
        let inner = futures::stream::unfold(state, |state| async move {
            let (proxy, mut conn) = state?;
            let mesg = match conn.recv_item().await {
                Ok(ReplyMesg::YieldOk(value)) => return Some((Ok(value), Some((proxy, conn)))),
                Ok(ReplyMesg::FiniOk(_)) => {
                    let err = Error::BadMesgFormat(
                        "Telepath protocol violation:  unexpected message received".into(),
                    );
                    return Some((Err(err), None));
                }
                Ok(ReplyMesg::Other(mesg)) => mesg,
                Err(err) => return Some((Err(err), None)),
            };
            let Some((kind, mut info)) = split_mesg(mesg) else {
                let err = Error::BadMesgFormat("stream item is not a message".into());
                return Some((Err(err), None));
            };
            if kind != "t2:yield" {
                let err = Error::BadMesgFormat(
                    "Telepath protocol violation:  unexpected message received".into(),
                );
                return Some((Err(err), None));
            }
            match info.take_key("retn").unwrap_or(Value::Nil) {
                Value::Nil => {
                    proxy.put_conn(*conn);
                    None
                }
                retn => match parse_retn(retn) {
                    Ok(Ok(value)) => Some((Ok(value), Some((proxy, conn)))),
                    Ok(Err(err)) => {
                        proxy.put_conn(*conn);
                        Some((Err(Error::Remote(err)), None))
                    }
                    Err(err) => Some((Err(err), None)),
                },
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }
}

impl Stream for RemoteStream {
    type Item = Result<Value, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// A proxy for a share a call returned (`t2:share`): calls go to that object. Closing it (or
/// dropping the last clone) sends `share:fini` on the main link.
#[derive(Clone)]
pub struct ShareProxy {
    inner: Arc<ShareInner>,
}

struct ShareInner {
    proxy: Proxy,
    iden: String,
    sharinfo: Value,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for ShareProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareProxy")
            .field("iden", &self.inner.iden)
            .finish_non_exhaustive()
    }
}

impl ShareProxy {
    /// The share's iden.
    pub fn iden(&self) -> &str {
        &self.inner.iden
    }

    /// The share's sharinfo.
    pub fn sharinfo(&self) -> &Value {
        &self.inner.sharinfo
    }

    /// True once closed (by us, by the server, or with the proxy).
    pub fn is_fini(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Call a method of the share.
    pub async fn call(&self, meth: &str, args: Vec<Value>, kwargs: Kwargs) -> Result<Value, Error> {
        if self.is_fini() {
            return Err(Error::IsFini);
        }
        let inner = &self.inner;
        inner
            .proxy
            .call_on(Some(&inner.iden), meth, args, kwargs)
            .await
    }

    /// Call a generator method of the share.
    pub async fn stream(
        &self,
        meth: &str,
        args: Vec<Value>,
        kwargs: Kwargs,
    ) -> Result<RemoteStream, Error> {
        if self.is_fini() {
            return Err(Error::IsFini);
        }
        let inner = &self.inner;
        inner
            .proxy
            .stream_on(Some(&inner.iden), meth, args, kwargs)
            .await
    }

    /// Close the share: `share:fini` on the main link (the server tears it down).
    pub async fn fini(&self) {
        let inner = &self.inner;
        if inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        lock(&inner.proxy.inner.shares).remove(&inner.iden);
        let fini = mesg("share:fini", vmap([("share", inner.iden.as_str())]));
        if let Err(err) = inner.proxy.send_main(&fini).await {
            tracing::debug!(%err, "could not send share:fini");
        }
    }
}

impl Drop for ShareInner {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        lock(&self.proxy.inner.shares).remove(&self.iden);
        let proxy = self.proxy.clone();
        let fini = mesg("share:fini", vmap([("share", self.iden.as_str())]));
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = proxy.send_main(&fini).await;
            });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
