//! [`Slab`]: the handle on one LMDB environment and its slab thread.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use synapse_base::Base;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::options::SlabOptions;
use crate::scan::Scan;
use crate::txn::{Db, DbOptions, DbStat, PutOptions, Txn};
use crate::worker::{self, CommitHook, CommitStat, Job, Shared, Worker};
use synapse_base::spin::{Look, Spinner};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Rows per read job when streaming a scan.
const SCAN_BATCH_ROWS: usize = 1024;
/// Bytes (keys and values) per read job when streaming a scan.
const SCAN_BATCH_BYTES: usize = 4 << 20;

/// A handle on an open slab: one LMDB environment served by its own thread.
///
/// Clones share the slab. Every LMDB call runs on the slab thread, which keeps one write
/// transaction open and commits it in batches, like the reference: after
/// [`SlabOptions::max_replay_log`] operations, [`SlabOptions::max_replay_bytes`] bytes or
/// [`SlabOptions::commit_period`] (0.2 s), on [`Slab::commit`], and at close. Reads see every
/// earlier write, committed or not. Each closure passed to [`Slab::write`] commits atomically:
/// a crash keeps all of its writes or none.
///
/// Jobs run in the order the calls were *made*: [`Slab::write`], [`Slab::read`],
/// [`Slab::commit`] and friends send their job when called, and the returned future only
/// awaits the reply. The async methods never block the runtime. The `_blocking` twins are for code already on a
/// blocking thread; they fail with [`Error::Reentrant`] on the slab thread itself.
///
/// Close with [`Slab::fini`] (or the slab's [`Base`]); dropping every handle also commits and
/// closes, in the background.
#[derive(Clone)]
pub struct Slab {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
    base: Base,
}

impl std::fmt::Debug for Slab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab")
            .field("path", &self.inner.shared.path)
            .field("readonly", &self.inner.shared.readonly())
            .finish_non_exhaustive()
    }
}

/// Status of an open slab, as the reference's `getSlabStats` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabInfo {
    /// The slab's (canonical) path.
    pub path: std::path::PathBuf,
    /// Write operations pending in the current batch.
    pub xactops: usize,
    /// The current map size.
    pub mapsize: u64,
    /// Opened read-only.
    pub readonly: bool,
    /// Read-ahead enabled.
    pub readahead: bool,
    /// The configured maximum map size.
    pub maxsize: Option<u64>,
    /// The configured growth increment.
    pub growsize: Option<u64>,
    /// The last commits (up to 1000): start (epoch ms), operations, duration (ms).
    pub commitstats: Vec<CommitStat>,
}

impl Slab {
    /// Open (creating unless read-only) the slab at `path`, a directory.
    ///
    /// Fails with [`Error::AlreadyOpen`] if this process has it open, [`Error::Corrupt`] if it
    /// is not an LMDB environment, [`Error::Lock`] if its lock cannot be taken.
    pub async fn open(path: impl AsRef<Path>, opts: SlabOptions) -> Result<Slab> {
        let path = path.as_ref().to_path_buf();
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("slab-open".into())
            .spawn(move || {
                let _ = tx.send(Self::open_blocking(&path, opts));
            })
            .map_err(|err| Error::io("slab thread", err))?;
        rx.await.map_err(|_| Error::IsFini)?
    }

