//! Operations shared by the API and the dashboard: validation and the rules
//! of the contract, on top of the store. Neither front end writes rules of
//! its own; both call these.
//!
//! The service layer is the only part of the front ends' world that reaches
//! delivery, and only through its [`Intake`](crate::delivery::Intake):
//! publishing, and waking the scheduler after a change that makes work due.

pub(crate) mod accounts;
pub(crate) mod attempts;
pub(crate) mod catalogue;
pub(crate) mod endpoints;
pub(crate) mod error;
pub(crate) mod event_types;
pub(crate) mod events;
pub(crate) mod filters;
pub(crate) mod page_cache;
pub(crate) mod portal;
pub(crate) mod schemas;

use std::sync::Arc;

use crate::delivery::Intake;

pub(crate) use error::{ServiceError, ServiceResult};

/// What the service layer holds beyond the shared state: the node's intake.
/// Its fields are private, so a front end cannot go around a rule.
#[derive(Clone)]
pub(crate) struct ServiceState {
    intake: Arc<Intake>,
}

impl ServiceState {
    pub(crate) fn new(intake: Arc<Intake>) -> Self {
        ServiceState { intake }
    }
}
