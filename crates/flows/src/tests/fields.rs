//! Step types and fields: unknown, missing, mistyped, out of bounds, bad templates.

use serde_json::{Value, json};

use super::{example, example_with, refusal};
use crate::FlowDefinition;

#[test]
fn unknown_types_and_fields_name_the_step() {
    let message = refusal(&example_with("done", json!({"type": "stop"})));
    assert!(
        message.starts_with("steps.done.type: unknown step type 'stop': expected one of set, "),
        "{message}"
    );
    assert!(refusal(&example_with("done", json!({}))).starts_with("steps.done.type: is required"));
    assert_eq!(
        refusal(&example_with("done", json!({"type": 3}))),
        "steps.done.type: must be a string"
    );
    assert_eq!(
        refusal(&example_with("done", json!("end"))),
        "steps.done: must be an object with a \"type\""
    );
    let message = refusal(&example_with(
        "done",
        json!({"type": "end", "colour": "red"}),
    ));
    assert!(
        message.starts_with("steps.done.colour: unknown field `colour`"),
        "{message}"
    );
    let message = refusal(&example_with(
        "save",
        json!({"type": "table.insert", "table": "t", "columns": {"a": "b"}, "next": "notify",
               "where": {"condition": "AND", "rules": []}}),
    ));
    assert!(
        message.starts_with("steps.save.where: unknown field `where`"),
        "{message}"
    );
}

#[test]
fn missing_and_mistyped_fields_name_the_step_and_field() {
    assert_eq!(
        refusal(&example_with(
            "save",
            json!({"type": "table.insert", "table": "t",
            "columns": {"a": "b"}})
        )),
        "steps.save.next: is required"
    );
    assert_eq!(
        refusal(&example_with(
            "save",
            json!({"type": "table.insert", "table": "t",
            "columns": {"a": "b"}, "next": 5})
        )),
        "steps.save.next: invalid type: integer `5`, expected a string"
    );
    let message = refusal(&example_with(
        "notify",
        json!({"type": "http", "method": "FETCH",
        "url": "https://example.org", "next": "done"}),
    ));
    assert!(
        message.starts_with("steps.notify.method: unknown variant `FETCH`"),
        "{message}"
    );
    let message = refusal(&example_with(
        "adult",
        json!({"type": "switch",
        "cases": [{"where": {"condition": "AND", "rules": []}}], "default": "save"}),
    ));
    assert_eq!(message, "steps.adult.cases[0].next: is required");
    assert_eq!(
        refusal(&example_with(
            "adult",
            json!({"type": "condition",
            "where": {"condition": "XOR", "rules": []}, "then": "save", "else": "reject"})
        )),
        "steps.adult.where: where.condition: unknown condition 'XOR'; expected AND or OR"
    );
    assert_eq!(
        refusal(&example_with(
            "adult",
            json!({"type": "condition",
            "where": {"condition": "AND"}, "then": "save", "else": "reject"})
        )),
        "steps.adult.where: where.rules: expected an array of rules"
    );
}

#[test]
fn field_checks_name_the_step_and_field() {
    let cases = [
        (
            json!({"type": "switch", "cases": [], "default": "save"}),
            "adult",
            "cases",
        ),
        (
            json!({"type": "set", "fields": {}, "next": "save"}),
            "adult",
            "fields",
        ),
        (
            json!({"type": "transform", "jq": " ", "next": "save"}),
            "adult",
            "jq",
        ),
        (json!({"type": "delay", "next": "save"}), "adult", "seconds"),
        (
            json!({"type": "delay", "seconds": 0, "next": "save"}),
            "adult",
            "seconds",
        ),
        (
            json!({"type": "delay", "seconds": 5, "until": "x", "next": "save"}),
            "adult",
            "seconds",
        ),
        (
            json!({"type": "move_to_flow", "flow": ""}),
            "reject",
            "flow",
        ),
        (json!({"type": "end", "status": "done"}), "reject", "status"),
        (
            json!({"type": "table.search", "table": "t", "limit": 0, "next": "done"}),
            "notify",
            "limit",
        ),
        (
            json!({"type": "table.search", "table": "t", "order_type": "up", "next": "done"}),
            "notify",
            "order_type",
        ),
        (
            json!({"type": "table.insert", "table": "", "columns": {"a": "b"}, "next": "done"}),
            "notify",
            "table",
        ),
        (
            json!({"type": "table.update", "table": "t", "columns": {}, "next": "done",
            "where": {"condition": "AND", "rules": []}}),
            "notify",
            "columns",
        ),
        (
            json!({"type": "keystore.get", "keystore": "k", "key": "x", "save_as": "a.b",
            "next": "done"}),
            "notify",
            "save_as",
        ),
        (
            json!({"type": "keystore.put", "keystore": "k", "key": "x", "next": "done"}),
            "notify",
            "value",
        ),
        (
            json!({"type": "http", "method": "GET", "url": "ftp://example.org", "next": "done"}),
            "notify",
            "url",
        ),
        (
            json!({"type": "http", "method": "GET", "url": "https://x", "timeout_ms": 0,
            "next": "done"}),
            "notify",
            "timeout_ms",
        ),
        (
            json!({"type": "http", "method": "GET", "url": "https://x",
            "headers": {"Bad Header": "x"}, "next": "done"}),
            "notify",
            "headers",
        ),
    ];
    for (step, id, field) in cases {
        let message = refusal(&example_with(id, step.clone()));
        assert!(
            message.starts_with(&format!("steps.{id}.{field}: ")),
            "{step}: {message}"
        );
    }
}

