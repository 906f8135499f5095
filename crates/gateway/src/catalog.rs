//! The API's endpoints, registered once: the router, `OPTIONS` answers with `Allow`, the
//! `/v1/options` listing and the OpenAPI completeness test all read this one list.

use axum::Router;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::{HeaderValue, Method, StatusCode};
use std::collections::BTreeMap;

/// One method on one path, with what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
}

pub struct Catalog<S> {
    router: Router<S>,
    endpoints: Vec<Endpoint>,
}

impl<S: Clone + Send + Sync + 'static> Catalog<S> {
    pub fn new() -> Self {
        Catalog {
            router: Router::new(),
            endpoints: Vec::new(),
        }
    }

    /// Registers `handler` for `method` on `path`. GET routes answer HEAD too.
    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = method_filter(&method);
        self.router = self.router.route(path, on(filter, handler));
        self.endpoints.push(Endpoint {
            method,
            path,
            summary,
        });
        self
    }

    /// Adds an `OPTIONS` answer to every path (except those in `custom_options`, which answer it
    /// themselves) and returns the router with the list of endpoints.
    pub fn finish(mut self, custom_options: &[&str]) -> (Router<S>, Vec<Endpoint>) {
        for (path, allow) in allow_headers(&self.endpoints) {
            if custom_options.contains(&path) {
                continue;
            }
            self.router = self.router.route(
                path,
                on(MethodFilter::OPTIONS, move || async move {
                    options_answer(&allow)
                }),
            );
        }
        (self.router, self.endpoints)
    }
}

fn method_filter(method: &Method) -> MethodFilter {
    match *method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        Method::PATCH => MethodFilter::PATCH,
        Method::HEAD => MethodFilter::HEAD,
        _ => MethodFilter::OPTIONS,
    }
}

/// The `Allow` value of each path: its methods, HEAD where GET is, and OPTIONS.
pub fn allow_headers(endpoints: &[Endpoint]) -> BTreeMap<&'static str, String> {
    let mut methods: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
    for endpoint in endpoints {
        let entry = methods.entry(endpoint.path).or_default();
        entry.push(endpoint.method.as_str());
        if endpoint.method == Method::GET {
            entry.push("HEAD");
        }
    }
    methods
        .into_iter()
        .map(|(path, mut list)| {
            list.push("OPTIONS");
            list.sort_unstable();
            list.dedup();
            (path, list.join(", "))
        })
        .collect()
}

pub fn options_answer(allow: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}
