//! `/v1/soap`: the Flowize SOAP API. `POST` takes a SOAP 1.1 or 1.2 envelope, dispatched on
//! the first child of its Body; `GET ?wsdl` and `GET ?wsdl=literal` serve the two WSDLs.
//!
//! The envelope is read by `flowline-soap`; credentials come from the envelope (an
//! `AuthenticationObject` or an `AuthenticationHeader`), so this endpoint authenticates and
//! charges the rate limit itself rather than at the door. Each operation runs through the
//! handler of its REST twin (`operations`), and that handler's answer is written back as a
//! SOAP `Response` or Fault (`answer`). Faults travel with HTTP 500, as SOAP 1.1 over HTTP and
//! WS-I BP R1126 require; clients drop faults sent with other statuses.

mod answer;
mod operations;
mod wsdl;

pub use wsdl::serve as wsdl;

use crate::authn::{OVER_STORAGE, add_rate_limit_headers};
use crate::client_ip::ClientIp;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use flowline_auth::{Authenticated, RateDecision, RateKey};
use flowline_core::{ErrorKind, Principal};
use flowline_soap::{
    Answer, Credentials, Fault, Limits, Operation, SoapVersion, Style, write_answer, write_fault,
};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use std::net::{IpAddr, Ipv4Addr};

/// Who is calling and how: what every answer of one exchange needs.
struct Exchange {
    version: SoapVersion,
    style: Style,
    ip: IpAddr,
    request_id: String,
}

pub async fn call(State(state): State<AppState>, request: Request) -> Response {
    let mut exchange = Exchange::of(&request);
    let request = match read(&state, &mut exchange, request).await {
        Ok(request) => request,
        Err(fault) => {
            let decision = charge(&state, RateKey::Address(exchange.ip), None);
            return exchange.fault(fault, decision);
        }
    };
    let operation = request.operation();
    let (principal, decision) = match admit(&state, &exchange, &request).await {
        Ok(admitted) => admitted,
        Err((fault, decision)) => return exchange.fault(fault, decision),
    };
    let response = operations::perform(&state, principal, request.call).await;
    match answer::from_rest(operation, response) {
        Ok(success) => exchange.answer(operation, &success, decision),
        Err(fault) => exchange.fault(fault, decision),
    }
}

/// The request's envelope, read within the codec's bounds. The exchange learns the request's
/// SOAP version and style (or, for a message too broken to say, the version to fault in).
async fn read(
    state: &AppState,
    exchange: &mut Exchange,
    request: Request,
) -> Result<flowline_soap::Request, Fault> {
    let limits = limits(state);
    let bytes = axum::body::to_bytes(request.into_body(), limits.max_bytes)
        .await
        .map_err(|_| {
            Fault::client(format!(
                "the message is larger than {} bytes, or could not be read",
                limits.max_bytes
            ))
        })?;
    let request = flowline_soap::parse(&bytes, exchange.version, &limits).map_err(|rejection| {
        exchange.version = rejection.version;
        rejection.fault
    })?;
    exchange.version = request.version;
    exchange.style = request.style;
    Ok(request)
}

/// Authenticates the caller (every operation but `webhook`) and charges the rate limit: the
/// application's when its credentials hold, the client address's otherwise.
async fn admit(
    state: &AppState,
    exchange: &Exchange,
    request: &flowline_soap::Request,
) -> Result<(Option<Principal>, RateDecision), (Fault, RateDecision)> {
    let anonymous = || charge(state, RateKey::Address(exchange.ip), None);
    let (principal, decision) = if request.operation().needs_credentials() {
        let authenticated = authenticate(state, request.credentials.as_ref(), exchange.ip)
            .await
            .map_err(|fault| (fault, anonymous()))?;
        let decision = charge_application(state, &authenticated);
        if decision.allowed && authenticated.over_storage && request.operation().stores_data() {
            return Err((Fault::status(507, 507, OVER_STORAGE), decision));
        }
        (Some(authenticated.principal), decision)
    } else {
        (None, anonymous())
    };
    if decision.allowed {
        Ok((principal, decision))
    } else {
        Err((Fault::status(429, 429, "Too many requests."), decision))
    }
}

