//! The environments of an organization: reads, and the changes the organization API asks for.
//! A change that needs work (creation, upgrade, update, optimization, deletion) sets the
//! environment's status and queues its job in the same transaction; the job sets it back.

use crate::certificate::InstalledCertificate;
use crate::jobs::{JobKind, enqueue};
use crate::model::{
    COLUMNS, Environment, EnvironmentRow, EnvironmentStatus, StatusOnly, StorageAddon,
};
use crate::package::Package;
use crate::settings::{EnvironmentName, Region, Timezone};
use flowline_core::{EnvironmentId, Error, OrgPrincipal, Tenant};
use flowline_db::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

/// The GB one storage upgrade adds; the reference allows nothing else.
pub const STORAGE_STEP_GB: i32 = 100;

pub struct NewEnvironment {
    pub name: EnvironmentName,
    pub description: String,
    pub package: Package,
    pub region: Region,
    pub timezone: Timezone,
}

/// `POST /v1/environment/:id`: what to change; `None` keeps.
#[derive(Default)]
pub struct EnvironmentChanges {
    pub name: Option<EnvironmentName>,
    pub description: Option<String>,
    pub delete_certificate: bool,
    pub certificate: Option<InstalledCertificate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    Package(Package),
    /// Adds [`STORAGE_STEP_GB`].
    Storage,
}

fn select(rest: &'static str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT {COLUMNS} FROM environments {rest}"))
}

fn not_found(environment_id: EnvironmentId) -> Error {
    Error::not_found(format!("Environment {environment_id} does not exist"))
}

/// Every environment of the organization, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
) -> Result<Vec<Environment>, Error> {
    let rows: Vec<EnvironmentRow> =
        sqlx::query_as(select("WHERE org_id = $1 ORDER BY environment_id"))
            .bind(caller.org_id)
            .fetch_all(conn)
            .await?;
    rows.into_iter().map(Environment::try_from).collect()
}

pub async fn get(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<Environment, Error> {
    let row: Option<EnvironmentRow> =
        sqlx::query_as(select("WHERE org_id = $1 AND environment_id = $2"))
            .bind(caller.org_id)
            .bind(environment_id)
            .fetch_optional(conn)
            .await?;
    row.map(Environment::try_from)
        .transpose()?
        .ok_or_else(|| not_found(environment_id))
}

/// The environment's status; `deleted` once a deletion has finished.
pub async fn status(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<StatusOnly, Error> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT status FROM environments WHERE org_id = $1 AND environment_id = $2 \
         UNION ALL \
         SELECT 'deleted' FROM environment_tombstones WHERE org_id = $1 AND environment_id = $2 \
         LIMIT 1",
    )
    .bind(caller.org_id)
    .bind(environment_id)
    .fetch_optional(conn)
    .await?;
    let status = match found.as_deref() {
        None => return Err(not_found(environment_id)),
        Some("deleted") => EnvironmentStatus::Deleted,
        Some(stored) => EnvironmentStatus::from_stored(stored)?,
    };
    Ok(StatusOnly {
        environment_id,
        status,
    })
}

fn name_conflict(name: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |error| {
        let error = Error::from(error);
        if error.is_unique_violation("environments_name_key") {
            Error::conflict(format!(
                "name: an environment named '{name}' already exists"
            ))
        } else {
            error
        }
    }
}

