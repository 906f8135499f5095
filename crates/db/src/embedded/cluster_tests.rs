//! These tests start real PostgreSQL clusters from the installed binaries, each in a temp dir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn test_settings() -> ClusterSettings {
    ClusterSettings {
        fsync: false,
        max_connections: 20,
        extra: Vec::new(),
    }
}

async fn connect(options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options).await.unwrap()
}

async fn execute(options: &PgConnectOptions, sql: &'static str) {
    let mut conn = connect(options).await;
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn table_exists(options: &PgConnectOptions, table: &str) -> bool {
    let mut conn = connect(options).await;
    let exists = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    exists
}

/// A pid that certainly names no process: one of a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[tokio::test]
async fn starts_serves_excludes_a_second_start_stops_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    let options = cluster.connect_options("flowline");
    let mut conn = connect(&options).await;
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    assert!(postmaster::is_postmaster_of(
        cluster.postmaster.pid(),
        &cluster.layout.cluster_dir()
    ));

    let second = EmbeddedCluster::start(dir.path(), test_settings()).await;
    let error = second.expect_err("a second start on the same data dir must fail");
    assert!(matches!(error, DbError::DataDirInUse { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("another flowline process is serving data dir")
    );

    let attached = EmbeddedCluster::attach_running(dir.path())
        .await
        .unwrap()
        .expect("the running cluster is found");
    execute(
        &attached,
        "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)",
    )
    .await;

    cluster.stop().await.unwrap();
    assert!(
        EmbeddedCluster::attach_running(dir.path())
            .await
            .unwrap()
            .is_none()
    );

    let restarted = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    assert!(table_exists(&restarted.connect_options("flowline"), "kept").await);
    restarted.stop().await.unwrap();
}

#[tokio::test]
async fn recovers_from_a_stale_postmaster_pid() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    let pid_file = cluster.layout.cluster_dir().join("postmaster.pid");
    let real = std::fs::read_to_string(&pid_file).unwrap();
    cluster.stop().await.unwrap();
    assert!(!pid_file.exists());

    // What a SIGKILLed server leaves: its pid file, naming a process that is gone …
    let (_, rest) = real.split_once('\n').unwrap();
    std::fs::write(&pid_file, format!("{}\n{rest}", dead_pid())).unwrap();
    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    cluster.stop().await.unwrap();

    // … or, after a reboot, a pid reused by an unrelated live process (here: ourselves).
    std::fs::write(&pid_file, format!("{}\n{rest}", std::process::id())).unwrap();
    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn stops_an_orphan_server_of_its_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    let layout = cluster.layout.clone();
    cluster.stop().await.unwrap();

    // A server on this data dir without a flowline holding the lock, as a flowline whose
    // PostgreSQL outlived it would leave.
    let binaries = PgBinaries::find().unwrap();
    let log = layout.open_log().unwrap();
    let command = postgres_command(&layout, &binaries, &test_settings(), &log).unwrap();
    let user = privileges::server_user().unwrap();
    let orphan = Postmaster::spawn(command, user).await.unwrap();
    let socket = socket_options(&layout.socket_dir(), "flowline");
    let deadline = Instant::now() + START_TIMEOUT;
    while try_connect(&socket).await.is_err() {
        assert!(Instant::now() < deadline, "{}", layout.log_tail());
        tokio::time::sleep(POLL_INTERVAL).await;
    }

    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    assert!(orphan.exit_status().is_some());
    assert_ne!(cluster.postmaster.pid(), orphan.pid());
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn attach_running_finds_nothing_where_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert!(
        EmbeddedCluster::attach_running(&missing)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        EmbeddedCluster::attach_running(dir.path())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn dropping_a_running_cluster_shuts_it_down() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(dir.path(), test_settings())
        .await
        .unwrap();
    let pid = cluster.postmaster.pid();
    let cluster_dir = cluster.layout.cluster_dir();
    drop(cluster);
    let deadline = Instant::now() + postmaster::FAST_SHUTDOWN_TIMEOUT;
    while postmaster::is_postmaster_of(pid, &cluster_dir) {
        assert!(Instant::now() < deadline, "the postmaster did not stop");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[test]
fn the_cluster_and_its_futures_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync::<EmbeddedCluster>();
    let dir = Path::new("/nonexistent");
    // Built, never polled: only their types matter here.
    assert_send(&EmbeddedCluster::start(dir, test_settings()));
    assert_send(&EmbeddedCluster::attach_running(dir));
    assert_send(&crate::throwaway::fresh_database());
}
