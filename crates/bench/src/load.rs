//! A closed-loop load: `concurrency` workers each run one operation after another, first for a
//! warm-up whose operations are not counted, then for the measured window. An operation counts
//! when it completes inside the window; its latency is kept for the percentiles.

use crate::observe::{CpuShare, CpuSnapshot, WaitProfile, sample_waits};
use anyhow::{Context, bail};
use flowline_db::PgConnectOptions;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const WARMING_UP: u8 = 0;
const MEASURING: u8 = 1;
const STOPPING: u8 = 2;

/// How long and how hard to push.
#[derive(Debug, Clone, Copy)]
pub struct LoadShape {
    pub concurrency: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// Where to look while measuring.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The cluster's data dir (for its postmaster's pid).
    pub data_dir: PathBuf,
    /// A connection for sampling `pg_stat_activity`.
    pub monitor: PgConnectOptions,
    /// The `application_name` of the connections that do the measured work.
    pub connections: &'static str,
}

/// What one measured window gave.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Operations completed in the window.
    pub operations: u64,
    pub elapsed: Duration,
    pub latency: Latency,
    pub cpu: CpuShare,
    pub waits: WaitProfile,
}

impl Measured {
    pub fn operations_per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Runs `operation(worker, iteration)` in `shape.concurrency` workers; the first failing
/// operation stops the load and is the error.
pub async fn run<F, Fut>(
    shape: LoadShape,
    observation: &Observation,
    operation: F,
) -> anyhow::Result<Measured>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let operation = Arc::new(operation);
    let stage = Arc::new(AtomicU8::new(WARMING_UP));
    let mut workers = JoinSet::new();
    for worker in 0..shape.concurrency {
        let operation = operation.clone();
        let stage = stage.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut iteration = 0;
            while stage.load(Ordering::Relaxed) != STOPPING {
                let started = Instant::now();
                let done = operation(worker, iteration).await;
                if let Err(error) = done {
                    stage.store(STOPPING, Ordering::Relaxed);
                    return Err(error);
                }
                iteration += 1;
                if stage.load(Ordering::Relaxed) == MEASURING {
                    latencies.push(micros(started.elapsed()));
                }
            }
            Ok(latencies)
        });
    }

    // A worker ends before the stop only by failing: stop waiting then.
    if let Some(failed) = wait_or_fail(&mut workers, shape.warmup).await {
        stage.store(STOPPING, Ordering::Relaxed);
        return Err(failed);
    }
    let before = CpuSnapshot::take(&observation.data_dir);
    let started = Instant::now();
    stage.store(MEASURING, Ordering::Relaxed);
    let sampling_stopped = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_waits(
        observation.monitor.clone(),
        observation.connections,
        sampling_stopped.clone(),
    ));
    let failed = wait_or_fail(&mut workers, shape.measure).await;
    stage.store(STOPPING, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let cpu = CpuSnapshot::take(&observation.data_dir).share_since(&before);
    sampling_stopped.store(true, Ordering::Relaxed);
    if let Some(error) = failed {
        return Err(error);
    }
    let mut latencies = Vec::new();
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined.context("a load worker panicked")??);
    }
    let waits = sampler.await.unwrap_or_default();
    Ok(Measured {
        operations: latencies.len() as u64,
        elapsed,
        latency: Latency::from_micros(latencies),
        cpu,
        waits,
    })
}

/// Waits `duration`, or until a worker ends, which before the stop means it failed.
async fn wait_or_fail(
    workers: &mut JoinSet<anyhow::Result<Vec<u32>>>,
    duration: Duration,
) -> Option<anyhow::Error> {
    tokio::select! {
        () = tokio::time::sleep(duration) => None,
        ended = workers.join_next() => Some(match ended {
            Some(Ok(Err(error))) => error,
            Some(Err(join_error)) => anyhow::Error::new(join_error).context("a load worker"),
            Some(Ok(Ok(_))) | None => anyhow::anyhow!("a load worker stopped early"),
        }),
    }
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// Latency percentiles of a set of operations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// How many operations were timed.
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    pub fn from_micros(mut samples: Vec<u32>) -> Latency {
        samples.sort_unstable();
        let at = |quantile: f64| {
            let last = samples.len().saturating_sub(1);
            let index = ((last as f64) * quantile).round() as usize;
            Duration::from_micros(u64::from(samples.get(index).copied().unwrap_or(0)))
        };
        Latency {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Times up to `runs` sequential calls of `operation` after `warmup` uncounted ones, stopping
/// early (after at least [`MIN_TIMED_RUNS`]) once `budget` is spent, so that a slow kind of
/// operation cannot hold a run up for many minutes.
pub async fn time_sequential<F>(
    warmup: usize,
    runs: usize,
    budget: Duration,
    mut operation: F,
) -> anyhow::Result<Latency>
where
    F: AsyncFnMut(usize) -> anyhow::Result<()>,
{
    if runs == 0 {
        bail!("nothing to time: zero runs");
    }
    let started = Instant::now();
    for run in 0..warmup {
        operation(run).await?;
        if started.elapsed() > budget / 4 {
            break;
        }
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let begun = Instant::now();
        operation(warmup + run).await?;
        samples.push(micros(begun.elapsed()));
        if samples.len() >= MIN_TIMED_RUNS && started.elapsed() > budget {
            break;
        }
    }
    Ok(Latency::from_micros(samples))
}

/// The fewest timed runs [`time_sequential`] makes, whatever its budget.
pub const MIN_TIMED_RUNS: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_the_sorted_samples() {
        let latency = Latency::from_micros((1..=100).rev().collect());
        assert_eq!(latency.p50, Duration::from_micros(51));
        assert_eq!(latency.p99, Duration::from_micros(99));
        assert_eq!(latency.max, Duration::from_micros(100));
        assert_eq!(Latency::from_micros(Vec::new()).p50, Duration::ZERO);
    }
}
