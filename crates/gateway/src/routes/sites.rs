//! The environments' public sites: `GET /sites/{environment_id}/{path}` serves what the
//! environment's URL mappings map there — a website's files or a hosted page — with their
//! Content-Type, a strong `ETag` (the content's SHA-256), `Last-Modified` and
//! `Cache-Control: public, no-cache` (caches keep a copy and revalidate it, so a new deploy
//! shows at once), and 304 to a matching `If-None-Match`. No credentials: the sites are public.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use flowline_core::time::http_date;
use flowline_core::{EnvironmentId, Error};
use flowline_projects::positive_integer;
use flowline_projects::site::{self, SiteAnswer};
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, StatusCode};

/// Where the sites live: `/sites/{environment_id}/…`.
pub const SITES_PREFIX: &str = "/sites/";

const SITE_CACHE_CONTROL: &str = "public, no-cache";

/// `GET /sites/{environment_id}`: the site's root is `…/`.
pub async fn root_without_slash(Path(id): Path<String>) -> Result<Response, ApiError> {
    let environment_id = site_environment(&id)?;
    Ok(redirect(environment_id, ""))
}

/// `GET /sites/{environment_id}/`
pub async fn root(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, &id, "", &headers).await
}

/// `GET /sites/{environment_id}/{*path}`
pub async fn file(
    State(state): State<AppState>,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, &id, &path, &headers).await
}

fn not_found() -> ApiError {
    ApiError(Error::not_found("The requested resource doesn't exist"))
}

fn site_environment(raw: &str) -> Result<EnvironmentId, ApiError> {
    positive_integer(raw)
        .map(EnvironmentId)
        .ok_or_else(not_found)
}

async fn serve(
    state: &AppState,
    id: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let environment_id = site_environment(id)?;
    let mut conn = state.pool().acquire().await?;
    let file = match site::resolve(&mut conn, environment_id, path).await? {
        SiteAnswer::File(file) => file,
        SiteAnswer::AddSlash(path) => return Ok(redirect(environment_id, &path)),
        SiteAnswer::NotFound => return Err(not_found()),
    };
    let etag = file.etag();
    let mut response = if matches_etag(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let content = site::content(&mut conn, &file).await?;
        let length = content.len();
        let mut response = Response::new(Body::from(content));
        let response_headers = response.headers_mut();
        response_headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        if let Ok(value) = HeaderValue::from_str(&file.content_type) {
            response_headers.insert(CONTENT_TYPE, value);
        }
        response
    };
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&http_date(file.updated_at)) {
        response_headers.insert(LAST_MODIFIED, value);
    }
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static(SITE_CACHE_CONTROL));
    response_headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|candidates| {
            candidates
                .split(',')
                .map(|candidate| candidate.trim().trim_start_matches("W/"))
                .any(|candidate| candidate == "*" || candidate == etag)
        })
}

/// A permanent redirect to `path` of the site (the same path with its trailing slash).
fn redirect(environment_id: EnvironmentId, path: &str) -> Response {
    let location = format!("{SITES_PREFIX}{environment_id}/{}", encode_path(path));
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(SITE_CACHE_CONTROL));
    response
}

/// Percent-encodes a decoded path for a `Location` header, keeping its slashes.
fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_percent_encoded() {
        assert_eq!(encode_path("shop/a b/é/"), "shop/a%20b/%C3%A9/");
    }
}
