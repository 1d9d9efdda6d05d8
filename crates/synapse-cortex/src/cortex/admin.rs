//! Administration of the Cortex from Storm: adding views and layers with their auth gates,
//! layer settings, the light edge verb docs and the deprecated model element locks (both kept
//! in the cell's hive, where the reference keeps them), and the permission definitions.

use rmpv::Value;
use synapse_cell::{ErrKind, Error, Result, Rule};

use super::{Cortex, view_error};
use crate::layer::{Layer, LayerDef};
use crate::view::{View, ViewDef};

/// The hive path of a verb's edge docs (the reference's `cortex/model/edges/<verb>/extprops`).
fn edge_path(verb: &str) -> [&str; 5] {
    ["cortex", "model", "edges", verb, "extprops"]
}

/// The hive path of the deprecated element locks.
const DEPR_PATH: [&str; 3] = ["cortex", "model", "deprlocks"];

/// Deprecated elements a new Cortex locks (the reference's model migrations lock them).
const LOCKED_AT_BOOT: &[&str] = &[
    "crypto:currency:transaction:inputs",
    "crypto:currency:transaction:outputs",
];

/// The reference's permission definitions (`getPermDefs()` of a Cortex without packages),
/// recorded from 2.256 by `tests/core/gen_admin.py`.
const PERMDEFS: &str = include_str!("../../data/permdefs-2.256.json");

fn no_hive() -> Error {
    Error::new(ErrKind::SynErr, "This cortex has no hive.")
}

impl Cortex {
    /// `addLayer()`: a new empty layer made by `creator` (admin of its new auth gate).
    pub async fn add_layer(
        &self,
        creator: &str,
        name: Option<String>,
        readonly: bool,
        logedits: Option<bool>,
    ) -> Result<Layer> {
        let mut def = LayerDef::new(creator);
        def.name = name;
        def.readonly = readonly;
        if let Some(logedits) = logedits {
            def.logedits = logedits;
        }
        let layer = self.views.add_layer(def).await.map_err(view_error)?;
        let auth = self.cell.auth();
        auth.add_auth_gate(&layer.iden(), "layer").await?;
        auth.set_user_admin(creator, true, Some(&layer.iden()))
            .await?;
        Ok(layer)
    }

    /// `addView()`: a new view over existing layers (top first), its creator admin of its
    /// auth gate; `worldreadable` lets the `all` role read it.
    pub async fn add_view(
        &self,
        creator: &str,
        layers: Vec<String>,
        name: Option<String>,
        worldreadable: bool,
    ) -> Result<View> {
        for iden in &layers {
            if self.views.layer(iden).is_none() {
                return Err(Error::named("NoSuchLayer", format!("No such layer {iden}"))
                    .with("iden", iden.as_str()));
            }
        }
        if self.cell.auth().user(creator).is_none() {
            return Err(Error::new(
                ErrKind::NoSuchUser,
                format!("No user with iden {creator}."),
            ));
        }
        let def = ViewDef {
            iden: synapse_base::guid(),
            name,
            created: synapse_base::now_ms(),
            creator: creator.to_owned(),
            parent: None,
            layers,
            protected: false,
            quorum: None,
            merging: false,
        };
        let view = self.views.add_view(def).await.map_err(view_error)?;
        let auth = self.cell.auth();
        let iden = view.iden();
        auth.add_auth_gate(&iden, "view").await?;
        auth.set_user_admin(creator, true, Some(&iden)).await?;
        if worldreadable {
            let all = auth.all_role_iden();
            auth.add_role_rule(&all, Rule::new(true, &["view", "read"]), None, Some(&iden))
                .await?;
        }
        Ok(view)
    }

    /// `setLayerInfo()`: change `name`, `readonly` or `logedits` of a layer and persist it.
    pub async fn set_layer_info(&self, iden: &str, name: &str, valu: &Value) -> Result<Value> {
        let layer = self.views.layer(iden).ok_or_else(|| {
            Error::named("NoSuchLayer", format!("No such layer {iden}")).with("iden", iden)
        })?;
        layer
            .set_info(name, valu)
            .map_err(|err| view_error(err.into()))?;
        self.views
            .save_layer_def(&layer)
            .await
            .map_err(view_error)?;
        Ok(valu.clone())
    }

