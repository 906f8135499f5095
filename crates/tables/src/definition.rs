//! Table definitions: what a table is (its name and typed columns), and the requests that
//! create and change one, parsed from JSON (or XML read as JSON, whose leaves are strings).

use crate::column::ColumnType;
use crate::name::{ColumnName, TableName, shown};
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, Error};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// A table's number: unique across all organizations, since it names the physical table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, sqlx::Type)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct TableId(pub i64);

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDefinition {
    /// Names the physical column (`c_<column_id>`); never shown.
    #[serde(skip)]
    pub column_id: i32,
    pub name: ColumnName,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    pub indexed: bool,
}

/// A table as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDefinition {
    pub table_id: TableId,
    pub environment_id: EnvironmentId,
    pub name: TableName,
    /// In the order they were added, which is the order answers show them in.
    pub columns: Vec<ColumnDefinition>,
    #[serde(rename = "date_created", serialize_with = "api_date")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "date_updated", serialize_with = "api_date")]
    pub updated_at: DateTime<Utc>,
}

fn api_date<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&flowline_core::time::api_date(*at))
}

impl TableDefinition {
    pub fn column(&self, name: &str) -> Option<&ColumnDefinition> {
        self.columns
            .iter()
            .find(|column| column.name.as_str() == name)
    }

    /// The definition as the API shows it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub(crate) fn unknown_column(&self, name: &str) -> String {
        format!("unknown column {} in table '{}'", shown(name), self.name)
    }
}

/// A column to add: `{"name": …, "type": …, "index": true|false}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: ColumnName,
    pub column_type: ColumnType,
    pub index: bool,
}

impl ColumnSpec {
    fn parse(value: &Value, field: &str) -> Result<ColumnSpec, Error> {
        let object = object(value, field, "an object {name, type, index}")?;
        refuse_unknown_keys(object, field, &["name", "type", "index"])?;
        let name_field = format!("{field}.name");
        let name = ColumnName::parse(required_text(object, "name", &name_field)?, &name_field)?;
        let type_field = format!("{field}.type");
        let column_type = column_type(required_text(object, "type", &type_field)?, &type_field)?;
        let index = match object.get("index") {
            None | Some(Value::Null) => false,
            Some(value) => boolean(value, &format!("{field}.index"))?,
        };
        if index && !column_type.indexable() {
            return Err(not_indexable(&format!("{field}.index"), &name));
        }
        Ok(ColumnSpec {
            name,
            column_type,
            index,
        })
    }

    /// `name:type`, as the command line takes it (`--column age:integer`).
    pub fn parse_pair(text: &str, field: &str) -> Result<ColumnSpec, Error> {
        let Some((name, column_type_text)) = text.split_once(':') else {
            return Err(Error::invalid_field(
                field,
                format!("{} is not NAME:TYPE (such as age:integer)", shown(text)),
            ));
        };
        Ok(ColumnSpec {
            name: ColumnName::parse(name, field)?,
            column_type: column_type(column_type_text, field)?,
            index: false,
        })
    }
}

/// What creating a table takes: `{"name": …, "columns": [column, …]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTable {
    pub name: TableName,
    pub columns: Vec<ColumnSpec>,
}

impl NewTable {
    pub fn parse(value: &Value) -> Result<NewTable, Error> {
        let object = object(value, "body", "an object {name, columns}")?;
        refuse_unknown_keys(object, "", &["name", "columns"])?;
        let name = TableName::parse(required_text(object, "name", "name")?, "name")?;
        let columns = match object.get("columns") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => column_specs(value, "columns")?,
        };
        Ok(NewTable { name, columns })
    }

    /// Builds one from checked parts (the command line); errors name `--column`.
    pub fn new(name: TableName, columns: Vec<ColumnSpec>) -> Result<NewTable, Error> {
        refuse_repeated_names(columns.iter().map(|spec| spec.name.as_str()), |_| {
            "--column".to_owned()
        })?;
        Ok(NewTable { name, columns })
    }
}

