//! The typed data model: types, forms, properties and their normalization.
//!
//! The declarations (types with their options, forms, properties, interfaces, edges) are
//! loaded from the reference's model export (`getModelDict()` of Synapse 2.256), shipped in the
//! crate. The behaviour of every base type class is implemented in Rust.
//!
//! ```
//! use synapse_cortex::model::Model;
//! use rmpv::Value;
//!
//! let model = Model::load_default().expect("model");
//! let ty = model.ty("inet:ipv4").expect("type");
//! let (norm, info) = ty.norm(&Value::from("1.2.3.4")).expect("norm");
//! assert_eq!(norm, Value::from(16909060));
//! assert_eq!(info.sub("type"), Some(&Value::from("unicast")));
//! assert_eq!(ty.repr(&norm).expect("repr"), Value::from("1.2.3.4"));
//! ```

mod cmpr;
mod cpe;
mod cvss;
mod error;
mod ext;
mod inet;
mod misc;
mod numeric;
mod tagmodel;
pub mod time;
mod types;
pub mod value;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use rmpv::Value;
use serde_json::{Map, Value as Json};

pub use cmpr::{Cmpr, StorLift};
pub use error::{ModelError, Result};
pub use ext::{ExtDefs, is_form_name};
pub(crate) use inet::fqdn_idna_ok;
pub use types::{Type, stortype};
pub use value::{buid, guid_of, guid_random, iden, packb};

use types::{TypeDef, TypeId};

/// The reference model export shipped with the crate (`getModelDict()` of Synapse 2.256).
pub const MODEL_JSON: &str = include_str!("../data/model-2.256.json");

/// Additional information produced by normalization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormInfo {
    /// Secondary property values derived from the value (`{relprop: norm}`, in order).
    pub subs: Vec<(String, Value)>,
    /// Nodes the value refers to that must exist (comp fields, ndefs, array elements).
    pub adds: Vec<AutoAdd>,
    /// Tag parts (syn:tag only).
    pub toks: Vec<String>,
}

impl NormInfo {
    /// The value of one sub, by relative property name.
    pub fn sub(&self, name: &str) -> Option<&Value> {
        self.subs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A node to create automatically, with its normalized value and norm info.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoAdd {
    /// The form name.
    pub form: String,
    /// The normalized primary value.
    pub valu: Value,
    /// The norm info of the value (its own subs and adds).
    pub info: NormInfo,
}

#[derive(Debug)]
pub(crate) struct FormDef {
    name: String,
    ty: TypeId,
    props: Vec<usize>,
    prop_index: HashMap<String, usize>,
    ifaces: Vec<String>,
    runt: bool,
}

#[derive(Debug)]
pub(crate) struct PropDef {
    name: String,
    full: String,
    form: Option<usize>,
    ty: TypeId,
    stortype: i64,
    ro: bool,
    deprecated: bool,
}

/// A light edge declaration `(n1form, verb, n2form)`, forms `None` meaning any.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeDef {
    /// Source form, if restricted.
    pub n1form: Option<String>,
    /// The verb.
    pub verb: String,
    /// Destination form, if restricted.
    pub n2form: Option<String>,
    /// Edge info (`doc`).
    pub info: Json,
}

/// The data model: every type, form, property, interface and documented edge.
///
/// The declarations are immutable once loaded and shared ([`Model::new_default`] gives a model
/// of its own over the process-wide shipped declarations); tag properties and the extended
/// model (forms, props, universal props, types and edges added at runtime:
/// [`Model::add_ext_form`], ...) are per model, an overlay on the shared declarations.
#[derive(Debug)]
pub struct Model {
    core: Arc<Core>,
    /// Tag properties: the declared ones, then those added at runtime
    /// ([`Model::add_tagprop`]); replaced as a whole on change.
    tagprops: RwLock<Arc<Map<String, Json>>>,
    /// Forms and props added at runtime, over the shared declarations.
    ext: ext::Ext,
    /// The tag model and the deprecation locks of the Cortex using this model.
    rules: tagmodel::Rules,
}

/// The immutable declarations of a model.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) types: Vec<TypeDef>,
    type_index: HashMap<String, TypeId>,
    clone_index: HashMap<(String, String), TypeId>,
    forms: Vec<FormDef>,
    form_index: HashMap<String, usize>,
    props: Vec<PropDef>,
    prop_index: HashMap<String, usize>,
    univs: Vec<usize>,
    interfaces: Map<String, Json>,
    iface_forms: HashMap<String, Vec<String>>,
    edges: Vec<EdgeDef>,
    /// The declared tag properties.
    tagprops: Arc<Map<String, Json>>,
    /// The `getModelDict()` document, parsed on first use when it comes from static text
    /// (docs and infos are read from it: the model itself needs only a few flags of them).
    dict: OnceLock<Json>,
    source: Option<&'static str>,
}

