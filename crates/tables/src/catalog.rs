//! Table definitions in PostgreSQL: creating, reading, changing and removing tables. Each
//! change writes the catalog rows and runs the matching DDL in one transaction, so the catalog
//! and the physical table never disagree.

use crate::column::ColumnType;
use crate::definition::{
    ColumnDefinition, ColumnSpec, NewTable, TableChanges, TableDefinition, TableId, not_indexable,
};
use crate::name::{ColumnName, TableName, shown};
use crate::physical;
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, Error, OrgId, Tenant};
use flowline_db::PgConnection;
use sqlx::Connection;

/// The most tables an environment may hold.
pub const MAX_TABLES_PER_ENVIRONMENT: i64 = 1000;
/// The most columns a table may have (besides `id`, `date_created` and `date_updated`).
pub const MAX_COLUMNS: usize = 200;

/// How long a change of definition waits for the rows' readers and writers before giving up
/// with a 409, rather than queueing every later request behind it.
const DDL_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '10s'";

/// Creates a table in the tenant's environment, with its physical table and indexes.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn create_table(
    conn: &mut PgConnection,
    tenant: Tenant,
    new: &NewTable,
) -> Result<TableDefinition, Error> {
    check_column_count(new.columns.len(), "columns")?;
    let mut tx = conn.begin().await?;
    let existing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data_tables WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_one(&mut *tx)
    .await?;
    if existing >= MAX_TABLES_PER_ENVIRONMENT {
        return Err(Error::conflict(format!(
            "This environment already has {MAX_TABLES_PER_ENVIRONMENT} tables, the most it may \
             have"
        )));
    }
    let columns: Vec<ColumnDefinition> = new
        .columns
        .iter()
        .zip(1..)
        .map(|(spec, column_id)| column_from_spec(spec, column_id))
        .collect();
    let next_column_id = i32::try_from(columns.len() + 1).unwrap_or(i32::MAX);
    let inserted: Result<(TableId, DateTime<Utc>), Error> = sqlx::query_as(
        "INSERT INTO data_tables (org_id, environment_id, name, next_column_id) \
         VALUES ($1, $2, $3, $4) RETURNING table_id, created_at",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(new.name.as_str())
    .bind(next_column_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::from);
    let (table_id, _) = inserted.map_err(|error| {
        if error.is_unique_violation("data_tables_name_key") {
            Error::conflict(format!("Table '{}' already exists", new.name))
        } else {
            error
        }
    })?;
    insert_columns(&mut tx, tenant.org_id, table_id, &columns).await?;
    execute_ddl(&mut tx, physical::create_table(table_id, &columns)).await?;
    for column in columns.iter().filter(|column| column.indexed) {
        execute_ddl(&mut tx, physical::create_index(table_id, column.column_id)).await?;
    }
    let definition = load(&mut tx, tenant.org_id, table_id)
        .await?
        .ok_or_else(|| Error::internal("a table just created is missing from the catalog"))?;
    tx.commit().await?;
    Ok(definition)
}

fn check_column_count(count: usize, field: &str) -> Result<(), Error> {
    if count > MAX_COLUMNS {
        return Err(Error::invalid_field(
            field,
            format!("a table has at most {MAX_COLUMNS} columns"),
        ));
    }
    Ok(())
}

fn column_from_spec(spec: &ColumnSpec, column_id: i32) -> ColumnDefinition {
    ColumnDefinition {
        column_id,
        name: spec.name.clone(),
        column_type: spec.column_type,
        indexed: spec.index,
    }
}

async fn insert_columns(
    conn: &mut PgConnection,
    org_id: OrgId,
    table_id: TableId,
    columns: &[ColumnDefinition],
) -> Result<(), Error> {
    if columns.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = columns.iter().map(|column| column.column_id).collect();
    let names: Vec<&str> = columns.iter().map(|column| column.name.as_str()).collect();
    let types: Vec<&str> = columns
        .iter()
        .map(|column| column.column_type.as_str())
        .collect();
    let indexed: Vec<bool> = columns.iter().map(|column| column.indexed).collect();
    sqlx::query(
        "INSERT INTO data_table_columns (org_id, table_id, column_id, name, column_type, indexed) \
         SELECT $1, $2, * FROM unnest($3::int[], $4::text[], $5::text[], $6::bool[])",
    )
    .bind(org_id)
    .bind(table_id)
    .bind(&ids)
    .bind(&names)
    .bind(&types)
    .bind(&indexed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Runs a statement of [`physical`], turning the database's refusals into client errors.
async fn execute_ddl(conn: &mut PgConnection, sql: String) -> Result<(), Error> {
    sqlx::raw_sql(physical::trusted(sql))
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(ddl_error)
}

fn ddl_error(error: sqlx::Error) -> Error {
    let code = match &error {
        sqlx::Error::Database(database) => database.code().map(|code| code.into_owned()),
        _ => None,
    };
    match code.as_deref() {
        // lock_not_available: readers or writers held the table past the lock timeout.
        Some("55P03") => Error::conflict(
            "The table is in use by other requests; try the change again in a moment",
        ),
        // too_many_columns: PostgreSQL counts dropped columns too, up to 1600.
        Some("54011") => Error::conflict(
            "This table has had too many columns added over its life; create a new table",
        ),
        // program_limit_exceeded: a stored value is too long for a btree entry.
        Some("54000") => Error::conflict(format!(
            "The column holds values longer than an index entry can hold (keep them under {} \
             bytes to index it)",
            crate::value::MAX_INDEXED_TEXT_BYTES
        )),
        _ => Error::from(error),
    }
}

#[derive(sqlx::FromRow)]
struct CatalogRow {
    table_id: TableId,
    environment_id: EnvironmentId,
    table_name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    column_id: Option<i32>,
    column_name: Option<String>,
    column_type: Option<String>,
    indexed: Option<bool>,
}

/// Definitions with their columns in one statement; `$1` is the organization and the tail
/// narrows it. Rows come ordered by table, then column.
macro_rules! catalog_query {
    ($tail:literal) => {
        concat!(
            "SELECT t.table_id, t.environment_id, t.name AS table_name, t.created_at, ",
            "t.updated_at, c.column_id, c.name AS column_name, c.column_type, c.indexed ",
            "FROM data_tables t LEFT JOIN data_table_columns c ",
            "ON c.org_id = t.org_id AND c.table_id = t.table_id WHERE t.org_id = $1 ",
            $tail
        )
    };
}

fn definitions(rows: Vec<CatalogRow>) -> Result<Vec<TableDefinition>, Error> {
    let mut tables: Vec<TableDefinition> = Vec::new();
    for row in rows {
        let same_table = tables
            .last()
            .is_some_and(|table| table.table_id == row.table_id);
        if !same_table {
            tables.push(TableDefinition {
                table_id: row.table_id,
                environment_id: row.environment_id,
                name: TableName::from_catalog(row.table_name),
                columns: Vec::new(),
                created_at: row.created_at,
                updated_at: row.updated_at,
            });
        }
        let (Some(column_id), Some(name), Some(column_type), Some(indexed)) =
            (row.column_id, row.column_name, row.column_type, row.indexed)
        else {
            continue;
        };
        let column_type = ColumnType::parse(&column_type).ok_or_else(|| {
            Error::internal(format!(
                "the catalog holds an unknown column type {column_type}"
            ))
        })?;
        if let Some(table) = tables.last_mut() {
            table.columns.push(ColumnDefinition {
                column_id,
                name: ColumnName::from_catalog(name),
                column_type,
                indexed,
            });
        }
    }
    Ok(tables)
}

/// The definition of table `table_id` of the organization, if it exists.
pub(crate) async fn load(
    conn: &mut PgConnection,
    org_id: OrgId,
    table_id: TableId,
) -> Result<Option<TableDefinition>, Error> {
    let rows: Vec<CatalogRow> =
        sqlx::query_as(catalog_query!("AND t.table_id = $2 ORDER BY c.column_id"))
            .bind(org_id)
            .bind(table_id)
            .fetch_all(conn)
            .await?;
    Ok(definitions(rows)?.pop())
}

pub(crate) fn unknown_table(name: &str) -> Error {
    Error::not_found(format!("Table {} does not exist", shown(name)))
}

/// The id of the tenant's table `name`.
pub(crate) async fn resolve(
    conn: &mut PgConnection,
    tenant: Tenant,
    name: &str,
) -> Result<TableId, Error> {
    let found: Option<TableId> = sqlx::query_scalar(
        "SELECT table_id FROM data_tables WHERE org_id = $1 AND environment_id = $2 AND name = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    found.ok_or_else(|| unknown_table(name))
}

/// The tenant's table `name`.
pub async fn get_table(
    conn: &mut PgConnection,
    tenant: Tenant,
    name: &str,
) -> Result<TableDefinition, Error> {
    let rows: Vec<CatalogRow> = sqlx::query_as(catalog_query!(
        "AND t.environment_id = $2 AND t.name = $3 ORDER BY c.column_id"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(name)
    .fetch_all(conn)
    .await?;
    definitions(rows)?.pop().ok_or_else(|| unknown_table(name))
}

/// The tables of the tenant's environment, by name.
pub async fn list_tables(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<Vec<TableDefinition>, Error> {
    let rows: Vec<CatalogRow> = sqlx::query_as(catalog_query!(
        "AND t.environment_id = $2 ORDER BY t.name, c.column_id"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_all(conn)
    .await?;
    definitions(rows)
}

/// Every table of an organization, in all its environments (for operators).
pub async fn list_tables_for_org(
    conn: &mut PgConnection,
    org_id: OrgId,
) -> Result<Vec<TableDefinition>, Error> {
    let rows: Vec<CatalogRow> = sqlx::query_as(catalog_query!(
        "ORDER BY t.environment_id, t.name, c.column_id"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    definitions(rows)
}

/// Locks the tenant's table `name` for a change of definition (changes of one table happen
/// one at a time), and reads its definition and next column number.
async fn lock_for_change(
    conn: &mut PgConnection,
    tenant: Tenant,
    name: &str,
) -> Result<(TableDefinition, i32), Error> {
    sqlx::raw_sql(DDL_LOCK_TIMEOUT).execute(&mut *conn).await?;
    let locked: Option<(TableId, i32)> = sqlx::query_as(
        "SELECT table_id, next_column_id FROM data_tables \
         WHERE org_id = $1 AND environment_id = $2 AND name = $3 FOR UPDATE",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(ddl_error)?;
    let (table_id, next_column_id) = locked.ok_or_else(|| unknown_table(name))?;
    let definition = load(conn, tenant.org_id, table_id)
        .await?
        .ok_or_else(|| unknown_table(name))?;
    Ok((definition, next_column_id))
}

/// What a change does, checked against the table as it is.
#[derive(Debug, Default)]
struct Plan {
    drop_columns: Vec<i32>,
    add_columns: Vec<ColumnDefinition>,
    drop_indexes: Vec<i32>,
    add_indexes: Vec<i32>,
}

/// Checks `changes` against `definition`, in the order they apply; returns what to do and the
/// columns as they will be.
fn plan(
    definition: &TableDefinition,
    changes: &TableChanges,
    next_column_id: i32,
) -> Result<(Plan, Vec<ColumnDefinition>), Error> {
    let mut plan = Plan::default();
    let mut columns = definition.columns.clone();
    let position = |columns: &[ColumnDefinition], name: &str, field: &str| {
        columns
            .iter()
            .position(|column| column.name.as_str() == name)
            .ok_or_else(|| Error::invalid_field(field, definition.unknown_column(name)))
    };
    for (index, name) in changes.drop_columns.iter().enumerate() {
        let at = position(&columns, name, &format!("drop_columns[{index}]"))?;
        plan.drop_columns.push(columns.remove(at).column_id);
    }
    let mut column_id = next_column_id;
    for (index, spec) in changes.add_columns.iter().enumerate() {
        if columns.iter().any(|column| column.name == spec.name) {
            return Err(Error::conflict(format!(
                "add_columns[{index}].name: column '{}' already exists in table '{}'",
                spec.name, definition.name
            )));
        }
        let column = column_from_spec(spec, column_id);
        column_id = column_id.saturating_add(1);
        plan.add_columns.push(column.clone());
        columns.push(column);
    }
    check_column_count(columns.len(), "add_columns")?;
    for (index, name) in changes.drop_indexes.iter().enumerate() {
        let field = format!("drop_indexes[{index}]");
        let at = position(&columns, name, &field)?;
        if !columns[at].indexed {
            return Err(Error::conflict(format!(
                "{field}: column '{name}' has no index"
            )));
        }
        columns[at].indexed = false;
        let column_id = columns[at].column_id;
        // A column added by this change has no physical index yet to drop.
        if !plan
            .add_columns
            .iter()
            .any(|added| added.column_id == column_id)
        {
            plan.drop_indexes.push(column_id);
        }
    }
    for (index, name) in changes.add_indexes.iter().enumerate() {
        let field = format!("add_indexes[{index}]");
        let at = position(&columns, name, &field)?;
        if !columns[at].column_type.indexable() {
            return Err(not_indexable(&field, &columns[at].name));
        }
        if columns[at].indexed {
            return Err(Error::conflict(format!(
                "{field}: column '{name}' is already indexed"
            )));
        }
        columns[at].indexed = true;
        plan.add_indexes.push(columns[at].column_id);
    }
    // A column added with an index and not dropped since gets its index with the others.
    for column in &plan.add_columns {
        let still_indexed = columns
            .iter()
            .any(|kept| kept.column_id == column.column_id && kept.indexed);
        if still_indexed && !plan.add_indexes.contains(&column.column_id) {
            plan.add_indexes.push(column.column_id);
        }
    }
    Ok((plan, columns))
}

/// Applies `changes` to the tenant's table `name`, in one transaction.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn alter_table(
    conn: &mut PgConnection,
    tenant: Tenant,
    name: &str,
    changes: &TableChanges,
) -> Result<TableDefinition, Error> {
    changes.check_not_empty()?;
    let mut tx = conn.begin().await?;
    let (definition, next_column_id) = lock_for_change(&mut tx, tenant, name).await?;
    let (plan, columns) = plan(&definition, changes, next_column_id)?;
    let table_id = definition.table_id;
    for column_id in &plan.drop_columns {
        execute_ddl(&mut tx, physical::drop_column(table_id, *column_id)).await?;
    }
    for column in &plan.add_columns {
        execute_ddl(
            &mut tx,
            physical::add_column(table_id, column.column_id, column.column_type),
        )
        .await?;
    }
    for column_id in &plan.drop_indexes {
        execute_ddl(&mut tx, physical::drop_index(table_id, *column_id)).await?;
    }
    for column_id in &plan.add_indexes {
        execute_ddl(&mut tx, physical::create_index(table_id, *column_id)).await?;
    }
    rewrite_columns(&mut tx, tenant.org_id, table_id, &columns).await?;
    let next_column_id =
        next_column_id.saturating_add(i32::try_from(plan.add_columns.len()).unwrap_or(i32::MAX));
    sqlx::query(
        "UPDATE data_tables SET next_column_id = $3, updated_at = now() \
         WHERE org_id = $1 AND table_id = $2",
    )
    .bind(tenant.org_id)
    .bind(table_id)
    .bind(next_column_id)
    .execute(&mut *tx)
    .await?;
    let definition = load(&mut tx, tenant.org_id, table_id)
        .await?
        .ok_or_else(|| Error::internal("a table just changed is missing from the catalog"))?;
    tx.commit().await?;
    Ok(definition)
}

/// Replaces the catalog's columns of a table with `columns` (the table is locked).
async fn rewrite_columns(
    conn: &mut PgConnection,
    org_id: OrgId,
    table_id: TableId,
    columns: &[ColumnDefinition],
) -> Result<(), Error> {
    sqlx::query("DELETE FROM data_table_columns WHERE org_id = $1 AND table_id = $2")
        .bind(org_id)
        .bind(table_id)
        .execute(&mut *conn)
        .await?;
    insert_columns(conn, org_id, table_id, columns).await
}

/// Removes the tenant's table `name` with all its rows.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn delete_table(
    conn: &mut PgConnection,
    tenant: Tenant,
    name: &str,
) -> Result<(), Error> {
    let mut tx = conn.begin().await?;
    let (definition, _) = lock_for_change(&mut tx, tenant, name).await?;
    execute_ddl(&mut tx, physical::drop_table(definition.table_id)).await?;
    sqlx::query("DELETE FROM data_tables WHERE org_id = $1 AND table_id = $2")
        .bind(tenant.org_id)
        .bind(definition.table_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::definition::TableChanges;
    use serde_json::json;

    fn table() -> TableDefinition {
        let column = |column_id, name: &str, column_type, indexed| ColumnDefinition {
            column_id,
            name: ColumnName::from_catalog(name.into()),
            column_type,
            indexed,
        };
        TableDefinition {
            table_id: TableId(1),
            environment_id: EnvironmentId(1),
            name: TableName::from_catalog("users".into()),
            columns: vec![
                column(1, "name", ColumnType::String, true),
                column(2, "age", ColumnType::Integer, false),
                column(4, "meta", ColumnType::Json, false),
            ],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn planned(changes: serde_json::Value) -> Result<(Plan, Vec<ColumnDefinition>), String> {
        let changes = TableChanges::parse(&changes).map_err(|e| e.public_message())?;
        plan(&table(), &changes, 5).map_err(|e| e.public_message())
    }

    #[test]
    fn changes_apply_drops_then_adds_then_indexes() {
        let (plan, columns) = planned(json!({
            "drop_columns": ["age"],
            "add_columns": [{"name": "age", "type": "number", "index": true},
                            {"name": "city", "type": "string"}],
            "drop_indexes": ["name"],
            "add_indexes": ["city"],
        }))
        .unwrap();
        assert_eq!(plan.drop_columns, vec![2]);
        assert_eq!(
            plan.add_columns
                .iter()
                .map(|c| c.column_id)
                .collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert_eq!(plan.drop_indexes, vec![1]);
        assert_eq!(plan.add_indexes, vec![6, 5]);
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["name", "meta", "age", "city"]);
    }

    #[test]
    fn impossible_changes_are_refused_with_their_field() {
        let cases = [
            (
                json!({"drop_columns": ["nope"]}),
                "drop_columns[0]: unknown column 'nope'",
            ),
            (
                json!({"add_columns": [{"name": "age", "type": "integer"}]}),
                "add_columns[0].name: column 'age' already exists",
            ),
            (
                json!({"drop_indexes": ["age"]}),
                "drop_indexes[0]: column 'age' has no index",
            ),
            (
                json!({"add_indexes": ["name"]}),
                "add_indexes[0]: column 'name' is already indexed",
            ),
            (
                json!({"add_indexes": ["meta"]}),
                "add_indexes[0]: column 'meta' is of type json",
            ),
            (
                json!({"drop_columns": ["age"], "add_indexes": ["age"]}),
                "add_indexes[0]: unknown column 'age'",
            ),
        ];
        for (changes, expected) in cases {
            let message = planned(changes.clone()).map(|_| ()).unwrap_err();
            assert!(message.starts_with(expected), "{changes}: {message}");
        }
    }
}
