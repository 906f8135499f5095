//! `/v1/record`: pushing records into flows, reading, replacing and deleting them, and their
//! history — every auth form, the documented bodies and errors, bad input, and isolation.

use crate::schema::{RECORD, SCHEMA, schema_body};
use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

pub fn onboarding() -> Value {
    json!({
        "name": "onboarding",
        "description": "New clients",
        "start": "done",
        "steps": {"done": {"type": "end"}}
    })
}

async fn record_count(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM records").await
}

async fn queue_count(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM record_queue").await
}

async fn set_status(app: &TestApp, uuid: &str, status: i16) {
    sqlx::query("UPDATE records SET status = $2 WHERE uuid = $1::uuid")
        .bind(uuid)
        .bind(status)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn create_get_update_delete_with_the_documented_bodies() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let uuid = "6f1c1b7e-8d7a-4c55-9a4b-3d2f1e0a9b8c";
    let data = json!({"client": [{"name": "Ada", "age": 36, "accounts": [{"iban": "NL01"}]}]});

    let created = app
        .request(Method::POST, "/v1/record")
        .header("X-Scopes", "record")
        .header("X-Flow", "onboarding")
        .header("X-Uuid", uuid)
        .header("X-Executiontime", "")
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["message"], "Data Record is created successfully");
    let resource = &created["resource"];
    assert_eq!(resource["flow_id"], flow_id.to_string());
    assert_eq!(resource["flow_name"], "onboarding");
    assert_eq!(resource["uuid"], uuid);
    assert_eq!(resource["status"], "0");
    assert_eq!(resource["data_record"], data);
    let record_id = resource["data_record_id"].as_str().unwrap().to_owned();
    assert!(record_id.parse::<i64>().is_ok(), "{created}");
    assert_eq!(queue_count(&app).await, 1, "queued with the record");

    let fetched = app
        .request(Method::GET, "/v1/record")
        .header("X-Scopes", "record.read")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    let fetched = body(fetched).await;
    assert_eq!(
        fetched["message"],
        "Data Record structure was retrieving successfully"
    );
    let resource = &fetched["resource"];
    assert_eq!(resource["info"]["uuid"], uuid);
    assert_eq!(
        resource["info"]["customer_id"],
        app.org.org_id.0.to_string()
    );
    assert_eq!(resource["info"]["flow_id"], flow_id.to_string());
    assert_eq!(resource["info"]["status"], "Not running");
    assert!(
        flowline_core::time::parse_api_date(resource["info"]["date_created"].as_str().unwrap())
            .is_some()
    );
    assert_eq!(resource["data_record"], data);
    assert_eq!(resource["flow_process"]["date_started"], "");
    assert_eq!(resource["flow_process"]["date_last_run"], "");
    assert_eq!(resource["flow_objects_info"], json!([]));

    let by_id = app
        .request(Method::GET, &format!("/v1/record/{record_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.status(), 200);
    assert_eq!(body(by_id).await["resource"]["info"]["uuid"], uuid);
    let by_uuid = app
        .request(Method::GET, &format!("/v1/record/{uuid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(body(by_uuid).await["resource"]["data_record"], data);

    let replacement = json!({"client": [{"name": "Ada Lovelace", "age": 37}]});
    let updated = app
        .request(Method::PUT, "/v1/record")
        .header("X-Uuid", uuid)
        .json(&replacement)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated = body(updated).await;
    assert_eq!(updated["message"], "Data Record was updated successfully");
    assert_eq!(
        updated["resource"],
        json!({
            "flow_name": "onboarding",
            "customer_id": app.org.org_id.0.to_string(),
            "uuid": uuid,
            "data_record": replacement,
        })
    );

    let deleted = app
        .request(Method::DELETE, "/v1/record")
        .header("uuid", uuid)
        .header("X-Scopes", "record.delete")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let deleted = body(deleted).await;
    assert_eq!(deleted["message"], "Data Record was removed successfully");
    assert_eq!(
        deleted["resource"],
        json!({"flow_name": "onboarding", "uuid": uuid})
    );
    assert_eq!((record_count(&app).await, queue_count(&app).await), (0, 0));

    let gone = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, 404, "does not exist").await;

    let history = app
        .request(Method::GET, "/v1/record/history")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200);
    let history = body(history).await;
    let actions: Vec<&str> = history["resource"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "updated", "deleted"], "{history}");
    for entry in history["resource"]["history"].as_array().unwrap() {
        assert_eq!(entry["application"], app.app.app_key, "{entry}");
    }
    assert_eq!(
        history["resource"]["history"][1]["detail"]["previous_data"],
        data
    );
    assert_eq!(history["resource"]["total"], 3);
}

