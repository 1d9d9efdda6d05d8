//! Lifts: what to read from a layer's indexes ([`LiftBy`]), compiled once per view into a
//! [`LiftPlan`] that every layer of the view executes in batches.

use synapse_slab::{Db, Scan, Txn};

use crate::layer::abrv::{AbrvReader, Kind};
use crate::layer::indx::{
    IndexScan, RowFilter, ScanKind, decode_indx, filter_indx, lift_scans, regex_matches,
    tag_valu_scans,
};
use crate::layer::sode::Sode;
use crate::layer::{Dbs, Error};
use crate::model::StorLift;
use crate::nodeedit::{Buid, TagIval};

/// What a lift reads. Property names are relative (`asn`, `.seen`); universal props of a
/// form use `Prop` with their dotted name, universal props of every form use `Univ`.
#[derive(Debug, Clone, PartialEq)]
pub enum LiftBy {
    /// Every node of a form, in primary value order.
    Form {
        /// The form.
        form: String,
    },
    /// Nodes of a form whose primary value matches.
    FormValu {
        /// The form.
        form: String,
        /// The comparison.
        cmpr: StorLift,
    },
    /// Nodes of a form having a property, in value order.
    Prop {
        /// The form.
        form: String,
        /// The relative property name.
        prop: String,
    },
    /// Nodes of a form whose property matches.
    PropValu {
        /// The form.
        form: String,
        /// The relative property name.
        prop: String,
        /// The comparison.
        cmpr: StorLift,
    },
    /// Nodes of any form having a universal property (`.created`).
    Univ {
        /// The property name with its dot.
        prop: String,
    },
    /// Nodes of any form whose universal property matches.
    UnivValu {
        /// The property name with its dot.
        prop: String,
        /// The comparison.
        cmpr: StorLift,
    },
    /// Nodes with an array property (or array form value when `prop` is `None`) having an
    /// element that matches (`*[...]`); `cmpr.stortype` is the element's storage type.
    Array {
        /// The form.
        form: String,
        /// The relative property name; `None` for the form's own value.
        prop: Option<String>,
        /// The comparison.
        cmpr: StorLift,
    },
    /// Nodes with a tag (of one form, or any).
    Tag {
        /// The tag.
        tag: String,
        /// Restrict to a form.
        form: Option<String>,
    },
    /// Nodes whose tag value matches (`=` or `@=` an interval).
    TagValu {
        /// The tag.
        tag: String,
        /// Restrict to a form.
        form: Option<String>,
        /// `=` or `@=`.
        cmpr: String,
        /// The normalized interval.
        valu: TagIval,
    },
    /// Nodes with a tag property.
    TagProp {
        /// Restrict to a form.
        form: Option<String>,
        /// The tag.
        tag: String,
        /// The tag property.
        prop: String,
    },
    /// Nodes whose tag property matches.
    TagPropValu {
        /// Restrict to a form.
        form: Option<String>,
        /// The tag.
        tag: String,
        /// The tag property.
        prop: String,
        /// The comparison.
        cmpr: StorLift,
    },
    /// Nodes with node data of this name (the data is loaded into the node).
    DataName {
        /// The data name.
        name: String,
    },
}

/// Which index database a lift reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexDb {
    Prop,
    Array,
    Tag,
    TagProp,
    DataName,
}

impl IndexDb {
    fn db(self, dbs: &Dbs) -> Db {
        match self {
            IndexDb::Prop => dbs.byprop,
            IndexDb::Array => dbs.byarray,
            IndexDb::Tag => dbs.bytag,
            IndexDb::TagProp => dbs.bytagprop,
            IndexDb::DataName => dbs.dataname,
        }
    }
}

/// Where a row's value is, for filters that need it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowSource {
    None,
    Valu,
    Prop(String),
    TagProp(String, String),
    Tag(String),
}

/// What a higher layer must not have for a lower layer's row to count (a higher layer's
/// value of the property hides the lower one's).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shadow {
    None,
    Prop(String),
    Tag(String),
    TagProp(String, String),
}

