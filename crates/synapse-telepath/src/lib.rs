//! Telepath: the msgpack RPC protocol of Synapse 2.x, wire-compatible with the reference
//! (`synapse.telepath` / `synapse.daemon` 2.256), both as a server and as a client.
//!
//! # Overview
//!
//! * **Values**: [`Value`] (`rmpv::Value`) is the dynamic value type. The [`codec`] encodes
//!   exactly as the reference's packer (smallest ints, unsigned family for non-negative ints,
//!   float64 only, `str` vs `bin`, ints beyond 64 bits as ext 0/1) and decodes with bounds.
//!   [`FrameDecoder`] cuts messages out of a byte stream (telepath has no framing) with a
//!   configurable size limit.
//! * **Server**: a [`Daemon`] shares objects by name over `tcp://`, `ssl://` and `unix://`
//!   listeners. An object implements [`Share`], usually through a [`Methods`] table of async
//!   closures (unary, generator and share-returning methods). Per-session objects come from a
//!   [`ShareFactory`], and an [`Authenticator`] checks the handshake's credentials. Each call
//!   gets a [`Call`] with its arguments ([`Call::params`] binds them as a Python signature
//!   would) and a [`CallCtx`] (session user, link, cancellation token).
//! * **Client**: [`Proxy`] (calls, streams, shares, timeouts, a pool of links), [`Client`]
//!   (reconnects), and [`blocking::Proxy`] for code that is not async.
//! * **Errors**: [`Error`] for local failures; [`RemoteError`] is the `(name, info)` pair that
//!   travels on the wire, converted in one place ([`RemoteError::to_value`],
//!   [`RemoteError::from_value`], [`retn`], [`parse_retn`]).
//!
//! * **Raw arguments**: a method can take one argument as its msgpack bytes
//!   ([`Methods::raw_param`] / [`Share::raw_param`], then [`Call::take_raw`]): the daemon
//!   checks those bytes ([`raw::inspect`]) but builds no [`Value`] tree, so a service that
//!   stores msgpack (a Cryotank's `puts`) keeps the bytes as they came.
//!
//! # Runtimes
//!
//! A server should run on tokio's multi-thread runtime. A latency-bound client (sequential
//! calls, one stream at a time) is fastest on a `current_thread` runtime
//! (`#[tokio::main(flavor = "current_thread")]`): a call then costs the client one send,
//! one wait and one receive, and the reply wakes the very thread that waits for it; on the
//! multi-thread runtime a reply often wakes a second worker first (about twice the context
//! switches per call). Clients with many concurrent calls can use either.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use futures::StreamExt;
//! use synapse_telepath::{Call, Daemon, Methods, Proxy, Value, genr};
//!
//! struct Echo;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synapse_telepath::Error> {
//! let methods = Arc::new(
//!     Methods::<Echo>::new(["example.EchoApi"])
//!         .unary("echo", |_echo, mut call: Call| async move {
//!             let valu: Value = call.params(&["valu"])?.req("valu")?;
//!             Ok(valu)
//!         })
//!         .genr("count", |_echo, mut call: Call| {
//!             let n: u64 = call.params(&["n"])?.req("n")?;
//!             Ok(genr(move |y| async move {
//!                 for i in 0..n {
//!                     y.emit(i).await;
//!                 }
//!                 Ok(())
//!             }))
//!         }),
//! );
//!
//! let daemon = Daemon::new();
//! daemon.share("*", methods.bind(Arc::new(Echo)));
//! let addr = daemon.listen("tcp://127.0.0.1:0").await?;
//!
//! let proxy = Proxy::open(&format!("tcp://{addr}/")).await?;
//! let valu = proxy.call("echo", vec![Value::from("hi")], vec![]).await?;
//! assert_eq!(valu, Value::from("hi"));
//!
//! let items: Vec<_> = proxy.stream("count", vec![Value::from(3)], vec![]).await?.collect().await;
//! assert_eq!(items.len(), 3);
//!
//! let err = proxy.call("_secret", vec![], vec![]).await.unwrap_err();
//! assert_eq!(err.name(), "NoSuchMeth");
//!
//! proxy.fini().await;
//! daemon.fini().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Protocol notes
//!
//! * A link is a stream of msgpack values back to back; every message is `[type, info]`.
//! * Handshake: the client sends `tele:syn {auth, vers: [3, 0], name}` on its main link; the
//!   reply carries `vers`, `retn`, `ahainfo` (if set), `features` (once the share was found,
//!   for objects that authenticate), `sharinfo` and `sess` (on success). A failed handshake is
//!   replied to and the link left open; the client closes it.
//! * Calls: `t2:init {todo: [meth, args, kwargs], name, sess}` on any link (the client uses a
//!   pool of links that never handshake), answered by `t2:fini {retn}`, or `t2:genr` then
//!   `t2:yield {retn: [true, item]}`… and `t2:yield {retn: null}` (an error ends a stream
//!   without the null), or `t2:share {iden, sharinfo}`. Calls on a share name it in `name`;
//!   `share:fini {share}` on the main link closes it.
//! * The server handles one message at a time per link, in order. The only way to cancel a
//!   call (or stop a generator) is to close its link; the daemon notices at once (it keeps
//!   reading while a call runs) and drops the call, cancelling [`CallCtx::token`].
//! * Method names starting with `_` are refused with `NoSuchMeth`
//!   (`"<Class> has no method: <name>."`), as missing ones; an unknown session or object
//!   gives `NoSuchObj`. Argument errors are Python's `TypeError` messages
//!   ([`Call::params`]).
//! * The old protocol is still served: `task:init {task, todo, name}` on the handshake link,
//!   `task:fini {task, retn[, type]}`, generators as `share:data {share, data}` messages
//!   ending with `data: null` (also after an error).
//! * Sessions end when the main link closes: every share and the session's API object are
//!   torn down ([`Share::fini`]).
//!
//! # URLs
//!
//! `scheme://[user[:passwd]@]host[:port][/name[/path...]][?k=v&...]`, parsed as the reference
//! does ([`UrlInfo`]; user and password are percent-decoded, the default port is 27492):
//!
//! * `tcp://host:port/name`, `ssl://host:port/name`: the share name is the path (`""` means
//!   `"*"`); `name=` in the query overrides it for every scheme.
//! * `unix:///path/to/sock[:name]`, `cell:///path/to/celldir[:name]` (`<dirn>/sock`); UNIX
//!   peers are trusted by Cells (any user, no password).
//! * `ssl://` client options: `hostname=` (SNI and the certificate CN checked after connecting;
//!   default the host), `certhash=` (pin the SHA-256 of the server certificate, no CA check),
//!   `certname=` (present `users/<certname>.crt`; with a user and no password, `user@hostname`
//!   is tried). CAs come from [`CertDir`] (`$SYN_CERT_DIR` or `~/.syn/certs`, or
//!   [`ProxyOptions::certdir`]).
//! * Listen URLs ([`Daemon::listen`]): `tcp://host:port`, `unix:///path`,
//!   `ssl://host:port?hostname=a,b&ca=name` (host certificates from `hosts/`, chosen by SNI;
//!   with `ca=`, client certificates signed by `cas/<name>.crt` are required and their CN is
//!   given to the [`Authenticator`] as [`PeerInfo::cert_cn`]).
//!
//! # Differences from the reference
//!
//! * Error infos carry no `efile`/`eline`/`esrc`/`ename` (the reference's clients ignore them).
//! * Messages are limited by [`DaemonConfig::max_message`] (default the reference's 2**32-1)
//!   and links by [`DaemonConfig::max_links`]; a link that repeats handshakes keeps its 16
//!   newest sessions; a handshake that fails leaves no half-made session.
//! * sharinfo lists only the methods an object defines (not the Python framework's `fini`,
//!   `on`, ...), which also cannot be called.
//! * The client opens pool links on demand (no background pre-opening); idle links above
//!   [`ProxyOptions::max_idle`] are closed one per [`ProxyOptions::cull_interval`], as the
//!   reference does. `aha://` URLs and `~/.syn/aliases.yaml` are not supported by the client,
//!   and the system CA store is not loaded (only the cert dir's CAs).
//! * [`Proxy::call`] collects a generator's items into an array; [`Proxy::stream`] of a method
//!   that returned `None` is an empty stream (as the reference's generator call).

