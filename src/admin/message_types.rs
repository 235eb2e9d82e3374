//! Message types: what producers may send, how urgent it is, on which channels.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Keyed;
use crate::domain::{Channels, SendPolicy, TypeKey, Urgency};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MessageType {
    #[sqlx(try_from = "String")]
    pub key: TypeKey,
    pub name: String,
    pub description: String,
    pub category: String,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    #[sqlx(try_from = "Vec<String>")]
    pub channels: Channels,
    #[sqlx(try_from = "String")]
    pub send_policy: SendPolicy,
    /// Local times of day (HH:MM) in `time_zone`.
    pub send_times: Vec<String>,
    pub time_zone: String,
    pub send_interval: Option<String>,
    pub dedup_window: String,
    /// Deferred messages due together go to a recipient as one digest (else one by one).
    pub digest: bool,
    pub max_attempts: i32,
    /// The most urgent a producer may ask for; `None`: no higher than `urgency`.
    pub max_urgency: Option<Urgency>,
    /// Producers may name recipients who are not subscribers.
    pub any_recipient: bool,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `SELECT <a message type's columns as MessageType reads them> FROM msgpool.message_type <rest>`
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT key, name, description, category, urgency::text AS urgency, channels::text[] AS channels,
                    send_policy::text AS send_policy,
                    ARRAY(SELECT to_char(t, 'HH24:MI') FROM unnest(send_times) t ORDER BY t) AS send_times,
                    time_zone, send_interval::text AS send_interval, dedup_window::text AS dedup_window,
                    digest, max_attempts, max_urgency, any_recipient, enabled, created_at, updated_at
               FROM msgpool.message_type ",
            $rest
        )
    };
}

/// The settings of a type to add or change; `None` leaves a setting as it is (or at its
/// default, for a new type).
#[derive(Debug, Clone, Default)]
pub struct MessageTypeSpec {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<Urgency>,
    pub channels: Option<Channels>,
    pub send_policy: Option<SendPolicy>,
    pub send_times: Option<Vec<String>>,
    pub time_zone: Option<String>,
    /// A PostgreSQL interval, e.g. `2 hours`.
    pub send_interval: Option<String>,
    pub dedup_window: Option<String>,
    pub digest: Option<bool>,
    pub max_attempts: Option<i32>,
    pub max_urgency: Option<Urgency>,
    pub any_recipient: Option<bool>,
}

pub async fn add(pool: &Db, key: &TypeKey, spec: &MessageTypeSpec) -> Result<MessageType> {
    let name = spec.name.as_deref();
    Keyed::MessageType
        .add(pool, key.as_str(), name, async |conn| {
            apply(conn, key, spec).await
        })
        .await
}

pub async fn edit(pool: &Db, key: &TypeKey, spec: &MessageTypeSpec) -> Result<MessageType> {
    Keyed::MessageType
        .edit(pool, key.as_str(), async |conn| {
            apply(conn, key, spec).await
        })
        .await
}

/// Updates, then reads the row as it now is: a statement's CTE would see it as it was.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    key: &TypeKey,
    spec: &MessageTypeSpec,
) -> sqlx::Result<Option<MessageType>> {
    let updated = sqlx::query(
        "UPDATE msgpool.message_type SET
             name          = coalesce($2, name),
             description   = coalesce($3, description),
             category      = coalesce($4, category),
             urgency       = coalesce($5::text::msgpool.urgency, urgency),
             channels      = coalesce($6::text[]::msgpool.channel[], channels),
             send_policy   = coalesce($7::text::msgpool.send_policy, send_policy),
             send_times    = coalesce($8::text[]::time[], send_times),
             time_zone     = coalesce($9, time_zone),
             send_interval = coalesce($10::interval, send_interval),
             dedup_window  = coalesce($11::interval, dedup_window),
             max_attempts  = coalesce($12, max_attempts),
             digest        = coalesce($13, digest),
             max_urgency   = coalesce($14, max_urgency),
             any_recipient = coalesce($15, any_recipient)
           WHERE key = $1",
    )
    .bind(key.as_str())
    .bind(spec.name.as_deref())
    .bind(spec.description.as_deref())
    .bind(spec.category.as_deref())
    .bind(spec.urgency.map(Urgency::as_str))
    .bind(spec.channels.as_ref().map(Channels::names))
    .bind(spec.send_policy.map(SendPolicy::as_str))
    .bind(spec.send_times.as_deref())
    .bind(spec.time_zone.as_deref())
    .bind(spec.send_interval.as_deref())
    .bind(spec.dedup_window.as_deref())
    .bind(spec.max_attempts)
    .bind(spec.digest)
    .bind(spec.max_urgency)
    .bind(spec.any_recipient)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query_as(select!("WHERE key = $1"))
        .bind(key.as_str())
        .fetch_optional(conn)
        .await
}

pub async fn list(pool: &Db) -> Result<Vec<MessageType>> {
    sqlx::query_as(select!("ORDER BY key"))
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing message types"))
}

pub async fn get(pool: &Db, key: &TypeKey) -> Result<MessageType> {
    let mut session = pool
        .session()
        .await
        .map_err(Error::from_database(format!("reading message type {key}")))?;
    let found = get_in(&mut session, key).await;
    session
        .finish()
        .await
        .map_err(Error::from_database(format!("reading message type {key}")))?;
    found
}

/// [`get`] inside the caller's transaction.
pub(crate) async fn get_in(conn: &mut PgConnection, key: &TypeKey) -> Result<MessageType> {
    let found = sqlx::query_as(select!("WHERE key = $1"))
        .bind(key.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(Error::from_database(format!("reading message type {key}")))?;
    match found {
        Some(found) => Ok(found),
        None => Err(Keyed::MessageType.not_found(conn, key.as_str()).await),
    }
}

/// The type's send-time and noise rules in words, with when a message sent now would go
/// out (`msgpool.explain`).
pub async fn explain(pool: &Db, key: &TypeKey) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT line FROM msgpool.explain($1) AS line")
        .bind(key.as_str())
        .fetch_all(pool)
        .await
        .map_err(Error::from_database(format!(
            "explaining message type {key}"
        )))
}

pub async fn set_enabled(pool: &Db, key: &TypeKey, enabled: bool) -> Result<MessageType> {
    Keyed::MessageType
        .set_enabled(pool, key.as_str(), enabled)
        .await?;
    get(pool, key).await
}

/// What removing a type took with it: its configuration, never its history.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    pub templates: i64,
    pub subscriptions: i64,
}

/// Removes a type that has never been used. One with messages in the pool is refused with
/// the advice to disable it: its messages are history.
pub async fn remove(pool: &Db, key: &TypeKey) -> Result<Removed> {
    let removed: Option<(i64, i64)> = sqlx::query_as(
        "WITH gone AS (DELETE FROM msgpool.message_type WHERE key = $1 RETURNING key)
         SELECT (SELECT count(*) FROM msgpool.template WHERE type_key = $1),
                (SELECT count(*) FROM msgpool.subscription WHERE type_key = $1)
           FROM gone",
    )
    .bind(key.as_str())
    .fetch_optional(pool)
    .await
    // A type with messages is refused by the message_type_guard trigger, with its own
    // message and a "disable it instead" hint.
    .map_err(Error::from_database(format!("removing message type {key}")))?;
    match removed {
        Some((templates, subscriptions)) => Ok(Removed {
            templates,
            subscriptions,
        }),
        None => Err(Keyed::MessageType.not_found(pool, key.as_str()).await),
    }
}
