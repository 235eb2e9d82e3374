//! The worker end to end: real PostgreSQL, real apalis workers, the inbox channel.

mod support;

use std::time::Duration;

use msgpool::Db;
use msgpool::domain::Channel;
use msgpool_workers::WorkerConfig;
use support::smtp::SmtpServer;
use support::{TestDb, exec, scalar, seed, start, stop, wait_for, worker_config};

fn config(name: &str) -> WorkerConfig {
    worker_config(name, &[Channel::Inbox])
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
    let sent = scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery WHERE channel = 'inbox' AND state = 'sent' AND sent_at IS NOT NULL").await;
    assert_eq!(sent, 2);
    let logged = scalar::<i64>(
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
async fn an_idle_worker_woken_by_a_message_writes_its_inbox_rows_and_parks_a_broken_one() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.template (type_key, channel, body) VALUES ('server.down', 'inbox', '{{ host }} is down')",
    )
    .execute(&db.pool)
    .await
    .expect("setup");
    let worker = start(&db.pool, config("w1"));
    // idle: the expander waits for a notification
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.waiting_worker", 1).await;
    sqlx::raw_sql(
        "BEGIN;
         SELECT msgpool.send('server.down', '{\"host\": \"db1\"}', recipients => '{zhang.san}');
         SELECT msgpool.send('server.down', '{\"hots\": \"db2\"}', recipients => '{li.si}');
         COMMIT;",
    )
    .execute(&db.pool)
    .await
    .expect("send");
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state IN ('sent', 'dead')",
        2,
    )
    .await;
    stop(worker).await;

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient_key::text, body FROM msgpool.inbox")
            .fetch_all(&db.pool)
            .await
            .expect("inbox");
    assert_eq!(rows, vec![("zhang.san".into(), "db1 is down".into())]);
    let outcomes: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT d.recipient_key::text, a.outcome::text, a.error FROM msgpool.delivery_attempt a
           JOIN msgpool.delivery d ON d.id = a.delivery_id WHERE a.worker = 'w1' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("attempts");
    assert_eq!(
        outcomes,
        vec![
            (
                "li.si".into(),
                "dead".into(),
                Some("inbox template body: host not in the payload; add it to the payload or change the template".into())
            ),
            ("zhang.san".into(), "sent".into(), None),
        ]
    );
}

#[tokio::test]
async fn a_message_to_more_recipients_than_a_batch_is_delivered_without_waiting_for_the_poll() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.recipient (key, name) SELECT 'r' || g, 'R' || g FROM generate_series(1, 7) g",
    )
    .execute(&db.pool)
    .await
    .expect("recipients");
    // The poll would come after the test's 20 s wait: only wake-ups can get this done.
    let worker = start(
        &db.pool,
        WorkerConfig {
            batch_size: 2,
            poll_interval: Duration::from_secs(60),
            ..config("w1")
        },
    );
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.waiting_worker", 1).await;
    sqlx::query("SELECT msgpool.send('server.down', '{\"host\": \"db1\"}', recipients => '{r1,r2,r3,r4,r5,r6,r7}')")
        .execute(&db.pool)
        .await
        .expect("send");
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 7).await;
    stop(worker).await;
}

#[tokio::test]
async fn a_busy_worker_analyzes_the_tables_a_burst_made_outgrow_their_statistics() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // A drained pool after its vacuum: the planner takes its tables for empty ones, and
    // autovacuum's next look may be a minute away.
    for table in ["msgpool.message", "msgpool.delivery"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(&db.pool)
            .await
            .expect("vacuum");
    }
    let analyzed =
        "SELECT analyze_count FROM pg_stat_user_tables WHERE relid = 'msgpool.message'::regclass";
    let before = scalar::<i64>(&db.pool, analyzed).await;
    let worker = start(&db.pool, config("w1"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.waiting_worker", 1).await;
    sqlx::query(
        "INSERT INTO msgpool.message (type_key, recipients)
         SELECT 'server.down', '{li.si}' FROM generate_series(1, 2000)",
    )
    .execute(&db.pool)
    .await
    .expect("burst");
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.inbox WHERE recipient_key = 'li.si'",
        2000,
    )
    .await;
    stop(worker).await;
    // the first full batch found the message table grown from nothing (autovacuum's
    // analyses are counted apart)
    assert!(scalar::<i64>(&db.pool, analyzed).await > before);
}

