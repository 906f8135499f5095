//! Compiled schemas kept between requests: compiling a JSON Schema costs far more than the
//! one-row lookup that tells whether the stored schema changed.

use crate::definition::CompiledSchema;
use chrono::{DateTime, Utc};
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An environment's data schema as one lookup saw it: `version` is the stored schema's
/// modification time, `None` when the environment has no schema.
#[derive(Debug, Clone, Default)]
pub struct SchemaState {
    pub version: Option<DateTime<Utc>>,
    pub compiled: Option<Arc<CompiledSchema>>,
}

impl SchemaState {
    /// Checks a record against the schema, when there is one.
    pub fn validate(&self, field: &str, record: &serde_json::Value) -> Result<(), Error> {
        match &self.compiled {
            Some(schema) => schema.validate(field, record),
            None => Ok(()),
        }
    }
}

/// The schema state of each environment last seen by this process. A state may be stale: a
/// writer that relies on [`SchemaCache::last_seen`] must check, in the statement that stores
/// its records, that the stored schema still has the version it validated against.
#[derive(Debug, Default)]
pub struct SchemaCache {
    states: Mutex<HashMap<Tenant, SchemaState>>,
}

impl SchemaCache {
    pub fn new() -> SchemaCache {
        SchemaCache::default()
    }

    /// The state this process last saw, without a database round trip; `None` when it has
    /// not looked yet.
    pub fn last_seen(&self, tenant: Tenant) -> Option<SchemaState> {
        self.states.lock().ok()?.get(&tenant).cloned()
    }

    /// The environment's schema as the connection sees it now, compiled only if it changed
    /// since this process last compiled it.
    pub async fn refresh(
        &self,
        conn: &mut PgConnection,
        tenant: Tenant,
    ) -> Result<SchemaState, Error> {
        let version: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT modified_at FROM data_schemas WHERE org_id = $1 AND environment_id = $2",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .fetch_optional(&mut *conn)
        .await?;
        let state = match version {
            None => SchemaState::default(),
            Some(version) => match self.last_seen(tenant) {
                Some(seen) if seen.version == Some(version) => seen,
                _ => compile_stored_schema(conn, tenant).await?,
            },
        };
        if let Ok(mut states) = self.states.lock() {
            states.insert(tenant, state.clone());
        }
        Ok(state)
    }

    /// The environment's compiled schema, if it has one, as the connection sees it now.
    pub async fn current(
        &self,
        conn: &mut PgConnection,
        tenant: Tenant,
    ) -> Result<Option<Arc<CompiledSchema>>, Error> {
        Ok(self.refresh(conn, tenant).await?.compiled)
    }
}

/// Compiles the stored schema, with the version of the very text compiled (it may have
/// changed again since its version was first read).
async fn compile_stored_schema(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<SchemaState, Error> {
    let row: Option<(DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT modified_at, schema_text FROM data_schemas \
         WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => SchemaState::default(),
        Some((modified_at, text)) => SchemaState {
            version: Some(modified_at),
            compiled: Some(Arc::new(compile_stored(&text)?)),
        },
    })
}

pub(crate) fn compile_stored(text: &str) -> Result<CompiledSchema, Error> {
    let schema = serde_json::from_str(text)
        .map_err(|error| Error::internal(format!("stored schema is not JSON: {error}")))?;
    CompiledSchema::compile("schema", &schema)
}
