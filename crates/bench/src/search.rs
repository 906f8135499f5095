//! The search figures: the bench's tenant is filled up to a target number of records, then each
//! kind of search is timed through `GET /v1/record/search`, one request at a time, and its
//! query plans are printed once (`flowline_records::explain_search`, with `ANALYZE`).
//!
//! Records are loaded with `INSERT … SELECT … FROM generate_series` straight into `records`:
//! the sample record's variants with a varied name, city and e-mail, five flows, the statuses
//! 0–6 in plausible proportions, and creation dates spread over the past year in `record_id`
//! order. The secondary indexes are dropped for the load and rebuilt from their own definitions
//! afterwards (much faster than maintaining them row by row), then `VACUUM ANALYZE` runs.

use crate::load::{self, Latency};
use crate::sample::{CITIES, FIRST_NAMES, LAST_NAMES, Samples};
use crate::stack::{Flow, Stack, expect_status};
use anyhow::Context;
use flowline_db::PgPool;
use flowline_records::{RawSearch, SearchQuery};
use reqwest::{Method, StatusCode};
use sqlx::AssertSqlSafe;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Rows per loading statement (each its own transaction).
const LOAD_CHUNK: i64 = 100_000;
/// The flows records are spread over, besides the ingestion's own; `bench` gets 8 of 20 shares,
/// each of these 3.
const OTHER_FLOWS: [&str; 4] = ["orders", "leads", "support", "invoices"];
/// Uncounted searches before the timed ones, per kind.
const WARMUP_RUNS: usize = 10;
/// Time spent timing one kind of search, at most (beyond its first 20 runs).
const BUDGET_PER_KIND: Duration = Duration::from_secs(30);
/// How many distinct uuids and e-mail addresses the point lookups cycle through.
const POINT_LOOKUPS: i64 = 200;

/// How the search part runs.
#[derive(Debug, Clone, Copy)]
pub struct SearchPlan {
    /// Records of the tenant to search through.
    pub records: i64,
    /// Timed searches per kind.
    pub runs: usize,
}

