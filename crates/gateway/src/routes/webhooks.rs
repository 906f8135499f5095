//! Webhooks: `POST /v1/webhook/{webhook_uri}`, where outside services push payloads without
//! credentials, and the registration of webhooks — `/v1/webhooks` for applications (scope
//! `webhook`), `/admin/v1/orgs/{org}/webhooks` for operators.

use crate::authn::{Auth, WebhookRead, WebhookWrite};
use crate::error::ApiError;
use crate::format::Format;
use crate::payload::{Payload, parse_body};
use crate::reply::Reply;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use flowline_auth::RateKey;
use flowline_core::{AppId, EnvironmentId, Error, ErrorKind, OrgId, Tenant};
use flowline_webhooks::{
    Event, IdempotencyKey, Mapping, NewWebhook, Receipt, SIGNATURE_HEADER, WebhookId,
    WebhookSecret, WebhookUri,
};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Accepts a payload for the webhook that `webhook_uri` names. No credentials are needed: the
/// uri is the secret, and the signature is checked when the webhook has one. Credentials that a
/// sender happens to send are neither needed nor checked here.
pub async fn receive(
    State(state): State<AppState>,
    Path(uri): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let uri = WebhookUri::parse(&uri).ok_or_else(unknown_uri)?;
    // The connection goes back to the pool before the body is read: a slow sender must not
    // hold one.
    let endpoint = {
        let mut conn = state.pool().acquire().await?;
        let endpoint = flowline_webhooks::find_by_uri(&mut conn, &uri)
            .await?
            .ok_or_else(unknown_uri)?;
        admit_to_environment(&state, &mut conn, endpoint.tenant).await?;
        endpoint
    };
    let headers = request.headers().clone();
    let body = read_body(request, &state).await?;
    endpoint.verify(signature(&headers), &body)?;
    let (kind, content_type) = body_kind(&headers)?;
    let payload = kind.parse(&body)?;
    let idempotency_key = headers
        .get(IDEMPOTENCY_KEY)
        // A value that is not visible ASCII is refused like an empty one.
        .map(|value| IdempotencyKey::parse(value.to_str().unwrap_or_default()))
        .transpose()?;
    let event = Event {
        content_type: &content_type,
        body: &body,
        payload,
        idempotency_key,
    };
    let mut conn = state.pool().acquire().await?;
    let receipt = flowline_webhooks::receive(&mut conn, state.schemas(), &endpoint, event).await?;
    let replayed = matches!(receipt, Receipt::Replayed(_));
    let reply = Reply::short(
        StatusCode::CREATED,
        receipt.into_resource(),
        "Data stored successfully",
    );
    Ok(if replayed {
        ([("idempotent-replayed", "true")], reply).into_response()
    } else {
        reply.into_response()
    })
}

/// A receipt counts against the package of the webhook's environment like an application's
/// request: its request rate, and its storage (a receipt stores a record).
async fn admit_to_environment(
    state: &AppState,
    conn: &mut flowline_db::PgConnection,
    tenant: Tenant,
) -> Result<(), ApiError> {
    let Some(quota) = flowline_environments::quota(conn, tenant).await? else {
        return Err(unknown_uri());
    };
    let auth = state.auth();
    let key = RateKey::Environment(tenant.org_id, tenant.environment_id);
    let decision = auth.charge(key, Some(auth.per_window(quota.requests_per_minute)));
    if !decision.allowed {
        return Err(ApiError::new(
            ErrorKind::TooManyRequests,
            "Too many requests.",
        ));
    }
    if quota.over_storage {
        return Err(ApiError::new(
            ErrorKind::InsufficientStorage,
            crate::authn::OVER_STORAGE,
        ));
    }
    Ok(())
}

/// Unknown and implausible uris get the answer of any unknown path, so that probing tells
/// nothing.
fn unknown_uri() -> ApiError {
    ApiError(Error::not_found("The requested resource doesn't exist"))
}

async fn read_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                ErrorKind::PayloadTooLarge,
                "The request body is larger than this server accepts",
            ),
            _ => ApiError(Error::bad_request(format!("body: {rejection}"))),
        })
}

