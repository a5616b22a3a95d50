//! Who used the CPU while a run was measured: the benchmark process, the
//! server under test, or other processes on the machine (noise).
//!
//! Counters come from `/proc/stat` (the whole machine) and
//! `/proc/PID/stat` (our two processes), in clock ticks. A shared machine
//! that is busy elsewhere skews every figure, so the report states the
//! share other processes took, and a run can wait for the machine to settle.

use std::time::{Duration, Instant};

use crate::progress::note;

/// Busy and total ticks of the whole machine, all CPUs.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

/// User plus system ticks of a process (and of its reaped children).
fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the parenthesised command name; utime is field 14.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

/// CPU shares over a stretch of time, in percent of the whole machine.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpuShare {
    /// The benchmark process (publishers, receiver, baseline client).
    pub(crate) bench: f64,
    /// The server under test.
    pub(crate) server: f64,
    /// Everything else on the machine.
    pub(crate) other: f64,
}

/// Counters at the start of a stretch.
pub(crate) struct CpuWatch {
    server_pid: u32,
    machine: (u64, u64),
    bench: u64,
    server: u64,
}

impl CpuWatch {
    /// Starts watching now.
    pub(crate) fn start(server_pid: u32) -> CpuWatch {
        CpuWatch {
            server_pid,
            machine: machine_ticks().unwrap_or_default(),
            bench: process_ticks("self"),
            server: process_ticks(&server_pid.to_string()),
        }
    }

    /// Shares since `start`.
    pub(crate) fn share(&self) -> CpuShare {
        let (busy, total) = machine_ticks().unwrap_or_default();
        let total = total.saturating_sub(self.machine.1).max(1) as f64;
        let busy = busy.saturating_sub(self.machine.0) as f64;
        let bench = process_ticks("self").saturating_sub(self.bench) as f64;
        let server = process_ticks(&self.server_pid.to_string()).saturating_sub(self.server) as f64;
        let pct = |ticks: f64| (100.0 * ticks / total).clamp(0.0, 100.0);
        CpuShare {
            bench: pct(bench),
            server: pct(server),
            other: pct(busy - bench - server),
        }
    }
}

/// Waits (up to `limit`) until other processes use under `threshold`
/// percent of the machine over a one-second sample; answers the last sample.
pub(crate) async fn wait_until_quiet(threshold: f64, limit: Duration) -> f64 {
    let started = Instant::now();
    let mut told = false;
    loop {
        let watch = CpuWatch::start(0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let other = watch.share().other;
        if other < threshold || started.elapsed() >= limit {
            if told {
                note(format_args!(
                    "  other processes now use {other:.0}% of the CPU; going on"
                ));
            }
            return other;
        }
        if !told {
            note(format_args!(
                "  other processes use {other:.0}% of the CPU; waiting up to {} s for the machine to settle",
                limit.as_secs()
            ));
            told = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read() {
        let (busy, total) = machine_ticks().unwrap();
        assert!(total >= busy);
        // Burn CPU until our own counter moves (one clock tick), with a deadline.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        while process_ticks("self") == 0 && Instant::now() < deadline {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        assert!(process_ticks("self") > 0);
    }
}
