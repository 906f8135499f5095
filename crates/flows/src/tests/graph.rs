//! The graph checks: dangling references, unreachable steps, cycles, paths that never end.

use serde_json::json;

use super::{example, example_with, flow, refusal};
use crate::FlowDefinition;

#[test]
fn dangling_references_name_the_step_and_field() {
    let cases = [
        (
            "save",
            json!({"type": "table.insert", "table": "customers",
            "columns": {"a": "b"}, "next": "notfy"}),
            "steps.save.next",
        ),
        (
            "adult",
            json!({"type": "condition", "where": {"condition": "AND", "rules": []},
            "then": "sav", "else": "reject"}),
            "steps.adult.then",
        ),
        (
            "adult",
            json!({"type": "condition", "where": {"condition": "AND", "rules": []},
            "then": "save", "else": "rejct"}),
            "steps.adult.else",
        ),
        (
            "adult",
            json!({"type": "switch", "cases": [
            {"where": {"condition": "AND", "rules": []}, "next": "save"},
            {"where": {"condition": "OR", "rules": []}, "next": "nowhere"}],
            "default": "reject"}),
            "steps.adult.cases[1].next",
        ),
        (
            "adult",
            json!({"type": "switch", "cases": [
            {"where": {"condition": "AND", "rules": []}, "next": "save"}],
            "default": "nowhere"}),
            "steps.adult.default",
        ),
        (
            "save",
            json!({"type": "table.insert", "table": "customers",
            "columns": {"a": "b"}, "next": "notify", "on_error": "nowhere"}),
            "steps.save.on_error",
        ),
    ];
    for (id, step, field) in cases {
        let message = refusal(&example_with(id, step));
        assert!(
            message.starts_with(&format!("{field}: refers to unknown step '")),
            "{message}"
        );
    }
    assert_eq!(
        refusal(&example_with(
            "save",
            json!({"type": "table.insert", "table": "customers",
            "columns": {"a": "b"}, "next": "notfy"})
        )),
        "steps.save.next: refers to unknown step 'notfy'"
    );
}

#[test]
fn unreachable_steps_are_named() {
    let mut definition = example();
    definition["steps"]["orphan"] = json!({"type": "end"});
    definition["steps"]["stray"] = json!({"type": "set", "fields": {"a": "b"}, "next": "done"});
    assert_eq!(
        refusal(&definition),
        "steps.orphan: is not reachable from the start step 'adult' (unreachable: orphan, stray)"
    );
    // A step reached only through on_error is reachable.
    definition["steps"]["save"]["on_error"] = json!("orphan");
    definition["steps"]["orphan"] = json!({"type": "set", "fields": {"a": "b"}, "next": "stray"});
    FlowDefinition::parse(&definition).unwrap();
}

#[test]
fn a_cycle_without_a_delay_is_refused_and_named() {
    let cycle = flow(
        "a",
        json!({
            "a": {"type": "set", "fields": {"n": "1"}, "next": "b"},
            "b": {"type": "condition", "where": {"condition": "AND", "rules": []},
                  "then": "c", "else": "done"},
            "c": {"type": "http", "method": "GET", "url": "https://x", "next": "b"},
            "done": {"type": "end"}
        }),
    );
    assert_eq!(
        refusal(&cycle),
        "steps.b: is part of a cycle without a delay step: b -> c -> b"
    );
    let self_loop = flow(
        "a",
        json!({
            "a": {"type": "set", "fields": {"n": "1"}, "next": "done", "on_error": "a"},
            "done": {"type": "end"}
        }),
    );
    assert_eq!(
        refusal(&self_loop),
        "steps.a: is part of a cycle without a delay step: a -> a"
    );
}

#[test]
fn a_cycle_through_a_delay_is_accepted() {
    let polling = flow(
        "poll",
        json!({
            "poll": {"type": "http", "method": "GET", "url": "https://example.org/status",
                     "save_as": "status", "next": "ready"},
            "ready": {"type": "condition", "where": {"condition": "AND", "rules": [
                         {"field": "steps.status.body.ready", "operator": "=", "value": true}]},
                      "then": "done", "else": "wait"},
            "wait": {"type": "delay", "seconds": 30, "next": "poll"},
            "done": {"type": "end"}
        }),
    );
    let definition = FlowDefinition::parse(&polling).unwrap();
    assert_eq!(definition.steps().len(), 4);
    // The same through on_error: a failed call waits and tries again.
    let retrying = flow(
        "call",
        json!({
            "call": {"type": "http", "method": "POST", "url": "https://x", "next": "done",
                     "on_error": "backoff"},
            "backoff": {"type": "delay", "seconds": 60, "next": "call"},
            "done": {"type": "end"}
        }),
    );
    FlowDefinition::parse(&retrying).unwrap();
}

#[test]
fn every_path_must_be_able_to_end() {
    let endless = flow(
        "tick",
        json!({
            "tick": {"type": "set", "fields": {"n": "1"}, "next": "wait"},
            "wait": {"type": "delay", "seconds": 1, "next": "tick"}
        }),
    );
    assert_eq!(
        refusal(&endless),
        "steps.tick: never ends: no path from it reaches an 'end' or 'move_to_flow' step \
         (steps that never end: tick, wait)"
    );
    // A way out only through on_error does not count.
    let mut only_on_error = endless.clone();
    only_on_error["steps"]["tick"]["on_error"] = json!("done");
    only_on_error["steps"]["done"] = json!({"type": "end"});
    assert!(refusal(&only_on_error).starts_with("steps.tick: never ends"));
    // A move to another flow ends this one.
    let moved = flow(
        "move",
        json!({"move": {"type": "move_to_flow", "flow": "archive"}}),
    );
    FlowDefinition::parse(&moved).unwrap();
}
