//! Search paging: `order_field`, `order_type`, `limit`, `offset` and every field of the
//! envelope; bad search bodies; XML.

use super::*;

/// `scores`: 25 rows, `n` = the row's id except for rows 5 and 10 (NULL), `label` counting
/// down.
async fn scores(app: &TestApp) {
    define(
        app,
        json!({"name": "scores", "columns": [
            {"name": "n", "type": "integer", "index": true},
            {"name": "label", "type": "string"},
        ]}),
    )
    .await;
    for id in 1..=25 {
        let n = if id % 5 == 0 && id <= 10 {
            Value::Null
        } else {
            json!(id)
        };
        insert(
            app,
            "scores",
            json!({"n": n, "label": format!("L{:02}", 26 - id)}),
        )
        .await;
    }
}

fn paging(envelope: &Value) -> [i64; 6] {
    [
        "total",
        "start_at",
        "next_element",
        "limit",
        "offset",
        "max_results",
    ]
    .map(|key| {
        envelope[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} in {envelope}"))
    })
}

#[tokio::test]
async fn pages_follow_the_order_the_limit_and_the_offset() {
    let app = spawn_app().await;
    scores(&app).await;

    let everything = body(
        app.request(Method::POST, "/v1/tables/scores/search")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        ids(&everything),
        (1..=25).collect::<Vec<_>>(),
        "no body: all, by id"
    );
    assert_eq!(paging(&everything), [25, 0, 25, 100, 0, 25]);

    let first = search(
        &app,
        "scores",
        json!({"order_field": "n", "order_type": "desc", "limit": 10}),
    )
    .await;
    assert_eq!(ids(&first), [25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
    assert_eq!(paging(&first), [10, 0, 10, 10, 0, 25]);
    let last = search(
        &app,
        "scores",
        json!({"order_field": "n", "order_type": "DESC", "limit": 10, "offset": 20}),
    )
    .await;
    // NULLs come last in descending order, ties broken by id in the same direction.
    assert_eq!(ids(&last), [3, 2, 1, 10, 5]);
    assert_eq!(paging(&last), [5, 20, 25, 10, 20, 25]);
    let past = search(&app, "scores", json!({"limit": 10, "offset": 30})).await;
    assert_eq!(ids(&past), Vec::<i64>::new());
    assert_eq!(paging(&past), [0, 30, 30, 10, 30, 25]);

    let ascending = search(
        &app,
        "scores",
        json!({"order_field": "n", "order_type": "asc", "limit": 4}),
    )
    .await;
    assert_eq!(
        ids(&ascending),
        [5, 10, 1, 2],
        "NULLs first in ascending order"
    );
    let by_label = search(&app, "scores", json!({"order_field": "label", "limit": 3})).await;
    assert_eq!(ids(&by_label), [25, 24, 23]);
    let by_date = search(
        &app,
        "scores",
        json!({"order_field": "date_created", "order_type": "desc", "limit": 3}),
    )
    .await;
    assert_eq!(ids(&by_date), [25, 24, 23], "equal dates fall back to id");
    let by_id = search(
        &app,
        "scores",
        json!({"order_field": "id", "order_type": "desc", "limit": 2}),
    )
    .await;
    assert_eq!(ids(&by_id), [25, 24]);

    let filtered = search(
        &app,
        "scores",
        json!({"where": rule("n", ">", json!(20)), "limit": 2, "offset": 2, "order_field": "n"}),
    )
    .await;
    assert_eq!(ids(&filtered), [23, 24]);
    assert_eq!(paging(&filtered), [2, 2, 4, 2, 2, 5]);
    let reference = search(
        &app,
        "scores",
        json!({"where": rule("n", ">", json!("20")), "limit": "10", "offset": "0",
               "order_field": "n", "order_type": "desc"}),
    )
    .await;
    assert_eq!(ids(&reference), [25, 24, 23, 22, 21]);
}

#[tokio::test]
async fn bad_search_bodies_are_400s_naming_the_field() {
    let app = spawn_app().await;
    scores(&app).await;
    let cases = [
        (
            json!({"limit": 101}),
            "limit: '101' is not an integer from 1 to 100",
        ),
        (
            json!({"limit": 0}),
            "limit: '0' is not an integer from 1 to 100",
        ),
        (json!({"limit": "all"}), "limit: 'all' is not"),
        (
            json!({"offset": -1}),
            "offset: '-1' is not an integer from 0 to 1000000",
        ),
        (json!({"offset": 1_000_001}), "offset: "),
        (
            json!({"order_field": "nosuch"}),
            "order_field: unknown column 'nosuch' in table 'scores'",
        ),
        (
            json!({"order_field": "n; DROP TABLE data_tables"}),
            "order_field: unknown column",
        ),
        (
            json!({"order_field": "n desc"}),
            "order_field: unknown column",
        ),
        (
            json!({"order_field": "c_1"}),
            "order_field: unknown column 'c_1'",
        ),
        (
            json!({"order_field": ["n"]}),
            "order_field: expected the name of a column",
        ),
        (
            json!({"order_type": "desc; DROP TABLE data_tables"}),
            "order_type: ",
        ),
        (
            json!({"order_type": "up"}),
            "order_type: 'up' is not ASC or DESC",
        ),
        (
            json!({"where": rule("c_1", "=", json!(1))}),
            "where.rules[0].field: unknown column 'c_1'",
        ),
        (
            json!({"where": rule("n); DROP TABLE data_tables; --", "=", json!(1))}),
            "where.rules[0].field: invalid field path",
        ),
        (json!({"sort": "n"}), "sort: is not a search parameter"),
        (json!(["n"]), "body: expected an object"),
    ];
    for (request, message) in cases {
        let response = post(&app, "/v1/tables/scores/search", &request).await;
        assert_error(response, 400, 400, message).await;
    }
    for (content_type, text, message) in [
        ("application/json", "{\"limit\": }", "body: malformed JSON"),
        (
            "application/xml",
            "<search><limit>5</search>",
            "body: malformed XML",
        ),
        (
            "application/xml",
            "<!DOCTYPE s [<!ENTITY big \"big\">]><search><limit>&big;</limit></search>",
            "DOCTYPE",
        ),
    ] {
        let response = app
            .request(Method::POST, "/v1/tables/scores/search")
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(text)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, message).await;
    }
    let unknown = post(&app, "/v1/tables/nobody/search", &json!({})).await;
    assert_error(unknown, 404, 404, "Table 'nobody' does not exist").await;
    assert_eq!(row_count(&app, "scores").await, 25, "the table is intact");
}

#[tokio::test]
async fn searches_may_be_sent_and_answered_in_xml() {
    let app = spawn_app().await;
    scores(&app).await;
    let response = app
        .request(Method::POST, "/v1/tables/scores/search")
        .header("Content-Type", "application/xml")
        .body(
            "<search><where><condition>AND</condition><rules><item><field>n</field>\
             <operator>&gt;</operator><value>20</value></item></rules></where>\
             <limit>2</limit><order_field>n</order_field><order_type>desc</order_type></search>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for fragment in [
        "<response><data><item><id>25</id>",
        "<n>25</n>",
        "<label>L01</label>",
        "<total>2</total>",
        "<start_at>0</start_at>",
        "<next_element>2</next_element>",
        "<limit>2</limit>",
        "<max_results>5</max_results>",
    ] {
        assert!(text.contains(fragment), "{fragment} in {text}");
    }
    let between = app
        .request(Method::POST, "/v1/tables/scores/search")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body(
            "<search><where><rules><item><field>n</field><operator>between</operator>\
             <value><item>3</item><item>4</item></value></item></rules></where></search>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&body(between).await), [3, 4]);
}
