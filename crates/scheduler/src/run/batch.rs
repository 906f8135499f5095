//! A batch of records in one transaction. The first try runs the database steps of all the
//! records waiting at them together, with no savepoint: if one of those statements fails (a
//! constraint a row broke, a deadlock), the whole try is rolled back and the batch runs again
//! carefully — each database step of each record in its own savepoint, so that a failed step
//! leaves nothing behind and only its record takes `retry` or `on_error`. Either way the batch
//! commits once.

use std::sync::Arc;

use chrono::Utc;
use flowline_core::Tenant;
use flowline_db::PgConnection;
use flowline_flows::{FlowDefinition, Step};
use serde_json::Value;
use sqlx::Connection;

use super::walk::{LoadedRecord, Outcome, Waiting, Walk};
use super::{Context, Definitions, Job, PendingCall, bulk, persist};
use crate::error::StepError;
use crate::http::idempotency_key;
use crate::steps::{Next, RunState, run_in_database};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Database steps grouped across records, no savepoints.
    Together,
    /// Each database step of each record in its own savepoint.
    Carefully,
}

/// Runs the jobs' records and commits them; returns the calls their runs reached. A batch that
/// fails even carefully is run record by record, so that one record the database cannot store
/// never holds back the others; a record that fails alone is the error.
pub(super) async fn run(context: &Context, jobs: &[Job]) -> Result<Vec<PendingCall>, sqlx::Error> {
    match attempt(context, jobs, Mode::Together).await {
        Ok(Some(calls)) => return Ok(calls),
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "a batch failed; running it carefully"),
    }
    match attempt(context, jobs, Mode::Carefully).await {
        Ok(calls) => Ok(calls.unwrap_or_default()),
        Err(error) if jobs.len() > 1 => {
            tracing::debug!(%error, "a careful batch failed; running its records one by one");
            let mut calls = Vec::new();
            for job in jobs {
                match attempt(context, std::slice::from_ref(job), Mode::Carefully).await {
                    Ok(reached) => calls.extend(reached.unwrap_or_default()),
                    Err(error) => {
                        tracing::warn!(%error, record.id = job.claimed.record_id,
                            "run abandoned; the record will be claimed again");
                        super::release_soon(&context.pool, std::slice::from_ref(job)).await;
                    }
                }
            }
            Ok(calls)
        }
        Err(error) => Err(error),
    }
}

/// One try at the batch; `None` when a grouped statement failed and the try was rolled back.
async fn attempt(
    context: &Context,
    jobs: &[Job],
    mode: Mode,
) -> Result<Option<Vec<PendingCall>>, sqlx::Error> {
    let mut conn = context.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // The scheduler's own queue updates wake nobody (see the queue trigger).
    sqlx::query("SELECT set_config('flowline.quiet', 'on', true)")
        .execute(&mut *tx)
        .await?;
    let mut walks = start_walks(&mut tx, context, jobs).await?;
    let mut keystore_types = bulk::KeystoreTypes::default();
    loop {
        let waiting: Vec<(usize, Waiting)> = walks
            .iter_mut()
            .enumerate()
            .filter_map(|(index, walk)| walk.advance().map(|waiting| (index, waiting)))
            .collect();
        if waiting.is_empty() {
            break;
        }
        match mode {
            Mode::Together => {
                let ran =
                    bulk::run_waiting(&mut tx, &mut walks, waiting, &mut keystore_types).await?;
                if !ran {
                    return Ok(None);
                }
            }
            Mode::Carefully => {
                for (index, waiting) in waiting {
                    run_carefully(&mut tx, &mut walks[index], &waiting).await?;
                }
            }
        }
    }
    persist::save_all(&mut tx, &mut walks, context.lease).await?;
    tx.commit().await?;
    Ok(Some(after_commit(context, walks)))
}