/// The signature header; a value that is not text is passed on as one that cannot match.
fn signature(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(SIGNATURE_HEADER)
        .map(|value| value.to_str().unwrap_or("?"))
}

/// The kinds of payload a webhook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
    Xml,
}

const FORM: &str = "application/x-www-form-urlencoded";

/// The payload's kind, and the media type it is stored under. Without a `Content-Type` the body
/// is read as JSON, as everywhere else in the API.
fn body_kind(headers: &HeaderMap) -> Result<(BodyKind, String), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok((BodyKind::Json, "application/json".to_owned()));
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let kind = if essence == FORM {
        Some(BodyKind::Form)
    } else {
        match Format::of_body(headers) {
            Some(Format::Json) => Some(BodyKind::Json),
            Some(Format::Xml) => Some(BodyKind::Xml),
            None => None,
        }
    };
    match kind {
        Some(kind) => Ok((kind, essence)),
        None => Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Content-Type: '{text}' is not supported; send application/json, \
                 {FORM} or application/xml"
            ),
        )),
    }
}

impl BodyKind {
    fn parse(self, body: &[u8]) -> Result<Value, ApiError> {
        match self {
            BodyKind::Json => parse_body(Format::Json, body),
            BodyKind::Xml => parse_body(Format::Xml, body),
            BodyKind::Form => parse_form(body),
        }
    }
}

/// Form fields as an object of strings; a field sent more than once becomes an array of its
/// values, in order.
fn parse_form(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(Error::invalid_field("body", "is required")));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError(Error::invalid_field(
            "body",
            "form data must be UTF-8",
        )));
    }
    let mut fields = Map::new();
    for (name, value) in form_urlencoded::parse(body).into_owned() {
        match fields.get_mut(&name) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => *first = Value::Array(vec![first.take(), Value::String(value)]),
            None => {
                fields.insert(name, Value::String(value));
            }
        }
    }
    Ok(Value::Object(fields))
}

/// `flow` as a name or a numeric id.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FlowReference {
    Id(i64),
    Name(String),
}

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    flow: Option<FlowReference>,
    secret: Option<String>,
    mapping: Option<Value>,
}

