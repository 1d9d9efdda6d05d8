//! [`Upload`]: bytes streamed into the Axon, hashed and spooled as they come, stored on save.
//!
//! Writes are pipelined: a write hands its bytes to a blocking job (hash, then append to the
//! spool file) and returns; the next write waits for that job first. So at most two writes'
//! bytes are held at once, hashing runs off the async runtime, and the client's next bytes
//! travel while the previous ones are hashed. Small writes are gathered in memory first, and
//! an upload that stays small never touches a spool file until it is saved.

use std::io::Write;

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::axon::{Axon, Blob, SpoolFile};
use crate::error::{Error, Result};
use crate::hash::{HashSet, Hasher, Sha256};

/// Bytes gathered in memory before they are handed to a hashing job.
const GATHER: usize = 4 * 1024 * 1024;
/// Below this many bytes, hashing at save time runs on the caller's thread.
const INLINE_HASH: usize = 64 * 1024;
/// Writes smaller than this are copied together into one buffer (fewer, larger hash and
/// file-write steps for streams of small frames, e.g. HTTP bodies).
const SMALL_WRITE: usize = 64 * 1024;

/// The state a hashing job owns: the hasher and the spool file (made on first use).
struct Spool {
    hasher: Hasher,
    file: Option<(SpoolFile, std::fs::File)>,
}

impl Spool {
    fn new(hashset: bool) -> Self {
        Self {
            hasher: Hasher::new(hashset),
            file: None,
        }
    }

    /// Hash and append `pieces` to the spool file (blocking).
    fn absorb(&mut self, pieces: &[Bytes], tmpdir: &std::path::Path) -> Result<()> {
        for piece in pieces {
            self.hasher.update(piece);
        }
        if self.file.is_none() {
            self.file = Some(SpoolFile::create(tmpdir)?);
        }
        if let Some((_, file)) = &mut self.file {
            for piece in pieces {
                file.write_all(piece)
                    .map_err(|err| Error::io("cannot write upload spool", tmpdir, err))?;
            }
        }
        Ok(())
    }
}

/// An upload in progress. [`Upload::save`] stores what was written and resets the upload for
/// the next file; dropping it discards unsaved bytes.
pub struct Upload {
    axon: Axon,
    hashset: bool,
    gathered: Vec<Bytes>,
    small: Vec<u8>,
    gathered_len: usize,
    spool: Option<Spool>,
    job: Option<JoinHandle<(Spool, Result<()>)>>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("hashset", &self.hashset)
            .field("gathered", &self.gathered_len)
            .finish_non_exhaustive()
    }
}

impl Upload {
    pub(crate) fn new(axon: Axon, hashset: bool) -> Self {
        Self {
            axon,
            hashset,
            gathered: Vec::new(),
            small: Vec::new(),
            gathered_len: 0,
            spool: Some(Spool::new(hashset)),
            job: None,
        }
    }

    /// Wait for the running job and take the spool back.
    async fn settle(&mut self) -> Result<Spool> {
        if let Some(job) = self.job.take() {
            let (spool, res) = job.await.map_err(|_| Error::IsFini)?;
            if let Err(err) = res {
                self.reset();
                return Err(err);
            }
            return Ok(spool);
        }
        self.spool.take().ok_or(Error::IsFini)
    }

    /// Append bytes.
    pub async fn write(&mut self, byts: impl Into<Bytes>) -> Result<()> {
        let byts: Bytes = byts.into();
        if byts.is_empty() {
            return Ok(());
        }
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
        let mut spool = self.settle().await?;
        let pieces = std::mem::take(&mut self.gathered);
        self.gathered_len = 0;
        let tmpdir = self.axon.tmpdir().to_path_buf();
        let span = tracing::Span::current();
        self.job = Some(tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            let res = spool.absorb(&pieces, &tmpdir);
            (spool, res)
        }));
        Ok(())
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
        self.flush_small();
        let spool = self.settle().await?;
        let pieces = std::mem::take(&mut self.gathered);
        let gathered = self.gathered_len;
        self.gathered_len = 0;
        let tmpdir = self.axon.tmpdir().to_path_buf();
        let done = move |mut spool: Spool| -> Result<(Sha256, Option<HashSet>, u64, Blob)> {
            let blob = match spool.file.take() {
                Some((path, mut file)) => {
                    for piece in &pieces {
                        spool.hasher.update(piece);
                        file.write_all(piece)
                            .map_err(|err| Error::io("cannot write upload spool", &tmpdir, err))?;
                    }
                    Blob::File(path)
                }
                None => {
                    for piece in &pieces {
                        spool.hasher.update(piece);
                    }
                    let mut byts = Vec::with_capacity(gathered);
                    for piece in &pieces {
                        byts.extend_from_slice(piece);
                    }
                    Blob::Memory(byts)
                }
            };
            let size = spool.hasher.size();
            let (sha256, hashset) = spool.hasher.finish();
            Ok((sha256, hashset, size, blob))
        };
        if gathered < INLINE_HASH && spool.file.is_none() {
            return done(spool);
        }
        tokio::task::spawn_blocking(move || done(spool))
            .await
            .map_err(|_| Error::IsFini)?
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
        if let Some(job) = self.job.take() {
            // The job's spool file is removed when the job's result is dropped.
            drop(job);
        }
        self.gathered.clear();
        self.small.clear();
        self.gathered_len = 0;
        self.spool = Some(Spool::new(self.hashset));
    }
}
