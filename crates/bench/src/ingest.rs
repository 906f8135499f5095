//! The ingestion figures: raw PostgreSQL inserts of the sample records (the ceiling), then
//! `POST /v1/record` with the same records, at the same concurrency, against the same cluster.
//!
//! The raw inserts go into `bench_raw`, made `LIKE records INCLUDING ALL` (same columns,
//! identity, checks and indexes; not the foreign key to `flow_versions`, which `LIKE` does not
//! copy), and into `bench_bare` (an id and the jsonb, nothing else) for transparency. Every phase
//! starts after a `CHECKPOINT`, so that none of them inherits another's dirty pages, and commits
//! synchronously: the API's 201 means committed, so the ceiling must mean it too.

use crate::load::{self, LoadShape, Measured, Observation};
use crate::sample::{Samples, VARIANTS};
use crate::stack::{Flow, SERVER_CONNECTIONS, Stack};
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::ValueEnum;
use flowline_core::Tenant;
use flowline_db::PgPool;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use std::fmt::Write as _;
use std::sync::Arc;

/// The records of a batch request or a multi-row INSERT.
pub const BATCH: u64 = VARIANTS as u64;
/// The `application_name` of the raw phases' connections.
const RAW_CONNECTIONS: &str = "bench-raw";
/// The share of the machine's CPU that other processes may take before a figure is flagged.
const DISTURBED: f64 = 0.10;
/// The flow the ingestion phases push into (published before them).
pub const FLOW: &str = "bench";

/// One measured figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Figure {
    /// One INSERT per transaction into the bare table.
    #[value(name = "a1-bare")]
    A1Bare,
    /// One INSERT per transaction into the records-shaped table.
    A1,
    /// `POST /v1/record` with one record.
    B,
    /// One 100-row INSERT per transaction into the bare table.
    #[value(name = "a100-bare")]
    A100Bare,
    /// One 100-row INSERT per transaction into the records-shaped table.
    A100,
    /// `POST /v1/record` with an array of 100 records.
    C,
}

impl Figure {
    /// In the order they run: each API figure right after its ceilings.
    pub const ALL: [Figure; 6] = [
        Figure::A1Bare,
        Figure::A1,
        Figure::B,
        Figure::A100Bare,
        Figure::A100,
        Figure::C,
    ];

    fn name(self) -> &'static str {
        match self {
            Figure::A1Bare => "a1-bare",
            Figure::A1 => "a1",
            Figure::B => "b",
            Figure::A100Bare => "a100-bare",
            Figure::A100 => "a100",
            Figure::C => "c",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Figure::A1Bare => "raw INSERT, 1 row/tx, bare table (id, jsonb)",
            Figure::A1 => "raw INSERT, 1 row/tx, table LIKE records",
            Figure::B => "POST /v1/record, 1 record/request",
            Figure::A100Bare => "raw INSERT, 100 rows/tx, bare table",
            Figure::A100 => "raw INSERT, 100 rows/tx, table LIKE records",
            Figure::C => "POST /v1/record, 100 records/request",
        }
    }

    fn records_per_operation(self) -> u64 {
        match self {
            Figure::A1Bare | Figure::A1 | Figure::B => 1,
            Figure::A100Bare | Figure::A100 | Figure::C => BATCH,
        }
    }

    fn is_api(self) -> bool {
        matches!(self, Figure::B | Figure::C)
    }
}

/// What the ingestion part measures and how.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    pub shape: LoadShape,
    pub figures: Vec<Figure>,
}

/// The result of one figure.
#[derive(Debug, Clone)]
pub struct FigureResult {
    pub figure: Figure,
    pub measured: Measured,
    /// For the API figures: records stored per committed transaction (group commit at work).
    pub records_per_commit: Option<f64>,
}

impl FigureResult {
    pub fn records_per_second(&self) -> f64 {
        self.measured.operations_per_second() * self.figure.records_per_operation() as f64
    }
}

