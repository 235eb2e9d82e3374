//! Rate limits per channel: sends per recipient per window (e.g. 10 SMS an hour per person)
//! and deliveries per second to the provider. Over a limit, deliveries wait; none is dropped.

use serde::Serialize;

use crate::domain::Channel;
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RateLimit {
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub recipient_max: Option<i32>,
    /// A PostgreSQL interval, e.g. `01:00:00`.
    pub recipient_window: Option<String>,
    pub provider_per_second: Option<i32>,
}

/// What to change; `None` keeps a limit as it is.
#[derive(Debug, Clone, Default)]
pub struct RateLimitSpec {
    /// At most this many sends per recipient per window (a PostgreSQL interval, e.g. `1 hour`).
    pub per_recipient: Option<(i32, String)>,
    pub per_second: Option<i32>,
}

const COLUMNS: &str = "channel::text AS channel, recipient_max, recipient_window::text AS recipient_window, provider_per_second";

pub async fn set(pool: &Db, channel: Channel, spec: &RateLimitSpec) -> Result<RateLimit> {
    if spec.per_recipient.is_none() && spec.per_second.is_none() {
        return Err(Error::invalid(
            format!("no limit given for {channel}"),
            "give --per-recipient N --window INTERVAL, or --per-second N",
        ));
    }
    let (max, window) = spec.per_recipient.clone().unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO msgpool.rate_limit AS l (channel, recipient_max, recipient_window, provider_per_second)
         VALUES ($1::text::msgpool.channel, $2, $3::interval, $4)
         ON CONFLICT (channel) DO UPDATE
           SET recipient_max = coalesce($2, l.recipient_max),
               recipient_window = coalesce($3::interval, l.recipient_window),
               provider_per_second = coalesce($4, l.provider_per_second)
         RETURNING {COLUMNS}"
    )))
    .bind(channel.as_str())
    .bind(max)
    .bind(window)
    .bind(spec.per_second)
    .fetch_one(pool)
    .await
    .map_err(Error::from_database(format!(
        "setting the rate limit of {channel}"
    )))
}

pub async fn list(pool: &Db) -> Result<Vec<RateLimit>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM msgpool.rate_limit ORDER BY channel"
    )))
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("listing rate limits"))
}

/// Removes every limit of `channel`.
pub async fn remove(pool: &Db, channel: Channel) -> Result<()> {
    let removed =
        sqlx::query("DELETE FROM msgpool.rate_limit WHERE channel = $1::text::msgpool.channel")
            .bind(channel.as_str())
            .execute(pool)
            .await
            .map_err(Error::from_database(format!(
                "removing the rate limit of {channel}"
            )))?;
    if removed.rows_affected() == 0 {
        return Err(Error::not_found(
            format!("{channel} has no rate limit"),
            Some("see them with: msgpool rate-limit list".to_owned()),
        ));
    }
    Ok(())
}
