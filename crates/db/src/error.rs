//! The one error type of this crate. Each message is meant to be read by the person who runs
//! Flowline, so it says what went wrong *and* what to do about it; the underlying error is part of
//! the message (not a separate `source`) so that a plain `{}` shows everything.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "no PostgreSQL server binaries found (initdb, pg_ctl and postgres in one directory on PATH, \
         or /usr/lib/postgresql/<version>/bin): install PostgreSQL (`apt-get install postgresql`) \
         or set DATABASE_URL to use an existing PostgreSQL server"
    )]
    NoBinaries,

    #[error(
        "another flowline process is serving data dir {} (its lock {} is held); stop it first, \
         or use `flowline admin` against the running server",
        data_dir.display(),
        data_dir.join("flowline.lock").display()
    )]
    DataDirInUse { data_dir: PathBuf },

    #[error(
        "a flowline process holds data dir {} but its PostgreSQL does not answer on {}: {error}",
        data_dir.display(),
        socket_dir.display()
    )]
    NotAnswering {
        data_dir: PathBuf,
        socket_dir: PathBuf,
        error: String,
    },

    #[error(
        "PostgreSQL refuses to run as root, and the system user `{user}` that flowline runs it as \
         does not exist: install PostgreSQL (`apt-get install postgresql`, which creates it) or \
         create it (`useradd --system {user}`)"
    )]
    NoServerUser { user: String },

    #[error(
        "directory {} is not traversable by the system user `{user}` that runs PostgreSQL: \
         `chmod o+x {}` or choose a data dir elsewhere",
        dir.display(),
        dir.display()
    )]
    NotTraversable { dir: PathBuf, user: String },

    #[error(
        "the PostgreSQL socket path {} is {len} bytes, longer than the {max} bytes a unix socket \
         path may have: choose a data dir with a shorter path",
        path.display()
    )]
    SocketPathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },

    #[error(
        "data dir {} holds a PostgreSQL {cluster_major} cluster but the installed binaries in {} \
         are PostgreSQL {binaries_version}: install PostgreSQL {cluster_major} or upgrade the \
         cluster with pg_upgrade",
        data_dir.display(),
        bin_dir.display()
    )]
    VersionMismatch {
        data_dir: PathBuf,
        bin_dir: PathBuf,
        cluster_major: String,
        binaries_version: String,
    },

    #[error(
        "PostgreSQL (pid {pid}) serving data dir {} did not stop on SIGINT nor on SIGQUIT; stop \
         it by hand (`kill -KILL {pid}`) and start again",
        data_dir.display()
    )]
    ServerWontStop { pid: u32, data_dir: PathBuf },

    #[error("{program} failed ({status}); last lines of {}:\n{log_tail}", log.display())]
    CommandFailed {
        program: String,
        status: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error(
        "PostgreSQL did not accept connections on {} within {seconds} s; last lines of {}:\n\
         {log_tail}",
        socket_dir.display(),
        log.display()
    )]
    StartTimeout {
        socket_dir: PathBuf,
        seconds: u64,
        log: PathBuf,
        log_tail: String,
    },

    #[error("PostgreSQL exited while starting ({status}); last lines of {}:\n{log_tail}", log.display())]
    ServerExited {
        status: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error("{action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("invalid database URL: {0}")]
    InvalidUrl(sqlx::Error),

    #[error("could not connect to PostgreSQL: {0}")]
    Connect(sqlx::Error),

    #[error("database statement failed: {0}")]
    Sql(sqlx::Error),

    #[error("applying the migrations failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),

    #[error("the throwaway test PostgreSQL is unavailable: {0}")]
    Throwaway(String),
}

impl DbError {
    /// An I/O error with the action that failed and the path it failed on, e.g.
    /// `DbError::io("could not create", path)(err)` → "could not create /x/y: permission denied".
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| DbError::Io {
            action,
            path,
            error,
        }
    }
}
