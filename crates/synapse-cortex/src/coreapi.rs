//! The Cortex as a cell service: `CoreApi`, the telepath API every Cortex connection gets
//! (the reference's method names, arguments, result shapes, errors and permissions; every
//! `CellApi` method stays available), and the Cortex's HTTP routes ([`http`]).
//!
//! Methods (beyond the CellApi): `getModelDict`, `getModelDefs`, `getFormsByPrefix`,
//! `getPropNorm`, `getTypeNorm`, `getCoreInfo`, `getCoreInfoV2`, `getCoreMods`, `addNode`,
//! `addNodes` (generator), `getFeedFuncs`, `addFeedData`, `feedFromAxon`,
//! `saveLayerNodeEdits`, `syncLayerNodeEdits` (generator), the raw row and sync generators
//! (`iterFormRows`, `iterPropRows`, `iterUnivRows`, `iterTagRows`, `iterTagPropRows`,
//! `syncLayersEvents`, `syncIndexEvents`, in `coreapi/rows.rs`), `addTagProp`, `delTagProp`,
//! `addForm`, `delForm`, `addFormProp`, `delFormProp`, `addUnivProp`, `delUnivProp`, `addEdge`, `addType`,
//! `getStormVar`, `setStormVar`, `popStormVar`, `getAxonUpload` (share), `getAxonBytes`
//! (generator), `getViewDef`, the Storm dmon methods (`addStormDmon`, `getStormDmons`, ..., in `coreapi/dmon.rs`), and
//! with a Storm runtime installed `storm`, `callStorm`,
//! `count`, `exportStorm` (generators where the reference has them), `reqValidStorm`,
//! `isValidStorm`; the admin-only user notification methods `addUserNotif`, `getUserNotif`,
//! `delUserNotif`, `iterUserNotifs`, `watchAllUserNotifs` (`cortex/notif.rs`). `getCellInfo`
//! adds `cell.axon:ready`.

mod dmon;
pub mod http;
mod layerapi;
mod pkg;
mod rows;

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use rmpv::Value;
use synapse_cell::{
    ArgDefault as D, Args, Cell, Error, MethDef, Reply, Result, Service, ServiceDef, Session, User,
    map,
};

use crate::cortex::{
    AXON_READY_TIMEOUT, Cortex, StormCall, model_error, norm_info_value, view_error,
};
use crate::node::PackOpts;
use crate::nodeedit::{EditMeta, NodeEdit};
use crate::view::AllowAll;

/// The telepath methods the Cortex adds to the cell API.
pub const CORE_API_METHODS: &[MethDef] = &[
    MethDef::call("addEdge"),
    MethDef::call("addFeedData"),
    MethDef::call("addForm"),
    MethDef::call("addFormProp"),
    MethDef::call("addStormPkg"),
    MethDef::call("addNode"),
    MethDef::genr("addNodes"),
    MethDef::call("addTagProp"),
    MethDef::call("addType"),
    MethDef::call("addUnivProp"),
    MethDef::call("delForm"),
    MethDef::call("delFormProp"),
    MethDef::call("delStormPkg"),
    MethDef::call("delTagProp"),
    MethDef::call("delUnivProp"),
    MethDef::call("feedFromAxon"),
    MethDef::call("getAxonUpload"),
    MethDef::genr("getAxonBytes"),
    MethDef::call("getCoreInfo"),
    MethDef::call("getCoreInfoV2"),
    MethDef::call("getCoreMods"),
    MethDef::call("getFeedFuncs"),
    MethDef::call("getFormsByPrefix"),
    MethDef::call("getModelDefs"),
    MethDef::call("getModelDict"),
    MethDef::call("getPropNorm"),
    MethDef::call("getStormPkg"),
    MethDef::call("getStormPkgs"),
    MethDef::call("getStormVar"),
    MethDef::call("getTypeNorm"),
    MethDef::call("getViewDef"),
    MethDef::call("popStormVar"),
    MethDef::call("saveLayerNodeEdits"),
    MethDef::call("setStormVar"),
    MethDef::genr("syncLayerNodeEdits"),
];

/// The Storm methods, offered when a Storm runtime is installed.
pub const STORM_API_METHODS: &[MethDef] = &[
    MethDef::call("callStorm"),
    MethDef::call("count"),
    MethDef::genr("exportStorm"),
    MethDef::call("isValidStorm"),
    MethDef::call("reqValidStorm"),
    MethDef::genr("storm"),
];

