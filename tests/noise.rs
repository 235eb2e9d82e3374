//! Noise control in the database: dedup (sql/schema/03_message.sql), per-recipient and
//! provider rate limits (sql/schema/04_policies.sql) and cancel (sql/schema/07_operations.sql).

mod support;

use msgpool::Db;
use sqlx::Connection;
use support::{Claimed, TestDb, claim, exec, exec_on, scalar, seed, sqlstate};

async fn sent(pool: &Db, claimed: &[Claimed]) {
    let outcomes: Vec<_> = claimed
        .iter()
        .map(|c| serde_json::json!({"id": c.id, "lease_token": c.lease_token, "outcome": "sent"}))
        .collect();
    let _: i32 = sqlx::query_scalar("SELECT msgpool.record_outcomes($1)")
        .bind(serde_json::Value::Array(outcomes))
        .fetch_one(pool)
        .await
        .expect("record");
}

const ALERT: &str =
    "SELECT msgpool.send('server.down', '{\"host\": \"web-1\"}', dedup_key => 'web-1')";

#[tokio::test]
async fn a_repeated_dedup_key_is_counted_on_the_open_message() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let first: i64 = scalar(&db.pool, ALERT).await;
    let again: i64 = scalar(&db.pool, ALERT).await;
    assert_eq!(again, first, "send() returns the earlier id");
    // a raw INSERT is counted the same way and inserts nothing
    let inserted = sqlx::query(
        "INSERT INTO msgpool.message (type_key, dedup_key) VALUES ('server.down', 'web-1') RETURNING id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("insert");
    assert!(inserted.is_empty());
    let other: i64 = scalar(
        &db.pool,
        "SELECT msgpool.send('server.down', '{}', dedup_key => 'web-2')",
    )
    .await;
    let plain: i64 = scalar(&db.pool, "SELECT msgpool.send('server.down', '{}')").await;
    assert!(other != first && plain != first);

    let counts: Vec<(Option<String>, i32)> =
        sqlx::query_as("SELECT dedup_key, duplicate_count FROM msgpool.message ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("messages");
    assert_eq!(
        counts,
        vec![
            (Some("web-1".into()), 2),
            (Some("web-2".into()), 0),
            (None, 0)
        ]
    );
    let noisy: (String, String, i32) =
        sqlx::query_as("SELECT type_key, dedup_key, duplicate_count FROM msgpool.duplicates")
            .fetch_one(&db.pool)
            .await
            .expect("duplicates view");
    assert_eq!(noisy, ("server.down".into(), "web-1".into(), 2));
}

#[tokio::test]
async fn a_key_opens_a_new_message_after_the_window_or_a_cancel() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "UPDATE msgpool.message_type SET dedup_window = '10 minutes'",
    )
    .await;
    let mut conn = db.pool.pool().acquire().await.expect("connection");
    async fn send_at(conn: &mut sqlx::PgConnection, time: &str) -> i64 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET msgpool.clock = '2026-11-26 {time}+00'"
        )))
        .execute(&mut *conn)
        .await
        .expect("pin");
        sqlx::query_scalar(ALERT)
            .fetch_one(&mut *conn)
            .await
            .expect("send")
    }
    let first = send_at(&mut conn, "10:00").await;
    assert_eq!(
        send_at(&mut conn, "10:09").await,
        first,
        "inside the window"
    );
    let second = send_at(&mut conn, "10:10").await;
    assert_ne!(second, first, "the window is ten minutes from the first");
    sqlx::query_scalar::<_, i32>("SELECT msgpool.cancel($1)")
        .bind(first)
        .fetch_one(&mut *conn)
        .await
        .expect("cancel the first");
    assert_eq!(
        send_at(&mut conn, "10:10:30").await,
        second,
        "cancelling the first leaves the key open for the second"
    );
    let cancelled: i32 = sqlx::query_scalar("SELECT msgpool.cancel($1)")
        .bind(second)
        .fetch_one(&mut *conn)
        .await
        .expect("cancel");
    assert_eq!(cancelled, 0, "not yet expanded: no deliveries to cancel");
    let third = send_at(&mut conn, "10:11").await;
    assert_ne!(third, second, "a cancelled message is not open");
}

