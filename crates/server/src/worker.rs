//! The scheduler's workers: inside `flowline serve`, or alone as `flowline worker`.

use crate::config::WorkerSettings;
use crate::database;
use flowline_db::PgPool;
use flowline_scheduler::{Scheduler, SchedulerConfig};
use std::time::Duration;

/// The default number of workers: one per CPU.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The step log's retention: `days` days, or forever when 0.
pub fn retention(days: u64) -> Option<Duration> {
    (days > 0).then(|| Duration::from_secs(days.saturating_mul(24 * 3600)))
}

/// Starts `workers` workers (the CPU count when unset); none when it is 0. `http_allow`: the
/// internal networks `http` steps may call; `retention`: how long the step log is kept.
pub fn start(
    pool: &PgPool,
    workers: Option<usize>,
    http_allow: Vec<ipnet::IpNet>,
    retention: Option<Duration>,
) -> Option<Scheduler> {
    let workers = workers.unwrap_or_else(default_workers);
    if workers == 0 {
        tracing::info!("the scheduler is off (0 workers)");
        return None;
    }
    let mut config = SchedulerConfig::new(workers);
    config.http_allow = http_allow;
    config.step_log_retention = retention;
    Some(Scheduler::start(pool.clone(), config))
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
    let mut config = SchedulerConfig::new(workers);
    config.http_allow = settings.scheduler.http_allow;
    config.step_log_retention = retention(settings.scheduler.step_log_retention_days);
    let scheduler = Scheduler::start(database.pool.clone(), config);
    crate::serve::shutdown_signal().await;
    scheduler.shutdown().await;
    database.close().await
}
