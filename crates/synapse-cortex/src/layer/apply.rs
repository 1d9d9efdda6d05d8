//! Applying a batch of nodeedits to a layer inside one write transaction.
//!
//! The batch is validated first (every new value must encode for its storage type), so once
//! rows are written nothing but an LMDB failure can stop it: a batch is applied whole.

use std::collections::{HashMap, HashSet, VecDeque};

use rmpv::Value;
use synapse_slab::{Scan, Txn};

use crate::layer::abrv::{AbrvId, BatchAbrvs, Kind};
use crate::layer::indx::{indx, indx_one};
use crate::layer::sode::Sode;
use crate::layer::{
    CounterKey, Dbs, Error, LOG_ROW_NODES, LayerShared, PendingLog, RowId, counter, row_id,
};
use crate::nodeedit::{
    Buid, BuidMap, Edit, EditMeta, EditOp, NodeEdit, TagIval, packb, stortype as st,
};

/// The longest light edge verb accepted (keys hold a buid and the verb).
pub const MAX_VERB_LEN: usize = 400;
/// The longest node data name accepted.
pub const MAX_DATA_NAME: usize = 400;

/// The outcome of applying one batch.
pub(crate) struct BatchResult {
    pub(crate) offset: Option<u64>,
    pub(crate) edits: Vec<NodeEdit>,
}

/// Check every edit of a batch before writing anything.
pub(crate) fn validate(edits: &[NodeEdit]) -> Result<(), Error> {
    for ne in edits {
        for edit in &ne.edits {
            match &edit.op {
                EditOp::NodeAdd { valu, stortype } => {
                    indx(*stortype, valu)?;
                    if *stortype & st::ARRAY_FLAG != 0 {
                        indx_one(st::MSGP, valu)?;
                    }
                }
                EditOp::PropSet {
                    prop,
                    valu,
                    stortype,
                    ..
                } => {
                    require_name(prop, "property")?;
                    indx(*stortype, valu)?;
                }
                EditOp::TagPropSet {
                    tag,
                    prop,
                    valu,
                    stortype,
                    ..
                } => {
                    require_name(tag, "tag")?;
                    require_name(prop, "tag property")?;
                    indx(*stortype, valu)?;
                }
                EditOp::TagSet { tag, .. } => require_name(tag, "tag")?,
                EditOp::NodeDataSet { name, .. } | EditOp::NodeDataDel { name, .. }
                    if name.len() > MAX_DATA_NAME =>
                {
                    return Err(Error::BadArg(format!(
                        "node data keys must be < {MAX_DATA_NAME} bytes, got {}.",
                        name.len()
                    )));
                }
                EditOp::EdgeAdd { verb, .. } | EditOp::EdgeDel { verb, .. } => {
                    require_name(verb, "verb")?;
                    if verb.len() > MAX_VERB_LEN {
                        return Err(Error::BadArg(format!(
                            "edge verbs must be at most {MAX_VERB_LEN} bytes"
                        )));
                    }
                }
                _ => {}
            }
            validate(&edit.nested)?;
        }
    }
    Ok(())
}

fn require_name(name: &str, what: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::BadArg(format!("empty {what} name in nodeedit")));
    }
    Ok(())
}

struct Staged {
    sode: Sode,
    dirty: bool,
    stored: bool,
}

/// One batch being applied.
pub(crate) struct Batch<'t, 'a> {
    txn: &'t mut Txn<'a>,
    dbs: Dbs,
    shared: &'t LayerShared,
    abrvs: BatchAbrvs<'t>,
    sodes: BuidMap<Staged>,
    /// Row ids of the nodes new in this batch (their storage nodes are written at the end).
    new_ids: HashSet<RowId>,
    counts: HashMap<CounterKey, i64, std::hash::BuildHasherDefault<crate::nodeedit::FastHasher>>,
    rows: Vec<IdxOp>,
    time: i64,
}

/// An index row change, applied in key order when the batch finishes (sorted writes are
/// much faster in LMDB; a stable sort keeps the order of changes to the same row).
struct IdxOp {
    order: u8,
    db: synapse_slab::Db,
    key: Vec<u8>,
    val: Vec<u8>,
    add: bool,
    counter: Option<CounterKey>,
}

