//! Rows: insert (plain object, columns form, chosen id), read, update by id and by a where
//! clause, delete — with the reference's envelopes, and every refusal naming its field.

use super::*;

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

const ENVELOPE: [&str; 7] = [
    "data",
    "total",
    "start_at",
    "next_element",
    "limit",
    "offset",
    "max_results",
];

fn is_api_date(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok()
}

#[tokio::test]
async fn rows_are_inserted_and_read_back_as_the_reference_shows_them() {
    let app = spawn_app().await;
    define(&app, people_definition()).await;
    let response = post(&app, "/v1/tables/people/", &people_rows()[0]).await;
    assert_eq!(
        response.status(),
        200,
        "the reference answers an insert with 200"
    );
    let inserted = body(response).await;
    assert_eq!(keys(&inserted), ENVELOPE);
    assert_eq!(
        (
            &inserted["total"],
            &inserted["start_at"],
            &inserted["next_element"],
            &inserted["limit"],
            &inserted["offset"],
            &inserted["max_results"]
        ),
        (
            &json!(1),
            &json!(0),
            &json!(0),
            &json!(100),
            &json!(0),
            &json!(0)
        )
    );
    let row = &inserted["data"][0];
    assert_eq!(
        keys(row),
        [
            "id",
            "date_created",
            "date_updated",
            "name",
            "nick",
            "age",
            "score",
            "active",
            "born",
            "seen",
            "meta"
        ]
    );
    assert_eq!(row["id"], "1", "ids are strings, as in the reference");
    assert!(is_api_date(&row["date_created"]), "{row}");
    assert_eq!(row["date_created"], row["date_updated"]);
    let mut values = row.clone();
    for system in ["id", "date_created", "date_updated"] {
        values.as_object_mut().unwrap().remove(system);
    }
    assert_eq!(
        values,
        people_rows()[0],
        "every type comes back as it went in"
    );

    let read = app
        .request(Method::GET, "/v1/tables/people/1")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert!(read.headers().contains_key("etag"));
    let read = body(read).await;
    assert_eq!(keys(&read), ENVELOPE);
    assert_eq!(
        read,
        json!({"data": [row], "total": 1, "start_at": 0, "next_element": 1, "limit": 100,
               "offset": 0, "max_results": 1})
    );

    // Without the trailing slash too; missing columns are null; a datetime is shown in UTC.
    let response = post(&app, "/v1/tables/people", &people_rows()[3]).await;
    assert_eq!(response.status(), 200);
    let sparse = body(response).await["data"][0].clone();
    assert_eq!(sparse["id"], "2");
    assert_eq!(sparse["age"], Value::Null);
    assert_eq!(sparse["meta"], Value::Null);
    assert_eq!(sparse["seen"], "2023-12-31 23:59:59");

    let empty = insert(&app, "people", json!({})).await;
    assert_eq!(empty["name"], Value::Null);

    let missing = app
        .request(Method::GET, "/v1/tables/people/99")
        .send()
        .await
        .unwrap();
    assert_error(missing, 404, 404, "Row 99 does not exist in table 'people'").await;
    for bad in ["0", "-1", "abc", "1.5", "99999999999999999999"] {
        let response = app
            .request(Method::GET, &format!("/v1/tables/people/{bad}"))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, "id: ").await;
    }
}

#[tokio::test]
async fn the_columns_form_and_a_chosen_id() {
    let app = spawn_app().await;
    define(&app, people_definition()).await;
    let columns = json!({"columns": [
        {"column_name": "name", "column_value": "newuser"},
        {"column_name": "age", "column_value": 23},
        {"column_name": "nick", "column_value": null},
    ]});
    let row = insert(&app, "people", columns.clone()).await;
    assert_eq!(
        (&row["id"], &row["name"], &row["age"]),
        (&json!("1"), &json!("newuser"), &json!(23))
    );

    let chosen = post(&app, "/v1/tables/people/100", &columns).await;
    assert_eq!(chosen.status(), 200);
    let chosen = body(chosen).await;
    assert_eq!(chosen["data"][0]["id"], "100");
    assert_eq!(chosen["total"], 1);
    let taken = post(&app, "/v1/tables/people/100", &json!({"name": "again"})).await;
    assert_error(taken, 409, 409, "Row 100 already exists in table 'people'").await;
    let next = insert(&app, "people", json!({"name": "next"})).await;
    assert_eq!(next["id"], "101", "generated ids move past a chosen one");
    let below = post(&app, "/v1/tables/people/50", &json!({"name": "between"})).await;
    assert_eq!(body(below).await["data"][0]["id"], "50");
    assert_eq!(insert(&app, "people", json!({})).await["id"], "102");
    let bad_id = post(&app, "/v1/tables/people/0", &json!({"name": "zero"})).await;
    assert_error(bad_id, 400, 400, "id: '0' is not a row id").await;
    assert_eq!(row_count(&app, "people").await, 5);
}

