//! Runtimes (variable scopes of a running query), paths and the per-query shared state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures::stream::BoxStream;
use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::value::{Val, lock};
use super::{Message, StormCore, StormOpts, StormUser};
use crate::node::Node;
use crate::nodeedit::{BuidForm, EditOp, NodeEdit};
use crate::storm::ast::{Query, Span};
use crate::storm::plan::FuncPlan;
use crate::view::{Editor, View};

/// A node and its path flowing through a pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) node: Arc<Node>,
    pub(crate) path: Path,
}

/// The path of a node through the pipeline: its variables and metadata.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path {
    pub(crate) vars: Vec<(Arc<str>, Val)>,
    pub(crate) meta: Vec<(String, Val)>,
    /// `(iden, linkinfo)` of how the pipeline got here (kept when `opts.links`).
    pub(crate) links: Option<Vec<(String, Value)>>,
    /// Idens of the nodes of the path (kept when `opts.path`).
    pub(crate) nodes: Option<Vec<String>>,
}

impl Path {
    pub(crate) fn get(&self, name: &str) -> Option<&Val> {
        self.vars.iter().find(|(n, _)| &**n == name).map(|(_, v)| v)
    }

    pub(crate) fn set(&mut self, name: &str, valu: Val) {
        match self.vars.iter_mut().find(|(n, _)| &**n == name) {
            Some(slot) => slot.1 = valu,
            None => self.vars.push((Arc::from(name), valu)),
        }
    }

    pub(crate) fn pop(&mut self, name: &str) -> Option<Val> {
        let pos = self.vars.iter().position(|(n, _)| &**n == name)?;
        Some(self.vars.remove(pos).1)
    }

    /// Copy every variable of `other` into this path.
    pub(crate) fn update(&mut self, other: &Path) {
        for (name, valu) in &other.vars {
            self.set(name, valu.clone());
        }
    }

    pub(crate) fn set_meta(&mut self, name: &str, valu: Val) {
        match self.meta.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = valu,
            None => self.meta.push((name.to_owned(), valu)),
        }
    }

    /// The path of a node reached from `from` through `link`.
    pub(crate) fn fork(&self, from: &Node, to: &Node, link: impl FnOnce() -> Value) -> Path {
        let mut path = Path {
            vars: self.vars.clone(),
            meta: Vec::new(),
            links: None,
            nodes: None,
        };
        if let Some(links) = &self.links {
            let mut links = links.clone();
            links.push((from.iden(), link()));
            path.links = Some(links);
        }
        if let Some(nodes) = &self.nodes {
            let mut nodes = nodes.clone();
            nodes.push(to.iden());
            path.nodes = Some(nodes);
        }
        path
    }

    /// The `path` key of a packed node.
    pub(crate) fn pack(&self) -> Value {
        let mut out = Vec::new();
        for (name, valu) in &self.meta {
            if let Ok(v) = valu.to_msgpack() {
                out.push((Value::from(name.as_str()), v));
            }
        }
        if let Some(nodes) = &self.nodes {
            out.push((
                Value::from("nodes"),
                Value::Array(nodes.iter().map(|n| Value::from(n.as_str())).collect()),
            ));
        }
        Value::Map(out)
    }
}

/// State shared by every runtime of one query.
pub(crate) struct Shared {
    pub(crate) core: Arc<StormCore>,
    pub(crate) user: StormUser,
    pub(crate) view: View,
    pub(crate) opts: StormOpts,
    pub(crate) sink: Option<tokio::sync::mpsc::Sender<Message>>,
    pub(crate) editor: tokio::sync::Mutex<Editor>,
    /// Whether nodes carry links / node lists in their paths.
    pub(crate) warned: Mutex<std::collections::HashSet<String>>,
    pub(crate) links: bool,
    pub(crate) pathnodes: bool,
    /// Incremented whenever edits are applied.
    pub(crate) edits: std::sync::atomic::AtomicU64,
    /// The graph projection `$lib.graph.activate` chose (it wins over the `graph` option).
    pub(crate) graph: Mutex<Option<Value>>,
    /// Node data the query's nodes carry (`$node.data.load`, see `nodedata.rs`).
    pub(crate) nodedata: super::nodedata::Carried,
}