#[tokio::test]
async fn an_array_is_stored_all_or_nothing() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let records = json!([{"n": 1}, {"n": 2}, {"n": 3}]);
    let created = push_record(&app, "onboarding", &records).await;
    let resource = &created["resource"];
    assert_eq!(resource["data_record"], records);
    assert_eq!(resource["data_record_id"].as_array().unwrap().len(), 3);
    assert_eq!(resource["uuid"].as_array().unwrap().len(), 3);
    assert_eq!((record_count(&app).await, queue_count(&app).await), (3, 3));

    let one_bad = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!([{"n": 4}, "not a record"]))
        .send()
        .await
        .unwrap();
    assert_error(one_bad, 400, 400, "body[1]: must be a JSON object").await;

    let with_uuid = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .header("X-Uuid", uuid::Uuid::new_v4().to_string())
        .json(&records)
        .send()
        .await
        .unwrap();
    assert_error(with_uuid, 400, 400, "X-Uuid").await;

    let empty = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_error(empty, 400, 400, "body").await;
    assert_eq!(
        record_count(&app).await,
        3,
        "nothing of the refused requests"
    );
}

#[tokio::test]
async fn records_are_validated_against_the_data_schema() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let schema = app
        .request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 201);

    let valid: Value = serde_json::from_str(RECORD).unwrap();
    push_record(&app, "onboarding", &valid).await;
    let invalid = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!({"client": {"name": "Ada", "age": -1}}))
        .send()
        .await
        .unwrap();
    assert_error(invalid, 400, 400, "/client/age").await;
    let in_array = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!([valid, {"client": {"name": 5, "age": 3}}]))
        .send()
        .await
        .unwrap();
    assert_error(in_array, 400, 400, "body[1]").await;
    assert_eq!(record_count(&app).await, 1);

    let uuid = app
        .request(Method::GET, "/v1/record/1")
        .send()
        .await
        .unwrap();
    let uuid = body(uuid).await["resource"]["info"]["uuid"].clone();
    let bad_update = app
        .request(Method::PUT, "/v1/record")
        .header("X-Uuid", uuid.as_str().unwrap())
        .json(&json!({"client": {}}))
        .send()
        .await
        .unwrap();
    assert_error(bad_update, 400, 400, "client").await;

    // A changed schema applies to the next record at once, and so does its removal.
    let stricter = SCHEMA.replace(
        r#""required":["name","age"]"#,
        r#""required":["name","age","city"]"#,
    );
    let changed = app
        .request(Method::PUT, "/v1/schema")
        .json(&schema_body(
            &stricter,
            r#"{"client":{"name":"Ada","age":36,"city":"Delft"}}"#,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 201);
    let refused = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&valid)
        .send()
        .await
        .unwrap();
    assert_error(refused, 400, 400, "city").await;
    let removed = app
        .request(Method::DELETE, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    push_record(&app, "onboarding", &json!({"anything": true})).await;
    assert_eq!(record_count(&app).await, 2);
}

#[tokio::test]
async fn execution_time_schedules_and_bad_headers_are_named() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let scheduled = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .header("X-Executiontime", &later)
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.status(), 201);
    let scheduled = body(scheduled).await;
    assert_eq!(scheduled["resource"]["status"], "4");
    let uuid = scheduled["resource"]["uuid"].as_str().unwrap().to_owned();
    let fetched = app
        .request(Method::GET, &format!("/v1/record?uuid={uuid}"))
        .send()
        .await
        .unwrap();
    let fetched = body(fetched).await;
    assert_eq!(fetched["resource"]["info"]["status"], "Scheduled");
    assert_ne!(fetched["resource"]["flow_process"]["date_next_run"], "");

    let past = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .header("X-Executiontime", "2009-11-04T19:55:41Z")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(past).await["resource"]["status"], "0");

    let cases = [
        ("X-Executiontime", "tomorrow", "X-Executiontime"),
        ("X-Uuid", "not-a-uuid", "X-Uuid"),
    ];
    for (header, value, needle) in cases {
        let refused = app
            .request(Method::POST, "/v1/record")
            .header("X-Flow", "onboarding")
            .header(header, value)
            .json(&json!({"a": 1}))
            .send()
            .await
            .unwrap();
        assert_error(refused, 400, 400, needle).await;
    }
    let no_flow = app
        .request(Method::POST, "/v1/record")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_error(no_flow, 400, 400, "X-Flow").await;
    let bad_get = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", "123")
        .send()
        .await
        .unwrap();
    assert_error(bad_get, 400, 400, "X-Uuid").await;
    let missing = app.request(Method::GET, "/v1/record").send().await.unwrap();
    assert_error(missing, 400, 400, "X-Uuid").await;
    let bad_id = app
        .request(Method::GET, "/v1/record/abc")
        .send()
        .await
        .unwrap();
    assert_error(bad_id, 400, 400, "id").await;
    assert_eq!(record_count(&app).await, 2);
}

