//! The telepath API of a cell: a [`Session`] (who is calling, from where) and the [`CellApi`]
//! made for each authenticated telepath session, with the reference's `CellApi` methods
//! (same names, arguments, results and error classes) plus the service's own.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use rmpv::Value;

use crate::auth::{PackRoles, Rule, User};
use crate::cell::{Cell, ServiceCell};
use crate::error::{ErrKind, Error, Result};
use crate::service::{MethDef, Reply, Service, ServiceApi};
use crate::util::pyrepr;
use crate::value::{ArgDefault as D, Args, Bound, map, perm_path, req_str, truthy};
use synapse_telepath::{Call, CallCtx, Methods, RemoteError, Share};

/// Where a telepath session comes from (`getDmonSessions()['conninfo']`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnInfo {
    /// The session iden made by the Daemon.
    pub sess: String,
    /// `tcp`, `tls` or `unix`.
    pub family: String,
    /// The peer address: `[ip, port]` for TCP, the socket path for UNIX.
    pub addr: Value,
    /// `ipv4` / `ipv6` for TCP.
    pub ipver: Option<String>,
}

impl ConnInfo {
    /// A connection from a local process (tests, embedded use).
    pub fn local() -> Self {
        Self {
            sess: synapse_base::guid(),
            family: "unix".to_string(),
            addr: Value::Nil,
            ipver: None,
        }
    }

    /// The packed form.
    pub fn pack(&self) -> Value {
        let mut items = vec![
            (Value::from("family"), Value::from(self.family.as_str())),
            (Value::from("addr"), self.addr.clone()),
        ];
        if let Some(ipver) = &self.ipver {
            items.push((Value::from("ipver"), Value::from(ipver.as_str())));
        }
        Value::Map(items)
    }
}

/// The caller of a telepath session: the cell, the (switchable) user and the connection.
#[derive(Debug)]
pub struct Session {
    cell: Cell,
    user: Mutex<String>,
    conninfo: ConnInfo,
}

impl Session {
    pub(crate) fn new(cell: Cell, user: &str, conninfo: ConnInfo) -> Self {
        Self {
            cell,
            user: Mutex::new(user.to_string()),
            conninfo,
        }
    }

    /// The cell.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// Where the caller connects from.
    pub fn conninfo(&self) -> &ConnInfo {
        &self.conninfo
    }

