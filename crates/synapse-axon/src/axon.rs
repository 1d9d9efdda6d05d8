//! [`Axon`]: blob storage by sha256, with the reference's metadata (`axon.lmdb`) and blob
//! bytes in files.
//!
//! # Layout
//!
//! ```text
//! DIRN/axon.lmdb   sizes (sha256 -> BE8 size), axonseqn (Seqn of (sha256, size)),
//!                  history (Hist of (sha256, size)), metrics (HotCount size:bytes, file:count)
//! DIRN/blobs/xx/<sha256 hex>   the bytes of each non-empty blob (xx: its first hex byte)
//! DIRN/tmp/        upload spools (removed at startup)
//! ```
//!
//! The metadata is the reference's, row for row. Blob bytes live in one file per blob
//! instead of 16 MiB rows of an LMDB environment: writing them costs one pass over the data
//! (spool, then rename), reading them never maps them into the process (`pread`), and both
//! keep the server's memory flat whatever the blob size. Reads still yield the reference's
//! 16 MiB chunks.
//!
//! # Durability
//!
//! A blob is visible once its `sizes` row is committed, and that row is written (in one
//! transaction with the sequence, history and metrics rows) only after the blob file is in
//! place; [`Axon::save`] returns after that commit. A crash at any other point leaves at most
//! an invisible spool or blob file, removed at the next start.

use std::collections::HashMap;
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_slab::{Db, DbOptions, Hist, HotCount, Seqn, Slab, SlabOptions};
use tokio::sync::OwnedMutexGuard;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::hash::{HashSet, Hasher, Lane, Sha256};
use crate::spool::SpoolFile;
use crate::upload::{INLINE_HASH, Upload};

/// The size of the chunks blobs are read back in (the reference's `CHUNK_SIZE`, 16 MiB).
pub const CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// Rows of the sequence read per job by [`Axon::hashes`].
const HASHES_BATCH: usize = 1000;
/// The read size of [`Axon::hashset`].
const HASHSET_READ: usize = 4 * 1024 * 1024;

/// How to open an [`Axon`].
#[derive(Debug, Clone, Default)]
pub struct AxonOptions {
    /// `max:bytes`: refuse new blobs once this many bytes are stored.
    pub max_bytes: Option<u64>,
    /// `max:count`: refuse new blobs once this many files are stored.
    pub max_count: Option<u64>,
}

/// The Axon's counters (`metrics()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Bytes stored.
    pub size_bytes: i64,
    /// Files stored.
    pub file_count: i64,
}

/// An add-log row: `(offset, (sha256, size))` from [`Axon::hashes`], or `(tick, ...)` from
/// [`Axon::history`].
pub type HashRow = (i64, (Sha256, u64));

/// A blob to store: its bytes in memory or in a spool file.
pub(crate) enum Blob {
    /// Bytes held in memory.
    Memory(Vec<u8>),
    /// A spool file (removed if not moved into place).
    File(SpoolFile),
}

struct Inner {
    blobdir: PathBuf,
    tmpdir: PathBuf,
    slab: Slab,
    sizes: Db,
    seqn: Seqn,
    hist: Hist,
    metrics: HotCount,
    locks: Mutex<HashMap<Sha256, Arc<tokio::sync::Mutex<()>>>>,
    opts: AxonOptions,
}

/// The blob store. Cheap to clone.
#[derive(Clone)]
pub struct Axon {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Axon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Axon")
            .field("slab", &self.inner.slab.path())
            .field("blobdir", &self.inner.blobdir)
            .finish_non_exhaustive()
    }
}

