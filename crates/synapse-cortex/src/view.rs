//! Views: an ordered stack of layers read as one graph, written through its top layer.
//!
//! * [`Views`] owns a cortex's layers and views (`dirn/layers/<iden>/`, definitions in
//!   `dirn/slabs/views.lmdb`): the default view over the default layer, [`Views::fork`] (a new
//!   view with a new empty layer on top of the parent's layers), [`Views::merge`] (replay the
//!   fork's layer into the parent's write layer, optionally deleting the fork) and deletion.
//! * [`View`] reads through its layers, top layer first: a node exists if any layer holds its
//!   primary value; each property, tag and tag property comes from the highest layer that has
//!   it. Lifts ([`View::lift`] and the `lift_*` helpers) merge-sort the layers' index rows by
//!   index bytes, so nodes stream in index order (ints ascending, fqdns by reversed name,
//!   strings by UTF-8 bytes) without loading everything, deduplicated by node.
//! * [`Editor`] turns high level requests (add a node with props and tags, set/delete props,
//!   tags with intervals, tag props, edges, node data, delete nodes) into nodeedits,
//!   normalizing through the model, adding secondary nodes automatically, and applies them to
//!   the write layer as one atomic batch. A [`EditPerms`] hook lets the caller (Storm) check
//!   permissions before each requested edit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), synapse_cortex::view::Error> {
//! use futures::TryStreamExt;
//! use rmpv::Value;
//! use synapse_cortex::model::Model;
//! use synapse_cortex::nodeedit::EditMeta;
//! use synapse_cortex::view::{AllowAll, Views};
//!
//! let model = Model::load_default().map_err(synapse_cortex::view::Error::Model)?;
//! let views = Views::open("/tmp/cortex", model).await?;
//! let view = views.default_view();
//!
//! let mut editor = view.editor(EditMeta::now("root"), AllowAll::arc());
//! let buid = editor.add_node("inet:dns:a", &Value::from(vec![Value::from("vertex.link"), Value::from("1.2.3.4")])).await?;
//! editor.add_tag(&buid.unwrap(), "rep.foo", None).await?;
//! let batches = editor.apply().await?; // applied nodeedits, for `node:edits` messages
//!
//! let nodes: Vec<_> = view.lift_prop_valu("inet:ipv4", "=", &Value::from("1.2.3.4"), false)?.try_collect().await?;
//! assert_eq!(nodes.len(), 1);
//! # let _ = batches; Ok(()) }
//! ```

mod editor;
mod lift;
mod views;

use std::sync::{Arc, RwLock};

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;

pub use editor::{AllowAll, EditPerm, EditPerms, Editor};
pub use views::{ViewDef, Views};

use crate::layer::{self, Abrvs, EdgeDir, Layer, LiftBy, Resume, Sode, plan_lift};
use crate::model::{Model, ModelError, StorLift};
use crate::node::Node;
use crate::nodeedit::{Buid, EditMeta, NodeEdit, TagIval, buid as make_buid, stortype as st};

/// A stream of nodes.
pub type NodeStream = BoxStream<'static, Result<Node, Error>>;

