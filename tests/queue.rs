//! The queue contract workers run on (sql/schema/07-10): expansion, leases, outcomes
//! under the lease token, retries with backoff, expired leases, concurrent claimers.

mod support;

use std::collections::HashSet;

use support::{Claimed, TestDb, claim, exec, seed};

async fn expand(db: &TestDb) -> i32 {
    sqlx::query_scalar("SELECT msgpool.expand(100)")
        .fetch_one(&db.pool)
        .await
        .expect("expand")
}

/// (recipient, channel, state, skip_reason) of every delivery, sorted.
async fn deliveries(db: &TestDb) -> Vec<(String, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT recipient_key::text, channel::text, state::text, skip_reason FROM msgpool.delivery ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deliveries")
}

async fn record(
    db: &TestDb,
    id: i64,
    token: uuid::Uuid,
    outcome: &str,
    error: Option<&str>,
) -> i32 {
    sqlx::query_scalar("SELECT msgpool.record_outcomes($1)")
        .bind(serde_json::json!([{ "id": id, "lease_token": token, "outcome": outcome, "error": error, "worker": "test" }]))
        .fetch_one(&db.pool)
        .await
        .expect("record")
}

async fn state_of(db: &TestDb, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT state::text, attempts, last_error FROM msgpool.delivery WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("delivery")
}

fn row(r: &str, c: &str, s: &str, why: Option<&str>) -> (String, String, String, Option<String>) {
    (r.into(), c.into(), s.into(), why.map(Into::into))
}

#[tokio::test]
async fn expand_makes_deliveries_for_subscribers_and_group_members_once_with_narrowed_channels() {
    let db = TestDb::new().await;
    seed(&db.pool).await; // ops (zhang.san, li.si) subscribes to order.dispatch_backlog
    exec(&db.pool, "INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('order.dispatch_backlog', 'zhang.san');
               INSERT INTO msgpool.subscription (type_key, recipient_key, channels) VALUES ('order.dispatch_backlog', 'ops-robot', '{webhook}');
               INSERT INTO msgpool.recipient (key, name, email, enabled) VALUES ('off', 'Off', 'off@example.com', false);
               INSERT INTO msgpool.group_member VALUES ('ops', 'off');
               SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 120}');").await;
    assert_eq!(expand(&db).await, 1);
    assert_eq!(
        deliveries(&db).await,
        vec![
            row("li.si", "email", "pending", None),
            row("li.si", "inbox", "pending", None),
            row("off", "email", "skipped", Some("recipient disabled")),
            row("off", "inbox", "skipped", Some("recipient disabled")),
            row("off", "sms", "skipped", Some("recipient disabled")),
            row("off", "webhook", "skipped", Some("recipient disabled")),
            row("ops-robot", "webhook", "pending", None),
            row("zhang.san", "email", "pending", None),
            row("zhang.san", "inbox", "pending", None),
            row("zhang.san", "sms", "pending", None),
        ],
        "zhang.san, subscribed directly and through ops, is one recipient; ops-robot only on \
         webhook; a missing contact nobody asked for (li.si's phone, the people's webhooks) \
         is no delivery, a disabled recipient is recorded"
    );
    assert_eq!(expand(&db).await, 0, "nothing left to expand");
    let state: String = sqlx::query_scalar("SELECT state::text FROM msgpool.message")
        .fetch_one(&db.pool)
        .await
        .expect("state");
    assert_eq!(state, "expanded");
}

#[tokio::test]
async fn explicit_recipients_replace_the_subscribers_and_future_messages_wait() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(&db.pool, "SELECT msgpool.send('server.down', recipients => '{li.si}');
               SELECT msgpool.send('server.down', deliver_at => now() + interval '1 hour', recipients => '{zhang.san}');").await;
    assert_eq!(expand(&db).await, 1, "only the due message");
    assert_eq!(
        deliveries(&db).await,
        vec![row("li.si", "inbox", "pending", None),],
        "li.si has no phone: no sms delivery to skip, as she is reached in the inbox"
    );
}

