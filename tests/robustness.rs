//! Nothing stalls the pool: what a worker cannot read, render, send or record fails alone,
//! with its reason; limits at the door that a producer cannot lift; a cancel that sticks;
//! secrets that stay out of what people see; a worker that reaches the tables only through
//! the queue's functions. One test per way it used to break.

mod support;

use std::time::{Duration, Instant};

use msgpool::domain::Channel;
use support::http::HttpServer;
use support::silent::SilentServer;
use support::{
    TestDb, claim, exec, exec_on, scalar, seed, sqlstate, start, wait_for, worker_config,
};

/// `[[[...1...]]]`, `levels` arrays deep, under the key "x".
fn nested(levels: usize) -> String {
    format!("{{\"x\": {}1{}}}", "[".repeat(levels), "]".repeat(levels))
}

#[tokio::test]
async fn a_deeply_nested_payload_is_refused_at_the_door_and_one_past_it_fails_alone() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let refused =
        sqlx::query("SELECT msgpool.send('server.down', $1::jsonb, recipients => '{zhang.san}')")
            .bind(nested(130))
            .execute(&db.pool)
            .await
            .expect_err("130 levels");
    assert_eq!(sqlstate(&refused), "MP014");
    sqlx::query("SELECT msgpool.send('server.down', $1::jsonb, recipients => '{zhang.san}')")
        .bind(nested(31))
        .execute(&db.pool)
        .await
        .expect("31 levels are fine");

    // One written past the door (an administrator's INSERT with the trigger off, or a row
    // older than the limit), between good ones: it parks alone, the rest arrive.
    exec(&db.pool, "DELETE FROM msgpool.message").await;
    for n in 0..10 {
        exec(&db.pool, &format!("SELECT msgpool.send('server.down', '{{\"n\": {n}}}', recipients => '{{zhang.san}}')")).await;
        if n == 4 {
            exec(
                &db.pool,
                "ALTER TABLE msgpool.message DISABLE TRIGGER message_validate",
            )
            .await;
            sqlx::query(
                "INSERT INTO msgpool.message (type_key, payload, recipients, urgency, due_at)
                 VALUES ('server.down', $1::jsonb, '{zhang.san}', 'urgent', now())",
            )
            .bind(nested(200))
            .execute(&db.pool)
            .await
            .expect("past the door");
            exec(
                &db.pool,
                "ALTER TABLE msgpool.message ENABLE TRIGGER message_validate",
            )
            .await;
        }
    }
    let worker = start(
        &db.pool,
        worker_config("deep", &[Channel::Inbox, Channel::Sms]),
    );
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state IN ('sent', 'dead')",
        22,
    )
    .await;
    worker.0.cancel();
    worker.1.await.expect("join").expect("stops");
    let dead: Vec<(String, String)> = sqlx::query_as(
        "SELECT channel::text, last_error FROM msgpool.delivery WHERE state = 'dead' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("dead");
    assert_eq!(
        dead.len(),
        2,
        "only the unreadable message's two deliveries: {dead:?}"
    );
    assert!(
        dead.iter()
            .all(|(_, e)| e.contains("cannot read the payload")),
        "{dead:?}"
    );
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'"
        )
        .await,
        20,
        "every good message went out on both channels"
    );
}

#[tokio::test]
async fn a_reply_the_database_cannot_store_parks_its_delivery_alone_and_the_rest_are_recorded_once()
{
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let http = HttpServer::start().await;
    exec(
        &db.pool,
        &format!(
            "INSERT INTO msgpool.message_type (key, name, channels) VALUES ('hook.test', 'Hook', '{{webhook}}');
             INSERT INTO msgpool.recipient (key, name, webhook_url) VALUES ('hook', 'Hook', '{}');",
            http.url("/hook")
        ),
    )
    .await;
    // the first request's reply holds a NUL, which PostgreSQL's text cannot store
    http.reply_next(400, "bad\u{0}request");
    for n in 0..11 {
        exec(
            &db.pool,
            &format!(
                "SELECT msgpool.send('hook.test', '{{\"n\": {n}}}', recipients => '{{hook}}')"
            ),
        )
        .await;
    }
    let worker = start(&db.pool, worker_config("nul", &[Channel::Webhook]));
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state IN ('sent', 'dead')",
        11,
    )
    .await;
    worker.0.cancel();
    worker.1.await.expect("join").expect("stops");
    let dead: Vec<String> =
        sqlx::query_scalar("SELECT last_error FROM msgpool.delivery WHERE state = 'dead'")
            .fetch_all(&db.pool)
            .await
            .expect("dead");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].contains("HTTP 400") && dead[0].contains("bad request"),
        "{dead:?}"
    );
    assert_eq!(
        http.requests().len(),
        11,
        "each delivery was sent exactly once"
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt").await,
        11,
        "and recorded once"
    );
}

