//! Node edits: the unit of change of a layer, in the reference's nodeedit format.
//!
//! A nodeedit is `(buid, form, edits)`; each edit is `(code, info, nested)` where `nested` is a
//! list of nodeedits applied only when the edit changed something (always empty in practice).
//! [`NodeEdit::to_value`] and [`NodeEdit::from_value`] convert to and from the wire shape: in
//! layer logs and `syncLayerNodeEdits` the buid is 32 raw bytes, in Storm `node:edits`
//! messages it is the 64 hex char iden ([`BuidForm::Iden`]).
//!
//! | code | edit | info |
//! |---|---|---|
//! | 0 | [`EditOp::NodeAdd`] | `(valu, stortype)` |
//! | 1 | [`EditOp::NodeDel`] | `(oldvalu, stortype)` |
//! | 2 | [`EditOp::PropSet`] | `(prop, valu, oldvalu, stortype)` |
//! | 3 | [`EditOp::PropDel`] | `(prop, oldvalu, stortype)` |
//! | 4 | [`EditOp::TagSet`] | `(tag, ival, oldival)` |
//! | 5 | [`EditOp::TagDel`] | `(tag, oldival)` |
//! | 6 | [`EditOp::TagPropSet`] | `(tag, prop, valu, oldvalu, stortype)` |
//! | 7 | [`EditOp::TagPropDel`] | `(tag, prop, oldvalu, stortype)` |
//! | 8 | [`EditOp::NodeDataSet`] | `(name, valu, oldvalu)` |
//! | 9 | [`EditOp::NodeDataDel`] | `(name, oldvalu)` |
//! | 10 | [`EditOp::EdgeAdd`] | `(verb, n2iden)` |
//! | 11 | [`EditOp::EdgeDel`] | `(verb, n2iden)` |
//!
//! "Old" values are `None` ([`Value::Nil`]) in requested edits; the layer fills them in the
//! edits it reports as applied.

use rmpv::Value;
use sha2::{Digest, Sha256};

/// A node id: sha256 of the msgpack of `(form, norm)`.
pub type Buid = [u8; 32];

/// A hasher for maps keyed by buids: buids are sha256 digests, so their first 8 bytes are
/// already uniformly distributed.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuidHasher(u64);

impl std::hash::Hasher for BuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(buf);
        }
    }
}

/// A fast non-cryptographic hasher (the "Fx" multiply-rotate scheme) for maps with keys
/// that are not attacker controlled: abbreviations, counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

/// A `HashMap` keyed by buids.
pub type BuidMap<V> = std::collections::HashMap<Buid, V, std::hash::BuildHasherDefault<BuidHasher>>;

/// A tag value: `(min, max)` epoch millis, both `None` for a tag without a time interval.
pub type TagIval = (Option<i64>, Option<i64>);

/// Storage type codes (the reference's `STOR_TYPE_*`).
pub mod stortype {
    /// UTF-8 strings.
    pub const UTF8: i64 = 1;
    /// Unsigned 8 bit ints (and bools).
    pub const U8: i64 = 2;
    /// Unsigned 16 bit ints.
    pub const U16: i64 = 3;
    /// Unsigned 32 bit ints.
    pub const U32: i64 = 4;
    /// Unsigned 64 bit ints.
    pub const U64: i64 = 5;
    /// Signed 8 bit ints.
    pub const I8: i64 = 6;
    /// Signed 16 bit ints.
    pub const I16: i64 = 7;
    /// Signed 32 bit ints.
    pub const I32: i64 = 8;
    /// Signed 64 bit ints.
    pub const I64: i64 = 9;
    /// Guids (32 hex chars).
    pub const GUID: i64 = 10;
    /// Times (epoch millis).
    pub const TIME: i64 = 11;
    /// Intervals.
    pub const IVAL: i64 = 12;
    /// Any msgpack value (indexed by hash).
    pub const MSGP: i64 = 13;
    /// Latitude/longitude pairs.
    pub const LATLONG: i64 = 14;
    /// Dotted locations.
    pub const LOC: i64 = 15;
    /// Tags.
    pub const TAG: i64 = 16;
    /// Domain names (indexed reversed).
    pub const FQDN: i64 = 17;
    /// IPv6 addresses.
    pub const IPV6: i64 = 18;
    /// Unsigned 128 bit ints.
    pub const U128: i64 = 19;
    /// Signed 128 bit ints.
    pub const I128: i64 = 20;
    /// Times that keep the smallest value (`.created`).
    pub const MINTIME: i64 = 21;
    /// 64 bit floats.
    pub const FLOAT64: i64 = 22;
    /// Huge decimal numbers (as strings).
    pub const HUGENUM: i64 = 23;
    /// Times that keep the largest value.
    pub const MAXTIME: i64 = 24;
    /// Node definitions `(form, valu)`.
    pub const NDEF: i64 = 25;
    /// Flag for arrays of the flagged element type.
    pub const ARRAY_FLAG: i64 = 0x8000;
}

