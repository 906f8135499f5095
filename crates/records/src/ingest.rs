//! Queueing new records into a flow: `POST /v1/record` and webhook events.

use crate::status::RecordStatus;
use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use flowline_flows::store::{self as flows, FlowSummary};
use flowline_schemas::SchemaCache;
use serde_json::Value;
use uuid::Uuid;

/// The most records one request may carry.
pub const MAX_RECORDS_PER_REQUEST: usize = 1000;

/// Records to queue into one flow.
#[derive(Debug, Clone)]
pub struct NewRecords {
    /// The flow's name, or its id.
    pub flow: String,
    /// The client's identifier for the record; only with a single record.
    pub uuid: Option<Uuid>,
    /// When to run them; `None` or a past time means now.
    pub execution_time: Option<DateTime<Utc>>,
    /// Each one a record's data.
    pub records: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedRecord {
    pub record_id: i64,
    pub uuid: Uuid,
}

/// What was queued: the records in the order they were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub flow_id: i64,
    pub flow_name: String,
    pub status: RecordStatus,
    pub records: Vec<IngestedRecord>,
}

/// Queues the records into their flow, all of them or none, and commits them with their queue
/// entries in the caller's transaction. Each record is checked against the environment's data
/// schema first; the error names the record (`body[2]` in an array) and the path at fault.
pub async fn ingest(
    tx: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    schemas: &SchemaCache,
    request: &NewRecords,
) -> Result<Ingested, Error> {
    check_shape(request)?;
    let flow = flows::find(&mut *tx, tenant, &request.flow, true)
        .await?
        .ok_or_else(|| unknown_flow(&request.flow))?;
    let version = flow.version_for_new_records()?;
    if let Some(schema) = schemas.current(&mut *tx, tenant).await? {
        for (index, record) in request.records.iter().enumerate() {
            schema.validate(&record_field(request, index), record)?;
        }
    }
    let uuids = uuids_for(request);
    let (status, next_run_at) = schedule(request.execution_time, Utc::now());
    let inserted = insert(
        tx,
        Insert {
            tenant,
            actor,
            flow: &flow,
            version,
            status,
            next_run_at,
            uuids: &uuids,
            records: &request.records,
        },
    )
    .await?;
    Ok(Ingested {
        flow_id: flow.flow_id,
        flow_name: flow.name,
        status,
        records: in_request_order(&uuids, inserted)?,
    })
}

pub(crate) fn unknown_flow(reference: &str) -> Error {
    Error::not_found(format!("Flow diagram '{reference}' does not exist"))
}

fn check_shape(request: &NewRecords) -> Result<(), Error> {
    if request.records.is_empty() {
        return Err(Error::invalid_field(
            "body",
            "must hold at least one record",
        ));
    }
    if request.records.len() > MAX_RECORDS_PER_REQUEST {
        return Err(Error::invalid_field(
            "body",
            format!("holds more than {MAX_RECORDS_PER_REQUEST} records"),
        ));
    }
    if request.uuid.is_some() && request.records.len() > 1 {
        return Err(Error::invalid_field(
            "X-Uuid",
            "names one record; an array of records gets generated uuids",
        ));
    }
    for (index, record) in request.records.iter().enumerate() {
        if !record.is_object() {
            return Err(Error::invalid_field(
                &record_field(request, index),
                "must be a JSON object",
            ));
        }
    }
    Ok(())
}

/// How errors name one record: `body` alone, `body[i]` in an array.
fn record_field(request: &NewRecords, index: usize) -> String {
    if request.records.len() == 1 {
        "body".to_owned()
    } else {
        format!("body[{index}]")
    }
}

fn uuids_for(request: &NewRecords) -> Vec<Uuid> {
    match request.uuid {
        Some(uuid) => vec![uuid],
        None => request.records.iter().map(|_| Uuid::new_v4()).collect(),
    }
}

/// A future execution time schedules the records (status 4); otherwise they are due now.
fn schedule(
    execution_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (RecordStatus, Option<DateTime<Utc>>) {
    match execution_time {
        Some(at) if at > now => (RecordStatus::Scheduled, Some(at)),
        _ => (RecordStatus::New, None),
    }
}

struct Insert<'a> {
    tenant: Tenant,
    actor: Option<AppId>,
    flow: &'a FlowSummary,
    version: i32,
    status: RecordStatus,
    next_run_at: Option<DateTime<Utc>>,
    uuids: &'a [Uuid],
    records: &'a [Value],
}

