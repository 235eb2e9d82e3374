//! `msgpool bench`: msgpool's speed, measured on its own embedded PostgreSQL in a temporary
//! folder. The worker runs as a real `msgpool worker` child process, as in production, so its
//! memory is its own. Each scenario prints `name value unit`; a JSON summary follows.
//! docs/performance.md has the method and the figures. The `msgpool` binary runs it as
//! `msgpool bench`; it lives apart from the commands, in a crate of its own.
//!
//! What the benchmark writes past the producer's API, and why (nothing else does):
//! - configuration (types, templates, recipients, a group of 10,000, subscriptions) by plain
//!   SQL, as an administrator may; 10,000 recipients one CLI call at a time would take
//!   longer than the scenario they set up;
//! - the burn-down's messages are INSERTed as a producer would, held back by `deliver_at`,
//!   then released at once by moving `due_at`: the figure is the workers' rate over a full
//!   pool, and no producer can fill one faster than workers drain it;
//! - the history's week-old messages and deliveries are written with the validation trigger
//!   off: the trigger makes every message new (state, times), and history is old rows;
//! - between rounds, TRUNCATE and VACUUM, to start each round from a known pool.

mod console;
mod endpoints;
mod providers;

pub use console::ConsolePlan;
pub use providers::ProvidersPlan;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use sqlx::{Connection, PgConnection, PgPool};

#[derive(Debug, Clone)]
pub struct Plan {
    pub ingest_seconds: u64,
    pub ingest_clients: usize,
    pub burn_down: i64,
    pub fan_out: i64,
    pub latency_samples: usize,
    pub history: i64,
    /// The pool's own scenarios (ingest, burn-down, fan-out, latency, history).
    pub pool: bool,
    /// The providers scenario; `None`: skipped.
    pub providers: Option<ProvidersPlan>,
    /// The console scenario; `None`: skipped.
    pub console: Option<ConsolePlan>,
    /// Where each line of progress goes as it is measured (the binary's standard output).
    pub say: fn(std::fmt::Arguments<'_>),
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub figures: Vec<Figure>,
    #[serde(skip)]
    say: fn(std::fmt::Arguments<'_>),
}

#[derive(Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

impl Figures {
    fn add(&mut self, name: &str, value: f64, unit: &str) {
        (self.say)(format_args!("{name:<28} {value:>12.2} {unit}"));
        self.figures.push(Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
        });
    }
}

pub async fn run(plan: &Plan) -> anyhow::Result<Figures> {
    let home = tempfile::tempdir().context("creating a temporary folder")?;
    let database = msgpool::Database::Embedded(home.path().join("pool"));
    database.migrate().await?;
    // a benchmark stopped with Ctrl-C or killed leaves no server behind
    msgpool::embedded::Cluster::new(home.path().join("pool"))?.stop_when_gone(std::process::id())?;
    commit_timestamps_on(&database.url().await?, home.path()).await?;
    let url = database.url().await?;
    let measured = measure(plan, &url, home.path()).await;
    // The temporary cluster goes whatever happened.
    msgpool::embedded::Cluster::new(home.path().join("pool"))?
        .stop()
        .await?;
    measured
}

/// The latency figure ends when the inbox row commits, which only the commit timestamps of
/// PostgreSQL record; turning them on takes a restart.
async fn commit_timestamps_on(url: &str, home: &Path) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query("ALTER SYSTEM SET track_commit_timestamp = on")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    msgpool::embedded::Cluster::new(home.join("pool"))?
        .stop()
        .await?;
    Ok(())
}

async fn measure(plan: &Plan, url: &str, home: &Path) -> anyhow::Result<Figures> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await?;
    sqlx::raw_sql(SETUP)
        .execute(&pool)
        .await
        .context("setting up the benchmark's types and recipients")?;
    let mut figures = Figures {
        figures: Vec::new(),
        say: plan.say,
    };
    if plan.pool {
        pool_scenarios(plan, url, home, &pool, &mut figures).await?;
    }
    if let Some(providers) = &plan.providers {
        providers::run(&pool, url, home, providers, &mut figures).await?;
    }
    if let Some(console) = &plan.console {
        console::run(&pool, url, console, &mut figures).await?;
    }
    pool.close().await;
    Ok(figures)
}