const STORM_METHS: [&str; 6] = [
    "callStorm",
    "count",
    "exportStorm",
    "isValidStorm",
    "reqValidStorm",
    "storm",
];

/// A generator reply whose setup may fail: the error comes as its first item, as a Python
/// generator raises on its first iteration.
fn genr<F>(setup: F) -> Reply
where
    F: Future<Output = Result<BoxStream<'static, Result<Value>>>> + Send + 'static,
{
    Reply::Genr(
        stream::once(setup)
            .map(|res| match res {
                Ok(items) => items,
                Err(err) => stream::once(async move { Err(err) }).boxed(),
            })
            .flatten()
            .boxed(),
    )
}

fn perm(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

fn text_arg(valu: &Value, name: &str) -> Result<String> {
    valu.as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::bad_arg(format!("{name} must be a string")).with("name", name))
}

impl Service for Cortex {
    fn def() -> ServiceDef {
        let mut def = ServiceDef::new("cortex");
        def.confdefs = crate::cortex::confdefs();
        def.api_classes = vec!["synapse.cortex.CoreApi".to_string()];
        def
    }

    async fn init(cell: &Cell) -> Result<Self> {
        Cortex::open(cell).await
    }

    fn start(self: &Arc<Self>) {
        Cortex::start(self);
    }

    fn methods(&self) -> Vec<MethDef> {
        let mut meths = CORE_API_METHODS.to_vec();
        meths.extend_from_slice(dmon::METHODS);
        meths.extend_from_slice(rows::METHODS);
        meths.extend_from_slice(crate::cortex::NOTIF_API_METHODS);
        if self.storm_runtime().is_some() {
            meths.extend_from_slice(STORM_API_METHODS);
        }
        meths
    }

    fn call<'a>(
        self: &'a Arc<Self>,
        sess: &'a Session,
        meth: &'a str,
        args: Args,
    ) -> Option<BoxFuture<'a, Result<Reply>>> {
        if STORM_METHS.contains(&meth) && self.storm_runtime().is_none() {
            return None;
        }
        if crate::cortex::NOTIF_API_METHODS
            .iter()
            .any(|m| m.name == meth)
        {
            return crate::cortex::notif_api(self, sess, meth, args);
        }
        let core = Arc::clone(self);
        let fut: BoxFuture<'a, Result<Reply>> = match meth {
            "getCellInfo" => Box::pin(core.api_cell_info(sess, args)),
            "getModelDict" => Box::pin(async move {
                args.bind("getModelDict", &[])?;
                Ok(Reply::Value((*core.model_dict()).clone()))
            }),
            "getModelDefs" => Box::pin(async move {
                args.bind("getModelDefs", &[])?;
                Ok(Reply::Value(core.model_defs()?))
            }),
            "getFormsByPrefix" => Box::pin(core.api_forms_by_prefix(args)),
            "getPropNorm" => Box::pin(core.api_norm(args, true)),
            "getTypeNorm" => Box::pin(core.api_norm(args, false)),
            "getCoreInfo" => Box::pin(core.api_core_info(args)),
            "getCoreInfoV2" => Box::pin(core.api_core_info_v2(args)),
            "getCoreMods" => Box::pin(async move {
                args.bind("getCoreMods", &[])?;
                sess.req_admin()?;
                Ok(Reply::Value(crate::cortex::info_core_mods()))
            }),
            "getFeedFuncs" => Box::pin(async move {
                args.bind("getFeedFuncs", &[])?;
                Ok(Reply::Value(crate::cortex::info_feed_funcs()))
            }),
            "addNode" => Box::pin(core.api_add_node(sess, args)),
            "addNodes" => Box::pin(core.api_add_nodes(sess, args)),
            "addFeedData" => Box::pin(core.api_add_feed_data(sess, args)),
            "feedFromAxon" => Box::pin(core.api_feed_from_axon(sess, args)),
            "saveLayerNodeEdits" => Box::pin(core.api_save_layer_edits(sess, args)),
            "syncLayerNodeEdits" => Box::pin(core.api_sync_layer_edits(sess, args)),
            "addTagProp" => Box::pin(core.api_add_tagprop(sess, args)),
            "delTagProp" => Box::pin(core.api_del_tagprop(sess, args)),
            "addForm" | "delForm" | "addFormProp" | "delFormProp" | "addUnivProp"
            | "delUnivProp" | "addEdge" | "addType" => {
                Box::pin(core.api_ext_model(sess, meth, args))
            }
            "addStormPkg" => Box::pin(core.api_add_storm_pkg(sess, args)),
            "delStormPkg" => Box::pin(core.api_del_storm_pkg(sess, args)),
            "getStormPkg" => Box::pin(core.api_get_storm_pkg(sess, args)),
            "getStormPkgs" => Box::pin(core.api_get_storm_pkgs(sess, args)),
            "getStormVar" => Box::pin(core.api_storm_var(sess, args, "get")),
            "popStormVar" => Box::pin(core.api_storm_var(sess, args, "pop")),
            "setStormVar" => Box::pin(core.api_storm_var(sess, args, "set")),
            "getAxonUpload" => Box::pin(core.api_axon_upload(sess, args)),
            "getAxonBytes" => Box::pin(core.api_axon_bytes(sess, args)),
            "getViewDef" => Box::pin(core.api_view_def(sess, args)),
            m if dmon::is_dmon_meth(m) => Box::pin(dmon::call(core, sess, m, args)),
            m if rows::is_rows_meth(m) => Box::pin(rows::call(core, sess, m, args)),
            "storm" => Box::pin(core.api_storm(sess, args)),
            "callStorm" => Box::pin(core.api_call_storm(sess, args)),
            "count" => Box::pin(core.api_count(sess, args)),
            "exportStorm" => Box::pin(core.api_export_storm(sess, args)),
            "reqValidStorm" => Box::pin(core.api_valid_storm(args, true)),
            "isValidStorm" => Box::pin(core.api_valid_storm(args, false)),
            _ => return None,
        };
        Some(fut)
    }

    fn open_path<'a>(
        self: &'a Arc<Self>,
        sess: Arc<Session>,
        cellapi: Arc<dyn synapse_telepath::Share>,
        path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn synapse_telepath::Share>>> {
        Box::pin(async move { self.open_path_api(sess, cellapi, path) })
    }

    fn routes(self: &Arc<Self>) -> Vec<synapse_cell::Route> {
        let mut routes = http::routes(self);
        if let Some(runtime) = self.storm_runtime() {
            routes.extend(runtime.routes(self));
        }
        routes
    }

    async fn fini(&self) {
        Cortex::fini(self).await;
    }

    fn perm_defs(&self) -> Vec<Value> {
        Cortex::perm_defs(self)
    }
}

