//! Values in and out of typed columns: a request's JSON value checked against the column's type
//! (and converted, since XML carries only text), and a stored value turned back into the JSON
//! that answers show.

use crate::column::ColumnType;
use crate::definition::{ColumnDefinition, TableDefinition};
use crate::name::shown;
use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use flowline_core::Error;
use flowline_core::time::{api_date, parse_api_date, parse_atom};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Arguments, Encode, Postgres, Type};

/// The longest text an indexed column takes: a btree entry holds at most about 2.7 kB, and a
/// longer value would fail the insert with an internal error rather than a clear 400.
pub const MAX_INDEXED_TEXT_BYTES: usize = 2000;

/// A checked value of a column's type; `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Text(Option<String>),
    Integer(Option<i64>),
    Number(Option<f64>),
    Boolean(Option<bool>),
    Date(Option<NaiveDate>),
    DateTime(Option<DateTime<Utc>>),
    Json(Option<Value>),
}

/// Checks a value for a column. JSON `null` is NULL in every column. Scalars are read leniently
/// where the text is unambiguous (`"23"` for an integer, `"true"` for a boolean), since XML
/// requests carry only text; anything else is refused with a message that says what was
/// expected.
pub(crate) fn check(column: &ColumnDefinition, value: &Value) -> Result<Cell, String> {
    if value.is_null() {
        return Ok(null_of(column.column_type));
    }
    let cell = match column.column_type {
        ColumnType::String => Cell::Text(Some(text(value, column.indexed)?)),
        ColumnType::Integer => Cell::Integer(Some(integer(value)?)),
        ColumnType::Number => Cell::Number(Some(number(value)?)),
        ColumnType::Boolean => Cell::Boolean(Some(boolean(value)?)),
        ColumnType::Date => Cell::Date(Some(date(value)?)),
        ColumnType::DateTime => Cell::DateTime(Some(datetime(value)?)),
        ColumnType::Json => {
            if holds_nul(value) {
                return Err(NUL_IN_JSON.to_owned());
            }
            Cell::Json(Some(value.clone()))
        }
    };
    Ok(cell)
}

const NUL_IN_JSON: &str = "a JSON value cannot hold the character U+0000";

/// Whether a string anywhere in `value` (keys included) holds U+0000, which PostgreSQL's text
/// and jsonb cannot store and refuses as a bound parameter.
pub(crate) fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.contains('\0') || holds_nul(item)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn null_of(column_type: ColumnType) -> Cell {
    match column_type {
        ColumnType::String => Cell::Text(None),
        ColumnType::Integer => Cell::Integer(None),
        ColumnType::Number => Cell::Number(None),
        ColumnType::Boolean => Cell::Boolean(None),
        ColumnType::Date => Cell::Date(None),
        ColumnType::DateTime => Cell::DateTime(None),
        ColumnType::Json => Cell::Json(None),
    }
}

fn quoted(value: &Value) -> String {
    match value {
        Value::String(text) => shown(text),
        other => shown(&other.to_string()),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string; a number or a boolean is kept as its JSON text.
fn text(value: &Value, indexed: bool) -> Result<String, String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        other => return Err(format!("expected a string, not {}", json_kind(other))),
    };
    if text.contains('\0') {
        return Err("a string cannot hold the character U+0000".to_owned());
    }
    if indexed && text.len() > MAX_INDEXED_TEXT_BYTES {
        return Err(format!(
            "is longer than {MAX_INDEXED_TEXT_BYTES} bytes, the most an indexed column holds"
        ));
    }
    Ok(text)
}

fn integer(value: &Value) -> Result<i64, String> {
    let refuse = || format!("{} is not an integer", quoted(value));
    match value {
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => Ok(integer),
            // 23.0 and 1e3 are whole numbers; within ±2^53 a double holds them exactly.
            (None, Some(float))
                if float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0 =>
            {
                #[allow(clippy::cast_possible_truncation, reason = "whole and within ±2^53")]
                Ok(float as i64)
            }
            _ => Err(format!(
                "{} is not an integer from -9223372036854775808 to 9223372036854775807",
                quoted(value)
            )),
        },
        Value::String(text) => text.parse().map_err(|_| refuse()),
        _ => Err(refuse()),
    }
}

