//! No one reaches beyond their own: an administrator cannot run code as anyone more, a
//! producer cannot touch another's messages, keys or recipients, webhooks go only where the
//! destination policy lets them, links do one thing for one recipient until they end, and
//! the console's users each do what their role allows, by name in the audit.

#[path = "support/console.rs"]
mod console;
mod support;

use console::{Console, TOKEN};
use msgpool::Db;
use msgpool::domain::{Channel, ConsoleRole, RecipientKey};
use reqwest::StatusCode;
use support::http::HttpServer;
use support::{
    TestDb, exec, login_as, scalar, seed, sqlstate, start, stop, wait_for, worker_config,
};

/// Runs `sql` as `pool`'s login role; the SQLSTATE it was refused with, if it was.
async fn refused(pool: &Db, sql: &str) -> Option<String> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .err()
        .map(|e| sqlstate(&e))
}

#[tokio::test]
async fn an_administrator_cannot_make_the_owners_functions_run_code_of_its_own() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let (_, admin) = login_as(&db, "msgpool_admin").await;
    // the escalation as found: a trigger of the admin's own on a table the owner's
    // functions write
    for sql in [
        "CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER evil AFTER INSERT ON msgpool.delivery FOR EACH ROW EXECUTE FUNCTION public.evil()",
        "CREATE FUNCTION msgpool.evil() RETURNS void LANGUAGE sql AS 'SELECT 1'",
        "TRUNCATE msgpool.message",
        "ALTER TABLE msgpool.delivery ADD CONSTRAINT evil FOREIGN KEY (message_id) REFERENCES msgpool.message (id)",
        "SET ROLE msgpool_owner",
    ] {
        let code = refused(&admin, sql).await;
        assert_eq!(code.as_deref(), Some("42501"), "an administrator may not: {sql}");
    }
    // what it may still do is administer
    assert_eq!(
        refused(
            &admin,
            "UPDATE msgpool.message_type SET name = 'x' WHERE key = 'server.down'"
        )
        .await,
        None
    );

    // every function that runs with the owner's rights: owned by a role that is no
    // superuser, with a search path that ends in pg_temp
    let definers: Vec<(String, String, bool, Option<Vec<String>>)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, r.rolname::text, r.rolsuper, p.proconfig
           FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
          WHERE p.pronamespace = 'msgpool'::regnamespace AND p.prosecdef",
    )
    .fetch_all(&db.pool)
    .await
    .expect("definers");
    assert!(definers.len() > 20, "{definers:?}");
    for (function, owner, superuser, config) in &definers {
        assert!(
            !superuser && owner == "msgpool_owner",
            "{function} is owned by {owner}"
        );
        let path = config
            .iter()
            .flatten()
            .find_map(|c| c.strip_prefix("search_path="))
            .unwrap_or_else(|| panic!("{function} sets no search_path"));
        assert!(path.ends_with("pg_temp"), "{function}: search_path={path}");
    }
    let can_log_in: bool = scalar(
        &db.pool,
        "SELECT rolcanlogin OR rolsuper FROM pg_roles WHERE rolname = 'msgpool_owner'",
    )
    .await;
    assert!(!can_log_in, "nobody logs in as the owner");
}

#[tokio::test]
async fn a_producer_cancels_only_its_own_messages() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let (_, billing) = login_as(&db, "msgpool_producer").await;
    let (_, monitor) = login_as(&db, "msgpool_producer").await;
    let id: i64 = scalar(
        &monitor,
        "SELECT msgpool.send('order.dispatch_backlog', '{}')",
    )
    .await;
    let refusal = refused(&billing, &format!("SELECT msgpool.cancel({id})")).await;
    assert_eq!(
        refusal.as_deref(),
        Some("MP011"),
        "another's message is as no message"
    );
    let state: String = scalar(
        &db.pool,
        &format!("SELECT state::text FROM msgpool.message WHERE id = {id}"),
    )
    .await;
    assert_eq!(state, "pending");
    assert_eq!(
        refused(&monitor, &format!("SELECT msgpool.cancel({id})")).await,
        None
    );
    let sent_by: String = scalar(
        &db.pool,
        &format!("SELECT sent_by FROM msgpool.message WHERE id = {id}"),
    )
    .await;
    assert!(sent_by.starts_with("msgpool_producer_"), "{sent_by}");
}

