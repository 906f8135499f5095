//! Claiming due records: one statement takes up to `limit` due, unpaused, unleased (or
//! lease-expired) queue entries of flows that are not paused, fairly across organizations and
//! within each flow's concurrency limit, and leases them to this worker.

use chrono::{DateTime, Utc};
use flowline_core::OrgId;
use flowline_db::PgPool;
use uuid::Uuid;

/// A record this worker holds a lease on; `owner` and `attempts` fence its run.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub(crate) struct Claimed {
    pub org_id: OrgId,
    pub record_id: i64,
    pub attempts: i32,
    #[sqlx(skip)]
    pub owner: Uuid,
}

/// Serializes claims across workers and processes (a transaction-level advisory lock): a
/// claim must see the leases of the claim before it, or two workers could both start a record
/// of a flow limited to one at a time. Claims are one short statement per batch.
const CLAIM_LOCK: i64 = 0x666c_6f77_6c69_6e65;

/// Claims up to `limit` due records for `lease_secs` seconds, fairly across organizations and
/// within each flow's `concurrency`. A lost claim only means the records are claimed again
/// once the lease expires, so it skips the synchronous commit.
///
/// Organizations are found by a skip scan of the queue's primary key (one index probe per
/// organization, however many records each has queued); each offers its earliest due records,
/// which are ranked by their place in their organization's line (ties in random order), so a
/// batch takes the first of every organization before the second of any. A flow whose
/// published definition sets `concurrency` gets at most that many records leased at once, and
/// an environment at most its package's `max_concurrent_runs`.
pub(crate) async fn claim(
    pool: &PgPool,
    owner: Uuid,
    limit: usize,
    lease_secs: f64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // A claim wakes nobody: the queue trigger stays quiet for the scheduler's own updates.
    sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true), \
         set_config('flowline.quiet', 'on', true)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CLAIM_LOCK)
        .execute(&mut *tx)
        .await?;
    let mut claimed: Vec<Claimed> = sqlx::query_as(
        "WITH RECURSIVE orgs AS ( \
           (SELECT org_id FROM record_queue ORDER BY org_id LIMIT 1) \
           UNION ALL \
           SELECT (SELECT q.org_id FROM record_queue q WHERE q.org_id > orgs.org_id \
                   ORDER BY q.org_id LIMIT 1) FROM orgs WHERE orgs.org_id IS NOT NULL), \
         candidates AS ( \
           SELECT c.* FROM orgs CROSS JOIN LATERAL ( \
             SELECT q.org_id, q.record_id, q.flow_id, q.environment_id, q.next_run_at \
             FROM record_queue q \
             WHERE q.org_id = orgs.org_id AND NOT q.paused AND q.next_run_at <= now() \
               AND (q.lease_until IS NULL OR q.lease_until < now()) \
               AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.org_id = q.org_id \
                               AND f.flow_id = q.flow_id AND f.status = 'paused') \
             ORDER BY q.next_run_at LIMIT $1) c \
           WHERE orgs.org_id IS NOT NULL), \
         in_flight AS ( \
           SELECT l.org_id, l.environment_id, count(*) AS leased FROM record_queue l \
           WHERE l.lease_owner IS NOT NULL AND l.lease_until >= now() \
             AND (l.org_id, l.environment_id) IN ( \
               SELECT DISTINCT org_id, environment_id FROM candidates) \
           GROUP BY l.org_id, l.environment_id), \
         ranked AS ( \
           SELECT c.org_id, c.record_id, c.flow_id, \
             row_number() OVER (PARTITION BY c.org_id ORDER BY c.next_run_at) AS org_rank, \
             row_number() OVER (PARTITION BY c.org_id, c.flow_id ORDER BY c.next_run_at) \
               AS flow_rank, \
             row_number() OVER (PARTITION BY c.org_id, c.environment_id \
               ORDER BY c.next_run_at) + coalesce(i.leased, 0) AS environment_load, \
             e.max_concurrent_runs, \
             (v.definition->>'concurrency')::bigint AS concurrency \
           FROM candidates c \
           JOIN environments e ON e.org_id = c.org_id AND e.environment_id = c.environment_id \
           LEFT JOIN in_flight i ON i.org_id = c.org_id AND i.environment_id = c.environment_id \
           LEFT JOIN flows f ON f.org_id = c.org_id AND f.flow_id = c.flow_id \
           LEFT JOIN flow_versions v ON v.org_id = f.org_id AND v.flow_id = f.flow_id \
             AND v.version = f.current_version), \
         chosen AS ( \
           SELECT r.org_id, r.record_id FROM ranked r \
           WHERE r.environment_load <= r.max_concurrent_runs \
           AND (r.concurrency IS NULL OR r.flow_rank + ( \
             SELECT count(*) FROM record_queue l WHERE l.org_id = r.org_id \
             AND l.flow_id = r.flow_id AND l.lease_until >= now()) <= r.concurrency) \
           ORDER BY r.org_rank, random() LIMIT $1), \
         due AS ( \
           SELECT q.org_id, q.record_id FROM record_queue q \
           JOIN chosen c ON q.org_id = c.org_id AND q.record_id = c.record_id \
           WHERE NOT q.paused AND (q.lease_until IS NULL OR q.lease_until < now()) \
           FOR UPDATE OF q SKIP LOCKED) \
         UPDATE record_queue q SET lease_owner = $2, \
           lease_until = now() + make_interval(secs => $3), attempts = q.attempts + 1 \
         FROM due WHERE q.org_id = due.org_id AND q.record_id = due.record_id \
         RETURNING q.org_id, q.record_id, q.attempts",
    )
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(owner)
    .bind(lease_secs)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for claim in &mut claimed {
        claim.owner = owner;
    }
    Ok(claimed)
}

/// When the next queued record falls due (now when one is due already), if any.
pub(crate) async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(next_run_at) FROM record_queue WHERE NOT paused \
         AND (lease_until IS NULL OR lease_until < now())",
    )
    .fetch_one(pool)
    .await
}

/// Gives back the leases this worker still holds (at shutdown): the records are due again at
/// once, and their claim is not counted as a rescue.
pub(crate) async fn release_all(pool: &PgPool, owner: Uuid) -> Result<u64, sqlx::Error> {
    let released = sqlx::query(
        "UPDATE record_queue SET lease_owner = NULL, lease_until = NULL, \
         attempts = greatest(attempts - 1, 0) WHERE lease_owner = $1",
    )
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}