impl Cortex {
    /// The storm opts of a call as the reference's `CoreApi._reqValidStormOpts`: a map with
    /// `user` defaulting to the caller; another user needs `impersonate`.
    pub(crate) fn storm_opts(&self, caller: &User, opts: Value) -> Result<(Value, User)> {
        let mut items = match opts {
            Value::Nil => Vec::new(),
            Value::Map(items) => items,
            _ => return Err(Error::bad_arg("Storm opts must be a dictionary.")),
        };
        let user = match items.iter().find(|(k, _)| k.as_str() == Some("user")) {
            Some((_, Value::String(iden))) if iden.as_str() != Some(caller.iden.as_str()) => {
                self.confirm(caller, &["impersonate"], None)?;
                self.user_from_opts(&Value::Map(items.clone()))?
            }
            Some((_, Value::String(_))) => caller.clone(),
            Some((_, Value::Nil)) | None => {
                items.retain(|(k, _)| k.as_str() != Some("user"));
                items.push((Value::from("user"), Value::from(caller.iden.as_str())));
                caller.clone()
            }
            Some(_) => {
                self.confirm(caller, &["impersonate"], None)?;
                return Err(Error::bad_arg("Storm opts user must be a user iden"));
            }
        };
        Ok((Value::Map(items), user))
    }

    fn storm_call(&self, sess: &Session, text: &Value, opts: Value) -> Result<StormCall> {
        let text = text
            .as_str()
            .ok_or_else(|| Error::bad_arg("Storm query text must be a string"))?
            .to_owned();
        let (opts, user) = self.storm_opts(&sess.user()?, opts)?;
        Ok(StormCall { text, opts, user })
    }

    async fn api_cell_info(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        args.bind("getCellInfo", &[])?;
        let mut info = sess.cell().cell_info().await;
        if let Value::Map(items) = &mut info
            && let Some((_, Value::Map(cell))) =
                items.iter_mut().find(|(k, _)| k.as_str() == Some("cell"))
        {
            cell.retain(|(k, _)| k.as_str() != Some("axon:ready"));
            cell.push((Value::from("axon:ready"), Value::from(self.axon_ready())));
        }
        Ok(Reply::Value(info))
    }

