//! The Hookline server under test, run as a child process so its memory is
//! its own: the benchmark binary re-executes itself as `hookline-bench
//! serve`, which is `App::build` + `App::run` exactly as `hookline serve`
//! does, configured through the same `HOOKLINE_*` variables.
//!
//! Also owns the fresh database of each run (a temporary SQLite file, or a
//! new PostgreSQL database dropped afterwards) and reads the child's
//! resident memory from `/proc/PID/status`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use hookline_server::{App, Config, ServeArgs};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::sizing::{StatementCount, STATEMENTS_FILE_VAR};

/// The line a child prints on stdout once it listens.
const READY: &str = "hookline-bench server listening on ";

/// Admin token the child is given.
pub(crate) const ADMIN_TOKEN: &str = "hk_admin_bench_0123456789abcdef";

/// The body of `hookline-bench serve`: a node that prints its address and
/// stops when its standard input closes (so it never outlives the benchmark).
pub async fn serve(args: ServeArgs, statements: Option<StatementCount>) -> anyhow::Result<()> {
    let config = Config::load(args).map_err(anyhow::Error::msg)?;
    let app = App::build(config).await?;
    if let Some(count) = &statements {
        count.reset();
    }
    println!("{READY}{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut sink = [0u8; 64];
        let mut stdin = tokio::io::stdin();
        while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
        stop.cancel();
    });
    app.run(shutdown).await?;
    if let Some(count) = &statements {
        count.save()?;
    }
    Ok(())
}

/// A fresh database for one server.
pub(crate) enum Database {
    /// A new SQLite file in a temporary directory, removed on drop.
    Sqlite(tempfile::TempDir),
    /// A new database on the given PostgreSQL server, dropped by `remove`.
    Postgres { admin_url: String, name: String },
}

impl Database {
    /// Creates a fresh database: on PostgreSQL when `postgres_url` is given.
    pub(crate) async fn create(postgres_url: Option<&str>) -> anyhow::Result<Database> {
        let Some(admin_url) = postgres_url else {
            return Ok(Database::Sqlite(tempfile::tempdir()?));
        };
        let name = format!(
            "hookline_bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_micros()
        );
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context("connecting to --database-url")?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        Ok(Database::Postgres {
            admin_url: admin_url.to_string(),
            name,
        })
    }

    /// The `HOOKLINE_DATABASE_URL` of this database.
    pub(crate) fn url(&self) -> String {
        match self {
            Database::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("hookline.db").display())
            }
            Database::Postgres { admin_url, name } => {
                let (base, _) = admin_url.rsplit_once('/').unwrap_or((admin_url, ""));
                format!("{base}/{name}")
            }
        }
    }

    /// Deletes the database (the SQLite directory goes when dropped).
    pub(crate) async fn remove(self) -> anyhow::Result<()> {
        if let Database::Postgres { admin_url, name } = self {
            let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// `VmRSS`: resident now, in bytes.
    pub(crate) rss: u64,
    /// `VmHWM`: the peak resident size so far, in bytes.
    pub(crate) peak_rss: u64,
}

/// How to start a server.
#[derive(Clone)]
pub(crate) struct ServerOptions<'a> {
    /// The executable that understands `serve` (this benchmark's binary).
    pub(crate) exe: &'a Path,
    /// `HOOKLINE_DATABASE_URL`.
    pub(crate) database_url: String,
    /// `HOOKLINE_RETRY_SCHEDULE`.
    pub(crate) retry_schedule: &'a str,
    /// `HOOKLINE_ROLE`: `all`, or `api` for a node that delivers nothing.
    pub(crate) role: &'a str,
    /// Where the child writes how many SQL statements it ran (sizing only).
    pub(crate) statements_file: Option<&'a Path>,
}

/// A running child server; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pid: u32,
    /// `http://ADDR` of its API.
    pub(crate) base_url: String,
}

impl Server {
    /// Starts a child and waits until it listens.
    pub(crate) async fn start(options: ServerOptions<'_>) -> anyhow::Result<Server> {
        let mut child = Command::new(options.exe)
            .arg("serve")
            .env("HOOKLINE_LISTEN", "127.0.0.1:0")
            .env("HOOKLINE_DATABASE_URL", &options.database_url)
            .env("HOOKLINE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("HOOKLINE_ALLOW_PRIVATE_NETWORKS", "true")
            .env("HOOKLINE_RETRY_SCHEDULE", options.retry_schedule)
            .env("HOOKLINE_ROLE", options.role)
            .env("HOOKLINE_REQUEST_TIMEOUT", "10s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .envs(options.statements_file.map(|f| (STATEMENTS_FILE_VAR, f)))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} serve", options.exe.display()))?;
        let pid = child.id().context("the child has a pid")?;
        let stdout = child.stdout.take().context("the child's stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.strip_prefix(READY) {
                    return Ok(addr.to_string());
                }
            }
            anyhow::bail!("the server exited before listening")
        })
        .await
        .context("the server did not start within 60 s")??;
        Ok(Server {
            child,
            pid,
            base_url: format!("http://{addr}"),
        })
    }

    /// The child's process id (for `perf record -p`).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The child's resident memory now and at its peak.
    pub(crate) fn memory(&self) -> anyhow::Result<Memory> {
        read_memory(&PathBuf::from(format!("/proc/{}/status", self.pid)))
    }

    /// Stops the child and waits for it to exit.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

fn read_memory(status: &Path) -> anyhow::Result<Memory> {
    let text =
        std::fs::read_to_string(status).with_context(|| format!("reading {}", status.display()))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} in {}", status.display()))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kib * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak_rss: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_is_read() {
        let memory = read_memory(Path::new("/proc/self/status")).unwrap();
        assert!(memory.rss > 0 && memory.peak_rss >= memory.rss);
    }
}
