//! A one-line progress display on stderr for long transfers: `\r`-rewritten, at most ten
//! updates a second, shown only when stderr is a terminal and the total is large.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Below this many bytes no progress is shown.
const MIN_TOTAL: u64 = 16 * 1024 * 1024;
/// The shortest time between two updates.
const PERIOD: Duration = Duration::from_millis(100);

/// A progress line for one transfer.
pub(crate) struct Progress {
    label: String,
    total: u64,
    done: u64,
    start: Instant,
    last: Option<Instant>,
    shown: bool,
    enabled: bool,
}

impl Progress {
    /// A progress line labelled `label` for `total` bytes.
    pub(crate) fn new(label: &str, total: u64) -> Self {
        Self {
            label: label.to_string(),
            total,
            done: 0,
            start: Instant::now(),
            last: None,
            shown: false,
            enabled: total >= MIN_TOTAL && std::io::stderr().is_terminal(),
        }
    }

    /// Count `n` more bytes.
    pub(crate) fn add(&mut self, n: u64) {
        self.done += n;
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < PERIOD)
        {
            return;
        }
        self.last = Some(now);
        self.draw();
    }

    fn draw(&mut self) {
        let line = render(&self.label, self.done, self.total, self.start.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.shown = true;
    }

    /// End the line (if one was drawn).
    pub(crate) fn finish(mut self) {
        if self.shown {
            self.draw();
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// The text of a progress line.
fn render(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let pct = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        done as f64 / 1e6 / secs
    } else {
        0.0
    };
    let width = 24usize;
    let filled = ((pct / 100.0) * width as f64)
        .round()
        .clamp(0.0, width as f64) as usize;
    format!(
        "{label} [{}{}] {:.1}/{:.1} MiB {pct:.0}% {rate:.1} MB/s",
        "#".repeat(filled),
        ".".repeat(width - filled),
        done as f64 / MIB,
        total as f64 / MIB,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let line = render("x.bin", 50 << 20, 100 << 20, Duration::from_secs(1));
        assert_eq!(
            line,
            "x.bin [############............] 50.0/100.0 MiB 50% 52.4 MB/s"
        );
        assert!(render("e", 0, 0, Duration::ZERO).contains("100%"));
    }
}
