//! The extended model of one [`Model`]: forms, form properties and universal properties added
//! at runtime (the reference's `addForm`, `addFormProp`, `addUnivProp`), as an overlay on the
//! shared, immutable declarations.
//!
//! The declarations loaded from the model export stay shared by every model of the process.
//! Extensions get ids past the end of the shared tables: their compiled definitions live in
//! append-only arenas (stable addresses, so handles borrowed from the model stay valid while
//! extensions come and go), and their names in an index replaced as a whole on change. A
//! removed extension leaves its arena entry behind (unreachable by name): extensions are
//! rare, and handles taken before the removal stay sound.
//!
//! A model without extensions pays one relaxed atomic load on a name lookup that missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde_json::{Map, Value as Json};

use super::types::{self, TypeDef, TypeId};
use super::{EdgeDef, FormDef, Model, ModelError, PropDef, Result, flag};

/// Slots of the first arena segment; segment `k` holds `SEG0 << k` slots.
const SEG0: usize = 16;
/// Segments of an arena (room for `SEG0 * (2^SEGS - 1)` entries).
const SEGS: usize = 26;

/// Append-only storage whose entries never move: a reference to an entry lives as long as
/// the arena. Reads take no lock.
pub(crate) struct Arena<T> {
    segs: [OnceLock<Box<[OnceLock<T>]>>; SEGS],
    len: AtomicUsize,
    push: Mutex<()>,
}

impl<T> std::fmt::Debug for Arena<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

fn locate(idx: usize) -> (usize, usize) {
    let blocks = idx / SEG0 + 1;
    let seg = (usize::BITS - 1 - blocks.leading_zeros()) as usize;
    (seg, idx - SEG0 * ((1 << seg) - 1))
}

impl<T> Arena<T> {
    fn new() -> Arena<T> {
        Arena {
            segs: std::array::from_fn(|_| OnceLock::new()),
            len: AtomicUsize::new(0),
            push: Mutex::new(()),
        }
    }

    /// Append an entry; its index.
    fn push(&self, valu: T) -> Result<usize> {
        let _guard = self.push.lock().unwrap_or_else(|e| e.into_inner());
        let idx = self.len.load(Ordering::Acquire);
        let (seg, off) = locate(idx);
        let slots = self
            .segs
            .get(seg)
            .ok_or_else(|| ModelError::BadTypeDef {
                mesg: "too many model extensions".to_string(),
            })?
            .get_or_init(|| (0..SEG0 << seg).map(|_| OnceLock::new()).collect());
        if let Some(slot) = slots.get(off) {
            let _ = slot.set(valu);
        }
        self.len.store(idx + 1, Ordering::Release);
        Ok(idx)
    }

    /// An entry by index.
    pub(crate) fn get(&self, idx: usize) -> Option<&T> {
        let (seg, off) = locate(idx);
        self.segs.get(seg)?.get()?.get(off)?.get()
    }
}

/// An extended form: its definition and declaration.
#[derive(Debug)]
pub(crate) struct ExtForm {
    pub(crate) def: FormDef,
    /// `(basetype, typeopts, typeinfo)` as given.
    pub(crate) base: String,
    pub(crate) opts: Map<String, Json>,
    /// The type info as the model exports it (base info, given info, `bases`).
    pub(crate) info: Json,
    /// The info as given.
    pub(crate) given: Json,
}

/// An extended type (`addType`): its declaration and info.
#[derive(Debug)]
pub(crate) struct ExtType {
    pub(crate) ty: TypeId,
    pub(crate) base: String,
    pub(crate) opts: Map<String, Json>,
    pub(crate) info: Json,
    pub(crate) given: Json,
}

/// An extended property (of a form, or universal): its definition and its declaration as
/// the model dict has it (`name`, `full`, `type`, `stortype`, info keys).
#[derive(Debug)]
pub(crate) struct ExtProp {
    pub(crate) def: PropDef,
    pub(crate) pdef: Json,
    /// The info as given.
    pub(crate) info: Json,
}

/// The names of the live extensions (replaced as a whole on change).
#[derive(Debug, Default, Clone)]
struct Index {
    /// Extended type names (the types of extended forms) -> type id.
    types: HashMap<String, TypeId>,
    /// `(type name, opts json)` -> clone type id made for an extension.
    clones: HashMap<(String, String), TypeId>,
    /// Extended form names -> form id, and their order of addition.
    forms: HashMap<String, usize>,
    form_order: Vec<usize>,
    /// Full prop name -> prop id, for every extended prop (copies of universal props on
    /// forms included).
    props: HashMap<String, usize>,
    /// Form id -> its extended props (in order of addition; on extended forms also the
    /// universal props).
    form_props: HashMap<usize, Vec<usize>>,
    /// Universal props added at runtime (`._name`) -> prop id, in order.
    univs: Vec<(String, usize)>,
    /// Extended form props as declared: full name -> `(form, prop)`.
    declared: Vec<(String, String)>,
    /// Light edges declared at runtime.
    edges: Vec<EdgeDef>,
    /// Extended types (`addType`) -> their declaration (arena index), and their order.
    tdecls: HashMap<String, usize>,
    type_order: Vec<String>,
}

/// The extensions of a model.
#[derive(Debug)]
pub(crate) struct Ext {
    live: AtomicBool,
    generation: AtomicU64,
    types: Arena<TypeDef>,
    forms: Arena<ExtForm>,
    props: Arena<ExtProp>,
    tdecls: Arena<ExtType>,
    index: RwLock<Arc<Index>>,
    write: Mutex<()>,
}

