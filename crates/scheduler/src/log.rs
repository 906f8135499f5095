//! Reading a record's step log: what `GET /v1/record` shows in `flow_objects_info`.

use chrono::{DateTime, Utc};
use flowline_core::Tenant;
use flowline_db::PgConnection;

/// One step execution.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StepLogEntry {
    pub step_id: String,
    pub step_type: String,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok`, `retry` (failed, tried again later) or `error`.
    pub outcome: String,
    pub error: Option<String>,
}

/// The most entries [`step_log`] returns: the latest ones.
pub const MAX_LOG_ENTRIES: i64 = 1000;

/// The tenant's record's step executions, oldest first (the latest [`MAX_LOG_ENTRIES`]).
pub async fn step_log(
    conn: &mut PgConnection,
    tenant: Tenant,
    record_id: i64,
) -> Result<Vec<StepLogEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT step_id, step_type, attempt, started_at, finished_at, outcome, error FROM ( \
           SELECT * FROM record_step_log WHERE org_id = $1 AND environment_id = $2 \
           AND record_id = $3 ORDER BY log_id DESC LIMIT $4) latest ORDER BY log_id",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(record_id)
    .bind(MAX_LOG_ENTRIES)
    .fetch_all(conn)
    .await
}
