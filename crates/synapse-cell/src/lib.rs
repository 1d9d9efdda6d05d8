//! Cell: the batteries-included Synapse service every server is built from.
//!
//! A cell owns a directory (`cell.guid`, locked while running; `cell.yaml`; `slabs/`;
//! certificates), a [`Config`] validated against a per-cell-type schema, users, roles, rules
//! and auth gates ([`Auth`]), a task registry ([`Boss`]), an HTTPS API ([`HttpApi`], a tower
//! service) and a telepath API ([`CellApi`]) with the reference's method names, arguments,
//! results and error classes.
//!
//! # Services (the extension point)
//!
//! Axon, Cryotank and Cortex are cells with more: they implement [`Service`] and run as
//! [`ServiceCell<S>`]. A service declares its cell type and extra directives in
//! [`ServiceDef`], opens its storage in [`Service::init`], adds telepath methods with
//! [`Service::call`] (the session API keeps every `CellApi` method), HTTP routes with
//! [`Service::routes`], permission definitions and health components.
//!
//! ```
//! use std::sync::Arc;
//!
//! use futures::future::BoxFuture;
//! use synapse_cell::{
//!     Args, ArgDefault, Cell, CellOptions, ConfDef, ConfType, MethDef, Reply, Result, Route,
//!     Service, ServiceCell, ServiceDef, Session, handler, ok,
//! };
//!
//! /// A service that counts.
//! struct Counter {
//!     step: i64,
//!     total: std::sync::atomic::AtomicI64,
//! }
//!
//! impl Service for Counter {
//!     fn def() -> ServiceDef {
//!         let mut def = ServiceDef::new("counter");
//!         def.confdefs.push(
//!             ConfDef::new("count:step", &[ConfType::Integer], "How much to add.")
//!                 .default(serde_json::json!(1)),
//!         );
//!         def.api_classes.push("example.CounterApi".into());
//!         def
//!     }
//!
//!     async fn init(cell: &Cell) -> Result<Self> {
//!         let step = cell.conf().get_i64("count:step").unwrap_or(1);
//!         Ok(Counter { step, total: Default::default() })
//!     }
//!
//!     fn methods(&self) -> Vec<MethDef> {
//!         vec![MethDef::call("bump")]
//!     }
//!
//!     fn call<'a>(
//!         self: &'a Arc<Self>,
//!         sess: &'a Session,
//!         meth: &'a str,
//!         args: Args,
//!     ) -> Option<BoxFuture<'a, Result<Reply>>> {
//!         match meth {
//!             "bump" => Some(Box::pin(async move {
//!                 args.bind("bump", &[])?;
//!                 sess.req_allowed(&["counter".into(), "bump".into()])?;
//!                 let step = self.step;
//!                 let total = self.total.fetch_add(step, std::sync::atomic::Ordering::SeqCst);
//!                 Ok(Reply::Value((total + step).into()))
//!             })),
//!             _ => None,
//!         }
//!     }
//!
//!     fn routes(self: &Arc<Self>) -> Vec<Route> {
//!         let svc = self.clone();
//!         vec![Route::new("/api/v1/counter").get(handler(move |mut req| {
//!             let svc = svc.clone();
//!             async move {
//!                 if let Err(resp) = req.req_user().await {
//!                     return resp;
//!                 }
//!                 ok(svc.total.load(std::sync::atomic::Ordering::SeqCst).into())
//!             }
//!         }))]
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! # let dir = tempfile::tempdir().map_err(|e| synapse_cell::Error::bad_arg(e.to_string()))?;
//! let opts = CellOptions::new(dir.path(), &Counter::def()).conf("count:step", 5.into())?;
//! let counter = ServiceCell::<Counter>::open(opts).await?;
//! let root = counter.cell().auth().root_iden();
//! let api = counter.session(&root, synapse_cell::ConnInfo::local());
//! let Reply::Value(total) = api.call("bump", Args::default()).await? else { unreachable!() };
//! assert_eq!(total, 5.into());
//! // every CellApi method is still there
//! let Reply::Value(kind) = api.call("getCellType", Args::default()).await? else { unreachable!() };
//! assert_eq!(kind, "counter".into());
//! counter.fini().await;
//! # Ok(())
//! # }
//! ```
//!
//! Methods can also come as a `synapse_telepath::Methods` table over [`ServiceApi`] (the
//! service plus the calling [`Session`]), returned by [`Service::api_table`]; it suits
//! services with many methods, generators and shares:
//!
//! ```
//! use std::sync::Arc;
//! use synapse_cell::{Cell, Result, Service, ServiceApi, ServiceDef};
//! use synapse_telepath::{Call, Methods, Value};
//!
//! struct Echo {
//!     table: Arc<Methods<ServiceApi<Echo>>>,
//! }
//!
//! impl Service for Echo {
//!     fn def() -> ServiceDef {
//!         let mut def = ServiceDef::new("echo");
//!         def.api_classes.push("example.EchoApi".into());
//!         def
//!     }
//!
//!     async fn init(_cell: &Cell) -> Result<Self> {
//!         let table = Methods::<ServiceApi<Echo>>::new(["example.EchoApi"]).unary(
//!             "echo",
//!             |api: Arc<ServiceApi<Echo>>, mut call: Call| async move {
//!                 api.sess.req_allowed(&["echo".into()])?; // cell errors convert with `?`
//!                 let valu: Value = call.params(&["valu"])?.req("valu")?;
//!                 Ok(valu)
//!             },
//!         );
//!         Ok(Echo { table: Arc::new(table) })
//!     }
//!
//!     fn api_table(&self) -> Option<Arc<Methods<ServiceApi<Self>>>> {
//!         Some(self.table.clone())
//!     }
//! }
//! ```
//!
//! What a service gets from the [`Cell`]: [`Cell::conf`] (validated, with its directives),
//! [`Cell::auth`] (users, roles, [`Auth::allowed`], auth gates for per-object permissions with
//! [`Auth::add_auth_gate`]), [`Cell::boss`] (register long-running user tasks for `ps`/`kill`),
//! [`Cell::slab`] (the cell's LMDB slab, `slabs/cell.lmdb`), [`Cell::dirn`] (for its own
//! slabs), [`Cell::base`] (its teardown tree) and [`Cell::daemon`].
//!
//! # Running
//!
//! The servers binary runs a service with [`launch`]: configuration from the command line
//! (options generated from the schema, [`Config::cmdline_opts`]) and `SYN_<TYPE>_<KEY>`
//! environment variables, then `cell.yaml` and `cell.mods.yaml`, then the listeners: the
//! telepath Daemon on `<dirn>/sock` (peers trusted, as the reference) and on `dmon:listen` or
//! `--telepath`, HTTPS on `https:port` or `--https` (`sslcert.pem`/`sslkey.pem`, self-signed
//! at first start).
//!
//! # Storage
//!
//! The cell's own records live in `slabs/cell.lmdb` with the reference's layout, so a
//! directory made by the reference opens here and the other way round: DB `auth` (keys
//! `user:info:<iden>`, `user:name:<name>`, `user:email:<email>`, `role:info:<iden>`,
//! `role:name:<name>`, `gate:info:<iden>`, `gate:<iden>:user:<iden>`,
//! `gate:<iden>:role:<iden>`, `user:<iden>:vars:<name>`, `user:<iden>:profile:<name>`; msgpack
//! values), `user:apikeys` and `user:meta` (API keys), `http:sess` (HTTP sessions),
//! `cell:info` and `cell:vers`.

