//! `msgpool db`: the embedded cluster, roles' URLs, and what is missing explained.

use std::process::Command;

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{fails, json, ok, quick_start};
use support::TestDb;

#[tokio::test]
async fn db_commands_manage_the_embedded_cluster_and_not_a_given_server() {
    let db = TestDb::new().await;
    assert_eq!(ok(&db, &["db", "url"]).trim(), db.url);
    assert!(ok(&db, &["db", "migrate"]).contains("the schema is up to date"));
    let err = fails(&db, &["db", "stop"]);
    assert!(err.contains("DATABASE_URL"), "{err}");

    let home = tempfile::tempdir().expect("temp dir");
    let embedded = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env("MSGPOOL_HOME", home.path())
            .output()
            .expect("run msgpool");
        assert!(
            out.status.success(),
            "msgpool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert!(embedded(&["db", "status"]).starts_with("not created yet"));
    let started = embedded(&["db", "start"]);
    assert!(
        started.starts_with("running: postgres://msgpool:"),
        "{started}"
    );
    assert!(
        started.contains("applied V1__baseline"),
        "a new cluster reports its migrations: {started}"
    );
    assert_eq!(
        embedded(&["db", "migrate"]).trim(),
        "the schema is up to date"
    );
    assert!(embedded(&["db", "status"]).starts_with("running: pid"));
    let url = embedded(&["db", "url"]);
    embedded(&["type", "add", "server.down", "--name", "Server down"]);
    let conn = sqlx::PgPool::connect(url.trim())
        .await
        .expect("the printed URL works");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM msgpool.message_type")
        .fetch_one(&conn)
        .await
        .expect("query");
    assert_eq!(n, 1, "the command went to the embedded database");
    conn.close().await;
    assert_eq!(embedded(&["db", "stop"]).trim(), "stopped");
    assert!(embedded(&["db", "status"]).starts_with("stopped"));
}

#[tokio::test]
async fn missing_postgres_binaries_and_a_missing_schema_are_explained() {
    let empty_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
        .args(["db", "start"])
        .env_remove("DATABASE_URL")
        .env("MSGPOOL_HOME", empty_dir.path().join("home"))
        .env("MSGPOOL_PG_BINDIR", empty_dir.path())
        .output()
        .expect("run msgpool");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds no PostgreSQL server") && err.contains("/usr/lib/postgresql/15/bin"),
        "{err}"
    );

    let unmigrated = TestDb::empty().await;
    let err = fails(&unmigrated, &["type", "list"]);
    assert!(err.contains("run `msgpool db migrate`"), "{err}");
    assert!(ok(&unmigrated, &["db", "migrate"]).starts_with("applied "));
    assert_eq!(json(&unmigrated, &["type", "list"]), serde_json::json!([]));
}

#[tokio::test]
async fn secrets_stay_out_of_output_and_each_role_gets_a_url_of_its_own() {
    let db = quick_start().await;
    for args in [
        &["recipient", "show", "ops-robot", "--json"][..],
        &["recipient", "list", "--json"],
        &["recipient", "show", "ops-robot"],
    ] {
        let shown = ok(&db, args);
        assert!(
            shown.contains("access_token=***") && !shown.contains("access_token=T"),
            "{args:?}: {shown}"
        );
        assert!(!shown.contains("SEC123"), "{args:?}: {shown}");
    }

    let home = tempfile::tempdir().expect("home");
    let role_url = || {
        let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
            .args(["db", "url", "--role", "producer"])
            .env("DATABASE_URL", &db.url)
            .env("MSGPOOL_HOME", home.path())
            .output()
            .expect("run msgpool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    let url = role_url();
    assert!(
        url.starts_with("postgres://msgpool_producer_login:"),
        "{url}"
    );
    assert_eq!(role_url(), url, "the same URL on every call");
    use std::os::unix::fs::PermissionsExt;
    let kept = home.path().join("msgpool_producer_login.password");
    let mode = std::fs::metadata(&kept)
        .expect("password kept")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let producer = sqlx::PgPool::connect(&url)
        .await
        .expect("the producer's URL works");
    let id: i64 =
        sqlx::query_scalar("SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 1}')")
            .fetch_one(&producer)
            .await
            .expect("a producer sends");
    assert!(id > 0);
    let refused = sqlx::query("SELECT email FROM msgpool.recipient")
        .execute(&producer)
        .await
        .expect_err("and cannot read contacts");
    assert_eq!(support::sqlstate(&refused), "42501");
    producer.close().await;

    // emptied by hand: a new password is made and kept
    std::fs::write(&kept, "").expect("empty the password file");
    let renewed = role_url();
    assert_ne!(renewed, url, "a new password");
    let kept_now = std::fs::read_to_string(&kept).expect("password kept");
    assert!(
        !kept_now.is_empty() && renewed.contains(kept_now.trim()),
        "{renewed}"
    );
    sqlx::PgPool::connect(&renewed)
        .await
        .expect("the new URL works")
        .close()
        .await;
}
