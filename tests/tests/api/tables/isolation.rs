//! Who may do what: credentials in every form, scopes, another organization (which sees and
//! changes nothing), and injection attempts in names, fields and values.

use super::*;

#[tokio::test]
async fn every_credential_form_works_and_scopes_are_enforced() {
    let app = spawn_app().await;
    people(&app).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "tables.read"),
    )
    .await;
    let outsider = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("outsider"), "record"),
    )
    .await;

    let read = app
        .as_app(&app.org, &reader, Method::GET, "/v1/tables/people/1")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let searched = app
        .as_app(&app.org, &reader, Method::POST, "/v1/tables/people/search")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(searched.status(), 200);
    let definitions = app
        .as_app(&app.org, &reader, Method::GET, "/v1/tabledefs")
        .send()
        .await
        .unwrap();
    assert_eq!(definitions.status(), 200);
    for (method, path, request) in [
        (Method::POST, "/v1/tables/people/", json!({"name": "x"})),
        (Method::POST, "/v1/tables/people/50", json!({"name": "x"})),
        (Method::PUT, "/v1/tables/people/1", json!({"name": "x"})),
        (
            Method::PUT,
            "/v1/tables/people/",
            json!({"columns": [], "where": {}}),
        ),
        (Method::DELETE, "/v1/tables/people/1", json!({})),
        (Method::POST, "/v1/tabledefs", json!({"name": "x"})),
        (
            Method::PUT,
            "/v1/tabledefs/people",
            json!({"add_indexes": ["score"]}),
        ),
        (Method::DELETE, "/v1/tabledefs/people", json!({})),
    ] {
        let response = app
            .as_app(&app.org, &reader, method.clone(), path)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_error(response, 403, 403, "The scope 'tables' is required").await;
    }
    let refused = app
        .as_app(&app.org, &outsider, Method::GET, "/v1/tables/people/1")
        .send()
        .await
        .unwrap();
    assert_error(refused, 403, 403, "The scope 'tables.read' is required").await;
    let anonymous = app
        .anonymous(Method::POST, "/v1/tables/people/search")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, 401, "Credentials are required").await;
    let wrong_key = app
        .anonymous(Method::GET, "/v1/tables/people/1")
        .header("X-Apikey", "not-a-key")
        .header("X-App", "crm")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), 401);

    // OAuth2 bearer tokens, with the scope asked for in X-Scopes.
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let tokens = app.tokens(&oauth).await;
    let bearer = app
        .anonymous(Method::POST, "/v1/tables/people/search")
        .header(
            "Authorization",
            format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .header("X-Scopes", "tables")
        .json(&json!({"where": rule("age", "=", json!(36))}))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    assert_eq!(ids(&body(bearer).await), [1, 6]);
    let bad_token = app
        .anonymous(Method::GET, "/v1/tables/people/1")
        .header("Authorization", "Bearer not.a.token")
        .send()
        .await
        .unwrap();
    assert_error(bad_token, 403, 436, "Access token not valid").await;

    // Credentials in the URL, for clients that cannot set headers.
    let by_url = app
        .anonymous(
            Method::GET,
            &format!(
                "/v1/tables/people/2?api_key={}&app_key=crm&scopes=tables",
                app.org.api_key
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 200);
    assert_eq!(body(by_url).await["data"][0]["name"], "Bob");
}

#[tokio::test]
async fn another_organization_sees_and_changes_nothing() {
    let app = spawn_app().await;
    people(&app).await;
    let globex = create_org(&app.pool, "Globex").await;
    let intruder = create_app(&app.pool, &globex, application("intruder")).await;
    let as_globex = |method: Method, path: &str| app.as_app(&globex, &intruder, method, path);

    let attempts = [
        (Method::GET, "/v1/tables/people/1", None),
        (Method::POST, "/v1/tables/people/search", Some(json!({}))),
        (
            Method::POST,
            "/v1/tables/people/",
            Some(json!({"name": "Mallory"})),
        ),
        (
            Method::POST,
            "/v1/tables/people/77",
            Some(json!({"name": "Mallory"})),
        ),
        (
            Method::PUT,
            "/v1/tables/people/1",
            Some(json!({"name": "Mallory"})),
        ),
        (
            Method::PUT,
            "/v1/tables/people/",
            Some(
                json!({"columns": [{"column_name": "name", "column_value": "M"}], "where": {"rules": []}}),
            ),
        ),
        (Method::DELETE, "/v1/tables/people/1", None),
        (Method::GET, "/v1/tabledefs/people", None),
        (
            Method::PUT,
            "/v1/tabledefs/people",
            Some(json!({"drop_columns": ["name"]})),
        ),
        (Method::DELETE, "/v1/tabledefs/people", None),
    ];
    for (method, path, request) in &attempts {
        let mut builder = as_globex(method.clone(), path);
        if let Some(request) = request {
            builder = builder.json(request);
        }
        let response = builder.send().await.unwrap();
        assert_error(response, 404, 404, "Table 'people' does not exist").await;
    }
    let listed = body(
        as_globex(Method::GET, "/v1/tabledefs")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["resource"], json!({"tables": [], "total": 0}));

    // Globex may have a table of the same name: it is another table.
    let response = as_globex(Method::POST, "/v1/tabledefs")
        .json(&json!({"name": "people", "columns": [{"name": "name", "type": "string"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let theirs = as_globex(Method::POST, "/v1/tables/people/")
        .json(&json!({"name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(theirs).await["data"][0]["id"], "1");
    let their_search = body(
        as_globex(Method::POST, "/v1/tables/people/search")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(their_search["max_results"], 1);
    let their_one = body(
        as_globex(Method::GET, "/v1/tables/people/1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(their_one["data"][0]["name"], "Mallory");
    let deleted = as_globex(Method::DELETE, "/v1/tables/people/1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = as_globex(Method::DELETE, "/v1/tabledefs/people")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 200);

    // Acme's table and rows are as they were.
    let ours = search(&app, "people", json!({})).await;
    assert_eq!(ids(&ours), [1, 2, 3, 4, 5, 6]);
    assert_eq!(ours["data"][0]["name"], "Ada");
    let definition = body(
        app.request(Method::GET, "/v1/tabledefs/people")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        definition["resource"]["columns"].as_array().unwrap().len(),
        8
    );
}

#[tokio::test]
async fn injection_attempts_reach_no_sql() {
    let app = spawn_app().await;
    people(&app).await;
    let catalog_before = count_rows(&app, "SELECT count(*) FROM data_table_columns").await;
    for table in [
        "people'--",
        "people%22%3B%20DROP%20TABLE%20data_tables%3B--",
        "people;DROP TABLE data_tables",
        "tbl_1",
        "flowline_tables.tbl_1",
        "pg_class",
        "..%2Fpeople",
        "PEOPLE",
    ] {
        let read = app
            .request(Method::GET, &format!("/v1/tables/{table}/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 404, "{table}");
        let searched = post(&app, &format!("/v1/tables/{table}/search"), &json!({})).await;
        assert_eq!(searched.status(), 404, "{table}");
        let definition = app
            .request(Method::GET, &format!("/v1/tabledefs/{table}"))
            .send()
            .await
            .unwrap();
        assert_eq!(definition.status(), 404, "{table}");
    }
    for (row, message) in [
        (
            json!({"name\"); DROP TABLE data_tables; --": "x"}),
            "unknown column",
        ),
        (json!({"c_1": "x"}), "c_1: unknown column 'c_1'"),
        (
            json!({"columns": [{"column_name": "age = 0 --", "column_value": 1}]}),
            "columns[0].column_name: unknown column",
        ),
    ] {
        let response = post(&app, "/v1/tables/people/", &row).await;
        assert_error(response, 400, 400, message).await;
    }
    let definitions = [
        json!({"name": "evil", "columns": [{"name": "x text); DROP TABLE data_tables; --", "type": "string"}]}),
        json!({"name": "evil", "columns": [{"name": "x", "type": "text); DROP TABLE data_tables; --"}]}),
    ];
    for definition in definitions {
        let response = post(&app, "/v1/tabledefs", &definition).await;
        assert_error(response, 400, 400, "columns[0].").await;
    }

    // Values are data, whatever they hold.
    let hostile = "'); DROP TABLE data_tables; --\\";
    let row = insert(
        &app,
        "people",
        json!({"name": hostile, "nick": "$1", "meta": {"'": "\""}}),
    )
    .await;
    assert_eq!(row["name"], hostile);
    let found = search(
        &app,
        "people",
        json!({"where": rule("name", "=", json!(hostile))}),
    )
    .await;
    assert_eq!(ids(&found), [7]);
    let pattern = search(
        &app,
        "people",
        json!({"where": rule("name", "contains", json!("'); DROP"))}),
    )
    .await;
    assert_eq!(ids(&pattern), [7]);
    let dollar = search(
        &app,
        "people",
        json!({"where": rule("nick", "in", json!(["$1", "$2"]))}),
    )
    .await;
    assert_eq!(ids(&dollar), [7]);

    assert_eq!(row_count(&app, "people").await, 7);
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM data_table_columns").await,
        catalog_before
    );
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM data_tables").await,
        1
    );
}
