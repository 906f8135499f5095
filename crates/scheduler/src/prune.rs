//! Step-log retention: entries older than the retention are deleted in bounded batches, so
//! that pruning never holds long locks or bloats one transaction.

use std::time::Duration;

use flowline_db::PgPool;

/// Entries deleted per statement.
const BATCH: i64 = 10_000;

/// Deletes the step-log entries that finished more than `retention` ago; how many.
pub async fn prune_step_log(pool: &PgPool, retention: Duration) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM record_step_log WHERE (org_id, log_id) IN ( \
               SELECT org_id, log_id FROM record_step_log \
               WHERE finished_at < now() - make_interval(secs => $1) LIMIT $2)",
        )
        .bind(retention.as_secs_f64())
        .bind(BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}
