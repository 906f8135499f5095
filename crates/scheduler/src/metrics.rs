//! The scheduler's counters and step-latency histogram, per process, rendered in the Prometheus
//! text format by the gateway's `GET /metrics` (with the queue's depth, read at scrape time).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the step-latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

struct Metrics {
    claimed: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
    rescues: AtomicU64,
    steps: Histogram,
}

static METRICS: Metrics = Metrics {
    claimed: AtomicU64::new(0),
    finished: AtomicU64::new(0),
    failed: AtomicU64::new(0),
    rescues: AtomicU64::new(0),
    steps: Histogram {
        buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
        count: AtomicU64::new(0),
        sum_micros: AtomicU64::new(0),
    },
};

pub(crate) fn claimed(count: usize, rescues: usize) {
    METRICS.claimed.fetch_add(count as u64, Ordering::Relaxed);
    METRICS.rescues.fetch_add(rescues as u64, Ordering::Relaxed);
}

/// A record's flow ended (committed): finished, or finished with errors.
pub(crate) fn ended(with_errors: bool) {
    let counter = if with_errors {
        &METRICS.failed
    } else {
        &METRICS.finished
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One step execution took `seconds`.
pub(crate) fn step_took(seconds: f64) {
    let histogram = &METRICS.steps;
    if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
        histogram.buckets[index].fetch_add(1, Ordering::Relaxed);
    }
    histogram.count.fetch_add(1, Ordering::Relaxed);
    let micros = (seconds.max(0.0) * 1e6) as u64;
    histogram.sum_micros.fetch_add(micros, Ordering::Relaxed);
}

/// The queue's state at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepth {
    /// Queue entries (records waiting, due or not, or running).
    pub queued: i64,
    /// Entries due now and not leased.
    pub due: i64,
}

/// Reads the queue's depth.
pub async fn queue_depth(pool: &flowline_db::PgPool) -> Result<QueueDepth, sqlx::Error> {
    let (queued, due): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE NOT paused AND next_run_at <= now() \
         AND (lease_until IS NULL OR lease_until < now())) FROM record_queue",
    )
    .fetch_one(pool)
    .await?;
    Ok(QueueDepth { queued, due })
}

/// This process's metrics and `depth`, in the Prometheus text exposition format (0.0.4).
pub fn render_prometheus(depth: QueueDepth) -> String {
    let mut out = String::new();
    let counters = [
        (
            "flowline_scheduler_records_claimed_total",
            "Records claimed by this process's workers.",
            &METRICS.claimed,
        ),
        (
            "flowline_scheduler_records_finished_total",
            "Records whose flow ended with status 2 (finished).",
            &METRICS.finished,
        ),
        (
            "flowline_scheduler_records_failed_total",
            "Records whose flow ended with status 3 (finished with errors).",
            &METRICS.failed,
        ),
        (
            "flowline_scheduler_lease_rescues_total",
            "Records claimed again after their lease expired without the run finishing.",
            &METRICS.rescues,
        ),
    ];
    for (name, help, counter) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
    }
    for (name, help, value) in [
        (
            "flowline_queue_depth",
            "Records in the queue (waiting, scheduled or running).",
            depth.queued,
        ),
        (
            "flowline_queue_due",
            "Queued records due now and not leased.",
            depth.due,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let name = "flowline_scheduler_step_duration_seconds";
    let histogram = &METRICS.steps;
    let _ = writeln!(
        out,
        "# HELP {name} Time each step execution took.\n# TYPE {name} histogram"
    );
    let mut cumulative = 0;
    for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
        cumulative += bucket.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let count = histogram.count.load(Ordering::Relaxed);
    let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_the_text_well_formed() {
        step_took(0.002);
        step_took(0.2);
        let text = render_prometheus(QueueDepth { queued: 3, due: 1 });
        assert!(text.contains("flowline_queue_depth 3\n"), "{text}");
        assert!(text.contains("# TYPE flowline_scheduler_step_duration_seconds histogram"));
        let bucket = |le: &str| -> u64 {
            let prefix = format!("flowline_scheduler_step_duration_seconds_bucket{{le=\"{le}\"}} ");
            text.lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .and_then(|value| value.parse().ok())
                .unwrap_or(u64::MAX)
        };
        assert!(bucket("0.005") >= 1);
        assert!(bucket("0.5") > bucket("0.005"));
        assert!(bucket("+Inf") >= bucket("0.5"));
    }
}
