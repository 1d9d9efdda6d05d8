//! The editor: high level edit requests turned into nodeedits for a view's write layer.
//!
//! An [`Editor`] stages changes per node ("proto nodes", as the reference's `SnapEditor`),
//! normalizing values through the model and adding the nodes values refer to (prop types
//! that are forms, comp/ndef fields, array elements, `syn:tag` nodes of tags and their
//! ancestors). [`Editor::apply`] sends everything staged as one atomic batch to the write
//! layer and returns the applied nodeedits; follow-up batches made by model hooks (fqdn zone
//! changes propagating to subdomains) come after it.
//!
//! Reads of existing node state go through a cache that [`Editor::prefetch`] fills with one
//! read per layer, which is how bulk adds avoid a read per node. The cache lives as long as
//! the editor (a Storm query, as the reference's snap node cache), across applies: an apply
//! drops the nodes its batch edited, and the whole cache is dropped as soon as any batch
//! not made by this editor was applied to a layer of the view (the layers' write
//! generations), so the editor never works from state older than the last write.

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use rmpv::Value;

use crate::layer::LiftBy;
use crate::model::{Model, ModelError, NormInfo, StorLift};
use crate::node::Node;
use crate::nodeedit::{
    Buid, BuidMap, EditMeta, EditOp, NodeEdit, TagIval, buid as make_buid, stortype as st,
};
use crate::view::{Error, View};

/// A permission a requested edit needs, checked against the write layer before the edit is
/// staged (auto-added nodes and their props need none, as in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditPerm<'a> {
    /// `node.add.<form>`
    NodeAdd {
        /// The form.
        form: &'a str,
    },
    /// `node.del.<form>`
    NodeDel {
        /// The form.
        form: &'a str,
    },
    /// `node.prop.set.<form>.<prop>` (legacy: `node.prop.set.<form:prop>`)
    PropSet {
        /// The form.
        form: &'a str,
        /// The relative prop name.
        prop: &'a str,
    },
    /// `node.prop.del.<form>.<prop>` (legacy: `node.prop.del.<form:prop>`)
    PropDel {
        /// The form.
        form: &'a str,
        /// The relative prop name.
        prop: &'a str,
    },
    /// `node.tag.add.<tag parts>` (also for tag intervals and tag props)
    TagAdd {
        /// The normalized tag.
        tag: &'a str,
    },
    /// `node.tag.del.<tag parts>` (also for tag props)
    TagDel {
        /// The normalized tag.
        tag: &'a str,
    },
    /// `node.data.set.<name>`
    DataSet {
        /// The data name.
        name: &'a str,
    },
    /// `node.data.pop.<name>`
    DataPop {
        /// The data name.
        name: &'a str,
    },
    /// `node.edge.add.<verb>`
    EdgeAdd {
        /// The verb.
        verb: &'a str,
    },
    /// `node.edge.del.<verb>`
    EdgeDel {
        /// The verb.
        verb: &'a str,
    },
}

impl EditPerm<'_> {
    /// The permission path, e.g. `["node", "tag", "add", "foo", "bar"]`.
    pub fn path(&self) -> Vec<String> {
        let base = |parts: &[&str]| parts.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        let tagged = |head: &[&str], tag: &str| {
            let mut out = base(head);
            out.extend(tag.split('.').map(str::to_owned));
            out
        };
        match self {
            EditPerm::NodeAdd { form } => base(&["node", "add", form]),
            EditPerm::NodeDel { form } => base(&["node", "del", form]),
            EditPerm::PropSet { form, prop } => base(&["node", "prop", "set", form, prop]),
            EditPerm::PropDel { form, prop } => base(&["node", "prop", "del", form, prop]),
            EditPerm::TagAdd { tag } => tagged(&["node", "tag", "add"], tag),
            EditPerm::TagDel { tag } => tagged(&["node", "tag", "del"], tag),
            EditPerm::DataSet { name } => base(&["node", "data", "set", name]),
            EditPerm::DataPop { name } => base(&["node", "data", "pop", name]),
            EditPerm::EdgeAdd { verb } => base(&["node", "edge", "add", verb]),
            EditPerm::EdgeDel { verb } => base(&["node", "edge", "del", verb]),
        }
    }

    /// The legacy permission path of prop edits (`node.prop.set.<form:prop>`), if any.
    pub fn legacy_path(&self) -> Option<Vec<String>> {
        let full = |form: &str, prop: &str| {
            if prop.starts_with('.') {
                format!("{form}{prop}")
            } else {
                format!("{form}:{prop}")
            }
        };
        match self {
            EditPerm::PropSet { form, prop } => Some(vec![
                "node".into(),
                "prop".into(),
                "set".into(),
                full(form, prop),
            ]),
            EditPerm::PropDel { form, prop } => Some(vec![
                "node".into(),
                "prop".into(),
                "del".into(),
                full(form, prop),
            ]),
            _ => None,
        }
    }
}

/// The permission hook the editor calls before each requested edit. Storm implements it
/// with the user and the write layer's auth gate; an error refuses the edit (it is returned
/// as [`Error::Denied`]).
pub trait EditPerms: Send + Sync {
    /// Allow or refuse one edit.
    fn check(&self, perm: &EditPerm<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// A hook allowing everything (admins, internal edits).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AllowAll {
    /// The hook as a shareable trait object.
    pub fn arc() -> Arc<dyn EditPerms> {
        Arc::new(AllowAll)
    }
}

impl EditPerms for AllowAll {
    fn check(&self, _perm: &EditPerm<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
}

/// Staged sets, emitted in the reference's order.
#[derive(Debug, Default)]
struct Sets {
    props: Vec<(String, Value, i64)>,
    tags: Vec<(String, TagIval)>,
    edges: Vec<(String, Buid)>,
    edgedels: Vec<(String, Buid)>,
    tagprops: Vec<(String, String, Value, i64)>,
    data: Vec<(String, Value)>,
}

impl Sets {
    fn is_empty(&self) -> bool {
        self.props.is_empty()
            && self.tags.is_empty()
            && self.edges.is_empty()
            && self.edgedels.is_empty()
            && self.tagprops.is_empty()
            && self.data.is_empty()
    }

