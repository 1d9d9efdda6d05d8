//! Layers: storage of nodes, their properties, tags, tag properties, light edges and node
//! data, with the indexes every lift needs, and a log of the nodeedits applied.
//!
//! A [`Layer`] is one slab (LMDB environment) in `layers/<iden>/layer.lmdb`. Every change is a
//! batch of [`NodeEdit`]s applied by [`Layer::apply`] in one write transaction together with
//! its log row, and acknowledged after the commit: a crash keeps a batch whole or not at all.
//! [`Layer::apply_deferred`] (Storm) returns once the batch is written, before its commit;
//! reads of the layer then go to the slab thread (which sees the pending batch) until
//! [`Layer::sync`] committed it, and the caller syncs before it acknowledges the edits.
//! All LMDB work runs on the slab's thread or the blocking pool, never on the async runtime.
//!
//! # Storage layout
//!
//! Names (forms, props, tags, tag props, data names) are abbreviated to 4 byte big-endian ids
//! (`abrv`) shared by all layers of a cortex, so index keys are comparable across layers.
//! `indx` is the storage type's index encoding of a value (see `indx.rs`: ints offset
//! big-endian, strings raw or truncated to 248 bytes + hash, fqdns reversed, loc/tag with a
//! trailing `.`, floats order-preserving, ...).
//!
//! | database | key | value |
//! |---|---|---|
//! | `sodes` | buid | storage node (form, value, props, tags, tag props; names as ids) |
//! | `byprop` (dup) | abrv(form or form+prop or univ prop) + indx | row id |
//! | `byarray` (dup) | abrv(form+prop) + indx(element) | row id |
//! | `bytag` (dup) | abrv(tag) + abrv(form) | row id |
//! | `bytagprop` (dup) | abrv(form+tag+prop, and any-form+tag+prop) + indx | row id |
//! | `byndef` (dup) | buid of the referenced ndef | buid + abrv(form+prop) |
//! | `edgesn1` (dup) | n1 buid + verb | n2 buid |
//! | `edgesn2` (dup) | n2 buid + verb | n1 buid |
//! | `edgesn1n2` (dup) | n1 buid + n2 buid | verb |
//! | `byverb` (dup) | verb | n1 buid + n2 buid |
//! | `nodedata` | buid + abrv(name) | msgpack value |
//! | `dataname` (dup) | abrv(name) | buid |
//! | `nodeedits` | offset (u64 BE) | `0x02` + LZ4 block (size prepended) of msgpack `(nodeedits, meta)`, nil for a buid its node's add derives (`0x01`: every buid kept) |
//! | `counts` | kind + abrv(s) | i64 BE row count |
//! | `abrv` | id (u32 BE) | kind + name |
//! | `meta` | name | value (`version`) |
//!
//! Counters (`counts`) make counting a form, a prop, a tag or a tag prop a single read.
//!
//! Every index database holds fixed size values (`MDB_DUPFIXED`), which LMDB packs without a
//! per-value node header. The four big ones (props, arrays, tags, tag props) name a node by
//! its row id, the first 10 bytes of its buid ([`ROW_ID_LEN`]): a seek of `sodes` finds the
//! node, and the rows are under a third of the size of whole buids (a tag or a `.created` time
//! holds a row per node). Row ids sort as their buids, so views merge layers' rows by
//! (key, buid) as before. The others (ndef refs, edges, data names) keep whole buids. Log rows are
//! compressed: a batch repeats its form, property and tag names in every edit, and LZ4 shrinks
//! the rows (a third of the layer's bytes otherwise) about fourfold at a few percent of the
//! apply time.

mod abrv;
mod apply;
mod indx;
mod lift;
mod rows;
mod sode;
mod verify;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_slab::{Db, DbOptions, Scan, Slab, SlabOptions};
use tokio::sync::watch;

pub use abrv::Abrvs;
pub use apply::{MAX_DATA_NAME, MAX_VERB_LEN};
pub use lift::LiftBy;
pub use rows::{RowsBy, RowsStart};
pub use sode::{Sode, StorProps};
pub use verify::{FormProp, VerifyConfig, VerifyError};

pub(crate) use abrv::Kind as AbrvKind;
pub(crate) use lift::{LiftPlan, Resume, Row, Shadow, plan as plan_lift};

use crate::nodeedit::{Buid, EditFormatError, EditMeta, EditOp, NodeEdit, packb, unpackb};

/// The storage format version of layers written by this crate (3: index rows hold row ids;
/// version 2 layers, whose index rows hold whole buids, are rewritten when opened).
pub const LAYER_VERSION: i64 = 3;

/// Bytes of a buid that index rows store to name their node (its row id).
///
/// A node is found from a row id by seeking the storage nodes (keyed by buid) to it. Within
/// one layer a row id names one node: a new node whose row id is taken is refused
/// ([`Error::RowIdTaken`]). With 80 random bits the chance that a layer of a billion nodes
/// holds any such pair is under one in two million (the first is expected near 2^40 nodes).
pub const ROW_ID_LEN: usize = 10;

/// A node's row id in index rows.
pub(crate) type RowId = [u8; ROW_ID_LEN];

/// The row id of a buid.
pub(crate) fn row_id(buid: &Buid) -> RowId {
    let mut id = [0u8; ROW_ID_LEN];
    id.copy_from_slice(&buid[..ROW_ID_LEN]);
    id
}

/// A node found from an index row: its buid, and its storage node's bytes when the lookup read
/// them.
pub(crate) type RowNode<'t> = Option<(Buid, Option<&'t [u8]>)>;

/// The node an index row value names: its buid and storage node bytes. Values of
/// [`ROW_ID_LEN`] bytes are row ids; longer ones (node data names) start with the buid.
pub(crate) fn row_node<'t>(
    txn: &'t synapse_slab::Txn<'_>,
    sodes: Db,
    val: &[u8],
) -> Result<RowNode<'t>, Error> {
    if val.len() == ROW_ID_LEN {
        return Ok(match txn.seek(sodes, val)? {
            Some((key, byts)) if key.starts_with(val) => {
                Buid::try_from(key).ok().map(|buid| (buid, Some(byts)))
            }
            _ => None,
        });
    }
    Ok(val
        .get(..32)
        .and_then(|b| Buid::try_from(b).ok())
        .map(|buid| (buid, None)))
}

/// Reads of this many storage nodes or more are split in two halves read at once (bulk adds
/// read a batch's nodes before and after it, while the slab thread has nothing to do).
const SPLIT_READ: usize = 512;

/// Marks a compressed log row (an uncompressed msgpack row starts with an array marker).
const LOG_LZ4: u8 = 0x01;
/// Marks a compressed log row whose nodeedits may leave out their buid (see [`log_edits`]).
const LOG_LZ4_NOBUID: u8 = 0x02;

/// The log value of nodeedits. A nodeedit that adds its node is logged without the buid (nil
/// in its place): the buid is the hash of the form and the value the edit holds, and 32
/// random bytes per node were half of a compressed row.
fn log_edits(edits: &[NodeEdit]) -> Value {
    let items = edits.iter().map(|edit| {
        let mut valu = edit.to_value(crate::nodeedit::BuidForm::Bytes);
        let added = edit.edits.iter().find_map(|e| match &e.op {
            EditOp::NodeAdd { valu, .. } => Some(valu),
            _ => None,
        });
        if added.is_some_and(|norm| crate::nodeedit::buid(&edit.form, norm) == edit.buid)
            && let Value::Array(parts) = &mut valu
            && let Some(buid) = parts.first_mut()
        {
            *buid = Value::Nil;
        }
        valu
    });
    Value::Array(items.collect())
}

