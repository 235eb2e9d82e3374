//! The producer's side from Rust: `msgpool.send()`, the same call any language makes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

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

/// Puts the message into the pool and returns its id (an open message's, when the dedup
/// key counted it as a repeat). Bad input is refused by the database with its MPxxx SQLSTATE
/// (see `Error::sqlstate`) and a hint. Give it a transaction to send with a business write.
pub async fn send<'e>(db: impl PgExecutor<'e>, message: &NewMessage) -> Result<i64> {
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
        .fetch_one(db)
        .await
        .map_err(Error::from_database(format!(
            "sending a {} message",
            message.type_key
        )))
}

/// How many repeats message `id` has counted: read in the transaction that sent it, 0 means
/// that send made it (no other session can count on a message before it commits). Needs the
/// right to read the pool, which producers do not have.
pub async fn repeats(conn: &mut PgConnection, id: i64) -> Result<i32> {
    sqlx::query_scalar("SELECT duplicate_count FROM msgpool.message WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
        .map_err(Error::from_database(format!("reading message {id}")))
}
