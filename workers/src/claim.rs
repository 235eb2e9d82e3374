//! Claiming deliveries: one call of `msgpool.claim_deliveries`, which leases a batch of a
//! channel's due deliveries and returns everything needed to render and send them.
//! Deliveries that share a lease token are one digest: the first carries the others.

use std::collections::HashMap;
use std::sync::Arc;

use msgpool::Db;
use msgpool::domain::Channel;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::destinations::Slot;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub lease_token: Uuid,
    pub attempt: i32,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub message_id: i64,
    /// The payload as the database's text: read where it is used ([`ClaimedDelivery::payload`]),
    /// so a row this worker cannot read (nested past its JSON reader's depth) parks only
    /// its own delivery instead of failing the batch's decode.
    pub payload_text: String,
    pub duplicate_count: i32,
    /// In the type's time zone with its offset, e.g. `2026-12-02 23:15:17+08:00`.
    pub created_at: String,
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
    /// The type's digest template for this channel; `None`: the built-in digest.
    pub digest_subject: Option<String>,
    pub digest_body: Option<String>,
    /// An email template's HTML part; `None`: plain text only.
    pub html_body: Option<String>,
    /// The same on every send of this delivery, for receivers to recognise a repeat.
    pub identity: String,
    /// Deliveries gathered into this one's digest (empty: a single message).
    #[sqlx(skip)]
    pub gathered: Vec<ClaimedDelivery>,
    /// Its place at its destination, taken when the queue hands it out to be sent.
    #[sqlx(skip)]
    pub slot: Option<Arc<Slot>>,
}

impl ClaimedDelivery {
    pub fn payload(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.payload_text)
            .map_err(|e| format!("this worker cannot read the payload: {e}"))
    }
}

/// The columns of a claimed delivery as [`ClaimedDelivery`] reads them.
macro_rules! claimed_columns {
    () => {
        "SELECT id, lease_token, attempt, channel::text AS channel, message_id, payload::text AS payload_text,
                duplicate_count,
                created_at, urgency::text AS urgency, type_key, type_name, category, subject, body,
                recipient_key, recipient_name, email, phone, webhook_url, webhook_flavor::text AS webhook_flavor,
                webhook_secret, digest_subject, digest_body, html_body, identity "
    };
}

/// Leases up to `batch_size` due deliveries of `channel` for `lease` (a PostgreSQL interval).
/// Every column arrives as text or a basic type, so a row always decodes; values this
/// worker does not know (a webhook flavor added after it was built) are refused where they
/// are used, parking only their delivery.
pub async fn claim(
    pool: &Db,
    channel: Channel,
    batch_size: i32,
    lease: &str,
) -> sqlx::Result<Vec<ClaimedDelivery>> {
    sqlx::query_as(concat!(
        claimed_columns!(),
        "FROM msgpool.claim_deliveries($1::text::msgpool.channel, $2, $3::interval)"
    ))
    .bind(channel.as_str())
    .bind(batch_size)
    .bind(lease)
    .fetch_all(pool)
    .await
    .map(gather)
}

/// Expands due messages and leases the due deliveries of `channels`, in one round trip
/// (`msgpool.dispatch_and_claim`): an idle worker's way to answer a lone message quickly.
pub async fn dispatch_and_claim(
    conn: &mut PgConnection,
    channels: &[Channel],
    batch_size: i32,
    lease: &str,
) -> sqlx::Result<Vec<ClaimedDelivery>> {
    let channels: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    sqlx::query_as(concat!(
        claimed_columns!(),
        "FROM msgpool.dispatch_and_claim($1, $2::text[]::msgpool.channel[], $3::interval)"
    ))
    .bind(batch_size)
    .bind(channels)
    .bind(lease)
    .fetch_all(conn)
    .await
    .map(gather)
}

/// Folds rows sharing a lease token into the first of them (the lowest id: the lead).
fn gather(rows: Vec<ClaimedDelivery>) -> Vec<ClaimedDelivery> {
    let mut leads: Vec<ClaimedDelivery> = Vec::with_capacity(rows.len());
    let mut lead_of: HashMap<Uuid, usize> = HashMap::new();
    for row in rows {
        match lead_of.get(&row.lease_token) {
            Some(&lead) => leads[lead].gathered.push(row),
            None => {
                lead_of.insert(row.lease_token, leads.len());
                leads.push(row);
            }
        }
    }
    leads
}