#[tokio::test]
async fn a_deleted_message_takes_its_key_with_it_and_the_next_repeat_opens_a_new_one() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let first: i64 = scalar(&db.pool, ALERT).await;
    // an administrator deletes the open message by hand (a prune shorter than the window too)
    exec(
        &db.pool,
        &format!("DELETE FROM msgpool.message WHERE id = {first}"),
    )
    .await;
    let reopened: i64 = scalar(&db.pool, ALERT).await;
    assert_ne!(reopened, first);
    let repeat: i64 = scalar(&db.pool, ALERT).await;
    assert_eq!(repeat, reopened, "the repeat is counted on the new message");
    let count: i32 = scalar(
        &db.pool,
        &format!("SELECT duplicate_count FROM msgpool.message WHERE id = {reopened}"),
    )
    .await;
    assert_eq!(count, 1);

    // emptying the pool forgets every key
    exec(&db.pool, "TRUNCATE msgpool.message").await;
    let keys: i64 = scalar(&db.pool, "SELECT count(*) FROM msgpool.dedup").await;
    assert_eq!(keys, 0);
    let after: i64 = scalar(&db.pool, ALERT).await;
    assert!(after > reopened);
    let repeat: i64 = scalar(&db.pool, ALERT).await;
    assert_eq!(
        repeat, after,
        "and repeats count on the message sent after it"
    );
}

#[tokio::test]
async fn concurrent_producers_of_one_key_make_one_message_with_the_right_count() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let producers = 16;
    let sends_each = 5;
    let mut tasks = Vec::new();
    for _ in 0..producers {
        let url = db.url.clone();
        tasks.push(tokio::spawn(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let mut ids = Vec::new();
            for _ in 0..sends_each {
                ids.push(
                    sqlx::query_scalar::<_, i64>(ALERT)
                        .fetch_one(&mut conn)
                        .await
                        .expect("send"),
                );
            }
            ids
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.extend(t.await.expect("producer"));
    }
    assert_eq!(ids.len(), 1, "every producer got the same message id");
    let (messages, count): (i64, i32) = sqlx::query_as(
        "SELECT count(*), max(duplicate_count) FROM msgpool.message WHERE dedup_key = 'web-1'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!((messages, count), (1, producers * sends_each - 1));
}

#[tokio::test]
async fn the_count_shows_in_the_inbox_after_delivery() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(&db.pool, "INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('server.down', 'li.si')").await;
    let id: i64 = scalar(&db.pool, ALERT).await;
    let _: i32 = scalar(&db.pool, "SELECT msgpool.expand(10)").await;
    let claimed = claim(&db.pool, "inbox", 100, "1 minute").await;
    let items: Vec<_> = claimed
        .iter()
        .map(|c| serde_json::json!({"id": c.id, "lease_token": c.lease_token, "subject": "down", "body": "web-1"}))
        .collect();
    let _: i32 = sqlx::query_scalar("SELECT msgpool.deliver_to_inbox($1)")
        .bind(serde_json::Value::Array(items))
        .fetch_one(&db.pool)
        .await
        .expect("inbox");
    for _ in 0..3 {
        assert_eq!(scalar::<i64>(&db.pool, ALERT).await, id);
    }
    let (subject, count): (String, i32) =
        sqlx::query_as("SELECT subject, duplicate_count FROM msgpool.inbox_list('li.si')")
            .fetch_one(&db.pool)
            .await
            .expect("inbox list");
    assert_eq!((subject.as_str(), count), ("down", 3));
}

#[tokio::test]
async fn a_recipient_over_the_rate_limit_waits_and_says_why() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.rate_limit (channel, recipient_max, recipient_window) VALUES ('sms', 3, '1 hour');
         INSERT INTO msgpool.message_type (key, name, channels) VALUES ('job.stuck', 'Job stuck', '{sms}');
         SELECT msgpool.send('job.stuck', '{}', recipients => '{zhang.san}') FROM generate_series(1, 5);
         SELECT msgpool.send('server.down', '{}', recipients => '{zhang.san}');
         SELECT msgpool.expand(100);",
    )
    .await;
    let first = claim(&db.pool, "sms", 100, "1 minute").await;
    assert_eq!(
        first.len(),
        4,
        "three within the limit, and the urgent one, which is exempt"
    );
    sent(&db.pool, &first).await;
    let deferred: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        "SELECT state::text, deferred_by, next_attempt_at > msgpool.clock() + interval '59 minutes'
           FROM msgpool.delivery WHERE state = 'pending' AND channel = 'sms'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deferred");
    let why = Some("rate limit: 3 sms per 01:00:00 per recipient".to_owned());
    assert_eq!(
        deferred,
        vec![("pending".into(), why.clone(), true); 2],
        "deferred an hour, not dropped"
    );
    assert!(claim(&db.pool, "sms", 100, "1 minute").await.is_empty());

    // an hour later the window has room again
    exec(&db.pool, "SET msgpool.clock = '2099-01-01 00:00+00'").await;
    let mut conn = db.pool.pool().acquire().await.expect("conn");
    sqlx::raw_sql("SET msgpool.clock = '2099-01-01 00:00+00'")
        .execute(&mut *conn)
        .await
        .expect("pin");
    let later: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM msgpool.claim_deliveries('sms', 100, '1 minute')")
            .fetch_all(&mut *conn)
            .await
            .expect("claim later");
    assert_eq!(later.len(), 2);
    let status: (i64, Option<String>) = sqlx::query_as(
        "SELECT deferred, recipient_limit FROM msgpool.channel_status WHERE channel = 'sms'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("status");
    assert_eq!(status, (0, Some("3 per 01:00:00".into())));
}