/// Edit codes.
pub mod code {
    /// Add a node.
    pub const NODE_ADD: i64 = 0;
    /// Delete a node.
    pub const NODE_DEL: i64 = 1;
    /// Set a property.
    pub const PROP_SET: i64 = 2;
    /// Delete a property.
    pub const PROP_DEL: i64 = 3;
    /// Set a tag.
    pub const TAG_SET: i64 = 4;
    /// Delete a tag.
    pub const TAG_DEL: i64 = 5;
    /// Set a tag property.
    pub const TAGPROP_SET: i64 = 6;
    /// Delete a tag property.
    pub const TAGPROP_DEL: i64 = 7;
    /// Set node data.
    pub const NODEDATA_SET: i64 = 8;
    /// Delete node data.
    pub const NODEDATA_DEL: i64 = 9;
    /// Add a light edge.
    pub const EDGE_ADD: i64 = 10;
    /// Delete a light edge.
    pub const EDGE_DEL: i64 = 11;
}

/// One change to one node.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOp {
    /// Create the node with its primary value.
    NodeAdd {
        /// The normalized primary value.
        valu: Value,
        /// Its storage type.
        stortype: i64,
    },
    /// Delete the node (its primary value, node data and outgoing edges in the layer).
    NodeDel {
        /// The primary value.
        valu: Value,
        /// Its storage type.
        stortype: i64,
    },
    /// Set a secondary or universal property (relative name: `asn`, `.seen`).
    PropSet {
        /// Relative property name.
        prop: String,
        /// New value.
        valu: Value,
        /// Previous value (`Nil` if none / unknown).
        oldv: Value,
        /// Storage type.
        stortype: i64,
    },
    /// Delete a property.
    PropDel {
        /// Relative property name.
        prop: String,
        /// Previous value (`Nil` when requesting).
        oldv: Value,
        /// Storage type.
        stortype: i64,
    },
    /// Set a tag (and its interval, widened with any existing one).
    TagSet {
        /// Tag name.
        tag: String,
        /// Interval or `(None, None)`.
        valu: TagIval,
        /// Previous value, if any.
        oldv: Option<TagIval>,
    },
    /// Delete a tag (only this tag; callers add the children).
    TagDel {
        /// Tag name.
        tag: String,
        /// Previous value, if known.
        oldv: Option<TagIval>,
    },
    /// Set a tag property.
    TagPropSet {
        /// Tag name.
        tag: String,
        /// Tag property name.
        prop: String,
        /// New value.
        valu: Value,
        /// Previous value (`Nil` if none).
        oldv: Value,
        /// Storage type.
        stortype: i64,
    },
    /// Delete a tag property.
    TagPropDel {
        /// Tag name.
        tag: String,
        /// Tag property name.
        prop: String,
        /// Previous value (`Nil` when requesting).
        oldv: Value,
        /// Storage type.
        stortype: i64,
    },
    /// Set node data.
    NodeDataSet {
        /// Data name.
        name: String,
        /// Value.
        valu: Value,
        /// Previous value (`Nil` if none).
        oldv: Value,
    },
    /// Delete node data.
    NodeDataDel {
        /// Data name.
        name: String,
        /// Previous value (`Nil` when requesting).
        oldv: Value,
    },
    /// Add a light edge from this node to `n2`.
    EdgeAdd {
        /// The verb.
        verb: String,
        /// The destination node.
        n2: Buid,
    },
    /// Delete a light edge.
    EdgeDel {
        /// The verb.
        verb: String,
        /// The destination node.
        n2: Buid,
    },
}

