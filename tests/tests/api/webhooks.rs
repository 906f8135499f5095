//! Webhooks: registering them (REST, admin API, CLI), receiving JSON, form and XML payloads
//! without credentials, signatures, idempotent retries, mappings, the data schema, bad input,
//! isolation between organizations, scopes, and logs that never show a uri.

use crate::schema::{RECORD, SCHEMA, schema_body};
use crate::support::*;
use hmac::{Hmac, Mac};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::Sha256;
use std::process::Command;

const SECRET: &str = "a shared secret, long enough";

fn onboarding() -> Value {
    json!({"name": "onboarding", "start": "done", "steps": {"done": {"type": "end"}}})
}

/// Registers a webhook as the default application; returns the created resource.
async fn register(app: &TestApp, request: Value) -> Value {
    let response = app
        .request(Method::POST, "/v1/webhooks")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created = body(response).await;
    assert_eq!(
        created["message"], "Webhook created successfully",
        "{created}"
    );
    created["resource"].clone()
}

/// Posts `payload` to a webhook as an outside sender does: no credentials.
async fn deliver(app: &TestApp, path: &str, content_type: &str, payload: &str) -> Response {
    app.anonymous(Method::POST, path)
        .header("Content-Type", content_type)
        .body(payload.to_owned())
        .send()
        .await
        .unwrap()
}

