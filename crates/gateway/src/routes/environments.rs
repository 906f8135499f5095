//! The organization API's environments: `/v1/environment…` with the organization API key
//! (`OrgAuth`). Answers are `{"code": …, "data": …}` as the reference shows them; `stats` and
//! `storage_info` come from the environment's rows and its last storage measurement.

use crate::authn::OrgAuth;
use crate::error::ApiError;
use crate::payload::{OptionalBody, Payload};
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use flowline_core::{EnvironmentId, Error, ErrorKind, OrgPrincipal, Tenant};
use flowline_environments::{
    CertificateUpload, Environment, EnvironmentChanges, EnvironmentName, EnvironmentStatus,
    MAX_PEM_BYTES, NewEnvironment, Package, Region, SERVER_VERSION, Timezone, Upgrade, Usage,
    bytes_to_gb, parse_description,
};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Form fields of `POST /v1/environment/:id` that are text, not files, at most this long.
const MAX_TEXT_FIELD_BYTES: usize = 4096;
/// Parts of one multipart body.
const MAX_PARTS: usize = 24;

fn environment_id(raw: &str) -> Result<EnvironmentId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(EnvironmentId)
        .ok_or_else(|| {
            ApiError(Error::invalid_field(
                "environment_id",
                "must be a positive integer",
            ))
        })
}

fn tenant(caller: OrgPrincipal, environment_id: EnvironmentId) -> Tenant {
    Tenant {
        org_id: caller.org_id,
        environment_id,
    }
}

fn answer(status: StatusCode, data: Value) -> Reply {
    Reply::raw(status, json!({"code": status.as_u16(), "data": data}))
}

/// What the environment object shows beyond the row: which parts, and the live counts.
struct Extras {
    usage: Option<Usage>,
    certificate: bool,
    projects: Vec<String>,
}

