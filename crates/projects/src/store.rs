//! Projects and their versions in PostgreSQL: creating a version from a checked [`Bundle`], and
//! reading one back for a deploy.

use crate::bundle::{Bundle, SiteFile};
use crate::model::{ProjectId, SiteKind};
use flowline_core::{Error, OrgId};
use flowline_db::PgConnection;
use serde::Serialize;
use serde_json::Value;
use sqlx::Connection;

/// A version just created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedVersion {
    pub project_id: ProjectId,
    pub name: String,
    pub version: i32,
    /// Whether the project itself was new.
    pub created: bool,
}

/// Stores `bundle` as the next version of the organization's project of its name (created at
/// version 1 when there is none), in one transaction.
#[tracing::instrument(skip_all, fields(org.id = %org_id))]
pub async fn create_version(
    conn: &mut PgConnection,
    org_id: OrgId,
    bundle: &Bundle,
) -> Result<CreatedVersion, Error> {
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO projects (org_id, name) VALUES ($1, $2) \
         ON CONFLICT ON CONSTRAINT projects_name_key DO NOTHING",
    )
    .bind(org_id)
    .bind(&bundle.name)
    .execute(&mut *tx)
    .await?;
    // Locked, so that two versions of one project are numbered one after the other.
    let (project_id, latest): (ProjectId, i32) = sqlx::query_as(
        "SELECT project_id, latest_version FROM projects WHERE org_id = $1 AND name = $2 \
         FOR UPDATE",
    )
    .bind(org_id)
    .bind(&bundle.name)
    .fetch_one(&mut *tx)
    .await?;
    let version = latest + 1;
    let flows = Value::Array(bundle.flows.iter().map(|flow| flow.to_json()).collect());
    sqlx::query(
        "INSERT INTO project_versions (org_id, project_id, version, flows) VALUES ($1, $2, $3, $4)",
    )
    .bind(org_id)
    .bind(project_id)
    .bind(version)
    .bind(sqlx::types::Json(flows))
    .execute(&mut *tx)
    .await?;
    let at = VersionRef {
        org_id,
        project_id,
        version,
    };
    insert_keystores(&mut tx, at, bundle).await?;
    insert_tables(&mut tx, at, bundle).await?;
    insert_files(&mut tx, at, &bundle.files).await?;
    sqlx::query(
        "UPDATE projects SET latest_version = $3, updated_at = now() \
         WHERE org_id = $1 AND project_id = $2",
    )
    .bind(org_id)
    .bind(project_id)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CreatedVersion {
        project_id,
        name: bundle.name.clone(),
        version,
        created: version == 1,
    })
}

/// One version of one project of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRef {
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub version: i32,
}

