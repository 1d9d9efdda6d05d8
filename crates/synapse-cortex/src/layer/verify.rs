//! Index consistency checks of a layer (the reference's `Layer.verify`): every storage node's
//! tags and properties have their index rows, and every tag, property, array and tag property
//! index row points at a node that holds the indexed value. Each problem is reported as the
//! reference names it, `(name, info)`.

use rmpv::Value;
use synapse_slab::{Scan, Txn};

use super::abrv::{AbrvId, AbrvReader, Kind};
use super::apply::{prefixed, tag_key};
use super::indx::{indx, indx_one};
use super::{Error, Layer, LayerShared, ROW_ID_LEN, Sode, row_node};
use crate::nodeedit::stortype as st;

/// A `(form, prop)` of the property index: `None` form for universal props, `None` prop for
/// the primary value.
pub type FormProp = (Option<String>, Option<String>);

/// Which scans [`Layer::verify`] runs, with their filters (the reference's `config`).
#[derive(Debug, Clone, Default)]
pub struct VerifyConfig {
    /// Check each storage node's tag and property index rows.
    pub nodes: bool,
    /// Check the tag index; `Some(globs)` keeps tags matching one of the globs.
    pub tags: Option<Option<Vec<String>>>,
    /// Check the property and array indexes; `Some(pairs)` keeps these `(form, prop)`.
    pub props: Option<Option<Vec<FormProp>>>,
    /// Check the tag property index; `Some(names)` keeps these tag properties.
    pub tagprops: Option<Option<Vec<String>>>,
}

impl VerifyConfig {
    /// Every scan, unfiltered.
    pub fn all() -> Self {
        VerifyConfig {
            nodes: true,
            tags: Some(None),
            props: Some(None),
            tagprops: Some(None),
        }
    }
}

/// One problem: the reference's name and info map.
pub type VerifyError = (String, Value);

fn info(items: Vec<(&str, Value)>) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn opt(text: Option<&str>) -> Value {
    text.map_or(Value::Nil, Value::from)
}

/// A `*` glob over tag names (`*` matches one tag part).
fn glob_match(glob: &str, name: &str) -> bool {
    let gparts: Vec<&str> = glob.split('.').collect();
    let nparts: Vec<&str> = name.split('.').collect();
    gparts.len() == nparts.len() && gparts.iter().zip(&nparts).all(|(g, n)| *g == "*" || g == n)
}

/// The `(kind, parts)` of an abbreviation id.
fn parts(abrvs: &AbrvReader<'_>, id: AbrvId) -> Option<(u8, Vec<String>)> {
    let key = abrvs.key_of(id)?;
    let (&kind, rest) = key.split_first()?;
    let text = std::str::from_utf8(rest).ok()?;
    Some((kind, text.split('\0').map(str::to_owned).collect()))
}

fn abrv_of(key: &[u8]) -> Option<AbrvId> {
    Some(AbrvId::from_be_bytes(key.get(..4)?.try_into().ok()?))
}

/// The node an index row names: its buid (the row id itself when the layer holds no such
/// node) and its storage node.
fn row_sode(
    txn: &Txn<'_>,
    shared: &LayerShared,
    abrvs: &AbrvReader<'_>,
    val: &[u8],
) -> Result<(Vec<u8>, Option<Sode>), Error> {
    Ok(match row_node(txn, shared.dbs.sodes, val)? {
        Some((buid, Some(byts))) => (buid.to_vec(), Some(Sode::decode(byts, abrvs)?)),
        Some((buid, None)) => (buid.to_vec(), sode_of(txn, shared, abrvs, &buid)?),
        None => (val.to_vec(), None),
    })
}

/// The row id of a stored node's buid.
fn id_of(buid: &[u8]) -> &[u8] {
    buid.get(..ROW_ID_LEN).unwrap_or(buid)
}

fn sode_of(
    txn: &Txn<'_>,
    shared: &LayerShared,
    abrvs: &AbrvReader<'_>,
    buid: &[u8],
) -> Result<Option<Sode>, Error> {
    match txn.get(shared.dbs.sodes, buid)? {
        Some(byts) => Sode::decode(byts, abrvs).map(Some),
        None => Ok(None),
    }
}

