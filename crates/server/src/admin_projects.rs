//! `flowline admin create-project --org NAME DIR`: a new version of a project from a directory
//! (see `flowline_projects::bundle` and the README for its layout), checked whole before the
//! database is opened.

use crate::config::DatabaseSettings;
use crate::database;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a new version of a project from a directory: project.json, flows/*.json,
    /// keystores/<id>.json, tables/<name>.json, websites/<slug>/…, hostedpages/<name>.html.
    /// The project is the organization's project of the directory's name (project.json's
    /// "name", else the directory's own), created at version 1 when it does not exist.
    CreateProject {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// The project directory.
        dir: PathBuf,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

pub async fn run(command: ProjectCommand) -> anyhow::Result<()> {
    match command {
        ProjectCommand::CreateProject {
            org,
            dir,
            json,
            database,
        } => {
            let bundle = flowline_projects::read_project_dir(&dir, flowline_gateway::from_xml)
                .with_context(|| format!("{} is not a valid project", dir.display()))?;
            let database = database::open_shared(&database).await?;
            let result = async {
                let mut conn = database.pool.acquire().await?;
                let org_id = flowline_auth::find_organization(&mut conn, &org).await?;
                let created = flowline_projects::create_version(&mut conn, org_id, &bundle).await?;
                anyhow::Ok(created)
            }
            .await;
            database.close().await?;
            let created = result?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                // The id and version on stdout, for scripts; the story on stderr.
                println!("{} {}", created.project_id, created.version);
                eprintln!(
                    "Project '{}' (id {}) {} version {}: {} flows, {} keystores, {} tables, {} \
                     website files and hosted pages.",
                    created.name,
                    created.project_id,
                    if created.created {
                        "created at"
                    } else {
                        "has a new"
                    },
                    created.version,
                    bundle.flows.len(),
                    bundle.keystores.len(),
                    bundle.tables.len(),
                    bundle.files.len()
                );
            }
            Ok(())
        }
    }
}
