//! The Storm runtime: runs planned queries against a view.
//!
//! A query runs as a chain of async streams of `(node, path)` items, one stream per operator,
//! exactly as the reference's generator pipeline: nodes stream (a lift does not finish before
//! the next operator sees its first node), runtime-safe operators run once when no node comes
//! in, subqueries and function bodies run in sub-runtimes sharing the query's variables with the
//! reference's scoping rules.
//!
//! Entry points, used by the Cortex APIs:
//!
//! * [`storm`]: the `storm()` message stream (`init`, `node`, `print`, `warn`, `node:edits`,
//!   `err`, `fini`, ...);
//! * [`call_storm`]: the value of a `return()` (`callStorm()`);
//! * [`count`]: the number of nodes a query yields (`count()`);
//! * [`validate()`], `reqValidStorm()`.
//!
//! The caller supplies a [`StormCore`] (the cortex's views and shared state) and a
//! [`StormUser`] (identity and a permission check); edits are checked per cortex.md §10.

mod admin;
mod authlib;
mod automation;
mod axonlib;
mod byteslib;
mod cmds;
mod cond;
mod cryptolib;
mod deprwarn;
mod dmon;
mod easyperm;
mod edit;
mod error;
mod eval;
mod exec;
mod exportlib;
mod ext;
mod feedlib;
mod flow;
mod genlib;
mod graph;
mod graphlib;
mod host;
mod httplib;
mod jsonschema;
mod layersync;
mod lib;
mod libmore;
mod lift;
mod loglib;
mod macros;
mod modelext;
mod morecmds;
mod movenodes;
mod nodedata;
mod notiflib;
mod pivot;
mod pkg;
mod pkgqueue;
mod pyvals;
mod queue;
mod runt;
mod scrape;
mod stormlib;
mod tagmodel;
mod tier1;
mod typesmore;
mod value;
mod viewmerge;
mod websock;

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rmpv::Value;

pub use error::StormError;
pub use host::CortexEngine;

pub(crate) use automation::run_node_query;
pub(crate) use host::to_cell_error;

use crate::view::{View, Views};
use error::Flow;
use runt::Shared;
use value::Val;

/// One message of the `storm()` stream: `(type, info)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The message type (`init`, `node`, `print`, ...).
    pub kind: String,
    /// The message info.
    pub info: Value,
}

impl Message {
    /// A message.
    pub fn new(kind: &str, info: Value) -> Message {
        Message {
            kind: kind.to_owned(),
            info,
        }
    }

    /// The wire form: `[type, info]`.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![Value::from(self.kind.as_str()), self.info.clone()])
    }
}

