//! Comparators for filters (`+:prop<cmpr>valu`) and lift operations for indexes
//! (`form:prop<cmpr>valu`), per type, as the reference's cmpr ctors and `storlifts`.

use std::cmp::Ordering;

use regex::RegexBuilder;
use rmpv::Value;

use super::error::{ModelError, Result};
use super::types::{Kind, Type, bad, py_cmp_opt, py_eq, repr_to_string};
use super::value::{as_pyint, as_str};

type Pred<'a> = Box<dyn Fn(&Value) -> bool + Send + Sync + 'a>;

/// A compiled comparator: call [`Cmpr::matches`] with normalized values of the type.
pub struct Cmpr<'a> {
    pred: Pred<'a>,
}

impl std::fmt::Debug for Cmpr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cmpr")
    }
}

impl<'a> Cmpr<'a> {
    fn new(pred: impl Fn(&Value) -> bool + Send + Sync + 'a) -> Cmpr<'a> {
        Cmpr {
            pred: Box::new(pred),
        }
    }

    /// Whether the normalized value satisfies the comparison.
    pub fn matches(&self, norm: &Value) -> bool {
        (self.pred)(norm)
    }
}

/// One index operation for a lift, as the reference's `getStorCmprs`: the storage layer
/// resolves `cmpr` (`=`, `^=`, `~=`, `range=`, `<`, `>`, `<=`, `>=`, `@=`, `near=`) against
/// the index of `stortype` with `valu`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorLift {
    /// The index operation.
    pub cmpr: String,
    /// The operand (already normalized; ranges as `[min, max]`).
    pub valu: Value,
    /// The storage type of the index.
    pub stortype: i64,
}

fn lift(cmpr: &str, valu: Value, stortype: i64) -> StorLift {
    StorLift {
        cmpr: cmpr.to_string(),
        valu,
        stortype,
    }
}

fn is_ordered(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Int(_)
            | Kind::GeoDist { .. }
            | Kind::GeoArea
            | Kind::SemVer
            | Kind::Imei
            | Kind::Imsi
            | Kind::Float { .. }
            | Kind::Time { .. }
            | Kind::Duration
            | Kind::Velocity { .. }
            | Kind::HugeNum { .. }
            | Kind::Ipv4
            | Kind::Ipv6
    )
}

fn num_cmp(kind: &Kind, a: &Value, b: &Value) -> Option<Ordering> {
    match kind {
        Kind::HugeNum { .. } => {
            let (x, y) = (
                super::numeric::hugenum_dec(a)?,
                super::numeric::hugenum_dec(b)?,
            );
            Some(x.cmp(&y))
        }
        Kind::Ipv6 => {
            let (x, y) = (
                super::inet::ipv6_int(as_str(a)?)?,
                super::inet::ipv6_int(as_str(b)?)?,
            );
            Some(x.cmp(&y))
        }
        _ => py_cmp_opt(a, b),
    }
}

