//! The mapping of a webhook: which paths of a payload become which fields of the record.
//!
//! `{"client.name": "customer.full_name"}` puts the payload's `customer.full_name` at the
//! record's `client.name`. Paths are dot-separated; in a payload path a numeric segment also
//! indexes an array (`items.0.sku`). A payload that lacks a source path gives `null`, so that
//! every record of a webhook has the same fields; a data schema can refuse such records.

use flowline_core::Error;
use serde_json::{Map, Value};

const MAX_ENTRIES: usize = 256;
const MAX_PATH_CHARS: usize = 256;

/// A validated mapping: record paths that never overlap, each with its payload path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    entries: Vec<(Vec<String>, Vec<String>)>,
    /// The mapping as it was given (and is stored and shown).
    original: Map<String, Value>,
}

impl Mapping {
    /// Parses `{record path: payload path}`; errors name `mapping` and the path at fault.
    pub fn parse(value: &Value) -> Result<Mapping, Error> {
        let Value::Object(map) = value else {
            return Err(Error::invalid_field(
                "mapping",
                "must be an object of {record path: payload path}",
            ));
        };
        if map.is_empty() || map.len() > MAX_ENTRIES {
            return Err(Error::invalid_field(
                "mapping",
                format!("must map 1 to {MAX_ENTRIES} record paths"),
            ));
        }
        let mut entries = Vec::with_capacity(map.len());
        for (target, source) in map {
            let field = format!("mapping.{target}");
            let target_path = parse_path(target).map_err(|problem| {
                Error::invalid_field("mapping", format!("record path '{target}' {problem}"))
            })?;
            let Value::String(source) = source else {
                return Err(Error::invalid_field(
                    &field,
                    "must be a payload path (a string)",
                ));
            };
            let source_path = parse_path(source).map_err(|problem| {
                Error::invalid_field(&field, format!("payload path '{source}' {problem}"))
            })?;
            entries.push((target_path, source_path));
        }
        check_no_overlap(&entries)?;
        Ok(Mapping {
            entries,
            original: map.clone(),
        })
    }

    /// The mapping as given, for storage and display.
    pub fn to_value(&self) -> Value {
        Value::Object(self.original.clone())
    }

    /// The record built from `payload`.
    pub fn apply(&self, payload: &Value) -> Value {
        let mut record = Map::new();
        for (target, source) in &self.entries {
            let value = lookup(payload, source).cloned().unwrap_or(Value::Null);
            insert(&mut record, target, value);
        }
        Value::Object(record)
    }
}

fn parse_path(text: &str) -> Result<Vec<String>, &'static str> {
    if text.is_empty() || text.chars().count() > MAX_PATH_CHARS {
        return Err("must be 1 to 256 characters");
    }
    let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return Err("has an empty segment");
    }
    Ok(segments)
}

/// Two record paths where one is the other or lies inside it would write the same field twice.
fn check_no_overlap(entries: &[(Vec<String>, Vec<String>)]) -> Result<(), Error> {
    for (index, (a, _)) in entries.iter().enumerate() {
        for (b, _) in &entries[index + 1..] {
            let shorter = a.len().min(b.len());
            if a[..shorter] == b[..shorter] {
                return Err(Error::invalid_field(
                    "mapping",
                    format!(
                        "record paths '{}' and '{}' overlap",
                        a.join("."),
                        b.join(".")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        })
}

/// Record paths never overlap (checked at parse), so every step below the root meets either
/// nothing or an object that an earlier entry created.
fn insert(record: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = record;
    for segment in parents {
        let next = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(map) = next else {
            return;
        };
        current = map;
    }
    current.insert(last.clone(), value);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_the_record_from_payload_paths() {
        let mapping = Mapping::parse(&json!({
            "client.name": "customer.full_name",
            "client.age": "customer.age",
            "first_sku": "items.0.sku",
            "missing": "nowhere.at.all",
            "whole": "customer",
        }))
        .unwrap();
        let payload = json!({
            "customer": {"full_name": "Ada", "age": 36},
            "items": [{"sku": "X1"}, {"sku": "X2"}],
        });
        assert_eq!(
            mapping.apply(&payload),
            json!({
                "client": {"name": "Ada", "age": 36},
                "first_sku": "X1",
                "missing": null,
                "whole": {"full_name": "Ada", "age": 36},
            })
        );
    }

    #[test]
    fn refuses_bad_mappings_naming_the_path() {
        let message = |value: Value| Mapping::parse(&value).unwrap_err().public_message();
        assert!(message(json!([])).starts_with("mapping:"));
        assert!(message(json!({})).starts_with("mapping:"));
        assert!(message(json!({"a": 1})).starts_with("mapping.a:"));
        assert!(message(json!({"a..b": "x"})).contains("'a..b'"));
        assert!(message(json!({"a": ""})).starts_with("mapping.a:"));
        assert!(message(json!({"client": "x", "client.name": "y"})).contains("overlap"));
        assert!(message(json!({"a.b": "x", "a.b.c": "y"})).contains("overlap"));
        assert!(Mapping::parse(&json!({"a.b": "x", "a.c": "y", "ab": "z"})).is_ok());
    }
}
