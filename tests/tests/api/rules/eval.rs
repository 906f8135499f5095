//! The evaluator, operator by operator, on one document.

use serde_json::{Value, json};

use super::{rule, rules};

fn document() -> Value {
    json!({
        "name": "London",
        "age": 30,
        "score": 7.5,
        "active": true,
        "nothing": null,
        "blank": "",
        "no_items": [],
        "no_members": {},
        "tags": ["a", "b"],
        "code": "25",
        "percent": "100%",
        "city": "São Paulo",
        "client": {"age": 17, "name": "Ann"},
        "items": [{"sku": "X-1"}, {"sku": "Y_2"}],
        "by_digit": {"0": "zero"}
    })
}

fn matches(field: &str, operator: &str, value: Value) -> bool {
    rule(field, operator, value).matches(&document())
}

#[test]
fn equality_compares_like_typed_values() {
    assert!(matches("age", "=", json!(30)));
    assert!(matches("age", "=", json!(30.0)));
    assert!(
        matches("age", "=", json!("30")),
        "a numeric string literal reads as a number"
    );
    assert!(
        !matches("code", "=", json!(25)),
        "a stored string is never a number"
    );
    assert!(matches("code", "=", json!("25")));
    assert!(matches("name", "=", json!("London")));
    assert!(!matches("name", "=", json!("london")));
    assert!(matches("active", "=", json!(true)));
    assert!(matches("active", "=", json!("true")));
    assert!(!matches("active", "=", json!(1)));
    assert!(matches("nothing", "=", json!(null)));
    assert!(
        !matches("missing", "=", json!(null)),
        "null is a value, missing is not"
    );
    assert!(!matches("tags", "=", json!("a")), "arrays equal nothing");
    assert!(matches("client.age", "=", json!(17)));
    assert!(matches("items[1].sku", "=", json!("Y_2")));
    assert!(
        matches("by_digit[0]", "=", json!("zero")),
        "an index on an object, as #> reads it"
    );
    assert!(
        !matches("tags.a", "=", json!("a")),
        "a key on an array selects nothing"
    );
    assert!(!matches("items[2].sku", "=", json!("X-1")));
}

#[test]
fn inequality_is_the_complement_of_equality() {
    for operator in ["!=", "<>"] {
        assert!(!matches("age", operator, json!(30)));
        assert!(matches("age", operator, json!(31)));
        assert!(
            matches("missing", operator, json!(30)),
            "a missing field matches !="
        );
        assert!(
            matches("active", operator, json!(5)),
            "a value of another type is unequal"
        );
        assert!(matches("missing", operator, json!(null)));
        assert!(!matches("nothing", operator, json!(null)));
    }
}

#[test]
fn ordering_needs_two_numbers_or_two_strings() {
    assert!(matches("age", ">", json!(29)));
    assert!(matches("age", ">", json!("29")));
    assert!(!matches("age", ">", json!(30)));
    assert!(matches("age", ">=", json!(30)));
    assert!(
        matches("age", "=>", json!(30)),
        "the reference's spelling of >="
    );
    assert!(matches("age", "<", json!(30.5)));
    assert!(matches("age", "<=", json!(30)));
    assert!(matches("score", ">", json!(7)));
    assert!(matches("name", ">", json!("Lisbon")));
    assert!(
        matches("name", "<", json!("london")),
        "byte order: upper case sorts first"
    );
    assert!(
        matches("city", ">", json!("Sao")),
        "byte order: ã sorts after a"
    );
    assert!(
        matches("code", ">", json!("100")),
        "strings compare as strings"
    );
    assert!(
        !matches("code", ">", json!(100)),
        "a stored string is not a number"
    );
    assert!(!matches("missing", "<", json!(1)));
    assert!(!matches("missing", ">", json!(1)));
    assert!(!matches("nothing", "<", json!(1)));
    assert!(!matches("active", ">", json!("a")));
}

#[test]
fn between_is_inclusive_and_not_between_its_complement() {
    assert!(matches("age", "between", json!([18, 55])));
    assert!(matches("age", "between", json!([30, 30])));
    assert!(matches("age", "between", json!(["18", "55"])));
    assert!(
        !matches("age", "between", json!([55, 18])),
        "bounds are not swapped"
    );
    assert!(matches("name", "between", json!(["A", "M"])));
    assert!(!matches("missing", "between", json!([0, 100])));
    assert!(matches("missing", "not_between", json!([0, 100])));
    assert!(matches("age", "not_between", json!([31, 40])));
    assert!(!matches("age", "not_between", json!([18, 55])));
}

