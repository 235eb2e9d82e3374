//! Every command through PgBouncer in transaction mode.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{msgpool_on, quick_start};

#[tokio::test]
async fn every_command_works_through_pgbouncer_in_transaction_mode() {
    let db = quick_start().await;
    let bouncer = support::pgbouncer::PgBouncer::start(&db);
    let pooled = |args: &[&str]| {
        let out = msgpool_on(&bouncer.url, args)
            .env("MSGPOOL_POOLER", "true")
            .output()
            .expect("run msgpool");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok_pooled = |args: &[&str]| {
        let (code, out, err) = pooled(args);
        assert_eq!(code, Some(0), "msgpool {args:?}: {err}\n{}", bouncer.log());
        out
    };
    // without --pooler, PgBouncer turns the client away at once
    let out = msgpool_on(&bouncer.url, &["type", "list"])
        .output()
        .expect("run msgpool");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && err.contains("extra_float_digits"),
        "{err}"
    );

    assert!(ok_pooled(&["type", "list"]).contains("order.dispatch_backlog"));
    let edited = ok_pooled(&["type", "edit", "order.dispatch_backlog", "--urgency", "low"]);
    assert!(edited.contains("low"), "{edited}");
    ok_pooled(&["recipient", "add", "wang.wu", "--name", "王五"]);
    ok_pooled(&["group", "add-member", "ops", "wang.wu"]);
    for n in 0..20 {
        let sent = ok_pooled(&[
            "send",
            "order.dispatch_backlog",
            "--data",
            &format!("{{\"count\": {n}}}"),
            "--dedup-key",
            "pooled",
        ]);
        let want = if n == 0 {
            "sent message"
        } else {
            "counted on message"
        };
        assert!(sent.starts_with(want), "{n}: {sent}");
    }
    assert!(ok_pooled(&["subscriptions", "--recipient", "wang.wu"]).contains("group ops"));
    assert!(ok_pooled(&["deliveries"]).contains("ID"));
    assert!(ok_pooled(&["inbox", "zhang.san"]).contains("unread"));
    assert!(ok_pooled(&["status"]).contains("SENT/MIN"));
    let (code, _, err) = pooled(&["type", "show", "order.dispatch_backlgo"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("did you mean"), "{err}");

    let (code, _, err) = pooled(&["db", "migrate"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("migrations cannot run through a transaction-mode pooler"),
        "{err}"
    );
    let urgency: String = sqlx::query_scalar(
        "SELECT urgency::text FROM msgpool.message_type WHERE key = 'order.dispatch_backlog'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("read directly");
    assert_eq!(urgency, "low", "the edit committed");
}
