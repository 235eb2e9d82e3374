//! Subscriptions: which recipients and groups hear about a message type, on which channels.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Keyed;
use crate::domain::{Channel, Channels, RecipientKey, TypeKey};
use crate::{Db, Error, Result, sql_record};

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

sql_record! {
    /// One subscription as `msgpool.subscriptions()` lists it: `msgpool.subscription_entry`.
    #[derive(Debug, Clone, sqlx::FromRow)]
    pub struct SubscriptionEntry: "msgpool.subscription_entry" {
        pub type_key: String,
        pub recipient_key: Option<String>,
        pub group_key: Option<String>,
        pub channels: Option<Vec<Channel>>,
        pub paused: bool,
        pub created_at: DateTime<Utc>,
    }
}

impl TryFrom<SubscriptionEntry> for Subscription {
    type Error = Error;
    fn try_from(row: SubscriptionEntry) -> Result<Self> {
        // a recipient's listing names the group a subscription comes through
        let subscriber = match (row.recipient_key, row.group_key) {
            (_, Some(g)) => Subscriber::Group(RecipientKey::parse(&g)?),
            (Some(r), None) => Subscriber::Recipient(RecipientKey::parse(&r)?),
            (None, None) => {
                return Err(Error::invalid(
                    "a subscription without a subscriber",
                    "report this: msgpool.subscriptions() returned one",
                ));
            }
        };
        Ok(Subscription {
            type_key: TypeKey::parse(&row.type_key)?,
            subscriber,
            channels: row.channels.map(Channels::new).transpose()?,
            paused: row.paused,
            created_at: row.created_at,
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
             RETURNING type_key, recipient_key, group_key, channels, paused, created_at"
        }
        Subscriber::Group(_) => {
            "INSERT INTO msgpool.subscription (type_key, group_key, channels)
             VALUES ($1, $2, $3::text[]::msgpool.channel[])
             ON CONFLICT (type_key, group_key) WHERE group_key IS NOT NULL
               DO UPDATE SET channels = EXCLUDED.channels
             RETURNING type_key, recipient_key, group_key, channels, paused, created_at"
        }
    };
    let row: SubscriptionEntry = sqlx::query_as(sql)
        .bind(type_key.as_str())
        .bind(key.as_str())
        .bind(channels.map(Channels::names))
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "subscribing {subscriber} to {type_key}"
        )))?;
    row.try_into()
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
    let rows: Vec<SubscriptionEntry> =
        sqlx::query_as("SELECT * FROM msgpool.subscriptions($1, $2, $3)")
            .bind(type_key.map(TypeKey::as_str))
            .bind(recipient.map(RecipientKey::as_str))
            .bind(group.map(RecipientKey::as_str))
            .fetch_all(pool)
            .await
            .map_err(Error::from_database("listing subscriptions"))?;
    rows.into_iter().map(Subscription::try_from).collect()
}

pub async fn for_type(pool: &Db, type_key: &TypeKey) -> Result<Vec<Subscription>> {
    list(pool, Some(type_key), None, None).await
}
