//! Raw index rows of one layer: the reference's `iterFormRows`, `iterPropRows`,
//! `iterUnivRows`, `iterTagRows` and `iterTagPropRows`, which yield `(buid, valu)` in index
//! order, optionally (re)starting at a value.
//!
//! With a storage type, the value is decoded from the index key when the index holds it whole
//! (ints, strings shorter than the truncation limit, guids, ...) and read from the storage node
//! otherwise; without one, it always comes from the storage node. Rows whose node lacks the
//! value are skipped, as the reference does.

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_slab::Scan;

use crate::layer::abrv::Kind;
use crate::layer::indx::{decode_indx, indx_one};
use crate::layer::sode::Sode;
use crate::layer::{Error, Layer};
use crate::nodeedit::{Buid, ival_value};

/// Which index a row scan reads.
#[derive(Debug, Clone, PartialEq)]
pub enum RowsBy {
    /// The primary values of a form.
    Form(String),
    /// A secondary property of a form (relative name).
    Prop(String, String),
    /// A universal property of every form (`.created`).
    Univ(String),
    /// A tag property, of one form or of any.
    TagProp {
        /// Restrict to a form.
        form: Option<String>,
        /// The tag.
        tag: String,
        /// The tag property.
        prop: String,
    },
    /// A tag, of one form or of any; rows are `(buid, ((min, max), form))`.
    Tag {
        /// The tag.
        tag: String,
        /// Restrict to a form.
        form: Option<String>,
    },
}

/// Where a row scan (re)starts.
#[derive(Debug, Clone, PartialEq)]
pub enum RowsStart {
    /// From the first row.
    First,
    /// From this value (needs the storage type), inclusive.
    Valu(Value),
    /// A tag scan from this node of this form, inclusive (`starttupl`).
    Node(Buid, String),
}

/// Rows read per batch.
const BATCH: usize = 1000;

/// The scan position: the first batch starts at a key (and value), later ones after a row.
#[derive(Debug, Clone)]
enum Pos {
    At(Vec<u8>, Option<Vec<u8>>),
    After(Vec<u8>, Vec<u8>),
}

