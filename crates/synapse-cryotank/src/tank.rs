//! [`Tank`]: one append-only log of records with dense offsets and a metrics row per batch.
//!
//! # Storage
//!
//! A tank is a directory holding one slab, `tank.lmdb`, with the records (an [`ItemLog`]: one
//! row per record in the reference's `items` database for tanks the reference made, one row
//! per run of records in `chunks` for tanks we make) and `metrics`: key = 8-byte big-endian
//! offset, one row per chunk of at most 1000 records written by a `puts`: `{indx, size, count,
//! time, took, orig}`.
//!
//! # Durability
//!
//! A `puts` returns only after the slab commit that holds its records (group commit: every
//! writer waiting at that moment shares one commit). Its records and metrics rows are written
//! in one slab job, so a crash keeps all of them or none. Offsets are taken from the last key
//! stored, inside that job, so they stay dense whatever failed before.
//!
//! Readers see committed records only (read-only LMDB snapshots on the blocking pool), so an
//! offset a reader has seen is never reused after a crash.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_slab::codec::int64en;
use synapse_slab::{Db, DbOptions, DbStat, PutOptions, Slab, SlabOptions, Txn};
use synapse_telepath::{RawValue, codec};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::log::ItemLog;
use crate::record::{Items, Packed};

/// Records per metrics row (the reference's `puts` chunk size).
pub const PUTS_CHUNK: usize = 1000;

/// Rows read per snapshot when streaming.
const READ_BATCH_ROWS: usize = 1024;
/// Bytes read per snapshot when streaming.
const READ_BATCH_BYTES: usize = 4 << 20;

/// Per-tank slab options (the reference's tank `conf`, passed to its `Slab` as keyword
/// arguments). Unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TankConf {
    /// `map_size`: the initial map size in bytes.
    pub map_size: Option<u64>,
    /// `maxsize`: the largest the map may grow to.
    pub max_size: Option<u64>,
    /// `growsize`: a fixed growth increment.
    pub grow_size: Option<u64>,
    /// `readahead`: let the OS read ahead.
    pub readahead: Option<bool>,
    /// `max_replay_log`: pending writes that force a commit.
    pub max_replay_log: Option<u64>,
}

impl TankConf {
    /// Parse a `conf` argument: `None` or a map of the keys above.
    pub fn from_value(valu: &Value) -> Result<TankConf> {
        let items = match valu {
            Value::Nil => return Ok(TankConf::default()),
            Value::Map(items) => items,
            other => {
                return Err(Error::BadArg(format!(
                    "tank conf must be a dict, not {}",
                    crate::record::type_name(other)
                )));
            }
        };
        let mut conf = TankConf::default();
        for (key, valu) in items {
            let Some(key) = key.as_str() else {
                return Err(Error::BadArg("tank conf keys must be strings".into()));
            };
            let size = || match valu.as_u64() {
                Some(size) if size > 0 => Ok(size),
                _ => Err(Error::BadArg(format!(
                    "tank conf {key} must be a positive integer"
                ))),
            };
            match key {
                "map_size" => conf.map_size = Some(size()?),
                "maxsize" => conf.max_size = Some(size()?),
                "growsize" => conf.grow_size = Some(size()?),
                "max_replay_log" => conf.max_replay_log = Some(size()?),
                "readahead" => match valu {
                    Value::Boolean(on) => conf.readahead = Some(*on),
                    _ => {
                        return Err(Error::BadArg(
                            "tank conf readahead must be a boolean".into(),
                        ));
                    }
                },
                // The reference always opens tanks with map_async.
                "map_async" if valu.as_bool() == Some(true) => {}
                other => {
                    return Err(Error::BadArg(format!(
                        "unsupported tank conf option: {other}"
                    )));
                }
            }
        }
        if let (Some(max), Some(map)) = (conf.max_size, conf.map_size)
            && map > max
        {
            return Err(Error::BadArg(format!(
                "tank conf map_size {map} is larger than maxsize {max}"
            )));
        }
        Ok(conf)
    }

