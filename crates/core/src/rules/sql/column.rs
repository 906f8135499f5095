//! Typed columns: literals converted to the column's type and compared natively, so that the
//! column's index can serve the search. SQL NULL plays the missing field.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::{Compiler, SqlParam};
use crate::rules::FieldPath;
use crate::rules::ast::{Comparison, Literal, Operand, Rule};
use crate::rules::parse::quoted;
use crate::{Error, Result};

/// The types a typed column may have. Literals are converted to the column's type before
/// binding (a value that does not fit is a 400), so that comparisons stay native and can use
/// the column's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `text`; ordering is by bytes (`COLLATE "C"`), so an index must be `COLLATE "C"` too
    /// to serve `<`, `>` and `between`.
    Text,
    /// `int8` (or a narrower integer).
    Integer,
    /// `float8`.
    Number,
    Boolean,
    /// `date`; literals are `YYYY-MM-DD`.
    Date,
    /// `timestamptz`; literals are `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339.
    DateTime,
    /// `jsonb`, compared with the JSON semantics of the whole value.
    Json,
}

impl<R> Compiler<R>
where
    R: FnMut(&FieldPath) -> Result<super::FieldTarget, String>,
{
    /// The positive predicate over a typed column: NULL is the missing field.
    pub(super) fn column_operand(
        &mut self,
        rule: &Rule,
        column: &str,
        column_type: ColumnType,
    ) -> Result<String> {
        let value_location = format!("{}.value", rule.location);
        let refuse = |problem: String| Error::invalid_field(&value_location, problem);
        let operator = rule.operator;
        let predicate = match &rule.operand {
            Operand::None if column_type == ColumnType::Text => {
                return Ok(format!("({column} IS NULL OR {column} = '')"));
            }
            Operand::None => return Ok(format!("({column} IS NULL)")),
            Operand::Compare(comparison, literal) => {
                if column_type == ColumnType::Boolean && *comparison != Comparison::Eq {
                    return Err(refuse(format!(
                        "operator '{operator}' does not order booleans"
                    )));
                }
                let value = self.column_value(column_type, literal).map_err(&refuse)?;
                let collate = ordering_collation(column_type, *comparison);
                format!("{column}{collate} {} {value}", comparison.sql())
            }
            Operand::Range(low, high) => {
                if column_type == ColumnType::Boolean {
                    return Err(refuse(format!(
                        "operator '{operator}' does not order booleans"
                    )));
                }
                let low = self.column_value(column_type, low).map_err(&refuse)?;
                let high = self.column_value(column_type, high).map_err(&refuse)?;
                let collate = ordering_collation(column_type, Comparison::Ge);
                format!("{column}{collate} >= {low} AND {column}{collate} <= {high}")
            }
            Operand::List(items) if items.is_empty() => return Ok("FALSE".to_owned()),
            Operand::List(items) => self
                .column_list(column, column_type, items)
                .map_err(&refuse)?,
            Operand::Pattern(pattern) => {
                if column_type != ColumnType::Text {
                    return Err(refuse(format!(
                        "operator '{operator}' works on text columns only"
                    )));
                }
                self.like(column, pattern)
            }
        };
        // Never NULL (the column is tested first, and no bound value is NULL), and unlike
        // COALESCE it leaves `column op value` visible to the planner, so that an index on the
        // column can serve it.
        Ok(format!("({column} IS NOT NULL AND {predicate})"))
    }

    /// Binds a literal converted to a column's type; returns its placeholder, with a cast
    /// where the parameter is bound as text.
    fn column_value(
        &mut self,
        column_type: ColumnType,
        literal: &Literal,
    ) -> Result<String, String> {
        let param = match column_type {
            ColumnType::Text => SqlParam::Text(column_text(literal)?),
            ColumnType::Integer => match column_integer(literal) {
                Some(integer) => SqlParam::Int(integer),
                None => SqlParam::Float(column_number(literal)?),
            },
            ColumnType::Number => SqlParam::Float(column_number(literal)?),
            ColumnType::Boolean => SqlParam::Bool(
                literal
                    .boolean
                    .ok_or_else(|| format!("{} is not a boolean", quoted(&literal.json)))?,
            ),
            ColumnType::Date => {
                return Ok(format!(
                    "{}::date",
                    self.bind(SqlParam::Text(column_date(literal)?))
                ));
            }
            ColumnType::DateTime => {
                let text = column_datetime(literal)?;
                return Ok(format!("{}::timestamptz", self.bind(SqlParam::Text(text))));
            }
            ColumnType::Json => return Err(JSON_COLUMN.to_owned()),
        };
        Ok(self.bind(param))
    }

    /// `column = ANY(list)` with the list converted to the column's type.
    fn column_list(
        &mut self,
        column: &str,
        column_type: ColumnType,
        items: &[Literal],
    ) -> Result<String, String> {
        let (array, element) = match column_type {
            ColumnType::Text => (SqlParam::TextArray(collect(items, column_text)?), ""),
            ColumnType::Integer if items.iter().all(|item| column_integer(item).is_some()) => (
                SqlParam::IntArray(items.iter().filter_map(column_integer).collect()),
                "",
            ),
            ColumnType::Integer | ColumnType::Number => {
                (SqlParam::FloatArray(collect(items, column_number)?), "")
            }
            ColumnType::Date => (
                SqlParam::TextArray(collect(items, column_date)?),
                "::date[]",
            ),
            ColumnType::DateTime => (
                SqlParam::TextArray(collect(items, column_datetime)?),
                "::timestamptz[]",
            ),
            ColumnType::Boolean => {
                if let Some(item) = items.iter().find(|item| item.boolean.is_none()) {
                    return Err(format!("{} is not a boolean", quoted(&item.json)));
                }
                let booleans = self.booleans(items).unwrap_or_default();
                return Ok(format!("{column} IN ({booleans})"));
            }
            ColumnType::Json => return Err(JSON_COLUMN.to_owned()),
        };
        Ok(format!("{column} = ANY({}{element})", self.bind(array)))
    }
}

