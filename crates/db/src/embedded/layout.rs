//! What lives where in a Flowline data dir, the lock that makes one process its owner, and the
//! server log.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::DbError;

/// The port only names the socket file (`.s.PGSQL.<port>`): the cluster listens on no TCP port.
pub(crate) const PORT: u16 = 5432;

/// `sizeof(sockaddr_un.sun_path)` on Linux is 108 bytes, including the terminating NUL.
const MAX_SOCKET_PATH_BYTES: usize = 107;

/// The log is rotated once at start when larger than this, so that it cannot grow forever.
const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;

/// How many lines of the server log an error message quotes.
const LOG_TAIL_LINES: usize = 25;

/// The paths of one data dir (see the module doc of `embedded`).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// `root` should be absolute: the server runs with another working directory.
    pub(crate) fn new(root: PathBuf) -> Layout {
        Layout { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The PostgreSQL cluster itself (PGDATA).
    pub(crate) fn cluster_dir(&self) -> PathBuf {
        self.root.join("pg")
    }

    /// Where initdb builds a new cluster before it is renamed to `pg`, so that a crash during
    /// initdb never leaves a half-made `pg` behind.
    pub(crate) fn initdb_dir(&self) -> PathBuf {
        self.root.join("pg.initdb")
    }

    pub(crate) fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub(crate) fn socket_file(&self) -> PathBuf {
        self.socket_dir().join(format!(".s.PGSQL.{PORT}"))
    }

    pub(crate) fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn lock_file(&self) -> PathBuf {
        self.root.join("flowline.lock")
    }

    /// Fails early and clearly when the socket path would not fit in a `sockaddr_un`, which
    /// PostgreSQL would otherwise report only in its log.
    pub(crate) fn check_socket_path_len(&self) -> Result<(), DbError> {
        let path = self.socket_file();
        let len = path.as_os_str().len();
        if len > MAX_SOCKET_PATH_BYTES {
            return Err(DbError::SocketPathTooLong {
                path,
                len,
                max: MAX_SOCKET_PATH_BYTES,
            });
        }
        Ok(())
    }

    /// Opens the server log for appending, after rotating it to `postgres.log.1` when large.
    pub(crate) fn open_log(&self) -> Result<File, DbError> {
        let log = self.log_file();
        let too_large = std::fs::metadata(&log).is_ok_and(|meta| meta.len() > MAX_LOG_BYTES);
        if too_large {
            let rotated = self.root.join("postgres.log.1");
            std::fs::rename(&log, &rotated).map_err(DbError::io("could not rotate", &log))?;
        }
        File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(DbError::io("could not open the server log", &log))
    }

    /// The last lines of the server log, for error messages; empty when it cannot be read.
    pub(crate) fn log_tail(&self) -> String {
        read_tail(&self.log_file()).unwrap_or_default()
    }
}

fn read_tail(path: &Path) -> std::io::Result<String> {
    const TAIL_BYTES: u64 = 16 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.len().saturating_sub(LOG_TAIL_LINES);
    Ok(lines[first..].join("\n"))
}

/// An exclusive `flock` on `<data_dir>/flowline.lock`, held for as long as this value lives.
///
/// The lock, not the PostgreSQL `postmaster.pid`, says who owns a data dir: the kernel drops it
/// when its holder dies however it dies, so a stale lock cannot exist. The file is opened with
/// `O_CLOEXEC` (Rust's default), so the postmaster does not inherit it.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock, or fails with [`DbError::DataDirInUse`] when another process (or another
    /// `EmbeddedCluster` of this process) holds it.
    pub(crate) fn acquire(layout: &Layout) -> Result<DataDirLock, DbError> {
        let path = layout.lock_file();
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(DbError::io("could not open the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(DbError::DataDirInUse {
                data_dir: layout.root().to_path_buf(),
            }),
            Err(TryLockError::Error(error)) => Err(DbError::Io {
                action: "could not lock",
                path,
                error,
            }),
        }
    }

    /// Whether someone holds the lock now (without keeping it when nobody does). Needs only read
    /// access, so that a user who may not write the data dir can still ask.
    pub(crate) fn is_held_elsewhere(layout: &Layout) -> Result<bool, DbError> {
        let path = layout.lock_file();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => {
                return Err(DbError::Io {
                    action: "could not open the lock file",
                    path,
                    error,
                });
            }
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(error)) => Err(DbError::Io {
                action: "could not lock",
                path,
                error,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        let lock = DataDirLock::acquire(&layout).unwrap();
        assert!(matches!(
            DataDirLock::acquire(&layout),
            Err(DbError::DataDirInUse { .. })
        ));
        assert!(DataDirLock::is_held_elsewhere(&layout).unwrap());
        drop(lock);
        assert!(!DataDirLock::is_held_elsewhere(&layout).unwrap());
        DataDirLock::acquire(&layout).unwrap();
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        let text: String = (0..100).map(|n| format!("line {n}\n")).collect();
        std::fs::write(layout.log_file(), text).unwrap();
        let tail = layout.log_tail();
        assert!(tail.starts_with("line 75\n"), "{tail}");
        assert!(tail.ends_with("line 99"), "{tail}");
    }

    #[test]
    fn long_socket_paths_are_refused() {
        let layout = Layout::new(PathBuf::from(format!("/tmp/{}", "x".repeat(120))));
        assert!(matches!(
            layout.check_socket_path_len(),
            Err(DbError::SocketPathTooLong { .. })
        ));
        Layout::new(PathBuf::from("/tmp/short"))
            .check_socket_path_len()
            .unwrap();
    }
}