    /// The session user's iden.
    pub fn user_iden(&self) -> String {
        self.user.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_user(&self, iden: &str) {
        *self.user.lock().unwrap_or_else(|e| e.into_inner()) = iden.to_string();
    }

    /// The session user, as it is now.
    pub fn user(&self) -> Result<User> {
        self.cell.auth().req_user(&self.user_iden())
    }

    /// The user, if a global admin; else the reference's `@adminapi` error
    /// (`AuthDeny "User is not an admin [<name>]"`).
    pub fn req_admin(&self) -> Result<User> {
        let user = self.user()?;
        if !user.is_admin() {
            return Err(Error::auth_deny(
                format!("User is not an admin [{}]", user.name),
                &user.iden,
                &user.name,
            ));
        }
        Ok(user)
    }

    /// Check a permission of the session user.
    pub fn allowed(&self, perm: &[String], default: Option<bool>) -> Option<bool> {
        self.cell
            .auth()
            .allowed(&self.user_iden(), perm, default, None)
    }

    /// Require a permission (`AuthDeny "User must have permission <a.b>"`), as the
    /// reference's `CellApi._reqUserAllowed`.
    pub fn req_allowed(&self, perm: &[String]) -> Result<()> {
        if self.allowed(perm, None) == Some(true) {
            return Ok(());
        }
        let user = self.user()?;
        let text = perm.join(".");
        Err(Error::auth_deny(
            format!("User must have permission {text}"),
            &user.iden,
            &user.name,
        )
        .with("perm", text.as_str()))
    }

    /// Require a permission, optionally on a gate, with the reference's `User.confirm` error
    /// (`AuthDeny "User 'name' (iden) must have permission a.b"`).
    pub fn confirm(
        &self,
        perm: &[String],
        default: Option<bool>,
        gate: Option<&str>,
    ) -> Result<()> {
        let user = self.user()?;
        self.cell.auth().confirm(&user, perm, default, gate)
    }
}

/// The telepath methods every cell API serves.
pub const CELL_API_METHODS: &[MethDef] = &[
    MethDef::call("addAuthRole"),
    MethDef::call("addAuthRule"),
    MethDef::call("addRole"),
    MethDef::call("addRoleRule"),
    MethDef::call("addUser"),
    MethDef::call("addUserApiKey"),
    MethDef::call("addUserRole"),
    MethDef::call("addUserRule"),
    MethDef::call("allowed"),
    MethDef::call("checkUserApiKey"),
    MethDef::call("delAuthRole"),
    MethDef::call("delAuthRule"),
    MethDef::call("delAuthUser"),
    MethDef::call("delRole"),
    MethDef::call("delRoleRule"),
    MethDef::call("delUser"),
    MethDef::call("delUserApiKey"),
    MethDef::call("delUserRole"),
    MethDef::call("delUserRule"),
    MethDef::call("genUserOnepass"),
    MethDef::call("getAuthGate"),
    MethDef::call("getAuthGates"),
    MethDef::call("getAuthInfo"),
    MethDef::call("getAuthRoles"),
    MethDef::call("getAuthUsers"),
    MethDef::call("getCellInfo"),
    MethDef::call("getCellIden"),
    MethDef::call("getCellRunId"),
    MethDef::call("getCellType"),
    MethDef::call("getCellUser"),
    MethDef::call("getDmonSessions"),
    MethDef::call("getHealthCheck"),
    MethDef::call("getHiveKey"),
    MethDef::call("getHiveKeys"),
    MethDef::call("getNexsIndx"),
    MethDef::call("getPermDef"),
    MethDef::call("getPermDefs"),
    MethDef::call("getReloadableSystems"),
    MethDef::call("getRoleDef"),
    MethDef::call("getRoleDefByName"),
    MethDef::call("getRoleDefs"),
    MethDef::call("getRoleInfo"),
    MethDef::call("getSystemInfo"),
    MethDef::call("getTask"),
    MethDef::genr("getTasks"),
    MethDef::call("getUserDef"),
    MethDef::call("getUserDefByName"),
    MethDef::call("getUserDefs"),
    MethDef::call("getUserInfo"),
    MethDef::call("getUserProfInfo"),
    MethDef::call("getUserProfile"),
    MethDef::call("isCellActive"),
    MethDef::call("isRoleAllowed"),
    MethDef::call("isUserAllowed"),
    MethDef::call("kill"),
    MethDef::call("killTask"),
    MethDef::call("listHiveKey"),
    MethDef::call("logs"),
    MethDef::call("listUserApiKeys"),
    MethDef::call("popHiveKey"),
    MethDef::call("popUserProfInfo"),
    MethDef::call("ps"),
    MethDef::call("reload"),
    MethDef::call("saveHiveTree"),
    MethDef::call("setAuthAdmin"),
    MethDef::call("setCellUser"),
    MethDef::call("setHiveKey"),
    MethDef::call("setRoleRules"),
    MethDef::call("setUserAdmin"),
    MethDef::call("setUserArchived"),
    MethDef::call("setUserEmail"),
    MethDef::call("setUserLocked"),
    MethDef::call("setUserPasswd"),
    MethDef::call("setUserProfInfo"),
    MethDef::call("setUserRoles"),
    MethDef::call("setUserRules"),
    MethDef::call("shutdown"),
    MethDef::call("tryUserPasswd"),
    MethDef::genr("watch"),
];

/// The base classes of every cell API in `sharinfo["classes"]`.
pub const CELL_API_CLASSES: &[&str] = &["synapse.lib.cell.CellApi", "synapse.lib.base.Base"];

/// The API object of one telepath session: every `CellApi` method plus the service's.
///
/// It is also the telepath [`Share`](synapse_telepath::Share) the cell's Daemon hands each
/// session (cheap to clone).
pub struct CellApi<S> {
    svc: ServiceCell<S>,
    sess: Arc<Session>,
    sharinfo: Arc<OnceLock<Value>>,
    class: Arc<str>,
    table: Arc<OnceLock<Option<BoundTable<S>>>>,
}

struct BoundTable<S> {
    methods: Arc<Methods<ServiceApi<S>>>,
    share: Arc<dyn Share>,
}

impl<S> Clone for CellApi<S> {
    fn clone(&self) -> Self {
        Self {
            svc: self.svc.clone(),
            sess: self.sess.clone(),
            sharinfo: self.sharinfo.clone(),
            class: self.class.clone(),
            table: self.table.clone(),
        }
    }
}

impl<S: Service> std::fmt::Debug for CellApi<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CellApi").field("sess", &self.sess).finish()
    }
}

/// A loose string for lookups: Python code would use any value as a key.
fn loose(valu: &Value) -> String {
    match valu {
        Value::String(s) => s.as_str().unwrap_or_default().to_string(),
        Value::Nil => "None".to_string(),
        Value::Boolean(b) => if *b { "True" } else { "False" }.to_string(),
        other => other.to_string(),
    }
}

fn opt_loose(valu: &Value) -> Option<String> {
    match valu {
        Value::Nil => None,
        other => Some(loose(other)),
    }
}

fn req_bool(valu: &Value, mesg: &str) -> Result<bool> {
    valu.as_bool().ok_or_else(|| Error::bad_arg(mesg))
}

fn ok_nil() -> Result<Reply> {
    Ok(Reply::Value(Value::Nil))
}

fn ok(valu: Value) -> Result<Reply> {
    Ok(Reply::Value(valu))
}

fn opt_bool(valu: &Value) -> Option<bool> {
    match valu {
        Value::Nil => None,
        other => Some(truthy(other)),
    }
}

fn indx_arg(bound: &Bound, indx: usize) -> Result<Option<i64>> {
    bound.opt_int(indx, "indx")
}

impl<S: Service> CellApi<S> {
    pub(crate) fn new(svc: ServiceCell<S>, user: &str, conninfo: ConnInfo) -> Self {
        let sess = Arc::new(Session::new(svc.cell().clone(), user, conninfo));
        let class: Arc<str> = svc
            .cell()
            .def()
            .api_classes
            .first()
            .map_or(CELL_API_CLASSES[0], String::as_str)
            .rsplit('.')
            .next()
            .unwrap_or("CellApi")
            .into();
        Self {
            svc,
            sess,
            sharinfo: Arc::new(OnceLock::new()),
            class,
            table: Arc::new(OnceLock::new()),
        }
    }

    /// `sharinfo` for the telepath handshake.
    pub fn sharinfo(&self) -> &Value {
        self.sharinfo.get_or_init(|| {
            let def = self.svc.cell().def();
            let info = synapse_telepath::ShareInfo {
                meths: self
                    .methods()
                    .into_iter()
                    .map(|m| (m.name.into_owned(), m.genr))
                    .collect(),
                classes: self.classes(),
                version: (
                    u64::from(crate::service::SYNAPSE_VERSION[0]),
                    u64::from(crate::service::SYNAPSE_VERSION[1]),
                    u64::from(crate::service::SYNAPSE_VERSION[2]),
                ),
                commit: def.commit.clone(),
            };
            info.to_value()
        })
    }

