//! `msgpool type`, `template` and `quiet-hours`: message types and their rules, set, shown, explained and previewed.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{fails, json, ok, quick_start, run};
use support::TestDb;

#[tokio::test]
async fn message_types_can_be_listed_shown_edited_disabled_and_removed() {
    let db = quick_start().await;
    let list = json(&db, &["type", "list"]);
    assert_eq!(list[0]["key"], "order.dispatch_backlog");
    assert!(ok(&db, &["type", "list"]).contains("派单堆积"));

    let shown = json(&db, &["type", "show", "order.dispatch_backlog"]);
    assert_eq!(shown["templates"][0]["channel"], "email");
    assert_eq!(shown["subscriptions"].as_array().map(Vec::len), Some(2));
    let text = ok(&db, &["type", "show", "order.dispatch_backlog"]);
    assert!(
        text.contains("subscriber group ops (all channels)")
            && text.contains("subscriber recipient ops-robot (webhook)"),
        "{text}"
    );

    ok(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--urgency",
            "urgent",
            "--send-policy",
            "times_of_day",
            "--send-times",
            "08:00,17:30",
            "--time-zone",
            "Asia/Shanghai",
        ],
    );
    let edited = json(&db, &["type", "show", "order.dispatch_backlog"]);
    assert_eq!(edited["type"]["urgency"], "urgent");
    assert_eq!(
        edited["type"]["send_times"],
        serde_json::json!(["08:00", "17:30"])
    );
    assert_eq!(
        edited["type"]["name"], "派单堆积",
        "what was not given stays"
    );

    let err = fails(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--time-zone",
            "Mars/Olympus",
        ],
    );
    assert!(
        err.contains("unknown time zone") && err.contains("Asia/Shanghai"),
        "{err}"
    );

    ok(&db, &["type", "disable", "order.dispatch_backlog"]);
    let err = fails(&db, &["send", "order.dispatch_backlog"]);
    assert!(
        err.contains("message type 'order.dispatch_backlog' is disabled"),
        "{err}"
    );
    ok(&db, &["type", "enable", "order.dispatch_backlog"]);
    ok(&db, &["send", "order.dispatch_backlog"]);

    let err = fails(&db, &["type", "remove", "order.dispatch_backlog"]);
    assert!(
        err.contains("has messages in the pool")
            && err.contains("msgpool type disable order.dispatch_backlog"),
        "{err}"
    );
    assert_eq!(
        json(&db, &["type", "list"]).as_array().map(Vec::len),
        Some(1),
        "still there"
    );

    ok(&db, &["type", "add", "script.stuck", "--name", "脚本卡住"]);
    ok(
        &db,
        &[
            "template",
            "set",
            "script.stuck",
            "--channel",
            "inbox",
            "--body",
            "{{ job }} is stuck",
        ],
    );
    let removed = ok(&db, &["type", "remove", "script.stuck"]);
    assert!(
        removed.contains("with its 1 template(s) and 0 subscription(s)"),
        "{removed}"
    );

    let err = fails(&db, &["type", "show", "order.dispach_backlog"]);
    assert!(
        err.contains("unknown message type 'order.dispach_backlog'")
            && err.contains("did you mean 'order.dispatch_backlog'?"),
        "{err}"
    );
    let err = fails(
        &db,
        &["type", "add", "order.dispatch_backlog", "--name", "again"],
    );
    assert!(err.contains("already exists"), "{err}");
    let err = fails(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "sms",
            "--body",
            "",
        ],
    );
    assert!(err.contains("template body must not be empty"), "{err}");
}