impl<'t, 'a> Batch<'t, 'a> {
    pub(crate) fn new(txn: &'t mut Txn<'a>, shared: &'t LayerShared, time: i64) -> Self {
        Batch {
            txn,
            dbs: shared.dbs,
            shared,
            abrvs: BatchAbrvs::new(&shared.abrvs, &shared.persisted),
            sodes: BuidMap::default(),
            new_ids: HashSet::new(),
            counts: HashMap::default(),
            rows: Vec::new(),
            time,
        }
    }

    /// Apply nodeedits (nested ones after their parent edit changed something), then write
    /// storage nodes, counters, new abbreviations and the log row.
    ///
    /// The row being gathered ([`crate::layer::PendingLog`]) is written first and this batch
    /// gets its own.
    pub(crate) fn run(
        mut self,
        edits: Vec<NodeEdit>,
        meta: &EditMeta,
        log_offset: Option<u64>,
    ) -> Result<BatchResult, Error> {
        let flat = self.changes(edits)?;
        self.finish()?;
        let offset = match log_offset {
            Some(offs) if !flat.is_empty() => Some(self.log(offs, &flat, meta, false)?),
            _ => None,
        };
        Ok(BatchResult {
            offset,
            edits: flat,
        })
    }

    /// [`Batch::run`] for a deferred batch whose caller waits only for its changes, which
    /// join the log row being gathered when they can: `reply`
    /// gets them (with the log row's offset) as soon as they are known, and the index rows,
    /// storage nodes and counters are written after, while the caller goes on. Jobs on the
    /// slab thread run in order, so any read sent after the reply sees the whole batch. An
    /// error before the reply goes to `reply`; one after it is returned.
    pub(crate) fn run_replying(
        mut self,
        edits: Vec<NodeEdit>,
        meta: &EditMeta,
        log_offset: Option<u64>,
        reply: impl FnOnce(Result<BatchResult, Error>),
    ) -> Result<(), Error> {
        let known = self.changes(edits).and_then(|flat| {
            let offset = match log_offset {
                Some(offs) if !flat.is_empty() => Some(self.log(offs, &flat, meta, true)?),
                _ => None,
            };
            Ok(BatchResult {
                offset,
                edits: flat,
            })
        });
        let ok = known.is_ok();
        reply(known);
        if ok { self.finish() } else { Ok(()) }
    }

    /// Apply the nodeedits to the staged storage nodes and index rows; the changes, a
    /// nodeedit per node in the order the nodes came.
    fn changes(&mut self, edits: Vec<NodeEdit>) -> Result<Vec<NodeEdit>, Error> {
        let mut queue: VecDeque<NodeEdit> = edits.into();
        let mut order: Vec<Buid> = Vec::new();
        let mut results: BuidMap<NodeEdit> = BuidMap::default();
        while let Some(ne) = queue.pop_front() {
            self.load(&ne.buid)?;
            let mut changes = Vec::new();
            for Edit { op, nested } in ne.edits {
                let delta = self.edit(&ne.buid, &ne.form, op)?;
                if !delta.is_empty() && !nested.is_empty() {
                    queue.extend(nested);
                }
                changes.extend(delta);
            }
            if changes.is_empty() {
                continue;
            }
            match results.get_mut(&ne.buid) {
                Some(flat) => flat.edits.extend(changes.into_iter().map(Edit::from)),
                None => {
                    order.push(ne.buid);
                    results.insert(ne.buid, NodeEdit::new(ne.buid, ne.form, changes));
                }
            }
        }
        Ok(order
            .iter()
            .filter_map(|buid| results.remove(buid))
            .collect())
    }

    /// Log the batch's changes: into the row being gathered, or as a new row at `offs`.
    /// Returns the offset of the row that holds them.
    fn log(
        &mut self,
        offs: u64,
        flat: &[NodeEdit],
        meta: &EditMeta,
        gather: bool,
    ) -> Result<u64, Error> {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if gather
            && let Some(row) = pending.as_mut()
            && row.meta.user == meta.user
            && row.edits.len() + flat.len() <= LOG_ROW_NODES
        {
            row.edits.extend_from_slice(flat);
            return Ok(row.offset);
        }
        if let Some(row) = pending.take() {
            row.write(self.txn, self.dbs.nodeedits)?;
        }
        let row = PendingLog {
            offset: offs,
            meta: meta.clone(),
            edits: flat.to_vec(),
        };
        if gather {
            *pending = Some(row);
        } else {
            row.write(self.txn, self.dbs.nodeedits)?;
        }
        Ok(offs)
    }

