//! `flowline-bench keystore`: keystore reads and writes through HTTP — `GET` and `PUT
//! /v1/keystore/bench/{key}` requests per second at a fixed concurrency — against the same
//! embedded cluster and in-process server as the ingestion figures.
//!
//! The keystore `bench` (type json) is defined through the API and filled with `--keys` keys
//! of a ~200-byte JSON value by one `INSERT … SELECT … generate_series` (set-up, not measured),
//! so that `get` reads keys that exist (one statement per request, no write) and `put` replaces
//! them (an upsert whose row locks rarely meet: workers spread over all the keys).

use crate::load::{self, LoadShape, Measured, Observation};
use crate::stack::{SERVER_CONNECTIONS, Stack, StackSettings, expect_status};
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The keystore the figures read and write.
const KEYSTORE: &str = "bench";

#[derive(Debug, Args)]
pub struct KeystoreArgs {
    /// Concurrent workers (HTTP connections).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds measured per figure.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of uncounted load before each figure's measurement.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Keys in the keystore; requests spread over all of them.
    #[arg(long, default_value_t = 10_000)]
    keys: u32,
    /// The figures to measure, in this order (default: get, put).
    #[arg(long, value_enum, value_delimiter = ',')]
    figures: Vec<KeystoreFigure>,
    /// Connections in the server's pool (default: the concurrency).
    #[arg(long)]
    server_pool: Option<u32>,
    /// Where to put the cluster (default: a new temporary directory, removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An extra PostgreSQL setting, NAME=VALUE (repeatable).
    #[arg(long = "pg", value_parser = crate::parse_setting)]
    pg_settings: Vec<(String, String)>,
    /// Log the server at this tracing filter into <data dir>/server.log.
    #[arg(long)]
    server_log: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeystoreFigure {
    /// `GET /v1/keystore/bench/{key}` of an existing key.
    Get,
    /// `PUT /v1/keystore/bench/{key}` replacing an existing key's value.
    Put,
}

impl KeystoreFigure {
    const ALL: [KeystoreFigure; 2] = [KeystoreFigure::Get, KeystoreFigure::Put];

    fn name(self) -> &'static str {
        match self {
            KeystoreFigure::Get => "get",
            KeystoreFigure::Put => "put",
        }
    }

    fn description(self) -> &'static str {
        match self {
            KeystoreFigure::Get => "GET /v1/keystore/bench/{key}, existing key",
            KeystoreFigure::Put => "PUT /v1/keystore/bench/{key}, replacing a value",
        }
    }
}

/// Two runtimes, as for `ingest`, so that `/proc` tells the server's CPU from the client's.
pub fn command(args: KeystoreArgs) -> anyhow::Result<()> {
    crate::on_two_runtimes(|server_runtime| run(args, server_runtime))
}

async fn run(args: KeystoreArgs, server_runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.keys > 0, "--keys must be at least 1");
    anyhow::ensure!(
        args.seconds > 0.0 && args.warmup >= 0.0,
        "--seconds must be positive and --warmup not negative"
    );
    let concurrency = u32::try_from(args.concurrency).context("--concurrency is too large")?;
    let server_pool = args.server_pool.unwrap_or(concurrency);
    let settings = StackSettings {
        data_dir: args.data_dir.clone(),
        pg_settings: args.pg_settings.clone(),
        server_pool,
        ingest_flushers: flowline_gateway::IngestSettings::default().flushers,
        max_connections: (concurrency + server_pool + 20).max(100),
        server_log: args.server_log.clone(),
    };
    eprintln!("starting PostgreSQL and Flowline…");
    let stack = Stack::start(&settings, &server_runtime).await?;
    let result = measure(&stack, &args).await;
    let stopped = stack.stop().await;
    result.and(stopped)
}

async fn measure(stack: &Stack, args: &KeystoreArgs) -> anyhow::Result<()> {
    let value = sample_value();
    fill(stack, args.keys, &value).await?;
    let shape = LoadShape {
        concurrency: args.concurrency,
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
    };
    let figures = if args.figures.is_empty() {
        KeystoreFigure::ALL.to_vec()
    } else {
        args.figures.clone()
    };
    let target = KeystoreTarget::new(stack, args.keys, Bytes::from(value))?;
    let mut results = Vec::new();
    for figure in figures {
        sqlx::query("CHECKPOINT")
            .execute(&stack.admin)
            .await
            .context("CHECKPOINT before a figure")?;
        eprintln!("measuring {} ({})…", figure.name(), figure.description());
        let observation = Observation {
            data_dir: stack.data_dir().to_path_buf(),
            monitor: stack.connect_options("bench-monitor"),
            connections: SERVER_CONNECTIONS,
        };
        let target = target.clone();
        let measured = load::run(shape, &observation, move |worker, iteration| {
            target.send(figure, worker, iteration)
        })
        .await
        .with_context(|| format!("figure {}", figure.name()))?;
        results.push((figure, measured));
    }
    println!("{}", report(args, &results));
    Ok(())
}

