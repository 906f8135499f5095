//! Definitions that parse, what they hold, and the round trip through JSON; the flow's own fields.

use serde_json::{Value, json};

use super::{example, flow, refusal};
use crate::{
    Backoff, EndStatus, FlowDefinition, HttpMethod, MAX_STEPS, StepKind, Successor, TemplatePart,
};

#[test]
fn the_design_example_parses() {
    let definition = FlowDefinition::parse(&example()).unwrap();
    assert_eq!(definition.name(), "onboarding");
    assert_eq!(definition.description(), Some("optional"));
    assert_eq!(definition.start(), "adult");
    assert_eq!(definition.concurrency().map(|limit| limit.get()), Some(1));
    let ids: Vec<&str> = definition
        .steps()
        .iter()
        .map(|step| step.id.as_str())
        .collect();
    assert_eq!(ids, ["adult", "save", "notify", "reject", "done"]);

    let adult = definition.step("adult").unwrap();
    assert_eq!(adult.kind.type_name(), "condition");
    assert_eq!(
        adult.kind.successors(),
        [
            Successor::new("then", "save"),
            Successor::new("else", "reject")
        ]
    );
    let StepKind::Http(notify) = &definition.step("notify").unwrap().kind else {
        panic!("notify is an http step");
    };
    assert_eq!(notify.method, HttpMethod::Post);
    assert_eq!(notify.save_as.as_deref(), Some("notify"));
    let retry = definition.step("notify").unwrap().retry.as_ref().unwrap();
    assert_eq!((retry.max, retry.backoff), (5, Backoff::Exponential));
    let StepKind::TableInsert(save) = &definition.step("save").unwrap().kind else {
        panic!("save is a table.insert step");
    };
    let name = save.columns.get("name").unwrap();
    assert!(
        matches!(&name.parts()[0], TemplatePart::Placeholder(path) if path.as_str() == "record.client.name")
    );
    let StepKind::End(reject) = &definition.step("reject").unwrap().kind else {
        panic!("reject is an end step");
    };
    assert_eq!(reject.status, EndStatus::FinishedWithErrors);
    assert!(definition.step("done").unwrap().kind.is_terminal());
    assert!(definition.step("missing").is_none());
}

#[test]
fn every_step_type_parses_and_round_trips() {
    let where_rules = json!({"condition": "OR", "rules": []});
    let definition = json!({
        "name": "every step", "start": "set",
        "steps": {
            "set": {"type": "set", "fields": {"client.status": "new {{ record.id }}"},
                "next": "transform", "on_error": "failed"},
            "transform": {"type": "transform", "jq": ".client |= . + {seen: true}",
                "next": "condition"},
            "condition": {"type": "condition", "where": where_rules, "then": "switch",
                "else": "get"},
            "switch": {"type": "switch", "cases": [{"where": where_rules, "next": "get"}],
                "default": "put"},
            "get": {"type": "keystore.get", "keystore": "sessions", "key": "{{ record.id }}",
                "save_as": "session", "next": "put"},
            "put": {"type": "keystore.put", "keystore": "sessions", "key": "{{ record.id }}",
                "value": {"seen": true, "name": "{{ record.name }}"}, "next": "delete"},
            "delete": {"type": "keystore.delete", "keystore": "sessions", "key": "k",
                "next": "insert"},
            "insert": {"type": "table.insert", "table": "t", "columns": {"a": "{{ record.a }}"},
                "save_as": "row", "next": "update"},
            "update": {"type": "table.update", "table": "t", "columns": {"a": "b"},
                "where": where_rules, "next": "search"},
            "search": {"type": "table.search", "table": "t", "where": where_rules, "limit": 10,
                "order_field": "a", "order_type": "desc", "save_as": "rows", "next": "http"},
            "http": {"type": "http", "method": "GET", "url": "{{ env.API_URL }}/users",
                "headers": {"Authorization": "Bearer {{ env.TOKEN }}"}, "timeout_ms": 5000,
                "body": {"ids": ["{{ record.items[0].sku }}"]},
                "retry": {"max": 3, "backoff": "fixed", "initial_ms": 100, "max_ms": 1000},
                "next": "wait"},
            "wait": {"type": "delay", "seconds": 1.5, "next": "later"},
            "later": {"type": "delay", "until": "{{ record.due }}", "next": "move"},
            "move": {"type": "move_to_flow", "flow": "archive"},
            "failed": {"type": "end", "status": "finished_with_errors"}
        }
    });
    let parsed = FlowDefinition::parse(&definition).unwrap();
    let mut types: Vec<&str> = parsed
        .steps()
        .iter()
        .map(|step| step.kind.type_name())
        .collect();
    types.sort_unstable();
    let mut catalog = StepKind::TYPE_NAMES.to_vec();
    catalog.sort_unstable();
    types.dedup();
    assert_eq!(types, catalog, "the test covers every step type");

    let json = parsed.to_json();
    assert_eq!(FlowDefinition::parse(&json).unwrap(), parsed);
    assert_eq!(json["steps"]["set"]["on_error"], "failed");
    assert_eq!(json["steps"]["http"]["retry"]["backoff"], "fixed");
    assert_eq!(json["steps"]["failed"]["status"], "finished_with_errors");
    assert!(json["steps"]["get"].get("retry").is_none());
}

