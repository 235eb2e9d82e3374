//! The inbox API a back-office page uses, and the status view.

mod support;

use msgpool::domain::RecipientKey;
use msgpool::{inbox, status};
use support::{TestDb, seed};

/// Puts `n` inbox rows for zhang.san as the inbox channel would, oldest first.
async fn fill_inbox(db: &TestDb, n: i32) -> Vec<i64> {
    sqlx::query_scalar(
        "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, subject, body, created_at)
         SELECT 'zhang.san', 'order.dispatch_backlog', 'high', 'backlog ' || i, i || ' orders', now() - (100 - i) * interval '1 minute'
           FROM generate_series(1, $1) i
         RETURNING id",
    )
    .bind(n)
    .fetch_all(&db.pool)
    .await
    .expect("fill inbox")
}

#[tokio::test]
async fn inbox_lists_unread_first_newest_first_in_pages_and_marks_read() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let ids = fill_inbox(&db, 5).await;
    let who = RecipientKey::parse("zhang.san").expect("key");

    assert_eq!(inbox::unread_count(&db.pool, &who).await.expect("count"), 5);
    assert_eq!(
        inbox::mark_read(&db.pool, &who, Some(&[ids[4], ids[3]]))
            .await
            .expect("mark"),
        2
    );
    assert_eq!(inbox::unread_count(&db.pool, &who).await.expect("count"), 3);

    let page1 = inbox::list(&db.pool, &who, page(false, 1, 2))
        .await
        .expect("page 1");
    let page2 = inbox::list(&db.pool, &who, page(false, 2, 2))
        .await
        .expect("page 2");
    let page3 = inbox::list(&db.pool, &who, page(false, 3, 2))
        .await
        .expect("page 3");
    let order: Vec<i64> = [page1, page2, page3]
        .concat()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        order,
        vec![ids[2], ids[1], ids[0], ids[4], ids[3]],
        "unread newest first, then read newest first"
    );

    let unread = inbox::list(&db.pool, &who, page(true, 1, 20))
        .await
        .expect("unread only");
    assert_eq!(unread.len(), 3);
    assert!(unread.iter().all(|i| i.read_at.is_none()));

    assert_eq!(
        inbox::mark_read(&db.pool, &who, None)
            .await
            .expect("mark all"),
        3
    );
    assert_eq!(inbox::unread_count(&db.pool, &who).await.expect("count"), 0);
    assert_eq!(
        inbox::mark_read(&db.pool, &who, None).await.expect("again"),
        0,
        "marking read twice changes nothing"
    );
}

#[tokio::test]
async fn inbox_refuses_unknown_recipients_and_other_peoples_messages() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let ids = fill_inbox(&db, 1).await;

    let typo = RecipientKey::parse("zhang.sam").expect("key");
    let err = inbox::list(&db.pool, &typo, page(false, 1, 20))
        .await
        .expect_err("unknown recipient");
    assert_eq!(err.sqlstate(), Some("MP005"));
    assert_eq!(err.hint(), Some("did you mean 'zhang.san'?"));
    let stranger = RecipientKey::parse("nobody-like-this-at-all").expect("key");
    let err = inbox::list(&db.pool, &stranger, page(false, 1, 20))
        .await
        .expect_err("unknown recipient");
    assert_eq!(
        err.hint(),
        Some("list recipients with: msgpool recipient list")
    );

    let li_si = RecipientKey::parse("li.si").expect("key");
    let err = inbox::mark_read(&db.pool, &li_si, Some(&ids))
        .await
        .expect_err("not li.si's");
    assert_eq!(err.sqlstate(), Some("MP009"));
    let zhang = RecipientKey::parse("zhang.san").expect("key");
    assert_eq!(
        inbox::unread_count(&db.pool, &zhang).await.expect("count"),
        1,
        "still unread"
    );

    let err = inbox::list(&db.pool, &zhang, page(false, 0, 20))
        .await
        .expect_err("page 0");
    assert_eq!(err.sqlstate(), Some("22023"));
}

