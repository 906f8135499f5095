//! The URL mappings of an environment's public site, with the organization API key:
//! `GET`, `POST` and `DELETE /v1/environment/{id}/urls`. Each answers with every mapping of the
//! environment, `{"data": {"urls_mapped": […]}, "code": 200}`, as the reference shows it.

use crate::authn::OrgAuth;
use crate::error::ApiError;
use crate::payload::Body;
use crate::reply::Reply;
use crate::routes::projects::{environment_id, tenant};
use crate::state::AppState;
use axum::extract::{Path, State};
use flowline_projects::UrlMapping;
use flowline_projects::urls::{self, parse_mappings, parse_removals};
use http::StatusCode;
use serde_json::json;

fn answer(mappings: Vec<UrlMapping>) -> Reply {
    Reply::raw(
        StatusCode::OK,
        json!({"data": {"urls_mapped": mappings}, "code": 200}),
    )
}

/// `GET /v1/environment/{environment_id}/urls`
pub async fn list(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    let mappings = urls::list(&mut conn, tenant(caller, environment_id)).await?;
    Ok(answer(mappings))
}

/// `POST /v1/environment/{environment_id}/urls`
pub async fn put(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let mappings = parse_mappings(&body)?;
    let mut conn = state.pool().acquire().await?;
    let all = urls::put(&mut conn, tenant(caller, environment_id), &mappings).await?;
    Ok(answer(all))
}

/// `DELETE /v1/environment/{environment_id}/urls`
pub async fn remove(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let removals = parse_removals(&body)?;
    let mut conn = state.pool().acquire().await?;
    let left = urls::remove(&mut conn, tenant(caller, environment_id), &removals).await?;
    Ok(answer(left))
}
