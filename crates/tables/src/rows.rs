//! A table's rows: reading one, inserting, updating one or a selection, deleting. Each call runs
//! in one transaction (a savepoint when the caller already holds one), so a row is committed,
//! or nothing changed, when it returns.

use crate::access;
use crate::definition::{TableDefinition, TableId};
use crate::name::{RESERVED_COLUMNS, shown};
use crate::physical::{self, LockMode};
use crate::selection::{self, SELECTION_KEYS, Selection};
use crate::value::{self, Cell};
use flowline_core::rules::SqlParam;
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use serde_json::{Map, Value};
use sqlx::Connection;
use sqlx::postgres::PgArguments;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A row's id: a positive integer, unique within its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowId(pub i64);

impl RowId {
    /// A row id from a path segment: digits of a positive 64-bit integer.
    pub fn parse(text: &str) -> Option<RowId> {
        text.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse().ok())
            .flatten()
            .filter(|id| *id > 0)
            .map(RowId)
    }
}

impl fmt::Display for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One value a request writes, with where it sits in the request for messages.
#[derive(Debug, Clone, PartialEq)]
struct Written {
    column: String,
    /// The field a message names: the column in a plain object, `columns[i].column_value` in
    /// the column_name/column_value form.
    field: String,
    /// Where the column's name sits: the column itself, or `columns[i].column_name`.
    name_field: String,
    value: Value,
}

/// The values a request writes, in either of the reference's forms: a plain object
/// `{"username": "x", "age": 23}`, or `{"columns": [{"column_name": …, "column_value": …}]}`.
#[derive(Debug, Clone, PartialEq, Default)]
struct RowValues {
    written: Vec<Written>,
}

