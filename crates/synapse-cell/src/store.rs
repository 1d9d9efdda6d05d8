//! The cell's storage interface: named databases of byte keys and values.
//!
//! The cell keeps the reference's layout of `slabs/cell.lmdb` (see `docs/storage.md`): DB
//! `auth` holds users, roles and gates under `user:info:<iden>`, `user:name:<name>`,
//! `role:info:<iden>`, ... with msgpack values; `user:apikeys` and `user:meta` hold API keys;
//! `http:sess` the HTTP sessions; `cell:info` / `cell:vers` the cell's own records.
//! [`SlabStore`] stores them in the cell's LMDB slab; [`MemStore`] keeps them in memory
//! (tests, embedded cells).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use futures::future::BoxFuture;
use synapse_slab::{Db, DbOptions, Scan, Slab, SlabOptions};

use crate::error::{Error, Result};

/// One change to a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Set `key` to `val` in `db`.
    Put {
        /// The database name.
        db: String,
        /// The key.
        key: Vec<u8>,
        /// The value.
        val: Vec<u8>,
    },
    /// Remove `key` from `db` (no-op if absent).
    Delete {
        /// The database name.
        db: String,
        /// The key.
        key: Vec<u8>,
    },
    /// Remove every key of `db` starting with `prefix`.
    DeletePrefix {
        /// The database name.
        db: String,
        /// The key prefix.
        prefix: Vec<u8>,
    },
}

impl StoreOp {
    /// A put.
    pub fn put(db: &str, key: impl Into<Vec<u8>>, val: impl Into<Vec<u8>>) -> Self {
        StoreOp::Put {
            db: db.to_string(),
            key: key.into(),
            val: val.into(),
        }
    }

    /// A delete.
    pub fn delete(db: &str, key: impl Into<Vec<u8>>) -> Self {
        StoreOp::Delete {
            db: db.to_string(),
            key: key.into(),
        }
    }

    /// A prefix delete.
    pub fn delete_prefix(db: &str, prefix: impl Into<Vec<u8>>) -> Self {
        StoreOp::DeletePrefix {
            db: db.to_string(),
            prefix: prefix.into(),
        }
    }
}

/// Rows returned by a scan: `(key, value)` in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Durable key/value storage for the cell's own data.
///
/// Implementations must not block the async runtime: blocking work belongs on their own
/// threads. `apply` writes its ops in order; a later read sees them.
pub trait Store: Send + Sync + 'static {
    /// Every row of `db` whose key starts with `prefix`, in key order.
    fn scan<'a>(&'a self, db: &'a str, prefix: &'a [u8]) -> BoxFuture<'a, Result<Rows>>;

    /// One value.
    fn get<'a>(&'a self, db: &'a str, key: &'a [u8]) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// Apply changes in order.
    fn apply(&self, ops: Vec<StoreOp>) -> BoxFuture<'_, Result<()>>;

    /// Make every applied change durable (commit). Called at shutdown.
    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Release the storage (after the last `sync`). Called once at shutdown.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// The LMDB slab behind the store, if there is one (services keep their own databases
    /// in the cell's slab, as the reference's Cortex and Cryotank do).
    fn slab(&self) -> Option<&Slab> {
        None
    }
}

fn slab_err(err: synapse_slab::Error) -> Error {
    Error::storage(format!("cell storage: {err}")).with_source(err)
}

/// A [`Store`] in an LMDB slab (the cell's `slabs/cell.lmdb`): one named database per
/// store DB name, writes batched and committed by the slab's thread.
pub struct SlabStore {
    slab: Slab,
    dbs: Mutex<HashMap<String, Db>>,
}

impl std::fmt::Debug for SlabStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabStore")
            .field("path", &self.slab.path())
            .finish()
    }
}

impl SlabStore {
    /// Open (creating) the slab at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SlabOptions {
            map_size: synapse_slab::CELL_MAP_SIZE,
            ..SlabOptions::default()
        };
        let slab = Slab::open(path, opts).await.map_err(slab_err)?;
        Ok(Self::new(slab))
    }

    /// A store over an open slab.
    pub fn new(slab: Slab) -> Self {
        Self {
            slab,
            dbs: Mutex::new(HashMap::new()),
        }
    }

    /// The slab (services may open their own databases in it).
    pub fn slab(&self) -> &Slab {
        &self.slab
    }

    async fn db(&self, name: &str) -> Result<Db> {
        if let Some(db) = self.dbs.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Ok(*db);
        }
        let db = self
            .slab
            .initdb(name, DbOptions::default())
            .await
            .map_err(slab_err)?;
        self.dbs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), db);
        Ok(db)
    }
}

