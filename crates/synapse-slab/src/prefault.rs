//! Page faults taken ahead of the writes: a write-map environment grows by writing pages past
//! the end of its data, and the first write to each such page faults (the kernel allocates a
//! page-cache page, zeroes it and maps it). For an append-mostly store (a Cryotank) those
//! faults were about half of each commit's time. After a commit, the slab thread asks for the
//! next pages of the map to be populated writable (`MADV_POPULATE_WRITE`, Linux 5.14), which
//! takes those faults off the next write's path without touching the pages' contents.
//!
//! The populating is done by one thread per process at the lowest priority (`SCHED_IDLE`):
//! it only ever uses a CPU nothing else wants. Done by the slab thread itself, it held up the
//! thread the commit's reply had just woken (often queued on the same CPU) by the 50-100 µs a
//! run takes, and it competed with the reading of the next call.
//!
//! A map that moves (a resize) or closes is first marked dead, and the helper skips the
//! requests of dead maps. Between the helper's look at the mark and its `madvise` the map
//! could still move (the helper takes no lock the slab thread would wait for: a thread at the
//! lowest priority can be kept off the CPUs indefinitely). That window is a few instructions
//! wide, and what it risks is harmless: populating writable changes no memory's contents,
//! whatever is mapped there by then (at worst it faults in a few pages of it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lmdb::Environment;
use lmdb_sys as ffi;

/// At most how far past the data's end the pages are kept populated.
const AHEAD: usize = 512 * 1024;
/// How many commits' growth the populated run ahead covers: a slab that seldom grows keeps
/// next to nothing populated (no memory spent on it), an append-mostly one up to [`AHEAD`].
const COMMITS_AHEAD: usize = 4;

/// Where the pages ahead of the data have been populated up to, for one environment.
#[derive(Debug, Default)]
pub(crate) struct Prefault {
    /// The map's address and size (a resize moves the map): found once per map.
    base: usize,
    size: usize,
    /// Set while the map at `base` is in place (shared with the helper's requests).
    live: Arc<AtomicBool>,
    /// Bytes of the map from its start that are populated (or asked to be).
    done: usize,
    /// The data's end at the last run.
    last_end: usize,
    /// Set when the map could not be found: never tried again.
    off: bool,
}

impl Prefault {
    /// Ask for the pages ahead of the data's end to be populated, as far as the last
    /// commit's growth times [`COMMITS_AHEAD`] (at most [`AHEAD`]), once less than half of
    /// that is. Errors are not the caller's concern: it only loses the head start.
    pub(crate) fn run(&mut self, env: &Environment) {
        if self.off || helper::refused() {
            return;
        }
        let Some((size, end, psize)) = data_end(env) else {
            self.off = true;
            return;
        };
        let last = std::mem::replace(&mut self.last_end, end);
        // Nothing to go by on the first run.
        let grew = if last == 0 {
            0
        } else {
            end.saturating_sub(last)
        };
        let ahead = grew.saturating_mul(COMMITS_AHEAD).min(AHEAD);
        if ahead == 0 {
            return;
        }
        if self.base == 0 || size != self.size {
            self.moved();
            let Some(base) = map_base(env, size) else {
                tracing::debug!("the slab's map was not found; pages are not populated ahead");
                self.off = true;
                return;
            };
            (self.base, self.size, self.done) = (base, size, 0);
            self.live.store(true, Ordering::Release);
        }
        let want = end.saturating_add(ahead).min(size);
        if self.done >= end.saturating_add(ahead / 2).min(want) {
            return;
        }
        // LMDB's pages are OS pages, so `end` is page-aligned, as madvise wants.
        let from = self.done.max(end);
        if from >= want || from % psize != 0 {
            return;
        }
        let asked = helper::populate(helper::Request {
            live: Arc::clone(&self.live),
            addr: self.base + from,
            len: want - from,
            ack: None,
        });
        if asked {
            self.done = want;
        }
    }

