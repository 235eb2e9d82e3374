//! The test harness: a real PostgreSQL, started by msgpool's own embedded launcher.
//!
//! All test processes share one cluster in the temp folder (the launcher reuses
//! a running server and serialises starts). Migrations run once into a template database
//! named for the migrations embedded in this build; each test gets its own copy of it, so tests never see
//! each other's rows and a changed migration gets a fresh template.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod http;
pub mod pgbouncer;
pub mod silent;
pub mod smtp;

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use msgpool::Db;
use msgpool::embedded::Cluster;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgExecutor};

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: msgpool::Db,
}

/// In the system temp folder, which the postgres user can reach when the tests run as root
/// wherever the checkout is; one per target folder, so two checkouts never share a cluster.
pub fn cluster_home() -> PathBuf {
    let mut hasher = DefaultHasher::new();
    env!("CARGO_TARGET_TMPDIR").hash(&mut hasher);
    std::env::temp_dir().join(format!("msgpool-tests-{:08x}", hasher.finish() as u32))
}

impl TestDb {
    /// A fresh database with msgpool's schema applied.
    pub async fn new() -> TestDb {
        TestDb::create(true).await
    }

    /// A fresh database with nothing in it, for testing the migrations themselves.
    pub async fn empty() -> TestDb {
        TestDb::create(false).await
    }

    async fn create(migrated: bool) -> TestDb {
        let cluster = Cluster::new(cluster_home()).expect("PostgreSQL binaries");
        let admin_url = cluster.ensure_running().await.expect("test cluster");
        stop_with_the_run(&cluster);
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test cluster");
        let template = match migrated {
            true => ensure_template(&admin_url, &mut admin).await,
            false => "template0".to_owned(),
        };
        let name = format!("t_{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await
            .expect("create the test database");
        TestDb::connect(&admin_url, name).await
    }

    async fn connect(admin_url: &str, name: String) -> TestDb {
        let url = database_url(admin_url, &name);
        let options: PgConnectOptions = url.parse().expect("url");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect to the test database");
        TestDb {
            name,
            url,
            pool: msgpool::Db::direct(pool),
        }
    }
}

/// The cluster stops when the test run ends: the runner (`cargo test`, nextest) is each test
/// process's parent, and one watcher per runner stops the cluster after it.
fn stop_with_the_run(cluster: &Cluster) {
    let runner = std::os::unix::process::parent_id().to_string();
    let lock = File::create(cluster_home().join("watcher.lock")).expect("watcher lock file");
    lock.lock().expect("lock the watcher");
    let watched = cluster_home().join("watched-runner");
    if std::fs::read_to_string(&watched).ok().as_deref() != Some(runner.as_str()) {
        cluster
            .stop_when_gone(runner.parse().expect("a pid"))
            .expect("watch the test run");
        std::fs::write(&watched, &runner).expect("note the watched runner");
    }
}

fn database_url(admin_url: &str, database: &str) -> String {
    let (base, _) = admin_url.rsplit_once('/').expect("url has a database");
    format!("{base}/{database}")
}

/// The migrated template for the current migrations, made once under a file lock.
async fn ensure_template(admin_url: &str, admin: &mut PgConnection) -> String {
    let template = format!("template_{:016x}", msgpool::migrations::fingerprint());
    let lock = File::create(cluster_home().join("template.lock")).expect("template lock file");
    lock.lock().expect("lock the template");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut *admin)
            .await
            .expect("look for the template");
    if !exists {
        drop_leftovers(admin).await;
        // Tests need no durability; this keeps database copies and commits fast.
        admin
            .execute("ALTER SYSTEM SET fsync = off")
            .await
            .expect("fsync off");
        admin
            .execute("ALTER SYSTEM SET synchronous_commit = off")
            .await
            .expect("synchronous_commit off");
        admin
            .execute("SELECT pg_reload_conf()")
            .await
            .expect("reload");
        let building = format!("{template}_building");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {building}"
            )))
            .await
            .expect("drop");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .await
            .expect("create template");
        let mut conn = PgConnection::connect(&database_url(admin_url, &building))
            .await
            .expect("connect to template");
        msgpool::migrations::run(&mut conn)
            .await
            .expect("migrate the template");
        conn.close().await.expect("close");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {template}"
            )))
            .await
            .expect("publish the template");
    }
    template
}

/// Test databases of processes that have ended, and templates of older migrations.
async fn drop_leftovers(admin: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname ~ '^(t_|template_[0-9a-f])'",
    )
    .fetch_all(&mut *admin)
    .await
    .expect("list databases");
    let current = format!("template_{:016x}", msgpool::migrations::fingerprint());
    for name in names {
        let stale = match name
            .strip_prefix("t_")
            .and_then(|rest| rest.split('_').next()?.parse::<i32>().ok())
        {
            Some(pid) => {
                pid != std::process::id() as i32
                    && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            }
            None => !name.starts_with(&current),
        };
        if stale {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
    }
}

