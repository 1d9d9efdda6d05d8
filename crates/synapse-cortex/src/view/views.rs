//! The registry of a cortex's layers and views: open, fork, merge, delete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use futures::TryStreamExt;
use rmpv::Value;
use synapse_slab::{Db, DbOptions, Scan, Slab, SlabOptions};

use crate::layer::{Abrvs, Layer, LayerDef, map_get};
use crate::model::Model;
use crate::nodeedit::{EditMeta, NodeEdit, packb, unpackb};
use crate::view::{Error, Stack, View, ViewInner};

mod forks;

/// Nodeedits applied per batch when merging a fork.
const MERGE_BATCH: usize = 100;

/// A view definition, as the reference's view def dict.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewDef {
    /// The view iden.
    pub iden: String,
    /// Optional name.
    pub name: Option<String>,
    /// Creation time.
    pub created: i64,
    /// Iden of the creating user.
    pub creator: String,
    /// The parent view of a fork.
    pub parent: Option<String>,
    /// Layer idens, top (write) layer first.
    pub layers: Vec<String>,
    /// Protected views refuse merge and delete.
    pub protected: bool,
    /// The merge request vote quorum of the view's forks (`{"count", "roles"}`), if any.
    pub quorum: Option<Value>,
    /// Whether a quorum-approved merge of this view into its parent is under way.
    pub merging: bool,
}

impl ViewDef {
    /// The def as a map; `layers` holds the given layer defs or the idens.
    pub fn to_value(&self, layers: Option<Value>) -> Value {
        let layers = layers.unwrap_or_else(|| {
            Value::Array(
                self.layers
                    .iter()
                    .map(|l| Value::from(l.as_str()))
                    .collect(),
            )
        });
        let mut map = vec![(Value::from("iden"), Value::from(self.iden.as_str()))];
        if let Some(name) = &self.name {
            map.push((Value::from("name"), Value::from(name.as_str())));
        }
        map.extend([
            (Value::from("layers"), layers),
            (Value::from("created"), Value::from(self.created)),
            (
                Value::from("parent"),
                self.parent.as_deref().map_or(Value::Nil, Value::from),
            ),
            (Value::from("creator"), Value::from(self.creator.as_str())),
            (Value::from("protected"), Value::from(self.protected)),
            (Value::from("triggers"), Value::Array(Vec::new())),
        ]);
        if let Some(quorum) = &self.quorum {
            map.push((Value::from("quorum"), quorum.clone()));
        }
        if self.merging {
            map.push((Value::from("merging"), Value::from(true)));
        }
        Value::Map(map)
    }