    /// The map is about to move or close: no more populating it.
    pub(crate) fn moved(&mut self) {
        self.live.store(false, Ordering::Release);
        self.live = Arc::default();
        self.base = 0;
    }
}

impl Drop for Prefault {
    fn drop(&mut self) {
        // (The environment closes after its worker.)
        self.live.store(false, Ordering::Release);
    }
}

/// The populating thread.
mod helper {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};
    use std::sync::{Arc, OnceLock};

    /// Requests waiting at most: past that, a request is dropped (a busy machine leaves the
    /// helper no CPU, and a request that waited that long is for pages written meanwhile).
    const QUEUE: usize = 64;
    /// Populated this much at a time, the map's mark looked at before each.
    const CHUNK: usize = 64 * 1024;

    /// Populate `len` bytes from `addr` while `live` is set; then send on `ack` if given.
    pub(super) struct Request {
        pub(super) live: Arc<AtomicBool>,
        pub(super) addr: usize,
        pub(super) len: usize,
        pub(super) ack: Option<Sender<()>>,
    }

    /// Set once the kernel refused to populate (older than Linux 5.14): nothing is asked any
    /// more.
    static REFUSED: AtomicBool = AtomicBool::new(false);

    pub(super) fn refused() -> bool {
        REFUSED.load(Ordering::Relaxed)
    }

    /// Hand `req` to the helper (started on first use): false if it was not taken.
    pub(super) fn populate(req: Request) -> bool {
        static QUEUED: OnceLock<Option<SyncSender<Request>>> = OnceLock::new();
        let Some(tx) = QUEUED.get_or_init(start) else {
            return false;
        };
        match tx.try_send(req) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    fn start() -> Option<SyncSender<Request>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        match std::thread::Builder::new()
            .name("slab-prefault".into())
            .spawn(move || serve(&rx))
        {
            Ok(_) => Some(tx),
            Err(err) => {
                tracing::debug!(%err, "no thread to populate pages ahead");
                None
            }
        }
    }

    fn serve(rx: &Receiver<Request>) {
        lowest_priority();
        while let Ok(req) = rx.recv() {
            let mut at = 0;
            while at < req.len && req.live.load(Ordering::Acquire) {
                let len = CHUNK.min(req.len - at);
                if let Err(err) = super::populate_write(req.addr + at, len) {
                    if err.raw_os_error() == Some(libc::EINVAL) {
                        tracing::debug!(
                            "MADV_POPULATE_WRITE refused; pages are not populated ahead"
                        );
                        REFUSED.store(true, Ordering::Relaxed);
                    }
                    break;
                }
                at += len;
            }
            if let Some(ack) = req.ack {
                let _ = ack.send(());
            }
        }
    }

    /// Run this thread only when a CPU has nothing else to do (`SCHED_IDLE`), or at least
    /// at the lowest nice value.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn lowest_priority() {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: changes this thread's own policy (0 = the calling thread); `param` lives
        // across the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            // SAFETY: as above, for this thread's nice value.
            let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn lowest_priority() {}

    /// Wait until the requests made so far are handled (they are handled in order).
    #[cfg(test)]
    pub(super) fn settle() {
        let (ack, done) = std::sync::mpsc::channel();
        let req = Request {
            live: Arc::new(AtomicBool::new(false)),
            addr: 0,
            len: 0,
            ack: Some(ack),
        };
        assert!(populate(req), "the helper takes requests");
        done.recv().expect("the helper acknowledges");
    }
}

/// The map's size, the byte offset just past the last page in use, and the page size.
fn data_end(env: &Environment) -> Option<(usize, usize, usize)> {
    let info = env.info().ok()?;
    let psize = env.stat().ok()?.page_size() as usize;
    let end = info.last_pgno().checked_add(1)?.checked_mul(psize)?;
    Some((info.map_size(), end, psize))
}