    async fn api_forms_by_prefix(self: Arc<Self>, args: Args) -> Result<Reply> {
        let bound = args.bind("getFormsByPrefix", &[("prefix", D::Required)])?;
        let prefix = text_arg(bound.value(0), "prefix")?;
        let mut names: Vec<&str> = self
            .model()
            .forms()
            .map(|form| form.name())
            .filter(|name| name.starts_with(&prefix))
            .collect();
        names.sort_unstable();
        Ok(Reply::Value(Value::Array(
            names.into_iter().map(Value::from).collect(),
        )))
    }

    async fn api_norm(self: Arc<Self>, args: Args, prop: bool) -> Result<Reply> {
        let meth = if prop { "getPropNorm" } else { "getTypeNorm" };
        let first = if prop { "prop" } else { "name" };
        let bound = args.bind(
            meth,
            &[
                (first, D::Required),
                ("valu", D::Required),
                ("typeopts", D::Nil),
            ],
        )?;
        let name = text_arg(bound.value(0), first)?;
        let (norm, info) = self.norm_value(prop, &name, bound.value(1), bound.value(2))?;
        Ok(Reply::Value(Value::Array(vec![norm, info])))
    }

    /// `getPropNorm` (`prop`) or `getTypeNorm`: `(norm, info)` of `valu` by the type of the
    /// property (or form) or type `name`, cloned with `typeopts` if given.
    pub fn norm_value(
        &self,
        prop: bool,
        name: &str,
        valu: &Value,
        typeopts: &Value,
    ) -> Result<(Value, Value)> {
        let model = self.model();
        let base = if prop {
            model
                .prop(name)
                .map(|p| p.ty())
                .or_else(|| model.form(name).map(|f| f.ty()))
                .ok_or_else(|| {
                    Error::named("NoSuchProp", format!("The property {name} does not exist."))
                        .with("prop", name)
                })?
        } else {
            model.ty(name).ok_or_else(|| {
                Error::named("NoSuchType", format!("The type {name} does not exist."))
                    .with("name", name)
            })?
        };
        let ty = match typeopts {
            Value::Map(items) if !items.is_empty() => {
                let opts = match synapse_cell::to_json(typeopts) {
                    serde_json::Value::Object(opts) => opts,
                    _ => serde_json::Map::new(),
                };
                model
                    .ty_with_opts(base.name(), &opts)
                    .map_err(model_error)?
            }
            _ => base,
        };
        let (norm, info) = ty.norm(valu).map_err(model_error)?;
        Ok((norm, norm_info_value(&ty, &info)))
    }

    fn version_value() -> Value {
        Value::Array(
            synapse_cell::SYNAPSE_VERSION
                .iter()
                .map(|v| Value::from(*v))
                .collect(),
        )
    }

    async fn api_core_info(self: Arc<Self>, args: Args) -> Result<Reply> {
        args.bind("getCoreInfo", &[])?;
        let cmds = self
            .storm_runtime()
            .map(|rt| rt.storm_cmds())
            .unwrap_or_default()
            .into_iter()
            .chain(self.storm_pkg_cmds().iter().filter_map(|c| {
                synapse_cell::map_get(c, "name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }))
            .map(|name| (Value::from(name), Value::Map(Vec::new())))
            .collect();
        Ok(Reply::Value(map([
            ("version", Self::version_value()),
            ("modeldef", self.model_defs()?),
            ("stormcmds", Value::Map(cmds)),
        ])))
    }

    /// `getCoreInfoV2()`: `{"version", "modeldict", "stormdocs"}`.
    pub fn core_info_v2(&self) -> Value {
        let mut docs = self
            .storm_runtime()
            .map(|rt| rt.storm_docs())
            .unwrap_or_else(|| {
                map([
                    ("libraries", Value::Array(Vec::new())),
                    ("types", Value::Array(Vec::new())),
                    ("commands", Value::Array(Vec::new())),
                ])
            });
        self.add_pkg_cmd_docs(&mut docs);
        map([
            ("version", Self::version_value()),
            ("modeldict", (*self.model_dict()).clone()),
            ("stormdocs", docs),
        ])
    }

    async fn api_core_info_v2(self: Arc<Self>, args: Args) -> Result<Reply> {
        args.bind("getCoreInfoV2", &[])?;
        Ok(Reply::Value(self.core_info_v2()))
    }

    async fn api_add_node(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind(
            "addNode",
            &[
                ("form", D::Required),
                ("valu", D::Required),
                ("props", D::Nil),
            ],
        )?;
        let form = text_arg(bound.value(0), "form")?;
        let user = sess.user()?;
        let view = self.default_view();
        self.confirm(
            &user,
            &["node", "add", &form],
            Some(&view.write_layer().iden()),
        )?;
        let props: Vec<(String, Value)> = match bound.value(2) {
            Value::Map(items) => items
                .iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), v.clone())))
                .collect(),
            _ => Vec::new(),
        };
        let mut editor = view.editor(EditMeta::now(user.iden.as_str()), AllowAll::arc());
        let buid = editor
            .add_node_props(&form, bound.value(1), &props)
            .await
            .map_err(view_error)?;
        editor.apply().await.map_err(view_error)?;
        let Some(buid) = buid else {
            return Ok(Reply::Value(Value::Nil));
        };
        let node = view.get_node(buid).await.map_err(view_error)?;
        Ok(Reply::Value(node.map_or(Value::Nil, |node| {
            node.pack(self.model(), PackOpts::default())
        })))
    }

