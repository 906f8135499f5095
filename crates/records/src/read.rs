//! Reading one record: `GET /v1/record` and `GET /v1/record/{id}`.

use crate::status::RecordStatus;
use chrono::{DateTime, Utc};
use flowline_core::{Error, OrgId, Tenant};
use flowline_db::PgConnection;
use serde_json::Value;
use uuid::Uuid;

/// A record as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView {
    pub record_id: i64,
    pub uuid: Uuid,
    pub org_id: OrgId,
    pub flow_id: i64,
    /// `None` once the flow has been deleted.
    pub flow_name: Option<String>,
    pub flow_version: i32,
    pub data: Value,
    pub status: RecordStatus,
    /// Whether a queue action paused it.
    pub paused: bool,
    pub current_step: Option<String>,
    pub num_runs: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub modified_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    record_id: i64,
    uuid: Uuid,
    org_id: OrgId,
    flow_id: i64,
    flow_name: Option<String>,
    flow_version: i32,
    data: Value,
    status: i16,
    paused: bool,
    current_step: Option<String>,
    num_runs: i32,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    last_run_at: Option<DateTime<Utc>>,
    next_run_at: Option<DateTime<Utc>>,
    modified_at: DateTime<Utc>,
}

impl TryFrom<ViewRow> for RecordView {
    type Error = Error;

    fn try_from(row: ViewRow) -> Result<RecordView, Error> {
        let status = RecordStatus::from_code(row.status)
            .ok_or_else(|| Error::internal(format!("unknown record status {}", row.status)))?;
        Ok(RecordView {
            record_id: row.record_id,
            uuid: row.uuid,
            org_id: row.org_id,
            flow_id: row.flow_id,
            flow_name: row.flow_name,
            flow_version: row.flow_version,
            data: row.data,
            status,
            paused: row.paused,
            current_step: row.current_step,
            num_runs: row.num_runs,
            created_at: row.created_at,
            started_at: row.started_at,
            last_run_at: row.last_run_at,
            next_run_at: row.next_run_at,
            modified_at: row.modified_at,
        })
    }
}

macro_rules! view_query {
    ($condition:literal) => {
        concat!(
            "SELECT r.record_id, r.uuid, r.org_id, r.flow_id, f.name AS flow_name, ",
            "r.flow_version, r.data, r.status, coalesce(q.paused, false) AS paused, ",
            "r.current_step, r.num_runs, r.created_at, r.started_at, r.last_run_at, ",
            "r.next_run_at, r.modified_at ",
            "FROM records r ",
            "LEFT JOIN flows f ON f.org_id = r.org_id AND f.flow_id = r.flow_id ",
            "LEFT JOIN record_queue q ON q.org_id = r.org_id AND q.record_id = r.record_id ",
            "WHERE r.org_id = $1 AND r.environment_id = $2 AND ",
            $condition
        )
    };
}

pub(crate) fn no_record(uuid: impl std::fmt::Display) -> Error {
    Error::not_found(format!("Data record '{uuid}' does not exist"))
}

/// The record with this uuid.
pub async fn find(
    conn: &mut PgConnection,
    tenant: Tenant,
    uuid: Uuid,
) -> Result<RecordView, Error> {
    let row: Option<ViewRow> = sqlx::query_as(view_query!("r.uuid = $3"))
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(uuid)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| no_record(uuid))?.try_into()
}

/// The record with this numeric id (`data_record_id`).
pub async fn find_by_id(
    conn: &mut PgConnection,
    tenant: Tenant,
    record_id: i64,
) -> Result<RecordView, Error> {
    let row: Option<ViewRow> = sqlx::query_as(view_query!("r.record_id = $3"))
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(record_id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| no_record(record_id))?.try_into()
}
