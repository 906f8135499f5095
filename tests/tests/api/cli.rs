//! The `flowline` program itself, as a child process: `admin --json`, and `serve` on its own
//! embedded PostgreSQL with a clean shutdown.

use crate::support::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn flowline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowline-under-test"));
    command
        .env_remove("DATABASE_URL")
        .env("FLOWLINE_LOG", "warn");
    command
}

fn run_json(command: &mut Command) -> Value {
    let output = command.output().expect("flowline runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object: {stdout}"
    );
    serde_json::from_str(stdout.trim()).expect("JSON on stdout")
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn admin_commands_print_one_json_object() {
    let app = spawn_app().await;
    let url = app.database_url();
    let org = run_json(flowline().args([
        "admin",
        "create-org",
        "--name",
        "Umbrella",
        "--json",
        "--database-url",
        &url,
    ]));
    assert_eq!(
        keys(&org),
        [
            "api_key",
            "environment_id",
            "name",
            "org_id",
            "organization_api_key"
        ]
    );
    let application = run_json(flowline().args([
        "admin",
        "create-app",
        "--org",
        "Umbrella",
        "--name",
        "lab",
        "--scopes",
        "schema,record.read",
        "--allow-ip",
        "127.0.0.1",
        "--allow-ip",
        "10.0.0.0/8",
        "--rate-limit",
        "99",
        "--json",
        "--database-url",
        &url,
    ]));
    assert_eq!(
        keys(&application),
        [
            "app_key",
            "client_id",
            "client_secret",
            "environment_id",
            "scopes"
        ]
    );
    assert_eq!(
        application["scopes"],
        serde_json::json!(["schema", "record.read"])
    );

    let used = app
        .anonymous(reqwest::Method::GET, "/v1/schema")
        .header("X-Apikey", org["api_key"].as_str().unwrap())
        .header("X-App", "lab")
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 404, "the CLI's credentials authenticate");
    assert_eq!(used.headers()["x-ratelimit-limit"], "99");

    let refused = flowline()
        .args([
            "admin",
            "create-app",
            "--org",
            "Umbrella",
            "--name",
            "x",
            "--scopes",
            "root",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown scope 'root'"));
}

/// A running `flowline serve` child, killed if the test fails.
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data_dir: &std::path::Path) -> Server {
    let mut child = flowline()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("FLOWLINE_ADMIN_TOKEN", "cli-admin-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("flowline serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let address = loop {
        assert!(
            Instant::now() < deadline,
            "serve did not report its address"
        );
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("a line");
        if let Some(address) = line.strip_prefix("Flowline listening on http://") {
            break address.to_owned();
        }
    };
    let database = lines.next().expect("a database line").expect("a line");
    assert!(
        database.starts_with("Database: embedded PostgreSQL in"),
        "{database}"
    );
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, address }
}

#[tokio::test]
async fn serve_runs_its_own_postgres_and_stops_cleanly() {
    let data_dir = tempfile::Builder::new()
        .prefix("fl-serve")
        .tempdir_in("/tmp")
        .unwrap();
    let mut server = start_server(data_dir.path());
    flowline_scheduler::install_tls_provider();
    let client = reqwest::Client::new();
    let options = client
        .get(format!("http://{}/v1/options", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200);

    // A second server on the same data dir is refused with a clear message.
    let second = flowline()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another flowline process"), "{stderr}");

    // `admin` borrows the running server's cluster.
    let org = run_json(
        flowline()
            .args([
                "admin",
                "create-org",
                "--name",
                "Wayne",
                "--json",
                "--data-dir",
            ])
            .arg(data_dir.path()),
    );
    let created = client
        .post(format!(
            "http://{}/admin/v1/orgs/Wayne/apps",
            server.address
        ))
        .bearer_auth("cli-admin-token")
        .json(&serde_json::json!({"name": "cave"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let schema = client
        .get(format!("http://{}/v1/schema", server.address))
        .header("X-Apikey", org["api_key"].as_str().unwrap())
        .header("X-App", "cave")
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 404);

    let key_mode = std::fs::metadata(data_dir.path().join("jwt-secret")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777,
        0o600
    );

    terminate(&mut server.child);
    let status = wait_for_exit(&mut server.child, Duration::from_secs(60));
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
    let pid_file = data_dir.path().join("pg").join("postmaster.pid");
    assert!(!pid_file.exists(), "the embedded PostgreSQL was stopped");

    // The data survives a restart.
    let mut server = start_server(data_dir.path());
    let listed = client
        .get(format!("http://{}/admin/v1/orgs", server.address))
        .bearer_auth("cli-admin-token")
        .send()
        .await
        .unwrap();
    let listed = body(listed).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "Wayne")
    );
    terminate(&mut server.child);
    assert!(wait_for_exit(&mut server.child, Duration::from_secs(60)).success());
}

#[allow(unsafe_code)]
fn terminate(child: &mut Child) {
    let pid = i32::try_from(child.id()).expect("a pid");
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting") {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
