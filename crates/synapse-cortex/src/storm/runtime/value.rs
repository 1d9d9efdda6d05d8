//! Storm runtime values: primitives, mutable containers, nodes, functions and library handles,
//! with the reference's conversions (`toprim`, `tostr`, `torepr`, `tobool`, `tonumber`).

use std::sync::{Arc, Mutex};

use indexmap::{IndexMap, IndexSet};
use rmpv::Value;
use rust_decimal::Decimal;

use super::error::{Flow, StormError};
use super::runt::Path;
use crate::node::Node;

/// A shared, mutable Storm list.
pub(crate) type ListRef = Arc<Mutex<Vec<Val>>>;
/// A shared, mutable Storm dict (insertion ordered).
pub(crate) type DictRef = Arc<Mutex<IndexMap<Key, Val>>>;
/// A shared, mutable Storm set.
pub(crate) type SetRef = Arc<Mutex<IndexSet<Key>>>;

/// A runtime value.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// `$lib.null`
    Null,
    /// `$lib.undef`: removes a variable or dict key when assigned.
    Undef,
    /// A boolean.
    Bool(bool),
    /// An integer (Python ints; values beyond i128 are refused).
    Int(i128),
    /// A float (from the model: latlong, float types).
    Float(f64),
    /// A decimal `Number` (Storm literals with a dot).
    Num(Decimal),
    /// A string.
    Str(Arc<str>),
    /// Bytes.
    Bytes(Arc<[u8]>),
    /// A mutable list.
    List(ListRef),
    /// An immutable tuple (model values, arguments, return values).
    Tuple(Arc<[Val]>),
    /// A mutable dict.
    Dict(DictRef),
    /// A mutable set.
    Set(SetRef),
    /// A node.
    Node(Arc<Node>),
    /// `$node.props` of a node.
    NodeProps(Arc<Node>),
    /// `$node.data` of a node.
    NodeData(Arc<Node>),
    /// `$path`
    Path(Arc<Mutex<Path>>),
    /// A library namespace (`lib`, `lib.str`, ...).
    Lib(Arc<str>),
    /// A method bound to its receiver (`$s.upper`, `$lib.print`).
    Bound(Arc<(Val, Arc<str>)>),
    /// A Storm function defined in the query.
    Func(Arc<super::runt::FuncVal>),
    /// A Storm query object (`${ ... }`).
    Query(Arc<super::runt::QueryVal>),
    /// A generator of values (emitter functions, node generators, `$lib.range`).
    Gen(Arc<super::runt::GenVal>),
    /// Another object: views, layers, model objects, ...
    Obj(Arc<Obj>),
}

/// Objects without their own variant.
#[derive(Clone, Debug)]
pub(crate) enum Obj {
    /// A view, by iden.
    View(String),
    /// A layer, by iden.
    Layer(String),
    /// A model type (`$lib.model.type`).
    ModelType(String),
    /// A model form.
    ModelForm(String),
    /// A model prop.
    ModelProp(String),
    /// A tally (`$lib.stats.tally()`).
    Tally(DictRef),
    /// An object of the tier-2 libraries (`ext.rs`: queues, ...).
    Ext(super::ext::ExtObj),
    /// A trigger or cron job (`$lib.trigger`, `$lib.cron`).
    Auto(super::automation::AutoObj),
    /// A mutable text (`$lib.text()`).
    Text(Arc<Mutex<String>>),
    /// A user's persistent vars (`$lib.user.vars`) or profile (`$lib.user.profile`).
    UserKv {
        /// The user iden.
        user: String,
        /// Vars (else the profile).
        vars: bool,
    },
    /// A tag property of the model (`$lib.model.tagprop`).
    ModelTagProp(String),
    /// A fixed cache (`$lib.cache.fixed`).
    Cache(Arc<super::libmore::FixedCache>),
    /// A pipe (`$lib.pipe.gen`).
    Pipe(Arc<super::libmore::Pipe>),
    /// An HTTP response (`$lib.inet.http`).
    HttpResp(Arc<super::httplib::HttpResp>),
    /// A module imported with `$lib.import`.
    Module(Arc<super::pkg::ModVal>),
    /// The persistent variables of a package (`$lib.pkg.vars`), by package name.
    PkgVars(String),
    /// A compiled JSON schema (`$lib.json.schema`).
    JsonSchema(Arc<super::jsonschema::Schema>),
}

