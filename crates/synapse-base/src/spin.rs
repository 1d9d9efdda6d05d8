//! Brief waits without parking, for hand-offs that usually take microseconds: between the
//! slab thread and its callers, between a telepath client and server.
//!
//! Most slab jobs and most calls take microseconds. A thread that parks to wait for one (or for the next
//! one) is woken by a futex or an eventfd write, and on a VM each wake-up of a halted vCPU
//! costs more than the job. So both sides look for a while first, pausing between looks,
//! and park once the limit runs out. (Yielding the CPU between looks instead is worse on a
//! busy machine: the yielding thread waits behind the other processes for a time slice.)
//!
//! A [`Spinner`] remembers how long the last wait took in all: after one that outlasted
//! twice its limit (the other side is idle) the next wait parks at once. Nothing spins
//! while the machine has more runnable threads than CPUs, plus one for a passing thread
//! (the runnable count of Linux's `/proc/loadavg`, which includes the spinners, looked up at most every
//! few milliseconds): then the thread waited for may be queued behind a spinner. Nor do more
//! threads of one process spin at once than it has CPUs, less one. Setting the
//! environment variable `SYNAPSE_SPIN=0` turns spinning off.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often the machine's load is looked up.
const LOAD_PERIOD: Duration = Duration::from_millis(5);

/// When the process's clock started (the load lookups' time base).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// When the load was last looked up, in nanoseconds since [`EPOCH`].
static LOAD_AT: AtomicU64 = AtomicU64::new(0);
/// Whether the machine had more runnable threads than CPUs then.
static BUSY: AtomicBool = AtomicBool::new(false);
/// Whether spinning is allowed: the environment variable `SYNAPSE_SPIN=0` turns it off (every
/// wait parks at once), e.g. on a machine whose CPUs are shared with other work.
static ENABLED: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("SYNAPSE_SPIN").is_none_or(|val| val != "0"));
/// The number of CPUs.
static CPUS: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(1, usize::from));

/// Whether the machine has more runnable threads than CPUs plus one (looked up every
/// [`LOAD_PERIOD`]; never on systems without `/proc/loadavg`).
fn machine_busy() -> bool {
    if !*ENABLED {
        return true;
    }
    let now = u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let at = LOAD_AT.load(Ordering::Relaxed);
    let period = u64::try_from(LOAD_PERIOD.as_nanos()).unwrap_or(u64::MAX);
    if now.saturating_sub(at) >= period
        && LOAD_AT
            .compare_exchange(at, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let running = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|loadavg| runnable(&loadavg));
        BUSY.store(running.is_some_and(|n| n > *CPUS + 1), Ordering::Relaxed);
    }
    BUSY.load(Ordering::Relaxed)
}

/// The runnable threads of `/proc/loadavg` (its fourth field is `runnable/total`).
fn runnable(loadavg: &str) -> Option<usize> {
    loadavg
        .split_whitespace()
        .nth(3)
        .and_then(|field| field.split_once('/'))
        .and_then(|(running, _)| running.parse().ok())
}

/// How long a thread waits for a spinning slot to free up.
const SLOT_WAIT: Duration = Duration::from_micros(5);

/// Threads of this process spinning now.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

/// One of the process's spinning threads: fewer spin at once than the CPUs (less those a
/// spinner leaves free, see [`Spinner::leaving_free`]), so the threads they wait for keep a CPU
/// to run on.
struct SpinSlot;

impl SpinSlot {
    /// A slot, waiting up to [`SLOT_WAIT`] for one: a thread that has just handed work to a
    /// spinning one finds its slot taken until it sees the work.
    fn take(max: usize) -> Option<SpinSlot> {
        let take = || {
            SPINNING
                .fetch_update(Ordering::Acquire, Ordering::Relaxed, |now| {
                    (now < max).then_some(now + 1)
                })
                .is_ok()
        };
        if take() {
            return Some(SpinSlot);
        }
        wait_pausing(SLOT_WAIT, 4, || {
            if SPINNING.load(Ordering::Relaxed) >= max {
                Look::Empty
            } else if take() {
                Look::Ready(SpinSlot)
            } else {
                Look::Empty
            }
        })
    }
}

impl Drop for SpinSlot {
    fn drop(&mut self) {
        SPINNING.fetch_sub(1, Ordering::Release);
    }
}

/// A spin limit that is only used while waits are short (see the module docs).
#[derive(Debug)]
pub struct Spinner {
    limit: Duration,
    pauses: u32,
    leave: usize,
    last_nanos: AtomicU64,
}

impl Spinner {
    /// A spinner that looks for at most `limit`.
    pub const fn new(limit: Duration) -> Spinner {
        Spinner {
            limit,
            pauses: PAUSES,
            leave: 0,
            last_nanos: AtomicU64::new(0),
        }
    }

