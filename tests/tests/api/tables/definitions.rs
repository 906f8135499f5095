//! Table definitions: `/v1/tabledefs`, the admin API and the CLI.

use super::*;
use std::process::Command;

async fn physical_tables(app: &TestApp) -> i64 {
    count_rows(
        app,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'flowline_tables'",
    )
    .await
}

fn column_names(definition: &Value) -> Vec<String> {
    definition["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_table_is_defined_read_changed_and_removed() {
    let app = spawn_app().await;
    let created = define(&app, people_definition()).await;
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "table_id",
            "environment_id",
            "name",
            "columns",
            "date_created",
            "date_updated"
        ]
    );
    assert_eq!(created["name"], "people");
    assert_eq!(created["environment_id"], app.org.environment_id.0);
    assert_eq!(
        created["columns"][0],
        json!({"name": "name", "type": "string", "indexed": true})
    );
    assert_eq!(
        created["columns"][7],
        json!({"name": "meta", "type": "json", "indexed": false})
    );
    assert_eq!(created["date_created"].as_str().unwrap().len(), 19);

    let read = app
        .request(Method::GET, "/v1/tabledefs/people")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read = body(read).await;
    assert_eq!(read["message"], "Table retrieved successfully");
    assert_eq!(read["resource"], created);
    let listed = body(
        app.request(Method::GET, "/v1/tabledefs")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        listed["resource"],
        json!({"tables": [created.clone()], "total": 1})
    );

    let changed = put(
        &app,
        "/v1/tabledefs/people",
        &json!({
            "drop_columns": ["nick"],
            "add_columns": [{"name": "city", "type": "string", "index": true}],
            "drop_indexes": ["name"],
            "add_indexes": ["score"],
        }),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let changed = body(changed).await;
    assert_eq!(changed["message"], "Table updated successfully");
    let definition = &changed["resource"];
    assert_eq!(
        column_names(definition),
        [
            "name", "age", "score", "active", "born", "seen", "meta", "city"
        ]
    );
    assert_eq!(definition["columns"][0]["indexed"], false);
    assert_eq!(definition["columns"][2]["indexed"], true);
    assert_eq!(definition["columns"][7]["indexed"], true);
    let row = insert(&app, "people", json!({"name": "Ada", "city": "London"})).await;
    assert_eq!(row["city"], "London");
    assert!(row.get("nick").is_none(), "{row}");
    let dropped = post(&app, "/v1/tables/people/", &json!({"nick": "ada"})).await;
    assert_error(
        dropped,
        400,
        400,
        "nick: unknown column 'nick' in table 'people'",
    )
    .await;

    let removed = app
        .request(Method::DELETE, "/v1/tabledefs/people")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let removed = body(removed).await;
    assert_eq!(
        removed,
        json!({"resource": {}, "message": "Table has been removed successfully"})
    );
    let gone = app
        .request(Method::GET, "/v1/tabledefs/people")
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, 404, "Table 'people' does not exist").await;
    let rows_gone = app
        .request(Method::GET, "/v1/tables/people/1")
        .send()
        .await
        .unwrap();
    assert_error(rows_gone, 404, 404, "Table 'people' does not exist").await;
    assert_eq!(physical_tables(&app).await, 0, "the rows went with it");

    define(&app, people_definition()).await;
    assert_eq!(
        row_count(&app, "people").await,
        0,
        "a new table starts empty"
    );
}

