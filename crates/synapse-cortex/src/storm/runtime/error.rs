//! Storm runtime errors (the reference's exception classes) and control flow.

use rmpv::Value;

use super::runt::Item;
use super::value::Val;
use crate::storm::ast::Span;

/// A Storm error: the reference's exception class name and its info.
#[derive(Clone, Debug, PartialEq)]
pub struct StormError {
    /// The class name (`BadTypeValu`, `NoSuchProp`, `AuthDeny`, ...).
    pub name: String,
    /// The message.
    pub mesg: String,
    /// Other info keys, in order (`name`, `valu`, `form`, `perm`, `highlight`, ...).
    pub info: Vec<(String, Value)>,
}

impl std::fmt::Display for StormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.mesg)
    }
}

impl std::error::Error for StormError {}

impl StormError {
    /// An error of a class with a message.
    pub fn new(name: impl Into<String>, mesg: impl Into<String>) -> StormError {
        StormError {
            name: name.into(),
            mesg: mesg.into(),
            info: Vec::new(),
        }
    }

    /// Add an info key.
    pub fn with(mut self, key: &str, valu: impl Into<Value>) -> StormError {
        self.set(key, valu.into());
        self
    }

    /// Set an info key.
    pub fn set(&mut self, key: &str, valu: Value) {
        match self.info.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = valu,
            None => self.info.push((key.to_owned(), valu)),
        }
    }

    /// An info value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.info.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The info dict as sent in `err` messages: `mesg` first, then the other keys.
    pub fn info_value(&self) -> Value {
        let mut out = Vec::with_capacity(self.info.len() + 1);
        out.push((Value::from("mesg"), Value::from(self.mesg.as_str())));
        for (k, v) in &self.info {
            out.push((Value::from(k.as_str()), v.clone()));
        }
        Value::Map(out)
    }

    /// The `(name, info)` pair of an `err` message.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![Value::from(self.name.as_str()), self.info_value()])
    }

    /// Add the `highlight` of a span of `text` unless one is set.
    pub(crate) fn highlight(mut self, text: &str, span: Span) -> StormError {
        if self.get("highlight").is_none() && span.end >= span.start && span.end <= text.len() {
            self.set("highlight", highlight_value(text, span));
        }
        self
    }

    pub(crate) fn from_model(err: crate::model::ModelError) -> StormError {
        let mut out = StormError::new(err.class(), err.mesg());
        match &err {
            crate::model::ModelError::BadTypeValu { name, .. } => {
                out.set("name", Value::from(name.as_str()))
            }
            crate::model::ModelError::NoSuchProp { name, .. }
            | crate::model::ModelError::NoSuchForm { name }
            | crate::model::ModelError::NoSuchType { name } => {
                out.set("name", Value::from(name.as_str()))
            }
            crate::model::ModelError::NoSuchCmpr { cmpr, name } => {
                out.set("cmpr", Value::from(cmpr.as_str()));
                out.set("name", Value::from(name.as_str()));
            }
            _ => {}
        }
        out
    }

    pub(crate) fn from_view(err: crate::view::Error) -> StormError {
        match err {
            crate::view::Error::Model(err) => StormError::from_model(err),
            crate::view::Error::Denied(inner) => match inner.downcast::<StormError>() {
                Ok(err) => *err,
                Err(other) => StormError::new("AuthDeny", other.to_string()),
            },
            crate::view::Error::CantDelNode { mesg, form, iden } => {
                StormError::new("CantDelNode", mesg)
                    .with("form", form.as_str())
                    .with("iden", iden.as_str())
            }
            crate::view::Error::NoSuchProp { mesg, name } => {
                StormError::new("NoSuchProp", mesg).with("name", name.as_str())
            }
            crate::view::Error::IsDeprLocked { mesg, prop } => {
                StormError::new("IsDeprLocked", mesg).with("prop", prop.as_str())
            }
            crate::view::Error::NoSuchForm(name) => {
                StormError::new("NoSuchForm", format!("No form named {name}."))
                    .with("name", name.as_str())
            }
            other => StormError::new(other.class(), other.to_string()),
        }
    }
}

/// The `highlight` info of a span.
pub(crate) fn highlight_value(text: &str, span: Span) -> Value {
    let (soff, sline, scol) = crate::storm::error::locate(text, span.start);
    let (eoff, eline, ecol) = crate::storm::error::locate(text, span.end);
    let pair =
        |a: usize, b: usize| Value::Array(vec![Value::from(a as u64), Value::from(b as u64)]);
    Value::Map(vec![
        (Value::from("hash"), Value::from(super::queryhash(text))),
        (Value::from("lines"), pair(sline, eline)),
        (Value::from("columns"), pair(scol, ecol)),
        (Value::from("offsets"), pair(soff, eoff)),
    ])
}

/// Everything that ends a pipeline early: errors and control flow.
#[derive(Debug)]
pub(crate) enum Flow {
    /// An error.
    Err(StormError),
    /// `break` (with the node it was reached with).
    Break(Option<Box<Item>>),
    /// `continue`
    Continue(Option<Box<Item>>),
    /// `return(valu)`
    Return(Val),
    /// `stop`
    Stop,
    /// `$lib.exit()`: ends the query quietly.
    Exit,
}

impl From<StormError> for Flow {
    fn from(err: StormError) -> Flow {
        Flow::Err(err)
    }
}

impl From<crate::model::ModelError> for Flow {
    fn from(err: crate::model::ModelError) -> Flow {
        Flow::Err(StormError::from_model(err))
    }
}

impl From<crate::view::Error> for Flow {
    fn from(err: crate::view::Error) -> Flow {
        Flow::Err(StormError::from_view(err))
    }
}

/// Shorthand for runtime results.
pub(crate) type RResult<T> = Result<T, Flow>;

/// An error result.
pub(crate) fn err<T>(name: &str, mesg: impl Into<String>) -> RResult<T> {
    Err(Flow::Err(StormError::new(name, mesg)))
}

/// A `StormRuntimeError`.
pub(crate) fn rterr(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("StormRuntimeError", mesg))
}