impl Shared {
    pub(crate) fn edit_gen(&self) -> u64 {
        self.edits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Send a message to the client (dropped when there is no client).
    pub(crate) async fn send(&self, kind: &str, info: Value) {
        if let Some(sink) = &self.sink {
            if let Some(show) = &self.opts.show
                && !show.iter().any(|s| s == kind)
            {
                return;
            }
            let _ = sink.send(Message::new(kind, info)).await;
        }
    }

    pub(crate) async fn print(&self, mesg: &str) {
        self.send(
            "print",
            Value::Map(vec![(Value::from("mesg"), Value::from(mesg))]),
        )
        .await;
    }

    /// A warning sent once per query.
    pub(crate) async fn warnonce(&self, mesg: &str) {
        if lock(&self.warned).insert(mesg.to_owned()) {
            self.warn(mesg, Vec::new()).await;
        }
    }

    pub(crate) async fn warn(&self, mesg: &str, extra: Vec<(Value, Value)>) {
        let mut info = vec![(Value::from("mesg"), Value::from(mesg))];
        info.extend(extra);
        self.send("warn", Value::Map(info)).await;
    }

    /// Send the `node:edits` message of applied edits.
    pub(crate) async fn edits_applied(&self, batches: &[Vec<NodeEdit>]) {
        if self.sink.is_none() {
            return;
        }
        for batch in batches {
            match self.opts.editformat.as_str() {
                "none" => {}
                "count" => {
                    let count = NodeEdit::count(batch);
                    self.send(
                        "node:edits:count",
                        Value::Map(vec![(Value::from("count"), Value::from(count as u64))]),
                    )
                    .await;
                }
                _ => {
                    let edits = NodeEdit::list_to_value(batch, BuidForm::Iden);
                    self.send(
                        "node:edits",
                        Value::Map(vec![(Value::from("edits"), edits)]),
                    )
                    .await;
                }
            }
        }
    }
}

/// A function defined in a query, bound to the runtime that defined it.
pub(crate) struct FuncVal {
    pub(crate) plan: Arc<FuncPlan>,
    pub(crate) runt: Arc<Runt>,
    pub(crate) defaults: Vec<(String, Option<Val>)>,
    pub(crate) body: OnceLock<Result<crate::storm::plan::Plan, crate::storm::plan::PlanError>>,
}

impl std::fmt::Debug for FuncVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FuncVal({})", self.plan.name)
    }
}

/// A query object (`${ ... }`, `storm:query`).
pub(crate) struct QueryVal {
    pub(crate) text: String,
    pub(crate) query: Arc<Query>,
    pub(crate) vars: Vec<(String, Val)>,
    pub(crate) runt: Arc<Runt>,
}

impl std::fmt::Debug for QueryVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryVal({})", self.text)
    }
}

/// Items a generator yields.
#[derive(Debug)]
pub(crate) enum GenItem {
    Val(Val),
    Item(Item),
}

/// A generator value (consumed once).
pub(crate) struct GenVal {
    pub(crate) stream: tokio::sync::Mutex<Option<BoxStream<'static, RResult<GenItem>>>>,
}

impl std::fmt::Debug for GenVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GenVal")
    }
}

impl GenVal {
    pub(crate) fn val(stream: BoxStream<'static, RResult<GenItem>>) -> Val {
        Val::Gen(Arc::new(GenVal {
            stream: tokio::sync::Mutex::new(Some(stream)),
        }))
    }
}

