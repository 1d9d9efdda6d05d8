//! Records: packing them as the reference's packer does, and refusing what a reference client
//! could not read back.

use rmpv::Value;
use synapse_telepath::RawValue;
use synapse_telepath::codec;
use synapse_telepath::raw::{Inspect, Inspected, RawError, inspect};

use crate::error::{Error, Result};

/// How deeply arrays and maps may nest in a record (the limit of the reference's unpacker and
/// of our telepath decoder).
pub const MAX_RECORD_DEPTH: usize = codec::MAX_DEPTH;

/// Checked, packed records: record `i` is `buf[spans[i].0..spans[i].1]`. Records that came in
/// the reference packer's form stay where they arrived (the `puts` argument's own bytes).
#[derive(Debug, Default)]
pub(crate) struct Packed {
    buf: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Packed {
    /// The number of records.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The packed records, in order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|&(start, end)| &self.buf[start..end])
    }

    /// Records `start..end` (by record index): the buffer and their spans in it.
    pub(crate) fn parts(&self, start: usize, end: usize) -> (&[u8], &[(usize, usize)]) {
        let spans = self
            .spans
            .get(start..end.min(self.spans.len()))
            .unwrap_or(&[]);
        (&self.buf, spans)
    }

    /// Records `start..end` (by record index), packed.
    #[cfg(test)]
    pub(crate) fn slice(&self, start: usize, end: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (buf, spans) = self.parts(start, end);
        spans.iter().map(move |&(start, end)| &buf[start..end])
    }

    /// Bytes of records `start..end`.
    pub(crate) fn size(&self, start: usize, end: usize) -> u64 {
        let (_, spans) = self.parts(start, end);
        spans.iter().map(|&(start, end)| (end - start) as u64).sum()
    }
}

/// Check and pack `items`. Nothing is packed if any record is refused; the error names the
/// first bad record.
pub(crate) fn pack_records(items: &[Value], max_size: usize) -> Result<Packed> {
    let mut packed = Packed {
        buf: Vec::with_capacity(items.len() * 64),
        spans: Vec::with_capacity(items.len()),
    };
    for (indx, item) in items.iter().enumerate() {
        let start = packed.buf.len();
        pack_checked(item, 0, &mut packed.buf)
            .map_err(|mesg| Error::NotMsgpackSafe { indx, mesg })?;
        check_size(indx, packed.buf.len() - start, max_size)?;
        packed.spans.push((start, packed.buf.len()));
    }
    Ok(packed)
}

fn check_size(indx: usize, size: usize, max_size: usize) -> Result<()> {
    if size > max_size {
        return Err(Error::NotMsgpackSafe {
            indx,
            mesg: format!("{size} bytes packed is larger than the limit of {max_size}"),
        });
    }
    Ok(())
}

/// The items of a `puts`: decoded values, or the msgpack array as it came off the wire.
#[derive(Debug)]
pub(crate) enum Items {
    /// Decoded records.
    Values(Vec<Value>),
    /// A msgpack array of records.
    Raw(RawValue),
}

impl Items {
    /// The items of a `puts` argument given raw (if the daemon kept it raw) or decoded.
    /// Anything but an array is decoded and handled by [`items_arg`].
    pub(crate) fn from_arg(raw: Option<RawValue>, valu: Value) -> Result<Items> {
        match raw {
            Some(raw) if raw.array_header().is_some() => Ok(Items::Raw(raw)),
            Some(raw) => {
                let valu = raw.decode().map_err(|err| Error::BadArg(err.to_string()))?;
                Ok(Items::Values(items_arg(valu)?))
            }
            None => Ok(Items::Values(items_arg(valu)?)),
        }
    }

    /// Roughly how much work packing them is (records, or bytes / 100).
    pub(crate) fn weight(&self) -> usize {
        match self {
            Items::Values(items) => items.len(),
            Items::Raw(raw) => raw.len() / 100,
        }
    }

    /// Check and pack the records (see [`pack_records`] and [`pack_raw_records`]). Decoded
    /// records come back too, for the caller to free where it costs least.
    pub(crate) fn pack(self, max_size: usize) -> Result<(Packed, Vec<Value>)> {
        match self {
            Items::Values(items) => Ok((pack_records(&items, max_size)?, items)),
            Items::Raw(raw) => Ok((pack_raw_records(raw, max_size)?, Vec::new())),
        }
    }
}

