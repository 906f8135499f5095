//! Moving records to another flow: `PUT /v1/record/movetoflow`.
//!
//! A moved record starts over in the target flow's current version: no current step, status 0
//! (new), due now — paused or not before — and keeps its data, its run count and its dates.
//! Every record named is answered; one that does not exist or is being processed stays where
//! it is, with the reason.

use crate::history::append;
use crate::ingest::unknown_flow;
use crate::queue::{self, ENQUEUE_NOW, LockedRecord, NO_RECORD};
use crate::status::RecordStatus;
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use flowline_flows::store as flows;
use serde_json::json;
use uuid::Uuid;

/// What a moved record is told.
pub const MOVED: &str =
    "Data Record is moved to a new flow successfully and it is included in the queue.";

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveOutcome {
    pub uuid: Uuid,
    pub moved: bool,
    /// [`MOVED`], or why it was not moved.
    pub message: String,
}

/// The outcome of a move, record by record, in the order they were named (each record once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveReport {
    pub flow_id: i64,
    pub flow_name: String,
    pub flow_version: i32,
    pub records: Vec<MoveOutcome>,
    /// How many records moved.
    pub moved: usize,
}

/// Moves the tenant's records with these uuids to `flow` (a name or an id) in the caller's
/// transaction: 404 when the flow does not exist, 409 when it takes no records (a draft, or
/// inactive). Each move is appended to the record's history.
pub async fn move_to_flow(
    tx: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    flow: &str,
    uuids: &[Uuid],
) -> Result<MoveReport, Error> {
    queue::check_count(uuids)?;
    let target = flows::find(&mut *tx, tenant, flow, true)
        .await?
        .ok_or_else(|| unknown_flow(flow))?;
    let version = target.version_for_new_records()?;
    let uuids = queue::distinct(uuids);
    let locked = queue::lock_records(&mut *tx, tenant, &uuids).await?;
    let mut outcomes = Vec::with_capacity(uuids.len());
    let mut moving: Vec<&LockedRecord> = Vec::new();
    for uuid in &uuids {
        let refusal = match locked.get(uuid) {
            None => Some(NO_RECORD),
            Some(record) if record.processing => {
                Some("Data record is being processed and cannot be moved")
            }
            Some(record) => {
                moving.push(record);
                None
            }
        };
        outcomes.push(MoveOutcome {
            uuid: *uuid,
            moved: refusal.is_none(),
            message: refusal.unwrap_or(MOVED).to_owned(),
        });
    }
    if !moving.is_empty() {
        let ids: Vec<i64> = moving.iter().map(|record| record.record_id).collect();
        sqlx::query(
            "UPDATE records SET flow_id = $3, flow_version = $4, current_step = NULL, \
             status = $5, next_run_at = NULL, modified_at = now() \
             WHERE org_id = $1 AND record_id = ANY($2)",
        )
        .bind(tenant.org_id)
        .bind(&ids)
        .bind(target.flow_id)
        .bind(version)
        .bind(RecordStatus::New.code())
        .execute(&mut *tx)
        .await?;
        sqlx::query(ENQUEUE_NOW)
            .bind(tenant.org_id)
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        for record in &moving {
            let detail = json!({
                "from_flow_id": record.flow_id,
                "from_flow_version": record.flow_version,
                "from_status": record.status.code(),
                "to_flow_id": target.flow_id,
                "to_flow_version": version,
            });
            append(
                &mut *tx,
                tenant,
                (record.record_id, record.uuid),
                actor,
                "moved",
                detail,
            )
            .await?;
        }
    }
    Ok(MoveReport {
        flow_id: target.flow_id,
        flow_name: target.name,
        flow_version: version,
        moved: moving.len(),
        records: outcomes,
    })
}