/// Errors of views and the editor, named after the reference's exception classes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Layer storage failed.
    #[error(transparent)]
    Layer(#[from] layer::Error),
    /// The model refused a value or name.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// No such view.
    #[error("No such view iden={0}")]
    NoSuchView(String),
    /// No such layer.
    #[error("No such layer iden={0}")]
    NoSuchLayer(String),
    /// No such form.
    #[error("No form named {0}.")]
    NoSuchForm(String),
    /// No such property.
    #[error("{mesg}")]
    NoSuchProp {
        /// The message.
        mesg: String,
        /// The property name.
        name: String,
    },
    /// No such tag property.
    #[error("Tagprop {0} does not exist in this Cortex.")]
    NoSuchTagProp(String),
    /// A read-only property cannot change.
    #[error("Property is read only: {0}.")]
    ReadOnlyProp(String),
    /// Runtime-only forms cannot be stored.
    #[error("Cannot make runt nodes: {0}.")]
    IsRuntForm(String),
    /// A form or property is locked due to deprecation.
    #[error("{mesg}")]
    IsDeprLocked {
        /// The message.
        mesg: String,
        /// The locked form or property.
        prop: String,
    },
    /// A node cannot be deleted.
    #[error("{mesg}")]
    CantDelNode {
        /// The reason.
        mesg: String,
        /// The node's form.
        form: String,
        /// The node's iden.
        iden: String,
    },
    /// The view or layer refuses edits.
    #[error("{0}")]
    IsReadOnly(String),
    /// A bad argument.
    #[error("{0}")]
    BadArg(String),
    /// A value is not JSON safe (node data).
    #[error("{0}")]
    MustBeJsonSafe(String),
    /// A view cannot be deleted or merged.
    #[error("{0}")]
    CantMergeView(String),
    /// A view cannot be deleted.
    #[error("{0}")]
    CantDelView(String),
    /// A layer is used by a view.
    #[error("Layer {0} is in use by a view")]
    LayerInUse(String),
    /// A generic failure (the reference's `SynErr`).
    #[error("{0}")]
    SynErr(String),
    /// The permission hook refused an edit (its error is kept as the source).
    #[error("{0}")]
    Denied(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The reference's exception class name.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Layer(err) => err.class(),
            Error::Model(err) => err.class(),
            Error::NoSuchView(_) => "NoSuchView",
            Error::NoSuchLayer(_) => "NoSuchLayer",
            Error::NoSuchForm(_) => "NoSuchForm",
            Error::NoSuchProp { .. } => "NoSuchProp",
            Error::NoSuchTagProp(_) => "NoSuchTagProp",
            Error::ReadOnlyProp(_) => "ReadOnlyProp",
            Error::IsRuntForm(_) => "IsRuntForm",
            Error::IsDeprLocked { .. } => "IsDeprLocked",
            Error::CantDelNode { .. } => "CantDelNode",
            Error::IsReadOnly(_) => "IsReadOnly",
            Error::BadArg(_) => "BadArg",
            Error::MustBeJsonSafe(_) => "MustBeJsonSafe",
            Error::CantMergeView(_) => "CantMergeView",
            Error::CantDelView(_) => "CantDelView",
            Error::LayerInUse(_) => "LayerInUse",
            Error::SynErr(_) => "SynErr",
            Error::Denied(_) => "AuthDeny",
        }
    }

    fn no_prop(name: &str) -> Error {
        Error::NoSuchProp {
            mesg: format!("No property named {name}."),
            name: name.to_owned(),
        }
    }
}

/// The layers of a view: the write layer and the ones below it.
#[derive(Clone)]
pub(crate) struct Stack {
    pub(crate) top: Layer,
    pub(crate) below: Vec<Layer>,
}

pub(crate) struct ViewInner {
    pub(crate) def: RwLock<ViewDef>,
    pub(crate) stack: RwLock<Stack>,
    pub(crate) model: Arc<Model>,
    pub(crate) abrvs: Arc<Abrvs>,
    pub(crate) hook: Arc<HookSlot>,
}

/// What runs after edits are applied to a view's write layer: the Cortex's triggers. It gets
/// the view, the applied nodeedits and their meta; an error (a trigger recursion limit) is the
/// error of the edit.
pub trait EditHook: Send + Sync + 'static {
    /// Edits were applied to `view`'s write layer.
    fn applied<'a>(
        &'a self,
        view: &'a View,
        edits: &'a [NodeEdit],
        meta: &'a EditMeta,
    ) -> futures::future::BoxFuture<'a, Result<(), Error>>;
}

/// The edit hook shared by every view of a [`Views`].
pub(crate) type HookSlot = RwLock<Option<Arc<dyn EditHook>>>;

