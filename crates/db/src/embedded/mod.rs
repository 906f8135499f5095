//! A PostgreSQL cluster that Flowline launches itself from the machine's installed PostgreSQL
//! binaries, for `flowline serve` without `DATABASE_URL` and for the throwaway test clusters.
//!
//! Layout of a data dir:
//!
//! ```text
//! <data_dir>/flowline.lock   flock held by the one flowline process serving this dir
//! <data_dir>/postgres.log    stdout/stderr of initdb and postgres
//! <data_dir>/pg/             the PostgreSQL cluster (PGDATA)
//! <data_dir>/run/            the unix socket; PostgreSQL listens on nothing else
//! ```
//!
//! **Architecture Invariant:** a postmaster started here never outlives the flowline process that
//! started it: it is spawned with `PR_SET_PDEATHSIG = SIGQUIT` from a thread that lives as long
//! as the postmaster, so a crashed or killed flowline takes its PostgreSQL down with it, and the
//! next start recovers the stale `postmaster.pid`.

mod binaries;
mod cluster;
mod layout;
mod postmaster;
mod privileges;

pub use binaries::PgBinaries;
pub use cluster::{ClusterSettings, EmbeddedCluster};