/// Runs the figures of `plan` one after the other and returns their results.
pub async fn run(
    stack: &Stack,
    flow: &Flow,
    plan: &IngestPlan,
    samples: &Samples,
) -> anyhow::Result<Vec<FigureResult>> {
    create_raw_tables(&stack.admin).await?;
    let raw_pool = flowline_db::connect(
        stack.connect_options(RAW_CONNECTIONS),
        u32::try_from(plan.shape.concurrency).unwrap_or(u32::MAX),
    )
    .await
    .context("connecting the raw phases' pool")?;
    let texts = Arc::new(samples.texts.clone());
    let mut results = Vec::new();
    for &figure in &plan.figures {
        sqlx::query("CHECKPOINT")
            .execute(&stack.admin)
            .await
            .context("CHECKPOINT before a phase")?;
        eprintln!("measuring {} ({})…", figure.name(), figure.description());
        let first_record = next_record_id(&stack.admin).await?;
        let observation = Observation {
            data_dir: stack.data_dir().to_path_buf(),
            monitor: stack.connect_options("bench-monitor"),
            connections: if figure.is_api() {
                SERVER_CONNECTIONS
            } else {
                RAW_CONNECTIONS
            },
        };
        let raw = |table| RawTarget {
            pool: raw_pool.clone(),
            table,
            tenant: stack.tenant,
            flow_id: flow.id,
            texts: texts.clone(),
        };
        let measured = match figure {
            Figure::A1Bare => {
                load::run(plan.shape, &observation, raw(RawTable::Bare).single()).await
            }
            Figure::A1 => {
                load::run(
                    plan.shape,
                    &observation,
                    raw(RawTable::LikeRecords).single(),
                )
                .await
            }
            Figure::A100Bare => {
                load::run(plan.shape, &observation, raw(RawTable::Bare).batch()).await
            }
            Figure::A100 => {
                load::run(plan.shape, &observation, raw(RawTable::LikeRecords).batch()).await
            }
            Figure::B => {
                let bodies = samples.bodies.clone();
                let post = ApiTarget::new(stack, flow)?;
                load::run(plan.shape, &observation, move |worker, iteration| {
                    let body = variant(&bodies, worker, iteration);
                    post.send(body)
                })
                .await
            }
            Figure::C => {
                let batch = samples.batch.clone();
                let post = ApiTarget::new(stack, flow)?;
                load::run(plan.shape, &observation, move |_, _| {
                    post.send(batch.clone())
                })
                .await
            }
        }
        .with_context(|| format!("figure {}", figure.name()))?;
        let records_per_commit = if figure.is_api() {
            Some(records_per_commit(&stack.admin, first_record).await?)
        } else {
            None
        };
        results.push(FigureResult {
            figure,
            measured,
            records_per_commit,
        });
    }
    raw_pool.close().await;
    drop_raw_tables(&stack.admin).await?;
    Ok(results)
}

async fn next_record_id(admin: &PgPool) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(max(record_id), 0) + 1 FROM records")
        .fetch_one(admin)
        .await
        .context("reading the last record id")
}

/// Records per transaction among those stored since `first_record`: each transaction stamps
/// its rows with its own `xmin`.
async fn records_per_commit(admin: &PgPool, first_record: i64) -> anyhow::Result<f64> {
    let (records, commits): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT xmin::text) FROM records WHERE record_id >= $1",
    )
    .bind(first_record)
    .fetch_one(admin)
    .await
    .context("counting the figure's transactions")?;
    Ok(records as f64 / commits.max(1) as f64)
}

fn variant(bodies: &[Bytes], worker: usize, iteration: u64) -> Bytes {
    let index = (worker as u64).wrapping_add(iteration) % bodies.len().max(1) as u64;
    bodies.get(index as usize).cloned().unwrap_or_default()
}

/// Where the raw phases insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawTable {
    /// `bench_raw`: `LIKE records INCLUDING ALL`.
    LikeRecords,
    /// `bench_bare`: an id and the jsonb.
    Bare,
}