    fn load(&mut self, buid: &Buid) -> Result<(), Error> {
        if self.sodes.contains_key(buid) {
            return Ok(());
        }
        // Index rows name a node by the first bytes of its buid (`row_id`): a new node whose
        // id another node of the layer (stored, or new in this batch) already has is refused.
        let id = row_id(buid);
        let (sode, stored) = match self.txn.seek(self.dbs.sodes, &id)? {
            Some((key, byts)) if key == buid.as_slice() => {
                (Sode::decode(byts, &self.abrvs.abrvs.read())?, true)
            }
            Some((key, _)) if key.starts_with(&id) => return Err(Error::RowIdTaken(*buid)),
            _ => (Sode::default(), false),
        };
        if !stored && !self.new_ids.insert(id) {
            return Err(Error::RowIdTaken(*buid));
        }
        self.sodes.insert(
            *buid,
            Staged {
                sode,
                dirty: false,
                stored,
            },
        );
        Ok(())
    }

    fn sode(&mut self, buid: &Buid) -> &mut Staged {
        self.sodes.entry(*buid).or_insert_with(|| Staged {
            sode: Sode::default(),
            dirty: false,
            stored: false,
        })
    }

    fn touch(&mut self, buid: &Buid, form: &str) {
        let staged = self.sode(buid);
        staged.dirty = true;
        if staged.sode.form.is_none() && !form.is_empty() {
            staged.sode.form = Some(form.to_owned());
        }
    }

    fn count(&mut self, key: CounterKey, delta: i64) {
        *self.counts.entry(key).or_insert(0) += delta;
    }

    fn id(&mut self, kind: Kind, parts: &[&str]) -> AbrvId {
        self.abrvs.id(kind, parts)
    }

    /// Add or remove the index rows of a property value (`abrvs`: the form-level and, for
    /// universal props, the cortex-level prop ids).
    fn prop_rows(
        &mut self,
        buid: &Buid,
        abrvs: &[AbrvId],
        valu: &Value,
        stortype: i64,
        add: bool,
    ) -> Result<(), Error> {
        let ndef_ref = |abrv: AbrvId| {
            let mut val = buid.to_vec();
            val.extend_from_slice(&abrv.to_be_bytes());
            val
        };
        if stortype & st::ARRAY_FLAG != 0 {
            let elem = stortype & 0x7fff;
            let elems = indx(stortype, valu)?;
            let whole = indx_one(st::MSGP, valu)?;
            for abrv in abrvs {
                for ind in &elems {
                    let key = prefixed(*abrv, ind);
                    self.row(self.dbs.byarray, b'a', *abrv, &key, &row_id(buid), add)?;
                    if elem == st::NDEF && *abrv == abrvs[0] {
                        self.row(self.dbs.byndef, b'n', 0, ind, &ndef_ref(*abrv), add)?;
                    }
                }
                let key = prefixed(*abrv, &whole);
                self.row(self.dbs.byprop, b'p', *abrv, &key, &row_id(buid), add)?;
            }
            return Ok(());
        }
        let ind = indx_one(stortype, valu)?;
        for abrv in abrvs {
            let key = prefixed(*abrv, &ind);
            self.row(self.dbs.byprop, b'p', *abrv, &key, &row_id(buid), add)?;
            if stortype == st::NDEF && *abrv == abrvs[0] {
                self.row(self.dbs.byndef, b'n', 0, &ind, &ndef_ref(*abrv), add)?;
            }
        }
        Ok(())
    }

    fn row(
        &mut self,
        db: synapse_slab::Db,
        ckind: u8,
        abrv: AbrvId,
        key: &[u8],
        val: &[u8],
        add: bool,
    ) -> Result<(), Error> {
        let counter = (ckind != b'n').then(|| counter(ckind, abrv, None));
        self.defer(db, ckind, key.to_vec(), val.to_vec(), add, counter);
        Ok(())
    }

