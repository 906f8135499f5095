//! Group commit for `POST /v1/record`: requests that arrive together share one statement.
//!
//! One record per transaction costs PostgreSQL a commit (a WAL flush) and a round trip per
//! record, and at high request rates that, not the work of storing the record, is the ceiling.
//! So each validated request becomes a job on a queue; a few flusher tasks each take every job
//! waiting (up to [`MAX_COALESCED_RECORDS`] records), and store the jobs that go to the same
//! flow in the same way with one statement, in one transaction. A request is answered only
//! after that transaction commits, so a 2xx still means committed. Under light load a flusher
//! finds one job and runs it at once: nothing waits for a batch to fill.
//!
//! A flusher never waits long: its statements run with a short `lock_timeout` (a status change
//! holding the flow, say), and when a shared statement fails or the flow or schema refuses its
//! records, every job in it is handed back to its own request, which takes the careful path of
//! [`super::ingest`] on a connection of its own. So one request's duplicate uuid never fails
//! another's, and one tenant's locked flow never holds up another tenant's records.
//!
//! Requests of [`COALESCE_BELOW`] records or more already share their commit among their own
//! records; they skip the queue and run on their own connection, in parallel.

use super::{Batch, Ingested, NewRecords, Target};
use flowline_core::{AppId, Error, Tenant};
use flowline_db::{PgConnection, PgPool};
use flowline_schemas::SchemaCache;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

/// About how many records one shared statement stores: a flusher stops taking jobs once it
/// holds this many.
pub const MAX_COALESCED_RECORDS: usize = 100;

/// Requests with this many records or more are stored on their own connection.
pub const COALESCE_BELOW: usize = 10;

/// How the group-commit queue runs.
#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// Flusher tasks; each holds one connection of its own, besides the pool's.
    pub flushers: usize,
    /// How long a shared statement waits for a lock before its jobs are handed back.
    pub lock_timeout: Duration,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            flushers: 1,
            lock_timeout: Duration::from_millis(100),
        }
    }
}

/// How many jobs may wait for a flusher before requests wait to enqueue.
const QUEUE_CAPACITY: usize = 4096;

/// The front of the group-commit queue; cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
    pool: PgPool,
}

/// What a flusher tells the request: its records, or `None` to take the careful path.
type Answer = oneshot::Receiver<Option<Ingested>>;

/// A validated request waiting for a flusher.
struct Job {
    target: Target,
    uuids: Vec<Uuid>,
    texts: Vec<String>,
    /// `None`: nothing was stored; the request must take the careful path.
    reply: oneshot::Sender<Option<Ingested>>,
}

impl Ingestor {
    /// Starts the flusher tasks on the current Tokio runtime. They stop when the last clone
    /// of the returned `Ingestor` is dropped.
    pub fn start(pool: PgPool, settings: IngestSettings) -> Ingestor {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..settings.flushers.max(1) {
            let flusher = Flusher {
                jobs: Arc::clone(&receiver),
                pool: pool.clone(),
                lock_timeout: settings.lock_timeout,
                conn: None,
            };
            tokio::spawn(flusher.run());
        }
        Ingestor { jobs: sender, pool }
    }

    /// Queues the records into their flow, all of them or none, as [`super::ingest`] does; the
    /// records are committed when this returns `Ok`.
    pub async fn ingest(
        &self,
        tenant: Tenant,
        actor: Option<AppId>,
        schemas: &SchemaCache,
        request: &NewRecords,
    ) -> Result<Ingested, Error> {
        if let Some((job, answer)) = prepare(tenant, actor, schemas, request)?
            && self.jobs.send(job).await.is_ok()
            // Nothing stored, or the flushers are gone: the careful path decides.
            && let Ok(Some(ingested)) = answer.await
        {
            return Ok(ingested);
        }
        let mut conn = self.pool.acquire().await?;
        super::ingest(&mut conn, tenant, actor, schemas, request).await
    }
}

/// The job for a small request the last-seen schema accepts; `None` sends the request down the
/// careful path (a large request, no schema seen yet, or a refusal that a fresh schema must
/// confirm).
fn prepare(
    tenant: Tenant,
    actor: Option<AppId>,
    schemas: &SchemaCache,
    request: &NewRecords,
) -> Result<Option<(Job, Answer)>, Error> {
    super::check_shape(request)?;
    if request.records.len() >= COALESCE_BELOW {
        return Ok(None);
    }
    let Some(schema) = schemas.last_seen(tenant) else {
        return Ok(None);
    };
    if super::validate(request, &schema).is_err() {
        return Ok(None);
    }
    let (status, next_run_at) = super::schedule(request.execution_time, chrono::Utc::now());
    let target = Target {
        tenant,
        actor,
        flow: request.flow.clone(),
        schema_version: schema.version,
        status,
        next_run_at,
    };
    let (reply, answer) = oneshot::channel();
    let job = Job {
        target,
        uuids: super::uuids_for(request),
        texts: super::json_texts(&request.records)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        reply,
    };
    Ok(Some((job, answer)))
}

