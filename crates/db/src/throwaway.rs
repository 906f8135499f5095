//! A PostgreSQL for the black-box test suite: one server per test process, one fresh, migrated
//! database per test.
//!
//! Without `DATABASE_URL`, the first call starts a throwaway cluster (see
//! [`crate::embedded::EmbeddedCluster`]) in a fresh directory under the system temp dir, tuned for
//! speed over durability (fsync, synchronous_commit and full_page_writes off). It never outlives
//! the test process: the postmaster dies with it (parent-death signal), also when the process is
//! killed; at a normal exit it is shut down and its directory removed, and directories left by
//! killed processes are removed by the next test process.
//!
//! With `DATABASE_URL`, that server is used instead. Test databases are then left on it, since a
//! test process cannot know when the others are done; drop `flowline_test_*` databases at will.
//!
//! Either way, a template database is migrated once, and every test database is a copy of it
//! (`CREATE DATABASE … TEMPLATE …`), which takes milliseconds instead of a migration run.
//! Test support reads `DATABASE_URL` itself, as the test suite has no configuration of its own.

// The workspace denies unsafe code. This module needs atexit(3), to stop the cluster and remove
// its directory when the test process exits (statics are never dropped), and kill(2) with
// signal 0, to tell whether the process that left a directory behind is still alive.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use tokio::sync::OnceCell;

use crate::embedded::{ClusterSettings, EmbeddedCluster};
use crate::{DbError, PgConnectOptions, PgConnection};

/// The template of a throwaway cluster: it is alone there, so its name needs no qualifier.
const LOCAL_TEMPLATE: &str = "flowline_template";
/// A throwaway cluster serves many tests at once, each with a pool of its own.
const LOCAL_MAX_CONNECTIONS: u32 = 300;
/// Names this crate's throwaway directories in the temp dir: `flowline-pg-<pid>-<suffix>`.
const TEMP_DIR_PREFIX: &str = "flowline-pg-";
/// Leaves room in the socket path for `/run/.s.PGSQL.5432` below the 107-byte limit.
const MAX_TEMP_DIR_BYTES: usize = 80;
/// The advisory lock key under which test processes sharing a server build its template
/// ("flowline" in ASCII).
const TEMPLATE_LOCK_KEY: i64 = 0x666c_6f77_6c69_6e65;

/// The server of this test process, started (or connected to) by the first `fresh_database`.
/// A failure is kept too, so that the other tests fail at once with the same message instead of
/// each trying again.
static SERVER: OnceCell<Result<TestServer, String>> = OnceCell::const_new();
/// The throwaway cluster, kept apart so that the exit handler can reach it.
static LOCAL_CLUSTER: OnceLock<LocalCluster> = OnceLock::new();

struct LocalCluster {
    cluster: EmbeddedCluster,
    dir: PathBuf,
}

struct TestServer {
    /// Connects to a database that always exists, to create the others.
    admin: PgConnectOptions,
    template: String,
    database_prefix: String,
    next_database: AtomicU64,
}

/// Creates a new database, a copy of the migrated template, and returns the options to connect
/// to it. The first call starts the server of this test process (see the module doc).
pub async fn fresh_database() -> Result<PgConnectOptions, DbError> {
    let server = SERVER
        .get_or_init(|| async { TestServer::start().await.map_err(|error| error.to_string()) })
        .await
        .as_ref()
        .map_err(|message| DbError::Throwaway(message.clone()))?;
    server.create_database().await
}

impl TestServer {
    async fn start() -> Result<TestServer, DbError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => TestServer::on_external_server(&url).await,
            _ => TestServer::on_throwaway_cluster().await,
        }
    }

    /// Shares a server with other test processes (and other runs): the template is named after
    /// the migrations it holds, so that it is built once per set of migrations, and the test
    /// databases after this process.
    async fn on_external_server(url: &str) -> Result<TestServer, DbError> {
        let admin = crate::options_from_url(url)?;
        let template = format!("flowline_template_{:016x}", crate::migrations_fingerprint());
        ensure_template(&admin, &template).await?;
        Ok(TestServer {
            admin,
            template,
            database_prefix: format!("flowline_test_{}_", process_tag()),
            next_database: AtomicU64::new(1),
        })
    }

    async fn on_throwaway_cluster() -> Result<TestServer, DbError> {
        remove_dirs_of_dead_processes(&temp_root());
        let dir = new_throwaway_dir()?;
        let settings = ClusterSettings {
            fsync: false,
            max_connections: LOCAL_MAX_CONNECTIONS,
            extra: [("synchronous_commit", "off"), ("full_page_writes", "off")]
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .into(),
        };
        let cluster = match EmbeddedCluster::start(&dir, settings).await {
            Ok(cluster) => cluster,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        let admin = cluster.connect_options("postgres");
        tracing::info!(db.data_dir = %dir.display(), "throwaway test PostgreSQL started");
        if LOCAL_CLUSTER.set(LocalCluster { cluster, dir }).is_ok() {
            stop_and_remove_at_exit();
        }
        ensure_template(&admin, LOCAL_TEMPLATE).await?;
        Ok(TestServer {
            admin,
            template: LOCAL_TEMPLATE.to_owned(),
            database_prefix: "test_".to_owned(),
            next_database: AtomicU64::new(1),
        })
    }

    async fn create_database(&self) -> Result<PgConnectOptions, DbError> {
        let number = self.next_database.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{number}", self.database_prefix);
        let mut conn = PgConnection::connect_with(&self.admin)
            .await
            .map_err(DbError::Connect)?;
        let statement = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            crate::quote_identifier(&name),
            crate::quote_identifier(&self.template)
        );
        execute(&mut conn, statement).await?;
        conn.close().await.map_err(DbError::Connect)?;
        Ok(self.admin.clone().database(&name))
    }
}

