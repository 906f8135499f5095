//! Query plans over a table big enough for PostgreSQL to prefer an index when one serves:
//! searches on an indexed column read its index, searches on other columns cannot, and
//! `max_results` stops counting past the page.

use super::*;
use flowline_core::Tenant;
use flowline_tables::Selection;

const ROWS: i64 = 20_000;

/// `big`: `k` (indexed integer, unique), `u` (integer, not indexed, 1000 rows per value) and
/// `s` (indexed string, `user<k>`), loaded straight into the physical table.
async fn big(app: &TestApp) -> i64 {
    let definition = define(
        app,
        json!({"name": "big", "columns": [
            {"name": "k", "type": "integer", "index": true},
            {"name": "u", "type": "integer"},
            {"name": "s", "type": "string", "index": true},
        ]}),
    )
    .await;
    let table_id = definition["table_id"].as_i64().unwrap();
    let load = format!(
        "INSERT INTO flowline_tables.tbl_{table_id} (c_1, c_2, c_3) \
         SELECT g, g % 20, 'user' || g FROM generate_series(1, {ROWS}) g"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(load))
        .execute(&app.pool)
        .await
        .unwrap();
    let analyze = format!("ANALYZE flowline_tables.tbl_{table_id}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(analyze))
        .execute(&app.pool)
        .await
        .unwrap();
    table_id
}

async fn plan(app: &TestApp, request: Value) -> String {
    let selection = Selection::parse(Some(&request)).unwrap();
    let tenant = Tenant {
        org_id: app.org.org_id,
        environment_id: app.org.environment_id,
    };
    let mut conn = app.pool.acquire().await.unwrap();
    flowline_tables::explain_search(&mut conn, tenant, "big", &selection, true)
        .await
        .unwrap()
}

#[tokio::test]
async fn searches_on_an_indexed_column_read_its_index() {
    let app = spawn_app().await;
    let table_id = big(&app).await;
    let k_index = format!("tbl_{table_id}_c_1_idx");
    let s_index = format!("tbl_{table_id}_c_3_idx");

    let equality = json!({"where": rule("k", "=", json!(12345))});
    let plans = plan(&app, equality.clone()).await;
    assert!(
        plans.contains(&k_index) && plans.contains("Index Cond"),
        "{plans}"
    );
    assert!(!plans.contains("Seq Scan"), "{plans}");
    let found = search(&app, "big", equality).await;
    assert_eq!(ids(&found), [12345]);
    assert_eq!(found["data"][0]["s"], "user12345");

    let range = json!({"where": rule("k", "between", json!([100, 199])), "order_field": "k", "order_type": "desc", "limit": 5});
    let plans = plan(&app, range.clone()).await;
    assert!(
        plans.contains(&k_index) && plans.contains("Index Cond"),
        "{plans}"
    );
    let found = search(&app, "big", range).await;
    assert_eq!(ids(&found), [199, 198, 197, 196, 195]);
    assert_eq!(found["max_results"], 100);

    let listed = json!({"where": rule("k", "in", json!([7, 70, 700]))});
    let plans = plan(&app, listed.clone()).await;
    assert!(plans.contains(&k_index), "{plans}");
    assert_eq!(ids(&search(&app, "big", listed).await), [7, 70, 700]);

    let prefix = json!({"where": rule("s", "begins_with", json!("user1234"))});
    let plans = plan(&app, prefix.clone()).await;
    assert!(
        plans.contains(&s_index) && plans.contains("Index Cond"),
        "{plans}"
    );
    assert_eq!(
        ids(&search(&app, "big", prefix).await),
        [
            1234, 12340, 12341, 12342, 12343, 12344, 12345, 12346, 12347, 12348, 12349
        ]
    );

    let text = json!({"where": rule("s", "=", json!("user777"))});
    assert!(plan(&app, text.clone()).await.contains(&s_index));
    assert_eq!(ids(&search(&app, "big", text).await), [777]);

    // Ordering by an indexed column walks its index and stops after the page.
    let top = json!({"order_field": "k", "order_type": "desc", "limit": 3});
    let plans = plan(&app, top.clone()).await;
    assert!(
        plans.contains(&format!("Index Scan Backward using {k_index}")),
        "{plans}"
    );
    assert_eq!(ids(&search(&app, "big", top).await), [20000, 19999, 19998]);

    // A column without an index is read in full: the difference an index makes.
    let unindexed = json!({"where": rule("u", "=", json!(7))});
    let plans = plan(&app, unindexed.clone()).await;
    assert!(plans.contains("Seq Scan"), "{plans}");
    let found = search(&app, "big", unindexed).await;
    assert_eq!(found["max_results"], ROWS / 20);
}

#[tokio::test]
async fn max_results_counts_a_bounded_distance_past_the_page() {
    let app = spawn_app().await;
    big(&app).await;
    let first = search(&app, "big", json!({"limit": 100})).await;
    assert_eq!(
        first["max_results"],
        100 + 10_000,
        "counted up to offset + limit + 10000"
    );
    assert_eq!(first["total"], 100);
    let deep = search(&app, "big", json!({"limit": 100, "offset": 15_000})).await;
    assert_eq!(
        deep["max_results"], ROWS,
        "exact once the bound passes the last row"
    );
    assert_eq!(deep["next_element"], 15_100);
    let narrow = search(&app, "big", json!({"where": rule("k", "<=", json!(42))})).await;
    assert_eq!(narrow["max_results"], 42);
}