fn flag(def: &Json, name: &str) -> bool {
    def.get(name).and_then(Json::as_bool).unwrap_or(false)
}

/// A named type as declared: (name, ctor, merged opts, info, stortype).
type RawType = (String, String, Map<String, Json>, Json, i64);

static DEFAULT: LazyLock<std::result::Result<Arc<Model>, ModelError>> = LazyLock::new(|| {
    let dict = parse_json(MODEL_JSON)?;
    Core::build(dict, Some(MODEL_JSON)).map(|core| Arc::new(Model::over(Arc::new(core))))
});

static NULL: Json = Json::Null;

fn parse_json(text: &str) -> Result<Json> {
    serde_json::from_str(text).map_err(|e| ModelError::BadTypeDef {
        mesg: format!("bad model json: {e}"),
    })
}

/// Forms that exist at runtime only (generated from cortex state, never stored).
const RUNT_FORMS: &[&str] = &[
    "syn:cmd",
    "syn:cron",
    "syn:form",
    "syn:prop",
    "syn:tagprop",
    "syn:trigger",
    "syn:type",
];

impl Model {
    /// The shipped 2.256 model, loaded once per process and shared.
    pub fn load_default() -> Result<Arc<Model>> {
        DEFAULT.clone()
    }

    /// A model of its own over the shipped 2.256 declarations: runtime tag properties added
    /// to it stay in it, while the declarations are loaded once per process and shared.
    pub fn new_default() -> Result<Model> {
        Ok(Model::over(Arc::clone(&Model::load_default()?.core)))
    }

    fn over(core: Arc<Core>) -> Model {
        Model {
            tagprops: RwLock::new(Arc::clone(&core.tagprops)),
            core,
            ext: ext::Ext::new(),
            rules: tagmodel::Rules::default(),
        }
    }

    /// Load a model from a `getModelDict()` JSON document.
    pub fn from_json_str(text: &str) -> Result<Model> {
        Model::from_dict(parse_json(text)?)
    }

    /// Load a model from a parsed `getModelDict()` document.
    pub fn from_dict(dict: Json) -> Result<Model> {
        Ok(Model::over(Arc::new(Core::build(dict, None)?)))
    }
}

