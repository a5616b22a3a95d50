//! Hookline's service: the HTTP API, the delivery engine and the dashboard,
//! assembled in `app`. `api/`, `dashboard/` and `delivery/` never import each
//! other; shared rules live in `service/`, shared state in `state`.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod delivery;
pub mod error;
mod http_server;
pub mod metrics;
mod scope;
pub mod service;
pub mod state;

pub use app::{App, StartError};
pub use config::{Config, ConfigError, Role, ServeArgs};
