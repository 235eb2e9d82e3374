//! What happened to messages: the pool's history with filters, and one message with every
//! delivery and attempt. Pages go by keyset (`before` an id), so they cost the same with
//! millions of rows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::deliveries::Delivery;
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageSummary {
    pub id: i64,
    pub type_key: String,
    pub category: String,
    pub urgency: String,
    pub state: String,
    pub source: Option<String>,
    pub dedup_key: Option<String>,
    pub duplicate_count: i32,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// Which messages: every field given narrows the set.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub type_key: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub state: Option<String>,
    pub source: Option<String>,
    pub dedup_key: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The page after the one that ended at this id.
    pub before: Option<i64>,
}

/// The newest `limit` messages matching `filter` (before `filter.before`).
pub async fn messages(
    pool: &Db,
    filter: &MessageFilter,
    limit: i64,
) -> Result<Vec<MessageSummary>> {
    // Only the filters given, so that each combination plans on its own (a type's messages
    // by `message_type_newest`, the rest newest first by the primary key).
    let mut query = sqlx::QueryBuilder::new(
        "SELECT m.id, m.type_key, t.category, m.urgency::text AS urgency, m.state::text AS state,
                m.source, m.dedup_key, m.duplicate_count, m.created_at, m.due_at
           FROM msgpool.message m JOIN msgpool.message_type t ON t.key = m.type_key
          WHERE true",
    );
    let text_filters = [
        ("m.type_key", &filter.type_key),
        ("t.category", &filter.category),
        ("m.source", &filter.source),
        ("m.dedup_key", &filter.dedup_key),
    ];
    for (column, value) in text_filters {
        if let Some(value) = value {
            query
                .push(format_args!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    if let Some(urgency) = &filter.urgency {
        query
            .push(" AND m.urgency = ")
            .push_bind(urgency.clone())
            .push("::text::msgpool.urgency");
    }
    if let Some(state) = &filter.state {
        query
            .push(" AND m.state = ")
            .push_bind(state.clone())
            .push("::text::msgpool.message_state");
    }
    if let Some(since) = filter.since {
        query.push(" AND m.created_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        query.push(" AND m.created_at < ").push_bind(until);
    }
    if let Some(before) = filter.before {
        query.push(" AND m.id < ").push_bind(before);
    }
    query.push(" ORDER BY m.id DESC LIMIT ").push_bind(limit);
    query
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing messages"))
}

/// One message with everything that happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageDetail {
    pub message: MessageSummary,
    pub payload: serde_json::Value,
    pub recipients: Option<Vec<String>>,
    /// Why it was refused or failed to expand, if it was.
    pub error: Option<String>,
    pub deliveries: Vec<DeliveryHistory>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryHistory {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

/// One try at sending, with the provider's answer or the error.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub delivery_id: i64,
    pub attempt: i32,
    pub outcome: String,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub worker: Option<String>,
}

/// A message's own columns: payload, explicit recipients, error.
type MessageRow = (
    sqlx::types::Json<serde_json::Value>,
    Option<Vec<String>>,
    Option<String>,
);

pub async fn message(pool: &Db, id: i64) -> Result<MessageDetail> {
    let found: Option<MessageRow> =
        sqlx::query_as("SELECT payload, recipients, error FROM msgpool.message WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(Error::from_database(format!("reading message {id}")))?;
    let Some((payload, recipients, error)) = found else {
        return Err(Error::not_found(
            format!("no message {id}"),
            Some("it may have been pruned; see the newest in the activity list".to_owned()),
        ));
    };
    let summary = messages(
        pool,
        &MessageFilter {
            before: Some(id + 1),
            ..MessageFilter::default()
        },
        1,
    )
    .await?
    .into_iter()
    .next()
    .filter(|m| m.id == id)
    .ok_or_else(|| Error::not_found(format!("no message {id}"), None))?;
    let deliveries = crate::deliveries::of_message(pool, id).await?;
    let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
    let attempts: Vec<Attempt> = sqlx::query_as(
        "SELECT delivery_id, attempt, outcome::text AS outcome, error, started_at, finished_at, worker
           FROM msgpool.delivery_attempt WHERE delivery_id = ANY ($1) ORDER BY delivery_id, id",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .map_err(Error::from_database(format!("reading the attempts of message {id}")))?;
    let deliveries = deliveries
        .into_iter()
        .map(|delivery| DeliveryHistory {
            attempts: attempts
                .iter()
                .filter(|a| a.delivery_id == delivery.id)
                .cloned()
                .collect(),
            delivery,
        })
        .collect();
    Ok(MessageDetail {
        message: summary,
        payload: payload.0,
        recipients,
        error,
        deliveries,
    })
}

/// Messages per type over the last 24 hours.
pub async fn messages_last_day(pool: &Db) -> Result<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT type_key, count(*) FROM msgpool.message
          WHERE created_at > now() - interval '24 hours' GROUP BY type_key",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("counting the last day's messages"))?;
    Ok(rows.into_iter().collect())
}
