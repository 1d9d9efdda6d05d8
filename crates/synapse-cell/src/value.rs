//! Dynamic values: msgpack ([`Value`]) helpers, JSON conversion, content-derived idens and
//! Python-style binding of telepath call arguments.

use md5::{Digest, Md5};
use rmpv::Value;

use crate::error::{ErrKind, Error, Result};

/// A map value from `(key, value)` pairs with string keys.
pub fn map<const N: usize>(items: [(&str, Value); N]) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Look up a string key in a map value.
pub fn map_get<'a>(valu: &'a Value, key: &str) -> Option<&'a Value> {
    match valu {
        Value::Map(items) => items
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// An optional string as a value (`None` → nil).
pub fn opt_str(valu: Option<&str>) -> Value {
    valu.map_or(Value::Nil, Value::from)
}

/// The msgpack encoding of a value (the reference's `s_msgpack.en`).
pub fn encode(valu: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut buf, valu);
    buf
}

/// Decode one msgpack value.
pub fn decode(mut byts: &[u8]) -> Result<Value> {
    rmpv::decode::read_value(&mut byts)
        .map_err(|err| Error::storage(format!("invalid msgpack: {err}")))
}

/// The reference's content guid: md5 of the msgpack encoding, as 32 hex characters.
pub fn guid_of(valu: &Value) -> String {
    hex::encode(Md5::digest(encode(valu)))
}

/// True if `text` is 32 lowercase hex characters.
pub fn is_guid(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Convert JSON to msgpack (objects become string-keyed maps).
pub fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(items) => Value::Map(
            items
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

/// Convert msgpack to JSON. Bytes become a list of numbers is not what Python does (it refuses
/// them); we render them as hex strings so a response is never lost. Non-string map keys are
/// rendered as their JSON text; nil keys as `"null"` (Python's json does the same for `None`).
pub fn to_json(valu: &Value) -> serde_json::Value {
    match valu {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => {
            if let Some(v) = i.as_i64() {
                serde_json::Value::from(v)
            } else if let Some(v) = i.as_u64() {
                serde_json::Value::from(v)
            } else {
                serde_json::Value::Null
            }
        }
        Value::F32(f) => serde_json::Number::from_f64(f64::from(*f))
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::F64(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(s) => serde_json::Value::String(s.as_str().map_or_else(
            || String::from_utf8_lossy(s.as_bytes()).into_owned(),
            str::to_string,
        )),
        Value::Binary(b) => serde_json::Value::String(hex::encode(b)),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(items) => {
            let mut out = serde_json::Map::new();
            for (key, valu) in items {
                let key = match key {
                    Value::String(s) => s.as_str().unwrap_or_default().to_string(),
                    other => to_json(other).to_string(),
                };
                out.insert(key, to_json(valu));
            }
            serde_json::Value::Object(out)
        }
        Value::Ext(_, _) => serde_json::Value::Null,
    }
}

/// A default value of an optional parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgDefault {
    /// The parameter is required.
    Required,
    /// `None`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An empty tuple `()`.
    Empty,
}

impl ArgDefault {
    fn value(self) -> Option<Value> {
        match self {
            ArgDefault::Required => None,
            ArgDefault::Nil => Some(Value::Nil),
            ArgDefault::Bool(b) => Some(Value::Boolean(b)),
            ArgDefault::Int(i) => Some(Value::from(i)),
            ArgDefault::Empty => Some(Value::Array(Vec::new())),
        }
    }
}

/// One parameter of a telepath method: its name and default.
pub type Param = (&'static str, ArgDefault);

/// The arguments of a telepath call: positional values and keyword values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
}

impl Args {
    /// Arguments from the wire form of a `todo`: an args array and a kwargs map.
    pub fn from_wire(args: Value, kwargs: Value) -> Self {
        let args = match args {
            Value::Array(items) => items,
            Value::Nil => Vec::new(),
            other => vec![other],
        };
        let kwargs = match kwargs {
            Value::Map(items) => items
                .into_iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v)))
                .collect(),
            _ => Vec::new(),
        };
        Self { args, kwargs }
    }

    /// Positional arguments only.
    pub fn positional(args: Vec<Value>) -> Self {
        Self {
            args,
            kwargs: Vec::new(),
        }
    }

    /// Bind to `params` as Python would: positional first, then keywords, then defaults.
    /// Errors are Python's `TypeError` messages; `meth` names the method in them (the
    /// reference shows the qualified name, e.g. `CellApi.getCellIden`).
    pub fn bind(self, meth: &str, params: &[Param]) -> Result<Bound> {
        if self.args.len() > params.len() {
            let most = params.len() + 1;
            let least = params
                .iter()
                .filter(|(_, d)| *d == ArgDefault::Required)
                .count()
                + 1;
            let given = self.args.len() + 1;
            let takes = if least == most {
                let plural = if most == 1 { "argument" } else { "arguments" };
                format!("{most} positional {plural}")
            } else {
                format!("from {least} to {most} positional arguments")
            };
            let verb = if given == 1 { "was" } else { "were" };
            return Err(Error::new(
                ErrKind::TypeError,
                format!("{meth}() takes {takes} but {given} {verb} given"),
            ));
        }
        let mut slots: Vec<Option<Value>> = params.iter().map(|_| None).collect();
        for (slot, valu) in slots.iter_mut().zip(self.args) {
            *slot = Some(valu);
        }
        for (key, valu) in self.kwargs {
            let Some(indx) = params.iter().position(|(name, _)| *name == key) else {
                return Err(Error::new(
                    ErrKind::TypeError,
                    format!("{meth}() got an unexpected keyword argument '{key}'"),
                ));
            };
            if slots[indx].is_some() {
                return Err(Error::new(
                    ErrKind::TypeError,
                    format!("{meth}() got multiple values for argument '{key}'"),
                ));
            }
            slots[indx] = Some(valu);
        }
        let mut missing = Vec::new();
        let mut values = Vec::with_capacity(params.len());
        for (slot, (name, default)) in slots.into_iter().zip(params) {
            match slot.or_else(|| default.value()) {
                Some(valu) => values.push(valu),
                None => {
                    missing.push(format!("'{name}'"));
                    values.push(Value::Nil);
                }
            }
        }
        if !missing.is_empty() {
            let count = missing.len();
            let plural = if count == 1 { "argument" } else { "arguments" };
            let names = match missing.len() {
                1 => missing.remove(0),
                2 => format!("{} and {}", missing[0], missing[1]),
                _ => {
                    let last = missing.pop().unwrap_or_default();
                    format!("{}, and {last}", missing.join(", "))
                }
            };
            return Err(Error::new(
                ErrKind::TypeError,
                format!("{meth}() missing {count} required positional {plural}: {names}"),
            ));
        }
        Ok(Bound { values })
    }
}

