//! The telepath APIs of one layer and one view, at the reference's paths: `LayerApi`
//! (`tcp://host/*/layer` for the default view's top layer, `*/layer/<iden>`) and `ViewApi`
//! (`*/view`, `*/view/<iden>`), each also serving the `CellApi` methods, as the reference's
//! `Cortex.getCellApi(link, user, path)`.
//!
//! `LayerApi`: `iterLayerNodeEdits`, `saveNodeEdits` (admin), `storNodeEdits`,
//! `storNodeEditsNoLift`, `syncNodeEdits`, `syncNodeEdits2`, `getEditIndx`, `getEditSize`,
//! `getIden`. `ViewApi`: `storNodeEdits`, `syncNodeEdits2`, `saveNodeEdits` (admin),
//! `getEditSize`, `getCellIden`. These are what layer pushes and pulls
//! (`cortex/layersync.rs`), mirrors and the reference's tools call.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_cell::{ArgDefault as D, Args, CELL_API_METHODS, Error, Result, Session, User};
use synapse_telepath::{Call, RemoteError, Reply as TeleReply, Share, ShareInfo};
use tracing::Instrument;

use crate::cortex::{Cortex, view_error};
use crate::layer::Layer;
use crate::nodeedit::{BuidForm, EditMeta, NodeEdit};
use crate::view::View;

/// The layer methods, with their generator flags.
const LAYER_METHODS: &[(&str, bool)] = &[
    ("iterLayerNodeEdits", true),
    ("saveNodeEdits", false),
    ("storNodeEdits", false),
    ("storNodeEditsNoLift", false),
    ("syncNodeEdits", true),
    ("syncNodeEdits2", true),
    ("getEditIndx", false),
    ("getEditSize", false),
    ("getIden", false),
];

/// The view methods, with their generator flags.
const VIEW_METHODS: &[(&str, bool)] = &[
    ("storNodeEdits", false),
    ("syncNodeEdits2", true),
    ("saveNodeEdits", false),
    ("getEditSize", false),
    ("getCellIden", false),
];

/// The object a path opens: a layer or a view.
#[derive(Clone)]
enum Target {
    Layer(Layer),
    View(View),
}

/// `LayerApi` or `ViewApi` of one session.
pub(crate) struct PathApi {
    sess: Arc<Session>,
    cellapi: Arc<dyn Share>,
    target: Target,
    /// The reference's `ViewApi.allowedits`: `node` allowed on the view's top layer when the
    /// session opened.
    allowedits: bool,
    sharinfo: Value,
}

fn no_such_layer(iden: &str) -> Error {
    Error::named("NoSuchLayer", format!("No such layer {iden}")).with("iden", iden)
}

/// The sharinfo of an API with `meths` besides the `CellApi` ones.
fn sharinfo(meths: &[(&str, bool)], class: &str) -> Value {
    let [major, minor, patch] = synapse_cell::SYNAPSE_VERSION;
    let mut all: BTreeMap<String, bool> = CELL_API_METHODS
        .iter()
        .map(|m| (m.name.to_string(), m.genr))
        .collect();
    all.extend(meths.iter().map(|(name, genr)| ((*name).to_owned(), *genr)));
    ShareInfo {
        meths: all,
        classes: vec![
            class.to_owned(),
            "synapse.lib.cell.CellApi".to_owned(),
            "synapse.lib.base.Base".to_owned(),
        ],
        version: (u64::from(major), u64::from(minor), u64::from(patch)),
        commit: String::new(),
    }
    .to_value()
}

impl Cortex {
    /// The API object of a `*/layer...` or `*/view...` path (`NoSuchPath` otherwise).
    pub(crate) fn open_path_api(
        self: &Arc<Self>,
        sess: Arc<Session>,
        cellapi: Arc<dyn Share>,
        path: &[String],
    ) -> Result<Arc<dyn Share>> {
        let user = sess.user()?;
        let (target, meths, class) = match path {
            [kind] if kind == "layer" => (
                Target::Layer(self.default_view().write_layer()),
                LAYER_METHODS,
                "synapse.lib.layer.LayerApi",
            ),
            [kind, iden] if kind == "layer" => (
                Target::Layer(
                    self.views()
                        .layer(iden)
                        .ok_or_else(|| no_such_layer(iden))?,
                ),
                LAYER_METHODS,
                "synapse.lib.layer.LayerApi",
            ),
            [kind] if kind == "view" => (
                Target::View(self.user_view(&user, None)?),
                VIEW_METHODS,
                "synapse.lib.view.ViewApi",
            ),
            [kind, iden] if kind == "view" => (
                Target::View(self.user_view(&user, Some(iden))?),
                VIEW_METHODS,
                "synapse.lib.view.ViewApi",
            ),
            _ => return Err(synapse_cell::no_such_path(path)),
        };
        let allowedits = match &target {
            Target::View(view) => {
                let layer = view.write_layer().iden();
                user.is_admin() || self.allowed(&user, &["node"], Some(&layer))
            }
            Target::Layer(_) => false,
        };
        Ok(Arc::new(PathApi {
            sess,
            cellapi,
            target,
            allowedits,
            sharinfo: sharinfo(meths, class),
        }))
    }

