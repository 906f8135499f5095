//! `flowline-bench tables`: search latency over a large table through HTTP —
//! `POST /v1/tables/bench/search`, one request at a time — for the same predicates on an
//! indexed column and on an identical column without an index, with the query plans.
//!
//! The table is defined through the API without indexes, filled with `--rows` rows by
//! `INSERT … SELECT … FROM generate_series` straight into its physical table (set-up, not
//! measured), then its indexes are added through the API (`PUT /v1/tabledefs/bench`, which
//! builds them at once, as an operator's change would) and `VACUUM ANALYZE` runs.

use crate::load::{self, Latency};
use crate::stack::{Stack, StackSettings, expect_status};
use anyhow::Context;
use clap::Args;
use flowline_tables::Selection;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TABLE: &str = "bench";
/// Rows per loading statement (each its own transaction).
const LOAD_CHUNK: i64 = 100_000;
/// Uncounted searches before the timed ones, per kind.
const WARMUP_RUNS: usize = 10;
/// Time spent timing one kind of search, at most (beyond its first 20 runs).
const BUDGET_PER_KIND: Duration = Duration::from_secs(30);
/// How many distinct e-mail addresses the point lookups cycle through.
const POINT_LOOKUPS: i64 = 200;

#[derive(Debug, Args)]
pub struct TablesArgs {
    /// Rows in the table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,
    /// Timed searches per kind.
    #[arg(long, default_value_t = 200)]
    runs: usize,
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

/// Two runtimes, as for `ingest`, so that the server runs on threads of its own.
pub fn command(args: TablesArgs) -> anyhow::Result<()> {
    crate::on_two_runtimes(|server_runtime| run(args, server_runtime))
}

async fn run(args: TablesArgs, server_runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    anyhow::ensure!(args.rows > 0, "--rows must be at least 1");
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let settings = StackSettings {
        data_dir: args.data_dir.clone(),
        pg_settings: args.pg_settings.clone(),
        server_pool: 4,
        ingest_flushers: flowline_gateway::IngestSettings::default().flushers,
        max_connections: 100,
        server_log: args.server_log.clone(),
    };
    eprintln!("starting PostgreSQL and Flowline…");
    let stack = Stack::start(&settings, &server_runtime).await?;
    let result = measure(&stack, &args).await;
    let stopped = stack.stop().await;
    println!("{}", result?);
    stopped
}

/// One kind of search: the bodies it sends (point lookups cycle through several).
struct SearchKind {
    name: String,
    bodies: Vec<Value>,
}

async fn measure(stack: &Stack, args: &TablesArgs) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "flowline-bench tables");
    let _ = writeln!(out, "{}", fill(stack, args.rows).await?);
    let kinds = search_kinds(args.rows);
    let _ = writeln!(
        out,
        "Search — POST /v1/tables/{TABLE}/search over {} rows, one request at a time, {} timed \
         runs per kind after {WARMUP_RUNS} uncounted (fewer when a kind takes over {} s)",
        args.rows,
        args.runs,
        BUDGET_PER_KIND.as_secs()
    );
    let _ = writeln!(
        out,
        "{:<52} {:>5} {:>9} {:>9} {:>9}   max_results (first answer)",
        "kind", "runs", "p50 ms", "p99 ms", "max ms"
    );
    let mut plans = String::new();
    for kind in &kinds {
        let (latency, max_results) = time_kind(stack, kind, args.runs).await?;
        let _ = writeln!(
            out,
            "{:<52} {:>5} {:>9.2} {:>9.2} {:>9.2}   {max_results}",
            kind.name,
            latency.count,
            ms(latency.p50),
            ms(latency.p99),
            ms(latency.max),
        );
        let _ = writeln!(plans, "--- {} ---", kind.name);
        let _ = writeln!(plans, "{}", explain(stack, kind).await?);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Query plans (flowline_tables::explain_search, EXPLAIN (ANALYZE, BUFFERS)), page then count:"
    );
    out.push_str(&plans);
    Ok(out)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Pairs of columns with the same values, one indexed and one not, so that each predicate can