/// Put back the buids [`log_edits`] left out.
fn restore_buids(row: &mut Value) -> Result<(), Error> {
    let bad = || Error::BadStorage("bad log row".into());
    let Value::Array(parts) = row else {
        return Err(bad());
    };
    let Some(Value::Array(edits)) = parts.first_mut() else {
        return Err(bad());
    };
    for edit in edits {
        let Value::Array(parts) = edit else {
            return Err(bad());
        };
        if !matches!(parts.first(), Some(Value::Nil)) {
            continue;
        }
        let form = parts.get(1).and_then(Value::as_str).ok_or_else(bad)?;
        let norm = parts
            .get(2)
            .and_then(Value::as_array)
            .and_then(|ops| {
                ops.iter()
                    .find_map(|op| match op.as_array().map(Vec::as_slice) {
                        Some([code, info, ..]) if code.as_i64() == Some(0) => {
                            info.as_array().and_then(|info| info.first())
                        }
                        _ => None,
                    })
            })
            .ok_or_else(bad)?;
        let buid = crate::nodeedit::buid(form, norm);
        parts[0] = Value::Binary(buid.to_vec());
    }
    Ok(())
}

/// The stored bytes of a log row of nodeedits and their meta.
pub(crate) fn encode_log_row(edits: &[NodeEdit], meta: &EditMeta) -> Vec<u8> {
    let row = Value::Array(vec![log_edits(edits), meta.to_value()]);
    let compressed = lz4_flex::block::compress_prepend_size(&packb(&row));
    let mut out = Vec::with_capacity(compressed.len() + 1);
    out.push(LOG_LZ4_NOBUID);
    out.extend_from_slice(&compressed);
    out
}

/// A stored log row (compressed with or without buids left out, or plain msgpack).
fn decode_log_row(byts: &[u8]) -> Result<Value, Error> {
    let bad = || Error::BadStorage("bad log row".into());
    match byts.split_first() {
        Some((&marker @ (LOG_LZ4 | LOG_LZ4_NOBUID), rest)) => {
            let raw = lz4_flex::block::decompress_size_prepended(rest).map_err(|_| bad())?;
            let mut row = unpackb(&raw).ok_or_else(bad)?;
            if marker == LOG_LZ4_NOBUID {
                restore_buids(&mut row)?;
            }
            Ok(row)
        }
        _ => unpackb(byts).ok_or_else(bad),
    }
}

/// Errors of layer storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The slab failed.
    #[error(transparent)]
    Slab(#[from] synapse_slab::Error),
    /// A value cannot be stored with its storage type.
    #[error("bad value for storage type {stortype}: {mesg}")]
    BadValu {
        /// The storage type.
        stortype: i64,
        /// What is wrong.
        mesg: String,
    },
    /// A lift comparator the storage type does not support.
    #[error("No such comparator: {cmpr}")]
    NoSuchCmpr {
        /// The comparator.
        cmpr: String,
    },
    /// A NaN in an ordering comparison.
    #[error("Cannot compare NaN")]
    NotANumberCompared,
    /// A malformed nodeedit or argument.
    #[error("{0}")]
    BadArg(String),
    /// A malformed nodeedit.
    #[error(transparent)]
    BadEdit(#[from] EditFormatError),
    /// Stored data that does not decode.
    #[error("bad layer storage: {0}")]
    BadStorage(String),
    /// The layer is read-only.
    #[error("The layer is read-only.")]
    ReadOnly,
    /// The layer was written by a newer or unknown version.
    #[error("Got layer version {found}. Expected {LAYER_VERSION}. Accidental downgrade?")]
    BadVersion {
        /// The version found.
        found: i64,
    },
    /// A new node's row id (the first [`ROW_ID_LEN`] bytes of its buid) is another node's.
    #[error(
        "node {} has the row id of another node of the layer; the layer cannot hold both",
        hex::encode(.0)
    )]
    RowIdTaken(Buid),
}

impl Error {
    /// The reference's exception class name.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Slab(err) => err.class(),
            Error::BadValu { .. } => "BadTypeValu",
            Error::NoSuchCmpr { .. } => "NoSuchCmpr",
            Error::NotANumberCompared => "NotANumberCompared",
            Error::BadArg(_) | Error::BadEdit(_) => "BadArg",
            Error::BadStorage(_) | Error::RowIdTaken(_) => "BadCoreStore",
            Error::ReadOnly => "IsReadOnly",
            Error::BadVersion { .. } => "BadStorageVersion",
        }
    }
}

/// The databases of a layer slab.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dbs {
    pub(crate) sodes: Db,
    pub(crate) byprop: Db,
    pub(crate) byarray: Db,
    pub(crate) bytag: Db,
    pub(crate) bytagprop: Db,
    pub(crate) byndef: Db,
    pub(crate) edgesn1: Db,
    pub(crate) edgesn2: Db,
    pub(crate) edgesn1n2: Db,
    pub(crate) byverb: Db,
    pub(crate) nodedata: Db,
    pub(crate) dataname: Db,
    pub(crate) nodeedits: Db,
    pub(crate) counts: Db,
    pub(crate) abrv: Db,
    pub(crate) meta: Db,
}

/// A counter: kind byte and one or two ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CounterKey(u8, abrv::AbrvId, Option<abrv::AbrvId>);

impl CounterKey {
    pub(crate) fn bytes(self) -> Vec<u8> {
        let mut key = vec![self.0];
        key.extend_from_slice(&self.1.to_be_bytes());
        if let Some(sub) = self.2 {
            key.extend_from_slice(&sub.to_be_bytes());
        }
        key
    }
}

/// The key of a counter: kind byte, then one or two ids.
pub(crate) fn counter_key(kind: u8, abrv: abrv::AbrvId, sub: Option<abrv::AbrvId>) -> Vec<u8> {
    CounterKey(kind, abrv, sub).bytes()
}

pub(crate) fn counter(kind: u8, abrv: abrv::AbrvId, sub: Option<abrv::AbrvId>) -> CounterKey {
    CounterKey(kind, abrv, sub)
}

/// State shared with closures running on the slab thread.
pub(crate) struct LayerShared {
    pub(crate) dbs: Dbs,
    pub(crate) abrvs: Arc<Abrvs>,
    pub(crate) persisted: Mutex<HashSet<abrv::AbrvId>>,
    next_offset: AtomicU64,
    /// The write generation: bumped by every applied batch on the slab thread before it runs
    /// and again once it is committed (see [`Layer::write_gen`]).
    write_gen: AtomicU64,
    /// Batches applied without waiting for their commit ([`Layer::apply_deferred`]), counted
    /// when submitted.
    deferred: AtomicU64,
    /// The value of `deferred` covered by the last commit this layer waited for: while it is
    /// behind `deferred`, committed data may lack batches and reads go to the slab thread.
    committed: AtomicU64,
    /// The log row that deferred batches are gathered into until it is written (see
    /// [`PendingLog`]); touched on the slab thread only.
    pub(crate) pending: Mutex<Option<PendingLog>>,
    /// Set when writing a deferred batch failed after its changes were reported (see
    /// `Batch::run_replying`): syncs and new batches fail from then on.
    late_error: Mutex<Option<String>>,
    /// The layer's identity, for logs written on the slab thread.
    iden: String,
}

/// The most nodes gathered into one log row.
pub(crate) const LOG_ROW_NODES: usize = 1000;

/// A log row being gathered: consecutive deferred batches (Storm's edits, committed together)
/// of one user share one row, written when the slab commits, when a reader of the log or a
/// committed batch comes, or when it holds [`LOG_ROW_NODES`] nodes. One compressed row for
/// many nodes is a fraction of the size of a row per node (a node's edits repeat the names
/// and the meta of its neighbours'), and the rows are read as lists of nodeedits anyway.
pub(crate) struct PendingLog {
    pub(crate) offset: u64,
    pub(crate) meta: EditMeta,
    pub(crate) edits: Vec<NodeEdit>,
}

