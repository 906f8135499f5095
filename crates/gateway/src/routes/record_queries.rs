//! `/v1/record/search`, `/v1/record/changestatus` and `/v1/record/movetoflow`: finding records,
//! acting on them in the queue, and moving them to another flow. All three answer in the long
//! envelope (`id`, `code`, `request-ip`, `resource`, `message`, `error`), as the reference does.

use crate::authn::{Auth, RecordRead, RecordWrite, query_params};
use crate::error::ApiError;
use crate::params::Param;
use crate::payload::Body;
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::{FromRequest, RawQuery, Request, State};
use chrono::{DateTime, Utc};
use flowline_core::Error;
use flowline_core::time::api_date;
use flowline_records::{
    FoundRecord, MAX_UUIDS_PER_CALL, MoveReport, QueueAction, QueueReport, RawParam, RawSearch,
    SearchPage, SearchQuery,
};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

const LIMIT: Param = Param::new("X-limit", "limit");
const OFFSET: Param = Param::new("X-offset", "offset");
const UUID: Param = Param::new("X-uuid", "uuid");
const FLOW: Param = Param::new("X-flow", "flow_name");
const STATUS: Param = Param::new("X-datarecord-status", "datarecord_status");
const DATAFIELD_NAME: Param = Param::new("X-datafield-name", "datafield_name");
const DATAFIELD_VALUE: Param = Param::new("X-datafield-value", "datafield_value");
const DATE_TYPE: Param = Param::new("X-date-type", "date_type");
const DATE_FROM: Param = Param::new("X-date-from", "date_from");
const DATE_TO: Param = Param::new("X-date-to", "date_to");

const QUEUE_STATUS: &str = "X-Queue-Status";
const QUEUE_UUIDS: &str = "X-Queue-Uuids";
const TARGET_FLOW: &str = "X-MoveToFlow-Flow";

/// The search parameters of a request: each from its header when the header is present (even
/// empty), otherwise from its URL parameter. Header values are read as UTF-8, so that a data
/// field's value may hold any text.
struct SearchParams {
    headers: HeaderMap,
    query: HashMap<String, String>,
}

impl SearchParams {
    /// The parameter's trimmed value with the name it came under; empty counts as absent,
    /// except for `keep_empty` (a data field's value, where `""` is a value to look for).
    fn get(&self, param: Param, keep_empty: bool) -> Result<RawParam<'_>, ApiError> {
        let (name, value) = match self.headers.get(param.header) {
            Some(value) => {
                let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
                    ApiError(Error::invalid_field(param.header, "is not UTF-8 text"))
                })?;
                (param.header, text)
            }
            None => match self.query.get(param.url) {
                Some(value) => (param.url, value.as_str()),
                None => return Ok(None),
            },
        };
        let value = if keep_empty { value } else { value.trim() };
        Ok((keep_empty || !value.is_empty()).then_some((name, value)))
    }

    fn raw(&self) -> Result<RawSearch<'_>, ApiError> {
        Ok(RawSearch {
            limit: self.get(LIMIT, false)?,
            offset: self.get(OFFSET, false)?,
            uuid: self.get(UUID, false)?,
            flow: self.get(FLOW, false)?,
            status: self.get(STATUS, false)?,
            datafield_name: self.get(DATAFIELD_NAME, false)?,
            datafield_value: self.get(DATAFIELD_VALUE, true)?,
            date_type: self.get(DATE_TYPE, false)?,
            date_from: self.get(DATE_FROM, false)?,
            date_to: self.get(DATE_TO, false)?,
        })
    }
}

/// `GET /v1/record/search`.
pub async fn search(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordRead>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Reply, ApiError> {
    let params = SearchParams {
        headers,
        query: query_params(query.as_deref()),
    };
    let query = SearchQuery::parse(&params.raw()?)?;
    let mut conn = state.pool().acquire().await?;
    let page = flowline_records::search(&mut conn, principal.tenant(), &query).await?;
    Ok(Reply::full(
        StatusCode::OK,
        search_resource(&page),
        "The query has been executed successfully.",
    ))
}

fn search_resource(page: &SearchPage) -> Value {
    json!({
        "records": page.records.iter().map(found_record).collect::<Vec<_>>(),
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    })
}

/// One record as the reference's search answer shows it: ids and counts as strings, dates in
/// the API format, `""` for what is not there.
fn found_record(record: &FoundRecord) -> Value {
    json!({
        "id": record.record_id.to_string(),
        "uuid": record.uuid.to_string(),
        "flow_id": record.flow_id.to_string(),
        "flow_name": record.flow_name,
        "flow_version": record.flow_version.to_string(),
        "date_created": api_date(record.created_at),
        "date_started": optional_date(record.started_at),
        "date_last_run": optional_date(record.last_run_at),
        "date_next_run": optional_date(record.next_run_at),
        "queue_status": record.queue.name(),
        "dynamic_value": "",
        "current_step": {
            "type": record.current_step_type.as_deref().unwrap_or_default(),
            "text": record.current_step.as_deref().unwrap_or_default(),
        },
        "num_runs": record.num_runs.to_string(),
        "flow_status": record.status.code().to_string(),
        "flow_status_name": record.status.name(),
    })
}

fn optional_date(at: Option<DateTime<Utc>>) -> String {
    at.map(api_date).unwrap_or_default()
}

/// The records a queue action names: `X-Queue-Uuids` (comma-separated) when present,
/// otherwise a JSON (or XML) array of uuids as the body.
pub struct QueueUuids(Vec<Uuid>);

impl<S: Send + Sync> FromRequest<S> for QueueUuids {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(value) = request.headers().get(QUEUE_UUIDS) {
            let text = value.to_str().unwrap_or_default();
            let uuids = text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| parse_uuid(QUEUE_UUIDS, item))
                .collect::<Result<Vec<_>, _>>()?;
            return checked(QUEUE_UUIDS, uuids).map(QueueUuids);
        }
        // Without the header, the body is required; say so in terms of both.
        let Body(body) = Body::from_request(request, state).await.map_err(|error| {
            match error.0.public_message().as_str() {
                "body: is required" => missing_uuids(),
                _ => error,
            }
        })?;
        uuid_array(body).map(QueueUuids)
    }
}

