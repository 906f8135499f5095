//! Keystores: the reference's `/v1/keystore/{keystore_id}/{keystore_key}` (read, insert,
//! upsert, delete an entry) and `POST /v1/keystore/{keystore_id}` (search), scope `keystore`;
//! the definitions of keystores — `/v1/keystores` for applications (a Flowline extension whose
//! paths cannot collide with the reference's), `/admin/v1/orgs/{org}/keystores` for operators.
//!
//! An entry is answered as the data itself, not in an envelope, in the format the request asks
//! for: JSON, XML or plain text (`Accept` first, then `Content-Type`, as the reference has the
//! client choose with `Content-Type`), else the keystore's own format. A value sent is read by
//! the keystore's type whatever its `Content-Type`, since the reference lets that header choose
//! the answer's format.

use crate::authn::{Auth, KeystoreRead, KeystoreWrite};
use crate::error::ApiError;
use crate::format::{Format, XML_ROOT, from_xml, media_format, to_xml};
use crate::payload::{Payload, parse_body};
use crate::reply::{Envelope, Reply};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Query, State};
use flowline_core::{EnvironmentId, Error, ErrorKind, OrgId, Tenant};
use flowline_keystores::{
    Entry, EntryAddress, EntryKey, EntryValue, KeystoreError, KeystoreId, KeystoreType,
    NewKeystore, Search, definitions, entries,
};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

impl From<KeystoreError> for ApiError {
    fn from(error: KeystoreError) -> ApiError {
        ApiError(Error::from(error))
    }
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The format an entry is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryFormat {
    Json,
    Xml,
    Text,
}

fn media_entry_format(media: &str) -> Option<EntryFormat> {
    let essence = media.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("text/plain") {
        return Some(EntryFormat::Text);
    }
    media_format(media).map(|format| match format {
        Format::Json => EntryFormat::Json,
        Format::Xml => EntryFormat::Xml,
    })
}

/// The first JSON, XML or plain-text media type of `Accept`, else `Content-Type`'s, else the
/// keystore's own format.
fn entry_format(headers: &HeaderMap, data_type: KeystoreType) -> EntryFormat {
    let header = |name| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    header(ACCEPT)
        .split(',')
        .find_map(media_entry_format)
        .or_else(|| media_entry_format(header(CONTENT_TYPE)))
        .unwrap_or(match data_type {
            KeystoreType::Json => EntryFormat::Json,
            KeystoreType::Xml => EntryFormat::Xml,
            KeystoreType::Raw => EntryFormat::Text,
        })
}

/// A stored value that no longer reads as its type: the database holds what this server never
/// writes.
fn corrupt(entry: &Entry, problem: impl std::fmt::Display) -> ApiError {
    ApiError(Error::internal(format!(
        "stored {} keystore value does not parse: {problem}",
        entry.data_type.as_str()
    )))
}

/// The entry in the chosen format: its saved text as it is wherever it already is that format,
/// otherwise converted the way the API converts every JSON envelope to XML and back.
fn entry_body(entry: &Entry, format: EntryFormat) -> Result<(Vec<u8>, &'static str), ApiError> {
    let text = entry.value.as_bytes();
    let body = match (format, entry.data_type) {
        (EntryFormat::Text, _)
        | (EntryFormat::Json, KeystoreType::Json)
        | (EntryFormat::Xml, KeystoreType::Xml) => text.to_vec(),
        (EntryFormat::Json, KeystoreType::Xml) => {
            let value = from_xml(text).map_err(|problem| corrupt(entry, problem))?;
            serde_json::to_vec(&value).map_err(|problem| corrupt(entry, problem))?
        }
        (EntryFormat::Json, KeystoreType::Raw) => {
            serde_json::to_vec(&entry.value).map_err(|problem| corrupt(entry, problem))?
        }
        (EntryFormat::Xml, KeystoreType::Json) => {
            let value: Value =
                serde_json::from_str(&entry.value).map_err(|problem| corrupt(entry, problem))?;
            to_xml(XML_ROOT, &value)
        }
        (EntryFormat::Xml, KeystoreType::Raw) => {
            to_xml(XML_ROOT, &Value::String(entry.value.clone()))
        }
    };
    let content_type = match format {
        EntryFormat::Json => Format::Json.content_type(),
        EntryFormat::Xml => Format::Xml.content_type(),
        EntryFormat::Text => TEXT_PLAIN,
    };
    Ok((body, content_type))
}

fn entry_reply(headers: &HeaderMap, entry: &Entry) -> Result<Reply, ApiError> {
    let format = entry_format(headers, entry.data_type);
    let (body, content_type) = entry_body(entry, format)?;
    Ok(
        Reply::new(StatusCode::OK, Envelope::Document { content_type, body })
            .last_modified(entry.updated_at),
    )
}

/// The keystore and key a path names. A path that does not decode (bad percent-encoding or
/// UTF-8) is a 400 like a malformed key.
fn entry_path(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(KeystoreId, EntryKey), ApiError> {
    let Path((keystore_id, key)) = path.map_err(|rejection| {
        ApiError(Error::invalid_field(
            "keystore_key",
            format!("the path does not decode: {rejection}"),
        ))
    })?;
    Ok((
        KeystoreId::parse(&keystore_id, "keystore_id")?,
        EntryKey::parse(&key, "keystore_key")?,
    ))
}

fn keystore_path(path: Result<Path<String>, PathRejection>) -> Result<KeystoreId, ApiError> {
    let Path(keystore_id) = path.map_err(|rejection| {
        ApiError(Error::invalid_field(
            "keystore_id",
            format!("the path does not decode: {rejection}"),
        ))
    })?;
    Ok(KeystoreId::parse(&keystore_id, "keystore_id")?)
}

/// The body, or the 413 / 400 that reading it ended with.
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorKind::PayloadTooLarge,
            "The request body is larger than this server accepts",
        ),
        _ => ApiError(Error::bad_request(format!("body: {rejection}"))),
    })
}