impl EditOp {
    /// The edit's code (`0..=11`).
    pub fn code(&self) -> i64 {
        match self {
            EditOp::NodeAdd { .. } => code::NODE_ADD,
            EditOp::NodeDel { .. } => code::NODE_DEL,
            EditOp::PropSet { .. } => code::PROP_SET,
            EditOp::PropDel { .. } => code::PROP_DEL,
            EditOp::TagSet { .. } => code::TAG_SET,
            EditOp::TagDel { .. } => code::TAG_DEL,
            EditOp::TagPropSet { .. } => code::TAGPROP_SET,
            EditOp::TagPropDel { .. } => code::TAGPROP_DEL,
            EditOp::NodeDataSet { .. } => code::NODEDATA_SET,
            EditOp::NodeDataDel { .. } => code::NODEDATA_DEL,
            EditOp::EdgeAdd { .. } => code::EDGE_ADD,
            EditOp::EdgeDel { .. } => code::EDGE_DEL,
        }
    }

    /// The info tuple as on the wire.
    pub fn info_value(&self) -> Value {
        let s = |text: &str| Value::from(text);
        let st = |stortype: &i64| Value::from(*stortype);
        let items = match self {
            EditOp::NodeAdd { valu, stortype } | EditOp::NodeDel { valu, stortype } => {
                vec![valu.clone(), st(stortype)]
            }
            EditOp::PropSet {
                prop,
                valu,
                oldv,
                stortype,
            } => vec![s(prop), valu.clone(), oldv.clone(), st(stortype)],
            EditOp::PropDel {
                prop,
                oldv,
                stortype,
            } => vec![s(prop), oldv.clone(), st(stortype)],
            EditOp::TagSet { tag, valu, oldv } => {
                vec![
                    s(tag),
                    ival_value(*valu),
                    oldv.map_or(Value::Nil, ival_value),
                ]
            }
            EditOp::TagDel { tag, oldv } => vec![s(tag), oldv.map_or(Value::Nil, ival_value)],
            EditOp::TagPropSet {
                tag,
                prop,
                valu,
                oldv,
                stortype,
            } => vec![s(tag), s(prop), valu.clone(), oldv.clone(), st(stortype)],
            EditOp::TagPropDel {
                tag,
                prop,
                oldv,
                stortype,
            } => vec![s(tag), s(prop), oldv.clone(), st(stortype)],
            EditOp::NodeDataSet { name, valu, oldv } => {
                vec![s(name), valu.clone(), oldv.clone()]
            }
            EditOp::NodeDataDel { name, oldv } => vec![s(name), oldv.clone()],
            EditOp::EdgeAdd { verb, n2 } | EditOp::EdgeDel { verb, n2 } => {
                vec![s(verb), Value::from(hex::encode(n2))]
            }
        };
        Value::Array(items)
    }

    /// Parse an edit from its code and info tuple.
    pub fn from_parts(code: i64, info: &Value) -> Result<EditOp, EditFormatError> {
        let items = as_array(info, "edit info")?;
        let get = |idx: usize| {
            items
                .get(idx)
                .ok_or_else(|| EditFormatError::new(format!("edit {code} info is too short")))
        };
        let text = |idx: usize| -> Result<String, EditFormatError> {
            get(idx)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| EditFormatError::new(format!("edit {code} expects a string")))
        };
        let int = |idx: usize| -> Result<i64, EditFormatError> {
            get(idx)?
                .as_i64()
                .ok_or_else(|| EditFormatError::new(format!("edit {code} expects a stortype")))
        };
        let val = |idx: usize| -> Result<Value, EditFormatError> { Ok(get(idx)?.clone()) };
        let opt = |idx: usize| -> Value { items.get(idx).cloned().unwrap_or(Value::Nil) };
        Ok(match code {
            code::NODE_ADD => EditOp::NodeAdd {
                valu: val(0)?,
                stortype: int(1)?,
            },
            code::NODE_DEL => EditOp::NodeDel {
                valu: val(0)?,
                stortype: int(1)?,
            },
            code::PROP_SET => EditOp::PropSet {
                prop: text(0)?,
                valu: val(1)?,
                oldv: opt(2),
                stortype: int(3)?,
            },
            code::PROP_DEL => EditOp::PropDel {
                prop: text(0)?,
                oldv: opt(1),
                stortype: int(2)?,
            },
            code::TAG_SET => EditOp::TagSet {
                tag: text(0)?,
                valu: parse_ival(get(1)?)?,
                oldv: parse_opt_ival(&opt(2))?,
            },
            code::TAG_DEL => EditOp::TagDel {
                tag: text(0)?,
                oldv: parse_opt_ival(&opt(1))?,
            },
            code::TAGPROP_SET => EditOp::TagPropSet {
                tag: text(0)?,
                prop: text(1)?,
                valu: val(2)?,
                oldv: opt(3),
                stortype: int(4)?,
            },
            code::TAGPROP_DEL => EditOp::TagPropDel {
                tag: text(0)?,
                prop: text(1)?,
                oldv: opt(2),
                stortype: int(3)?,
            },
            code::NODEDATA_SET => EditOp::NodeDataSet {
                name: text(0)?,
                valu: val(1)?,
                oldv: opt(2),
            },
            code::NODEDATA_DEL => EditOp::NodeDataDel {
                name: text(0)?,
                oldv: opt(1),
            },
            code::EDGE_ADD => EditOp::EdgeAdd {
                verb: text(0)?,
                n2: parse_buid(get(1)?)?,
            },
            code::EDGE_DEL => EditOp::EdgeDel {
                verb: text(0)?,
                n2: parse_buid(get(1)?)?,
            },
            other => return Err(EditFormatError::new(format!("unknown edit type {other}"))),
        })
    }
}

