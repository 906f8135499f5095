//! Where-rules as a step carries them (`condition`, `switch`, `table.update`, `table.search`).

use flowline_core::rules::Rules;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Where-rules as written — `{"condition": "AND" | "OR", "rules": [...]}` — parsed and bounded by
/// the where-rules DSL of `flowline-core` when the definition is saved, and kept as written so
/// that the definition round-trips unchanged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct WhereRules {
    written: Value,
    rules: Rules,
}

impl WhereRules {
    /// Parses `value` with the where-rules DSL; the message says which rule is at fault.
    pub fn parse(value: Value) -> Result<WhereRules, String> {
        let rules = Rules::parse(&value, "where").map_err(|error| error.public_message())?;
        Ok(WhereRules {
            written: value,
            rules,
        })
    }

    /// The rules as written.
    pub fn value(&self) -> &Value {
        &self.written
    }

    /// The parsed rules, for evaluation or compilation to SQL.
    pub fn rules(&self) -> &Rules {
        &self.rules
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
        self.written.serialize(serializer)
    }
}