    fn defer(
        &mut self,
        db: synapse_slab::Db,
        order: u8,
        key: Vec<u8>,
        val: Vec<u8>,
        add: bool,
        counter: Option<CounterKey>,
    ) {
        self.rows.push(IdxOp {
            order,
            db,
            key,
            val,
            add,
            counter,
        });
    }

    fn prop_abrvs(&mut self, form: &str, prop: &str) -> Vec<AbrvId> {
        let mut out = vec![self.id(Kind::Prop, &[form, prop])];
        if prop.starts_with('.') {
            out.push(self.id(Kind::Univ, &[prop]));
        }
        out
    }

    fn edit(&mut self, buid: &Buid, form: &str, op: EditOp) -> Result<Vec<EditOp>, Error> {
        match op {
            EditOp::NodeAdd { valu, stortype } => self.node_add(buid, form, valu, stortype),
            EditOp::NodeDel { .. } => self.node_del(buid, form),
            EditOp::PropSet {
                prop,
                valu,
                stortype,
                ..
            } => self.prop_set(buid, form, &prop, valu, stortype),
            EditOp::PropDel { prop, .. } => self.prop_del(buid, form, &prop),
            EditOp::TagSet { tag, valu, .. } => self.tag_set(buid, form, &tag, valu),
            EditOp::TagDel { tag, .. } => self.tag_del(buid, form, &tag),
            EditOp::TagPropSet {
                tag,
                prop,
                valu,
                stortype,
                ..
            } => self.tagprop_set(buid, form, &tag, &prop, valu, stortype),
            EditOp::TagPropDel { tag, prop, .. } => self.tagprop_del(buid, form, &tag, &prop),
            EditOp::NodeDataSet { name, valu, oldv } => {
                self.data_set(buid, form, &name, valu, oldv)
            }
            EditOp::NodeDataDel { name, .. } => self.data_del(buid, &name),
            EditOp::EdgeAdd { verb, n2 } => self.edge_add(buid, form, &verb, n2),
            EditOp::EdgeDel { verb, n2 } => self.edge_del(buid, &verb, n2),
        }
    }

    fn node_add(
        &mut self,
        buid: &Buid,
        form: &str,
        valu: Value,
        stortype: i64,
    ) -> Result<Vec<EditOp>, Error> {
        if form.is_empty() {
            return Ok(Vec::new());
        }
        let isarray = stortype & st::ARRAY_FLAG != 0;
        let had = self.sode(buid).sode.valu.clone();
        if !isarray && had.as_ref() == Some(&(valu.clone(), stortype)) {
            return Ok(Vec::new());
        }
        let abrv = self.id(Kind::Form, &[form]);
        if let Some((oldv, oldt)) = &had {
            self.prop_rows(buid, &[abrv], oldv, *oldt, false)?;
        }
        self.prop_rows(buid, &[abrv], &valu, stortype, true)?;
        self.touch(buid, form);
        self.sode(buid).sode.valu = Some((valu.clone(), stortype));
        let mut out = vec![EditOp::NodeAdd { valu, stortype }];
        out.extend(self.prop_set(buid, form, ".created", Value::from(self.time), st::MINTIME)?);
        Ok(out)
    }

    fn node_del(&mut self, buid: &Buid, form: &str) -> Result<Vec<EditOp>, Error> {
        let Some((valu, stortype)) = self.sode(buid).sode.valu.clone() else {
            return Ok(Vec::new());
        };
        let form = match self.sode(buid).sode.form.clone() {
            Some(form) => form,
            None => form.to_owned(),
        };
        let abrv = self.id(Kind::Form, &[&form]);
        self.prop_rows(buid, &[abrv], &valu, stortype, false)?;
        self.wipe_data(buid)?;
        self.wipe_n1_edges(buid)?;
        let staged = self.sode(buid);
        staged.sode.valu = None;
        staged.dirty = true;
        Ok(vec![EditOp::NodeDel { valu, stortype }])
    }