    /// [`Slab::open`] for blocking code.
    pub fn open_blocking(path: impl AsRef<Path>, opts: SlabOptions) -> Result<Slab> {
        let (path, opts) = worker::prepare(path.as_ref(), opts)?;
        worker::register_open_path(&path)?;
        let (done, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: path.clone(),
            reply_spin: Spinner::new(REPLY_SPIN),
            map_size: AtomicU64::new(opts.map_size),
            opts,
            env: RwLock::new(None),
            dbs: Mutex::new(Default::default()),
            hooks: Mutex::new(Vec::new()),
            hot_dirty: AtomicBool::new(false),
            pending_ops: AtomicUsize::new(0),
            write_gen: AtomicU64::new(0),
            stats: Mutex::new(Default::default()),
            thread: Mutex::new(None),
            done,
            registry: Mutex::new(Default::default()),
        });
        let (jobs, recv) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread_shared = Arc::clone(&shared);
        let name = format!(
            "slab:{}",
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker::run(thread_shared, recv, ready_tx));
        if let Err(err) = spawned {
            worker::unregister_open_path(&path);
            return Err(Error::io("slab thread", err));
        }
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err(Error::IsFini),
        }
        let base = Base::new();
        let stop = jobs.clone();
        let fini_shared = Arc::clone(&shared);
        base.on_fini(move || async move {
            let _ = stop.send(Job::Stop);
            drop(stop);
            let mut done = fini_shared.done.subscribe();
            let _ = done.wait_for(|done| *done).await;
        });
        Ok(Slab {
            inner: Arc::new(Inner { shared, jobs, base }),
        })
    }

    /// The slab's canonical path.
    pub fn path(&self) -> &Path {
        &self.inner.shared.path
    }

    /// True if opened read-only.
    pub fn is_readonly(&self) -> bool {
        self.inner.shared.readonly()
    }

    /// The options in effect (after the options file and map size rounding).
    pub fn options(&self) -> &SlabOptions {
        &self.inner.shared.opts
    }

    /// The slab's lifecycle object: adopt it into a parent to close the slab with the parent.
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// Commit, close the environment, and stop the slab thread. Returns when the slab can be
    /// opened again.
    pub async fn fini(&self) {
        self.inner.base.fini().await;
        let mut done = self.inner.shared.done.subscribe();
        let _ = done.wait_for(|done| *done).await;
    }

    /// True once [`Slab::fini`] has started.
    pub fn is_fini(&self) -> bool {
        self.inner.base.is_fini()
    }

    /// Status as the reference's `getSlabStats`.
    pub fn info(&self) -> SlabInfo {
        let shared = &self.inner.shared;
        SlabInfo {
            path: shared.path.clone(),
            xactops: shared.pending_ops.load(Ordering::Relaxed),
            mapsize: shared.map_size.load(Ordering::Relaxed),
            readonly: shared.readonly(),
            readahead: shared.opts.readahead,
            maxsize: shared.opts.max_size,
            growsize: shared.opts.grow_size,
            commitstats: worker_lock(&shared.stats).iter().copied().collect(),
        }
    }

    fn submit(&self, job: Job) -> Result<()> {
        if self.inner.base.is_fini() {
            return Err(Error::IsFini);
        }
        self.inner.jobs.send(job).map_err(|_| Error::IsFini)
    }

    fn on_slab_thread(&self) -> bool {
        *worker_lock(&self.inner.shared.thread) == Some(std::thread::current().id())
    }

    /// Send `func` to the slab thread now; the returned future awaits its result.
    pub(crate) fn run<T, E>(
        &self,
        func: impl for<'w, 'e> FnOnce(&'w mut Worker<'e>) -> Result<T, E> + Send + 'static,
    ) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let sent = self.submit(Job::Run(Box::new(move |worker| {
            let _ = tx.send(func(worker));
        })));
        let shared = Arc::clone(&self.inner.shared);
        async move {
            sent?;
            recv_spinning(&shared.reply_spin, rx).await?
        }
    }

    /// Await a value that a job of this slab sends back through `rx` before the job ends,
    /// looking for it briefly before parking, as the slab's own replies are awaited.
    pub async fn recv_reply<T>(&self, rx: oneshot::Receiver<T>) -> Result<T> {
        recv_spinning(&self.inner.shared.reply_spin, rx).await
    }

    /// Run `func` on the slab thread, blocking this thread until it is done.
    pub(crate) fn run_blocking<T, E>(
        &self,
        func: impl for<'w, 'e> FnOnce(&'w mut Worker<'e>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        if self.on_slab_thread() {
            return Err(Error::Reentrant.into());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Job::Run(Box::new(move |worker| {
            let _ = tx.send(func(worker));
        })))?;
        rx.recv().map_err(|_| Error::IsFini)?
    }

    // ----- closures -----

    /// Run `func` on the slab thread with the write transaction and return its result.
    ///
    /// The closure's writes join the pending batch (see [`Slab::commit`] to wait until they
    /// are committed). Writes made before the closure returns an error are kept. A panic in
    /// the closure is caught and returned as [`Error::Panicked`].
    pub fn write<T, E, F>(&self, func: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.run(move |worker| worker.run_write(func))
    }

    /// [`Slab::write`], then wait until the batch holding the writes is committed (group
    /// commit: concurrent callers share one commit).
    pub fn write_commit<T, E, F>(
        &self,
        func: F,
    ) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        // One job: the write, then a reply once its batch is committed. (A write job and a
        // commit job sent one after the other could wake the slab thread in between, which
        // then ran the write while the caller waited for a CPU to send the commit.)
        let (tx, rx) = oneshot::channel();
        let sent = self.submit(Job::Run(Box::new(move |worker| {
            match worker.run_write(func) {
                Ok(out) => worker.reply_after_commit(Box::new(move |res| {
                    let _ = tx.send(res.map(|()| out).map_err(E::from));
                })),
                Err(err) => {
                    let _ = tx.send(Err(err));
                }
            }
        })));
        let shared = Arc::clone(&self.inner.shared);
        async move {
            sent?;
            recv_spinning(&shared.reply_spin, rx).await?
        }
    }

    /// Run `func` on the slab thread with a read view that sees pending writes.
    pub fn read<T, E, F>(&self, func: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.run(move |worker| worker.run_read(func))
    }

    /// Run `func` on a blocking-pool thread with a read-only transaction of the *committed*
    /// data. Snapshot reads run in parallel with each other and with the slab thread; use them
    /// for large reads that need not see pending writes.
    pub async fn snapshot<T, E, F>(&self, func: F) -> Result<T, E>
    where
        F: FnOnce(&Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let shared = Arc::clone(&self.inner.shared);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            snapshot_blocking(&shared, func)
        })
        .await
        .map_err(|_| Error::Panicked)?
    }

    /// [`Slab::write`] for blocking code.
    pub fn write_blocking<T, E, F>(&self, func: F) -> Result<T, E>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.run_blocking(move |worker| worker.run_write(func))
    }

    /// [`Slab::read`] for blocking code.
    pub fn read_blocking<T, E, F>(&self, func: F) -> Result<T, E>
    where
        F: FnOnce(&Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        self.run_blocking(move |worker| worker.run_read(func))
    }

    fn commit_request(&self, flush: bool) -> Result<oneshot::Receiver<Result<()>>> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Commit {
            flush,
            reply: Box::new(move |res| {
                let _ = tx.send(res);
            }),
        })?;
        Ok(rx)
    }

    /// Commit every write made before this call (the reference's `sync()` / `forcecommit()`).
    /// Concurrent callers share one commit. After it returns, the writes survive a crash of
    /// this process; see [`Slab::flush`] for OS crashes.
    pub fn commit(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let request = self.commit_request(false);
        async move { request?.await.map_err(|_| Error::IsFini)? }
    }

    /// [`Slab::commit`], then force the data to disk (`fsync`), so the writes survive a crash
    /// of the OS too.
    pub fn flush(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let request = self.commit_request(true);
        async move { request?.await.map_err(|_| Error::IsFini)? }
    }

    /// [`Slab::commit`] for blocking code.
    pub fn commit_blocking(&self) -> Result<()> {
        if self.on_slab_thread() {
            return Err(Error::Reentrant);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Job::Commit {
            flush: false,
            reply: Box::new(move |res| {
                let _ = tx.send(res);
            }),
        })?;
        rx.recv().map_err(|_| Error::IsFini)?
    }

    /// Register a hook run on the slab thread before every commit (and at close), for
    /// write-back caches. See also [`Slab::mark_dirty`].
    pub fn on_commit(&self, hook: impl FnMut(&mut Txn<'_>) -> Result<()> + Send + 'static) {
        let hook: CommitHook = Box::new(hook);
        worker_lock(&self.inner.shared.hooks).push(hook);
    }

    /// Ask for a commit within the commit period even though no write is pending (a
    /// write-back cache has changes for its commit hook).
    pub fn mark_dirty(&self) {
        self.inner.shared.hot_dirty.store(true, Ordering::Relaxed);
    }

    /// A value shared by everyone using this slab under `name`, made by `make` on first use
    /// (the structures use this so that two handles on one database share their state).
    pub(crate) fn shared_state<T: Send + Sync + 'static>(
        &self,
        name: &str,
        make: impl FnOnce() -> T,
    ) -> Result<Arc<T>> {
        let mut registry = worker_lock(&self.inner.shared.registry);
        if let Some(found) = registry.get(name) {
            return Arc::clone(found)
                .downcast::<T>()
                .map_err(|_| Error::BadArg(format!("{name} is in use with another type")));
        }
        let made = Arc::new(make());
        registry.insert(name.to_owned(), made.clone());
        Ok(made)
    }

    // ----- databases -----

    /// Open, creating it if needed, the named database (the reference's `initdb`). Creating a
    /// database commits the pending batch. The handle is cached: later calls return it.
    pub async fn initdb(&self, name: &str, opts: DbOptions) -> Result<Db> {
        if let Some(db) = worker_lock(&self.inner.shared.dbs).get(name) {
            return Ok(*db);
        }
        let name = name.to_owned();
        self.run(move |worker| worker.initdb(&name, opts)).await
    }

    /// [`Slab::initdb`] for blocking code.
    pub fn initdb_blocking(&self, name: &str, opts: DbOptions) -> Result<Db> {
        if let Some(db) = worker_lock(&self.inner.shared.dbs).get(name) {
            return Ok(*db);
        }
        let name = name.to_owned();
        self.run_blocking(move |worker| worker.initdb(&name, opts))
    }

    /// The unnamed main database (which also lists the named ones).
    pub async fn main_db(&self) -> Result<Db> {
        self.run(|worker| Ok::<_, Error>(worker.main_db())).await
    }

    /// True if the named database exists.
    pub async fn dbexists(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.run(move |worker| worker.dbexists(&name)).await
    }

    /// Delete the named database and all its rows, committing at once; no-op if missing.
    pub async fn dropdb(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.run(move |worker| worker.dropdb(&name)).await
    }

    // ----- single operations -----

    /// The value of `key`, copied out.
    pub async fn get(&self, db: Db, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = key.to_vec();
        self.read(move |txn| Ok(txn.get(db, &key)?.map(<[u8]>::to_vec)))
            .await
    }

    /// True if `key` exists.
    pub async fn has(&self, db: Db, key: &[u8]) -> Result<bool> {
        let key = key.to_vec();
        self.read(move |txn| txn.has(db, &key)).await
    }

    /// The number of values of `key` (see [`Txn::count`]).
    pub async fn count(&self, db: Db, key: &[u8]) -> Result<usize> {
        let key = key.to_vec();
        self.read(move |txn| txn.count(db, &key)).await
    }

    /// The number of rows under `prefix`, stopping at `max` (see [`Txn::count_prefix`]).
    pub async fn count_prefix(&self, db: Db, prefix: &[u8], max: Option<usize>) -> Result<usize> {
        let prefix = prefix.to_vec();
        self.read(move |txn| txn.count_prefix(db, &prefix, max))
            .await
    }

    /// The last row, copied out.
    pub async fn last(&self, db: Db) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.read(move |txn| Ok(txn.last(db)?.map(|(key, val)| (key.to_vec(), val.to_vec()))))
            .await
    }

    /// The database's statistics.
    pub async fn stat(&self, db: Db) -> Result<DbStat> {
        self.read(move |txn| txn.stat(db)).await
    }

    /// Put (see [`Txn::put`]).
    pub async fn put(&self, db: Db, key: &[u8], val: &[u8]) -> Result<bool> {
        self.put_with(db, key, val, PutOptions::default()).await
    }

    /// Put with options (see [`Txn::put_with`]).
    pub async fn put_with(&self, db: Db, key: &[u8], val: &[u8], opts: PutOptions) -> Result<bool> {
        let (key, val) = (key.to_vec(), val.to_vec());
        self.write(move |txn| txn.put_with(db, &key, &val, opts))
            .await
    }

    /// Put and return the previous value (see [`Txn::replace`]).
    pub async fn replace(&self, db: Db, key: &[u8], val: &[u8]) -> Result<Option<Vec<u8>>> {
        let (key, val) = (key.to_vec(), val.to_vec());
        self.write(move |txn| txn.replace(db, &key, &val)).await
    }

    /// Remove `key` and return its value (see [`Txn::pop`]).
    pub async fn pop(&self, db: Db, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = key.to_vec();
        self.write(move |txn| txn.pop(db, &key)).await
    }

    /// Remove `key`, or one value of it (see [`Txn::delete`]).
    pub async fn delete(&self, db: Db, key: &[u8], val: Option<&[u8]>) -> Result<bool> {
        let key = key.to_vec();
        let val = val.map(<[u8]>::to_vec);
        self.write(move |txn| txn.delete(db, &key, val.as_deref()))
            .await
    }

    /// Put many rows, in chunks of [`SlabOptions::max_replay_log`] so that commits can happen
    /// in between; returns `(consumed, added)`.
    pub async fn put_multi(
        &self,
        db: Db,
        rows: Vec<(Vec<u8>, Vec<u8>)>,
        opts: PutOptions,
    ) -> Result<(usize, usize)> {
        let chunk = self.inner.shared.opts.max_replay_log.max(1);
        let (mut consumed, mut added) = (0, 0);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let part: Vec<_> = rows.by_ref().take(chunk).collect();
            let (done, new) = self.write(move |txn| txn.put_multi(db, part, opts)).await?;
            consumed += done;
            added += new;
        }
        Ok((consumed, added))
    }

    // ----- scans -----

    /// Stream rows as `scan` describes, copied out in batches (each batch is one short job on
    /// the slab thread; the scan resumes after the last row of the previous batch, so writes
    /// and commits can happen in between).
    pub fn scan(&self, db: Db, scan: Scan) -> ScanStream<(Vec<u8>, Vec<u8>)> {
        self.scan_map(db, scan, |key, val| Ok((key.to_vec(), val.to_vec())))
    }

    /// Stream the keys of the rows `scan` describes (see [`Scan::nodup`] for once per key).
    pub fn scan_keys(&self, db: Db, scan: Scan) -> ScanStream<Vec<u8>> {
        self.scan_map(db, scan, |key, _| Ok(key.to_vec()))
    }

    /// Stream `func(key, value)` of the rows `scan` describes; `func` runs on the slab thread
    /// (decode there, and skip copying what you do not need).
    pub fn scan_map<T, F>(&self, db: Db, scan: Scan, func: F) -> ScanStream<T>
    where
        T: Send + 'static,
        F: Fn(&[u8], &[u8]) -> Result<T> + Send + Sync + 'static,
    {
        let state = ScanState {
            slab: self.clone(),
            next: Some(scan),
            tail: None,
            func: Arc::new(func),
        };
        let batches = stream::unfold(state, move |mut state| async move {
            let scan = match (state.next.take(), state.tail.take()) {
                (Some(scan), _) => scan,
                // The end was reached; look again only if something was written since.
                (None, Some((scan, generation)))
                    if state.slab.inner.shared.write_gen.load(Ordering::Relaxed) != generation =>
                {
                    scan
                }
                _ => return None,
            };
            let func = Arc::clone(&state.func);
            let res = state
                .slab
                .read(move |txn| scan_batch(txn, db, scan, &*func))
                .await;
            match res {
                Ok(batch) => {
                    if batch.full {
                        state.next = batch.resume;
                    } else {
                        state.tail = batch.resume.map(|scan| (scan, batch.generation));
                    }
                    Some((Ok(batch.items), state))
                }
                Err(err) => Some((Err(err), state)),
            }
        });
        let items = batches.flat_map(|batch| match batch {
            Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
            Err(err) => stream::once(async move { Err(err) }).right_stream(),
        });
        ScanStream {
            inner: items.boxed(),
        }
    }
}

