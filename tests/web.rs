//! The console over HTTP: every page and form, refusals beside their fields with nothing
//! written, sign-in, CSRF, read-only, inbox tokens, escaping.

mod support;
// its own module: the CLI's tests share support/ but not reqwest
#[path = "support/console.rs"]
mod console;

use console::{Console, TOKEN};
use reqwest::StatusCode;
use support::{TestDb, scalar, seed};

/// A path of `ROUTES` with its placeholders filled in.
fn concrete(path: &str) -> String {
    path.replace("{key}", "server.down")
        .replace("{recipient}", "zhang.san")
        .replace("{id}", "1")
        .replace("{file}", "console.css")
        .replace("{lang}", "en")
}

#[tokio::test]
async fn every_console_route_refuses_an_anonymous_request() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::start(&db.url, false).await;
    let mut walked = 0;
    for (method, path, access) in msgpool_web::ROUTES {
        let page = console.anonymous(method, &concrete(path)).await;
        match access {
            msgpool_web::Access::Viewer
            | msgpool_web::Access::Operator
            | msgpool_web::Access::Admin => {
                walked += 1;
                match *method {
                    "GET" => {
                        assert_eq!(page.status, StatusCode::SEE_OTHER, "GET {path}");
                        assert_eq!(page.location.as_deref(), Some("/signin"), "GET {path}");
                    }
                    _ => assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{method} {path}"),
                }
            }
            // no token: the inbox routes refuse too, with 403
            msgpool_web::Access::InboxToken => {
                assert_eq!(
                    page.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path}: {}",
                    page.body
                )
            }
            msgpool_web::Access::Public => assert!(
                page.status.is_success()
                    || page.status.is_redirection()
                    || page.status == StatusCode::UNAUTHORIZED,
                "{method} {path}: {}",
                page.status
            ),
        }
    }
    assert!(walked > 30, "walked {walked} console routes");
    // a route missing from ROUTES would be missed above: an unknown path is 404 either way
    assert_eq!(
        console.anonymous("GET", "/no-such-page").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn signing_in_takes_the_token_and_sets_a_strict_http_only_cookie() {
    let db = TestDb::new().await;
    let console = Console::start(&db.url, false).await;
    let wrong = console.anonymous("GET", "/signin").await;
    assert!(wrong.body.contains("name=\"token\""));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let refused = client
        .post(format!("{}/signin", console.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=guess")
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("set-cookie").is_none());
    let accepted = client
        .post(format!("{}/signin", console.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .expect("post");
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let cookie = accepted
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_writes_nothing() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let page = console
        .post_without_csrf(
            "/types/new",
            &[
                ("key", "csrf.probe"),
                ("name", "Probe"),
                ("channel.inbox", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = console
        .post_without_csrf(
            "/types/server.down/enabled",
            &[("enabled", "false"), ("csrf", "not-the-token")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let types: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.message_type WHERE key = 'csrf.probe' OR NOT enabled",
    )
    .await;
    assert_eq!(types, 0);
}

#[tokio::test]
async fn a_read_only_console_shows_everything_and_refuses_every_change() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, true).await;
    let list = console.get("/types").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("server.down"));
    assert!(
        !list.body.contains("hx-post=\"/types/server.down/enabled\""),
        "no toggles when read-only"
    );
    let before: i64 = scalar(&db.pool, "SELECT count(*) FROM msgpool.audit").await;
    for (method, path, access) in msgpool_web::ROUTES {
        // signing out is tried last: it ends the session
        if *method != "POST" || access.console_role().is_none() || *path == "/signout" {
            continue;
        }
        let path = concrete(path);
        let page = console
            .post(
                &path,
                &[
                    ("key", "read.only"),
                    ("name", "X"),
                    ("enabled", "false"),
                    ("member", "li.si"),
                    ("type_key", "server.down"),
                    ("all", "1"),
                ],
            )
            .await;
        match path.as_str() {
            // a preview changes nothing
            "/types/preview" => assert_eq!(page.status, StatusCode::OK),
            _ => assert_eq!(page.status, StatusCode::FORBIDDEN, "POST {path}"),
        }
    }
    let after: i64 = scalar(&db.pool, "SELECT count(*) FROM msgpool.audit").await;
    assert_eq!(before, after, "nothing was changed");
    assert_eq!(
        console.post("/signout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

/// The type form's fields for a full type.
fn type_form<'a>(key: &'a str, time_zone: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("key", key),
        ("name", "磁盘将满"),
        ("description", "A disk passed 90%"),
        ("new_category", "服务器异常"),
        ("urgency", "high"),
        ("channel.inbox", "on"),
        ("channel.email", "on"),
        ("send_policy", "times_of_day"),
        ("send_times", "08:00,17:30"),
        ("time_zone", time_zone),
        ("digest", "on"),
        ("dedup_window", "2 hours"),
        ("max_attempts", "5"),
        ("tpl.email.subject", "Disk {{ host }} at {{ used }}%"),
        ("tpl.email.body", "{{ host }} is {{ used }}% full"),
        ("tpl.email.html_body", "<b>{{ host }}</b>"),
        ("tpl.inbox.subject", "磁盘 {{ host }}"),
        ("tpl.inbox.body", "{{ host }}: {{ used }}%"),
        ("quiet.email.from", "22:00"),
        ("quiet.email.to", "08:00"),
        ("quiet.email.below", "urgent"),
    ]
}

#[tokio::test]
async fn the_type_form_saves_every_setting_with_templates_and_quiet_hours() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let blank = console.get("/types/new").await;
    assert_eq!(blank.status, StatusCode::OK);
    let saved = console
        .post("/types/new", &type_form("disk.full", "Asia/Shanghai"))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/types/disk.full?saved=1"));
    let row: (String, String, String, Vec<String>, String, i32, bool, String) = sqlx::query_as(
        "SELECT name, category, urgency::text, ARRAY(SELECT to_char(t, 'HH24:MI') FROM unnest(send_times) t ORDER BY t),
                time_zone, max_attempts, digest, dedup_window::text
           FROM msgpool.message_type WHERE key = 'disk.full'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("saved type");
    assert_eq!(
        row,
        (
            "磁盘将满".into(),
            "服务器异常".into(),
            "high".into(),
            vec!["08:00".into(), "17:30".into()],
            "Asia/Shanghai".into(),
            5,
            true,
            "02:00:00".into()
        )
    );
    let templates: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.template WHERE type_key = 'disk.full'",
    )
    .await;
    assert_eq!(templates, 2);
    let quiet: i64 = scalar(&db.pool, "SELECT count(*) FROM msgpool.quiet_hours WHERE type_key = 'disk.full' AND channel = 'email'").await;
    assert_eq!(quiet, 1);
    // the edit page shows what was saved; the list shows the type
    let edit = console.get("/types/disk.full?saved=1").await;
    assert!(
        edit.body.contains("Disk {{ host }} at {{ used }}%"),
        "template shown for editing"
    );
    assert!(edit.body.contains("id=\"saved\""));
    let list = console
        .get("/types?category=%E6%9C%8D%E5%8A%A1%E5%99%A8%E5%BC%82%E5%B8%B8")
        .await;
    assert!(list.body.contains("disk.full") && list.body.contains("server.down"));
    assert!(
        !list.body.contains("order.dispatch_backlog"),
        "filtered by category"
    );
    let searched = console.get("/types?q=%E6%B4%BE%E5%8D%95").await;
    assert!(
        searched.body.contains("order.dispatch_backlog") && !searched.body.contains("disk.full")
    );
    // disable in the row
    let row = console
        .post("/types/disk.full/enabled", &[("enabled", "false")])
        .await;
    assert_eq!(row.status, StatusCode::SEE_OTHER);
    let enabled: bool = scalar(
        &db.pool,
        "SELECT enabled FROM msgpool.message_type WHERE key = 'disk.full'",
    )
    .await;
    assert!(!enabled);
}

#[tokio::test]
async fn a_refused_save_shows_the_database_message_beside_its_field_and_writes_nothing() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let refused = console
        .post("/types/new", &type_form("disk.full", "Mars/Olympus"))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("data-field=\"time_zone\">unknown time zone"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("Asia&#x2f;Shanghai or UTC"),
        "the hint is shown"
    );
    assert!(
        refused.body.contains("value=\"Mars&#x2f;Olympus\""),
        "what was typed is kept"
    );
    // a template that cannot be read refuses the whole save, type included
    let mut broken = type_form("disk.full", "UTC");
    broken.retain(|(k, _)| *k != "tpl.email.body");
    broken.push(("tpl.email.body", "{{ host "));
    let refused = console.post("/types/new", &broken).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("data-field=\"templates\""),
        "{}",
        refused.body
    );
    // a key that is not a key, beside the key
    let refused = console
        .post("/types/new", &type_form("Disk Full!", "UTC"))
        .await;
    assert!(
        refused.body.contains("data-field=\"key\""),
        "{}",
        refused.body
    );
    let written: i64 = scalar(
        &db.pool,
        "SELECT (SELECT count(*) FROM msgpool.message_type WHERE key LIKE 'disk%')
              + (SELECT count(*) FROM msgpool.template WHERE type_key LIKE 'disk%')
              + (SELECT count(*) FROM msgpool.quiet_hours WHERE type_key LIKE 'disk%')",
    )
    .await;
    assert_eq!(written, 0, "nothing of a refused save is written");
    // the key is checked as it is typed
    let taken = console.get("/types/check-key?key=server.down").await;
    assert!(taken.body.contains("field-error"));
    let bad = console.get("/types/check-key?key=Bad%20Key").await;
    assert!(
        bad.body.contains("invalid message type key"),
        "{}",
        bad.body
    );
    let free = console.get("/types/check-key?key=disk.full").await;
    assert!(free.body.contains("field-ok"));
}

#[tokio::test]
async fn the_preview_renders_the_typed_templates_with_the_sample_payload_escaped() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let preview = console
        .post(
            "/types/preview",
            &[
                ("key", "disk.full"),
                ("channel.inbox", "on"),
                ("channel.sms", "on"),
                ("tpl.inbox.subject", "Disk {{ host }}"),
                ("tpl.inbox.body", "{{ host }} is full"),
                ("tpl.sms.body", "{{ missing }}"),
                ("sample", "{\"host\": \"<script>alert(1)</script>\"}"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        preview
            .body
            .contains("Disk &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{}",
        preview.body
    );
    assert!(!preview.body.contains("<script>alert"), "never raw");
    assert!(
        preview.body.contains("missing"),
        "the sms template's problem is shown: {}",
        preview.body
    );
    assert!(
        !preview.body.contains("class=\"digest\""),
        "no digest for a type that does not digest"
    );

    let digesting = console
        .post(
            "/types/preview",
            &[
                ("channel.inbox", "on"),
                ("digest", "on"),
                ("tpl.inbox.subject", "Disk {{ host }}"),
                ("tpl.inbox.body", "{{ host }} is full"),
                ("tpl.inbox.digest_subject", "{{ count }} disks full"),
                (
                    "tpl.inbox.digest_body",
                    "{% for m in messages %}#{{ loop.index }} {{ m.body }} {% endfor %}",
                ),
                ("sample", "{\"host\": \"db1\"}"),
            ],
        )
        .await;
    assert!(
        digesting.body.contains("2 disks full")
            && digesting.body.contains("#1 db1 is full #2 db1 is full"),
        "{}",
        digesting.body
    );
    let bad_json = console
        .post(
            "/types/preview",
            &[("channel.inbox", "on"), ("sample", "{nope")],
        )
        .await;
    assert!(bad_json.body.contains("field-error"), "{}", bad_json.body);
}

#[tokio::test]
async fn recipients_are_added_edited_grouped_subscribed_and_kept_with_their_history() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let added = console
        .post(
            "/recipients/new",
            &[
                ("key", "wang.wu"),
                ("name", "王五"),
                ("email", "wang.wu@example.com"),
                ("webhook_url", "https://hooks.example.com/x"),
                ("webhook_flavor", "generic"),
                ("webhook_secret", "TOPSECRET"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = console.get("/recipients/wang.wu").await;
    assert!(page.body.contains("wang.wu@example.com"));
    assert!(
        !page.body.contains("TOPSECRET"),
        "a stored secret is never shown"
    );
    assert!(page.body.contains("type a new one to replace it"));
    // refused input: shown, nothing written
    let refused = console
        .post(
            "/recipients/new",
            &[
                ("key", "bad.mail"),
                ("name", "X"),
                ("email", "not-an-address"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("invalid email address"),
        "{}",
        refused.body
    );
    let none: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.recipient WHERE key = 'bad.mail'",
    )
    .await;
    assert_eq!(none, 0);
    // edit: an empty secret keeps the stored one
    let edited = console
        .post(
            "/recipients/wang.wu",
            &[
                ("name", "王五 (ops)"),
                ("email", ""),
                ("webhook_url", "https://hooks.example.com/x"),
                ("webhook_flavor", "generic"),
                ("webhook_secret", ""),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let (name, email, secret): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT name, email, webhook_secret FROM msgpool.recipient WHERE key = 'wang.wu'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("recipient");
    assert_eq!(
        (name.as_str(), email, secret.as_deref()),
        ("王五 (ops)", None, Some("TOPSECRET"))
    );
    // groups and subscriptions
    console
        .post("/recipients/wang.wu/groups", &[("group", "ops")])
        .await;
    console
        .post(
            "/recipients/wang.wu/subscriptions",
            &[
                ("action", "subscribe"),
                ("type_key", "server.down"),
                ("channel", "inbox"),
            ],
        )
        .await;
    let page = console.get("/recipients/wang.wu").await;
    assert!(page.body.contains("value=\"ops\" checked"), "member of ops");
    assert!(page.body.contains("/types/server.down"), "subscribed");
    let list = console.get("/recipients?group=ops&q=wang").await;
    assert!(list.body.contains("wang.wu") && !list.body.contains("zhang.san"));
    let unsubscribed = console
        .post(
            "/recipients/wang.wu/subscriptions",
            &[("action", "unsubscribe"), ("type_key", "server.down")],
        )
        .await;
    assert_eq!(unsubscribed.status, StatusCode::SEE_OTHER);
    // a recipient with history: removal refused with the advice to disable
    sqlx::query("SELECT msgpool.send('server.down', '{}', NULL, NULL, ARRAY['wang.wu'])")
        .execute(&db.pool)
        .await
        .expect("send");
    sqlx::query("SELECT msgpool.expand()")
        .execute(&db.pool)
        .await
        .expect("expand");
    let refused = console.post("/recipients/wang.wu/remove", &[]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("disable"), "{}", refused.body);
    let disabled = console
        .post("/recipients/wang.wu/enabled", &[("enabled", "false")])
        .await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER);
    let disabled_list = console.get("/recipients?enabled=no").await;
    assert!(disabled_list.body.contains("wang.wu") && !disabled_list.body.contains("zhang.san"));
    // one without history goes
    let removed = console.post("/recipients/ops-robot/remove", &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
}

#[tokio::test]
async fn groups_have_members_and_subscriptions() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let added = console
        .post("/groups/new", &[("key", "dba"), ("name", "DBA")])
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    console
        .post(
            "/groups/dba/members",
            &[("action", "add"), ("member", "li.si")],
        )
        .await;
    console
        .post(
            "/groups/dba/subscriptions",
            &[("action", "subscribe"), ("type_key", "server.down")],
        )
        .await;
    let page = console.get("/groups/dba").await;
    assert!(page.body.contains("/recipients/li.si") && page.body.contains("/types/server.down"));
    let refused = console
        .post("/groups/new", &[("key", "dba"), ("name", "again")])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("that group already exists"),
        "{}",
        refused.body
    );
    console
        .post(
            "/groups/dba/members",
            &[("action", "remove"), ("member", "li.si")],
        )
        .await;
    let members: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.group_member WHERE group_key = 'dba'",
    )
    .await;
    assert_eq!(members, 0);
    assert!(console.get("/groups").await.body.contains("/groups/dba"));
}

#[tokio::test]
async fn activity_shows_a_message_with_its_deliveries_escaped_and_retries_dead_ones() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let id: i64 = scalar(
        &db.pool,
        "SELECT msgpool.send('order.dispatch_backlog', '{\"note\": \"<script>alert(1)</script>\"}', 'dk-1')",
    )
    .await;
    sqlx::query("SELECT msgpool.send('order.dispatch_backlog', '{}', 'dk-1')")
        .execute(&db.pool)
        .await
        .expect("repeat");
    sqlx::query("SELECT msgpool.expand()")
        .execute(&db.pool)
        .await
        .expect("expand");
    // two deliveries die, with the provider's answer as their attempt
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "UPDATE msgpool.delivery SET state = 'dead', attempts = 1, last_error = 'HTTP 400: bad robot'
          WHERE message_id = {id} AND channel = 'email';
         INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, error, started_at)
         SELECT id, 1, 'dead', 'HTTP 400: bad robot', now() FROM msgpool.delivery WHERE message_id = {id} AND channel = 'email';"
    )))
    .execute(&db.pool)
    .await
    .expect("dead deliveries");
    let list = console.get("/messages?dedup_key=dk-1").await;
    assert!(
        list.body.contains(&format!("/messages/{id}")),
        "{}",
        list.body
    );
    let none = console.get("/messages?type_key=server.down").await;
    assert!(!none.body.contains(&format!("/messages/{id}\"")));
    let page = console.get(&format!("/messages/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "payload shown escaped"
    );
    assert!(!page.body.contains("<script>alert"));
    assert!(
        page.body.contains("<dd id=\"repeats\">1</dd>"),
        "duplicate count"
    );
    assert!(
        page.body.contains("HTTP 400: bad robot"),
        "the attempt's answer"
    );
    // the dead list, retry one, then all matching
    let dead = console.get("/deliveries?state=dead&channel=email").await;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM msgpool.delivery WHERE state = 'dead' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .expect("dead");
    assert_eq!(ids.len(), 2);
    for d in &ids {
        assert!(dead.body.contains(&format!("delivery-{d}")));
    }
    let one = ids[0].to_string();
    let retried = console
        .post("/deliveries/retry", &[("id", &one), ("state", "dead")])
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    assert!(retried.location.unwrap_or_default().contains("retried=1"));
    let retried = console
        .post(
            "/deliveries/retry",
            &[("all", "1"), ("state", "dead"), ("channel", "email")],
        )
        .await;
    assert!(retried.location.unwrap_or_default().contains("retried=1"));
    let still_dead: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'dead'",
    )
    .await;
    assert_eq!(still_dead, 0);
    // an id that is not dead is refused with the database's words
    let refused = console.post("/deliveries/retry", &[("id", &one)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    // keyset pages: the next page starts below the last id shown
    for _ in 0..60 {
        sqlx::query("SELECT msgpool.send('server.down')")
            .execute(&db.pool)
            .await
            .expect("send");
    }
    let first = console.get("/messages").await;
    let next = first
        .body
        .split("id=\"next\"")
        .next()
        .and_then(|b| b.rsplit("href=\"").next())
        .and_then(|href| href.split('"').next())
        .expect("a next link")
        .to_owned();
    assert!(
        next.starts_with("/messages?") && next.contains("before="),
        "{next}"
    );
    let second = console.get(&next.replace("&amp;", "&")).await;
    assert!(
        second.body.contains(&format!("/messages/{id}\"")),
        "the oldest on page two"
    );
    // cancel
    let cancelled = console.post(&format!("/messages/{id}/cancel"), &[]).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    let state: String = scalar(
        &db.pool,
        &format!("SELECT state::text FROM msgpool.message WHERE id = {id}"),
    )
    .await;
    assert_eq!(state, "cancelled");
}

#[tokio::test]
async fn status_shows_the_figures_and_a_chart_of_the_last_hour() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "SELECT msgpool.send('order.dispatch_backlog', '{}', 'h1'), msgpool.send('order.dispatch_backlog', '{}', 'h1');
         SELECT msgpool.expand();
         UPDATE msgpool.delivery SET state = 'sent', sent_at = now() - interval '5 minutes' WHERE channel = 'inbox';",
    )
    .execute(&db.pool)
    .await
    .expect("history");
    let console = Console::signed_in(&db.url, false).await;
    let page = console.get("/status").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("hx-trigger=\"every 3s\""),
        "refreshes itself"
    );
    assert!(page.body.contains("<polyline"), "{}", page.body);
    assert!(
        page.body.contains("■ inbox 2"),
        "two inbox sends in the last hour"
    );
    assert!(page.body.contains("×2"), "the repeated message");
    let paused = console.get("/status?paused=1").await;
    assert!(!paused.body.contains("every 3s"));
    let panel = console
        .get_with("/status/panel", &[("hx-request", "true")])
        .await;
    assert!(panel.body.contains("<polyline") && !panel.body.contains("<html"));
}

#[tokio::test]
async fn labels_follow_the_browser_language_and_the_switch() {
    let db = TestDb::new().await;
    let console = Console::signed_in(&db.url, false).await;
    let zh = console
        .get_with("/types", &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")])
        .await;
    assert!(zh.body.contains("消息设置"), "Chinese labels");
    let en = console
        .get_with("/types", &[("accept-language", "en-US,en")])
        .await;
    assert!(en.body.contains("Message types") && !en.body.contains("消息设置"));
    let chosen = console
        .get_with(
            "/types",
            &[("accept-language", "en-US"), ("cookie", "lang=zh")],
        )
        .await;
    assert!(chosen.body.contains("消息设置"), "the switch wins");
    let switch = console.anonymous("GET", "/lang/zh?back=/recipients").await;
    assert_eq!(switch.location.as_deref(), Some("/recipients"));
    let elsewhere = console
        .anonymous("GET", "/lang/zh?back=//evil.example")
        .await;
    assert_eq!(elsewhere.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn the_inbox_opens_with_its_token_only() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, subject, body) VALUES
           ('zhang.san', 'server.down', 'urgent', '<script>alert(1)</script>', 'db1 is down'),
           ('zhang.san', 'server.down', 'urgent', 'second', 'db2 is down')",
    )
    .execute(&db.pool)
    .await
    .expect("inbox rows");
    let token: String = scalar(&db.pool, "SELECT msgpool.inbox_token('zhang.san')").await;
    let other: String = scalar(&db.pool, "SELECT msgpool.inbox_token('li.si')").await;
    let console = Console::start(&db.url, false).await;
    let page = console
        .anonymous("GET", &format!("/inbox/zhang.san?token={token}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-unread=\"2\""), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;"), "escaped");
    assert!(!page.body.contains("<script>alert"));
    for bad in ["", "0000", other.as_str()] {
        let refused = console
            .anonymous("GET", &format!("/inbox/zhang.san?token={bad}"))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "token {bad:?}");
        let refused = console
            .anonymous(
                "GET",
                &format!("/api/inbox/zhang.san/unread-count?token={bad}"),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    // another recipient's token cannot mark this inbox read either
    let refused = console
        .post_json(&format!("/api/inbox/zhang.san/read?token={other}"), "{}")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let api = console
        .anonymous("GET", &format!("/api/inbox/zhang.san?token={token}"))
        .await;
    let json: serde_json::Value = serde_json::from_str(&api.body).expect("json");
    assert_eq!(json["unread"], 2);
    let first = json["items"][0]["id"].as_i64().expect("an id");
    // opening one marks it read
    let opened = console
        .anonymous("GET", &format!("/inbox/zhang.san/{first}?token={token}"))
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains("data-unread=\"1\""));
    let count = console
        .anonymous(
            "GET",
            &format!("/api/inbox/zhang.san/unread-count?token={token}"),
        )
        .await;
    assert_eq!(count.body, "{\"unread\":1}");
    let marked = console
        .post_json(&format!("/api/inbox/zhang.san/read?token={token}"), "{}")
        .await;
    assert_eq!(marked.body, "{\"marked_read\":1}");
    let bell = console
        .anonymous("GET", &format!("/inbox/zhang.san/bell?token={token}"))
        .await;
    assert!(bell.body.contains("data-unread=\"0\""));
    // rotating the secret revokes every link
    sqlx::query("SELECT msgpool.inbox_rotate_secret()")
        .execute(&db.pool)
        .await
        .expect("rotate");
    let revoked = console
        .anonymous("GET", &format!("/inbox/zhang.san?token={token}"))
        .await;
    assert_eq!(revoked.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_console_logs_in_as_its_own_role_and_the_inbox_as_msgpool_inbox() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let database = msgpool::Database::Url(db.url.clone());
    let console = database
        .pool_as(1, msgpool::domain::Role::Console)
        .await
        .expect("console");
    // a login of its own, not SET ROLE on a superuser's connection: no way back up
    let (session, current): (String, String) =
        sqlx::query_as("SELECT session_user::text, current_user::text")
            .fetch_one(&console)
            .await
            .expect("user");
    assert_eq!(
        (session.as_str(), current.as_str()),
        ("msgpool_console_login", "msgpool_console_login")
    );
    let reset = sqlx::raw_sql("SET ROLE msgpool_owner")
        .execute(&console)
        .await
        .expect_err("no climbing");
    assert_eq!(support::sqlstate(&reset), "42501");
    let inbox = database
        .pool_as(1, msgpool::domain::Role::Inbox)
        .await
        .expect("inbox");
    for sql in [
        "SELECT count(*) FROM msgpool.recipient",
        "SELECT count(*) FROM msgpool.inbox",
        "SELECT msgpool.inbox_token('zhang.san')",
        "SELECT count(*) FROM msgpool.inbox_list('zhang.san', false, 1, 20, false)",
        "SELECT msgpool.send('server.down')",
    ] {
        let refused = sqlx::query(sql).execute(&inbox).await.expect_err(sql);
        assert_eq!(support::sqlstate(&refused), "42501", "{sql}");
    }
    let token: String = scalar(&db.pool, "SELECT msgpool.inbox_token('zhang.san')").await;
    let count: i64 =
        sqlx::query_scalar("SELECT msgpool.signed_inbox_unread_count('zhang.san', $1)")
            .bind(&token)
            .fetch_one(&inbox)
            .await
            .expect("with the token");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn the_inbox_token_is_an_hmac_sha256_of_the_key_scope_and_end_with_the_recipients_secret() {
    use hmac::Mac as _;
    let db = TestDb::new().await;
    seed(&db.pool).await;
    // RFC 4231, test case 2
    let vector: String = scalar(
        &db.pool,
        "SELECT encode(msgpool.hmac_sha256('Jefe'::bytea, 'what do ya want for nothing?'::bytea), 'hex')",
    )
    .await;
    assert_eq!(
        vector,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let secret: Vec<u8> = scalar(
        &db.pool,
        "SELECT inbox_secret FROM msgpool.recipient WHERE key = 'zhang.san'",
    )
    .await;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).expect("key");
    mac.update("zhang.san\ninbox\n0".as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let token: String = scalar(&db.pool, "SELECT msgpool.inbox_token('zhang.san')").await;
    assert_eq!(token, format!("inbox-0-{expected}"));
}

#[tokio::test]
async fn limits_are_set_and_lifted_from_the_status_page() {
    let db = TestDb::new().await;
    let console = Console::signed_in(&db.url, false).await;
    let set = console
        .post(
            "/limits/channel",
            &[
                ("action", "set"),
                ("channel", "sms"),
                ("per_recipient", "10"),
                ("window", "1 hour"),
                ("per_second", "50"),
            ],
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    let row: (i32, String, i32) = sqlx::query_as(
        "SELECT recipient_max, recipient_window::text, provider_per_second FROM msgpool.rate_limit WHERE channel = 'sms'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("limit");
    assert_eq!(row, (10, "01:00:00".into(), 50));
    let refused = console
        .post(
            "/limits/channel",
            &[
                ("action", "set"),
                ("channel", "email"),
                ("per_recipient", "5"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("needs both a count and a window"),
        "{}",
        refused.body
    );
    let refused = console
        .post(
            "/limits/channel",
            &[("action", "set"), ("channel", "email"), ("per_second", "0")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("at least 1"), "{}", refused.body);
    let robot = console
        .post(
            "/limits/robot",
            &[
                ("action", "set"),
                ("flavor", "slack"),
                ("max_sends", "2"),
                ("per", "1 second"),
            ],
        )
        .await;
    assert_eq!(robot.status, StatusCode::SEE_OTHER, "{}", robot.body);
    let page = console.get("/status").await;
    assert!(
        page.body.contains("10 / 01:00:00") && page.body.contains("2 / 00:00:01"),
        "{}",
        page.body
    );
    console
        .post(
            "/limits/channel",
            &[("action", "remove"), ("channel", "sms")],
        )
        .await;
    console
        .post(
            "/limits/robot",
            &[
                ("action", "remove"),
                ("flavor", "slack"),
                ("per", "00:00:01"),
            ],
        )
        .await;
    let left: i64 = scalar(
        &db.pool,
        "SELECT (SELECT count(*) FROM msgpool.rate_limit) + (SELECT count(*) FROM msgpool.robot_limit WHERE flavor = 'slack')",
    )
    .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn send_a_test_puts_one_message_to_the_chosen_recipient_and_refuses_a_bad_sample() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let console = Console::signed_in(&db.url, false).await;
    let sent = console
        .post(
            "/types/server.down/test",
            &[("recipient", "li.si"), ("sample", "{\"host\": \"db9\"}")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let (id, recipients, source, host): (i64, Vec<String>, String, String) = sqlx::query_as(
        "SELECT id, recipients, source, payload->>'host' FROM msgpool.message ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("the test message");
    assert_eq!(
        (recipients, source.as_str(), host.as_str()),
        (vec!["li.si".to_owned()], "console test", "db9")
    );
    assert!(
        sent.body.contains(&format!("/messages/{id}")),
        "{}",
        sent.body
    );
    let refused = console
        .post(
            "/types/server.down/test",
            &[("recipient", "li.si"), ("sample", "{oops")],
        )
        .await;
    assert!(
        refused.body.contains("field-error") && refused.body.contains("not JSON"),
        "{}",
        refused.body
    );
    let unknown = console
        .post(
            "/types/server.down/test",
            &[("recipient", "li.sii"), ("sample", "{}")],
        )
        .await;
    assert!(unknown.body.contains("did you mean"), "{}", unknown.body);
    let messages: i64 = scalar(&db.pool, "SELECT count(*) FROM msgpool.message").await;
    assert_eq!(messages, 1, "a refused test sends nothing");
}

#[tokio::test]
async fn mark_all_read_from_the_inbox_page_and_a_group_removed_from_its_page() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql(
        "INSERT INTO msgpool.inbox (recipient_key, type_key, urgency, subject, body) VALUES
           ('li.si', 'server.down', 'urgent', 'a', 'a'), ('li.si', 'server.down', 'urgent', 'b', 'b')",
    )
    .execute(&db.pool)
    .await
    .expect("inbox rows");
    let token: String = scalar(&db.pool, "SELECT msgpool.inbox_token('li.si')").await;
    let console = Console::signed_in(&db.url, false).await;
    let marked = console
        .post(&format!("/inbox/li.si/read?token={token}"), &[])
        .await;
    assert_eq!(marked.status, StatusCode::SEE_OTHER);
    let unread: i64 = scalar(&db.pool, "SELECT msgpool.inbox_unread_count('li.si')").await;
    assert_eq!(unread, 0);
    let added = console
        .post("/groups/new", &[("key", "night"), ("name", "Night shift")])
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let removed = console.post("/groups/night/remove", &[]).await;
    assert_eq!(removed.location.as_deref(), Some("/groups"));
    let groups: i64 = scalar(
        &db.pool,
        "SELECT count(*) FROM msgpool.recipient_group WHERE key = 'night'",
    )
    .await;
    assert_eq!(groups, 0);
}

#[tokio::test]
async fn a_stranger_can_neither_send_an_oversized_body_nor_hold_a_connection_with_slow_headers() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let db = TestDb::new().await;
    let console = Console::start(&db.url, false).await;
    let address = console.base.trim_start_matches("http://").to_owned();

    let huge = "x".repeat(msgpool_web::MAX_BODY_BYTES + 1);
    let refused = reqwest::Client::new()
        .post(format!("{}/signin", console.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={huge}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // One connection says nothing, one trickles half a request line: both are closed.
    let mut silent = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let mut trickling = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    trickling
        .write_all(b"GET /signin HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let patience = msgpool_web::HEADER_TIME_LIMIT + std::time::Duration::from_secs(5);
    for (what, stream) in [("silent", &mut silent), ("trickling", &mut trickling)] {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(patience, stream.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "the {what} connection was still open after {patience:?}"
        );
    }
}

#[tokio::test]
async fn a_recipients_groups_change_together_or_not_at_all() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    sqlx::raw_sql("INSERT INTO msgpool.recipient_group (key, name) VALUES ('day', 'Day shift')")
        .execute(&db.pool)
        .await
        .expect("group");
    let console = Console::signed_in(&db.url, false).await;
    let groups_of_zhang_san = async || -> Vec<String> {
        scalar(
            &db.pool,
            "SELECT array_agg(group_key::text ORDER BY group_key) FROM msgpool.group_member
              WHERE recipient_key = 'zhang.san'",
        )
        .await
    };

    // "gone" was removed by someone else while the page was open.
    let refused = console
        .post(
            "/recipients/zhang.san/groups",
            &[("group", "day"), ("group", "gone")],
        )
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    assert!(refused.body.contains("gone"), "{}", refused.body);
    assert_eq!(groups_of_zhang_san().await, ["ops"]);

    let moved = console
        .post("/recipients/zhang.san/groups", &[("group", "day")])
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    assert_eq!(groups_of_zhang_san().await, ["day"]);
}