/// The server's public address as the `info` URLs show it (host, port and path, no scheme,
/// like the reference's `api-….onflowize.com`): the configured public URL, else the request's
/// `Host`.
fn public_host(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.config().public_url.as_deref().map(|url| {
        url.split_once("://")
            .map_or(url, |(_, rest)| rest)
            .trim_end_matches('/')
            .to_owned()
    });
    configured
        .or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|host| host.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// The address part of the public host when it is an IP address.
fn public_ip(host: &str) -> String {
    let without_path = host.split('/').next().unwrap_or_default();
    if let Ok(address) = without_path.parse::<std::net::SocketAddr>() {
        return address.ip().to_string();
    }
    let without_port = without_path
        .rsplit_once(':')
        .map_or(without_path, |(host, _)| host);
    without_port
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

/// The reference's environment object.
fn environment_object(environment: &Environment, host: &str, extras: &Extras) -> Value {
    let id = environment.environment_id.to_string();
    let preparing = environment.status == EnvironmentStatus::Creating;
    let url = |path: String| if preparing { String::new() } else { path };
    let used_gb = bytes_to_gb(environment.storage_used_bytes);
    let total_gb = environment.total_storage_gb();
    let used_percentage = if total_gb > 0 {
        round(used_gb / total_gb as f64 * 100.0, 2)
    } else {
        100.0
    };
    let mut object = Map::new();
    let mut put = |name: &str, value: Value| {
        object.insert(name.to_owned(), value);
    };
    put("id", json!(id));
    put("name", json!(environment.name));
    put("description", json!(environment.description));
    put(
        "date_created",
        json!(flowline_core::time::api_date(environment.created_at)),
    );
    put(
        "date_updated",
        json!(flowline_core::time::api_date(environment.updated_at)),
    );
    put(
        "info",
        json!({
            "frontend_url": url(host.to_owned()),
            "api_url": url(format!("{host}/v1")),
            "html_url": url(format!("{host}/sites/{id}")),
            "timezone": environment.timezone,
        }),
    );
    put("status", json!(environment.status.as_str()));
    put("projects", json!(extras.projects));
    put(
        "package",
        json!({"name": environment.package.name(), "code": environment.package.code()}),
    );
    put(
        "software",
        json!({"current_version": {
            "version": environment.version,
            "date_created": flowline_core::time::api_date(environment.version_updated_at),
            "blocking_update": i32::from(environment.version != SERVER_VERSION),
            "changelog": "",
        }}),
    );
    put("base_storage", json!(environment.base_storage_gb));
    put("total_storage", json!(total_gb));
    put("storage_addons", json!(environment.storage_addons));
    put(
        "storage_info",
        json!({
            "used": used_gb,
            "total": total_gb,
            "used_percentage": used_percentage,
            "available_percentage": round((100.0 - used_percentage).max(0.0), 2),
        }),
    );
    let active = matches!(
        environment.status,
        EnvironmentStatus::Ready | EnvironmentStatus::Upgrading | EnvironmentStatus::Updating
    );
    put("active", json!(i32::from(active)));
    put("ip", json!(public_ip(host)));
    if let Some(usage) = &extras.usage {
        let health = if environment.over_storage || used_percentage >= 100.0 {
            "CRITICAL"
        } else if used_percentage >= 80.0 {
            "OBSERVE"
        } else {
            "OK"
        };
        put(
            "stats",
            json!({
                "status": health,
                "current_storage": used_gb,
                "visits": 0,
                "records": usage.records,
                "batches": 0,
                "webhooks": usage.webhooks,
                "tasks": usage.tasks,
                "avg_performance": round(usage.avg_step_ms, 4),
                "peak_performance": round(usage.peak_step_ms, 4),
            }),
        );
    }
    if extras.certificate {
        put(
            "ssl_certificate",
            environment.certificate_info.clone().unwrap_or(Value::Null),
        );
    }
    Value::Object(object)
}

/// The ids of the projects deployed in the environment, as the reference spells them.
async fn project_ids(
    conn: &mut flowline_db::PgConnection,
    tenant: Tenant,
) -> Result<Vec<String>, ApiError> {
    let ids = flowline_projects::hosted_project_ids(conn, tenant).await?;
    Ok(ids.into_iter().map(|id| id.to_string()).collect())
}

/// The environment object with its live counts and projects, read on one connection.
async fn full_object(
    state: &AppState,
    headers: &HeaderMap,
    caller: OrgPrincipal,
    environment: &Environment,
    certificate: bool,
) -> Result<Value, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let tenant = tenant(caller, environment.environment_id);
    let usage = flowline_environments::usage(&mut conn, tenant).await?;
    let projects = project_ids(&mut conn, tenant).await?;
    let extras = Extras {
        usage: Some(usage),
        certificate,
        projects,
    };
    Ok(environment_object(
        environment,
        &public_host(state, headers),
        &extras,
    ))
}

/// The object the reference shows for changes in progress: no `stats`, no certificate.
async fn brief_object(
    state: &AppState,
    headers: &HeaderMap,
    caller: OrgPrincipal,
    environment: &Environment,
) -> Result<Value, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let tenant = tenant(caller, environment.environment_id);
    let projects = project_ids(&mut conn, tenant).await?;
    let extras = Extras {
        usage: None,
        certificate: false,
        projects,
    };
    Ok(environment_object(
        environment,
        &public_host(state, headers),
        &extras,
    ))
}

/// `GET /v1/environment`
pub async fn list(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Reply, ApiError> {
    let environments = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::list(&mut conn, caller).await?
    };
    let mut data = Vec::with_capacity(environments.len());
    for environment in &environments {
        data.push(full_object(&state, &headers, caller, environment, false).await?);
    }
    Ok(answer(StatusCode::OK, Value::Array(data)))
}

/// `GET /v1/environment/{id}`
pub async fn get(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let environment = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::get(&mut conn, caller, environment_id).await?
    };
    let data = full_object(&state, &headers, caller, &environment, true).await?;
    Ok(answer(StatusCode::OK, data))
}

/// `GET /v1/environment/{id}/status`
pub async fn status(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    let found = flowline_environments::status(&mut conn, caller, environment_id).await?;
    let data = json!({
        "id": found.environment_id.to_string(),
        "status": found.status.as_str(),
    });
    Ok(answer(StatusCode::OK, data).uncacheable())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
    description: Option<String>,
    package: Option<String>,
    region: Option<String>,
    timezone: Option<String>,
}

