//! Every `msgpool` command end to end: the real binary against a real PostgreSQL, checked
//! by what a user sees (stdout, stderr, exit code) and by what landed in the database.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::{Command, Output};

use support::TestDb;

fn run(db: &TestDb, args: &[&str]) -> Output {
    msgpool_on(&db.url, args).output().expect("run msgpool")
}

/// The command to run `msgpool args` against the database at `url`.
fn msgpool_on(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_msgpool"));
    command
        .args(args)
        .env("DATABASE_URL", url)
        // times print in the local zone; the same one on every machine
        .env("TZ", "UTC")
        .env_remove("MSGPOOL_HOME");
    command
}

/// Runs a command that must succeed; returns its stdout.
fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "msgpool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs a command that must fail; returns its one-line error.
fn fails(db: &TestDb, args: &[&str]) -> String {
    let out = run(db, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "msgpool {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(db, &args)).expect("valid JSON")
}

const QUICK_START: &[&[&str]] = &[
    &[
        "type",
        "add",
        "order.dispatch_backlog",
        "--name",
        "派单堆积",
        "--category",
        "订单异常",
        "--urgency",
        "high",
        "--channels",
        "inbox,email,sms,webhook",
    ],
    &[
        "template",
        "set",
        "order.dispatch_backlog",
        "--channel",
        "email",
        "--subject",
        "Dispatch backlog: {{ count }}",
        "--body",
        "{{ count }} orders are waiting",
    ],
    &[
        "recipient",
        "add",
        "zhang.san",
        "--name",
        "张三",
        "--email",
        "zhang.san@example.com",
        "--phone",
        "+8613800000000",
    ],
    &[
        "recipient",
        "add",
        "ops-robot",
        "--name",
        "运维群",
        "--webhook",
        "https://oapi.dingtalk.com/robot/send?access_token=T",
        "--webhook-flavor",
        "dingtalk",
        "--webhook-secret",
        "SEC123",
    ],
    &["group", "add", "ops", "--name", "运维"],
    &["group", "add-member", "ops", "zhang.san"],
    &["subscribe", "order.dispatch_backlog", "--group", "ops"],
    &[
        "subscribe",
        "order.dispatch_backlog",
        "--recipient",
        "ops-robot",
        "--channels",
        "webhook",
    ],
    &[
        "send",
        "order.dispatch_backlog",
        "--data",
        "{\"count\": 120}",
        "--dedup-key",
        "wh-1",
    ],
    &["inbox", "zhang.san"],
];

async fn quick_start() -> TestDb {
    let db = TestDb::new().await;
    for args in QUICK_START {
        ok(&db, args);
    }
    db
}

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
async fn message_types_can_be_listed_shown_edited_disabled_and_removed() {
    let db = quick_start().await;
    let list = json(&db, &["type", "list"]);
    assert_eq!(list[0]["key"], "order.dispatch_backlog");
    assert!(ok(&db, &["type", "list"]).contains("派单堆积"));

    let shown = json(&db, &["type", "show", "order.dispatch_backlog"]);
    assert_eq!(shown["templates"][0]["channel"], "email");
    assert_eq!(shown["subscriptions"].as_array().map(Vec::len), Some(2));
    let text = ok(&db, &["type", "show", "order.dispatch_backlog"]);
    assert!(
        text.contains("subscriber group ops (all channels)")
            && text.contains("subscriber recipient ops-robot (webhook)"),
        "{text}"
    );

    ok(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--urgency",
            "urgent",
            "--send-policy",
            "times_of_day",
            "--send-times",
            "08:00,17:30",
            "--time-zone",
            "Asia/Shanghai",
        ],
    );
    let edited = json(&db, &["type", "show", "order.dispatch_backlog"]);
    assert_eq!(edited["type"]["urgency"], "urgent");
    assert_eq!(
        edited["type"]["send_times"],
        serde_json::json!(["08:00", "17:30"])
    );
    assert_eq!(
        edited["type"]["name"], "派单堆积",
        "what was not given stays"
    );

    let err = fails(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--time-zone",
            "Mars/Olympus",
        ],
    );
    assert!(
        err.contains("unknown time zone") && err.contains("Asia/Shanghai"),
        "{err}"
    );

    ok(&db, &["type", "disable", "order.dispatch_backlog"]);
    let err = fails(&db, &["send", "order.dispatch_backlog"]);
    assert!(
        err.contains("message type 'order.dispatch_backlog' is disabled"),
        "{err}"
    );
    ok(&db, &["type", "enable", "order.dispatch_backlog"]);
    ok(&db, &["send", "order.dispatch_backlog"]);

    let err = fails(&db, &["type", "remove", "order.dispatch_backlog"]);
    assert!(
        err.contains("has messages in the pool")
            && err.contains("msgpool type disable order.dispatch_backlog"),
        "{err}"
    );
    assert_eq!(
        json(&db, &["type", "list"]).as_array().map(Vec::len),
        Some(1),
        "still there"
    );

    ok(&db, &["type", "add", "script.stuck", "--name", "脚本卡住"]);
    ok(
        &db,
        &[
            "template",
            "set",
            "script.stuck",
            "--channel",
            "inbox",
            "--body",
            "{{ job }} is stuck",
        ],
    );
    let removed = ok(&db, &["type", "remove", "script.stuck"]);
    assert!(
        removed.contains("with its 1 template(s) and 0 subscription(s)"),
        "{removed}"
    );

    let err = fails(&db, &["type", "show", "order.dispach_backlog"]);
    assert!(
        err.contains("unknown message type 'order.dispach_backlog'")
            && err.contains("did you mean 'order.dispatch_backlog'?"),
        "{err}"
    );
    let err = fails(
        &db,
        &["type", "add", "order.dispatch_backlog", "--name", "again"],
    );
    assert!(err.contains("already exists"), "{err}");
    let err = fails(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "sms",
            "--body",
            "",
        ],
    );
    assert!(err.contains("template body must not be empty"), "{err}");
}