/// Check and pack the records of a msgpack array given as bytes, without decoding them: a
/// record already in the reference packer's form (the usual case: both the reference's
/// client and ours send that) is stored as it came; any other is decoded and packed again.
/// The checks are those of [`pack_records`]. A value that is not an array is refused.
pub(crate) fn pack_raw_records(raw: RawValue, max_size: usize) -> Result<Packed> {
    let Some((count, head)) = raw.array_header() else {
        return Err(Error::BadArg("puts() items must be a list".into()));
    };
    let (bytes, items) = raw.into_parts();
    // The records as the daemon found them reading the call, if it did (long lists).
    let items = items.filter(|items| items.len() == count);
    let mut spans = Vec::with_capacity(count);
    // Records re-packed into the reference's form, and the indexes of their spans (which
    // point into `repacked` until it is appended to `bytes`).
    let mut repacked = Vec::new();
    let mut moved = Vec::new();
    let opts = Inspect {
        python: true,
        max_depth: MAX_RECORD_DEPTH,
    };
    let mut pos = head;
    for indx in 0..count {
        let refused = |err| Error::NotMsgpackSafe {
            indx,
            mesg: match err {
                RawError::NotPythonSafe(mesg) => mesg,
                RawError::Codec(err) => err.to_string(),
            },
        };
        let found = match items.as_ref().and_then(|items| items.get(indx)) {
            Some(item) if item.start == pos && item.python_safe => Inspected {
                end: item.end,
                canonical: item.canonical,
            },
            // not found on the way, or refused: inspect it here (for the reason)
            _ => inspect(&bytes, pos, opts).map_err(refused)?,
        };
        if found.canonical {
            check_size(indx, found.end - pos, max_size)?;
            spans.push((pos, found.end));
        } else {
            let valu =
                codec::decode(&bytes[pos..found.end]).map_err(|err| Error::NotMsgpackSafe {
                    indx,
                    mesg: err.to_string(),
                })?;
            let start = repacked.len();
            pack_checked(&valu, 0, &mut repacked)
                .map_err(|mesg| Error::NotMsgpackSafe { indx, mesg })?;
            check_size(indx, repacked.len() - start, max_size)?;
            moved.push(spans.len());
            spans.push((start, repacked.len()));
        }
        pos = found.end;
    }
    let mut buf = bytes;
    if !moved.is_empty() {
        let base = buf.len();
        buf.extend_from_slice(&repacked);
        for indx in moved {
            let (start, end) = spans[indx];
            spans[indx] = (base + start, base + end);
        }
    }
    Ok(Packed { buf, spans })
}

/// Check `valu` and encode it at the end of `out`, in one walk (the checks cost little next
/// to a second walk of every record). Refuse what the reference's unpacker (`raw=False,
/// use_list=False, unicode_errors='surrogatepass'`) cannot decode: strings that are not UTF-8
/// (lone surrogates are allowed), map keys that Python cannot hash (maps, or arrays holding
/// maps), ext types other than the big-integer ones, and nesting deeper than
/// [`MAX_RECORD_DEPTH`]. On error `out` may hold part of the record.
fn pack_checked(valu: &Value, depth: usize, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    if depth > MAX_RECORD_DEPTH {
        return Err(format!("nested deeper than {MAX_RECORD_DEPTH}"));
    }
    match valu {
        Value::Array(items) => {
            codec::encode_array_header(items.len(), out).map_err(|err| err.to_string())?;
            for item in items {
                pack_checked(item, depth + 1, out)?;
            }
        }
        Value::Map(items) => {
            codec::encode_map_header(items.len(), out).map_err(|err| err.to_string())?;
            for (key, item) in items {
                if !hashable(key) {
                    return Err("a map key is a map (not hashable)".into());
                }
                pack_checked(key, depth + 1, out)?;
                pack_checked(item, depth + 1, out)?;
            }
        }
        Value::String(text)
            if text.as_str().is_none()
                && !synapse_telepath::raw::is_surrogatepass_utf8(text.as_bytes()) =>
        {
            return Err("a string is not valid UTF-8".into());
        }
        Value::Ext(code, _) if *code != 0 && *code != 1 => {
            return Err(format!("ext type {code} is not supported"));
        }
        scalar => codec::encode_into(scalar, out).map_err(|err| err.to_string())?,
    }
    Ok(())
}

/// True if Python could use the decoded value as a dict key (arrays decode as tuples).
fn hashable(valu: &Value) -> bool {
    match valu {
        Value::Map(_) => false,
        Value::Array(items) => items.iter().all(hashable),
        _ => true,
    }
}

