//! A fresh PostgreSQL database per test, dropped afterwards, when
//! `HOOKLINE_TEST_PG_URL` names a server (CI always sets it).

use sqlx::Connection;

pub struct TestDatabase {
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// `None` (with a notice) when no PostgreSQL is configured.
    pub async fn create() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var("HOOKLINE_TEST_PG_URL") else {
            eprintln!(
                "HOOKLINE_TEST_PG_URL is not set: skipping the PostgreSQL variant of this test"
            );
            return None;
        };
        let name = format!(
            "hookline_it_{}",
            hookline_core::Id::generate(hookline_core::IdKind::Event)[4..].to_lowercase()
        );
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL at HOOKLINE_TEST_PG_URL answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b)
            .to_string();
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async context guarantees: use a private runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
