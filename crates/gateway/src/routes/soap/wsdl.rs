//! `GET /v1/soap?wsdl` (rpc/encoded) and `GET /v1/soap?wsdl=literal` (document/literal
//! wrapped): the two WSDLs of `wsdl/`, with the server's own address in `soap:address`.

use crate::authn::{add_rate_limit_headers, query_params};
use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use flowline_auth::RateKey;
use flowline_core::Error;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, StatusCode};
use std::net::{IpAddr, Ipv4Addr};

pub(super) const RPC_ENCODED: &str = include_str!("../../../../../wsdl/flowline.wsdl");
pub(super) const DOCUMENT_LITERAL: &str = include_str!("../../../../../wsdl/flowline-literal.wsdl");

/// The address the files carry, replaced when they are served.
const ADDRESS_IN_FILES: &str = "http://localhost:8080/v1/soap";

pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ip| ip.0);
    let decision = state.auth().charge(RateKey::Address(ip), None);
    let mut response = if decision.allowed {
        match chosen(request.uri().query()) {
            Ok(wsdl) => {
                let body = wsdl.replace(ADDRESS_IN_FILES, &own_address(&request));
                let mut response = (StatusCode::OK, body).into_response();
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                );
                response
            }
            Err(error) => error.into_response(),
        }
    } else {
        ApiError::new(
            flowline_core::ErrorKind::TooManyRequests,
            "Too many requests.",
        )
        .into_response()
    };
    add_rate_limit_headers(response.headers_mut(), decision);
    response
}

/// The WSDL the query asks for: `wsdl` (any case) empty or `rpc` for rpc/encoded, `literal`
/// for document/literal.
fn chosen(query: Option<&str>) -> Result<&'static str, ApiError> {
    let params = query_params(query);
    let value = params
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("wsdl"))
        .map(|(_, value)| value.to_ascii_lowercase());
    match value.as_deref() {
        Some("" | "rpc" | "encoded") => Ok(RPC_ENCODED),
        Some("literal" | "document") => Ok(DOCUMENT_LITERAL),
        Some(other) => Err(ApiError(Error::invalid_field(
            "wsdl",
            format!("'{other}' is not a WSDL this server has: use ?wsdl or ?wsdl=literal"),
        ))),
        None => Err(ApiError(Error::invalid_field(
            "wsdl",
            "is required: GET /v1/soap serves the WSDL, ?wsdl (rpc/encoded) or ?wsdl=literal \
             (document/literal wrapped); SOAP messages are POSTed",
        ))),
    }
}

/// `http(s)://{Host}/v1/soap`, from the request's own `Host` (and `X-Forwarded-Proto` behind a
/// TLS-terminating proxy). A Host that is not a plain host and port is not echoed into XML.
fn own_address(request: &Request) -> String {
    let headers = request.headers();
    let host = headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| is_plain_host(host))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
    {
        Some(proto) if proto.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/v1/soap")
}

fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use flowline_soap::Operation;
    use quick_xml::Reader;
    use quick_xml::events::Event;
    use std::collections::BTreeSet;

    /// The `name` of every `operation` element under `portType` and under `binding`.
    fn operations(wsdl: &str, section: &str) -> BTreeSet<String> {
        let mut reader = Reader::from_str(wsdl);
        let mut inside = false;
        let mut names = BTreeSet::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(start) if start.local_name().as_ref() == section => inside = true,
                Event::End(end) if end.local_name().as_ref() == section => inside = false,
                Event::Start(start) | Event::Empty(start)
                    if inside && start.local_name().as_ref() == "operation" =>
                {
                    if let Some(name) = start.try_get_attribute("name").unwrap() {
                        names.insert(name.value.into_owned());
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        names
    }

    #[test]
    fn both_wsdls_describe_exactly_the_routed_operations() {
        let routed: BTreeSet<String> = Operation::ALL
            .iter()
            .map(|operation| operation.name().to_owned())
            .collect();
        for wsdl in [RPC_ENCODED, DOCUMENT_LITERAL] {
            assert_eq!(operations(wsdl, "portType"), routed);
            assert_eq!(operations(wsdl, "binding"), routed);
            for operation in Operation::ALL {
                assert!(
                    wsdl.contains(&format!("name=\"{}\"", operation.request_type())),
                    "{} has no type {}",
                    operation,
                    operation.request_type()
                );
            }
            assert_eq!(wsdl.matches(ADDRESS_IN_FILES).count(), 1);
        }
    }

    #[test]
    fn the_query_chooses_the_wsdl() {
        assert_eq!(chosen(Some("wsdl")).unwrap(), RPC_ENCODED);
        assert_eq!(chosen(Some("WSDL")).unwrap(), RPC_ENCODED);
        assert_eq!(chosen(Some("wsdl=literal")).unwrap(), DOCUMENT_LITERAL);
        assert!(chosen(Some("wsdl=soap12")).is_err());
        assert!(chosen(None).is_err());
    }

    #[test]
    fn only_plain_hosts_are_echoed() {
        assert!(is_plain_host("api.example.org:8443"));
        assert!(is_plain_host("[::1]:80"));
        assert!(!is_plain_host("x\"/><evil"));
        assert!(!is_plain_host(""));
    }
}