/// be timed both ways.
fn definition() -> Value {
    json!({"name": TABLE, "columns": [
        {"name": "email", "type": "string"},
        {"name": "email_noindex", "type": "string"},
        {"name": "age", "type": "integer"},
        {"name": "age_noindex", "type": "integer"},
        {"name": "city", "type": "string"},
        {"name": "score", "type": "number"},
        {"name": "active", "type": "boolean"},
        {"name": "joined", "type": "date"},
    ]})
}

const INDEXED: [&str; 2] = ["email", "age"];

/// Defines the table, loads it, indexes it; says what it did.
async fn fill(stack: &Stack, rows: i64) -> anyhow::Result<String> {
    let created = stack
        .request(Method::POST, "/v1/tabledefs")
        .json(&definition())
        .send()
        .await
        .context("POST /v1/tabledefs")?;
    let created = expect_status(created, StatusCode::CREATED, "POST /v1/tabledefs").await?;
    let table_id = created["resource"]["table_id"]
        .as_i64()
        .with_context(|| format!("no table_id in {created}"))?;
    let columns = physical_columns(stack, table_id).await?;
    let column = |name: &str| {
        columns
            .get(name)
            .map(|id| format!("c_{id}"))
            .with_context(|| format!("no column {name} in the catalog"))
    };
    let load = format!(
        "INSERT INTO flowline_tables.tbl_{table_id} ({}, {}, {}, {}, {}, {}, {}, {}) \
         SELECT 'user' || g || '@example.nl', 'user' || g || '@example.nl', g % 100, g % 100, \
         (ARRAY['Amsterdam','Rotterdam','Utrecht','Leiden','Delft'])[1 + g % 5], \
         (g % 1000) / 10.0, g % 3 = 0, date '2000-01-01' + (g % 8000)::int \
         FROM generate_series($1::bigint, $2::bigint) g",
        column("email")?,
        column("email_noindex")?,
        column("age")?,
        column("age_noindex")?,
        column("city")?,
        column("score")?,
        column("active")?,
        column("joined")?,
    );
    let started = Instant::now();
    let mut from = 1;
    while from <= rows {
        let to = (from + LOAD_CHUNK - 1).min(rows);
        sqlx::query(AssertSqlSafe(load.clone()))
            .bind(from)
            .bind(to)
            .execute(&stack.admin)
            .await
            .context("loading rows")?;
        eprintln!(
            "  loaded {to}/{rows} rows ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let indexing = Instant::now();
    let indexed = stack
        .request(Method::PUT, &format!("/v1/tabledefs/{TABLE}"))
        .json(&json!({"add_indexes": INDEXED}))
        .send()
        .await
        .context("PUT /v1/tabledefs")?;
    expect_status(indexed, StatusCode::OK, "PUT /v1/tabledefs").await?;
    let index_seconds = indexing.elapsed().as_secs_f64();
    let vacuuming = Instant::now();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "VACUUM ANALYZE flowline_tables.tbl_{table_id}"
    )))
    .execute(&stack.admin)
    .await?;
    let (size,): (String,) = sqlx::query_as(
        "SELECT pg_size_pretty(pg_total_relation_size(format('flowline_tables.tbl_%s', $1::bigint)))",
    )
    .bind(table_id)
    .fetch_one(&stack.admin)
    .await?;
    Ok(format!(
        "Table data: {rows} rows loaded in {load_seconds:.0} s; indexes on {} added through \
         PUT /v1/tabledefs in {index_seconds:.1} s; VACUUM ANALYZE {:.0} s; table with its \
         indexes: {size}",
        INDEXED.join(", "),
        vacuuming.elapsed().as_secs_f64()
    ))
}