/// The per-row function of a streamed scan.
type RowFn<T> = dyn Fn(&[u8], &[u8]) -> Result<T> + Send + Sync;

/// Keys per job of [`Slab::scan_keys_hier`].
const HIER_BATCH: usize = 1024;

impl Slab {
    /// Stream the keys under `prefix` at most `depth` separators deep (see [`Txn::hier_keys`]),
    /// the reference's `scanKeysByHierPref`.
    pub fn scan_keys_hier(
        &self,
        db: Db,
        prefix: &[u8],
        sepr: u8,
        depth: usize,
        nodup: bool,
    ) -> ScanStream<Vec<u8>> {
        let state = (self.clone(), prefix.to_vec(), None::<Vec<u8>>, false);
        let batches = stream::unfold(state, move |(slab, prefix, after, done)| async move {
            if done {
                return None;
            }
            let (pref, last) = (prefix.clone(), after.clone());
            let res = slab
                .read(move |txn| {
                    txn.hier_keys(db, &pref, sepr, depth, nodup, last.as_deref(), HIER_BATCH)
                })
                .await;
            match res {
                Ok(keys) => {
                    let done = keys.len() < HIER_BATCH;
                    let after = keys.last().cloned().or(after);
                    Some((Ok(keys), (slab, prefix, after, done)))
                }
                Err(err) => Some((Err(err), (slab, prefix, after, true))),
            }
        });
        let items = batches.flat_map(|batch| match batch {
            Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
            Err(err) => stream::once(async move { Err(err) }).right_stream(),
        });
        ScanStream {
            inner: items.boxed(),
        }
    }