    async fn api_add_nodes(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let mut bound = args.bind("addNodes", &[("nodes", D::Required)])?;
        let user = sess.user();
        let nodes = bound.take(0);
        Ok(genr(async move {
            let user = user?;
            let defs = match nodes {
                Value::Array(items) => items,
                Value::Nil => Vec::new(),
                _ => {
                    return Err(Error::bad_arg(
                        "addNodes requires a list of node definitions",
                    ));
                }
            };
            let view = self.default_view();
            let layer = view.write_layer().iden();
            let mut done: Vec<&str> = Vec::new();
            for def in &defs {
                let form = def
                    .as_array()
                    .and_then(|parts| parts.first())
                    .and_then(Value::as_array)
                    .and_then(|ndef| ndef.first())
                    .and_then(Value::as_str);
                if let Some(form) = form
                    && !done.contains(&form)
                {
                    self.confirm(&user, &["node", "add", form], Some(&layer))?;
                    done.push(form);
                }
            }
            Ok(self.add_nodes(defs, view, &user))
        }))
    }

    async fn api_add_feed_data(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let mut bound = args.bind(
            "addFeedData",
            &[
                ("name", D::Required),
                ("items", D::Required),
                ("viewiden", D::Nil),
            ],
        )?;
        let name = text_arg(bound.value(0), "name")?;
        let viewiden = match bound.value(2) {
            Value::Nil => None,
            Value::String(iden) => Some(iden.as_str().unwrap_or_default().to_owned()),
            // no view has such an iden (the reference looks it up as is)
            other => {
                let iden = other.to_string();
                return Err(
                    Error::named("NoSuchView", format!("No such view iden={iden}"))
                        .with("iden", other.clone()),
                );
            }
        };
        let items = match bound.take(1) {
            Value::Array(items) => items,
            _ => return Err(Error::bad_arg("feed items must be a list")),
        };
        let user = sess.user()?;
        self.add_feed_data(&user, &name, items, viewiden.as_deref())
            .await?;
        Ok(Reply::Value(Value::Nil))
    }

    /// `addFeedData` (telepath and HTTP): `feed:data.<name parts>` on the view's write layer.
    pub(crate) async fn add_feed_data(
        &self,
        user: &User,
        name: &str,
        items: Vec<Value>,
        viewiden: Option<&str>,
    ) -> Result<()> {
        let view = self.view_for(viewiden, Some(user))?;
        let layer = view.write_layer().iden();
        let mut parts = vec!["feed:data"];
        parts.extend(name.split('.'));
        self.confirm(user, &parts, Some(&layer))?;
        if name != "syn.nodes" {
            return Err(
                Error::named("NoSuchName", format!("No feed function named {name}"))
                    .with("name", name),
            );
        }
        tracing::info!(
            user = %user.name,
            "User ({}) adding feed data ({name}): {}",
            user.name,
            items.len()
        );
        crate::cortex::feed_nodes(&view, &user.iden, &items).await
    }

