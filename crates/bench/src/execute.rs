//! `flowline-bench execute`: the scheduler running a 5-step internal flow (set → condition →
//! keystore.put → table.insert → end) over `--records` queued records: records executed per
//! second; then the enqueue-to-finished latency (p50/p99) at a light steady load
//! (`--rate` records/s through `POST /v1/record`); then the raw ceiling: the same statements per
//! record issued straight to PostgreSQL by as many tasks, claimed in batches the same way, and
//! the ratio of the two.
//!
//! Latency is `records.last_run_at − records.created_at`: `last_run_at` is the start of the
//! run's transaction, so the commit of the run (a few ms) is not counted.

use crate::stack::{Stack, StackSettings, expect_status};
use anyhow::Context;
use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ExecuteArgs {
    /// Queued records the throughput figure runs (and the raw ceiling too).
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Scheduler workers (records run at once), and raw-ceiling tasks.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Records per second of the light-load latency figure.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of the light-load latency figure.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Where to put the cluster (default: a new temporary directory, removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An extra PostgreSQL setting, NAME=VALUE (repeatable).
    #[arg(long = "pg", value_parser = crate::parse_setting)]
    pg_settings: Vec<(String, String)>,
}

pub fn command(args: ExecuteArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(run(args));
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn run(args: ExecuteArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.workers > 0 && args.records > 0 && args.rate > 0);
    let settings = StackSettings {
        data_dir: args.data_dir.clone(),
        pg_settings: args.pg_settings.clone(),
        server_pool: 8,
        ingest_flushers: 1,
        max_connections: 100,
        server_log: None,
    };
    let stack = Stack::start(&settings, &tokio::runtime::Handle::current()).await?;
    let result = measure(&stack, &args).await;
    stack.stop().await?;
    result
}

async fn measure(stack: &Stack, args: &ExecuteArgs) -> anyhow::Result<()> {
    set_up(stack).await?;
    let pool = flowline_db::connect(
        stack.connect_options("bench-scheduler"),
        u32::try_from(args.workers + 2)?,
    )
    .await?;

    enqueue(stack, "executed", args.records).await?;
    let mut config = flowline_scheduler::SchedulerConfig::new(args.workers);
    config.poll = Duration::from_millis(100);
    let started = Instant::now();
    let scheduler = flowline_scheduler::Scheduler::start(pool.clone(), config.clone());
    wait_for_empty_queue(stack).await?;
    let executed = args.records as f64 / started.elapsed().as_secs_f64();
    println!(
        "scheduler: {} records in {:.1} s: {executed:.0} records/s",
        args.records,
        started.elapsed().as_secs_f64()
    );

    let marker: i64 = sqlx::query_scalar("SELECT coalesce(max(record_id), 0) FROM records")
        .fetch_one(&stack.admin)
        .await?;
    light_load(stack, args).await?;
    wait_for_empty_queue(stack).await?;
    scheduler.shutdown().await;
    let (p50, p99, count): (f64, f64, i64) = sqlx::query_as(
        "SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), 0), \
         coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), 0), count(*) FROM ( \
           SELECT extract(epoch FROM last_run_at - created_at) * 1000 AS ms FROM records \
           WHERE record_id > $1 AND status = 2) latencies",
    )
    .bind(marker)
    .fetch_one(&stack.admin)
    .await?;
    println!(
        "light load ({} records/s, {count} records): latency p50 {p50:.1} ms, p99 {p99:.1} ms",
        args.rate
    );

    enqueue(stack, "executed", args.records).await?;
    let started = Instant::now();
    raw_ceiling(stack, &pool, args.workers).await?;
    let ceiling = args.records as f64 / started.elapsed().as_secs_f64();
    println!(
        "raw ceiling: {ceiling:.0} records/s; scheduler / ceiling = {:.2}",
        executed / ceiling
    );
    pool.close().await;
    Ok(())
}

async fn set_up(stack: &Stack) -> anyhow::Result<()> {
    let keystore = stack
        .request(Method::POST, "/v1/keystores")
        .json(&json!({"keystore_id": "kv", "type": "json"}))
        .send()
        .await?;
    expect_status(keystore, StatusCode::CREATED, "POST /v1/keystores").await?;
    let table = stack
        .request(Method::POST, "/v1/tabledefs")
        .json(&json!({"name": "orders", "columns": [
            {"name": "name", "type": "string"}, {"name": "qty", "type": "integer"}]}))
        .send()
        .await?;
    expect_status(table, StatusCode::CREATED, "POST /v1/tabledefs").await?;
    let definition = json!({
        "name": "executed", "start": "mark",
        "steps": {
            "mark": {"type": "set", "fields": {"seen": "yes"}, "next": "big"},
            "big": {"type": "condition", "where": {"condition": "AND", "rules": [
                        {"field": "qty", "operator": ">=", "value": 0}]},
                    "then": "put", "else": "done"},
            "put": {"type": "keystore.put", "keystore": "kv", "key": "{{ record.name }}",
                    "value": {"qty": "{{ record.qty }}"}, "next": "insert"},
            "insert": {"type": "table.insert", "table": "orders",
                       "columns": {"name": "{{ record.name }}", "qty": "{{ record.qty }}"},
                       "next": "done"},
            "done": {"type": "end"}
        }
    });
    let created = stack
        .request(Method::POST, "/v1/flowdiagram")
        .json(&definition)
        .send()
        .await?;
    let created = expect_status(created, StatusCode::CREATED, "POST /v1/flowdiagram").await?;
    let id = created["resource"]["flow_id"].as_i64().context("flow_id")?;
    let published = stack
        .request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", id.to_string())
        .header("X-Status", "public")
        .send()
        .await?;
    expect_status(published, StatusCode::OK, "PUT /v1/changeflowstatus").await?;
    Ok(())
}

/// Queues `count` records through the API, 1,000 per request (not measured).
async fn enqueue(stack: &Stack, flow: &str, count: usize) -> anyhow::Result<()> {
    let mut queued = 0;
    while queued < count {
        let batch: Vec<Value> = (queued..count.min(queued + 1000))
            .map(|n| json!({"name": format!("r{n}-{}", rand_suffix()), "qty": n}))
            .collect();
        queued += batch.len();
        let response = stack
            .request(Method::POST, "/v1/record")
            .header("X-Flow", flow)
            .json(&batch)
            .send()
            .await?;
        expect_status(response, StatusCode::CREATED, "POST /v1/record").await?;
    }
    Ok(())
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

async fn wait_for_empty_queue(stack: &Stack) -> anyhow::Result<()> {
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM record_queue")
            .fetch_one(&stack.admin)
            .await?;
        if left == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One record every 1/rate s, each its own request, for `seconds`.
async fn light_load(stack: &Stack, args: &ExecuteArgs) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    let total = (args.seconds * f64::from(args.rate)) as usize;
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..total {
        tick.tick().await;
        let request = stack
            .request(Method::POST, "/v1/record")
            .header("X-Flow", "executed")
            .json(&json!({"name": format!("light{n}-{}", rand_suffix()), "qty": n}));
        requests.spawn(async move { request.send().await.map(|response| response.status()) });
    }
    while let Some(sent) = requests.join_next().await {
        anyhow::ensure!(sent??.is_success(), "a light-load request failed");
    }
    Ok(())
}

/// The same work straight to PostgreSQL: `workers` tasks claim batches with `FOR UPDATE SKIP
/// LOCKED` and run each record in one transaction of the statements the scheduler issues.
async fn raw_ceiling(
    stack: &Stack,
    pool: &flowline_db::PgPool,
    workers: usize,
) -> anyhow::Result<()> {
    let table_id: i64 =
        sqlx::query_scalar("SELECT table_id FROM data_tables WHERE name = 'orders'")
            .fetch_one(&stack.admin)
            .await?;
    // A database-given number: a safe identifier.
    let insert_row = format!(
        "INSERT INTO flowline_tables.tbl_{table_id} (c_1, c_2) VALUES ($1, $2) RETURNING id"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (pool, insert_row) = (pool.clone(), insert_row.clone());
        tasks.spawn(async move { raw_worker(&pool, &insert_row).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

async fn raw_worker(pool: &flowline_db::PgPool, insert_row: &str) -> anyhow::Result<()> {
    let owner = uuid_like();
    loop {
        let claimed: Vec<(i64, i64, i32)> = sqlx::query_as(
            "WITH due AS (SELECT org_id, record_id FROM record_queue WHERE NOT paused \
               AND next_run_at <= now() AND lease_owner IS NULL \
               ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             UPDATE record_queue q SET lease_owner = $1::uuid, attempts = q.attempts + 1, \
               lease_until = now() + interval '60 seconds' \
             FROM due WHERE q.org_id = due.org_id AND q.record_id = due.record_id \
             RETURNING q.org_id, q.record_id, q.attempts",
        )
        .bind(&owner)
        .fetch_all(pool)
        .await?;
        if claimed.is_empty() {
            return Ok(());
        }
        for (org_id, record_id, attempts) in claimed {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "SELECT 1 FROM record_queue WHERE org_id = $1 AND record_id = $2 \
                         AND lease_owner = $3::uuid AND attempts = $4 FOR UPDATE",
            )
            .bind(org_id)
            .bind(record_id)
            .bind(&owner)
            .bind(attempts)
            .fetch_one(&mut *tx)
            .await?;
            let (environment_id, data): (i64, Value) = sqlx::query_as(
                "SELECT environment_id, data FROM records WHERE org_id = $1 AND record_id = $2 \
                 FOR UPDATE",
            )
            .bind(org_id)
            .bind(record_id)
            .fetch_one(&mut *tx)
            .await?;
            let name = data["name"].as_str().unwrap_or_default().to_owned();
            let qty = data["qty"].as_i64().unwrap_or_default();
            let value = json!({"qty": qty});
            sqlx::query(
                "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, \
                 document) VALUES ($1, $2, 'kv', $3, $4, $5) ON CONFLICT \
                 (org_id, environment_id, keystore_id, key) DO UPDATE SET value = EXCLUDED.value, \
                 document = EXCLUDED.document, updated_at = now()",
            )
            .bind(org_id)
            .bind(environment_id)
            .bind(&name)
            .bind(value.to_string())
            .bind(&value)
            .execute(&mut *tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(insert_row.to_owned()))
                .bind(&name)
                .bind(qty)
                .execute(&mut *tx)
                .await?;
            let mut data = data;
            data["seen"] = json!("yes");
            sqlx::query(
                "UPDATE records SET data = $3, status = 2, current_step = 'done', \
                 num_runs = num_runs + 1, started_at = coalesce(started_at, now()), \
                 last_run_at = now(), modified_at = now() WHERE org_id = $1 AND record_id = $2",
            )
            .bind(org_id)
            .bind(record_id)
            .bind(&data)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM record_queue WHERE org_id = $1 AND record_id = $2")
                .bind(org_id)
                .bind(record_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO record_step_log (org_id, environment_id, record_id, step_id, \
                 step_type, attempt, started_at, finished_at, outcome) \
                 SELECT $1, $2, $3, s, 'set', 1, now(), now(), 'ok' \
                 FROM unnest(ARRAY['mark', 'big', 'put', 'insert', 'done']) s",
            )
            .bind(org_id)
            .bind(environment_id)
            .bind(record_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
    }
}

fn uuid_like() -> String {
    let nanos = rand_suffix();
    format!("00000000-0000-4000-8000-{:012x}", nanos & 0xffff_ffff_ffff)
}
