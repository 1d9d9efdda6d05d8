//! [`Hive`]: the tree, its storage in a slab database, and its change events.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{Stream, TryStreamExt};
use rmpv::Value;
use synapse_base::Base;
use synapse_slab::{Db, DbOptions, Scan, Slab, codec};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// A path in the tree: names from the root. The root is the empty path.
pub type Path = Vec<String>;

/// Capacity of a subscriber's queue of edits (the reference's per-session queue holds 10000);
/// a subscriber that falls this far behind is cut off (its stream ends).
const SUB_QUEUE: usize = 10_000;

/// A change to the tree, as the reference's node events.
#[derive(Debug, Clone, PartialEq)]
pub enum HiveEvent {
    /// `hive:set`: a node's value was set. For [`Hive::add`], `valu` is the delta, not the new
    /// value (as in the reference).
    Set {
        /// The node's path.
        path: Path,
        /// The value set.
        valu: Value,
        /// The previous value (`Nil` if none).
        oldv: Value,
    },
    /// `hive:pop`: a node was removed (children are removed, and reported, first).
    Pop {
        /// The node's path.
        path: Path,
        /// Its value.
        valu: Value,
    },
}

impl HiveEvent {
    /// The event name: `hive:set` or `hive:pop`.
    pub fn name(&self) -> &'static str {
        match self {
            HiveEvent::Set { .. } => "hive:set",
            HiveEvent::Pop { .. } => "hive:pop",
        }
    }

    /// The path of the node concerned.
    pub fn path(&self) -> &[String] {
        match self {
            HiveEvent::Set { path, .. } | HiveEvent::Pop { path, .. } => path,
        }
    }

    /// The event as the reference's edit message: `(name, {'path': .., 'valu': .., 'oldv': ..})`.
    pub fn to_msg(&self) -> Value {
        let mut info = vec![(Value::from("path"), path_value(self.path()))];
        match self {
            HiveEvent::Set { valu, oldv, .. } => {
                info.push((Value::from("valu"), valu.clone()));
                info.push((Value::from("oldv"), oldv.clone()));
            }
            HiveEvent::Pop { valu, .. } => info.push((Value::from("valu"), valu.clone())),
        }
        Value::Array(vec![Value::from(self.name()), Value::Map(info)])
    }
}

/// A path as a msgpack array of strings.
pub fn path_value(path: &[String]) -> Value {
    Value::Array(path.iter().map(|name| Value::from(name.as_str())).collect())
}

/// A path from a msgpack array (or list) of strings.
pub fn path_from_value(value: &Value) -> Result<Path> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item.as_str() {
                Some(name) => Ok(name.to_owned()),
                None => Err(Error::BadHivePath(format!(
                    "path elements must be strings: {item}"
                ))),
            })
            .collect(),
        other => Err(Error::BadHivePath(format!("bad hive path: {other}"))),
    }
}

#[derive(Debug)]
struct Node {
    valu: Value,
    /// Child names in creation order (the reference's dict order).
    kids: Vec<String>,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            valu: Value::Nil,
            kids: Vec::new(),
        }
    }
}

/// Where a subscriber's edits go.
enum SubTx {
    /// Events, for [`HiveEdits`].
    Events(mpsc::Sender<HiveEvent>),
    /// Edit messages (`HiveEvent::to_msg`), for a remote session's queue.
    Msgs(mpsc::Sender<Value>),
}

struct Sub {
    prefix: Path,
    tx: SubTx,
}

#[derive(Default)]
struct Tree {
    nodes: HashMap<Path, Node>,
    subs: Vec<Sub>,
    next_sub: u64,
}

impl Tree {
    /// Create `path` and its missing ancestors (with value `Nil`, in memory only).
    fn open(&mut self, path: &[String]) {
        for len in 1..=path.len() {
            let here = &path[..len];
            if self.nodes.contains_key(here) {
                continue;
            }
            self.nodes.insert(here.to_vec(), Node::default());
            if let Some(parent) = self.nodes.get_mut(&path[..len - 1]) {
                parent.kids.push(path[len - 1].clone());
            }
        }
    }

