//! Webhooks end to end: each flavor arrives at a real HTTP server in its provider's format
//! with a correct signature, checked here by an independent implementation of each
//! provider's published algorithm; errors inside an HTTP 200 are read and classified.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use msgpool::Db;
use msgpool::domain::Channel;
use msgpool_workers::WorkerConfig;
use sha2::Sha256;
use support::http::HttpServer;
use support::{TestDb, exec, finished_delivery, wait_for};
use tokio_util::sync::CancellationToken;

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn setup(db: &TestDb, http: &HttpServer) {
    let sql = format!(
        "INSERT INTO msgpool.message_type (key, name, channels, max_attempts) VALUES ('server.down', 'Server down', '{{webhook}}', 5);
         INSERT INTO msgpool.template (type_key, channel, subject, body) VALUES ('server.down', 'webhook', '{{{{ host }}}} down', 'since {{{{ since }}}}');
         INSERT INTO msgpool.recipient (key, name, webhook_url, webhook_flavor, webhook_secret) VALUES
           ('ding', 'DingTalk group', '{ding}', 'dingtalk', 'SEC1'),
           ('wecom', 'WeCom group', '{wecom}', 'wecom', NULL),
           ('feishu', 'Feishu group', '{feishu}', 'feishu', 'SEC2'),
           ('slack', 'Slack channel', '{slack}', 'slack', NULL),
           ('gen', 'Our service', '{generic}', 'generic', 'SEC3');",
        ding = http.url("/ding?access_token=T"),
        wecom = http.url("/wecom?key=K"),
        feishu = http.url("/feishu"),
        slack = http.url("/slack/T000"),
        generic = http.url("/generic"),
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&db.pool)
        .await
        .expect("setup");
}

fn start(pool: &Db) -> support::Worker {
    support::start(pool, support::worker_config("hooks", &[Channel::Webhook]))
}

