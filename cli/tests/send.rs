//! `msgpool send`: what a producer does from the shell, and how its answers read.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{fails, json, msgpool_on, ok, quick_start};

#[tokio::test]
async fn send_reports_the_id_and_refuses_bad_input_clearly() {
    let db = quick_start().await;
    let sent = json(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 7}",
            "--urgency",
            "urgent",
            "--to",
            "zhang.san",
        ],
    );
    let id = sent["id"].as_i64().expect("id");
    let (urgency, recipients): (String, Vec<String>) =
        sqlx::query_as("SELECT urgency::text, recipients FROM msgpool.message WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("row");
    assert_eq!(
        (urgency.as_str(), recipients),
        ("urgent", vec!["zhang.san".to_owned()])
    );

    let err = fails(
        &db,
        &["send", "order.dispatch_backlog", "--data", "{count: 1}"],
    );
    assert!(err.contains("--data is not valid JSON"), "{err}");
    let err = fails(&db, &["send", "order.dispatch_backlog", "--data", "[1]"]);
    assert!(err.contains("payload must be a JSON object"), "{err}");
    let err = fails(&db, &["send", "order.dispach_backlog"]);
    assert!(
        err.contains("did you mean 'order.dispatch_backlog'?"),
        "{err}"
    );
    let err = fails(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--deliver-at",
            "2020-01-01T00:00:00Z",
        ],
    );
    assert!(err.contains("in the past"), "{err}");
}

#[tokio::test]
async fn times_read_in_the_local_zone_and_a_repeat_says_it_was_counted() {
    let db = quick_start().await;
    let shanghai = |args: &[&str]| {
        let out = msgpool_on(&db.url, args)
            .env("TZ", "Asia/Shanghai")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    let listed = shanghai(&["deliveries"]);
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT min(next_attempt_at) FROM msgpool.delivery")
            .fetch_one(&db.pool)
            .await
            .expect("due");
    let local = due
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08"))
        .format("%Y-%m-%d %H:%M:%S+08:00")
        .to_string();
    assert!(
        listed.contains(&format!("due {local}")),
        "{local} in {listed}"
    );

    // the quick start's message carried dedup key wh-1
    let again = ok(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 121}",
            "--dedup-key",
            "wh-1",
        ],
    );
    let first: i64 = sqlx::query_scalar("SELECT id FROM msgpool.message")
        .fetch_one(&db.pool)
        .await
        .expect("the quick start's message");
    assert!(
        again.starts_with(&format!("counted on message {first} (×2)")),
        "{again}"
    );
    let third = json(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 122}",
            "--dedup-key",
            "wh-1",
        ],
    );
    assert_eq!(
        (third["id"].as_i64(), third["repeats"].as_i64()),
        (Some(first), Some(2))
    );

    // templates see the message's time in the type's zone, with the offset
    ok(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--time-zone",
            "Asia/Shanghai",
        ],
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "inbox",
            "--subject",
            "backlog",
            "--body",
            "since {{ created_at }}",
        ],
    );
    let preview = json(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 1}",
        ],
    );
    let body = preview
        .as_array()
        .expect("channels")
        .iter()
        .find(|p| p["channel"] == "inbox")
        .and_then(|p| p["body"].as_str().map(str::to_owned))
        .expect("the inbox preview");
    let at = body.strip_prefix("since ").expect(&body);
    assert!(
        chrono::DateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%:z")
            .is_ok_and(|t| t.offset().local_minus_utc() == 8 * 3600),
        "a local time with its offset: {body}"
    );
}
