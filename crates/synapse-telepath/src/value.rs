//! Helpers for [`Value`]: map lookups, building maps, and typed extraction ([`FromValue`]).

use std::collections::{BTreeMap, HashMap};

use rmpv::Value;

/// Build a map value from `(key, value)` pairs, keeping their order.
///
/// ```
/// use synapse_telepath::{Value, vmap};
/// let info = vmap([("mesg", Value::from("hi")), ("count", Value::from(2))]);
/// assert_eq!(info["count"], Value::from(2));
/// ```
pub fn vmap<K, V, I>(pairs: I) -> Value
where
    K: Into<Value>,
    V: Into<Value>,
    I: IntoIterator<Item = (K, V)>,
{
    Value::Map(
        pairs
            .into_iter()
            .map(|(key, val)| (key.into(), val.into()))
            .collect(),
    )
}

/// Set `key` in a map value (replacing an existing str key of that name, else appending).
/// A non-map value is first replaced by an empty map.
pub fn map_set(map: &mut Value, key: &str, value: Value) {
    if !map.is_map() {
        *map = Value::Map(Vec::new());
    }
    if let Value::Map(pairs) = map {
        if let Some(slot) = pairs.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
            slot.1 = value;
        } else {
            pairs.push((Value::from(key), value));
        }
    }
}

/// Lookups on map values that tell a missing key from a nil value.
pub trait ValueExt {
    /// The value under the str key `key`, if this is a map that has it.
    fn get_key(&self, key: &str) -> Option<&Value>;
    /// Remove and return the value under the str key `key`.
    fn take_key(&mut self, key: &str) -> Option<Value>;
}

impl ValueExt for Value {
    fn get_key(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn take_key(&mut self, key: &str) -> Option<Value> {
        match self {
            Value::Map(pairs) => {
                let idx = pairs.iter().position(|(k, _)| k.as_str() == Some(key))?;
                Some(pairs.remove(idx).1)
            }
            _ => None,
        }
    }
}

/// Typed extraction from a [`Value`], used by [`crate::Params`].
pub trait FromValue: Sized {
    /// A short description of the expected type, for error messages.
    const EXPECTED: &'static str;
    /// Convert, or give the value back if it has the wrong type.
    fn from_value(value: Value) -> Result<Self, Value>;
}

impl FromValue for Value {
    const EXPECTED: &'static str = "any value";
    fn from_value(value: Value) -> Result<Self, Value> {
        Ok(value)
    }
}

impl FromValue for String {
    const EXPECTED: &'static str = "str";
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::String(text) if text.is_str() => Ok(text.into_str().unwrap_or_default()),
            other => Err(other),
        }
    }
}

impl FromValue for bool {
    const EXPECTED: &'static str = "bool";
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Boolean(flag) => Ok(flag),
            other => Err(other),
        }
    }
}

impl FromValue for f64 {
    const EXPECTED: &'static str = "float";
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::F64(num) => Ok(num),
            Value::F32(num) => Ok(f64::from(num)),
            Value::Integer(int) => int.as_f64().ok_or(value),
            other => Err(other),
        }
    }
}

macro_rules! int_from_value {
    ($($ty:ty),*) => {$(
        impl FromValue for $ty {
            const EXPECTED: &'static str = "int";
            fn from_value(value: Value) -> Result<Self, Value> {
                let Value::Integer(int) = value else { return Err(value) };
                if let Some(num) = int.as_u64() {
                    return <$ty>::try_from(num).map_err(|_| value);
                }
                match int.as_i64() {
                    Some(num) => <$ty>::try_from(num).map_err(|_| value),
                    None => Err(value),
                }
            }
        }
    )*};
}

int_from_value!(i64, u64, i32, u32, i16, u16, i8, u8, usize, isize);

impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "bytes";
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Binary(bytes) => Ok(bytes),
            other => Err(other),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(value: Value) -> Result<Self, Value> {
        match value {
            Value::Nil => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Arrays of `T` (a tuple or a list on the Python side). `Vec<u8>` is bytes, not an array.
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<T: FromValue> FromValue for List<T> {
    const EXPECTED: &'static str = "list";
    fn from_value(value: Value) -> Result<Self, Value> {
        let Value::Array(items) = value else {
            return Err(value);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match T::from_value(item) {
                Ok(item) => out.push(item),
                Err(_) => return Err(Value::Array(Vec::new())),
            }
        }
        Ok(List(out))
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    const EXPECTED: &'static str = "dict";
    fn from_value(value: Value) -> Result<Self, Value> {
        let Value::Map(pairs) = value else {
            return Err(value);
        };
        let mut out = BTreeMap::new();
        for (key, val) in pairs {
            let Ok(key) = String::from_value(key) else {
                return Err(Value::Map(Vec::new()));
            };
            let Ok(val) = T::from_value(val) else {
                return Err(Value::Map(Vec::new()));
            };
            out.insert(key, val);
        }
        Ok(out)
    }
}

impl<T: FromValue> FromValue for HashMap<String, T> {
    const EXPECTED: &'static str = "dict";
    fn from_value(value: Value) -> Result<Self, Value> {
        BTreeMap::<String, T>::from_value(value).map(|map| map.into_iter().collect())
    }
}

/// A short type name of a value as Python would call it, for error messages.
pub(crate) fn py_type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Integer(_) => "int",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "str",
        Value::Binary(_) => "bytes",
        Value::Array(_) => "tuple",
        Value::Map(_) => "dict",
        Value::Ext(0 | 1, _) => "int",
        Value::Ext(..) => "ExtType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_extraction() {
        assert_eq!(i64::from_value(Value::from(-3)), Ok(-3));
        assert_eq!(u8::from_value(Value::from(300)), Err(Value::from(300)));
        assert_eq!(u64::from_value(Value::from(-1)), Err(Value::from(-1)));
        assert_eq!(String::from_value(Value::from("x")), Ok("x".to_owned()));
        assert!(String::from_value(Value::from(vec![1u8])).is_err());
        assert_eq!(Option::<i64>::from_value(Value::Nil), Ok(None));
        assert_eq!(f64::from_value(Value::from(2)), Ok(2.0));
        let list = Value::Array(vec![Value::from(1), Value::from(2)]);
        assert_eq!(List::<i64>::from_value(list).unwrap().0, vec![1, 2]);
        let map = vmap([("a", 1)]);
        assert_eq!(BTreeMap::<String, i64>::from_value(map).unwrap()["a"], 1);
    }

    #[test]
    fn map_helpers() {
        let mut info = vmap([("mesg", "a")]);
        map_set(&mut info, "mesg", Value::from("b"));
        map_set(&mut info, "x", Value::Nil);
        assert_eq!(info.get_key("mesg"), Some(&Value::from("b")));
        assert_eq!(info.get_key("x"), Some(&Value::Nil));
        assert_eq!(info.get_key("y"), None);
        assert_eq!(info.take_key("x"), Some(Value::Nil));
        assert_eq!(info.get_key("x"), None);
    }
}
