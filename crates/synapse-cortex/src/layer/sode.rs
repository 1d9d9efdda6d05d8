//! Storage nodes ("sodes"): what one layer knows about one node, and their binary encoding.

use rmpv::Value;

use crate::layer::Error;
use crate::layer::abrv::{AbrvReader, BatchAbrvs, Kind};
use crate::nodeedit::{TagIval, ival_value};

fn write_value(out: &mut Vec<u8>, valu: &Value) {
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(out, valu);
}

/// Stored values by name: `(name, value, storage type)`.
pub type StorProps = Vec<(String, Value, i64)>;

/// What one layer stores about a node. A sode may be partial: a fork layer may hold only the
/// tags added there. The node exists in the layer when `valu` is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sode {
    /// The node's form (known even without `valu`).
    pub form: Option<String>,
    /// The primary value and its storage type.
    pub valu: Option<(Value, i64)>,
    /// Properties (relative names) with values and storage types, in the order set.
    pub props: StorProps,
    /// Tags and their intervals, in the order set.
    pub tags: Vec<(String, TagIval)>,
    /// Tag properties: tag → [(prop, value, storage type)].
    pub tagprops: Vec<(String, StorProps)>,
}

impl Sode {
    /// A property's value and storage type.
    pub fn prop(&self, name: &str) -> Option<(&Value, i64)> {
        self.props
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, t)| (v, *t))
    }

    /// A tag's interval.
    pub fn tag(&self, name: &str) -> Option<TagIval> {
        self.tags.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// A tag property's value and storage type.
    pub fn tagprop(&self, tag: &str, prop: &str) -> Option<(&Value, i64)> {
        self.tagprops
            .iter()
            .find(|(t, _)| t == tag)
            .and_then(|(_, props)| props.iter().find(|(n, _, _)| n == prop))
            .map(|(_, v, t)| (v, *t))
    }

    pub(crate) fn set_prop(&mut self, name: &str, valu: Value, stortype: i64) {
        match self.props.iter_mut().find(|(n, _, _)| n == name) {
            Some(slot) => {
                slot.1 = valu;
                slot.2 = stortype;
            }
            None => self.props.push((name.to_owned(), valu, stortype)),
        }
    }

    pub(crate) fn pop_prop(&mut self, name: &str) -> Option<(Value, i64)> {
        let idx = self.props.iter().position(|(n, _, _)| n == name)?;
        let (_, valu, stortype) = self.props.remove(idx);
        Some((valu, stortype))
    }

    pub(crate) fn set_tag(&mut self, name: &str, valu: TagIval) {
        match self.tags.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = valu,
            None => self.tags.push((name.to_owned(), valu)),
        }
    }

    pub(crate) fn pop_tag(&mut self, name: &str) -> Option<TagIval> {
        let idx = self.tags.iter().position(|(n, _)| n == name)?;
        Some(self.tags.remove(idx).1)
    }

    pub(crate) fn set_tagprop(&mut self, tag: &str, prop: &str, valu: Value, stortype: i64) {
        let idx = match self.tagprops.iter().position(|(t, _)| t == tag) {
            Some(idx) => idx,
            None => {
                self.tagprops.push((tag.to_owned(), Vec::new()));
                self.tagprops.len() - 1
            }
        };
        let props = &mut self.tagprops[idx].1;
        match props.iter_mut().find(|(n, _, _)| n == prop) {
            Some(slot) => {
                slot.1 = valu;
                slot.2 = stortype;
            }
            None => props.push((prop.to_owned(), valu, stortype)),
        }
    }

    pub(crate) fn pop_tagprop(&mut self, tag: &str, prop: &str) -> Option<(Value, i64)> {
        let tidx = self.tagprops.iter().position(|(t, _)| t == tag)?;
        let props = &mut self.tagprops[tidx].1;
        let pidx = props.iter().position(|(n, _, _)| n == prop)?;
        let (_, valu, stortype) = props.remove(pidx);
        if props.is_empty() {
            self.tagprops.remove(tidx);
        }
        Some((valu, stortype))
    }

    /// True when the sode holds no value, props, tags or tag props.
    pub fn is_empty(&self) -> bool {
        self.valu.is_none()
            && self.props.is_empty()
            && self.tags.is_empty()
            && self.tagprops.is_empty()
    }

    /// The reference's sode dict (`show:storage`): `{"valu", "form", "props", "tags",
    /// "tagprops"}` with `[value, stortype]` pairs.
    pub fn to_value(&self) -> Value {
        let pair = |v: &Value, t: i64| Value::Array(vec![v.clone(), Value::from(t)]);
        let mut map = Vec::new();
        if let Some((valu, stortype)) = &self.valu {
            map.push((Value::from("valu"), pair(valu, *stortype)));
        }
        if let Some(form) = &self.form {
            map.push((Value::from("form"), Value::from(form.as_str())));
        }
        let props = self
            .props
            .iter()
            .map(|(n, v, t)| (Value::from(n.as_str()), pair(v, *t)))
            .collect();
        map.push((Value::from("props"), Value::Map(props)));
        let tags = self
            .tags
            .iter()
            .map(|(n, v)| (Value::from(n.as_str()), ival_value(*v)))
            .collect();
        map.push((Value::from("tags"), Value::Map(tags)));
        let tagprops = self
            .tagprops
            .iter()
            .map(|(tag, props)| {
                let props = props
                    .iter()
                    .map(|(n, v, t)| (Value::from(n.as_str()), pair(v, *t)))
                    .collect();
                (Value::from(tag.as_str()), Value::Map(props))
            })
            .collect();
        map.push((Value::from("tagprops"), Value::Map(tagprops)));
        Value::Map(map)
    }

    pub(crate) fn encode(&self, abrvs: &mut BatchAbrvs<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(SODE_VERSION);
        let form = self
            .form
            .as_deref()
            .map_or(0, |form| abrvs.id(Kind::Form, &[form]));
        put_varint(&mut out, u64::from(form));
        match &self.valu {
            Some((valu, stortype)) => {
                out.push(1);
                put_stortype(&mut out, *stortype);
                write_value(&mut out, valu);
            }
            None => out.push(0),
        }
        put_varint(&mut out, self.props.len() as u64);
        for (name, valu, stortype) in &self.props {
            put_varint(&mut out, u64::from(abrvs.id(Kind::Name, &[name])));
            put_stortype(&mut out, *stortype);
            write_value(&mut out, valu);
        }
        put_varint(&mut out, self.tags.len() as u64);
        for (name, ival) in &self.tags {
            put_varint(&mut out, u64::from(abrvs.id(Kind::Tag, &[name])));
            put_ival(&mut out, *ival);
        }
        put_varint(&mut out, self.tagprops.len() as u64);
        for (tag, props) in &self.tagprops {
            put_varint(&mut out, u64::from(abrvs.id(Kind::Tag, &[tag])));
            put_varint(&mut out, props.len() as u64);
            for (name, valu, stortype) in props {
                put_varint(&mut out, u64::from(abrvs.id(Kind::Name, &[name])));
                put_stortype(&mut out, *stortype);
                write_value(&mut out, valu);
            }
        }
        out
    }

    pub(crate) fn decode(byts: &[u8], abrvs: &AbrvReader<'_>) -> Result<Sode, Error> {
        let mut rd = Reader { byts, pos: 0 };
        if rd.byte()? != SODE_VERSION {
            return Err(Error::BadStorage("unknown storage node version".into()));
        }
        let mut sode = Sode::default();
        let form = rd.id()?;
        if form != 0 {
            sode.form = Some(abrvs.name(Kind::Form, form)?);
        }
        if rd.byte()? == 1 {
            let stortype = rd.stortype()?;
            sode.valu = Some((rd.value()?, stortype));
        }
        for _ in 0..rd.varint()? {
            let name = abrvs.name(Kind::Name, rd.id()?)?;
            let stortype = rd.stortype()?;
            sode.props.push((name, rd.value()?, stortype));
        }
        for _ in 0..rd.varint()? {
            let name = abrvs.name(Kind::Tag, rd.id()?)?;
            sode.tags.push((name, rd.ival()?));
        }
        for _ in 0..rd.varint()? {
            let tag = abrvs.name(Kind::Tag, rd.id()?)?;
            let mut props = Vec::new();
            for _ in 0..rd.varint()? {
                let name = abrvs.name(Kind::Name, rd.id()?)?;
                let stortype = rd.stortype()?;
                props.push((name, rd.value()?, stortype));
            }
            sode.tagprops.push((tag, props));
        }
        Ok(sode)
    }
}