impl Core {
    /// Build the declarations; `source` is the static text `dict` was parsed from, if any
    /// (the dict is then dropped and parsed again only when asked for).
    fn build(dict: Json, source: Option<&'static str>) -> Result<Core> {
        let baddef = |mesg: &str| ModelError::BadTypeDef {
            mesg: mesg.to_string(),
        };
        let mut model = Core {
            types: Vec::new(),
            type_index: HashMap::new(),
            clone_index: HashMap::new(),
            forms: Vec::new(),
            form_index: HashMap::new(),
            props: Vec::new(),
            prop_index: HashMap::new(),
            univs: Vec::new(),
            interfaces: dict
                .get("interfaces")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default(),
            iface_forms: HashMap::new(),
            edges: Vec::new(),
            tagprops: Arc::new(
                dict.get("tagprops")
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default(),
            ),
            dict: OnceLock::new(),
            source,
        };
        let types = dict
            .get("types")
            .and_then(Json::as_object)
            .ok_or_else(|| baddef("model has no types"))?;

        // Pass 1: register every named type with its ctor and merged options.
        let mut raw: Vec<RawType> = Vec::new();
        for (name, tdef) in types {
            let info = tdef.get("info").cloned().unwrap_or(Json::Null);
            let bases = info
                .get("bases")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let ctor = bases
                .get(1)
                .and_then(Json::as_str)
                .unwrap_or(name)
                .to_string();
            let opts = tdef
                .get("opts")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default();
            let stor = tdef
                .get("stortype")
                .and_then(Json::as_i64)
                .unwrap_or(stortype::MSGP);
            model.type_index.insert(name.clone(), raw.len());
            raw.push((name.clone(), ctor, opts, info, stor));
        }
        for (name, ctor, opts, info, stor) in &raw {
            model.types.push(TypeDef {
                name: name.clone(),
                ctor: ctor.clone(),
                kind: types::Kind::Data { geojson: false },
                opts: opts.clone(),
                deprecated: flag(info, "deprecated"),
                stortype: *stor,
            });
        }
        // Pass 2: compile kinds (children resolve to named types or new clones).
        for (id, (name, ctor, opts, _, _)) in raw.iter().enumerate() {
            let kind = types::compile_kind(ctor, name, opts, &mut |tname, topts| {
                model.resolve(tname, topts)
            })?;
            model.types[id].kind = kind;
        }

        // Interfaces implemented by forms (recursively).
        let forms = dict
            .get("forms")
            .and_then(Json::as_object)
            .ok_or_else(|| baddef("model has no forms"))?;
        for (fname, fdef) in forms {
            let ty = *model
                .type_index
                .get(fname)
                .ok_or_else(|| baddef(&format!("form {fname} has no type")))?;
            let mut ifaces = Vec::new();
            let tinfo = types
                .get(fname)
                .and_then(|tdef| tdef.get("info"))
                .unwrap_or(&NULL);
            for iface in tinfo
                .get("interfaces")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(iface) = iface.as_str() {
                    model.collect_ifaces(iface, &mut ifaces);
                }
            }
            let formid = model.forms.len();
            for iface in &ifaces {
                model
                    .iface_forms
                    .entry(iface.clone())
                    .or_default()
                    .push(fname.clone());
            }
            model.forms.push(FormDef {
                name: fname.clone(),
                ty,
                props: Vec::new(),
                prop_index: HashMap::new(),
                ifaces,
                runt: RUNT_FORMS.contains(&fname.as_str()),
            });
            model.form_index.insert(fname.clone(), formid);
            for (pname, pdef) in fdef
                .get("props")
                .and_then(Json::as_object)
                .into_iter()
                .flatten()
            {
                let propid = model.add_prop(pname, Some(formid), pdef)?;
                model.forms[formid].props.push(propid);
                model.forms[formid].prop_index.insert(pname.clone(), propid);
            }
        }
        for (uname, udef) in dict
            .get("univs")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            let propid = model.add_prop(uname, None, udef)?;
            model.univs.push(propid);
        }
        for edge in dict
            .get("edges")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let Some(parts) = edge.get(0).and_then(Json::as_array) else {
                continue;
            };
            let form = |i: usize| parts.get(i).and_then(Json::as_str).map(String::from);
            model.edges.push(EdgeDef {
                n1form: form(0),
                verb: form(1).unwrap_or_default(),
                n2form: form(2),
                info: edge.get(1).cloned().unwrap_or(Json::Null),
            });
        }
        if source.is_none() {
            let _ = model.dict.set(dict);
        }
        Ok(model)
    }

    /// The `getModelDict()` document (parsed on first use).
    pub(crate) fn dict(&self) -> &Json {
        self.dict.get_or_init(|| {
            self.source
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Json::Null)
        })
    }

    /// The declaration of a property in the model dict.
    fn pdef(&self, prop: &PropDef) -> &Json {
        let dict = self.dict();
        let found = match prop.form {
            Some(form) => dict
                .get("forms")
                .and_then(|forms| forms.get(&self.forms[form].name))
                .and_then(|fdef| fdef.get("props")),
            None => dict.get("univs"),
        };
        found.and_then(|defs| defs.get(&prop.name)).unwrap_or(&NULL)
    }

    /// The info of a named type in the model dict.
    pub(crate) fn type_info(&self, name: &str) -> &Json {
        self.dict()
            .get("types")
            .and_then(|types| types.get(name))
            .and_then(|tdef| tdef.get("info"))
            .unwrap_or(&NULL)
    }

    fn collect_ifaces(&self, name: &str, out: &mut Vec<String>) {
        if out.iter().any(|x| x == name) {
            return;
        }
        out.push(name.to_string());
        let parents = self
            .interfaces
            .get(name)
            .and_then(|i| i.get("interfaces"))
            .and_then(Json::as_array)
            .cloned();
        for parent in parents.into_iter().flatten() {
            if let Some(parent) = parent.as_str() {
                self.collect_ifaces(parent, out);
            }
        }
    }

    fn add_prop(&mut self, name: &str, form: Option<usize>, pdef: &Json) -> Result<usize> {
        let typedef = pdef.get("type").unwrap_or(&NULL);
        let tname = typedef.get(0).and_then(Json::as_str).unwrap_or("str");
        let topts = typedef
            .get(1)
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let ty = self.resolve(tname, &topts)?;
        let full = pdef
            .get("full")
            .and_then(Json::as_str)
            .unwrap_or(name)
            .to_string();
        let stortype = pdef
            .get("stortype")
            .and_then(Json::as_i64)
            .unwrap_or(self.types[ty].stortype);
        let id = self.props.len();
        self.props.push(PropDef {
            name: name.to_string(),
            full: full.clone(),
            form,
            ty,
            stortype,
            ro: flag(pdef, "ro"),
            deprecated: flag(pdef, "deprecated"),
        });
        self.prop_index.insert(full, id);
        Ok(id)
    }

    /// A named type, or a clone of it with override options (memoized).
    fn resolve(&mut self, name: &str, opts: &Map<String, Json>) -> Result<TypeId> {
        let base = *self
            .type_index
            .get(name)
            .ok_or_else(|| ModelError::NoSuchType {
                name: name.to_string(),
            })?;
        if opts.is_empty() {
            return Ok(base);
        }
        let key = (name.to_string(), Json::Object(opts.clone()).to_string());
        if let Some(id) = self.clone_index.get(&key) {
            return Ok(*id);
        }
        let mut merged = self.types[base].opts.clone();
        for (k, v) in opts {
            merged.insert(k.clone(), v.clone());
        }
        let ctor = self.types[base].ctor.clone();
        let deprecated = self.types[base].deprecated;
        let kind = types::compile_kind(&ctor, name, &merged, &mut |tname, topts| {
            self.resolve(tname, topts)
        })?;
        let stortype = match &kind {
            types::Kind::Time { ismin: true, .. } => stortype::MINTIME,
            types::Kind::Time { ismax: true, .. } => stortype::MAXTIME,
            types::Kind::Time { .. } => stortype::TIME,
            types::Kind::Array { elem, .. } => self.types[*elem].stortype | stortype::ARRAY_FLAG,
            _ => self.types[base].stortype,
        };
        let id = self.types.len();
        self.types.push(TypeDef {
            name: name.to_string(),
            ctor,
            kind,
            opts: merged,
            deprecated,
            stortype,
        });
        self.clone_index.insert(key, id);
        Ok(id)
    }
}