impl Store for SlabStore {
    fn scan<'a>(&'a self, db: &'a str, prefix: &'a [u8]) -> BoxFuture<'a, Result<Rows>> {
        Box::pin(async move {
            let db = self.db(db).await?;
            let prefix = prefix.to_vec();
            self.slab
                .read(move |txn| {
                    let scan = if prefix.is_empty() {
                        Scan::full()
                    } else {
                        Scan::prefix(&prefix)
                    };
                    txn.scan(db, scan)?
                        .map(|row| row.map(|(k, v)| (k.to_vec(), v.to_vec())))
                        .collect::<synapse_slab::Result<Rows>>()
                })
                .await
                .map_err(slab_err)
        })
    }

    fn get<'a>(&'a self, db: &'a str, key: &'a [u8]) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let db = self.db(db).await?;
            self.slab.get(db, key).await.map_err(slab_err)
        })
    }

    fn apply(&self, ops: Vec<StoreOp>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut resolved = Vec::with_capacity(ops.len());
            for op in ops {
                let name = match &op {
                    StoreOp::Put { db, .. }
                    | StoreOp::Delete { db, .. }
                    | StoreOp::DeletePrefix { db, .. } => db,
                };
                resolved.push((self.db(name).await?, op));
            }
            self.slab
                .write(move |txn| {
                    for (db, op) in resolved {
                        match op {
                            StoreOp::Put { key, val, .. } => {
                                txn.put(db, &key, &val)?;
                            }
                            StoreOp::Delete { key, .. } => {
                                txn.delete(db, &key, None)?;
                            }
                            StoreOp::DeletePrefix { prefix, .. } => {
                                let keys = txn
                                    .scan(db, Scan::prefix(&prefix))?
                                    .map(|row| row.map(|(k, _)| k.to_vec()))
                                    .collect::<synapse_slab::Result<Vec<Vec<u8>>>>()?;
                                for key in keys {
                                    txn.delete(db, &key, None)?;
                                }
                            }
                        }
                    }
                    Ok::<(), synapse_slab::Error>(())
                })
                .await
                .map_err(slab_err)
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.slab.commit().await.map_err(slab_err) })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.slab.fini().await })
    }

    fn slab(&self) -> Option<&Slab> {
        Some(&self.slab)
    }
}

type Dbs = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A [`Store`] in memory.
#[derive(Debug, Default)]
pub struct MemStore {
    dbs: Mutex<Dbs>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Dbs> {
        self.dbs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemStore {
    fn scan<'a>(&'a self, db: &'a str, prefix: &'a [u8]) -> BoxFuture<'a, Result<Rows>> {
        let rows = self
            .lock()
            .get(db)
            .map(|rows| {
                rows.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Box::pin(async move { Ok(rows) })
    }

    fn get<'a>(&'a self, db: &'a str, key: &'a [u8]) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        let valu = self.lock().get(db).and_then(|rows| rows.get(key).cloned());
        Box::pin(async move { Ok(valu) })
    }

    fn apply(&self, ops: Vec<StoreOp>) -> BoxFuture<'_, Result<()>> {
        let mut dbs = self.lock();
        for op in ops {
            match op {
                StoreOp::Put { db, key, val } => {
                    dbs.entry(db).or_default().insert(key, val);
                }
                StoreOp::Delete { db, key } => {
                    if let Some(rows) = dbs.get_mut(&db) {
                        rows.remove(&key);
                    }
                }
                StoreOp::DeletePrefix { db, prefix } => {
                    if let Some(rows) = dbs.get_mut(&db) {
                        rows.retain(|k, _| !k.starts_with(&prefix));
                    }
                }
            }
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slab_store_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cell.lmdb");
        {
            let store = SlabStore::open(&path).await.unwrap();
            store
                .apply(vec![
                    StoreOp::put("auth", b"user:name:a".to_vec(), b"1".to_vec()),
                    StoreOp::put("auth", b"user:name:b".to_vec(), b"2".to_vec()),
                    StoreOp::put("auth", b"user:info:a".to_vec(), b"3".to_vec()),
                ])
                .await
                .unwrap();
            store
                .apply(vec![StoreOp::delete_prefix("auth", b"user:info:".to_vec())])
                .await
                .unwrap();
            store.sync().await.unwrap();
            store.close().await;
        }
        let store = SlabStore::open(&path).await.unwrap();
        let rows = store.scan("auth", b"").await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            store.get("auth", b"user:name:b").await.unwrap(),
            Some(b"2".to_vec())
        );
        assert_eq!(store.get("nodb", b"x").await.unwrap(), None);
        store.close().await;
    }

    #[tokio::test]
    async fn mem_store_scans_by_prefix_in_order() {
        let store = MemStore::new();
        store
            .apply(vec![
                StoreOp::put("auth", b"user:name:b".to_vec(), b"2".to_vec()),
                StoreOp::put("auth", b"user:name:a".to_vec(), b"1".to_vec()),
                StoreOp::put("auth", b"role:name:x".to_vec(), b"3".to_vec()),
                StoreOp::put("other", b"user:name:c".to_vec(), b"4".to_vec()),
            ])
            .await
            .unwrap();
        let rows = store.scan("auth", b"user:name:").await.unwrap();
        assert_eq!(
            rows,
            vec![
                (b"user:name:a".to_vec(), b"1".to_vec()),
                (b"user:name:b".to_vec(), b"2".to_vec())
            ]
        );
        store
            .apply(vec![
                StoreOp::delete_prefix("auth", b"user:".to_vec()),
                StoreOp::delete("auth", b"missing".to_vec()),
            ])
            .await
            .unwrap();
        assert!(store.scan("auth", b"user:").await.unwrap().is_empty());
        assert_eq!(
            store.get("auth", b"role:name:x").await.unwrap(),
            Some(b"3".to_vec())
        );
    }
}
