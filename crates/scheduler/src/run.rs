//! Running one claimed record: its steps from where it stands, in one transaction with its
//! state change, its queue entry and its step log. The queue entry is locked first and must
//! still carry this run's lease (owner and attempt): a late worker whose lease expired and
//! was taken over finds nothing to run and changes nothing.
//!
//! An `http` step splits the run: the transaction commits the record at the step (status 1,
//! processing), the call is made outside any transaction while a heartbeat extends the lease,
//! and a new transaction, fenced by the same lease, applies the response and goes on. A crash
//! in between repeats the call (at least once) with the same idempotency key.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, OrgId, Tenant};
use flowline_db::{PgConnection, PgPool};
use flowline_flows::{EndStatus, FlowDefinition, Step};
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::claim::Claimed;
use crate::error::StepError;
use crate::http::{Outbound, Request, idempotency_key};
use crate::retry::backoff;
use crate::steps::{Next, RunState, run_step};

/// How many times a record may be claimed without finishing (its worker died each time) before
/// it fails instead of looping.
pub const MAX_CLAIMS: i32 = 5;

/// Flow versions already read: they never change.
pub(crate) type Definitions = Arc<Mutex<HashMap<(OrgId, i64, i32), Arc<FlowDefinition>>>>;

/// Record status codes (the Flowize codes).
const NEW: i16 = 0;
const PROCESSING: i16 = 1;
const FINISHED: i16 = 2;
const FINISHED_WITH_ERRORS: i16 = 3;
const SCHEDULED: i16 = 4;

/// One step execution, for the step log.
struct LogEntry {
    step_id: String,
    step_type: &'static str,
    attempt: i32,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    outcome: &'static str,
    error: Option<String>,
}

/// How a run leaves the record.
enum Outcome {
    Finished {
        status: i16,
        step: String,
    },
    Wait {
        until: DateTime<Utc>,
        step: String,
    },
    Moved {
        flow_id: i64,
        version: i32,
    },
    /// The run reached an `http` step: commit, call outside the transaction, come back.
    Call {
        step: String,
        attempt: i32,
    },
}

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
struct Called {
    step: String,
    attempt: i32,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    result: Result<Value, String>,
}

/// A call to make before the run goes on.
struct PendingCall {
    step: String,
    attempt: i32,
    request: Result<Request, String>,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    uuid: Uuid,
    environment_id: EnvironmentId,
    flow_id: i64,
    flow_version: i32,
    data: Value,
    current_step: Option<String>,
}