/// Holds the per-blob lock (the reference's `holdHashLock`); the map entry goes with the last
/// holder.
struct HashLock {
    inner: Arc<Inner>,
    sha256: Sha256,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for HashLock {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = lock(&self.inner.locks);
        if let Some(entry) = locks.get(&self.sha256)
            && Arc::strong_count(entry) == 1
        {
            locks.remove(&self.sha256);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn blocking<T, F>(func: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _enter = span.enter();
        func()
    })
    .await
    .map_err(|_| Error::IsFini)?
}

fn row_item(sha256: &Sha256, size: u64) -> Value {
    Value::Array(vec![Value::Binary(sha256.0.to_vec()), Value::from(size)])
}

fn parse_item(item: &Value) -> Option<(Sha256, u64)> {
    let Value::Array(parts) = item else {
        return None;
    };
    let sha256 = match parts.first()? {
        Value::Binary(byts) => Sha256::from_slice(byts)?,
        _ => return None,
    };
    Some((sha256, parts.get(1)?.as_u64()?))
}

fn size_of_row(byts: &[u8]) -> Result<u64> {
    let array: [u8; 8] = byts
        .try_into()
        .map_err(|_| Error::Inconsistent(format!("bad sizes row of {} bytes", byts.len())))?;
    Ok(u64::from_be_bytes(array))
}

impl Axon {
    /// Open (creating) the Axon storage in `dirn`.
    pub async fn open(dirn: &Path, opts: AxonOptions) -> Result<Axon> {
        let blobdir = dirn.join("blobs");
        let tmpdir = dirn.join("tmp");
        {
            let (blobdir, tmpdir) = (blobdir.clone(), tmpdir.clone());
            blocking(move || {
                std::fs::create_dir_all(&blobdir)
                    .map_err(|err| Error::io("cannot create", &blobdir, err))?;
                std::fs::create_dir_all(&tmpdir)
                    .map_err(|err| Error::io("cannot create", &tmpdir, err))?;
                clear_dir(&tmpdir)
            })
            .await?;
        }
        let slab = Slab::open(dirn.join("axon.lmdb"), SlabOptions::default()).await?;
        let sizes = slab.initdb("sizes", DbOptions::default()).await?;
        let seqn = Seqn::open(&slab, "axonseqn").await?;
        let hist = Hist::open(&slab, "history").await?;
        let metrics = HotCount::open(&slab, "metrics").await?;
        for name in ["size:bytes", "file:count"] {
            if !metrics.pack().contains_key(name) {
                metrics.set(name, 0);
            }
        }
        let axon = Axon {
            inner: Arc::new(Inner {
                blobdir,
                tmpdir,
                slab,
                sizes,
                seqn,
                hist,
                metrics,
                locks: Mutex::new(HashMap::new()),
                opts,
            }),
        };
        Ok(axon)
    }

