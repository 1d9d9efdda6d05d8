//! [`NameAbrv`]: arbitrary bytes ↔ 8-byte sequential abbreviations (the reference's
//! `SlabAbrv`), and [`Hist`]: items indexed by time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmpv::Value;

use crate::codec::{int64en, int64un, pack, unpack};
use crate::error::{Error, Result};
use crate::scan::Scan;
use crate::slab::{ScanStream, Slab};
use crate::txn::{Db, DbOptions, Txn};

struct AbrvState {
    next: u64,
    /// Memo of lookups in both directions (abbreviations are never reassigned).
    to_abrv: HashMap<Vec<u8>, [u8; 8]>,
    to_byts: HashMap<[u8; 8], Vec<u8>>,
}

/// Maps byte strings to 8-byte ids allocated sequentially, in databases `{name}:byts2abrv` and
/// `{name}:abrv2byts`.
#[derive(Clone)]
pub struct NameAbrv {
    slab: Slab,
    byts2abrv: Db,
    abrv2byts: Db,
    state: Arc<Mutex<AbrvState>>,
}

impl std::fmt::Debug for NameAbrv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameAbrv").finish_non_exhaustive()
    }
}

impl NameAbrv {
    /// Open (creating) the abbreviation table `name`.
    pub async fn open(slab: &Slab, name: &str) -> Result<NameAbrv> {
        let byts2abrv = slab
            .initdb(&format!("{name}:byts2abrv"), DbOptions::default())
            .await?;
        let abrv2byts = slab
            .initdb(&format!("{name}:abrv2byts"), DbOptions::default())
            .await?;
        let next = slab
            .read(move |txn| match txn.last_key(abrv2byts)? {
                Some(key) => Ok::<_, Error>(int64un(key)?.saturating_add(1)),
                None => Ok(0),
            })
            .await?;
        let state = slab.shared_state(&format!("abrv:{name}"), || {
            Mutex::new(AbrvState {
                next,
                to_abrv: HashMap::new(),
                to_byts: HashMap::new(),
            })
        })?;
        Ok(NameAbrv {
            slab: slab.clone(),
            byts2abrv,
            abrv2byts,
            state,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, AbrvState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The abbreviation of `byts`, or [`Error::NoSuchAbrv`].
    pub fn byts_to_abrv_in(&self, txn: &Txn<'_>, byts: &[u8]) -> Result<[u8; 8]> {
        if let Some(abrv) = self.state().to_abrv.get(byts) {
            return Ok(*abrv);
        }
        let found = txn.get(self.byts2abrv, byts)?.ok_or(Error::NoSuchAbrv)?;
        let abrv: [u8; 8] = found
            .try_into()
            .map_err(|_| Error::BadData("abbreviation is not 8 bytes".into()))?;
        self.state().to_abrv.insert(byts.to_vec(), abrv);
        Ok(abrv)
    }

    /// The bytes of `abrv`, or [`Error::NoSuchAbrv`].
    pub fn abrv_to_byts_in(&self, txn: &Txn<'_>, abrv: &[u8]) -> Result<Vec<u8>> {
        let key: [u8; 8] = abrv.try_into().map_err(|_| Error::NoSuchAbrv)?;
        if let Some(byts) = self.state().to_byts.get(&key) {
            return Ok(byts.clone());
        }
        let byts = txn
            .get(self.abrv2byts, abrv)?
            .ok_or(Error::NoSuchAbrv)?
            .to_vec();
        self.state().to_byts.insert(key, byts.clone());
        Ok(byts)
    }

    /// The abbreviation of `byts`, allocating the next one if new.
    pub fn set_byts_to_abrv_in(&self, txn: &mut Txn<'_>, byts: &[u8]) -> Result<[u8; 8]> {
        match self.byts_to_abrv_in(txn, byts) {
            Err(Error::NoSuchAbrv) => {}
            other => return other,
        }
        let abrv = int64en(self.state().next);
        txn.put(self.byts2abrv, byts, &abrv)?;
        txn.put(self.abrv2byts, &abrv, byts)?;
        let mut state = self.state();
        state.next += 1;
        state.to_abrv.insert(byts.to_vec(), abrv);
        state.to_byts.insert(abrv, byts.to_vec());
        Ok(abrv)
    }

    /// [`NameAbrv::byts_to_abrv_in`] as one job.
    pub async fn byts_to_abrv(&self, byts: &[u8]) -> Result<[u8; 8]> {
        let (this, byts) = (self.clone(), byts.to_vec());
        self.slab
            .read(move |txn| this.byts_to_abrv_in(txn, &byts))
            .await
    }

    /// [`NameAbrv::abrv_to_byts_in`] as one job.
    pub async fn abrv_to_byts(&self, abrv: &[u8]) -> Result<Vec<u8>> {
        let (this, abrv) = (self.clone(), abrv.to_vec());
        self.slab
            .read(move |txn| this.abrv_to_byts_in(txn, &abrv))
            .await
    }

    /// [`NameAbrv::set_byts_to_abrv_in`] as one job.
    pub async fn set_byts_to_abrv(&self, byts: &[u8]) -> Result<[u8; 8]> {
        let (this, byts) = (self.clone(), byts.to_vec());
        self.slab
            .write(move |txn| this.set_byts_to_abrv_in(txn, &byts))
            .await
    }

    /// Every stored byte string, in order.
    pub fn keys(&self) -> ScanStream<Vec<u8>> {
        self.slab.scan_keys(self.byts2abrv, Scan::full())
    }
}

/// Items indexed by time: a dupsort database keyed by 8-byte big-endian epoch millis with
/// msgpack values (the reference's `Hist`; items of one millisecond come back in msgpack byte
/// order).
#[derive(Clone, Debug)]
pub struct Hist {
    slab: Slab,
    db: Db,
}

impl Hist {
    /// Open (creating) the history `name`.
    pub async fn open(slab: &Slab, name: &str) -> Result<Hist> {
        let db = slab.initdb(name, DbOptions::dupsort()).await?;
        Ok(Hist {
            slab: slab.clone(),
            db,
        })
    }

    /// Add `item` at `tick` (epoch millis; now if `None`).
    pub fn add_in(&self, txn: &mut Txn<'_>, item: &Value, tick: Option<i64>) -> Result<()> {
        let tick = tick.unwrap_or_else(synapse_base::now_ms);
        txn.put(self.db, &tick.to_be_bytes(), &pack(item))?;
        Ok(())
    }

    /// [`Hist::add_in`] as one job.
    pub async fn add(&self, item: Value, tick: Option<i64>) -> Result<()> {
        let this = self.clone();
        self.slab
            .write(move |txn| this.add_in(txn, &item, tick))
            .await
    }

    /// `(tick, item)` for ticks `>= tick` and `<= tock` (inclusive).
    pub fn carve(&self, tick: i64, tock: Option<i64>) -> ScanStream<(i64, Value)> {
        let max = tock.map(i64::to_be_bytes);
        self.slab.scan_map(
            self.db,
            Scan::range(&tick.to_be_bytes(), max.as_ref().map(|max| &max[..])),
            |key, val| {
                let tick: [u8; 8] = key
                    .try_into()
                    .map_err(|_| Error::BadData("hist tick is not 8 bytes".into()))?;
                Ok((i64::from_be_bytes(tick), unpack(val)?))
            },
        )
    }
}
