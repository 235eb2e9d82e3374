//! Chaos: producers at a steady rate, two `msgpool worker` processes, one of them killed
//! with SIGKILL every few seconds and started again, and one immediate PostgreSQL restart
//! in the middle, on a cluster of the test's own. Every message sent is delivered (lost 0),
//! duplicates at the receiver are no more than the sends in flight at the kills, and
//! nothing is left in flight. The figures are printed for the README's guarantees.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use msgpool::embedded::{Cluster, ClusterState};
use sqlx::Connection;
use support::http::HttpServer;

const PRODUCE_FOR: Duration = Duration::from_secs(40);
const SENDS_PER_SECOND: u64 = 100;
const KILL_EVERY: Duration = Duration::from_secs(5);
const RESTART_POSTGRES_AT: Duration = Duration::from_secs(20);

fn worker(url: &str, home: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_msgpool"))
        .args(["worker", "--channels", "webhook"])
        .env("DATABASE_URL", url)
        .env("MSGPOOL_HOME", home)
        .env("MSGPOOL_LOG", "error")
        // a killed worker's leases come back soon
        .env("MSGPOOL_LEASE_SECS", "2")
        .env("MSGPOOL_POLL_INTERVAL_MS", "100")
        .env("MSGPOOL_RETENTION", "off")
        .stdout(Stdio::null())
        .spawn()
        .expect("start a worker")
}

/// Deliveries leased to a worker now (0 while the database is out of reach).
async fn in_flight(url: &str) -> i64 {
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else {
        return 0;
    };
    sqlx::query_scalar("SELECT count(*) FROM msgpool.delivery WHERE state = 'sending'")
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0)
}

#[tokio::test]
async fn kills_and_a_database_restart_lose_nothing_and_duplicate_only_what_was_in_flight() {
    let home = tempfile::tempdir().expect("home");
    let cluster = Cluster::new(home.path().join("pool")).expect("PostgreSQL binaries");
    let url = cluster
        .ensure_running()
        .await
        .expect("a cluster of its own");
    {
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        msgpool::migrations::run(&mut conn).await.expect("schema");
        conn.close().await.expect("close");
    }
    let http = HttpServer::start().await;
    let pool = sqlx::PgPool::connect(&url).await.expect("pool");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO msgpool.message_type (key, name, channels, max_attempts) VALUES ('chaos.alert', 'Chaos', '{{webhook}}', 100);
         INSERT INTO msgpool.recipient (key, name, webhook_url) VALUES ('receiver', 'Receiver', '{}');",
        http.url("/hook")
    )))
    .execute(&pool)
    .await
    .expect("set up");

    let mut workers = [worker(&url, home.path()), worker(&url, home.path())];
    let started = Instant::now();
    let producing = tokio::spawn({
        let url = url.clone();
        async move {
            let pool = sqlx::PgPool::connect(&url).await.expect("producer pool");
            let mut sent = Vec::new();
            let mut failed = 0u32;
            let every = Duration::from_millis(1000 / SENDS_PER_SECOND);
            let mut n = 0u64;
            while started.elapsed() < PRODUCE_FOR {
                let result = sqlx::query_scalar::<_, i64>(
                    "SELECT msgpool.send('chaos.alert', jsonb_build_object('n', $1::bigint), recipients => '{receiver}')",
                )
                .bind(n as i64)
                .fetch_one(&pool)
                .await;
                match result {
                    Ok(id) => {
                        sent.push(id);
                        n += 1;
                    }
                    // the restart: the producer's own send failed, and it sends again
                    Err(_) => failed += 1,
                }
                tokio::time::sleep(every).await;
            }
            (sent, failed)
        }
    });

    let mut in_flight_at_kills = 0i64;
    let mut kills = 0;
    let mut restarted = false;
    let mut next_kill = KILL_EVERY;
    while started.elapsed() < PRODUCE_FOR {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !restarted && started.elapsed() >= RESTART_POSTGRES_AT {
            let ClusterState::Running { pid, .. } = cluster.state().expect("state") else {
                panic!("the cluster should be running");
            };
            // leases can expire while the database is down: what was in flight may go twice
            in_flight_at_kills += in_flight(&url).await;
            // immediate shutdown: no checkpoint, every connection cut, crash recovery on start
            Command::new("kill")
                .args(["-QUIT", &pid.to_string()])
                .status()
                .expect("kill -QUIT");
            while matches!(
                cluster.state().expect("state"),
                ClusterState::Running { .. }
            ) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            cluster.ensure_running().await.expect("restarted");
            restarted = true;
        }
        if started.elapsed() >= next_kill {
            next_kill += KILL_EVERY;
            // what any worker holds now is at most what the killed one can send twice
            in_flight_at_kills += in_flight(&url).await;
            let victim = kills % 2;
            workers[victim].kill().expect("kill -9");
            workers[victim].wait().expect("reap");
            workers[victim] = worker(&url, home.path());
            kills += 1;
        }
    }
    let (sent, failed_sends) = producing.await.expect("producer");

    // everything sent is delivered: sent, and received by the webhook's server
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("pool after the restart");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM msgpool.message WHERE state = 'pending')
                  + (SELECT count(*) FROM msgpool.delivery WHERE state IN ('pending', 'sending'))",
        )
        .fetch_one(&pool)
        .await
        .expect("unfinished");
        if unfinished == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unfinished} still unfinished a minute later"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for child in &mut workers {
        child.kill().expect("stop");
        child.wait().expect("reap");
    }

    let sent_deliveries: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent' AND message_id = ANY ($1)",
    )
    .bind(&sent)
    .fetch_one(&pool)
    .await
    .expect("sent");
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT d.id FROM msgpool.delivery d WHERE d.message_id = ANY ($1)")
            .bind(&sent)
            .fetch_all(&pool)
            .await
            .expect("delivery ids");
    let mut received: HashMap<i64, u32> = HashMap::new();
    for request in http.requests() {
        if let Some(id) = request.json()["delivery_id"].as_i64() {
            *received.entry(id).or_default() += 1;
        }
    }
    let lost = ids.iter().filter(|id| !received.contains_key(id)).count();
    let duplicates: i64 = received.values().map(|&n| i64::from(n) - 1).sum();
    eprintln!(
        "chaos: {} messages sent ({failed_sends} sends failed during the restart and were not in the pool), \
         {kills} kills, 1 PostgreSQL restart; delivered {sent_deliveries}, lost {lost}, \
         duplicates {duplicates} (in flight at the kills and the restart: {in_flight_at_kills})",
        sent.len()
    );
    assert!(sent.len() > 1000, "a steady load: {}", sent.len());
    assert_eq!(
        sent_deliveries,
        sent.len() as i64,
        "every message's delivery is sent"
    );
    assert_eq!(lost, 0, "every delivery reached the receiver");
    assert!(
        duplicates <= in_flight_at_kills,
        "duplicates {duplicates} exceed what was in flight at the kills ({in_flight_at_kills})"
    );
    pool.close().await;
    cluster.stop().await.expect("stop the cluster");
}