/// Never shown: JSON columns take the JSON path of [`Compiler::rule`].
const JSON_COLUMN: &str = "a JSON column is compared as JSON";

fn collect<T>(
    items: &[Literal],
    convert: impl Fn(&Literal) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    items.iter().map(convert).collect()
}

/// Text orders by bytes, as Rust's `str` does; equality needs no collation, which keeps an
/// ordinary index usable for `=`.
fn ordering_collation(column_type: ColumnType, comparison: Comparison) -> &'static str {
    if column_type == ColumnType::Text && comparison != Comparison::Eq {
        " COLLATE \"C\""
    } else {
        ""
    }
}

fn column_text(literal: &Literal) -> Result<String, String> {
    match (&literal.text, &literal.json) {
        (Some(text), _) => Ok(text.clone()),
        (None, serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
            Ok(literal.json.to_string())
        }
        _ => Err("compare with null through is_empty".to_owned()),
    }
}

fn column_integer(literal: &Literal) -> Option<i64> {
    match &literal.json {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.parse().ok().filter(|_| literal.number.is_some()),
        _ => None,
    }
}

fn column_number(literal: &Literal) -> Result<f64, String> {
    literal
        .number
        .ok_or_else(|| format!("{} is not a number", quoted(&literal.json)))
}

/// PostgreSQL spells years outside 1–9999 its own way (`BC`, five digits), so those are
/// refused rather than sent in a form it would reject with a 500.
fn in_plain_years(year: i32) -> bool {
    (1..=9999).contains(&year)
}

fn column_date(literal: &Literal) -> Result<String, String> {
    literal
        .text
        .as_deref()
        .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .filter(|date| in_plain_years(date.year()))
        .map(|date| date.format("%Y-%m-%d").to_string())
        .ok_or_else(|| format!("{} is not a date (YYYY-MM-DD)", quoted(&literal.json)))
}

fn column_datetime(literal: &Literal) -> Result<String, String> {
    let parse = |text: &str| -> Option<DateTime<Utc>> {
        crate::time::parse_api_date(text).or_else(|| crate::time::parse_atom(text))
    };
    literal
        .text
        .as_deref()
        .and_then(parse)
        .filter(|at| in_plain_years(at.year()))
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .ok_or_else(|| {
            format!(
                "{} is not a date and time (YYYY-MM-DD HH:MM:SS or RFC 3339)",
                quoted(&literal.json)
            )
        })
}
