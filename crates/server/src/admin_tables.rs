//! `flowline admin create-table | list-tables | alter-table | delete-table`: table definitions
//! for operators, as the admin API's `/admin/v1/orgs/{org}/tables` has them.

use crate::config::DatabaseSettings;
use crate::database::{self, Database};
use anyhow::Context;
use clap::Subcommand;
use flowline_core::{EnvironmentId, Tenant};
use flowline_tables::{ColumnSpec, NewTable, TableChanges, TableDefinition, TableName};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Create a table: its name, typed columns and indexes.
    CreateTable {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// The table's name, as in /v1/tables/{name}/….
        #[arg(long)]
        name: String,
        /// A column, NAME:TYPE (repeatable); TYPE is string, integer, number, boolean, date,
        /// datetime or json.
        #[arg(long = "column")]
        columns: Vec<String>,
        /// Index this column (repeatable); it must be one of the --column.
        #[arg(long = "index")]
        indexes: Vec<String>,
        /// Print exactly one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// List the tables of an organization, in every environment.
    ListTables {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Change a table: drop columns, add columns, drop indexes, add indexes (in that order, in
    /// one transaction).
    AlterTable {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// The table's name.
        #[arg(long)]
        name: String,
        /// A column to add, NAME:TYPE (repeatable).
        #[arg(long = "add-column")]
        add_columns: Vec<String>,
        /// A column to drop, with its values (repeatable).
        #[arg(long = "drop-column")]
        drop_columns: Vec<String>,
        /// A column to index (repeatable).
        #[arg(long = "index")]
        add_indexes: Vec<String>,
        /// A column whose index to drop (repeatable).
        #[arg(long = "drop-index")]
        drop_indexes: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Remove a table and all its rows.
    DeleteTable {
        /// The organization's name or id.
        #[arg(long)]
        org: String,
        /// Environment id (default: the organization's default environment).
        #[arg(long)]
        environment: Option<i64>,
        /// The table's name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

pub async fn run(command: TableCommand) -> anyhow::Result<()> {
    match command {
        TableCommand::CreateTable {
            org,
            environment,
            name,
            columns,
            indexes,
            json,
            database,
        } => {
            let new = new_table(&name, &columns, &indexes)?;
            let database = database::open_shared(&database).await?;
            let result = create_table(&database, (&org, environment), &new, json).await;
            database.close().await?;
            result
        }
        TableCommand::ListTables {
            org,
            json,
            database,
        } => {
            let database = database::open_shared(&database).await?;
            let result = list_tables(&database, &org, json).await;
            database.close().await?;
            result
        }
        TableCommand::AlterTable {
            org,
            environment,
            name,
            add_columns,
            drop_columns,
            add_indexes,
            drop_indexes,
            json,
            database,
        } => {
            let changes = TableChanges {
                drop_columns,
                add_columns: add_columns
                    .iter()
                    .map(|text| ColumnSpec::parse_pair(text, "--add-column"))
                    .collect::<Result<_, _>>()?,
                drop_indexes,
                add_indexes,
            };
            changes
                .check_not_empty()
                .context("name a change: --add-column, --drop-column, --index or --drop-index")?;
            let database = database::open_shared(&database).await?;
            let result = alter_table(&database, (&org, environment), &name, &changes, json).await;
            database.close().await?;
            result
        }
        TableCommand::DeleteTable {
            org,
            environment,
            name,
            json,
            database,
        } => {
            let database = database::open_shared(&database).await?;
            let result = delete_table(&database, (&org, environment), &name, json).await;
            database.close().await?;
            result
        }
    }
}

/// The table the command line describes, checked before any database is opened.
fn new_table(name: &str, columns: &[String], indexes: &[String]) -> anyhow::Result<NewTable> {
    let name = TableName::parse(name, "--name")?;
    let mut specs = columns
        .iter()
        .map(|text| ColumnSpec::parse_pair(text, "--column"))
        .collect::<Result<Vec<_>, _>>()?;
    for index in indexes {
        let spec = specs
            .iter_mut()
            .find(|spec| spec.name.as_str() == index)
            .with_context(|| format!("--index '{index}' names no --column"))?;
        anyhow::ensure!(
            spec.column_type.indexable(),
            "--index '{index}': a json column cannot be indexed"
        );
        spec.index = true;
    }
    Ok(NewTable::new(name, specs)?)
}

async fn tenant(
    database: &Database,
    (org, environment): (&str, Option<i64>),
) -> anyhow::Result<Tenant> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    Ok(flowline_webhooks::tenant_of_org(&mut conn, org_id, environment.map(EnvironmentId)).await?)
}

fn describe(table: &TableDefinition) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|column| {
            let indexed = if column.indexed { " (indexed)" } else { "" };
            format!("{}:{}{indexed}", column.name, column.column_type)
        })
        .collect();
    format!(
        "'{}' in environment {}: {}",
        table.name,
        table.environment_id,
        if columns.is_empty() {
            "no columns".to_owned()
        } else {
            columns.join(", ")
        }
    )
}

async fn create_table(
    database: &Database,
    target: (&str, Option<i64>),
    new: &NewTable,
    json: bool,
) -> anyhow::Result<()> {
    let tenant = tenant(database, target).await?;
    let mut conn = database.pool.acquire().await?;
    let table = flowline_tables::create_table(&mut conn, tenant, new).await?;
    if json {
        println!("{}", table.to_json());
    } else {
        println!("Table {} created.", describe(&table));
    }
    Ok(())
}

async fn list_tables(database: &Database, org: &str, json: bool) -> anyhow::Result<()> {
    let mut conn = database.pool.acquire().await?;
    let org_id = flowline_auth::find_organization(&mut conn, org).await?;
    let tables = flowline_tables::list_tables_for_org(&mut conn, org_id).await?;
    if json {
        let list: Vec<_> = tables.iter().map(TableDefinition::to_json).collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for table in &tables {
            println!("{}", describe(table));
        }
    }
    Ok(())
}

async fn alter_table(
    database: &Database,
    target: (&str, Option<i64>),
    name: &str,
    changes: &TableChanges,
    json: bool,
) -> anyhow::Result<()> {
    let tenant = tenant(database, target).await?;
    let mut conn = database.pool.acquire().await?;
    let table = flowline_tables::alter_table(&mut conn, tenant, name, changes).await?;
    if json {
        println!("{}", table.to_json());
    } else {
        println!("Table {} changed.", describe(&table));
    }
    Ok(())
}

async fn delete_table(
    database: &Database,
    target: (&str, Option<i64>),
    name: &str,
    json: bool,
) -> anyhow::Result<()> {
    let tenant = tenant(database, target).await?;
    let mut conn = database.pool.acquire().await?;
    flowline_tables::delete_table(&mut conn, tenant, name).await?;
    if json {
        println!(
            "{}",
            json!({"name": name, "environment_id": tenant.environment_id, "deleted": true})
        );
    } else {
        println!(
            "Table '{name}' removed from environment {}, with its rows.",
            tenant.environment_id
        );
    }
    Ok(())
}
