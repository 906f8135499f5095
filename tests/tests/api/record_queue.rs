//! `PUT /v1/record/changestatus` and `PUT /v1/record/movetoflow`: queue actions and moves,
//! the reference's answers, every record reported, bad input, scopes and isolation.

use crate::record_search::{finish, push, search, two_step_flow, uuids};
use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, Response};
use serde_json::{Value, json};

const MOVED: &str =
    "Data Record is moved to a new flow successfully and it is included in the queue.";

/// A queue action naming the records in `X-Queue-Uuids`.
async fn change(app: &TestApp, action: &str, uuids: &str) -> Response {
    app.request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", action)
        .header("X-Queue-Uuids", uuids)
        .send()
        .await
        .unwrap()
}

/// A queue action naming the records in a JSON body.
async fn change_by_body(app: &TestApp, action: &str, uuids: &Value) -> Response {
    app.request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", action)
        .json(uuids)
        .send()
        .await
        .unwrap()
}

async fn move_to(app: &TestApp, flow: &str, uuids: &Value) -> Response {
    app.request(Method::PUT, "/v1/record/movetoflow")
        .header("X-MoveToFlow-Flow", flow)
        .json(uuids)
        .send()
        .await
        .unwrap()
}

/// Asserts a 200 in the long envelope; returns the body with `request-ip` checked and removed.
async fn ok(response: Response) -> Value {
    let status = response.status();
    let mut answer = body(response).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["request-ip"].is_string(), "{answer}");
    answer.as_object_mut().unwrap().remove("request-ip");
    answer
}

/// The long envelope around `resource`, without `request-ip`.
fn envelope(resource: Value, message: &str) -> Value {
    json!({"id": "ok", "code": 200, "resource": resource, "message": message, "error": null})
}

#[derive(Debug, PartialEq)]
struct Stored {
    status: i16,
    current_step: Option<String>,
    flow_id: i64,
    flow_version: i32,
    num_runs: i32,
    next_run_at: Option<DateTime<Utc>>,
    /// (paused, next_run_at, flow_id) of its queue entry.
    queue: Option<(bool, DateTime<Utc>, i64)>,
}

async fn stored(app: &TestApp, uuid: &str) -> Stored {
    let (status, current_step, flow_id, flow_version, num_runs, next_run_at): (
        i16,
        Option<String>,
        i64,
        i32,
        i32,
        Option<DateTime<Utc>>,
    ) = sqlx::query_as(
        "SELECT status, current_step, flow_id, flow_version, num_runs, next_run_at \
         FROM records WHERE uuid = $1::uuid",
    )
    .bind(uuid)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let queue = sqlx::query_as(
        "SELECT q.paused, q.next_run_at, q.flow_id FROM record_queue q JOIN records r \
         ON r.org_id = q.org_id AND r.record_id = q.record_id WHERE r.uuid = $1::uuid",
    )
    .bind(uuid)
    .fetch_optional(&app.pool)
    .await
    .unwrap();
    Stored {
        status,
        current_step,
        flow_id,
        flow_version,
        num_runs,
        next_run_at,
        queue,
    }
}

async fn history(app: &TestApp, uuid: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT action, detail FROM record_history WHERE uuid = $1::uuid ORDER BY entry_id",
    )
    .bind(uuid)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn push_scheduled(app: &TestApp, flow: &str, at: DateTime<Utc>) -> String {
    let response = app
        .request(Method::POST, "/v1/record")
        .header("X-Flow", flow)
        .header("X-Executiontime", at.to_rfc3339())
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let created = body(response).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["resource"]["status"], "4", "{created}");
    created["resource"]["uuid"].as_str().unwrap().to_owned()
}

fn one(uuid: &str, code: &str, key: &str) -> Value {
    json!({"records": [{"uuid": uuid, "queue_status": code, "queue_status_key": key}], "total": 1})
}

