//! SMS end to end: the generic JSON gateway and Aliyun SendSms against a real HTTP server,
//! and the outbox when no provider is configured.

mod support;

use std::collections::BTreeMap;

use msgpool::Db;
use msgpool::domain::Channel;
use msgpool_workers::WorkerConfig;
use msgpool_workers::channels::sms::{AliyunSms, SmsConfig, aliyun_signature};
use support::http::HttpServer;
use support::{TestDb, exec, finished_delivery};
use tokio_util::sync::CancellationToken;

async fn setup(db: &TestDb) {
    sqlx::raw_sql(
        "INSERT INTO msgpool.message_type (key, name, urgency, channels) VALUES ('server.down', 'Server down', 'urgent', '{sms}');
         INSERT INTO msgpool.template (type_key, channel, body) VALUES ('server.down', 'sms', '{{ host }} down');
         INSERT INTO msgpool.recipient (key, name, phone) VALUES ('zhang.san', '张三', '+8613800000000');",
    )
    .execute(&db.pool)
    .await
    .expect("setup");
}

async fn send(pool: &Db, host: &str) -> i64 {
    sqlx::query_scalar("SELECT msgpool.send('server.down', jsonb_build_object('host', $1::text), recipients => '{zhang.san}')")
        .bind(host)
        .fetch_one(pool)
        .await
        .expect("send")
}

/// Runs a worker until the message's SMS delivery is sent or dead; returns (state, provider_ref, last_error).
async fn deliver(
    pool: &Db,
    sms: SmsConfig,
    outbox: &std::path::Path,
    message: i64,
) -> (String, Option<String>, Option<String>) {
    let config = WorkerConfig {
        outbox: outbox.to_owned(),
        sms,
        ..support::worker_config("sms", &[Channel::Sms])
    };
    let stop = CancellationToken::new();
    let worker = tokio::spawn(msgpool_workers::run(pool.clone(), config, stop.clone()));
    let done = finished_delivery(pool, message).await;
    stop.cancel();
    worker.await.expect("join").expect("worker");
    done
}

#[tokio::test]
async fn the_generic_gateway_gets_phone_and_text_with_its_auth_header_and_retries_a_503() {
    let db = TestDb::new().await;
    setup(&db).await;
    exec(&db.pool, "UPDATE msgpool.settings SET retry_base = '100ms'").await;
    let pool = Db::connect(&db.url).await.expect("pool");
    let http = HttpServer::start().await;
    http.reply_next(503, "overloaded");
    http.reply_next(200, r#"{"id": "gw-42"}"#);
    let sms = SmsConfig {
        gateway_url: Some(http.url("/sms")),
        gateway_auth: Some("Bearer T0KEN".into()),
        phone_field: "mobile".into(),
        text_field: "content".into(),
        ..SmsConfig::default()
    };
    let outbox = tempfile::tempdir().expect("outbox");
    let message = send(&pool, "db1").await;
    let (state, provider_ref, _) = deliver(&pool, sms, outbox.path(), message).await;
    assert_eq!(
        (state.as_str(), provider_ref.as_deref()),
        ("sent", Some("gw-42"))
    );

    let requests = http.requests();
    assert_eq!(requests.len(), 2, "the 503 was retried once");
    for request in &requests {
        assert_eq!(
            request.json(),
            serde_json::json!({"mobile": "+8613800000000", "content": "db1 down"})
        );
        assert_eq!(
            request.headers.get("authorization").map(String::as_str),
            Some("Bearer T0KEN")
        );
    }
}

#[tokio::test]
async fn without_a_gateway_each_sms_is_a_json_line_in_the_outbox_cut_to_the_length_limit() {
    let db = TestDb::new().await;
    setup(&db).await;
    let outbox = tempfile::tempdir().expect("outbox");
    let sms = SmsConfig {
        max_chars: 12,
        ..SmsConfig::default()
    };
    let first = send(&db.pool, "db1").await;
    deliver(&db.pool, sms.clone(), outbox.path(), first).await;
    let second = send(&db.pool, "a-very-long-host-name").await;
    let (state, provider_ref, _) = deliver(&db.pool, sms, outbox.path(), second).await;
    assert_eq!(state, "sent");
    let file = outbox.path().join("sms.jsonl");
    assert_eq!(provider_ref, Some(file.display().to_string()));

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .expect("sms.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["phone"].as_str(), lines[0]["text"].as_str()),
        (Some("+8613800000000"), Some("db1 down"))
    );
    assert_eq!(
        lines[1]["text"].as_str(),
        Some("a-very-long…"),
        "cut to 12 characters, the last an ellipsis"
    );
}

#[tokio::test]
async fn aliyun_gets_a_signed_send_sms_request_and_its_codes_decide_the_outcome() {
    let db = TestDb::new().await;
    setup(&db).await;
    let http = HttpServer::start().await;
    let aliyun = AliyunSms {
        access_key_id: "LTAI-test".into(),
        access_key_secret: "s3cret".into(),
        sign_name: "运维通知".into(),
        template_code: "SMS_123".into(),
        endpoint: http.url("/"),
    };
    let sms = SmsConfig {
        aliyun: Some(aliyun),
        ..SmsConfig::default()
    };
    let outbox = tempfile::tempdir().expect("outbox");

    http.reply_next(
        200,
        r#"{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"R1"}"#,
    );
    let sent = send(&db.pool, "db1").await;
    let (state, provider_ref, _) = deliver(&db.pool, sms.clone(), outbox.path(), sent).await;
    assert_eq!(
        (state.as_str(), provider_ref.as_deref()),
        ("sent", Some("900619746936498440^0"))
    );

    let request = &http.requests()[0];
    let form: BTreeMap<String, String> = request
        .body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), support::http::percent_decode(v)))
        .collect();
    assert_eq!(form["Action"], "SendSms");
    assert_eq!(form["PhoneNumbers"], "8613800000000");
    assert_eq!(form["SignName"], "运维通知");
    assert_eq!(form["TemplateCode"], "SMS_123");
    assert_eq!(form["TemplateParam"], r#"{"content":"db1 down"}"#);
    let signed: BTreeMap<&str, &str> = form
        .iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form["Signature"],
        aliyun_signature("POST", &signed, "s3cret"),
        "the signature covers what was sent"
    );

    http.reply_next(
        200,
        r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"invalid mobile number"}"#,
    );
    let refused = send(&db.pool, "db2").await;
    let (state, _, error) = deliver(&db.pool, sms, outbox.path(), refused).await;
    assert_eq!(state, "dead");
    assert_eq!(
        error.as_deref(),
        Some("Aliyun SMS isv.MOBILE_NUMBER_ILLEGAL: invalid mobile number")
    );
}
