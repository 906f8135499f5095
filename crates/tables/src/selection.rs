//! Which rows a search (or a bulk update) reaches: `where`, `limit`, `offset`, `order_field`
//! and `order_type`, as the reference's search body spells them, and their compilation over a
//! table's typed columns through `flowline_core::rules`.

use crate::definition::TableDefinition;
use crate::name::shown;
use crate::physical;
use crate::value::holds_nul;
use flowline_core::Error;
use flowline_core::rules::{FieldPath, FieldTarget, Rules, SqlFilter};
use serde_json::{Map, Value};

/// Rows per page unless the client asks otherwise (the reference's default).
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest page: "You cannot retrieve more than 100 per query."
pub const MAX_LIMIT: i64 = 100;
/// The deepest page: skipping rows costs as much as reading them.
pub const MAX_OFFSET: i64 = 1_000_000;
/// How far past the requested page `max_results` counts: exact below
/// `offset + limit + TOTAL_LOOKAHEAD` matches, that bound above it, so that paging on with
/// `next_element` always sees that more remain while a search matching millions of rows stops
/// counting after a few thousand index entries.
pub const TOTAL_LOOKAHEAD: i64 = 10_000;

/// The search keys of a request body.
pub(crate) const SELECTION_KEYS: [&str; 5] =
    ["where", "limit", "offset", "order_field", "order_type"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// `order_field` (a column, `id`, `date_created` or `date_updated`; `None` is `id`) and
/// `order_type`. Ties are broken by `id` in the same direction. NULLs come first ascending and
/// last descending, as if smaller than any value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Order {
    pub field: Option<String>,
    pub direction: Direction,
}

/// A validated selection: the rules are parsed, the bounds checked; the column names are
/// checked against the table when it is compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub rules: Option<Rules>,
    pub limit: i64,
    pub offset: i64,
    pub order: Order,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            rules: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
            order: Order::default(),
        }
    }
}

impl Selection {
    /// A search body: `{where, limit, offset, order_field, order_type}`, every key optional;
    /// no body at all is the first page of every row by id.
    pub fn parse(body: Option<&Value>) -> Result<Selection, Error> {
        let Some(body) = body else {
            return Ok(Selection::default());
        };
        let Value::Object(object) = body else {
            return Err(Error::invalid_field(
                "body",
                "expected an object {where, limit, offset, order_field, order_type}",
            ));
        };
        if let Some(key) = object
            .keys()
            .find(|key| !SELECTION_KEYS.contains(&key.as_str()))
        {
            return Err(Error::invalid_field(
                key,
                format!(
                    "is not a search parameter (expected {})",
                    SELECTION_KEYS.join(", ")
                ),
            ));
        }
        Selection::from_object(object)
    }

    /// The selection keys of `object`; other keys are the caller's business.
    pub(crate) fn from_object(object: &Map<String, Value>) -> Result<Selection, Error> {
        let rules = match object.get("where") {
            None | Some(Value::Null) => None,
            Some(document) => {
                if holds_nul(document) {
                    return Err(Error::invalid_field(
                        "where",
                        "a value cannot hold the character U+0000",
                    ));
                }
                Some(Rules::parse(document, "where")?)
            }
        };
        let limit = bounded(object.get("limit"), "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let offset = bounded(object.get("offset"), "offset", 0, MAX_OFFSET)?.unwrap_or(0);
        let field = match object.get("order_field") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if name.is_empty() => None,
            Some(Value::String(name)) => Some(name.clone()),
            Some(_) => {
                return Err(Error::invalid_field(
                    "order_field",
                    "expected the name of a column",
                ));
            }
        };
        let direction = match object.get("order_type") {
            None | Some(Value::Null) => Direction::Asc,
            Some(Value::String(text)) if text.is_empty() || text.eq_ignore_ascii_case("asc") => {
                Direction::Asc
            }
            Some(Value::String(text)) if text.eq_ignore_ascii_case("desc") => Direction::Desc,
            Some(other) => {
                return Err(Error::invalid_field(
                    "order_type",
                    format!("{} is not ASC or DESC", quoted(other)),
                ));
            }
        };
        Ok(Selection {
            rules,
            limit,
            offset,
            order: Order { field, direction },
        })
    }

    /// How far the total is counted.
    pub(crate) fn count_bound(&self) -> i64 {
        self.offset + self.limit + TOTAL_LOOKAHEAD
    }
}

fn quoted(value: &Value) -> String {
    match value {
        Value::String(text) => shown(text),
        other => shown(&other.to_string()),
    }
}

/// An integer in `[min, max]`, as a JSON number or as its text (XML carries only text).
fn bounded(value: Option<&Value>, field: &str, min: i64, max: i64) -> Result<Option<i64>, Error> {
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        Some(_) => None,
    };
    match (number, value) {
        (Some(number), _) if (min..=max).contains(&number) => Ok(Some(number)),
        (_, Some(value)) => Err(Error::invalid_field(
            field,
            format!("{} is not an integer from {min} to {max}", quoted(value)),
        )),
        (_, None) => Ok(None),
    }
}

