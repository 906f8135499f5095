//! Searching a keystore with the reference's `{"select": […], "where": {…}}` document.
//!
//! The whole search runs in PostgreSQL as one statement: the selected JSON paths and the
//! where-rules' paths and values are bound parameters, the rules compile through
//! [`Rules::to_sql`] (so they mean exactly what the flow steps' evaluator means), and the
//! rows come back in key order, at most [`MAX_RESULTS`] of them and [`MAX_RESULT_BYTES`] of
//! selected text, streamed so that the budget is enforced without holding more.

use crate::definitions;
use crate::error::KeystoreError;
use crate::model::KeystoreId;
use flowline_core::Tenant;
use flowline_core::rules::{ColumnType, FieldPath, FieldTarget, Rules, SqlParam};
use flowline_db::PgConnection;
use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Postgres, Row};

/// The most entries one search returns (and the default `limit`).
pub const MAX_RESULTS: u32 = 1000;
/// The most text (keys, values and selected fields) one search returns, in bytes.
pub const MAX_RESULT_BYTES: usize = 16 * 1024 * 1024;
/// The most fields a `select` may list.
pub const MAX_SELECT: usize = 50;
/// The longest alias, in bytes.
pub const MAX_ALIAS_BYTES: usize = 256;

/// The fields that name an entry's key rather than a path in its data.
const KEY_FIELDS: [&str; 2] = ["key", "keystore.key"];
/// The field that names the whole entry as it was saved.
const WHOLE_ENTRY: &str = "*";

/// A checked search document.
#[derive(Debug, Clone)]
pub struct Search {
    selections: Vec<Selection>,
    rules: Option<Rules>,
    limit: u32,
    offset: u32,
}

#[derive(Debug, Clone)]
struct Selection {
    column: Column,
    /// The name in the answer: the alias, or the field as written.
    alias: String,
}

#[derive(Debug, Clone)]
enum Column {
    Key,
    WholeEntry,
    Path(FieldPath),
}

impl Search {
    /// Checks a search document: `select` (a list of `{field, alias}`, or of field names;
    /// default `key` and `*`), `where` (the where-rules DSL; `key` and `keystore.key` name
    /// the entry's key), `limit` (1 to [`MAX_RESULTS`], default [`MAX_RESULTS`]) and `offset`.
    /// Every refusal is a 400 naming the field (`select[1].field`, `where.rules[0].operator`).
    pub fn parse(document: &Value) -> Result<Search, KeystoreError> {
        let Value::Object(members) = document else {
            return Err(KeystoreError::invalid(
                "body",
                "expected an object with select and where",
            ));
        };
        if let Some(unknown) = members
            .keys()
            .find(|name| !matches!(name.as_str(), "select" | "where" | "limit" | "offset"))
        {
            return Err(KeystoreError::invalid(
                unknown,
                "unknown field; expected select, where, limit or offset",
            ));
        }
        let selections = match members.get("select") {
            None | Some(Value::Null) => default_selections(),
            Some(select) => parse_selections(select)?,
        };
        let rules = match members.get("where") {
            None | Some(Value::Null) => None,
            Some(document) => Some(Rules::parse(document, "where").map_err(KeystoreError::Rules)?),
        };
        let limit = count(members.get("limit"), "limit", 1, MAX_RESULTS)?.unwrap_or(MAX_RESULTS);
        let offset = count(members.get("offset"), "offset", 0, u32::MAX)?.unwrap_or(0);
        Ok(Search {
            selections,
            rules,
            limit,
            offset,
        })
    }
}

fn default_selections() -> Vec<Selection> {
    vec![
        Selection {
            column: Column::Key,
            alias: "key".to_owned(),
        },
        Selection {
            column: Column::WholeEntry,
            alias: WHOLE_ENTRY.to_owned(),
        },
    ]
}