#[tokio::test]
async fn outcomes_are_written_only_under_the_current_lease() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "SELECT msgpool.send('server.down', recipients => '{zhang.san}')",
    )
    .await;
    expand(&db).await;
    let claimed = claim(&db.pool, "inbox", 10, "30 seconds").await;
    assert_eq!(claimed.len(), 1);
    let Claimed {
        id,
        lease_token: token,
        attempt,
        ..
    } = claimed[0].clone();
    assert_eq!(attempt, 1);
    assert!(
        claim(&db.pool, "inbox", 10, "30 seconds").await.is_empty(),
        "a leased delivery is not claimed twice"
    );

    assert_eq!(
        record(&db, id, uuid::Uuid::new_v4(), "sent", None).await,
        0,
        "a stranger's token writes nothing"
    );
    assert_eq!(state_of(&db, id).await.0, "sending");
    assert_eq!(record(&db, id, token, "sent", None).await, 1);
    assert_eq!(state_of(&db, id).await.0, "sent");
    assert_eq!(
        record(&db, id, token, "dead", Some("late")).await,
        0,
        "an outcome is written once"
    );
    assert_eq!(state_of(&db, id).await.0, "sent");
}

#[tokio::test]
async fn transient_failures_back_off_in_the_database_then_go_dead_after_max_attempts() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "UPDATE msgpool.message_type SET max_attempts = 3 WHERE key = 'server.down';
               SELECT msgpool.send('server.down', recipients => '{zhang.san}');",
    )
    .await;
    expand(&db).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM msgpool.delivery WHERE channel = 'sms'")
        .fetch_one(&db.pool)
        .await
        .expect("id");

    for attempt in 1..=3 {
        let claimed = claim(&db.pool, "sms", 10, "30 seconds").await;
        assert_eq!(claimed.len(), 1, "attempt {attempt} is due");
        assert_eq!(claimed[0].attempt, attempt);
        record(
            &db,
            id,
            claimed[0].lease_token,
            "retry",
            Some("gateway timed out"),
        )
        .await;
        let wait: f64 = sqlx::query_scalar("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM msgpool.delivery WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("wait");
        if attempt < 3 {
            let base = 5.0 * 2f64.powi(attempt - 1);
            assert!(
                (base * 0.7..base * 1.3).contains(&wait),
                "attempt {attempt}: waits about {base}s, got {wait}"
            );
            assert!(
                claim(&db.pool, "sms", 10, "30 seconds").await.is_empty(),
                "not due while backing off"
            );
            exec(
                &db.pool,
                "UPDATE msgpool.delivery SET next_attempt_at = now() WHERE channel = 'sms'",
            )
            .await;
        }
    }
    assert_eq!(
        state_of(&db, id).await,
        ("dead".into(), 3, Some("gateway timed out".into()))
    );
    let log: Vec<(i32, String)> = sqlx::query_as("SELECT attempt, outcome::text FROM msgpool.delivery_attempt WHERE delivery_id = $1 ORDER BY attempt")
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .expect("attempt log");
    assert_eq!(
        log,
        vec![(1, "retry".into()), (2, "retry".into()), (3, "dead".into())]
    );

    let other: i64 = sqlx::query_scalar("SELECT id FROM msgpool.delivery WHERE channel = 'inbox'")
        .fetch_one(&db.pool)
        .await
        .expect("id");
    let claimed = claim(&db.pool, "inbox", 10, "30 seconds").await;
    record(
        &db,
        other,
        claimed[0].lease_token,
        "dead",
        Some("550 no such user"),
    )
    .await;
    assert_eq!(
        state_of(&db, other).await,
        ("dead".into(), 1, Some("550 no such user".into())),
        "permanent: dead at once"
    );
}

