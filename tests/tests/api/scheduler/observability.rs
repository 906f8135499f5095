//! `GET /metrics` (admin token) and the step log's retention.

use super::*;
use serde_json::json;

async fn metrics(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("http://{}/metrics", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
}

#[tokio::test]
async fn metrics_count_runs_and_show_the_queue_to_the_admin_only() {
    let app = spawn_app().await;
    publish_flow(
        &app,
        json!({"name": "m", "start": "mark", "steps": {
            "mark": {"type": "set", "fields": {"x": "1"}, "next": "done"},
            "done": {"type": "end"}}}),
    )
    .await;
    push_one(&app, "m", &json!({})).await;
    let before = metrics(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(before.status(), 200);
    assert!(
        before.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let before = before.text().await.unwrap();
    assert_eq!(value(&before, "flowline_queue_depth"), 1.0, "{before}");
    assert_eq!(value(&before, "flowline_queue_due"), 1.0);
    let finished = value(&before, "flowline_scheduler_records_finished_total");

    let scheduler = start_scheduler(&app);
    let uuid = push_one(&app, "m", &json!({})).await;
    wait_for(&app, &uuid, &["2"]).await;
    for _ in 0..100 {
        if count_rows(&app, "SELECT count(*) FROM record_queue").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.shutdown().await;
    let after = metrics(&app, Some(ADMIN_TOKEN)).await.text().await.unwrap();
    assert_eq!(value(&after, "flowline_queue_depth"), 0.0, "{after}");
    // Other tests run schedulers in this process too: the counters only grow.
    assert!(value(&after, "flowline_scheduler_records_finished_total") >= finished + 2.0);
    assert!(value(&after, "flowline_scheduler_records_claimed_total") >= 2.0);
    assert!(
        value(
            &after,
            "flowline_scheduler_step_duration_seconds_bucket{le=\"+Inf\"}"
        ) >= 4.0
    );
    assert!(after.contains("# TYPE flowline_scheduler_lease_rescues_total counter"));

    for token in [None, Some("wrong")] {
        let refused = metrics(&app, token).await;
        assert_eq!(refused.status(), 401, "{token:?}");
        assert!(!refused.text().await.unwrap().contains("flowline_queue"));
    }
}

#[tokio::test]
async fn old_step_log_entries_are_pruned() {
    let app = spawn_app().await;
    publish_flow(
        &app,
        json!({"name": "p", "start": "done", "steps": {"done": {"type": "end"}}}),
    )
    .await;
    let old = push_one(&app, "p", &json!({})).await;
    let scheduler = start_scheduler(&app);
    wait_for(&app, &old, &["2"]).await;
    scheduler.shutdown().await;
    assert_eq!(step_log(&app, &old).await.len(), 1);
    sqlx::query(
        "UPDATE record_step_log SET started_at = now() - interval '2 hours', \
         finished_at = now() - interval '2 hours'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mut config = SchedulerConfig::new(1);
    config.poll = Duration::from_millis(200);
    config.step_log_retention = Some(Duration::from_secs(3600));
    let scheduler = Scheduler::start(app.pool.clone(), config);
    let fresh = push_one(&app, "p", &json!({})).await;
    wait_for(&app, &fresh, &["2"]).await;
    for _ in 0..100 {
        if step_log(&app, &old).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.shutdown().await;
    assert!(
        step_log(&app, &old).await.is_empty(),
        "the old entry stayed"
    );
    assert_eq!(step_log(&app, &fresh).await.len(), 1, "a recent entry went");
}