fn verify_nodes(
    txn: &Txn<'_>,
    shared: &LayerShared,
    abrvs: &AbrvReader<'_>,
    out: &mut Vec<VerifyError>,
) -> Result<(), Error> {
    for row in txn.scan(shared.dbs.sodes, Scan::full())? {
        let (buid, byts) = row?;
        let sode = Sode::decode(byts, abrvs)?;
        let Some(form) = sode.form.as_deref() else {
            continue;
        };
        let formabrv = abrvs.get(Kind::Form, &[form]);
        for (tag, ival) in &sode.tags {
            let found = match (abrvs.get(Kind::Tag, &[tag]), formabrv) {
                (Some(t), Some(f)) => txn.has_dup(shared.dbs.bytag, &tag_key(t, f), id_of(buid))?,
                _ => false,
            };
            if !found {
                let valu = Value::Array(vec![
                    ival.0.map_or(Value::Nil, Value::from),
                    ival.1.map_or(Value::Nil, Value::from),
                ]);
                out.push((
                    "NoTagIndex".into(),
                    info(vec![
                        ("buid", Value::Binary(buid.to_vec())),
                        ("form", Value::from(form)),
                        ("tag", Value::from(tag.as_str())),
                        ("valu", valu),
                    ]),
                ));
            }
        }
        for (prop, valu, stortype) in &sode.props {
            // array property indexes are not verified by node (as the reference)
            if stortype & st::ARRAY_FLAG != 0 {
                continue;
            }
            let Ok(ind) = indx_one(*stortype, valu) else {
                out.push((
                    "NoStorTypeForProp".into(),
                    info(vec![
                        ("buid", Value::from(hex::encode(buid))),
                        ("form", Value::from(form)),
                        ("prop", Value::from(prop.as_str())),
                        ("stortype", Value::from(*stortype)),
                    ]),
                ));
                continue;
            };
            let found = match abrvs.get(Kind::Prop, &[form, prop]) {
                Some(abrv) => txn.has_dup(shared.dbs.byprop, &prefixed(abrv, &ind), id_of(buid))?,
                None => false,
            };
            if !found {
                out.push((
                    "NoPropIndex".into(),
                    info(vec![
                        ("prop", Value::from(prop.as_str())),
                        ("valu", valu.clone()),
                    ]),
                ));
            }
        }
    }
    Ok(())
}

fn verify_tags(
    txn: &Txn<'_>,
    shared: &LayerShared,
    abrvs: &AbrvReader<'_>,
    include: Option<&[String]>,
    out: &mut Vec<VerifyError>,
) -> Result<(), Error> {
    for row in txn.scan(shared.dbs.bytag, Scan::full())? {
        let (key, val) = row?;
        let (Some(tagabrv), Some(formabrv)) = (abrv_of(key), key.get(4..).and_then(abrv_of)) else {
            continue;
        };
        let (Ok(tag), Ok(form)) = (
            abrvs.name(Kind::Tag, tagabrv),
            abrvs.name(Kind::Form, formabrv),
        ) else {
            continue;
        };
        if let Some(globs) = include
            && !globs.iter().any(|g| glob_match(g, &tag))
        {
            continue;
        }
        let (buid, sode) = row_sode(txn, shared, abrvs, val)?;
        let name = match sode {
            None => "NoNodeForTagIndex",
            Some(sode) if sode.tag(&tag).is_none() => "NoTagForTagIndex",
            Some(_) => continue,
        };
        out.push((
            name.into(),
            info(vec![
                ("buid", Value::from(hex::encode(&buid))),
                ("form", Value::from(form)),
                ("tag", Value::from(tag)),
            ]),
        ));
    }
    Ok(())
}

