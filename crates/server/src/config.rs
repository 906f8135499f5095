//! The command line and the environment, read once into typed settings.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "flowline",
    version,
    about = "Flowline: a self-hostable workflow-automation server"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogSettings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (with its own PostgreSQL unless DATABASE_URL is set).
    Serve(ServeSettings),
    /// Apply the database migrations and exit.
    Migrate(DatabaseSettings),
    /// Create organizations and applications.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run only the scheduler's workers (no HTTP), on the same database as the servers.
    Worker(WorkerSettings),
}

#[derive(Debug, Args)]
pub struct LogSettings {
    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long = "log",
        env = "FLOWLINE_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    pub filter: String,
    /// Log as JSON lines instead of text.
    #[arg(long = "log-json", env = "FLOWLINE_LOG_JSON", global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// PostgreSQL to use; when unset, Flowline runs its own in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded PostgreSQL and the JWT signing key live.
    #[arg(long, env = "FLOWLINE_DATA_DIR", default_value = "./flowline-data")]
    pub data_dir: PathBuf,
    /// Connections in the pool.
    #[arg(long, env = "FLOWLINE_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,
}

/// `flowline worker`: the scheduler alone.
#[derive(Debug, Args)]
pub struct WorkerSettings {
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub scheduler: SchedulerSettings,
}

/// The scheduler's settings, shared by `flowline serve` and `flowline worker`.
#[derive(Debug, Args)]
pub struct SchedulerSettings {
    /// Batches run at once in this process (default: the CPU count; 0 in `serve`: none).
    #[arg(long, env = "FLOWLINE_WORKERS")]
    pub workers: Option<usize>,
    /// The most records a worker runs in one transaction (internal steps of many records
    /// share a commit; a batch whose shared statement fails runs again record by record).
    #[arg(long, env = "FLOWLINE_BATCH", default_value_t = flowline_scheduler::DEFAULT_BATCH)]
    pub batch: usize,
    /// Loopback, private or link-local networks that `http` steps may call (comma-separated
    /// CIDR list); all others of those are refused.
    #[arg(long, env = "FLOWLINE_HTTP_ALLOW", value_delimiter = ',')]
    pub http_allow: Vec<ipnet::IpNet>,
    /// A PEM file of certificate authorities that `https` steps trust besides the platform's
    /// (an internal CA).
    #[arg(long, env = "FLOWLINE_HTTP_CA_FILE")]
    pub http_ca_file: Option<std::path::PathBuf>,
    /// Days the step log of record runs is kept (pruned every 10 minutes); 0 keeps it forever.
    #[arg(long, env = "FLOWLINE_STEP_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub step_log_retention_days: u64,
    /// Seconds between two measurements of every environment's storage.
    #[arg(long, env = "FLOWLINE_STORAGE_INTERVAL_SECS", default_value_t = 300)]
    pub storage_interval_secs: u64,
}