#[tokio::test]
async fn a_runaway_template_parks_its_delivery_and_the_worker_goes_on_and_stops_when_told() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.template (type_key, channel, subject, body) VALUES ('server.down', 'inbox', 'x',
           '{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}.{% endfor %}{% endfor %}{% endfor %}');
         SELECT msgpool.send('server.down', '{}', recipients => '{zhang.san}');
         SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 1}', recipients => '{zhang.san}');",
    )
    .await;
    let started = Instant::now();
    let worker = start(
        &db.pool,
        worker_config("runaway", &[Channel::Inbox, Channel::Email]),
    );
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state IN ('sent', 'dead')",
        3,
    )
    .await;
    let (state, error): (String, String) = sqlx::query_as(
        "SELECT d.state::text, d.last_error FROM msgpool.delivery d JOIN msgpool.message m ON m.id = d.message_id
          WHERE m.type_key = 'server.down' AND d.channel = 'inbox'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("the runaway's delivery");
    assert_eq!(state, "dead");
    assert!(error.contains("exceeded its budget"), "{error}");
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'"
        )
        .await,
        2,
        "the other message's inbox and email went out"
    );
    worker.0.cancel();
    tokio::time::timeout(Duration::from_secs(10), worker.1)
        .await
        .expect("the worker stops within its grace")
        .expect("join")
        .expect("stops cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_smtp_server_that_never_answers_times_out_as_a_retryable_failure() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let port = SilentServer::start().await.port;
    exec(&db.pool, "SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 1}', recipients => '{zhang.san}')").await;
    let mut config = worker_config("silent", &[Channel::Email]);
    config.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    config.timeouts.connect = Duration::from_secs(1);
    config.timeouts.total = Duration::from_secs(2);
    let worker = start(&db.pool, config);
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE channel = 'email' AND state = 'pending' AND attempts = 1",
        1,
    )
    .await;
    worker.0.cancel();
    worker.1.await.expect("join").expect("stops");
    let error: String = scalar(
        &db.pool,
        "SELECT last_error FROM msgpool.delivery WHERE channel = 'email'",
    )
    .await;
    assert!(error.contains("SMTP"), "{error}");
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery_attempt WHERE outcome = 'retry'"
        )
        .await,
        1,
        "recorded as a retry, with its cause"
    );
}

#[tokio::test]
async fn a_producer_cannot_move_the_clock_lift_the_limits_or_point_a_key_elsewhere() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "SELECT msgpool.send('order.dispatch_backlog', '{}', dedup_key => 'wh-1')",
    )
    .await;
    let producer = support::login_as(&db, "msgpool_producer").await.1;
    let mut conn = producer.pool().acquire().await.expect("connection");

    exec_on(&mut conn, "SET msgpool.clock = '9999-01-01'").await;
    let pinned =
        sqlx::query("SELECT msgpool.send('order.dispatch_backlog', '{}', dedup_key => 'wh-2')")
            .execute(&mut *conn)
            .await
            .expect_err("a producer's session cannot pin the clock");
    assert_eq!(sqlstate(&pinned), "MP015");
    exec_on(&mut conn, "RESET msgpool.clock").await;

    exec_on(&mut conn, "SET msgpool.max_payload_bytes = '2000000000'").await;
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(200_000));
    let too_big = sqlx::query("SELECT msgpool.send('order.dispatch_backlog', $1::jsonb)")
        .bind(&big)
        .execute(&mut *conn)
        .await
        .expect_err("the limit is the administrators'");
    assert_eq!(sqlstate(&too_big), "MP004");

    for helper in [
        "SELECT msgpool.count_duplicate('order.dispatch_backlog', 'billing', 'wh-9', 1, 'infinity')",
        "SELECT msgpool.check_recipients('{zhang.san}', 'server.down')",
    ] {
        let refused = sqlx::query(sqlx::AssertSqlSafe(helper))
            .execute(&mut *conn)
            .await
            .expect_err(helper);
        assert_eq!(sqlstate(&refused), "42501", "{helper}");
    }

    // the answer to a producer names no recipient it did not name: it cannot enumerate them
    let unknown =
        sqlx::query("SELECT msgpool.send('server.down', '{}', recipients => '{zhang.sam}')")
            .execute(&mut *conn)
            .await
            .expect_err("unknown recipient");
    assert_eq!(sqlstate(&unknown), "MP019");
    assert!(!unknown.to_string().contains("zhang.san"), "{unknown}");
    let hint = unknown
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .and_then(|e| e.hint())
        .unwrap_or_default()
        .to_owned();
    assert!(!hint.contains("zhang.san"), "{hint}");

    // a NULL type key is an unknown type, not a crash in the hint
    let null = sqlx::query("SELECT msgpool.send(NULL)")
        .execute(&mut *conn)
        .await
        .expect_err("no type");
    assert_eq!(sqlstate(&null), "MP001");
    drop(conn);
    producer.close().await;

    // the did-you-mean search is bounded by the input: a stranger's 200 characters against
    // 10,000 recipients cost 10 s of the server's time before
    exec(
        &db.pool,
        "INSERT INTO msgpool.recipient (key, name) SELECT 'person-' || g, 'P' FROM generate_series(1, 10000) g",
    )
    .await;
    let started = Instant::now();
    let long = sqlx::query(
        "SELECT msgpool.send('server.down', '{}', recipients => ARRAY[repeat('q', 200)])",
    )
    .execute(&db.pool)
    .await
    .expect_err("unknown");
    assert_eq!(sqlstate(&long), "MP005");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_cancelled_message_is_not_delivered_when_its_lease_expires_or_its_send_fails() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let id: i64 = scalar(
        &db.pool,
        "SELECT msgpool.send('server.down', '{}', recipients => '{zhang.san}')",
    )
    .await;
    exec(&db.pool, "SELECT msgpool.expand(10)").await;
    // the sms is claimed by a worker that then dies; the inbox by one whose send fails
    let sms = claim(&db.pool, "sms", 10, "50 milliseconds").await;
    let inbox = claim(&db.pool, "inbox", 10, "30 seconds").await;
    assert_eq!((sms.len(), inbox.len()), (1, 1));
    exec(&db.pool, &format!("SELECT msgpool.cancel({id})")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        claim(&db.pool, "sms", 10, "30 seconds").await.is_empty(),
        "the expired lease is not taken back as due"
    );
    exec(
        &db.pool,
        &format!(
            "SELECT msgpool.record_outcomes('[{{\"id\": {}, \"lease_token\": \"{}\", \"outcome\": \"retry\", \"error\": \"timeout\"}}]')",
            inbox[0].id, inbox[0].lease_token
        ),
    )
    .await;
    let states: Vec<String> =
        sqlx::query_scalar("SELECT state::text FROM msgpool.delivery ORDER BY channel")
            .fetch_all(&db.pool)
            .await
            .expect("states");
    assert_eq!(states, ["cancelled", "cancelled"]);
    assert_eq!(
        scalar::<i32>(&db.pool, "SELECT msgpool.retry_deliveries()").await,
        0,
        "nothing of a cancelled message is re-queued"
    );
}

