//! Telepath messages: `[type, info]` pairs, their builders and the server-side parser.
//!
//! Message types: `tele:syn` (handshake, both ways), `t2:init` → `t2:fini` | `t2:genr` +
//! `t2:yield`… | `t2:share` (task protocol v2), and the old `task:init` → `task:fini`,
//! `share:data`, `share:fini`.

use rmpv::Value;

use crate::codec::{CodecError, Spliced, encode_into, encode_str, encode_taking};
use crate::error::{RemoteError, retn_err};
use crate::value::ValueExt;

/// The telepath protocol version, `(3, 0)` in every Synapse 2.x release. Only the major
/// number is compared.
pub const TELEVERS: (u64, u64) = (3, 0);

/// [`TELEVERS`] as a value.
pub fn televers() -> Value {
    Value::Array(vec![Value::from(TELEVERS.0), Value::from(TELEVERS.1)])
}

/// Build a message `[kind, info]`.
pub fn mesg(kind: &str, info: Value) -> Value {
    Value::Array(vec![Value::from(kind), info])
}

/// Split a message into its type and info. `None` when it is not `[str, any]`.
pub fn split_mesg(value: Value) -> Option<(String, Value)> {
    let Value::Array(mut items) = value else {
        return None;
    };
    if items.len() != 2 {
        return None;
    }
    let info = items.pop()?;
    let Value::String(kind) = items.pop()? else {
        return None;
    };
    Some((kind.into_str()?, info))
}

/// A `todo`: the method name, positional args and keyword args of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Todo {
    /// The method name.
    pub meth: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments (str keys on the wire).
    pub kwargs: Vec<(String, Value)>,
}

impl Todo {
    /// The wire form `[meth, args, kwargs]`.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::from(self.meth.as_str()),
            Value::Array(self.args.clone()),
            Value::Map(
                self.kwargs
                    .iter()
                    .map(|(key, val)| (Value::from(key.as_str()), val.clone()))
                    .collect(),
            ),
        ])
    }

    /// Parse `[meth, args, kwargs]`, with the errors the reference would raise for a bad one.
    pub fn from_value(value: Value) -> Result<Todo, RemoteError> {
        let Value::Array(items) = value else {
            return Err(RemoteError::type_error(format!(
                "cannot unpack non-iterable {} object",
                crate::value::py_type_name(&value)
            )));
        };
        if items.len() != 3 {
            let how = if items.len() < 3 {
                "not enough"
            } else {
                "too many"
            };
            return Err(RemoteError::new(
                "ValueError",
                format!("{how} values to unpack (expected 3, got {})", items.len()),
            ));
        }
        let mut items = items.into_iter();
        let (Some(meth), Some(args), Some(kwargs)) = (items.next(), items.next(), items.next())
        else {
            return Err(RemoteError::bad_mesg_format("bad todo"));
        };
        let meth = match meth {
            Value::String(text) => text
                .into_str()
                .ok_or_else(|| RemoteError::bad_mesg_format("method name is not valid utf-8"))?,
            other => {
                return Err(RemoteError::type_error(format!(
                    "'{}' object is not subscriptable",
                    crate::value::py_type_name(&other)
                )));
            }
        };
        let args = match args {
            Value::Array(args) => args,
            Value::Nil => Vec::new(),
            other => {
                return Err(RemoteError::type_error(format!(
                    "Value after * must be an iterable, not {}",
                    crate::value::py_type_name(&other)
                )));
            }
        };
        let kwargs = match kwargs {
            Value::Map(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for (key, val) in pairs {
                    match key {
                        Value::String(text) if text.is_str() => {
                            out.push((text.into_str().unwrap_or_default(), val));
                        }
                        _ => return Err(RemoteError::type_error("keywords must be strings")),
                    }
                }
                out
            }
            Value::Nil => Vec::new(),
            other => {
                return Err(RemoteError::type_error(format!(
                    "argument after ** must be a mapping, not {}",
                    crate::value::py_type_name(&other)
                )));
            }
        };
        Ok(Todo { meth, args, kwargs })
    }
}

