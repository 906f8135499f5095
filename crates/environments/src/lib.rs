//! The environments service: the isolated runtimes of an organization as the organization API
//! (`/v1/environment…`) manages them — their packages (quotas), status, region, timezone,
//! version, storage and SSL certificate — and the background jobs that create, upgrade,
//! update, optimize and delete them.
//!
//! In self-hosted Flowline an environment is not a machine: it is a tenant scope inside the
//! server (its own records, keystores, tables, webhooks and applications) with a share of the
//! workers and a storage quota. Jobs are rows of `environment_jobs`, claimed with
//! `FOR UPDATE SKIP LOCKED` by any `serve` or `worker` process and held under a lease, so a
//! crash resumes them. Every function takes the caller's organization and filters by it: an
//! organization never reaches another's environments. This crate knows nothing of HTTP and
//! never logs a private key.

mod certificate;
mod jobs;
mod model;
mod package;
mod settings;
mod store;
mod usage;

pub use certificate::{CertificateUpload, InstalledCertificate, MAX_PEM_BYTES};
pub use jobs::{JobRunner, JobSettings, run_due_jobs};
pub use model::{Environment, EnvironmentStatus, StatusOnly, StorageAddon};
pub use package::Package;
pub use settings::{EnvironmentName, Region, Timezone, parse_description};
pub use store::{
    EnvironmentChanges, NewEnvironment, Quota, Upgrade, create, get, list, optimize, quota,
    request_delete, status, update, update_version, upgrade,
};
pub use usage::{Usage, bytes_to_gb, measure_storage, usage};

/// The Flowline version environments are brought to by `update-version`, as the API spells
/// versions (`v.8.3.0`).
pub const SERVER_VERSION: &str = concat!("v.", env!("CARGO_PKG_VERSION"));
