//! `flowline admin create-project --org NAME DIR`, run as the program itself.

use super::*;
use std::process::Command;

fn flowline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowline-under-test"));
    command
        .env_remove("DATABASE_URL")
        .env("FLOWLINE_LOG", "warn");
    command
}

fn create_project_command(
    app: &TestApp,
    org: &str,
    dir: &Path,
    json: bool,
) -> std::process::Output {
    let url = app.database_url();
    let mut command = flowline();
    command.args(["admin", "create-project", "--org", org]);
    if json {
        command.arg("--json");
    }
    command
        .arg(dir)
        .args(["--database-url", &url])
        .output()
        .expect("flowline runs")
}

#[tokio::test]
async fn create_project_makes_numbered_versions() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    shop_project(dir.path());
    let output = create_project_command(&app, "Acme", dir.path(), true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(created["name"], "Shop");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created"], true);
    let project_id = created["project_id"].as_i64().unwrap();

    // Without --json: the id and the version on stdout.
    let output = create_project_command(&app, &app.org.org_id.to_string(), dir.path(), false);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{project_id} 2")
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM project_versions WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 2);
    // The files are stored once, whatever the versions that hold them.
    let blobs: i64 = sqlx::query_scalar("SELECT count(*) FROM project_blobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(blobs, 5);

    // A directory without project.json is named after itself.
    let named = tempfile::tempdir().unwrap();
    let inner = named.path().join("Landing pages");
    write(&inner, "hostedpages/promo.html", "<p>promo</p>");
    let output = create_project_command(&app, "Acme", &inner, true);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(created["name"], "Landing pages");
}

#[tokio::test]
async fn a_bad_project_directory_names_the_file_and_field_and_stores_nothing() {
    let app = spawn_app().await;
    let cases: [(&str, &str, &str); 5] = [
        (
            "tables/users.json",
            r#"{"columns": [{"name": "age", "type": "integer"}], "rows": [{"id": 1, "age": "old"}]}"#,
            "tables/users.json: rows[0].age: 'old' is not an integer",
        ),
        (
            "flows/f.json",
            r#"{"name": "f", "start": "a", "steps": {"a": {"type": "nope"}}}"#,
            "flows/f.json: steps.a",
        ),
        (
            "keystores/k.json",
            r#"{"type": "xml", "entries": {"a": "<a><b></a>"}}"#,
            "keystores/k.json: entries.a: ",
        ),
        (
            "project.json",
            r#"{"name": "x", "owner": "me"}"#,
            "project.json: owner: is not a known field",
        ),
        ("websites/shop/../x", "", "is not a valid project"),
    ];
    for (path, text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        if path.contains("..") {
            // A file beside the websites: not part of a project.
            write(dir.path(), "notes.txt", "x");
        } else {
            write(dir.path(), path, text);
        }
        let output = create_project_command(&app, "Acme", dir.path(), false);
        assert!(!output.status.success(), "{path}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{path}: {stderr}");
    }
    let unknown_org = {
        let dir = tempfile::tempdir().unwrap();
        shop_project(dir.path());
        create_project_command(&app, "Nobody", dir.path(), false)
    };
    assert!(!unknown_org.status.success());
    let projects: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(projects, 0);
    let missing = create_project_command(&app, "Acme", Path::new("/nonexistent/project"), false);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a directory"));
}
