//! The HTTP face of Flowline: the axum router with its REST handlers, authentication at the
//! door, content negotiation (JSON/XML), ETag and Last-Modified, rate-limit headers, bounded
//! requests, and the admin API.
//!
//! A handler extracts, calls one service function and shapes the answer. Business rules live
//! in the service crates; SQL never appears here.

mod authn;
mod catalog;
mod client_ip;
mod error;
mod format;
mod params;
mod payload;
mod render;
mod reply;
mod routes;
mod state;

pub use catalog::Endpoint;
pub use error::ApiError;
pub use flowline_records::IngestSettings;
pub use format::{Format, from_xml, to_xml};
pub use reply::{Envelope, EnvelopeId, Reply};
pub use state::{AppState, GatewayConfig};

use crate::catalog::Catalog;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use flowline_core::{Error, ErrorKind};
use http::Method;
use routes::{
    admin, auth, environments, flowdiagram, keystores, metrics, options, projects, record_queries,
    records, schema, sites, soap, table_definitions, tables, urls, webhooks,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The public API's endpoints.
fn public_api() -> Catalog<AppState> {
    sites_api(projects_api(organization_api(Catalog::new())))
        .route(
            Method::GET,
            "/v1/checkauthentication",
            "Gets an access token after checking the client credentials.",
            auth::check_authentication,
        )
        .route(
            Method::GET,
            "/v1/refreshtoken",
            "Exchanges a refresh token for a new access token.",
            auth::refresh_token,
        )
        .route(
            Method::POST,
            "/v1/revoketoken",
            "Revokes a refresh token and every token of its grant.",
            auth::revoke_token,
        )
        .route(
            Method::POST,
            "/v1/schema",
            "Inserts the Data Schema structure.",
            schema::create,
        )
        .route(
            Method::GET,
            "/v1/schema",
            "Gets the Data Schema structure.",
            schema::get,
        )
        .route(
            Method::PUT,
            "/v1/schema",
            "Updates the Data Schema.",
            schema::update,
        )
        .route(
            Method::DELETE,
            "/v1/schema",
            "Removes the Data Schema.",
            schema::delete,
        )
        .route(
            Method::POST,
            "/v1/webhook/{webhook_uri}",
            "Inserts Data using a Webhook Protocol.",
            webhooks::receive,
        )
        .route(
            Method::POST,
            "/v1/webhooks",
            "Registers a webhook that feeds a flow.",
            webhooks::create,
        )
        .route(
            Method::GET,
            "/v1/webhooks",
            "Lists the environment's webhooks.",
            webhooks::list,
        )
        .route(
            Method::GET,
            "/v1/webhooks/{id}",
            "Gets a webhook.",
            webhooks::get,
        )
        .route(
            Method::DELETE,
            "/v1/webhooks/{id}",
            "Removes a webhook and its events.",
            webhooks::delete,
        )
        .route(
            Method::POST,
            "/v1/flowdiagram",
            "Creates a Flow Diagram from its definition, as a draft.",
            flowdiagram::create,
        )
        .route(
            Method::GET,
            "/v1/flowdiagram",
            "Gets information related to a Flow Diagram.",
            flowdiagram::get,
        )
        .route(
            Method::PUT,
            "/v1/flowdiagram",
            "Saves a new draft of a Flow Diagram.",
            flowdiagram::update,
        )
        .route(
            Method::DELETE,
            "/v1/flowdiagram",
            "Removes a Flow Diagram.",
            flowdiagram::delete,
        )
        .route(
            Method::PUT,
            "/v1/changeflowstatus",
            "Updates the flow status.",
            flowdiagram::change_status,
        )
        .route(
            Method::POST,
            "/v1/record",
            "Inserts a Data Record, or an array of them, into a flow.",
            records::create,
        )
        .route(
            Method::GET,
            "/v1/record",
            "Gets a Data Record by its uuid.",
            records::get,
        )
        .route(
            Method::PUT,
            "/v1/record",
            "Replaces the data of a Data Record.",
            records::update,
        )
        .route(
            Method::DELETE,
            "/v1/record",
            "Removes a Data Record.",
            records::delete,
        )
        .route(
            Method::GET,
            "/v1/record/{id}",
            "Gets a Data Record by its data_record_id (or uuid).",
            records::get_by_id,
        )
        .route(
            Method::GET,
            "/v1/record/history",
            "Gets every change a Data Record went through.",
            records::history,
        )
        .route(
            Method::GET,
            "/v1/record/search",
            "Searches data records by uuid, flow, status, a data field or a date.",
            record_queries::search,
        )
        .route(
            Method::PUT,
            "/v1/record/changestatus",
            "Executes a queue action (pause, resume, execute, delete, resume and continue) on data records.",
            record_queries::change_status,
        )
        .route(
            Method::PUT,
            "/v1/record/movetoflow",
            "Moves data records to another flow.",
            record_queries::move_to_flow,
        )
        .route(
            Method::POST,
            "/v1/soap",
            "The SOAP 1.1/1.2 endpoint: the eleven operations of the Flowize SOAP API.",
            soap::call,
        )
        .route(
            Method::GET,
            "/v1/soap",
            "Serves the WSDL: ?wsdl (rpc/encoded) or ?wsdl=literal (document/literal wrapped).",
            soap::wsdl,
        )
        .route(
            Method::GET,
            "/v1/tables/{table_name}/{id}",
            "Gets Table data: one row by its id.",
            tables::get_row,
        )
        .route(
            Method::POST,
            "/v1/tables/{table_name}/",
            "Inserts Table data: a row, as an object or as columns.",
            tables::insert,
        )
        .route(
            Method::POST,
            "/v1/tables/{table_name}",
            "Inserts Table data (the path without its trailing slash).",
            tables::insert,
        )
        .route(
            Method::POST,
            "/v1/tables/{table_name}/{id}",
            "Inserts Table data with the id in the path (the reference's alternative way).",
            tables::insert_with_id,
        )
        .route(
            Method::PUT,
            "/v1/tables/{table_name}/{id}",
            "Updates Table data: one row by its id.",
            tables::update_row,
        )
        .route(
            Method::PUT,
            "/v1/tables/{table_name}/",
            "Updates Table data: the rows a where clause selects.",
            tables::update_rows,
        )
        .route(
            Method::PUT,
            "/v1/tables/{table_name}",
            "Updates Table data: the rows a where clause selects (no trailing slash).",
            tables::update_rows,
        )
        .route(
            Method::DELETE,
            "/v1/tables/{table_name}/{id}",
            "Deletes Table data: one row by its id.",
            tables::delete_row,
        )
        .route(
            Method::POST,
            "/v1/tables/{table_name}/search",
            "Searches in Table data.",
            tables::search,
        )
        .route(
            Method::POST,
            "/v1/tabledefs",
            "Creates a table: its name and typed columns.",
            table_definitions::create,
        )
        .route(
            Method::GET,
            "/v1/tabledefs",
            "Lists the environment's tables.",
            table_definitions::list,
        )
        .route(
            Method::GET,
            "/v1/tabledefs/{table_name}",
            "Gets a table's definition.",
            table_definitions::get,
        )
        .route(
            Method::PUT,
            "/v1/tabledefs/{table_name}",
            "Changes a table's definition: adds or drops columns and indexes.",
            table_definitions::alter,
        )
        .route(
            Method::DELETE,
            "/v1/tabledefs/{table_name}",
            "Removes a table and its rows.",
            table_definitions::delete,
        )
        .route(
            Method::GET,
            "/v1/keystore/{keystore_id}/{keystore_key}",
            "Gets Keystore data (a new key is created with the keystore's empty structure).",
            keystores::get_entry,
        )
        .route(
            Method::POST,
            "/v1/keystore/{keystore_id}/{keystore_key}",
            "Inserts Keystore data; 409 when the key exists.",
            keystores::insert_entry,
        )
        .route(
            Method::PUT,
            "/v1/keystore/{keystore_id}/{keystore_key}",
            "Inserts or updates Keystore data.",
            keystores::upsert_entry,
        )
        .route(
            Method::DELETE,
            "/v1/keystore/{keystore_id}/{keystore_key}",
            "Deletes Keystore data.",
            keystores::delete_entry,
        )
        .route(
            Method::POST,
            "/v1/keystore/{keystore_id}",
            "Searches in Keystore data.",
            keystores::search,
        )
        .route(
            Method::POST,
            "/v1/keystores",
            "Defines a keystore: its type and empty structure.",
            keystores::create,
        )
        .route(
            Method::GET,
            "/v1/keystores",
            "Lists the environment's keystores.",
            keystores::list,
        )
        .route(
            Method::GET,
            "/v1/keystores/{keystore_id}",
            "Gets a keystore's definition.",
            keystores::get,
        )
        .route(
            Method::PUT,
            "/v1/keystores/{keystore_id}",
            "Replaces a keystore's empty structure.",
            keystores::update,
        )
        .route(
            Method::DELETE,
            "/v1/keystores/{keystore_id}",
            "Removes a keystore and its entries.",
            keystores::delete,
        )
}

/// The projects and URL mappings of an environment (the organization API key).
fn projects_api(catalog: Catalog<AppState>) -> Catalog<AppState> {
    catalog
        .route(
            Method::GET,
            "/v1/environment/{environment_id}/projects",
            "Outputs the Projects hosted in the Environment, with the version of each.",
            projects::list,
        )
        .route(
            Method::POST,
            "/v1/environment/{environment_id}/project/{project_id}",
            "Adds or updates a Project in the Environment (flows, keystores, tables, websites), in one transaction.",
            projects::deploy,
        )
        .route(
            Method::DELETE,
            "/v1/environment/{environment_id}/project/{project_id}",
            "Removes a Project from the Environment, with its websites and URL mappings.",
            projects::remove,
        )
        .route(
            Method::GET,
            "/v1/environment/{environment_id}/urls",
            "Gets the URLs mapped in the Environment to websites or hosted pages.",
            urls::list,
        )
        .route(
            Method::POST,
            "/v1/environment/{environment_id}/urls",
            "Adds or updates URL mappings of the Environment.",
            urls::put,
        )
        .route(
            Method::DELETE,
            "/v1/environment/{environment_id}/urls",
            "Deletes URL mappings of the Environment.",
            urls::remove,
        )
}

/// The environments' public sites: what their URL mappings serve, without credentials.
fn sites_api(catalog: Catalog<AppState>) -> Catalog<AppState> {
    catalog
        .route(
            Method::GET,
            "/sites/{environment_id}",
            "Redirects to the root of the Environment's public site.",
            sites::root_without_slash,
        )
        .route(
            Method::GET,
            "/sites/{environment_id}/",
            "Serves the root URL of the Environment's public site.",
            sites::root,
        )
        .route(
            Method::GET,
            "/sites/{environment_id}/{*path}",
            "Serves a file of a website, or a hosted page, that a URL mapping of the Environment maps.",
            sites::file,
        )
}

/// The organization API (`X-Apikey` alone: the organization API key).
fn organization_api(catalog: Catalog<AppState>) -> Catalog<AppState> {
    catalog
        .route(
            Method::GET,
            "/v1/environment",
            "Gets the list of the Environments of the Organization.",
            environments::list,
        )
        .route(
            Method::POST,
            "/v1/environment",
            "Creates a new Environment in the organization (asynchronous: status creating, then ready).",
            environments::create,
        )
        .route(
            Method::POST,
            "/v1/environment/",
            "Creates a new Environment (the reference's path, with its trailing slash).",
            environments::create,
        )
        .route(
            Method::GET,
            "/v1/environment/{environment_id}",
            "Gets an Environment by ID.",
            environments::get,
        )
        .route(
            Method::POST,
            "/v1/environment/{environment_id}",
            "Updates the name, description or SSL certificate of an Environment (multipart/form-data).",
            environments::update,
        )
        .route(
            Method::DELETE,
            "/v1/environment/{environment_id}",
            "Deletes an Environment and all its data (asynchronous: status deleting, then deleted).",
            environments::delete,
        )
        .route(
            Method::GET,
            "/v1/environment/{environment_id}/status",
            "Retrieves the status of an Environment.",
            environments::status,
        )
        .route(
            Method::POST,
            "/v1/environment/{environment_id}/upgrade",
            "Upgrades the Environment to a new package or increases its storage.",
            environments::upgrade,
        )
        .route(
            Method::POST,
            "/v1/environment/{environment_id}/update-version",
            "Updates the Environment to this server's version.",
            environments::update_version,
        )
        .route(
            Method::POST,
            "/v1/environment/{environment_id}/optimize",
            "Optimizes the storage of the Environment: prunes old step logs, vacuums and analyzes.",
            environments::optimize,
        )
}

fn admin_api() -> Catalog<AppState> {
    Catalog::new()
        .route(
            Method::POST,
            "/admin/v1/orgs",
            "Creates an organization with its default environment and keys.",
            admin::create_org,
        )
        .route(
            Method::GET,
            "/admin/v1/orgs",
            "Lists the organizations.",
            admin::list_orgs,
        )
        .route(
            Method::POST,
            "/admin/v1/orgs/{org}/apps",
            "Creates an application of an organization.",
            admin::create_app,
        )
        .route(
            Method::POST,
            "/admin/v1/orgs/{org}/webhooks",
            "Registers a webhook of an organization.",
            webhooks::admin_create,
        )
        .route(
            Method::GET,
            "/admin/v1/orgs/{org}/webhooks",
            "Lists the webhooks of an organization.",
            webhooks::admin_list,
        )
        .route(
            Method::DELETE,
            "/admin/v1/orgs/{org}/webhooks/{id}",
            "Removes a webhook of an organization.",
            webhooks::admin_delete,
        )
        .route(
            Method::POST,
            "/admin/v1/orgs/{org}/tables",
            "Creates a table of an organization.",
            table_definitions::admin_create,
        )
        .route(
            Method::GET,
            "/admin/v1/orgs/{org}/tables",
            "Lists the tables of an organization.",
            table_definitions::admin_list,
        )
        .route(
            Method::PUT,
            "/admin/v1/orgs/{org}/tables/{table_name}",
            "Changes a table's definition.",
            table_definitions::admin_alter,
        )
        .route(
            Method::DELETE,
            "/admin/v1/orgs/{org}/tables/{table_name}",
            "Removes a table of an organization, with its rows.",
            table_definitions::admin_delete,
        )
        .route(
            Method::POST,
            "/admin/v1/orgs/{org}/keystores",
            "Defines a keystore of an organization.",
            keystores::admin_create,
        )
        .route(
            Method::GET,
            "/admin/v1/orgs/{org}/keystores",
            "Lists the keystores of an organization.",
            keystores::admin_list,
        )
        .route(
            Method::DELETE,
            "/admin/v1/orgs/{org}/keystores/{keystore_id}",
            "Removes a keystore of an organization, with its entries.",
            keystores::admin_delete,
        )
        .route(
            Method::GET,
            "/metrics",
            "Exports the scheduler's metrics in the Prometheus text format.",
            metrics::metrics,
        )
}

/// Every endpoint the server can serve (the admin API included), for documentation checks.
pub fn endpoints() -> Vec<Endpoint> {
    let (_, mut endpoints) = public_api().finish(&[]);
    endpoints.extend(options_endpoints());
    endpoints.extend(admin_api().finish(&[]).1);
    endpoints
}

/// `/v1/options` answers GET and OPTIONS with the listing (other paths answer OPTIONS with
/// `Allow` alone, and are not listed as endpoints for it).
fn options_endpoints() -> [Endpoint; 2] {
    [Method::GET, Method::OPTIONS].map(|method| Endpoint {
        method,
        path: options::PATH,
        summary: "Lists the methods of the API.",
    })
}

/// The whole application: routes, fallbacks and the layers every request passes through.
pub fn app(state: AppState) -> Router {
    let config = state.config().clone();
    let (mut router, mut endpoints) = public_api().finish(&[]);
    endpoints.extend(options_endpoints());
    let listing: Arc<OnceLock<Vec<Endpoint>>> = Arc::new(OnceLock::new());
    let (for_get, for_options) = (listing.clone(), listing.clone());
    router = router.route(
        options::PATH,
        axum::routing::get(move || async move {
            options::listing(for_get.get().map_or(&[], Vec::as_slice))
        })
        .options(move || async move {
            options::options(for_options.get().map_or(&[], Vec::as_slice))
        }),
    );
    if config.admin_token.is_some() {
        let (admin_router, admin_endpoints) = admin_api().finish(&[]);
        router = router.merge(admin_router.route_layer(from_fn_with_state(
            state.clone(),
            admin::require_admin_token,
        )));
        endpoints.extend(admin_endpoints);
    }
    let _ = listing.set(endpoints);
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_request(())
                        .on_response(log_response),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(from_fn_with_state(
                    Arc::new(config.trusted_proxies.clone()),
                    client_ip::resolve_client_ip,
                ))
                .layer(from_fn(render::render))
                .layer(from_fn_with_state(state.clone(), authn::authenticate))
                .layer(from_fn_with_state(config.request_timeout, enforce_timeout)),
        )
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn not_found() -> Response {
    ApiError(Error::not_found("The requested resource doesn't exist")).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        "This method is not allowed on this resource",
    )
    .into_response()
}