impl Ext {
    pub(crate) fn new() -> Ext {
        Ext {
            live: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            types: Arena::new(),
            forms: Arena::new(),
            props: Arena::new(),
            tdecls: Arena::new(),
            index: RwLock::new(Arc::new(Index::default())),
            write: Mutex::new(()),
        }
    }

    fn live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }

    fn index(&self) -> Arc<Index> {
        Arc::clone(&self.index.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn publish(&self, index: Index) {
        let live = !index.types.is_empty() || !index.props.is_empty() || !index.edges.is_empty();
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
        self.live.store(live, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn type_def(&self, id: usize) -> Option<&TypeDef> {
        self.types.get(id)
    }

    pub(crate) fn form(&self, id: usize) -> Option<&ExtForm> {
        self.forms.get(id)
    }

    pub(crate) fn prop(&self, id: usize) -> Option<&ExtProp> {
        self.props.get(id)
    }
}

/// Merge `over` into a copy of `base` (JSON objects; `over` wins).
fn merged(base: &Json, over: &Json) -> Map<String, Json> {
    let mut out = base.as_object().cloned().unwrap_or_default();
    if let Some(over) = over.as_object() {
        for (k, v) in over {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Whether `name` is a valid form name (the reference's `isFormName`).
pub fn is_form_name(name: &str) -> bool {
    static RE: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^[a-z_][a-z0-9_]*(:[a-z0-9_]+)+$").ok());
    RE.as_ref().is_some_and(|re| re.is_match(name))
}

impl Model {
    // ----- id resolution over the shared tables and the extensions -----

    pub(crate) fn type_def(&self, id: TypeId) -> &TypeDef {
        match self.core.types.get(id) {
            Some(def) => def,
            None => self
                .ext
                .type_def(id - self.core.types.len())
                .unwrap_or(&self.core.types[0]),
        }
    }

    pub(crate) fn form_def(&self, id: usize) -> &FormDef {
        match self.core.forms.get(id) {
            Some(def) => def,
            None => match self.ext.form(id - self.core.forms.len()) {
                Some(ext) => &ext.def,
                None => &self.core.forms[0],
            },
        }
    }

    pub(crate) fn prop_def(&self, id: usize) -> &PropDef {
        match self.core.props.get(id) {
            Some(def) => def,
            None => match self.ext.prop(id - self.core.props.len()) {
                Some(ext) => &ext.def,
                None => &self.core.props[0],
            },
        }
    }

    /// The declaration of an extended prop (`None` for shared ones).
    pub(crate) fn ext_pdef(&self, id: usize) -> Option<&ExtProp> {
        id.checked_sub(self.core.props.len())
            .and_then(|idx| self.ext.prop(idx))
    }

    /// The info of a named type: the shared declaration, else an extended form's type.
    pub(crate) fn type_info_of(&self, name: &str) -> &Json {
        let info = self.core.type_info(name);
        if !info.is_null() || !self.ext.live() {
            return info;
        }
        let index = self.ext.index();
        self.type_info_in(&index, name)
    }

    // ----- lookups of extensions (called when the shared tables miss) -----

    pub(crate) fn ext_type(&self, name: &str) -> Option<TypeId> {
        if !self.ext.live() {
            return None;
        }
        self.ext.index().types.get(name).copied()
    }

    pub(crate) fn ext_clone(&self, key: &(String, String)) -> Option<TypeId> {
        if !self.ext.live() {
            return None;
        }
        self.ext.index().clones.get(key).copied()
    }

    pub(crate) fn ext_type_names(&self) -> Vec<TypeId> {
        if !self.ext.live() {
            return Vec::new();
        }
        self.ext.index().types.values().copied().collect()
    }

    pub(crate) fn ext_form(&self, name: &str) -> Option<usize> {
        if !self.ext.live() {
            return None;
        }
        self.ext.index().forms.get(name).copied()
    }

    pub(crate) fn ext_forms(&self) -> Vec<usize> {
        if !self.ext.live() {
            return Vec::new();
        }
        self.ext.index().form_order.clone()
    }

    pub(crate) fn ext_prop(&self, full: &str) -> Option<usize> {
        if !self.ext.live() {
            return None;
        }
        self.ext.index().props.get(full).copied()
    }

    pub(crate) fn ext_univ(&self, name: &str) -> Option<usize> {
        if !self.ext.live() {
            return None;
        }
        self.ext
            .index()
            .univs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    pub(crate) fn ext_form_props(&self, form: usize) -> Vec<usize> {
        if !self.ext.live() {
            return Vec::new();
        }
        self.ext
            .index()
            .form_props
            .get(&form)
            .cloned()
            .unwrap_or_default()
    }

    /// Bumped on every change of the extensions (caches of model-derived data compare it).
    pub fn generation(&self) -> u64 {
        self.ext.generation.load(Ordering::Acquire)
    }

    // ----- changes -----

    /// A named type or clone for an extension, compiling clones into the arena as needed.
    fn ext_resolve(
        &self,
        draft: &mut Index,
        name: &str,
        opts: &Map<String, Json>,
    ) -> Result<TypeId> {
        let base = match self.core.type_index.get(name) {
            Some(id) => *id,
            None => *draft
                .types
                .get(name)
                .ok_or_else(|| ModelError::NoSuchType {
                    name: name.to_string(),
                })?,
        };
        if opts.is_empty() {
            return Ok(base);
        }
        let key = (name.to_string(), Json::Object(opts.clone()).to_string());
        if let Some(id) = self.core.clone_index.get(&key).or(draft.clones.get(&key)) {
            return Ok(*id);
        }
        let basedef = self.type_def(base);
        let mut opts_all = basedef.opts.clone();
        for (k, v) in opts {
            opts_all.insert(k.clone(), v.clone());
        }
        let id = self.compile_type(
            draft,
            name,
            &basedef.ctor.clone(),
            opts_all,
            basedef.deprecated,
            basedef.stortype,
        )?;
        draft.clones.insert(key, id);
        Ok(id)
    }

    /// Compile a type with fully merged options into the arena; its id.
    fn compile_type(
        &self,
        draft: &mut Index,
        name: &str,
        ctor: &str,
        opts: Map<String, Json>,
        deprecated: bool,
        basestor: i64,
    ) -> Result<TypeId> {
        let kind = types::compile_kind(ctor, name, &opts, &mut |tname, topts| {
            self.ext_resolve(draft, tname, topts)
        })?;
        let stortype = match &kind {
            types::Kind::Time { ismin: true, .. } => types::stortype::MINTIME,
            types::Kind::Time { ismax: true, .. } => types::stortype::MAXTIME,
            types::Kind::Time { .. } => types::stortype::TIME,
            types::Kind::Array { elem, .. } => {
                self.type_def(*elem).stortype | types::stortype::ARRAY_FLAG
            }
            _ => basestor,
        };
        let idx = self.ext.types.push(TypeDef {
            name: name.to_string(),
            ctor: ctor.to_string(),
            kind,
            opts,
            deprecated,
            stortype,
        })?;
        Ok(self.core.types.len() + idx)
    }

    /// Check a `(typename, typeopts)` definition (the reference's `getTypeClone`).
    pub fn check_typedef(&self, tdef: &Json) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut draft = (*self.ext.index()).clone();
        let (tname, topts) = split_tdef(tdef)?;
        self.ext_resolve(&mut draft, tname, &topts).map(|_| ())
    }

    fn add_prop_def(
        &self,
        draft: &mut Index,
        form: Option<usize>,
        name: &str,
        full: &str,
        tdef: &Json,
        info: &Json,
    ) -> Result<usize> {
        let (tname, topts) = split_tdef(tdef)?;
        let ty = self.ext_resolve(draft, tname, &topts)?;
        let stortype = self.type_def(ty).stortype;
        let mut pdef = Map::new();
        pdef.insert("name".into(), Json::from(name));
        pdef.insert("full".into(), Json::from(full));
        pdef.insert(
            "type".into(),
            Json::Array(vec![Json::from(tname), Json::Object(topts)]),
        );
        pdef.insert("stortype".into(), Json::from(stortype));
        for (k, v) in info.as_object().into_iter().flatten() {
            pdef.insert(k.clone(), v.clone());
        }
        let pdef = Json::Object(pdef);
        let idx = self.ext.props.push(ExtProp {
            def: PropDef {
                name: name.to_string(),
                full: full.to_string(),
                form,
                ty,
                stortype,
                ro: flag(info, "ro"),
                deprecated: flag(info, "deprecated"),
            },
            pdef,
            info: info.clone(),
        })?;
        let id = self.core.props.len() + idx;
        draft.props.insert(full.to_string(), id);
        if let Some(form) = form {
            draft.form_props.entry(form).or_default().push(id);
        }
        Ok(id)
    }

    /// Compile the type `name`: `basetype` with `typeopts` merged over its options and
    /// `typeinfo` over its info (with `bases`); registered in `draft`. Its id and info.
    fn new_ext_type(
        &self,
        draft: &mut Index,
        name: &str,
        basetype: &str,
        typeopts: &Map<String, Json>,
        typeinfo: &Json,
    ) -> Result<(TypeId, Json)> {
        let baseid = match self.core.type_index.get(basetype) {
            Some(id) => *id,
            None => *draft
                .types
                .get(basetype)
                .ok_or_else(|| ModelError::NoSuchType {
                    name: basetype.to_string(),
                })?,
        };
        let basedef = self.type_def(baseid);
        let mut opts = basedef.opts.clone();
        for (k, v) in typeopts {
            opts.insert(k.clone(), v.clone());
        }
        let baseinfo = self.type_info_in(draft, basetype);
        let mut info = merged(baseinfo, typeinfo);
        let mut bases: Vec<Json> = baseinfo
            .get("bases")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        bases.push(Json::from(basetype));
        info.insert("bases".into(), Json::Array(bases));
        let info = Json::Object(info);
        let ty = self.compile_type(
            draft,
            name,
            &basedef.ctor.clone(),
            opts,
            basedef.deprecated || flag(typeinfo, "deprecated"),
            basedef.stortype,
        )?;
        draft.types.insert(name.to_string(), ty);
        draft.type_order.push(name.to_string());
        Ok((ty, info))
    }

    /// The info of a type by name, extended ones of `draft` included.
    fn type_info_in<'s>(&'s self, draft: &Index, name: &str) -> &'s Json {
        let info = self.core.type_info(name);
        if !info.is_null() {
            return info;
        }
        if let Some(ext) = draft
            .forms
            .get(name)
            .and_then(|id| self.ext.form(id - self.core.forms.len()))
        {
            return &ext.info;
        }
        draft
            .tdecls
            .get(name)
            .and_then(|idx| self.ext.tdecls.get(*idx))
            .map_or(info, |decl| &decl.info)
    }

    /// Add an extended type (the reference's `addType`): `basetype` with `typeopts` and
    /// `typeinfo`.
    pub fn add_ext_type(
        &self,
        name: &str,
        basetype: &str,
        typeopts: &Map<String, Json>,
        typeinfo: &Json,
    ) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        if self.ty(name).is_some() {
            return Err(ModelError::DupTypeName {
                name: name.to_string(),
            });
        }
        let mut draft = (*self.ext.index()).clone();
        let (ty, info) = self.new_ext_type(&mut draft, name, basetype, typeopts, typeinfo)?;
        let idx = self.ext.tdecls.push(ExtType {
            ty,
            base: basetype.to_string(),
            opts: typeopts.clone(),
            info,
            given: typeinfo.clone(),
        })?;
        draft.tdecls.insert(name.to_string(), idx);
        self.ext.publish(draft);
        Ok(())
    }

    /// Remove an extended type (`CantDelType` while props, forms or other types use it).
    pub fn del_ext_type(&self, name: &str) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut draft = (*self.ext.index()).clone();
        if !draft.tdecls.contains_key(name) {
            return Err(ModelError::NoSuchType {
                name: name.to_string(),
            });
        }
        let cant = |what: &str| ModelError::CantDelType {
            name: name.to_string(),
            mesg: format!("Cannot delete type {name} as it is still in use by {what}."),
        };
        let props = draft.props.values().map(|id| self.prop_def(*id).ty);
        let used_by_prop = props.clone().any(|ty| self.type_def(ty).name == name);
        if used_by_prop || draft.forms.contains_key(name) {
            return Err(cant("properties"));
        }
        let based = |info: &Json| {
            info.get("bases")
                .and_then(Json::as_array)
                .is_some_and(|bases| bases.iter().any(|b| b == name))
        };
        let forms_based = draft
            .forms
            .values()
            .filter_map(|id| self.ext.form(id - self.core.forms.len()))
            .any(|ext| based(&ext.info));
        let types_based = draft
            .tdecls
            .values()
            .filter_map(|idx| self.ext.tdecls.get(*idx))
            .any(|decl| based(&decl.info));
        if forms_based || types_based {
            return Err(cant("other types"));
        }
        let arrays = props.filter_map(|ty| match &self.type_def(ty).kind {
            types::Kind::Array { elem, .. } => Some(*elem),
            _ => None,
        });
        if arrays
            .into_iter()
            .any(|elem| self.type_def(elem).name == name)
        {
            return Err(cant("array types"));
        }
        draft.tdecls.remove(name);
        draft.type_order.retain(|n| n != name);
        draft.types.remove(name);
        draft.clones.retain(|(tname, _), _| tname != name);
        self.ext.publish(draft);
        Ok(())
    }

    /// The extended types as declared: `(name, basetype, typeopts, typeinfo)`.
    pub fn ext_type_decls(&self) -> Vec<(String, String, Json, Json)> {
        let index = self.ext.index();
        index
            .type_order
            .iter()
            .filter_map(|name| {
                let decl = self.ext.tdecls.get(*index.tdecls.get(name)?)?;
                Some((
                    name.clone(),
                    decl.base.clone(),
                    Json::Object(decl.opts.clone()),
                    decl.given.clone(),
                ))
            })
            .collect()
    }

    /// Add an extended form (the reference's `Model.addType` + `addForm`): its type is
    /// `basetype` with `typeopts` merged over the base's options and `typeinfo` over its info.
    /// The caller checks names and duplicates with the reference's errors.
    pub fn add_ext_form(
        &self,
        name: &str,
        basetype: &str,
        typeopts: &Map<String, Json>,
        typeinfo: &Json,
    ) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        if self.form(name).is_some() {
            return Err(ModelError::DupFormName {
                name: name.to_string(),
            });
        }
        if !is_form_name(name) {
            return Err(ModelError::BadFormDef {
                mesg: format!("Invalid form name {name}"),
            });
        }
        let mut draft = (*self.ext.index()).clone();
        let (ty, info) = self.new_ext_type(&mut draft, name, basetype, typeopts, typeinfo)?;
        let mut ifaces = Vec::new();
        for iface in info
            .get("interfaces")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(iface) = iface.as_str() {
                // the reference renames the deprecated `taxonomy` interface
                let iface = if iface == "taxonomy" {
                    "meta:taxonomy"
                } else {
                    iface
                };
                if self.core.interfaces.get(iface).is_none() {
                    return Err(ModelError::NoSuchName {
                        mesg: format!("Form {name} depends on non-existent interface: {iface}"),
                    });
                }
                self.core.collect_ifaces(iface, &mut ifaces);
            }
        }
        let ifaceprops = self.iface_props(name, &info, &ifaces);
        let idx = self.ext.forms.push(ExtForm {
            def: FormDef {
                name: name.to_string(),
                ty,
                props: Vec::new(),
                prop_index: HashMap::new(),
                ifaces,
                runt: false,
            },
            base: basetype.to_string(),
            opts: typeopts.clone(),
            info,
            given: typeinfo.clone(),
        })?;
        let formid = self.core.forms.len() + idx;
        draft.forms.insert(name.to_string(), formid);
        draft.form_order.push(formid);
        // The universal props, shared then extended.
        let univs: Vec<(String, Json, Json)> = self
            .core
            .univs
            .iter()
            .map(|id| {
                let prop = &self.core.props[*id];
                let pdef = self.core.pdef(prop);
                (
                    prop.name.clone(),
                    pdef.get("type").cloned().unwrap_or(Json::Null),
                    Json::Object(univ_info(pdef)),
                )
            })
            .chain(draft.univs.iter().filter_map(|(uname, id)| {
                let ext = self.ext_pdef(*id)?;
                Some((
                    uname.clone(),
                    ext.pdef.get("type").cloned().unwrap_or(Json::Null),
                    ext.info.clone(),
                ))
            }))
            .collect();
        for (uname, tdef, uinfo) in univs {
            let full = format!("{name}{uname}");
            self.add_prop_def(&mut draft, Some(formid), &uname, &full, &tdef, &uinfo)?;
        }
        // the props of its interfaces (the first declaration of a name wins)
        let mut seen = std::collections::HashSet::new();
        for (pname, tdef, pinfo) in ifaceprops {
            if seen.insert(pname.clone()) {
                let full = format!("{name}:{pname}");
                self.add_prop_def(&mut draft, Some(formid), &pname, &full, &tdef, &pinfo)?;
            }
        }
        self.ext.publish(draft);
        Ok(())
    }

    /// The props an extended form gets from its interfaces: `(name, tdef, info)` with the
    /// interface templates applied (`$self` is the form, `{key}` the template values of the
    /// interface, overridden by the form's type info `template`).
    fn iface_props(&self, form: &str, info: &Json, ifaces: &[String]) -> Vec<(String, Json, Json)> {
        let mut out = Vec::new();
        for iname in ifaces {
            let Some(iface) = self.core.interfaces.get(iname) else {
                continue;
            };
            let mut template = iface
                .get("template")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in info
                .get("template")
                .and_then(Json::as_object)
                .into_iter()
                .flatten()
            {
                template.insert(k.clone(), v.clone());
            }
            for prop in iface
                .get("props")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let prop = apply_template(prop, form, &template);
                let (Some(pname), Some(tdef)) = (prop.get(0).and_then(Json::as_str), prop.get(1))
                else {
                    continue;
                };
                out.push((
                    pname.to_string(),
                    tdef.clone(),
                    prop.get(2).cloned().unwrap_or(Json::Object(Map::new())),
                ));
            }
        }
        out
    }

    /// Remove an extended form (`CantDelForm` while it has extended props).
    pub fn del_ext_form(&self, name: &str) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut draft = (*self.ext.index()).clone();
        let formid = draft
            .forms
            .get(name)
            .copied()
            .ok_or_else(|| ModelError::NoSuchForm {
                name: name.to_string(),
            })?;
        let own: Vec<String> = draft
            .declared
            .iter()
            .filter(|(fname, _)| fname == name)
            .map(|(_, pname)| pname.clone())
            .collect();
        if !own.is_empty() {
            return Err(ModelError::CantDelForm {
                mesg: format!("Form has extended properties: {}", own.join(", ")),
            });
        }
        for id in draft.form_props.remove(&formid).unwrap_or_default() {
            let full = self.prop_def(id).full.clone();
            draft.props.remove(&full);
        }
        draft.forms.remove(name);
        draft.form_order.retain(|id| *id != formid);
        draft.type_order.retain(|n| n != name);
        draft.types.remove(name);
        draft.clones.retain(|(tname, _), _| tname != name);
        self.ext.publish(draft);
        Ok(())
    }

    /// Add an extended property to a form.
    pub fn add_ext_prop(&self, form: &str, prop: &str, tdef: &Json, info: &Json) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let fobj = self.form(form).ok_or_else(|| ModelError::NoSuchForm {
            name: form.to_string(),
        })?;
        if fobj.prop(prop).is_some() {
            return Err(ModelError::DupPropName {
                name: format!("{form}:{prop}"),
            });
        }
        let formid = fobj.id;
        let mut draft = (*self.ext.index()).clone();
        let full = format!("{form}:{prop}");
        self.add_prop_def(&mut draft, Some(formid), prop, &full, tdef, info)?;
        draft.declared.push((form.to_string(), prop.to_string()));
        self.ext.publish(draft);
        Ok(())
    }

    /// Remove an extended property of a form (`NoSuchProp` unless it was added at runtime).
    pub fn del_ext_prop(&self, form: &str, prop: &str) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut draft = (*self.ext.index()).clone();
        let full = format!("{form}:{prop}");
        let pos = draft
            .declared
            .iter()
            .position(|(f, p)| f == form && p == prop)
            .ok_or_else(|| ModelError::NoSuchProp {
                name: full.clone(),
                mesg: format!("No ext prop named {full}"),
            })?;
        draft.declared.remove(pos);
        if let Some(id) = draft.props.remove(&full) {
            for ids in draft.form_props.values_mut() {
                ids.retain(|x| *x != id);
            }
        }
        self.ext.publish(draft);
        Ok(())
    }

    /// Add an extended universal property `._name` (and its copy on every form).
    pub fn add_ext_univ(&self, name: &str, tdef: &Json, info: &Json) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let base = format!(".{name}");
        if self.prop(&base).is_some() {
            return Err(ModelError::DupPropName { name: base });
        }
        let mut draft = (*self.ext.index()).clone();
        let id = self.add_prop_def(&mut draft, None, &base, &base, tdef, info)?;
        draft.univs.push((base.clone(), id));
        let forms: Vec<(usize, String)> = (0..self.core.forms.len())
            .chain(draft.form_order.iter().copied())
            .map(|fid| (fid, self.form_def(fid).name.clone()))
            .collect();
        for (fid, fname) in forms {
            let full = format!("{fname}{base}");
            self.add_prop_def(&mut draft, Some(fid), &base, &full, tdef, info)?;
        }
        self.ext.publish(draft);
        Ok(())
    }

    /// Remove an extended universal property (by name without its dot).
    pub fn del_ext_univ(&self, name: &str) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let base = format!(".{name}");
        let mut draft = (*self.ext.index()).clone();
        let pos = draft
            .univs
            .iter()
            .position(|(n, _)| *n == base)
            .ok_or_else(|| ModelError::NoSuchProp {
                name: name.to_string(),
                mesg: format!("No ext univ named {name}"),
            })?;
        draft.univs.remove(pos);
        draft.props.remove(&base);
        let mut gone = Vec::new();
        for ids in draft.form_props.values_mut() {
            ids.retain(|id| {
                let keep = self.prop_def(*id).name != base;
                if !keep {
                    gone.push(*id);
                }
                keep
            });
        }
        for id in gone {
            draft.props.remove(&self.prop_def(id).full);
        }
        self.ext.publish(draft);
        Ok(())
    }

    /// Whether an edge `(n1form, verb, n2form)` is declared (shared or extended).
    pub fn has_edge(&self, n1form: Option<&str>, verb: &str, n2form: Option<&str>) -> bool {
        let same = |edge: &EdgeDef| {
            edge.n1form.as_deref() == n1form
                && edge.verb == verb
                && edge.n2form.as_deref() == n2form
        };
        self.core.edges.iter().any(same)
            || (self.ext.live() && self.ext.index().edges.iter().any(same))
    }

    /// The light edges declared at runtime.
    pub fn ext_edges(&self) -> Vec<EdgeDef> {
        if !self.ext.live() {
            return Vec::new();
        }
        self.ext.index().edges.clone()
    }

    /// Declare a light edge (the caller checks the verb and forms with the reference's
    /// errors).
    pub fn add_ext_edge(&self, edge: EdgeDef) -> Result<()> {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        if self.has_edge(edge.n1form.as_deref(), &edge.verb, edge.n2form.as_deref()) {
            return Err(ModelError::BadTypeDef {
                mesg: format!("Duplicate edge declared: {}.", edge.verb),
            });
        }
        let mut draft = (*self.ext.index()).clone();
        draft.edges.push(edge);
        self.ext.publish(draft);
        Ok(())
    }

    /// Remove a light edge declared at runtime; whether it was there.
    pub fn del_ext_edge(&self, n1form: Option<&str>, verb: &str, n2form: Option<&str>) -> bool {
        let _guard = self.ext.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut draft = (*self.ext.index()).clone();
        let before = draft.edges.len();
        draft.edges.retain(|edge| {
            !(edge.n1form.as_deref() == n1form
                && edge.verb == verb
                && edge.n2form.as_deref() == n2form)
        });
        let found = draft.edges.len() != before;
        if found {
            self.ext.publish(draft);
        }
        found
    }

    /// Patch a copy of the shared `getModelDict()` document with the extensions.
    pub fn ext_model_dict(&self, dict: &mut Json) {
        if !self.ext.live() {
            return;
        }
        let index = self.ext.index();
        let Some(doc) = dict.as_object_mut() else {
            return;
        };
        for fid in &index.form_order {
            let Some(ext) = self.ext.form(fid - self.core.forms.len()) else {
                continue;
            };
            let tdef = self.type_def(ext.def.ty);
            if let Some(types) = doc.get_mut("types").and_then(Json::as_object_mut) {
                types.insert(
                    ext.def.name.clone(),
                    serde_json::json!({
                        "info": ext.info,
                        "opts": tdef.opts,
                        "stortype": tdef.stortype,
                    }),
                );
            }
            if let Some(forms) = doc.get_mut("forms").and_then(Json::as_object_mut) {
                forms.insert(
                    ext.def.name.clone(),
                    serde_json::json!({
                        "name": ext.def.name,
                        "props": {},
                        "stortype": tdef.stortype,
                    }),
                );
            }
        }
        for name in &index.type_order {
            let Some(decl) = index
                .tdecls
                .get(name)
                .and_then(|idx| self.ext.tdecls.get(*idx))
            else {
                continue;
            };
            let tdef = self.type_def(decl.ty);
            if let Some(types) = doc.get_mut("types").and_then(Json::as_object_mut) {
                types.insert(
                    name.clone(),
                    serde_json::json!({
                        "info": decl.info,
                        "opts": tdef.opts,
                        "stortype": tdef.stortype,
                    }),
                );
            }
        }
        let forms_by_id: Vec<(usize, Vec<usize>)> = index
            .form_props
            .iter()
            .map(|(fid, ids)| (*fid, ids.clone()))
            .collect();
        for (fid, ids) in forms_by_id {
            let fname = self.form_def(fid).name.clone();
            let Some(props) = doc
                .get_mut("forms")
                .and_then(|forms| forms.get_mut(&fname))
                .and_then(|fdef| fdef.get_mut("props"))
                .and_then(Json::as_object_mut)
            else {
                continue;
            };
            for id in ids {
                if let Some(ext) = self.ext_pdef(id) {
                    props.insert(ext.def.name.clone(), ext.pdef.clone());
                }
            }
        }
        if let Some(univs) = doc.get_mut("univs").and_then(Json::as_object_mut) {
            for (uname, id) in &index.univs {
                if let Some(ext) = self.ext_pdef(*id) {
                    univs.insert(uname.clone(), ext.pdef.clone());
                }
            }
        }
        if let Some(edges) = doc.get_mut("edges").and_then(Json::as_array_mut) {
            edges.extend(index.edges.iter().map(edge_json));
        }
    }

    /// The extensions as `getModelDefs()` entries: `(types, forms, univs, edges)` to append,
    /// and extended props per shared form (`form -> [(name, tdef, info)]`).
    pub fn ext_model_defs(&self) -> ExtDefs {
        let mut out = ExtDefs::default();
        if !self.ext.live() {
            return out;
        }
        let index = self.ext.index();
        let propdef = |id: usize| -> Option<Json> {
            let ext = self.ext_pdef(id)?;
            Some(Json::Array(vec![
                Json::from(ext.def.name.clone()),
                ext.pdef.get("type").cloned().unwrap_or(Json::Null),
                ext.info.clone(),
            ]))
        };
        // extended types and the types of extended forms, in order of addition
        for name in &index.type_order {
            let decl = index
                .tdecls
                .get(name)
                .and_then(|idx| self.ext.tdecls.get(*idx))
                .map(|decl| (decl.ty, &decl.base, &decl.info));
            let form = || {
                let fid = index.forms.get(name)?;
                let ext = self.ext.form(fid - self.core.forms.len())?;
                Some((ext.def.ty, &ext.base, &ext.info))
            };
            let Some((ty, base, info)) = decl.or_else(form) else {
                continue;
            };
            let tdef = self.type_def(ty);
            let mut info = info.as_object().cloned().unwrap_or_default();
            info.insert("stortype".into(), Json::from(tdef.stortype));
            out.types.push(Json::Array(vec![
                Json::from(name.clone()),
                Json::Array(vec![
                    Json::from(base.clone()),
                    Json::Object(tdef.opts.clone()),
                ]),
                Json::Object(info),
            ]));
        }
        let shared = index
            .form_props
            .keys()
            .copied()
            .filter(|fid| *fid < self.core.forms.len());
        for fid in shared.chain(index.form_order.iter().copied()) {
            let fname = self.form_def(fid).name.clone();
            let defs: Vec<Json> = index
                .form_props
                .get(&fid)
                .into_iter()
                .flatten()
                .filter_map(|id| propdef(*id))
                .collect();
            if fid >= self.core.forms.len() {
                out.forms.push(Json::Array(vec![
                    Json::from(fname),
                    Json::Object(Map::new()),
                    Json::Array(defs),
                ]));
            } else {
                out.props.push((fname, defs));
            }
        }
        for (_, id) in &index.univs {
            if let Some(def) = propdef(*id) {
                out.univs.push(def);
            }
        }
        out.edges = index.edges.iter().map(edge_json).collect();
        out
    }

    /// The extended forms as declared: `(name, basetype, typeopts, typeinfo)`.
    pub fn ext_form_decls(&self) -> Vec<(String, String, Json, Json)> {
        self.ext
            .index()
            .form_order
            .iter()
            .filter_map(|fid| self.ext.form(fid - self.core.forms.len()))
            .map(|ext| {
                (
                    ext.def.name.clone(),
                    ext.base.clone(),
                    Json::Object(ext.opts.clone()),
                    ext.given.clone(),
                )
            })
            .collect()
    }

    /// Whether the form was added at runtime.
    pub fn is_ext_form(&self, name: &str) -> bool {
        self.ext_form(name).is_some()
    }

    /// Whether the form property was added at runtime (its declaration then).
    pub fn ext_prop_decl(&self, form: &str, prop: &str) -> Option<(Json, Json)> {
        let index = self.ext.index();
        if !index.declared.iter().any(|(f, p)| f == form && p == prop) {
            return None;
        }
        let id = index.props.get(&format!("{form}:{prop}"))?;
        let ext = self.ext_pdef(*id)?;
        Some((
            ext.pdef.get("type").cloned().unwrap_or(Json::Null),
            ext.info.clone(),
        ))
    }

    /// The universal property `._name` if it was added at runtime: `(tdef, info)`.
    pub fn ext_univ_decl(&self, name: &str) -> Option<(Json, Json)> {
        let id = self.ext_univ(&format!(".{name}"))?;
        let ext = self.ext_pdef(id)?;
        Some((
            ext.pdef.get("type").cloned().unwrap_or(Json::Null),
            ext.info.clone(),
        ))
    }
}

