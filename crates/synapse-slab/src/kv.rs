//! [`SafeKeyVal`] (uncached key/value with string keys and msgpack values) and [`SlabDict`]
//! (a cached dict under a byte prefix).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmpv::Value;

use crate::codec::{pack, unpack};
use crate::error::{Error, Result};
use crate::scan::Scan;
use crate::slab::Slab;
use crate::txn::{Db, DbOptions, MAX_KEY_LEN, Txn};

/// Key/value storage that keeps nothing in memory, with string keys (under an optional prefix)
/// of at most [`MAX_KEY_LEN`] bytes and msgpack values: what Cells use for `cell:info`,
/// `cell:vers`, `auth`, and services for their config (the reference's `SafeKeyVal`).
#[derive(Clone, Debug)]
pub struct SafeKeyVal {
    slab: Slab,
    db: Db,
    prefix: String,
}

impl SafeKeyVal {
    /// Open the store in database `name` under `prefix`. With `create` false, a missing
    /// database is [`Error::BadArg`] (`Database name='...' does not exist.`).
    pub async fn open(slab: &Slab, name: &str, prefix: &str, create: bool) -> Result<SafeKeyVal> {
        if prefix.len() >= MAX_KEY_LEN {
            return Err(Error::BadArg(format!(
                "SafeKeyVal prefix lengths must be < {MAX_KEY_LEN} bytes."
            )));
        }
        if !create && !slab.dbexists(name).await? {
            return Err(Error::BadArg(format!(
                "Database name='{name}' does not exist."
            )));
        }
        let db = slab.initdb(name, DbOptions::default()).await?;
        Ok(SafeKeyVal {
            slab: slab.clone(),
            db,
            prefix: prefix.to_owned(),
        })
    }

    /// A store over the same database with `prefix` appended to this one's.
    pub fn sub(&self, prefix: &str) -> Result<SafeKeyVal> {
        if prefix.is_empty() {
            return Err(Error::BadArg(
                "SafeKeyVal.getSubKeyVal() requires a string prefix of at least one character."
                    .into(),
            ));
        }
        let prefix = format!("{}{prefix}", self.prefix);
        if prefix.len() >= MAX_KEY_LEN {
            return Err(Error::BadArg(format!(
                "SafeKeyVal prefix lengths must be < {MAX_KEY_LEN} bytes."
            )));
        }
        Ok(SafeKeyVal {
            slab: self.slab.clone(),
            db: self.db,
            prefix,
        })
    }

    /// The prefix of this store.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The database holding the store.
    pub fn db(&self) -> Db {
        self.db
    }

    fn key(&self, name: &str) -> Result<Vec<u8>> {
        let mut key = Vec::with_capacity(self.prefix.len() + name.len());
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(name.as_bytes());
        if key.len() > MAX_KEY_LEN {
            let max = MAX_KEY_LEN - self.prefix.len();
            return Err(Error::BadArg(format!(
                "SafeKeyVal keys with prefix {} must be less < {max} bytes in length.",
                self.prefix
            )));
        }
        Ok(key)
    }

    fn name(&self, key: &[u8]) -> Result<String> {
        let rest = key.get(self.prefix.len()..).unwrap_or_default();
        String::from_utf8(rest.to_vec())
            .map_err(|_| Error::BadData("SafeKeyVal key is not utf-8".into()))
    }

    fn scan(&self, pref: &str) -> Result<Scan> {
        let key = self.key(pref)?;
        Ok(if key.is_empty() {
            Scan::full()
        } else {
            Scan::prefix(&key)
        })
    }

    // ----- in a transaction -----

    /// The value of `name`.
    pub fn get_in(&self, txn: &Txn<'_>, name: &str) -> Result<Option<Value>> {
        txn.get(self.db, &self.key(name)?)?.map(unpack).transpose()
    }

    /// Set `name` to `valu`.
    pub fn set_in(&self, txn: &mut Txn<'_>, name: &str, valu: &Value) -> Result<()> {
        txn.put(self.db, &self.key(name)?, &pack(valu))?;
        Ok(())
    }

    /// Remove `name` and return its value.
    pub fn pop_in(&self, txn: &mut Txn<'_>, name: &str) -> Result<Option<Value>> {
        txn.pop(self.db, &self.key(name)?)?
            .as_deref()
            .map(unpack)
            .transpose()
    }

    /// `(name, value)` of every key starting with `pref` (names without this store's prefix).
    pub fn items_in(&self, txn: &Txn<'_>, pref: &str) -> Result<Vec<(String, Value)>> {
        let mut out = Vec::new();
        for row in txn.scan(self.db, self.scan(pref)?)? {
            let (key, val) = row?;
            out.push((self.name(key)?, unpack(val)?));
        }
        Ok(out)
    }

    /// Remove every key starting with `pref`; returns how many.
    pub fn truncate_in(&self, txn: &mut Txn<'_>, pref: &str) -> Result<usize> {
        let mut keys = Vec::new();
        for row in txn.scan(self.db, self.scan(pref)?)? {
            keys.push(row?.0.to_vec());
        }
        for key in &keys {
            txn.delete(self.db, key, None)?;
        }
        Ok(keys.len())
    }

    // ----- async -----

