//! Test support shared by every crate's tests: scratch PostgreSQL databases
//! and schemas that are dropped with their guard, and [`both_backends!`],
//! which runs one test body on SQLite and on PostgreSQL (ripgrep's `rgtest!`
//! for our two stores).
//!
//! PostgreSQL variants run against the server named by
//! `HOOKLINE_TEST_PG_URL` and pass with a notice when it is unset, so a
//! machine without PostgreSQL still runs every SQLite variant; `scripts/test`
//! always sets it. Names are random, so parallel runs never collide. This
//! crate is a dev-dependency only: nothing here reaches a release build.

mod pg;

pub use pg::{pg_url, ScratchDatabase, ScratchSchema, PG_URL_VAR};

/// Which database a test body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines `$name::sqlite` and `$name::postgres`, each a multi-threaded
/// tokio test that binds `$v` to `$start(Backend).await` (an `Option`;
/// `None` skips the variant, e.g. PostgreSQL without `HOOKLINE_TEST_PG_URL`)
/// and runs the same `$body`. `$start` is a function or a closure;
/// `threads = N` sets the runtime's worker threads (2 by default).
#[macro_export]
macro_rules! both_backends {
    (threads = $threads:literal, $start:expr, $name:ident, |$v:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn sqlite() {
                let Some($v) = ($start)($crate::Backend::Sqlite).await else {
                    return;
                };
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn postgres() {
                let Some($v) = ($start)($crate::Backend::Postgres).await else {
                    return;
                };
                $body
            }
        }
    };
    ($start:expr, $name:ident, |$v:ident| $body:block) => {
        $crate::both_backends!(threads = 2, $start, $name, |$v| $body);
    };
}