/// A hashable primitive used as a dict key or set member.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Null,
    Bool(bool),
    Int(i128),
    Float(u64),
    Num(Decimal),
    Str(Arc<str>),
    Bytes(Arc<[u8]>),
    Tuple(Vec<Key>),
}

impl Key {
    /// The value of the key.
    pub(crate) fn to_val(&self) -> Val {
        match self {
            Key::Null => Val::Null,
            Key::Bool(b) => Val::Bool(*b),
            Key::Int(i) => Val::Int(*i),
            Key::Float(bits) => Val::Float(f64::from_bits(*bits)),
            Key::Num(d) => Val::Num(*d),
            Key::Str(s) => Val::Str(s.clone()),
            Key::Bytes(b) => Val::Bytes(b.clone()),
            Key::Tuple(items) => Val::Tuple(items.iter().map(Key::to_val).collect()),
        }
    }
}

pub(crate) fn s(text: &str) -> Val {
    Val::Str(Arc::from(text))
}

pub(crate) fn new_list(items: Vec<Val>) -> Val {
    Val::List(Arc::new(Mutex::new(items)))
}

pub(crate) fn new_dict(items: IndexMap<Key, Val>) -> Val {
    Val::Dict(Arc::new(Mutex::new(items)))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn bad_cast(mesg: String) -> Flow {
    Flow::Err(StormError::new("BadCast", mesg))
}

impl From<&str> for Val {
    fn from(text: &str) -> Val {
        s(text)
    }
}

impl From<String> for Val {
    fn from(text: String) -> Val {
        Val::Str(Arc::from(text))
    }
}

impl From<bool> for Val {
    fn from(b: bool) -> Val {
        Val::Bool(b)
    }
}

impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i as i128)
    }
}

impl Val {
    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// A value from msgpack data (options, stored values): arrays become tuples.
    pub(crate) fn from_msgpack(valu: &Value) -> Val {
        match valu {
            Value::Nil => Val::Null,
            Value::Boolean(b) => Val::Bool(*b),
            Value::Integer(i) => match i.as_i64() {
                Some(v) => Val::Int(v as i128),
                None => Val::Int(i.as_u64().map(|v| v as i128).unwrap_or_default()),
            },
            Value::F32(f) => Val::Float(*f as f64),
            Value::F64(f) => Val::Float(*f),
            Value::String(text) => match text.as_str() {
                Some(t) => s(t),
                None => Val::Bytes(Arc::from(text.as_bytes())),
            },
            Value::Binary(b) => Val::Bytes(Arc::from(b.as_slice())),
            Value::Array(items) => Val::Tuple(items.iter().map(Val::from_msgpack).collect()),
            Value::Map(items) => {
                let mut out = IndexMap::new();
                for (k, v) in items {
                    if let Ok(key) = Val::from_msgpack(k).to_key() {
                        out.insert(key, Val::from_msgpack(v));
                    }
                }
                new_dict(out)
            }
            Value::Ext(..) => match crate::model::value::as_pyint(valu) {
                Some(v) => Val::Int(v),
                None => Val::Null,
            },
        }
    }

    /// The value as msgpack data (the reference's `toprim`); `NoSuchType` for objects.
    pub(crate) fn to_msgpack(&self) -> Result<Value, Flow> {
        Ok(match self {
            Val::Null | Val::Undef => Value::Nil,
            Val::Bool(b) => Value::Boolean(*b),
            Val::Int(i) => crate::model::value::int_value(*i),
            Val::Float(f) => Value::F64(*f),
            Val::Num(d) => Value::F64(dec_to_f64(d)),
            Val::Str(s) => Value::from(&**s),
            Val::Bytes(b) => Value::Binary(b.to_vec()),
            Val::List(items) => {
                let items = lock(items).clone();
                Value::Array(prim_items(&items)?)
            }
            Val::Tuple(items) => Value::Array(prim_items(items)?),
            Val::Dict(items) => {
                let items = lock(items).clone();
                let mut out = Vec::with_capacity(items.len());
                for (k, v) in items.iter() {
                    match v.to_msgpack() {
                        Ok(v) => out.push((k.to_val().to_msgpack()?, v)),
                        Err(Flow::Err(e)) if e.name == "NoSuchType" => {}
                        Err(e) => return Err(e),
                    }
                }
                Value::Map(out)
            }
            Val::Set(items) => {
                let items: Vec<Val> = lock(items).iter().map(Key::to_val).collect();
                Value::Array(prim_items(&items)?)
            }
            Val::Node(node) => node.valu.clone(),
            Val::NodeProps(node) => Value::Map(
                node.props
                    .iter()
                    .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                    .collect(),
            ),
            Val::Obj(obj) => match &**obj {
                Obj::Tally(d) => Val::Dict(d.clone()).to_msgpack()?,
                Obj::Auto(a) => a.to_msgpack()?,
                Obj::View(iden) | Obj::Layer(iden) => Value::from(iden.as_str()),
                Obj::Ext(obj) => obj.to_prim()?,
                Obj::ModelType(n)
                | Obj::ModelForm(n)
                | Obj::ModelProp(n)
                | Obj::ModelTagProp(n) => Value::from(n.as_str()),
                Obj::Text(t) => Value::from(lock(t).as_str()),
                Obj::UserKv { user, .. } | Obj::PkgVars(user) => Value::from(user.as_str()),
                Obj::HttpResp(r) => r.to_prim()?,
                Obj::Cache(_) | Obj::Pipe(_) | Obj::Module(_) | Obj::JsonSchema(_) => {
                    return Err(Flow::Err(
                        StormError::new(
                            "NoSuchType",
                            "Unable to convert object to Storm primitive.",
                        )
                        .with("name", self.pytype()),
                    ));
                }
            },
            _ => {
                return Err(Flow::Err(
                    StormError::new("NoSuchType", "Unable to convert object to Storm primitive.")
                        .with("name", self.pytype()),
                ));
            }
        })
    }

