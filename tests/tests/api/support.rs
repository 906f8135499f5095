//! Test support: `spawn_app()` starts the whole application on port 0 with a database of its
//! own, and hands back a client with a fresh organization and application.

use flowline_auth::{
    AllowList, AuthConfig, AuthService, CreatedApplication, CreatedOrganization, NewApplication,
};
use flowline_core::Scopes;
use flowline_db::{PgConnectOptions, PgPool};
use flowline_gateway::{AppState, GatewayConfig};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const JWT_SECRET: &[u8] = b"test-signing-key-that-is-long-enough-0123456789";
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Settings a test may change before the app starts.
pub struct Settings {
    pub gateway: GatewayConfig,
    pub auth: AuthConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gateway: GatewayConfig {
                admin_token: Some(ADMIN_TOKEN.to_owned()),
                ..GatewayConfig::default()
            },
            auth: AuthConfig::default(),
        }
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub db_options: PgConnectOptions,
    pub org: CreatedOrganization,
    /// An API-key application with every scope.
    pub app: CreatedApplication,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    capture_logs();
    let db_options = flowline_db::throwaway::fresh_database()
        .await
        .expect("a test database");
    let pool = flowline_db::connect(db_options.clone(), 10)
        .await
        .expect("connecting to the test database");
    let auth = AuthService::new(pool.clone(), JWT_SECRET, settings.auth);
    let state = AppState::new(pool.clone(), auth, settings.gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(flowline_gateway::serve(
        listener,
        state,
        std::future::pending(),
    ));
    flowline_scheduler::install_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let org = create_org(&pool, "Acme").await;
    let app = create_app(
        &pool,
        &org,
        NewApplication {
            name: "crm".into(),
            ..Default::default()
        },
    )
    .await;
    TestApp {
        address,
        client,
        pool,
        db_options,
        org,
        app,
    }
}

pub async fn create_org(pool: &PgPool, name: &str) -> CreatedOrganization {
    let mut conn = pool.acquire().await.expect("a connection");
    flowline_auth::create_organization(&mut conn, name)
        .await
        .expect("an organization")
}

pub async fn create_app(
    pool: &PgPool,
    org: &CreatedOrganization,
    application: NewApplication,
) -> CreatedApplication {
    let mut conn = pool.acquire().await.expect("a connection");
    flowline_auth::create_application(&mut conn, org.org_id, application)
        .await
        .expect("an application")
}

/// An application description for `create_app`.
pub fn application(name: &str) -> NewApplication {
    NewApplication {
        name: name.into(),
        ..Default::default()
    }
}

pub fn oauth_application(name: &str) -> NewApplication {
    NewApplication {
        name: name.into(),
        oauth2: true,
        ..Default::default()
    }
}

pub fn with_scopes(mut app: NewApplication, scopes: &str) -> NewApplication {
    app.scopes = Scopes::parse_list(scopes).expect("valid scopes");
    app
}

pub fn allowing(mut app: NewApplication, networks: &[&str]) -> NewApplication {
    app.allowed_ips = AllowList::new(
        networks
            .iter()
            .map(|net| flowline_auth::parse_cidr(net).expect("a network"))
            .collect(),
    );
    app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// A request with no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request authenticated with the default application's X-Apikey and X-App.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.as_app(&self.org, &self.app, method, path)
    }

    pub fn as_app(
        &self,
        org: &CreatedOrganization,
        app: &CreatedApplication,
        method: Method,
        path: &str,
    ) -> RequestBuilder {
        self.anonymous(method, path)
            .header("X-Apikey", &org.api_key)
            .header("X-App", &app.app_key)
    }

    /// Exchanges an OAuth2 application's client credentials for tokens.
    pub async fn tokens(&self, app: &CreatedApplication) -> Value {
        let response = self
            .anonymous(Method::GET, "/v1/checkauthentication")
            .header("client_id", &app.client_id)
            .header("client_secret", &app.client_secret)
            .header("grant_type", "client_credentials")
            .send()
            .await
            .expect("checkauthentication");
        assert_eq!(response.status(), 200);
        body(response).await["resource"].clone()
    }

    /// A `postgresql://` URL for the test database, for child processes.
    pub fn database_url(&self) -> String {
        database_url(&self.db_options)
    }
}

pub fn database_url(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or("postgres");
    let user = options.get_username();
    match options.get_socket() {
        Some(socket) => format!(
            "postgresql://{user}@localhost:{}/{database}?host={}",
            options.get_port(),
            socket.display()
        ),
        None => format!(
            "postgresql://{user}@{}:{}/{database}",
            options.get_host(),
            options.get_port()
        ),
    }
}

pub async fn body(response: Response) -> Value {
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

/// Asserts an error envelope: status, internal code, and a message containing `needle`.
pub async fn assert_error(
    response: Response,
    status: u16,
    internal_code: u16,
    needle: &str,
) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let value = body(response).await;
    assert_eq!(value["code"], status, "{value}");
    assert_eq!(value["error"]["code"], internal_code, "{value}");
    assert_eq!(value["resource"], serde_json::json!([]), "{value}");
    assert!(value["request-ip"].is_string(), "{value}");
    assert!(value["id"].is_string(), "{value}");
    let message = value["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} should contain {needle:?}"
    );
    assert_eq!(value["error"]["message"], value["message"]);
    value
}

/// Everything the servers of this test process logged.
pub fn logs() -> String {
    let buffer = LOGS.get_or_init(Default::default);
    String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|poison| poison.into_inner()))
        .into_owned()
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    let buffer = LOGS.get_or_init(Default::default).clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug,sqlx=info,hyper=info,reqwest=info,h2=info")
        .with_ansi(false)
        .with_writer(move || LogBuffer(buffer.clone()))
        .try_init();
}

/// Creates a flow from `definition` and publishes it as version 1, through the API, as the
/// default application; returns the flow's id.
pub async fn publish_flow(app: &TestApp, definition: Value) -> i64 {
    let created = app
        .request(Method::POST, "/v1/flowdiagram")
        .json(&definition)
        .send()
        .await
        .expect("POST /v1/flowdiagram");
    let status = created.status();
    let created = body(created).await;
    assert_eq!(status, 201, "creating the flow: {created}");
    let flow_id = created["resource"]["flow_id"].as_i64().expect("a flow id");
    let published = app
        .request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "public")
        .send()
        .await
        .expect("PUT /v1/changeflowstatus");
    let status = published.status();
    let published = body(published).await;
    assert_eq!(status, 200, "publishing the flow: {published}");
    flow_id
}

/// Pushes a record (or an array of them) into `flow` through the API; returns the 201 body.
pub async fn push_record(app: &TestApp, flow: &str, data: &Value) -> Value {
    let response = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", flow)
        .json(data)
        .send()
        .await
        .expect("POST /v1/record");
    let status = response.status();
    let created = body(response).await;
    assert_eq!(status, 201, "pushing a record: {created}");
    created
}

/// The result of a `SELECT count(*) …` on the test database.
pub async fn count_rows(app: &TestApp, query: &'static str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(&app.pool)
        .await
        .expect("a count")
}
