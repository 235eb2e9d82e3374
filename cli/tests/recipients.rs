//! `msgpool recipient`, `group`, `subscribe`, `pause` and `subscriptions`: who hears about what.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{fails, json, ok, quick_start};

#[tokio::test]
async fn recipients_can_be_listed_shown_edited_disabled_and_removed() {
    let db = quick_start().await;
    let err = fails(
        &db,
        &[
            "recipient",
            "add",
            "li.si",
            "--name",
            "李四",
            "--phone",
            "13800000000",
        ],
    );
    assert!(
        err.contains("invalid phone number") && err.contains("E.164"),
        "{err}"
    );
    let err = fails(
        &db,
        &[
            "recipient",
            "add",
            "li.si",
            "--name",
            "李四",
            "--email",
            "li.si-at-example",
        ],
    );
    assert!(err.contains("invalid email address"), "{err}");
    ok(
        &db,
        &[
            "recipient",
            "add",
            "li.si",
            "--name",
            "李四",
            "--email",
            "li.si@example.com",
        ],
    );

    let shown = ok(&db, &["recipient", "show", "ops-robot"]);
    assert!(
        shown.contains("(dingtalk, signed)") && !shown.contains("SEC123"),
        "the secret is never shown: {shown}"
    );
    let listed = ok(&db, &["recipient", "list", "--json"]);
    assert!(!listed.contains("SEC123"));
    let list: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(3));

    ok(
        &db,
        &[
            "recipient",
            "edit",
            "zhang.san",
            "--email",
            "",
            "--name",
            "张三丰",
        ],
    );
    let zhang = json(&db, &["recipient", "show", "zhang.san"]);
    assert_eq!(
        (zhang["email"].clone(), zhang["name"].clone()),
        (serde_json::Value::Null, "张三丰".into())
    );
    assert_eq!(zhang["phone"], "+8613800000000", "what was not given stays");
    assert_eq!(zhang["groups"], serde_json::json!(["ops"]));

    ok(&db, &["recipient", "disable", "li.si"]);
    let err = fails(&db, &["send", "order.dispatch_backlog", "--to", "li.si"]);
    assert!(err.contains("recipient(s) li.si disabled"), "{err}");
    ok(&db, &["recipient", "enable", "li.si"]);
    ok(&db, &["send", "order.dispatch_backlog", "--to", "li.si"]);

    // A delivery is history: the recipient can be disabled, not removed.
    sqlx::query("INSERT INTO msgpool.delivery (message_id, recipient_key, channel) SELECT max(id), 'li.si', 'email' FROM msgpool.message")
        .execute(&db.pool)
        .await
        .expect("a delivery");
    let err = fails(&db, &["recipient", "remove", "li.si"]);
    assert!(
        err.contains("has deliveries") && err.contains("msgpool recipient disable li.si"),
        "{err}"
    );
    ok(&db, &["recipient", "add", "wang.wu", "--name", "王五"]);
    ok(&db, &["recipient", "remove", "wang.wu"]);
    let err = fails(&db, &["recipient", "show", "wang.wu"]);
    assert!(err.contains("unknown recipient 'wang.wu'"), "{err}");
}

#[tokio::test]
async fn groups_and_subscriptions_refuse_what_does_not_exist() {
    let db = quick_start().await;
    let err = fails(&db, &["group", "add-member", "ops", "zhang.sam"]);
    assert!(
        err.contains("unknown recipient 'zhang.sam'") && err.contains("did you mean 'zhang.san'?"),
        "{err}"
    );
    let err = fails(&db, &["group", "remove-member", "ops", "ops-robot"]);
    assert!(
        err.contains("ops-robot is not a member of group ops"),
        "{err}"
    );
    let err = fails(
        &db,
        &["subscribe", "order.dispatch_backlog", "--group", "opz"],
    );
    assert!(
        err.contains("unknown group 'opz'") && err.contains("did you mean 'ops'?"),
        "{err}"
    );

    ok(
        &db,
        &[
            "type",
            "add",
            "server.down",
            "--name",
            "Server down",
            "--channels",
            "inbox,sms",
        ],
    );
    let err = fails(
        &db,
        &[
            "subscribe",
            "server.down",
            "--recipient",
            "ops-robot",
            "--channels",
            "webhook",
        ],
    );
    assert!(err.contains("does not use channel(s) webhook"), "{err}");
    let err = fails(&db, &["unsubscribe", "server.down", "--group", "ops"]);
    assert!(
        err.contains("group ops is not subscribed to server.down"),
        "{err}"
    );

    ok(
        &db,
        &[
            "unsubscribe",
            "order.dispatch_backlog",
            "--recipient",
            "ops-robot",
        ],
    );
    ok(&db, &["group", "remove-member", "ops", "zhang.san"]);
    assert_eq!(
        json(&db, &["group", "list"])[0]["members"],
        serde_json::json!([])
    );
    let removed = ok(&db, &["group", "remove", "ops"]);
    assert!(removed.contains("removed group ops"), "{removed}");
    let subs: i64 = sqlx::query_scalar("SELECT count(*) FROM msgpool.subscription")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(subs, 0, "the group's subscription went with it");
    let recipients: i64 = sqlx::query_scalar("SELECT count(*) FROM msgpool.recipient")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(recipients, 2, "its members stay");
}

