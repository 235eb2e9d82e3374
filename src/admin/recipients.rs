//! Recipients: people and chat groups, with the contacts each channel needs.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Keyed;
use crate::domain::{RecipientKey, WebhookFlavor};
use crate::{Db, Error, Result};

/// A recipient as administrators see it: the webhook secret is never shown, and the
/// webhook URL only with its query values (robots' credentials) redacted.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Recipient {
    #[sqlx(try_from = "String")]
    pub key: RecipientKey,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    #[sqlx(try_from = "String")]
    pub webhook_flavor: WebhookFlavor,
    pub has_webhook_secret: bool,
    pub enabled: bool,
    pub groups: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT key, name, email, phone, msgpool.redacted_url(webhook_url) AS webhook_url,
                    webhook_flavor::text AS webhook_flavor,
                    webhook_secret IS NOT NULL AS has_webhook_secret, enabled,
                    ARRAY(SELECT m.group_key::text FROM msgpool.group_member m
                           WHERE m.recipient_key = r.key ORDER BY 1) AS groups,
                    created_at, updated_at
               FROM msgpool.recipient r ",
            $rest
        )
    };
}

/// Contacts to add or change. `None` leaves a field as it is; `Some("")` clears it.
#[derive(Debug, Clone, Default)]
pub struct RecipientSpec {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_flavor: Option<WebhookFlavor>,
    pub webhook_secret: Option<String>,
}

pub async fn add(pool: &Db, key: &RecipientKey, spec: &RecipientSpec) -> Result<Recipient> {
    let name = spec.name.as_deref();
    Keyed::Recipient
        .add(pool, key.as_str(), name, async |conn| {
            apply(conn, key, spec).await
        })
        .await
}

pub async fn edit(pool: &Db, key: &RecipientKey, spec: &RecipientSpec) -> Result<Recipient> {
    Keyed::Recipient
        .edit(pool, key.as_str(), async |conn| {
            apply(conn, key, spec).await
        })
        .await
}

/// Updates, then reads the row as it now is: a statement's CTE would see it as it was.
async fn apply(
    conn: &mut PgConnection,
    key: &RecipientKey,
    spec: &RecipientSpec,
) -> sqlx::Result<Option<Recipient>> {
    let updated = sqlx::query(
        "UPDATE msgpool.recipient SET
             name           = coalesce($2, name),
             email          = CASE WHEN $3::text IS NULL THEN email ELSE nullif($3, '') END,
             phone          = CASE WHEN $4::text IS NULL THEN phone ELSE nullif($4, '') END,
             webhook_url    = CASE WHEN $5::text IS NULL THEN webhook_url ELSE nullif($5, '') END,
             webhook_flavor = coalesce($6::text::msgpool.webhook_flavor, webhook_flavor),
             webhook_secret = CASE WHEN $7::text IS NULL THEN webhook_secret ELSE nullif($7, '') END
           WHERE key = $1",
    )
    .bind(key.as_str())
    .bind(spec.name.as_deref())
    .bind(spec.email.as_deref())
    .bind(spec.phone.as_deref())
    .bind(spec.webhook_url.as_deref())
    .bind(spec.webhook_flavor.map(WebhookFlavor::as_str))
    .bind(spec.webhook_secret.as_deref())
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

pub async fn list(pool: &Db) -> Result<Vec<Recipient>> {
    sqlx::query_as(select!("ORDER BY key"))
        .fetch_all(pool)
        .await
        .map_err(Error::from_database("listing recipients"))
}

pub async fn get(pool: &Db, key: &RecipientKey) -> Result<Recipient> {
    let found = sqlx::query_as(select!("WHERE key = $1"))
        .bind(key.as_str())
        .fetch_optional(pool)
        .await
        .map_err(Error::from_database(format!("reading recipient {key}")))?;
    Keyed::Recipient.found(pool, key.as_str(), found).await
}

pub async fn set_enabled(pool: &Db, key: &RecipientKey, enabled: bool) -> Result<Recipient> {
    Keyed::Recipient
        .set_enabled(pool, key.as_str(), enabled)
        .await?;
    get(pool, key).await
}

/// Removes a recipient nobody has sent anything to yet; one with deliveries is refused with
/// the advice to disable it. Group memberships and subscriptions go with it.
pub async fn remove(pool: &Db, key: &RecipientKey) -> Result<()> {
    let gone = sqlx::query("DELETE FROM msgpool.recipient WHERE key = $1")
        .bind(key.as_str())
        .execute(pool)
        .await
        // A recipient with deliveries is refused by the recipient_guard trigger, with its own
        // message and a "disable them instead" hint.
        .map_err(Error::from_database(format!("removing recipient {key}")))?;
    if gone.rows_affected() == 0 {
        return Err(Keyed::Recipient.not_found(pool, key.as_str()).await);
    }
    Ok(())
}
