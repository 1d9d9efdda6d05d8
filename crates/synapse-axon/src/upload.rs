//! [`Upload`]: bytes streamed into the Axon, hashed and spooled as they come, stored on save.
//!
//! A large upload runs worker threads of its own: one hashes (three for a hash set: sha256 with
//! sha1, md5, sha512), another appends to the spool file. A write hands its bytes to all of them
//! (shared, not copied) and returns as soon as the bytes in flight are under a bound, so the
//! hashers run continuously while the next bytes travel, and no worker waits for another. Small writes are gathered in memory first,
//! and an upload that stays small starts no thread and never touches a spool file until it is
//! saved.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::axon::{Axon, Blob};
use crate::error::{Error, Result};
use crate::hash::{HashSet, Hasher, Lane, Sha256};
use crate::spool::{SpoolFile, SpoolWriter};

/// An upload gathers this many bytes in memory before it starts its workers.
const GATHER: usize = 4 * 1024 * 1024;
/// Below this many bytes, hashing at save time runs on the caller's thread.
pub(crate) const INLINE_HASH: usize = 64 * 1024;
/// Writes smaller than this are copied together into one buffer (fewer, larger hash and
/// file-write steps for streams of small frames, e.g. HTTP bodies).
const SMALL_WRITE: usize = 64 * 1024;
/// The gathered small writes are handed to the workers in pieces of this size.
const SMALL_PIECE: usize = 4 * 1024 * 1024;
/// The most bytes handed to the workers and not yet both hashed and written.
const IN_FLIGHT: usize = 16 * 1024 * 1024;

/// Bytes on their way to both workers; the permit returns its share of the in-flight bound
/// when both are done with them.
struct Piece {
    byts: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// The worker threads of a large upload: one per hash lane (one for a plain upload, three for
/// a hash set, see [`Hasher::into_lanes`]) and the spool writer. Each takes every piece from
/// its own queue, so none waits for another.
struct Workers {
    hash_txs: Vec<mpsc::UnboundedSender<Arc<Piece>>>,
    spool_tx: mpsc::UnboundedSender<Arc<Piece>>,
    hashed: Vec<oneshot::Receiver<Lane>>,
    spooled: oneshot::Receiver<Result<SpoolFile>>,
    flight: Arc<Semaphore>,
}

impl Workers {
    fn start(hasher: Hasher, tmpdir: std::path::PathBuf) -> Result<Workers> {
        let span = tracing::Span::current();
        let spawn_err = |err| Error::io("cannot start an upload thread", &tmpdir, err);
        let mut hash_txs = Vec::new();
        let mut hashed = Vec::new();
        for mut lane in hasher.into_lanes() {
            let (hash_tx, mut hash_rx) = mpsc::unbounded_channel::<Arc<Piece>>();
            let (hash_done, lane_done) = oneshot::channel();
            let hash_span = span.clone();
            std::thread::Builder::new()
                .name("axon-hash".into())
                .spawn(move || {
                    let _enter = hash_span.enter();
                    while let Some(piece) = hash_rx.blocking_recv() {
                        lane.update(&piece.byts);
                    }
                    let _ = hash_done.send(lane);
                })
                .map_err(spawn_err)?;
            hash_txs.push(hash_tx);
            hashed.push(lane_done);
        }
        let (spool_tx, mut spool_rx) = mpsc::unbounded_channel::<Arc<Piece>>();
        let (spool_done, spooled) = oneshot::channel();
        let dir = tmpdir.clone();
        std::thread::Builder::new()
            .name("axon-spool".into())
            .spawn(move || {
                let _enter = span.enter();
                let res = (|| {
                    let mut writer = SpoolWriter::create(&dir)?;
                    while let Some(piece) = spool_rx.blocking_recv() {
                        writer.write(&piece.byts)?;
                    }
                    writer.finish()
                })();
                // On an error, stop taking pieces: the next write sees the channel closed.
                drop(spool_rx);
                let _ = spool_done.send(res);
            })
            .map_err(spawn_err)?;
        Ok(Workers {
            hash_txs,
            spool_tx,
            hashed,
            spooled,
            flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        })
    }

    /// Hand bytes to all workers, waiting while too many are in flight. `Err` if a worker
    /// stopped (the spool failed): [`Workers::finish`] tells why.
    async fn send(&self, byts: Bytes) -> std::result::Result<(), ()> {
        let want = u32::try_from(byts.len().min(IN_FLIGHT)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&self.flight)
            .acquire_many_owned(want)
            .await
            .map_err(|_| ())?;
        let piece = Arc::new(Piece {
            byts,
            _permit: permit,
        });
        self.spool_tx.send(Arc::clone(&piece)).map_err(|_| ())?;
        for hash_tx in &self.hash_txs {
            hash_tx.send(Arc::clone(&piece)).map_err(|_| ())?;
        }
        Ok(())
    }