/// Ingest, burn-down, fan-out, latency and history: the pool's own speed.
async fn pool_scenarios(
    plan: &Plan,
    url: &str,
    home: &Path,
    pool: &PgPool,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    ingest(url, plan, figures).await?;
    // The ingest's messages have no recipients; expanding them is not the burn-down's work.
    sqlx::query("DELETE FROM msgpool.message WHERE type_key = 'bench.ingest'")
        .execute(pool)
        .await?;
    vacuum(pool, &["msgpool.message"]).await?;
    // the ingest's writes are flushed now, not in the middle of the burn-down (as the
    // history load's are before the second one)
    sqlx::query("CHECKPOINT").execute(pool).await?;

    let mut worker = Worker::start(url, home, INBOX_WORKER, &[])?;
    // Clean: every round from an empty pool. Rounds over the last ones' rows, vacuumed, run
    // slower than the first: a small analyzed history, a case apart from both this one and
    // the history's.
    let clean = burn_down(pool, plan.burn_down, Between::Emptied).await?;
    figures.add("burn_down", clean, "deliveries/s");
    figures.add("worker_peak_rss", worker.peak_rss_mb()?, "MB");
    fan_out(pool, plan.fan_out, figures).await?;
    // "Workers idle": the burn-down's and fan-out's aftermath (dead rows and index entries,
    // autovacuum working through them) is cleared first, as an idle pool's would be.
    vacuum(
        pool,
        &[
            "msgpool.message",
            "msgpool.delivery",
            "msgpool.inbox",
            "msgpool.delivery_attempt",
        ],
    )
    .await?;
    latency(pool, plan.latency_samples, figures).await?;

    if plan.history > 0 {
        worker.stop()?;
        add_history(pool, plan.history).await?;
        worker = Worker::start(url, home, INBOX_WORKER, &[])?;
        let with_history = burn_down(pool, plan.burn_down, Between::Vacuumed).await?;
        figures.add("burn_down_with_history", with_history, "deliveries/s");
        figures.add("history_ratio", with_history / clean, "x");
    }
    worker.stop()
}

/// The pool scenarios' worker: the inbox, which never leaves PostgreSQL.
const INBOX_WORKER: &[&str] = &["--channels", "inbox"];

const SETUP: &str = "
  CREATE SCHEMA bench;
  CREATE TABLE bench.plain (id bigserial PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  INSERT INTO msgpool.message_type (key, name, channels) VALUES
    ('bench.ingest', 'ingest', '{inbox}'), ('bench.burn', 'burn-down', '{inbox}'),
    ('bench.fanout', 'fan-out', '{inbox}'), ('bench.latency', 'latency', '{inbox}'),
    ('bench.history', 'history', '{inbox}');
  INSERT INTO msgpool.template (type_key, channel, subject, body) VALUES
    ('bench.burn', 'inbox', 'burn {{ n }}', 'message {{ n }}'),
    ('bench.fanout', 'inbox', 'fan-out', 'hello {{ recipient_name }}'),
    ('bench.latency', 'inbox', 'latency {{ n }}', 'message {{ n }}');
  INSERT INTO msgpool.recipient (key, name) VALUES ('bench-1', 'Bench One');
";

/// Scenario 1: msgpool.send() against a bare INSERT of the same payload into a plain table,
/// the same clients for the same time; without and with a dedup key. The three take turns a
/// second at a time, so the machine's drifts fall on all of them alike. Each keeps its own
/// connections for the whole run, as a producer's pool would.
async fn ingest(url: &str, plan: &Plan, figures: &mut Figures) -> anyhow::Result<()> {
    const STATEMENTS: [&str; 3] = [
        "INSERT INTO bench.plain (payload) VALUES ($1)",
        "SELECT msgpool.send('bench.ingest', $1)",
        // every message with its own dedup key: the dedup check and its key row are paid in full
        "SELECT msgpool.send('bench.ingest', $1,
                dedup_key => ($1->>'round') || '-' || ($1->>'client') || '-' || ($1->>'n'))",
    ];
    let mut clients = Vec::with_capacity(STATEMENTS.len());
    for _ in STATEMENTS {
        let mut connections = Vec::with_capacity(plan.ingest_clients);
        for _ in 0..plan.ingest_clients {
            connections.push(PgConnection::connect(url).await?);
        }
        clients.push(connections);
    }
    let mut rows = [0u64; 3];
    let mut seconds = [0f64; 3];
    for round in 0..plan.ingest_seconds {
        for (i, sql) in STATEMENTS.iter().enumerate() {
            let (n, secs) = rate(&mut clients[i], sql, round).await?;
            rows[i] += n;
            seconds[i] += secs;
        }
    }
    for connection in clients.into_iter().flatten() {
        connection.close().await?;
    }
    let [bare, send, dedup] = [0, 1, 2].map(|i| rows[i] as f64 / seconds[i]);
    figures.add("ingest_bare_insert", bare, "rows/s");
    figures.add("ingest_send", send, "messages/s");
    figures.add("ingest_ratio", send / bare, "x");
    figures.add("ingest_send_dedup", dedup, "messages/s");
    figures.add("ingest_ratio_dedup", dedup / bare, "x");
    Ok(())
}

