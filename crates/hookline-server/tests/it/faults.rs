//! Faults a user will meet, for real: the SQLite disk filling up (a small
//! tmpfs mounted for the test), and PostgreSQL restarting mid-stream (a
//! private throwaway PostgreSQL instance, never the shared one).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hookline_server::ServeArgs;
use serde_json::json;

use crate::harness::{eventually, Backend, Options, Receiver, TestServer};

/// A small tmpfs mounted on a temp dir; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "the disk-full test mounts a {size} tmpfs and must run as root (CI does)"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with a ballast file until it is full.
    fn fill(&self) -> PathBuf {
        let ballast = self.path().join("ballast");
        let mut file = std::fs::File::create(&ballast).expect("ballast");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // Whatever is left, byte by byte.
        while file.write_all(&[0]).is_ok() {}
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_loses_nothing_and_recovers_by_itself() {
    let disk = SmallDisk::mount("32m");
    let receiver = Receiver::start().await;
    let options = Options {
        database_url: Some(format!("sqlite://{}/hookline.db", disk.path().display())),
        serve: ServeArgs {
            lease: Some("5s".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let s = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &receiver.url("/hook"), json!({}))
        .await;
    let path = format!("/v1/accounts/{a}/events");
    let blob = "x".repeat(16 * 1024);
    let mut accepted = Vec::new();
    for n in 0..20 {
        let event = s
            .publish(
                &a,
                &key,
                json!({"type": "payment.completed", "data": {"n": n}}),
            )
            .await;
        accepted.push(event["id"].as_str().unwrap().to_string());
    }

    let ballast = disk.fill();
    let mut refused = None;
    for n in 0..2000 {
        let body = json!({"type": "payment.completed", "data": {"n": n, "blob": blob}});
        let (status, answer) = s.call("POST", &path, Some(&key), Some(body)).await;
        match status.as_u16() {
            202 => accepted.push(answer["id"].as_str().unwrap().to_string()),
            503 => {
                refused = Some(answer);
                break;
            }
            other => panic!("a publish on a full disk answered {other}: {answer}"),
        }
    }
    let refused = refused.expect("publishing on a full disk is refused at some point");
    assert_eq!(refused["error"]["code"], "storage_full", "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no space left"));

    std::fs::remove_file(ballast).expect("space is freed");
    let after = eventually(
        "publishing works again",
        Duration::from_secs(30),
        || async {
            let body = json!({"type": "payment.completed", "data": {"after": true}});
            let (status, answer) = s.call("POST", &path, Some(&key), Some(body)).await;
            (status.as_u16() == 202).then(|| answer["id"].as_str().unwrap().to_string())
        },
    )
    .await;
    accepted.push(after);
    let delivered = eventually(
        "every accepted event is delivered",
        Duration::from_secs(60),
        || async {
            let got: std::collections::HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.header("webhook-id"))
                .collect();
            accepted
                .iter()
                .all(|id| got.contains(id))
                .then_some(got.len())
        },
    )
    .await;
    println!(
        "disk full: {} events accepted, all {} delivered ({delivered} distinct ids at the receiver)",
        accepted.len(),
        accepted.len()
    );
    s.stop().await;
}

/// A throwaway PostgreSQL instance of its own (initdb + pg_ctl on a free
/// port in a temp dir), so restarting it disturbs nobody else's tests.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's programs are in /usr/lib/postgresql (scripts/test installs them)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("pg_ctl").exists())
            .max()
            .expect("a PostgreSQL version with pg_ctl");
        let dir = tempfile::tempdir().expect("temp dir");
        // PostgreSQL refuses to run as root: the instance belongs to `postgres`.
        run(Command::new("chown").arg("postgres:").arg(dir.path()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = PrivatePostgres { dir, bin, port };
        pg.as_postgres(
            "initdb",
            &["-U", "postgres", "-A", "trust", "--no-sync", "-D"],
            true,
        );
        pg.ctl(&["start"]);
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, program: &str, args: &[&str], with_data: bool) {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args);
        if with_data {
            command.arg(self.data());
        }
        run(&mut command);
    }

    fn ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let mut args = vec!["-w", "-l", &log, "-o", &options];
        args.extend_from_slice(action);
        args.push("-D");
        self.as_postgres("pg_ctl", &args, true);
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "stop", "-D", &self.data()])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_stream_answers_503_and_loses_nothing() {
    if std::env::var("HOOKLINE_TEST_PG_URL").is_err() {
        return; // The PostgreSQL tests run where PostgreSQL is installed.
    }
    let pg = PrivatePostgres::start();
    let port = pg.port.to_string();
    pg.as_postgres(
        "createdb",
        &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "hookline"],
        false,
    );

    let receiver = Receiver::start().await;
    let options = Options {
        database_url: Some(pg.url("hookline")),
        serve: ServeArgs {
            lease: Some("5s".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let s = TestServer::start_with(Backend::Postgres, options)
        .await
        .unwrap();
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &receiver.url("/hook"), json!({}))
        .await;
    let url = format!("{}/v1/accounts/{a}/events", s.base);

    // 8 publishers, each request bounded to 20 s: a hang fails the test.
    let stop = tokio_util::sync::CancellationToken::new();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut publishers = Vec::new();
    for p in 0..8 {
        let (client, url, key, stop) = (client.clone(), url.clone(), key.clone(), stop.clone());
        publishers.push(tokio::spawn(async move {
            let (mut accepted, mut refused) = (Vec::new(), 0usize);
            for n in 0..5000 {
                if stop.is_cancelled() {
                    break;
                }
                let id = format!("evt_pg_{p}_{n}");
                let body = json!({"type": "payment.completed", "id": id, "data": {"n": n}});
                let answer = client.post(&url).bearer_auth(&key).json(&body).send().await;
                let status = answer.expect("no publish hangs or drops").status().as_u16();
                match status {
                    202 => accepted.push(id),
                    503 => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("a publish answered {other} during the restart"),
                }
            }
            (accepted, refused)
        }));
    }
    let count = || receiver.received().len();
    eventually("a stream is flowing", Duration::from_secs(30), || async {
        (count() >= 50).then_some(())
    })
    .await;
    pg.ctl(&["-m", "fast", "stop"]);
    eventually(
        "the node reports unhealthy",
        Duration::from_secs(30),
        || async {
            let (status, _) = s.call("GET", "/health", None, None).await;
            (status.as_u16() == 503).then_some(())
        },
    )
    .await;
    pg.ctl(&["start"]);
    eventually(
        "the node is healthy again",
        Duration::from_secs(60),
        || async {
            let (status, _) = s.call("GET", "/health", None, None).await;
            (status.as_u16() == 200).then_some(())
        },
    )
    .await;
    let before = count();
    eventually(
        "publishing flows again",
        Duration::from_secs(60),
        || async { (count() >= before + 50).then_some(()) },
    )
    .await;
    stop.cancel();
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for publisher in publishers {
        let (ids, r) = publisher.await.expect("publisher");
        accepted.extend(ids);
        refused += r;
    }
    eventually(
        "every accepted event is delivered",
        Duration::from_secs(90),
        || async {
            let got: std::collections::HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.header("webhook-id"))
                .collect();
            accepted.iter().all(|id| got.contains(id)).then_some(())
        },
    )
    .await;
    println!(
        "PostgreSQL restart: {} publishes accepted and all delivered, {refused} answered 503 while it was down",
        accepted.len()
    );
    s.stop().await;
}
