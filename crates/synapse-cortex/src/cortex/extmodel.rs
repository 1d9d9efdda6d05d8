//! The extended model of a Cortex (the reference's `addForm`, `delForm`, `addFormProp`,
//! `delFormProp`, `addUnivProp`, `delUnivProp`, `getExtModel`, `addExtModel`): checks with the
//! reference's errors, persistence in `cortex.lmdb` (reloaded before the layers open) and the
//! removal of a property from every node (`force` of the Storm library).
//!
//! The model itself keeps the extensions as an overlay on the shared declarations
//! ([`crate::model::Model::add_ext_form`], ...).

use futures::TryStreamExt;
use rmpv::Value;
use serde_json::Value as Json;
use synapse_cell::{Error, Result, to_json};

use super::{Cortex, model_error, poisoned, storage::CoreStore, view_error};
use crate::model::{EdgeDef, Model};
use crate::nodeedit::{EditMeta, EditOp, NodeEdit};

fn named(class: &str, mesg: impl Into<String>) -> Error {
    super::error::named(class, mesg)
}

fn no_such_form(name: &str) -> Error {
    named("NoSuchForm", format!("No form named {name}.")).with("name", name)
}

fn as_map_json(valu: &Value) -> Option<serde_json::Map<String, Json>> {
    match valu {
        Value::Map(_) => to_json(valu).as_object().cloned(),
        _ => None,
    }
}

/// Load the persisted extensions into `model` (forms first, each as soon as its base type
/// exists, then form props, then universal props). Bad rows are logged and skipped, as the
/// reference does.
pub(super) async fn load(model: &Model, store: &CoreStore) -> Result<()> {
    let rows = store.ext_rows().await?;
    let part = |prefix: &str| -> Vec<&Value> {
        rows.iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(_, valu)| valu)
            .collect()
    };
    // types and forms may be based on other extended types: retried until nothing changes
    for (prefix, what) in [("type:", "type"), ("form:", "form")] {
        let mut decls = part(prefix);
        loop {
            let before = decls.len();
            let mut left = Vec::new();
            for decl in decls {
                if apply_type_or_form(model, what, decl).is_err() {
                    left.push(decl);
                }
            }
            if left.is_empty() || left.len() == before {
                for decl in &left {
                    if let Err(err) = apply_type_or_form(model, what, decl) {
                        tracing::warn!(decl = ?decl, cause = %err, "extended {what} error");
                    }
                }
                break;
            }
            decls = left;
        }
    }
    for decl in part("prop:") {
        let item = decl.as_array().map(Vec::as_slice).unwrap_or_default();
        let (Some(form), Some(prop), Some(tdef), Some(info)) = (
            item.first().and_then(Value::as_str),
            item.get(1).and_then(Value::as_str),
            item.get(2),
            item.get(3),
        ) else {
            tracing::warn!(decl = ?decl, "bad extended prop row");
            continue;
        };
        if let Err(err) = model.add_ext_prop(form, prop, &to_json(tdef), &to_json(info)) {
            tracing::warn!(form, prop, cause = %err, "ext prop error");
        }
    }
    for decl in part("univ:") {
        let item = decl.as_array().map(Vec::as_slice).unwrap_or_default();
        let (Some(name), Some(tdef), Some(info)) = (
            item.first().and_then(Value::as_str),
            item.get(1),
            item.get(2),
        ) else {
            tracing::warn!(decl = ?decl, "bad extended univ row");
            continue;
        };
        if let Err(err) = model.add_ext_univ(name, &to_json(tdef), &to_json(info)) {
            tracing::warn!(name, cause = %err, "ext univ error");
        }
    }
    for decl in part("edge:") {
        let item = decl.as_array().map(Vec::as_slice).unwrap_or_default();
        let Some((n1form, verb, n2form)) = item.first().and_then(edge_parts) else {
            tracing::warn!(decl = ?decl, "bad extended edge row");
            continue;
        };
        let edge = EdgeDef {
            n1form,
            verb,
            n2form,
            info: item.get(1).map(to_json).unwrap_or(Json::Null),
        };
        if let Err(err) = model.add_ext_edge(edge) {
            tracing::warn!(cause = %err, "ext edge error");
        }
    }
    Ok(())
}