    /// This spinner, pausing `pauses` times between looks (a pause takes 10-150 ns, by CPU):
    /// fewer for looks that cost a system call anyway, so a value is seen sooner.
    #[must_use]
    pub const fn with_pauses(mut self, pauses: u32) -> Spinner {
        self.pauses = pauses;
        self
    }

    /// Look with `look` (see [`wait`]) if the last wait was short and the machine is not
    /// busy; `None` means park.
    pub fn look<T>(&self, look: impl FnMut() -> Look<T>) -> Option<T> {
        self.look_prepared(|| {}, look)
    }

    /// [`Spinner::look`], calling `prepare` first once it is sure to look (it has its
    /// spinning slot): for set-up that only a spin needs.
    pub fn look_prepared<T>(
        &self,
        prepare: impl FnOnce(),
        mut look: impl FnMut() -> Look<T>,
    ) -> Option<T> {
        if !self.last_was_short() || machine_busy() {
            return None;
        }
        // What is already there needs no slot (taking one may mean waiting for it).
        match look() {
            Look::Ready(val) => return Some(val),
            Look::Gone => return None,
            Look::Empty => {}
        }
        let _slot = SpinSlot::take(CPUS.saturating_sub(self.leave))?;
        prepare();
        wait_pausing(self.limit, self.pauses, look)
    }

    /// This spinner, spinning only while `cpus` CPUs stay free of this process's spinners:
    /// for waits on another process (a telepath peer), which needs a CPU of its own.
    #[must_use]
    pub const fn leaving_free(mut self, cpus: usize) -> Spinner {
        self.leave = cpus;
        self
    }

    /// Whether [`Spinner::look`] would look now (the last wait was short and the machine is
    /// not busy).
    pub fn will_spin(&self) -> bool {
        self.last_was_short() && !machine_busy()
    }

    fn last_was_short(&self) -> bool {
        Duration::from_nanos(self.last_nanos.load(Ordering::Relaxed)) <= self.limit * 2
    }

    /// Record how long a wait took in all, from its start to its value.
    pub fn waited(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.last_nanos.store(nanos, Ordering::Relaxed);
    }
}

/// What a look found.
#[derive(Debug)]
pub enum Look<T> {
    /// The value waited for.
    Ready(T),
    /// Nothing yet.
    Empty,
    /// Nothing will come: stop looking.
    Gone,
}

/// How many times [`wait`] pauses between looks.
const PAUSES: u32 = 64;

/// Look with `look` until it finds something or `limit` runs out (`None`).
pub fn wait<T>(limit: Duration, look: impl FnMut() -> Look<T>) -> Option<T> {
    wait_pausing(limit, PAUSES, look)
}

/// [`wait`], pausing `pauses` times between looks.
fn wait_pausing<T>(limit: Duration, pauses: u32, mut look: impl FnMut() -> Look<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        match look() {
            Look::Ready(val) => return Some(val),
            Look::Gone => return None,
            Look::Empty => {}
        }
        if start.elapsed() >= limit {
            return None;
        }
        for _ in 0..pauses {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_with_a_value_or_when_nothing_can_come() {
        let mut looks = 0;
        let got = wait(Duration::from_secs(60), || {
            looks += 1;
            if looks == 1000 {
                Look::Ready(7)
            } else {
                Look::Empty
            }
        });
        assert_eq!(got, Some(7));
        assert!(wait(Duration::from_secs(60), || Look::<()>::Gone).is_none());
        assert!(wait(Duration::ZERO, || Look::<()>::Empty).is_none());
    }

    #[test]
    fn spinning_slots_are_limited_and_given_back() {
        let first = SpinSlot::take(1).expect("a free slot");
        assert!(SpinSlot::take(1).is_none(), "the only slot is taken");
        drop(first);
        let again = SpinSlot::take(1);
        assert!(again.is_some(), "the slot came back");
        assert!(SpinSlot::take(0).is_none(), "no slot when no CPU is left");
    }

    #[test]
    fn runnable_threads_are_read_from_proc_loadavg() {
        assert_eq!(runnable("0.93 1.15 1.23 3/150 12345\n"), Some(3));
        assert_eq!(runnable("0.93 1.15"), None);
    }

    #[test]
    fn a_spinner_parks_at_once_after_a_long_wait() {
        let spinner = Spinner::new(Duration::from_secs(60));
        assert!(spinner.last_was_short());
        spinner.waited(Duration::from_secs(121));
        assert!(!spinner.last_was_short());
        spinner.waited(Duration::from_secs(1));
        assert!(spinner.last_was_short());
    }
}
