//! Running the real `msgpool` binary in the CLI's tests (cli/tests/), and the README's quick
//! start they build on. Included by path from there: `CARGO_BIN_EXE_msgpool` exists only
//! for the CLI package's tests.
#![allow(dead_code)] // each test binary uses its own part

use std::process::{Command, Output};

use crate::support::TestDb;

pub fn run(db: &TestDb, args: &[&str]) -> Output {
    msgpool_on(&db.url, args).output().expect("run msgpool")
}

/// The command to run `msgpool args` against the database at `url`.
pub fn msgpool_on(url: &str, args: &[&str]) -> Command {
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
pub fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "msgpool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs a command that must fail; returns its one-line error.
pub fn fails(db: &TestDb, args: &[&str]) -> String {
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

pub fn json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(db, &args)).expect("valid JSON")
}

pub const QUICK_START: &[&[&str]] = &[
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

pub async fn quick_start() -> TestDb {
    let db = TestDb::new().await;
    for args in QUICK_START {
        ok(&db, args);
    }
    db
}