fn number(value: &Value) -> Result<f64, String> {
    let refuse = || format!("{} is not a number", quoted(value));
    let number = match value {
        Value::Number(number) => number.as_f64().ok_or_else(refuse)?,
        // Rust also reads "inf" and "NaN", which JSON has no way to show back.
        Value::String(text) => text.trim().parse::<f64>().map_err(|_| refuse())?,
        _ => return Err(refuse()),
    };
    if number.is_finite() {
        Ok(number)
    } else {
        Err(refuse())
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text == "true" => Ok(true),
        Value::String(text) if text == "false" => Ok(false),
        other => Err(format!(
            "{} is not a boolean (true or false)",
            quoted(other)
        )),
    }
}

/// PostgreSQL spells years outside 1–9999 its own way, and the API format has four digits.
fn in_plain_years(year: i32) -> bool {
    (1..=9999).contains(&year)
}

fn date(value: &Value) -> Result<NaiveDate, String> {
    value
        .as_str()
        .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .filter(|date| in_plain_years(date.year()))
        .ok_or_else(|| format!("{} is not a date (YYYY-MM-DD)", quoted(value)))
}

/// A date and time, kept to the second (the resolution answers show).
fn datetime(value: &Value) -> Result<DateTime<Utc>, String> {
    value
        .as_str()
        .and_then(|text| parse_api_date(text).or_else(|| parse_atom(text)))
        .filter(|at| in_plain_years(at.year()))
        .map(|at| at.trunc_subsecs(0))
        .ok_or_else(|| {
            format!(
                "{} is not a date and time (YYYY-MM-DD HH:MM:SS in UTC, or RFC 3339)",
                quoted(value)
            )
        })
}

/// Binds a cell as its column's type.
pub(crate) fn bind(arguments: &mut PgArguments, cell: Cell) -> Result<(), Error> {
    match cell {
        Cell::Text(value) => add(arguments, value),
        Cell::Integer(value) => add(arguments, value),
        Cell::Number(value) => add(arguments, value),
        Cell::Boolean(value) => add(arguments, value),
        Cell::Date(value) => add(arguments, value),
        Cell::DateTime(value) => add(arguments, value),
        Cell::Json(value) => add(arguments, value),
    }
}

pub(crate) fn add<'q, T>(arguments: &mut PgArguments, value: T) -> Result<(), Error>
where
    T: Encode<'q, Postgres> + Type<Postgres> + 'q,
{
    arguments
        .add(value)
        .map_err(|error| Error::internal(format!("binding a table value: {error}")))
}

/// A row as answers show it, from a statement that selected [`crate::physical::select_list`]:
/// `id` as a string and the dates in the API's format, as the reference prints them, then
/// each column by name.
pub(crate) fn read_row(row: &PgRow, definition: &TableDefinition) -> Result<Value, Error> {
    let mut object = Map::with_capacity(3 + definition.columns.len());
    let id: i64 = row.try_get(0)?;
    let created: DateTime<Utc> = row.try_get(1)?;
    let updated: DateTime<Utc> = row.try_get(2)?;
    object.insert("id".to_owned(), Value::String(id.to_string()));
    object.insert("date_created".to_owned(), Value::String(api_date(created)));
    object.insert("date_updated".to_owned(), Value::String(api_date(updated)));
    for (offset, column) in definition.columns.iter().enumerate() {
        let value = read_value(row, 3 + offset, column.column_type)?;
        object.insert(column.name.as_str().to_owned(), value);
    }
    Ok(Value::Object(object))
}

