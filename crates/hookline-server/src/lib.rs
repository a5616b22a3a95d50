//! Hookline's service: the HTTP API, the delivery engine and the dashboard,
//! assembled in `app`. `api/`, `dashboard/` and `delivery/` never import each
//! other; shared rules live in `service/`, shared state in `state`.

mod api;
pub mod app;
mod auth;
pub mod config;
mod dashboard;
pub mod delivery;
mod error;
mod http_server;
mod metrics;
mod scope;
mod service;
mod state;

pub use app::{App, StartError};
pub use config::{Config, ConfigError, Role, ServeArgs};