/// What the runtime needs from the Cortex that hosts it: the views and the cortex-wide state.
pub trait StormHost: Send + Sync + 'static {
    /// The cortex's views and layers.
    fn views(&self) -> &Views;
    /// The cortex iden.
    fn iden(&self) -> String;
    /// A cortex-wide variable (`$lib.globals`).
    fn global_get(&self, name: &str) -> BoxFuture<'_, Result<Option<Value>, StormError>>;
    /// Set a cortex-wide variable.
    fn global_set(&self, name: &str, valu: Value) -> BoxFuture<'_, Result<(), StormError>>;
    /// Remove a cortex-wide variable.
    fn global_pop(&self, name: &str) -> BoxFuture<'_, Result<Option<Value>, StormError>>;
    /// Every cortex-wide variable.
    fn global_list(&self) -> BoxFuture<'_, Result<Vec<(String, Value)>, StormError>>;
    /// Declare a tag property (`$lib.model.ext.addTagProp`).
    fn add_tagprop(
        &self,
        name: &str,
        tdef: Value,
        info: Value,
    ) -> BoxFuture<'_, Result<(), StormError>> {
        let _ = (name, tdef, info);
        Box::pin(async {
            Err(StormError::new(
                "StormRuntimeError",
                "Tag properties cannot be added here.",
            ))
        })
    }
    /// Remove a tag property.
    fn del_tagprop(&self, name: &str) -> BoxFuture<'_, Result<(), StormError>> {
        let _ = name;
        Box::pin(async {
            Err(StormError::new(
                "StormRuntimeError",
                "Tag properties cannot be removed here.",
            ))
        })
    }
    /// Fork a view for a user (`view.fork`, `$view.fork()`); the new view's iden. A cortex
    /// also makes the auth gates of the new view and layer, with the user their admin.
    fn fork_view(
        &self,
        iden: &str,
        name: Option<String>,
        user: &str,
    ) -> BoxFuture<'_, Result<String, StormError>> {
        let (iden, user) = (iden.to_owned(), user.to_owned());
        Box::pin(async move {
            let view = self
                .views()
                .fork(&iden, name, &user)
                .await
                .map_err(StormError::from_view)?;
            Ok(view.iden())
        })
    }
    /// When the hosting cell started (epoch millis; `uptime`), if known.
    fn started_ms(&self) -> Option<i64> {
        None
    }
    /// A user by name, else by iden (`runas`); `NoSuchUser` otherwise.
    fn user_by_name_or_iden(&self, name: &str) -> Result<StormUser, StormError> {
        Err(StormError::new(
            "NoSuchUser",
            format!("No user with name or iden {name}."),
        ))
    }
    /// Delete a view (and, in a cortex, its auth gate).
    fn del_view(&self, iden: &str) -> BoxFuture<'_, Result<(), StormError>> {
        let iden = iden.to_owned();
        Box::pin(async move {
            self.views()
                .del_view(&iden)
                .await
                .map_err(StormError::from_view)
        })
    }
    /// The Cortex behind this host (triggers, cron jobs, queues, macros, auth), if any.
    fn cortex(&self) -> Option<Arc<crate::cortex::Cortex>> {
        None
    }
    /// A user's persistent vars (`vars`) or profile items (`$lib.user.vars`, `.profile`).
    fn user_kv_list(
        &self,
        user: &str,
        vars: bool,
    ) -> BoxFuture<'_, Result<Vec<(String, Value)>, StormError>> {
        let _ = (user, vars);
        Box::pin(async { Err(no_user_kv()) })
    }
    /// Set (`Some`) or remove (`None`) a user var or profile item; the previous value.
    fn user_kv_set(
        &self,
        user: &str,
        vars: bool,
        name: &str,
        valu: Option<Value>,
    ) -> BoxFuture<'_, Result<Option<Value>, StormError>> {
        let _ = (user, vars, name, valu);
        Box::pin(async { Err(no_user_kv()) })
    }
    /// Delete a layer no view uses (and, in a cortex, its auth gate).
    fn del_layer(&self, iden: &str) -> BoxFuture<'_, Result<(), StormError>> {
        let iden = iden.to_owned();
        Box::pin(async move {
            self.views()
                .del_layer(&iden)
                .await
                .map_err(StormError::from_view)
        })
    }
}

fn no_user_kv() -> StormError {
    StormError::new("StormRuntimeError", "User vars and profiles need a cortex.")
}

/// A host over views with in-memory globals (tests, embedding).
pub struct MemHost {
    views: Arc<Views>,
    iden: String,
    items: Mutex<Vec<(String, Value)>>,
}

impl MemHost {
    /// A host of `views`.
    pub fn new(views: Arc<Views>) -> MemHost {
        MemHost {
            views,
            iden: crate::model::guid_random(),
            items: Mutex::new(Vec::new()),
        }
    }
}

impl StormHost for MemHost {
    fn views(&self) -> &Views {
        &self.views
    }

    fn iden(&self) -> String {
        self.iden.clone()
    }

