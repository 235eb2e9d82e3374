//! Quiet hours: per type and channel, no deliveries below an urgency between two local
//! times (in the type's time zone); inside, a delivery is deferred to the end or dropped.

use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};

use super::message_types;
use crate::domain::{Channel, QuietAction, TypeKey, Urgency};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct QuietHours {
    pub type_key: String,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    /// HH:MM, local to `time_zone`
    pub starts: String,
    pub ends: String,
    pub time_zone: String,
    /// Messages this urgent or more are not held.
    #[sqlx(try_from = "String")]
    pub below: Urgency,
    #[sqlx(try_from = "String")]
    pub action: QuietAction,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT q.type_key::text, q.channel::text AS channel, to_char(q.starts, 'HH24:MI') AS starts,
                    to_char(q.ends, 'HH24:MI') AS ends, t.time_zone, q.below::text AS below,
                    q.action::text AS action
               FROM msgpool.quiet_hours q JOIN msgpool.message_type t ON t.key = q.type_key ",
            $rest
        )
    };
}

/// The window of one channel of a type: `starts` and `ends` are local times (HH:MM), the
/// window may wrap midnight. Replaces the channel's window if it had one.
pub async fn set(
    pool: &Db,
    type_key: &TypeKey,
    channel: Channel,
    (starts, ends): (&str, &str),
    below: Urgency,
    action: QuietAction,
) -> Result<QuietHours> {
    let context = format!("setting quiet hours for {channel} of {type_key}");
    let mut tx = pool.begin().await.map_err(Error::from_database(&context))?;
    let set = set_in(&mut tx, type_key, channel, (starts, ends), below, action).await?;
    tx.commit().await.map_err(Error::from_database(&context))?;
    Ok(set)
}

/// [`set`] inside the caller's transaction.
pub(crate) async fn set_in(
    conn: &mut PgConnection,
    type_key: &TypeKey,
    channel: Channel,
    (starts, ends): (&str, &str),
    below: Urgency,
    action: QuietAction,
) -> Result<QuietHours> {
    // a clear "unknown message type" rather than a foreign key violation
    message_types::get_in(conn, type_key).await?;
    let context = format!("setting quiet hours for {channel} of {type_key}");
    let parse = |what: &str, value: &str| -> Result<()> {
        chrono::NaiveTime::parse_from_str(value, "%H:%M")
            .map(drop)
            .map_err(|_| {
                Error::invalid(
                    format!("{what} {value:?} is not a time of day"),
                    "write it as HH:MM, e.g. 22:00",
                )
            })
    };
    parse("the start", starts)?;
    parse("the end", ends)?;
    sqlx::query(
        "INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends, below, action)
         VALUES ($1, $2::text::msgpool.channel, $3::time, $4::time, $5::text::msgpool.urgency,
                 $6::text::msgpool.quiet_action)
         ON CONFLICT (type_key, channel) DO UPDATE
           SET starts = excluded.starts, ends = excluded.ends, below = excluded.below, action = excluded.action",
    )
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .bind(starts)
    .bind(ends)
    .bind(below.as_str())
    .bind(action.as_str())
    .execute(&mut *conn)
    .await
    .map_err(Error::from_database(&context))?;
    sqlx::query_as(select!(
        "WHERE q.type_key = $1 AND q.channel = $2::text::msgpool.channel"
    ))
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::from_database(&context))
}

/// Every window, or those of one type.
pub async fn list(pool: &Db, type_key: Option<&TypeKey>) -> Result<Vec<QuietHours>> {
    sqlx::query_as(select!(
        "WHERE $1::text IS NULL OR q.type_key = $1 ORDER BY 1, 2"
    ))
    .bind(type_key.map(TypeKey::as_str))
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("listing quiet hours"))
}

pub async fn remove(pool: &Db, type_key: &TypeKey, channel: Channel) -> Result<()> {
    if !clear(pool, type_key, channel).await? {
        return Err(Error::not_found(
            format!("{type_key} has no quiet hours for {channel}"),
            Some(format!(
                "see them with: msgpool quiet-hours list {type_key}"
            )),
        ));
    }
    Ok(())
}

/// Removes the window of one channel if it has one; whether there was one.
pub(crate) async fn clear<'e>(
    db: impl PgExecutor<'e>,
    type_key: &TypeKey,
    channel: Channel,
) -> Result<bool> {
    let removed = sqlx::query(
        "DELETE FROM msgpool.quiet_hours WHERE type_key = $1 AND channel = $2::text::msgpool.channel",
    )
    .bind(type_key.as_str())
    .bind(channel.as_str())
    .execute(db)
    .await
    .map_err(Error::from_database(format!(
        "removing quiet hours for {channel} of {type_key}"
    )))?;
    Ok(removed.rows_affected() > 0)
}
