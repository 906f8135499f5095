//! `flowline admin …`: create organizations and applications, print their credentials once.

use crate::config::AdminCommand;
use crate::database::{self, Database};
use anyhow::Context;
use flowline_auth::{AllowList, NewApplication, parse_cidr};
use flowline_core::{EnvironmentId, OrgId, Scopes, Tenant};
use flowline_db::PgConnection;
use flowline_flows::FlowDefinition;
use flowline_keystores::{EntryValue, KeystoreId, KeystoreType, NewKeystore};
use flowline_webhooks::{Mapping, NewWebhook, WebhookId, WebhookSecret};
use serde_json::json;
use std::path::Path;

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Tables(command) => crate::admin_tables::run(command).await,
        AdminCommand::Projects(command) => crate::admin_projects::run(command).await,
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
        AdminCommand::ImportFlow {
            org,
            environment,
            publish,
            json,
            file,
            database,
        } => {
            let definition = read_flow_file(&file)?;
            let database = database::open_shared(&database).await?;
            let target = ImportTarget {
                org: &org,
                environment: environment.map(EnvironmentId),
            };
            let result = import_flow(&database, target, &definition, publish, json).await;
            database.close().await?;
            result
        }
        AdminCommand::ListOrgs { json, database } => {
            let database = database::open_shared(&database).await?;
            let result = list_orgs(&database, json).await;
            database.close().await?;
            result
        }
        AdminCommand::CreateWebhook {
            org,
            environment,
            flow,
            secret,
            mapping,
            json,
            database,
        } => {
            let webhook = NewWebhook {
                flow,
                secret: secret
                    .as_deref()
                    .map(WebhookSecret::parse)
                    .transpose()
                    .context("--secret")?,
                mapping: mapping.as_deref().map(read_mapping_file).transpose()?,
            };
            let database = database::open_shared(&database).await?;
            let environment = environment.map(EnvironmentId);
            let result = create_webhook(&database, (&org, environment), &webhook, json).await;
            database.close().await?;
            result
        }
        AdminCommand::ListWebhooks {
            org,
            json,
            database,
        } => {
            let database = database::open_shared(&database).await?;
            let result = list_webhooks(&database, &org, json).await;
            database.close().await?;
            result
        }
        AdminCommand::DeleteWebhook {
            org,
            webhook,
            json,
            database,
        } => {
            let database = database::open_shared(&database).await?;
            let result = delete_webhook(&database, &org, WebhookId(webhook), json).await;
            database.close().await?;
            result
        }
        AdminCommand::CreateKeystore {
            org,
            environment,
            id,
            data_type,
            empty,
            json,
            database,
        } => {
            let new = new_keystore(&id, &data_type, empty.as_deref())?;
            let database = database::open_shared(&database).await?;
            let environment = environment.map(EnvironmentId);
            let result = create_keystore(&database, (&org, environment), &new, json).await;
            database.close().await?;
            result
        }
        AdminCommand::ListKeystores {
            org,
            json,
            database,
        } => {
            let database = database::open_shared(&database).await?;
            let result = list_keystores(&database, &org, json).await;
            database.close().await?;
            result
        }
        AdminCommand::DeleteKeystore {
            org,
            environment,
            id,
            json,
            database,
        } => {
            let keystore_id = KeystoreId::parse(&id, "--id")?;
            let database = database::open_shared(&database).await?;
            let environment = environment.map(EnvironmentId);
            let result = delete_keystore(&database, (&org, environment), &keystore_id, json).await;
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

/// A flow definition file, parsed and validated before any database is opened.
fn read_flow_file(file: &Path) -> anyhow::Result<FlowDefinition> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the flow definition {}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    FlowDefinition::parse(&json).with_context(|| format!("{} is not a valid flow", file.display()))
}

/// Where an imported flow goes.
struct ImportTarget<'a> {
    org: &'a str,
    environment: Option<EnvironmentId>,
}

async fn import_flow(
    database: &Database,
    target: ImportTarget<'_>,
    definition: &FlowDefinition,
    publish: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, target.org).await?;
    let environment_id = match target.environment {
        Some(environment_id) => environment_id,
        None => default_environment(&mut conn, org_id).await?,
    };
    let tenant = Tenant {
        org_id,
        environment_id,
    };
    let imported = flowline_flows::store::import(&mut conn, tenant, definition, publish).await?;
    let view = &imported.view;
    if json {
        let summary = json!({
            "flow_id": view.flow_id,
            "name": view.name,
            "environment_id": environment_id,
            "created": imported.created,
            "status": view.status.as_str(),
            "published_version": imported.published_version,
        });
        println!("{summary}");
        return Ok(());
    }
    // The id alone on stdout, for scripts; the story on stderr.
    println!("{}", view.flow_id);
    let action = if imported.created {
        "created"
    } else {
        "updated with a new draft"
    };
    eprintln!("Flow '{}' {action} (id {}).", view.name, view.flow_id);
    if let Some(version) = imported.published_version {
        eprintln!(
            "Published as version {version}; status: {}.",
            view.status.as_str()
        );
    }
    Ok(())
}

