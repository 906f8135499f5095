//! `flowline-bench`: measures what Flowline costs on top of PostgreSQL.
//!
//! `ingest` starts an embedded PostgreSQL cluster of its own and the Flowline server in this
//! process, then measures, one after the other at the same concurrency: raw inserts of the
//! sample records (the ceiling), `POST /v1/record` with the same records, and the search over a
//! large table; `keystore` measures keystore reads and writes through the API. It changes
//! nothing in the server it measures: the server runs its production code with its default
//! settings, apart from an unthrottled application. It never connects to a database it did not
//! start.

mod execute;
mod ingest;
mod keystore;
mod load;
mod observe;
mod sample;
mod search;
mod stack;
mod tables;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ingest::{Figure, IngestPlan};
use load::LoadShape;
use sample::Samples;
use search::SearchPlan;
use stack::{SERVER_THREAD, Stack, StackSettings};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The server's allocator, so that the server measured here is the one `flowline` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The name of the load generator's runtime threads.
const CLIENT_THREAD: &str = "bench-client";

#[derive(Debug, Parser)]
#[command(
    name = "flowline-bench",
    about = "Measures Flowline against raw PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingestion through the API against raw inserts, then search latency over a large table.
    Ingest(IngestArgs),
    /// Keystore GET and PUT requests per second through the API.
    Keystore(keystore::KeystoreArgs),
    /// Table search latency over a large table, on indexed and unindexed columns.
    Tables(tables::TablesArgs),
    /// The scheduler: records executed per second, light-load latency, and the raw ceiling.
    Execute(execute::ExecuteArgs),
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// Concurrent workers (and connections) in every ingestion figure.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds measured per figure.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of uncounted load before each figure's measurement.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// The figures to measure, in this order (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    figures: Vec<Figure>,
    /// Connections in the server's pool (default: the concurrency).
    #[arg(long)]
    server_pool: Option<u32>,
    /// The server's group-commit flushers (default: the server's default).
    #[arg(long)]
    ingest_flushers: Option<usize>,
    /// Records to search through; the ingestion's records count towards it.
    #[arg(long, default_value_t = 1_000_000)]
    search_records: i64,
    /// Timed searches per kind.
    #[arg(long, default_value_t = 200)]
    search_runs: usize,
    /// Skip the search part.
    #[arg(long)]
    skip_search: bool,
    /// Skip the ingestion part.
    #[arg(long)]
    skip_ingest: bool,
    /// Where to put the cluster: an empty directory on the disk to measure (default: a new
    /// temporary directory, removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An extra PostgreSQL setting, NAME=VALUE (repeatable), e.g. --pg shared_buffers=1GB.
    #[arg(long = "pg", value_parser = parse_setting)]
    pg_settings: Vec<(String, String)>,
    /// Log the server at this tracing filter (e.g. info) into <data dir>/server.log.
    #[arg(long)]
    server_log: Option<String>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("'{text}' is not NAME=VALUE"))
}

fn main() -> anyhow::Result<()> {
    let Cli { command } = Cli::parse();
    match command {
        Command::Ingest(args) => ingest_command(args),
        Command::Keystore(args) => keystore::command(args),
        Command::Tables(args) => tables::command(args),
        Command::Execute(args) => execute::command(args),
    }
}

/// Two runtimes, so that `/proc` tells the server's CPU time from the load generator's.
fn ingest_command(args: IngestArgs) -> anyhow::Result<()> {
    on_two_runtimes(|server_runtime| run(args, server_runtime))
}

/// Runs `measure` on the load generator's runtime, handing it the server's runtime: the
/// server and the load generator keep separate threads, so that the CPU each takes can be told
/// apart.
pub(crate) fn on_two_runtimes<M, F>(measure: M) -> anyhow::Result<()>
where
    M: FnOnce(tokio::runtime::Handle) -> F,
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;
    let result = client_runtime.block_on(measure(server_runtime.handle().clone()));
    client_runtime.shutdown_timeout(Duration::from_secs(5));
    server_runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn run(args: IngestArgs, server_runtime: tokio::runtime::Handle) -> anyhow::Result<()> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
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
        ingest_flushers: args
            .ingest_flushers
            .unwrap_or(flowline_gateway::IngestSettings::default().flushers),
        max_connections: (concurrency + server_pool + 20).max(100),
        server_log: args.server_log.clone(),
    };
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("starting PostgreSQL and Flowline…");
    let stack = Stack::start(&settings, &server_runtime).await?;
    let result = measure(&stack, &args, load_average.trim()).await;
    let stopped = stack.stop().await;
    result.and(stopped)
}

async fn measure(stack: &Stack, args: &IngestArgs, load_average: &str) -> anyhow::Result<()> {
    let samples = Samples::generate();
    let plan = IngestPlan {
        shape: LoadShape {
            concurrency: args.concurrency,
            warmup: Duration::from_secs_f64(args.warmup),
            measure: Duration::from_secs_f64(args.seconds),
        },
        figures: if args.figures.is_empty() {
            Figure::ALL.to_vec()
        } else {
            args.figures.clone()
        },
    };
    println!("{}", facts(stack, args, &samples, load_average).await?);
    let flow = stack.publish_flow(ingest::FLOW).await?;
    if !args.skip_ingest {
        let results = ingest::run(stack, &flow, &plan, &samples).await?;
        println!("{}", ingest::report(&plan, &results));
    }
    if args.skip_search {
        println!("Search: skipped (--skip-search)");
        return Ok(());
    }
    let search_plan = SearchPlan {
        records: args.search_records,
        runs: args.search_runs,
    };
    println!(
        "{}",
        search::run(stack, &search_plan, &samples, flow).await?
    );
    Ok(())
}

/// The machine, the cluster's settings and the run's settings.
async fn facts(
    stack: &Stack,
    args: &IngestArgs,
    samples: &Samples,
    load_average: &str,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map_or_else(String::new, |kb| {
            format!(", {:.1} GiB RAM", kb as f64 / 1_048_576.0)
        });
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&stack.admin)
        .await?;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = ANY($1) \
         ORDER BY name",
    )
    .bind(
        [
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "full_page_writes",
            "shared_buffers",
            "max_wal_size",
            "checkpoint_timeout",
            "max_connections",
        ]
        .as_slice(),
    )
    .fetch_all(&stack.admin)
    .await?;
    let _ = writeln!(out, "flowline-bench ingest");
    let _ = writeln!(
        out,
        "machine: {cores} cores ({model}){memory}; load average at start: {load_average}"
    );
    let _ = writeln!(out, "postgres: {version}");
    let _ = writeln!(
        out,
        "postgres settings: {}",
        settings
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "data dir: {}", stack.data_dir().display());
    let _ = writeln!(
        out,
        "run: concurrency {}, {} s per figure after {} s warm-up, server pool {} connections, \
         {} ingest flushers, server log {}, search over {} records",
        args.concurrency,
        args.seconds,
        args.warmup,
        stack.server_pool(),
        stack.ingest_flushers(),
        args.server_log.as_deref().unwrap_or("off"),
        args.search_records
    );
    let _ = writeln!(
        out,
        "records: {} variants of a client record, {} bytes of JSON on average; batches of {}",
        samples.texts.len(),
        samples.average_bytes(),
        ingest::BATCH
    );
    Ok(out)
}