/// One edit with its nested nodeedits.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The change.
    pub op: EditOp,
    /// Nodeedits applied only if this edit changed the layer.
    pub nested: Vec<NodeEdit>,
}

impl From<EditOp> for Edit {
    fn from(op: EditOp) -> Self {
        Edit {
            op,
            nested: Vec::new(),
        }
    }
}

/// How a buid is written in the wire form of a nodeedit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuidForm {
    /// 32 raw bytes (layer logs, `syncLayerNodeEdits`, `saveLayerNodeEdits`).
    Bytes,
    /// 64 lowercase hex chars (Storm `node:edits` messages).
    Iden,
}

/// The edits of one node: `(buid, form, edits)`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEdit {
    /// The node.
    pub buid: Buid,
    /// The node's form (empty when unknown).
    pub form: String,
    /// The edits, in order.
    pub edits: Vec<Edit>,
}

impl NodeEdit {
    /// A nodeedit from edits without nested edits.
    pub fn new(buid: Buid, form: impl Into<String>, ops: Vec<EditOp>) -> Self {
        NodeEdit {
            buid,
            form: form.into(),
            edits: ops.into_iter().map(Edit::from).collect(),
        }
    }

    /// The wire value `[buid, form, [[code, info, nested], ...]]`.
    pub fn to_value(&self, buids: BuidForm) -> Value {
        let buid = match buids {
            BuidForm::Bytes => Value::Binary(self.buid.to_vec()),
            BuidForm::Iden => Value::from(hex::encode(self.buid)),
        };
        let form = if self.form.is_empty() {
            Value::Nil
        } else {
            Value::from(self.form.as_str())
        };
        let edits = self
            .edits
            .iter()
            .map(|edit| {
                Value::Array(vec![
                    Value::from(edit.op.code()),
                    edit.op.info_value(),
                    Value::Array(edit.nested.iter().map(|ne| ne.to_value(buids)).collect()),
                ])
            })
            .collect();
        Value::Array(vec![buid, form, Value::Array(edits)])
    }

    /// Parse the wire form (buid as bytes or hex).
    pub fn from_value(valu: &Value) -> Result<NodeEdit, EditFormatError> {
        let items = as_array(valu, "nodeedit")?;
        let [buid, form, edits] = items else {
            return Err(EditFormatError::new("a nodeedit has three items"));
        };
        let buid = parse_buid(buid)?;
        let form = match form {
            Value::Nil => String::new(),
            Value::String(text) => text
                .as_str()
                .ok_or_else(|| EditFormatError::new("form is not utf-8"))?
                .to_owned(),
            _ => return Err(EditFormatError::new("form must be a string")),
        };
        let mut out = Vec::new();
        for edit in as_array(edits, "edits")? {
            let parts = as_array(edit, "edit")?;
            let code = parts
                .first()
                .and_then(Value::as_i64)
                .ok_or_else(|| EditFormatError::new("edit code must be an int"))?;
            let info = parts
                .get(1)
                .ok_or_else(|| EditFormatError::new("edit has no info"))?;
            let op = EditOp::from_parts(code, info)?;
            let nested = match parts.get(2) {
                None | Some(Value::Nil) => Vec::new(),
                Some(nested) => as_array(nested, "nested edits")?
                    .iter()
                    .map(NodeEdit::from_value)
                    .collect::<Result<_, _>>()?,
            };
            out.push(Edit { op, nested });
        }
        Ok(NodeEdit {
            buid,
            form,
            edits: out,
        })
    }