/// A view: a handle shared by clones.
#[derive(Clone)]
pub struct View {
    pub(crate) inner: Arc<ViewInner>,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("iden", &self.iden())
            .finish_non_exhaustive()
    }
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

/// How a full property name resolves.
enum PropRef {
    Form(String),
    Prop(String, String),
    Univ(String),
}

impl View {
    /// The view iden.
    pub fn iden(&self) -> String {
        self.inner.def.read().unwrap_or_else(poisoned).iden.clone()
    }

    /// The view definition.
    pub fn def(&self) -> ViewDef {
        self.inner.def.read().unwrap_or_else(poisoned).clone()
    }

    /// The layers, top (write) layer first.
    pub fn layers(&self) -> Vec<Layer> {
        let stack = self.inner.stack.read().unwrap_or_else(poisoned);
        let mut out = Vec::with_capacity(1 + stack.below.len());
        out.push(stack.top.clone());
        out.extend(stack.below.iter().cloned());
        out
    }

    /// The write layer.
    pub fn write_layer(&self) -> Layer {
        self.inner.stack.read().unwrap_or_else(poisoned).top.clone()
    }

    /// The data model.
    pub fn model(&self) -> &Arc<Model> {
        &self.inner.model
    }

    /// The view def with its layers' defs, as `$lib.view.get().pack()`.
    pub fn pack(&self) -> Value {
        let def = self.def();
        let layers = self.layers().iter().map(Layer::pack).collect();
        def.to_value(Some(Value::Array(layers)))
    }

    /// Whether the view refuses edits (its write layer is read-only).
    pub fn is_readonly(&self) -> bool {
        self.write_layer().is_readonly()
    }

    /// An editor writing to this view's write layer.
    pub fn editor(&self, meta: EditMeta, perms: Arc<dyn EditPerms>) -> Editor {
        Editor::new(self.clone(), meta, perms)
    }

    /// Apply raw nodeedits to the write layer (the reference's `saveNodeEdits`); returns the
    /// applied edits.
    pub async fn apply_edits(
        &self,
        edits: Vec<NodeEdit>,
        meta: EditMeta,
    ) -> Result<Vec<NodeEdit>, Error> {
        Ok(self.apply_edits_gen(edits, meta, false).await?.0)
    }

    /// As [`View::apply_edits`], with the write layer's generation before the batch
    /// ([`crate::layer::Applied::write_gen`]); `deferred` does not wait for the commit
    /// ([`Layer::apply_deferred`]).
    pub(crate) async fn apply_edits_gen(
        &self,
        edits: Vec<NodeEdit>,
        meta: EditMeta,
        deferred: bool,
    ) -> Result<(Vec<NodeEdit>, u64, u64), Error> {
        let layer = self.write_layer();
        if layer.is_readonly() {
            return Err(Error::IsReadOnly("The view is in read-only mode.".into()));
        }
        let hook = self.inner.hook.read().unwrap_or_else(poisoned).clone();
        let applied = if deferred {
            layer.apply_deferred(edits, meta.clone()).await?
        } else {
            layer.apply(edits, meta.clone()).await?
        };
        if let Some(hook) = hook
            && !applied.edits.is_empty()
        {
            hook.applied(self, &applied.edits, &meta).await?;
        }
        Ok((applied.edits, applied.write_gen, applied.deferred_seq))
    }

    /// The write generations of the layers, top first, each with the layer's identity: equal
    /// values mean no batch was applied to any layer of the view in between (and the layer
    /// stack is the same).
    pub(crate) fn write_gens(&self) -> Vec<(usize, u64)> {
        let stack = self.inner.stack.read().unwrap_or_else(poisoned);
        std::iter::once(&stack.top)
            .chain(stack.below.iter())
            .map(|layer| (layer.ident(), layer.write_gen()))
            .collect()
    }

    // ----- nodes -----

