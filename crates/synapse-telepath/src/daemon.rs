//! The server: [`Daemon`] shares objects over TCP, TLS and UNIX sockets.
//!
//! Each accepted link runs on its own task. A link handles one message at a time, in order
//! (as the reference does), while it keeps reading so that a client closing the link cancels
//! the call in progress (that is how telepath cancels a generator).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use rmpv::Value;
use synapse_base::{Base, guid};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::codec::{CodecError, DEFAULT_MAX_MESSAGE, Frame, FrameDecoder, Spliced, encode_into};
use crate::error::{Error, RemoteError, retn_err, retn_ok};
use crate::genr::ValueStream;
use crate::link::{
    BoxIo, SpinSock, SpinTurn, read_frame_spinning, read_frame_with, tune_tcp, write_spliced,
};
use crate::msg::{self, Incoming, Todo, item_name, mesg, televers};
use crate::raw::{RawValue, peek_t2_init};
use crate::session::{Family, Identity, LinkInfo, PeerInfo, Session, UnixCred};
use crate::share::{Call, CallCtx, Reply, Share};
use crate::tls::{CertDir, subject_cn};
use crate::url::UrlInfo;
use crate::value::{ValueExt, vmap};

/// What the daemon asks the [`Authenticator`] to check during a handshake.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The user name from `tele:syn` `auth` (`auth[0]`), if any.
    pub user: Option<String>,
    /// The password from `auth[1]["passwd"]`, if any.
    pub passwd: Option<String>,
    /// The raw `auth` field (`null` or `[user, {...}]`).
    pub auth: Value,
    /// The peer: UNIX socket peers are trusted by the reference (any user, no password), and a
    /// verified TLS client certificate's CN ([`PeerInfo::cert_cn`]) overrides `auth`.
    pub peer: PeerInfo,
    /// The share name asked for.
    pub name: String,
    /// The path after the share name (`tcp://host/name/a/b` → `["a", "b"]`).
    pub path: Vec<String>,
}

/// Authenticates handshakes for objects that ask for it (see [`ShareFactory::features`]).
/// The Cell implements it; the error is sent back as the handshake failure, e.g.
/// [`RemoteError::invalid_password`] or [`RemoteError::no_such_user`].
pub trait Authenticator: Send + Sync + 'static {
    /// Check the credentials and return the session's user.
    fn authenticate<'a>(
        &'a self,
        req: &'a AuthRequest,
    ) -> BoxFuture<'a, Result<Identity, RemoteError>>;
}

/// Makes the object a session gets for a share name (the reference's `getTeleApi`).
pub trait ShareFactory: Send + Sync + 'static {
    /// The handshake's `features` map. `Some` marks an object that authenticates its
    /// sessions (a Cell); `None` (the default) shares the object with no authentication.
    fn features(&self) -> Option<Value> {
        None
    }

    /// The object for a new session (already authenticated if [`ShareFactory::features`]
    /// is `Some`); `path` is what followed the share name in the URL.
    fn open<'a>(
        &'a self,
        sess: &'a Session,
        path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn Share>, RemoteError>>;
}

/// Shares one object with every session, without authentication.
struct StaticShare(Arc<dyn Share>);

impl ShareFactory for StaticShare {
    fn open<'a>(
        &'a self,
        _sess: &'a Session,
        _path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn Share>, RemoteError>> {
        futures::future::ready(Ok(Arc::clone(&self.0))).boxed()
    }
}

/// Daemon settings.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The largest message accepted; a link sending a larger one is closed. Default: the
    /// reference's 2**32-1 bytes.
    pub max_message: usize,
    /// The most links open at once; more are closed as soon as they are accepted.
    pub max_links: usize,
    /// Where `ssl://` listeners find host certificates and CAs.
    pub certdir: CertDir,
    /// How long a TLS handshake may take before the link is dropped.
    pub tls_handshake_timeout: Duration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            max_message: DEFAULT_MAX_MESSAGE,
            max_links: 10_000,
            certdir: CertDir::default(),
            tls_handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// The address a listener is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP (or TLS) listener.
    Tcp(SocketAddr),
    /// A UNIX socket listener.
    Unix(PathBuf),
}