fn verify_props(
    txn: &Txn<'_>,
    shared: &LayerShared,
    abrvs: &AbrvReader<'_>,
    include: Option<&[FormProp]>,
    array: bool,
    out: &mut Vec<VerifyError>,
) -> Result<(), Error> {
    let (db, names) = if array {
        (
            shared.dbs.byarray,
            [
                "NoNodeForPropArrayIndex",
                "NoValuForPropArrayIndex",
                "SpurPropArrayKeyForIndex",
                "NoStorTypeForPropArray",
            ],
        )
    } else {
        (
            shared.dbs.byprop,
            [
                "NoNodeForPropIndex",
                "NoValuForPropIndex",
                "SpurPropKeyForIndex",
                "NoStorTypeForProp",
            ],
        )
    };
    for row in txn.scan(db, Scan::full())? {
        let (key, val) = row?;
        let Some(abrv) = abrv_of(key) else {
            continue;
        };
        let (form, prop) = match parts(abrvs, abrv) {
            Some((b'f', p)) => (p.into_iter().next(), None),
            Some((b'p', p)) if p.len() == 2 => {
                let mut p = p.into_iter();
                (p.next(), p.next())
            }
            Some((b'u', p)) => (None, p.into_iter().next()),
            _ => continue,
        };
        if let Some(pairs) = include
            && !pairs.contains(&(form.clone(), prop.clone()))
        {
            continue;
        }
        let ind = &key[4..];
        let (buid, sode) = row_sode(txn, shared, abrvs, val)?;
        let base = |name: &str| {
            (
                name.to_owned(),
                info(vec![
                    ("buid", Value::from(hex::encode(&buid))),
                    ("form", opt(form.as_deref())),
                    ("prop", opt(prop.as_deref())),
                    ("indx", Value::Binary(ind.to_vec())),
                ]),
            )
        };
        let Some(sode) = sode else {
            out.push(base(names[0]));
            continue;
        };
        let valu = match &prop {
            Some(prop) => sode.prop(prop).map(|(v, t)| (v.clone(), t)),
            None => sode.valu.clone(),
        };
        let Some((valu, stortype)) = valu else {
            out.push(base(names[1]));
            continue;
        };
        let inds = if array {
            indx(stortype, &valu)
        } else if stortype & st::ARRAY_FLAG != 0 {
            indx_one(st::MSGP, &valu).map(|i| vec![i])
        } else {
            indx_one(stortype, &valu).map(|i| vec![i])
        };
        match inds {
            Ok(inds) if inds.iter().any(|i| i.as_slice() == ind) => {}
            Ok(_) => out.push(base(names[2])),
            Err(_) => out.push((
                names[3].to_owned(),
                info(vec![
                    ("buid", Value::from(hex::encode(&buid))),
                    ("form", opt(form.as_deref())),
                    ("prop", opt(prop.as_deref())),
                    ("stortype", Value::from(stortype)),
                ]),
            )),
        }
    }
    Ok(())
}

fn verify_tagprops(
    txn: &Txn<'_>,
    shared: &LayerShared,
    abrvs: &AbrvReader<'_>,
    include: Option<&[String]>,
    out: &mut Vec<VerifyError>,
) -> Result<(), Error> {
    for row in txn.scan(shared.dbs.bytagprop, Scan::full())? {
        let (key, val) = row?;
        let Some(abrv) = abrv_of(key) else {
            continue;
        };
        let Some((b'T', p)) = parts(abrvs, abrv) else {
            continue;
        };
        let [form, tag, prop] = p.as_slice() else {
            continue;
        };
        if let Some(names) = include
            && !names.contains(prop)
        {
            continue;
        }
        let form = (!form.is_empty()).then_some(form.as_str());
        let ind = &key[4..];
        let (buid, sode) = row_sode(txn, shared, abrvs, val)?;
        let base = |name: &str| {
            (
                name.to_owned(),
                info(vec![
                    ("buid", Value::from(hex::encode(&buid))),
                    ("form", opt(form)),
                    ("tag", Value::from(tag.as_str())),
                    ("prop", Value::from(prop.as_str())),
                    ("indx", Value::Binary(ind.to_vec())),
                ]),
            )
        };
        let Some(sode) = sode else {
            out.push(base("NoNodeForTagPropIndex"));
            continue;
        };
        if !sode.tagprops.iter().any(|(t, _)| t == tag) {
            out.push(base("NoPropForTagPropIndex"));
            continue;
        }
        let Some((valu, stortype)) = sode.tagprop(tag, prop) else {
            out.push(base("NoValuForTagPropIndex"));
            continue;
        };
        match indx(stortype, valu) {
            Ok(inds) if inds.iter().any(|i| i.as_slice() == ind) => {}
            Ok(_) => out.push(base("SpurTagPropKeyForIndex")),
            Err(_) => out.push((
                "NoStorTypeForTagProp".to_owned(),
                info(vec![
                    ("buid", Value::from(hex::encode(&buid))),
                    ("form", opt(form)),
                    ("tag", Value::from(tag.as_str())),
                    ("prop", Value::from(prop.as_str())),
                    ("stortype", Value::from(stortype)),
                ]),
            )),
        }
    }
    Ok(())
}