#[tokio::test]
async fn bad_keys_and_values_are_refused_before_touching_the_database() {
    let db = TestDb::new().await;
    let out = run(&db, &["type", "add", "Order.Backlog", "--name", "x"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid message type key") && err.contains("dotted lowercase words"),
        "{err}"
    );
    let out = run(
        &db,
        &[
            "type",
            "add",
            "a.b",
            "--name",
            "x",
            "--channels",
            "inbox,fax",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown channel \"fax\""));
    let err = fails(&db, &["type", "add", "a.b"]);
    assert!(err.contains("needs a name"), "{err}");
}

#[tokio::test]
async fn template_preview_shows_what_each_channel_would_send_or_why_it_would_not() {
    let db = quick_start().await;
    let preview = json(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 120}",
        ],
    );
    let channel = |name: &str| channel_of(&preview, name);
    assert_eq!(channel("email")["subject"], "Dispatch backlog: 120");
    assert_eq!(channel("email")["body"], "120 orders are waiting");
    assert_eq!(
        channel("inbox")["subject"],
        "[high] 派单堆积",
        "no inbox template: the built-in one"
    );

    let broken = json(&db, &["template", "preview", "order.dispatch_backlog"]);
    let email = channel_of(&broken, "email");
    assert!(
        email["error"]
            .as_str()
            .is_some_and(|e| e.contains("count not in the payload")),
        "{email}"
    );
    assert!(
        ok(&db, &["template", "preview", "order.dispatch_backlog"])
            .contains("would be parked as dead")
    );

    // a type that digests also shows what its digest template makes of the sample
    ok(
        &db,
        &["type", "edit", "order.dispatch_backlog", "--digest", "true"],
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "email",
            "--digest-subject",
            "{{ count }} backlogs",
            "--digest-body",
            "{% for m in messages %}{{ m.subject }}; {% endfor %}",
        ],
    );
    let digesting = json(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 7}",
        ],
    );
    let email = channel_of(&digesting, "email");
    assert_eq!(email["subject"], "Dispatch backlog: 7");
    assert_eq!(email["digest"]["subject"], "2 backlogs");
    assert_eq!(
        email["digest"]["body"],
        "Dispatch backlog: 7; Dispatch backlog: 7;"
    );
    let text = ok(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 7}",
        ],
    );
    assert!(
        text.contains("-- as a digest of 2 such messages --\nsubject: 2 backlogs"),
        "{text}"
    );
}

/// One channel's part of `msgpool template preview --json`.
fn channel_of(preview: &serde_json::Value, name: &str) -> serde_json::Value {
    preview
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["channel"] == name)
        .cloned()
        .expect(name)
}

