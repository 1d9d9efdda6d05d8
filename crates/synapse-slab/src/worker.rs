//! The slab thread: it owns the LMDB environment's write transaction, runs every job sent to the
//! slab, commits in batches, and grows the map (replaying the pending operations) when it fills.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use lmdb::{
    Database, DatabaseFlags, Environment, EnvironmentFlags, RwTransaction, Transaction, WriteFlags,
};

use crate::error::{Error, Result, is_corrupt, lmdb as lmdb_err};
use crate::options::{SlabOptions, load_opts_file, map_size_round, opts_path, save_opts_file};
use crate::prefault::Prefault;
use crate::txn::{Db, DbOptions, RawRead, RawWrite, Txn};
use synapse_base::spin::{Look, Spinner};

/// A job for the slab thread. Every job has a caller waiting for its reply, so the job queue
/// (an unbounded channel) holds at most one job per waiting caller.
pub(crate) enum Job {
    /// Run a closure with the worker.
    Run(Box<dyn for<'w, 'e> FnOnce(&'w mut Worker<'e>) + Send>),
    /// Commit everything queued so far (group commit), then reply; `flush` also syncs to disk.
    Commit {
        flush: bool,
        reply: Box<dyn FnOnce(Result<()>) + Send>,
    },
    /// Commit and close.
    Stop,
}

/// A hook run on the slab thread before every commit (write-back caches flush here).
/// A caller waiting for a commit: whether it wants a flush, and how to reply.
type CommitWaiter = (bool, Box<dyn FnOnce(Result<()>) + Send>);

pub(crate) type CommitHook = Box<dyn FnMut(&mut Txn<'_>) -> Result<()> + Send>;

/// One commit: start (epoch millis), operations committed, duration (millis).
pub type CommitStat = (i64, usize, u64);

/// State shared by the slab handles and the slab thread.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) path: PathBuf,
    /// How long callers look for a job's reply before they park.
    pub(crate) reply_spin: Spinner,
    pub(crate) opts: SlabOptions,
    /// The environment, `None` once closed. Snapshot readers hold the read lock for their
    /// transaction; the slab thread takes the write lock to resize the map and to close.
    pub(crate) env: RwLock<Option<Arc<Environment>>>,
    pub(crate) dbs: Mutex<HashMap<String, Db>>,
    pub(crate) hooks: Mutex<Vec<CommitHook>>,
    /// Set by write-back caches: something needs a commit even though no write is pending.
    pub(crate) hot_dirty: AtomicBool,
    pub(crate) map_size: AtomicU64,
    pub(crate) pending_ops: AtomicUsize,
    /// Bumped by every write: a streamed scan that reached its end re-checks when it moved.
    pub(crate) write_gen: AtomicU64,
    pub(crate) stats: Mutex<VecDeque<CommitStat>>,
    pub(crate) thread: Mutex<Option<std::thread::ThreadId>>,
    pub(crate) done: tokio::sync::watch::Sender<bool>,
    pub(crate) registry: Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
}

impl Shared {
    pub(crate) fn readonly(&self) -> bool {
        self.opts.readonly
    }
}