    fn notify(&mut self, event: &HiveEvent) {
        self.subs.retain(|sub| {
            if !event.path().starts_with(&sub.prefix) {
                return true;
            }
            let sent = match &sub.tx {
                SubTx::Events(tx) => tx
                    .try_send(event.clone())
                    .map_err(|err| matches!(err, mpsc::error::TrySendError::Full(_))),
                SubTx::Msgs(tx) => tx
                    .try_send(event.to_msg())
                    .map_err(|err| matches!(err, mpsc::error::TrySendError::Full(_))),
            };
            match sent {
                Ok(()) => true,
                Err(false) => false,
                Err(true) => {
                    tracing::warn!("hive subscriber fell {SUB_QUEUE} edits behind; cutting it off");
                    false
                }
            }
        });
    }

    /// The subtree at `path`, children first (depth-first, post-order).
    fn post_order(&self, path: &[String], out: &mut Vec<Path>) {
        if let Some(node) = self.nodes.get(path) {
            for kid in &node.kids {
                let mut child = path.to_vec();
                child.push(kid.clone());
                self.post_order(&child, out);
            }
            out.push(path.to_vec());
        }
    }

    fn save(&self, path: &[String]) -> Value {
        let Some(node) = self.nodes.get(path) else {
            return Value::Map(vec![(Value::from("value"), Value::Nil)]);
        };
        let mut out = vec![(Value::from("value"), node.valu.clone())];
        if !node.kids.is_empty() {
            let kids = node
                .kids
                .iter()
                .map(|kid| {
                    let mut child = path.to_vec();
                    child.push(kid.clone());
                    (Value::from(kid.as_str()), self.save(&child))
                })
                .collect();
            out.push((Value::from("kids"), Value::Map(kids)));
        }
        Value::Map(out)
    }

    /// `(valu, {name: (valu, {...})})`, the snapshot format of the reference's `treeAndSync`.
    fn snapshot(&self, path: &[String]) -> Value {
        let Some(node) = self.nodes.get(path) else {
            return Value::Array(vec![Value::Nil, Value::Map(Vec::new())]);
        };
        let kids = node
            .kids
            .iter()
            .map(|kid| {
                let mut child = path.to_vec();
                child.push(kid.clone());
                (Value::from(kid.as_str()), self.snapshot(&child))
            })
            .collect();
        Value::Array(vec![node.valu.clone(), Value::Map(kids)])
    }
}

/// The storage key of a path: names joined with NUL, UTF-8.
fn path_key(path: &[String]) -> Result<Vec<u8>> {
    if path.is_empty() {
        return Err(Error::BadHivePath(
            "the root node has no stored value".into(),
        ));
    }
    if let Some(name) = path.iter().find(|name| name.contains('\0')) {
        return Err(Error::BadHivePath(format!(
            "hive path names may not contain NUL: {name:?}"
        )));
    }
    let key = path.join("\0").into_bytes();
    if key.is_empty() {
        return Err(Error::BadHivePath(
            "the path () and ('',) cannot be stored".into(),
        ));
    }
    if key.len() > synapse_slab::MAX_KEY_LEN {
        return Err(Error::BadHivePath(format!(
            "hive path is longer than {} bytes",
            synapse_slab::MAX_KEY_LEN
        )));
    }
    Ok(key)
}

fn to_path<S: AsRef<str>>(path: &[S]) -> Path {
    path.iter().map(|name| name.as_ref().to_owned()).collect()
}

struct Inner {
    slab: Slab,
    db: Db,
    tree: Mutex<Tree>,
    base: Base,
}