#[tokio::test]
async fn bad_keys_and_values_are_refused_before_touching_the_database() {
    let db = TestDb::new().await;
    let out = run(&db, &["type", "add", "Order.Backlog", "--name", "x"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid message type key") && err.contains("dotted lowercase words"),
        "{err}"
    );
    let out = run(
        &db,
        &[
            "type",
            "add",
            "a.b",
            "--name",
            "x",
            "--channels",
            "inbox,fax",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown channel \"fax\""));
    let err = fails(&db, &["type", "add", "a.b"]);
    assert!(err.contains("needs a name"), "{err}");
}

#[tokio::test]
async fn recipients_can_be_listed_shown_edited_disabled_and_removed() {
    let db = quick_start().await;
    let err = fails(
        &db,
        &[
            "recipient",
            "add",
            "li.si",
            "--name",
            "李四",
            "--phone",
            "13800000000",
        ],
    );
    assert!(
        err.contains("invalid phone number") && err.contains("E.164"),
        "{err}"
    );
    let err = fails(
        &db,
        &[
            "recipient",
            "add",
            "li.si",
            "--name",
            "李四",
            "--email",
            "li.si-at-example",
        ],
    );
    assert!(err.contains("invalid email address"), "{err}");
    ok(
        &db,
        &[
            "recipient",
            "add",
            "li.si",
            "--name",
            "李四",
            "--email",
            "li.si@example.com",
        ],
    );

    let shown = ok(&db, &["recipient", "show", "ops-robot"]);
    assert!(
        shown.contains("(dingtalk, signed)") && !shown.contains("SEC123"),
        "the secret is never shown: {shown}"
    );
    let listed = ok(&db, &["recipient", "list", "--json"]);
    assert!(!listed.contains("SEC123"));
    let list: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(3));

    ok(
        &db,
        &[
            "recipient",
            "edit",
            "zhang.san",
            "--email",
            "",
            "--name",
            "张三丰",
        ],
    );
    let zhang = json(&db, &["recipient", "show", "zhang.san"]);
    assert_eq!(
        (zhang["email"].clone(), zhang["name"].clone()),
        (serde_json::Value::Null, "张三丰".into())
    );
    assert_eq!(zhang["phone"], "+8613800000000", "what was not given stays");
    assert_eq!(zhang["groups"], serde_json::json!(["ops"]));

    ok(&db, &["recipient", "disable", "li.si"]);
    let err = fails(&db, &["send", "order.dispatch_backlog", "--to", "li.si"]);
    assert!(err.contains("recipient(s) li.si disabled"), "{err}");
    ok(&db, &["recipient", "enable", "li.si"]);
    ok(&db, &["send", "order.dispatch_backlog", "--to", "li.si"]);

    // A delivery is history: the recipient can be disabled, not removed.
    sqlx::query("INSERT INTO msgpool.delivery (message_id, recipient_key, channel) SELECT max(id), 'li.si', 'email' FROM msgpool.message")
        .execute(&db.pool)
        .await
        .expect("a delivery");
    let err = fails(&db, &["recipient", "remove", "li.si"]);
    assert!(
        err.contains("has deliveries") && err.contains("msgpool recipient disable li.si"),
        "{err}"
    );
    ok(&db, &["recipient", "add", "wang.wu", "--name", "王五"]);
    ok(&db, &["recipient", "remove", "wang.wu"]);
    let err = fails(&db, &["recipient", "show", "wang.wu"]);
    assert!(err.contains("unknown recipient 'wang.wu'"), "{err}");
}

#[tokio::test]
async fn groups_and_subscriptions_refuse_what_does_not_exist() {
    let db = quick_start().await;
    let err = fails(&db, &["group", "add-member", "ops", "zhang.sam"]);
    assert!(
        err.contains("unknown recipient 'zhang.sam'") && err.contains("did you mean 'zhang.san'?"),
        "{err}"
    );
    let err = fails(&db, &["group", "remove-member", "ops", "ops-robot"]);
    assert!(
        err.contains("ops-robot is not a member of group ops"),
        "{err}"
    );
    let err = fails(
        &db,
        &["subscribe", "order.dispatch_backlog", "--group", "opz"],
    );
    assert!(
        err.contains("unknown group 'opz'") && err.contains("did you mean 'ops'?"),
        "{err}"
    );

    ok(
        &db,
        &[
            "type",
            "add",
            "server.down",
            "--name",
            "Server down",
            "--channels",
            "inbox,sms",
        ],
    );
    let err = fails(
        &db,
        &[
            "subscribe",
            "server.down",
            "--recipient",
            "ops-robot",
            "--channels",
            "webhook",
        ],
    );
    assert!(err.contains("does not use channel(s) webhook"), "{err}");
    let err = fails(&db, &["unsubscribe", "server.down", "--group", "ops"]);
    assert!(
        err.contains("group ops is not subscribed to server.down"),
        "{err}"
    );

    ok(
        &db,
        &[
            "unsubscribe",
            "order.dispatch_backlog",
            "--recipient",
            "ops-robot",
        ],
    );
    ok(&db, &["group", "remove-member", "ops", "zhang.san"]);
    assert_eq!(
        json(&db, &["group", "list"])[0]["members"],
        serde_json::json!([])
    );
    let removed = ok(&db, &["group", "remove", "ops"]);
    assert!(removed.contains("removed group ops"), "{removed}");
    let subs: i64 = sqlx::query_scalar("SELECT count(*) FROM msgpool.subscription")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(subs, 0, "the group's subscription went with it");
    let recipients: i64 = sqlx::query_scalar("SELECT count(*) FROM msgpool.recipient")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(recipients, 2, "its members stay");
}