    fn prop_set(
        &mut self,
        buid: &Buid,
        form: &str,
        prop: &str,
        valu: Value,
        stortype: i64,
    ) -> Result<Vec<EditOp>, Error> {
        if form.is_empty() {
            return Ok(Vec::new());
        }
        let isarray = stortype & st::ARRAY_FLAG != 0;
        let old = self.sode(buid).sode.prop(prop).map(|(v, t)| (v.clone(), t));
        let abrvs = self.prop_abrvs(form, prop);
        let mut valu = valu;
        if let Some((oldv, oldt)) = &old {
            valu = merge_valu(stortype, oldv, valu);
            if !isarray && valu == *oldv && stortype == *oldt {
                return Ok(Vec::new());
            }
            self.prop_rows(buid, &abrvs, oldv, *oldt, false)?;
        }
        self.prop_rows(buid, &abrvs, &valu, stortype, true)?;
        self.touch(buid, form);
        self.sode(buid).sode.set_prop(prop, valu.clone(), stortype);
        Ok(vec![EditOp::PropSet {
            prop: prop.to_owned(),
            valu,
            oldv: old.map_or(Value::Nil, |(v, _)| v),
            stortype,
        }])
    }

    fn prop_del(&mut self, buid: &Buid, form: &str, prop: &str) -> Result<Vec<EditOp>, Error> {
        let Some((oldv, oldt)) = self.sode(buid).sode.pop_prop(prop) else {
            return Ok(Vec::new());
        };
        let form = self
            .sode(buid)
            .sode
            .form
            .clone()
            .unwrap_or_else(|| form.to_owned());
        let abrvs = self.prop_abrvs(&form, prop);
        self.prop_rows(buid, &abrvs, &oldv, oldt, false)?;
        self.sode(buid).dirty = true;
        Ok(vec![EditOp::PropDel {
            prop: prop.to_owned(),
            oldv,
            stortype: oldt,
        }])
    }

    fn tag_set(
        &mut self,
        buid: &Buid,
        form: &str,
        tag: &str,
        valu: TagIval,
    ) -> Result<Vec<EditOp>, Error> {
        if form.is_empty() {
            return Ok(Vec::new());
        }
        let old = self.sode(buid).sode.tag(tag);
        let mut valu = valu;
        if let Some(oldv) = old {
            if oldv != (None, None) && valu != (None, None) {
                valu = (min_opt(oldv.0, valu.0), max_opt(oldv.1, valu.1));
            }
            if oldv == valu {
                return Ok(Vec::new());
            }
        }
        let tagabrv = self.id(Kind::Tag, &[tag]);
        let formabrv = self.id(Kind::Form, &[form]);
        self.touch(buid, form);
        self.sode(buid).sode.set_tag(tag, valu);
        if old.is_none() {
            let key = tag_key(tagabrv, formabrv).to_vec();
            let counter = Some(counter(b't', tagabrv, Some(formabrv)));
            self.defer(
                self.dbs.bytag,
                b't',
                key,
                row_id(buid).to_vec(),
                true,
                counter,
            );
        }
        Ok(vec![EditOp::TagSet {
            tag: tag.to_owned(),
            valu,
            oldv: old,
        }])
    }

    fn tag_del(&mut self, buid: &Buid, form: &str, tag: &str) -> Result<Vec<EditOp>, Error> {
        let Some(oldv) = self.sode(buid).sode.pop_tag(tag) else {
            return Ok(Vec::new());
        };
        let form = self
            .sode(buid)
            .sode
            .form
            .clone()
            .unwrap_or_else(|| form.to_owned());
        self.sode(buid).dirty = true;
        let tagabrv = self.id(Kind::Tag, &[tag]);
        let formabrv = self.id(Kind::Form, &[&form]);
        let key = tag_key(tagabrv, formabrv).to_vec();
        let counter = Some(counter(b't', tagabrv, Some(formabrv)));
        self.defer(
            self.dbs.bytag,
            b't',
            key,
            row_id(buid).to_vec(),
            false,
            counter,
        );
        Ok(vec![EditOp::TagDel {
            tag: tag.to_owned(),
            oldv: Some(oldv),
        }])
    }

    fn tagprop_abrvs(&mut self, form: &str, tag: &str, prop: &str) -> [AbrvId; 2] {
        [
            self.id(Kind::TagProp, &["", tag, prop]),
            self.id(Kind::TagProp, &[form, tag, prop]),
        ]
    }

