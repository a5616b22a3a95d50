//! Operations shared by the API and the dashboard: validation and the rules
//! of the contract, on top of the store. Neither front end writes rules of
//! its own; both call these.

pub mod catalogue;
pub mod endpoints;
pub mod events;
