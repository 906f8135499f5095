//! Starting, attaching to and stopping an embedded PostgreSQL cluster.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgSslMode;

use super::binaries::PgBinaries;
use super::layout::{DataDirLock, Layout, PORT};
use super::postmaster::{self, Postmaster};
use super::privileges::{self, ServerUser};
use crate::{DbError, PgConnectOptions, PgConnection};

/// The superuser initdb creates; local connections authenticate by trust.
const SUPERUSER: &str = "postgres";
/// The database Flowline keeps its data in, created on first start.
const FLOWLINE_DATABASE: &str = "flowline";
/// The database that always exists, to connect to before `flowline` does.
const MAINTENANCE_DATABASE: &str = "postgres";
/// How long a starting server (or one that `attach_running` finds starting) may take to accept
/// connections. Crash recovery after an unclean stop is the slow case.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one connection attempt may take; a local socket answers in milliseconds.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How to run the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// False only for throwaway test clusters: a crash may then lose or corrupt data.
    pub fsync: bool,
    pub max_connections: u32,
    /// Further server settings, each passed as `postgres -c name=value`.
    pub extra: Vec<(String, String)>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            fsync: true,
            max_connections: 100,
            extra: Vec::new(),
        }
    }
}

/// A PostgreSQL cluster in `<data_dir>/pg`, run by this process, listening only on a unix socket
/// in `<data_dir>/run`, with trust authentication for local connections only, the superuser
/// `postgres`, and a database `flowline` created on first start.
///
/// Dropping it without [`EmbeddedCluster::stop`] still asks the server for a fast shutdown, but
/// does not wait for it.
#[derive(Debug)]
pub struct EmbeddedCluster {
    layout: Layout,
    postmaster: Postmaster,
    /// Held for the life of the value: one flowline process per data dir.
    _lock: DataDirLock,
}

impl EmbeddedCluster {
    /// Starts the cluster of `data_dir` (created if missing), initialising it on first start.
    ///
    /// In order: takes an exclusive lock on `<data_dir>/flowline.lock`
    /// ([`DbError::DataDirInUse`] while another process or value holds it); runs `initdb` when
    /// there is no cluster yet; recovers from a crash (a stale `postmaster.pid`, stale socket
    /// files, or an orphan postmaster of this data dir); starts `postgres` as a child that dies
    /// with this process; waits up to 30 s for it to accept connections (the error quotes the end
    /// of `<data_dir>/postgres.log`); creates the database `flowline` if missing.
    ///
    /// As root, the server runs as the system user `postgres`, which then owns `pg` and `run`.
    pub async fn start(
        data_dir: &Path,
        settings: ClusterSettings,
    ) -> Result<EmbeddedCluster, DbError> {
        let layout = Layout::new(absolute_data_dir(data_dir)?);
        layout.check_socket_path_len()?;
        let lock = DataDirLock::acquire(&layout)?;
        let user = privileges::server_user()?;
        if let Some(user) = user {
            privileges::ensure_reachable_by(layout.root(), user)?;
        }
        let binaries = PgBinaries::find()?;
        let log = layout.open_log()?;
        ensure_initialized(&layout, &binaries, user, &log, &settings).await?;
        check_cluster_version(&layout, &binaries)?;
        postmaster::recover_stale_server(&layout).await?;
        prepare_socket_dir(&layout, user)?;

        let command = postgres_command(&layout, &binaries, &settings, &log)?;
        let postmaster = Postmaster::spawn(command, user).await?;
        let cluster = EmbeddedCluster {
            layout,
            postmaster,
            _lock: lock,
        };
        cluster.wait_until_accepting().await?;
        cluster
            .create_database_if_missing(FLOWLINE_DATABASE)
            .await?;
        tracing::info!(
            db.data_dir = %cluster.layout.root().display(),
            db.socket = %cluster.layout.socket_file().display(),
            db.version = %binaries.version,
            postmaster.pid = cluster.postmaster.pid(),
            "embedded PostgreSQL started"
        );
        Ok(cluster)
    }