    fn global_get(&self, name: &str) -> BoxFuture<'_, Result<Option<Value>, StormError>> {
        let out = value::lock(&self.items)
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        Box::pin(async move { Ok(out) })
    }

    fn global_set(&self, name: &str, valu: Value) -> BoxFuture<'_, Result<(), StormError>> {
        let mut items = value::lock(&self.items);
        match items.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = valu,
            None => items.push((name.to_owned(), valu)),
        }
        Box::pin(async { Ok(()) })
    }

    fn global_pop(&self, name: &str) -> BoxFuture<'_, Result<Option<Value>, StormError>> {
        let mut items = value::lock(&self.items);
        let out = items
            .iter()
            .position(|(n, _)| n == name)
            .map(|pos| items.remove(pos).1);
        Box::pin(async move { Ok(out) })
    }

    fn global_list(&self) -> BoxFuture<'_, Result<Vec<(String, Value)>, StormError>> {
        let out = value::lock(&self.items).clone();
        Box::pin(async move { Ok(out) })
    }
}

/// What a running query needs from the Cortex.
pub struct StormCore {
    /// The host cortex.
    pub host: Arc<dyn StormHost>,
    pivots: std::sync::OnceLock<Arc<pivot::PivotIndex>>,
    /// When the core started (epoch millis; `uptime`).
    started: i64,
}

impl StormCore {
    /// A core over views with in-memory globals.
    pub fn new(views: Arc<Views>) -> StormCore {
        StormCore::with_host(Arc::new(MemHost::new(views)))
    }

    /// A core over a host.
    pub fn with_host(host: Arc<dyn StormHost>) -> StormCore {
        StormCore {
            host,
            pivots: std::sync::OnceLock::new(),
            started: synapse_base::now_ms(),
        }
    }

    /// When the hosting cell (else this core) started (epoch millis).
    pub(crate) fn started_ms(&self) -> i64 {
        self.host.started_ms().unwrap_or(self.started)
    }

    /// The views.
    pub fn views(&self) -> &Views {
        self.host.views()
    }

    pub(crate) fn pivot_index(&self, model: &crate::model::Model) -> Arc<pivot::PivotIndex> {
        Arc::clone(
            self.pivots
                .get_or_init(|| Arc::new(pivot::PivotIndex::build(model))),
        )
    }
}

/// A permission check: `(perm parts, gate iden)` → allowed.
pub type PermCheck = dyn Fn(&[&str], Option<&str>) -> bool + Send + Sync;

/// The user a query runs as.
#[derive(Clone)]
pub struct StormUser {
    /// The user iden.
    pub iden: String,
    /// The user name.
    pub name: String,
    /// Whether the user is a global admin (every permission).
    pub admin: bool,
    /// The permission check for non-admins.
    pub check: Arc<PermCheck>,
}

impl std::fmt::Debug for StormUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StormUser")
            .field("iden", &self.iden)
            .field("name", &self.name)
            .field("admin", &self.admin)
            .finish()
    }
}

impl StormUser {
    /// An admin user.
    pub fn admin(iden: &str, name: &str) -> StormUser {
        StormUser {
            iden: iden.to_owned(),
            name: name.to_owned(),
            admin: true,
            check: Arc::new(|_, _| true),
        }
    }

    /// Whether the user has a permission.
    pub fn allowed(&self, perm: &[&str], gate: Option<&str>) -> bool {
        self.admin || (self.check)(perm, gate)
    }

    /// The reference's `AuthDeny` for a missing permission (gate: iden and type).
    pub fn deny(&self, perm: &[&str], gate: Option<(&str, &str)>) -> StormError {
        let perm = perm.join(".");
        let mesg = match gate {
            Some((iden, kind)) => format!(
                "User '{}' ({}) must have permission {perm} on object {iden} ({kind}).",
                self.name, self.iden
            ),
            None => format!(
                "User '{}' ({}) must have permission {perm}",
                self.name, self.iden
            ),
        };
        StormError::new("AuthDeny", mesg)
            .with("perm", perm.as_str())
            .with("user", self.iden.as_str())
            .with("username", self.name.as_str())
    }
}

