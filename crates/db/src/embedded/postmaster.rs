//! The postmaster process: spawning it so that it cannot outlive us, signalling it, waiting for
//! it, and clearing what a crashed one left behind.

// The workspace denies unsafe code. This module needs kill(2), which std offers only for its own
// `Child` handles; the postmaster is reaped by its own thread, and an orphan is not our child.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::layout::Layout;
use super::privileges::{self, ChildIdentity, ServerUser};
use crate::DbError;

/// How long an orphan postmaster gets to die of its parent-death signal by itself before we stop
/// it: the signal is delivered at once, but an immediate shutdown still takes a moment.
const ORPHAN_GRACE: Duration = Duration::from_secs(5);
/// How long a fast shutdown (SIGINT) may take before an immediate one (SIGQUIT) is sent.
pub(crate) const FAST_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an immediate shutdown may take before we give up.
pub(crate) const IMMEDIATE_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running postmaster, spawned by [`Postmaster::spawn`].
#[derive(Debug)]
pub(crate) struct Postmaster {
    pid: u32,
    /// `Some(status)` once the postmaster has exited and been reaped.
    exit: watch::Receiver<Option<String>>,
}

impl Postmaster {
    /// Spawns `command` (running as `user`) from a dedicated thread that does nothing but wait
    /// for the child. The child gets `PR_SET_PDEATHSIG = SIGQUIT`, which the kernel delivers when
    /// the *thread* that forked it ends: a tokio worker or a test thread may end long before the
    /// process does, this thread ends only when the postmaster has exited — or when the whole
    /// process dies, which is exactly when the postmaster must go too.
    pub(crate) async fn spawn(
        mut command: Command,
        user: Option<ServerUser>,
    ) -> Result<Postmaster, DbError> {
        let identity = ChildIdentity {
            user,
            dies_with_spawning_thread: true,
        };
        privileges::set_child_identity(&mut command, identity);
        let program = PathBuf::from(command.get_program());
        let (spawned_tx, spawned_rx) = oneshot::channel();
        let (exit_tx, exit_rx) = watch::channel(None);
        std::thread::Builder::new()
            .name("postmaster".to_owned())
            .spawn(move || run_until_exit(command, spawned_tx, exit_tx))
            .map_err(DbError::io(
                "could not start the thread that runs",
                &program,
            ))?;
        let spawned = spawned_rx.await.map_err(|_| DbError::Io {
            action: "the spawning thread vanished while starting",
            path: program.clone(),
            error: std::io::ErrorKind::Other.into(),
        })?;
        let pid = spawned.map_err(DbError::io("could not start", &program))?;
        Ok(Postmaster { pid, exit: exit_rx })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// How the postmaster exited, once it has.
    pub(crate) fn exit_status(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Sends `signal` unless the postmaster has already exited (its pid may then be reused).
    pub(crate) fn signal(&self, signal: libc::c_int) {
        if self.exit_status().is_none() {
            send_signal(self.pid, signal);
        }
    }

    /// Waits up to `timeout` for the postmaster to exit; true when it has.
    pub(crate) async fn wait_for_exit(&self, timeout: Duration) -> bool {
        let mut exit = self.exit.clone();
        // An error means the reaping thread is gone, which it only is once the child is.
        let exited = exit.wait_for(Option::is_some);
        tokio::time::timeout(timeout, exited).await.is_ok()
    }

    /// The blocking form of [`Self::wait_for_exit`], for code that runs outside any runtime.
    pub(crate) fn wait_for_exit_blocking(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.exit_status().is_none() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// The body of the postmaster's thread: spawn, report the pid, reap, report the exit.
fn run_until_exit(
    mut command: Command,
    spawned_tx: oneshot::Sender<std::io::Result<u32>>,
    exit_tx: watch::Sender<Option<String>>,
) {
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let _ = spawned_tx.send(Err(error));
            return;
        }
    };
    let _ = spawned_tx.send(Ok(child.id()));
    let status = match child.wait() {
        Ok(status) => status.to_string(),
        Err(error) => format!("unknown exit: {error}"),
    };
    tracing::debug!(postmaster.pid = child.id(), postmaster.exit = %status, "postmaster exited");
    exit_tx.send_replace(Some(status));
}

fn send_signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill has no memory-safety preconditions; a positive pid names one process.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Makes sure no PostgreSQL runs on this data dir any more, and removes what a crashed one left:
/// `postmaster.pid` and the socket files.
///
/// We hold the data dir lock, so any postmaster still running here is an orphan of a flowline
/// that died (its parent-death signal may still be on the way): it gets [`ORPHAN_GRACE`] to exit,
/// then a fast shutdown. A `postmaster.pid` whose pid is dead, or belongs to anything but a
/// postgres working in this cluster directory (pids are reused after a reboot or a crash), is
/// stale: PostgreSQL itself would refuse to start over one that names a live process of its user.
pub(crate) async fn recover_stale_server(layout: &Layout) -> Result<(), DbError> {
    let cluster_dir = layout.cluster_dir();
    let pid_file = cluster_dir.join("postmaster.pid");
    if let Some(pid) = read_postmaster_pid(&pid_file)? {
        if is_postmaster_of(pid, &cluster_dir) {
            stop_orphan(pid, layout).await?;
        } else {
            tracing::warn!(
                db.data_dir = %layout.root().display(),
                postmaster.pid = pid,
                "removing a stale postmaster.pid left by a crash"
            );
        }
    }
    remove_file_if_present(&pid_file)?;
    remove_socket_files(&layout.socket_dir())
}

/// The pid on the first line of `postmaster.pid`; `None` when there is no file or no valid pid.
fn read_postmaster_pid(pid_file: &Path) -> Result<Option<u32>, DbError> {
    match std::fs::read_to_string(pid_file) {
        Ok(text) => Ok(text
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(DbError::Io {
            action: "could not read",
            path: pid_file.to_path_buf(),
            error,
        }),
    }
}

/// Whether `pid` is a running postgres whose working directory is `cluster_dir` (a postmaster
/// changes into its data directory). False for a zombie, which has neither.
pub(crate) fn is_postmaster_of(pid: u32, cluster_dir: &Path) -> bool {
    let process = PathBuf::from(format!("/proc/{pid}"));
    let (Ok(exe), Ok(cwd)) = (
        std::fs::read_link(process.join("exe")),
        std::fs::read_link(process.join("cwd")),
    ) else {
        return false;
    };
    let is_postgres = exe
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("postgres"));
    let cluster_dir = std::fs::canonicalize(cluster_dir).unwrap_or_else(|_| cluster_dir.into());
    is_postgres && cwd == cluster_dir
}

async fn stop_orphan(pid: u32, layout: &Layout) -> Result<(), DbError> {
    let cluster_dir = layout.cluster_dir();
    let gone = || !is_postmaster_of(pid, &cluster_dir);
    tracing::warn!(
        db.data_dir = %layout.root().display(),
        postmaster.pid = pid,
        "a PostgreSQL left by a previous flowline still runs on this data dir; stopping it"
    );
    if poll_until(gone, ORPHAN_GRACE).await {
        return Ok(());
    }
    send_signal(pid, libc::SIGINT);
    if poll_until(gone, FAST_SHUTDOWN_TIMEOUT).await {
        return Ok(());
    }
    send_signal(pid, libc::SIGQUIT);
    if poll_until(gone, IMMEDIATE_SHUTDOWN_TIMEOUT).await {
        return Ok(());
    }
    Err(DbError::ServerWontStop {
        pid,
        data_dir: layout.root().to_path_buf(),
    })
}

async fn poll_until(condition: impl Fn() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

fn remove_file_if_present(path: &Path) -> Result<(), DbError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(DbError::Io {
            action: "could not remove",
            path: path.to_path_buf(),
            error,
        }),
        _ => Ok(()),
    }
}

/// Removes `.s.PGSQL.<port>` and its `.lock` from a previous run. No server runs on this data
/// dir now, so they are stale; a lock file naming a reused pid would block PostgreSQL's start.
fn remove_socket_files(socket_dir: &Path) -> Result<(), DbError> {
    let Ok(entries) = std::fs::read_dir(socket_dir) else {
        return Ok(()); // No socket dir yet: nothing to clear.
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
            remove_file_if_present(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_postmaster_pid_naming_something_else_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        std::fs::create_dir_all(layout.cluster_dir()).unwrap();
        std::fs::create_dir_all(layout.socket_dir()).unwrap();
        let pid_file = layout.cluster_dir().join("postmaster.pid");
        // Our own pid is alive but not a postgres of this cluster.
        std::fs::write(&pid_file, format!("{}\n/elsewhere\n", std::process::id())).unwrap();
        let socket_lock = layout.socket_dir().join(".s.PGSQL.5432.lock");
        std::fs::write(&socket_lock, "1\n").unwrap();

        recover_stale_server(&layout).await.unwrap();

        assert!(!pid_file.exists());
        assert!(!socket_lock.exists());
    }

    #[test]
    fn this_process_is_not_a_postmaster() {
        assert!(!is_postmaster_of(std::process::id(), Path::new("/")));
    }
}