    /// The session.
    pub fn session(&self) -> &Arc<Session> {
        &self.sess
    }

    /// The service cell.
    pub fn service_cell(&self) -> &ServiceCell<S> {
        &self.svc
    }

    /// The method list for `sharinfo["meths"]` (CellApi's and the service's).
    pub fn methods(&self) -> Vec<MethDef> {
        let mut meths: Vec<MethDef> = CELL_API_METHODS.to_vec();
        let mut extra = self.svc.service().methods();
        if let Some(table) = self.table() {
            extra.extend(
                table
                    .methods
                    .info()
                    .meths
                    .iter()
                    .map(|(name, genr)| MethDef {
                        name: name.clone().into(),
                        genr: *genr,
                    }),
            );
        }
        for meth in extra {
            match meths.iter_mut().find(|m| m.name == meth.name) {
                Some(slot) => *slot = meth,
                None => meths.push(meth),
            }
        }
        meths
    }

    /// `sharinfo["classes"]`: the service's API classes, then the cell's.
    pub fn classes(&self) -> Vec<String> {
        let mut classes = self.svc.cell().def().api_classes.clone();
        classes.extend(CELL_API_CLASSES.iter().map(|c| c.to_string()));
        classes
    }

    fn table(&self) -> Option<&BoundTable<S>> {
        self.table
            .get_or_init(|| {
                let methods = self.svc.service().api_table()?;
                let api = Arc::new(ServiceApi {
                    service: self.svc.service().clone(),
                    sess: self.sess.clone(),
                });
                let share = methods.bind(api);
                Some(BoundTable { methods, share })
            })
            .as_ref()
    }

    /// The parameter the service's method `meth` takes raw (see
    /// `synapse_telepath::Share::raw_param`).
    pub(crate) fn raw_param(&self, meth: &str) -> Option<synapse_telepath::RawParam> {
        let table = self.table()?;
        if meth.starts_with('_') || !table.methods.has(meth) {
            return None;
        }
        table.methods.raw_param_of(meth)
    }

    /// Call a method by name as the session user. Unknown names and names starting with `_`
    /// are `NoSuchMeth`.
    pub async fn call(&self, meth: &str, args: Args) -> Result<Reply> {
        if !meth.starts_with('_')
            && let Some(table) = self.table()
            && table.methods.has(meth)
        {
            let call = Call::new(meth, args.args, args.kwargs, CallCtx::detached());
            let reply = table.share.call(call).await.map_err(Error::from)?;
            return Ok(crate::tele::from_tele(reply));
        }
        self.call_service(meth, args).await
    }

    /// Call a method from a telepath call (keeps its context for the service table).
    pub(crate) async fn call_remote(
        &self,
        call: Call,
    ) -> std::result::Result<synapse_telepath::Reply, RemoteError> {
        if !call.meth.starts_with('_')
            && let Some(table) = self.table()
            && table.methods.has(&call.meth)
        {
            return table.share.call(call).await;
        }
        let Call {
            meth, args, kwargs, ..
        } = call;
        self.call_service(&meth, Args { args, kwargs })
            .await
            .map(crate::tele::to_tele)
            .map_err(RemoteError::from)
    }

    async fn call_service(&self, meth: &str, args: Args) -> Result<Reply> {
        if !meth.starts_with('_')
            && let Some(fut) = self.svc.service().call(&self.sess, meth, args.clone())
        {
            return fut.await;
        }
        self.call_cell(meth, args).await
    }

    /// The short class name (`CellApi`, `AxonApi` ...) used in messages.
    pub fn short_class(&self) -> &str {
        &self.class
    }

    fn no_such_meth(&self, meth: &str) -> Error {
        let class = self.short_class();
        Error::new(
            ErrKind::NoSuchMeth,
            format!("{class} has no method: {meth}."),
        )
        .with("name", meth)
    }

    fn pack_user(&self, user: &User, how: PackRoles) -> Value {
        self.svc.cell().auth().pack_user(user, how)
    }