/// Charges the application's window and its environment's (the package's request rate), as the
/// REST API does; the decision of the tighter of the two.
fn charge_application(state: &AppState, authenticated: &Authenticated) -> RateDecision {
    let principal = &authenticated.principal;
    let key = RateKey::App(principal.org_id, principal.app_id);
    let decision = charge(state, key, Some(authenticated.rate_limit));
    if !decision.allowed {
        return decision;
    }
    let environment = charge(
        state,
        RateKey::Environment(principal.org_id, principal.environment_id),
        Some(authenticated.environment_rate_limit),
    );
    if !environment.allowed || environment.remaining < decision.remaining {
        environment
    } else {
        decision
    }
}

pub(super) const CREDENTIALS_REQUIRED: &str = "Credentials are required: an AuthenticationObject (Apikey, \
    Appkey, Version) in the body, or an AuthenticationHeader (AccessToken or SessionID) in the \
    SOAP Header";

/// The envelope's credentials, resolved as the REST API resolves its own.
async fn authenticate(
    state: &AppState,
    credentials: Option<&Credentials>,
    ip: IpAddr,
) -> Result<Authenticated, Fault> {
    let credentials = match credentials {
        Some(Credentials::AccessToken(token)) => flowline_auth::Credentials::Bearer(token.clone()),
        Some(Credentials::ApiKey {
            api_key: Some(api_key),
            app_key: Some(app_key),
        }) => flowline_auth::Credentials::ApiKey {
            api_key: api_key.clone(),
            app_key: app_key.clone(),
        },
        Some(Credentials::ApiKey { api_key, .. }) => {
            let missing = if api_key.is_none() {
                "Apikey"
            } else {
                "Appkey"
            };
            return Err(Fault::status(
                401,
                401,
                format!("AuthenticationObject/{missing}: is required"),
            ));
        }
        None => return Err(Fault::status(401, 401, CREDENTIALS_REQUIRED)),
    };
    state
        .auth()
        .authenticate(&credentials, None, ip)
        .await
        .map_err(|error| {
            if error.kind() == ErrorKind::Internal {
                tracing::error!(error = %error, "authentication failed");
            }
            answer::authentication_fault(error.kind(), error.public_message())
        })
}

fn charge(state: &AppState, key: RateKey, limit: Option<u32>) -> RateDecision {
    state.auth().charge(key, limit)
}

/// The codec's bounds: its own, within the gateway's body limit.
fn limits(state: &AppState) -> Limits {
    let defaults = Limits::default();
    Limits {
        max_bytes: state.config().body_limit_bytes.min(defaults.max_bytes),
        ..defaults
    }
}

impl Exchange {
    fn of(request: &Request) -> Exchange {
        let headers = request.headers();
        let version = header(headers, CONTENT_TYPE.as_str())
            .map_or(SoapVersion::Soap11, SoapVersion::from_media_type);
        Exchange {
            version,
            style: Style::Encoded,
            ip: request
                .extensions()
                .get::<ClientIp>()
                .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ip| ip.0),
            request_id: header(headers, "x-request-id")
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn answer(
        &self,
        operation: Operation,
        success: &answer::Success,
        decision: RateDecision,
    ) -> Response {
        let ip = self.ip.to_string();
        let body = write_answer(
            self.version,
            self.style,
            operation,
            &Answer {
                id: success.id,
                code: success.code,
                request_ip: &ip,
                resource: &success.resource,
                message: &success.message,
                error: success.error,
            },
        );
        self.respond(StatusCode::OK, body, decision)
    }

    /// A Fault, with the request's id as its actor (the reference fills `faultactor` with an
    /// opaque request identifier).
    fn fault(&self, fault: Fault, decision: RateDecision) -> Response {
        let fault = if self.request_id.is_empty() {
            fault
        } else {
            fault.with_actor(self.request_id.clone())
        };
        self.respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            write_fault(self.version, &fault),
            decision,
        )
    }

    fn respond(&self, status: StatusCode, body: Vec<u8>, decision: RateDecision) -> Response {
        let mut response = (status, Body::from(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.version.content_type()),
        );
        add_rate_limit_headers(headers, decision);
        response
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}