fn missing_uuids() -> ApiError {
    ApiError(Error::invalid_field(
        QUEUE_UUIDS,
        "is required: name the data records in it (comma-separated) or send a JSON array \
         of uuids as the body",
    ))
}

fn parse_uuid(field: &str, text: &str) -> Result<Uuid, ApiError> {
    text.parse().map_err(|_| {
        ApiError(Error::invalid_field(
            field,
            format!("'{text}' is not a valid uuid"),
        ))
    })
}

/// A body that is an array of uuids; errors name the item at fault (`body[2]`).
fn uuid_array(body: Value) -> Result<Vec<Uuid>, ApiError> {
    let Value::Array(items) = body else {
        return Err(ApiError(Error::invalid_field(
            "body",
            "must be a JSON array of uuids",
        )));
    };
    let uuids = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let field = format!("body[{index}]");
            match item.as_str() {
                Some(text) => parse_uuid(&field, text.trim()),
                None => Err(ApiError(Error::invalid_field(
                    &field,
                    "must be a uuid string",
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    checked("body", uuids)
}

fn checked(field: &str, uuids: Vec<Uuid>) -> Result<Vec<Uuid>, ApiError> {
    if uuids.is_empty() {
        return Err(ApiError(Error::invalid_field(
            field,
            "must name at least one data record",
        )));
    }
    if uuids.len() > MAX_UUIDS_PER_CALL {
        return Err(ApiError(Error::invalid_field(
            field,
            format!("names more than {MAX_UUIDS_PER_CALL} data records"),
        )));
    }
    Ok(uuids)
}

/// The action `X-Queue-Status` asks for.
fn queue_action(headers: &HeaderMap) -> Result<QueueAction, ApiError> {
    let expected = QueueAction::ALL.map(QueueAction::as_str).join(", ");
    let text = headers
        .get(QUEUE_STATUS)
        .map(|value| value.to_str().unwrap_or_default().trim())
        .filter(|text| !text.is_empty())
        .ok_or_else(|| {
            ApiError(Error::invalid_field(
                QUEUE_STATUS,
                format!("is required: one of {expected}"),
            ))
        })?;
    QueueAction::parse(text).ok_or_else(|| {
        ApiError(Error::invalid_field(
            QUEUE_STATUS,
            format!("'{text}' is not one of {expected}"),
        ))
    })
}

/// `PUT /v1/record/changestatus`.
pub async fn change_status(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordWrite>,
    headers: HeaderMap,
    QueueUuids(uuids): QueueUuids,
) -> Result<Reply, ApiError> {
    let action = queue_action(&headers)?;
    let mut tx = state.pool().begin().await?;
    let report = flowline_records::apply_queue_action(
        &mut tx,
        principal.tenant(),
        Some(principal.app_id),
        action,
        &uuids,
    )
    .await?;
    tx.commit().await?;
    Ok(Reply::full(
        StatusCode::OK,
        queue_resource(&report),
        report.action.summary(report.changed),
    ))
}

fn queue_resource(report: &QueueReport) -> Value {
    let records: Vec<Value> = report
        .records
        .iter()
        .map(|outcome| {
            let mut record = json!({
                "uuid": outcome.uuid.to_string(),
                "queue_status": outcome.status.map(|s| s.code().to_string()).unwrap_or_default(),
                "queue_status_key": outcome.status.map(|s| s.name()).unwrap_or_default(),
            });
            if let (Some(refusal), Some(fields)) = (&outcome.refusal, record.as_object_mut()) {
                fields.insert("message".to_owned(), json!(refusal));
            }
            record
        })
        .collect();
    json!({"total": records.len(), "records": records})
}

/// `PUT /v1/record/movetoflow`.
pub async fn move_to_flow(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<RecordWrite>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let flow = headers
        .get(TARGET_FLOW)
        .map(|value| value.to_str().unwrap_or_default().trim())
        .filter(|flow| !flow.is_empty())
        .ok_or_else(|| {
            ApiError(Error::invalid_field(
                TARGET_FLOW,
                "is required: the name (or id) of the flow to move the records to",
            ))
        })?
        .to_owned();
    let uuids = uuid_array(body)?;
    let mut tx = state.pool().begin().await?;
    let report = flowline_records::move_to_flow(
        &mut tx,
        principal.tenant(),
        Some(principal.app_id),
        &flow,
        &uuids,
    )
    .await?;
    tx.commit().await?;
    let message = format!("{} flows moved to the new one", report.moved);
    Ok(Reply::full(StatusCode::OK, move_resource(&report), message))
}

fn move_resource(report: &MoveReport) -> Value {
    let records: Vec<Value> = report
        .records
        .iter()
        .map(|outcome| {
            json!({
                "uuid": outcome.uuid.to_string(),
                "message": outcome.message,
                "movetoflow": if outcome.moved { report.flow_name.as_str() } else { "" },
            })
        })
        .collect();
    json!({"total": records.len(), "records": records})
}
