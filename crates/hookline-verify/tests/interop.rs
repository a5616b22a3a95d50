//! Interoperability with code nobody on the team wrote: the official
//! `standardwebhooks` packages from PyPI and npm verify what this crate (and
//! so Hookline) signs, and this crate verifies what they sign. Also runs every
//! receiver snippet of `docs/receiving-webhooks.md`. Ed25519 (`v1a`), which
//! the official libraries do not implement, is checked against two other
//! implementations: PyNaCl (libsodium) and Node's own `crypto` (OpenSSL).
//!
//! Needs `python3 -m pip install standardwebhooks flask pynacl` and `npm ci` in
//! `tests/interop/`; README's test command (`scripts/test`) does both.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hookline_verify::{
    sign, sign_v1a, verify, verify_with, Headers, Options, Secret, Signer, SigningKey, VerifyError,
    VerifyKey,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER: &str = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkhIQ==";
const BODY: &str = r#"{"id":"evt_1","type":"payment.completed","data":{"amount":4999}}"#;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Panics with the install step when an official package is missing.
fn require_packages() {
    let python = Command::new("python3")
        .args(["-c", "import standardwebhooks, flask, nacl"])
        .output();
    assert!(
        python.is_ok_and(|o| o.status.success()),
        "a Python package is missing: run `python3 -m pip install standardwebhooks flask pynacl` (scripts/test does)"
    );
    assert!(
        interop_dir().join("node_modules/standardwebhooks").exists(),
        "the official npm package is missing: run `npm ci` in crates/hookline-verify/tests/interop (scripts/test does)"
    );
}

/// What a helper script printed.
struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Output {
    /// Both streams, so a failed assertion shows why the helper failed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stdout: {:?}; stderr: {}", self.stdout, self.stderr)
    }
}

/// Runs the Python or Node helper of the official library.
fn official(lang: &str, args: &[&str], body: &str) -> Output {
    match lang {
        "python" => helper("python3", "interop.py", args, Some(body)),
        _ => helper("node", "interop.js", args, Some(body)),
    }
}

/// Runs the PyNaCl or Node `crypto` ed25519 helper.
fn independent(lang: &str, args: &[&str], body: Option<&str>) -> Output {
    match lang {
        "python" => helper("python3", "ed25519_interop.py", args, body),
        _ => helper("node", "ed25519_interop.js", args, body),
    }
}