/// A change of definition, applied in one transaction in this order: `drop_columns`,
/// `add_columns`, `drop_indexes`, `add_indexes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableChanges {
    pub drop_columns: Vec<String>,
    pub add_columns: Vec<ColumnSpec>,
    pub drop_indexes: Vec<String>,
    pub add_indexes: Vec<String>,
}

impl TableChanges {
    pub fn parse(value: &Value) -> Result<TableChanges, Error> {
        let object = object(
            value,
            "body",
            "an object {add_columns, drop_columns, add_indexes, drop_indexes}",
        )?;
        const KEYS: [&str; 4] = ["add_columns", "drop_columns", "add_indexes", "drop_indexes"];
        refuse_unknown_keys(object, "", &KEYS)?;
        let names = |key: &str| match object.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(value) => name_list(value, key),
        };
        let changes = TableChanges {
            drop_columns: names("drop_columns")?,
            add_columns: match object.get("add_columns") {
                None | Some(Value::Null) => Vec::new(),
                Some(value) => column_specs(value, "add_columns")?,
            },
            drop_indexes: names("drop_indexes")?,
            add_indexes: names("add_indexes")?,
        };
        changes.check_not_empty()?;
        Ok(changes)
    }

    pub fn check_not_empty(&self) -> Result<(), Error> {
        if self.drop_columns.is_empty()
            && self.add_columns.is_empty()
            && self.drop_indexes.is_empty()
            && self.add_indexes.is_empty()
        {
            return Err(Error::invalid_field(
                "body",
                "name at least one change: add_columns, drop_columns, add_indexes or \
                 drop_indexes",
            ));
        }
        Ok(())
    }
}

fn object<'a>(
    value: &'a Value,
    field: &str,
    expected: &str,
) -> Result<&'a Map<String, Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| Error::invalid_field(field, format!("expected {expected}")))
}

fn refuse_unknown_keys(
    object: &Map<String, Value>,
    prefix: &str,
    known: &[&str],
) -> Result<(), Error> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(Error::invalid_field(
            &join(prefix, key),
            format!("is not a known field (expected {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn required_text<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a str, Error> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(Error::invalid_field(field, "is required")),
        Some(_) => Err(Error::invalid_field(field, "expected a string")),
    }
}

fn column_type(text: &str, field: &str) -> Result<ColumnType, Error> {
    ColumnType::parse(text).ok_or_else(|| {
        Error::invalid_field(
            field,
            format!(
                "unknown type {}; expected one of {}",
                shown(text),
                ColumnType::ALL.map(ColumnType::as_str).join(", ")
            ),
        )
    })
}

/// `true`/`false`, or their text (XML carries only text).
fn boolean(value: &Value, field: &str) -> Result<bool, Error> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text == "true" => Ok(true),
        Value::String(text) if text == "false" => Ok(false),
        _ => Err(Error::invalid_field(field, "expected true or false")),
    }
}

pub(crate) fn not_indexable(field: &str, name: &ColumnName) -> Error {
    Error::invalid_field(
        field,
        format!("column '{name}' is of type json, which cannot be indexed"),
    )
}