#[tokio::test]
async fn send_reports_the_id_and_refuses_bad_input_clearly() {
    let db = quick_start().await;
    let sent = json(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 7}",
            "--urgency",
            "urgent",
            "--to",
            "zhang.san",
        ],
    );
    let id = sent["id"].as_i64().expect("id");
    let (urgency, recipients): (String, Vec<String>) =
        sqlx::query_as("SELECT urgency::text, recipients FROM msgpool.message WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("row");
    assert_eq!(
        (urgency.as_str(), recipients),
        ("urgent", vec!["zhang.san".to_owned()])
    );

    let err = fails(
        &db,
        &["send", "order.dispatch_backlog", "--data", "{count: 1}"],
    );
    assert!(err.contains("--data is not valid JSON"), "{err}");
    let err = fails(&db, &["send", "order.dispatch_backlog", "--data", "[1]"]);
    assert!(err.contains("payload must be a JSON object"), "{err}");
    let err = fails(&db, &["send", "order.dispach_backlog"]);
    assert!(
        err.contains("did you mean 'order.dispatch_backlog'?"),
        "{err}"
    );
    let err = fails(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--deliver-at",
            "2020-01-01T00:00:00Z",
        ],
    );
    assert!(err.contains("in the past"), "{err}");
}

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
async fn db_commands_manage_the_embedded_cluster_and_not_a_given_server() {
    let db = TestDb::new().await;
    assert_eq!(ok(&db, &["db", "url"]).trim(), db.url);
    assert!(ok(&db, &["db", "migrate"]).contains("the schema is up to date"));
    let err = fails(&db, &["db", "stop"]);
    assert!(err.contains("DATABASE_URL"), "{err}");

    let home = tempfile::tempdir().expect("temp dir");
    let embedded = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
            .args(args)
            .env_remove("DATABASE_URL")
            .env("MSGPOOL_HOME", home.path())
            .output()
            .expect("run msgpool");
        assert!(
            out.status.success(),
            "msgpool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert!(embedded(&["db", "status"]).starts_with("not created yet"));
    let started = embedded(&["db", "start"]);
    assert!(
        started.starts_with("running: postgres://msgpool:"),
        "{started}"
    );
    assert!(
        started.contains("applied V1__baseline"),
        "a new cluster reports its migrations: {started}"
    );
    assert_eq!(
        embedded(&["db", "migrate"]).trim(),
        "the schema is up to date"
    );
    assert!(embedded(&["db", "status"]).starts_with("running: pid"));
    let url = embedded(&["db", "url"]);
    embedded(&["type", "add", "server.down", "--name", "Server down"]);
    let conn = sqlx::PgPool::connect(url.trim())
        .await
        .expect("the printed URL works");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM msgpool.message_type")
        .fetch_one(&conn)
        .await
        .expect("query");
    assert_eq!(n, 1, "the command went to the embedded database");
    conn.close().await;
    assert_eq!(embedded(&["db", "stop"]).trim(), "stopped");
    assert!(embedded(&["db", "status"]).starts_with("stopped"));
}

#[tokio::test]
async fn missing_postgres_binaries_and_a_missing_schema_are_explained() {
    let empty_dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
        .args(["db", "start"])
        .env_remove("DATABASE_URL")
        .env("MSGPOOL_HOME", empty_dir.path().join("home"))
        .env("MSGPOOL_PG_BINDIR", empty_dir.path())
        .output()
        .expect("run msgpool");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds no PostgreSQL server") && err.contains("/usr/lib/postgresql/15/bin"),
        "{err}"
    );

    let unmigrated = TestDb::empty().await;
    let err = fails(&unmigrated, &["type", "list"]);
    assert!(err.contains("run `msgpool db migrate`"), "{err}");
    assert!(ok(&unmigrated, &["db", "migrate"]).starts_with("applied "));
    assert_eq!(json(&unmigrated, &["type", "list"]), serde_json::json!([]));
}

/// One HTTP/1.1 exchange over a plain socket: the head (lowercased names) and body.
fn http(host: &str, method: &str, path: &str, cookie: Option<&str>, form: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut socket = std::net::TcpStream::connect(host).expect("connect to the console");
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        socket,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .expect("request");
    let mut answer = String::new();
    socket.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    format!("{}\n\n{body}", head.to_lowercase())
}

