//! Whole definitions, good and bad: every rule has a case whose message names the step.

mod fields;
mod graph;
mod parsing;

use serde_json::{Value, json};

use crate::FlowDefinition;

/// The example of DESIGN.md §4, with the optional fields.
pub(super) fn example() -> Value {
    json!({
        "name": "onboarding", "description": "optional", "start": "adult", "concurrency": 1,
        "steps": {
            "adult": {"type": "condition", "where": {"condition": "AND", "rules": [
                {"field": "client.age", "operator": ">=", "value": 18}]},
                "then": "save", "else": "reject"},
            "save": {"type": "table.insert", "table": "customers",
                "columns": {"name": "{{ record.client.name }}"}, "next": "notify"},
            "notify": {"type": "http", "method": "POST", "url": "https://example.org/hook",
                "body": "{{ record }}", "save_as": "notify", "retry": {"max": 5}, "next": "done"},
            "reject": {"type": "end", "status": "finished_with_errors"},
            "done": {"type": "end"}
        }
    })
}

/// A definition starting at `start` with the given steps.
pub(super) fn flow(start: &str, steps: Value) -> Value {
    json!({"name": "test flow", "start": start, "steps": steps})
}

/// The message of the 400 that `definition` is refused with.
pub(super) fn refusal(definition: &Value) -> String {
    let error = FlowDefinition::parse(definition).expect_err("the definition should be refused");
    assert_eq!(error.kind(), flowline_core::ErrorKind::BadRequest);
    error.public_message()
}

/// The example with step `id` replaced by `step`.
pub(super) fn example_with(id: &str, step: Value) -> Value {
    let mut definition = example();
    definition["steps"][id] = step;
    definition
}