#[test]
fn templates_are_checked_where_they_are_written() {
    assert_eq!(
        refusal(&example_with(
            "save",
            json!({"type": "table.insert", "table": "customers",
            "columns": {"name": "{{ record.client.name"}, "next": "notify"})
        )),
        "steps.save.columns.name: '{{' at character 1 is never closed with '}}'"
    );
    assert_eq!(
        refusal(&example_with(
            "notify",
            json!({"type": "http", "method": "POST",
            "url": "https://example.org/{{ record.id }}}}", "next": "done"})
        )),
        "steps.notify.url: '}}' at character 36 has no matching '{{'"
    );
    assert_eq!(
        refusal(&example_with(
            "notify",
            json!({"type": "http", "method": "POST",
            "url": "https://example.org", "body": {"items": ["{{ record.items[x] }}"]},
            "next": "done"})
        )),
        "steps.notify.body: at /items/0: placeholder at character 1: 'record.items[x]' is not \
         a valid path: write names separated by '.', with [n] for array elements, such as \
         'record.items[0].sku'"
    );
    let message = refusal(&example_with(
        "adult",
        json!({"type": "set",
        "fields": {"client..name": "x"}, "next": "save"}),
    ));
    assert!(
        message.starts_with("steps.adult.fields.client..name: 'client..name' is not a valid path"),
        "{message}"
    );
    let message = refusal(&example_with(
        "notify",
        json!({"type": "delay",
        "until": "{{ record.due ", "next": "done"}),
    ));
    assert!(
        message.starts_with("steps.notify.until: '{{' at character 1"),
        "{message}"
    );
}

#[test]
fn retry_is_bounded() {
    let with_retry = |retry: Value| {
        let mut definition = example();
        definition["steps"]["notify"]["retry"] = retry;
        definition
    };
    for max in [0, 100] {
        FlowDefinition::parse(&with_retry(json!({"max": max}))).unwrap();
    }
    assert_eq!(
        refusal(&with_retry(json!({"max": 101}))),
        "steps.notify.retry.max: must be between 0 and 100"
    );
    assert!(refusal(&with_retry(json!({"max": -1}))).starts_with("steps.notify.retry.max: "));
    assert_eq!(
        refusal(&with_retry(json!({}))),
        "steps.notify.retry.max: is required"
    );
    assert!(
        refusal(&with_retry(json!({"max": 1, "backoff": "linear"})))
            .starts_with("steps.notify.retry.backoff: unknown variant `linear`")
    );
    assert!(
        refusal(&with_retry(json!({"max": 1, "tries": 3})))
            .starts_with("steps.notify.retry.tries: unknown field `tries`")
    );
    assert_eq!(
        refusal(&with_retry(json!({"max": 1, "initial_ms": 0}))),
        "steps.notify.retry.initial_ms: must be a positive integer"
    );
    assert_eq!(
        refusal(&with_retry(
            json!({"max": 1, "initial_ms": 500, "max_ms": 100})
        )),
        "steps.notify.retry.max_ms: must not be less than initial_ms"
    );
}
