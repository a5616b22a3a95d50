//! Scratch PostgreSQL space: a database (for whole servers, which migrate
//! their own schema) or a schema (for a store under test, via
//! `search_path`), created with a random name and dropped on drop.

use rand::distributions::{Alphanumeric, DistString};
use sqlx::Connection;

/// The variable naming the PostgreSQL server tests use.
pub const PG_URL_VAR: &str = "HOOKLINE_TEST_PG_URL";

/// The test server's URL, or `None` after a notice saying what is skipped.
pub fn pg_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) => Some(url),
        Err(_) => {
            eprintln!("{PG_URL_VAR} is not set: skipping the PostgreSQL variant of this test");
            None
        }
    }
}

fn random_name(prefix: &str) -> String {
    let suffix = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
    format!("{prefix}_{}", suffix.to_lowercase())
}

async fn run(url: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} must name a reachable PostgreSQL: {e}"));
    sqlx::query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` fails: {e}"));
}

/// Runs `sql` on `url` from a thread of its own: a guard is dropped inside
/// the test's runtime, which cannot be blocked on.
fn run_on_drop(url: String, sql: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for clean-up");
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                let _ = sqlx::query(&sql).execute(&mut conn).await;
            }
        });
    })
    .join();
}

/// A fresh database on the test server, dropped (connections and all) on drop.
pub struct ScratchDatabase {
    /// `postgres://…/NAME` of the new database.
    pub url: String,
    name: String,
    admin_url: String,
}

impl ScratchDatabase {
    /// A database named `PREFIX_<random>`; `None` when `HOOKLINE_TEST_PG_URL`
    /// is unset.
    pub async fn create(prefix: &str) -> Option<ScratchDatabase> {
        let admin_url = pg_url()?;
        let name = random_name(prefix);
        run(&admin_url, &format!("CREATE DATABASE {name}")).await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Some(ScratchDatabase {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        run_on_drop(
            self.admin_url.clone(),
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A fresh schema in the test database, dropped with its tables on drop.
pub struct ScratchSchema {
    admin_url: String,
    name: String,
}

impl ScratchSchema {
    /// A schema named `PREFIX_<random>`; `None` when `HOOKLINE_TEST_PG_URL`
    /// is unset.
    pub async fn create(prefix: &str) -> Option<ScratchSchema> {
        let admin_url = pg_url()?;
        let name = random_name(prefix);
        run(&admin_url, &format!("CREATE SCHEMA {name}")).await;
        Some(ScratchSchema { admin_url, name })
    }

    /// The test URL with this schema as its `search_path`.
    pub fn url(&self) -> String {
        let sep = if self.admin_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.admin_url, self.name
        )
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        run_on_drop(
            self.admin_url.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}