/// Storm options (cortex.md §5).
#[derive(Debug, Clone, Default)]
pub struct StormOpts {
    /// Initial variables.
    pub vars: Vec<(String, Value)>,
    /// The view iden.
    pub view: Option<String>,
    /// `storm`, `lookup`, `autoadd` or `search`.
    pub mode: String,
    /// Add reprs to packed nodes.
    pub repr: bool,
    /// `nodeedits`, `count` or `none`.
    pub editformat: String,
    /// Stop after this many nodes.
    pub limit: Option<u64>,
    /// Message types to forward (all when `None`).
    pub show: Option<Vec<String>>,
    /// Seconds between `ping` messages.
    pub keepalive: Option<f64>,
    /// Refuse edits.
    pub readonly: bool,
    /// Add `links` to packed nodes.
    pub links: bool,
    /// Add `path.nodes` to packed nodes (deprecated).
    pub path: bool,
    /// Add per-layer storage nodes to packed nodes.
    pub show_storage: bool,
    /// Initial nodes by iden.
    pub idens: Vec<Value>,
    /// Initial nodes by ndef.
    pub ndefs: Vec<Value>,
    /// Run as root (needs `storm.sudo`).
    pub sudo: bool,
    /// `$lib.debug`.
    pub debug: bool,
    /// An explicit task iden.
    pub task: Option<String>,
    /// The user iden to run as.
    pub user: Option<String>,
    /// Subgraph projection rules (`true` or a rules dict), applied to the query's output.
    pub graph: Option<Value>,
}

impl StormOpts {
    /// Options from the wire's `opts` dict (unknown keys ignored; `BadArg` on bad vars keys,
    /// `BadConfValu` on an unknown edit format).
    pub fn from_value(opts: &Value) -> Result<StormOpts, StormError> {
        let mut out = StormOpts {
            mode: "storm".into(),
            editformat: "nodeedits".into(),
            ..StormOpts::default()
        };
        let Value::Map(items) = opts else {
            return Ok(out);
        };
        for (key, valu) in items {
            let Some(key) = key.as_str() else { continue };
            let text = || valu.as_str().map(str::to_owned);
            let flag = || match valu {
                Value::Boolean(b) => *b,
                Value::Nil => false,
                Value::Integer(i) => i.as_i64() != Some(0),
                _ => true,
            };
            match key {
                "vars" => {
                    if let Value::Map(vars) = valu {
                        for (name, v) in vars {
                            let Some(name) = name.as_str() else {
                                return Err(StormError::new(
                                    "BadArg",
                                    "Storm var names must be strings.",
                                ));
                            };
                            out.vars.push((name.to_owned(), v.clone()));
                        }
                    }
                }
                "view" => out.view = text(),
                "mode" => out.mode = text().unwrap_or_else(|| "storm".into()),
                "repr" => out.repr = flag(),
                "editformat" => {
                    let fmt = text().unwrap_or_default();
                    if !["nodeedits", "count", "none"].contains(&fmt.as_str()) {
                        return Err(StormError::new(
                            "BadConfValu",
                            format!("invalid edit format, got {fmt}"),
                        )
                        .with("name", "editformat")
                        .with("valu", fmt.as_str()));
                    }
                    out.editformat = fmt;
                }
                "limit" => {
                    out.limit = valu
                        .as_u64()
                        .or_else(|| valu.as_i64().map(|v| v.max(0) as u64))
                }
                "show" => {
                    if let Value::Array(kinds) = valu {
                        out.show = Some(
                            kinds
                                .iter()
                                .filter_map(|k| k.as_str().map(str::to_owned))
                                .collect(),
                        );
                    }
                }
                "keepalive" => {
                    out.keepalive = valu.as_f64().or_else(|| valu.as_i64().map(|v| v as f64))
                }
                "readonly" => out.readonly = flag(),
                "links" => out.links = flag(),
                "path" => out.path = flag(),
                "show:storage" => out.show_storage = flag(),
                "idens" => {
                    if let Value::Array(items) = valu {
                        out.idens = items.clone();
                    }
                }
                "ndefs" => {
                    if let Value::Array(items) = valu {
                        out.ndefs = items.clone();
                    }
                }
                "sudo" => out.sudo = flag(),
                "debug" => out.debug = flag(),
                "task" => out.task = text(),
                "user" => out.user = text(),
                "graph" => out.graph = Some(valu.clone()),
                _ => {}
            }
        }
        if let Some(keep) = out.keepalive
            && keep <= 0.0
        {
            return Err(StormError::new(
                "BadArg",
                format!(
                    "keepalive must be > 0; got {}",
                    crate::model::value::py_float_str(keep)
                ),
            ));
        }
        Ok(out)
    }
}