impl<'a> Type<'a> {
    /// Compile a filter comparator with the right-hand value `valu`.
    pub fn cmpr(&self, cmpr: &str, valu: &Value) -> Result<Cmpr<'a>> {
        let name = self.name().to_string();
        let kind = self.kind().clone();
        let nosuch = || ModelError::NoSuchCmpr {
            cmpr: cmpr.to_string(),
            name: name.clone(),
        };
        match cmpr {
            "=" => self.cmpr_eq(valu),
            "!=" => {
                let eq = self.cmpr_eq(valu)?;
                Ok(Cmpr::new(move |v| !eq.matches(v)))
            }
            "~=" => {
                let pat = as_str(valu)
                    .map(String::from)
                    .unwrap_or_else(|| repr_to_string(valu));
                let re = RegexBuilder::new(&pat)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| ModelError::BadCmprValu {
                        cmpr: "~=".into(),
                        mesg: e.to_string(),
                    })?;
                let ty = *self;
                Ok(Cmpr::new(move |v| {
                    ty.repr(v)
                        .map(|r| re.is_match(&repr_to_string(&r)))
                        .unwrap_or(false)
                }))
            }
            "^=" => self.cmpr_pref(valu),
            "in=" => {
                let Value::Array(items) = valu else {
                    return Err(ModelError::BadCmprValu {
                        cmpr: "in=".into(),
                        mesg: "in= requires a list".into(),
                    });
                };
                let norms = items
                    .iter()
                    .map(|i| self.norm(i).map(|x| x.0))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Cmpr::new(move |v| norms.iter().any(|n| py_eq(n, v))))
            }
            "range=" => {
                if matches!(kind, Kind::Ival) {
                    return Err(nosuch());
                }
                let Value::Array(items) = valu else {
                    return Err(ModelError::BadCmprValu {
                        cmpr: "range=".into(),
                        mesg: format!("Must be a 2-tuple: {}", super::value::py_repr(valu)),
                    });
                };
                if items.len() != 2 {
                    return Err(ModelError::BadCmprValu {
                        cmpr: "range=".into(),
                        mesg: format!("Must be a 2-tuple: {}", super::types::py_repr_tuple(items)),
                    });
                }
                if matches!(kind, Kind::Time { .. }) {
                    let (tick, tock) = super::numeric::tick_tock(self, items)?;
                    return Ok(Cmpr::new(move |v| {
                        as_pyint(v).is_some_and(|v| i128::from(tick) <= v && v <= i128::from(tock))
                    }));
                }
                let minv = self.norm(&items[0])?.0;
                let maxv = self.norm(&items[1])?.0;
                Ok(Cmpr::new(move |v| {
                    num_cmp(&kind, &minv, v).is_some_and(|o| o != Ordering::Greater)
                        && num_cmp(&kind, v, &maxv).is_some_and(|o| o != Ordering::Greater)
                }))
            }
            "<" | ">" | "<=" | ">=" => {
                if !is_ordered(&kind) {
                    return Err(nosuch());
                }
                let want: fn(Ordering) -> bool = match cmpr {
                    "<" => |o| o == Ordering::Less,
                    ">" => |o| o == Ordering::Greater,
                    "<=" => |o| o != Ordering::Greater,
                    _ => |o| o != Ordering::Less,
                };
                if let (Kind::Time { .. }, Some(text)) = (&kind, as_str(valu)) {
                    let strip = super::value::py_strip(text);
                    if let Some(wild) = strip.strip_suffix('*')
                        && (cmpr == "<" || cmpr == "<=")
                    {
                        let (_, tock) = super::time::wildrange(wild).map_err(|m| bad(&name, m))?;
                        let tock = Value::from(tock);
                        return Ok(Cmpr::new(move |v| py_cmp_opt(v, &tock).is_some_and(want)));
                    }
                }
                let norm = self.norm(valu)?.0;
                Ok(Cmpr::new(move |v| {
                    num_cmp(&kind, v, &norm).is_some_and(want)
                }))
            }
            "@=" => match kind {
                Kind::Time { .. } | Kind::Ival => self.cmpr_at(valu),
                _ => Err(nosuch()),
            },
            "near=" => match kind {
                Kind::LatLong => self.cmpr_near(valu),
                _ => Err(nosuch()),
            },
            _ => Err(nosuch()),
        }
    }

    fn cmpr_eq(&self, valu: &Value) -> Result<Cmpr<'a>> {
        let name = self.name();
        match self.kind() {
            Kind::Time { .. } => {
                if let Some(text) = as_str(valu) {
                    let strip = super::value::py_strip(text);
                    if let Some(wild) = strip.strip_suffix('*') {
                        let (tick, tock) =
                            super::time::wildrange(wild).map_err(|m| bad(name, m))?;
                        return Ok(Cmpr::new(move |v| {
                            as_pyint(v)
                                .is_some_and(|v| v >= i128::from(tick) && v < i128::from(tock))
                        }));
                    }
                }
            }
            Kind::Ipv4 => {
                if let Some(text) = as_str(valu) {
                    if text.contains('/') {
                        let (minv, maxv) = super::inet::ipv4_cidr_range(name, text)?;
                        return Ok(Cmpr::new(move |v| {
                            as_pyint(v)
                                .is_some_and(|v| v >= i128::from(minv) && v <= i128::from(maxv))
                        }));
                    }
                    if let Some((a, b)) = text.split_once('-') {
                        let minv = self.norm(&Value::from(a))?.0;
                        let maxv = self.norm(&Value::from(b))?.0;
                        return Ok(Cmpr::new(move |v| {
                            py_cmp_opt(v, &minv).is_some_and(|o| o != Ordering::Less)
                                && py_cmp_opt(v, &maxv).is_some_and(|o| o != Ordering::Greater)
                        }));
                    }
                }
            }
            Kind::Ipv6 => {
                if let Some(text) = as_str(valu) {
                    let range = if text.contains('/') {
                        Some(super::inet::ipv6_cidr_range(name, text)?)
                    } else if let Some((a, b)) = text.split_once('-') {
                        let p = |t: &str| {
                            super::inet::parse_ipv6(t)
                                .map(|x| x.0)
                                .map_err(|m| bad(name, m))
                        };
                        Some((p(a)?, p(b)?))
                    } else {
                        None
                    };
                    if let Some((minv, maxv)) = range {
                        return Ok(Cmpr::new(move |v| {
                            as_str(v)
                                .and_then(super::inet::ipv6_int)
                                .is_some_and(|v| v >= minv && v <= maxv)
                        }));
                    }
                }
            }
            Kind::Fqdn => {
                if let Some(text) = as_str(valu) {
                    if text.is_empty() {
                        return Ok(Cmpr::new(|_| false));
                    }
                    if let Some(suffix) = text.strip_prefix('*') {
                        let suffix = suffix.to_string();
                        return Ok(Cmpr::new(move |v| {
                            as_str(v).is_some_and(|v| v.ends_with(&suffix))
                        }));
                    }
                }
            }
            Kind::Url if as_str(valu) == Some("") => {
                return Ok(Cmpr::new(|_| false));
            }
            Kind::HugeNum { .. } => {
                let base = super::numeric::hugenum_dec(valu).ok_or_else(|| {
                    bad(
                        name,
                        format!("Invalid hugenum: {}", super::value::py_repr(valu)),
                    )
                })?;
                return Ok(Cmpr::new(move |v| {
                    super::numeric::hugenum_dec(v).is_some_and(|x| x.cmp(&base) == Ordering::Equal)
                }));
            }
            _ => {}
        }
        let norm = self.norm(valu)?.0;
        Ok(Cmpr::new(move |v| py_eq(&norm, v)))
    }

    fn cmpr_pref(&self, valu: &Value) -> Result<Cmpr<'a>> {
        match self.kind() {
            Kind::Loc => {
                let norm = as_str(&self.norm(valu)?.0).unwrap_or_default().to_string();
                Ok(Cmpr::new(move |v| {
                    as_str(v).is_some_and(|v| v == norm || v.starts_with(&format!("{norm}.")))
                }))
            }
            Kind::Taxonomy => {
                let norm = self.taxonomy_lift_norm(valu)?;
                Ok(Cmpr::new(move |v| {
                    as_str(v).is_some_and(|v| v.starts_with(&norm))
                }))
            }
            _ => {
                let text = match valu {
                    Value::String(_) => as_str(valu).unwrap_or_default().to_string(),
                    other => super::value::py_repr(other),
                };
                let ty = *self;
                Ok(Cmpr::new(move |v| {
                    ty.repr(v)
                        .map(|r| repr_to_string(&r).starts_with(&text))
                        .unwrap_or(false)
                }))
            }
        }
    }

    fn taxonomy_lift_norm(&self, valu: &Value) -> Result<String> {
        let norm = as_str(&self.norm(valu)?.0).unwrap_or_default().to_string();
        match as_str(valu) {
            Some(text) if !super::value::py_strip(text).ends_with('.') => {
                Ok(norm.trim_end_matches('.').to_string())
            }
            _ => Ok(norm),
        }
    }

    fn cmpr_at(&self, valu: &Value) -> Result<Cmpr<'a>> {
        let ival = self.named("ival")?;
        let null = matches!(valu, Value::Nil)
            || matches!(valu, Value::Array(items) if items.len() == 2 && items.iter().all(|i| matches!(i, Value::Nil)));
        if null {
            return Ok(Cmpr::new(|_| false));
        }
        let (minv, maxv) = match valu {
            Value::String(_) | Value::Integer(_) => super::numeric::ival_pair(&ival.norm(valu)?.0)
                .ok_or_else(|| bad(ival.name(), "bad ival"))?,
            Value::Array(items) => {
                let timetype = self.named("time")?;
                let (minv, maxv) = super::numeric::tick_tock(&timetype, items)?;
                if minv >= maxv {
                    return Ok(Cmpr::new(|_| false));
                }
                (minv, maxv)
            }
            _ => {
                return Err(bad(
                    ival.name(),
                    format!("no norm for @= operator: {}", super::value::py_repr(valu)),
                ));
            }
        };
        Ok(Cmpr::new(move |item| {
            if matches!(item, Value::Nil) {
                return false;
            }
            let Ok((othr, _)) = ival.norm(item) else {
                return false;
            };
            let Some((a, b)) = super::numeric::ival_pair(&othr) else {
                return false;
            };
            !(a >= maxv || b <= minv)
        }))
    }

    fn cmpr_near(&self, valu: &Value) -> Result<Cmpr<'a>> {
        let Some((latlong, dist)) = super::types::pair(valu) else {
            return Err(ModelError::BadCmprValu {
                cmpr: "near=".into(),
                mesg: "near= requires (latlong, dist)".into(),
            });
        };
        let (ll, _) = self.norm(latlong)?;
        let (dist, _) = self.named("geo:dist")?.norm(dist)?;
        let dist = as_pyint(&dist).unwrap_or_default() as f64;
        let center = latlong_f64(&ll).ok_or_else(|| bad(self.name(), "bad latlong"))?;
        Ok(Cmpr::new(move |v| {
            latlong_f64(v).is_some_and(|p| haversine(p, center) <= dist)
        }))
    }

    /// The index operations for a lift `form:prop<cmpr>valu` (`NoSuchCmpr` if unsupported).
    pub fn stor_lifts(&self, cmpr: &str, valu: &Value) -> Result<Vec<StorLift>> {
        let name = self.name();
        let st = self.stortype();
        let kind = self.kind();
        let nosuch = || ModelError::NoSuchCmpr {
            cmpr: cmpr.to_string(),
            name: name.to_string(),
        };
        let normed = |v: &Value| -> Result<Value> { Ok(self.norm(v)?.0) };
        let is_str = matches!(
            kind,
            Kind::Str(_) | Kind::Taxon | Kind::Taxonomy | Kind::Tag | Kind::TagPart
        ) || matches!(
            kind,
            Kind::DnsName
                | Kind::FileBytes
                | Kind::FileBase
                | Kind::FilePath
                | Kind::Cpe22
                | Kind::Cpe23
                | Kind::Phone
                | Kind::InetAddr { .. }
                | Kind::Cidr4
                | Kind::Cidr6
                | Kind::Email
                | Kind::Rfc2822
                | Kind::Url
                | Kind::HttpCookie
                | Kind::CvssV2
                | Kind::CvssV3
        );
        match cmpr {
            "=" => {
                if let Some(text) = as_str(valu) {
                    match kind {
                        Kind::Str(opts) if opts.globsuffix && text.ends_with('*') => {
                            return Ok(vec![lift("^=", Value::from(&text[..text.len() - 1]), st)]);
                        }
                        Kind::Phone if text.ends_with('*') => {
                            return Ok(vec![lift("^=", Value::from(&text[..text.len() - 1]), st)]);
                        }
                        Kind::Hex { .. } => {
                            let pre = super::numeric::hex_lift_prefix(text);
                            if let Some(p) = pre.strip_suffix('*') {
                                return Ok(vec![lift("^=", Value::from(p), st)]);
                            }
                        }
                        Kind::Loc => {
                            if let Some(p) = text.strip_suffix(".*") {
                                return Ok(vec![lift("^=", normed(&Value::from(p))?, st)]);
                            }
                        }
                        Kind::Fqdn => {
                            if text.is_empty() {
                                return Err(ModelError::BadLiftValu {
                                    mesg: "Cannot generate fqdn index bytes for a empty string."
                                        .into(),
                                });
                            }
                            if text == "*" {
                                return Ok(vec![lift("=", Value::from("*"), st)]);
                            }
                            if let Some(rest) = text.strip_prefix("*.") {
                                let n = normed(&Value::from(rest))?;
                                return Ok(vec![lift(
                                    "=",
                                    Value::from(format!("*.{}", as_str(&n).unwrap_or_default())),
                                    st,
                                )]);
                            }
                            if let Some(rest) = text.strip_prefix('*') {
                                let n = normed(&Value::from(rest))?;
                                return Ok(vec![lift(
                                    "=",
                                    Value::from(format!("*{}", as_str(&n).unwrap_or_default())),
                                    st,
                                )]);
                            }
                            if text.contains('*') {
                                return Err(ModelError::BadLiftValu {
                                    mesg: "Wild card may only appear at the beginning.".into(),
                                });
                            }
                        }
                        Kind::Ipv4 => {
                            if text.contains('/') {
                                let (minv, maxv) = super::inet::ipv4_cidr_range(name, text)?;
                                return Ok(vec![lift(
                                    "range=",
                                    pairv(Value::from(minv), Value::from(maxv)),
                                    st,
                                )]);
                            }
                            if let Some((a, b)) = text.split_once('-') {
                                let (a, b) = (normed(&Value::from(a))?, normed(&Value::from(b))?);
                                return Ok(vec![lift("range=", pairv(a, b), st)]);
                            }
                        }
                        Kind::Ipv6 => {
                            let range = if text.contains('/') {
                                Some(super::inet::ipv6_cidr_range(name, text)?)
                            } else if let Some((a, b)) = text.split_once('-') {
                                let p = |t: &str| {
                                    super::inet::parse_ipv6(t)
                                        .map(|x| x.0)
                                        .map_err(|m| bad(name, m))
                                };
                                Some((p(a)?, p(b)?))
                            } else {
                                None
                            };
                            if let Some((a, b)) = range {
                                let a = Value::from(super::inet::ipv6_compressed(a));
                                let b = Value::from(super::inet::ipv6_compressed(b));
                                return Ok(vec![lift("range=", pairv(a, b), st)]);
                            }
                        }
                        Kind::Time { .. } => {
                            let strip = super::value::py_strip(text);
                            if let Some(wild) = strip.strip_suffix('*') {
                                let (tick, tock) =
                                    super::time::wildrange(wild).map_err(|m| bad(name, m))?;
                                return Ok(vec![lift(
                                    "range=",
                                    pairv(Value::from(tick), Value::from(tock)),
                                    st,
                                )]);
                            }
                        }
                        _ => {}
                    }
                }
                Ok(vec![lift("=", normed(valu)?, st)])
            }
            "?=" => Ok(self.stor_lifts("=", valu).unwrap_or_default()),
            "in=" => {
                let Value::Array(items) = valu else {
                    return Err(nosuch());
                };
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.stor_lifts("=", item)?);
                }
                Ok(out)
            }
            "~=" => Ok(vec![lift("~=", valu.clone(), st)]),
            "^=" => {
                let text = as_str(valu);
                match kind {
                    Kind::Guid => {
                        let text = text.unwrap_or_default();
                        if !text.len().is_multiple_of(2)
                            || !text.bytes().all(|b| b.is_ascii_hexdigit())
                        {
                            return Err(bad(
                                name,
                                format!(
                                    "Invalid GUID prefix ({text}). Must be even number of hex chars."
                                ),
                            ));
                        }
                        let byts = hex::decode(text).unwrap_or_default();
                        Ok(vec![lift("^=", Value::Binary(byts), st)])
                    }
                    Kind::Hex { .. } => {
                        let Some(text) = text else {
                            return Err(bad(name, "Hex prefix lift values must be str"));
                        };
                        Ok(vec![lift(
                            "^=",
                            Value::from(super::numeric::hex_lift_prefix(text)),
                            st,
                        )])
                    }
                    Kind::Loc => Ok(vec![lift("^=", normed(valu)?, st)]),
                    Kind::Taxonomy | Kind::Taxon => {
                        let n = if matches!(kind, Kind::Taxonomy) {
                            self.taxonomy_lift_norm(valu)?
                        } else {
                            as_str(&normed(valu)?).unwrap_or_default().to_string()
                        };
                        Ok(vec![lift("^=", Value::from(n), st)])
                    }
                    Kind::Str(opts) => {
                        let text = text
                            .map(String::from)
                            .unwrap_or_else(|| repr_to_string(valu));
                        Ok(vec![lift(
                            "^=",
                            Value::from(str_lift_norm(opts, &text)),
                            st,
                        )])
                    }
                    _ if is_str => Ok(vec![lift("^=", valu.clone(), st)]),
                    _ => Err(nosuch()),
                }
            }
            "range=" => {
                let Value::Array(items) = valu else {
                    return Err(nosuch());
                };
                if items.len() != 2 {
                    return Err(ModelError::BadCmprValu {
                        cmpr: "range=".into(),
                        mesg: format!("Must be a 2-tuple: {}", super::types::py_repr_tuple(items)),
                    });
                }
                match kind {
                    Kind::Time { .. } => {
                        let (tick, tock) = super::numeric::tick_tock(self, items)?;
                        Ok(vec![lift(
                            "range=",
                            pairv(Value::from(tick), Value::from(tock)),
                            st,
                        )])
                    }
                    Kind::Str(opts) => {
                        let a = as_str(&items[0])
                            .map(|t| str_lift_norm(opts, t))
                            .unwrap_or_default();
                        let b = as_str(&items[1])
                            .map(|t| str_lift_norm(opts, t))
                            .unwrap_or_default();
                        Ok(vec![lift(
                            "range=",
                            pairv(Value::from(a), Value::from(b)),
                            st,
                        )])
                    }
                    _ => Ok(vec![lift(
                        "range=",
                        pairv(normed(&items[0])?, normed(&items[1])?),
                        st,
                    )]),
                }
            }
            "<" | ">" | "<=" | ">=" => {
                if !is_ordered(kind) {
                    return Err(nosuch());
                }
                if let (Kind::Time { .. }, Some(text)) = (kind, as_str(valu)) {
                    let strip = super::value::py_strip(text);
                    if let Some(wild) = strip.strip_suffix('*')
                        && (cmpr == "<" || cmpr == "<=")
                    {
                        let (_, tock) = super::time::wildrange(wild).map_err(|m| bad(name, m))?;
                        return Ok(vec![lift(cmpr, Value::from(tock), st)]);
                    }
                }
                Ok(vec![lift(cmpr, normed(valu)?, st)])
            }
            "@=" => match kind {
                Kind::Time { .. } | Kind::Ival => match valu {
                    Value::Array(items) => {
                        let timetype = self.named("time")?;
                        let (tick, tock) = super::numeric::tick_tock(&timetype, items)?;
                        Ok(vec![lift(
                            "@=",
                            pairv(Value::from(tick), Value::from(tock)),
                            st,
                        )])
                    }
                    _ if matches!(kind, Kind::Time { .. }) => {
                        Ok(vec![lift("=", normed(valu)?, st)])
                    }
                    _ => Ok(vec![lift("@=", normed(valu)?, st)]),
                },
                _ => Err(nosuch()),
            },
            "near=" => match kind {
                Kind::LatLong => {
                    let Some((ll, dist)) = super::types::pair(valu) else {
                        return Err(nosuch());
                    };
                    let ll = normed(ll)?;
                    let dist = self.named("geo:dist")?.norm(dist)?.0;
                    Ok(vec![lift("near=", pairv(ll, dist), st)])
                }
                _ => Err(nosuch()),
            },
            _ => Err(nosuch()),
        }
    }
}