#[tokio::test]
async fn the_main_job_runs_the_demo_on_the_embedded_default_and_stops_on_sigterm() {
    let home = tempfile::tempdir().expect("temp dir");
    let msgpool = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_msgpool"));
        cmd.args(args)
            .env_remove("DATABASE_URL")
            .env("MSGPOOL_HOME", home.path())
            .env("MSGPOOL_LOG", "warn");
        cmd
    };
    let mut worker = msgpool(&[
        "worker",
        "--demo",
        "--poll-interval-ms",
        "100",
        "--console-listen",
        "127.0.0.1:0",
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("start the worker");
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let printed = printed.clone();
        let stdout = worker.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let mut printed = printed.lock().expect("lock");
                printed.push_str(&line);
                printed.push('\n');
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = msgpool(&["inbox", "zhang.san", "--json"])
            .output()
            .expect("inbox");
        if out.status.success() {
            let inbox: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            if inbox["unread"] == 3 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo's messages did not reach the inbox"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let sms = home.path().join("outbox/sms.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&sms)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no SMS lines in {}",
            sms.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let emails = std::fs::read_dir(home.path().join("outbox/email"))
        .expect("outbox/email")
        .count();
    assert_eq!(emails, 6, "3 messages to 2 people by email");

    // the console shows the demo's data, and the printed inbox link opens zhang.san's inbox
    let guide = printed.lock().expect("lock").clone();
    let console = guide
        .lines()
        .find_map(|l| l.strip_prefix("console: "))
        .expect("the console's address")
        .trim()
        .to_owned();
    let token = std::fs::read_to_string(home.path().join("web.token")).expect("sign-in token");
    assert!(guide.contains(token.trim()), "the sign-in token is printed");
    let host = console.trim_start_matches("http://").to_owned();
    let signed_in = http(
        &host,
        "POST",
        "/signin",
        None,
        &format!("token={}", token.trim()),
    );
    let cookie = signed_in
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let types = http(&host, "GET", "/types", Some(&cookie), "");
    assert!(
        types.contains("server.down") && types.contains("order.dispatch_backlog"),
        "{types}"
    );
    let inbox_path = guide
        .lines()
        .find_map(|l| l.trim().strip_prefix("inbox:"))
        .and_then(|l| l.trim().split_once(&console[..]))
        .map(|(_, path)| path.to_owned())
        .expect("the inbox link");
    let inbox = http(&host, "GET", &inbox_path, None, "");
    assert!(inbox.contains("data-unread=\"3\""), "{inbox}");

    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("kill");
    let status = worker.wait().expect("wait");
    reader.join().expect("reader");
    assert_eq!(status.code(), Some(0), "SIGTERM stops it cleanly");
    let guide = printed.lock().expect("lock").clone();
    assert!(
        guide.contains("msgpool inbox zhang.san")
            && guide.contains("sms.jsonl")
            && guide.contains("SELECT msgpool.send("),
        "{guide}"
    );
    assert!(
        msgpool(&["db", "stop"])
            .status()
            .expect("db stop")
            .success()
    );
}

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
async fn template_preview_shows_what_each_channel_would_send_or_why_it_would_not() {
    let db = quick_start().await;
    let preview = json(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 120}",
        ],
    );
    let channel = |name: &str| channel_of(&preview, name);
    assert_eq!(channel("email")["subject"], "Dispatch backlog: 120");
    assert_eq!(channel("email")["body"], "120 orders are waiting");
    assert_eq!(
        channel("inbox")["subject"],
        "[high] 派单堆积",
        "no inbox template: the built-in one"
    );

    let broken = json(&db, &["template", "preview", "order.dispatch_backlog"]);
    let email = channel_of(&broken, "email");
    assert!(
        email["error"]
            .as_str()
            .is_some_and(|e| e.contains("count not in the payload")),
        "{email}"
    );
    assert!(
        ok(&db, &["template", "preview", "order.dispatch_backlog"])
            .contains("would be parked as dead")
    );

    // a type that digests also shows what its digest template makes of the sample
    ok(
        &db,
        &["type", "edit", "order.dispatch_backlog", "--digest", "true"],
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "email",
            "--digest-subject",
            "{{ count }} backlogs",
            "--digest-body",
            "{% for m in messages %}{{ m.subject }}; {% endfor %}",
        ],
    );
    let digesting = json(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 7}",
        ],
    );
    let email = channel_of(&digesting, "email");
    assert_eq!(email["subject"], "Dispatch backlog: 7");
    assert_eq!(email["digest"]["subject"], "2 backlogs");
    assert_eq!(
        email["digest"]["body"],
        "Dispatch backlog: 7; Dispatch backlog: 7;"
    );
    let text = ok(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 7}",
        ],
    );
    assert!(
        text.contains("-- as a digest of 2 such messages --\nsubject: 2 backlogs"),
        "{text}"
    );
}

/// One channel's part of `msgpool template preview --json`.
fn channel_of(preview: &serde_json::Value, name: &str) -> serde_json::Value {
    preview
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["channel"] == name)
        .cloned()
        .expect(name)
}

#[tokio::test]
async fn a_toml_config_file_supplies_settings_that_flags_and_the_environment_override() {
    let db = quick_start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("msgpool.toml");
    std::fs::write(
        &file,
        format!(
            "database_url = \"{}\"\nchannels = [\"inbox\", \"fax\"]\n",
            db.url
        ),
    )
    .expect("write");
    let with_file = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_msgpool"))
            .arg("--config")
            .arg(&file)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("MSGPOOL_CHANNELS")
            .env_remove("MSGPOOL_HOME")
            .output()
            .expect("run msgpool")
    };
    let out = with_file(&["type", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("order.dispatch_backlog"),
        "the file's database_url was used"
    );

    let out = with_file(&["worker"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown channel \"fax\""),
        "the file's channels reached the worker"
    );
    let out = with_file(&["worker", "--channels", "nope"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown channel \"nope\""),
        "a flag wins over the file"
    );

    std::fs::write(&file, "databse_url = \"x\"\n").expect("write");
    let out = with_file(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown setting \"databse_url\""),
        "typos are refused"
    );
}