#[tokio::test]
async fn one_message_opens_in_full_and_messages_archive_come_back_and_delete() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let ids = fill_inbox(&db, 3).await;
    let who = RecipientKey::parse("zhang.san").expect("key");

    let opened = inbox::show(&db.pool, &who, ids[1]).await.expect("show");
    assert_eq!(
        (opened.subject.as_str(), opened.body.as_str()),
        ("backlog 2", "2 orders")
    );
    assert!(opened.read_at.is_some(), "opening it reads it");
    assert_eq!(inbox::unread_count(&db.pool, &who).await.expect("count"), 2);

    let li_si = RecipientKey::parse("li.si").expect("key");
    for err in [
        inbox::show(&db.pool, &li_si, ids[0])
            .await
            .expect_err("not li.si's"),
        inbox::archive(&db.pool, &li_si, &ids, true)
            .await
            .expect_err("not li.si's"),
        inbox::delete(&db.pool, &li_si, &ids)
            .await
            .expect_err("not li.si's"),
    ] {
        assert_eq!(err.sqlstate(), Some("MP009"), "{err}");
    }

    assert_eq!(
        inbox::archive(&db.pool, &who, &[ids[0], ids[1]], true)
            .await
            .expect("archive"),
        2
    );
    let (pool, whose) = (&db.pool, &who);
    let listed = |archived| async move {
        let page = inbox::Page {
            archived,
            ..page(false, 1, 20)
        };
        let items = inbox::list(pool, whose, page).await.expect("list");
        items.iter().map(|i| i.id).collect::<Vec<_>>()
    };
    assert_eq!(
        listed(false).await,
        vec![ids[2]],
        "archived leave the inbox"
    );
    assert_eq!(listed(true).await, vec![ids[0], ids[1]], "and are kept");
    assert_eq!(
        inbox::unread_count(&db.pool, &who).await.expect("count"),
        1,
        "an archived unread message is not waiting to be read"
    );
    assert_eq!(
        inbox::archive(&db.pool, &who, &[ids[0]], false)
            .await
            .expect("bring back"),
        1
    );
    assert_eq!(listed(false).await, vec![ids[2], ids[0]]);

    assert_eq!(
        inbox::delete(&db.pool, &who, &[ids[2]])
            .await
            .expect("delete"),
        1
    );
    let err = inbox::show(&db.pool, &who, ids[2]).await.expect_err("gone");
    assert_eq!(err.sqlstate(), Some("MP009"));
}

#[tokio::test]
async fn status_counts_messages_and_deliveries_by_state_and_ages_the_oldest_due() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let empty = status::read(&db.pool).await.expect("status");
    assert!(empty.messages.is_empty() && empty.deliveries.is_empty());
    assert_eq!((empty.oldest_due_seconds, empty.dead), (None, 0));

    sqlx::raw_sql(
        "SELECT msgpool.send('server.down') FROM generate_series(1, 3);
         SELECT msgpool.send('server.down', deliver_at => now() + interval '1 day');
         UPDATE msgpool.message SET due_at = now() - interval '90 seconds' WHERE id = (SELECT min(id) FROM msgpool.message);
         INSERT INTO msgpool.delivery (message_id, recipient_key, channel, state, last_error)
         SELECT min(id), 'zhang.san', 'sms', 'dead', 'gateway said no' FROM msgpool.message;",
    )
    .execute(&db.pool)
    .await
    .expect("fill");
    let s = status::read(&db.pool).await.expect("status");
    assert_eq!(s.messages.get("pending"), Some(&4));
    assert_eq!(s.deliveries.get("dead"), Some(&1));
    assert_eq!(s.dead, 1);
    let age = s.oldest_due_seconds.expect("something is due");
    assert!(
        (89.0..150.0).contains(&age),
        "oldest due waited about 90s, got {age}"
    );
}

#[tokio::test]
async fn with_a_pinned_clock_status_ages_what_is_due_by_that_clock() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let mut conn = db.pool.pool().acquire().await.expect("connection");
    // a week ago: by the pinned clock the message was sent just now, and waits for nothing
    sqlx::raw_sql(
        "SET msgpool.clock = '2026-11-26 08:00+08';
         SELECT msgpool.send('server.down', deliver_at => '2026-11-26 09:00+08');
         SELECT msgpool.send('server.down');",
    )
    .execute(&mut *conn)
    .await
    .expect("send at the pinned time");
    let age: Option<f64> =
        sqlx::query_scalar("SELECT extract(epoch FROM oldest_due_age)::float8 FROM msgpool.status")
            .fetch_one(&mut *conn)
            .await
            .expect("status");
    let age = age.expect("the second message is due");
    assert!(
        age < 60.0,
        "due since the pinned now, not since a week ago: {age}"
    );
}

fn page(unread_only: bool, number: i32, size: i32) -> inbox::Page {
    inbox::Page {
        unread_only,
        archived: false,
        number,
        size,
    }
}
