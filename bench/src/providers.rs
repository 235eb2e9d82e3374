//! The providers scenario: deliveries per second to real providers (in this process, see
//! [`super::endpoints`]) answering in `latency` (default 100 ms), each measured with a fresh
//! `msgpool worker` at its default settings:
//!
//! - webhook, SMS (the generic gateway) and email (SMTP): deliveries per second;
//! - a healthy webhook host alone, then with a hung host beside it: the ratio;
//! - against a host that serves 50 at a time (latency rises with load past that), a sweep of
//!   fixed in-flight settings and the adaptive limit: the adaptive's ratio to the best.
//!
//! Each round's messages are inserted held back by `deliver_at`, the worker started and
//! waiting, then released at once; a round's figure runs from the release until its last
//! measured delivery is sent.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::PgPool;

use super::endpoints::{Behaviour, Endpoint};
use super::{Figures, Worker};

#[derive(Debug, Clone)]
pub struct ProvidersPlan {
    /// Deliveries per round.
    pub deliveries: i64,
    pub latency: Duration,
}

/// How many the sweep's host serves at once.
const CAPACITY: usize = 50;
const SWEEP: [usize; 4] = [32, 64, 128, 256];

const SETUP: &str = "
  INSERT INTO msgpool.message_type (key, name, channels, digest) VALUES
    ('bench.hook', 'webhook', '{webhook}', false), ('bench.sms', 'sms', '{sms}', false),
    ('bench.mail', 'email', '{email}', false);
  INSERT INTO msgpool.template (type_key, channel, subject, body) VALUES
    ('bench.hook', 'webhook', 'alert {{ n }}', 'message {{ n }}'),
    ('bench.sms', 'sms', 'alert {{ n }}', 'message {{ n }}'),
    ('bench.mail', 'email', 'alert {{ n }}', 'message {{ n }}');
  INSERT INTO msgpool.recipient (key, name, webhook_url, phone, email) VALUES
    ('bench-hook', 'Hook', 'http://127.0.0.1:9/', NULL, NULL),
    ('bench-hung', 'Hung hook', 'http://127.0.0.1:9/', NULL, NULL),
    ('bench-phone', 'Phone', NULL, '+8613800000000', NULL),
    ('bench-mail', 'Mail', NULL, NULL, 'bench@example.com');
";

pub async fn run(
    pool: &PgPool,
    url: &str,
    home: &Path,
    plan: &ProvidersPlan,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let site = Site { pool, url, home };
    sqlx::raw_sql(SETUP)
        .execute(pool)
        .await
        .context("setting up the providers scenario")?;
    let answer = Behaviour::Answer {
        latency: plan.latency,
        capacity: None,
    };
    let n = plan.deliveries;

    let hook = Endpoint::http(answer).await?;
    point(pool, "bench-hook", &hook.url("/hook")).await?;
    let webhook = site
        .round(
            &["--channels", "webhook"],
            &[],
            &[("bench.hook", "bench-hook", n)],
        )
        .await?;
    received(&hook, 0, n)?;
    figures.add("providers_webhook", webhook.rate, "deliveries/s");

    let gateway = Endpoint::http(answer).await?;
    let gateway_url = gateway.url("/sms");
    let sms = site
        .round(
            &["--channels", "sms"],
            &[("MSGPOOL_SMS_GATEWAY_URL", &gateway_url)],
            &[("bench.sms", "bench-phone", n)],
        )
        .await?;
    received(&gateway, 0, n)?;
    figures.add("providers_sms", sms.rate, "deliveries/s");

    let smtp = Endpoint::smtp(answer).await?;
    let smtp_url = format!("smtp://{}", smtp.address);
    let email = site
        .round(
            &["--channels", "email"],
            &[("MSGPOOL_SMTP_URL", &smtp_url)],
            &[("bench.mail", "bench-mail", n)],
        )
        .await?;
    received(&smtp, 0, n)?;
    figures.add("providers_email", email.rate, "deliveries/s");
    let rss = [&webhook, &sms, &email]
        .iter()
        .map(|r| r.rss)
        .fold(0.0, f64::max);
    figures.add("providers_worker_peak_rss", rss, "MB");

    let hung = Endpoint::http(Behaviour::Hang).await?;
    point(pool, "bench-hung", &hung.url("/hook")).await?;
    let before = hook.accepted();
    let alone = site
        .round(
            &["--channels", "webhook"],
            &[],
            &[("bench.hook", "bench-hook", n)],
        )
        .await?
        .rate;
    let beside = site
        .round(
            &["--channels", "webhook"],
            &[],
            &[
                ("bench.hook", "bench-hook", n),
                ("bench.hook", "bench-hung", n),
            ],
        )
        .await?
        .rate;
    received(&hook, before, 2 * n)?;
    figures.add("providers_healthy_alone", alone, "deliveries/s");
    figures.add("providers_healthy_beside_hung", beside, "deliveries/s");
    figures.add("providers_hung_ratio", beside / alone, "x");
    // an SMTP server that accepts and never answers, on the same worker
    let hung_smtp = Endpoint::smtp(Behaviour::Hang).await?;
    let hung_smtp_url = format!("smtp://{}", hung_smtp.address);
    let before = hook.accepted();
    let beside_smtp = site
        .round(
            &["--channels", "webhook,email"],
            &[("MSGPOOL_SMTP_URL", &hung_smtp_url)],
            &[
                ("bench.hook", "bench-hook", n),
                ("bench.mail", "bench-mail", n),
            ],
        )
        .await?
        .rate;
    received(&hook, before, n)?;
    figures.add(
        "providers_healthy_beside_hung_smtp",
        beside_smtp,
        "deliveries/s",
    );
    figures.add("providers_hung_smtp_ratio", beside_smtp / alone, "x");

    let crowded = Endpoint::http(Behaviour::Answer {
        latency: plan.latency,
        capacity: Some(CAPACITY),
    })
    .await?;
    point(pool, "bench-hook", &crowded.url("/hook")).await?;
    let mut best: f64 = 0.0;
    for fixed in SWEEP {
        let fixed = fixed.to_string();
        let args = [
            "--channels",
            "webhook",
            "--min-in-flight",
            &fixed,
            "--max-in-flight",
            &fixed,
        ];
        let fixed_round = site
            .round(&args, &[], &[("bench.hook", "bench-hook", n)])
            .await?;
        figures.add(
            &format!("providers_fixed_{fixed}"),
            fixed_round.rate,
            "deliveries/s",
        );
        figures.add(
            &format!("providers_fixed_{fixed}_latency"),
            fixed_round.latency_ms,
            "ms",
        );
        best = best.max(fixed_round.rate);
    }
    let adaptive = site
        .round(
            &["--channels", "webhook"],
            &[],
            &[("bench.hook", "bench-hook", n)],
        )
        .await?;
    figures.add("providers_adaptive", adaptive.rate, "deliveries/s");
    figures.add("providers_adaptive_latency", adaptive.latency_ms, "ms");
    figures.add(
        "providers_adaptive_limit",
        f64::from(adaptive.limit),
        "in flight",
    );
    figures.add("providers_adaptive_ratio", adaptive.rate / best, "x");
    Ok(())
}

