//! The OpenAPI document describes every route the server has, and nothing it lacks.

use serde_norway::Value;

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/flowline.yaml");
    let text = std::fs::read_to_string(path).expect("openapi/flowline.yaml exists");
    serde_norway::from_str(&text).expect("openapi/flowline.yaml is YAML")
}

#[test]
fn every_route_is_documented() {
    let document = document();
    assert_eq!(
        document["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let paths = document["paths"].as_mapping().expect("paths");
    for endpoint in flowline_gateway::endpoints() {
        let operation = paths
            .get(endpoint.path)
            .and_then(|item| item.get(endpoint.method.as_str().to_ascii_lowercase()));
        let Some(operation) = operation else {
            panic!(
                "{} {} is not in openapi/flowline.yaml",
                endpoint.method, endpoint.path
            );
        };
        assert!(
            operation.get("responses").is_some(),
            "{} {} has no responses",
            endpoint.method,
            endpoint.path
        );
    }
}

#[test]
fn every_documented_route_exists() {
    let document = document();
    let endpoints = flowline_gateway::endpoints();
    let paths = document["paths"].as_mapping().expect("paths");
    for (path, item) in paths {
        let path = path.as_str().expect("a path");
        for (method, _) in item.as_mapping().expect("operations") {
            let method = method.as_str().expect("a method").to_ascii_uppercase();
            if matches!(method.as_str(), "PARAMETERS" | "SUMMARY" | "DESCRIPTION") {
                continue;
            }
            assert!(
                endpoints
                    .iter()
                    .any(|e| e.path == path && e.method.as_str() == method),
                "openapi documents {method} {path}, which the server does not route"
            );
        }
    }
}