#[tokio::test]
async fn a_squatted_or_held_back_key_does_not_swallow_an_alert_due_now() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "UPDATE msgpool.message_type SET any_recipient = true WHERE key = 'server.down'",
    )
    .await;
    let (_, squatter) = login_as(&db, "msgpool_producer").await;
    let (_, monitor) = login_as(&db, "msgpool_producer").await;
    let squatted: i64 = scalar(
        &squatter,
        "SELECT msgpool.send('server.down', '{}', dedup_key => 'db1', deliver_at => '2099-01-01', recipients => '{zhang.san}')",
    )
    .await;
    // another producer's key is its own
    let alert: i64 = scalar(
        &monitor,
        "SELECT msgpool.send('server.down', '{}', dedup_key => 'db1', recipients => '{zhang.san}')",
    )
    .await;
    assert_ne!(alert, squatted);
    // and the same producer's message held back for later does not hold the key now
    let held: i64 = scalar(
        &monitor,
        "SELECT msgpool.send('server.down', '{}', dedup_key => 'db2', deliver_at => '2099-01-01', recipients => '{zhang.san}')",
    )
    .await;
    let due: i64 = scalar(
        &monitor,
        "SELECT msgpool.send('server.down', '{}', dedup_key => 'db2', recipients => '{zhang.san}')",
    )
    .await;
    assert_ne!(due, held);
    // a repeat of the due one still counts on it
    let repeat: i64 = scalar(
        &monitor,
        "SELECT msgpool.send('server.down', '{}', dedup_key => 'db1', recipients => '{zhang.san}')",
    )
    .await;
    assert_eq!(repeat, alert);
    let _: i32 = scalar(&db.pool, "SELECT msgpool.expand(100)").await;
    let delivered: i64 = scalar(
        &db.pool,
        &format!("SELECT count(*) FROM msgpool.delivery WHERE message_id IN ({alert}, {due})"),
    )
    .await;
    assert_eq!(
        delivered, 4,
        "both alerts due now reach zhang.san on inbox and sms"
    );
}

