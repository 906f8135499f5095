//! `/v1/schema`: the data schema, over every auth form, with its documented answers and errors.

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

pub const SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"client":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"]}},"required":["client"]}"#;
pub const RECORD: &str = r#"{"client":{"name":"Ada","age":36}}"#;

pub fn schema_body(schema: &str, record: &str) -> Value {
    json!({
        "schema": STANDARD.encode(schema),
        "data_record": STANDARD.encode(record),
        "url": "www.example.nl",
    })
}

fn is_api_date(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| flowline_core::time::parse_api_date(text).is_some())
}

#[tokio::test]
async fn create_get_update_delete_with_the_documented_bodies() {
    let app = spawn_app().await;

    let created = app
        .request(Method::POST, "/v1/schema")
        .header("X-Scopes", "schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(
        created["message"],
        "Schema structure is created successfully"
    );
    assert_eq!(created.as_object().unwrap().len(), 2, "{created}");
    assert!(
        is_api_date(&created["resource"]["creation_date"]),
        "{created}"
    );
    assert!(
        is_api_date(&created["resource"]["modified_date"]),
        "{created}"
    );

    let fetched = app
        .request(Method::GET, "/v1/schema")
        .header("X-Scopes", "schema.read")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    let fetched = body(fetched).await;
    assert_eq!(
        fetched["message"],
        "Schema structure is retrieving successfully"
    );
    let resource = &fetched["resource"];
    assert_eq!(resource["url"], "www.example.nl");
    assert_eq!(resource["schema"], STANDARD.encode(SCHEMA));
    assert_eq!(resource["customer"], "Acme");
    assert!(is_api_date(&resource["creation_date"]) && is_api_date(&resource["modified_date"]));
    assert_eq!(resource.as_object().unwrap().len(), 5, "{resource}");

    let other_schema = r#"{"type":"object","required":["id"]}"#;
    let updated = app
        .request(Method::PUT, "/v1/schema")
        .json(&schema_body(other_schema, r#"{"id":1}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 201);
    let updated = body(updated).await;
    assert_eq!(
        updated["message"],
        "Schema structure is updated successfully"
    );
    assert_eq!(
        updated["resource"]["creation_date"],
        created["resource"]["creation_date"]
    );
    let fetched = body(app.request(Method::GET, "/v1/schema").send().await.unwrap()).await;
    assert_eq!(fetched["resource"]["schema"], STANDARD.encode(other_schema));

    let deleted = app
        .request(Method::DELETE, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        body(deleted).await,
        json!({"resource": {}, "message": "Schema has been removed successfully"})
    );
    let gone = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    assert_error(gone, 404, 404, "No data schema").await;
}

#[tokio::test]
async fn a_second_create_conflicts_and_missing_schemas_are_404() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::DELETE] {
        let response = app.request(method, "/v1/schema").send().await.unwrap();
        assert_error(response, 404, 404, "No data schema").await;
    }
    let response = app
        .request(Method::PUT, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, 404, "No data schema").await;

    let first = app
        .request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let second = app
        .request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_error(second, 409, 409, "already exists").await;
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"schema": "%%%not base64", "data_record": STANDARD.encode(RECORD)}),
            "schema: is not valid base64",
        ),
        (
            json!({"schema": STANDARD.encode("{oops"), "data_record": STANDARD.encode(RECORD)}),
            "schema: is not valid JSON",
        ),
        (
            json!({"schema": STANDARD.encode(r#"{"type": 17}"#), "data_record": STANDARD.encode(RECORD)}),
            "schema: invalid JSON Schema",
        ),
        (
            json!({"schema": STANDARD.encode("[1,2]"), "data_record": STANDARD.encode(RECORD)}),
            "schema: must be a JSON object",
        ),
        (
            json!({"data_record": STANDARD.encode(RECORD)}),
            "schema: is required",
        ),
        (
            json!({"schema": STANDARD.encode(SCHEMA)}),
            "data_record: is required",
        ),
        (
            json!({"schema": STANDARD.encode(SCHEMA), "data_record": "@@"}),
            "data_record: is not valid base64",
        ),
        (
            json!({"schema": 12, "data_record": STANDARD.encode(RECORD)}),
            "schema: invalid type",
        ),
        (
            json!({"schema": STANDARD.encode(SCHEMA), "data_record": STANDARD.encode(RECORD), "url": ["x"]}),
            "url: invalid type",
        ),
        (
            json!({"schema": STANDARD.encode(SCHEMA), "data_record": STANDARD.encode(r#"{"client":{"name":"Ada","age":-1}}"#)}),
            "data_record: does not match the data schema at /client/age",
        ),
        (
            json!({"schema": STANDARD.encode(SCHEMA), "data_record": STANDARD.encode(r#"{"client":{"name":"Ada"}}"#)}),
            "/client",
        ),
        (json!([1, 2]), "body: must be a JSON object"),
        (json!("text"), "body: must be a JSON object"),
    ];
    for (payload, needle) in cases {
        let response = app
            .request(Method::POST, "/v1/schema")
            .json(&payload)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, needle).await;
    }
    let malformed = app
        .request(Method::POST, "/v1/schema")
        .header("Content-Type", "application/json")
        .body("{\"schema\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let empty = app
        .request(Method::POST, "/v1/schema")
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_error(empty, 400, 400, "body: is required").await;
    let text = app
        .request(Method::POST, "/v1/schema")
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_error(text, 415, 415, "Content-Type").await;

    let nothing = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    assert_eq!(nothing.status(), 404, "no bad request created a schema");
}

#[tokio::test]
async fn xml_bodies_and_xml_answers() {
    let app = spawn_app().await;
    let xml = format!(
        "<?xml version=\"1.0\"?><request><schema>{}</schema><data_record>{}</data_record><url>www.example.nl</url></request>",
        STANDARD.encode(SCHEMA),
        STANDARD.encode(RECORD)
    );
    let created = app
        .request(Method::POST, "/v1/schema")
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let text = created.text().await.unwrap();
    assert!(
        text.contains("<message>Schema structure is created successfully</message>"),
        "{text}"
    );
    assert!(text.contains("<creation_date>"), "{text}");

    let fetched = app
        .request(Method::GET, "/v1/schema")
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    let text = fetched.text().await.unwrap();
    assert!(
        text.contains(&format!("<schema>{}</schema>", STANDARD.encode(SCHEMA))),
        "{text}"
    );
    assert!(text.contains("<customer>Acme</customer>"), "{text}");

    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"boom\">]><request><schema>&x;</schema></request>";
    let refused = app
        .request(Method::PUT, "/v1/schema")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("<code>400</code>") && text.contains("DOCTYPE"),
        "{text}"
    );
    let malformed = app
        .request(Method::PUT, "/v1/schema")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body("<request><schema>")
        .send()
        .await
        .unwrap();
    assert_error(
        malformed,
        400,
        400,
        "body: XML ends before its root element is closed",
    )
    .await;
}

#[tokio::test]
async fn every_auth_form_reaches_the_schema() {
    let app = spawn_app().await;
    // Headers.
    let created = app
        .request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // URL parameters.
    let path = format!(
        "/v1/schema?api_key={}&app_key={}&scopes=schema.read",
        app.org.api_key, app.app.app_key
    );
    let by_url = app.anonymous(Method::GET, &path).send().await.unwrap();
    assert_eq!(by_url.status(), 200);
    // OAuth2 bearer token.
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let bearer = app
        .anonymous(Method::GET, "/v1/schema")
        .header(
            "Authorization",
            format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .header("X-Scopes", "schema.read")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    // Client id and secret, as the reference's DELETE example sends them.
    let deleted = app
        .anonymous(Method::DELETE, "/v1/schema")
        .header("client_id", &app.app.client_id)
        .header("client_secret", &app.app.client_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
}

#[tokio::test]
async fn another_organization_neither_reads_nor_changes_the_schema() {
    let app = spawn_app().await;
    let created = app
        .request(Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let other_org = create_org(&app.pool, "Globex").await;
    let other_app = create_app(&app.pool, &other_org, application("crm")).await;
    let read = app
        .as_app(&other_org, &other_app, Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_error(read, 404, 404, "No data schema").await;
    let updated = app
        .as_app(&other_org, &other_app, Method::PUT, "/v1/schema")
        .json(&schema_body(r#"{"type":"object"}"#, "{}"))
        .send()
        .await
        .unwrap();
    assert_error(updated, 404, 404, "No data schema").await;
    let deleted = app
        .as_app(&other_org, &other_app, Method::DELETE, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_error(deleted, 404, 404, "No data schema").await;
    // Another organization's key with our app's name is not our app.
    let mixed = app
        .anonymous(Method::GET, "/v1/schema")
        .header("X-Apikey", &other_org.api_key)
        .header("X-App", "crm")
        .send()
        .await
        .unwrap();
    assert_error(mixed, 404, 404, "No data schema").await;
    // It may create its own, and ours is untouched.
    let own = app
        .as_app(&other_org, &other_app, Method::POST, "/v1/schema")
        .json(&schema_body(r#"{"type":"object"}"#, "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    let ours = body(app.request(Method::GET, "/v1/schema").send().await.unwrap()).await;
    assert_eq!(ours["resource"]["schema"], STANDARD.encode(SCHEMA));
    assert_eq!(ours["resource"]["customer"], "Acme");
}

#[tokio::test]
async fn the_schema_scope_is_required() {
    let app = spawn_app().await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "schema.read"),
    )
    .await;
    let write = app
        .as_app(&app.org, &reader, Method::POST, "/v1/schema")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_error(write, 403, 403, "scope 'schema'").await;
    let read = app
        .as_app(&app.org, &reader, Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_error(read, 404, 404, "No data schema").await;
    let narrowed = app
        .request(Method::POST, "/v1/schema")
        .header("X-Scopes", "schema.read")
        .json(&schema_body(SCHEMA, RECORD))
        .send()
        .await
        .unwrap();
    assert_error(narrowed, 403, 403, "scope 'schema'").await;
    let records_only = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("records"), "record"),
    )
    .await;
    let read = app
        .as_app(&app.org, &records_only, Method::GET, "/v1/schema")
        .send()
        .await
        .unwrap();
    assert_error(read, 403, 403, "schema.read").await;
}
