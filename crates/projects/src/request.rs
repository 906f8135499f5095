//! The body of `POST /v1/environment/{id}/project/{project_id}`, parsed and checked before
//! anything is read or written.

use crate::model::{Action, positive_integer};
use flowline_core::{EnvironmentId, Error};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// What to deploy besides the project's flows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeployRequest {
    /// Bring the structure (definitions) of every keystore and table of the project, even those
    /// whose data is not deployed.
    pub static_data: bool,
    /// Make the environment's websites of the project exactly the version's: websites it no
    /// longer has are removed, and those no action names are deployed with "delete and insert".
    pub file_manager: bool,
    /// Deploy the version that this other environment of the organization holds, instead of
    /// the project's latest.
    pub source_environment: Option<EnvironmentId>,
    pub keystores: Choice,
    pub tables: Choice,
    pub websites: Choice,
}

/// Which items of one kind a deploy touches, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `all_keystores` (…): every item of the kind, with this action.
    All(Action),
    /// `keystores` (…): the items named, each with its action; the others are left alone.
    Some(Vec<Chosen>),
}

impl Default for Choice {
    fn default() -> Self {
        Choice::Some(Vec::new())
    }
}

impl Choice {
    /// The action for item `name`, if the choice names it.
    pub fn action_for(&self, name: &str) -> Option<Action> {
        match self {
            Choice::All(action) => Some(*action),
            Choice::Some(items) => items
                .iter()
                .find(|item| item.name == name)
                .map(|item| item.action),
        }
    }
}

/// One item of a `keystores`, `tables` or `websites` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub name: String,
    pub action: Action,
    /// Where it sits in the request (`tables[1].name`), for messages.
    pub field: String,
}

const KEYS: [&str; 9] = [
    "static_data",
    "file_manager",
    "source_environment",
    "all_keystores",
    "all_tables",
    "all_websites",
    "keystores",
    "tables",
    "websites",
];

/// The three kinds of items, with their list's key, their "all" key and their name's key.
const KINDS: [(&str, &str, &str); 3] = [
    ("keystores", "all_keystores", "keystore_id"),
    ("tables", "all_tables", "name"),
    ("websites", "all_websites", "slug"),
];

impl DeployRequest {
    /// Reads a JSON body (or an XML one read as JSON, whose leaves are strings). No body at
    /// all deploys the flows alone.
    pub fn parse(body: Option<&Value>) -> Result<DeployRequest, Error> {
        let Some(body) = body else {
            return Ok(DeployRequest::default());
        };
        let Value::Object(object) = body else {
            return Err(Error::invalid_field("body", "expected an object"));
        };
        if let Some(key) = object.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(Error::invalid_field(
                key,
                format!("is not a known field (expected {})", KEYS.join(", ")),
            ));
        }
        let [keystores, tables, websites] =
            KINDS.map(|(list, all, name)| choice(object, list, all, name));
        Ok(DeployRequest {
            static_data: yes_no(object, "static_data")?,
            file_manager: yes_no(object, "file_manager")?,
            source_environment: source_environment(object)?,
            keystores: keystores?,
            tables: tables?,
            websites: websites?,
        })
    }
}

fn yes_no(object: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("yes") => Ok(true),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("no") => Ok(false),
        Some(_) => Err(Error::invalid_field(key, "expected \"yes\" or \"no\"")),
    }
}

fn source_environment(object: &Map<String, Value>) -> Result<Option<EnvironmentId>, Error> {
    let id = match object.get("source_environment") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_i64().filter(|id| *id > 0),
        Some(Value::String(text)) => positive_integer(text.trim()),
        Some(_) => None,
    };
    id.map(|id| Some(EnvironmentId(id))).ok_or_else(|| {
        Error::invalid_field(
            "source_environment",
            "expected the id of an environment (a positive integer)",
        )
    })
}

/// `all_<kind>` wins over the `<kind>` list, as the reference says; the list is still checked,
/// so that a malformed one is never silently dropped.
fn choice(
    object: &Map<String, Value>,
    list_key: &str,
    all_key: &str,
    name_key: &str,
) -> Result<Choice, Error> {
    let items = match object.get(list_key) {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => items(value, list_key, name_key)?,
    };
    match object.get(all_key) {
        None | Some(Value::Null) => Ok(Choice::Some(items)),
        Some(Value::String(text)) => Ok(Choice::All(Action::parse(text, all_key)?)),
        Some(_) => Err(Error::invalid_field(
            all_key,
            "expected 'insert', 'insert or update' or 'delete and insert'",
        )),
    }
}

