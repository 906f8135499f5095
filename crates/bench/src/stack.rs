//! The system under test: an embedded PostgreSQL cluster in a directory of its own, Flowline's
//! HTTP server in this process on 127.0.0.1:0, an organization with an unthrottled application,
//! and published flows.
//!
//! The server runs on a Tokio runtime of its own whose threads are named [`SERVER_THREAD`], so
//! that its CPU time can be told apart from the load generator's. It is the production server:
//! the gateway's `serve`, the auth service and the pool, wired as `flowline serve` wires them.

use anyhow::{Context, bail};
use flowline_auth::{AuthConfig, AuthService, NewApplication};
use flowline_core::Tenant;
use flowline_db::embedded::{ClusterSettings, EmbeddedCluster};
use flowline_db::{PgConnectOptions, PgPool};
use flowline_gateway::{AppState, GatewayConfig, IngestSettings};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The name of the server runtime's threads (at most 15 bytes: Linux truncates thread names).
pub const SERVER_THREAD: &str = "flowline-server";
/// The `application_name` of the server's connections, for telling them apart in
/// `pg_stat_activity`.
pub const SERVER_CONNECTIONS: &str = "flowline-server";
/// The largest rate limit an application can have (the column is an `integer`): the bench must
/// measure the server, not its throttle.
const UNTHROTTLED: u32 = 2_147_483_647;
/// The server signs no token in a benchmark; this key exists because the service needs one.
const JWT_SECRET: &[u8] = b"flowline-bench-signing-key-not-a-secret-0123456789";

/// How to set the stack up.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// Where the cluster lives; a fresh temporary directory (removed at the end) when `None`.
    pub data_dir: Option<PathBuf>,
    /// Extra PostgreSQL settings (`postgres -c name=value`).
    pub pg_settings: Vec<(String, String)>,
    /// Connections in the server's pool.
    pub server_pool: u32,
    /// The server's group-commit flushers (`--ingest-flushers` of `flowline serve`).
    pub ingest_flushers: usize,
    /// Connections the cluster accepts.
    pub max_connections: u32,
    /// A tracing filter for the server's logs, written to `<data dir>/server.log`; none when unset.
    pub server_log: Option<String>,
}

/// A published flow.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: i64,
    pub name: String,
}

pub struct Stack {
    cluster: EmbeddedCluster,
    /// Removed when dropped, after the cluster has stopped.
    _temp_dir: Option<tempfile::TempDir>,
    /// A small pool for set-up, loading and EXPLAIN.
    pub admin: PgPool,
    pub base_url: String,
    pub http: reqwest::Client,
    pub tenant: Tenant,
    pub api_key: String,
    pub app_key: String,
    server_pool: u32,
    ingest_flushers: usize,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Stack {
    /// Starts the cluster, the server (on `server_runtime`), and creates the tenant.
    pub async fn start(settings: &StackSettings, server_runtime: &Handle) -> anyhow::Result<Stack> {
        let (temp_dir, data_dir) = match &settings.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("flowline-bench-")
                    .tempdir()
                    .context("creating a temporary data directory")?;
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        };
        if let Some(filter) = &settings.server_log {
            start_server_log(&data_dir, filter)?;
        }
        let cluster = EmbeddedCluster::start(
            &data_dir,
            ClusterSettings {
                fsync: true,
                max_connections: settings.max_connections,
                extra: settings.pg_settings.clone(),
            },
        )
        .await
        .context("starting the embedded PostgreSQL")?;
        let options = cluster.connect_options("flowline");
        let admin = flowline_db::connect(options.clone().application_name("bench-admin"), 2)
            .await
            .context("connecting to the embedded PostgreSQL")?;
        let (shutdown, shutdown_requested) = oneshot::channel();
        let (address, server) = start_server(
            server_runtime,
            options.application_name(SERVER_CONNECTIONS),
            settings.server_pool,
            settings.ingest_flushers,
            shutdown_requested,
        )
        .await?;
        let (tenant, api_key, app_key) = create_tenant(&admin).await?;
        flowline_scheduler::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        Ok(Stack {
            cluster,
            _temp_dir: temp_dir,
            admin,
            base_url: format!("http://{address}"),
            http,
            tenant,
            api_key,
            app_key,
            server_pool: settings.server_pool,
            ingest_flushers: settings.ingest_flushers,
            shutdown,
            server,
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.cluster.data_dir()
    }

    pub fn server_pool(&self) -> u32 {
        self.server_pool
    }

    pub fn ingest_flushers(&self) -> usize {
        self.ingest_flushers
    }

    /// Options for a new connection to the bench's database, named `application_name`.
    pub fn connect_options(&self, application_name: &str) -> PgConnectOptions {
        self.cluster
            .connect_options("flowline")
            .application_name(application_name)
    }

    /// A request to the server, authenticated as the bench's application.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .header("X-Apikey", &self.api_key)
            .header("X-App", &self.app_key)
    }

    /// Creates a flow with one `end` step through the API and publishes it.
    pub async fn publish_flow(&self, name: &str) -> anyhow::Result<Flow> {
        let definition = json!({"name": name, "start": "done", "steps": {"done": {"type": "end"}}});
        let created = self
            .request(Method::POST, "/v1/flowdiagram")
            .json(&definition)
            .send()
            .await
            .context("POST /v1/flowdiagram")?;
        let created = expect_status(created, StatusCode::CREATED, "POST /v1/flowdiagram").await?;
        let id = created["resource"]["flow_id"]
            .as_i64()
            .with_context(|| format!("POST /v1/flowdiagram answered no flow_id: {created}"))?;
        let published = self
            .request(Method::PUT, "/v1/changeflowstatus")
            .header("X-Flow-Id", id.to_string())
            .header("X-Status", "public")
            .send()
            .await
            .context("PUT /v1/changeflowstatus")?;
        expect_status(published, StatusCode::OK, "PUT /v1/changeflowstatus").await?;
        Ok(Flow {
            id,
            name: name.to_owned(),
        })
    }

    /// Stops the server (draining requests), closes the pools, stops PostgreSQL.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        let served = tokio::time::timeout(Duration::from_secs(30), self.server).await;
        self.admin.close().await;
        self.cluster
            .stop()
            .await
            .context("stopping the embedded PostgreSQL")?;
        match served {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(join_error).context("the server task"),
            Err(_) => bail!("the server did not stop within 30 s"),
        }
    }
}

