//! Receiving: an event is stored and its record queued in one transaction, and a retry that
//! carries the same idempotency key gets the first answer without creating anything.

use crate::payload::record_from;
use crate::store::Endpoint;
use chrono::{DateTime, Utc};
use flowline_core::Error;
use flowline_core::time::atom;
use flowline_db::PgConnection;
use flowline_flows::store as flows;
use flowline_records::{Ingested, NewRecords};
use flowline_schemas::SchemaCache;
use serde_json::{Value, json};
use sqlx::Connection;

const MAX_KEY_LEN: usize = 255;

/// The sender's name for one delivery (`Idempotency-Key`): deliveries of one webhook with the
/// same key are one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &str) -> Result<IdempotencyKey, Error> {
        let valid = !text.is_empty()
            && text.len() <= MAX_KEY_LEN
            && text.bytes().all(|byte| (0x20..0x7f).contains(&byte));
        if valid {
            Ok(IdempotencyKey(text.to_owned()))
        } else {
            Err(Error::invalid_field(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters"),
            ))
        }
    }
}

/// One delivery to a webhook.
#[derive(Debug)]
pub struct Event<'a> {
    /// The media type the body was read as.
    pub content_type: &'a str,
    /// The body as received, kept with the event.
    pub body: &'a [u8],
    /// The body parsed (JSON, form fields or XML as a JSON value).
    pub payload: Value,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// The answer to a delivery: the resource of the 201 body.
#[derive(Debug, Clone, PartialEq)]
pub enum Receipt {
    /// A new event and record.
    Created(Value),
    /// A retry: the first delivery's answer, and nothing new.
    Replayed(Value),
}

impl Receipt {
    pub fn resource(&self) -> &Value {
        match self {
            Receipt::Created(resource) | Receipt::Replayed(resource) => resource,
        }
    }

    pub fn into_resource(self) -> Value {
        match self {
            Receipt::Created(resource) | Receipt::Replayed(resource) => resource,
        }
    }
}

/// Stores the event and queues the record it becomes into the webhook's flow, both committed
/// before this returns `Ok(Created)`, or neither. The record is checked against the
/// environment's data schema; errors name `body`.
///
/// The event row is inserted first, under the unique idempotency key: a concurrent delivery with
/// the same key waits on it, then finds the committed event and answers with its response (or,
/// if this one rolled back, goes ahead itself), so duplicates never create two records.
#[tracing::instrument(skip_all, fields(org.id = %endpoint.tenant.org_id, webhook.id = %endpoint.webhook_id))]
pub async fn receive(
    conn: &mut PgConnection,
    schemas: &SchemaCache,
    endpoint: &Endpoint,
    event: Event<'_>,
) -> Result<Receipt, Error> {
    let record = record_from(event.payload, endpoint.mapping.as_ref())?;
    let tenant = endpoint.tenant;
    let mut tx = conn.begin().await?;
    let claimed: Option<(i64, DateTime<Utc>)> = sqlx::query_as(concat!(
        "INSERT INTO webhook_events (org_id, environment_id, webhook_id, idempotency_key,",
        " content_type, payload) VALUES ($1, $2, $3, $4, $5, $6)",
        " ON CONFLICT (org_id, webhook_id, idempotency_key) DO NOTHING",
        " RETURNING event_id, received_at"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(endpoint.webhook_id)
    .bind(event.idempotency_key.as_ref().map(|key| key.0.as_str()))
    .bind(event.content_type)
    .bind(event.body)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|error| webhook_gone(error.into()))?;
    let Some((event_id, received_at)) = claimed else {
        let response = first_response(&mut tx, endpoint, event.idempotency_key.as_ref()).await?;
        return Ok(Receipt::Replayed(response));
    };
    let flow = flows::find_by_id(&mut tx, tenant, endpoint.flow_id)
        .await?
        .ok_or_else(|| Error::not_found("This webhook's flow diagram no longer exists"))?;
    let ingested = flowline_records::ingest(
        &mut tx,
        tenant,
        endpoint.app_id,
        schemas,
        &NewRecords {
            flow: flow.name,
            uuid: None,
            execution_time: None,
            records: vec![flowline_records::record_text(&record)?],
        },
    )
    .await?;
    // The flow is found again by name inside `ingest`; a rename in between could point the name
    // at another flow, and the record must not land there.
    if ingested.flow_id != endpoint.flow_id {
        return Err(Error::conflict(
            "The webhook's flow diagram was renamed while the payload was received; send it again",
        ));
    }
    let (record_id, response) = answer(endpoint, event_id, received_at, &ingested)?;
    sqlx::query(
        "UPDATE webhook_events SET record_id = $3, response = $4::json \
         WHERE org_id = $1 AND event_id = $2",
    )
    .bind(tenant.org_id)
    .bind(event_id)
    .bind(record_id)
    .bind(serde_json::to_string(&response).map_err(|error| Error::internal(error.to_string()))?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Receipt::Created(response))
}

/// The resource of the reference's 201 answer, plus the record's id and uuid under `data`.
fn answer(
    endpoint: &Endpoint,
    event_id: i64,
    received_at: DateTime<Utc>,
    ingested: &Ingested,
) -> Result<(i64, Value), Error> {
    let record = ingested
        .records
        .first()
        .ok_or_else(|| Error::internal("ingest queued no record"))?;
    let response = json!({
        "_id": {"$id": event_id.to_string()},
        "customer_id": endpoint.tenant.org_id.to_string(),
        "plugin_id": endpoint.webhook_id.to_string(),
        "application_id": endpoint.app_id.map(|id| id.to_string()),
        "date_created": atom(received_at),
        "data": {
            "flow_id": ingested.flow_id.to_string(),
            "data_record_id": record.record_id.to_string(),
            "uuid": record.uuid,
        },
    });
    Ok((record.record_id, response))
}

/// The answer the first delivery with this key gave. Its event is committed: the insert that
/// found the conflict waited for it.
async fn first_response(
    conn: &mut PgConnection,
    endpoint: &Endpoint,
    key: Option<&IdempotencyKey>,
) -> Result<Value, Error> {
    let key = key.ok_or_else(|| Error::internal("an event without a key conflicted"))?;
    let stored: Option<Option<String>> = sqlx::query_scalar(
        "SELECT response::text FROM webhook_events \
         WHERE org_id = $1 AND webhook_id = $2 AND idempotency_key = $3",
    )
    .bind(endpoint.tenant.org_id)
    .bind(endpoint.webhook_id)
    .bind(&key.0)
    .fetch_optional(conn)
    .await?;
    let text = stored
        .flatten()
        .ok_or_else(|| Error::internal("a committed webhook event has no response"))?;
    serde_json::from_str(&text).map_err(|error| Error::internal(error.to_string()))
}

/// The webhook was removed between finding it and storing the event.
fn webhook_gone(error: Error) -> Error {
    match &error {
        Error::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            Error::not_found("The requested resource doesn't exist")
        }
        _ => error,
    }
}
