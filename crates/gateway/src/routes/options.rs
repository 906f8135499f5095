//! `GET /v1/options` (and `OPTIONS /v1/options`): the list of the API's methods.

use crate::catalog::{Endpoint, options_answer};
use crate::reply::Reply;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

pub const PATH: &str = "/v1/options";
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

pub fn listing(endpoints: &[Endpoint]) -> Reply {
    let methods: Vec<Value> = endpoints
        .iter()
        .filter(|endpoint| endpoint.path.starts_with("/v1/"))
        .map(|endpoint| {
            json!({
                "method": endpoint.method.as_str(),
                "endpoint": endpoint.path,
                "usage": endpoint.summary,
            })
        })
        .collect();
    Reply::short(
        StatusCode::OK,
        json!({ "methods": methods }),
        "The list of methods of the API",
    )
}

/// `OPTIONS /v1/options` answers with the listing as well as `Allow`.
pub fn options(endpoints: &[Endpoint]) -> Response {
    let mut response = listing(endpoints).into_response();
    let allow = options_answer(ALLOW);
    if let Some(value) = allow.headers().get(http::header::ALLOW) {
        response
            .headers_mut()
            .insert(http::header::ALLOW, value.clone());
    }
    response
}
