//! Retention: finished history older than the setting goes, with its deliveries and
//! attempts; anything unfinished stays, and so does the inbox.

mod support;

use support::{TestDb, scalar, seed};

/// Four messages to zhang.san: old and finished, recent and finished, old with a delivery
/// still pending, old and not yet due. Returns their ids in that order.
async fn history(db: &TestDb) -> [i64; 4] {
    let mut ids = [0; 4];
    for (i, id) in ids.iter_mut().enumerate() {
        *id = sqlx::query_scalar("SELECT msgpool.send('server.down', jsonb_build_object('n', $1::int), recipients => '{zhang.san}')")
            .bind(i as i32)
            .fetch_one(&db.pool)
            .await
            .expect("send");
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "UPDATE msgpool.message SET due_at = now() + interval '1 day' WHERE id = {pending};
         SELECT msgpool.expand(10);
         UPDATE msgpool.delivery SET state = 'sent', sent_at = now() WHERE message_id IN ({old}, {recent});
         UPDATE msgpool.delivery SET state = 'sent', sent_at = now() WHERE message_id = {unfinished} AND channel = 'inbox';
         UPDATE msgpool.delivery SET state = 'dead', last_error = 'x' WHERE message_id = {old} AND channel = 'sms';
         INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, started_at)
           SELECT id, 1, 'sent', now() FROM msgpool.delivery WHERE state = 'sent';
         INSERT INTO msgpool.inbox (recipient_key, message_id, delivery_id, type_key, urgency, subject, body)
           SELECT recipient_key, message_id, id, 'server.down', 'urgent', 'down', 'db1 is down'
             FROM msgpool.delivery WHERE channel = 'inbox' AND state = 'sent';
         UPDATE msgpool.message SET created_at = now() - interval '40 days' WHERE id IN ({old}, {unfinished}, {pending});",
        old = ids[0],
        recent = ids[1],
        unfinished = ids[2],
        pending = ids[3],
    )))
    .execute(&db.pool)
    .await
    .expect("history");
    ids
}

#[tokio::test]
async fn prune_takes_only_old_finished_history_and_leaves_the_inbox() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let [old, recent, unfinished, pending] = history(&db).await;
    let inbox_before = scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.inbox").await;

    assert_eq!(
        msgpool::retention::prune(&db.pool, "30 days")
            .await
            .expect("prune"),
        1
    );
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM msgpool.message ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .expect("left");
    assert_eq!(
        left,
        vec![recent, unfinished, pending],
        "only the old finished message went"
    );
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            &format!("SELECT count(*) FROM msgpool.delivery WHERE message_id = {old}")
        )
        .await,
        0,
        "its deliveries too"
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt a LEFT JOIN msgpool.delivery d ON d.id = a.delivery_id WHERE d.id IS NULL").await,
        0,
        "and its attempts"
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.inbox").await,
        inbox_before,
        "the inbox keeps every row"
    );
    assert_eq!(scalar::<i64>(&db.pool, &format!("SELECT count(*) FROM msgpool.inbox WHERE message_id = {old} AND body = 'db1 is down'")).await, 1);

    assert_eq!(
        msgpool::retention::prune(&db.pool, "30 days")
            .await
            .expect("again"),
        0,
        "nothing more is old and finished"
    );
    let err = msgpool::retention::prune(&db.pool, "-1 day")
        .await
        .expect_err("negative");
    assert_eq!(err.sqlstate(), Some("22023"));
}

#[tokio::test]
async fn deleting_or_truncating_messages_takes_their_deliveries_and_attempts_along() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let [old, recent, ..] = history(&db).await;
    sqlx::query("DELETE FROM msgpool.message WHERE id = $1")
        .bind(old)
        .execute(&db.pool)
        .await
        .expect("delete");
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            &format!("SELECT count(*) FROM msgpool.delivery WHERE message_id = {old}")
        )
        .await,
        0
    );
    assert!(
        scalar::<i64>(
            &db.pool,
            &format!("SELECT count(*) FROM msgpool.delivery WHERE message_id = {recent}")
        )
        .await
            > 0,
        "the other messages' deliveries stay"
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt a LEFT JOIN msgpool.delivery d ON d.id = a.delivery_id WHERE d.id IS NULL").await,
        0,
        "no attempt outlives its delivery"
    );
    sqlx::query("TRUNCATE msgpool.message")
        .execute(&db.pool)
        .await
        .expect("truncate");
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery").await,
        0
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt").await,
        0
    );
}
