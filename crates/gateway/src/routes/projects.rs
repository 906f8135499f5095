//! The projects of an environment, with the organization API key (`OrgAuth`):
//! `GET /v1/environment/{id}/projects`, `POST` and `DELETE /v1/environment/{id}/project/{project_id}`.
//! A deploy or a removal answers with the environment, as the reference shows it.

use crate::authn::OrgAuth;
use crate::error::ApiError;
use crate::format::from_xml;
use crate::payload::OptionalBody;
use crate::reply::Reply;
use crate::routes::environments;
use crate::state::AppState;
use axum::extract::{Path, State};
use flowline_core::{EnvironmentId, Error, OrgPrincipal, Tenant};
use flowline_projects::{DeployRequest, DeployTarget, ProjectId, positive_integer};
use http::{HeaderMap, StatusCode};
use serde_json::json;

pub(crate) fn environment_id(raw: &str) -> Result<EnvironmentId, ApiError> {
    positive_integer(raw).map(EnvironmentId).ok_or_else(|| {
        ApiError(Error::invalid_field(
            "environment_id",
            "must be a positive integer",
        ))
    })
}

fn project_id(raw: &str) -> Result<ProjectId, ApiError> {
    ProjectId::parse(raw).ok_or_else(|| {
        ApiError(Error::invalid_field(
            "project_id",
            "must be a positive integer",
        ))
    })
}

pub(crate) fn tenant(caller: OrgPrincipal, environment_id: EnvironmentId) -> Tenant {
    Tenant {
        org_id: caller.org_id,
        environment_id,
    }
}

/// `GET /v1/environment/{environment_id}/projects`
pub async fn list(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    let projects =
        flowline_projects::hosted_projects(&mut conn, tenant(caller, environment_id)).await?;
    Ok(Reply::raw(
        StatusCode::OK,
        json!({"code": 200, "data": projects}),
    ))
}

/// A change of an environment's projects waits until no job runs on it.
async fn check_not_busy(
    state: &AppState,
    caller: OrgPrincipal,
    environment_id: EnvironmentId,
) -> Result<(), ApiError> {
    let mut conn = state.pool().acquire().await?;
    let environment = flowline_environments::get(&mut conn, caller, environment_id).await?;
    if environment.status.is_busy() {
        return Err(ApiError(Error::conflict(format!(
            "Environment {environment_id} is {}: change its projects once it is ready",
            environment.status.as_str()
        ))));
    }
    Ok(())
}

/// `POST /v1/environment/{environment_id}/project/{project_id}`
pub async fn deploy(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    headers: HeaderMap,
    OptionalBody(body): OptionalBody,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let project_id = project_id(&project)?;
    let request = DeployRequest::parse(body.as_ref())?;
    check_not_busy(&state, caller, environment_id).await?;
    {
        let mut conn = state.pool().acquire().await?;
        let target = DeployTarget {
            org_id: caller.org_id,
            environment_id,
            project_id,
        };
        flowline_projects::deploy(&mut conn, target, &request, from_xml).await?;
    }
    environments::get(OrgAuth(caller), State(state), Path(id), headers).await
}

/// `DELETE /v1/environment/{environment_id}/project/{project_id}`
pub async fn remove(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let project_id = project_id(&project)?;
    check_not_busy(&state, caller, environment_id).await?;
    {
        let mut conn = state.pool().acquire().await?;
        flowline_projects::remove_project(&mut conn, tenant(caller, environment_id), project_id)
            .await?;
    }
    environments::get(OrgAuth(caller), State(state), Path(id), headers).await
}