    /// The slab options of a tank with this conf.
    pub fn slab_options(&self) -> SlabOptions {
        let mut opts = SlabOptions {
            map_async: true,
            ..SlabOptions::default()
        };
        if let Some(size) = self.map_size {
            opts.map_size = size;
        }
        opts.max_size = self.max_size;
        opts.grow_size = self.grow_size;
        if let Some(on) = self.readahead {
            opts.readahead = on;
        }
        if let Some(count) = self.max_replay_log {
            opts.max_replay_log = usize::try_from(count).unwrap_or(usize::MAX);
        }
        opts
    }
}

/// The next offsets of a tank's two logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    items: u64,
    metrics: u64,
}

/// One metrics row: the reference's `SlabSeqn.save` summary of a `puts` chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// The next offset after the chunk.
    pub indx: u64,
    /// Total msgpack bytes of the chunk's records.
    pub size: u64,
    /// The number of records.
    pub count: u64,
    /// When the chunk was saved (epoch milliseconds).
    pub time: i64,
    /// How long saving it took (milliseconds).
    pub took: u64,
    /// The offset of the chunk's first record.
    pub orig: u64,
}

impl Metrics {
    /// The row as the reference stores it (a map with keys in the reference's order).
    pub fn to_value(&self) -> Value {
        Value::Map(vec![
            (Value::from("indx"), Value::from(self.indx)),
            (Value::from("size"), Value::from(self.size)),
            (Value::from("count"), Value::from(self.count)),
            (Value::from("time"), Value::from(self.time)),
            (Value::from("took"), Value::from(self.took)),
            (Value::from("orig"), Value::from(self.orig)),
        ])
    }
}

/// What `list()` reports about a tank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TankInfo {
    /// The tank iden.
    pub iden: String,
    /// The next record offset.
    pub indx: u64,
    /// The number of metrics rows.
    pub metrics: u64,
    /// LMDB statistics of the `items` database.
    pub stat: DbStat,
}

impl TankInfo {
    /// The reference's info dict: `{iden, indx, metrics, stat: {psize, depth, branch_pages,
    /// leaf_pages, overflow_pages, entries}}`.
    pub fn to_value(&self) -> Value {
        let stat = &self.stat;
        Value::Map(vec![
            (Value::from("iden"), Value::from(self.iden.as_str())),
            (Value::from("indx"), Value::from(self.indx)),
            (Value::from("metrics"), Value::from(self.metrics)),
            (
                Value::from("stat"),
                Value::Map(vec![
                    (Value::from("psize"), Value::from(stat.psize)),
                    (Value::from("depth"), Value::from(stat.depth)),
                    (
                        Value::from("branch_pages"),
                        Value::from(stat.branch_pages as u64),
                    ),
                    (
                        Value::from("leaf_pages"),
                        Value::from(stat.leaf_pages as u64),
                    ),
                    (
                        Value::from("overflow_pages"),
                        Value::from(stat.overflow_pages as u64),
                    ),
                    (Value::from("entries"), Value::from(stat.entries as u64)),
                ]),
            ),
        ])
    }
}

/// How to read a tank with [`Tank::slice`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SliceOpts {
    /// The most records to return (`None`: no limit).
    pub size: Option<u64>,
    /// Once caught up, keep following new records.
    pub wait: bool,
    /// With `wait`, end when no new record arrives for this long (`None`: never).
    pub timeout: Option<Duration>,
}

/// An open tank. Cheap to clone.
#[derive(Clone)]
pub struct Tank {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    iden: String,
    dirn: PathBuf,
    slab: Slab,
    items: ItemLog,
    metrics: Db,
    max_record: usize,
    /// The committed next offsets; readers wait on it.
    committed: watch::Sender<Marks>,
    /// Cancelled when the tank closes.
    fini: CancellationToken,
}

impl std::fmt::Debug for Tank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tank")
            .field("name", &self.inner.name)
            .field("iden", &self.inner.iden)
            .field("indx", &self.index())
            .finish()
    }
}