#[tokio::test]
async fn a_producer_asks_no_more_urgency_than_the_type_allows_and_names_only_its_subscribers() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let (producer_role, producer) = login_as(&db, "msgpool_producer").await;
    // order.dispatch_backlog is high, and the ops group (zhang.san, li.si) subscribes
    let above = refused(
        &producer,
        "SELECT msgpool.send('order.dispatch_backlog', urgency => 'urgent')",
    )
    .await;
    assert_eq!(above.as_deref(), Some("MP018"));
    assert_eq!(
        refused(
            &producer,
            "SELECT msgpool.send('order.dispatch_backlog', urgency => 'low')"
        )
        .await,
        None
    );
    exec(&db.pool, "UPDATE msgpool.message_type SET max_urgency = 'urgent' WHERE key = 'order.dispatch_backlog'").await;
    assert_eq!(
        refused(
            &producer,
            "SELECT msgpool.send('order.dispatch_backlog', urgency => 'urgent')"
        )
        .await,
        None
    );

    assert_eq!(
        refused(
            &producer,
            "SELECT msgpool.send('order.dispatch_backlog', recipients => '{zhang.san}')"
        )
        .await,
        None,
        "a subscriber through the group"
    );
    // a recipient who exists but does not subscribe, and one who does not exist, are
    // refused alike: the producer learns nothing of which keys exist
    let outsider =
        sqlx::query("SELECT msgpool.send('order.dispatch_backlog', recipients => '{ops-robot}')")
            .execute(&producer)
            .await
            .expect_err("ops-robot does not subscribe");
    let nobody =
        sqlx::query("SELECT msgpool.send('order.dispatch_backlog', recipients => '{no.body}')")
            .execute(&producer)
            .await
            .expect_err("no.body does not exist");
    assert_eq!(
        (sqlstate(&outsider), sqlstate(&nobody)),
        ("MP019".into(), "MP019".into())
    );
    let shape = |e: &sqlx::Error, key: &str| e.to_string().replace(key, "KEY");
    assert_eq!(shape(&outsider, "ops-robot"), shape(&nobody, "no.body"));

    // a type that takes any recipient: a key no recipient has is accepted, and parked
    exec(
        &db.pool,
        "UPDATE msgpool.message_type SET any_recipient = true WHERE key = 'order.dispatch_backlog'",
    )
    .await;
    let id: i64 = scalar(
        &producer,
        "SELECT msgpool.send('order.dispatch_backlog', recipients => '{no.body}')",
    )
    .await;
    let _: i32 = scalar(&db.pool, "SELECT msgpool.expand(100)").await;
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT skip_reason FROM msgpool.delivery WHERE message_id = $1",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("deliveries");
    assert_eq!(reasons, ["no recipient has this key"]);

    // a source is one the role may give; by default the role's own name
    let source = refused(
        &producer,
        "SELECT msgpool.send('order.dispatch_backlog', source => 'billing')",
    )
    .await;
    assert_eq!(source.as_deref(), Some("MP020"));
    let id: i64 = scalar(&producer, "SELECT msgpool.send('order.dispatch_backlog')").await;
    let given: String = scalar(
        &db.pool,
        &format!("SELECT source FROM msgpool.message WHERE id = {id}"),
    )
    .await;
    assert_eq!(given, producer_role);
    exec(
        &db.pool,
        &format!("INSERT INTO msgpool.producer (login_role, sources) VALUES ('{producer_role}', '{{billing}}')"),
    )
    .await;
    assert_eq!(
        refused(
            &producer,
            "SELECT msgpool.send('order.dispatch_backlog', source => 'billing')"
        )
        .await,
        None
    );
}

#[tokio::test]
async fn webhooks_follow_no_redirect_and_reach_no_address_the_policy_refuses() {
    let db = TestDb::new().await;
    let hooks = HttpServer::start().await;
    let elsewhere = HttpServer::start().await;
    exec(
        &db.pool,
        &format!(
            "INSERT INTO msgpool.message_type (key, name, channels, any_recipient) VALUES ('alert', 'Alert', '{{webhook}}', true);
             INSERT INTO msgpool.recipient (key, name, webhook_url) VALUES
               ('moved', 'Moved', '{}'), ('denied-name', 'By name', 'http://localhost:{}/hook'),
               ('denied-literal', 'By address', '{}');",
            hooks.url("/moved"),
            elsewhere.port,
            elsewhere.url("/literal"),
        ),
    )
    .await;
    hooks.reply_next_with(
        302,
        &[&format!("Location: {}", elsewhere.url("/internal"))],
        "",
    );
    exec(
        &db.pool,
        "SELECT msgpool.send('alert', recipients => '{moved}')",
    )
    .await;
    let worker = start(&db.pool, worker_config("redirect", &[Channel::Webhook]));
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'dead'",
        1,
    )
    .await;
    stop(worker).await;
    let error: String = scalar(
        &db.pool,
        "SELECT last_error FROM msgpool.delivery WHERE recipient_key = 'moved'",
    )
    .await;
    assert!(
        error.contains("HTTP 302"),
        "the redirect answered as refused: {error}"
    );

    // the test's own loopback server stands for an internal address an administrator denied;
    // a worker reads the policy when it starts
    exec(
        &db.pool,
        "UPDATE msgpool.settings SET outbound_deny = outbound_deny || '{127.0.0.0/8, ::1/128}'",
    )
    .await;
    exec(
        &db.pool,
        "SELECT msgpool.send('alert', recipients => '{denied-name,denied-literal}')",
    )
    .await;
    let worker = start(&db.pool, worker_config("outbound", &[Channel::Webhook]));
    wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'dead'",
        3,
    )
    .await;
    stop(worker).await;
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other server: {:?}",
        elsewhere.requests()
    );
    let errors: Vec<(String, String)> = sqlx::query_as(
        "SELECT recipient_key::text, last_error FROM msgpool.delivery
          WHERE recipient_key <> 'moved' ORDER BY recipient_key",
    )
    .fetch_all(&db.pool)
    .await
    .expect("errors");
    for (recipient, error) in &errors {
        assert!(
            error.contains("the destination policy refuses"),
            "{recipient}: {error}"
        );
    }
    assert!(
        errors[1].1.starts_with("localhost: "),
        "resolved, then refused: {errors:?}"
    );
}

