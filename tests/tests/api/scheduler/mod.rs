//! The scheduler (issue 5, first milestone): records pushed through `POST /v1/record` run
//! through their flow's internal steps to a final status, as `GET /v1/record` shows.
//! `spawn_app` runs no workers; each test starts the scheduler on its own database.

mod batches;
mod crash;
mod fairness;
mod http;
mod https;
mod observability;
mod runs;

use crate::support::*;
use flowline_scheduler::{Scheduler, SchedulerConfig};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// Starts two workers on the test app's database, polling often.
pub(super) fn start_scheduler(app: &TestApp) -> Scheduler {
    let mut config = SchedulerConfig::new(2);
    config.poll = Duration::from_millis(200);
    Scheduler::start(app.pool.clone(), config)
}

/// `GET /v1/record`'s resource for `uuid`.
pub(super) async fn record(app: &TestApp, uuid: &str) -> Value {
    let response = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body(response).await["resource"].clone()
}

/// Waits until the record's status is one of `codes`; returns its view.
pub(super) async fn wait_for(app: &TestApp, uuid: &str, codes: &[&str]) -> Value {
    for _ in 0..200 {
        let view = record(app, uuid).await;
        if codes.contains(&view["info"]["status_code"].as_str().unwrap_or_default()) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "record {uuid} never reached {codes:?}: {}",
        record(app, uuid).await
    );
}

/// Pushes one record into `flow`; its uuid.
pub(super) async fn push_one(app: &TestApp, flow: &str, data: &Value) -> String {
    let created = push_record(app, flow, data).await;
    created["resource"]["uuid"].as_str().unwrap().to_owned()
}

/// The step log of the record, as `GET /v1/record` shows it in `flow_objects_info`:
/// (step id, outcome, error) in order.
pub(super) async fn step_log(app: &TestApp, uuid: &str) -> Vec<(String, String, Option<String>)> {
    let view = record(app, uuid).await;
    let text = |entry: &Value, field: &str| entry[field].as_str().unwrap().to_owned();
    view["flow_objects_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert!(
                entry["date_started"].as_str().unwrap().len() == 19,
                "{entry}"
            );
            assert!(entry["attempt"].as_str().unwrap().parse::<u32>().is_ok());
            let error = Some(text(entry, "error")).filter(|error| !error.is_empty());
            (text(entry, "step_id"), text(entry, "outcome"), error)
        })
        .collect()
}

/// Defines a JSON keystore `name` for the application.
pub(super) async fn define_keystore(
    app: &TestApp,
    org: &flowline_auth::CreatedOrganization,
    application: &flowline_auth::CreatedApplication,
    name: &str,
) {
    let response = app
        .as_app(org, application, Method::POST, "/v1/keystores")
        .json(&serde_json::json!({"keystore_id": name, "type": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", body(response).await);
}

/// Defines a table `name` (name: string, qty: integer) for the application.
pub(super) async fn define_table(
    app: &TestApp,
    org: &flowline_auth::CreatedOrganization,
    application: &flowline_auth::CreatedApplication,
    name: &str,
) {
    let response = app
        .as_app(org, application, Method::POST, "/v1/tabledefs")
        .json(&serde_json::json!({"name": name, "columns": [
            {"name": "name", "type": "string"}, {"name": "qty", "type": "integer"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", body(response).await);
}