/// Runs `sql` from every one of `clients` for a second, all starting together; returns the
/// statements executed and the seconds taken. The connections come back for the next turn.
async fn rate(
    clients: &mut Vec<PgConnection>,
    sql: &'static str,
    round: u64,
) -> anyhow::Result<(u64, f64)> {
    let ready = Arc::new(tokio::sync::Barrier::new(clients.len() + 1));
    let tasks: Vec<_> = clients
        .drain(..)
        .enumerate()
        .map(|(client, mut conn)| {
            let ready = ready.clone();
            tokio::spawn(async move {
                ready.wait().await;
                let until = Instant::now() + Duration::from_secs(1);
                let mut n = 0u64;
                while Instant::now() < until {
                    let payload = serde_json::json!(
                        {"round": round, "client": client, "n": n, "host": "db1", "count": 120});
                    sqlx::query(sql).bind(payload).execute(&mut conn).await?;
                    n += 1;
                }
                Ok::<_, sqlx::Error>((n, conn))
            })
        })
        .collect();
    ready.wait().await;
    let started = Instant::now();
    let mut total = 0;
    for task in tasks {
        let (n, conn) = task.await??;
        total += n;
        clients.push(conn);
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// Rounds of the burn-down behind each of its figures.
const BURN_DOWN_ROUNDS: usize = 3;

/// How a burn-down round after the first finds the pool.
#[derive(Clone, Copy)]
enum Between {
    /// Empty, as a clean run's first round: TRUNCATE (deliveries and attempts go with their
    /// messages), which also makes the tables new to the planner again.
    Emptied,
    /// The history kept, with the last round's rows, vacuumed.
    Vacuumed,
}

/// Scenario 2: the median of [`BURN_DOWN_ROUNDS`] rounds. A slow spell of the machine moves
/// a single round well beyond the code's own effects; the median keeps one such round from making
/// the figure, or the history ratio made of two of them. Before each round after the first,
/// `between` puts the pool back in the state the first round started from.
async fn burn_down(pool: &PgPool, count: i64, between: Between) -> anyhow::Result<f64> {
    let mut rates = Vec::with_capacity(BURN_DOWN_ROUNDS);
    for round in 0..BURN_DOWN_ROUNDS {
        if round > 0 {
            match between {
                Between::Emptied => {
                    sqlx::query("TRUNCATE msgpool.message, msgpool.inbox")
                        .execute(pool)
                        .await?;
                }
                Between::Vacuumed => {
                    vacuum(
                        pool,
                        &[
                            "msgpool.delivery",
                            "msgpool.delivery_attempt",
                            "msgpool.inbox",
                        ],
                    )
                    .await?
                }
            }
        }
        rates.push(burn_down_round(pool, count).await?);
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[BURN_DOWN_ROUNDS / 2])
}

/// One burn-down round: `count` messages already in the pool, one recipient each, inbox
/// channel; deliveries per second from the release of the messages until the last is sent.
async fn burn_down_round(pool: &PgPool, count: i64) -> anyhow::Result<f64> {
    // Held back by a future due time while they are inserted, then released at once.
    let (first, last): (i64, i64) = sqlx::query_as(
        "WITH m AS (
           INSERT INTO msgpool.message (type_key, payload, recipients, deliver_at)
           SELECT 'bench.burn', jsonb_build_object('n', g), '{bench-1}', now() + interval '1 hour' FROM generate_series(1, $1) g
           RETURNING id)
         SELECT min(id), max(id) FROM m",
    )
    .bind(count)
    .fetch_one(pool)
    .await?;
    vacuum(pool, &["msgpool.message"]).await?;
    let started = Instant::now();
    sqlx::query("UPDATE msgpool.message SET due_at = now() WHERE id BETWEEN $1 AND $2")
        .bind(first)
        .bind(last)
        .execute(pool)
        .await?;
    wait_until_drained(pool, Duration::from_secs(600)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let sent = sent_between(pool, first, last).await?;
    anyhow::ensure!(
        sent == count,
        "burn-down: {sent} of {count} deliveries sent"
    );
    Ok(count as f64 / seconds)
}

/// Scenario 3: one message to a group of `count` recipients.
async fn fan_out(pool: &PgPool, count: i64, figures: &mut Figures) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "INSERT INTO msgpool.recipient_group (key, name) VALUES ('bench-everyone', 'everyone');
         INSERT INTO msgpool.subscription (type_key, group_key) VALUES ('bench.fanout', 'bench-everyone');",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "WITH r AS (INSERT INTO msgpool.recipient (key, name) SELECT 'bench-f-' || g, 'Person ' || g FROM generate_series(1, $1) g RETURNING key)
         INSERT INTO msgpool.group_member (group_key, recipient_key) SELECT 'bench-everyone', key FROM r",
    )
    .bind(count)
    .execute(pool)
    .await?;
    let started = Instant::now();
    let id: i64 = sqlx::query_scalar("SELECT msgpool.send('bench.fanout')")
        .fetch_one(pool)
        .await?;
    wait_until_drained(pool, Duration::from_secs(600)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let sent = sent_between(pool, id, id).await?;
    anyhow::ensure!(sent == count, "fan-out: {sent} of {count} deliveries sent");
    figures.add("fan_out", seconds, "s");
    Ok(())
}

/// Scenario 4: an idle worker, messages sent one at a time; the database's clock from the
/// start of the send's transaction to the commit of the inbox row's.
async fn latency(pool: &PgPool, samples: usize, figures: &mut Figures) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut millis = Vec::with_capacity(samples);
    // each send's message and transaction, for the stages below
    let (mut ids, mut xids) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for n in 0..samples {
        let (id, xid): (i64, String) = sqlx::query_as("SELECT msgpool.send('bench.latency', jsonb_build_object('n', $1::int), recipients => '{bench-1}'), pg_current_xact_id()::text")
            .bind(n as i32)
            .fetch_one(&mut *conn)
            .await?;
        ids.push(id);
        xids.push(xid);
        let deadline = Instant::now() + Duration::from_secs(30);
        let ms = loop {
            let found: Option<f64> = sqlx::query_scalar(
                "SELECT extract(epoch FROM pg_xact_commit_timestamp(i.xmin) - m.created_at)::float8 * 1000
                   FROM msgpool.message m JOIN msgpool.delivery d ON d.message_id = m.id JOIN msgpool.inbox i ON i.delivery_id = d.id WHERE m.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(ms) = found {
                break ms;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "message {id} did not reach the inbox"
            );
            // The figure comes from the database's timestamps; polling gently keeps the
            // watcher from loading the machine it measures.
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        millis.push(ms);
    }
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() as f64 - 1.0) * q).round() as usize];
    figures.add("latency_p50", at(0.50), "ms");
    figures.add("latency_p95", at(0.95), "ms");
    figures.add("latency_p99", at(0.99), "ms");
    figures.add("latency_max", at(1.0), "ms");
    latency_stages(&mut conn, &ids, &xids, figures).await
}

