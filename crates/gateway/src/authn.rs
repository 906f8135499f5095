//! Authentication at the door: every request's credentials (bearer token, `X-Apikey` + `X-App`,
//! client id + secret, or `api_key` + `app_key` in the URL — headers win) are resolved once, the
//! request is charged to its application's rate limit (or its address's, when anonymous), and
//! the outcome waits in the request for the [`Auth`] extractor of the handler.
//!
//! The organization endpoints (`/v1/environment…`) take the organization API key alone
//! (`X-Apikey`, or `api_key` in the URL) and are charged to the organization's own window; the
//! [`OrgAuth`] extractor hands their handlers an [`OrgPrincipal`]. Application credentials are
//! refused there (403), and the organization key opens no application route (they need X-App).

use crate::client_ip::ClientIp;
use crate::error::{ApiError, error_response};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowline_auth::{Authenticated, Credentials, RateDecision, RateKey};
use flowline_core::{Error, ErrorKind, OrgPrincipal, Principal, Resource, Scope};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr};

/// The outcome of authenticating a request, kept for the handler's extractor. `None` when the
/// request carried no credentials at all.
#[derive(Debug, Clone)]
struct Authentication(Option<Result<Authenticated, (ErrorKind, String)>>);

/// The outcome of authenticating a request to an organization endpoint, kept for [`OrgAuth`].
#[derive(Debug, Clone)]
struct OrgAuthentication(Option<Result<OrgPrincipal, (ErrorKind, String)>>);

/// The organization endpoints: the environments of an organization and what is deployed in them.
const ORGANIZATION_PATH: &str = "/v1/environment";

pub(crate) fn is_organization_path(path: &str) -> bool {
    path.strip_prefix(ORGANIZATION_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// SOAP messages carry their credentials in the envelope: the SOAP endpoint (and the WSDLs beside
/// it) authenticates and charges the rate limit itself, once it has read them. Only `OPTIONS`
/// and methods the path lacks are charged here.
pub(crate) const SOAP_PATH: &str = "/v1/soap";

/// Paths whose handlers read client credentials themselves (the token calls).
const SELF_AUTHENTICATING: [&str; 3] = [
    "/v1/checkauthentication",
    "/v1/refreshtoken",
    "/v1/revoketoken",
];

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ip| ip.0);
    let path = request.uri().path();
    let soap_handled = matches!(
        *request.method(),
        http::Method::POST | http::Method::GET | http::Method::HEAD
    );
    if path == SOAP_PATH && soap_handled {
        return next.run(request).await;
    }
    if is_organization_path(path) {
        return authenticate_organization(&state, request, next, ip).await;
    }
    let outcome = if path.starts_with("/v1/") && !SELF_AUTHENTICATING.contains(&path) {
        let query = query_params(request.uri().query());
        authenticate_request(&state, request.headers(), &query, ip).await
    } else {
        None
    };
    let (key, limit) = match &outcome {
        Some(Ok(authenticated)) => (
            RateKey::App(
                authenticated.principal.org_id,
                authenticated.principal.app_id,
            ),
            Some(authenticated.rate_limit),
        ),
        _ => (RateKey::Address(ip), None),
    };
    let mut decision = state.auth().charge(key, limit);
    if decision.allowed
        && let Some(Ok(authenticated)) = &outcome
    {
        let environment = state.auth().charge(
            RateKey::Environment(
                authenticated.principal.org_id,
                authenticated.principal.environment_id,
            ),
            Some(authenticated.environment_rate_limit),
        );
        // The headers report the tighter of the two windows.
        if !environment.allowed || environment.remaining < decision.remaining {
            decision = environment;
        }
    }
    let over_storage = matches!(&outcome, Some(Ok(authenticated)) if authenticated.over_storage);
    let mut response = if !decision.allowed {
        error_response(ErrorKind::TooManyRequests, "Too many requests.".to_owned())
    } else if over_storage && stores_data(request.method(), request.uri().path()) {
        error_response(ErrorKind::InsufficientStorage, OVER_STORAGE.to_owned())
    } else {
        request.extensions_mut().insert(Authentication(outcome));
        next.run(request).await
    };
    add_rate_limit_headers(response.headers_mut(), decision);
    response
}

/// Why a write to an environment over its storage is refused (REST and SOAP).
pub(crate) const OVER_STORAGE: &str = "The environment uses more storage than its package and \
    storage add-ons allow: delete data, optimize the environment or upgrade its storage";