#[tokio::test]
async fn resume_and_continue_answers_as_the_reference_does() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"client": {"age": 12}})).await;
    finish(&app, &uuid, 3, "check", 1).await;

    let answer = ok(change(&app, "resume-and-continue", &uuid).await).await;
    assert_eq!(
        answer,
        envelope(
            one(&uuid, "0", "New"),
            "1 datarecords resumed from error status"
        )
    );
    let after = stored(&app, &uuid).await;
    assert_eq!(after.status, 0);
    assert_eq!(
        after.current_step.as_deref(),
        Some("check"),
        "it continues where it stopped"
    );
    assert_eq!(after.num_runs, 1);
    let (paused, due, _) = after.queue.expect("back in the queue");
    assert!(!paused && due <= Utc::now());
    let changes = history(&app, &uuid).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, "resumed_after_errors");
    assert_eq!(
        changes[0].1,
        json!({"queue_action": "resume-and-continue", "from_status": 3, "to_status": 0})
    );
    let app_id: Option<i64> =
        sqlx::query_scalar("SELECT app_id FROM record_history WHERE uuid = $1::uuid")
            .bind(&uuid)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(app_id.is_some(), "the history names the application");

    // Only a record that finished with errors can resume and continue.
    let again = ok(change(&app, "resume-and-continue", &uuid).await).await;
    assert_eq!(again["message"], "0 datarecords resumed from error status");
    assert_eq!(
        again["resource"]["records"][0]["message"],
        "Data record did not finish with errors (its status is New)"
    );
    assert_eq!(again["resource"]["records"][0]["queue_status"], "0");
}

#[tokio::test]
async fn pause_resume_and_execute_a_scheduled_record() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let later = Utc::now() + Duration::hours(2);
    let uuid = push_scheduled(&app, "onboarding", later).await;

    let paused = ok(change(&app, "pause-queue", &uuid).await).await;
    assert_eq!(
        paused,
        envelope(one(&uuid, "0", "New"), "1 datarecords paused")
    );
    let after = stored(&app, &uuid).await;
    assert_eq!(after.status, 0);
    let (is_paused, due, _) = after.queue.unwrap();
    assert!(is_paused);
    assert!(due > Utc::now(), "pausing keeps the execution time");
    let found = search(&app, &[("X-uuid", &uuid)], &[]).await;
    assert_eq!(found["records"][0]["queue_status"], "paused");

    let twice = ok(change(&app, "pause-queue", &uuid).await).await;
    assert_eq!(twice["message"], "0 datarecords paused");
    assert_eq!(
        twice["resource"]["records"][0],
        json!({"uuid": uuid, "queue_status": "0", "queue_status_key": "New",
               "message": "Data record is already paused"})
    );

    let resumed = ok(change(&app, "Resume-Queue", &uuid).await).await;
    assert_eq!(
        resumed,
        envelope(one(&uuid, "4", "Scheduled"), "1 datarecords resumed")
    );
    let after = stored(&app, &uuid).await;
    assert_eq!(after.status, 4);
    assert!(!after.queue.unwrap().0);
    assert!(after.next_run_at.is_some_and(|at| at > Utc::now()));
    let found = search(&app, &[("X-uuid", &uuid)], &[]).await;
    assert_eq!(found["records"][0]["queue_status"], "scheduled");
    let not_paused = ok(change(&app, "resume-queue", &uuid).await).await;
    assert_eq!(
        not_paused["resource"]["records"][0]["message"],
        "Data record is not paused"
    );

    let executed = ok(change(&app, "execute-queue", &uuid).await).await;
    assert_eq!(
        executed,
        envelope(one(&uuid, "0", "New"), "1 datarecords queued to run now")
    );
    let after = stored(&app, &uuid).await;
    assert_eq!(after.status, 0);
    assert_eq!(after.next_run_at, None);
    let (is_paused, due, _) = after.queue.unwrap();
    assert!(!is_paused && due <= Utc::now());
    let found = search(&app, &[("X-uuid", &uuid)], &[]).await;
    assert_eq!(found["records"][0]["queue_status"], "queued");
    let again = ok(change(&app, "execute-queue", &uuid).await).await;
    assert_eq!(again["message"], "0 datarecords queued to run now");
    assert_eq!(
        again["resource"]["records"][0]["message"],
        "Data record is already due to run"
    );

    // A paused record can be run now too, and resuming a paused record that is due makes it
    // new (0), not scheduled.
    ok(change(&app, "pause-queue", &uuid).await).await;
    let resumed = ok(change(&app, "resume-queue", &uuid).await).await;
    assert_eq!(resumed["resource"], one(&uuid, "0", "New"));
    ok(change(&app, "pause-queue", &uuid).await).await;
    let executed = ok(change(&app, "execute-queue", &uuid).await).await;
    assert_eq!(executed["message"], "1 datarecords queued to run now");
    assert!(!stored(&app, &uuid).await.queue.unwrap().0);

    let actions: Vec<String> = history(&app, &uuid)
        .await
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert_eq!(
        actions,
        [
            "paused", "resumed", "executed", "paused", "resumed", "paused", "executed"
        ]
    );
}