impl RowValues {
    fn from_plain(object: &Map<String, Value>) -> RowValues {
        RowValues {
            written: object
                .iter()
                .map(|(column, value)| Written {
                    column: column.clone(),
                    field: column.clone(),
                    name_field: column.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }

    fn from_columns(columns: &Value) -> Result<RowValues, Error> {
        let items = match columns {
            Value::Array(items) => items.as_slice(),
            // XML reads a lone `<columns><column_name>…` as an object, not a one-item list.
            Value::Object(_) => std::slice::from_ref(columns),
            _ => {
                return Err(Error::invalid_field(
                    "columns",
                    "expected an array of {column_name, column_value}",
                ));
            }
        };
        let mut written = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        for (index, item) in items.iter().enumerate() {
            let field = format!("columns[{index}]");
            let Value::Object(pair) = item else {
                return Err(Error::invalid_field(
                    &field,
                    "expected an object {column_name, column_value}",
                ));
            };
            if let Some(key) = pair
                .keys()
                .find(|key| !matches!(key.as_str(), "column_name" | "column_value"))
            {
                return Err(Error::invalid_field(
                    &format!("{field}.{key}"),
                    "is not a known field (expected column_name, column_value)",
                ));
            }
            let name_field = format!("{field}.column_name");
            let column = match pair.get("column_name") {
                Some(Value::String(name)) => name.clone(),
                None | Some(Value::Null) => {
                    return Err(Error::invalid_field(&name_field, "is required"));
                }
                Some(_) => {
                    return Err(Error::invalid_field(&name_field, "expected a column name"));
                }
            };
            if !seen.insert(column.clone()) {
                return Err(Error::invalid_field(
                    &name_field,
                    format!("column {} is given twice", shown(&column)),
                ));
            }
            let Some(value) = pair.get("column_value") else {
                return Err(Error::invalid_field(
                    &format!("{field}.column_value"),
                    "is required (null clears the column)",
                ));
            };
            written.push(Written {
                column,
                field: format!("{field}.column_value"),
                name_field,
                value: value.clone(),
            });
        }
        Ok(RowValues { written })
    }

    fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The values checked against the table's columns: `(column_id, cell)` in request order.
    /// Unknown and system columns and values of the wrong type are 400s naming the field and
    /// the column.
    fn typed(&self, definition: &TableDefinition) -> Result<Vec<(i32, Cell)>, Error> {
        self.written
            .iter()
            .map(|written| {
                if RESERVED_COLUMNS[..3].contains(&written.column.as_str()) {
                    return Err(Error::invalid_field(
                        &written.name_field,
                        format!(
                            "'{}' is set by Flowline and cannot be written",
                            written.column
                        ),
                    ));
                }
                let column = definition.column(&written.column).ok_or_else(|| {
                    Error::invalid_field(
                        &written.name_field,
                        definition.unknown_column(&written.column),
                    )
                })?;
                let cell = value::check(column, &written.value).map_err(|problem| {
                    if written.field == written.column {
                        Error::invalid_field(&written.field, problem)
                    } else {
                        Error::invalid_field(
                            &written.field,
                            format!("{problem} (column '{}')", written.column),
                        )
                    }
                })?;
                Ok((column.column_id, cell))
            })
            .collect()
    }
}

fn body_object(body: &Value) -> Result<&Map<String, Value>, Error> {
    body.as_object().ok_or_else(|| {
        Error::invalid_field(
            "body",
            "expected an object of column values, or {\"columns\": [{\"column_name\": …, \
             \"column_value\": …}]}",
        )
    })
}

/// The body of an insert.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertRequest {
    values: RowValues,
}

impl InsertRequest {
    pub fn parse(body: &Value) -> Result<InsertRequest, Error> {
        let object = body_object(body)?;
        let values = match object.get("columns") {
            Some(columns) => {
                if let Some(key) = object.keys().find(|key| *key != "columns") {
                    return Err(Error::invalid_field(
                        key,
                        "cannot be given next to columns: name every value in columns",
                    ));
                }
                RowValues::from_columns(columns)?
            }
            None => RowValues::from_plain(object),
        };
        Ok(InsertRequest { values })
    }

    /// Checks the values against a table's columns without writing them: unknown and system
    /// columns and values of the wrong type are 400s naming the field (a project's rows are
    /// checked against the project's own definition before they are stored).
    pub fn check(&self, definition: &TableDefinition) -> Result<(), Error> {
        self.values.typed(definition).map(|_| ())
    }

    pub(crate) fn typed_cells(
        &self,
        definition: &TableDefinition,
    ) -> Result<Vec<(i32, Cell)>, Error> {
        self.values.typed(definition)
    }
}

/// The body of an update: the values, and — without a row id — the rows to change.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    values: RowValues,
    selection: Selection,
}

impl UpdateRequest {
    /// `with_id` says whether the path names a row. Without one, the body must be the columns
    /// form with a `where` (which may be an empty group, to mean every row), so that a plain
    /// object never updates rows it did not name.
    pub fn parse(body: &Value, with_id: bool) -> Result<UpdateRequest, Error> {
        let object = body_object(body)?;
        let Some(columns) = object.get("columns") else {
            if !with_id {
                return Err(Error::invalid_field(
                    "columns",
                    "is required to update rows without an id in the path: send {\"columns\": \
                     [{\"column_name\": …, \"column_value\": …}], \"where\": {…}}",
                ));
            }
            let values = RowValues::from_plain(object);
            if values.is_empty() {
                return Err(Error::invalid_field(
                    "body",
                    "name at least one column to update",
                ));
            }
            return Ok(UpdateRequest {
                values,
                selection: Selection::default(),
            });
        };
        if let Some(key) = object
            .keys()
            .find(|key| *key != "columns" && !SELECTION_KEYS.contains(&key.as_str()))
        {
            return Err(Error::invalid_field(
                key,
                format!(
                    "is not a known field (expected columns, {})",
                    SELECTION_KEYS.join(", ")
                ),
            ));
        }
        let values = RowValues::from_columns(columns)?;
        if values.is_empty() {
            return Err(Error::invalid_field(
                "columns",
                "name at least one column to update",
            ));
        }
        let selection = Selection::from_object(object)?;
        if !with_id && selection.rules.is_none() {
            return Err(Error::invalid_field(
                "where",
                "is required to update rows without an id in the path (an empty group \
                 {\"condition\": \"AND\", \"rules\": []} means every row)",
            ));
        }
        Ok(UpdateRequest { values, selection })
    }
}

fn unknown_row(id: RowId, definition: &TableDefinition) -> Error {
    Error::not_found(format!(
        "Row {id} does not exist in table '{}'",
        definition.name
    ))
}

/// Binds the filter's parameters in order, each as the type its placeholder is cast to.
pub(crate) fn bind_filter(arguments: &mut PgArguments, params: &[SqlParam]) -> Result<(), Error> {
    for param in params {
        match param {
            SqlParam::Text(text) => value::add(arguments, text.clone())?,
            SqlParam::TextArray(texts) => value::add(arguments, texts.clone())?,
            SqlParam::Float(number) => value::add(arguments, *number)?,
            SqlParam::FloatArray(numbers) => value::add(arguments, numbers.clone())?,
            SqlParam::Int(number) => value::add(arguments, *number)?,
            SqlParam::IntArray(numbers) => value::add(arguments, numbers.clone())?,
            SqlParam::Bool(flag) => value::add(arguments, *flag)?,
        }
    }
    Ok(())
}

/// Runs a statement that returns rows of [`physical::select_list`].
pub(crate) async fn fetch_rows(
    conn: &mut PgConnection,
    sql: String,
    arguments: PgArguments,
    definition: &TableDefinition,
) -> Result<Vec<Value>, Error> {
    let rows = sqlx::query_with(physical::trusted(sql), arguments)
        .persistent(false)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| value::read_row(row, definition))
        .collect()
}

