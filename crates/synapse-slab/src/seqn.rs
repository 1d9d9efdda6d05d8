//! [`Seqn`]: an append-only log of msgpack items keyed by 8-byte big-endian offsets (the
//! reference's `SlabSeqn`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use tokio::sync::watch;

use crate::codec::{int64en, int64un, pack, unpack};
use crate::error::{Error, Result};
use crate::scan::Scan;
use crate::slab::{ScanStream, Slab};
use crate::txn::{Db, DbOptions, PutOptions, Txn};

/// Rows fetched per job when following a log.
const FOLLOW_BATCH: usize = 1024;

/// The result of [`Seqn::save`], as the reference's dict (CryoTank stores it as its metrics
/// row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveInfo {
    /// The next offset after the batch (`indx`).
    pub indx: u64,
    /// Total msgpack bytes of the items (`size`).
    pub size: u64,
    /// Number of items (`count`).
    pub count: u64,
    /// When the save started, epoch millis (`time`).
    pub time: i64,
    /// How long it took, millis (`took`).
    pub took: u64,
    /// The offset of the first item (`orig`).
    pub orig: u64,
}

#[derive(Debug)]
struct Counters {
    /// The next offset to append at.
    next: u64,
    /// Rows stored.
    size: u64,
}

struct State {
    counters: Mutex<Counters>,
    /// The next offset, for waiters.
    next_tx: watch::Sender<u64>,
}

/// An append-optimized log of msgpack items in one database of a slab.
///
/// Handles are cheap to clone; every handle on the same database shares its counters (the next
/// offset and the row count). Methods ending in `_in` work inside a closure run by
/// [`Slab::write`] / [`Slab::read`]; the others are async and run one job each.
#[derive(Clone)]
pub struct Seqn {
    slab: Slab,
    db: Db,
    state: Arc<State>,
}

