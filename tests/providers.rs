//! Real providers' ways, against real servers on loopback: one that hangs holds only its own
//! share of the sends in flight; one that asks to wait (Retry-After, a robot's rate-limit
//! code) is waited for without spending attempts; chat robots' limits defer the excess and
//! lose nothing; what the worker sees shows in `status` and at `/metrics`.

mod support;

use std::time::Duration;

use msgpool::Db;
use msgpool::domain::Channel;
use msgpool_workers::WorkerConfig;
use support::http::HttpServer;
use support::silent::SilentServer;
use support::smtp::SmtpServer;
use support::{TestDb, exec, scalar, start, stop, wait_for, worker_config};

fn config(channels: &[Channel]) -> WorkerConfig {
    WorkerConfig {
        grace: Duration::from_secs(1),
        ..worker_config("providers", channels)
    }
}

/// A type on `channels` with `digest`, and generic webhook recipients at `hooks`
/// (key, URL), all subscribed.
async fn setup(pool: &Db, channels: &str, digest: bool, hooks: &[(&str, String)]) {
    exec(
        pool,
        &format!(
            "INSERT INTO msgpool.message_type (key, name, channels, digest, max_attempts)
             VALUES ('alert', 'Alert', '{{{channels}}}', {digest}, 1)"
        ),
    )
    .await;
    for (key, url) in hooks {
        exec(
            pool,
            &format!(
                "INSERT INTO msgpool.recipient (key, name, webhook_url) VALUES ('{key}', '{key}', '{url}');
                 INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('alert', '{key}')"
            ),
        )
        .await;
    }
}

async fn send(pool: &Db, count: i64, to: &str) {
    exec(
        pool,
        &format!(
            "SELECT msgpool.send('alert', jsonb_build_object('n', n), recipients => '{{{to}}}') FROM generate_series(1, {count}) n"
        ),
    )
    .await;
}

async fn count(pool: &Db, sql: &str) -> i64 {
    scalar(pool, sql).await
}

#[tokio::test]
async fn a_hung_destination_holds_only_its_share_while_the_others_flow() {
    let db = TestDb::new().await;
    let hung = SilentServer::start().await;
    let healthy = HttpServer::start().await;
    let hung_smtp = SilentServer::start().await;
    setup(
        &db.pool,
        "inbox,email,webhook",
        false,
        &[
            ("stuck", format!("http://127.0.0.1:{}/hook", hung.port)),
            ("fine", healthy.url("/hook")),
        ],
    )
    .await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.recipient (key, name, email) VALUES ('person', 'Person', 'p@example.com');
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('alert', 'person')",
    )
    .await;
    let mut config = config(&[Channel::Inbox, Channel::Email, Channel::Webhook]);
    // long enough that nothing sent to the hung servers ends during the test
    config.timeouts.connect = Duration::from_secs(600);
    config.timeouts.total = Duration::from_secs(600);
    config.smtp_url = Some(format!("smtp://127.0.0.1:{}", hung_smtp.port));
    // the worker's own connections, as `msgpool worker` has them: the test's queries wait
    // for none of them
    let worker_pool = Db::connect(&db.url).await.expect("the worker's pool");
    let worker = start(&worker_pool, config);
    exec(
        &db.pool,
        "SELECT msgpool.send('alert', jsonb_build_object('n', n)) FROM generate_series(1, 300) n",
    )
    .await;

    // every healthy delivery goes while the hung ones are still out
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent' AND (channel = 'inbox' OR recipient_key = 'fine')",
        4 * 300,
    )
    .await;
    assert_eq!(healthy.requests().len(), 300);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM msgpool.delivery_attempt a JOIN msgpool.delivery d ON d.id = a.delivery_id
                          WHERE d.channel IN ('webhook', 'email') AND d.recipient_key <> 'fine'").await,
        0,
        "no hung send has ended"
    );
    let initial = msgpool_workers::defaults::INITIAL_IN_FLIGHT;
    assert!(
        (1..=initial).contains(&hung.accepted()),
        "the hung host got {} connections, more than its share of {initial}",
        hung.accepted()
    );
    assert!(
        (1..=initial).contains(&hung_smtp.accepted()),
        "the hung SMTP server got {} connections",
        hung_smtp.accepted()
    );
    // what the hung host will not take soon goes back to the pool, waiting for room
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE recipient_key = 'stuck' AND state = 'pending'
            AND deferred_by LIKE 'waiting for room at webhook 127.0.0.1:%: 16 sends in flight, its limit'",
    )
    .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was given back for later"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // status shows the hung host, full
    let hung_name = format!("127.0.0.1:{}", hung.port);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let status = msgpool::status::read(&db.pool).await.expect("status");
        if let Some(d) = status
            .destinations
            .into_iter()
            .find(|d| d.destination == hung_name)
        {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never showed {hung_name}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (shown.channel.as_str(), shown.in_flight, shown.flight_limit),
        ("webhook", 16, 16)
    );

    tokio::time::timeout(Duration::from_secs(30), stop(worker))
        .await
        .expect("the worker stops within its grace, hung sends or not");
    // nothing lost: every hung delivery is still to be sent
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM msgpool.delivery
                          WHERE channel IN ('webhook', 'email') AND recipient_key <> 'fine' AND state IN ('pending', 'sending')
                            AND attempts <= 1").await,
        600
    );
}

