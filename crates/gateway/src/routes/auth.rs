//! `GET /v1/checkauthentication`, `GET /v1/refreshtoken` and `POST /v1/revoketoken`: OAuth2
//! client credentials, read from headers (or, for clients that cannot set them, the URL).

use crate::authn::query_params;
use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Token-call parameters: headers, with the URL as a fallback.
struct TokenParams {
    headers: HeaderMap,
    query: HashMap<String, String>,
}

impl TokenParams {
    fn new(headers: HeaderMap, uri: &Uri) -> TokenParams {
        TokenParams {
            headers,
            query: query_params(uri.query()),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .or_else(|| self.query.get(name).map(String::as_str))
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }
}

pub async fn check_authentication(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Reply, ApiError> {
    let params = TokenParams::new(headers, &uri);
    let grant = state
        .auth()
        .check_authentication(
            params.get("client_id"),
            params.get("client_secret"),
            params.get("grant_type"),
            ip,
        )
        .await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({
            "access_token": grant.access_token,
            "token_type": "bearer",
            "refresh_token": grant.refresh_token,
            "expires_in": grant.expires_in,
            "scopes": Value::Null,
        }),
        "The credentials are valid",
    )
    .uncacheable())
}

pub async fn refresh_token(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Reply, ApiError> {
    let params = TokenParams::new(headers, &uri);
    let refreshed = state
        .auth()
        .refresh(
            params.get("client_id"),
            params.get("client_secret"),
            params.get("refresh_token"),
            params.get("grant_type"),
            ip,
        )
        .await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({
            "access_token": refreshed.access_token,
            "expires_at": refreshed.expires_at,
            "refresh_token": refreshed.refresh_token,
        }),
        "The token has been generated",
    )
    .uncacheable())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Reply, ApiError> {
    let params = TokenParams::new(headers, &uri);
    state
        .auth()
        .revoke(
            params.get("client_id"),
            params.get("client_secret"),
            params.get("refresh_token"),
            ip,
        )
        .await?;
    Ok(Reply::short(
        StatusCode::OK,
        json!({}),
        "The token has been revoked",
    ))
}
