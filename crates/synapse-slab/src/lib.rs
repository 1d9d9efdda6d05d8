//! Slab: LMDB storage for Synapse services.
//!
//! A [`Slab`] is one LMDB environment (a directory holding `data.mdb` and `lock.mdb`) served by
//! its own thread. That thread keeps one write transaction open and commits it in batches, as
//! the reference's `synapse.lib.lmdbslab.Slab` does, so writes are cheap and reads see every
//! earlier write. Nothing here blocks the async runtime: async methods send work to the slab
//! thread and await the reply, and closures passed to [`Slab::write`] / [`Slab::read`] run a
//! whole batch of work there in one go.
//!
//! * Databases: [`Slab::initdb`] returns a [`Db`] handle ([`DbOptions`] for dupsort).
//! * Work: [`Txn`] (get/put/replace/pop/delete/put_multi/scan) inside [`Slab::write`],
//!   [`Slab::read`] and [`Slab::snapshot`]; single-operation async helpers on [`Slab`].
//! * Scans: [`Scan`] describes prefix, range, full and dups scans, forward or backward, and
//!   resumable; [`Slab::scan`] streams them in batches.
//! * Durability: [`Slab::commit`] (group commit) and [`Slab::flush`] (fsync);
//!   [`Slab::write_commit`] resolves after the write is committed.
//! * Structures: [`Seqn`] (append log), [`MultiQueue`], [`HotCount`] / [`HotKeyVal`], [`SafeKeyVal`],
//!   [`SlabDict`], [`NameAbrv`], [`Hist`]; encodings in [`codec`] (big-endian integers,
//!   ordered signed integers, guids, msgpack).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), synapse_slab::Error> {
//! use synapse_slab::{DbOptions, Scan, Slab, SlabOptions};
//! use futures::TryStreamExt;
//!
//! let dir = tempfile::tempdir().map_err(|err| synapse_slab::Error::BadArg(err.to_string()))?;
//! let slab = Slab::open(dir.path().join("test.lmdb"), SlabOptions::default()).await?;
//! let db = slab.initdb("things", DbOptions::default()).await?;
//!
//! slab.write(move |txn| {
//!     txn.put(db, b"a1", b"one")?;
//!     txn.put(db, b"a2", b"two")?;
//!     Ok::<_, synapse_slab::Error>(())
//! })
//! .await?;
//! assert_eq!(slab.get(db, b"a1").await?, Some(b"one".to_vec()));
//!
//! let rows: Vec<_> = slab.scan(db, Scan::prefix(b"a").back()).try_collect().await?;
//! assert_eq!(rows[0].0, b"a2");
//!
//! slab.commit().await?; // durable against a crash of this process
//! slab.fini().await;
//! # Ok(())
//! # }
//! ```

mod abrv;
mod error;
mod hot;
mod kv;
mod multiqueue;
mod options;
mod prefault;
mod scan;
mod seqn;
mod slab;
mod txn;
mod worker;

pub mod codec;

pub use crate::abrv::{Hist, NameAbrv};
pub use crate::error::{Error, Result};
pub use crate::hot::{HotCount, HotKeyVal};
pub use crate::kv::{SafeKeyVal, SlabDict};
pub use crate::multiqueue::{MultiQueue, QueueStatus};
pub use crate::options::{
    CELL_MAP_SIZE, DEFAULT_MAP_SIZE, GIBIBYTE, MEBIBYTE, SlabOptions, map_size_round,
};
pub use crate::scan::{Iter, Scan};
pub use crate::seqn::{SaveInfo, Seqn};
pub use crate::slab::{ScanStream, Slab, SlabInfo};
pub use crate::txn::{Db, DbOptions, DbStat, MAX_KEY_LEN, PutOptions, Txn};
pub use crate::worker::{CommitStat, set_idle_hook};

/// The msgpack value type of the structures (re-exported `rmpv::Value`).
pub use rmpv::Value;
