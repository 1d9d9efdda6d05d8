//! Idle pollers: started once, polling after a touch, asleep once the window has passed.

use std::time::{Duration, Instant};

use synapse_base::idlepoll;

/// Wait up to 10 s for `cond` (liveness only: no duration is asserted).
fn eventually(cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

#[test]
fn pollers_poll_after_a_touch_and_sleep_when_idle() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let spin_off = std::env::var_os("SYNAPSE_SPIN").is_some_and(|val| val == "0");
    let started = idlepoll::start();
    // a second start does nothing
    assert_eq!(idlepoll::start(), 0);
    if cpus < 2 || spin_off {
        assert_eq!(started, 0);
        return;
    }
    assert_eq!(started, cpus);
    // Without touches the pollers go to sleep ...
    assert!(eventually(|| idlepoll::polling() == 0), "pollers never slept");
    // ... a touch wakes them (if the idle scheduling class is available) ...
    let woke = eventually(|| {
        idlepoll::touch();
        idlepoll::polling() > 0
    });
    // ... and they sleep again once the touches stop.
    assert!(eventually(|| idlepoll::polling() == 0), "pollers kept polling");
    // (Linux lets any thread lower itself to the idle class; elsewhere pollers never run)
    assert_eq!(woke, cfg!(target_os = "linux"));
}
