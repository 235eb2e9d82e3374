//! The worker end to end: real PostgreSQL, real apalis workers, the inbox channel.

mod support;

use std::time::Duration;

use msgpool_workers::WorkerConfig;
use sqlx::PgPool;
use support::{TestDb, seed};
use tokio_util::sync::CancellationToken;

fn config(name: &str) -> WorkerConfig {
    WorkerConfig {
        name: name.into(),
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        grace: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// A worker running in the background until the returned token is cancelled.
fn start(
    pool: &PgPool,
    config: WorkerConfig,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<msgpool::Result<()>>,
) {
    let stop = CancellationToken::new();
    let handle = tokio::spawn(msgpool_workers::run(pool.clone(), config, stop.clone()));
    (stop, handle)
}

async fn stop(
    worker: (
        CancellationToken,
        tokio::task::JoinHandle<msgpool::Result<()>>,
    ),
) {
    worker.0.cancel();
    worker
        .1
        .await
        .expect("join")
        .expect("the worker stops cleanly");
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// Waits until `sql` counts `want`, for at most 20 s.
async fn wait_for(pool: &PgPool, sql: &'static str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = count(pool, sql).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: still {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_sent_message_arrives_in_the_inbox_rendered_from_the_template() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.template (type_key, channel, subject, body)
         VALUES ('order.dispatch_backlog', 'inbox', '{{ type_name }}: {{ count }}', '{{ recipient_name }}, {{ count }} orders are waiting in {{ warehouse }}');
         SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 120, \"warehouse\": \"WH-1\"}');",
    )
    .execute(&db.pool)
    .await
    .expect("setup");
    let worker = start(&db.pool, config("w1"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 2).await;
    stop(worker).await;

    let inbox: Vec<(String, String, String)> =
        sqlx::query_as("SELECT recipient_key::text, subject, body FROM msgpool.inbox ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .expect("inbox");
    assert_eq!(
        inbox,
        vec![
            (
                "li.si".into(),
                "派单堆积: 120".into(),
                "李四, 120 orders are waiting in WH-1".into()
            ),
            (
                "zhang.san".into(),
                "派单堆积: 120".into(),
                "张三, 120 orders are waiting in WH-1".into()
            ),
        ]
    );
    let sent = count(&db.pool, "SELECT count(*) FROM msgpool.delivery WHERE channel = 'inbox' AND state = 'sent' AND sent_at IS NOT NULL").await;
    assert_eq!(sent, 2);
    let logged = count(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery_attempt WHERE outcome = 'sent' AND worker = 'w1'",
    )
    .await;
    assert_eq!(logged, 2, "every attempt is in the attempt log");
}

#[tokio::test]
async fn a_broken_template_parks_its_delivery_with_the_error_while_the_rest_flow() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.template (type_key, channel, body) VALUES ('server.down', 'inbox', '{{ host }} is down');
         SELECT msgpool.send('server.down', '{\"hots\": \"db1\"}', recipients => '{zhang.san}');
         SELECT msgpool.send('server.down', '{\"host\": \"db2\"}', recipients => '{zhang.san}');
         SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 5}', recipients => '{li.si}');",
    )
    .execute(&db.pool)
    .await
    .expect("setup");
    let worker = start(&db.pool, config("w1"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.delivery WHERE channel = 'inbox' AND state IN ('sent', 'dead')", 3).await;
    stop(worker).await;

    let dead: Vec<(String, i32)> =
        sqlx::query_as("SELECT last_error, attempts FROM msgpool.delivery WHERE state = 'dead'")
            .fetch_all(&db.pool)
            .await
            .expect("dead");
    assert_eq!(dead, vec![("inbox template body: host not in the payload; add it to the payload or change the template".into(), 1)]);
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM msgpool.inbox ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .expect("inbox");
    assert_eq!(bodies.len(), 2);
    assert!(bodies.contains(&"db2 is down".to_owned()), "{bodies:?}");
}

#[tokio::test]
async fn two_workers_draining_one_pool_deliver_each_delivery_exactly_once() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::query("INSERT INTO msgpool.message (type_key, recipients) SELECT 'server.down', '{zhang.san,li.si}' FROM generate_series(1, 300)")
        .execute(&db.pool)
        .await
        .expect("messages");
    let small_batches = |name: &str| WorkerConfig {
        batch_size: 20,
        concurrency: 4,
        ..config(name)
    };
    let (a, b) = (
        start(&db.pool, small_batches("a")),
        start(&db.pool, small_batches("b")),
    );
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE channel = 'inbox' AND state = 'sent'",
        600,
    )
    .await;
    stop(a).await;
    stop(b).await;

    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM msgpool.inbox").await,
        600,
        "one inbox row per delivery"
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt").await,
        600,
        "one attempt per delivery: no duplicate sends"
    );
    let both_worked = count(
        &db.pool,
        "SELECT count(DISTINCT worker) FROM msgpool.delivery_attempt",
    )
    .await;
    assert_eq!(both_worked, 2, "the work was shared");
}

#[tokio::test]
async fn a_killed_workers_leased_deliveries_are_finished_by_another_worker() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql("SELECT msgpool.send('server.down', recipients => '{zhang.san,li.si}'); SELECT msgpool.dispatch(10);")
        .execute(&db.pool)
        .await
        .expect("setup");
    // A worker claims both, then dies without a word: its leases are all that is left of it.
    let claimed = count(
        &db.pool,
        "SELECT count(*) FROM msgpool.claim_deliveries('inbox', 10, '300 milliseconds')",
    )
    .await;
    assert_eq!(claimed, 2);

    let survivor = start(&db.pool, config("survivor"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 2).await;
    stop(survivor).await;
    let attempts: Vec<i32> =
        sqlx::query_scalar("SELECT attempts FROM msgpool.delivery WHERE channel = 'inbox'")
            .fetch_all(&db.pool)
            .await
            .expect("attempts");
    assert_eq!(
        attempts,
        vec![2, 2],
        "the dead worker's claim counted as an attempt"
    );
}

#[tokio::test]
async fn a_graceful_stop_gives_unstarted_claims_back_and_loses_nothing() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::query("INSERT INTO msgpool.message (type_key, recipients) SELECT 'server.down', '{zhang.san}' FROM generate_series(1, 2000)")
        .execute(&db.pool)
        .await
        .expect("messages");
    let worker = start(
        &db.pool,
        WorkerConfig {
            batch_size: 200,
            concurrency: 2,
            ..config("first")
        },
    );
    wait_for(&db.pool, "SELECT least(count(*), 1) FROM msgpool.inbox", 1).await;
    stop(worker).await;

    let stuck = count(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sending'",
    )
    .await;
    assert_eq!(stuck, 0, "nothing is left leased after a graceful stop");
    let before = count(&db.pool, "SELECT count(*) FROM msgpool.inbox").await;
    assert!(
        before < 2000,
        "the stop came before the end ({before} delivered)"
    );

    let again = start(&db.pool, config("second"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 2000).await;
    stop(again).await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt WHERE outcome = 'sent'").await,
        2000,
        "each delivered once"
    );
}