/// Where a lone message's time goes, the median of each stage, from the same timestamps:
/// the send's transaction, its commit to the worker's expansion starting (the wake-up), the
/// expand-and-claim transaction, its commit to the inbox write starting (rendering), and
/// the inbox write's transaction. A commit's flush to disk falls in the stage after it. When
/// the machine is slow, every stage is, the database's own work included.
async fn latency_stages(
    conn: &mut PgConnection,
    ids: &[i64],
    xids: &[String],
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let stages: (f64, f64, f64, f64, f64) = sqlx::query_as(
        "WITH t AS (
           SELECT m.created_at AS sent, pg_xact_commit_timestamp(s.xid::xid) AS send_committed,
                  m.expanded_at AS expanded, pg_xact_commit_timestamp(m.xmin) AS expand_committed,
                  i.created_at AS written, pg_xact_commit_timestamp(i.xmin) AS committed
             FROM unnest($1::bigint[], $2::text[]) AS s(id, xid)
             JOIN msgpool.message m ON m.id = s.id
             JOIN msgpool.delivery d ON d.message_id = m.id
             JOIN msgpool.inbox i ON i.delivery_id = d.id)
         SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM send_committed - sent)),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM expanded - send_committed)),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM expand_committed - expanded)),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM written - expand_committed)),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM committed - written))
           FROM t",
    )
    .bind(ids)
    .bind(xids)
    .fetch_one(conn)
    .await
    .context("reading the latency's stages")?;
    let (send, wake, expand, render, write) = stages;
    for (name, seconds) in [
        ("latency_p50_send", send),
        ("latency_p50_wake_up", wake),
        ("latency_p50_expand", expand),
        ("latency_p50_render", render),
        ("latency_p50_inbox_write", write),
    ] {
        figures.add(name, seconds * 1000.0, "ms");
    }
    Ok(())
}