/// Reads a response's JSON body, and fails with the body when the status is not `expected`.
pub async fn expect_status(
    response: reqwest::Response,
    expected: StatusCode,
    what: &str,
) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await.context(what.to_owned())?;
    if status != expected {
        bail!("{what} answered {status} (expected {expected}): {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what} answered with non-JSON: {text}"))
}

/// Runs the server on `runtime`, so that its tasks, its pool's connections and its listener all
/// belong to that runtime's threads.
async fn start_server(
    runtime: &Handle,
    options: PgConnectOptions,
    pool_size: u32,
    ingest_flushers: usize,
    shutdown: oneshot::Receiver<()>,
) -> anyhow::Result<(SocketAddr, JoinHandle<anyhow::Result<()>>)> {
    let (state, listener, pool) = runtime
        .spawn(async move {
            let pool = flowline_db::connect(options, pool_size)
                .await
                .context("connecting the server's pool")?;
            flowline_db::migrate(&pool)
                .await
                .context("applying the migrations")?;
            let auth = AuthService::new(pool.clone(), JWT_SECRET, auth_config());
            let defaults = GatewayConfig::default();
            let config = GatewayConfig {
                ingest: IngestSettings {
                    flushers: ingest_flushers,
                    ..defaults.ingest
                },
                ..defaults
            };
            let state = AppState::new(pool.clone(), auth, config);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("listening on 127.0.0.1")?;
            anyhow::Ok((state, listener, pool))
        })
        .await
        .context("the server's set-up task")??;
    let address = listener.local_addr()?;
    let server = runtime.spawn(async move {
        let served = flowline_gateway::serve(listener, state, async {
            let _ = shutdown.await;
        })
        .await;
        pool.close().await;
        served.context("serving HTTP")
    });
    Ok((address, server))
}

fn auth_config() -> AuthConfig {
    AuthConfig {
        default_app_rate_limit: UNTHROTTLED,
        ..AuthConfig::default()
    }
}

async fn create_tenant(admin: &PgPool) -> anyhow::Result<(Tenant, String, String)> {
    let mut conn = admin.acquire().await?;
    // A name of its own per run, so that a reused --data-dir works too.
    let name = format!("Bench-{}", unix_seconds());
    let org = flowline_auth::create_organization(&mut conn, &name)
        .await
        .context("creating the organization")?;
    let app = flowline_auth::create_application(
        &mut conn,
        org.org_id,
        NewApplication {
            name: "bench".into(),
            rate_limit: Some(UNTHROTTLED),
            ..NewApplication::default()
        },
    )
    .await
    .context("creating the application")?;
    let tenant = Tenant {
        org_id: org.org_id,
        environment_id: org.environment_id,
    };
    Ok((tenant, org.api_key, app.app_key))
}

/// Sends the server's logs (and any other tracing event of this process) to
/// `<data dir>/server.log`.
fn start_server_log(data_dir: &Path, filter: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("server.log");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("'{filter}' is not a log filter"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .map_err(|error| anyhow::anyhow!("installing the log subscriber: {error}"))
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
