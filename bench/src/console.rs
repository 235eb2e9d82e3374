//! The console scenario: how long the console takes to answer its heaviest pages over a large
//! history (default 1,000,000 messages with 3,000,000 deliveries and their inbox rows): the
//! activity list (plain and filtered), a message's page, a filtered delivery list and a
//! recipient's inbox page. Requests go to the console's router in this process, so the
//! times are the server's own (rendering included, no network).
//!
//! The history is written as `add_history` writes it: old rows, with the validation trigger
//! off. One in a hundred email deliveries is dead, with its attempt, so the dead list has
//! something to find.

use std::time::Instant;

use anyhow::Context as _;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sqlx::PgPool;
use tower::ServiceExt as _;

use super::Figures;

#[derive(Debug, Clone)]
pub struct ConsolePlan {
    pub messages: i64,
    /// Requests per page.
    pub samples: usize,
}

const RECIPIENTS: i64 = 1000;
const TOKEN: &str = "bench-console";

const HISTORY: &str = "
  WITH m AS (
    INSERT INTO msgpool.message (type_key, payload, urgency, due_at, state, created_at, expanded_at, source, dedup_key)
    SELECT 'bench.console', jsonb_build_object('n', g, 'host', 'db' || g % 50), 'normal', t, 'expanded', t, t,
           'bench', 'k-' || g
      FROM generate_series(1, $1) g, LATERAL (SELECT now() - ($1 - g) * interval '1 second' AS t) at
    RETURNING id, created_at),
  d AS (
    INSERT INTO msgpool.delivery (message_id, recipient_key, channel, state, attempts, sent_at, created_at, last_error)
    SELECT m.id, 'bench-c-' || (m.id % $2 + 1), c,
           CASE WHEN c = 'email' AND m.id % 100 = 0 THEN 'dead' ELSE 'sent' END::msgpool.delivery_state,
           1, m.created_at, m.created_at,
           CASE WHEN c = 'email' AND m.id % 100 = 0 THEN 'SMTP 550 mailbox unavailable' END
      FROM m CROSS JOIN unnest('{inbox,email,sms}'::msgpool.channel[]) c
    RETURNING id, message_id, recipient_key, channel, created_at)
  INSERT INTO msgpool.inbox (recipient_key, message_id, delivery_id, type_key, urgency, subject, body, created_at, read_at)
  SELECT d.recipient_key, d.message_id, d.id, 'bench.console', 'normal', 'disk ' || d.message_id, 'message ' || d.message_id,
         d.created_at, CASE WHEN d.message_id % 10 <> 0 THEN d.created_at END
    FROM d WHERE d.channel = 'inbox'";