#[tokio::test]
async fn an_expired_lease_is_taken_back_and_the_stale_worker_cannot_write() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "SELECT msgpool.send('server.down', recipients => '{zhang.san}')",
    )
    .await;
    expand(&db).await;
    let first = claim(&db.pool, "inbox", 10, "50 milliseconds").await;
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let second = claim(&db.pool, "inbox", 10, "30 seconds").await;
    assert_eq!(second.len(), 1, "the expired lease is claimable again");
    assert_eq!(
        (second[0].id, second[0].attempt),
        (first[0].id, 2),
        "same delivery, second attempt"
    );
    assert_eq!(
        record(&db, first[0].id, first[0].lease_token, "sent", None).await,
        0,
        "the first worker's token is stale"
    );
    assert_eq!(
        record(&db, second[0].id, second[0].lease_token, "sent", None).await,
        1
    );
}

#[tokio::test]
async fn heartbeats_keep_a_lease_and_release_gives_unstarted_work_back() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "SELECT msgpool.send('server.down', recipients => '{zhang.san}')",
    )
    .await;
    expand(&db).await;
    let claimed = claim(&db.pool, "inbox", 10, "100 milliseconds").await;
    let tokens = vec![claimed[0].lease_token];
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        let held: i32 = sqlx::query_scalar("SELECT msgpool.extend_leases($1, '100 milliseconds')")
            .bind(&tokens)
            .fetch_one(&db.pool)
            .await
            .expect("heartbeat");
        assert_eq!(held, 1);
    }
    assert!(
        claim(&db.pool, "inbox", 10, "30 seconds").await.is_empty(),
        "still leased after 180 ms thanks to heartbeats"
    );

    let released: i32 = sqlx::query_scalar("SELECT msgpool.release_deliveries($1)")
        .bind(&tokens)
        .fetch_one(&db.pool)
        .await
        .expect("release");
    assert_eq!(released, 1);
    assert_eq!(
        state_of(&db, claimed[0].id).await,
        ("pending".into(), 0, None),
        "a released claim is not an attempt"
    );
}

#[tokio::test]
async fn inbox_rows_and_their_outcomes_are_written_together() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "SELECT msgpool.send('server.down', recipients => '{zhang.san,li.si}')",
    )
    .await;
    expand(&db).await;
    let claimed = claim(&db.pool, "inbox", 10, "30 seconds").await;
    assert_eq!(claimed.len(), 2);
    let items: Vec<_> = claimed
        .iter()
        .map(|c| serde_json::json!({ "id": c.id, "lease_token": c.lease_token, "subject": "down", "body": "db1 is down" }))
        .collect();
    let mut items_with_stale = items.clone();
    items_with_stale[1]["lease_token"] = serde_json::json!(uuid::Uuid::new_v4());
    let written: i32 = sqlx::query_scalar("SELECT msgpool.deliver_to_inbox($1)")
        .bind(serde_json::Value::Array(items_with_stale))
        .fetch_one(&db.pool)
        .await
        .expect("deliver");
    assert_eq!(written, 1, "only the row still leased under its token");
    let written: i32 = sqlx::query_scalar("SELECT msgpool.deliver_to_inbox($1)")
        .bind(serde_json::Value::Array(items))
        .fetch_one(&db.pool)
        .await
        .expect("deliver again");
    assert_eq!(
        written, 1,
        "the first row is sent already; only the second is new"
    );
    let inbox: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT i.recipient_key::text, i.body, d.provider_ref FROM msgpool.inbox i JOIN msgpool.delivery d ON d.id = i.delivery_id ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("inbox");
    assert_eq!(inbox.len(), 2, "one inbox row per delivery: {inbox:?}");
    assert!(inbox.iter().all(|(_, body, r)| body == "db1 is down"
        && r.as_deref().is_some_and(|r| r.starts_with("inbox:"))));
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_delivery() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(&db.pool, "INSERT INTO msgpool.message (type_key, recipients) SELECT 'server.down', '{zhang.san}' FROM generate_series(1, 400)").await;
    while expand(&db).await > 0 {}
    let claimers = (0..6).map(|_| {
        let pool = db.pool.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM msgpool.claim_deliveries('inbox', 25, '30 seconds')",
                )
                .fetch_all(&pool)
                .await
                .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        for id in claimer.await.expect("join") {
            total += 1;
            assert!(seen.insert(id), "delivery {id} claimed twice");
        }
    }
    assert_eq!(total, 400, "every inbox delivery claimed exactly once");
}

