//! `/v1/flowdiagram` and `/v1/changeflowstatus`: flows, drafts, versions and statuses, over
//! every auth form, with their documented answers and errors; and `flowline admin import-flow`.

use crate::support::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::process::Command;

/// A small valid flow: greet, then end. Written as the server stores it (defaults spelled out),
/// so that what is read back equals it.
fn greeting(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "start": "hello",
        "steps": {
            "hello": {"type": "set", "fields": {"greeting": "Hi {{ record.name }}"},
                      "next": "done"},
            "done": {"type": "end", "status": "finished"}
        }
    })
}

async fn create(app: &TestApp, definition: &Value) -> Value {
    let response = app
        .request(Method::POST, "/v1/flowdiagram")
        .json(definition)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await
}

async fn get(app: &TestApp, reference: &str) -> Value {
    let response = app
        .request(Method::GET, "/v1/flowdiagram")
        .header("X-Flow", reference)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body(response).await
}

async fn change(app: &TestApp, flow_id: i64, status: &str) -> Response {
    app.request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", status)
        .send()
        .await
        .unwrap()
}

/// Asserts the reference's `{"id": "ok", "resource": "", "message": …}`.
async fn assert_changed(response: Response, message: &str) {
    assert_eq!(response.status(), 200);
    assert_eq!(
        body(response).await,
        json!({"id": "ok", "resource": "", "message": message})
    );
}

async fn save_draft(app: &TestApp, reference: &str, definition: &Value) -> Response {
    app.request(Method::PUT, "/v1/flowdiagram")
        .header("X-Flow", reference)
        .json(definition)
        .send()
        .await
        .unwrap()
}

