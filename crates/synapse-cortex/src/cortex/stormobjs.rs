//! Storm queues and macros: the Cortex records behind `$lib.queue` and `$lib.macro`, in the
//! Cortex slab (`slabs/cortex.lmdb`), so they survive a restart.
//!
//! Queues are a [`MultiQueue`] (`cortex:queue:*` databases) with an auth gate `queue:<name>`
//! each, the creator admin of it, as the reference's `addCoreQueue`. Macros are macro
//! definitions (dicts with the "easy perm" `permissions` key) by name in `storm:macros`, graph
//! projections (the same kind of dicts) by iden in `storm:graphs`.

use futures::StreamExt;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_cell::{Error, Result};
use synapse_slab::{Db, DbOptions, MultiQueue, QueueStatus, Scan, Slab};

use super::Cortex;
use crate::nodeedit::{packb, unpackb};

pub(crate) fn slab_error(err: synapse_slab::Error) -> Error {
    match err {
        synapse_slab::Error::NoSuchName(mesg) => Error::named("NoSuchName", mesg),
        synapse_slab::Error::DupName(mesg) => Error::named("DupName", mesg),
        other => Error::storage(other.to_string()).with_source(other),
    }
}

/// The queue, macro and graph projection databases of a Cortex.
pub(crate) struct StormObjs {
    slab: Slab,
    queues: MultiQueue,
    /// Package queues (`$lib.pkg.queues`, see `pkgqueue.rs`), named by the guid of
    /// `(package, queue name)`.
    pub(crate) pkgqueues: MultiQueue,
    macros: Db,
    graphs: Db,
}

impl StormObjs {
    pub(crate) async fn open(slab: &Slab) -> Result<StormObjs> {
        let queues = MultiQueue::open(slab, "cortex:queue")
            .await
            .map_err(slab_error)?;
        let pkgqueues = MultiQueue::open(slab, "storm:pkg:queue")
            .await
            .map_err(slab_error)?;
        let macros = slab
            .initdb("storm:macros", DbOptions::default())
            .await
            .map_err(slab_error)?;
        let graphs = slab
            .initdb("storm:graphs", DbOptions::default())
            .await
            .map_err(slab_error)?;
        Ok(StormObjs {
            slab: slab.clone(),
            queues,
            pkgqueues,
            macros,
            graphs,
        })
    }
}

fn queue_gate(name: &str) -> String {
    format!("queue:{name}")
}

impl Cortex {
    // ----- queues -----

    /// Create the queue `name` (its auth gate, the creator its admin); its info
    /// (`{"time": .., "creator": ..}`). `DupName` if it exists.
    pub async fn add_queue(&self, name: &str, creator: &str) -> Result<Value> {
        let queues = &self.objs.queues;
        if queues.exists(name) {
            return Err(Error::named(
                "DupName",
                format!("Queue named {name} already exists!"),
            ));
        }
        let info = Value::Map(vec![
            (Value::from("time"), Value::from(synapse_base::now_ms())),
            (Value::from("creator"), Value::from(creator)),
        ]);
        let auth = self.cell().auth();
        let gate = queue_gate(name);
        auth.add_auth_gate(&gate, "queue").await?;
        auth.set_user_admin(creator, true, Some(&gate)).await?;
        queues.add(name, info.clone()).await.map_err(slab_error)?;
        Ok(info)
    }

    /// The status of a queue (`NoSuchName` if there is none).
    pub fn queue_status(&self, name: &str) -> Result<QueueStatus> {
        self.objs.queues.status(name).map_err(|err| match err {
            synapse_slab::Error::NoSuchName(mesg) => {
                Error::named("NoSuchName", mesg).with("name", name)
            }
            other => slab_error(other),
        })
    }

    /// Every queue's status.
    pub fn queues(&self) -> Vec<QueueStatus> {
        self.objs.queues.list()
    }

    /// Remove a queue, its items and its auth gate.
    pub async fn del_queue(&self, name: &str) -> Result<()> {
        let queues = &self.objs.queues;
        if !queues.exists(name) {
            return Err(Error::named(
                "NoSuchName",
                format!("No queue named {name} exists!"),
            ));
        }
        // a gate may be gone already (removed by hand); the queue goes anyway
        let _ = self.cell().auth().del_auth_gate(&queue_gate(name)).await;
        queues.rem(name).await.map_err(slab_error)
    }

    /// Append items; the offset of the first.
    pub async fn queue_puts(&self, name: &str, items: Vec<Value>) -> Result<u64> {
        self.objs
            .queues
            .puts(name, items, None)
            .await
            .map_err(slab_error)
    }

