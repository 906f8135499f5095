//! The `http` step against a local server on 127.0.0.1 (allow-listed, except where the test is
//! the refusal): the response saved for later steps, retries with a new idempotency key per
//! attempt, timeouts, status 1 while the call is in flight, and refused internal addresses.

use super::*;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// What the local server received: (path, headers).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, HeaderMap)>>>);

impl Seen {
    fn push(&self, path: &str, headers: HeaderMap) -> usize {
        let mut seen = self.0.lock().unwrap();
        seen.push((path.to_owned(), headers));
        seen.iter().filter(|(seen, _)| seen == path).count()
    }

    fn of(&self, path: &str) -> Vec<HeaderMap> {
        let seen = self.0.lock().unwrap();
        seen.iter()
            .filter(|(seen, _)| seen == path)
            .map(|(_, headers)| headers.clone())
            .collect()
    }
}

async fn greet(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    seen.push("/greet", headers);
    let name = body["name"].as_str().unwrap_or_default();
    Json(json!({"greeting": format!("hello {name}")})).into_response()
}

async fn flaky(State(seen): State<Seen>, headers: HeaderMap) -> Response {
    if seen.push("/flaky", headers) == 1 {
        (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response()
    } else {
        "fine".into_response()
    }
}

async fn slow(State(seen): State<Seen>, headers: HeaderMap) -> Response {
    seen.push("/slow", headers);
    tokio::time::sleep(Duration::from_secs(3)).await;
    "late".into_response()
}

async fn to_private(State(seen): State<Seen>, headers: HeaderMap) -> Response {
    seen.push("/to-private", headers);
    Redirect::temporary("http://10.0.0.1/").into_response()
}

/// Serves the routes above on 127.0.0.1; the base URL and what the server saw.
async fn serve_target() -> (String, Seen) {
    let seen = Seen::default();
    let router = axum::Router::new()
        .route("/greet", post(greet))
        .route("/flaky", get(flaky))
        .route("/slow", get(slow))
        .route("/to-private", get(to_private))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{address}"), seen)
}

/// A scheduler whose `http` steps may call 127.0.0.1 (only).
fn start_scheduler_allowing_loopback(app: &TestApp) -> Scheduler {
    Scheduler::start(app.pool.clone(), allowing_loopback())
}

fn allowing_loopback() -> SchedulerConfig {
    let mut config = SchedulerConfig::new(2);
    config.poll = Duration::from_millis(200);
    config.http_allow = vec!["127.0.0.1/32".parse().unwrap()];
    config
}

fn call_flow(name: &str, call: Value) -> Value {
    json!({
        "name": name, "start": "call",
        "steps": {
            "call": call,
            "use": {"type": "set", "fields": {
                "greeting": "{{ steps.reply.body.greeting }}",
                "code": "{{ steps.reply.status }}",
                "text": "{{ steps.reply.body }}"}, "next": "done"},
            "done": {"type": "end"}
        }
    })
}

fn is_key(value: Option<&axum::http::HeaderValue>) -> String {
    let key = value.unwrap().to_str().unwrap().to_owned();
    assert_eq!(key.len(), 32, "{key}");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    key
}

#[tokio::test]
async fn the_response_is_saved_for_later_steps() {
    let app = spawn_app().await;
    let (base, seen) = serve_target().await;
    publish_flow(
        &app,
        call_flow(
            "greeter",
            json!({"type": "http", "method": "POST", "url": format!("{base}/greet"),
                   "headers": {"X-Name": "{{ record.name }}"},
                   "body": {"name": "{{ record.name }}"}, "save_as": "reply", "next": "use"}),
        ),
    )
    .await;
    let scheduler = start_scheduler_allowing_loopback(&app);
    let uuid = push_one(&app, "greeter", &json!({"name": "ann"})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["data_record"]["greeting"], "hello ann", "{view}");
    assert_eq!(view["data_record"]["code"], 200);
    assert_eq!(view["flow_process"]["current_step"], "done");
    assert_eq!(view["flow_process"]["num_runs"], "1");
    let calls = seen.of("/greet");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["x-name"], "ann");
    assert_eq!(calls[0]["content-type"], "application/json");
    is_key(calls[0].get("idempotency-key"));
    let log = step_log(&app, &uuid).await;
    let steps: Vec<(&str, &str)> = log.iter().map(|e| (e.0.as_str(), e.1.as_str())).collect();
    assert_eq!(steps, [("call", "ok"), ("use", "ok"), ("done", "ok")]);
    let history: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM record_history WHERE uuid = $1::uuid ORDER BY entry_id",
    )
    .bind(&uuid)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(history, ["finished"]);
}