    // ----- light edge verb docs -----

    /// The key-value docs of an edge verb (empty when none are set).
    pub fn edge_verb_info(&self, verb: &str) -> Vec<(String, Value)> {
        let Some(hive) = self.cell.hive() else {
            return Vec::new();
        };
        match hive.get(&edge_path(verb)) {
            Some(Value::Map(items)) => items
                .into_iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Replace the key-value docs of an edge verb.
    pub async fn set_edge_verb_info(&self, verb: &str, info: Vec<(String, Value)>) -> Result<()> {
        let hive = self.cell.hive().ok_or_else(no_hive)?;
        let map = Value::Map(
            info.into_iter()
                .map(|(k, v)| (Value::from(k.as_str()), v))
                .collect(),
        );
        hive.set(&edge_path(verb), map)
            .await
            .map_err(|err| Error::new(ErrKind::SynErr, err.to_string()))?;
        Ok(())
    }

    // ----- deprecated model elements -----

    /// `getDeprLocks()`: every deprecated form and property (universal properties only by
    /// their own name) with its lock status.
    pub fn depr_locks(&self) -> Vec<(String, bool)> {
        let saved = self
            .cell
            .hive()
            .and_then(|hive| hive.get(&DEPR_PATH))
            .unwrap_or(Value::Nil);
        let locked = |name: &str| {
            crate::layer::map_get(&saved, name)
                .and_then(Value::as_bool)
                .unwrap_or(LOCKED_AT_BOOT.contains(&name))
        };
        let mut out = Vec::new();
        for form in self.model.forms() {
            if form.is_deprecated() {
                out.push((form.name().to_owned(), locked(form.name())));
            }
            for prop in form.props() {
                if prop.is_deprecated() && !prop.is_univ() {
                    out.push((prop.full().to_owned(), locked(prop.full())));
                }
            }
        }
        out
    }

    /// `setDeprLock()`: lock or unlock a deprecated form, property or type.
    pub async fn set_depr_lock(&self, name: &str, locked: bool) -> Result<()> {
        let model = &self.model;
        let prop = model.prop(name).is_some_and(|p| p.is_deprecated());
        let ty = model.ty(name).is_some_and(|t| t.is_deprecated());
        if !prop && !ty {
            return Err(Error::named(
                "NoSuchProp",
                "setDeprLock() called on non-existant or non-deprecated form, property, or type.",
            )
            .with("name", name));
        }
        let hive = self.cell.hive().ok_or_else(no_hive)?;
        let mut saved = match hive.get(&DEPR_PATH) {
            Some(Value::Map(items)) => items,
            _ => Vec::new(),
        };
        saved.retain(|(k, _)| k.as_str() != Some(name));
        saved.push((Value::from(name), Value::Boolean(locked)));
        hive.set(&DEPR_PATH, Value::Map(saved))
            .await
            .map_err(|err| Error::new(ErrKind::SynErr, err.to_string()))?;
        model.set_depr_locked(name, locked);
        Ok(())
    }

    // ----- permissions -----

    /// `getPermDefs()`: the permission definitions of the Cortex and those of its Storm
    /// packages (`perms` of each package), sorted by permission.
    pub fn perm_defs(&self) -> Vec<Value> {
        let json: serde_json::Value = serde_json::from_str(PERMDEFS).unwrap_or_default();
        let mut defs: Vec<Value> = json
            .as_array()
            .into_iter()
            .flatten()
            .map(synapse_cell::from_json)
            .collect();
        for pkg in self.storm_pkgs() {
            if let Some(Value::Array(perms)) = crate::layer::map_get(&pkg, "perms") {
                defs.extend(perms.iter().cloned());
            }
        }
        // Python's sort of the `perm` tuples (stable): element by element.
        let key = |def: &Value| -> Vec<String> {
            crate::layer::map_get(def, "perm")
                .and_then(Value::as_array)
                .map(|parts| {
                    parts
                        .iter()
                        .map(|p| p.as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        defs.sort_by_cached_key(key);
        defs
    }
}