/// The hive: a tree of named nodes with msgpack values, kept in memory and written through to
/// one database of a slab (the reference's `SlabHive`).
///
/// Only nodes that were set are stored (key: the path joined with NUL; value: msgpack), so
/// the layout is the reference's and data moves between the two. Changes fire `hive:set` /
/// `hive:pop` events ([`HiveEvent`]) on [`Hive::base`], and reach [`Hive::subscribe`]rs of
/// the node or an ancestor (the reference bubbles node events to every ancestor).
///
/// Writes are applied to memory and sent to the slab in one step, so storage sees them in the
/// order memory does.
#[derive(Clone)]
pub struct Hive {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hive").finish_non_exhaustive()
    }
}

impl Hive {
    /// Load the hive stored in database `db_name` of `slab` (Cells use `hive` in
    /// `slabs/cell.lmdb`).
    pub async fn open(slab: &Slab, db_name: &str) -> Result<Hive> {
        let db = slab.initdb(db_name, DbOptions::default()).await?;
        let rows: Vec<(Path, Value)> = slab
            .scan_map(db, Scan::full(), |key, val| {
                let text = String::from_utf8_lossy(key);
                let path: Path = text.split('\0').map(str::to_owned).collect();
                Ok((path, codec::unpack(val)?))
            })
            .try_collect()
            .await?;
        let mut tree = Tree::default();
        tree.nodes.insert(Vec::new(), Node::default());
        for (path, valu) in rows {
            tree.open(&path);
            if let Some(node) = tree.nodes.get_mut(&path) {
                node.valu = valu;
            }
        }
        Ok(Hive {
            inner: Arc::new(Inner {
                slab: slab.clone(),
                db,
                tree: Mutex::new(tree),
                base: Base::new(),
            }),
        })
    }

    fn tree(&self) -> std::sync::MutexGuard<'_, Tree> {
        self.inner
            .tree
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hive's event bus: `hive:set` and `hive:pop` events carry a [`HiveEvent`].
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// The slab holding the hive.
    pub fn slab(&self) -> &Slab {
        &self.inner.slab
    }

    async fn fire(&self, events: Vec<HiveEvent>) {
        for event in events {
            self.inner.base.fire(event.name(), event).await;
        }
    }

    /// The value of the node at `path`, or `None` if there is no node.
    pub fn get<S: AsRef<str>>(&self, path: &[S]) -> Option<Value> {
        self.tree()
            .nodes
            .get(&to_path(path))
            .map(|node| node.valu.clone())
    }