#[tokio::test]
async fn a_failed_call_is_retried_with_a_new_idempotency_key() {
    let app = spawn_app().await;
    let (base, seen) = serve_target().await;
    publish_flow(
        &app,
        call_flow(
            "flaky",
            json!({"type": "http", "method": "GET", "url": format!("{base}/flaky"),
                   "save_as": "reply", "next": "use",
                   "retry": {"max": 2, "backoff": "exponential", "initial_ms": 50}}),
        ),
    )
    .await;
    let scheduler = start_scheduler_allowing_loopback(&app);
    let uuid = push_one(&app, "flaky", &json!({})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["data_record"]["text"], "fine", "{view}");
    let log = step_log(&app, &uuid).await;
    assert_eq!(log[0].0, "call");
    assert_eq!(log[0].1, "retry");
    assert!(log[0].2.as_deref().unwrap().contains("500"), "{log:?}");
    assert_eq!((log[1].0.as_str(), log[1].1.as_str()), ("call", "ok"));
    let calls = seen.of("/flaky");
    assert_eq!(calls.len(), 2);
    let first = is_key(calls[0].get("idempotency-key"));
    let second = is_key(calls[1].get("idempotency-key"));
    assert_ne!(first, second, "each attempt has its own key");
}

#[tokio::test]
async fn a_slow_call_times_out_and_the_record_shows_processing_meanwhile() {
    let app = spawn_app().await;
    let (base, seen) = serve_target().await;
    publish_flow(
        &app,
        call_flow(
            "slow",
            json!({"type": "http", "method": "GET", "url": format!("{base}/slow"),
                   "timeout_ms": 1500, "save_as": "reply", "next": "use"}),
        ),
    )
    .await;
    // A lease much shorter than the call: only the heartbeat keeps a second worker from
    // taking the record over and calling again.
    let mut config = allowing_loopback();
    config.lease = Duration::from_millis(400);
    let scheduler = Scheduler::start(app.pool.clone(), config);
    let uuid = push_one(&app, "slow", &json!({})).await;
    let during = wait_for(&app, &uuid, &["1"]).await;
    assert_eq!(during["flow_process"]["current_step"], "call", "{during}");
    // The call runs outside any transaction: the record is not locked meanwhile.
    let locked: Vec<i64> =
        sqlx::query_scalar("SELECT record_id FROM records WHERE uuid = $1::uuid FOR UPDATE NOWAIT")
            .bind(&uuid)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(locked.len(), 1);
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "3", "{view}");
    let log = step_log(&app, &uuid).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].1, "error");
    assert!(
        log[0].2.as_deref().unwrap().contains("within 1500 ms"),
        "{log:?}"
    );
    assert_eq!(
        seen.of("/slow").len(),
        1,
        "the record was taken over mid-call"
    );
    assert!(view["data_record"].get("greeting").is_none());
}