/// `(n1form, verb, n2form)` of an edge tuple (forms `None` meaning any).
pub(crate) fn edge_parts(edge: &Value) -> Option<(Option<String>, String, Option<String>)> {
    let parts = edge.as_array()?;
    if parts.len() != 3 {
        return None;
    }
    let form = |valu: &Value| match valu {
        Value::Nil => Some(None),
        Value::String(text) => text.as_str().map(|t| Some(t.to_owned())),
        _ => None,
    };
    Some((
        form(&parts[0])?,
        parts[1].as_str()?.to_owned(),
        form(&parts[2])?,
    ))
}

fn edge_value(n1form: Option<&str>, verb: &str, n2form: Option<&str>) -> Value {
    let form = |f: Option<&str>| f.map_or(Value::Nil, Value::from);
    Value::Array(vec![form(n1form), Value::from(verb), form(n2form)])
}

fn edge_text(n1form: Option<&str>, verb: &str, n2form: Option<&str>) -> String {
    format!(
        "{} -({verb})> {}",
        n1form.unwrap_or("None"),
        n2form.unwrap_or("None")
    )
}

fn edge_err(
    class: &str,
    mesg: String,
    n1form: Option<&str>,
    verb: &str,
    n2form: Option<&str>,
) -> Error {
    let form = |f: Option<&str>| f.map_or(Value::Nil, Value::from);
    named(class, mesg)
        .with("n1form", form(n1form))
        .with("verb", verb)
        .with("n2form", form(n2form))
}

fn apply_type_or_form(model: &Model, what: &str, decl: &Value) -> crate::model::Result<()> {
    let item = decl.as_array().map(Vec::as_slice).unwrap_or_default();
    let bad = || crate::model::ModelError::BadFormDef {
        mesg: format!("bad extended {what} row"),
    };
    let name = item.first().and_then(Value::as_str).ok_or_else(bad)?;
    if model.ty(name).is_some() {
        return Ok(());
    }
    let base = item.get(1).and_then(Value::as_str).ok_or_else(bad)?;
    let opts = item.get(2).and_then(as_map_json).unwrap_or_default();
    let info = item.get(3).map(to_json).unwrap_or(Json::Null);
    if what == "type" {
        model.add_ext_type(name, base, &opts, &info)
    } else {
        model.add_ext_form(name, base, &opts, &info)
    }
}

impl Cortex {
    fn model_changed(&self) {
        *self.modeldict.write().unwrap_or_else(poisoned) = None;
    }

    /// Add an extended form (`addForm`): `formname` must begin with `_`; its type is
    /// `basetype` with `typeopts`, `typeinfo` its info. Persisted.
    pub async fn add_form(
        &self,
        formname: &str,
        basetype: &str,
        typeopts: &Value,
        typeinfo: &Value,
    ) -> Result<()> {
        let Some(opts) = as_map_json(typeopts) else {
            return Err(
                Error::bad_arg("Form type options should be a dict.").with("form", formname)
            );
        };
        if as_map_json(typeinfo).is_none() {
            return Err(Error::bad_arg("Form type info should be a dict.").with("form", formname));
        }
        if !formname.starts_with('_') {
            return Err(
                named("BadFormDef", "Extended form must begin with \"_\"").with("form", formname)
            );
        }
        if self.model.form(formname).is_some() {
            return Err(named(
                "DupFormName",
                format!("Form name already exists: {formname}"),
            ));
        }
        if self.model.ty(formname).is_some() {
            return Err(
                named("DupTypeName", format!("Type already exists: {formname}."))
                    .with("name", formname),
            );
        }
        if self.model.ty(basetype).is_none() {
            return Err(
                named("NoSuchType", format!("No type named {basetype}.")).with("name", basetype)
            );
        }
        if !crate::model::is_form_name(formname) {
            return Err(
                named("BadFormDef", format!("Invalid form name {formname}")).with("name", formname)
            );
        }
        self.model
            .add_ext_form(formname, basetype, &opts, &to_json(typeinfo))
            .map_err(model_error)?;
        let decl = Value::Array(vec![
            Value::from(formname),
            Value::from(basetype),
            typeopts.clone(),
            typeinfo.clone(),
        ]);
        if let Err(err) = self.store.put_ext(&format!("form:{formname}"), &decl).await {
            let _ = self.model.del_ext_form(formname);
            return Err(err);
        }
        self.model_changed();
        Ok(())
    }