#[tokio::test]
async fn bad_definitions_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    define(&app, people_definition()).await;
    let cases = [
        (json!({"columns": []}), 400, "name: is required"),
        (
            json!({"name": "people; DROP TABLE data_tables"}),
            400,
            "name: 'people; DROP TABLE data_tables' is not a valid name",
        ),
        (
            json!({"name": "x\"; DROP TABLE data_tables; --"}),
            400,
            "name: ",
        ),
        (
            json!({"name": "a".repeat(65)}),
            400,
            "name: is longer than 64",
        ),
        (
            json!({"name": "t", "columns": [{"name": "a b", "type": "string"}]}),
            400,
            "columns[0].name: 'a b' is not a valid name",
        ),
        (
            json!({"name": "t", "columns": [{"name": "a", "type": "varchar"}]}),
            400,
            "columns[0].type: unknown type 'varchar'",
        ),
        (
            json!({"name": "t", "columns": [{"name": "date_created", "type": "date"}]}),
            400,
            "columns[0].name: 'date_created' is reserved",
        ),
        (
            json!({"name": "t", "columns": [{"name": "m", "type": "json", "index": true}]}),
            400,
            "columns[0].index: column 'm' is of type json",
        ),
        (
            json!({"name": "t", "columns": [{"name": "a", "type": "date"}, {"name": "a", "type": "integer"}]}),
            400,
            "columns[1].name: column 'a' is named twice",
        ),
        (
            json!({"name": "t", "colums": []}),
            400,
            "colums: is not a known field",
        ),
        (
            json!({"name": "people"}),
            409,
            "Table 'people' already exists",
        ),
    ];
    for (definition, status, message) in cases {
        let response = post(&app, "/v1/tabledefs", &definition).await;
        assert_error(response, status, status, message).await;
    }
    let malformed = app
        .request(Method::POST, "/v1/tabledefs")
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let too_many: Vec<Value> = (0..201)
        .map(|n| json!({"name": format!("c{n}"), "type": "integer"}))
        .collect();
    let response = post(
        &app,
        "/v1/tabledefs",
        &json!({"name": "wide", "columns": too_many}),
    )
    .await;
    assert_error(
        response,
        400,
        400,
        "columns: a table has at most 200 columns",
    )
    .await;

    let alterations = [
        (json!({}), 400, "body: name at least one change"),
        (
            json!({"drop_columns": ["nope"]}),
            400,
            "drop_columns[0]: unknown column 'nope' in table 'people'",
        ),
        (
            json!({"add_columns": [{"name": "age", "type": "integer"}]}),
            409,
            "add_columns[0].name: column 'age' already exists",
        ),
        (
            json!({"add_indexes": ["age"]}),
            409,
            "add_indexes[0]: column 'age' is already indexed",
        ),
        (
            json!({"add_indexes": ["meta"]}),
            400,
            "add_indexes[0]: column 'meta' is of type json",
        ),
        (
            json!({"drop_indexes": ["score"]}),
            409,
            "drop_indexes[0]: column 'score' has no index",
        ),
        // The first change is fine; the second fails, and the first is not applied either.
        (
            json!({"drop_columns": ["nick"], "add_indexes": ["nick"]}),
            400,
            "add_indexes[0]: unknown column 'nick'",
        ),
        (
            json!({"rename": {"a": "b"}}),
            400,
            "rename: is not a known field",
        ),
    ];
    for (change, status, message) in alterations {
        let response = put(&app, "/v1/tabledefs/people", &change).await;
        assert_error(response, status, status, message).await;
    }
    let unknown = put(&app, "/v1/tabledefs/nobody", &json!({"add_indexes": ["x"]})).await;
    assert_error(unknown, 404, 404, "Table 'nobody' does not exist").await;

    let after = body(
        app.request(Method::GET, "/v1/tabledefs")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(after["resource"]["total"], 1);
    let people = &after["resource"]["tables"][0];
    assert_eq!(column_names(people), column_names(&people_definition()));
    assert_eq!(people["columns"][3]["indexed"], false);
    assert_eq!(physical_tables(&app).await, 1);
}

#[tokio::test]
async fn definitions_may_be_sent_in_xml() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/tabledefs")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body(
            "<table><name>xmlt</name><columns><item><name>a</name><type>integer</type>\
             <index>true</index></item><item><name>b</name><type>string</type></item>\
             </columns></table>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created = body(response).await;
    assert_eq!(
        created["resource"]["columns"],
        json!([{"name": "a", "type": "integer", "indexed": true},
               {"name": "b", "type": "string", "indexed": false}])
    );
    let change = app
        .request(Method::PUT, "/v1/tabledefs/xmlt")
        .header("Content-Type", "application/xml")
        .body("<change><drop_indexes>a</drop_indexes></change>")
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 200);
    let bomb = app
        .request(Method::POST, "/v1/tabledefs")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body("<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY x \"y\">]><t><name>&x;</name></t>")
        .send()
        .await
        .unwrap();
    assert_error(bomb, 400, 400, "DOCTYPE").await;
}

fn admin(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.anonymous(method, path)
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
}