/// Paths of the slabs open in this process: LMDB must not open one environment twice.
static OPEN: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn register_open_path(path: &Path) -> Result<()> {
    let mut open = lock(&OPEN);
    let set = open.get_or_insert_with(HashSet::new);
    if !set.insert(path.to_path_buf()) {
        return Err(Error::AlreadyOpen {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

pub(crate) fn unregister_open_path(path: &Path) {
    if let Some(set) = lock(&OPEN).as_mut() {
        set.remove(path);
    }
}

/// The write operations of the pending batch, kept to replay them after growing the map.
#[derive(Default)]
struct OpLog {
    bytes: Vec<u8>,
    ops: Vec<LogOp>,
}

enum LogOp {
    Put {
        db: Database,
        key: Range<usize>,
        val: Range<usize>,
        flags: WriteFlags,
    },
    Del {
        db: Database,
        key: Range<usize>,
        val: Option<Range<usize>>,
    },
    Clear {
        db: Database,
    },
}

impl OpLog {
    fn push_bytes(&mut self, data: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        start..self.bytes.len()
    }

    fn put(&mut self, db: Database, key: &[u8], val: &[u8], flags: WriteFlags) {
        let key = self.push_bytes(key);
        let val = self.push_bytes(val);
        self.ops.push(LogOp::Put {
            db,
            key,
            val,
            flags,
        });
    }

    fn del(&mut self, db: Database, key: &[u8], val: Option<&[u8]>) {
        let key = self.push_bytes(key);
        let val = val.map(|val| self.push_bytes(val));
        self.ops.push(LogOp::Del { db, key, val });
    }

    fn clear_db(&mut self, db: Database) {
        self.ops.push(LogOp::Clear { db });
    }

    fn reset(&mut self) {
        self.ops.clear();
        self.bytes.clear();
        // Give back memory after an unusually large batch.
        if self.bytes.capacity() > 64 << 20 {
            self.bytes.shrink_to(1 << 20);
        }
        if self.ops.capacity() > 1 << 20 {
            self.ops.shrink_to(1 << 14);
        }
    }

    fn replay(&self, txn: &mut RwTransaction<'_>) -> lmdb::Result<()> {
        for op in &self.ops {
            let res = match op {
                LogOp::Put {
                    db,
                    key,
                    val,
                    flags,
                } => txn.put(
                    *db,
                    &&self.bytes[key.clone()],
                    &&self.bytes[val.clone()],
                    *flags,
                ),
                LogOp::Del { db, key, val } => txn.del(
                    *db,
                    &&self.bytes[key.clone()],
                    val.as_ref().map(|val| &self.bytes[val.clone()]),
                ),
                LogOp::Clear { db } => txn.clear_db(*db),
            };
            match res {
                Ok(()) | Err(lmdb::Error::KeyExist) | Err(lmdb::Error::NotFound) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}

/// The slab thread's state. Jobs receive `&mut Worker` and open [`Txn`]s on it.
pub(crate) struct Worker<'e> {
    pub(crate) shared: &'e Shared,
    env: &'e Environment,
    main: Database,
    txn: Option<RwTransaction<'e>>,
    log: OpLog,
    dirty: bool,
    dirty_since: Option<Instant>,
    waiters: Vec<CommitWaiter>,
    stop: bool,
    /// Set when growth hit the configured maximum during the current write closure.
    out_of_space: bool,
    /// The pages populated ahead of the data (write-map environments).
    prefault: Prefault,
}

/// What a slab thread runs once it has gone idle (see [`set_idle_hook`]).
static IDLE_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Set, once per process, a function every slab thread calls when it goes idle: after a
/// commit period without work and with nothing left to commit, once per idle spell.
///
/// For the application's allocator: a slab thread allocates in bursts (a batch of writes)
/// and then waits, and an allocator that keeps thread-local free memory until the thread
/// allocates again can be told here to give it back. Later calls are ignored.
pub fn set_idle_hook(hook: fn()) {
    let _ = IDLE_HOOK.set(hook);
}

fn run_idle_hook() {
    if let Some(hook) = IDLE_HOOK.get() {
        hook();
    }
}

/// Open the environment and run the slab thread until the slab is closed. `ready` receives the
/// outcome of opening.
pub(crate) fn run(
    shared: Arc<Shared>,
    jobs: Receiver<Job>,
    ready: std::sync::mpsc::SyncSender<Result<()>>,
) {
    let path = shared.path.clone();
    let env = match open_env(&shared) {
        Ok(env) => Arc::new(env),
        Err(err) => {
            unregister_open_path(&path);
            let _ = ready.send(Err(err));
            shared.done.send_replace(true);
            return;
        }
    };
    *write_env(&shared) = Some(Arc::clone(&env));
    {
        let worker = Worker::start(&shared, &env);
        match worker {
            Ok(mut worker) => {
                let _ = ready.send(Ok(()));
                worker.serve(&jobs);
                worker.finish();
            }
            Err(err) => {
                let _ = ready.send(Err(err));
            }
        }
    }
    // Close: no transaction of ours is alive; wait out snapshot readers.
    write_env(&shared).take();
    drop(env);
    unregister_open_path(&path);
    shared.done.send_replace(true);
    tracing::debug!(path = %path.display(), "slab closed");
}

fn write_env(shared: &Shared) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Environment>>> {
    shared
        .env
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resolve options, create the directory, check for double opens, and open LMDB.
pub(crate) fn prepare(path: &Path, mut opts: SlabOptions) -> Result<(PathBuf, SlabOptions)> {
    let optspath = opts_path(path);
    load_opts_file(&optspath, &mut opts)?;
    if opts.map_size == 0 {
        return Err(Error::BadArg("Slab requires map_size".into()));
    }
    if !opts.readonly {
        std::fs::create_dir_all(path).map_err(|err| Error::io(path, err))?;
    }
    let path = std::fs::canonicalize(path).map_err(|err| Error::io(path, err))?;
    if !path.is_dir() {
        return Err(Error::Corrupt {
            path,
            detail: "a slab is a directory".into(),
        });
    }
    let data = path.join("data.mdb");
    let mut map_size = opts.map_size;
    match std::fs::metadata(&data) {
        Ok(meta) => map_size = map_size.max(meta.len()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::io(&data, err)),
    }
    map_size = map_size_round(map_size);
    if let Some(max) = opts.max_size {
        map_size = map_size.min(max);
    }
    opts.map_size = map_size;
    if !opts.readonly {
        save_opts_file(&opts_path(&path), &opts)?;
    }
    Ok((path, opts))
}

fn open_env(shared: &Shared) -> Result<Environment> {
    let opts = &shared.opts;
    let mut flags = EnvironmentFlags::NO_TLS;
    if opts.readonly {
        flags |= EnvironmentFlags::READ_ONLY;
    } else {
        if opts.writemap {
            flags |= EnvironmentFlags::WRITE_MAP;
        }
        if opts.map_async {
            // MAP_ASYNC acts only with WRITE_MAP; without it, NO_SYNC gives the same promise
            // (commits survive a crash of the process, not of the OS).
            flags |= if opts.writemap {
                EnvironmentFlags::MAP_ASYNC
            } else {
                EnvironmentFlags::NO_SYNC
            };
        }
    }
    if !opts.readahead {
        flags |= EnvironmentFlags::NO_READAHEAD;
    }
    let map_size = usize::try_from(opts.map_size)
        .map_err(|_| Error::BadArg("map size too large for this platform".into()))?;
    let res = Environment::new()
        .set_flags(flags)
        .set_max_dbs(opts.max_dbs)
        .set_max_readers(opts.max_readers)
        .set_map_size(map_size)
        .open(&shared.path);
    res.map_err(|err| open_error(&shared.path, err))
}

fn open_error(path: &Path, err: lmdb::Error) -> Error {
    if is_corrupt(&err) {
        return Error::Corrupt {
            path: path.to_path_buf(),
            detail: err.to_string(),
        };
    }
    match err {
        lmdb::Error::Other(code) if code == libc::EAGAIN || code == libc::EWOULDBLOCK => {
            Error::Lock {
                path: path.to_path_buf(),
                detail: err.to_string(),
            }
        }
        lmdb::Error::Other(code) => Error::io(path, std::io::Error::from_raw_os_error(code)),
        other => lmdb_err(other),
    }
}

/// How long the slab thread looks for the next job before it parks. Callers that send jobs
/// one after another (a Storm query creating nodes) find it awake: parking and waking it per
/// job cost more CPU than the jobs (see [`synapse_base::spin`]).
const JOB_SPIN: Duration = Duration::from_micros(100);

/// The next job if one arrives soon (see [`JOB_SPIN`]).
fn spin_recv(spinner: &Spinner, jobs: &Receiver<Job>) -> Option<Job> {
    spinner.look(|| match jobs.try_recv() {
        Ok(job) => Look::Ready(job),
        Err(std::sync::mpsc::TryRecvError::Disconnected) => Look::Gone,
        Err(std::sync::mpsc::TryRecvError::Empty) => Look::Empty,
    })
}

impl<'e> Worker<'e> {
    fn start(shared: &'e Shared, env: &'e Environment) -> Result<Self> {
        let main = env.open_db(None).map_err(lmdb_err)?;
        let mut worker = Worker {
            shared,
            env,
            main,
            txn: None,
            log: OpLog::default(),
            dirty: false,
            dirty_since: None,
            waiters: Vec::new(),
            stop: false,
            out_of_space: false,
            prefault: Prefault::default(),
        };
        worker.refresh_map_size();
        if !shared.readonly() {
            worker.begin()?;
        }
        *lock(&shared.thread) = Some(std::thread::current().id());
        Ok(worker)
    }

    fn refresh_map_size(&self) {
        if let Ok(info) = self.env.info() {
            self.shared
                .map_size
                .store(info.map_size() as u64, Ordering::Relaxed);
        }
    }

    fn begin(&mut self) -> Result<()> {
        if self.txn.is_some() {
            return Ok(());
        }
        let txn = match self.env.begin_rw_txn() {
            Err(lmdb::Error::MapResized) => {
                // Another process grew the map: adopt its size.
                self.set_map_size(0)?;
                self.env.begin_rw_txn()
            }
            other => other,
        };
        self.txn = Some(txn.map_err(lmdb_err)?);
        Ok(())
    }

    fn set_map_size(&mut self, size: u64) -> Result<()> {
        let size = usize::try_from(size)
            .map_err(|_| Error::BadArg("map size too large for this platform".into()))?;
        let guard = write_env(self.shared);
        // The map moves.
        self.prefault.moved();
        let res = self.env.set_map_size(size);
        drop(guard);
        res.map_err(lmdb_err)?;
        self.refresh_map_size();
        Ok(())
    }

    fn serve(&mut self, jobs: &Receiver<Job>) {
        let period = self.shared.opts.commit_period;
        let spinner = Spinner::new(JOB_SPIN);
        // Whether the idle hook ran since the last job.
        let mut rested = true;
        loop {
            let wait = match self.dirty_since {
                Some(since) => (since + period).saturating_duration_since(Instant::now()),
                None => period,
            };
            let idle = Instant::now();
            let next = match spin_recv(&spinner, jobs) {
                Some(job) => Ok(job),
                None => jobs.recv_timeout(wait.max(Duration::from_millis(1))),
            };
            // A timeout counts as a long wait too.
            spinner.waited(idle.elapsed());
            match next {
                Ok(job) => {
                    rested = false;
                    self.handle(job);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if !rested && self.dirty_since.is_none() {
                        rested = true;
                        run_idle_hook();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // Group commit: let the jobs already queued join the batch being awaited.
            if !self.waiters.is_empty() {
                for _ in 0..10_000 {
                    match jobs.try_recv() {
                        Ok(job) => self.handle(job),
                        Err(_) => break,
                    }
                    if self.stop {
                        break;
                    }
                }
            }
            if self.stop {
                return;
            }
            if self.should_commit() {
                self.commit_and_reply();
                if self.shared.opts.writemap && !self.shared.readonly() {
                    // The callers have their replies: take the next write's faults now.
                    self.prefault.run(self.env);
                }
            }
        }
    }

    fn finish(&mut self) {
        self.commit_and_reply();
        if let Some(txn) = self.txn.take() {
            txn.abort();
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Run(func) => {
                let res = std::panic::catch_unwind(AssertUnwindSafe(|| func(self)));
                if res.is_err() {
                    tracing::error!(path = %self.shared.path.display(), "a slab job panicked");
                }
            }
            Job::Commit { flush, reply } => self.waiters.push((flush, reply)),
            Job::Stop => self.stop = true,
        }
    }

    /// Call `reply` once the batch holding this job's writes is committed (or the commit
    /// failed): a write and the wait for its commit in one hand-off.
    pub(crate) fn reply_after_commit(&mut self, reply: Box<dyn FnOnce(Result<()>) + Send>) {
        self.waiters.push((false, reply));
    }

    fn is_dirty(&self) -> bool {
        self.dirty || self.shared.hot_dirty.load(Ordering::Relaxed)
    }

    fn should_commit(&mut self) -> bool {
        if !self.waiters.is_empty() {
            return true;
        }
        if !self.is_dirty() {
            return false;
        }
        let since = *self.dirty_since.get_or_insert_with(Instant::now);
        let opts = &self.shared.opts;
        self.log.ops.len() >= opts.max_replay_log
            || self.log.bytes.len() >= opts.max_replay_bytes
            || since.elapsed() >= opts.commit_period
    }

    fn commit_and_reply(&mut self) {
        let res = self.commit();
        let waiters = std::mem::take(&mut self.waiters);
        let flush = res.is_ok() && waiters.iter().any(|(flush, _)| *flush);
        let flushed = if flush {
            self.env.sync(true).map_err(lmdb_err)
        } else {
            Ok(())
        };
        for (want_flush, reply) in waiters {
            let out = match (&res, &flushed, want_flush) {
                (Err(err), _, _) => Err(Error::Lmdb(format!("commit failed: {err}"))),
                (Ok(()), Err(err), true) => Err(Error::Lmdb(format!("flush failed: {err}"))),
                _ => Ok(()),
            };
            reply(out);
        }
    }

    /// Commit the pending batch (after running the commit hooks) and begin the next one.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.shared.hot_dirty.store(false, Ordering::Relaxed);
        if self.shared.readonly() {
            self.dirty_since = None;
            return Ok(());
        }
        self.run_hooks()?;
        if !self.dirty {
            self.dirty_since = None;
            return Ok(());
        }
        let started = Instant::now();
        let start_ms = synapse_base::now_ms();
        let n_ops = self.log.ops.len();
        loop {
            let Some(txn) = self.txn.take() else {
                // A previous failure left no transaction: nothing to commit.
                break;
            };
            match txn.commit() {
                Ok(()) => break,
                Err(lmdb::Error::MapFull) => {
                    // LMDB aborted the transaction: grow, replay, and commit again.
                    self.regrow()?;
                }
                Err(err) => {
                    tracing::error!(path = %self.shared.path.display(), cause = %err, ops = n_ops,
                        "slab commit failed; the batch is lost");
                    self.after_commit();
                    self.begin()?;
                    return Err(lmdb_err(err));
                }
            }
        }
        self.after_commit();
        let took = started.elapsed();
        let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        {
            let mut stats = lock(&self.shared.stats);
            if stats.len() >= 1000 {
                stats.pop_front();
            }
            stats.push_back((start_ms, n_ops, took_ms));
        }
        if took > self.shared.opts.warn_commit_time {
            tracing::warn!(path = %self.shared.path.display(), delta = took_ms, xactopslen = n_ops,
                "Commit with {n_ops} items in Slab: '{}' took {took_ms} ms - performance may be degraded.",
                self.shared.path.display());
        }
        self.begin()
    }

    fn after_commit(&mut self) {
        self.log.reset();
        self.shared.pending_ops.store(0, Ordering::Relaxed);
        self.dirty = false;
        self.dirty_since = None;
    }

    fn run_hooks(&mut self) -> Result<()> {
        let mut hooks = std::mem::take(&mut *lock(&self.shared.hooks));
        let id = self.shared.id;
        let generation = self.shared.write_gen.load(Ordering::Relaxed);
        let mut res = Ok(());
        for hook in &mut hooks {
            let mut txn = Txn::write(self, id, generation);
            if let Err(err) = hook(&mut txn) {
                res = Err(err);
            }
        }
        let mut slot = lock(&self.shared.hooks);
        // Hooks registered while these ran go after them.
        hooks.append(&mut slot);
        *slot = hooks;
        res
    }

    /// The map is full and the transaction gone: grow, begin again, and replay the batch.
    fn regrow(&mut self) -> Result<()> {
        loop {
            drop(self.txn.take());
            let grown = self.grow();
            self.begin()?;
            let Some(txn) = self.txn.as_mut() else {
                return Err(Error::Lmdb("no write transaction".into()));
            };
            match self.log.replay(txn) {
                Ok(()) => return grown,
                Err(lmdb::Error::MapFull) if grown.is_ok() => continue,
                Err(err) => {
                    // Not even the batch that fit before fits again: it is lost.
                    tracing::error!(path = %self.shared.path.display(), cause = %err,
                        "slab replay failed; the pending batch is lost");
                    drop(self.txn.take());
                    self.after_commit();
                    self.begin()?;
                    return Err(grown.err().unwrap_or_else(|| lmdb_err(err)));
                }
            }
        }
    }

    fn grow(&mut self) -> Result<()> {
        let opts = &self.shared.opts;
        let current = self.shared.map_size.load(Ordering::Relaxed);
        let mut size = match opts.grow_size {
            Some(step) => current.saturating_add(step),
            None => map_size_round(current.saturating_add(1)),
        };
        if let Some(max) = opts.max_size {
            size = size.min(max);
            if size <= current {
                self.out_of_space = true;
                return Err(Error::OutOfSpace {
                    path: self.shared.path.clone(),
                    maxsize: max,
                });
            }
        }
        tracing::info!(
            "lmdbslab {} growing map size to: {} MiB",
            self.shared.path.display(),
            size >> 20
        );
        self.set_map_size(size)
    }

    fn txn_ref(&self) -> lmdb::Result<&RwTransaction<'e>> {
        self.txn.as_ref().ok_or(lmdb::Error::BadTxn)
    }

    fn mark_dirty(&mut self) {
        self.dirty = true;
        self.shared.write_gen.fetch_add(1, Ordering::Relaxed);
        self.shared
            .pending_ops
            .store(self.log.ops.len(), Ordering::Relaxed);
    }

    /// Run `func` on a write transaction (the pending batch).
    pub(crate) fn run_write<T, E>(
        &mut self,
        func: impl FnOnce(&mut Txn<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        if self.shared.readonly() {
            return Err(Error::ReadOnly.into());
        }
        self.begin()?;
        let mark = (self.log.ops.len(), self.log.bytes.len());
        self.out_of_space = false;
        let id = self.shared.id;
        let generation = self.shared.write_gen.load(Ordering::Relaxed);
        let mut txn = Txn::write(self, id, generation);
        let res = match std::panic::catch_unwind(AssertUnwindSafe(|| func(&mut txn))) {
            Ok(res) => res,
            Err(_) => Err(Error::Panicked.into()),
        };
        if self.out_of_space {
            // The map is at its maximum: drop this closure's writes so that the batch
            // before it (which fit) can still commit.
            self.out_of_space = false;
            self.rollback(mark);
        }
        res
    }

    /// Return the pending batch to an earlier point of its log.
    fn rollback(&mut self, mark: (usize, usize)) {
        drop(self.txn.take());
        self.log.ops.truncate(mark.0);
        self.log.bytes.truncate(mark.1);
        let res =
            self.begin()
                .map_err(|err| err.to_string())
                .and_then(|()| match self.txn.as_mut() {
                    Some(txn) => self.log.replay(txn).map_err(|err| err.to_string()),
                    None => Err("no write transaction".into()),
                });
        if let Err(err) = res {
            tracing::error!(path = %self.shared.path.display(), cause = %err,
                "slab rollback failed; the pending batch is lost");
            drop(self.txn.take());
            self.after_commit();
            let _ = self.begin();
        }
        self.shared
            .pending_ops
            .store(self.log.ops.len(), Ordering::Relaxed);
    }

    /// Run `func` on a read view: the pending batch of a writable slab, or a fresh read-only
    /// transaction of a read-only one.
    pub(crate) fn run_read<T, E>(
        &mut self,
        func: impl FnOnce(&Txn<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        let id = self.shared.id;
        let generation = self.shared.write_gen.load(Ordering::Relaxed);
        if !self.shared.readonly() {
            self.begin()?;
            let txn = Txn::read(self, id, generation);
            return match std::panic::catch_unwind(AssertUnwindSafe(|| func(&txn))) {
                Ok(res) => res,
                Err(_) => Err(Error::Panicked.into()),
            };
        }
        let ro = match self.env.begin_ro_txn() {
            Err(lmdb::Error::MapResized) => {
                self.set_map_size(0)?;
                self.env.begin_ro_txn()
            }
            other => other,
        }
        .map_err(lmdb_err)?;
        let txn = Txn::read(&ro, id, generation);
        match std::panic::catch_unwind(AssertUnwindSafe(|| func(&txn))) {
            Ok(res) => res,
            Err(_) => Err(Error::Panicked.into()),
        }
    }

    /// Open (creating unless read-only) a named database.
    pub(crate) fn initdb(&mut self, name: &str, opts: DbOptions) -> Result<Db> {
        if let Some(db) = lock(&self.shared.dbs).get(name) {
            return Ok(*db);
        }
        let mut flags = DatabaseFlags::empty();
        if opts.dupsort {
            flags |= DatabaseFlags::DUP_SORT;
        }
        if opts.integerkey {
            flags |= DatabaseFlags::INTEGER_KEY;
        }
        if opts.dupfixed {
            flags |= DatabaseFlags::DUP_FIXED;
        }
        let dbi = if self.shared.readonly() {
            match self.env.open_db(Some(name)) {
                Ok(dbi) => dbi,
                Err(lmdb::Error::NotFound) => {
                    return Err(Error::NoSuchName(format!(
                        "Database name='{name}' does not exist."
                    )));
                }
                Err(err) => return Err(lmdb_err(err)),
            }
        } else {
            // LMDB creates databases in a transaction of its own: end ours first (committing
            // it, as the reference's `initdb` does).
            self.commit()?;
            drop(self.txn.take());
            let res = loop {
                match self.env.create_db(Some(name), flags) {
                    Err(lmdb::Error::MapFull) => {
                        if let Err(err) = self.grow() {
                            break Err(err);
                        }
                    }
                    Err(lmdb::Error::Incompatible) => {
                        break Err(Error::BadArg(format!(
                            "database {name} exists with other options"
                        )));
                    }
                    Err(lmdb::Error::DbsFull) => {
                        break Err(Error::BadArg(format!(
                            "too many databases (max_dbs is {})",
                            self.shared.opts.max_dbs
                        )));
                    }
                    other => break other.map_err(lmdb_err),
                }
            };
            // Read the flags the database really has before our transaction begins again.
            let res = res.map(|dbi| (dbi, self.db_is_dupsort(dbi).unwrap_or(opts.dupsort)));
            self.begin()?;
            let (dbi, dupsort) = res?;
            return Ok(self.remember(name, dbi, dupsort));
        };
        let dupsort = self.db_is_dupsort(dbi).unwrap_or(opts.dupsort);
        Ok(self.remember(name, dbi, dupsort))
    }

    fn db_is_dupsort(&self, dbi: Database) -> Option<bool> {
        self.env
            .get_db_flags(dbi)
            .ok()
            .map(|flags| flags.contains(DatabaseFlags::DUP_SORT))
    }

    fn remember(&self, name: &str, dbi: Database, dupsort: bool) -> Db {
        let db = Db {
            dbi,
            dupsort,
            slab: self.shared.id,
        };
        lock(&self.shared.dbs).insert(name.to_owned(), db);
        db
    }

    /// Open a named database only if it exists and is one (a main-database row that is not a
    /// database gives `None`).
    pub(crate) fn open_existing(&mut self, name: &str) -> Result<Option<Db>> {
        if let Some(db) = lock(&self.shared.dbs).get(name) {
            return Ok(Some(*db));
        }
        if !self.dbexists(name)? {
            return Ok(None);
        }
        if !self.shared.readonly() {
            // Opening goes through LMDB's own transaction.
            self.commit()?;
            drop(self.txn.take());
        }
        let res = self
            .env
            .open_db(Some(name))
            .map(|dbi| (dbi, self.db_is_dupsort(dbi).unwrap_or(false)));
        if !self.shared.readonly() {
            self.begin()?;
        }
        match res {
            Ok((dbi, dupsort)) => Ok(Some(self.remember(name, dbi, dupsort))),
            Err(lmdb::Error::Incompatible) | Err(lmdb::Error::NotFound) => Ok(None),
            Err(err) => Err(lmdb_err(err)),
        }
    }

    /// True if a named database exists.
    pub(crate) fn dbexists(&mut self, name: &str) -> Result<bool> {
        let main = self.main;
        let id = self.shared.id;
        self.run_read(|txn: &Txn<'_>| {
            let db = Db {
                dbi: main,
                dupsort: false,
                slab: id,
            };
            txn.has(db, name.as_bytes())
        })
    }

    /// The main (unnamed) database.
    pub(crate) fn main_db(&self) -> Db {
        Db {
            dbi: self.main,
            dupsort: false,
            slab: self.shared.id,
        }
    }

    /// Delete a named database and its rows, committing at once.
    #[allow(unsafe_code)]
    pub(crate) fn dropdb(&mut self, name: &str) -> Result<()> {
        if self.shared.readonly() {
            return Err(Error::ReadOnly);
        }
        if !self.dbexists(name)? {
            return Ok(());
        }
        let db = self.initdb(name, DbOptions::default())?;
        lock(&self.shared.dbs).remove(name);
        self.begin()?;
        let Some(txn) = self.txn.as_mut() else {
            return Err(Error::Lmdb("no write transaction".into()));
        };
        // SAFETY: `drop_db` is unsafe only because the handle must not be used afterwards.
        // It was just removed from the slab's handle cache; a caller still holding the `Db`
        // gets an LMDB error (invalid handle), not undefined behaviour.
        let res = unsafe { txn.drop_db(db.dbi) };
        res.map_err(lmdb_err)?;
        self.dirty = true;
        self.commit()
    }
}

impl RawRead for Worker<'_> {
    fn raw_get(&self, db: Database, key: &[u8]) -> lmdb::Result<&[u8]> {
        self.txn_ref()?.get(db, &key)
    }

    fn raw_cursor(&self, db: Database) -> lmdb::Result<lmdb::RoCursor<'_>> {
        self.txn_ref()?.open_ro_cursor(db)
    }

    fn raw_stat(&self, db: Database) -> lmdb::Result<lmdb::Stat> {
        self.txn_ref()?.stat(db)
    }
}

impl RawWrite for Worker<'_> {
    fn raw_put(&mut self, db: Database, key: &[u8], val: &[u8], flags: WriteFlags) -> Result<bool> {
        loop {
            let Some(txn) = self.txn.as_mut() else {
                return Err(Error::Lmdb("no write transaction".into()));
            };
            match txn.put(db, &key, &val, flags) {
                Ok(()) => {
                    self.log.put(db, key, val, flags);
                    self.mark_dirty();
                    return Ok(true);
                }
                Err(lmdb::Error::KeyExist) => return Ok(false),
                Err(lmdb::Error::MapFull) => self.regrow()?,
                Err(err) => return Err(lmdb_err(err)),
            }
        }
    }

    fn raw_put_many(
        &mut self,
        db: Database,
        rows: &[(&[u8], &[u8])],
        flags: WriteFlags,
    ) -> Result<usize> {
        let mut done = 0;
        loop {
            let Some(txn) = self.txn.as_mut() else {
                return Err(Error::Lmdb("no write transaction".into()));
            };
            let log = &mut self.log;
            let res = txn.open_rw_cursor(db).and_then(|mut cursor| {
                while let Some((key, val)) = rows.get(done) {
                    cursor.put(key, val, flags)?;
                    log.put(db, key, val, flags);
                    done += 1;
                }
                Ok(())
            });
            if done > 0 {
                self.mark_dirty();
            }
            match res {
                Ok(()) | Err(lmdb::Error::KeyExist) => return Ok(done),
                // The cursor is closed: grow, replay what is done, go on from there.
                Err(lmdb::Error::MapFull) => self.regrow()?,
                Err(err) => return Err(lmdb_err(err)),
            }
        }
    }

    fn raw_del(&mut self, db: Database, key: &[u8], val: Option<&[u8]>) -> Result<bool> {
        loop {
            let Some(txn) = self.txn.as_mut() else {
                return Err(Error::Lmdb("no write transaction".into()));
            };
            match txn.del(db, &key, val) {
                Ok(()) => {
                    self.log.del(db, key, val);
                    self.mark_dirty();
                    return Ok(true);
                }
                Err(lmdb::Error::NotFound) => return Ok(false),
                Err(lmdb::Error::MapFull) => self.regrow()?,
                Err(err) => return Err(lmdb_err(err)),
            }
        }
    }

    fn raw_clear(&mut self, db: Database) -> Result<()> {
        loop {
            let Some(txn) = self.txn.as_mut() else {
                return Err(Error::Lmdb("no write transaction".into()));
            };
            match txn.clear_db(db) {
                Ok(()) => {
                    self.log.clear_db(db);
                    self.mark_dirty();
                    return Ok(());
                }
                Err(lmdb::Error::MapFull) => self.regrow()?,
                Err(err) => return Err(lmdb_err(err)),
            }
        }
    }

    fn max_value_size(&self) -> usize {
        self.shared.opts.max_value_size
    }
}