fn is_api_date(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| flowline_core::time::parse_api_date(text).is_some())
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn create_get_save_and_publish_with_the_documented_bodies() {
    let app = spawn_app().await;
    let v1 = greeting("onboarding", "Greets new clients");
    let created = create(&app, &v1).await;
    assert_eq!(created["id"], 201);
    assert_eq!(created["message"], "Flow diagram is created successfully");
    assert_eq!(sorted_keys(&created), ["id", "message", "resource"]);
    let resource = &created["resource"];
    assert_eq!(
        sorted_keys(resource),
        [
            "creation_date",
            "current_flow",
            "current_version",
            "customer",
            "description",
            "draft",
            "flow_id",
            "flow_name",
            "modified_date",
            "status",
            "versions"
        ]
    );
    assert_eq!(resource["customer"], "Acme");
    assert_eq!(resource["flow_name"], "onboarding");
    assert_eq!(resource["description"], "Greets new clients");
    assert_eq!(resource["current_flow"], Value::Null);
    assert_eq!(resource["current_version"], Value::Null);
    assert_eq!(resource["versions"], json!([]));
    assert_eq!(resource["status"], "draft");
    assert_eq!(resource["draft"], v1);
    assert!(is_api_date(&resource["creation_date"]) && is_api_date(&resource["modified_date"]));
    let flow_id = resource["flow_id"].as_i64().unwrap();

    let fetched = get(&app, "onboarding").await;
    assert_eq!(fetched["id"], 200);
    assert_eq!(
        fetched["message"],
        "Flow diagram is retrieving successfully"
    );
    assert_eq!(fetched["resource"], created["resource"]);

    assert_changed(
        change(&app, flow_id, "public").await,
        "Flow diagram has been published successfully as version 1",
    )
    .await;
    let published = get(&app, &flow_id.to_string()).await["resource"].clone();
    assert_eq!(published["current_flow"], v1);
    assert_eq!(published["current_version"], 1);
    assert_eq!(published["draft"], Value::Null);
    assert_eq!(published["status"], "public");
    let versions = published["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["published_by"], "crm");
    assert!(is_api_date(&versions[0]["published_at"]));

    // A new draft waits beside the current version until it is published.
    let v2 = greeting("onboarding", "Greets new clients warmly");
    let saved = save_draft(&app, "onboarding", &v2).await;
    assert_eq!(saved.status(), 200);
    let saved = body(saved).await;
    assert_eq!(saved["id"], 200);
    assert_eq!(saved["message"], "Flow diagram draft is saved successfully");
    assert_eq!(saved["resource"]["draft"], v2);
    assert_eq!(saved["resource"]["current_flow"], v1);
    assert_eq!(saved["resource"]["description"], "Greets new clients");
    assert_changed(
        change(&app, flow_id, "public").await,
        "Flow diagram has been published successfully as version 2",
    )
    .await;
    let republished = get(&app, "onboarding").await["resource"].clone();
    assert_eq!(republished["current_flow"], v2);
    assert_eq!(republished["current_version"], 2);
    assert_eq!(republished["description"], "Greets new clients warmly");
    let numbers: Vec<&Value> = republished["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| &version["version"])
        .collect();
    assert_eq!(numbers, [&json!(1), &json!(2)]);
}

#[tokio::test]
async fn duplicates_conflict_and_unknown_flows_are_404() {
    let app = spawn_app().await;
    create(&app, &greeting("onboarding", "")).await;
    let again = app
        .request(Method::POST, "/v1/flowdiagram")
        .json(&greeting("onboarding", "another"))
        .send()
        .await
        .unwrap();
    assert_error(again, 409, 409, "named 'onboarding' already exists").await;

    for method in [Method::GET, Method::DELETE] {
        let response = app
            .request(method, "/v1/flowdiagram")
            .header("X-Flow", "nope")
            .send()
            .await
            .unwrap();
        assert_error(response, 404, 404, "Flow diagram 'nope' doesn't exist").await;
    }
    let response = save_draft(&app, "nope", &greeting("nope", "")).await;
    assert_error(response, 404, 404, "Flow diagram 'nope' doesn't exist").await;
    let response = change(&app, 987_654, "public").await;
    assert_error(response, 404, 404, "Flow diagram '987654' doesn't exist").await;
    let unnamed = app
        .request(Method::GET, "/v1/flowdiagram")
        .send()
        .await
        .unwrap();
    assert_error(
        unnamed,
        400,
        400,
        "X-Flow: is required (or the URL parameter 'flow_name')",
    )
    .await;
}

#[tokio::test]
async fn invalid_definitions_are_400s_naming_the_step_and_change_nothing() {
    let app = spawn_app().await;
    let base = greeting("checks", "");
    let with = |pointer: &str, value: Value| {
        let mut definition = base.clone();
        *definition.pointer_mut(pointer).unwrap() = value;
        definition
    };
    let mut missing_start = base.clone();
    missing_start.as_object_mut().unwrap().remove("start");
    let mut unreachable = base.clone();
    unreachable["steps"]["orphan"] = json!({"type": "end"});
    let mut cycle = base.clone();
    cycle["steps"]["hello"]["next"] = json!("again");
    cycle["steps"]["again"] = json!({"type": "set", "fields": {"n": "1"}, "next": "hello"});
    cycle["steps"]["hello"]["on_error"] = json!("done");
    let cases = [
        (
            with("/steps/done/type", json!("stop")),
            "steps.done.type: unknown step type 'stop'",
        ),
        (missing_start, "start: is required"),
        (
            with("/start", json!("hullo")),
            "start: refers to unknown step 'hullo'",
        ),
        (
            with("/steps/hello/next", json!("don")),
            "steps.hello.next: refers to unknown step 'don'",
        ),
        (unreachable, "steps.orphan: is not reachable"),
        (cycle, "is part of a cycle without a delay step"),
        (with("/name", json!("")), "name: must be"),
        (json!([1, 2]), "body: must be a JSON object"),
    ];
    for (definition, needle) in cases {
        let response = app
            .request(Method::POST, "/v1/flowdiagram")
            .json(&definition)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, needle).await;
    }
    let nothing = app
        .request(Method::GET, "/v1/flowdiagram")
        .header("X-Flow", "checks")
        .send()
        .await
        .unwrap();
    assert_eq!(
        nothing.status(),
        404,
        "no refused definition created a flow"
    );

    // A new draft is checked the same way, and cannot rename the flow.
    create(&app, &base).await;
    let dangling = save_draft(&app, "checks", &with("/steps/hello/next", json!("x"))).await;
    assert_error(
        dangling,
        400,
        400,
        "steps.hello.next: refers to unknown step 'x'",
    )
    .await;
    let renamed = save_draft(&app, "checks", &greeting("renamed", "")).await;
    assert_error(renamed, 400, 400, "name: must be 'checks'").await;
    assert_eq!(get(&app, "checks").await["resource"]["draft"], base);
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 4096;
    let app = spawn_app_with(settings).await;
    let post = || app.request(Method::POST, "/v1/flowdiagram");
    let malformed = post()
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let malformed_xml = post()
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body("<flow><name>x</name>")
        .send()
        .await
        .unwrap();
    assert_error(malformed_xml, 400, 400, "body: XML ends before").await;
    let bomb =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"boom\">]><flow><name>&x;</name></flow>";
    let refused = post()
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_error(refused, 400, 400, "DOCTYPE").await;
    let empty = post()
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_error(empty, 400, 400, "body: is required").await;
    let text = post()
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_error(text, 415, 415, "Content-Type").await;
    let mut huge = greeting("huge", "");
    huge["description"] = json!("x".repeat(8192));
    let oversized = post().json(&huge).send().await.unwrap();
    assert_error(oversized, 413, 413, "larger than").await;
}

#[tokio::test]
async fn xml_definitions_and_xml_answers() {
    let app = spawn_app().await;
    let xml = "<?xml version=\"1.0\"?><flow><name>xml flow</name><start>hello</start><steps>\
               <hello><type>set</type><fields><greeting>Hi</greeting></fields><next>done</next>\
               </hello><done><type>end</type></done></steps></flow>";
    let created = app
        .request(Method::POST, "/v1/flowdiagram")
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let text = created.text().await.unwrap();
    assert!(text.contains("<id>201</id>"), "{text}");
    assert!(text.contains("<flow_name>xml flow</flow_name>"), "{text}");
    assert!(text.contains("<status>draft</status>"), "{text}");

    let fetched = app
        .request(Method::GET, "/v1/flowdiagram?flow_name=xml%20flow")
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    let text = fetched.text().await.unwrap();
    assert!(
        text.contains("<message>Flow diagram is retrieving successfully</message>"),
        "{text}"
    );
    assert!(text.contains("<customer>Acme</customer>"), "{text}");
    assert!(text.contains("<current_flow/>"), "{text}");
}

#[tokio::test]
async fn headers_win_over_url_parameters() {
    let app = spawn_app().await;
    let first = create(&app, &greeting("first", "one")).await["resource"]["flow_id"]
        .as_i64()
        .unwrap();
    let second = create(&app, &greeting("second", "two")).await["resource"]["flow_id"]
        .as_i64()
        .unwrap();

    let by_url = app
        .request(Method::GET, "/v1/flowdiagram?flow_name=second")
        .send()
        .await
        .unwrap();
    assert_eq!(body(by_url).await["resource"]["flow_id"], second);
    let both = app
        .request(Method::GET, "/v1/flowdiagram?flow_name=second")
        .header("X-Flow", "first")
        .send()
        .await
        .unwrap();
    assert_eq!(body(both).await["resource"]["flow_id"], first);
    assert_eq!(
        get(&app, &second.to_string()).await["resource"]["flow_name"],
        "second",
        "X-Flow also takes an id"
    );

    let path = format!("/v1/changeflowstatus?flow_id={second}&status=public");
    let by_url = app.request(Method::PUT, &path).send().await.unwrap();
    assert_changed(
        by_url,
        "Flow diagram has been published successfully as version 1",
    )
    .await;
    let both = app
        .request(
            Method::PUT,
            &format!("/v1/changeflowstatus?flow_id={second}&status=inactive"),
        )
        .header("X-Status", "paused")
        .send()
        .await
        .unwrap();
    assert_changed(both, "Flow diagram has been paused successfully").await;
    assert_eq!(get(&app, "second").await["resource"]["status"], "paused");
    assert_eq!(get(&app, "first").await["resource"]["status"], "draft");

    let cases = [
        (vec![("X-Status", "public")], "", "X-Flow-Id: is required"),
        (
            vec![("X-Flow-Id", "abc"), ("X-Status", "public")],
            "",
            "X-Flow-Id: 'abc' is not",
        ),
        (
            vec![("X-Status", "public")],
            "?flow_id=1.5",
            "flow_id: '1.5' is not",
        ),
        (vec![("X-Flow-Id", "1")], "", "X-Status: is required"),
        (
            vec![("X-Flow-Id", "1"), ("X-Status", "stopped")],
            "",
            "X-Status: 'stopped' is not",
        ),
        (
            vec![("X-Flow-Id", "1"), ("X-Status", "draft")],
            "",
            "use public, paused, running or inactive",
        ),
        (
            vec![("X-Flow-Id", "1")],
            "?status=nope",
            "status: 'nope' is not",
        ),
    ];
    for (headers, query, needle) in cases {
        let mut request = app.request(Method::PUT, &format!("/v1/changeflowstatus{query}"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        assert_error(request.send().await.unwrap(), 400, 400, needle).await;
    }
}

#[tokio::test]
async fn every_auth_form_reaches_the_flows() {
    let app = spawn_app().await;
    // OAuth2 bearer token.
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let created = app
        .anonymous(Method::POST, "/v1/flowdiagram")
        .header("Authorization", &bearer)
        .header("X-Scopes", "flowdiagram")
        .json(&greeting("portal flow", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let flow_id = body(created).await["resource"]["flow_id"].as_i64().unwrap();
    let published = app
        .anonymous(Method::PUT, "/v1/changeflowstatus")
        .header("Authorization", &bearer)
        .header("X-Scopes", "flowdiagram")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "public")
        .send()
        .await
        .unwrap();
    assert_changed(
        published,
        "Flow diagram has been published successfully as version 1",
    )
    .await;
    // X-Apikey + X-App: the publisher is the OAuth application.
    let fetched = get(&app, "portal flow").await;
    assert_eq!(fetched["resource"]["versions"][0]["published_by"], "portal");
    // URL parameters, as the reference's example.
    let path = format!(
        "/v1/flowdiagram?scopes=flowdiagram.read&api_key={}&app_key={}&flow_name=portal%20flow",
        app.org.api_key, app.app.app_key
    );
    let by_url = app.anonymous(Method::GET, &path).send().await.unwrap();
    assert_eq!(by_url.status(), 200);
    assert_eq!(body(by_url).await["resource"]["flow_id"], flow_id);
    let path = format!(
        "/v1/changeflowstatus?api_key={}&app_key={}&scopes=flowdiagram&flow_id={flow_id}&status=inactive",
        app.org.api_key, app.app.app_key
    );
    let stopped = app.anonymous(Method::PUT, &path).send().await.unwrap();
    assert_changed(stopped, "Flow diagram has been stopped successfully").await;
    let anonymous = app
        .anonymous(Method::GET, "/v1/flowdiagram")
        .header("X-Flow", "portal flow")
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, 401, "Credentials are required").await;
}

#[tokio::test]
async fn the_flowdiagram_scope_is_required() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, greeting("scoped", "")).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "flowdiagram.read"),
    )
    .await;
    let as_reader = |method: Method, path: &str| {
        app.as_app(&app.org, &reader, method, path)
            .header("X-Flow", "scoped")
            .header("X-Flow-Id", flow_id.to_string())
            .header("X-Status", "paused")
    };
    let read = as_reader(Method::GET, "/v1/flowdiagram")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let create = as_reader(Method::POST, "/v1/flowdiagram")
        .json(&greeting("other", ""))
        .send()
        .await
        .unwrap();
    assert_error(create, 403, 403, "scope 'flowdiagram'").await;
    let update = as_reader(Method::PUT, "/v1/flowdiagram")
        .json(&greeting("scoped", "new"))
        .send()
        .await
        .unwrap();
    assert_error(update, 403, 403, "scope 'flowdiagram'").await;
    let delete = as_reader(Method::DELETE, "/v1/flowdiagram")
        .send()
        .await
        .unwrap();
    assert_error(delete, 403, 403, "scope 'flowdiagram'").await;
    let status = as_reader(Method::PUT, "/v1/changeflowstatus")
        .send()
        .await
        .unwrap();
    assert_error(status, 403, 403, "scope 'flowdiagram'").await;
    let narrowed = change_with_scopes(&app, flow_id, "flowdiagram.read").await;
    assert_error(narrowed, 403, 403, "scope 'flowdiagram'").await;
    let records_only = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("records"), "record"),
    )
    .await;
    let read = app
        .as_app(&app.org, &records_only, Method::GET, "/v1/flowdiagram")
        .header("X-Flow", "scoped")
        .send()
        .await
        .unwrap();
    assert_error(read, 403, 403, "flowdiagram.read").await;
    assert_eq!(get(&app, "scoped").await["resource"]["status"], "public");
}