    /// The view a `*/view` path names: the user's default view, or the one given if the user
    /// may read it; none is `NoSuchPath` as in the reference.
    fn user_view(&self, user: &User, iden: Option<&str>) -> Result<View> {
        let path = |iden: Option<&str>| {
            let mut path = vec!["view".to_owned()];
            path.extend(iden.map(str::to_owned));
            synapse_cell::no_such_path(&path)
        };
        let view = match iden {
            Some(iden) => self.views().view(iden).ok_or_else(|| path(Some(iden)))?,
            None => self.default_view(),
        };
        if !user.is_admin() && !self.allowed(user, &["view", "read"], Some(&view.iden())) {
            return Err(path(iden));
        }
        Ok(view)
    }
}

impl PathApi {
    fn user(&self) -> Result<User> {
        self.sess.user()
    }

    /// The reference's layer read check: `layer.lift.<iden>` or else `layer.read.<iden>`.
    fn req_layer_read(&self, layer: &Layer) -> Result<()> {
        let iden = layer.iden();
        let lift = ["layer".to_owned(), "lift".to_owned(), iden.clone()];
        if self.sess.allowed(&lift, None) == Some(true) {
            return Ok(());
        }
        self.sess
            .req_allowed(&["layer".to_owned(), "read".to_owned(), iden])
    }

    fn req_admin(&self) -> Result<User> {
        self.sess.req_admin()
    }

    fn edits_arg(valu: &Value) -> Result<Vec<NodeEdit>> {
        NodeEdit::list_from_value(valu).map_err(|err| Error::bad_arg(err.mesg.clone()))
    }

    async fn dispatch(&self, meth: &str, args: Args) -> Result<TeleReply> {
        match &self.target {
            Target::Layer(layer) => self.layer_call(layer, meth, args).await,
            Target::View(view) => self.view_call(view, meth, args).await,
        }
    }

