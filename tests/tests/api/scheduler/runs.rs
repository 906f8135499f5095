//! Records run to completion through each internal step type, errors, retries, delays, moves,
//! pauses, versions, rescues and tenant isolation.

use super::*;
use serde_json::json;

#[tokio::test]
async fn every_internal_step_type_runs_to_the_end() {
    let app = spawn_app().await;
    define_keystore(&app, &app.org, &app.app, "kv").await;
    define_table(&app, &app.org, &app.app, "orders").await;
    publish_flow(&app, json!({
        "name": "all", "start": "greet",
        "steps": {
            "greet": {"type": "set", "fields": {"greeting": "Hi {{ record.name }}",
                      "copy.qty": "{{ record.qty }}"}, "next": "double"},
            "double": {"type": "transform", "jq": ".qty = .qty * 2", "next": "big"},
            "big": {"type": "condition",
                    "where": {"condition": "AND", "rules": [
                        {"field": "qty", "operator": ">=", "value": 10}]},
                    "then": "kind", "else": "small"},
            "small": {"type": "end", "status": "finished_with_errors"},
            "kind": {"type": "switch", "cases": [
                        {"where": {"condition": "AND", "rules": [
                            {"field": "name", "operator": "=", "value": "nobody"}]},
                         "next": "small"}],
                     "default": "put"},
            "put": {"type": "keystore.put", "keystore": "kv", "key": "{{ record.name }}",
                    "value": {"qty": "{{ record.qty }}"}, "next": "get"},
            "get": {"type": "keystore.get", "keystore": "kv", "key": "{{ record.name }}",
                    "save_as": "stored", "next": "insert"},
            "insert": {"type": "table.insert", "table": "orders",
                       "columns": {"name": "{{ record.name }}", "qty": "{{ steps.stored.qty }}"},
                       "save_as": "row", "next": "update"},
            "update": {"type": "table.update", "table": "orders", "columns": {"qty": "99"},
                       "where": {"condition": "AND", "rules": [
                           {"field": "name", "operator": "=", "value": "ann"}]},
                       "next": "search"},
            "search": {"type": "table.search", "table": "orders", "save_as": "found",
                       "next": "remember"},
            "remember": {"type": "set", "fields": {"row_id": "{{ steps.row.id }}",
                         "found": "{{ steps.found }}"}, "next": "forget"},
            "forget": {"type": "keystore.delete", "keystore": "kv", "key": "{{ record.name }}",
                       "next": "done"},
            "done": {"type": "end"}
        }
    })).await;
    let scheduler = start_scheduler(&app);
    let uuid = push_one(&app, "all", &json!({"name": "ann", "qty": 6})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["info"]["status"], "Finished");
    let data = &view["data_record"];
    assert_eq!(data["greeting"], "Hi ann");
    assert_eq!(data["copy"], json!({"qty": 6}));
    assert_eq!(data["qty"], 12);
    assert_eq!(data["row_id"], data["found"][0]["id"], "{data}");
    assert_eq!(data["found"].as_array().map(Vec::len), Some(1), "{data}");
    assert_eq!(data["found"][0]["name"], "ann");
    assert_eq!(data["found"][0]["qty"], 99);
    let process = &view["flow_process"];
    assert_eq!(process["current_step"], "done");
    assert_eq!(process["num_runs"], "1");
    assert_ne!(process["date_started"], "");
    assert_ne!(process["date_last_run"], "");
    // The key was written, read, then deleted: a read creates it again, empty.
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM keystore_entries").await,
        0
    );
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM record_queue").await,
        0
    );
    let steps: Vec<String> = step_log(&app, &uuid)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        steps,
        [
            "greet", "double", "big", "kind", "put", "get", "insert", "update", "search",
            "remember", "forget", "done"
        ]
    );
}