#[tokio::test]
async fn an_inbox_link_names_one_recipient_does_one_thing_and_ends() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.recipient (key, name) VALUES ('wang.wu', '王五')",
    )
    .await;
    let token = |scope: &str, valid: &str| {
        format!("SELECT msgpool.inbox_token('wang.wu', '{scope}', {valid})")
    };
    let old: String = scalar(&db.pool, &token("inbox", "NULL")).await;
    let bell: String = scalar(&db.pool, &token("count", "NULL")).await;
    let ended: String = scalar(&db.pool, &token("inbox", "'-1 second'")).await;
    let (_, inbox) = login_as(&db, "msgpool_inbox").await;
    let call = |f: &str, t: &str| format!("SELECT * FROM msgpool.{f}('wang.wu', '{t}')");
    assert_eq!(
        refused(&inbox, &call("signed_inbox_list", &old)).await,
        None
    );
    assert_eq!(
        refused(&inbox, &call("signed_inbox_unread_count", &bell)).await,
        None
    );
    assert_eq!(
        refused(&inbox, &call("signed_inbox_list", &bell))
            .await
            .as_deref(),
        Some("MP017"),
        "the bell's token counts, and reads nothing"
    );
    assert_eq!(
        refused(&inbox, &call("signed_inbox_list", &ended))
            .await
            .as_deref(),
        Some("MP017")
    );
    // removed and added again under the same key: the old person's links are not theirs
    exec(&db.pool, "DELETE FROM msgpool.recipient WHERE key = 'wang.wu'; INSERT INTO msgpool.recipient (key, name) VALUES ('wang.wu', '王五')").await;
    assert_eq!(
        refused(&inbox, &call("signed_inbox_list", &old))
            .await
            .as_deref(),
        Some("MP017")
    );
    // one recipient's secret rotated: theirs stop, others' go on
    let zhang: String = scalar(&db.pool, "SELECT msgpool.inbox_token('zhang.san')").await;
    let fresh: String = scalar(&db.pool, &token("inbox", "NULL")).await;
    exec(&db.pool, "SELECT msgpool.inbox_rotate_secret('wang.wu')").await;
    assert_eq!(
        refused(&inbox, &call("signed_inbox_list", &fresh))
            .await
            .as_deref(),
        Some("MP017")
    );
    assert_eq!(
        refused(
            &inbox,
            &format!("SELECT msgpool.signed_inbox_unread_count('zhang.san', '{zhang}')")
        )
        .await,
        None
    );
    // the secret is never in the audit
    let leaked: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.audit WHERE after::text LIKE '%\\\\x%' OR before::text LIKE '%\\\\x%'",
    )
    .await;
    assert_eq!(leaked, 0);
}