impl Layer {
    /// Check the layer's indexes against its storage nodes: the problems found, in the
    /// reference's order (nodes, tag index, property and array indexes, tag property index).
    pub async fn verify(&self, conf: VerifyConfig) -> Result<Vec<VerifyError>, Error> {
        self.snapshot(move |txn, shared| {
            let abrvs = shared.abrvs.read();
            let mut out = Vec::new();
            if conf.nodes {
                verify_nodes(txn, shared, &abrvs, &mut out)?;
            }
            if let Some(include) = &conf.tags {
                verify_tags(txn, shared, &abrvs, include.as_deref(), &mut out)?;
            }
            if let Some(include) = &conf.props {
                verify_props(txn, shared, &abrvs, include.as_deref(), false, &mut out)?;
                verify_props(txn, shared, &abrvs, include.as_deref(), true, &mut out)?;
            }
            if let Some(include) = &conf.tagprops {
                verify_tagprops(txn, shared, &abrvs, include.as_deref(), &mut out)?;
            }
            Ok(out)
        })
        .await
    }

    /// Remove one index row (tests of [`Layer::verify`]).
    #[cfg(test)]
    pub(crate) async fn drop_index_row(&self, kind: u8, key: Vec<u8>, buid: [u8; 32]) {
        let shared = std::sync::Arc::clone(&self.inner.shared);
        let db = match kind {
            b't' => shared.dbs.bytag,
            b'T' => shared.dbs.bytagprop,
            b'a' => shared.dbs.byarray,
            _ => shared.dbs.byprop,
        };
        self.inner
            .slab
            .write_commit(move |txn| {
                txn.delete(db, &key, Some(&super::row_id(&buid)))
                    .map(|_| ())
            })
            .await
            .ok();
    }

    /// Add one index row (tests of [`Layer::verify`]).
    #[cfg(test)]
    pub(crate) async fn add_index_row(&self, kind: u8, key: Vec<u8>, buid: [u8; 32]) {
        let shared = std::sync::Arc::clone(&self.inner.shared);
        let db = match kind {
            b't' => shared.dbs.bytag,
            b'T' => shared.dbs.bytagprop,
            b'a' => shared.dbs.byarray,
            _ => shared.dbs.byprop,
        };
        self.inner
            .slab
            .write_commit(move |txn| txn.put(db, &key, &super::row_id(&buid)).map(|_| ()))
            .await
            .ok();
    }