#[tokio::test]
async fn delete_from_queue_reviews_or_handles_errors() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let queued = push(&app, "onboarding", &json!({"a": 1})).await;
    let failed = push(&app, "onboarding", &json!({"a": 2})).await;
    finish(&app, &failed, 3, "check", 1).await;
    let finished = push(&app, "onboarding", &json!({"a": 3})).await;
    finish(&app, &finished, 2, "done", 1).await;

    let answer = ok(change_by_body(
        &app,
        "delete-from-queue",
        &json!([queued, failed, finished]),
    )
    .await)
    .await;
    assert_eq!(
        answer,
        envelope(
            json!({"records": [
                {"uuid": queued, "queue_status": "5", "queue_status_key": "Reviewed"},
                {"uuid": failed, "queue_status": "6", "queue_status_key": "Errors handled"},
                {"uuid": finished, "queue_status": "2", "queue_status_key": "Finished",
                 "message": "Data record is not in the queue"},
            ], "total": 3}),
            "2 datarecords deleted from the queue"
        )
    );
    assert_eq!(stored(&app, &queued).await.status, 5);
    assert_eq!(stored(&app, &queued).await.queue, None);
    assert_eq!(stored(&app, &failed).await.status, 6);
    assert_eq!(stored(&app, &finished).await.status, 2);
    let found = search(&app, &[("X-uuid", &queued)], &[]).await;
    assert_eq!(found["records"][0]["queue_status"], "");

    let pause = ok(change(&app, "pause-queue", &queued).await).await;
    assert_eq!(
        pause["resource"]["records"][0]["message"],
        "Data record is not in the queue"
    );
    // The uuids may come as XML items too.
    let by_xml = app
        .request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", "delete-from-queue")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body(format!(
            "<uuids><item>{queued}</item><item>{failed}</item></uuids>"
        ))
        .send()
        .await
        .unwrap();
    let by_xml = ok(by_xml).await;
    assert_eq!(by_xml["resource"]["total"], 2, "{by_xml}");
    assert_eq!(by_xml["message"], "0 datarecords deleted from the queue");
}

