//! The SQL compiler's output, without a database: placeholders, parameters, refusals.

use flowline_core::rules::{Rules, SqlFilter, SqlParam};
use serde_json::json;

use super::{rule, rules};

fn jsonb(rules: &Rules, first: usize) -> SqlFilter {
    rules.to_jsonb_sql("t.doc", first).unwrap()
}

#[test]
fn paths_and_values_are_bound_from_the_first_placeholder() {
    let filter = jsonb(&rule("client.age", ">=", json!(18)), 3);
    assert_eq!(
        filter.sql,
        "(CASE jsonb_typeof((t.doc #> $4::text[])) \
         WHEN 'number' THEN (t.doc #> $4::text[])::float8 >= $3::float8 ELSE FALSE END)"
    );
    assert_eq!(
        filter.params,
        [
            SqlParam::Float(18.0),
            SqlParam::TextArray(vec!["client".into(), "age".into()]),
        ]
    );
}

#[test]
fn a_numeric_string_is_bound_both_ways() {
    let filter = jsonb(&rule("age", "=", json!("25")), 1);
    assert_eq!(
        filter.params,
        [
            SqlParam::Float(25.0),
            SqlParam::Text("25".into()),
            SqlParam::TextArray(vec!["age".into()]),
        ]
    );
    let string_arm = "WHEN 'string' THEN (t.doc #>> $3::text[]) COLLATE \"C\" = $2::text";
    assert!(filter.sql.contains(string_arm), "{}", filter.sql);
}

#[test]
fn quotes_and_wildcards_in_values_are_bound_not_spliced() {
    let hostile = "x'); DROP TABLE t; --%_\\";
    for (operator, value) in [
        ("=", json!(hostile)),
        ("LIKE", json!("x'); DROP TABLE t; --%")),
        ("contains", json!(hostile)),
        ("in", json!([hostile])),
        ("begins_with", json!(hostile)),
    ] {
        let filter = jsonb(&rule("name", operator, value), 1);
        assert!(!filter.sql.contains("DROP"), "{operator}: {}", filter.sql);
        assert!(!filter.sql.contains("x'"), "{operator}: {}", filter.sql);
    }
    let contains = jsonb(&rule("name", "contains", json!("50%_off\\")), 1);
    assert_eq!(
        contains.params[0],
        SqlParam::Text("%50\\%\\_off\\\\%".into())
    );
    let like = "(t.doc #>> $2::text[]) LIKE $1::text ESCAPE E'\\\\'";
    assert!(contains.sql.contains(like), "{}", contains.sql);
}

#[test]
fn like_lowers_ascii_on_both_sides_and_the_literal_operators_do_not() {
    let like = jsonb(&rule("name", "LIKE", json!("Lond\\_%")), 1);
    assert_eq!(like.params[0], SqlParam::Text("lond\\_%".into()));
    let folded = "lower((t.doc #>> $2::text[]) COLLATE \"C\") LIKE $1::text ESCAPE E'\\\\'";
    assert!(like.sql.contains(folded), "{}", like.sql);
    let begins = jsonb(&rule("name", "begins_with", json!("Lon")), 1);
    assert_eq!(begins.params[0], SqlParam::Text("Lon%".into()));
    assert!(!begins.sql.contains("lower"), "{}", begins.sql);
}

#[test]
fn negations_wrap_the_positive_predicate() {
    let filter = jsonb(&rule("a", "not_in", json!([1, "b", true, null])), 1);
    assert_eq!(
        filter.sql,
        "(NOT (CASE jsonb_typeof((t.doc #> $4::text[])) \
         WHEN 'number' THEN (t.doc #> $4::text[])::float8 = ANY($1::float8[]) \
         WHEN 'string' THEN (t.doc #>> $4::text[]) = ANY($2::text[]) \
         WHEN 'boolean' THEN (t.doc #> $4::text[])::boolean IN ($3::boolean) \
         WHEN 'null' THEN TRUE ELSE FALSE END))"
    );
}

#[test]
fn an_empty_list_binds_nothing() {
    let filter = jsonb(&rule("a", "in", json!([])), 1);
    assert_eq!((filter.sql.as_str(), filter.params.len()), ("FALSE", 0));
    let filter = jsonb(&rule("a", "not_in", json!([])), 1);
    assert_eq!(
        (filter.sql.as_str(), filter.params.len()),
        ("(NOT FALSE)", 0)
    );
}

#[test]
fn groups_join_with_their_condition() {
    let filter = jsonb(
        &rules(json!({"condition": "OR", "rules": [
            {"field": "a", "operator": "is_empty"},
            {"condition": "AND", "rules": []}
        ]})),
        1,
    );
    assert_eq!(
        filter.sql,
        "(COALESCE((t.doc #> $1::text[]) \
         IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), TRUE) OR TRUE)"
    );
}

fn typed(rules: &Rules) -> Result<SqlFilter, String> {
    rules
        .to_sql(1, |field| super::typed_columns(field, "r."))
        .map_err(|error| {
            assert_eq!(error.kind().status(), 400);
            error.public_message()
        })
}

#[test]
fn typed_columns_are_whitelisted_and_literals_converted() {
    assert_eq!(
        typed(&rule("salary", "=", json!(1))).unwrap_err(),
        "where.rules[0].field: unknown column 'salary'"
    );
    let filter = typed(&rule("age", ">", json!("35"))).unwrap();
    assert_eq!(
        filter.sql,
        "((r.\"age\") IS NOT NULL AND (r.\"age\") > $1::int8)"
    );
    assert_eq!(filter.params, [SqlParam::Int(35)]);
    let filter = typed(&rule("name", "<", json!("M"))).unwrap();
    assert_eq!(
        filter.sql,
        "((r.\"name\") IS NOT NULL AND (r.\"name\") COLLATE \"C\" < $1::text)"
    );
    let filter = typed(&rule("seen", ">=", json!("2016-05-03 11:47:38"))).unwrap();
    assert_eq!(
        filter.sql,
        "((r.\"seen\") IS NOT NULL AND (r.\"seen\") >= $1::text::timestamptz)"
    );
    assert_eq!(
        filter.params,
        [SqlParam::Text("2016-05-03T11:47:38Z".into())]
    );
    let filter = typed(&rule("extra", "=", json!(1))).unwrap();
    assert!(
        filter.sql.starts_with("(CASE jsonb_typeof((r.\"extra\"))"),
        "{}",
        filter.sql
    );

    for (field, operator, value, expected) in [
        (
            "age",
            "=",
            json!("3x"),
            "where.rules[0].value: '3x' is not a number",
        ),
        (
            "active",
            "<",
            json!("true"),
            "where.rules[0].value: operator '<' does not order booleans",
        ),
        (
            "active",
            "in",
            json!([true, 1]),
            "where.rules[0].value: '1' is not a boolean",
        ),
        (
            "born",
            "=",
            json!("2016-13-01"),
            "where.rules[0].value: '2016-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "born",
            "=",
            json!("-0001-01-01"),
            "where.rules[0].value: '-0001-01-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "seen",
            "<",
            json!("yesterday"),
            "where.rules[0].value: 'yesterday' is not a date and time \
             (YYYY-MM-DD HH:MM:SS or RFC 3339)",
        ),
        (
            "age",
            "contains",
            json!("3"),
            "where.rules[0].value: operator 'contains' works on text columns only",
        ),
        (
            "name",
            "=",
            json!(null),
            "where.rules[0].value: compare with null through is_empty",
        ),
    ] {
        assert_eq!(typed(&rule(field, operator, value)).unwrap_err(), expected);
    }
}
