//! The producer contract: msgpool.send() and a plain INSERT accept the same good input and
//! refuse the same bad input, each with its documented SQLSTATE, writing nothing.

mod support;

use std::time::Duration;

use sqlx::postgres::PgListener;
use support::{TestDb, seed, sqlstate};

/// One bad input as send() arguments and as an INSERT's values.
struct Bad {
    code: &'static str,
    send: &'static str,
    insert: &'static str,
}

const BAD: &[Bad] = &[
    Bad {
        code: "MP001",
        send: "SELECT msgpool.send('order.dispach_backlog', '{}')",
        insert: "INSERT INTO msgpool.message (type_key) VALUES ('order.dispach_backlog')",
    },
    Bad {
        code: "MP002",
        send: "SELECT msgpool.send('disabled.type', '{}')",
        insert: "INSERT INTO msgpool.message (type_key) VALUES ('disabled.type')",
    },
    Bad {
        code: "MP003",
        send: "SELECT msgpool.send('order.dispatch_backlog', '[1, 2]')",
        insert: "INSERT INTO msgpool.message (type_key, payload) VALUES ('order.dispatch_backlog', '\"text\"')",
    },
    Bad {
        code: "MP004",
        send: "SELECT msgpool.send('order.dispatch_backlog', jsonb_build_object('blob', repeat(md5(random()::text), 3000)))",
        insert: "INSERT INTO msgpool.message (type_key, payload) VALUES ('order.dispatch_backlog', jsonb_build_object('blob', repeat(md5(random()::text), 3000)))",
    },
    Bad {
        code: "MP005",
        send: "SELECT msgpool.send('order.dispatch_backlog', '{}', recipients => '{zhang.sam}')",
        insert: "INSERT INTO msgpool.message (type_key, recipients) VALUES ('order.dispatch_backlog', '{zhang.san,nobody}')",
    },
    Bad {
        code: "MP006",
        send: "SELECT msgpool.send('order.dispatch_backlog', '{}', recipients => '{gone}')",
        insert: "INSERT INTO msgpool.message (type_key, recipients) VALUES ('order.dispatch_backlog', '{zhang.san,gone}')",
    },
    Bad {
        code: "MP007",
        send: "SELECT msgpool.send('order.dispatch_backlog', '{}', deliver_at => now() - interval '2 hours')",
        insert: "INSERT INTO msgpool.message (type_key, deliver_at) VALUES ('order.dispatch_backlog', now() - interval '1 day')",
    },
    Bad {
        code: "MP008",
        send: "SELECT msgpool.send('order.dispatch_backlog', '{}', recipients => '{}')",
        insert: "INSERT INTO msgpool.message (type_key, recipients) VALUES ('order.dispatch_backlog', '{}')",
    },
];

async fn setup() -> TestDb {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.message_type (key, name, enabled) VALUES ('disabled.type', 'Off', false);
         INSERT INTO msgpool.recipient (key, name, email, enabled) VALUES ('gone', 'Gone', 'gone@example.com', false);",
    )
    .execute(&db.pool)
    .await
    .expect("extra setup");
    db
}

async fn message_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM msgpool.message")
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn send_and_insert_refuse_the_same_bad_input_with_the_documented_sqlstate_and_write_nothing()
{
    let db = setup().await;
    for bad in BAD {
        for sql in [bad.send, bad.insert] {
            let err = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&db.pool)
                .await
                .expect_err(sql);
            assert_eq!(sqlstate(&err), bad.code, "{sql}: {err}");
            let db_err = err.as_database_error().expect("database error");
            let pg = db_err
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .expect("pg error");
            assert!(
                pg.hint().is_some_and(|h| !h.is_empty()),
                "{sql} gave no hint"
            );
        }
    }
    assert_eq!(
        message_count(&db).await,
        0,
        "no refused message was written"
    );
}