async fn insert_keystores(
    conn: &mut PgConnection,
    at: VersionRef,
    bundle: &Bundle,
) -> Result<(), Error> {
    for keystore in &bundle.keystores {
        let entries: Vec<[&str; 2]> = keystore
            .entries
            .iter()
            .map(|(key, value)| [key.as_str(), value.as_str()])
            .collect();
        sqlx::query(
            "INSERT INTO project_keystores (org_id, project_id, version, keystore_id, data_type, \
             empty_value, entries) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(at.org_id)
        .bind(at.project_id)
        .bind(at.version)
        .bind(keystore.keystore_id.as_str())
        .bind(keystore.data_type.as_str())
        .bind(keystore.empty.as_deref())
        .bind(sqlx::types::Json(entries))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_tables(
    conn: &mut PgConnection,
    at: VersionRef,
    bundle: &Bundle,
) -> Result<(), Error> {
    for table in &bundle.tables {
        sqlx::query(
            "INSERT INTO project_tables (org_id, project_id, version, name, columns, rows) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(at.org_id)
        .bind(at.project_id)
        .bind(at.version)
        .bind(table.name.as_str())
        .bind(sqlx::types::Json(&table.columns))
        .bind(sqlx::types::Json(&table.rows))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_files(
    conn: &mut PgConnection,
    at: VersionRef,
    files: &[SiteFile],
) -> Result<(), Error> {
    for file in files {
        // Content is stored once per organization, whatever the versions that hold it.
        sqlx::query(
            "INSERT INTO project_blobs (org_id, content_hash, content) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(at.org_id)
        .bind(&file.hash[..])
        .bind(&file.content)
        .execute(&mut *conn)
        .await?;
    }
    let kinds: Vec<&str> = files.iter().map(|file| file.kind.as_str()).collect();
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
    let types: Vec<&str> = files
        .iter()
        .map(|file| file.content_type.as_str())
        .collect();
    let hashes: Vec<&[u8]> = files.iter().map(|file| &file.hash[..]).collect();
    sqlx::query(
        "INSERT INTO project_files (org_id, project_id, version, kind, name, path, content_type, \
         content_hash) SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], \
         $7::text[], $8::bytea[])",
    )
    .bind(at.org_id)
    .bind(at.project_id)
    .bind(at.version)
    .bind(&kinds)
    .bind(&names)
    .bind(&paths)
    .bind(&types)
    .bind(&hashes)
    .execute(conn)
    .await?;
    Ok(())
}

/// A project of an organization: its name and latest version.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectRow {
    pub project_id: ProjectId,
    pub name: String,
    pub latest_version: i32,
}

pub(crate) fn unknown_project(project_id: ProjectId) -> Error {
    Error::not_found(format!("Project {project_id} does not exist"))
}

/// The organization's project `project_id`; 404 when it has none.
pub async fn project(
    conn: &mut PgConnection,
    org_id: OrgId,
    project_id: ProjectId,
) -> Result<ProjectRow, Error> {
    sqlx::query_as(
        "SELECT project_id, name, latest_version FROM projects \
         WHERE org_id = $1 AND project_id = $2",
    )
    .bind(org_id)
    .bind(project_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| unknown_project(project_id))
}

/// A stored version's content, as a deploy reads it.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub flows: Vec<Value>,
    pub keystores: Vec<StoredKeystore>,
    pub tables: Vec<StoredTable>,
    /// `(kind, name)` of each website and hosted page.
    pub sites: Vec<(SiteKind, String)>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKeystore {
    pub keystore_id: String,
    pub data_type: String,
    pub empty_value: Option<String>,
    pub entries: sqlx::types::Json<Vec<(String, String)>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredTable {
    pub name: String,
    pub columns: sqlx::types::Json<Value>,
    pub rows: sqlx::types::Json<Vec<Value>>,
}

/// Reads a version whole (but its files' bytes).
pub async fn load_version(conn: &mut PgConnection, at: VersionRef) -> Result<StoredVersion, Error> {
    let flows: Option<sqlx::types::Json<Vec<Value>>> = sqlx::query_scalar(
        "SELECT flows FROM project_versions WHERE org_id = $1 AND project_id = $2 AND version = $3",
    )
    .bind(at.org_id)
    .bind(at.project_id)
    .bind(at.version)
    .fetch_optional(&mut *conn)
    .await?;
    let flows = flows
        .ok_or_else(|| {
            Error::not_found(format!(
                "Project {} has no version {}",
                at.project_id, at.version
            ))
        })?
        .0;
    let keystores: Vec<StoredKeystore> = sqlx::query_as(
        "SELECT keystore_id, data_type, empty_value, entries FROM project_keystores \
         WHERE org_id = $1 AND project_id = $2 AND version = $3 ORDER BY keystore_id",
    )
    .bind(at.org_id)
    .bind(at.project_id)
    .bind(at.version)
    .fetch_all(&mut *conn)
    .await?;
    let tables: Vec<StoredTable> = sqlx::query_as(
        "SELECT name, columns, rows FROM project_tables \
         WHERE org_id = $1 AND project_id = $2 AND version = $3 ORDER BY name",
    )
    .bind(at.org_id)
    .bind(at.project_id)
    .bind(at.version)
    .fetch_all(&mut *conn)
    .await?;
    let sites: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT kind, name FROM project_files \
         WHERE org_id = $1 AND project_id = $2 AND version = $3 ORDER BY kind, name",
    )
    .bind(at.org_id)
    .bind(at.project_id)
    .bind(at.version)
    .fetch_all(&mut *conn)
    .await?;
    let sites = sites
        .into_iter()
        .map(|(kind, name)| Ok((SiteKind::from_stored(&kind)?, name)))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(StoredVersion {
        flows,
        keystores,
        tables,
        sites,
    })
}