/// The items of a `puts` argument. The reference slices its argument in chunks, so a string
/// stores its characters and bytes store their values; anything else that is not a list is
/// refused (the reference fails with a Python `TypeError`).
pub(crate) fn items_arg(valu: Value) -> Result<Vec<Value>> {
    match valu {
        Value::Array(items) => Ok(items),
        Value::String(text) => match text.into_str() {
            Some(text) => Ok(text.chars().map(|c| Value::from(c.to_string())).collect()),
            None => Err(Error::BadArg(
                "puts() items must be a list, not an invalid string".into(),
            )),
        },
        Value::Binary(byts) => Ok(byts.into_iter().map(Value::from).collect()),
        other => Err(Error::BadArg(format!(
            "puts() items must be a list, not {}",
            type_name(&other)
        ))),
    }
}

/// The Python type name of a decoded value, for messages.
pub(crate) fn type_name(valu: &Value) -> &'static str {
    match valu {
        Value::Nil => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Integer(_) | Value::Ext(0 | 1, _) => "int",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "str",
        Value::Binary(_) => "bytes",
        Value::Array(_) => "tuple",
        Value::Map(_) => "dict",
        Value::Ext(..) => "ExtType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn invalid_str(bytes: &[u8]) -> Value {
        // Build a str value holding these bytes the only way rmpv allows: decoding.
        let mut buf = vec![0xd9, bytes.len() as u8];
        buf.extend_from_slice(bytes);
        rmpv::decode::read_value(&mut buf.as_slice()).unwrap()
    }

    #[test]
    fn packs_like_the_reference() {
        let items = vec![
            Value::from(1),
            Value::from(-1),
            Value::F32(1.5),
            Value::from("str"),
            Value::Binary(b"byts".to_vec()),
            Value::Nil,
        ];
        let packed = pack_records(&items, 1 << 20).unwrap();
        let rows: Vec<&[u8]> = packed.iter().collect();
        assert_eq!(
            rows,
            vec![
                &b"\x01"[..],
                b"\xff",
                b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
                b"\xa3str",
                b"\xc4\x04byts",
                b"\xc0"
            ]
        );
        assert_eq!(packed.slice(1, 3).count(), 2);
        assert_eq!(packed.len(), 6);
    }

    #[test]
    fn refuses_what_python_cannot_read() {
        let bad = [
            Value::Map(vec![(Value::Map(vec![]), Value::from(1))]),
            Value::Map(vec![(
                Value::Array(vec![Value::Map(vec![])]),
                Value::from(1),
            )]),
            Value::Ext(5, vec![1]),
            Value::Array(vec![invalid_str(b"\xff\xfe")]),
        ];
        for (i, item) in bad.iter().enumerate() {
            let items = vec![Value::from(0), item.clone()];
            match pack_records(&items, 1 << 20) {
                Err(Error::NotMsgpackSafe { indx: 1, .. }) => {}
                other => panic!("case {i}: {other:?}"),
            }
        }
        // Lone surrogates pass, as with surrogatepass.
        let ok = vec![invalid_str(b"a\xed\xa0\x80b")];
        assert_eq!(pack_records(&ok, 1 << 20).unwrap().len(), 1);
        // Tuple keys are fine.
        let ok = vec![Value::Map(vec![(
            Value::Array(vec![Value::from(1)]),
            Value::from(1),
        )])];
        assert_eq!(pack_records(&ok, 1 << 20).unwrap().len(), 1);
    }

    #[test]
    fn deep_and_large_records_are_refused() {
        let mut deep = Value::Nil;
        for _ in 0..(MAX_RECORD_DEPTH + 2) {
            deep = Value::Array(vec![deep]);
        }
        assert!(matches!(
            pack_records(&[deep], 1 << 20),
            Err(Error::NotMsgpackSafe { indx: 0, .. })
        ));
        let big = Value::Binary(vec![0; 100]);
        assert!(matches!(
            pack_records(&[Value::Nil, big], 50),
            Err(Error::NotMsgpackSafe { indx: 1, .. })
        ));
    }

    #[test]
    fn puts_arguments() {
        assert_eq!(
            items_arg(Value::from("ab")).unwrap(),
            vec![Value::from("a"), Value::from("b")]
        );
        assert_eq!(
            items_arg(Value::Binary(vec![97, 98])).unwrap(),
            vec![Value::from(97), Value::from(98)]
        );
        assert!(items_arg(Value::from("")).unwrap().is_empty());
        for bad in [
            Value::from(5),
            Value::Nil,
            Value::Map(vec![]),
            Value::Boolean(true),
        ] {
            let err = items_arg(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("puts() items must be a list"),
                "{err}"
            );
        }
    }

    fn raw(items: &[Value]) -> RawValue {
        RawValue::from_value(&Value::Array(items.to_vec())).unwrap()
    }

    #[test]
    fn raw_records_are_stored_as_they_came() {
        let items = vec![
            Value::from(1),
            Value::Map(vec![(Value::from("k"), Value::from("v"))]),
            Value::Binary(vec![1, 2]),
        ];
        let packed = pack_raw_records(raw(&items), 1 << 20).unwrap();
        let want = pack_records(&items, 1 << 20).unwrap();
        assert_eq!(
            packed.iter().collect::<Vec<_>>(),
            want.iter().collect::<Vec<_>>()
        );

        // Forms the reference's packer would not make are packed again: [1 as uint16,
        // float32 1.5, an ext int that fits 64 bits, a str8 of one byte].
        let bytes = b"\x94\xcd\x00\x01\xca\x3f\xc0\x00\x00\xd4\x00\x07\xd9\x01a".to_vec();
        let packed = pack_raw_records(RawValue::new(bytes).unwrap(), 1 << 20).unwrap();
        let rows: Vec<&[u8]> = packed.iter().collect();
        assert_eq!(
            rows,
            vec![
                &b"\x01"[..],
                b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
                b"\x07",
                b"\xa1a"
            ]
        );

        // Mixed: canonical records stay in place, the others are re-packed, order kept.
        let bytes = b"\x94\x05\xcd\x00\x02\xa1b\xd9\x01c".to_vec();
        let packed = pack_raw_records(RawValue::new(bytes).unwrap(), 1 << 20).unwrap();
        let rows: Vec<&[u8]> = packed.slice(0, 4).collect();
        assert_eq!(rows, vec![&b"\x05"[..], b"\x02", b"\xa1b", b"\xa1c"]);
        assert_eq!(
            packed.slice(1, 3).collect::<Vec<_>>(),
            vec![&b"\x02"[..], b"\xa1b"]
        );
        assert_eq!(packed.slice(3, 9).count(), 1);
    }

    #[test]
    fn raw_records_refused_like_decoded_ones() {
        // [0, {{}: 1}], [0, "\xff\xfe"], [0, {({},): 1}]
        for bytes in [
            &b"\x92\x00\x81\x80\x01"[..],
            b"\x92\x00\xa2\xff\xfe",
            b"\x92\x00\x81\x91\x80\x01",
        ] {
            let raw = RawValue::new(bytes.to_vec()).unwrap();
            match pack_raw_records(raw, 1 << 20) {
                Err(Error::NotMsgpackSafe { indx: 1, .. }) => {}
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        let big = raw(&[Value::Nil, Value::Binary(vec![0; 100])]);
        assert!(matches!(
            pack_raw_records(big, 50),
            Err(Error::NotMsgpackSafe { indx: 1, .. })
        ));
        assert!(matches!(
            pack_raw_records(RawValue::from_value(&Value::from(5)).unwrap(), 50),
            Err(Error::BadArg(_))
        ));
    }

    #[test]
    fn raw_items_arguments() {
        // A raw str or bytes argument is decoded and handled as the reference does.
        let items = Items::from_arg(
            Some(RawValue::from_value(&Value::from("ab")).unwrap()),
            Value::Nil,
        )
        .unwrap();
        assert!(matches!(items, Items::Values(ref v) if v.len() == 2));
        let items = Items::from_arg(Some(raw(&[Value::Nil])), Value::Nil).unwrap();
        assert!(matches!(items, Items::Raw(_)));
        assert_eq!(items.pack(100).unwrap().0.len(), 1);
        assert!(
            Items::from_arg(
                Some(RawValue::from_value(&Value::from(5)).unwrap()),
                Value::Nil
            )
            .is_err()
        );
        assert!(Items::from_arg(None, Value::from(5)).is_err());
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::F64),
            ".{0,8}".prop_map(Value::from),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Binary),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((".{0,4}".prop_map(Value::from), inner), 0..4)
                    .prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn packed_records_decode_to_themselves(items in prop::collection::vec(value_strategy(), 0..8)) {
            let packed = pack_records(&items, 1 << 20).unwrap();
            prop_assert_eq!(packed.len(), items.len());
            for (byts, item) in packed.iter().zip(&items) {
                let back = codec::decode(byts).unwrap();
                // NaN != NaN: compare the packed forms instead.
                prop_assert_eq!(codec::encode(&back).unwrap(), codec::encode(item).unwrap());
            }
        }

        #[test]
        fn raw_and_decoded_records_pack_the_same(items in prop::collection::vec(value_strategy(), 0..8)) {
            let packed = pack_records(&items, 1 << 20).unwrap();
            let from_raw = pack_raw_records(raw(&items), 1 << 20).unwrap();
            prop_assert_eq!(packed.iter().collect::<Vec<_>>(), from_raw.iter().collect::<Vec<_>>());
        }
    }
}