impl Tank {
    /// Open (creating) the tank stored in directory `dirn`.
    pub async fn open(name: &str, iden: &str, dirn: &Path, conf: &TankConf) -> Result<Tank> {
        tokio::fs::create_dir_all(dirn)
            .await
            .map_err(|err| Error::io("cannot create tank directory", dirn, err))?;
        let opts = conf.slab_options();
        let max_value = opts.max_value_size;
        let slab = Slab::open(dirn.join("tank.lmdb"), opts).await?;
        match Self::open_dbs(&slab).await {
            Ok((items, metrics, marks)) => Ok(Tank {
                inner: Arc::new(Inner {
                    name: name.to_string(),
                    iden: iden.to_string(),
                    dirn: dirn.to_path_buf(),
                    slab,
                    items,
                    metrics,
                    max_record: items.max_record(max_value),
                    committed: watch::channel(marks).0,
                    fini: CancellationToken::new(),
                }),
            }),
            Err(err) => {
                slab.fini().await;
                Err(err)
            }
        }
    }

    async fn open_dbs(slab: &Slab) -> Result<(ItemLog, Db, Marks)> {
        let items = ItemLog::open(slab).await?;
        let metrics = slab.initdb("metrics", DbOptions::default()).await?;
        // Commit the new databases so that snapshot readers can open them.
        slab.commit().await?;
        let marks = slab
            .read(move |txn| {
                Ok::<_, Error>(Marks {
                    items: items.next_offset(txn)?,
                    metrics: ItemLog::rows(metrics).next_offset(txn)?,
                })
            })
            .await?;
        Ok((items, metrics, marks))
    }

    /// The tank's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The tank's iden (also the iden of its auth gate).
    pub fn iden(&self) -> &str {
        &self.inner.iden
    }

    /// The tank's directory.
    pub fn dirn(&self) -> &Path {
        &self.inner.dirn
    }

    /// The next record offset (of committed records).
    pub fn index(&self) -> u64 {
        self.inner.committed.borrow().items
    }

    /// The number of metrics rows (committed).
    pub fn metrics_index(&self) -> u64 {
        self.inner.committed.borrow().metrics
    }

    /// True once the tank is closed.
    pub fn is_fini(&self) -> bool {
        self.inner.fini.is_cancelled()
    }

    fn check_open(&self) -> Result<()> {
        if self.is_fini() {
            return Err(Error::IsFini(self.inner.name.clone()));
        }
        Ok(())
    }

    /// Append records; returns how many were added (the reference's `puts`). Returns once
    /// they are committed. Every record is checked first: if one cannot be stored, nothing is.
    pub async fn puts(&self, items: Vec<Value>) -> Result<u64> {
        self.puts_items(Items::Values(items)).await
    }

    /// [`Tank::puts`] of records given as a msgpack array (e.g. the raw argument of a
    /// telepath call): records in the reference packer's form are stored as they are,
    /// without being decoded. A value that is not an array is refused.
    pub async fn puts_raw(&self, items: RawValue) -> Result<u64> {
        if items.array_header().is_none() {
            return Err(Error::BadArg("puts() items must be a list".into()));
        }
        self.puts_items(Items::Raw(items)).await
    }

    pub(crate) async fn puts_items(&self, items: Items) -> Result<u64> {
        self.check_open()?;
        let max = self.inner.max_record;
        if items.weight() > 4 * PUTS_CHUNK {
            // Big batches are packed (and freed) off the async runtime.
            let packed = tokio::task::spawn_blocking(move || items.pack(max).map(|(p, _)| p))
                .await
                .map_err(|_| Error::Slab(synapse_slab::Error::Panicked))??;
            return self.puts_packed(packed).await;
        }
        let (packed, values) = items.pack(max)?;
        // Free the decoded records while the slab thread writes: `join` polls the write
        // first, which hands it to the slab thread.
        let (res, ()) = futures::join!(self.puts_packed(packed), async move { drop(values) });
        res
    }

    async fn puts_packed(&self, packed: Packed) -> Result<u64> {
        let count = packed.len() as u64;
        let (items, metrics) = (self.inner.items, self.inner.metrics);
        let span = tracing::debug_span!("puts", tank = %self.inner.name, count);
        let marks = self
            .inner
            .slab
            .write_commit(move |txn| write_chunks(txn, items, metrics, &packed))
            .instrument(span)
            .await?;
        self.inner.committed.send_if_modified(|have| {
            let next = Marks {
                items: have.items.max(marks.items),
                metrics: have.metrics.max(marks.metrics),
            };
            let changed = next != *have;
            *have = next;
            changed
        });
        Ok(count)
    }

