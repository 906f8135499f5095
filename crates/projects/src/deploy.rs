//! Deploying a project version into an environment, in one transaction: its flows (created or
//! published as a new version when they differ), the keystores, tables and websites the request
//! chooses with their actions, and the record of which version the environment holds. Any
//! failure rolls all of it back.

use crate::bundle::{XmlReader, row_of};
use crate::environments::{self, lock_environment, unknown_environment};
use crate::model::{Action, ProjectId, SiteKind};
use crate::request::{Choice, DeployRequest};
use crate::store::{self, StoredKeystore, StoredTable, StoredVersion, VersionRef};
use flowline_core::{EnvironmentId, Error, ErrorKind, OrgId, Tenant};
use flowline_db::PgConnection;
use flowline_flows::FlowDefinition;
use flowline_keystores::{
    EntryAddress, EntryKey, EntryValue, KeystoreError, KeystoreId, KeystoreType, NewKeystore,
};
use flowline_tables::{ColumnSpec, ExistingRow, NewTable, TableChanges, TableDefinition};
use serde_json::json;
use sqlx::Connection;

/// Where a deploy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployTarget {
    pub org_id: OrgId,
    pub environment_id: EnvironmentId,
    pub project_id: ProjectId,
}

impl DeployTarget {
    fn tenant(&self) -> Tenant {
        Tenant {
            org_id: self.org_id,
            environment_id: self.environment_id,
        }
    }
}

/// What a deploy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployed {
    pub version: i32,
    /// The version the environment held before, if any.
    pub previous_version: Option<i32>,
}

/// Deploys the project into the environment as `request` says; all or nothing.
#[tracing::instrument(skip_all, fields(org.id = %target.org_id, environment.id = %target.environment_id, project.id = %target.project_id))]
pub async fn deploy(
    conn: &mut PgConnection,
    target: DeployTarget,
    request: &DeployRequest,
    read_xml: XmlReader,
) -> Result<Deployed, Error> {
    let mut tx = conn.begin().await?;
    // Deploys into one environment happen one at a time.
    lock_environment(&mut tx, target.org_id, target.environment_id).await?;
    let project = store::project(&mut tx, target.org_id, target.project_id).await?;
    let previous_version =
        environments::deployed_version(&mut tx, target.tenant(), target.project_id).await?;
    let version = match request.source_environment {
        None => project.latest_version,
        Some(source) => source_version(&mut tx, target, source, previous_version).await?,
    };
    let at = VersionRef {
        org_id: target.org_id,
        project_id: target.project_id,
        version,
    };
    let stored = store::load_version(&mut tx, at).await?;
    check_choices(request, &stored, &project.name, version)?;
    record_deployment(&mut tx, target, version).await?;
    let tenant = target.tenant();
    deploy_flows(&mut tx, tenant, &stored).await?;
    for keystore in &stored.keystores {
        let action = request.keystores.action_for(&keystore.keystore_id);
        deploy_keystore(
            &mut tx,
            tenant,
            keystore,
            action,
            request.static_data,
            read_xml,
        )
        .await?;
    }
    for table in &stored.tables {
        let action = request.tables.action_for(&table.name);
        deploy_table(&mut tx, tenant, table, action, request.static_data).await?;
    }
    deploy_sites(&mut tx, target, at, &stored, request).await?;
    tx.commit().await?;
    Ok(Deployed {
        version,
        previous_version,
    })
}

/// The version the source environment holds, when it is newer than the one here.
async fn source_version(
    conn: &mut PgConnection,
    target: DeployTarget,
    source: EnvironmentId,
    current: Option<i32>,
) -> Result<i32, Error> {
    if source == target.environment_id {
        return Err(Error::invalid_field(
            "source_environment",
            "must be another environment than the one deployed to",
        ));
    }
    let source_tenant = Tenant {
        org_id: target.org_id,
        environment_id: source,
    };
    if !environments::exists(conn, source_tenant).await? {
        return Err(unknown_environment(source));
    }
    let held = environments::deployed_version(conn, source_tenant, target.project_id)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "Environment {source} does not hold project {}",
                target.project_id
            ))
        })?;
    if let Some(current) = current
        && current >= held
    {
        return Err(Error::conflict(format!(
            "Environment {source} holds version {held} of project {}, which is not newer than \
             version {current} in environment {}",
            target.project_id, target.environment_id
        )));
    }
    Ok(held)
}

