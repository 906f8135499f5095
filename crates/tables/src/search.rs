//! Searching a table: the where-rules compiled over its typed columns, a bounded count of the
//! matches, then one page in the requested order — both in one snapshot.

use crate::access;
use crate::catalog;
use crate::definition::TableDefinition;
use crate::physical::{self, LockMode};
use crate::rows::{bind_filter, fetch_rows};
use crate::selection::{self, CompiledSelection, Selection};
use crate::value;
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use serde_json::Value;
use sqlx::Connection;
use sqlx::postgres::PgArguments;

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub rows: Vec<Value>,
    /// How many rows match: exact below `offset + limit + TOTAL_LOOKAHEAD`, that bound above.
    pub max_results: i64,
    pub limit: i64,
    pub offset: i64,
}

impl SearchPage {
    /// The rows on this page.
    pub fn total(&self) -> i64 {
        i64::try_from(self.rows.len()).unwrap_or(i64::MAX)
    }

    /// The offset of the page after this one.
    pub fn next_element(&self) -> i64 {
        self.offset + self.total()
    }
}

/// The rows of the tenant's table `table` that the selection reaches.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn search(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    selection: &Selection,
) -> Result<SearchPage, Error> {
    let mut snapshot = begin_snapshot(conn, tenant, table).await?;
    let definition = snapshot.definition.clone();
    let compiled = selection::compile(selection, &definition, 1)?;
    let page = run(&mut snapshot.conn, &definition, selection, &compiled).await?;
    // Read only: ending it either way changes nothing.
    snapshot.conn.rollback().await?;
    Ok(page)
}

/// A read-only snapshot taken after the table was locked, with the table's definition.
struct Snapshot<'c> {
    conn: sqlx::Transaction<'c, sqlx::Postgres>,
    definition: TableDefinition,
}

/// The table is resolved before the transaction starts and locked before anything is read in
/// it, so that the snapshot (taken at the first read) sees the definition the lock protects.
async fn begin_snapshot<'c>(
    conn: &'c mut PgConnection,
    tenant: Tenant,
    table: &str,
) -> Result<Snapshot<'c>, Error> {
    if conn.is_in_transaction() {
        let mut nested = conn.begin().await?;
        let definition = access::open(&mut nested, tenant, table, LockMode::Read).await?;
        return Ok(Snapshot {
            conn: nested,
            definition,
        });
    }
    let table_id = catalog::resolve(conn, tenant, table).await?;
    let mut snapshot = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let definition =
        access::lock_and_load(&mut snapshot, tenant, table_id, table, LockMode::Read).await?;
    Ok(Snapshot {
        conn: snapshot,
        definition,
    })
}

fn count_sql(
    definition: &TableDefinition,
    compiled: &CompiledSelection,
    bound_at: usize,
) -> String {
    format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT ${bound_at}) matches",
        physical::table(definition.table_id),
        compiled.filter.sql
    )
}

fn page_sql(definition: &TableDefinition, compiled: &CompiledSelection, limit_at: usize) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT ${limit_at} OFFSET ${}",
        physical::select_list(definition),
        physical::table(definition.table_id),
        compiled.filter.sql,
        compiled.order_by,
        limit_at + 1
    )
}

fn count_arguments(
    compiled: &CompiledSelection,
    selection: &Selection,
) -> Result<PgArguments, Error> {
    let mut arguments = PgArguments::default();
    bind_filter(&mut arguments, &compiled.filter.params)?;
    value::add(&mut arguments, selection.count_bound())?;
    Ok(arguments)
}

fn page_arguments(
    compiled: &CompiledSelection,
    selection: &Selection,
) -> Result<PgArguments, Error> {
    let mut arguments = PgArguments::default();
    bind_filter(&mut arguments, &compiled.filter.params)?;
    value::add(&mut arguments, selection.limit)?;
    value::add(&mut arguments, selection.offset)?;
    Ok(arguments)
}

async fn run(
    conn: &mut PgConnection,
    definition: &TableDefinition,
    selection: &Selection,
    compiled: &CompiledSelection,
) -> Result<SearchPage, Error> {
    let after_filter = compiled.filter.params.len() + 1;
    let max_results: i64 = sqlx::query_scalar_with(
        physical::trusted(count_sql(definition, compiled, after_filter)),
        count_arguments(compiled, selection)?,
    )
    .persistent(false)
    .fetch_one(&mut *conn)
    .await?;
    let rows = if max_results > selection.offset {
        fetch_rows(
            conn,
            page_sql(definition, compiled, after_filter),
            page_arguments(compiled, selection)?,
            definition,
        )
        .await?
    } else {
        Vec::new()
    };
    Ok(SearchPage {
        rows,
        max_results,
        limit: selection.limit,
        offset: selection.offset,
    })
}

/// The plans PostgreSQL picks for a search's page and count, as `EXPLAIN` prints them (with
/// `analyze`, as `EXPLAIN (ANALYZE, BUFFERS)` does after running them): the page's plan, a
/// blank line, the count's plan.
pub async fn explain_search(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    selection: &Selection,
    analyze: bool,
) -> Result<String, Error> {
    let mut snapshot = begin_snapshot(conn, tenant, table).await?;
    let definition = snapshot.definition.clone();
    let compiled = selection::compile(selection, &definition, 1)?;
    let after_filter = compiled.filter.params.len() + 1;
    let explain = if analyze {
        "EXPLAIN (ANALYZE, BUFFERS) "
    } else {
        "EXPLAIN "
    };
    let page: Vec<String> = sqlx::query_scalar_with(
        physical::trusted(format!(
            "{explain}{}",
            page_sql(&definition, &compiled, after_filter)
        )),
        page_arguments(&compiled, selection)?,
    )
    .persistent(false)
    .fetch_all(&mut *snapshot.conn)
    .await?;
    let count: Vec<String> = sqlx::query_scalar_with(
        physical::trusted(format!(
            "{explain}{}",
            count_sql(&definition, &compiled, after_filter)
        )),
        count_arguments(&compiled, selection)?,
    )
    .persistent(false)
    .fetch_all(&mut *snapshot.conn)
    .await?;
    snapshot.conn.rollback().await?;
    Ok(format!("{}\n\n{}", page.join("\n"), count.join("\n")))
}