fn required<'a>(field: &str, value: Option<&'a String>) -> Result<&'a str, Error> {
    value
        .map(String::as_str)
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| Error::invalid_field(field, "is required"))
}

impl CreateBody {
    fn parse(&self) -> Result<NewEnvironment, Error> {
        Ok(NewEnvironment {
            name: EnvironmentName::parse(required("name", self.name.as_ref())?)?,
            description: parse_description(self.description.as_deref().unwrap_or_default())?,
            package: Package::parse("package", required("package", self.package.as_ref())?)?,
            region: Region::parse(required("region", self.region.as_ref())?)?,
            timezone: match self.timezone.as_deref().filter(|tz| !tz.trim().is_empty()) {
                Some(timezone) => Timezone::parse(timezone)?,
                None => Timezone::default(),
            },
        })
    }
}

/// `POST /v1/environment`: 201 with the environment in status `creating`.
pub async fn create(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    headers: HeaderMap,
    Payload(body): Payload<CreateBody>,
) -> Result<Reply, ApiError> {
    let new = body.parse()?;
    let environment = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::create(&mut conn, caller, new).await?
    };
    let data = brief_object(&state, &headers, caller, &environment).await?;
    Ok(answer(StatusCode::CREATED, data))
}

/// `POST /v1/environment/{id}`: multipart form with name, description, delete_certificate and
/// the certificate's files.
pub async fn update(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let multipart = multipart.map_err(|rejection| {
        ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("Content-Type: send multipart/form-data ({rejection})"),
        )
    })?;
    let form = read_form(multipart).await?;
    let changes = form.into_changes(chrono::Utc::now())?;
    let environment = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::update(&mut conn, caller, environment_id, changes).await?
    };
    let data = full_object(&state, &headers, caller, &environment, true).await?;
    Ok(answer(StatusCode::OK, data))
}

#[derive(Default)]
struct UpdateForm {
    name: Option<String>,
    description: Option<String>,
    delete_certificate: Option<String>,
    files: CertificateUpload,
}

impl UpdateForm {
    fn into_changes(self, now: chrono::DateTime<chrono::Utc>) -> Result<EnvironmentChanges, Error> {
        let delete_certificate = match self.delete_certificate.as_deref().map(str::trim) {
            None | Some("" | "0") => false,
            Some("1") => true,
            Some(_) => {
                return Err(Error::invalid_field("delete_certificate", "must be 0 or 1"));
            }
        };
        let certificate = self.files.install(now)?;
        if delete_certificate && certificate.is_some() {
            return Err(Error::invalid_field(
                "delete_certificate",
                "cannot be 1 while certificate files are uploaded",
            ));
        }
        Ok(EnvironmentChanges {
            name: self
                .name
                .as_deref()
                .map(EnvironmentName::parse)
                .transpose()?,
            description: self
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?,
            delete_certificate,
            certificate,
        })
    }
}

fn bad_multipart(error: impl std::fmt::Display) -> ApiError {
    ApiError(Error::invalid_field(
        "body",
        format!("malformed multipart/form-data: {error}"),
    ))
}

/// Reads the form, each part bounded, every part named.
async fn read_form(mut multipart: Multipart) -> Result<UpdateForm, ApiError> {
    let mut form = UpdateForm::default();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(bad_multipart)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError(Error::invalid_field(
                "body",
                format!("at most {MAX_PARTS} parts"),
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "name" => form.name = Some(read_text(field, "name").await?),
            "description" => form.description = Some(read_text(field, "description").await?),
            "delete_certificate" => {
                form.delete_certificate = Some(read_text(field, "delete_certificate").await?);
            }
            "pem_file" => form.files.pem_file = Some(read_bytes(field, "pem_file").await?),
            "private_key_file" => {
                form.files.private_key_file = Some(read_bytes(field, "private_key_file").await?);
            }
            "certificate_file" => {
                form.files.certificate_file = Some(read_bytes(field, "certificate_file").await?);
            }
            "chain_files" | "chain_files[]" => {
                form.files
                    .chain_files
                    .push(read_bytes(field, "chain_files").await?);
            }
            "" => {
                return Err(ApiError(Error::invalid_field(
                    "body",
                    "a part has no readable name",
                )));
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(ApiError(Error::invalid_field(
                    &shown,
                    "unknown field: expected name, description, delete_certificate, pem_file, \
                     private_key_file, certificate_file or chain_files",
                )));
            }
        }
    }
    Ok(form)
}