/// Row `id` of the tenant's table `table`.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn get_row(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    id: RowId,
) -> Result<Value, Error> {
    let mut tx = conn.begin().await?;
    let definition = access::open(&mut tx, tenant, table, LockMode::Read).await?;
    let sql = format!(
        "SELECT {} FROM {} WHERE id = $1",
        physical::select_list(&definition),
        physical::table(definition.table_id)
    );
    let mut arguments = PgArguments::default();
    value::add(&mut arguments, id.0)?;
    let row = fetch_rows(&mut tx, sql, arguments, &definition)
        .await?
        .pop()
        .ok_or_else(|| unknown_row(id, &definition))?;
    tx.commit().await?;
    Ok(row)
}

/// Inserts a row; with `id`, the row takes that id (409 when it is taken). Returns the row as
/// stored.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn insert_row(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    request: &InsertRequest,
    id: Option<RowId>,
) -> Result<Value, Error> {
    let mut tx = conn.begin().await?;
    let mode = match id {
        Some(_) => LockMode::WriteChosenId,
        None => LockMode::Write,
    };
    let definition = access::open(&mut tx, tenant, table, mode).await?;
    let cells = request.values.typed(&definition)?;
    let mut arguments = PgArguments::default();
    let mut targets = Vec::new();
    if let Some(id) = id {
        value::add(&mut arguments, id.0)?;
        targets.push("id".to_owned());
    }
    for (column_id, cell) in cells {
        value::bind(&mut arguments, cell)?;
        targets.push(physical::column(column_id));
    }
    let table_sql = physical::table(definition.table_id);
    let returning = physical::select_list(&definition);
    let sql = if targets.is_empty() {
        format!("INSERT INTO {table_sql} DEFAULT VALUES RETURNING {returning}")
    } else {
        let placeholders: Vec<String> = (1..=targets.len()).map(|n| format!("${n}")).collect();
        format!(
            "INSERT INTO {table_sql} ({}) VALUES ({}) RETURNING {returning}",
            targets.join(", "),
            placeholders.join(", ")
        )
    };
    let inserted = fetch_rows(&mut tx, sql, arguments, &definition).await;
    let row = match inserted {
        Err(error) if error.is_unique_violation(&physical::primary_key(definition.table_id)) => {
            return Err(Error::conflict(format!(
                "Row {} already exists in table '{}'",
                id.map_or_else(String::new, |id| id.to_string()),
                definition.name
            )));
        }
        other => other?
            .pop()
            .ok_or_else(|| Error::internal("an insert returned no row"))?,
    };
    if let Some(id) = id {
        advance_sequence(&mut tx, definition.table_id, id).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// The most values one multi-row insert binds (PostgreSQL allows 65,535 parameters).
const MAX_INSERT_PARAMETERS: usize = 60_000;

/// Inserts many rows into one table: the table is opened once, each request is checked against
/// its columns on its own (a bad one gets its error, the others go in), and the good ones are
/// written by multi-row statements. Returns, per request and in order, the row as stored or why
/// it was refused. A failing statement (a constraint) fails the whole call: the caller's
/// transaction is then unusable, and it decides what to do.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, rows = requests.len()))]
pub async fn insert_rows(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    requests: &[InsertRequest],
) -> Result<Vec<Result<Value, Error>>, Error> {
    let definition = access::open(&mut *conn, tenant, table, LockMode::Write).await?;
    let mut results: Vec<Result<Value, Error>> = Vec::with_capacity(requests.len());
    let mut good: Vec<(usize, Vec<(i32, Cell)>)> = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        match request.values.typed(&definition) {
            Ok(cells) => {
                good.push((index, cells));
                results.push(Ok(Value::Null));
            }
            Err(error) => results.push(Err(error)),
        }
    }
    let mut column_ids: Vec<i32> = good
        .iter()
        .flat_map(|(_, cells)| cells.iter().map(|(column_id, _)| *column_id))
        .collect();
    column_ids.sort_unstable();
    column_ids.dedup();
    let per_row = column_ids.len().max(1);
    for chunk in good.chunks_mut((MAX_INSERT_PARAMETERS / per_row).max(1)) {
        let rows = insert_chunk(&mut *conn, &definition, &column_ids, chunk).await?;
        for ((index, _), row) in chunk.iter().zip(rows) {
            results[*index] = Ok(row);
        }
    }
    Ok(results)
}

/// One multi-row `INSERT … VALUES`: every row names the same columns, `DEFAULT` where a row
/// gives no value. PostgreSQL returns the rows of a `VALUES` insert in the order given.
async fn insert_chunk(
    conn: &mut PgConnection,
    definition: &TableDefinition,
    column_ids: &[i32],
    rows: &mut [(usize, Vec<(i32, Cell)>)],
) -> Result<Vec<Value>, Error> {
    let mut arguments = PgArguments::default();
    let mut tuples = Vec::with_capacity(rows.len());
    let mut bound = 0;
    for (_, cells) in rows.iter_mut() {
        let mut given: HashMap<i32, Cell> = std::mem::take(cells).into_iter().collect();
        let mut slots = Vec::with_capacity(column_ids.len());
        for column_id in column_ids {
            match given.remove(column_id) {
                Some(cell) => {
                    value::bind(&mut arguments, cell)?;
                    bound += 1;
                    slots.push(format!("${bound}"));
                }
                None => slots.push("DEFAULT".to_owned()),
            }
        }
        tuples.push(format!("({})", slots.join(", ")));
    }
    let table_sql = physical::table(definition.table_id);
    let returning = physical::select_list(definition);
    let sql = if column_ids.is_empty() {
        // Rows that give no value: every column takes its default.
        let values: Vec<&str> = rows.iter().map(|_| "(DEFAULT)").collect();
        format!(
            "INSERT INTO {table_sql} (id) VALUES {} RETURNING {returning}",
            values.join(", ")
        )
    } else {
        let targets: Vec<String> = column_ids.iter().map(|id| physical::column(*id)).collect();
        format!(
            "INSERT INTO {table_sql} ({}) VALUES {} RETURNING {returning}",
            targets.join(", "),
            tuples.join(", ")
        )
    };
    let inserted = fetch_rows(conn, sql, arguments, definition).await?;
    if inserted.len() != rows.len() {
        return Err(Error::internal(
            "a multi-row insert returned a different count",
        ));
    }
    Ok(inserted)
}

async fn advance_sequence(
    conn: &mut PgConnection,
    table_id: TableId,
    id: RowId,
) -> Result<(), Error> {
    sqlx::query(physical::trusted(physical::advance_sequence(table_id)))
        .bind(id.0)
        .persistent(false)
        .execute(conn)
        .await?;
    Ok(())
}

/// `c_1 = $n, …, date_updated = …` for the values, binding them from placeholder `$1`.
fn assignments(
    cells: Vec<(i32, Cell)>,
    arguments: &mut PgArguments,
) -> Result<(String, usize), Error> {
    let mut parts = Vec::with_capacity(cells.len() + 1);
    let count = cells.len();
    for (index, (column_id, cell)) in cells.into_iter().enumerate() {
        value::bind(arguments, cell)?;
        parts.push(format!("{} = ${}", physical::column(column_id), index + 1));
    }
    parts.push(physical::touch_updated());
    Ok((parts.join(", "), count))
}

/// Updates row `id` (when it also matches the request's `where`, if any); returns the rows
/// changed: none or that one.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn update_row(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    id: RowId,
    request: &UpdateRequest,
) -> Result<Vec<Value>, Error> {
    let mut tx = conn.begin().await?;
    let definition = access::open(&mut tx, tenant, table, LockMode::Write).await?;
    let cells = request.values.typed(&definition)?;
    let mut arguments = PgArguments::default();
    let (set, bound) = assignments(cells, &mut arguments)?;
    let compiled = selection::compile(&request.selection, &definition, bound + 2)?;
    value::add(&mut arguments, id.0)?;
    bind_filter(&mut arguments, &compiled.filter.params)?;
    let table_sql = physical::table(definition.table_id);
    let sql = format!(
        "UPDATE {table_sql} SET {set} WHERE id = ${} AND {} RETURNING {}",
        bound + 1,
        compiled.filter.sql,
        physical::select_list(&definition)
    );
    let rows = fetch_rows(&mut tx, sql, arguments, &definition).await?;
    if rows.is_empty() && !row_exists(&mut tx, definition.table_id, id).await? {
        return Err(unknown_row(id, &definition));
    }
    tx.commit().await?;
    Ok(rows)
}

