//! Opening a table for its rows: the table is locked before its columns are read from the
//! catalog. A change of definition holds a stronger lock until it commits, so a row operation
//! sees the columns as they are in PostgreSQL for as long as it runs.

use crate::catalog::{self, unknown_table};
use crate::definition::{TableDefinition, TableId};
use crate::physical::{self, LockMode};
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;

/// Locks table `table_id` (the caller's transaction holds the lock until it ends) and reads its
/// definition. A table removed since it was resolved is a 404.
pub(crate) async fn lock_and_load(
    conn: &mut PgConnection,
    tenant: Tenant,
    table_id: TableId,
    name: &str,
    mode: LockMode,
) -> Result<TableDefinition, Error> {
    let locked = sqlx::raw_sql(physical::trusted(physical::lock(table_id, mode)))
        .execute(&mut *conn)
        .await;
    if let Err(error) = locked {
        return Err(match &error {
            // undefined_table: removed between the lookup and the lock.
            sqlx::Error::Database(database) if database.code().as_deref() == Some("42P01") => {
                unknown_table(name)
            }
            _ => Error::from(error),
        });
    }
    catalog::load(conn, tenant.org_id, table_id)
        .await?
        .ok_or_else(|| unknown_table(name))
}

/// Resolves, locks and loads the tenant's table `name`, inside the caller's transaction.
pub(crate) async fn open(
    conn: &mut PgConnection,
    tenant: Tenant,
    name: &str,
    mode: LockMode,
) -> Result<TableDefinition, Error> {
    let table_id = catalog::resolve(conn, tenant, name).await?;
    lock_and_load(conn, tenant, table_id, name, mode).await
}
