//! The official Svix SDKs, which nobody here wrote, against the real
//! server on both backends: `tests/svix_sdk/scenario.py` with the `svix`
//! package from PyPI (the current 2.x and the last 1.x, each in its own
//! virtualenv) and `scenario.js` with the npm package, each through the
//! whole flow (event types, an application by uid, endpoints, messages,
//! lists, attempts, every delivery verified by the SDK's `Webhook`, secret
//! rotation, recovery, deletion).
//!
//! `scripts/test` installs them: `python3 -m venv tests/svix_sdk/.venv-2`
//! (and `.venv-1`) with `pip install -r requirements-2.txt` (`-1.txt`),
//! and `npm ci` in `tests/svix_sdk`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::both;
use crate::harness::*;

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/svix_sdk")
}

/// Runs one scenario to its end; panics with its output if it fails.
async fn scenario(s: &TestServer, program: PathBuf, script: &str, run: &str) {
    assert!(
        program.exists() || program.as_os_str() == "node",
        "{} is missing: run scripts/test (it creates the Svix SDK virtualenvs in {})",
        program.display(),
        sdk_dir().display()
    );
    let mut command = tokio::process::Command::new(&program);
    command
        .arg(sdk_dir().join(script))
        .args([s.base.as_str(), ADMIN, run])
        .current_dir(sdk_dir())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the scenario finishes within two minutes")
        .expect("the interpreter starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().last() == Some("ok"),
        "{script} with {} failed:\n{stdout}\n{stderr}",
        program.display()
    );
}

both!(the_official_python_sdks_run_the_whole_flow, |s| {
    for version in ["2", "1"] {
        let python = sdk_dir().join(format!(".venv-{version}/bin/python"));
        scenario(&s, python, "scenario.py", &format!("py{version}")).await;
    }
});

both!(the_official_node_sdk_runs_the_whole_flow, |s| {
    assert!(
        sdk_dir().join("node_modules/svix").exists(),
        "the svix npm package is missing: run `npm ci` in {} (scripts/test does)",
        sdk_dir().display()
    );
    scenario(&s, PathBuf::from("node"), "scenario.js", "node").await;
});