/// The extensions as `getModelDefs()` entries (see [`Model::ext_model_defs`]).
#[derive(Debug, Default)]
pub struct ExtDefs {
    /// `(name, (ctor, opts), info)` of extended form types.
    pub types: Vec<Json>,
    /// `(name, {}, [propdefs])` of extended forms.
    pub forms: Vec<Json>,
    /// `(name, tdef, info)` of extended universal props.
    pub univs: Vec<Json>,
    /// `((n1form, verb, n2form), info)` of extended edges.
    pub edges: Vec<Json>,
    /// Extended props of shared forms: `(form, [(name, tdef, info)])`.
    pub props: Vec<(String, Vec<Json>)>,
}

/// `[[n1form, verb, n2form], info]` as the model exports an edge.
fn edge_json(edge: &EdgeDef) -> Json {
    Json::Array(vec![
        Json::Array(vec![
            edge.n1form.clone().map_or(Json::Null, Json::from),
            Json::from(edge.verb.clone()),
            edge.n2form.clone().map_or(Json::Null, Json::from),
        ]),
        edge.info.clone(),
    ])
}

/// The info of a shared universal prop as given to a form's copy (`doc`, `ro`, ...).
fn univ_info(pdef: &Json) -> Map<String, Json> {
    let mut info = pdef.as_object().cloned().unwrap_or_default();
    for key in ["name", "full", "type", "stortype"] {
        info.remove(key);
    }
    info
}

