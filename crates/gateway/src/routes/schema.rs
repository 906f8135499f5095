//! `/v1/schema`: the environment's data schema.

use crate::authn::{Auth, SchemaRead, SchemaWrite};
use crate::error::ApiError;
use crate::payload::Payload;
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::State;
use flowline_core::time::api_date;
use flowline_schemas::{SchemaDefinition, SchemaTimes};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// The body of POST and PUT: base64 `schema` and `data_record`, and the unused `url`.
#[derive(Debug, Deserialize)]
pub struct SchemaBody {
    schema: Option<String>,
    data_record: Option<String>,
    url: Option<String>,
}

impl SchemaBody {
    /// The body as a SOAP `SchemaObject` carries it: base64 texts as sent.
    pub fn new(schema: Option<String>, data_record: Option<String>, url: Option<String>) -> Self {
        SchemaBody {
            schema,
            data_record,
            url,
        }
    }

    fn parse(&self) -> Result<SchemaDefinition, ApiError> {
        Ok(SchemaDefinition::parse(
            self.schema.as_deref(),
            self.data_record.as_deref(),
            self.url.as_deref(),
        )?)
    }
}

fn times(times: SchemaTimes) -> Value {
    json!({
        "creation_date": api_date(times.created_at),
        "modified_date": api_date(times.modified_at),
    })
}

pub async fn create(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<SchemaWrite>,
    Payload(body): Payload<SchemaBody>,
) -> Result<Reply, ApiError> {
    let definition = body.parse()?;
    let mut conn = state.pool().acquire().await?;
    let created = flowline_schemas::create(&mut conn, &principal, &definition).await?;
    Ok(Reply::short(
        StatusCode::CREATED,
        times(created),
        "Schema structure is created successfully",
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<SchemaRead>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let stored = flowline_schemas::get(&mut conn, &principal).await?;
    let resource = json!({
        "url": stored.url,
        "schema": SchemaDefinition::schema_base64(&stored.schema_text),
        "creation_date": api_date(stored.times.created_at),
        "modified_date": api_date(stored.times.modified_at),
        "customer": stored.customer,
    });
    Ok(Reply::short(
        StatusCode::OK,
        resource,
        "Schema structure is retrieving successfully",
    )
    .last_modified(stored.times.modified_at))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<SchemaWrite>,
    Payload(body): Payload<SchemaBody>,
) -> Result<Reply, ApiError> {
    let definition = body.parse()?;
    let mut conn = state.pool().acquire().await?;
    let updated = flowline_schemas::update(&mut conn, &principal, &definition).await?;
    Ok(Reply::short(
        StatusCode::CREATED,
        times(updated),
        "Schema structure is updated successfully",
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<SchemaWrite>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    flowline_schemas::delete(&mut conn, &principal).await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({}),
        "Schema has been removed successfully",
    ))
}