    /// At most `max` committed records from `offs`, decoded.
    async fn read_batch(&self, offs: u64, max: usize) -> Result<Vec<(u64, Value)>> {
        self.check_open()?;
        let items = self.inner.items;
        self.inner
            .slab
            .snapshot(move |txn| items.read(txn, offs, max, READ_BATCH_BYTES, decode_row))
            .await
            .map_err(|err| match err {
                // closed between the check and the read: the same error either way
                Error::Slab(synapse_slab::Error::IsFini) => Error::IsFini(self.inner.name.clone()),
                err => err,
            })
    }

    /// Records from `offs` as `(offset, record)`: at most `size`, and with `wait` following new
    /// records until `timeout` passes without one (the reference's `slice`).
    pub fn slice(&self, offs: u64, opts: SliceOpts) -> BoxStream<'static, Result<(u64, Value)>> {
        struct State {
            tank: Tank,
            /// Where to read next; `None` after a record at offset 2**64-1.
            offs: Option<u64>,
            left: Option<u64>,
            opts: SliceOpts,
            buffer: std::vec::IntoIter<(u64, Value)>,
            done: bool,
        }
        let state = State {
            tank: self.clone(),
            offs: Some(offs),
            left: opts.size,
            opts,
            buffer: Vec::new().into_iter(),
            done: false,
        };
        stream::unfold(state, |mut st| async move {
            loop {
                if st.done || st.left == Some(0) {
                    return None;
                }
                if let Some(row) = st.buffer.next() {
                    if let Some(left) = st.left.as_mut() {
                        *left -= 1;
                    }
                    return Some((Ok(row), st));
                }
                let offs = st.offs?;
                let want = st.left.map_or(READ_BATCH_ROWS, |left| {
                    left.min(READ_BATCH_ROWS as u64) as usize
                });
                match st.tank.read_batch(offs, want).await {
                    Ok(rows) if !rows.is_empty() => {
                        st.offs = rows.last().and_then(|(last, _)| last.checked_add(1));
                        st.buffer = rows.into_iter();
                    }
                    Ok(_) => {
                        if !st.opts.wait {
                            return None;
                        }
                        match st.tank.wait_for(offs, st.opts.timeout).await {
                            Ok(true) => {}
                            Ok(false) => return None,
                            Err(err) => {
                                st.done = true;
                                return Some((Err(err), st));
                            }
                        }
                    }
                    Err(err) => {
                        st.done = true;
                        return Some((Err(err), st));
                    }
                }
            }
        })
        .boxed()
    }

    /// Wait until a record at `offs` or later is committed (true) or `timeout` passes (false).
    async fn wait_for(&self, offs: u64, timeout: Option<Duration>) -> Result<bool> {
        let mut marks = self.inner.committed.subscribe();
        let fini = self.inner.fini.clone();
        let wait = async {
            tokio::select! {
                res = marks.wait_for(|marks| marks.items > offs) => Ok(res.is_ok()),
                () = fini.cancelled() => Err(Error::IsFini(self.inner.name.clone())),
            }
        };
        match timeout {
            None => wait.await,
            Some(limit) if limit.is_zero() => Ok(false),
            Some(limit) => tokio::time::timeout(limit, wait).await.unwrap_or(Ok(false)),
        }
    }

    /// Records from `offs` as `(offset, packed msgpack)`, at most `size` (the reference's
    /// `rows`).
    pub fn rows(&self, offs: u64, size: Option<u64>) -> BoxStream<'static, Result<(u64, Vec<u8>)>> {
        let items = self.inner.items;
        self.batches(offs, size, move |tank, offs, max| async move {
            tank.check_open()?;
            tank.inner
                .slab
                .snapshot(move |txn| {
                    items.read(
                        txn,
                        offs,
                        max,
                        READ_BATCH_BYTES,
                        |_, byts| Ok(byts.to_vec()),
                    )
                })
                .await
        })
    }

    /// Metrics rows from `offs` as `(offset, row)`, at most `size` (the reference's
    /// `metrics`).
    pub fn metrics(
        &self,
        offs: u64,
        size: Option<u64>,
    ) -> BoxStream<'static, Result<(u64, Value)>> {
        let db = self.inner.metrics;
        self.batches(offs, size, move |tank, offs, max| async move {
            tank.check_open()?;
            tank.inner
                .slab
                .snapshot(move |txn| {
                    ItemLog::rows(db).read(txn, offs, max, READ_BATCH_BYTES, decode_row)
                })
                .await
        })
    }

    /// A stream of rows read in batches by `read(tank, offs, max)`, until a batch is empty or
    /// `size` rows were returned.
    fn batches<T, F, Fut>(
        &self,
        offs: u64,
        size: Option<u64>,
        read: F,
    ) -> BoxStream<'static, Result<(u64, T)>>
    where
        T: Send + 'static,
        F: Fn(Tank, u64, usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Vec<(u64, T)>>> + Send + 'static,
    {
        let tank = self.clone();
        let read = Arc::new(read);
        stream::unfold((Some(offs), size), move |(offs, left)| {
            let tank = tank.clone();
            let read = read.clone();
            async move {
                let offs = offs?;
                if left == Some(0) {
                    return None;
                }
                let want = left.map_or(READ_BATCH_ROWS, |left| {
                    left.min(READ_BATCH_ROWS as u64) as usize
                });
                match read(tank, offs, want).await {
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => {
                        // A row at offset 2**64-1 ends the log.
                        let next = rows.last().and_then(|(last, _)| last.checked_add(1));
                        let left = left.map(|left| left - rows.len() as u64);
                        let rows: Vec<Result<(u64, T)>> = rows.into_iter().map(Ok).collect();
                        Some((stream::iter(rows), (next, left)))
                    }
                    Err(err) => Some((stream::iter(vec![Err(err)]), (None, Some(0)))),
                }
            }
        })
        .flatten()
        .boxed()
    }

    /// The last committed `(offset, record)`, if any (the reference's `last`).
    pub async fn last(&self) -> Result<Option<(u64, Value)>> {
        self.check_open()?;
        let items = self.inner.items;
        self.inner
            .slab
            .snapshot(move |txn| items.last(txn, |offs, byts| Ok((offs, decode_row(offs, byts)?))))
            .await
    }

    /// What `list()` reports about the tank (committed data).
    pub async fn info(&self) -> Result<TankInfo> {
        self.check_open()?;
        let (items, metrics) = (self.inner.items, self.inner.metrics);
        let iden = self.inner.iden.clone();
        self.inner
            .slab
            .snapshot(move |txn| {
                Ok::<_, Error>(TankInfo {
                    iden,
                    indx: items.next_offset(txn)?,
                    metrics: ItemLog::rows(metrics).next_offset(txn)?,
                    stat: items.stat(txn)?,
                })
            })
            .await
    }

    /// Close the tank: readers waiting for records end with an `IsFini` error, and the slab
    /// commits and closes.
    pub async fn fini(&self) {
        self.inner.fini.cancel();
        self.inner.slab.fini().await;
    }
}