impl std::fmt::Debug for Seqn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seqn")
            .field("next", &self.index())
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Seqn {
    /// Open (creating) the log stored in database `name`.
    pub async fn open(slab: &Slab, name: &str) -> Result<Seqn> {
        let db = slab.initdb(name, DbOptions::default()).await?;
        let (next, size) = slab
            .read(move |txn| Ok::<_, Error>((next_index(txn, db)?, txn.stat(db)?.entries)))
            .await?;
        let state = slab.shared_state(&format!("seqn:{name}"), || State {
            counters: Mutex::new(Counters {
                next,
                size: size as u64,
            }),
            next_tx: watch::channel(next).0,
        })?;
        Ok(Seqn {
            slab: slab.clone(),
            db,
            state,
        })
    }

    /// The database holding the log.
    pub fn db(&self) -> Db {
        self.db
    }

    /// The slab holding the log.
    pub fn slab(&self) -> &Slab {
        &self.slab
    }

    /// The next offset an append uses (the reference's `index()`).
    pub fn index(&self) -> u64 {
        lock(&self.state.counters).next
    }

    /// The number of rows stored.
    pub fn size(&self) -> u64 {
        lock(&self.state.counters).size
    }

    fn advanced(&self, next: u64) {
        self.state.next_tx.send_if_modified(|have| {
            if *have < next {
                *have = next;
                true
            } else {
                false
            }
        });
    }

    // ----- in a transaction -----

    /// Append `item` (at `indx` if given; see [`Seqn::add_raw_in`]). Returns its offset.
    pub fn add_in(&self, txn: &mut Txn<'_>, item: &Value, indx: Option<u64>) -> Result<u64> {
        self.add_raw_in(txn, &pack(item), indx)
    }

    /// Append already packed bytes. With `indx` at or past the next offset, writes there and
    /// moves the next offset past it (gaps allowed); below it, replaces in place without waking
    /// waiters, as the reference.
    pub fn add_raw_in(&self, txn: &mut Txn<'_>, packed: &[u8], indx: Option<u64>) -> Result<u64> {
        let next = self.index();
        let offs = indx.unwrap_or(next);
        if offs >= next {
            if !txn.put_with(self.db, &int64en(offs), packed, PutOptions::append())? {
                return Err(Error::BadData(format!(
                    "seqn offset {offs} is not past the end"
                )));
            }
            {
                let mut counters = lock(&self.state.counters);
                counters.next = offs + 1;
                counters.size += 1;
            }
            self.advanced(offs + 1);
            return Ok(offs);
        }
        let old = txn.replace(self.db, &int64en(offs), packed)?;
        if old.is_none() {
            lock(&self.state.counters).size += 1;
        }
        Ok(offs)
    }

    /// Append many items in order; returns the reference's save summary.
    pub fn save_in(&self, txn: &mut Txn<'_>, items: &[Value]) -> Result<SaveInfo> {
        let started = Instant::now();
        let time = synapse_base::now_ms();
        let orig = self.index();
        let mut offs = orig;
        let mut size = 0u64;
        for item in items {
            let packed = pack(item);
            size += packed.len() as u64;
            if !txn.put_with(self.db, &int64en(offs), &packed, PutOptions::append())? {
                return Err(Error::BadData(format!(
                    "seqn offset {offs} is not past the end"
                )));
            }
            offs += 1;
            // Keep the counters right even if a later item fails.
            let mut counters = lock(&self.state.counters);
            counters.next = offs;
            counters.size += 1;
        }
        self.advanced(offs);
        Ok(SaveInfo {
            indx: offs,
            size,
            count: items.len() as u64,
            time,
            took: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            orig,
        })
    }

    /// The item at `offs`.
    pub fn get_in(&self, txn: &Txn<'_>, offs: u64) -> Result<Option<Value>> {
        txn.get(self.db, &int64en(offs))?.map(unpack).transpose()
    }

    /// The packed bytes at `offs`.
    pub fn get_raw_in<'t>(&self, txn: &'t Txn<'_>, offs: u64) -> Result<Option<&'t [u8]>> {
        txn.get(self.db, &int64en(offs))
    }

    /// Items from `offs` onward (or, with `back`, from `offs` downward).
    pub fn iter_in<'t>(
        &self,
        txn: &'t Txn<'_>,
        offs: u64,
        back: bool,
    ) -> Result<impl Iterator<Item = Result<(u64, Value)>> + 't> {
        let scan = if back {
            Scan::range_back(Some(&int64en(offs)), None)
        } else {
            Scan::range(&int64en(offs), None)
        };
        Ok(txn
            .scan(self.db, scan)?
            .map(|row| row.and_then(|(key, val)| Ok((int64un(key)?, unpack(val)?)))))
    }

    /// Remove the item at `offs` and return it.
    pub fn pop_in(&self, txn: &mut Txn<'_>, offs: u64) -> Result<Option<(u64, Value)>> {
        let Some(old) = txn.pop(self.db, &int64en(offs))? else {
            return Ok(None);
        };
        let mut counters = lock(&self.state.counters);
        counters.size = counters.size.saturating_sub(1);
        drop(counters);
        Ok(Some((offs, unpack(&old)?)))
    }

    /// Remove the items at offsets `<= offs`.
    pub fn cull_in(&self, txn: &mut Txn<'_>, offs: u64) -> Result<u64> {
        let keys = collect_keys(txn, self.db, Scan::full(), |key| key <= &int64en(offs)[..])?;
        self.delete_keys(txn, &keys)
    }

    /// Remove the items at offsets `>= offs`; returns true if any existed. The next offset is
    /// recomputed from the new last item.
    pub fn trim_in(&self, txn: &mut Txn<'_>, offs: u64) -> Result<bool> {
        let keys = collect_keys(txn, self.db, Scan::range(&int64en(offs), None), |_| true)?;
        self.delete_keys(txn, &keys)?;
        if keys.is_empty() {
            return Ok(false);
        }
        let next = next_index(txn, self.db)?;
        lock(&self.state.counters).next = next;
        self.state.next_tx.send_replace(next);
        Ok(true)
    }

    fn delete_keys(&self, txn: &mut Txn<'_>, keys: &[Vec<u8>]) -> Result<u64> {
        let mut removed = 0;
        for key in keys {
            if txn.delete(self.db, key, None)? {
                removed += 1;
                let mut counters = lock(&self.state.counters);
                counters.size = counters.size.saturating_sub(1);
            }
        }
        Ok(removed)
    }

    // ----- async -----

    /// Append `item`; returns its offset.
    pub async fn add(&self, item: Value) -> Result<u64> {
        let this = self.clone();
        self.slab
            .write(move |txn| this.add_in(txn, &item, None))
            .await
    }

    /// Append (or replace) at `indx` (see [`Seqn::add_raw_in`]).
    pub async fn add_at(&self, item: Value, indx: u64) -> Result<u64> {
        let this = self.clone();
        self.slab
            .write(move |txn| this.add_in(txn, &item, Some(indx)))
            .await
    }

    /// Append and return the offset and the packed bytes (the reference's `addWithPackRetn`).
    pub async fn add_with_pack(&self, item: Value, indx: Option<u64>) -> Result<(u64, Vec<u8>)> {
        let this = self.clone();
        let packed = pack(&item);
        self.slab
            .write(move |txn| {
                let offs = this.add_raw_in(txn, &packed, indx)?;
                Ok::<_, Error>((offs, packed))
            })
            .await
    }

    /// Append many items (chunked so commits can happen in between); returns the summary of
    /// the whole save.
    pub async fn save(&self, items: Vec<Value>) -> Result<SaveInfo> {
        let started = Instant::now();
        let time = synapse_base::now_ms();
        let orig = self.index();
        let mut total = SaveInfo {
            indx: orig,
            size: 0,
            count: 0,
            time,
            took: 0,
            orig,
        };
        let chunk = self.slab.options().max_replay_log.max(1);
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let part: Vec<Value> = items.by_ref().take(chunk).collect();
            let this = self.clone();
            let info = self.slab.write(move |txn| this.save_in(txn, &part)).await?;
            total.indx = info.indx;
            total.size += info.size;
            total.count += info.count;
        }
        total.took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(total)
    }

    /// The item at `offs`.
    pub async fn get(&self, offs: u64) -> Result<Option<Value>> {
        let this = self.clone();
        self.slab.read(move |txn| this.get_in(txn, offs)).await
    }

    /// The first `(offset, item)`.
    pub async fn first(&self) -> Result<Option<(u64, Value)>> {
        let this = self.clone();
        self.slab
            .read(move |txn| this.iter_in(txn, 0, false)?.next().transpose())
            .await
    }

    /// The last `(offset, item)`.
    pub async fn last(&self) -> Result<Option<(u64, Value)>> {
        let db = self.db;
        self.slab
            .read(move |txn| match txn.last(db)? {
                Some((key, val)) => Ok(Some((int64un(key)?, unpack(val)?))),
                None => Ok(None),
            })
            .await
    }

    /// Stream `(offset, item)` from `offs` onward.
    pub fn iter(&self, offs: u64) -> ScanStream<(u64, Value)> {
        self.slab
            .scan_map(self.db, Scan::range(&int64en(offs), None), decode_row)
    }

    /// Stream `(offset, item)` from `offs` downward.
    pub fn iter_back(&self, offs: u64) -> ScanStream<(u64, Value)> {
        self.slab.scan_map(
            self.db,
            Scan::range_back(Some(&int64en(offs)), None),
            decode_row,
        )
    }

    /// Stream `(offset, packed bytes)` from `offs` onward.
    pub fn rows(&self, offs: u64) -> ScanStream<(u64, Vec<u8>)> {
        self.slab
            .scan_map(self.db, Scan::range(&int64en(offs), None), |key, val| {
                Ok((int64un(key)?, val.to_vec()))
            })
    }

    /// At most `size` existing rows from `offs` onward (rows, not offsets: gaps are skipped).
    pub async fn slice(&self, offs: u64, size: usize) -> Result<Vec<(u64, Value)>> {
        let this = self.clone();
        self.slab
            .read(move |txn| this.iter_in(txn, offs, false)?.take(size).collect())
            .await
    }

    /// At most `size` existing rows from `offs` downward.
    pub async fn slice_back(&self, offs: u64, size: usize) -> Result<Vec<(u64, Value)>> {
        let this = self.clone();
        self.slab
            .read(move |txn| this.iter_in(txn, offs, true)?.take(size).collect())
            .await
    }

    /// Remove and return the item at `offs`.
    pub async fn pop(&self, offs: u64) -> Result<Option<(u64, Value)>> {
        let this = self.clone();
        self.slab.write(move |txn| this.pop_in(txn, offs)).await
    }

    /// Remove the items at offsets `<= offs`; returns how many were removed.
    pub async fn cull(&self, offs: u64) -> Result<u64> {
        let this = self.clone();
        self.slab.write(move |txn| this.cull_in(txn, offs)).await
    }

    /// Remove the items at offsets `>= offs` (see [`Seqn::trim_in`]).
    pub async fn trim(&self, offs: u64) -> Result<bool> {
        let this = self.clone();
        self.slab.write(move |txn| this.trim_in(txn, offs)).await
    }

    /// Wait until an item at offset `>= offs` has been appended (true), or `timeout` passed
    /// (false).
    pub async fn wait_for_offset(&self, offs: u64, timeout: Option<Duration>) -> bool {
        let mut next = self.state.next_tx.subscribe();
        let wait = async move { next.wait_for(|next| offs < *next).await.is_ok() };
        match timeout {
            None => wait.await,
            Some(limit) => tokio::time::timeout(limit, wait).await.unwrap_or(false),
        }
    }

    /// Stream `(offset, item)` from `offs`; with `wait`, keep following new appends (the
    /// reference's `aiter`/`gets`). A `timeout` ends the stream normally when no new item
    /// arrives within it.
    pub fn follow(
        &self,
        offs: u64,
        wait: bool,
        timeout: Option<Duration>,
    ) -> BoxStream<'static, Result<(u64, Value)>> {
        struct Follow {
            seqn: Seqn,
            offs: u64,
            buffer: VecDeque<(u64, Value)>,
            wait: bool,
            timeout: Option<Duration>,
            done: bool,
        }
        let state = Follow {
            seqn: self.clone(),
            offs,
            buffer: VecDeque::new(),
            wait,
            timeout,
            done: false,
        };
        stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.buffer.pop_front() {
                    return Some((Ok(item), st));
                }
                if st.done {
                    return None;
                }
                let seqn = st.seqn.clone();
                let offs = st.offs;
                let batch = st
                    .seqn
                    .slab
                    .read(move |txn| {
                        seqn.iter_in(txn, offs, false)?
                            .take(FOLLOW_BATCH)
                            .collect::<Result<Vec<_>>>()
                    })
                    .await;
                match batch {
                    Err(err) => {
                        st.done = true;
                        return Some((Err(err), st));
                    }
                    Ok(rows) if !rows.is_empty() => {
                        if let Some((last, _)) = rows.last() {
                            st.offs = last + 1;
                        }
                        st.buffer.extend(rows);
                    }
                    Ok(_) => {
                        if !st.wait || !st.seqn.wait_for_offset(st.offs, st.timeout).await {
                            return None;
                        }
                    }
                }
            }
        })
        .boxed()
    }
}

fn decode_row(key: &[u8], val: &[u8]) -> Result<(u64, Value)> {
    Ok((int64un(key)?, unpack(val)?))
}

/// The next offset according to storage: last key + 1, or 0.
fn next_index(txn: &Txn<'_>, db: Db) -> Result<u64> {
    match txn.last_key(db)? {
        Some(key) => Ok(int64un(key)?.saturating_add(1)),
        None => Ok(0),
    }
}

fn collect_keys(
    txn: &Txn<'_>,
    db: Db,
    scan: Scan,
    keep_going: impl Fn(&[u8]) -> bool,
) -> Result<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    for row in txn.scan(db, scan)? {
        let (key, _) = row?;
        if !keep_going(key) {
            break;
        }
        keys.push(key.to_vec());
    }
    Ok(keys)
}
