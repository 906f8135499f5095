//! Reading a flow whole: what `GET /v1/flowdiagram` shows.

use chrono::{DateTime, Utc};
use flowline_core::{Error, Tenant};
use serde_json::Value;
use sqlx::PgConnection;

use super::lookup::{FlowStatus, find};

/// A flow as its authors see it: its current published definition, its pending draft and the
/// list of its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowView {
    pub flow_id: i64,
    pub name: String,
    /// The current version's description, or the draft's while the flow was never published.
    pub description: String,
    pub status: FlowStatus,
    pub current_version: Option<i32>,
    /// The definition of `current_version`.
    pub current_definition: Option<Value>,
    /// The definition saved since the last publication, waiting to be published.
    pub draft: Option<Value>,
    pub versions: Vec<FlowVersionInfo>,
    /// The organization's name (Flowize's `customer`).
    pub customer: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// One published version, without its definition.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FlowVersionInfo {
    pub version: i32,
    pub published_at: DateTime<Utc>,
    /// The `app_key` of the application that published it; `None` when an operator did, or when
    /// the application is gone.
    pub published_by: Option<String>,
}

/// The 404 of a flow that the tenant does not have.
pub(crate) fn unknown_flow(reference: &str) -> Error {
    Error::not_found(format!("Flow diagram '{reference}' doesn't exist"))
}

/// The flow a client names (`X-Flow`: a name or an id), whole.
pub async fn get(
    conn: &mut PgConnection,
    tenant: Tenant,
    reference: &str,
) -> Result<FlowView, Error> {
    let summary = find(conn, tenant, reference, false)
        .await?
        .ok_or_else(|| unknown_flow(reference))?;
    load(conn, tenant, summary.flow_id)
        .await?
        .ok_or_else(|| unknown_flow(reference))
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    flow_id: i64,
    name: String,
    description: String,
    status: String,
    current_version: Option<i32>,
    current_definition: Option<Value>,
    draft: Option<Value>,
    customer: String,
    created_at: DateTime<Utc>,
    modified_at: DateTime<Utc>,
}

/// The flow with this id, whole, if the tenant owns it.
pub(crate) async fn load(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
) -> Result<Option<FlowView>, Error> {
    let row: Option<ViewRow> = sqlx::query_as(concat!(
        "SELECT f.flow_id, f.name, f.description, f.status, f.current_version, ",
        "v.definition AS current_definition, f.draft, o.name AS customer, f.created_at, ",
        "f.modified_at ",
        "FROM flows f JOIN organizations o ON o.org_id = f.org_id ",
        "LEFT JOIN flow_versions v ON v.org_id = f.org_id AND v.flow_id = f.flow_id ",
        "AND v.version = f.current_version ",
        "WHERE f.org_id = $1 AND f.environment_id = $2 AND f.flow_id = $3"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status = FlowStatus::parse(&row.status)
        .ok_or_else(|| Error::internal(format!("unknown flow status '{}'", row.status)))?;
    let versions = versions(conn, tenant, flow_id).await?;
    Ok(Some(FlowView {
        flow_id: row.flow_id,
        name: row.name,
        description: row.description,
        status,
        current_version: row.current_version,
        current_definition: row.current_definition,
        draft: row.draft,
        versions,
        customer: row.customer,
        created_at: row.created_at,
        modified_at: row.modified_at,
    }))
}

/// Every published version of a flow, oldest first.
async fn versions(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
) -> Result<Vec<FlowVersionInfo>, Error> {
    Ok(sqlx::query_as(concat!(
        "SELECT v.version, v.published_at, a.app_key AS published_by ",
        "FROM flow_versions v LEFT JOIN applications a ",
        "ON a.org_id = v.org_id AND a.app_id = v.published_by ",
        "WHERE v.org_id = $1 AND v.environment_id = $2 AND v.flow_id = $3 ",
        "ORDER BY v.version"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .fetch_all(conn)
    .await?)
}
