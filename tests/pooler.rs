//! Through PgBouncer in transaction mode (Debian's 1.18, no prepared-statement support):
//! producers, administrators' calls and a worker draining a burst.

mod support;

use futures_util::future::join_all;
use msgpool::admin::message_types::{self, MessageTypeSpec};
use msgpool::domain::{Channel, TypeKey, Urgency};
use msgpool::send::{self, NewMessage};
use msgpool_workers::WorkerConfig;
use support::pgbouncer::PgBouncer;
use support::{TestDb, seed, start, stop, wait_for};

#[tokio::test]
async fn a_plain_pool_through_the_pooler_fails_where_a_pooled_database_works() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let bouncer = PgBouncer::start(&db);

    // what msgpool did before it knew about poolers
    let plain = msgpool::Database::Url(bouncer.url.clone()).pool(8).await;
    let err = plain
        .expect_err("the pooler refuses a plain client")
        .to_string();
    assert!(err.contains("connecting to the database"), "{err}");

    let pool = msgpool::Database::Pooled(bouncer.url.clone())
        .pool(8)
        .await
        .expect("a pool through the pooler");
    let server_down = TypeKey::parse("server.down").expect("key");
    let sends = (0..200).map(|i| {
        let pool = pool.clone();
        let message = NewMessage::new(
            server_down.clone(),
            serde_json::json!({ "host": format!("db{i}") }),
        );
        async move { send::send(&pool, &message).await }
    });
    let sent = join_all(sends).await;
    let failed: Vec<_> = sent.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} of 200 sends failed, e.g. {:?}\n{}",
        failed.len(),
        failed.first().map(ToString::to_string),
        bouncer.log()
    );

    // a refusal leaves its connection usable, and an explicit transaction commits
    let unknown = NewMessage::new(
        TypeKey::parse("server.dwon").expect("key"),
        serde_json::json!({}),
    );
    for _ in 0..10 {
        let err = send::send(&pool, &unknown).await.expect_err("unknown type");
        assert_eq!(err.sqlstate(), Some("MP001"));
    }
    let edited = message_types::edit(
        &pool,
        &server_down,
        &MessageTypeSpec {
            urgency: Some(Urgency::High),
            ..MessageTypeSpec::default()
        },
    )
    .await
    .expect("an edit, in its own transaction");
    assert_eq!(edited.urgency, Urgency::High);
    let stored: String = sqlx::query_scalar(
        "SELECT urgency::text FROM msgpool.message_type WHERE key = 'server.down'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("read directly");
    assert_eq!(stored, "high", "committed, seen from outside the pooler");
}

#[tokio::test]
async fn a_worker_through_the_pooler_drains_a_burst() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let bouncer = PgBouncer::start(&db);
    sqlx::query(
        "SELECT msgpool.send('server.down', jsonb_build_object('host', 'db' || i),
                             recipients => '{zhang.san}')
           FROM generate_series(1, 500) i",
    )
    .execute(&db.pool)
    .await
    .expect("a burst");

    let pool = msgpool::Database::Pooled(bouncer.url.clone())
        .pool(12)
        .await
        .expect("a pool through the pooler");
    let worker = start(
        &pool,
        WorkerConfig {
            poll_only: true,
            ..support::worker_config("pooled", &[Channel::Inbox])
        },
    );
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.inbox WHERE recipient_key = 'zhang.san'",
        500,
    )
    .await;
    stop(worker).await;
    let (sent, other): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state <> 'sent')
           FROM msgpool.delivery WHERE channel = 'inbox'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("states");
    assert_eq!((sent, other), (500, 0), "{}", bouncer.log());
}