#[tokio::test]
async fn a_worker_whose_notification_connection_dies_listens_again_and_is_woken() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // The poll would come after the test's 20 s wait: only wake-ups can get this done.
    let worker = start(
        &db.pool,
        WorkerConfig {
            poll_interval: Duration::from_secs(60),
            ..config("w1")
        },
    );
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.waiting_worker", 1).await;
    // the LISTEN connection, which also runs the woken expansion (these queries excepted)
    macro_rules! listener {
        () => {
            "FROM pg_stat_activity
              WHERE datname = current_database() AND query NOT LIKE '%pg_stat_activity%'
                AND (query ILIKE 'LISTEN%' OR query LIKE '%msgpool.expand_and_claim%')"
        };
    }
    wait_for(&db.pool, concat!("SELECT count(*) ", listener!()), 1).await;
    let killed: Vec<bool> =
        sqlx::query_scalar(concat!("SELECT pg_terminate_backend(pid) ", listener!()))
            .fetch_all(&db.pool)
            .await
            .expect("terminate");
    assert_eq!(killed, vec![true]);

    // the first message finds a worker looking again; the second, the new connection listening
    for inboxed in 1..=2 {
        sqlx::query(
            "SELECT msgpool.send('server.down', '{\"host\": \"db1\"}', recipients => '{zhang.san}')",
        )
        .execute(&db.pool)
        .await
        .expect("send");
        wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", inboxed).await;
    }
    stop(worker).await;
}

#[tokio::test]
async fn two_workers_draining_one_pool_deliver_each_delivery_exactly_once() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::query("INSERT INTO msgpool.message (type_key, recipients) SELECT 'server.down', '{zhang.san,li.si}' FROM generate_series(1, 2000)")
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
        4000,
    )
    .await;
    stop(a).await;
    stop(b).await;

    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.inbox").await,
        4000,
        "one inbox row per delivery"
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt").await,
        4000,
        "one attempt per delivery: no duplicate sends"
    );
    let both_worked = scalar::<i64>(
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
    sqlx::raw_sql("SELECT msgpool.send('server.down', recipients => '{zhang.san,li.si}'); SELECT msgpool.expand(10);")
        .execute(&db.pool)
        .await
        .expect("setup");
    // A worker claims both, then dies without a word: its leases are all that is left of it.
    let claimed = scalar::<i64>(
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
    sqlx::query("INSERT INTO msgpool.message (type_key, recipients) SELECT 'server.down', '{zhang.san}' FROM generate_series(1, 10000)")
        .execute(&db.pool)
        .await
        .expect("messages");
    let worker = start(
        &db.pool,
        WorkerConfig {
            batch_size: 200,
            concurrency: 1,
            ..config("first")
        },
    );
    wait_for(&db.pool, "SELECT least(count(*), 1) FROM msgpool.inbox", 1).await;
    stop(worker).await;

    let stuck = scalar::<i64>(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sending'",
    )
    .await;
    assert_eq!(stuck, 0, "nothing is left leased after a graceful stop");
    let before = scalar::<i64>(&db.pool, "SELECT count(*) FROM msgpool.inbox").await;
    assert!(
        before < 10000,
        "the stop came before the end ({before} delivered)"
    );

    let again = start(&db.pool, config("second"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 10000).await;
    stop(again).await;
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery_attempt WHERE outcome = 'sent'"
        )
        .await,
        10000,
        "each delivered once"
    );
}

/// zhang.san and li.si get an order.dispatch_backlog email with a template.
async fn email_setup(db: &TestDb) {
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.template (type_key, channel, subject, body)
         VALUES ('order.dispatch_backlog', 'email', 'Dispatch backlog: {{ count }}', '{{ count }} orders are waiting');
         SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 120}', recipients => '{zhang.san,li.si}');",
    )
    .execute(&db.pool)
    .await
    .expect("setup");
}