#[tokio::test]
async fn unknown_unpublished_and_inactive_flows_and_duplicate_uuids_are_refused() {
    let app = spawn_app().await;
    let unknown = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "nope")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, 404, "nope").await;

    let draft = app
        .request(Method::POST, "/v1/flowdiagram")
        .json(&json!({"name": "draft", "start": "done", "steps": {"done": {"type": "end"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    let into_draft = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "draft")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_error(into_draft, 409, 409, "never been published").await;

    let flow_id = publish_flow(&app, onboarding()).await;
    let uuid = uuid::Uuid::new_v4().to_string();
    let first = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", flow_id.to_string())
        .header("X-Uuid", &uuid)
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201, "a flow may be named by its id");
    let again = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .header("X-Uuid", &uuid)
        .json(&json!({"a": 2}))
        .send()
        .await
        .unwrap();
    assert_error(again, 409, 409, "already exists").await;

    let stopped = app
        .request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "inactive")
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 200);
    let into_inactive = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_error(into_inactive, 409, 409, "inactive").await;
    assert_eq!(record_count(&app).await, 1);
}

#[tokio::test]
async fn a_record_being_processed_cannot_be_replaced_or_deleted() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let created = push_record(&app, "onboarding", &json!({"a": 1})).await;
    let uuid = created["resource"]["uuid"].as_str().unwrap().to_owned();
    set_status(&app, &uuid, 1).await;

    let replaced = app
        .request(Method::PUT, "/v1/record")
        .header("X-Uuid", &uuid)
        .json(&json!({"a": 2}))
        .send()
        .await
        .unwrap();
    assert_error(replaced, 409, 409, "being processed").await;
    let deleted = app
        .request(Method::DELETE, "/v1/record")
        .header("X-Uuid", &uuid)
        .send()
        .await
        .unwrap();
    assert_error(
        deleted,
        403,
        403,
        "Data record cannot be deleted: it is being used",
    )
    .await;
    let data: Value = sqlx::query_scalar("SELECT data FROM records")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(data, json!({"a": 1}));
}

#[tokio::test]
async fn every_auth_form_and_the_url_parameters_work() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let uuid = uuid::Uuid::new_v4().to_string();
    let by_url = app
        .anonymous(
            Method::POST,
            &format!(
                "/v1/record?api_key={}&app_key={}&flow_name=onboarding&uuid={uuid}&executiontime=",
                app.org.api_key, app.app.app_key
            ),
        )
        .json(&json!({"via": "url"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 201);
    assert_eq!(body(by_url).await["resource"]["uuid"], uuid);

    let oauth = create_app(&app.pool, &app.org, oauth_application("oauth-client")).await;
    let token = app.tokens(&oauth).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_token = app
        .anonymous(Method::GET, "/v1/record")
        .bearer_auth(&token)
        .header("X-Scopes", "record.read")
        .header("X-Uuid", &uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 200);
    assert_eq!(
        body(by_token).await["resource"]["data_record"],
        json!({"via": "url"})
    );

    let readonly = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "record.read"),
    )
    .await;
    let refused = app
        .as_app(&app.org, &readonly, Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, 403, "record").await;
    let anonymous = app
        .anonymous(Method::GET, "/v1/record")
        .header("X-Uuid", &uuid)
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, 401, "Credentials").await;
}