async fn row_exists(conn: &mut PgConnection, table_id: TableId, id: RowId) -> Result<bool, Error> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = $1)",
        physical::table(table_id)
    );
    Ok(sqlx::query_scalar(physical::trusted(sql))
        .bind(id.0)
        .persistent(false)
        .fetch_one(conn)
        .await?)
}

/// Updates the rows the request's selection reaches (`where`, in `order_field` order, `limit`
/// of them after `offset`); returns them as stored, in that order.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn update_rows(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    request: &UpdateRequest,
) -> Result<Vec<Value>, Error> {
    let mut tx = conn.begin().await?;
    let definition = access::open(&mut tx, tenant, table, LockMode::Write).await?;
    let cells = request.values.typed(&definition)?;
    let mut arguments = PgArguments::default();
    let (set, bound) = assignments(cells, &mut arguments)?;
    let compiled = selection::compile(&request.selection, &definition, bound + 1)?;
    bind_filter(&mut arguments, &compiled.filter.params)?;
    let limit_at = bound + compiled.filter.params.len() + 1;
    value::add(&mut arguments, request.selection.limit)?;
    value::add(&mut arguments, request.selection.offset)?;
    let table_sql = physical::table(definition.table_id);
    let sql = format!(
        "WITH chosen AS (SELECT id FROM {table_sql} WHERE {filter} ORDER BY {order} \
         LIMIT ${limit_at} OFFSET ${offset_at} FOR UPDATE), \
         updated AS (UPDATE {table_sql} AS t SET {set} FROM chosen WHERE t.id = chosen.id \
         RETURNING t.*) \
         SELECT {list} FROM updated ORDER BY {order}",
        filter = compiled.filter.sql,
        order = compiled.order_by,
        offset_at = limit_at + 1,
        list = physical::select_list(&definition),
    );
    let rows = fetch_rows(&mut tx, sql, arguments, &definition).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Deletes row `id`.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id))]