/// One kind of search: the headers it sends. Point lookups cycle through several values.
struct SearchKind {
    name: &'static str,
    /// Each entry is the header set of one request; requests cycle through them.
    requests: Vec<Vec<(&'static str, String)>>,
}

/// Whether the server has the search route yet.
fn route_exists() -> bool {
    flowline_gateway::endpoints()
        .iter()
        .any(|endpoint| endpoint.method.as_str() == "GET" && endpoint.path == "/v1/record/search")
}

pub async fn run(
    stack: &Stack,
    plan: &SearchPlan,
    samples: &Samples,
    bench_flow: Flow,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut flows = vec![bench_flow];
    for name in OTHER_FLOWS {
        flows.push(stack.publish_flow(name).await?);
    }
    let loaded = fill(stack, plan.records, &flows, samples).await?;
    let _ = writeln!(out, "{loaded}");
    let kinds = search_kinds(&stack.admin, stack).await?;
    let through_http = route_exists();
    if through_http {
        let _ = writeln!(
            out,
            "Search — GET /v1/record/search over {} records, one request at a time, {} timed \
             runs per kind after {WARMUP_RUNS} uncounted (fewer when a kind takes over {} s)",
            plan.records,
            plan.runs,
            BUDGET_PER_KIND.as_secs()
        );
    } else {
        let _ = writeln!(
            out,
            "Search — NOTE: GET /v1/record/search is not registered in the gateway yet, so these \
             latencies are of flowline_records::search called directly (no HTTP, no auth, no \
             rendering), over {} records, {} timed runs per kind after {WARMUP_RUNS} uncounted \
             (fewer when a kind takes over {} s)",
            plan.records,
            plan.runs,
            BUDGET_PER_KIND.as_secs()
        );
    }
    let _ = writeln!(
        out,
        "{:<34} {:>5} {:>9} {:>9} {:>9}   total (first answer; capped at offset+limit+10000)",
        "kind", "runs", "p50 ms", "p99 ms", "max ms"
    );
    let mut plans = String::new();
    for kind in &kinds {
        let (latency, total) = if through_http {
            time_http(stack, kind, plan.runs).await?
        } else {
            time_service(stack, kind, plan.runs).await?
        };
        let _ = writeln!(
            out,
            "{:<34} {:>5} {:>9.2} {:>9.2} {:>9.2}   {total}",
            kind.name,
            latency.count,
            latency.p50.as_secs_f64() * 1000.0,
            latency.p99.as_secs_f64() * 1000.0,
            latency.max.as_secs_f64() * 1000.0,
        );
        let _ = writeln!(plans, "--- {} ---", kind.name);
        let _ = writeln!(plans, "{}", explain(stack, kind).await?);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Query plans (flowline_records::explain_search, EXPLAIN (ANALYZE, BUFFERS)), page then total:"
    );
    out.push_str(&plans);
    Ok(out)
}

/// Loads records until the tenant has `target`; says what it did.
async fn fill(
    stack: &Stack,
    target: i64,
    flows: &[Flow],
    samples: &Samples,
) -> anyhow::Result<String> {
    let tenant = stack.tenant;
    let existing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM records WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_one(&stack.admin)
    .await?;
    let missing = target - existing;
    if missing <= 0 {
        sqlx::raw_sql("VACUUM ANALYZE records")
            .execute(&stack.admin)
            .await?;
        return Ok(format!(
            "Search data: {existing} records already there (target {target}); nothing loaded; \
             VACUUM ANALYZE done"
        ));
    }
    let started = Instant::now();
    let mut conn = stack.admin.acquire().await?;
    sqlx::raw_sql("SET maintenance_work_mem = '1GB'")
        .execute(&mut *conn)
        .await?;
    let dropped = drop_secondary_indexes(&mut conn).await?;
    let flow_slots: Vec<i64> = flows
        .iter()
        .enumerate()
        .flat_map(|(index, flow)| std::iter::repeat_n(flow.id, if index == 0 { 8 } else { 3 }))
        .collect();
    let variants: Vec<serde_json::Value> = samples
        .texts
        .iter()
        .map(|text| serde_json::from_str(text))
        .collect::<Result<_, _>>()?;
    let (now,): (f64,) = sqlx::query_as("SELECT extract(epoch FROM now())::float8")
        .fetch_one(&mut *conn)
        .await?;
    let year = 365.0 * 86_400.0;
    let seconds_per_record = (year - 3_600.0) / missing as f64;
    let mut from = 0;
    while from < missing {
        let to = (from + LOAD_CHUNK).min(missing) - 1;
        sqlx::query(LOAD_SQL)
            .bind(tenant.org_id)
            .bind(tenant.environment_id)
            .bind(&flow_slots)
            .bind(sqlx::types::Json(&variants))
            .bind(FIRST_NAMES.as_slice())
            .bind(LAST_NAMES.as_slice())
            .bind(CITIES.as_slice())
            .bind(from)
            .bind(to)
            .bind(now - year)
            .bind(seconds_per_record)
            .execute(&mut *conn)
            .await
            .context("loading search records")?;
        from = to + 1;
        eprintln!(
            "  loaded {from}/{missing} search records ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let rebuilding = Instant::now();
    for definition in &dropped {
        sqlx::raw_sql(AssertSqlSafe(definition.clone()))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("rebuilding: {definition}"))?;
    }
    let rebuild_seconds = rebuilding.elapsed().as_secs_f64();
    let vacuuming = Instant::now();
    sqlx::raw_sql("VACUUM ANALYZE records")
        .execute(&mut *conn)
        .await?;
    let (size,): (String,) =
        sqlx::query_as("SELECT pg_size_pretty(pg_total_relation_size('records'))")
            .fetch_one(&mut *conn)
            .await?;
    Ok(format!(
        "Search data: {existing} records from the ingestion + {missing} loaded in {load_seconds:.0} s; \
         {} secondary indexes rebuilt in {rebuild_seconds:.0} s; VACUUM ANALYZE {:.0} s; \
         records with its indexes: {size}",
        dropped.len(),
        vacuuming.elapsed().as_secs_f64()
    ))
}

/// `$1` org, `$2` environment, `$3` flow ids by share, `$4` the record variants, `$5`–`$7` name
/// and city pools, `$8`–`$9` the range of row numbers, `$10` the first creation time (epoch
/// seconds), `$11` seconds between two records. `h` gives every row its own pseudo-random bits.
const LOAD_SQL: &str = concat!(
    "INSERT INTO records (org_id, environment_id, uuid, flow_id, flow_version, data, status,",
    " current_step, num_runs, created_at, started_at, last_run_at, modified_at)",
    " SELECT $1, $2, gen_random_uuid(), ($3::bigint[])[1 + (h / 100) % 20], 1,",
    "  jsonb_set(jsonb_set(jsonb_set(($4::jsonb -> (g.i % 100)::int),",
    "   '{client,name}', to_jsonb(($5::text[])[1 + (h / 2000) % 20] || ' ' || ($6::text[])[1 + (h / 40000) % 20])),",
    "   '{client,city}', to_jsonb(($7::text[])[1 + (h / 800000) % 20])),",
    "   '{client,email}', to_jsonb('client.' || g.i || '@example.nl')),",
    "  st.status, CASE WHEN st.status IN (1, 2, 3, 5, 6) THEN 'done' END,",
    "  CASE WHEN st.status IN (1, 2, 3, 5, 6) THEN 1 ELSE 0 END,",
    "  t.created, CASE WHEN st.status IN (1, 2, 3, 5, 6) THEN t.created + interval '5 seconds' END,",
    "  CASE WHEN st.status IN (2, 3, 5, 6) THEN t.created + interval '9 seconds' END,",
    "  t.created",
    " FROM generate_series($8::bigint, $9::bigint) AS g(i)",
    " CROSS JOIN LATERAL (SELECT hashint8extended(g.i, 42) & 9223372036854775807 AS h) r",
    " CROSS JOIN LATERAL (SELECT (CASE WHEN h % 100 < 10 THEN 0 WHEN h % 100 < 15 THEN 1",
    "  WHEN h % 100 < 75 THEN 2 WHEN h % 100 < 85 THEN 3 WHEN h % 100 < 90 THEN 4",
    "  WHEN h % 100 < 95 THEN 5 ELSE 6 END)::smallint AS status) st",
    " CROSS JOIN LATERAL (SELECT to_timestamp($10::float8 + g.i * $11::float8 + (h % 60)) AS created) t"
);

/// Drops the indexes of `records` that back no constraint; returns their definitions.
async fn drop_secondary_indexes(
    conn: &mut flowline_db::PgConnection,
) -> anyhow::Result<Vec<String>> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT format('DROP INDEX %I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.indrelid = 'records'::regclass \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
         ORDER BY c.relname",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut definitions = Vec::new();
    for (drop, definition) in indexes {
        sqlx::raw_sql(AssertSqlSafe(drop))
            .execute(&mut *conn)
            .await?;
        definitions.push(definition);
    }
    Ok(definitions)
}

/// The kinds of search, with values taken from the loaded data.
async fn search_kinds(admin: &PgPool, stack: &Stack) -> anyhow::Result<Vec<SearchKind>> {
    let tenant = stack.tenant;
    let points: Vec<(String, String)> = sqlx::query_as(
        "SELECT uuid::text, coalesce(data #>> '{client,email}', '') FROM records \
         WHERE org_id = $1 AND environment_id = $2 ORDER BY hashint8(record_id) LIMIT $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(POINT_LOOKUPS)
    .fetch_all(admin)
    .await?;
    anyhow::ensure!(!points.is_empty(), "no records to search for");
    let (week_from, week_to, month_from, month_to): (String, String, String, String) =
        sqlx::query_as(
            "SELECT to_char(d - interval '7 days', 'YYYY-MM-DD HH24:MI:SS'), \
                    to_char(d, 'YYYY-MM-DD HH24:MI:SS'), \
                    to_char(d - interval '30 days', 'YYYY-MM-DD HH24:MI:SS'), \
                    to_char(d, 'YYYY-MM-DD HH24:MI:SS') \
             FROM (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') - interval '120 days' AS d) t",
        )
        .fetch_one(admin)
        .await?;
    let one = |headers: Vec<(&'static str, String)>| vec![headers];
    let s = |text: &str| text.to_owned();
    Ok(vec![
        SearchKind {
            name: "newest (no filter)",
            requests: one(vec![]),
        },
        SearchKind {
            name: "by flow",
            requests: one(vec![("X-flow", s("orders"))]),
        },
        SearchKind {
            name: "by status 3",
            requests: one(vec![("X-datarecord-status", s("3"))]),
        },
        SearchKind {
            name: "by uuid",
            requests: points
                .iter()
                .map(|(uuid, _)| vec![("X-uuid", uuid.clone())])
                .collect(),
        },
        SearchKind {
            name: "by data field client.email",
            requests: points
                .iter()
                .map(|(_, email)| {
                    vec![
                        ("X-datafield-name", s("client.email")),
                        ("X-datafield-value", email.clone()),
                    ]
                })
                .collect(),
        },
        SearchKind {
            name: "by data field client.city",
            requests: one(vec![
                ("X-datafield-name", s("client.city")),
                ("X-datafield-value", s("Utrecht")),
            ]),
        },
        SearchKind {
            name: "by date_created, 1 week",
            requests: one(vec![
                ("X-date-type", s("date_created")),
                ("X-date-from", week_from),
                ("X-date-to", week_to),
            ]),
        },
        SearchKind {
            name: "by flow + status + 30 days",
            requests: one(vec![
                ("X-flow", s("orders")),
                ("X-datarecord-status", s("3")),
                ("X-date-type", s("date_created")),
                ("X-date-from", month_from),
                ("X-date-to", month_to),
            ]),
        },
    ])
}

/// Times the kind through HTTP; returns the latencies and the first answer's `total`.
async fn time_http(
    stack: &Stack,
    kind: &SearchKind,
    runs: usize,
) -> anyhow::Result<(Latency, String)> {
    let request = |index: usize| {
        let mut builder = stack.request(Method::GET, "/v1/record/search");
        if let Some(headers) = kind.requests.get(index % kind.requests.len().max(1)) {
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
        }
        builder
    };
    let first = request(0).send().await.context("GET /v1/record/search")?;
    let first = expect_status(first, StatusCode::OK, "GET /v1/record/search").await?;
    let total = first["resource"]["total"].to_string();
    let latency = load::time_sequential(WARMUP_RUNS, runs, BUDGET_PER_KIND, async |index| {
        let response = request(index)
            .send()
            .await
            .context("GET /v1/record/search")?;
        expect_status(response, StatusCode::OK, "GET /v1/record/search").await?;
        Ok(())
    })
    .await?;
    Ok((latency, total))
}

/// Times the kind as a direct call of the records service, for when the route is missing.
async fn time_service(
    stack: &Stack,
    kind: &SearchKind,
    runs: usize,
) -> anyhow::Result<(Latency, String)> {
    let queries = kind
        .requests
        .iter()
        .map(|headers| parse_query(headers))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut conn = stack.admin.acquire().await?;
    let first = match queries.first() {
        Some(query) => flowline_records::search(&mut conn, stack.tenant, query)
            .await
            .map_err(|error| anyhow::anyhow!("search: {}", error.public_message()))?
            .total
            .to_string(),
        None => String::new(),
    };
    let latency = load::time_sequential(WARMUP_RUNS, runs, BUDGET_PER_KIND, async |index| {
        if let Some(query) = queries.get(index % queries.len().max(1)) {
            flowline_records::search(&mut conn, stack.tenant, query)
                .await
                .map_err(|error| anyhow::anyhow!("search: {}", error.public_message()))?;
        }
        Ok(())
    })
    .await?;
    Ok((latency, first))
}

/// The kind's first request as the records service reads it.
fn parse_query(headers: &[(&'static str, String)]) -> anyhow::Result<SearchQuery> {
    let mut raw = RawSearch::default();
    for (name, value) in headers {
        let param = Some((*name, value.as_str()));
        match name.to_ascii_lowercase().as_str() {
            "x-limit" => raw.limit = param,
            "x-offset" => raw.offset = param,
            "x-uuid" => raw.uuid = param,
            "x-flow" => raw.flow = param,
            "x-datarecord-status" => raw.status = param,
            "x-datafield-name" => raw.datafield_name = param,
            "x-datafield-value" => raw.datafield_value = param,
            "x-date-type" => raw.date_type = param,
            "x-date-from" => raw.date_from = param,
            "x-date-to" => raw.date_to = param,
            other => anyhow::bail!("the bench sends an unknown search header {other}"),
        }
    }
    SearchQuery::parse(&raw).map_err(|error| anyhow::anyhow!("{}", error.public_message()))
}

/// The plans of the kind's first request, with their actual run times.
async fn explain(stack: &Stack, kind: &SearchKind) -> anyhow::Result<String> {
    let Some(headers) = kind.requests.first() else {
        return Ok(String::new());
    };
    let query = parse_query(headers)?;
    let mut conn = stack.admin.acquire().await?;
    let plans = flowline_records::explain_search(&mut conn, stack.tenant, &query, true)
        .await
        .map_err(|error| anyhow::anyhow!("explain_search: {}", error.public_message()))?;
    Ok(format!("{}\n{}", plans.page, plans.total))
}
