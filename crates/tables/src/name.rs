//! Table and column names as clients choose them, checked once at the boundary. They are
//! looked up in the catalog and shown back, and never appear in SQL text.

use flowline_core::Error;
use serde::Serialize;
use std::fmt;

/// The longest table or column name.
pub const MAX_NAME_LENGTH: usize = 64;

/// Column names that every row already has, or that would make a request body ambiguous
/// (`columns` introduces the reference's `[{column_name, column_value}]` form). Compared
/// without regard to case.
pub const RESERVED_COLUMNS: [&str; 4] = ["id", "date_created", "date_updated", "columns"];

/// A table's name: unique within an environment, `[A-Za-z_][A-Za-z0-9_-]*`, at most
/// [`MAX_NAME_LENGTH`] characters, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TableName(String);

/// A column's name: the same alphabet as a table's, so that a where-rule's `field` names it
/// as it is; unique within its table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ColumnName(String);

impl TableName {
    /// Checks a name; errors name `field`.
    pub fn parse(text: &str, field: &str) -> Result<TableName, Error> {
        check_name(text)
            .map(|()| TableName(text.to_owned()))
            .map_err(|problem| Error::invalid_field(field, problem))
    }

    /// A name read back from the catalog, which only ever stored checked names.
    pub(crate) fn from_catalog(text: String) -> TableName {
        TableName(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ColumnName {
    /// Checks a name for a new column; errors name `field`.
    pub fn parse(text: &str, field: &str) -> Result<ColumnName, Error> {
        check_name(text).map_err(|problem| Error::invalid_field(field, problem))?;
        if RESERVED_COLUMNS
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(text))
        {
            return Err(Error::invalid_field(
                field,
                format!(
                    "'{text}' is reserved (every row has id, date_created and date_updated, and \
                     'columns' introduces the column_name/column_value form)"
                ),
            ));
        }
        Ok(ColumnName(text.to_owned()))
    }

    pub(crate) fn from_catalog(text: String) -> ColumnName {
        ColumnName(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_name(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is required".to_owned());
    }
    if text.len() > MAX_NAME_LENGTH {
        return Err(format!("is longer than {MAX_NAME_LENGTH} characters"));
    }
    let mut bytes = text.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a valid name: use letters, digits, '_' and '-', starting with a letter \
             or '_'",
            shown(text)
        ))
    }
}

/// Client text quoted in a message, cut short so that a long attempt does not fill the answer.
pub(crate) fn shown(text: &str) -> String {
    const MAX_SHOWN: usize = 64;
    match text.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => format!("'{}…'", &text[..cut]),
        None => format!("'{text}'"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers_of_a_bounded_length() {
        assert!(TableName::parse("customers", "name").is_ok());
        assert!(TableName::parse("_a-b_9", "name").is_ok());
        for bad in ["", "9lives", "a b", "a;drop", "ä", "a.b", "a\"b", "-x"] {
            let error = TableName::parse(bad, "name").unwrap_err();
            assert!(error.public_message().starts_with("name: "), "{bad}");
        }
        assert!(TableName::parse(&"a".repeat(64), "name").is_ok());
        assert!(TableName::parse(&"a".repeat(65), "name").is_err());
    }

    #[test]
    fn system_and_ambiguous_column_names_are_reserved() {
        for reserved in ["id", "ID", "date_created", "Date_Updated", "columns"] {
            let error = ColumnName::parse(reserved, "columns[0].name").unwrap_err();
            assert!(error.public_message().contains("reserved"), "{reserved}");
        }
        assert!(ColumnName::parse("identity", "x").is_ok());
    }

    #[test]
    fn long_client_text_is_cut_in_messages() {
        assert_eq!(shown("abc"), "'abc'");
        assert_eq!(shown(&"é".repeat(100)).chars().count(), 64 + 3);
    }
}
