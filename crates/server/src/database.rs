//! Which PostgreSQL to use: `DATABASE_URL`, or the embedded cluster in the data directory —
//! owned by this process (`serve`), or borrowed from a running `serve` (`admin`, `migrate`).

use crate::config::DatabaseSettings;
use anyhow::Context;
use flowline_db::embedded::{ClusterSettings, EmbeddedCluster};
use flowline_db::{PgConnectOptions, PgPool};

/// An open pool, and the embedded cluster this process started for it, if any.
pub struct Database {
    pub pool: PgPool,
    pub cluster: Option<EmbeddedCluster>,
    pub description: String,
}

impl Database {
    /// Closes the pool, then stops the cluster this process started.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            cluster
                .stop()
                .await
                .context("stopping the embedded PostgreSQL")?;
        }
        Ok(())
    }
}

/// For `serve`: the external database, or a cluster of our own (refused when another process
/// already serves this data dir).
pub async fn open_owned(settings: &DatabaseSettings) -> anyhow::Result<Database> {
    if let Some(url) = &settings.database_url {
        return open_external(settings, url).await;
    }
    start_embedded(settings).await
}

/// For one-shot commands: the external database, the embedded cluster a running `serve`
/// owns, or one started for the duration of the command.
pub async fn open_shared(settings: &DatabaseSettings) -> anyhow::Result<Database> {
    if let Some(url) = &settings.database_url {
        return open_external(settings, url).await;
    }
    let running = EmbeddedCluster::attach_running(&settings.data_dir)
        .await
        .context("looking for a running embedded PostgreSQL")?;
    match running {
        Some(options) => {
            let pool = connect_and_migrate(options, settings.db_max_connections).await?;
            Ok(Database {
                pool,
                cluster: None,
                description: format!(
                    "the embedded PostgreSQL of the running server in {}",
                    settings.data_dir.display()
                ),
            })
        }
        None => start_embedded(settings).await,
    }
}

async fn open_external(settings: &DatabaseSettings, url: &str) -> anyhow::Result<Database> {
    let options = flowline_db::options_from_url(url).context("DATABASE_URL is not valid")?;
    let description = format!(
        "PostgreSQL at {}/{}",
        options.get_host(),
        options.get_database().unwrap_or("postgres")
    );
    let pool = connect_and_migrate(options, settings.db_max_connections).await?;
    Ok(Database {
        pool,
        cluster: None,
        description,
    })
}

async fn start_embedded(settings: &DatabaseSettings) -> anyhow::Result<Database> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data dir {}", settings.data_dir.display()))?;
    let cluster_settings = ClusterSettings {
        fsync: true,
        max_connections: (settings.db_max_connections * 2 + 20).max(100),
        extra: Vec::new(),
    };
    let cluster = EmbeddedCluster::start(&settings.data_dir, cluster_settings).await?;
    let pool = connect_and_migrate(
        cluster.connect_options("flowline"),
        settings.db_max_connections,
    )
    .await?;
    Ok(Database {
        pool,
        description: format!("embedded PostgreSQL in {}", cluster.data_dir().display()),
        cluster: Some(cluster),
    })
}

async fn connect_and_migrate(
    options: PgConnectOptions,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    let pool = flowline_db::connect(options, max_connections)
        .await
        .context("connecting to PostgreSQL")?;
    flowline_db::migrate(&pool)
        .await
        .context("applying migrations")?;
    Ok(pool)
}

/// `flowline migrate`.
pub async fn migrate_only(settings: &DatabaseSettings) -> anyhow::Result<()> {
    let database = open_shared(settings).await?;
    println!("Migrations applied to {}", database.description);
    database.close().await
}