    /// Remove blob files no `sizes` row names: left by a crash between placing a blob and
    /// committing it, or between committing a delete and removing the file. Returns how many
    /// were removed. Safe to run while the Axon is in use (each removal holds the blob's lock).
    pub async fn sweep_orphans(&self) -> Result<usize> {
        let blobdir = self.inner.blobdir.clone();
        let names = blocking(move || {
            let mut names = Vec::new();
            let fanout = match std::fs::read_dir(&blobdir) {
                Ok(entries) => entries,
                Err(err) => return Err(Error::io("cannot list", &blobdir, err)),
            };
            for dir in fanout.flatten() {
                let Ok(entries) = std::fs::read_dir(dir.path()) else {
                    continue;
                };
                for entry in entries.flatten() {
                    if let Some(sha256) = entry.file_name().to_str().and_then(Sha256::from_hex) {
                        names.push(sha256);
                    }
                }
            }
            Ok(names)
        })
        .await?;
        let mut removed = 0;
        for chunk in names.chunks(1000) {
            let keys = chunk.iter().map(|s| s.0.to_vec()).collect();
            let present = self.has_many(keys).await?;
            for (sha256, present) in chunk.iter().zip(present) {
                if present {
                    continue;
                }
                let _lock = self.hash_lock(*sha256).await;
                if self.has(sha256).await? {
                    continue;
                }
                let path = self.blob_path(sha256);
                let gone = blocking(move || match std::fs::remove_file(&path) {
                    Ok(()) => Ok(true),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(err) => Err(Error::io("cannot remove", &path, err)),
                })
                .await?;
                if gone {
                    tracing::info!(sha256 = %sha256, "removed an orphaned blob file");
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Commit and close the metadata storage.
    pub async fn fini(&self) {
        self.inner.slab.fini().await;
    }

    /// The directory of upload spools.
    pub(crate) fn tmpdir(&self) -> &Path {
        &self.inner.tmpdir
    }

    /// The file holding the bytes of a blob.
    pub fn blob_path(&self, sha256: &Sha256) -> PathBuf {
        let hex = sha256.hex();
        self.inner.blobdir.join(&hex[..2]).join(hex)
    }

    async fn hash_lock(&self, sha256: Sha256) -> HashLock {
        let mutex = lock(&self.inner.locks).entry(sha256).or_default().clone();
        let guard = mutex.lock_owned().await;
        HashLock {
            inner: self.inner.clone(),
            sha256,
            guard: Some(guard),
        }
    }

    /// True if the Axon has the blob.
    pub async fn has(&self, sha256: &Sha256) -> Result<bool> {
        Ok(self.inner.slab.has(self.inner.sizes, &sha256.0).await?)
    }

    /// The size of a blob, `None` if absent.
    pub async fn size(&self, sha256: &Sha256) -> Result<Option<u64>> {
        match self.inner.slab.get(self.inner.sizes, &sha256.0).await? {
            Some(byts) => Ok(Some(size_of_row(&byts)?)),
            None => Ok(None),
        }
    }

    /// The size of a blob, or `NoSuchFile`.
    pub async fn req_size(&self, sha256: &Sha256) -> Result<u64> {
        self.size(sha256).await?.ok_or_else(|| Error::NoSuchFile {
            sha256: sha256.hex(),
        })
    }

    /// For each item, whether the Axon has it (one storage job for the whole list).
    pub async fn has_many(&self, sha256s: Vec<Vec<u8>>) -> Result<Vec<bool>> {
        let sizes = self.inner.sizes;
        Ok(self
            .inner
            .slab
            .read(move |txn| {
                sha256s
                    .iter()
                    .map(|sha| {
                        if sha.is_empty() {
                            Ok(false)
                        } else {
                            txn.has(sizes, sha)
                        }
                    })
                    .collect::<synapse_slab::Result<Vec<bool>>>()
            })
            .await?)
    }

    /// The items of `sha256s` the Axon does not have, in order.
    pub async fn wants(&self, sha256s: Vec<Sha256>) -> Result<Vec<Sha256>> {
        let keys = sha256s.iter().map(|s| s.0.to_vec()).collect();
        let has = self.has_many(keys).await?;
        Ok(sha256s
            .into_iter()
            .zip(has)
            .filter_map(|(sha, has)| (!has).then_some(sha))
            .collect())
    }

    /// The counters.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            size_bytes: self.inner.metrics.get("size:bytes"),
            file_count: self.inner.metrics.get("file:count"),
        }
    }

    fn req_below_limit(&self) -> Result<()> {
        let metrics = self.metrics();
        self.req_below(
            i128::from(metrics.size_bytes),
            i128::from(metrics.file_count),
        )
    }

    /// `HitLimit` if an Axon holding `size_bytes` in `file_count` files is at a limit.
    fn req_below(&self, size_bytes: i128, file_count: i128) -> Result<()> {
        if let Some(max) = self.inner.opts.max_bytes
            && i128::from(max) <= size_bytes
        {
            return Err(Error::HitLimit(format!(
                "Axon is at size:bytes limit: {max}"
            )));
        }
        if let Some(max) = self.inner.opts.max_count
            && i128::from(max) <= file_count
        {
            return Err(Error::HitLimit(format!(
                "Axon is at file:count limit: {max}"
            )));
        }
        Ok(())
    }

    /// A new upload.
    pub fn upload(&self) -> Upload {
        Upload::new(self.clone(), false)
    }

    /// A new upload that also computes md5, sha1 and sha512 (the HTTP API's result).
    pub fn upload_hashset(&self) -> Upload {
        Upload::new(self.clone(), true)
    }

    /// Store `byts`: `(size, sha256)`.
    pub async fn put(&self, byts: Vec<u8>) -> Result<(u64, Sha256)> {
        let mut upload = self.upload();
        upload.write(byts).await?;
        upload.save().await
    }

    /// Store a blob whose sha256 and size are known (from an upload).
    pub(crate) async fn store(&self, sha256: Sha256, size: u64, blob: Blob) -> Result<()> {
        if self.has(&sha256).await? {
            return Ok(());
        }
        self.req_below_limit()?;
        let _lock = self.hash_lock(sha256).await;
        if self.has(&sha256).await? {
            return Ok(());
        }
        let span = tracing::debug_span!("save", sha256 = %sha256, size);
        self.store_locked(sha256, size, blob).instrument(span).await
    }

    async fn store_locked(&self, sha256: Sha256, size: u64, blob: Blob) -> Result<()> {
        tracing::debug!("Saving blob [{sha256}].");
        if size > 0 {
            let dest = self.blob_path(&sha256);
            let tmpdir = self.inner.tmpdir.clone();
            blocking(move || place_blob(blob, &dest, &tmpdir)).await?;
        }
        self.commit_rows(vec![(sha256, size)]).await
    }

    /// Commit the rows of blobs whose files are in place (one transaction, one commit).
    async fn commit_rows(&self, rows: Vec<(Sha256, u64)>) -> Result<()> {
        let inner = self.inner.clone();
        let tick = synapse_base::now_ms();
        self.inner
            .slab
            .write_commit(move |txn| {
                for (sha256, size) in rows {
                    if txn.has(inner.sizes, &sha256.0)? {
                        continue;
                    }
                    let item = row_item(&sha256, size);
                    inner.hist.add_in(txn, &item, Some(tick))?;
                    inner.seqn.add_in(txn, &item, None)?;
                    let delta = i64::try_from(size).unwrap_or(i64::MAX);
                    inner.metrics.inc("file:count", 1);
                    inner.metrics.inc("size:bytes", delta);
                    txn.put(inner.sizes, &sha256.0, &size.to_be_bytes())?;
                }
                Ok::<_, synapse_slab::Error>(())
            })
            .await?;
        Ok(())
    }

    /// Store several blobs held in memory: `(size, sha256)` of each, in order. What a `put` of
    /// each in turn would store, with one commit for all of them: they are hashed together on
    /// the blocking pool, their files placed, and their rows committed in one transaction. A
    /// blob already present, or given twice, is stored once. The Axon's limits apply as to a
    /// sequence of `put`s; on an error (a limit reached, a file that cannot be placed), the
    /// blobs before it are stored and the error is returned.
    pub async fn puts(&self, files: Vec<Vec<u8>>) -> Result<Vec<(u64, Sha256)>> {
        let total: usize = files.iter().map(Vec::len).sum();
        let hash_all = move || {
            files
                .into_iter()
                .map(|byts| (Sha256::of(&byts), byts))
                .collect::<Vec<_>>()
        };
        let hashed = if total < INLINE_HASH {
            hash_all()
        } else {
            blocking(move || Ok(hash_all())).await?
        };
        let out: Vec<(u64, Sha256)> = hashed
            .iter()
            .map(|(sha256, byts)| (byts.len() as u64, *sha256))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let todo: Vec<(Sha256, Vec<u8>)> = hashed
            .into_iter()
            .filter(|(sha256, _)| seen.insert(*sha256))
            .collect();
        let todo = self.absent(todo).await?;
        if todo.is_empty() {
            return Ok(out);
        }
        // Lock in one order (no two batches wait for each other), then look again.
        let mut order: Vec<Sha256> = todo.iter().map(|(sha256, _)| *sha256).collect();
        order.sort_unstable();
        let mut locks = Vec::with_capacity(order.len());
        for sha256 in order {
            locks.push(self.hash_lock(sha256).await);
        }
        let mut todo = self.absent(todo).await?;
        // The limits, checked before each blob as a sequence of `put`s would.
        let mut failed = None;
        let metrics = self.metrics();
        let (mut size_bytes, mut file_count) = (
            i128::from(metrics.size_bytes),
            i128::from(metrics.file_count),
        );
        for (at, (_, byts)) in todo.iter().enumerate() {
            if let Err(err) = self.req_below(size_bytes, file_count) {
                failed = Some(err);
                todo.truncate(at);
                break;
            }
            size_bytes += byts.len() as i128;
            file_count += 1;
        }
        let places: Vec<(Sha256, Vec<u8>, PathBuf)> = todo
            .into_iter()
            .map(|(sha256, byts)| {
                let dest = self.blob_path(&sha256);
                (sha256, byts, dest)
            })
            .collect();
        let tmpdir = self.inner.tmpdir.clone();
        let (placed, place_err) = blocking(move || {
            let mut placed = Vec::with_capacity(places.len());
            for (sha256, byts, dest) in places {
                let size = byts.len() as u64;
                if size > 0
                    && let Err(err) = place_blob(Blob::Memory(byts), &dest, &tmpdir)
                {
                    return Ok((placed, Some(err)));
                }
                tracing::debug!("Saving blob [{sha256}].");
                placed.push((sha256, size));
            }
            Ok((placed, None))
        })
        .await?;
        if !placed.is_empty() {
            self.commit_rows(placed).await?;
        }
        drop(locks);
        match place_err.or(failed) {
            Some(err) => Err(err),
            None => Ok(out),
        }
    }

    /// The blobs of `files` the Axon does not have.
    async fn absent(&self, files: Vec<(Sha256, Vec<u8>)>) -> Result<Vec<(Sha256, Vec<u8>)>> {
        let keys = files.iter().map(|(sha256, _)| sha256.0.to_vec()).collect();
        let has = self.has_many(keys).await?;
        Ok(files
            .into_iter()
            .zip(has)
            .filter_map(|(file, has)| (!has).then_some(file))
            .collect())
    }

    /// Remove a blob: true if it was there.
    pub async fn del(&self, sha256: &Sha256) -> Result<bool> {
        if !self.has(sha256).await? {
            return Ok(false);
        }
        let _lock = self.hash_lock(*sha256).await;
        let inner = self.inner.clone();
        let key = *sha256;
        let removed = self
            .inner
            .slab
            .write_commit(move |txn| {
                let Some(byts) = txn.pop(inner.sizes, &key.0)? else {
                    return Ok::<_, Error>(None);
                };
                let size = size_of_row(&byts)?;
                inner.metrics.inc("file:count", -1);
                inner
                    .metrics
                    .inc("size:bytes", -i64::try_from(size).unwrap_or(i64::MAX));
                Ok(Some(size))
            })
            .await?;
        let Some(size) = removed else {
            return Ok(false);
        };
        tracing::debug!(sha256 = %sha256, "Deleting blob [{sha256}].");
        if size > 0 {
            let path = self.blob_path(sha256);
            blocking(move || match std::fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io("cannot remove", &path, err))
                }
                _ => Ok(()),
            })
            .await?;
        }
        Ok(true)
    }

