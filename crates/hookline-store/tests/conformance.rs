//! One conformance suite for every store, in the manner of ripgrep's
//! `rgtest!`: each `conformance!` body runs as `NAME::sqlite` on a store in a
//! temporary directory and as `NAME::postgres` on a fresh schema of the
//! database named by `HOOKLINE_TEST_PG_URL` (the PostgreSQL variants print a
//! notice and pass when it is unset; `scripts/test` always sets it). The bodies
//! hold what the `Store` trait promises, above all that concurrent claims
//! never hand out the same delivery twice.

/// Defines `$name::sqlite` and `$name::postgres` running the same body with
/// `$t` bound to the [`harness::TestStore`].
macro_rules! conformance {
    ($name:ident, |$t:ident| $body:block) => {
        hookline_testkit::both_backends!(
            threads = 4,
            $crate::harness::TestStore::start,
            $name,
            |$t| $body
        );
    };
}

#[path = "conformance/batches.rs"]
mod batches;
#[path = "conformance/compat.rs"]
mod compat;
#[path = "conformance/engine.rs"]
mod engine;
#[path = "conformance/events.rs"]
mod events;
#[path = "conformance/fairness.rs"]
mod fairness;
#[path = "conformance/fleet.rs"]
mod fleet;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/operational.rs"]
mod operational;
#[path = "conformance/ordered.rs"]
mod ordered;
#[path = "conformance/paging.rs"]
mod paging;
#[path = "conformance/portal.rs"]
mod portal;
#[path = "conformance/sealing.rs"]
mod sealing;
#[path = "conformance/tenancy.rs"]
mod tenancy;
#[path = "conformance/upkeep.rs"]
mod upkeep;
