//! Least privilege: what each msgpool role may and may not do.

mod support;

use support::{TestDb, seed, sqlstate};

/// Runs `sql` as `role` in a transaction that is rolled back; `Ok` or the SQLSTATE.
async fn as_role(db: &TestDb, role: &str, sql: &str) -> Result<(), String> {
    let mut tx = db.pool.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .execute(&mut *tx)
        .await
        .expect("set role");
    let result = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .map(|_| ())
        .map_err(|e| sqlstate(&e));
    tx.rollback().await.expect("rollback");
    result
}

fn check(role: &str, sql: &str, got: Result<(), String>, allowed: bool) {
    match (allowed, got) {
        (true, Ok(())) => {}
        (false, Err(code)) if code == "42501" => {}
        (_, got) => panic!(
            "{role}: {sql}: expected {}, got {got:?}",
            if allowed { "allowed" } else { "42501" }
        ),
    }
}

#[tokio::test]
async fn each_role_may_do_its_job_and_nothing_more() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // every send-time and noise rule in play, so expansion and claims touch their tables
    sqlx::raw_sql(
        "INSERT INTO msgpool.message_type (key, name, channels, send_policy, send_interval)
         VALUES ('report.ready', 'Report', '{inbox,email}', 'interval', '1 hour');
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('report.ready', 'zhang.san');
         INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends) VALUES ('report.ready', 'email', '00:00', '23:59');
         INSERT INTO msgpool.rate_limit (channel, recipient_max, recipient_window, provider_per_second)
         VALUES ('email', 1, '1 hour', 5);
         SELECT msgpool.send('report.ready'), msgpool.send('order.dispatch_backlog', '{}', 'wh-1');",
    )
    .execute(&db.pool)
    .await
    .expect("rules");
    let delivery = "INSERT INTO msgpool.delivery (message_id, recipient_key, channel)
                    SELECT msgpool.send('server.down'), 'zhang.san', 'inbox'";
    let cases: &[(&str, &str, bool)] = &[
        // producer: send only
        (
            "msgpool_producer",
            "SELECT msgpool.send('server.down', '{\"host\": \"db1\"}')",
            true,
        ),
        (
            "msgpool_producer",
            "INSERT INTO msgpool.message (type_key, payload) VALUES ('server.down', '{}') RETURNING id",
            true,
        ),
        (
            "msgpool_producer",
            "SELECT email, phone FROM msgpool.recipient",
            false,
        ),
        (
            "msgpool_producer",
            "SELECT webhook_secret FROM msgpool.recipient",
            false,
        ),
        (
            "msgpool_producer",
            "SELECT payload FROM msgpool.message",
            false,
        ),
        ("msgpool_producer", "SELECT * FROM msgpool.inbox", false),
        (
            "msgpool_producer",
            "SELECT msgpool.send('server.down', '{}', 'db1'), msgpool.send('server.down', '{}', 'db1')",
            true,
        ),
        (
            "msgpool_producer",
            "SELECT msgpool.cancel(msgpool.send('server.down'))",
            true,
        ),
        (
            "msgpool_producer",
            "SELECT msgpool.send('server.down', '{}', recipients => '{zhang.san,li.si}')",
            true,
        ),
        (
            "msgpool_producer",
            "SELECT key, urgency FROM msgpool.message_type",
            true,
        ),
        (
            "msgpool_producer",
            "SELECT key FROM msgpool.recipient",
            false,
        ),
        (
            "msgpool_producer",
            "UPDATE msgpool.message SET duplicate_count = 99",
            false,
        ),
        ("msgpool_producer", "SELECT * FROM msgpool.dedup", false),
        (
            "msgpool_producer",
            "SELECT * FROM msgpool.duplicates",
            false,
        ),
        ("msgpool_producer", "DELETE FROM msgpool.quiet_hours", false),
        (
            "msgpool_producer",
            "SELECT * FROM msgpool.explain('server.down')",
            false,
        ),
        (
            "msgpool_producer",
            "UPDATE msgpool.message SET state = 'cancelled'",
            false,
        ),
        ("msgpool_producer", "DELETE FROM msgpool.message", false),
        (
            "msgpool_producer",
            "INSERT INTO msgpool.message_type (key, name) VALUES ('x.y', 'X')",
            false,
        ),
        ("msgpool_producer", "SELECT * FROM msgpool.status", false),
        (
            "msgpool_producer",
            "SELECT msgpool.inbox_unread_count('zhang.san')",
            false,
        ),
        // producer: the door's helpers that run with the owner's rights are not its to call
        (
            "msgpool_producer",
            "SELECT msgpool.count_duplicate('server.down', 'billing', 'db1', 1, 'infinity')",
            false,
        ),
        (
            "msgpool_producer",
            "SELECT msgpool.check_recipients('{zhang.san}', 'server.down')",
            false,
        ),
        ("msgpool_producer", "SELECT * FROM msgpool.audit", false),
        (
            "msgpool_producer",
            "UPDATE msgpool.settings SET max_payload_bytes = 100000000",
            false,
        ),
        // worker: the queue's functions, and no table directly
        ("msgpool_worker", "SELECT msgpool.expand(10)", true),
        (
            "msgpool_worker",
            "SELECT * FROM msgpool.expand_and_claim(10, '{inbox,email,sms,webhook}', '30 seconds')",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT * FROM msgpool.claim_deliveries('email', 10, '30 seconds')",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT msgpool.record_outcomes('[]'), msgpool.deliver_to_inbox('[]')",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT msgpool.extend_leases('{}', '1 minute'), msgpool.release_deliveries('{}')",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT msgpool.worker_waiting(gen_random_uuid(), true)",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT msgpool.refresh_statistics()",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT msgpool.prune('30 days', 100)",
            true,
        ),
        (
            "msgpool_worker",
            "SELECT email, phone, webhook_url, webhook_secret FROM msgpool.recipient",
            false,
        ),
        ("msgpool_worker", "SELECT * FROM msgpool.template", false),
        (
            "msgpool_worker",
            "UPDATE msgpool.message SET payload = '{\"host\": \"evil\"}'",
            false,
        ),
        (
            "msgpool_worker",
            "UPDATE msgpool.delivery SET attempts = attempts + 1",
            false,
        ),
        (
            "msgpool_worker",
            "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, body) VALUES ('zhang.san', 'server.down', 'urgent', 'down')",
            false,
        ),
        ("msgpool_worker", "SELECT * FROM msgpool.status", false),
        (
            "msgpool_worker",
            "UPDATE msgpool.rate_limit SET provider_per_second = 1000",
            false,
        ),
        ("msgpool_worker", delivery, false), // it may not send() as a producer would
        ("msgpool_worker", "DELETE FROM msgpool.quiet_hours", false),
        ("msgpool_worker", "SELECT msgpool.cancel(1)", false),
        (
            "msgpool_worker",
            "INSERT INTO msgpool.message_type (key, name) VALUES ('x.y', 'X')",
            false,
        ),
        (
            "msgpool_worker",
            "UPDATE msgpool.recipient SET email = 'evil@example.com'",
            false,
        ),
        ("msgpool_worker", "DELETE FROM msgpool.delivery", false),
        (
            "msgpool_producer",
            "SELECT msgpool.prune('30 days', 100)",
            false,
        ),
        // admin: configuration and everything above
        (
            "msgpool_admin",
            "INSERT INTO msgpool.message_type (key, name) VALUES ('x.y', 'X')",
            true,
        ),
        (
            "msgpool_admin",
            "UPDATE msgpool.recipient SET email = 'new@example.com' WHERE key = 'zhang.san'",
            true,
        ),
        (
            "msgpool_admin",
            "INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('server.down', 'zhang.san')",
            true,
        ),
        ("msgpool_admin", "SELECT msgpool.send('server.down')", true),
        ("msgpool_admin", delivery, true),
        (
            "msgpool_admin",
            "SELECT msgpool.inbox_unread_count('zhang.san')",
            true,
        ),
        (
            "msgpool_admin",
            "INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends) VALUES ('server.down', 'sms', '22:00', '08:00')",
            true,
        ),
        (
            "msgpool_admin",
            "SELECT * FROM msgpool.explain('report.ready')",
            true,
        ),
        ("msgpool_admin", "SELECT * FROM msgpool.audit", true),
        // the configuration's history only grows
        ("msgpool_admin", "DELETE FROM msgpool.audit", false),
        (
            "msgpool_admin",
            "UPDATE msgpool.settings SET max_payload_bytes = 262144",
            true,
        ),
        ("msgpool_admin", "DELETE FROM msgpool.settings", false),
    ];
    for (role, sql, allowed) in cases {
        check(role, sql, as_role(&db, role, sql).await, *allowed);
    }
}

