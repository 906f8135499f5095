//! Queue actions on records: `PUT /v1/record/changestatus` pauses, resumes, runs now, takes out
//! of the queue, or sends back into it a record that finished with errors.
//!
//! Every record named is answered: changed, or told why the action does not apply to it (it
//! does not exist, it is being processed, it is not in the queue, …). The records are locked
//! (`FOR UPDATE`, in record-id order) for the caller's transaction, then their queue entries
//! (`FOR UPDATE SKIP LOCKED`): an entry that a worker holds locked is being processed, and
//! skipping it means a queue action never waits on — or deadlocks with — the scheduler.

use crate::history::append;
use crate::status::RecordStatus;
use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The most records one queue action or move may name.
pub const MAX_UUIDS_PER_CALL: usize = 1000;

/// What `X-Queue-Status` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAction {
    /// `pause-queue`: a queued or scheduled record stays in the queue but is not run.
    Pause,
    /// `resume-queue`: a paused record waits for its execution time again.
    Resume,
    /// `execute-queue`: a queued, scheduled or paused record becomes due now.
    Execute,
    /// `delete-from-queue`: the record leaves the queue, reviewed (5) — or errors handled (6)
    /// when it had finished with errors.
    DeleteFromQueue,
    /// `resume-and-continue`: a record that finished with errors goes back into the queue at
    /// the step where it stopped.
    ResumeAndContinue,
}

impl QueueAction {
    pub const ALL: [QueueAction; 5] = [
        QueueAction::Pause,
        QueueAction::Resume,
        QueueAction::Execute,
        QueueAction::DeleteFromQueue,
        QueueAction::ResumeAndContinue,
    ];

    /// The action's name in `X-Queue-Status`, ignoring case and surrounding spaces.
    pub fn parse(text: &str) -> Option<QueueAction> {
        let text = text.trim();
        QueueAction::ALL
            .into_iter()
            .find(|action| action.as_str().eq_ignore_ascii_case(text))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QueueAction::Pause => "pause-queue",
            QueueAction::Resume => "resume-queue",
            QueueAction::Execute => "execute-queue",
            QueueAction::DeleteFromQueue => "delete-from-queue",
            QueueAction::ResumeAndContinue => "resume-and-continue",
        }
    }

    /// The action as the record's history names it.
    fn history_action(self) -> &'static str {
        match self {
            QueueAction::Pause => "paused",
            QueueAction::Resume => "resumed",
            QueueAction::Execute => "executed",
            QueueAction::DeleteFromQueue => "removed_from_queue",
            QueueAction::ResumeAndContinue => "resumed_after_errors",
        }
    }

    /// The answer's `message`: how many records the action changed.
    pub fn summary(self, changed: usize) -> String {
        let what = match self {
            QueueAction::Pause => "paused",
            QueueAction::Resume => "resumed",
            QueueAction::Execute => "queued to run now",
            QueueAction::DeleteFromQueue => "deleted from the queue",
            QueueAction::ResumeAndContinue => "resumed from error status",
        };
        format!("{changed} datarecords {what}")
    }
}

/// What a queue action did to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOutcome {
    pub uuid: Uuid,
    /// The record's status after the action; `None` when there is no such record.
    pub status: Option<RecordStatus>,
    /// Why the action did not apply; `None` when it did.
    pub refusal: Option<String>,
}

/// The outcome of a queue action, record by record, in the order they were named (each
/// record once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueReport {
    pub action: QueueAction,
    pub records: Vec<QueueOutcome>,
    /// How many records the action changed.
    pub changed: usize,
}

