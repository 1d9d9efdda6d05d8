//! The Cortex: the service object owning the data model, the layers and views, the tag
//! property registry, the Storm globals and the link to the Axon, with the permission checks
//! of the cell's auth.
//!
//! The Cortex runs as a cell service (`ServiceCell<Cortex>`, cell type `cortex`): its telepath
//! API (`CoreApi`) and HTTP routes are in [`crate::coreapi`]. This module is the object every
//! part of the service works through.
//!
//! # For the Storm runtime
//!
//! Storm runs against an `Arc<Cortex>`:
//!
//! * [`Cortex::model`] (types, forms, norms) and [`Cortex::views`] (layers and views; a
//!   [`crate::view::View`] lifts nodes and makes editors);
//! * who runs the query: [`Cortex::user_from_opts`] (the `user` opt, set by the API to the
//!   caller), [`Cortex::view_from_opts`] (the `view` opt, the user's profile `cortex:view` or
//!   the default view, with the `view.read` check);
//! * permissions: [`Cortex::confirm`] / [`Cortex::allowed`] (the cell's users, roles and
//!   gates; AuthDeny messages as the reference), and [`Cortex::edit_perms`], the
//!   [`crate::view::EditPerms`] hook that checks every edit against the write layer's gate with
//!   the permission names of the reference (`node.add.<form>`, `node.prop.set.<form>.<prop>`
//!   with the legacy `node.prop.set.<form:prop>` precedence rules, `node.tag.add.<tag>`,
//!   ...). Pass [`crate::view::AllowAll`] for `sudo` and admin-free internal edits;
//! * the extended model: forms, form props, universal props, types and edges added at
//!   runtime ([`Cortex::add_form`], [`Cortex::add_form_prop`], [`Cortex::add_univ_prop`],
//!   [`Cortex::add_type`], [`Cortex::add_edge`] and their `del_*`, [`Cortex::get_ext_model`],
//!   [`Cortex::add_ext_model`]): persisted in `cortex.lmdb`, loaded before the layers open,
//!   kept by the model as an overlay on the shared declarations;
//! * Storm globals ([`Cortex::get_storm_var`], [`Cortex::set_storm_var`],
//!   [`Cortex::pop_storm_var`]), tag properties ([`Cortex::add_tagprop`]), views
//!   ([`Cortex::fork_view`], [`Cortex::del_view`]), the Axon ([`Cortex::axon`]);
//! * automation: triggers per view ([`Cortex::add_trigger`], [`Cortex::list_triggers`],
//!   [`Cortex::set_trigger_info`], [`Cortex::del_trigger`]; they fire from the views' edit
//!   hook, async ones through a persisted queue) and cron jobs ([`Cortex::add_cron_job`],
//!   [`Cortex::list_cron_jobs`], [`Cortex::update_cron_job`], ...; run by a scheduler task).
//!   Storm dmons ([`Cortex::add_storm_dmon`], [`Cortex::get_storm_dmons`],
//!   [`Cortex::bump_storm_dmon`], ...; background queries restarted when they end).
//!   [`Cortex::start`] starts them once the Cortex is shared (the service's `start`);
//! * the runtime itself plugs in as a [`StormRuntime`]: the CoreApi methods `storm`,
//!   `callStorm`, `count`, `exportStorm`, `reqValidStorm`, `isValidStorm` and the storm HTTP
//!   routes call it. [`Cortex::set_storm_runtime`] installs one; the runtime of this crate
//!   is returned by `builtin_runtime()` in `src/cortex/storm.rs` (the one line the runtime
//!   changes). Until one is installed those methods are not offered.
//!
//! ```no_run
//! # async fn demo(core: std::sync::Arc<synapse_cortex::cortex::Cortex>) -> synapse_cell::Result<()> {
//! use rmpv::Value;
//! use synapse_cortex::nodeedit::EditMeta;
//!
//! let opts = Value::Map(vec![]);
//! let user = core.user_from_opts(&opts)?;               // root unless `user` is given
//! let view = core.view_from_opts(&opts, &user)?;        // checks view.read
//! let perms = core.edit_perms(&user, &view);            // node.add.<form>, ... on the write layer
//! let mut editor = view.editor(EditMeta::now(user.iden.as_str()), perms);
//! editor.add_node("inet:fqdn", &Value::from("vertex.link")).await.map_err(synapse_cortex::cortex::view_error)?;
//! editor.apply().await.map_err(synapse_cortex::cortex::view_error)?;
//! # Ok(()) }
//! ```

