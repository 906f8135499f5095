//! Keystores through HTTP: definitions (REST, admin API, CLI), reading an entry (a new key is
//! created with the empty structure), insert (409), upsert, delete (the reference's body),
//! JSON / XML / plain-text answers, the reference's search with every operator, bad input,
//! scopes, every credential form, and isolation between organizations.

use crate::support::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::process::Command;

/// The reference's weather example, as the search tests store it.
const MADRID: &str =
    r#"{"temp": {"max": 24, "average": 26}, "wind": "5 km/h N", "city": "Madrid"}"#;
const LONDON: &str = r#"{"temp":{"max":15,"average":12},"wind":"2 km/h S","city":"London"}"#;
const OSLO: &str = r#"{"temp": {"max": "9", "average": 3}, "city": "oslo", "tags": ["cold"]}"#;

/// Defines a keystore as the default application; returns the created resource.
async fn define(app: &TestApp, definition: Value) -> Value {
    let response = app
        .request(Method::POST, "/v1/keystores")
        .json(&definition)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let created = body(response).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["message"], "Keystore created successfully");
    created["resource"].clone()
}

/// Sends `text` as the body of `method` on an entry, with `content_type`.
async fn send_entry(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    text: &str,
) -> Response {
    app.request(method, path)
        .header("Content-Type", content_type)
        .body(text.to_owned())
        .send()
        .await
        .unwrap()
}