/// One statement for the whole batch: the records and their queue entries.
async fn insert(tx: &mut PgConnection, insert: Insert<'_>) -> Result<Vec<(i64, Uuid)>, Error> {
    let rows: Result<Vec<(i64, Uuid)>, sqlx::Error> = sqlx::query_as(concat!(
        "WITH new AS (",
        " INSERT INTO records (org_id, environment_id, uuid, flow_id, flow_version, data,",
        "  status, created_by, next_run_at)",
        " SELECT $1, $2, t.uuid, $3, $4, t.data, $5, $6, $7",
        " FROM unnest($8::uuid[], $9::jsonb[]) AS t(uuid, data)",
        " RETURNING org_id, record_id, environment_id, flow_id, uuid),",
        " queued AS (",
        " INSERT INTO record_queue (org_id, record_id, environment_id, flow_id, next_run_at)",
        " SELECT org_id, record_id, environment_id, flow_id, coalesce($7, now()) FROM new)",
        " SELECT record_id, uuid FROM new"
    ))
    .bind(insert.tenant.org_id)
    .bind(insert.tenant.environment_id)
    .bind(insert.flow.flow_id)
    .bind(insert.version)
    .bind(insert.status.code())
    .bind(insert.actor)
    .bind(insert.next_run_at)
    .bind(insert.uuids)
    .bind(insert.records)
    .fetch_all(tx)
    .await;
    rows.map_err(|error| {
        let error = Error::from(error);
        if error.is_unique_violation("records_uuid_key") {
            duplicate_uuid(insert.uuids)
        } else {
            error
        }
    })
}

fn duplicate_uuid(uuids: &[Uuid]) -> Error {
    match uuids {
        [uuid] => Error::conflict(format!(
            "X-Uuid: a data record with uuid '{uuid}' already exists"
        )),
        _ => Error::conflict("A data record with one of these uuids already exists"),
    }
}

fn in_request_order(
    uuids: &[Uuid],
    inserted: Vec<(i64, Uuid)>,
) -> Result<Vec<IngestedRecord>, Error> {
    let ids: std::collections::HashMap<Uuid, i64> =
        inserted.into_iter().map(|(id, uuid)| (uuid, id)).collect();
    uuids
        .iter()
        .map(|uuid| {
            ids.get(uuid)
                .map(|&record_id| IngestedRecord {
                    record_id,
                    uuid: *uuid,
                })
                .ok_or_else(|| Error::internal(format!("record {uuid} was not inserted")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    fn request(records: Vec<Value>, uuid: Option<Uuid>) -> NewRecords {
        NewRecords {
            flow: "f".into(),
            uuid,
            execution_time: None,
            records,
        }
    }

    #[test]
    fn only_a_future_execution_time_schedules() {
        let now = Utc::now();
        let later = now + Duration::minutes(5);
        assert_eq!(schedule(None, now), (RecordStatus::New, None));
        assert_eq!(
            schedule(Some(now - Duration::minutes(5)), now),
            (RecordStatus::New, None)
        );
        assert_eq!(
            schedule(Some(later), now),
            (RecordStatus::Scheduled, Some(later))
        );
    }

    #[test]
    fn shape_errors_name_the_record() {
        let refused = check_shape(&request(vec![json!({}), json!(3)], None));
        assert_eq!(
            refused.map_err(|error| error.public_message()),
            Err("body[1]: must be a JSON object".to_owned())
        );
        let refused = check_shape(&request(vec![json!([])], None));
        assert_eq!(
            refused.map_err(|error| error.public_message()),
            Err("body: must be a JSON object".to_owned())
        );
        let refused = check_shape(&request(vec![json!({}), json!({})], Some(Uuid::new_v4())));
        assert!(refused.is_err());
        assert!(check_shape(&request(vec![], None)).is_err());
        assert!(check_shape(&request(vec![json!({"a": 1})], Some(Uuid::new_v4()))).is_ok());
    }
}
