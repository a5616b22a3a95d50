//! Schemathesis, the outside audit's API fuzzer, against a live node: every
//! operation of `/openapi.json` is called with examples, boundary values and
//! random data built from the document (stateless phases, bounded examples),
//! and every answer must match the document: declared statuses, response
//! schemas, content types, invalid input refused, valid input accepted, no
//! server error, and no route that ignores its token.
//!
//! The node runs with `HOOKLINE_ROLE=api`: it stores what the fuzzer
//! creates but never delivers, so no request ever leaves the machine (the
//! fuzzer's endpoint URLs are random hosts). Schemathesis is pinned and
//! installed into `.venv/schemathesis` by `scripts/test`; its settings are
//! in `tests/schemathesis.toml`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hookline_server::{Role, ServeArgs};
use serde_json::json;

use crate::harness::{Backend, Options, TestServer, ADMIN};

/// Test cases per operation and phase: enough to reach every rule of the
/// document, few enough to keep the run to a minute or two on two cores.
const MAX_EXAMPLES: &str = "8";

/// The whole run may not take longer than this.
const TIME_LIMIT: Duration = Duration::from_secs(600);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `st` from `HOOKLINE_SCHEMATHESIS`, or the venv `scripts/test` made.
fn schemathesis() -> PathBuf {
    let st = std::env::var_os("HOOKLINE_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/schemathesis/bin/st"));
    assert!(
        st.exists(),
        "schemathesis is missing at {}: run scripts/test (it installs the pinned version into .venv/schemathesis)",
        st.display()
    );
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_against_the_live_api() {
    let st = schemathesis();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let options = Options {
            serve: ServeArgs {
                role: Some(Role::Api),
                ..Default::default()
            },
            ..Default::default()
        };
        let Some(s) = TestServer::start_with(backend, options).await else {
            continue;
        };
        // One real account, so that bodies get past the account's 404 and
        // meet every rule; the fuzzer acts with the admin token.
        s.expect(
            201,
            "POST",
            "/v1/accounts",
            Some(ADMIN),
            Some(json!({"name": "Schemathesis", "id": "acct_schemathesis"})),
        )
        .await;
        let report = tempfile::tempdir().expect("report dir");
        let mut command = tokio::process::Command::new(&st);
        command
            .arg("--config-file")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml"))
            .arg("run")
            .arg(format!("{}/openapi.json", s.base))
            .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
            .args(["--max-examples", MAX_EXAMPLES])
            .arg("--report-dir")
            .arg(report.path())
            .env("HOOKLINE_ST_ACCOUNT", "acct_schemathesis")
            .env("NO_COLOR", "1")
            .current_dir(report.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(TIME_LIMIT, command.output())
            .await
            .unwrap_or_else(|_| panic!("schemathesis ran longer than {TIME_LIMIT:?}"))
            .expect("schemathesis starts");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("schemathesis on {backend:?}:\n{stdout}");
        assert!(
            output.status.success(),
            "schemathesis found failures on {backend:?} ({}):\n{stdout}\n{stderr}",
            output.status
        );
        assert!(
            stdout.contains("passed") && !stdout.contains("No operations"),
            "schemathesis tested nothing on {backend:?}:\n{stdout}"
        );
        s.stop().await;
    }
}