/// Every item a request names must be in the version deployed.
fn check_choices(
    request: &DeployRequest,
    stored: &StoredVersion,
    project: &str,
    version: i32,
) -> Result<(), Error> {
    let check = |choice: &Choice, what: &str, names: &[&str]| -> Result<(), Error> {
        let Choice::Some(items) = choice else {
            return Ok(());
        };
        match items
            .iter()
            .find(|item| !names.contains(&item.name.as_str()))
        {
            Some(item) => Err(Error::invalid_field(
                &item.field,
                format!(
                    "project '{project}' (version {version}) has no {what} '{}'",
                    item.name.escape_debug()
                ),
            )),
            None => Ok(()),
        }
    };
    let keystores: Vec<&str> = stored
        .keystores
        .iter()
        .map(|keystore| keystore.keystore_id.as_str())
        .collect();
    let tables: Vec<&str> = stored
        .tables
        .iter()
        .map(|table| table.name.as_str())
        .collect();
    let websites: Vec<&str> = stored
        .sites
        .iter()
        .filter(|(kind, _)| *kind == SiteKind::Website)
        .map(|(_, name)| name.as_str())
        .collect();
    check(&request.keystores, "keystore", &keystores)?;
    check(&request.tables, "table", &tables)?;
    check(&request.websites, "website", &websites)
}