/// A runtime: the variables of a query (or subquery / function body) and its settings.
pub(crate) struct Runt {
    pub(crate) shared: Arc<Shared>,
    pub(crate) vars: Mutex<HashMap<String, Val>>,
    pub(crate) runtvars: HashMap<String, bool>,
    pub(crate) root: Option<Arc<Runt>>,
    pub(crate) funcscope: bool,
    pub(crate) asroot: bool,
    pub(crate) text: Arc<str>,
    pub(crate) depth: usize,
    pub(crate) view: View,
    pub(crate) emitq: Option<tokio::sync::mpsc::Sender<RResult<Val>>>,
}

/// The deepest nesting of runtimes (function calls, subqueries run as values).
pub(crate) const MAX_DEPTH: usize = 96;

impl Runt {
    pub(crate) fn model(&self) -> &crate::model::Model {
        self.view.model()
    }

    /// A variable: the path's first, then this runtime's and its parents'.
    pub(crate) fn get_var(&self, name: &str, path: Option<&Path>) -> Option<Val> {
        if let Some(path) = path
            && let Some(v) = path.get(name)
        {
            return Some(v.clone());
        }
        self.runt_var(name)
    }

    pub(crate) fn runt_var(&self, name: &str) -> Option<Val> {
        if let Some(v) = lock(&self.vars).get(name) {
            return Some(v.clone());
        }
        if name == "lib" {
            return Some(Val::Lib(Arc::from("lib")));
        }
        match &self.root {
            Some(root) => root.runt_var(name),
            None => None,
        }
    }

    fn is_root_scope(&self, name: &str) -> bool {
        let Some(root) = &self.root else {
            return false;
        };
        if !self.funcscope {
            return true;
        }
        if lock(&root.vars).contains_key(name) {
            return true;
        }
        root.is_root_scope(name)
    }

    /// Set a runtime variable (in the scope that owns it).
    pub(crate) fn set_var(&self, name: &str, valu: Val) {
        if lock(&self.vars).contains_key(name) || !self.is_root_scope(name) {
            lock(&self.vars).insert(name.to_owned(), valu);
            return;
        }
        if let Some(root) = &self.root {
            root.set_var(name, valu);
        }
    }

    pub(crate) fn pop_var(&self, name: &str) -> Option<Val> {
        if !lock(&self.vars).contains_key(name) && self.is_root_scope(name) {
            return self.root.as_ref().and_then(|root| root.pop_var(name));
        }
        lock(&self.vars).remove(name)
    }

    /// Every variable of this scope and its parents.
    pub(crate) fn scope_vars(&self) -> Vec<(String, Val)> {
        let mut out: Vec<(String, Val)> = match &self.root {
            Some(root) => root.scope_vars(),
            None => Vec::new(),
        };
        for (k, v) in lock(&self.vars).iter() {
            match out.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v.clone(),
                None => out.push((k.clone(), v.clone())),
            }
        }
        out
    }

    pub(crate) fn is_runtvar(&self, name: &str) -> bool {
        self.runtvars.get(name).copied().unwrap_or(false)
    }

    /// The path of a node entering the pipeline.
    pub(crate) fn init_path(&self, node: &Node) -> Path {
        Path {
            vars: Vec::new(),
            meta: Vec::new(),
            links: self.shared.links.then(Vec::new),
            nodes: self.shared.pathnodes.then(|| vec![node.iden()]),
        }
    }

    /// An error with the highlight of a span of this runtime's text.
    pub(crate) fn at(&self, span: Span, err: Flow) -> Flow {
        match err {
            Flow::Err(e) => Flow::Err(e.highlight(&self.text, span)),
            other => other,
        }
    }

    pub(crate) fn error(&self, span: Span, name: &str, mesg: impl Into<String>) -> Flow {
        Flow::Err(StormError::new(name, mesg).highlight(&self.text, span))
    }

    // ----- permissions -----

    /// Whether the user has a permission (on a gate, or globally).
    pub(crate) fn allowed(&self, perm: &[&str], gate: Option<&str>) -> bool {
        self.asroot || self.shared.user.allowed(perm, gate)
    }

    /// `AuthDeny` unless the user has the permission.
    pub(crate) fn confirm(&self, perm: &[&str], gate: Option<(&str, &str)>) -> RResult<()> {
        if self.allowed(perm, gate.map(|g| g.0)) {
            return Ok(());
        }
        Err(Flow::Err(self.shared.user.deny(perm, gate)))
    }

    /// Confirm a permission on the write layer.
    pub(crate) fn layer_confirm(&self, perm: &[&str]) -> RResult<()> {
        let layer = self.view.write_layer().iden();
        self.confirm(perm, Some((&layer, "layer")))
    }

    pub(crate) fn req_writable(&self, span: Span) -> RResult<()> {
        if self.shared.opts.readonly {
            return Err(self.error(
                span,
                "IsReadOnly",
                "Storm runtime is in readonly mode, cannot create or edit nodes and other graph data.",
            ));
        }
        Ok(())
    }

    // ----- edits -----

    /// Apply what the editor holds, send the `node:edits` messages and return the batches.
    pub(crate) async fn flush(&self, editor: &mut Editor) -> RResult<Vec<Vec<NodeEdit>>> {
        if !editor.has_pending() {
            return Ok(Vec::new());
        }
        // edits made by the triggers these edits fire come back too (the nodes show them)
        let (batches, extra) = crate::cortex::collect_trigger_edits(editor.apply()).await;
        let mut batches = batches.map_err(Flow::from)?;
        if !batches.is_empty() {
            self.shared
                .edits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let skips = editor.take_depr_skips();
        super::deprwarn::warn_applied(&self.shared, self.model(), &batches, skips).await;
        self.shared.edits_applied(&batches).await;
        if !extra.is_empty() {
            batches.extend(extra);
        }
        crate::cortex::publish_trigger_edits(&batches);
        Ok(batches)
    }
}