impl Model {
    /// A type by name.
    pub fn ty(&self, name: &str) -> Option<Type<'_>> {
        let id = match self.core.type_index.get(name) {
            Some(id) => *id,
            None => self.ext_type(name)?,
        };
        Some(Type { model: self, id })
    }

    /// A type by name, or a clone of it with extra options; `NoSuchType` if unknown.
    ///
    /// Clones not made while loading are not memoized: prefer the types of props.
    pub fn ty_with_opts(&self, name: &str, opts: &Map<String, Json>) -> Result<Type<'_>> {
        let ty = self.ty(name).ok_or_else(|| ModelError::NoSuchType {
            name: name.to_string(),
        })?;
        if opts.is_empty() {
            return Ok(ty);
        }
        let key = (name.to_string(), Json::Object(opts.clone()).to_string());
        match self
            .core
            .clone_index
            .get(&key)
            .copied()
            .or_else(|| self.ext_clone(&key))
        {
            Some(id) => Ok(Type { model: self, id }),
            None => Err(ModelError::BadTypeDef {
                mesg: format!("no clone of {name} with options {}", key.1),
            }),
        }
    }

    /// Names of every type.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        let ext = self.ext_type_names();
        self.core
            .type_index
            .keys()
            .map(String::as_str)
            .chain(ext.into_iter().map(|id| self.type_def(id).name.as_str()))
    }

    /// A form by name.
    pub fn form(&self, name: &str) -> Option<Form<'_>> {
        let id = match self.core.form_index.get(name) {
            Some(id) => *id,
            None => self.ext_form(name)?,
        };
        Some(Form { model: self, id })
    }

    /// Every form, in model order (extended forms last, in order of addition).
    pub fn forms(&self) -> impl Iterator<Item = Form<'_>> {
        (0..self.core.forms.len())
            .chain(self.ext_forms())
            .map(|id| Form { model: self, id })
    }

    /// Forms implementing an interface (directly or through another interface).
    pub fn forms_by_interface(&self, iface: &str) -> Vec<Form<'_>> {
        let mut out: Vec<Form<'_>> = self
            .core
            .iface_forms
            .get(iface)
            .into_iter()
            .flatten()
            .filter_map(|n| self.form(n))
            .collect();
        out.extend(
            self.ext_forms()
                .into_iter()
                .map(|id| Form { model: self, id })
                .filter(|form| form.implements(iface)),
        );
        out
    }

    /// A property by full name: `inet:dns:a:fqdn`, `inet:fqdn.created`, or a universal prop
    /// such as `.created`.
    pub fn prop(&self, full: &str) -> Option<Prop<'_>> {
        let id = match self.core.prop_index.get(full) {
            Some(id) => *id,
            None => self.ext_prop(full)?,
        };
        Some(Prop { model: self, id })
    }

    /// A universal property (`.created`, `.seen`), by name with its leading dot.
    pub fn univ(&self, name: &str) -> Option<Prop<'_>> {
        self.core
            .univs
            .iter()
            .map(|id| Prop {
                model: self,
                id: *id,
            })
            .find(|p| p.name() == name)
            .or_else(|| self.ext_univ(name).map(|id| Prop { model: self, id }))
    }

    /// Interface declarations by name (`doc`, `props`, `interfaces`, ...).
    pub fn interface(&self, name: &str) -> Option<&Json> {
        self.core.interfaces.get(name)
    }

    /// Names of every interface.
    pub fn interface_names(&self) -> impl Iterator<Item = &str> {
        self.core.interfaces.keys().map(String::as_str)
    }

    /// Documented light edges.
    pub fn edges(&self) -> &[EdgeDef] {
        &self.core.edges
    }

    /// Tag properties (`{name: {"name", "info", "type", "stortype"}}`), declared and added
    /// at runtime.
    pub fn tagprops(&self) -> Arc<Map<String, Json>> {
        Arc::clone(&self.tagprops.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Add a tag property at runtime (the reference's `Model.addTagProp`): `tdef` is
    /// `[typename, typeopts]`, `info` a map (`doc`, ...). The type must exist, and a type with
    /// options must be one the model already uses (clones are made at load time only);
    /// array types are refused. Returns the tag property's definition.
    pub fn add_tagprop(&self, name: &str, tdef: &Json, info: &Json) -> Result<Json> {
        let tname = tdef
            .get(0)
            .and_then(Json::as_str)
            .ok_or_else(|| ModelError::BadTypeDef {
                mesg: format!("Tag property type definitions should be a tuple: {tdef}"),
            })?;
        let opts = tdef
            .get(1)
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let ty = self.ty_with_opts(tname, &opts)?;
        if ty.array_elem().is_some() {
            return Err(ModelError::BadTypeDef {
                mesg: "Tag props may not be array types (yet).".to_string(),
            });
        }
        let pdef = serde_json::json!({
            "name": name,
            "info": info,
            "type": [tname, Json::Object(opts)],
            "stortype": ty.stortype(),
        });
        let mut guard = self.tagprops.write().unwrap_or_else(|e| e.into_inner());
        if guard.contains_key(name) {
            return Err(ModelError::DupTagPropName {
                name: name.to_string(),
            });
        }
        let mut next = (**guard).clone();
        next.insert(name.to_string(), pdef.clone());
        *guard = Arc::new(next);
        Ok(pdef)
    }

    /// Remove a tag property; its definition if it existed.
    pub fn del_tagprop(&self, name: &str) -> Option<Json> {
        let mut guard = self.tagprops.write().unwrap_or_else(|e| e.into_inner());
        let mut next = (**guard).clone();
        let old = next.remove(name)?;
        *guard = Arc::new(next);
        Some(old)
    }

    /// The `getModelDict()` document this model was loaded from.
    pub fn model_dict(&self) -> &Json {
        self.core.dict()
    }
}

/// A form of the model.
#[derive(Clone, Copy)]
pub struct Form<'a> {
    model: &'a Model,
    id: usize,
}

impl std::fmt::Debug for Form<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Form").field(&self.name()).finish()
    }
}

