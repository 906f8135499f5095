//! Compiled schemas kept between requests: compiling a JSON Schema costs far more than the
//! one-row lookup that tells whether the stored schema changed.

use crate::definition::CompiledSchema;
use chrono::{DateTime, Utc};
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A compiled schema and the modification time of the text it was compiled from.
type Entry = (DateTime<Utc>, Arc<CompiledSchema>);

/// The compiled schema of each environment, keyed by when it was last modified, so that an
/// update made by any server process is seen by the next lookup.
#[derive(Debug, Default)]
pub struct SchemaCache {
    compiled: Mutex<HashMap<Tenant, Entry>>,
}

impl SchemaCache {
    pub fn new() -> SchemaCache {
        SchemaCache::default()
    }

    /// The environment's schema as the connection's transaction sees it, if it has one.
    pub async fn current(
        &self,
        conn: &mut PgConnection,
        tenant: Tenant,
    ) -> Result<Option<Arc<CompiledSchema>>, Error> {
        let modified_at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT modified_at FROM data_schemas WHERE org_id = $1 AND environment_id = $2",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(modified_at) = modified_at else {
            return Ok(None);
        };
        if let Some(schema) = self.cached(tenant, modified_at) {
            return Ok(Some(schema));
        }
        let text: Option<String> = sqlx::query_scalar(
            "SELECT schema_text FROM data_schemas WHERE org_id = $1 AND environment_id = $2",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(text) = text else {
            return Ok(None);
        };
        let schema = Arc::new(compile_stored(&text)?);
        if let Ok(mut compiled) = self.compiled.lock() {
            compiled.insert(tenant, (modified_at, schema.clone()));
        }
        Ok(Some(schema))
    }

    fn cached(&self, tenant: Tenant, modified_at: DateTime<Utc>) -> Option<Arc<CompiledSchema>> {
        let compiled = self.compiled.lock().ok()?;
        let (cached_at, schema) = compiled.get(&tenant)?;
        (*cached_at == modified_at).then(|| schema.clone())
    }
}

pub(crate) fn compile_stored(text: &str) -> Result<CompiledSchema, Error> {
    let schema = serde_json::from_str(text)
        .map_err(|error| Error::internal(format!("stored schema is not JSON: {error}")))?;
    CompiledSchema::compile("schema", &schema)
}