/// A selection compiled over one table: the filter's SQL and parameters, and the `ORDER BY`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledSelection {
    pub filter: SqlFilter,
    pub order_by: String,
}

/// Where a rule's field or the order's field lives: a system column or a typed column.
fn column_target(definition: &TableDefinition, name: &str) -> Option<FieldTarget> {
    use flowline_core::rules::ColumnType as RulesType;
    let system = match name {
        "id" => Some(RulesType::Integer),
        "date_created" | "date_updated" => Some(RulesType::DateTime),
        _ => None,
    };
    if let Some(column_type) = system {
        return Some(FieldTarget::Column {
            sql: name.to_owned(),
            column_type,
        });
    }
    definition.column(name).map(|column| FieldTarget::Column {
        sql: physical::column(column.column_id),
        column_type: column.column_type.rules_type(),
    })
}

/// Compiles the selection over `definition`; the filter's placeholders start at
/// `first_placeholder`. An unknown column in a rule or in `order_field` is a 400 naming it.
pub(crate) fn compile(
    selection: &Selection,
    definition: &TableDefinition,
    first_placeholder: usize,
) -> Result<CompiledSelection, Error> {
    let filter = match &selection.rules {
        None => SqlFilter {
            sql: "TRUE".to_owned(),
            params: Vec::new(),
        },
        Some(rules) => rules.to_sql(first_placeholder, |path: &FieldPath| {
            column_target(definition, path.as_str())
                .ok_or_else(|| definition.unknown_column(path.as_str()))
        })?,
    };
    let order_column = match &selection.order.field {
        None => "id".to_owned(),
        Some(name) => match column_target(definition, name) {
            Some(FieldTarget::Column { sql, .. }) => sql,
            _ => {
                return Err(Error::invalid_field(
                    "order_field",
                    definition.unknown_column(name),
                ));
            }
        },
    };
    Ok(CompiledSelection {
        filter,
        order_by: order_by(&order_column, selection.order.direction),
    })
}

fn order_by(column: &str, direction: Direction) -> String {
    match (column, direction) {
        ("id", Direction::Asc) => "id ASC".to_owned(),
        ("id", Direction::Desc) => "id DESC".to_owned(),
        (column, Direction::Asc) => format!("{column} ASC NULLS FIRST, id ASC"),
        (column, Direction::Desc) => format!("{column} DESC NULLS LAST, id DESC"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(body: Value) -> String {
        Selection::parse(Some(&body)).unwrap_err().public_message()
    }

    #[test]
    fn defaults_are_the_first_hundred_rows_by_id() {
        assert_eq!(Selection::parse(None).unwrap(), Selection::default());
        let selection = Selection::parse(Some(&json!({}))).unwrap();
        assert_eq!((selection.limit, selection.offset), (100, 0));
        assert_eq!(selection.order, Order::default());
    }

    #[test]
    fn xml_text_is_read_as_numbers_and_directions() {
        let selection = Selection::parse(Some(&json!({
            "limit": "10", "offset": "20", "order_field": "age", "order_type": "DESC"
        })))
        .unwrap();
        assert_eq!((selection.limit, selection.offset), (10, 20));
        assert_eq!(selection.order.field.as_deref(), Some("age"));
        assert_eq!(selection.order.direction, Direction::Desc);
    }

    #[test]
    fn bad_parameters_are_named() {
        let cases = [
            (
                json!({"limit": 101}),
                "limit: '101' is not an integer from 1 to 100",
            ),
            (json!({"limit": 0}), "limit: '0' is not"),
            (json!({"limit": "ten"}), "limit: 'ten' is not"),
            (json!({"limit": 2.5}), "limit: '2.5' is not"),
            (
                json!({"offset": -1}),
                "offset: '-1' is not an integer from 0 to 1000000",
            ),
            (
                json!({"order_type": "sideways"}),
                "order_type: 'sideways' is not ASC or DESC",
            ),
            (json!({"order_field": 5}), "order_field: expected"),
            (json!({"filter": {}}), "filter: is not a search parameter"),
            (
                json!({"where": {"rules": [{"field": "a", "operator": "~"}]}}),
                "where.rules[0].operator",
            ),
            (
                json!({"where": {"rules": [{"field": "a", "operator": "=", "value": "\u{0}"}]}}),
                "where: ",
            ),
            (json!([]), "body: "),
        ];
        for (body, expected) in cases {
            let message = error(body.clone());
            assert!(message.starts_with(expected), "{body}: {message}");
        }
    }

    #[test]
    fn order_breaks_ties_by_id_and_puts_nulls_low() {
        assert_eq!(order_by("id", Direction::Desc), "id DESC");
        assert_eq!(
            order_by("c_2", Direction::Asc),
            "c_2 ASC NULLS FIRST, id ASC"
        );
        assert_eq!(
            order_by("c_2", Direction::Desc),
            "c_2 DESC NULLS LAST, id DESC"
        );
    }
}
