//! Type objects: compiled options per base type class ("ctor") and norm/repr dispatch.
//!
//! A [`Type`] is a cheap handle (model + index). Every named type of the model, and every
//! clone made by a property, comp field or array element with its own options, has one
//! compiled [`TypeDef`] in the model's arena.

use std::cmp::Ordering;

use regex::Regex;
use rmpv::Value;
use serde_json::{Map, Value as Json};

use super::error::{ModelError, Result};
use super::value::{as_pyint, as_str, int_value, py_float_decimal_str, py_repr, py_type};
use super::{Model, NormInfo};

/// Index of a compiled type in the model's arena.
pub(crate) type TypeId = usize;

/// Storage type codes (the reference's `STOR_TYPE_*`).
pub mod stortype {
    /// UTF-8 string.
    pub const UTF8: i64 = 1;
    /// Unsigned 8 bit int.
    pub const U8: i64 = 2;
    /// Unsigned 16 bit int.
    pub const U16: i64 = 3;
    /// Unsigned 32 bit int.
    pub const U32: i64 = 4;
    /// Unsigned 64 bit int.
    pub const U64: i64 = 5;
    /// Signed 8 bit int.
    pub const I8: i64 = 6;
    /// Signed 16 bit int.
    pub const I16: i64 = 7;
    /// Signed 32 bit int.
    pub const I32: i64 = 8;
    /// Signed 64 bit int.
    pub const I64: i64 = 9;
    /// Guid (16 bytes).
    pub const GUID: i64 = 10;
    /// Time (epoch millis).
    pub const TIME: i64 = 11;
    /// Interval.
    pub const IVAL: i64 = 12;
    /// msgpack blob.
    pub const MSGP: i64 = 13;
    /// Lat/long.
    pub const LATLONG: i64 = 14;
    /// Hierarchical location.
    pub const LOC: i64 = 15;
    /// Tag.
    pub const TAG: i64 = 16;
    /// Fully qualified domain name.
    pub const FQDN: i64 = 17;
    /// IPv6 address.
    pub const IPV6: i64 = 18;
    /// Unsigned 128 bit int.
    pub const U128: i64 = 19;
    /// Signed 128 bit int.
    pub const I128: i64 = 20;
    /// Time keeping the minimum on merge.
    pub const MINTIME: i64 = 21;
    /// 64 bit float.
    pub const FLOAT64: i64 = 22;
    /// Huge decimal number.
    pub const HUGENUM: i64 = 23;
    /// Time keeping the maximum on merge.
    pub const MAXTIME: i64 = 24;
    /// Node definition.
    pub const NDEF: i64 = 25;
    /// Flag OR-ed into array storage types.
    pub const ARRAY_FLAG: i64 = 0x8000;
}

/// A compiled type.
#[derive(Debug)]
pub(crate) struct TypeDef {
    pub(crate) name: String,
    pub(crate) ctor: String,
    pub(crate) kind: Kind,
    pub(crate) opts: Map<String, Json>,
    pub(crate) deprecated: bool,
    pub(crate) stortype: i64,
}

/// Compiled `int` options.
#[derive(Debug, Clone)]
pub(crate) struct IntOpts {
    pub(crate) min: i128,
    pub(crate) max: i128,
    pub(crate) enums: Vec<(i128, String)>,
    pub(crate) strict: bool,
    pub(crate) ismin: bool,
    pub(crate) ismax: bool,
}

/// Compiled `str` options.
#[derive(Debug, Clone)]
pub(crate) struct StrOpts {
    pub(crate) lower: bool,
    pub(crate) strip: bool,
    pub(crate) onespace: bool,
    pub(crate) replace: Vec<(String, String)>,
    pub(crate) regex: Option<(Regex, String, Vec<String>)>,
    pub(crate) enums: Option<Vec<String>>,
    pub(crate) globsuffix: bool,
}

/// The behaviour of a type, by base class, with compiled options.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Int(IntOpts),
    Float {
        min: Option<f64>,
        minisvalid: bool,
        max: Option<f64>,
        maxisvalid: bool,
    },
    Str(StrOpts),
    Hex {
        size: usize,
        zeropad: usize,
    },
    Bool,
    Time {
        ismin: bool,
        ismax: bool,
    },
    Duration,
    Ival,
    Guid,
    TagPart,
    Tag,
    Taxon,
    Taxonomy,
    Comp {
        fields: Option<Vec<(String, TypeId)>>,
        sepr: Option<String>,
    },
    Loc,
    Ndef {
        forms: Option<Vec<String>>,
        ifaces: Option<Vec<String>>,
    },
    Array {
        elem: TypeId,
        uniq: bool,
        sorted: bool,
        split: Option<String>,
    },
    Edge {
        n1forms: Option<Vec<String>>,
        n2forms: Option<Vec<String>>,
        time: bool,
    },
    Data {
        geojson: bool,
    },
    NodeProp,
    HugeNum {
        units: Vec<(String, String)>,
        modulo: Option<String>,
    },
    Range {
        sub: TypeId,
    },
    Velocity {
        relative: bool,
    },
    DnsName,
    SynUser,
    SynRole,
    CvssV2,
    CvssV3,
    FileBytes,
    FileBase,
    FilePath,
    SemVer,
    Cpe23,
    Cpe22,
    GeoDist {
        baseoff: i128,
    },
    GeoArea,
    LatLong,
    Imei,
    Imsi,
    Phone,
    InetAddr {
        defport: Option<i64>,
        defproto: String,
    },
    Cidr4,
    Cidr6,
    Email,
    Fqdn,
    Ipv4,
    Ipv4Range {
        sub: TypeId,
    },
    Ipv6,
    Ipv6Range {
        sub: TypeId,
    },
    Rfc2822,
    Url,
    HttpCookie,
}

impl Kind {
    /// Classes deriving from the reference's `Str`: int/bool/float input is stringified first.
    fn is_str_family(&self) -> bool {
        matches!(
            self,
            Kind::Str(_)
                | Kind::TagPart
                | Kind::Tag
                | Kind::Taxon
                | Kind::Taxonomy
                | Kind::DnsName
                | Kind::CvssV2
                | Kind::CvssV3
                | Kind::FileBytes
                | Kind::FileBase
                | Kind::FilePath
                | Kind::Cpe23
                | Kind::Cpe22
                | Kind::Phone
                | Kind::InetAddr { .. }
                | Kind::Cidr4
                | Kind::Cidr6
                | Kind::Email
                | Kind::Rfc2822
                | Kind::Url
                | Kind::HttpCookie
        )
    }
}