    async fn layer_call(&self, layer: &Layer, meth: &str, args: Args) -> Result<TeleReply> {
        let lerr = |err: crate::layer::Error| view_error(err.into());
        match meth {
            "iterLayerNodeEdits" => {
                args.bind("iterLayerNodeEdits", &[])?;
                let check = self.req_layer_read(layer);
                let edits = layer.node_edits().map(move |edit| {
                    edit.map(|edit| edit.to_value(BuidForm::Bytes))
                        .map_err(lerr)
                });
                Ok(stream_reply(check, edits.boxed()))
            }
            "saveNodeEdits" => {
                let bound = args.bind(
                    "saveNodeEdits",
                    &[("edits", D::Required), ("meta", D::Required)],
                )?;
                let user = self.req_admin()?;
                let edits = Self::edits_arg(bound.value(0))?;
                let mut meta = EditMeta::from_value(bound.value(1));
                meta.extra.retain(|(k, _)| k != "link:user");
                meta.extra
                    .push(("link:user".to_owned(), Value::from(user.iden.as_str())));
                let applied = layer.apply(edits, meta).await.map_err(lerr)?;
                Ok(TeleReply::Value(Value::Array(vec![
                    applied.offset.map_or(Value::Nil, Value::from),
                    NodeEdit::list_to_value(&applied.edits, BuidForm::Bytes),
                ])))
            }
            "storNodeEdits" | "storNodeEditsNoLift" => {
                let bound = args.bind(meth, &[("nodeedits", D::Required), ("meta", D::Nil)])?;
                let user = self.user()?;
                self.sess
                    .req_allowed(&["layer".to_owned(), "write".to_owned(), layer.iden()])?;
                let edits = Self::edits_arg(bound.value(0))?;
                let meta = match bound.value(1) {
                    Value::Nil => EditMeta::now(user.iden.as_str()),
                    meta => EditMeta::from_value(meta),
                };
                let buids: Vec<_> = edits.iter().map(|edit| edit.buid).collect();
                let applied = layer.apply(edits, meta).await.map_err(lerr)?;
                if meth == "storNodeEditsNoLift" {
                    return Ok(TeleReply::Value(Value::Nil));
                }
                // One `(buid, sode, edits)` per given nodeedit, as the reference: the edits
                // that changed the node (none when nothing changed).
                let mut changed: Vec<Option<NodeEdit>> =
                    applied.edits.into_iter().map(Some).collect();
                let mut out = Vec::with_capacity(buids.len());
                for buid in buids {
                    let done = changed
                        .iter_mut()
                        .find(|slot| slot.as_ref().is_some_and(|e| e.buid == buid))
                        .and_then(Option::take);
                    let sode = layer.get_sode(buid).await.map_err(lerr)?;
                    let parts = done
                        .map(|edit| edit.to_value(BuidForm::Bytes))
                        .and_then(|packed| packed.as_array().and_then(|p| p.get(2)).cloned())
                        .unwrap_or(Value::Array(Vec::new()));
                    out.push(Value::Array(vec![
                        Value::Binary(buid.to_vec()),
                        sode.map_or_else(|| Value::Map(Vec::new()), |s| s.to_value()),
                        parts,
                    ]));
                }
                Ok(TeleReply::Value(Value::Array(out)))
            }
            "syncNodeEdits" => {
                let bound = args.bind(
                    "syncNodeEdits",
                    &[
                        ("offs", D::Required),
                        ("wait", D::Bool(true)),
                        ("reverse", D::Bool(false)),
                    ],
                )?;
                let offs = offs_arg(bound.value(0))?;
                let check = self.req_layer_read(layer);
                let entries = if bound.truthy(2) {
                    layer.edits_back(offs)
                } else {
                    layer.sync_edits(offs, bound.truthy(1))
                };
                let items = entries.map(move |e| e.map(|e| e.to_value(false)).map_err(lerr));
                Ok(stream_reply(check, items.boxed()))
            }
            "syncNodeEdits2" => {
                let bound = args.bind(
                    "syncNodeEdits2",
                    &[("offs", D::Required), ("wait", D::Bool(true))],
                )?;
                let offs = offs_arg(bound.value(0))?;
                let check = self.req_layer_read(layer);
                let items = layer
                    .sync_edits(offs, bound.truthy(1))
                    .map(move |e| e.map(|e| e.to_value(true)).map_err(lerr));
                Ok(stream_reply(check, items.boxed()))
            }
            "getEditIndx" | "getEditSize" => {
                args.bind(meth, &[])?;
                self.req_layer_read(layer)?;
                let next = layer.edit_offset();
                Ok(TeleReply::Value(Value::from(next)))
            }
            "getIden" => {
                args.bind("getIden", &[])?;
                self.req_layer_read(layer)?;
                Ok(TeleReply::Value(Value::from(layer.iden())))
            }
            _ => Err(no_such_meth(self.class_name(), meth)),
        }
    }