    /// Parse a def map (layers as idens).
    pub fn from_value(valu: &Value) -> Result<ViewDef, Error> {
        let get = |key: &str| map_get(valu, key);
        let text = |key: &str| get(key).and_then(Value::as_str).map(str::to_owned);
        let iden = text("iden").ok_or_else(|| Error::BadArg("view def has no iden".into()))?;
        let layers = get("layers")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ViewDef {
            iden,
            name: text("name"),
            created: get("created").and_then(Value::as_i64).unwrap_or(0),
            creator: text("creator").unwrap_or_default(),
            parent: text("parent"),
            layers,
            protected: get("protected").and_then(Value::as_bool).unwrap_or(false),
            quorum: get("quorum").filter(|q| !q.is_nil()).cloned(),
            merging: get("merging").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

struct Inner {
    dirn: PathBuf,
    slab: Slab,
    layerdefs: Db,
    viewdefs: Db,
    meta: Db,
    model: Arc<Model>,
    abrvs: Arc<Abrvs>,
    hook: Arc<super::HookSlot>,
    layers: RwLock<HashMap<String, Layer>>,
    views: RwLock<HashMap<String, View>>,
    default: RwLock<String>,
    edit_lock: tokio::sync::Mutex<()>,
}

/// The layers and views of a cortex.
#[derive(Clone)]
pub struct Views {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views")
            .field("dirn", &self.inner.dirn)
            .finish_non_exhaustive()
    }
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

impl Views {
    /// Install the hook every view runs after edits reach its write layer (the Cortex's
    /// triggers); replaces any earlier one.
    pub fn set_edit_hook(&self, hook: Arc<dyn super::EditHook>) {
        *self.inner.hook.write().unwrap_or_else(poisoned) = Some(hook);
    }

    /// Open the layers and views stored under `dirn`, creating the default layer and view
    /// (both named `default`) on first use.
    pub async fn open(dirn: impl AsRef<Path>, model: Arc<Model>) -> Result<Views, Error> {
        Views::open_as(dirn, model, "").await
    }

    /// [`Views::open`], naming `creator` (a user iden) as the creator of the default layer and
    /// view if they are made now.
    pub async fn open_as(
        dirn: impl AsRef<Path>,
        model: Arc<Model>,
        creator: &str,
    ) -> Result<Views, Error> {
        let dirn = dirn.as_ref().to_path_buf();
        let slabdir = dirn.join("slabs");
        std::fs::create_dir_all(&slabdir)
            .map_err(|err| Error::BadArg(format!("{}: {err}", slabdir.display())))?;
        let slab = Slab::open(slabdir.join("views.lmdb"), SlabOptions::default())
            .await
            .map_err(crate::layer::Error::from)?;
        let plain = DbOptions::default();
        let layerdefs = slab
            .initdb("layerdefs", plain)
            .await
            .map_err(crate::layer::Error::from)?;
        let viewdefs = slab
            .initdb("viewdefs", plain)
            .await
            .map_err(crate::layer::Error::from)?;
        let meta = slab
            .initdb("meta", plain)
            .await
            .map_err(crate::layer::Error::from)?;
        let views = Views {
            inner: Arc::new(Inner {
                dirn,
                slab,
                layerdefs,
                viewdefs,
                meta,
                model,
                abrvs: Arc::new(Abrvs::new()),
                hook: Arc::default(),
                layers: RwLock::new(HashMap::new()),
                views: RwLock::new(HashMap::new()),
                default: RwLock::new(String::new()),
                edit_lock: tokio::sync::Mutex::new(()),
            }),
        };
        views.load(creator).await?;
        Ok(views)
    }

    async fn read_defs(&self, db: Db) -> Result<Vec<Value>, Error> {
        let rows = self
            .inner
            .slab
            .snapshot(move |txn| {
                let mut out = Vec::new();
                for row in txn.scan(db, Scan::full())? {
                    let (_, val) = row?;
                    out.push(val.to_vec());
                }
                Ok::<_, synapse_slab::Error>(out)
            })
            .await
            .map_err(crate::layer::Error::from)?;
        rows.iter()
            .map(|byts| {
                unpackb(byts).ok_or_else(|| {
                    Error::Layer(crate::layer::Error::BadStorage("bad definition row".into()))
                })
            })
            .collect()
    }

    async fn load(&self, creator: &str) -> Result<(), Error> {
        for valu in self.read_defs(self.inner.layerdefs).await? {
            let def = LayerDef::from_value(&valu)?;
            self.open_layer(def).await?;
        }
        let mut defs = Vec::new();
        for valu in self.read_defs(self.inner.viewdefs).await? {
            defs.push(ViewDef::from_value(&valu)?);
        }
        for def in defs {
            self.install_view(def)?;
        }
        let default = self
            .inner
            .slab
            .get(self.inner.meta, b"default")
            .await
            .map_err(crate::layer::Error::from)?
            .and_then(|byts| String::from_utf8(byts).ok());
        match default {
            Some(iden) if self.view(&iden).is_some() => {
                *self.inner.default.write().unwrap_or_else(poisoned) = iden;
            }
            _ => {
                let mut ldef = LayerDef::new(creator);
                ldef.name = Some("default".into());
                let layer = self.add_layer(ldef).await?;
                let vdef = ViewDef {
                    iden: synapse_base::guid(),
                    name: Some("default".into()),
                    created: synapse_base::now_ms(),
                    creator: creator.to_owned(),
                    parent: None,
                    layers: vec![layer.iden()],
                    protected: false,
                    quorum: None,
                    merging: false,
                };
                let view = self.add_view(vdef).await?;
                let iden = view.iden();
                let meta = self.inner.meta;
                let key = iden.clone();
                self.inner
                    .slab
                    .write_commit(move |txn| txn.put(meta, b"default", key.as_bytes()).map(|_| ()))
                    .await
                    .map_err(crate::layer::Error::from)?;
                *self.inner.default.write().unwrap_or_else(poisoned) = iden;
            }
        }
        Ok(())
    }

    async fn open_layer(&self, def: LayerDef) -> Result<Layer, Error> {
        let dirn = self.inner.dirn.join("layers").join(&def.iden);
        let layer = Layer::open(dirn, def, Arc::clone(&self.inner.abrvs)).await?;
        self.inner
            .layers
            .write()
            .unwrap_or_else(poisoned)
            .insert(layer.iden(), layer.clone());
        Ok(layer)
    }

    fn install_view(&self, def: ViewDef) -> Result<View, Error> {
        let mut layers = Vec::new();
        for iden in &def.layers {
            layers.push(
                self.layer(iden)
                    .ok_or_else(|| Error::NoSuchLayer(iden.clone()))?,
            );
        }
        let mut layers = layers.into_iter();
        let top = layers
            .next()
            .ok_or_else(|| Error::BadArg("a view needs at least one layer".into()))?;
        let iden = def.iden.clone();
        let view = View {
            inner: Arc::new(ViewInner {
                def: RwLock::new(def),
                stack: RwLock::new(Stack {
                    top,
                    below: layers.collect(),
                }),
                model: Arc::clone(&self.inner.model),
                abrvs: Arc::clone(&self.inner.abrvs),
                hook: Arc::clone(&self.inner.hook),
            }),
        };
        self.inner
            .views
            .write()
            .unwrap_or_else(poisoned)
            .insert(iden, view.clone());
        Ok(view)
    }

    async fn put_def(&self, db: Db, iden: String, valu: Value) -> Result<(), Error> {
        let byts = packb(&valu);
        self.inner
            .slab
            .write_commit(move |txn| txn.put(db, iden.as_bytes(), &byts).map(|_| ()))
            .await
            .map_err(crate::layer::Error::from)?;
        Ok(())
    }

    async fn del_def(&self, db: Db, iden: String) -> Result<(), Error> {
        self.inner
            .slab
            .write_commit(move |txn| txn.delete(db, iden.as_bytes(), None).map(|_| ()))
            .await
            .map_err(crate::layer::Error::from)?;
        Ok(())
    }

    /// The model the views normalize with.
    pub fn model(&self) -> &Arc<Model> {
        &self.inner.model
    }

    /// The default view.
    pub fn default_view(&self) -> View {
        let iden = self.inner.default.read().unwrap_or_else(poisoned).clone();
        match self.view(&iden) {
            Some(view) => view,
            // `load` always installs the default view before `open` returns.
            None => self
                .views()
                .into_iter()
                .next()
                .unwrap_or_else(|| unreachable!("no views")),
        }
    }

    /// A view by iden.
    pub fn view(&self, iden: &str) -> Option<View> {
        self.inner
            .views
            .read()
            .unwrap_or_else(poisoned)
            .get(iden)
            .cloned()
    }

    /// A view by iden, or `NoSuchView`.
    pub fn req_view(&self, iden: &str) -> Result<View, Error> {
        self.view(iden)
            .ok_or_else(|| Error::NoSuchView(iden.to_owned()))
    }

    /// Every view.
    pub fn views(&self) -> Vec<View> {
        self.inner
            .views
            .read()
            .unwrap_or_else(poisoned)
            .values()
            .cloned()
            .collect()
    }

    /// A layer by iden.
    pub fn layer(&self, iden: &str) -> Option<Layer> {
        self.inner
            .layers
            .read()
            .unwrap_or_else(poisoned)
            .get(iden)
            .cloned()
    }

    /// Every layer.
    pub fn layers(&self) -> Vec<Layer> {
        self.inner
            .layers
            .read()
            .unwrap_or_else(poisoned)
            .values()
            .cloned()
            .collect()
    }

    /// Create a layer.
    pub async fn add_layer(&self, def: LayerDef) -> Result<Layer, Error> {
        if self.layer(&def.iden).is_some() {
            return Err(Error::BadArg(format!("layer {} already exists", def.iden)));
        }
        let layer = self.open_layer(def.clone()).await?;
        self.put_def(self.inner.layerdefs, def.iden.clone(), def.to_value())
            .await?;
        Ok(layer)
    }

    /// Persist a layer's current def (after [`Layer::set_info`]).
    pub async fn save_layer_def(&self, layer: &Layer) -> Result<(), Error> {
        let def = layer.def();
        self.put_def(self.inner.layerdefs, def.iden.clone(), def.to_value())
            .await
    }

    /// Create a view over existing layers.
    pub async fn add_view(&self, def: ViewDef) -> Result<View, Error> {
        if self.view(&def.iden).is_some() {
            return Err(Error::BadArg(format!("view {} already exists", def.iden)));
        }
        let view = self.install_view(def.clone())?;
        self.put_def(self.inner.viewdefs, def.iden.clone(), def.to_value(None))
            .await?;
        Ok(view)
    }

    /// Persist a view's changed def (name, protected).
    pub async fn set_view_info(
        &self,
        iden: &str,
        name: &str,
        valu: &Value,
    ) -> Result<ViewDef, Error> {
        let view = self.req_view(iden)?;
        let def = {
            let mut def = view.inner.def.write().unwrap_or_else(poisoned);
            match name {
                "name" => def.name = valu.as_str().map(str::to_owned),
                "protected" => def.protected = valu.as_bool().unwrap_or(false),
                "quorum" => def.quorum = Some(valu.clone()).filter(|q| !q.is_nil()),
                other => {
                    return Err(Error::BadArg(format!(
                        "{other} is not a valid view info key"
                    )));
                }
            }
            def.clone()
        };
        self.put_def(self.inner.viewdefs, def.iden.clone(), def.to_value(None))
            .await?;
        Ok(def)
    }

    /// Fork a view: a new view whose layers are a new empty layer on top of the parent's.
    pub async fn fork(
        &self,
        iden: &str,
        name: Option<String>,
        creator: &str,
    ) -> Result<View, Error> {
        let _guard = self.inner.edit_lock.lock().await;
        let parent = self.req_view(iden)?;
        let layer = self.add_layer(LayerDef::new(creator)).await?;
        let mut layers = vec![layer.iden()];
        layers.extend(parent.layers().iter().map(Layer::iden));
        let def = ViewDef {
            iden: synapse_base::guid(),
            name,
            created: synapse_base::now_ms(),
            creator: creator.to_owned(),
            parent: Some(parent.iden()),
            layers,
            protected: false,
            quorum: None,
            merging: false,
        };
        self.add_view(def).await
    }

    fn children(&self, iden: &str) -> Vec<View> {
        self.views()
            .into_iter()
            .filter(|v| v.def().parent.as_deref() == Some(iden))
            .collect()
    }

    /// Merge a fork into its parent by replaying its layer's content as nodeedits into the
    /// parent's write layer; with `delete`, then delete the fork view and its layer.
    pub async fn merge(&self, iden: &str, user: &str, delete: bool) -> Result<(), Error> {
        let view = self.req_view(iden)?;
        let def = view.def();
        let Some(parent_iden) = def.parent.clone() else {
            return Err(Error::CantMergeView(format!(
                "Cannot merge view ({iden}) that has not been forked."
            )));
        };
        if def.protected {
            return Err(Error::CantMergeView(format!(
                "Cannot merge view ({iden}) that has protected set."
            )));
        }
        if self
            .view(&parent_iden)
            .is_some_and(|parent| parent.def().quorum.is_some())
        {
            return Err(Error::CantMergeView(format!(
                "Cannot merge view({iden}). Parent view requires quorum voting."
            )));
        }
        if !self.children(iden).is_empty() {
            return Err(Error::CantMergeView(
                "Cannot merge a view that has children itself".into(),
            ));
        }
        let parent = self.req_view(&parent_iden)?;
        let target = parent.write_layer();
        if target.is_readonly() {
            return Err(Error::IsReadOnly(
                "May not merge if the parent's write layer is read-only".into(),
            ));
        }
        let source = view.write_layer();
        let mut edits = source.node_edits();
        let mut batch: Vec<NodeEdit> = Vec::new();
        while let Some(edit) = edits.try_next().await? {
            batch.push(edit);
            if batch.len() >= MERGE_BATCH {
                target
                    .apply(std::mem::take(&mut batch), EditMeta::now(user))
                    .await?;
            }
        }
        if !batch.is_empty() {
            target.apply(batch, EditMeta::now(user)).await?;
        }
        if delete {
            self.del_view(iden).await?;
            self.del_layer(&source.iden()).await?;
        }
        Ok(())
    }

    /// Delete a view (not its layers). The default view, protected views and views with
    /// children cannot be deleted.
    pub async fn del_view(&self, iden: &str) -> Result<(), Error> {
        let _guard = self.inner.edit_lock.lock().await;
        let view = self.req_view(iden)?;
        if view.def().protected {
            return Err(Error::CantDelView(format!(
                "Cannot delete view ({iden}) that has protected set."
            )));
        }
        if *self.inner.default.read().unwrap_or_else(poisoned) == iden {
            return Err(Error::SynErr("Cannot delete the main view".into()));
        }
        if !self.children(iden).is_empty() {
            return Err(Error::SynErr(
                "Cannot delete a view that has children".into(),
            ));
        }
        self.del_def(self.inner.viewdefs, iden.to_owned()).await?;
        self.inner
            .views
            .write()
            .unwrap_or_else(poisoned)
            .remove(iden);
        Ok(())
    }

    /// Delete a layer no view uses, and its files.
    pub async fn del_layer(&self, iden: &str) -> Result<(), Error> {
        let layer = self
            .layer(iden)
            .ok_or_else(|| Error::NoSuchLayer(iden.to_owned()))?;
        let used = self
            .views()
            .iter()
            .any(|view| view.def().layers.iter().any(|l| l == iden));
        if used {
            return Err(Error::LayerInUse(iden.to_owned()));
        }
        self.del_def(self.inner.layerdefs, iden.to_owned()).await?;
        self.inner
            .layers
            .write()
            .unwrap_or_else(poisoned)
            .remove(iden);
        layer.trash().await?;
        Ok(())
    }

    /// Close every layer and the registry.
    pub async fn fini(&self) {
        for layer in self.layers() {
            layer.fini().await;
        }
        self.inner.slab.fini().await;
    }
}
