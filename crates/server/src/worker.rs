//! The scheduler's workers: inside `flowline serve`, or alone as `flowline worker`.

use crate::config::{SchedulerSettings, WorkerSettings};
use crate::database;
use anyhow::Context;
use flowline_db::PgPool;
use flowline_scheduler::{HttpRoots, Scheduler, SchedulerConfig};
use std::time::Duration;

/// The default number of workers: one per CPU.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The step log's retention: `days` days, or forever when 0.
fn retention(days: u64) -> Option<Duration> {
    (days > 0).then(|| Duration::from_secs(days.saturating_mul(24 * 3600)))
}

/// The scheduler's configuration for `workers` runners.
fn config(workers: usize, settings: &SchedulerSettings) -> anyhow::Result<SchedulerConfig> {
    let mut config = SchedulerConfig::new(workers);
    config.batch = settings.batch.max(1);
    config.http_allow = settings.http_allow.clone();
    config.step_log_retention = retention(settings.step_log_retention_days);
    if let Some(path) = &settings.http_ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading FLOWLINE_HTTP_CA_FILE {}", path.display()))?;
        config.http_roots = HttpRoots::from_pem(&pem).with_context(|| {
            format!(
                "FLOWLINE_HTTP_CA_FILE {} holds no valid PEM certificate",
                path.display()
            )
        })?;
    }
    Ok(config)
}

/// The scheduler of `flowline serve`, with the configured number of workers (the CPU count
/// when unset); none when it is 0. Read before the server starts, so a bad setting stops it.
pub fn serve_config(settings: &SchedulerSettings) -> anyhow::Result<Option<SchedulerConfig>> {
    let workers = settings.workers.unwrap_or_else(default_workers);
    if workers == 0 {
        tracing::info!("the scheduler is off (0 workers)");
        return Ok(None);
    }
    config(workers, settings).map(Some)
}

/// The environments' background jobs (creation, upgrades, optimization, deletion) and the
/// periodic storage measurement; every `serve` and `worker` process runs them.
pub fn start_environment_jobs(
    pool: &PgPool,
    settings: &SchedulerSettings,
) -> flowline_environments::JobRunner {
    let job_settings = flowline_environments::JobSettings {
        storage_interval: Duration::from_secs(settings.storage_interval_secs.max(1)),
        step_log_retention: retention(settings.step_log_retention_days),
        ..flowline_environments::JobSettings::default()
    };
    flowline_environments::JobRunner::start(pool.clone(), job_settings)
}

/// `flowline worker`: the scheduler alone, until SIGINT or SIGTERM; then it finishes the
/// records it runs and gives back its leases.
pub async fn run(settings: WorkerSettings) -> anyhow::Result<()> {
    let database = database::open_shared(&settings.database).await?;
    let workers = settings
        .scheduler
        .workers
        .unwrap_or_else(default_workers)
        .max(1);
    println!(
        "Flowline worker: {workers} workers on {}",
        database.description
    );
    let config = config(workers, &settings.scheduler)?;
    let scheduler = Scheduler::start(database.pool.clone(), config);
    let environment_jobs = start_environment_jobs(&database.pool, &settings.scheduler);
    crate::serve::shutdown_signal().await;
    environment_jobs.shutdown().await;
    scheduler.shutdown().await;
    database.close().await
}
