//! [`MultiQueue`]: durable named queues in one slab (the reference's `MultiQueue`, used by
//! Cortex queues).

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use tokio::sync::watch;

use crate::abrv::NameAbrv;
use crate::codec::{int64en, int64un, pack, unpack};
use crate::error::{Error, Result};
use crate::hot::HotKeyVal;
use crate::kv::SlabDict;
use crate::scan::Scan;
use crate::slab::Slab;
use crate::txn::{Db, DbOptions, Txn};

/// Rows fetched per job by [`MultiQueue::gets`].
const GETS_BATCH: usize = 1024;

/// The status of one queue, as the reference's `status()` dict.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStatus {
    /// The queue's name.
    pub name: String,
    /// The info given at [`MultiQueue::add`].
    pub meta: Value,
    /// Items in the queue.
    pub size: Option<i64>,
    /// The next offset.
    pub offs: Option<i64>,
}

/// Durable named queues: databases `{name}:abrv:*`, `{name}:qdata`, `{name}:sizes`,
/// `{name}:meta`, `{name}:offs`, and the hot key/value `reqid`. Rows are keyed by the queue's
/// 8-byte abbreviation and the 8-byte big-endian offset.
#[derive(Clone)]
pub struct MultiQueue {
    slab: Slab,
    abrv: NameAbrv,
    qdata: Db,
    sizes: SlabDict,
    queues: SlabDict,
    offsets: SlabDict,
    reqids: HotKeyVal,
    /// Bumped on every change that can wake a waiting reader.
    wake: std::sync::Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for MultiQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiQueue").finish_non_exhaustive()
    }
}

fn no_queue(name: &str) -> Error {
    Error::NoSuchName(format!("No queue named {name}."))
}

fn as_i64(val: Option<Value>) -> i64 {
    val.and_then(|val| val.as_i64()).unwrap_or(0)
}

impl MultiQueue {
    /// Open (creating) the queue set `name`.
    pub async fn open(slab: &Slab, name: &str) -> Result<MultiQueue> {
        let abrv = NameAbrv::open(slab, &format!("{name}:abrv")).await?;
        let qdata = slab
            .initdb(&format!("{name}:qdata"), DbOptions::default())
            .await?;
        let sizes_db = slab
            .initdb(&format!("{name}:sizes"), DbOptions::default())
            .await?;
        let meta_db = slab
            .initdb(&format!("{name}:meta"), DbOptions::default())
            .await?;
        let offs_db = slab
            .initdb(&format!("{name}:offs"), DbOptions::default())
            .await?;
        let wake = slab.shared_state(&format!("mq:{name}"), || watch::channel(0u64).0)?;
        Ok(MultiQueue {
            slab: slab.clone(),
            abrv,
            qdata,
            sizes: SlabDict::open(slab, sizes_db, b"").await?,
            queues: SlabDict::open(slab, meta_db, b"").await?,
            offsets: SlabDict::open(slab, offs_db, b"").await?,
            reqids: HotKeyVal::open(slab, "reqid").await?,
            wake,
        })
    }

    fn wake(&self) {
        self.wake.send_modify(|count| *count += 1);
    }

    /// The status of every queue.
    pub fn list(&self) -> Vec<QueueStatus> {
        self.queues
            .keys()
            .iter()
            .filter_map(|name| self.status(name).ok())
            .collect()
    }

    /// The status of `name`, or [`Error::NoSuchName`].
    pub fn status(&self, name: &str) -> Result<QueueStatus> {
        let meta = self
            .queues
            .get(name)
            .ok_or_else(|| Error::NoSuchName(format!("No queue named {name}")))?;
        Ok(QueueStatus {
            name: name.to_owned(),
            meta,
            size: self.sizes.get(name).and_then(|val| val.as_i64()),
            offs: self.offsets.get(name).and_then(|val| val.as_i64()),
        })
    }

    /// True if the queue exists.
    pub fn exists(&self, name: &str) -> bool {
        self.queues.get(name).is_some()
    }

    /// Items in the queue.
    pub fn size(&self, name: &str) -> Option<i64> {
        self.sizes.get(name).and_then(|val| val.as_i64())
    }

    /// The queue's next offset.
    pub fn offset(&self, name: &str) -> Option<i64> {
        self.offsets.get(name).and_then(|val| val.as_i64())
    }