async fn record_deployment(
    conn: &mut PgConnection,
    target: DeployTarget,
    version: i32,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO environment_projects (org_id, environment_id, project_id, version) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, environment_id, project_id) \
         DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
    )
    .bind(target.org_id)
    .bind(target.environment_id)
    .bind(target.project_id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Each flow is created, or published as a new version when its current one differs.
async fn deploy_flows(
    conn: &mut PgConnection,
    tenant: Tenant,
    stored: &StoredVersion,
) -> Result<(), Error> {
    for json in &stored.flows {
        let definition = FlowDefinition::parse(json)?;
        let current = match flowline_flows::store::get(conn, tenant, definition.name()).await {
            Ok(view) => Some(view),
            Err(error) if error.kind() == ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let unchanged = current.is_some_and(|view| {
            view.name == definition.name()
                && view.draft.is_none()
                && view.current_definition.as_ref() == Some(&definition.to_json())
        });
        if !unchanged {
            flowline_flows::store::import(conn, tenant, &definition, true).await?;
        }
    }
    Ok(())
}

/// What happens to one keystore or table: its action, or only its structure, or nothing.
fn plan(action: Option<Action>, static_data: bool) -> Option<Option<Action>> {
    match (action, static_data) {
        (Some(action), _) => Some(Some(action)),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

async fn deploy_keystore(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore: &StoredKeystore,
    action: Option<Action>,
    static_data: bool,
    read_xml: XmlReader,
) -> Result<(), Error> {
    let Some(action) = plan(action, static_data) else {
        return Ok(());
    };
    let keystore_id = KeystoreId::parse(&keystore.keystore_id, "keystore_id")?;
    let data_type = KeystoreType::parse(&keystore.data_type, "type")?;
    let field = format!("keystores.{keystore_id}");
    let parse = |text: &str, what: &str| {
        EntryValue::parse(
            data_type,
            text.as_bytes(),
            read_xml,
            &format!("{field}.{what}"),
        )
    };
    let empty = keystore
        .empty_value
        .as_deref()
        .map(|text| parse(text, "empty"))
        .transpose()?;
    let new = NewKeystore {
        keystore_id: keystore_id.clone(),
        data_type,
        empty: empty.clone(),
    };
    if action == Some(Action::DeleteAndInsert) {
        match flowline_keystores::definitions::delete(conn, tenant, &keystore_id).await {
            Ok(()) | Err(KeystoreError::UnknownKeystore(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    match flowline_keystores::definitions::get(conn, tenant, &keystore_id).await {
        Ok(existing) if existing.data_type != data_type => {
            return Err(Error::conflict(format!(
                "Keystore '{keystore_id}' of this environment holds {} values and the \
                 project's holds {}: deploy it with 'delete and insert' to replace it",
                existing.data_type.as_str(),
                data_type.as_str()
            )));
        }
        Ok(_) => {
            if action == Some(Action::InsertOrUpdate) {
                flowline_keystores::definitions::set_empty(
                    conn,
                    tenant,
                    &keystore_id,
                    empty.as_ref(),
                )
                .await?;
            }
        }
        Err(KeystoreError::UnknownKeystore(_)) => {
            flowline_keystores::definitions::create(conn, tenant, &new).await?;
        }
        Err(error) => return Err(error.into()),
    }
    let Some(action) = action else {
        return Ok(());
    };
    for (key, text) in &keystore.entries.0 {
        let key = EntryKey::parse(key, &format!("{field}.entries"))?;
        let value = parse(text, &format!("entries.{key}"))?;
        let at = EntryAddress {
            tenant,
            keystore_id: &keystore_id,
            key: &key,
        };
        match action {
            Action::Insert | Action::DeleteAndInsert => {
                match flowline_keystores::entries::insert(conn, at, &value).await {
                    Ok(_) | Err(KeystoreError::KeyExists { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            Action::InsertOrUpdate => {
                flowline_keystores::entries::upsert(conn, at, &value).await?;
            }
        }
    }
    Ok(())
}

async fn deploy_table(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &StoredTable,
    action: Option<Action>,
    static_data: bool,
) -> Result<(), Error> {
    let Some(action) = plan(action, static_data) else {
        return Ok(());
    };
    let new = NewTable::parse(&json!({"name": table.name, "columns": table.columns.0}))?;
    if action == Some(Action::DeleteAndInsert) {
        match flowline_tables::delete_table(conn, tenant, &table.name).await {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    match flowline_tables::get_table(conn, tenant, &table.name).await {
        Ok(existing) => add_missing_columns(conn, tenant, &existing, &new).await?,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            flowline_tables::create_table(conn, tenant, &new).await?;
        }
        Err(error) => return Err(error),
    }
    let Some(action) = action else {
        return Ok(());
    };
    let field = format!("tables.{}.rows", table.name);
    let rows = table
        .rows
        .0
        .iter()
        .enumerate()
        .map(|(index, row)| row_of(row, &format!("{field}[{index}]")))
        .collect::<Result<Vec<_>, Error>>()?;
    let existing = match action {
        Action::InsertOrUpdate => ExistingRow::Update,
        Action::Insert | Action::DeleteAndInsert => ExistingRow::Keep,
    };
    flowline_tables::load_rows(conn, tenant, &table.name, &rows, existing, &field).await?;
    Ok(())
}

/// Adds the project's columns that the environment's table lacks; a column of both with
/// different types is a conflict (its values could not all be kept).
async fn add_missing_columns(
    conn: &mut PgConnection,
    tenant: Tenant,
    existing: &TableDefinition,
    new: &NewTable,
) -> Result<(), Error> {
    let mut missing: Vec<ColumnSpec> = Vec::new();
    for spec in &new.columns {
        match existing.column(spec.name.as_str()) {
            Some(column) if column.column_type != spec.column_type => {
                return Err(Error::conflict(format!(
                    "Column '{}' of table '{}' is of type {} in this environment and {} in the \
                     project: deploy the table with 'delete and insert' to replace it",
                    spec.name,
                    new.name,
                    column.column_type.as_str(),
                    spec.column_type.as_str()
                )));
            }
            Some(_) => {}
            None => missing.push(spec.clone()),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let changes = TableChanges {
        add_columns: missing,
        ..TableChanges::default()
    };
    flowline_tables::alter_table(conn, tenant, new.name.as_str(), &changes).await?;
    Ok(())
}

/// Websites as the request chooses them, and the version's hosted pages, which always replace
/// the project's pages in the environment.
async fn deploy_sites(
    conn: &mut PgConnection,
    target: DeployTarget,
    at: VersionRef,
    stored: &StoredVersion,
    request: &DeployRequest,
) -> Result<(), Error> {
    let websites: Vec<&str> = stored
        .sites
        .iter()
        .filter(|(kind, _)| *kind == SiteKind::Website)
        .map(|(_, name)| name.as_str())
        .collect();
    let pages: Vec<&str> = stored
        .sites
        .iter()
        .filter(|(kind, _)| *kind == SiteKind::HostedPage)
        .map(|(_, name)| name.as_str())
        .collect();
    remove_sites_not_in(conn, target, SiteKind::HostedPage, &pages).await?;
    if request.file_manager {
        remove_sites_not_in(conn, target, SiteKind::Website, &websites).await?;
    }
    for page in &pages {
        copy_site(
            conn,
            target,
            at,
            (SiteKind::HostedPage, page),
            Action::DeleteAndInsert,
        )
        .await?;
    }
    for website in &websites {
        let action = match request.websites.action_for(website) {
            Some(action) => action,
            None if request.file_manager => Action::DeleteAndInsert,
            None => continue,
        };
        copy_site(conn, target, at, (SiteKind::Website, website), action).await?;
    }
    Ok(())
}

async fn remove_sites_not_in(
    conn: &mut PgConnection,
    target: DeployTarget,
    kind: SiteKind,
    kept: &[&str],
) -> Result<(), Error> {
    sqlx::query(
        "DELETE FROM environment_site_files WHERE org_id = $1 AND environment_id = $2 \
         AND project_id = $3 AND kind = $4 AND NOT (name = ANY($5::text[]))",
    )
    .bind(target.org_id)
    .bind(target.environment_id)
    .bind(target.project_id)
    .bind(kind.as_str())
    .bind(kept)
    .execute(conn)
    .await?;
    Ok(())
}

/// Copies one website's (or page's) files of the version into the environment.
async fn copy_site(
    conn: &mut PgConnection,
    target: DeployTarget,
    at: VersionRef,
    (kind, name): (SiteKind, &str),
    action: Action,
) -> Result<(), Error> {
    if action == Action::DeleteAndInsert {
        sqlx::query(
            "DELETE FROM environment_site_files WHERE org_id = $1 AND environment_id = $2 \
             AND project_id = $3 AND kind = $4 AND name = $5",
        )
        .bind(target.org_id)
        .bind(target.environment_id)
        .bind(target.project_id)
        .bind(kind.as_str())
        .bind(name)
        .execute(&mut *conn)
        .await?;
    }
    let on_conflict = match action {
        Action::InsertOrUpdate => {
            "DO UPDATE SET content_type = EXCLUDED.content_type, \
             content_hash = EXCLUDED.content_hash, updated_at = now() \
             WHERE environment_site_files.content_hash <> EXCLUDED.content_hash \
             OR environment_site_files.content_type <> EXCLUDED.content_type"
        }
        Action::Insert | Action::DeleteAndInsert => "DO NOTHING",
    };
    let sql = format!(
        "INSERT INTO environment_site_files (org_id, environment_id, project_id, kind, name, \
         path, content_type, content_hash) SELECT org_id, $2, project_id, kind, name, path, \
         content_type, content_hash FROM project_files WHERE org_id = $1 AND project_id = $3 \
         AND version = $6 AND kind = $4 AND name = $5 \
         ON CONFLICT (org_id, environment_id, project_id, kind, name, path) {on_conflict}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(target.org_id)
        .bind(target.environment_id)
        .bind(target.project_id)
        .bind(kind.as_str())
        .bind(name)
        .bind(at.version)
        .execute(conn)
        .await?;
    Ok(())
}
