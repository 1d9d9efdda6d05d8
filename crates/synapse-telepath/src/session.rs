//! Sessions and link identity: [`Session`], [`Identity`], [`LinkInfo`], [`PeerInfo`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rmpv::Value;
use synapse_base::Base;

use crate::share::Share;
use crate::value::vmap;

/// The authenticated user of a session, as the [`crate::Authenticator`] returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's iden.
    pub iden: String,
    /// The user's name.
    pub name: String,
}

/// How a peer is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Plain TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// A UNIX socket (trusted: the reference lets such peers claim any user).
    Unix,
}

impl Family {
    /// The reference's name: `"tcp"`, `"tls"` or `"unix"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Tcp => "tcp",
            Family::Tls => "tls",
            Family::Unix => "unix",
        }
    }
}

/// The credentials of a UNIX socket peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixCred {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Process id, when the platform reports it.
    pub pid: Option<i32>,
}

/// Where a link comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// TCP, TLS or UNIX.
    pub family: Family,
    /// The peer's address (TCP and TLS).
    pub addr: Option<SocketAddr>,
    /// The socket path (UNIX; the listening path, as the reference reports it).
    pub path: Option<PathBuf>,
    /// The subject common name of the peer's verified TLS client certificate.
    pub cert_cn: Option<String>,
    /// The UNIX peer's credentials.
    pub cred: Option<UnixCred>,
}

impl PeerInfo {
    /// The reference's `conninfo` map: `{"family", "addr", "ipver"}`.
    pub fn to_value(&self) -> Value {
        let mut pairs = vec![(Value::from("family"), Value::from(self.family.as_str()))];
        match (self.addr, &self.path) {
            (Some(addr), _) => {
                let addr_value = match addr {
                    SocketAddr::V4(v4) => Value::Array(vec![
                        Value::from(v4.ip().to_string()),
                        Value::from(v4.port()),
                    ]),
                    SocketAddr::V6(v6) => Value::Array(vec![
                        Value::from(v6.ip().to_string()),
                        Value::from(v6.port()),
                        Value::from(v6.flowinfo()),
                        Value::from(v6.scope_id()),
                    ]),
                };
                pairs.push((Value::from("addr"), addr_value));
                let ipver = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
                pairs.push((Value::from("ipver"), Value::from(ipver)));
            }
            (None, Some(path)) => {
                pairs.push((
                    Value::from("addr"),
                    Value::from(path.to_string_lossy().into_owned()),
                ));
            }
            (None, None) => {}
        }
        Value::Map(pairs)
    }
}

/// One connection as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// A random iden for the link.
    pub iden: String,
    /// Where it comes from.
    pub peer: PeerInfo,
}

/// A telepath session: made by a successful `tele:syn`, it holds the API object for the
/// authenticated user and the shares made by its calls. It ends when the link that made it
/// (the client's main link) closes, or when the daemon shuts down; then every object it holds
/// is torn down.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    iden: String,
    user: Option<Identity>,
    peer: PeerInfo,
    base: Base,
    items: Mutex<HashMap<Option<String>, Arc<dyn Share>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("iden", &self.inner.iden)
            .field("user", &self.inner.user)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(iden: String, user: Option<Identity>, peer: PeerInfo, base: Base) -> Self {
        let inner = Arc::new(SessionInner {
            iden,
            user,
            peer,
            base,
            items: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&inner);
        inner.base.on_fini(move || async move {
            let Some(inner) = weak.upgrade() else { return };
            let items: Vec<Arc<dyn Share>> = lock(&inner.items).drain().map(|(_, v)| v).collect();
            for item in items {
                item.fini().await;
            }
        });
        Self { inner }
    }

    /// The session iden (the `sess` the client sends with each `t2:init`).
    pub fn iden(&self) -> &str {
        &self.inner.iden
    }

    /// The authenticated user (`None` for objects shared without authentication).
    pub fn user(&self) -> Option<&Identity> {
        self.inner.user.as_ref()
    }

    /// Where the handshake link came from.
    pub fn peer(&self) -> &PeerInfo {
        &self.inner.peer
    }

    /// The session's lifecycle: torn down with the main link.
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// True once the session ended.
    pub fn is_fini(&self) -> bool {
        self.inner.base.is_fini()
    }

    /// End the session (tears down its objects).
    pub async fn fini(&self) {
        self.inner.base.fini().await;
    }

    pub(crate) fn get_item(&self, name: Option<&str>) -> Option<Arc<dyn Share>> {
        lock(&self.inner.items)
            .get(&name.map(str::to_owned))
            .cloned()
    }

    /// Store an item, refused (and returned) after teardown started.
    pub(crate) fn set_item(
        &self,
        name: Option<String>,
        item: Arc<dyn Share>,
    ) -> Result<(), Arc<dyn Share>> {
        let mut items = lock(&self.inner.items);
        if self.inner.base.is_fini() {
            return Err(item);
        }
        items.insert(name, item);
        Ok(())
    }

    pub(crate) fn pop_item(&self, name: &str) -> Option<Arc<dyn Share>> {
        lock(&self.inner.items).remove(&Some(name.to_owned()))
    }

    /// The reference's `getDmonSessions` entry: `{"items": {name: class}, "conninfo", "user"}`.
    pub fn pack(&self) -> Value {
        let items = lock(&self.inner.items)
            .iter()
            .map(|(name, item)| {
                let key = match name {
                    Some(name) => Value::from(name.as_str()),
                    None => Value::Nil,
                };
                // The fully qualified class, as the reference's `module.Class`.
                let class = match &item.sharinfo()["classes"][0] {
                    Value::String(name) => Value::String(name.clone()),
                    _ => Value::from(item.class_name()),
                };
                (key, class)
            })
            .collect();
        let mut pairs = vec![
            (Value::from("items"), Value::Map(items)),
            (Value::from("conninfo"), self.inner.peer.to_value()),
        ];
        if let Some(user) = &self.inner.user {
            pairs.push((
                Value::from("user"),
                vmap([("iden", user.iden.as_str()), ("name", user.name.as_str())]),
            ));
        }
        Value::Map(pairs)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