impl Shadow {
    pub(crate) fn hides(&self, sode: &Sode) -> bool {
        match self {
            Shadow::None => false,
            Shadow::Prop(prop) => sode.prop(prop).is_some(),
            Shadow::Tag(tag) => sode.tag(tag).is_some(),
            Shadow::TagProp(tag, prop) => sode.tagprop(tag, prop).is_some(),
        }
    }
}

/// A lift compiled against the shared abbreviations.
#[derive(Debug, Clone)]
pub(crate) struct LiftPlan {
    pub(crate) db: IndexDb,
    pub(crate) prefix: Vec<u8>,
    pub(crate) scans: Vec<IndexScan>,
    pub(crate) source: RowSource,
    pub(crate) shadow: Shadow,
    /// Node data to load into lifted nodes.
    pub(crate) data: Option<String>,
}

fn id_bytes(abrvs: &AbrvReader<'_>, kind: Kind, parts: &[&str]) -> Option<Vec<u8>> {
    abrvs.get(kind, parts).map(|id| id.to_be_bytes().to_vec())
}

/// Compile a lift; `None` when no layer has ever used the names (nothing can match).
pub(crate) fn plan(
    abrvs: &AbrvReader<'_>,
    by: &LiftBy,
    back: bool,
) -> Result<Option<LiftPlan>, Error> {
    let all = |back| vec![IndexScan::all(back)];
    let mk = |db, prefix: Option<Vec<u8>>, scans, source, shadow| {
        prefix.map(|prefix| LiftPlan {
            db,
            prefix,
            scans,
            source,
            shadow,
            data: None,
        })
    };
    Ok(match by {
        LiftBy::Form { form } => mk(
            IndexDb::Prop,
            id_bytes(abrvs, Kind::Form, &[form]),
            all(back),
            RowSource::Valu,
            Shadow::None,
        ),
        LiftBy::FormValu { form, cmpr } => mk(
            IndexDb::Prop,
            id_bytes(abrvs, Kind::Form, &[form]),
            lift_scans(cmpr.stortype, &cmpr.cmpr, &cmpr.valu, back)?,
            RowSource::Valu,
            Shadow::None,
        ),
        LiftBy::Prop { form, prop } => mk(
            IndexDb::Prop,
            id_bytes(abrvs, Kind::Prop, &[form, prop]),
            all(back),
            RowSource::Prop(prop.clone()),
            Shadow::Prop(prop.clone()),
        ),
        LiftBy::PropValu { form, prop, cmpr } => mk(
            IndexDb::Prop,
            id_bytes(abrvs, Kind::Prop, &[form, prop]),
            lift_scans(cmpr.stortype, &cmpr.cmpr, &cmpr.valu, back)?,
            RowSource::Prop(prop.clone()),
            Shadow::Prop(prop.clone()),
        ),
        LiftBy::Univ { prop } => mk(
            IndexDb::Prop,
            id_bytes(abrvs, Kind::Univ, &[prop]),
            all(back),
            RowSource::Prop(prop.clone()),
            Shadow::Prop(prop.clone()),
        ),
        LiftBy::UnivValu { prop, cmpr } => mk(
            IndexDb::Prop,
            id_bytes(abrvs, Kind::Univ, &[prop]),
            lift_scans(cmpr.stortype, &cmpr.cmpr, &cmpr.valu, back)?,
            RowSource::Prop(prop.clone()),
            Shadow::Prop(prop.clone()),
        ),
        LiftBy::Array { form, prop, cmpr } => {
            let stortype = cmpr.stortype & 0x7fff;
            let (prefix, source, shadow) = match prop {
                Some(prop) => (
                    id_bytes(abrvs, Kind::Prop, &[form, prop]),
                    RowSource::Prop(prop.clone()),
                    Shadow::Prop(prop.clone()),
                ),
                None => (
                    id_bytes(abrvs, Kind::Form, &[form]),
                    RowSource::Valu,
                    Shadow::None,
                ),
            };
            mk(
                IndexDb::Array,
                prefix,
                lift_scans(stortype, &cmpr.cmpr, &cmpr.valu, back)?,
                source,
                shadow,
            )
        }
        LiftBy::Tag { tag, form } => {
            let prefix = tag_prefix(abrvs, tag, form.as_deref());
            let shadow = match form {
                None => Shadow::Tag(tag.clone()),
                Some(_) => Shadow::None,
            };
            mk(
                IndexDb::Tag,
                prefix,
                all(back),
                RowSource::Tag(tag.clone()),
                shadow,
            )
        }
        LiftBy::TagValu {
            tag,
            form,
            cmpr,
            valu,
        } => mk(
            IndexDb::Tag,
            tag_prefix(abrvs, tag, form.as_deref()),
            tag_valu_scans(cmpr, *valu, back)?,
            RowSource::Tag(tag.clone()),
            Shadow::Tag(tag.clone()),
        ),
        LiftBy::TagProp { form, tag, prop } => mk(
            IndexDb::TagProp,
            id_bytes(
                abrvs,
                Kind::TagProp,
                &[form.as_deref().unwrap_or(""), tag, prop],
            ),
            all(back),
            RowSource::TagProp(tag.clone(), prop.clone()),
            Shadow::TagProp(tag.clone(), prop.clone()),
        ),
        LiftBy::TagPropValu {
            form,
            tag,
            prop,
            cmpr,
        } => mk(
            IndexDb::TagProp,
            id_bytes(
                abrvs,
                Kind::TagProp,
                &[form.as_deref().unwrap_or(""), tag, prop],
            ),
            lift_scans(cmpr.stortype, &cmpr.cmpr, &cmpr.valu, back)?,
            RowSource::TagProp(tag.clone(), prop.clone()),
            Shadow::TagProp(tag.clone(), prop.clone()),
        ),
        LiftBy::DataName { name } => {
            let plan = mk(
                IndexDb::DataName,
                id_bytes(abrvs, Kind::Data, &[name]),
                vec![IndexScan::dups_all(back)],
                RowSource::None,
                Shadow::None,
            );
            plan.map(|mut plan| {
                plan.data = Some(name.clone());
                plan
            })
        }
    })
}