/// Recipient keys of deliveries and inbox rows in (recipient, table) form, sorted.
async fn keys_in_history(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT recipient_key::text, 'delivery' FROM msgpool.delivery
         UNION ALL SELECT recipient_key::text, 'inbox' FROM msgpool.inbox ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .expect("keys")
}

#[tokio::test]
async fn a_recipients_history_follows_a_rename_and_keeps_it_from_removal() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "UPDATE msgpool.recipient SET phone = '+8613900000000' WHERE key = 'li.si';
         SELECT msgpool.send('server.down', recipients => '{li.si}')",
    )
    .await;
    expand(&db).await;
    let claimed = claim(&db.pool, "inbox", 10, "30 seconds").await;
    let items: Vec<_> = claimed
        .iter()
        .map(|c| serde_json::json!({ "id": c.id, "lease_token": c.lease_token, "subject": "down", "body": "db1" }))
        .collect();
    sqlx::query("SELECT msgpool.deliver_to_inbox($1)")
        .bind(serde_json::Value::Array(items))
        .execute(&db.pool)
        .await
        .expect("deliver");

    exec(
        &db.pool,
        "UPDATE msgpool.recipient SET key = 'li.si2' WHERE key = 'li.si'",
    )
    .await;
    assert_eq!(
        keys_in_history(&db).await,
        [
            ("li.si2".to_owned(), "delivery".to_owned()),
            ("li.si2".to_owned(), "delivery".to_owned()),
            ("li.si2".to_owned(), "inbox".to_owned()),
        ],
        "the sms delivery, the inbox delivery and the inbox row all follow the new key"
    );

    let refused = sqlx::query("DELETE FROM msgpool.recipient WHERE key = 'li.si2'")
        .execute(&db.pool)
        .await
        .expect_err("a recipient with deliveries");
    assert_eq!(support::sqlstate(&refused), "23503");
    let refused = sqlx::query("TRUNCATE msgpool.recipient CASCADE")
        .execute(&db.pool)
        .await
        .expect_err("recipients with deliveries");
    assert_eq!(support::sqlstate(&refused), "23503");
    assert_eq!(keys_in_history(&db).await.len(), 3, "nothing was lost");

    // Once its deliveries are pruned, the recipient may go, its inbox rows with it.
    exec(&db.pool, "DELETE FROM msgpool.message").await;
    exec(
        &db.pool,
        "DELETE FROM msgpool.recipient WHERE key = 'li.si2'",
    )
    .await;
    assert_eq!(keys_in_history(&db).await, []);

    // With no deliveries, even a truncate may take the recipients, their inboxes with them.
    exec(
        &db.pool,
        "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, body)
         VALUES ('zhang.san', 'server.down', 'urgent', 'db1')",
    )
    .await;
    exec(&db.pool, "TRUNCATE msgpool.recipient CASCADE").await;
    assert_eq!(keys_in_history(&db).await, []);
}

#[tokio::test]
async fn removing_a_recipient_waits_for_an_expansion_under_way() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "UPDATE msgpool.recipient SET phone = '+8613900000000' WHERE key = 'li.si';
         SELECT msgpool.send('server.down', recipients => '{li.si}')",
    )
    .await;
    // An expansion that has written its deliveries but not yet committed.
    let mut expanding = db.pool.begin().await.expect("begin");
    sqlx::query("SELECT msgpool.expand(100)")
        .execute(&mut *expanding)
        .await
        .expect("expand");
    let pool = db.pool.clone();
    let removal = tokio::spawn(async move {
        sqlx::query("DELETE FROM msgpool.recipient WHERE key = 'li.si'")
            .execute(&pool)
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !removal.is_finished(),
        "the removal waits for the expansion"
    );
    expanding.commit().await.expect("commit");
    let refused = removal
        .await
        .expect("join")
        .expect_err("the committed deliveries keep the recipient");
    assert_eq!(support::sqlstate(&refused), "23503");
    assert_eq!(keys_in_history(&db).await.len(), 2);
}