async fn change_with_scopes(app: &TestApp, flow_id: i64, scopes: &str) -> Response {
    app.request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Scopes", scopes)
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "paused")
        .send()
        .await
        .unwrap()
}

/// Asserts a refused status change: 409, the flow's status unchanged.
async fn assert_refused(app: &TestApp, flow_id: i64, status: &str, needle: &str) {
    let before = get(app, &flow_id.to_string()).await["resource"]["status"].clone();
    assert_error(change(app, flow_id, status).await, 409, 409, needle).await;
    let after = get(app, &flow_id.to_string()).await["resource"]["status"].clone();
    assert_eq!(
        before, after,
        "a refused change to {status} changed nothing"
    );
}

async fn status_of(app: &TestApp, flow_id: i64) -> Value {
    get(app, &flow_id.to_string()).await["resource"]["status"].clone()
}

#[tokio::test]
async fn every_status_transition_and_each_illegal_one() {
    let app = spawn_app().await;
    let definition = greeting("lifecycle", "");
    let flow_id = create(&app, &definition).await["resource"]["flow_id"]
        .as_i64()
        .unwrap();
    for status in ["paused", "running", "inactive"] {
        assert_refused(
            &app,
            flow_id,
            status,
            "'lifecycle' has never been published",
        )
        .await;
    }

    assert_changed(
        change(&app, flow_id, "public").await,
        "Flow diagram has been published successfully as version 1",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "public");
    assert_refused(&app, flow_id, "public", "has no draft to publish").await;
    assert_refused(&app, flow_id, "running", "is not paused").await;

    assert_changed(
        change(&app, flow_id, "paused").await,
        "Flow diagram has been paused successfully",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "paused");
    assert_refused(&app, flow_id, "paused", "is already paused").await;
    assert_refused(&app, flow_id, "public", "use the status 'running'").await;
    // Publishing a paused flow's draft does not resume it.
    assert_eq!(
        save_draft(&app, "lifecycle", &definition).await.status(),
        200
    );
    assert_changed(
        change(&app, flow_id, "public").await,
        "Flow diagram has been published successfully as version 2; it stays paused until it \
         is resumed",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "paused");

    assert_changed(
        change(&app, flow_id, "running").await,
        "Flow diagram has been resumed successfully",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "running");
    assert_refused(&app, flow_id, "running", "is not paused").await;
    assert_changed(
        change(&app, flow_id, "paused").await,
        "Flow diagram has been paused successfully",
    )
    .await;
    assert_changed(
        change(&app, flow_id, "inactive").await,
        "Flow diagram has been stopped successfully",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "inactive");
    assert_refused(&app, flow_id, "inactive", "is already inactive").await;
    assert_refused(&app, flow_id, "paused", "is inactive").await;
    assert_refused(&app, flow_id, "public", "has no draft to publish").await;

    assert_changed(
        change(&app, flow_id, "running").await,
        "Flow diagram has been reactivated successfully",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "running");
    // A running flow's new version publishes it as public.
    assert_eq!(
        save_draft(&app, "lifecycle", &definition).await.status(),
        200
    );
    assert_changed(
        change(&app, flow_id, "public").await,
        "Flow diagram has been published successfully as version 3",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "public");
    assert_changed(
        change(&app, flow_id, "inactive").await,
        "Flow diagram has been stopped successfully",
    )
    .await;
    assert_eq!(
        save_draft(&app, "lifecycle", &definition).await.status(),
        200
    );
    assert_changed(
        change(&app, flow_id, "public").await,
        "Flow diagram has been published successfully as version 4; it stays inactive until it \
         is set running",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "inactive");
    let versions = get(&app, "lifecycle").await["resource"]["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 4);
}

/// Queues a record of the flow's version 1 straight into the tables, as ingestion would.
async fn queue_record(
    conn: &mut sqlx::PgConnection,
    app: &TestApp,
    flow_id: i64,
    status: i16,
) -> i64 {
    let record_id: i64 = sqlx::query_scalar(
        "INSERT INTO records (org_id, environment_id, uuid, flow_id, flow_version, data, status) \
         VALUES ($1, $2, $3, $4, 1, '{}', $5) RETURNING record_id",
    )
    .bind(app.org.org_id)
    .bind(app.app.environment_id)
    .bind(uuid::Uuid::new_v4())
    .bind(flow_id)
    .bind(status)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO record_queue (org_id, record_id, environment_id, flow_id) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(app.org.org_id)
    .bind(record_id)
    .bind(app.app.environment_id)
    .bind(flow_id)
    .execute(conn)
    .await
    .unwrap();
    record_id
}

async fn delete(app: &TestApp, reference: &str) -> Response {
    app.request(Method::DELETE, "/v1/flowdiagram")
        .header("X-Flow", reference)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn deleting_waits_for_queued_and_running_records_and_keeps_finished_ones() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, greeting("busy", "")).await;
    let mut conn = app.pool.acquire().await.unwrap();
    let record_id = queue_record(&mut conn, &app, flow_id, 0).await;
    assert_error(
        delete(&app, "busy").await,
        409,
        409,
        "still has 1 record(s) queued or running",
    )
    .await;

    // Running, out of the queue: still busy.
    sqlx::query("DELETE FROM record_queue WHERE record_id = $1")
        .bind(record_id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE records SET status = 1 WHERE record_id = $1")
        .bind(record_id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_error(
        delete(&app, &flow_id.to_string()).await,
        409,
        409,
        "queued or running",
    )
    .await;
    assert_eq!(status_of(&app, flow_id).await, "public");

    sqlx::query("UPDATE records SET status = 2 WHERE record_id = $1")
        .bind(record_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let deleted = delete(&app, "busy").await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        body(deleted).await,
        json!({
            "id": 200,
            "resource": {"flow_id": flow_id, "flow_name": "busy"},
            "message": "Flow diagram has been removed successfully"
        })
    );
    let gone = app
        .request(Method::GET, "/v1/flowdiagram")
        .header("X-Flow", "busy")
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, 404, "doesn't exist").await;
    let kept: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM records WHERE record_id = $1), \
         (SELECT count(*) FROM flow_versions WHERE flow_id = $2)",
    )
    .bind(record_id)
    .bind(flow_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        kept,
        (1, 1),
        "the finished record and the version it ran on survive"
    );

    // The name is free again, for a new flow.
    let again = create(&app, &greeting("busy", "")).await;
    assert_ne!(again["resource"]["flow_id"], flow_id);
    assert_eq!(delete(&app, "busy").await.status(), 200);
}

