//! `/v1/flowdiagram` and `/v1/changeflowstatus`: the environment's flows, their drafts, their
//! published versions and their status.

use crate::authn::{Auth, FlowRead, FlowWrite};
use crate::error::ApiError;
use crate::params::{Param, Params};
use crate::payload::Payload;
use crate::reply::{EnvelopeId, Reply};
use crate::state::AppState;
use axum::extract::State;
use flowline_core::Error;
use flowline_core::time::api_date;
use flowline_flows::FlowDefinition;
use flowline_flows::store::{self, FlowStatus, FlowVersionInfo, FlowView, Transition};
use http::StatusCode;
use serde_json::{Value, json};

/// The flow a request names: `X-Flow` (its name or id), else the URL parameter `flow_name`.
const FLOW: Param = Param::new("X-Flow", "flow_name");
/// The flow whose status changes: `X-Flow-Id`, else `flow_id`.
const FLOW_ID: Param = Param::new("X-Flow-Id", "flow_id");
/// The status asked for: `X-Status`, else `status`.
const STATUS: Param = Param::new("X-Status", "status");

/// What `PUT /v1/changeflowstatus` asks for.
fn status_request(params: &Params) -> Result<(i64, FlowStatus), ApiError> {
    let (field, id) = params.require(FLOW_ID)?;
    let flow_id = id.parse::<i64>().map_err(|_| {
        ApiError(Error::invalid_field(
            field,
            format!("'{id}' is not a flow diagram id (an integer)"),
        ))
    })?;
    let (field, status) = params.require(STATUS)?;
    Ok((flow_id, store::requested_status(field, status)?))
}

fn version_json(version: &FlowVersionInfo) -> Value {
    json!({
        "version": version.version,
        "published_at": api_date(version.published_at),
        "published_by": version.published_by,
    })
}

/// The reference's resource (`customer`, `flow_name`, `description`, `current_flow`,
/// `versions`) and Flowline's additions.
fn flow_json(view: &FlowView) -> Value {
    json!({
        "customer": view.customer,
        "flow_name": view.name,
        "description": view.description,
        "current_flow": view.current_definition,
        "versions": view.versions.iter().map(version_json).collect::<Vec<_>>(),
        "flow_id": view.flow_id,
        "status": view.status.as_str(),
        "current_version": view.current_version,
        "draft": view.draft,
        "creation_date": api_date(view.created_at),
        "modified_date": api_date(view.modified_at),
    })
}

pub async fn create(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<FlowWrite>,
    Payload(body): Payload<Value>,
) -> Result<Reply, ApiError> {
    let definition = FlowDefinition::parse(&body)?;
    let mut conn = state.pool().acquire().await?;
    let view = store::create(&mut conn, principal.tenant(), &definition).await?;
    Ok(Reply::tagged(
        StatusCode::CREATED,
        EnvelopeId::Status,
        flow_json(&view),
        "Flow diagram is created successfully",
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<FlowRead>,
    params: Params,
) -> Result<Reply, ApiError> {
    let (_, reference) = params.require(FLOW)?;
    let mut conn = state.pool().acquire().await?;
    let view = store::get(&mut conn, principal.tenant(), reference).await?;
    Ok(Reply::tagged(
        StatusCode::OK,
        EnvelopeId::Status,
        flow_json(&view),
        "Flow diagram is retrieving successfully",
    )
    .last_modified(view.modified_at))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<FlowWrite>,
    params: Params,
    Payload(body): Payload<Value>,
) -> Result<Reply, ApiError> {
    let (_, reference) = params.require(FLOW)?;
    let definition = FlowDefinition::parse(&body)?;
    let mut conn = state.pool().acquire().await?;
    let view = store::save_draft(&mut conn, principal.tenant(), reference, &definition).await?;
    Ok(Reply::tagged(
        StatusCode::OK,
        EnvelopeId::Status,
        flow_json(&view),
        "Flow diagram draft is saved successfully",
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<FlowWrite>,
    params: Params,
) -> Result<Reply, ApiError> {
    let (_, reference) = params.require(FLOW)?;
    let mut conn = state.pool().acquire().await?;
    let deleted = store::delete(&mut conn, principal.tenant(), reference).await?;
    Ok(Reply::tagged(
        StatusCode::OK,
        EnvelopeId::Status,
        json!({"flow_id": deleted.flow_id, "flow_name": deleted.name}),
        "Flow diagram has been removed successfully",
    ))
}

pub async fn change_status(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<FlowWrite>,
    params: Params,
) -> Result<Reply, ApiError> {
    let (flow_id, status) = status_request(&params)?;
    let mut conn = state.pool().acquire().await?;
    let transition = store::change_status(
        &mut conn,
        principal.tenant(),
        Some(principal.app_id),
        flow_id,
        status,
    )
    .await?;
    Ok(Reply::tagged(
        StatusCode::OK,
        EnvelopeId::Ok,
        json!(""),
        transition_message(transition),
    ))
}

fn transition_message(transition: Transition) -> String {
    match transition {
        Transition::Published { version, status } => {
            let published =
                format!("Flow diagram has been published successfully as version {version}");
            match status {
                FlowStatus::Paused => format!("{published}; it stays paused until it is resumed"),
                FlowStatus::Inactive => {
                    format!("{published}; it stays inactive until it is set running")
                }
                _ => published,
            }
        }
        Transition::Paused => "Flow diagram has been paused successfully".to_owned(),
        Transition::Resumed => "Flow diagram has been resumed successfully".to_owned(),
        Transition::Reactivated => "Flow diagram has been reactivated successfully".to_owned(),
        Transition::Stopped => "Flow diagram has been stopped successfully".to_owned(),
    }
}