/// Whether a request may add data: writes, except the searches that the API sends as POST or
/// PUT. Deletions stay allowed, since they free storage.
fn stores_data(method: &http::Method, path: &str) -> bool {
    let writes = matches!(
        *method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH
    );
    let keystore_search = path
        .strip_prefix("/v1/keystore/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
    writes && !path.ends_with("/search") && !keystore_search
}

async fn authenticate_organization(
    state: &AppState,
    mut request: Request,
    next: Next,
    ip: IpAddr,
) -> Response {
    let query = query_params(request.uri().query());
    let outcome = resolve_organization(state, request.headers(), &query).await;
    let (key, limit) = match &outcome {
        Some(Ok(principal)) => (
            RateKey::Org(principal.org_id),
            Some(state.auth().config().default_app_rate_limit),
        ),
        _ => (RateKey::Address(ip), None),
    };
    let decision = state.auth().charge(key, limit);
    let mut response = if decision.allowed {
        request.extensions_mut().insert(OrgAuthentication(outcome));
        next.run(request).await
    } else {
        error_response(ErrorKind::TooManyRequests, "Too many requests.".to_owned())
    };
    add_rate_limit_headers(response.headers_mut(), decision);
    response
}

async fn resolve_organization(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Result<OrgPrincipal, (ErrorKind, String)>> {
    let api_key = match organization_credentials(headers, query)? {
        Ok(api_key) => api_key,
        Err(error) => return Some(Err((error.kind(), error.public_message()))),
    };
    let result = state.auth().authenticate_organization(&api_key).await;
    Some(result.map_err(|error| {
        if error.kind() == ErrorKind::Internal {
            tracing::error!(error = %error, "organization authentication failed");
        }
        (error.kind(), error.public_message())
    }))
}

/// The organization API key a request to an organization endpoint presents (header first),
/// `None` when it presents no credentials at all. Any application credential — a bearer
/// token, `X-App`, a client id, `app_key` — is refused: those endpoints are the organization's.
fn organization_credentials(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Result<String, Error>> {
    let application_headers = ["authorization", "authentication", "x-app", "client_id"];
    let presents_application = application_headers
        .iter()
        .any(|name| header(headers, name).is_some())
        || query.get("app_key").is_some_and(|value| !value.is_empty());
    if presents_application {
        return Some(Err(flowline_auth::application_credentials_refused()));
    }
    header(headers, "x-apikey")
        .map(str::to_owned)
        .or_else(|| query.get("api_key").filter(|key| !key.is_empty()).cloned())
        .map(Ok)
}

async fn authenticate_request(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    ip: IpAddr,
) -> Option<Result<Authenticated, (ErrorKind, String)>> {
    let credentials = match credentials(headers, query)? {
        Ok(credentials) => credentials,
        Err(error) => return Some(Err((error.kind(), error.public_message()))),
    };
    let requested_scopes =
        header(headers, "x-scopes").or_else(|| query.get("scopes").map(String::as_str));
    let result = state
        .auth()
        .authenticate(&credentials, requested_scopes, ip)
        .await;
    Some(result.map_err(|error| {
        if error.kind() == ErrorKind::Internal {
            tracing::error!(error = %error, "authentication failed");
        }
        (error.kind(), error.public_message())
    }))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

pub fn query_params(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The credentials a request presents, headers first. `None` when it presents none.
fn credentials(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Result<Credentials, Error>> {
    // The reference's own PHP example sends `Authentication: Bearer …`; accept it too.
    let authorization =
        header(headers, "authorization").or_else(|| header(headers, "authentication"));
    if let Some(value) = authorization {
        return Some(bearer_token(value).map(Credentials::Bearer));
    }
    if let Some(api_key) = header(headers, "x-apikey") {
        return Some(match header(headers, "x-app") {
            Some(app_key) => Ok(Credentials::ApiKey {
                api_key: api_key.to_owned(),
                app_key: app_key.to_owned(),
            }),
            None => Err(Error::unauthorized(
                "X-App: header is required with X-Apikey",
            )),
        });
    }
    if let (Some(client_id), Some(client_secret)) = (
        header(headers, "client_id"),
        header(headers, "client_secret"),
    ) {
        return Some(Ok(Credentials::ClientSecret {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
        }));
    }
    let api_key = query.get("api_key").filter(|value| !value.is_empty())?;
    Some(
        match query.get("app_key").filter(|value| !value.is_empty()) {
            Some(app_key) => Ok(Credentials::ApiKey {
                api_key: api_key.clone(),
                app_key: app_key.clone(),
            }),
            None => Err(Error::unauthorized(
                "app_key: URL parameter is required with api_key",
            )),
        },
    )
}

fn bearer_token(value: &str) -> Result<String, Error> {
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
        Ok(token.to_owned())
    } else {
        Err(Error::unauthorized(
            "Authorization: expected 'Bearer <access_token>'",
        ))
    }
}

pub(crate) fn add_rate_limit_headers(headers: &mut HeaderMap, decision: RateDecision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(decision.remaining),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_secs));
}

/// The scope a handler requires.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scope_marker {
    ($name:ident, $scope:expr) => {
        #[derive(Debug)]
        pub struct $name;
        impl RequiredScope for $name {
            const SCOPE: Scope = $scope;
        }
    };
}

scope_marker!(SchemaRead, Scope::read(Resource::Schema));
scope_marker!(SchemaWrite, Scope::full(Resource::Schema));
scope_marker!(RecordRead, Scope::read(Resource::Record));
scope_marker!(RecordWrite, Scope::full(Resource::Record));
scope_marker!(FlowRead, Scope::read(Resource::FlowDiagram));
scope_marker!(FlowWrite, Scope::full(Resource::FlowDiagram));
scope_marker!(WebhookRead, Scope::read(Resource::Webhook));
scope_marker!(WebhookWrite, Scope::full(Resource::Webhook));
scope_marker!(KeystoreRead, Scope::read(Resource::Keystore));
scope_marker!(KeystoreWrite, Scope::full(Resource::Keystore));
scope_marker!(TablesRead, Scope::read(Resource::Tables));
scope_marker!(TablesWrite, Scope::full(Resource::Tables));

/// The authenticated caller of a handler that requires scope `S`. The only way for a handler
/// to obtain a [`Principal`], and so to touch tenant data.
#[derive(Debug)]
pub struct Auth<S>(pub Principal, pub PhantomData<S>);

impl<S: RequiredScope + Send + Sync, St: Send + Sync> FromRequestParts<St> for Auth<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let outcome = parts
            .extensions
            .remove::<Authentication>()
            .and_then(|authentication| authentication.0);
        let authenticated = match outcome {
            Some(Ok(authenticated)) => authenticated,
            Some(Err((kind, message))) => return Err(error_response(kind, message)),
            None => {
                return Err(ApiError(Error::unauthorized(
                    "Credentials are required: use a bearer access token, X-Apikey and X-App, \
                     or api_key and app_key",
                ))
                .into_response());
            }
        };
        Auth::authorize(authenticated.principal).map_err(IntoResponse::into_response)
    }
}