/// A weather-like JSON value of about 200 bytes.
fn sample_value() -> String {
    json!({
        "city": "London",
        "temp": {"max": 15, "min": 7, "average": 11.5},
        "wind": {"speed": "2 km/h", "direction": "S"},
        "humidity": 81,
        "forecast": ["cloudy", "rain", "cloudy", "sun", "sun"],
        "updated": "2026-11-23 10:00:00"
    })
    .to_string()
}

/// Defines the keystore through the API and fills it with one statement.
async fn fill(stack: &Stack, keys: u32, value: &str) -> anyhow::Result<()> {
    let created = stack
        .request(Method::POST, "/v1/keystores")
        .json(&json!({"keystore_id": KEYSTORE, "type": "json"}))
        .send()
        .await
        .context("POST /v1/keystores")?;
    expect_status(created, StatusCode::CREATED, "POST /v1/keystores").await?;
    sqlx::query(
        "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, document) \
         SELECT $1, $2, $3, 'k' || i, $4, $4::jsonb FROM generate_series(1, $5) AS i",
    )
    .bind(stack.tenant.org_id)
    .bind(stack.tenant.environment_id)
    .bind(KEYSTORE)
    .bind(value)
    .bind(i64::from(keys))
    .execute(&stack.admin)
    .await
    .context("filling the keystore")?;
    sqlx::query("VACUUM ANALYZE keystore_entries")
        .execute(&stack.admin)
        .await
        .context("VACUUM ANALYZE keystore_entries")?;
    Ok(())
}

/// The keystore's URLs (one per key, built once) and the value PUT sends.
#[derive(Clone)]
struct KeystoreTarget {
    http: reqwest::Client,
    urls: Arc<Vec<String>>,
    headers: HeaderMap,
    value: Bytes,
}

type BoxedOperation =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'static>>;

impl KeystoreTarget {
    fn new(stack: &Stack, keys: u32, value: Bytes) -> anyhow::Result<KeystoreTarget> {
        let mut headers = HeaderMap::new();
        headers.insert("X-Apikey", HeaderValue::from_str(&stack.api_key)?);
        headers.insert("X-App", HeaderValue::from_str(&stack.app_key)?);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let urls = (1..=keys)
            .map(|key| format!("{}/v1/keystore/{KEYSTORE}/k{key}", stack.base_url))
            .collect();
        Ok(KeystoreTarget {
            http: stack.http.clone(),
            urls: Arc::new(urls),
            headers,
            value,
        })
    }

    /// One request on a key picked by a stride over all keys, so that workers rarely meet on
    /// a key; anything but a 200 fails with the answer's body.
    fn send(&self, figure: KeystoreFigure, worker: usize, iteration: u64) -> BoxedOperation {
        let spread = (worker as u64)
            .wrapping_mul(7_919)
            .wrapping_add(iteration.wrapping_mul(104_729));
        let index = (spread % self.urls.len().max(1) as u64) as usize;
        let url = self.urls.get(index).cloned().unwrap_or_default();
        let request = match figure {
            KeystoreFigure::Get => self.http.get(url),
            KeystoreFigure::Put => self.http.put(url).body(self.value.clone()),
        }
        .headers(self.headers.clone())
        .send();
        Box::pin(async move {
            let response = request.await.context(figure.description())?;
            let status = response.status();
            if status != StatusCode::OK {
                let text = response.text().await.unwrap_or_default();
                bail!("{} answered {status}: {text}", figure.description());
            }
            // Read to the end, so that the connection is kept alive for the next request.
            response.bytes().await.context("reading a 200's body")?;
            Ok(())
        })
    }
}

fn report(args: &KeystoreArgs, results: &[(KeystoreFigure, Measured)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Keystore — {} keys of ~200 bytes, concurrency {}, {} s measured per figure after {} s \
         of warm-up",
        args.keys, args.concurrency, args.seconds, args.warmup
    );
    let _ = writeln!(
        out,
        "{:<6} {:<48} {:>8} {:>8} {:>8}   cpu%: client server postgres other idle",
        "figure", "what", "req/s", "p50 ms", "p99 ms"
    );
    for (figure, m) in results {
        let _ = writeln!(
            out,
            "{:<6} {:<48} {:>8.0} {:>8.2} {:>8.2}         {:>5.0} {:>6.0} {:>8.0} {:>5.0} {:>4.0}",
            figure.name(),
            figure.description(),
            m.operations_per_second(),
            m.latency.p50.as_secs_f64() * 1000.0,
            m.latency.p99.as_secs_f64() * 1000.0,
            m.cpu.client * 100.0,
            m.cpu.server * 100.0,
            m.cpu.postgres * 100.0,
            m.cpu.other * 100.0,
            m.cpu.idle * 100.0,
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "What the server's PostgreSQL connections were doing (share of samples, every 100 ms):"
    );
    for (figure, m) in results {
        let top: Vec<String> = m
            .waits
            .top(5)
            .into_iter()
            .map(|(activity, share)| format!("{activity} {:.0}%", share * 100.0))
            .collect();
        let _ = writeln!(out, "  {:<6} {}", figure.name(), top.join(", "));
    }
    out
}