/// Column name → column id, from the catalog (the physical columns are `c_<id>`).
async fn physical_columns(stack: &Stack, table_id: i64) -> anyhow::Result<HashMap<String, i32>> {
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "SELECT name, column_id FROM data_table_columns WHERE org_id = $1 AND table_id = $2",
    )
    .bind(stack.tenant.org_id)
    .bind(table_id)
    .fetch_all(&stack.admin)
    .await?;
    Ok(rows.into_iter().collect())
}

fn rule(field: &str, operator: &str, value: Value) -> Value {
    json!({"condition": "AND", "rules": [{"field": field, "operator": operator, "value": value}]})
}

/// The kinds of search, each on the indexed column and on its unindexed twin.
fn search_kinds(rows: i64) -> Vec<SearchKind> {
    let step = (rows / POINT_LOOKUPS).max(1);
    let emails: Vec<Value> = (0..POINT_LOOKUPS.min(rows))
        .map(|n| json!(format!("user{}@example.nl", 1 + n * step)))
        .collect();
    let mut kinds = Vec::new();
    for (column, indexed) in [("email", true), ("email_noindex", false)] {
        let label = if indexed { "indexed" } else { "no index" };
        kinds.push(SearchKind {
            name: format!("{column} = (one row), {label}"),
            bodies: emails
                .iter()
                .map(|email| json!({"where": rule(column, "=", email.clone())}))
                .collect(),
        });
        kinds.push(SearchKind {
            name: format!("{column} begins_with 'user1234', {label}"),
            bodies: vec![json!({"where": rule(column, "begins_with", json!("user1234"))})],
        });
    }
    for (column, indexed) in [("age", true), ("age_noindex", false)] {
        let label = if indexed { "indexed" } else { "no index" };
        kinds.push(SearchKind {
            name: format!("{column} = 42 (1% of rows), limit 100, {label}"),
            bodies: vec![json!({"where": rule(column, "=", json!(42))})],
        });
        kinds.push(SearchKind {
            name: format!("{column} between 10 and 11, by {column} desc, 10, {label}"),
            bodies: vec![json!({
                "where": rule(column, "between", json!([10, 11])),
                "order_field": column, "order_type": "desc", "limit": 10,
            })],
        });
        kinds.push(SearchKind {
            name: format!("no filter, by {column} desc, limit 10, {label}"),
            bodies: vec![json!({"order_field": column, "order_type": "desc", "limit": 10})],
        });
    }
    kinds
}

/// Times the kind through HTTP; returns the latencies and the first answer's `max_results`.
async fn time_kind(
    stack: &Stack,
    kind: &SearchKind,
    runs: usize,
) -> anyhow::Result<(Latency, String)> {
    let path = format!("/v1/tables/{TABLE}/search");
    let send = |index: usize| {
        let body = kind.bodies.get(index % kind.bodies.len().max(1));
        let mut request = stack.request(Method::POST, &path);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send()
    };
    let first = send(0).await.context("POST search")?;
    let first = expect_status(first, StatusCode::OK, "POST search").await?;
    let max_results = first["max_results"].to_string();
    let latency = load::time_sequential(WARMUP_RUNS, runs, BUDGET_PER_KIND, async |index| {
        let response = send(index).await.context("POST search")?;
        expect_status(response, StatusCode::OK, "POST search").await?;
        Ok(())
    })
    .await?;
    Ok((latency, max_results))
}

/// The plans of the kind's first search, with their actual run times.
async fn explain(stack: &Stack, kind: &SearchKind) -> anyhow::Result<String> {
    let Some(body) = kind.bodies.first() else {
        return Ok(String::new());
    };
    let selection = Selection::parse(Some(body))
        .map_err(|error| anyhow::anyhow!("{}", error.public_message()))?;
    let mut conn = stack.admin.acquire().await?;
    flowline_tables::explain_search(&mut conn, stack.tenant, TABLE, &selection, true)
        .await
        .map_err(|error| anyhow::anyhow!("explain_search: {}", error.public_message()))
}
