//! `msgpool worker`: the main job (the demo), its settings, and a delivery sent again after a crash.

use std::process::Command;

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{msgpool_on, quick_start};
use support::TestDb;

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
