//! `GET`, `POST` and `DELETE /v1/environment/{id}/urls`.

use super::*;

fn urls_path(environment_id: i64) -> String {
    format!("/v1/environment/{environment_id}/urls")
}

async fn deployed_shop(app: &TestApp) -> (tempfile::TempDir, i64, i64) {
    let (dir, project_id) = shop(app).await;
    let environment_id = app.org.environment_id.0;
    deploy_ok(
        app,
        environment_id,
        project_id,
        json!({"all_websites": "insert"}),
    )
    .await;
    (dir, project_id, environment_id)
}

#[tokio::test]
async fn mappings_are_added_updated_listed_and_removed_in_the_reference_shape() {
    let app = spawn_app().await;
    let (_dir, project_id, environment_id) = deployed_shop(&app).await;
    let path = urls_path(environment_id);
    let (status, empty) = get_json(org_request(&app, Method::GET, &path)).await;
    assert_eq!(
        (status, empty),
        (200, json!({"data": {"urls_mapped": []}, "code": 200}))
    );

    let (status, added) = get_json(org_request(&app, Method::POST, &path).json(&json!([
        {"project_id": project_id, "url": "/", "name": "shop", "type": "website"},
        {"project_id": project_id, "url": "/landing", "name": "landing", "type": "hostedpage"},
    ])))
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["code"], 200);
    let mapped = added["data"]["urls_mapped"].as_array().unwrap();
    assert_eq!(mapped.len(), 2);
    assert_eq!(mapped[0]["url"], "/");
    assert_eq!(mapped[0]["project_id"], project_id);
    assert_eq!(mapped[0]["name"], "shop");
    assert_eq!(mapped[0]["type"], "website");
    assert_eq!(mapped[1]["url"], "/landing/");
    assert_eq!(mapped[1]["type"], "hostedpage");
    let mut keys: Vec<&str> = mapped[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "date_created",
            "date_updated",
            "name",
            "project_id",
            "type",
            "url"
        ]
    );

    // The same URL again points it elsewhere.
    let (status, updated) = get_json(org_request(&app, Method::POST, &path).json(&json!(
        [{"project_id": project_id.to_string(), "url": "/", "name": "blog", "type": "website"}]
    )))
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["data"]["urls_mapped"][0]["name"], "blog");
    assert_eq!(updated["data"]["urls_mapped"].as_array().unwrap().len(), 2);

    let (status, left) = get_json(org_request(&app, Method::DELETE, &path).json(&json!(
        [{"project_id": project_id, "url": "/landing/", "type": "hostedpage"}]
    )))
    .await;
    assert_eq!(status, 200);
    assert_eq!(left["data"]["urls_mapped"].as_array().unwrap().len(), 1);
    let (_, listed) = get_json(org_request(&app, Method::GET, &path)).await;
    assert_eq!(listed, left);
}

#[tokio::test]
async fn bad_mappings_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (_dir, project_id, environment_id) = deployed_shop(&app).await;
    let path = urls_path(environment_id);
    let other_project = {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "project.json", r#"{"name": "Other"}"#);
        write(dir.path(), "websites/site/index.html", "x");
        create_project(&app, &app.org, dir.path()).await.0
    };
    let good = json!({"project_id": project_id, "url": "/ok", "name": "shop", "type": "website"});
    let cases = [
        (
            json!([good, {"project_id": other_project, "url": "/o", "name": "site", "type": "website"}]),
            format!(
                "body[1].project_id: project {other_project} is not in environment {environment_id}"
            ),
        ),
        (
            json!([{"project_id": project_id, "url": "/x", "name": "nope", "type": "website"}]),
            format!("body[0].name: project {project_id} has no website 'nope'"),
        ),
        (
            json!([{"project_id": project_id, "url": "/x", "name": "shop", "type": "hostedpage"}]),
            format!("body[0].name: project {project_id} has no hosted page 'shop'"),
        ),
        (
            json!([{"project_id": project_id, "url": "/../etc", "name": "shop", "type": "website"}]),
            "body[0].url: '/../etc' is not a relative URL".to_owned(),
        ),
        (
            json!([{"project_id": project_id, "url": "/a'; DROP TABLE environment_urls; --", "name": "shop", "type": "website"}]),
            "body[0].url: ".to_owned(),
        ),
        (
            json!([{"project_id": project_id, "url": "/x", "name": "shop", "type": "page"}]),
            "body[0].type: 'page' is not a type of content".to_owned(),
        ),
        (
            json!([{"url": "/x", "name": "shop", "type": "website"}]),
            "body[0].project_id: is required".to_owned(),
        ),
        (
            json!({"urls": []}),
            "body[0].urls: is not a known field".to_owned(),
        ),
        (json!([]), "body: name at least one URL".to_owned()),
    ];
    for (request, expected) in cases {
        let response = org_request(&app, Method::POST, &path)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, 400, &expected).await;
    }
    let malformed = org_request(&app, Method::POST, &path)
        .body("[{")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, 400, "body: malformed JSON").await;
    let missing = org_request(&app, Method::DELETE, &path)
        .json(&json!([{"project_id": project_id, "url": "/nothing", "type": "website"}]))
        .send()
        .await
        .unwrap();
    assert_error(
        missing,
        404,
        404,
        "body[0]: the URL '/nothing/' does not map a website",
    )
    .await;
    let (_, listed) = get_json(org_request(&app, Method::GET, &path)).await;
    assert_eq!(
        listed["data"]["urls_mapped"],
        json!([]),
        "the good item was not kept either"
    );
}

#[tokio::test]
async fn another_organization_sees_and_changes_no_mapping() {
    let app = spawn_app().await;
    let (_dir, project_id, environment_id) = deployed_shop(&app).await;
    let path = urls_path(environment_id);
    let mapping =
        json!([{"project_id": project_id, "url": "/", "name": "shop", "type": "website"}]);
    let (status, _) = get_json(org_request(&app, Method::POST, &path).json(&mapping)).await;
    assert_eq!(status, 200);
    let other = create_org(&app.pool, "Other").await;
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let response = as_org(&app, &other, method.clone(), &path)
            .json(&mapping)
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
        let response = app
            .request(method.clone(), &path)
            .json(&mapping)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            403,
            "application credentials on {method}"
        );
    }
    // Nor can it map org A's project in its own environment.
    let response = as_org(
        &app,
        &other,
        Method::POST,
        &urls_path(other.environment_id.0),
    )
    .json(&mapping)
    .send()
    .await
    .unwrap();
    assert_error(response, 400, 400, "is not in environment").await;
    let (_, listed) = get_json(org_request(&app, Method::GET, &path)).await;
    assert_eq!(listed["data"]["urls_mapped"].as_array().unwrap().len(), 1);
}
