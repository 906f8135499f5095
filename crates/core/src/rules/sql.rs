//! Rules → a parameterised SQL boolean expression. Nothing from the request is ever spliced
//! into the text: values and JSON paths become bound parameters, operators come from
//! [`Comparison::sql`], and column expressions come from the caller's own catalog.
//!
//! Over JSONB, every comparison is guarded by `jsonb_typeof` inside a `CASE` (PostgreSQL does
//! not promise the evaluation order of `AND`, and a cast such as `::float8` would fail on a
//! string), and every positive predicate is NULL-free, so that a negated operator is a plain
//! `NOT` and a missing field (SQL NULL) behaves as in the evaluator.

mod column;

pub use column::ColumnType;

use super::FieldPath;
use super::ast::{Comparison, Condition, Entry, Group, LikePattern, Literal, Operand, Rule};
use crate::{Error, Result};

/// A value to bind, in placeholder order. The caller binds each as the matching SQL type
/// (`text`, `text[]`, `float8`, `float8[]`, `int8`, `int8[]`, `bool`); core stays free of a
/// database driver's types.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    TextArray(Vec<String>),
    Float(f64),
    FloatArray(Vec<f64>),
    Int(i64),
    IntArray(Vec<i64>),
    Bool(bool),
}

/// A compiled where clause: `sql` is a boolean expression (never NULL) whose placeholders
/// `$n` number `params` in order, from the first placeholder given to the compiler.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFilter {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// Where a field's value lives, as the caller's resolver says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldTarget {
    /// Inside a JSONB document: `document` is a SQL expression the caller vouches for (such
    /// as `e.value`); the field's path is bound as a `text[]` parameter (`document #> $n`).
    Json { document: String },
    /// A typed column: `sql` is an expression from the caller's catalog (a quoted column
    /// name), never text from the request. The type decides how literals are converted.
    Column {
        sql: String,
        column_type: ColumnType,
    },
}

pub(super) fn compile<R>(group: &Group, first_placeholder: usize, resolve: R) -> Result<SqlFilter>
where
    R: FnMut(&FieldPath) -> Result<FieldTarget, String>,
{
    let mut compiler = Compiler {
        params: Vec::new(),
        first_placeholder,
        resolve,
    };
    let sql = compiler.group(group)?;
    Ok(SqlFilter {
        sql,
        params: compiler.params,
    })
}

struct Compiler<R> {
    params: Vec<SqlParam>,
    first_placeholder: usize,
    resolve: R,
}

/// Stands for the path's placeholder until the predicate is built; no SQL text contains NUL.
const PATH_MARKER: &str = "\0path\0";

/// A JSON value in SQL: `value` as `jsonb` (NULL when missing) and `text` as the text of a
/// JSON string.
struct JsonExpr {
    value: String,
    text: String,
}