    /// Storage nodes of many buids from the given layers: `out[i][j]` is buid `i` in layer `j`.
    pub(crate) async fn sodes_of(
        &self,
        layers: &[Layer],
        buids: &[Buid],
    ) -> Result<Vec<Vec<Option<Sode>>>, Error> {
        self.sodes_of_in(layers, buids, false).await
    }

    /// [`View::sodes_of`]; with `committed`, the first layer is read as of its last commit
    /// ([`Layer::get_sodes_committed`]).
    async fn sodes_of_in(
        &self,
        layers: &[Layer],
        buids: &[Buid],
        committed: bool,
    ) -> Result<Vec<Vec<Option<Sode>>>, Error> {
        let mut out: Vec<Vec<Option<Sode>>> = buids
            .iter()
            .map(|_| Vec::with_capacity(layers.len()))
            .collect();
        if buids.is_empty() {
            return Ok(out);
        }
        for (idx, layer) in layers.iter().enumerate() {
            let sodes = if committed && idx == 0 {
                layer.get_sodes_committed(buids.to_vec()).await?
            } else {
                layer.get_sodes(buids.to_vec()).await?
            };
            for (slot, sode) in out.iter_mut().zip(sodes) {
                slot.push(sode);
            }
        }
        Ok(out)
    }

    /// The storage nodes of a buid in every layer, top first (`show:storage`).
    pub async fn get_sodes(&self, buid: Buid) -> Result<Vec<Option<Sode>>, Error> {
        Ok(self
            .sodes_of(&self.layers(), &[buid])
            .await?
            .pop()
            .unwrap_or_default())
    }

    /// A node by buid.
    pub async fn get_node(&self, buid: Buid) -> Result<Option<Node>, Error> {
        Ok(self.get_nodes(&[buid]).await?.pop().flatten())
    }

    /// Nodes by buid (one read per layer).
    pub async fn get_nodes(&self, buids: &[Buid]) -> Result<Vec<Option<Node>>, Error> {
        let sodes = self.sodes_of(&self.layers(), buids).await?;
        Ok(buids
            .iter()
            .zip(sodes)
            .map(|(buid, stack)| Node::join(*buid, &stack))
            .collect())
    }

    /// Nodes by buid as [`View::get_nodes`], but without waiting for the write layer's
    /// uncommitted batches when all of them are the caller's own (`own`: their
    /// [`crate::layer::Applied::deferred_seq`]): those are left out of the read, so the caller
    /// must not ask for the nodes they touch.
    pub(crate) async fn get_nodes_besides(
        &self,
        buids: &[Buid],
        own: &[u64],
    ) -> Result<Vec<Option<Node>>, Error> {
        let layers = self.layers();
        let committed = layers
            .first()
            .is_some_and(|top| !top.foreign_uncommitted(own));
        self.nodes_in(&layers, buids, committed).await
    }

    /// Nodes by buid with the write layer read as of its last commit: without the batches
    /// that still wait for theirs, and without waiting for them.
    pub(crate) async fn get_nodes_committed(
        &self,
        buids: &[Buid],
    ) -> Result<Vec<Option<Node>>, Error> {
        self.nodes_in(&self.layers(), buids, true).await
    }

    async fn nodes_in(
        &self,
        layers: &[Layer],
        buids: &[Buid],
        committed: bool,
    ) -> Result<Vec<Option<Node>>, Error> {
        let sodes = self.sodes_of_in(layers, buids, committed).await?;
        Ok(buids
            .iter()
            .zip(sodes)
            .map(|(buid, stack)| Node::join(*buid, &stack))
            .collect())
    }

    /// A node by form and normalized value.
    pub async fn get_node_by_ndef(&self, form: &str, norm: &Value) -> Result<Option<Node>, Error> {
        self.get_node(make_buid(form, norm)).await
    }

    // ----- lifts -----