/// Write `packed` as chunks of [`PUTS_CHUNK`] records, each followed by its metrics row.
/// An empty `packed` still writes one (empty) metrics row, as the reference does.
fn write_chunks(txn: &mut Txn<'_>, items: ItemLog, metrics: Db, packed: &Packed) -> Result<Marks> {
    let mut next = items.next_offset(txn)?;
    let mut mnext = ItemLog::rows(metrics).next_offset(txn)?;
    let total = packed.len();
    let mut start = 0;
    loop {
        let end = (start + PUTS_CHUNK).min(total);
        let began = Instant::now();
        let time = synapse_base::now_ms();
        let orig = next;
        let count = (end - start) as u64;
        if u64::MAX - next < count {
            return Err(Error::BadArg(
                "the tank is full (offset 2**64-1 reached)".into(),
            ));
        }
        let (buf, spans) = packed.parts(start, end);
        items.append(txn, next, buf, spans)?;
        next += count;
        let row = Metrics {
            indx: next,
            size: packed.size(start, end),
            count,
            time,
            took: u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
            orig,
        };
        let byts = codec::encode(&row.to_value()).map_err(|err| Error::Corrupt {
            offs: mnext,
            mesg: err.to_string(),
        })?;
        if !txn.put_with(metrics, &int64en(mnext), &byts, PutOptions::append())? {
            return Err(Error::Corrupt {
                offs: mnext,
                mesg: "metrics offset is not past the end of the log".into(),
            });
        }
        mnext += 1;
        start = end;
        if start >= total {
            break;
        }
    }
    Ok(Marks {
        items: next,
        metrics: mnext,
    })
}