#[tokio::test]
async fn send_time_and_noise_rules_are_set_explained_shown_and_cancelled() {
    let db = quick_start().await;
    // every msgpool process from here on sees 03:00 in Shanghai
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} SET msgpool.clock = '2026-11-26 03:00 Asia/Shanghai'",
        db.name
    )))
    .execute(&db.pool)
    .await
    .expect("pin the clock");
    ok(
        &db,
        &[
            "type",
            "add",
            "report.ready",
            "--name",
            "Report ready",
            "--channels",
            "inbox,sms",
            "--send-policy",
            "times_of_day",
            "--send-times",
            "08:00",
            "--time-zone",
            "Asia/Shanghai",
        ],
    );
    ok(
        &db,
        &["subscribe", "report.ready", "--recipient", "zhang.san"],
    );
    let show = ok(&db, &["type", "show", "report.ready"]);
    assert!(
        show.contains("Sent at 08:00 (Asia/Shanghai): a message sent now (2026-11-26 03:00) would go out at 2026-11-26 08:00, in 05:00:00."),
        "{show}"
    );
    assert!(
        show.contains("Digest: messages waiting for the same time"),
        "{show}"
    );

    let quiet = ok(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "sms",
            "--from",
            "22:00",
            "--to",
            "08:00",
        ],
    );
    assert_eq!(
        quiet.trim(),
        "report.ready sms: 22:00-08:00 (Asia/Shanghai) below urgent; deliveries inside are deferred to the end of the window"
    );
    let show = ok(&db, &["type", "show", "report.ready"]);
    assert!(
        show.contains("It is quiet now: sms would wait until 2026-11-26 08:00."),
        "{show}"
    );
    assert!(ok(&db, &["quiet-hours", "list"]).contains("report.ready  sms      22:00  08:00"));
    let err = fails(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "sms",
            "--from",
            "25:00",
            "--to",
            "08:00",
        ],
    );
    assert!(
        err.contains("the start \"25:00\" is not a time of day (write it as HH:MM"),
        "{err}"
    );
    let err = fails(
        &db,
        &[
            "quiet-hours",
            "remove",
            "report.ready",
            "--channel",
            "inbox",
        ],
    );
    assert!(
        err.contains("report.ready has no quiet hours for inbox"),
        "{err}"
    );

    let limit = ok(
        &db,
        &[
            "rate-limit",
            "set",
            "sms",
            "--per-recipient",
            "10",
            "--window",
            "1 hour",
        ],
    );
    assert_eq!(limit.trim(), "sms: at most 10 per recipient per 01:00:00");
    let limit = ok(&db, &["rate-limit", "set", "sms", "--per-second", "20"]);
    assert_eq!(
        limit.trim(),
        "sms: at most 10 per recipient per 01:00:00; at most 20 per second"
    );
    assert!(fails(&db, &["rate-limit", "set", "email"]).contains("no limit given for email"));
    let err = fails(
        &db,
        &[
            "rate-limit",
            "set",
            "sms",
            "--per-recipient",
            "0",
            "--window",
            "1 hour",
        ],
    );
    assert!(err.contains("a rate limit must allow at least 1"), "{err}");

    // chat robots: the platforms' limits by default, changed or lifted per flavor
    let list = ok(&db, &["rate-limit", "list"]);
    assert!(
        list.contains("webhook (dingtalk robots)  at most 20 per robot per 00:01:00"),
        "{list}"
    );
    let set = ok(
        &db,
        &["rate-limit", "robot", "dingtalk", "15", "--per", "1 minute"],
    );
    assert_eq!(set.trim(), "dingtalk robots: at most 15 per 00:01:00");
    assert_eq!(
        json(&db, &["rate-limit", "list"])["robots"][0]["max_sends"],
        15
    );
    let err = fails(
        &db,
        &["rate-limit", "robot", "wecom", "5", "--per", "0 seconds"],
    );
    assert!(
        err.contains("the robot limit's window must be longer than zero"),
        "{err}"
    );
    ok(
        &db,
        &["rate-limit", "robot-remove", "slack", "--per", "1 second"],
    );
    let err = fails(
        &db,
        &["rate-limit", "robot-remove", "slack", "--per", "1 second"],
    );
    assert!(
        err.contains("slack has no robot limit per 1 second"),
        "{err}"
    );

    assert!(
        ok(&db, &["type", "show", "report.ready"])
            .contains("Rate limit for sms: at most 10 per recipient per 01:00:00")
    );

    // a report produced at 03:00 waits for 08:00 on both channels, and says why
    let id = json(
        &db,
        &["send", "report.ready", "--data", "{\"report\": \"sales\"}"],
    )["id"]
        .as_i64()
        .expect("id");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .expect("connect");
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&mut conn)
        .await
        .expect("expand");
    let deferred = ok(&db, &["deliveries", "--deferred"]);
    assert_eq!(
        deferred.lines().count(),
        3,
        "a header and two deliveries:\n{deferred}"
    );
    assert!(
        deferred
            .contains("due 2026-11-26 00:00:00+00:00  deferred: send times 08:00 (Asia/Shanghai)"),
        "{deferred}"
    );
    let status = ok(&db, &["status"]);
    assert!(
        status.contains("10 per 01:00:00 per recipient, 20/s"),
        "{status}"
    );

    let cancelled = ok(&db, &["cancel", &id.to_string()]);
    assert!(
        cancelled.starts_with(&format!(
            "cancelled message {id}: 2 unsent delivery(s) stopped"
        )),
        "{cancelled}"
    );
    assert_eq!(ok(&db, &["deliveries", "--deferred"]).lines().count(), 1);
    let err = fails(&db, &["cancel", "999999"]);
    assert!(err.contains("no message 999999"), "{err}");

    // the quick start sent order.dispatch_backlog with dedup key wh-1; twice more is counted
    for _ in 0..2 {
        ok(
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
    }
    let status = ok(&db, &["status"]);
    assert!(
        status.contains("order.dispatch_backlog ×3  key wh-1"),
        "{status}"
    );

    let err = fails(
        &db,
        &[
            "template",
            "set",
            "report.ready",
            "--channel",
            "inbox",
            "--digest-body",
            "{{ count }} reports",
        ],
    );
    assert!(
        err.contains("report.ready has no inbox template yet, and a template needs a body"),
        "{err}"
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "report.ready",
            "--channel",
            "inbox",
            "--body",
            "{{ report }}",
            "--digest-body",
            "{{ count }} reports",
        ],
    );
    ok(&db, &["type", "edit", "report.ready", "--digest", "false"]);
    let show = ok(&db, &["type", "show", "report.ready"]);
    assert!(
        show.contains("digest template inbox: subject \"\", body \"{{ count }} reports\""),
        "{show}"
    );
    assert!(
        show.contains("One by one: messages waiting for the same time go out separately."),
        "{show}"
    );
}

