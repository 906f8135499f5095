//! The worker loop: claim due records for the free runners (up to a batch each), run each
//! runner's batch in one transaction on its own task, and sleep until a notification
//! (`flowline_queue`), a runner frees up, the next `next_run_at`, or the poll interval —
//! whichever comes first. The calls of `http` steps are made after their batch committed,
//! outside the runner, at most `workers × batch` at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flowline_db::PgPool;
use ipnet::IpNet;
use sqlx::postgres::PgListener;
use tokio::sync::{Mutex, Notify, Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::claim::{self, Claimed};
use crate::error::SchedulerError;
use crate::http::{HttpRoots, Outbound};
use crate::run::{self, Context, Definitions};

/// How soon a worker looks again when due records were all held back (a flow's concurrency).
const BLOCKED_RETRY: Duration = Duration::from_millis(50);

/// The channel the queue's trigger notifies.
pub const CHANNEL: &str = "flowline_queue";

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How many batches run at once in this process, each on its own connection (at least 1).
    pub workers: usize,
    /// The most records one batch runs in one transaction (at least 1).
    pub batch: usize,
    /// How long a claim holds a record before another worker may take it over.
    pub lease: Duration,
    /// The longest sleep without a notification: the fallback poll.
    pub poll: Duration,
    /// Internal addresses (loopback, private, link-local) that `http` steps may call anyway.
    pub http_allow: Vec<IpNet>,
    /// Certificate authorities `https` calls trust besides the platform's.
    pub http_roots: HttpRoots,
    /// How long step-log entries are kept (pruned at start and every [`PRUNE_EVERY`]);
    /// `None` keeps them forever.
    pub step_log_retention: Option<Duration>,
}

/// Records per batch unless configured: enough to share a commit widely, few enough that a
/// batch that must run again carefully costs little.
pub const DEFAULT_BATCH: usize = 64;

/// How often the step log is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

impl SchedulerConfig {
    /// `workers` runners of batches of up to 64 records, a 60 s lease and a 5 s fallback poll.
    pub fn new(workers: usize) -> SchedulerConfig {
        SchedulerConfig {
            workers: workers.max(1),
            batch: DEFAULT_BATCH,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            http_allow: Vec::new(),
            http_roots: HttpRoots::default(),
            step_log_retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// A running scheduler; [`Scheduler::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct Scheduler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts the scheduler's loop on `pool` in the background.
    pub fn start(pool: PgPool, config: SchedulerConfig) -> Scheduler {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            if let Err(error) = work(pool, config, stopped).await {
                tracing::error!(%error, "the scheduler stopped");
            }
        });
        Scheduler { stop, task }
    }

    /// Stops claiming, lets the records being run finish, and gives back any lease left.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the scheduler's task failed");
        }
    }
}