/// A message a server receives, parsed.
#[derive(Debug)]
pub(crate) enum Incoming {
    TeleSyn(Value),
    T2Init(Value),
    TaskInit(Value),
    ShareFini(Value),
    /// A message of another type (logged and dropped).
    Unknown(String),
    /// Not a `[str, any]` pair at all (logged and dropped).
    Malformed,
}

impl Incoming {
    pub(crate) fn parse(value: Value) -> Incoming {
        let Some((kind, info)) = split_mesg(value) else {
            return Incoming::Malformed;
        };
        match kind.as_str() {
            "tele:syn" => Incoming::TeleSyn(info),
            "t2:init" => Incoming::T2Init(info),
            "task:init" => Incoming::TaskInit(info),
            "share:fini" => Incoming::ShareFini(info),
            _ => Incoming::Unknown(kind),
        }
    }
}

/// The `name` field of a `t2:init`/`task:init`: `None` for the session's main object.
pub(crate) fn item_name(info: &Value) -> Value {
    info.get_key("name").cloned().unwrap_or(Value::Nil)
}

// Byte-level writers for the hot replies, so a result is encoded without building a new tree.

const T2_FINI_OK: &[u8] = b"\x92\xa7t2:fini\x81\xa4retn\x92\xc3";
const T2_FINI: &[u8] = b"\x92\xa7t2:fini\x81\xa4retn";
const T2_YIELD_OK: &[u8] = b"\x92\xa8t2:yield\x81\xa4retn\x92\xc3";
const T2_YIELD: &[u8] = b"\x92\xa8t2:yield\x81\xa4retn";
const T2_GENR: &[u8] = b"\x92\xa7t2:genr\x80";
const T2_INIT: &[u8] = b"\x92\xa7t2:init\x83\xa4todo";

/// `["t2:fini", {"retn": [true, value]}]`.
pub(crate) fn write_t2_fini_ok(value: &Value, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(T2_FINI_OK);
    encode_into(value, out)
}

/// `["t2:fini", {"retn": [false, [name, info]]}]`.
pub(crate) fn write_t2_fini_err(err: &RemoteError, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(T2_FINI);
    encode_into(&retn_err(err), out)
}

/// `["t2:genr", {}]`.
pub(crate) fn write_t2_genr(out: &mut Vec<u8>) {
    out.extend_from_slice(T2_GENR);
}

/// `["t2:yield", {"retn": [true, value]}]`, moving large bin payloads out of `value`.
pub(crate) fn write_t2_yield_ok(value: &mut Value, out: &mut Spliced) -> Result<(), CodecError> {
    out.head.extend_from_slice(T2_YIELD_OK);
    encode_taking(value, out)
}

/// `["t2:yield", {"retn": [false, [name, info]]}]`.
pub(crate) fn write_t2_yield_err(err: &RemoteError, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(T2_YIELD);
    encode_into(&retn_err(err), out)
}

/// `["t2:yield", {"retn": null}]`.
pub(crate) fn write_t2_yield_end(out: &mut Vec<u8>) {
    out.extend_from_slice(T2_YIELD);
    out.push(0xc0);
}

/// A message as a client reads it: the two common successes (a call's value, a stream's
/// item) come without building the message around the value.
pub(crate) enum ReplyMesg {
    /// `t2:fini {retn: [true, value]}`.
    FiniOk(Value),
    /// `t2:yield {retn: [true, value]}`.
    YieldOk(Value),
    /// Any other message.
    Other(Value),
}

/// Parse one message received by a client (see [`ReplyMesg`]).
pub(crate) fn parse_reply(frame: crate::codec::Frame<'_>) -> Result<ReplyMesg, CodecError> {
    let frame = match frame {
        crate::codec::Frame::Bytes(frame) | crate::codec::Frame::Call(frame, _) => frame,
        crate::codec::Frame::Decoded(value) => return Ok(ReplyMesg::Other(value)),
    };
    if let Some(rest) = frame.strip_prefix(T2_YIELD_OK) {
        return Ok(ReplyMesg::YieldOk(crate::codec::decode(rest)?));
    }
    if let Some(rest) = frame.strip_prefix(T2_FINI_OK) {
        return Ok(ReplyMesg::FiniOk(crate::codec::decode(rest)?));
    }
    Ok(ReplyMesg::Other(crate::codec::decode(frame)?))
}

