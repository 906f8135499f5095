//! Real SOAP clients that nobody here wrote — python zeep (document/literal) and suds
//! (rpc/encoded), the npm `soap` package (document/literal, SOAP 1.1 and 1.2) and PHP's
//! SoapClient (rpc/encoded, SOAP 1.1 and 1.2) — each reading a WSDL from a running server and
//! calling every operation, checking answers and faults (`tests/soap-clients/`).
//!
//! They are installed, pinned, by `tests/soap-clients/install.sh` (which `.ci/run` calls). A
//! missing client fails its test with the command that installs it; set
//! `FLOWLINE_SOAP_CLIENTS=skip` to skip them on a machine without them.

use super::*;
use crate::records::onboarding;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn clients_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/soap-clients"))
}

/// A server with a published flow and a webhook, and the configuration the client scripts read.
async fn server() -> (TestApp, Value) {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let response = app
        .request(Method::POST, "/v1/webhooks")
        .json(&json!({"flow": "onboarding"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let webhook_uri = body(response).await["resource"]["webhook_uri"].clone();
    let config = json!({
        "api_key": app.org.api_key,
        "app_key": app.app.app_key,
        "customer": "Acme",
        "flow": "onboarding",
        "flow_id": flow_id,
        "webhook_uri": webhook_uri,
        "uuid": uuid::Uuid::new_v4().to_string(),
    });
    (app, config)
}

fn skipped() -> bool {
    std::env::var("FLOWLINE_SOAP_CLIENTS").is_ok_and(|value| value == "skip")
}

/// Runs `program args…` (a client script), and asserts it checked everything. `needs` is a
/// file the client cannot run without (its installed packages). An empty string means the
/// client is not installed and `FLOWLINE_SOAP_CLIENTS=skip` allowed skipping it.
async fn run_client(
    program: &str,
    args: Vec<String>,
    needs: Option<PathBuf>,
    hint: &str,
) -> String {
    let missing = |why: String| {
        assert!(
            skipped(),
            "{why}: run tests/soap-clients/install.sh ({hint}), or set FLOWLINE_SOAP_CLIENTS=skip"
        );
        String::new()
    };
    if let Some(needed) = needs.filter(|path| !path.exists()) {
        return missing(format!("{} is not installed", needed.display()));
    }
    let child = tokio::process::Command::new(program)
        .args(&args)
        .current_dir(clients_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) => return missing(format!("cannot start {program}: {error}")),
    };
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the client finished within 120 s")
        .expect("the client's output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    println!("{program} {args:?}:\n{stdout}");
    assert!(
        stdout.contains("all operations and faults checked"),
        "{stdout}\n{stderr}"
    );
    stdout
}

/// After a client's scenario: its record was deleted, the webhook's stays, the schema is gone.
async fn assert_effects(app: &TestApp, config: &Value) {
    let uuid = config["uuid"].as_str().unwrap();
    let response = app
        .request(Method::GET, "/v1/record")
        .header("X-Uuid", uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "the client deleted its record");
    assert_eq!(count_rows(app, "SELECT count(*) FROM records").await, 1);
    let response = app.request(Method::GET, "/v1/schema").send().await.unwrap();
    assert_eq!(response.status(), 404, "the client deleted the schema");
}

fn python() -> PathBuf {
    clients_dir().join("python/.venv/bin/python")
}

async fn python_client(script: &str, query: &str, hint: &str) {
    let (app, config) = server().await;
    let args = vec![script.to_owned(), wsdl_url(&app, query), config.to_string()];
    let python = python();
    let program = python.display().to_string();
    if !run_client(&program, args, Some(python), hint)
        .await
        .is_empty()
    {
        assert_effects(&app, &config).await;
    }
}

fn wsdl_url(app: &TestApp, query: &str) -> String {
    app.url(&format!("/v1/soap{query}"))
}

#[tokio::test]
async fn python_zeep_through_the_literal_wsdl() {
    python_client("python/zeep_client.py", "?wsdl=literal", "pip: zeep").await;
}

#[tokio::test]
async fn python_suds_through_the_rpc_encoded_wsdl() {
    python_client("python/suds_client.py", "?wsdl", "pip: suds-community").await;
}

async fn node_soap(version: &str) {
    let (app, config) = server().await;
    let args = vec![
        "node/client.js".to_owned(),
        wsdl_url(&app, "?wsdl=literal"),
        config.to_string(),
        version.to_owned(),
    ];
    let needs = clients_dir().join("node/node_modules/soap");
    if !run_client(
        "node",
        args,
        Some(needs),
        "npm ci in tests/soap-clients/node",
    )
    .await
    .is_empty()
    {
        assert_effects(&app, &config).await;
    }
}

#[tokio::test]
async fn node_soap_through_the_literal_wsdl_in_soap11() {
    node_soap("1.1").await;
}

#[tokio::test]
async fn node_soap_through_the_literal_wsdl_in_soap12() {
    node_soap("1.2").await;
}

async fn php_soap_client(query: &str, version: &str) {
    let (app, config) = server().await;
    let args = vec![
        "php/client.php".to_owned(),
        wsdl_url(&app, query),
        config.to_string(),
        version.to_owned(),
    ];
    if !run_client("php", args, None, "apt-get install php-cli php-soap")
        .await
        .is_empty()
    {
        assert_effects(&app, &config).await;
    }
}

#[tokio::test]
async fn php_soap_client_through_the_rpc_encoded_wsdl_in_soap11() {
    php_soap_client("?wsdl", "1.1").await;
}

#[tokio::test]
async fn php_soap_client_through_the_rpc_encoded_wsdl_in_soap12() {
    php_soap_client("?wsdl", "1.2").await;
}

#[tokio::test]
async fn php_soap_client_through_the_literal_wsdl() {
    php_soap_client("?wsdl=literal", "1.1").await;
}
