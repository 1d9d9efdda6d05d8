//! The records of the Cortex's automation, in `slabs/automation.lmdb`: trigger definitions
//! (`triggers`: iden → `{view, tdef}`), the queue of async trigger runs (`trigqueue`: big
//! endian offset → run) and cron jobs (`crons`: iden → packed appointment).

use std::path::Path;

use rmpv::Value;
use synapse_cell::{Error, Result};
use synapse_slab::{Db, DbOptions, Scan, Slab, SlabOptions};

use crate::nodeedit::{packb, unpackb};

fn slab_error(err: synapse_slab::Error) -> Error {
    Error::storage(err.to_string()).with_source(err)
}

fn bad_row(what: &str) -> Error {
    Error::storage(format!("bad {what} row in automation.lmdb"))
}

/// Which table of the store.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    Triggers,
    Crons,
}

/// The automation slab.
pub(crate) struct AutoStore {
    slab: Slab,
    triggers: Db,
    trigqueue: Db,
    crons: Db,
}

impl AutoStore {
    pub(crate) async fn open(dirn: &Path) -> Result<AutoStore> {
        let slabdir = dirn.join("slabs");
        std::fs::create_dir_all(&slabdir)
            .map_err(|err| Error::io("cannot create", &slabdir, err))?;
        let slab = Slab::open(slabdir.join("automation.lmdb"), SlabOptions::default())
            .await
            .map_err(slab_error)?;
        let plain = DbOptions::default();
        let triggers = slab.initdb("triggers", plain).await.map_err(slab_error)?;
        let trigqueue = slab.initdb("trigqueue", plain).await.map_err(slab_error)?;
        let crons = slab.initdb("crons", plain).await.map_err(slab_error)?;
        Ok(AutoStore {
            slab,
            triggers,
            trigqueue,
            crons,
        })
    }

    fn db(&self, table: Table) -> Db {
        match table {
            Table::Triggers => self.triggers,
            Table::Crons => self.crons,
        }
    }

    /// Store a record.
    pub(crate) async fn put(&self, table: Table, iden: &str, valu: &Value) -> Result<()> {
        let db = self.db(table);
        let key = iden.as_bytes().to_vec();
        let byts = packb(valu);
        self.slab
            .write_commit(move |txn| txn.put(db, &key, &byts).map(|_| ()))
            .await
            .map_err(slab_error)
    }

    /// Remove a record; whether it existed.
    pub(crate) async fn delete(&self, table: Table, iden: &str) -> Result<bool> {
        let db = self.db(table);
        let key = iden.as_bytes().to_vec();
        self.slab
            .write_commit(move |txn| txn.delete(db, &key, None))
            .await
            .map_err(slab_error)
    }

    /// Every record of a table.
    pub(crate) async fn rows(&self, table: Table) -> Result<Vec<(String, Value)>> {
        let db = self.db(table);
        let rows = self.scan(db).await?;
        rows.into_iter()
            .map(|(key, val)| {
                let key = String::from_utf8(key).map_err(|_| bad_row("key"))?;
                let val = unpackb(&val).ok_or_else(|| bad_row("value"))?;
                Ok((key, val))
            })
            .collect()
    }

    async fn scan(&self, db: Db) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.slab
            .snapshot(move |txn| {
                let mut out = Vec::new();
                for row in txn.scan(db, Scan::full())? {
                    let (key, val) = row?;
                    out.push((key.to_vec(), val.to_vec()));
                }
                Ok::<_, synapse_slab::Error>(out)
            })
            .await
            .map_err(slab_error)
    }

    // ----- the async trigger queue -----

    /// Append a run to the queue; its offset.
    pub(crate) async fn queue_add(&self, item: &Value) -> Result<u64> {
        let db = self.trigqueue;
        let byts = packb(item);
        self.slab
            .write_commit(move |txn| {
                let next = match txn.last_key(db)? {
                    Some(key) => offset_of(key).map_or(0, |offs| offs + 1),
                    None => 0,
                };
                txn.put(db, &next.to_be_bytes(), &byts)?;
                Ok::<_, synapse_slab::Error>(next)
            })
            .await
            .map_err(slab_error)
    }

    /// The queued runs in order (at most `max`).
    pub(crate) async fn queue_items(&self, max: usize) -> Result<Vec<(u64, Value)>> {
        let rows = self.scan(self.trigqueue).await?;
        let mut out = Vec::new();
        for (key, val) in rows.into_iter().take(max) {
            let offs = offset_of(&key).ok_or_else(|| bad_row("trigger queue key"))?;
            let val = unpackb(&val).ok_or_else(|| bad_row("trigger queue"))?;
            out.push((offs, val));
        }
        Ok(out)
    }

    /// The number of queued runs.
    pub(crate) async fn queue_size(&self) -> Result<usize> {
        Ok(self.scan(self.trigqueue).await?.len())
    }

    /// Remove a queued run.
    pub(crate) async fn queue_del(&self, offs: u64) -> Result<()> {
        let db = self.trigqueue;
        self.slab
            .write_commit(move |txn| txn.delete(db, &offs.to_be_bytes(), None).map(|_| ()))
            .await
            .map_err(slab_error)
    }

    pub(crate) async fn fini(&self) {
        self.slab.fini().await;
    }
}

fn offset_of(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}