    /// True if a node exists at `path` (including nodes created implicitly).
    pub fn exists<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.tree().nodes.contains_key(&to_path(path))
    }

    /// `(name, value, number of children)` of each child, or `None` if there is no node.
    pub fn dir<S: AsRef<str>>(&self, path: &[S]) -> Option<Vec<(String, Value, usize)>> {
        let tree = self.tree();
        let path = to_path(path);
        let node = tree.nodes.get(&path)?;
        Some(
            node.kids
                .iter()
                .map(|kid| {
                    let mut child = path.clone();
                    child.push(kid.clone());
                    let (valu, count) = tree
                        .nodes
                        .get(&child)
                        .map(|node| (node.valu.clone(), node.kids.len()))
                        .unwrap_or((Value::Nil, 0));
                    (kid.clone(), valu, count)
                })
                .collect(),
        )
    }

    /// Create the node at `path` and its missing ancestors, in memory only (value `Nil`).
    pub fn open_node<S: AsRef<str>>(&self, path: &[S]) {
        self.tree().open(&to_path(path));
    }

    /// Set the node at `path` (creating it and its ancestors) and return its previous value
    /// (`Nil` if none).
    pub async fn set<S: AsRef<str>>(&self, path: &[S], valu: Value) -> Result<Value> {
        let path = to_path(path);
        let key = path_key(&path)?;
        let packed = codec::pack(&valu);
        let db = self.inner.db;
        let (oldv, stored, event) = {
            let mut tree = self.tree();
            tree.open(&path);
            let node = tree
                .nodes
                .get_mut(&path)
                .ok_or_else(|| Error::BadHivePath("node vanished".into()))?;
            let oldv = std::mem::replace(&mut node.valu, valu.clone());
            let stored = self.inner.slab.write(move |txn| txn.put(db, &key, &packed));
            let event = HiveEvent::Set {
                path,
                valu,
                oldv: oldv.clone(),
            };
            tree.notify(&event);
            (oldv, stored, event)
        };
        stored.await?;
        self.fire(vec![event]).await;
        Ok(oldv)
    }

    /// Add `delta` to the node's value and return the new value (numbers add; strings, bytes
    /// and lists concatenate; anything else is [`Error::Type`], as Python's `+`). The
    /// `hive:set` event carries the delta, as in the reference.
    pub async fn add<S: AsRef<str>>(&self, path: &[S], delta: Value) -> Result<Value> {
        let path = to_path(path);
        let key = path_key(&path)?;
        let db = self.inner.db;
        let (newv, stored, event) = {
            let mut tree = self.tree();
            tree.open(&path);
            let node = tree
                .nodes
                .get_mut(&path)
                .ok_or_else(|| Error::BadHivePath("node vanished".into()))?;
            let newv = add_values(&node.valu, &delta)?;
            let oldv = std::mem::replace(&mut node.valu, newv.clone());
            let packed = codec::pack(&newv);
            let stored = self.inner.slab.write(move |txn| txn.put(db, &key, &packed));
            let event = HiveEvent::Set {
                path,
                valu: delta,
                oldv,
            };
            tree.notify(&event);
            (newv, stored, event)
        };
        stored.await?;
        self.fire(vec![event]).await;
        Ok(newv)
    }

    /// Remove the node at `path` and its subtree (children first, each firing `hive:pop`) and
    /// return its value (`Nil` if there was no node). Popping the root removes every node but
    /// the root.
    pub async fn pop<S: AsRef<str>>(&self, path: &[S]) -> Result<Value> {
        let path = to_path(path);
        let db = self.inner.db;
        let (valu, stored, events) = {
            let mut tree = self.tree();
            if !tree.nodes.contains_key(&path) {
                return Ok(Value::Nil);
            }
            let mut order = Vec::new();
            tree.post_order(&path, &mut order);
            let mut keys = Vec::new();
            let mut events = Vec::new();
            let mut valu = Value::Nil;
            for node_path in order {
                if node_path.is_empty() {
                    // The root stays.
                    if let Some(root) = tree.nodes.get_mut(&node_path) {
                        root.kids.clear();
                        valu = root.valu.clone();
                    }
                    continue;
                }
                let Some(node) = tree.nodes.remove(&node_path) else {
                    continue;
                };
                if let Some(parent) = tree.nodes.get_mut(&node_path[..node_path.len() - 1]) {
                    let name = &node_path[node_path.len() - 1];
                    parent.kids.retain(|kid| kid != name);
                }
                if let Ok(key) = path_key(&node_path) {
                    keys.push(key);
                }
                if node_path == path {
                    valu = node.valu.clone();
                }
                let event = HiveEvent::Pop {
                    path: node_path,
                    valu: node.valu,
                };
                tree.notify(&event);
                events.push(event);
            }
            let stored = self.inner.slab.write(move |txn| {
                for key in &keys {
                    txn.delete(db, key, None)?;
                }
                Ok::<_, synapse_slab::Error>(())
            });
            (valu, stored, events)
        };
        stored.await?;
        self.fire(events).await;
        Ok(valu)
    }

    /// Move the node at `old` and its subtree to `new`, which must not exist (the reference's
    /// checks and messages).
    pub async fn rename<S: AsRef<str>, T: AsRef<str>>(&self, old: &[S], new: &[T]) -> Result<()> {
        let (old, new) = (to_path(old), to_path(new));
        if self.exists(&new) {
            return Err(Error::BadHivePath("path already exists".into()));
        }
        if new.starts_with(&old) {
            return Err(Error::BadHivePath("cannot move path into itself".into()));
        }
        if !self.exists(&old) {
            return Err(Error::BadHivePath(format!(
                "path {} does not exist",
                old.join("/")
            )));
        }
        self.rename_inner(old, new).await
    }

    fn rename_inner(
        &self,
        old: Path,
        new: Path,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(async move {
            let (kids, valu) = {
                let tree = self.tree();
                let node = tree.nodes.get(&old);
                (
                    node.map(|node| node.kids.clone()).unwrap_or_default(),
                    node.map(|node| node.valu.clone()).unwrap_or(Value::Nil),
                )
            };
            for kid in kids {
                let (mut from, mut to) = (old.clone(), new.clone());
                from.push(kid.clone());
                to.push(kid);
                self.rename_inner(from, to).await?;
            }
            self.set(&new, valu).await?;
            self.pop(&old).await?;
            Ok(())
        })
    }

    /// The subtree at `path` as `{'value': v, 'kids': {name: {...}}}` (`kids` omitted for
    /// leaves), as the reference's `saveHiveTree`. The node is created if missing.
    pub fn save_tree<S: AsRef<str>>(&self, path: &[S]) -> Value {
        let path = to_path(path);
        let mut tree = self.tree();
        tree.open(&path);
        tree.save(&path)
    }

    /// Apply a tree made by [`Hive::save_tree`] at `path`: every node with a `value` is set
    /// (except the root); with `trim`, children absent from the tree are popped.
    pub fn load_tree<'a, S: AsRef<str>>(
        &'a self,
        tree: &'a Value,
        path: &[S],
        trim: bool,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        let path = to_path(path);
        Box::pin(async move {
            let Value::Map(items) = tree else {
                return Err(Error::BadArg("a hive tree must be a map".into()));
            };
            self.open_node(&path);
            let field = |name: &str| {
                items
                    .iter()
                    .find(|(key, _)| key.as_str() == Some(name))
                    .map(|(_, val)| val)
            };
            if let Some(valu) = field("value")
                && !path.is_empty()
            {
                self.set(&path, valu.clone()).await?;
            }
            let mut names = Vec::new();
            if let Some(kids) = field("kids") {
                let Value::Map(kids) = kids else {
                    return Err(Error::BadArg("hive tree kids must be a map".into()));
                };
                for (name, kid) in kids {
                    let Some(name) = name.as_str() else {
                        return Err(Error::BadArg("hive tree names must be strings".into()));
                    };
                    names.push(name.to_owned());
                    let mut child = path.clone();
                    child.push(name.to_owned());
                    self.load_tree(kid, &child, trim).await?;
                }
            }
            if trim {
                let existing: Vec<String> = self
                    .tree()
                    .nodes
                    .get(&path)
                    .map(|node| node.kids.clone())
                    .unwrap_or_default();
                for kid in existing.into_iter().filter(|kid| !names.contains(kid)) {
                    let mut child = path.clone();
                    child.push(kid);
                    self.pop(&child).await?;
                }
            }
            Ok(())
        })
    }

    /// A [`HiveDict`] over the children of `path` (created if missing).
    pub fn dict<S: AsRef<str>>(&self, path: &[S]) -> HiveDict {
        let path = to_path(path);
        self.open_node(&path);
        HiveDict {
            hive: self.clone(),
            path,
            defs: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Stream the edits of the subtree at `path` (created if missing).
    pub fn subscribe<S: AsRef<str>>(&self, path: &[S]) -> HiveEdits {
        self.subscribe_with_tree(path).0
    }

    /// Subscribe to the subtree at `path` and take a snapshot of it in one step, so that no
    /// edit is missed or applied twice: the snapshot is `(valu, {name: (valu, {...})})`, the
    /// format of the reference's `hive:tree` message.
    pub fn subscribe_with_tree<S: AsRef<str>>(&self, path: &[S]) -> (HiveEdits, Value) {
        let path = to_path(path);
        let (tx, rx) = mpsc::channel(SUB_QUEUE);
        let mut tree = self.tree();
        tree.open(&path);
        let snapshot = tree.snapshot(&path);
        tree.next_sub += 1;
        let id = tree.next_sub;
        tree.subs.push(Sub {
            prefix: path,
            tx: SubTx::Events(tx),
        });
        (HiveEdits { id, rx }, snapshot)
    }

    /// Subscribe a message queue to the subtree at `path`: in one step, queue the reference's
    /// `('hive:tree', {'path': .., 'tree': (valu, {name: ...})})` snapshot, then every later
    /// edit as its message (`HiveEvent::to_msg`). This is `treeAndSync` of the remote API.
    /// Returns false if the queue is full or closed (nothing was subscribed).
    pub fn subscribe_msgs<S: AsRef<str>>(&self, path: &[S], tx: &mpsc::Sender<Value>) -> bool {
        let path = to_path(path);
        let mut tree = self.tree();
        tree.open(&path);
        let snapshot = tree.snapshot(&path);
        let msg = Value::Array(vec![
            Value::from("hive:tree"),
            Value::Map(vec![
                (Value::from("path"), path_value(&path)),
                (Value::from("tree"), snapshot),
            ]),
        ]);
        if tx.try_send(msg).is_err() {
            return false;
        }
        tree.subs.push(Sub {
            prefix: path,
            tx: SubTx::Msgs(tx.clone()),
        });
        true
    }

    /// The names of the children of `path`, or `None` if there is no node (the CellApi's
    /// `listHiveKey`).
    pub fn list_keys<S: AsRef<str>>(&self, path: &[S]) -> Option<Vec<String>> {
        self.tree()
            .nodes
            .get(&to_path(path))
            .map(|node| node.kids.clone())
    }

    /// `(name, value)` of the children of `path`, empty if there is no node (the CellApi's
    /// `getHiveKeys`).
    pub fn get_keys<S: AsRef<str>>(&self, path: &[S]) -> Vec<(String, Value)> {
        self.dir(path)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, valu, _)| (name, valu))
            .collect()
    }
}

