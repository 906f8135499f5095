//! The last step of every response: the pending envelope is serialized in the negotiated
//! format, GET answers get an `ETag` (and `Last-Modified` where the resource has a modification
//! time), and conditional requests get a bodiless 304.

use crate::client_ip::ClientIp;
use crate::format::{Format, XML_ROOT, to_xml};
use crate::reply::{Envelope, ModifiedAt, PendingEnvelope, Uncacheable};
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use flowline_core::time::{http_date, parse_http_date};
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, EXPIRES, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, PRAGMA,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};

struct Conditions {
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

pub async fn render(request: Request, next: Next) -> Response {
    let format = Format::negotiate(request.headers());
    let method = request.method().clone();
    let request_ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|ip| ip.0.to_string())
        .unwrap_or_default();
    let conditions = Conditions {
        if_none_match: header_text(request.headers(), &IF_NONE_MATCH),
        if_modified_since: header_text(request.headers(), &IF_MODIFIED_SINCE),
    };
    let mut response = next.run(request).await;
    // A handler that chose its own caching (the public sites) keeps it.
    if !response.headers().contains_key(CACHE_CONTROL) {
        add_cache_headers(response.headers_mut());
    }
    let Some(PendingEnvelope(envelope)) = response.extensions_mut().remove::<PendingEnvelope>()
    else {
        return response;
    };
    let (body, content_type) = match envelope {
        Envelope::Document { content_type, body } => (body, content_type),
        envelope => {
            let body = match format {
                Format::Json => envelope.into_json(response.status(), &request_ip),
                Format::Xml => to_xml(
                    XML_ROOT,
                    &envelope.into_value(response.status(), &request_ip),
                ),
            };
            (body, format.content_type())
        }
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    let cacheable = response.status() == StatusCode::OK
        && (method == Method::GET || method == Method::HEAD)
        && response.extensions().get::<Uncacheable>().is_none();
    if cacheable {
        let modified = response.extensions().get::<ModifiedAt>().map(|at| at.0);
        let etag = entity_tag(&body);
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(ETAG, value);
        }
        if let Some(at) = modified
            && let Ok(value) = HeaderValue::from_str(&http_date(at))
        {
            headers.insert(LAST_MODIFIED, value);
        }
        if not_modified(&conditions, &etag, modified) {
            return not_modified_response(response);
        }
    }
    if method == Method::HEAD {
        *response.body_mut() = Body::empty();
    } else {
        *response.body_mut() = Body::from(body);
    }
    response
}

fn header_text(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// A strong validator of the exact bytes sent.
fn entity_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// `If-None-Match` decides when present; otherwise `If-Modified-Since` against the resource's
/// modification time (both at one-second resolution).
fn not_modified(
    conditions: &Conditions,
    etag: &str,
    modified: Option<chrono::DateTime<chrono::Utc>>,
) -> bool {
    if let Some(candidates) = &conditions.if_none_match {
        return candidates
            .split(',')
            .map(|candidate| candidate.trim().trim_start_matches("W/"))
            .any(|candidate| candidate == "*" || candidate == etag);
    }
    match (&conditions.if_modified_since, modified) {
        (Some(since), Some(modified)) => {
            parse_http_date(since).is_some_and(|since| modified.timestamp() <= since.timestamp())
        }
        _ => false,
    }
}

fn not_modified_response(mut response: Response) -> Response {
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    *response.body_mut() = Body::empty();
    response
}

/// API answers are never cached by intermediaries without revalidation, as Flowize's are not.
fn add_cache_headers(headers: &mut HeaderMap) {
    headers.insert(
        EXPIRES,
        HeaderValue::from_static("Thu, 19 Nov 1981 08:52:00 GMT"),
    );
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let etag = entity_tag(b"{}");
        let matching = Conditions {
            if_none_match: Some(format!("\"other\", {etag}")),
            if_modified_since: None,
        };
        assert!(not_modified(&matching, &etag, None));
        let stale = Conditions {
            if_none_match: Some("\"other\"".into()),
            if_modified_since: Some("Thu, 01 Jan 2099 00:00:00 GMT".into()),
        };
        assert!(!not_modified(&stale, &etag, Some(chrono::Utc::now())));
    }
}
