//! The report: every figure's samples with min/median/max, its ratio to the
//! baseline, the target and whether the median meets it, plus the
//! machine facts and durability settings, rendered as Markdown.

use std::fmt::Write as _;

/// What a figure is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// No target.
    None,
    /// At least this value.
    AtLeast(f64),
    /// At most this value.
    AtMost(f64),
    /// At least this fraction of the baseline's median.
    BaselineShare(f64),
    /// At least the median of the figure with this name.
    NoSlowerThan(&'static str),
}

/// One measured quantity and its samples (one per run).
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable short name, e.g. `delivery_1`.
    pub key: &'static str,
    /// What was measured, for the table.
    pub label: String,
    /// Unit of the samples.
    pub unit: &'static str,
    /// Whether a ratio to the baseline means something (a throughput).
    pub throughput: bool,
    pub target: Target,
    pub samples: Vec<f64>,
}

impl Figure {
    /// A figure measured once (not per run), with no ratio to the baseline.
    pub fn once(
        key: &'static str,
        label: impl Into<String>,
        unit: &'static str,
        target: Target,
        value: f64,
    ) -> Figure {
        Figure {
            key,
            label: label.into(),
            unit,
            throughput: false,
            target,
            samples: vec![value],
        }
    }

    /// The smallest, median and largest sample.
    pub fn stats(&self) -> (f64, f64, f64) {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        (sorted[0], median, sorted[n - 1])
    }

    fn median(&self) -> f64 {
        self.stats().1
    }
}

/// Where a phase's CPU time went, in percent of the whole machine
/// (100% = every core busy), median over the runs.
#[derive(Debug, Clone)]
pub struct CpuRow {
    pub phase: String,
    /// The server under test.
    pub server: f64,
    /// The benchmark process: publishers, receiver, baseline client.
    pub bench: f64,
    /// Other processes on the machine (noise).
    pub other: f64,
    /// The most other processes took in any run of this phase.
    pub other_max: f64,
    /// The server's SQLite writer in this phase (medians), where measured.
    pub writer: Option<WriterRow>,
}

/// How busy a SQLite server's single writer thread was in a phase.
#[derive(Debug, Clone, Copy)]
pub struct WriterRow {
    /// Percent of the phase's time spent running or committing batches.
    pub busy: f64,
    pub commits_per_s: f64,
    /// Write jobs (publishes, claims, attempt batches) per commit.
    pub writes_per_commit: f64,
    /// The average WAL sync, in milliseconds.
    pub sync_ms: f64,
    /// The average write's wait for the writer, and from queued to
    /// durable (answered after its sync), in milliseconds.
    pub queue_ms: f64,
    pub durable_ms: f64,
}

/// Everything one benchmark invocation found.
#[derive(Debug, Clone)]
pub struct Report {
    pub figures: Vec<Figure>,
    /// Lines describing the machine.
    pub machine: Vec<String>,
    /// Lines describing the database and its durability settings.
    pub durability: Vec<String>,
    /// Lines describing the counts and method.
    pub method: Vec<String>,
    /// CPU use by phase.
    pub cpu: Vec<CpuRow>,
}

