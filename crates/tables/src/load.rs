//! Loading rows whose ids are chosen by the caller, as a project deploy brings them: each row is
//! inserted, and a row whose id the table already has is kept or updated, in one savepoint.

use crate::access;
use crate::physical::{self, LockMode};
use crate::rows::{InsertRequest, RowId};
use crate::value;
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use sqlx::Connection;
use sqlx::postgres::PgArguments;

/// What loading does with a row whose id the table already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingRow {
    /// Leave it as it is.
    Keep,
    /// Set the columns the loaded row names (the others keep their values).
    Update,
}

/// What a load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub inserted: u64,
    pub updated: u64,
    pub kept: u64,
}

/// Loads `rows` (each with its id) into the tenant's table `table`, all or nothing. Values are
/// checked against the table's columns as they are now; a row that does not fit is a 400 naming
/// `field[position].column`.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn load_rows(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    rows: &[(RowId, InsertRequest)],
    existing: ExistingRow,
    field: &str,
) -> Result<Loaded, Error> {
    let mut tx = conn.begin().await?;
    let definition = access::open(&mut tx, tenant, table, LockMode::WriteChosenId).await?;
    let table_sql = physical::table(definition.table_id);
    let mut loaded = Loaded::default();
    let mut highest = 0;
    for (index, (id, request)) in rows.iter().enumerate() {
        // The row's own message names the column (`age: …`): it follows the row's position.
        let cells = request.typed_cells(&definition).map_err(|error| {
            Error::bad_request(format!("{field}[{index}].{}", error.public_message()))
        })?;
        let mut arguments = PgArguments::default();
        value::add(&mut arguments, id.0)?;
        let mut targets = vec!["id".to_owned()];
        for (column_id, cell) in cells {
            value::bind(&mut arguments, cell)?;
            targets.push(physical::column(column_id));
        }
        let placeholders: Vec<String> = (1..=targets.len()).map(|n| format!("${n}")).collect();
        let on_conflict = match existing {
            ExistingRow::Update => {
                let mut set: Vec<String> = targets[1..]
                    .iter()
                    .map(|column| format!("{column} = EXCLUDED.{column}"))
                    .collect();
                set.push(physical::touch_updated());
                format!("DO UPDATE SET {}", set.join(", "))
            }
            ExistingRow::Keep => "DO NOTHING".to_owned(),
        };
        // `xmax = 0` tells a fresh row from an updated one; a kept row returns nothing.
        let sql = format!(
            "INSERT INTO {table_sql} ({}) VALUES ({}) ON CONFLICT (id) {on_conflict} \
             RETURNING (xmax = 0)",
            targets.join(", "),
            placeholders.join(", ")
        );
        let written: Option<bool> = sqlx::query_scalar_with(physical::trusted(sql), arguments)
            .persistent(false)
            .fetch_optional(&mut *tx)
            .await?;
        match written {
            Some(true) => loaded.inserted += 1,
            Some(false) => loaded.updated += 1,
            None => loaded.kept += 1,
        }
        highest = highest.max(id.0);
    }
    if highest > 0 {
        sqlx::query(physical::trusted(physical::advance_sequence(
            definition.table_id,
        )))
        .bind(highest)
        .persistent(false)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(loaded)
}