mod admin;
mod agenda;
mod autostore;
mod axon;
mod conf;
mod dmon;
mod error;
mod export;
mod extmodel;
mod feed;
mod info;
mod layersync;
mod mergereq;
mod notif;
mod perms;
mod pkg;
mod pkgqueue;
mod storage;
mod storm;
mod stormobjs;
mod tagmodel;
mod trigger;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::stream::BoxStream;
use rmpv::Value;
use synapse_cell::{Cell, ErrKind, Error, Result, Rule, User};

use crate::model::Model;
use crate::view::{EditPerms, View, Views};

pub use agenda::{CronDef, ReqSpec, Unit as CronUnit};
pub use axon::{AxonClient, TeleAxon};
pub use conf::confdefs;
pub use error::{model_error, view_error};
pub use notif::NOTIF_API_METHODS;
pub(crate) use notif::api_call as notif_api;
pub use perms::{AllowedReason, UserPerms, allowed_reason};
pub use storm::{DmonSink, StormCall, StormRuntime};
pub use trigger::{CONDITIONS as TRIGGER_CONDITIONS, TrigDef};

pub(crate) use agenda::cron_fields;
pub(crate) use trigger::{collect_trigger_edits, publish_trigger_edits, to_map as trigger_map};

pub(crate) use feed::{BATCH as FEED_BATCH, feed_nodes};
pub(crate) use info::{
    core_mods_value as info_core_mods, feed_funcs_value as info_feed_funcs, norm_info_value,
};

/// How long Axon users wait for the Axon by default (the reference's `AXON_READY_TIMEOUT`).
pub const AXON_READY_TIMEOUT: Duration = Duration::from_secs(300);

/// The Cortex service object. See the module docs.
pub struct Cortex {
    cell: Cell,
    model: Arc<Model>,
    views: Views,
    store: storage::CoreStore,
    objs: stormobjs::StormObjs,
    pkgs: pkg::Pkgs,
    notifs: notif::Notifs,
    mergereqs: mergereq::MergeStore,
    axon: axon::AxonSlot,
    storm: RwLock<Option<Arc<dyn StormRuntime>>>,
    modeldict: RwLock<Option<Arc<Value>>>,
    autostore: Arc<autostore::AutoStore>,
    triggers: trigger::Triggers,
    agenda: agenda::Agenda,
    dmons: dmon::Dmons,
    syncs: layersync::LayerSyncs,
}

impl std::fmt::Debug for Cortex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cortex")
            .field("iden", &self.cell.iden())
            .field("views", &self.views)
            .finish_non_exhaustive()
    }
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

