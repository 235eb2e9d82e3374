//! Deliveries as operators see them: listing with filters, and re-queueing dead ones.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::admin::Keyed;
use crate::domain::{Channel, DeliveryState, RecipientKey, TypeKey};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub message_id: i64,
    pub type_key: String,
    pub recipient_key: String,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_ref: Option<String>,
    /// The last error, or why it was skipped.
    pub problem: Option<String>,
    /// The rule that moved it later: send times, an interval, quiet hours, a rate limit.
    pub deferred_by: Option<String>,
    /// Sent inside the digest of this delivery.
    pub gathered_into: Option<i64>,
}

/// `SELECT <a delivery's columns as Delivery reads them> FROM delivery d JOIN message m `
macro_rules! columns {
    () => {
        "SELECT d.id, d.message_id, m.type_key, d.recipient_key::text, d.channel::text AS channel,
                d.state::text AS state, d.attempts, d.next_attempt_at, d.sent_at, d.provider_ref,
                coalesce(d.last_error, d.skip_reason) AS problem, d.deferred_by, d.gathered_into
           FROM msgpool.delivery d JOIN msgpool.message m ON m.id = d.message_id "
    };
}

/// Which deliveries: every field given narrows the set.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<DeliveryState>,
    pub type_key: Option<TypeKey>,
    pub recipient: Option<RecipientKey>,
    pub channel: Option<Channel>,
    /// Only deliveries a rule holds back right now.
    pub deferred: bool,
    /// The page after the one that ended at this id.
    pub before: Option<i64>,
}

/// The newest `limit` deliveries matching `filter`; a type or recipient that does not exist
/// is refused with the nearest key, rather than answered with an empty list.
pub async fn list(pool: &Db, filter: &Filter, limit: i64) -> Result<Vec<Delivery>> {
    if let Some(key) = &filter.type_key {
        Keyed::MessageType.require(pool, key.as_str()).await?;
    }
    if let Some(key) = &filter.recipient {
        Keyed::Recipient.require(pool, key.as_str()).await?;
    }
    // Only the filters given, and the closed sets (state, channel) as literals: each
    // combination is a statement of its own whose plan can use the partial indexes
    // (`delivery_dead`, `delivery_due`), which a catch-all `$1 IS NULL OR ...` cannot.
    let mut query = sqlx::QueryBuilder::new(concat!(columns!(), "WHERE true"));
    if let Some(state) = filter.state {
        query.push(format_args!(" AND d.state = '{}'", state.as_str()));
    }
    if filter.deferred {
        query.push(
            " AND d.state = 'pending' AND d.deferred_by IS NOT NULL AND d.next_attempt_at > msgpool.clock()",
        );
    }
    if let Some(channel) = filter.channel {
        query.push(format_args!(" AND d.channel = '{}'", channel.as_str()));
    }
    if let Some(key) = &filter.type_key {
        query.push(" AND m.type_key = ").push_bind(key.as_str());
    }
    if let Some(key) = &filter.recipient {
        query
            .push(" AND d.recipient_key = ")
            .push_bind(key.as_str());
    }
    if let Some(before) = filter.before {
        query.push(" AND d.id < ").push_bind(before);
    }
    query.push(" ORDER BY d.id DESC LIMIT ").push_bind(limit);
    query
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing deliveries"))
}

/// Every delivery of one message, by recipient and channel.
pub async fn of_message(pool: &Db, message_id: i64) -> Result<Vec<Delivery>> {
    sqlx::query_as(concat!(
        columns!(),
        "WHERE d.message_id = $1 ORDER BY d.recipient_key, d.channel"
    ))
    .bind(message_id)
    .fetch_all(pool)
    .await
    .map_err(Error::from_database(format!(
        "reading the deliveries of message {message_id}"
    )))
}

/// Re-queues dead deliveries: those in `ids`, or all matching `filter` (its state is
/// ignored: only dead ones are re-queued). Returns how many.
pub async fn retry(pool: &Db, ids: Option<&[i64]>, filter: &Filter) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.retry_deliveries($1, $2, $3, $4::text::msgpool.channel)")
        .bind(ids)
        .bind(filter.type_key.as_ref().map(TypeKey::as_str))
        .bind(filter.recipient.as_ref().map(RecipientKey::as_str))
        .bind(filter.channel.map(Channel::as_str))
        .fetch_one(pool)
        .await
        .map_err(Error::from_database("re-queueing deliveries"))
}