impl<S: RequiredScope> Auth<S> {
    /// The principal as the caller of a handler that requires scope `S`, if it holds it. The
    /// SOAP endpoint, which authenticates from the envelope, calls handlers through this.
    pub(crate) fn authorize(principal: Principal) -> Result<Auth<S>, ApiError> {
        if principal.scopes.allows(S::SCOPE) {
            Ok(Auth(principal, PhantomData))
        } else {
            Err(ApiError(Error::forbidden(format!(
                "The scope '{}' is required for this request",
                S::SCOPE
            ))))
        }
    }
}

/// The caller of an organization endpoint: whoever presented the organization API key. The only
/// way for a handler to obtain an [`OrgPrincipal`].
#[derive(Debug)]
pub struct OrgAuth(pub OrgPrincipal);

impl<St: Send + Sync> FromRequestParts<St> for OrgAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let outcome = parts
            .extensions
            .remove::<OrgAuthentication>()
            .and_then(|authentication| authentication.0);
        match outcome {
            Some(Ok(principal)) => Ok(OrgAuth(principal)),
            Some(Err((kind, message))) => Err(error_response(kind, message)),
            None => Err(ApiError(Error::unauthorized(
                "Credentials are required: send the organization API key in X-Apikey",
            ))
            .into_response()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn headers_win_over_url_parameters() {
        let query = query_params(Some("api_key=url-key&app_key=url-app"));
        let found = credentials(
            &headers(&[("x-apikey", "h-key"), ("x-app", "h-app")]),
            &query,
        );
        assert_eq!(
            found.unwrap().unwrap(),
            Credentials::ApiKey {
                api_key: "h-key".into(),
                app_key: "h-app".into()
            }
        );
        let found = credentials(&HeaderMap::new(), &query);
        assert_eq!(
            found.unwrap().unwrap(),
            Credentials::ApiKey {
                api_key: "url-key".into(),
                app_key: "url-app".into()
            }
        );
    }

    #[test]
    fn organization_paths_are_the_environment_endpoints() {
        assert!(is_organization_path("/v1/environment"));
        assert!(is_organization_path("/v1/environment/"));
        assert!(is_organization_path("/v1/environment/3/status"));
        assert!(!is_organization_path("/v1/environments"));
        assert!(!is_organization_path("/v1/record"));
    }

    #[test]
    fn organization_endpoints_refuse_application_credentials() {
        let none = HashMap::new();
        let found = organization_credentials(&headers(&[("x-apikey", "k")]), &none);
        assert_eq!(found.unwrap().unwrap(), "k");
        let found = organization_credentials(&HeaderMap::new(), &query_params(Some("api_key=u")));
        assert_eq!(found.unwrap().unwrap(), "u");
        assert!(organization_credentials(&HeaderMap::new(), &none).is_none());
        for refused in [
            headers(&[("x-apikey", "k"), ("x-app", "crm")]),
            headers(&[("authorization", "Bearer t")]),
            headers(&[("client_id", "c"), ("client_secret", "s")]),
        ] {
            let error = organization_credentials(&refused, &none)
                .unwrap()
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Forbidden);
        }
        let url = query_params(Some("api_key=k&app_key=crm"));
        assert!(
            organization_credentials(&HeaderMap::new(), &url)
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn no_credentials_is_none_and_half_credentials_are_named() {
        assert!(credentials(&HeaderMap::new(), &HashMap::new()).is_none());
        let error = credentials(&headers(&[("x-apikey", "k")]), &HashMap::new())
            .unwrap()
            .unwrap_err();
        assert!(error.public_message().starts_with("X-App"));
        let error = credentials(&headers(&[("authorization", "Basic abc")]), &HashMap::new())
            .unwrap()
            .unwrap_err();
        assert!(error.public_message().starts_with("Authorization"));
    }
}
