//! Keystore definitions: a name, a type and an empty structure per keystore of an environment.

use crate::error::KeystoreError;
use crate::model::{EntryValue, KeystoreId, KeystoreType};
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, OrgId, Tenant};
use flowline_db::PgConnection;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// What creating a keystore takes, already validated.
#[derive(Debug, Clone)]
pub struct NewKeystore {
    pub keystore_id: KeystoreId,
    pub data_type: KeystoreType,
    /// The structure new keys start with; the type's default (`{}`, `<data/>`, empty text)
    /// when `None`. It must be of `data_type` (see [`EntryValue::parse`]).
    pub empty: Option<EntryValue>,
}

/// A keystore definition as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keystore {
    pub keystore_id: KeystoreId,
    #[serde(rename = "type")]
    pub data_type: KeystoreType,
    /// The empty structure: a JSON keystore's as its JSON value, the others' as their text.
    pub empty: Value,
    pub environment_id: EnvironmentId,
    #[serde(serialize_with = "api_date")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "api_date")]
    pub updated_at: DateTime<Utc>,
}

fn api_date<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&flowline_core::time::api_date(*at))
}

#[derive(sqlx::FromRow)]
struct KeystoreRow {
    keystore_id: String,
    data_type: String,
    empty_value: String,
    environment_id: EnvironmentId,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<KeystoreRow> for Keystore {
    type Error = KeystoreError;

    fn try_from(row: KeystoreRow) -> Result<Keystore, KeystoreError> {
        let data_type = KeystoreType::from_stored(&row.data_type)?;
        // The stored text parsed again rather than the jsonb, whose keys PostgreSQL reorders.
        let empty = match data_type {
            KeystoreType::Json => serde_json::from_str(&row.empty_value)
                .map_err(|error| KeystoreError::Database(sqlx::Error::Decode(error.into())))?,
            KeystoreType::Xml | KeystoreType::Raw => Value::String(row.empty_value),
        };
        Ok(Keystore {
            keystore_id: KeystoreId::parse(&row.keystore_id, "keystore_id")?,
            data_type,
            empty,
            environment_id: row.environment_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The columns a [`KeystoreRow`] reads, as a literal for `concat!`.
macro_rules! columns {
    () => {
        "keystore_id, data_type, empty_value, environment_id, created_at, updated_at"
    };
}

/// The empty structure to store: the given one, or the type's default.
fn empty_of(data_type: KeystoreType, empty: Option<&EntryValue>) -> (String, Option<Value>) {
    match empty {
        Some(value) => (value.text().to_owned(), value.document().cloned()),
        None => {
            let text = data_type.default_empty();
            let document = match data_type {
                KeystoreType::Json => Some(Value::Object(serde_json::Map::new())),
                // What the gateway's XML reader makes of `<data/>`: an element without children
                // is its text.
                KeystoreType::Xml => Some(Value::String(String::new())),
                KeystoreType::Raw => None,
            };
            (text.to_owned(), document)
        }
    }
}

fn check_type(data_type: KeystoreType, empty: Option<&EntryValue>) -> Result<(), KeystoreError> {
    match empty {
        Some(value) if value.data_type() != data_type => Err(KeystoreError::invalid(
            "empty",
            format!("must be {} like the keystore", data_type.as_str()),
        )),
        _ => Ok(()),
    }
}

/// Creates a keystore in the tenant's environment; 409 when it has one of that name.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, keystore.id = %new.keystore_id))]
pub async fn create(
    conn: &mut PgConnection,
    tenant: Tenant,
    new: &NewKeystore,
) -> Result<Keystore, KeystoreError> {
    check_type(new.data_type, new.empty.as_ref())?;
    let (empty_value, empty_document) = empty_of(new.data_type, new.empty.as_ref());
    let row: Option<KeystoreRow> = sqlx::query_as(concat!(
        "INSERT INTO keystores (org_id, environment_id, keystore_id, data_type, empty_value,",
        " empty_document) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING ",
        columns!()
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(new.keystore_id.as_str())
    .bind(new.data_type.as_str())
    .bind(empty_value)
    .bind(empty_document.map(sqlx::types::Json))
    .fetch_optional(conn)
    .await?;
    row.ok_or_else(|| KeystoreError::KeystoreExists(new.keystore_id.to_string()))?
        .try_into()
}

/// The keystores of the tenant's environment, by name.
pub async fn list(conn: &mut PgConnection, tenant: Tenant) -> Result<Vec<Keystore>, KeystoreError> {
    select(conn, tenant.org_id, Some(tenant.environment_id), None).await
}

/// Every keystore of an organization, in all its environments (for operators).
pub async fn list_for_org(
    conn: &mut PgConnection,
    org_id: OrgId,
) -> Result<Vec<Keystore>, KeystoreError> {
    select(conn, org_id, None, None).await
}

/// One keystore of the tenant's environment.
pub async fn get(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
) -> Result<Keystore, KeystoreError> {
    select(
        conn,
        tenant.org_id,
        Some(tenant.environment_id),
        Some(keystore_id),
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| KeystoreError::UnknownKeystore(keystore_id.to_string()))
}

async fn select(
    conn: &mut PgConnection,
    org_id: OrgId,
    environment: Option<EnvironmentId>,
    keystore_id: Option<&KeystoreId>,
) -> Result<Vec<Keystore>, KeystoreError> {
    let rows: Vec<KeystoreRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM keystores WHERE org_id = $1 AND ($2::bigint IS NULL OR environment_id = $2)",
        " AND ($3::text IS NULL OR keystore_id = $3) ORDER BY environment_id, keystore_id"
    ))
    .bind(org_id)
    .bind(environment)
    .bind(keystore_id.map(KeystoreId::as_str))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Keystore::try_from).collect()
}

/// The type of a keystore of the tenant's environment: what a value written to it must be.
pub async fn data_type(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
) -> Result<KeystoreType, KeystoreError> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT data_type FROM keystores WHERE org_id = $1 AND environment_id = $2 \
         AND keystore_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(keystore_id.as_str())
    .fetch_optional(conn)
    .await?;
    match stored {
        Some(text) => KeystoreType::from_stored(&text),
        None => Err(KeystoreError::UnknownKeystore(keystore_id.to_string())),
    }
}

/// Replaces a keystore's empty structure (its type never changes: its entries were checked
/// against it). Keys created from then on start with the new structure; existing ones keep
/// their values.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, keystore.id = %keystore_id))]
pub async fn set_empty(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
    empty: Option<&EntryValue>,
) -> Result<Keystore, KeystoreError> {
    let data_type = data_type(&mut *conn, tenant, keystore_id).await?;
    check_type(data_type, empty)?;
    let (empty_value, empty_document) = empty_of(data_type, empty);
    let row: Option<KeystoreRow> = sqlx::query_as(concat!(
        "UPDATE keystores SET empty_value = $4, empty_document = $5, updated_at = now()",
        " WHERE org_id = $1 AND environment_id = $2 AND keystore_id = $3 AND data_type = $6",
        " RETURNING ",
        columns!()
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(keystore_id.as_str())
    .bind(empty_value)
    .bind(empty_document.map(sqlx::types::Json))
    .bind(data_type.as_str())
    .fetch_optional(conn)
    .await?;
    // No row: the keystore was removed (or replaced) since its type was read.
    row.ok_or_else(|| KeystoreError::UnknownKeystore(keystore_id.to_string()))?
        .try_into()
}

/// Removes a keystore and all its entries.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, keystore.id = %keystore_id))]
pub async fn delete(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
) -> Result<(), KeystoreError> {
    let deleted = sqlx::query(
        "DELETE FROM keystores WHERE org_id = $1 AND environment_id = $2 AND keystore_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(keystore_id.as_str())
    .execute(conn)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(KeystoreError::UnknownKeystore(keystore_id.to_string()));
    }
    Ok(())
}
