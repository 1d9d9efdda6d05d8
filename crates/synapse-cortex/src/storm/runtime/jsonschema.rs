//! A JSON Schema (draft-07) validator for `$lib.json.schema`, behaving as the reference's
//! (fastjsonschema, compiled with `use_default`): keywords are checked in fastjsonschema's
//! order, the first failure is the error and its message has fastjsonschema's wording
//! (`data.name must be string`), and with `use_default` a missing property (or tuple item)
//! whose schema has a `default` gets it, as the validation passes by, branches of
//! `anyOf`/`oneOf` included. Local `$ref`s (`#`, `#/definitions/...`) are resolved; remote
//! ones are refused when the schema is compiled.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, nosuchname};
use super::value::{Key, Obj, Val, new_dict};

/// A compiled schema.
#[derive(Debug)]
pub(crate) struct Schema {
    root: Json,
    use_default: bool,
}

/// The keywords in the order fastjsonschema checks them.
const ORDER: &[&str] = &[
    "type",
    "enum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "items",
    "minProperties",
    "maxProperties",
    "required",
    "dependencies",
    "properties",
    "patternProperties",
    "additionalProperties",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "propertyNames",
    "contains",
    "const",
    "if",
];

const TYPES: &[&str] = &[
    "array", "boolean", "integer", "null", "number", "object", "string",
];

impl Schema {
    /// Check a schema (an object or a boolean): known types, compilable patterns, local
    /// references that resolve. The error is the reason, for "Unable to compile Json Schema".
    pub(crate) fn compile(root: Json, use_default: bool) -> Result<Schema, String> {
        if !(root.is_object() || root.is_boolean()) {
            return Err(format!(
                "'{}' object has no attribute 'get'",
                py_type_name(&root)
            ));
        }
        let schema = Schema { root, use_default };
        schema.check(&schema.root, 0)?;
        Ok(schema)
    }

    /// The schema as given.
    pub(crate) fn schema(&self) -> &Json {
        &self.root
    }

    /// Validate `item`: the item (with defaults filled in) or the first violation's message.
    pub(crate) fn validate(&self, mut item: Json) -> Result<Json, String> {
        self.walk(&self.root, &mut item, "data", 0)?;
        Ok(item)
    }

