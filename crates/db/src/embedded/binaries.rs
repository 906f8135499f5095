//! Finding the installed PostgreSQL server binaries.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::DbError;

/// The programs a directory must hold to count as a PostgreSQL server installation.
const REQUIRED_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where Debian and Ubuntu install each PostgreSQL major version: `<root>/<version>/bin`.
const DISTRO_ROOT: &str = "/usr/lib/postgresql";

/// The installed PostgreSQL server binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    pub bin_dir: PathBuf,
    /// The server version as `postgres --version` prints it, e.g. `15.18`.
    pub version: String,
}

impl PgBinaries {
    /// Finds the binaries on `PATH` (the first directory holding `initdb`, `pg_ctl` and
    /// `postgres` together), else in the newest `/usr/lib/postgresql/<version>/bin` (versions
    /// compared numerically, so 10 is newer than 9.6), where distributions put them without
    /// adding them to `PATH`.
    pub fn find() -> Result<PgBinaries, DbError> {
        let path_dirs = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default();
        let bin_dir = first_server_dir(path_dirs)
            .or_else(|| newest_versioned_server_dir(Path::new(DISTRO_ROOT)))
            .ok_or(DbError::NoBinaries)?;
        let version = server_version(&bin_dir)?;
        Ok(PgBinaries { bin_dir, version })
    }

    /// The path of one program of the installation, e.g. `initdb`.
    pub(crate) fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The major version (`15` of `15.18`), which is what a data directory's `PG_VERSION` holds.
    pub(crate) fn major_version(&self) -> &str {
        major_of(&self.version)
    }
}

/// `15` of `15.18`, `17` of `17beta1`, `9.6` of `9.6.24` (before PostgreSQL 10 the major
/// version had two parts).
fn major_of(version: &str) -> &str {
    let leading_digits = |text: &str| {
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len())
    };
    let end = leading_digits(version);
    let before_ten = version[..end].parse::<u32>().is_ok_and(|major| major < 10);
    if before_ten && version[end..].starts_with('.') {
        let minor_len = leading_digits(&version[end + 1..]);
        &version[..end + 1 + minor_len]
    } else {
        &version[..end]
    }
}

fn first_server_dir(dirs: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    dirs.into_iter().find(|dir| is_server_dir(dir))
}

fn newest_versioned_server_dir(root: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = numeric_version(&entry.file_name().to_string_lossy())?;
            let bin_dir = entry.path().join("bin");
            is_server_dir(&bin_dir).then_some((version, bin_dir))
        })
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0));
    candidates.into_iter().next().map(|(_, dir)| dir)
}

/// `[9, 6]` for `9.6`; `None` for a directory name that is not a version.
fn numeric_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn is_server_dir(dir: &Path) -> bool {
    REQUIRED_PROGRAMS
        .iter()
        .all(|program| is_executable_file(&dir.join(program)))
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Asks `postgres --version` (allowed as root: the check for root comes after it).
fn server_version(bin_dir: &Path) -> Result<String, DbError> {
    let postgres = bin_dir.join("postgres");
    let output = Command::new(&postgres)
        .arg("--version")
        .output()
        .map_err(DbError::io("could not run", &postgres))?;
    let text = String::from_utf8_lossy(&output.stdout);
    version_from_banner(&text).ok_or_else(|| DbError::CommandFailed {
        program: format!("{} --version", postgres.display()),
        status: format!("{}, printed {:?}", output.status, text.trim()),
        log: postgres.clone(),
        log_tail: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// `15.18` of `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
fn version_from_banner(banner: &str) -> Option<String> {
    banner
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fake_server_dir(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for program in REQUIRED_PROGRAMS {
            let path = dir.join(program);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn finds_the_installed_binaries() {
        let binaries = PgBinaries::find().expect("PostgreSQL binaries are installed");
        assert!(binaries.program("postgres").is_file());
        assert!(binaries.program("initdb").is_file());
        assert!(binaries.version.starts_with(|c: char| c.is_ascii_digit()));
        assert!(!binaries.major_version().is_empty());
    }

    #[test]
    fn newest_version_wins_numerically() {
        let root = tempfile::tempdir().unwrap();
        for version in ["9.6", "10", "15", "notaversion"] {
            fake_server_dir(&root.path().join(version).join("bin"));
        }
        // 16 has no binaries, so it does not count.
        std::fs::create_dir_all(root.path().join("16").join("bin")).unwrap();
        assert_eq!(
            newest_versioned_server_dir(root.path()),
            Some(root.path().join("15").join("bin"))
        );
    }

    #[test]
    fn a_path_dir_needs_all_three_programs() {
        let root = tempfile::tempdir().unwrap();
        let partial = root.path().join("partial");
        fake_server_dir(&partial);
        std::fs::remove_file(partial.join("pg_ctl")).unwrap();
        let full = root.path().join("full");
        fake_server_dir(&full);
        assert_eq!(first_server_dir([partial, full.clone()]), Some(full));
    }

    #[test]
    fn reads_versions() {
        assert_eq!(
            version_from_banner("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some("15.18".to_owned())
        );
        assert_eq!(major_of("15.18"), "15");
        assert_eq!(major_of("17beta1"), "17");
        assert_eq!(major_of("9.6.24"), "9.6");
    }
}