    /// Connect options for the cluster that another flowline process (typically `flowline
    /// serve`) runs on `data_dir`, without starting anything; used by `flowline admin`.
    ///
    /// `None` when nothing runs there (no data dir, or its lock is free). When the lock is held
    /// but the server does not answer yet (it may be starting), waits up to 30 s for it, then
    /// fails with [`DbError::NotAnswering`].
    pub async fn attach_running(data_dir: &Path) -> Result<Option<PgConnectOptions>, DbError> {
        let Ok(root) = std::fs::canonicalize(data_dir) else {
            return Ok(None);
        };
        let layout = Layout::new(root);
        let options = socket_options(&layout.socket_dir(), FLOWLINE_DATABASE);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !DataDirLock::is_held_elsewhere(&layout)? {
                return Ok(None);
            }
            let error = match try_connect(&options).await {
                Ok(()) => return Ok(Some(options)),
                Err(error) => error,
            };
            if Instant::now() >= deadline {
                return Err(DbError::NotAnswering {
                    data_dir: layout.root().to_path_buf(),
                    socket_dir: layout.socket_dir(),
                    error,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Options to connect to `database` over the cluster's unix socket as `postgres`.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        socket_options(&self.layout.socket_dir(), database)
    }

    /// The absolute data dir.
    pub fn data_dir(&self) -> &Path {
        self.layout.root()
    }

    /// Stops the server with a fast shutdown (SIGINT: open sessions are ended, everything
    /// committed is kept), waits for it to exit, then releases the data dir lock. Falls back to
    /// an immediate shutdown (SIGQUIT, crash recovery at next start) after 30 s.
    pub async fn stop(self) -> Result<(), DbError> {
        tracing::info!(db.data_dir = %self.layout.root().display(), "stopping embedded PostgreSQL");
        self.postmaster.signal(libc::SIGINT);
        if !self
            .postmaster
            .wait_for_exit(postmaster::FAST_SHUTDOWN_TIMEOUT)
            .await
        {
            tracing::warn!(
                db.data_dir = %self.layout.root().display(),
                "PostgreSQL did not finish a fast shutdown in time; shutting down immediately"
            );
            self.postmaster.signal(libc::SIGQUIT);
            if !self
                .postmaster
                .wait_for_exit(postmaster::IMMEDIATE_SHUTDOWN_TIMEOUT)
                .await
            {
                return Err(self.wont_stop());
            }
        }
        tracing::info!(db.data_dir = %self.layout.root().display(), "embedded PostgreSQL stopped");
        Ok(())
    }

    /// Immediate shutdown (SIGQUIT) and a bounded wait, for code that runs outside any runtime,
    /// e.g. at process exit. The next start runs crash recovery, which is fine for test clusters.
    pub(crate) fn stop_immediately_blocking(&self) -> Result<(), DbError> {
        self.postmaster.signal(libc::SIGQUIT);
        if self
            .postmaster
            .wait_for_exit_blocking(postmaster::IMMEDIATE_SHUTDOWN_TIMEOUT)
        {
            Ok(())
        } else {
            Err(self.wont_stop())
        }
    }

    fn wont_stop(&self) -> DbError {
        DbError::ServerWontStop {
            pid: self.postmaster.pid(),
            data_dir: self.layout.root().to_path_buf(),
        }
    }

    async fn wait_until_accepting(&self) -> Result<(), DbError> {
        let options = self.connect_options(MAINTENANCE_DATABASE);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.postmaster.exit_status() {
                return Err(DbError::ServerExited {
                    status,
                    log: self.layout.log_file(),
                    log_tail: self.layout.log_tail(),
                });
            }
            if try_connect(&options).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DbError::StartTimeout {
                    socket_dir: self.layout.socket_dir(),
                    seconds: START_TIMEOUT.as_secs(),
                    log: self.layout.log_file(),
                    log_tail: self.layout.log_tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn create_database_if_missing(&self, database: &str) -> Result<(), DbError> {
        let options = self.connect_options(MAINTENANCE_DATABASE);
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(DbError::Connect)?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await
                .map_err(DbError::Sql)?;
        if !exists {
            let statement = format!("CREATE DATABASE {}", crate::quote_identifier(database));
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .map_err(DbError::Sql)?;
        }
        conn.close().await.map_err(DbError::Connect)
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if self.postmaster.exit_status().is_none() {
            tracing::debug!(
                db.data_dir = %self.layout.root().display(),
                "embedded cluster dropped while running; requesting a fast shutdown"
            );
            self.postmaster.signal(libc::SIGINT);
        }
    }
}

/// The data dir as an absolute path (created if missing), because the server runs with the data
/// dir as its working directory and the socket path must not depend on ours.
fn absolute_data_dir(data_dir: &Path) -> Result<PathBuf, DbError> {
    std::fs::create_dir_all(data_dir).map_err(DbError::io("could not create", data_dir))?;
    std::fs::canonicalize(data_dir).map_err(DbError::io("could not resolve", data_dir))
}

pub(crate) fn socket_options(socket_dir: &Path, database: &str) -> PgConnectOptions {
    PgConnectOptions::new_without_pgpass()
        .socket(socket_dir)
        .port(PORT)
        .username(SUPERUSER)
        .database(database)
        // TLS over a unix socket protects nothing; skipping it saves a round trip.
        .ssl_mode(PgSslMode::Disable)
}

/// One connection attempt, bounded in time; the error as text, for messages.
async fn try_connect(options: &PgConnectOptions) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_ATTEMPT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_ATTEMPT_TIMEOUT:?}")),
    }
}

/// Runs initdb when the data dir has no cluster yet. initdb builds into `pg.initdb`, which is
/// renamed to `pg` only once complete, so that an interrupted initdb is simply redone.
async fn ensure_initialized(
    layout: &Layout,
    binaries: &PgBinaries,
    user: Option<ServerUser>,
    log: &File,
    settings: &ClusterSettings,
) -> Result<(), DbError> {
    let cluster_dir = layout.cluster_dir();
    if cluster_dir.join("PG_VERSION").exists() {
        return Ok(());
    }
    let build_dir = layout.initdb_dir();
    if build_dir.exists() {
        std::fs::remove_dir_all(&build_dir).map_err(DbError::io(
            "could not remove an interrupted initdb in",
            &build_dir,
        ))?;
    }
    std::fs::create_dir(&build_dir).map_err(DbError::io("could not create", &build_dir))?;
    privileges::make_private_dir(&build_dir, user)?;
    tracing::info!(db.data_dir = %layout.root().display(), "initialising a new PostgreSQL cluster");

    let command = initdb_command(layout, binaries, user, log, settings)?;
    run_to_completion(command, layout).await?;
    std::fs::rename(&build_dir, &cluster_dir).map_err(DbError::io(
        "could not move the new cluster into",
        &cluster_dir,
    ))
}

fn initdb_command(
    layout: &Layout,
    binaries: &PgBinaries,
    user: Option<ServerUser>,
    log: &File,
    settings: &ClusterSettings,
) -> Result<Command, DbError> {
    let mut command = Command::new(binaries.program("initdb"));
    command
        .arg("--pgdata")
        .arg(layout.initdb_dir())
        .args([
            "--username",
            SUPERUSER,
            "--encoding",
            "UTF8",
            "--locale",
            "C",
        ])
        // Trust for the unix socket only, which lives in a directory only the server user (and
        // root) can enter; TCP is refused, and the server does not listen on it anyway.
        .args(["--auth-local", "trust", "--auth-host", "reject"]);
    if !settings.fsync {
        command.arg("--no-sync");
    }
    redirect_output_to_log(&mut command, layout, log)?;
    privileges::set_child_identity(
        &mut command,
        privileges::ChildIdentity {
            user,
            dies_with_spawning_thread: false,
        },
    );
    Ok(command)
}

async fn run_to_completion(mut command: Command, layout: &Layout) -> Result<(), DbError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .map_err(|join_error| DbError::Io {
            action: "the thread running",
            path: PathBuf::from(&program),
            error: std::io::Error::other(join_error.to_string()),
        })?
        .map_err(DbError::io("could not run", &program))?;
    if status.success() {
        return Ok(());
    }
    Err(DbError::CommandFailed {
        program,
        status: status.to_string(),
        log: layout.log_file(),
        log_tail: layout.log_tail(),
    })
}

/// A cluster made by other binaries than ours cannot be started by them; say so plainly rather
/// than let postgres fail with a message about file formats.
fn check_cluster_version(layout: &Layout, binaries: &PgBinaries) -> Result<(), DbError> {
    let version_file = layout.cluster_dir().join("PG_VERSION");
    let cluster_major = std::fs::read_to_string(&version_file)
        .map_err(DbError::io("could not read", &version_file))?
        .trim()
        .to_owned();
    if cluster_major == binaries.major_version() {
        return Ok(());
    }
    Err(DbError::VersionMismatch {
        data_dir: layout.root().to_path_buf(),
        bin_dir: binaries.bin_dir.clone(),
        cluster_major,
        binaries_version: binaries.version.clone(),
    })
}

fn prepare_socket_dir(layout: &Layout, user: Option<ServerUser>) -> Result<(), DbError> {
    let socket_dir = layout.socket_dir();
    std::fs::create_dir_all(&socket_dir).map_err(DbError::io("could not create", &socket_dir))?;
    // Trust authentication is safe only because nobody else can reach the socket.
    privileges::make_private_dir(&socket_dir, user)
}

fn postgres_command(
    layout: &Layout,
    binaries: &PgBinaries,
    settings: &ClusterSettings,
    log: &File,
) -> Result<Command, DbError> {
    let mut command = Command::new(binaries.program("postgres"));
    command
        .arg("-D")
        .arg(layout.cluster_dir())
        .arg("-k")
        .arg(layout.socket_dir())
        .args(["-p", &PORT.to_string()]);
    let fsync = if settings.fsync { "on" } else { "off" };
    let server_settings = [
        ("listen_addresses", ""),
        ("max_connections", &settings.max_connections.to_string()),
        ("fsync", fsync),
        // Our caller owns stderr, which is redirected to postgres.log.
        ("logging_collector", "off"),
    ];
    let extra = settings.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (name, value) in server_settings.into_iter().chain(extra) {
        command.arg("-c").arg(format!("{name}={value}"));
    }
    // Its own process group, so that a Ctrl-C meant for flowline does not also shut the server
    // down under requests still being served; flowline stops it in its own time.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    redirect_output_to_log(&mut command, layout, log)?;
    Ok(command)
}

fn redirect_output_to_log(
    command: &mut Command,
    layout: &Layout,
    log: &File,
) -> Result<(), DbError> {
    let clone = || {
        log.try_clone().map_err(DbError::io(
            "could not share the server log",
            layout.log_file(),
        ))
    };
    command
        .current_dir(layout.root())
        .stdin(Stdio::null())
        .stdout(clone()?)
        .stderr(clone()?);
    Ok(())
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
