//! Tables: definitions (`/v1/tabledefs`, the admin API, the CLI), rows (`/v1/tables/{name}/…`)
//! in every form the reference gives, every search operator over every column type, paging and
//! its envelope, bad input, scopes, isolation between organizations, and the query plans of
//! indexed searches.

mod definitions;
mod isolation;
mod operators;
mod plans;
mod rows;
mod search;

use crate::support::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// Defines a table as the default application; returns the definition.
pub(super) async fn define(app: &TestApp, definition: Value) -> Value {
    let response = app
        .request(Method::POST, "/v1/tabledefs")
        .json(&definition)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let created = body(response).await;
    assert_eq!(status, 201, "defining a table: {created}");
    assert_eq!(
        created["message"], "Table created successfully",
        "{created}"
    );
    created["resource"].clone()
}

pub(super) async fn post(app: &TestApp, path: &str, request: &Value) -> Response {
    app.request(Method::POST, path)
        .json(request)
        .send()
        .await
        .unwrap()
}

pub(super) async fn put(app: &TestApp, path: &str, request: &Value) -> Response {
    app.request(Method::PUT, path)
        .json(request)
        .send()
        .await
        .unwrap()
}

/// Inserts a row through `POST /v1/tables/{table}/`; returns the row as stored.
pub(super) async fn insert(app: &TestApp, table: &str, row: Value) -> Value {
    let response = post(app, &format!("/v1/tables/{table}/"), &row).await;
    let status = response.status();
    let answer = body(response).await;
    assert_eq!(status, 200, "inserting {row}: {answer}");
    answer["data"][0].clone()
}

/// Searches `table`; returns the whole envelope after checking the status.
pub(super) async fn search(app: &TestApp, table: &str, request: Value) -> Value {
    let response = post(app, &format!("/v1/tables/{table}/search"), &request).await;
    let status = response.status();
    let answer = body(response).await;
    assert_eq!(status, 200, "searching {request}: {answer}");
    answer
}

/// The ids of an envelope's rows, in order.
pub(super) fn ids(envelope: &Value) -> Vec<i64> {
    envelope["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {envelope}"))
        .iter()
        .map(|row| {
            row["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("a string id in {row}"))
        })
        .collect()
}

/// A where clause of one rule.
pub(super) fn rule(field: &str, operator: &str, value: Value) -> Value {
    json!({"condition": "AND", "rules": [{"field": field, "operator": operator, "value": value}]})
}

/// The `people` table: one column of each type, two of them indexed.
pub(super) fn people_definition() -> Value {
    json!({"name": "people", "columns": [
        {"name": "name", "type": "string", "index": true},
        {"name": "nick", "type": "string"},
        {"name": "age", "type": "integer", "index": true},
        {"name": "score", "type": "number"},
        {"name": "active", "type": "boolean"},
        {"name": "born", "type": "date"},
        {"name": "seen", "type": "datetime"},
        {"name": "meta", "type": "json"},
    ]})
}

/// Six people, ids 1 to 6, with NULLs, empty strings, non-ASCII text and LIKE wildcards.
pub(super) fn people_rows() -> Vec<Value> {
    vec![
        json!({"name": "Ada", "nick": "ada", "age": 36, "score": 9.5, "active": true,
               "born": "1815-12-10", "seen": "2024-01-01 10:00:00", "meta": {"k": 1}}),
        json!({"name": "Bob", "nick": null, "age": 17, "score": 4.25, "active": false,
               "born": "2007-03-01", "seen": "2024-02-01 12:30:00", "meta": [1, 2]}),
        json!({"name": "Carla", "nick": "", "age": 52, "score": 7, "active": true,
               "born": "1972-07-15", "meta": "x"}),
        json!({"name": "bob", "nick": "Bobby", "seen": "2023-12-31T23:59:59Z"}),
        json!({"name": "Dan_%", "nick": "d%n", "age": 25, "score": -1.5, "active": false,
               "born": "2000-02-29", "seen": "2024-01-01 10:00:01", "meta": {}}),
        json!({"name": "Éva", "nick": "eva", "age": 36, "score": 0, "active": true,
               "born": "1990-01-01", "seen": "2024-06-30 00:00:00", "meta": {"k": 2}}),
    ]
}

/// Defines `people` and inserts its six rows.
pub(super) async fn people(app: &TestApp) -> Value {
    let definition = define(app, people_definition()).await;
    for row in people_rows() {
        insert(app, "people", row).await;
    }
    definition
}

/// How many rows `table` has, seen through the API.
pub(super) async fn row_count(app: &TestApp, table: &str) -> i64 {
    search(app, table, json!({"limit": 1})).await["max_results"]
        .as_i64()
        .unwrap()
}