    /// Remove several blobs.
    pub async fn dels(&self, sha256s: &[Sha256]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(sha256s.len());
        for sha256 in sha256s {
            out.push(self.del(sha256).await?);
        }
        Ok(out)
    }

    /// Open a blob for reading: `(size, file)`; `NoSuchFile` if absent.
    async fn open_blob(&self, sha256: &Sha256) -> Result<(u64, Option<Arc<std::fs::File>>)> {
        let size = self.req_size(sha256).await?;
        if size == 0 {
            return Ok((0, None));
        }
        let path = self.blob_path(sha256);
        let hex = sha256.hex();
        let file = blocking(move || match std::fs::File::open(&path) {
            Ok(file) => Ok(file),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NoSuchFile { sha256: hex })
            }
            Err(err) => Err(Error::io("cannot open blob", &path, err)),
        })
        .await?;
        Ok((size, Some(Arc::new(file))))
    }

    /// The bytes of a blob, in the reference's chunks: 16 MiB pieces aligned on multiples of
    /// [`CHUNK_SIZE`]. With a range `(offs, size)` the pieces cover `[offs, offs + size)`
    /// (cut at the end of the blob); an `offs` at or past the end yields one empty piece.
    /// `NoSuchFile` if the blob is absent.
    pub async fn get(&self, sha256: &Sha256, range: Option<(u64, u64)>) -> Result<BlobReader> {
        self.read(sha256, range, CHUNK_SIZE).await
    }

    /// Like [`Axon::get`] with pieces of at most `piece` bytes (still never crossing a
    /// multiple of [`CHUNK_SIZE`]).
    pub async fn read(
        &self,
        sha256: &Sha256,
        range: Option<(u64, u64)>,
        piece: u64,
    ) -> Result<BlobReader> {
        let (fsize, file) = self.open_blob(sha256).await?;
        let (start, end) = match range {
            None => (0, fsize),
            Some((offs, _)) if offs >= fsize => return Ok(BlobReader::one_empty()),
            Some((offs, size)) => (offs, offs.saturating_add(size).min(fsize)),
        };
        let Some(file) = file else {
            return Ok(BlobReader::empty());
        };
        Ok(BlobReader::new(
            file,
            sha256.hex(),
            start,
            end,
            piece.max(1),
        ))
    }

    /// `(offset, (sha256, size))` of the add log from `offs`, for blobs still present. With
    /// `wait`, keep following new adds, ending after `timeout` without one.
    pub fn hashes(
        &self,
        offs: u64,
        wait: bool,
        timeout: Option<Duration>,
    ) -> BoxStream<'static, Result<HashRow>> {
        struct State {
            axon: Axon,
            offs: u64,
            buffer: std::collections::VecDeque<HashRow>,
            done: bool,
        }
        let state = State {
            axon: self.clone(),
            offs,
            buffer: Default::default(),
            done: false,
        };
        stream::unfold(state, move |mut st| async move {
            loop {
                if let Some(row) = st.buffer.pop_front() {
                    return Some((Ok(row), st));
                }
                if st.done {
                    return None;
                }
                let inner = st.axon.inner.clone();
                let from = st.offs;
                let batch = st
                    .axon
                    .inner
                    .slab
                    .read(move |txn| {
                        let mut rows = Vec::new();
                        let mut next = from;
                        for row in inner.seqn.iter_in(txn, from, false)?.take(HASHES_BATCH) {
                            let (indx, item) = row?;
                            next = indx + 1;
                            let Some((sha256, size)) = parse_item(&item) else {
                                continue;
                            };
                            if txn.has(inner.sizes, &sha256.0)? {
                                let indx = i64::try_from(indx).unwrap_or(i64::MAX);
                                rows.push((indx, (sha256, size)));
                            }
                        }
                        Ok::<_, synapse_slab::Error>((rows, next))
                    })
                    .await;
                match batch {
                    Err(err) => {
                        st.done = true;
                        return Some((Err(err.into()), st));
                    }
                    Ok((rows, next)) if next > st.offs => {
                        st.offs = next;
                        st.buffer.extend(rows);
                    }
                    Ok(_) => {
                        if !wait || !st.axon.inner.seqn.wait_for_offset(st.offs, timeout).await {
                            return None;
                        }
                    }
                }
            }
        })
        .boxed()
    }

    /// `(tick, (sha256, size))` of adds with `tick <= t <= tock`, present or not.
    pub fn history(&self, tick: i64, tock: Option<i64>) -> BoxStream<'static, Result<HashRow>> {
        self.inner
            .hist
            .carve(tick, tock)
            .filter_map(|row| async move {
                match row {
                    Err(err) => Some(Err(err.into())),
                    Ok((tick, item)) => parse_item(&item).map(|row| Ok((tick, row))),
                }
            })
            .boxed()
    }

    /// md5, sha1, sha256 and sha512 of a blob.
    pub async fn hashset(&self, sha256: &Sha256) -> Result<HashSet> {
        let (size, file) = self.open_blob(sha256).await?;
        tracing::debug!(sha256 = %sha256, "Getting blob [{sha256}].");
        let hex = sha256.hex();
        blocking(move || {
            let lanes = Hasher::new(true).into_lanes();
            let lanes = match file {
                Some(file) => hash_file_on_lanes(&file, size, &hex, lanes)?,
                None => lanes,
            };
            let hasher = Hasher::from_lanes(lanes)
                .ok_or_else(|| Error::Inconsistent("a hash lane failed".into()))?;
            let (_, set) = hasher.finish();
            set.ok_or_else(|| Error::Inconsistent("no hash set".into()))
        })
        .await
    }
}

