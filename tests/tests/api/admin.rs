//! The admin API: guarded by FLOWLINE_ADMIN_TOKEN, absent without it, answering with the same
//! JSON as `flowline admin … --json`.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn creates_organizations_and_applications_that_can_authenticate() {
    let app = spawn_app().await;
    let admin = |method: Method, path: &str| {
        app.anonymous(method, path)
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
    };
    let created = admin(Method::POST, "/admin/v1/orgs")
        .json(&json!({"name": "Initech"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let org = body(created).await;
    assert_eq!(
        sorted_keys(&org),
        [
            "api_key",
            "environment_id",
            "name",
            "org_id",
            "organization_api_key"
        ]
    );
    assert_eq!(org["name"], "Initech");

    let duplicate = admin(Method::POST, "/admin/v1/orgs")
        .json(&json!({"name": "initech"}))
        .send()
        .await
        .unwrap();
    assert_error(duplicate, 409, 409, "already exists").await;

    let path = format!("/admin/v1/orgs/{}/apps", org["org_id"]);
    let created = admin(Method::POST, &path)
        .json(&json!({"name": "erp", "scopes": ["schema.read"], "allow_ips": ["127.0.0.1/32"], "rate_limit": 50}))
        .send().await.unwrap();
    assert_eq!(created.status(), 201);
    let application = body(created).await;
    assert_eq!(
        sorted_keys(&application),
        [
            "app_key",
            "client_id",
            "client_secret",
            "environment_id",
            "scopes"
        ]
    );
    assert_eq!(application["scopes"], json!(["schema.read"]));
    assert_eq!(application["environment_id"], org["environment_id"]);

    let by_name = admin(Method::POST, "/admin/v1/orgs/Initech/apps")
        .json(&json!({"name": "portal", "oauth2": true, "scopes": "schema"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status(), 201);

    let used = app
        .anonymous(Method::GET, "/v1/schema")
        .header("X-Apikey", org["api_key"].as_str().unwrap())
        .header("X-App", "erp")
        .send()
        .await
        .unwrap();
    assert_eq!(
        used.status(),
        404,
        "the new application authenticates; no schema yet"
    );
    assert_eq!(used.headers()["x-ratelimit-limit"], "50");

    let listed = admin(Method::GET, "/admin/v1/orgs").send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let listed = body(listed).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Acme") && names.contains(&"Initech"),
        "{listed}"
    );
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o.get("api_key").is_none()),
        "keys are never listed"
    );
}

#[tokio::test]
async fn bad_admin_input_is_named() {
    let app = spawn_app().await;
    let admin = |method: Method, path: &str| {
        app.anonymous(method, path)
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
    };
    let cases = [
        ("/admin/v1/orgs", json!({"name": ""}), 400, "name"),
        ("/admin/v1/orgs", json!({}), 400, "name"),
        (
            "/admin/v1/orgs",
            json!({"name": "x", "extra": 1}),
            400,
            "extra",
        ),
        (
            "/admin/v1/orgs/Acme/apps",
            json!({"name": "bad name"}),
            400,
            "name",
        ),
        (
            "/admin/v1/orgs/Acme/apps",
            json!({"name": "ok", "scopes": ["root"]}),
            400,
            "scopes",
        ),
        (
            "/admin/v1/orgs/Acme/apps",
            json!({"name": "ok", "allow_ips": ["10.0.0.0/99"]}),
            400,
            "allow_ips",
        ),
        (
            "/admin/v1/orgs/Acme/apps",
            json!({"name": "ok", "rate_limit": 0}),
            400,
            "rate_limit",
        ),
        (
            "/admin/v1/orgs/Acme/apps",
            json!({"name": "ok", "environment_id": 999999}),
            404,
            "environment",
        ),
        (
            "/admin/v1/orgs/Nobody/apps",
            json!({"name": "ok"}),
            404,
            "Nobody",
        ),
        (
            "/admin/v1/orgs/Acme/apps",
            json!({"name": "crm"}),
            409,
            "already exists",
        ),
    ];
    for (path, payload, status, needle) in cases {
        let response = admin(Method::POST, path)
            .json(&payload)
            .send()
            .await
            .unwrap();
        assert_error(response, status, status, needle).await;
    }
}

#[tokio::test]
async fn the_admin_api_needs_its_token() {
    let app = spawn_app().await;
    let none = app
        .anonymous(Method::GET, "/admin/v1/orgs")
        .send()
        .await
        .unwrap();
    assert_error(none, 401, 401, "admin API").await;
    let wrong = app
        .anonymous(Method::GET, "/admin/v1/orgs")
        .header("Authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, 401, "admin API").await;
    // An organization's credentials are not admin credentials.
    let org_key = app
        .request(Method::GET, "/admin/v1/orgs")
        .send()
        .await
        .unwrap();
    assert_error(org_key, 401, 401, "admin API").await;
}

#[tokio::test]
async fn the_admin_api_is_absent_without_a_token() {
    let mut settings = Settings::default();
    settings.gateway.admin_token = None;
    let app = spawn_app_with(settings).await;
    let response = app
        .anonymous(Method::POST, "/admin/v1/orgs")
        .header("Authorization", "Bearer ")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, 404, "doesn't exist").await;
}