    /// Remove an extended form (`delForm`): `CantDelForm` while nodes of the form exist in
    /// any layer or the form has extended props.
    pub async fn del_form(&self, formname: &str) -> Result<()> {
        if !formname.starts_with('_') {
            return Err(
                named("BadFormDef", "Extended form must begin with \"_\"").with("form", formname)
            );
        }
        if self.model.form(formname).is_none() {
            return Err(no_such_form(formname));
        }
        for layer in self.views.layers() {
            if layer
                .count_form(formname)
                .await
                .map_err(|e| view_error(e.into()))?
                > 0
            {
                return Err(named(
                    "CantDelForm",
                    format!(
                        "Nodes still exist with form: {formname} in layer {}",
                        layer.iden()
                    ),
                ));
            }
        }
        self.model.del_ext_form(formname).map_err(model_error)?;
        self.store.del_ext(&format!("form:{formname}")).await?;
        self.model_changed();
        Ok(())
    }

    /// Add an extended property to a form (`addFormProp`): the prop name must begin with `_`
    /// unless the form is an extended one. Persisted.
    pub async fn add_form_prop(
        &self,
        form: &str,
        prop: &str,
        tdef: &Value,
        info: &Value,
    ) -> Result<()> {
        if !matches!(tdef, Value::Array(_)) {
            return Err(
                Error::bad_arg("Form property type definitions should be a tuple.")
                    .with("form", form),
            );
        }
        if as_map_json(info).is_none() {
            return Err(
                Error::bad_arg("Form property definitions should be a dict.").with("form", form),
            );
        }
        if !prop.starts_with('_') && !form.starts_with('_') {
            return Err(named(
                "BadPropDef",
                "Extended prop must begin with \"_\" or be added to an extended form.",
            )
            .with("prop", prop));
        }
        let Some(fobj) = self.model.form(form) else {
            return Err(no_such_form(form));
        };
        if fobj.prop(prop).is_some() {
            return Err(named(
                "DupPropName",
                format!("Cannot add duplicate form prop {form} {prop}"),
            )
            .with("form", form)
            .with("prop", prop));
        }
        let jdef = to_json(tdef);
        self.req_typedef(&jdef)?;
        self.model
            .add_ext_prop(form, prop, &jdef, &to_json(info))
            .map_err(model_error)?;
        let decl = Value::Array(vec![
            Value::from(form),
            Value::from(prop),
            tdef.clone(),
            info.clone(),
        ]);
        if let Err(err) = self
            .store
            .put_ext(&format!("prop:{form}:{prop}"), &decl)
            .await
        {
            let _ = self.model.del_ext_prop(form, prop);
            return Err(err);
        }
        self.model_changed();
        Ok(())
    }

    /// The reference's `getTypeClone` check: `NoSuchType` for an unknown type name.
    fn req_typedef(&self, tdef: &Json) -> Result<()> {
        let tname = tdef.get(0).and_then(Json::as_str).unwrap_or_default();
        if self.model.ty(tname).is_none() {
            return Err(named("NoSuchType", format!("No type named {tname}.")).with("name", tname));
        }
        self.model.check_typedef(tdef).map_err(model_error)
    }