fn pairv(a: Value, b: Value) -> Value {
    Value::Array(vec![a, b])
}

/// The reference's `Str._normForLift`: partial normalization for prefix/range lifts.
fn str_lift_norm(opts: &super::types::StrOpts, text: &str) -> String {
    let mut valu = if opts.lower {
        super::value::py_lower(text)
    } else {
        text.to_string()
    };
    for (look, repl) in &opts.replace {
        valu = valu.replace(look.as_str(), repl);
    }
    if opts.strip {
        valu = valu
            .trim_start_matches(super::value::py_isspace)
            .to_string();
    }
    if opts.onespace {
        valu = super::value::onespace(&valu);
    }
    valu
}

fn latlong_f64(v: &Value) -> Option<(f64, f64)> {
    let (a, b) = super::types::pair(v)?;
    let f = |x: &Value| match x {
        Value::F64(f) => Some(*f),
        Value::F32(f) => Some(f64::from(*f)),
        other => as_pyint(other).map(|i| i as f64),
    };
    Some((f(a)?, f(b)?))
}

/// Great-circle distance in mm between two (lat, lon) points (the reference's `s_gis.haversine`).
fn haversine(px: (f64, f64), py: (f64, f64)) -> f64 {
    const EARTH_MEAN_RADIUS_MM: f64 = 6_371_008_800.0;
    let (lat1, lon1) = (px.0.to_radians(), px.1.to_radians());
    let (lat2, lon2) = (py.0.to_radians(), py.1.to_radians());
    let dlat = lat2 - lat1;
    let dlon = lon2 - lon1;
    let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_MEAN_RADIUS_MM * a.sqrt().asin()
}