fn read_at(file: &std::fs::File, buf: &mut [u8], offs: u64, hex: &str) -> Result<()> {
    file.read_exact_at(buf, offs).map_err(|err| {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Inconsistent(format!("the file of blob {hex} is shorter than its size"))
        } else {
            Error::Io {
                what: "cannot read blob",
                path: PathBuf::from(hex),
                source: err,
            }
        }
    })
}

/// `len` bytes at `offs`, read into a new buffer without zeroing it first (large reads).
fn read_piece(file: &std::fs::File, offs: u64, len: usize, hex: &str) -> Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let fail = |err: std::io::Error| Error::Io {
        what: "cannot read blob",
        path: PathBuf::from(hex),
        source: err,
    };
    let mut buf = Vec::with_capacity(len);
    let mut file = file;
    file.seek(std::io::SeekFrom::Start(offs)).map_err(fail)?;
    file.take(len as u64).read_to_end(&mut buf).map_err(fail)?;
    if buf.len() < len {
        return Err(Error::Inconsistent(format!(
            "the file of blob {hex} is shorter than its size"
        )));
    }
    Ok(buf)
}

/// The bytes of a blob as a stream of pieces ([`Axon::get`], [`Axon::read`]), read on the
/// blocking pool one piece ahead of the consumer (the next piece is read from disk while this
/// one is sent: a download holds at most two pieces).
pub struct BlobReader {
    file: Option<Arc<std::fs::File>>,
    hex: Arc<str>,
    pos: u64,
    end: u64,
    piece: u64,
    ahead: Option<tokio::task::JoinHandle<Result<Vec<u8>>>>,
    /// Yield one empty piece (a range starting at or past the end).
    one_empty: bool,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("sha256", &self.hex)
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl BlobReader {
    fn new(file: Arc<std::fs::File>, hex: String, start: u64, end: u64, piece: u64) -> Self {
        let mut reader = Self {
            file: Some(file),
            hex: hex.into(),
            pos: start,
            end,
            piece,
            ahead: None,
            one_empty: false,
        };
        reader.start_next();
        reader
    }

    fn empty() -> Self {
        Self {
            file: None,
            hex: "".into(),
            pos: 0,
            end: 0,
            piece: 1,
            ahead: None,
            one_empty: false,
        }
    }

    fn one_empty() -> Self {
        Self {
            one_empty: true,
            ..Self::empty()
        }
    }

    /// The end of the piece starting at the current position.
    fn piece_end(&self) -> u64 {
        let boundary = (self.pos / CHUNK_SIZE + 1).saturating_mul(CHUNK_SIZE);
        self.end
            .min(boundary)
            .min(self.pos.saturating_add(self.piece))
    }

    /// Start reading the next piece, if any.
    fn start_next(&mut self) {
        let Some(file) = &self.file else {
            return;
        };
        if self.pos >= self.end {
            return;
        }
        let stop = self.piece_end();
        let (file, hex, offs) = (file.clone(), self.hex.clone(), self.pos);
        let len = usize::try_from(stop - offs).unwrap_or(usize::MAX);
        self.pos = stop;
        let span = tracing::Span::current();
        self.ahead = Some(tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            read_piece(&file, offs, len, &hex)
        }));
    }
}

