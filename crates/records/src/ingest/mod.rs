//! Queueing new records into a flow: `POST /v1/record` and webhook events.

use crate::status::RecordStatus;
use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::PgConnection;
use flowline_flows::store as flows;
use flowline_schemas::{SchemaCache, SchemaState};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

mod coalesce;

pub use coalesce::{COALESCE_BELOW, IngestSettings, Ingestor, MAX_COALESCED_RECORDS};

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
    /// Each one a record's data: a JSON object, as text. Kept as the client sent it, so that
    /// a record is parsed into a tree only when a data schema must check it.
    pub records: Vec<Box<RawValue>>,
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
    let texts = json_texts(&request.records);
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
        let target = Target {
            tenant,
            actor,
            flow: request.flow.clone(),
            schema_version: state.version,
            status,
            next_run_at,
        };
        let records = Batch {
            uuids: &uuids,
            texts: &texts,
        };
        if let Some(ingested) = target.insert(&mut *conn, &records).await? {
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

/// The records as JSON text, as PostgreSQL reads them into `jsonb`.
fn json_texts(records: &[Box<RawValue>]) -> Vec<&str> {
    records.iter().map(|record| record.get()).collect()
}

/// A record as text, for callers that hold it as a tree.
pub fn record_text(record: &Value) -> Result<Box<RawValue>, Error> {
    serde_json::value::to_raw_value(record)
        .map_err(|error| Error::internal(format!("a record did not serialize: {error}")))
}

/// Checks the records against the data schema, if the environment has one; only then are
/// they parsed into trees.
fn validate(request: &NewRecords, schema: &SchemaState) -> Result<(), Error> {
    if schema.compiled.is_none() {
        return Ok(());
    }
    for (index, record) in request.records.iter().enumerate() {
        let field = record_field(request, index);
        let tree: Value = serde_json::from_str(record.get())
            .map_err(|error| Error::invalid_field(&field, format!("malformed JSON: {error}")))?;
        schema.validate(&field, &tree)?;
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
        if !record.get().trim_start().starts_with('{') {
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

/// Where records go and how they are queued: everything about an insert but the records.
/// Requests that agree on all of it can share one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub(crate) tenant: Tenant,
    pub(crate) actor: Option<AppId>,
    pub(crate) flow: String,
    /// The version of the data schema the records were validated against.
    pub(crate) schema_version: Option<DateTime<Utc>>,
    pub(crate) status: RecordStatus,
    pub(crate) next_run_at: Option<DateTime<Utc>>,
}

/// The records of one insert: their uuids and their JSON texts, index for index.
pub(crate) struct Batch<'a> {
    pub(crate) uuids: &'a [Uuid],
    pub(crate) texts: &'a [&'a str],
}

#[derive(sqlx::FromRow)]
struct InsertedRow {
    record_id: i64,
    uuid: Uuid,
    flow_id: i64,
    flow_name: String,
}

impl Target {
    /// One statement for the whole batch: the records and their queue entries, if the flow
    /// accepts records and the schema is still the validated one; `None` otherwise.
    ///
    /// The flow row is locked `FOR KEY SHARE`: deleting the flow or changing its status locks
    /// it `FOR UPDATE`, so either waits for these records to commit, or, having committed
    /// first, is seen by this statement when the lock is granted (the row is re-read then).
    pub(crate) async fn insert(
        &self,
        conn: &mut PgConnection,
        batch: &Batch<'_>,
    ) -> Result<Option<Ingested>, Error> {
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
            " SELECT $1, $2, t.uuid, target.flow_id, target.current_version, t.data::jsonb,",
            "  $6, $7, $8",
            " FROM target, unnest($9::uuid[], $10::text[]) AS t(uuid, data)",
            " RETURNING org_id, record_id, environment_id, flow_id, uuid),",
            " queued AS (",
            " INSERT INTO record_queue (org_id, record_id, environment_id, flow_id, next_run_at)",
            " SELECT org_id, record_id, environment_id, flow_id, coalesce($8, now()) FROM new)",
            " SELECT new.record_id, new.uuid, new.flow_id, target.name AS flow_name",
            " FROM new, target"
        ))
        .bind(self.tenant.org_id)
        .bind(self.tenant.environment_id)
        .bind(&self.flow)
        .bind(self.flow.parse::<i64>().ok())
        .bind(self.schema_version)
        .bind(self.status.code())
        .bind(self.actor)
        .bind(self.next_run_at)
        .bind(batch.uuids)
        .bind(batch.texts)
        .fetch_all(conn)
        .await;
        let rows = rows.map_err(|error| {
            if let Some(problem) = unstorable_json(&error) {
                return Error::invalid_field("body", problem);
            }
            let error = Error::from(error);
            if error.is_unique_violation("records_uuid_key") {
                duplicate_uuid(batch.uuids)
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
            records: in_request_order(batch.uuids, inserted)?,
        }))
    }
}

/// PostgreSQL's reason for refusing a record's JSON that the parser let through: `jsonb`
/// holds no U+0000 and no lone surrogate.
fn unstorable_json(error: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(database) = error else {
        return None;
    };
    // invalid_text_representation, untranslatable_character
    matches!(database.code().as_deref(), Some("22P02" | "22P05"))
        .then(|| format!("cannot be stored as JSON: {}", database.message()))
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
            records: records
                .iter()
                .filter_map(|record| record_text(record).ok())
                .collect(),
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