const SODE_VERSION: u8 = 1;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut valu: u64) {
    loop {
        let byte = (valu & 0x7f) as u8;
        valu >>= 7;
        if valu == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_stortype(out: &mut Vec<u8>, stortype: i64) {
    // Storage types are small non-negative codes; zigzag keeps odd input lossless.
    put_varint(out, ((stortype << 1) ^ (stortype >> 63)) as u64);
}

fn put_ival(out: &mut Vec<u8>, ival: TagIval) {
    let flags = u8::from(ival.0.is_some()) | (u8::from(ival.1.is_some()) << 1);
    out.push(flags);
    for part in [ival.0, ival.1].into_iter().flatten() {
        out.extend_from_slice(&part.to_be_bytes());
    }
}

struct Reader<'a> {
    byts: &'a [u8],
    pos: usize,
}

fn truncated() -> Error {
    Error::BadStorage("truncated storage node".into())
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Error> {
        let byte = *self.byts.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut valu = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            valu |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(valu);
            }
        }
        Err(Error::BadStorage("bad varint in storage node".into()))
    }

    fn id(&mut self) -> Result<u32, Error> {
        u32::try_from(self.varint()?).map_err(|_| Error::BadStorage("bad abbreviation id".into()))
    }

    fn stortype(&mut self) -> Result<i64, Error> {
        let raw = self.varint()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn value(&mut self) -> Result<Value, Error> {
        let mut rest = &self.byts[self.pos..];
        let before = rest.len();
        let valu = rmpv::decode::read_value(&mut rest)
            .map_err(|_| Error::BadStorage("bad value in storage node".into()))?;
        self.pos += before - rest.len();
        Ok(valu)
    }

    fn i64(&mut self) -> Result<i64, Error> {
        let end = self.pos + 8;
        let byts: [u8; 8] = self
            .byts
            .get(self.pos..end)
            .ok_or_else(truncated)?
            .try_into()
            .map_err(|_| truncated())?;
        self.pos = end;
        Ok(i64::from_be_bytes(byts))
    }

    fn ival(&mut self) -> Result<TagIval, Error> {
        let flags = self.byte()?;
        let min = if flags & 1 != 0 {
            Some(self.i64()?)
        } else {
            None
        };
        let max = if flags & 2 != 0 {
            Some(self.i64()?)
        } else {
            None
        };
        Ok((min, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::abrv::Abrvs;
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[test]
    fn sodes_round_trip() {
        let abrvs = Abrvs::new();
        let persisted = Mutex::new(HashSet::new());
        let mut batch = BatchAbrvs::new(&abrvs, &persisted);
        let mut sode = Sode {
            form: Some("inet:ipv4".into()),
            valu: Some((Value::from(16909060), 4)),
            ..Sode::default()
        };
        sode.set_prop(".created", Value::from(1_700_000_000_000i64), 21);
        sode.set_prop("asn", Value::from(10), 9);
        sode.set_tag("foo", (None, None));
        sode.set_tag("foo.bar", (Some(1), Some(2)));
        sode.set_tagprop("foo", "score", Value::from(-3), 9);
        let byts = sode.encode(&mut batch);
        assert!(!batch.new.is_empty());
        let back = Sode::decode(&byts, &abrvs.read()).unwrap();
        assert_eq!(back, sode);
        assert!(Sode::decode(&byts[..byts.len() - 1], &abrvs.read()).is_err());
        assert_eq!(back.prop("asn"), Some((&Value::from(10), 9)));
        assert_eq!(back.tag("foo.bar"), Some((Some(1), Some(2))));
        let mut empty = back.clone();
        empty.valu = None;
        empty.props.clear();
        empty.tags.clear();
        assert_eq!(
            empty.pop_tagprop("foo", "score"),
            Some((Value::from(-3), 9))
        );
        assert!(empty.is_empty());
    }
}
