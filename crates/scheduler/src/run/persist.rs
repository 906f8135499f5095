//! Writing what a batch's runs did: the records' new state, their queue entries, the step log
//! and the history of the records that finished — one statement each for the whole batch.

use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, OrgId};
use flowline_db::PgConnection;
use flowline_records::Traced;
use serde_json::Value;

use super::walk::{FINISHED, NEW, Outcome, PROCESSING, SCHEDULED, Walk};

/// Writes every walk's outcome; the caller commits.
pub(super) async fn save_all(
    tx: &mut PgConnection,
    walks: &mut [Walk],
    lease: std::time::Duration,
) -> Result<(), sqlx::Error> {
    let data = storable_data(walks);
    save_records(tx, walks, data).await?;
    save_queue(tx, walks, lease).await?;
    write_log(tx, walks).await?;
    write_history(tx, walks).await
}

/// The walks' data as JSON text. PostgreSQL cannot store U+0000 in `jsonb`: a record whose
/// steps put one in its data fails, and keeps the data it had (`None`).
fn storable_data(walks: &mut [Walk]) -> Vec<Option<String>> {
    walks
        .iter_mut()
        .map(|walk| {
            let text = walk.state.data.to_string();
            if text.contains("\\u0000") && holds_nul(&walk.state.data) {
                let step = walk.at().to_owned();
                walk.fail(
                    step,
                    "flow",
                    1,
                    "the record's data came to hold the character U+0000, which cannot be stored"
                        .to_owned(),
                );
                None
            } else {
                Some(text)
            }
        })
        .collect()
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// The record columns an outcome sets.
struct RecordChange {
    status: i16,
    step: Option<String>,
    next_run_at: Option<DateTime<Utc>>,
    flow: Option<(i64, i32)>,
    /// A run that ended or waits counts as a run; one that stops for a call does not yet.
    counted: bool,
    /// Whether the saved outputs are still needed (the flow goes on later).
    keeps_outputs: bool,
}

fn change_of(outcome: &Outcome) -> RecordChange {
    match outcome {
        Outcome::Finished { status, step } => RecordChange {
            status: *status,
            step: Some(step.clone()),
            next_run_at: None,
            flow: None,
            counted: true,
            keeps_outputs: false,
        },
        Outcome::Wait { until, step } => RecordChange {
            status: SCHEDULED,
            step: Some(step.clone()),
            next_run_at: Some(*until),
            flow: None,
            counted: true,
            keeps_outputs: true,
        },
        Outcome::Moved { flow_id, version } => RecordChange {
            status: NEW,
            step: None,
            next_run_at: None,
            flow: Some((*flow_id, *version)),
            counted: true,
            keeps_outputs: false,
        },
        Outcome::Call { step, .. } => RecordChange {
            status: PROCESSING,
            step: Some(step.clone()),
            next_run_at: None,
            flow: None,
            counted: false,
            keeps_outputs: true,
        },
    }
}

async fn save_records(
    tx: &mut PgConnection,
    walks: &[Walk],
    data: Vec<Option<String>>,
) -> Result<(), sqlx::Error> {
    let mut org_ids: Vec<OrgId> = Vec::with_capacity(walks.len());
    let mut record_ids = Vec::with_capacity(walks.len());
    let mut statuses = Vec::with_capacity(walks.len());
    let mut steps = Vec::with_capacity(walks.len());
    let mut next_runs = Vec::with_capacity(walks.len());
    let mut flow_ids = Vec::with_capacity(walks.len());
    let mut versions = Vec::with_capacity(walks.len());
    let mut counted = Vec::with_capacity(walks.len());
    let mut outputs = Vec::with_capacity(walks.len());
    let mut texts = Vec::with_capacity(walks.len());
    for (walk, text) in walks.iter().zip(data) {
        let Some(outcome) = &walk.outcome else {
            continue;
        };
        let change = change_of(outcome);
        org_ids.push(walk.claimed.org_id);
        record_ids.push(walk.claimed.record_id);
        statuses.push(change.status);
        steps.push(change.step);
        next_runs.push(change.next_run_at);
        flow_ids.push(change.flow.map(|(flow_id, _)| flow_id));
        versions.push(change.flow.map(|(_, version)| version));
        counted.push(change.counted);
        let saved = &walk.state.saved;
        outputs.push(
            (change.keeps_outputs && !saved.is_empty())
                .then(|| serde_json::to_string(saved).unwrap_or_default()),
        );
        texts.push(text);
    }
    sqlx::query(
        "UPDATE records r SET data = coalesce(u.data::jsonb, r.data), status = u.status, \
         current_step = u.step, num_runs = r.num_runs + u.counted::int, \
         started_at = coalesce(r.started_at, now()), \
         last_run_at = CASE WHEN u.counted THEN now() ELSE r.last_run_at END, \
         next_run_at = CASE WHEN u.counted THEN u.next_run_at ELSE r.next_run_at END, \
         flow_id = coalesce(u.flow_id, r.flow_id), \
         flow_version = coalesce(u.flow_version, r.flow_version), \
         step_outputs = u.outputs::jsonb, modified_at = now() \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::smallint[], $5::text[], \
           $6::timestamptz[], $7::bigint[], $8::int[], $9::bool[], $10::text[]) \
           AS u(org_id, record_id, data, status, step, next_run_at, flow_id, flow_version, \
                counted, outputs) \
         WHERE r.org_id = u.org_id AND r.record_id = u.record_id",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .bind(&texts)
    .bind(&statuses)
    .bind(&steps)
    .bind(&next_runs)
    .bind(&flow_ids)
    .bind(&versions)
    .bind(&counted)
    .bind(&outputs)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes the queue entries of finished records; re-schedules the others (a wait, a move),
/// giving back their lease — except a record at a call, whose lease is extended for the call.
async fn save_queue(
    tx: &mut PgConnection,
    walks: &[Walk],
    lease: std::time::Duration,
) -> Result<(), sqlx::Error> {
    let (mut done_orgs, mut done_records): (Vec<OrgId>, Vec<i64>) = (Vec::new(), Vec::new());
    let mut org_ids: Vec<OrgId> = Vec::new();
    let mut record_ids = Vec::new();
    let mut next_runs: Vec<Option<DateTime<Utc>>> = Vec::new();
    let mut flow_ids: Vec<Option<i64>> = Vec::new();
    let mut calls = Vec::new();
    for walk in walks {
        let (org_id, record_id) = (walk.claimed.org_id, walk.claimed.record_id);
        match &walk.outcome {
            None => {}
            Some(Outcome::Finished { .. }) => {
                done_orgs.push(org_id);
                done_records.push(record_id);
            }
            Some(outcome) => {
                let change = change_of(outcome);
                org_ids.push(org_id);
                record_ids.push(record_id);
                next_runs.push(change.next_run_at);
                flow_ids.push(change.flow.map(|(flow_id, _)| flow_id));
                calls.push(matches!(outcome, Outcome::Call { .. }));
            }
        }
    }
    if !done_orgs.is_empty() {
        sqlx::query(
            "DELETE FROM record_queue q USING unnest($1::bigint[], $2::bigint[]) \
             AS u(org_id, record_id) WHERE q.org_id = u.org_id AND q.record_id = u.record_id",
        )
        .bind(&done_orgs)
        .bind(&done_records)
        .execute(&mut *tx)
        .await?;
    }
    if !org_ids.is_empty() {
        sqlx::query(
            "UPDATE record_queue q SET \
             next_run_at = CASE WHEN u.call THEN q.next_run_at \
               ELSE coalesce(u.next_run_at, now()) END, \
             flow_id = coalesce(u.flow_id, q.flow_id), \
             attempts = CASE WHEN u.call THEN q.attempts ELSE 0 END, \
             lease_owner = CASE WHEN u.call THEN q.lease_owner END, \
             lease_until = CASE WHEN u.call THEN now() + make_interval(secs => $6) END \
             FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[], \
               $5::bool[]) AS u(org_id, record_id, next_run_at, flow_id, call) \
             WHERE q.org_id = u.org_id AND q.record_id = u.record_id",
        )
        .bind(&org_ids)
        .bind(&record_ids)
        .bind(&next_runs)
        .bind(&flow_ids)
        .bind(&calls)
        .bind(lease.as_secs_f64())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Appends every walk's step executions to the step log, in one statement, in order.
async fn write_log(tx: &mut PgConnection, walks: &[Walk]) -> Result<(), sqlx::Error> {
    let entries = walks
        .iter()
        .flat_map(|walk| walk.log.iter().map(move |entry| (walk, entry)));
    let mut org_ids: Vec<OrgId> = Vec::new();
    let mut environment_ids: Vec<EnvironmentId> = Vec::new();
    let mut record_ids = Vec::new();
    let mut steps = Vec::new();
    let mut types = Vec::new();
    let mut attempts = Vec::new();
    let mut started = Vec::new();
    let mut finished = Vec::new();
    let mut outcomes = Vec::new();
    let mut errors = Vec::new();
    for (walk, entry) in entries {
        org_ids.push(walk.claimed.org_id);
        environment_ids.push(walk.tenant().environment_id);
        record_ids.push(walk.claimed.record_id);
        steps.push(entry.step_id.as_str());
        types.push(entry.step_type);
        attempts.push(entry.attempt);
        started.push(entry.started_at);
        finished.push(entry.finished_at);
        outcomes.push(entry.outcome);
        errors.push(entry.error.as_deref());
    }
    if org_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO record_step_log (org_id, environment_id, record_id, step_id, step_type, \
         attempt, started_at, finished_at, outcome, error) \
         SELECT t.org_id, t.environment_id, t.record_id, t.step_id, t.step_type, t.attempt, \
         t.started_at, t.finished_at, t.outcome, t.error \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], \
           $6::int[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[]) \
           WITH ORDINALITY AS t(org_id, environment_id, record_id, step_id, step_type, \
             attempt, started_at, finished_at, outcome, error, n) \
         ORDER BY n",
    )
    .bind(&org_ids)
    .bind(&environment_ids)
    .bind(&record_ids)
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

/// Traces the runs that ended their record's flow in the records' history.
async fn write_history(tx: &mut PgConnection, walks: &[Walk]) -> Result<(), sqlx::Error> {
    let entries: Vec<Traced> = walks
        .iter()
        .filter_map(|walk| match &walk.outcome {
            Some(Outcome::Finished { status, step }) => Some(Traced {
                tenant: walk.tenant(),
                record: (walk.claimed.record_id, walk.uuid),
                action: if *status == FINISHED {
                    "finished"
                } else {
                    "finished_with_errors"
                },
                detail: serde_json::json!({"status_code": status.to_string(), "step": step}),
            }),
            _ => None,
        })
        .collect();
    match flowline_records::append_history_many(tx, &entries).await {
        Ok(()) => Ok(()),
        Err(flowline_core::Error::Database(error)) => Err(error),
        Err(other) => Err(sqlx::Error::Protocol(other.public_message())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::walk::FINISHED_WITH_ERRORS;
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_anywhere_in_the_data() {
        assert!(holds_nul(&json!({"a": ["x\u{0}"]})));
        assert!(holds_nul(&json!({"k\u{0}": 1})));
        assert!(!holds_nul(&json!({"a": "\\u0000 written out"})));
    }

    #[test]
    fn a_call_keeps_the_lease_and_is_not_yet_a_run() {
        let change = change_of(&Outcome::Call {
            step: "s".to_owned(),
            attempt: 1,
        });
        assert_eq!(change.status, PROCESSING);
        assert!(!change.counted && change.keeps_outputs);
        let change = change_of(&Outcome::Finished {
            status: FINISHED_WITH_ERRORS,
            step: "s".to_owned(),
        });
        assert!(change.counted && !change.keeps_outputs);
    }
}