/// Runs `script` with `args`, then the path of a file holding `body` if given.
fn helper(program: &str, script: &str, args: &[&str], body: Option<&str>) -> Output {
    require_packages();
    let dir = tempfile_dir();
    let body_file = dir.join(format!("body-{}", rand_suffix()));
    let mut full: Vec<String> = vec![interop_dir().join(script).display().to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    if let Some(body) = body {
        std::fs::write(&body_file, body).unwrap();
        full.push(body_file.display().to_string());
    }
    let out = Command::new(program)
        .args(&full)
        .output()
        .expect("interpreter runs");
    let _ = std::fs::remove_file(&body_file);
    Output {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

fn tempfile_dir() -> PathBuf {
    std::env::temp_dir()
}

fn rand_suffix() -> String {
    format!("{}-{:?}", std::process::id(), Instant::now())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

fn ours_verify(secret: &str, id: &str, ts: i64, sig: &str, body: &str) -> Result<(), VerifyError> {
    let headers = Headers {
        id: Some(id.into()),
        timestamp: Some(ts.to_string()),
        signature: Some(sig.into()),
    };
    verify(
        &[Secret::parse(secret).unwrap()],
        &headers,
        body.as_bytes(),
        &Options::default(),
    )
    .map(|_| ())
}

fn check_language(lang: &str) {
    let ts = now();
    let secret = Secret::parse(SECRET).unwrap();
    // Ours → theirs.
    let sig = sign(&secret, "evt_1", ts, BODY.as_bytes());
    let ts_s = ts.to_string();
    let out = official(lang, &["verify", SECRET, "evt_1", &ts_s, &sig], BODY);
    assert!(out.success, "{lang} verifies our signature; {out}");
    let out = official(
        lang,
        &["verify", SECRET, "evt_1", &ts_s, &sig],
        "{\"tampered\":true}",
    );
    assert!(!out.success, "{lang}: tampered body fails; {out}");
    let out = official(lang, &["verify", OTHER, "evt_1", &ts_s, &sig], BODY);
    assert!(!out.success, "{lang}: wrong secret fails; {out}");
    let stale = (ts - 600).to_string();
    let stale_sig = sign(&secret, "evt_1", ts - 600, BODY.as_bytes());
    let out = official(lang, &["verify", SECRET, "evt_1", &stale, &stale_sig], BODY);
    assert!(!out.success, "{lang}: stale timestamp fails; {out}");

    // Theirs → ours.
    let out = official(lang, &["sign", SECRET, "evt_1", &ts_s], BODY);
    assert!(
        out.success && out.stdout.starts_with("v1,"),
        "{lang} signs; {out}"
    );
    let theirs = out.stdout;
    assert_eq!(theirs, sig, "{lang} and we compute the same signature");
    assert_eq!(ours_verify(SECRET, "evt_1", ts, &theirs, BODY), Ok(()));
    assert_eq!(
        ours_verify(SECRET, "evt_1", ts, &theirs, "{}"),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        ours_verify(OTHER, "evt_1", ts, &theirs, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
    let out = official(lang, &["sign", SECRET, "evt_1", &stale], BODY);
    assert!(out.success, "{lang} signs a stale timestamp; {out}");
    assert_eq!(
        ours_verify(SECRET, "evt_1", ts - 600, &out.stdout, BODY),
        Err(VerifyError::TimestampTooOld(300))
    );
}

#[test]
fn python_standardwebhooks_interoperates() {
    check_language("python");
}

#[test]
fn npm_standardwebhooks_interoperates() {
    check_language("node");
}

fn ed25519_key() -> SigningKey {
    // A different key on every run.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&nanos.to_le_bytes());
    seed[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    SigningKey::from_seed(&seed)
}

fn ours_verify_v1a(
    whpk: &str,
    id: &str,
    ts: i64,
    sig: &str,
    body: &str,
) -> Result<(), VerifyError> {
    let headers = Headers {
        id: Some(id.into()),
        timestamp: Some(ts.to_string()),
        signature: Some(sig.into()),
    };
    let key = VerifyKey::parse(whpk).unwrap();
    verify_with(&[key], &headers, body.as_bytes(), &Options::default()).map(|_| ())
}

fn check_ed25519(lang: &str) {
    let key = ed25519_key();
    let whsk = key.to_whsk();
    let whpk = key.public_key().to_whpk();
    let other = SigningKey::from_seed(&[42; 32]).public_key().to_whpk();
    // The same public key derived from our whsk_.
    let public = independent(lang, &["public", &whsk], None);
    assert!(public.success, "{lang} reads our whsk_: {public}");
    assert_eq!(public.stdout, whpk, "{lang} derives the same whpk_");

    let ts = now();
    let ts_s = ts.to_string();
    // Ours → theirs.
    let sig = sign_v1a(&key, "evt_1", ts, BODY.as_bytes());
    let verify_theirs = |public: &str, sig: &str, body: &str| {
        independent(lang, &["verify", public, "evt_1", &ts_s, sig], Some(body))
    };
    let out = verify_theirs(&whpk, &sig, BODY);
    assert!(out.success, "{lang} verifies our v1a: {out}");
    assert!(
        !verify_theirs(&whpk, &sig, "{}").success,
        "{lang}: tampered body fails"
    );
    assert!(
        !verify_theirs(&other, &sig, BODY).success,
        "{lang}: another key fails"
    );

    // Theirs → ours; ed25519 is deterministic, so the signatures are equal.
    let theirs = independent(lang, &["sign", &whsk, "evt_1", &ts_s], Some(BODY));
    assert!(
        theirs.success && theirs.stdout.starts_with("v1a,"),
        "{lang} signs: {theirs}"
    );
    let theirs = theirs.stdout;
    assert_eq!(theirs, sig, "{lang} and we compute the same signature");
    assert_eq!(ours_verify_v1a(&whpk, "evt_1", ts, &theirs, BODY), Ok(()));
    assert_eq!(
        ours_verify_v1a(&whpk, "evt_1", ts, &theirs, "{}"),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        ours_verify_v1a(&other, "evt_1", ts, &theirs, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn pynacl_ed25519_interoperates() {
    check_ed25519("python");
}

#[test]
fn node_crypto_ed25519_interoperates() {
    check_ed25519("node");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running(Child);

impl Running {
    /// Everything the (stopped) receiver wrote to stderr.
    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut err = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = pipe.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends a webhook with std's TCP (no HTTP client dependency); answers the status.
fn post(port: u16, id: &str, ts: i64, sig: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         webhook-id: {id}\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: {sig}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Waits until the receiver listens; if it exits first, or never listens,
/// panics with what it wrote to stderr (e.g. a missing module).
fn wait_listening(running: &mut Running, port: u16) {
    let end = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = running.0.try_wait().unwrap();
        if exited.is_some() || Instant::now() >= end {
            let _ = running.0.kill();
            let _ = running.0.wait();
            panic!(
                "the receiver did not start on port {port} ({exited:?}); its stderr:\n{}",
                running.stderr()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a documented receiver and checks: valid → 2xx, tampered → 400,
/// the same webhook-id again → 2xx but handled once.
fn check_receiver(mut command: Command) {
    command.env("WEBHOOK_SECRET", SECRET);
    check_receiver_with(command, &Signer::parse(SECRET).unwrap());
}

/// Starts a documented ed25519 receiver holding only the public key.
fn check_ed25519_receiver(mut command: Command) {
    let key = ed25519_key();
    command.env("WEBHOOK_PUBLIC_KEY", key.public_key().to_whpk());
    check_receiver_with(command, &Signer::Ed25519(key));
}

/// [`check_receiver`] for a receiver that verifies what `signer` signs;
/// a replayed (old) webhook is refused too.
fn check_receiver_with(mut command: Command, signer: &Signer) {
    let port = free_port();
    let child = command
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("receiver starts");
    let mut running = Running(child);
    wait_listening(&mut running, port);
    let ts = now();
    let body = r#"{"id":"evt_9","type":"refund.completed","data":{}}"#;
    let sig = signer.sign("evt_9", ts, body.as_bytes());
    let valid = post(port, "evt_9", ts, &sig, body);
    let tampered = post(port, "evt_9", ts, &sig, r#"{"id":"evt_9","forged":1}"#);
    let retry = post(port, "evt_9", ts, &sig, body);
    let stale_sig = signer.sign("evt_8", ts - 600, body.as_bytes());
    let stale = post(port, "evt_8", ts - 600, &stale_sig, body);
    let _ = running.0.kill();
    let _ = running.0.wait();
    let mut out = String::new();
    use std::io::Read;
    running
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let err = running.stderr();
    assert!(
        (200..300).contains(&valid),
        "a valid webhook is accepted ({valid}); stderr:\n{err}"
    );
    assert_eq!(tampered, 400, "a tampered body is refused; stderr:\n{err}");
    assert_eq!(stale, 400, "a replayed webhook is refused; stderr:\n{err}");
    assert!(
        (200..300).contains(&retry),
        "a retry is acknowledged ({retry}); stderr:\n{err}"
    );
    assert_eq!(
        out.matches("handled").count(),
        1,
        "handled exactly once: {out}; stderr:\n{err}"
    );
}

#[test]
fn documented_flask_receiver_works() {
    require_packages();
    let mut cmd = Command::new("python3");
    cmd.arg(interop_dir().join("flask_receiver.py"));
    check_receiver(cmd);
}

#[test]
fn documented_express_receiver_works() {
    require_packages();
    let mut cmd = Command::new("node");
    cmd.arg(interop_dir().join("express_receiver.js"))
        .current_dir(interop_dir());
    check_receiver(cmd);
}

#[test]
fn documented_flask_ed25519_receiver_works() {
    require_packages();
    let mut cmd = Command::new("python3");
    cmd.arg(interop_dir().join("flask_ed25519_receiver.py"));
    check_ed25519_receiver(cmd);
}

#[test]
fn documented_express_ed25519_receiver_works() {
    require_packages();
    let mut cmd = Command::new("node");
    cmd.arg(interop_dir().join("express_ed25519_receiver.js"))
        .current_dir(interop_dir());
    check_ed25519_receiver(cmd);
}

#[test]
fn documented_rust_receiver_works() {
    // `cargo test` builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/axum_receiver");
    assert!(
        example.exists(),
        "build the example first: cargo build -p hookline-verify --examples"
    );
    check_receiver(Command::new(example));
}

#[test]
fn the_guide_shows_exactly_the_tested_snippets() {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/receiving-webhooks.md"),
    )
    .unwrap();
    for file in [
        "tests/interop/express_receiver.js",
        "tests/interop/flask_receiver.py",
        "tests/interop/express_ed25519_receiver.js",
        "tests/interop/flask_ed25519_receiver.py",
        "examples/axum_receiver.rs",
    ] {
        let snippet =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        assert!(
            guide.contains(snippet.trim()),
            "docs/receiving-webhooks.md must contain {file} verbatim"
        );
    }
}