impl futures::Stream for BlobReader {
    type Item = Result<Vec<u8>>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.one_empty {
            self.one_empty = false;
            return Poll::Ready(Some(Ok(Vec::new())));
        }
        if self.ahead.is_none() {
            self.start_next();
        }
        let Some(job) = self.ahead.as_mut() else {
            return Poll::Ready(None);
        };
        let res = match std::pin::Pin::new(job).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(res) => res,
        };
        self.ahead = None;
        match res.map_err(|_| Error::IsFini).and_then(|res| res) {
            Ok(buf) => {
                self.start_next();
                Poll::Ready(Some(Ok(buf)))
            }
            Err(err) => {
                self.file = None;
                Poll::Ready(Some(Err(err)))
            }
        }
    }
}

/// Feed the first `size` bytes of `file` to every lane, each on a thread of its own: this
/// thread reads the next piece while the lanes hash the ones before (at most two pieces queued
/// per lane).
fn hash_file_on_lanes(
    file: &std::fs::File,
    size: u64,
    hex: &str,
    lanes: Vec<Lane>,
) -> Result<Vec<Lane>> {
    std::thread::scope(|scope| {
        let mut txs = Vec::with_capacity(lanes.len());
        let mut hashers = Vec::with_capacity(lanes.len());
        for mut lane in lanes {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(2);
            txs.push(tx);
            hashers.push(scope.spawn(move || {
                for piece in rx {
                    lane.update(&piece);
                }
                lane
            }));
        }
        let read = || -> Result<()> {
            let mut offs = 0u64;
            while offs < size {
                let want =
                    usize::try_from((size - offs).min(HASHSET_READ as u64)).unwrap_or(HASHSET_READ);
                let mut buf = vec![0u8; want];
                read_at(file, &mut buf, offs, hex)?;
                let piece = Arc::new(buf);
                for tx in &txs {
                    tx.send(Arc::clone(&piece))
                        .map_err(|_| Error::Inconsistent("a hash lane failed".into()))?;
                }
                offs += want as u64;
            }
            Ok(())
        };
        let res = read();
        drop(txs);
        let lanes = hashers
            .into_iter()
            .map(|hasher| hasher.join())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::Inconsistent("a hash lane failed".into()))?;
        res.map(|()| lanes)
    })
}

/// Move a blob's bytes to `dest` (atomically: a blob file is whole or absent).
fn place_blob(blob: Blob, dest: &Path, tmpdir: &Path) -> Result<()> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|err| Error::io("cannot create", dir, err))?;
    }
    let mut spool = match blob {
        Blob::File(spool) => spool,
        Blob::Memory(byts) => SpoolFile::with_bytes(tmpdir, &byts)?,
    };
    let Some(path) = spool.take_path() else {
        return Err(Error::IsFini);
    };
    if let Err(err) = std::fs::rename(&path, dest) {
        let _ = std::fs::remove_file(&path);
        return Err(Error::io("cannot move blob into place", dest, err));
    }
    Ok(())
}

/// Remove every file in `dir` (stale upload spools).
fn clear_dir(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|err| Error::io("cannot list", dir, err))?;
    for entry in entries {
        let entry = entry.map_err(|err| Error::io("cannot list", dir, err))?;
        let path = entry.path();
        let res = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(err) = res {
            tracing::warn!(path = %path.display(), cause = %err, "cannot remove a stale upload spool");
        }
    }
    Ok(())
}
