//! The admin API (`/admin/v1`), for operators: create organizations and applications. It
//! answers with the same JSON as `flowline admin … --json`, is guarded by the bearer token
//! `FLOWLINE_ADMIN_TOKEN`, and does not exist when that token is unset.

use crate::error::ApiError;
use crate::payload::Payload;
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowline_auth::{AllowList, NewApplication, parse_cidr};
use flowline_core::{EnvironmentId, Error, Scopes};
use http::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let expected = state.config().admin_token.as_deref();
    match (presented, expected) {
        (Some(presented), Some(expected)) if same_secret(presented, expected) => {
            next.run(request).await
        }
        _ => ApiError(Error::unauthorized(
            "Authorization: the admin API requires 'Bearer <FLOWLINE_ADMIN_TOKEN>'",
        ))
        .into_response(),
    }
}

/// Compares digests, so that the comparison takes the same time wherever the inputs differ.
fn same_secret(presented: &str, expected: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    name: String,
}

pub async fn create_org(
    State(state): State<AppState>,
    Payload(body): Payload<NewOrgBody>,
) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let created = flowline_auth::create_organization(&mut conn, &body.name).await?;
    Ok(Reply::raw(StatusCode::CREATED, to_json(&created)?))
}

pub async fn list_orgs(State(state): State<AppState>) -> Result<Reply, ApiError> {
    let mut conn = state.pool().acquire().await?;
    let organizations = flowline_auth::list_organizations(&mut conn).await?;
    Ok(Reply::raw(StatusCode::OK, to_json(&organizations)?))
}

/// Scopes as a list or as one comma-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ScopeList {
    List(Vec<String>),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAppBody {
    name: String,
    environment_id: Option<i64>,
    scopes: Option<ScopeList>,
    #[serde(default)]
    allow_ips: Vec<String>,
    #[serde(default)]
    oauth2: bool,
    rate_limit: Option<u32>,
}

impl NewAppBody {
    fn into_new_application(self) -> Result<NewApplication, Error> {
        let scopes = match self.scopes {
            None => Ok(Scopes::default()),
            Some(ScopeList::List(items)) => Scopes::parse_list(&items.join(",")),
            Some(ScopeList::Text(text)) => Scopes::parse_list(&text),
        }
        .map_err(|error| Error::invalid_field("scopes", error))?;
        let networks = self
            .allow_ips
            .iter()
            .map(|text| {
                parse_cidr(text).ok_or_else(|| {
                    Error::invalid_field(
                        "allow_ips",
                        format!("'{text}' is not an address or CIDR network"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NewApplication {
            name: self.name,
            environment_id: self.environment_id.map(EnvironmentId),
            scopes,
            allowed_ips: AllowList::new(networks),
            oauth2: self.oauth2,
            rate_limit: self.rate_limit,
        })
    }
}

pub async fn create_app(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Payload(body): Payload<NewAppBody>,
) -> Result<Reply, ApiError> {
    let application = body.into_new_application()?;
    let mut conn = state.pool().acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, &org).await?;
    let created = flowline_auth::create_application(&mut conn, org_id, application).await?;
    Ok(Reply::raw(StatusCode::CREATED, to_json(&created)?))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|error| ApiError(Error::internal(error.to_string())))
}