fn email_config(name: &str, smtp_url: Option<String>) -> WorkerConfig {
    WorkerConfig {
        channels: vec![Channel::Email],
        smtp_url,
        smtp_from: "Alerts <alerts@example.com>".into(),
        ..config(name)
    }
}

#[tokio::test]
async fn an_email_arrives_at_the_smtp_server_with_from_to_subject_and_body() {
    let db = TestDb::new().await;
    email_setup(&db).await;
    let smtp = SmtpServer::start().await;
    let worker = start(&db.pool, email_config("mailer", Some(smtp.url())));
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE channel = 'email' AND state = 'sent'",
        2,
    )
    .await;
    stop(worker).await;

    let mut received = smtp.received();
    received.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(received.len(), 2);
    let mail = &received[1];
    assert_eq!(
        (mail.from.as_str(), mail.to.clone()),
        (
            "alerts@example.com",
            vec!["zhang.san@example.com".to_owned()]
        )
    );
    assert!(
        mail.data.contains("From: Alerts <alerts@example.com>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("zhang.san@example.com>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("Subject: Dispatch backlog: 120"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("120 orders are waiting"),
        "{}",
        mail.data
    );
    let message_id: String = sqlx::query_scalar(
        "SELECT provider_ref FROM msgpool.delivery WHERE channel = 'email' AND recipient_key = 'zhang.san'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("provider ref");
    assert!(
        mail.data.contains(&format!("Message-ID: {message_id}")),
        "the Message-ID is kept: {message_id}"
    );
}

#[tokio::test]
async fn smtp_4xx_is_retried_with_backoff_and_5xx_goes_dead_at_once() {
    let db = TestDb::new().await;
    email_setup(&db).await;
    exec(&db.pool, "UPDATE msgpool.settings SET retry_base = '200ms'").await;
    let pool = Db::connect(&db.url)
        .await
        .expect("a pool that sees the setting");
    let smtp = SmtpServer::start().await;
    smtp.refuse(
        "zhang.san@example.com",
        Some("450 4.2.1 mailbox busy, try later"),
    );
    smtp.refuse("li.si@example.com", Some("550 5.1.1 no such user"));

    let worker = start(&pool, email_config("mailer", Some(smtp.url())));
    wait_for(&pool, "SELECT count(*) FROM msgpool.delivery WHERE recipient_key = 'li.si' AND channel = 'email' AND state = 'dead'", 1).await;
    wait_for(
        &pool,
        "SELECT least(count(*), 2) FROM msgpool.delivery_attempt WHERE outcome = 'retry'",
        2,
    )
    .await;
    smtp.refuse("zhang.san@example.com", None);
    wait_for(&pool, "SELECT count(*) FROM msgpool.delivery WHERE recipient_key = 'zhang.san' AND channel = 'email' AND state = 'sent'", 1).await;
    stop(worker).await;

    let (attempts, error): (i32, String) =
        sqlx::query_as("SELECT attempts, last_error FROM msgpool.delivery WHERE recipient_key = 'li.si' AND channel = 'email'")
            .fetch_one(&pool)
            .await
            .expect("li.si");
    assert_eq!(attempts, 1, "permanent: no retry");
    assert!(
        error.contains("550") && error.contains("no such user"),
        "{error}"
    );
    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT a.outcome::text FROM msgpool.delivery_attempt a JOIN msgpool.delivery d ON d.id = a.delivery_id
          WHERE d.recipient_key = 'zhang.san' AND d.channel = 'email' ORDER BY a.attempt",
    )
    .fetch_all(&pool)
    .await
    .expect("attempts");
    assert!(
        outcomes.len() >= 3 && outcomes.last().map(String::as_str) == Some("sent"),
        "{outcomes:?}"
    );
    assert!(
        outcomes[..outcomes.len() - 1].iter().all(|o| o == "retry"),
        "{outcomes:?}"
    );
    assert_eq!(smtp.received().len(), 1, "exactly one email went out");
}

#[tokio::test]
async fn without_smtp_each_email_is_an_eml_file_in_the_outbox() {
    let db = TestDb::new().await;
    email_setup(&db).await;
    let outbox = tempfile::tempdir().expect("outbox");
    let worker = start(
        &db.pool,
        WorkerConfig {
            outbox: outbox.path().to_owned(),
            ..email_config("mailer", None)
        },
    );
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE channel = 'email' AND state = 'sent'",
        2,
    )
    .await;
    stop(worker).await;

    let files: Vec<_> = std::fs::read_dir(outbox.path().join("email"))
        .expect("outbox/email")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "eml"))
    );
    let refs: Vec<String> = sqlx::query_scalar(
        "SELECT provider_ref FROM msgpool.delivery WHERE channel = 'email' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("refs");
    for file in &files {
        assert!(
            refs.contains(&file.display().to_string()),
            "the file is the provider reference"
        );
        let eml = std::fs::read_to_string(file).expect("read .eml");
        assert!(
            eml.contains("Subject: Dispatch backlog: 120")
                && eml.contains("From: Alerts <alerts@example.com>"),
            "{eml}"
        );
    }
}

