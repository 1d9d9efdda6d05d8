//! The extension point: a [`Service`] turns the base cell into an Axon, a Cryotank, a Cortex.
//!
//! A service brings a static description ([`ServiceDef`]: cell type, extra configuration
//! directives, version, telepath features and API class names), is constructed once the cell's
//! directory, configuration, auth and Boss are up ([`Service::init`]), and then may add
//! telepath methods ([`Service::call`] / [`Service::methods`]), HTTP routes
//! ([`Service::routes`]), permission definitions, health components and teardown work.
//! Every `CellApi` method stays available on the service's telepath API.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_telepath::Methods;

use crate::cell::Cell;
use crate::config::ConfDef;
use crate::error::Result;
use crate::http::Route;
use crate::session::Session;
use crate::value::{Args, map};

/// The Synapse version this implementation speaks for (`getCellInfo()['synapse']`).
pub const SYNAPSE_VERSION: [u32; 3] = [2, 256, 0];

/// Static description of a service, needed before the cell exists.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    /// Lower-case cell type (`cell`, `axon`, `cryocell`, `cortex`): names the env-var prefix
    /// (`SYN_<TYPE>_...`) and is returned by `getCellType()`.
    pub cell_type: &'static str,
    /// Configuration directives added to the base cell's.
    pub confdefs: Vec<ConfDef>,
    /// The service's own version (`getCellInfo()['cell']['version']`).
    pub version: [u32; 3],
    /// The service's commit hash.
    pub commit: String,
    /// Telepath features added to the base cell's (`{"byterange": 1}` for the Axon).
    pub features: Vec<(String, i64)>,
    /// The telepath API class names put in front of the base ones in `sharinfo["classes"]`
    /// (e.g. `synapse.axon.AxonApi`).
    pub api_classes: Vec<String>,
    /// More names the cell API is shared under besides `*` (the Cryotank is also
    /// `cryotank`, so `tcp://host/cryotank/<name>` reaches [`Service::open_path`]).
    pub shares: Vec<String>,
}

impl ServiceDef {
    /// A description for `cell_type` with no extras and the Synapse version.
    pub fn new(cell_type: &'static str) -> Self {
        Self {
            cell_type,
            confdefs: Vec::new(),
            version: SYNAPSE_VERSION,
            commit: String::new(),
            features: Vec::new(),
            api_classes: Vec::new(),
            shares: Vec::new(),
        }
    }

    /// `major.minor.patch`.
    pub fn verstring(&self) -> String {
        let [a, b, c] = self.version;
        format!("{a}.{b}.{c}")
    }
}

/// A telepath method of a service API, as listed in `sharinfo["meths"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethDef {
    /// The method name.
    pub name: Cow<'static, str>,
    /// True for generator methods (flagged `{"genr": true}`).
    pub genr: bool,
}

impl MethDef {
    /// A plain method.
    pub const fn call(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            genr: false,
        }
    }

    /// A generator method.
    pub const fn genr(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            genr: true,
        }
    }
}

/// The object a service's telepath method table ([`Service::api_table`]) is bound to: one per
/// session, with the service and the session (user, cell, connection).
pub struct ServiceApi<S> {
    /// The service.
    pub service: Arc<S>,
    /// The caller.
    pub sess: Arc<Session>,
}

impl<S> std::fmt::Debug for ServiceApi<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceApi")
            .field("sess", &self.sess)
            .finish()
    }
}

/// A telepath object other than the session API, returned by a method as a share (e.g. the
/// Axon's upload). Its methods are called by name on the share's iden. (A
/// `synapse_telepath::Share`, e.g. from `Methods::bind`, can be returned from
/// [`Service::api_table`] methods instead.)
pub trait ShareObject: Send + Sync + 'static {
    /// The share type name sent to the client (e.g. `upload`).
    fn typename(&self) -> &str;
    /// The methods listed in the share's sharinfo.
    fn methods(&self) -> Vec<MethDef>;
    /// `sharinfo["classes"]` of the share.
    fn classes(&self) -> Vec<String>;
    /// Call a method.
    fn call(&self, meth: &str, args: Args) -> BoxFuture<'_, Result<Reply>>;
    /// Called when the share ends (client `share:fini` or session end).
    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What a telepath method returns.
pub enum Reply {
    /// A value.
    Value(Value),
    /// A generator: items are sent as they come; an error ends it.
    Genr(BoxStream<'static, Result<Value>>),
    /// A new share object.
    Share(Arc<dyn ShareObject>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Reply::Genr(_) => f.write_str("Genr(..)"),
            Reply::Share(s) => f.debug_tuple("Share").field(&s.typename()).finish(),
        }
    }
}

impl From<Value> for Reply {
    fn from(valu: Value) -> Self {
        Reply::Value(valu)
    }
}

/// A health component reported by `getHealthCheck`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthComponent {
    /// Component name.
    pub name: String,
    /// `nominal`, `degraded` or `failed`.
    pub status: String,
    /// Human-readable message.
    pub mesg: String,
    /// Extra data.
    pub data: Value,
}

