//! Running claimed records. A batch of claimed records runs in one transaction (`batch.rs`):
//! their queue entries are locked first and must still carry this worker's lease (owner and
//! attempt) — a late worker whose lease expired and was taken over finds nothing to run — then
//! each record walks its flow from where it stands (`walk.rs`), the steps that touch the
//! database are run for all the records waiting at them (`bulk.rs`: one statement per keystore
//! or table written), and the records' new state, queue entries, step log and history are
//! written (`persist.rs`) and committed together: all or nothing.
//!
//! An `http` step splits a record's run: the transaction commits the record at the step
//! (status 1, processing), the call is made outside any transaction while a heartbeat extends
//! the lease, and a new transaction, fenced by the same lease, applies the response and goes
//! on. A crash in between repeats the call (at least once) with the same idempotency key.

mod batch;
mod bulk;
mod persist;
mod walk;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowline_core::OrgId;
use flowline_db::PgPool;
use flowline_flows::FlowDefinition;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::claim::Claimed;
use crate::http::{Outbound, Request};

/// How many times a record may be claimed without finishing (its worker died each time) before
/// it fails instead of looping.
pub const MAX_CLAIMS: i32 = 5;

/// Flow versions already read: they never change.
pub(crate) type Definitions = Arc<Mutex<HashMap<(OrgId, i64, i32), Arc<FlowDefinition>>>>;

/// What runs share: the pool, the flow versions read so far, the outbound client and the
/// lease length.
#[derive(Clone)]
pub(crate) struct Context {
    pub pool: PgPool,
    pub definitions: Definitions,
    pub outbound: Outbound,
    pub lease: std::time::Duration,
}

/// An `http` step's call, made between two transactions of the run, to be applied.
#[derive(Debug, Clone)]
pub(crate) struct Called {
    step: String,
    attempt: i32,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    result: Result<Value, String>,
}

/// A record whose run reached an `http` step: committed at the step, its call still to make.
pub(crate) struct PendingCall {
    claimed: Claimed,
    step: String,
    attempt: i32,
    request: Result<Request, String>,
}

/// A record to run, with the response of the call it resumes from, if any.
#[derive(Debug, Clone)]
struct Job {
    claimed: Claimed,
    called: Option<Called>,
}

/// Runs the claimed records in one transaction; returns the calls their runs reached.
pub(crate) async fn run_claimed(context: &Context, claimed: Vec<Claimed>) -> Vec<PendingCall> {
    let jobs: Vec<Job> = claimed
        .into_iter()
        .map(|claimed| Job {
            claimed,
            called: None,
        })
        .collect();
    run_jobs(context, &jobs).await
}

async fn run_jobs(context: &Context, jobs: &[Job]) -> Vec<PendingCall> {
    match batch::run(context, jobs).await {
        Ok(calls) => calls,
        Err(error) => {
            tracing::warn!(%error, records = jobs.len(),
                "run abandoned; its records will be claimed again");
            release_soon(&context.pool, jobs).await;
            Vec::new()
        }
    }
}

/// Makes a record's call, then runs the record on from the response, until its run reaches no
/// further call.
pub(crate) async fn call_and_continue(context: &Context, mut pending: PendingCall) {
    loop {
        let claimed = pending.claimed;
        let started_at = Utc::now();
        let result = match pending.request {
            Ok(request) => match call_holding_lease(context, claimed, request).await {
                Ok(Some(result)) => result,
                Ok(None) => {
                    tracing::warn!(record.id = claimed.record_id, "lease lost during a call");
                    return;
                }
                Err(error) => {
                    // The lease runs out and the record is claimed again, which repeats the call.
                    tracing::warn!(%error, record.id = claimed.record_id,
                        "extending the lease during a call failed");
                    return;
                }
            },
            Err(message) => Err(message),
        };
        let job = Job {
            claimed,
            called: Some(Called {
                step: pending.step,
                attempt: pending.attempt,
                started_at,
                finished_at: Utc::now(),
                result,
            }),
        };
        match run_jobs(context, std::slice::from_ref(&job)).await.pop() {
            Some(next) => pending = next,
            None => return,
        }
    }
}

/// Gives back the leases of records whose run failed for a reason of the database's, so that
/// they are claimed again in a second instead of when the lease runs out. The claim is still
/// counted: a record that keeps failing this way ends failed after [`MAX_CLAIMS`].
async fn release_soon(pool: &PgPool, jobs: &[Job]) {
    let org_ids: Vec<OrgId> = jobs.iter().map(|job| job.claimed.org_id).collect();
    let record_ids: Vec<i64> = jobs.iter().map(|job| job.claimed.record_id).collect();
    let attempts: Vec<i32> = jobs.iter().map(|job| job.claimed.attempts).collect();
    let Some(owner) = jobs.first().map(|job| job.claimed.owner) else {
        return;
    };
    let released = sqlx::query(
        "UPDATE record_queue q SET lease_owner = NULL, lease_until = NULL, \
         next_run_at = greatest(q.next_run_at, now() + interval '1 second') \
         FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS c(org_id, record_id, attempts) \
         WHERE q.org_id = c.org_id AND q.record_id = c.record_id AND q.lease_owner = $4 \
         AND q.attempts = c.attempts",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .bind(&attempts)
    .bind(owner)
    .execute(pool)
    .await;
    if let Err(error) = released {
        tracing::warn!(%error, "giving back the leases of an abandoned run failed");
    }
}

/// Makes the call while extending the lease every third of its length; `None` when the lease
/// was lost meanwhile (another worker may run the record: its result must not be applied).
async fn call_holding_lease(
    context: &Context,
    claimed: Claimed,
    request: Request,
) -> Result<Option<Result<Value, String>>, sqlx::Error> {
    let call = context.outbound.call(request);
    tokio::pin!(call);
    let period = (context.lease / 3).max(std::time::Duration::from_millis(100));
    loop {
        tokio::select! {
            result = &mut call => return Ok(Some(result)),
            () = tokio::time::sleep(period) => {
                if !extend_lease(&context.pool, claimed, context.lease).await? {
                    return Ok(None);
                }
            }
        }
    }
}

/// Extends the run's lease by `lease` from now; false when the run no longer holds it.
async fn extend_lease(
    executor: impl sqlx::PgExecutor<'_>,
    claimed: Claimed,
    lease: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let extended = sqlx::query(
        "UPDATE record_queue SET lease_until = now() + make_interval(secs => $5) \
         WHERE org_id = $1 AND record_id = $2 AND lease_owner = $3 AND attempts = $4",
    )
    .bind(claimed.org_id)
    .bind(claimed.record_id)
    .bind(claimed.owner)
    .bind(claimed.attempts)
    .bind(lease.as_secs_f64())
    .execute(executor)
    .await?;
    Ok(extended.rows_affected() == 1)
}
