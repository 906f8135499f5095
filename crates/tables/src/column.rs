//! The types a column may have, and what each is in PostgreSQL and in the where-rules.

use flowline_core::rules;
use serde::Serialize;
use std::fmt;

/// A column's type, as the definitions API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    #[serde(rename = "datetime")]
    DateTime,
    Json,
}

impl ColumnType {
    pub const ALL: [ColumnType; 7] = [
        ColumnType::String,
        ColumnType::Integer,
        ColumnType::Number,
        ColumnType::Boolean,
        ColumnType::Date,
        ColumnType::DateTime,
        ColumnType::Json,
    ];

    pub fn parse(text: &str) -> Option<ColumnType> {
        ColumnType::ALL
            .into_iter()
            .find(|column_type| column_type.as_str().eq_ignore_ascii_case(text))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::DateTime => "datetime",
            ColumnType::Json => "json",
        }
    }

    /// The column's PostgreSQL type. Text is `COLLATE "C"`: the where-rules order strings by
    /// bytes, and an index serves `<`, `>`, `between` and `begins_with` only when its collation
    /// is the one the comparison uses.
    pub(crate) fn sql_type(self) -> &'static str {
        match self {
            ColumnType::String => "text COLLATE \"C\"",
            ColumnType::Integer => "bigint",
            ColumnType::Number => "double precision",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::DateTime => "timestamptz",
            ColumnType::Json => "jsonb",
        }
    }

    /// How the where-rules compare the column.
    pub(crate) fn rules_type(self) -> rules::ColumnType {
        match self {
            ColumnType::String => rules::ColumnType::Text,
            ColumnType::Integer => rules::ColumnType::Integer,
            ColumnType::Number => rules::ColumnType::Number,
            ColumnType::Boolean => rules::ColumnType::Boolean,
            ColumnType::Date => rules::ColumnType::Date,
            ColumnType::DateTime => rules::ColumnType::DateTime,
            ColumnType::Json => rules::ColumnType::Json,
        }
    }

    /// A btree index serves every comparison of the other types; JSON values are compared
    /// through their JSON type, which no btree index can serve.
    pub fn indexable(self) -> bool {
        self != ColumnType::Json
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_its_own_name() {
        for column_type in ColumnType::ALL {
            assert_eq!(ColumnType::parse(column_type.as_str()), Some(column_type));
        }
        assert_eq!(ColumnType::parse("DateTime"), Some(ColumnType::DateTime));
        assert_eq!(ColumnType::parse("text"), None);
    }
}