#[tokio::test]
async fn hot_tables_grown_past_their_statistics_are_analyzed_and_then_left_alone() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let refresh = || async {
        let mut analyzed: Vec<String> = sqlx::query_scalar("SELECT msgpool.refresh_statistics()")
            .fetch_one(&db.pool)
            .await
            .expect("refresh");
        analyzed.sort();
        analyzed
    };
    let known = || async {
        sqlx::query_scalar::<_, f32>(
            "SELECT reltuples FROM pg_class
              WHERE oid IN ('msgpool.message'::regclass, 'msgpool.delivery'::regclass) ORDER BY relname",
        )
        .fetch_all(&db.pool)
        .await
        .expect("reltuples")
    };
    let burst = "INSERT INTO msgpool.message (type_key, recipients)
                 SELECT 'server.down', '{zhang.san}' FROM generate_series(1, 3000);
                 SELECT msgpool.expand(3000);";
    // autovacuum would analyze them on its own schedule, racing the assertions below
    exec(
        &db.pool,
        "ALTER TABLE msgpool.message SET (autovacuum_enabled = false);
         ALTER TABLE msgpool.delivery SET (autovacuum_enabled = false);",
    )
    .await;
    // Never analyzed: the planner sizes the tables by what they hold, left alone.
    assert_eq!(known().await, [-1.0, -1.0]);
    exec(&db.pool, burst).await;
    assert!(refresh().await.is_empty());

    // A drained pool after its vacuum: the planner takes its tables for empty ones.
    exec(&db.pool, "DELETE FROM msgpool.message").await;
    exec(&db.pool, "VACUUM ANALYZE msgpool.message").await;
    exec(&db.pool, "VACUUM ANALYZE msgpool.delivery").await;
    assert_eq!(known().await, [0.0, 0.0]);
    assert!(refresh().await.is_empty(), "nothing has grown yet");
    exec(&db.pool, burst).await;
    assert_eq!(refresh().await, ["msgpool.delivery", "msgpool.message"]);
    assert_eq!(
        known().await,
        [6000.0, 3000.0],
        "inbox and sms for each message"
    );
    assert!(
        refresh().await.is_empty(),
        "analyzed tables wait until they double again"
    );
}

#[tokio::test]
async fn a_delivery_sent_after_a_retry_no_longer_shows_the_old_error() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "UPDATE msgpool.settings SET retry_base = '0'; SELECT msgpool.send('server.down', recipients => '{zhang.san}')",
    )
    .await;
    expand(&db).await;
    let first = claim(&db.pool, "sms", 10, "30 seconds").await;
    record(
        &db,
        first[0].id,
        first[0].lease_token,
        "retry",
        Some("gateway timed out"),
    )
    .await;
    assert_eq!(
        state_of(&db, first[0].id).await,
        ("pending".into(), 1, Some("gateway timed out".into()))
    );
    exec(
        &db.pool,
        "UPDATE msgpool.delivery SET next_attempt_at = now()",
    )
    .await;
    let second = claim(&db.pool, "sms", 10, "30 seconds").await;
    record(&db, second[0].id, second[0].lease_token, "sent", None).await;
    assert_eq!(
        state_of(&db, second[0].id).await,
        ("sent".into(), 2, None),
        "the attempt log keeps the error; the delivery says what it is now"
    );
    let logged: Vec<Option<String>> =
        sqlx::query_scalar("SELECT error FROM msgpool.delivery_attempt ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("attempts");
    assert_eq!(logged, [Some("gateway timed out".to_owned()), None]);
}
