//! Replacing and deleting a record: `PUT /v1/record` and `DELETE /v1/record`.

use crate::history::{append, deletion_detail};
use crate::read::no_record;
use crate::status::RecordStatus;
use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use flowline_schemas::SchemaCache;
use serde_json::{Value, json};
use uuid::Uuid;

/// A record whose data was replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Replaced {
    pub uuid: Uuid,
    pub flow_name: Option<String>,
    pub data: Value,
}

/// A record that was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub uuid: Uuid,
    pub flow_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    record_id: i64,
    flow_id: i64,
    flow_version: i32,
    flow_name: Option<String>,
    status: i16,
    leased: bool,
    data: Value,
    created_at: DateTime<Utc>,
    created_by: Option<i64>,
}

impl LockedRow {
    /// Whether a worker is running the record right now.
    fn is_processing(&self) -> bool {
        self.leased || self.status == RecordStatus::Processing.code()
    }
}

/// The record, locked against the scheduler and other writers until the transaction ends.
async fn lock(tx: &mut PgConnection, tenant: Tenant, uuid: Uuid) -> Result<LockedRow, Error> {
    let row: Option<LockedRow> = sqlx::query_as(
        "SELECT r.record_id, r.flow_id, r.flow_version, f.name AS flow_name, r.status, \
         coalesce(q.lease_until > now(), false) AS leased, r.data, r.created_at, r.created_by \
         FROM records r \
         LEFT JOIN flows f ON f.org_id = r.org_id AND f.flow_id = r.flow_id \
         LEFT JOIN record_queue q ON q.org_id = r.org_id AND q.record_id = r.record_id \
         WHERE r.org_id = $1 AND r.environment_id = $2 AND r.uuid = $3 FOR UPDATE OF r",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(uuid)
    .fetch_optional(tx)
    .await?;
    row.ok_or_else(|| no_record(uuid))
}

/// Replaces the record's data, unless it is being processed (409). The new data is checked
/// against the environment's schema; the history keeps the data it replaced.
pub async fn replace(
    tx: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    schemas: &SchemaCache,
    uuid: Uuid,
    data: Value,
) -> Result<Replaced, Error> {
    if !data.is_object() {
        return Err(Error::invalid_field("body", "must be a JSON object"));
    }
    let locked = lock(&mut *tx, tenant, uuid).await?;
    if locked.is_processing() {
        return Err(Error::conflict(
            "Data record cannot be updated: it is being processed",
        ));
    }
    if let Some(schema) = schemas.current(&mut *tx, tenant).await? {
        schema.validate("body", &data)?;
    }
    sqlx::query(
        "UPDATE records SET data = $3, modified_at = now() WHERE org_id = $1 AND record_id = $2",
    )
    .bind(tenant.org_id)
    .bind(locked.record_id)
    .bind(&data)
    .execute(&mut *tx)
    .await?;
    let detail = json!({"previous_data": locked.data});
    append(
        tx,
        tenant,
        (locked.record_id, uuid),
        actor,
        "updated",
        detail,
    )
    .await?;
    Ok(Replaced {
        uuid,
        flow_name: locked.flow_name,
        data,
    })
}

/// Deletes the record and its queue entry, unless it is being processed (403, as the
/// reference words it). Its history stays, with the deleted data.
pub async fn delete(
    tx: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    uuid: Uuid,
) -> Result<Deleted, Error> {
    let locked = lock(&mut *tx, tenant, uuid).await?;
    if locked.is_processing() {
        return Err(Error::forbidden(
            "Data record cannot be deleted: it is being used",
        ));
    }
    sqlx::query(
        "WITH dequeued AS (DELETE FROM record_queue WHERE org_id = $1 AND record_id = $2) \
         DELETE FROM records WHERE org_id = $1 AND record_id = $2",
    )
    .bind(tenant.org_id)
    .bind(locked.record_id)
    .execute(&mut *tx)
    .await?;
    let detail = deletion_detail(
        locked.flow_id,
        locked.flow_version,
        locked.created_at,
        locked.created_by,
        &locked.data,
    );
    append(
        tx,
        tenant,
        (locked.record_id, uuid),
        actor,
        "deleted",
        detail,
    )
    .await?;
    Ok(Deleted {
        uuid,
        flow_name: locked.flow_name,
    })
}