#[tokio::test]
async fn values_of_the_wrong_type_are_400s_naming_the_column() {
    let app = spawn_app().await;
    define(&app, people_definition()).await;
    let cases = [
        (json!({"age": "abc"}), "age: 'abc' is not an integer"),
        (json!({"age": 1.5}), "age: '1.5' is not an integer"),
        (json!({"age": true}), "age: 'true' is not an integer"),
        (
            json!({"age": "9223372036854775808"}),
            "age: '9223372036854775808' is not an integer",
        ),
        (json!({"score": "many"}), "score: 'many' is not a number"),
        (json!({"score": {"n": 1}}), "score: "),
        (json!({"active": "yes"}), "active: 'yes' is not a boolean"),
        (json!({"active": 1}), "active: '1' is not a boolean"),
        (
            json!({"born": "2023-02-29"}),
            "born: '2023-02-29' is not a date (YYYY-MM-DD)",
        ),
        (json!({"born": "29/02/2024"}), "born: "),
        (
            json!({"seen": "tomorrow"}),
            "seen: 'tomorrow' is not a date and time",
        ),
        (
            json!({"name": ["a"]}),
            "name: expected a string, not an array",
        ),
        (
            json!({"name": "x".repeat(2001)}),
            "name: is longer than 2000 bytes",
        ),
        (
            json!({"nick": "nul\u{0}byte"}),
            "nick: a string cannot hold the character U+0000",
        ),
        (
            json!({"meta": {"k": "\u{0}"}}),
            "meta: a JSON value cannot hold",
        ),
        (
            json!({"nosuch": 1}),
            "nosuch: unknown column 'nosuch' in table 'people'",
        ),
        (
            json!({"id": 5}),
            "id: 'id' is set by Flowline and cannot be written",
        ),
        (
            json!({"date_updated": "2020-01-01 00:00:00"}),
            "date_updated: 'date_updated' is set by Flowline",
        ),
        (json!({"name": "ok", "age": "x"}), "age: "),
        (
            json!({"columns": [{"column_name": "age", "column_value": "abc"}]}),
            "columns[0].column_value: 'abc' is not an integer (column 'age')",
        ),
        (
            json!({"columns": [{"column_name": "nosuch", "column_value": 1}]}),
            "columns[0].column_name: unknown column 'nosuch'",
        ),
        (
            json!({"columns": [{"column_name": "age"}]}),
            "columns[0].column_value: is required",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": 1}], "name": "x"}),
            "name: cannot be given next to columns",
        ),
        (json!({"columns": "age=1"}), "columns: expected an array"),
        (json!([{"name": "x"}]), "body: expected an object"),
        (json!("name"), "body: expected an object"),
    ];
    for (row, message) in cases {
        let response = post(&app, "/v1/tables/people/", &row).await;
        assert_error(response, 400, 400, message).await;
    }
    for (content_type, text, message) in [
        (
            "application/json",
            "{\"name\": \"x\"",
            "body: malformed JSON",
        ),
        ("application/json", "", "body: is required"),
        (
            "application/xml",
            "<row><name>x</row>",
            "body: malformed XML",
        ),
        (
            "application/xml",
            "<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><row><name>&e;</name></row>",
            "DOCTYPE",
        ),
    ] {
        let response = app
            .request(Method::POST, "/v1/tables/people/")
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(text)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, message).await;
    }
    let unsupported = app
        .request(Method::POST, "/v1/tables/people/")
        .header("Content-Type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_error(unsupported, 415, 415, "Content-Type").await;
    assert_eq!(row_count(&app, "people").await, 0, "nothing was stored");
}