    fn tagprop_rows(
        &mut self,
        buid: &Buid,
        abrvs: [AbrvId; 2],
        valu: &Value,
        stortype: i64,
        add: bool,
    ) -> Result<(), Error> {
        for ind in indx(stortype, valu)? {
            for abrv in abrvs {
                let key = prefixed(abrv, &ind);
                self.row(self.dbs.bytagprop, b'T', abrv, &key, &row_id(buid), add)?;
            }
        }
        Ok(())
    }

    fn tagprop_set(
        &mut self,
        buid: &Buid,
        form: &str,
        tag: &str,
        prop: &str,
        valu: Value,
        stortype: i64,
    ) -> Result<Vec<EditOp>, Error> {
        if form.is_empty() {
            return Ok(Vec::new());
        }
        let old = self
            .sode(buid)
            .sode
            .tagprop(tag, prop)
            .map(|(v, t)| (v.clone(), t));
        let abrvs = self.tagprop_abrvs(form, tag, prop);
        let mut valu = valu;
        if let Some((oldv, oldt)) = &old {
            valu = merge_valu(stortype, oldv, valu);
            if valu == *oldv && stortype == *oldt {
                return Ok(Vec::new());
            }
            self.tagprop_rows(buid, abrvs, oldv, *oldt, false)?;
        }
        self.touch(buid, form);
        self.sode(buid)
            .sode
            .set_tagprop(tag, prop, valu.clone(), stortype);
        self.tagprop_rows(buid, abrvs, &valu, stortype, true)?;
        Ok(vec![EditOp::TagPropSet {
            tag: tag.to_owned(),
            prop: prop.to_owned(),
            valu,
            oldv: old.map_or(Value::Nil, |(v, _)| v),
            stortype,
        }])
    }

    fn tagprop_del(
        &mut self,
        buid: &Buid,
        form: &str,
        tag: &str,
        prop: &str,
    ) -> Result<Vec<EditOp>, Error> {
        let Some((oldv, oldt)) = self.sode(buid).sode.pop_tagprop(tag, prop) else {
            return Ok(Vec::new());
        };
        let form = self
            .sode(buid)
            .sode
            .form
            .clone()
            .unwrap_or_else(|| form.to_owned());
        self.sode(buid).dirty = true;
        let abrvs = self.tagprop_abrvs(&form, tag, prop);
        self.tagprop_rows(buid, abrvs, &oldv, oldt, false)?;
        Ok(vec![EditOp::TagPropDel {
            tag: tag.to_owned(),
            prop: prop.to_owned(),
            oldv,
            stortype: oldt,
        }])
    }

    fn data_set(
        &mut self,
        buid: &Buid,
        form: &str,
        name: &str,
        valu: Value,
        oldv: Value,
    ) -> Result<Vec<EditOp>, Error> {
        let abrv = self.id(Kind::Data, &[name]);
        let key = data_key(buid, abrv);
        let byts = packb(&valu);
        let old = self.txn.replace(self.dbs.nodedata, &key, &byts)?;
        if old.as_deref() == Some(byts.as_slice()) {
            return Ok(Vec::new());
        }
        if self.sode(buid).sode.form.is_none() {
            self.touch(buid, form);
        }
        self.txn.put(self.dbs.dataname, &abrv.to_be_bytes(), buid)?;
        let oldv = match old {
            Some(old) => crate::nodeedit::unpackb(&old)
                .ok_or_else(|| Error::BadStorage("bad node data value".into()))?,
            None => oldv,
        };
        Ok(vec![EditOp::NodeDataSet {
            name: name.to_owned(),
            valu,
            oldv,
        }])
    }

    fn data_del(&mut self, buid: &Buid, name: &str) -> Result<Vec<EditOp>, Error> {
        let abrv = self.id(Kind::Data, &[name]);
        let Some(old) = self.txn.pop(self.dbs.nodedata, &data_key(buid, abrv))? else {
            return Ok(Vec::new());
        };
        self.txn
            .delete(self.dbs.dataname, &abrv.to_be_bytes(), Some(buid))?;
        self.sode(buid).dirty = true;
        let oldv = crate::nodeedit::unpackb(&old)
            .ok_or_else(|| Error::BadStorage("bad node data value".into()))?;
        Ok(vec![EditOp::NodeDataDel {
            name: name.to_owned(),
            oldv,
        }])
    }