    fn emit(&self, out: &mut Vec<EditOp>) {
        for (prop, valu, stortype) in &self.props {
            out.push(EditOp::PropSet {
                prop: prop.clone(),
                valu: valu.clone(),
                oldv: Value::Nil,
                stortype: *stortype,
            });
        }
        for (tag, valu) in &self.tags {
            out.push(EditOp::TagSet {
                tag: tag.clone(),
                valu: *valu,
                oldv: None,
            });
        }
        for (verb, n2) in &self.edges {
            out.push(EditOp::EdgeAdd {
                verb: verb.clone(),
                n2: *n2,
            });
        }
        for (verb, n2) in &self.edgedels {
            out.push(EditOp::EdgeDel {
                verb: verb.clone(),
                n2: *n2,
            });
        }
        for (tag, prop, valu, stortype) in &self.tagprops {
            out.push(EditOp::TagPropSet {
                tag: tag.clone(),
                prop: prop.clone(),
                valu: valu.clone(),
                oldv: Value::Nil,
                stortype: *stortype,
            });
        }
        for (name, valu) in &self.data {
            out.push(EditOp::NodeDataSet {
                name: name.clone(),
                valu: valu.clone(),
                oldv: Value::Nil,
            });
        }
    }
}

/// A segment of staged edits: sets (coalesced), then deletes in request order. A set
/// requested after a delete starts a new segment, so requests keep their order.
#[derive(Debug, Default)]
struct Seg {
    sets: Sets,
    dels: Vec<EditOp>,
}

fn upsert<T>(items: &mut Vec<(String, T)>, name: &str, valu: T) {
    match items.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = valu,
        None => items.push((name.to_owned(), valu)),
    }
}

/// A node being edited.
#[derive(Debug)]
struct Proto {
    buid: Buid,
    form: String,
    valu: Value,
    stortype: i64,
    is_new: bool,
    ndef_layer: Option<usize>,
    props: Vec<(String, Value)>,
    tags: Vec<(String, TagIval)>,
    tagprops: Vec<(String, Vec<(String, Value)>)>,
    segs: Vec<Seg>,
    hooked: bool,
}

impl Proto {
    fn new(buid: Buid, form: &str, valu: Value, stortype: i64, node: Option<Node>) -> Proto {
        let mut proto = Proto {
            buid,
            form: form.to_owned(),
            valu,
            stortype,
            is_new: node.is_none(),
            ndef_layer: None,
            props: Vec::new(),
            tags: Vec::new(),
            tagprops: Vec::new(),
            segs: Vec::new(),
            hooked: false,
        };
        if let Some(node) = node {
            proto.ndef_layer = Some(node.ndef_layer);
            proto.props = node.props;
            proto.tags = node.tags;
            proto.tagprops = node.tagprops;
        }
        proto
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn tag(&self, name: &str) -> Option<TagIval> {
        self.tags.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    fn tagprop(&self, tag: &str, prop: &str) -> Option<&Value> {
        self.tagprops
            .iter()
            .find(|(t, _)| t == tag)
            .and_then(|(_, props)| props.iter().find(|(n, _)| n == prop))
            .map(|(_, v)| v)
    }

    fn sets(&mut self) -> &mut Sets {
        if self.segs.last().is_none_or(|seg| !seg.dels.is_empty()) {
            self.segs.push(Seg::default());
        }
        let last = self.segs.len() - 1;
        &mut self.segs[last].sets
    }

    fn dels(&mut self) -> &mut Vec<EditOp> {
        if self.segs.is_empty() {
            self.segs.push(Seg::default());
        }
        let last = self.segs.len() - 1;
        &mut self.segs[last].dels
    }

    fn nodeedit(&self) -> Option<NodeEdit> {
        let mut ops = Vec::new();
        if self.is_new {
            ops.push(EditOp::NodeAdd {
                valu: self.valu.clone(),
                stortype: self.stortype,
            });
        }
        for seg in &self.segs {
            seg.sets.emit(&mut ops);
            ops.extend(seg.dels.iter().cloned());
        }
        (!ops.is_empty()).then(|| NodeEdit::new(self.buid, self.form.clone(), ops))
    }

    fn has_edits(&self) -> bool {
        self.is_new
            || self
                .segs
                .iter()
                .any(|seg| !seg.sets.is_empty() || !seg.dels.is_empty())
    }
}

fn truthy(valu: Option<&Value>) -> bool {
    match valu {
        Some(Value::Boolean(b)) => *b,
        Some(Value::Integer(i)) => i.as_i64() != Some(0),
        Some(Value::Nil) | None => false,
        Some(_) => true,
    }
}

/// The reference's `s_time.ival(*times)`: min and max of the given times (`max + 1` when
/// they are equal).
fn ival_merge(times: &[Option<i64>]) -> TagIval {
    let vals: Vec<i64> = times.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (vals.iter().min().copied(), vals.iter().max().copied()) else {
        return (None, None);
    };
    if min == max {
        (Some(min), Some(max.saturating_add(1)))
    } else {
        (Some(min), Some(max))
    }
}

fn json_safe(valu: &Value) -> Result<(), String> {
    match valu {
        Value::Binary(_) => Err("Object of type bytes is not JSON serializable".into()),
        Value::Ext(code, _) if *code > 1 => Err("Ext values are not JSON serializable".into()),
        Value::Array(items) => items.iter().try_for_each(json_safe),
        Value::Map(items) => items.iter().try_for_each(|(k, v)| {
            if !k.is_str() {
                return Err("keys must be str, int, float, bool or None".into());
            }
            json_safe(v)
        }),
        Value::F64(f) if !f.is_finite() => {
            Err("Out of range float values are not JSON compliant".into())
        }
        _ => Ok(()),
    }
}

/// A batch of requested edits on a view (see the module docs).
pub struct Editor {
    view: View,
    model: Arc<Model>,
    meta: EditMeta,
    perms: Arc<dyn EditPerms>,
    strict: bool,
    deferred: bool,
    warnings: Vec<String>,
    protos: Vec<Proto>,
    index: BuidMap<usize>,
    /// Nodes the caller holds, used when their node is gone from the view ([`Editor::adopt`]).
    adopted: BuidMap<Node>,
    cache: BuidMap<Option<Node>>,
    /// The view's layer write generations the cache is current for.
    cache_gens: Vec<(usize, u64)>,
    tagnorms: HashMap<String, Result<(String, NormInfo), ModelError>>,
    /// Deprecated props set as subs of a prop's value (their deprecation warning is skipped).
    depr_skips: Vec<String>,
    /// A batch taken from the protos by [`Editor::prepare`], applied first by the next
    /// [`Editor::apply`].
    prepared: Option<Prepared>,
    /// The batches applied with deferred commits since [`Editor::mark_committed`]: their
    /// [`crate::layer::Applied::deferred_seq`], and the nodes they touched.
    uncommitted_seqs: Vec<u64>,
    uncommitted: BuidMap<()>,
}

/// A batch ready to be sent to the write layer.
struct Prepared {
    edits: Vec<NodeEdit>,
    /// The nodes the batch creates.
    added: BuidMap<()>,
    /// The nodes the batch edits (their cached states are dropped once it is applied).
    touched: Vec<Buid>,
}

impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Editor")
            .field("view", &self.view.iden())
            .field("nodes", &self.protos.len())
            .finish_non_exhaustive()
    }
}

type EdResult<T> = Result<T, Error>;

/// At most this many node states are cached (the cache is cleared when full).
const CACHE_MAX: usize = 20_000;

impl Editor {
    pub(crate) fn new(view: View, meta: EditMeta, perms: Arc<dyn EditPerms>) -> Editor {
        Editor {
            model: Arc::clone(view.model()),
            view,
            meta,
            perms,
            strict: true,
            deferred: false,
            warnings: Vec::new(),
            protos: Vec::new(),
            index: BuidMap::default(),
            adopted: BuidMap::default(),
            cache: BuidMap::default(),
            cache_gens: Vec::new(),
            tagnorms: HashMap::new(),
            depr_skips: Vec::new(),
            prepared: None,
            uncommitted_seqs: Vec::new(),
            uncommitted: BuidMap::default(),
        }
    }

    /// Strict mode (the default, as Storm): bad values, unknown props and read-only props
    /// are errors. Otherwise (as `addNodes` and feeds) they are skipped with a warning.
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// Deferred commits: [`Editor::apply`] returns once the batches are written, without
    /// waiting for their commit (see [`crate::layer::Layer::apply_deferred`]); the caller
    /// commits ([`crate::layer::Layer::sync`]) before it acknowledges the edits.
    pub fn set_deferred_commit(&mut self, deferred: bool) {
        self.deferred = deferred;
    }

    /// Take the warnings collected in non-strict mode.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The full names of deprecated props staged as subs of a prop's value since the last call
    /// (the reference does not warn about those; it does for subs of a primary value).
    pub fn take_depr_skips(&mut self) -> Vec<String> {
        std::mem::take(&mut self.depr_skips)
    }

    fn skip_depr(&mut self, form: &str, name: &str) {
        if let Some(prop) = self.model.form(form).and_then(|f| f.prop(name))
            && (prop.is_deprecated() || prop.ty().is_deprecated())
        {
            self.depr_skips.push(prop.full().to_owned());
        }
    }

    /// The edit metadata used for applied batches.
    pub fn meta(&self) -> &EditMeta {
        &self.meta
    }

    fn check(&self, perm: EditPerm<'_>) -> EdResult<()> {
        self.perms.check(&perm).map_err(Error::Denied)
    }

    fn soft<T>(&mut self, res: EdResult<T>) -> EdResult<Option<T>> {
        match res {
            Ok(valu) => Ok(Some(valu)),
            Err(err) if self.strict => Err(err),
            Err(err) => {
                self.warnings.push(err.to_string());
                Ok(None)
            }
        }
    }

    // ----- node state -----

    /// Load the current state of nodes into the editor's cache with one read per layer.
    pub async fn prefetch(&mut self, buids: &[Buid]) -> EdResult<()> {
        self.prefetch_in(buids, false).await
    }

    /// [`Editor::prefetch`]; `ahead` reads past this editor's own uncommitted batches (see
    /// [`Editor::prefetch_defs_ahead`]).
    async fn prefetch_in(&mut self, buids: &[Buid], ahead: bool) -> EdResult<()> {
        self.check_cache();
        let mut want: Vec<Buid> = buids
            .iter()
            .filter(|b| !self.cache.contains_key(*b) && !self.index.contains_key(*b))
            .copied()
            .collect();
        want.sort_unstable();
        want.dedup();
        if want.is_empty() {
            return Ok(());
        }
        let nodes = if ahead {
            self.view
                .get_nodes_besides(&want, &self.uncommitted_seqs)
                .await?
        } else {
            self.view.get_nodes(&want).await?
        };
        if self.cache.len() + want.len() > CACHE_MAX {
            self.cache.clear();
        }
        for (buid, node) in want.into_iter().zip(nodes) {
            self.cache.insert(buid, node);
        }
        Ok(())
    }

    /// Drop the cached node states if a batch was applied to a layer of the view since they
    /// were read (the generations are loaded before any read, so a read that raced with a
    /// batch is dropped too).
    fn check_cache(&mut self) {
        let gens = self.view.write_gens();
        if gens != self.cache_gens {
            self.cache.clear();
            self.cache_gens = gens;
        }
    }

    /// After this editor applied a batch: drop the nodes it edited and, unless the batch
    /// was the only one applied since the cache was last checked, everything.
    fn own_batch_applied(&mut self, wgen: u64, touched: &[Buid]) {
        for buid in touched {
            self.cache.remove(buid);
        }
        match self.cache_gens.first_mut() {
            Some((_, last)) if *last == wgen => *last = wgen + 2,
            _ => self.cache.clear(),
        }
        self.check_cache();
    }