pub async fn run(
    pool: &PgPool,
    url: &str,
    plan: &ConsolePlan,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    load_history(pool, plan.messages, figures.say).await?;
    let database = msgpool::Database::Url(url.to_owned());
    let router = msgpool_web::router(msgpool_web::Console {
        admin_db: database.pool_as(4, msgpool::domain::Role::Console).await?,
        inbox_db: database.pool_as(4, msgpool::domain::Role::Inbox).await?,
        sign_in_token: Some(TOKEN.to_owned()),
        read_only: true,
        public_url: None,
        trusted_proxy: None,
    });
    let cookie = sign_in(&router).await?;
    let inbox_token: String = sqlx::query_scalar("SELECT msgpool.inbox_token('bench-c-1')")
        .fetch_one(pool)
        .await?;
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT min(id), max(id) FROM msgpool.message WHERE type_key = 'bench.console'",
    )
    .fetch_one(pool)
    .await?;
    // each page, and what it must show: a page that answers without its rows measures nothing
    type Path = Box<dyn Fn(usize) -> String>;
    let pages: [(&str, Path, &str); 8] = [
        (
            "console_types_list",
            Box::new(|_| "/types".to_owned()),
            "bench.console",
        ),
        (
            "console_activity_list",
            Box::new(|_| "/messages".to_owned()),
            "bench.console",
        ),
        (
            "console_activity_filtered",
            Box::new(|_| "/messages?type_key=bench.console&state=expanded&source=bench".to_owned()),
            "bench.console",
        ),
        (
            "console_activity_rare_type",
            Box::new(|_| "/messages?type_key=bench.latency".to_owned()),
            "id=\"messages\"",
        ),
        (
            "console_activity_deep_page",
            Box::new(move |i| format!("/messages?before={}", first + 1000 + i as i64)),
            "bench.console",
        ),
        (
            "console_message_page",
            Box::new(move |i| format!("/messages/{}", spread(first, last, i))),
            "bench-c-",
        ),
        (
            "console_deliveries_dead_email",
            Box::new(|_| "/deliveries?state=dead&channel=email".to_owned()),
            "SMTP 550",
        ),
        (
            "console_inbox_page",
            Box::new(move |_| format!("/inbox/bench-c-1?token={inbox_token}")),
            "disk ",
        ),
    ];
    for (name, path, shows) in pages {
        let mut times = Vec::with_capacity(plan.samples);
        for i in 0..plan.samples {
            let path = path(i);
            let started = Instant::now();
            let (status, body) = get(&router, &path, &cookie).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(status == StatusCode::OK, "GET {path}: {status}");
            anyhow::ensure!(body.contains(shows), "GET {path} does not show {shows:?}");
        }
        times.sort_by(f64::total_cmp);
        figures.add(&format!("{name}_p50"), percentile(&times, 0.50), "ms");
        figures.add(&format!("{name}_p95"), percentile(&times, 0.95), "ms");
    }
    Ok(())
}

async fn load_history(
    pool: &PgPool,
    messages: i64,
    say: fn(std::fmt::Arguments<'_>),
) -> anyhow::Result<()> {
    let started = Instant::now();
    sqlx::raw_sql(
        "INSERT INTO msgpool.message_type (key, name, category, channels) VALUES
           ('bench.console', 'console', 'bench', '{inbox,email,sms}')",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO msgpool.recipient (key, name, email, phone)
         SELECT 'bench-c-' || g, 'Console ' || g, 'c' || g || '@example.com', '+86138' || lpad(g::text, 8, '0')
           FROM generate_series(1, $1) g",
    )
    .bind(RECIPIENTS)
    .execute(pool)
    .await?;
    super::write_history(pool, sqlx::query(HISTORY).bind(messages).bind(RECIPIENTS)).await?;
    sqlx::query(
        "INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, error, started_at, finished_at)
         SELECT id, 1, 'dead', last_error, created_at, created_at FROM msgpool.delivery
          WHERE state = 'dead' AND message_id IN (SELECT id FROM msgpool.message WHERE type_key = 'bench.console')",
    )
    .execute(pool)
    .await?;
    super::vacuum(
        pool,
        &[
            "msgpool.message",
            "msgpool.delivery",
            "msgpool.inbox",
            "msgpool.delivery_attempt",
        ],
    )
    .await?;
    say(format_args!(
        "console history: {messages} messages, {} deliveries, loaded in {:.0} s",
        messages * 3,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

async fn sign_in(router: &axum::Router) -> anyhow::Result<String> {
    let request = Request::post("/signin")
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={TOKEN}")))?;
    let response = router.clone().oneshot(request).await?;
    response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("the console gave no session cookie")
}

/// Answers GET `path`, body read to the end.
async fn get(
    router: &axum::Router,
    path: &str,
    cookie: &str,
) -> anyhow::Result<(StatusCode, String)> {
    let request = Request::get(path)
        .header(header::HOST, "127.0.0.1")
        .header(header::COOKIE, cookie)
        .body(Body::empty())?;
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The `i`-th of ids spread over first..=last, so message pages are read across the history.
fn spread(first: i64, last: i64, i: usize) -> i64 {
    let span = (last - first).max(1);
    first + (i as i64 * 7919) % span
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