impl<R> Compiler<R>
where
    R: FnMut(&FieldPath) -> Result<FieldTarget, String>,
{
    /// Adds a parameter and returns its placeholder, cast to the parameter's type so that
    /// PostgreSQL never infers another type from the context (a `float8[]` list against an
    /// `int8` column would otherwise be read as `int8[]`).
    fn bind(&mut self, param: SqlParam) -> String {
        let sql_type = match &param {
            SqlParam::Text(_) => "text",
            SqlParam::TextArray(_) => "text[]",
            SqlParam::Float(_) => "float8",
            SqlParam::FloatArray(_) => "float8[]",
            SqlParam::Int(_) => "int8",
            SqlParam::IntArray(_) => "int8[]",
            SqlParam::Bool(_) => "boolean",
        };
        let placeholder = format!(
            "${}::{sql_type}",
            self.first_placeholder + self.params.len()
        );
        self.params.push(param);
        placeholder
    }

    fn group(&mut self, group: &Group) -> Result<String> {
        let (joiner, identity) = match group.condition {
            Condition::And => (" AND ", "TRUE"),
            Condition::Or => (" OR ", "FALSE"),
        };
        if group.entries.is_empty() {
            return Ok(identity.to_owned());
        }
        let mut parts = Vec::with_capacity(group.entries.len());
        for entry in &group.entries {
            parts.push(match entry {
                Entry::Rule(rule) => self.rule(rule)?,
                Entry::Group(group) => self.group(group)?,
            });
        }
        if parts.len() == 1 {
            return Ok(parts.swap_remove(0));
        }
        Ok(format!("({})", parts.join(joiner)))
    }

    fn rule(&mut self, rule: &Rule) -> Result<String> {
        let target = (self.resolve)(&rule.field).map_err(|problem| {
            Error::invalid_field(&format!("{}.field", rule.location), problem)
        })?;
        let positive = match target {
            FieldTarget::Json { document } => {
                // The path is bound only if the predicate uses it (`in []` is plain FALSE),
                // since PostgreSQL refuses a parameter that the statement never mentions.
                let json = JsonExpr {
                    value: format!("({document} #> {PATH_MARKER})"),
                    text: format!("({document} #>> {PATH_MARKER})"),
                };
                let predicate = self.json_operand(&rule.operand, &json);
                if predicate.contains(PATH_MARKER) {
                    let path = self.bind(SqlParam::TextArray(rule.field.pg_path()));
                    predicate.replace(PATH_MARKER, &path)
                } else {
                    predicate
                }
            }
            FieldTarget::Column {
                sql,
                column_type: ColumnType::Json,
            } => {
                let json = JsonExpr {
                    value: format!("({sql})"),
                    text: format!("(({sql}) #>> '{{}}')"),
                };
                self.json_operand(&rule.operand, &json)
            }
            FieldTarget::Column { sql, column_type } => {
                self.column_operand(rule, &format!("({sql})"), column_type)?
            }
        };
        Ok(if rule.operator.is_negated() {
            format!("(NOT {positive})")
        } else {
            positive
        })
    }

    /// The positive predicate over a JSON value; see the module documentation of
    /// [`super`] for the semantics it reproduces.
    fn json_operand(&mut self, operand: &Operand, json: &JsonExpr) -> String {
        match operand {
            Operand::None => format!(
                "COALESCE({} IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{{}}'::jsonb), TRUE)",
                json.value
            ),
            Operand::Compare(comparison, literal) => self.json_compare(*comparison, literal, json),
            Operand::Range(low, high) => {
                let low = self.json_compare(Comparison::Ge, low, json);
                let high = self.json_compare(Comparison::Le, high, json);
                format!("({low} AND {high})")
            }
            Operand::List(items) => self.json_in(items, json),
            Operand::Pattern(pattern) => {
                let like = self.like(&json.text, pattern);
                case_by_type(&json.value, vec![("string", like)])
            }
        }
    }

    fn json_compare(
        &mut self,
        comparison: Comparison,
        literal: &Literal,
        json: &JsonExpr,
    ) -> String {
        let operator = comparison.sql();
        let mut arms = Vec::new();
        if let Some(number) = literal.number {
            let number = self.bind(SqlParam::Float(number));
            arms.push((
                "number",
                format!("{}::float8 {operator} {number}", json.value),
            ));
        }
        if let Some(text) = &literal.text {
            let text = self.bind(SqlParam::Text(text.clone()));
            arms.push((
                "string",
                format!("{} COLLATE \"C\" {operator} {text}", json.text),
            ));
        }
        if comparison == Comparison::Eq {
            if let Some(boolean) = literal.boolean {
                let boolean = self.bind(SqlParam::Bool(boolean));
                arms.push(("boolean", format!("{}::boolean = {boolean}", json.value)));
            }
            if literal.null {
                arms.push(("null", "TRUE".to_owned()));
            }
        }
        case_by_type(&json.value, arms)
    }

    fn json_in(&mut self, items: &[Literal], json: &JsonExpr) -> String {
        let numbers: Vec<f64> = items.iter().filter_map(|item| item.number).collect();
        let texts: Vec<String> = items.iter().filter_map(|item| item.text.clone()).collect();
        let mut arms = Vec::new();
        if !numbers.is_empty() {
            let numbers = self.bind(SqlParam::FloatArray(numbers));
            arms.push(("number", format!("{}::float8 = ANY({numbers})", json.value)));
        }
        if !texts.is_empty() {
            let texts = self.bind(SqlParam::TextArray(texts));
            arms.push(("string", format!("{} = ANY({texts})", json.text)));
        }
        if let Some(booleans) = self.booleans(items) {
            arms.push((
                "boolean",
                format!("{}::boolean IN ({booleans})", json.value),
            ));
        }
        if items.iter().any(|item| item.null) {
            arms.push(("null", "TRUE".to_owned()));
        }
        case_by_type(&json.value, arms)
    }

    /// `text LIKE pattern`, the text's ASCII letters lowered when the pattern ignores case (its
    /// own are lowered before binding). `lower` under `COLLATE "C"` folds exactly `A`–`Z`,
    /// whatever the database's locale, as the evaluator does.
    fn like(&mut self, text: &str, pattern: &LikePattern) -> String {
        let placeholder = self.bind(SqlParam::Text(pattern.sql_pattern()));
        let text = if pattern.ascii_case_insensitive {
            format!("lower({text} COLLATE \"C\")")
        } else {
            text.to_owned()
        };
        format!("{text} LIKE {placeholder} ESCAPE E'\\\\'")
    }

    /// Placeholders for the distinct booleans of a list (at most two), or `None`.
    fn booleans(&mut self, items: &[Literal]) -> Option<String> {
        let mut distinct: Vec<bool> = items.iter().filter_map(|item| item.boolean).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let placeholders: Vec<String> = distinct
            .into_iter()
            .map(|boolean| self.bind(SqlParam::Bool(boolean)))
            .collect();
        (!placeholders.is_empty()).then(|| placeholders.join(", "))
    }
}

/// `CASE jsonb_typeof(value) WHEN type THEN predicate … ELSE FALSE END`, or `FALSE` when the
/// literal has no reading any stored type could match.
fn case_by_type(value: &str, arms: Vec<(&str, String)>) -> String {
    if arms.is_empty() {
        return "FALSE".to_owned();
    }
    let arms: String = arms
        .into_iter()
        .map(|(json_type, predicate)| format!(" WHEN '{json_type}' THEN {predicate}"))
        .collect();
    format!("(CASE jsonb_typeof({value}){arms} ELSE FALSE END)")
}
