//! From a parsed payload to the record it becomes.

use crate::mapping::Mapping;
use flowline_core::Error;
use serde_json::{Map, Value};

/// The key under which a payload that is not a JSON object is kept.
pub const WRAPPED_KEY: &str = "payload";

/// The record a payload becomes: an object as it is, anything else (an array, a string, …)
/// under `{"payload": …}`, since a record is always an object; then, when the webhook has a
/// mapping, the mapping applied to that.
pub fn record_from(payload: Value, mapping: Option<&Mapping>) -> Result<Value, Error> {
    refuse_nul(&payload)?;
    let wrapped = match payload {
        Value::Object(_) => payload,
        other => Value::Object(Map::from_iter([(WRAPPED_KEY.to_owned(), other)])),
    };
    Ok(match mapping {
        Some(mapping) => mapping.apply(&wrapped),
        None => wrapped,
    })
}

/// PostgreSQL cannot store U+0000 in text or jsonb; say so rather than fail with a 500.
fn refuse_nul(value: &Value) -> Result<(), Error> {
    let found = match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => return items.iter().try_for_each(refuse_nul),
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains('\0') {
                    return Err(nul_error());
                }
                refuse_nul(item)?;
            }
            false
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    };
    if found { Err(nul_error()) } else { Ok(()) }
}

fn nul_error() -> Error {
    Error::invalid_field(
        "body",
        "contains the character U+0000, which cannot be stored",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_pass_and_everything_else_is_wrapped() {
        assert_eq!(record_from(json!({"a": 1}), None).unwrap(), json!({"a": 1}));
        assert_eq!(
            record_from(json!([1, 2]), None).unwrap(),
            json!({"payload": [1, 2]})
        );
        assert_eq!(
            record_from(json!("text"), None).unwrap(),
            json!({"payload": "text"})
        );
        assert_eq!(
            record_from(json!(null), None).unwrap(),
            json!({"payload": null})
        );
    }

    #[test]
    fn mappings_read_the_wrapped_payload() {
        let mapping = Mapping::parse(&json!({"first": "payload.0.id"})).unwrap();
        assert_eq!(
            record_from(json!([{"id": 7}]), Some(&mapping)).unwrap(),
            json!({"first": 7})
        );
    }

    #[test]
    fn nul_characters_are_refused_naming_the_body() {
        for payload in [json!({"a": "x\0y"}), json!({"a\0": 1}), json!([["\0"]])] {
            let error = record_from(payload, None).unwrap_err();
            assert!(error.public_message().starts_with("body:"));
        }
    }
}