#[tokio::test]
async fn conditions_branch_and_failures_go_to_on_error_or_fail_the_record() {
    let app = spawn_app().await;
    publish_flow(
        &app,
        json!({
            "name": "branch", "start": "adult",
            "steps": {
                "adult": {"type": "condition", "where": {"condition": "AND", "rules": [
                    {"field": "age", "operator": ">=", "value": 18}]},
                    "then": "yes", "else": "no"},
                "yes": {"type": "end"},
                "no": {"type": "end", "status": "finished_with_errors"}
            }
        }),
    )
    .await;
    publish_flow(
        &app,
        json!({
            "name": "rescued", "start": "read",
            "steps": {
                "read": {"type": "keystore.get", "keystore": "missing", "key": "k",
                         "on_error": "note", "next": "done"},
                "note": {"type": "set", "fields": {"noted": "yes"}, "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    publish_flow(
        &app,
        json!({
            "name": "failing", "start": "bad",
            "steps": {
                "bad": {"type": "transform", "jq": "error(\"boom\")", "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    publish_flow(
        &app,
        json!({
            "name": "retried", "start": "read",
            "steps": {
                "read": {"type": "table.search", "table": "nowhere", "next": "done",
                         "retry": {"max": 2, "backoff": "fixed", "initial_ms": 50}},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    let scheduler = start_scheduler(&app);
    let adult = push_one(&app, "branch", &json!({"age": 30})).await;
    let child = push_one(&app, "branch", &json!({"age": 3})).await;
    let rescued = push_one(&app, "rescued", &json!({})).await;
    let failing = push_one(&app, "failing", &json!({"keep": 1})).await;
    let retried = push_one(&app, "retried", &json!({})).await;

    assert_eq!(
        wait_for(&app, &adult, &["2", "3"]).await["info"]["status_code"],
        "2"
    );
    let child = wait_for(&app, &child, &["2", "3"]).await;
    assert_eq!(child["info"]["status_code"], "3");
    assert_eq!(child["flow_process"]["current_step"], "no");

    let view = wait_for(&app, &rescued, &["2", "3"]).await;
    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["data_record"]["noted"], "yes");
    let log = step_log(&app, &rescued).await;
    assert_eq!(log[0].0, "read");
    assert_eq!(log[0].1, "error");
    assert_eq!(
        log[0].2.as_deref(),
        Some("Keystore 'missing' does not exist")
    );
    assert_eq!(log[1].0, "note");

    let view = wait_for(&app, &failing, &["2", "3"]).await;
    assert_eq!(view["info"]["status_code"], "3");
    assert_eq!(view["flow_process"]["current_step"], "bad");
    assert_eq!(view["data_record"], json!({"keep": 1}));
    let log = step_log(&app, &failing).await;
    assert_eq!(
        log,
        [(
            "bad".to_owned(),
            "error".to_owned(),
            Some("jq: \"boom\"".to_owned())
        )]
    );

    let view = wait_for(&app, &retried, &["2", "3"]).await;
    assert_eq!(view["info"]["status_code"], "3");
    let outcomes: Vec<String> = step_log(&app, &retried)
        .await
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "error"]);
    assert_eq!(view["flow_process"]["num_runs"], "3");
    scheduler.shutdown().await;
}

#[tokio::test]
async fn delays_schedule_the_record_and_move_to_flow_continues_elsewhere() {
    let app = spawn_app().await;
    publish_flow(
        &app,
        json!({
            "name": "target", "start": "mark",
            "steps": {
                "mark": {"type": "set", "fields": {"moved": "yes"}, "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    publish_flow(
        &app,
        json!({
            "name": "waiting", "start": "wait",
            "steps": {
                "wait": {"type": "delay", "seconds": 1.5, "next": "go"},
                "go": {"type": "move_to_flow", "flow": "target"}
            }
        }),
    )
    .await;
    let scheduler = start_scheduler(&app);
    let uuid = push_one(&app, "waiting", &json!({})).await;
    let scheduled = wait_for(&app, &uuid, &["4"]).await;
    assert_eq!(scheduled["flow_process"]["current_step"], "go");
    assert_ne!(scheduled["flow_process"]["date_next_run"], "");
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["info"]["flow_name"], "target");
    assert_eq!(view["data_record"]["moved"], "yes");
    assert_eq!(view["flow_process"]["num_runs"], "3");
    scheduler.shutdown().await;
}

#[tokio::test]
async fn paused_records_wait_and_records_keep_their_version() {
    let app = spawn_app().await;
    let flow_id = publish_flow(
        &app,
        json!({
            "name": "versioned", "start": "mark",
            "steps": {"mark": {"type": "set", "fields": {"v": "1"}, "next": "done"},
                      "done": {"type": "end"}}
        }),
    )
    .await;
    let paused = push_one(&app, "versioned", &json!({})).await;
    let old = push_one(&app, "versioned", &json!({})).await;
    let response = app
        .request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", "pause-queue")
        .header("X-Queue-Uuids", &paused)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let draft = app
        .request(Method::PUT, "/v1/flowdiagram")
        .header("X-Flow", "versioned")
        .json(&json!({
            "name": "versioned", "start": "mark",
            "steps": {"mark": {"type": "set", "fields": {"v": "2"}, "next": "done"},
                      "done": {"type": "end"}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 200, "{}", body(draft).await);
    let published = app
        .request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "public")
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let new = push_one(&app, "versioned", &json!({})).await;

    let scheduler = start_scheduler(&app);
    assert_eq!(wait_for(&app, &old, &["2"]).await["data_record"]["v"], "1");
    assert_eq!(wait_for(&app, &new, &["2"]).await["data_record"]["v"], "2");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = record(&app, &paused).await;
    assert_eq!(still["info"]["status"], "Paused", "{still}");
    assert_eq!(still["flow_process"]["num_runs"], "0");
    let response = app
        .request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", "resume-queue")
        .header("X-Queue-Uuids", &paused)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let resumed = wait_for(&app, &paused, &["2"]).await;
    assert_eq!(resumed["data_record"]["v"], "1");
    assert_eq!(resumed["info"]["flow_version"], "1");
    scheduler.shutdown().await;
}

#[tokio::test]
async fn a_record_rescued_too_often_fails_with_a_clear_error() {
    let app = spawn_app().await;
    publish_flow(
        &app,
        json!({
            "name": "plain", "start": "done", "steps": {"done": {"type": "end"}}
        }),
    )
    .await;
    let uuid = push_one(&app, "plain", &json!({})).await;
    // As if five workers had died running it: an expired lease, five claims.
    sqlx::query(
        "UPDATE record_queue SET lease_owner = gen_random_uuid(), \
         lease_until = now() - interval '1 second', attempts = 5",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let scheduler = start_scheduler(&app);
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;
    assert_eq!(view["info"]["status_code"], "3");
    let log = step_log(&app, &uuid).await;
    assert!(
        log[0]
            .2
            .as_deref()
            .is_some_and(|error| error.contains("claimed 5 times")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_flow_cannot_touch_another_organizations_keystore_or_table() {
    let app = spawn_app().await;
    let other = create_org(&app.pool, "Other").await;
    let other_app = create_app(&app.pool, &other, application("theirs")).await;
    define_keystore(&app, &other, &other_app, "secret").await;
    define_table(&app, &other, &other_app, "vault").await;
    publish_flow(
        &app,
        json!({
            "name": "thief", "start": "steal",
            "steps": {
                "steal": {"type": "keystore.put", "keystore": "secret", "key": "k",
                          "value": {"stolen": true}, "next": "raid"},
                "raid": {"type": "table.insert", "table": "vault",
                         "columns": {"name": "x", "qty": "1"}, "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    publish_flow(
        &app,
        json!({
            "name": "raider", "start": "raid",
            "steps": {
                "raid": {"type": "table.insert", "table": "vault",
                         "columns": {"name": "x", "qty": "1"}, "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    let scheduler = start_scheduler(&app);
    let thief = push_one(&app, "thief", &json!({})).await;
    let raider = push_one(&app, "raider", &json!({})).await;
    let view = wait_for(&app, &thief, &["2", "3"]).await;
    assert_eq!(view["info"]["status_code"], "3");
    assert_eq!(
        step_log(&app, &thief).await[0].2.as_deref(),
        Some("Keystore 'secret' does not exist")
    );
    assert_eq!(
        wait_for(&app, &raider, &["2", "3"]).await["info"]["status_code"],
        "3"
    );
    scheduler.shutdown().await;
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM keystore_entries").await,
        0
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM flowline_tables.tbl_1")
        .fetch_one(&app.pool)
        .await
        .unwrap_or(0);
    assert_eq!(rows, 0);
}
