//! Projects (issue 7, half B): `flowline admin create-project`, deploying a project version into
//! an environment with the reference's options, the environment's projects, its URL mappings and
//! its public site.

mod cli;
mod deploy;
mod sites;
mod urls;

use crate::support::*;
use flowline_auth::CreatedOrganization;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use std::path::Path;

/// A request with an organization's API key (the organization API).
pub fn as_org(
    app: &TestApp,
    org: &CreatedOrganization,
    method: Method,
    path: &str,
) -> RequestBuilder {
    app.anonymous(method, path)
        .header("X-Apikey", &org.organization_api_key)
}

/// A request with the default organization's key.
pub fn org_request(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    as_org(app, &app.org, method, path)
}

pub fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A small project: a flow, a JSON keystore, a table with two rows, a website and a hosted page.
pub fn shop_project(dir: &Path) {
    write(dir, "project.json", r#"{"name": "Shop"}"#);
    write(
        dir,
        "flows/orders.json",
        &json!({"name": "orders", "start": "done", "steps": {"done": {"type": "end"}}}).to_string(),
    );
    write(
        dir,
        "keystores/weather.json",
        &json!({"type": "json", "empty": {"temp": null},
                "entries": {"london": {"temp": 12}, "paris": {"temp": 18}}})
        .to_string(),
    );
    write(
        dir,
        "tables/users.json",
        &json!({"columns": [{"name": "username", "type": "string", "index": true},
                            {"name": "age", "type": "integer"}],
                "rows": [{"id": 1, "username": "ann", "age": 31},
                         {"id": 2, "username": "bob", "age": 42}]})
        .to_string(),
    );
    write(dir, "websites/shop/index.html", "<h1>Shop</h1>");
    write(dir, "websites/shop/css/site.css", "h1 { color: red }");
    write(dir, "websites/shop/docs/index.html", "<p>docs</p>");
    write(dir, "websites/blog/index.html", "<h1>Blog</h1>");
    write(dir, "hostedpages/landing.html", "<p>landing</p>");
}

/// Stores a project version from `dir` for `org`, as `create-project` does; returns its id and
/// version.
pub async fn create_project(app: &TestApp, org: &CreatedOrganization, dir: &Path) -> (i64, i32) {
    let bundle = flowline_projects::read_project_dir(dir, flowline_gateway::from_xml)
        .expect("a valid project");
    let mut conn = app.pool.acquire().await.unwrap();
    let created = flowline_projects::create_version(&mut conn, org.org_id, &bundle)
        .await
        .expect("a project version");
    (created.project_id.0, created.version)
}

/// The Shop project of the default organization, at version 1.
pub async fn shop(app: &TestApp) -> (tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().unwrap();
    shop_project(dir.path());
    let (project_id, version) = create_project(app, &app.org, dir.path()).await;
    assert_eq!(version, 1);
    (dir, project_id)
}

/// Another environment of an organization, ready.
pub async fn new_environment(app: &TestApp, org: &CreatedOrganization, name: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO environments (org_id, name) VALUES ($1, $2) RETURNING environment_id",
    )
    .bind(org.org_id)
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

pub fn deploy_path(environment_id: i64, project_id: i64) -> String {
    format!("/v1/environment/{environment_id}/project/{project_id}")
}

/// Deploys and expects a 200; returns the body.
pub async fn deploy_ok(
    app: &TestApp,
    environment_id: i64,
    project_id: i64,
    options: Value,
) -> Value {
    let response = org_request(app, Method::POST, &deploy_path(environment_id, project_id))
        .json(&options)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = body(response).await;
    assert_eq!(status, 200, "deploy: {body}");
    body
}

pub async fn get_json(request: RequestBuilder) -> (u16, Value) {
    let response: Response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, body(response).await)
}

/// What an environment holds, as the database has it: flows, keystore entries, table rows,
/// deployed projects, site files and URL mappings, for "nothing changed" checks.
pub async fn environment_snapshot(app: &TestApp, environment_id: i64) -> Value {
    let query = |sql: &'static str| {
        let pool = app.pool.clone();
        async move {
            let rows: Vec<(String,)> = sqlx::query_as(sql)
                .bind(environment_id)
                .fetch_all(&pool)
                .await
                .unwrap();
            rows.into_iter().map(|(text,)| text).collect::<Vec<_>>()
        }
    };
    json!({
        "flows": query("SELECT name || ':' || status FROM flows WHERE environment_id = $1 ORDER BY name").await,
        "keystores": query("SELECT keystore_id || ':' || data_type || ':' || empty_value FROM keystores WHERE environment_id = $1 ORDER BY keystore_id").await,
        "entries": query("SELECT keystore_id || '/' || key || '=' || value FROM keystore_entries WHERE environment_id = $1 ORDER BY keystore_id, key").await,
        "tables": query("SELECT t.name || '.' || c.name || ':' || c.column_type FROM data_tables t JOIN data_table_columns c USING (org_id, table_id) WHERE t.environment_id = $1 ORDER BY 1").await,
        "projects": query("SELECT project_id || ':' || version FROM environment_projects WHERE environment_id = $1 ORDER BY 1").await,
        "files": query("SELECT name || '/' || path || ':' || encode(content_hash, 'hex') FROM environment_site_files WHERE environment_id = $1 ORDER BY 1").await,
        "urls": query("SELECT url || '→' || name FROM environment_urls WHERE environment_id = $1 ORDER BY 1").await,
    })
}

/// The rows of an environment's table, through the tables API of an application of it.
pub async fn table_rows(app: &TestApp, table: &str) -> Vec<Value> {
    let response = app
        .request(Method::POST, &format!("/v1/tables/{table}/search"))
        .json(&json!({"limit": 100}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value = body(response).await;
    assert_eq!(status, 200, "{value}");
    value["data"].as_array().cloned().unwrap_or_default()
}

/// A keystore entry of the default environment, through the keystore API.
pub async fn keystore_entry(app: &TestApp, keystore: &str, key: &str) -> (u16, String) {
    let response = app
        .request(Method::GET, &format!("/v1/keystore/{keystore}/{key}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}
