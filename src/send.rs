//! The producer's side from Rust: `msgpool.send()`, the same call any language makes.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{RecipientKey, TypeKey, Urgency};
use crate::{Error, Result};

/// A message to put into the pool. Only the type is required.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub type_key: TypeKey,
    /// A JSON object; its keys are the template variables.
    pub payload: serde_json::Value,
    pub dedup_key: Option<String>,
    pub deliver_at: Option<DateTime<Utc>>,
    /// Explicit recipients instead of the type's subscribers.
    pub recipients: Option<Vec<RecipientKey>>,
    pub source: Option<String>,
    /// Overrides the type's urgency for this message.
    pub urgency: Option<Urgency>,
}

impl NewMessage {
    pub fn new(type_key: TypeKey, payload: serde_json::Value) -> NewMessage {
        NewMessage {
            type_key,
            payload,
            dedup_key: None,
            deliver_at: None,
            recipients: None,
            source: None,
            urgency: None,
        }
    }
}

/// Puts the message into the pool and returns its id. Bad input is refused by the database
/// with its MPxxx SQLSTATE (see `Error::sqlstate`) and a hint.
pub async fn send(pool: &PgPool, message: &NewMessage) -> Result<i64> {
    sqlx::query_scalar("SELECT msgpool.send($1, $2, $3, $4, $5, $6, $7::text::msgpool.urgency)")
        .bind(message.type_key.as_str())
        .bind(&message.payload)
        .bind(message.dedup_key.as_deref())
        .bind(message.deliver_at)
        .bind(
            message
                .recipients
                .as_ref()
                .map(|r| r.iter().map(RecipientKey::as_str).collect::<Vec<_>>()),
        )
        .bind(message.source.as_deref())
        .bind(message.urgency.map(Urgency::as_str))
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "sending a {} message",
            message.type_key
        )))
}
