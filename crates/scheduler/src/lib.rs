//! The scheduler (DESIGN.md §5): workers that claim due records from `record_queue` and run
//! them through the flow version they started on.
//!
//! A worker claims up to its free slots in one `FOR UPDATE SKIP LOCKED` statement and leases
//! them; it wakes on the queue's `LISTEN/NOTIFY` channel and polls only as a fallback. Each
//! record runs in one transaction that holds its queue entry locked: its steps (each in a
//! savepoint), its new state, its queue entry's removal or re-scheduling and its step log commit
//! together or not at all, and the lease (owner and attempt) fences out a late worker. A record
//! claimed [`MAX_CLAIMS`] times without finishing fails with a clear error.
//!
//! An `http` step is called outside any transaction: the run commits up to it, calls with its
//! lease held (and extended by a heartbeat), and goes on in a new fenced transaction.
//!
//! Every step reads and writes through the record's own tenant (`org_id`, `environment_id`):
//! a definition names keystores and tables, never an organization.

mod claim;
mod error;
mod http;
mod jq;
mod log;
mod metrics;
mod prune;
mod render;
mod retry;
mod run;
mod steps;
mod worker;

pub use error::SchedulerError;
pub use http::{HttpRoots, install_tls_provider};
pub use log::{MAX_LOG_ENTRIES, StepLogEntry, step_log};
pub use metrics::{QueueDepth, queue_depth, render_prometheus};
pub use prune::prune_step_log;
pub use run::MAX_CLAIMS;
pub use worker::{CHANNEL, DEFAULT_BATCH, PRUNE_EVERY, Scheduler, SchedulerConfig};