/// Apply applied edits to a node's state (props, tags, tag props); `None` once deleted.
pub(crate) fn patch_node(node: &mut Node, batches: &[Vec<NodeEdit>]) -> bool {
    let mut alive = true;
    for batch in batches {
        for ne in batch {
            if ne.buid != node.buid {
                continue;
            }
            for edit in &ne.edits {
                match &edit.op {
                    EditOp::NodeAdd { valu, .. } => {
                        node.valu = valu.clone();
                        node.form = ne.form.clone();
                        alive = true;
                    }
                    EditOp::NodeDel { .. } => alive = false,
                    EditOp::PropSet { prop, valu, .. } => {
                        match node.props.iter_mut().find(|(n, _)| n == prop) {
                            Some(slot) => slot.1 = valu.clone(),
                            None => node.props.push((prop.clone(), valu.clone())),
                        }
                    }
                    EditOp::PropDel { prop, .. } => node.props.retain(|(n, _)| n != prop),
                    EditOp::TagSet { tag, valu, .. } => {
                        match node.tags.iter_mut().find(|(n, _)| n == tag) {
                            Some(slot) => slot.1 = *valu,
                            None => node.tags.push((tag.clone(), *valu)),
                        }
                    }
                    EditOp::TagDel { tag, .. } => node.tags.retain(|(n, _)| n != tag),
                    EditOp::TagPropSet {
                        tag, prop, valu, ..
                    } => {
                        let idx = match node.tagprops.iter().position(|(t, _)| t == tag) {
                            Some(idx) => idx,
                            None => {
                                node.tagprops.push((tag.clone(), Vec::new()));
                                node.tagprops.len() - 1
                            }
                        };
                        let props = &mut node.tagprops[idx].1;
                        match props.iter_mut().find(|(n, _)| n == prop) {
                            Some(slot) => slot.1 = valu.clone(),
                            None => props.push((prop.clone(), valu.clone())),
                        }
                    }
                    EditOp::TagPropDel { tag, prop, .. } => {
                        if let Some(idx) = node.tagprops.iter().position(|(t, _)| t == tag) {
                            node.tagprops[idx].1.retain(|(n, _)| n != prop);
                            if node.tagprops[idx].1.is_empty() {
                                node.tagprops.remove(idx);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    alive
}
