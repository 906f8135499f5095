//! `flowline-bench execute`: the scheduler running a 5-step internal flow (set → condition →
//! keystore.put → table.insert → end) over `--records` queued records: records executed per
//! second; then the enqueue-to-finished latency (p50/p99) at a light steady load
//! (`--rate` records/s through `POST /v1/record`); then the raw ceiling: the statements the
//! scheduler issues for a batch, straight to PostgreSQL from as many tasks, with batches of the
//! same size, and the ratio of the two.
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
    /// Scheduler workers (batches run at once), and raw-ceiling tasks.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Records per batch, for the scheduler and the raw ceiling.
    #[arg(long, default_value_t = flowline_scheduler::DEFAULT_BATCH)]
    batch: usize,
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
    anyhow::ensure!(args.workers > 0 && args.batch > 0 && args.records > 0 && args.rate > 0);
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
    config.batch = args.batch;
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
    raw_ceiling(stack, &pool, args.workers, args.batch).await?;
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

/// Waits until the queue is empty. The check stops at the first queue entry it finds: counting
/// a queue of 100,000 entries every few milliseconds would take a tenth of the database's CPU
/// from the scheduler being measured.
async fn wait_for_empty_queue(stack: &Stack) -> anyhow::Result<()> {
    loop {
        let left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM record_queue)")
            .fetch_one(&stack.admin)
            .await?;
        if !left {
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

/// The same work straight to PostgreSQL: `workers` tasks claim batches of `batch` with `FOR
/// UPDATE SKIP LOCKED` and run each batch in one transaction of the statements the scheduler
/// issues for it: lock the queue entries and records, write the keystore entries, insert the
/// rows, update the records, delete the queue entries, append the step log and the history.
async fn raw_ceiling(
    stack: &Stack,
    pool: &flowline_db::PgPool,
    workers: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let table_id: i64 =
        sqlx::query_scalar("SELECT table_id FROM data_tables WHERE name = 'orders'")
            .fetch_one(&stack.admin)
            .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let pool = pool.clone();
        tasks.spawn(async move { raw_worker(&pool, table_id, batch).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// One batch's records as locked: `(org_id, record_id, environment_id, uuid, data)`.
type RawRecord = (i64, i64, i64, uuid::Uuid, Value);

async fn raw_worker(pool: &flowline_db::PgPool, table_id: i64, batch: usize) -> anyhow::Result<()> {
    let owner = uuid_like();
    loop {
        let claimed: Vec<(i64, i64, i32)> = sqlx::query_as(
            "WITH due AS (SELECT org_id, record_id FROM record_queue WHERE NOT paused \
               AND next_run_at <= now() AND lease_owner IS NULL \
               ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE record_queue q SET lease_owner = $1::uuid, attempts = q.attempts + 1, \
               lease_until = now() + interval '60 seconds' \
             FROM due WHERE q.org_id = due.org_id AND q.record_id = due.record_id \
             RETURNING q.org_id, q.record_id, q.attempts",
        )
        .bind(&owner)
        .bind(i64::try_from(batch)?)
        .fetch_all(pool)
        .await?;
        if claimed.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        let records = raw_lock(&mut tx, &claimed, &owner).await?;
        raw_effects(&mut tx, &records, table_id).await?;
        raw_save(&mut tx, &records).await?;
        tx.commit().await?;
    }
}

async fn raw_lock(
    tx: &mut sqlx::PgConnection,
    claimed: &[(i64, i64, i32)],
    owner: &str,
) -> anyhow::Result<Vec<RawRecord>> {
    let org_ids: Vec<i64> = claimed.iter().map(|claim| claim.0).collect();
    let record_ids: Vec<i64> = claimed.iter().map(|claim| claim.1).collect();
    let attempts: Vec<i32> = claimed.iter().map(|claim| claim.2).collect();
    Ok(sqlx::query_as(
        "SELECT r.org_id, r.record_id, r.environment_id, r.uuid, r.data \
         FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS c(org_id, record_id, attempts) \
         JOIN record_queue q ON q.org_id = c.org_id AND q.record_id = c.record_id \
           AND q.lease_owner = $4::uuid AND q.attempts = c.attempts \
         JOIN records r ON r.org_id = q.org_id AND r.record_id = q.record_id \
         ORDER BY r.org_id, r.record_id FOR UPDATE OF q, r",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .bind(&attempts)
    .bind(owner)
    .fetch_all(&mut *tx)
    .await?)
}

/// The flow's two writes for every record of the batch: one keystore upsert, one multi-row
/// insert.
async fn raw_effects(
    tx: &mut sqlx::PgConnection,
    records: &[RawRecord],
    table_id: i64,
) -> anyhow::Result<()> {
    let Some(&(org_id, _, environment_id, _, _)) = records.first() else {
        return Ok(());
    };
    let names: Vec<String> = records
        .iter()
        .map(|record| record.4["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let quantities: Vec<i64> = records
        .iter()
        .map(|record| record.4["qty"].as_i64().unwrap_or_default())
        .collect();
    let values: Vec<String> = quantities
        .iter()
        .map(|qty| json!({"qty": qty}).to_string())
        .collect();
    sqlx::query(
        "INSERT INTO keystore_entries (org_id, environment_id, keystore_id, key, value, \
         document) SELECT $1, $2, 'kv', u.key, u.value, u.value::jsonb \
         FROM unnest($3::text[], $4::text[]) AS u(key, value) ORDER BY u.key \
         ON CONFLICT (org_id, environment_id, keystore_id, key) DO UPDATE \
         SET value = EXCLUDED.value, document = EXCLUDED.document, updated_at = now()",
    )
    .bind(org_id)
    .bind(environment_id)
    .bind(&names)
    .bind(&values)
    .execute(&mut *tx)
    .await?;
    // A database-given number: a safe identifier.
    let insert_rows = format!(
        "INSERT INTO flowline_tables.tbl_{table_id} (c_1, c_2) \
         SELECT * FROM unnest($1::text[], $2::bigint[]) RETURNING id"
    );
    sqlx::query(sqlx::AssertSqlSafe(insert_rows))
        .bind(&names)
        .bind(&quantities)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The batch's records finished: their data, their queue entries gone, five step-log entries
/// each and one history entry each.
async fn raw_save(tx: &mut sqlx::PgConnection, records: &[RawRecord]) -> anyhow::Result<()> {
    let org_ids: Vec<i64> = records.iter().map(|record| record.0).collect();
    let record_ids: Vec<i64> = records.iter().map(|record| record.1).collect();
    let environment_ids: Vec<i64> = records.iter().map(|record| record.2).collect();
    let uuids: Vec<uuid::Uuid> = records.iter().map(|record| record.3).collect();
    let data: Vec<String> = records
        .iter()
        .map(|record| {
            let mut data = record.4.clone();
            data["seen"] = json!("yes");
            data.to_string()
        })
        .collect();
    sqlx::query(
        "UPDATE records r SET data = u.data::jsonb, status = 2, current_step = 'done', \
         num_runs = num_runs + 1, started_at = coalesce(started_at, now()), \
         last_run_at = now(), next_run_at = NULL, step_outputs = NULL, modified_at = now() \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(org_id, record_id, data) \
         WHERE r.org_id = u.org_id AND r.record_id = u.record_id",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .bind(&data)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM record_queue q USING unnest($1::bigint[], $2::bigint[]) \
         AS u(org_id, record_id) WHERE q.org_id = u.org_id AND q.record_id = u.record_id",
    )
    .bind(&org_ids)
    .bind(&record_ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO record_step_log (org_id, environment_id, record_id, step_id, \
         step_type, attempt, started_at, finished_at, outcome) \
         SELECT u.org_id, u.environment_id, u.record_id, s, 'set', 1, now(), now(), 'ok' \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) \
           AS u(org_id, environment_id, record_id) \
         CROSS JOIN unnest(ARRAY['mark', 'big', 'put', 'insert', 'done']) s",
    )
    .bind(&org_ids)
    .bind(&environment_ids)
    .bind(&record_ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO record_history (org_id, environment_id, record_id, uuid, action, detail) \
         SELECT u.org_id, u.environment_id, u.record_id, u.uuid, 'finished', \
         '{\"status_code\": \"2\", \"step\": \"done\"}'::jsonb \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::uuid[]) \
           AS u(org_id, environment_id, record_id, uuid)",
    )
    .bind(&org_ids)
    .bind(&environment_ids)
    .bind(&record_ids)
    .bind(&uuids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn uuid_like() -> String {
    let nanos = rand_suffix();
    format!("00000000-0000-4000-8000-{:012x}", nanos & 0xffff_ffff_ffff)
}