#[tokio::test]
async fn the_benchmark_runs_every_scenario_and_reports_each_figure() {
    // Tiny sizes: this checks that the benchmark works, not how fast msgpool is.
    let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
        .args([
            "bench",
            "--ingest-seconds",
            "1",
            "--ingest-clients",
            "2",
            "--burn-down",
            "200",
            "--fan-out",
            "20",
        ])
        .args(["--latency-samples", "10", "--history", "500"])
        .args([
            "--provider-deliveries",
            "100",
            "--provider-latency-ms",
            "10",
        ])
        .args(["--console-messages", "2000", "--console-samples", "3"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run the benchmark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = &stdout[stdout.find('{').expect("a JSON summary")..];
    let summary: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let names: Vec<&str> = summary["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for name in [
        "ingest_bare_insert",
        "ingest_send",
        "ingest_ratio",
        "ingest_send_dedup",
        "ingest_ratio_dedup",
        "burn_down",
        "worker_peak_rss",
        "fan_out",
        "latency_p50",
        "latency_p95",
        "latency_p99",
        "latency_max",
        "latency_p50_send",
        "latency_p50_wake_up",
        "latency_p50_expand",
        "latency_p50_render",
        "latency_p50_inbox_write",
        "burn_down_with_history",
        "history_ratio",
        "providers_webhook",
        "providers_sms",
        "providers_email",
        "providers_worker_peak_rss",
        "providers_hung_ratio",
        "providers_hung_smtp_ratio",
        "providers_fixed_32",
        "providers_fixed_256_latency",
        "providers_adaptive",
        "console_activity_list_p95",
        "console_activity_filtered_p95",
        "console_message_page_p95",
        "console_deliveries_dead_email_p95",
        "console_inbox_page_p95",
        "providers_adaptive_limit",
        "providers_adaptive_ratio",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        summary["figures"]
            .as_array()
            .expect("figures")
            .iter()
            .all(|f| f["value"].as_f64().is_some_and(|v| v > 0.0))
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
async fn send_time_and_noise_rules_are_set_explained_shown_and_cancelled() {
    let db = quick_start().await;
    // every msgpool process from here on sees 03:00 in Shanghai
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} SET msgpool.clock = '2026-11-26 03:00 Asia/Shanghai'",
        db.name
    )))
    .execute(&db.pool)
    .await
    .expect("pin the clock");
    ok(
        &db,
        &[
            "type",
            "add",
            "report.ready",
            "--name",
            "Report ready",
            "--channels",
            "inbox,sms",
            "--send-policy",
            "times_of_day",
            "--send-times",
            "08:00",
            "--time-zone",
            "Asia/Shanghai",
        ],
    );
    ok(
        &db,
        &["subscribe", "report.ready", "--recipient", "zhang.san"],
    );
    let show = ok(&db, &["type", "show", "report.ready"]);
    assert!(
        show.contains("Sent at 08:00 (Asia/Shanghai): a message sent now (2026-11-26 03:00) would go out at 2026-11-26 08:00, in 05:00:00."),
        "{show}"
    );
    assert!(
        show.contains("Digest: messages waiting for the same time"),
        "{show}"
    );

    let quiet = ok(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "sms",
            "--from",
            "22:00",
            "--to",
            "08:00",
        ],
    );
    assert_eq!(
        quiet.trim(),
        "report.ready sms: 22:00-08:00 (Asia/Shanghai) below urgent; deliveries inside are deferred to the end of the window"
    );
    let show = ok(&db, &["type", "show", "report.ready"]);
    assert!(
        show.contains("It is quiet now: sms would wait until 2026-11-26 08:00."),
        "{show}"
    );
    assert!(ok(&db, &["quiet-hours", "list"]).contains("report.ready  sms      22:00  08:00"));
    let err = fails(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "sms",
            "--from",
            "25:00",
            "--to",
            "08:00",
        ],
    );
    assert!(
        err.contains("the start \"25:00\" is not a time of day (write it as HH:MM"),
        "{err}"
    );
    let err = fails(
        &db,
        &[
            "quiet-hours",
            "remove",
            "report.ready",
            "--channel",
            "inbox",
        ],
    );
    assert!(
        err.contains("report.ready has no quiet hours for inbox"),
        "{err}"
    );

    let limit = ok(
        &db,
        &[
            "rate-limit",
            "set",
            "sms",
            "--per-recipient",
            "10",
            "--window",
            "1 hour",
        ],
    );
    assert_eq!(limit.trim(), "sms: at most 10 per recipient per 01:00:00");
    let limit = ok(&db, &["rate-limit", "set", "sms", "--per-second", "20"]);
    assert_eq!(
        limit.trim(),
        "sms: at most 10 per recipient per 01:00:00; at most 20 per second"
    );
    assert!(fails(&db, &["rate-limit", "set", "email"]).contains("no limit given for email"));
    let err = fails(
        &db,
        &[
            "rate-limit",
            "set",
            "sms",
            "--per-recipient",
            "0",
            "--window",
            "1 hour",
        ],
    );
    assert!(err.contains("a rate limit must allow at least 1"), "{err}");

    // chat robots: the platforms' limits by default, changed or lifted per flavor
    let list = ok(&db, &["rate-limit", "list"]);
    assert!(
        list.contains("webhook (dingtalk robots)  at most 20 per robot per 00:01:00"),
        "{list}"
    );
    let set = ok(
        &db,
        &["rate-limit", "robot", "dingtalk", "15", "--per", "1 minute"],
    );
    assert_eq!(set.trim(), "dingtalk robots: at most 15 per 00:01:00");
    assert_eq!(
        json(&db, &["rate-limit", "list"])["robots"][0]["max_sends"],
        15
    );
    let err = fails(
        &db,
        &["rate-limit", "robot", "wecom", "5", "--per", "0 seconds"],
    );
    assert!(
        err.contains("the robot limit's window must be longer than zero"),
        "{err}"
    );
    ok(
        &db,
        &["rate-limit", "robot-remove", "slack", "--per", "1 second"],
    );
    let err = fails(
        &db,
        &["rate-limit", "robot-remove", "slack", "--per", "1 second"],
    );
    assert!(
        err.contains("slack has no robot limit per 1 second"),
        "{err}"
    );

    assert!(
        ok(&db, &["type", "show", "report.ready"])
            .contains("Rate limit for sms: at most 10 per recipient per 01:00:00")
    );

    // a report produced at 03:00 waits for 08:00 on both channels, and says why
    let id = json(
        &db,
        &["send", "report.ready", "--data", "{\"report\": \"sales\"}"],
    )["id"]
        .as_i64()
        .expect("id");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .expect("connect");
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&mut conn)
        .await
        .expect("expand");
    let deferred = ok(&db, &["deliveries", "--deferred"]);
    assert_eq!(
        deferred.lines().count(),
        3,
        "a header and two deliveries:\n{deferred}"
    );
    assert!(
        deferred
            .contains("due 2026-11-26 00:00:00+00:00  deferred: send times 08:00 (Asia/Shanghai)"),
        "{deferred}"
    );
    let status = ok(&db, &["status"]);
    assert!(
        status.contains("10 per 01:00:00 per recipient, 20/s"),
        "{status}"
    );

    let cancelled = ok(&db, &["cancel", &id.to_string()]);
    assert!(
        cancelled.starts_with(&format!(
            "cancelled message {id}: 2 unsent delivery(s) stopped"
        )),
        "{cancelled}"
    );
    assert_eq!(ok(&db, &["deliveries", "--deferred"]).lines().count(), 1);
    let err = fails(&db, &["cancel", "999999"]);
    assert!(err.contains("no message 999999"), "{err}");

    // the quick start sent order.dispatch_backlog with dedup key wh-1; twice more is counted
    for _ in 0..2 {
        ok(
            &db,
            &[
                "send",
                "order.dispatch_backlog",
                "--data",
                "{\"count\": 121}",
                "--dedup-key",
                "wh-1",
            ],
        );
    }
    let status = ok(&db, &["status"]);
    assert!(
        status.contains("order.dispatch_backlog ×3  key wh-1"),
        "{status}"
    );

    let err = fails(
        &db,
        &[
            "template",
            "set",
            "report.ready",
            "--channel",
            "inbox",
            "--digest-body",
            "{{ count }} reports",
        ],
    );
    assert!(
        err.contains("report.ready has no inbox template yet, and a template needs a body"),
        "{err}"
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "report.ready",
            "--channel",
            "inbox",
            "--body",
            "{{ report }}",
            "--digest-body",
            "{{ count }} reports",
        ],
    );
    ok(&db, &["type", "edit", "report.ready", "--digest", "false"]);
    let show = ok(&db, &["type", "show", "report.ready"]);
    assert!(
        show.contains("digest template inbox: subject \"\", body \"{{ count }} reports\""),
        "{show}"
    );
    assert!(
        show.contains("One by one: messages waiting for the same time go out separately."),
        "{show}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_output_and_each_role_gets_a_url_of_its_own() {
    let db = quick_start().await;
    for args in [
        &["recipient", "show", "ops-robot", "--json"][..],
        &["recipient", "list", "--json"],
        &["recipient", "show", "ops-robot"],
    ] {
        let shown = ok(&db, args);
        assert!(
            shown.contains("access_token=***") && !shown.contains("access_token=T"),
            "{args:?}: {shown}"
        );
        assert!(!shown.contains("SEC123"), "{args:?}: {shown}");
    }

    let home = tempfile::tempdir().expect("home");
    let role_url = || {
        let out = Command::new(env!("CARGO_BIN_EXE_msgpool"))
            .args(["db", "url", "--role", "producer"])
            .env("DATABASE_URL", &db.url)
            .env("MSGPOOL_HOME", home.path())
            .output()
            .expect("run msgpool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    };
    let url = role_url();
    assert!(
        url.starts_with("postgres://msgpool_producer_login:"),
        "{url}"
    );
    assert_eq!(role_url(), url, "the same URL on every call");
    use std::os::unix::fs::PermissionsExt;
    let kept = home.path().join("msgpool_producer_login.password");
    let mode = std::fs::metadata(&kept)
        .expect("password kept")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let producer = sqlx::PgPool::connect(&url)
        .await
        .expect("the producer's URL works");
    let id: i64 =
        sqlx::query_scalar("SELECT msgpool.send('order.dispatch_backlog', '{\"count\": 1}')")
            .fetch_one(&producer)
            .await
            .expect("a producer sends");
    assert!(id > 0);
    let refused = sqlx::query("SELECT email FROM msgpool.recipient")
        .execute(&producer)
        .await
        .expect_err("and cannot read contacts");
    assert_eq!(support::sqlstate(&refused), "42501");
    producer.close().await;

    // emptied by hand: a new password is made and kept
    std::fs::write(&kept, "").expect("empty the password file");
    let renewed = role_url();
    assert_ne!(renewed, url, "a new password");
    let kept_now = std::fs::read_to_string(&kept).expect("password kept");
    assert!(
        !kept_now.is_empty() && renewed.contains(kept_now.trim()),
        "{renewed}"
    );
    sqlx::PgPool::connect(&renewed)
        .await
        .expect("the new URL works")
        .close()
        .await;
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
async fn a_template_that_cannot_be_read_is_refused_when_set_and_nothing_changes() {
    let db = quick_start().await;
    let err = fails(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "email",
            "--body",
            "{{ count + }} {% if %}",
        ],
    );
    assert!(
        err.contains("the email template's body cannot be read") && err.contains("syntax error"),
        "{err}"
    );
    let body: String = sqlx::query_scalar(
        "SELECT body FROM msgpool.template WHERE type_key = 'order.dispatch_backlog' AND channel = 'email'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("template");
    assert_eq!(
        body, "{{ count }} orders are waiting",
        "the old template stays"
    );
}

#[tokio::test]
async fn a_type_keeps_the_channels_its_subscriptions_and_quiet_hours_name() {
    let db = quick_start().await;
    let err = fails(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--channels",
            "inbox,email,sms",
        ],
    );
    assert!(
        err.contains("would stop using webhook") && err.contains("recipient ops-robot (webhook)"),
        "{err}"
    );
    let channels: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(channels)::text FROM msgpool.message_type WHERE key = 'order.dispatch_backlog'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("channels");
    assert_eq!(
        channels,
        ["inbox", "email", "sms", "webhook"],
        "nothing changed"
    );

    ok(
        &db,
        &[
            "type",
            "add",
            "report.ready",
            "--name",
            "Report",
            "--channels",
            "inbox",
        ],
    );
    let err = fails(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "webhook",
            "--from",
            "22:00",
            "--to",
            "08:00",
        ],
    );
    assert!(err.contains("does not use channel webhook"), "{err}");
    ok(
        &db,
        &[
            "quiet-hours",
            "set",
            "report.ready",
            "--channel",
            "inbox",
            "--from",
            "22:00",
            "--to",
            "08:00",
        ],
    );
    let err = fails(
        &db,
        &["type", "edit", "report.ready", "--channels", "email"],
    );
    assert!(err.contains("which has quiet hours"), "{err}");
}

#[tokio::test]
async fn adds_and_edits_print_the_record_as_it_now_is_in_text_and_json() {
    let db = quick_start().await;
    let edited = ok(
        &db,
        &["type", "edit", "order.dispatch_backlog", "--urgency", "low"],
    );
    assert!(
        edited.contains("urgency:") && edited.contains("low"),
        "{edited}"
    );
    assert!(!edited.contains("high"), "the urgency it had: {edited}");
    let edited = json(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--urgency",
            "urgent",
        ],
    );
    assert_eq!(edited["urgency"], "urgent");
    let renamed = ok(&db, &["recipient", "edit", "zhang.san", "--name", "张三三"]);
    assert!(renamed.contains("张三三"), "{renamed}");
    let renamed = json(&db, &["recipient", "edit", "zhang.san", "--name", "张三丰"]);
    assert_eq!(renamed["name"], "张三丰");

    let added = json(
        &db,
        &[
            "type",
            "add",
            "server.down",
            "--name",
            "服务器宕机",
            "--urgency",
            "urgent",
        ],
    );
    assert_eq!(
        (added["key"].as_str(), added["urgency"].as_str()),
        (Some("server.down"), Some("urgent")),
        "type add --json: the type as added, settings applied"
    );
    let group = json(&db, &["group", "add", "dba", "--name", "DBA"]);
    assert_eq!(group["key"], "dba");
    let group = json(&db, &["group", "add-member", "dba", "zhang.san"]);
    assert_eq!(group["members"], serde_json::json!(["zhang.san"]));
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

#[tokio::test]
async fn times_read_in_the_local_zone_and_a_repeat_says_it_was_counted() {
    let db = quick_start().await;
    let shanghai = |args: &[&str]| {
        let out = msgpool_on(&db.url, args)
            .env("TZ", "Asia/Shanghai")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    let listed = shanghai(&["deliveries"]);
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT min(next_attempt_at) FROM msgpool.delivery")
            .fetch_one(&db.pool)
            .await
            .expect("due");
    let local = due
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08"))
        .format("%Y-%m-%d %H:%M:%S+08:00")
        .to_string();
    assert!(
        listed.contains(&format!("due {local}")),
        "{local} in {listed}"
    );

    // the quick start's message carried dedup key wh-1
    let again = ok(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 121}",
            "--dedup-key",
            "wh-1",
        ],
    );
    let first: i64 = sqlx::query_scalar("SELECT id FROM msgpool.message")
        .fetch_one(&db.pool)
        .await
        .expect("the quick start's message");
    assert!(
        again.starts_with(&format!("counted on message {first} (×2)")),
        "{again}"
    );
    let third = json(
        &db,
        &[
            "send",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 122}",
            "--dedup-key",
            "wh-1",
        ],
    );
    assert_eq!(
        (third["id"].as_i64(), third["repeats"].as_i64()),
        (Some(first), Some(2))
    );

    // templates see the message's time in the type's zone, with the offset
    ok(
        &db,
        &[
            "type",
            "edit",
            "order.dispatch_backlog",
            "--time-zone",
            "Asia/Shanghai",
        ],
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "inbox",
            "--subject",
            "backlog",
            "--body",
            "since {{ created_at }}",
        ],
    );
    let preview = json(
        &db,
        &[
            "template",
            "preview",
            "order.dispatch_backlog",
            "--data",
            "{\"count\": 1}",
        ],
    );
    let body = preview
        .as_array()
        .expect("channels")
        .iter()
        .find(|p| p["channel"] == "inbox")
        .and_then(|p| p["body"].as_str().map(str::to_owned))
        .expect("the inbox preview");
    let at = body.strip_prefix("since ").expect(&body);
    assert!(
        chrono::DateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%:z")
            .is_ok_and(|t| t.offset().local_minus_utc() == 8 * 3600),
        "a local time with its offset: {body}"
    );
}

