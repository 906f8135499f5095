//! The organization API's environments (`/v1/environment…`): the organization API key and
//! its refusals, every endpoint's shape, the background jobs that drive statuses, SSL
//! certificates, deletion of every row of an environment, isolation between organizations and
//! between the environments of one organization, and the package quotas.

mod access;
mod certificates;
mod lifecycle;
mod quotas;

use crate::support::*;
use flowline_auth::CreatedOrganization;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use std::time::Duration;

/// The server with the environments' job runner of a `serve` process, polling quickly.
/// Credentials are not cached, so that a deleted environment's application is refused at once.
pub(super) async fn spawn() -> (TestApp, flowline_environments::JobRunner) {
    let mut settings = Settings::default();
    settings.auth.credential_cache_ttl = Duration::ZERO;
    let app = spawn_app_with(settings).await;
    let runner = start_jobs(&app);
    (app, runner)
}

pub(super) fn start_jobs(app: &TestApp) -> flowline_environments::JobRunner {
    flowline_environments::JobRunner::start(
        app.pool.clone(),
        flowline_environments::JobSettings {
            poll_interval: Duration::from_millis(50),
            storage_interval: Duration::from_secs(3600),
            step_log_retention: Some(Duration::from_secs(24 * 3600)),
        },
    )
}

/// A request with an organization API key.
pub(super) fn as_org(
    app: &TestApp,
    org: &CreatedOrganization,
    method: Method,
    path: &str,
) -> RequestBuilder {
    app.anonymous(method, path)
        .header("X-Apikey", &org.organization_api_key)
}

pub(super) async fn ok_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let value = body(response).await;
    assert_eq!(actual, status, "{value}");
    assert_eq!(value["code"], status, "{value}");
    value["data"].clone()
}

pub(super) async fn create_environment(
    app: &TestApp,
    org: &CreatedOrganization,
    body: Value,
) -> Value {
    let response = as_org(app, org, Method::POST, "/v1/environment")
        .json(&body)
        .send()
        .await
        .unwrap();
    ok_json(response, 201).await
}

/// Polls `GET …/status` until the environment has `status` (10 s at most).
pub(super) async fn wait_for_status(
    app: &TestApp,
    org: &CreatedOrganization,
    id: &str,
    status: &str,
) {
    let path = format!("/v1/environment/{id}/status");
    let mut last = Value::Null;
    for _ in 0..200 {
        let response = as_org(app, org, Method::GET, &path).send().await.unwrap();
        last = ok_json(response, 200).await;
        assert_eq!(last["id"], id, "{last}");
        if last["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("environment {id} never reached {status}: {last}");
}

/// A ready environment of `org` named `name`; returns its id.
pub(super) async fn ready_environment(
    app: &TestApp,
    org: &CreatedOrganization,
    name: &str,
) -> String {
    let created = create_environment(
        app,
        org,
        json!({"name": name, "package": "SS-A", "region": "london", "timezone": "Europe/London"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    wait_for_status(app, org, &id, "ready").await;
    id
}

/// The keys of a JSON object, in order.
pub(super) fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The fields of the reference's environment object, in its order.
pub(super) const ENVIRONMENT_FIELDS: [&str; 17] = [
    "id",
    "name",
    "description",
    "date_created",
    "date_updated",
    "info",
    "status",
    "projects",
    "package",
    "software",
    "base_storage",
    "total_storage",
    "storage_addons",
    "storage_info",
    "active",
    "ip",
    "stats",
];