/// Scenario 6's history: `count` messages sent a week ago (inside the default retention, so
/// the worker keeps them), with their deliveries.
async fn add_history(pool: &PgPool, count: i64) -> anyhow::Result<()> {
    write_history(
        pool,
        sqlx::query(
            "WITH m AS (
               INSERT INTO msgpool.message (type_key, payload, urgency, due_at, state, created_at, expanded_at)
               SELECT 'bench.history', jsonb_build_object('n', g), 'normal', now() - interval '7 days', 'expanded',
                      now() - interval '7 days', now() - interval '7 days'
                 FROM generate_series(1, $1) g
               RETURNING id)
             INSERT INTO msgpool.delivery (message_id, recipient_key, channel, state, attempts, sent_at, created_at)
             SELECT id, 'bench-1', 'inbox', 'sent', 1, now() - interval '7 days', now() - interval '7 days' FROM m",
        )
        .bind(count),
    )
    .await?;
    vacuum(pool, &["msgpool.message", "msgpool.delivery"]).await
}

/// Writes old messages (and what came of them) with `history`: as they would be after years
/// of use, with the validation trigger off, which would make each one new and pending. The
/// load's WAL is flushed after it, not in the middle of the measurement that follows.
async fn write_history(
    pool: &PgPool,
    history: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("ALTER TABLE msgpool.message DISABLE TRIGGER message_validate")
        .execute(&mut *conn)
        .await?;
    let written = history.execute(&mut *conn).await;
    sqlx::raw_sql("ALTER TABLE msgpool.message ENABLE TRIGGER message_validate")
        .execute(&mut *conn)
        .await?;
    written.context("writing the history")?;
    sqlx::query("CHECKPOINT").execute(&mut *conn).await?;
    Ok(())
}

/// VACUUM ANALYZE of each of `tables`, for a scenario to start from a tidy pool.
async fn vacuum(pool: &PgPool, tables: &[&str]) -> anyhow::Result<()> {
    for table in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Deliveries of the messages `first..=last` that were sent (an index range on delivery_once).
async fn sent_between(pool: &PgPool, first: i64, last: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM msgpool.delivery WHERE message_id BETWEEN $1 AND $2 AND state = 'sent'")
        .bind(first)
        .bind(last)
        .fetch_one(pool)
        .await
}

/// Waits until nothing is due or in flight. The check reads only the claim queries' partial
/// indexes, so watching costs the database next to nothing while it works.
async fn wait_until_drained(pool: &PgPool, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let busy: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM msgpool.message WHERE state = 'pending' AND due_at <= now())
                 OR EXISTS (SELECT 1 FROM msgpool.delivery WHERE state = 'pending' AND channel = 'inbox')
                 OR EXISTS (SELECT 1 FROM msgpool.delivery WHERE state = 'sending')",
        )
        .fetch_one(pool)
        .await?;
        if !busy {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not all delivered within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `msgpool worker` as a child process, inbox only.
struct Worker {
    child: Child,
}

impl Worker {
    /// `msgpool worker` with `args` and `env` besides the database, a second's grace to
    /// stop, and its output quiet.
    fn start(
        url: &str,
        home: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Worker> {
        let child = Command::new(std::env::current_exe()?)
            .arg("worker")
            .args(args)
            .args(["--grace-secs", "1"])
            .envs(env.iter().copied())
            .env("DATABASE_URL", url)
            .env("MSGPOOL_HOME", home)
            .env("MSGPOOL_LOG", "warn,sqlx=error")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the worker")?;
        Ok(Worker { child })
    }

    /// The worker's peak resident memory so far (VmHWM), in MB.
    fn peak_rss_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(kb / 1024.0)
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Worker {
    /// A benchmark that fails part-way leaves no worker behind, retrying against a cluster
    /// that is gone.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