    async fn api_feed_from_axon(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("feedFromAxon", &[("sha256", D::Required), ("opts", D::Nil)])?;
        let sha256 = text_arg(bound.value(0), "sha256")?;
        let (opts, user) = self.storm_opts(&sess.user()?, bound.value(1).clone())?;
        let view = self.view_from_opts(&opts, &user)?;
        self.confirm(&user, &["node"], Some(&view.write_layer().iden()))?;
        let count = self.feed_from_axon(&sha256, &view, &user).await?;
        Ok(Reply::Value(Value::from(count)))
    }

    /// Add the packed nodes of a msgpack `.nodes` file in the Axon (`feedFromAxon`); the
    /// number of items read.
    pub async fn feed_from_axon(
        &self,
        sha256: &str,
        view: &crate::view::View,
        user: &User,
    ) -> Result<i64> {
        let axon = self.axon(Some(AXON_READY_TIMEOUT)).await?;
        let reply = axon
            .call("iterMpkFile", Args::positional(vec![Value::from(sha256)]))
            .await?;
        let Reply::Genr(mut items) = reply else {
            return Err(Error::bad_arg("the Axon's iterMpkFile is not a generator"));
        };
        let mut count = 0i64;
        let mut batch = Vec::with_capacity(crate::cortex::FEED_BATCH);
        while let Some(item) = items.try_next().await? {
            batch.push(item);
            count += 1;
            if batch.len() >= crate::cortex::FEED_BATCH {
                crate::cortex::feed_nodes(view, &user.iden, &std::mem::take(&mut batch)).await?;
            }
        }
        crate::cortex::feed_nodes(view, &user.iden, &batch).await?;
        Ok(count)
    }

    async fn api_save_layer_edits(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind(
            "saveLayerNodeEdits",
            &[
                ("layriden", D::Required),
                ("edits", D::Required),
                ("meta", D::Required),
            ],
        )?;
        let user = sess.req_admin()?;
        let iden = text_arg(bound.value(0), "layriden")?;
        let layer = self.views().layer(&iden).ok_or_else(|| {
            Error::named("NoSuchLayer", format!("No such layer {iden}")).with("iden", iden.as_str())
        })?;
        let edits = NodeEdit::list_from_value(bound.value(1))
            .map_err(|err| Error::bad_arg(err.mesg.clone()))?;
        let mut meta = EditMeta::from_value(bound.value(2));
        if meta.user.is_empty() {
            meta.user = user.iden.clone();
        }
        let applied = layer
            .apply(edits, meta)
            .await
            .map_err(|err| view_error(err.into()))?;
        // (nexsoffs, changes): the log offset (None without changes) and the applied edits.
        Ok(Reply::Value(Value::Array(vec![
            applied.offset.map_or(Value::Nil, Value::from),
            NodeEdit::list_to_value(&applied.edits, crate::nodeedit::BuidForm::Bytes),
        ])))
    }

    async fn api_sync_layer_edits(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind(
            "syncLayerNodeEdits",
            &[
                ("offs", D::Required),
                ("layriden", D::Nil),
                ("wait", D::Bool(true)),
            ],
        )?;
        let user = sess.user();
        let offs = bound.value(0).as_u64();
        let iden = bound.opt_str(1, "layriden");
        let wait = bound.truthy(2);
        Ok(genr(async move {
            let user = user?;
            let offs = offs.ok_or_else(|| Error::bad_arg("offs must be a non-negative int"))?;
            let layer = match iden? {
                Some(iden) => self.views().layer(&iden).ok_or_else(|| {
                    Error::named("NoSuchLayer", format!("No such layer {iden}"))
                        .with("iden", iden.as_str())
                })?,
                None => self.default_view().write_layer(),
            };
            self.confirm(&user, &["sync"], Some(&layer.iden()))?;
            Ok(layer
                .sync_edits(offs, wait)
                .map(|entry| {
                    entry
                        .map(|entry| entry.to_value(false))
                        .map_err(|err| view_error(err.into()))
                })
                .boxed())
        }))
    }

    async fn api_add_tagprop(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind(
            "addTagProp",
            &[
                ("name", D::Required),
                ("tdef", D::Required),
                ("info", D::Required),
            ],
        )?;
        sess.confirm(&perm(&["model", "tagprop", "add"]), None, None)?;
        let name = text_arg(bound.value(0), "name")?;
        self.add_tagprop(&name, bound.value(1), bound.value(2))
            .await?;
        Ok(Reply::Value(Value::Nil))
    }