    /// Parse a list of nodeedits.
    pub fn list_from_value(valu: &Value) -> Result<Vec<NodeEdit>, EditFormatError> {
        as_array(valu, "nodeedits")?
            .iter()
            .map(NodeEdit::from_value)
            .collect()
    }

    /// The wire value of a list of nodeedits.
    pub fn list_to_value(edits: &[NodeEdit], buids: BuidForm) -> Value {
        Value::Array(edits.iter().map(|ne| ne.to_value(buids)).collect())
    }

    /// The number of individual edits, nested ones included (`node:edits:count`).
    pub fn count(edits: &[NodeEdit]) -> usize {
        edits
            .iter()
            .map(|ne| {
                ne.edits
                    .iter()
                    .map(|e| 1 + NodeEdit::count(&e.nested))
                    .sum::<usize>()
            })
            .sum()
    }
}

/// A malformed nodeedit (the reference raises `BadArg`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad nodeedit: {mesg}")]
pub struct EditFormatError {
    /// What is wrong.
    pub mesg: String,
}

impl EditFormatError {
    fn new(mesg: impl Into<String>) -> Self {
        EditFormatError { mesg: mesg.into() }
    }
}

/// Metadata stored with each logged batch of edits: `{"time": ms, "user": iden, ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EditMeta {
    /// Edit time (epoch millis); `.created` of added nodes.
    pub time: i64,
    /// The iden of the user making the edits.
    pub user: String,
    /// Other keys, kept as given.
    pub extra: Vec<(String, Value)>,
}

impl EditMeta {
    /// Meta for `user` at the current time.
    pub fn now(user: impl Into<String>) -> Self {
        EditMeta {
            time: synapse_base::now_ms(),
            user: user.into(),
            extra: Vec::new(),
        }
    }

    /// The wire map.
    pub fn to_value(&self) -> Value {
        let mut map = vec![
            (Value::from("time"), Value::from(self.time)),
            (Value::from("user"), Value::from(self.user.as_str())),
        ];
        for (key, valu) in &self.extra {
            map.push((Value::from(key.as_str()), valu.clone()));
        }
        Value::Map(map)
    }

    /// Parse a wire map (missing time means now, missing user means empty).
    pub fn from_value(valu: &Value) -> EditMeta {
        let mut meta = EditMeta {
            time: synapse_base::now_ms(),
            user: String::new(),
            extra: Vec::new(),
        };
        if let Value::Map(items) = valu {
            for (key, item) in items {
                match key.as_str() {
                    Some("time") => {
                        if let Some(time) = item.as_i64() {
                            meta.time = time;
                        }
                    }
                    Some("user") => meta.user = item.as_str().unwrap_or_default().to_owned(),
                    Some(other) => meta.extra.push((other.to_owned(), item.clone())),
                    None => {}
                }
            }
        }
        meta
    }
}

/// The buid of a node: sha256 of the msgpack of `[form, norm]`.
pub fn buid(form: &str, norm: &Value) -> Buid {
    let ndef = Value::Array(vec![Value::from(form), norm.clone()]);
    Sha256::digest(packb(&ndef)).into()
}

/// The msgpack bytes of a value, byte-identical to the reference's packer for normalized
/// values (smallest int encodings, str8 strings, float64 floats).
pub fn packb(valu: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, valu);
    out
}

/// Parse msgpack bytes.
pub fn unpackb(byts: &[u8]) -> Option<Value> {
    let mut cursor = byts;
    let valu = rmpv::decode::read_value(&mut cursor).ok()?;
    cursor.is_empty().then_some(valu)
}

/// The wire form of a tag value.
pub fn ival_value(ival: TagIval) -> Value {
    let one = |v: Option<i64>| v.map_or(Value::Nil, Value::from);
    Value::Array(vec![one(ival.0), one(ival.1)])
}

/// Parse a tag value `[min, max]` / `[null, null]`.
pub fn parse_ival(valu: &Value) -> Result<TagIval, EditFormatError> {
    let items = as_array(valu, "tag value")?;
    let one = |v: Option<&Value>| -> Result<Option<i64>, EditFormatError> {
        match v {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| EditFormatError::new("tag interval values must be ints")),
        }
    };
    Ok((one(items.first())?, one(items.get(1))?))
}

