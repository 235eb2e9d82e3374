//! The binary's own part of keeping secrets and bounds: the worker's memory follows bytes,
//! its log hides the providers' credentials, and the console refuses weak or unsafe secrets.

use std::io::{BufRead as _, Write as _};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{json, msgpool_on, ok};
use support::{TestDb, exec, scalar};

/// The worker's peak resident memory, from /proc, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024.0
}

#[tokio::test]
async fn a_burst_of_the_largest_payloads_keeps_the_worker_under_its_memory_bound() {
    let db = TestDb::new().await;
    exec(
        &db.pool,
        "UPDATE msgpool.settings SET max_payload_bytes = 262144;
         INSERT INTO msgpool.message_type (key, name, channels) VALUES ('big', 'Big', '{inbox}');
         INSERT INTO msgpool.template (type_key, channel, subject, body) VALUES ('big', 'inbox', 'big', '#{{ n }}');
         INSERT INTO msgpool.recipient (key, name) VALUES ('r', 'R');
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('big', 'r');
         SELECT msgpool.send('big', jsonb_build_object('n', n, 'blob', repeat(md5(n::text), 6000)))
           FROM generate_series(1, 500) n;",
    )
    .await;
    let mut worker = msgpool_on(&db.url, &["worker", "--channels", "inbox"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the worker");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sent: i64 = scalar(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent'",
        )
        .await;
        if sent == 500 {
            break;
        }
        assert!(Instant::now() < deadline, "only {sent} of 500 sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = peak_rss_mb(worker.id());
    let _ = worker.kill();
    let _ = worker.wait();
    // 500 payloads of 192 KB are 96 MB: a worker holding a batch of them whole would be past
    // the bound, one that claims by bytes (16 MB a claim, 16 MB buffered) stays under it
    assert!(peak < 128.0, "the worker's peak RSS was {peak:.1} MB");
}

#[tokio::test]
async fn the_workers_log_names_its_providers_without_their_credentials() {
    let db = TestDb::new().await;
    let mut worker = msgpool_on(&db.url, &["worker", "--channels", "sms,email"])
        .env("MSGPOOL_LOG", "info")
        .env(
            "MSGPOOL_SMS_GATEWAY_URL",
            "https://gateway:s3cretpass@127.0.0.1:9/send?apikey=K3Y",
        )
        .env("MSGPOOL_SMTP_URL", "smtp://mailer:m4ilpass@127.0.0.1:9")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the worker");
    let stderr = worker.stderr.take().expect("stderr");
    let mut seen = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.expect("a line");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("worker running") {
            break;
        }
    }
    let _ = worker.kill();
    let _ = worker.wait();
    assert!(
        seen.contains("sms channel") && seen.contains("email channel"),
        "{seen}"
    );
    for secret in ["s3cretpass", "K3Y", "m4ilpass"] {
        assert!(!seen.contains(secret), "the log shows {secret}: {seen}");
    }
    assert!(seen.contains("gateway"), "{seen}");
}

#[tokio::test]
async fn the_console_refuses_a_guessable_token_and_a_secret_others_could_have_written() {
    let db = TestDb::new().await;
    let out = msgpool_on(&db.url, &["web", "--listen", "127.0.0.1:0"])
        .env("MSGPOOL_WEB_TOKEN", "short")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 16 characters"), "{err}");

    let home = tempfile::tempdir().expect("home");
    let token = home.path().join("web.token");
    std::fs::write(&token, "a-token-anyone-could-have-written").expect("write");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    }
    let out = msgpool_on(&db.url, &["web", "--listen", "127.0.0.1:0"])
        .env("MSGPOOL_HOME", home.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could write it") && err.contains("chmod 600"),
        "{err}"
    );
}

#[tokio::test]
async fn console_users_are_added_with_a_password_from_standard_input_and_listed_without_it() {
    let db = TestDb::new().await;
    let mut add = msgpool_on(
        &db.url,
        &["console-user", "add", "ada", "--role", "operator"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse battery\n")
        .expect("password");
    let out = add.wait_with_output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "console user ada is operator"
    );
    let users = json(&db, &["console-user", "list"]);
    assert_eq!(users[0]["name"], "ada");
    assert_eq!(users[0]["role"], "operator");
    assert!(!users.to_string().contains("argon2"), "{users}");
    let listed = ok(&db, &["console-user", "list"]);
    assert!(
        listed.contains("ada") && listed.contains("operator"),
        "{listed}"
    );
}