impl Report {
    /// The figure named `key`, if measured.
    pub fn figure(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.key == key)
    }

    /// Whether a figure meets its target (`None` when it has none).
    pub fn met(&self, figure: &Figure) -> Option<bool> {
        let median = figure.median();
        match figure.target {
            Target::None => None,
            Target::AtLeast(v) => Some(median >= v),
            Target::AtMost(v) => Some(median <= v),
            Target::BaselineShare(share) => {
                let baseline = self.figure("baseline")?.median();
                Some(median >= share * baseline)
            }
            Target::NoSlowerThan(other) => Some(median >= self.figure(other)?.median()),
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let baseline = self.figure("baseline").map(Figure::median);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| figure | unit | min | median | max | vs baseline | target | met |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|---|");
        for figure in &self.figures {
            let (min, median, max) = figure.stats();
            let ratio = match (figure.throughput, baseline) {
                (true, Some(b)) if b > 0.0 => format!("{:.0}%", 100.0 * median / b),
                _ => "—".into(),
            };
            let target = match figure.target {
                Target::None => "—".to_string(),
                Target::AtLeast(v) => format!("≥ {}", number(v)),
                Target::AtMost(v) => format!("≤ {}", number(v)),
                Target::BaselineShare(s) => format!("≥ {:.0}% of baseline", s * 100.0),
                Target::NoSlowerThan(other) => format!("≥ {other}"),
            };
            let met = match self.met(figure) {
                None => "",
                Some(true) => "yes",
                Some(false) => "**no**",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {ratio} | {target} | {met} |",
                figure.label,
                figure.unit,
                number(min),
                number(median),
                number(max)
            );
        }
        if !self.cpu.is_empty() {
            // The writer columns only where a server had one (SQLite).
            let writer = self.cpu.iter().any(|row| row.writer.is_some());
            let (title, head, rule) = if writer {
                (
                    "; the server's SQLite writer thread: share of the phase it was busy running and committing batches, the average WAL sync that makes its commits durable (on the syncer thread), and the average write's wait for the writer and from queued to durable — of a publish, the part of its wait for a `202` spent in the store",
                    " SQLite writer busy | commits/s | writes per commit | WAL sync, ms | write queued, ms | write durable, ms |",
                    "---:|---:|---:|---:|---:|---:|",
                )
            } else {
                ("", "", "")
            };
            let _ = writeln!(
                out,
                "\n**CPU use by phase** (% of the whole machine, median of runs{title})\n"
            );
            let _ = writeln!(
                out,
                "| phase | server | benchmark + receiver | other processes (max) |{head}"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|{rule}");
            for row in &self.cpu {
                let load = match (writer, row.writer) {
                    (false, _) => String::new(),
                    (true, None) => " — | — | — | — | — | — |".into(),
                    (true, Some(w)) => format!(
                        " {:.0}% | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} |",
                        w.busy,
                        w.commits_per_s,
                        w.writes_per_commit,
                        w.sync_ms,
                        w.queue_ms,
                        w.durable_ms
                    ),
                };
                let _ = writeln!(
                    out,
                    "| {} | {:.0}% | {:.0}% | {:.0}% ({:.0}%) |{load}",
                    row.phase, row.server, row.bench, row.other, row.other_max
                );
            }
        }
        for (title, lines) in [
            ("Machine", &self.machine),
            ("Database and durability", &self.durability),
            ("Method", &self.method),
        ] {
            let _ = writeln!(out, "\n**{title}**\n");
            for line in lines {
                let _ = writeln!(out, "- {line}");
            }
        }
        out
    }
}

/// A figure rounded for reading: whole numbers from 100 up.
fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// nproc, CPU model, memory and kernel, from `/proc`.
pub(crate) fn machine_facts() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or("unknown".to_string(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut facts = vec![
        format!("nproc: {cpus}"),
        format!("CPU: {model}"),
        format!("memory: {memory}"),
        format!("kernel: Linux {}", kernel.trim()),
    ];
    if let Some(commit) = git_commit() {
        facts.push(format!("hookline commit: {commit}"));
    }
    facts
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(key: &'static str, target: Target, samples: Vec<f64>) -> Figure {
        Figure {
            key,
            label: key.into(),
            unit: "/s",
            throughput: true,
            target,
            samples,
        }
    }

    #[test]
    fn medians_and_targets() {
        let report = Report {
            figures: vec![
                figure("baseline", Target::None, vec![100.0, 300.0, 200.0]),
                figure("delivery_1", Target::BaselineShare(0.5), vec![90.0, 110.0]),
                figure(
                    "delivery_10",
                    Target::NoSlowerThan("delivery_1"),
                    vec![99.0],
                ),
            ],
            machine: vec![],
            durability: vec![],
            method: vec![],
            cpu: vec![],
        };
        assert_eq!(report.figures[0].stats(), (100.0, 200.0, 300.0));
        assert_eq!(report.met(&report.figures[1]), Some(true));
        assert_eq!(report.met(&report.figures[2]), Some(false));
        assert!(report
            .markdown()
            .contains("| delivery_10 | /s | 99.0 | 99.0 | 99.0 | 50% |"));
    }

    #[test]
    fn writer_columns_only_where_a_writer_was_watched() {
        let row = |writer| CpuRow {
            phase: "ingest".into(),
            server: 50.0,
            bench: 20.0,
            other: 1.0,
            other_max: 2.0,
            writer,
        };
        let report = |cpu| Report {
            figures: vec![],
            machine: vec![],
            durability: vec![],
            method: vec![],
            cpu,
        };
        let postgres = report(vec![row(None)]).markdown();
        assert!(!postgres.contains("SQLite writer"));
        assert!(postgres.contains("| ingest | 50% | 20% | 1% (2%) |\n"));
        let sqlite = report(vec![row(Some(WriterRow {
            busy: 84.0,
            commits_per_s: 1430.0,
            writes_per_commit: 10.6,
            sync_ms: 1.25,
            queue_ms: 0.4,
            durable_ms: 1.875,
        }))])
        .markdown();
        assert!(sqlite
            .contains("| ingest | 50% | 20% | 1% (2%) | 84% | 1430 | 10.6 | 1.25 | 0.40 | 1.88 |"));
    }
}
