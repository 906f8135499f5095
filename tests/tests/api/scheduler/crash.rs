//! A real `flowline worker` child process is SIGKILLed in the middle of its runs; another
//! worker finishes the rest. Every record ends finished, and its internal effects (a table
//! row) exist exactly once: a killed run's transaction left nothing behind.

use super::*;
use serde_json::json;
use std::process::{Child, Command, Stdio};

const RECORDS: usize = 400;

fn worker(app: &TestApp) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowline-under-test"))
        .arg("worker")
        .arg("--workers")
        .arg("4")
        .env("DATABASE_URL", app.database_url())
        .env("FLOWLINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowline worker starts")
}

async fn finished(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM records WHERE status = 2").await
}

#[tokio::test]
async fn a_killed_worker_loses_no_record_and_duplicates_no_effect() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/tabledefs")
        .json(&json!({"name": "orders", "columns": [
            {"name": "name", "type": "string"}, {"name": "qty", "type": "integer"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    publish_flow(
        &app,
        json!({
            "name": "orders", "start": "name",
            "steps": {
                "name": {"type": "set", "fields": {"label": "order-{{ record.n }}"},
                         "next": "double"},
                "double": {"type": "transform", "jq": ".qty = .n * 2", "next": "insert"},
                "insert": {"type": "table.insert", "table": "orders",
                           "columns": {"name": "{{ record.label }}", "qty": "{{ record.qty }}"},
                           "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    let records: Vec<Value> = (0..RECORDS).map(|n| json!({"n": n})).collect();
    push_record(&app, "orders", &Value::Array(records)).await;

    let mut first = worker(&app);
    let started = std::time::Instant::now();
    loop {
        let done = finished(&app).await;
        if done >= 20 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first worker finished only {done} records"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL: no graceful shutdown, leases left behind, transactions cut off.
    first.kill().unwrap();
    first.wait().unwrap();
    let done_at_kill = finished(&app).await;
    assert!(
        done_at_kill < RECORDS as i64,
        "the worker finished everything before it was killed"
    );
    // As if the dead worker's leases had run out (60 s), without waiting for them.
    sqlx::query(
        "UPDATE record_queue SET lease_until = now() - interval '1 second' \
                 WHERE lease_until IS NOT NULL",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let mut second = worker(&app);
    let started = std::time::Instant::now();
    while count_rows(&app, "SELECT count(*) FROM record_queue").await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the second worker did not finish the queue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();

    assert_eq!(
        finished(&app).await,
        RECORDS as i64,
        "a record was lost or failed"
    );
    let table_id: i64 =
        sqlx::query_scalar("SELECT table_id FROM data_tables WHERE name = 'orders'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // The table's id comes from the database, not from input: a safe identifier.
    let query = format!("SELECT count(*), count(DISTINCT c_1) FROM flowline_tables.tbl_{table_id}");
    let (rows, distinct): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(distinct, RECORDS as i64, "a row is missing");
    assert_eq!(rows, RECORDS as i64, "a record's row was inserted twice");
    let runs: i64 = count_rows(&app, "SELECT coalesce(sum(num_runs), 0) FROM records").await;
    assert_eq!(runs, RECORDS as i64, "a run committed twice");
}