fn tag_prefix(abrvs: &AbrvReader<'_>, tag: &str, form: Option<&str>) -> Option<Vec<u8>> {
    let mut prefix = id_bytes(abrvs, Kind::Tag, &[tag])?;
    if let Some(form) = form {
        prefix.extend(id_bytes(abrvs, Kind::Form, &[form])?);
    }
    Some(prefix)
}

/// One index row of a lift: its key (prefix included) and the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) key: Vec<u8>,
    pub(crate) buid: Buid,
}

/// Where a scan stopped: the last row visited (kept or filtered out).
pub(crate) type Resume = Option<(Vec<u8>, Vec<u8>)>;

/// Rows visited per batch at most (filters may reject many rows).
const MAX_VISITS: usize = 8192;

/// Read up to `limit` rows of one scan of a plan, after `resume`. Returns the rows, the new
/// resume position, and whether the scan is exhausted.
pub(crate) fn scan_batch(
    txn: &Txn<'_>,
    shared: &crate::layer::LayerShared,
    plan: &LiftPlan,
    scan_idx: usize,
    resume: Resume,
    limit: usize,
    mut sodes: Option<&mut Vec<(Buid, Sode)>>,
) -> Result<(Vec<Row>, Resume, bool), Error> {
    let Some(scan) = plan.scans.get(scan_idx) else {
        return Ok((Vec::new(), resume, true));
    };
    let (dbs, abrvs) = (&shared.dbs, &*shared.abrvs);
    let db = plan.db.db(dbs);
    let full = |rel: &[u8]| {
        let mut key = plan.prefix.clone();
        key.extend_from_slice(rel);
        key
    };
    let mut spec = match &scan.kind {
        ScanKind::Dups(key) => Scan::dups(&full(key)),
        ScanKind::Prefix(pref) => Scan::prefix(&full(pref)),
        ScanKind::Range(min, max) => {
            if scan.back {
                Scan::range_back(Some(&full(max)), Some(&full(min)))
            } else {
                Scan::range(&full(min), Some(&full(max)))
            }
        }
    };
    if scan.back && !matches!(scan.kind, ScanKind::Range(..)) {
        spec = spec.back();
    }
    if let Some((key, val)) = &resume {
        spec = spec.after(key, val);
    }
    let mut rows = Vec::new();
    let mut last = resume;
    let mut visits = 0;
    let mut reader = None;
    for item in txn.scan(db, spec)? {
        let (key, val) = item?;
        visits += 1;
        last = Some((key.to_vec(), val.to_vec()));
        let Some((buid, byts)) = crate::layer::row_node(txn, dbs.sodes, val)? else {
            continue;
        };
        let keep = match &scan.filter {
            None => true,
            Some(filter) => {
                let indx = &key[plan.prefix.len().min(key.len())..];
                match filter_indx(filter, indx) {
                    Some(keep) => keep,
                    None => {
                        let reader = reader.get_or_insert_with(|| abrvs.read());
                        row_matches(txn, dbs, reader, plan, filter, indx, &buid)?
                    }
                }
            }
        };
        if keep {
            if let Some(out) = sodes.as_deref_mut() {
                // The seek that found the row's node read its storage node too.
                let byts = match byts {
                    Some(byts) => Some(byts),
                    None => txn.get(dbs.sodes, &buid)?,
                };
                if let Some(byts) = byts {
                    let reader = reader.get_or_insert_with(|| abrvs.read());
                    out.push((buid, Sode::decode(byts, reader)?));
                }
            }
            rows.push(Row {
                key: key.to_vec(),
                buid,
            });
        }
        if rows.len() >= limit || visits >= MAX_VISITS {
            return Ok((rows, last, false));
        }
    }
    Ok((rows, last, true))
}

