//! Each SOAP operation is its REST twin: the envelope's fields are handed to the very handler
//! that serves the REST call (as the parameters and body that call would carry), so both APIs
//! run the same validation, the same service functions and the same transactions. Nothing here
//! decides anything about schemas, records, flows or webhooks.

use crate::authn::{Auth, FlowRead, FlowWrite, RecordRead, RecordWrite, RequiredScope};
use crate::authn::{SchemaRead, SchemaWrite};
use crate::error::ApiError;
use crate::format::Format;
use crate::params::Params;
use crate::payload::{Body, Payload, json_records, parse_body};
use crate::routes::schema::SchemaBody;
use crate::routes::{flowdiagram, records, schema, webhooks};
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use flowline_core::{Error, Principal};
use flowline_soap::{Call, NewRecord, SchemaObject};
use http::header::CONTENT_TYPE;
use std::future::Future;

/// Runs `call` through its REST twin as `principal` (none for `webhook`, whose uri is its
/// credential), and returns the twin's response.
pub async fn perform(state: &AppState, principal: Option<Principal>, call: Call) -> Response {
    let state = State(state.clone());
    let (principal, call) = match (principal, call) {
        (_, Call::Webhook { uri, payload }) => return webhook(state, uri, payload).await,
        (Some(principal), call) => (principal, call),
        (None, _) => {
            return ApiError(Error::unauthorized(super::CREDENTIALS_REQUIRED)).into_response();
        }
    };
    match call {
        Call::InsertSchema(object) => {
            as_caller::<SchemaWrite, _, _>(principal, |auth| {
                schema::create(state, auth, Payload(schema_body(object)))
            })
            .await
        }
        Call::UpdateSchema(object) => {
            as_caller::<SchemaWrite, _, _>(principal, |auth| {
                schema::update(state, auth, Payload(schema_body(object)))
            })
            .await
        }
        Call::GetSchema => {
            as_caller::<SchemaRead, _, _>(principal, |auth| schema::get(state, auth)).await
        }
        Call::DeleteSchema => {
            as_caller::<SchemaWrite, _, _>(principal, |auth| schema::delete(state, auth)).await
        }
        Call::InsertRecord(record) => insert_record(state, principal, record).await,
        Call::GetRecord { uuid } => {
            as_caller::<RecordRead, _, _>(principal, |auth| {
                records::get(state, auth, record_params(&uuid))
            })
            .await
        }
        Call::UpdateRecord { uuid, data } => {
            let body = match parse_body(Format::Json, data.as_bytes()) {
                Ok(body) => body,
                Err(error) => return error.into_response(),
            };
            as_caller::<RecordWrite, _, _>(principal, |auth| {
                records::update(state, auth, record_params(&uuid), Body(body))
            })
            .await
        }
        Call::DeleteRecord { uuid } => {
            as_caller::<RecordWrite, _, _>(principal, |auth| {
                records::delete(state, auth, record_params(&uuid))
            })
            .await
        }
        Call::GetFlowDiagram { flow } => {
            let params = Params::from_url_parameters([("flow_name", flow.as_str())]);
            as_caller::<FlowRead, _, _>(principal, |auth| flowdiagram::get(state, auth, params))
                .await
        }
        Call::ChangeFlowStatus { flow_id, status } => {
            let params = Params::from_url_parameters([
                ("flow_id", flow_id.as_str()),
                ("status", status.as_str()),
            ]);
            as_caller::<FlowWrite, _, _>(principal, |auth| {
                flowdiagram::change_status(state, auth, params)
            })
            .await
        }
        Call::Webhook { uri, payload } => webhook(state, uri, payload).await,
    }
}

/// `webhook`: the uri is the credential, as for `POST /v1/webhook/{webhook_uri}`. The payload
/// is JSON or, when it starts with `<`, XML.
async fn webhook(state: State<AppState>, uri: String, payload: String) -> Response {
    let content_type = if payload.trim_start().starts_with('<') {
        "application/xml"
    } else {
        "application/json"
    };
    let request = Request::builder()
        .method(http::Method::POST)
        .header(CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(payload));
    match request {
        Ok(request) => webhooks::receive(state, Path(uri), request)
            .await
            .into_response(),
        Err(error) => ApiError(Error::internal(format!(
            "building the webhook request: {error}"
        )))
        .into_response(),
    }
}

async fn insert_record(
    state: State<AppState>,
    principal: Principal,
    record: NewRecord,
) -> Response {
    let body = match json_records(record.data.as_bytes()) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let mut params = vec![("flow_name", record.flow.as_str())];
    if let Some(uuid) = &record.uuid {
        params.push(("uuid", uuid));
    }
    if let Some(at) = &record.execution_time {
        params.push(("executiontime", at));
    }
    let params = Params::from_url_parameters(params);
    as_caller::<RecordWrite, _, _>(principal, |auth| records::create(state, auth, params, body))
        .await
}

fn record_params(uuid: &str) -> Params {
    Params::from_url_parameters([("uuid", uuid)])
}

fn schema_body(object: SchemaObject) -> SchemaBody {
    SchemaBody::new(object.schema, object.data_record, object.url)
}

/// Calls `handler` as `principal` if it holds the scope `S` the handler requires — the check
/// its REST extractor makes.
async fn as_caller<S, F, Fut>(principal: Principal, handler: F) -> Response
where
    S: RequiredScope,
    F: FnOnce(Auth<S>) -> Fut,
    Fut: Future,
    Fut::Output: IntoResponse,
{
    match Auth::<S>::authorize(principal) {
        Ok(auth) => handler(auth).await.into_response(),
        Err(error) => error.into_response(),
    }
}