/// Locks the jobs' queue entries under their leases and their records, and starts a walk for
/// each. Queue entries whose record is gone are dropped.
async fn start_walks(
    tx: &mut PgConnection,
    context: &Context,
    jobs: &[Job],
) -> Result<Vec<Walk>, sqlx::Error> {
    let records = lock_records(tx, jobs).await?;
    if records.len() < jobs.len() {
        drop_orphans(tx, jobs).await?;
    }
    let mut walks = Vec::with_capacity(records.len());
    for record in records {
        let Some(job) = jobs.iter().find(|job| {
            job.claimed.org_id == record.org_id && job.claimed.record_id == record.record_id
        }) else {
            continue;
        };
        let tenant = Tenant {
            org_id: record.org_id,
            environment_id: record.environment_id,
        };
        let definition = load_definition(
            tx,
            tenant,
            (record.flow_id, record.flow_version),
            &context.definitions,
        )
        .await?;
        walks.push(Walk::new(
            job.claimed,
            record,
            definition,
            job.called.clone(),
        ));
    }
    Ok(walks)
}

/// The jobs' records, locked with their queue entries, in key order (so that batches never
/// wait on each other in a circle). An entry that no longer carries this run's lease (it
/// expired and another worker took the record) is left out: the run changes nothing of it.
async fn lock_records(
    tx: &mut PgConnection,
    jobs: &[Job],
) -> Result<Vec<LoadedRecord>, sqlx::Error> {
    let (org_ids, record_ids, attempts) = job_keys(jobs);
    let Some(owner) = jobs.first().map(|job| job.claimed.owner) else {
        return Ok(Vec::new());
    };
    sqlx::query_as(
        "SELECT r.org_id, r.record_id, r.uuid, r.environment_id, r.flow_id, r.flow_version, \
         r.data, r.current_step, r.step_outputs, l.step_id AS last_step, \
         l.outcome AS last_outcome, l.attempt AS last_attempt \
         FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS c(org_id, record_id, attempts) \
         JOIN record_queue q ON q.org_id = c.org_id AND q.record_id = c.record_id \
           AND q.lease_owner = $4 AND q.attempts = c.attempts \
         JOIN records r ON r.org_id = q.org_id AND r.record_id = q.record_id \
         LEFT JOIN LATERAL ( \
           SELECT s.step_id, s.outcome, s.attempt FROM record_step_log s \
           WHERE r.current_step IS NOT NULL AND s.org_id = r.org_id \
             AND s.record_id = r.record_id \
           ORDER BY s.log_id DESC LIMIT 1) l ON true \
         ORDER BY r.org_id, r.record_id \
         FOR UPDATE OF q, r",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .bind(&attempts)
    .bind(owner)
    .fetch_all(&mut *tx)
    .await
}

fn job_keys(jobs: &[Job]) -> (Vec<flowline_core::OrgId>, Vec<i64>, Vec<i32>) {
    (
        jobs.iter().map(|job| job.claimed.org_id).collect(),
        jobs.iter().map(|job| job.claimed.record_id).collect(),
        jobs.iter().map(|job| job.claimed.attempts).collect(),
    )
}

/// Deletes the jobs' queue entries, still under this run's lease, whose record was deleted
/// without them.
async fn drop_orphans(tx: &mut PgConnection, jobs: &[Job]) -> Result<(), sqlx::Error> {
    let (org_ids, record_ids, attempts) = job_keys(jobs);
    let Some(owner) = jobs.first().map(|job| job.claimed.owner) else {
        return Ok(());
    };
    sqlx::query(
        "DELETE FROM record_queue q \
         USING unnest($1::bigint[], $2::bigint[], $3::int[]) AS c(org_id, record_id, attempts) \
         WHERE q.org_id = c.org_id AND q.record_id = c.record_id AND q.lease_owner = $4 \
         AND q.attempts = c.attempts AND NOT EXISTS ( \
           SELECT 1 FROM records r WHERE r.org_id = q.org_id AND r.record_id = q.record_id)",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .bind(&attempts)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn load_definition(
    tx: &mut PgConnection,
    tenant: Tenant,
    (flow_id, version): (i64, i32),
    definitions: &Definitions,
) -> Result<Result<Arc<FlowDefinition>, String>, sqlx::Error> {
    let key = (tenant.org_id, flow_id, version);
    if let Some(definition) = definitions.lock().await.get(&key) {
        return Ok(Ok(definition.clone()));
    }
    let json: Option<Value> = sqlx::query_scalar(
        "SELECT definition FROM flow_versions WHERE org_id = $1 AND flow_id = $2 AND version = $3",
    )
    .bind(tenant.org_id)
    .bind(flow_id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(json) = json else {
        return Ok(Err(format!(
            "version {version} of flow {flow_id} no longer exists"
        )));
    };
    match FlowDefinition::parse(&json) {
        Ok(definition) => {
            let definition = Arc::new(definition);
            definitions.lock().await.insert(key, definition.clone());
            Ok(Ok(definition))
        }
        Err(error) => Ok(Err(format!(
            "version {version} of flow {flow_id} is not a valid definition: {}",
            error.public_message()
        ))),
    }
}

/// Runs a walk's database step in a savepoint: its effects stay only if it succeeds.
async fn run_carefully(
    tx: &mut PgConnection,
    walk: &mut Walk,
    waiting: &Waiting,
) -> Result<(), sqlx::Error> {
    let Some(step) = waiting.step() else {
        return Ok(());
    };
    let started_at = Utc::now();
    let result = run_in_savepoint(tx, &mut walk.state, step).await?;
    walk.apply(step, waiting.attempt, started_at, Utc::now(), result);
    Ok(())
}

/// A database error that is not the step's fault aborts the whole run: a lost connection, or a
/// conflict with another transaction (serialization failure, deadlock) that a new try resolves.
async fn run_in_savepoint(
    tx: &mut PgConnection,
    state: &mut RunState,
    step: &Step,
) -> Result<Result<Next, String>, sqlx::Error> {
    let mut savepoint = tx.begin().await?;
    match run_in_database(&mut savepoint, state, step).await {
        Ok(next) => {
            savepoint.commit().await?;
            Ok(Ok(next))
        }
        Err(StepError::Failed(message)) => {
            savepoint.rollback().await?;
            Ok(Err(message))
        }
        Err(StepError::Database(sqlx::Error::Database(error)))
            if !error.code().is_some_and(|code| code.starts_with("40")) =>
        {
            // A constraint or a type the step's input broke: the step's fault, not the server's.
            savepoint.rollback().await?;
            Ok(Err(format!(
                "database refused the step: {}",
                error.message()
            )))
        }
        Err(StepError::Database(error)) => Err(error),
    }
}

/// After the commit: counts what the batch did, and prepares the calls its records reached.
fn after_commit(context: &Context, walks: Vec<Walk>) -> Vec<PendingCall> {
    let mut calls = Vec::new();
    for walk in walks {
        observe(&walk);
        if let Some(Outcome::Call { step, attempt }) = &walk.outcome {
            calls.push(PendingCall {
                claimed: walk.claimed,
                step: step.clone(),
                attempt: *attempt,
                request: prepare_call(context, &walk, step, *attempt),
            });
        }
    }
    calls
}

fn observe(walk: &Walk) {
    for entry in &walk.log {
        let took = (entry.finished_at - entry.started_at).num_microseconds();
        crate::metrics::step_took(took.unwrap_or(0) as f64 / 1e6);
    }
    if let Some(Outcome::Finished { status, .. }) = &walk.outcome {
        crate::metrics::ended(*status != super::walk::FINISHED);
    }
}

/// The request of the `http` step `step`, rendered against the walk's state.
fn prepare_call(
    context: &Context,
    walk: &Walk,
    step: &str,
    attempt: i32,
) -> Result<crate::http::Request, String> {
    let kind = walk
        .definition
        .as_ref()
        .and_then(|definition| definition.step(step))
        .map(|step| &step.kind);
    let Some(flowline_flows::StepKind::Http(http)) = kind else {
        return Err(format!("step '{step}' is not an http step"));
    };
    let key = idempotency_key(walk.uuid, step, attempt);
    context.outbound.prepare(http, &walk.state.scope(), &key)
}