    /// Remove an extended form property (`delFormProp`): `CantDelProp` while nodes of any
    /// layer still have it.
    pub async fn del_form_prop(&self, form: &str, prop: &str) -> Result<()> {
        let full = format!("{form}:{prop}");
        if self.model.ext_prop_decl(form, prop).is_none() {
            return Err(named("NoSuchProp", format!("No ext prop named {full}"))
                .with("form", form)
                .with("prop", prop));
        }
        for layer in self.views.layers() {
            if layer
                .count_prop(form, prop)
                .await
                .map_err(|e| view_error(e.into()))?
                > 0
            {
                return Err(named(
                    "CantDelProp",
                    format!(
                        "Nodes still exist with prop: {full} in layer {}",
                        layer.iden()
                    ),
                ));
            }
        }
        self.model.del_ext_prop(form, prop).map_err(model_error)?;
        self.store.del_ext(&format!("prop:{full}")).await?;
        self.model_changed();
        Ok(())
    }

    /// Add an extended universal property `._name` (`addUnivProp`). Persisted.
    pub async fn add_univ_prop(&self, name: &str, tdef: &Value, info: &Value) -> Result<()> {
        if !matches!(tdef, Value::Array(_)) {
            return Err(
                Error::bad_arg("Universal property type definitions should be a tuple.")
                    .with("name", name),
            );
        }
        if as_map_json(info).is_none() {
            return Err(
                Error::bad_arg("Universal property definitions should be a dict.")
                    .with("name", name),
            );
        }
        if !name.starts_with('_') {
            return Err(
                named("BadPropDef", "ext univ name must start with \"_\"").with("name", name)
            );
        }
        let jdef = to_json(tdef);
        self.req_typedef(&jdef)?;
        let base = format!(".{name}");
        if self.model.prop(&base).is_some() {
            return Err(named(
                "DupPropName",
                format!("Cannot add duplicate universal property {base}"),
            )
            .with("prop", name));
        }
        self.model
            .add_ext_univ(name, &jdef, &to_json(info))
            .map_err(model_error)?;
        let decl = Value::Array(vec![Value::from(name), tdef.clone(), info.clone()]);
        if let Err(err) = self.store.put_ext(&format!("univ:{name}"), &decl).await {
            let _ = self.model.del_ext_univ(name);
            return Err(err);
        }
        self.model_changed();
        Ok(())
    }

    /// Remove an extended universal property (`delUnivProp`): `CantDelUniv` while nodes of
    /// any layer still have it.
    pub async fn del_univ_prop(&self, name: &str) -> Result<()> {
        if self.model.ext_univ_decl(name).is_none() {
            return Err(named("NoSuchUniv", format!("No ext univ named {name}")).with("name", name));
        }
        let base = format!(".{name}");
        for layer in self.views.layers() {
            if layer
                .count_univ(&base)
                .await
                .map_err(|e| view_error(e.into()))?
                > 0
            {
                return Err(named(
                    "CantDelUniv",
                    format!(
                        "Nodes still exist with universal prop: {name} in layer {}",
                        layer.iden()
                    ),
                ));
            }
        }
        self.model.del_ext_univ(name).map_err(model_error)?;
        self.store.del_ext(&format!("univ:{name}")).await?;
        self.model_changed();
        Ok(())
    }

    /// Add an extended type (`addType`): `typename` must begin with `_`. Persisted.
    pub async fn add_type(
        &self,
        typename: &str,
        basetype: &str,
        typeopts: &Value,
        typeinfo: &Value,
    ) -> Result<()> {
        let Some(opts) = as_map_json(typeopts) else {
            return Err(Error::bad_arg("Type options should be a dict.").with("type", typename));
        };
        if as_map_json(typeinfo).is_none() {
            return Err(Error::bad_arg("Type info should be a dict.").with("type", typename));
        }
        if !typename.starts_with('_') {
            return Err(
                named("BadTypeDef", "Extended type must begin with \"_\".").with("type", typename)
            );
        }
        if self.model.ty(typename).is_some() {
            return Err(
                named("DupTypeName", format!("Type already exists: {typename}."))
                    .with("name", typename),
            );
        }
        if self.model.ty(basetype).is_none() {
            return Err(named(
                "NoSuchType",
                format!("Specified base type {basetype} does not exist."),
            )
            .with("name", basetype));
        }
        self.model
            .add_ext_type(typename, basetype, &opts, &to_json(typeinfo))
            .map_err(model_error)?;
        let decl = Value::Array(vec![
            Value::from(typename),
            Value::from(basetype),
            typeopts.clone(),
            typeinfo.clone(),
        ]);
        if let Err(err) = self.store.put_ext(&format!("type:{typename}"), &decl).await {
            let _ = self.model.del_ext_type(typename);
            return Err(err);
        }
        self.model_changed();
        Ok(())
    }