#[test]
fn the_example_round_trips() {
    let parsed = FlowDefinition::parse(&example()).unwrap();
    let json = parsed.to_json();
    assert_eq!(FlowDefinition::parse(&json).unwrap(), parsed);
    // Only defaults are added: the end status and the retry backoff.
    let mut expected = example();
    expected["steps"]["done"]["status"] = json!("finished");
    expected["steps"]["notify"]["retry"]["backoff"] = json!("exponential");
    assert_eq!(json, expected);
}

#[test]
fn the_flow_itself_is_checked() {
    let mut definition = example();
    definition["name"] = json!("");
    assert!(refusal(&definition).starts_with("name: must be 1 to 128 characters"));
    definition["name"] = json!("a/b");
    assert!(refusal(&definition).starts_with("name: "));
    definition["name"] = json!("x".repeat(129));
    assert!(refusal(&definition).starts_with("name: "));
    definition["name"] = json!(" padded");
    assert_eq!(
        refusal(&definition),
        "name: must not start or end with a space"
    );
    definition["name"] = json!("Onboarding v2.1 - main_flow");
    FlowDefinition::parse(&definition).unwrap();

    let mut definition = example();
    definition.as_object_mut().unwrap().remove("start");
    assert_eq!(refusal(&definition), "start: is required");
    definition["start"] = json!("adlt");
    assert_eq!(refusal(&definition), "start: refers to unknown step 'adlt'");

    let mut definition = example();
    definition["concurrency"] = json!(0);
    assert_eq!(
        refusal(&definition),
        "concurrency: must be a positive integer"
    );
    definition["concurrency"] = json!(-1);
    assert!(refusal(&definition).starts_with("concurrency: invalid value"));

    let mut definition = example();
    definition["stpes"] = json!({});
    assert!(refusal(&definition).starts_with("stpes: unknown field `stpes`"));

    assert_eq!(refusal(&json!([])), "definition: must be a JSON object");
    assert_eq!(
        refusal(&flow("a", json!({}))),
        "steps: must hold at least one step"
    );
}

#[test]
fn step_ids_and_the_step_count_are_bounded() {
    let bad_id = flow("a b", json!({"a b": {"type": "end"}}));
    assert!(refusal(&bad_id).starts_with("steps: step id \"a b\" must be 1 to 64 characters"));
    let long = "s".repeat(65);
    assert!(refusal(&flow(&long, json!({ long.clone(): {"type": "end"} }))).starts_with("steps: "));

    let mut steps = serde_json::Map::new();
    for at in 0..MAX_STEPS {
        let step = if at + 1 == MAX_STEPS {
            json!({"type": "end"})
        } else {
            json!({"type": "set", "fields": {"n": "x"}, "next": format!("s{}", at + 1)})
        };
        steps.insert(format!("s{at}"), step);
    }
    let most = flow("s0", Value::Object(steps.clone()));
    assert_eq!(
        FlowDefinition::parse(&most).unwrap().steps().len(),
        MAX_STEPS
    );
    steps.insert("extra".to_owned(), json!({"type": "end"}));
    assert_eq!(
        refusal(&flow("s0", Value::Object(steps))),
        "steps: holds 1001 steps; at most 1000 are allowed"
    );
}