    /// Copy every row of `src` into the database `dst_name` of `dst` (created with the same
    /// dupsort flag), the reference's `copydb`; [`Error::DataAlreadyExists`] if it has rows.
    /// Returns the number of rows copied.
    pub async fn copydb(&self, src: Db, dst: &Slab, dst_name: &str) -> Result<u64> {
        let opts = DbOptions {
            dupsort: src.is_dupsort(),
            ..DbOptions::default()
        };
        let target = dst.initdb(dst_name, opts).await?;
        if dst.stat(target).await?.entries > 0 {
            return Err(Error::DataAlreadyExists(format!(
                "database {dst_name} already has rows"
            )));
        }
        let mut rows = self.scan(src, Scan::full());
        let mut chunk = Vec::new();
        let mut copied = 0u64;
        let put = PutOptions {
            dupdata: true,
            append: true,
            ..PutOptions::default()
        };
        loop {
            let next = rows.next().await.transpose()?;
            let end = next.is_none();
            if let Some(row) = next {
                chunk.push(row);
            }
            if chunk.len() >= SCAN_BATCH_ROWS || (end && !chunk.is_empty()) {
                let part = std::mem::take(&mut chunk);
                let count = part.len();
                let (_, added) = dst
                    .write(move |txn| txn.put_multi(target, part, put))
                    .await?;
                if added != count {
                    return Err(Error::BadData("unexpected number of rows written".into()));
                }
                copied += count as u64;
            }
            if end {
                return Ok(copied);
            }
        }
    }

