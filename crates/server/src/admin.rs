//! `flowline admin …`: create organizations and applications, print their credentials once.

use crate::config::AdminCommand;
use crate::database::{self, Database};
use anyhow::Context;
use flowline_auth::{AllowList, NewApplication, parse_cidr};
use flowline_core::{EnvironmentId, Scopes};

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateOrg {
            name,
            json,
            database,
        } => {
            let database = database::open_shared(&database).await?;
            let result = create_org(&database, &name, json).await;
            database.close().await?;
            result
        }
        AdminCommand::CreateApp {
            org,
            name,
            environment,
            scopes,
            allow_ips,
            oauth2,
            rate_limit,
            json,
            database,
        } => {
            let application = NewApplication {
                name,
                environment_id: environment.map(EnvironmentId),
                scopes: Scopes::parse_list(&scopes.join(",")).context("--scopes")?,
                allowed_ips: parse_allow_list(&allow_ips)?,
                oauth2,
                rate_limit,
            };
            let database = database::open_shared(&database).await?;
            let result = create_app(&database, &org, application, json).await;
            database.close().await?;
            result
        }
        AdminCommand::ListOrgs { json, database } => {
            let database = database::open_shared(&database).await?;
            let result = list_orgs(&database, json).await;
            database.close().await?;
            result
        }
    }
}

fn parse_allow_list(items: &[String]) -> anyhow::Result<AllowList> {
    let networks = items
        .iter()
        .map(|item| {
            parse_cidr(item)
                .with_context(|| format!("--allow-ip '{item}' is not an address or CIDR network"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(AllowList::new(networks))
}

async fn create_org(database: &Database, name: &str, json: bool) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let created = flowline_auth::create_organization(&mut conn, name).await?;
    if json {
        println!("{}", serde_json::to_string(&created)?);
    } else {
        println!(
            "Organization '{}' created (id {}).",
            created.name, created.org_id
        );
        println!("  api_key (X-Apikey):     {}", created.api_key);
        println!("  organization_api_key:   {}", created.organization_api_key);
        println!("  default environment id: {}", created.environment_id);
        println!("Keep the keys now: they are stored hashed and cannot be shown again.");
    }
    Ok(())
}

async fn create_app(
    database: &Database,
    org: &str,
    application: NewApplication,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let created = flowline_auth::create_application(&mut conn, org_id, application).await?;
    if json {
        println!("{}", serde_json::to_string(&created)?);
    } else {
        println!(
            "Application '{}' created in environment {}.",
            created.app_key, created.environment_id
        );
        println!("  app_key (X-App): {}", created.app_key);
        println!("  client_id:       {}", created.client_id);
        println!("  client_secret:   {}", created.client_secret);
        println!("  scopes:          {}", created.scopes.join(","));
        println!("Keep the client secret now: it is stored hashed and cannot be shown again.");
    }
    Ok(())
}

async fn list_orgs(database: &Database, json: bool) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let organizations = flowline_auth::list_organizations(&mut conn).await?;
    if json {
        println!("{}", serde_json::to_string(&organizations)?);
    } else {
        for org in organizations {
            println!(
                "{}\t{}\tdefault environment {}",
                org.org_id, org.name, org.environment_id
            );
        }
    }
    Ok(())
}