/// Where the environment's data file is mapped: LMDB does not say (its `me_mapaddr` is the
/// fixed-map address, 0 here), so the process's map list is searched for the file's inode
/// mapped from offset 0 at the map's size.
#[allow(unsafe_code)]
fn map_base(env: &Environment, size: usize) -> Option<usize> {
    let mut fd: ffi::mdb_filehandle_t = -1;
    // SAFETY: `env.env()` is live while `env` is borrowed; the call only writes `fd`.
    if unsafe { ffi::mdb_env_get_fd(env.env(), &mut fd) } != 0 {
        return None;
    }
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is the environment's open data file; fstat fills `st` on success.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it wrote the struct.
    let ino = unsafe { st.assume_init() }.st_ino;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| mapped_at(line, ino, size))
}

/// The start of a `/proc/self/maps` line's range if it maps inode `ino` from offset 0 over
/// `size` bytes.
fn mapped_at(line: &str, ino: u64, size: usize) -> Option<usize> {
    let mut cols = line.split_ascii_whitespace();
    let (range, _perms, offset, _dev, inode) = (
        cols.next()?,
        cols.next()?,
        cols.next()?,
        cols.next()?,
        cols.next()?,
    );
    if inode.parse::<u64>().ok()? != ino || u64::from_str_radix(offset, 16).ok()? != 0 {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end.checked_sub(start)? == size).then_some(start)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn populate_write(addr: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: madvise only reads its arguments; MADV_POPULATE_WRITE faults pages in writable
    // without changing their contents, whatever is mapped at the range (see the module docs).
    if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn populate_write(_addr: usize, _len: usize) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use lmdb::{EnvironmentFlags, Transaction, WriteFlags};

    /// Minor page faults taken by this thread so far.
    #[allow(unsafe_code)]
    fn faults() -> i64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: getrusage fills the struct it is given.
        assert_eq!(
            unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) },
            0
        );
        // SAFETY: it succeeded.
        unsafe { usage.assume_init() }.ru_minflt
    }

    /// Append 64 records of 4000 bytes from key `from` in one commit; the faults it took.
    fn append(env: &Environment, from: u32) -> i64 {
        let db = env.open_db(None).unwrap();
        let before = faults();
        let mut txn = env.begin_rw_txn().unwrap();
        for i in from..from + 64 {
            txn.put(db, &i.to_be_bytes(), &[i as u8; 4000], WriteFlags::APPEND)
                .unwrap();
        }
        txn.commit().unwrap();
        faults() - before
    }

    /// Open an environment, append two batches, and return the faults taken by appending a
    /// third, with or without populating after each commit.
    fn faults_of_a_write(populate: bool) -> (i64, Prefault) {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment::new()
            .set_flags(EnvironmentFlags::WRITE_MAP | EnvironmentFlags::MAP_ASYNC)
            .set_map_size(64 << 20)
            .open(dir.path())
            .unwrap();
        let mut pre = Prefault::default();
        for from in [0, 64] {
            append(&env, from);
            if populate {
                pre.run(&env);
                helper::settle();
            }
        }
        let took = append(&env, 128);
        let db = env.open_db(None).unwrap();
        let txn = env.begin_ro_txn().unwrap();
        for i in [0u32, 9, 100, 191] {
            assert_eq!(txn.get(db, &i.to_be_bytes()).unwrap(), &[i as u8; 4000]);
        }
        (took, pre)
    }

    #[test]
    fn pages_past_the_data_are_populated_ahead_of_the_writes() {
        let (cold, _) = faults_of_a_write(false);
        let (warm, pre) = faults_of_a_write(true);
        assert!(!pre.off);
        assert!(pre.done > pre.last_end, "populated past the data");
        // A page each (67 here) against next to none.
        assert!(cold >= 64, "{cold} faults without populating");
        assert!(
            warm * 8 < cold,
            "{warm} faults after populating, {cold} without"
        );
    }
}
