//! `msgpool inbox`: a recipient's in-site inbox, one message, archive, and the signed link.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{fails, json, ok, quick_start};

#[tokio::test]
async fn inbox_lists_and_marks_read_and_status_reports() {
    let db = quick_start().await;
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, subject, body)
         SELECT 'zhang.san', 'order.dispatch_backlog', 'high', '派单堆积 ' || i, 'body' FROM generate_series(1, 3) i RETURNING id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("inbox rows");
    let listed = ok(&db, &["inbox", "zhang.san"]);
    assert!(
        listed.starts_with("zhang.san: 3 unread") && listed.contains("派单堆积 3"),
        "{listed}"
    );

    let marked = ok(
        &db,
        &["inbox", "zhang.san", "--mark-read", &ids[0].to_string()],
    );
    assert!(marked.contains("marked 1 message(s) read"), "{marked}");
    let page = json(&db, &["inbox", "zhang.san", "--unread"]);
    assert_eq!(page["unread"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    ok(&db, &["inbox", "zhang.san", "--mark-all-read"]);
    assert_eq!(json(&db, &["inbox", "zhang.san"])["unread"], 0);
    let err = fails(&db, &["inbox", "zhang.san", "--mark-read", "999999"]);
    assert!(
        err.contains("no inbox message 999999 for recipient 'zhang.san'"),
        "{err}"
    );
    let err = fails(&db, &["inbox", "zhang.sam"]);
    assert!(err.contains("did you mean 'zhang.san'?"), "{err}");

    let status = json(&db, &["status"]);
    assert_eq!(status["messages"]["pending"], 1);
    assert_eq!(status["dead"], 0);
    assert!(ok(&db, &["status"]).contains("messages:   1 pending"));
}

#[tokio::test]
async fn one_inbox_message_is_shown_in_full_and_can_be_archived_or_deleted() {
    let db = quick_start().await;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, subject, body)
         VALUES ('zhang.san', 'order.dispatch_backlog', 'high', '派单堆积', 'line one\nline two')
         RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("an inbox message");
    let id_text = id.to_string();
    let shown = ok(&db, &["inbox", "zhang.san", "--show", &id_text]);
    assert!(
        shown.contains("subject:")
            && shown.contains("派单堆积")
            && shown.contains("line one\nline two"),
        "{shown}"
    );
    let err = fails(&db, &["inbox", "ops-robot", "--show", &id_text]);
    assert!(err.contains("no inbox message"), "{err}");
    assert!(ok(&db, &["inbox", "zhang.san", "--archive", &id_text]).contains("archived 1"));
    assert!(!ok(&db, &["inbox", "zhang.san"]).contains("派单堆积"));
    assert!(ok(&db, &["inbox", "zhang.san", "--archived"]).contains("派单堆积"));
    assert_eq!(
        json(&db, &["inbox", "zhang.san", "--delete", &id_text]),
        serde_json::json!({"deleted": 1})
    );
    assert!(!ok(&db, &["inbox", "zhang.san", "--archived"]).contains("派单堆积"));
}

#[tokio::test]
async fn inbox_link_gives_the_signed_link_and_rotate_secret_revokes_it() {
    let db = quick_start().await;
    let link = ok(
        &db,
        &[
            "inbox",
            "link",
            "zhang.san",
            "--base-url",
            "https://msg.example.com/",
        ],
    );
    let token: String = sqlx::query_scalar("SELECT msgpool.inbox_token('zhang.san')")
        .fetch_one(&db.pool)
        .await
        .expect("token");
    assert_eq!(
        link.trim(),
        format!("https://msg.example.com/inbox/zhang.san?token={token}")
    );
    let (scope, rest) = token.split_once('-').expect("scope-ends-hmac");
    let (ends, hmac) = rest.split_once('-').expect("scope-ends-hmac");
    assert_eq!(
        (scope, ends, hmac.len()),
        ("inbox", "0", 64),
        "an HMAC-SHA256 in hex: {token}"
    );
    let err = fails(&db, &["inbox", "link", "zhang.sen"]);
    assert!(err.contains("did you mean 'zhang.san'"), "{err}");
    ok(&db, &["inbox", "rotate-secret"]);
    let rotated = json(&db, &["inbox", "link", "zhang.san"]);
    assert_ne!(
        rotated["token"],
        token.as_str(),
        "a new secret, a new token"
    );
    // reading an inbox is unchanged
    assert!(ok(&db, &["inbox", "zhang.san"]).contains("unread"));
}