#[tokio::test]
async fn every_record_named_is_answered() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let queued = push(&app, "onboarding", &json!({"a": 1})).await;
    let finished = push(&app, "onboarding", &json!({"a": 2})).await;
    finish(&app, &finished, 2, "done", 1).await;
    let processing = push(&app, "onboarding", &json!({"a": 3})).await;
    sqlx::query("UPDATE records SET status = 1 WHERE uuid = $1::uuid")
        .bind(&processing)
        .execute(&app.pool)
        .await
        .unwrap();
    let leased = push(&app, "onboarding", &json!({"a": 4})).await;
    sqlx::query(
        "UPDATE record_queue q SET lease_owner = gen_random_uuid(), \
         lease_until = now() + interval '1 minute' FROM records r \
         WHERE r.org_id = q.org_id AND r.record_id = q.record_id AND r.uuid = $1::uuid",
    )
    .bind(&leased)
    .execute(&app.pool)
    .await
    .unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();

    let named = format!("{queued}, {finished},{processing} ,{leased},{unknown},{queued}");
    let answer = ok(change(&app, "pause-queue", &named).await).await;
    assert_eq!(
        answer,
        envelope(
            json!({"records": [
                {"uuid": queued, "queue_status": "0", "queue_status_key": "New"},
                {"uuid": finished, "queue_status": "2", "queue_status_key": "Finished",
                 "message": "Data record is not in the queue"},
                {"uuid": processing, "queue_status": "1", "queue_status_key": "Processing",
                 "message": "Data record is being processed"},
                {"uuid": leased, "queue_status": "0", "queue_status_key": "New",
                 "message": "Data record is being processed"},
                {"uuid": unknown, "queue_status": "", "queue_status_key": "",
                 "message": "Data record does not exist"},
            ], "total": 5}),
            "1 datarecords paused"
        )
    );
    for action in ["execute-queue", "delete-from-queue", "resume-and-continue"] {
        let answer = ok(change(&app, action, &format!("{processing},{leased}")).await).await;
        assert_eq!(
            answer["message"].as_str().unwrap().split(' ').next(),
            Some("0")
        );
        for record in answer["resource"]["records"].as_array().unwrap() {
            assert_eq!(
                record["message"], "Data record is being processed",
                "{action}"
            );
        }
    }
    assert!(stored(&app, &leased).await.queue.is_some());

    // A queue entry that another transaction (a worker claiming it) holds is being processed:
    // the action does not wait for it.
    let other = push(&app, "onboarding", &json!({"a": 5})).await;
    let mut claim = app.pool.begin().await.unwrap();
    sqlx::query(
        "SELECT 1 FROM record_queue q JOIN records r ON r.org_id = q.org_id \
         AND r.record_id = q.record_id WHERE r.uuid = $1::uuid FOR UPDATE OF q",
    )
    .bind(&other)
    .execute(&mut *claim)
    .await
    .unwrap();
    let answer = ok(change(&app, "pause-queue", &other).await).await;
    assert_eq!(
        answer["resource"]["records"][0]["message"],
        "Data record is being processed"
    );
    claim.rollback().await.unwrap();
    let answer = ok(change(&app, "pause-queue", &other).await).await;
    assert_eq!(answer["message"], "1 datarecords paused");
}

#[tokio::test]
async fn bad_queue_requests_are_refused_naming_the_input() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"a": 1})).await;

    let without_action = app
        .request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Uuids", &uuid)
        .send()
        .await
        .unwrap();
    assert_error(without_action, 400, 400, "X-Queue-Status: is required").await;
    assert_error(
        change(&app, "stop-queue", &uuid).await,
        400,
        400,
        "X-Queue-Status: 'stop-queue' is not one of pause-queue, resume-queue",
    )
    .await;
    assert_error(
        change(&app, "pause-queue", &format!("{uuid},abc")).await,
        400,
        400,
        "X-Queue-Uuids: 'abc' is not a valid uuid",
    )
    .await;
    assert_error(
        change(&app, "pause-queue", " , ").await,
        400,
        400,
        "X-Queue-Uuids: must name at least one",
    )
    .await;
    assert_error(
        change_by_body(&app, "pause-queue", &json!([uuid, "nope"])).await,
        400,
        400,
        "body[1]: 'nope' is not a valid uuid",
    )
    .await;
    assert_error(
        change_by_body(&app, "pause-queue", &json!([7])).await,
        400,
        400,
        "body[0]: must be a uuid string",
    )
    .await;
    assert_error(
        change_by_body(&app, "pause-queue", &json!({"uuids": [uuid]})).await,
        400,
        400,
        "body: must be a JSON array of uuids",
    )
    .await;
    assert_error(
        change_by_body(&app, "pause-queue", &json!([])).await,
        400,
        400,
        "body: must name at least one",
    )
    .await;
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    assert_error(
        change_by_body(&app, "pause-queue", &json!(many)).await,
        400,
        400,
        "body: names more than 1000",
    )
    .await;
    let nothing = app
        .request(Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", "pause-queue")
        .send()
        .await
        .unwrap();
    assert_error(nothing, 400, 400, "X-Queue-Uuids: is required").await;

    let without_flow = app
        .request(Method::PUT, "/v1/record/movetoflow")
        .json(&json!([uuid]))
        .send()
        .await
        .unwrap();
    assert_error(without_flow, 400, 400, "X-MoveToFlow-Flow: is required").await;
    let without_body = app
        .request(Method::PUT, "/v1/record/movetoflow")
        .header("X-MoveToFlow-Flow", "onboarding")
        .send()
        .await
        .unwrap();
    assert_error(without_body, 400, 400, "body: is required").await;
    assert_error(
        move_to(&app, "onboarding", &json!(uuid)).await,
        400,
        400,
        "body: must be a JSON array of uuids",
    )
    .await;
    assert_error(
        move_to(&app, "onboarding", &json!(["x"])).await,
        400,
        400,
        "body[0]: 'x' is not a valid uuid",
    )
    .await;
    // Nothing changed.
    assert_eq!(stored(&app, &uuid).await.status, 0);
    assert!(!stored(&app, &uuid).await.queue.unwrap().0);
    assert!(history(&app, &uuid).await.is_empty());
}