fn parse_opt_ival(valu: &Value) -> Result<Option<TagIval>, EditFormatError> {
    match valu {
        Value::Nil => Ok(None),
        other => parse_ival(other).map(Some),
    }
}

/// Parse a buid given as 32 bytes or 64 hex chars.
pub fn parse_buid(valu: &Value) -> Result<Buid, EditFormatError> {
    let bad = || EditFormatError::new("a buid is 32 bytes or 64 hex chars");
    match valu {
        Value::Binary(byts) => byts.as_slice().try_into().map_err(|_| bad()),
        Value::String(text) => {
            let text = text.as_str().ok_or_else(bad)?;
            let mut out = [0u8; 32];
            hex::decode_to_slice(text, &mut out).map_err(|_| bad())?;
            Ok(out)
        }
        _ => Err(bad()),
    }
}

fn as_array<'v>(valu: &'v Value, what: &str) -> Result<&'v [Value], EditFormatError> {
    match valu {
        Value::Array(items) => Ok(items),
        _ => Err(EditFormatError::new(format!("{what} must be a list"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iden(form: &str, norm: Value) -> String {
        hex::encode(buid(form, &norm))
    }

    #[test]
    fn buids_match_the_reference_vectors() {
        assert_eq!(
            packb(&Value::Array(vec![
                Value::from("inet:ipv4"),
                Value::from(16909060)
            ])),
            hex::decode("92a9696e65743a69707634ce01020304").unwrap()
        );
        assert_eq!(
            iden("inet:ipv4", Value::from(16909060)),
            "20153b758f9d5eaaa38e4f4a65c36da797c3e59e549620fa7c4895e1a920991f"
        );
        assert_eq!(
            iden("inet:fqdn", Value::from("vertex.link")),
            "3ecd51e142a5acfcde42c02ff5c68378bfaf1eaf49fe9721550b6e7d6013b699"
        );
        assert_eq!(
            iden("syn:tag", Value::from("foo.bar")),
            "9f9ee37668ed62ca04e548d98bd38117c5b7852b2c9fc6c71446e494a5f65a3e"
        );
        assert_eq!(
            iden(
                "inet:dns:a",
                Value::Array(vec![Value::from("vertex.link"), Value::from(16909060)])
            ),
            "02488bc284ffd0f60f474d5af66a8c0cf89789f766b51fde1d3da9b227005f47"
        );
    }

    #[test]
    fn nodeedits_round_trip() {
        let ne = NodeEdit::new(
            [7u8; 32],
            "inet:ipv4",
            vec![
                EditOp::NodeAdd {
                    valu: Value::from(1),
                    stortype: stortype::U32,
                },
                EditOp::PropSet {
                    prop: ".created".into(),
                    valu: Value::from(5),
                    oldv: Value::Nil,
                    stortype: stortype::MINTIME,
                },
                EditOp::TagSet {
                    tag: "foo".into(),
                    valu: (None, None),
                    oldv: Some((Some(1), Some(2))),
                },
                EditOp::EdgeAdd {
                    verb: "refs".into(),
                    n2: [9u8; 32],
                },
            ],
        );
        for form in [BuidForm::Bytes, BuidForm::Iden] {
            let valu = ne.to_value(form);
            assert_eq!(NodeEdit::from_value(&valu).unwrap(), ne);
        }
        let valu = ne.to_value(BuidForm::Iden);
        let edits = valu[2].as_array().unwrap();
        assert_eq!(
            edits[2][1],
            Value::Array(vec![
                Value::from("foo"),
                Value::Array(vec![Value::Nil, Value::Nil]),
                Value::Array(vec![Value::from(1), Value::from(2)]),
            ])
        );
        assert_eq!(edits[3][1][1], Value::from(hex::encode([9u8; 32])));
        assert_eq!(NodeEdit::count(&[ne]), 4);
    }

    #[test]
    fn malformed_nodeedits_are_errors() {
        assert!(NodeEdit::from_value(&Value::from(1)).is_err());
        let bad = Value::Array(vec![
            Value::Binary(vec![1, 2]),
            Value::from("x"),
            Value::Array(vec![]),
        ]);
        assert!(NodeEdit::from_value(&bad).is_err());
        let bad = Value::Array(vec![
            Value::Binary(vec![0; 32]),
            Value::from("x"),
            Value::Array(vec![Value::Array(vec![
                Value::from(99),
                Value::Array(vec![]),
            ])]),
        ]);
        assert!(NodeEdit::from_value(&bad).is_err());
    }
}
