//! Where the time goes during a measurement: the machine's CPU split between the load generator,
//! the in-process Flowline server, PostgreSQL and everything else (read from `/proc`), and what
//! the measured connections were doing (sampled from `pg_stat_activity`).

use crate::stack::SERVER_THREAD;
use flowline_db::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often `pg_stat_activity` is sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// CPU time counters at one instant, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSnapshot {
    total: u64,
    idle: u64,
    process: u64,
    server: u64,
    postgres: u64,
}

/// Shares of the machine's CPU capacity over an interval (0.0–1.0 each; they add up to 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuShare {
    pub client: f64,
    pub server: f64,
    pub postgres: f64,
    pub other: f64,
    pub idle: f64,
}

impl CpuSnapshot {
    /// Reads the counters; on a system without `/proc` every counter is zero.
    pub fn take(data_dir: &Path) -> CpuSnapshot {
        let (total, idle) = machine_ticks().unwrap_or_default();
        let (process, server) = own_ticks().unwrap_or_default();
        CpuSnapshot {
            total,
            idle,
            process,
            server,
            postgres: postgres_ticks(data_dir).unwrap_or_default(),
        }
    }

    pub fn share_since(&self, before: &CpuSnapshot) -> CpuShare {
        let total = self.total.saturating_sub(before.total);
        if total == 0 {
            return CpuShare::default();
        }
        let idle = self.idle.saturating_sub(before.idle);
        let process = self.process.saturating_sub(before.process);
        let server = self.server.saturating_sub(before.server).min(process);
        let client = process - server;
        let postgres = self.postgres.saturating_sub(before.postgres);
        let busy = total.saturating_sub(idle);
        let other = busy.saturating_sub(process + postgres);
        let share = |ticks: u64| ticks as f64 / total as f64;
        CpuShare {
            client: share(client),
            server: share(server),
            postgres: share(postgres),
            other: share(other),
            idle: share(idle),
        }
    }
}

/// All CPUs' ticks, and the idle ones among them (idle + iowait), from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|field| field.parse().ok())
        .collect();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((fields.iter().sum(), idle))
}

/// This process's user + system ticks, and those of its server threads.
fn own_ticks() -> Option<(u64, u64)> {
    let (_, process) = stat_ticks(Path::new("/proc/self/stat"))?;
    let mut server = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some((name, ticks)) = stat_ticks(&task.path().join("stat"))
            && name == SERVER_THREAD
        {
            server += ticks;
        }
    }
    Some((process, server))
}

/// The postmaster's ticks and those of its children (backends, WAL writer, checkpointer, …).
fn postgres_ticks(data_dir: &Path) -> Option<u64> {
    let pid_file = std::fs::read_to_string(data_dir.join("pg").join("postmaster.pid")).ok()?;
    let postmaster: u32 = pid_file.lines().next()?.trim().parse().ok()?;
    let mut ticks = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path: PathBuf = entry.path().join("stat");
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some((parent, process_ticks)) = parent_and_ticks(&stat)
            && (pid == postmaster || parent == postmaster)
        {
            ticks += process_ticks;
        }
    }
    Some(ticks)
}

/// The name and user + system ticks in a `/proc/…/stat` file.
fn stat_ticks(path: &Path) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let name = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?.to_owned();
    let (_, ticks) = parent_and_ticks(&stat)?;
    Some((name, ticks))
}

/// The parent pid and user + system ticks in the text of a `/proc/…/stat` file. The name (field
/// 2) may hold spaces and parentheses, so fields are counted from the last `)`.
fn parent_and_ticks(stat: &str) -> Option<(u32, u64)> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4), …, utime (14), stime (15).
    let parent = fields.get(1)?.parse().ok()?;
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((parent, user + system))
}

/// What the sampled connections were doing, as counts of samples per activity.
#[derive(Debug, Clone, Default)]
pub struct WaitProfile {
    counts: HashMap<String, u64>,
    samples: u64,
}

impl WaitProfile {
    /// The most frequent activities with their share of the samples, most frequent first.
    pub fn top(&self, n: usize) -> Vec<(String, f64)> {
        let mut entries: Vec<(&String, &u64)> = self.counts.iter().collect();
        entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        entries
            .into_iter()
            .take(n)
            .map(|(name, count)| (name.clone(), *count as f64 / self.samples.max(1) as f64))
            .collect()
    }
}

/// Samples `pg_stat_activity` for the connections named `application_name` until `stop` is set.
/// A failure to sample is not a failure of the benchmark: the profile is then empty.
pub async fn sample_waits(
    options: PgConnectOptions,
    application_name: &'static str,
    stop: Arc<AtomicBool>,
) -> WaitProfile {
    let mut profile = WaitProfile::default();
    let Ok(mut conn) = PgConnection::connect_with(&options).await else {
        return profile;
    };
    let mut ticker = tokio::time::interval(SAMPLE_INTERVAL);
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        let Ok(rows) = sample(&mut conn, application_name).await else {
            break;
        };
        for (state, wait_type, wait_event) in rows {
            *profile
                .counts
                .entry(activity(&state, wait_type, wait_event))
                .or_default() += 1;
            profile.samples += 1;
        }
    }
    let _ = conn.close().await;
    profile
}

type ActivityRow = (String, Option<String>, Option<String>);

async fn sample(
    conn: &mut PgConnection,
    application_name: &str,
) -> Result<Vec<ActivityRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(state, ''), wait_event_type, wait_event FROM pg_stat_activity \
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(application_name)
    .fetch_all(conn)
    .await
}

fn activity(state: &str, wait_type: Option<String>, wait_event: Option<String>) -> String {
    match (state, wait_type, wait_event) {
        ("active", None, _) => "running (CPU)".to_owned(),
        ("active", Some(kind), Some(event)) => format!("{kind}:{event}"),
        ("idle in transaction", ..) => "idle in transaction (waiting for its client)".to_owned(),
        ("idle", ..) => "idle (no statement to run)".to_owned(),
        (other, kind, event) => format!(
            "{other} {}:{}",
            kind.unwrap_or_default(),
            event.unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_stat_fields_after_the_name() {
        let stat = "42 (postgres: a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 25 5 0 0 20 0 1";
        assert_eq!(parent_and_ticks(stat), Some((7, 30)));
    }

    #[test]
    fn names_activities() {
        assert_eq!(activity("active", None, None), "running (CPU)");
        assert_eq!(
            activity("active", Some("LWLock".into()), Some("WALWrite".into())),
            "LWLock:WALWrite"
        );
        assert!(activity("idle in transaction", None, None).starts_with("idle in transaction"));
    }
}