impl Cortex {
    /// Open the Cortex storage of `cell`: the model with the runtime tag properties, the
    /// layers and views under the cell directory (the default layer and view on first boot,
    /// with their auth gates: the creator admin of both, the `all` role allowed `layer.read`
    /// and `view.read`), and the Axon link when the `axon` directive names a remote one.
    pub async fn open(cell: &Cell) -> Result<Cortex> {
        let dirn = cell.dirn().to_path_buf();
        // A model of its own: runtime tag properties must not leak into other Cortexes of
        // the process.
        let model = Arc::new(Model::new_default().map_err(model_error)?);
        let store = storage::CoreStore::open(&dirn).await?;
        for (name, tdef, info) in store.tagprops().await? {
            if let Err(err) = model.add_tagprop(&name, &tdef, &info) {
                tracing::warn!(name = %name, cause = %err, "could not load tag property");
            }
        }
        extmodel::load(&model, &store).await?;
        let root = cell.auth().root_iden();
        let views = Views::open_as(&dirn, Arc::clone(&model), &root)
            .await
            .map_err(view_error)?;
        let objs = stormobjs::StormObjs::open(store.slab()).await?;
        let pkgs = pkg::Pkgs::open(store.slab()).await?;
        let dmons = dmon::Dmons::open(store.slab()).await?;
        let notifs = notif::Notifs::open(store.slab()).await?;
        let mergereqs = mergereq::MergeStore::open(store.slab()).await?;
        let autostore = Arc::new(autostore::AutoStore::open(&dirn).await?);
        let triggers = trigger::Triggers::load(Arc::clone(&autostore)).await?;
        let agenda = agenda::Agenda::load(Arc::clone(&autostore)).await?;
        let core = Cortex {
            autostore,
            triggers,
            agenda,
            dmons,
            syncs: layersync::LayerSyncs::default(),
            cell: cell.clone(),
            model,
            views,
            store,
            objs,
            pkgs,
            notifs,
            mergereqs,
            axon: axon::AxonSlot::new(),
            storm: RwLock::new(storm::builtin_runtime()),
            modeldict: RwLock::new(None),
        };
        core.init_gates().await?;
        core.load_model_rules();
        core.load_pkgs().await?;
        if let Some(url) = cell.conf().get_str("axon") {
            let remote = TeleAxon::connect(url)?;
            core.axon.set_remote(remote);
        }
        Ok(core)
    }

    /// Make sure every layer and view has its auth gate; on the first boot give the creator
    /// admin on the default view and layer and let every user read them (as the reference's
    /// default view is "worldreadable").
    async fn init_gates(&self) -> Result<()> {
        let auth = self.cell.auth();
        for layer in self.views.layers() {
            auth.add_auth_gate(&layer.iden(), "layer").await?;
        }
        for view in self.views.views() {
            auth.add_auth_gate(&view.iden(), "view").await?;
        }
        if self.store.meta_flag("gates:init").await? {
            return Ok(());
        }
        let view = self.views.default_view();
        let layer = view.write_layer();
        let root = auth.root_iden();
        let all = auth.all_role_iden();
        auth.set_user_admin(&root, true, Some(&layer.iden()))
            .await?;
        auth.set_user_admin(&root, true, Some(&view.iden())).await?;
        auth.add_role_rule(
            &all,
            Rule::new(true, &["layer", "read"]),
            None,
            Some(&layer.iden()),
        )
        .await?;
        auth.add_role_rule(
            &all,
            Rule::new(true, &["view", "read"]),
            None,
            Some(&view.iden()),
        )
        .await?;
        self.store.set_meta_flag("gates:init").await
    }

    /// The cell this Cortex runs in (auth, Boss, configuration).
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// The data model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The layers and views.
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// The default view.
    pub fn default_view(&self) -> View {
        self.views.default_view()
    }

    // ----- users and permissions -----

    /// A user by iden (`NoSuchUser` otherwise).
    pub fn user(&self, iden: &str) -> Result<User> {
        self.cell.auth().req_user(iden)
    }

    /// The user a Storm query runs as: `opts.user` (set by the APIs to the caller, after the
    /// `impersonate` check), else root.
    pub fn user_from_opts(&self, opts: &Value) -> Result<User> {
        match synapse_cell::map_get(opts, "user") {
            Some(Value::String(iden)) => {
                let iden = iden.as_str().unwrap_or_default();
                self.cell.auth().user(iden).ok_or_else(|| {
                    Error::new(ErrKind::NoSuchUser, format!("No user with iden {iden}"))
                        .with("iden", iden)
                })
            }
            Some(Value::Nil) | None => self.user(&self.cell.auth().root_iden()),
            Some(_) => Err(Error::bad_arg("Storm opts user must be a user iden")),
        }
    }

    /// The view a Storm query runs in: `opts.view`, else the user's `cortex:view` profile
    /// value, else the default view; the user needs `view.read` on it.
    pub fn view_from_opts(&self, opts: &Value, user: &User) -> Result<View> {
        let iden = match synapse_cell::map_get(opts, "view") {
            Some(Value::String(iden)) => Some(iden.as_str().unwrap_or_default().to_owned()),
            Some(Value::Nil) | None => None,
            Some(other) => {
                return Err(Error::named(
                    "NoSuchView",
                    format!("No such view iden={other}"),
                ));
            }
        };
        self.view_for(iden.as_deref(), Some(user))
    }