    /// Copy the whole slab (every named database, compacted) to a new slab at `dst`, the
    /// reference's `copyslab`; [`Error::DataAlreadyExists`] if `dst` exists. The options file
    /// is copied too.
    pub async fn copyslab(&self, dst: impl AsRef<Path>) -> Result<()> {
        let dst = dst.as_ref().to_path_buf();
        if dst.exists() {
            return Err(Error::DataAlreadyExists(format!(
                "{} already exists",
                dst.display()
            )));
        }
        self.commit().await?;
        let main = self.main_db().await?;
        let names: Vec<Vec<u8>> = self.scan_keys(main, Scan::full()).try_collect().await?;
        let target = Slab::open(&dst, self.options().clone()).await?;
        let res = async {
            let target_main = target.main_db().await?;
            for name in names {
                let text = String::from_utf8(name.clone()).ok();
                let db = match &text {
                    Some(text) => self.open_existing(text).await?,
                    None => None,
                };
                match (db, text) {
                    (Some(db), Some(text)) => {
                        self.copydb(db, &target, &text).await?;
                    }
                    _ => {
                        // A plain row of the main database.
                        if let Some(val) = self.get(main, &name).await? {
                            target.put(target_main, &name, &val).await?;
                        }
                    }
                }
            }
            target.commit().await
        }
        .await;
        target.fini().await;
        res?;
        let from = crate::options::opts_path(self.path());
        if from.exists() {
            let to = crate::options::opts_path(&dst);
            std::fs::copy(&from, &to).map_err(|err| Error::io(&to, err))?;
        }
        Ok(())
    }