impl ListenAddr {
    /// The TCP port, if this is a TCP listener.
    pub fn port(&self) -> Option<u16> {
        match self {
            ListenAddr::Tcp(addr) => Some(addr.port()),
            ListenAddr::Unix(_) => None,
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A telepath server: named objects shared over any number of listeners.
///
/// Cloning gives another handle on the same daemon.
#[derive(Clone)]
pub struct Daemon {
    inner: Arc<DaemonInner>,
}

struct DaemonInner {
    base: Base,
    listeners: Base,
    conns: Base,
    conf: DaemonConfig,
    shared: RwLock<HashMap<String, Arc<dyn ShareFactory>>>,
    auth: RwLock<Option<Arc<dyn Authenticator>>>,
    ahainfo: RwLock<Option<Value>>,
    sessions: Mutex<HashMap<String, Session>>,
    links: Mutex<HashMap<String, Base>>,
    ready: AtomicBool,
    permits: Arc<Semaphore>,
    /// Links spinning for their next message (at most one, see [`SpinTurn`]).
    spinners: AtomicUsize,
    /// Links handling a message now (a link spins only while no other is).
    working: AtomicUsize,
}

impl Drop for DaemonInner {
    fn drop(&mut self) {
        // Dropped without fini: stop the listeners and links rather than leak them.
        self.base.token().cancel();
    }
}

impl Default for Daemon {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("links", &self.link_count())
            .field("sessions", &lock(&self.inner.sessions).len())
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// A daemon with the default settings.
    pub fn new() -> Self {
        Self::with_config(DaemonConfig::default())
    }

    /// A daemon with these settings.
    pub fn with_config(conf: DaemonConfig) -> Self {
        let base = Base::new();
        let listeners = base.child();
        let conns = base.child();
        let permits = Arc::new(Semaphore::new(conf.max_links.max(1)));
        let inner = Arc::new(DaemonInner {
            base,
            listeners,
            conns,
            conf,
            shared: RwLock::new(HashMap::new()),
            auth: RwLock::new(None),
            ahainfo: RwLock::new(None),
            sessions: Mutex::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            ready: AtomicBool::new(true),
            spinners: AtomicUsize::new(0),
            working: AtomicUsize::new(0),
            permits,
        });
        let weak = Arc::downgrade(&inner);
        inner.base.on_fini(move || async move {
            let Some(inner) = weak.upgrade() else { return };
            let sessions: Vec<Session> = lock(&inner.sessions).drain().map(|(_, s)| s).collect();
            for sess in sessions {
                sess.fini().await;
            }
        });
        Self { inner }
    }

    /// The daemon's lifecycle: [`Daemon::fini`] stops the listeners, closes every link and
    /// ends every session.
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// The settings.
    pub fn config(&self) -> &DaemonConfig {
        &self.inner.conf
    }

    /// Share one object under `name`, with no authentication (every session gets the same
    /// object). `"*"` is the default name (an empty name in the URL).
    pub fn share(&self, name: &str, item: Arc<dyn Share>) {
        self.share_factory(name, Arc::new(StaticShare(item)));
    }

    /// Share objects made per session by `factory` under `name`.
    pub fn share_factory(&self, name: &str, factory: Arc<dyn ShareFactory>) {
        write(&self.inner.shared).insert(name.to_owned(), factory);
    }

    /// Stop sharing `name` (existing sessions keep their objects).
    pub fn unshare(&self, name: &str) {
        write(&self.inner.shared).remove(name);
    }

    /// Set the authenticator used for objects whose factory reports features.
    pub fn set_auth(&self, auth: Arc<dyn Authenticator>) {
        *write(&self.inner.auth) = Some(auth);
    }

    /// Set the `ahainfo` map sent in every handshake reply (a Cell sends `{"name": ...}`).
    pub fn set_ahainfo(&self, ahainfo: Option<Value>) {
        *write(&self.inner.ahainfo) = ahainfo;
    }

    /// When not ready, new links are closed at once; turning readiness off closes every
    /// open link.
    pub async fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
        if !ready {
            let links: Vec<Base> = lock(&self.inner.links).values().cloned().collect();
            for link in links {
                link.fini().await;
            }
        }
    }

    /// True when accepting links.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// The live sessions.
    pub fn sessions(&self) -> Vec<Session> {
        lock(&self.inner.sessions).values().cloned().collect()
    }

    /// One session by iden.
    pub fn session(&self, iden: &str) -> Option<Session> {
        lock(&self.inner.sessions).get(iden).cloned()
    }

    /// How many links are open.
    pub fn link_count(&self) -> usize {
        lock(&self.inner.links).len()
    }

    /// Stop everything: listeners, links, sessions.
    pub async fn fini(&self) {
        self.inner.base.fini().await;
    }

    /// Listen on a URL: `tcp://host:port`, `ssl://host:port?hostname=..&ca=..`, or
    /// `unix:///path`. Port 0 picks a free port; the bound address is returned.
    pub async fn listen(&self, url: &str) -> Result<ListenAddr, Error> {
        let info = UrlInfo::parse(url)?;
        match info.scheme.as_str() {
            "tcp" | "ssl" => {
                let host = match info.effective_host() {
                    "" => "0.0.0.0",
                    host => host,
                };
                let port = info.effective_port()?;
                let tls = if info.scheme == "ssl" {
                    let names: Vec<String> = info
                        .opt("hostname")
                        .unwrap_or(host)
                        .split(',')
                        .map(str::to_owned)
                        .collect();
                    let config = self
                        .inner
                        .conf
                        .certdir
                        .server_config(&names, info.opt("ca"))?;
                    Some(tokio_rustls::TlsAcceptor::from(config))
                } else {
                    None
                };
                let listener = TcpListener::bind((host, port)).await?;
                let addr = listener.local_addr()?;
                let weak = Arc::downgrade(&self.inner);
                self.inner
                    .listeners
                    .spawn(accept_tcp(weak, listener, tls))?;
                tracing::info!(%addr, scheme = %info.scheme, "telepath listening");
                Ok(ListenAddr::Tcp(addr))
            }
            "unix" => {
                let path = PathBuf::from(&info.path);
                if let Ok(meta) = std::fs::symlink_metadata(&path) {
                    use std::os::unix::fs::FileTypeExt;
                    if meta.file_type().is_socket() {
                        std::fs::remove_file(&path)?;
                    }
                }
                let listener = UnixListener::bind(&path)?;
                let weak = Arc::downgrade(&self.inner);
                self.inner
                    .listeners
                    .spawn(accept_unix(weak, listener, path.clone()))?;
                tracing::info!(path = %path.display(), "telepath listening");
                Ok(ListenAddr::Unix(path))
            }
            other => Err(Error::BadUrl(format!("cannot listen on scheme {other}"))),
        }
    }

    /// Serve one already-connected byte stream as a link (e.g. one half of an in-memory
    /// duplex in tests, or a socket handed over by other code).
    pub fn serve_io<T>(&self, io: T, peer: PeerInfo) -> Result<(), Error>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .try_acquire_owned()
            .map_err(|_| Error::LinkShutDown("too many links".to_owned()))?;
        let inner = Arc::clone(&self.inner);
        self.inner
            .conns
            .spawn(serve_link(inner, Box::new(io), None, peer, permit))?;
        Ok(())
    }
}

async fn accept_tcp(
    daemon: Weak<DaemonInner>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(inner) = daemon.upgrade() else {
            return;
        };
        let Some(permit) = admit(&inner) else {
            continue;
        };
        tune_tcp(&stream);
        let tls = tls.clone();
        let timeout = inner.conf.tls_handshake_timeout;
        let inner2 = Arc::clone(&inner);
        let task = async move {
            let mut peer = PeerInfo {
                family: Family::Tcp,
                addr: Some(addr),
                path: None,
                cert_cn: None,
                cred: None,
            };
            let mut sock = None;
            let io: BoxIo = match tls {
                None => {
                    sock = Some(SpinSock::tcp(&stream));
                    Box::new(stream)
                }
                Some(acceptor) => {
                    peer.family = Family::Tls;
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            peer.cert_cn = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|certs| certs.first())
                                .and_then(|cert| subject_cn(cert.as_ref()));
                            Box::new(stream)
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(%addr, %err, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%addr, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            serve_link(inner2, io, sock, peer, permit).await;
        };
        if inner.conns.spawn(task).is_err() {
            return;
        }
    }
}

async fn accept_unix(daemon: Weak<DaemonInner>, listener: UnixListener, path: PathBuf) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(inner) = daemon.upgrade() else {
            return;
        };
        let Some(permit) = admit(&inner) else {
            continue;
        };
        let cred = stream.peer_cred().ok().map(|cred| UnixCred {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        });
        let peer = PeerInfo {
            family: Family::Unix,
            addr: None,
            path: Some(path.clone()),
            cert_cn: None,
            cred,
        };
        let sock = Some(SpinSock::unix(&stream));
        let task = serve_link(Arc::clone(&inner), Box::new(stream), sock, peer, permit);
        if inner.conns.spawn(task).is_err() {
            return;
        }
    }
}

