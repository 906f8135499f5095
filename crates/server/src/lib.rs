//! The `flowline` binary's wiring: it reads the configuration once, opens the database (its own
//! embedded PostgreSQL unless `DATABASE_URL` is given), and runs one command: `serve`,
//! `migrate` or `admin …`. All behaviour lives in the library crates; `main.rs` only calls
//! [`main`], so that the test suite can build the very same program.

mod admin;
mod admin_projects;
mod admin_tables;
mod config;
mod database;
mod serve;
mod worker;

use clap::Parser;
use config::{Cli, Command};

/// The whole program: parse the command line, run the command.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(serve) => serve::run(serve).await,
        Command::Migrate(database) => database::migrate_only(&database).await,
        Command::Admin(command) => admin::run(command).await,
        Command::Worker(settings) => worker::run(settings).await,
    }
}

fn init_logging(log: &config::LogSettings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log.json {
        builder.json().init();
    } else {
        builder.init();
    }
}
