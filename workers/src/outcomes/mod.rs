//! Outcomes: what became of each attempt, on its way back to the database.
//!
//! - this file: the outcome of one attempt ([`Outcome`], [`Finished`]);
//! - [`record`]: outcomes as the SQL contract's rows (`msgpool.outcome`,
//!   `msgpool.inbox_item`), written with `record_outcomes()` and `deliver_to_inbox()`;
//! - [`writer`]: the task that writes them in batches, retrying while the database is away
//!   and parking alone an outcome the database refuses.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub mod record;
pub mod writer;

pub use writer::{OutcomeWriter, spawn};

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

/// An attempt at a claim, finished: its outcome and what it covered.
#[derive(Debug, Clone)]
pub struct Finished {
    pub id: i64,
    pub lease_token: Uuid,
    /// Deliveries sent in this one's digest: they share its outcome.
    pub gathered: Vec<i64>,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
}

impl Finished {
    /// What to record instead when the database refused this outcome: a sent delivery stays
    /// sent (without the provider's reference); anything else is parked, saying why.
    pub(crate) fn parked(&self, refused: &sqlx::Error) -> Finished {
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