#[tokio::test]
async fn a_deletion_waits_for_an_ingestion_that_holds_the_flow() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, greeting("contended", "")).await;
    // An ingestion holds the flow `FOR KEY SHARE` while it queues its records.
    let mut ingestion = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM flows WHERE flow_id = $1 FOR KEY SHARE")
        .bind(flow_id)
        .execute(&mut *ingestion)
        .await
        .unwrap();
    let deletion = tokio::spawn(
        app.request(Method::DELETE, "/v1/flowdiagram")
            .header("X-Flow", "contended")
            .send(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !deletion.is_finished(),
        "the deletion waits for the ingestion"
    );
    queue_record(&mut ingestion, &app, flow_id, 0).await;
    ingestion.commit().await.unwrap();
    let refused = deletion.await.unwrap().unwrap();
    assert_error(refused, 409, 409, "still has 1 record(s) queued or running").await;
}

#[tokio::test]
async fn another_organization_neither_sees_nor_changes_the_flows() {
    let app = spawn_app().await;
    let definition = greeting("private", "ours");
    let flow_id = publish_flow(&app, definition.clone()).await;
    let other_org = create_org(&app.pool, "Globex").await;
    let other_app = create_app(&app.pool, &other_org, application("crm")).await;
    let as_other = |method: Method, path: &str, reference: &str| {
        app.as_app(&other_org, &other_app, method, path)
            .header("X-Flow", reference.to_owned())
            .header("X-Flow-Id", flow_id.to_string())
            .header("X-Status", "inactive")
    };
    for reference in ["private".to_owned(), flow_id.to_string()] {
        let read = as_other(Method::GET, "/v1/flowdiagram", &reference)
            .send()
            .await
            .unwrap();
        assert_error(read, 404, 404, "doesn't exist").await;
        let update = as_other(Method::PUT, "/v1/flowdiagram", &reference)
            .json(&greeting("private", "theirs"))
            .send()
            .await
            .unwrap();
        assert_error(update, 404, 404, "doesn't exist").await;
        let delete = as_other(Method::DELETE, "/v1/flowdiagram", &reference)
            .send()
            .await
            .unwrap();
        assert_error(delete, 404, 404, "doesn't exist").await;
    }
    let stop = as_other(Method::PUT, "/v1/changeflowstatus", "")
        .send()
        .await
        .unwrap();
    assert_error(stop, 404, 404, "doesn't exist").await;

    let own = as_other(Method::POST, "/v1/flowdiagram", "")
        .json(&greeting("private", "theirs"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.status(),
        201,
        "the name is free in another organization"
    );
    assert_eq!(body(own).await["resource"]["customer"], "Globex");

    let ours = get(&app, "private").await["resource"].clone();
    assert_eq!(ours["flow_id"], flow_id);
    assert_eq!(ours["status"], "public");
    assert_eq!(ours["description"], "ours");
    assert_eq!(ours["current_flow"], definition);
    assert_eq!(ours["draft"], Value::Null);
}

fn flowline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowline-under-test"));
    command
        .env_remove("DATABASE_URL")
        .env("FLOWLINE_LOG", "warn");
    command
}

