//! What an environment holds and uses: the counts of `stats`, and the storage measurement that
//! the job runner repeats periodically (never per request).

use flowline_core::{EnvironmentId, Error, OrgId, Tenant};
use flowline_db::{PgConnection, PgPool};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The live counts of `stats`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub records: i64,
    pub webhooks: i64,
    /// Records waiting in the queue (or running).
    pub tasks: i64,
    /// Average and longest step execution over the past 24 hours, in milliseconds.
    pub avg_step_ms: f64,
    pub peak_step_ms: f64,
}

/// Counted from the environment's rows, through their tenant indexes.
pub async fn usage(conn: &mut PgConnection, tenant: Tenant) -> Result<Usage, Error> {
    let (records, webhooks, tasks, avg_step_ms, peak_step_ms): (i64, i64, i64, f64, f64) =
        sqlx::query_as(
            "SELECT \
               (SELECT count(*) FROM records WHERE org_id = $1 AND environment_id = $2), \
               (SELECT count(*) FROM webhooks WHERE org_id = $1 AND environment_id = $2), \
               (SELECT count(*) FROM record_queue WHERE org_id = $1 AND environment_id = $2), \
               coalesce(avg(ms), 0)::float8, coalesce(max(ms), 0)::float8 \
             FROM (SELECT extract(epoch FROM finished_at - started_at) * 1000 AS ms \
                   FROM record_step_log \
                   WHERE org_id = $1 AND environment_id = $2 \
                     AND finished_at > now() - interval '24 hours') steps",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .fetch_one(conn)
        .await?;
    Ok(Usage {
        records,
        webhooks,
        tasks,
        avg_step_ms,
        peak_step_ms,
    })
}

/// Bytes in GB, as `storage_info` and `stats` report them (four decimals).
pub fn bytes_to_gb(bytes: i64) -> f64 {
    ((bytes as f64 / GIB) * 10_000.0).round() / 10_000.0
}

/// The bytes of the environment's rows (their stored size, `pg_column_size` of each row, in
/// the shared tenant tables) plus its own physical tables (their size on disk, indexes
/// included).
async fn environment_bytes(conn: &mut PgConnection, tenant: Tenant) -> Result<i64, Error> {
    let rows: i64 = sqlx::query_scalar(
        "SELECT ( \
           (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM records t \
              WHERE org_id = $1 AND environment_id = $2) + \
           (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM record_history t \
              WHERE org_id = $1 AND environment_id = $2) + \
           (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM record_step_log t \
              WHERE org_id = $1 AND environment_id = $2) + \
           (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM keystore_entries t \
              WHERE org_id = $1 AND environment_id = $2) + \
           (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM webhook_events t \
              WHERE org_id = $1 AND environment_id = $2) \
         )::bigint",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_one(&mut *conn)
    .await?;
    let tables = flowline_tables::environment_tables_bytes(conn, tenant).await?;
    Ok(rows + tables)
}

/// Measures one environment and records its use and whether it is over its storage.
pub(crate) async fn measure_environment(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<i64, Error> {
    let bytes = environment_bytes(conn, tenant).await?;
    sqlx::query(
        "UPDATE environments SET storage_used_bytes = $3, storage_measured_at = now(), \
           over_storage = $3 > (base_storage_gb::bigint + coalesce( \
             (SELECT sum((addon->>'storage')::bigint) FROM jsonb_array_elements(storage_addons) addon), \
             0)) * 1073741824 \
         WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(bytes)
    .execute(conn)
    .await?;
    Ok(bytes)
}

/// Measures every environment that is not being deleted; returns how many.
pub async fn measure_storage(pool: &PgPool) -> Result<usize, Error> {
    let mut conn = pool.acquire().await?;
    let tenants: Vec<(OrgId, EnvironmentId)> = sqlx::query_as(
        "SELECT org_id, environment_id FROM environments WHERE status <> 'deleting' \
         ORDER BY org_id, environment_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (org_id, environment_id) in &tenants {
        let tenant = Tenant {
            org_id: *org_id,
            environment_id: *environment_id,
        };
        measure_environment(&mut conn, tenant).await?;
    }
    Ok(tenants.len())
}
