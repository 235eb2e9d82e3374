//! The schema applies to an empty database and re-applies as a no-op; the Rust key types
//! accept exactly what the SQL domains accept.

mod support;

use msgpool::domain::{RecipientKey, TypeKey};
use support::TestDb;

#[tokio::test]
async fn migrations_apply_to_an_empty_database_then_reapply_as_a_no_op() {
    let db = TestDb::empty().await;
    let mut conn = db.pool.pool().acquire().await.expect("connection");

    let first = msgpool::migrations::run(&mut conn)
        .await
        .expect("first run");
    let forward = support::forward_migrations_on_disk();
    assert_eq!(
        first.len(),
        1 + forward,
        "the baseline and every forward migration applied: {first:?}"
    );

    let second = msgpool::migrations::run(&mut conn)
        .await
        .expect("second run");
    assert!(
        second.is_empty(),
        "nothing to apply the second time, got {second:?}"
    );

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'msgpool' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("tables");
    for table in [
        "message_type",
        "template",
        "recipient",
        "recipient_group",
        "group_member",
        "subscription",
        "message",
        "delivery",
        "delivery_attempt",
        "inbox",
        "status",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
}

#[tokio::test]
async fn rust_key_types_accept_exactly_what_the_sql_domains_accept() {
    let db = TestDb::new().await;
    let samples = [
        "server.down",
        "order.dispatch_backlog",
        "a",
        "a1.b_2",
        "Server.down",
        "server..down",
        ".x",
        "x.",
        "1x",
        "x-y",
        "zhang.san",
        "ops-robot",
        "E1001",
        "li_si@hq",
        "-x",
        "张三",
        "a b",
        "",
    ];
    for sample in samples {
        let sql_type_key = sqlx::query("SELECT $1::text::msgpool.type_key")
            .bind(sample)
            .execute(&db.pool)
            .await
            .is_ok();
        let sql_recipient_key = sqlx::query("SELECT $1::text::msgpool.recipient_key")
            .bind(sample)
            .execute(&db.pool)
            .await
            .is_ok();
        assert_eq!(
            TypeKey::parse(sample).is_ok(),
            sql_type_key,
            "type key {sample:?}"
        );
        assert_eq!(
            RecipientKey::parse(sample).is_ok(),
            sql_recipient_key,
            "recipient key {sample:?}"
        );
    }
}