fn import(url: &str, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    flowline()
        .args([
            "admin",
            "import-flow",
            "--org",
            "Acme",
            "--database-url",
            url,
        ])
        .args(extra)
        .arg(file)
        .output()
        .expect("flowline runs")
}

#[tokio::test]
async fn admin_import_flow_creates_saves_drafts_and_publishes() {
    let app = spawn_app().await;
    let url = app.database_url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("onboarding.json");
    std::fs::write(&file, greeting("imported", "v1").to_string()).unwrap();

    let output = import(&url, &file, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let flow_id: i64 = stdout.trim().parse().expect("the flow id alone on stdout");
    let fetched = get(&app, "imported").await["resource"].clone();
    assert_eq!(fetched["flow_id"], flow_id);
    assert_eq!(fetched["status"], "draft");

    std::fs::write(&file, greeting("imported", "v2").to_string()).unwrap();
    let output = import(&url, &file, &["--publish", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(
        summary,
        json!({
            "flow_id": flow_id,
            "name": "imported",
            "environment_id": app.app.environment_id,
            "created": false,
            "status": "public",
            "published_version": 1
        })
    );
    let fetched = get(&app, "imported").await["resource"].clone();
    assert_eq!(fetched["current_flow"]["description"], "v2");
    assert_eq!(
        fetched["versions"][0]["published_by"],
        Value::Null,
        "an operator published it"
    );

    std::fs::write(
        &file,
        r#"{"name": "bad", "start": "a", "steps": {"a": {"type": "end"}, "b": {"type": "end"}}}"#,
    )
    .unwrap();
    let refused = import(&url, &file, &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("steps.b: is not reachable"), "{stderr}");
    std::fs::write(&file, "{not json").unwrap();
    let refused = import(&url, &file, &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not JSON"));
    std::fs::write(&file, greeting("elsewhere", "").to_string()).unwrap();
    let refused = import(&url, &file, &["--environment", "999999"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no environment 999999"), "{stderr}");
}