/// A list of selections; one selection alone is read as a list of one (an XML body with a
/// single `<select>` gives an object, not an array).
fn parse_selections(select: &Value) -> Result<Vec<Selection>, KeystoreError> {
    let items = match select {
        Value::Array(items) => items.as_slice(),
        single @ (Value::Object(_) | Value::String(_)) => std::slice::from_ref(single),
        _ => {
            return Err(KeystoreError::invalid(
                "select",
                "expected an array of {field, alias}",
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_SELECT {
        return Err(KeystoreError::invalid(
            "select",
            format!("expected 1 to {MAX_SELECT} fields"),
        ));
    }
    let mut selections: Vec<Selection> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let location = format!("select[{index}]");
        let selection = parse_selection(item, &location)?;
        if let Some(earlier) = selections.iter().position(|s| s.alias == selection.alias) {
            return Err(KeystoreError::invalid(
                &format!("{location}.alias"),
                format!(
                    "'{}' is already the name of select[{earlier}]",
                    selection.alias
                ),
            ));
        }
        selections.push(selection);
    }
    Ok(selections)
}

fn parse_selection(item: &Value, location: &str) -> Result<Selection, KeystoreError> {
    let (field, alias) = match item {
        Value::String(field) => (field.as_str(), None),
        Value::Object(members) => {
            if let Some(unknown) = members
                .keys()
                .find(|name| !matches!(name.as_str(), "field" | "alias"))
            {
                return Err(KeystoreError::invalid(
                    &format!("{location}.{unknown}"),
                    "unknown field; expected field and alias",
                ));
            }
            let field = match members.get("field") {
                Some(Value::String(field)) => field.as_str(),
                _ => {
                    return Err(KeystoreError::invalid(
                        &format!("{location}.field"),
                        "is required: key, * or a JSON path such as temp.max",
                    ));
                }
            };
            let alias = match members.get("alias") {
                None | Some(Value::Null) => None,
                Some(Value::String(alias)) if !alias.is_empty() => Some(alias.as_str()),
                Some(_) => {
                    return Err(KeystoreError::invalid(
                        &format!("{location}.alias"),
                        "expected a non-empty string",
                    ));
                }
            };
            (field, alias)
        }
        _ => {
            return Err(KeystoreError::invalid(
                location,
                "expected {field, alias} or a field name",
            ));
        }
    };
    let column = if KEY_FIELDS.contains(&field) {
        Column::Key
    } else if field == WHOLE_ENTRY {
        Column::WholeEntry
    } else {
        Column::Path(
            FieldPath::parse(field)
                .map_err(|problem| KeystoreError::invalid(&format!("{location}.field"), problem))?,
        )
    };
    let alias = alias.unwrap_or(field);
    if alias.len() > MAX_ALIAS_BYTES {
        return Err(KeystoreError::invalid(
            &format!("{location}.alias"),
            format!("is at most {MAX_ALIAS_BYTES} bytes long"),
        ));
    }
    Ok(Selection {
        column,
        alias: alias.to_owned(),
    })
}

/// A count from `minimum` to `maximum`, as a JSON number or as the digits of a string (XML
/// bodies carry only text).
fn count(
    value: Option<&Value>,
    field: &str,
    minimum: u32,
    maximum: u32,
) -> Result<Option<u32>, KeystoreError> {
    let number = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    number
        .and_then(|number| u32::try_from(number).ok())
        .filter(|number| (minimum..=maximum).contains(number))
        .map(Some)
        .ok_or_else(|| {
            KeystoreError::invalid(
                field,
                format!("expected a whole number from {minimum} to {maximum}"),
            )
        })
}

/// Where a where-rule's field lives: the key column for `key` / `keystore.key`, otherwise a
/// path in the entry's document.
fn rule_target(field: &FieldPath) -> Result<FieldTarget, String> {
    Ok(if KEY_FIELDS.contains(&field.as_str()) {
        FieldTarget::Column {
            sql: "e.key".to_owned(),
            column_type: ColumnType::Text,
        }
    } else {
        FieldTarget::Json {
            document: "e.document".to_owned(),
        }
    })
}

/// The statement of a search, with its parameters after the tenant and keystore (`$1`–`$3`).
struct Statement {
    sql: String,
    params: Vec<SqlParam>,
}

fn statement(search: &Search) -> Result<Statement, KeystoreError> {
    const FIRST_FREE: usize = 4;
    let mut params = Vec::new();
    let mut columns = Vec::with_capacity(search.selections.len());
    for selection in &search.selections {
        columns.push(match &selection.column {
            Column::Key => "e.key".to_owned(),
            Column::WholeEntry => "e.value".to_owned(),
            Column::Path(path) => {
                params.push(SqlParam::TextArray(path.pg_path()));
                format!("e.document #>> ${}::text[]", FIRST_FREE + params.len() - 1)
            }
        });
    }
    let filter = match &search.rules {
        Some(rules) => {
            let filter = rules
                .to_sql(FIRST_FREE + params.len(), rule_target)
                .map_err(KeystoreError::Rules)?;
            params.extend(filter.params);
            filter.sql
        }
        None => "TRUE".to_owned(),
    };
    params.push(SqlParam::Int(i64::from(search.limit)));
    let limit = FIRST_FREE + params.len() - 1;
    params.push(SqlParam::Int(i64::from(search.offset)));
    let offset = limit + 1;
    // Every piece of text here is this module's own or the rules compiler's; request values
    // are all in `params`.
    let sql = format!(
        "SELECT {} FROM keystore_entries e \
         WHERE e.org_id = $1 AND e.environment_id = $2 AND e.keystore_id = $3 AND {filter} \
         ORDER BY e.key LIMIT ${limit} OFFSET ${offset}",
        columns.join(", ")
    );
    Ok(Statement { sql, params })
}

fn bind(
    mut query: Query<'_, Postgres, PgArguments>,
    params: Vec<SqlParam>,
) -> Query<'_, Postgres, PgArguments> {
    for param in params {
        query = match param {
            SqlParam::Text(text) => query.bind(text),
            SqlParam::TextArray(texts) => query.bind(texts),
            SqlParam::Float(number) => query.bind(number),
            SqlParam::FloatArray(numbers) => query.bind(numbers),
            SqlParam::Int(integer) => query.bind(integer),
            SqlParam::IntArray(integers) => query.bind(integers),
            SqlParam::Bool(boolean) => query.bind(boolean),
        };
    }
    query
}

/// Searches a keystore of the tenant's environment: one object per matching entry, in key
/// order, holding the selected fields under their aliases in the order selected. Every value
/// is a string as the reference prints them — a JSON string's text, a number's or boolean's
/// JSON spelling, an object's or array's JSON text, `*` the entry as it was saved — or null
/// when the path leads nowhere (or to JSON null).
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, keystore.id = %keystore_id))]
pub async fn search(
    conn: &mut PgConnection,
    tenant: Tenant,
    keystore_id: &KeystoreId,
    search: &Search,
) -> Result<Vec<Value>, KeystoreError> {
    definitions::data_type(&mut *conn, tenant, keystore_id).await?;
    let Statement { sql, params } = statement(search)?;
    let query = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(keystore_id.as_str());
    let mut rows = bind(query, params).fetch(&mut *conn);
    let mut results = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.try_next().await? {
        let mut object = Map::with_capacity(search.selections.len());
        for (index, selection) in search.selections.iter().enumerate() {
            let text: Option<String> = row.try_get(index)?;
            bytes += selection.alias.len() + text.as_ref().map_or(0, String::len);
            object.insert(
                selection.alias.clone(),
                text.map_or(Value::Null, Value::String),
            );
        }
        if bytes > MAX_RESULT_BYTES {
            return Err(KeystoreError::TooLarge(format!(
                "limit: the answer would exceed {MAX_RESULT_BYTES} bytes; select fewer fields, \
                 narrow the where clause or lower the limit and page with offset"
            )));
        }
        results.push(Value::Object(object));
    }
    Ok(results)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(document: Value) -> String {
        match Search::parse(&document) {
            Ok(search) => panic!("{document} should be refused, got {search:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_reference_document_compiles_to_bound_parameters() {
        let search = Search::parse(&json!({
            "select": [
                {"field": "keystore.key", "alias": "MyKey"},
                {"field": "temp.max", "alias": "temperature"},
                {"field": "*", "alias": "all_info"}
            ],
            "where": {"condition": "OR", "rules": [
                {"field": "temp.average", "operator": ">", "value": "25"},
                {"field": "city", "operator": "LIKE", "value": "lond%"},
                {"field": "key", "operator": "=", "value": "x'; DROP TABLE keystores; --"}
            ]}
        }))
        .unwrap();
        let statement = statement(&search).unwrap();
        assert!(
            statement
                .sql
                .starts_with("SELECT e.key, e.document #>> $4::text[], e.value FROM"),
            "{}",
            statement.sql
        );
        assert!(!statement.sql.contains("DROP"), "{}", statement.sql);
        assert!(!statement.sql.contains("lond"), "{}", statement.sql);
        assert!(statement.sql.contains("(e.key) = $"), "{}", statement.sql);
        assert_eq!(
            statement.params[0],
            SqlParam::TextArray(vec!["temp".into(), "max".into()])
        );
        assert_eq!(statement.params.last(), Some(&SqlParam::Int(0)));
        assert!(statement.sql.ends_with(&format!(
            "ORDER BY e.key LIMIT ${} OFFSET ${}",
            statement.params.len() + 2,
            statement.params.len() + 3
        )));
    }

    #[test]
    fn bad_documents_are_refused_naming_the_field() {
        assert_eq!(
            refusal(json!({"select": [{"field": "temp..max"}]})),
            "select[0].field: invalid field path \"temp..max\": expected names like client.age \
             or items[0].sku"
        );
        assert!(
            refusal(json!({"select": [{"field": "a'); DROP"}]})).starts_with("select[0].field")
        );
        assert!(refusal(json!({"select": [{"alias": "x"}]})).starts_with("select[0].field"));
        assert!(
            refusal(json!({"select": ["a", {"field": "b", "alias": "a"}]}))
                .starts_with("select[1].alias: 'a' is already")
        );
        assert!(refusal(json!({"select": []})).starts_with("select:"));
        assert!(refusal(json!({"selct": []})).starts_with("selct: unknown field"));
        assert!(refusal(json!({"limit": 0})).starts_with("limit:"));
        assert!(refusal(json!({"limit": 1001})).starts_with("limit:"));
        assert!(refusal(json!({"offset": -1})).starts_with("offset:"));
        assert!(
            refusal(json!({"where": {"rules": [{"field": "a", "operator": "LIKEE", "value": 1}]}}))
                .starts_with("where.rules[0].operator")
        );
        assert!(refusal(json!([])).starts_with("body:"));
    }

    #[test]
    fn defaults_select_the_key_and_the_entry() {
        let search = Search::parse(&json!({"limit": "10"})).unwrap();
        assert_eq!(search.limit, 10);
        let aliases: Vec<&str> = search.selections.iter().map(|s| s.alias.as_str()).collect();
        assert_eq!(aliases, ["key", "*"]);
        let statement = statement(&search).unwrap();
        assert!(
            statement.sql.contains("AND TRUE ORDER BY"),
            "{}",
            statement.sql
        );
    }
}