#[tokio::test]
async fn move_to_flow_answers_as_the_reference_does() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let billing = publish_flow(&app, two_step_flow("billing")).await;
    let first = push(&app, "onboarding", &json!({"a": 1})).await;
    let second = push(&app, "onboarding", &json!({"a": 2})).await;

    let answer = ok(move_to(&app, "billing", &json!([first, second])).await).await;
    assert_eq!(
        answer,
        envelope(
            json!({"records": [
                {"uuid": first, "message": MOVED, "movetoflow": "billing"},
                {"uuid": second, "message": MOVED, "movetoflow": "billing"},
            ], "total": 2}),
            "2 flows moved to the new one"
        )
    );
    for uuid in [first.as_str(), second.as_str()] {
        let after = stored(&app, uuid).await;
        assert_eq!(
            (after.flow_id, after.flow_version, after.status),
            (billing, 1, 0)
        );
        assert_eq!(after.queue.unwrap().2, billing);
    }
    let found = search(&app, &[("X-flow", "billing")], &[]).await;
    assert_eq!(uuids(&found), [second.as_str(), first.as_str()]);
}

#[tokio::test]
async fn moved_records_restart_and_the_others_are_reported() {
    let app = spawn_app().await;
    let onboarding = publish_flow(&app, two_step_flow("onboarding")).await;
    let billing = publish_flow(&app, two_step_flow("billing")).await;
    let finished = push(&app, "onboarding", &json!({"a": 1})).await;
    finish(&app, &finished, 2, "done", 2).await;
    let paused = push(&app, "onboarding", &json!({"a": 2})).await;
    ok(change(&app, "pause-queue", &paused).await).await;
    let processing = push(&app, "onboarding", &json!({"a": 3})).await;
    sqlx::query("UPDATE records SET status = 1, current_step = 'check' WHERE uuid = $1::uuid")
        .bind(&processing)
        .execute(&app.pool)
        .await
        .unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();

    let answer = ok(move_to(
        &app,
        &billing.to_string(),
        &json!([finished, paused, processing, unknown]),
    )
    .await)
    .await;
    assert_eq!(answer["message"], "2 flows moved to the new one");
    assert_eq!(
        answer["resource"],
        json!({"records": [
            {"uuid": finished, "message": MOVED, "movetoflow": "billing"},
            {"uuid": paused, "message": MOVED, "movetoflow": "billing"},
            {"uuid": processing, "message": "Data record is being processed and cannot be moved",
             "movetoflow": ""},
            {"uuid": unknown, "message": "Data record does not exist", "movetoflow": ""},
        ], "total": 4})
    );

    let after = stored(&app, &finished).await;
    assert_eq!(after.flow_id, billing);
    assert_eq!(after.status, 0);
    assert_eq!(after.current_step, None, "it restarts from the start");
    assert_eq!(after.num_runs, 2, "its runs are kept");
    let (is_paused, due, queue_flow) = after.queue.expect("queued again");
    assert!(!is_paused && due <= Utc::now() && queue_flow == billing);
    let after = stored(&app, &paused).await;
    assert_eq!(after.queue.map(|(is_paused, ..)| is_paused), Some(false));
    let after = stored(&app, &processing).await;
    assert_eq!((after.flow_id, after.status), (onboarding, 1));
    let moves = history(&app, &finished).await;
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].0, "moved");
    assert_eq!(
        moves[0].1,
        json!({"from_flow_id": onboarding, "from_flow_version": 1, "from_status": 2,
               "to_flow_id": billing, "to_flow_version": 1})
    );
    assert!(history(&app, &processing).await.is_empty());
}