#[tokio::test]
async fn subscriptions_are_listed_paused_and_resumed_and_templates_listed_and_removed() {
    let db = quick_start().await;
    // zhang.san hears of the type through group ops; the robot directly
    let mine = json(&db, &["subscriptions", "--recipient", "zhang.san"]);
    assert_eq!(
        mine,
        serde_json::json!([{
            "type_key": "order.dispatch_backlog",
            "subscriber": {"kind": "group", "key": "ops"},
            "channels": null,
            "paused": false,
            "created_at": mine[0]["created_at"],
        }]),
        "a recipient's subscriptions include those through their groups"
    );
    let all = ok(&db, &["subscriptions", "--type", "order.dispatch_backlog"]);
    assert!(
        all.contains("group ops") && all.contains("recipient ops-robot"),
        "{all}"
    );
    let err = fails(&db, &["subscriptions", "--group", "opz"]);
    assert!(
        err.contains("unknown group") && err.contains("ops"),
        "{err}"
    );

    let paused = ok(&db, &["pause", "order.dispatch_backlog", "--group", "ops"]);
    assert!(paused.contains("paused group ops"), "{paused}");
    assert!(ok(&db, &["subscriptions", "--group", "ops"]).contains("paused"));
    let shown = ok(&db, &["type", "show", "order.dispatch_backlog"]);
    assert!(
        shown.contains("subscriber group ops (all channels, paused)"),
        "{shown}"
    );
    let err = fails(
        &db,
        &[
            "pause",
            "order.dispatch_backlog",
            "--recipient",
            "zhang.san",
        ],
    );
    assert!(err.contains("not subscribed"), "{err}");

    // the quick start's message went out before the pause; one sent now reaches only the robot
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    ok(
        &db,
        &["send", "order.dispatch_backlog", "--data", "{\"count\": 5}"],
    );
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    let reached: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT recipient_key::text FROM msgpool.delivery
          WHERE message_id = (SELECT max(id) FROM msgpool.message)",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deliveries");
    assert_eq!(
        reached,
        vec!["ops-robot"],
        "a paused subscription receives nothing"
    );
    ok(&db, &["resume", "order.dispatch_backlog", "--group", "ops"]);
    ok(
        &db,
        &["send", "order.dispatch_backlog", "--data", "{\"count\": 6}"],
    );
    sqlx::query("SELECT msgpool.expand(10)")
        .execute(&db.pool)
        .await
        .expect("expand");
    let reached: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT recipient_key::text FROM msgpool.delivery
          WHERE message_id = (SELECT max(id) FROM msgpool.message) ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("deliveries");
    assert_eq!(reached, vec!["ops-robot", "zhang.san"], "resumed");

    let listed = ok(&db, &["template", "list"]);
    assert!(
        listed.contains("order.dispatch_backlog")
            && listed.contains("email")
            && listed.contains("Dispatch backlog: {{ count }}"),
        "{listed}"
    );
    ok(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "email",
            "--html",
            "<p>{{ count }} orders</p>",
        ],
    );
    let templates = json(&db, &["template", "list", "order.dispatch_backlog"]);
    assert_eq!(templates[0]["html_body"], "<p>{{ count }} orders</p>");
    let err = fails(
        &db,
        &[
            "template",
            "set",
            "order.dispatch_backlog",
            "--channel",
            "sms",
            "--body",
            "x",
            "--html",
            "<p>x</p>",
        ],
    );
    assert!(
        err.contains("only an email template has an HTML part"),
        "{err}"
    );
    let removed = ok(
        &db,
        &[
            "template",
            "remove",
            "order.dispatch_backlog",
            "--channel",
            "email",
        ],
    );
    assert!(removed.contains("built-in"), "{removed}");
    assert_eq!(
        json(&db, &["template", "list", "order.dispatch_backlog"]),
        serde_json::json!([])
    );
    let err = fails(
        &db,
        &[
            "template",
            "remove",
            "order.dispatch_backlog",
            "--channel",
            "email",
        ],
    );
    assert!(err.contains("has no email template"), "{err}");
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