/// The edits of a subtree, made by [`Hive::subscribe`]. Ends if the reader falls too far
/// behind.
#[derive(Debug)]
pub struct HiveEdits {
    id: u64,
    rx: mpsc::Receiver<HiveEvent>,
}

impl HiveEdits {
    /// The subscription's id (unique within its hive).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next edit, or `None` once cut off.
    pub async fn recv(&mut self) -> Option<HiveEvent> {
        self.rx.recv().await
    }
}

impl Stream for HiveEdits {
    type Item = HiveEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<HiveEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// A dict view of one node's children (the reference's `HiveDict`). Defaults given to
/// [`HiveDict::setdefault`] live in memory only.
#[derive(Clone, Debug)]
pub struct HiveDict {
    hive: Hive,
    path: Path,
    defs: Arc<Mutex<HashMap<String, Value>>>,
}

impl HiveDict {
    fn child(&self, name: &str) -> Path {
        let mut path = self.path.clone();
        path.push(name.to_owned());
        path
    }

    fn defs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.defs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The child's value, else its default, else `default`.
    pub fn get(&self, name: &str, default: Value) -> Value {
        match self.hive.get(&self.child(name)) {
            Some(valu) => valu,
            None => self.defs().get(name).cloned().unwrap_or(default),
        }
    }

