//! Subscriptions: which recipients and groups hear about a message type, on which channels.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Keyed;
use crate::domain::{Channels, RecipientKey, TypeKey};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "key", rename_all = "snake_case")]
pub enum Subscriber {
    Recipient(RecipientKey),
    Group(RecipientKey),
}

impl Subscriber {
    fn keyed(&self) -> (Keyed, &RecipientKey) {
        match self {
            Subscriber::Recipient(k) => (Keyed::Recipient, k),
            Subscriber::Group(k) => (Keyed::Group, k),
        }
    }
}

impl std::fmt::Display for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subscriber::Recipient(k) => write!(f, "recipient {k}"),
            Subscriber::Group(k) => write!(f, "group {k}"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub type_key: TypeKey,
    pub subscriber: Subscriber,
    /// `None`: every channel of the type.
    pub channels: Option<Channels>,
    /// Kept, but receives nothing until resumed.
    pub paused: bool,
    pub created_at: DateTime<Utc>,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Subscription {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let decode = |e: crate::Error| sqlx::Error::Decode(e.into());
        let recipient: Option<String> = row.try_get("recipient_key")?;
        let group: Option<String> = row.try_get("group_key")?;
        // a recipient's listing names the group a subscription comes through
        let subscriber = match (recipient, group) {
            (_, Some(g)) => Subscriber::Group(RecipientKey::parse(&g).map_err(decode)?),
            (Some(r), None) => Subscriber::Recipient(RecipientKey::parse(&r).map_err(decode)?),
            (None, None) => {
                return Err(sqlx::Error::Decode(
                    "subscription without a subscriber".into(),
                ));
            }
        };
        let channels: Option<Vec<String>> = row.try_get("channels")?;
        Ok(Subscription {
            type_key: TypeKey::parse(row.try_get("type_key")?).map_err(decode)?,
            subscriber,
            channels: channels
                .map(Channels::try_from)
                .transpose()
                .map_err(decode)?,
            paused: row.try_get("paused")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Subscribes a recipient or group to a type, or changes the channels of an existing
/// subscription. `channels: None` means all of the type's channels.
pub async fn subscribe(
    pool: &Db,
    type_key: &TypeKey,
    subscriber: &Subscriber,
    channels: Option<&Channels>,
) -> Result<Subscription> {
    Keyed::MessageType.require(pool, type_key.as_str()).await?;
    let (keyed, key) = subscriber.keyed();
    keyed.require(pool, key.as_str()).await?;
    let sql = match subscriber {
        Subscriber::Recipient(_) => {
            "INSERT INTO msgpool.subscription (type_key, recipient_key, channels)
             VALUES ($1, $2, $3::text[]::msgpool.channel[])
             ON CONFLICT (type_key, recipient_key) WHERE recipient_key IS NOT NULL
               DO UPDATE SET channels = EXCLUDED.channels
             RETURNING type_key, recipient_key, group_key, channels::text[] AS channels, paused, created_at"
        }
        Subscriber::Group(_) => {
            "INSERT INTO msgpool.subscription (type_key, group_key, channels)
             VALUES ($1, $2, $3::text[]::msgpool.channel[])
             ON CONFLICT (type_key, group_key) WHERE group_key IS NOT NULL
               DO UPDATE SET channels = EXCLUDED.channels
             RETURNING type_key, recipient_key, group_key, channels::text[] AS channels, paused, created_at"
        }
    };
    sqlx::query_as(sql)
        .bind(type_key.as_str())
        .bind(key.as_str())
        .bind(channels.map(Channels::names))
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "subscribing {subscriber} to {type_key}"
        )))
}

pub async fn unsubscribe(pool: &Db, type_key: &TypeKey, subscriber: &Subscriber) -> Result<()> {
    change(
        pool,
        "DELETE FROM msgpool.subscription",
        type_key,
        subscriber,
        None,
        "unsubscribing",
    )
    .await
}

/// Pauses (kept, receives nothing) or resumes a subscription.
pub async fn set_paused(
    pool: &Db,
    type_key: &TypeKey,
    subscriber: &Subscriber,
    paused: bool,
) -> Result<()> {
    let doing = if paused { "pausing" } else { "resuming" };
    change(
        pool,
        "UPDATE msgpool.subscription SET paused = $4",
        type_key,
        subscriber,
        Some(paused),
        doing,
    )
    .await
}

/// Runs `statement` (a DELETE or UPDATE of msgpool.subscription, `$4` its value) on the one
/// subscription of `subscriber` to `type_key`; refused when there is none.
async fn change(
    pool: &Db,
    statement: &'static str,
    type_key: &TypeKey,
    subscriber: &Subscriber,
    value: Option<bool>,
    doing: &str,
) -> Result<()> {
    let (by_recipient, key) = match subscriber {
        Subscriber::Recipient(k) => (true, k),
        Subscriber::Group(k) => (false, k),
    };
    let sql = format!(
        "{statement} WHERE type_key = $1 AND CASE WHEN $3 THEN recipient_key = $2 ELSE group_key = $2 END"
    );
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(type_key.as_str())
        .bind(key.as_str())
        .bind(by_recipient)
        .bind(value)
        .execute(pool)
        .await
        .map_err(Error::from_database(format!(
            "{doing} the subscription of {subscriber} to {type_key}"
        )))?;
    if changed.rows_affected() == 0 {
        return Err(Error::not_found(
            format!("{subscriber} is not subscribed to {type_key}"),
            Some(format!(
                "see the subscriptions with: msgpool subscriptions --type {type_key}"
            )),
        ));
    }
    Ok(())
}

/// The subscriptions matching every filter given; a recipient's include those of their
/// groups (`msgpool.subscriptions()`).
pub async fn list(
    pool: &Db,
    type_key: Option<&TypeKey>,
    recipient: Option<&RecipientKey>,
    group: Option<&RecipientKey>,
) -> Result<Vec<Subscription>> {
    sqlx::query_as(
        "SELECT type_key, recipient_key, group_key, channels::text[] AS channels, paused, created_at
           FROM msgpool.subscriptions($1, $2, $3)",
    )
    .bind(type_key.map(TypeKey::as_str))
    .bind(recipient.map(RecipientKey::as_str))
    .bind(group.map(RecipientKey::as_str))
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("listing subscriptions"))
}

pub async fn for_type(pool: &Db, type_key: &TypeKey) -> Result<Vec<Subscription>> {
    list(pool, Some(type_key), None, None).await
}