#[tokio::test]
async fn an_html_email_goes_as_plain_and_html_parts_with_values_escaped_only_in_html() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.template (type_key, channel, subject, body, html_body)
         VALUES ('order.dispatch_backlog', 'email', 'Backlog at {{ site }}', 'Site {{ site }}: {{ count }}',
                 '<p>Site <b>{{ site }}</b>: {{ count }}</p>');
         SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 120, \"site\": \"R&D <east>\"}',
                             recipients => '{zhang.san}');",
    )
    .execute(&db.pool)
    .await
    .expect("an HTML template and a message");
    let smtp = SmtpServer::start().await;
    let outbox = tempfile::tempdir().expect("outbox");
    for smtp_url in [Some(smtp.url()), None] {
        sqlx::query("UPDATE msgpool.delivery SET state = 'pending', next_attempt_at = now()")
            .execute(&db.pool)
            .await
            .expect("send it (again)");
        let worker = start(
            &db.pool,
            WorkerConfig {
                outbox: outbox.path().to_owned(),
                ..email_config("mailer", smtp_url)
            },
        );
        wait_for(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE channel = 'email' AND state = 'sent'",
            1,
        )
        .await;
        stop(worker).await;
    }
    let eml = std::fs::read_dir(outbox.path().join("email"))
        .expect("outbox/email")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("read .eml"))
        .next()
        .expect("one .eml");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    for mail in [&received[0].data, &eml] {
        assert!(
            mail.contains("multipart/alternative"),
            "both parts, for readers with and without HTML: {mail}"
        );
        assert!(
            mail.contains("Content-Type: text/plain") && mail.contains("Site R&D <east>: 120"),
            "the plain-text part as written: {mail}"
        );
        assert!(
            mail.contains("Content-Type: text/html")
                && mail.contains("<p>Site <b>R&amp;D &lt;east&gt;</b>: 120</p>"),
            "the HTML part with the payload's values escaped: {mail}"
        );
    }
}