fn sign(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn record_count(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM records").await
}

async fn event_count(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM webhook_events").await
}

/// The data of the record a webhook answer names, read back over the records API.
async fn record_data(app: &TestApp, answer: &Value) -> Value {
    let uuid = answer["resource"]["data"]["uuid"].as_str().unwrap();
    let response = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body(response).await["resource"]["data_record"].clone()
}

async fn app_id(app: &TestApp, app_key: &str) -> i64 {
    sqlx::query_scalar("SELECT app_id FROM applications WHERE app_key = $1")
        .bind(app_key)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn registering_shows_the_uri_once_and_never_the_secret() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;

    let created = register(
        &app,
        json!({"flow": "onboarding", "secret": SECRET, "mapping": {"client.name": "name"}}),
    )
    .await;
    let uri = created["webhook_uri"].as_str().unwrap();
    assert_eq!(uri.len(), 32, "{created}");
    assert!(
        uri.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(created["path"], format!("/v1/webhook/{uri}"));
    assert_eq!(created["flow_id"], flow_id);
    assert_eq!(created["flow_name"], "onboarding");
    assert_eq!(created["environment_id"], app.org.environment_id.0);
    assert_eq!(created["signed"], true);
    assert_eq!(created["signature_header"], "X-Flowline-Signature");
    assert_eq!(created["mapping"], json!({"client.name": "name"}));
    assert_eq!(created["application_id"], app_id(&app, "crm").await);
    assert_eq!(created["uri_prefix"], &uri[..6]);
    assert!(!created.to_string().contains(SECRET));
    let webhook_id = created["webhook_id"].as_i64().unwrap();

    // By id too, and unsigned without a mapping.
    let by_id = register(&app, json!({"flow": flow_id})).await;
    assert_eq!(by_id["flow_name"], "onboarding");
    assert_eq!(by_id["signed"], false);
    assert_eq!(by_id["mapping"], Value::Null);
    assert_eq!(by_id["signature_header"], Value::Null);
    assert_ne!(by_id["webhook_uri"], created["webhook_uri"]);

    let listed = app
        .request(Method::GET, "/v1/webhooks")
        .header("X-Scopes", "webhook.read")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed = body(listed).await;
    assert_eq!(listed["message"], "Webhooks retrieved successfully");
    assert_eq!(listed["resource"]["total"], 2);
    let first = &listed["resource"]["webhooks"][0];
    assert_eq!(first["webhook_id"], webhook_id);
    assert_eq!(first["signed"], true);
    assert_eq!(first["uri_prefix"], &uri[..6]);
    assert!(first.get("webhook_uri").is_none(), "{first}");
    assert!(!listed.to_string().contains(uri));
    assert!(!listed.to_string().contains(SECRET));

    let one = app
        .request(Method::GET, &format!("/v1/webhooks/{webhook_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let one = body(one).await;
    assert_eq!(one["resource"], *first);

    // Stored as a digest, the secret kept for verifying signatures.
    let (digest, secret): (Vec<u8>, Option<String>) =
        sqlx::query_as("SELECT uri_hash, secret FROM webhooks WHERE webhook_id = $1")
            .bind(webhook_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(digest.len(), 32);
    assert_eq!(secret.as_deref(), Some(SECRET));

    let removed = app
        .request(Method::DELETE, &format!("/v1/webhooks/{webhook_id}"))
        .header("X-Scopes", "webhook")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let removed = body(removed).await;
    assert_eq!(removed["message"], "Webhook has been removed successfully");
    let again = app
        .request(Method::DELETE, &format!("/v1/webhooks/{webhook_id}"))
        .send()
        .await
        .unwrap();
    assert_error(again, 404, 404, "does not exist").await;
    let gone = app
        .request(Method::GET, &format!("/v1/webhooks/{webhook_id}"))
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, 404, "does not exist").await;
    let not_a_number = app
        .request(Method::GET, "/v1/webhooks/abc")
        .send()
        .await
        .unwrap();
    assert_error(not_a_number, 404, 404, "does not exist").await;
    let delivered = deliver(
        &app,
        &format!("/v1/webhook/{uri}"),
        "application/json",
        "{}",
    )
    .await;
    assert_error(delivered, 404, 404, "doesn't exist").await;
}

#[tokio::test]
async fn registration_refuses_bad_bodies_naming_the_field() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let cases = [
        (json!({"flow": "nope"}), 404, "'nope' does not exist"),
        (json!({"flow": 999}), 404, "'999' does not exist"),
        (json!({}), 400, "flow: is required"),
        (json!({"flow": " "}), 400, "flow: is required"),
        (
            json!({"flow": "onboarding", "secret": "short"}),
            400,
            "secret:",
        ),
        (
            json!({"flow": "onboarding", "mapping": []}),
            400,
            "mapping:",
        ),
        (
            json!({"flow": "onboarding", "mapping": {"a": "x", "a.b": "y"}}),
            400,
            "overlap",
        ),
        (
            json!({"flow": "onboarding", "mapping": {"a": 3}}),
            400,
            "mapping.a:",
        ),
        (json!({"flow": "onboarding", "url": "x"}), 400, "url"),
    ];
    for (request, status, needle) in cases {
        let response = app
            .request(Method::POST, "/v1/webhooks")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_error(response, status, status, needle).await;
    }
    let xml = app
        .request(Method::POST, "/v1/webhooks")
        .header("Content-Type", "application/xml")
        .body("<request><flow>onboarding</flow><mapping><who>client.name</who></mapping></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 201);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM webhooks")
            .fetch_one(&app.pool)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_json_payload_becomes_a_record_with_the_documented_answer() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let created = register(&app, json!({"flow": "onboarding"})).await;
    let path = created["path"].as_str().unwrap().to_owned();
    let payload = r#"{"client": {"name": "Ada", "age": 36}, "source": "shop"}"#;

    let response = app
        .anonymous(Method::POST, &path)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache")
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-ratelimit-limit"));
    assert!(response.headers().get("idempotent-replayed").is_none());
    let answer = body(response).await;
    assert_eq!(answer["message"], "Data stored successfully");
    assert_eq!(
        answer.as_object().unwrap().len(),
        2,
        "resource and message only: {answer}"
    );
    let resource = &answer["resource"];
    let event_id = resource["_id"]["$id"].as_str().unwrap();
    assert!(event_id.parse::<i64>().is_ok(), "{answer}");
    assert_eq!(resource["customer_id"], app.org.org_id.0.to_string());
    assert_eq!(resource["plugin_id"], created["webhook_id"].to_string());
    assert_eq!(
        resource["application_id"],
        app_id(&app, "crm").await.to_string()
    );
    let date = resource["date_created"].as_str().unwrap();
    assert!(
        flowline_core::time::parse_atom(date).is_some(),
        "ATOM date: {date}"
    );
    assert_eq!(resource["data"]["flow_id"], flow_id.to_string());
    assert!(
        resource["data"]["data_record_id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert_eq!(
        record_data(&app, &answer).await,
        serde_json::from_str::<Value>(payload).unwrap()
    );

    // The event keeps the body byte for byte, with its record.
    let (content_type, stored, record_id): (String, Vec<u8>, Option<i64>) = sqlx::query_as(
        "SELECT content_type, payload, record_id FROM webhook_events WHERE event_id = $1",
    )
    .bind(event_id.parse::<i64>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(content_type, "application/json");
    assert_eq!(stored, payload.as_bytes());
    assert_eq!(
        record_id.map(|id| id.to_string()),
        resource["data"]["data_record_id"]
            .as_str()
            .map(str::to_owned)
    );

    // Credentials are not needed, but a sender that sends some — valid, or not meant for
    // Flowline at all — is served the same.
    let with_credentials = app
        .request(Method::POST, &path)
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_credentials.status(), 201);
    let foreign_credentials = app
        .anonymous(Method::POST, &path)
        .header("Authorization", "Basic c2hvcDpzZWNyZXQ=")
        .json(&json!({"n": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_credentials.status(), 201);
    let without_content_type = app
        .anonymous(Method::POST, &path)
        .body(r#"{"n": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(without_content_type.status(), 201);

    // A JSON value that is not an object is kept under "payload".
    let array = deliver(&app, &path, "application/json", r#"[{"id": 1}, {"id": 2}]"#).await;
    assert_eq!(array.status(), 201);
    assert_eq!(
        record_data(&app, &body(array).await).await,
        json!({"payload": [{"id": 1}, {"id": 2}]})
    );
    let scalar = deliver(&app, &path, "application/json", r#""ping""#).await;
    assert_eq!(
        record_data(&app, &body(scalar).await).await,
        json!({"payload": "ping"})
    );
    assert_eq!(record_count(&app).await, 6);
    assert_eq!(event_count(&app).await, 6);
}

#[tokio::test]
async fn form_and_xml_payloads_become_records() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let path = register(&app, json!({"flow": "onboarding"})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();

    let form = deliver(
        &app,
        &path,
        "application/x-www-form-urlencoded; charset=utf-8",
        "name=Ada+Lovelace&age=36&tag=a&tag=b&note=caf%C3%A9",
    )
    .await;
    assert_eq!(form.status(), 201);
    assert_eq!(
        record_data(&app, &body(form).await).await,
        json!({"name": "Ada Lovelace", "age": "36", "tag": ["a", "b"], "note": "café"})
    );

    let xml = deliver(
        &app,
        &path,
        "application/xml",
        r#"<?xml version="1.0"?><order><id>7</id><client><name>Ada &amp; co</name></client></order>"#,
    )
    .await;
    assert_eq!(xml.status(), 201);
    assert!(
        xml.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let text = xml.text().await.unwrap();
    assert!(
        text.contains("<message>Data stored successfully</message>"),
        "{text}"
    );
    let uuid_start = text.find("<uuid>").unwrap() + "<uuid>".len();
    let uuid = &text[uuid_start..uuid_start + 36];
    let stored = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", uuid)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(stored).await["resource"]["data_record"],
        json!({"id": "7", "client": {"name": "Ada & co"}})
    );
    let content_types: Vec<String> =
        sqlx::query_scalar("SELECT content_type FROM webhook_events ORDER BY event_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        content_types,
        ["application/x-www-form-urlencoded", "application/xml"]
    );
}

#[tokio::test]
async fn bad_payloads_are_refused_and_nothing_is_stored() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 4096;
    let app = spawn_app_with(settings).await;
    publish_flow(&app, onboarding()).await;
    let path = register(&app, json!({"flow": "onboarding"})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();

    let cases = [
        ("application/json", "{\"a\": ", 400, "body: malformed JSON"),
        ("application/json", "   ", 400, "body: is required"),
        ("application/json", r#"{"a": "x\u0000y"}"#, 400, "body:"),
        ("application/xml", "<a><b></a>", 400, "body:"),
        (
            "application/xml",
            r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>"#,
            400,
            "DOCTYPE",
        ),
        ("application/xml", "<a>&ext;</a>", 400, "entity"),
        (
            "application/x-www-form-urlencoded",
            "",
            400,
            "body: is required",
        ),
        ("text/plain", "hello", 415, "Content-Type: 'text/plain'"),
        (
            "multipart/form-data; boundary=x",
            "--x--",
            415,
            "Content-Type",
        ),
    ];
    for (content_type, payload, status, needle) in cases {
        let response = app
            .anonymous(Method::POST, &path)
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_error(response, status, status, needle).await;
    }
    let large = format!(r#"{{"blob": "{}"}}"#, "x".repeat(5000));
    let too_large = deliver(&app, &path, "application/json", &large).await;
    assert_error(too_large, 413, 413, "larger").await;
    let bad_key = app
        .anonymous(Method::POST, &path)
        .header("Idempotency-Key", "")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(bad_key, 400, 400, "Idempotency-Key:").await;
    assert_eq!(record_count(&app).await, 0);
    assert_eq!(event_count(&app).await, 0);
}

#[tokio::test]
async fn signed_webhooks_refuse_missing_and_wrong_signatures() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let path = register(&app, json!({"flow": "onboarding", "secret": SECRET})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload = r#"{"order": 42}"#;
    let send = |signature: Option<String>, body: &'static str| {
        let mut request = app
            .anonymous(Method::POST, &path)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Flowline-Signature", signature);
        }
        request.send()
    };

    let missing = send(None, payload).await.unwrap();
    assert_error(
        missing,
        401,
        401,
        "X-Flowline-Signature: this webhook requires",
    )
    .await;
    let malformed = send(Some("md5=abc".into()), payload).await.unwrap();
    assert_error(malformed, 401, 401, "expected 'sha256='").await;
    let wrong_key = send(Some(sign("another secret entirely", payload)), payload)
        .await
        .unwrap();
    assert_error(wrong_key, 401, 401, "does not match").await;
    let tampered = send(Some(sign(SECRET, payload)), r#"{"order": 43}"#)
        .await
        .unwrap();
    assert_error(tampered, 401, 401, "does not match").await;
    assert_eq!(event_count(&app).await, 0);
    assert_eq!(record_count(&app).await, 0);

    let signed = send(Some(sign(SECRET, payload)), payload).await.unwrap();
    assert_eq!(signed.status(), 201);
    assert_eq!(record_data(&app, &body(signed).await).await["order"], 42);
    // The signature covers the raw bytes, whatever the format.
    let form = "a=1&b=2";
    let signed_form = app
        .anonymous(Method::POST, &path)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Flowline-Signature", sign(SECRET, form).to_uppercase())
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_form.status(), 201);
    assert_eq!(event_count(&app).await, 2);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_creates_nothing() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let path = register(&app, json!({"flow": "onboarding"})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_path = register(&app, json!({"flow": "onboarding"})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |path: String, key: &'static str, n: i64| {
        app.anonymous(Method::POST, &path)
            .header("Idempotency-Key", key)
            .json(&json!({"n": n}))
            .send()
    };

    let first = send(path.clone(), "delivery-1", 1).await.unwrap();
    assert_eq!(first.status(), 201);
    let first = first.text().await.unwrap();
    let retry = send(path.clone(), "delivery-1", 1).await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry.text().await.unwrap(),
        first,
        "the same answer, byte for byte"
    );
    assert_eq!(record_count(&app).await, 1);
    assert_eq!(event_count(&app).await, 1);

    // A retry answers as the first time did, whatever it carries.
    let changed = send(path.clone(), "delivery-1", 2).await.unwrap();
    assert_eq!(changed.text().await.unwrap(), first);
    // Another key, another webhook, or no key: a new event each time.
    let second = send(path.clone(), "delivery-2", 1).await.unwrap();
    assert_ne!(second.text().await.unwrap(), first);
    let elsewhere = send(other_path, "delivery-1", 1).await.unwrap();
    assert_eq!(elsewhere.status(), 201);
    for _ in 0..2 {
        let unkeyed = deliver(&app, &path, "application/json", "{}").await;
        assert_eq!(unkeyed.status(), 201);
    }
    assert_eq!(record_count(&app).await, 5);

    // Concurrent duplicates: one record, and every answer is that record's.
    let url = app.url(&path);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = app.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .header("Idempotency-Key", "burst")
                    .json(&json!({"burst": true}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                response.text().await.unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert!(answers.iter().all(|answer| *answer == answers[0]));
    assert_eq!(record_count(&app).await, 6);
    let burst: i64 =
        sqlx::query_scalar("SELECT count(*) FROM records WHERE data @> '{\"burst\": true}'::jsonb")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(burst, 1);
}

#[tokio::test]
async fn a_failed_delivery_is_not_remembered_under_its_key() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let schema = app
        .request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 201);
    let path = register(&app, json!({"flow": "onboarding"})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();

    let invalid = app
        .anonymous(Method::POST, &path)
        .header("Idempotency-Key", "k1")
        .json(&json!({"client": {"name": "Ada", "age": -1}}))
        .send()
        .await
        .unwrap();
    let refused = assert_error(invalid, 400, 400, "body").await;
    assert!(
        refused["message"].as_str().unwrap().contains("/client/age"),
        "{refused}"
    );
    assert_eq!(record_count(&app).await, 0);
    assert_eq!(event_count(&app).await, 0);

    let fixed = app
        .anonymous(Method::POST, &path)
        .header("Idempotency-Key", "k1")
        .body(RECORD)
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), 201);
    assert!(fixed.headers().get("idempotent-replayed").is_none());
    assert_eq!(record_count(&app).await, 1);
}

#[tokio::test]
async fn mappings_build_the_record_from_payload_paths() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let created = register(
        &app,
        json!({"flow": "onboarding", "mapping": {
            "client.name": "customer.full_name",
            "client.age": "customer.age",
            "first_item": "items.0.sku",
            "client.email": "customer.email",
        }}),
    )
    .await;
    let path = created["path"].as_str().unwrap();
    let answer = deliver(
        &app,
        path,
        "application/json",
        r#"{"customer": {"full_name": "Ada", "age": 36}, "items": [{"sku": "X1"}], "noise": 1}"#,
    )
    .await;
    assert_eq!(answer.status(), 201);
    assert_eq!(
        record_data(&app, &body(answer).await).await,
        json!({"client": {"name": "Ada", "age": 36, "email": null}, "first_item": "X1"})
    );
    let form = deliver(
        &app,
        path,
        "application/x-www-form-urlencoded",
        "customer=x",
    )
    .await;
    assert_eq!(
        record_data(&app, &body(form).await).await,
        json!({"client": {"name": null, "age": null, "email": null}, "first_item": null})
    );
}

#[tokio::test]
async fn unknown_uris_and_unready_flows_are_refused() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    for path in [
        "/v1/webhook/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/v1/webhook/short",
        "/v1/webhook/%00",
    ] {
        let response = deliver(&app, path, "application/json", "{}").await;
        assert_error(response, 404, 404, "doesn't exist").await;
    }
    let created = register(&app, json!({"flow": "onboarding"})).await;
    let path = created["path"].as_str().unwrap();
    let wrong_method = app.anonymous(Method::GET, path).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);

    // A webhook may point at a draft; its deliveries wait for the flow to be published.
    let draft = app
        .request(Method::POST, "/v1/flowdiagram")
        .json(&json!({"name": "later", "start": "done", "steps": {"done": {"type": "end"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    let draft_path = register(&app, json!({"flow": "later"})).await["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = deliver(&app, &draft_path, "application/json", "{}").await;
    assert_error(refused, 409, 409, "never been published").await;
    assert_eq!(event_count(&app).await, 0);

    // A webhook goes with its flow.
    let removed = app
        .request(Method::DELETE, "/v1/flowdiagram")
        .header("X-Flow", "later")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let gone = deliver(&app, &draft_path, "application/json", "{}").await;
    assert_error(gone, 404, 404, "doesn't exist").await;
    let listed = app
        .request(Method::GET, "/v1/webhooks")
        .send()
        .await
        .unwrap();
    assert_eq!(body(listed).await["resource"]["total"], 1);
}

#[tokio::test]
async fn another_organization_can_neither_see_nor_remove_a_webhook() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let created = register(&app, json!({"flow": "onboarding"})).await;
    let webhook_id = created["webhook_id"].as_i64().unwrap();
    let path = created["path"].as_str().unwrap().to_owned();

    let other_org = create_org(&app.pool, "Globex").await;
    let other_app = create_app(&app.pool, &other_org, application("rival")).await;
    let as_other = |method: Method, path: &str| app.as_app(&other_org, &other_app, method, path);

    let listed = as_other(Method::GET, "/v1/webhooks").send().await.unwrap();
    assert_eq!(
        body(listed).await["resource"],
        json!({"webhooks": [], "total": 0})
    );
    let get = as_other(Method::GET, &format!("/v1/webhooks/{webhook_id}"))
        .send()
        .await
        .unwrap();
    assert_error(get, 404, 404, "does not exist").await;
    let delete = as_other(Method::DELETE, &format!("/v1/webhooks/{webhook_id}"))
        .send()
        .await
        .unwrap();
    assert_error(delete, 404, 404, "does not exist").await;
    let flow_of_other = as_other(Method::POST, "/v1/webhooks")
        .json(&json!({"flow": "onboarding"}))
        .send()
        .await
        .unwrap();
    assert_error(flow_of_other, 404, 404, "'onboarding' does not exist").await;

    // The uri alone triggers, by design, and the record goes to the webhook's organization
    // whoever's credentials the sender adds.
    let delivered = as_other(Method::POST, &path)
        .json(&json!({"from": "globex"}))
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 201);
    let answer = body(delivered).await;
    assert_eq!(
        answer["resource"]["customer_id"],
        app.org.org_id.0.to_string()
    );
    assert_eq!(record_data(&app, &answer).await, json!({"from": "globex"}));
    let uuid = answer["resource"]["data"]["uuid"].as_str().unwrap();
    let not_theirs = as_other(Method::GET, "/v1/record")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(not_theirs.status(), 404);
    let still_there = app
        .request(Method::GET, &format!("/v1/webhooks/{webhook_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(still_there.status(), 200);
}

#[tokio::test]
async fn registration_needs_credentials_and_the_webhook_scope() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "webhook.read"),
    )
    .await;
    let schema_only = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("schemer"), "schema"),
    )
    .await;
    let webhook_id = register(&app, json!({"flow": "onboarding"})).await["webhook_id"]
        .as_i64()
        .unwrap();

    let anonymous = app
        .anonymous(Method::GET, "/v1/webhooks")
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, 401, "Credentials are required").await;
    let listed = app
        .as_app(&app.org, &reader, Method::GET, "/v1/webhooks")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let create = app
        .as_app(&app.org, &reader, Method::POST, "/v1/webhooks")
        .json(&json!({"flow": "onboarding"}))
        .send()
        .await
        .unwrap();
    assert_error(create, 403, 403, "'webhook'").await;
    let delete = app
        .as_app(
            &app.org,
            &reader,
            Method::DELETE,
            &format!("/v1/webhooks/{webhook_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_error(delete, 403, 403, "'webhook'").await;
    let list = app
        .as_app(&app.org, &schema_only, Method::GET, "/v1/webhooks")
        .send()
        .await
        .unwrap();
    assert_error(list, 403, 403, "'webhook.read'").await;
    let narrowed = app
        .request(Method::POST, "/v1/webhooks")
        .header("X-Scopes", "webhook.read")
        .json(&json!({"flow": "onboarding"}))
        .send()
        .await
        .unwrap();
    assert_error(narrowed, 403, 403, "'webhook'").await;
}

#[tokio::test]
async fn operators_manage_webhooks_over_the_admin_api() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let admin = |method: Method, path: &str| {
        app.anonymous(method, path)
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
    };

    let created = admin(Method::POST, "/admin/v1/orgs/Acme/webhooks")
        .json(&json!({"flow": "onboarding", "secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["flow_id"], flow_id, "bare JSON: {created}");
    assert_eq!(created["application_id"], Value::Null);
    assert_eq!(created["environment_id"], app.org.environment_id.0);
    let path = created["path"].as_str().unwrap().to_owned();
    let webhook_id = created["webhook_id"].as_i64().unwrap();

    let payload = r#"{"via": "operator"}"#;
    let delivered = app
        .anonymous(Method::POST, &path)
        .header("Content-Type", "application/json")
        .header("X-Flowline-Signature", sign(SECRET, payload))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 201);
    let answer = body(delivered).await;
    assert_eq!(answer["resource"]["application_id"], Value::Null);
    assert_eq!(answer["resource"]["plugin_id"], webhook_id.to_string());

    // The application sees the operator's webhook too: it belongs to the environment.
    let listed = app
        .request(Method::GET, "/v1/webhooks")
        .send()
        .await
        .unwrap();
    assert_eq!(body(listed).await["resource"]["total"], 1);
    let listed = admin(
        Method::GET,
        &format!("/admin/v1/orgs/{}/webhooks", app.org.org_id),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(listed.status(), 200);
    let listed = body(listed).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(SECRET));

    let refusals = [
        (
            admin(Method::POST, "/admin/v1/orgs/Nobody/webhooks").json(&json!({"flow": "x"})),
            404,
            "No organization",
        ),
        (
            admin(Method::POST, "/admin/v1/orgs/Acme/webhooks")
                .json(&json!({"flow": "onboarding", "environment_id": 999})),
            404,
            "No environment 999",
        ),
        (
            app.anonymous(Method::GET, "/admin/v1/orgs/Acme/webhooks"),
            401,
            "admin API",
        ),
        (
            admin(Method::DELETE, "/admin/v1/orgs/Acme/webhooks/999"),
            404,
            "does not exist",
        ),
    ];
    for (request, status, needle) in refusals {
        assert_error(request.send().await.unwrap(), status, status, needle).await;
    }
    let deleted = admin(
        Method::DELETE,
        &format!("/admin/v1/orgs/Acme/webhooks/{webhook_id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        body(deleted).await,
        json!({"webhook_id": webhook_id, "deleted": true})
    );
    assert_eq!(event_count(&app).await, 0, "a webhook's events go with it");
    let gone = deliver(&app, &path, "application/json", payload).await;
    assert_eq!(gone.status(), 404);
}

fn flowline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowline-under-test"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("FLOWLINE_WEBHOOK_SECRET")
        .env("FLOWLINE_LOG", "warn");
    command
}

fn run_json(command: &mut Command) -> Value {
    let output = command.output().expect("flowline runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim().lines().count(), 1, "one JSON value: {stdout}");
    serde_json::from_str(stdout.trim()).expect("JSON on stdout")
}

#[tokio::test]
async fn the_cli_creates_lists_and_removes_webhooks() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let url = app.database_url();
    let dir = tempfile::tempdir().unwrap();
    let mapping_file = dir.path().join("mapping.json");
    std::fs::write(&mapping_file, r#"{"client.name": "name"}"#).unwrap();

    let created = run_json(
        flowline()
            .args([
                "admin",
                "create-webhook",
                "--org",
                "Acme",
                "--flow",
                "onboarding",
                "--json",
                "--database-url",
                &url,
                "--mapping",
            ])
            .arg(&mapping_file)
            .env("FLOWLINE_WEBHOOK_SECRET", SECRET),
    );
    assert_eq!(created["signed"], true, "{created}");
    assert_eq!(created["application_id"], Value::Null);
    assert_eq!(created["mapping"], json!({"client.name": "name"}));
    let path = created["path"].as_str().unwrap();
    let payload = r#"{"name": "Grace"}"#;
    let delivered = app
        .anonymous(Method::POST, path)
        .header("Content-Type", "application/json")
        .header("X-Flowline-Signature", sign(SECRET, payload))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 201);
    assert_eq!(
        record_data(&app, &body(delivered).await).await,
        json!({"client": {"name": "Grace"}})
    );

    let listed = run_json(flowline().args([
        "admin",
        "list-webhooks",
        "--org",
        "Acme",
        "--json",
        "--database-url",
        &url,
    ]));
    assert_eq!(listed[0]["webhook_id"], created["webhook_id"]);
    assert!(!listed.to_string().contains(SECRET));

    let bad_mapping = dir.path().join("bad.json");
    std::fs::write(&bad_mapping, r#"{"a": "x", "a.b": "y"}"#).unwrap();
    let refused = flowline()
        .args([
            "admin",
            "create-webhook",
            "--org",
            "Acme",
            "--flow",
            "onboarding",
            "--database-url",
            &url,
            "--mapping",
        ])
        .arg(&bad_mapping)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("overlap"));
    let unknown_flow = flowline()
        .args([
            "admin",
            "create-webhook",
            "--org",
            "Acme",
            "--flow",
            "nope",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!unknown_flow.status.success());
    assert!(String::from_utf8_lossy(&unknown_flow.stderr).contains("'nope' does not exist"));

    let id = created["webhook_id"].to_string();
    let deleted = run_json(flowline().args([
        "admin",
        "delete-webhook",
        "--org",
        "Acme",
        "--webhook",
        &id,
        "--json",
        "--database-url",
        &url,
    ]));
    assert_eq!(deleted["deleted"], true);
    let gone = deliver(&app, path, "application/json", payload).await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn logs_never_show_a_uri_a_secret_or_a_payload() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let created = register(&app, json!({"flow": "onboarding", "secret": SECRET})).await;
    let uri = created["webhook_uri"].as_str().unwrap();
    let payload = r#"{"marker": "payload-marker-7c1f"}"#;
    let delivered = app
        .anonymous(Method::POST, created["path"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .header("X-Flowline-Signature", sign(SECRET, payload))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 201);
    let unsigned = deliver(
        &app,
        created["path"].as_str().unwrap(),
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(unsigned.status(), 401);
    let logs = logs();
    assert!(
        logs.contains("/v1/webhook/{webhook_uri}"),
        "the request is logged"
    );
    assert!(!logs.contains(uri), "a webhook uri reached the logs");
    assert!(!logs.contains(SECRET), "a webhook secret reached the logs");
    assert!(
        !logs.contains("payload-marker-7c1f"),
        "a payload reached the logs"
    );
}