    #[allow(clippy::too_many_lines)]
    async fn call_cell(&self, methname: &str, args: Args) -> Result<Reply> {
        let qualname = format!("{}.{methname}", self.short_class());
        let meth = qualname.as_str();
        let cell = self.svc.cell();
        let auth = cell.auth();
        let sess = &self.sess;
        match methname {
            // ----- info and status -----
            "getCellType" => {
                args.bind(meth, &[])?;
                ok(Value::from(cell.cell_type()))
            }
            "getCellIden" => {
                args.bind(meth, &[])?;
                ok(Value::from(cell.iden()))
            }
            "getCellRunId" => {
                args.bind(meth, &[])?;
                ok(Value::from(cell.runid()))
            }
            "isCellActive" => {
                args.bind(meth, &[])?;
                ok(Value::Boolean(true))
            }
            "getCellInfo" => {
                args.bind(meth, &[])?;
                ok(cell.cell_info().await)
            }
            "getCellUser" => {
                args.bind(meth, &[])?;
                let user = sess.user()?;
                ok(self.pack_user(&user, PackRoles::Idens))
            }
            "setCellUser" => {
                let bound = args.bind(meth, &[("iden", D::Required)])?;
                let me = sess.user()?;
                if !me.is_admin() {
                    return Err(Error::auth_deny(
                        "setCellUser() caller must be admin.",
                        &me.iden,
                        &me.name,
                    ));
                }
                let iden = loose(bound.value(0));
                let Some(user) = auth.user(&iden) else {
                    return Err(Error::new(
                        ErrKind::NoSuchUser,
                        format!("Unable to set cell user iden to {iden}"),
                    )
                    .with("user", iden.as_str()));
                };
                if user.is_locked() {
                    return Err(Error::auth_deny(
                        format!("User ({}) is locked.", user.name),
                        &user.iden,
                        &user.name,
                    ));
                }
                sess.set_user(&user.iden);
                ok(Value::Boolean(true))
            }
            "getSystemInfo" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                ok(cell.system_info())
            }
            "getHealthCheck" => {
                args.bind(meth, &[])?;
                sess.req_allowed(&["health".to_string()])?;
                ok(cell.health_check().await)
            }
            "getDmonSessions" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                ok(cell.dmon_sessions())
            }
            "getNexsIndx" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                cell.boss().req_not_shut()?;
                ok(Value::from(cell.nexs_indx()))
            }
            "getPermDefs" => {
                args.bind(meth, &[])?;
                ok(Value::Array(cell.perm_defs()))
            }
            "getPermDef" => {
                let bound = args.bind(meth, &[("perm", D::Required)])?;
                let want = bound.value(0);
                let found = cell
                    .perm_defs()
                    .into_iter()
                    .find(|pdef| crate::value::map_get(pdef, "perm") == Some(want));
                ok(found.unwrap_or(Value::Nil))
            }
            "allowed" => {
                let bound = args.bind(meth, &[("perm", D::Required), ("default", D::Nil)])?;
                let perm = perm_path(bound.value(0))?;
                let default = opt_bool(bound.value(1));
                ok(sess
                    .allowed(&perm, default)
                    .map_or(Value::Nil, Value::Boolean))
            }
            "getReloadableSystems" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                ok(Value::Array(
                    cell.reloadable().into_iter().map(Value::from).collect(),
                ))
            }
            "reload" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("subsystem", D::Nil)])?;
                ok(cell
                    .reload(bound.opt_str(0, "subsystem")?.as_deref())
                    .await?)
            }
            "shutdown" => {
                let user = sess.req_admin()?;
                let bound = args.bind(meth, &[("timeout", D::Nil), ("drain", D::Bool(true))])?;
                let timeout = match bound.value(0) {
                    Value::Nil => None,
                    other => other
                        .as_f64()
                        .or_else(|| other.as_i64().map(|i| i as f64))
                        .map(|s| Duration::from_secs_f64(s.max(0.0))),
                };
                tracing::warn!(user = %user.name, "graceful shutdown initiated");
                ok(Value::Boolean(
                    cell.shutdown(timeout, bound.truthy(1)).await,
                ))
            }

            "logs" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("last", D::Int(100))])?;
                let last = usize::try_from(bound.opt_int(0, "last")?.unwrap_or(100)).unwrap_or(0);
                ok(Value::Array(crate::logring::recent_logs(last)))
            }
            "watch" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("last", D::Int(100))])?;
                let last = usize::try_from(bound.opt_int(0, "last")?.unwrap_or(100)).unwrap_or(0);
                let (recent, rx) = crate::logring::watch_logs(last);
                let follow = futures::stream::unfold(rx, |mut rx| async move {
                    loop {
                        match rx.recv().await {
                            Ok(item) => return Some((Ok(item), rx)),
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                });
                let items = futures::stream::iter(recent.into_iter().map(Ok)).chain(follow);
                Ok(Reply::Genr(items.boxed()))
            }

            // ----- tasks -----
            "ps" => {
                args.bind(meth, &[])?;
                let user = sess.user()?;
                let all = auth.allowed(
                    &user.iden,
                    &["task".into(), "get".into()],
                    Some(false),
                    None,
                ) == Some(true);
                let tasks: Vec<Value> = cell
                    .boss()
                    .ps()
                    .into_iter()
                    .filter(|t| all || t.opts.user == user.iden)
                    .map(|t| t.pack())
                    .collect();
                ok(Value::Array(tasks))
            }
            "kill" => {
                let bound = args.bind(meth, &[("iden", D::Required)])?;
                let user = sess.user()?;
                let iden = loose(bound.value(0));
                let perm = ["task".to_string(), "del".to_string()];
                let isallowed = auth.allowed(&user.iden, &perm, Some(false), None) == Some(true);
                tracing::info!(user = %user.name, task = %iden, "requesting task kill");
                let Some(task) = cell.boss().get(&iden) else {
                    return ok(Value::Boolean(false));
                };
                if task.opts.user == user.iden || isallowed {
                    return ok(Value::Boolean(cell.boss().kill(&iden).await?));
                }
                Err(Error::auth_deny(
                    format!(
                        "User ({}) must have permission task.del or own the task",
                        user.name
                    ),
                    &user.iden,
                    &user.name,
                )
                .with("task", iden.as_str())
                .with("perm", "task.del"))
            }
            "getTasks" => {
                sess.req_admin()?;
                args.bind(meth, &[("peers", D::Bool(true)), ("timeout", D::Nil)])?;
                let items: Vec<Result<Value>> = cell
                    .boss()
                    .ps()
                    .into_iter()
                    .map(|t| Ok(with_service(t.pack_v2())))
                    .collect();
                Ok(Reply::Genr(futures::stream::iter(items).boxed()))
            }
            "getTask" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("peers", D::Bool(true)),
                        ("timeout", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                ok(cell
                    .boss()
                    .get(&iden)
                    .map_or(Value::Nil, |t| with_service(t.pack_v2())))
            }
            "killTask" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("peers", D::Bool(true)),
                        ("timeout", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                ok(Value::Boolean(cell.boss().kill(&iden).await?))
            }

            // ----- users and roles -----
            "addUser" => {
                let me = sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("name", D::Required),
                        ("passwd", D::Nil),
                        ("email", D::Nil),
                        ("iden", D::Nil),
                    ],
                )?;
                let name = req_str(bound.value(0), "name")?;
                let passwd = passwd_arg(bound.value(1))?;
                let email = match bound.value(2) {
                    Value::Nil => None,
                    other => Some(req_str(other, "email").map_err(|_| {
                        Error::bad_arg("email must be a string").with("name", "email")
                    })?),
                };
                let iden = bound.opt_str(3, "iden")?;
                tracing::info!(admin = %me.name, user = %name, "adding user");
                let user = auth
                    .add_user(&name, passwd.as_deref(), email.as_deref(), iden.as_deref())
                    .await?;
                ok(self.pack_user(&user, PackRoles::Defs))
            }
            "delUser" | "delAuthUser" => {
                sess.req_admin()?;
                let param = if methname == "delUser" {
                    "iden"
                } else {
                    "name"
                };
                let bound = args.bind(meth, &[(param, D::Required)])?;
                auth.del_user(&loose(bound.value(0))).await?;
                ok_nil()
            }
            "addRole" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required), ("iden", D::Nil)])?;
                let name = req_str(bound.value(0), "name")?;
                let role = auth
                    .add_role(&name, bound.opt_str(1, "iden")?.as_deref())
                    .await?;
                ok(role.pack())
            }
            "addAuthRole" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required)])?;
                let role = auth
                    .add_role(&req_str(bound.value(0), "name")?, None)
                    .await?;
                ok(role.pack())
            }
            "delRole" | "delAuthRole" => {
                sess.req_admin()?;
                let param = if methname == "delRole" {
                    "iden"
                } else {
                    "name"
                };
                let bound = args.bind(meth, &[(param, D::Required)])?;
                auth.del_role(&loose(bound.value(0))).await?;
                ok_nil()
            }
            "getAuthUsers" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("archived", D::Bool(false))])?;
                let archived = bound.truthy(0);
                let users: Vec<Value> = auth
                    .users()
                    .iter()
                    .filter(|u| archived || !u.is_archived())
                    .map(|u| self.pack_user(u, PackRoles::Idens))
                    .collect();
                ok(Value::Array(users))
            }
            "getAuthRoles" | "getRoleDefs" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                ok(Value::Array(
                    auth.roles().iter().map(|r| r.pack()).collect(),
                ))
            }
            "getUserDefs" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                ok(Value::Array(
                    auth.users()
                        .iter()
                        .map(|u| self.pack_user(u, PackRoles::Defs))
                        .collect(),
                ))
            }
            "addUserRule" | "addRoleRule" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("rule", D::Required),
                        ("indx", D::Nil),
                        ("gateiden", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                let gate = opt_loose(bound.value(3));
                // The object must exist before the rule is checked.
                if methname == "addUserRule" {
                    auth.req_user(&iden)?;
                } else {
                    auth.req_role(&iden)?;
                }
                let rule = Rule::parse(bound.value(1))?;
                let indx = indx_arg(&bound, 2)?;
                if methname == "addUserRule" {
                    auth.add_user_rule(&iden, rule, indx, gate.as_deref())
                        .await?;
                } else {
                    auth.add_role_rule(&iden, rule, indx, gate.as_deref())
                        .await?;
                }
                ok_nil()
            }
            "delUserRule" | "delRoleRule" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("rule", D::Required),
                        ("gateiden", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                let gate = opt_loose(bound.value(2));
                if methname == "delUserRule" {
                    auth.req_user(&iden)?;
                } else {
                    auth.req_role(&iden)?;
                }
                let rule = Rule::parse(bound.value(1))?;
                let done = if methname == "delUserRule" {
                    auth.del_user_rule(&iden, &rule, gate.as_deref()).await?
                } else {
                    auth.del_role_rule(&iden, &rule, gate.as_deref()).await?
                };
                ok(Value::Boolean(done))
            }
            "setUserRules" | "setRoleRules" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("rules", D::Required),
                        ("gateiden", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                let gate = opt_loose(bound.value(2));
                if methname == "setUserRules" {
                    auth.req_user(&iden)?;
                } else {
                    auth.req_role(&iden)?;
                }
                let rules = Rule::parse_list(bound.value(1))?;
                if methname == "setUserRules" {
                    auth.set_user_rules(&iden, rules, gate.as_deref()).await?;
                } else {
                    auth.set_role_rules(&iden, rules, gate.as_deref()).await?;
                }
                ok_nil()
            }
            "setUserAdmin" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("admin", D::Required),
                        ("gateiden", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                auth.req_user(&iden)?;
                let admin = req_bool(bound.value(1), "setAdmin requires a boolean")?;
                auth.set_user_admin(&iden, admin, opt_loose(bound.value(2)).as_deref())
                    .await?;
                ok_nil()
            }
            "getAuthInfo" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required)])?;
                let name = loose(bound.value(0));
                if let Some(user) = auth.user_by_name(&name) {
                    return ok(self.pack_user(&user, PackRoles::Names));
                }
                if let Some(role) = auth.role_by_name(&name) {
                    return ok(role.pack());
                }
                Err(
                    Error::new(ErrKind::NoSuchName, format!("No such name: {name}"))
                        .with("name", name.as_str()),
                )
            }
            "addAuthRule" | "delAuthRule" => {
                sess.req_admin()?;
                let params: &[(&str, D)] = if methname == "addAuthRule" {
                    &[
                        ("name", D::Required),
                        ("rule", D::Required),
                        ("indx", D::Nil),
                        ("gateiden", D::Nil),
                    ]
                } else {
                    &[
                        ("name", D::Required),
                        ("rule", D::Required),
                        ("gateiden", D::Nil),
                    ]
                };
                let bound = args.bind(meth, params)?;
                let name = loose(bound.value(0));
                let rule = Rule::parse(bound.value(1))?;
                let gate = opt_loose(bound.value(params.len() - 1));
                if let Some(user) = auth.user_by_name(&name) {
                    if methname == "addAuthRule" {
                        auth.add_user_rule(&user.iden, rule, indx_arg(&bound, 2)?, gate.as_deref())
                            .await?;
                    } else {
                        auth.del_user_rule(&user.iden, &rule, gate.as_deref())
                            .await?;
                    }
                } else if let Some(role) = auth.role_by_name(&name) {
                    if methname == "addAuthRule" {
                        auth.add_role_rule(&role.iden, rule, indx_arg(&bound, 2)?, gate.as_deref())
                            .await?;
                    } else {
                        auth.del_role_rule(&role.iden, &rule, gate.as_deref())
                            .await?;
                    }
                } else {
                    return Err(Error::new(
                        ErrKind::NoSuchName,
                        format!("No user or role named {name}."),
                    )
                    .with("name", name.as_str()));
                }
                ok_nil()
            }
            "setAuthAdmin" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required), ("isadmin", D::Required)])?;
                let name = loose(bound.value(0));
                let admin = req_bool(bound.value(1), "setAdmin requires a boolean")?;
                let Some(user) = auth.user_by_name(&name) else {
                    return Err(
                        Error::new(ErrKind::NoSuchUser, format!("No user named {name}."))
                            .with("username", name.as_str()),
                    );
                };
                auth.set_user_admin(&user.iden, admin, None).await?;
                ok_nil()
            }
            "setUserPasswd" => {
                let bound = args.bind(meth, &[("iden", D::Required), ("passwd", D::Required)])?;
                let iden = loose(bound.value(0));
                auth.req_user(&iden)?;
                if sess.user_iden() == iden {
                    sess.confirm(&perm_of("auth.self.set.passwd"), Some(true), None)?;
                } else {
                    sess.confirm(&perm_of("auth.user.set.passwd"), None, None)?;
                }
                let passwd = passwd_arg(bound.value(1))?;
                auth.set_user_passwd(&iden, passwd.as_deref(), true).await?;
                ok_nil()
            }
            "tryUserPasswd" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required), ("passwd", D::Required)])?;
                let Some(user) = auth.user_by_name(&loose(bound.value(0))) else {
                    return ok_nil();
                };
                let passwd = bound.value(1).as_str().map(str::to_string);
                if !auth.try_user_passwd(&user.iden, passwd.as_deref()).await? {
                    return ok_nil();
                }
                let user = auth.req_user(&user.iden)?;
                ok(self.pack_user(&user, PackRoles::Idens))
            }
            "genUserOnepass" => {
                sess.req_admin()?;
                let bound =
                    args.bind(meth, &[("iden", D::Required), ("duration", D::Int(60000))])?;
                let duration = bound.opt_int(1, "duration")?.unwrap_or(60000);
                ok(Value::from(
                    auth.gen_user_onepass(&loose(bound.value(0)), duration)
                        .await?,
                ))
            }
            "setUserLocked" => {
                sess.req_admin()?;
                let bound =
                    args.bind(meth, &[("useriden", D::Required), ("locked", D::Required)])?;
                let iden = loose(bound.value(0));
                auth.req_user(&iden)?;
                let locked = req_bool(bound.value(1), "setLocked requires a boolean")?;
                auth.set_user_locked(&iden, locked).await?;
                ok_nil()
            }
            "setUserArchived" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[("useriden", D::Required), ("archived", D::Required)],
                )?;
                let iden = loose(bound.value(0));
                auth.req_user(&iden)?;
                let archived = req_bool(bound.value(1), "setArchived requires a boolean")?;
                auth.set_user_archived(&iden, archived).await?;
                ok_nil()
            }
            "setUserEmail" => {
                sess.req_admin()?;
                let bound =
                    args.bind(meth, &[("useriden", D::Required), ("email", D::Required)])?;
                let iden = loose(bound.value(0));
                auth.req_user(&iden)?;
                let email = match bound.value(1) {
                    Value::Nil => None,
                    Value::String(s) => Some(s.as_str().unwrap_or_default().to_string()),
                    _ => return Err(Error::bad_arg("email must be a string").with("name", "email")),
                };
                auth.set_user_email(&iden, email.as_deref()).await?;
                ok_nil()
            }
            "addUserRole" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("useriden", D::Required),
                        ("roleiden", D::Required),
                        ("indx", D::Nil),
                    ],
                )?;
                let user = loose(bound.value(0));
                let role = loose(bound.value(1));
                auth.req_user(&user)?;
                auth.req_role(&role)?;
                auth.grant(&user, &role, indx_arg(&bound, 2)?).await?;
                ok_nil()
            }
            "setUserRoles" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[("useriden", D::Required), ("roleidens", D::Required)],
                )?;
                let user = loose(bound.value(0));
                auth.req_user(&user)?;
                let roles = match bound.value(1) {
                    Value::Array(items) => items.iter().map(loose).collect(),
                    _ => return Err(Error::bad_arg("roleidens must be a list")),
                };
                auth.set_user_roles(&user, roles).await?;
                ok_nil()
            }
            "delUserRole" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[("useriden", D::Required), ("roleiden", D::Required)],
                )?;
                let user = loose(bound.value(0));
                let role = loose(bound.value(1));
                auth.req_user(&user)?;
                auth.req_role(&role)?;
                auth.revoke(&user, &role).await?;
                ok_nil()
            }
            "getUserInfo" => {
                let bound = args.bind(meth, &[("name", D::Required)])?;
                let user = auth.req_user_by_name(&loose(bound.value(0)))?;
                let me = sess.user()?;
                if me.is_admin() || me.iden == user.iden {
                    return ok(self.pack_user(&user, PackRoles::Names));
                }
                Err(Error::auth_deny(
                    "getUserInfo denied for non-admin and non-self",
                    &me.iden,
                    &me.name,
                ))
            }
            "getRoleInfo" => {
                let bound = args.bind(meth, &[("name", D::Required)])?;
                let role = auth.req_role_by_name(&loose(bound.value(0)))?;
                let me = sess.user()?;
                if me.is_admin() || me.roles.contains(&role.iden) {
                    return ok(role.pack());
                }
                Err(Error::auth_deny(
                    "getRoleInfo denied for non-admin and non-member",
                    &me.iden,
                    &me.name,
                ))
            }
            "getUserDef" => {
                sess.req_admin()?;
                let bound =
                    args.bind(meth, &[("iden", D::Required), ("packroles", D::Bool(true))])?;
                let how = if bound.truthy(1) {
                    PackRoles::Defs
                } else {
                    PackRoles::Idens
                };
                ok(auth
                    .user(&loose(bound.value(0)))
                    .map_or(Value::Nil, |u| self.pack_user(&u, how)))
            }
            "getUserDefByName" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required)])?;
                ok(auth
                    .user_by_name(&loose(bound.value(0)))
                    .map_or(Value::Nil, |u| self.pack_user(&u, PackRoles::Defs)))
            }
            "getRoleDef" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("iden", D::Required)])?;
                ok(auth
                    .role(&loose(bound.value(0)))
                    .map_or(Value::Nil, |r| r.pack()))
            }
            "getRoleDefByName" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("name", D::Required)])?;
                ok(auth
                    .role_by_name(&loose(bound.value(0)))
                    .map_or(Value::Nil, |r| r.pack()))
            }
            "getAuthGate" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("iden", D::Required)])?;
                ok(auth
                    .gate(&loose(bound.value(0)))
                    .map_or(Value::Nil, |g| g.pack()))
            }
            "getAuthGates" => {
                sess.req_admin()?;
                args.bind(meth, &[])?;
                ok(Value::Array(
                    auth.gates().iter().map(|g| g.pack()).collect(),
                ))
            }
            "isUserAllowed" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("perm", D::Required),
                        ("gateiden", D::Nil),
                        ("default", D::Bool(false)),
                    ],
                )?;
                let iden = loose(bound.value(0));
                if auth.user(&iden).is_none() {
                    return ok(Value::Boolean(false));
                }
                let perm = perm_path(bound.value(1))?;
                let gate = opt_loose(bound.value(2));
                let default = opt_bool(bound.value(3));
                ok(auth
                    .allowed(&iden, &perm, default, gate.as_deref())
                    .map_or(Value::Nil, Value::Boolean))
            }
            "isRoleAllowed" => {
                sess.req_admin()?;
                let bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("perm", D::Required),
                        ("gateiden", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                if auth.role(&iden).is_none() {
                    return ok(Value::Boolean(false));
                }
                let perm = perm_path(bound.value(1))?;
                let gate = opt_loose(bound.value(2));
                ok(auth
                    .role_allowed(&iden, &perm, None, gate.as_deref())
                    .map_or(Value::Nil, Value::Boolean))
            }
            "getUserProfile" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("iden", D::Required)])?;
                let prof = auth.user_profile(&loose(bound.value(0)))?;
                ok(Value::Map(
                    prof.iter()
                        .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                        .collect(),
                ))
            }
            "getUserProfInfo" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("iden", D::Required), ("name", D::Required)])?;
                let prof = auth.user_profile(&loose(bound.value(0)))?;
                ok(prof
                    .get(&loose(bound.value(1)))
                    .cloned()
                    .unwrap_or(Value::Nil))
            }
            "setUserProfInfo" => {
                sess.req_admin()?;
                let mut bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("name", D::Required),
                        ("valu", D::Required),
                    ],
                )?;
                let iden = loose(bound.value(0));
                let name = req_str(bound.value(1), "name")
                    .map_err(|_| Error::bad_arg("SafeKeyVal key names must be strings"))?;
                let valu = bound.take(2);
                ok(auth.set_user_profile(&iden, &name, valu).await?)
            }
            "popUserProfInfo" => {
                sess.req_admin()?;
                let mut bound = args.bind(
                    meth,
                    &[
                        ("iden", D::Required),
                        ("name", D::Required),
                        ("default", D::Nil),
                    ],
                )?;
                let iden = loose(bound.value(0));
                let name = loose(bound.value(1));
                let default = bound.take(2);
                ok(auth
                    .pop_user_profile(&iden, &name)
                    .await?
                    .unwrap_or(default))
            }

            // ----- the (deprecated) hive -----
            "listHiveKey" | "getHiveKeys" | "getHiveKey" | "setHiveKey" | "popHiveKey"
            | "saveHiveTree" => {
                let user = sess.req_admin()?;
                tracing::warn!(user = %user.name, "CellApi.{methname} is deprecated");
                let hive = cell.req_hive()?;
                let hive_err = crate::cell::hive_err;
                match methname {
                    "listHiveKey" => {
                        let bound = args.bind(meth, &[("path", D::Nil)])?;
                        let path =
                            synapse_hive::path_from_value(bound.value(0)).map_err(hive_err)?;
                        ok(hive.list_keys(&path).map_or(Value::Nil, |keys| {
                            Value::Array(keys.into_iter().map(Value::from).collect())
                        }))
                    }
                    "getHiveKeys" => {
                        let bound = args.bind(meth, &[("path", D::Required)])?;
                        let path =
                            synapse_hive::path_from_value(bound.value(0)).map_err(hive_err)?;
                        let items = hive.get_keys(&path);
                        ok(Value::Array(
                            items
                                .into_iter()
                                .map(|(k, v)| Value::Array(vec![Value::from(k), v]))
                                .collect(),
                        ))
                    }
                    "getHiveKey" => {
                        let bound = args.bind(meth, &[("path", D::Required)])?;
                        let path =
                            synapse_hive::path_from_value(bound.value(0)).map_err(hive_err)?;
                        ok(hive.get(&path).unwrap_or(Value::Nil))
                    }
                    "setHiveKey" => {
                        let mut bound =
                            args.bind(meth, &[("path", D::Required), ("valu", D::Required)])?;
                        let path =
                            synapse_hive::path_from_value(bound.value(0)).map_err(hive_err)?;
                        let valu = bound.take(1);
                        ok(hive.set(&path, valu).await.map_err(hive_err)?)
                    }
                    "popHiveKey" => {
                        let bound = args.bind(meth, &[("path", D::Required)])?;
                        let path =
                            synapse_hive::path_from_value(bound.value(0)).map_err(hive_err)?;
                        ok(hive.pop(&path).await.map_err(hive_err)?)
                    }
                    _ => {
                        let bound = args.bind(meth, &[("path", D::Empty)])?;
                        let path =
                            synapse_hive::path_from_value(bound.value(0)).map_err(hive_err)?;
                        ok(hive.save_tree(&path))
                    }
                }
            }

            // ----- API keys -----
            "addUserApiKey" => {
                let bound = args.bind(
                    meth,
                    &[
                        ("name", D::Required),
                        ("duration", D::Nil),
                        ("useriden", D::Nil),
                    ],
                )?;
                let useriden = opt_loose(bound.value(2)).unwrap_or_else(|| sess.user_iden());
                self.confirm_apikey(&useriden)?;
                let name = req_str(bound.value(0), "name")?;
                let duration = bound.opt_int(1, "duration")?;
                auth.req_user(&useriden)?;
                let (key, kdef) = auth.add_api_key(&useriden, &name, duration).await?;
                tracing::info!(key = %kdef.iden, user = %useriden, "created HTTP API key");
                ok(Value::Array(vec![Value::from(key), kdef.pack()]))
            }
            "listUserApiKeys" => {
                let bound = args.bind(meth, &[("useriden", D::Nil)])?;
                let useriden = opt_loose(bound.value(0)).unwrap_or_else(|| sess.user_iden());
                self.confirm_apikey(&useriden)?;
                let keys = auth.list_api_keys(&useriden)?;
                ok(Value::Array(keys.iter().map(|k| k.pack()).collect()))
            }
            "delUserApiKey" => {
                let bound = args.bind(meth, &[("iden", D::Required)])?;
                let iden = loose(bound.value(0));
                let Some(kdef) = auth.api_key(&iden) else {
                    return Err(Error::new(
                        ErrKind::NoSuchIden,
                        format!("User API key with iden={} does not exist.", pyrepr(&iden)),
                    )
                    .with("iden", iden.as_str()));
                };
                self.confirm_apikey(&kdef.user)?;
                ok(Value::Boolean(auth.del_api_key(&iden).await?))
            }
            "checkUserApiKey" => {
                sess.req_admin()?;
                let bound = args.bind(meth, &[("key", D::Required)])?;
                let key = loose(bound.value(0));
                match auth.check_api_key(&key).await {
                    Ok((kdef, user)) => ok(Value::Array(vec![
                        Value::Boolean(true),
                        map([
                            ("kdef", kdef.pack()),
                            ("udef", self.pack_user(&user, PackRoles::Defs)),
                        ]),
                    ])),
                    Err(info) => ok(Value::Array(vec![
                        Value::Boolean(false),
                        Value::Map(info.into_iter().map(|(k, v)| (Value::from(k), v)).collect()),
                    ])),
                }
            }
            _ => Err(self.no_such_meth(methname)),
        }
    }

    fn confirm_apikey(&self, useriden: &str) -> Result<()> {
        if self.sess.user_iden() == useriden {
            self.sess
                .confirm(&perm_of("auth.self.set.apikey"), Some(true), None)
        } else {
            self.sess
                .confirm(&perm_of("auth.user.set.apikey"), None, None)
        }
    }
}

fn with_service(valu: Value) -> Value {
    match valu {
        Value::Map(mut items) => {
            items.push((Value::from("service"), Value::Nil));
            Value::Map(items)
        }
        other => other,
    }
}

fn perm_of(text: &str) -> Vec<String> {
    text.split('.').map(str::to_string).collect()
}

/// A password argument: `None` clears; `""` and non-strings are `BadArg`.
fn passwd_arg(valu: &Value) -> Result<Option<String>> {
    match valu {
        Value::Nil => Ok(None),
        Value::String(s) if !s.as_bytes().is_empty() => {
            Ok(Some(s.as_str().unwrap_or_default().to_string()))
        }
        _ => Err(Error::bad_arg("Password must be a string")),
    }
}
