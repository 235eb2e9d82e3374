//! How the pool is doing, from the `msgpool.status` view.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::{Error, Result};

/// Count per state, e.g. `pending: 3`.
pub type Counts = BTreeMap<String, i64>;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Messages per state, e.g. `pending: 3`.
    pub messages: Counts,
    /// Deliveries per state.
    pub deliveries: Counts,
    /// Seconds the longest-waiting due message or delivery has waited; `None` when nothing is due.
    pub oldest_due_seconds: Option<f64>,
    /// Deliveries that gave up.
    pub dead: i64,
    pub channels: Vec<ChannelStatus>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ChannelStatus {
    pub channel: String,
    /// Deliveries sent in the last 60 s.
    pub sent_last_minute: i64,
    pub pending: i64,
    pub sending: i64,
    pub dead: i64,
}

pub async fn read(pool: &PgPool) -> Result<Status> {
    let (messages, deliveries, oldest_due_seconds, dead): (Json<Counts>, Json<Counts>, Option<f64>, i64) =
        sqlx::query_as(
            "SELECT messages, deliveries, extract(epoch FROM oldest_due_age)::float8, dead FROM msgpool.status",
        )
        .fetch_one(pool)
        .await
        .map_err(Error::from_database("reading the pool's status"))?;
    let channels = sqlx::query_as(
        "SELECT channel::text AS channel, sent_last_minute, pending, sending, dead FROM msgpool.channel_status ORDER BY channel",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("reading the channels' status"))?;
    Ok(Status {
        messages: messages.0,
        deliveries: deliveries.0,
        oldest_due_seconds,
        dead,
        channels,
    })
}
