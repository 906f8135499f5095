//! Table definitions — Flowline's addition to the reference, which has no call to create a
//! table: `/v1/tabledefs` for applications (scope `tables`, `tables.read` for reading) and
//! `/admin/v1/orgs/{org}/tables` for operators. Both take the same JSON.

use crate::authn::{Auth, TablesRead, TablesWrite, query_params};
use crate::error::ApiError;
use crate::payload::Body;
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use flowline_core::{EnvironmentId, Error, OrgId, Tenant};
use flowline_tables::{NewTable, TableChanges, TableDefinition};
use http::StatusCode;
use serde_json::{Value, json};

fn definitions_json(tables: &[TableDefinition]) -> Value {
    Value::Array(tables.iter().map(TableDefinition::to_json).collect())
}

/// `POST /v1/tabledefs`: `{"name": …, "columns": [{"name", "type", "index"}, …]}`.
pub async fn create(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let new = NewTable::parse(&body)?;
    let mut conn = state.pool().acquire().await?;
    let table = flowline_tables::create_table(&mut conn, principal.tenant(), &new).await?;
    Ok(Reply::short(
        StatusCode::CREATED,
        table.to_json(),
        "Table created successfully",
    ))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesRead>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let tables = flowline_tables::list_tables(&mut conn, principal.tenant()).await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({"tables": definitions_json(&tables), "total": tables.len()}),
        "Tables retrieved successfully",
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesRead>,
    Path(name): Path<String>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let table = flowline_tables::get_table(&mut conn, principal.tenant(), &name).await?;
    Ok(Reply::short(
        StatusCode::OK,
        table.to_json(),
        "Table retrieved successfully",
    ))
}

/// `PUT /v1/tabledefs/{name}`: `{"add_columns": […], "drop_columns": […], "add_indexes": […],
/// "drop_indexes": […]}`.
pub async fn alter(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let changes = TableChanges::parse(&body)?;
    let mut conn = state.pool().acquire().await?;
    let table =
        flowline_tables::alter_table(&mut conn, principal.tenant(), &name, &changes).await?;
    Ok(Reply::short(
        StatusCode::OK,
        table.to_json(),
        "Table updated successfully",
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path(name): Path<String>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    flowline_tables::delete_table(&mut conn, principal.tenant(), &name).await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({}),
        "Table has been removed successfully",
    ))
}

async fn find_org(state: &AppState, org: &str) -> Result<OrgId, ApiError> {
    let mut conn = state.pool().acquire().await?;
    Ok(flowline_auth::find_organization(&mut conn, org).await?)
}

/// An environment id given as a number or as its text; `field` names it in errors.
fn environment_id(value: Option<&Value>, field: &str) -> Result<Option<EnvironmentId>, ApiError> {
    let id = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        Some(_) => None,
    };
    id.map(|id| Some(EnvironmentId(id))).ok_or_else(|| {
        ApiError(Error::invalid_field(
            field,
            "expected an environment id (an integer)",
        ))
    })
}

/// The organization's environment an operator names, or its default environment.
async fn operator_tenant(
    state: &AppState,
    org: &str,
    environment: Option<EnvironmentId>,
) -> Result<Tenant, ApiError> {
    let org_id = find_org(state, org).await?;
    let mut conn = state.pool().acquire().await?;
    Ok(flowline_webhooks::tenant_of_org(&mut conn, org_id, environment).await?)
}

/// The environment an operator's URL names with `?environment_id=`.
fn query_environment(query: Option<&str>) -> Result<Option<EnvironmentId>, ApiError> {
    let params = query_params(query);
    environment_id(
        params
            .get("environment_id")
            .map(|text| Value::String(text.clone()))
            .as_ref(),
        "environment_id",
    )
}

/// `POST /admin/v1/orgs/{org}/tables`: a table body, with an optional `environment_id`
/// (default: the organization's default environment).
pub async fn admin_create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Body(mut body): Body,
) -> Result<Reply, ApiError> {
    let environment = match body.as_object_mut() {
        Some(object) => environment_id(object.remove("environment_id").as_ref(), "environment_id")?,
        None => None,
    };
    let new = NewTable::parse(&body)?;
    let tenant = operator_tenant(&state, &org, environment).await?;
    let mut conn = state.pool().acquire().await?;
    let table = flowline_tables::create_table(&mut conn, tenant, &new).await?;
    Ok(Reply::raw(StatusCode::CREATED, table.to_json()))
}

/// `GET /admin/v1/orgs/{org}/tables`: the organization's tables in every environment.
pub async fn admin_list(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Reply, ApiError> {
    let org_id = find_org(&state, &org).await?;
    let mut conn = state.pool().acquire().await?;
    let tables = flowline_tables::list_tables_for_org(&mut conn, org_id).await?;
    Ok(Reply::raw(StatusCode::OK, definitions_json(&tables)))
}

/// `PUT /admin/v1/orgs/{org}/tables/{name}[?environment_id=N]`: a change of definition.
pub async fn admin_alter(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let changes = TableChanges::parse(&body)?;
    let tenant = operator_tenant(&state, &org, query_environment(query.as_deref())?).await?;
    let mut conn = state.pool().acquire().await?;
    let table = flowline_tables::alter_table(&mut conn, tenant, &name, &changes).await?;
    Ok(Reply::raw(StatusCode::OK, table.to_json()))
}

/// `DELETE /admin/v1/orgs/{org}/tables/{name}[?environment_id=N]`.
pub async fn admin_delete(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Reply, ApiError> {
    let tenant = operator_tenant(&state, &org, query_environment(query.as_deref())?).await?;
    let mut conn = state.pool().acquire().await?;
    flowline_tables::delete_table(&mut conn, tenant, &name).await?;
    Ok(Reply::raw(
        StatusCode::OK,
        json!({"name": name, "environment_id": tenant.environment_id, "deleted": true}),
    ))
}
