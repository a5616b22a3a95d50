//! The benchmark's smoke test: the whole benchmark with tiny counts, so it
//! cannot rot. It checks that every figure was produced and nothing else —
//! machines are noisy, so no figure is asserted.

use std::path::PathBuf;

use hookline_bench::Options;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_benchmark_produces_every_figure() {
    let options = Options::quick(PathBuf::from(env!("CARGO_BIN_EXE_hookline-bench")));
    let report = hookline_bench::run(&options)
        .await
        .expect("the quick benchmark runs");
    for key in [
        "baseline",
        "relay",
        "ingest",
        "delivery_1",
        "delivery_10",
        "drain",
        "latency_p50",
        "latency_p99",
        "latency_max",
        "latency_rate",
        "peak_rss",
        "backlog_rss",
        "backlog_peak_rss",
        "backlog_time",
        "backlog_rate",
    ] {
        let figure = report
            .figure(key)
            .unwrap_or_else(|| panic!("the report has no `{key}` figure"));
        assert_eq!(figure.samples.len(), 1, "{key} was measured once");
        assert!(
            figure.samples.iter().all(|v| v.is_finite() && *v > 0.0),
            "{key} is a positive number: {:?}",
            figure.samples
        );
    }
    // On SQLite the server's writer is watched in each phase it serves.
    let ingest = report.cpu.iter().find(|row| row.phase == "ingest");
    let writer = ingest
        .and_then(|row| row.writer)
        .expect("writer load during ingest");
    assert!(writer.commits_per_s > 0.0 && writer.writes_per_commit >= 1.0);
    let table = report.markdown();
    assert!(table.contains("| figure |") && table.contains("synchronous=FULL"));
    assert!(!report.machine.is_empty());
}
