//! Where-rules as a step carries them (`condition`, `switch`, `table.update`, `table.search`).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Where-rules as written: `{"condition": "AND" | "OR", "rules": [...]}`. Only this outer shape is
/// checked here; the rules themselves belong to the where-rules DSL, which parses and evaluates
/// them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct WhereRules(Value);

impl WhereRules {
    /// Checks the outer shape of `value`.
    pub fn parse(value: Value) -> Result<WhereRules, String> {
        let Value::Object(members) = &value else {
            return Err(r#"must be an object with "condition" and "rules""#.to_owned());
        };
        match members.get("condition").and_then(Value::as_str) {
            Some("AND" | "OR") => {}
            _ => return Err(r#""condition" must be "AND" or "OR""#.to_owned()),
        }
        if !members.get("rules").is_some_and(Value::is_array) {
            return Err(r#""rules" must be an array of rules"#.to_owned());
        }
        Ok(WhereRules(value))
    }

    /// The rules as written.
    pub fn value(&self) -> &Value {
        &self.0
    }
}

impl TryFrom<Value> for WhereRules {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        WhereRules::parse(value)
    }
}

impl Serialize for WhereRules {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}
