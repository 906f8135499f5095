//! Batches: many records run in one transaction, their keystore and table writes grouped into
//! one statement each. A statement the database refuses for one record makes the batch run
//! again carefully, where only that record's step fails; outputs saved before a wait are
//! there after it.

use super::*;
use serde_json::json;

fn write_flow() -> Value {
    json!({
        "name": "writes", "start": "put",
        "steps": {
            "put": {"type": "keystore.put", "keystore": "kv", "key": "{{ record.key }}",
                    "value": {"name": "{{ record.name }}"}, "next": "insert"},
            "insert": {"type": "table.insert", "table": "orders",
                       "columns": {"name": "{{ record.name }}", "qty": "{{ record.qty }}"},
                       "save_as": "row", "next": "remember"},
            "remember": {"type": "set", "fields": {"row_id": "{{ steps.row.id }}"},
                         "next": "done"},
            "done": {"type": "end"}
        }
    })
}

/// One worker running batches of up to 64, so that records pushed together run together.
fn one_batch_worker(app: &TestApp) -> Scheduler {
    let mut config = SchedulerConfig::new(1);
    config.poll = Duration::from_millis(200);
    Scheduler::start(app.pool.clone(), config)
}

async fn wait_for_empty_queue(app: &TestApp) {
    for _ in 0..200 {
        if count_rows(app, "SELECT count(*) FROM record_queue").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the queue never emptied");
}

async fn statuses(app: &TestApp) -> Vec<(String, i16)> {
    sqlx::query_as("SELECT data->>'name', status FROM records ORDER BY record_id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn records_of_a_batch_share_one_transaction_and_one_statement_per_write() {
    let app = spawn_app().await;
    define_keystore(&app, &app.org, &app.app, "kv").await;
    define_table(&app, &app.org, &app.app, "orders").await;
    publish_flow(&app, write_flow()).await;
    // Every record writes the same key: the batch's one upsert keeps the last value.
    let records: Vec<Value> = (0..30)
        .map(|n| json!({"key": "same", "name": format!("r{n}"), "qty": n}))
        .collect();
    push_record(&app, "writes", &Value::Array(records)).await;
    let scheduler = one_batch_worker(&app);
    wait_for_empty_queue(&app).await;
    scheduler.shutdown().await;

    let statuses = statuses(&app).await;
    assert_eq!(statuses.len(), 30);
    assert!(
        statuses.iter().all(|(_, status)| *status == 2),
        "{statuses:?}"
    );
    // One transaction wrote them all: one xmin.
    let transactions = count_rows(
        &app,
        "SELECT count(DISTINCT xmin::text) FROM records WHERE status = 2",
    )
    .await;
    assert_eq!(transactions, 1);
    let table_rows = count_rows(&app, "SELECT count(*) FROM flowline_tables.tbl_1").await;
    assert_eq!(table_rows, 30, "one row per record, none twice");
    let entries: Vec<Value> = sqlx::query_scalar("SELECT document FROM keystore_entries")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let ids: Vec<Option<String>> =
        sqlx::query_scalar("SELECT data->>'row_id' FROM records ORDER BY record_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 30, "each record saved its own row: {ids:?}");
}

#[tokio::test]
async fn a_statement_refused_for_one_record_fails_only_that_record() {
    let app = spawn_app().await;
    define_keystore(&app, &app.org, &app.app, "kv").await;
    define_table(&app, &app.org, &app.app, "orders").await;
    publish_flow(&app, write_flow()).await;
    let table_id = count_rows(
        &app,
        "SELECT table_id FROM data_tables WHERE name = 'orders'",
    )
    .await;
    assert_eq!(table_id, 1, "the statements below name tbl_1");
    // The database refuses one row (as a constraint would): the grouped insert fails, the batch
    // runs again with each step in its own savepoint.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.c_1 = 'bad' THEN RAISE EXCEPTION 'row refused'; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER refuse_bad BEFORE INSERT ON flowline_tables.tbl_1 \
           FOR EACH ROW EXECUTE FUNCTION refuse_bad();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let records: Vec<Value> = (0..10)
        .map(|n| {
            let name = if n == 4 {
                "bad".to_owned()
            } else {
                format!("r{n}")
            };
            json!({"key": format!("k{n}"), "name": name, "qty": n})
        })
        .collect();
    push_record(&app, "writes", &Value::Array(records)).await;
    let scheduler = one_batch_worker(&app);
    wait_for_empty_queue(&app).await;
    scheduler.shutdown().await;

    let statuses = statuses(&app).await;
    let failed: Vec<&str> = statuses
        .iter()
        .filter(|(_, status)| *status == 3)
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(failed, ["bad"], "{statuses:?}");
    assert_eq!(statuses.iter().filter(|(_, s)| *s == 2).count(), 9);
    let table_rows = count_rows(&app, "SELECT count(*) FROM flowline_tables.tbl_1").await;
    assert_eq!(table_rows, 9);
    // The failed record's earlier step stays done (steps are atomic, not whole runs).
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM keystore_entries").await,
        10
    );
    let error: String = sqlx::query_scalar(
        "SELECT l.error FROM record_step_log l JOIN records r USING (org_id, record_id) \
         WHERE r.data->>'name' = 'bad' AND l.outcome = 'error'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(error.contains("row refused"), "{error}");
}

#[tokio::test]
async fn outputs_saved_before_a_delay_are_there_after_it() {
    let app = spawn_app().await;
    define_keystore(&app, &app.org, &app.app, "kv").await;
    publish_flow(
        &app,
        json!({
            "name": "later", "start": "put",
            "steps": {
                "put": {"type": "keystore.put", "keystore": "kv", "key": "a",
                        "value": {"v": "{{ record.v }}"}, "next": "get"},
                "get": {"type": "keystore.get", "keystore": "kv", "key": "a",
                        "save_as": "stored", "next": "wait"},
                "wait": {"type": "delay", "seconds": 0.3, "next": "use"},
                "use": {"type": "set", "fields": {"copied": "{{ steps.stored.v }}"},
                        "next": "done"},
                "done": {"type": "end"}
            }
        }),
    )
    .await;
    let scheduler = start_scheduler(&app);
    let uuid = push_one(&app, "later", &json!({"v": 7})).await;
    let view = wait_for(&app, &uuid, &["2", "3"]).await;
    scheduler.shutdown().await;

    assert_eq!(view["info"]["status_code"], "2", "{view}");
    assert_eq!(view["data_record"]["copied"], 7, "{view}");
    assert_eq!(view["flow_process"]["num_runs"], "2");
    let outputs: Option<Value> = sqlx::query_scalar("SELECT step_outputs FROM records")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(outputs, None, "a finished record keeps no outputs");
}