#[tokio::test]
async fn bodies_may_be_xml_and_bad_bodies_are_refused() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 2048;
    let app = spawn_app_with(settings).await;
    publish_flow(&app, onboarding()).await;

    let xml = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .header("Content-Type", "application/xml")
        .body("<record><client><name>Ada</name></client></record>")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 201);
    let created = xml.text().await.unwrap();
    assert!(
        created.contains("<message>Data Record is created successfully</message>"),
        "an XML request is answered in XML: {created}"
    );
    let uuid = created
        .split("<uuid>")
        .nth(1)
        .and_then(|rest| rest.split("</uuid>").next())
        .unwrap()
        .to_owned();
    let as_xml = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", &uuid)
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(as_xml.status(), 200);
    let text = as_xml.text().await.unwrap();
    assert!(text.contains("<name>Ada</name>"), "{text}");

    let refusals: [(&str, &str, u16, &str); 5] = [
        ("application/json", "{\"a\": ", 400, "malformed JSON"),
        ("application/xml", "<record><a>1</record>", 400, "body"),
        (
            "application/xml",
            "<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>",
            400,
            "body",
        ),
        ("text/csv", "a,b", 415, "Content-Type"),
        ("application/json", "", 400, "body"),
    ];
    for (content_type, payload, status, needle) in refusals {
        let refused = app
            .request(Method::POST, "/v1/record")
            .header("X-Flow", "onboarding")
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_error(refused, status, status, needle).await;
    }
    let huge = json!({"blob": "x".repeat(4096)});
    let too_large = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_error(too_large, 413, 413, "larger").await;
    let scalar = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!(42))
        .send()
        .await
        .unwrap();
    assert_error(scalar, 400, 400, "must be a JSON object").await;
    assert_eq!(record_count(&app).await, 1);
}

#[tokio::test]
async fn another_organization_sees_and_changes_nothing() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let created = push_record(&app, "onboarding", &json!({"secret": 1})).await;
    let uuid = created["resource"]["uuid"].as_str().unwrap().to_owned();
    let record_id = created["resource"]["data_record_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let other = create_org(&app.pool, "Rival").await;
    let rival = create_app(&app.pool, &other, application("rival")).await;
    let attempts = [
        (Method::GET, "/v1/record".to_owned()),
        (Method::GET, format!("/v1/record/{record_id}")),
        (Method::GET, "/v1/record/history".to_owned()),
        (Method::DELETE, "/v1/record".to_owned()),
    ];
    for (method, path) in attempts {
        let response = app
            .as_app(&other, &rival, method, &path)
            .header("X-Uuid", &uuid)
            .send()
            .await
            .unwrap();
        assert_error(response, 404, 404, "does not exist").await;
    }
    let replaced = app
        .as_app(&other, &rival, Method::PUT, "/v1/record")
        .header("X-Uuid", &uuid)
        .json(&json!({"secret": 2}))
        .send()
        .await
        .unwrap();
    assert_error(replaced, 404, 404, "does not exist").await;
    let pushed = app
        .as_app(&other, &rival, Method::POST, "/v1/record")
        .header("X-Flow", flow_id.to_string())
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_error(pushed, 404, 404, "does not exist").await;

    let data: Value = sqlx::query_scalar("SELECT data FROM records")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(data, json!({"secret": 1}));
    assert_eq!(record_count(&app).await, 1);
}

/// With one flusher, holds the flow `FOR UPDATE` (as a status change does) so that the flusher
/// blocks on its first request; the requests sent meanwhile wait together for it.
async fn send_while_the_flow_is_held(
    app: &TestApp,
    flow: &str,
    requests: Vec<reqwest::RequestBuilder>,
) -> Vec<(u16, Value)> {
    let mut held = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM flows WHERE name = $1 FOR UPDATE")
        .bind(flow)
        .execute(&mut *held)
        .await
        .unwrap();
    let mut sent = Vec::new();
    for (index, request) in requests.into_iter().enumerate() {
        sent.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), body(response).await)
        }));
        if index == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    held.commit().await.unwrap();
    let mut answers = Vec::new();
    for request in sent {
        answers.push(request.await.unwrap());
    }
    answers
}

