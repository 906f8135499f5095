//! Authentication: OAuth2 client credentials, refresh tokens, API keys, URL credentials,
//! scopes and IP allow-lists, with the documented answers and Flowize's internal codes.

use crate::support::*;
use flowline_auth::AuthConfig;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

fn bearer(tokens: &Value) -> String {
    format!("Bearer {}", tokens["access_token"].as_str().unwrap())
}

#[tokio::test]
async fn check_authentication_returns_the_documented_token_body() {
    let app = spawn_app().await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let response = app
        .anonymous(Method::GET, "/v1/checkauthentication")
        .header("Content-Type", "application/json")
        .header("client_id", &oauth.client_id)
        .header("client_secret", &oauth.client_secret)
        .header("grant_type", "client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("etag").is_none(),
        "minted tokens are never revalidated into a 304"
    );
    let value = body(response).await;
    assert_eq!(value["message"], "The credentials are valid");
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["resource", "message"], "the reference's key order");
    let resource = value["resource"].as_object().unwrap();
    let mut keys: Vec<_> = resource.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scopes",
            "token_type"
        ]
    );
    assert_eq!(resource["token_type"], "bearer");
    assert_eq!(resource["scopes"], Value::Null);
    let expires = resource["expires_in"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        expires > now && expires <= now + 3601,
        "expires_in is the unix time of expiry"
    );
    assert_eq!(
        resource["access_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count(),
        3,
        "a JWT"
    );
    assert_eq!(resource["refresh_token"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn wrong_missing_and_unsupported_credentials() {
    let app = spawn_app().await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let call = |id: &str, secret: &str, grant: Option<&str>| {
        let mut request = app
            .anonymous(Method::GET, "/v1/checkauthentication")
            .header("client_id", id)
            .header("client_secret", secret);
        if let Some(grant) = grant {
            request = request.header("grant_type", grant);
        }
        request.send()
    };
    assert_error(
        call(&oauth.client_id, "wrong", Some("client_credentials"))
            .await
            .unwrap(),
        401,
        401,
        "not valid",
    )
    .await;
    assert_error(
        call("nobody", &oauth.client_secret, Some("client_credentials"))
            .await
            .unwrap(),
        401,
        401,
        "not valid",
    )
    .await;
    assert_error(
        call(&oauth.client_id, &oauth.client_secret, None)
            .await
            .unwrap(),
        400,
        400,
        "grant_type",
    )
    .await;
    assert_error(
        call(&oauth.client_id, &oauth.client_secret, Some("password"))
            .await
            .unwrap(),
        400,
        400,
        "grant_type",
    )
    .await;
    // An API-key application has client credentials, but OAuth2 is off for it.
    assert_error(
        call(
            &app.app.client_id,
            &app.app.client_secret,
            Some("client_credentials"),
        )
        .await
        .unwrap(),
        401,
        401,
        "OAuth 2.0 is not enabled",
    )
    .await;
    let missing = app
        .anonymous(Method::GET, "/v1/checkauthentication")
        .header("grant_type", "client_credentials")
        .send()
        .await
        .unwrap();
    assert_error(missing, 401, 401, "client_id").await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let app = spawn_app().await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let refresh = |token: String| {
        app.anonymous(Method::GET, "/v1/refreshtoken")
            .header("client_id", &oauth.client_id)
            .header("client_secret", &oauth.client_secret)
            .header("refresh_token", token)
            .header("grant_type", "client_credentials")
            .send()
    };
    let first = refresh(tokens["refresh_token"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first = body(first).await;
    assert_eq!(first["message"], "The token has been generated");
    assert!(first["resource"]["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    let new_access = first["resource"]["access_token"].as_str().unwrap();
    let successor = first["resource"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(successor, tokens["refresh_token"]);
    let works = app
        .anonymous(Method::GET, "/v1/schema")
        .header("Authorization", format!("Bearer {new_access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        works.status(),
        404,
        "the new access token authenticates (no schema yet)"
    );

    // Reusing the spent token is refused with 436 and revokes its successor too.
    let reused = refresh(tokens["refresh_token"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_error(reused, 403, 436, "Refresh token not valid").await;
    let successor_after_theft = refresh(successor).await.unwrap();
    assert_error(successor_after_theft, 403, 436, "Refresh token not valid").await;

    let missing = app
        .anonymous(Method::GET, "/v1/refreshtoken")
        .header("client_id", &oauth.client_id)
        .header("client_secret", &oauth.client_secret)
        .header("grant_type", "client_credentials")
        .send()
        .await
        .unwrap();
    assert_error(missing, 400, 400, "refresh_token").await;
    let garbage = refresh("f".repeat(64)).await.unwrap();
    assert_error(garbage, 403, 436, "Refresh token not valid").await;
}

#[tokio::test]
async fn revoked_refresh_tokens_stop_working() {
    let app = spawn_app().await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let revoked = app
        .anonymous(Method::POST, "/v1/revoketoken")
        .header("client_id", &oauth.client_id)
        .header("client_secret", &oauth.client_secret)
        .header("refresh_token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(body(revoked).await["message"], "The token has been revoked");
    let refreshed = app
        .anonymous(Method::GET, "/v1/refreshtoken")
        .header("client_id", &oauth.client_id)
        .header("client_secret", &oauth.client_secret)
        .header("refresh_token", token)
        .header("grant_type", "client_credentials")
        .send()
        .await
        .unwrap();
    assert_error(refreshed, 403, 436, "Refresh token not valid").await;
}

#[tokio::test]
async fn invalid_tampered_and_expired_access_tokens_are_403_436() {
    let app = spawn_app_with(Settings {
        auth: AuthConfig {
            access_token_ttl: Duration::from_secs(1),
            ..AuthConfig::default()
        },
        ..Settings::default()
    })
    .await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let access = tokens["access_token"].as_str().unwrap();
    let get = |authorization: String| {
        app.anonymous(Method::GET, "/v1/schema")
            .header("Authorization", authorization)
            .send()
    };

    assert_error(
        get("Bearer not-a-token".into()).await.unwrap(),
        403,
        436,
        "Access token not valid",
    )
    .await;
    let mut tampered = access.to_owned();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    assert_error(
        get(format!("Bearer {tampered}")).await.unwrap(),
        403,
        436,
        "Access token not valid",
    )
    .await;
    assert_error(get("Basic abc".into()).await.unwrap(), 401, 401, "Bearer").await;

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        get(bearer(&tokens)).await.unwrap(),
        403,
        436,
        "Access token not valid",
    )
    .await;
}

#[tokio::test]
async fn api_keys_url_credentials_and_their_failures() {
    let app = spawn_app().await;
    let get = |api_key: &str, app_key: &str| {
        app.anonymous(Method::GET, "/v1/schema")
            .header("X-Apikey", api_key)
            .header("X-App", app_key)
            .send()
    };
    assert_error(
        get("0".repeat(64).as_str(), "crm").await.unwrap(),
        401,
        401,
        "not valid",
    )
    .await;
    assert_error(
        get(&app.org.api_key, "unknown-app").await.unwrap(),
        401,
        401,
        "not valid",
    )
    .await;
    // The organization API key is not the API key of applications.
    assert_error(
        get(&app.org.organization_api_key, "crm").await.unwrap(),
        401,
        401,
        "not valid",
    )
    .await;
    let half = app
        .anonymous(Method::GET, "/v1/schema")
        .header("X-Apikey", &app.org.api_key)
        .send()
        .await
        .unwrap();
    assert_error(half, 401, 401, "X-App").await;
    let none = app
        .anonymous(Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_error(none, 401, 401, "Credentials are required").await;

    // Headers win over URL parameters.
    let path = format!("/v1/schema?api_key={}&app_key=crm", "0".repeat(64));
    let mixed = app
        .anonymous(Method::GET, &path)
        .header("X-Apikey", &app.org.api_key)
        .header("X-App", "crm")
        .send()
        .await
        .unwrap();
    assert_eq!(
        mixed.status(),
        404,
        "authenticated by the headers; no schema yet"
    );
    let url_only = app.anonymous(Method::GET, &path).send().await.unwrap();
    assert_error(url_only, 401, 401, "not valid").await;
    let url_half = app
        .anonymous(
            Method::GET,
            &format!("/v1/schema?api_key={}", app.org.api_key),
        )
        .send()
        .await
        .unwrap();
    assert_error(url_half, 401, 401, "app_key").await;

    // An OAuth2 application must use bearer tokens.
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    assert_error(
        get(&app.org.api_key, &oauth.app_key).await.unwrap(),
        401,
        401,
        "OAuth 2.0",
    )
    .await;
}

#[tokio::test]
async fn requested_scopes_must_be_granted() {
    let app = spawn_app().await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "schema.read"),
    )
    .await;
    let asks_more = app
        .as_app(&app.org, &reader, Method::GET, "/v1/schema")
        .header("X-Scopes", "schema")
        .send()
        .await
        .unwrap();
    assert_error(asks_more, 403, 403, "'schema' is not granted").await;
    let unknown = app
        .request(Method::GET, "/v1/schema")
        .header("X-Scopes", "everything")
        .send()
        .await
        .unwrap();
    assert_error(unknown, 403, 403, "everything").await;
    let url = format!(
        "/v1/schema?api_key={}&app_key=reader&scopes=record",
        app.org.api_key
    );
    assert_error(
        app.anonymous(Method::GET, &url).send().await.unwrap(),
        403,
        403,
        "'record' is not granted",
    )
    .await;

    // A token carries the scopes granted when it was issued.
    let oauth = create_app(
        &app.pool,
        &app.org,
        with_scopes(oauth_application("portal"), "schema.read"),
    )
    .await;
    let tokens = app.tokens(&oauth).await;
    let write = app
        .anonymous(Method::DELETE, "/v1/schema")
        .header("Authorization", bearer(&tokens))
        .send()
        .await
        .unwrap();
    assert_error(write, 403, 403, "scope 'schema'").await;
}

#[tokio::test]
async fn ip_allow_lists_give_403_437() {
    let app = spawn_app().await;
    let elsewhere = create_app(
        &app.pool,
        &app.org,
        allowing(application("branch"), &["203.0.113.0/24"]),
    )
    .await;
    let refused = app
        .as_app(&app.org, &elsewhere, Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, 437, "Ip not valid").await;
    // X-Forwarded-For from an untrusted peer is ignored.
    let spoofed = app
        .as_app(&app.org, &elsewhere, Method::GET, "/v1/schema")
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_error(spoofed, 403, 437, "Ip not valid").await;
    let local = create_app(
        &app.pool,
        &app.org,
        allowing(application("office"), &["127.0.0.1"]),
    )
    .await;
    let allowed = app
        .as_app(&app.org, &local, Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 404, "allowed through; no schema yet");

    let oauth = create_app(
        &app.pool,
        &app.org,
        allowing(oauth_application("portal"), &["198.51.100.0/24"]),
    )
    .await;
    let login = app
        .anonymous(Method::GET, "/v1/checkauthentication")
        .header("client_id", &oauth.client_id)
        .header("client_secret", &oauth.client_secret)
        .header("grant_type", "client_credentials")
        .send()
        .await
        .unwrap();
    assert_error(login, 403, 437, "Ip not valid").await;
}

#[tokio::test]
async fn forwarded_addresses_count_behind_a_trusted_proxy() {
    let mut settings = Settings::default();
    settings.gateway.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let app = spawn_app_with(settings).await;
    let branch = create_app(
        &app.pool,
        &app.org,
        allowing(application("branch"), &["203.0.113.0/24"]),
    )
    .await;
    let via_proxy = app
        .as_app(&app.org, &branch, Method::GET, "/v1/schema")
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        via_proxy.status(),
        404,
        "the forwarded client address is allowed"
    );
    let value = body(via_proxy).await;
    assert_eq!(value["request-ip"], "203.0.113.7");
}