fn row_matches(
    txn: &Txn<'_>,
    dbs: &Dbs,
    abrvs: &AbrvReader<'_>,
    plan: &LiftPlan,
    filter: &RowFilter,
    indx: &[u8],
    buid: &Buid,
) -> Result<bool, Error> {
    let sode = || -> Result<Option<Sode>, Error> {
        match txn.get(dbs.sodes, buid)? {
            Some(byts) => Ok(Some(Sode::decode(byts, abrvs)?)),
            None => Ok(None),
        }
    };
    match filter {
        RowFilter::Regex { regex, stortype } => {
            if let Some(valu) = decode_indx(*stortype, indx) {
                return Ok(regex_matches(regex, &valu));
            }
            let Some(sode) = sode()? else {
                return Ok(false);
            };
            let valu = match &plan.source {
                RowSource::Valu => sode.valu.as_ref().map(|(v, _)| v.clone()),
                RowSource::Prop(prop) => sode.prop(prop).map(|(v, _)| v.clone()),
                RowSource::TagProp(tag, prop) => sode.tagprop(tag, prop).map(|(v, _)| v.clone()),
                RowSource::Tag(_) | RowSource::None => None,
            };
            let Some(valu) = valu else {
                return Ok(false);
            };
            if plan.db == IndexDb::Array {
                // Check the element this row indexes.
                let elems = valu.as_array().cloned().unwrap_or_default();
                for elem in elems {
                    let same =
                        crate::layer::indx::indx_one(*stortype, &elem).is_ok_and(|ind| ind == indx);
                    if same {
                        return Ok(regex_matches(regex, &elem));
                    }
                }
                return Ok(false);
            }
            Ok(regex_matches(regex, &valu))
        }
        RowFilter::TagEq(_) | RowFilter::TagAt(..) => {
            let RowSource::Tag(tag) = &plan.source else {
                return Ok(false);
            };
            let Some(ival) = sode()?.and_then(|sode| sode.tag(tag)) else {
                return Ok(false);
            };
            Ok(match filter {
                RowFilter::TagEq(want) => ival == *want,
                RowFilter::TagAt(min, max) => match ival {
                    (Some(tick), Some(tock)) => tick < *max && tock > *min,
                    _ => false,
                },
                _ => false,
            })
        }
        _ => Ok(false),
    }
}

impl IndexScan {
    pub(crate) fn all(back: bool) -> IndexScan {
        IndexScan {
            kind: ScanKind::Prefix(Vec::new()),
            back,
            filter: None,
        }
    }

    pub(crate) fn dups_all(back: bool) -> IndexScan {
        IndexScan {
            kind: ScanKind::Dups(Vec::new()),
            back,
            filter: None,
        }
    }
}