/// A record locked for a queue action or a move, with its queue entry.
#[derive(Debug, Clone)]
pub(crate) struct LockedRecord {
    pub record_id: i64,
    pub uuid: Uuid,
    pub status: RecordStatus,
    pub flow_id: i64,
    pub flow_version: i32,
    pub next_run_at: Option<DateTime<Utc>>,
    /// `None` when the record is not in the queue.
    pub entry: Option<QueueEntry>,
    /// A worker is running it: status 1, a live lease, or an entry another transaction holds.
    pub processing: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueEntry {
    pub paused: bool,
    pub next_run_at: DateTime<Utc>,
    /// Its execution time is still to come.
    pub due_later: bool,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    record_id: i64,
    uuid: Uuid,
    status: i16,
    flow_id: i64,
    flow_version: i32,
    next_run_at: Option<DateTime<Utc>>,
    queued: bool,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    record_id: i64,
    paused: bool,
    next_run_at: DateTime<Utc>,
    due_later: bool,
    leased: bool,
}

/// Locks the tenant's records with these uuids, then their queue entries; the map holds the
/// records that exist.
pub(crate) async fn lock_records(
    tx: &mut PgConnection,
    tenant: Tenant,
    uuids: &[Uuid],
) -> Result<HashMap<Uuid, LockedRecord>, Error> {
    let records: Vec<RecordRow> = sqlx::query_as(
        "SELECT r.record_id, r.uuid, r.status, r.flow_id, r.flow_version, r.next_run_at, \
         EXISTS (SELECT 1 FROM record_queue q \
                 WHERE q.org_id = r.org_id AND q.record_id = r.record_id) AS queued \
         FROM records r WHERE r.org_id = $1 AND r.environment_id = $2 AND r.uuid = ANY($3) \
         ORDER BY r.record_id FOR UPDATE OF r",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(uuids)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = records.iter().map(|record| record.record_id).collect();
    let entries: Vec<EntryRow> = sqlx::query_as(
        "SELECT record_id, paused, next_run_at, next_run_at > now() AS due_later, \
         coalesce(lease_until > now(), false) AS leased \
         FROM record_queue WHERE org_id = $1 AND record_id = ANY($2) \
         ORDER BY record_id FOR UPDATE SKIP LOCKED",
    )
    .bind(tenant.org_id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut entries: HashMap<i64, EntryRow> = entries
        .into_iter()
        .map(|entry| (entry.record_id, entry))
        .collect();
    records
        .into_iter()
        .map(|row| {
            let status = RecordStatus::from_code(row.status)
                .ok_or_else(|| Error::internal(format!("unknown record status {}", row.status)))?;
            let entry = entries.remove(&row.record_id);
            let held_elsewhere = row.queued && entry.is_none();
            let leased = entry.as_ref().is_some_and(|entry| entry.leased);
            let record = LockedRecord {
                record_id: row.record_id,
                uuid: row.uuid,
                status,
                flow_id: row.flow_id,
                flow_version: row.flow_version,
                next_run_at: row.next_run_at,
                entry: entry.map(|entry| QueueEntry {
                    paused: entry.paused,
                    next_run_at: entry.next_run_at,
                    due_later: entry.due_later,
                }),
                processing: status == RecordStatus::Processing || leased || held_elsewhere,
            };
            Ok((record.uuid, record))
        })
        .collect()
}

/// The uuids once each, in the order first named.
pub(crate) fn distinct(uuids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    uuids
        .iter()
        .copied()
        .filter(|uuid| seen.insert(*uuid))
        .collect()
}

/// A 400 for an empty or oversized list of uuids.
pub(crate) fn check_count(uuids: &[Uuid]) -> Result<(), Error> {
    if uuids.is_empty() {
        return Err(Error::invalid_field(
            "uuids",
            "name at least one data record",
        ));
    }
    if uuids.len() > MAX_UUIDS_PER_CALL {
        return Err(Error::invalid_field(
            "uuids",
            format!("name at most {MAX_UUIDS_PER_CALL} data records"),
        ));
    }
    Ok(())
}

pub(crate) const NO_RECORD: &str = "Data record does not exist";
const NOT_QUEUED: &str = "Data record is not in the queue";

/// A change the action makes to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    to: RecordStatus,
    /// The record's `next_run_at` afterwards: its execution time while it waits for one.
    next_run_at: Option<DateTime<Utc>>,
}

/// What `action` does to `record`, or why it does not apply.
fn decide(action: QueueAction, record: &LockedRecord) -> Result<Change, String> {
    if record.processing {
        return Err("Data record is being processed".to_owned());
    }
    let now = |to| Change {
        to,
        next_run_at: None,
    };
    match (action, record.entry) {
        (QueueAction::ResumeAndContinue, _) => {
            if record.status == RecordStatus::FinishedWithErrors {
                Ok(now(RecordStatus::New))
            } else {
                Err(format!(
                    "Data record did not finish with errors (its status is {})",
                    record.status.name()
                ))
            }
        }
        (QueueAction::DeleteFromQueue, None)
            if record.status == RecordStatus::FinishedWithErrors =>
        {
            Ok(now(RecordStatus::ErrorsHandled))
        }
        (_, None) => Err(NOT_QUEUED.to_owned()),
        (QueueAction::Pause, Some(entry)) if entry.paused => {
            Err("Data record is already paused".to_owned())
        }
        (QueueAction::Pause, Some(_)) => Ok(Change {
            to: RecordStatus::New,
            next_run_at: record.next_run_at,
        }),
        (QueueAction::Resume, Some(entry)) if !entry.paused => {
            Err("Data record is not paused".to_owned())
        }
        (QueueAction::Resume, Some(entry)) if entry.due_later => Ok(Change {
            to: RecordStatus::Scheduled,
            next_run_at: Some(entry.next_run_at),
        }),
        (QueueAction::Resume, Some(_)) => Ok(now(RecordStatus::New)),
        (QueueAction::Execute, Some(entry)) if !entry.paused && !entry.due_later => {
            Err("Data record is already due to run".to_owned())
        }
        (QueueAction::Execute, Some(_)) => Ok(now(RecordStatus::New)),
        (QueueAction::DeleteFromQueue, Some(_)) => {
            Ok(now(if record.status == RecordStatus::FinishedWithErrors {
                RecordStatus::ErrorsHandled
            } else {
                RecordStatus::Reviewed
            }))
        }
    }
}

/// Applies `action` to the tenant's records with these uuids, in the caller's transaction,
/// and appends each change to the record's history. Records it does not apply to are
/// reported with the reason and left alone.
pub async fn apply_queue_action(
    tx: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    action: QueueAction,
    uuids: &[Uuid],
) -> Result<QueueReport, Error> {
    check_count(uuids)?;
    let uuids = distinct(uuids);
    let locked = lock_records(&mut *tx, tenant, &uuids).await?;
    let mut outcomes = Vec::with_capacity(uuids.len());
    let mut changes: Vec<(&LockedRecord, Change)> = Vec::new();
    for uuid in &uuids {
        let Some(record) = locked.get(uuid) else {
            outcomes.push(QueueOutcome {
                uuid: *uuid,
                status: None,
                refusal: Some(NO_RECORD.to_owned()),
            });
            continue;
        };
        match decide(action, record) {
            Ok(change) => {
                changes.push((record, change));
                outcomes.push(QueueOutcome {
                    uuid: *uuid,
                    status: Some(change.to),
                    refusal: None,
                });
            }
            Err(refusal) => outcomes.push(QueueOutcome {
                uuid: *uuid,
                status: Some(record.status),
                refusal: Some(refusal),
            }),
        }
    }
    if !changes.is_empty() {
        apply(&mut *tx, tenant, action, &changes).await?;
        for (record, change) in &changes {
            let detail = json!({
                "queue_action": action.as_str(),
                "from_status": record.status.code(),
                "to_status": change.to.code(),
            });
            append(
                &mut *tx,
                tenant,
                (record.record_id, record.uuid),
                actor,
                action.history_action(),
                detail,
            )
            .await?;
        }
    }
    Ok(QueueReport {
        action,
        records: outcomes,
        changed: changes.len(),
    })
}

/// One statement for the records, one for their queue entries.
async fn apply(
    tx: &mut PgConnection,
    tenant: Tenant,
    action: QueueAction,
    changes: &[(&LockedRecord, Change)],
) -> Result<(), Error> {
    let ids: Vec<i64> = changes.iter().map(|(record, _)| record.record_id).collect();
    let statuses: Vec<i16> = changes.iter().map(|(_, change)| change.to.code()).collect();
    let next_runs: Vec<Option<DateTime<Utc>>> = changes
        .iter()
        .map(|(_, change)| change.next_run_at)
        .collect();
    sqlx::query(
        "UPDATE records r SET status = t.status, next_run_at = t.next_run_at, \
         modified_at = now() \
         FROM unnest($2::bigint[], $3::smallint[], $4::timestamptz[]) \
         AS t(record_id, status, next_run_at) \
         WHERE r.org_id = $1 AND r.record_id = t.record_id",
    )
    .bind(tenant.org_id)
    .bind(&ids)
    .bind(&statuses)
    .bind(&next_runs)
    .execute(&mut *tx)
    .await?;
    let queue_statement = match action {
        QueueAction::Pause => {
            "UPDATE record_queue SET paused = true WHERE org_id = $1 AND record_id = ANY($2)"
        }
        QueueAction::Resume => {
            "UPDATE record_queue SET paused = false WHERE org_id = $1 AND record_id = ANY($2)"
        }
        QueueAction::Execute => {
            "UPDATE record_queue SET paused = false, next_run_at = now() \
             WHERE org_id = $1 AND record_id = ANY($2)"
        }
        QueueAction::DeleteFromQueue => {
            "DELETE FROM record_queue WHERE org_id = $1 AND record_id = ANY($2)"
        }
        QueueAction::ResumeAndContinue => ENQUEUE_NOW,
    };
    sqlx::query(queue_statement)
        .bind(tenant.org_id)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Puts records (`$2`) into the queue, due now, in their current flow: a fresh entry, or the
/// existing one reset.
pub(crate) const ENQUEUE_NOW: &str = "INSERT INTO record_queue \
     (org_id, record_id, environment_id, flow_id, next_run_at) \
     SELECT org_id, record_id, environment_id, flow_id, now() FROM records \
     WHERE org_id = $1 AND record_id = ANY($2) \
     ON CONFLICT (org_id, record_id) DO UPDATE SET flow_id = EXCLUDED.flow_id, \
     next_run_at = now(), paused = false, attempts = 0, lease_owner = NULL, lease_until = NULL";

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use chrono::Duration;

    fn record(status: RecordStatus, entry: Option<(bool, bool)>) -> LockedRecord {
        LockedRecord {
            record_id: 1,
            uuid: Uuid::nil(),
            status,
            flow_id: 1,
            flow_version: 1,
            next_run_at: None,
            entry: entry.map(|(paused, due_later)| QueueEntry {
                paused,
                next_run_at: Utc::now() + Duration::hours(if due_later { 1 } else { -1 }),
                due_later,
            }),
            processing: status == RecordStatus::Processing,
        }
    }

    #[test]
    fn actions_parse_by_their_documented_names() {
        for action in QueueAction::ALL {
            assert_eq!(QueueAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(
            QueueAction::parse(" Pause-Queue "),
            Some(QueueAction::Pause)
        );
        assert_eq!(QueueAction::parse("pause"), None);
        assert_eq!(
            QueueAction::ResumeAndContinue.summary(1),
            "1 datarecords resumed from error status"
        );
    }

    #[test]
    fn pause_and_resume_keep_the_execution_time() {
        use RecordStatus::*;
        let scheduled = record(Scheduled, Some((false, true)));
        assert_eq!(decide(QueueAction::Pause, &scheduled).unwrap().to, New);
        let paused_for_later = record(New, Some((true, true)));
        assert_eq!(
            decide(QueueAction::Resume, &paused_for_later).unwrap().to,
            Scheduled
        );
        let paused_due = record(New, Some((true, false)));
        assert_eq!(decide(QueueAction::Resume, &paused_due).unwrap().to, New);
        assert!(decide(QueueAction::Pause, &paused_due).is_err());
        assert!(decide(QueueAction::Resume, &scheduled).is_err());
    }

    #[test]
    fn each_action_applies_only_where_it_makes_sense() {
        use RecordStatus::*;
        let queued = record(New, Some((false, false)));
        let failed = record(FinishedWithErrors, None);
        let finished = record(Finished, None);
        let running = record(Processing, Some((false, false)));
        assert!(decide(QueueAction::Execute, &queued).is_err());
        assert_eq!(
            decide(
                QueueAction::Execute,
                &record(Scheduled, Some((false, true)))
            )
            .unwrap()
            .to,
            New
        );
        assert_eq!(
            decide(QueueAction::DeleteFromQueue, &queued).unwrap().to,
            Reviewed
        );
        assert_eq!(
            decide(QueueAction::DeleteFromQueue, &failed).unwrap().to,
            ErrorsHandled
        );
        assert!(decide(QueueAction::DeleteFromQueue, &finished).is_err());
        assert_eq!(
            decide(QueueAction::ResumeAndContinue, &failed).unwrap().to,
            New
        );
        assert!(decide(QueueAction::ResumeAndContinue, &finished).is_err());
        for action in QueueAction::ALL {
            assert_eq!(
                decide(action, &running).unwrap_err(),
                "Data record is being processed"
            );
            assert!(decide(action, &finished).is_err());
        }
    }

    #[test]
    fn uuids_are_counted_and_deduplicated() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(distinct(&[a, b, a]), vec![a, b]);
        assert!(check_count(&[]).is_err());
        assert!(check_count(&vec![a; MAX_UUIDS_PER_CALL + 1]).is_err());
        assert!(check_count(&[a]).is_ok());
    }
}