    /// The named database if it exists (with its real dupsort flag), without creating it.
    async fn open_existing(&self, name: &str) -> Result<Option<Db>> {
        let name = name.to_owned();
        self.run(move |worker| worker.open_existing(&name)).await
    }
}

struct ScanState<T> {
    slab: Slab,
    /// The scan continuing after the last full batch.
    next: Option<Scan>,
    /// After a partial batch: the scan resuming after its last row (or the original scan if it
    /// was empty), and the write generation it saw.
    tail: Option<(Scan, u64)>,
    func: Arc<RowFn<T>>,
}

struct Batch<T> {
    items: Vec<T>,
    /// True when the batch stopped at its size limit (more rows may follow).
    full: bool,
    resume: Option<Scan>,
    generation: u64,
}

/// One batch of a streamed scan.
fn scan_batch<T>(txn: &Txn<'_>, db: Db, scan: Scan, func: &RowFn<T>) -> Result<Batch<T>> {
    let generation = txn.write_gen();
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut last = None;
    let mut full = false;
    for row in txn.scan(db, scan.clone())? {
        let (key, val) = row?;
        items.push(func(key, val)?);
        bytes += key.len() + val.len();
        last = Some((key, val));
        if items.len() >= SCAN_BATCH_ROWS || bytes >= SCAN_BATCH_BYTES {
            full = true;
            break;
        }
    }
    let resume = match last {
        Some((key, _)) if scan.is_nodup() => scan.after_key(key),
        Some((key, val)) => scan.after(key, val),
        None => scan,
    };
    Ok(Batch {
        items,
        full,
        resume: Some(resume),
        generation,
    })
}

