//! The history of a record: its creation (from the record itself) and every change after it,
//! each with when, what and which application made it.

use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use serde_json::{Value, json};
use uuid::Uuid;

/// One change of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// What happened: `created`, `updated`, `deleted`, `paused`, `moved`, …
    pub action: String,
    /// The `app_key` of the application that made the change; `None` for the scheduler or an
    /// operator.
    pub application: Option<String>,
    pub detail: Value,
}

/// Appends one change of a record to its history, in the caller's transaction, so that the
/// change and its trace commit together.
pub async fn append(
    tx: &mut PgConnection,
    tenant: Tenant,
    record: (i64, Uuid),
    actor: Option<AppId>,
    action: &str,
    detail: Value,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO record_history (org_id, environment_id, record_id, uuid, app_id, action, \
         detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(record.0)
    .bind(record.1)
    .bind(actor)
    .bind(action)
    .bind(detail)
    .execute(tx)
    .await?;
    Ok(())
}

/// One change to trace, for [`append_many`].
#[derive(Debug, Clone)]
pub struct Traced {
    pub tenant: Tenant,
    pub record: (i64, Uuid),
    pub action: &'static str,
    pub detail: Value,
}

/// Appends entries of changes no application made (the scheduler's), in one statement.
pub async fn append_many(tx: &mut PgConnection, entries: &[Traced]) -> Result<(), Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let org_ids: Vec<_> = entries.iter().map(|entry| entry.tenant.org_id).collect();
    let environment_ids: Vec<_> = entries
        .iter()
        .map(|entry| entry.tenant.environment_id)
        .collect();
    let record_ids: Vec<i64> = entries.iter().map(|entry| entry.record.0).collect();
    let uuids: Vec<Uuid> = entries.iter().map(|entry| entry.record.1).collect();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action).collect();
    let details: Vec<String> = entries
        .iter()
        .map(|entry| entry.detail.to_string())
        .collect();
    sqlx::query(
        "INSERT INTO record_history (org_id, environment_id, record_id, uuid, action, detail) \
         SELECT t.org_id, t.environment_id, t.record_id, t.uuid, t.action, t.detail::jsonb \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::uuid[], $5::text[], \
         $6::text[]) WITH ORDINALITY \
         AS t(org_id, environment_id, record_id, uuid, action, detail, n) ORDER BY n",
    )
    .bind(&org_ids)
    .bind(&environment_ids)
    .bind(&record_ids)
    .bind(&uuids)
    .bind(&actions)
    .bind(&details)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    at: DateTime<Utc>,
    action: String,
    application: Option<String>,
    detail: Value,
}

impl From<EntryRow> for HistoryEntry {
    fn from(row: EntryRow) -> HistoryEntry {
        HistoryEntry {
            at: row.at,
            action: row.action,
            application: row.application,
            detail: row.detail,
        }
    }
}

/// The record's whole history, oldest first; it outlives the record, so a deleted record's
/// history can still be read. 404 when the environment never had a record with this uuid.
pub async fn history(
    conn: &mut PgConnection,
    tenant: Tenant,
    uuid: Uuid,
) -> Result<Vec<HistoryEntry>, Error> {
    let mut entries: Vec<HistoryEntry> = creation(&mut *conn, tenant, uuid)
        .await?
        .into_iter()
        .collect();
    let changes: Vec<EntryRow> = sqlx::query_as(
        "SELECT h.at, h.action, a.app_key AS application, h.detail FROM record_history h \
         LEFT JOIN applications a ON a.org_id = h.org_id AND a.app_id = h.app_id \
         WHERE h.org_id = $1 AND h.environment_id = $2 AND h.uuid = $3 ORDER BY h.entry_id",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(uuid)
    .fetch_all(&mut *conn)
    .await?;
    entries.extend(changes.into_iter().map(HistoryEntry::from));
    if entries.is_empty() {
        return Err(crate::read::no_record(uuid));
    }
    Ok(entries)
}

/// The creation entry, read from the live record, or from the trace its deletion left.
async fn creation(
    conn: &mut PgConnection,
    tenant: Tenant,
    uuid: Uuid,
) -> Result<Option<HistoryEntry>, Error> {
    let row: Option<EntryRow> = sqlx::query_as(
        "SELECT r.created_at AS at, 'created' AS action, a.app_key AS application, \
         jsonb_build_object('flow_id', r.flow_id, 'flow_version', r.flow_version, \
         'status', r.status) AS detail \
         FROM records r LEFT JOIN applications a ON a.org_id = r.org_id AND a.app_id = r.created_by \
         WHERE r.org_id = $1 AND r.environment_id = $2 AND r.uuid = $3 \
         UNION ALL \
         SELECT (h.detail->>'created_at')::timestamptz, 'created', a.app_key, \
         jsonb_build_object('flow_id', h.detail->'flow_id', 'flow_version', h.detail->'flow_version') \
         FROM record_history h LEFT JOIN applications a \
         ON a.org_id = h.org_id AND a.app_id = (h.detail->>'created_by')::bigint \
         WHERE h.org_id = $1 AND h.environment_id = $2 AND h.uuid = $3 AND h.action = 'deleted' \
         LIMIT 1",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(uuid)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(HistoryEntry::from))
}

/// What a deletion records, so that the creation stays readable after the record is gone.
pub(crate) fn deletion_detail(
    flow_id: i64,
    flow_version: i32,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
    data: &Value,
) -> Value {
    json!({
        "flow_id": flow_id,
        "flow_version": flow_version,
        "created_at": created_at.to_rfc3339(),
        "created_by": created_by,
        "data": data,
    })
}
