//! An environment as stored, and its status.

use crate::package::Package;
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, Error, OrgId};
use serde::{Deserialize, Serialize};

/// The reference's statuses. `deleted` is reported from the tombstone a deletion leaves; the
/// environments row itself is gone by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentStatus {
    Creating,
    Updating,
    Deleting,
    Upgrading,
    Ready,
    Error,
    Deleted,
}

impl EnvironmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentStatus::Creating => "creating",
            EnvironmentStatus::Updating => "updating",
            EnvironmentStatus::Deleting => "deleting",
            EnvironmentStatus::Upgrading => "upgrading",
            EnvironmentStatus::Ready => "ready",
            EnvironmentStatus::Error => "error",
            EnvironmentStatus::Deleted => "deleted",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Result<EnvironmentStatus, Error> {
        Ok(match text {
            "creating" => EnvironmentStatus::Creating,
            "updating" => EnvironmentStatus::Updating,
            "deleting" => EnvironmentStatus::Deleting,
            "upgrading" => EnvironmentStatus::Upgrading,
            "ready" => EnvironmentStatus::Ready,
            "error" => EnvironmentStatus::Error,
            other => {
                return Err(Error::internal(format!(
                    "stored environment status {other:?}"
                )));
            }
        })
    }

    /// A job is running on the environment: no other change may start.
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            EnvironmentStatus::Creating
                | EnvironmentStatus::Updating
                | EnvironmentStatus::Deleting
                | EnvironmentStatus::Upgrading
        )
    }
}

/// One storage increase (`POST …/upgrade` with `storage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageAddon {
    /// GB added.
    pub storage: i32,
    pub date_created: String,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub org_id: OrgId,
    pub environment_id: EnvironmentId,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    pub status: EnvironmentStatus,
    pub package: Package,
    pub region: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub base_storage_gb: i32,
    pub storage_addons: Vec<StorageAddon>,
    pub max_concurrent_runs: i32,
    pub requests_per_minute: i32,
    pub version: String,
    pub version_updated_at: DateTime<Utc>,
    pub storage_used_bytes: i64,
    pub storage_measured_at: Option<DateTime<Utc>>,
    pub over_storage: bool,
    pub last_error: Option<String>,
    /// The `ssl_certificate` object of the API, computed when the certificate was uploaded.
    pub certificate_info: Option<serde_json::Value>,
}

impl Environment {
    /// The storage the environment may use, in GB: its package's plus its add-ons.
    pub fn total_storage_gb(&self) -> i64 {
        i64::from(self.base_storage_gb)
            + self
                .storage_addons
                .iter()
                .map(|addon| i64::from(addon.storage))
                .sum::<i64>()
    }
}

/// What `GET …/:id/status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusOnly {
    pub environment_id: EnvironmentId,
    pub status: EnvironmentStatus,
}

/// The columns every read selects, in [`EnvironmentRow`]'s order.
pub(crate) const COLUMNS: &str = "org_id, environment_id, name, description, is_default, status, \
     package, region, timezone, created_at, updated_at, base_storage_gb, storage_addons, \
     max_concurrent_runs, requests_per_minute, version, version_updated_at, storage_used_bytes, \
     storage_measured_at, over_storage, last_error, certificate_info";

#[derive(sqlx::FromRow)]
pub(crate) struct EnvironmentRow {
    org_id: OrgId,
    environment_id: EnvironmentId,
    name: String,
    description: String,
    is_default: bool,
    status: String,
    package: String,
    region: String,
    timezone: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    base_storage_gb: i32,
    storage_addons: sqlx::types::Json<Vec<StorageAddon>>,
    max_concurrent_runs: i32,
    requests_per_minute: i32,
    version: String,
    version_updated_at: DateTime<Utc>,
    storage_used_bytes: i64,
    storage_measured_at: Option<DateTime<Utc>>,
    over_storage: bool,
    last_error: Option<String>,
    certificate_info: Option<serde_json::Value>,
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = Error;

    fn try_from(row: EnvironmentRow) -> Result<Environment, Error> {
        Ok(Environment {
            org_id: row.org_id,
            environment_id: row.environment_id,
            name: row.name,
            description: row.description,
            is_default: row.is_default,
            status: EnvironmentStatus::from_stored(&row.status)?,
            package: Package::from_stored(&row.package)?,
            region: row.region,
            timezone: row.timezone,
            created_at: row.created_at,
            updated_at: row.updated_at,
            base_storage_gb: row.base_storage_gb,
            storage_addons: row.storage_addons.0,
            max_concurrent_runs: row.max_concurrent_runs,
            requests_per_minute: row.requests_per_minute,
            version: row.version,
            version_updated_at: row.version_updated_at,
            storage_used_bytes: row.storage_used_bytes,
            storage_measured_at: row.storage_measured_at,
            over_storage: row.over_storage,
            last_error: row.last_error,
            certificate_info: row.certificate_info,
        })
    }
}
