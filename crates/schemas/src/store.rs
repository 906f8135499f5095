//! The `data_schemas` table: one schema per environment of an organization.

use crate::definition::{CompiledSchema, SchemaDefinition};
use chrono::{DateTime, Utc};
use flowline_core::{Error, Principal};
use flowline_db::PgConnection;

/// When a schema was created and last modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaTimes {
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    pub url: String,
    pub schema_text: String,
    pub times: SchemaTimes,
    /// The organization's name (Flowize's `customer`).
    pub customer: String,
}

fn no_schema() -> Error {
    Error::not_found("No data schema has been created yet")
}

pub async fn create(
    conn: &mut PgConnection,
    principal: &Principal,
    definition: &SchemaDefinition,
) -> Result<SchemaTimes, Error> {
    let created: Option<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "INSERT INTO data_schemas (org_id, environment_id, schema_text, data_record_text, url) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, environment_id) DO NOTHING \
         RETURNING created_at, modified_at",
    )
    .bind(principal.org_id)
    .bind(principal.environment_id)
    .bind(&definition.schema_text)
    .bind(&definition.data_record_text)
    .bind(&definition.url)
    .fetch_optional(conn)
    .await?;
    let (created_at, modified_at) = created.ok_or_else(|| {
        Error::conflict("A data schema already exists: update it with PUT /v1/schema")
    })?;
    Ok(SchemaTimes {
        created_at,
        modified_at,
    })
}

#[derive(sqlx::FromRow)]
struct StoredSchemaRow {
    url: String,
    schema_text: String,
    created_at: DateTime<Utc>,
    modified_at: DateTime<Utc>,
    customer: String,
}

pub async fn get(conn: &mut PgConnection, principal: &Principal) -> Result<StoredSchema, Error> {
    let row: Option<StoredSchemaRow> = sqlx::query_as(
        "SELECT s.url, s.schema_text, s.created_at, s.modified_at, o.name AS customer \
         FROM data_schemas s JOIN organizations o ON o.org_id = s.org_id \
         WHERE s.org_id = $1 AND s.environment_id = $2",
    )
    .bind(principal.org_id)
    .bind(principal.environment_id)
    .fetch_optional(conn)
    .await?;
    let row = row.ok_or_else(no_schema)?;
    Ok(StoredSchema {
        url: row.url,
        schema_text: row.schema_text,
        times: SchemaTimes {
            created_at: row.created_at,
            modified_at: row.modified_at,
        },
        customer: row.customer,
    })
}

pub async fn update(
    conn: &mut PgConnection,
    principal: &Principal,
    definition: &SchemaDefinition,
) -> Result<SchemaTimes, Error> {
    let updated: Option<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "UPDATE data_schemas SET schema_text = $3, data_record_text = $4, url = $5, \
         modified_at = now() WHERE org_id = $1 AND environment_id = $2 \
         RETURNING created_at, modified_at",
    )
    .bind(principal.org_id)
    .bind(principal.environment_id)
    .bind(&definition.schema_text)
    .bind(&definition.data_record_text)
    .bind(&definition.url)
    .fetch_optional(conn)
    .await?;
    let (created_at, modified_at) = updated.ok_or_else(no_schema)?;
    Ok(SchemaTimes {
        created_at,
        modified_at,
    })
}

pub async fn delete(conn: &mut PgConnection, principal: &Principal) -> Result<(), Error> {
    let deleted = sqlx::query("DELETE FROM data_schemas WHERE org_id = $1 AND environment_id = $2")
        .bind(principal.org_id)
        .bind(principal.environment_id)
        .execute(conn)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(no_schema());
    }
    Ok(())
}

/// The environment's compiled schema, if it has one: what records are validated against.
pub async fn load_compiled(
    conn: &mut PgConnection,
    principal: &Principal,
) -> Result<Option<CompiledSchema>, Error> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT schema_text FROM data_schemas WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(principal.org_id)
    .bind(principal.environment_id)
    .fetch_optional(conn)
    .await?;
    let Some(text) = text else {
        return Ok(None);
    };
    crate::cache::compile_stored(&text).map(Some)
}
