//! Who the PostgreSQL processes run as, and what happens in a child between `fork` and `exec`.
//!
//! PostgreSQL refuses to run as root. When Flowline runs as root (as in many containers), initdb
//! and postgres run as the system user `postgres`, which then owns the cluster and socket
//! directories. Otherwise they run as the current user.

// The workspace denies unsafe code. This module needs it for what std does not offer: looking up
// a user (getpwnam_r), dropping privileges and setting PR_SET_PDEATHSIG in the child after fork
// (`pre_exec`), all of them thin libc calls whose safety conditions are stated where they are made.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::DbError;

/// The system user the PostgreSQL processes run as when Flowline runs as root.
const SERVER_USER: &CStr = c"postgres";

/// An unprivileged user to run PostgreSQL as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerUser {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `None` when the PostgreSQL processes can run as ourselves (we are not root), else the system
/// user `postgres`.
pub(crate) fn server_user() -> Result<Option<ServerUser>, DbError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    match lookup_user(SERVER_USER)? {
        Some(user) => Ok(Some(user)),
        None => Err(DbError::NoServerUser {
            user: server_user_name(),
        }),
    }
}

pub(crate) fn server_user_name() -> String {
    SERVER_USER.to_string_lossy().into_owned()
}

fn lookup_user(name: &CStr) -> Result<Option<ServerUser>, DbError> {
    let mut buffer: Vec<libc::c_char> = vec![0; 4096];
    loop {
        // SAFETY: passwd is a plain C struct for which all-zero is a valid value.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call, and the buffer length is
        // the real one; getpwnam_r (unlike getpwnam) uses no shared static storage.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(DbError::Io {
                action: "could not look up the system user in",
                path: "/etc/passwd".into(),
                error: io::Error::from_raw_os_error(rc),
            });
        }
        if found.is_null() {
            return Ok(None);
        }
        return Ok(Some(ServerUser {
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        }));
    }
}

/// What a PostgreSQL child process should be made into between `fork` and `exec`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildIdentity {
    /// Run as this user instead of ourselves.
    pub(crate) user: Option<ServerUser>,
    /// Receive SIGQUIT (PostgreSQL's immediate shutdown) when the thread that spawned the child
    /// ends, which includes the death of the whole flowline process, however it dies.
    pub(crate) dies_with_spawning_thread: bool,
}

/// Arranges for `command`'s child to take on `identity`.
pub(crate) fn set_child_identity(command: &mut Command, identity: ChildIdentity) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec; it only makes async-signal-safe
    // system calls (setgroups, setgid, setuid, prctl, getppid) and does not allocate.
    unsafe {
        command.pre_exec(move || become_identity(identity, parent));
    }
}

/// Runs in the child after fork. The order matters: privileges are dropped first, because the
/// kernel clears the parent-death signal whenever the process's credentials change.
fn become_identity(identity: ChildIdentity, parent: u32) -> io::Result<()> {
    if let Some(user) = identity.user {
        // SAFETY (all three): plain system calls on integers and a null list of length zero.
        // Supplementary groups go first: root's groups could otherwise keep privileges.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0
            || unsafe { libc::setgid(user.gid) } != 0
            || unsafe { libc::setuid(user.uid) } != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    if identity.dies_with_spawning_thread {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes one integer argument, the signal.
        let signal = libc::SIGQUIT as libc::c_ulong;
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // The parent may have died between fork and prctl, before the signal was armed.
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } as u32 != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// Makes `dir` private to the server user (or to ourselves when there is none): mode 0700, as
/// PostgreSQL demands for its data directory and as its trust-authenticated socket needs.
pub(crate) fn make_private_dir(dir: &Path, user: Option<ServerUser>) -> Result<(), DbError> {
    if let Some(user) = user {
        std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))
            .map_err(DbError::io("could not change the owner of", dir))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(DbError::io("could not change the permissions of", dir))
}

/// When the server runs as another user, it must be able to reach its directories inside
/// `data_dir`: `data_dir` itself is made traversable (o+x, which lets it reach known names but not
/// list the directory), and its ancestors are checked, with a clear error when one is closed.
pub(crate) fn ensure_reachable_by(data_dir: &Path, user: ServerUser) -> Result<(), DbError> {
    let meta = std::fs::metadata(data_dir).map_err(DbError::io("could not inspect", data_dir))?;
    if !can_traverse(&meta, user) {
        let mode = meta.permissions().mode() | 0o001;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(mode))
            .map_err(DbError::io("could not change the permissions of", data_dir))?;
    }
    for ancestor in data_dir.ancestors().skip(1) {
        let meta =
            std::fs::metadata(ancestor).map_err(DbError::io("could not inspect", ancestor))?;
        if !can_traverse(&meta, user) {
            return Err(DbError::NotTraversable {
                dir: ancestor.to_path_buf(),
                user: server_user_name(),
            });
        }
    }
    Ok(())
}

/// The execute bit that applies to `user` (it runs with its primary group only).
fn can_traverse(meta: &std::fs::Metadata, user: ServerUser) -> bool {
    let mode = meta.mode();
    if meta.uid() == user.uid {
        mode & 0o100 != 0
    } else if meta.gid() == user.gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_existing_and_missing_users() {
        assert_eq!(
            lookup_user(c"root").unwrap(),
            Some(ServerUser { uid: 0, gid: 0 })
        );
        assert_eq!(lookup_user(c"no-such-user-flowline").unwrap(), None);
    }

    #[test]
    fn a_child_can_run_as_another_user_when_root() {
        let Some(user) = server_user().unwrap() else {
            return; // Not root: nothing to drop.
        };
        let mut command = Command::new("id");
        command.arg("-u");
        set_child_identity(
            &mut command,
            ChildIdentity {
                user: Some(user),
                dies_with_spawning_thread: true,
            },
        );
        let output = command.output().unwrap();
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            user.uid.to_string()
        );
    }
}