    /// The value of `name`.
    pub async fn get(&self, name: &str) -> Result<Option<Value>> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab.read(move |txn| this.get_in(txn, &name)).await
    }

    /// Set `name` to `valu`; returns `valu` as the reference does.
    pub async fn set(&self, name: &str, valu: Value) -> Result<Value> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| {
                this.set_in(txn, &name, &valu)?;
                Ok::<_, Error>(valu)
            })
            .await
    }

    /// Remove `name` and return its value.
    pub async fn pop(&self, name: &str) -> Result<Option<Value>> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab.write(move |txn| this.pop_in(txn, &name)).await
    }

    /// Remove `name`; true if it existed.
    pub async fn delete(&self, name: &str) -> Result<bool> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| txn.delete(this.db, &this.key(&name)?, None))
            .await
    }

    /// Remove every key starting with `pref`.
    pub async fn truncate(&self, pref: &str) -> Result<usize> {
        let (this, pref) = (self.clone(), pref.to_owned());
        self.slab
            .write(move |txn| this.truncate_in(txn, &pref))
            .await
    }

    /// `(name, value)` of every key starting with `pref`, in key order.
    pub async fn items(&self, pref: &str) -> Result<Vec<(String, Value)>> {
        let (this, pref) = (self.clone(), pref.to_owned());
        self.slab.read(move |txn| this.items_in(txn, &pref)).await
    }

    /// The names starting with `pref`.
    pub async fn keys(&self, pref: &str) -> Result<Vec<String>> {
        let (this, pref) = (self.clone(), pref.to_owned());
        self.slab
            .read(move |txn| {
                let mut out = Vec::new();
                for row in txn.scan(this.db, this.scan(&pref)?)? {
                    out.push(this.name(row?.0)?);
                }
                Ok::<_, Error>(out)
            })
            .await
    }

    /// The values of the names starting with `pref`.
    pub async fn values(&self, pref: &str) -> Result<Vec<Value>> {
        Ok(self
            .items(pref)
            .await?
            .into_iter()
            .map(|(_, val)| val)
            .collect())
    }
}

/// A dict cached in memory and mirrored to a database under a byte prefix (the reference's
/// `SlabDict`; one live instance per prefix is assumed, as there).
#[derive(Clone, Debug)]
pub struct SlabDict {
    slab: Slab,
    db: Db,
    prefix: Vec<u8>,
    info: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl SlabDict {
    /// Load the dict stored in `db` under `prefix`.
    pub async fn open(slab: &Slab, db: Db, prefix: &[u8]) -> Result<SlabDict> {
        let pref = prefix.to_vec();
        let info = slab
            .read(move |txn| {
                let mut info = BTreeMap::new();
                let scan = if pref.is_empty() {
                    Scan::full()
                } else {
                    Scan::prefix(&pref)
                };
                for row in txn.scan(db, scan)? {
                    let (key, val) = row?;
                    let name = String::from_utf8_lossy(&key[pref.len()..]).into_owned();
                    info.insert(name, unpack(val)?);
                }
                Ok::<_, Error>(info)
            })
            .await?;
        Ok(SlabDict {
            slab: slab.clone(),
            db,
            prefix: prefix.to_vec(),
            info: Arc::new(Mutex::new(info)),
        })
    }

    fn info(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.info
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key(&self, name: &str) -> Vec<u8> {
        let mut key = self.prefix.clone();
        key.extend_from_slice(name.as_bytes());
        key
    }

    /// The cached value of `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.info().get(name).cloned()
    }

    /// The names.
    pub fn keys(&self) -> Vec<String> {
        self.info().keys().cloned().collect()
    }

    /// `(name, value)` pairs.
    pub fn items(&self) -> Vec<(String, Value)> {
        self.info()
            .iter()
            .map(|(name, val)| (name.clone(), val.clone()))
            .collect()
    }

    /// Set `name` in the transaction and the cache.
    pub fn set_in(&self, txn: &mut Txn<'_>, name: &str, valu: Value) -> Result<Value> {
        txn.put(self.db, &self.key(name), &pack(&valu))?;
        self.info().insert(name.to_owned(), valu.clone());
        Ok(valu)
    }

    /// Remove `name` in the transaction and the cache.
    pub fn pop_in(&self, txn: &mut Txn<'_>, name: &str) -> Result<Option<Value>> {
        txn.pop(self.db, &self.key(name))?;
        Ok(self.info().remove(name))
    }

    /// Add `valu` to the integer `name` (0 if missing); returns the new value.
    pub fn inc_in(&self, txn: &mut Txn<'_>, name: &str, valu: i64) -> Result<i64> {
        let cur = self.get(name).and_then(|val| val.as_i64()).unwrap_or(0);
        let new = cur.saturating_add(valu);
        self.set_in(txn, name, Value::from(new))?;
        Ok(new)
    }

    /// Set `name`; returns `valu`.
    pub async fn set(&self, name: &str, valu: Value) -> Result<Value> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| this.set_in(txn, &name, valu))
            .await
    }

    /// Remove `name`; returns its value.
    pub async fn pop(&self, name: &str) -> Result<Option<Value>> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab.write(move |txn| this.pop_in(txn, &name)).await
    }

    /// Add to an integer; returns the new value.
    pub async fn inc(&self, name: &str, valu: i64) -> Result<i64> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| this.inc_in(txn, &name, valu))
            .await
    }
}