    /// A view by iden (`None`: the user's profile view or the default view), checking
    /// `view.read` for `user` (the reference's `getView(iden, user)`); `NoSuchView` if absent.
    pub fn view_for(&self, iden: Option<&str>, user: Option<&User>) -> Result<View> {
        let mut iden = iden.map(str::to_owned);
        if iden.is_none()
            && let Some(user) = user
            && let Ok(profile) = self.cell.auth().user_profile(&user.iden)
            && let Some(Value::String(text)) = profile.get("cortex:view")
        {
            iden = text.as_str().map(str::to_owned);
        }
        let view = match iden {
            None => self.views.default_view(),
            // Old clients name the main view by the cortex iden.
            Some(iden) if iden == self.cell.iden() => self.views.default_view(),
            Some(iden) => self.views.view(&iden).ok_or_else(|| {
                Error::named("NoSuchView", format!("No such view iden={iden}")).with("iden", iden)
            })?,
        };
        if let Some(user) = user {
            self.confirm(user, &["view", "read"], Some(&view.iden()))?;
        }
        Ok(view)
    }

    /// Whether `user` has `perm` (on `gate`, if given), as the reference's `User.allowed`.
    pub fn allowed(&self, user: &User, perm: &[&str], gate: Option<&str>) -> bool {
        let perm: Vec<String> = perm.iter().map(|p| (*p).to_owned()).collect();
        self.cell
            .auth()
            .allowed(&user.iden, &perm, Some(false), gate)
            == Some(true)
    }

    /// Raise the reference's `AuthDeny` unless `user` has `perm` (on `gate`): "User 'visi'
    /// (iden) must have permission node.add.inet:ipv4 on object `gate` (layer)."
    pub fn confirm(&self, user: &User, perm: &[&str], gate: Option<&str>) -> Result<()> {
        let perm: Vec<String> = perm.iter().map(|p| (*p).to_owned()).collect();
        self.cell.auth().confirm(user, &perm, Some(false), gate)
    }

    /// The editor permission hook for `user` writing to `view`'s write layer: each edit is
    /// checked with the reference's permission names and messages. Admins pass everything.
    pub fn edit_perms(&self, user: &User, view: &View) -> Arc<dyn EditPerms> {
        Arc::new(UserPerms::new(
            self.cell.auth().clone(),
            &user.iden,
            &view.write_layer().iden(),
        ))
    }

    // ----- views -----

    /// Fork a view (`view.fork`): a new view with a new empty layer on top, its creator admin
    /// of both new auth gates.
    pub async fn fork_view(&self, iden: &str, name: Option<String>, user: &User) -> Result<View> {
        let view = self
            .views
            .fork(iden, name, &user.iden)
            .await
            .map_err(view_error)?;
        let auth = self.cell.auth();
        let layer = view.write_layer().iden();
        auth.add_auth_gate(&layer, "layer").await?;
        auth.set_user_admin(&user.iden, true, Some(&layer)).await?;
        auth.add_auth_gate(&view.iden(), "view").await?;
        auth.set_user_admin(&user.iden, true, Some(&view.iden()))
            .await?;
        Ok(view)
    }

    /// Delete a view (not its layers) and its auth gate.
    pub async fn del_view(&self, iden: &str) -> Result<()> {
        self.views.del_view(iden).await.map_err(view_error)?;
        self.del_view_triggers(iden).await?;
        self.wipe_view_meta(iden).await?;
        if self.cell.auth().gate(iden).is_some() {
            self.cell.auth().del_auth_gate(iden).await?;
        }
        Ok(())
    }

    /// Delete a layer no view uses, and its auth gate.
    pub async fn del_layer(&self, iden: &str) -> Result<()> {
        self.views.del_layer(iden).await.map_err(view_error)?;
        if self.cell.auth().gate(iden).is_some() {
            self.cell.auth().del_auth_gate(iden).await?;
        }
        Ok(())
    }