#[tokio::test]
async fn moving_to_an_unknown_draft_or_inactive_flow_is_refused() {
    let app = spawn_app().await;
    let onboarding = publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"a": 1})).await;
    assert_error(
        move_to(&app, "nope", &json!([uuid])).await,
        404,
        404,
        "'nope' does not exist",
    )
    .await;
    let draft = app
        .request(Method::POST, "/v1/flowdiagram")
        .json(&two_step_flow("draft"))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    assert_error(
        move_to(&app, "draft", &json!([uuid])).await,
        409,
        409,
        "never been published",
    )
    .await;
    let old = publish_flow(&app, two_step_flow("old")).await;
    let inactive = app
        .request(Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", old.to_string())
        .header("X-Status", "inactive")
        .send()
        .await
        .unwrap();
    assert_eq!(inactive.status(), 200);
    assert_error(
        move_to(&app, "old", &json!([uuid])).await,
        409,
        409,
        "inactive",
    )
    .await;
    assert_eq!(stored(&app, &uuid).await.flow_id, onboarding);
}

#[tokio::test]
async fn queue_actions_and_moves_need_the_record_scope() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"a": 1})).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "record.read"),
    )
    .await;
    let paused = app
        .as_app(&app.org, &reader, Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", "pause-queue")
        .header("X-Queue-Uuids", &uuid)
        .send()
        .await
        .unwrap();
    assert_error(paused, 403, 403, "'record'").await;
    let moved = app
        .as_app(&app.org, &reader, Method::PUT, "/v1/record/movetoflow")
        .header("X-MoveToFlow-Flow", "onboarding")
        .json(&json!([uuid]))
        .send()
        .await
        .unwrap();
    assert_error(moved, 403, 403, "'record'").await;
    let writer = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("writer"), "record"),
    )
    .await;
    let paused = app
        .as_app(&app.org, &writer, Method::PUT, "/v1/record/changestatus")
        .header("X-Queue-Status", "pause-queue")
        .header("X-Queue-Uuids", &uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(body(paused).await["message"], "1 datarecords paused");
}

#[tokio::test]
async fn another_organization_changes_nothing() {
    let app = spawn_app().await;
    publish_flow(&app, two_step_flow("onboarding")).await;
    let uuid = push(&app, "onboarding", &json!({"a": 1})).await;
    let other = create_org(&app.pool, "Globex").await;
    let other_app = create_app(&app.pool, &other, application("crm")).await;
    let before = stored(&app, &uuid).await;

    for action in ["pause-queue", "execute-queue", "delete-from-queue"] {
        let answer = ok(app
            .as_app(&other, &other_app, Method::PUT, "/v1/record/changestatus")
            .header("X-Queue-Status", action)
            .header("X-Queue-Uuids", &uuid)
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            answer["resource"]["records"][0]["message"],
            "Data record does not exist"
        );
    }
    // Its own flow of the same name is no way into this organization's records.
    let created = app
        .as_app(&other, &other_app, Method::POST, "/v1/flowdiagram")
        .json(&two_step_flow("onboarding"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let their_flow = body(created).await["resource"]["flow_id"].as_i64().unwrap();
    let published = app
        .as_app(&other, &other_app, Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", their_flow.to_string())
        .header("X-Status", "public")
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let moved = ok(app
        .as_app(&other, &other_app, Method::PUT, "/v1/record/movetoflow")
        .header("X-MoveToFlow-Flow", "onboarding")
        .json(&json!([uuid]))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(moved["message"], "0 flows moved to the new one");
    assert_eq!(
        moved["resource"]["records"][0],
        json!({"uuid": uuid, "message": "Data record does not exist", "movetoflow": ""})
    );
    assert_eq!(stored(&app, &uuid).await, before);
    assert!(history(&app, &uuid).await.is_empty());
}