impl RawTable {
    fn single_row(self) -> &'static str {
        match self {
            RawTable::LikeRecords => concat!(
                "INSERT INTO bench_raw (org_id, environment_id, uuid, flow_id, flow_version,",
                " data, status) VALUES ($1, $2, gen_random_uuid(), $3, 1, $4::jsonb, 0)"
            ),
            RawTable::Bare => "INSERT INTO bench_bare (data) VALUES ($1::jsonb)",
        }
    }

    fn multi_row(self) -> &'static str {
        match self {
            RawTable::LikeRecords => concat!(
                "INSERT INTO bench_raw (org_id, environment_id, uuid, flow_id, flow_version,",
                " data, status) SELECT $1, $2, gen_random_uuid(), $3, 1, t.data::jsonb, 0",
                " FROM unnest($4::text[]) AS t(data)"
            ),
            RawTable::Bare => {
                "INSERT INTO bench_bare (data) SELECT t.data::jsonb FROM unnest($1::text[]) AS t(data)"
            }
        }
    }
}

/// The raw phases' target: the records are bound as text and cast to jsonb by PostgreSQL, as
/// compact as the API's binding of parsed JSON, and the uuid is generated by PostgreSQL.
#[derive(Clone)]
struct RawTarget {
    pool: PgPool,
    table: RawTable,
    tenant: Tenant,
    flow_id: i64,
    texts: Arc<Vec<String>>,
}

impl RawTarget {
    /// One INSERT of one record per transaction (autocommit).
    fn single(&self) -> impl Fn(usize, u64) -> BoxedOperation + Send + Sync + 'static {
        let target = self.clone();
        move |worker, iteration| {
            let target = target.clone();
            Box::pin(async move {
                let index = (worker as u64).wrapping_add(iteration) % target.texts.len() as u64;
                let text = target
                    .texts
                    .get(index as usize)
                    .map(String::as_str)
                    .unwrap_or("{}");
                target.execute(target.table.single_row(), text).await
            })
        }
    }

    /// One INSERT of every variant per transaction.
    fn batch(&self) -> impl Fn(usize, u64) -> BoxedOperation + Send + Sync + 'static {
        let target = self.clone();
        move |_, _| {
            let target = target.clone();
            Box::pin(async move {
                target
                    .execute(target.table.multi_row(), target.texts.as_slice())
                    .await
            })
        }
    }

    async fn execute<'t, T>(&self, sql: &'static str, data: T) -> anyhow::Result<()>
    where
        T: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let query = match self.table {
            RawTable::LikeRecords => sqlx::query(sql)
                .bind(self.tenant.org_id)
                .bind(self.tenant.environment_id)
                .bind(self.flow_id),
            RawTable::Bare => sqlx::query(sql),
        };
        query
            .bind(data)
            .execute(&self.pool)
            .await
            .context("a raw INSERT")?;
        Ok(())
    }
}

type BoxedOperation =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'static>>;

/// `POST /v1/record` into the bench flow, with a body serialized once.
#[derive(Clone)]
struct ApiTarget {
    http: reqwest::Client,
    url: Arc<str>,
    headers: HeaderMap,
}

impl ApiTarget {
    fn new(stack: &Stack, flow: &Flow) -> anyhow::Result<ApiTarget> {
        let mut headers = HeaderMap::new();
        headers.insert("X-Apikey", HeaderValue::from_str(&stack.api_key)?);
        headers.insert("X-App", HeaderValue::from_str(&stack.app_key)?);
        headers.insert("X-Flow", HeaderValue::from_str(&flow.name)?);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(ApiTarget {
            http: stack.http.clone(),
            url: Arc::from(format!("{}/v1/record", stack.base_url)),
            headers,
        })
    }

    /// Sends one request; anything but a 201 fails with the answer's body.
    fn send(&self, body: Bytes) -> BoxedOperation {
        let request = self
            .http
            .post(&*self.url)
            .headers(self.headers.clone())
            .body(body)
            .send();
        Box::pin(async move {
            let response = request.await.context("POST /v1/record")?;
            let status = response.status();
            if status != StatusCode::CREATED {
                let text = response.text().await.unwrap_or_default();
                bail!("POST /v1/record answered {status}: {text}");
            }
            // Read to the end, so that the connection is kept alive for the next request.
            response.bytes().await.context("reading a 201's body")?;
            Ok(())
        })
    }
}