    /// Stream the nodes of a lift.
    pub fn lift(&self, by: &LiftBy, reverse: bool) -> Result<NodeStream, Error> {
        let plan = plan_lift(&self.inner.abrvs.read(), by, reverse)?;
        Ok(match plan {
            Some(plan) => lift::lift_stream(self.clone(), plan, reverse),
            None => stream::empty().boxed(),
        })
    }

    /// Stream several lifts one after the other (one per comparison of a lift value).
    pub fn lift_chain(&self, bys: Vec<LiftBy>, reverse: bool) -> Result<NodeStream, Error> {
        let mut streams = Vec::new();
        for by in &bys {
            streams.push(self.lift(by, reverse)?);
        }
        Ok(stream::iter(streams).flatten().boxed())
    }

    fn resolve_prop(&self, full: &str) -> Result<PropRef, Error> {
        let model = &self.inner.model;
        if model.form(full).is_some() {
            return Ok(PropRef::Form(full.to_owned()));
        }
        if full.starts_with('.') {
            if model.univ(full).is_some() {
                return Ok(PropRef::Univ(full.to_owned()));
            }
            return Err(Error::no_prop(full));
        }
        let prop = model.prop(full).ok_or_else(|| Error::no_prop(full))?;
        match prop.form() {
            Some(form) => Ok(PropRef::Prop(
                form.name().to_owned(),
                prop.name().to_owned(),
            )),
            None => Ok(PropRef::Univ(prop.name().to_owned())),
        }
    }