async fn default_environment(
    conn: &mut PgConnection,
    org_id: OrgId,
) -> anyhow::Result<EnvironmentId> {
    flowline_auth::list_organizations(conn)
        .await?
        .into_iter()
        .find(|org| org.org_id == org_id)
        .map(|org| org.environment_id)
        .with_context(|| format!("organization {org_id} has no default environment"))
}

/// A mapping file: one JSON object of {record path: payload path}, checked before any database
/// is opened.
fn read_mapping_file(file: &Path) -> anyhow::Result<Mapping> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the mapping {}", file.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    Mapping::parse(&value).with_context(|| format!("{} is not a valid mapping", file.display()))
}

async fn create_webhook(
    database: &Database,
    (org, environment): (&str, Option<EnvironmentId>),
    webhook: &NewWebhook,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let tenant = flowline_webhooks::tenant_of_org(&mut conn, org_id, environment).await?;
    let created = flowline_webhooks::create(&mut conn, tenant, None, webhook).await?;
    if json {
        println!("{}", serde_json::to_string(&created)?);
        return Ok(());
    }
    let hook = &created.webhook;
    println!(
        "Webhook {} created for flow '{}' (id {}) in environment {}.",
        hook.webhook_id, hook.flow_name, hook.flow_id, hook.environment_id
    );
    println!("  webhook_uri: {}", created.webhook_uri);
    println!("  path:        {}", created.path);
    if let Some(header) = created.signature_header {
        println!("  signed:      senders send {header}: sha256=<hex HMAC-SHA256 of the body>");
    }
    println!("Keep the uri now: it is stored hashed and cannot be shown again.");
    Ok(())
}

async fn list_webhooks(database: &Database, org: &str, json: bool) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let webhooks = flowline_webhooks::list_for_org(&mut conn, org_id).await?;
    if json {
        println!("{}", serde_json::to_string(&webhooks)?);
        return Ok(());
    }
    for hook in webhooks {
        println!(
            "{}\tenvironment {}\tflow '{}' ({})\turi {}…\t{}",
            hook.webhook_id,
            hook.environment_id,
            hook.flow_name,
            hook.flow_id,
            hook.uri_prefix,
            if hook.signed { "signed" } else { "unsigned" }
        );
    }
    Ok(())
}

async fn delete_webhook(
    database: &Database,
    org: &str,
    webhook_id: WebhookId,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    flowline_webhooks::delete(&mut conn, org_id, None, webhook_id).await?;
    if json {
        println!("{}", json!({"webhook_id": webhook_id, "deleted": true}));
    } else {
        println!("Webhook {webhook_id} removed.");
    }
    Ok(())
}

/// A keystore definition from the command line, checked (its empty structure file too) before
/// any database is opened.
fn new_keystore(id: &str, data_type: &str, empty: Option<&Path>) -> anyhow::Result<NewKeystore> {
    let keystore_id = KeystoreId::parse(id, "--id")?;
    let data_type = KeystoreType::parse(data_type, "--type")?;
    let empty = empty
        .map(|file| {
            let bytes = std::fs::read(file)
                .with_context(|| format!("reading the empty structure {}", file.display()))?;
            EntryValue::parse(data_type, &bytes, flowline_gateway::from_xml, "--empty")
                .with_context(|| format!("{} is not a valid empty structure", file.display()))
        })
        .transpose()?;
    Ok(NewKeystore {
        keystore_id,
        data_type,
        empty,
    })
}

async fn create_keystore(
    database: &Database,
    (org, environment): (&str, Option<EnvironmentId>),
    new: &NewKeystore,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let tenant = flowline_webhooks::tenant_of_org(&mut conn, org_id, environment).await?;
    let created = flowline_keystores::definitions::create(&mut conn, tenant, new).await?;
    if json {
        println!("{}", serde_json::to_string(&created)?);
    } else {
        println!(
            "Keystore '{}' ({}) created in environment {}.",
            created.keystore_id,
            created.data_type.as_str(),
            created.environment_id
        );
    }
    Ok(())
}

async fn list_keystores(database: &Database, org: &str, json: bool) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let keystores = flowline_keystores::definitions::list_for_org(&mut conn, org_id).await?;
    if json {
        println!("{}", serde_json::to_string(&keystores)?);
        return Ok(());
    }
    for keystore in keystores {
        println!(
            "{}\tenvironment {}\t{}",
            keystore.keystore_id,
            keystore.environment_id,
            keystore.data_type.as_str()
        );
    }
    Ok(())
}

async fn delete_keystore(
    database: &Database,
    (org, environment): (&str, Option<EnvironmentId>),
    keystore_id: &KeystoreId,
    json: bool,
) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let tenant = flowline_webhooks::tenant_of_org(&mut conn, org_id, environment).await?;
    flowline_keystores::definitions::delete(&mut conn, tenant, keystore_id).await?;
    if json {
        let deleted = json!({
            "keystore_id": keystore_id,
            "environment_id": tenant.environment_id,
            "deleted": true,
        });
        println!("{deleted}");
    } else {
        println!(
            "Keystore '{keystore_id}' removed from environment {}, with its entries.",
            tenant.environment_id
        );
    }
    Ok(())
}