    /// The abbreviation id of a name (tests of [`Layer::verify`]).
    #[cfg(test)]
    pub(crate) fn abrv_id(&self, kind: Kind, parts: &[&str]) -> Option<AbrvId> {
        self.inner.shared.abrvs.read().get(kind, parts)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::layer::{Abrvs, LayerDef};
    use crate::nodeedit::{EditMeta, EditOp, NodeEdit};

    async fn layer(dir: &std::path::Path) -> Layer {
        let layer = Layer::open(dir, LayerDef::new("root"), Arc::new(Abrvs::new()))
            .await
            .unwrap();
        let buid = [7u8; 32];
        let ops = vec![
            EditOp::NodeAdd {
                valu: Value::from(16909060),
                stortype: st::U32,
            },
            EditOp::PropSet {
                prop: "asn".into(),
                valu: Value::from(10),
                oldv: Value::Nil,
                stortype: st::U32,
            },
            EditOp::TagSet {
                tag: "foo".into(),
                valu: (None, None),
                oldv: None,
            },
        ];
        layer
            .apply(
                vec![NodeEdit::new(buid, "inet:ipv4", ops)],
                EditMeta::now("root"),
            )
            .await
            .unwrap();
        layer
    }

    #[tokio::test]
    async fn a_version_2_layer_gets_row_ids_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let layer = layer(dir.path()).await;
        // Back to version 2: index rows hold whole buids.
        let shared = Arc::clone(&layer.inner.shared);
        layer
            .inner
            .slab
            .write_commit(move |txn| -> Result<(), Error> {
                let dbs = shared.dbs;
                for db in [dbs.byprop, dbs.bytag] {
                    let rows: Vec<(Vec<u8>, Vec<u8>)> = txn
                        .scan(db, Scan::full())?
                        .map(|row| row.map(|(k, v)| (k.to_vec(), v.to_vec())))
                        .collect::<Result<_, _>>()?;
                    assert!(!rows.is_empty());
                    for (key, val) in rows {
                        assert_eq!(val.len(), ROW_ID_LEN);
                        txn.delete(db, &key, None)?;
                        txn.put(db, &key, &[7u8; 32])?;
                    }
                }
                txn.put(
                    dbs.meta,
                    b"version",
                    &crate::nodeedit::packb(&Value::from(2)),
                )?;
                Ok(())
            })
            .await
            .unwrap();
        layer.fini().await;
        let abrvs = Arc::new(Abrvs::new());
        let layer = Layer::open(dir.path(), LayerDef::new("root"), abrvs)
            .await
            .unwrap();
        assert_eq!(layer.verify(VerifyConfig::all()).await.unwrap(), vec![]);
        let shared = Arc::clone(&layer.inner.shared);
        let sizes = layer
            .snapshot(move |txn, _| {
                let mut sizes = Vec::new();
                for db in [shared.dbs.byprop, shared.dbs.bytag] {
                    for row in txn.scan(db, Scan::full())? {
                        sizes.push(row?.1.len());
                    }
                }
                Ok(sizes)
            })
            .await
            .unwrap();
        assert!(
            !sizes.is_empty() && sizes.iter().all(|&n| n == ROW_ID_LEN),
            "{sizes:?}"
        );
        assert_eq!(layer.count_tag("foo", None).await.unwrap(), 1);
    }

    fn names(errs: &[VerifyError]) -> Vec<&str> {
        errs.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[tokio::test]
    async fn a_consistent_layer_verifies_clean() {
        let dir = tempfile::tempdir().unwrap();
        let layer = layer(dir.path()).await;
        assert_eq!(layer.verify(VerifyConfig::all()).await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn missing_and_spurious_index_rows_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let layer = layer(dir.path()).await;
        let buid = [7u8; 32];
        let tag = layer.abrv_id(Kind::Tag, &["foo"]).unwrap();
        let form = layer.abrv_id(Kind::Form, &["inet:ipv4"]).unwrap();
        let asn = layer.abrv_id(Kind::Prop, &["inet:ipv4", "asn"]).unwrap();
        layer
            .drop_index_row(b't', tag_key(tag, form).to_vec(), buid)
            .await;
        let ind = indx_one(st::U32, &Value::from(10)).unwrap();
        layer.drop_index_row(b'p', prefixed(asn, &ind), buid).await;
        let spur = indx_one(st::U32, &Value::from(99)).unwrap();
        layer.add_index_row(b'p', prefixed(asn, &spur), buid).await;
        // an index row of a node the layer does not hold
        layer
            .add_index_row(b't', tag_key(tag, form).to_vec(), [9u8; 32])
            .await;
        let errs = layer.verify(VerifyConfig::all()).await.unwrap();
        assert_eq!(
            names(&errs),
            [
                "NoTagIndex",
                "NoPropIndex",
                "NoNodeForTagIndex",
                "SpurPropKeyForIndex"
            ],
            "{errs:?}"
        );
        assert_eq!(
            errs[1].1,
            info(vec![
                ("prop", Value::from("asn")),
                ("valu", Value::from(10))
            ])
        );
        assert_eq!(
            crate::layer::map_get(&errs[3].1, "indx"),
            Some(&Value::Binary(spur))
        );
        // the scans can be chosen
        let conf = VerifyConfig {
            nodes: false,
            tags: Some(Some(vec!["bar".into()])),
            ..VerifyConfig::default()
        };
        assert_eq!(layer.verify(conf).await.unwrap(), vec![]);
        let conf = VerifyConfig {
            tags: Some(Some(vec!["*".into()])),
            ..VerifyConfig::default()
        };
        assert_eq!(
            names(&layer.verify(conf).await.unwrap()),
            ["NoNodeForTagIndex"]
        );
    }
}
