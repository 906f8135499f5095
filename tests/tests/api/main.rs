//! Flowline's black-box suite: every test drives a real server over real HTTP against its own
//! database on a throwaway PostgreSQL cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod admin;
mod auth;
mod cli;
mod environments;
mod flows;
mod gateway;
mod keystores;
mod openapi;
mod projects;
mod record_queue;
mod record_search;
mod records;
mod rules;
mod scheduler;
mod schema;
mod soap;
mod tables;
mod webhooks;