impl NewWebhookBody {
    fn parse(self) -> Result<NewWebhook, ApiError> {
        let flow = match self.flow {
            Some(FlowReference::Id(id)) => id.to_string(),
            Some(FlowReference::Name(name)) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => {
                return Err(ApiError(Error::invalid_field(
                    "flow",
                    "is required: the target flow's name or id",
                )));
            }
        };
        Ok(NewWebhook {
            flow,
            secret: self
                .secret
                .as_deref()
                .map(WebhookSecret::parse)
                .transpose()?,
            mapping: self
                .mapping
                .filter(|mapping| !mapping.is_null())
                .as_ref()
                .map(Mapping::parse)
                .transpose()?,
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|error| ApiError(Error::internal(error.to_string())))
}

/// A webhook id from the path; anything else names no webhook.
fn webhook_id(text: &str) -> Result<WebhookId, ApiError> {
    text.parse()
        .map(WebhookId)
        .map_err(|_| ApiError(Error::not_found(format!("Webhook '{text}' does not exist"))))
}

async fn create_for(
    state: &AppState,
    tenant: Tenant,
    app: Option<AppId>,
    body: NewWebhookBody,
) -> Result<Value, ApiError> {
    let new = body.parse()?;
    let mut conn = state.pool().acquire().await?;
    let created = flowline_webhooks::create(&mut conn, tenant, app, &new).await?;
    to_json(&created)
}

pub async fn create(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<WebhookWrite>,
    Payload(body): Payload<NewWebhookBody>,
) -> Result<Reply, ApiError> {
    let created = create_for(&state, principal.tenant(), Some(principal.app_id), body).await?;
    Ok(Reply::short(
        StatusCode::CREATED,
        created,
        "Webhook created successfully",
    ))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<WebhookRead>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let webhooks = flowline_webhooks::list(&mut conn, principal.tenant()).await?;
    let total = webhooks.len();
    Ok(Reply::short(
        StatusCode::OK,
        json!({"webhooks": to_json(&webhooks)?, "total": total}),
        "Webhooks retrieved successfully",
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<WebhookRead>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let webhook_id = webhook_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    let webhook = flowline_webhooks::get(&mut conn, principal.tenant(), webhook_id).await?;
    Ok(Reply::short(
        StatusCode::OK,
        to_json(&webhook)?,
        "Webhook retrieved successfully",
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<WebhookWrite>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let webhook_id = webhook_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    flowline_webhooks::delete(
        &mut conn,
        principal.org_id,
        Some(principal.environment_id),
        webhook_id,
    )
    .await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({}),
        "Webhook has been removed successfully",
    ))
}

/// The body of `POST /admin/v1/orgs/{org}/webhooks`: a webhook body and, optionally, the
/// environment (default: the organization's default environment).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminNewWebhookBody {
    environment_id: Option<i64>,
    flow: Option<FlowReference>,
    secret: Option<String>,
    mapping: Option<Value>,
}

async fn find_org(state: &AppState, org: &str) -> Result<OrgId, ApiError> {
    let mut conn = state.pool().acquire().await?;
    Ok(flowline_auth::find_organization(&mut conn, org).await?)
}

pub async fn admin_create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Payload(body): Payload<AdminNewWebhookBody>,
) -> Result<Reply, ApiError> {
    let org_id = find_org(&state, &org).await?;
    let tenant = {
        let mut conn = state.pool().acquire().await?;
        flowline_webhooks::tenant_of_org(&mut conn, org_id, body.environment_id.map(EnvironmentId))
            .await?
    };
    let webhook = NewWebhookBody {
        flow: body.flow,
        secret: body.secret,
        mapping: body.mapping,
    };
    let created = create_for(&state, tenant, None, webhook).await?;
    Ok(Reply::raw(StatusCode::CREATED, created))
}

pub async fn admin_list(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Reply, ApiError> {
    let org_id = find_org(&state, &org).await?;
    let mut conn = state.pool().acquire().await?;
    let webhooks = flowline_webhooks::list_for_org(&mut conn, org_id).await?;
    Ok(Reply::raw(StatusCode::OK, to_json(&webhooks)?))
}

pub async fn admin_delete(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let webhook_id = webhook_id(&id)?;
    let org_id = find_org(&state, &org).await?;
    let mut conn = state.pool().acquire().await?;
    flowline_webhooks::delete(&mut conn, org_id, None, webhook_id).await?;
    Ok(Reply::raw(
        StatusCode::OK,
        json!({"webhook_id": webhook_id, "deleted": true}),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn kind_of(content_type: Option<&'static str>) -> Result<(BodyKind, String), u16> {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        }
        body_kind(&headers).map_err(|error| error.0.kind().status())
    }

    #[test]
    fn reads_json_form_and_xml_and_refuses_the_rest() {
        assert_eq!(kind_of(None).unwrap().0, BodyKind::Json);
        assert_eq!(
            kind_of(Some("application/json; charset=utf-8")).unwrap(),
            (BodyKind::Json, "application/json".to_owned())
        );
        assert_eq!(
            kind_of(Some("application/vnd.github+json")).unwrap().0,
            BodyKind::Json
        );
        assert_eq!(
            kind_of(Some("Application/X-WWW-Form-Urlencoded")).unwrap(),
            (BodyKind::Form, FORM.to_owned())
        );
        assert_eq!(kind_of(Some("text/xml")).unwrap().0, BodyKind::Xml);
        assert_eq!(kind_of(Some("text/plain")), Err(415));
        assert_eq!(kind_of(Some("multipart/form-data; boundary=x")), Err(415));
    }

    #[test]
    fn form_fields_become_strings_and_repeats_become_arrays() {
        let value = parse_form(b"name=Ada+L&age=36&tag=a&tag=b&tag=c&empty=").unwrap();
        assert_eq!(
            value,
            json!({"name": "Ada L", "age": "36", "tag": ["a", "b", "c"], "empty": ""})
        );
        assert!(parse_form(b"  ").is_err());
        assert!(parse_form(b"a=\xff").is_err());
    }
}
