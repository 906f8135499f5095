//! The public sites: `/sites/{environment_id}/…` serves what the URL mappings map.

use super::*;
use reqwest::redirect::Policy;

async fn mapped_shop(app: &TestApp) -> (tempfile::TempDir, i64, i64) {
    let (dir, project_id) = shop(app).await;
    let environment_id = app.org.environment_id.0;
    deploy_ok(
        app,
        environment_id,
        project_id,
        json!({"all_websites": "insert"}),
    )
    .await;
    let (status, answer) = get_json(
        org_request(
            app,
            Method::POST,
            &format!("/v1/environment/{environment_id}/urls"),
        )
        .json(&json!([
            {"project_id": project_id, "url": "/shop/", "name": "shop", "type": "website"},
            {"project_id": project_id, "url": "/", "name": "blog", "type": "website"},
            {"project_id": project_id, "url": "/landing", "name": "landing", "type": "hostedpage"},
        ])),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    (dir, project_id, environment_id)
}

fn no_redirects() -> reqwest::Client {
    flowline_scheduler::install_tls_provider();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    no_redirects().get(app.url(path)).send().await.unwrap()
}

/// Sends `path` exactly as written (an HTTP client would resolve its dot segments first);
/// returns the status and the body.
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"));
    (status, answer)
}

#[tokio::test]
async fn mapped_files_are_served_with_their_type_and_validators() {
    let app = spawn_app().await;
    let (_dir, _, environment_id) = mapped_shop(&app).await;
    let site = format!("/sites/{environment_id}");
    let cases = [
        ("/shop/", "<h1>Shop</h1>", "text/html; charset=utf-8"),
        (
            "/shop/index.html",
            "<h1>Shop</h1>",
            "text/html; charset=utf-8",
        ),
        (
            "/shop/css/site.css",
            "h1 { color: red }",
            "text/css; charset=utf-8",
        ),
        ("/shop/docs/", "<p>docs</p>", "text/html; charset=utf-8"),
        ("/", "<h1>Blog</h1>", "text/html; charset=utf-8"),
        ("/landing/", "<p>landing</p>", "text/html; charset=utf-8"),
    ];
    for (path, content, content_type) in cases {
        let response = fetch(&app, &format!("{site}{path}")).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["cache-control"], "public, no-cache");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.get("last-modified").is_some());
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag.len(), 66, "a quoted SHA-256: {etag}");
        assert_eq!(response.text().await.unwrap(), content);
        let revalidated = no_redirects()
            .get(app.url(&format!("{site}{path}")))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304, "{path}");
        assert_eq!(revalidated.headers()["etag"], etag.as_str());
        assert!(revalidated.text().await.unwrap().is_empty());
        let stale = no_redirects()
            .get(app.url(&format!("{site}{path}")))
            .header("If-None-Match", "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200);
    }
    let head = no_redirects()
        .head(app.url(&format!("{site}/shop/")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn directories_without_their_slash_are_redirected() {
    let app = spawn_app().await;
    let (_dir, _, environment_id) = mapped_shop(&app).await;
    for (path, location) in [
        (
            format!("/sites/{environment_id}"),
            format!("/sites/{environment_id}/"),
        ),
        (
            format!("/sites/{environment_id}/shop"),
            format!("/sites/{environment_id}/shop/"),
        ),
        (
            format!("/sites/{environment_id}/shop/docs"),
            format!("/sites/{environment_id}/shop/docs/"),
        ),
        (
            format!("/sites/{environment_id}/landing"),
            format!("/sites/{environment_id}/landing/"),
        ),
    ] {
        let response = fetch(&app, &path).await;
        assert_eq!(response.status(), 301, "{path}");
        assert_eq!(response.headers()["location"], location.as_str());
    }
}

#[tokio::test]
async fn unmapped_paths_and_escapes_are_not_found() {
    let app = spawn_app().await;
    let (_dir, _, environment_id) = mapped_shop(&app).await;
    let site = format!("/sites/{environment_id}");
    for path in [
        format!("{site}/shop/missing.html"),
        format!("{site}/landing/other"),
        format!("{site}/shop/../index.html"),
        format!("{site}/shop/./index.html"),
        format!("{site}/shop/..%2F..%2Fblog/index.html"),
        format!("{site}/shop/%2e%2e/index.html"),
        format!("{site}/shop/css/..%2fsite.css"),
        format!("{site}/shop//index.html"),
        format!("{site}/shop/%00"),
        format!("{site}/shop/..%5Cindex.html"),
        format!("{site}/shop/css/%2e%2e%2f%2e%2e%2fdocs/index.html"),
        "/sites/999999/".to_owned(),
        "/sites/abc/".to_owned(),
        "/sites/0/shop/".to_owned(),
    ] {
        let (status, answer) = raw_get(&app, &path).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(
            !answer.contains("<h1>") && !answer.contains("<p>"),
            "{path} served a page: {answer}"
        );
    }
    // The public site of an environment without mappings serves nothing.
    let staging = new_environment(&app, &app.org, "staging").await;
    assert_eq!(
        fetch(&app, &format!("/sites/{staging}/")).await.status(),
        404
    );
}

#[tokio::test]
async fn a_new_deploy_changes_what_is_served() {
    let app = spawn_app().await;
    let (dir, project_id, environment_id) = mapped_shop(&app).await;
    let url = format!("/sites/{environment_id}/shop/");
    let first = fetch(&app, &url).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    write(dir.path(), "websites/shop/index.html", "<h1>Shop 2</h1>");
    std::fs::remove_dir_all(dir.path().join("websites/blog")).unwrap();
    let (_, version) = create_project(&app, &app.org, dir.path()).await;
    assert_eq!(version, 2);
    // insert keeps the file the environment has.
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"websites": [{"slug": "shop", "action": "insert"}]}),
    )
    .await;
    assert_eq!(
        fetch(&app, &url).await.text().await.unwrap(),
        "<h1>Shop</h1>"
    );
    // insert or update replaces it; the old validator no longer matches.
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"websites": [{"slug": "shop", "action": "insert or update"}]}),
    )
    .await;
    let changed = no_redirects()
        .get(app.url(&url))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.text().await.unwrap(), "<h1>Shop 2</h1>");
    // file_manager makes the websites exactly the version's: the blog is gone.
    assert_eq!(
        fetch(&app, &format!("/sites/{environment_id}/"))
            .await
            .status(),
        200
    );
    deploy_ok(
        &app,
        environment_id,
        project_id,
        json!({"file_manager": "yes"}),
    )
    .await;
    assert_eq!(
        fetch(&app, &format!("/sites/{environment_id}/"))
            .await
            .status(),
        404
    );
    assert_eq!(fetch(&app, &url).await.status(), 200);
}
