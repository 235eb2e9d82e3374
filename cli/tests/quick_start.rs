//! The README's quick start as written, and what every command shares.

#[path = "../../tests/support/cli.rs"]
mod cli;
#[path = "../../tests/support/mod.rs"]
mod support;

use cli::{QUICK_START, msgpool_on, ok, quick_start};

/// A command line split as a shell would: words, with '…' and "…" quoting.
fn words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ') if in_word => {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            (None, ' ') => {}
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn the_quick_start_run_here_is_the_one_the_readme_shows() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let block = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README's quick start block");
    let shown: Vec<Vec<String>> = block
        .lines()
        .filter_map(|line| line.strip_prefix("msgpool "))
        .map(words)
        .collect();
    let run: Vec<Vec<String>> = QUICK_START
        .iter()
        .map(|args| args.iter().map(|a| a.to_string()).collect())
        .collect();
    assert_eq!(shown, run, "README.md's quick start and QUICK_START differ");
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
