//! What happened to messages: the pool's history with filters, and one message with every
//! delivery and attempt. Pages go by keyset (`before` an id), so they cost the same with
//! millions of rows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::deliveries::Delivery;
use crate::domain::{MessageState, TypeKey, Urgency};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageSummary {
    pub id: i64,
    pub type_key: String,
    pub category: String,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    #[sqlx(try_from = "String")]
    pub state: MessageState,
    pub source: Option<String>,
    pub dedup_key: Option<String>,
    pub duplicate_count: i32,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// `SELECT <a message's columns as MessageSummary reads them> <more> FROM message m JOIN
/// message_type t <rest>`
macro_rules! select {
    ($more:literal, $rest:literal) => {
        concat!(
            "SELECT m.id, m.type_key, t.category, m.urgency::text AS urgency, m.state::text AS state,
                    m.source, m.dedup_key, m.duplicate_count, m.created_at, m.due_at ",
            $more,
            " FROM msgpool.message m JOIN msgpool.message_type t ON t.key = m.type_key ",
            $rest
        )
    };
}

/// Which messages: every field given narrows the set.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub type_key: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<Urgency>,
    pub state: Option<MessageState>,
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
    let mut query = sqlx::QueryBuilder::new(select!("", "WHERE true"));
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
    // closed sets, as literals (see deliveries::list)
    if let Some(urgency) = filter.urgency {
        query.push(format_args!(" AND m.urgency = '{}'", urgency.as_str()));
    }
    if let Some(state) = filter.state {
        query.push(format_args!(" AND m.state = '{}'", state.as_str()));
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

/// A message as its page reads it: the summary, and what only the page shows.
#[derive(sqlx::FromRow)]
struct MessageRow {
    #[sqlx(flatten)]
    summary: MessageSummary,
    payload: sqlx::types::Json<serde_json::Value>,
    recipients: Option<Vec<String>>,
}

pub async fn message(pool: &Db, id: i64) -> Result<MessageDetail> {
    let found: Option<MessageRow> =
        sqlx::query_as(select!(", m.payload, m.recipients", "WHERE m.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(Error::from_database(format!("reading message {id}")))?;
    let Some(row) = found else {
        return Err(Error::not_found(
            format!("no message {id}"),
            Some("it may have been pruned; see the newest in the activity list".to_owned()),
        ));
    };
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
        message: row.summary,
        payload: row.payload.0,
        recipients: row.recipients,
        deliveries,
    })
}

/// Messages per type over the last 24 hours (of one type, given `only`).
pub async fn messages_last_day(
    pool: &Db,
    only: Option<&TypeKey>,
) -> Result<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT type_key, count(*) FROM msgpool.message
          WHERE created_at > now() - interval '24 hours' AND ($1::text IS NULL OR type_key = $1)
          GROUP BY type_key",
    )
    .bind(only.map(TypeKey::as_str))
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("counting the last day's messages"))?;
    Ok(rows.into_iter().collect())
}
