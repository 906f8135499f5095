//! What the environments service needs of an environment's tables as a whole: their bytes on
//! disk, their maintenance, and their removal when the environment is deleted. Identifiers come
//! from catalog ids through [`physical`], like everywhere in this crate.

use crate::definition::TableId;
use crate::physical;
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;

async fn table_ids(conn: &mut PgConnection, tenant: Tenant) -> Result<Vec<TableId>, Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT table_id FROM data_tables WHERE org_id = $1 AND environment_id = $2 \
         ORDER BY table_id",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(TableId).collect())
}

/// The bytes the environment's physical tables take on disk, indexes and TOAST included. Reads
/// PostgreSQL's relation sizes, not the rows.
pub async fn environment_tables_bytes(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<i64, Error> {
    let bytes: Option<i64> = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(to_regclass(format('%I.%I', $3::text, \
                'tbl_' || table_id))))::bigint \
         FROM data_tables WHERE org_id = $1 AND environment_id = $2",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(physical::SCHEMA)
    .fetch_one(&mut *conn)
    .await?;
    Ok(bytes.unwrap_or(0))
}

/// `VACUUM (ANALYZE)` of each of the environment's physical tables. VACUUM cannot run inside a
/// transaction block: `conn` must not be in one. Returns how many tables were vacuumed.
pub async fn vacuum_environment_tables(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<usize, Error> {
    let ids = table_ids(conn, tenant).await?;
    for table_id in &ids {
        let sql = format!("VACUUM (ANALYZE) {}", physical::table(*table_id));
        sqlx::raw_sql(physical::trusted(sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids.len())
}

/// Drops every physical table of the environment and removes its catalog rows, each table in a
/// transaction of its own (a deletion that stops halfway resumes where it stopped). Returns how
/// many tables were dropped.
pub async fn drop_environment_tables(
    conn: &mut PgConnection,
    tenant: Tenant,
) -> Result<usize, Error> {
    use sqlx::Connection;
    let ids = table_ids(conn, tenant).await?;
    for table_id in &ids {
        let mut tx = conn.begin().await?;
        let sql = format!("DROP TABLE IF EXISTS {}", physical::table(*table_id));
        sqlx::raw_sql(physical::trusted(sql))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM data_tables WHERE org_id = $1 AND table_id = $2")
            .bind(tenant.org_id)
            .bind(*table_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(ids.len())
}
