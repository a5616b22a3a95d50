//! Hookline's domain model, shared by the store, the server and the tools.
//!
//! Everything here is pure: no tokio, no SQL, no HTTP client. Decisions that
//! must be tested in isolation (retry timing, what follows an attempt, how
//! many requests an endpoint may have in flight, which addresses are
//! private, how a URL is masked, which endpoints an event fans out to) live
//! here.

pub mod catalogue;
pub mod concurrency;
pub mod filter;
pub mod id;
pub mod model;
pub mod net;
pub mod operational;
pub mod policy;
pub mod retry;
pub mod secret;

pub use id::{Id, IdKind};
pub use model::*;
pub use retry::{Jitter, RetrySchedule};