async fn read_limited(mut field: Field<'_>, name: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError(Error::invalid_field(
                name,
                format!("is larger than {limit} bytes"),
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_bytes(field: Field<'_>, name: &str) -> Result<Vec<u8>, ApiError> {
    read_limited(field, name, MAX_PEM_BYTES).await
}

async fn read_text(field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let bytes = read_limited(field, name, MAX_TEXT_FIELD_BYTES).await?;
    String::from_utf8(bytes).map_err(|_| ApiError(Error::invalid_field(name, "must be UTF-8 text")))
}

/// `DELETE /v1/environment/{id}[?force=1]`: 200 with the status `deleting`; the data goes in
/// the background.
pub async fn delete(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let force = match query.get("force").map(|value| value.trim()) {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => {
            return Err(ApiError(Error::invalid_field("force", "must be 0 or 1")));
        }
    };
    let mut conn = state.pool().acquire().await?;
    let environment =
        flowline_environments::request_delete(&mut conn, caller, environment_id, force).await?;
    let data = json!({
        "id": environment.environment_id.to_string(),
        "status": environment.status.as_str(),
    });
    Ok(answer(StatusCode::OK, data))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    package: Option<String>,
    storage: Option<Value>,
}

impl UpgradeBody {
    fn parse(&self) -> Result<Upgrade, Error> {
        // The reference: "If package is sent, then storage is ignored".
        if let Some(package) = self
            .package
            .as_deref()
            .filter(|code| !code.trim().is_empty())
        {
            return Package::parse("package", package).map(Upgrade::Package);
        }
        match &self.storage {
            None | Some(Value::Null) => Err(Error::invalid_field(
                "package",
                "is required (or storage: 100)",
            )),
            Some(storage) if storage.as_i64() == Some(100) || storage.as_str() == Some("100") => {
                Ok(Upgrade::Storage)
            }
            Some(_) => Err(Error::invalid_field(
                "storage",
                "must be 100: storage grows by 100 GB at a time",
            )),
        }
    }
}

/// `POST /v1/environment/{id}/upgrade`
pub async fn upgrade(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Payload(body): Payload<UpgradeBody>,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    let upgrade = body.parse()?;
    let environment = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::upgrade(&mut conn, caller, environment_id, upgrade).await?
    };
    let data = brief_object(&state, &headers, caller, &environment).await?;
    Ok(answer(StatusCode::OK, data))
}

fn refuse_body(body: &Option<Value>) -> Result<(), ApiError> {
    match body {
        None => Ok(()),
        Some(Value::Object(fields)) if fields.is_empty() => Ok(()),
        Some(_) => Err(ApiError(Error::invalid_field(
            "body",
            "this call takes no parameters",
        ))),
    }
}

/// `POST /v1/environment/{id}/update-version`
pub async fn update_version(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalBody(body): OptionalBody,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    refuse_body(&body)?;
    let environment = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::update_version(&mut conn, caller, environment_id).await?
    };
    let data = brief_object(&state, &headers, caller, &environment).await?;
    Ok(answer(StatusCode::OK, data))
}

/// `POST /v1/environment/{id}/optimize`
pub async fn optimize(
    OrgAuth(caller): OrgAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalBody(body): OptionalBody,
) -> Result<Reply, ApiError> {
    let environment_id = environment_id(&id)?;
    refuse_body(&body)?;
    let environment = {
        let mut conn = state.pool().acquire().await?;
        flowline_environments::optimize(&mut conn, caller, environment_id).await?
    };
    let data = brief_object(&state, &headers, caller, &environment).await?;
    Ok(answer(StatusCode::OK, data))
}
