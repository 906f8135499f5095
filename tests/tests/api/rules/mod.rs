//! The where-rules DSL through its public API: the evaluator operator by operator, the parser's
//! bounds and messages, the SQL compiler's shape, and, against a real PostgreSQL, the agreement
//! of the SQL back-end with the evaluator.

mod eval;
mod parse;
mod postgres;
mod sql;

use flowline_core::rules::Rules;
use serde_json::{Value, json};

/// Parses a document that must be valid.
pub fn rules(document: Value) -> Rules {
    Rules::parse(&document, "where")
        .unwrap_or_else(|error| panic!("{document} should parse: {error}"))
}

/// One rule in an AND group.
pub fn rule(field: &str, operator: &str, value: Value) -> Rules {
    rules(json!({"condition": "AND", "rules": [
        {"field": field, "operator": operator, "value": value}
    ]}))
}

/// The message of the 400 that a document must be refused with.
pub fn refusal(document: Value) -> String {
    match Rules::parse(&document, "where") {
        Ok(rules) => panic!("{document} should be refused, got {rules:?}"),
        Err(error) => {
            assert_eq!(error.kind().status(), 400, "{error}");
            error.public_message()
        }
    }
}

/// The typed columns of the tables the column tests use, as a table's catalog would resolve
/// them; `qualifier` prefixes the quoted column name (e.g. `r.`).
pub fn typed_columns(
    field: &flowline_core::rules::FieldPath,
    qualifier: &str,
) -> Result<flowline_core::rules::FieldTarget, String> {
    use flowline_core::rules::{ColumnType, FieldTarget};
    let column_type = match field.as_str() {
        "name" => ColumnType::Text,
        "age" => ColumnType::Integer,
        "price" => ColumnType::Number,
        "active" => ColumnType::Boolean,
        "born" => ColumnType::Date,
        "seen" => ColumnType::DateTime,
        "extra" => ColumnType::Json,
        other => return Err(format!("unknown column '{other}'")),
    };
    Ok(FieldTarget::Column {
        sql: format!("{qualifier}\"{}\"", field.as_str()),
        column_type,
    })
}