#[tokio::test]
async fn errors_say_what_was_wrong_and_suggest_the_nearest_key() {
    let db = setup().await;
    let err = sqlx::query("SELECT msgpool.send('order.dispach_backlog')")
        .execute(&db.pool)
        .await
        .expect_err("typo");
    let pg = err
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .expect("pg");
    assert_eq!(pg.message(), "unknown message type 'order.dispach_backlog'");
    assert_eq!(pg.hint(), Some("did you mean 'order.dispatch_backlog'?"));

    let err =
        sqlx::query("SELECT msgpool.send('order.dispatch_backlog', recipients => '{zhang.sam}')")
            .execute(&db.pool)
            .await
            .expect_err("typo");
    let pg = err
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .expect("pg");
    assert_eq!(pg.hint(), Some("did you mean 'zhang.san'?"));
}

#[tokio::test]
async fn a_key_like_no_other_gets_the_hint_to_create_it() {
    let db = setup().await;
    let hint = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            let err = sqlx::query(sql)
                .execute(&pool)
                .await
                .expect_err("unknown key");
            err.as_database_error()
                .and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
                .and_then(|pg| pg.hint().map(str::to_owned))
        }
    };
    assert_eq!(
        hint("SELECT msgpool.send('completely.different.thing')")
            .await
            .as_deref(),
        Some("an administrator creates types with: msgpool type add KEY --name NAME")
    );
    assert_eq!(
        hint("SELECT msgpool.send('order.dispatch_backlog', recipients => '{nobody-at-all-here}')")
            .await
            .as_deref(),
        Some("list recipients with: msgpool recipient list"),
        "a session that may read recipients is told how to list them"
    );
}

#[tokio::test]
async fn one_bad_row_refuses_the_whole_statement() {
    let db = setup().await;
    let err = sqlx::query(
        "INSERT INTO msgpool.message (type_key, payload)
         VALUES ('order.dispatch_backlog', '{\"n\": 1}'), ('order.dispatch_backlog', '[]'), ('server.down', '{}')",
    )
    .execute(&db.pool)
    .await
    .expect_err("second row is bad");
    assert_eq!(sqlstate(&err), "MP003");
    assert_eq!(message_count(&db).await, 0);
}

#[tokio::test]
async fn send_and_insert_store_the_same_message() {
    let db = setup().await;
    // the same dedup key would count the second as a duplicate (tests/dedup.rs); here both
    // must be stored
    sqlx::query(
        "UPDATE msgpool.message_type SET dedup_window = '0' WHERE key = 'order.dispatch_backlog'",
    )
    .execute(&db.pool)
    .await
    .expect("dedup off");
    let by_send: i64 = sqlx::query_scalar(
        "SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 120}', 'wh-1', NULL, '{zhang.san,li.si,zhang.san}', 'wms')",
    )
    .fetch_one(&db.pool)
    .await
    .expect("send");
    let by_insert: i64 = sqlx::query_scalar(
        "INSERT INTO msgpool.message (type_key, payload, dedup_key, recipients, source)
         VALUES ('order.dispatch_backlog', '{\"count\": 120}', 'wh-1', '{zhang.san,li.si,zhang.san}', 'wms') RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("insert");

    type Row = (
        String,
        serde_json::Value,
        Option<String>,
        Vec<String>,
        Option<String>,
        String,
        String,
        bool,
    );
    let read = |id: i64| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<_, Row>(
                "SELECT type_key, payload, dedup_key, recipients, source, urgency::text, state::text,
                        due_at BETWEEN now() - interval '1 minute' AND now()
                   FROM msgpool.message WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("read back")
        }
    };
    let (a, b) = (read(by_send).await, read(by_insert).await);
    assert_eq!(a, b, "send() and INSERT store the same row");
    assert_eq!(
        a.3,
        vec!["li.si".to_owned(), "zhang.san".to_owned()],
        "recipients deduplicated"
    );
    assert_eq!(a.5, "high", "urgency comes from the type");
    assert_eq!(a.6, "pending");
    assert!(a.7, "due now");
}

