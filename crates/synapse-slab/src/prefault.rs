//! Page faults taken ahead of the writes: a write-map environment grows by writing pages past
//! the end of its data, and the first write to each such page faults (the kernel allocates a
//! page-cache page, zeroes it and maps it). For an append-mostly store (a Cryotank) those
//! faults were about half of each commit's time. After a commit, while it has no job, the slab
//! thread populates the next pages of the map writable (`MADV_POPULATE_WRITE`, Linux 5.14),
//! which takes those faults off the next write's path without touching the pages' contents.

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
    /// The map's address and size (a resize moves the map): found once per size.
    base: usize,
    size: usize,
    /// The worker's remap count when `base` was found.
    remaps: u64,
    /// Bytes of the map from its start that are populated.
    done: usize,
    /// The data's end at the last run.
    last_end: usize,
    /// Set when the kernel refused: never tried again.
    off: bool,
}

impl Prefault {
    /// Populate the pages ahead of the data's end, as far as the last commit's growth times
    /// [`COMMITS_AHEAD`] (at most [`AHEAD`]), once less than half of that is populated.
    /// `remaps` counts the map's moves (every resize remaps it). Errors are not the
    /// caller's concern: it only loses the head start.
    pub(crate) fn run(&mut self, env: &Environment, remaps: u64) {
        if self.off {
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
        if self.base == 0 || remaps != self.remaps || size != self.size {
            let Some(base) = map_base(env, size) else {
                tracing::debug!("the slab's map was not found; pages are not populated ahead");
                self.off = true;
                return;
            };
            (self.base, self.size, self.remaps, self.done) = (base, size, remaps, 0);
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
        if populate_write(self.base + from, want - from) {
            self.done = want;
        } else {
            tracing::debug!("MADV_POPULATE_WRITE refused; pages are no longer populated ahead");
            self.off = true;
        }
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
fn populate_write(addr: usize, len: usize) -> bool {
    // SAFETY: the range lies inside the environment's live map (bounded by its size above);
    // MADV_POPULATE_WRITE faults pages in writable without changing their contents.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn populate_write(_addr: usize, _len: usize) -> bool {
    false
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
                pre.run(&env, 0);
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
