//! The cell on telepath: authentication of handshakes ([`CellAuth`]), the per-session API
//! object ([`CellApiFactory`]), the [`Share`] implementation of [`CellApi`], and the
//! conversion of cell errors to wire errors.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use rmpv::Value;
use synapse_telepath::{
    AuthRequest, Authenticator, Call, Family, Identity, RemoteError, Share, ShareFactory,
};
use tracing::Instrument;

use crate::cell::{Cell, ServiceCell};
use crate::error::Error;
use crate::service::{MethDef, Reply, Service, ShareObject};
use crate::session::{CellApi, ConnInfo};
use crate::value::Args;

impl From<Error> for RemoteError {
    fn from(err: Error) -> Self {
        let (name, info) = err.to_remote();
        RemoteError { name, info }
    }
}

impl From<RemoteError> for Error {
    fn from(err: RemoteError) -> Self {
        let mesg = err.mesg().unwrap_or_default().to_string();
        let mut out = match crate::error::ErrKind::from_name(&err.name) {
            Some(kind) => Error::new(kind, mesg),
            None => Error::named(err.name.clone(), mesg),
        };
        if let Value::Map(items) = err.info {
            for (key, valu) in items {
                if let Some(key) = key.as_str()
                    && key != "mesg"
                {
                    out = out.with(key, valu);
                }
            }
        }
        out
    }
}

impl From<&Error> for RemoteError {
    fn from(err: &Error) -> Self {
        let (name, info) = err.to_remote();
        RemoteError { name, info }
    }
}

/// Authenticates telepath handshakes against the cell's users, as the reference's
/// `Cell.getTeleApi`: UNIX socket peers may claim any user without a password (root if none);
/// a TLS client certificate's CN names the user; no credentials use `auth:anon`; otherwise the
/// password must match (locked users fail like a wrong password).
#[derive(Debug, Clone)]
pub struct CellAuth {
    cell: Cell,
}

impl CellAuth {
    /// The authenticator of `cell`.
    pub fn new(cell: Cell) -> Self {
        Self { cell }
    }

    async fn check(&self, req: &AuthRequest) -> Result<Identity, RemoteError> {
        let auth = self.cell.auth();
        let ident = |user: &crate::auth::UserDef| Identity {
            iden: user.iden.clone(),
            name: user.name.clone(),
        };
        if req.peer.family == Family::Unix {
            let name = req.user.as_deref().unwrap_or("root");
            return match auth.user_by_name(name) {
                Some(user) => Ok(ident(&user)),
                None => Err(RemoteError::no_such_user(name)),
            };
        }
        if let Some(cn) = &req.peer.cert_cn {
            let locked = |name: &str, user: &crate::auth::UserDef| {
                RemoteError::auth_deny(format!("User ({name}) is locked."))
                    .with("user", user.iden.as_str())
                    .with("username", name)
            };
            if let Some((userpart, hostpart)) = cn.split_once('@')
                && self
                    .cell
                    .conf_value("aha:network")
                    .as_ref()
                    .and_then(|v| v.as_str())
                    == Some(hostpart)
                && let Some(user) = auth.user_by_name(userpart)
            {
                if user.is_locked() {
                    return Err(locked(userpart, &user));
                }
                return Ok(ident(&user));
            }
            return match auth.user_by_name(cn) {
                Some(user) if user.is_locked() => Err(locked(cn, &user)),
                Some(user) => Ok(ident(&user)),
                None => Err(RemoteError::bare("NoSuchUser")
                    .with("mesg", format!("TLS client cert User not found: {cn}"))
                    .with("username", cn.as_str())),
            };
        }
        let Some(name) = &req.user else {
            let Some(anon) = self.cell.conf_value("auth:anon") else {
                return Err(RemoteError::no_anon_user());
            };
            let anon = anon.as_str().unwrap_or_default().to_string();
            return match auth.user_by_name(&anon) {
                None => Err(
                    RemoteError::auth_deny(format!("Anon user ({anon}) is not found."))
                        .with("username", anon.as_str()),
                ),
                Some(user) if user.is_locked() => Err(RemoteError::auth_deny(format!(
                    "Anon user ({anon}) is locked."
                ))
                .with("username", anon.as_str())
                .with("user", user.iden.as_str())),
                Some(user) => Ok(ident(&user)),
            };
        };
        let Some(user) = auth.user_by_name(name) else {
            return Err(RemoteError::no_such_user(name));
        };
        match auth
            .try_user_passwd(&user.iden, req.passwd.as_deref())
            .await
        {
            Ok(true) => Ok(ident(&user)),
            Ok(false) => Err(RemoteError::invalid_password(&user.name, &user.iden)),
            Err(err) => Err(err.into()),
        }
    }
}

impl Authenticator for CellAuth {
    fn authenticate<'a>(
        &'a self,
        req: &'a AuthRequest,
    ) -> BoxFuture<'a, Result<Identity, RemoteError>> {
        self.check(req).boxed()
    }
}

/// Makes the [`CellApi`] of each telepath session (the reference's `getCellApi`).
pub struct CellApiFactory<S> {
    svc: ServiceCell<S>,
}

impl<S: Service> CellApiFactory<S> {
    /// The factory of a service cell.
    pub fn new(svc: ServiceCell<S>) -> Self {
        Self { svc }
    }
}

impl<S: Service> ShareFactory for CellApiFactory<S> {
    fn features(&self) -> Option<Value> {
        Some(self.svc.cell().features_value())
    }

