//! `/v1/record`: pushing data records into flows, reading, replacing and deleting them, and
//! reading their history.

use crate::authn::{Auth, RecordRead, RecordWrite};
use crate::error::ApiError;
use crate::params::{Param, Params};
use crate::payload::{Body, RecordsBody};
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::{Path, State};
use flowline_core::Error;
use flowline_core::Tenant;
use flowline_core::time::{api_date, atom, parse_atom};
use flowline_db::PgConnection;
use flowline_records::{HistoryEntry, Ingested, NewRecords, RecordView};
use flowline_scheduler::StepLogEntry;
use http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use uuid::Uuid;

const FLOW: Param = Param::new("X-Flow", "flow_name");
const UUID: Param = Param::new("X-Uuid", "uuid");
/// The reference's delete example sends the uuid in a header named plainly `uuid`.
const PLAIN_UUID: Param = Param::new("uuid", "uuid");
const EXECUTION_TIME: Param = Param::new("X-Executiontime", "executiontime");

/// The record a request names by `X-Uuid`, or `uuid` as a header or in the URL.
fn record_uuid(params: &Params) -> Result<Uuid, ApiError> {
    let param = if params.get(UUID).is_some() {
        UUID
    } else {
        PLAIN_UUID
    };
    params.uuid(param)?.ok_or_else(|| {
        ApiError(Error::invalid_field(
            UUID.header,
            "is required (or the URL parameter 'uuid')",
        ))
    })
}

fn execution_time(params: &Params) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    params
        .get(EXECUTION_TIME)
        .map(|(name, value)| {
            parse_atom(value).ok_or_else(|| {
                ApiError(Error::invalid_field(
                    name,
                    format!("'{value}' is not an ATOM date such as 2005-08-15T15:52:01+00:00"),
                ))
            })
        })
        .transpose()
}

pub async fn create(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordWrite>,
    params: Params,
    RecordsBody { single, records }: RecordsBody,
) -> Result<Reply, ApiError> {
    let (_, flow) = params.require(FLOW)?;
    let request = NewRecords {
        flow: flow.to_owned(),
        uuid: params.uuid(UUID)?,
        execution_time: execution_time(&params)?,
        records,
    };
    let ingested = state
        .ingestor()
        .ingest(
            principal.tenant(),
            Some(principal.app_id),
            state.schemas(),
            &request,
        )
        .await?;
    Ok(Reply::short_text(
        StatusCode::CREATED,
        created(&ingested, &request.records, single)?,
        "Data Record is created successfully",
    ))
}

/// The documented 201 body; an array of records answers with arrays of ids, uuids and data.
/// The records are echoed as the JSON text they arrived in.
fn created(
    ingested: &Ingested,
    records: &[Box<RawValue>],
    single: bool,
) -> Result<Box<RawValue>, ApiError> {
    let ids = ingested
        .records
        .iter()
        .map(|record| record.record_id.to_string());
    let uuids = ingested
        .records
        .iter()
        .map(|record| record.uuid.to_string());
    let records = records.iter().map(|record| &**record);
    let resource = Created {
        flow_id: ingested.flow_id.to_string(),
        flow_name: &ingested.flow_name,
        data_record_id: OneOrMany::new(single, ids),
        uuid: OneOrMany::new(single, uuids),
        status: ingested.status.code().to_string(),
        data_record: OneOrMany::new(single, records),
    };
    serde_json::to_string(&resource)
        .and_then(RawValue::from_string)
        .map_err(|error| ApiError(Error::internal(format!("encoding the 201 body: {error}"))))
}

#[derive(serde::Serialize)]
struct Created<'a> {
    flow_id: String,
    flow_name: &'a str,
    data_record_id: OneOrMany<String>,
    uuid: OneOrMany<String>,
    status: String,
    data_record: OneOrMany<&'a RawValue>,
}

/// A value for a single record, an array for an array of them.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn new(single: bool, mut items: impl Iterator<Item = T>) -> OneOrMany<T> {
        match items.next() {
            Some(first) if single => OneOrMany::One(first),
            first => OneOrMany::Many(first.into_iter().chain(items).collect()),
        }
    }
}

/// The documented body of `GET /v1/record`, with the record's step log.
fn view(record: RecordView, log: Vec<StepLogEntry>) -> Value {
    json!({
        "info": {
            "uuid": record.uuid.to_string(),
            "customer_id": record.org_id.to_string(),
            "flow_id": record.flow_id.to_string(),
            "flow_name": record.flow_name.unwrap_or_default(),
            "flow_version": record.flow_version.to_string(),
            "data_record_id": record.record_id.to_string(),
            "date_created": api_date(record.created_at),
            "status": record.status.describe(record.paused),
            "status_code": record.status.code().to_string(),
        },
        "data_record": record.data,
        "flow_process": {
            "date_started": optional_date(record.started_at),
            "date_last_run": optional_date(record.last_run_at),
            "date_next_run": optional_date(record.next_run_at),
            "current_step": record.current_step.unwrap_or_default(),
            "num_runs": record.num_runs.to_string(),
        },
        "flow_objects_info": log.into_iter().map(step_log_entry).collect::<Vec<_>>(),
    })
}