mod auth;
mod boss;
mod cell;
mod config;
mod dirn;
mod error;
mod http;
pub mod httpc;
mod launch;
mod logring;
mod passwd;
mod service;
mod session;
mod store;
mod sysinfo;
mod tele;
mod util;
mod value;

pub use crate::auth::{
    ApiKeyDef, Auth, AuthEvent, AuthOptions, GateDef, GateEntry, KeyVals, PackRoles, Policy, Role,
    RoleDef, Rule, User, UserDef, norm_email, policy_schema,
};
pub use crate::boss::{Boss, BossTask, TaskOpts};
pub use crate::cell::{Cell, CellOptions, ReloadFn, ServiceCell};
pub use crate::config::{
    CmdlineOpt, ConfDef, ConfType, Config, OptKind, Schema, base_confdefs, env_name, env_prefix,
    parse_opt, yaml_scalar,
};
pub use crate::dirn::CellDir;
pub use crate::error::{ErrKind, Error, Result};
pub use crate::http::{
    Body, BoxError, Handler, HttpApi, HttpReq, HttpResponse, MAX_BODY, RemoteAddr, Route, WebUser,
    err, exc, full, handler, json_of, load_or_make_cert, not_authenticated, ok, serve_https,
    status_of,
};
pub use crate::launch::{
    DEFAULT_HTTPS, DEFAULT_TELEPATH, LaunchOpts, Running, launch, launch_config, launch_then,
};
pub use crate::logring::{LOG_QUEUE_SIZE, log_record, recent_logs};
pub use crate::passwd::{
    PBKDF2, PBKDF2_HASH, PBKDF2_ITERATIONS, Shadow, StoredPasswd, check_shadow, generate_api_key,
    make_shadow, parse_api_key,
};
pub use crate::service::{
    BaseCell, HealthComponent, MethDef, Reply, SYNAPSE_VERSION, Service, ServiceApi, ServiceDef,
    ShareObject, no_such_path,
};
pub use crate::session::{CELL_API_CLASSES, CELL_API_METHODS, CellApi, ConnInfo, Session};
pub use crate::store::{MemStore, Rows, SlabStore, Store, StoreOp};
pub use crate::tele::{CellApiFactory, CellAuth};
pub use crate::value::{
    ArgDefault, Args, Bound, Param, decode, encode, from_json, guid_of, is_guid, map, map_get,
    opt_str, perm_path, req_str, to_json, truthy,
};