    async fn node_state(&mut self, buid: Buid) -> EdResult<Option<Node>> {
        self.check_cache();
        if let Some(node) = self.cache.get(&buid) {
            return Ok(node.clone());
        }
        let node = self.view.get_node(buid).await?;
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(buid, node.clone());
        Ok(node)
    }

    /// Edits of a node the caller holds go on even if the node was deleted meanwhile (the
    /// reference edits the node object it holds: the edits land in the write layer without
    /// a primary value, and the node object carries them on).
    pub fn adopt(&mut self, node: &Node) {
        // Only the node of the request being made matters: keep one.
        self.adopted.clear();
        if !self.index.contains_key(&node.buid) {
            self.adopted.insert(node.buid, node.clone());
        }
    }

    /// The proto of an existing or staged node.
    async fn load(&mut self, buid: &Buid) -> EdResult<usize> {
        if let Some(idx) = self.index.get(buid) {
            return Ok(*idx);
        }
        let node = match self.node_state(*buid).await? {
            Some(node) => node,
            None => self.adopted.get(buid).cloned().ok_or_else(|| {
                Error::BadArg(format!("No node found for buid {}.", hex::encode(buid)))
            })?,
        };
        let stortype = self
            .model
            .form(&node.form)
            .map_or(st::MSGP, |f| f.ty().stortype());
        let proto = Proto::new(
            node.buid,
            &node.form.clone(),
            node.valu.clone(),
            stortype,
            Some(node),
        );
        Ok(self.push_proto(proto))
    }

    fn push_proto(&mut self, proto: Proto) -> usize {
        let idx = self.protos.len();
        self.index.insert(proto.buid, idx);
        self.protos.push(proto);
        idx
    }

    /// The editor's view of a node, staged changes included (`None` if it does not exist).
    pub async fn node(&mut self, buid: &Buid) -> EdResult<Option<Node>> {
        if let Some(idx) = self.index.get(buid) {
            let proto = &self.protos[*idx];
            return Ok(Some(Node {
                buid: proto.buid,
                form: proto.form.clone(),
                valu: proto.valu.clone(),
                props: proto.props.clone(),
                tags: proto.tags.clone(),
                tagprops: proto.tagprops.clone(),
                nodedata: Vec::new(),
                ndef_layer: proto.ndef_layer.unwrap_or(0),
            }));
        }
        self.node_state(*buid).await
    }

    // ----- adding nodes -----

    /// The buids a node add may touch (the node, nodes its value and props refer to, their
    /// own references), for [`Editor::prefetch`]. Normalization errors give nothing.
    pub fn add_node_buids(
        &self,
        form: &str,
        valu: &Value,
        props: &[(String, Value)],
        out: &mut Vec<Buid>,
    ) {
        let Some(fobj) = self.model.form(form) else {
            return;
        };
        let Ok((norm, info)) = fobj.ty().norm(valu) else {
            return;
        };
        self.collect(form, &norm, &info, out, 0);
        for (name, pvalu) in props {
            if let Some(prop) = fobj.prop(name)
                && let Ok((pnorm, pinfo)) = prop.ty().norm(pvalu)
            {
                if let Some(pform) = prop.autoadd_form() {
                    self.collect(pform.name(), &pnorm, &pinfo, out, 1);
                }
                for add in &pinfo.adds {
                    self.collect(&add.form, &add.valu, &add.info, out, 1);
                }
            }
        }
    }

    fn collect(
        &self,
        form: &str,
        norm: &Value,
        info: &NormInfo,
        out: &mut Vec<Buid>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        out.push(make_buid(form, norm));
        let Some(fobj) = self.model.form(form) else {
            return;
        };
        for (name, subv) in &info.subs {
            let Some(prop) = fobj.prop(name) else {
                continue;
            };
            let Some(pform) = prop.autoadd_form() else {
                continue;
            };
            if let Ok((pnorm, pinfo)) = prop.ty().norm(subv) {
                self.collect(pform.name(), &pnorm, &pinfo, out, depth + 1);
            }
        }
        for add in &info.adds {
            self.collect(&add.form, &add.valu, &add.info, out, depth + 1);
        }
    }

    /// The buids of the `syn:tag` nodes a tag add touches.
    pub fn tag_buids(&mut self, tag: &str, out: &mut Vec<Buid>) {
        if let Ok((norm, _)) = self.tag_norm(tag) {
            let parts: Vec<&str> = norm.split('.').collect();
            for idx in 1..=parts.len() {
                out.push(make_buid("syn:tag", &Value::from(parts[..idx].join("."))));
            }
        }
    }

    /// Add a node (the `node.add.<form>` permission is checked); returns its buid, or
    /// `None` when a non-strict editor skipped it.
    pub async fn add_node(&mut self, form: &str, valu: &Value) -> EdResult<Option<Buid>> {
        self.add_node_props(form, valu, &[]).await
    }

    /// Add a node and set props on it (no prop permissions are checked, as the reference's
    /// `addNode(form, valu, props)`).
    pub async fn add_node_props(
        &mut self,
        form: &str,
        valu: &Value,
        props: &[(String, Value)],
    ) -> EdResult<Option<Buid>> {
        let model = Arc::clone(&self.model);
        let Some(fobj) = model.form(form) else {
            let err = Error::NoSuchForm(form.to_owned());
            self.soft::<()>(Err(err))?;
            return Ok(None);
        };
        self.check(EditPerm::NodeAdd { form })?;
        if fobj.is_runt() {
            self.soft::<()>(Err(Error::IsRuntForm(form.to_owned())))?;
            return Ok(None);
        }
        if model.is_depr_locked(form) {
            self.soft::<()>(Err(form_locked(form, valu)))?;
            return Ok(None);
        }
        let normed = fobj.ty().norm(valu).map_err(|err| match err {
            ModelError::BadTypeValu { name, mesg } => {
                Error::Model(ModelError::BadTypeValu { name, mesg })
            }
            other => Error::Model(other),
        });
        let Some((norm, info)) = self.soft(normed)? else {
            return Ok(None);
        };
        // Skip the prefetch when the node's state is known (the caller prefetched).
        let primary = make_buid(form, &norm);
        self.check_cache();
        if !self.cache.contains_key(&primary) && !self.index.contains_key(&primary) {
            let mut wanted = Vec::new();
            self.add_node_buids(form, valu, props, &mut wanted);
            self.prefetch(&wanted).await?;
        }
        let idx = self.init_proto(form.to_owned(), norm, info).await?;
        for (name, pvalu) in props {
            self.set_prop_idx(idx, name, pvalu.clone(), None, false)
                .await?;
        }
        Ok(Some(self.protos[idx].buid))
    }

    /// Create (or load) the proto of a node and apply its subs and adds.
    fn init_proto(
        &mut self,
        form: String,
        norm: Value,
        info: NormInfo,
    ) -> BoxFuture<'_, EdResult<usize>> {
        Box::pin(async move {
            let buid = make_buid(&form, &norm);
            if let Some(idx) = self.index.get(&buid) {
                return Ok(*idx);
            }
            let node = self.node_state(buid).await?;
            let stortype = self
                .model
                .form(&form)
                .map_or(st::MSGP, |f| f.ty().stortype());
            let idx = self.push_proto(Proto::new(buid, &form, norm, stortype, node));
            for (name, subv) in info.subs {
                self.set_sub(idx, &name, subv).await?;
            }
            for add in info.adds {
                self.add_auto(add.form, add.valu, add.info).await?;
            }
            Ok(idx)
        })
    }