#[tokio::test]
async fn a_login_role_granted_producer_can_send_but_not_read_contacts() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let login = format!("billing_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS {login}; CREATE ROLE {login} LOGIN PASSWORD 'pw' IN ROLE msgpool_producer"
    )))
    .execute(&db.pool)
    .await
    .expect("create login role");
    let url = db
        .url
        .split_once('@')
        .map(|(_, rest)| format!("postgres://{login}:pw@{rest}"))
        .expect("url");
    let producer = sqlx::PgPool::connect(&url)
        .await
        .expect("connect as the service");

    let id: i64 =
        sqlx::query_scalar("SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 1}')")
            .fetch_one(&producer)
            .await
            .expect("the service sends");
    assert!(id > 0);
    let err = sqlx::query("SELECT email FROM msgpool.recipient")
        .execute(&producer)
        .await
        .expect_err("contacts are private");
    assert_eq!(sqlstate(&err), "42501");
    producer.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP OWNED BY {login}; DROP ROLE {login}"
    )))
    .execute(&db.pool)
    .await
    .expect("drop role");
}

#[tokio::test]
async fn a_role_without_grants_can_execute_no_msgpool_function() {
    let db = TestDb::new().await;
    let outsider = format!("outsider_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS {outsider}; CREATE ROLE {outsider}"
    )))
    .execute(&db.pool)
    .await
    .expect("create role");
    let executable: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc p
          WHERE p.pronamespace = 'msgpool'::regnamespace AND has_function_privilege($1, p.oid, 'EXECUTE')
          ORDER BY 1",
    )
    .bind(&outsider)
    .fetch_all(&db.pool)
    .await
    .expect("privileges");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {outsider}")))
        .execute(&db.pool)
        .await
        .expect("drop role");
    assert!(
        executable.is_empty(),
        "executable by PUBLIC: {executable:?}"
    );
}