#[test]
fn in_matches_any_element_by_equality() {
    assert!(matches("age", "in", json!([1, 30, "x"])));
    assert!(matches("age", "in", json!(["30"])));
    assert!(matches("name", "in", json!(["Paris", "London"])));
    assert!(matches("active", "in", json!([false, true])));
    assert!(matches("nothing", "in", json!([1, null])));
    assert!(!matches("age", "in", json!([])));
    assert!(!matches("missing", "in", json!([null])));
    assert!(matches("missing", "not_in", json!([1])));
    assert!(matches("age", "not_in", json!([])));
    assert!(!matches("age", "not_in", json!([30])));
}

#[test]
fn like_ignores_ascii_case_with_percent_and_underscore() {
    assert!(matches("name", "LIKE", json!("Lond%")));
    assert!(matches("name", "like", json!("L_ndon")));
    assert!(
        matches("name", "LIKE", json!("lond%")),
        "ASCII case is ignored"
    );
    assert!(matches("name", "LIKE", json!("LONDON")));
    assert!(
        matches("city", "LIKE", json!("sãO%")),
        "São: S and o fold, ã is compared exactly"
    );
    assert!(
        !matches("city", "LIKE", json!("SÃO%")),
        "non-ASCII letters never fold"
    );
    assert!(
        !matches("name", "LIKE", json!("Lond")),
        "no implicit wildcard"
    );
    assert!(matches("percent", "LIKE", json!("100\\%")));
    assert!(matches("city", "LIKE", json!("S_o%")), "_ is one character");
    assert!(
        !matches("age", "LIKE", json!("3%")),
        "LIKE matches strings only"
    );
    assert!(!matches("missing", "LIKE", json!("%")));
}

#[test]
fn begins_ends_contains_take_the_value_literally() {
    assert!(matches("name", "begins_with", json!("Lon")));
    assert!(!matches("name", "begins_with", json!("lon")));
    assert!(matches("name", "ends_with", json!("don")));
    assert!(matches("name", "contains", json!("ndo")));
    assert!(matches("name", "contains", json!("")));
    assert!(matches("percent", "ends_with", json!("0%")));
    assert!(
        !matches("name", "contains", json!("%")),
        "% is literal here"
    );
    assert!(
        !matches("items[0].sku", "contains", json!("_")),
        "_ is literal here"
    );
    assert!(matches("items[1].sku", "contains", json!("_")));
    assert!(!matches("age", "contains", json!("3")), "strings only");
    assert!(matches("name", "not_begins_with", json!("Par")));
    assert!(!matches("name", "not_ends_with", json!("don")));
    assert!(matches("name", "not_contains", json!("xyz")));
    assert!(matches("missing", "not_contains", json!("x")));
    assert!(matches("age", "not_contains", json!("3")));
}

#[test]
fn is_empty_covers_missing_null_and_empty_values() {
    for field in [
        "missing",
        "nothing",
        "blank",
        "no_items",
        "no_members",
        "client.missing",
    ] {
        assert!(
            rule(field, "is_empty", Value::Null).matches(&document()),
            "{field}"
        );
        assert!(
            !rule(field, "is_not_empty", Value::Null).matches(&document()),
            "{field}"
        );
    }
    for field in ["age", "active", "name", "tags", "client"] {
        assert!(
            !rule(field, "is_empty", Value::Null).matches(&document()),
            "{field}"
        );
        assert!(
            rule(field, "is_not_empty", json!("ignored")).matches(&document()),
            "{field}"
        );
    }
    let without_value = rules(json!({"rules": [{"field": "blank", "operator": "IS_EMPTY"}]}));
    assert!(without_value.matches(&document()));
}

#[test]
fn groups_combine_and_nest() {
    let adult_londoner = rules(json!({"condition": "and", "rules": [
        {"field": "age", "operator": ">=", "value": 18},
        {"condition": "OR", "rules": [
            {"field": "name", "operator": "=", "value": "Paris"},
            {"field": "name", "operator": "=", "value": "London"}
        ]}
    ]}));
    assert!(adult_londoner.matches(&document()));
    assert!(!adult_londoner.matches(&json!({"age": 30, "name": "Rome"})));
    assert!(rules(json!({"condition": "AND", "rules": []})).matches(&document()));
    assert!(!rules(json!({"condition": "OR", "rules": []})).matches(&document()));
    let default_and = rules(json!({"rules": [
        {"field": "age", "operator": "=", "value": 30},
        {"field": "name", "operator": "=", "value": "Rome"}
    ]}));
    assert!(!default_and.matches(&document()));
}

#[test]
fn a_scalar_document_has_no_fields() {
    assert!(!rule("age", "=", json!(30)).matches(&json!(30)));
    assert!(rule("age", "is_empty", Value::Null).matches(&json!("text")));
}