    fn wipe_data(&mut self, buid: &Buid) -> Result<(), Error> {
        let keys: Vec<Vec<u8>> = self
            .txn
            .scan(self.dbs.nodedata, Scan::prefix(buid))?
            .map(|row| row.map(|(key, _)| key.to_vec()))
            .collect::<Result<_, _>>()?;
        for key in keys {
            self.txn.delete(self.dbs.nodedata, &key, None)?;
            self.txn.delete(self.dbs.dataname, &key[32..], Some(buid))?;
        }
        Ok(())
    }

    fn wipe_n1_edges(&mut self, buid: &Buid) -> Result<(), Error> {
        let edges: Vec<(Vec<u8>, Vec<u8>)> = self
            .txn
            .scan(self.dbs.edgesn1, Scan::prefix(buid))?
            .map(|row| row.map(|(key, val)| (key[32..].to_vec(), val.to_vec())))
            .collect::<Result<_, _>>()?;
        for (verb, n2) in edges {
            let n2: Buid = n2
                .as_slice()
                .try_into()
                .map_err(|_| Error::BadStorage("bad edge row".into()))?;
            self.del_edge_rows(buid, &verb, &n2)?;
        }
        Ok(())
    }

    fn del_edge_rows(&mut self, n1: &Buid, verb: &[u8], n2: &Buid) -> Result<bool, Error> {
        if !self
            .txn
            .delete(self.dbs.edgesn1, &cat(n1, verb), Some(n2))?
        {
            return Ok(false);
        }
        self.txn.delete(self.dbs.byverb, verb, Some(&cat(n1, n2)))?;
        self.txn
            .delete(self.dbs.edgesn2, &cat(n2, verb), Some(n1))?;
        self.txn
            .delete(self.dbs.edgesn1n2, &cat(n1, n2), Some(verb))?;
        self.count(counter(b'e', 0, None), -1);
        Ok(true)
    }

    fn edge_add(
        &mut self,
        buid: &Buid,
        form: &str,
        verb: &str,
        n2: Buid,
    ) -> Result<Vec<EditOp>, Error> {
        if form.is_empty() {
            return Ok(Vec::new());
        }
        let venc = verb.as_bytes();
        if self.txn.has_dup(self.dbs.edgesn1, &cat(buid, venc), &n2)? {
            return Ok(Vec::new());
        }
        if self.sode(buid).sode.form.is_none() {
            self.touch(buid, form);
        }
        self.txn.put(self.dbs.byverb, venc, &cat(buid, &n2))?;
        self.txn.put(self.dbs.edgesn1, &cat(buid, venc), &n2)?;
        self.txn.put(self.dbs.edgesn2, &cat(&n2, venc), buid)?;
        self.txn.put(self.dbs.edgesn1n2, &cat(buid, &n2), venc)?;
        self.count(counter(b'e', 0, None), 1);
        Ok(vec![EditOp::EdgeAdd {
            verb: verb.to_owned(),
            n2,
        }])
    }

    fn edge_del(&mut self, buid: &Buid, verb: &str, n2: Buid) -> Result<Vec<EditOp>, Error> {
        if !self.del_edge_rows(buid, verb.as_bytes(), &n2)? {
            return Ok(Vec::new());
        }
        self.sode(buid).dirty = true;
        Ok(vec![EditOp::EdgeDel {
            verb: verb.to_owned(),
            n2,
        }])
    }

