//! Webhooks in PostgreSQL: registering, listing, removing, and finding one by its uri.

use crate::mapping::Mapping;
use crate::signature::{SIGNATURE_HEADER, WebhookSecret};
use crate::uri::WebhookUri;
use chrono::{DateTime, Utc};
use flowline_core::{AppId, EnvironmentId, Error, OrgId, Tenant};
use flowline_db::PgConnection;
use flowline_flows::store as flows;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Connection;

/// A webhook's number, unique within its organization.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct WebhookId(pub i64);

impl std::fmt::Display for WebhookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What registering a webhook takes, already validated.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// The target flow's name, or its id.
    pub flow: String,
    pub secret: Option<WebhookSecret>,
    pub mapping: Option<Mapping>,
}

/// A webhook as listings show it: never its uri (stored as a digest) nor its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    pub webhook_id: WebhookId,
    pub environment_id: EnvironmentId,
    pub flow_id: i64,
    pub flow_name: String,
    /// The first characters of the uri, to tell webhooks apart.
    pub uri_prefix: String,
    /// Whether senders must sign payloads (the webhook has a secret).
    pub signed: bool,
    pub mapping: Option<Value>,
    /// The application that registered it; `None` when an operator did.
    pub application_id: Option<AppId>,
    #[serde(serialize_with = "serialize_api_date")]
    pub created_at: DateTime<Utc>,
}

/// A webhook just registered, with its uri: the one time the uri is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedWebhook {
    pub webhook_uri: String,
    /// The path senders post to (`/v1/webhook/{webhook_uri}`).
    pub path: String,
    /// The header signed payloads must carry, when the webhook is signed.
    pub signature_header: Option<&'static str>,
    #[serde(flatten)]
    pub webhook: Webhook,
}

fn serialize_api_date<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&flowline_core::time::api_date(*at))
}