    /// Close the queues and wait for all workers: the hasher and the spool file.
    async fn finish(self) -> Result<(Hasher, SpoolFile)> {
        let Workers {
            hash_txs,
            spool_tx,
            hashed,
            spooled,
            ..
        } = self;
        drop((hash_txs, spool_tx));
        let spool = spooled.await.map_err(|_| thread_failed())??;
        let mut lanes = Vec::with_capacity(hashed.len());
        for lane in hashed {
            lanes.push(lane.await.map_err(|_| thread_failed())?);
        }
        let hasher = Hasher::from_lanes(lanes).ok_or_else(thread_failed)?;
        Ok((hasher, spool))
    }
}

fn thread_failed() -> Error {
    Error::Inconsistent("an upload thread failed".into())
}

/// An upload in progress. [`Upload::save`] stores what was written and resets the upload for
/// the next file; dropping it discards unsaved bytes.
pub struct Upload {
    axon: Axon,
    hashset: bool,
    /// Bytes written before the workers start (the whole file, if it stays small).
    gathered: Vec<Bytes>,
    gathered_len: usize,
    /// Small writes being copied together.
    small: Vec<u8>,
    workers: Option<Workers>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("hashset", &self.hashset)
            .field("gathered", &self.gathered_len)
            .field("streaming", &self.workers.is_some())
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) fn new(axon: Axon, hashset: bool) -> Self {
        Self {
            axon,
            hashset,
            gathered: Vec::new(),
            gathered_len: 0,
            small: Vec::new(),
            workers: None,
        }
    }

    /// Append bytes.
    pub async fn write(&mut self, byts: impl Into<Bytes>) -> Result<()> {
        let byts: Bytes = byts.into();
        if byts.is_empty() {
            return Ok(());
        }
        if self.workers.is_none() {
            self.gathered_len += byts.len();
            if byts.len() < SMALL_WRITE {
                self.small.extend_from_slice(&byts);
            } else {
                self.flush_small();
                self.gathered.push(byts);
            }
            if self.gathered_len < GATHER {
                return Ok(());
            }
            self.flush_small();
            let workers = Workers::start(Hasher::new(self.hashset), self.axon.tmpdir().into())?;
            self.workers = Some(workers);
            for piece in std::mem::take(&mut self.gathered) {
                self.send(piece).await?;
            }
            self.gathered_len = 0;
            return Ok(());
        }
        if byts.len() < SMALL_WRITE {
            if self.small.is_empty() {
                self.small.reserve(SMALL_PIECE);
            }
            self.small.extend_from_slice(&byts);
            if self.small.len() >= SMALL_PIECE {
                let small = Bytes::from(std::mem::take(&mut self.small));
                self.send(small).await?;
            }
            return Ok(());
        }
        if !self.small.is_empty() {
            let small = Bytes::from(std::mem::take(&mut self.small));
            self.send(small).await?;
        }
        self.send(byts).await
    }

    /// Hand bytes to the workers; if one stopped, end the upload with its error.
    async fn send(&mut self, byts: Bytes) -> Result<()> {
        let Some(workers) = self.workers.as_ref() else {
            return Err(Error::IsFini);
        };
        if workers.send(byts).await.is_ok() {
            return Ok(());
        }
        let res = match self.workers.take() {
            Some(workers) => workers.finish().await.map(|_| ()),
            None => Ok(()),
        };
        self.reset();
        res.and(Err(thread_failed()))
    }

    /// Move the small-write buffer into the gathered pieces.
    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            let small = std::mem::take(&mut self.small);
            self.gathered.push(Bytes::from(small));
        }
    }

    /// Finish hashing: `(sha256, hash set, size, blob)`.
    async fn finish(&mut self) -> Result<(Sha256, Option<HashSet>, u64, Blob)> {
        if self.workers.is_some() {
            if !self.small.is_empty() {
                let small = Bytes::from(std::mem::take(&mut self.small));
                self.send(small).await?;
            }
            let Some(workers) = self.workers.take() else {
                return Err(Error::IsFini);
            };
            let (hasher, spool) = workers.finish().await?;
            let size = hasher.size();
            let (sha256, hashset) = hasher.finish();
            return Ok((sha256, hashset, size, Blob::File(spool)));
        }
        self.flush_small();
        let pieces = std::mem::take(&mut self.gathered);
        let gathered = std::mem::take(&mut self.gathered_len);
        let mut hasher = Hasher::new(self.hashset);
        let done = move || {
            let mut byts = Vec::with_capacity(gathered);
            for piece in &pieces {
                hasher.update(piece);
                byts.extend_from_slice(piece);
            }
            let size = hasher.size();
            let (sha256, hashset) = hasher.finish();
            (sha256, hashset, size, Blob::Memory(byts))
        };
        if gathered < INLINE_HASH {
            return Ok(done());
        }
        tokio::task::spawn_blocking(done)
            .await
            .map_err(|_| Error::IsFini)
    }

    /// Store the bytes written since the last save: `(size, sha256)`. The upload is reset
    /// (also on error) and can be used for the next file.
    pub async fn save(&mut self) -> Result<(u64, Sha256)> {
        let (size, sha256, _) = self.save_hashset().await?;
        Ok((size, sha256))
    }

    /// [`Upload::save`], with the hash set if the upload computes one.
    pub async fn save_hashset(&mut self) -> Result<(u64, Sha256, Option<HashSet>)> {
        let res = self.finish().await;
        self.reset();
        let (sha256, hashset, size, blob) = res?;
        self.axon.store(sha256, size, blob).await?;
        Ok((size, sha256, hashset))
    }

    /// Discard what was written since the last save.
    pub fn reset(&mut self) {
        // Dropping the workers' queues ends them; the spool file is removed with its writer.
        self.workers = None;
        self.gathered.clear();
        self.small.clear();
        self.gathered_len = 0;
    }
}