/// A permit for a new link, or `None` (and the connection is dropped) when not ready or full.
fn admit(inner: &DaemonInner) -> Option<OwnedSemaphorePermit> {
    if !inner.ready.load(Ordering::SeqCst) {
        tracing::warn!("daemon not ready: closing new link");
        return None;
    }
    match Arc::clone(&inner.permits).try_acquire_owned() {
        Ok(permit) => Some(permit),
        Err(_) => {
            tracing::warn!(
                max = inner.conf.max_links,
                "too many links: closing new link"
            );
            None
        }
    }
}

/// A message received on a link (see [`LinkCtx::parse_frame`]).
enum Inbound {
    /// A decoded message.
    Mesg(Value),
    /// A `t2:init` call, its object found.
    Call(Box<ReadyCall>),
}

/// A `t2:init` read straight into a call.
struct ReadyCall {
    sess: Session,
    item: Arc<dyn Share>,
    todo: Todo,
    raw: Option<RawValue>,
}

struct LinkWriter {
    io: WriteHalf<BoxIo>,
    out: Spliced,
}

/// One link's server-side state, shared by its handlers.
struct LinkCtx {
    daemon: Arc<DaemonInner>,
    info: Arc<LinkInfo>,
    base: Base,
    writer: Arc<tokio::sync::Mutex<LinkWriter>>,
    /// Sessions made by handshakes on this link (they end with it); the last is current.
    sessions: Mutex<Vec<Session>>,
}

