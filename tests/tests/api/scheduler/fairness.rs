//! Fairness: an organization's backlog does not hold back another organization's records.

use super::*;
use serde_json::json;

async fn publish_as(
    app: &TestApp,
    org: &flowline_auth::CreatedOrganization,
    application: &flowline_auth::CreatedApplication,
    definition: Value,
) {
    let created = app
        .as_app(org, application, Method::POST, "/v1/flowdiagram")
        .json(&definition)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let flow_id = body(created).await["resource"]["flow_id"].as_i64().unwrap();
    let published = app
        .as_app(org, application, Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "public")
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
}

fn flow() -> Value {
    json!({
        "name": "work", "start": "mark",
        "steps": {
            "mark": {"type": "set", "fields": {"done": "yes"}, "next": "done"},
            "done": {"type": "end"}
        }
    })
}

#[tokio::test]
async fn a_backlog_of_one_organization_does_not_starve_another() {
    let app = spawn_app().await;
    let other = create_org(&app.pool, "Other").await;
    let other_app = create_app(&app.pool, &other, application("theirs")).await;
    publish_flow(&app, flow()).await;
    publish_as(&app, &other, &other_app, flow()).await;
    let backlog: Vec<Value> = (0..40).map(|n| json!({"n": n})).collect();
    push_record(&app, "work", &Value::Array(backlog)).await;
    for n in 0..3 {
        let response = app
            .as_app(&other, &other_app, Method::POST, "/v1/record")
            .header("X-Flow", "work")
            .json(&json!({"n": n}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // One worker running batches of one: one record per claim, so the order of claims is the
    // order of runs.
    let mut config = SchedulerConfig::new(1);
    config.batch = 1;
    config.poll = Duration::from_millis(200);
    let scheduler = Scheduler::start(app.pool.clone(), config);
    for _ in 0..200 {
        if count_rows(&app, "SELECT count(*) FROM record_queue").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.shutdown().await;
    let order: Vec<i64> = sqlx::query_scalar(
        "SELECT org_id FROM records WHERE status = 2 ORDER BY last_run_at, record_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(order.len(), 43, "every record finished");
    // The other organization is the one with 3 records.
    let theirs: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, org)| order.iter().filter(|o| o == org).count() == 3)
        .map(|(position, _)| position)
        .collect();
    assert_eq!(theirs.len(), 3, "{order:?}");
    // Pushed after the 40 others, they still ran among the first: claims alternate between
    // organizations (first of each before the second of any), ties broken at random.
    assert!(theirs.iter().all(|&position| position < 25), "{order:?}");
}
