//! `/v1/tables/{table_name}/…`: the rows of the tenant's tables, as the reference's Tables
//! section has them (scope `tables`, `tables.read` for reading). Rows, searches and writes
//! answer in the reference's table envelope `{data, total, start_at, next_element, limit,
//! offset, max_results}`; a deletion in the long envelope.

use crate::authn::{Auth, TablesRead, TablesWrite};
use crate::error::ApiError;
use crate::payload::{Body, OptionalBody};
use crate::reply::Reply;
use crate::state::AppState;
use axum::extract::{Path, State};
use flowline_core::Error;
use flowline_tables::{DEFAULT_LIMIT, InsertRequest, RowId, Selection, UpdateRequest};
use http::StatusCode;
use serde_json::{Map, Value, json};

/// The reference's table envelope, in its field order.
struct TablePage {
    data: Vec<Value>,
    total: i64,
    start_at: i64,
    next_element: i64,
    limit: i64,
    offset: i64,
    max_results: i64,
}

impl TablePage {
    /// What a write answers, as the reference prints it: the rows written, `total` their
    /// number, and the paging fields at their defaults with `max_results` 0.
    fn written(data: Vec<Value>) -> TablePage {
        TablePage {
            total: count(&data),
            data,
            start_at: 0,
            next_element: 0,
            limit: DEFAULT_LIMIT,
            offset: 0,
            max_results: 0,
        }
    }

    fn into_reply(self) -> Reply {
        let mut object = Map::with_capacity(7);
        object.insert("data".to_owned(), Value::Array(self.data));
        for (key, value) in [
            ("total", self.total),
            ("start_at", self.start_at),
            ("next_element", self.next_element),
            ("limit", self.limit),
            ("offset", self.offset),
            ("max_results", self.max_results),
        ] {
            object.insert(key.to_owned(), Value::from(value));
        }
        Reply::raw(StatusCode::OK, Value::Object(object))
    }
}

fn count(rows: &[Value]) -> i64 {
    i64::try_from(rows.len()).unwrap_or(i64::MAX)
}

/// A row id from the path; anything but a positive integer is a 400 naming `id`.
fn row_id(text: &str) -> Result<RowId, ApiError> {
    RowId::parse(text).ok_or_else(|| {
        ApiError(Error::invalid_field(
            "id",
            format!(
                "'{}' is not a row id (a positive integer)",
                text.chars().take(64).collect::<String>()
            ),
        ))
    })
}

/// `GET /v1/tables/{table_name}/{id}`: one row, in a page of one.
pub async fn get_row(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesRead>,
    Path((table, id)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let id = row_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    let row = flowline_tables::get_row(&mut conn, principal.tenant(), &table, id).await?;
    Ok(TablePage {
        data: vec![row],
        total: 1,
        start_at: 0,
        next_element: 1,
        limit: DEFAULT_LIMIT,
        offset: 0,
        max_results: 1,
    }
    .into_reply())
}

/// `POST /v1/tables/{table_name}/`: inserts a row (a plain object, or the `columns` form).
pub async fn insert(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path(table): Path<String>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let request = InsertRequest::parse(&body)?;
    let mut conn = state.pool().acquire().await?;
    let row =
        flowline_tables::insert_row(&mut conn, principal.tenant(), &table, &request, None).await?;
    Ok(TablePage::written(vec![row]).into_reply())
}

/// `POST /v1/tables/{table_name}/{id}`: the reference's alternative insert; the row takes the
/// id in the path (409 when a row has it).
pub async fn insert_with_id(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path((table, id)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let id = row_id(&id)?;
    let request = InsertRequest::parse(&body)?;
    let mut conn = state.pool().acquire().await?;
    let row =
        flowline_tables::insert_row(&mut conn, principal.tenant(), &table, &request, Some(id))
            .await?;
    Ok(TablePage::written(vec![row]).into_reply())
}

/// `PUT /v1/tables/{table_name}/{id}`: updates one row (when it also matches `where`, if given).
pub async fn update_row(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path((table, id)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let id = row_id(&id)?;
    let request = UpdateRequest::parse(&body, true)?;
    let mut conn = state.pool().acquire().await?;
    let rows =
        flowline_tables::update_row(&mut conn, principal.tenant(), &table, id, &request).await?;
    Ok(TablePage::written(rows).into_reply())
}

/// `PUT /v1/tables/{table_name}/`: updates the rows that `where`, `order_field`, `limit` and
/// `offset` select.
pub async fn update_rows(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path(table): Path<String>,
    Body(body): Body,
) -> Result<Reply, ApiError> {
    let request = UpdateRequest::parse(&body, false)?;
    let mut conn = state.pool().acquire().await?;
    let rows =
        flowline_tables::update_rows(&mut conn, principal.tenant(), &table, &request).await?;
    Ok(TablePage::written(rows).into_reply())
}

/// `DELETE /v1/tables/{table_name}/{id}`.
pub async fn delete_row(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesWrite>,
    Path((table, id)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let id = row_id(&id)?;
    let mut conn = state.pool().acquire().await?;
    flowline_tables::delete_row(&mut conn, principal.tenant(), &table, id).await?;
    Ok(Reply::full(
        StatusCode::OK,
        json!(1),
        format!("Successfully deleted row {id} in table {table}"),
    ))
}

/// `POST /v1/tables/{table_name}/search`: a page of the rows that match `where`.
pub async fn search(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<TablesRead>,
    Path(table): Path<String>,
    OptionalBody(body): OptionalBody,
) -> Result<Reply, ApiError> {
    let selection = Selection::parse(body.as_ref())?;
    let mut conn = state.pool().acquire().await?;
    let page = flowline_tables::search(&mut conn, principal.tenant(), &table, &selection).await?;
    Ok(TablePage {
        total: page.total(),
        start_at: page.offset,
        next_element: page.next_element(),
        limit: page.limit,
        offset: page.offset,
        max_results: page.max_results,
        data: page.rows,
    }
    .into_reply())
}