/// The endpoint took each delivery the round counted as sent, once: `count` more than the
/// `before` it had.
fn received(endpoint: &Endpoint, before: u64, count: i64) -> anyhow::Result<()> {
    let took = endpoint.accepted() - before;
    anyhow::ensure!(
        took == count as u64,
        "the endpoint at {} took {took} for {count} deliveries",
        endpoint.address,
    );
    Ok(())
}

/// Points a webhook recipient at `url`.
async fn point(pool: &PgPool, recipient: &str, url: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE msgpool.recipient SET webhook_url = $2 WHERE key = $1")
        .bind(recipient)
        .bind(url)
        .execute(pool)
        .await
        .map(drop)
}

/// The benchmark's database and home, where each round starts its worker.
struct Site<'a> {
    pool: &'a PgPool,
    url: &'a str,
    home: &'a Path,
}

impl Site<'_> {
    /// One round with a fresh worker (`args`, `env`): `sends` (type, recipient, count) held
    /// back, released at once; the rate is the first send's. Everything is cleared after it.
    async fn round(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        sends: &[(&str, &str, i64)],
    ) -> anyhow::Result<Round> {
        let (pool, url, home) = (self.pool, self.url, self.home);
        let mut worker = Worker::start(url, home, args, env)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM msgpool.waiting_worker")
            .fetch_one(pool)
            .await?
            == 0
        {
            anyhow::ensure!(Instant::now() < deadline, "the worker did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut measured = None;
        for &(type_key, recipient, count) in sends {
            let (first, last): (i64, i64) = sqlx::query_as(
                "WITH m AS (
               INSERT INTO msgpool.message (type_key, payload, recipients, deliver_at)
               SELECT $1, jsonb_build_object('n', g), ARRAY[$2], now() + interval '1 hour'
                 FROM generate_series(1, $3) g
               RETURNING id)
             SELECT min(id), max(id) FROM m",
            )
            .bind(type_key)
            .bind(recipient)
            .bind(count)
            .fetch_one(pool)
            .await?;
            measured.get_or_insert((first, last, count));
        }
        let (first, last, count) = measured.context("a round with nothing to send")?;
        let started = Instant::now();
        sqlx::query("UPDATE msgpool.message SET due_at = now() WHERE state = 'pending'")
            .execute(pool)
            .await?;
        let deadline = started + Duration::from_secs(300);
        loop {
            let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM msgpool.delivery WHERE message_id BETWEEN $1 AND $2 AND state = 'sent'",
        )
        .bind(first)
        .bind(last)
        .fetch_one(pool)
        .await?;
            if sent == count {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{sent} of {count} deliveries sent within 300 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rate = count as f64 / started.elapsed().as_secs_f64();
        let rss = worker.peak_rss_mb()?;
        // as the worker reports it (every 2 s) once the round is over, for its busiest destination
        let (over, reported) = (chrono::Utc::now(), Instant::now());
        let (limit, latency_ms) = loop {
            let row: Option<(i32, Option<f64>)> = sqlx::query_as(
                "SELECT flight_limit, latency_ms FROM msgpool.destination_report
              WHERE reported_at > $1 ORDER BY sent DESC LIMIT 1",
            )
            .bind(over)
            .fetch_optional(pool)
            .await?;
            if let Some(row) = row {
                break row;
            }
            anyhow::ensure!(
                reported.elapsed() < Duration::from_secs(10),
                "the worker reported no destination"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        worker.stop()?;
        sqlx::query("TRUNCATE msgpool.message, msgpool.inbox")
            .execute(pool)
            .await?;
        Ok(Round {
            rate,
            rss,
            limit,
            latency_ms: latency_ms.unwrap_or_default(),
        })
    }
}

/// What a round measured: deliveries per second, the worker's peak RSS in MB, and the busiest
/// destination's in-flight limit and recent latency as last reported.
struct Round {
    rate: f64,
    rss: f64,
    limit: i32,
    latency_ms: f64,
}