    async fn view_call(&self, view: &View, meth: &str, args: Args) -> Result<TeleReply> {
        let read = || {
            self.sess
                .req_allowed(&["view".to_owned(), "read".to_owned()])
        };
        match meth {
            "storNodeEdits" => {
                let bound =
                    args.bind("storNodeEdits", &[("edits", D::Required), ("meta", D::Nil)])?;
                if !self.allowedits {
                    return Err(Error::named(
                        "AuthDeny",
                        "storNodeEdits() not allowed without node permission on layer.",
                    ));
                }
                let user = self.user()?;
                let edits = Self::edits_arg(bound.value(0))?;
                let mut meta = EditMeta::from_value(bound.value(1));
                meta.time = synapse_base::now_ms();
                meta.user = user.iden.clone();
                view.apply_edits(edits, meta).await.map_err(view_error)?;
                Ok(TeleReply::Value(Value::Nil))
            }
            "syncNodeEdits2" => {
                let bound = args.bind(
                    "syncNodeEdits2",
                    &[("offs", D::Required), ("wait", D::Bool(true))],
                )?;
                let offs = offs_arg(bound.value(0))?;
                let items = view
                    .write_layer()
                    .sync_edits(offs, bound.truthy(1))
                    .map(|e| {
                        e.map(|e| e.to_value(true))
                            .map_err(|e| view_error(e.into()))
                    });
                Ok(stream_reply(read(), items.boxed()))
            }
            "saveNodeEdits" => {
                let bound = args.bind(
                    "saveNodeEdits",
                    &[("edits", D::Required), ("meta", D::Required)],
                )?;
                let admin = self.req_admin()?;
                let edits = Self::edits_arg(bound.value(0))?;
                let mut meta = EditMeta::from_value(bound.value(1));
                if !is_guid(&meta.user) {
                    return Err(Error::bad_arg(format!(
                        "Meta argument requires user key to be a guid, got user={}",
                        crate::model::value::py_repr(
                            synapse_cell::map_get(bound.value(1), "user")
                                .unwrap_or(&Value::from(""))
                        )
                    )));
                }
                meta.extra.retain(|(k, _)| k != "link:user");
                meta.extra
                    .push(("link:user".to_owned(), Value::from(admin.iden.as_str())));
                let layer = view.write_layer();
                let changes = view.apply_edits(edits, meta).await.map_err(view_error)?;
                let saveoff = if changes.is_empty() {
                    Value::from(-1)
                } else {
                    Value::from(layer.edit_offset().saturating_sub(1))
                };
                Ok(TeleReply::Value(Value::Array(vec![
                    saveoff,
                    NodeEdit::list_to_value(&changes, BuidForm::Bytes),
                ])))
            }
            "getEditSize" => {
                args.bind("getEditSize", &[])?;
                read()?;
                Ok(TeleReply::Value(Value::from(
                    view.write_layer().edit_offset(),
                )))
            }
            "getCellIden" => {
                args.bind("getCellIden", &[])?;
                Ok(TeleReply::Value(Value::from(view.iden())))
            }
            _ => Err(no_such_meth(self.class_name(), meth)),
        }
    }
}

/// A generator reply whose permission check fails at its first item (as the reference's
/// async generators, which check when iterated).
fn stream_reply(check: Result<()>, items: BoxStream<'static, Result<Value>>) -> TeleReply {
    let items = match check {
        Ok(()) => items,
        Err(err) => stream::once(async move { Err(err) }).boxed(),
    };
    TeleReply::Stream(items.map(|item| item.map_err(RemoteError::from)).boxed())
}

fn no_such_meth(class: &str, meth: &str) -> Error {
    Error::new(
        synapse_cell::ErrKind::NoSuchMeth,
        format!("{class} has no method: {meth}."),
    )
    .with("name", meth)
}

fn offs_arg(valu: &Value) -> Result<u64> {
    match valu {
        Value::Integer(n) => Ok(n.as_u64().unwrap_or(0)),
        _ => Err(Error::bad_arg("offs must be an int").with("name", "offs")),
    }
}

fn is_guid(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Share for PathApi {
    fn sharinfo(&self) -> &Value {
        &self.sharinfo
    }

    fn class_name(&self) -> &str {
        match self.target {
            Target::Layer(_) => "LayerApi",
            Target::View(_) => "ViewApi",
        }
    }

    fn call(&self, call: Call) -> BoxFuture<'static, std::result::Result<TeleReply, RemoteError>> {
        let meths = match self.target {
            Target::Layer(_) => LAYER_METHODS,
            Target::View(_) => VIEW_METHODS,
        };
        if !meths.iter().any(|(name, _)| *name == call.meth)
            && CELL_API_METHODS.iter().any(|m| m.name == call.meth)
        {
            // A `CellApi` method: the session's own API object serves it.
            return self.cellapi.call(call);
        }
        let api = PathApi {
            sess: Arc::clone(&self.sess),
            cellapi: Arc::clone(&self.cellapi),
            target: self.target.clone(),
            allowedits: self.allowedits,
            sharinfo: Value::Nil,
        };
        let span = tracing::debug_span!(
            "telepath call", meth = %call.meth, api = %self.class_name(), user = %self.sess.user_iden()
        );
        Box::pin(
            async move {
                let Call {
                    meth, args, kwargs, ..
                } = call;
                api.dispatch(&meth, Args { args, kwargs })
                    .await
                    .map_err(RemoteError::from)
            }
            .instrument(span),
        )
    }

    fn fini(&self) -> BoxFuture<'static, ()> {
        self.cellapi.fini()
    }
}