async fn commits_holding(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM records WHERE data ? $1")
        .bind(key)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn requests_arriving_together_share_a_commit_but_not_a_failure() {
    let settings = Settings::default();
    let app = spawn_app_with(Settings {
        gateway: flowline_gateway::GatewayConfig {
            // One flusher that waits for the held flow rather than handing the requests back.
            ingest: flowline_gateway::IngestSettings {
                flushers: 1,
                lock_timeout: std::time::Duration::from_secs(20),
            },
            ..settings.gateway
        },
        ..settings
    })
    .await;
    publish_flow(&app, onboarding()).await;
    push_record(&app, "onboarding", &json!({"warm": true})).await;

    let together = (0..20)
        .map(|n| {
            app.request(Method::POST, "/v1/record")
                .header("X-Flow", "onboarding")
                .json(&json!({"together": n}))
        })
        .collect();
    let answers = send_while_the_flow_is_held(&app, "onboarding", together).await;
    let mut ids = std::collections::BTreeSet::new();
    for (n, (status, created)) in answers.iter().enumerate() {
        assert_eq!(*status, 201, "{created}");
        assert_eq!(created["resource"]["data_record"], json!({"together": n}));
        ids.insert(created["resource"]["data_record_id"].to_string());
    }
    assert_eq!(ids.len(), 20, "each request gets its own record");
    assert_eq!(
        commits_holding(&app, "together").await,
        2,
        "the first request alone, then the nineteen that waited, in one transaction"
    );

    let shared_uuid = uuid::Uuid::new_v4().to_string();
    let with_duplicates = (0..20)
        .map(|n| {
            let request = app
                .request(Method::POST, "/v1/record")
                .header("X-Flow", "onboarding");
            let request = if n % 4 == 1 {
                request.header("X-Uuid", &shared_uuid)
            } else {
                request
            };
            request.json(&json!({"apart": n}))
        })
        .collect();
    let answers = send_while_the_flow_is_held(&app, "onboarding", with_duplicates).await;
    let duplicates: Vec<_> = answers.iter().skip(1).step_by(4).collect();
    let winners: Vec<_> = duplicates
        .iter()
        .filter(|(status, _)| *status == 201)
        .collect();
    assert_eq!(winners.len(), 1, "{duplicates:?}");
    for (status, refused) in duplicates.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(*status, 409, "{refused}");
        assert!(refused["message"].as_str().unwrap().contains(&shared_uuid));
    }
    for (n, (status, created)) in answers.iter().enumerate() {
        if n % 4 != 1 {
            assert_eq!(*status, 201, "request {n}: {created}");
            assert_eq!(created["resource"]["data_record"], json!({"apart": n}));
        }
    }
    let stored = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", &shared_uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(stored).await["resource"]["data_record"],
        winners[0].1["resource"]["data_record"]
    );
    assert_eq!(
        (record_count(&app).await, queue_count(&app).await),
        (1 + 20 + 16, 1 + 20 + 16),
        "nothing of the refused requests, everything of the others"
    );
}

#[tokio::test]
async fn a_request_the_flusher_cannot_lock_for_is_stored_on_its_own_connection() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    push_record(&app, "onboarding", &json!({"warm": true})).await;
    let request = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", "onboarding")
        .json(&json!({"waited": true}));
    // Held for over a second, far beyond the flusher's lock timeout.
    let answers = send_while_the_flow_is_held(&app, "onboarding", vec![request]).await;
    assert_eq!(answers[0].0, 201, "{}", answers[0].1);
    assert_eq!(
        answers[0].1["resource"]["data_record"],
        json!({"waited": true})
    );
    assert_eq!(record_count(&app).await, 2);
}

#[tokio::test]
async fn json_that_postgresql_cannot_store_is_a_400_and_stores_nothing() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    for body in [
        r#"{"a": "nul \u0000 inside"}"#,
        r#"{"a": "lone \ud800 surrogate"}"#,
        r#"[{"fine": 1}, {"a": "\u0000"}]"#,
        r#"{"a": 1} trailing"#,
    ] {
        let response = app
            .request(Method::POST, "/v1/record")
            .header("X-Flow", "onboarding")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_error(response, 400, 400, "body").await;
    }
    assert_eq!(record_count(&app).await, 0);
}