/// `GET /v1/keystore/{keystore_id}/{keystore_key}`: the entry, created with the keystore's
/// empty structure when the key does not exist yet.
pub async fn get_entry(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreRead>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Reply, ApiError> {
    let (keystore_id, key) = entry_path(path)?;
    let at = EntryAddress {
        tenant: principal.tenant(),
        keystore_id: &keystore_id,
        key: &key,
    };
    let mut conn = state.pool().acquire().await?;
    let entry = entries::read(&mut conn, at).await?;
    entry_reply(&headers, &entry)
}

/// Reads a value for the keystore: its type first, then the body as that type.
async fn value_for(
    conn: &mut flowline_db::PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
    body: &[u8],
) -> Result<EntryValue, ApiError> {
    let data_type = definitions::data_type(conn, tenant, keystore_id).await?;
    Ok(EntryValue::parse(data_type, body, from_xml, "body")?)
}

/// A write to one entry, ready to run: the body read as the keystore's type.
struct EntryWrite {
    conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
    tenant: Tenant,
    keystore_id: KeystoreId,
    key: EntryKey,
    value: EntryValue,
}

impl EntryWrite {
    async fn prepare(
        state: &AppState,
        tenant: Tenant,
        path: Result<Path<(String, String)>, PathRejection>,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<EntryWrite, ApiError> {
        let (keystore_id, key) = entry_path(path)?;
        let body = body_bytes(body)?;
        let mut conn = state.pool().acquire().await?;
        let value = value_for(&mut conn, tenant, &keystore_id, &body).await?;
        Ok(EntryWrite {
            conn,
            tenant,
            keystore_id,
            key,
            value,
        })
    }

    /// The connection, the entry's address and its value, borrowed together.
    fn parts(&mut self) -> (&mut sqlx::PgConnection, EntryAddress<'_>, &EntryValue) {
        let at = EntryAddress {
            tenant: self.tenant,
            keystore_id: &self.keystore_id,
            key: &self.key,
        };
        (&mut self.conn, at, &self.value)
    }
}

/// `POST /v1/keystore/{keystore_id}/{keystore_key}`: inserts the entry; 409 when the key
/// exists.
pub async fn insert_entry(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreWrite>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let mut write = EntryWrite::prepare(&state, principal.tenant(), path, body).await?;
    let (conn, at, value) = write.parts();
    let entry = entries::insert(conn, at, value).await?;
    entry_reply(&headers, &entry)
}

/// `PUT /v1/keystore/{keystore_id}/{keystore_key}`: writes the entry, creating the key when
/// it does not exist.
pub async fn upsert_entry(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreWrite>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let mut write = EntryWrite::prepare(&state, principal.tenant(), path, body).await?;
    let (conn, at, value) = write.parts();
    let written = entries::upsert(conn, at, value).await?;
    entry_reply(&headers, &written.entry)
}

/// `DELETE /v1/keystore/{keystore_id}/{keystore_key}`: the reference's answer, word for word.
pub async fn delete_entry(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreWrite>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Reply, ApiError> {
    let (keystore_id, key) = entry_path(path)?;
    let at = EntryAddress {
        tenant: principal.tenant(),
        keystore_id: &keystore_id,
        key: &key,
    };
    let mut conn = state.pool().acquire().await?;
    entries::delete(&mut conn, at).await?;
    Ok(Reply::full(
        StatusCode::OK,
        Value::Null,
        format!("Successfully deleted key {key} in keystore {keystore_id}"),
    ))
}

/// `POST /v1/keystore/{keystore_id}`: the reference's search. The body is JSON unless its
/// `Content-Type` says XML (a `text/plain` one only chooses the answer's format, as for the
/// other keystore calls); the answer is the documented bare array.
pub async fn search(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreRead>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let keystore_id = keystore_path(path)?;
    let body = body_bytes(body)?;
    let format = Format::of_body(&headers).unwrap_or(Format::Json);
    let search = Search::parse(&parse_body(format, &body)?)?;
    let mut conn = state.pool().acquire().await?;
    let results =
        flowline_keystores::search::search(&mut conn, principal.tenant(), &keystore_id, &search)
            .await?;
    Ok(Reply::raw(StatusCode::OK, Value::Array(results)))
}

/// The body that creates a keystore: `keystore_id`, `type` (`json`, `xml` or `raw`) and
/// `empty`, the structure new keys start with (a JSON keystore's as JSON, the others' as a
/// string).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeystoreBody {
    keystore_id: Option<String>,
    #[serde(rename = "type")]
    data_type: Option<String>,
    empty: Option<Value>,
}

impl NewKeystoreBody {
    fn parse(self) -> Result<NewKeystore, ApiError> {
        let keystore_id = self
            .keystore_id
            .ok_or_else(|| ApiError(Error::invalid_field("keystore_id", "is required")))?;
        let keystore_id = KeystoreId::parse(&keystore_id, "keystore_id")?;
        let data_type = self.data_type.ok_or_else(|| {
            ApiError(Error::invalid_field(
                "type",
                "is required: json, xml or raw",
            ))
        })?;
        let data_type = KeystoreType::parse(&data_type, "type")?;
        Ok(NewKeystore {
            keystore_id,
            data_type,
            empty: empty_structure(data_type, self.empty)?,
        })
    }
}

/// The `empty` field as a value of the keystore's type; `None` (the type's default) when absent
/// or null.
fn empty_structure(
    data_type: KeystoreType,
    empty: Option<Value>,
) -> Result<Option<EntryValue>, ApiError> {
    let value = match (data_type, empty) {
        (_, None | Some(Value::Null)) => return Ok(None),
        (KeystoreType::Json, Some(value)) => EntryValue::from_json(value, "empty")?,
        (_, Some(Value::String(text))) => {
            EntryValue::parse(data_type, text.as_bytes(), from_xml, "empty")?
        }
        (_, Some(_)) => {
            return Err(ApiError(Error::invalid_field(
                "empty",
                format!(
                    "a {} keystore's empty structure is a string",
                    data_type.as_str()
                ),
            )));
        }
    };
    Ok(Some(value))
}

/// The body that changes a keystore: its new `empty` structure (absent or null: the type's
/// default). `type` may be repeated but not changed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreChangeBody {
    #[serde(rename = "type")]
    data_type: Option<String>,
    empty: Option<Value>,
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|error| ApiError(Error::internal(error.to_string())))
}