#[tokio::test]
async fn credentials_in_urls_are_redacted_everywhere_they_are_shown() {
    let db = TestDb::new().await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.recipient (key, name, webhook_url, webhook_flavor) VALUES
           ('slack', 'Slack', 'https://hooks.slack.com/services/T0123ABC/B0456DEF/XyZsecretABCdef123456', 'slack'),
           ('feishu', 'Feishu', 'https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'feishu'),
           ('basic', 'Basic', 'https://user:hunter2secret@hooks.example.com/notify', 'generic')",
    )
    .await;
    let secrets = [
        "XyZsecretABCdef123456",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "hunter2secret",
    ];
    let listed = serde_json::to_string(
        &msgpool::admin::recipients::list(&db.pool)
            .await
            .expect("list"),
    )
    .expect("json");
    let audit: String = scalar(
        &db.pool,
        "SELECT string_agg(after::text, ' ') FROM msgpool.audit",
    )
    .await;
    let console = Console::signed_in(&db.url, false).await;
    let mut pages = String::new();
    for key in ["slack", "feishu", "basic"] {
        pages.push_str(&console.get(&format!("/recipients/{key}")).await.body);
    }
    pages.push_str(&console.get("/recipients").await.body);
    for secret in secrets {
        assert!(!listed.contains(secret), "listing: {listed}");
        assert!(!audit.contains(secret), "audit: {audit}");
        assert!(!pages.contains(secret), "console shows {secret}");
    }
    assert!(
        listed.contains("/services/T0123ABC/B0456DEF/***")
            && listed.contains("https://***@hooks.example.com"),
        "{listed}"
    );

    // saving the form as shown keeps the stored credential
    let saved = console
        .post(
            "/recipients/slack",
            &[
                ("name", "Slack team"),
                (
                    "webhook_url",
                    "https://hooks.slack.com/services/T0123ABC/B0456DEF/***",
                ),
                ("webhook_flavor", "slack"),
            ],
        )
        .await;
    assert!(
        saved.status.is_redirection(),
        "{} {}",
        saved.status,
        saved.body
    );
    let (name, url): (String, String) =
        sqlx::query_as("SELECT name, webhook_url FROM msgpool.recipient WHERE key = 'slack'")
            .fetch_one(&db.pool)
            .await
            .expect("stored");
    assert_eq!(name, "Slack team");
    assert!(
        url.ends_with("/XyZsecretABCdef123456"),
        "the credential kept: {url}"
    );
}

