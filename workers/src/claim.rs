//! Claiming deliveries: one call of `msgpool.claim_deliveries`, which leases a batch of a
//! channel's due deliveries and returns everything needed to render and send them.

use chrono::{DateTime, Utc};
use msgpool::domain::Channel;
use sqlx::{FromRow, PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub lease_token: Uuid,
    pub attempt: i32,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub message_id: i64,
    pub payload: serde_json::Value,
    pub duplicate_count: i32,
    pub created_at: DateTime<Utc>,
    pub urgency: String,
    pub type_key: String,
    pub type_name: String,
    pub category: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub recipient_key: String,
    pub recipient_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
    /// Parsed where it is used: a flavor newer than this worker parks only its delivery.
    pub webhook_flavor: String,
    pub webhook_secret: Option<String>,
}

/// Leases up to `batch_size` due deliveries of `channel` for `lease` (a PostgreSQL interval).
/// A row this worker cannot read (say, a webhook flavor added to the schema after this
/// worker was built) is parked as dead with the reason, so it never holds up the rest.
pub async fn claim(
    pool: &PgPool,
    channel: Channel,
    batch_size: i32,
    lease: &str,
) -> sqlx::Result<Vec<ClaimedDelivery>> {
    let rows = sqlx::query(
        "SELECT id, lease_token, attempt, channel::text AS channel, message_id, payload, duplicate_count,
                created_at, urgency::text AS urgency, type_key, type_name, category, subject, body,
                recipient_key, recipient_name, email, phone, webhook_url, webhook_flavor::text AS webhook_flavor,
                webhook_secret
           FROM msgpool.claim_deliveries($1::text::msgpool.channel, $2, $3::interval)",
    )
    .bind(channel.as_str())
    .bind(batch_size)
    .bind(lease)
    .fetch_all(pool)
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in &rows {
        match ClaimedDelivery::from_row(row) {
            Ok(delivery) => claimed.push(delivery),
            Err(e) => {
                let id: i64 = row.try_get("id")?;
                let token: Uuid = row.try_get("lease_token")?;
                tracing::warn!(delivery = id, error = %e, "cannot read a claimed delivery; parking it");
                unreadable.push(serde_json::json!({
                    "id": id, "token": token, "outcome": "dead",
                    "error": format!("this worker cannot read the delivery: {e}"),
                }));
            }
        }
    }
    if !unreadable.is_empty() {
        sqlx::query("SELECT msgpool.record_outcomes($1)")
            .bind(serde_json::Value::Array(unreadable))
            .execute(pool)
            .await?;
    }
    Ok(claimed)
}