/// `POST /v1/keystores`: defines a keystore in the caller's environment.
pub async fn create(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreWrite>,
    Payload(body): Payload<NewKeystoreBody>,
) -> Result<Reply, ApiError> {
    let new = body.parse()?;
    let mut conn = state.pool().acquire().await?;
    let created = definitions::create(&mut conn, principal.tenant(), &new).await?;
    Ok(Reply::short(
        StatusCode::CREATED,
        to_json(&created)?,
        "Keystore created successfully",
    ))
}

/// `GET /v1/keystores`: the keystores of the caller's environment.
pub async fn list(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreRead>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let keystores = definitions::list(&mut conn, principal.tenant()).await?;
    let total = keystores.len();
    Ok(Reply::short(
        StatusCode::OK,
        json!({"keystores": to_json(&keystores)?, "total": total}),
        "Keystores retrieved successfully",
    ))
}

/// `GET /v1/keystores/{keystore_id}`.
pub async fn get(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreRead>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Reply, ApiError> {
    let keystore_id = keystore_path(path)?;
    let mut conn = state.pool().acquire().await?;
    let keystore = definitions::get(&mut conn, principal.tenant(), &keystore_id).await?;
    Ok(Reply::short(
        StatusCode::OK,
        to_json(&keystore)?,
        "Keystore retrieved successfully",
    )
    .last_modified(keystore.updated_at))
}

/// `PUT /v1/keystores/{keystore_id}`: replaces the empty structure.
pub async fn update(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreWrite>,
    path: Result<Path<String>, PathRejection>,
    Payload(body): Payload<KeystoreChangeBody>,
) -> Result<Reply, ApiError> {
    let keystore_id = keystore_path(path)?;
    let tenant = principal.tenant();
    let mut conn = state.pool().acquire().await?;
    let data_type = definitions::data_type(&mut conn, tenant, &keystore_id).await?;
    if let Some(requested) = &body.data_type
        && KeystoreType::parse(requested, "type")? != data_type
    {
        return Err(ApiError(Error::invalid_field(
            "type",
            format!(
                "a keystore's type cannot change (it is {}); remove the keystore and create it \
                 again",
                data_type.as_str()
            ),
        )));
    }
    let empty = empty_structure(data_type, body.empty)?;
    let keystore = definitions::set_empty(&mut conn, tenant, &keystore_id, empty.as_ref()).await?;
    Ok(Reply::short(
        StatusCode::OK,
        to_json(&keystore)?,
        "Keystore updated successfully",
    ))
}

/// `DELETE /v1/keystores/{keystore_id}`: removes the keystore with its entries.
pub async fn delete(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<KeystoreWrite>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Reply, ApiError> {
    let keystore_id = keystore_path(path)?;
    let mut conn = state.pool().acquire().await?;
    definitions::delete(&mut conn, principal.tenant(), &keystore_id).await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({}),
        "Keystore has been removed successfully",
    ))
}