async fn put_json(app: &TestApp, path: &str, text: &str) {
    let response = send_entry(app, Method::PUT, path, "application/json", text).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// An answer's status, Content-Type and body text.
async fn answer(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn entry_count(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM keystore_entries").await
}

async fn search(app: &TestApp, keystore: &str, document: Value) -> Value {
    let response = app
        .request(Method::POST, &format!("/v1/keystore/{keystore}"))
        .json(&document)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let found = body(response).await;
    assert_eq!(status, 200, "{document}: {found}");
    found
}

/// The keys a search with `where` finds, in order.
async fn keys_where(app: &TestApp, rules: Value) -> Vec<String> {
    let found = search(
        app,
        "weather",
        json!({"select": [{"field": "key"}], "where": rules}),
    )
    .await;
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap().to_owned())
        .collect()
}

fn rule(field: &str, operator: &str, value: Value) -> Value {
    json!({"rules": [{"field": field, "operator": operator, "value": value}]})
}

/// A weather keystore with Madrid, London and Oslo, and a key whose value has no `temp`.
async fn weather(app: &TestApp) {
    define(app, json!({"keystore_id": "weather", "type": "json"})).await;
    put_json(app, "/v1/keystore/weather/Madrid", MADRID).await;
    put_json(app, "/v1/keystore/weather/London", LONDON).await;
    put_json(app, "/v1/keystore/weather/Oslo", OSLO).await;
    put_json(app, "/v1/keystore/weather/unknown", r#"{"city": null}"#).await;
}

#[tokio::test]
async fn keystores_are_defined_listed_changed_and_removed() {
    let app = spawn_app().await;
    let created = define(
        &app,
        json!({"keystore_id": "weather", "type": "JSON", "empty": {"temp": null, "city": ""}}),
    )
    .await;
    assert_eq!(created["keystore_id"], "weather");
    assert_eq!(created["type"], "json");
    assert_eq!(created["empty"], json!({"temp": null, "city": ""}));
    assert_eq!(created["environment_id"], app.org.environment_id.0);
    assert!(
        created["created_at"].as_str().unwrap().len() == 19,
        "{created}"
    );
    define(
        &app,
        json!({"keystore_id": "notes", "type": "raw", "empty": "-"}),
    )
    .await;
    define(&app, json!({"keystore_id": "docs", "type": "xml"})).await;

    let duplicate = app
        .request(Method::POST, "/v1/keystores")
        .json(&json!({"keystore_id": "weather", "type": "raw"}))
        .send()
        .await
        .unwrap();
    assert_error(duplicate, 409, 409, "Keystore 'weather' already exists").await;

    let listed = app
        .request(Method::GET, "/v1/keystores")
        .header("X-Scopes", "keystore.read")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed = body(listed).await;
    assert_eq!(listed["message"], "Keystores retrieved successfully");
    assert_eq!(listed["resource"]["total"], 3);
    let names: Vec<&str> = listed["resource"]["keystores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keystore_id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docs", "notes", "weather"]);
    assert_eq!(listed["resource"]["keystores"][0]["empty"], "<data/>");

    let one = app
        .request(Method::GET, "/v1/keystores/weather")
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    assert!(one.headers().get("last-modified").is_some());
    let one = body(one).await;
    assert_eq!(one["message"], "Keystore retrieved successfully");
    assert_eq!(one["resource"], created);

    let changed = app
        .request(Method::PUT, "/v1/keystores/weather")
        .json(&json!({"type": "json", "empty": {"temp": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed = body(changed).await;
    assert_eq!(changed["message"], "Keystore updated successfully");
    assert_eq!(changed["resource"]["empty"], json!({"temp": 0}));
    let (status, _, text) = answer(
        app.request(Method::GET, "/v1/keystore/weather/new")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, r#"{"temp":0}"#));

    let retyped = app
        .request(Method::PUT, "/v1/keystores/weather")
        .json(&json!({"type": "xml", "empty": "<a/>"}))
        .send()
        .await
        .unwrap();
    assert_error(retyped, 400, 400, "type: a keystore's type cannot change").await;

    let removed = app
        .request(Method::DELETE, "/v1/keystores/weather")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let removed = body(removed).await;
    assert_eq!(removed["message"], "Keystore has been removed successfully");
    assert_eq!(entry_count(&app).await, 0, "entries go with their keystore");
    for method in [Method::GET, Method::DELETE, Method::PUT] {
        let gone = app
            .request(method.clone(), "/v1/keystores/weather")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(gone, 404, 404, "Keystore 'weather' does not exist").await;
    }
    let gone = app
        .request(Method::GET, "/v1/keystore/weather/new")
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, 404, "Keystore 'weather' does not exist").await;
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_the_field() {
    let app = spawn_app().await;
    for (definition, needle) in [
        (json!({"type": "json"}), "keystore_id: is required"),
        (json!({"keystore_id": "weather"}), "type: is required"),
        (
            json!({"keystore_id": "we'ather; DROP TABLE keystores; --", "type": "json"}),
            "keystore_id: expected 1 to 64 letters",
        ),
        (json!({"keystore_id": "_x", "type": "json"}), "keystore_id:"),
        (
            json!({"keystore_id": "x".repeat(65), "type": "json"}),
            "keystore_id:",
        ),
        (
            json!({"keystore_id": "w", "type": "yaml"}),
            "type: expected json, xml or raw",
        ),
        (
            json!({"keystore_id": "w", "type": "json", "colour": 1}),
            "unknown field `colour`",
        ),
        (
            json!({"keystore_id": "w", "type": "xml", "empty": {"a": 1}}),
            "empty: a xml keystore's empty structure is a string",
        ),
        (
            json!({"keystore_id": "w", "type": "xml", "empty": "<a><b></a>"}),
            "empty: malformed XML",
        ),
        (
            json!({"keystore_id": "w", "type": "xml",
                   "empty": "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"}),
            "DOCTYPE",
        ),
        (
            json!({"keystore_id": "w", "type": "json", "empty": {"a": "\u{0}"}}),
            "empty: may not contain NUL",
        ),
        (json!({"keystore_id": 5, "type": "json"}), "keystore_id"),
    ] {
        let refused = app
            .request(Method::POST, "/v1/keystores")
            .json(&definition)
            .send()
            .await
            .unwrap();
        assert_error(refused, 400, 400, needle).await;
    }
    let malformed = app
        .request(Method::POST, "/v1/keystores")
        .header("Content-Type", "application/json")
        .body("{\"keystore_id\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    assert_eq!(count_rows(&app, "SELECT count(*) FROM keystores").await, 0);

    // An XML body defines one too (leaves are strings, so an XML body suits xml and raw
    // keystores).
    let xml = app
        .request(Method::POST, "/v1/keystores")
        .header("Content-Type", "application/xml")
        .body(
            "<request><keystore_id>notes</keystore_id><type>raw</type><empty>n/a</empty></request>",
        )
        .send()
        .await
        .unwrap();
    let (status, content_type, text) = answer(xml).await;
    assert_eq!(status, 201, "{text}");
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    assert!(text.contains("<empty>n/a</empty>"), "{text}");
}

#[tokio::test]
async fn reading_a_new_key_creates_it_with_the_empty_structure() {
    let app = spawn_app().await;
    define(
        &app,
        json!({"keystore_id": "weather", "type": "json", "empty": {"temp": null, "wind": ""}}),
    )
    .await;
    define(&app, json!({"keystore_id": "plain", "type": "json"})).await;

    let first = app
        .request(Method::GET, "/v1/keystore/weather/london")
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    let etag = first
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(first.headers().get("last-modified").is_some());
    let (status, content_type, text) = answer(first).await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(text, r#"{"temp":null,"wind":""}"#);
    assert_eq!(entry_count(&app).await, 1, "the key now exists");

    // Read again: the same entry, and revalidation works.
    let again = app
        .request(Method::GET, "/v1/keystore/weather/london")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(entry_count(&app).await, 1);
    let (_, _, text) = answer(
        app.request(Method::GET, "/v1/keystore/plain/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, "{}", "the default empty structure of a JSON keystore");

    // HEAD answers like GET, without a body.
    let head = app
        .request(Method::HEAD, "/v1/keystore/weather/london")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.text().await.unwrap(), "");

    // Many first reads of one key at once: all answer the empty structure, one row exists.
    let reads = (0..16).map(|_| {
        app.request(Method::GET, "/v1/keystore/weather/paris")
            .send()
    });
    for response in futures_join(reads).await {
        let (status, _, text) = answer(response).await;
        assert_eq!((status, text.as_str()), (200, r#"{"temp":null,"wind":""}"#));
    }
    assert_eq!(entry_count(&app).await, 3);

    // A key already written is never overwritten by a read.
    put_json(&app, "/v1/keystore/weather/rome", r#"{"temp": 30}"#).await;
    let (_, _, text) = answer(
        app.request(Method::GET, "/v1/keystore/weather/rome")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, r#"{"temp": 30}"#);
}

/// Sends requests concurrently and returns their responses.
async fn futures_join<F>(requests: impl Iterator<Item = F>) -> Vec<Response>
where
    F: std::future::Future<Output = reqwest::Result<Response>> + Send + 'static,
{
    let handles: Vec<_> = requests.map(tokio::spawn).collect();
    let mut responses = Vec::new();
    for handle in handles {
        responses.push(handle.await.unwrap().unwrap());
    }
    responses
}

#[tokio::test]
async fn insert_upsert_and_delete_entries() {
    let app = spawn_app().await;
    define(&app, json!({"keystore_id": "weather", "type": "json"})).await;
    let path = "/v1/keystore/weather/london";
    let saved = "{ \"temp\": 15,\n  \"wind\": \"2 km/h S\" }";

    let inserted = send_entry(&app, Method::POST, path, "application/json", saved).await;
    let (status, content_type, text) = answer(inserted).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    assert_eq!(text, saved, "the data as it was saved, byte for byte");

    let again = send_entry(&app, Method::POST, path, "application/json", "{}").await;
    assert_error(
        again,
        409,
        409,
        "Key 'london' already exists in keystore 'weather'",
    )
    .await;
    let (_, _, text) = answer(app.request(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(text, saved, "a refused insert changes nothing");

    let replaced = send_entry(&app, Method::PUT, path, "application/json", "[1, 2]").await;
    let (status, _, text) = answer(replaced).await;
    assert_eq!((status, text.as_str()), (200, "[1, 2]"));
    let created = send_entry(
        &app,
        Method::PUT,
        "/v1/keystore/weather/paris",
        "application/json",
        "\"sunny\"",
    )
    .await;
    assert_eq!(created.status(), 200, "PUT creates a missing key");
    let (_, _, text) = answer(app.request(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(text, "[1, 2]");

    // Keys are any text: spaces, quotes and slashes travel percent-encoded.
    let odd =
        "/v1/keystore/weather/S%C3%A3o%20Paulo%2F'x'%3B%20DROP%20TABLE%20keystore_entries%3B--";
    let (status, _, text) =
        answer(send_entry(&app, Method::POST, odd, "application/json", "1").await).await;
    assert_eq!((status, text.as_str()), (200, "1"));
    let stored: String = sqlx::query_scalar(
        "SELECT key FROM keystore_entries WHERE value = '1' AND keystore_id = 'weather'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, "São Paulo/'x'; DROP TABLE keystore_entries;--");

    let deleted = app.request(Method::DELETE, path).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    let deleted = body(deleted).await;
    assert_eq!(deleted["id"], "ok");
    assert_eq!(deleted["code"], 200);
    assert_eq!(deleted["request-ip"], "127.0.0.1");
    assert_eq!(deleted["resource"], Value::Null);
    assert_eq!(
        deleted["message"],
        "Successfully deleted key london in keystore weather"
    );
    assert_eq!(deleted["error"], Value::Null);
    assert_eq!(deleted.as_object().unwrap().len(), 6, "{deleted}");
    let twice = app.request(Method::DELETE, path).send().await.unwrap();
    assert_error(
        twice,
        404,
        404,
        "Key 'london' does not exist in keystore 'weather'",
    )
    .await;
    assert_eq!(entry_count(&app).await, 2);

    // After a delete, a read creates the key afresh.
    let (_, _, text) = answer(app.request(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(text, "{}");
}

#[tokio::test]
async fn entries_answer_in_json_xml_or_plain_text() {
    let app = spawn_app().await;
    define(&app, json!({"keystore_id": "weather", "type": "json"})).await;
    define(&app, json!({"keystore_id": "docs", "type": "xml"})).await;
    define(&app, json!({"keystore_id": "notes", "type": "raw"})).await;
    put_json(
        &app,
        "/v1/keystore/weather/london",
        r#"{"temp": 15, "tags": ["a", "b"]}"#,
    )
    .await;

    let get = |path: &'static str, header: &'static str, media: &'static str| {
        let request = app.request(Method::GET, path).header(header, media);
        async move { answer(request.send().await.unwrap()).await }
    };
    let (_, content_type, text) =
        get("/v1/keystore/weather/london", "Accept", "application/xml").await;
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><temp>15</temp>\
         <tags><item>a</item><item>b</item></tags></response>"
    );
    let (_, content_type, text) =
        get("/v1/keystore/weather/london", "Content-Type", "text/plain").await;
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(text, r#"{"temp": 15, "tags": ["a", "b"]}"#);

    // An XML keystore keeps the document as sent, whatever the request's Content-Type.
    let document =
        "<?xml version=\"1.0\"?>\n<weather><temp>24</temp><city>Madrid &amp; co</city></weather>";
    let (status, content_type, text) = answer(
        send_entry(
            &app,
            Method::PUT,
            "/v1/keystore/docs/madrid",
            "application/xml",
            document,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("application/xml"));
    assert_eq!(text, document);
    let (_, content_type, text) =
        get("/v1/keystore/docs/madrid", "Accept", "application/json").await;
    assert!(content_type.starts_with("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"temp": "24", "city": "Madrid & co"})
    );
    let (_, content_type, text) = answer(
        app.request(Method::GET, "/v1/keystore/docs/madrid")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        content_type.starts_with("application/xml"),
        "an XML keystore answers XML by default"
    );
    assert_eq!(text, document);

    // A raw keystore holds any text, and answers it as plain text by default.
    let note = "hello <world> & {not json}\nsecond line";
    let (status, content_type, text) = answer(
        send_entry(
            &app,
            Method::POST,
            "/v1/keystore/notes/n1",
            "text/plain",
            note,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(text, note);
    let (_, content_type, text) = answer(
        app.request(Method::GET, "/v1/keystore/notes/n1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(text, note);
    let (_, _, text) = get("/v1/keystore/notes/n1", "Accept", "application/json").await;
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!(note));
    let (_, _, text) = get("/v1/keystore/notes/n1", "Accept", "application/xml").await;
    assert!(
        text.ends_with("<response>hello &lt;world&gt; &amp; {not json}\nsecond line</response>"),
        "{text}"
    );
    let (_, _, text) = get("/v1/keystore/notes/empty", "Accept", "text/plain").await;
    assert_eq!(
        text, "",
        "a raw keystore's default empty structure is no text"
    );
}

#[tokio::test]
async fn bad_values_and_paths_are_refused_and_change_nothing() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 4096;
    let app = spawn_app_with(settings).await;
    define(&app, json!({"keystore_id": "weather", "type": "json"})).await;
    define(&app, json!({"keystore_id": "docs", "type": "xml"})).await;
    define(&app, json!({"keystore_id": "notes", "type": "raw"})).await;
    put_json(&app, "/v1/keystore/weather/london", r#"{"temp": 15}"#).await;

    for (path, content_type, text, needle) in [
        (
            "/v1/keystore/weather/london",
            "application/json",
            "{\"temp\": ",
            "body: malformed JSON",
        ),
        (
            "/v1/keystore/weather/london",
            "text/plain",
            "not json",
            "body: malformed JSON",
        ),
        (
            "/v1/keystore/weather/london",
            "application/json",
            "",
            "body: malformed JSON",
        ),
        (
            "/v1/keystore/weather/london",
            "application/json",
            r#"{"a": "\u0000"}"#,
            "NUL",
        ),
        (
            "/v1/keystore/docs/madrid",
            "application/xml",
            "<a><b></a>",
            "body: malformed XML",
        ),
        (
            "/v1/keystore/docs/madrid",
            "application/xml",
            r#"{"json": true}"#,
            "body: XML has text outside the root element",
        ),
        (
            "/v1/keystore/docs/madrid",
            "application/xml",
            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY lol \"lol\">]><r>&lol;</r>",
            "DOCTYPE",
        ),
        (
            "/v1/keystore/docs/madrid",
            "application/xml",
            "<r>&ext;</r>",
            "entity",
        ),
        (
            "/v1/keystore/notes/n1",
            "text/plain",
            "a\u{0}b",
            "body: may not contain NUL",
        ),
    ] {
        for method in [Method::POST, Method::PUT] {
            let refused = app
                .request(method, path)
                .header("Content-Type", content_type)
                .header("Accept", "application/json")
                .body(text.to_owned())
                .send()
                .await
                .unwrap();
            assert_error(refused, 400, 400, needle).await;
        }
    }
    // Without Accept, an XML request hears about its error in XML.
    let (status, content_type, text) = answer(
        send_entry(
            &app,
            Method::PUT,
            "/v1/keystore/docs/madrid",
            "application/xml",
            "<a>",
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    assert!(text.contains("<id>bad_request</id>"), "{text}");
    let not_utf8 = app
        .request(Method::PUT, "/v1/keystore/notes/n1")
        .body(vec![0xff, 0xfe, b'a'])
        .send()
        .await
        .unwrap();
    assert_error(not_utf8, 400, 400, "body: must be UTF-8 text").await;
    let oversized = send_entry(
        &app,
        Method::PUT,
        "/v1/keystore/notes/n1",
        "text/plain",
        &"x".repeat(5000),
    )
    .await;
    assert_error(oversized, 413, 413, "larger than this server accepts").await;
    let (_, _, text) = answer(
        app.request(Method::GET, "/v1/keystore/weather/london")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, r#"{"temp": 15}"#, "refused writes changed nothing");
    assert_eq!(entry_count(&app).await, 1);

    // Unknown keystores: 404 on every call, and nothing is created.
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let unknown = send_entry(
            &app,
            method,
            "/v1/keystore/nope/k",
            "application/json",
            "{}",
        )
        .await;
        assert_error(unknown, 404, 404, "Keystore 'nope' does not exist").await;
    }
    let unknown = app
        .request(Method::POST, "/v1/keystore/nope")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, 404, "Keystore 'nope' does not exist").await;

    // Malformed names and keys name themselves.
    for (path, needle) in [
        ("/v1/keystore/we'ather/london", "keystore_id: expected"),
        (
            "/v1/keystore/weather/a%0Ab",
            "keystore_key: expected 1 to 512 bytes",
        ),
        ("/v1/keystore/weather/%FF", "keystore_key"),
    ] {
        let refused = app.request(Method::GET, path).send().await.unwrap();
        assert_error(refused, 400, 400, needle).await;
    }
    let long_key = format!("/v1/keystore/weather/{}", "k".repeat(513));
    let refused = app.request(Method::GET, &long_key).send().await.unwrap();
    assert_error(refused, 400, 400, "keystore_key").await;
    assert_eq!(entry_count(&app).await, 1);
    assert_eq!(count_rows(&app, "SELECT count(*) FROM keystores").await, 3);
}

#[tokio::test]
async fn the_reference_search_selects_with_aliases_the_key_and_the_whole_entry() {
    let app = spawn_app().await;
    weather(&app).await;
    // The reference's own document: temp.average > "25" OR city LIKE "lond%".
    let found = search(
        &app,
        "weather",
        json!({
            "select": [
                {"field": "keystore.key", "alias": "MyKey"},
                {"field": "temp.max", "alias": "temperature"},
                {"field": "*", "alias": "all_info"}
            ],
            "where": {"condition": "OR", "rules": [
                {"field": "temp.average", "operator": ">", "value": "25"},
                {"field": "city", "operator": "LIKE", "value": "lond%"}
            ]}
        }),
    )
    .await;
    assert_eq!(
        found,
        json!([
            {"MyKey": "London", "temperature": "15", "all_info": LONDON},
            {"MyKey": "Madrid", "temperature": "24", "all_info": MADRID},
        ])
    );
    // Keys keep the select's order.
    let keys: Vec<&String> = found[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["MyKey", "temperature", "all_info"]);

    // Without aliases the field names are the keys; objects, arrays and numbers come as
    // their JSON text, missing paths as null.
    let found = search(
        &app,
        "weather",
        json!({"select": ["key", {"field": "temp"}, {"field": "tags[0]"}, "tags", "city"],
               "where": rule("key", "=", json!("Oslo"))}),
    )
    .await;
    assert_eq!(
        found,
        json!([{"key": "Oslo", "temp": "{\"max\": \"9\", \"average\": 3}", "tags[0]": "cold",
                "tags": "[\"cold\"]", "city": "oslo"}])
    );
    // No select: the key and the whole entry.
    let found = search(
        &app,
        "weather",
        json!({"where": rule("key", "=", json!("unknown"))}),
    )
    .await;
    assert_eq!(found, json!([{"key": "unknown", "*": r#"{"city": null}"#}]));
    let found = search(&app, "weather", json!({})).await;
    assert_eq!(found.as_array().unwrap().len(), 4);

    // Paging: key order, limit and offset.
    let found = search(
        &app,
        "weather",
        json!({"select": ["key"], "limit": 2, "offset": 1}),
    )
    .await;
    assert_eq!(found, json!([{"key": "Madrid"}, {"key": "Oslo"}]));

    // An XML search document works too, and the answer can be XML.
    let xml = app
        .request(Method::POST, "/v1/keystore/weather")
        .header("Content-Type", "application/xml")
        .body(
            "<search><select><item><field>key</field><alias>k</alias></item></select>\
             <where><rules><item><field>city</field><operator>&lt;&gt;</operator>\
             <value>London</value></item><item><field>temp.max</field>\
             <operator>&gt;=</operator><value>24</value></item></rules></where></search>",
        )
        .send()
        .await
        .unwrap();
    let (status, content_type, text) = answer(xml).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("application/xml"));
    // Oslo's max is the string "9", and "9" >= "24" as strings (the XML value is text).
    assert!(
        text.ends_with("<response><item><k>Madrid</k></item><item><k>Oslo</k></item></response>"),
        "{text}"
    );

    // A raw keystore: only the key and the entry mean something; paths are null.
    define(&app, json!({"keystore_id": "notes", "type": "raw"})).await;
    send_entry(
        &app,
        Method::PUT,
        "/v1/keystore/notes/n1",
        "text/plain",
        "London calling",
    )
    .await;
    let found = search(
        &app,
        "notes",
        json!({"select": ["key", "*", "city"],
               "where": {"condition": "OR", "rules": [
                   {"field": "city", "operator": "LIKE", "value": "%"},
                   {"field": "key", "operator": "LIKE", "value": "N_"}]}}),
    )
    .await;
    assert_eq!(
        found,
        json!([{"key": "n1", "*": "London calling", "city": null}])
    );
    // An XML keystore is searched through its JSON reading (leaves are text).
    define(&app, json!({"keystore_id": "docs", "type": "xml"})).await;
    send_entry(
        &app,
        Method::PUT,
        "/v1/keystore/docs/d1",
        "application/xml",
        "<w><temp><max>24</max></temp></w>",
    )
    .await;
    let found = search(
        &app,
        "docs",
        json!({"select": ["temp.max", "*"], "where": rule("temp.max", "=", json!("24"))}),
    )
    .await;
    assert_eq!(
        found,
        json!([{"temp.max": "24", "*": "<w><temp><max>24</max></temp></w>"}])
    );
}

#[tokio::test]
async fn every_operator_filters_in_the_database() {
    let app = spawn_app().await;
    weather(&app).await;
    let cases = [
        (rule("city", "=", json!("Madrid")), vec!["Madrid"]),
        (rule("city", "=", json!("madrid")), vec![]),
        (
            rule("city", "!=", json!("Madrid")),
            vec!["London", "Oslo", "unknown"],
        ),
        (
            rule("city", "<>", json!("Madrid")),
            vec!["London", "Oslo", "unknown"],
        ),
        // A number compares with stored numbers only; a quoted number reads both ways: with
        // stored numbers as a number, with Oslo's stored string "9" as a string ("9" > "20").
        (rule("temp.max", ">", json!(20)), vec!["Madrid"]),
        (rule("temp.max", ">", json!("20")), vec!["Madrid", "Oslo"]),
        (
            rule("temp.max", ">", json!("10")),
            vec!["London", "Madrid", "Oslo"],
        ),
        (rule("temp.max", "<", json!(100)), vec!["London", "Madrid"]),
        (rule("temp.max", "<=", json!(15)), vec!["London"]),
        (rule("temp.max", ">=", json!(15)), vec!["London", "Madrid"]),
        (rule("temp.average", "<", json!("5")), vec!["Oslo"]),
        (rule("temp.max", "=", json!(9)), vec![]),
        (rule("temp.max", "=", json!("9")), vec!["Oslo"]),
        (rule("temp.max", "=", json!(24.0)), vec!["Madrid"]),
        // LIKE ignores ASCII case; % is any run, _ one character.
        (rule("city", "LIKE", json!("lond%")), vec!["London"]),
        (rule("city", "like", json!("%O%")), vec!["London", "Oslo"]),
        (rule("city", "LIKE", json!("M_DRID")), vec!["Madrid"]),
        (rule("city", "LIKE", json!("Madri")), vec![]),
        (
            rule("wind", "LIKE", json!("%km/h%")),
            vec!["London", "Madrid"],
        ),
        (rule("key", "LIKE", json!("l%")), vec!["London"]),
        (rule("keystore.key", "=", json!("Oslo")), vec!["Oslo"]),
        (rule("city", "is_empty", Value::Null), vec!["unknown"]),
        (rule("city", "begins_with", json!("lon")), vec![]),
        (
            json!({"condition": "AND", "rules": [
                {"field": "temp.max", "operator": ">", "value": 10},
                {"condition": "OR", "rules": [
                    {"field": "city", "operator": "LIKE", "value": "m%"},
                    {"field": "wind", "operator": "=", "value": "2 km/h S"}]}]}),
            vec!["London", "Madrid"],
        ),
        (
            json!({"condition": "or", "rules": [
                {"field": "city", "operator": "=", "value": "Oslo"},
                {"field": "city", "operator": "=", "value": "oslo"}]}),
            vec!["Oslo"],
        ),
        (
            json!({"condition": "AND", "rules": []}),
            vec!["London", "Madrid", "Oslo", "unknown"],
        ),
    ];
    for (rules, expected) in cases {
        assert_eq!(keys_where(&app, rules.clone()).await, expected, "{rules}");
    }
}

#[tokio::test]
async fn hostile_searches_are_refused_or_treated_as_data() {
    let app = spawn_app().await;
    weather(&app).await;
    for (document, needle) in [
        (
            json!({"select": [{"field": "temp..max"}]}),
            "select[0].field: invalid field path",
        ),
        (
            json!({"select": [{"field": "city'); DROP TABLE keystore_entries; --"}]}),
            "select[0].field: invalid field path",
        ),
        (
            json!({"select": [{"field": "a", "alias": 5}]}),
            "select[0].alias",
        ),
        (
            json!({"select": ["a", {"field": "b", "alias": "a"}]}),
            "select[1].alias",
        ),
        (json!({"select": 5}), "select: expected an array"),
        (json!({"select": []}), "select: expected 1 to 50 fields"),
        (json!({"selct": ["key"]}), "selct: unknown field"),
        (
            rule("city\"; DELETE FROM keystores; --", "=", json!(1)),
            "where.rules[0].field: invalid field path",
        ),
        (
            json!({"where": rule("city", "LIKEE", json!("x"))}),
            "where.rules[0].operator: unknown operator 'LIKEE'",
        ),
        (
            json!({"where": rule("temp.max", ">", json!(true))}),
            "where.rules[0].value",
        ),
        (
            json!({"where": {"condition": "XOR", "rules": []}}),
            "where.condition",
        ),
        (
            json!({"limit": 0}),
            "limit: expected a whole number from 1 to 1000",
        ),
        (json!({"limit": 1001}), "limit"),
        (json!({"offset": "-3"}), "offset"),
    ] {
        let document = if document.get("rules").is_some() {
            json!({"where": document})
        } else {
            document
        };
        let refused = app
            .request(Method::POST, "/v1/keystore/weather")
            .json(&document)
            .send()
            .await
            .unwrap();
        assert_error(refused, 400, 400, needle).await;
    }
    let malformed = app
        .request(Method::POST, "/v1/keystore/weather")
        .header("Content-Type", "application/json")
        .body("{\"select\": [")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"field": "city", "operator": "=", "value": "x"}))
        .collect();
    let refused = app
        .request(Method::POST, "/v1/keystore/weather")
        .json(&json!({"where": {"rules": too_many}}))
        .send()
        .await
        .unwrap();
    assert_error(refused, 400, 400, "at most 100 rules").await;

    // Values are bound, never spliced: quotes, wildcards and SQL stay data.
    put_json(
        &app,
        "/v1/keystore/weather/evil",
        r#"{"city": "x'); DROP TABLE keystore_entries; --", "pct": "100%"}"#,
    )
    .await;
    for (rules, expected) in [
        (
            rule("city", "=", json!("x'); DROP TABLE keystore_entries; --")),
            vec!["evil"],
        ),
        (
            rule("city", "LIKE", json!("%'); drop table%")),
            vec!["evil"],
        ),
        (rule("city", "=", json!("' OR '1'='1")), vec![]),
        (rule("pct", "LIKE", json!("100\\%")), vec!["evil"]),
        (rule("pct", "LIKE", json!("1000")), vec![]),
        (rule("key", "=", json!("' OR 1=1 --")), vec![]),
    ] {
        assert_eq!(keys_where(&app, rules.clone()).await, expected, "{rules}");
    }
    assert_eq!(entry_count(&app).await, 5, "the table is intact");
}

#[tokio::test]
async fn scopes_guard_every_keystore_call_and_every_credential_form_works() {
    let app = spawn_app().await;
    weather(&app).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "keystore.read"),
    )
    .await;
    let other = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("other"), "record"),
    )
    .await;

    let as_reader = |method: Method, path: &str| app.as_app(&app.org, &reader, method, path);
    assert_eq!(
        as_reader(Method::GET, "/v1/keystore/weather/Madrid")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        as_reader(Method::GET, "/v1/keystores")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        as_reader(Method::GET, "/v1/keystores/weather")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let found = as_reader(Method::POST, "/v1/keystore/weather")
        .json(&json!({"select": ["key"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    for (method, path) in [
        (Method::POST, "/v1/keystore/weather/new"),
        (Method::PUT, "/v1/keystore/weather/Madrid"),
        (Method::DELETE, "/v1/keystore/weather/Madrid"),
        (Method::POST, "/v1/keystores"),
        (Method::PUT, "/v1/keystores/weather"),
        (Method::DELETE, "/v1/keystores/weather"),
    ] {
        let refused = as_reader(method.clone(), path)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_error(refused, 403, 403, "The scope 'keystore' is required").await;
    }
    for (method, path) in [
        (Method::GET, "/v1/keystore/weather/Madrid"),
        (Method::POST, "/v1/keystore/weather"),
        (Method::GET, "/v1/keystores"),
    ] {
        let refused = app
            .as_app(&app.org, &other, method, path)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_error(refused, 403, 403, "The scope 'keystore.read' is required").await;
    }
    // X-Scopes narrows the default application to read access.
    let narrowed = app
        .request(Method::PUT, "/v1/keystore/weather/Madrid")
        .header("X-Scopes", "keystore.read")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_error(narrowed, 403, 403, "The scope 'keystore' is required").await;
    let anonymous = app
        .anonymous(Method::GET, "/v1/keystore/weather/Madrid")
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, 401, "Credentials are required").await;
    let (_, _, text) = answer(
        app.request(Method::GET, "/v1/keystore/weather/Madrid")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, MADRID, "refused calls changed nothing");

    // URL credentials.
    let url = format!(
        "/v1/keystore/weather/Madrid?api_key={}&app_key={}&scopes=keystore",
        app.org.api_key, app.app.app_key
    );
    let (status, _, text) = answer(app.anonymous(Method::GET, &url).send().await.unwrap()).await;
    assert_eq!((status, text.as_str()), (200, MADRID));
    // A bearer token.
    let oauth = create_app(&app.pool, &app.org, oauth_application("mobile")).await;
    let token = app.tokens(&oauth).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let written = app
        .anonymous(Method::PUT, "/v1/keystore/weather/Berlin")
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(r#"{"city": "Berlin"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 200);
    let found = app
        .anonymous(Method::POST, "/v1/keystore/weather")
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Scopes", "keystore.read")
        .json(&json!({"select": ["key"], "where": rule("city", "=", json!("Berlin"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(found).await, json!([{"key": "Berlin"}]));
}

#[tokio::test]
async fn another_organization_sees_and_changes_nothing() {
    let app = spawn_app().await;
    weather(&app).await;
    let globex = create_org(&app.pool, "Globex").await;
    let intruder = create_app(&app.pool, &globex, application("intruder")).await;
    let as_globex = |method: Method, path: &str| app.as_app(&globex, &intruder, method, path);

    // Globex has no keystore named weather: every call is a 404, and nothing is created.
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let refused = as_globex(method, "/v1/keystore/weather/Madrid")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_error(refused, 404, 404, "Keystore 'weather' does not exist").await;
    }
    for (method, path) in [
        (Method::POST, "/v1/keystore/weather"),
        (Method::GET, "/v1/keystores/weather"),
        (Method::PUT, "/v1/keystores/weather"),
        (Method::DELETE, "/v1/keystores/weather"),
    ] {
        let refused = as_globex(method, path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(refused, 404, 404, "Keystore 'weather' does not exist").await;
    }
    let listed = body(
        as_globex(Method::GET, "/v1/keystores")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["resource"]["total"], 0);

    // Its own keystore of the same name is a different one.
    let created = as_globex(Method::POST, "/v1/keystores")
        .json(&json!({"keystore_id": "weather", "type": "json", "empty": {"mine": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (_, _, text) = answer(
        as_globex(Method::GET, "/v1/keystore/weather/Madrid")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text, r#"{"mine":true}"#, "Globex's own, new Madrid");
    let put = as_globex(Method::PUT, "/v1/keystore/weather/London")
        .body(r#"{"city": "hijacked"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let found = body(
        as_globex(Method::POST, "/v1/keystore/weather")
            .json(&json!({"select": ["key"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found, json!([{"key": "London"}, {"key": "Madrid"}]));
    let removed = as_globex(Method::DELETE, "/v1/keystores/weather")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);

    // Acme's data is untouched.
    for (key, expected) in [("Madrid", MADRID), ("London", LONDON)] {
        let (_, _, text) = answer(
            app.request(Method::GET, &format!("/v1/keystore/weather/{key}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(text, expected);
    }
    assert_eq!(
        search(&app, "weather", json!({"select": ["key"]}))
            .await
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn operators_manage_keystores_through_the_admin_api() {
    let app = spawn_app().await;
    let admin = |method: Method, path: &str| {
        app.anonymous(method, path)
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
    };
    let created = admin(Method::POST, "/admin/v1/orgs/Acme/keystores")
        .json(&json!({"keystore_id": "weather", "type": "json", "empty": {"temp": null}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["keystore_id"], "weather");
    assert_eq!(created["environment_id"], app.org.environment_id.0);
    let (_, _, text) = answer(
        app.request(Method::GET, "/v1/keystore/weather/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        text, r#"{"temp":null}"#,
        "the application sees the operator's keystore"
    );

    let listed = body(
        admin(
            Method::GET,
            &format!("/admin/v1/orgs/{}/keystores", app.org.org_id),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["type"], "json");

    let wrong_environment = admin(Method::POST, "/admin/v1/orgs/Acme/keystores")
        .json(&json!({"environment_id": 999_999, "keystore_id": "x", "type": "raw"}))
        .send()
        .await
        .unwrap();
    assert_error(wrong_environment, 404, 404, "No environment 999999").await;
    let unknown_org = admin(Method::GET, "/admin/v1/orgs/Nobody/keystores")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_org.status(), 404);
    let bad = admin(Method::POST, "/admin/v1/orgs/Acme/keystores")
        .json(&json!({"keystore_id": "x y", "type": "raw"}))
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, 400, "keystore_id").await;
    let unauthenticated = app
        .anonymous(Method::GET, "/admin/v1/orgs/Acme/keystores")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let deleted = admin(Method::DELETE, "/admin/v1/orgs/Acme/keystores/weather")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        body(deleted).await,
        json!({
            "keystore_id": "weather",
            "environment_id": app.org.environment_id.0,
            "deleted": true
        })
    );
    let again = admin(Method::DELETE, "/admin/v1/orgs/Acme/keystores/weather")
        .send()
        .await
        .unwrap();
    assert_error(again, 404, 404, "Keystore 'weather' does not exist").await;
}

fn flowline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowline-under-test"));
    command
        .env_remove("DATABASE_URL")
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
async fn the_cli_creates_lists_and_removes_keystores() {
    let app = spawn_app().await;
    let url = app.database_url();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.xml");
    std::fs::write(&empty, "<weather><temp/></weather>").unwrap();

    let created = run_json(
        flowline()
            .args([
                "admin",
                "create-keystore",
                "--org",
                "Acme",
                "--id",
                "weather",
            ])
            .args(["--type", "xml", "--json", "--database-url", &url, "--empty"])
            .arg(&empty),
    );
    assert_eq!(created["keystore_id"], "weather");
    assert_eq!(created["type"], "xml");
    assert_eq!(created["empty"], "<weather><temp/></weather>");
    let (_, content_type, text) = answer(
        app.request(Method::GET, "/v1/keystore/weather/x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(content_type.starts_with("application/xml"));
    assert_eq!(text, "<weather><temp/></weather>");

    let listed = run_json(flowline().args([
        "admin",
        "list-keystores",
        "--org",
        "Acme",
        "--json",
        "--database-url",
        &url,
    ]));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<a><b></a>").unwrap();
    let refused = flowline()
        .args(["admin", "create-keystore", "--org", "Acme", "--id", "docs"])
        .args(["--type", "xml", "--database-url", &url, "--empty"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("malformed XML"));
    let refused = flowline()
        .args(["admin", "create-keystore", "--org", "Acme", "--id", "docs"])
        .args(["--type", "yaml", "--database-url", &url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--type: expected json, xml or raw"));

    let deleted = run_json(flowline().args([
        "admin",
        "delete-keystore",
        "--org",
        "Acme",
        "--id",
        "weather",
        "--json",
        "--database-url",
        &url,
    ]));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(count_rows(&app, "SELECT count(*) FROM keystores").await, 0);
    assert_eq!(entry_count(&app).await, 0);
}

#[tokio::test]
async fn logs_show_neither_keys_nor_values() {
    let app = spawn_app().await;
    define(&app, json!({"keystore_id": "people", "type": "json"})).await;
    let path = "/v1/keystore/people/key-marker-5e2a@example.org";
    put_json(&app, path, r#"{"secret": "value-marker-91b3"}"#).await;
    let (status, _, _) = answer(app.request(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let found = search(
        &app,
        "people",
        json!({"where": rule("secret", "=", json!("value-marker-91b3"))}),
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let logs = logs();
    assert!(
        logs.contains("/v1/keystore/{keystore_id}/{keystore_key}"),
        "the requests are logged"
    );
    assert!(!logs.contains("key-marker-5e2a"), "a key reached the logs");
    assert!(
        !logs.contains("value-marker-91b3"),
        "a value reached the logs"
    );
}