/// md5 hex of the query text (`init.hash`, highlight hashes).
pub fn queryhash(text: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

/// A syntax error as the reference's `BadSyntax` error info.
pub fn bad_syntax(text: &str, err: &crate::storm::SyntaxError) -> StormError {
    let mut out = StormError::new("BadSyntax", err.mesg.clone());
    if let Some(pos) = err.pos {
        out.set("at", Value::from(pos.at));
        out.set("text", Value::from(text));
        out.set("line", Value::from(pos.line));
        out.set("column", Value::from(pos.column));
        out.set(
            "token",
            Value::from(err.token.clone().unwrap_or_default().as_str()),
        );
        let pair = |a: u32, b: u32| Value::Array(vec![Value::from(a), Value::from(b)]);
        out.set(
            "highlight",
            Value::Map(vec![
                (Value::from("hash"), Value::from(queryhash(text))),
                (Value::from("lines"), pair(pos.line, pos.end_line)),
                (Value::from("columns"), pair(pos.column, pos.end_column)),
                (Value::from("offsets"), pair(pos.at, pos.end)),
            ]),
        );
    } else {
        out.set("text", Value::from(text));
    }
    if let Some(valu) = &err.valu {
        out.set("valu", Value::from(valu.as_str()));
    }
    out
}

/// Parse a query in a mode (`storm`, `lookup`, `autoadd`, `search`): `BadSyntax` if invalid.
pub fn validate(text: &str, mode: &str) -> Result<(), StormError> {
    parse(text, mode).map(|_| ())
}

/// A parsed query: a plain query, or lookup indicators with an optional query.
pub(crate) enum Parsed {
    Query(crate::storm::ast::Query),
    Lookup(crate::storm::ast::Lookup),
}

pub(crate) fn parse(text: &str, mode: &str) -> Result<Parsed, StormError> {
    match mode {
        "lookup" | "autoadd" | "search" => crate::storm::parse_lookup(text)
            .map(Parsed::Lookup)
            .map_err(|e| bad_syntax(text, &e)),
        _ => crate::storm::parse_query(text)
            .map(Parsed::Query)
            .map_err(|e| bad_syntax(text, &e)),
    }
}

/// How a query's nodes are consumed.
enum Consume {
    /// Send packed nodes to the client.
    Nodes,
    /// Count them.
    Count,
    /// Discard them (`callStorm`).
    Discard,
}

/// The view a query runs in.
fn resolve_view(core: &StormCore, user: &StormUser, opts: &StormOpts) -> Result<View, StormError> {
    let view = match &opts.view {
        Some(iden) => core.views().view(iden).ok_or_else(|| {
            StormError::new("NoSuchView", format!("No such view iden={iden}"))
                .with("iden", iden.as_str())
        })?,
        None => core.views().default_view(),
    };
    let iden = view.iden();
    if !user.allowed(&["view", "read"], Some(&iden)) {
        return Err(user.deny(&["view", "read"], Some((&iden, "view"))));
    }
    Ok(view)
}

fn new_shared(
    core: &Arc<StormCore>,
    user: &StormUser,
    opts: &StormOpts,
    view: View,
    sink: Option<tokio::sync::mpsc::Sender<Message>>,
) -> Arc<Shared> {
    let meta = crate::nodeedit::EditMeta::now(user.iden.clone());
    let mut editor = view.editor(meta, crate::view::AllowAll::arc());
    editor.set_deferred_commit(true);
    Arc::new(Shared {
        core: Arc::clone(core),
        user: user.clone(),
        view,
        opts: opts.clone(),
        sink,
        editor: tokio::sync::Mutex::new(editor),
        warned: Mutex::new(Default::default()),
        links: opts.links,
        pathnodes: opts.path,
        edits: Default::default(),
        graph: Default::default(),
        nodedata: Default::default(),
    })
}

/// Run a query: feed its nodes to `consume`; returns the control flow that ended it. Its
/// edits are committed before this returns, whatever the outcome (they are applied without
/// waiting for commits while it runs).
async fn execute(
    shared: Arc<Shared>,
    text: &str,
    consume: Consume,
    count: &mut u64,
) -> Result<(), Flow> {
    let core = Arc::clone(&shared.core);
    let res = execute_inner(shared, text, consume, count).await;
    let synced = sync_layers(&core).await;
    match (res, synced) {
        (Ok(()), Err(err)) => Err(err),
        (res, _) => res,
    }
}

/// Commit every layer holding edits applied without a commit.
async fn sync_layers(core: &StormCore) -> Result<(), Flow> {
    for layer in core.views().layers() {
        if layer.has_uncommitted() {
            layer
                .sync()
                .await
                .map_err(|err| Flow::from(crate::view::Error::from(err)))?;
        }
    }
    Ok(())
}

async fn execute_inner(
    shared: Arc<Shared>,
    text: &str,
    consume: Consume,
    count: &mut u64,
) -> Result<(), Flow> {
    let parsed = parse(text, &shared.opts.mode)?;
    if shared.opts.sudo {
        let runt_user = &shared.user;
        if !runt_user.allowed(&["storm", "sudo"], None) {
            return Err(Flow::Err(runt_user.deny(&["storm", "sudo"], None)));
        }
    }
    let vars: Vec<(String, Val)> = shared
        .opts
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Val::from_msgpack(v)))
        .collect();
    let runt = exec::root_runtime(&shared, text, vars, &parsed)?;
    let stream = exec::run_parsed(&runt, &parsed)?;
    // As the reference, the projection is chosen once the first node is out, so a query can
    // pick one with `$lib.graph.activate()` before it yields.
    let mut stream = graph::project_chosen(Arc::clone(&runt), stream);
    let limit = shared.opts.limit;
    let dorepr = shared.opts.repr;
    while let Some(item) = stream.next().await {
        let item = item?;
        *count += 1;
        match consume {
            Consume::Nodes => {
                let mut pode = item
                    .node
                    .pack(runt.model(), crate::node::PackOpts { repr: dorepr });
                nodedata::overlay(&shared, &item.node.buid, &mut pode);
                if let Value::Array(parts) = &mut pode
                    && let Some(Value::Map(info)) = parts.get_mut(1)
                {
                    info.push((Value::from("path"), item.path.pack()));
                    if let Some(links) = &item.path.links {
                        info.push((
                            Value::from("links"),
                            Value::Array(
                                links
                                    .iter()
                                    .map(|(iden, link)| {
                                        Value::Array(vec![Value::from(iden.as_str()), link.clone()])
                                    })
                                    .collect(),
                            ),
                        ));
                    }
                    if shared.opts.show_storage {
                        let sodes = shared
                            .view
                            .get_sodes(item.node.buid)
                            .await
                            .map_err(Flow::from)?;
                        info.push((
                            Value::from("storage"),
                            Value::Array(
                                sodes
                                    .iter()
                                    .map(|s| {
                                        s.as_ref()
                                            .map(|s| s.to_value())
                                            .unwrap_or(Value::Map(vec![]))
                                    })
                                    .collect(),
                            ),
                        ));
                    }
                }
                shared.send("node", pode).await;
            }
            Consume::Count | Consume::Discard => {}
        }
        if let Some(limit) = limit
            && *count >= limit
        {
            break;
        }
    }
    Ok(())
}