pub async fn delete_row(
    conn: &mut PgConnection,
    tenant: Tenant,
    table: &str,
    id: RowId,
) -> Result<(), Error> {
    let mut tx = conn.begin().await?;
    let definition = access::open(&mut tx, tenant, table, LockMode::Write).await?;
    let sql = format!(
        "DELETE FROM {} WHERE id = $1",
        physical::table(definition.table_id)
    );
    let deleted = sqlx::query(physical::trusted(sql))
        .bind(id.0)
        .persistent(false)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(unknown_row(id, &definition));
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn insert_error(body: Value) -> String {
        InsertRequest::parse(&body).unwrap_err().public_message()
    }

    #[test]
    fn row_ids_are_positive_integers() {
        assert_eq!(RowId::parse("8"), Some(RowId(8)));
        for bad in [
            "0",
            "-1",
            "+1",
            "1.0",
            "abc",
            "",
            "99999999999999999999",
            " 1",
        ] {
            assert_eq!(RowId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn inserts_take_a_plain_object_or_the_columns_form() {
        let plain = InsertRequest::parse(&json!({"username": "x", "age": 23})).unwrap();
        let columns = InsertRequest::parse(&json!({"columns": [
            {"column_name": "username", "column_value": "x"},
            {"column_name": "age", "column_value": 23},
        ]}))
        .unwrap();
        let pairs = |request: &InsertRequest| {
            request
                .values
                .written
                .iter()
                .map(|w| (w.column.clone(), w.value.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&plain), pairs(&columns));
        assert_eq!(columns.values.written[1].field, "columns[1].column_value");
    }

    #[test]
    fn malformed_columns_forms_are_named() {
        let cases = [
            (json!([1]), "body: expected an object"),
            (json!({"columns": "x"}), "columns: expected an array"),
            (json!({"columns": [5]}), "columns[0]: expected an object"),
            (
                json!({"columns": [{"column_value": 1}]}),
                "columns[0].column_name: is required",
            ),
            (
                json!({"columns": [{"column_name": "a"}]}),
                "columns[0].column_value: is required",
            ),
            (
                json!({"columns": [{"column_name": "a", "column_value": 1, "x": 2}]}),
                "columns[0].x: ",
            ),
            (
                json!({"columns": [{"column_name": "a", "column_value": 1},
                                   {"column_name": "a", "column_value": 2}]}),
                "columns[1].column_name: column 'a' is given twice",
            ),
            (
                json!({"columns": [], "age": 5}),
                "age: cannot be given next to columns",
            ),
        ];
        for (body, expected) in cases {
            let message = insert_error(body.clone());
            assert!(message.starts_with(expected), "{body}: {message}");
        }
    }

    #[test]
    fn updates_without_an_id_need_columns_and_where() {
        let error = |body: Value, with_id| {
            UpdateRequest::parse(&body, with_id)
                .unwrap_err()
                .public_message()
        };
        assert!(error(json!({"age": 5}), false).starts_with("columns: is required"));
        let columns = json!([{"column_name": "age", "column_value": 5}]);
        assert!(error(json!({"columns": columns}), false).starts_with("where: is required"));
        assert!(error(json!({"columns": []}), true).starts_with("columns: name at least one"));
        assert!(error(json!({}), true).starts_with("body: name at least one"));
        assert!(error(json!({"columns": columns, "limit": 500}), true).starts_with("limit: "));
        assert!(error(json!({"columns": columns, "sort": 1}), true).starts_with("sort: "));
        let everything = json!({"columns": columns, "where": {"rules": []}, "limit": "2"});
        let request = UpdateRequest::parse(&everything, false).unwrap();
        assert_eq!(request.selection.limit, 2);
        assert!(UpdateRequest::parse(&json!({"age": 5}), true).is_ok());
    }
}
