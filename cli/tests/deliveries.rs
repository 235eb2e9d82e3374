//! `msgpool deliveries`, `retry`, `status`, `prune` and `audit`: what happened, and second chances.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{fails, json, msgpool_on, ok, quick_start, run};

#[tokio::test]
async fn deliveries_can_be_listed_by_filter_retried_and_counted_per_channel() {
    let db = quick_start().await;
    sqlx::raw_sql(
        "SELECT msgpool.expand(10);
         UPDATE msgpool.delivery SET state = 'dead', attempts = 8, last_error = 'gateway said no' WHERE channel = 'sms';",
    )
    .execute(&db.pool)
    .await
    .expect("a dead sms");

    let dead = json(&db, &["deliveries", "--state", "dead"]);
    assert_eq!(dead.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (
            dead[0]["recipient_key"].as_str(),
            dead[0]["problem"].as_str()
        ),
        (Some("zhang.san"), Some("gateway said no"))
    );
    let webhook = json(
        &db,
        &[
            "deliveries",
            "--channel",
            "webhook",
            "--recipient",
            "ops-robot",
        ],
    );
    assert_eq!(webhook[0]["state"], "pending");
    assert!(
        ok(&db, &["deliveries", "--type", "order.dispatch_backlog"]).contains("gateway said no")
    );

    let status = json(&db, &["status"]);
    let sms = status["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["channel"] == "sms")
        .cloned()
        .expect("sms");
    assert_eq!(sms["dead"], 1);
    assert!(ok(&db, &["status"]).contains("SENT/MIN"));

    let err = fails(&db, &["retry"]);
    assert!(err.contains("say which dead deliveries"), "{err}");
    assert!(
        ok(&db, &["retry", "--channel", "email"]).contains("nothing re-queued"),
        "nothing dead on email"
    );
    assert!(ok(&db, &["retry", "--channel", "sms"]).contains("re-queued 1"));
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state::text, attempts FROM msgpool.delivery WHERE channel = 'sms'")
            .fetch_one(&db.pool)
            .await
            .expect("sms");
    assert_eq!(
        (state.as_str(), attempts),
        ("pending", 0),
        "a fresh set of attempts"
    );
}

#[tokio::test]
async fn prune_reports_what_it_took() {
    let db = quick_start().await;
    sqlx::raw_sql(
        "SELECT msgpool.expand(10);
         UPDATE msgpool.delivery SET state = 'sent', sent_at = now();
         UPDATE msgpool.message SET created_at = now() - interval '40 days';",
    )
    .execute(&db.pool)
    .await
    .expect("old history");
    assert!(
        ok(&db, &["prune", "--older-than", "90 days"]).starts_with("pruned 0 finished message(s)")
    );
    assert_eq!(
        json(&db, &["prune", "--older-than", "30 days"])["pruned_messages"],
        1
    );
    let err = fails(&db, &["prune", "--older-than", "a while"]);
    assert!(err.contains("interval"), "{err}");
}

#[tokio::test]
async fn audit_shows_who_changed_what_from_what_to_what() {
    let db = quick_start().await;
    ok(
        &db,
        &["type", "edit", "order.dispatch_backlog", "--urgency", "low"],
    );
    ok(
        &db,
        &[
            "recipient",
            "edit",
            "ops-robot",
            "--webhook-secret",
            "NEW-SECRET",
        ],
    );
    let table = ok(&db, &["audit", "--type", "order.dispatch_backlog"]);
    assert!(table.contains("urgency: high -> low"), "{table}");
    assert!(
        table.contains("(msgpool)"),
        "the application that made it: {table}"
    );
    let robot = json(&db, &["audit", "--recipient", "ops-robot"]);
    let latest = &robot[0];
    assert_eq!(latest["action"], "update");
    assert_eq!(latest["after"]["webhook_secret"], "(replaced)");
    assert!(!robot.to_string().contains("NEW-SECRET") && !robot.to_string().contains("SEC123"));
}

#[tokio::test]
async fn status_shows_each_destination_a_worker_reports_and_the_robot_limits() {
    let db = quick_start().await;
    sqlx::query(
        "SELECT msgpool.report_destinations('w1', jsonb_build_array(
           jsonb_build_object('channel', 'webhook', 'destination', 'oapi.dingtalk.com:443',
             'in_flight', 3, 'flight_limit', 40, 'latency_ms', 120.4, 'sent', 10, 'failed', 1,
             'paused_until', now() + interval '30 seconds',
             'paused_why', 'webhook answered HTTP 429 Too Many Requests with Retry-After: waiting 30 s')))",
    )
    .execute(&db.pool)
    .await
    .expect("a worker's report");
    let text = ok(&db, &["status"]);
    let row = text
        .lines()
        .find(|l| l.contains("oapi.dingtalk.com:443"))
        .unwrap_or_else(|| panic!("no destination in\n{text}"));
    for part in [
        "webhook",
        " 3 ",
        " 40 ",
        "120 ms",
        "until ",
        "Retry-After: waiting 30 s",
    ] {
        assert!(row.contains(part), "{part:?} not in {row:?}");
    }
    assert!(
        text.contains("robot limits (per robot): dingtalk 20 per 00:01:00, feishu 100 per 00:01:00, feishu 5 per 00:00:01"),
        "{text}"
    );
    let status = json(&db, &["status"]);
    assert_eq!(status["destinations"][0]["flight_limit"], 40);
    assert_eq!(status["robot_limits"][0]["flavor"], "dingtalk");
}

#[tokio::test]
async fn unknown_ids_keys_states_and_times_get_an_answer_that_says_what_to_do() {
    let db = quick_start().await;
    let err = fails(&db, &["retry", "12345"]);
    assert!(
        err.contains("no delivery 12345") && err.contains("--state dead"),
        "{err}"
    );
    let err = fails(&db, &["retry", "--type", "order.dispatch_backlgo"]);
    assert!(
        err.contains("unknown message type") && err.contains("order.dispatch_backlog"),
        "did you mean: {err}"
    );
    let err = fails(&db, &["deliveries", "--recipient", "zhang.sam"]);
    assert!(
        err.contains("unknown recipient") && err.contains("zhang.san"),
        "did you mean, not an empty table: {err}"
    );
    let out = run(&db, &["deliveries", "--state", "bogus"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown delivery state \"bogus\"") && err.contains("pending, sending, sent"),
        "{err}"
    );

    // a time as people write it, and a time that is not one
    let sent = json(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 1}",
            "--deliver-at",
            "2099-11-26 04:00+08",
        ],
    );
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT deliver_at FROM msgpool.message WHERE id = $1")
            .bind(sent["id"].as_i64().expect("id"))
            .fetch_one(&db.pool)
            .await
            .expect("the message");
    assert_eq!(due.to_rfc3339(), "2099-11-25T20:00:00+00:00");
    let out = run(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--deliver-at",
            "26/11/2099 4am",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a time msgpool reads") && err.contains("2026-11-26 08:00+08:00"),
        "{err}"
    );

    // a port nothing listens on: refused, named, in well under the pool's 30 s
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let out = msgpool_on(
        &format!("postgres://u:hunter2@127.0.0.1:{port}/x"),
        &["type", "list"],
    )
    .output()
    .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "no password in errors: {err}");

    // a server that accepts and never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = silent.local_addr().expect("addr").port();
    let out = msgpool_on(
        &format!("postgres://u:hunter2@127.0.0.1:{port}/x"),
        &["type", "list"],
    )
    .output()
    .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port} did not answer within 5 s")),
        "{err}"
    );
    drop(silent);
}