    // ----- model -----

    /// `getModelDict()`: the model export with the current tag properties (cached).
    pub fn model_dict(&self) -> Arc<Value> {
        if let Some(dict) = self.modeldict.read().unwrap_or_else(poisoned).clone() {
            return dict;
        }
        let dict = Arc::new(info::model_dict_value(&self.model));
        *self.modeldict.write().unwrap_or_else(poisoned) = Some(Arc::clone(&dict));
        dict
    }

    /// `getModelDefs()`: `[("all", {ctors, types, forms, univs, edges, tagprops, interfaces})]`.
    pub fn model_defs(&self) -> Result<Value> {
        info::model_defs_value(&self.model)
    }

    /// Add a tag property (`addTagProp`): `tdef` is `(typename, typeopts)`, `info` a map.
    /// Persisted; `DupPropName` if it exists.
    pub async fn add_tagprop(&self, name: &str, tdef: &Value, info: &Value) -> Result<()> {
        if !matches!(tdef, Value::Array(_)) {
            return Err(
                Error::bad_arg("Tag property type definitions should be a tuple.")
                    .with("name", name),
            );
        }
        if !matches!(info, Value::Map(_)) {
            return Err(
                Error::bad_arg("Tag property definitions should be a dict.").with("name", name)
            );
        }
        if !is_base_prop_name(name) {
            return Err(
                Error::named("BadPropDef", format!("Invalid prop name {name}")).with("prop", name),
            );
        }
        if self.model.tagprops().contains_key(name) {
            return Err(Error::named("DupPropName", name.to_string()).with("name", name));
        }
        let jdef = synapse_cell::to_json(tdef);
        let jinfo = synapse_cell::to_json(info);
        self.model
            .add_tagprop(name, &jdef, &jinfo)
            .map_err(model_error)?;
        if let Err(err) = self.store.put_tagprop(name, tdef, info).await {
            self.model.del_tagprop(name);
            return Err(err);
        }
        *self.modeldict.write().unwrap_or_else(poisoned) = None;
        Ok(())
    }

    /// Remove a runtime tag property (`delTagProp`): `NoSuchTagProp` if unknown, `CantDelProp`
    /// while nodes of any layer still use it.
    pub async fn del_tagprop(&self, name: &str) -> Result<()> {
        if !self.store.has_tagprop(name).await? {
            return Err(
                Error::named("NoSuchTagProp", format!("No ext tag prop named {name}"))
                    .with("name", name),
            );
        }
        for layer in self.views.layers() {
            if layer_uses_tagprop(&layer, name).await? {
                return Err(Error::named(
                    "CantDelProp",
                    format!(
                        "Nodes still exist with tagprop: {name} in layer {}",
                        layer.iden()
                    ),
                ));
            }
        }
        self.store.del_tagprop(name).await?;
        self.model.del_tagprop(name);
        *self.modeldict.write().unwrap_or_else(poisoned) = None;
        Ok(())
    }

    // ----- storm globals -----

    /// A Storm global (`$lib.globals.get`, `getStormVar`).
    pub async fn get_storm_var(&self, name: &str) -> Result<Option<Value>> {
        self.store.get_var(name).await
    }

    /// Set a Storm global; returns the value.
    pub async fn set_storm_var(&self, name: &str, valu: Value) -> Result<Value> {
        self.store.set_var(name, &valu).await?;
        Ok(valu)
    }

    /// Remove a Storm global; its value if it was set.
    pub async fn pop_storm_var(&self, name: &str) -> Result<Option<Value>> {
        self.store.pop_var(name).await
    }

    /// Every Storm global, sorted by name.
    pub async fn storm_vars(&self) -> Result<Vec<(String, Value)>> {
        self.store.vars().await
    }

    // ----- axon -----

    /// Hand the Cortex its Axon (the servers binary gives it the local one when the `axon`
    /// directive is unset, as the reference runs one in `<dirn>/axon`).
    pub fn set_axon(&self, axon: Arc<dyn AxonClient>) {
        self.axon.set(axon);
    }