/// `["t2:init", {"todo": [meth, args, kwargs], "name": name, "sess": sess}]`. The payloads of
/// large bins are moved out of the arguments into `out` (sent without a copy).
pub(crate) fn write_t2_init(
    meth: &str,
    args: &mut [Value],
    kwargs: &mut [(String, Value)],
    name: Option<&str>,
    sess: &str,
    out: &mut Spliced,
) -> Result<(), CodecError> {
    out.head.extend_from_slice(T2_INIT);
    out.head.push(0x93);
    encode_str(meth, &mut out.head)?;
    // The array and map headers, then the items.
    write_array_header(args.len(), &mut out.head)?;
    for arg in args {
        encode_taking(arg, out)?;
    }
    write_map_header(kwargs.len(), &mut out.head)?;
    for (key, val) in kwargs {
        encode_str(key, &mut out.head)?;
        encode_taking(val, out)?;
    }
    let out = &mut out.head;
    encode_str("name", out)?;
    match name {
        Some(name) => encode_str(name, out)?,
        None => out.push(0xc0),
    }
    encode_str("sess", out)?;
    encode_str(sess, out)
}

fn write_array_header(len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match len {
        0..=15 => out.push(0x90 | len as u8),
        16..=0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            let len = u32::try_from(len).map_err(|_| CodecError::TooLong(len))?;
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

fn write_map_header(len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match len {
        0..=15 => out.push(0x80 | len as u8),
        16..=0xffff => {
            out.push(0xde);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdf);
            let len = u32::try_from(len).map_err(|_| CodecError::TooLong(len))?;
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::error::retn_ok;
    use crate::value::vmap;

    #[test]
    fn byte_writers_match_the_tree_encoding() {
        let value = Value::from("7c0b50eb3eecd034371f31fc8453376e");
        let mut out = Vec::new();
        write_t2_fini_ok(&value, &mut out).unwrap();
        let tree = mesg("t2:fini", vmap([("retn", retn_ok(value.clone()))]));
        assert_eq!(out, encode(&tree).unwrap());

        let mut out = Vec::new();
        write_t2_yield_end(&mut out);
        assert_eq!(hex::encode(&out), "92a874323a7969656c6481a47265746ec0");

        let mut out = Vec::new();
        write_t2_genr(&mut out);
        assert_eq!(hex::encode(&out), "92a774323a67656e7280");

        let mut out = Spliced::default();
        let kwargs = vec![("x".to_owned(), Value::from(2))];
        let big = Value::Binary(vec![7u8; crate::codec::SPLICE_MIN]);
        write_t2_init(
            "noSuchMethod",
            &mut [Value::from(1), big.clone()],
            &mut kwargs.clone(),
            None,
            "ab",
            &mut out,
        )
        .unwrap();
        assert_eq!(out.parts.len(), 1);
        let out = out.to_vec();
        let tree = mesg(
            "t2:init",
            vmap([
                (
                    "todo",
                    Todo {
                        meth: "noSuchMethod".into(),
                        args: vec![Value::from(1), big],
                        kwargs,
                    }
                    .to_value(),
                ),
                ("name", Value::Nil),
                ("sess", Value::from("ab")),
            ]),
        );
        assert_eq!(out, encode(&tree).unwrap());
    }

    #[test]
    fn todo_errors_follow_python() {
        let err = Todo::from_value(Value::Array(vec![Value::from("a")])).unwrap_err();
        assert_eq!(err.name, "ValueError");
        assert_eq!(
            err.mesg(),
            Some("not enough values to unpack (expected 3, got 1)")
        );
        let err = Todo::from_value(Value::from(3)).unwrap_err();
        assert_eq!(err.name, "TypeError");
    }
}
