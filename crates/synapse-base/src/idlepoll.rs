//! Idle polling: keeping a busy server's CPUs awake between its hand-offs.
//!
//! A call to a service is a chain of hand-offs between threads (the client, the server's
//! worker, the slab thread, the worker again, the client), each one a wake-up. On a VM a
//! wake-up on a halted vCPU costs 20-50 us, more than most steps of the chain. [`start`] runs
//! one polling thread per CPU in the lowest scheduling class (Linux's `SCHED_IDLE`): a poller
//! gets a CPU only when no other thread wants it and gives it up at once when one does, so a
//! CPU with a poller on it is running, not halted, when the next wake-up comes.
//!
//! Pollers run only within [`WINDOW`] of the last [`touch`] (a message read, a slab job
//! queued), then sleep until the next touch: an idle service uses no CPU. While a service is
//! busy its idle CPUs show as fully used; `SYNAPSE_SPIN=0` turns idle polling off, as it does
//! spinning (see [`crate::spin`]). [`touch`] costs a clock read, and nothing at all in a
//! process that never called [`start`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long pollers keep polling after the last [`touch`].
pub const WINDOW: Duration = Duration::from_millis(2);

/// Pause instructions between two looks at the clock.
const PAUSES: u32 = 256;

/// When the process's clock started (the time base of [`LAST`]).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// Whether pollers were started.
static STARTED: AtomicBool = AtomicBool::new(false);
/// The last touch, in nanoseconds since [`EPOCH`].
static LAST: AtomicU64 = AtomicU64::new(0);
/// Pollers polling now (not asleep).
static POLLING: AtomicUsize = AtomicUsize::new(0);
/// Pollers asleep (a touch wakes them).
static SLEEPING: AtomicUsize = AtomicUsize::new(0);
static GATE: Mutex<()> = Mutex::new(());
static WAKE: Condvar = Condvar::new();

fn now_nanos() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn idle() -> bool {
    let window = u64::try_from(WINDOW.as_nanos()).unwrap_or(u64::MAX);
    now_nanos().saturating_sub(LAST.load(Ordering::SeqCst)) > window
}

/// Note work: pollers poll for [`WINDOW`] from now (waking if asleep).
#[inline]
pub fn touch() {
    if !STARTED.load(Ordering::Relaxed) {
        return;
    }
    LAST.store(now_nanos(), Ordering::SeqCst);
    if SLEEPING.load(Ordering::SeqCst) > 0 {
        let _gate = GATE.lock().unwrap_or_else(PoisonError::into_inner);
        WAKE.notify_all();
    }
}

/// Pollers polling now: threads that `/proc/loadavg` counts as runnable but that give way to
/// any other thread (the spinners leave them out of the machine's load).
pub fn polling() -> usize {
    POLLING.load(Ordering::Relaxed)
}

/// Start one poller per CPU (once per process; later calls do nothing). Returns how many
/// started: none with `SYNAPSE_SPIN=0`, on one CPU, or where threads cannot be put in the
/// idle scheduling class (pollers in the normal class would take CPU time from real work).
pub fn start() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let off = std::env::var_os("SYNAPSE_SPIN").is_some_and(|val| val == "0");
    if off || cpus < 2 || STARTED.swap(true, Ordering::SeqCst) {
        return 0;
    }
    LAST.store(now_nanos(), Ordering::SeqCst);
    let mut started = 0;
    for indx in 0..cpus {
        let spawned = std::thread::Builder::new()
            .name(format!("idle-poll-{indx}"))
            .stack_size(64 * 1024)
            .spawn(|| {
                if lowest_priority() {
                    poll();
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(err) => tracing::debug!(%err, "cannot start an idle poller"),
        }
    }
    started
}

/// Put the calling thread in the idle scheduling class.
#[cfg(target_os = "linux")]
fn lowest_priority() -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    #[allow(unsafe_code)]
    // SAFETY: `param` is a live sched_param; pid 0 is the calling thread.
    let res = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &raw const param) };
    if res != 0 {
        tracing::debug!(err = %std::io::Error::last_os_error(), "no idle scheduling class: no idle polling");
    }
    res == 0
}

#[cfg(not(target_os = "linux"))]
fn lowest_priority() -> bool {
    false
}

fn poll() {
    POLLING.fetch_add(1, Ordering::SeqCst);
    loop {
        if idle() {
            POLLING.fetch_sub(1, Ordering::SeqCst);
            SLEEPING.fetch_add(1, Ordering::SeqCst);
            let mut gate = GATE.lock().unwrap_or_else(PoisonError::into_inner);
            // (`touch` stores the time before it looks for sleepers: checked under the lock,
            // a touch is either seen here or wakes this wait.)
            while idle() {
                gate = WAKE
                    .wait_timeout(gate, Duration::from_secs(1))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            drop(gate);
            SLEEPING.fetch_sub(1, Ordering::SeqCst);
            POLLING.fetch_add(1, Ordering::SeqCst);
        }
        for _ in 0..PAUSES {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_without_start_does_nothing() {
        // (this test binary never starts pollers)
        touch();
        assert_eq!(LAST.load(Ordering::SeqCst), 0);
        assert_eq!(polling(), 0);
    }
}
