//! [`HotKeyVal`] and [`HotCount`]: write-back caches flushed at every commit.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rmpv::Value;

use crate::codec::{pack, signed_int64en, signed_int64un, unpack};
use crate::error::{Error, Result};
use crate::scan::Scan;
use crate::slab::Slab;
use crate::txn::{Db, DbOptions};

struct Cache<T> {
    vals: HashMap<String, T>,
    dirty: BTreeSet<String>,
}

type Shared<T> = Arc<Mutex<Cache<T>>>;

fn lock<T>(cache: &Mutex<Cache<T>>) -> std::sync::MutexGuard<'_, Cache<T>> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Load database `name` into a cache shared by every handle on it, and flush its dirty
/// entries before each commit.
async fn open_cache<T: Clone + Send + Sync + 'static>(
    slab: &Slab,
    name: &str,
    decode: fn(&[u8]) -> Result<T>,
    encode: fn(&T) -> Vec<u8>,
) -> Result<(Db, Shared<T>)> {
    let db = slab.initdb(name, DbOptions::default()).await?;
    let vals = slab
        .read(move |txn| {
            let mut vals = HashMap::new();
            for row in txn.scan(db, Scan::full())? {
                let (key, val) = row?;
                vals.insert(String::from_utf8_lossy(key).into_owned(), decode(val)?);
            }
            Ok::<_, Error>(vals)
        })
        .await?;
    let mut fresh = false;
    let cache: Shared<T> = slab.shared_state(&format!("hot:{name}"), || {
        fresh = true;
        Mutex::new(Cache {
            vals,
            dirty: BTreeSet::new(),
        })
    })?;
    if fresh {
        let flush = Arc::clone(&cache);
        slab.on_commit(move |txn| {
            let rows: Vec<(String, Vec<u8>)> = {
                let mut cache = lock(&flush);
                let dirty = std::mem::take(&mut cache.dirty);
                dirty
                    .into_iter()
                    .filter_map(|name| cache.vals.get(&name).map(|val| (name, encode(val))))
                    .collect()
            };
            for (name, val) in rows {
                txn.put(db, name.as_bytes(), &val)?;
            }
            Ok(())
        });
    }
    Ok((db, cache))
}

/// A hot key/value: reads and writes touch memory only; dirty entries are written (msgpack)
/// before every commit of the slab (the reference's `HotKeyVal`).
#[derive(Clone)]
pub struct HotKeyVal {
    slab: Slab,
    db: Db,
    cache: Shared<Value>,
}

impl std::fmt::Debug for HotKeyVal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotKeyVal").finish_non_exhaustive()
    }
}

impl HotKeyVal {
    /// Load database `name`.
    pub async fn open(slab: &Slab, name: &str) -> Result<HotKeyVal> {
        let (db, cache) = open_cache(slab, name, unpack, pack).await?;
        Ok(HotKeyVal {
            slab: slab.clone(),
            db,
            cache,
        })
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        lock(&self.cache).vals.get(name).cloned()
    }

    /// Set `name`; returns `valu`.
    pub fn set(&self, name: &str, valu: Value) -> Value {
        let mut cache = lock(&self.cache);
        cache.vals.insert(name.to_owned(), valu.clone());
        cache.dirty.insert(name.to_owned());
        drop(cache);
        self.slab.mark_dirty();
        valu
    }

    /// Remove `name` (from memory and, at once, from the database).
    pub async fn delete(&self, name: &str) -> Result<bool> {
        {
            let mut cache = lock(&self.cache);
            cache.vals.remove(name);
            cache.dirty.remove(name);
        }
        let (db, name) = (self.db, name.to_owned());
        self.slab
            .write(move |txn| txn.delete(db, name.as_bytes(), None))
            .await
    }

    /// Every `(name, value)`.
    pub fn pack(&self) -> HashMap<String, Value> {
        lock(&self.cache).vals.clone()
    }
}

/// A hot counter: increments touch memory only; dirty counters are written (8-byte signed
/// big-endian) before every commit (the reference's `HotCount`; the Axon's `metrics`).
///
/// Unlike the reference 2.250, an increment alone marks the slab dirty, so it reaches disk
/// within the commit period.
#[derive(Clone)]
pub struct HotCount {
    slab: Slab,
    db: Db,
    cache: Shared<i64>,
}

impl std::fmt::Debug for HotCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotCount").finish_non_exhaustive()
    }
}

fn encode_count(val: &i64) -> Vec<u8> {
    signed_int64en(*val).to_vec()
}

impl HotCount {
    /// Load database `name`.
    pub async fn open(slab: &Slab, name: &str) -> Result<HotCount> {
        let (db, cache) = open_cache(slab, name, signed_int64un, encode_count).await?;
        Ok(HotCount {
            slab: slab.clone(),
            db,
            cache,
        })
    }

    /// The counter `name` (0 if missing).
    pub fn get(&self, name: &str) -> i64 {
        lock(&self.cache).vals.get(name).copied().unwrap_or(0)
    }

    /// Add `valu` to the counter `name`.
    pub fn inc(&self, name: &str, valu: i64) {
        let mut cache = lock(&self.cache);
        let slot = cache.vals.entry(name.to_owned()).or_insert(0);
        *slot = slot.wrapping_add(valu);
        cache.dirty.insert(name.to_owned());
        drop(cache);
        self.slab.mark_dirty();
    }

    /// Set the counter `name`.
    pub fn set(&self, name: &str, valu: i64) {
        let mut cache = lock(&self.cache);
        cache.vals.insert(name.to_owned(), valu);
        cache.dirty.insert(name.to_owned());
        drop(cache);
        self.slab.mark_dirty();
    }

    /// Remove the counter `name` (from memory and, at once, from the database).
    pub async fn delete(&self, name: &str) -> Result<bool> {
        {
            let mut cache = lock(&self.cache);
            cache.vals.remove(name);
            cache.dirty.remove(name);
        }
        let (db, name) = (self.db, name.to_owned());
        self.slab
            .write(move |txn| txn.delete(db, name.as_bytes(), None))
            .await
    }

    /// Every `(name, count)`.
    pub fn pack(&self) -> HashMap<String, i64> {
        lock(&self.cache).vals.clone()
    }
}