#[tokio::test]
async fn a_delivery_sent_again_after_a_worker_dies_mid_send_carries_the_same_identity() {
    let db = TestDb::new().await;
    let http = support::http::HttpServer::start().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO msgpool.message_type (key, name, channels) VALUES ('server.down', 'Server down', '{{webhook,sms}}');
         INSERT INTO msgpool.recipient (key, name, phone, webhook_url, webhook_flavor) VALUES
           ('ops', 'Ops', '+8613800000000', '{}', 'generic');
         SELECT msgpool.send('server.down', '{{\"host\": \"db1\"}}', recipients => '{{ops}}');",
        http.url("/hook")
    )))
    .execute(&db.pool)
    .await
    .expect("a message for a webhook and an SMS gateway");
    // the providers take their time: the first worker dies while both sends are in flight
    http.answer_after(std::time::Duration::from_secs(30));
    let worker = || {
        msgpool_on(
            &db.url,
            &[
                "worker",
                "--channels",
                "webhook,sms",
                "--lease-secs",
                "1",
                "--poll-interval-ms",
                "100",
            ],
        )
        .env("MSGPOOL_SMS_GATEWAY_URL", http.url("/sms"))
        .env("MSGPOOL_LOG", "warn")
        .spawn()
        .expect("start a worker")
    };
    let arrived = |n: usize| {
        let http = &http;
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            while http.requests().len() < n {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{} of {n} requests",
                    http.requests().len()
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let mut first = worker();
    arrived(2).await;
    first.kill().expect("kill the worker mid-send");
    first.wait().expect("it is gone");
    http.answer_after(std::time::Duration::ZERO);
    let mut second = worker();
    arrived(4).await;
    Command::new("kill")
        .arg(second.id().to_string())
        .status()
        .expect("stop the second worker");
    second.wait().expect("it stops");

    let requests = http.requests();
    for path in ["/hook", "/sms"] {
        let keys: Vec<&str> = requests
            .iter()
            .filter(|r| r.target == path)
            .map(|r| r.headers.get("idempotency-key").map_or("", String::as_str))
            .collect();
        assert_eq!(keys.len(), 2, "{path}: sent twice, by each worker");
        assert!(
            keys[0].starts_with("msgpool-") && keys[0] == keys[1],
            "{path}: one identity on both sends: {keys:?}"
        );
    }
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
    assert_eq!(token.len(), 64, "an HMAC-SHA256 in hex");
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