impl<'a> Form<'a> {
    fn def(&self) -> &'a FormDef {
        self.model.form_def(self.id)
    }

    /// The form name.
    pub fn name(&self) -> &'a str {
        &self.def().name
    }

    /// The type of the primary value.
    pub fn ty(&self) -> Type<'a> {
        Type {
            model: self.model,
            id: self.def().ty,
        }
    }

    /// A property of the form by relative name (`fqdn`, `.created`).
    pub fn prop(&self, name: &str) -> Option<Prop<'a>> {
        let model = self.model;
        let id = match self.def().prop_index.get(name) {
            Some(id) => *id,
            None => model
                .ext_form_props(self.id)
                .into_iter()
                .find(|id| model.prop_def(*id).name == name)?,
        };
        Some(Prop { model, id })
    }

    /// Every property of the form, universal ones included.
    pub fn props(&self) -> impl Iterator<Item = Prop<'a>> + 'a {
        let model = self.model;
        self.def()
            .props
            .iter()
            .copied()
            .chain(model.ext_form_props(self.id))
            .map(move |id| Prop { model, id })
    }

    /// Interfaces the form implements (including inherited ones).
    pub fn interfaces(&self) -> &'a [String] {
        &self.def().ifaces
    }

    /// Whether the form implements the interface.
    pub fn implements(&self, iface: &str) -> bool {
        self.def().ifaces.iter().any(|i| i == iface)
    }

    /// Whether the form only exists at runtime (syn:form, syn:prop, ...).
    pub fn is_runt(&self) -> bool {
        self.def().runt
    }

    /// Whether the form (its type) is deprecated.
    pub fn is_deprecated(&self) -> bool {
        self.ty().is_deprecated()
    }

    /// Normalize a primary value and compute everything needed to create the node: the norm,
    /// the read-only secondary props derived from it (only those the form has), and the
    /// nodes to auto-create.
    ///
    /// Pure onAdd hooks of the reference are applied (`inet:passwd` gets `md5`/`sha1`/`sha256`).
    /// Hooks that depend on other nodes are left to the storage layer: `inet:fqdn` sets
    /// `issuffix`/`iszone`/`zone` from its parent domain node (creating it), and the onSet hooks
    /// of `it:prod:softver:vers`/`:arch`, `inet:whois:rec:text`, `file:bytes:mime`.
    pub fn norm_node(&self, valu: &Value) -> Result<NodeNorm> {
        let (norm, info) = self.ty().norm(valu)?;
        let mut props = Vec::new();
        for (name, subv) in &info.subs {
            if let Some(prop) = self.prop(name) {
                // Subs are normalized through the prop type (the reference does the same).
                match prop.ty().norm(subv) {
                    Ok((pnorm, _)) => props.push((name.clone(), pnorm)),
                    Err(_) => continue,
                }
            }
        }
        if self.name() == "inet:passwd" {
            // The reference's onAdd hook: hashes of the password (a pure function of the value).
            use sha2::Digest;
            let byts = norm.as_str().unwrap_or_default().as_bytes();
            props.push((
                "md5".into(),
                Value::from(hex::encode(md5::Md5::digest(byts))),
            ));
            props.push((
                "sha1".into(),
                Value::from(hex::encode(sha1::Sha1::digest(byts))),
            ));
            props.push((
                "sha256".into(),
                Value::from(hex::encode(sha2::Sha256::digest(byts))),
            ));
        }
        let mut adds = Vec::new();
        collect_adds(&info.adds, &mut adds);
        Ok(NodeNorm {
            form: self.name().to_string(),
            norm,
            props,
            adds,
            info,
        })
    }
}