/// An interface declaration item with `$self` and `{key}` template values applied.
fn apply_template(item: &Json, form: &str, template: &Map<String, Json>) -> Json {
    match item {
        Json::String(text) if text == "$self" => Json::from(form),
        Json::String(text) => {
            let mut text = text.clone();
            for (key, valu) in template {
                if let Some(valu) = valu.as_str() {
                    text = text.replace(&format!("{{{key}}}"), valu);
                }
            }
            Json::String(text)
        }
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|x| apply_template(x, form, template))
                .collect(),
        ),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match apply_template(&Json::from(k.as_str()), form, template) {
                        Json::String(key) => key,
                        _ => k.clone(),
                    };
                    (key, apply_template(v, form, template))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `(typename, typeopts)` of a type definition.
fn split_tdef(tdef: &Json) -> Result<(&str, Map<String, Json>)> {
    let tname = tdef
        .get(0)
        .and_then(Json::as_str)
        .ok_or_else(|| ModelError::BadTypeDef {
            mesg: format!("Type definitions should be a tuple: {tdef}"),
        })?;
    let opts = match tdef.get(1) {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(opts)) => opts.clone(),
        Some(other) => {
            return Err(ModelError::BadTypeDef {
                mesg: format!("Type options should be a dict: {other}"),
            });
        }
    };
    Ok((tname, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_locations_are_dense_and_stable() {
        let mut seen = std::collections::HashSet::new();
        for idx in 0..5000 {
            let (seg, off) = locate(idx);
            assert!(off < SEG0 << seg, "{idx}");
            assert!(seen.insert((seg, off)));
        }
        let arena = Arena::new();
        for idx in 0..100usize {
            assert_eq!(arena.push(idx * 3).unwrap(), idx);
        }
        let first = arena.get(0).unwrap() as *const usize;
        for idx in 100..1000usize {
            arena.push(idx * 3).unwrap();
        }
        assert_eq!(first, arena.get(0).unwrap() as *const usize);
        assert_eq!(arena.get(999), Some(&2997));
        assert_eq!(arena.get(1000), None);
    }

    #[test]
    fn extensions_stay_in_their_model() {
        let model = Model::new_default().unwrap();
        let other = Model::new_default().unwrap();
        let nprops = model.form("inet:fqdn").unwrap().props().count();
        let info = serde_json::json!({"doc": "a foo", "interfaces": ["taxonomy"]});
        model
            .add_ext_form("_foo:bar", "str", &Map::new(), &info)
            .unwrap();
        model
            .add_ext_prop(
                "inet:fqdn",
                "_rank",
                &serde_json::json!(["int", {"min": 0}]),
                &Json::Null,
            )
            .unwrap();
        model
            .add_ext_univ(
                "_woot",
                &serde_json::json!(["str", {"lower": true}]),
                &serde_json::json!({}),
            )
            .unwrap();
        // visible in this model only
        assert!(other.form("_foo:bar").is_none());
        assert!(other.prop("inet:fqdn:_rank").is_none());
        assert!(other.univ("._woot").is_none());
        assert_eq!(other.form("inet:fqdn").unwrap().props().count(), nprops);
        let form = model.form("_foo:bar").unwrap();
        assert_eq!(form.ty().name(), "_foo:bar");
        assert_eq!(form.ty().ctor(), "str");
        assert_eq!(form.ty().info()["doc"], "a foo");
        assert!(form.implements("meta:taxonomy"));
        assert!(
            model
                .forms_by_interface("meta:taxonomy")
                .iter()
                .any(|f| f.name() == "_foo:bar")
        );
        // the taxonomy props, with $self as the form
        assert_eq!(form.prop("parent").unwrap().ty().name(), "_foo:bar");
        assert!(form.prop(".created").is_some());
        assert_eq!(form.prop("._woot").unwrap().full(), "_foo:bar._woot");
        let rank = model.prop("inet:fqdn:_rank").unwrap();
        assert_eq!(rank.form().unwrap().name(), "inet:fqdn");
        assert!(rank.ty().norm(&rmpv::Value::from(-1)).is_err());
        assert_eq!(model.form("inet:fqdn").unwrap().props().count(), nprops + 2);
        assert!(model.type_names().any(|n| n == "_foo:bar"));
        assert!(model.forms().any(|f| f.name() == "_foo:bar"));
        let (norm, _) = model
            .univ("._woot")
            .unwrap()
            .ty()
            .norm(&rmpv::Value::from("X"))
            .unwrap();
        assert_eq!(norm, rmpv::Value::from("x"));
        // removals
        let before = model.generation();
        assert!(matches!(
            model.del_ext_prop("inet:fqdn", "fqdn"),
            Err(ModelError::NoSuchProp { .. })
        ));
        model.del_ext_prop("inet:fqdn", "_rank").unwrap();
        model.del_ext_univ("_woot").unwrap();
        model.del_ext_form("_foo:bar").unwrap();
        assert!(model.generation() > before);
        assert!(model.form("_foo:bar").is_none());
        assert!(model.ty("_foo:bar").is_none());
        assert!(model.prop("inet:fqdn._woot").is_none());
        assert_eq!(model.form("inet:fqdn").unwrap().props().count(), nprops);
        // a handle taken before a removal stays usable
        model
            .add_ext_form("_a:b", "int", &Map::new(), &Json::Null)
            .unwrap();
        let held = model.form("_a:b").unwrap();
        model.del_ext_form("_a:b").unwrap();
        assert_eq!(held.name(), "_a:b");
        assert!(matches!(
            model.add_ext_form(
                "_x:y",
                "str",
                &Map::new(),
                &serde_json::json!({"interfaces": ["newp"]})
            ),
            Err(ModelError::NoSuchName { .. })
        ));
    }

    #[test]
    fn form_names() {
        assert!(is_form_name("_foo:bar"));
        assert!(is_form_name("_x:y:z"));
        assert!(!is_form_name("_Bad"));
        assert!(!is_form_name("_nocolon"));
    }
}