#[tokio::test]
async fn console_users_do_what_their_role_allows_by_name_and_guessing_is_throttled() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    for (name, role) in [
        ("vera", ConsoleRole::Viewer),
        ("otto", ConsoleRole::Operator),
        ("ada", ConsoleRole::Admin),
    ] {
        msgpool::admin::console_users::set(
            &db.pool,
            &RecipientKey::parse(name).expect("key"),
            role,
            "correct horse battery",
        )
        .await
        .expect("console user");
    }
    let short = msgpool::admin::console_users::set(
        &db.pool,
        &RecipientKey::parse("eve").expect("key"),
        ConsoleRole::Admin,
        "short",
    )
    .await
    .expect_err("a short password");
    assert!(short.to_string().contains("at least 12"), "{short}");

    let viewer = Console::signed_in_as(&db.url, "vera", "correct horse battery").await;
    assert_eq!(viewer.get("/deliveries").await.status, StatusCode::OK);
    assert_eq!(
        viewer
            .post("/deliveries/retry", &[("all", "true")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let operator = Console::signed_in_as(&db.url, "otto", "correct horse battery").await;
    assert_ne!(
        operator
            .post("/deliveries/retry", &[("all", "true")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let edit = operator
        .post("/types/server.down/enabled", &[("enabled", "false")])
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN, "{}", edit.body);
    let admin = Console::signed_in_as(&db.url, "ada", "correct horse battery").await;
    let edit = admin
        .post("/types/server.down/enabled", &[("enabled", "false")])
        .await;
    assert_ne!(edit.status, StatusCode::FORBIDDEN, "{}", edit.body);
    let (actor, login): (String, String) = sqlx::query_as(
        "SELECT actor, login_role FROM msgpool.audit WHERE type_key = 'server.down' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("the change's audit row");
    assert_eq!(
        (actor.as_str(), login.as_str()),
        ("ada", "msgpool_console_login")
    );

    // wrong guesses: a handful are answered, then the client waits without the database
    let guesser = Console::start(&db.url, false).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let page = guesser
            .sign_in_raw(&[("user", "ada"), ("password", "wrong guess again")])
            .await;
        statuses.push(page.status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_console_answers_only_to_its_hosts_frames_only_the_bell_and_sends_back_only_home() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::start(&db.url, false).await;
    let rebinding = console
        .get_with("/signin", &[("host", "evil.example:8080")])
        .await;
    assert_eq!(rebinding.status, StatusCode::MISDIRECTED_REQUEST);
    let token: String = scalar(&db.pool, "SELECT msgpool.inbox_token('zhang.san', 'count')").await;
    let bell = console
        .get_headers(&format!("/inbox/zhang.san/bell?token={token}"))
        .await;
    assert!(bell.contains("frame-ancestors *"), "{bell}");
    // a type keyed `bell` is a console page like any other
    exec(
        &db.pool,
        "INSERT INTO msgpool.message_type (key, name) VALUES ('bell', 'Bell')",
    )
    .await;
    let signed = Console::signed_in(&db.url, false).await;
    let page = signed.get_headers("/types/bell").await;
    assert!(page.contains("frame-ancestors 'none'"), "{page}");
    for back in [
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
    ] {
        let page = console.get(&format!("/lang/en?back={back}")).await;
        assert_eq!(page.location.as_deref(), Some("/"), "back={back}");
    }
    let page = console.get("/lang/en?back=/types%3Fcategory%3Dx").await;
    assert_eq!(page.location.as_deref(), Some("/types?category=x"));

    // over TLS (a public https address): Secure cookies and HSTS
    let public = Console::start_public(&db.url, "https://console.example.com").await;
    let signin = public
        .post_with_host("/signin", "console.example.com", &[("token", TOKEN)])
        .await;
    assert!(
        signin
            .set_cookie
            .as_deref()
            .is_some_and(|c| c.contains("Secure")),
        "{:?}",
        signin.set_cookie
    );
    let headers = public
        .get_headers_with_host("/signin", "console.example.com")
        .await;
    assert!(headers.contains("strict-transport-security"), "{headers}");
    assert_eq!(
        public
            .get_with("/signin", &[("host", "127.0.0.1")])
            .await
            .status,
        StatusCode::MISDIRECTED_REQUEST,
        "with a public address, only that one"
    );
}

#[tokio::test]
async fn refused_sends_leave_the_log_under_its_cap_and_without_their_payloads() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // each statement's own text carries the 200 KB payload, as a careless producer's would
    let marker = "PAYLOADMARKER";
    let payload = format!("{{\"x\": \"{}\"}}", marker.repeat(200_000 / marker.len()));
    let statement = format!("SELECT msgpool.send('server.down', '{payload}')");
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (pool, statement) = (db.pool.clone(), statement.clone());
            tokio::spawn(async move {
                for _ in 0..5_000 {
                    let refusal = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.as_str()))
                        .execute(&pool)
                        .await
                        .expect_err("over the size limit");
                    assert_eq!(sqlstate(&refusal), "MP004");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    let cluster = msgpool::embedded::Cluster::new(support::cluster_home()).expect("cluster");
    let bytes = cluster.trim_logs();
    let cap = msgpool::embedded::LOG_FILES_KEPT as u64 * msgpool::embedded::LOG_FILE_SIZE;
    assert!(
        bytes <= cap,
        "the server's log holds {bytes} bytes, over its cap of {cap}"
    );
    let log = support::cluster_home().join("server").join("log");
    let files: Vec<_> = std::fs::read_dir(&log)
        .expect("the log folder")
        .flatten()
        .collect();
    assert!(!files.is_empty(), "the server logs into {}", log.display());
    for file in files {
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        assert!(
            !text.contains(marker),
            "{} holds a refused payload",
            file.path().display()
        );
    }
}

#[tokio::test]
async fn a_flood_of_wrong_inbox_links_is_answered_without_the_database() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::start(&db.url, false).await;
    let mut statuses = Vec::new();
    for n in 0..25 {
        statuses.push(
            console
                .get(&format!(
                    "/api/inbox/zhang.san/unread-count?token=inbox-0-{n:064}"
                ))
                .await
                .status,
        );
    }
    assert_eq!(statuses[0], StatusCode::FORBIDDEN);
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