#[tokio::test]
async fn subscriptions_are_listed_paused_and_resumed_and_templates_listed_and_removed() {
    let db = quick_start().await;
    // zhang.san hears of the type through group ops; the robot directly
    let mine = json(&db, &["subscriptions", "--recipient", "zhang.san"]);
    assert_eq!(
        mine,
        serde_json::json!([{
            "type_key": "order.dispatch_backlog",
            "subscriber": {"kind": "group", "key": "ops"},
            "channels": null,
            "paused": false,
            "created_at": mine[0]["created_at"],
        }]),
        "a recipient's subscriptions include those through their groups"
    );
    let all = ok(&db, &["subscriptions", "--type", "order.dispatch_backlog"]);
    assert!(
        all.contains("group ops") && all.contains("recipient ops-robot"),
        "{all}"
    );
    let err = fails(&db, &["subscriptions", "--group", "opz"]);
    assert!(
        err.contains("unknown group") && err.contains("ops"),
        "{err}"
    );

    let paused = ok(&db, &["pause", "order.dispatch_backlog", "--group", "ops"]);
    assert!(paused.contains("paused group ops"), "{paused}");
    assert!(ok(&db, &["subscriptions", "--group", "ops"]).contains("paused"));
    let shown = ok(&db, &["type", "show", "order.dispatch_backlog"]);
    assert!(
        shown.contains("subscriber group ops (all channels, paused)"),
        "{shown}"
    );
    let err = fails(
        &db,
        &[
            "pause",
            "order.dispatch_backlog",
            "--recipient",
            "zhang.san",
        ],
    );
    assert!(err.contains("not subscribed"), "{err}");

    // the quick start's message went out before the pause; one sent now reaches only the robot
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    ok(
        &db,
        &["send", "order.dispatch_backlog", "--data", "{\"count\": 5}"],
    );
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    let reached: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT recipient_key::text FROM msgpool.delivery
          WHERE message_id = (SELECT max(id) FROM msgpool.message)",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deliveries");
    assert_eq!(
        reached,
        vec!["ops-robot"],
        "a paused subscription receives nothing"
    );
    ok(&db, &["resume", "order.dispatch_backlog", "--group", "ops"]);
    ok(
        &db,
        &["send", "order.dispatch_backlog", "--data", "{\"count\": 6}"],
    );
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    let reached: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT recipient_key::text FROM msgpool.delivery
          WHERE message_id = (SELECT max(id) FROM msgpool.message) ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deliveries");
    assert_eq!(reached, vec!["ops-robot", "zhang.san"], "resumed");

    let listed = ok(&db, &["template", "list"]);
    assert!(
        listed.contains("order.dispatch_backlog")
            && listed.contains("email")
            && listed.contains("Dispatch backlog: {{ count }}"),
        "{listed}"
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "email",
            "--html",
            "<p>{{ count }} orders</p>",
        ],
    );
    let templates = json(&db, &["template", "list", "order.dispatch_backlog"]);
    assert_eq!(templates[0]["html_body"], "<p>{{ count }} orders</p>");
    let err = fails(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "sms",
            "--body",
            "x",
            "--html",
            "<p>x</p>",
        ],
    );
    assert!(
        err.contains("only an email template has an HTML part"),
        "{err}"
    );
    let removed = ok(
        &db,
        &[
            "template",
            "remove",
            "order.dispatch_backlog",
            "--channel",
            "email",
        ],
    );
    assert!(removed.contains("built-in"), "{removed}");
    assert_eq!(
        json(&db, &["template", "list", "order.dispatch_backlog"]),
        serde_json::json!([])
    );
    let err = fails(
        &db,
        &[
            "template",
            "remove",
            "order.dispatch_backlog",
            "--channel",
            "email",
        ],
    );
    assert!(err.contains("has no email template"), "{err}");
}
