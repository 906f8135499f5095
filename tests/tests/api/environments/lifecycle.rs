//! Create, read, upgrade, update, optimize and delete, with the statuses the jobs drive.

use super::*;

#[tokio::test]
async fn an_environment_is_created_in_the_background_with_the_documented_shape() {
    let (app, runner) = spawn().await;
    let created = create_environment(
        &app,
        &app.org,
        json!({"name": "My new environment", "description": "Description of My new environment",
               "package": "SS-A", "region": "london", "timezone": "Europe/London"}),
    )
    .await;
    let mut expected: Vec<&str> = ENVIRONMENT_FIELDS.to_vec();
    expected.pop(); // The 201 carries no stats.
    assert_eq!(keys(&created), expected, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "My new environment");
    assert_eq!(created["description"], "Description of My new environment");
    assert_eq!(created["status"], "creating");
    assert_eq!(created["projects"], json!([]));
    assert_eq!(
        created["package"],
        json!({"name": "Single Server A", "code": "SS-A"})
    );
    assert_eq!(
        created["info"],
        json!({"frontend_url": "", "api_url": "", "html_url": "", "timezone": "Europe/London"})
    );
    assert_eq!(created["base_storage"], 20);
    assert_eq!(created["total_storage"], 20);
    assert_eq!(created["storage_addons"], json!([]));
    assert_eq!(
        keys(&created["software"]["current_version"]),
        ["version", "date_created", "blocking_update", "changelog"]
    );
    assert_eq!(created["ip"], "127.0.0.1");
    assert!(
        flowline_core::time::parse_api_date(created["date_created"].as_str().unwrap()).is_some()
    );

    wait_for_status(&app, &app.org, &id, "ready").await;
    let read = ok_json(
        as_org(
            &app,
            &app.org,
            Method::GET,
            &format!("/v1/environment/{id}"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let mut with_certificate = ENVIRONMENT_FIELDS.to_vec();
    with_certificate.push("ssl_certificate");
    assert_eq!(keys(&read), with_certificate, "{read}");
    assert_eq!(read["status"], "ready");
    assert_eq!(read["active"], 1);
    assert_eq!(read["ssl_certificate"], Value::Null);
    let host = app.address.to_string();
    assert_eq!(
        read["info"],
        json!({"frontend_url": host, "api_url": format!("{host}/v1"),
               "html_url": format!("{host}/sites/{id}"), "timezone": "Europe/London"})
    );
    assert_eq!(
        read["software"]["current_version"]["version"],
        flowline_environments::SERVER_VERSION
    );
    assert_eq!(read["software"]["current_version"]["blocking_update"], 0);
    assert_eq!(
        keys(&read["stats"]),
        [
            "status",
            "current_storage",
            "visits",
            "records",
            "batches",
            "webhooks",
            "tasks",
            "avg_performance",
            "peak_performance"
        ]
    );
    assert_eq!(read["stats"]["records"], 0);
    assert_eq!(read["stats"]["status"], "OK");
    assert_eq!(
        keys(&read["storage_info"]),
        ["used", "total", "used_percentage", "available_percentage"]
    );
    assert_eq!(read["storage_info"]["total"], 20);
    // The package's quotas are on the row, where the scheduler and the gateway read them.
    let quotas: (i32, i32, String, String) = sqlx::query_as(
        "SELECT max_concurrent_runs, requests_per_minute, region, timezone FROM environments \
         WHERE environment_id = $1",
    )
    .bind(id.parse::<i64>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(quotas, (256, 6000, "london".into(), "Europe/London".into()));

    let listed = ok_json(
        as_org(&app, &app.org, Method::GET, "/v1/environment")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(keys(&listed[1]), ENVIRONMENT_FIELDS.to_vec());
    assert_eq!(listed[1]["id"], id.as_str());
    // The default environment of an organization that existed before is ready, on SS-A, and
    // its version predates this server's until it is updated.
    assert_eq!(listed[0]["status"], "ready");
    assert_eq!(listed[0]["package"]["code"], "SS-A");
    assert_eq!(
        listed[0]["software"]["current_version"]["blocking_update"],
        1
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn bad_creations_are_refused_naming_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let good = json!({"name": "staging", "package": "SS-B", "region": "amsterdam"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        (without("name"), 400, "name: is required"),
        (without("package"), 400, "package: is required"),
        (without("region"), 400, "region: is required"),
        (
            with("package", json!("SS-Z")),
            400,
            "package: unknown package 'SS-Z'",
        ),
        (
            with("region", json!("mars")),
            400,
            "region: unknown region 'mars'",
        ),
        (
            with("timezone", json!("Europe/Atlantis")),
            400,
            "timezone: unknown timezone",
        ),
        (
            with("timezone", json!("'; DROP TABLE environments; --")),
            400,
            "timezone:",
        ),
        (
            with("name", json!("x".repeat(129))),
            400,
            "name: must be 1 to 128",
        ),
        (with("name", json!(42)), 400, "name: invalid type"),
        (
            with("description", json!("d".repeat(1025))),
            400,
            "description:",
        ),
        (with("owner", json!("me")), 400, "unknown field `owner`"),
        (
            with("name", json!("production")),
            409,
            "an environment named 'production' already exists",
        ),
    ];
    for (body, status, message) in cases {
        let response = as_org(&app, &app.org, Method::POST, "/v1/environment")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, status, status, message).await;
    }
    let malformed = as_org(&app, &app.org, Method::POST, "/v1/environment/")
        .header("Content-Type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let array = as_org(&app, &app.org, Method::POST, "/v1/environment")
        .json(&json!([good]))
        .send()
        .await
        .unwrap();
    assert_error(array, 400, 400, "body: must be a JSON object").await;
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM environments").await,
        1
    );
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM environment_jobs").await,
        0
    );

    // The reference's path with its trailing slash, and an XML body, work too.
    let xml = as_org(&app, &app.org, Method::POST, "/v1/environment/")
        .header("Content-Type", "application/xml")
        .header("Accept", "application/json")
        .body("<environment><name>qa</name><package>SS-C</package><region>New York</region></environment>")
        .send()
        .await
        .unwrap();
    let created = ok_json(xml, 201).await;
    assert_eq!(created["package"]["code"], "SS-C");
    assert_eq!(created["info"]["timezone"], "Europe/Amsterdam");
    assert_eq!(created["base_storage"], 80);

    // No job runner here: the environment stays `creating`, and every change waits for it.
    let id = created["id"].as_str().unwrap();
    for (method, suffix) in [
        (Method::POST, "/upgrade"),
        (Method::POST, "/update-version"),
        (Method::POST, "/optimize"),
        (Method::DELETE, ""),
    ] {
        let response = as_org(
            &app,
            &app.org,
            method,
            &format!("/v1/environment/{id}{suffix}"),
        )
        .json(&json!({"package": "SS-D"}))
        .send()
        .await
        .unwrap();
        let status = response.status().as_u16();
        if suffix == "/update-version" || suffix == "/optimize" {
            assert_error(response, 400, 400, "body: this call takes no parameters").await;
            let response = as_org(
                &app,
                &app.org,
                Method::POST,
                &format!("/v1/environment/{id}{suffix}"),
            )
            .send()
            .await
            .unwrap();
            assert_error(response, 409, 409, "is creating: retry when it is ready").await;
        } else {
            assert_eq!(status, 409);
            assert_error(response, 409, 409, "is creating: retry when it is ready").await;
        }
    }
    let package: String = sqlx::query_scalar("SELECT package FROM environments WHERE name = 'qa'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(package, "SS-C");
}

#[tokio::test]
async fn upgrades_updates_and_optimization_run_as_jobs() {
    let (app, runner) = spawn().await;
    let id = ready_environment(&app, &app.org, "staging").await;
    let path = |suffix: &str| format!("/v1/environment/{id}{suffix}");

    let upgraded = ok_json(
        as_org(&app, &app.org, Method::POST, &path("/upgrade"))
            .json(&json!({"package": "SS-B", "storage": 7}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(upgraded["status"], "upgrading");
    assert_eq!(
        upgraded["package"],
        json!({"name": "Single Server B", "code": "SS-B"})
    );
    assert_eq!(upgraded["base_storage"], 40);
    assert!(upgraded.get("stats").is_none());
    wait_for_status(&app, &app.org, &id, "ready").await;
    let runs: i32 = sqlx::query_scalar(
        "SELECT max_concurrent_runs FROM environments WHERE environment_id = $1",
    )
    .bind(id.parse::<i64>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(runs, 512);

    let storage = ok_json(
        as_org(&app, &app.org, Method::POST, &path("/upgrade"))
            .json(&json!({"storage": 100}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(storage["total_storage"], 140);
    assert_eq!(storage["storage_addons"][0]["storage"], 100);
    wait_for_status(&app, &app.org, &id, "ready").await;

    for (body, message) in [
        (
            json!({"package": "SS-A"}),
            "package: SS-A is not an upgrade of the environment's package SS-B",
        ),
        (
            json!({"package": "SS-B"}),
            "package: SS-B is not an upgrade",
        ),
        (json!({"package": "XL"}), "package: unknown package 'XL'"),
        (json!({"storage": 50}), "storage: must be 100"),
        (json!({"storage": "lots"}), "storage: must be 100"),
        (json!({}), "package: is required (or storage: 100)"),
    ] {
        let response = as_org(&app, &app.org, Method::POST, &path("/upgrade"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, message).await;
    }

    let updating = ok_json(
        as_org(&app, &app.org, Method::POST, &path("/update-version"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(updating["status"], "updating");
    wait_for_status(&app, &app.org, &id, "ready").await;
    let with_body = as_org(&app, &app.org, Method::POST, &path("/update-version"))
        .json(&json!({"version": "v.1"}))
        .send()
        .await
        .unwrap();
    assert_error(with_body, 400, 400, "body: this call takes no parameters").await;

    // Optimize prunes step-log entries past the retention (a day here), keeps newer ones, and
    // touches no other environment's.
    let environment_id: i64 = id.parse().unwrap();
    for (environment, age_days) in [
        (environment_id, 3),
        (environment_id, 0),
        (app.org.environment_id.0, 3),
    ] {
        sqlx::query(
            "INSERT INTO record_step_log (org_id, environment_id, record_id, step_id, step_type, \
               attempt, started_at, finished_at, outcome) \
             VALUES ($1, $2, 1, 's', 'set', 1, now() - make_interval(days => $3), \
               now() - make_interval(days => $3), 'ok')",
        )
        .bind(app.org.org_id)
        .bind(environment)
        .bind(age_days)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let optimizing = ok_json(
        as_org(&app, &app.org, Method::POST, &path("/optimize"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(optimizing["status"], "updating");
    wait_for_status(&app, &app.org, &id, "ready").await;
    let left: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT environment_id, finished_at < now() - interval '1 day' FROM record_step_log \
         ORDER BY environment_id, log_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        left,
        [(app.org.environment_id.0, true), (environment_id, false)]
    );
    let vacuumed: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT greatest(last_vacuum, last_autovacuum) FROM pg_stat_user_tables WHERE relname = 'record_step_log'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(vacuumed.is_some(), "optimize vacuums the step log");
    runner.shutdown().await;
}

#[tokio::test]
async fn deletion_is_refused_while_records_run_and_then_removes_every_row() {
    let (app, runner) = spawn().await;
    let id = ready_environment(&app, &app.org, "doomed").await;
    let environment_id: i64 = id.parse().unwrap();
    // An application of the environment fills it: a flow and records, a keystore, a table.
    let tenant_app = create_app(
        &app.pool,
        &app.org,
        flowline_auth::NewApplication {
            name: "doomed-app".into(),
            environment_id: Some(flowline_core::EnvironmentId(environment_id)),
            ..Default::default()
        },
    )
    .await;
    let send = |method: Method, path: &str, body: Value| {
        app.as_app(&app.org, &tenant_app, method, path)
            .json(&body)
            .send()
    };
    let flow = send(
        Method::POST,
        "/v1/flowdiagram",
        json!({"name": "f", "start": "done", "steps": {"done": {"type": "end"}}}),
    )
    .await
    .unwrap();
    assert_eq!(flow.status(), 201);
    let flow_id = body(flow).await["resource"]["flow_id"].as_i64().unwrap();
    let published = app
        .as_app(&app.org, &tenant_app, Method::PUT, "/v1/changeflowstatus")
        .header("X-Flow-Id", flow_id.to_string())
        .header("X-Status", "public")
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let pushed = app
        .as_app(&app.org, &tenant_app, Method::POST, "/v1/record")
        .header("X-Flow", "f")
        .json(&json!([{"n": 1}, {"n": 2}]))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201);
    assert_eq!(
        send(
            Method::POST,
            "/v1/keystores",
            json!({"keystore_id": "kv", "type": "json"})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    assert_eq!(
        send(Method::PUT, "/v1/keystore/kv/a", json!({"v": 1}))
            .await
            .unwrap()
            .status()
            .as_u16()
            / 100,
        2
    );
    assert_eq!(
        send(
            Method::POST,
            "/v1/tabledefs",
            json!({"name": "t", "columns": [{"name": "c", "type": "string"}]})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    assert!(
        send(Method::POST, "/v1/tables/t/", json!({"c": "x"}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let table_id: i64 =
        sqlx::query_scalar("SELECT table_id FROM data_tables WHERE environment_id = $1")
            .bind(environment_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();

    // A record being processed blocks the deletion, unless forced.
    sqlx::query("UPDATE records SET status = 1 WHERE environment_id = $1")
        .bind(environment_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let refused = as_org(
        &app,
        &app.org,
        Method::DELETE,
        &format!("/v1/environment/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_error(refused, 409, 409, "2 data records of environment").await;
    let bad_force = as_org(
        &app,
        &app.org,
        Method::DELETE,
        &format!("/v1/environment/{id}?force=yes"),
    )
    .send()
    .await
    .unwrap();
    assert_error(bad_force, 400, 400, "force: must be 0 or 1").await;
    let default = as_org(
        &app,
        &app.org,
        Method::DELETE,
        &format!("/v1/environment/{}?force=1", app.org.environment_id),
    )
    .send()
    .await
    .unwrap();
    assert_error(
        default,
        409,
        409,
        "default environment and cannot be deleted",
    )
    .await;

    let deleting = ok_json(
        as_org(
            &app,
            &app.org,
            Method::DELETE,
            &format!("/v1/environment/{id}?force=1"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(deleting, json!({"id": id, "status": "deleting"}));
    wait_for_status(&app, &app.org, &id, "deleted").await;
    let gone = as_org(
        &app,
        &app.org,
        Method::GET,
        &format!("/v1/environment/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_error(gone, 404, 404, "does not exist").await;

    // No row of the environment is left in any table that has an environment_id, its
    // application cannot authenticate, and its physical table is dropped.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.table_schema = 'public' AND c.column_name = 'environment_id' \
           AND t.table_type = 'BASE TABLE' AND c.table_name NOT IN ('environment_tombstones')",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(tables.contains(&"records".to_owned()) && tables.contains(&"applications".to_owned()));
    for table in tables {
        let sql = format!("SELECT count(*) FROM \"{table}\" WHERE environment_id = $1");
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(environment_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "rows of the deleted environment left in {table}");
    }
    let physical: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(format!("flowline_tables.tbl_{table_id}"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(physical, None);
    let locked_out = app
        .as_app(&app.org, &tenant_app, Method::GET, "/v1/keystores")
        .send()
        .await
        .unwrap();
    assert_error(locked_out, 401, 401, "The credentials are not valid").await;
    // The organization's other environment kept everything.
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM environments").await,
        1
    );
    runner.shutdown().await;
}