fn step_log_entry(entry: StepLogEntry) -> Value {
    json!({
        "step_id": entry.step_id,
        "step_type": entry.step_type,
        "attempt": entry.attempt.to_string(),
        "date_started": api_date(entry.started_at),
        "date_finished": api_date(entry.finished_at),
        "outcome": entry.outcome,
        "error": entry.error.unwrap_or_default(),
    })
}

/// A record's view with its step log, read on one connection.
async fn view_with_log(
    conn: &mut PgConnection,
    tenant: Tenant,
    record: RecordView,
) -> Result<Reply, ApiError> {
    let log = flowline_scheduler::step_log(conn, tenant, record.record_id).await?;
    let modified_at = record.modified_at;
    Ok(Reply::short(StatusCode::OK, view(record, log), RETRIEVED).last_modified(modified_at))
}

fn optional_date(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(api_date).unwrap_or_default()
}

const RETRIEVED: &str = "Data Record structure was retrieving successfully";

pub async fn get(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordRead>,
    params: Params,
) -> Result<Reply, ApiError> {
    let uuid = record_uuid(&params)?;
    let mut conn = state.pool().acquire().await?;
    let tenant = principal.tenant();
    let record = flowline_records::find(&mut conn, tenant, uuid).await?;
    view_with_log(&mut conn, tenant, record).await
}

/// `GET /v1/record/{id}`: by `data_record_id`, or by uuid.
pub async fn get_by_id(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordRead>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let tenant = principal.tenant();
    let record = if let Ok(record_id) = id.parse::<i64>() {
        flowline_records::find_by_id(&mut conn, tenant, record_id).await?
    } else if let Ok(uuid) = id.parse::<Uuid>() {
        flowline_records::find(&mut conn, tenant, uuid).await?
    } else {
        return Err(ApiError(Error::invalid_field(
            "id",
            format!("'{id}' is neither a data record id nor a uuid"),
        )));
    };
    view_with_log(&mut conn, tenant, record).await
}

pub async fn update(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordWrite>,
    params: Params,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let uuid = record_uuid(&params)?;
    let mut tx = state.pool().begin().await?;
    let replaced = flowline_records::replace(
        &mut tx,
        principal.tenant(),
        Some(principal.app_id),
        state.schemas(),
        uuid,
        body,
    )
    .await?;
    tx.commit().await?;
    let resource = json!({
        "flow_name": replaced.flow_name.unwrap_or_default(),
        "customer_id": principal.org_id.to_string(),
        "uuid": replaced.uuid.to_string(),
        "data_record": replaced.data,
    });
    Ok(Reply::short(
        StatusCode::OK,
        resource,
        "Data Record was updated successfully",
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordWrite>,
    params: Params,
) -> Result<Reply, ApiError> {
    let uuid = record_uuid(&params)?;
    let mut tx = state.pool().begin().await?;
    let deleted =
        flowline_records::delete(&mut tx, principal.tenant(), Some(principal.app_id), uuid).await?;
    tx.commit().await?;
    let resource = json!({
        "flow_name": deleted.flow_name.unwrap_or_default(),
        "uuid": deleted.uuid.to_string(),
    });
    Ok(Reply::short(
        StatusCode::OK,
        resource,
        "Data Record was removed successfully",
    ))
}

/// `GET /v1/record/history`: every change of a record, oldest first (a Flowline extension).
pub async fn history(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordRead>,
    params: Params,
) -> Result<Reply, ApiError> {
    let uuid = record_uuid(&params)?;
    let mut conn = state.pool().acquire().await?;
    let entries = flowline_records::history(&mut conn, principal.tenant(), uuid).await?;
    let resource = json!({
        "uuid": uuid.to_string(),
        "history": entries.iter().map(history_entry).collect::<Vec<_>>(),
        "total": entries.len(),
    });
    Ok(Reply::full(
        StatusCode::OK,
        resource,
        "Data Record history was retrieved successfully",
    ))
}

fn history_entry(entry: &HistoryEntry) -> Value {
    json!({
        "date": api_date(entry.at),
        "date_atom": atom(entry.at),
        "action": entry.action,
        "application": entry.application.clone().unwrap_or_default(),
        "detail": entry.detail,
    })
}