fn read_value(row: &PgRow, index: usize, column_type: ColumnType) -> Result<Value, Error> {
    let value = match column_type {
        ColumnType::String => row.try_get::<Option<String>, _>(index)?.map(Value::String),
        ColumnType::Integer => row.try_get::<Option<i64>, _>(index)?.map(Value::from),
        ColumnType::Number => row
            .try_get::<Option<f64>, _>(index)?
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ColumnType::Boolean => row.try_get::<Option<bool>, _>(index)?.map(Value::Bool),
        ColumnType::Date => row
            .try_get::<Option<NaiveDate>, _>(index)?
            .map(|date| Value::String(date.format("%Y-%m-%d").to_string())),
        ColumnType::DateTime => row
            .try_get::<Option<DateTime<Utc>>, _>(index)?
            .map(|at| Value::String(api_date(at))),
        ColumnType::Json => row.try_get::<Option<Value>, _>(index)?,
    };
    Ok(value.unwrap_or(Value::Null))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::name::ColumnName;
    use serde_json::json;

    fn column(column_type: ColumnType, indexed: bool) -> ColumnDefinition {
        ColumnDefinition {
            column_id: 1,
            name: ColumnName::from_catalog("c".into()),
            column_type,
            indexed,
        }
    }

    fn checked(column_type: ColumnType, value: Value) -> Result<Cell, String> {
        check(&column(column_type, false), &value)
    }

    #[test]
    fn scalars_are_read_from_their_json_or_their_text() {
        assert_eq!(
            checked(ColumnType::Integer, json!(23)),
            Ok(Cell::Integer(Some(23)))
        );
        assert_eq!(
            checked(ColumnType::Integer, json!("-7")),
            Ok(Cell::Integer(Some(-7)))
        );
        assert_eq!(
            checked(ColumnType::Integer, json!(1e3)),
            Ok(Cell::Integer(Some(1000)))
        );
        assert_eq!(
            checked(ColumnType::Number, json!("2.5")),
            Ok(Cell::Number(Some(2.5)))
        );
        assert_eq!(
            checked(ColumnType::Boolean, json!("true")),
            Ok(Cell::Boolean(Some(true)))
        );
        assert_eq!(
            checked(ColumnType::String, json!(5)),
            Ok(Cell::Text(Some("5".into())))
        );
        assert_eq!(
            checked(ColumnType::String, json!(null)),
            Ok(Cell::Text(None))
        );
        assert_eq!(
            checked(ColumnType::DateTime, json!("2019-04-09T15:31:21.750+02:00")),
            Ok(Cell::DateTime(parse_api_date("2019-04-09 13:31:21")))
        );
        assert!(checked(ColumnType::Date, json!("2024-02-29")).is_ok());
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let cases = [
            (ColumnType::Integer, json!(1.5), "1.5' is not an integer"),
            (ColumnType::Integer, json!("abc"), "'abc' is not an integer"),
            (ColumnType::Integer, json!(true), "'true' is not an integer"),
            (ColumnType::Integer, json!(1e300), "is not an integer from"),
            (
                ColumnType::Integer,
                json!("9223372036854775808"),
                "is not an integer",
            ),
            (ColumnType::Number, json!("NaN"), "is not a number"),
            (ColumnType::Number, json!([1]), "is not a number"),
            (ColumnType::Boolean, json!("yes"), "is not a boolean"),
            (ColumnType::Boolean, json!(1), "is not a boolean"),
            (ColumnType::Date, json!("2023-02-29"), "is not a date"),
            (ColumnType::Date, json!("10000-01-01"), "is not a date"),
            (
                ColumnType::DateTime,
                json!("yesterday"),
                "is not a date and time",
            ),
            (
                ColumnType::String,
                json!({"a": 1}),
                "expected a string, not an object",
            ),
            (ColumnType::String, json!("a\u{0}b"), "U+0000"),
            (ColumnType::Json, json!({"k": ["a\u{0}"]}), "U+0000"),
        ];
        for (column_type, value, expected) in cases {
            let problem = checked(column_type, value.clone()).unwrap_err();
            assert!(problem.contains(expected), "{value}: {problem}");
        }
    }

    #[test]
    fn indexed_text_is_bounded() {
        let long = Value::String("x".repeat(MAX_INDEXED_TEXT_BYTES + 1));
        assert!(check(&column(ColumnType::String, false), &long).is_ok());
        let problem = check(&column(ColumnType::String, true), &long).unwrap_err();
        assert!(problem.contains("indexed"), "{problem}");
    }
}