    async fn api_del_tagprop(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("delTagProp", &[("name", D::Required)])?;
        sess.confirm(&perm(&["model", "tagprop", "del"]), None, None)?;
        let name = text_arg(bound.value(0), "name")?;
        self.del_tagprop(&name).await?;
        Ok(Reply::Value(Value::Nil))
    }

    /// The extended model methods, with the reference's arguments and permission checks
    /// (`model.form.add.<form>`, `model.prop.add.<form>`, `model.univ.add`, ...).
    async fn api_ext_model(
        self: Arc<Self>,
        sess: &Session,
        meth: &str,
        args: Args,
    ) -> Result<Reply> {
        let names: &[&str] = match meth {
            "addForm" => &["formname", "basetype", "typeopts", "typeinfo"],
            "delForm" => &["formname"],
            "addFormProp" => &["form", "prop", "tdef", "info"],
            "delFormProp" => &["form", "name"],
            "addUnivProp" => &["name", "tdef", "info"],
            "addEdge" => &["edge", "edgeinfo"],
            "addType" => &["typename", "basetype", "typeopts", "typeinfo"],
            _ => &["name"],
        };
        let specs: Vec<(&str, D)> = names.iter().map(|name| (*name, D::Required)).collect();
        let bound = args.bind(meth, &specs)?;
        let text = |idx: usize| text_arg(bound.value(idx), names[idx]);
        let bad_name = |key: &str, name: &str| {
            Error::named("BadPropDef", format!("Invalid prop name {name}")).with(key, name)
        };
        match meth {
            "addForm" => {
                let form = text(0)?;
                sess.confirm(&perm(&["model", "form", "add", &form]), None, None)?;
                let base = text(1)?;
                self.add_form(&form, &base, bound.value(2), bound.value(3))
                    .await?;
            }
            "delForm" => {
                let form = text(0)?;
                sess.confirm(&perm(&["model", "form", "del", &form]), None, None)?;
                self.del_form(&form).await?;
            }
            "addFormProp" => {
                let form = text(0)?;
                sess.confirm(&perm(&["model", "prop", "add", &form]), None, None)?;
                let prop = text(1)?;
                if !crate::cortex::is_base_prop_name(&prop) {
                    return Err(bad_name("prop", &prop));
                }
                self.add_form_prop(&form, &prop, bound.value(2), bound.value(3))
                    .await?;
            }
            "delFormProp" => {
                let form = text(0)?;
                sess.confirm(&perm(&["model", "prop", "del", &form]), None, None)?;
                self.del_form_prop(&form, &text(1)?).await?;
            }
            "addUnivProp" => {
                sess.confirm(&perm(&["model", "univ", "add"]), None, None)?;
                let name = text(0)?;
                if !crate::cortex::is_base_prop_name(&name) {
                    return Err(bad_name("name", &name));
                }
                self.add_univ_prop(&name, bound.value(1), bound.value(2))
                    .await?;
            }
            "addType" => {
                let name = text(0)?;
                sess.confirm(&perm(&["model", "type", "add", &name]), None, None)?;
                let base = text(1)?;
                self.add_type(&name, &base, bound.value(2), bound.value(3))
                    .await?;
            }
            "addEdge" => {
                sess.confirm(&perm(&["model", "edge", "add"]), None, None)?;
                self.add_edge(bound.value(0), bound.value(1)).await?;
            }
            _ => {
                sess.confirm(&perm(&["model", "univ", "del"]), None, None)?;
                self.del_univ_prop(&text(0)?).await?;
            }
        }
        Ok(Reply::Value(Value::Nil))
    }

    async fn api_storm_var(
        self: Arc<Self>,
        sess: &Session,
        args: Args,
        act: &str,
    ) -> Result<Reply> {
        let (meth, params): (&str, &[(&str, D)]) = match act {
            "get" => ("getStormVar", &[("name", D::Required), ("default", D::Nil)]),
            "pop" => ("popStormVar", &[("name", D::Required), ("default", D::Nil)]),
            _ => (
                "setStormVar",
                &[("name", D::Required), ("valu", D::Required)],
            ),
        };
        let mut bound = args.bind(meth, params)?;
        let name = text_arg(bound.value(0), "name")?;
        sess.confirm(&perm(&["globals", act, &name]), None, None)?;
        let other = bound.take(1);
        let valu = match act {
            "get" => self.get_storm_var(&name).await?.unwrap_or(other),
            "pop" => self.pop_storm_var(&name).await?.unwrap_or(other),
            _ => self.set_storm_var(&name, other).await?,
        };
        Ok(Reply::Value(valu))
    }

