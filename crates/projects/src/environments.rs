//! The projects an environment holds: which version of each, since when; and removing one.

use crate::model::ProjectId;
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, Error, OrgId, Tenant};
use flowline_db::PgConnection;
use serde::{Serialize, Serializer};
use sqlx::Connection;

pub(crate) fn unknown_environment(environment_id: EnvironmentId) -> Error {
    Error::not_found(format!("Environment {environment_id} does not exist"))
}

/// Whether the organization has the environment.
pub async fn exists(conn: &mut PgConnection, tenant: Tenant) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM environments WHERE org_id = $1 AND environment_id = $2)",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_one(conn)
    .await?)
}

/// Locks the organization's environment for a change of its projects (404 when it has none),
/// until the caller's transaction ends.
pub(crate) async fn lock_environment(
    conn: &mut PgConnection,
    org_id: OrgId,
    environment_id: EnvironmentId,
) -> Result<(), Error> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM environments WHERE org_id = $1 AND environment_id = $2 \
         FOR NO KEY UPDATE",
    )
    .bind(org_id)
    .bind(environment_id)
    .fetch_optional(conn)
    .await?;
    found
        .map(|_| ())
        .ok_or_else(|| unknown_environment(environment_id))
}

/// The version of the project the environment holds, if it holds it.
pub async fn deployed_version(
    conn: &mut PgConnection,
    tenant: Tenant,
    project_id: ProjectId,
) -> Result<Option<i32>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT version FROM environment_projects \
         WHERE org_id = $1 AND environment_id = $2 AND project_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(project_id)
    .fetch_optional(conn)
    .await?)
}

/// A project an environment holds, as `GET /v1/environment/{id}/projects` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HostedProject {
    /// The reference shows ids as strings.
    #[serde(rename = "id", serialize_with = "as_text")]
    pub project_id: ProjectId,
    pub name: String,
    pub version: i32,
    /// When the project was first deployed in the environment.
    #[serde(rename = "date_created", serialize_with = "api_date")]
    pub created_at: DateTime<Utc>,
    /// When it was last deployed.
    #[serde(rename = "date_updated", serialize_with = "api_date")]
    pub updated_at: DateTime<Utc>,
}

fn as_text<S: Serializer>(id: &ProjectId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&id.to_string())
}

fn api_date<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&flowline_core::time::api_date(*at))
}

/// The projects the organization's environment holds, by id; 404 when it has no such
/// environment.
pub async fn hosted_projects(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<Vec<HostedProject>, Error> {
    if !exists(conn, tenant).await? {
        return Err(unknown_environment(tenant.environment_id));
    }
    Ok(sqlx::query_as(
        "SELECT e.project_id, p.name, e.version, e.created_at, e.updated_at \
         FROM environment_projects e JOIN projects p \
         ON p.org_id = e.org_id AND p.project_id = e.project_id \
         WHERE e.org_id = $1 AND e.environment_id = $2 ORDER BY e.project_id",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_all(conn)
    .await?)
}

/// The ids of the projects the environment holds (the `projects` of an environment object).
pub async fn hosted_project_ids(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<Vec<ProjectId>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT project_id FROM environment_projects WHERE org_id = $1 AND environment_id = $2 \
         ORDER BY project_id",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_all(conn)
    .await?)
}

/// Removes the project from the environment: the record of its deployment, its websites and
/// hosted pages, and the URLs that mapped them. The flows, keystores and tables it brought stay:
/// they are the environment's runtime data now (records may be running through the flows,
/// other projects may share the tables).
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, environment.id = %tenant.environment_id, project.id = %project_id))]
pub async fn remove_project(
    conn: &mut PgConnection,
    tenant: Tenant,
    project_id: ProjectId,
) -> Result<(), Error> {
    let mut tx = conn.begin().await?;
    lock_environment(&mut tx, tenant.org_id, tenant.environment_id).await?;
    crate::store::project(&mut tx, tenant.org_id, project_id).await?;
    // The site files and URL mappings go with it (ON DELETE CASCADE).
    let removed = sqlx::query(
        "DELETE FROM environment_projects \
         WHERE org_id = $1 AND environment_id = $2 AND project_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(project_id)
    .execute(&mut *tx)
    .await?;
    if removed.rows_affected() == 0 {
        return Err(Error::not_found(format!(
            "Project {project_id} is not in environment {}",
            tenant.environment_id
        )));
    }
    tx.commit().await?;
    Ok(())
}