async fn create_raw_tables(admin: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(concat!(
        "DROP TABLE IF EXISTS bench_raw, bench_bare;",
        "CREATE TABLE bench_raw (LIKE records INCLUDING ALL);",
        "CREATE TABLE bench_bare (id bigserial PRIMARY KEY, data jsonb NOT NULL);"
    ))
    .execute(admin)
    .await
    .context("creating bench_raw and bench_bare")?;
    let (records, raw): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'records'::regclass), \
                (SELECT count(*) FROM pg_index WHERE indrelid = 'bench_raw'::regclass)",
    )
    .fetch_one(admin)
    .await?;
    if records != raw {
        bail!("bench_raw has {raw} indexes where records has {records}");
    }
    Ok(())
}

async fn drop_raw_tables(admin: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("DROP TABLE IF EXISTS bench_raw, bench_bare")
        .execute(admin)
        .await
        .context("dropping bench_raw and bench_bare")?;
    Ok(())
}

/// The figures as a table, then the ratios and where the time went.
pub fn report(plan: &IngestPlan, results: &[FigureResult]) -> String {
    let mut out = String::new();
    let shape = plan.shape;
    let _ = writeln!(
        out,
        "Ingestion — concurrency {}, {} s measured per figure after {} s of warm-up",
        shape.concurrency,
        shape.measure.as_secs_f64(),
        shape.warmup.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:<10} {:<44} {:>10} {:>8} {:>8} {:>8}   cpu%: client server postgres other idle",
        "figure", "what", "records/s", "req/s", "p50 ms", "p99 ms"
    );
    for result in results {
        let m = &result.measured;
        let _ = writeln!(
            out,
            "{:<10} {:<44} {:>10.0} {:>8.0} {:>8.2} {:>8.2}         {:>5.0} {:>6.0} {:>8.0} {:>5.0} {:>4.0}",
            result.figure.name(),
            result.figure.description(),
            result.records_per_second(),
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
    let rate = |figure: Figure| {
        results
            .iter()
            .find(|result| result.figure == figure)
            .map(FigureResult::records_per_second)
    };
    for (api, raw, note) in [
        (Figure::B, Figure::A1, "goal ≥ 0.80"),
        (Figure::C, Figure::A100, "goal ≥ 0.80"),
        (Figure::B, Figure::A1Bare, "against the bare table"),
        (Figure::C, Figure::A100Bare, "against the bare table"),
    ] {
        if let (Some(api_rate), Some(raw_rate)) = (rate(api), rate(raw)) {
            let _ = writeln!(
                out,
                "{:<12} = {:.2}   ({note})",
                format!("{}/{}", api.name(), raw.name()),
                api_rate / raw_rate.max(f64::MIN_POSITIVE)
            );
        }
    }
    for result in results {
        if let Some(per_commit) = result.records_per_commit {
            let _ = writeln!(
                out,
                "{:<12}   {per_commit:.1} records per committed transaction",
                result.figure.name()
            );
        }
    }
    let disturbed: Vec<String> = results
        .iter()
        .filter(|result| result.measured.cpu.other > DISTURBED)
        .map(|result| {
            format!(
                "{} ({:.0}%)",
                result.figure.name(),
                result.measured.cpu.other * 100.0
            )
        })
        .collect();
    if !disturbed.is_empty() {
        let _ = writeln!(
            out,
            "WARNING: other processes took CPU during {}: those figures are low and the ratios \
             unreliable; run again on a quiet machine.",
            disturbed.join(", ")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "What the measured PostgreSQL connections were doing (share of samples, every 100 ms):"
    );
    for result in results {
        let top: Vec<String> = result
            .measured
            .waits
            .top(5)
            .into_iter()
            .map(|(activity, share)| format!("{activity} {:.0}%", share * 100.0))
            .collect();
        let _ = writeln!(out, "  {:<10} {}", result.figure.name(), top.join(", "));
    }
    out
}