impl Layer {
    /// The `(buid, valu)` rows of an index in this layer (see the module docs). Names no
    /// layer has used yield nothing.
    pub fn iter_rows(
        &self,
        by: RowsBy,
        stortype: Option<i64>,
        start: RowsStart,
    ) -> BoxStream<'static, Result<(Buid, Value), Error>> {
        let abrvs = &self.inner.shared.abrvs;
        let id = |kind, parts: &[&str]| abrvs.get(kind, parts).map(u32::to_be_bytes);
        let prefix = match &by {
            RowsBy::Form(form) => id(Kind::Form, &[form]).map(|a| a.to_vec()),
            RowsBy::Prop(form, prop) => id(Kind::Prop, &[form, prop]).map(|a| a.to_vec()),
            RowsBy::Univ(prop) => id(Kind::Univ, &[prop]).map(|a| a.to_vec()),
            RowsBy::TagProp { form, tag, prop } => {
                let form = form.as_deref().unwrap_or("");
                id(Kind::TagProp, &[form, tag, prop]).map(|a| a.to_vec())
            }
            RowsBy::Tag { tag, form } => match (id(Kind::Tag, &[tag]), form) {
                (None, _) => None,
                (Some(tagid), None) => Some(tagid.to_vec()),
                (Some(tagid), Some(form)) => id(Kind::Form, &[form]).map(|f| [tagid, f].concat()),
            },
        };
        let Some(prefix) = prefix else {
            return stream::empty().boxed();
        };
        let start = match (&by, start) {
            (_, RowsStart::First) => Pos::At(prefix.clone(), None),
            (RowsBy::Tag { form, .. }, RowsStart::Node(buid, startform)) => match form {
                // A start of another form than the one asked for yields nothing.
                Some(form) if *form != startform => return stream::empty().boxed(),
                Some(_) => Pos::At(prefix.clone(), Some(crate::layer::row_id(&buid).to_vec())),
                None => match id(Kind::Form, &[&startform]) {
                    Some(formid) => Pos::At(
                        [&prefix[..], &formid].concat(),
                        Some(crate::layer::row_id(&buid).to_vec()),
                    ),
                    None => return stream::empty().boxed(),
                },
            },
            (RowsBy::Tag { .. }, RowsStart::Valu(_)) | (_, RowsStart::Node(..)) => {
                Pos::At(prefix.clone(), None)
            }
            (_, RowsStart::Valu(valu)) => match stortype {
                Some(stortype) => match indx_one(stortype, &valu) {
                    Ok(indx) => Pos::At([&prefix[..], &indx].concat(), None),
                    Err(err) => return stream::once(async move { Err(err) }).boxed(),
                },
                None => {
                    let err = Error::BadArg("startvalu needs a stortype".into());
                    return stream::once(async move { Err(err) }).boxed();
                }
            },
        };
        let layer = self.clone();
        let state = (layer, Some(start), Vec::new().into_iter());
        stream::try_unfold(state, move |(layer, mut pos, mut buf)| {
            let by = by.clone();
            let prefix = prefix.clone();
            async move {
                loop {
                    if let Some(item) = buf.next() {
                        return Ok(Some((item, (layer, pos, buf))));
                    }
                    let Some(at) = pos.take() else {
                        return Ok(None);
                    };
                    let (rows, next) = layer.rows_batch(&by, &prefix, stortype, at).await?;
                    pos = next;
                    buf = rows.into_iter();
                }
            }
        })
        .boxed()
    }

    /// One batch of rows from `pos`; the position after it (`None` once the scan is done).
    async fn rows_batch(
        &self,
        by: &RowsBy,
        prefix: &[u8],
        stortype: Option<i64>,
        pos: Pos,
    ) -> Result<(Vec<(Buid, Value)>, Option<Pos>), Error> {
        let by = by.clone();
        let prefix = prefix.to_vec();
        self.snapshot(move |txn, shared| {
            let db = match by {
                RowsBy::Form(_) | RowsBy::Prop(..) | RowsBy::Univ(_) => shared.dbs.byprop,
                RowsBy::TagProp { .. } => shared.dbs.bytagprop,
                RowsBy::Tag { .. } => shared.dbs.bytag,
            };
            let spec = match &pos {
                Pos::At(key, val) => Scan::prefix(&prefix).start_at(key, val.as_deref()),
                Pos::After(key, val) => Scan::prefix(&prefix).after(key, val),
            };
            let abrvs = shared.abrvs.read();
            let mut out = Vec::new();
            let mut visits = 0;
            for item in txn.scan(db, spec)? {
                let (key, val) = item?;
                visits += 1;
                let Some((buid, byts)) = crate::layer::row_node(txn, shared.dbs.sodes, val)? else {
                    continue;
                };
                let decoded = match (&by, stortype) {
                    (RowsBy::Tag { .. }, _) | (_, None) => None,
                    (_, Some(stortype)) => decode_indx(stortype, &key[prefix.len()..]),
                };
                let valu = match decoded {
                    Some(valu) => Some(valu),
                    None => match byts {
                        Some(byts) => sode_valu(&by, &Sode::decode(byts, &abrvs)?),
                        None => None,
                    },
                };
                if let Some(valu) = valu {
                    out.push((buid, valu));
                }
                if visits >= BATCH {
                    return Ok((out, Some(Pos::After(key.to_vec(), val.to_vec()))));
                }
            }
            Ok((out, None))
        })
        .await
    }
}

/// The value a row stands for, read from the storage node.
fn sode_valu(by: &RowsBy, sode: &Sode) -> Option<Value> {
    match by {
        RowsBy::Form(_) => sode.valu.as_ref().map(|(valu, _)| valu.clone()),
        RowsBy::Prop(_, prop) | RowsBy::Univ(prop) => sode.prop(prop).map(|(v, _)| v.clone()),
        RowsBy::TagProp { tag, prop, .. } => sode.tagprop(tag, prop).map(|(v, _)| v.clone()),
        RowsBy::Tag { tag, .. } => {
            let ival = sode.tag(tag)?;
            let form = sode.form.clone()?;
            Some(Value::Array(vec![ival_value(ival), Value::from(form)]))
        }
    }
}