#[tokio::test]
async fn the_provider_limit_caps_claims_per_second_and_the_rest_waits() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.rate_limit (channel, provider_per_second) VALUES ('inbox', 4);
         SELECT msgpool.send('server.down', '{}', recipients => '{zhang.san}') FROM generate_series(1, 10);
         SELECT msgpool.expand(100);",
    )
    .await;
    // The provider's budget is in real seconds, also while a test or an operator pins the
    // rules' clock: pinned, it never moved on, and the claims stalled for good.
    let mut conn = db.pool.pool().acquire().await.expect("conn");
    exec_on(&mut conn, "SET msgpool.clock = '2099-01-01 00:00:00+00'").await;
    let claim = "SELECT id FROM msgpool.claim_deliveries('inbox', 100, '1 minute')";
    let mut tx = (*conn).begin().await.expect("begin");
    // one transaction: one now(), one second
    assert_eq!(
        sqlx::query(claim)
            .fetch_all(&mut *tx)
            .await
            .expect("claim")
            .len(),
        4
    );
    assert_eq!(
        sqlx::query(claim)
            .fetch_all(&mut *tx)
            .await
            .expect("claim")
            .len(),
        0,
        "the second's budget is spent"
    );
    tx.commit().await.expect("commit");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        sqlx::query(claim)
            .fetch_all(&mut *conn)
            .await
            .expect("claim")
            .len(),
        4,
        "a new second, though the clock is pinned"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        sqlx::query(claim)
            .fetch_all(&mut *conn)
            .await
            .expect("claim")
            .len(),
        2,
        "the rest, deferred, never dropped"
    );
}

#[tokio::test]
async fn cancel_stops_unsent_deliveries_and_keeps_sent_ones_as_history() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let id: i64 = scalar(
        &db.pool,
        "SELECT msgpool.send('server.down', '{}', recipients => '{zhang.san,li.si}')",
    )
    .await;
    let _: i32 = scalar(&db.pool, "SELECT msgpool.expand(10)").await;
    let inbox = claim(&db.pool, "inbox", 100, "1 minute").await;
    sent(&db.pool, &inbox).await;
    let cancelled: i32 = sqlx::query_scalar("SELECT msgpool.cancel($1)")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("cancel");
    assert_eq!(
        cancelled, 1,
        "zhang.san's sms; li.si has no phone, so no sms"
    );
    let states: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT recipient_key::text, channel::text, state::text FROM msgpool.delivery ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deliveries");
    assert_eq!(
        states,
        vec![
            ("li.si".into(), "inbox".into(), "sent".into()),
            ("zhang.san".into(), "inbox".into(), "sent".into()),
            ("zhang.san".into(), "sms".into(), "cancelled".into()),
        ]
    );
    assert_eq!(
        scalar::<String>(
            &db.pool,
            &format!("SELECT state::text FROM msgpool.message WHERE id = {id}")
        )
        .await,
        "cancelled"
    );
    assert!(claim(&db.pool, "sms", 100, "1 minute").await.is_empty());

    let err = sqlx::query("SELECT msgpool.cancel(999999)")
        .execute(&db.pool)
        .await
        .expect_err("unknown");
    assert_eq!(sqlstate(&err), "MP011");
}