#[derive(Debug, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "FLOWLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub scheduler: SchedulerSettings,
    /// Key that signs access tokens; generated into the data dir when unset.
    #[arg(long, env = "FLOWLINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Bearer token of the admin API (/admin/v1); the admin API is off when unset.
    #[arg(long, env = "FLOWLINE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "FLOWLINE_BODY_LIMIT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub body_limit_bytes: usize,
    /// Time a request may take, body included, before it is answered with 408.
    #[arg(long, env = "FLOWLINE_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Proxies whose X-Forwarded-For is trusted (comma-separated CIDR list).
    #[arg(long, env = "FLOWLINE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "FLOWLINE_ACCESS_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "FLOWLINE_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,
    /// How long a resolved API key or application is reused before the database is asked again.
    #[arg(long, env = "FLOWLINE_CREDENTIAL_CACHE_MS", default_value_t = 10_000)]
    pub credential_cache_ms: u64,
    /// Length of the rate-limit window, in seconds.
    #[arg(long, env = "FLOWLINE_RATE_LIMIT_WINDOW_SECS", default_value_t = 60)]
    pub rate_limit_window_secs: u64,
    /// Requests per window of an application created without --rate-limit.
    #[arg(long, env = "FLOWLINE_DEFAULT_RATE_LIMIT", default_value_t = 6000)]
    pub default_rate_limit: u32,
    /// Requests per window and client address for requests without valid credentials.
    #[arg(long, env = "FLOWLINE_ANONYMOUS_RATE_LIMIT", default_value_t = 600)]
    pub anonymous_rate_limit: u32,
    /// Tasks that store small POST /v1/record requests; requests arriving together share one
    /// statement and one commit (group commit). Each holds a connection besides the pool.
    #[arg(long, env = "FLOWLINE_INGEST_FLUSHERS", default_value_t = 1)]
    pub ingest_flushers: usize,
    /// How long a shared ingest statement waits for a lock before its requests are stored
    /// one by one on their own connections.
    #[arg(long, env = "FLOWLINE_INGEST_LOCK_TIMEOUT_MS", default_value_t = 100)]
    pub ingest_lock_timeout_ms: u64,
    /// The server's public base URL (e.g. https://flowline.example.com), shown in the
    /// environment endpoints' `info`; the request's Host when unset.
    #[arg(long, env = "FLOWLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Tables: create-table, list-tables, alter-table and delete-table.
    #[command(flatten)]
    Tables(crate::admin_tables::TableCommand),
    /// Projects: create-project.
    #[command(flatten)]
    Projects(crate::admin_projects::ProjectCommand),
    /// Create an organization with its default environment and keys.
    CreateOrg {
        #[arg(long)]
        name: String,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Create an application of an organization.
    CreateApp {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// The application's name: its app_key (X-App).
        #[arg(long)]
        name: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// Granted scopes, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Address or CIDR network the application may be used from (repeatable; default: any).
        #[arg(long = "allow-ip")]
        allow_ips: Vec<String>,
        /// Authenticate with OAuth2 client credentials (bearer tokens) instead of X-Apikey.
        #[arg(long)]
        oauth2: bool,
        /// Requests per rate-limit window.
        #[arg(long)]
        rate_limit: Option<u32>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Import a flow definition (JSON): create the flow, or save it as the new draft of the
    /// flow of the same name; print the flow id.
    ImportFlow {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// Publish the draft as a new version too.
        #[arg(long)]
        publish: bool,
        /// Print exactly one JSON object instead of the flow id.
        #[arg(long)]
        json: bool,
        /// The flow definition, a JSON file.
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// List the organizations.
    ListOrgs {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Register a webhook that feeds a flow, and print its uri (shown this once).
    CreateWebhook {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// The target flow's name or id.
        #[arg(long)]
        flow: String,
        /// Secret that senders sign payloads with (HMAC-SHA256 of the body, header
        /// X-Flowline-Signature: sha256=<hex>); 16 to 256 characters.
        #[arg(long, env = "FLOWLINE_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// A JSON file holding the mapping {"record.path": "payload.path", …}.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// List the webhooks of an organization (never their uris or secrets).
    ListWebhooks {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Remove a webhook of an organization, with its events.
    DeleteWebhook {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// The webhook's id.
        #[arg(long)]
        webhook: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Define a keystore: its name, the type of its values and the structure new keys start
    /// with.
    CreateKeystore {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// The keystore's name, as in /v1/keystore/{id}/{key}.
        #[arg(long)]
        id: String,
        /// What its values are: json, xml or raw (any text).
        #[arg(long = "type")]
        data_type: String,
        /// A file holding the empty structure new keys start with, of the keystore's type
        /// (default: {} for json, <data/> for xml, nothing for raw).
        #[arg(long)]
        empty: Option<PathBuf>,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// List the keystores of an organization, in every environment.
    ListKeystores {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Remove a keystore and all its entries.
    DeleteKeystore {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// The keystore's name.
        #[arg(long)]
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}