    /// Remove an extended type (`delType`): `CantDelType` while it is in use.
    pub async fn del_type(&self, typename: &str) -> Result<()> {
        if !typename.starts_with('_') {
            return Err(
                named("BadTypeDef", "Extended type must begin with \"_\".").with("type", typename)
            );
        }
        if self.model.ty(typename).is_none() {
            return Err(
                named("NoSuchType", format!("No type named {typename}.")).with("name", typename)
            );
        }
        self.model.del_ext_type(typename).map_err(model_error)?;
        self.store.del_ext(&format!("type:{typename}")).await?;
        self.model_changed();
        Ok(())
    }

    /// Declare a light edge (`addEdge`): `edge` is `(n1form, verb, n2form)` (forms may be
    /// null), the verb must begin with `_`. Persisted.
    pub async fn add_edge(&self, edge: &Value, edgeinfo: &Value) -> Result<()> {
        if as_map_json(edgeinfo).is_none() {
            return Err(
                Error::bad_arg("Edge info should be a dict.").with("edgeinfo", edgeinfo.clone())
            );
        }
        let Some((n1form, verb, n2form)) = edge_parts(edge) else {
            return Err(Error::bad_arg(format!(
                "Edge definition must be (n1form, verb, n2form): {edge}"
            )));
        };
        let (n1, n2) = (n1form.as_deref(), n2form.as_deref());
        if !verb.starts_with('_') {
            return Err(edge_err(
                "BadEdgeDef",
                format!("Extended edge verb must begin with \"_\"; got {verb}"),
                n1,
                &verb,
                n2,
            ));
        }
        for form in [n1, n2].into_iter().flatten() {
            if self.model.form(form).is_none() {
                return Err(no_such_form(form));
            }
        }
        if self.model.has_edge(n1, &verb, n2) {
            return Err(edge_err(
                "DupEdgeType",
                format!("Edge already exists: {}.", edge_text(n1, &verb, n2)),
                n1,
                &verb,
                n2,
            ));
        }
        let key = edge_value(n1, &verb, n2);
        self.model
            .add_ext_edge(EdgeDef {
                n1form: n1form.clone(),
                verb: verb.clone(),
                n2form: n2form.clone(),
                info: to_json(edgeinfo),
            })
            .map_err(model_error)?;
        let decl = Value::Array(vec![key.clone(), edgeinfo.clone()]);
        let row = format!("edge:{}", crate::model::guid_of(&key));
        if let Err(err) = self.store.put_ext(&row, &decl).await {
            self.model.del_ext_edge(n1, &verb, n2);
            return Err(err);
        }
        self.model_changed();
        Ok(())
    }

    /// Remove a light edge declared at runtime (`delEdge`): `NoSuchEdge` otherwise.
    pub async fn del_edge(&self, edge: &Value) -> Result<()> {
        let Some((n1form, verb, n2form)) = edge_parts(edge) else {
            return Err(Error::bad_arg(format!(
                "Edge definition must be (n1form, verb, n2form): {edge}"
            )));
        };
        let (n1, n2) = (n1form.as_deref(), n2form.as_deref());
        if !self.model.del_ext_edge(n1, &verb, n2) {
            return Err(edge_err(
                "NoSuchEdge",
                format!("No edge defined for {}.", edge_text(n1, &verb, n2)),
                n1,
                &verb,
                n2,
            ));
        }
        let key = edge_value(n1, &verb, n2);
        self.store
            .del_ext(&format!("edge:{}", crate::model::guid_of(&key)))
            .await?;
        self.model_changed();
        Ok(())
    }