/// Creates the environment in status `creating` and queues the job that prepares it.
#[tracing::instrument(skip_all, fields(org.id = %caller.org_id))]
pub async fn create(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    new: NewEnvironment,
) -> Result<Environment, Error> {
    let mut tx = conn.begin().await?;
    let sql = AssertSqlSafe(format!(
        "INSERT INTO environments (org_id, name, description, status, package, region, \
           timezone, base_storage_gb, max_concurrent_runs, requests_per_minute, version) \
         VALUES ($1, $2, $3, 'creating', $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ));
    let row: EnvironmentRow = sqlx::query_as(sql)
        .bind(caller.org_id)
        .bind(new.name.as_str())
        .bind(&new.description)
        .bind(new.package.code())
        .bind(new.region.as_str())
        .bind(new.timezone.as_str())
        .bind(new.package.base_storage_gb())
        .bind(new.package.max_concurrent_runs())
        .bind(new.package.requests_per_minute())
        .bind(crate::SERVER_VERSION)
        .fetch_one(&mut *tx)
        .await
        .map_err(name_conflict(new.name.as_str()))?;
    let environment = Environment::try_from(row)?;
    enqueue(
        &mut tx,
        caller.org_id,
        environment.environment_id,
        JobKind::Create,
    )
    .await?;
    tx.commit().await?;
    Ok(environment)
}

/// Locks the environment's row for a change, refusing while a job is running on it.
async fn lock_idle(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<Environment, Error> {
    let row: Option<EnvironmentRow> = sqlx::query_as(select(
        "WHERE org_id = $1 AND environment_id = $2 FOR UPDATE",
    ))
    .bind(caller.org_id)
    .bind(environment_id)
    .fetch_optional(conn)
    .await?;
    let environment = row
        .map(Environment::try_from)
        .transpose()?
        .ok_or_else(|| not_found(environment_id))?;
    if environment.status.is_busy() {
        return Err(Error::conflict(format!(
            "Environment {environment_id} is {}: retry when it is ready",
            environment.status.as_str()
        )));
    }
    Ok(environment)
}

/// `POST /v1/environment/:id`: name, description and certificate, at once.
#[tracing::instrument(skip_all, fields(org.id = %caller.org_id, environment.id = %environment_id))]
pub async fn update(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
    changes: EnvironmentChanges,
) -> Result<Environment, Error> {
    let mut tx = conn.begin().await?;
    lock_idle(&mut tx, caller, environment_id).await?;
    let name = changes.name.as_ref().map(EnvironmentName::as_str);
    sqlx::query(
        "UPDATE environments SET name = coalesce($3, name), \
           description = coalesce($4, description), updated_at = now() \
         WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(caller.org_id)
    .bind(environment_id)
    .bind(name)
    .bind(changes.description.as_deref())
    .execute(&mut *tx)
    .await
    .map_err(name_conflict(name.unwrap_or_default()))?;
    if changes.delete_certificate || changes.certificate.is_some() {
        let certificate = changes.certificate.as_ref();
        sqlx::query(
            "UPDATE environments SET certificate_chain_pem = $3, certificate_key_pem = $4, \
               certificate_info = $5::text::json WHERE org_id = $1 AND environment_id = $2",
        )
        .bind(caller.org_id)
        .bind(environment_id)
        .bind(certificate.map(|c| c.chain_pem.as_str()))
        .bind(certificate.map(|c| c.key_pem.as_str()))
        .bind(certificate.map(|c| c.info.to_string()))
        .execute(&mut *tx)
        .await?;
    }
    let environment = get(&mut tx, caller, environment_id).await?;
    tx.commit().await?;
    Ok(environment)
}

/// Sets a busy status and queues its job, in one transaction, after `check` accepted the
/// environment as it is.
async fn start_job(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
    status: EnvironmentStatus,
    kind: JobKind,
    check: impl FnOnce(&Environment) -> Result<(), Error>,
) -> Result<Environment, Error> {
    let mut tx = conn.begin().await?;
    let environment = lock_idle(&mut tx, caller, environment_id).await?;
    check(&environment)?;
    sqlx::query(
        "UPDATE environments SET status = $3, updated_at = now(), last_error = NULL \
         WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(caller.org_id)
    .bind(environment_id)
    .bind(status.as_str())
    .execute(&mut *tx)
    .await?;
    enqueue(&mut tx, caller.org_id, environment_id, kind).await?;
    let environment = get(&mut tx, caller, environment_id).await?;
    tx.commit().await?;
    Ok(environment)
}

/// `POST …/upgrade`: a bigger package (its quotas apply at once), or 100 GB more storage.
#[tracing::instrument(skip_all, fields(org.id = %caller.org_id, environment.id = %environment_id))]
pub async fn upgrade(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
    upgrade: Upgrade,
) -> Result<Environment, Error> {
    let mut tx = conn.begin().await?;
    let current = lock_idle(&mut tx, caller, environment_id).await?;
    match upgrade {
        Upgrade::Package(package) => {
            if package <= current.package {
                return Err(Error::invalid_field(
                    "package",
                    format!(
                        "{} is not an upgrade of the environment's package {}",
                        package.code(),
                        current.package.code()
                    ),
                ));
            }
            sqlx::query(
                "UPDATE environments SET package = $3, base_storage_gb = $4, \
                   max_concurrent_runs = $5, requests_per_minute = $6 \
                 WHERE org_id = $1 AND environment_id = $2",
            )
            .bind(caller.org_id)
            .bind(environment_id)
            .bind(package.code())
            .bind(package.base_storage_gb())
            .bind(package.max_concurrent_runs())
            .bind(package.requests_per_minute())
            .execute(&mut *tx)
            .await?;
        }
        Upgrade::Storage => {
            let addon = StorageAddon {
                storage: STORAGE_STEP_GB,
                date_created: flowline_core::time::api_date(chrono::Utc::now()),
            };
            sqlx::query(
                "UPDATE environments SET storage_addons = storage_addons || jsonb_build_array($3::jsonb) \
                 WHERE org_id = $1 AND environment_id = $2",
            )
            .bind(caller.org_id)
            .bind(environment_id)
            .bind(sqlx::types::Json(addon))
            .execute(&mut *tx)
            .await?;
        }
    }
    let environment = start_job(
        &mut tx,
        caller,
        environment_id,
        EnvironmentStatus::Upgrading,
        JobKind::Upgrade,
        |_| Ok(()),
    )
    .await?;
    tx.commit().await?;
    Ok(environment)
}

/// `POST …/update-version`: brings the environment to this server's version.
pub async fn update_version(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<Environment, Error> {
    start_job(
        conn,
        caller,
        environment_id,
        EnvironmentStatus::Updating,
        JobKind::UpdateVersion,
        |_| Ok(()),
    )
    .await
}

/// `POST …/optimize`: prunes the step log past retention and vacuums what the environment uses.
pub async fn optimize(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<Environment, Error> {
    start_job(
        conn,
        caller,
        environment_id,
        EnvironmentStatus::Updating,
        JobKind::Optimize,
        |_| Ok(()),
    )
    .await
}

/// `DELETE /v1/environment/:id`: refused for the default environment, and while records of the
/// environment are running unless `force`.
#[tracing::instrument(skip_all, fields(org.id = %caller.org_id, environment.id = %environment_id))]
pub async fn request_delete(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
    force: bool,
) -> Result<Environment, Error> {
    let mut tx = conn.begin().await?;
    let running = if force {
        0
    } else {
        running_records(&mut tx, caller, environment_id).await?
    };
    let environment = start_job(
        &mut tx,
        caller,
        environment_id,
        EnvironmentStatus::Deleting,
        JobKind::Delete,
        |environment| {
            if environment.is_default {
                return Err(Error::conflict(format!(
                    "Environment {environment_id} is the organization's default environment \
                     and cannot be deleted"
                )));
            }
            if running > 0 {
                return Err(Error::conflict(format!(
                    "{running} data records of environment {environment_id} are being \
                     processed: retry when they finish, or send force=1"
                )));
            }
            Ok(())
        },
    )
    .await?;
    tx.commit().await?;
    Ok(environment)
}

/// Records of the environment being processed: status 1, or leased in the queue.
async fn running_records(
    conn: &mut PgConnection,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<i64, Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ( \
           SELECT record_id FROM records \
             WHERE org_id = $1 AND environment_id = $2 AND status = 1 \
           UNION \
           SELECT record_id FROM record_queue \
             WHERE org_id = $1 AND environment_id = $2 AND lease_until > now()) running",
    )
    .bind(caller.org_id)
    .bind(environment_id)
    .fetch_one(conn)
    .await?;
    Ok(count)
}

/// What an environment's package allows, for callers that reach a tenant without an
/// application's credentials (webhook receipts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub requests_per_minute: u32,
    pub over_storage: bool,
}

/// The quota of the tenant's environment; `None` when the environment is gone.
pub async fn quota(conn: &mut PgConnection, tenant: Tenant) -> Result<Option<Quota>, Error> {
    let row: Option<(i32, bool)> = sqlx::query_as(
        "SELECT requests_per_minute, over_storage FROM environments \
         WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(requests_per_minute, over_storage)| Quota {
        requests_per_minute: u32::try_from(requests_per_minute).unwrap_or(1),
        over_storage,
    }))
}