/// A type of the data model: a handle to compiled type data.
#[derive(Clone, Copy)]
pub struct Type<'a> {
    pub(crate) model: &'a Model,
    pub(crate) id: TypeId,
}

impl std::fmt::Debug for Type<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Type")
            .field("name", &self.name())
            .field("ctor", &self.def().ctor)
            .finish()
    }
}

pub(crate) fn bad(name: &str, mesg: impl Into<String>) -> ModelError {
    ModelError::bad(name, mesg)
}

pub(crate) type Normed = (Value, NormInfo);

impl<'a> Type<'a> {
    pub(crate) fn def(&self) -> &'a TypeDef {
        self.model.type_def(self.id)
    }

    pub(crate) fn kind(&self) -> &'a Kind {
        &self.def().kind
    }

    pub(crate) fn other(&self, id: TypeId) -> Type<'a> {
        Type {
            model: self.model,
            id,
        }
    }

    pub(crate) fn named(&self, name: &str) -> Result<Type<'a>> {
        self.model.ty(name).ok_or_else(|| ModelError::NoSuchType {
            name: name.to_string(),
        })
    }

    /// The type name (a clone keeps the name of the type it was made from).
    pub fn name(&self) -> &'a str {
        &self.def().name
    }

    /// The base class ("ctor") name, e.g. `int` for `inet:asn`.
    pub fn ctor(&self) -> &'a str {
        &self.def().ctor
    }

    /// The fully merged options as the reference exports them.
    pub fn opts(&self) -> &'a Map<String, Json> {
        &self.def().opts
    }

    /// The type info (`doc`, `bases`, `ex`, ...).
    pub fn info(&self) -> &'a Json {
        self.model.type_info_of(&self.def().name)
    }

    /// The storage type code (array types have [`stortype::ARRAY_FLAG`] set).
    pub fn stortype(&self) -> i64 {
        self.def().stortype
    }

    /// Whether this is an array type.
    pub fn is_array(&self) -> bool {
        matches!(self.kind(), Kind::Array { .. })
    }

    /// Whether normalized values of the type are mutable (arrays, data, node props, and comps
    /// with such a field): the reference's `Type.ismutable`.
    pub fn is_mutable(&self) -> bool {
        match self.kind() {
            Kind::Array { .. } | Kind::Data { .. } | Kind::NodeProp => true,
            Kind::Comp {
                fields: Some(fields),
                ..
            } => fields.iter().any(|(_, id)| self.other(*id).is_mutable()),
            _ => false,
        }
    }

    /// The element type of an array type.
    pub fn array_elem(&self) -> Option<Type<'a>> {
        match self.kind() {
            Kind::Array { elem, .. } => Some(self.other(*elem)),
            _ => None,
        }
    }

    /// Whether the type is deprecated.
    pub fn is_deprecated(&self) -> bool {
        self.def().deprecated || matches!(self.kind(), Kind::Edge { .. })
    }

    /// The comp field names and types of a comp type (empty otherwise).
    pub fn comp_fields(&self) -> Vec<(&'a str, Type<'a>)> {
        match self.kind() {
            Kind::Comp {
                fields: Some(fields),
                ..
            } => fields
                .iter()
                .map(|(n, t)| (n.as_str(), self.other(*t)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Normalize a value: the stored form of the value and its [`NormInfo`].
    pub fn norm(&self, valu: &Value) -> Result<Normed> {
        let kind = self.kind();
        let name = self.name();
        match kind {
            Kind::Data { .. } => return self.norm_data(valu),
            Kind::HugeNum { .. } => return super::numeric::norm_hugenum(self, valu),
            _ => {}
        }
        if kind.is_str_family() {
            return match valu {
                Value::String(_) => {
                    self.norm_str_kind(as_str(valu).ok_or_else(|| bad(name, "invalid utf-8"))?)
                }
                Value::Integer(_) | Value::Ext(0 | 1, _) => {
                    let ival = as_pyint(valu).unwrap_or_default();
                    if matches!(kind, Kind::Phone) && ival < 1 {
                        return Err(bad(name, "phone int must be greater than 0"));
                    }
                    self.norm_str_kind(&ival.to_string())
                }
                Value::Boolean(b) => self.norm_str_kind(if *b { "true" } else { "false" }),
                Value::F64(f) => self.norm_str_kind(&py_float_decimal_str(*f)),
                Value::F32(f) => self.norm_str_kind(&py_float_decimal_str(f64::from(*f))),
                Value::Array(items) => self.norm_str_list(valu, items),
                Value::Binary(b) if matches!(kind, Kind::FileBytes) => {
                    super::misc::filebytes_from_bytes(self, b)
                }
                _ => Err(no_norm(name, valu)),
            };
        }
        match kind {
            Kind::Int(_)
            | Kind::GeoDist { .. }
            | Kind::GeoArea
            | Kind::SemVer
            | Kind::Imei
            | Kind::Imsi => super::numeric::norm_int_family(self, valu),
            Kind::Float { .. } => super::numeric::norm_float(self, valu),
            Kind::Bool => super::numeric::norm_bool(self, valu),
            Kind::Time { .. } => super::numeric::norm_time(self, valu),
            Kind::Duration => super::numeric::norm_duration(self, valu),
            Kind::Velocity { .. } => super::numeric::norm_velocity(self, valu),
            Kind::Ival => super::numeric::norm_ival(self, valu),
            Kind::Hex { .. } => super::numeric::norm_hex(self, valu),
            Kind::Guid | Kind::SynUser | Kind::SynRole => match valu {
                Value::String(_) => self.norm_guid_str(as_str(valu).unwrap_or_default()),
                Value::Array(items) => {
                    if items.is_empty() {
                        return Err(bad(name, "Guid list values cannot be empty."));
                    }
                    Ok((
                        Value::from(super::value::guid_of(valu)),
                        NormInfo::default(),
                    ))
                }
                _ => Err(no_norm(name, valu)),
            },
            Kind::Loc => match valu {
                Value::String(_) => {
                    let text = super::value::py_lower(super::value::py_strip(
                        as_str(valu).unwrap_or_default(),
                    ));
                    let norm: Vec<String> = text.split('.').map(super::value::onespace).collect();
                    Ok((Value::from(norm.join(".")), NormInfo::default()))
                }
                _ => Err(no_norm(name, valu)),
            },
            Kind::Comp { .. } => self.norm_comp(valu),
            Kind::Ndef { .. } => self.norm_ndef(valu),
            Kind::Array { .. } => self.norm_array(valu),
            Kind::Edge { .. } => self.norm_edge(valu),
            Kind::NodeProp => self.norm_nodeprop(valu),
            Kind::Range { .. } | Kind::Ipv4Range { .. } | Kind::Ipv6Range { .. } => {
                super::inet::norm_range(self, valu)
            }
            Kind::LatLong => super::misc::norm_latlong(self, valu),
            Kind::Fqdn => match valu {
                Value::String(_) => super::inet::norm_fqdn(self, as_str(valu).unwrap_or_default()),
                _ => Err(no_norm(name, valu)),
            },
            Kind::Ipv4 => super::inet::norm_ipv4(self, valu),
            Kind::Ipv6 => super::inet::norm_ipv6(self, valu),
            _ => Err(no_norm(name, valu)),
        }
    }

    /// Normalize a string for the str-derived classes.
    fn norm_str_kind(&self, text: &str) -> Result<Normed> {
        let name = self.name();
        match self.kind() {
            Kind::Str(opts) => norm_str(name, opts, text),
            Kind::TagPart => Ok((
                Value::from(norm_tagpart(text).map_err(|m| bad(name, m))?),
                NormInfo::default(),
            )),
            Kind::Taxon => Ok((
                Value::from(
                    norm_tagpart(text)
                        .map_err(|_| bad(name, "Each taxon must be non-zero length."))?,
                ),
                NormInfo::default(),
            )),
            Kind::Tag => {
                let text = text.trim_matches('#');
                let parts: Vec<Value> = text.split('.').map(Value::from).collect();
                self.norm_tag_list(&parts)
            }
            Kind::Taxonomy => {
                let text = super::value::py_strip(text).trim_matches('.');
                let parts: Vec<Value> = text.split('.').map(Value::from).collect();
                self.norm_taxonomy_list(&parts)
            }
            Kind::DnsName => super::inet::norm_dnsname(self, text),
            Kind::CvssV2 => super::cvss::norm_cvss2(name, text),
            Kind::CvssV3 => super::cvss::norm_cvss3(name, text),
            Kind::FileBytes => super::misc::norm_filebytes(self, text),
            Kind::FileBase => super::misc::norm_filebase(name, text),
            Kind::FilePath => super::misc::norm_filepath(name, text),
            Kind::Cpe23 => super::cpe::norm_cpe23(name, text),
            Kind::Cpe22 => super::cpe::norm_cpe22(name, text),
            Kind::Phone => super::misc::norm_phone(name, text),
            Kind::InetAddr { .. } => super::inet::norm_addr(self, text),
            Kind::Cidr4 => super::inet::norm_cidr4(self, text),
            Kind::Cidr6 => super::inet::norm_cidr6(name, text),
            Kind::Email => super::inet::norm_email(self, text),
            Kind::Rfc2822 => super::inet::norm_rfc2822(self, text),
            Kind::Url => super::inet::norm_url(self, text),
            Kind::HttpCookie => super::inet::norm_cookie(text),
            _ => Err(no_norm(name, &Value::from(text))),
        }
    }

    /// List input for str-derived classes that accept it.
    fn norm_str_list(&self, valu: &Value, items: &[Value]) -> Result<Normed> {
        match self.kind() {
            Kind::Tag => self.norm_tag_list(items),
            Kind::Taxonomy => self.norm_taxonomy_list(items),
            Kind::FileBytes => {
                if items.is_empty() {
                    return Err(bad(self.name(), "Guid list values cannot be empty."));
                }
                Ok((
                    Value::from(format!("guid:{}", super::value::guid_of(valu))),
                    NormInfo::default(),
                ))
            }
            Kind::Cpe22 => super::cpe::norm_cpe22_list(self.name(), items),
            Kind::Cpe23 => super::cpe::norm_cpe23_list(self.name(), items),
            _ => Err(no_norm(self.name(), valu)),
        }
    }

    fn norm_guid_str(&self, text: &str) -> Result<Normed> {
        let name = self.name();
        let is_auth = matches!(self.kind(), Kind::SynUser | Kind::SynRole);
        if text == "*" {
            if is_auth {
                let what = if matches!(self.kind(), Kind::SynUser) {
                    "username"
                } else {
                    "rolename"
                };
                return Err(bad(
                    name,
                    format!("{name} values must be a valid {what} or a guid."),
                ));
            }
            return Ok((
                Value::from(super::value::guid_random()),
                NormInfo::default(),
            ));
        }
        let norm = super::value::py_lower(text).replace('-', "");
        if norm.len() == 32 && norm.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok((Value::from(norm), NormInfo::default()));
        }
        match self.kind() {
            Kind::SynUser => Err(bad(
                name,
                format!("No user named {text} and value is not a guid."),
            )),
            Kind::SynRole => Err(bad(
                name,
                format!("No role named {text} and value is not a guid."),
            )),
            _ => Err(bad(name, "valu is not a guid.")),
        }
    }

    fn norm_tag_list(&self, items: &[Value]) -> Result<Normed> {
        let name = self.name();
        let part = self.named("syn:tag:part")?;
        let mut toks = Vec::with_capacity(items.len());
        for item in items {
            let (norm, _) = part.norm(item)?;
            toks.push(as_str(&norm).unwrap_or_default().to_string());
        }
        if toks.is_empty() {
            return Err(bad(name, "Tag does not match tagre: [(\\w+\\.)*\\w+]"));
        }
        let norm = toks.join(".");
        self.model
            .check_tag(&norm)
            .map_err(|mesg| bad(name, mesg))?;
        let mut info = NormInfo::default();
        info.subs
            .push(("base".into(), Value::from(toks[toks.len() - 1].clone())));
        info.subs
            .push(("depth".into(), Value::from(toks.len() as i64 - 1)));
        if toks.len() > 1 {
            info.subs
                .push(("up".into(), Value::from(toks[..toks.len() - 1].join("."))));
        }
        info.toks = toks;
        Ok((Value::from(norm), info))
    }

    fn norm_taxonomy_list(&self, items: &[Value]) -> Result<Normed> {
        let taxon = self.named("taxon")?;
        let mut toks = Vec::with_capacity(items.len());
        for item in items {
            let (norm, _) = taxon.norm(item)?;
            toks.push(as_str(&norm).unwrap_or_default().to_string());
        }
        let Some(last) = toks.last() else {
            return Err(bad(self.name(), "list index out of range"));
        };
        let mut info = NormInfo::default();
        info.subs.push(("base".into(), Value::from(last.clone())));
        info.subs
            .push(("depth".into(), Value::from(toks.len() as i64 - 1)));
        if toks.len() > 1 {
            info.subs.push((
                "parent".into(),
                Value::from(format!("{}.", toks[..toks.len() - 1].join("."))),
            ));
        }
        Ok((Value::from(format!("{}.", toks.join("."))), info))
    }

    fn norm_comp(&self, valu: &Value) -> Result<Normed> {
        let Kind::Comp { fields, sepr } = self.kind() else {
            return Err(no_norm(self.name(), valu));
        };
        let split;
        let is_split = matches!(valu, Value::String(_));
        let items: &[Value] = match valu {
            Value::Array(items) => items,
            Value::String(_) if sepr.is_some() => {
                let text = as_str(valu).unwrap_or_default();
                let sepr = sepr.as_deref().unwrap_or_default();
                split = text.split(sepr).map(Value::from).collect::<Vec<_>>();
                &split
            }
            _ => return Err(no_norm(self.name(), valu)),
        };
        let Some(fields) = fields else {
            return Err(bad(self.name(), "object of type 'NoneType' has no len()"));
        };
        if items.len() != fields.len() {
            return Err(bad(
                self.name(),
                format!(
                    "invalid number of fields given for norming: {}",
                    super::value::trim_text(&py_repr_seq(items, is_split))
                ),
            ));
        }
        let mut info = NormInfo::default();
        let mut norms = Vec::with_capacity(items.len());
        for ((fname, ftype), item) in fields.iter().zip(items) {
            let ftype = self.other(*ftype);
            let (norm, finfo) = ftype.norm(item)?;
            info.subs.push((fname.clone(), norm.clone()));
            for (k, v) in &finfo.subs {
                info.subs.push((format!("{fname}:{k}"), v.clone()));
            }
            let adds = finfo.adds.clone();
            if self.model.form(ftype.name()).is_some() {
                info.adds.push(super::AutoAdd {
                    form: ftype.name().to_string(),
                    valu: norm.clone(),
                    info: finfo,
                });
            }
            info.adds.extend(adds);
            norms.push(norm);
        }
        Ok((Value::Array(norms), info))
    }

    fn norm_ndef(&self, valu: &Value) -> Result<Normed> {
        let Kind::Ndef { forms, ifaces } = self.kind() else {
            return Err(no_norm(self.name(), valu));
        };
        let Value::Array(items) = valu else {
            return Err(no_norm(self.name(), valu));
        };
        if items.len() != 2 {
            let mesg = if items.len() < 2 {
                format!(
                    "not enough values to unpack (expected 2, got {})",
                    items.len()
                )
            } else {
                "too many values to unpack (expected 2)".to_string()
            };
            return Err(bad(self.name(), mesg));
        }
        let formname = match &items[0] {
            Value::String(s) => s.as_str().unwrap_or_default().to_string(),
            other => py_repr(other),
        };
        let form = self
            .model
            .form(&formname)
            .ok_or_else(|| ModelError::NoSuchForm {
                name: formname.clone(),
            })?;
        if forms.is_some() || ifaces.is_some() {
            let allowed = forms.as_ref().is_some_and(|f| f.contains(&formname))
                || ifaces
                    .as_ref()
                    .is_some_and(|i| i.iter().any(|x| form.implements(x)));
            if !allowed {
                let mut mesg = format!(
                    "Ndef of form {formname} is not allowed as a value for {} with form filter",
                    self.name()
                );
                if let Some(f) = forms {
                    mesg.push_str(&format!(" forms={}", py_list_repr(f)));
                }
                if let Some(i) = ifaces {
                    mesg.push_str(&format!(" interfaces={}", py_list_repr(i)));
                }
                return Err(bad(self.name(), mesg));
            }
        }
        let (fnorm, finfo) = form.ty().norm(&items[1])?;
        let mut info = NormInfo::default();
        info.subs
            .push(("form".into(), Value::from(formname.clone())));
        info.adds.push(super::AutoAdd {
            form: formname.clone(),
            valu: fnorm.clone(),
            info: finfo,
        });
        Ok((Value::Array(vec![Value::from(formname), fnorm]), info))
    }

    fn norm_array(&self, valu: &Value) -> Result<Normed> {
        let Kind::Array {
            elem,
            uniq,
            sorted,
            split,
        } = self.kind()
        else {
            return Err(no_norm(self.name(), valu));
        };
        let parts;
        let items: &[Value] = match valu {
            Value::Array(items) => items,
            Value::String(_) => {
                let Some(sepr) = split else {
                    return Err(bad(
                        self.name(),
                        format!("{} type has no split-char defined.", self.name()),
                    ));
                };
                let text = as_str(valu).unwrap_or_default();
                parts = text
                    .split(sepr.as_str())
                    .map(|p| Value::from(super::value::py_strip(p)))
                    .collect::<Vec<_>>();
                &parts
            }
            _ => return Err(no_norm(self.name(), valu)),
        };
        let elem = self.other(*elem);
        let isform = self.model.form(elem.name()).is_some();
        let mut info = NormInfo::default();
        let mut norms: Vec<Value> = Vec::with_capacity(items.len());
        for item in items {
            let (norm, einfo) = elem.norm(item)?;
            info.adds.extend(einfo.adds.iter().cloned());
            if isform {
                info.adds.push(super::AutoAdd {
                    form: elem.name().to_string(),
                    valu: norm.clone(),
                    info: einfo,
                });
            }
            norms.push(norm);
        }
        if *uniq {
            let mut uniqs: Vec<Value> = Vec::with_capacity(norms.len());
            for n in norms {
                if !uniqs.iter().any(|u| py_eq(u, &n)) {
                    uniqs.push(n);
                }
            }
            norms = uniqs;
        }
        if *sorted {
            norms.sort_by(py_cmp);
        }
        Ok((Value::Array(norms), info))
    }

    fn norm_edge(&self, valu: &Value) -> Result<Normed> {
        let Kind::Edge {
            n1forms,
            n2forms,
            time,
        } = self.kind()
        else {
            return Err(no_norm(self.name(), valu));
        };
        let Value::Array(items) = valu else {
            return Err(no_norm(self.name(), valu));
        };
        let want = if *time { 3 } else { 2 };
        if items.len() != want {
            let mesg = if *time {
                format!(
                    "timeedge requires (ndef, ndef, time), got {}",
                    py_repr_tuple(items)
                )
            } else {
                "edge requires (ndef, ndef)".to_string()
            };
            return Err(bad(self.name(), mesg));
        }
        let tick = if *time {
            Some(self.named("time")?.norm(&items[2])?.0)
        } else {
            None
        };
        let ndef = self.named("ndef")?;
        let (n1, _) = ndef.norm(&items[0])?;
        let n1form = ndef_form(&n1);
        if let Some(forms) = n1forms
            && !forms.contains(&n1form)
        {
            return Err(bad(self.name(), "Invalid source node for edge type"));
        }
        let (n2, _) = ndef.norm(&items[1])?;
        let n2form = ndef_form(&n2);
        if let Some(forms) = n2forms
            && !forms.contains(&n2form)
        {
            return Err(bad(self.name(), "Invalid dest node for edge type"));
        }
        let mut info = NormInfo::default();
        info.subs.push(("n1".into(), n1.clone()));
        info.subs.push(("n1:form".into(), Value::from(n1form)));
        info.subs.push(("n2".into(), n2.clone()));
        info.subs.push(("n2:form".into(), Value::from(n2form)));
        let mut norm = vec![n1, n2];
        if let Some(tick) = tick {
            info.subs.push(("time".into(), tick.clone()));
            norm.push(tick);
        }
        Ok((Value::Array(norm), info))
    }

    fn norm_nodeprop(&self, valu: &Value) -> Result<Normed> {
        let split;
        let items: &[Value] = match valu {
            Value::Array(items) => items,
            Value::String(_) => {
                let text = as_str(valu).unwrap_or_default();
                split = text.splitn(2, '=').map(Value::from).collect::<Vec<_>>();
                &split
            }
            _ => return Err(no_norm(self.name(), valu)),
        };
        if items.len() != 2 {
            return Err(bad(
                self.name(),
                format!(
                    "Must be a 2-tuple: {}",
                    super::value::trim_text(&py_repr_seq(items, matches!(valu, Value::String(_))))
                ),
            ));
        }
        let propname = match &items[0] {
            Value::String(s) => s.as_str().unwrap_or_default().to_string(),
            other => py_repr(other),
        };
        let prop = self
            .model
            .prop(&propname)
            .ok_or_else(|| ModelError::NoSuchProp {
                name: propname.clone(),
                mesg: format!("No prop {propname}"),
            })?;
        let (norm, _) = prop.ty().norm(&items[1])?;
        let mut info = NormInfo::default();
        info.subs.push(("prop".into(), Value::from(prop.full())));
        Ok((Value::Array(vec![Value::from(prop.full()), norm]), info))
    }

    fn norm_data(&self, valu: &Value) -> Result<Normed> {
        fn check(v: &Value, top: bool) -> std::result::Result<(), String> {
            match v {
                Value::Binary(_) if top => {
                    Err("'Object of type bytes is not JSON serializable'".into())
                }
                Value::Binary(_) => {
                    Err("\"TypeError: Object of type 'bytes' is not JSON serializable\"".into())
                }
                Value::Ext(0 | 1, _) => Err("'TypeError: Integer value too large for JSON'".into()),
                Value::Ext(..) => {
                    Err("\"TypeError: Object of type 'ExtType' is not JSON serializable\"".into())
                }
                Value::F32(f) if !f.is_finite() => {
                    Err("'ValueError: nan or inf number is not allowed'".into())
                }
                Value::F64(f) if !f.is_finite() => {
                    Err("'ValueError: nan or inf number is not allowed'".into())
                }
                Value::String(s) if s.as_str().is_none() => {
                    Err("'UnicodeEncodeError: invalid utf-8'".into())
                }
                Value::Array(items) => items.iter().try_for_each(|i| check(i, false)),
                Value::Map(items) => items.iter().try_for_each(|(k, v)| {
                    if !matches!(k, Value::String(_)) {
                        return Err("'TypeError: Dictionary keys must be strings'".to_string());
                    }
                    check(v, false)
                }),
                _ => Ok(()),
            }
        }
        if let Err(e) = check(valu, true) {
            return Err(bad(
                self.name(),
                format!(
                    "MustBeJsonSafe: mesg={e}: {}",
                    super::value::trim_text(&py_repr(valu))
                ),
            ));
        }
        if let Kind::Data { geojson: true } = self.kind()
            && !super::misc::is_geojson(valu)
        {
            return Err(bad(
                self.name(),
                format!(
                    "SchemaViolation: mesg='data must be valid exactly by one definition (0 matches found)' name='data': {}",
                    super::value::trim_text(&py_repr(valu))
                ),
            ));
        }
        Ok((valu.clone(), NormInfo::default()))
    }

    /// The display form of a normalized value: a string, or a list of strings for
    /// ival/range/ndef/edge and comp types without a separator.
    pub fn repr(&self, norm: &Value) -> Result<Value> {
        let name = self.name();
        let text = |s: String| Ok(Value::from(s));
        match self.kind() {
            Kind::Int(opts) => {
                let v = as_pyint(norm).ok_or_else(|| no_repr(name, norm))?;
                match opts.enums.iter().find(|(k, _)| *k == v) {
                    Some((_, n)) => text(n.clone()),
                    None => text(v.to_string()),
                }
            }
            Kind::Float { .. } => match norm {
                Value::F64(f) => text(super::value::py_float_str(*f)),
                Value::F32(f) => text(super::value::py_float_str(f64::from(*f))),
                _ => Err(no_repr(name, norm)),
            },
            Kind::Bool => {
                let truthy = match norm {
                    Value::Boolean(b) => *b,
                    _ => as_pyint(norm).is_some_and(|v| v != 0),
                };
                text(if truthy {
                    "true".into()
                } else {
                    "false".into()
                })
            }
            Kind::Time { .. } => {
                let v = as_pyint(norm).ok_or_else(|| no_repr(name, norm))?;
                text(super::time::repr(
                    i64::try_from(v).map_err(|_| no_repr(name, norm))?,
                ))
            }
            Kind::Ival => {
                let (a, b) = pair(norm).ok_or_else(|| no_repr(name, norm))?;
                let t = self.named("time")?;
                Ok(Value::Array(vec![t.repr(a)?, t.repr(b)?]))
            }
            Kind::Duration => {
                let v = as_pyint(norm).ok_or_else(|| no_repr(name, norm))?;
                text(super::numeric::repr_duration(v))
            }
            Kind::Taxonomy => text(
                as_str(norm)
                    .ok_or_else(|| no_repr(name, norm))?
                    .trim_end_matches('.')
                    .into(),
            ),
            Kind::Comp { fields, sepr } => {
                let Value::Array(items) = norm else {
                    return Err(no_repr(name, norm));
                };
                let mut vals = Vec::new();
                for ((_, ftype), item) in fields.iter().flatten().zip(items) {
                    vals.push(self.other(*ftype).repr(item)?);
                }
                match sepr {
                    Some(sepr) => {
                        let strs: Vec<String> = vals.iter().map(repr_to_string).collect();
                        text(strs.join(sepr))
                    }
                    None => Ok(Value::Array(vals)),
                }
            }
            Kind::Array { elem, split, .. } => {
                let Value::Array(items) = norm else {
                    return Err(no_repr(name, norm));
                };
                let elem = self.other(*elem);
                let vals = items
                    .iter()
                    .map(|i| elem.repr(i))
                    .collect::<Result<Vec<_>>>()?;
                match split {
                    Some(sepr) => text(
                        vals.iter()
                            .map(repr_to_string)
                            .collect::<Vec<_>>()
                            .join(sepr),
                    ),
                    None => Ok(Value::Array(vals)),
                }
            }
            Kind::Ndef { .. } => {
                let (form, valu) = pair(norm).ok_or_else(|| no_repr(name, norm))?;
                let formname = as_str(form).unwrap_or_default();
                let form = self
                    .model
                    .form(formname)
                    .ok_or_else(|| ModelError::NoSuchForm {
                        name: formname.into(),
                    })?;
                Ok(Value::Array(vec![
                    Value::from(formname),
                    form.ty().repr(valu)?,
                ]))
            }
            Kind::Edge { .. } => {
                let Value::Array(items) = norm else {
                    return Err(no_repr(name, norm));
                };
                let ndef = self.named("ndef")?;
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if i < 2 {
                        out.push(ndef.repr(item)?);
                    } else {
                        out.push(self.named("time")?.repr(item)?);
                    }
                }
                Ok(Value::Array(out))
            }
            Kind::Range { sub } | Kind::Ipv4Range { sub } | Kind::Ipv6Range { sub } => {
                let (a, b) = pair(norm).ok_or_else(|| no_repr(name, norm))?;
                let sub = self.other(*sub);
                Ok(Value::Array(vec![sub.repr(a)?, sub.repr(b)?]))
            }
            Kind::Data { .. } => match norm {
                Value::String(s) => text(s.as_str().unwrap_or_default().to_string()),
                other => text(super::value::py_repr(other)),
            },
            Kind::NodeProp => text(py_repr_tuple(match norm {
                Value::Array(items) => items,
                _ => return Err(no_repr(name, norm)),
            })),
            Kind::Ipv4 => {
                let v = as_pyint(norm).ok_or_else(|| no_repr(name, norm))?;
                text(super::inet::ipv4_repr(v as u32))
            }
            Kind::Fqdn => text(super::inet::fqdn_repr(
                as_str(norm).ok_or_else(|| no_repr(name, norm))?,
            )),
            Kind::GeoDist { baseoff } => text(super::misc::repr_dist(
                as_pyint(norm).ok_or_else(|| no_repr(name, norm))? - baseoff,
            )),
            Kind::GeoArea => text(super::misc::repr_area(
                as_pyint(norm).ok_or_else(|| no_repr(name, norm))?,
            )),
            Kind::LatLong => {
                let (a, b) = pair(norm).ok_or_else(|| no_repr(name, norm))?;
                text(format!("{},{}", repr_num(a), repr_num(b)))
            }
            Kind::SemVer => {
                let v = as_pyint(norm).ok_or_else(|| no_repr(name, norm))?;
                text(super::misc::repr_semver(v))
            }
            Kind::Phone => text(super::misc::repr_phone(
                as_str(norm).ok_or_else(|| no_repr(name, norm))?,
            )),
            Kind::Imei | Kind::Imsi | Kind::Velocity { .. } | Kind::HugeNum { .. } => {
                text(repr_num(norm))
            }
            _ => match norm {
                Value::String(s) => text(s.as_str().unwrap_or_default().to_string()),
                other => text(repr_num(other)),
            },
        }
    }

    /// The reference's `merge(old, new)`: ismin/ismax ints and times keep the smaller/larger
    /// value, intervals widen; other types take the new value.
    pub fn merge(&self, oldv: &Value, newv: &Value) -> Value {
        match self.kind() {
            Kind::Int(IntOpts { ismin, ismax, .. }) | Kind::Time { ismin, ismax } => {
                match (as_pyint(oldv), as_pyint(newv)) {
                    (Some(o), Some(n)) if *ismin => int_value(o.min(n)),
                    (Some(o), Some(n)) if *ismax => int_value(o.max(n)),
                    _ => newv.clone(),
                }
            }
            Kind::Ival => match (pair(oldv), pair(newv)) {
                (Some((o1, o2)), Some((n1, n2))) => {
                    match (as_pyint(o1), as_pyint(o2), as_pyint(n1), as_pyint(n2)) {
                        (Some(o1), Some(o2), Some(n1), Some(n2)) => {
                            Value::Array(vec![int_value(o1.min(n1)), int_value(o2.max(n2))])
                        }
                        _ => newv.clone(),
                    }
                }
                _ => newv.clone(),
            },
            _ => newv.clone(),
        }
    }
}

fn repr_num(v: &Value) -> String {
    match v {
        Value::F64(f) => super::value::py_float_str(*f),
        Value::F32(f) => super::value::py_float_str(f64::from(*f)),
        Value::String(s) => s.as_str().unwrap_or_default().to_string(),
        other => as_pyint(other)
            .map(|i| i.to_string())
            .unwrap_or_else(|| py_repr(other)),
    }
}

/// A repr value as one string (lists are joined as Python would print a tuple).
pub(crate) fn repr_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.as_str().unwrap_or_default().to_string(),
        Value::Array(items) => py_repr_tuple(items),
        other => py_repr(other),
    }
}

