//! Who may call the organization API: the organization API key, and nobody else's.

use super::*;

#[tokio::test]
async fn the_organization_key_opens_the_organization_endpoints_and_nothing_else_does() {
    let app = spawn_app().await;
    let listed = as_org(&app, &app.org, Method::GET, "/v1/environment")
        .send()
        .await
        .unwrap();
    assert!(listed.headers().contains_key("x-ratelimit-limit"));
    let listed = ok_json(listed, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], app.org.environment_id.0.to_string());
    assert_eq!(listed[0]["name"], "production");

    // The same key in the URL, as for clients that cannot set headers.
    let path = format!("/v1/environment?api_key={}", app.org.organization_api_key);
    let by_url = app.anonymous(Method::GET, &path).send().await.unwrap();
    assert_eq!(ok_json(by_url, 200).await, listed);

    let missing = app
        .anonymous(Method::GET, "/v1/environment")
        .send()
        .await
        .unwrap();
    assert_error(missing, 401, 401, "organization API key").await;
    let wrong = app
        .anonymous(Method::GET, "/v1/environment")
        .header("X-Apikey", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, 401, "The credentials are not valid").await;

    // The applications' key alone, with X-App, in the URL with app_key, and a bearer token.
    let application_key = app
        .anonymous(Method::GET, "/v1/environment")
        .header("X-Apikey", &app.org.api_key)
        .send()
        .await
        .unwrap();
    assert_error(application_key, 403, 403, "Application credentials").await;
    let with_app = app
        .request(Method::GET, "/v1/environment")
        .send()
        .await
        .unwrap();
    assert_error(with_app, 403, 403, "Application credentials").await;
    let org_key_and_app = as_org(&app, &app.org, Method::GET, "/v1/environment")
        .header("X-App", &app.app.app_key)
        .send()
        .await
        .unwrap();
    assert_error(org_key_and_app, 403, 403, "Application credentials").await;
    let path = format!(
        "/v1/environment/{}/status?api_key={}&app_key=crm",
        app.org.environment_id, app.org.api_key
    );
    let url_app = app.anonymous(Method::GET, &path).send().await.unwrap();
    assert_error(url_app, 403, 403, "Application credentials").await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("portal")).await;
    let token = app.tokens(&oauth).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = app
        .anonymous(Method::GET, "/v1/environment")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(bearer, 403, 403, "Application credentials").await;
    let secret = app
        .anonymous(Method::POST, "/v1/environment")
        .header("client_id", &oauth.client_id)
        .header("client_secret", &oauth.client_secret)
        .json(&json!({"name": "x", "package": "SS-A", "region": "london"}))
        .send()
        .await
        .unwrap();
    assert_error(secret, 403, 403, "Application credentials").await;
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM environments").await,
        1
    );
}

#[tokio::test]
async fn the_organization_key_opens_no_application_route() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/v1/schema"),
        (Method::GET, "/v1/keystores"),
        (Method::POST, "/v1/record"),
        (Method::GET, "/v1/tabledefs"),
    ] {
        let alone = as_org(&app, &app.org, method.clone(), path)
            .send()
            .await
            .unwrap();
        assert_error(alone, 401, 401, "X-App").await;
        let with_app = as_org(&app, &app.org, method.clone(), path)
            .header("X-App", &app.app.app_key)
            .send()
            .await
            .unwrap();
        assert_error(with_app, 401, 401, "The credentials are not valid").await;
        let url = format!(
            "{path}?api_key={}&app_key={}",
            app.org.organization_api_key, app.app.app_key
        );
        let by_url = app.anonymous(method, &url).send().await.unwrap();
        assert_error(by_url, 401, 401, "The credentials are not valid").await;
    }
}

#[tokio::test]
async fn another_organization_sees_and_changes_nothing() {
    let (app, runner) = spawn().await;
    let ours = ready_environment(&app, &app.org, "staging").await;
    let globex = create_org(&app.pool, "Globex").await;
    let theirs = ok_json(
        as_org(&app, &globex, Method::GET, "/v1/environment")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["id"], globex.environment_id.0.to_string());

    let before: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, status, package FROM environments ORDER BY environment_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for id in [ours.clone(), app.org.environment_id.0.to_string()] {
        let attempts = [
            as_org(&app, &globex, Method::GET, &format!("/v1/environment/{id}")),
            as_org(
                &app,
                &globex,
                Method::GET,
                &format!("/v1/environment/{id}/status"),
            ),
            as_org(
                &app,
                &globex,
                Method::DELETE,
                &format!("/v1/environment/{id}?force=1"),
            ),
            as_org(
                &app,
                &globex,
                Method::POST,
                &format!("/v1/environment/{id}/upgrade"),
            )
            .json(&json!({"package": "SS-D"})),
            as_org(
                &app,
                &globex,
                Method::POST,
                &format!("/v1/environment/{id}/update-version"),
            ),
            as_org(
                &app,
                &globex,
                Method::POST,
                &format!("/v1/environment/{id}/optimize"),
            ),
            as_org(
                &app,
                &globex,
                Method::POST,
                &format!("/v1/environment/{id}"),
            )
            .multipart(reqwest::multipart::Form::new().text("name", "stolen")),
        ];
        for attempt in attempts {
            let response = attempt.send().await.unwrap();
            assert_error(
                response,
                404,
                404,
                &format!("Environment {id} does not exist"),
            )
            .await;
        }
    }
    let after: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, status, package FROM environments ORDER BY environment_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(before, after);
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM environment_jobs").await,
        0
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn a_bad_environment_id_is_named() {
    let app = spawn_app().await;
    for bad in ["abc", "0", "-1", "1%27%20OR%201=1", "99999999999999999999"] {
        let response = as_org(
            &app,
            &app.org,
            Method::GET,
            &format!("/v1/environment/{bad}"),
        )
        .send()
        .await
        .unwrap();
        assert_error(
            response,
            400,
            400,
            "environment_id: must be a positive integer",
        )
        .await;
    }
    let unknown = as_org(&app, &app.org, Method::GET, "/v1/environment/424242/status")
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, 404, "Environment 424242 does not exist").await;
}