#[tokio::test]
async fn operators_manage_tables_through_the_admin_api() {
    let app = spawn_app().await;
    let created = admin(&app, Method::POST, "/admin/v1/orgs/Acme/tables")
        .json(
            &json!({"name": "audit", "environment_id": app.org.environment_id.0,
                      "columns": [{"name": "event", "type": "string", "index": true}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["name"], "audit");
    assert_eq!(created["columns"][0]["indexed"], true);

    // The application sees it, and uses it.
    let seen = body(
        app.request(Method::GET, "/v1/tabledefs/audit")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seen["resource"], created);
    insert(&app, "audit", json!({"event": "login"})).await;

    let listed = admin(&app, Method::GET, "/admin/v1/orgs/Acme/tables")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(body(listed).await, json!([created]));

    let changed = admin(&app, Method::PUT, "/admin/v1/orgs/Acme/tables/audit")
        .json(&json!({"add_columns": [{"name": "at", "type": "datetime"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(body(changed).await["columns"][1]["name"], "at");

    let bad_environment = admin(
        &app,
        Method::DELETE,
        "/admin/v1/orgs/Acme/tables/audit?environment_id=x",
    )
    .send()
    .await
    .unwrap();
    assert_error(bad_environment, 400, 400, "environment_id: ").await;
    let no_token = app
        .anonymous(Method::DELETE, "/admin/v1/orgs/Acme/tables/audit")
        .send()
        .await
        .unwrap();
    assert_error(no_token, 401, 401, "admin API").await;
    let removed = admin(&app, Method::DELETE, "/admin/v1/orgs/Acme/tables/audit")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    assert_eq!(
        body(removed).await,
        json!({"name": "audit", "environment_id": app.org.environment_id.0, "deleted": true})
    );
    let again = admin(&app, Method::DELETE, "/admin/v1/orgs/Acme/tables/audit")
        .send()
        .await
        .unwrap();
    assert_error(again, 404, 404, "Table 'audit' does not exist").await;
}

fn flowline(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowline-under-test"))
        .env_remove("DATABASE_URL")
        .env("FLOWLINE_LOG", "warn")
        .arg("admin")
        .args(args)
        .args([
            "--org",
            "Acme",
            "--json",
            "--database-url",
            &app.database_url(),
        ])
        .output()
        .expect("flowline runs")
}

fn json_output(output: std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim().lines().count(), 1, "one JSON value: {stdout}");
    serde_json::from_str(stdout.trim()).expect("JSON on stdout")
}

#[tokio::test]
async fn operators_manage_tables_from_the_command_line() {
    let app = spawn_app().await;
    let created = json_output(flowline(
        &app,
        &[
            "create-table",
            "--name",
            "customers",
            "--column",
            "name:string",
            "--column",
            "age:integer",
            "--column",
            "tags:json",
            "--index",
            "age",
        ],
    ));
    assert_eq!(
        created["columns"],
        json!([{"name": "name", "type": "string", "indexed": false},
               {"name": "age", "type": "integer", "indexed": true},
               {"name": "tags", "type": "json", "indexed": false}])
    );
    insert(&app, "customers", json!({"name": "Ada", "age": 36})).await;

    let listed = json_output(flowline(&app, &["list-tables"]));
    assert_eq!(listed, json!([created]));
    let changed = json_output(flowline(
        &app,
        &[
            "alter-table",
            "--name",
            "customers",
            "--add-column",
            "city:string",
            "--index",
            "name",
            "--drop-index",
            "age",
            "--drop-column",
            "tags",
        ],
    ));
    assert_eq!(
        changed["columns"],
        json!([{"name": "name", "type": "string", "indexed": true},
               {"name": "age", "type": "integer", "indexed": false},
               {"name": "city", "type": "string", "indexed": false}])
    );
    let row = body(
        app.request(Method::GET, "/v1/tables/customers/1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        row["data"][0]["name"], "Ada",
        "rows survive the change: {row}"
    );

    for (args, expected) in [
        (
            vec!["create-table", "--name", "x", "--column", "age"],
            "--column: 'age' is not NAME:TYPE",
        ),
        (
            vec!["create-table", "--name", "x", "--column", "a:int"],
            "--column: unknown type 'int'",
        ),
        (
            vec!["create-table", "--name", "x", "--index", "a"],
            "--index 'a' names no --column",
        ),
        (
            vec!["create-table", "--name", "bad name"],
            "--name: 'bad name' is not a valid name",
        ),
        (vec!["alter-table", "--name", "customers"], "name a change"),
        (
            vec!["alter-table", "--name", "customers", "--index", "nope"],
            "add_indexes[0]: unknown column 'nope'",
        ),
    ] {
        let output = flowline(&app, &args);
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    let removed = json_output(flowline(&app, &["delete-table", "--name", "customers"]));
    assert_eq!(removed["deleted"], true);
    assert_eq!(json_output(flowline(&app, &["list-tables"])), json!([]));
}

#[tokio::test]
async fn definitions_change_while_rows_are_written_without_failing_a_request() {
    let app = spawn_app().await;
    define(
        &app,
        json!({"name": "busy", "columns": [{"name": "n", "type": "integer"}]}),
    )
    .await;
    let writers: Vec<_> = (0..40)
        .map(|n| {
            let client = app.client.clone();
            let url = app.url("/v1/tables/busy/");
            let (api_key, app_key) = (app.org.api_key.clone(), app.app.app_key.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("X-Apikey", api_key)
                    .header("X-App", app_key)
                    .json(&json!({"n": n}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let changes = [
        json!({"add_columns": [{"name": "a", "type": "string"}]}),
        json!({"add_indexes": ["n"]}),
        json!({"drop_columns": ["a"], "add_columns": [{"name": "b", "type": "date", "index": true}]}),
        json!({"drop_indexes": ["n"]}),
    ];
    for change in changes {
        let response = put(&app, "/v1/tabledefs/busy", &change).await;
        assert_eq!(response.status(), 200, "{}", body(response).await);
    }
    for writer in writers {
        assert_eq!(writer.await.unwrap(), 200);
    }
    assert_eq!(row_count(&app, "busy").await, 40);
}