    /// Create a queue; [`Error::DupName`] if it exists.
    pub async fn add(&self, name: &str, info: Value) -> Result<()> {
        if self.exists(name) {
            return Err(Error::DupName(format!(
                "A queue already exists with the name {name}."
            )));
        }
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| {
                this.abrv.set_byts_to_abrv_in(txn, name.as_bytes())?;
                this.queues.set_in(txn, &name, info)?;
                this.sizes.set_in(txn, &name, Value::from(0))?;
                this.offsets.set_in(txn, &name, Value::from(0))?;
                Ok::<_, Error>(())
            })
            .await
    }

    /// Remove a queue and its items; [`Error::NoSuchName`] if missing.
    pub async fn rem(&self, name: &str) -> Result<()> {
        if !self.exists(name) {
            return Err(no_queue(name));
        }
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| {
                this.cull_in(txn, &name, u64::MAX)?;
                this.queues.pop_in(txn, &name)?;
                this.offsets.pop_in(txn, &name)?;
                Ok::<_, Error>(())
            })
            .await?;
        self.wake();
        Ok(())
    }

    fn prefix(&self, txn: &Txn<'_>, name: &str) -> Result<[u8; 8]> {
        self.abrv.byts_to_abrv_in(txn, name.as_bytes())
    }

    fn row_key(abrv: &[u8; 8], offs: u64) -> [u8; 16] {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(abrv);
        key[8..].copy_from_slice(&int64en(offs));
        key
    }

    /// Append `items`; returns the offset of the first. With a `reqid` equal to the last one
    /// used for this queue, nothing is written and the current offset is returned (an
    /// idempotent retry).
    pub async fn puts(&self, name: &str, items: Vec<Value>, reqid: Option<Value>) -> Result<u64> {
        if !self.exists(name) {
            return Err(no_queue(name));
        }
        let start = u64::try_from(as_i64(self.offsets.get(name))).unwrap_or(0);
        if let Some(reqid) = &reqid
            && self.reqids.get(name).as_ref() == Some(reqid)
        {
            return Ok(start);
        }
        self.reqids.set(name, reqid.unwrap_or(Value::Nil));
        let (this, name) = (self.clone(), name.to_owned());
        let start = self
            .slab
            .write(move |txn| {
                let abrv = this.prefix(txn, &name)?;
                let start = u64::try_from(as_i64(this.offsets.get(&name))).unwrap_or(0);
                let mut offs = start;
                for item in &items {
                    txn.put(this.qdata, &Self::row_key(&abrv, offs), &pack(item))?;
                    offs += 1;
                }
                let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
                this.sizes.inc_in(txn, &name, count)?;
                this.offsets.set_in(txn, &name, Value::from(offs))?;
                Ok::<_, Error>(start)
            })
            .await?;
        self.wake();
        Ok(start)
    }

    /// Append one item (see [`MultiQueue::puts`]).
    pub async fn put(&self, name: &str, item: Value, reqid: Option<Value>) -> Result<u64> {
        self.puts(name, vec![item], reqid).await
    }

    /// Stream `(offset, item)` from `offs`: at most `size` items; with `cull`, items before
    /// `offs` are deleted first; with `wait`, keep waiting for new items (the stream ends if
    /// the queue is removed).
    pub fn gets(
        &self,
        name: &str,
        offs: u64,
        size: Option<usize>,
        cull: bool,
        wait: bool,
    ) -> BoxStream<'static, Result<(u64, Value)>> {
        struct Gets {
            mq: MultiQueue,
            name: String,
            offs: u64,
            left: Option<usize>,
            buffer: std::collections::VecDeque<(u64, Value)>,
            wait: bool,
            first: bool,
            cull: bool,
            done: bool,
        }
        let state = Gets {
            mq: self.clone(),
            name: name.to_owned(),
            offs,
            left: size,
            buffer: Default::default(),
            wait,
            first: true,
            cull,
            done: false,
        };
        stream::unfold(state, |mut st| async move {
            loop {
                if st.left == Some(0) || st.done && st.buffer.is_empty() {
                    return None;
                }
                if let Some(item) = st.buffer.pop_front() {
                    st.left = st.left.map(|left| left - 1);
                    return Some((Ok(item), st));
                }
                if st.first {
                    st.first = false;
                    if !st.mq.exists(&st.name) {
                        st.done = true;
                        return Some((Err(no_queue(&st.name)), st));
                    }
                    if st.cull
                        && st.offs > 0
                        && let Err(err) = st.mq.cull(&st.name, st.offs - 1).await
                    {
                        st.done = true;
                        return Some((Err(err), st));
                    }
                }
                let mut woken = st.mq.wake.subscribe();
                let (mq, name, offs) = (st.mq.clone(), st.name.clone(), st.offs);
                let limit = st.left.unwrap_or(GETS_BATCH).min(GETS_BATCH);
                let rows = st
                    .mq
                    .slab
                    .read(move |txn| mq.rows_in(txn, &name, offs, limit))
                    .await;
                match rows {
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
                        if !st.wait || !st.mq.exists(&st.name) || woken.changed().await.is_err() {
                            return None;
                        }
                    }
                }
            }
        })
        .boxed()
    }

    fn rows_in(
        &self,
        txn: &Txn<'_>,
        name: &str,
        offs: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Value)>> {
        let abrv = match self.prefix(txn, name) {
            Err(Error::NoSuchAbrv) => return Err(no_queue(name)),
            other => other?,
        };
        let mut out = Vec::new();
        for row in txn.scan(
            self.qdata,
            Scan::prefix(&abrv).start_at(&Self::row_key(&abrv, offs), None),
        )? {
            let (key, val) = row?;
            out.push((int64un(&key[8..])?, unpack(val)?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The first `(offset, item)` at or after `offs` (items before it are culled when `cull`).
    pub async fn get(
        &self,
        name: &str,
        offs: u64,
        wait: bool,
        cull: bool,
    ) -> Result<Option<(u64, Value)>> {
        self.gets(name, offs, Some(1), cull, wait)
            .next()
            .await
            .transpose()
    }

    /// Remove and return the item at `offs`.
    pub async fn pop(&self, name: &str, offs: u64) -> Result<Option<(u64, Value)>> {
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| {
                let abrv = this.prefix(txn, &name)?;
                let Some(old) = txn.pop(this.qdata, &Self::row_key(&abrv, offs))? else {
                    return Ok(None);
                };
                this.sizes.inc_in(txn, &name, -1)?;
                Ok::<_, Error>(Some((offs, unpack(&old)?)))
            })
            .await
    }

    fn delete_range_in(&self, txn: &mut Txn<'_>, name: &str, min: u64, max: u64) -> Result<u64> {
        let abrv = self.prefix(txn, name)?;
        let mut keys = Vec::new();
        let scan = Scan::range(&Self::row_key(&abrv, min), Some(&Self::row_key(&abrv, max)));
        for row in txn.scan(self.qdata, scan)? {
            keys.push(row?.0.to_vec());
        }
        for key in &keys {
            txn.delete(self.qdata, key, None)?;
        }
        let count = i64::try_from(keys.len()).unwrap_or(i64::MAX);
        if count > 0 {
            self.sizes.inc_in(txn, name, -count)?;
        }
        Ok(keys.len() as u64)
    }

    fn cull_in(&self, txn: &mut Txn<'_>, name: &str, offs: u64) -> Result<u64> {
        self.delete_range_in(txn, name, 0, offs)
    }

    /// Remove the items up to and including `offs`.
    pub async fn cull(&self, name: &str, offs: u64) -> Result<u64> {
        if !self.exists(name) {
            return Err(no_queue(name));
        }
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| this.cull_in(txn, &name, offs))
            .await
    }

    /// Remove the items from `min` to `max` inclusive.
    pub async fn dele(&self, name: &str, min: u64, max: u64) -> Result<u64> {
        if !self.exists(name) {
            return Err(no_queue(name));
        }
        if max < min {
            return Ok(0);
        }
        let (this, name) = (self.clone(), name.to_owned());
        self.slab
            .write(move |txn| this.delete_range_in(txn, &name, min, max))
            .await
    }

    /// Overwrite items from `offs` with `items`, extending the queue past its end.
    pub async fn sets(&self, name: &str, offs: u64, items: Vec<Value>) -> Result<()> {
        if !self.exists(name) {
            return Err(no_queue(name));
        }
        let (this, name) = (self.clone(), name.to_owned());
        let wake = self
            .slab
            .write(move |txn| {
                let abrv = this.prefix(txn, &name)?;
                let mut wake = false;
                for (offs, item) in (offs..).zip(items.iter()) {
                    let key = Self::row_key(&abrv, offs);
                    let next = u64::try_from(as_i64(this.offsets.get(&name))).unwrap_or(0);
                    let existed = txn.has(this.qdata, &key)?;
                    txn.put(this.qdata, &key, &pack(item))?;
                    if offs >= next {
                        this.offsets.set_in(txn, &name, Value::from(offs + 1))?;
                        wake = true;
                    }
                    if !existed {
                        this.sizes.inc_in(txn, &name, 1)?;
                    }
                }
                Ok::<_, Error>(wake)
            })
            .await?;
        if wake {
            self.wake();
        }
        Ok(())
    }
}