    /// Whether the Axon is ready (`getCellInfo()['cell']['axon:ready']`).
    pub fn axon_ready(&self) -> bool {
        self.axon.current().is_some()
    }

    /// The Axon, waiting up to `timeout` for it (`TimeOut` otherwise; `None` waits forever).
    pub async fn axon(&self, timeout: Option<Duration>) -> Result<Arc<dyn AxonClient>> {
        self.axon.wait(timeout).await
    }

    // ----- storm -----

    /// Install the Storm runtime the APIs run queries with.
    pub fn set_storm_runtime(&self, runtime: Arc<dyn StormRuntime>) {
        *self.storm.write().unwrap_or_else(poisoned) = Some(runtime);
    }

    /// The installed Storm runtime.
    pub fn storm_runtime(&self) -> Option<Arc<dyn StormRuntime>> {
        self.storm.read().unwrap_or_else(poisoned).clone()
    }

    /// The Storm runtime, or `NoSuchMeth`-like `FeatureNotSupported`... the reference always
    /// has one; without a runtime the storm APIs are not offered at all.
    pub(crate) fn req_storm(&self) -> Result<Arc<dyn StormRuntime>> {
        self.storm_runtime().ok_or_else(|| {
            Error::named(
                "FeatureNotSupported",
                "This Cortex was built without a Storm runtime.",
            )
        })
    }

    /// Run a Storm query as `call.user` (messages, `init` first and `fini` last).
    pub fn storm(self: &Arc<Self>, call: StormCall) -> Result<BoxStream<'static, Value>> {
        Ok(self.req_storm()?.storm(Arc::clone(self), call))
    }

    // ----- nodes -----

    /// Add packed node definitions to `view` in batches (the reference's `addNodes` with
    /// `strict=False`: bad items are skipped with a warning). Yields the podes of the nodes
    /// added or merged, each only after its batch is committed.
    pub fn add_nodes(
        self: &Arc<Self>,
        defs: Vec<Value>,
        view: View,
        user: &User,
    ) -> BoxStream<'static, Result<Value>> {
        feed::add_nodes(defs, view, user.iden.clone())
    }

    // ----- lifecycle -----

    /// Start the background work: trigger firing, the async trigger queue, the cron
    /// scheduler and the Storm dmons (run once the Cortex is shared, before it serves).
    pub fn start(self: &Arc<Self>) {
        self.start_triggers();
        self.start_agenda();
        self.start_pkgs();
        self.start_dmons();
        self.start_layer_syncs();
        self.start_merges();
    }

    /// Stop the Storm dmons; close the layers, the views and the Axon link.
    pub async fn fini(&self) {
        self.stop_dmons().await;
        self.stop_layer_syncs().await;
        self.axon.fini().await;
        self.views.fini().await;
        self.store.fini().await;
        self.autostore.fini().await;
    }
}

/// Whether any node of `layer` has a tag property named `name` (a full scan: tag property
/// removal is rare).
async fn layer_uses_tagprop(layer: &crate::layer::Layer, name: &str) -> Result<bool> {
    use futures::TryStreamExt;
    let mut sodes = layer.sodes();
    while let Some((_, sode)) = sodes
        .try_next()
        .await
        .map_err(|err| view_error(err.into()))?
    {
        if sode
            .tagprops
            .iter()
            .any(|(_, props)| props.iter().any(|(prop, _, _)| prop == name))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// True for names the reference's `isBasePropNoPivprop` accepts: `[a-z_][a-z0-9_]*` parts
/// joined by `:` or `.`.
pub(crate) fn is_base_prop_name(name: &str) -> bool {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-z_][a-z0-9_]*([:.][a-z_][a-z0-9_]*)*$").ok()
    });
    RE.as_ref().is_some_and(|re| re.is_match(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prop_names() {
        assert!(is_base_prop_name("score"));
        assert!(is_base_prop_name("_ext:thing"));
        assert!(is_base_prop_name("a.b"));
        assert!(!is_base_prop_name("Score"));
        assert!(!is_base_prop_name("9x"));
        assert!(!is_base_prop_name(""));
        assert!(!is_base_prop_name("a b"));
    }
}