#[tokio::test]
async fn rows_may_be_written_and_read_in_xml() {
    let app = spawn_app().await;
    define(&app, people_definition()).await;
    let response = app
        .request(Method::POST, "/v1/tables/people/")
        .header("Content-Type", "application/xml")
        .body(
            "<?xml version=\"1.0\"?><row><name>Ada &amp; co</name><age>36</age>\
             <active>true</active><score>2.5</score><born>1815-12-10</born></row>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let text = response.text().await.unwrap();
    for fragment in [
        "<data><item><id>1</id>",
        "<name>Ada &amp; co</name>",
        "<age>36</age>",
        "<active>true</active>",
        "<total>1</total>",
        "<max_results>0</max_results>",
    ] {
        assert!(text.contains(fragment), "{fragment} in {text}");
    }
    let columns = app
        .request(Method::PUT, "/v1/tables/people/1")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body(
            "<update><columns><item><column_name>age</column_name><column_value>37</column_value>\
             </item></columns></update>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(columns.status(), 200);
    assert_eq!(body(columns).await["data"][0]["age"], 37);
}

#[tokio::test]
async fn a_row_is_updated_by_its_id() {
    let app = spawn_app().await;
    people(&app).await;
    let plain = put(
        &app,
        "/v1/tables/people/2",
        &json!({"age": 18, "nick": "B"}),
    )
    .await;
    assert_eq!(plain.status(), 200);
    let plain = body(plain).await;
    assert_eq!(keys(&plain), ENVELOPE);
    let row = &plain["data"][0];
    assert_eq!(
        (&row["id"], &row["name"], &row["age"], &row["nick"]),
        (&json!("2"), &json!("Bob"), &json!(18), &json!("B"))
    );
    assert!(is_api_date(&row["date_updated"]));
    assert!(row["date_updated"].as_str() >= row["date_created"].as_str());
    assert_eq!(
        (&plain["total"], &plain["max_results"]),
        (&json!(1), &json!(0))
    );

    // The reference's own example: columns, where, limit, offset and order with an id.
    let reference_example = json!({
        "columns": [{"column_name": "name", "column_value": "newusername"},
                    {"column_name": "age", "column_value": 102}],
        "where": rule("age", ">", json!("17")),
        "limit": 2, "offset": 2, "order_field": "age", "order_type": "desc"
    });
    let updated = body(put(&app, "/v1/tables/people/2", &reference_example).await).await;
    assert_eq!(updated["data"][0]["name"], "newusername");
    assert_eq!(updated["data"][0]["age"], 102);
    // The where clause must hold too: row 2 is no longer under 50.
    let not_matching = json!({
        "columns": [{"column_name": "age", "column_value": 1}],
        "where": rule("age", "<", json!(50)),
    });
    let untouched = body(put(&app, "/v1/tables/people/2", &not_matching).await).await;
    assert_eq!(
        (&untouched["data"], &untouched["total"]),
        (&json!([]), &json!(0))
    );
    let still = body(
        app.request(Method::GET, "/v1/tables/people/2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(still["data"][0]["age"], 102);

    let missing = put(&app, "/v1/tables/people/99", &json!({"age": 1})).await;
    assert_error(missing, 404, 404, "Row 99 does not exist in table 'people'").await;
    let wrong = put(
        &app,
        "/v1/tables/people/2",
        &json!({"age": 1, "active": "maybe"}),
    )
    .await;
    assert_error(wrong, 400, 400, "active: 'maybe' is not a boolean").await;
    let nothing = put(&app, "/v1/tables/people/2", &json!({})).await;
    assert_error(nothing, 400, 400, "body: name at least one column").await;
    let system = put(
        &app,
        "/v1/tables/people/2",
        &json!({"date_created": "2000-01-01 00:00:00"}),
    )
    .await;
    assert_error(
        system,
        400,
        400,
        "date_created: 'date_created' is set by Flowline",
    )
    .await;
    let still = body(
        app.request(Method::GET, "/v1/tables/people/2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        still["data"][0]["age"], 102,
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn rows_are_updated_by_a_where_clause() {
    let app = spawn_app().await;
    people(&app).await;
    let request = json!({
        "columns": [{"column_name": "active", "column_value": false},
                    {"column_name": "nick", "column_value": "senior"}],
        "where": rule("age", ">=", json!(36)),
        "order_field": "age", "order_type": "desc", "limit": 2,
    });
    let response = put(&app, "/v1/tables/people/", &request).await;
    assert_eq!(response.status(), 200);
    let updated = body(response).await;
    // age desc, ties by id desc: Carla (52), then Éva (36, id 6) before Ada (36, id 1).
    assert_eq!(ids(&updated), [3, 6]);
    assert_eq!(updated["total"], 2);
    assert!(
        updated["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["nick"] == "senior")
    );
    let ada = body(
        app.request(Method::GET, "/v1/tables/people/1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        ada["data"][0]["active"], true,
        "the third match is past the limit"
    );

    let with_offset = json!({
        "columns": [{"column_name": "score", "column_value": "100"}],
        "where": rule("age", ">=", json!(36)),
        "order_field": "age", "order_type": "desc", "limit": 1, "offset": 2,
    });
    let updated = body(put(&app, "/v1/tables/people", &with_offset).await).await;
    assert_eq!(ids(&updated), [1]);
    assert_eq!(updated["data"][0]["score"], 100.0);

    let everyone = json!({
        "columns": [{"column_name": "meta", "column_value": {"seen": true}}],
        "where": {"condition": "AND", "rules": []},
    });
    let updated = body(put(&app, "/v1/tables/people/", &everyone).await).await;
    assert_eq!(ids(&updated), [1, 2, 3, 4, 5, 6]);
    let none = json!({
        "columns": [{"column_name": "age", "column_value": 1}],
        "where": rule("name", "=", json!("nobody")),
    });
    let updated = body(put(&app, "/v1/tables/people/", &none).await).await;
    assert_eq!(
        (&updated["data"], &updated["total"]),
        (&json!([]), &json!(0))
    );

    let refusals = [
        (
            json!({"age": 1}),
            "columns: is required to update rows without an id",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": 1}]}),
            "where: is required",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": "x"}], "where": rule("age", ">", json!(1))}),
            "columns[0].column_value: 'x' is not an integer (column 'age')",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": 1}], "where": rule("nosuch", "=", json!(1))}),
            "where.rules[0].field: unknown column 'nosuch'",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": 1}], "where": {"rules": []}, "order_field": "nosuch"}),
            "order_field: unknown column 'nosuch'",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": 1}], "where": {"rules": []}, "limit": 1000}),
            "limit: '1000' is not an integer from 1 to 100",
        ),
        (
            json!({"columns": [{"column_name": "age", "column_value": 1}], "where": {"rules": []}, "set": 1}),
            "set: is not a known field",
        ),
    ];
    for (request, message) in refusals {
        let response = put(&app, "/v1/tables/people/", &request).await;
        assert_error(response, 400, 400, message).await;
    }
    let ages = search(&app, "people", json!({"order_field": "id"})).await;
    let ages: Vec<&Value> = ages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["age"])
        .collect();
    assert_eq!(
        ages,
        [
            &json!(36),
            &json!(17),
            &json!(52),
            &Value::Null,
            &json!(25),
            &json!(36)
        ]
    );
}

#[tokio::test]
async fn a_row_is_deleted() {
    let app = spawn_app().await;
    people(&app).await;
    let response = app
        .request(Method::DELETE, "/v1/tables/people/3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deleted = body(response).await;
    assert_eq!(
        deleted,
        json!({"id": "ok", "code": 200, "request-ip": "127.0.0.1", "resource": 1,
               "message": "Successfully deleted row 3 in table people", "error": null})
    );
    let gone = app
        .request(Method::GET, "/v1/tables/people/3")
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, 404, "Row 3 does not exist in table 'people'").await;
    let again = app
        .request(Method::DELETE, "/v1/tables/people/3")
        .send()
        .await
        .unwrap();
    assert_error(again, 404, 404, "Row 3 does not exist").await;
    let bad = app
        .request(Method::DELETE, "/v1/tables/people/x")
        .send()
        .await
        .unwrap();
    assert_error(bad, 400, 400, "id: 'x' is not a row id").await;
    let patch = app
        .request(Method::PATCH, "/v1/tables/people/1")
        .send()
        .await
        .unwrap();
    assert_error(patch, 405, 405, "not allowed").await;
    assert_eq!(row_count(&app, "people").await, 5);
}

#[tokio::test]
async fn oversized_bodies_are_413_and_store_nothing() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 4096;
    let app = spawn_app_with(settings).await;
    define(&app, people_definition()).await;
    let large = json!({"nick": "x".repeat(5000)});
    let response = post(&app, "/v1/tables/people/", &large).await;
    assert_error(response, 413, 413, "larger than this server accepts").await;
    let search = post(
        &app,
        "/v1/tables/people/search",
        &json!({"where": rule("nick", "=", json!("y".repeat(5000)))}),
    )
    .await;
    assert_error(search, 413, 413, "larger").await;
    assert_eq!(row_count(&app, "people").await, 0);
}
