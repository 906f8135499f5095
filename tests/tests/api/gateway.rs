//! Gateway conventions: options, OPTIONS/Allow, HEAD, ETag/304, Last-Modified, XML, rate
//! limits, size and time bounds, request ids, and logs that keep secrets out.

use crate::schema::{RECORD, SCHEMA, schema_body};
use crate::support::*;
use flowline_auth::AuthConfig;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn options_lists_the_methods_of_the_api() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::OPTIONS] {
        let response = app
            .anonymous(method.clone(), "/v1/options")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        let value = body(response).await;
        let methods = value["resource"]["methods"].as_array().unwrap();
        for (verb, path) in [
            ("GET", "/v1/checkauthentication"),
            ("POST", "/v1/schema"),
            ("DELETE", "/v1/schema"),
            ("GET", "/v1/options"),
        ] {
            assert!(
                methods.iter().any(|m| m["method"] == verb
                    && m["endpoint"] == path
                    && m["usage"].is_string()),
                "{verb} {path} missing from {value}"
            );
        }
        assert!(
            methods
                .iter()
                .all(|m| !m["endpoint"].as_str().unwrap().starts_with("/admin"))
        );
    }
}

#[tokio::test]
async fn options_on_any_route_answers_with_allow() {
    let app = spawn_app().await;
    let response = app
        .anonymous(Method::OPTIONS, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["allow"],
        "DELETE, GET, HEAD, OPTIONS, POST, PUT"
    );
    let response = app
        .anonymous(Method::OPTIONS, "/v1/checkauthentication")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    app.request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    let get = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    let head = app
        .request(Method::HEAD, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    for name in [
        "etag",
        "last-modified",
        "content-type",
        "content-length",
        "x-ratelimit-limit",
    ] {
        assert!(head.headers().contains_key(name), "HEAD lacks {name}");
    }
    assert_eq!(head.headers()["etag"], get.headers()["etag"]);
    assert_eq!(
        head.headers()["content-length"],
        get.headers()["content-length"]
    );
    assert_eq!(head.bytes().await.unwrap().len(), 0);
    let missing = app
        .request(Method::HEAD, "/v1/options")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 200);
}

#[tokio::test]
async fn etags_and_if_none_match_give_304_with_an_empty_body() {
    let app = spawn_app().await;
    app.request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    let first = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    assert_eq!(first.headers()["pragma"], "no-cache");
    assert_eq!(first.headers()["expires"], "Thu, 19 Nov 1981 08:52:00 GMT");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let cached = app
        .request(Method::GET, "/v1/schema")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    // hyper drops Content-Length from a 304 itself; the body is empty either way.
    assert!(cached.bytes().await.unwrap().is_empty());

    let changed = schema_body(r#"{"type":"object"}"#, "{}");
    app.request(Method::PUT, "/v1/schema")
        .json(&changed)
        .send()
        .await
        .unwrap();
    let fresh = app
        .request(Method::GET, "/v1/schema")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200, "a changed resource is sent again");
    assert_ne!(fresh.headers()["etag"], etag.as_str());
    // XML and JSON forms are different representations with different tags.
    let xml = app
        .request(Method::GET, "/v1/schema")
        .header("Accept", "application/xml")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
}

#[tokio::test]
async fn last_modified_and_if_modified_since() {
    let app = spawn_app().await;
    app.request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    let first = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");
    let cached = app
        .request(Method::GET, "/v1/schema")
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());
    let old = app
        .request(Method::GET, "/v1/schema")
        .header("If-Modified-Since", "Thu, 19 Nov 1981 08:52:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 200);
}

#[tokio::test]
async fn errors_come_in_xml_when_asked() {
    let app = spawn_app().await;
    let response = app
        .anonymous(Method::GET, "/v1/schema")
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><response>"),
        "{text}"
    );
    assert!(
        text.contains("<code>401</code>") && text.contains("<request-ip>127.0.0.1</request-ip>"),
        "{text}"
    );
    assert!(text.contains("<error><code>401</code><message>"), "{text}");
}

#[tokio::test]
async fn rate_limits_are_reported_and_enforced_per_application() {
    let app = spawn_app().await;
    let limited = create_app(
        &app.pool,
        &app.org,
        flowline_auth::NewApplication {
            rate_limit: Some(3),
            ..application("small")
        },
    )
    .await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = app
            .as_app(&app.org, &limited, Method::GET, "/v1/schema")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert!(
            response.headers()["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        remaining.push(
            response.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let refused = app
        .as_app(&app.org, &limited, Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    let value = body(refused).await;
    assert_eq!(value["resource"], json!([]));
    assert_eq!(
        value["error"],
        json!({"code": 429, "message": "Too many requests."})
    );
    let other = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    assert_eq!(
        other.status(),
        404,
        "another application has its own window"
    );
    assert_eq!(other.headers()["x-ratelimit-limit"], "6000");
}

#[tokio::test]
async fn anonymous_requests_are_limited_per_address() {
    let app = spawn_app_with(Settings {
        auth: AuthConfig {
            anonymous_rate_limit: 2,
            ..AuthConfig::default()
        },
        ..Settings::default()
    })
    .await;
    for _ in 0..2 {
        let response = app
            .anonymous(Method::GET, "/v1/options")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "2");
    }
    let refused = app
        .anonymous(Method::GET, "/v1/checkauthentication")
        .send()
        .await
        .unwrap();
    assert_error(refused, 429, 429, "Too many requests.").await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 1024;
    let app = spawn_app_with(settings).await;
    let big = json!({"schema": "A".repeat(4096), "data_record": "e30="});
    let response = app
        .request(Method::POST, "/v1/schema")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_error(response, 413, 413, "larger").await;
    let missing = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    assert_eq!(missing.status(), 404, "nothing was stored");
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_408() {
    let mut settings = Settings::default();
    settings.gateway.request_timeout = Duration::from_millis(300);
    let app = spawn_app_with(settings).await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST /v1/schema HTTP/1.1\r\nHost: test\r\nX-Apikey: {}\r\nX-App: crm\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"schema\":",
        app.org.api_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server answered before the client finished"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("x-ratelimit-remaining:"),
        "{text}"
    );
    assert!(text.contains("\"code\":408"), "{text}");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app
        .anonymous(Method::GET, "/v1/options")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let echoed = app
        .anonymous(Method::GET, "/v1/nowhere")
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    assert_error(echoed, 404, 404, "doesn't exist").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_error_envelopes() {
    let app = spawn_app().await;
    assert_error(
        app.request(Method::GET, "/v1/nothing-here")
            .send()
            .await
            .unwrap(),
        404,
        404,
        "doesn't exist",
    )
    .await;
    assert_error(
        app.request(Method::PATCH, "/v1/schema")
            .send()
            .await
            .unwrap(),
        405,
        405,
        "not allowed",
    )
    .await;
}

#[tokio::test]
async fn logs_never_contain_secrets() {
    let app = spawn_app().await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let path = format!("/v1/schema?api_key={}&app_key=crm", app.org.api_key);
    app.anonymous(Method::POST, &path)
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    app.anonymous(Method::GET, "/v1/schema")
        .header(
            "Authorization",
            format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    let logs = logs();
    assert!(
        logs.contains("request finished"),
        "the server logs requests"
    );
    for secret in [
        app.org.api_key.as_str(),
        oauth.client_secret.as_str(),
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        "\"age\":36",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret or payload reached the logs"
        );
    }
}