    /// A hashable key for dicts and sets.
    pub(crate) fn to_key(&self) -> Result<Key, Flow> {
        Ok(match self {
            Val::Null | Val::Undef => Key::Null,
            Val::Bool(b) => Key::Bool(*b),
            Val::Int(i) => Key::Int(*i),
            Val::Float(f) => Key::Float(f.to_bits()),
            Val::Num(d) => Key::Num(d.normalize()),
            Val::Str(s) => Key::Str(s.clone()),
            Val::Bytes(b) => Key::Bytes(b.clone()),
            Val::Tuple(items) => {
                Key::Tuple(items.iter().map(Val::to_key).collect::<Result<_, _>>()?)
            }
            Val::Node(node) => Val::from_msgpack(&node.valu).to_key()?,
            _ => {
                return Err(Flow::Err(
                    StormError::new(
                        "BadArg",
                        "Mutable values are not allowed as dictionary keys",
                    )
                    .with("name", self.repr()),
                ));
            }
        })
    }

    /// Whether the value is mutable (lists, dicts, sets, paths).
    pub(crate) fn is_mutable(&self) -> bool {
        matches!(
            self,
            Val::List(_) | Val::Dict(_) | Val::Set(_) | Val::Path(_)
        )
    }

    /// The Storm type name (`$lib.vars.type`).
    pub(crate) fn typename(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Undef => "undef",
            Val::Bool(_) => "boolean",
            Val::Int(_) => "int",
            Val::Float(_) | Val::Num(_) => "number",
            Val::Str(_) => "str",
            Val::Bytes(_) => "bytes",
            Val::List(_) | Val::Tuple(_) => "list",
            Val::Dict(_) => "dict",
            Val::Set(_) => "set",
            Val::Node(_) => "node",
            Val::NodeProps(_) => "node:props",
            Val::NodeData(_) => "node:data",
            Val::Path(_) => "node:path",
            Val::Lib(_) => "lib",
            Val::Bound(_) | Val::Func(_) => "function",
            Val::Query(_) => "storm:query",
            Val::Gen(_) => "generator",
            Val::Obj(obj) => match &**obj {
                Obj::View(_) => "view",
                Obj::Layer(_) => "layer",
                Obj::ModelType(_) => "model:type",
                Obj::ModelForm(_) => "model:form",
                Obj::ModelProp(_) => "model:property",
                Obj::Tally(_) => "stat:tally",
                Obj::Ext(obj) => obj.typename(),
                Obj::Auto(a) => a.typename(),
                Obj::Text(_) => "text",
                Obj::UserKv { vars: true, .. } => "user:vars:dict",
                Obj::UserKv { vars: false, .. } => "user:profile:dict",
                Obj::ModelTagProp(_) => "model:tagprop",
                Obj::Cache(_) => "cache:fixed",
                Obj::Pipe(_) => "pipe",
                Obj::HttpResp(_) => "inet:http:resp",
                Obj::Module(_) => "lib",
                Obj::PkgVars(_) => "pkg:vars",
                Obj::JsonSchema(_) => "json:schema",
            },
        }
    }

    /// The Python class name the reference reports in some messages.
    pub(crate) fn pytype(&self) -> &'static str {
        match self {
            Val::Null => "NoneType",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float",
            Val::Num(_) => "Number",
            Val::Str(_) => "str",
            Val::Bytes(_) => "bytes",
            Val::List(_) => "list",
            Val::Tuple(_) => "tuple",
            Val::Dict(_) => "dict",
            Val::Set(_) => "set",
            Val::Bound(_) | Val::Func(_) => "function",
            _ => self.typename(),
        }
    }

    /// Python truthiness (`tobool`).
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Val::Null | Val::Undef => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Num(d) => !d.is_zero(),
            Val::Str(s) => !s.is_empty(),
            Val::Bytes(b) => !b.is_empty(),
            Val::List(l) => !lock(l).is_empty(),
            Val::Tuple(t) => !t.is_empty(),
            Val::Dict(d) => !lock(d).is_empty(),
            Val::Set(st) => !lock(st).is_empty(),
            Val::Obj(obj) => match &**obj {
                Obj::Tally(d) => !lock(d).is_empty(),
                Obj::Text(t) => !lock(t).is_empty(),
                _ => true,
            },
            _ => true,
        }
    }

    /// The reference's `tostr`.
    pub(crate) fn to_str(&self) -> Result<String, Flow> {
        Ok(match self {
            Val::Str(s) => s.to_string(),
            Val::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Val::Node(node) => node_repr(node),
            Val::Null => "None".into(),
            Val::Bool(true) => "True".into(),
            Val::Bool(false) => "False".into(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => crate::model::value::py_float_str(*f),
            Val::Num(d) => dec_str(d),
            Val::List(_) | Val::Tuple(_) | Val::Dict(_) | Val::Set(_) => self.py_repr(),
            // `str()` of a query is its text; only printing shows `storm:query: "..."`.
            Val::Query(q) => q.text.clone(),
            _ => self.repr(),
        })
    }

    /// The reference's `torepr` (what `$lib.print` shows for a non-string).
    pub(crate) fn repr(&self) -> String {
        if matches!(self, Val::List(_) | Val::Dict(_)) && super::pyvals::is_native(self) {
            return self.py_repr();
        }
        match self {
            Val::Bool(true) => "true".into(),
            Val::Bool(false) => "false".into(),
            Val::Null => "$lib.null".into(),
            Val::Undef => "$lib.undef".into(),
            Val::Num(d) => dec_str(d),
            Val::List(items) => {
                let items = lock(items).clone();
                let parts: Vec<String> = items.iter().map(Val::repr).collect();
                format!("[{}]", parts.join(", "))
            }
            Val::Dict(items) => {
                let items = lock(items).clone();
                let parts: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.to_val().repr(), v.repr()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Val::Set(items) => {
                let items = lock(items).clone();
                let parts: Vec<String> = items.iter().map(|k| k.to_val().repr()).collect();
                format!("{{{}}}", parts.join(", "))
            }
            Val::Lib(path) => format!("Library ${path}"),
            Val::Node(node) => format!("Node{{{}}}", node_ndef_repr(node)),
            Val::Query(q) => format!("storm:query: \"{}\"", q.text),
            Val::Bound(b) => format!("bound method {}", b.1),
            Val::Func(f) => format!("function {}", f.plan.name),
            Val::Obj(obj) => match &**obj {
                Obj::Tally(d) => Val::Dict(d.clone()).repr(),
                Obj::Auto(a) => a.repr(),
                Obj::View(iden) => format!("view: {iden}"),
                Obj::Layer(iden) => format!("layer: {iden}"),
                Obj::Ext(obj) => obj.repr(),
                Obj::Text(t) => format!("text: {}", lock(t)),
                Obj::Cache(c) => c.repr(),
                Obj::Module(m) => m.repr(),
                Obj::JsonSchema(schema) => super::jsonschema::repr(schema),
                other => format!("{other:?}"),
            },
            _ => self.py_repr(),
        }
    }

    /// Python's `repr` of the value.
    pub(crate) fn py_repr(&self) -> String {
        match self {
            Val::Null | Val::Undef => "None".into(),
            Val::Bool(true) => "True".into(),
            Val::Bool(false) => "False".into(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => crate::model::value::py_float_str(*f),
            Val::Num(d) => format!("Decimal('{}')", dec_str(d)),
            Val::Str(s) => crate::model::value::py_repr_str(s),
            Val::Bytes(b) => py_bytes_repr(b),
            Val::List(items) => {
                let items = lock(items).clone();
                let parts: Vec<String> = items.iter().map(Val::py_repr).collect();
                format!("[{}]", parts.join(", "))
            }
            Val::Tuple(items) => {
                let parts: Vec<String> = items.iter().map(Val::py_repr).collect();
                if parts.len() == 1 {
                    format!("({},)", parts[0])
                } else {
                    format!("({})", parts.join(", "))
                }
            }
            Val::Dict(items) => {
                let items = lock(items).clone();
                let parts: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.to_val().py_repr(), v.py_repr()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Val::Set(items) => {
                let items = lock(items).clone();
                if items.is_empty() {
                    return "set()".into();
                }
                let parts: Vec<String> = items.iter().map(|k| k.to_val().py_repr()).collect();
                format!("{{{}}}", parts.join(", "))
            }
            // values that are Python objects in the reference: their default repr, without
            // the address (`repr` hands these back here, so they must not call `repr`)
            Val::NodeProps(_) => "<synapse.lib.stormtypes.NodeProps object>".into(),
            Val::NodeData(_) => "<synapse.lib.stormtypes.NodeData object>".into(),
            Val::Path(_) => "<synapse.lib.stormtypes.Path object>".into(),
            Val::Gen(_) => "<async_generator object>".into(),
            Val::Lib(_)
            | Val::Node(_)
            | Val::Query(_)
            | Val::Bound(_)
            | Val::Func(_)
            | Val::Obj(_) => self.repr(),
        }
    }

    /// Items of a list-like value (lists, tuples, sets), or `None`.
    pub(crate) fn seq_items(&self) -> Option<Vec<Val>> {
        match self {
            Val::List(items) => Some(lock(items).clone()),
            Val::Tuple(items) => Some(items.to_vec()),
            Val::Set(items) => Some(lock(items).iter().map(Key::to_val).collect()),
            _ => None,
        }
    }
}

fn prim_items(items: &[Val]) -> Result<Vec<Value>, Flow> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.to_msgpack() {
            Ok(v) => out.push(v),
            Err(Flow::Err(e)) if e.name == "NoSuchType" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn py_bytes_repr(b: &[u8]) -> String {
    let mut out = String::from("b'");
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('\'');
    out
}

/// The node's primary value repr (`$node.repr()`).
pub(crate) fn node_repr(node: &Node) -> String {
    node_ndef_repr(node)
}

fn node_ndef_repr(node: &Node) -> String {
    let model = crate::model::Model::load_default().ok();
    let repr = model
        .as_ref()
        .and_then(|m| m.form(&node.form).map(|f| f.ty().repr(&node.valu)));
    match repr {
        Some(Ok(v)) => repr_text(&v),
        _ => repr_text(&node.valu),
    }
}

/// A decimal as Python's `str(Decimal)`.
pub(crate) fn dec_str(d: &Decimal) -> String {
    d.to_string()
}

pub(crate) fn dec_to_f64(d: &Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// A numeric value for arithmetic and ordering (`tonumber`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Numeric {
    Int(i128),
    Dec(Decimal),
}

impl Val {
    /// The reference's `tonumber`.
    pub(crate) fn to_number(&self) -> Result<Numeric, Flow> {
        match self {
            Val::Num(d) => Ok(Numeric::Dec(*d)),
            Val::Float(f) => Decimal::from_f64_retain(*f)
                .or_else(|| f.to_string().parse().ok())
                .map(Numeric::Dec)
                .ok_or_else(|| bad_cast(format!("Failed to make number from {}", self.py_repr()))),
            Val::Str(text) if text.contains('.') => text
                .trim()
                .parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(text.trim()))
                .map(Numeric::Dec)
                .map_err(|_| bad_cast(format!("Failed to make number from {}", self.py_repr()))),
            _ => self.to_int().map(Numeric::Int),
        }
    }

    /// The reference's `toint`.
    pub(crate) fn to_int(&self) -> Result<i128, Flow> {
        match self {
            Val::Int(i) => Ok(*i),
            Val::Bool(b) => Ok(*b as i128),
            Val::Float(f) if f.is_finite() => Ok(f.trunc() as i128),
            Val::Num(d) => d.trunc().to_string().parse().map_err(|_| {
                bad_cast(format!(
                    "Failed to make an integer from {}.",
                    self.py_repr()
                ))
            }),
            Val::Str(text) => crate::model::value::py_int0(text).map_err(|_| {
                bad_cast(format!(
                    "Failed to make an integer from {}.",
                    crate::model::value::py_repr_str(text)
                ))
            }),
            Val::Node(node) => Val::from_msgpack(&node.valu).to_int(),
            _ => Err(bad_cast(format!(
                "Failed to make an integer from {}.",
                self.py_repr()
            ))),
        }
    }

    /// A primitive for comparisons (`tocmprvalu`): nodes become their value.
    pub(crate) fn cmprvalu(&self) -> Val {
        match self {
            Val::Node(node) => Val::from_msgpack(&node.valu),
            Val::List(items) => Val::Tuple(lock(items).iter().map(Val::cmprvalu).collect()),
            Val::Tuple(items) => Val::Tuple(items.iter().map(Val::cmprvalu).collect()),
            other => other.clone(),
        }
    }
}

impl Numeric {
    pub(crate) fn to_val(self) -> Val {
        match self {
            Numeric::Int(i) => Val::Int(i),
            Numeric::Dec(d) => Val::Num(d),
        }
    }

    pub(crate) fn to_dec(self) -> Decimal {
        match self {
            Numeric::Int(i) => Decimal::from_i128_with_scale(i, 0),
            Numeric::Dec(d) => d,
        }
    }
}

/// Python equality of two values (after `tocmprvalu`).
pub(crate) fn py_equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Bool(x), Val::Int(y)) | (Val::Int(y), Val::Bool(x)) => (*x as i128) == *y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => (*x as f64) == *y,
        (Val::Float(x), Val::Float(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Num(x), Val::Int(y)) | (Val::Int(y), Val::Num(x)) => {
            *x == Decimal::from_i128_with_scale(*y, 0)
        }
        (Val::Num(x), Val::Float(y)) | (Val::Float(y), Val::Num(x)) => dec_to_f64(x) == *y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Bytes(x), Val::Bytes(y)) => x == y,
        (Val::List(_) | Val::Tuple(_), Val::List(_) | Val::Tuple(_)) => {
            let (xs, ys) = (
                a.seq_items().unwrap_or_default(),
                b.seq_items().unwrap_or_default(),
            );
            xs.len() == ys.len() && xs.iter().zip(&ys).all(|(x, y)| py_equal(x, y))
        }
        (Val::Dict(x), Val::Dict(y)) => {
            let (x, y) = (lock(x).clone(), lock(y).clone());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| py_equal(v, w)))
        }
        (Val::Set(x), Val::Set(y)) => *lock(x) == *lock(y),
        (Val::Node(x), Val::Node(y)) => x.buid == y.buid,
        (Val::Lib(x), Val::Lib(y)) => x == y,
        _ => false,
    }
}