    /// A node a value refers to: created with its subs unless it exists already.
    fn add_auto(
        &mut self,
        form: String,
        norm: Value,
        info: NormInfo,
    ) -> BoxFuture<'_, EdResult<()>> {
        Box::pin(async move {
            let model = Arc::clone(&self.model);
            let Some(fobj) = model.form(&form) else {
                self.soft::<()>(Err(Error::NoSuchForm(form)))?;
                return Ok(());
            };
            if fobj.is_runt() {
                self.soft::<()>(Err(Error::IsRuntForm(form)))?;
                return Ok(());
            }
            if model.is_depr_locked(&form) {
                self.soft::<()>(Err(form_locked(&form, &norm)))?;
                return Ok(());
            }
            let buid = make_buid(&form, &norm);
            if self.index.contains_key(&buid) {
                return Ok(());
            }
            if self.node_state(buid).await?.is_some() {
                return Ok(());
            }
            let stortype = fobj.ty().stortype();
            let idx = self.push_proto(Proto::new(buid, &form, norm, stortype, None));
            for (name, subv) in info.subs {
                self.set_sub(idx, &name, subv).await?;
            }
            for add in info.adds {
                self.add_auto(add.form, add.valu, add.info).await?;
            }
            Ok(())
        })
    }

    /// A sub derived from a value: set if the form has such a prop (silently skipped if it
    /// does not normalize, as the reference's `getSetSubOps`).
    async fn set_sub(&mut self, idx: usize, name: &str, valu: Value) -> EdResult<()> {
        let has = self
            .model
            .form(&self.protos[idx].form)
            .and_then(|f| f.prop(name))
            .is_some_and(|p| !self.model.is_depr_locked(p.full()));
        if has {
            self.set_prop_idx(idx, name, valu, None, false).await?;
        }
        Ok(())
    }

    /// Set a prop on a proto: normalize, skip unchanged values, refuse changing read-only
    /// props, stage the set, then add the node its type refers to, its subs and adds.
    fn set_prop_idx(
        &mut self,
        idx: usize,
        name: &str,
        valu: Value,
        norminfo: Option<(Value, NormInfo)>,
        ignore_ro: bool,
    ) -> BoxFuture<'_, EdResult<bool>> {
        let name = name.to_owned();
        Box::pin(async move {
            let model = Arc::clone(&self.model);
            let form = self.protos[idx].form.clone();
            let Some(prop) = model.form(&form).and_then(|f| f.prop(&name)) else {
                let err = Error::NoSuchProp {
                    mesg: format!("No property named {name} on form {form}."),
                    name: name.clone(),
                };
                self.soft::<()>(Err(err))?;
                return Ok(false);
            };
            let array_locked = prop.ty().array_elem().is_some_and(|elem| {
                model.form(elem.name()).is_some() && model.is_depr_locked(elem.name())
            });
            if model.is_depr_locked(prop.full()) || array_locked {
                self.soft::<()>(Err(prop_locked(prop.full())))?;
                return Ok(false);
            }
            let (norm, info) = match norminfo {
                Some(done) => done,
                None => {
                    let res = prop.ty().norm(&valu).map_err(|err| match err {
                        ModelError::BadTypeValu { name: tname, mesg } => {
                            Error::Model(ModelError::BadTypeValu {
                                name: tname,
                                mesg: format!(
                                    "Bad prop value {}={} : {mesg}",
                                    prop.full(),
                                    py_repr(&valu)
                                ),
                            })
                        }
                        other => Error::Model(other),
                    });
                    match self.soft(res)? {
                        Some(done) => done,
                        None => return Ok(false),
                    }
                }
            };
            if prop.ty().ctor() == "ndef"
                && let Value::Array(items) = &norm
                && let Some(nform) = items.first().and_then(Value::as_str)
                && model.is_depr_locked(nform)
            {
                self.soft::<()>(Err(prop_locked(prop.full())))?;
                return Ok(false);
            }
            let curv = self.protos[idx].get(&name).cloned();
            if curv.as_ref() == Some(&norm) {
                return Ok(false);
            }
            // a strict edit fails before staging anything when the node its value refers to
            // cannot be added (the reference discards the whole failed edit)
            if self.strict
                && let Some(pform) = prop.autoadd_form()
                && model.is_depr_locked(pform.name())
            {
                return Err(form_locked(pform.name(), &norm));
            }
            if !ignore_ro && prop.is_ro() && curv.is_some() {
                self.soft::<()>(Err(Error::ReadOnlyProp(prop.full().to_owned())))?;
                return Ok(false);
            }
            if prop.full() == "file:bytes:sha256"
                && let Some(text) = self.protos[idx].valu.as_str()
                && text.starts_with("sha256:")
                && Some(&text[7..]) != norm.as_str()
            {
                let err = Error::Model(ModelError::BadTypeValu {
                    name: "file:bytes".into(),
                    mesg:
                        "Can't change :sha256 on a file:bytes with sha256 based primary property."
                            .into(),
                });
                return Err(err);
            }
            let stortype = prop.stortype();
            let merged = match &curv {
                Some(old) => prop.ty().merge(old, &norm),
                None => norm.clone(),
            };
            {
                let proto = &mut self.protos[idx];
                let sets = proto.sets();
                match sets.props.iter_mut().find(|(n, _, _)| *n == name) {
                    Some(slot) => {
                        slot.1 = norm.clone();
                        slot.2 = stortype;
                    }
                    None => sets.props.push((name.clone(), norm.clone(), stortype)),
                }
                upsert(&mut proto.props, &name, merged);
            }
            if let Some(pform) = prop.autoadd_form() {
                self.add_auto(pform.name().to_owned(), norm.clone(), info.clone())
                    .await?;
            }
            for (sub, subv) in &info.subs {
                let full = format!("{name}:{sub}");
                let exists = model
                    .form(&form)
                    .and_then(|f| f.prop(&full))
                    .is_some_and(|p| !model.is_depr_locked(p.full()));
                if exists {
                    self.skip_depr(&form, &full);
                    self.set_prop_idx(idx, &full, subv.clone(), None, false)
                        .await?;
                }
            }
            for add in info.adds {
                self.add_auto(add.form, add.valu, add.info).await?;
            }
            self.prop_hooks(idx, prop.full(), &norm).await?;
            Ok(true)
        })
    }

    /// Model hooks run when a prop is set (the reference's `onSet` handlers that stay within
    /// the edited nodes).
    async fn prop_hooks(&mut self, idx: usize, full: &str, norm: &Value) -> EdResult<()> {
        match full {
            "it:prod:softver:arch" if truthy(Some(norm)) => {
                self.add_auto_raw("it:dev:str", norm).await?;
            }
            "it:prod:softver:vers" => {
                if !truthy(Some(norm)) {
                    return Ok(());
                }
                self.set_prop_idx(idx, "vers:norm", norm.clone(), None, false)
                    .await?;
                self.add_auto_raw("it:dev:str", norm).await?;
                let model = Arc::clone(&self.model);
                if let Some(ty) = model.ty("it:semver")
                    && let Ok((semver, info)) = ty.norm(norm)
                {
                    self.set_prop_idx(idx, "semver", semver, None, false)
                        .await?;
                    for (sub, subv) in info.subs {
                        self.set_prop_idx(idx, &format!("semver:{sub}"), subv, None, false)
                            .await?;
                    }
                }
            }
            "file:bytes:mime" if norm.as_str() != Some("??") => {
                let valu = Value::Array(vec![self.protos[idx].valu.clone(), norm.clone()]);
                self.add_auto_raw("file:ismime", &valu).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Auto-add a node from a raw value (normalized here; errors are warnings or skipped).
    async fn add_auto_raw(&mut self, form: &str, valu: &Value) -> EdResult<()> {
        let model = Arc::clone(&self.model);
        let Some(fobj) = model.form(form) else {
            return Ok(());
        };
        match fobj.ty().norm(valu) {
            Ok((norm, info)) => self.add_auto(form.to_owned(), norm, info).await,
            Err(err) => {
                self.soft::<()>(Err(Error::Model(err)))?;
                Ok(())
            }
        }
    }

    // ----- props -----

    /// Set a property of a node (`node.prop.set` is checked); false if unchanged.
    pub async fn set_prop(&mut self, buid: &Buid, name: &str, valu: &Value) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        let form = self.protos[idx].form.clone();
        self.check(EditPerm::PropSet {
            form: &form,
            prop: name,
        })?;
        let mut wanted = Vec::new();
        if let Some(prop) = self.model.form(&form).and_then(|f| f.prop(name))
            && let (Ok((norm, info)), Some(pform)) = (prop.ty().norm(valu), prop.autoadd_form())
        {
            self.collect(pform.name(), &norm, &info, &mut wanted, 0);
        }
        self.prefetch(&wanted).await?;
        self.set_prop_idx(idx, name, valu.clone(), None, false)
            .await
    }

    /// Delete a property of a node (`node.prop.del` is checked); false if absent.
    pub async fn del_prop(&mut self, buid: &Buid, name: &str) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        let form = self.protos[idx].form.clone();
        let model = Arc::clone(&self.model);
        let Some(prop) = model.form(&form).and_then(|f| f.prop(name)) else {
            let err = Error::NoSuchProp {
                mesg: format!("No property named {name}."),
                name: name.to_owned(),
            };
            self.soft::<()>(Err(err))?;
            return Ok(false);
        };
        self.check(EditPerm::PropDel {
            form: &form,
            prop: name,
        })?;
        if prop.is_ro() {
            self.soft::<()>(Err(Error::ReadOnlyProp(prop.full().to_owned())))?;
            return Ok(false);
        }
        Ok(self.stage_prop_del(idx, name, prop.stortype()))
    }

    fn stage_prop_del(&mut self, idx: usize, name: &str, stortype: i64) -> bool {
        let proto = &mut self.protos[idx];
        let Some(pos) = proto.props.iter().position(|(n, _)| n == name) else {
            return false;
        };
        proto.props.remove(pos);
        proto.dels().push(EditOp::PropDel {
            prop: name.to_owned(),
            oldv: Value::Nil,
            stortype,
        });
        true
    }

    // ----- tags -----

    fn tag_norm(&mut self, tag: &str) -> Result<(String, NormInfo), ModelError> {
        if let Some(done) = self.tagnorms.get(tag) {
            return done.clone();
        }
        let res = match self.model.ty("syn:tag") {
            Some(ty) => ty
                .norm(&Value::from(tag))
                .map(|(norm, info)| (norm.as_str().unwrap_or_default().to_owned(), info)),
            None => Err(ModelError::NoSuchType {
                name: "syn:tag".into(),
            }),
        };
        self.tagnorms.insert(tag.to_owned(), res.clone());
        res
    }

    /// The proto of the `syn:tag` node of a tag (following `:isnow`), created if missing.
    fn real_tag(&mut self, tag: &str) -> BoxFuture<'_, EdResult<Option<usize>>> {
        let tag = tag.to_owned();
        Box::pin(async move {
            let normed = self.tag_norm(&tag).map_err(Error::Model);
            let Some((mut norm, mut info)) = self.soft(normed)? else {
                return Ok(None);
            };
            if let Some(idx) = self.tag_node(&norm).await? {
                return Ok(Some(idx));
            }
            // An ancestor redirected with `:isnow` moves the whole subtree.
            let toks: Vec<String> = norm.split('.').map(str::to_owned).collect();
            for end in 1..=toks.len() {
                let toktag = toks[..end].join(".");
                let Some(idx) = self.tag_node(&toktag).await? else {
                    continue;
                };
                let now = self.protos[idx]
                    .valu
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if now == toktag {
                    continue;
                }
                let realnow = format!("{now}{}", &norm[toktag.len()..]);
                if let Some(idx) = self.tag_node(&realnow).await? {
                    return Ok(Some(idx));
                }
                let renormed = self.tag_norm(&realnow).map_err(Error::Model)?;
                norm = renormed.0;
                info = renormed.1;
                break;
            }
            let idx = self
                .init_proto("syn:tag".into(), Value::from(norm), info)
                .await?;
            Ok(Some(idx))
        })
    }

    /// The proto of an existing tag node, following `:isnow` redirections.
    async fn tag_node(&mut self, norm: &str) -> EdResult<Option<usize>> {
        let mut name = norm.to_owned();
        for _ in 0..32 {
            let buid = make_buid("syn:tag", &Value::from(name.as_str()));
            let exists = self.index.contains_key(&buid) || self.node_state(buid).await?.is_some();
            if !exists {
                return Ok(None);
            }
            let idx = self.load(&buid).await?;
            match self.protos[idx].get("isnow").and_then(Value::as_str) {
                Some(now) if now != name => name = now.to_owned(),
                _ => return Ok(Some(idx)),
            }
        }
        Ok(None)
    }

    /// Add a tag (and its ancestors) to a node, with an optional time interval that widens
    /// any existing one (`node.tag.add.<tag>` is checked). Returns the normalized tag.
    pub async fn add_tag(
        &mut self,
        buid: &Buid,
        tag: &str,
        valu: Option<&Value>,
    ) -> EdResult<Option<String>> {
        let idx = self.load(buid).await?;
        if let Ok((norm, _)) = self.tag_norm(tag) {
            self.check(EditPerm::TagAdd { tag: &norm })?;
        }
        let mut wanted = Vec::new();
        self.tag_buids(tag, &mut wanted);
        self.prefetch(&wanted).await?;
        self.add_tag_idx(idx, tag, valu).await
    }

    fn add_tag_idx<'s>(
        &'s mut self,
        idx: usize,
        tag: &str,
        valu: Option<&Value>,
    ) -> BoxFuture<'s, EdResult<Option<String>>> {
        let tag = tag.to_owned();
        let valu = valu.cloned();
        Box::pin(async move {
            let Some(tagidx) = self.real_tag(&tag).await? else {
                return Ok(None);
            };
            let tagname = self.protos[tagidx]
                .valu
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let mut ival: TagIval = (None, None);
            if let Some(valu) = valu {
                let nulls = matches!(&valu, Value::Array(items) if items.len() == 2 && items.iter().all(Value::is_nil));
                if !nulls && !valu.is_nil() {
                    match self.view.norm_ival(&valu) {
                        Ok(norm) => ival = norm,
                        Err(err) if self.strict => return Err(err),
                        Err(_) => {
                            self.warnings
                                .push(format!("Invalid Tag Value: {tagname}={}.", py_repr(&valu)));
                            return Ok(None);
                        }
                    }
                }
            }
            if let Some(up) = self.protos[tagidx].get("up").and_then(Value::as_str) {
                let up = up.to_owned();
                self.add_tag_idx(idx, &up, None).await?;
            }
            let proto = &mut self.protos[idx];
            let curv = proto.tag(&tagname);
            let newv = match curv {
                Some(cur) if cur == ival => return Ok(Some(tagname)),
                None => ival,
                Some(_) if ival == (None, None) => return Ok(Some(tagname)),
                Some(cur) => ival_merge(&[ival.0, ival.1, cur.0, cur.1]),
            };
            upsert(&mut proto.tags, &tagname, newv);
            upsert(&mut proto.sets().tags, &tagname, newv);
            Ok(Some(tagname))
        })
    }

    /// Delete a tag and its descendants (with their tag props) from a node
    /// (`node.tag.del.<tag>` is checked).
    pub async fn del_tag(&mut self, buid: &Buid, tag: &str) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        let name = match self.tag_norm(tag) {
            Ok((norm, _)) => norm,
            Err(_) => tag.trim_start_matches('#').to_lowercase(),
        };
        self.check(EditPerm::TagDel { tag: &name })?;
        Ok(self.stage_tag_del(idx, &name))
    }

    fn stage_tag_del(&mut self, idx: usize, name: &str) -> bool {
        let model = Arc::clone(&self.model);
        let proto = &mut self.protos[idx];
        let pref = format!("{name}.");
        let exists = proto.tag(name).is_some();
        let mut todel: Vec<String> = proto
            .tags
            .iter()
            .filter(|(t, _)| t.starts_with(&pref))
            .map(|(t, _)| t.clone())
            .collect();
        // only prune when the tag itself is deleted
        if exists && let Some((parent, _)) = name.rsplit_once('.') {
            for prunetag in model.tag_prune(parent).iter().rev() {
                if tag_children(&proto.tags, prunetag) != 1 {
                    break;
                }
                todel.push(prunetag.clone());
            }
        }
        todel.sort_by(|a, b| (b.len(), b).cmp(&(a.len(), a)));
        let mut ops = Vec::new();
        let tagprop_dels = |proto: &Proto, tag: &str, ops: &mut Vec<EditOp>| {
            if let Some((_, props)) = proto.tagprops.iter().find(|(t, _)| t == tag) {
                for (prop, _) in props {
                    let stortype =
                        crate::node::tagprop_type(&model, prop).map_or(st::MSGP, |t| t.stortype());
                    ops.push(EditOp::TagPropDel {
                        tag: tag.to_owned(),
                        prop: prop.clone(),
                        oldv: Value::Nil,
                        stortype,
                    });
                }
            }
        };
        for sub in &todel {
            tagprop_dels(proto, sub, &mut ops);
            ops.push(EditOp::TagDel {
                tag: sub.clone(),
                oldv: None,
            });
        }
        tagprop_dels(proto, name, &mut ops);
        if exists {
            ops.push(EditOp::TagDel {
                tag: name.to_owned(),
                oldv: None,
            });
        }
        if ops.is_empty() {
            return false;
        }
        let gone = |t: &String| t == name || todel.contains(t) || t.starts_with(&pref);
        proto.tags.retain(|(t, _)| !gone(t));
        proto.tagprops.retain(|(t, _)| !gone(t));
        proto.dels().extend(ops);
        true
    }

    /// Set a tag property (adding the tag; `node.tag.add.<tag>` is checked).
    pub async fn set_tagprop(
        &mut self,
        buid: &Buid,
        tag: &str,
        name: &str,
        valu: &Value,
    ) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        if let Ok((norm, _)) = self.tag_norm(tag) {
            self.check(EditPerm::TagAdd { tag: &norm })?;
        }
        let mut wanted = Vec::new();
        self.tag_buids(tag, &mut wanted);
        self.prefetch(&wanted).await?;
        let Some(tagname) = self.add_tag_idx(idx, tag, None).await? else {
            return Ok(false);
        };
        let model = Arc::clone(&self.model);
        let Some(ty) = crate::node::tagprop_type(&model, name) else {
            self.soft::<()>(Err(Error::NoSuchTagProp(name.to_owned())))?;
            return Ok(false);
        };
        let res = ty.norm(valu).map_err(Error::Model);
        let Some((norm, _)) = self.soft(res)? else {
            return Ok(false);
        };
        let proto = &mut self.protos[idx];
        if proto.tagprop(&tagname, name) == Some(&norm) {
            return Ok(false);
        }
        let stortype = ty.stortype();
        let pos = match proto.tagprops.iter().position(|(t, _)| *t == tagname) {
            Some(pos) => pos,
            None => {
                proto.tagprops.push((tagname.clone(), Vec::new()));
                proto.tagprops.len() - 1
            }
        };
        upsert(&mut proto.tagprops[pos].1, name, norm.clone());
        let sets = proto.sets();
        match sets
            .tagprops
            .iter_mut()
            .find(|(t, p, _, _)| *t == tagname && p == name)
        {
            Some(slot) => slot.2 = norm,
            None => sets
                .tagprops
                .push((tagname, name.to_owned(), norm, stortype)),
        }
        Ok(true)
    }

    /// Delete a tag property (`node.tag.del.<tag>` is checked).
    pub async fn del_tagprop(&mut self, buid: &Buid, tag: &str, name: &str) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        let model = Arc::clone(&self.model);
        let ty = crate::node::tagprop_type(&model, name)
            .ok_or_else(|| Error::NoSuchTagProp(name.to_owned()))?;
        let tagname = self
            .tag_norm(tag)
            .map(|(n, _)| n)
            .unwrap_or_else(|_| tag.to_owned());
        self.check(EditPerm::TagDel { tag: &tagname })?;
        let proto = &mut self.protos[idx];
        let Some(pos) = proto.tagprops.iter().position(|(t, _)| *t == tagname) else {
            return Ok(false);
        };
        let props = &mut proto.tagprops[pos].1;
        let Some(ppos) = props.iter().position(|(n, _)| n == name) else {
            return Ok(false);
        };
        props.remove(ppos);
        if props.is_empty() {
            proto.tagprops.remove(pos);
        }
        proto.dels().push(EditOp::TagPropDel {
            tag: tagname,
            prop: name.to_owned(),
            oldv: Value::Nil,
            stortype: ty.stortype(),
        });
        Ok(true)
    }

    // ----- node data -----

    fn check_data_name(name: &str) -> EdResult<()> {
        if name.len() > crate::layer::MAX_DATA_NAME {
            return Err(Error::BadArg(format!(
                "node data keys must be < {} bytes, got {}.",
                crate::layer::MAX_DATA_NAME,
                name.len()
            )));
        }
        Ok(())
    }

    /// Set node data (`node.data.set.<name>` is checked); false if unchanged.
    pub async fn set_data(&mut self, buid: &Buid, name: &str, valu: &Value) -> EdResult<bool> {
        Self::check_data_name(name)?;
        let idx = self.load(buid).await?;
        self.check(EditPerm::DataSet { name })?;
        let staged = self.protos[idx].segs.last().and_then(|seg| {
            seg.sets
                .data
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        });
        let curv = match staged {
            Some(valu) => Some(valu),
            None => self.view.get_data(*buid, name).await?,
        };
        if curv.as_ref() == Some(valu) {
            return Ok(false);
        }
        if let Err(mesg) = json_safe(valu) {
            self.soft::<()>(Err(Error::MustBeJsonSafe(mesg)))?;
            return Ok(false);
        }
        upsert(&mut self.protos[idx].sets().data, name, valu.clone());
        Ok(true)
    }

    /// Remove node data (`node.data.pop.<name>` is checked); returns the old value.
    pub async fn pop_data(&mut self, buid: &Buid, name: &str) -> EdResult<Option<Value>> {
        Self::check_data_name(name)?;
        let idx = self.load(buid).await?;
        self.check(EditPerm::DataPop { name })?;
        let retn = self.view.get_data(*buid, name).await?;
        self.protos[idx].dels().push(EditOp::NodeDataDel {
            name: name.to_owned(),
            oldv: Value::Nil,
        });
        Ok(retn)
    }

    // ----- edges -----

    /// Add a light edge `buid -(verb)> n2` (`node.edge.add.<verb>` is checked); false if it
    /// exists.
    pub async fn add_edge(&mut self, buid: &Buid, verb: &str, n2: &Buid) -> EdResult<bool> {
        if verb.is_empty() || verb.len() > crate::layer::MAX_VERB_LEN {
            return Err(Error::BadArg(format!(
                "addEdge() got an invalid verb: {verb}"
            )));
        }
        let idx = self.load(buid).await?;
        self.check(EditPerm::EdgeAdd { verb })?;
        let tupl = (verb.to_owned(), *n2);
        let sets = self.protos[idx].sets();
        if sets.edges.contains(&tupl) {
            return Ok(false);
        }
        if let Some(pos) = sets.edgedels.iter().position(|e| *e == tupl) {
            sets.edgedels.remove(pos);
            return Ok(true);
        }
        if self.view.has_edge(*buid, verb, *n2).await? {
            return Ok(false);
        }
        self.protos[idx].sets().edges.push(tupl);
        Ok(true)
    }

    /// Delete a light edge from the write layer (`node.edge.del.<verb>` is checked).
    pub async fn del_edge(&mut self, buid: &Buid, verb: &str, n2: &Buid) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        self.check(EditPerm::EdgeDel { verb })?;
        let tupl = (verb.to_owned(), *n2);
        let sets = self.protos[idx].sets();
        if sets.edgedels.contains(&tupl) {
            return Ok(false);
        }
        if let Some(pos) = sets.edges.iter().position(|e| *e == tupl) {
            sets.edges.remove(pos);
            return Ok(true);
        }
        if self.view.write_layer().has_edge(*buid, verb, *n2).await? {
            self.protos[idx].sets().edgedels.push(tupl);
            return Ok(true);
        }
        Ok(false)
    }

    // ----- deleting nodes -----

    /// Delete a node: its tags, props, node data (when the write layer does not hold the
    /// node itself) and primary value (`node.del.<form>` is checked). Without `force`,
    /// refuses (`CantDelNode`) while other nodes refer to it by prop or light edge, or,
    /// for a `syn:tag`, while nodes have the tag.
    pub async fn del_node(&mut self, buid: &Buid, force: bool) -> EdResult<bool> {
        let idx = self.load(buid).await?;
        let (form, valu) = (self.protos[idx].form.clone(), self.protos[idx].valu.clone());
        let model = Arc::clone(&self.model);
        if model.form(&form).is_some_and(|f| f.is_runt()) {
            return Err(Error::IsRuntForm(form));
        }
        self.check(EditPerm::NodeDel { form: &form })?;
        let iden = hex::encode(buid);
        let refuse = |mesg: &str| Error::CantDelNode {
            mesg: mesg.to_owned(),
            form: form.clone(),
            iden: iden.clone(),
        };
        if !force {
            if form == "syn:tag"
                && let Some(tag) = valu.as_str()
            {
                let mut tagged = self.view.lift_tag(tag, None, false)?;
                if tagged.try_next().await?.is_some() {
                    let err = refuse("Nodes still have this tag.");
                    self.soft::<()>(Err(err))?;
                    return Ok(false);
                }
            }
            let mut refs = self.view.nodes_by_prop_type_valu(&form, &valu)?;
            while let Some(node) = refs.try_next().await? {
                if node.buid != *buid {
                    let err = refuse("Other nodes still refer to this node.");
                    self.soft::<()>(Err(err))?;
                    return Ok(false);
                }
            }
            let mut edges = self.view.edges_n2(*buid, None);
            while let Some((_, n1)) = edges.try_next().await? {
                if n1 != *buid {
                    let err = refuse("Other nodes still have light edges to this node.");
                    self.soft::<()>(Err(err))?;
                    return Ok(false);
                }
            }
        }
        let toptags: Vec<String> = self.protos[idx]
            .tags
            .iter()
            .filter(|(t, _)| !t.contains('.'))
            .map(|(t, _)| t.clone())
            .collect();
        for tag in toptags {
            self.stage_tag_del(idx, &tag);
        }
        let props: Vec<String> = self.protos[idx]
            .props
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        for name in props {
            let stortype = model
                .form(&form)
                .and_then(|f| f.prop(&name))
                .map_or(st::MSGP, |p| p.stortype());
            self.stage_prop_del(idx, &name, stortype);
        }
        if self.protos[idx].ndef_layer != Some(0) {
            for (name, _) in self.view.data_items(*buid).await? {
                self.protos[idx].dels().push(EditOp::NodeDataDel {
                    name,
                    oldv: Value::Nil,
                });
            }
        }
        let proto = &mut self.protos[idx];
        let stortype = proto.stortype;
        proto.dels().push(EditOp::NodeDel { valu, stortype });
        proto.is_new = false;
        Ok(true)
    }

    // ----- node definitions -----

    /// Add or merge a packed node definition `[[form, valu], {"props", "tags", "tagprops",
    /// "nodedata", "edges"}]` as the reference's `addNodes` (`.created` in props is ignored).
    pub async fn add_node_def(&mut self, def: &Value) -> EdResult<Option<Buid>> {
        let bad = || Error::BadArg("a node definition is [[form, valu], info]".into());
        let parts = def.as_array().ok_or_else(bad)?;
        let (ndef, info) = match parts.as_slice() {
            [ndef, info] => (ndef, info),
            [ndef] => (ndef, &Value::Nil),
            _ => return Err(bad()),
        };
        let (form, valu) = match ndef.as_array().map(Vec::as_slice) {
            Some([form, valu]) => (form.as_str().ok_or_else(bad)?, valu),
            _ => return Err(bad()),
        };
        let get = |key: &str| crate::layer::map_get(info, key);
        let mut props = Vec::new();
        if let Some(Value::Map(items)) = get("props") {
            for (key, pvalu) in items {
                if let Some(key) = key.as_str()
                    && key != ".created"
                {
                    props.push((key.to_owned(), pvalu.clone()));
                }
            }
        }
        let Some(buid) = self.add_node_props(form, valu, &props).await? else {
            return Ok(None);
        };
        if let Some(Value::Map(tags)) = get("tags") {
            for (tag, tvalu) in tags {
                if let Some(tag) = tag.as_str() {
                    let tvalu = (!tvalu.is_nil()).then_some(tvalu);
                    self.add_tag(&buid, tag, tvalu).await?;
                }
            }
        }
        if let Some(Value::Map(data)) = get("nodedata") {
            for (name, dvalu) in data {
                if let Some(name) = name.as_str() {
                    self.set_data(&buid, name, dvalu).await?;
                }
            }
        }
        if let Some(Value::Map(tagprops)) = get("tagprops") {
            for (tag, props) in tagprops {
                let (Some(tag), Value::Map(props)) = (tag.as_str(), props) else {
                    continue;
                };
                for (name, pvalu) in props {
                    if let Some(name) = name.as_str() {
                        self.set_tagprop(&buid, tag, name, pvalu).await?;
                    }
                }
            }
        }
        if let Some(Value::Array(edges)) = get("edges") {
            for edge in edges {
                let Some([verb, n2]) = edge.as_array().map(Vec::as_slice) else {
                    continue;
                };
                let Some(verb) = verb.as_str() else { continue };
                let n2buid = match n2 {
                    Value::String(_) => match crate::nodeedit::parse_buid(n2) {
                        Ok(n2buid) => n2buid,
                        Err(err) => {
                            self.soft::<()>(Err(Error::BadArg(err.mesg)))?;
                            continue;
                        }
                    },
                    Value::Array(items) if items.len() == 2 => {
                        let Some(n2form) = items[0].as_str() else {
                            continue;
                        };
                        match self.add_node(n2form, &items[1]).await? {
                            Some(n2buid) => n2buid,
                            None => continue,
                        }
                    }
                    _ => continue,
                };
                self.add_edge(&buid, verb, &n2buid).await?;
            }
        }
        Ok(Some(buid))
    }

    /// Prefetch the state of every node the node definitions may touch (one read per layer),
    /// so that adding them does no further reads.
    pub async fn prefetch_defs(&mut self, defs: &[Value]) -> EdResult<()> {
        let wanted = self.defs_buids(defs);
        self.prefetch(&wanted).await
    }

    /// [`Editor::prefetch_defs`] for the next part of a bulk load while this editor's own
    /// batches wait for their commit (deferred commits): the nodes those batches touched are
    /// left out (read when needed, in order after the batches), the others are read as of
    /// the last commit without waiting for it. If other writers' batches wait for a commit
    /// too, this reads as [`Editor::prefetch_defs`] does.
    pub async fn prefetch_defs_ahead(&mut self, defs: &[Value]) -> EdResult<()> {
        let mut wanted = self.defs_buids(defs);
        let prepared = self.prepared.as_ref().map(|p| p.touched.as_slice());
        wanted.retain(|buid| {
            !self.uncommitted.contains_key(buid) && !prepared.is_some_and(|p| p.contains(buid))
        });
        self.prefetch_in(&wanted, true).await
    }

    /// Forget the batches applied so far with deferred commits: the caller waited for a
    /// commit that covers them.
    pub fn mark_committed(&mut self) {
        self.uncommitted_seqs.clear();
        self.uncommitted.clear();
    }

    /// The buids the node definitions `defs` may touch.
    fn defs_buids(&mut self, defs: &[Value]) -> Vec<Buid> {
        let mut wanted = Vec::new();
        for def in defs {
            let Some([ndef, info]) = def.as_array().map(Vec::as_slice) else {
                continue;
            };
            let Some([form, valu]) = ndef.as_array().map(Vec::as_slice) else {
                continue;
            };
            let Some(form) = form.as_str() else { continue };
            let props: Vec<(String, Value)> = match crate::layer::map_get(info, "props") {
                Some(Value::Map(items)) => items
                    .iter()
                    .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), v.clone())))
                    .collect(),
                _ => Vec::new(),
            };
            self.add_node_buids(form, valu, &props, &mut wanted);
            if let Some(Value::Map(tags)) = crate::layer::map_get(info, "tags") {
                for (tag, _) in tags {
                    if let Some(tag) = tag.as_str() {
                        self.tag_buids(tag, &mut wanted);
                    }
                }
            }
        }
        wanted
    }

    // ----- applying -----

    /// The nodeedits staged so far (without hook effects).
    pub fn pending(&self) -> Vec<NodeEdit> {
        self.protos.iter().filter_map(Proto::nodeedit).collect()
    }

    /// Whether anything is staged (or prepared).
    pub fn has_pending(&self) -> bool {
        self.prepared.as_ref().is_some_and(|p| !p.edits.is_empty())
            || self.protos.iter().any(Proto::has_edits)
    }

    /// Model hooks for nodes created in this batch (fqdn zones, `it:dev:str` norms, ...).
    async fn add_hooks(&mut self) -> EdResult<()> {
        loop {
            let mut todo: Vec<usize> = (0..self.protos.len())
                .filter(|idx| self.protos[*idx].is_new && !self.protos[*idx].hooked)
                .collect();
            if todo.is_empty() {
                return Ok(());
            }
            // Parent domains before their children.
            todo.sort_by_key(|idx| {
                let proto = &self.protos[*idx];
                let depth = proto.valu.as_str().map_or(0, |s| s.matches('.').count());
                (proto.form != "inet:fqdn", depth, *idx)
            });
            for idx in todo {
                self.protos[idx].hooked = true;
                let form = self.protos[idx].form.clone();
                let valu = self.protos[idx].valu.clone();
                match form.as_str() {
                    "inet:fqdn" => self.fqdn_added(idx).await?,
                    "it:dev:str" => {
                        self.set_prop_idx(idx, "norm", valu, None, false).await?;
                    }
                    "it:dev:pipe" | "it:dev:mutex" | "it:dev:regkey" => {
                        self.add_auto_raw("it:dev:str", &valu).await?;
                    }
                    "inet:passwd" => {
                        if let Some(text) = valu.as_str() {
                            use sha2::Digest;
                            let byts = text.as_bytes();
                            let md5 = hex::encode(md5_digest(byts));
                            let sha1 = hex::encode(sha1_digest(byts));
                            let sha256 = hex::encode(sha2::Sha256::digest(byts));
                            self.set_prop_idx(idx, "md5", Value::from(md5), None, false)
                                .await?;
                            self.set_prop_idx(idx, "sha1", Value::from(sha1), None, false)
                                .await?;
                            self.set_prop_idx(idx, "sha256", Value::from(sha256), None, false)
                                .await?;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The reference's `_onAddFqdn`: `issuffix`, `iszone` and `zone` from the parent domain.
    async fn fqdn_added(&mut self, idx: usize) -> EdResult<()> {
        let fqdn = self.protos[idx].valu.clone();
        let Some(domain) = self.protos[idx].get("domain").cloned() else {
            self.set_prop_idx(idx, "iszone", Value::from(false), None, false)
                .await?;
            self.set_prop_idx(idx, "issuffix", Value::from(true), None, false)
                .await?;
            return Ok(());
        };
        if self.protos[idx].get("issuffix").is_none() {
            self.set_prop_idx(idx, "issuffix", Value::from(false), None, false)
                .await?;
        }
        let pbuid = make_buid("inet:fqdn", &domain);
        if !self.index.contains_key(&pbuid) && self.node_state(pbuid).await?.is_none() {
            self.add_auto_raw("inet:fqdn", &domain).await?;
        }
        let (p_suffix, p_zone_flag, p_zone) = match self.index.get(&pbuid) {
            Some(pidx) => {
                let parent = &self.protos[*pidx];
                (
                    truthy(parent.get("issuffix")),
                    truthy(parent.get("iszone")),
                    parent.get("zone").cloned(),
                )
            }
            None => match self.node_state(pbuid).await? {
                Some(parent) => (
                    truthy(parent.get("issuffix")),
                    truthy(parent.get("iszone")),
                    parent.get("zone").cloned(),
                ),
                None => (false, false, None),
            },
        };
        if p_suffix {
            self.set_prop_idx(idx, "iszone", Value::from(true), None, false)
                .await?;
            self.set_prop_idx(idx, "zone", fqdn, None, false).await?;
            return Ok(());
        }
        self.set_prop_idx(idx, "iszone", Value::from(false), None, false)
            .await?;
        if p_zone_flag {
            self.set_prop_idx(idx, "zone", domain, None, false).await?;
            return Ok(());
        }
        if let Some(zone) = p_zone {
            self.set_prop_idx(idx, "zone", zone, None, false).await?;
        }
        Ok(())
    }

    /// Apply everything staged to the write layer as one atomic batch, then the follow-up
    /// batches of model hooks. Returns the applied nodeedits per batch (nodes without changes
    /// are left out). The editor is empty afterwards.
    pub async fn apply(&mut self) -> EdResult<Vec<Vec<NodeEdit>>> {
        let mut batches = Vec::new();
        loop {
            let (
                Prepared {
                    edits,
                    added,
                    touched,
                },
                was_prepared,
            ) = match self.prepared.take() {
                Some(prepared) => (prepared, true),
                None => {
                    self.add_hooks().await?;
                    (self.take_protos(), false)
                }
            };
            if edits.is_empty() {
                if was_prepared && !self.protos.is_empty() {
                    continue;
                }
                break;
            }
            let applied = self
                .view
                .apply_edits_gen(edits, self.meta_now(), self.deferred)
                .await;
            let applied = match applied {
                Ok((applied, wgen, seq)) => {
                    if seq != 0 {
                        self.uncommitted_seqs.push(seq);
                        self.uncommitted
                            .extend(touched.iter().map(|buid| (*buid, ())));
                    }
                    self.own_batch_applied(wgen, &touched);
                    applied
                }
                Err(err) => {
                    self.cache.clear();
                    return Err(err);
                }
            };
            let cascades = fqdn_cascades(&applied, &added);
            if !applied.is_empty() {
                batches.push(applied);
            }
            if cascades.is_empty() {
                break;
            }
            for cascade in cascades {
                self.fqdn_cascade(cascade).await?;
            }
        }
        Ok(batches)
    }

    /// Run the model hooks and take the staged edits as the batch the next
    /// [`Editor::apply`] sends first: lets a caller do this work while an earlier batch is
    /// still being written. Nothing is applied. The caller stages nothing more before that
    /// `apply`: the batch's nodes keep their cached states until it is applied.
    pub async fn prepare(&mut self) -> EdResult<()> {
        if self.prepared.is_some() {
            return Ok(());
        }
        self.add_hooks().await?;
        self.prepared = Some(self.take_protos());
        Ok(())
    }

    /// The staged edits as a batch; the editor's protos are empty afterwards.
    fn take_protos(&mut self) -> Prepared {
        let edits = self.pending();
        let added = self
            .protos
            .iter()
            .filter(|p| p.is_new)
            .map(|p| (p.buid, ()))
            .collect();
        // Nodes loaded without edits (tag nodes, ...) keep their cached state.
        let touched = self
            .protos
            .iter()
            .filter(|p| p.has_edits())
            .map(|p| p.buid)
            .collect();
        self.protos.clear();
        self.index.clear();
        self.adopted.clear();
        Prepared {
            edits,
            added,
            touched,
        }
    }

    fn meta_now(&self) -> EditMeta {
        let mut meta = self.meta.clone();
        meta.time = synapse_base::now_ms();
        meta
    }

    /// Drop everything staged and cached.
    pub fn reset(&mut self) {
        self.prepared = None;
        self.cache_gens.clear();
        self.protos.clear();
        self.index.clear();
        self.adopted.clear();
        self.cache.clear();
    }

    async fn fqdn_cascade(&mut self, cascade: Cascade) -> EdResult<()> {
        match cascade {
            Cascade::IsSuffix(buid, issuffix) => {
                let Some(node) = self.node(&buid).await? else {
                    return Ok(());
                };
                let fqdn = node.valu;
                let mut children = self.children_of(&fqdn)?;
                while let Some(child) = children.try_next().await? {
                    if truthy(child.get("iszone")) == issuffix {
                        continue;
                    }
                    let idx = self.load(&child.buid).await?;
                    self.set_prop_idx(idx, "iszone", Value::from(issuffix), None, false)
                        .await?;
                }
            }
            Cascade::IsZone(buid, iszone) => {
                if self.node(&buid).await?.is_none() {
                    return Ok(());
                }
                let idx = self.load(&buid).await?;
                let fqdn = self.protos[idx].valu.clone();
                if iszone {
                    self.set_prop_idx(idx, "zone", fqdn, None, false).await?;
                    return Ok(());
                }
                let Some(domain) = self.protos[idx].get("domain").cloned() else {
                    self.stage_prop_del(idx, "zone", st::FQDN);
                    return Ok(());
                };
                self.add_auto_raw("inet:fqdn", &domain).await?;
                let parent = self.node(&make_buid("inet:fqdn", &domain)).await?;
                match parent.and_then(|p| p.get("zone").cloned()) {
                    Some(zone) => {
                        self.set_prop_idx(idx, "zone", zone, None, false).await?;
                    }
                    None => {
                        self.stage_prop_del(idx, "zone", st::FQDN);
                    }
                }
            }
            Cascade::Zone(buid, zone) => {
                let Some(node) = self.node(&buid).await? else {
                    return Ok(());
                };
                let mut todo = vec![node.valu];
                while let Some(fqdn) = todo.pop() {
                    let mut children = self.children_of(&fqdn)?;
                    while let Some(child) = children.try_next().await? {
                        if truthy(child.get("iszone")) || child.get("zone") == Some(&zone) {
                            continue;
                        }
                        let idx = self.load(&child.buid).await?;
                        self.set_prop_idx(idx, "zone", zone.clone(), None, false)
                            .await?;
                        todo.push(child.valu.clone());
                    }
                }
            }
        }
        Ok(())
    }

    fn children_of(&self, fqdn: &Value) -> EdResult<crate::view::NodeStream> {
        self.view.lift(
            &LiftBy::PropValu {
                form: "inet:fqdn".into(),
                prop: "domain".into(),
                cmpr: StorLift {
                    cmpr: "=".into(),
                    valu: fqdn.clone(),
                    stortype: st::FQDN,
                },
            },
            false,
        )
    }
}

/// Follow-up work after a batch set fqdn props on existing nodes.
enum Cascade {
    IsSuffix(Buid, bool),
    IsZone(Buid, bool),
    Zone(Buid, Value),
}

fn fqdn_cascades(applied: &[NodeEdit], added: &BuidMap<()>) -> Vec<Cascade> {
    let mut out = Vec::new();
    for ne in applied {
        if ne.form != "inet:fqdn" || added.contains_key(&ne.buid) {
            continue;
        }
        for edit in &ne.edits {
            let EditOp::PropSet { prop, valu, .. } = &edit.op else {
                continue;
            };
            match prop.as_str() {
                "issuffix" => out.push(Cascade::IsSuffix(ne.buid, truthy(Some(valu)))),
                "iszone" => out.push(Cascade::IsZone(ne.buid, truthy(Some(valu)))),
                "zone" => out.push(Cascade::Zone(ne.buid, valu.clone())),
                _ => {}
            }
        }
    }
    out
}

fn md5_digest(byts: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(byts).into()
}

fn sha1_digest(byts: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(byts).into()
}

/// How many distinct child levels a tag has among a node's tags (the reference's tag tree).
fn tag_children(tags: &[(String, TagIval)], tag: &str) -> usize {
    let pref = format!("{tag}.");
    let mut kids: Vec<&str> = tags
        .iter()
        .filter_map(|(t, _)| t.strip_prefix(&pref))
        .map(|rest| rest.split('.').next().unwrap_or(rest))
        .collect();
    kids.sort_unstable();
    kids.dedup();
    kids.len()
}

fn form_locked(form: &str, valu: &Value) -> Error {
    Error::IsDeprLocked {
        mesg: format!(
            "Form {form} is locked due to deprecation for valu={}.",
            py_str(valu)
        ),
        prop: form.to_owned(),
    }
}

fn prop_locked(full: &str) -> Error {
    Error::IsDeprLocked {
        mesg: format!("Prop {full} is locked due to deprecation."),
        prop: full.to_owned(),
    }
}

/// A value as Python's `str()` shows it (strings bare, lists as tuples).
fn py_str(valu: &Value) -> String {
    match valu {
        Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
        other => py_tuple_repr(other),
    }
}

fn py_tuple_repr(valu: &Value) -> String {
    match valu {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_tuple_repr).collect();
            if inner.len() == 1 {
                format!("({},)", inner[0])
            } else {
                format!("({})", inner.join(", "))
            }
        }
        other => py_repr(other),
    }
}

/// A short Python-like repr of a value for messages.
fn py_repr(valu: &Value) -> String {
    match valu {
        Value::String(s) => format!("'{}'", s.as_str().unwrap_or_default()),
        Value::Nil => "None".into(),
        Value::Boolean(true) => "True".into(),
        Value::Boolean(false) => "False".into(),
        other => other.to_string(),
    }
}