/// Bound arguments, in parameter order, with typed accessors.
#[derive(Debug, Clone)]
pub struct Bound {
    values: Vec<Value>,
}

impl Bound {
    /// The raw value of parameter `indx`.
    pub fn value(&self, indx: usize) -> &Value {
        static NIL: Value = Value::Nil;
        self.values.get(indx).unwrap_or(&NIL)
    }

    /// Take the raw value of parameter `indx`.
    pub fn take(&mut self, indx: usize) -> Value {
        self.values
            .get_mut(indx)
            .map(|v| std::mem::replace(v, Value::Nil))
            .unwrap_or(Value::Nil)
    }

    /// A required string.
    pub fn str(&self, indx: usize, name: &str) -> Result<String> {
        req_str(self.value(indx), name)
    }

    /// An optional string (nil → `None`).
    pub fn opt_str(&self, indx: usize, name: &str) -> Result<Option<String>> {
        match self.value(indx) {
            Value::Nil => Ok(None),
            other => req_str(other, name).map(Some),
        }
    }

    /// A boolean by Python truthiness.
    pub fn truthy(&self, indx: usize) -> bool {
        truthy(self.value(indx))
    }

    /// An optional integer.
    pub fn opt_int(&self, indx: usize, name: &str) -> Result<Option<i64>> {
        match self.value(indx) {
            Value::Nil => Ok(None),
            Value::Integer(i) => i
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::bad_arg(format!("{name} is out of range"))),
            _ => Err(Error::bad_arg(format!("{name} must be an integer"))),
        }
    }
}

/// A required string argument.
pub fn req_str(valu: &Value, name: &str) -> Result<String> {
    match valu {
        Value::String(s) => match s.as_str() {
            Some(text) => Ok(text.to_string()),
            None => Err(Error::bad_arg(format!("{name} must be valid UTF-8"))),
        },
        _ => Err(Error::bad_arg(format!("{name} must be a string"))),
    }
}

