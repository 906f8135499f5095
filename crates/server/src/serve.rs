//! `flowline serve`: the HTTP server, until SIGINT or SIGTERM.

use crate::config::ServeSettings;
use crate::database;
use anyhow::Context;
use flowline_auth::{AuthConfig, AuthService};
use flowline_gateway::{AppState, GatewayConfig, IngestSettings};
use std::path::Path;
use std::time::Duration;

pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    let jwt_secret = jwt_secret(&settings)?;
    let scheduler_config = crate::worker::serve_config(&settings.scheduler)?;
    let database = database::open_owned(&settings.database).await?;
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            database.close().await?;
            return Err(error).with_context(|| format!("listening on {}", settings.listen));
        }
    };
    let address = listener.local_addr()?;
    let auth = AuthService::new(database.pool.clone(), &jwt_secret, auth_config(&settings));
    let state = AppState::new(database.pool.clone(), auth, gateway_config(&settings));
    println!("Flowline listening on http://{address}");
    println!("Database: {}", database.description);
    tracing::info!(listen.address = %address, "serving");
    let scheduler = scheduler_config
        .map(|config| flowline_scheduler::Scheduler::start(database.pool.clone(), config));
    let environment_jobs =
        crate::worker::start_environment_jobs(&database.pool, &settings.scheduler);
    let served = flowline_gateway::serve(listener, state, shutdown_signal()).await;
    environment_jobs.shutdown().await;
    if let Some(scheduler) = scheduler {
        tracing::info!("stopping the scheduler");
        scheduler.shutdown().await;
    }
    tracing::info!("stopped accepting requests; closing the database");
    database.close().await?;
    served.context("serving HTTP")
}

fn auth_config(settings: &ServeSettings) -> AuthConfig {
    AuthConfig {
        access_token_ttl: Duration::from_secs(settings.access_token_ttl_secs),
        refresh_token_ttl: Duration::from_secs(settings.refresh_token_ttl_secs),
        credential_cache_ttl: Duration::from_millis(settings.credential_cache_ms),
        rate_limit_window: Duration::from_secs(settings.rate_limit_window_secs.max(1)),
        default_app_rate_limit: settings.default_rate_limit.max(1),
        anonymous_rate_limit: settings.anonymous_rate_limit.max(1),
    }
}

fn gateway_config(settings: &ServeSettings) -> GatewayConfig {
    GatewayConfig {
        body_limit_bytes: settings.body_limit_bytes,
        request_timeout: Duration::from_millis(settings.request_timeout_ms),
        trusted_proxies: settings.trusted_proxies.clone(),
        admin_token: settings
            .admin_token
            .clone()
            .filter(|token| !token.is_empty()),
        ingest: IngestSettings {
            flushers: settings.ingest_flushers.max(1),
            lock_timeout: Duration::from_millis(settings.ingest_lock_timeout_ms.max(1)),
        },
        public_url: settings
            .public_url
            .clone()
            .filter(|url| !url.trim().is_empty()),
    }
}

/// `FLOWLINE_JWT_SECRET`, or the key kept in the data dir (generated on first start, 0600).
/// Several servers on one database must share it: set `FLOWLINE_JWT_SECRET` on each.
fn jwt_secret(settings: &ServeSettings) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = settings
        .jwt_secret
        .as_deref()
        .filter(|secret| !secret.is_empty())
    {
        anyhow::ensure!(
            secret.len() >= 32,
            "FLOWLINE_JWT_SECRET must be at least 32 characters"
        );
        return Ok(secret.as_bytes().to_vec());
    }
    load_or_create_key(&settings.database.data_dir.join("jwt-secret"))
}

fn load_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(existing) = std::fs::read_to_string(path) {
        let key = hex::decode(existing.trim())
            .with_context(|| format!("{} is not a hex key", path.display()))?;
        anyhow::ensure!(
            key.len() >= 32,
            "{} holds a key shorter than 32 bytes",
            path.display()
        );
        return Ok(key);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let key: [u8; 32] = rand::random();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(key).as_bytes())?;
    Ok(key.to_vec())
}

pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested");
}
