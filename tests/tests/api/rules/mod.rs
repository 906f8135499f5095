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
