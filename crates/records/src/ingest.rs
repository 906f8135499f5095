//! Queueing new records into a flow: `POST /v1/record` and webhook events.

use crate::status::RecordStatus;
use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use flowline_flows::store as flows;
use flowline_schemas::{SchemaCache, SchemaState};
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

/// Queues the records into their flow, all of them or none, with their queue entries. Each
/// record is checked against the environment's data schema first; the error names the record
/// (`body[2]` in an array) and the path at fault.
///
/// The usual case costs one statement: it resolves the flow (locking it against deletion and
/// status changes until the statement's transaction ends), checks that the flow accepts records
/// and that the schema is still the one the records were validated against, and inserts. When
/// that statement inserts nothing, the flow and schema are looked up again to name the problem,
/// or to validate against the schema that changed, and the statement is tried again. On a
/// connection outside a transaction the records are committed when this returns `Ok`; inside
/// one, they commit with it.
pub async fn ingest(
    conn: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    schemas: &SchemaCache,
    request: &NewRecords,
) -> Result<Ingested, Error> {
    check_shape(request)?;
    let uuids = uuids_for(request);
    let (status, next_run_at) = schedule(request.execution_time, Utc::now());
    // The state this process last saw may be stale: only a refusal by a freshly read schema is
    // final, and the statement itself checks the version of the schema that accepted them.
    let mut schema = schemas.last_seen(tenant).map(|state| (state, false));
    for _ in 0..MAX_ATTEMPTS {
        let (state, fresh) = match schema.take() {
            Some(seen) => seen,
            None => (schemas.refresh(&mut *conn, tenant).await?, true),
        };
        if let Err(refusal) = validate(request, &state) {
            if fresh {
                return Err(refusal);
            }
            continue;
        }
        let insert = Insert {
            tenant,
            actor,
            flow: &request.flow,
            schema_version: state.version,
            status,
            next_run_at,
            uuids: &uuids,
            records: &request.records,
        };
        if let Some(ingested) = insert.run(&mut *conn).await? {
            return Ok(ingested);
        }
        explain_refusal(&mut *conn, tenant, &request.flow).await?;
    }
    Err(Error::conflict(
        "The flow or the data schema kept changing while the records were stored; send them again",
    ))
}

/// How often the records are tried against a flow or schema that changes under them.
const MAX_ATTEMPTS: usize = 4;

fn validate(request: &NewRecords, schema: &SchemaState) -> Result<(), Error> {
    for (index, record) in request.records.iter().enumerate() {
        schema.validate(&record_field(request, index), record)?;
    }
    Ok(())
}

/// The error that explains why the flow took no records, if it is the flow's fault (rather
/// than a schema that changed).
async fn explain_refusal(
    conn: &mut PgConnection,
    tenant: Tenant,
    reference: &str,
) -> Result<(), Error> {
    let flow = flows::find(conn, tenant, reference, false)
        .await?
        .ok_or_else(|| unknown_flow(reference))?;
    flow.version_for_new_records().map(|_| ())
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
    flow: &'a str,
    schema_version: Option<DateTime<Utc>>,
    status: RecordStatus,
    next_run_at: Option<DateTime<Utc>>,
    uuids: &'a [Uuid],
    records: &'a [Value],
}

#[derive(sqlx::FromRow)]
struct InsertedRow {
    record_id: i64,
    uuid: Uuid,
    flow_id: i64,
    flow_name: String,
}

impl Insert<'_> {
    /// One statement for the whole batch: the records and their queue entries, if the flow
    /// accepts records and the schema is still the validated one; `None` otherwise.
    ///
    /// The flow row is locked `FOR KEY SHARE`: deleting the flow or changing its status locks
    /// it `FOR UPDATE`, so either waits for these records to commit, or, having committed
    /// first, is seen by this statement when the lock is granted (the row is re-read then).
    async fn run(&self, conn: &mut PgConnection) -> Result<Option<Ingested>, Error> {
        let rows: Result<Vec<InsertedRow>, sqlx::Error> = sqlx::query_as(concat!(
            "WITH flow AS (",
            " SELECT flow_id, name, status, current_version FROM flows",
            " WHERE org_id = $1 AND environment_id = $2 AND (name = $3 OR flow_id = $4)",
            " ORDER BY name = $3 DESC LIMIT 1 FOR KEY SHARE),",
            " target AS (",
            " SELECT flow_id, name, current_version FROM flow",
            " WHERE status IN ('public', 'running', 'paused') AND current_version IS NOT NULL",
            " AND (SELECT modified_at FROM data_schemas",
            "  WHERE org_id = $1 AND environment_id = $2) IS NOT DISTINCT FROM $5),",
            " new AS (",
            " INSERT INTO records (org_id, environment_id, uuid, flow_id, flow_version, data,",
            "  status, created_by, next_run_at)",
            " SELECT $1, $2, t.uuid, target.flow_id, target.current_version, t.data, $6, $7, $8",
            " FROM target, unnest($9::uuid[], $10::jsonb[]) AS t(uuid, data)",
            " RETURNING org_id, record_id, environment_id, flow_id, uuid),",
            " queued AS (",
            " INSERT INTO record_queue (org_id, record_id, environment_id, flow_id, next_run_at)",
            " SELECT org_id, record_id, environment_id, flow_id, coalesce($8, now()) FROM new)",
            " SELECT new.record_id, new.uuid, new.flow_id, target.name AS flow_name",
            " FROM new, target"
        ))
        .bind(self.tenant.org_id)
        .bind(self.tenant.environment_id)
        .bind(self.flow)
        .bind(self.flow.parse::<i64>().ok())
        .bind(self.schema_version)
        .bind(self.status.code())
        .bind(self.actor)
        .bind(self.next_run_at)
        .bind(self.uuids)
        .bind(self.records)
        .fetch_all(conn)
        .await;
        let rows = rows.map_err(|error| {
            let error = Error::from(error);
            if error.is_unique_violation("records_uuid_key") {
                duplicate_uuid(self.uuids)
            } else {
                error
            }
        })?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let (flow_id, flow_name) = (first.flow_id, first.flow_name.clone());
        let inserted = rows
            .into_iter()
            .map(|row| (row.record_id, row.uuid))
            .collect();
        Ok(Some(Ingested {
            flow_id,
            flow_name,
            status: self.status,
            records: in_request_order(self.uuids, inserted)?,
        }))
    }
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