/// Registers a webhook for a flow of `tenant`. `app` is the registering application, `None` for
/// an operator.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn create(
    conn: &mut PgConnection,
    tenant: Tenant,
    app: Option<AppId>,
    new: &NewWebhook,
) -> Result<CreatedWebhook, Error> {
    let uri = WebhookUri::generate();
    let mut tx = conn.begin().await?;
    // FOR KEY SHARE, so that the flow cannot go away before the webhook that names it commits.
    let flow = flows::find(&mut tx, tenant, &new.flow, true)
        .await?
        .ok_or_else(|| Error::not_found(format!("Flow diagram '{}' does not exist", new.flow)))?;
    let (webhook_id, created_at): (WebhookId, DateTime<Utc>) = sqlx::query_as(concat!(
        "INSERT INTO webhooks (org_id, environment_id, uri_hash, uri_prefix, flow_id, secret,",
        " mapping, app_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        " RETURNING webhook_id, created_at"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(uri.digest())
    .bind(uri.prefix())
    .bind(flow.flow_id)
    .bind(new.secret.as_ref().map(WebhookSecret::as_str))
    .bind(new.mapping.as_ref().map(Mapping::to_value))
    .bind(app)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CreatedWebhook {
        path: uri.path(),
        signature_header: new.secret.as_ref().map(|_| SIGNATURE_HEADER),
        webhook: Webhook {
            webhook_id,
            environment_id: tenant.environment_id,
            flow_id: flow.flow_id,
            flow_name: flow.name,
            uri_prefix: uri.prefix().to_owned(),
            signed: new.secret.is_some(),
            mapping: new.mapping.as_ref().map(Mapping::to_value),
            application_id: app,
            created_at,
        },
        webhook_uri: uri.as_str().to_owned(),
    })
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    webhook_id: WebhookId,
    environment_id: EnvironmentId,
    flow_id: i64,
    flow_name: String,
    uri_prefix: String,
    signed: bool,
    mapping: Option<Value>,
    app_id: Option<AppId>,
    created_at: DateTime<Utc>,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Webhook {
        Webhook {
            webhook_id: row.webhook_id,
            environment_id: row.environment_id,
            flow_id: row.flow_id,
            flow_name: row.flow_name,
            uri_prefix: row.uri_prefix,
            signed: row.signed,
            mapping: row.mapping,
            application_id: row.app_id,
            created_at: row.created_at,
        }
    }
}

/// The webhooks of an organization, of one environment when `environment` is set.
macro_rules! webhook_query {
    ($($tail:literal),*) => {
        concat!(
            "SELECT w.webhook_id, w.environment_id, w.flow_id, f.name AS flow_name, w.uri_prefix,",
            " w.secret IS NOT NULL AS signed, w.mapping, w.app_id, w.created_at",
            " FROM webhooks w JOIN flows f ON f.org_id = w.org_id AND f.flow_id = w.flow_id",
            " WHERE w.org_id = $1 AND ($2::bigint IS NULL OR w.environment_id = $2)",
            $($tail),*
        )
    };
}

async fn select(
    conn: &mut PgConnection,
    org_id: OrgId,
    environment: Option<EnvironmentId>,
    webhook_id: Option<WebhookId>,
) -> Result<Vec<Webhook>, Error> {
    let rows: Vec<WebhookRow> = sqlx::query_as(webhook_query!(
        " AND ($3::bigint IS NULL OR w.webhook_id = $3) ORDER BY w.webhook_id"
    ))
    .bind(org_id)
    .bind(environment)
    .bind(webhook_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

/// The webhooks of the tenant's environment, oldest first.
pub async fn list(conn: &mut PgConnection, tenant: Tenant) -> Result<Vec<Webhook>, Error> {
    select(conn, tenant.org_id, Some(tenant.environment_id), None).await
}

/// Every webhook of an organization, in all its environments (for operators).
pub async fn list_for_org(conn: &mut PgConnection, org_id: OrgId) -> Result<Vec<Webhook>, Error> {
    select(conn, org_id, None, None).await
}

/// One webhook of the tenant's environment.
pub async fn get(
    conn: &mut PgConnection,
    tenant: Tenant,
    webhook_id: WebhookId,
) -> Result<Webhook, Error> {
    select(
        conn,
        tenant.org_id,
        Some(tenant.environment_id),
        Some(webhook_id),
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| unknown_webhook(webhook_id))
}

/// Removes a webhook, and its events with it. `environment` limits it to one environment (an
/// application's); operators may remove any of the organization's.
pub async fn delete(
    conn: &mut PgConnection,
    org_id: OrgId,
    environment: Option<EnvironmentId>,
    webhook_id: WebhookId,
) -> Result<(), Error> {
    let deleted: Option<WebhookId> = sqlx::query_scalar(
        "DELETE FROM webhooks WHERE org_id = $1 AND ($2::bigint IS NULL OR environment_id = $2) \
         AND webhook_id = $3 RETURNING webhook_id",
    )
    .bind(org_id)
    .bind(environment)
    .bind(webhook_id)
    .fetch_optional(conn)
    .await?;
    deleted
        .map(|_| ())
        .ok_or_else(|| unknown_webhook(webhook_id))
}

fn unknown_webhook(webhook_id: WebhookId) -> Error {
    Error::not_found(format!("Webhook {webhook_id} does not exist"))
}

/// The tenant an operator means: the organization's environment `environment`, or its default
/// environment.
pub async fn tenant_of_org(
    conn: &mut PgConnection,
    org_id: OrgId,
    environment: Option<EnvironmentId>,
) -> Result<Tenant, Error> {
    let found: Option<EnvironmentId> = sqlx::query_scalar(
        "SELECT environment_id FROM environments WHERE org_id = $1 \
         AND (environment_id = $2 OR ($2::bigint IS NULL AND is_default))",
    )
    .bind(org_id)
    .bind(environment)
    .fetch_optional(conn)
    .await?;
    match (found, environment) {
        (Some(environment_id), _) => Ok(Tenant {
            org_id,
            environment_id,
        }),
        (None, Some(id)) => Err(Error::not_found(format!(
            "No environment {id} in this organization"
        ))),
        (None, None) => Err(Error::internal(format!(
            "organization {org_id} has no default environment"
        ))),
    }
}

/// A webhook as receiving needs it: where its records go and how to check and shape them.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub webhook_id: WebhookId,
    pub tenant: Tenant,
    pub flow_id: i64,
    /// The application that registered it, which records are created on behalf of.
    pub app_id: Option<AppId>,
    pub(crate) secret: Option<WebhookSecret>,
    pub(crate) mapping: Option<Mapping>,
}

impl Endpoint {
    /// Checks the signature of `body` when the webhook has a secret; a webhook without one
    /// ignores any signature.
    pub fn verify(&self, signature: Option<&str>, body: &[u8]) -> Result<(), Error> {
        match &self.secret {
            Some(secret) => secret.verify(signature, body),
            None => Ok(()),
        }
    }
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    org_id: OrgId,
    environment_id: EnvironmentId,
    webhook_id: WebhookId,
    flow_id: i64,
    app_id: Option<AppId>,
    secret: Option<String>,
    mapping: Option<Value>,
}

/// The webhook a uri names, whatever its organization: the uri is the credential, and the only
/// way to reach a tenant without a principal.
#[tracing::instrument(skip_all)]
pub async fn find_by_uri(
    conn: &mut PgConnection,
    uri: &WebhookUri,
) -> Result<Option<Endpoint>, Error> {
    let row: Option<EndpointRow> = sqlx::query_as(
        "SELECT org_id, environment_id, webhook_id, flow_id, app_id, secret, mapping \
         FROM webhooks WHERE uri_hash = $1",
    )
    .bind(uri.digest())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mapping = row
        .mapping
        .as_ref()
        .map(Mapping::parse)
        .transpose()
        .map_err(|error| {
            Error::internal(format!(
                "stored mapping of webhook {} is invalid: {}",
                row.webhook_id,
                error.public_message()
            ))
        })?;
    Ok(Some(Endpoint {
        webhook_id: row.webhook_id,
        tenant: Tenant {
            org_id: row.org_id,
            environment_id: row.environment_id,
        },
        flow_id: row.flow_id,
        app_id: row.app_id,
        secret: row.secret.map(WebhookSecret::from_stored),
        mapping,
    }))
}
