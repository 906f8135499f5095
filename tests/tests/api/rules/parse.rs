//! The parser: what it refuses, and that every refusal is a 400 naming the field at fault.

use flowline_core::rules::{FieldPath, MAX_DEPTH, MAX_RULES, Rules, Segment};
use serde_json::{Value, json};

use super::refusal;

fn one_rule(rule: Value) -> Value {
    json!({"condition": "AND", "rules": [{"field": "a", "operator": "=", "value": 1}, rule]})
}

#[test]
fn unknown_operators_and_conditions_are_named() {
    assert_eq!(
        refusal(one_rule(
            json!({"field": "a", "operator": "LIKEE", "value": "x"})
        )),
        "where.rules[1].operator: unknown operator 'LIKEE'"
    );
    assert_eq!(
        refusal(json!({"condition": "XOR", "rules": []})),
        "where.condition: unknown condition 'XOR'; expected AND or OR"
    );
    let long = "x".repeat(5000);
    let message = refusal(one_rule(
        json!({"field": "a", "operator": long, "value": 1}),
    ));
    assert!(
        message.len() < 200,
        "the client's text is not echoed whole: {message}"
    );
    assert!(
        refusal(one_rule(json!({"field": "a", "value": 1})))
            .starts_with("where.rules[1].operator:")
    );
}

#[test]
fn operators_are_case_insensitive() {
    for name in ["like", "LIKE", "Like"] {
        super::rule("a", name, json!("x%"));
    }
    super::rule("a", "NOT_IN", json!([1]));
    super::rule("a", "Begins_With", json!("x"));
}

#[test]
fn values_must_fit_their_operator() {
    let cases = [
        (
            json!({"field": "a", "operator": "="}),
            "where.rules[1].value: operator '=' needs a value",
        ),
        (
            json!({"field": "a", "operator": "<", "value": true}),
            "where.rules[1].value: operator '<' compares numbers or strings",
        ),
        (
            json!({"field": "a", "operator": ">", "value": null}),
            "where.rules[1].value: operator '>' compares numbers or strings",
        ),
        (
            json!({"field": "a", "operator": "=", "value": [1]}),
            "where.rules[1].value: expected a number, a string, a boolean or null",
        ),
        (
            json!({"field": "a", "operator": "between", "value": [1]}),
            "where.rules[1].value: operator 'between' needs an array of two values, such as [18, 55]",
        ),
        (
            json!({"field": "a", "operator": "not_between", "value": [1, {}]}),
            "where.rules[1].value[1]: expected a number, a string, a boolean or null",
        ),
        (
            json!({"field": "a", "operator": "between", "value": [false, 1]}),
            "where.rules[1].value[0]: operator 'between' compares numbers or strings",
        ),
        (
            json!({"field": "a", "operator": "in", "value": 1}),
            "where.rules[1].value: operator 'in' needs an array of values",
        ),
        (
            json!({"field": "a", "operator": "in", "value": [1, [2]]}),
            "where.rules[1].value[1]: expected a number, a string, a boolean or null",
        ),
        (
            json!({"field": "a", "operator": "contains", "value": 3}),
            "where.rules[1].value: operator 'contains' needs a string",
        ),
        (
            json!({"field": "a", "operator": "LIKE", "value": "ends in \\"}),
            "where.rules[1].value: a LIKE pattern cannot end with a lone \\ (write \\\\ for a backslash)",
        ),
    ];
    for (rule, expected) in cases {
        assert_eq!(refusal(one_rule(rule.clone())), expected, "{rule}");
    }
}

#[test]
fn document_shape_is_checked() {
    assert_eq!(
        refusal(json!([])),
        "where: expected an object with condition and rules"
    );
    assert_eq!(
        refusal(json!({"condition": "AND"})),
        "where.rules: expected an array of rules"
    );
    assert_eq!(
        refusal(json!({"rules": [42]})),
        "where.rules[0]: expected a rule {field, operator, value} or a group {condition, rules}"
    );
    assert_eq!(
        refusal(json!({"rules": [{"field": "a", "operator": "=", "value": 1, "rules": []}]})),
        "where.rules[0]: an entry is either a rule (field) or a group (rules), not both"
    );
    assert_eq!(
        refusal(json!({"rules": [{"rules": [{"field": "a", "operator": "~", "value": 1}]}]})),
        "where.rules[0].rules[0].operator: unknown operator '~'"
    );
}