/// Runs the claimed record; database errors leave it to be claimed again.
pub(crate) async fn run(context: &Context, claimed: Claimed) -> Result<(), sqlx::Error> {
    let mut saved = HashMap::new();
    let mut called = None;
    while let Some(pending) = run_segment(context, claimed, &mut saved, called.take()).await? {
        let started_at = Utc::now();
        let result = match pending.request {
            Ok(request) => match call_holding_lease(context, claimed, request).await? {
                Some(result) => result,
                None => {
                    tracing::warn!(record.id = claimed.record_id, "lease lost during a call");
                    return Ok(());
                }
            },
            Err(message) => Err(message),
        };
        called = Some(Called {
            step: pending.step,
            attempt: pending.attempt,
            started_at,
            finished_at: Utc::now(),
            result,
        });
    }
    Ok(())
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
pub(crate) async fn extend_lease(
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

/// One transaction of a run: its steps until the run ends, or until an `http` step, whose call
/// it returns (with the record committed at that step).
async fn run_segment(
    context: &Context,
    claimed: Claimed,
    saved: &mut HashMap<String, Value>,
    mut called: Option<Called>,
) -> Result<Option<PendingCall>, sqlx::Error> {
    let mut conn = context.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let fenced: Option<i32> = sqlx::query_scalar(
        "SELECT attempts FROM record_queue WHERE org_id = $1 AND record_id = $2 \
         AND lease_owner = $3 AND attempts = $4 FOR UPDATE",
    )
    .bind(claimed.org_id)
    .bind(claimed.record_id)
    .bind(claimed.owner)
    .bind(claimed.attempts)
    .fetch_optional(&mut *tx)
    .await?;
    if fenced.is_none() {
        tracing::warn!(
            record.id = claimed.record_id,
            "lease lost before the run started"
        );
        return Ok(None);
    }
    let record: Option<RecordRow> = sqlx::query_as(
        "SELECT uuid, environment_id, flow_id, flow_version, data, current_step FROM records \
         WHERE org_id = $1 AND record_id = $2 FOR UPDATE",
    )
    .bind(claimed.org_id)
    .bind(claimed.record_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut record) = record else {
        // A record deleted without its queue entry: drop the orphan.
        sqlx::query("DELETE FROM record_queue WHERE org_id = $1 AND record_id = $2")
            .bind(claimed.org_id)
            .bind(claimed.record_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(None);
    };
    let tenant = Tenant {
        org_id: claimed.org_id,
        environment_id: record.environment_id,
    };
    let mut state = RunState {
        tenant,
        record_id: claimed.record_id,
        data: std::mem::take(&mut record.data),
        saved: std::mem::take(saved),
    };
    let mut log = Vec::new();
    let outcome = if claimed.attempts > MAX_CLAIMS {
        let step = record.current_step.clone().unwrap_or_default();
        log.push(LogEntry {
            step_id: step.clone(),
            step_type: "lease",
            attempt: claimed.attempts,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            outcome: "error",
            error: Some(format!(
                "the record was claimed {MAX_CLAIMS} times without finishing (its worker stopped \
                 or lost its lease each time); it is failed instead of being tried again"
            )),
        });
        Outcome::Finished {
            status: FINISHED_WITH_ERRORS,
            step,
        }
    } else {
        match load_definition(&mut tx, tenant, &record, &context.definitions).await? {
            Ok(definition) => {
                let start = record
                    .current_step
                    .clone()
                    .unwrap_or_else(|| definition.start().to_owned());
                let outcome = run_steps(
                    &mut tx,
                    &mut state,
                    &definition,
                    start,
                    &mut log,
                    &mut called,
                )
                .await?;
                if let Outcome::Call { step, attempt } = outcome {
                    let request =
                        prepare_call(context, &definition, &state, &record, &step, attempt);
                    save_before_call(&mut tx, &claimed, &state, &step, context.lease).await?;
                    write_log(&mut tx, &claimed, tenant, &log).await?;
                    tx.commit().await?;
                    observe(&log, None);
                    *saved = state.saved;
                    return Ok(Some(PendingCall {
                        step,
                        attempt,
                        request,
                    }));
                }
                outcome
            }
            Err(message) => {
                log.push(LogEntry {
                    step_id: record.current_step.clone().unwrap_or_default(),
                    step_type: "flow",
                    attempt: 1,
                    started_at: Utc::now(),
                    finished_at: Utc::now(),
                    outcome: "error",
                    error: Some(message),
                });
                Outcome::Finished {
                    status: FINISHED_WITH_ERRORS,
                    step: record.current_step.clone().unwrap_or_default(),
                }
            }
        }
    };
    save(&mut tx, &claimed, &state, &outcome).await?;
    write_log(&mut tx, &claimed, tenant, &log).await?;
    write_history(&mut tx, tenant, (claimed.record_id, record.uuid), &outcome).await?;
    tx.commit().await?;
    let ended = match &outcome {
        Outcome::Finished { status, .. } => Some(*status),
        _ => None,
    };
    observe(&log, ended);
    Ok(None)
}

/// Counts what a committed transaction of a run did: its steps, and the status the record's
/// flow ended with, if it ended.
fn observe(log: &[LogEntry], ended: Option<i16>) {
    for entry in log {
        let took = (entry.finished_at - entry.started_at).num_microseconds();
        crate::metrics::step_took(took.unwrap_or(0) as f64 / 1e6);
    }
    if let Some(status) = ended {
        crate::metrics::ended(status != FINISHED);
    }
}

/// The request of the `http` step `step`, rendered against the run's state.
fn prepare_call(
    context: &Context,
    definition: &FlowDefinition,
    state: &RunState,
    record: &RecordRow,
    step: &str,
    attempt: i32,
) -> Result<Request, String> {
    let Some(flowline_flows::StepKind::Http(http)) = definition.step(step).map(|step| &step.kind)
    else {
        return Err(format!("step '{step}' is not an http step"));
    };
    let key = idempotency_key(record.uuid, step, attempt);
    context.outbound.prepare(http, &state.scope(), &key)
}

/// Commits the record at its `http` step before the call: status 1 (processing), its data so
/// far, and a lease long enough to reach the first heartbeat.
async fn save_before_call(
    tx: &mut PgConnection,
    claimed: &Claimed,
    state: &RunState,
    step: &str,
    lease: std::time::Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE records SET data = $3, status = $4, current_step = $5, \
         started_at = coalesce(started_at, now()), modified_at = now() \
         WHERE org_id = $1 AND record_id = $2",
    )
    .bind(claimed.org_id)
    .bind(claimed.record_id)
    .bind(&state.data)
    .bind(PROCESSING)
    .bind(step)
    .execute(&mut *tx)
    .await?;
    extend_lease(&mut *tx, *claimed, lease).await?;
    Ok(())
}

/// Traces a run that ended the record's flow in the record's history.
async fn write_history(
    tx: &mut PgConnection,
    tenant: Tenant,
    record: (i64, Uuid),
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    let Outcome::Finished { status, step } = outcome else {
        return Ok(());
    };
    let action = if *status == FINISHED {
        "finished"
    } else {
        "finished_with_errors"
    };
    let detail = serde_json::json!({"status_code": status.to_string(), "step": step});
    match flowline_records::append_history(tx, tenant, record, None, action, detail).await {
        Ok(()) => Ok(()),
        Err(flowline_core::Error::Database(error)) => Err(error),
        Err(other) => Err(sqlx::Error::Protocol(other.public_message())),
    }
}

async fn load_definition(
    tx: &mut PgConnection,
    tenant: Tenant,
    record: &RecordRow,
    definitions: &Definitions,
) -> Result<Result<Arc<FlowDefinition>, String>, sqlx::Error> {
    let key = (tenant.org_id, record.flow_id, record.flow_version);
    if let Some(definition) = definitions.lock().await.get(&key) {
        return Ok(Ok(definition.clone()));
    }
    let json: Option<Value> = sqlx::query_scalar(
        "SELECT definition FROM flow_versions WHERE org_id = $1 AND flow_id = $2 AND version = $3",
    )
    .bind(tenant.org_id)
    .bind(record.flow_id)
    .bind(record.flow_version)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(json) = json else {
        return Ok(Err(format!(
            "version {} of flow {} no longer exists",
            record.flow_version, record.flow_id
        )));
    };
    match FlowDefinition::parse(&json) {
        Ok(definition) => {
            let definition = Arc::new(definition);
            definitions.lock().await.insert(key, definition.clone());
            Ok(Ok(definition))
        }
        Err(error) => Ok(Err(format!(
            "version {} of flow {} is not a valid definition: {}",
            record.flow_version,
            record.flow_id,
            error.public_message()
        ))),
    }
}

/// Runs steps from `start` until the flow ends, waits, moves or fails. Each step runs in a
/// savepoint, so that a failed step leaves nothing behind.
async fn run_steps(
    tx: &mut PgConnection,
    state: &mut RunState,
    definition: &FlowDefinition,
    start: String,
    log: &mut Vec<LogEntry>,
    called: &mut Option<Called>,
) -> Result<Outcome, sqlx::Error> {
    let mut at = start;
    // Cycles pass through a delay, which ends the run: a run executes each step at most a few
    // times, and this bound only guards against a definition the checks let through.
    for _ in 0..(definition.steps().len() * 4 + 16) {
        let Some(step) = definition.step(&at) else {
            log.push(failure(
                &at,
                "flow",
                1,
                format!("step '{at}' does not exist"),
            ));
            return Ok(failed(at));
        };
        let (attempt, started_at, result, finished_at) = match &step.kind {
            flowline_flows::StepKind::Http(http) => match called.take() {
                Some(call) if call.step == step.id => {
                    let result = call.result.map(|response| {
                        state.save(http.save_as.as_ref(), response);
                        Next::Step(http.next.clone())
                    });
                    (call.attempt, call.started_at, result, call.finished_at)
                }
                _ => {
                    let attempt = previous_retries(tx, state, &step.id).await? + 1;
                    return Ok(Outcome::Call {
                        step: step.id.clone(),
                        attempt,
                    });
                }
            },
            _ => {
                let attempt = previous_retries(tx, state, &step.id).await? + 1;
                let started_at = Utc::now();
                let result = run_in_savepoint(tx, state, step).await?;
                (attempt, started_at, result, Utc::now())
            }
        };
        let entry = |outcome, error| LogEntry {
            step_id: step.id.clone(),
            step_type: step.kind.type_name(),
            attempt,
            started_at,
            finished_at,
            outcome,
            error,
        };
        match result {
            Ok(next) => {
                log.push(entry("ok", None));
                match next {
                    Next::Step(next) => at = next,
                    Next::Wait { until, step } => return Ok(Outcome::Wait { until, step }),
                    Next::End(status) => {
                        let status = match status {
                            EndStatus::Finished => FINISHED,
                            EndStatus::FinishedWithErrors => FINISHED_WITH_ERRORS,
                        };
                        return Ok(Outcome::Finished {
                            status,
                            step: step.id.clone(),
                        });
                    }
                    Next::Moved => return move_record(tx, state, step, log).await,
                }
            }
            Err(message) => {
                if let Some(retry) = &step.retry
                    && attempt <= retry.max as i32
                {
                    log.push(entry("retry", Some(message)));
                    let until = Utc::now() + backoff(retry, attempt as u32);
                    return Ok(Outcome::Wait {
                        until,
                        step: step.id.clone(),
                    });
                }
                log.push(entry("error", Some(message)));
                match &step.on_error {
                    Some(on_error) => at = on_error.clone(),
                    None => return Ok(failed(step.id.clone())),
                }
            }
        }
    }
    log.push(failure(
        &at,
        "flow",
        1,
        "the run took too many steps".to_owned(),
    ));
    Ok(failed(at))
}

fn failed(step: String) -> Outcome {
    Outcome::Finished {
        status: FINISHED_WITH_ERRORS,
        step,
    }
}

fn failure(step: &str, step_type: &'static str, attempt: i32, message: String) -> LogEntry {
    LogEntry {
        step_id: step.to_owned(),
        step_type,
        attempt,
        started_at: Utc::now(),
        finished_at: Utc::now(),
        outcome: "error",
        error: Some(message),
    }
}

/// The step's earlier attempts that failed and were retried: the log's latest entries for the
/// record, if they are this step's retries.
async fn previous_retries(
    tx: &mut PgConnection,
    state: &RunState,
    step_id: &str,
) -> Result<i32, sqlx::Error> {
    let last: Option<(String, String, i32)> = sqlx::query_as(
        "SELECT step_id, outcome, attempt FROM record_step_log \
         WHERE org_id = $1 AND record_id = $2 ORDER BY log_id DESC LIMIT 1",
    )
    .bind(state.tenant.org_id)
    .bind(state.record_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match last {
        Some((step, outcome, attempt)) if step == step_id && outcome == "retry" => attempt,
        _ => 0,
    })
}

/// Runs a step in a savepoint: its effects stay only if it succeeds. A database error that is
/// not the step's fault aborts the whole run.
async fn run_in_savepoint(
    tx: &mut PgConnection,
    state: &mut RunState,
    step: &Step,
) -> Result<Result<Next, String>, sqlx::Error> {
    let mut savepoint = tx.begin().await?;
    let data_before = state.data.clone();
    match run_step(&mut savepoint, state, step).await {
        Ok(next) => {
            savepoint.commit().await?;
            Ok(Ok(next))
        }
        Err(StepError::Failed(message)) => {
            savepoint.rollback().await?;
            state.data = data_before;
            Ok(Err(message))
        }
        Err(StepError::Database(sqlx::Error::Database(error))) => {
            // A constraint or a type the step's input broke: the step's fault, not the server's.
            savepoint.rollback().await?;
            state.data = data_before;
            Ok(Err(format!(
                "database refused the step: {}",
                error.message()
            )))
        }
        Err(StepError::Database(error)) => Err(error),
    }
}

async fn move_record(
    tx: &mut PgConnection,
    state: &RunState,
    step: &Step,
    log: &mut [LogEntry],
) -> Result<Outcome, sqlx::Error> {
    let flowline_flows::StepKind::MoveToFlow(target) = &step.kind else {
        return Ok(failed(step.id.clone()));
    };
    let found = flowline_flows::store::find(&mut *tx, state.tenant, &target.flow, true).await;
    let refusal = match found {
        Ok(Some(flow)) => match flow.version_for_new_records() {
            Ok(version) => {
                return Ok(Outcome::Moved {
                    flow_id: flow.flow_id,
                    version,
                });
            }
            Err(error) => error.public_message(),
        },
        Ok(None) => format!("flow '{}' does not exist", target.flow),
        Err(flowline_core::Error::Database(error)) => return Err(error),
        Err(error) => error.public_message(),
    };
    if let Some(last) = log.last_mut() {
        last.outcome = "error";
        last.error = Some(refusal);
    }
    Ok(failed(step.id.clone()))
}

/// Writes the record's new state and its queue entry, fenced by the lease.
async fn save(
    tx: &mut PgConnection,
    claimed: &Claimed,
    state: &RunState,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    let (status, step, next_run_at, flow) = match outcome {
        Outcome::Finished { status, step } => (*status, Some(step.clone()), None, None),
        Outcome::Wait { until, step } => (SCHEDULED, Some(step.clone()), Some(*until), None),
        Outcome::Moved { flow_id, version } => (NEW, None, None, Some((*flow_id, *version))),
        Outcome::Call { step, .. } => (PROCESSING, Some(step.clone()), None, None),
    };
    sqlx::query(
        "UPDATE records SET data = $3, status = $4, current_step = $5, \
         num_runs = num_runs + 1, started_at = coalesce(started_at, now()), \
         last_run_at = now(), next_run_at = $6, \
         flow_id = coalesce($7, flow_id), flow_version = coalesce($8, flow_version), \
         modified_at = now() WHERE org_id = $1 AND record_id = $2",
    )
    .bind(claimed.org_id)
    .bind(claimed.record_id)
    .bind(&state.data)
    .bind(status)
    .bind(step)
    .bind(next_run_at)
    .bind(flow.map(|(flow_id, _)| flow_id))
    .bind(flow.map(|(_, version)| version))
    .execute(&mut *tx)
    .await?;
    let finished = matches!(outcome, Outcome::Finished { .. });
    let statement = if finished {
        "DELETE FROM record_queue WHERE org_id = $1 AND record_id = $2 \
         AND lease_owner = $3 AND attempts = $4"
    } else {
        "UPDATE record_queue SET next_run_at = coalesce($5, now()), \
         flow_id = coalesce($6, flow_id), attempts = 0, lease_owner = NULL, lease_until = NULL \
         WHERE org_id = $1 AND record_id = $2 AND lease_owner = $3 AND attempts = $4"
    };
    let mut query = sqlx::query(statement)
        .bind(claimed.org_id)
        .bind(claimed.record_id)
        .bind(claimed.owner)
        .bind(claimed.attempts);
    if !finished {
        query = query
            .bind(next_run_at)
            .bind(flow.map(|(flow_id, _)| flow_id));
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// Appends the run's step executions to the step log, in one statement.
async fn write_log(
    tx: &mut PgConnection,
    claimed: &Claimed,
    tenant: Tenant,
    log: &[LogEntry],
) -> Result<(), sqlx::Error> {
    if log.is_empty() {
        return Ok(());
    }
    let steps: Vec<&str> = log.iter().map(|entry| entry.step_id.as_str()).collect();
    let types: Vec<&str> = log.iter().map(|entry| entry.step_type).collect();
    let attempts: Vec<i32> = log.iter().map(|entry| entry.attempt).collect();
    let started: Vec<DateTime<Utc>> = log.iter().map(|entry| entry.started_at).collect();
    let finished: Vec<DateTime<Utc>> = log.iter().map(|entry| entry.finished_at).collect();
    let outcomes: Vec<&str> = log.iter().map(|entry| entry.outcome).collect();
    let errors: Vec<Option<&str>> = log.iter().map(|entry| entry.error.as_deref()).collect();
    sqlx::query(
        "INSERT INTO record_step_log (org_id, environment_id, record_id, step_id, step_type, \
         attempt, started_at, finished_at, outcome, error) \
         SELECT $1, $2, $3, t.step_id, t.step_type, t.attempt, t.started_at, \
         t.finished_at, t.outcome, t.error FROM unnest($4::text[], $5::text[], $6::int[], \
         $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[]) WITH ORDINALITY \
         AS t(step_id, step_type, attempt, started_at, finished_at, outcome, error, n) \
         ORDER BY n",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(claimed.record_id)
    .bind(&steps)
    .bind(&types)
    .bind(&attempts)
    .bind(&started)
    .bind(&finished)
    .bind(&outcomes)
    .bind(&errors)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