#[tokio::test]
async fn retry_after_pauses_that_destination_alone_and_spends_no_attempt() {
    let db = TestDb::new().await;
    let busy = HttpServer::start().await;
    let other = HttpServer::start().await;
    setup(
        &db.pool,
        "webhook",
        false,
        &[("busy", busy.url("/hook")), ("other", other.url("/hook"))],
    )
    .await;
    busy.reply_next_with(429, &["Retry-After: 2"], "slow down");
    let worker = start(&db.pool, config(&[Channel::Webhook]));
    send(&db.pool, 1, "busy").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while busy.requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no request came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send(&db.pool, 20, "busy,other").await;
    // max_attempts is 1: a throttled send that spent its attempt would be dead
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'",
        41,
    )
    .await;
    stop(worker).await;

    let busy_requests = busy.requests();
    let asked = busy_requests[0].received_at;
    let resumed = busy_requests[1].received_at;
    assert!(
        resumed.duration_since(asked) >= Duration::from_millis(1900),
        "the busy host was asked again after {:?}, before its Retry-After",
        resumed.duration_since(asked)
    );
    assert_eq!(
        busy_requests.len(),
        22,
        "one asked to wait, then each delivery sent once"
    );
    let other_requests = other.requests();
    assert_eq!(other_requests.len(), 20);
    assert!(
        other_requests.iter().all(|r| r.received_at < resumed),
        "the other host waited for the busy one"
    );
    let (attempts, log, deferred_by): (i32, String, String) = sqlx::query_as(
        "SELECT d.attempts, string_agg(a.outcome::text, ',' ORDER BY a.id), d.deferred_by
           FROM msgpool.delivery d JOIN msgpool.delivery_attempt a ON a.delivery_id = d.id
          WHERE d.id = (SELECT min(id) FROM msgpool.delivery) GROUP BY d.id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("first delivery");
    assert_eq!((attempts, log.as_str()), (1, "throttled,sent"));
    assert_eq!(
        deferred_by,
        "webhook answered HTTP 429 Too Many Requests with Retry-After: waiting 2 s"
    );
}

#[tokio::test]
async fn a_robots_own_rate_limit_code_waits_without_spending_an_attempt() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    exec(
        &db.pool,
        &format!(
            "INSERT INTO msgpool.message_type (key, name, channels, max_attempts) VALUES ('alert', 'Alert', '{{webhook}}', 1);
             INSERT INTO msgpool.recipient (key, name, webhook_url, webhook_flavor) VALUES ('ding', 'Ding', '{}', 'dingtalk')",
            http.url("/robot/send?access_token=T")
        ),
    )
    .await;
    http.reply_next(200, r#"{"errcode":130101,"errmsg":"send too fast"}"#);
    let worker = start(&db.pool, config(&[Channel::Webhook]));
    send(&db.pool, 1, "ding").await;
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery_attempt WHERE outcome = 'throttled'",
        1,
    )
    .await;
    stop(worker).await;
    let (state, attempts, deferred_by, wait): (String, i32, String, f64) = sqlx::query_as(
        "SELECT state::text, attempts, deferred_by, extract(epoch FROM next_attempt_at - now())::float8
           FROM msgpool.delivery",
    )
    .fetch_one(&db.pool)
    .await
    .expect("delivery");
    assert_eq!((state.as_str(), attempts), ("pending", 0));
    assert_eq!(
        deferred_by,
        "DingTalk error 130101: send too fast (the robot's rate limit): waiting 600 s"
    );
    assert!((590.0..=600.0).contains(&wait), "due again in {wait} s");
}