/// Python ordering of two values (`sorted`, `min`, `max`).
pub(crate) fn py_order(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Bytes(x), Val::Bytes(y)) => Some(x.cmp(y)),
        (Val::List(_) | Val::Tuple(_), Val::List(_) | Val::Tuple(_)) => {
            let (xs, ys) = (
                a.seq_items().unwrap_or_default(),
                b.seq_items().unwrap_or_default(),
            );
            for (x, y) in xs.iter().zip(&ys) {
                match py_order(x, y)? {
                    Ordering::Equal => continue,
                    other => return Some(other),
                }
            }
            Some(xs.len().cmp(&ys.len()))
        }
        (
            Val::Int(_) | Val::Bool(_) | Val::Float(_) | Val::Num(_),
            Val::Int(_) | Val::Bool(_) | Val::Float(_) | Val::Num(_),
        ) => {
            if let (Val::Float(_), _) | (_, Val::Float(_)) = (a, b) {
                let f = |v: &Val| match v {
                    Val::Float(f) => *f,
                    Val::Num(d) => dec_to_f64(d),
                    other => other.to_int().unwrap_or_default() as f64,
                };
                return f(a).partial_cmp(&f(b));
            }
            let (x, y) = (a.to_number().ok()?, b.to_number().ok()?);
            match (x, y) {
                (Numeric::Int(x), Numeric::Int(y)) => Some(x.cmp(&y)),
                (x, y) => Some(x.to_dec().cmp(&y.to_dec())),
            }
        }
        _ => None,
    }
}

/// A type's repr value as text (lists as Python tuples).
pub(crate) fn repr_text(v: &Value) -> String {
    match v {
        Value::String(text) => text.as_str().unwrap_or_default().to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(crate::model::value::py_repr).collect();
            if parts.len() == 1 {
                format!("({},)", parts[0])
            } else {
                format!("({})", parts.join(", "))
            }
        }
        other => crate::model::value::py_repr(other),
    }
}