#[tokio::test]
async fn internal_addresses_are_refused_unless_allow_listed() {
    let app = spawn_app().await;
    let (base, seen) = serve_target().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    for (name, url) in [
        ("literal", format!("{base}/greet")),
        ("named", format!("http://localhost:{port}/greet")),
        ("mapped", format!("http://[::ffff:127.0.0.1]:{port}/greet")),
    ] {
        publish_flow(
            &app,
            call_flow(
                name,
                json!({"type": "http", "method": "POST", "url": url,
                       "body": {"name": "x"}, "save_as": "reply", "next": "use"}),
            ),
        )
        .await;
    }
    publish_flow(
        &app,
        call_flow(
            "redirected",
            json!({"type": "http", "method": "GET", "url": format!("{base}/to-private"),
                   "save_as": "reply", "next": "use"}),
        ),
    )
    .await;
    // No allow-list: nothing internal may be called.
    let scheduler = start_scheduler(&app);
    for name in ["literal", "named", "mapped"] {
        let uuid = push_one(&app, name, &json!({})).await;
        let view = wait_for(&app, &uuid, &["2", "3"]).await;
        assert_eq!(view["info"]["status_code"], "3", "{name}: {view}");
        let log = step_log(&app, &uuid).await;
        let error = log[0].2.clone().unwrap_or_default();
        assert!(
            error.contains("refused to call") && error.contains("FLOWLINE_HTTP_ALLOW"),
            "{name}: {log:?}"
        );
    }
    scheduler.shutdown().await;
    assert!(
        seen.of("/greet").is_empty(),
        "a refused call reached the server"
    );

    // 127.0.0.1 allowed: a redirect from there to another private address is still refused.
    let scheduler = start_scheduler_allowing_loopback(&app);
    let uuid = push_one(&app, "redirected", &json!({})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;
    assert_eq!(view["info"]["status_code"], "3", "{view}");
    assert_eq!(seen.of("/to-private").len(), 1);
    let log = step_log(&app, &uuid).await;
    assert!(
        log[0].2.as_deref().unwrap_or_default().contains("10.0.0.1"),
        "{log:?}"
    );
}

/// Counts the calls in flight at once, for the concurrency test.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<(usize, usize)>>);

async fn busy(State(in_flight): State<InFlight>) -> Response {
    {
        let mut counts = in_flight.0.lock().unwrap();
        counts.0 += 1;
        counts.1 = counts.1.max(counts.0);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    in_flight.0.lock().unwrap().0 -= 1;
    "done".into_response()
}

/// Runs 4 records of a flow whose one step is a 150 ms call, with the flow's `concurrency` and
/// the environment's quota of records in flight; the most calls seen at once.
async fn most_at_once(concurrency: Option<u32>, environment_quota: Option<i32>) -> usize {
    let app = spawn_app().await;
    if let Some(quota) = environment_quota {
        sqlx::query("UPDATE environments SET max_concurrent_runs = $1")
            .bind(quota)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let in_flight = InFlight::default();
    let router = axum::Router::new()
        .route("/busy", get(busy))
        .with_state(in_flight.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut flow = json!({
        "name": "line", "start": "call",
        "steps": {
            "call": {"type": "http", "method": "GET", "url": format!("http://{address}/busy"),
                     "next": "done"},
            "done": {"type": "end"}
        }
    });
    if let Some(concurrency) = concurrency {
        flow["concurrency"] = json!(concurrency);
    }
    publish_flow(&app, flow).await;
    let mut uuids = Vec::new();
    for _ in 0..4 {
        uuids.push(push_one(&app, "line", &json!({})).await);
    }
    let mut config = allowing_loopback();
    config.workers = 4;
    let scheduler = Scheduler::start(app.pool.clone(), config);
    for uuid in &uuids {
        let view = wait_for(&app, uuid, &["2", "3"]).await;
        assert_eq!(view["info"]["status_code"], "2", "{view}");
    }
    scheduler.shutdown().await;
    in_flight.0.lock().unwrap().1
}

#[tokio::test]
async fn a_flow_with_concurrency_1_runs_its_records_one_at_a_time() {
    assert_eq!(most_at_once(Some(1), None).await, 1);
    assert!(most_at_once(Some(2), None).await <= 2);
    // Without a limit the same records overlap: the limit above is what kept them apart.
    assert!(most_at_once(None, None).await > 1);
}

#[tokio::test]
async fn an_environment_has_no_more_records_in_flight_than_its_package_allows() {
    assert_eq!(most_at_once(None, Some(1)).await, 1);
    assert!(most_at_once(None, Some(2)).await <= 2);
}