const BATCH_BYTES: usize = 64 * 1024;

/// The most sessions one link may hold (one per handshake on it).
const MAX_LINK_SESSIONS: usize = 16;

impl LinkCtx {
    /// Encode with `fill` and send. An encoding error is returned before anything is sent.
    async fn send_with<F>(&self, fill: F) -> Result<Result<(), CodecError>, Error>
    where
        F: FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
    {
        self.send_spliced(|out| fill(&mut out.head)).await
    }

    /// [`LinkCtx::send_with`], with large payloads written from their own buffers.
    async fn send_spliced<F>(&self, fill: F) -> Result<Result<(), CodecError>, Error>
    where
        F: FnOnce(&mut Spliced) -> Result<(), CodecError>,
    {
        let mut writer = self.writer.lock().await;
        let writer = &mut *writer;
        writer.out.clear();
        if let Err(err) = fill(&mut writer.out) {
            writer.out.clear();
            return Ok(Err(err));
        }
        let res = write_spliced(&mut writer.io, &writer.out).await;
        writer.out.parts.clear();
        if writer.out.head.capacity() > 1024 * 1024 {
            writer.out.head = Vec::new();
        }
        res.map(Ok)
    }

    async fn send(&self, value: &Value) -> Result<(), Error> {
        match self.send_with(|out| encode_into(value, out)).await? {
            Ok(()) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    fn current_session(&self) -> Option<Session> {
        lock(&self.sessions).last().cloned()
    }

    /// Make a message from its bytes. A well-formed `t2:init` for an object and method that
    /// exist is read straight into a call (with the argument the method takes raw, if any,
    /// kept as bytes: [`Share::raw_param`]); anything else is decoded and handled the
    /// ordinary way.
    fn parse_frame(&self, frame: Frame<'_>) -> Result<Inbound, CodecError> {
        let (frame, walked) = match frame {
            Frame::Bytes(frame) => (frame, None),
            Frame::Call(frame, walked) => (frame, Some(walked)),
            Frame::Decoded(value) => return Ok(Inbound::Mesg(value)),
        };
        if let Some(head) = peek_t2_init(frame, walked)
            && !head.meth.is_empty()
            && !head.meth.starts_with('_')
            && let Some(sess) = head
                .sess
                .and_then(|iden| lock(&self.daemon.sessions).get(iden).cloned())
            && let Some(item) = match &head.name {
                Value::Nil => sess.get_item(None),
                Value::String(text) => text.as_str().and_then(|iden| sess.get_item(Some(iden))),
                _ => None,
            }
        {
            let param = item.raw_param(head.meth);
            let (todo, raw) = head.todo(frame, param)?;
            return Ok(Inbound::Call(Box::new(ReadyCall {
                sess,
                item,
                todo,
                raw,
            })));
        }
        Ok(Inbound::Mesg(crate::codec::decode(frame)?))
    }

    async fn handle(self: &Arc<Self>, inbound: Inbound) -> Result<(), Error> {
        let mesg = match inbound {
            Inbound::Mesg(mesg) => mesg,
            Inbound::Call(call) => {
                let ReadyCall {
                    sess,
                    item,
                    todo,
                    raw,
                } = *call;
                return self.run_t2(sess, item, todo, raw).await;
            }
        };
        match Incoming::parse(mesg) {
            Incoming::TeleSyn(info) => self.on_tele_syn(info).await,
            Incoming::T2Init(info) => self.on_t2_init(info).await,
            Incoming::TaskInit(info) => self.on_task_init(info).await,
            Incoming::ShareFini(info) => {
                self.on_share_fini(info).await;
                Ok(())
            }
            Incoming::Unknown(kind) => {
                tracing::warn!(link = %self.info.iden, %kind, "unknown message type: dropped");
                Ok(())
            }
            Incoming::Malformed => {
                tracing::warn!(link = %self.info.iden, "malformed message: dropped");
                Ok(())
            }
        }
    }

    async fn on_tele_syn(self: &Arc<Self>, info: Value) -> Result<(), Error> {
        let mut pairs = vec![
            (Value::from("vers"), televers()),
            (Value::from("retn"), retn_ok(Value::Nil)),
        ];
        if let Some(aha) = read(&self.daemon.ahainfo).clone() {
            pairs.push((Value::from("ahainfo"), aha));
        }
        match self.open_session(info, &mut pairs).await {
            Ok((sess, sharinfo)) => {
                pairs.push((Value::from("sharinfo"), sharinfo));
                pairs.push((Value::from("sess"), Value::from(sess.iden())));
            }
            Err(err) => {
                tracing::debug!(link = %self.info.iden, %err, "handshake refused");
                pairs[1].1 = retn_err(&err);
            }
        }
        self.send(&mesg("tele:syn", Value::Map(pairs))).await
    }

    async fn open_session(
        self: &Arc<Self>,
        info: Value,
        reply: &mut Vec<(Value, Value)>,
    ) -> Result<(Session, Value), RemoteError> {
        let vers = info.get_key("vers").cloned().unwrap_or(Value::Nil);
        if vers[0].as_u64() != Some(msg::TELEVERS.0) {
            return Err(RemoteError::bad_mesg_vers(vers));
        }
        let name = match info.get_key("name").and_then(Value::as_str) {
            None | Some("") => "*",
            Some(name) => name,
        };
        let (name, path) = match name.split_once('/') {
            Some((name, "")) => (name, Vec::new()),
            Some((name, rest)) => (name, rest.split('/').map(str::to_owned).collect()),
            None => (name, Vec::new()),
        };
        let factory = read(&self.daemon.shared).get(name).cloned();
        let Some(factory) = factory else {
            return Err(RemoteError::no_such_name(name));
        };
        let features = factory.features();
        let user = match features {
            Some(features) => {
                reply.push((Value::from("features"), features));
                let auth = read(&self.daemon.auth).clone();
                match auth {
                    Some(auth) => {
                        let req = auth_request(&info, &self.info.peer, name, &path);
                        Some(auth.authenticate(&req).await?)
                    }
                    None => None,
                }
            }
            None => None,
        };
        let sess_base = self.daemon.base.child();
        let sess = Session::new(guid(), user, self.info.peer.clone(), sess_base);
        {
            let weak = Arc::downgrade(&self.daemon);
            let iden = sess.iden().to_owned();
            sess.base().on_fini(move || async move {
                if let Some(daemon) = weak.upgrade() {
                    lock(&daemon.sessions).remove(&iden);
                }
            });
        }
        let item = match factory.open(&sess, &path).await {
            Ok(item) => item,
            Err(err) => {
                sess.fini().await;
                return Err(err);
            }
        };
        let sharinfo = item.sharinfo().clone();
        if let Err(item) = sess.set_item(None, item) {
            item.fini().await;
            return Err(RemoteError::is_fini("session ended during handshake"));
        }
        lock(&self.daemon.sessions).insert(sess.iden().to_owned(), sess.clone());
        // A link repeating handshakes keeps at most MAX_LINK_SESSIONS sessions: the oldest
        // ends (the reference keeps them all until the link closes).
        let evicted = {
            let mut sessions = lock(&self.sessions);
            sessions.push(sess.clone());
            let extra = sessions.len().saturating_sub(MAX_LINK_SESSIONS);
            sessions.drain(..extra).collect::<Vec<_>>()
        };
        for old in evicted {
            old.fini().await;
        }
        if self.base.is_fini() {
            sess.fini().await;
        }
        Ok((sess, sharinfo))
    }

    /// Find the object and method of a `t2:init` or `task:init`.
    fn resolve(
        &self,
        sess: Option<Session>,
        name: &Value,
        todo: Option<Value>,
    ) -> Result<(Session, Arc<dyn Share>, Todo), RemoteError> {
        let (Some(sess), Some(todo)) = (sess, todo) else {
            return Err(RemoteError::no_such_obj(name.clone()));
        };
        let item = match name {
            Value::Nil => sess.get_item(None),
            Value::String(text) => text.as_str().and_then(|iden| sess.get_item(Some(iden))),
            _ => None,
        };
        let Some(item) = item else {
            return Err(RemoteError::no_such_obj(name.clone()));
        };
        let todo = Todo::from_value(todo)?;
        if todo.meth.is_empty() {
            return Err(RemoteError::new("IndexError", "string index out of range"));
        }
        if todo.meth.starts_with('_') {
            return Err(RemoteError::no_such_meth(item.class_name(), &todo.meth));
        }
        Ok((sess, item, todo))
    }

    async fn on_t2_init(self: &Arc<Self>, mut info: Value) -> Result<(), Error> {
        let name = item_name(&info);
        let sess = info
            .get_key("sess")
            .and_then(Value::as_str)
            .and_then(|iden| lock(&self.daemon.sessions).get(iden).cloned());
        let todo = info.take_key("todo");
        let (sess, item, todo) = match self.resolve(sess, &name, todo) {
            Ok(found) => found,
            Err(err) => return self.t2_fini_err(&err).await,
        };
        self.run_t2(sess, item, todo, None).await
    }

    /// Run a `t2:init` call and send its reply.
    async fn run_t2(
        self: &Arc<Self>,
        sess: Session,
        item: Arc<dyn Share>,
        todo: Todo,
        raw: Option<RawValue>,
    ) -> Result<(), Error> {
        let span = tracing::debug_span!("t2", meth = %todo.meth, sess = %sess.iden());
        async move {
            tracing::debug!("call");
            let ctx = CallCtx::new(
                Some(sess.clone()),
                Some(Arc::clone(&self.info)),
                self.base.token().child_token(),
            );
            let mut call = Call::new(todo.meth, todo.args, todo.kwargs, ctx);
            if let Some(raw) = raw {
                call = call.with_raw(raw);
            }
            match item.call(call).await {
                Err(err) => self.t2_fini_err(&err).await,
                Ok(Reply::Value(value)) => {
                    match self
                        .send_with(|out| msg::write_t2_fini_ok(&value, out))
                        .await?
                    {
                        Ok(()) => Ok(()),
                        Err(err) => self.t2_fini_err(&err.into()).await,
                    }
                }
                Ok(Reply::Stream(stream)) => self.t2_stream(stream).await,
                Ok(Reply::Share(share)) => {
                    let iden = guid();
                    let sharinfo = share.sharinfo().clone();
                    if let Err(share) = sess.set_item(Some(iden.clone()), share) {
                        share.fini().await;
                        return self
                            .t2_fini_err(&RemoteError::is_fini("the session ended"))
                            .await;
                    }
                    let info = vmap([("iden", Value::from(iden)), ("sharinfo", sharinfo)]);
                    self.send(&mesg("t2:share", info)).await
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn t2_fini_err(&self, err: &RemoteError) -> Result<(), Error> {
        match self
            .send_with(|out| msg::write_t2_fini_err(err, out))
            .await?
        {
            Ok(()) => Ok(()),
            Err(codec) => {
                let err = RemoteError::from(codec);
                self.send_with(|out| msg::write_t2_fini_err(&err, out))
                    .await?
                    .map_err(Error::from)
            }
        }
    }

    /// `t2:genr`, the items, then the end (or the error). Items ready at once are sent
    /// together, up to [`BATCH_BYTES`], to save system calls.
    async fn t2_stream(&self, mut stream: ValueStream) -> Result<(), Error> {
        // The reference announces the generator at once: a client awaiting the call must not
        // wait for the first item (which may never come, e.g. a follow of an idle log). When
        // the first item is already there, it travels in the same write as `t2:genr`.
        let mut ready = stream.next().now_or_never();
        let mut first = true;
        if ready.is_none() {
            self.send_with(|out| {
                msg::write_t2_genr(out);
                Ok(())
            })
            .await??;
            first = false;
        }
        loop {
            let next = match ready.take() {
                Some(item) => item,
                None => stream.next().await,
            };
            let mut finished = false;
            let mut failure: Option<RemoteError> = None;
            let sent = self
                .send_spliced(|out| {
                    if first {
                        msg::write_t2_genr(&mut out.head);
                    }
                    let mut next = Some(next);
                    loop {
                        match next.take() {
                            Some(Some(Ok(mut item))) => {
                                let (mark, parts) = (out.head.len(), out.parts.len());
                                if let Err(err) = msg::write_t2_yield_ok(&mut item, out) {
                                    out.head.truncate(mark);
                                    out.parts.truncate(parts);
                                    failure = Some(err.into());
                                    break;
                                }
                            }
                            Some(Some(Err(err))) => {
                                failure = Some(err);
                                break;
                            }
                            Some(None) => {
                                msg::write_t2_yield_end(&mut out.head);
                                finished = true;
                                break;
                            }
                            None => break,
                        }
                        if out.len() >= BATCH_BYTES {
                            break;
                        }
                        match stream.next().now_or_never() {
                            Some(item) => next = Some(item),
                            None => break,
                        }
                    }
                    if let Some(err) = &failure {
                        let out = &mut out.head;
                        let mark = out.len();
                        if msg::write_t2_yield_err(err, out).is_err() {
                            out.truncate(mark);
                            let safe = RemoteError::not_msgpack_safe("error info is not encodable");
                            msg::write_t2_yield_err(&safe, out)?;
                        }
                        finished = true;
                    }
                    Ok(())
                })
                .await?;
            sent?;
            first = false;
            if finished {
                return Ok(());
            }
        }
    }

    async fn on_task_init(self: &Arc<Self>, mut info: Value) -> Result<(), Error> {
        let task = info.get_key("task").cloned().unwrap_or(Value::Nil);
        let name = item_name(&info);
        let todo = info.take_key("todo");
        let sess = self.current_session();
        // A missing session or object is only logged by the reference (no reply).
        let Some(sess) = sess else {
            tracing::warn!(link = %self.info.iden, "task:init without a session");
            return Ok(());
        };
        let item = match &name {
            Value::Nil => sess.get_item(None),
            Value::String(text) => text.as_str().and_then(|iden| sess.get_item(Some(iden))),
            _ => None,
        };
        if item.is_none() {
            tracing::warn!(link = %self.info.iden, "task:init for an unknown object");
            return Ok(());
        }
        let fini = |retn: Value| mesg("task:fini", vmap([("task", task.clone()), ("retn", retn)]));
        let (sess, item, todo) = match self.resolve(Some(sess), &name, todo) {
            Ok(found) => found,
            Err(err) => return self.send(&fini(retn_err(&err))).await,
        };
        let ctx = CallCtx::new(
            Some(sess.clone()),
            Some(Arc::clone(&self.info)),
            self.base.token().child_token(),
        );
        let call = Call::new(todo.meth, todo.args, todo.kwargs, ctx);
        match item.call(call).await {
            Err(err) => self.send(&fini(retn_err(&err))).await,
            Ok(Reply::Value(value)) => {
                let reply = fini(retn_ok(value));
                match self.send(&reply).await {
                    Err(Error::Codec(err)) => {
                        self.send(&fini(retn_err(&RemoteError::from(err)))).await
                    }
                    other => other,
                }
            }
            Ok(Reply::Share(share)) => {
                let iden = guid();
                let typename = share.typename().to_owned();
                if let Err(share) = sess.set_item(Some(iden.clone()), share) {
                    share.fini().await;
                    let err = RemoteError::is_fini("the session ended");
                    return self.send(&fini(retn_err(&err))).await;
                }
                let mut reply = fini(retn_ok(Value::from(iden)));
                if let Value::Array(items) = &mut reply {
                    crate::value::map_set(&mut items[1], "type", Value::from(typename));
                }
                self.send(&reply).await
            }
            Ok(Reply::Stream(stream)) => {
                let iden = guid();
                let mut reply = fini(retn_ok(Value::from(iden.as_str())));
                if let Value::Array(items) = &mut reply {
                    crate::value::map_set(&mut items[1], "type", Value::from("genr"));
                }
                self.send(&reply).await?;
                let me = Arc::clone(self);
                // The reference runs the share loop beside the link's other messages.
                let loop_task = async move {
                    if let Err(err) = me.share_loop(&iden, stream).await {
                        tracing::debug!(%err, "share loop ended");
                    }
                };
                if self.base.spawn(loop_task).is_err() {
                    return Err(Error::IsFini);
                }
                Ok(())
            }
        }
    }

    async fn share_loop(&self, iden: &str, mut stream: ValueStream) -> Result<(), Error> {
        let data = |data: Value| {
            mesg(
                "share:data",
                vmap([("share", Value::from(iden)), ("data", data)]),
            )
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(value) => match self.send(&data(retn_ok(value))).await {
                    Ok(()) => {}
                    Err(Error::Codec(err)) => {
                        self.send(&data(retn_err(&RemoteError::from(err)))).await?;
                        break;
                    }
                    Err(err) => return Err(err),
                },
                Err(err) => {
                    self.send(&data(retn_err(&err))).await?;
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        self.send(&data(Value::Nil)).await
    }

    async fn on_share_fini(&self, info: Value) {
        let Some(sess) = self.current_session() else {
            return;
        };
        let Some(iden) = info.get_key("share").and_then(Value::as_str) else {
            return;
        };
        if let Some(item) = sess.pop_item(iden) {
            item.fini().await;
        }
    }
}

fn auth_request(info: &Value, peer: &PeerInfo, name: &str, path: &[String]) -> AuthRequest {
    let auth = info.get_key("auth").cloned().unwrap_or(Value::Nil);
    let user = auth[0].as_str().map(str::to_owned);
    let passwd = auth[1]
        .get_key("passwd")
        .and_then(Value::as_str)
        .map(str::to_owned);
    AuthRequest {
        user,
        passwd,
        auth,
        peer: peer.clone(),
        name: name.to_owned(),
        path: path.to_vec(),
    }
}

/// Serve one link until it closes. `sock` is the plain socket under `io` (not TLS), read
/// directly for a short while before parking (see [`synapse_base::spin`]).
async fn serve_link(
    daemon: Arc<DaemonInner>,
    io: BoxIo,
    sock: Option<SpinSock>,
    peer: PeerInfo,
    _permit: OwnedSemaphorePermit,
) {
    let iden = guid();
    let span = tracing::debug_span!("link", %iden, family = peer.family.as_str());
    let link_base = daemon.conns.child();
    if link_base.is_fini() {
        return;
    }
    let (rd, wr) = tokio::io::split(io);
    let ctx = Arc::new(LinkCtx {
        daemon: Arc::clone(&daemon),
        info: Arc::new(LinkInfo {
            iden: iden.clone(),
            peer,
        }),
        base: link_base.clone(),
        writer: Arc::new(tokio::sync::Mutex::new(LinkWriter {
            io: wr,
            out: Spliced::default(),
        })),
        sessions: Mutex::new(Vec::new()),
    });
    lock(&daemon.links).insert(iden.clone(), link_base.clone());
    {
        let weak_ctx = Arc::downgrade(&ctx);
        let weak_daemon = Arc::downgrade(&daemon);
        let iden = iden.clone();
        link_base.on_fini(move || async move {
            if let Some(daemon) = weak_daemon.upgrade() {
                lock(&daemon.links).remove(&iden);
            }
            if let Some(ctx) = weak_ctx.upgrade() {
                let sessions: Vec<Session> = lock(&ctx.sessions).drain(..).collect();
                for sess in sessions {
                    sess.fini().await;
                }
            }
        });
    }
    run_link(&ctx, rd, sock).instrument(span).await;
    link_base.fini().await;
}

async fn run_link(ctx: &Arc<LinkCtx>, mut rd: ReadHalf<BoxIo>, mut sock: Option<SpinSock>) {
    let token = ctx.base.token();
    let mut dec = FrameDecoder::new(ctx.daemon.conf.max_message);
    dec.walk_calls();
    let mut pending: Option<Inbound> = None;
    let parse = |frame: Frame<'_>| ctx.parse_frame(frame);
    tracing::debug!("link open");
    loop {
        let mesg = match pending.take() {
            Some(mesg) => mesg,
            None => tokio::select! {
                biased;
                () = token.cancelled() => break,
                res = read_spinning(
                    &mut rd,
                    sock.as_mut(),
                    (&ctx.daemon.spinners, &ctx.daemon.working),
                    &mut dec,
                    parse,
                ) => match res {
                    Ok(Some(mesg)) => mesg,
                    Ok(None) => break,
                    Err(err) => {
                        report_rx_error(&err);
                        break;
                    }
                },
            },
        };
        let _working = Working::start(&ctx.daemon.working);
        let handler = ctx.handle(mesg);
        tokio::pin!(handler);
        let mut closed = false;
        loop {
            tokio::select! {
                biased;
                res = &mut handler => {
                    if let Err(err) = res {
                        tracing::debug!(%err, "link send failed");
                        closed = true;
                    }
                    break;
                }
                () = token.cancelled() => {
                    closed = true;
                    break;
                }
                res = read_frame_with(&mut rd, &mut dec, parse), if pending.is_none() => match res {
                    Ok(Some(mesg)) => pending = Some(mesg),
                    Ok(None) => {
                        tracing::debug!("peer closed the link during a call: cancelling it");
                        closed = true;
                        break;
                    }
                    Err(err) => {
                        report_rx_error(&err);
                        closed = true;
                        break;
                    }
                },
            }
        }
        if closed {
            break;
        }
    }
    tracing::debug!("link closed");
}

/// Read the next message, spinning for it first if no other link is spinning or working (see
/// [`SpinTurn`]).
async fn read_spinning<T, F>(
    rd: &mut ReadHalf<BoxIo>,
    sock: Option<&mut SpinSock>,
    (spinners, working): (&AtomicUsize, &AtomicUsize),
    dec: &mut FrameDecoder,
    parse: F,
) -> Result<Option<T>, Error>
where
    F: FnMut(Frame<'_>) -> Result<T, CodecError>,
{
    // Only while no other link is handling a message: with calls in flight elsewhere, the
    // CPUs have their work (and a busy client its own) to do.
    let turn = || {
        (working.load(Ordering::Relaxed) == 0)
            .then(|| SpinTurn::take(spinners))
            .flatten()
    };
    read_frame_spinning(rd, sock, turn, dec, parse).await
}

/// A link handling a message, counted in the Daemon's `working` while it lives.
struct Working<'a>(&'a AtomicUsize);

impl<'a> Working<'a> {
    fn start(working: &'a AtomicUsize) -> Self {
        working.fetch_add(1, Ordering::Relaxed);
        Working(working)
    }
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn report_rx_error(err: &Error) {
    match err {
        Error::Codec(err) => tracing::warn!(%err, "bad data on link: closing it"),
        err => tracing::debug!(%err, "link read failed"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