    /// Write or drop the touched storage nodes, then counters and new abbreviations.
    fn finish(&mut self) -> Result<(), Error> {
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| (a.order, &a.key).cmp(&(b.order, &b.key)));
        for row in rows {
            let changed = if row.add {
                self.txn.put(row.db, &row.key, &row.val)?
            } else {
                self.txn.delete(row.db, &row.key, Some(&row.val))?
            };
            if let (true, Some(key)) = (changed, row.counter) {
                self.count(key, if row.add { 1 } else { -1 });
            }
        }
        let sodes = std::mem::take(&mut self.sodes);
        self.new_ids.clear();
        for (buid, staged) in sodes {
            if !staged.dirty {
                continue;
            }
            let keep = !staged.sode.is_empty()
                || self.txn.prefix_exists(self.dbs.nodedata, &buid)?
                || self.txn.prefix_exists(self.dbs.edgesn1, &buid)?;
            if keep {
                let byts = staged.sode.encode(&mut self.abrvs);
                self.txn.put(self.dbs.sodes, &buid, &byts)?;
            } else if staged.stored {
                self.txn.delete(self.dbs.sodes, &buid, None)?;
            }
        }
        let counts = std::mem::take(&mut self.counts);
        for (key, delta) in counts {
            if delta == 0 {
                continue;
            }
            let key = key.bytes();
            let cur = match self.txn.get(self.dbs.counts, &key)? {
                Some(byts) => i64::from_be_bytes(
                    byts.try_into()
                        .map_err(|_| Error::BadStorage("bad counter".into()))?,
                ),
                None => 0,
            };
            self.txn
                .put(self.dbs.counts, &key, &(cur + delta).to_be_bytes())?;
        }
        let new = std::mem::take(&mut self.abrvs.new);
        for id in new {
            if let Some(name) = self.abrvs.abrvs.key_of(id) {
                self.txn.put(self.dbs.abrv, &id.to_be_bytes(), &name)?;
            }
        }
        Ok(())
    }
}

/// Merge a new value into an old one as the storage type wants: intervals widen, min/max
/// times keep the smaller/larger.
fn merge_valu(stortype: i64, oldv: &Value, valu: Value) -> Value {
    match stortype {
        st::IVAL => {
            let nums: Option<Vec<i64>> = oldv
                .as_array()
                .into_iter()
                .chain(valu.as_array())
                .flatten()
                .map(Value::as_i64)
                .collect();
            match nums {
                Some(nums) if nums.len() == 4 => {
                    let min = nums.iter().copied().min().unwrap_or_default();
                    let max = nums.iter().copied().max().unwrap_or_default();
                    Value::Array(vec![Value::from(min), Value::from(max)])
                }
                _ => valu,
            }
        }
        st::MINTIME => match (oldv.as_i64(), valu.as_i64()) {
            (Some(o), Some(n)) => Value::from(o.min(n)),
            _ => valu,
        },
        st::MAXTIME => match (oldv.as_i64(), valu.as_i64()) {
            (Some(o), Some(n)) => Value::from(o.max(n)),
            _ => valu,
        },
        _ => valu,
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn prefixed(abrv: AbrvId, rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + rest.len());
    out.extend_from_slice(&abrv.to_be_bytes());
    out.extend_from_slice(rest);
    out
}

pub(crate) fn tag_key(tag: AbrvId, form: AbrvId) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&tag.to_be_bytes());
    out[4..].copy_from_slice(&form.to_be_bytes());
    out
}

pub(crate) fn data_key(buid: &Buid, abrv: AbrvId) -> [u8; 36] {
    let mut out = [0u8; 36];
    out[..32].copy_from_slice(buid);
    out[32..].copy_from_slice(&abrv.to_be_bytes());
    out
}

pub(crate) fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_merge_by_storage_type() {
        let ival = |a: i64, b: i64| Value::Array(vec![Value::from(a), Value::from(b)]);
        assert_eq!(merge_valu(st::IVAL, &ival(5, 10), ival(1, 6)), ival(1, 10));
        assert_eq!(
            merge_valu(st::MINTIME, &Value::from(5), Value::from(7)),
            Value::from(5)
        );
        assert_eq!(
            merge_valu(st::MAXTIME, &Value::from(5), Value::from(7)),
            Value::from(7)
        );
        assert_eq!(
            merge_valu(st::I64, &Value::from(5), Value::from(7)),
            Value::from(7)
        );
    }

    #[test]
    fn validation_rejects_unencodable_values() {
        let bad = NodeEdit::new(
            [0; 32],
            "inet:ipv4",
            vec![EditOp::NodeAdd {
                valu: Value::from("x"),
                stortype: st::U32,
            }],
        );
        assert!(validate(&[bad]).is_err());
        let long = NodeEdit::new(
            [0; 32],
            "inet:ipv4",
            vec![EditOp::EdgeAdd {
                verb: "v".repeat(MAX_VERB_LEN + 1),
                n2: [1; 32],
            }],
        );
        assert!(validate(&[long]).is_err());
    }
}