/// The `storm()` message stream of a query.
///
/// The query runs in its own task; dropping the stream cancels it.
pub fn storm(
    core: Arc<StormCore>,
    user: StormUser,
    text: String,
    opts: StormOpts,
) -> BoxStream<'static, Message> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(1000);
    let (taskcore, taskuser, tasktext) = (Arc::clone(&core), user.clone(), text.clone());
    let viewiden = opts.view.clone();
    let explicit = opts.task.clone();
    let body = move |taskiden: String| async move {
        let tick = synapse_base::now_ms();
        let abstick = mono_ms();
        let init = Value::Map(vec![
            (Value::from("tick"), Value::from(tick)),
            (Value::from("text"), Value::from(text.as_str())),
            (Value::from("abstick"), Value::from(abstick)),
            (Value::from("hash"), Value::from(queryhash(&text))),
            (Value::from("task"), Value::from(taskiden.as_str())),
        ]);
        let _ = tx.send(Message::new("init", init)).await;
        let mut count = 0u64;
        let result = match resolve_view(&core, &user, &opts) {
            Ok(view) => {
                let shownode = opts
                    .show
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|k| k == "node"));
                let shared = new_shared(&core, &user, &opts, view, Some(tx.clone()));
                let keep = opts.keepalive.map(|secs| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let period = std::time::Duration::from_secs_f64(secs.max(0.001));
                        loop {
                            tokio::time::sleep(period).await;
                            if tx
                                .send(Message::new("ping", Value::Map(vec![])))
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                    })
                });
                let consume = if shownode {
                    Consume::Nodes
                } else {
                    Consume::Count
                };
                let res = execute(shared, &text, consume, &mut count).await;
                if let Some(keep) = keep {
                    keep.abort();
                }
                res
            }
            Err(e) => Err(Flow::Err(e)),
        };
        let err = match result {
            Ok(()) | Err(Flow::Exit) => None,
            Err(Flow::Stop) => Some(
                StormError::new(
                    "StormRuntimeError",
                    "Generator control statement \"stop\" used outside of a generator function.",
                )
                .with("statement", "stop"),
            ),
            Err(Flow::Err(e)) => Some(e),
            Err(Flow::Return(valu)) => {
                let mesg = valu.to_str().unwrap_or_default();
                Some(StormError::new("StormReturn", mesg))
            }
            Err(Flow::Break(_)) => Some(
                StormError::new(
                    "StormRuntimeError",
                    "Loop control statement \"break\" used outside of a loop.",
                )
                .with("statement", "break"),
            ),
            Err(Flow::Continue(_)) => Some(
                StormError::new(
                    "StormRuntimeError",
                    "Loop control statement \"continue\" used outside of a loop.",
                )
                .with("statement", "continue"),
            ),
        };
        if let Some(err) = err {
            let _ = tx.send(Message::new("err", err.to_value())).await;
        }
        let abstock = mono_ms();
        let took = abstock - abstick;
        let fini = Value::Map(vec![
            (Value::from("tock"), Value::from(tick + took)),
            (Value::from("abstock"), Value::from(abstock)),
            (Value::from("took"), Value::from(took)),
            (Value::from("count"), Value::from(count)),
        ]);
        let _ = tx.send(Message::new("fini", fini)).await;
    };
    let guard = match admin::spawn_query(&taskcore, &taskuser, &tasktext, viewiden, explicit, body)
    {
        Ok(guard) => guard,
        // the reference refuses a bad `task` opt before the stream starts
        Err(err) => {
            return futures::stream::iter(vec![Message::new("err", err.to_value())]).boxed();
        }
    };
    async_stream::stream! {
        let _guard = guard;
        while let Some(mesg) = rx.recv().await {
            let fini = mesg.kind == "fini";
            yield mesg;
            if fini {
                break;
            }
        }
    }
    .boxed()
}