fn decode_row(offs: u64, byts: &[u8]) -> Result<Value> {
    codec::decode(byts).map_err(|err| Error::Corrupt {
        offs,
        mesg: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Layout;
    use futures::TryStreamExt;

    async fn tank(dir: &Path) -> Tank {
        Tank::open("test", "0123", &dir.join("tank"), &TankConf::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn puts_slice_last_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let tank = tank(dir.path()).await;
        assert_eq!(tank.last().await.unwrap(), None);
        let items: Vec<Value> = (0..2500).map(Value::from).collect();
        assert_eq!(tank.puts(items).await.unwrap(), 2500);
        assert_eq!(tank.index(), 2500);
        assert_eq!(tank.metrics_index(), 3);
        assert_eq!(tank.last().await.unwrap(), Some((2499, Value::from(2499))));

        let rows: Vec<_> = tank
            .slice(
                10,
                SliceOpts {
                    size: Some(3),
                    ..Default::default()
                },
            )
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![(10, 10.into()), (11, 11.into()), (12, 12.into())]
        );
        let all: Vec<_> = tank
            .slice(0, SliceOpts::default())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(all.len(), 2500);
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, (o, v))| *o == i as u64 && *v == Value::from(i))
        );

        let metrics: Vec<_> = tank.metrics(0, None).try_collect().await.unwrap();
        assert_eq!(metrics.len(), 3);
        let row = &metrics[2].1;
        let get = |k: &str| {
            row.as_map()
                .unwrap()
                .iter()
                .find(|(key, _)| key.as_str() == Some(k))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("indx"), Value::from(2500));
        assert_eq!(get("count"), Value::from(500));
        assert_eq!(get("orig"), Value::from(2000));
        assert_eq!(
            tank.metrics(1, Some(1))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len(),
            1
        );

        let rows: Vec<_> = tank.rows(2498, Some(10)).try_collect().await.unwrap();
        assert_eq!(
            rows,
            vec![
                (2498, vec![0xcd, 0x09, 0xc2]),
                (2499, vec![0xcd, 0x09, 0xc3])
            ]
        );

        // An empty puts still writes a metrics row, as the reference.
        assert_eq!(tank.puts(vec![]).await.unwrap(), 0);
        assert_eq!(tank.metrics_index(), 4);

        let info = tank.info().await.unwrap();
        assert_eq!(
            (info.indx, info.metrics, info.stat.entries),
            (2500, 4, 2500)
        );
        tank.fini().await;
        assert!(matches!(
            tank.puts(vec![1.into()]).await,
            Err(Error::IsFini(_))
        ));
    }

    #[tokio::test]
    async fn bad_records_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tank = tank(dir.path()).await;
        tank.puts(vec![Value::from(1)]).await.unwrap();
        let bad = vec![Value::from(2), Value::Ext(9, vec![0])];
        assert!(matches!(
            tank.puts(bad).await,
            Err(Error::NotMsgpackSafe { indx: 1, .. })
        ));
        assert_eq!(tank.index(), 1);
        assert_eq!(tank.puts(vec![Value::from(3)]).await.unwrap(), 1);
        let all: Vec<_> = tank
            .slice(0, SliceOpts::default())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(all, vec![(0, 1.into()), (1, 3.into())]);
        tank.fini().await;
    }

    #[tokio::test]
    async fn slice_waits_for_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let tank = tank(dir.path()).await;
        tank.puts(vec![Value::from("a")]).await.unwrap();
        let opts = SliceOpts {
            size: Some(3),
            wait: true,
            timeout: None,
        };
        let reader = tokio::spawn(tank.slice(0, opts).try_collect::<Vec<_>>());
        tank.puts(vec![Value::from("b")]).await.unwrap();
        tank.puts(vec![Value::from("c"), Value::from("d")])
            .await
            .unwrap();
        let rows = reader.await.unwrap().unwrap();
        assert_eq!(
            rows,
            vec![(0, "a".into()), (1, "b".into()), (2, "c".into())]
        );

        // A timeout ends the stream quietly.
        let opts = SliceOpts {
            size: None,
            wait: true,
            timeout: Some(Duration::from_millis(50)),
        };
        let rows: Vec<_> = tank.slice(3, opts).try_collect().await.unwrap();
        assert_eq!(rows, vec![(3, "d".into())]);

        // Closing the tank ends a waiting reader with an error.
        let opts = SliceOpts {
            size: None,
            wait: true,
            timeout: None,
        };
        let reader = tokio::spawn(tank.slice(4, opts).try_collect::<Vec<_>>());
        tokio::task::yield_now().await;
        tank.fini().await;
        assert!(matches!(reader.await.unwrap(), Err(Error::IsFini(_))));
    }

    #[tokio::test]
    async fn reopen_keeps_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let tank1 = tank(dir.path()).await;
        tank1
            .puts((0..10).map(Value::from).collect())
            .await
            .unwrap();
        tank1.fini().await;
        let tank2 = tank(dir.path()).await;
        assert_eq!((tank2.index(), tank2.metrics_index()), (10, 1));
        tank2.puts(vec![Value::from(10)]).await.unwrap();
        assert_eq!(tank2.last().await.unwrap(), Some((10, 10.into())));
        tank2.fini().await;
    }

    /// A tank directory as the reference makes it: an `items` database, one row per record.
    async fn reference_tank(dirn: &Path) -> Tank {
        std::fs::create_dir_all(dirn).unwrap();
        let slab = Slab::open(dirn.join("tank.lmdb"), TankConf::default().slab_options())
            .await
            .unwrap();
        let items = slab.initdb("items", DbOptions::default()).await.unwrap();
        let first = codec::encode(&Value::from("made by the reference")).unwrap();
        slab.write_commit(move |txn| txn.put(items, &int64en(0), &first))
            .await
            .unwrap();
        slab.fini().await;
        let tank = Tank::open("test", "0123", dirn, &TankConf::default())
            .await
            .unwrap();
        assert_eq!(tank.inner.items.layout(), Layout::Rows);
        tank
    }

    /// Records of many sizes (some past a chunk's byte limit), in batches of many sizes.
    fn records() -> Vec<Vec<Value>> {
        let mut next = 1;
        [1, 999, 1001, 3, 2500, 2]
            .into_iter()
            .map(|count| {
                (0..count)
                    .map(|_| {
                        next += 1;
                        match next % 700 {
                            0 => Value::Binary(vec![7; crate::log::CHUNK_BYTES / 3]),
                            1 => Value::Array(vec![next.into(), "x".repeat(next % 300).into()]),
                            _ => Value::from(next),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[tokio::test]
    async fn both_layouts_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let batches = records();
        for rows_layout in [true, false] {
            let dirn = dir.path().join(format!("tank-{rows_layout}"));
            let mut tank = if rows_layout {
                reference_tank(&dirn).await
            } else {
                let tank = Tank::open("test", "0123", &dirn, &TankConf::default())
                    .await
                    .unwrap();
                assert_eq!(tank.inner.items.layout(), Layout::Chunks);
                tank.puts(vec![Value::from("made by the reference")])
                    .await
                    .unwrap();
                tank
            };
            let mut want = vec![Value::from("made by the reference")];
            for (indx, batch) in batches.iter().enumerate() {
                if indx == 3 {
                    // the offsets and the layout survive a restart
                    tank.fini().await;
                    tank = Tank::open("test", "0123", &dirn, &TankConf::default())
                        .await
                        .unwrap();
                    assert_eq!(tank.inner.items.layout() == Layout::Rows, rows_layout);
                    assert_eq!(tank.index(), want.len() as u64);
                }
                tank.puts(batch.clone()).await.unwrap();
                want.extend(batch.iter().cloned());
            }
            let count = want.len() as u64;
            assert_eq!(tank.index(), count);
            let info = tank.info().await.unwrap();
            assert_eq!((info.indx, info.stat.entries), (count, want.len()));
            let last = tank.last().await.unwrap();
            assert_eq!(last, Some((count - 1, want[want.len() - 1].clone())));

            for offs in [
                0,
                1,
                2,
                999,
                1000,
                1001,
                1002,
                2001,
                2004,
                2005,
                3000,
                count - 1,
                count,
            ] {
                for size in [1, 2, 1000, 5000] {
                    let opts = SliceOpts {
                        size: Some(size),
                        ..Default::default()
                    };
                    let got: Vec<_> = tank.slice(offs, opts).try_collect().await.unwrap();
                    let end = (offs + size).min(count);
                    let expect: Vec<_> = (offs..end)
                        .map(|offs| (offs, want[offs as usize].clone()))
                        .collect();
                    assert_eq!(
                        got, expect,
                        "slice({offs}, {size}), rows layout {rows_layout}"
                    );
                }
                let got: Vec<_> = tank.rows(offs, Some(3)).try_collect().await.unwrap();
                let expect: Vec<_> = (offs..(offs + 3).min(count))
                    .map(|offs| (offs, codec::encode(&want[offs as usize]).unwrap()))
                    .collect();
                assert_eq!(got, expect, "rows({offs}, 3), rows layout {rows_layout}");
            }
            let all: Vec<_> = tank
                .slice(0, SliceOpts::default())
                .try_collect()
                .await
                .unwrap();
            assert_eq!(all.len(), want.len());
            tank.fini().await;
        }
    }

    #[tokio::test]
    async fn records_in_both_layouts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dirn = dir.path().join("tank");
        let tank = Tank::open("test", "0123", &dirn, &TankConf::default())
            .await
            .unwrap();
        tank.puts(vec![Value::from(1)]).await.unwrap();
        tank.fini().await;
        // An empty `items` database (the reference opening our directory makes one) is
        // ignored ...
        let slab = Slab::open(dirn.join("tank.lmdb"), TankConf::default().slab_options())
            .await
            .unwrap();
        slab.initdb("items", DbOptions::default()).await.unwrap();
        slab.commit().await.unwrap();
        slab.fini().await;
        let tank = Tank::open("test", "0123", &dirn, &TankConf::default())
            .await
            .unwrap();
        assert_eq!(tank.last().await.unwrap(), Some((0, 1.into())));
        tank.fini().await;
        // ... but records in it are not hidden.
        let slab = Slab::open(dirn.join("tank.lmdb"), TankConf::default().slab_options())
            .await
            .unwrap();
        let items = slab.initdb("items", DbOptions::default()).await.unwrap();
        slab.write_commit(move |txn| txn.put(items, &int64en(1), &[2]))
            .await
            .unwrap();
        slab.fini().await;
        let res = Tank::open("test", "0123", &dirn, &TankConf::default()).await;
        assert!(matches!(res, Err(Error::Corrupt { .. })), "{res:?}");
    }

    #[test]
    fn conf_parsing() {
        let conf = TankConf::from_value(&Value::Map(vec![
            ("map_size".into(), 100_000_000.into()),
            ("growsize".into(), 1_000_000.into()),
            ("readahead".into(), false.into()),
        ]))
        .unwrap();
        assert_eq!(conf.map_size, Some(100_000_000));
        assert_eq!(conf.slab_options().grow_size, Some(1_000_000));
        assert!(!conf.slab_options().readahead);
        assert_eq!(
            TankConf::from_value(&Value::Nil).unwrap(),
            TankConf::default()
        );
        for bad in [
            Value::from(5),
            Value::Map(vec![("nope".into(), 1.into())]),
            Value::Map(vec![("map_size".into(), (-1).into())]),
            Value::Map(vec![("readahead".into(), 1.into())]),
            Value::Map(vec![
                ("map_size".into(), 10.into()),
                ("maxsize".into(), 5.into()),
            ]),
        ] {
            assert!(
                matches!(TankConf::from_value(&bad), Err(Error::BadArg(_))),
                "{bad}"
            );
        }
    }
}