    fn open<'a>(
        &'a self,
        sess: &'a synapse_telepath::Session,
        path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn Share>, RemoteError>> {
        async move {
            let Some(user) = sess.user() else {
                return Err(RemoteError::no_anon_user());
            };
            let peer = sess.peer();
            let (addr, ipver) = match peer.addr {
                Some(std::net::SocketAddr::V4(v4)) => (
                    Value::Array(vec![
                        Value::from(v4.ip().to_string()),
                        Value::from(v4.port()),
                    ]),
                    Some("ipv4".to_string()),
                ),
                Some(std::net::SocketAddr::V6(v6)) => (
                    Value::Array(vec![
                        Value::from(v6.ip().to_string()),
                        Value::from(v6.port()),
                    ]),
                    Some("ipv6".to_string()),
                ),
                None => (
                    peer.path
                        .as_ref()
                        .map_or(Value::Nil, |p| Value::from(p.display().to_string())),
                    None,
                ),
            };
            let conninfo = ConnInfo {
                sess: sess.iden().to_string(),
                family: peer.family.as_str().to_string(),
                addr,
                ipver,
            };
            let api = self.svc.session(&user.iden, conninfo);
            if !path.is_empty() {
                // A per-path API object (the reference's `getCellApi(link, user, path)`).
                let sess = api.session().clone();
                return self
                    .svc
                    .service()
                    .open_path(sess, Arc::new(api), path)
                    .await
                    .map_err(RemoteError::from);
            }
            Ok(Arc::new(api) as Arc<dyn Share>)
        }
        .boxed()
    }
}

/// A cell reply as a telepath reply.
pub(crate) fn to_tele(reply: Reply) -> synapse_telepath::Reply {
    match reply {
        Reply::Value(valu) => synapse_telepath::Reply::Value(valu),
        Reply::Genr(stream) => {
            synapse_telepath::Reply::Stream(Box::pin(futures::StreamExt::map(stream, |item| {
                item.map_err(RemoteError::from)
            })))
        }
        Reply::Share(obj) => synapse_telepath::Reply::Share(Arc::new(ShareAdapter::new(obj))),
    }
}

/// A telepath reply as a cell reply (in-process calls of table methods).
pub(crate) fn from_tele(reply: synapse_telepath::Reply) -> Reply {
    match reply {
        synapse_telepath::Reply::Value(valu) => Reply::Value(valu),
        synapse_telepath::Reply::Stream(stream) => {
            Reply::Genr(Box::pin(futures::StreamExt::map(stream, |item| {
                item.map_err(Error::from)
            })))
        }
        synapse_telepath::Reply::Share(share) => Reply::Share(Arc::new(TeleShare(share))),
    }
}

/// A [`ShareObject`] served as a telepath share.
struct ShareAdapter {
    obj: Arc<dyn ShareObject>,
    sharinfo: Value,
    class: String,
}

impl ShareAdapter {
    fn new(obj: Arc<dyn ShareObject>) -> Self {
        let classes = obj.classes();
        let info = synapse_telepath::ShareInfo {
            meths: obj
                .methods()
                .into_iter()
                .map(|m| (m.name.into_owned(), m.genr))
                .collect(),
            classes: classes.clone(),
            version: synapse_telepath::SYN_VERSION,
            commit: String::new(),
        };
        let class = info.class_name().to_string();
        Self {
            obj,
            sharinfo: info.to_value(),
            class,
        }
    }
}

impl Share for ShareAdapter {
    fn sharinfo(&self) -> &Value {
        &self.sharinfo
    }

    fn class_name(&self) -> &str {
        &self.class
    }

    fn call(&self, call: Call) -> BoxFuture<'static, Result<synapse_telepath::Reply, RemoteError>> {
        let obj = self.obj.clone();
        async move {
            let Call {
                meth, args, kwargs, ..
            } = call;
            obj.call(&meth, Args { args, kwargs })
                .await
                .map(to_tele)
                .map_err(RemoteError::from)
        }
        .boxed()
    }

    fn typename(&self) -> &str {
        self.obj.typename()
    }

    fn fini(&self) -> BoxFuture<'static, ()> {
        let obj = self.obj.clone();
        async move { obj.fini().await }.boxed()
    }
}

/// A telepath share seen as a [`ShareObject`].
struct TeleShare(Arc<dyn Share>);

impl ShareObject for TeleShare {
    fn typename(&self) -> &str {
        self.0.typename()
    }

    fn methods(&self) -> Vec<MethDef> {
        let meths = crate::value::map_get(self.0.sharinfo(), "meths");
        match meths {
            Some(Value::Map(items)) => items
                .iter()
                .filter_map(|(name, info)| {
                    Some(MethDef {
                        name: name.as_str()?.to_string().into(),
                        genr: crate::value::map_get(info, "genr").and_then(Value::as_bool)
                            == Some(true),
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn classes(&self) -> Vec<String> {
        match crate::value::map_get(self.0.sharinfo(), "classes") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn call(&self, meth: &str, args: Args) -> BoxFuture<'_, crate::error::Result<Reply>> {
        let call = Call::new(
            meth,
            args.args,
            args.kwargs,
            synapse_telepath::CallCtx::detached(),
        );
        let fut = self.0.call(call);
        async move { fut.await.map(from_tele).map_err(Error::from) }.boxed()
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        self.0.fini()
    }
}

impl<S: Service> Share for CellApi<S> {
    fn sharinfo(&self) -> &Value {
        CellApi::sharinfo(self)
    }

    fn class_name(&self) -> &str {
        self.short_class()
    }

    fn raw_param(&self, meth: &str) -> Option<synapse_telepath::RawParam> {
        CellApi::raw_param(self, meth)
    }

    fn call(&self, call: Call) -> BoxFuture<'static, Result<synapse_telepath::Reply, RemoteError>> {
        let api = self.clone();
        let span = tracing::debug_span!("telepath call", meth = %call.meth, user = %api.session().user_iden());
        async move { api.call_remote(call).await }
            .instrument(span)
            .boxed()
    }
}
