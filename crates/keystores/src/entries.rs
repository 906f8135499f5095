//! Entries: reading a key (creating it with the keystore's empty structure when it does not
//! exist yet, as the reference documents), inserting, upserting and deleting one.
//!
//! Every write is one statement that reads the keystore's definition and writes the entry
//! together, so an entry never outlives its keystore or misses its type.

use crate::error::KeystoreError;
use crate::model::{EntryKey, EntryValue, KeystoreId, KeystoreType};
use chrono::{DateTime, Utc};
use flowline_core::Tenant;
use flowline_db::PgConnection;

/// How often a read retries creating a missing key that keeps being created and deleted
/// around it before giving up with a 409.
const READ_ATTEMPTS: usize = 4;

/// An entry as it was saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its keystore's type: what `value` is.
    pub data_type: KeystoreType,
    /// The value exactly as it was saved.
    pub value: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An entry that an upsert wrote, and whether the key was new.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    pub entry: Entry,
    pub created: bool,
}

/// Where an entry lives: its tenant, keystore and key.
#[derive(Debug, Clone, Copy)]
pub struct EntryAddress<'a> {
    pub tenant: Tenant,
    pub keystore_id: &'a KeystoreId,
    pub key: &'a EntryKey,
}

impl EntryAddress<'_> {
    fn unknown_keystore(&self) -> KeystoreError {
        KeystoreError::UnknownKeystore(self.keystore_id.to_string())
    }

    fn names(&self) -> (String, String) {
        (self.keystore_id.to_string(), self.key.to_string())
    }
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    data_type: String,
    value: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<EntryRow> for Entry {
    type Error = KeystoreError;

    fn try_from(row: EntryRow) -> Result<Entry, KeystoreError> {
        Ok(Entry {
            data_type: KeystoreType::from_stored(&row.data_type)?,
            value: row.value,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The keystore's type with the entry, if the key exists; `None` when the keystore does not.
#[derive(sqlx::FromRow)]
struct Lookup {
    data_type: String,
    value: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

/// Reads an entry. A key that does not exist yet is created with the keystore's empty
/// structure and returned. An existing key costs one statement and writes nothing; creating
/// one never overwrites a value written concurrently (`ON CONFLICT DO NOTHING`, then read
/// again).
#[tracing::instrument(skip_all, fields(org.id = %at.tenant.org_id, keystore.id = %at.keystore_id))]
pub async fn read(conn: &mut PgConnection, at: EntryAddress<'_>) -> Result<Entry, KeystoreError> {
    for _ in 0..READ_ATTEMPTS {
        let lookup: Option<Lookup> = sqlx::query_as(
            "SELECT k.data_type, e.value, e.created_at, e.updated_at FROM keystores k \
             LEFT JOIN keystore_entries e ON e.org_id = k.org_id \
             AND e.environment_id = k.environment_id AND e.keystore_id = k.keystore_id \
             AND e.key = $4 \
             WHERE k.org_id = $1 AND k.environment_id = $2 AND k.keystore_id = $3",
        )
        .bind(at.tenant.org_id)
        .bind(at.tenant.environment_id)
        .bind(at.keystore_id.as_str())
        .bind(at.key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let lookup = lookup.ok_or_else(|| at.unknown_keystore())?;
        if let (Some(value), Some(created_at), Some(updated_at)) =
            (lookup.value, lookup.created_at, lookup.updated_at)
        {
            return Ok(Entry {
                data_type: KeystoreType::from_stored(&lookup.data_type)?,
                value,
                created_at,
                updated_at,
            });
        }
        // The type is bound back so that the entry names the keystore's type as read.
        let created: Option<EntryRow> = sqlx::query_as(
            "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, \
             document) SELECT k.org_id, k.environment_id, k.keystore_id, $4, k.empty_value, \
             k.empty_document FROM keystores k \
             WHERE k.org_id = $1 AND k.environment_id = $2 AND k.keystore_id = $3 \
             AND k.data_type = $5 \
             ON CONFLICT DO NOTHING RETURNING $5 AS data_type, value, created_at, updated_at",
        )
        .bind(at.tenant.org_id)
        .bind(at.tenant.environment_id)
        .bind(at.keystore_id.as_str())
        .bind(at.key.as_str())
        .bind(&lookup.data_type)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = created {
            return row.try_into();
        }
        // Someone else created the key (or removed or replaced the keystore) in between: read
        // again.
    }
    let (keystore, key) = at.names();
    Err(KeystoreError::Contended { keystore, key })
}

/// Inserts an entry; 409 when the key exists.
#[tracing::instrument(skip_all, fields(org.id = %at.tenant.org_id, keystore.id = %at.keystore_id))]
pub async fn insert(
    conn: &mut PgConnection,
    at: EntryAddress<'_>,
    value: &EntryValue,
) -> Result<Entry, KeystoreError> {
    let inserted: Option<EntryRow> = sqlx::query_as(
        "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, document) \
         SELECT k.org_id, k.environment_id, k.keystore_id, $4, $5, $6 FROM keystores k \
         WHERE k.org_id = $1 AND k.environment_id = $2 AND k.keystore_id = $3 \
         AND k.data_type = $7 \
         ON CONFLICT DO NOTHING RETURNING $7 AS data_type, value, created_at, updated_at",
    )
    .bind(at.tenant.org_id)
    .bind(at.tenant.environment_id)
    .bind(at.keystore_id.as_str())
    .bind(at.key.as_str())
    .bind(value.text())
    .bind(value.document().map(sqlx::types::Json))
    .bind(value.data_type().as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(row) => row.try_into(),
        None => Err(why_not_written(conn, at, value).await),
    }
}

/// Writes an entry, creating the key or replacing its value.
#[tracing::instrument(skip_all, fields(org.id = %at.tenant.org_id, keystore.id = %at.keystore_id))]
pub async fn upsert(
    conn: &mut PgConnection,
    at: EntryAddress<'_>,
    value: &EntryValue,
) -> Result<Upserted, KeystoreError> {
    #[derive(sqlx::FromRow)]
    struct UpsertRow {
        #[sqlx(flatten)]
        entry: EntryRow,
        created: bool,
    }
    // `xmax = 0` tells a fresh row from an updated one (an updated row carries the updating
    // transaction's id there).
    let written: Option<UpsertRow> = sqlx::query_as(
        "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, document) \
         SELECT k.org_id, k.environment_id, k.keystore_id, $4, $5, $6 FROM keystores k \
         WHERE k.org_id = $1 AND k.environment_id = $2 AND k.keystore_id = $3 \
         AND k.data_type = $7 \
         ON CONFLICT (org_id, environment_id, keystore_id, key) DO UPDATE \
         SET value = EXCLUDED.value, document = EXCLUDED.document, updated_at = now() \
         RETURNING $7 AS data_type, value, created_at, updated_at, (xmax = 0) AS created",
    )
    .bind(at.tenant.org_id)
    .bind(at.tenant.environment_id)
    .bind(at.keystore_id.as_str())
    .bind(at.key.as_str())
    .bind(value.text())
    .bind(value.document().map(sqlx::types::Json))
    .bind(value.data_type().as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match written {
        Some(row) => Ok(Upserted {
            entry: row.entry.try_into()?,
            created: row.created,
        }),
        None => Err(why_not_written(conn, at, value).await),
    }
}

/// Writes many entries of one keystore in one statement, creating keys or replacing values;
/// returns how many were written. Values must be of `data_type`, the keystore's type as read
/// in the caller's transaction: a keystore removed or replaced since writes nothing, and the
/// caller sees fewer rows than entries. When a key comes more than once, its last value wins.
/// Keys are written in key order, so that two batches writing the same keys cannot deadlock.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, keystore.id = %keystore_id))]
pub async fn upsert_many(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
    data_type: KeystoreType,
    entries: &[(EntryKey, EntryValue)],
) -> Result<u64, KeystoreError> {
    let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
    let texts: Vec<&str> = entries.iter().map(|(_, value)| value.text()).collect();
    let documents: Vec<Option<String>> = entries
        .iter()
        .map(|(_, value)| value.document().map(|document| document.to_string()))
        .collect();
    let written = sqlx::query(
        "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, document) \
         SELECT k.org_id, k.environment_id, k.keystore_id, e.key, e.value, e.document::jsonb \
         FROM keystores k CROSS JOIN ( \
           SELECT DISTINCT ON (key) key, value, document \
           FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY \
             AS u(key, value, document, n) \
           ORDER BY key, n DESC) e \
         WHERE k.org_id = $1 AND k.environment_id = $2 AND k.keystore_id = $3 \
         AND k.data_type = $7 \
         ORDER BY e.key \
         ON CONFLICT (org_id, environment_id, keystore_id, key) DO UPDATE \
         SET value = EXCLUDED.value, document = EXCLUDED.document, updated_at = now()",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(keystore_id.as_str())
    .bind(&keys)
    .bind(&texts)
    .bind(&documents)
    .bind(data_type.as_str())
    .execute(conn)
    .await?;
    Ok(written.rows_affected())
}

/// Why a write wrote nothing: the keystore does not exist, its type is not the value's (it was
/// replaced since the value was checked), or — for an insert — the key exists.
async fn why_not_written(
    conn: &mut PgConnection,
    at: EntryAddress<'_>,
    value: &EntryValue,
) -> KeystoreError {
    let found: Result<Option<(String, bool)>, sqlx::Error> = sqlx::query_as(
        "SELECT k.data_type, EXISTS (SELECT 1 FROM keystore_entries e WHERE e.org_id = k.org_id \
         AND e.environment_id = k.environment_id AND e.keystore_id = k.keystore_id \
         AND e.key = $4) FROM keystores k \
         WHERE k.org_id = $1 AND k.environment_id = $2 AND k.keystore_id = $3",
    )
    .bind(at.tenant.org_id)
    .bind(at.tenant.environment_id)
    .bind(at.keystore_id.as_str())
    .bind(at.key.as_str())
    .fetch_optional(conn)
    .await;
    match found {
        Err(error) => KeystoreError::Database(error),
        Ok(None) => at.unknown_keystore(),
        Ok(Some((data_type, _))) if data_type != value.data_type().as_str() => {
            KeystoreError::invalid(
                "body",
                format!("keystore '{}' holds {data_type} values", at.keystore_id),
            )
        }
        Ok(Some(_)) => {
            let (keystore, key) = at.names();
            KeystoreError::KeyExists { keystore, key }
        }
    }
}

/// Deletes an entry; 404 when the keystore or the key does not exist.
#[tracing::instrument(skip_all, fields(org.id = %at.tenant.org_id, keystore.id = %at.keystore_id))]
pub async fn delete(conn: &mut PgConnection, at: EntryAddress<'_>) -> Result<(), KeystoreError> {
    // The keystore's existence and the deletion in one statement, so that the 404 names the
    // right thing.
    let (keystore_exists, deleted): (bool, bool) = sqlx::query_as(
        "WITH gone AS (DELETE FROM keystore_entries WHERE org_id = $1 AND environment_id = $2 \
         AND keystore_id = $3 AND key = $4 RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM keystores WHERE org_id = $1 AND environment_id = $2 \
         AND keystore_id = $3), EXISTS (SELECT 1 FROM gone)",
    )
    .bind(at.tenant.org_id)
    .bind(at.tenant.environment_id)
    .bind(at.keystore_id.as_str())
    .bind(at.key.as_str())
    .fetch_one(conn)
    .await?;
    match (keystore_exists, deleted) {
        (_, true) => Ok(()),
        (false, false) => Err(at.unknown_keystore()),
        (true, false) => {
            let (keystore, key) = at.names();
            Err(KeystoreError::UnknownKey { keystore, key })
        }
    }
}