    /// Set a child; returns its previous value.
    pub async fn set(&self, name: &str, valu: Value) -> Result<Value> {
        self.hive.set(&self.child(name), valu).await
    }

    /// Remember a default for `name` (in memory only).
    pub fn setdefault(&self, name: &str, valu: Value) {
        self.defs().insert(name.to_owned(), valu);
    }

    /// `(name, value)` of the children (not the defaults).
    pub fn items(&self) -> Vec<(String, Value)> {
        self.hive.get_keys(&self.path)
    }

    /// The children's values.
    pub fn values(&self) -> Vec<Value> {
        self.items().into_iter().map(|(_, valu)| valu).collect()
    }

    /// The children as a msgpack map (the reference's `pack()`).
    pub fn pack(&self) -> Value {
        Value::Map(
            self.items()
                .into_iter()
                .map(|(name, valu)| (Value::from(name), valu))
                .collect(),
        )
    }

    /// Remove a child and return its value, else its default, else `default`.
    pub async fn pop(&self, name: &str, default: Value) -> Result<Value> {
        let child = self.child(name);
        if !self.hive.exists(&child) {
            return Ok(self.defs().get(name).cloned().unwrap_or(default));
        }
        self.hive.pop(&child).await
    }
}

/// Python's `+` on msgpack values.
fn add_values(old: &Value, delta: &Value) -> Result<Value> {
    fn int(value: &Value) -> Option<i128> {
        value
            .as_i64()
            .map(i128::from)
            .or_else(|| value.as_u64().map(i128::from))
    }
    fn float(value: &Value) -> Option<f64> {
        match value {
            Value::F64(val) => Some(*val),
            Value::F32(val) => Some(f64::from(*val)),
            _ => None,
        }
    }
    if let (Some(a), Some(b)) = (int(old), int(delta)) {
        let sum = a + b;
        if let Ok(small) = i64::try_from(sum) {
            return Ok(Value::from(small));
        }
        if let Ok(big) = u64::try_from(sum) {
            return Ok(Value::from(big));
        }
        return Err(Error::Type("integer overflow in hive add".into()));
    }
    let number = |value: &Value| float(value).or_else(|| int(value).map(|val| val as f64));
    if (float(old).is_some() || float(delta).is_some())
        && let (Some(a), Some(b)) = (number(old), number(delta))
    {
        return Ok(Value::F64(a + b));
    }
    match (old, delta) {
        (Value::String(a), Value::String(b)) => {
            if let (Some(a), Some(b)) = (a.as_str(), b.as_str()) {
                return Ok(Value::from(format!("{a}{b}")));
            }
        }
        (Value::Binary(a), Value::Binary(b)) => {
            return Ok(Value::Binary([a.as_slice(), b.as_slice()].concat()));
        }
        (Value::Array(a), Value::Array(b)) => {
            return Ok(Value::Array([a.as_slice(), b.as_slice()].concat()));
        }
        _ => {}
    }
    Err(Error::Type(format!(
        "unsupported operand type(s) for +: '{}' and '{}'",
        py_type(old),
        py_type(delta)
    )))
}

fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Nil => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Integer(_) => "int",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "str",
        Value::Binary(_) => "bytes",
        Value::Array(_) => "tuple",
        Value::Map(_) => "dict",
        Value::Ext(..) => "int",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_with_nul_and_refuse_bad_paths() {
        let path = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(path_key(&path).ok(), Some(b"a\0b".to_vec()));
        assert!(path_key(&[]).is_err());
        assert!(path_key(&["a\0b".to_owned()]).is_err());
        assert!(path_key(&["x".repeat(600)]).is_err());
    }

    #[test]
    fn add_follows_python() {
        assert_eq!(
            add_values(&Value::from(2), &Value::from(3)).ok(),
            Some(Value::from(5))
        );
        assert_eq!(
            add_values(&Value::from(1), &Value::F64(0.5)).ok(),
            Some(Value::F64(1.5))
        );
        assert_eq!(
            add_values(&Value::from("a"), &Value::from("b")).ok(),
            Some(Value::from("ab"))
        );
        let err = add_values(&Value::Nil, &Value::from(1));
        assert_eq!(
            err.err().map(|err| err.to_string()),
            Some("unsupported operand type(s) for +: 'NoneType' and 'int'".to_owned())
        );
    }
}
