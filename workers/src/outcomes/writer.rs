//! Writing outcomes in batches: deliveries finish one by one, outcomes go to the database a
//! few hundred at a time, each only under its lease token. A failed write is retried (the
//! leases are kept alive meanwhile), so a database outage delays outcomes, never loses them.
//! What a provider said is cleaned before it goes (no NUL, bounded length), and a batch the
//! database refuses is written one outcome at a time, so only the offending one is parked:
//! a sent delivery is recorded as sent, whatever its provider's reply held.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use msgpool::Db;
use sqlx::PgConnection;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::leases::Leases;

const MAX_BATCH: usize = 500;

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Delivered; the provider's reference if it gave one.
    Sent { provider_ref: Option<String> },
    /// The inbox row to write; it is written with its outcome in one transaction.
    Inbox { subject: String, body: String },
    /// Failed for now (timeout, refused connection, 5xx, 429, SMTP 4xx): back off and retry.
    Retry(String),
    /// Will never work (bad address, 4xx, SMTP 5xx, broken template): dead at once.
    Dead(String),
    /// The provider asked to wait: due again after `wait`, without spending an attempt.
    Throttled { wait: Duration, why: String },
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub id: i64,
    pub token: Uuid,
    /// Deliveries sent in this one's digest: they share its outcome.
    pub gathered: Vec<i64>,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// Where the deliverers hand in outcomes.
#[derive(Clone)]
pub struct OutcomeWriter {
    tx: mpsc::Sender<Finished>,
}

impl OutcomeWriter {
    pub async fn send(&self, finished: Finished) -> Result<(), String> {
        self.tx
            .send(finished)
            .await
            .map_err(|_| "the outcome writer has stopped".to_owned())
    }
}

/// Starts the writer; it ends once every [`OutcomeWriter`] is dropped and all is written.
pub fn spawn(
    pool: Db,
    leases: Arc<Leases>,
    worker: String,
) -> (OutcomeWriter, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Finished>(MAX_BATCH * 4);
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write_until_done(&pool, &batch, &worker).await;
            leases.done(batch.drain(..).map(|f| f.token));
        }
    });
    (OutcomeWriter { tx }, task)
}

async fn write_until_done(pool: &Db, batch: &[Finished], worker: &str) {
    if let Err(refused) = write_retrying(pool, batch, worker).await {
        tracing::warn!(error = %refused, outcomes = batch.len(), "the database refused a batch of outcomes; writing them one by one");
        for finished in batch {
            let Err(refused) = write_retrying(pool, std::slice::from_ref(finished), worker).await
            else {
                continue;
            };
            let parked = finished.parked(&refused);
            if let Err(e) = write_retrying(pool, std::slice::from_ref(&parked), worker).await {
                // its lease expires, and the delivery is attempted again
                tracing::error!(delivery = finished.id, error = %e, "could not record an outcome at all");
            }
        }
    }
}

/// Writes `batch`, retrying with backoff while the database is out of reach; returns the
/// error when the database refused it, which no retry can change.
async fn write_retrying(pool: &Db, batch: &[Finished], worker: &str) -> Result<(), sqlx::Error> {
    let mut failures = 0u32;
    loop {
        let written = async {
            let mut session = pool.session().await?;
            write(&mut session, batch, worker).await?;
            session.finish().await
        };
        let e = match written.await {
            Ok(()) => return Ok(()),
            Err(e) if refused(&e) => return Err(e),
            Err(e) => e,
        };
        failures += 1;
        let wait = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
        tracing::warn!(error = %e, outcomes = batch.len(), retry_in = ?wait, "could not write outcomes");
        tokio::time::sleep(wait).await;
    }
}

/// The database answered and said no (bad data, a constraint): the same write would fail
/// again. Lost connections, shutdowns, deadlocks and resource limits pass.
fn refused(e: &sqlx::Error) -> bool {
    let Some(code) = e.as_database_error().and_then(|d| d.code()) else {
        return false;
    };
    !["08", "40", "53", "55", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
}

/// A provider's words as they may be stored: no NUL (PostgreSQL's text cannot hold one)
/// and at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let mut cleaned: String = text.chars().filter(|&c| c != '\0').take(max).collect();
    if text.chars().count() > max {
        cleaned.push('…');
    }
    cleaned
}

/// Most characters of an error or a provider's reference kept with a delivery.
const MAX_ERROR_CHARS: usize = 2000;
const MAX_REF_CHARS: usize = 500;

impl Finished {
    /// What to record instead when the database refused this outcome: a sent delivery stays
    /// sent (without the provider's reference); anything else is parked, saying why.
    fn parked(&self, refused: &sqlx::Error) -> Finished {
        let outcome = match &self.outcome {
            Outcome::Sent { .. } => Outcome::Sent { provider_ref: None },
            _ => Outcome::Dead(format!(
                "the database refused this delivery's outcome: {refused}"
            )),
        };
        Finished {
            outcome,
            gathered: self.gathered.clone(),
            ..*self
        }
    }
}

/// Writes the outcomes of `batch` once: inbox rows first, then the rest.
pub(crate) async fn write(
    conn: &mut PgConnection,
    batch: &[Finished],
    worker: &str,
) -> sqlx::Result<()> {
    let mut inbox = Vec::new();
    let mut outcomes = Vec::new();
    for f in batch {
        let mut outcome = |outcome: &str,
                           error: Option<&str>,
                           provider_ref: Option<&str>,
                           wait: Option<Duration>| {
            for id in std::iter::once(f.id).chain(f.gathered.iter().copied()) {
                outcomes.push(serde_json::json!({
                    "id": id, "token": f.token, "outcome": outcome,
                    "error": error.map(|e| clean(e, MAX_ERROR_CHARS)),
                    "provider_ref": provider_ref.map(|r| clean(r, MAX_REF_CHARS)),
                    "started_at": f.started_at, "worker": worker,
                    "wait_ms": wait.map(|w| w.as_millis() as u64),
                }));
            }
        };
        match &f.outcome {
            Outcome::Inbox { subject, body } => inbox.push(serde_json::json!({
                "id": f.id, "token": f.token, "subject": clean(subject, usize::MAX),
                "body": clean(body, usize::MAX),
                "gathered": f.gathered, "started_at": f.started_at, "worker": worker,
            })),
            Outcome::Sent { provider_ref } => outcome("sent", None, provider_ref.as_deref(), None),
            Outcome::Retry(error) => outcome("retry", Some(error), None, None),
            Outcome::Dead(error) => outcome("dead", Some(error), None, None),
            Outcome::Throttled { wait, why } => outcome("throttled", Some(why), None, Some(*wait)),
        }
    }
    if !inbox.is_empty() {
        sqlx::query("SELECT msgpool.deliver_to_inbox($1)")
            .bind(serde_json::Value::Array(inbox))
            .execute(&mut *conn)
            .await?;
    }
    if !outcomes.is_empty() {
        sqlx::query("SELECT msgpool.record_outcomes($1)")
            .bind(serde_json::Value::Array(outcomes))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
