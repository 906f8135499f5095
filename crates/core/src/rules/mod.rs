//! The where-rules DSL of table and keystore searches and of the flow `condition` and `switch`
//! steps: `{"condition": "AND"|"OR", "rules": [rule | group, …]}`, where a rule is
//! `{"field": …, "operator": …, "value": …}` and a group nests another `{condition, rules}`.
//!
//! [`Rules::parse`] checks a document once, at the boundary, into a validated tree; it then has
//! two back-ends that must agree: [`Rules::matches`] evaluates it over a `serde_json::Value`,
//! and [`Rules::to_sql`] compiles it into a SQL boolean expression whose values are all bound
//! parameters ([`SqlParam`]) and whose operators come from a closed enum. A property test runs
//! both over random rules and rows in PostgreSQL and requires the same answer.
//!
//! # Semantics
//!
//! A field path (`client.age`, `items[0].sku`) selects a value: a key in an object, an index
//! in an array. An index applied to an object selects the member named by its digits, as
//! PostgreSQL's `#>` does. A path that leads nowhere selects nothing: the field is *missing*.
//! JSON `null` is a value, not a missing field.
//!
//! The literal of a rule may be read several ways: a JSON number is a number; a string is a
//! string, and also a number when it spells a JSON number (`"25"`, `"-1.5e3"`) and a boolean
//! when it is `"true"` or `"false"`; `true`/`false` are booleans; `null` is null. (The
//! reference quotes numbers in its own examples, and XML requests carry only text.) Stored
//! values are never reinterpreted: a stored `"25"` is a string.
//!
//! The positive operators match when the stored value and a reading of the literal agree in
//! type and the comparison holds:
//!
//! - `=`: number = number (as IEEE-754 doubles), string = string (byte for byte),
//!   boolean = boolean, null = null. Arrays and objects equal nothing.
//! - `< > <= >=`: number with number, or string with string in byte order (Rust's `str`
//!   order; `COLLATE "C"` in SQL). Booleans, null, arrays and objects never order.
//! - `between [a, b]`: `>= a` and `<= b`, bounds taken as given (not swapped).
//! - `in [v, …]`: `=` with any element.
//! - `LIKE`, `begins_with`, `ends_with`, `contains`: stored strings only. In LIKE, `%`
//!   matches any run, `_` one character, `\` escapes the next character, and ASCII letters
//!   match either case (`lond%` matches `London`, as the reference's keystore example has it);
//!   other characters, `é`/`É` included, compare exactly — one folding that the evaluator and
//!   PostgreSQL (`lower(… COLLATE "C")`) share whatever the database's locale.
//!   `begins_with`, `ends_with` and `contains` take their value literally and are
//!   case-sensitive.
//! - `is_empty`: the field is missing, null, `""`, `[]` or `{}`.
//!
//! A missing field, or a value of another type, makes a positive operator false. Each negated
//! operator (`!=`/`<>`, `not_between`, `not_in`, `not_begins_with`, `not_ends_with`,
//! `not_contains`, `is_not_empty`) is exactly the complement of its positive form: so a
//! missing field matches `!=` and every `not_*`, and `{"age": true}` matches `age != 5`.
//! An empty `AND` group matches everything; an empty `OR` group matches nothing.
//!
//! Typed columns (see [`FieldTarget::Column`]) follow the same rules with the column's SQL
//! NULL as the missing field, after the literal is converted to the column's type (a literal
//! that does not fit is a 400 naming the rule's value): a text column takes a number or a
//! boolean as its JSON text, a number column takes numeric strings, booleans are only
//! compared with `=`, `!=`, `in` and `not_in`, the LIKE family needs a text column (and
//! folds case as above), and
//! `is_empty` is NULL (or `''` for text).
//!
//! A document is parsed leniently where the reference is: `condition` defaults to AND and is
//! case-insensitive, operator names are case-insensitive, `=>` is read as `>=` (the
//! reference's tables section spells it so), and keys other than `condition`, `rules`,
//! `field`, `operator` and `value` are ignored (query-builder front ends add `id`, `type`…).

mod ast;
mod eval;
mod parse;
mod sql;

pub use ast::{
    Comparison, Condition, Entry, FieldPath, Group, LikePattern, LikeToken, Literal, Operand,
    Operator, Rule, Segment,
};
pub use sql::{ColumnType, FieldTarget, SqlFilter, SqlParam};

use crate::Result;

/// The most rules (and nested groups) a document may hold, counted over all its groups.
pub const MAX_RULES: usize = 100;
/// The deepest nesting of groups; the outermost group is depth 1.
pub const MAX_DEPTH: usize = 8;
/// The longest string a value may hold, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// The most items of an `in` / `not_in` list.
pub const MAX_LIST_ITEMS: usize = 1000;
/// The longest field path, in bytes (paths are ASCII).
pub const MAX_FIELD_LENGTH: usize = 256;

/// A validated where-rules document.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    root: Group,
}

impl Rules {
    /// Checks a where-rules document. `origin` names it in the request (`where`,
    /// `steps.adult.where`), so that errors read `where.rules[2].operator: unknown operator
    /// 'LIKEE'`. Every error is a 400 that names the field at fault.
    pub fn parse(document: &serde_json::Value, origin: &str) -> Result<Rules> {
        parse::parse(document, origin).map(|root| Rules { root })
    }

    /// The outermost group.
    pub fn root(&self) -> &Group {
        &self.root
    }

    /// Whether `document` satisfies the rules (see the module documentation for the exact
    /// semantics, which [`Rules::to_sql`] shares).
    pub fn matches(&self, document: &serde_json::Value) -> bool {
        eval::group_matches(&self.root, document)
    }

    /// Compiles the rules into a SQL boolean expression. Each field goes through `resolve`,
    /// which says where its value lives ([`FieldTarget`]) or refuses it with a message (such
    /// as `unknown column 'x'`) that becomes a 400 naming the rule's field. Placeholders are
    /// numbered from `first_placeholder` (`$1` when it is 1), in the order of
    /// [`SqlFilter::params`]. The expression is never NULL.
    pub fn to_sql<R>(&self, first_placeholder: usize, resolve: R) -> Result<SqlFilter>
    where
        R: FnMut(&FieldPath) -> Result<FieldTarget, String>,
    {
        sql::compile(&self.root, first_placeholder, resolve)
    }

    /// Compiles the rules over one JSONB document: every field is a path inside `document`,
    /// a SQL expression that the caller vouches for (such as `e.value`). This is the
    /// back-end that agrees with [`Rules::matches`] exactly.
    pub fn to_jsonb_sql(&self, document: &str, first_placeholder: usize) -> Result<SqlFilter> {
        self.to_sql(first_placeholder, |_| {
            Ok(FieldTarget::Json {
                document: document.to_owned(),
            })
        })
    }
}
