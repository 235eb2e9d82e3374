//! How the pool is doing, from the `msgpool.status` view.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::types::Json;

use crate::admin::robot_limits::{self, RobotLimit};
use crate::{Db, Error, Result};

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
    /// What the running workers see of their destinations.
    pub destinations: Vec<DestinationStatus>,
    /// Chat robots' limits, per flavor.
    pub robot_limits: Vec<RobotLimit>,
    /// Open messages that were repeated, noisiest first (at most 10).
    pub duplicates: Vec<Duplicate>,
}

/// A destination (a webhook's host, the SMS gateway, the SMTP server) across the workers that
/// send to it, from `msgpool.destinations`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DestinationStatus {
    pub channel: String,
    /// `host:port`
    pub destination: String,
    pub workers: i64,
    pub in_flight: i64,
    /// The adaptive limits on sends in flight, summed over the workers.
    pub flight_limit: i64,
    /// Recent latency, the slowest worker's.
    pub latency_ms: Option<f64>,
    /// Set while the destination asked to wait (Retry-After).
    pub paused_until: Option<chrono::DateTime<chrono::Utc>>,
    pub paused_why: Option<String>,
}

/// An open message and how often it repeated: "server.down ×37".
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Duplicate {
    pub type_key: String,
    pub dedup_key: String,
    pub message_id: i64,
    /// Repeats after the first.
    pub duplicate_count: i32,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ChannelStatus {
    pub channel: String,
    /// Deliveries sent in the last 60 s.
    pub sent_last_minute: i64,
    pub pending: i64,
    pub sending: i64,
    pub dead: i64,
    /// Pending deliveries whose time has come.
    pub due: i64,
    /// Pending deliveries a rule holds back (send times, interval, quiet hours, rate limit).
    pub deferred: i64,
    /// e.g. `10 per 01:00:00`
    pub recipient_limit: Option<String>,
    pub provider_per_second: Option<i32>,
}

pub async fn read(pool: &Db) -> Result<Status> {
    let (messages, deliveries, oldest_due_seconds, dead): (Json<Counts>, Json<Counts>, Option<f64>, i64) =
        sqlx::query_as(
            "SELECT messages, deliveries, extract(epoch FROM oldest_due_age)::float8, dead FROM msgpool.status",
        )
        .fetch_one(pool)
        .await
        .map_err(Error::from_database("reading the pool's status"))?;
    let channels = sqlx::query_as(
        "SELECT channel::text AS channel, sent_last_minute, due, pending, sending, dead, deferred,
                recipient_limit, provider_per_second
           FROM msgpool.channel_status ORDER BY channel",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("reading the channels' status"))?;
    let destinations = sqlx::query_as(
        "SELECT channel::text AS channel, destination, workers, in_flight, flight_limit, latency_ms,
                paused_until, paused_why
           FROM msgpool.destinations ORDER BY channel, destination",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("reading the destinations' status"))?;
    let robot_limits = robot_limits::list(pool).await?;
    let duplicates = sqlx::query_as(
        "SELECT type_key, dedup_key, message_id, duplicate_count, last_seen_at FROM msgpool.duplicates LIMIT 10",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("reading repeated messages"))?;
    Ok(Status {
        duplicates,
        messages: messages.0,
        deliveries: deliveries.0,
        oldest_due_seconds,
        dead,
        channels,
        destinations,
        robot_limits,
    })
}

/// Deliveries sent per minute over the last hour, per channel: `sent[0]` is the current minute.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SentPerMinute {
    pub channel: String,
    pub sent: Vec<i64>,
}

pub async fn sent_per_minute(pool: &Db) -> Result<Vec<SentPerMinute>> {
    sqlx::query_as(
        "SELECT channel::text AS channel, array_agg(sent ORDER BY minute) AS sent
           FROM msgpool.sent_per_minute GROUP BY channel ORDER BY channel",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("reading the sends of the last hour"))
}