/// Python truthiness of a value.
pub fn truthy(valu: &Value) -> bool {
    match valu {
        Value::Nil => false,
        Value::Boolean(b) => *b,
        Value::Integer(i) => i.as_i64() != Some(0) && i.as_u64() != Some(0),
        Value::F32(f) => *f != 0.0,
        Value::F64(f) => *f != 0.0,
        Value::String(s) => !s.as_bytes().is_empty(),
        Value::Binary(b) => !b.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Map(items) => !items.is_empty(),
        Value::Ext(_, _) => true,
    }
}

/// A permission path from a value: an array of strings (a tuple in Python).
pub fn perm_path(valu: &Value) -> Result<Vec<String>> {
    match valu {
        Value::Array(items) => items.iter().map(|item| req_str(item, "perm")).collect(),
        Value::String(s) => Ok(s
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(String::from)
            .collect()),
        _ => Err(Error::bad_arg("perm must be a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn guid_of_matches_reference() {
        // s_common.guid(('a', 'b')) in Synapse 2.256.
        let valu = Value::Array(vec![Value::from("a"), Value::from("b")]);
        assert_eq!(guid_of(&valu), "a5fcb7ee50dd99f27ff8f8aa5aedfbe1");
    }

    #[test]
    fn bind_positional_keywords_and_defaults() {
        let params = [
            ("iden", ArgDefault::Required),
            ("indx", ArgDefault::Nil),
            ("gateiden", ArgDefault::Nil),
        ];
        let args = Args {
            args: vec![Value::from("x")],
            kwargs: vec![("gateiden".into(), Value::from("g"))],
        };
        let bound = args.bind("addUserRule", &params).unwrap();
        assert_eq!(bound.str(0, "iden").unwrap(), "x");
        assert_eq!(bound.value(1), &Value::Nil);
        assert_eq!(bound.opt_str(2, "gateiden").unwrap().as_deref(), Some("g"));
    }

    #[test]
    fn bind_errors_are_python_type_errors() {
        let params = [
            ("iden", ArgDefault::Required),
            ("rule", ArgDefault::Required),
        ];
        let err = Args::default().bind("addUserRule", &params).unwrap_err();
        assert_eq!(err.kind(), ErrKind::TypeError);
        assert_eq!(
            err.mesg(),
            "addUserRule() missing 2 required positional arguments: 'iden' and 'rule'"
        );
        let err = Args::positional(vec![Value::Nil; 3])
            .bind("addUserRule", &params)
            .unwrap_err();
        assert_eq!(
            err.mesg(),
            "addUserRule() takes 3 positional arguments but 4 were given"
        );
        let opt = [("iden", ArgDefault::Required), ("gate", ArgDefault::Nil)];
        let err = Args::positional(vec![Value::Nil; 3])
            .bind("CellApi.f", &opt)
            .unwrap_err();
        assert_eq!(
            err.mesg(),
            "CellApi.f() takes from 2 to 3 positional arguments but 4 were given"
        );
        let three = [
            ("a", ArgDefault::Required),
            ("b", ArgDefault::Required),
            ("c", ArgDefault::Required),
        ];
        let err = Args::default().bind("f", &three).unwrap_err();
        assert_eq!(
            err.mesg(),
            "f() missing 3 required positional arguments: 'a', 'b', and 'c'"
        );
        let err = Args {
            args: vec![Value::Nil],
            kwargs: vec![("iden".into(), Value::Nil)],
        }
        .bind("f", &params)
        .unwrap_err();
        assert_eq!(err.mesg(), "f() got multiple values for argument 'iden'");
        let err = Args {
            args: vec![],
            kwargs: vec![("nope".into(), Value::Nil)],
        }
        .bind("f", &params)
        .unwrap_err();
        assert_eq!(err.mesg(), "f() got an unexpected keyword argument 'nope'");
    }

    fn json_strategy() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z]{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn json_roundtrips_through_msgpack(json in json_strategy()) {
            prop_assert_eq!(to_json(&from_json(&json)), json.clone());
            let valu = from_json(&json);
            prop_assert_eq!(decode(&encode(&valu)).unwrap(), valu);
        }
    }
}