#[tokio::test]
async fn a_template_that_cannot_be_read_is_refused_when_set_and_nothing_changes() {
    let db = quick_start().await;
    let err = fails(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "email",
            "--body",
            "{{ count + }} {% if %}",
        ],
    );
    assert!(
        err.contains("the email template's body cannot be read") && err.contains("syntax error"),
        "{err}"
    );
    let body: String = sqlx::query_scalar(
        "SELECT body FROM msgpool.template WHERE type_key = 'order.dispatch_backlog' AND channel = 'email'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("template");
    assert_eq!(
        body, "{{ count }} orders are waiting",
        "the old template stays"
    );
}

#[tokio::test]
async fn a_type_keeps_the_channels_its_subscriptions_and_quiet_hours_name() {
    let db = quick_start().await;
    let err = fails(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--channels",
            "inbox,email,sms",
        ],
    );
    assert!(
        err.contains("would stop using webhook") && err.contains("recipient ops-robot (webhook)"),
        "{err}"
    );
    let channels: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(channels)::text FROM msgpool.message_type WHERE key = 'order.dispatch_backlog'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("channels");
    assert_eq!(
        channels,
        ["inbox", "email", "sms", "webhook"],
        "nothing changed"
    );

    ok(
        &db,
        &[
            "type",
            "add",
            "report.ready",
            "--name",
            "Report",
            "--channels",
            "inbox",
        ],
    );
    let err = fails(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "webhook",
            "--from",
            "22:00",
            "--to",
            "08:00",
        ],
    );
    assert!(err.contains("does not use channel webhook"), "{err}");
    ok(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "inbox",
            "--from",
            "22:00",
            "--to",
            "08:00",
        ],
    );
    let err = fails(
        &db,
        &["type", "edit", "report.ready", "--channels", "email"],
    );
    assert!(err.contains("which has quiet hours"), "{err}");
}

#[tokio::test]
async fn adds_and_edits_print_the_record_as_it_now_is_in_text_and_json() {
    let db = quick_start().await;
    let edited = ok(
        &db,
        &["type", "edit", "order.dispatch_backlog", "--urgency", "low"],
    );
    assert!(
        edited.contains("urgency:") && edited.contains("low"),
        "{edited}"
    );
    assert!(!edited.contains("high"), "the urgency it had: {edited}");
    let edited = json(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--urgency",
            "urgent",
        ],
    );
    assert_eq!(edited["urgency"], "urgent");
    let renamed = ok(&db, &["recipient", "edit", "zhang.san", "--name", "张三三"]);
    assert!(renamed.contains("张三三"), "{renamed}");
    let renamed = json(&db, &["recipient", "edit", "zhang.san", "--name", "张三丰"]);
    assert_eq!(renamed["name"], "张三丰");

    let added = json(
        &db,
        &[
            "type",
            "add",
            "server.down",
            "--name",
            "服务器宕机",
            "--urgency",
            "urgent",
        ],
    );
    assert_eq!(
        (added["key"].as_str(), added["urgency"].as_str()),
        (Some("server.down"), Some("urgent")),
        "type add --json: the type as added, settings applied"
    );
    let group = json(&db, &["group", "add", "dba", "--name", "DBA"]);
    assert_eq!(group["key"], "dba");
    let group = json(&db, &["group", "add-member", "dba", "zhang.san"]);
    assert_eq!(group["members"], serde_json::json!(["zhang.san"]));
}
