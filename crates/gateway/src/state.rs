//! What every handler can reach: the pool, the authentication service, the configuration.

use flowline_auth::AuthService;
use flowline_db::PgPool;
use flowline_records::{IngestSettings, Ingestor};
use flowline_schemas::SchemaCache;
use ipnet::IpNet;
use std::sync::Arc;
use std::time::Duration;

/// The gateway's settings, read once by the binary.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// How long a request may take, body included, before it is answered with 408.
    pub request_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The bearer token of the admin API; the admin API is absent when unset.
    pub admin_token: Option<String>,
    /// The group-commit queue of `POST /v1/record`.
    pub ingest: IngestSettings,
    /// The server's public base URL (`https://flowline.example.com`), for the addresses the
    /// environment endpoints show; when unset, the request's `Host` is used.
    pub public_url: Option<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            body_limit_bytes: 10 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            admin_token: None,
            ingest: IngestSettings::default(),
            public_url: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    pool: PgPool,
    auth: AuthService,
    config: GatewayConfig,
    schemas: SchemaCache,
    ingestor: Ingestor,
}

impl AppState {
    /// Starts the group-commit flushers too, so it must run inside a Tokio runtime.
    pub fn new(pool: PgPool, auth: AuthService, config: GatewayConfig) -> AppState {
        let ingestor = Ingestor::start(pool.clone(), config.ingest);
        AppState(Arc::new(Inner {
            ingestor,
            pool,
            auth,
            config,
            schemas: SchemaCache::new(),
        }))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.0.config
    }

    /// Compiled data schemas, shared by every request that validates records.
    pub fn schemas(&self) -> &SchemaCache {
        &self.0.schemas
    }

    /// The group-commit queue of `POST /v1/record`.
    pub fn ingestor(&self) -> &Ingestor {
        &self.0.ingestor
    }
}
