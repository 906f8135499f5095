//! Background jobs on environments. A job is a row of `environment_jobs`: any `serve` or
//! `worker` process claims a due one with `FOR UPDATE SKIP LOCKED`, leases it (`locked_until`)
//! and runs it outside any transaction — VACUUM cannot run in one, and a deletion commits table
//! by table so that it resumes where it stopped. A process that crashes leaves its lease to
//! expire, and the job is claimed again: every job is idempotent. A job that keeps failing
//! leaves the environment in status `error`.

use crate::SERVER_VERSION;
use crate::usage::measure_environment;
use flowline_core::{EnvironmentId, Error, OrgId, Tenant};
use flowline_db::{PgConnection, PgPool};
use sqlx::Connection;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a claimed job is held before another process may take it over.
const LEASE_SECS: f64 = 600.0;
/// Runs of a failing job before the environment is left in status `error`.
const MAX_ATTEMPTS: i32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Create,
    Delete,
    Upgrade,
    UpdateVersion,
    Optimize,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Create => "create",
            JobKind::Delete => "delete",
            JobKind::Upgrade => "upgrade",
            JobKind::UpdateVersion => "update_version",
            JobKind::Optimize => "optimize",
        }
    }

    fn from_stored(text: &str) -> Result<JobKind, Error> {
        Ok(match text {
            "create" => JobKind::Create,
            "delete" => JobKind::Delete,
            "upgrade" => JobKind::Upgrade,
            "update_version" => JobKind::UpdateVersion,
            "optimize" => JobKind::Optimize,
            other => return Err(Error::internal(format!("stored job kind {other:?}"))),
        })
    }

    /// The status the environment is in while the job runs.
    fn busy_status(self) -> &'static str {
        match self {
            JobKind::Create => "creating",
            JobKind::Delete => "deleting",
            JobKind::Upgrade => "upgrading",
            JobKind::UpdateVersion | JobKind::Optimize => "updating",
        }
    }
}

pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    org_id: OrgId,
    environment_id: EnvironmentId,
    kind: JobKind,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO environment_jobs (org_id, environment_id, kind) VALUES ($1, $2, $3)")
        .bind(org_id)
        .bind(environment_id)
        .bind(kind.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How often a process looks for due jobs.
    pub poll_interval: Duration,
    /// How often the storage of every environment is measured.
    pub storage_interval: Duration,
    /// Step-log entries older than this are pruned by `optimize`; `None` keeps them.
    pub step_log_retention: Option<Duration>,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            poll_interval: Duration::from_millis(500),
            storage_interval: Duration::from_secs(300),
            step_log_retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

struct ClaimedJob {
    org_id: OrgId,
    job_id: i64,
    tenant: Tenant,
    kind: JobKind,
    attempts: i32,
}

async fn claim(conn: &mut PgConnection) -> Result<Option<ClaimedJob>, Error> {
    let row: Option<(OrgId, i64, EnvironmentId, String, i32)> = sqlx::query_as(
        "UPDATE environment_jobs j SET locked_until = now() + make_interval(secs => $1), \
           attempts = j.attempts + 1 \
         FROM (SELECT org_id, job_id FROM environment_jobs \
               WHERE locked_until IS NULL OR locked_until < now() \
               ORDER BY job_id LIMIT 1 FOR UPDATE SKIP LOCKED) due \
         WHERE (j.org_id, j.job_id) = (due.org_id, due.job_id) \
         RETURNING j.org_id, j.job_id, j.environment_id, j.kind, j.attempts",
    )
    .bind(LEASE_SECS)
    .fetch_optional(conn)
    .await?;
    row.map(|(org_id, job_id, environment_id, kind, attempts)| {
        Ok(ClaimedJob {
            org_id,
            job_id,
            tenant: Tenant {
                org_id,
                environment_id,
            },
            kind: JobKind::from_stored(&kind)?,
            attempts,
        })
    })
    .transpose()
}

/// Runs every due job, one after another; returns how many ran (successfully or not).
pub async fn run_due_jobs(pool: &PgPool, settings: &JobSettings) -> Result<usize, Error> {
    let mut conn = pool.acquire().await?;
    let mut ran = 0;
    while let Some(job) = claim(&mut conn).await? {
        ran += 1;
        match execute(&mut conn, &job, settings).await {
            Ok(()) => finish(&mut conn, &job).await?,
            Err(error) => fail(&mut conn, &job, &error).await?,
        }
    }
    Ok(ran)
}

async fn finish(conn: &mut PgConnection, job: &ClaimedJob) -> Result<(), Error> {
    sqlx::query("DELETE FROM environment_jobs WHERE org_id = $1 AND job_id = $2")
        .bind(job.org_id)
        .bind(job.job_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A failed run is retried later with a growing delay; past [`MAX_ATTEMPTS`], the environment
/// is left in status `error` and the job dropped.
async fn fail(conn: &mut PgConnection, job: &ClaimedJob, error: &Error) -> Result<(), Error> {
    tracing::error!(
        org.id = %job.org_id,
        environment.id = %job.tenant.environment_id,
        job.kind = job.kind.as_str(),
        job.attempts = job.attempts,
        error = %error,
        "environment job failed"
    );
    if job.attempts < MAX_ATTEMPTS {
        sqlx::query(
            "UPDATE environment_jobs SET last_error = $3, \
               locked_until = now() + make_interval(secs => $4) \
             WHERE org_id = $1 AND job_id = $2",
        )
        .bind(job.org_id)
        .bind(job.job_id)
        .bind(error.to_string())
        .bind(f64::from(job.attempts * job.attempts * 5))
        .execute(conn)
        .await?;
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    sqlx::query(
        "UPDATE environments SET status = 'error', last_error = $3, updated_at = now() \
         WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(job.org_id)
    .bind(job.tenant.environment_id)
    .bind(error.to_string())
    .execute(&mut *tx)
    .await?;
    finish(&mut tx, job).await?;
    tx.commit().await?;
    Ok(())
}

async fn execute(
    conn: &mut PgConnection,
    job: &ClaimedJob,
    settings: &JobSettings,
) -> Result<(), Error> {
    let tenant = job.tenant;
    match job.kind {
        JobKind::Create => {
            set_version(conn, tenant).await?;
            measure_environment(conn, tenant).await?;
        }
        JobKind::Upgrade => {
            // The new quotas were stored with the request; measuring applies the storage one.
            measure_environment(conn, tenant).await?;
        }
        JobKind::UpdateVersion => set_version(conn, tenant).await?,
        JobKind::Optimize => {
            if let Some(retention) = settings.step_log_retention {
                prune_step_log(conn, tenant, retention).await?;
            }
            vacuum(conn, tenant).await?;
            measure_environment(conn, tenant).await?;
        }
        JobKind::Delete => return delete_environment(conn, tenant).await,
    }
    mark_ready(conn, tenant, job.kind).await
}

async fn set_version(conn: &mut PgConnection, tenant: Tenant) -> Result<(), Error> {
    sqlx::query(
        "UPDATE environments SET version = $3, version_updated_at = now() \
         WHERE org_id = $1 AND environment_id = $2 AND version IS DISTINCT FROM $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(SERVER_VERSION)
    .execute(conn)
    .await?;
    Ok(())
}

async fn mark_ready(conn: &mut PgConnection, tenant: Tenant, kind: JobKind) -> Result<(), Error> {
    sqlx::query(
        "UPDATE environments SET status = 'ready', updated_at = now() \
         WHERE org_id = $1 AND environment_id = $2 AND status = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(kind.busy_status())
    .execute(conn)
    .await?;
    Ok(())
}

/// Step-log entries of the environment older than the retention, in bounded batches.
async fn prune_step_log(
    conn: &mut PgConnection,
    tenant: Tenant,
    retention: Duration,
) -> Result<u64, Error> {
    const BATCH: i64 = 10_000;
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM record_step_log WHERE (org_id, log_id) IN ( \
               SELECT org_id, log_id FROM record_step_log \
               WHERE org_id = $1 AND environment_id = $2 \
                 AND finished_at < now() - make_interval(secs => $3) LIMIT $4)",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(retention.as_secs_f64())
        .bind(BATCH)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// The shared tenant tables an environment's data lives in (vacuumed whole: PostgreSQL
/// vacuums tables, not rows), then the environment's own physical tables.
const SHARED_TABLES: [&str; 7] = [
    "records",
    "record_queue",
    "record_history",
    "record_step_log",
    "keystore_entries",
    "webhook_events",
    "environments",
];

async fn vacuum(conn: &mut PgConnection, tenant: Tenant) -> Result<(), Error> {
    for table in SHARED_TABLES {
        // The names come from the constant list above, never from a request.
        let sql = sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {table}"));
        sqlx::raw_sql(sql).execute(&mut *conn).await?;
    }
    flowline_tables::vacuum_environment_tables(conn, tenant).await?;
    Ok(())
}

/// Tenant tables without a foreign key to `environments` (they would lock hot rows on every
/// insert), deleted explicitly; every other tenant table follows the environments row through
/// `ON DELETE CASCADE`.
const UNLINKED_TABLES: [&str; 5] = [
    "record_queue",
    "records",
    "record_history",
    "record_step_log",
    "webhook_events",
];

async fn delete_unlinked_rows(conn: &mut PgConnection, tenant: Tenant) -> Result<(), Error> {
    for table in UNLINKED_TABLES {
        let sql = sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE org_id = $1 AND environment_id = $2"
        ));
        sqlx::query(sql)
            .bind(tenant.org_id)
            .bind(tenant.environment_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Removes every row of the environment: its physical tables, its records and their logs, then
/// in one transaction the environments row (its flows, keystores, webhooks, schema,
/// applications and deployed projects follow by cascade), leaving a tombstone.
async fn delete_environment(conn: &mut PgConnection, tenant: Tenant) -> Result<(), Error> {
    flowline_tables::drop_environment_tables(conn, tenant).await?;
    delete_unlinked_rows(conn, tenant).await?;
    let mut tx = conn.begin().await?;
    // Ingestion holds its flow's row while it inserts records: taking the flows first waits
    // for any such insert to commit, so that the records deleted next include its records.
    sqlx::query("SELECT 1 FROM flows WHERE org_id = $1 AND environment_id = $2 FOR UPDATE")
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .execute(&mut *tx)
        .await?;
    delete_unlinked_rows(&mut tx, tenant).await?;
    sqlx::query(
        "INSERT INTO environment_tombstones (org_id, environment_id, name) \
         SELECT org_id, environment_id, name FROM environments \
         WHERE org_id = $1 AND environment_id = $2 ON CONFLICT DO NOTHING",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM environments WHERE org_id = $1 AND environment_id = $2")
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The job loop of a process: due jobs every `poll_interval`, storage every
/// `storage_interval`.
pub struct JobRunner {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl JobRunner {
    pub fn start(pool: PgPool, settings: JobSettings) -> JobRunner {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut jobs = tokio::time::interval(settings.poll_interval);
            let mut storage = tokio::time::interval(settings.storage_interval);
            jobs.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            storage.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = jobs.tick() => {
                        if let Err(error) = run_due_jobs(&pool, &settings).await {
                            tracing::error!(error = %error, "environment jobs");
                        }
                    }
                    _ = storage.tick() => {
                        if let Err(error) = crate::usage::measure_storage(&pool).await {
                            tracing::error!(error = %error, "measuring environments' storage");
                        }
                    }
                }
            }
        });
        JobRunner { stop, task }
    }

    /// Stops after the job in progress, if any.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(error = %error, "environment job runner");
        }
    }
}
