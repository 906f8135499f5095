//! `POST` and `DELETE /v1/environment/{id}/project/{project_id}` and
//! `GET /v1/environment/{id}/projects`: shapes, actions, atomicity, errors and access.

use super::*;

fn environment_of(app: &TestApp) -> i64 {
    app.org.environment_id.0
}

#[tokio::test]
async fn a_deploy_brings_flows_and_the_chosen_data_and_answers_with_the_environment() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    let answer = deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"all_keystores": "insert", "all_tables": "insert", "all_websites": "insert"}),
    )
    .await;
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["data"]["id"], environment_id.to_string());
    assert_eq!(answer["data"]["projects"], json!([project_id.to_string()]));
    assert_eq!(answer["data"]["status"], "ready");

    // The flow is published, the keystore and the table hold the project's data.
    let (status, flow) = get_json(
        app.request(Method::GET, "/v1/flowdiagram")
            .header("X-Flow", "orders"),
    )
    .await;
    assert_eq!(status, 200, "{flow}");
    let (status, london) = keystore_entry(&app, "weather", "london").await;
    assert_eq!((status, london.as_str()), (200, r#"{"temp":12}"#));
    let rows = table_rows(&app, "users").await;
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);

    let (status, listed) = get_json(org_request(
        &app,
        Method::GET,
        &format!("/v1/environment/{environment_id}/projects"),
    ))
    .await;
    assert_eq!(status, 200);
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    let project = &data[0];
    assert_eq!(project["id"], project_id.to_string());
    assert_eq!(project["name"], "Shop");
    assert_eq!(project["version"], 1);
    let mut keys: Vec<&str> = project
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["date_created", "date_updated", "id", "name", "version"]
    );
    assert_eq!(listed["code"], 200);
}

#[tokio::test]
async fn without_options_only_the_flows_are_deployed_and_static_data_brings_structures() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    deploy_ok(&app, environment_id, project_id, json!({})).await;
    let snapshot = environment_snapshot(&app, environment_id).await;
    assert_eq!(snapshot["flows"], json!(["orders:public"]));
    assert_eq!(snapshot["keystores"], json!([]));
    assert_eq!(snapshot["tables"], json!([]));
    assert_eq!(
        snapshot["files"].as_array().unwrap().len(),
        1,
        "the hosted page: {snapshot}"
    );

    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"static_data": "yes"}),
    )
    .await;
    let snapshot = environment_snapshot(&app, environment_id).await;
    assert_eq!(
        snapshot["keystores"],
        json!(["weather:json:{\"temp\":null}"])
    );
    assert_eq!(snapshot["entries"], json!([]), "structures only");
    assert_eq!(
        snapshot["tables"],
        json!(["users.age:integer", "users.username:string"])
    );
    assert!(table_rows(&app, "users").await.is_empty());
    // Deploying the same flow again publishes no new version.
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM flow_versions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(versions, 1);
}