fn collect_adds(adds: &[AutoAdd], out: &mut Vec<(String, Value)>) {
    for add in adds {
        if !out.iter().any(|(f, v)| *f == add.form && *v == add.valu) {
            out.push((add.form.clone(), add.valu.clone()));
        }
        collect_adds(&add.info.adds, out);
    }
}

/// The result of [`Form::norm_node`].
#[derive(Debug, Clone, PartialEq)]
pub struct NodeNorm {
    /// The form name.
    pub form: String,
    /// The normalized primary value.
    pub norm: Value,
    /// Secondary props set from the primary value (relative name, norm).
    pub props: Vec<(String, Value)>,
    /// Other nodes to create (form, norm), deduplicated, in order.
    pub adds: Vec<(String, Value)>,
    /// The full norm info.
    pub info: NormInfo,
}

impl NodeNorm {
    /// The 32 byte buid of the node.
    pub fn buid(&self) -> [u8; 32] {
        buid(&self.form, &self.norm)
    }
}

/// A property of a form (or a universal property).
#[derive(Clone, Copy)]
pub struct Prop<'a> {
    model: &'a Model,
    id: usize,
}

impl std::fmt::Debug for Prop<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Prop").field(&self.full()).finish()
    }
}

impl<'a> Prop<'a> {
    fn def(&self) -> &'a PropDef {
        self.model.prop_def(self.id)
    }

    /// The relative name (`fqdn`, `.created`).
    pub fn name(&self) -> &'a str {
        &self.def().name
    }

    /// The full name (`inet:dns:a:fqdn`, `inet:dns:a.created`, `.created`).
    pub fn full(&self) -> &'a str {
        &self.def().full
    }

    /// The form of the property (`None` for universal props).
    pub fn form(&self) -> Option<Form<'a>> {
        self.def().form.map(|id| Form {
            model: self.model,
            id,
        })
    }

    /// The effective type (the declared type cloned with the prop's options).
    pub fn ty(&self) -> Type<'a> {
        Type {
            model: self.model,
            id: self.def().ty,
        }
    }

    /// The declared `[typename, opts]` of the property.
    pub fn typedef(&self) -> &'a Json {
        self.info().get("type").unwrap_or(&NULL)
    }

    /// The property info (`doc`, `ro`, `deprecated`, ...).
    pub fn info(&self) -> &'a Json {
        match self.model.ext_pdef(self.id) {
            Some(ext) => &ext.pdef,
            None => self.model.core.pdef(self.def()),
        }
    }

    /// The storage type code.
    pub fn stortype(&self) -> i64 {
        self.def().stortype
    }

    /// Whether the property is read-only after creation.
    pub fn is_ro(&self) -> bool {
        self.def().ro
    }

    /// Whether the property is universal (`.created`, `.seen`, or a form's copy of them).
    pub fn is_univ(&self) -> bool {
        self.def().name.starts_with('.')
    }

    /// Whether the property is deprecated.
    pub fn is_deprecated(&self) -> bool {
        self.def().deprecated
    }

    /// The form whose node setting this property creates, if its type is a form.
    pub fn autoadd_form(&self) -> Option<Form<'a>> {
        self.model.form(self.ty().name())
    }
}
