//! Progress lines on stderr, so a long run shows it is alive. Stdout is
//! kept for the report alone.

use std::time::{Duration, Instant};

/// How often a long phase reports.
const EVERY: Duration = Duration::from_secs(2);

/// Prints one progress line.
pub(crate) fn note(message: impl std::fmt::Display) {
    eprintln!("[bench] {message}");
}

/// Reports `done of total` at most every two seconds.
pub(crate) struct Progress {
    label: String,
    total: u64,
    started: Instant,
    last_report: Instant,
}

impl Progress {
    /// Starts counting now.
    pub(crate) fn new(label: &str, total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            label: label.to_string(),
            total,
            started: now,
            last_report: now,
        }
    }

    /// Prints a line if one is due.
    pub(crate) fn update(&mut self, done: u64) {
        if self.last_report.elapsed() < EVERY || done >= self.total {
            return;
        }
        self.last_report = Instant::now();
        let secs = self.started.elapsed().as_secs_f64();
        note(format_args!(
            "  {}: {done}/{} ({:.0}/s, {secs:.0} s)",
            self.label,
            self.total,
            done as f64 / secs.max(1e-9)
        ));
    }
}
