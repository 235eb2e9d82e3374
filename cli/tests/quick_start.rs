//! The README's quick start as written, and what every command shares.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{msgpool_on, ok, quick_start};

#[tokio::test]
async fn the_readme_quick_start_works_as_written() {
    let db = quick_start().await;
    let (channels, urgency, category): (Vec<String>, String, String) = sqlx::query_as(
        "SELECT channels::text[], urgency::text, category FROM msgpool.message_type WHERE key = 'order.dispatch_backlog'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("type");
    assert_eq!(channels, ["inbox", "email", "sms", "webhook"]);
    assert_eq!((urgency.as_str(), category.as_str()), ("high", "订单异常"));

    let subject: String = sqlx::query_scalar("SELECT subject FROM msgpool.template WHERE type_key = 'order.dispatch_backlog' AND channel = 'email'")
        .fetch_one(&db.pool)
        .await
        .expect("template");
    assert_eq!(subject, "Dispatch backlog: {{ count }}");

    type Row = (Option<String>, Option<String>, Option<Vec<String>>);
    let subs: Vec<Row> = sqlx::query_as(
        "SELECT recipient_key::text, group_key::text, channels::text[] FROM msgpool.subscription ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("subscriptions");
    assert_eq!(
        subs,
        vec![
            (None, Some("ops".into()), None),
            (Some("ops-robot".into()), None, Some(vec!["webhook".into()]))
        ]
    );

    let (payload, dedup, source): (serde_json::Value, Option<String>, Option<String>) =
        sqlx::query_as("SELECT payload, dedup_key, source FROM msgpool.message")
            .fetch_one(&db.pool)
            .await
            .expect("message");
    assert_eq!(payload, serde_json::json!({"count": 120}));
    assert_eq!(dedup.as_deref(), Some("wh-1"));
    assert_eq!(source.as_deref(), Some("msgpool-cli"));

    assert!(ok(&db, &["inbox", "zhang.san"]).starts_with("zhang.san: 0 unread"));
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_the_command_quietly() {
    let db = quick_start().await;
    for args in [&["inbox", "zhang.san", "--json"][..], &["type", "list"][..]] {
        let mut child = msgpool_on(&db.url, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run msgpool");
        // like `| head` having read enough: the pipe's reading end closes before it writes
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("msgpool ends");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "msgpool {args:?}: {:?} {err}",
            out.status
        );
        assert!(
            err.is_empty(),
            "nothing on stderr for msgpool {args:?}: {err}"
        );
    }
}
