//! Integration tests: the real server on an ephemeral port, real receivers,
//! SQLite always and PostgreSQL when `HOOKLINE_TEST_PG_URL` is set.

#![allow(unreachable_pub)]

mod harness;

mod accounts;
mod attempts;
mod audit;
mod dashboard;
mod delivery;
mod endpoints;
mod events;
mod fairness;
mod faults;
mod filters;
mod flooding;
mod operational;
mod ordered;
mod ordered_nodes;
mod portal;
mod schemathesis;
mod service;
mod signing;
mod slow_clients;
mod svix;
mod svix_messages;
mod svix_sdk;