async fn work(
    pool: PgPool,
    config: SchedulerConfig,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), SchedulerError> {
    let owner = Uuid::new_v4();
    let batch = config.batch.max(1);
    let runners = Arc::new(Semaphore::new(config.workers));
    let calls = Arc::new(Semaphore::new(config.workers * batch));
    let freed = Arc::new(Notify::new());
    let definitions: Definitions = Arc::new(Mutex::new(HashMap::new()));
    let context = Context {
        pool: pool.clone(),
        definitions,
        outbound: Outbound::new(config.http_allow.clone(), config.http_roots.clone())?,
        lease: config.lease,
    };
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    let mut running = JoinSet::new();
    let pruner = config.step_log_retention.map(|retention| {
        tokio::spawn(prune_periodically(pool.clone(), retention, stopped.clone()))
    });
    let lease_secs = config.lease.as_secs_f64();
    tracing::info!(worker.id = %owner, workers = config.workers, batch, "scheduler started");
    while !*stopped.borrow() {
        while running.try_join_next().is_some() {}
        let free = runners.available_permits();
        let mut claimed_all = false;
        let mut claimed_none = false;
        if free > 0 {
            match claim::claim(&pool, owner, free * batch, lease_secs).await {
                Ok(claimed) => {
                    let rescues = claimed.iter().filter(|record| record.attempts > 1).count();
                    crate::metrics::claimed(claimed.len(), rescues);
                    claimed_all = claimed.len() == free * batch;
                    claimed_none = claimed.is_empty();
                    for share in shares(claimed, free) {
                        let Ok(runner) = runners.clone().acquire_owned().await else {
                            break;
                        };
                        let (context, freed, calls) =
                            (context.clone(), freed.clone(), calls.clone());
                        running.spawn(async move {
                            let reached = run::run_claimed(&context, share).await;
                            drop(runner);
                            freed.notify_one();
                            make_calls(&context, &calls, reached).await;
                        });
                    }
                }
                Err(error) => tracing::warn!(%error, "claiming records failed"),
            }
        }
        if claimed_all && runners.available_permits() > 0 {
            continue;
        }
        let sleep = if free == 0 || claimed_all {
            config.poll
        } else if claimed_none {
            // Due records that could not be claimed wait for a flow's concurrency (or another
            // worker took them): look again soon, without spinning.
            until_next_due(&pool, config.poll)
                .await
                .max(BLOCKED_RETRY.min(config.poll))
        } else {
            until_next_due(&pool, config.poll).await
        };
        tokio::select! {
            notification = listener.recv() => {
                if let Err(error) = notification {
                    tracing::warn!(%error, "queue notifications interrupted");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            () = freed.notified(), if free == 0 || claimed_all => {}
            () = tokio::time::sleep(sleep) => {}
            _ = stopped.changed() => {}
        }
    }
    tracing::info!(
        in_flight = running.len(),
        "scheduler stopping: finishing running records"
    );
    while running.join_next().await.is_some() {}
    if let Some(pruner) = pruner {
        let _ = pruner.await;
    }
    match claim::release_all(&pool, owner).await {
        Ok(released) if released > 0 => tracing::info!(released, "leases given back"),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "giving back leases failed"),
    }
    Ok(())
}

/// Splits a claim evenly across `runners` batches: the more runners share the work, the
/// sooner each record is done.
fn shares(claimed: Vec<Claimed>, runners: usize) -> Vec<Vec<Claimed>> {
    if claimed.is_empty() {
        return Vec::new();
    }
    let size = claimed.len().div_ceil(runners.max(1));
    let mut claimed = claimed.into_iter();
    let mut shares = Vec::new();
    loop {
        let share: Vec<Claimed> = claimed.by_ref().take(size).collect();
        if share.is_empty() {
            return shares;
        }
        shares.push(share);
    }
}

/// Makes the calls a batch reached, each on its own task, and runs their records on.
async fn make_calls(context: &Context, calls: &Arc<Semaphore>, reached: Vec<run::PendingCall>) {
    let mut making = JoinSet::new();
    for pending in reached {
        let Ok(permit) = calls.clone().acquire_owned().await else {
            break;
        };
        let context = context.clone();
        making.spawn(async move {
            run::call_and_continue(&context, pending).await;
            drop(permit);
        });
    }
    while making.join_next().await.is_some() {}
}

/// Prunes the step log now and every [`PRUNE_EVERY`] until the scheduler stops.
async fn prune_periodically(pool: PgPool, retention: Duration, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        match crate::prune::prune_step_log(&pool, retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old step-log entries pruned"),
            Err(error) => tracing::warn!(%error, "pruning the step log failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// How long to sleep: until the next record falls due, at most `poll`.
async fn until_next_due(pool: &PgPool, poll: Duration) -> Duration {
    match claim::next_due(pool).await {
        Ok(Some(at)) => (at - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(5), poll),
        Ok(None) => poll,
        Err(error) => {
            tracing::warn!(%error, "reading the next execution time failed");
            poll
        }
    }
}