fn items(value: &Value, list_key: &str, name_key: &str) -> Result<Vec<Chosen>, Error> {
    let list = match value {
        Value::Array(list) => list.as_slice(),
        // XML reads a lone item as an object, not a one-item list.
        Value::Object(_) => std::slice::from_ref(value),
        _ => {
            return Err(Error::invalid_field(
                list_key,
                format!("expected an array of {{{name_key}, action}}"),
            ));
        }
    };
    let mut seen = HashSet::new();
    let mut chosen = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let field = format!("{list_key}[{index}]");
        let Value::Object(item) = item else {
            return Err(Error::invalid_field(
                &field,
                format!("expected an object {{{name_key}, action}}"),
            ));
        };
        if let Some(key) = item
            .keys()
            .find(|key| key.as_str() != name_key && key.as_str() != "action")
        {
            return Err(Error::invalid_field(
                &format!("{field}.{key}"),
                format!("is not a known field (expected {name_key}, action)"),
            ));
        }
        let name_field = format!("{field}.{name_key}");
        let name = match item.get(name_key) {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            None | Some(Value::Null) => {
                return Err(Error::invalid_field(&name_field, "is required"));
            }
            Some(_) => return Err(Error::invalid_field(&name_field, "expected a name")),
        };
        if !seen.insert(name.clone()) {
            return Err(Error::invalid_field(
                &name_field,
                format!("'{}' is named twice", name.escape_debug()),
            ));
        }
        let action_field = format!("{field}.action");
        // The reference does not require an action: the safest one, which changes nothing
        // that exists.
        let action = match item.get("action") {
            None | Some(Value::Null) => Action::Insert,
            Some(Value::String(text)) => Action::parse(text, &action_field)?,
            Some(_) => {
                return Err(Error::invalid_field(
                    &action_field,
                    "expected 'insert', 'insert or update' or 'delete and insert'",
                ));
            }
        };
        chosen.push(Chosen {
            name,
            action,
            field: name_field,
        });
    }
    Ok(chosen)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(body: Value) -> String {
        DeployRequest::parse(Some(&body))
            .unwrap_err()
            .public_message()
    }

    #[test]
    fn the_reference_example_reads() {
        let request = DeployRequest::parse(Some(&json!({
            "static_data": "yes", "file_manager": "no", "source_environment": 23,
            "all_keystores": "insert",
            "keystores": [{"keystore_id": "k1", "action": "insert"}],
            "tables": [{"name": "t1", "action": "insert or update"},
                       {"name": "t2", "action": "delete and insert"}],
            "websites": {"slug": "w1", "action": "insert"},
        })))
        .unwrap();
        assert!(request.static_data && !request.file_manager);
        assert_eq!(request.source_environment, Some(EnvironmentId(23)));
        assert_eq!(request.keystores, Choice::All(Action::Insert));
        assert_eq!(
            request.tables.action_for("t2"),
            Some(Action::DeleteAndInsert)
        );
        assert_eq!(request.tables.action_for("t3"), None);
        assert_eq!(request.websites.action_for("w1"), Some(Action::Insert));
        assert_eq!(
            DeployRequest::parse(None).unwrap(),
            DeployRequest::default()
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let cases = [
            (json!([]), "body: expected an object"),
            (json!({"extra": 1}), "extra: is not a known field"),
            (
                json!({"static_data": "maybe"}),
                "static_data: expected \"yes\" or \"no\"",
            ),
            (
                json!({"source_environment": "x"}),
                "source_environment: expected",
            ),
            (
                json!({"source_environment": -2}),
                "source_environment: expected",
            ),
            (
                json!({"all_tables": "upsert"}),
                "all_tables: 'upsert' is not an action",
            ),
            (json!({"tables": "t"}), "tables: expected an array"),
            (
                json!({"tables": [{"action": "insert"}]}),
                "tables[0].name: is required",
            ),
            (
                json!({"keystores": [{"keystore_id": "a", "action": "merge"}]}),
                "keystores[0].action: 'merge' is not an action",
            ),
            (
                json!({"websites": [{"slug": "a"}, {"slug": "a"}]}),
                "websites[1].slug: 'a' is named twice",
            ),
            (
                json!({"websites": [{"slug": "a", "mode": "x"}]}),
                "websites[0].mode: is not a known field",
            ),
            (
                json!({"all_keystores": "insert", "keystores": [5]}),
                "keystores[0]: expected an object",
            ),
        ];
        for (body, expected) in cases {
            let message = error(body.clone());
            assert!(message.starts_with(expected), "{body}: {message}");
        }
    }
}