/// A request that takes longer than allowed — slow to send its body, or slow to answer — gets a
/// 408. Dropping the handler's future rolls back any transaction it held. It sits inside the
/// authentication layer so that a 408 carries the rate-limit headers like every answer.
async fn enforce_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorKind::RequestTimeout,
            format!(
                "The request was not completed within {} ms",
                limit.as_millis()
            ),
        )
        .into_response(),
    }
}

/// The request's span: method, path (never the query string, which may hold keys) and id.
fn request_span(request: &http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "http.request",
        http.method = %request.method(),
        http.path = %loggable_path(request.uri().path()),
        request.id = %request_id,
    )
}

/// The path as logs may show it: a webhook's uri is its credential, and a keystore key is
/// client data (often a name or an e-mail address), so both are left out.
fn loggable_path(path: &str) -> &str {
    if path.starts_with(flowline_webhooks::WEBHOOK_PATH_PREFIX) {
        "/v1/webhook/{webhook_uri}"
    } else if path
        .strip_prefix("/v1/keystore/")
        .is_some_and(|rest| rest.contains('/'))
    {
        "/v1/keystore/{keystore_id}/{keystore_key}"
    } else {
        path
    }
}

fn log_response(
    response: &http::Response<axum::body::Body>,
    latency: Duration,
    _span: &tracing::Span,
) {
    tracing::info!(
        http.status = response.status().as_u16(),
        duration_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request finished"
    );
}