pub mod blocking;
mod client;
pub mod codec;
mod daemon;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod genr;
mod link;
mod msg;
mod proxy;
pub mod raw;
mod session;
mod share;
mod tls;
mod url;
mod value;

pub use rmpv::Value;

pub use crate::client::{Client, ClientOptions};
pub use crate::codec::{CodecError, FrameDecoder};
pub use crate::daemon::{
    AuthRequest, Authenticator, Daemon, DaemonConfig, ListenAddr, ShareFactory,
};
pub use crate::error::{Error, RemoteError, parse_retn, retn, retn_err, retn_ok};
pub use crate::genr::{Emit, ValueStream, Yielder, genr};
pub use crate::msg::{TELEVERS, Todo, mesg, split_mesg, televers};
pub use crate::proxy::{Kwargs, Proxy, ProxyOptions, RemoteStream, Response, ShareProxy, openurl};
pub use crate::raw::{RawParam, RawValue};
pub use crate::session::{Family, Identity, LinkInfo, PeerInfo, Session, UnixCred};
pub use crate::share::{Call, CallCtx, Methods, Params, Reply, SYN_VERSION, Share, ShareInfo};
pub use crate::tls::{CertDir, ClientTls, subject_cn};
pub use crate::url::{DEFAULT_PORT, UrlInfo};
pub use crate::value::{FromValue, List, ValueExt, map_set, vmap};