#[test]
fn bounds_are_enforced() {
    let rule = json!({"field": "a", "operator": "=", "value": 1});
    Rules::parse(&json!({"rules": vec![rule.clone(); MAX_RULES]}), "where").unwrap();
    assert_eq!(
        refusal(json!({"rules": vec![rule.clone(); MAX_RULES + 1]})),
        "where.rules[100]: a where clause holds at most 100 rules and groups in all"
    );
    // Groups count too: 50 groups of one rule each are 100 entries.
    let group = json!({"rules": [rule.clone()]});
    Rules::parse(&json!({"rules": vec![group.clone(); 50]}), "where").unwrap();
    assert!(refusal(json!({"rules": vec![group; 51]})).contains("at most 100 rules"));

    let nested = |depth: usize| {
        (1..depth).fold(
            json!({"rules": [rule.clone()]}),
            |inner, _| json!({"rules": [inner]}),
        )
    };
    Rules::parse(&nested(MAX_DEPTH), "where").unwrap();
    let message = refusal(nested(MAX_DEPTH + 1));
    assert!(
        message.ends_with("groups may nest at most 8 deep"),
        "{message}"
    );
    assert!(message.starts_with("where.rules[0].rules[0]"), "{message}");
    // Far deeper than the bound is refused the same way, without exhausting the stack.
    assert!(refusal(nested(100)).contains("at most 8 deep"));

    let long = "x".repeat(4097);
    assert_eq!(
        refusal(json!({"rules": [{"field": "a", "operator": "=", "value": long}]})),
        "where.rules[0].value: a value is at most 4096 bytes long"
    );
    assert_eq!(
        refusal(json!({"rules": [{"field": "a", "operator": "in", "value": ["y", long]}]})),
        "where.rules[0].value[1]: a value is at most 4096 bytes long"
    );
    super::rule("a", "=", json!("x".repeat(4096)));
    super::rule("a", "in", json!(vec![1; 1000]));
    assert_eq!(
        refusal(json!({"rules": [{"field": "a", "operator": "in", "value": vec![1; 1001]}]})),
        "where.rules[0].value: a list holds at most 1000 values"
    );
}

#[test]
fn field_paths_are_checked_syntactically() {
    let path = FieldPath::parse("items[12].sku_code-2").unwrap();
    assert_eq!(
        path.segments(),
        [
            Segment::Key("items".into()),
            Segment::Index(12),
            Segment::Key("sku_code-2".into())
        ]
    );
    assert_eq!(path.pg_path(), ["items", "12", "sku_code-2"]);
    for valid in ["key", "_a", "client.age", "a[0][1].b", "keystore.key", "A9"] {
        FieldPath::parse(valid).unwrap_or_else(|problem| panic!("{valid}: {problem}"));
    }
    for invalid in [
        "",
        "1a",
        "a.",
        ".a",
        "a..b",
        "[0]",
        "a[]",
        "a[01]",
        "a[-1]",
        "a[1",
        "a[1]b",
        "a b",
        "a'b",
        "a\"b",
        "a;b",
        "a->b",
        "a.{b}",
        "a[1000000000]",
        "é",
        "a\u{0}",
    ] {
        assert!(
            FieldPath::parse(invalid).is_err(),
            "{invalid:?} should be refused"
        );
    }
    assert!(FieldPath::parse(&"a".repeat(256)).is_ok());
    assert!(
        FieldPath::parse(&"a".repeat(257))
            .unwrap_err()
            .contains("at most 256")
    );
}

#[test]
fn injection_in_field_names_is_a_400() {
    let message = refusal(json!({"rules": [
        {"field": "a'); DROP TABLE x; --", "operator": "=", "value": 1}
    ]}));
    assert!(
        message.starts_with("where.rules[0].field: invalid field path"),
        "{message}"
    );
    let message = refusal(json!({"rules": [{"field": 7, "operator": "=", "value": 1}]}));
    assert!(message.starts_with("where.rules[0].field:"), "{message}");
}