/// Runs `sql` (one statement or several), panicking with the statement if it fails.
pub async fn exec(pool: &Db, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The one value `sql` returns, e.g. a count.
pub async fn scalar<T>(pool: &Db, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// What a test looks at in a delivery it claimed with `msgpool.claim_deliveries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub lease_token: uuid::Uuid,
    pub attempt: i32,
    pub recipient_key: String,
}

/// Claims up to `n` due deliveries of `channel` for `lease` (a PostgreSQL interval).
pub async fn claim<'e>(
    db: impl PgExecutor<'e>,
    channel: &str,
    n: i32,
    lease: &str,
) -> Vec<Claimed> {
    sqlx::query_as(
        "SELECT id, lease_token, attempt, recipient_key
           FROM msgpool.claim_deliveries($1::msgpool.channel, $2, $3::interval)",
    )
    .bind(channel)
    .bind(n)
    .bind(lease)
    .fetch_all(db)
    .await
    .expect("claim")
}

/// How many forward migrations `sql/migrations/` holds.
pub fn forward_migrations_on_disk() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations"))
        .expect("sql/migrations")
        .filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.path().extension().is_some_and(|e| e == "sql"))
        })
        .count()
}

/// The SQLSTATE of a failed query, e.g. `MP001`.
pub fn sqlstate(e: &sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
        .unwrap_or_else(|| format!("not a database error: {e}"))
}

/// Adds the quick start's type, recipients, group and subscriptions.
pub async fn seed(pool: &Db) {
    sqlx::raw_sql(
        "INSERT INTO msgpool.message_type (key, name, category, urgency, channels)
         VALUES ('order.dispatch_backlog', '派单堆积', '订单异常', 'high', '{inbox,email,sms,webhook}'),
                ('server.down', 'Server down', '服务器异常', 'urgent', '{inbox,sms}');
         INSERT INTO msgpool.recipient (key, name, email, phone) VALUES
                ('zhang.san', '张三', 'zhang.san@example.com', '+8613800000000'),
                ('li.si', '李四', 'li.si@example.com', NULL);
         INSERT INTO msgpool.recipient (key, name, webhook_url, webhook_flavor, webhook_secret) VALUES
                ('ops-robot', '运维群', 'https://oapi.dingtalk.com/robot/send?access_token=T', 'dingtalk', 'SEC123');
         INSERT INTO msgpool.recipient_group (key, name) VALUES ('ops', '运维');
         INSERT INTO msgpool.group_member (group_key, recipient_key) VALUES ('ops', 'zhang.san'), ('ops', 'li.si');
         INSERT INTO msgpool.subscription (type_key, group_key) VALUES ('order.dispatch_backlog', 'ops');",
    )
    .execute(pool)
    .await
    .expect("seed");
}

/// Waits until `sql` counts `want`, for at most 20 s.
pub async fn wait_for(pool: &Db, sql: &'static str, want: i64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql);
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: still {got}, want {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Waits (at most 20 s) until a delivery of `message` is sent or dead; returns its
/// (state, provider_ref, last_error).
pub async fn finished_delivery(
    pool: &Db,
    message: i64,
) -> (String, Option<String>, Option<String>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let row = sqlx::query_as(
            "SELECT state::text, provider_ref, last_error FROM msgpool.delivery
              WHERE message_id = $1 AND state IN ('sent', 'dead')",
        )
        .bind(message)
        .fetch_optional(pool)
        .await
        .expect("delivery");
        if let Some(row) = row {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery of message {message} finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A worker running in the background: cancel the token to stop it; the handle says how it
/// ended.
pub type Worker = (
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<msgpool::Result<()>>,
);

/// A login role of its own with `group`'s rights (e.g. `msgpool_producer`), and a pool
/// connected as it: what a real service has. Returns (login role, pool).
pub async fn login_as(db: &TestDb, group: &str) -> (String, Db) {
    let login = format!("{group}_{}", uuid::Uuid::new_v4().simple());
    exec(
        &db.pool,
        &format!("CREATE ROLE {login} LOGIN PASSWORD 'pw' IN ROLE {group}"),
    )
    .await;
    let (_, rest) = db.url.split_once('@').expect("url");
    let pool = Db::connect(&format!("postgres://{login}:pw@{rest}"))
        .await
        .expect("connect as the login role");
    (login, pool)
}

/// How a test's worker runs: on `channels`, polling every 50 ms, stopping within 5 s, its
/// outbox in a temporary folder of its own. Tests change what they need with `..`.
pub fn worker_config(
    name: &str,
    channels: &[msgpool::domain::Channel],
) -> msgpool_workers::WorkerConfig {
    msgpool_workers::WorkerConfig {
        name: name.into(),
        channels: channels.to_vec(),
        poll_interval: std::time::Duration::from_millis(50),
        lease: std::time::Duration::from_secs(30),
        grace: std::time::Duration::from_secs(5),
        outbox: std::env::temp_dir()
            .join(format!("msgpool-test-outbox-{name}-{}", std::process::id())),
        ..msgpool_workers::WorkerConfig::default()
    }
}

/// Runs `sql` (one statement or several) on one connection, panicking with the statement if
/// it fails: for a session's own settings, or an open transaction.
pub async fn exec_on(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub fn start(pool: &Db, config: msgpool_workers::WorkerConfig) -> Worker {
    let stop = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(msgpool_workers::run(pool.clone(), config, stop.clone()));
    (stop, handle)
}

/// Stops a worker and waits until it has; it must stop cleanly.
pub async fn stop(worker: Worker) {
    worker.0.cancel();
    worker
        .1
        .await
        .expect("join")
        .expect("the worker stops cleanly");
}