fn mono_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    start.elapsed().as_millis() as i64 + 1000
}

fn control_error(flow: Flow) -> StormError {
    match flow {
        Flow::Err(e) => e,
        Flow::Break(_) => StormError::new(
            "StormRuntimeError",
            "Loop control statement \"break\" used outside of a loop.",
        )
        .with("statement", "break"),
        Flow::Continue(_) => StormError::new(
            "StormRuntimeError",
            "Loop control statement \"continue\" used outside of a loop.",
        )
        .with("statement", "continue"),
        Flow::Stop => StormError::new(
            "StormRuntimeError",
            "Generator control statement \"stop\" used outside of a generator function.",
        )
        .with("statement", "stop"),
        Flow::Exit => StormError::new("StormExit", ""),
        Flow::Return(_) => StormError::new("StormRuntimeError", "unexpected control flow"),
    }
}

/// `exportStorm()`: the podes of the query's nodes (collected first), each with the `edges`
/// between exported nodes.
pub fn export_storm(
    core: Arc<StormCore>,
    user: StormUser,
    text: String,
    opts: StormOpts,
) -> BoxStream<'static, Result<Value, StormError>> {
    async_stream::stream! {
        let view = match resolve_view(&core, &user, &opts) {
            Ok(view) => view,
            Err(e) => {
                yield Err(e);
                return;
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(1000);
        let shared = new_shared(&core, &user, &opts, view.clone(), Some(tx));
        let mut podes: indexmap::IndexMap<crate::nodeedit::Buid, Value> = indexmap::IndexMap::new();
        let text2 = text.clone();
        let run = tokio::spawn(async move {
            let mut count = 0;
            execute(shared, &text2, Consume::Nodes, &mut count).await
        });
        while let Some(mesg) = rx.recv().await {
            if mesg.kind != "node" {
                continue;
            }
            let iden = match &mesg.info {
                Value::Array(parts) => parts
                    .get(1)
                    .and_then(|info| crate::layer::map_get(info, "iden"))
                    .and_then(Value::as_str)
                    .and_then(|s| hex::decode(s).ok())
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()),
                _ => None,
            };
            if let Some(buid) = iden {
                podes.insert(buid, mesg.info);
            }
        }
        match run.await {
            Ok(Ok(())) | Ok(Err(Flow::Exit)) => {}
            Ok(Err(flow)) => {
                yield Err(control_error(flow));
                return;
            }
            Err(_) => {
                yield Err(StormError::new("SynErr", "export task failed"));
                return;
            }
        }
        let buids: Vec<crate::nodeedit::Buid> = podes.keys().copied().collect();
        for buid in buids {
            let mut edges = Vec::new();
            let mut stream = view.edges_n1(buid, None);
            while let Some(edge) = stream.next().await {
                let Ok((verb, n2)) = edge else { break };
                if podes.contains_key(&n2) {
                    edges.push(Value::Array(vec![Value::from(verb), Value::from(hex::encode(n2))]));
                }
            }
            let Some(mut pode) = podes.get(&buid).cloned() else { continue };
            if !edges.is_empty()
                && let Value::Array(parts) = &mut pode
                && let Some(Value::Map(info)) = parts.get_mut(1)
            {
                info.push((Value::from("edges"), Value::Array(edges)));
            }
            yield Ok(pode);
        }
    }
    .boxed()
}

