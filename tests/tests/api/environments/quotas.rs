//! Two environments of one organization never mix, and each enforces its package: its
//! request rate across its applications, and its storage.

use super::*;
use flowline_auth::{CreatedApplication, NewApplication};
use flowline_core::EnvironmentId;

async fn app_in(app: &TestApp, name: &str, environment: &str) -> CreatedApplication {
    create_app(
        &app.pool,
        &app.org,
        NewApplication {
            name: name.into(),
            environment_id: Some(EnvironmentId(environment.parse().unwrap())),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn records_keystores_and_tables_of_two_environments_never_mix() {
    let (app, runner) = spawn().await;
    let staging = ready_environment(&app, &app.org, "staging").await;
    let production = app.org.environment_id.0.to_string();
    let ours = app_in(&app, "prod-app", &production).await;
    let theirs = app_in(&app, "staging-app", &staging).await;
    for (client, value) in [(&ours, "prod"), (&theirs, "staging")] {
        let send = |method: Method, path: &str| app.as_app(&app.org, client, method, path);
        let defined = send(Method::POST, "/v1/keystores")
            .json(&json!({"keystore_id": "kv", "type": "json"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            defined.status(),
            201,
            "the same keystore name in each environment"
        );
        let put = send(Method::PUT, "/v1/keystore/kv/k")
            .json(&json!({"v": value}))
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
        let table = send(Method::POST, "/v1/tabledefs")
            .json(&json!({"name": "t", "columns": [{"name": "v", "type": "string"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(table.status(), 201);
        let row = send(Method::POST, "/v1/tables/t/")
            .json(&json!({"v": value}))
            .send()
            .await
            .unwrap();
        assert!(row.status().is_success());
        let flow = send(Method::POST, "/v1/flowdiagram")
            .json(&json!({"name": "f", "start": "done", "steps": {"done": {"type": "end"}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(flow.status(), 201);
    }
    let pushed = app
        .as_app(&app.org, &ours, Method::POST, "/v1/flowdiagram")
        .send()
        .await
        .unwrap();
    drop(pushed);
    for (client, value, other) in [(&ours, "prod", "staging"), (&theirs, "staging", "prod")] {
        let send = |method: Method, path: &str| app.as_app(&app.org, client, method, path);
        let entry = send(Method::GET, "/v1/keystore/kv/k")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(entry.contains(value) && !entry.contains(other), "{entry}");
        let rows = body(
            send(Method::POST, "/v1/tables/t/search")
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(rows["total"], 1, "{rows}");
        assert_eq!(rows["data"][0]["v"], value, "{rows}");
    }
    // The environment objects count each one's own.
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT environment_id, count(*) FROM keystore_entries GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(counts.len(), 2);
    runner.shutdown().await;
}

#[tokio::test]
async fn the_package_request_rate_counts_every_application_of_the_environment() {
    let (app, runner) = spawn().await;
    let staging = ready_environment(&app, &app.org, "staging").await;
    let first = app_in(&app, "one", &staging).await;
    let second = app_in(&app, "two", &staging).await;
    // A package of 3 requests a minute, for the test's sake.
    sqlx::query("UPDATE environments SET requests_per_minute = 3 WHERE environment_id = $1")
        .bind(staging.parse::<i64>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    for client in [&first, &second, &first] {
        let response = app
            .as_app(&app.org, client, Method::GET, "/v1/keystores")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let limited = app
        .as_app(&app.org, &second, Method::GET, "/v1/keystores")
        .send()
        .await
        .unwrap();
    assert_eq!(limited.headers()["x-ratelimit-limit"], "3");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert_error(limited, 429, 429, "Too many requests.").await;
    // Another environment of the organization has its own window.
    let other = app
        .request(Method::GET, "/v1/keystores")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    runner.shutdown().await;
}

#[tokio::test]
async fn an_environment_over_its_storage_refuses_writes_but_not_reads_or_deletions() {
    let (app, runner) = spawn().await;
    let staging = ready_environment(&app, &app.org, "staging").await;
    let environment_id: i64 = staging.parse().unwrap();
    let client = app_in(&app, "filler", &staging).await;
    let send = |method: Method, path: &str| app.as_app(&app.org, &client, method, path);
    assert_eq!(
        send(Method::POST, "/v1/keystores")
            .json(&json!({"keystore_id": "kv", "type": "json"}))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    // Digits of a pseudo-random sequence: text that compression cannot shrink much.
    let mut seed: u64 = 42;
    let noise: String = (0..4000)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + u8::try_from((seed >> 33) % 26).unwrap())
        })
        .collect();
    let put = send(Method::PUT, "/v1/keystore/kv/k")
        .json(&json!({"v": noise}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());

    // Measured under its quota first; then the quota shrinks to nothing (as if the
    // environment had filled its 20 GB) and the next measurement marks it over.
    flowline_environments::measure_storage(&app.pool)
        .await
        .unwrap();
    let (used, over): (i64, bool) = sqlx::query_as(
        "SELECT storage_used_bytes, over_storage FROM environments WHERE environment_id = $1",
    )
    .bind(environment_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(used > 2000, "the entry's bytes are counted: {used}");
    assert!(!over);
    sqlx::query("UPDATE environments SET base_storage_gb = 0 WHERE environment_id = $1")
        .bind(environment_id)
        .execute(&app.pool)
        .await
        .unwrap();
    flowline_environments::measure_storage(&app.pool)
        .await
        .unwrap();

    let refused = send(Method::PUT, "/v1/keystore/kv/k2")
        .json(&json!({"v": 1}))
        .send()
        .await
        .unwrap();
    assert_error(refused, 507, 507, "more storage than its package").await;
    let read = send(Method::GET, "/v1/keystore/kv/k").send().await.unwrap();
    assert_eq!(read.status(), 200);
    let search = send(Method::POST, "/v1/keystore/kv")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_ne!(search.status(), 507);
    let deleted = send(Method::DELETE, "/v1/keystore/kv/k")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    // Other environments are not affected.
    let elsewhere = app
        .request(Method::POST, "/v1/keystores")
        .json(&json!({"keystore_id": "kv", "type": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 201);

    // The environment object reports it.
    let read = ok_json(
        as_org(
            &app,
            &app.org,
            Method::GET,
            &format!("/v1/environment/{staging}"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["stats"]["status"], "CRITICAL");
    assert_eq!(read["storage_info"]["total"], 0);
    // An upgrade of its storage lifts the refusal once its job has measured again.
    ok_json(
        as_org(
            &app,
            &app.org,
            Method::POST,
            &format!("/v1/environment/{staging}/upgrade"),
        )
        .json(&json!({"storage": 100}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    wait_for_status(&app, &app.org, &staging, "ready").await;
    let accepted = send(Method::PUT, "/v1/keystore/kv/k2")
        .json(&json!({"v": 1}))
        .send()
        .await
        .unwrap();
    assert!(accepted.status().is_success());
    runner.shutdown().await;
}

/// Publishes `onboarding`, a flow that ends at once (two requests).
async fn publish_onboarding(app: &TestApp) {
    let flow = json!({"name": "onboarding", "start": "done", "steps": {"done": {"type": "end"}}});
    publish_flow(app, flow).await;
}

/// A SOAP `insertRecord` of an empty record into `flow` by the test application.
fn soap_insert(app: &TestApp, flow: &str) -> String {
    use crate::soap::{authentication, data_record_object, envelope, flow_diagram_object};
    let auth = authentication(&app.org, &app.app);
    envelope(
        "insertRecord",
        "InsertRecordRequest",
        &format!(
            "{auth}{}{}",
            data_record_object("", "", "{}"),
            flow_diagram_object(flow, "", "")
        ),
    )
}

#[tokio::test]
async fn soap_requests_count_against_the_package_request_rate() {
    let (app, runner) = spawn().await;
    // Four requests a minute: the two that publish the flow, then two SOAP calls.
    sqlx::query("UPDATE environments SET requests_per_minute = 4")
        .execute(&app.pool)
        .await
        .unwrap();
    publish_onboarding(&app).await;
    for _ in 0..2 {
        let soap = crate::soap::post11(&app, soap_insert(&app, "onboarding")).await;
        assert_eq!(soap.status, 200, "{}", soap.text);
    }
    crate::soap::post11(&app, soap_insert(&app, "onboarding"))
        .await
        .assert_fault("429", 429, "Too many requests.");
    runner.shutdown().await;
}

#[tokio::test]
async fn soap_writes_are_refused_while_the_environment_is_over_its_storage() {
    let (app, runner) = spawn().await;
    publish_onboarding(&app).await;
    sqlx::query("UPDATE environments SET over_storage = true")
        .execute(&app.pool)
        .await
        .unwrap();
    crate::soap::post11(&app, soap_insert(&app, "onboarding"))
        .await
        .assert_fault("507", 507, "more storage than its package");
    assert_eq!(count_rows(&app, "SELECT count(*) FROM records").await, 0);
    runner.shutdown().await;
}

#[tokio::test]
async fn webhook_receipts_count_against_the_package_and_respect_its_storage() {
    let (app, runner) = spawn().await;
    publish_onboarding(&app).await;
    let registered = app
        .request(Method::POST, "/v1/webhooks")
        .json(&json!({"flow": "onboarding"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let path = body(registered).await["resource"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let deliver = || {
        app.anonymous(Method::POST, &path)
            .header("Content-Type", "application/json")
            .body(r#"{"a": 1}"#)
            .send()
    };
    // Over its storage, a receipt (it would store a record) is refused and stores nothing.
    sqlx::query("UPDATE environments SET over_storage = true")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_error(
        deliver().await.unwrap(),
        507,
        507,
        "more storage than its package",
    )
    .await;
    assert_eq!(count_rows(&app, "SELECT count(*) FROM records").await, 0);
    // Under it again, receipts count against the package's rate: five a minute, four of them
    // used above (publishing takes two requests, registering one, the refused receipt one).
    sqlx::query("UPDATE environments SET over_storage = false, requests_per_minute = 5")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(deliver().await.unwrap().status(), 201);
    assert_error(deliver().await.unwrap(), 429, 429, "Too many requests.").await;
    assert_eq!(count_rows(&app, "SELECT count(*) FROM records").await, 1);
    runner.shutdown().await;
}