    async fn api_axon_upload(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        args.bind("getAxonUpload", &[])?;
        sess.confirm(&perm(&["axon", "upload"]), None, None)?;
        let axon = self.axon(Some(AXON_READY_TIMEOUT)).await?;
        match axon.call("upload", Args::default()).await? {
            Reply::Share(share) => Ok(Reply::Share(share)),
            _ => Err(Error::bad_arg("the Axon's upload did not return a share")),
        }
    }

    async fn api_axon_bytes(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("getAxonBytes", &[("sha256", D::Required)])?;
        let allowed = sess.confirm(&perm(&["axon", "get"]), None, None);
        let sha256 = bound.value(0).clone();
        Ok(genr(async move {
            allowed?;
            let text = text_arg(&sha256, "sha256")?;
            let raw = hex::decode(&text).map_err(|_| {
                Error::named("BadArg", "Non-hexadecimal digit found").with("sha256", text.as_str())
            })?;
            let axon = self.axon(Some(AXON_READY_TIMEOUT)).await?;
            match axon
                .call("get", Args::positional(vec![Value::Binary(raw)]))
                .await?
            {
                Reply::Genr(items) => Ok(items),
                Reply::Value(Value::Nil) => Ok(stream::empty().boxed()),
                _ => Err(Error::bad_arg("the Axon's get is not a generator")),
            }
        }))
    }

    async fn api_view_def(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("getViewDef", &[("iden", D::Required)])?;
        let iden = text_arg(bound.value(0), "iden")?;
        let user = sess.user()?;
        if self.views().view(&iden).is_none() && iden != self.cell().iden() {
            return Ok(Reply::Value(Value::Nil));
        }
        let view = self.view_for(Some(&iden), Some(&user))?;
        Ok(Reply::Value(view.pack()))
    }

    // ----- storm -----

    async fn api_storm(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("storm", &[("text", D::Required), ("opts", D::Nil)])?;
        let call = self.storm_call(sess, bound.value(0), bound.value(1).clone());
        Ok(genr(async move {
            let call = call?;
            Ok(self.storm(call)?.map(Ok).boxed())
        }))
    }

    async fn api_call_storm(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("callStorm", &[("text", D::Required), ("opts", D::Nil)])?;
        let call = self.storm_call(sess, bound.value(0), bound.value(1).clone())?;
        let runtime = self.req_storm()?;
        Ok(Reply::Value(
            runtime.call_storm(Arc::clone(&self), call).await?,
        ))
    }

    async fn api_count(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("count", &[("text", D::Required), ("opts", D::Nil)])?;
        let call = self.storm_call(sess, bound.value(0), bound.value(1).clone())?;
        let runtime = self.req_storm()?;
        Ok(Reply::Value(Value::from(
            runtime.count(Arc::clone(&self), call).await?,
        )))
    }

    async fn api_export_storm(self: Arc<Self>, sess: &Session, args: Args) -> Result<Reply> {
        let bound = args.bind("exportStorm", &[("text", D::Required), ("opts", D::Nil)])?;
        let call = self.storm_call(sess, bound.value(0), bound.value(1).clone());
        Ok(genr(async move {
            let call = call?;
            let runtime = self.req_storm()?;
            Ok(runtime.export_storm(Arc::clone(&self), call))
        }))
    }

    async fn api_valid_storm(self: Arc<Self>, args: Args, raise: bool) -> Result<Reply> {
        let meth = if raise {
            "reqValidStorm"
        } else {
            "isValidStorm"
        };
        let bound = args.bind(meth, &[("text", D::Required), ("opts", D::Nil)])?;
        let text = text_arg(bound.value(0), "text")?;
        let runtime = self.req_storm()?;
        match runtime.req_valid_storm(&text, bound.value(1)) {
            Ok(()) if raise => Ok(Reply::Value(Value::Boolean(true))),
            Ok(()) => Ok(Reply::Value(Value::Array(vec![
                Value::Boolean(true),
                Value::Map(Vec::new()),
            ]))),
            Err(err) if raise => Err(err),
            Err(err) => {
                let (name, info) = err.to_remote();
                Ok(Reply::Value(Value::Array(vec![
                    Value::Boolean(false),
                    Value::Array(vec![Value::from(name), info]),
                ])))
            }
        }
    }
}