    fn resolve<'a>(&'a self, reference: &str) -> Result<&'a Json, String> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!("Unresolvable ref: {reference}"));
        };
        let mut node = &self.root;
        for part in pointer.split('/').filter(|p| !p.is_empty()) {
            let part = part.replace("~1", "/").replace("~0", "~");
            let next = match node {
                Json::Object(items) => items.get(&part),
                Json::Array(items) => part.parse::<usize>().ok().and_then(|idx| items.get(idx)),
                _ => None,
            };
            node = next.ok_or_else(|| format!("Unresolvable ref: {part}"))?;
        }
        Ok(node)
    }

    fn check(&self, schema: &Json, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Ok(());
        }
        let Json::Object(defn) = schema else {
            return Ok(());
        };
        if let Some(Json::String(reference)) = defn.get("$ref") {
            self.resolve(reference)?;
            return Ok(());
        }
        if let Some(types) = defn.get("type") {
            let names: Vec<&Json> = match types {
                Json::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for name in names {
                match name.as_str() {
                    Some(name) if TYPES.contains(&name) => {}
                    _ => return Err(format!("Unknown type: {}", py_repr(name))),
                }
            }
        }
        if let Some(enum_) = defn.get("enum")
            && !enum_.is_array()
        {
            return Err("enum must be an array".to_owned());
        }
        if let Some(Json::String(pattern)) = defn.get("pattern") {
            regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        }
        if let Some(Json::Object(pats)) = defn.get("patternProperties") {
            for pattern in pats.keys() {
                regex::Regex::new(pattern).map_err(|e| e.to_string())?;
            }
        }
        for key in ["minimum", "maximum", "multipleOf"] {
            if let Some(valu) = defn.get(key)
                && !valu.is_number()
            {
                return Err(format!("{key} must be a number"));
            }
        }
        for key in [
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
        ] {
            if let Some(valu) = defn.get(key)
                && !valu.is_number()
            {
                return Err(format!("{key} must be a number"));
            }
        }
        if let Some(required) = defn.get("required") {
            let Json::Array(items) = required else {
                return Err("required must be an array".to_owned());
            };
            let unique: BTreeSet<String> = items.iter().map(Json::to_string).collect();
            if unique.len() != items.len() {
                return Err("required must contain unique elements".to_owned());
            }
        }
        for (key, sub) in defn {
            match (key.as_str(), sub) {
                (
                    "properties" | "patternProperties" | "definitions" | "dependencies",
                    Json::Object(subs),
                ) => {
                    for sub in subs.values() {
                        self.check(sub, depth + 1)?;
                    }
                }
                ("allOf" | "anyOf" | "oneOf" | "items", Json::Array(subs)) => {
                    for sub in subs {
                        self.check(sub, depth + 1)?;
                    }
                }
                (
                    "not"
                    | "items"
                    | "additionalItems"
                    | "additionalProperties"
                    | "propertyNames"
                    | "contains"
                    | "if"
                    | "then"
                    | "else",
                    sub,
                ) => self.check(sub, depth + 1)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn walk(&self, schema: &Json, data: &mut Json, name: &str, depth: usize) -> Result<(), String> {
        if depth > 256 {
            return Err(format!("{name} nests too deeply"));
        }
        let defn = match schema {
            Json::Bool(true) => return Ok(()),
            Json::Bool(false) => return Err(format!("{name} must not be there")),
            Json::Object(defn) => defn,
            _ => return Ok(()),
        };
        if let Some(Json::String(reference)) = defn.get("$ref") {
            let target = self.resolve(reference)?;
            return self.walk(target, data, name, depth + 1);
        }
        for key in ORDER {
            if let Some(rule) = defn.get(*key) {
                self.keyword(defn, key, rule, data, name, depth)?;
            }
        }
        Ok(())
    }

    fn keyword(
        &self,
        defn: &Map<String, Json>,
        key: &str,
        rule: &Json,
        data: &mut Json,
        name: &str,
        depth: usize,
    ) -> Result<(), String> {
        let fail = |what: String| Err(format!("{name} {what}"));
        match key {
            "type" => {
                let names: Vec<&str> = match rule {
                    Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                if !names.iter().any(|t| is_type(data, t)) {
                    return fail(format!("must be {}", names.join(" or ")));
                }
            }
            "enum" => {
                let items = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                if !items.iter().any(|v| py_eq(v, data)) {
                    return fail(format!("must be one of {}", py_repr(rule)));
                }
            }
            "allOf" => {
                for sub in rule.as_array().map(Vec::as_slice).unwrap_or_default() {
                    self.walk(sub, data, name, depth + 1)?;
                }
            }
            "anyOf" => {
                let subs = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                if !subs
                    .iter()
                    .any(|sub| self.walk(sub, data, name, depth + 1).is_ok())
                {
                    return fail("cannot be validated by any definition".to_owned());
                }
            }
            "oneOf" => {
                let mut count = 0;
                for sub in rule.as_array().map(Vec::as_slice).unwrap_or_default() {
                    if count >= 2 {
                        break;
                    }
                    if self.walk(sub, data, name, depth + 1).is_ok() {
                        count += 1;
                    }
                }
                if count != 1 {
                    return fail(format!(
                        "must be valid exactly by one definition ({count} matches found)"
                    ));
                }
            }
            "not" => {
                let mut copy = data.clone();
                if self.walk(rule, &mut copy, name, depth + 1).is_ok() {
                    return match rule {
                        Json::Bool(true) => fail("must not be there".to_owned()),
                        _ => fail("must NOT match a disallowed definition".to_owned()),
                    };
                }
            }
            "minLength" | "maxLength" => {
                if let Json::String(text) = data {
                    let len = text.chars().count() as f64;
                    let limit = rule.as_f64().unwrap_or_default();
                    if key == "minLength" && len < limit {
                        return fail(format!(
                            "must be longer than or equal to {} characters",
                            py_repr(rule)
                        ));
                    }
                    if key == "maxLength" && len > limit {
                        return fail(format!(
                            "must be shorter than or equal to {} characters",
                            py_repr(rule)
                        ));
                    }
                }
            }
            "pattern" => {
                if let (Json::String(text), Json::String(pattern)) = (&*data, rule)
                    && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text))
                {
                    return fail(format!("must match pattern {pattern}"));
                }
            }
            "format" => {
                if let (Json::String(text), Json::String(format)) = (&*data, rule)
                    && !format_ok(format, text)
                {
                    return fail(format!("must be {format}"));
                }
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                if let (Some(valu), Some(limit)) = (number(data), rule.as_f64()) {
                    let excl_min = defn
                        .get("exclusiveMinimum")
                        .is_some_and(|v| v == &Json::Bool(true));
                    let excl_max = defn
                        .get("exclusiveMaximum")
                        .is_some_and(|v| v == &Json::Bool(true));
                    let shown = py_repr(rule);
                    let bad = match key {
                        "minimum" if excl_min => valu <= limit,
                        "minimum" => valu < limit,
                        "maximum" if excl_max => valu >= limit,
                        "maximum" => valu > limit,
                        "exclusiveMinimum" => valu <= limit,
                        _ => valu >= limit,
                    };
                    if bad {
                        let text = match key {
                            "minimum" if !excl_min => {
                                format!("must be bigger than or equal to {shown}")
                            }
                            "maximum" if !excl_max => {
                                format!("must be smaller than or equal to {shown}")
                            }
                            "minimum" | "exclusiveMinimum" => {
                                format!("must be bigger than {shown}")
                            }
                            _ => format!("must be smaller than {shown}"),
                        };
                        return fail(text);
                    }
                }
            }
            "multipleOf" => {
                if let (Some(valu), Some(step)) = (number(data), rule.as_f64())
                    && step != 0.0
                {
                    let quotient = valu / step;
                    if quotient.is_infinite() {
                        return Err("inifinity reached".to_owned());
                    }
                    if (quotient - quotient.round()).abs() > 1e-9 {
                        return fail(format!("must be multiple of {}", py_repr(rule)));
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let Json::Array(items) = data {
                    let len = items.len() as f64;
                    let limit = rule.as_f64().unwrap_or_default();
                    if key == "minItems" && len < limit {
                        return fail(format!("must contain at least {} items", py_repr(rule)));
                    }
                    if key == "maxItems" && len > limit {
                        return fail(format!(
                            "must contain less than or equal to {} items",
                            py_repr(rule)
                        ));
                    }
                }
            }
            "uniqueItems" => {
                if rule == &Json::Bool(true)
                    && let Json::Array(items) = data
                {
                    for (idx, item) in items.iter().enumerate() {
                        if items[idx + 1..].iter().any(|other| py_eq(item, other)) {
                            return fail("must contain unique items".to_owned());
                        }
                    }
                }
            }
            "items" => self.items(defn, rule, data, name, depth)?,
            "minProperties" | "maxProperties" => {
                if let Json::Object(items) = data {
                    let len = items.len() as f64;
                    let limit = rule.as_f64().unwrap_or_default();
                    if key == "minProperties" && len < limit {
                        return fail(format!(
                            "must contain at least {} properties",
                            py_repr(rule)
                        ));
                    }
                    if key == "maxProperties" && len > limit {
                        return fail(format!(
                            "must contain less than or equal to {} properties",
                            py_repr(rule)
                        ));
                    }
                }
            }
            "required" => {
                if let Json::Object(items) = data {
                    let missing: BTreeSet<&str> = rule
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(Json::as_str)
                        .filter(|key| !items.contains_key(*key))
                        .collect();
                    if !missing.is_empty() {
                        let names: Vec<Json> = missing.iter().map(|k| Json::from(*k)).collect();
                        return fail(format!(
                            "must contain {} properties",
                            py_repr(&Json::Array(names))
                        ));
                    }
                }
            }
            "dependencies" => {
                if let Json::Object(deps) = rule {
                    for (key, dep) in deps {
                        if data.get(key).is_none() || !data.is_object() {
                            continue;
                        }
                        match dep {
                            Json::Array(names) => {
                                for need in names.iter().filter_map(Json::as_str) {
                                    if data.get(need).is_none() {
                                        return fail(format!(
                                            "missing dependency {need} for {key}"
                                        ));
                                    }
                                }
                            }
                            Json::Bool(false) => {
                                return Err(format!("{key} in {name} must not be there"));
                            }
                            sub => self.walk(sub, data, name, depth + 1)?,
                        }
                    }
                }
            }
            "properties" => {
                if let Json::Object(props) = rule
                    && data.is_object()
                {
                    for (key, sub) in props {
                        let subname = format!("{name}.{key}");
                        let present = data.get(key).is_some();
                        if present {
                            if let Some(valu) = data.get_mut(key) {
                                self.walk(sub, valu, &subname, depth + 1)?;
                            }
                        } else if self.use_default
                            && let Some(default) = sub.get("default")
                            && let Json::Object(items) = data
                        {
                            items.insert(key.clone(), default.clone());
                        }
                    }
                }
            }
            "patternProperties" => {
                if let (Json::Object(items), Json::Object(pats)) = (&mut *data, rule) {
                    for (key, valu) in items.iter_mut() {
                        for (pattern, sub) in pats {
                            if regex::Regex::new(pattern).is_ok_and(|re| re.is_match(key)) {
                                self.walk(sub, valu, &format!("{name}.{key}"), depth + 1)?;
                            }
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Json::Object(items) = data {
                    let props = defn.get("properties").and_then(Json::as_object);
                    let pats: Vec<regex::Regex> = defn
                        .get("patternProperties")
                        .and_then(Json::as_object)
                        .map(|p| p.keys().filter_map(|k| regex::Regex::new(k).ok()).collect())
                        .unwrap_or_default();
                    let extra: Vec<String> = items
                        .keys()
                        .filter(|k| !props.is_some_and(|p| p.contains_key(*k)))
                        .filter(|k| !pats.iter().any(|re| re.is_match(k)))
                        .cloned()
                        .collect();
                    match rule {
                        Json::Bool(true) => {}
                        Json::Object(sub) if sub.is_empty() => {}
                        Json::Bool(false) => {
                            if !extra.is_empty() {
                                let shown: Vec<String> = extra
                                    .iter()
                                    .map(|k| py_repr(&Json::from(k.as_str())))
                                    .collect();
                                return fail(format!(
                                    "must not contain {{{}}} properties",
                                    shown.join(", ")
                                ));
                            }
                        }
                        sub => {
                            for key in extra {
                                if let Some(valu) = items.get_mut(&key) {
                                    self.walk(sub, valu, &format!("{name}.{key}"), depth + 1)?;
                                }
                            }
                        }
                    }
                }
            }
            "propertyNames" => {
                if let Json::Object(items) = data {
                    if rule == &Json::Bool(false) && !items.is_empty() {
                        return fail("must not be there".to_owned());
                    }
                    let keys: Vec<String> = items.keys().cloned().collect();
                    for key in keys {
                        let mut keyval = Json::from(key.as_str());
                        if self.walk(rule, &mut keyval, name, depth + 1).is_err() {
                            return fail("must be named by propertyName definition".to_owned());
                        }
                    }
                }
            }
            "contains" => {
                if let Json::Array(items) = data {
                    if rule == &Json::Bool(false) {
                        return fail("is always invalid".to_owned());
                    }
                    if items.is_empty() {
                        return fail("must not be empty".to_owned());
                    }
                    let mut found = false;
                    for item in items.iter_mut() {
                        if self.walk(rule, item, name, depth + 1).is_ok() {
                            found = true;
                            break;
                        }
                    }
                    if !found {
                        return fail("must contain one of contains definition".to_owned());
                    }
                }
            }
            "const" if !py_eq(rule, data) => {
                return fail(format!(
                    "must be same as const definition: {}",
                    py_str(rule)
                ));
            }
            "if" => {
                let mut copy = data.clone();
                if self.walk(rule, &mut copy, name, depth + 1).is_ok() {
                    *data = copy;
                    if let Some(then) = defn.get("then") {
                        self.walk(then, data, name, depth + 1)?;
                    }
                } else if let Some(other) = defn.get("else") {
                    self.walk(other, data, name, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn items(
        &self,
        defn: &Map<String, Json>,
        rule: &Json,
        data: &mut Json,
        name: &str,
        depth: usize,
    ) -> Result<(), String> {
        let Json::Array(items) = data else {
            return Ok(());
        };
        match rule {
            Json::Bool(true) => {}
            Json::Bool(false) => {
                if !items.is_empty() {
                    return Err(format!("{name} must not be there"));
                }
            }
            Json::Array(subs) => {
                for (idx, sub) in subs.iter().enumerate() {
                    if let Some(item) = items.get_mut(idx) {
                        self.walk(sub, item, &format!("{name}[{idx}]"), depth + 1)?;
                    } else if self.use_default
                        && let Some(default) = sub.get("default")
                    {
                        items.push(default.clone());
                    }
                }
                match defn.get("additionalItems") {
                    Some(Json::Bool(false)) if items.len() > subs.len() => {
                        return Err(format!("{name} must contain only specified items"));
                    }
                    Some(extra @ Json::Object(_)) => {
                        for (idx, item) in items.iter_mut().enumerate().skip(subs.len()) {
                            self.walk(extra, item, &format!("{name}[{idx}]"), depth + 1)?;
                        }
                    }
                    _ => {}
                }
            }
            sub => {
                for (idx, item) in items.iter_mut().enumerate() {
                    self.walk(sub, item, &format!("{name}[{idx}]"), depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

fn number(valu: &Json) -> Option<f64> {
    match valu {
        Json::Number(num) => num.as_f64(),
        _ => None,
    }
}

/// Python's `isinstance` checks of fastjsonschema (booleans are not numbers; `1.0` is not
/// an integer).
fn is_type(valu: &Json, name: &str) -> bool {
    match name {
        "array" => valu.is_array(),
        "boolean" => valu.is_boolean(),
        "integer" => valu.is_i64() || valu.is_u64(),
        "null" => valu.is_null(),
        "number" => valu.is_number(),
        "object" => valu.is_object(),
        "string" => valu.is_string(),
        _ => false,
    }
}

/// Python equality: `1 == 1.0`, `True == 1`.
fn py_eq(a: &Json, b: &Json) -> bool {
    let num = |v: &Json| match v {
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        Json::Number(n) => n.as_f64(),
        _ => None,
    };
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| py_eq(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

fn format_ok(format: &str, text: &str) -> bool {
    let re = |pattern: &str| regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text));
    match format {
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        "email" => re(r"^(?i)[^@]+@[^@]+\.[^@]+\z"),
        "date" => re(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\z"),
        "date-time" => re(
            r"^\d{4}-[01]\d-[0-3]\d[tT ][0-2]\d:[0-5]\d:[0-5]\d(?:\.\d+)?(?:[+-][0-2]\d:[0-5]\d|[+-][0-2]\d[0-5]\d|[zZ])\z",
        ),
        "hostname" => re(
            r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]{0,61}[A-Za-z0-9])\z",
        ),
        "uri" => re(r"^\w+:(/?/?)[^\s]+\z"),
        "regex" => regex::Regex::new(text).is_ok(),
        _ => true,
    }
}

fn py_type_name(valu: &Json) -> &'static str {
    match valu {
        Json::Null => "NoneType",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "float",
        Json::Number(_) => "int",
        Json::String(_) => "str",
        Json::Array(_) => "list",
        Json::Object(_) => "dict",
    }
}

/// `str(valu)` in Python (a string is itself).
fn py_str(valu: &Json) -> String {
    match valu {
        Json::String(text) => text.clone(),
        other => py_repr(other),
    }
}

/// `repr(valu)` in Python.
pub(crate) fn py_repr(valu: &Json) -> String {
    match valu {
        Json::Null => "None".to_owned(),
        Json::Bool(true) => "True".to_owned(),
        Json::Bool(false) => "False".to_owned(),
        Json::Number(num) => match (num.as_i64(), num.as_u64(), num.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => num.to_string(),
        },
        Json::String(text) => crate::model::value::py_repr_str(text),
        Json::Array(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Json::Object(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Json::from(k.as_str())), py_repr(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

// ----- Storm: `$lib.json.schema()` and the `json:schema` object -----

/// `$lib.json.schema(schema, use_default=$lib.true)`: a `json:schema` object, or
/// `StormRuntimeError` "Unable to compile Json Schema: ..." for a bad schema.
pub(crate) fn storm_schema(schema: Option<&Val>, use_default: bool) -> RResult<Val> {
    let schema = schema.ok_or_else(|| {
        super::error::rterr("$lib.json.schema() missing 1 required positional argument: 'schema'")
    })?;
    let json = super::lib::msgpack_to_json(&schema.to_msgpack()?);
    match Schema::compile(json.clone(), use_default) {
        Ok(compiled) => Ok(Val::Obj(Arc::new(Obj::JsonSchema(Arc::new(compiled))))),
        Err(mesg) => Err(Flow::Err(
            StormError::new(
                "StormRuntimeError",
                format!("Unable to compile Json Schema: {mesg}"),
            )
            .with("schema", synapse_cell::from_json(&json)),
        )),
    }
}

/// The methods of a `json:schema` object.
pub(crate) const METHODS: &[&str] = &["schema", "validate"];

/// What `$lib.print` shows of a `json:schema` object.
pub(crate) fn repr(schema: &Schema) -> String {
    format!("json:schema: {}", py_repr(schema.schema()))
}

/// Call a method of a `json:schema` object: `schema()` (a copy of the schema) or
/// `validate(item)` (`(true, item with defaults)` or `(false, {"mesg": ...})`).
pub(crate) fn call(
    schema: &Schema,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let args = Args::new(name, args, kwargs);
    match name {
        "schema" => Ok(super::lib::json_to_val(schema.schema())),
        "validate" => {
            let item = super::lib::msgpack_to_json(&args.req(0, "item")?.to_msgpack()?);
            Ok(match schema.validate(item) {
                Ok(valid) => Val::Tuple(Arc::from(vec![
                    Val::Bool(true),
                    super::lib::json_to_val(&valid),
                ])),
                Err(mesg) => {
                    let mut info = indexmap::IndexMap::new();
                    info.insert(Key::Str(Arc::from("mesg")), Val::from(mesg));
                    Val::Tuple(Arc::from(vec![Val::Bool(false), new_dict(info)]))
                }
            })
        }
        other => Err(nosuchname(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Json, item: Json) -> Result<Json, String> {
        Schema::compile(schema, true)?.validate(item)
    }

    #[test]
    fn types_and_messages_follow_fastjsonschema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 2},
                "age": {"type": "integer", "minimum": 0},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"enum": ["a", "b"], "default": "a"},
            },
            "required": ["name", "age"],
            "additionalProperties": false,
        });
        assert_eq!(
            check(schema.clone(), json!({"name": "vv", "age": 3})),
            Ok(json!({"name": "vv", "age": 3, "kind": "a"}))
        );
        assert_eq!(
            check(schema.clone(), json!([])),
            Err("data must be object".into())
        );
        assert_eq!(
            check(schema.clone(), json!({"age": 1})),
            Err("data must contain ['name'] properties".into())
        );
        assert_eq!(
            check(schema.clone(), json!({"name": "v", "age": 1})),
            Err("data.name must be longer than or equal to 2 characters".into())
        );
        assert_eq!(
            check(schema.clone(), json!({"name": "vv", "age": true})),
            Err("data.age must be integer".into())
        );
        assert_eq!(
            check(schema.clone(), json!({"name": "vv", "age": -1})),
            Err("data.age must be bigger than or equal to 0".into())
        );
        assert_eq!(
            check(
                schema.clone(),
                json!({"name": "vv", "age": 1, "tags": ["x", 2]})
            ),
            Err("data.tags[1] must be string".into())
        );
        assert_eq!(
            check(schema.clone(), json!({"name": "vv", "age": 1, "kind": "c"})),
            Err("data.kind must be one of ['a', 'b']".into())
        );
        assert_eq!(
            check(schema, json!({"name": "vv", "age": 1, "x": 1})),
            Err("data must not contain {'x'} properties".into())
        );
    }

    #[test]
    fn references_combinators_and_defaults() {
        let schema = json!({
            "definitions": {"port": {"type": "integer", "maximum": 65535}},
            "type": "object",
            "properties": {
                "port": {"$ref": "#/definitions/port"},
                "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "nested": {"type": "object", "properties": {"x": {"default": 1}}, "default": {}},
            },
        });
        assert_eq!(
            check(schema.clone(), json!({"nested": {}})),
            Ok(json!({"nested": {"x": 1}}))
        );
        assert_eq!(check(schema.clone(), json!({})), Ok(json!({"nested": {}})));
        assert_eq!(
            check(schema.clone(), json!({"port": 70000})),
            Err("data.port must be smaller than or equal to 65535".into())
        );
        assert_eq!(
            check(schema, json!({"either": 1.5})),
            Err("data.either must be valid exactly by one definition (0 matches found)".into())
        );
        let nodefault =
            Schema::compile(json!({"properties": {"x": {"default": 1}}}), false).unwrap();
        assert_eq!(nodefault.validate(json!({})), Ok(json!({})));
    }

    #[test]
    fn bad_schemas_do_not_compile() {
        assert!(Schema::compile(json!({"type": "nope"}), true).is_err());
        assert!(Schema::compile(json!({"$ref": "#/definitions/nope"}), true).is_err());
        assert!(Schema::compile(json!({"pattern": "("}), true).is_err());
        assert!(Schema::compile(json!("str"), true).is_err());
        assert!(Schema::compile(json!(true), true).is_ok());
    }

    #[test]
    fn python_reprs() {
        assert_eq!(
            py_repr(&json!([1, 2.0, "a'b", null, true])),
            "[1, 2.0, \"a'b\", None, True]"
        );
        assert_eq!(py_repr(&json!({"k": "v"})), "{'k': 'v'}");
    }
}