    /// `getExtModel()`: `{forms, props, univs, tagprops, edges}` as declared (keys only when
    /// non-empty) and `version`.
    pub async fn get_ext_model(&self) -> Result<Value> {
        let mut out: Vec<(Value, Value)> = Vec::new();
        let mut add = |key: &str, items: Vec<Value>| {
            if !items.is_empty() {
                out.push((Value::from(key), Value::Array(items)));
            }
        };
        let rows = self.store.ext_rows().await?;
        let part = |prefix: &str| -> Vec<Value> {
            rows.iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .map(|(_, valu)| valu.clone())
                .collect()
        };
        add("types", part("type:"));
        add("forms", part("form:"));
        add("props", part("prop:"));
        add("univs", part("univ:"));
        let tagprops = self
            .store
            .tagprops()
            .await?
            .into_iter()
            .map(|(name, tdef, info)| {
                Value::Array(vec![
                    Value::from(name),
                    synapse_cell::from_json(&tdef),
                    synapse_cell::from_json(&info),
                ])
            })
            .collect();
        add("tagprops", tagprops);
        add("edges", part("edge:"));
        out.push((
            Value::from("version"),
            Value::Array(vec![Value::from(1), Value::from(0)]),
        ));
        Ok(Value::Map(out))
    }

    /// `addExtModel(model)`: add what `model` (a `getExtModel()` result) has and this Cortex
    /// lacks; an element present with another definition is refused (`BadFormDef`,
    /// `BadPropDef`) before anything is added.
    pub async fn add_ext_model(&self, model: &Value) -> Result<bool> {
        let current = self.get_ext_model().await?;
        let items = |doc: &Value, key: &str| -> Vec<Value> {
            synapse_cell::map_get(doc, key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let keyof = |item: &Value, width: usize| -> Vec<Json> {
            item.as_array()
                .map(|parts| parts.iter().take(width).map(to_json).collect())
                .unwrap_or_default()
        };
        let mut todo: Vec<(&str, Value)> = Vec::new();
        for (key, width, class, what) in [
            ("types", 1, "BadTypeDef", "type"),
            ("forms", 1, "BadFormDef", "form"),
            ("props", 2, "BadPropDef", "prop"),
            ("tagprops", 1, "BadPropDef", "tagprop"),
            ("univs", 1, "BadPropDef", "universal property"),
            ("edges", 1, "BadEdgeDef", "edge"),
        ] {
            let have = items(&current, key);
            for item in items(model, key) {
                let ikey = keyof(&item, width);
                match have.iter().find(|h| keyof(h, width) == ikey) {
                    None => todo.push((key, item)),
                    Some(old) if to_json(old) == to_json(&item) => {}
                    Some(_) => {
                        let name = ikey
                            .iter()
                            .map(|p| p.as_str().unwrap_or_default().to_owned())
                            .collect::<Vec<_>>();
                        let mesg = match key {
                            "forms" | "types" => format!(
                                "Extended {what} definition differs from existing definition for {}.",
                                name.join("")
                            ),
                            "univs" => format!(
                                "Extended universal property definition differs from existing definition for {}",
                                name.join("")
                            ),
                            _ => format!(
                                "Extended {what} definition differs from existing definition for {}",
                                if key == "props" {
                                    format!(
                                        "('{}', '{}')",
                                        name[0],
                                        name.get(1).cloned().unwrap_or_default()
                                    )
                                } else {
                                    name.join("")
                                }
                            ),
                        };
                        if key == "edges" {
                            let edge = item
                                .as_array()
                                .and_then(|p| p.first())
                                .cloned()
                                .unwrap_or(Value::Nil);
                            let (n1, verb, n2) = edge_parts(&edge).unwrap_or_default();
                            let mesg = format!(
                                "Extended edge definition differs from existing definition for {}",
                                py_tuple(&edge)
                            );
                            return Err(edge_err(class, mesg, n1.as_deref(), &verb, n2.as_deref()));
                        }
                        return Err(named(class, mesg).with("name", to_json_name(&ikey)));
                    }
                }
            }
        }
        for key in ["types", "forms", "props", "tagprops", "univs", "edges"] {
            for (_, item) in todo.iter().filter(|(k, _)| *k == key) {
                let parts = item.as_array().map(Vec::as_slice).unwrap_or_default();
                let arg = |i: usize| parts.get(i).cloned().unwrap_or(Value::Nil);
                let text = |i: usize| arg(i).as_str().unwrap_or_default().to_owned();
                match key {
                    "types" => self.add_type(&text(0), &text(1), &arg(2), &arg(3)).await?,
                    "forms" => self.add_form(&text(0), &text(1), &arg(2), &arg(3)).await?,
                    "props" => {
                        self.add_form_prop(&text(0), &text(1), &arg(2), &arg(3))
                            .await?;
                    }
                    "tagprops" => self.add_tagprop(&text(0), &arg(1), &arg(2)).await?,
                    "edges" => self.add_edge(&arg(0), &arg(1)).await?,
                    _ => self.add_univ_prop(&text(0), &arg(1), &arg(2)).await?,
                }
            }
        }
        Ok(true)
    }

    /// Delete a property (relative `prop` of `form`, or a universal `.name` with `form`
    /// `None`) from every node of every layer, without triggers (the `force` of
    /// `$lib.model.ext.delFormProp` / `delUnivProp`).
    pub async fn del_prop_everywhere(
        &self,
        form: Option<&str>,
        prop: &str,
        user: &str,
    ) -> Result<()> {
        self.del_everywhere(user, |sode| {
            if form.is_some_and(|form| sode.form.as_deref() != Some(form)) {
                return Vec::new();
            }
            sode.prop(prop)
                .map(|(_, stortype)| {
                    vec![EditOp::PropDel {
                        prop: prop.to_owned(),
                        oldv: Value::Nil,
                        stortype,
                    }]
                })
                .unwrap_or_default()
        })
        .await
    }

    /// Delete a tag property from every node of every layer, without triggers.
    pub async fn del_tagprop_everywhere(&self, name: &str, user: &str) -> Result<()> {
        self.del_everywhere(user, |sode| {
            let mut ops = Vec::new();
            for (tag, props) in &sode.tagprops {
                for (pname, _, stortype) in props {
                    if pname == name {
                        ops.push(EditOp::TagPropDel {
                            tag: tag.clone(),
                            prop: pname.clone(),
                            oldv: Value::Nil,
                            stortype: *stortype,
                        });
                    }
                }
            }
            ops
        })
        .await
    }

    async fn del_everywhere<F>(&self, user: &str, edits_of: F) -> Result<()>
    where
        F: Fn(&crate::layer::Sode) -> Vec<EditOp>,
    {
        for layer in self.views.layers() {
            let mut batch = Vec::new();
            let mut sodes = layer.sodes();
            while let Some((buid, sode)) = sodes
                .try_next()
                .await
                .map_err(|err| view_error(err.into()))?
            {
                let ops = edits_of(&sode);
                if ops.is_empty() {
                    continue;
                }
                batch.push(NodeEdit::new(
                    buid,
                    sode.form.clone().unwrap_or_default(),
                    ops,
                ));
                if batch.len() >= 1000 {
                    layer
                        .apply(std::mem::take(&mut batch), EditMeta::now(user))
                        .await
                        .map_err(|err| view_error(err.into()))?;
                }
            }
            drop(sodes);
            if !batch.is_empty() {
                layer
                    .apply(batch, EditMeta::now(user))
                    .await
                    .map_err(|err| view_error(err.into()))?;
            }
        }
        Ok(())
    }
}

/// A Python repr of an edge tuple: `('n1', 'verb', None)`.
fn py_tuple(edge: &Value) -> String {
    let parts: Vec<String> = edge
        .as_array()
        .into_iter()
        .flatten()
        .map(|part| match part.as_str() {
            Some(text) => format!("'{text}'"),
            None => "None".to_owned(),
        })
        .collect();
    format!("({})", parts.join(", "))
}

fn to_json_name(parts: &[Json]) -> Value {
    match parts {
        [one] => synapse_cell::from_json(one),
        more => Value::Array(more.iter().map(synapse_cell::from_json).collect()),
    }
}
