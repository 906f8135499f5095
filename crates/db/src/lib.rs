//! flowline-db owns the connection pool, the migrations (the SQL files in `/migrations`, embedded
//! at compile time), and the PostgreSQL that Flowline can launch itself from the machine's
//! installed binaries ([`embedded`]) or per test process ([`throwaway`]). It never holds business
//! rules: no table of the domain is named here, and no service logic lives here.

mod error;

pub mod embedded;
pub mod throwaway;

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

pub use error::DbError;
pub use sqlx::postgres::PgConnectOptions;
pub use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// The migrations of `/migrations`, embedded at compile time (see `build.rs` for rebuilds).
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Connects a pool of at most `max_connections` connections.
///
/// It fails fast when the server is unreachable, rather than returning a pool that would fail on
/// first use, so that a bad `DATABASE_URL` is reported at start-up.
pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<PgPool, DbError> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // A ping before every checkout costs a round trip per request; a broken connection
        // surfaces as an error of the statement instead, and the pool replaces it.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Parses a `postgres://user:password@host:port/database?…` URL (a `DATABASE_URL`).
pub fn options_from_url(url: &str) -> Result<PgConnectOptions, DbError> {
    PgConnectOptions::from_str(url).map_err(DbError::InvalidUrl)
}

/// Applies every migration of `/migrations` that the database has not seen yet.
///
/// sqlx takes a PostgreSQL advisory lock (`pg_advisory_lock`) for the duration of the run, so
/// several Flowline processes starting at once against the same database are safe: one applies
/// the migrations, the others wait and then find nothing left to do. Applied migrations are
/// recorded in `_sqlx_migrations` with their checksum; an edited migration is an error.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await.map_err(DbError::Migrate)
}

/// A fingerprint of the embedded migrations (versions and checksums), stable across processes
/// and builds: the same migrations give the same value. Used to name shared test templates.
pub(crate) fn migrations_fingerprint() -> u64 {
    // FNV-1a, because std's hasher is not promised to be stable across Rust releases.
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for migration in MIGRATOR.iter() {
        let version = migration.version.to_le_bytes();
        for byte in version.iter().chain(migration.checksum.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// `name` as a PostgreSQL identifier, for statements that cannot take bind parameters (such as
/// `CREATE DATABASE`): quoted, with embedded quotes doubled.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