#[tokio::test]
async fn each_flavor_arrives_in_its_providers_format_with_a_correct_signature() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    setup(&db, &http).await;
    sqlx::query("SELECT msgpool.send('server.down', '{\"host\": \"db1\", \"since\": \"08:00\"}', recipients => '{ding,wecom,feishu,slack,gen}')")
        .execute(&db.pool)
        .await
        .expect("send");
    let (stop, worker) = start(&db.pool);
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'",
        5,
    )
    .await;
    stop.cancel();
    worker.await.expect("join").expect("worker");

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let requests = http.requests();
    let at = |path: &str| {
        requests
            .iter()
            .find(|r| r.target.starts_with(path))
            .unwrap_or_else(|| panic!("no request to {path}: {requests:?}"))
            .clone()
    };

    let ding = at("/ding");
    assert_eq!(
        ding.query("access_token").as_deref(),
        Some("T"),
        "the robot's token stays"
    );
    let ts = ding.query("timestamp").expect("timestamp");
    assert!(
        (now_ms - ts.parse::<i64>().expect("ms")).abs() < 60_000,
        "a current timestamp in milliseconds"
    );
    assert_eq!(
        ding.query("sign"),
        Some(b64(&hmac_sha256(b"SEC1", format!("{ts}\nSEC1").as_bytes()))),
        "DingTalk signature"
    );
    let body = ding.json();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(body["markdown"]["title"], "db1 down");
    assert_eq!(body["markdown"]["text"], "#### db1 down\n\nsince 08:00");

    let wecom = at("/wecom").json();
    assert_eq!(
        wecom,
        serde_json::json!({"msgtype": "markdown", "markdown": {"content": "**db1 down**\nsince 08:00"}})
    );

    let feishu = at("/feishu").json();
    assert_eq!(
        (
            feishu["msg_type"].as_str(),
            feishu["content"]["text"].as_str()
        ),
        (Some("text"), Some("db1 down\nsince 08:00"))
    );
    let ts = feishu["timestamp"].as_str().expect("timestamp in seconds");
    assert!((now_ms / 1000 - ts.parse::<i64>().expect("s")).abs() < 60);
    assert_eq!(
        feishu["sign"].as_str(),
        Some(b64(&hmac_sha256(format!("{ts}\nSEC2").as_bytes(), b"")).as_str()),
        "Feishu signature"
    );

    assert_eq!(
        at("/slack/T000").json(),
        serde_json::json!({"text": "*db1 down*\nsince 08:00"})
    );

    let generic = at("/generic");
    let ts = generic
        .headers
        .get("x-msgpool-timestamp")
        .expect("timestamp header");
    let signature = format!(
        "sha256={}",
        hmac_sha256(b"SEC3", format!("{ts}.{}", generic.body).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    assert_eq!(
        generic.headers.get("x-msgpool-signature"),
        Some(&signature),
        "HMAC-SHA256 over timestamp.body"
    );
    let body = generic.json();
    assert_eq!(
        (
            body["type_key"].as_str(),
            body["recipient"].as_str(),
            body["subject"].as_str()
        ),
        (Some("server.down"), Some("gen"), Some("db1 down"))
    );
    assert_eq!(body["payload"]["host"], "db1");
}

#[tokio::test]
async fn provider_errors_inside_http_200_and_http_statuses_are_retried_or_parked_as_they_say() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    setup(&db, &http).await;
    exec(&db.pool, "UPDATE msgpool.settings SET retry_base = '100ms'").await;
    let pool = Db::connect(&db.url).await.expect("pool");
    let (stop, worker) = start(&pool);

    // (reply, recipient, final state, attempt outcomes, error it keeps)
    let cases = [
        (
            (
                200,
                r#"{"errcode":310000,"errmsg":"keywords not in content"}"#,
            ),
            "ding",
            "dead",
            "dead",
            Some("DingTalk error 310000: keywords not in content"),
        ),
        (
            (200, r#"{"errcode":-1,"errmsg":"system busy"}"#),
            "ding",
            "sent",
            "retry,sent",
            None,
        ),
        (
            (200, r#"{"code":19021,"msg":"sign match fail"}"#),
            "feishu",
            "dead",
            "dead",
            Some("Feishu error 19021: sign match fail"),
        ),
        ((503, "busy"), "slack", "sent", "retry,sent", None),
        ((429, "slow down"), "wecom", "sent", "retry,sent", None),
        (
            (400, "invalid_payload"),
            "slack",
            "dead",
            "dead",
            Some("webhook answered HTTP 400 Bad Request: invalid_payload"),
        ),
    ];
    for ((status, reply), recipient, state, outcomes, error) in cases {
        http.reply_next(status, reply);
        let id: i64 = sqlx::query_scalar("SELECT msgpool.send('server.down', '{\"host\": \"db1\", \"since\": \"now\"}', recipients => ARRAY[$1])")
            .bind(recipient)
            .fetch_one(&pool)
            .await
            .expect("send");
        let (got_state, _, got_error) = finished_delivery(&pool, id).await;
        assert_eq!(got_state, state, "{status} {reply}");
        if let Some(error) = error {
            assert_eq!(got_error.as_deref(), Some(error));
        }
        let log: Vec<String> = sqlx::query_scalar(
            "SELECT a.outcome::text FROM msgpool.delivery_attempt a JOIN msgpool.delivery d ON d.id = a.delivery_id
              WHERE d.message_id = $1 ORDER BY a.attempt",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .expect("log");
        assert_eq!(log.join(","), outcomes, "{status} {reply}");
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
}

#[tokio::test]
async fn a_row_this_worker_cannot_read_is_parked_with_its_error_while_the_rest_flow() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    setup(&db, &http).await;
    // A newer schema knows a flavor this worker was not built with.
    for sql in [
        "ALTER TYPE msgpool.webhook_flavor ADD VALUE 'teams'",
        "UPDATE msgpool.recipient SET webhook_flavor = 'teams' WHERE key = 'wecom'",
    ] {
        sqlx::query(sql).execute(&db.pool).await.expect(sql);
    }
    let id: i64 = sqlx::query_scalar("SELECT msgpool.send('server.down', '{\"host\": \"db1\", \"since\": \"now\"}', recipients => '{ding,wecom,slack}')")
        .fetch_one(&db.pool)
        .await
        .expect("send");
    let (stop, worker) = start(&db.pool);
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state IN ('sent', 'dead')",
        3,
    )
    .await;
    stop.cancel();
    worker.await.expect("join").expect("worker");

    let states: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT recipient_key::text, state::text, last_error FROM msgpool.delivery WHERE message_id = $1 ORDER BY 1",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("states");
    assert_eq!(
        (states[0].1.as_str(), states[1].1.as_str()),
        ("sent", "sent"),
        "{states:?}"
    );
    assert_eq!(states[2].0, "wecom");
    assert_eq!(states[2].1, "dead");
    assert!(
        states[2]
            .2
            .as_deref()
            .is_some_and(|e| e.contains("cannot read") && e.contains("teams")),
        "{states:?}"
    );
}

#[tokio::test]
async fn heartbeats_keep_a_slow_send_from_being_taken_over_by_another_worker() {
    let db = TestDb::new().await;
    let http = HttpServer::start().await;
    setup(&db, &http).await;
    http.answer_after(Duration::from_millis(1200));
    let id: i64 = sqlx::query_scalar("SELECT msgpool.send('server.down', '{\"host\": \"db1\", \"since\": \"now\"}', recipients => '{slack}')")
        .fetch_one(&db.pool)
        .await
        .expect("send");
    // Leases of 400 ms: without heartbeats the second worker would take the delivery over
    // while the first is still waiting for the slow provider, and send it again.
    let short_lease = |name: &str| WorkerConfig {
        lease: Duration::from_millis(400),
        ..support::worker_config(name, &[Channel::Webhook])
    };
    let workers: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let stop = CancellationToken::new();
            (
                stop.clone(),
                tokio::spawn(msgpool_workers::run(
                    db.pool.clone(),
                    short_lease(name),
                    stop,
                )),
            )
        })
        .collect();
    let (state, _, _) = finished_delivery(&db.pool, id).await;
    tokio::time::sleep(Duration::from_millis(600)).await; // room for a second send, were there one
    for (stop, worker) in workers {
        stop.cancel();
        worker.await.expect("join").expect("worker");
    }
    assert_eq!(state, "sent");
    assert_eq!(
        http.requests().len(),
        1,
        "sent once: the lease was kept alive for the whole slow send"
    );
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM msgpool.delivery WHERE message_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("attempts");
    assert_eq!(attempts, 1);
}