#[tokio::test]
async fn an_email_sent_again_carries_the_message_id_it_had() {
    let db = TestDb::new().await;
    email_setup(&db).await;
    let smtp = SmtpServer::start().await;
    for round in 1..=2 {
        let worker = start(&db.pool, email_config("mailer", Some(smtp.url())));
        wait_for(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE channel = 'email' AND state = 'sent'",
            2,
        )
        .await;
        stop(worker).await;
        if round == 1 {
            // as after a crash between the send and the outcome's write: out again
            sqlx::query("UPDATE msgpool.delivery SET state = 'pending', next_attempt_at = now() WHERE channel = 'email'")
                .execute(&db.pool)
                .await
                .expect("send them again");
        }
    }
    let message_id = |data: &str| {
        data.lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let mut ids: Vec<(Vec<String>, String)> = smtp
        .received()
        .iter()
        .map(|mail| (mail.to.clone(), message_id(&mail.data)))
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 4, "two emails, each sent twice");
    assert_eq!(
        ids[0], ids[1],
        "one Message-ID for both sends to one person"
    );
    assert_eq!(ids[2], ids[3]);
    assert_ne!(ids[0].1, ids[2].1, "and another for the other delivery");
    assert!(
        ids[0].1.starts_with("<msgpool-") && ids[0].1.ends_with("@example.com>"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn the_worker_survives_a_postgresql_restart_and_resumes() {
    let home = tempfile::tempdir().expect("temp dir");
    let database = msgpool::Database::Embedded(home.path().join("pool"));
    let pool = database.pool(10).await.expect("embedded cluster");
    seed(&pool).await;
    let worker = start(&pool, config("survivor"));
    sqlx::query("SELECT msgpool.send('server.down', recipients => '{zhang.san}')")
        .execute(&pool)
        .await
        .expect("send");
    wait_for(&pool, "SELECT count(*) FROM msgpool.inbox", 1).await;

    let cluster = msgpool::embedded::Cluster::new(home.path().join("pool")).expect("cluster");
    assert!(cluster.stop().await.expect("stop PostgreSQL"));
    tokio::time::sleep(Duration::from_secs(2)).await; // the worker meets errors meanwhile
    assert!(
        !worker.1.is_finished(),
        "a database outage does not end the worker"
    );
    cluster
        .ensure_running()
        .await
        .expect("start PostgreSQL again");

    // A fresh producer: the test's own idle connections died with the server (the worker's
    // failed meanwhile and were replaced), and this pool does not ping before use.
    let producer = database.pool(2).await.expect("connect after restart");
    sqlx::query("SELECT msgpool.send('server.down', recipients => '{zhang.san}')")
        .execute(&producer)
        .await
        .expect("send after restart");
    wait_for(&producer, "SELECT count(*) FROM msgpool.inbox", 2).await;
    stop(worker).await;
    producer.close().await;
    pool.close().await;
    cluster.stop().await.expect("stop");
}

#[tokio::test]
async fn smtp_credentials_in_the_url_log_in_before_sending() {
    let db = TestDb::new().await;
    email_setup(&db).await;
    let smtp = SmtpServer::start().await;
    let url = format!("smtp://alerts%40example.com:s3cret@127.0.0.1:{}", smtp.port);
    let worker = start(&db.pool, email_config("mailer", Some(url)));
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE channel = 'email' AND state = 'sent'",
        2,
    )
    .await;
    stop(worker).await;
    assert!(!smtp.logins().is_empty(), "the worker logged in");
    assert!(
        smtp.logins()
            .iter()
            .all(|l| l == &("alerts@example.com".to_owned(), "s3cret".to_owned())),
        "{:?}",
        smtp.logins()
    );
    assert_eq!(smtp.received().len(), 2);
}

#[tokio::test]
async fn a_poll_only_worker_finds_work_without_notifications() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let worker = start(
        &db.pool,
        WorkerConfig {
            poll_only: true,
            poll_interval: Duration::from_millis(100),
            ..config("poller")
        },
    );
    sqlx::query("SELECT msgpool.send('server.down', recipients => '{zhang.san}')")
        .execute(&db.pool)
        .await
        .expect("send");
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // time enough for a listener to connect
    let listening: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("activity");
    assert_eq!(listening, 0, "no LISTEN connection in poll-only mode");
    stop(worker).await;
}

#[tokio::test]
async fn housekeeping_prunes_old_finished_history_on_its_own() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "SELECT msgpool.send('server.down', recipients => '{li.si}');
         SELECT msgpool.expand(10);
         UPDATE msgpool.delivery SET state = 'sent', sent_at = now();
         UPDATE msgpool.message SET created_at = now() - interval '2 days';
         SELECT msgpool.send('server.down', recipients => '{li.si}');",
    )
    .execute(&db.pool)
    .await
    .expect("one old, one new");
    let worker = start(
        &db.pool,
        WorkerConfig {
            retention: Some("1 day".into()),
            housekeeping_interval: Duration::from_millis(100),
            ..config("keeper")
        },
    );
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.message", 1).await;
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 1).await;
    stop(worker).await;
    let left: i64 = scalar::<i64>(
        &db.pool,
        "SELECT count(*) FROM msgpool.message WHERE created_at > now() - interval '1 hour'",
    )
    .await;
    assert_eq!(left, 1, "the new message stays");
}