#[tokio::test]
async fn producers_cannot_set_the_pools_own_columns() {
    let db = setup().await;
    let mut billing = db.pool.pool().acquire().await.expect("connection");
    sqlx::query("SET application_name = 'billing'")
        .execute(&mut *billing)
        .await
        .expect("name the session");
    let (state, duplicates, source): (String, i32, Option<String>) = sqlx::query_as(
        "INSERT INTO msgpool.message (type_key, state, duplicate_count, expanded_at)
         VALUES ('server.down', 'cancelled', 99, now()) RETURNING state::text, duplicate_count, source",
    )
    .fetch_one(&mut *billing)
    .await
    .expect("insert");
    assert_eq!((state.as_str(), duplicates), ("pending", 0));
    assert_eq!(
        source.as_deref(),
        Some("billing"),
        "source defaults to the session's application_name"
    );

    let later: i64 = sqlx::query_scalar(
        "SELECT msgpool.send('server.down', deliver_at => now() + interval '1 hour')",
    )
    .fetch_one(&db.pool)
    .await
    .expect("send for later");
    let future: bool = sqlx::query_scalar(
        "SELECT due_at > now() + interval '59 minutes' FROM msgpool.message WHERE id = $1",
    )
    .bind(later)
    .fetch_one(&db.pool)
    .await
    .expect("deliver later");
    assert!(future, "deliver_at in the future sets the due time");
}

#[tokio::test]
async fn a_transaction_wakes_waiting_workers_with_one_notification_however_many_rows() {
    let db = setup().await;
    let mut listener = PgListener::connect_with(db.pool.pool())
        .await
        .expect("listener");
    listener.listen("msgpool_message").await.expect("listen");
    let statements = || async {
        sqlx::query("INSERT INTO msgpool.message (type_key) SELECT 'server.down' FROM generate_series(1, 500)")
            .execute(&db.pool)
            .await
            .expect("bulk insert");
        sqlx::query("SELECT msgpool.send('server.down')")
            .execute(&db.pool)
            .await
            .expect("send");
        sqlx::raw_sql(
            "BEGIN; SELECT msgpool.send('server.down'); SELECT msgpool.send('server.down'); COMMIT;",
        )
        .execute(&db.pool)
        .await
        .expect("two sends in one transaction");
    };
    let mut received = async || {
        let mut n = 0;
        while let Ok(Ok(Some(_))) =
            tokio::time::timeout(Duration::from_millis(300), listener.try_recv()).await
        {
            n += 1;
        }
        n
    };

    statements().await;
    assert_eq!(
        received().await,
        0,
        "no worker waits: producers pay for no notification"
    );

    sqlx::query("INSERT INTO msgpool.waiting_worker (worker) VALUES (gen_random_uuid())")
        .execute(&db.pool)
        .await
        .expect("a waiting worker");
    statements().await;
    assert_eq!(
        received().await,
        3,
        "a worker waits: one per transaction (the bulk insert, the send, the two sends)"
    );
    assert_eq!(message_count(&db).await, 1006);
}

#[tokio::test]
async fn an_overlong_dedup_key_or_source_is_refused_with_its_length() {
    let db = setup().await;
    let long = "k".repeat(201);
    for (sql, what) in [
        (
            "SELECT msgpool.send('server.down', '{}', dedup_key => $1)",
            "dedup_key",
        ),
        (
            "SELECT msgpool.send('server.down', '{}', source => $1)",
            "source",
        ),
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&long)
            .execute(&db.pool)
            .await
            .expect_err("too long");
        assert_eq!(sqlstate(&err), "MP012");
        let message = err.as_database_error().map(|d| d.message().to_owned());
        assert_eq!(
            message.as_deref(),
            Some(format!("{what} is 201 characters, over the limit of 200").as_str())
        );
    }
    assert_eq!(message_count(&db).await, 0);
}