/// Makes sure `template` exists and is migrated. Several test processes may do this at once on
/// one server, hence the advisory lock; the template is built under another name and renamed
/// when complete, so that a process killed mid-build never leaves a half-migrated template.
async fn ensure_template(admin: &PgConnectOptions, template: &str) -> Result<(), DbError> {
    let mut conn = PgConnection::connect_with(admin)
        .await
        .map_err(DbError::Connect)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await
        .map_err(DbError::Sql)?;
    let built = build_template_if_missing(&mut conn, admin, template).await;
    // Closing the connection also releases the lock, should the unlock fail.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    built
}

async fn build_template_if_missing(
    conn: &mut PgConnection,
    admin: &PgConnectOptions,
    template: &str,
) -> Result<(), DbError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut *conn)
            .await
            .map_err(DbError::Sql)?;
    if exists {
        return Ok(());
    }
    let staging = format!("{template}_build");
    let quoted_staging = crate::quote_identifier(&staging);
    execute(
        conn,
        format!("DROP DATABASE IF EXISTS {quoted_staging} WITH (FORCE)"),
    )
    .await?;
    execute(conn, format!("CREATE DATABASE {quoted_staging}")).await?;

    let pool = crate::connect(admin.clone().database(&staging), 2).await?;
    let migrated = crate::migrate(&pool).await;
    pool.close().await;
    migrated?;

    let quoted_template = crate::quote_identifier(template);
    execute(
        conn,
        format!("ALTER DATABASE {quoted_staging} RENAME TO {quoted_template}"),
    )
    .await
}

async fn execute(conn: &mut PgConnection, statement: String) -> Result<(), DbError> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(DbError::Sql)
}

/// Distinguishes this process from any other, now or in an earlier run.
fn process_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!("{}_{nanos:x}", std::process::id())
}

/// The system temp dir, unless its path is too long for a unix socket inside it.
fn temp_root() -> PathBuf {
    let temp = std::env::temp_dir();
    if temp.as_os_str().len() <= MAX_TEMP_DIR_BYTES - 32 {
        temp
    } else {
        PathBuf::from("/tmp")
    }
}

fn new_throwaway_dir() -> Result<PathBuf, DbError> {
    let dir = temp_root().join(format!("{TEMP_DIR_PREFIX}{}", process_tag()));
    std::fs::create_dir(&dir).map_err(DbError::io("could not create", &dir))?;
    Ok(dir)
}

/// Best effort: removes the throwaway directories of test processes that were killed before
/// they could remove their own (their postmasters died with them).
fn remove_dirs_of_dead_processes(temp_root: &Path) {
    let Ok(entries) = std::fs::read_dir(temp_root) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(TEMP_DIR_PREFIX))
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        if !process_exists(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 only checks whether the process exists; it sends nothing.
    let result = unsafe { libc::kill(pid, 0) };
    // EPERM: it exists but belongs to someone else.
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Registers the exit handler that stops the throwaway cluster and removes its directory.
fn stop_and_remove_at_exit() {
    extern "C" fn at_exit() {
        // Must not unwind across the C boundary: nothing in here panics.
        if let Some(local) = LOCAL_CLUSTER.get() {
            let _ = local.cluster.stop_immediately_blocking();
            let _ = std::fs::remove_dir_all(&local.dir);
        }
    }
    // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds. It runs while the other
    // threads (including the postmaster's reaper) still run, so its wait can complete.
    let registered = unsafe { libc::atexit(at_exit) };
    if registered != 0 {
        tracing::warn!("could not register the throwaway cluster's exit cleanup");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn has_migrations_table(options: &PgConnectOptions) -> bool {
        let mut conn = PgConnection::connect_with(options).await.unwrap();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        exists
    }

    #[tokio::test]
    async fn fresh_databases_are_distinct_and_migrated() {
        let first = fresh_database().await.unwrap();
        let second = fresh_database().await.unwrap();
        assert_ne!(first.get_database(), second.get_database());
        assert!(has_migrations_table(&first).await);
        assert!(has_migrations_table(&second).await);

        // What one test writes, the other does not see.
        let mut conn = PgConnection::connect_with(&first).await.unwrap();
        sqlx::raw_sql("CREATE TABLE only_in_first (id int)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut other = PgConnection::connect_with(&second).await.unwrap();
        let visible: bool = sqlx::query_scalar("SELECT to_regclass('only_in_first') IS NOT NULL")
            .fetch_one(&mut other)
            .await
            .unwrap();
        assert!(!visible);
    }

    #[tokio::test]
    async fn concurrent_fresh_databases_are_all_migrated() {
        let handles: Vec<_> = (0..4).map(|_| tokio::spawn(fresh_database())).collect();
        for handle in handles {
            let options = handle.await.unwrap().unwrap();
            assert!(has_migrations_table(&options).await);
        }
    }

    #[test]
    fn dirs_of_dead_processes_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        let dead_dir = root.path().join(format!("{TEMP_DIR_PREFIX}{dead_pid}_1"));
        let live_dir = root
            .path()
            .join(format!("{TEMP_DIR_PREFIX}{}_1", std::process::id()));
        let unrelated = root.path().join("something-else");
        for dir in [&dead_dir, &live_dir, &unrelated] {
            std::fs::create_dir(dir).unwrap();
        }
        remove_dirs_of_dead_processes(root.path());
        assert!(!dead_dir.exists());
        assert!(live_dir.exists());
        assert!(unrelated.exists());
    }
}