impl HealthComponent {
    /// The packed component.
    pub fn pack(&self) -> Value {
        map([
            ("name", Value::from(self.name.as_str())),
            ("status", Value::from(self.status.as_str())),
            ("mesg", Value::from(self.mesg.as_str())),
            ("data", self.data.clone()),
        ])
    }
}

/// A service built on the cell. See the crate docs for an example.
pub trait Service: Send + Sync + Sized + 'static {
    /// The static description (cell type, directives, version, features).
    fn def() -> ServiceDef;

    /// Build the service once the cell's directory, configuration, storage, auth and Boss are
    /// ready (before any listener starts). Open service storage here.
    fn init(cell: &Cell) -> impl Future<Output = Result<Self>> + Send;

    /// Once the service is shared (`Arc`), before any listener starts: start its background
    /// tasks (spawn them on the cell's base so teardown cancels them).
    fn start(self: &Arc<Self>) {}

    /// Extra telepath methods of the service API (listed in sharinfo after the CellApi ones),
    /// handled by [`Service::call`].
    fn methods(&self) -> Vec<MethDef> {
        Vec::new()
    }

    /// Extra telepath methods as a `synapse_telepath::Methods` table over [`ServiceApi`]
    /// (tried first; its methods are listed in sharinfo). Build the table once and keep it in
    /// the service. Handlers get `Arc<ServiceApi<Self>>` and the telepath `Call` (bind its
    /// arguments with `Call::params`); cell errors convert into `RemoteError` with `?`.
    fn api_table(&self) -> Option<Arc<Methods<ServiceApi<Self>>>> {
        None
    }

    /// Handle a telepath method; `None` means "not mine" and the CellApi handles it (or
    /// answers `NoSuchMeth`). A service may also override a CellApi method this way.
    /// Return [`Reply::Value`], [`Reply::Genr`] for generator methods (list them with
    /// [`MethDef::genr`]) or [`Reply::Share`] with a [`ShareObject`] for share-returning
    /// methods.
    fn call<'a>(
        self: &'a Arc<Self>,
        sess: &'a Session,
        meth: &'a str,
        args: Args,
    ) -> Option<BoxFuture<'a, Result<Reply>>> {
        let _ = (sess, meth, args);
        None
    }

    /// The API object of a telepath session opened with a path after the share name, as the
    /// reference's `Cell.getCellApi(link, user, path)` (`tcp://host/cryotank/foo` gives
    /// `["foo"]`). `path` is never empty; `sess` is the authenticated session and `cellapi`
    /// the session's own API object (for objects that, like the reference's `LayerApi`,
    /// also serve the `CellApi` methods). The default refuses every path with `NoSuchPath`.
    fn open_path<'a>(
        self: &'a Arc<Self>,
        sess: Arc<Session>,
        cellapi: Arc<dyn synapse_telepath::Share>,
        path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn synapse_telepath::Share>>> {
        let _ = (sess, cellapi);
        Box::pin(async move { Err(no_such_path(path)) })
    }

    /// Extra HTTP routes (matched before the cell's own).
    fn routes(self: &Arc<Self>) -> Vec<Route> {
        Vec::new()
    }

    /// Permission definitions (`getPermDefs()`): maps with at least a `perm` tuple.
    fn perm_defs(&self) -> Vec<Value> {
        Vec::new()
    }

    /// Health components (`getHealthCheck()`).
    fn health(&self) -> impl Future<Output = Vec<HealthComponent>> + Send {
        async { Vec::new() }
    }

    /// Teardown, before the cell's own (listeners are already closed).
    fn fini(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The reference's `NoSuchPath` for a telepath path no API object answers to.
pub fn no_such_path(path: &[String]) -> crate::error::Error {
    crate::error::Error::named("NoSuchPath", format!("No such path: {}", path.join("/"))).with(
        "path",
        Value::Array(path.iter().map(|p| Value::from(p.as_str())).collect()),
    )
}

/// The object-safe part of a service the cell core needs (HTTP health and perm defs).
pub(crate) trait ServiceHooks: Send + Sync {
    fn health(&self) -> BoxFuture<'_, Vec<HealthComponent>>;
    fn perm_defs(&self) -> Vec<Value>;
}

impl<S: Service> ServiceHooks for S {
    fn health(&self) -> BoxFuture<'_, Vec<HealthComponent>> {
        Box::pin(Service::health(self))
    }

    fn perm_defs(&self) -> Vec<Value> {
        Service::perm_defs(self)
    }
}

/// The plain Synapse cell (`synapse.lib.cell.Cell`): no extra directives, methods or routes.
#[derive(Debug, Clone, Copy, Default)]
pub struct BaseCell;

impl Service for BaseCell {
    fn def() -> ServiceDef {
        ServiceDef::new("cell")
    }

    async fn init(_cell: &Cell) -> Result<Self> {
        Ok(BaseCell)
    }
}