fn column_specs(value: &Value, field: &str) -> Result<Vec<ColumnSpec>, Error> {
    let Value::Array(items) = value else {
        return Err(Error::invalid_field(
            field,
            "expected an array of columns {name, type, index}",
        ));
    };
    let specs = items
        .iter()
        .enumerate()
        .map(|(index, item)| ColumnSpec::parse(item, &format!("{field}[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;
    refuse_repeated_names(specs.iter().map(|spec| spec.name.as_str()), |index| {
        format!("{field}[{index}].name")
    })?;
    Ok(specs)
}

fn name_list(value: &Value, field: &str) -> Result<Vec<String>, Error> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        // XML reads one `<drop_columns>age</drop_columns>` as a bare string.
        Value::String(_) => std::slice::from_ref(value),
        _ => {
            return Err(Error::invalid_field(
                field,
                "expected an array of column names",
            ));
        }
    };
    let names = items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(name) => Ok(name.clone()),
            _ => Err(Error::invalid_field(
                &format!("{field}[{index}]"),
                "expected a column name",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    refuse_repeated_names(names.iter().map(String::as_str), |index| {
        format!("{field}[{index}]")
    })?;
    Ok(names)
}

fn refuse_repeated_names<'a>(
    names: impl Iterator<Item = &'a str>,
    field: impl Fn(usize) -> String,
) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for (index, name) in names.enumerate() {
        if !seen.insert(name) {
            return Err(Error::invalid_field(
                &field(index),
                format!("column {} is named twice", shown(name)),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(error: Error) -> String {
        error.public_message()
    }

    #[test]
    fn a_new_table_reads_json_and_xml_text() {
        let table = NewTable::parse(&json!({"name": "users", "columns": [
            {"name": "username", "type": "string", "index": true},
            {"name": "age", "type": "integer", "index": "false"},
        ]}))
        .unwrap();
        assert_eq!(table.name.as_str(), "users");
        assert_eq!(table.columns.len(), 2);
        assert!(table.columns[0].index);
        assert_eq!(table.columns[1].column_type, ColumnType::Integer);
        assert!(!table.columns[1].index);
    }

    #[test]
    fn new_table_errors_name_the_field() {
        let cases = [
            (json!([]), "body: "),
            (json!({"columns": []}), "name: is required"),
            (json!({"name": "a b"}), "name: "),
            (
                json!({"name": "t", "extra": 1}),
                "extra: is not a known field",
            ),
            (
                json!({"name": "t", "columns": {}}),
                "columns: expected an array",
            ),
            (
                json!({"name": "t", "columns": [{"name": "a"}]}),
                "columns[0].type: is required",
            ),
            (
                json!({"name": "t", "columns": [{"name": "a", "type": "text"}]}),
                "columns[0].type: unknown type 'text'",
            ),
            (
                json!({"name": "t", "columns": [{"name": "a", "type": "json", "index": true}]}),
                "columns[0].index: column 'a' is of type json",
            ),
            (
                json!({"name": "t", "columns": [{"name": "id", "type": "integer"}]}),
                "columns[0].name: 'id' is reserved",
            ),
            (
                json!({"name": "t", "columns": [
                    {"name": "a", "type": "date"}, {"name": "a", "type": "date"}]}),
                "columns[1].name: column 'a' is named twice",
            ),
            (
                json!({"name": "t", "columns": [{"name": "a", "type": "date", "index": 1}]}),
                "columns[0].index: expected true or false",
            ),
        ];
        for (body, expected) in cases {
            let error = message(NewTable::parse(&body).unwrap_err());
            assert!(error.starts_with(expected), "{body}: {error}");
        }
    }

    #[test]
    fn changes_need_at_least_one_and_name_their_items() {
        assert!(
            message(TableChanges::parse(&json!({})).unwrap_err())
                .starts_with("body: name at least")
        );
        let changes = TableChanges::parse(&json!({"add_indexes": "age"})).unwrap();
        assert_eq!(changes.add_indexes, vec!["age".to_owned()]);
        let error = TableChanges::parse(&json!({"drop_columns": ["a", 5]})).unwrap_err();
        assert!(message(error).starts_with("drop_columns[1]: "));
        let error = TableChanges::parse(&json!({"drop_columns": ["a", "a"]})).unwrap_err();
        assert!(message(error).starts_with("drop_columns[1]: column 'a' is named twice"));
    }

    #[test]
    fn command_line_columns_are_name_colon_type() {
        let spec = ColumnSpec::parse_pair("age:integer", "--column").unwrap();
        assert_eq!(spec.name.as_str(), "age");
        assert_eq!(spec.column_type, ColumnType::Integer);
        for bad in ["age", "age:int", ":string", "a b:string"] {
            let error = message(ColumnSpec::parse_pair(bad, "--column").unwrap_err());
            assert!(error.starts_with("--column: "), "{bad}: {error}");
        }
    }
}
