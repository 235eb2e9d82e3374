//! Outcomes as rows of the SQL contract: `msgpool.outcome` for `record_outcomes()`
//! (sql/schema/10_outcomes.sql) and `msgpool.inbox_item` for `deliver_to_inbox()`
//! (sql/schema/11_inbox.sql), each sent as a JSON array of objects with the rows' keys.
//! What a provider said is cleaned before it goes: no NUL (PostgreSQL's text cannot hold
//! one) and a bounded length.

use chrono::{DateTime, Utc};
use msgpool::domain::AttemptOutcome;
use msgpool::sql_record;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Finished, Outcome};

sql_record! {
    /// How one attempt went: `msgpool.outcome`.
    #[derive(Debug, Clone, Serialize)]
    pub struct OutcomeRecord: "msgpool.outcome" {
        pub id: i64,
        pub lease_token: Uuid,
        pub outcome: AttemptOutcome,
        pub error: Option<String>,
        pub provider_ref: Option<String>,
        pub started_at: DateTime<Utc>,
        pub worker: String,
        /// How long a throttled delivery waits.
        pub wait_ms: Option<i64>,
    }
}

sql_record! {
    /// A claimed inbox delivery as rendered: `msgpool.inbox_item`.
    #[derive(Debug, Clone, Serialize)]
    pub struct InboxItem: "msgpool.inbox_item" {
        pub id: i64,
        pub lease_token: Uuid,
        pub subject: String,
        pub body: String,
        /// The deliveries gathered into it (a digest), recorded sent with it.
        pub gathered: Vec<i64>,
        pub started_at: DateTime<Utc>,
        pub worker: String,
    }
}

/// Most characters of an error or a provider's reference kept with a delivery.
const MAX_ERROR_CHARS: usize = 2000;
const MAX_REF_CHARS: usize = 500;

/// A provider's words as they may be stored: no NUL and at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let mut cleaned: String = text.chars().filter(|&c| c != '\0').take(max).collect();
    if text.chars().count() > max {
        cleaned.push('…');
    }
    cleaned
}

/// The rows a batch of finished attempts comes to: inbox items, and outcomes (a digest's
/// outcome once for each of its deliveries).
fn records(batch: &[Finished], worker: &str) -> (Vec<InboxItem>, Vec<OutcomeRecord>) {
    let mut inbox = Vec::new();
    let mut outcomes = Vec::new();
    for f in batch {
        let (outcome, error, provider_ref, wait) = match &f.outcome {
            Outcome::Inbox { subject, body } => {
                inbox.push(InboxItem {
                    id: f.id,
                    lease_token: f.lease_token,
                    subject: clean(subject, usize::MAX),
                    body: clean(body, usize::MAX),
                    gathered: f.gathered.clone(),
                    started_at: f.started_at,
                    worker: worker.to_owned(),
                });
                continue;
            }
            Outcome::Sent { provider_ref } => {
                (AttemptOutcome::Sent, None, provider_ref.as_deref(), None)
            }
            Outcome::Retry(error) => (AttemptOutcome::Retry, Some(error), None, None),
            Outcome::Dead(error) => (AttemptOutcome::Dead, Some(error), None, None),
            Outcome::Throttled { wait, why } => {
                (AttemptOutcome::Throttled, Some(why), None, Some(*wait))
            }
        };
        for id in std::iter::once(f.id).chain(f.gathered.iter().copied()) {
            outcomes.push(OutcomeRecord {
                id,
                lease_token: f.lease_token,
                outcome,
                error: error.map(|e| clean(e, MAX_ERROR_CHARS)),
                provider_ref: provider_ref.map(|r| clean(r, MAX_REF_CHARS)),
                started_at: f.started_at,
                worker: worker.to_owned(),
                wait_ms: wait.map(|w| i64::try_from(w.as_millis()).unwrap_or(i64::MAX)),
            });
        }
    }
    (inbox, outcomes)
}

/// Writes the outcomes of `batch` once: inbox rows first, then the rest.
pub(crate) async fn write(
    conn: &mut PgConnection,
    batch: &[Finished],
    worker: &str,
) -> sqlx::Result<()> {
    let (inbox, outcomes) = records(batch, worker);
    if !inbox.is_empty() {
        sqlx::query("SELECT msgpool.deliver_to_inbox($1)")
            .bind(sqlx::types::Json(&inbox))
            .execute(&mut *conn)
            .await?;
    }
    if !outcomes.is_empty() {
        sqlx::query("SELECT msgpool.record_outcomes($1)")
            .bind(sqlx::types::Json(&outcomes))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
