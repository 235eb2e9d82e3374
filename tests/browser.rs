//! The console in a real browser: Debian's chromium, headless, driven through chromedriver
//! (both from apt; `.ci/run` installs them). With MSGPOOL_SCREENSHOTS=1 each page is saved
//! at 1280×800 into docs/screenshots/ for the README.

#[path = "support/console.rs"]
mod console;
mod support;

use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use msgpool::domain::Channel;
use support::http::HttpServer;
use support::{TestDb, scalar, seed};

/// chromedriver on a free port, stopped with the test.
struct Driver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Driver {
    /// chromedriver and the chromium it started (its own process group), also when a test
    /// failed before closing the browser.
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromedriver is not installed: apt-get install chromium chromium-driver");
    use std::os::unix::process::CommandExt as _;
    let child = std::process::Command::new(binary)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromedriver");
    Driver { child, port }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-crash-reporter", "--disable-breakpad", "--window-size=1280,800", "--lang=en-US"]
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot drive chromium through chromedriver: {e}"),
        }
    }
}

/// Saves the page as docs/screenshots/NAME.png when MSGPOOL_SCREENSHOTS is set.
async fn screenshot(browser: &Client, name: &str) {
    if std::env::var_os("MSGPOOL_SCREENSHOTS").is_none() {
        return;
    }
    let png = browser.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots folder");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("save screenshot");
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("click");
}

/// Waits until the element's text or attribute satisfies `ok`, reloading when asked.
async fn wait_for(browser: &Client, css: &str, reload: bool, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            let text = element.text().await.unwrap_or_default();
            if ok(&text) {
                return text;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never became what was expected; page: {}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        if reload {
            browser.refresh().await.expect("reload");
        }
    }
}

#[tokio::test]
async fn a_back_office_user_sets_up_a_type_sends_a_test_reads_it_and_retries_a_dead_delivery() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let robot = HttpServer::start().await;
    // the first send is refused for good; the retry goes through
    robot.reply_next(400, "invalid_payload");
    let worker = support::start(
        &db.pool,
        support::worker_config("browser", &[Channel::Inbox, Channel::Webhook]),
    );
    let console = console::Console::start(&db.url, false).await;
    let driver = chromedriver();
    let browser = browser(&driver).await;
    let base = &console.base;

    // sign in
    browser
        .goto(&format!("{base}/signin"))
        .await
        .expect("sign-in page");
    screenshot(&browser, "signin").await;
    fill(&browser, "#token", console::TOKEN).await;
    click(&browser, "#signin").await;
    wait_for(&browser, "h1", false, |h| h.contains("Message types")).await;
    screenshot(&browser, "types").await;
    // the language switch, and back
    click(&browser, "a.lang").await;
    wait_for(&browser, "h1", false, |h| h.contains("消息设置")).await;
    screenshot(&browser, "types_zh").await;
    click(&browser, "a.lang").await;
    wait_for(&browser, "h1", false, |h| h.contains("Message types")).await;

    // a type through the form, with a live preview
    click(&browser, "#new-type").await;
    fill(&browser, "#key", "disk.full").await;
    wait_for(&browser, "#key-check", false, |t| t.contains('✓')).await;
    fill(&browser, "#name", "磁盘将满").await;
    click(&browser, "#channel-webhook").await;
    fill(&browser, "#tpl-inbox-subject", "Disk {{ host }} is full").await;
    fill(&browser, "#tpl-inbox-body", "{{ host }} passed 90%").await;
    wait_for(&browser, "#preview", false, |p| {
        p.contains("Disk db1 is full")
    })
    .await;
    screenshot(&browser, "type_form").await;
    click(&browser, "#save").await;
    wait_for(&browser, "#saved", false, |_| true).await;
    browser.goto(&format!("{base}/types")).await.expect("types");
    wait_for(&browser, "#types", false, |t| {
        t.contains("disk.full") && t.contains("磁盘将满")
    })
    .await;

    // a recipient with a webhook that answers 400, subscribed to the type
    browser
        .goto(&format!("{base}/recipients/new"))
        .await
        .expect("new recipient");
    fill(&browser, "#key", "wang.wu").await;
    fill(&browser, "#name", "王五").await;
    fill(&browser, "input[name=webhook_url]", &robot.url("/hook")).await;
    click(&browser, "#save").await;
    wait_for(&browser, "h1", false, |h| h.contains("wang.wu")).await;
    browser
        .find(Locator::Css("#subscribe-type"))
        .await
        .expect("type select")
        .select_by_value("disk.full")
        .await
        .expect("choose the type");
    click(&browser, "#subscribe").await;
    wait_for(&browser, "#subscriptions", false, |s| {
        s.contains("disk.full")
    })
    .await;
    screenshot(&browser, "recipient").await;
    let inbox_link = browser
        .find(Locator::Css("#inbox-link"))
        .await
        .expect("inbox link")
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    browser
        .goto(&format!("{base}/recipients"))
        .await
        .expect("recipients");
    screenshot(&browser, "recipients").await;

    // send a test to wang.wu and watch it arrive in the inbox with the unread badge
    browser
        .goto(&format!("{base}/types/disk.full"))
        .await
        .expect("type page");
    browser
        .find(Locator::Css("#test-recipient"))
        .await
        .expect("recipient select")
        .select_by_value("wang.wu")
        .await
        .expect("choose wang.wu");
    click(&browser, "#send-test-button").await;
    wait_for(&browser, "#test-result", false, |t| t.contains('#')).await;
    let inbox_url = if inbox_link.starts_with("http") {
        inbox_link
    } else {
        format!("{base}{inbox_link}")
    };
    browser.goto(&inbox_url).await.expect("inbox");
    wait_for(&browser, "#unread-badge", true, |n| n == "1").await;
    screenshot(&browser, "inbox").await;
    click(&browser, "#inbox li.unread a.subject").await;
    wait_for(&browser, "#subject", false, |s| s == "Disk db1 is full").await;
    wait_for(&browser, "#unread-badge", false, |n| n == "0").await;
    click(&browser, "#back").await;
    wait_for(&browser, "#unread-badge", false, |n| n == "0").await;

    // the webhook answered 400: the delivery is dead; retry it from the activity page
    support::wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'dead' AND recipient_key = 'wang.wu'",
        1,
    )
    .await;
    let message_id: i64 = scalar(&db.pool, "SELECT max(id) FROM msgpool.message").await;
    browser
        .goto(&format!("{base}/messages"))
        .await
        .expect("activity");
    screenshot(&browser, "messages").await;
    browser
        .goto(&format!("{base}/messages/{message_id}"))
        .await
        .expect("message");
    wait_for(&browser, "#deliveries", false, |t| {
        t.contains("invalid_payload")
    })
    .await;
    screenshot(&browser, "message").await;
    browser
        .goto(&format!("{base}/deliveries?state=dead"))
        .await
        .expect("dead deliveries");
    click(&browser, "#deliveries input[name=id]").await;
    screenshot(&browser, "deliveries").await;
    click(&browser, "#retry-selected").await;
    wait_for(&browser, "#retried", false, |t| t.ends_with('1')).await;
    support::wait_for(
        &db.pool,
        "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent' AND channel = 'webhook' AND recipient_key = 'wang.wu'",
        1,
    )
    .await;
    browser
        .goto(&format!("{base}/status"))
        .await
        .expect("status");
    wait_for(&browser, "#channels", false, |t| t.contains("inbox")).await;
    screenshot(&browser, "status").await;

    browser.close().await.expect("close the browser");
    support::stop(worker).await;
}