#[tokio::test]
async fn a_robot_limit_defers_the_excess_and_a_digest_type_gathers_it() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    exec(
        &db.pool,
        &format!(
            "UPDATE msgpool.robot_limit SET max_sends = 5, per = '3 seconds' WHERE flavor = 'dingtalk';
             INSERT INTO msgpool.message_type (key, name, channels, digest) VALUES
               ('one.by.one', 'One by one', '{{webhook}}', false), ('gathered', 'Gathered', '{{webhook}}', true);
             INSERT INTO msgpool.recipient (key, name, webhook_url, webhook_flavor) VALUES
               ('ding', 'Ding', '{}', 'dingtalk'), ('ding2', 'Ding 2', '{}', 'dingtalk')",
            http.url("/robot/send?access_token=A"),
            http.url("/robot/send?access_token=B"),
        ),
    )
    .await;
    let worker = start(&db.pool, config(&[Channel::Webhook]));
    exec(
        &db.pool,
        "SELECT msgpool.send('one.by.one', jsonb_build_object('n', n), recipients => '{ding}') FROM generate_series(1, 8) n;
         SELECT msgpool.send('gathered', jsonb_build_object('n', n), recipients => '{ding2}') FROM generate_series(1, 8) n",
    )
    .await;
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'",
        16,
    )
    .await;
    stop(worker).await;

    let requests = http.requests();
    let to = |robot: &str| {
        requests
            .iter()
            .filter(|r| r.query("access_token").as_deref() == Some(robot))
            .collect::<Vec<_>>()
    };
    let one_by_one = to("A");
    assert_eq!(one_by_one.len(), 8, "each message its own post");
    for window in one_by_one.windows(6) {
        let span = window[5].received_at.duration_since(window[0].received_at);
        assert!(
            span >= Duration::from_millis(2900),
            "6 posts to one robot within {span:?}"
        );
    }
    let gathered = to("B");
    assert_eq!(gathered.len(), 6, "5 posts, then the other 3 as one digest");
    let digest = gathered[5].json()["markdown"]["text"]
        .as_str()
        .expect("markdown")
        .to_owned();
    assert!(digest.contains("Gathered: 3 messages"), "{digest}");
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE gathered_into IS NOT NULL"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery
                          WHERE deferred_by = 'robot limit: dingtalk robots take 5 per 00:00:03'"
        )
        .await,
        6,
        "three of each robot's eight waited for the limit"
    );
}

#[tokio::test]
async fn metrics_show_the_pool_and_each_destination() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    let smtp = SmtpServer::start().await;
    setup(
        &db.pool,
        "email,webhook",
        false,
        &[("hook", http.url("/hook"))],
    )
    .await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.recipient (key, name, email) VALUES ('person', 'Person', 'p@example.com');
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('alert', 'person')",
    )
    .await;
    let port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        free.local_addr().expect("addr").port()
    };
    let mut config = config(&[Channel::Email, Channel::Webhook]);
    config.smtp_url = Some(smtp.url());
    config.metrics_listen = Some(([127, 0, 0, 1], port).into());
    let worker = start(&db.pool, config);
    exec(
        &db.pool,
        "SELECT msgpool.send('alert', jsonb_build_object('n', n)) FROM generate_series(1, 30) n",
    )
    .await;
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'",
        60,
    )
    .await;
    let page = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = page.text().await.expect("body");
    let hook = format!(
        "channel=\"webhook\",destination=\"127.0.0.1:{}\"",
        http.port
    );
    let mail = format!("channel=\"email\",destination=\"127.0.0.1:{}\"", smtp.port);
    for line in [
        "msgpool_deliveries{channel=\"webhook\",state=\"due\"} 0".to_owned(),
        "msgpool_sent_last_minute{channel=\"email\"} 30".to_owned(),
        format!("msgpool_destination_sends_total{{{hook},result=\"sent\"}} 30"),
        format!("msgpool_destination_sends_total{{{mail},result=\"sent\"}} 30"),
        format!("msgpool_send_duration_seconds_count{{{hook}}} 30"),
        format!("msgpool_destination_in_flight{{{hook}}} 0"),
        format!("msgpool_destination_paused{{{mail}}} 0"),
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
    }
    assert!(
        text.contains(&format!("msgpool_destination_flight_limit{{{hook}}} ")),
        "{text}"
    );
    let missing = reqwest::get(format!("http://127.0.0.1:{port}/secrets"))
        .await
        .expect("GET");
    assert_eq!(missing.status(), 404);
    stop(worker).await;
}