    /// `(offset, item)` from `offs`: with `cull` (and `offs` > 0) items before `offs` are
    /// removed first; at most `size` items; with `wait`, waits for more.
    pub fn queue_gets(
        &self,
        name: &str,
        offs: u64,
        cull: bool,
        wait: bool,
        size: Option<usize>,
    ) -> BoxStream<'static, Result<(u64, Value)>> {
        self.objs
            .queues
            .gets(name, offs, size, cull, wait)
            .map(|item| item.map_err(slab_error))
            .boxed()
    }

    /// Remove the items up to and including `offs`.
    pub async fn queue_cull(&self, name: &str, offs: u64) -> Result<()> {
        self.objs
            .queues
            .cull(name, offs)
            .await
            .map(|_| ())
            .map_err(slab_error)
    }

    /// Remove and return the item at `offs`.
    pub async fn queue_pop(&self, name: &str, offs: u64) -> Result<Option<(u64, Value)>> {
        self.objs.queues.pop(name, offs).await.map_err(slab_error)
    }

    /// The number of items in a queue.
    pub fn queue_size(&self, name: &str) -> Option<i64> {
        self.objs.queues.size(name)
    }

    // ----- macros -----

    /// A macro definition by name.
    pub async fn macro_def(&self, name: &str) -> Result<Option<Value>> {
        self.obj_get(self.objs.macros, name).await
    }

    /// Store a macro definition under `name` (and remove the one under `oldname`, a rename).
    pub async fn put_macro(&self, name: &str, mdef: &Value, oldname: Option<&str>) -> Result<()> {
        self.obj_put(self.objs.macros, name, mdef, oldname).await
    }

    /// Remove a macro; its definition if there was one.
    pub async fn del_macro(&self, name: &str) -> Result<Option<Value>> {
        self.obj_del(self.objs.macros, name).await
    }

    /// Every macro definition, by name.
    pub async fn macro_defs(&self) -> Result<Vec<Value>> {
        self.obj_all(self.objs.macros).await
    }

    // ----- graph projections -----

    /// A stored graph projection by iden.
    pub async fn graph_def(&self, iden: &str) -> Result<Option<Value>> {
        self.obj_get(self.objs.graphs, iden).await
    }

    /// Store a graph projection under its iden.
    pub async fn put_graph(&self, iden: &str, gdef: &Value) -> Result<()> {
        self.obj_put(self.objs.graphs, iden, gdef, None).await
    }

    /// Remove a graph projection; its definition if there was one.
    pub async fn del_graph(&self, iden: &str) -> Result<Option<Value>> {
        self.obj_del(self.objs.graphs, iden).await
    }

    /// Every stored graph projection, by iden.
    pub async fn graph_defs(&self) -> Result<Vec<Value>> {
        self.obj_all(self.objs.graphs).await
    }

    async fn obj_get(&self, db: Db, key: &str) -> Result<Option<Value>> {
        row_get(&self.objs.slab, db, key.as_bytes()).await
    }

    async fn obj_put(&self, db: Db, key: &str, item: &Value, oldkey: Option<&str>) -> Result<()> {
        let oldkey = oldkey.map(|old| old.as_bytes().to_vec());
        row_put(&self.objs.slab, db, key.as_bytes().to_vec(), item, oldkey).await
    }

    async fn obj_del(&self, db: Db, key: &str) -> Result<Option<Value>> {
        row_pop(&self.objs.slab, db, key.as_bytes().to_vec()).await
    }

    async fn obj_all(&self, db: Db) -> Result<Vec<Value>> {
        let rows = rows_with_prefix(&self.objs.slab, db, Vec::new()).await?;
        Ok(rows.into_iter().map(|(_, item)| item).collect())
    }
}

// ----- msgpack rows by key (shared with the package tables) -----

/// The msgpack value stored under `key`.
pub(crate) async fn row_get(slab: &Slab, db: Db, key: &[u8]) -> Result<Option<Value>> {
    let byts = slab.get(db, key).await.map_err(slab_error)?;
    byts.map(|byts| unpackb(&byts).ok_or_else(|| Error::storage("bad row in cortex.lmdb")))
        .transpose()
}

/// Store `item` under `key` (removing `oldkey` in the same commit, for a rename).
pub(crate) async fn row_put(
    slab: &Slab,
    db: Db,
    key: Vec<u8>,
    item: &Value,
    oldkey: Option<Vec<u8>>,
) -> Result<()> {
    let byts = packb(item);
    slab.write_commit(move |txn| {
        if let Some(old) = &oldkey {
            txn.delete(db, old, None)?;
        }
        txn.put(db, &key, &byts).map(|_| ())
    })
    .await
    .map_err(slab_error)
}

/// Remove the row under `key`: its value, if there was one.
pub(crate) async fn row_pop(slab: &Slab, db: Db, key: Vec<u8>) -> Result<Option<Value>> {
    let old = slab
        .write_commit(move |txn| {
            let old = txn.get(db, &key)?.map(<[u8]>::to_vec);
            if old.is_some() {
                txn.delete(db, &key, None)?;
            }
            Ok::<_, synapse_slab::Error>(old)
        })
        .await
        .map_err(slab_error)?;
    Ok(old.and_then(|byts| unpackb(&byts)))
}

/// Every `(key, value)` whose key starts with `prefix`, in key order (undecodable rows skipped).
pub(crate) async fn rows_with_prefix(
    slab: &Slab,
    db: Db,
    prefix: Vec<u8>,
) -> Result<Vec<(Vec<u8>, Value)>> {
    let rows = slab
        .snapshot(move |txn| {
            let mut out = Vec::new();
            for row in txn.scan(db, Scan::prefix(&prefix))? {
                let (key, val) = row?;
                out.push((key.to_vec(), val.to_vec()));
            }
            Ok::<_, synapse_slab::Error>(out)
        })
        .await
        .map_err(slab_error)?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, val)| Some((key, unpackb(&val)?)))
        .collect())
}