struct Flusher {
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    pool: PgPool,
    lock_timeout: Duration,
    /// Kept from one batch to the next; dropped after an error that may have broken it.
    conn: Option<PgConnection>,
}

impl Flusher {
    async fn run(mut self) {
        while let Some(taken) = take_waiting(&self.jobs).await {
            for (target, group) in by_target(taken) {
                let stored = self.store_together(&target, &group).await;
                answer(group, stored);
            }
        }
    }

    /// `Ok(None)` when the flow or the schema refused the records, or no connection was had.
    async fn store_together(
        &mut self,
        target: &Target,
        jobs: &[Job],
    ) -> Result<Option<Ingested>, Error> {
        let Some(conn) = self.connection().await else {
            return Ok(None);
        };
        let uuids: Vec<Uuid> = jobs.iter().flat_map(|job| job.uuids.clone()).collect();
        let texts: Vec<&str> = jobs
            .iter()
            .flat_map(|job| job.texts.iter().map(String::as_str))
            .collect();
        let batch = Batch {
            uuids: &uuids,
            texts: &texts,
        };
        let stored = target.insert(conn, &batch).await;
        if let Err(error) = &stored
            && may_have_broken_the_connection(error)
        {
            self.conn = None;
        }
        stored
    }

    /// The flusher's own connection, detached from the pool so that it can keep its
    /// `lock_timeout`.
    async fn connection(&mut self) -> Option<&mut PgConnection> {
        if self.conn.is_none() {
            let mut conn = self.pool.acquire().await.ok()?.detach();
            sqlx::query("SELECT set_config('lock_timeout', $1, false)")
                .bind(format!("{}ms", self.lock_timeout.as_millis()))
                .execute(&mut conn)
                .await
                .ok()?;
            self.conn = Some(conn);
        }
        self.conn.as_mut()
    }
}

/// Waits for a job, then takes the others already waiting, up to the record limit.
async fn take_waiting(jobs: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    let mut receiver = jobs.lock().await;
    let first = receiver.recv().await?;
    let mut records = first.uuids.len();
    let mut taken = vec![first];
    while records < MAX_COALESCED_RECORDS {
        let Ok(job) = receiver.try_recv() else {
            break;
        };
        records += job.uuids.len();
        taken.push(job);
    }
    Some(taken)
}

/// The jobs that can share a statement, in the order they arrived.
fn by_target(jobs: Vec<Job>) -> Vec<(Target, Vec<Job>)> {
    let mut groups: Vec<(Target, Vec<Job>)> = Vec::new();
    for job in jobs {
        match groups.iter_mut().find(|(target, _)| *target == job.target) {
            Some((_, group)) => group.push(job),
            None => groups.push((job.target.clone(), vec![job])),
        }
    }
    groups
}

/// Whether an error came from the connection rather than from PostgreSQL refusing a statement.
fn may_have_broken_the_connection(error: &Error) -> bool {
    matches!(error, Error::Database(inner) if !matches!(inner, sqlx::Error::Database(_)))
}

/// Answers every job of a shared statement: its own records when the statement stored them,
/// and otherwise `Ok(None)`, which sends each request down the careful path to get its own
/// answer (a duplicate uuid is then one request's 409, not the whole group's).
fn answer(jobs: Vec<Job>, stored: Result<Option<Ingested>, Error>) {
    match stored {
        Ok(Some(ingested)) => answer_each(jobs, ingested),
        Ok(None) | Err(_) => {
            for job in jobs {
                let _ = job.reply.send(None);
            }
        }
    }
}

/// Splits what a shared statement stored among its jobs: the records come back in the order
/// the jobs' uuids were sent.
fn answer_each(jobs: Vec<Job>, ingested: Ingested) {
    let mut records = ingested.records.into_iter();
    for job in jobs {
        let own = records.by_ref().take(job.uuids.len()).collect();
        let _ = job.reply.send(Some(Ingested {
            flow_id: ingested.flow_id,
            flow_name: ingested.flow_name.clone(),
            status: ingested.status,
            records: own,
        }));
    }
}