    fn prop_type(&self, full: &str) -> Result<crate::model::Type<'_>, Error> {
        let model = &self.inner.model;
        if let Some(form) = model.form(full) {
            return Ok(form.ty());
        }
        if let Some(prop) = model.prop(full).or_else(|| model.univ(full)) {
            return Ok(prop.ty());
        }
        Err(Error::no_prop(full))
    }

    /// Every node of a form, in primary value order.
    pub fn lift_form(&self, form: &str, reverse: bool) -> Result<NodeStream, Error> {
        if self.inner.model.form(form).is_none() {
            return Err(Error::no_prop(form));
        }
        self.lift(
            &LiftBy::Form {
                form: form.to_owned(),
            },
            reverse,
        )
    }

    /// Every node of a form, or with a property (`inet:ipv4`, `inet:ipv4:asn`, `.created`,
    /// `inet:ipv4.seen`), in value order.
    pub fn lift_prop(&self, full: &str, reverse: bool) -> Result<NodeStream, Error> {
        let by = match self.resolve_prop(full)? {
            PropRef::Form(form) => LiftBy::Form { form },
            PropRef::Prop(form, prop) => LiftBy::Prop { form, prop },
            PropRef::Univ(prop) => LiftBy::Univ { prop },
        };
        self.lift(&by, reverse)
    }

    /// Nodes whose form value or property matches `cmpr valu` (`inet:ipv4=1.2.3.4`,
    /// `inet:ipv4:asn>10`, `inet:fqdn=*.link`, `.seen@=2020`); the value is normalized by
    /// the property's type ([`crate::model::Type::stor_lifts`]).
    pub fn lift_prop_valu(
        &self,
        full: &str,
        cmpr: &str,
        valu: &Value,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        let lifts = self.prop_type(full)?.stor_lifts(cmpr, valu)?;
        self.lift_prop_stor(full, lifts, reverse)
    }

    /// Like [`View::lift_prop_valu`] with comparisons already computed by the model.
    pub fn lift_prop_stor(
        &self,
        full: &str,
        lifts: Vec<StorLift>,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        let target = self.resolve_prop(full)?;
        let bys = lifts
            .into_iter()
            .map(|cmpr| match &target {
                PropRef::Form(form) => LiftBy::FormValu {
                    form: form.clone(),
                    cmpr,
                },
                PropRef::Prop(form, prop) => LiftBy::PropValu {
                    form: form.clone(),
                    prop: prop.clone(),
                    cmpr,
                },
                PropRef::Univ(prop) => LiftBy::UnivValu {
                    prop: prop.clone(),
                    cmpr,
                },
            })
            .collect();
        self.lift_chain(bys, reverse)
    }

    /// Nodes with an array property having an element matching `cmpr valu` (`*[...]`).
    pub fn lift_prop_array(
        &self,
        full: &str,
        cmpr: &str,
        valu: &Value,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        let ty = self.prop_type(full)?;
        let elem = ty.array_elem().ok_or_else(|| {
            Error::Model(ModelError::BadTypeValu {
                name: ty.name().to_owned(),
                mesg: format!("Array syntax is invalid on non array type: {}.", ty.name()),
            })
        })?;
        let lifts = elem.stor_lifts(cmpr, valu)?;
        let (form, prop) = match self.resolve_prop(full)? {
            PropRef::Form(form) => (form, None),
            PropRef::Prop(form, prop) => (form, Some(prop)),
            PropRef::Univ(_) => return Err(Error::no_prop(full)),
        };
        let bys = lifts
            .into_iter()
            .map(|cmpr| LiftBy::Array {
                form: form.clone(),
                prop: prop.clone(),
                cmpr,
            })
            .collect();
        self.lift_chain(bys, reverse)
    }

    /// Nodes with a tag (`#foo.bar`, `inet:ipv4#foo`). The tag must be normalized.
    pub fn lift_tag(
        &self,
        tag: &str,
        form: Option<&str>,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        self.lift(
            &LiftBy::Tag {
                tag: tag.to_owned(),
                form: form.map(str::to_owned),
            },
            reverse,
        )
    }

    /// Nodes whose tag interval matches (`#foo=2020`, `#foo@=(2020, 2021)`); the value is
    /// normalized as an interval.
    pub fn lift_tag_valu(
        &self,
        tag: &str,
        form: Option<&str>,
        cmpr: &str,
        valu: &Value,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        let ival = self.norm_ival(valu)?;
        self.lift(
            &LiftBy::TagValu {
                tag: tag.to_owned(),
                form: form.map(str::to_owned),
                cmpr: cmpr.to_owned(),
                valu: ival,
            },
            reverse,
        )
    }

    pub(crate) fn norm_ival(&self, valu: &Value) -> Result<TagIval, Error> {
        let ty = self
            .inner
            .model
            .ty("ival")
            .ok_or_else(|| Error::BadArg("the model has no ival type".into()))?;
        let (norm, _) = ty.norm(valu)?;
        let pair = norm.as_array().cloned().unwrap_or_default();
        Ok((
            pair.first().and_then(Value::as_i64),
            pair.get(1).and_then(Value::as_i64),
        ))
    }

    /// Nodes with a tag property (`#foo:score`, `inet:ipv4#foo:score`).
    pub fn lift_tagprop(
        &self,
        form: Option<&str>,
        tag: &str,
        prop: &str,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        self.lift(
            &LiftBy::TagProp {
                form: form.map(str::to_owned),
                tag: tag.to_owned(),
                prop: prop.to_owned(),
            },
            reverse,
        )
    }

    /// Nodes whose tag property matches `cmpr valu` (normalized by the tag prop's type).
    pub fn lift_tagprop_valu(
        &self,
        form: Option<&str>,
        tag: &str,
        prop: &str,
        cmpr: &str,
        valu: &Value,
        reverse: bool,
    ) -> Result<NodeStream, Error> {
        let ty = crate::node::tagprop_type(&self.inner.model, prop)
            .ok_or_else(|| Error::NoSuchTagProp(prop.to_owned()))?;
        let bys = ty
            .stor_lifts(cmpr, valu)?
            .into_iter()
            .map(|cmpr| LiftBy::TagPropValu {
                form: form.map(str::to_owned),
                tag: tag.to_owned(),
                prop: prop.to_owned(),
                cmpr,
            })
            .collect();
        self.lift_chain(bys, reverse)
    }

    /// Nodes having node data `name`, with that data loaded into [`Node::nodedata`].
    pub fn lift_data_name(&self, name: &str) -> Result<NodeStream, Error> {
        self.lift(
            &LiftBy::DataName {
                name: name.to_owned(),
            },
            false,
        )
    }

    // ----- counts -----

    /// The number of nodes of a form (summed over layers, as the reference).
    pub async fn count_form(&self, form: &str) -> Result<i64, Error> {
        let mut total = 0;
        for layer in self.layers() {
            total += layer.count_form(form).await?;
        }
        Ok(total)
    }

    /// The number of nodes with a property (full name; a form name counts its nodes).
    pub async fn count_prop(&self, full: &str) -> Result<i64, Error> {
        let target = self.resolve_prop(full)?;
        let mut total = 0;
        for layer in self.layers() {
            total += match &target {
                PropRef::Form(form) => layer.count_form(form).await?,
                PropRef::Prop(form, prop) => layer.count_prop(form, prop).await?,
                PropRef::Univ(prop) => layer.count_univ(prop).await?,
            };
        }
        Ok(total)
    }

    /// The number of index rows matching `full cmpr valu` (summed over layers).
    pub async fn count_prop_valu(
        &self,
        full: &str,
        cmpr: &str,
        valu: &Value,
    ) -> Result<i64, Error> {
        let target = self.resolve_prop(full)?;
        let lifts = self.prop_type(full)?.stor_lifts(cmpr, valu)?;
        let mut total = 0;
        for cmpr in lifts {
            let by = match &target {
                PropRef::Form(form) => LiftBy::FormValu {
                    form: form.clone(),
                    cmpr,
                },
                PropRef::Prop(form, prop) => LiftBy::PropValu {
                    form: form.clone(),
                    prop: prop.clone(),
                    cmpr,
                },
                PropRef::Univ(prop) => LiftBy::UnivValu {
                    prop: prop.clone(),
                    cmpr,
                },
            };
            for layer in self.layers() {
                total += layer.count_lift(&by).await?;
            }
        }
        Ok(total)
    }

    /// The number of nodes with a tag (summed over layers).
    pub async fn count_tag(&self, tag: &str, form: Option<&str>) -> Result<i64, Error> {
        let mut total = 0;
        for layer in self.layers() {
            total += layer.count_tag(tag, form).await?;
        }
        Ok(total)
    }

    // ----- edges -----

    fn edges(
        &self,
        dir: EdgeDir,
        buid: Buid,
        verb: Option<&str>,
    ) -> BoxStream<'static, Result<(String, Buid), Error>> {
        struct EdgeCursor {
            layer: Layer,
            buf: std::collections::VecDeque<(String, Buid)>,
            resume: Resume,
            done: bool,
        }
        let cursors: Vec<EdgeCursor> = self
            .layers()
            .into_iter()
            .map(|layer| EdgeCursor {
                layer,
                buf: Default::default(),
                resume: None,
                done: false,
            })
            .collect();
        let verb = verb.map(str::to_owned);
        let state = (cursors, None::<(String, Buid)>);
        stream::try_unfold(state, move |(mut cursors, mut last)| {
            let verb = verb.clone();
            async move {
                loop {
                    for cursor in &mut cursors {
                        if cursor.buf.is_empty() && !cursor.done {
                            let (rows, resume, done) = cursor
                                .layer
                                .scan_edges(dir, buid, verb.clone(), cursor.resume.take(), 512)
                                .await?;
                            cursor.buf.extend(rows);
                            cursor.resume = resume;
                            cursor.done = done;
                        }
                    }
                    let next = cursors
                        .iter()
                        .enumerate()
                        .filter_map(|(idx, c)| c.buf.front().map(|e| (idx, e)))
                        .min_by(|(_, a), (_, b)| (a.0.as_bytes(), a.1).cmp(&(b.0.as_bytes(), b.1)))
                        .map(|(idx, _)| idx);
                    let Some(idx) = next else {
                        return Ok::<_, Error>(None);
                    };
                    let Some(edge) = cursors[idx].buf.pop_front() else {
                        continue;
                    };
                    if last.as_ref() == Some(&edge) {
                        continue;
                    }
                    last = Some(edge.clone());
                    return Ok(Some((edge, (cursors, last))));
                }
            }
        })
        .boxed()
    }

    /// Light edges from a node: `(verb, n2)` ordered by verb then n2, deduplicated across
    /// layers.
    pub fn edges_n1(
        &self,
        buid: Buid,
        verb: Option<&str>,
    ) -> BoxStream<'static, Result<(String, Buid), Error>> {
        self.edges(EdgeDir::N1, buid, verb)
    }

    /// Light edges to a node: `(verb, n1)`.
    pub fn edges_n2(
        &self,
        buid: Buid,
        verb: Option<&str>,
    ) -> BoxStream<'static, Result<(String, Buid), Error>> {
        self.edges(EdgeDir::N2, buid, verb)
    }

    /// Whether any layer has the edge `n1 -(verb)> n2`.
    pub async fn has_edge(&self, n1: Buid, verb: &str, n2: Buid) -> Result<bool, Error> {
        for layer in self.layers() {
            if layer.has_edge(n1, verb, n2).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Verbs of the edges from `n1` to `n2`, sorted, deduplicated across layers.
    pub async fn edge_verbs(&self, n1: Buid, n2: Buid) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for layer in self.layers() {
            out.extend(layer.edge_verbs(n1, n2).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Nodes whose ndef-typed properties refer to `buid`: `(buid, form:prop)`.
    pub async fn ndef_refs(&self, buid: Buid) -> Result<Vec<(Buid, String)>, Error> {
        let mut out = Vec::new();
        for layer in self.layers() {
            out.extend(layer.ndef_refs(buid).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    // ----- node data -----

    /// A node data value from the highest layer that has it.
    pub async fn get_data(&self, buid: Buid, name: &str) -> Result<Option<Value>, Error> {
        for layer in self.layers() {
            if let Some(valu) = layer.get_data(buid, name).await? {
                return Ok(Some(valu));
            }
        }
        Ok(None)
    }

    /// Every node data item, highest layer first, each name once.
    pub async fn data_items(&self, buid: Buid) -> Result<Vec<(String, Value)>, Error> {
        let mut out: Vec<(String, Value)> = Vec::new();
        for layer in self.layers() {
            for (name, valu) in layer.data_items(buid).await? {
                if !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, valu));
                }
            }
        }
        Ok(out)
    }

    /// Nodes of any form whose property of a form-typed (or array of form) type refers to
    /// the node `form=valu`; used by delete checks. Yields the referring nodes.
    pub(crate) fn nodes_by_prop_type_valu(
        &self,
        form: &str,
        valu: &Value,
    ) -> Result<NodeStream, Error> {
        let model = &self.inner.model;
        let mut bys = Vec::new();
        for fobj in model.forms() {
            for prop in fobj.props() {
                let ty = prop.ty();
                if ty.name() == form && !prop.is_univ() {
                    bys.push(LiftBy::PropValu {
                        form: fobj.name().to_owned(),
                        prop: prop.name().to_owned(),
                        cmpr: StorLift {
                            cmpr: "=".into(),
                            valu: valu.clone(),
                            stortype: prop.stortype(),
                        },
                    });
                } else if ty.array_elem().is_some_and(|e| e.name() == form) {
                    bys.push(LiftBy::Array {
                        form: fobj.name().to_owned(),
                        prop: Some(prop.name().to_owned()),
                        cmpr: StorLift {
                            cmpr: "=".into(),
                            valu: valu.clone(),
                            stortype: prop.stortype() & !st::ARRAY_FLAG,
                        },
                    });
                }
            }
        }
        self.lift_chain(bys, false)
    }
}