impl PendingLog {
    /// Write the row (on the slab thread, inside the write transaction).
    pub(crate) fn write(self, txn: &mut synapse_slab::Txn<'_>, db: Db) -> synapse_slab::Result<()> {
        txn.put(
            db,
            &self.offset.to_be_bytes(),
            &encode_log_row(&self.edits, &self.meta),
        )
        .map(drop)
    }
}

/// Write the gathered log row, if any.
pub(crate) fn flush_pending(
    txn: &mut synapse_slab::Txn<'_>,
    shared: &LayerShared,
) -> synapse_slab::Result<()> {
    let pending = shared.pending.lock().unwrap_or_else(poisoned).take();
    match pending {
        Some(row) => row.write(txn, shared.dbs.nodeedits),
        None => Ok(()),
    }
}

/// A layer definition, as the reference's layer def dict.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerDef {
    /// The layer iden (32 hex chars).
    pub iden: String,
    /// Optional name.
    pub name: Option<String>,
    /// Creation time (epoch millis).
    pub created: i64,
    /// Iden of the creating user.
    pub creator: String,
    /// Whether applied edits are logged.
    pub logedits: bool,
    /// Whether edits are refused.
    pub readonly: bool,
    /// Push configurations by iden (the reference's `pushs`; absent until one is added).
    pub pushs: Option<Vec<(String, Value)>>,
    /// Pull configurations by iden (the reference's `pulls`).
    pub pulls: Option<Vec<(String, Value)>>,
}

impl LayerDef {
    /// A new layer definition with a random iden.
    pub fn new(creator: impl Into<String>) -> Self {
        LayerDef {
            iden: synapse_base::guid(),
            name: None,
            created: synapse_base::now_ms(),
            creator: creator.into(),
            logedits: true,
            readonly: false,
            pushs: None,
            pulls: None,
        }
    }

    /// The def as the reference packs it (`lockmemory` false).
    pub fn to_value(&self) -> Value {
        let mut map = vec![
            (Value::from("iden"), Value::from(self.iden.as_str())),
            (Value::from("created"), Value::from(self.created)),
            (Value::from("creator"), Value::from(self.creator.as_str())),
            (Value::from("lockmemory"), Value::from(false)),
            (Value::from("logedits"), Value::from(self.logedits)),
            (Value::from("readonly"), Value::from(self.readonly)),
        ];
        if let Some(name) = &self.name {
            map.insert(0, (Value::from("name"), Value::from(name.as_str())));
        }
        for (key, defs) in [("pushs", &self.pushs), ("pulls", &self.pulls)] {
            if let Some(defs) = defs {
                let items = defs
                    .iter()
                    .map(|(iden, pdef)| (Value::from(iden.as_str()), pdef.clone()))
                    .collect();
                map.push((Value::from(key), Value::Map(items)));
            }
        }
        Value::Map(map)
    }

    /// Parse a def map; `iden` is required.
    pub fn from_value(valu: &Value) -> Result<LayerDef, Error> {
        let get = |key: &str| map_get(valu, key);
        let iden = get("iden")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::BadArg("layer def has no iden".into()))?
            .to_owned();
        Ok(LayerDef {
            iden,
            name: get("name").and_then(Value::as_str).map(str::to_owned),
            created: get("created")
                .and_then(Value::as_i64)
                .unwrap_or_else(synapse_base::now_ms),
            creator: get("creator")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            logedits: get("logedits").and_then(Value::as_bool).unwrap_or(true),
            readonly: get("readonly").and_then(Value::as_bool).unwrap_or(false),
            pushs: get("pushs").map(sync_defs),
            pulls: get("pulls").map(sync_defs),
        })
    }
}

/// The push or pull configurations of a stored layer def, by iden.
fn sync_defs(valu: &Value) -> Vec<(String, Value)> {
    match valu {
        Value::Map(items) => items
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn map_get<'v>(valu: &'v Value, key: &str) -> Option<&'v Value> {
    match valu {
        Value::Map(items) => items
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Rows of a lift scan, where it stopped, whether it is done, and the storage nodes of the
/// rows' buids.
pub(crate) type RowsAndSodes = (Vec<Row>, Resume, bool, Vec<(Buid, Sode)>);

/// The result of applying a batch: the log offset (if logged and something changed) and the
/// edits that changed the layer, with old values filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Log offset of the batch.
    pub offset: Option<u64>,
    /// The applied edits (nodes without changes are left out).
    pub edits: Vec<NodeEdit>,
    /// The layer's write generation just before this batch; once the batch is committed
    /// the generation is `write_gen + 2` unless other batches were applied meanwhile.
    pub write_gen: u64,
    /// For a batch applied by [`Layer::apply_deferred`], its place among them (counted from
    /// 1; see [`Layer::foreign_uncommitted`]); 0 otherwise.
    pub deferred_seq: u64,
}

/// One logged batch.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Its offset.
    pub offset: u64,
    /// The applied edits.
    pub edits: Vec<NodeEdit>,
    /// The batch's meta (`time`, `user`).
    pub meta: EditMeta,
}

impl LogEntry {
    /// The wire item: `(offset, nodeedits)`, or `(offset, nodeedits, meta)` with `meta` (the
    /// reference's `syncNodeEdits` / `syncNodeEdits2`), buids as raw bytes.
    pub fn to_value(&self, meta: bool) -> Value {
        let mut items = vec![
            Value::from(self.offset),
            NodeEdit::list_to_value(&self.edits, crate::nodeedit::BuidForm::Bytes),
        ];
        if meta {
            items.push(self.meta.to_value());
        }
        Value::Array(items)
    }
}

/// Which end of a light edge a lookup starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeDir {
    /// Edges from the node (`n1 -(verb)> n2`), yielding n2.
    N1,
    /// Edges to the node (`n1 -(verb)> node`), yielding n1.
    N2,
}

struct Inner {
    def: Mutex<LayerDef>,
    dirn: PathBuf,
    slab: Slab,
    shared: Arc<LayerShared>,
    logedits: AtomicBool,
    readonly: AtomicBool,
    offsets: watch::Sender<u64>,
    /// Held while a batch is counted and queued, or a commit is counted and queued.
    order: Mutex<()>,
}

/// A layer: a handle shared by clones.
#[derive(Clone)]
pub struct Layer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("iden", &self.iden())
            .finish_non_exhaustive()
    }
}