/// `callStorm()`: the value of the query's `return()` as msgpack data (`Nil` without one).
pub async fn call_storm(
    core: Arc<StormCore>,
    user: StormUser,
    text: &str,
    opts: StormOpts,
) -> Result<Value, StormError> {
    let view = resolve_view(&core, &user, &opts)?;
    let shared = new_shared(&core, &user, &opts, view, None);
    let mut count = 0;
    match execute(shared, text, Consume::Discard, &mut count).await {
        Ok(()) => Ok(Value::Nil),
        Err(Flow::Return(valu)) => valu.to_msgpack().map_err(control_error),
        Err(flow) => Err(control_error(flow)),
    }
}

/// `count()`: the number of nodes the query yields.
pub async fn count(
    core: Arc<StormCore>,
    user: StormUser,
    text: &str,
    opts: StormOpts,
) -> Result<u64, StormError> {
    let view = resolve_view(&core, &user, &opts)?;
    if let Some(n) = exec::fast_count(&view, text, &opts).await {
        return Ok(n);
    }
    let shared = new_shared(&core, &user, &opts, view, None);
    let mut count = 0;
    match execute(shared, text, Consume::Count, &mut count).await {
        Ok(()) => Ok(count),
        Err(Flow::Return(valu)) => Err(StormError::new(
            "StormReturn",
            valu.to_str().unwrap_or_default(),
        )),
        Err(flow) => Err(control_error(flow)),
    }
}