fn ndef_form(ndef: &Value) -> String {
    match ndef {
        Value::Array(items) => items
            .first()
            .and_then(as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

pub(crate) fn pair(v: &Value) -> Option<(&Value, &Value)> {
    match v {
        Value::Array(items) if items.len() == 2 => Some((&items[0], &items[1])),
        _ => None,
    }
}

pub(crate) fn no_norm(name: &str, valu: &Value) -> ModelError {
    bad(name, format!("no norm for type: {}.", py_type(valu)))
}

fn no_repr(name: &str, valu: &Value) -> ModelError {
    bad(
        name,
        format!("Cannot repr value {} as {name}", py_repr(valu)),
    )
}

/// Python's repr of a list (`as_list`, from `str.split`) or of a tuple.
pub(crate) fn py_repr_seq(items: &[Value], as_list: bool) -> String {
    if as_list {
        let parts: Vec<String> = items.iter().map(py_repr).collect();
        return format!("[{}]", parts.join(", "));
    }
    py_repr_tuple(items)
}

/// Python's repr of a tuple.
pub(crate) fn py_repr_tuple(items: &[Value]) -> String {
    let parts: Vec<String> = items.iter().map(py_repr).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

fn py_list_repr(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| super::value::py_repr_str(s)).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// Python equality between normalized values (ints and floats compare numerically).
pub(crate) fn py_eq(a: &Value, b: &Value) -> bool {
    py_cmp_opt(a, b) == Some(Ordering::Equal)
}

/// Python ordering of normalized values (used by sorted arrays and comparators).
pub(crate) fn py_cmp(a: &Value, b: &Value) -> Ordering {
    py_cmp_opt(a, b).unwrap_or_else(|| type_rank(a).cmp(&type_rank(b)))
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Nil => 0,
        Value::Boolean(_)
        | Value::Integer(_)
        | Value::F32(_)
        | Value::F64(_)
        | Value::Ext(0 | 1, _) => 1,
        Value::String(_) => 2,
        Value::Binary(_) => 3,
        Value::Array(_) => 4,
        Value::Map(_) => 5,
        Value::Ext(..) => 6,
    }
}

fn num_of(v: &Value) -> Option<Result<i128, f64>> {
    match v {
        Value::Boolean(b) => Some(Ok(i128::from(*b))),
        Value::F64(f) => Some(Err(*f)),
        Value::F32(f) => Some(Err(f64::from(*f))),
        other => as_pyint(other).map(Ok),
    }
}

pub(crate) fn py_cmp_opt(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (num_of(a), num_of(b)) {
        return match (x, y) {
            (Ok(x), Ok(y)) => Some(x.cmp(&y)),
            (Ok(x), Err(y)) => (x as f64).partial_cmp(&y),
            (Err(x), Ok(y)) => x.partial_cmp(&(y as f64)),
            (Err(x), Err(y)) => x.partial_cmp(&y),
        };
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Binary(x), Value::Binary(y)) => Some(x.cmp(y)),
        (Value::Nil, Value::Nil) => Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                match py_cmp_opt(i, j)? {
                    Ordering::Equal => continue,
                    other => return Some(other),
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        (Value::Map(x), Value::Map(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    }
}

/// The reference's `Str._normPyStr` with options.
pub(crate) fn norm_str(name: &str, opts: &StrOpts, text: &str) -> Result<Normed> {
    let mut norm = if opts.lower {
        super::value::py_lower(text)
    } else {
        text.to_string()
    };
    for (look, repl) in &opts.replace {
        norm = norm.replace(look.as_str(), repl);
    }
    if opts.strip {
        norm = super::value::py_strip(&norm).to_string();
    }
    if opts.onespace {
        norm = super::value::onespace(&norm);
    }
    if let Some(enums) = &opts.enums
        && !enums.contains(&norm)
    {
        return Err(bad(name, "Value not in enums"));
    }
    let mut info = NormInfo::default();
    if let Some((re, pattern, groups)) = &opts.regex {
        let Some(caps) = re.captures(&norm) else {
            return Err(bad(name, format!("[{text}] does not match [{pattern}]")));
        };
        for g in groups {
            let v = caps
                .name(g)
                .map(|m| Value::from(m.as_str()))
                .unwrap_or(Value::Nil);
            info.subs.push((g.clone(), v));
        }
    }
    Ok((Value::from(norm), info))
}

/// The reference's tag part / taxon normalization: lowercase, keep `\w+` runs joined by `_`.
pub(crate) fn norm_tagpart(text: &str) -> std::result::Result<String, String> {
    static WORD: std::sync::LazyLock<Option<Regex>> =
        std::sync::LazyLock::new(|| Regex::new(r"\w+").ok());
    let low = super::value::py_lower(super::value::py_strip(text));
    let parts: Vec<&str> = match WORD.as_ref() {
        Some(re) => re.find_iter(&low).map(|m| m.as_str()).collect(),
        None => Vec::new(),
    };
    let norm = parts.join("_");
    if norm.is_empty() {
        return Err("Each tag part must be non-zero length.".into());
    }
    Ok(norm)
}

/// Resolves a type name with override options to a compiled type.
pub(crate) type Resolver<'r> = dyn FnMut(&str, &Map<String, Json>) -> Result<TypeId> + 'r;

/// Build a [`Kind`] for a ctor from fully merged options.
pub(crate) fn compile_kind(
    ctor: &str,
    name: &str,
    opts: &Map<String, Json>,
    resolve: &mut Resolver<'_>,
) -> Result<Kind> {
    let ob = |k: &str| opts.get(k).and_then(json_truthy).unwrap_or(false);
    let oi = |k: &str| opts.get(k).and_then(Json::as_i64);
    let ostrs = |k: &str| -> Option<Vec<String>> {
        opts.get(k).and_then(Json::as_array).map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
    };
    let baddef = |mesg: String| ModelError::BadTypeDef { mesg };
    Ok(match ctor {
        "int" | "geo:dist" | "geo:area" | "it:semver" | "tel:mob:imei" | "tel:mob:imsi" => {
            let size = oi("size").unwrap_or(8);
            let signed = opts.get("signed").and_then(Json::as_bool).unwrap_or(true);
            let bits = (size * 8) as u32;
            let (minmin, maxmax) = if signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            let enums = opts
                .get("enums")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            let e = e.as_array()?;
                            Some((
                                i128::from(e.first()?.as_i64()?),
                                e.get(1)?.as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let intopts = IntOpts {
                min: oi("min").map(i128::from).unwrap_or(minmin),
                max: oi("max").map(i128::from).unwrap_or(maxmax),
                enums,
                strict: opts
                    .get("enums:strict")
                    .and_then(Json::as_bool)
                    .unwrap_or(true),
                ismin: ob("ismin"),
                ismax: ob("ismax"),
            };
            match ctor {
                "geo:dist" => Kind::GeoDist {
                    baseoff: oi("baseoff").map(i128::from).unwrap_or(0),
                },
                "geo:area" => Kind::GeoArea,
                "it:semver" => Kind::SemVer,
                "tel:mob:imei" => Kind::Imei,
                "tel:mob:imsi" => Kind::Imsi,
                _ => Kind::Int(intopts),
            }
        }
        "float" => Kind::Float {
            min: opts.get("min").and_then(Json::as_f64),
            minisvalid: opts
                .get("minisvalid")
                .and_then(Json::as_bool)
                .unwrap_or(true),
            max: opts.get("max").and_then(Json::as_f64),
            maxisvalid: opts
                .get("maxisvalid")
                .and_then(Json::as_bool)
                .unwrap_or(true),
        },
        "str" => {
            let regex = match opts.get("regex").and_then(Json::as_str) {
                Some(pat) => {
                    let re = Regex::new(&format!("^(?:{pat})"))
                        .map_err(|e| baddef(format!("bad regex for {name}: {e}")))?;
                    let groups = re.capture_names().flatten().map(String::from).collect();
                    Some((re, pat.to_string(), groups))
                }
                None => None,
            };
            let enums = match opts.get("enums") {
                Some(Json::String(s)) => Some(s.split(',').map(String::from).collect()),
                Some(Json::Array(a)) => Some(
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect(),
                ),
                _ => None,
            };
            let replace = opts
                .get("replace")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let p = p.as_array()?;
                            Some((
                                p.first()?.as_str()?.to_string(),
                                p.get(1)?.as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Kind::Str(StrOpts {
                lower: ob("lower"),
                strip: ob("strip"),
                onespace: ob("onespace"),
                replace,
                regex,
                enums,
                globsuffix: ob("globsuffix"),
            })
        }
        "hex" => {
            let size = oi("size").unwrap_or(0).max(0) as usize;
            let zeropad = match opts.get("zeropad") {
                Some(Json::Bool(true)) => size,
                Some(Json::Number(n)) => n.as_u64().unwrap_or(0) as usize,
                _ => 0,
            };
            let zeropad = if size > 0 { zeropad.min(size) } else { zeropad };
            Kind::Hex { size, zeropad }
        }
        "bool" => Kind::Bool,
        "time" => Kind::Time {
            ismin: ob("ismin"),
            ismax: ob("ismax"),
        },
        "duration" => Kind::Duration,
        "ival" => Kind::Ival,
        "guid" => Kind::Guid,
        "syn:tag:part" => Kind::TagPart,
        "syn:tag" => Kind::Tag,
        "taxon" => Kind::Taxon,
        "taxonomy" => Kind::Taxonomy,
        "comp" => {
            let mut fields = Vec::new();
            let has_fields = opts.get("fields").is_some_and(|f| !f.is_null());
            for field in opts
                .get("fields")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let Some(field) = field.as_array() else {
                    continue;
                };
                let fname = field
                    .first()
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string();
                let ftype = match field.get(1) {
                    Some(Json::String(t)) => resolve(t, &Map::new())?,
                    Some(Json::Array(pair)) => {
                        let tname = pair.first().and_then(Json::as_str).unwrap_or_default();
                        let topts = pair
                            .get(1)
                            .and_then(Json::as_object)
                            .cloned()
                            .unwrap_or_default();
                        resolve(tname, &topts)?
                    }
                    _ => return Err(baddef(format!("bad comp field in {name}"))),
                };
                fields.push((fname, ftype));
            }
            Kind::Comp {
                fields: has_fields.then_some(fields),
                sepr: opts.get("sepr").and_then(Json::as_str).map(String::from),
            }
        }
        "loc" => Kind::Loc,
        "ndef" => Kind::Ndef {
            forms: ostrs("forms"),
            ifaces: ostrs("interfaces"),
        },
        "array" => {
            let tname = opts.get("type").and_then(Json::as_str).unwrap_or("int");
            let topts = opts
                .get("typeopts")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default();
            Kind::Array {
                elem: resolve(tname, &topts)?,
                uniq: ob("uniq"),
                sorted: ob("sorted"),
                split: opts.get("split").and_then(Json::as_str).map(String::from),
            }
        }
        "edge" | "timeedge" => Kind::Edge {
            n1forms: ostrs("n1:forms"),
            n2forms: ostrs("n2:forms"),
            time: ctor == "timeedge",
        },
        "data" => Kind::Data {
            geojson: opts.get("schema").is_some_and(|s| !s.is_null()),
        },
        "nodeprop" => Kind::NodeProp,
        "hugenum" => Kind::HugeNum {
            units: opts
                .get("units")
                .and_then(Json::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), json_num_text(v)))
                        .collect()
                })
                .unwrap_or_default(),
            modulo: opts
                .get("modulo")
                .filter(|v| !v.is_null())
                .map(json_num_text),
        },
        "range" | "inet:ipv4range" | "inet:ipv6range" => {
            let sub = match ctor {
                "inet:ipv4range" => resolve("inet:ipv4", &Map::new())?,
                "inet:ipv6range" => resolve("inet:ipv6", &Map::new())?,
                _ => {
                    let pair = opts
                        .get("type")
                        .and_then(Json::as_array)
                        .ok_or_else(|| baddef(format!("bad range {name}")))?;
                    let tname = pair.first().and_then(Json::as_str).unwrap_or("int");
                    let topts = pair
                        .get(1)
                        .and_then(Json::as_object)
                        .cloned()
                        .unwrap_or_default();
                    resolve(tname, &topts)?
                }
            };
            match ctor {
                "inet:ipv4range" => Kind::Ipv4Range { sub },
                "inet:ipv6range" => Kind::Ipv6Range { sub },
                _ => Kind::Range { sub },
            }
        }
        "velocity" => Kind::Velocity {
            relative: ob("relative"),
        },
        "inet:dns:name" => Kind::DnsName,
        "syn:user" => Kind::SynUser,
        "syn:role" => Kind::SynRole,
        "cvss:v2" => Kind::CvssV2,
        "cvss:v3" => Kind::CvssV3,
        "file:bytes" => Kind::FileBytes,
        "file:base" => Kind::FileBase,
        "file:path" => Kind::FilePath,
        "it:sec:cpe" => Kind::Cpe23,
        "it:sec:cpe:v2_2" => Kind::Cpe22,
        "geo:latlong" => Kind::LatLong,
        "tel:phone" => Kind::Phone,
        "inet:addr" => Kind::InetAddr {
            defport: oi("defport"),
            defproto: opts
                .get("defproto")
                .and_then(Json::as_str)
                .unwrap_or("tcp")
                .to_string(),
        },
        "inet:cidr4" => Kind::Cidr4,
        "inet:cidr6" => Kind::Cidr6,
        "inet:email" => Kind::Email,
        "inet:fqdn" => Kind::Fqdn,
        "inet:ipv4" => Kind::Ipv4,
        "inet:ipv6" => Kind::Ipv6,
        "inet:rfc2822:addr" => Kind::Rfc2822,
        "inet:url" => Kind::Url,
        "inet:http:cookie" => Kind::HttpCookie,
        other => return Err(baddef(format!("unknown type ctor {other} for {name}"))),
    })
}

fn json_truthy(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => Some(n.as_f64().is_some_and(|f| f != 0.0)),
        Json::Null => Some(false),
        Json::String(s) => Some(!s.is_empty()),
        _ => Some(true),
    }
}

fn json_num_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