/// Rewrite a version 2 layer's index rows (whole buids) with row ids, key by key (a dupsort
/// key's values all have one size), in the transaction that opens the layer.
fn migrate_row_ids(txn: &mut synapse_slab::Txn<'_>, dbs: &Dbs) -> Result<(), Error> {
    /// Rows read before a chunk is rewritten (a key's rows are never split).
    const CHUNK: usize = 1 << 16;
    for db in [dbs.byprop, dbs.byarray, dbs.bytag, dbs.bytagprop] {
        let mut from: Option<Vec<u8>> = None;
        loop {
            let mut keys: Vec<(Vec<u8>, Vec<RowId>)> = Vec::new();
            let spec = match &from {
                Some(key) => Scan::full().after_key(key),
                None => Scan::full(),
            };
            for (rows, row) in txn.scan(db, spec)?.enumerate() {
                let (key, val) = row?;
                let is_new = keys.last().is_none_or(|(last, _)| last.as_slice() != key);
                if is_new && rows >= CHUNK {
                    break;
                }
                if is_new {
                    keys.push((key.to_vec(), Vec::new()));
                }
                let buid: Buid = val
                    .try_into()
                    .map_err(|_| Error::BadStorage("bad version 2 index row".into()))?;
                if let Some((_, ids)) = keys.last_mut() {
                    ids.push(row_id(&buid));
                }
            }
            let Some((last, _)) = keys.last() else {
                break;
            };
            from = Some(last.clone());
            for (key, ids) in &keys {
                txn.delete(db, key, None)?;
                for id in ids {
                    txn.put(db, key, id)?;
                }
            }
        }
    }
    Ok(())
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

/// Rows read per batch by streaming reads.
const READ_BATCH: usize = 512;

impl Layer {
    /// Open (creating) the layer stored in `dirn`, loading its abbreviations into `abrvs`.
    pub async fn open(
        dirn: impl AsRef<Path>,
        def: LayerDef,
        abrvs: Arc<Abrvs>,
    ) -> Result<Layer, Error> {
        let dirn = dirn.as_ref().to_path_buf();
        std::fs::create_dir_all(&dirn)
            .map_err(|err| Error::BadStorage(format!("{}: {err}", dirn.display())))?;
        let slab = Slab::open(dirn.join("layer.lmdb"), SlabOptions::default()).await?;
        let dup = DbOptions::dupsort();
        // Values of one size: buids, buid + abbreviation, or two buids.
        let fixed = DbOptions {
            dupfixed: true,
            ..DbOptions::dupsort()
        };
        let plain = DbOptions::default();
        let dbs = Dbs {
            sodes: slab.initdb("sodes", plain).await?,
            byprop: slab.initdb("byprop", fixed).await?,
            byarray: slab.initdb("byarray", fixed).await?,
            bytag: slab.initdb("bytag", fixed).await?,
            bytagprop: slab.initdb("bytagprop", fixed).await?,
            byndef: slab.initdb("byndef", fixed).await?,
            edgesn1: slab.initdb("edgesn1", fixed).await?,
            edgesn2: slab.initdb("edgesn2", fixed).await?,
            edgesn1n2: slab.initdb("edgesn1n2", dup).await?,
            byverb: slab.initdb("byverb", fixed).await?,
            nodedata: slab.initdb("nodedata", plain).await?,
            dataname: slab.initdb("dataname", fixed).await?,
            nodeedits: slab.initdb("nodeedits", plain).await?,
            counts: slab.initdb("counts", plain).await?,
            abrv: slab.initdb("abrv", plain).await?,
            meta: slab.initdb("meta", plain).await?,
        };
        let load_abrvs = Arc::clone(&abrvs);
        let (ids, next) = slab
            .write_commit(move |txn| -> Result<(HashSet<abrv::AbrvId>, u64), Error> {
                match txn.get(dbs.meta, b"version")? {
                    Some(byts) => {
                        let found = unpackb(byts).and_then(|v| v.as_i64()).unwrap_or(-1);
                        if found == 2 {
                            migrate_row_ids(txn, &dbs)?;
                            txn.put(dbs.meta, b"version", &packb(&Value::from(LAYER_VERSION)))?;
                        } else if found != LAYER_VERSION {
                            return Err(Error::BadVersion { found });
                        }
                    }
                    None => {
                        txn.put(dbs.meta, b"version", &packb(&Value::from(LAYER_VERSION)))?;
                    }
                }
                let mut ids = HashSet::new();
                for row in txn.scan(dbs.abrv, Scan::full())? {
                    let (key, val) = row?;
                    let id = u32::from_be_bytes(
                        key.try_into()
                            .map_err(|_| Error::BadStorage("bad abbreviation key".into()))?,
                    );
                    load_abrvs.load(id, val)?;
                    ids.insert(id);
                }
                let next = match txn.last_key(dbs.nodeedits)? {
                    Some(key) => {
                        let offs: [u8; 8] = key
                            .try_into()
                            .map_err(|_| Error::BadStorage("bad log key".into()))?;
                        u64::from_be_bytes(offs) + 1
                    }
                    None => 0,
                };
                Ok((ids, next))
            })
            .await?;
        let (offsets, _) = watch::channel(next);
        let shared = Arc::new(LayerShared {
            dbs,
            abrvs,
            persisted: Mutex::new(ids),
            next_offset: AtomicU64::new(next),
            write_gen: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            pending: Mutex::new(None),
            late_error: Mutex::new(None),
            iden: def.iden.clone(),
        });
        // The gathered log row is written with the commit that makes its batches durable.
        let hook_shared = Arc::clone(&shared);
        slab.on_commit(move |txn| flush_pending(txn, &hook_shared));
        Ok(Layer {
            inner: Arc::new(Inner {
                logedits: AtomicBool::new(def.logedits),
                readonly: AtomicBool::new(def.readonly),
                def: Mutex::new(def),
                dirn,
                slab,
                shared,
                offsets,
                order: Mutex::new(()),
            }),
        })
    }

    /// The layer iden.
    pub fn iden(&self) -> String {
        self.inner.def.lock().unwrap_or_else(poisoned).iden.clone()
    }

    /// The layer definition.
    pub fn def(&self) -> LayerDef {
        self.inner.def.lock().unwrap_or_else(poisoned).clone()
    }

    /// The layer's directory.
    pub fn dirn(&self) -> &Path {
        &self.inner.dirn
    }

    /// Whether edits are refused.
    pub fn is_readonly(&self) -> bool {
        self.inner.readonly.load(Ordering::Relaxed)
    }

    /// Change a mutable setting: `name`, `readonly` or `logedits` (the caller persists the
    /// def).
    pub fn set_info(&self, name: &str, valu: &Value) -> Result<LayerDef, Error> {
        let mut def = self.inner.def.lock().unwrap_or_else(poisoned);
        match name {
            "name" => def.name = valu.as_str().map(str::to_owned),
            "readonly" => {
                def.readonly = valu.as_bool().unwrap_or(false);
                self.inner.readonly.store(def.readonly, Ordering::Relaxed);
            }
            "logedits" => {
                def.logedits = valu.as_bool().unwrap_or(false);
                self.inner.logedits.store(def.logedits, Ordering::Relaxed);
            }
            other => {
                return Err(Error::BadArg(format!(
                    "{other} is not a valid layer info key"
                )));
            }
        }
        Ok(def.clone())
    }

    /// Add (`Some`) or remove (`None`) the push (`pull` false) or pull configuration `iden`;
    /// returns the new def (the caller persists it) and whether anything changed. Adding an
    /// iden that is present changes nothing (the reference's replay guard).
    pub fn set_sync_def(&self, pull: bool, iden: &str, pdef: Option<Value>) -> (LayerDef, bool) {
        let mut def = self.inner.def.lock().unwrap_or_else(poisoned);
        let defs = if pull { &mut def.pulls } else { &mut def.pushs };
        let changed = match pdef {
            Some(pdef) => {
                let defs = defs.get_or_insert_with(Vec::new);
                if defs.iter().any(|(have, _)| have == iden) {
                    false
                } else {
                    defs.push((iden.to_owned(), pdef));
                    true
                }
            }
            None => match defs {
                Some(defs) => {
                    let before = defs.len();
                    defs.retain(|(have, _)| have != iden);
                    defs.len() != before
                }
                None => false,
            },
        };
        (def.clone(), changed)
    }

    /// The layer def packed with its edit offset, as `$lib.layer.get().pack()`.
    pub fn pack(&self) -> Value {
        let mut valu = self.def().to_value();
        if let Value::Map(items) = &mut valu {
            items.push((Value::from("offset"), Value::from(self.edit_offset())));
        }
        valu
    }

    /// Apply a batch of nodeedits atomically and return what changed, after the batch is
    /// committed (a crash after this returns keeps the batch).
    pub async fn apply(&self, edits: Vec<NodeEdit>, meta: EditMeta) -> Result<Applied, Error> {
        self.apply_inner(edits, meta, true).await
    }

    /// Apply a batch of nodeedits atomically and return what changed as soon as it is written,
    /// without waiting for a commit: the batch joins the slab's pending batch, committed with
    /// later ones (on the slab's size or time limits, or by [`Layer::sync`]). Reads through
    /// this layer see it at once. A crash before the commit loses the batch whole, so callers
    /// must [`Layer::sync`] before they acknowledge it (Storm does before `fini`).
    pub async fn apply_deferred(
        &self,
        edits: Vec<NodeEdit>,
        meta: EditMeta,
    ) -> Result<Applied, Error> {
        self.apply_inner(edits, meta, false).await
    }

    async fn apply_inner(
        &self,
        edits: Vec<NodeEdit>,
        meta: EditMeta,
        commit: bool,
    ) -> Result<Applied, Error> {
        if self.is_readonly() {
            return Err(Error::ReadOnly);
        }
        self.check_late()?;
        apply::validate(&edits)?;
        let shared = Arc::clone(&self.inner.shared);
        let logedits = self.inner.logedits.load(Ordering::Relaxed);
        let span = tracing::debug_span!("layer.apply", layer = %self.iden(), nodes = edits.len());
        // The count and the job's place in the slab's queue go together (see `Layer::sync`).
        let order = self.inner.order.lock().unwrap_or_else(poisoned);
        if !commit {
            // Counted before the write is sent: from here on reads go to the slab thread,
            // which orders them after the write.
            let seq = self.inner.shared.deferred.fetch_add(1, Ordering::SeqCst) + 1;
            let (tx, rx) = tokio::sync::oneshot::channel();
            // A deferred batch: the caller gets the changes as soon as they are known and
            // goes on while the slab thread writes the rows (`Batch::run_replying`). The
            // job's own result is an error found after that reply.
            drop(self.inner.slab.write(move |txn| -> Result<(), Error> {
                let _enter = span.enter();
                // Bumped before the batch runs (the slab thread orders it with every other
                // batch), so readers that load the generation later see it changed.
                let wgen = shared.write_gen.fetch_add(1, Ordering::SeqCst);
                let offs = logedits.then(|| shared.next_offset.load(Ordering::Relaxed));
                let res = apply::Batch::new(txn, &shared, meta.time).run_replying(
                    edits,
                    &meta,
                    offs,
                    |known| {
                        if let Ok(known) = &known
                            && let Some(offs) = known.offset
                        {
                            shared.next_offset.store(offs + 1, Ordering::Relaxed);
                        }
                        let _ = tx.send(known.map(|known| (wgen, known)));
                    },
                );
                if let Err(err) = &res {
                    // The caller was told the batch applied: fail every later sync and batch
                    // of the layer, so that nothing acknowledges a batch that is not there.
                    tracing::error!(layer = %shared.iden, cause = %err,
                        "writing an applied batch failed; the layer refuses batches until restarted");
                    *shared.late_error.lock().unwrap_or_else(poisoned) = Some(err.to_string());
                }
                res
            }));
            drop(order);
            let result = self.inner.slab.recv_reply(rx).await?;
            return Ok(self.applied(result?, seq));
        }
        let seq = self.inner.shared.deferred.load(Ordering::SeqCst);
        let written =
            self.inner
                .slab
                .write(move |txn| -> Result<(u64, apply::BatchResult), Error> {
                    let _enter = span.enter();
                    let wgen = shared.write_gen.fetch_add(1, Ordering::SeqCst);
                    let offs = logedits.then(|| shared.next_offset.load(Ordering::Relaxed));
                    let result =
                        apply::Batch::new(txn, &shared, meta.time).run(edits, &meta, offs)?;
                    if let Some(offs) = result.offset {
                        shared.next_offset.store(offs + 1, Ordering::Relaxed);
                    }
                    Ok((wgen, result))
                });
        let commit = self.inner.slab.commit();
        drop(order);
        // Both jobs are queued now; waiting for the commit first means one wake-up of this
        // task per batch (the write's reply is ready by then), not two.
        let committed = commit.await;
        if committed.is_ok() {
            self.inner.shared.committed.fetch_max(seq, Ordering::SeqCst);
        }
        let result = match (written.await, committed) {
            (Ok(result), Ok(())) => Ok(result),
            (Err(err), _) => Err(err),
            (Ok(_), Err(err)) => Err(Error::from(err)),
        };
        Ok(self.applied(result?, 0))
    }

    /// What a caller of an apply gets once its batch's changes are known.
    fn applied(&self, (wgen, result): (u64, apply::BatchResult), deferred_seq: u64) -> Applied {
        // Bumped again once written (and committed, if asked): a snapshot read that started
        // between the first bump and now (so missed the batch) is invalidated by this one.
        self.inner.shared.write_gen.fetch_add(1, Ordering::SeqCst);
        if let Some(offs) = result.offset {
            self.inner.offsets.send_replace(offs + 1);
        }
        Applied {
            offset: result.offset,
            edits: result.edits,
            write_gen: wgen,
            deferred_seq,
        }
    }

    /// Whether batches applied by [`Layer::apply_deferred`] may still wait for their commit.
    pub fn has_uncommitted(&self) -> bool {
        let shared = &self.inner.shared;
        shared.committed.load(Ordering::SeqCst) < shared.deferred.load(Ordering::SeqCst)
    }

    /// Whether a batch applied by [`Layer::apply_deferred`] that no awaited commit covers
    /// yet is missing from `own` (the [`Applied::deferred_seq`] of a writer's batches): if
    /// not, a read of the last commit lacks only that writer's own batches.
    pub fn foreign_uncommitted(&self, own: &[u64]) -> bool {
        let shared = &self.inner.shared;
        let committed = shared.committed.load(Ordering::SeqCst);
        let deferred = shared.deferred.load(Ordering::SeqCst);
        let mine = own
            .iter()
            .filter(|seq| **seq > committed && **seq <= deferred)
            .count() as u64;
        deferred.saturating_sub(committed) != mine
    }

    async fn snapshot<T, F>(&self, func: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&synapse_slab::Txn<'_>, &LayerShared) -> Result<T, Error> + Send + 'static,
    {
        self.snapshot_in(false, func).await
    }

    /// [`Layer::snapshot`], or with `committed` a read of the last commit even while
    /// deferred batches wait for theirs.
    async fn snapshot_in<T, F>(&self, committed: bool, func: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&synapse_slab::Txn<'_>, &LayerShared) -> Result<T, Error> + Send + 'static,
    {
        let shared = Arc::clone(&self.inner.shared);
        if !committed && self.has_uncommitted() {
            // The committed data may lack deferred batches: read the pending batch on the
            // slab thread instead.
            return self.inner.slab.read(move |txn| func(txn, &shared)).await;
        }
        self.inner
            .slab
            .snapshot(move |txn| func(txn, &shared))
            .await
    }

    /// The storage node of a buid in this layer.
    pub async fn get_sode(&self, buid: Buid) -> Result<Option<Sode>, Error> {
        Ok(self.get_sodes(vec![buid]).await?.pop().flatten())
    }

    /// Storage nodes of many buids (one read; two at once, each on its own thread, for
    /// `SPLIT_READ` buids or more when the read is not on the slab thread).
    pub async fn get_sodes(&self, buids: Vec<Buid>) -> Result<Vec<Option<Sode>>, Error> {
        self.sodes_in(buids, false).await
    }

    /// [`Layer::get_sodes`] as of the last commit, without the batches applied by
    /// [`Layer::apply_deferred`] that still wait for theirs (and without waiting for them):
    /// for a writer that knows which nodes its own uncommitted batches touch.
    pub async fn get_sodes_committed(&self, buids: Vec<Buid>) -> Result<Vec<Option<Sode>>, Error> {
        self.sodes_in(buids, true).await
    }

    async fn sodes_in(
        &self,
        mut buids: Vec<Buid>,
        committed: bool,
    ) -> Result<Vec<Option<Sode>>, Error> {
        if buids.len() >= SPLIT_READ && (committed || !self.has_uncommitted()) {
            let second = buids.split_off(buids.len() / 2);
            let (mut first, second) = futures::try_join!(
                self.read_sodes(buids, committed),
                self.read_sodes(second, committed)
            )?;
            first.extend(second);
            return Ok(first);
        }
        self.read_sodes(buids, committed).await
    }

    async fn read_sodes(
        &self,
        buids: Vec<Buid>,
        committed: bool,
    ) -> Result<Vec<Option<Sode>>, Error> {
        self.snapshot_in(committed, move |txn, shared| {
            let abrvs = shared.abrvs.read();
            buids
                .iter()
                .map(|buid| match txn.get(shared.dbs.sodes, buid)? {
                    Some(byts) => Sode::decode(byts, &abrvs).map(Some),
                    None => Ok(None),
                })
                .collect()
        })
        .await
    }

    /// The number of storage nodes (nodes with anything in this layer).
    pub async fn sode_count(&self) -> Result<usize, Error> {
        self.snapshot(|txn, shared| Ok(txn.stat(shared.dbs.sodes)?.entries))
            .await
    }

    async fn counter(&self, key: Option<Vec<u8>>) -> Result<i64, Error> {
        let Some(key) = key else {
            return Ok(0);
        };
        self.snapshot(move |txn, shared| read_counter(txn, shared.dbs.counts, &key))
            .await
    }

    async fn counter_sum(&self, prefix: Option<Vec<u8>>) -> Result<i64, Error> {
        let Some(prefix) = prefix else {
            return Ok(0);
        };
        self.snapshot(move |txn, shared| {
            let mut total = 0;
            for row in txn.scan(shared.dbs.counts, Scan::prefix(&prefix))? {
                let (_, val) = row?;
                total += decode_counter(val)?;
            }
            Ok(total)
        })
        .await
    }

    fn id(&self, kind: AbrvKind, parts: &[&str]) -> Option<abrv::AbrvId> {
        self.inner.shared.abrvs.get(kind, parts)
    }

    /// The abbreviation id of a form: forms get them in the order the layers first see them.
    pub(crate) fn form_abrv(&self, form: &str) -> Option<u32> {
        self.id(AbrvKind::Form, &[form])
    }

    /// The number of nodes of a form in this layer.
    pub async fn count_form(&self, form: &str) -> Result<i64, Error> {
        let key = self
            .id(AbrvKind::Form, &[form])
            .map(|id| counter_key(b'p', id, None));
        self.counter(key).await
    }

    /// The number of nodes of a form with a property (relative name) in this layer.
    pub async fn count_prop(&self, form: &str, prop: &str) -> Result<i64, Error> {
        let key = self
            .id(AbrvKind::Prop, &[form, prop])
            .map(|id| counter_key(b'p', id, None));
        self.counter(key).await
    }

    /// The number of nodes with a universal property in this layer.
    pub async fn count_univ(&self, prop: &str) -> Result<i64, Error> {
        let key = self
            .id(AbrvKind::Univ, &[prop])
            .map(|id| counter_key(b'p', id, None));
        self.counter(key).await
    }

    /// The number of array elements stored for an array property.
    pub async fn count_array(&self, form: &str, prop: Option<&str>) -> Result<i64, Error> {
        let id = match prop {
            Some(prop) => self.id(AbrvKind::Prop, &[form, prop]),
            None => self.id(AbrvKind::Form, &[form]),
        };
        self.counter(id.map(|id| counter_key(b'a', id, None))).await
    }

    /// The number of nodes with a tag (of one form, or all).
    pub async fn count_tag(&self, tag: &str, form: Option<&str>) -> Result<i64, Error> {
        let Some(tagid) = self.id(AbrvKind::Tag, &[tag]) else {
            return Ok(0);
        };
        match form {
            Some(form) => {
                let key = self
                    .id(AbrvKind::Form, &[form])
                    .map(|id| counter_key(b't', tagid, Some(id)));
                self.counter(key).await
            }
            None => self.counter_sum(Some(counter_key(b't', tagid, None))).await,
        }
    }

    /// The number of tag property rows (of one form, or all).
    pub async fn count_tagprop(
        &self,
        form: Option<&str>,
        tag: &str,
        prop: &str,
    ) -> Result<i64, Error> {
        let key = self
            .id(AbrvKind::TagProp, &[form.unwrap_or(""), tag, prop])
            .map(|id| counter_key(b'T', id, None));
        self.counter(key).await
    }

    /// The number of light edges in this layer.
    pub async fn count_edges(&self) -> Result<i64, Error> {
        self.counter(Some(counter_key(b'e', 0, None))).await
    }

    /// The number of rows matching a lift in this layer (counted by scanning the index).
    pub async fn count_lift(&self, by: &LiftBy) -> Result<i64, Error> {
        let Some(plan) = plan_lift(&self.inner.shared.abrvs.read(), by, false)? else {
            return Ok(0);
        };
        let mut total = 0;
        for idx in 0..plan.scans.len() {
            let mut resume = None;
            loop {
                let (rows, next, done) = self.scan_rows(&plan, idx, resume, 4096).await?;
                total += rows.len() as i64;
                if done {
                    break;
                }
                resume = next;
            }
        }
        Ok(total)
    }

    /// One batch of rows of a compiled lift.
    pub(crate) async fn scan_rows(
        &self,
        plan: &LiftPlan,
        scan_idx: usize,
        resume: Resume,
        limit: usize,
    ) -> Result<(Vec<Row>, Resume, bool), Error> {
        let plan = plan.clone();
        self.snapshot(move |txn, shared| {
            lift::scan_batch(txn, shared, &plan, scan_idx, resume, limit, None)
        })
        .await
    }

    /// [`Layer::scan_rows`] and the storage nodes of the rows' buids, in one read (lifts in
    /// single-layer views need nothing else).
    pub(crate) async fn scan_rows_sodes(
        &self,
        plan: &LiftPlan,
        scan_idx: usize,
        resume: Resume,
        limit: usize,
    ) -> Result<RowsAndSodes, Error> {
        let plan = plan.clone();
        self.snapshot(move |txn, shared| {
            let mut sodes = Vec::new();
            let (rows, resume, done) = lift::scan_batch(
                txn,
                shared,
                &plan,
                scan_idx,
                resume,
                limit,
                Some(&mut sodes),
            )?;
            Ok((rows, resume, done, sodes))
        })
        .await
    }

    /// One batch of light edges of a node: `(verb, other buid)` in key order, after `resume`.
    pub(crate) async fn scan_edges(
        &self,
        dir: EdgeDir,
        buid: Buid,
        verb: Option<String>,
        resume: Resume,
        limit: usize,
    ) -> Result<(Vec<(String, Buid)>, Resume, bool), Error> {
        self.snapshot(move |txn, shared| {
            let db = match dir {
                EdgeDir::N1 => shared.dbs.edgesn1,
                EdgeDir::N2 => shared.dbs.edgesn2,
            };
            let mut prefix = buid.to_vec();
            if let Some(verb) = &verb {
                prefix.extend_from_slice(verb.as_bytes());
            }
            let mut spec = Scan::prefix(&prefix);
            if let Some((key, val)) = &resume {
                spec = spec.after(key, val);
            }
            let mut out = Vec::new();
            let mut last = resume;
            for row in txn.scan(db, spec)? {
                let (key, val) = row?;
                last = Some((key.to_vec(), val.to_vec()));
                let rowverb = String::from_utf8_lossy(&key[32..]).into_owned();
                if let Some(verb) = &verb
                    && *verb != rowverb
                {
                    continue;
                }
                let other: Buid = val
                    .try_into()
                    .map_err(|_| Error::BadStorage("bad edge row".into()))?;
                out.push((rowverb, other));
                if out.len() >= limit {
                    return Ok((out, last, false));
                }
            }
            Ok((out, last, true))
        })
        .await
    }

    /// One batch of the light edges of a verb: `(n1, n2)` in key order, after `resume`.
    pub(crate) async fn scan_verb(
        &self,
        verb: String,
        resume: Resume,
        limit: usize,
    ) -> Result<(Vec<(Buid, Buid)>, Resume, bool), Error> {
        self.snapshot(move |txn, shared| {
            let mut spec = Scan::dups(verb.as_bytes());
            if let Some((key, val)) = &resume {
                spec = spec.after(key, val);
            }
            let mut out = Vec::new();
            let mut last = resume;
            for row in txn.scan(shared.dbs.byverb, spec)? {
                let (key, val) = row?;
                last = Some((key.to_vec(), val.to_vec()));
                let (Ok(n1), Ok(n2)) = (
                    Buid::try_from(val.get(..32).unwrap_or_default()),
                    Buid::try_from(val.get(32..).unwrap_or_default()),
                ) else {
                    return Err(Error::BadStorage("bad byverb row".into()));
                };
                out.push((n1, n2));
                if out.len() >= limit {
                    return Ok((out, last, false));
                }
            }
            Ok((out, last, true))
        })
        .await
    }

    /// Whether the edge `n1 -(verb)> n2` is in this layer.
    pub async fn has_edge(&self, n1: Buid, verb: &str, n2: Buid) -> Result<bool, Error> {
        let key = apply::cat(&n1, verb.as_bytes());
        self.snapshot(move |txn, shared| Ok(txn.has_dup(shared.dbs.edgesn1, &key, &n2)?))
            .await
    }

    /// The verbs of edges from `n1` to `n2`, in byte order.
    pub async fn edge_verbs(&self, n1: Buid, n2: Buid) -> Result<Vec<String>, Error> {
        let key = apply::cat(&n1, &n2);
        self.snapshot(move |txn, shared| {
            let mut out = Vec::new();
            for row in txn.scan(shared.dbs.edgesn1n2, Scan::dups(&key))? {
                let (_, val) = row?;
                out.push(String::from_utf8_lossy(val).into_owned());
            }
            Ok(out)
        })
        .await
    }

    /// Nodes whose ndef-typed property refers to `buid`: `(buid, form:prop full name)`.
    pub async fn ndef_refs(&self, buid: Buid) -> Result<Vec<(Buid, String)>, Error> {
        self.snapshot(move |txn, shared| {
            let abrvs = shared.abrvs.read();
            let mut out = Vec::new();
            for row in txn.scan(shared.dbs.byndef, Scan::dups(&buid))? {
                let (_, val) = row?;
                if val.len() != 36 {
                    return Err(Error::BadStorage("bad ndef row".into()));
                }
                let mut refb = [0u8; 32];
                refb.copy_from_slice(&val[..32]);
                let id = u32::from_be_bytes([val[32], val[33], val[34], val[35]]);
                let key = abrvs
                    .key_of(id)
                    .ok_or_else(|| Error::BadStorage(format!("unknown abbreviation {id}")))?;
                let name = String::from_utf8_lossy(&key[1..]).replace('\0', ":");
                out.push((refb, name));
            }
            Ok(out)
        })
        .await
    }

    /// A node data value.
    pub async fn get_data(&self, buid: Buid, name: &str) -> Result<Option<Value>, Error> {
        let Some(id) = self.id(AbrvKind::Data, &[name]) else {
            return Ok(None);
        };
        self.snapshot(move |txn, shared| {
            match txn.get(shared.dbs.nodedata, &apply::data_key(&buid, id))? {
                Some(byts) => unpackb(byts)
                    .map(Some)
                    .ok_or_else(|| Error::BadStorage("bad node data value".into())),
                None => Ok(None),
            }
        })
        .await
    }

    /// Every node data item of a node in this layer, in name id order.
    pub async fn data_items(&self, buid: Buid) -> Result<Vec<(String, Value)>, Error> {
        self.snapshot(move |txn, shared| {
            let abrvs = shared.abrvs.read();
            let mut out = Vec::new();
            for row in txn.scan(shared.dbs.nodedata, Scan::prefix(&buid))? {
                let (key, val) = row?;
                let id = u32::from_be_bytes(
                    key[32..]
                        .try_into()
                        .map_err(|_| Error::BadStorage("bad node data key".into()))?,
                );
                let name = abrvs.name(AbrvKind::Data, id)?;
                let valu =
                    unpackb(val).ok_or_else(|| Error::BadStorage("bad node data value".into()))?;
                out.push((name, valu));
            }
            Ok(out)
        })
        .await
    }

    /// The identity of this layer handle's shared state (equal for clones).
    pub(crate) fn ident(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The write generation: it changes whenever a batch of edits is applied to the layer
    /// (twice per batch: before it runs and once it is committed). A reader that loads it
    /// before a read and finds it unchanged later knows that its read is still current.
    pub fn write_gen(&self) -> u64 {
        self.inner.shared.write_gen.load(Ordering::SeqCst)
    }

    /// The offset the next logged batch will get.
    pub fn edit_offset(&self) -> u64 {
        *self.inner.offsets.borrow()
    }

    /// Logged batches from `offs` on; with `wait`, keep waiting for new batches (the
    /// reference's `syncNodeEdits`).
    pub fn sync_edits(&self, offs: u64, wait: bool) -> BoxStream<'static, Result<LogEntry, Error>> {
        let layer = self.clone();
        let state = (layer, offs, std::collections::VecDeque::new(), false);
        stream::try_unfold(state, move |(layer, mut offs, mut buf, done)| async move {
            loop {
                if let Some(entry) = buf.pop_front() {
                    let entry: LogEntry = entry;
                    offs = entry.offset + 1;
                    return Ok(Some((entry, (layer, offs, buf, done))));
                }
                if done {
                    return Ok(None);
                }
                let mut changes = layer.inner.offsets.subscribe();
                let batch = layer.read_log(offs, 64).await?;
                if !batch.is_empty() {
                    buf.extend(batch);
                    continue;
                }
                if !wait {
                    return Ok(None);
                }
                // Wait until something at or after `offs` is logged.
                loop {
                    if *changes.borrow_and_update() > offs {
                        break;
                    }
                    if changes.changed().await.is_err() {
                        return Ok(None);
                    }
                }
            }
        })
        .boxed()
    }

    /// Logged batches from `offs` down to the first, newest first (the reference's
    /// `syncNodeEdits(offs, reverse=True)`).
    pub fn edits_back(&self, offs: u64) -> BoxStream<'static, Result<LogEntry, Error>> {
        let state = (self.clone(), Some(offs), std::collections::VecDeque::new());
        stream::try_unfold(state, |(layer, mut next, mut buf)| async move {
            loop {
                if let Some(entry) = buf.pop_front() {
                    let entry: LogEntry = entry;
                    return Ok(Some((entry, (layer, next, buf))));
                }
                let Some(offs) = next else { return Ok(None) };
                let spec = Scan::range_back(Some(&offs.to_be_bytes()), None);
                let batch = layer.read_log_scan(spec, 64).await?;
                next = match batch.last() {
                    Some(last) if batch.len() == 64 => last.offset.checked_sub(1),
                    _ => None,
                };
                buf.extend(batch);
            }
        })
        .boxed()
    }

    /// Up to `limit` logged batches from `offs`.
    pub async fn read_log(&self, offs: u64, limit: usize) -> Result<Vec<LogEntry>, Error> {
        self.read_log_scan(Scan::range(&offs.to_be_bytes(), None), limit)
            .await
    }

    /// Up to `limit` logged batches of a scan of the log. A log row still being gathered is
    /// written first, so the reader sees it (and later batches go to a new row).
    async fn read_log_scan(&self, spec: Scan, limit: usize) -> Result<Vec<LogEntry>, Error> {
        if self.has_uncommitted() {
            let shared = Arc::clone(&self.inner.shared);
            self.inner
                .slab
                .write(move |txn| -> Result<(), Error> { Ok(flush_pending(txn, &shared)?) })
                .await?;
        }
        self.snapshot(move |txn, shared| {
            let mut out = Vec::new();
            for row in txn.scan(shared.dbs.nodeedits, spec)? {
                let (key, val) = row?;
                let offset = u64::from_be_bytes(
                    key.try_into()
                        .map_err(|_| Error::BadStorage("bad log key".into()))?,
                );
                let row = decode_log_row(val)?;
                let (edits, meta) = match row.as_array().map(Vec::as_slice) {
                    Some([edits, meta]) => (
                        NodeEdit::list_from_value(edits)?,
                        EditMeta::from_value(meta),
                    ),
                    _ => return Err(Error::BadStorage("bad log row".into())),
                };
                out.push(LogEntry {
                    offset,
                    edits,
                    meta,
                });
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    /// Every storage node of the layer, in buid order, in batches.
    pub fn sodes(&self) -> BoxStream<'static, Result<(Buid, Sode), Error>> {
        let layer = self.clone();
        let state = (
            layer,
            None::<Vec<u8>>,
            std::collections::VecDeque::new(),
            false,
        );
        stream::try_unfold(state, |(layer, mut after, mut buf, mut done)| async move {
            loop {
                if let Some(item) = buf.pop_front() {
                    return Ok(Some((item, (layer, after, buf, done))));
                }
                if done {
                    return Ok(None);
                }
                let start = after.clone();
                let (rows, finished) = layer
                    .snapshot(move |txn, shared| {
                        let abrvs = shared.abrvs.read();
                        let mut spec = Scan::full();
                        if let Some(key) = &start {
                            spec = spec.after_key(key);
                        }
                        let mut out = Vec::new();
                        for row in txn.scan(shared.dbs.sodes, spec)? {
                            let (key, val) = row?;
                            let buid: Buid = key
                                .try_into()
                                .map_err(|_| Error::BadStorage("bad sode key".into()))?;
                            out.push((buid, Sode::decode(val, &abrvs)?));
                            if out.len() >= READ_BATCH {
                                return Ok((out, false));
                            }
                        }
                        Ok((out, true))
                    })
                    .await?;
                done = finished;
                if let Some((buid, _)) = rows.last() {
                    after = Some(buid.to_vec());
                }
                buf.extend(rows);
            }
        })
        .boxed()
    }

    /// The layer's content as nodeedits that recreate it (the reference's
    /// `iterLayerNodeEdits`; used to merge a fork into its parent).
    pub fn node_edits(&self) -> BoxStream<'static, Result<NodeEdit, Error>> {
        let layer = self.clone();
        self.sodes()
            .then(move |item| {
                let layer = layer.clone();
                async move {
                    let (buid, sode) = item?;
                    layer.sode_edits(buid, sode, false).await
                }
            })
            .boxed()
    }

    /// Nodeedits deleting everything of the layer (the reference's `iterWipeNodeEdits`).
    pub fn wipe_edits(&self) -> BoxStream<'static, Result<NodeEdit, Error>> {
        let layer = self.clone();
        self.sodes()
            .then(move |item| {
                let layer = layer.clone();
                async move {
                    let (buid, sode) = item?;
                    layer.sode_edits(buid, sode, true).await
                }
            })
            .boxed()
    }

    async fn sode_edits(&self, buid: Buid, sode: Sode, wipe: bool) -> Result<NodeEdit, Error> {
        let form = sode.form.clone().unwrap_or_default();
        let data = self.data_items(buid).await?;
        let mut edges = Vec::new();
        let mut resume = None;
        loop {
            let (batch, next, done) = self
                .scan_edges(EdgeDir::N1, buid, None, resume, 4096)
                .await?;
            edges.extend(batch);
            if done {
                break;
            }
            resume = next;
        }
        let mut ops = Vec::new();
        if wipe {
            for (verb, n2) in edges {
                ops.push(EditOp::EdgeDel { verb, n2 });
            }
            for (name, valu) in data {
                ops.push(EditOp::NodeDataDel { name, oldv: valu });
            }
            for (tag, props) in &sode.tagprops {
                for (prop, valu, stortype) in props {
                    ops.push(EditOp::TagPropDel {
                        tag: tag.clone(),
                        prop: prop.clone(),
                        oldv: valu.clone(),
                        stortype: *stortype,
                    });
                }
            }
            for (tag, ival) in &sode.tags {
                ops.push(EditOp::TagDel {
                    tag: tag.clone(),
                    oldv: Some(*ival),
                });
            }
            for (prop, valu, stortype) in &sode.props {
                ops.push(EditOp::PropDel {
                    prop: prop.clone(),
                    oldv: valu.clone(),
                    stortype: *stortype,
                });
            }
            if let Some((valu, stortype)) = sode.valu {
                ops.push(EditOp::NodeDel { valu, stortype });
            }
            return Ok(NodeEdit::new(buid, form, ops));
        }
        if let Some((valu, stortype)) = sode.valu {
            ops.push(EditOp::NodeAdd { valu, stortype });
        }
        for (prop, valu, stortype) in sode.props {
            ops.push(EditOp::PropSet {
                prop,
                valu,
                oldv: Value::Nil,
                stortype,
            });
        }
        for (tag, valu) in sode.tags {
            ops.push(EditOp::TagSet {
                tag,
                valu,
                oldv: None,
            });
        }
        for (tag, props) in sode.tagprops {
            for (prop, valu, stortype) in props {
                ops.push(EditOp::TagPropSet {
                    tag: tag.clone(),
                    prop,
                    valu,
                    oldv: Value::Nil,
                    stortype,
                });
            }
        }
        for (name, valu) in data {
            ops.push(EditOp::NodeDataSet {
                name,
                valu,
                oldv: Value::Nil,
            });
        }
        for (verb, n2) in edges {
            ops.push(EditOp::EdgeAdd { verb, n2 });
        }
        Ok(NodeEdit::new(buid, form, ops))
    }

    /// Commit pending writes: everything applied before this call (deferred batches included)
    /// is durable once it returns.
    pub async fn sync(&self) -> Result<(), Error> {
        self.sync_later().await
    }

    /// [`Layer::sync`] asked for now and awaited later: the commit of every batch applied so
    /// far is queued before this returns, and the future resolves once it is done. Lets a
    /// writer commit a bulk load in steps while it prepares the next one.
    pub fn sync_later(&self) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        // Every batch counted so far is queued before this commit.
        let (seq, commit) = {
            let _order = self.inner.order.lock().unwrap_or_else(poisoned);
            (
                self.inner.shared.deferred.load(Ordering::SeqCst),
                self.inner.slab.commit(),
            )
        };
        let layer = self.clone();
        async move {
            commit.await?;
            layer.check_late()?;
            layer
                .inner
                .shared
                .committed
                .fetch_max(seq, Ordering::SeqCst);
            Ok(())
        }
    }

    /// The error of a batch whose writing failed after it was reported applied, if any.
    fn check_late(&self) -> Result<(), Error> {
        match &*self.inner.shared.late_error.lock().unwrap_or_else(poisoned) {
            Some(err) => Err(Error::BadStorage(format!(
                "a batch applied to layer {} could not be written: {err}",
                self.iden()
            ))),
            None => Ok(()),
        }
    }

    /// Close the layer.
    pub async fn fini(&self) {
        self.inner.slab.fini().await;
    }

    /// Close the layer and delete its files.
    pub async fn trash(&self) -> Result<(), Error> {
        self.fini().await;
        let dirn = self.inner.dirn.clone();
        tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&dirn))
            .await
            .map_err(|err| Error::BadStorage(err.to_string()))?
            .map_err(|err| Error::BadStorage(format!("cannot delete layer files: {err}")))
    }
}

fn decode_counter(val: &[u8]) -> Result<i64, Error> {
    Ok(i64::from_be_bytes(
        val.try_into()
            .map_err(|_| Error::BadStorage("bad counter".into()))?,
    ))
}

fn read_counter(txn: &synapse_slab::Txn<'_>, db: Db, key: &[u8]) -> Result<i64, Error> {
    match txn.get(db, key)? {
        Some(val) => decode_counter(val),
        None => Ok(0),
    }
}