#[tokio::test]
async fn webhook_credentials_stay_out_of_last_error_and_the_outbox_is_private() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // nothing listens here: the send fails, and the error must not carry the token
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    exec(
        &db.pool,
        &format!(
            "UPDATE msgpool.recipient SET webhook_url = 'http://127.0.0.1:{port}/robot/send?access_token=SECRET-TOKEN'
              WHERE key = 'ops-robot';
             SELECT msgpool.send('order.dispatch_backlog', '{{\"count\": 1}}', recipients => '{{ops-robot,zhang.san}}');"
        ),
    )
    .await;
    let outbox = tempfile::tempdir().expect("outbox");
    let mut config = worker_config("secrets", &[Channel::Webhook, Channel::Email, Channel::Sms]);
    config.outbox = outbox.path().to_owned();
    let worker = start(&db.pool, config);
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE attempts > 0 AND state <> 'sending'",
        3,
    )
    .await;
    worker.0.cancel();
    worker.1.await.expect("join").expect("stops");
    let error: String = scalar(&db.pool, "SELECT last_error FROM msgpool.delivery WHERE channel = 'webhook' AND recipient_key = 'ops-robot'").await;
    assert!(error.contains("webhook request failed"), "{error}");
    assert!(!error.contains("SECRET-TOKEN"), "{error}");

    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![outbox.path().join("sms.jsonl")];
    for eml in std::fs::read_dir(outbox.path().join("email")).expect("email outbox") {
        files.push(eml.expect("entry").path());
    }
    for file in files {
        let mode = std::fs::metadata(&file)
            .expect("outbox file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
}

#[tokio::test]
async fn configuration_changes_are_kept_with_who_when_and_what_without_secrets() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "SET application_name = 'psql';
         UPDATE msgpool.message_type SET urgency = 'low' WHERE key = 'server.down';
         UPDATE msgpool.recipient SET webhook_secret = 'NEW-SECRET' WHERE key = 'ops-robot';
         INSERT INTO msgpool.rate_limit (channel, provider_per_second) VALUES ('sms', 10);
         UPDATE msgpool.rate_limit SET budget_used = 3;",
    )
    .await;
    let (actor, application, before, after): (String, Option<String>, String, String) =
        sqlx::query_as(
            "SELECT actor, application, before->>'urgency', after->>'urgency' FROM msgpool.audit
          WHERE type_key = 'server.down' AND action = 'update'",
        )
        .fetch_one(&db.pool)
        .await
        .expect("the type's change");
    assert_eq!((before.as_str(), after.as_str()), ("urgent", "low"));
    assert_eq!(application.as_deref(), Some("psql"));
    let current_user: String = scalar(&db.pool, "SELECT session_user::text").await;
    assert_eq!(actor, current_user);
    let robot: String = scalar(
        &db.pool,
        "SELECT audit::text FROM msgpool.audit WHERE recipient_key = 'ops-robot' AND action = 'update'",
    )
    .await;
    assert!(
        !robot.contains("NEW-SECRET") && !robot.contains("SEC123"),
        "{robot}"
    );
    assert!(
        !robot.contains("access_token=T"),
        "the URL is redacted: {robot}"
    );
    assert!(robot.contains("(replaced)"), "{robot}");
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.audit WHERE subject = 'rate_limit'"
        )
        .await,
        1,
        "the limit's insert; a claim spending its budget is no change to the configuration"
    );
}