/// How long a caller looks for a slab job's reply before it parks. Most jobs (a read, one
/// node's edits) take a few microseconds (see [`synapse_base::spin`]).
const REPLY_SPIN: Duration = Duration::from_micros(50);

/// Await `rx`, looking for its value briefly before parking (see [`synapse_base::spin`]).
async fn recv_spinning<T>(spinner: &Spinner, mut rx: oneshot::Receiver<T>) -> Result<T> {
    let start = Instant::now();
    let got = spinner.look(|| match rx.try_recv() {
        Ok(val) => Look::Ready(val),
        Err(oneshot::error::TryRecvError::Closed) => Look::Gone,
        Err(oneshot::error::TryRecvError::Empty) => Look::Empty,
    });
    let val = match got {
        Some(val) => val,
        None => rx.await.map_err(|_| Error::IsFini)?,
    };
    spinner.waited(start.elapsed());
    Ok(val)
}

fn snapshot_blocking<T, E, F>(shared: &Shared, func: F) -> Result<T, E>
where
    F: FnOnce(&Txn<'_>) -> Result<T, E>,
    E: From<Error>,
{
    let guard = shared
        .env
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(env) = guard.as_ref() else {
        return Err(Error::IsFini.into());
    };
    let ro = env
        .begin_ro_txn()
        .map_err(crate::error::lmdb)
        .map_err(E::from)?;
    let txn = Txn::read(&ro, shared.id, shared.write_gen.load(Ordering::Relaxed));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func(&txn))) {
        Ok(res) => res,
        Err(_) => Err(Error::Panicked.into()),
    }
}

fn worker_lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A stream of scanned rows, made by [`Slab::scan`] and its variants.
pub struct ScanStream<T> {
    inner: BoxStream<'static, Result<T>>,
}

impl<T> std::fmt::Debug for ScanStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanStream").finish_non_exhaustive()
    }
}

impl<T> Stream for ScanStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}