/// The body of `POST /admin/v1/orgs/{org}/keystores`: a keystore body and, optionally, the
/// environment (default: the organization's default environment).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminNewKeystoreBody {
    environment_id: Option<i64>,
    keystore_id: Option<String>,
    #[serde(rename = "type")]
    data_type: Option<String>,
    empty: Option<Value>,
}

/// `?environment_id=` of the admin calls that address one keystore.
#[derive(Debug, Deserialize)]
pub struct EnvironmentQuery {
    environment_id: Option<i64>,
}

async fn find_org(state: &AppState, org: &str) -> Result<OrgId, ApiError> {
    let mut conn = state.pool().acquire().await?;
    Ok(flowline_auth::find_organization(&mut conn, org).await?)
}

async fn admin_tenant(
    state: &AppState,
    org: &str,
    environment: Option<i64>,
) -> Result<Tenant, ApiError> {
    let org_id = find_org(state, org).await?;
    let mut conn = state.pool().acquire().await?;
    Ok(flowline_webhooks::tenant_of_org(&mut conn, org_id, environment.map(EnvironmentId)).await?)
}

pub async fn admin_create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Payload(body): Payload<AdminNewKeystoreBody>,
) -> Result<Reply, ApiError> {
    let new = NewKeystoreBody {
        keystore_id: body.keystore_id,
        data_type: body.data_type,
        empty: body.empty,
    }
    .parse()?;
    let tenant = admin_tenant(&state, &org, body.environment_id).await?;
    let mut conn = state.pool().acquire().await?;
    let created = definitions::create(&mut conn, tenant, &new).await?;
    Ok(Reply::raw(StatusCode::CREATED, to_json(&created)?))
}

pub async fn admin_list(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Reply, ApiError> {
    let org_id = find_org(&state, &org).await?;
    let mut conn = state.pool().acquire().await?;
    let keystores = definitions::list_for_org(&mut conn, org_id).await?;
    Ok(Reply::raw(StatusCode::OK, to_json(&keystores)?))
}

pub async fn admin_delete(
    State(state): State<AppState>,
    Path((org, keystore_id)): Path<(String, String)>,
    Query(query): Query<EnvironmentQuery>,
) -> Result<Reply, ApiError> {
    let keystore_id = KeystoreId::parse(&keystore_id, "keystore_id")?;
    let tenant = admin_tenant(&state, &org, query.environment_id).await?;
    let mut conn = state.pool().acquire().await?;
    definitions::delete(&mut conn, tenant, &keystore_id).await?;
    Ok(Reply::raw(
        StatusCode::OK,
        json!({
            "keystore_id": keystore_id,
            "environment_id": tenant.environment_id,
            "deleted": true,
        }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn format_of(pairs: &[(&'static str, &'static str)], data_type: KeystoreType) -> EntryFormat {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        entry_format(&headers, data_type)
    }

    #[test]
    fn accept_then_content_type_then_the_keystore_type_choose_the_format() {
        assert_eq!(format_of(&[], KeystoreType::Raw), EntryFormat::Text);
        assert_eq!(format_of(&[], KeystoreType::Xml), EntryFormat::Xml);
        assert_eq!(
            format_of(&[("content-type", "text/plain")], KeystoreType::Json),
            EntryFormat::Text
        );
        assert_eq!(
            format_of(
                &[
                    ("content-type", "text/plain"),
                    ("accept", "*/*, application/xml")
                ],
                KeystoreType::Json
            ),
            EntryFormat::Xml
        );
        assert_eq!(
            format_of(&[("accept", "*/*")], KeystoreType::Json),
            EntryFormat::Json
        );
    }
}