#[tokio::test]
async fn messages_held_for_a_send_time_arrive_as_one_digest_listing_each() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let pin = |at: &str| {
        format!(
            "ALTER DATABASE {} SET msgpool.clock = '{at} Asia/Shanghai'",
            db.name
        )
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO msgpool.message_type (key, name, send_policy, send_times, time_zone)
         VALUES ('report.ready', 'Report ready', 'times_of_day', '{{08:00}}', 'Asia/Shanghai');
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('report.ready', 'zhang.san');
         INSERT INTO msgpool.template (type_key, channel, subject, body)
         VALUES ('report.ready', 'inbox', '{{{{ report }}}}', 'Report {{{{ report }}}} is ready');
         {};",
        pin("2026-11-26 03:00")
    )))
    .execute(&db.pool)
    .await
    .expect("setup");

    // Produced between 03:00 and 05:00 by sessions that see the pinned clock.
    let night = Db::connect(&db.url).await.expect("connect");
    sqlx::raw_sql(
        "SELECT msgpool.send('report.ready', '{\"report\": \"sales\"}');
         SELECT msgpool.send('report.ready', '{\"report\": \"stock\"}');
         SELECT msgpool.send('report.ready', '{\"report\": \"refunds\"}');
         SELECT msgpool.expand(10);",
    )
    .execute(&night)
    .await
    .expect("send at night");
    night.close().await;
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery
              WHERE state = 'pending' AND next_attempt_at = '2026-11-26 08:00 Asia/Shanghai'"
        )
        .await,
        3,
        "held until 08:00"
    );

    sqlx::raw_sql(sqlx::AssertSqlSafe(pin("2026-11-26 08:00:01")))
        .execute(&db.pool)
        .await
        .expect("morning");
    let morning = Db::connect(&db.url).await.expect("connect");
    let worker = start(&morning, config("digest"));
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'",
        3,
    )
    .await;
    stop(worker).await;

    let inbox: Vec<(String, String)> = sqlx::query_as("SELECT subject, body FROM msgpool.inbox")
        .fetch_all(&db.pool)
        .await
        .expect("inbox");
    assert_eq!(inbox.len(), 1, "one digest, not three messages");
    let (subject, body) = &inbox[0];
    assert_eq!(subject, "[normal] Report ready: 3 messages");
    for report in ["sales", "stock", "refunds"] {
        assert!(
            body.contains(&format!("Report {report} is ready")),
            "{report} missing from the digest:\n{body}"
        );
    }
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE gathered_into IS NOT NULL"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_template_shows_how_often_a_deduplicated_message_was_seen() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.template (type_key, channel, subject, body)
         VALUES ('server.down', 'inbox', '{{ host }} down', '{{ host }} is down (seen {{ duplicate_count + 1 }} times)');
         SELECT msgpool.send('server.down', '{\"host\": \"db1\"}', dedup_key => 'db1', recipients => '{li.si}')
           FROM generate_series(1, 3);",
    )
    .execute(&db.pool)
    .await
    .expect("setup");
    let worker = start(&db.pool, config("dedup"));
    wait_for(&db.pool, "SELECT count(*) FROM msgpool.inbox", 1).await;
    stop(worker).await;
    let body: String = sqlx::query_scalar("SELECT body FROM msgpool.inbox")
        .fetch_one(&db.pool)
        .await
        .expect("inbox");
    assert_eq!(body, "db1 is down (seen 3 times)");
}