/// The three actions on data that the environment changed since: insert keeps it, insert or
/// update overwrites what the project has and keeps the rest, delete and insert replaces all.
#[tokio::test]
async fn the_three_actions_do_what_the_reference_says() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"all_keystores": "insert", "all_tables": "insert"}),
    )
    .await;
    // The environment's own changes: london edited, berlin added, ann edited, a new row.
    for (key, value) in [("london", r#"{"temp":1}"#), ("berlin", r#"{"temp":5}"#)] {
        let response = app
            .request(Method::PUT, &format!("/v1/keystore/weather/{key}"))
            .header("Content-Type", "application/json")
            .body(value)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    let edited = app
        .request(Method::PUT, "/v1/tables/users/1")
        .json(&json!({"age": 99}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let added = app
        .request(Method::POST, "/v1/tables/users/")
        .json(&json!({"username": "cy", "age": 7}))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{}", added.status());
    let ages = |rows: Vec<Value>| -> Vec<(String, i64)> {
        rows.iter()
            .map(|row| {
                (
                    row["username"].as_str().unwrap().to_owned(),
                    row["age"].as_i64().unwrap(),
                )
            })
            .collect()
    };

    // insert: nothing that exists changes.
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({
        "keystores": [{"keystore_id": "weather", "action": "insert"}],
        "tables": [{"name": "users", "action": "insert"}]}),
    )
    .await;
    assert_eq!(
        keystore_entry(&app, "weather", "london").await.1,
        r#"{"temp":1}"#
    );
    assert_eq!(
        ages(table_rows(&app, "users").await),
        [("ann".into(), 99), ("bob".into(), 42), ("cy".into(), 7)]
    );

    // insert or update: the project's rows and keys win, the others stay.
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({
        "keystores": [{"keystore_id": "weather", "action": "insert or update"}],
        "tables": [{"name": "users", "action": "insert or update"}]}),
    )
    .await;
    assert_eq!(
        keystore_entry(&app, "weather", "london").await.1,
        r#"{"temp":12}"#
    );
    assert_eq!(
        keystore_entry(&app, "weather", "berlin").await.1,
        r#"{"temp":5}"#
    );
    assert_eq!(
        ages(table_rows(&app, "users").await),
        [("ann".into(), 31), ("bob".into(), 42), ("cy".into(), 7)]
    );

    // delete and insert: exactly the project's.
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({
        "all_keystores": "delete and insert",
        "keystores": [{"keystore_id": "weather", "action": "insert"}],
        "all_tables": "delete and insert"}),
    )
    .await;
    let snapshot = environment_snapshot(&app, environment_id).await;
    assert_eq!(
        snapshot["entries"],
        json!([
            "weather/london={\"temp\":12}",
            "weather/paris={\"temp\":18}"
        ]),
        "all_keystores wins over keystores"
    );
    assert_eq!(
        ages(table_rows(&app, "users").await),
        [("ann".into(), 31), ("bob".into(), 42)]
    );
    // New rows after the loaded ones get fresh ids.
    let next = app
        .request(Method::POST, "/v1/tables/users/")
        .json(&json!({"username": "dee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(next).await["data"][0]["id"], "3");
}

/// A conflict in the middle of a deploy (a table whose column has another type here) leaves the
/// environment exactly as it was: no flow, keystore, row, file or record of the deploy.
#[tokio::test]
async fn a_failed_deploy_changes_nothing() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    let created = app
        .request(Method::POST, "/v1/tabledefs")
        .json(&json!({"name": "users", "columns": [{"name": "age", "type": "string"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let before = environment_snapshot(&app, environment_id).await;
    let response = org_request(&app, Method::POST, &deploy_path(environment_id, project_id))
        .json(
            &json!({"all_keystores": "insert or update", "all_tables": "insert",
                      "all_websites": "insert"}),
        )
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        409,
        409,
        "Column 'age' of table 'users' is of type string",
    )
    .await;
    assert_eq!(environment_snapshot(&app, environment_id).await, before);

    // A row that the environment's table cannot take (a stored bundle edited behind the CLI's
    // back) fails the same way, after the keystores were written.
    sqlx::query("UPDATE project_tables SET rows = '[{\"id\": 1, \"age\": \"old\"}]', columns = '[{\"name\": \"age\", \"type\": \"integer\"}]'")
        .execute(&app.pool)
        .await
        .unwrap();
    let response = org_request(&app, Method::POST, &deploy_path(environment_id, project_id))
        .json(&json!({"all_keystores": "insert", "all_tables": "delete and insert"}))
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        400,
        400,
        "tables.users.rows[0].age: 'old' is not an integer",
    )
    .await;
    assert_eq!(environment_snapshot(&app, environment_id).await, before);
}

#[tokio::test]
async fn a_newer_version_is_promoted_from_a_source_environment() {
    let app = spawn_app().await;
    let (dir, project_id) = shop(&app).await;
    let production = environment_of(&app);
    let staging = new_environment(&app, &app.org, "staging").await;
    deploy_ok(&app, production, project_id, json!({})).await;
    write(dir.path(), "websites/shop/index.html", "<h1>Shop v2</h1>");
    let (_, version) = create_project(&app, &app.org, dir.path()).await;
    assert_eq!(version, 2);
    deploy_ok(&app, staging, project_id, json!({"all_websites": "insert"})).await;

    // Staging holds version 2, production 1: production takes 2 from staging.
    deploy_ok(
        &app,
        production,
        project_id,
        json!({"source_environment": staging, "all_websites": "insert or update"}),
    )
    .await;
    let snapshot = environment_snapshot(&app, production).await;
    assert_eq!(snapshot["projects"], json!([format!("{project_id}:2")]));

    // Not newer any more: refused.
    let again = org_request(&app, Method::POST, &deploy_path(production, project_id))
        .json(&json!({"source_environment": staging.to_string()}))
        .send()
        .await
        .unwrap();
    assert_error(again, 409, 409, "which is not newer than version 2").await;

    let itself = org_request(&app, Method::POST, &deploy_path(production, project_id))
        .json(&json!({"source_environment": production}))
        .send()
        .await
        .unwrap();
    assert_error(
        itself,
        400,
        400,
        "source_environment: must be another environment",
    )
    .await;

    let other = create_org(&app.pool, "Other").await;
    let foreign = org_request(&app, Method::POST, &deploy_path(staging, project_id))
        .json(&json!({"source_environment": other.environment_id.0}))
        .send()
        .await
        .unwrap();
    assert_error(
        foreign,
        404,
        404,
        &format!("Environment {} does not exist", other.environment_id.0),
    )
    .await;

    let empty = new_environment(&app, &app.org, "empty").await;
    let not_held = org_request(&app, Method::POST, &deploy_path(production, project_id))
        .json(&json!({"source_environment": empty}))
        .send()
        .await
        .unwrap();
    assert_error(not_held, 404, 404, "does not hold project").await;
}

#[tokio::test]
async fn bad_requests_name_what_is_wrong_and_change_nothing() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    let before = environment_snapshot(&app, environment_id).await;
    let path = deploy_path(environment_id, project_id);
    let cases = [
        (
            json!({"all_tables": "upsert"}),
            "all_tables: 'upsert' is not an action",
        ),
        (
            json!({"tables": [{"name": "users", "action": "replace"}]}),
            "tables[0].action: 'replace' is not an action",
        ),
        (
            json!({"tables": [{"name": "nope"}]}),
            "tables[0].name: project 'Shop' (version 1) has no table 'nope'",
        ),
        (
            json!({"keystores": [{"keystore_id": "x\"; DROP TABLE keystores; --"}]}),
            "keystores[0].keystore_id: project 'Shop' (version 1) has no keystore",
        ),
        (
            json!({"websites": [{"slug": "../shop"}]}),
            "websites[0].slug: project 'Shop' (version 1) has no website '../shop'",
        ),
        (
            json!({"static_data": 3}),
            "static_data: expected \"yes\" or \"no\"",
        ),
        (json!({"colour": "red"}), "colour: is not a known field"),
        (json!([1, 2]), "body: expected an object"),
    ];
    for (options, expected) in cases {
        let response = org_request(&app, Method::POST, &path)
            .json(&options)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, expected).await;
    }
    let malformed = org_request(&app, Method::POST, &path)
        .body("{\"all_tables\":")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let xml = app
        .anonymous(Method::POST, &path)
        .header("X-Apikey", &app.org.organization_api_key)
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 415);
    for (path, expected) in [
        (
            deploy_path(environment_id, 999_999),
            "Project 999999 does not exist",
        ),
        (
            deploy_path(999_999, project_id),
            "Environment 999999 does not exist",
        ),
    ] {
        let response = org_request(&app, Method::POST, &path).send().await.unwrap();
        assert_error(response, 404, 404, expected).await;
    }
    for (path, expected) in [
        (
            format!("/v1/environment/{environment_id}/project/abc"),
            "project_id: must be a positive integer",
        ),
        (
            format!("/v1/environment/0/project/{project_id}"),
            "environment_id: must be a positive integer",
        ),
    ] {
        let response = org_request(&app, Method::POST, &path).send().await.unwrap();
        assert_error(response, 400, 400, expected).await;
    }
    assert_eq!(environment_snapshot(&app, environment_id).await, before);

    // An XML body reads like JSON.
    let response = org_request(&app, Method::POST, &path)
        .header("Content-Type", "application/xml")
        .body("<request><static_data>yes</static_data><tables><name>users</name><action>insert</action></tables></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(table_rows(&app, "users").await.len(), 2);
}

#[tokio::test]
async fn only_the_organization_key_of_the_owner_reaches_projects() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    let other = create_org(&app.pool, "Other").await;
    let before = environment_snapshot(&app, environment_id).await;
    let paths = [
        (
            Method::GET,
            format!("/v1/environment/{environment_id}/projects"),
        ),
        (Method::POST, deploy_path(environment_id, project_id)),
        (Method::DELETE, deploy_path(environment_id, project_id)),
    ];
    for (method, path) in &paths {
        // Another organization's key: the environment is not one of its own.
        let response = as_org(&app, &other, method.clone(), path)
            .send()
            .await
            .unwrap();
        assert_error(
            response,
            404,
            404,
            &format!("Environment {environment_id} does not exist"),
        )
        .await;
        // An application's credentials never reach the organization API.
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        let response = app.anonymous(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    // Org B cannot deploy org A's project into its own environment either.
    let response = as_org(
        &app,
        &other,
        Method::POST,
        &deploy_path(other.environment_id.0, project_id),
    )
    .send()
    .await
    .unwrap();
    assert_error(
        response,
        404,
        404,
        &format!("Project {project_id} does not exist"),
    )
    .await;
    assert_eq!(environment_snapshot(&app, environment_id).await, before);
    assert_eq!(
        environment_snapshot(&app, other.environment_id.0).await["projects"],
        json!([])
    );
}

#[tokio::test]
async fn removing_a_project_drops_its_websites_and_urls_and_keeps_its_data() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let environment_id = environment_of(&app);
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"all_websites": "insert", "all_tables": "insert"}),
    )
    .await;
    let mapped = org_request(
        &app,
        Method::POST,
        &format!("/v1/environment/{environment_id}/urls"),
    )
    .json(&json!([{"project_id": project_id, "url": "/shop", "name": "shop", "type": "website"}]))
    .send()
    .await
    .unwrap();
    assert_eq!(mapped.status(), 200);

    let (status, answer) = get_json(org_request(
        &app,
        Method::DELETE,
        &deploy_path(environment_id, project_id),
    ))
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["data"]["id"], environment_id.to_string());
    assert_eq!(answer["data"]["projects"], json!([]));
    let snapshot = environment_snapshot(&app, environment_id).await;
    assert_eq!(snapshot["files"], json!([]));
    assert_eq!(snapshot["urls"], json!([]));
    assert_eq!(
        snapshot["flows"],
        json!(["orders:public"]),
        "the runtime data stays"
    );
    assert_eq!(table_rows(&app, "users").await.len(), 2);

    let again = org_request(
        &app,
        Method::DELETE,
        &deploy_path(environment_id, project_id),
    )
    .send()
    .await
    .unwrap();
    assert_error(
        again,
        404,
        404,
        &format!("Project {project_id} is not in environment {environment_id}"),
    )
    .await;
    let unknown = org_request(&app, Method::DELETE, &deploy_path(environment_id, 424_242))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, 404, "Project 424242 does not exist").await;
    let (status, listed) = get_json(org_request(
        &app,
        Method::GET,
        &format!("/v1/environment/{environment_id}/projects"),
    ))
    .await;
    assert_eq!((status, listed), (200, json!({"code": 200, "data": []})));
    let unknown_environment = org_request(&app, Method::GET, "/v1/environment/987654/projects")
        .send()
        .await
        .unwrap();
    assert_error(
        unknown_environment,
        404,
        404,
        "Environment 987654 does not exist",
    )
    .await;
}

/// Two environments of one organization never mix: deploying into one leaves the other as it was.
#[tokio::test]
async fn environments_of_one_organization_stay_apart() {
    let app = spawn_app().await;
    let (_dir, project_id) = shop(&app).await;
    let production = environment_of(&app);
    let staging = new_environment(&app, &app.org, "staging").await;
    let before = environment_snapshot(&app, production).await;
    deploy_ok(
        &app,
        staging,
        project_id,
        json!({"all_keystores": "insert", "all_tables": "insert", "all_websites": "insert"}),
    )
    .await;
    assert_eq!(environment_snapshot(&app, production).await, before);
    let staged = environment_snapshot(&app, staging).await;
    assert_eq!(staged["entries"].as_array().unwrap().len(), 2);
    let (status, _) = keystore_entry(&app, "weather", "london").await;
    assert_eq!(
        status, 404,
        "the application of production does not see staging's keystore"
    );
}
