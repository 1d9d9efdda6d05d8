//! Static information about the Cortex: the model export (`getModelDict`, `getModelDefs`),
//! norm results as the reference's info dicts, core info and core modules.

use std::sync::LazyLock;

use rmpv::Value;
use serde_json::Value as Json;
use synapse_cell::{Error, Result, from_json};

use crate::model::{Model, NormInfo, Type};

/// The reference's `getModelDefs()` (2.256), shipped with the crate.
const MODELDEFS_JSON: &str = include_str!("../../data/modeldefs-2.256.json");

static MODELDEFS: LazyLock<Option<Json>> =
    LazyLock::new(|| serde_json::from_str(MODELDEFS_JSON).ok());

/// `getModelDict()` of `model`, with its current tag properties.
pub(crate) fn model_dict_value(model: &Model) -> Value {
    let mut dict = model.model_dict().clone();
    model.ext_model_dict(&mut dict);
    if let Some(obj) = dict.as_object_mut() {
        obj.insert(
            "tagprops".to_string(),
            Json::Object((*model.tagprops()).clone()),
        );
    }
    from_json(&dict)
}

/// `getModelDefs()`: the shipped defs with the current tag properties as
/// `(name, (type, opts), info)` triples.
pub(crate) fn model_defs_value(model: &Model) -> Result<Value> {
    let mut defs = MODELDEFS
        .clone()
        .ok_or_else(|| Error::storage("the shipped model defs do not parse"))?;
    let tagprops: Vec<Json> = model
        .tagprops()
        .values()
        .map(|pdef| {
            Json::Array(vec![
                pdef.get("name").cloned().unwrap_or(Json::Null),
                pdef.get("type").cloned().unwrap_or(Json::Null),
                pdef.get("info").cloned().unwrap_or(Json::Null),
            ])
        })
        .collect();
    if let Some(moddef) = defs
        .get_mut(0)
        .and_then(|pair| pair.get_mut(1))
        .and_then(Json::as_object_mut)
    {
        moddef.insert("tagprops".to_string(), Json::Array(tagprops));
        let ext = model.ext_model_defs();
        let push = |moddef: &mut serde_json::Map<String, Json>, key: &str, items: Vec<Json>| {
            if let Some(list) = moddef.get_mut(key).and_then(Json::as_array_mut) {
                list.extend(items);
            }
        };
        push(moddef, "types", ext.types);
        push(moddef, "forms", ext.forms);
        push(moddef, "univs", ext.univs.clone());
        push(moddef, "edges", ext.edges);
        // Forms carry their props: extended ones of shared forms, and every form a copy of
        // each extended universal prop.
        if let Some(forms) = moddef.get_mut("forms").and_then(Json::as_array_mut) {
            for fdef in forms.iter_mut() {
                let fname = fdef
                    .get(0)
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let Some(props) = fdef.get_mut(2).and_then(Json::as_array_mut) else {
                    continue;
                };
                if let Some((_, more)) = ext.props.iter().find(|(name, _)| *name == fname) {
                    props.extend(more.iter().cloned());
                }
            }
        }
    }
    Ok(from_json(&defs))
}

fn info_map(info: &NormInfo, with_adds: bool) -> Value {
    let mut map = Vec::new();
    if !info.subs.is_empty() {
        let subs = info
            .subs
            .iter()
            .map(|(name, valu)| (Value::from(name.as_str()), valu.clone()))
            .collect();
        map.push((Value::from("subs"), Value::Map(subs)));
    }
    if with_adds || !info.adds.is_empty() {
        let adds = info
            .adds
            .iter()
            .map(|add| {
                Value::Array(vec![
                    Value::from(add.form.as_str()),
                    add.valu.clone(),
                    info_map(&add.info, false),
                ])
            })
            .collect();
        map.push((Value::from("adds"), Value::Array(adds)));
    }
    if !info.toks.is_empty() {
        let toks = info.toks.iter().map(|t| Value::from(t.as_str())).collect();
        map.push((Value::from("toks"), Value::Array(toks)));
    }
    Value::Map(map)
}

/// A norm's info as the reference's dict: `subs` (if any), `adds` (if any, and always for
/// arrays) with each added node's own info, `toks` (tags).
pub(crate) fn norm_info_value(ty: &Type<'_>, info: &NormInfo) -> Value {
    info_map(info, ty.array_elem().is_some())
}

/// The model modules the reference loads (`getCoreMods()`), each with an empty conf.
const CORE_MODS: &[&str] = &[
    "synapse.models.doc.DocModule",
    "synapse.models.dns.DnsModule",
    "synapse.models.orgs.OuModule",
    "synapse.models.syn.SynModule",
    "synapse.models.auth.AuthModule",
    "synapse.models.base.BaseModule",
    "synapse.models.math.MathModule",
    "synapse.models.risk.RiskModule",
    "synapse.models.person.PsModule",
    "synapse.models.files.FileModule",
    "synapse.models.infotech.ItModule",
    "synapse.models.geospace.GeoModule",
    "synapse.models.media.MediaModule",
    "synapse.models.geopol.PolModule",
    "synapse.models.telco.TelcoModule",
    "synapse.models.inet.InetModule",
    "synapse.models.material.MatModule",
    "synapse.models.entity.EntityModule",
    "synapse.models.language.LangModule",
    "synapse.models.crypto.CryptoModule",
    "synapse.models.gov.cn.GovCnModule",
    "synapse.models.gov.us.GovUsModule",
    "synapse.models.gov.intl.GovIntlModule",
    "synapse.models.economic.EconModule",
    "synapse.models.transport.TransportModule",
    "synapse.models.proj.ProjectModule",
    "synapse.models.biz.BizModule",
    "synapse.models.belief.BeliefModule",
    "synapse.models.science.ScienceModule",
    "synapse.models.planning.PlanModule",
];

/// `getCoreMods()`: `[(modname, conf), ...]`.
pub(crate) fn core_mods_value() -> Value {
    Value::Array(
        CORE_MODS
            .iter()
            .map(|name| Value::Array(vec![Value::from(*name), Value::Map(Vec::new())]))
            .collect(),
    )
}

/// The feed functions (`getFeedFuncs()`): only `syn.nodes` is built in.
pub(crate) fn feed_funcs_value() -> Value {
    let doc = "Add nodes to the Cortex via the packed node format.";
    Value::Array(vec![synapse_cell::map([
        ("name", Value::from("syn.nodes")),
        ("desc", Value::from(doc)),
        ("fulldoc", Value::from(doc)),
    ])])
}
