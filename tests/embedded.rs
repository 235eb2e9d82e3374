//! The embedded default: a cluster of its own in a folder, started (as the postgres user
//! when we are root), reused, stopped.

use msgpool::embedded::{Cluster, ClusterState};
use sqlx::Connection;

#[tokio::test]
async fn the_embedded_cluster_starts_is_reused_and_stops() {
    let home = tempfile::tempdir().expect("temp dir");
    let cluster =
        Cluster::new(home.path().join("pool")).expect("PostgreSQL binaries on this machine");
    assert_eq!(
        cluster.state().expect("state"),
        ClusterState::NotInitialized
    );

    let url = cluster.ensure_running().await.expect("first start");
    let ClusterState::Running { pid, port } = cluster.state().expect("state") else {
        panic!("not running after start")
    };
    assert!(url.contains(&format!("127.0.0.1:{port}/msgpool")), "{url}");

    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("the URL works for any client");
    let user: String = sqlx::query_scalar("SELECT current_user")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(user, "msgpool");
    if nix::unistd::Uid::effective().is_root() {
        let owner = std::fs::metadata(home.path().join("pool/server/data")).expect("data dir");
        use std::os::unix::fs::MetadataExt;
        let postgres = nix::unistd::User::from_name("postgres")
            .expect("lookup")
            .expect("postgres user");
        assert_eq!(
            owner.uid(),
            postgres.uid.as_raw(),
            "as root, the server runs as postgres"
        );
    }
    conn.close().await.expect("close");

    // A second call, as a later CLI call would make, reuses the running server.
    let again = Cluster::new(home.path().join("pool")).expect("cluster");
    assert_eq!(again.ensure_running().await.expect("reuse"), url);
    assert_eq!(
        again.state().expect("state"),
        ClusterState::Running { pid, port }
    );

    assert!(cluster.stop().await.expect("stop"), "it was running");
    assert_eq!(cluster.state().expect("state"), ClusterState::Stopped);
    assert!(
        !cluster.stop().await.expect("stop again"),
        "stopping a stopped cluster is a no-op"
    );
    assert!(
        sqlx::PgConnection::connect(&url).await.is_err(),
        "nothing listens after stop"
    );

    // Started again, it keeps its data and its port.
    assert_eq!(cluster.ensure_running().await.expect("restart"), url);
    cluster.stop().await.expect("final stop");
}

#[tokio::test]
async fn a_cluster_started_for_a_process_stops_when_that_process_ends() {
    let home = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::new(home.path().join("pool")).expect("PostgreSQL binaries");
    cluster.ensure_running().await.expect("start");
    let mut run = std::process::Command::new("sleep")
        .arg("2")
        .spawn()
        .expect("a process to outlive");
    cluster.stop_when_gone(run.id()).expect("watch it");
    assert!(
        matches!(
            cluster.state().expect("state"),
            ClusterState::Running { .. }
        ),
        "the cluster runs while the process does"
    );
    run.wait().expect("the process ends");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cluster.state().expect("state") != ClusterState::Stopped {
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster still runs 30 s after the process ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn concurrent_first_starts_make_one_cluster() {
    let home = tempfile::tempdir().expect("temp dir");
    let path = home.path().join("pool");
    let starts = (0..3).map(|_| {
        let path = path.clone();
        tokio::spawn(async move { Cluster::new(path).expect("cluster").ensure_running().await })
    });
    let urls: Vec<String> = futures_util::future::join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("join").expect("start"))
        .collect();
    assert!(
        urls.windows(2).all(|w| w[0] == w[1]),
        "all callers got the same cluster: {urls:?}"
    );
    Cluster::new(&path)
        .expect("cluster")
        .stop()
        .await
        .expect("stop");
}

#[tokio::test]
async fn as_root_a_home_the_postgres_user_cannot_reach_is_refused_with_advice() {
    if !nix::unistd::Uid::effective().is_root() {
        return; // only root hands the server to the postgres user
    }
    use std::os::unix::fs::PermissionsExt;
    let outer = tempfile::tempdir().expect("temp dir");
    let closed = outer.path().join("closed");
    std::fs::create_dir(&closed).expect("mkdir");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let err = Cluster::new(closed.join("pool"))
        .expect("cluster")
        .ensure_running()
        .await
        .expect_err("unreachable");
    assert!(
        err.to_string().contains("the postgres user cannot reach"),
        "{err}"
    );
    assert!(
        err.hint().is_some_and(|h| h.contains("MSGPOOL_HOME")),
        "{:?}",
        err.hint()
    );
}
