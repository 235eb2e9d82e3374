//! Claiming deliveries: one call of `msgpool.claim_deliveries` (sql/schema/09_claim.sql),
//! which leases a batch of a channel's due deliveries and returns everything needed to
//! render and send them. Deliveries that share a lease token are one digest: the first (the
//! lead) carries the others.

use std::collections::HashMap;
use std::sync::Arc;

use msgpool::contract::{JsonText, Known};
use msgpool::domain::{Channel, Urgency, WebhookFlavor};
use msgpool::{Db, sql_record};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::destinations::Slot;

sql_record! {
    /// One row of a claim: `msgpool.claimed_delivery`.
    #[derive(Debug, Clone, sqlx::FromRow)]
    pub struct ClaimedDelivery: "msgpool.claimed_delivery" {
        pub id: i64,
        pub lease_token: Uuid,
        pub attempt: i32,
        pub channel: Channel,
        pub message_id: i64,
        pub payload: JsonText,
        pub duplicate_count: i32,
        /// In the type's time zone with its offset, e.g. `2026-12-02 23:15:17+08:00`.
        pub created_at: String,
        /// Read leniently, as is the flavor: a value newer than this worker parks only its
        /// delivery.
        pub urgency: Known<Urgency>,
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
        pub webhook_flavor: Known<WebhookFlavor>,
        pub webhook_secret: Option<String>,
        pub digest_subject: Option<String>,
        pub digest_body: Option<String>,
        pub html_body: Option<String>,
        /// The same on every send of this delivery, for receivers to recognise a repeat.
        pub identity: String,
    }
}

/// What one send covers: a claimed delivery, those gathered into its digest (empty: a single
/// message), and, once a queue hands it out, its place at its destination.
#[derive(Debug)]
pub struct Claim {
    pub lead: ClaimedDelivery,
    pub gathered: Vec<ClaimedDelivery>,
    pub slot: Option<Arc<Slot>>,
}

impl Claim {
    /// How many deliveries it holds, as a claim's batch size counts them.
    pub fn deliveries(&self) -> usize {
        1 + self.gathered.len()
    }

    /// The bytes of its payloads, as they arrived.
    pub fn payload_bytes(&self) -> usize {
        self.lead.payload.0.len()
            + self
                .gathered
                .iter()
                .map(|g| g.payload.0.len())
                .sum::<usize>()
    }
}

/// Leases up to `batch_size` due deliveries of `channel` for `lease` (a PostgreSQL interval).
/// The payload arrives as text ([`JsonText`]): one this worker cannot read parks only its
/// own delivery, where it is read.
pub async fn claim(
    pool: &Db,
    channel: Channel,
    batch_size: i32,
    lease: &str,
) -> sqlx::Result<Vec<Claim>> {
    sqlx::query_as("SELECT * FROM msgpool.claim_deliveries($1, $2, $3::interval)")
        .bind(channel)
        .bind(batch_size)
        .bind(lease)
        .fetch_all(pool)
        .await
        .map(gather)
}

/// Expands due messages and leases the due deliveries of `channels`, in one round trip
/// (`msgpool.expand_and_claim`): an idle worker's way to answer a lone message quickly.
pub async fn expand_and_claim(
    conn: &mut PgConnection,
    channels: &[Channel],
    batch_size: i32,
    lease: &str,
) -> sqlx::Result<Vec<Claim>> {
    sqlx::query_as("SELECT * FROM msgpool.expand_and_claim($1, $2, $3::interval)")
        .bind(batch_size)
        .bind(channels)
        .bind(lease)
        .fetch_all(conn)
        .await
        .map(gather)
}

/// Folds rows sharing a lease token into the first of them (the lowest id: the lead).
fn gather(rows: Vec<ClaimedDelivery>) -> Vec<Claim> {
    let mut claims: Vec<Claim> = Vec::with_capacity(rows.len());
    let mut lead_of: HashMap<Uuid, usize> = HashMap::new();
    for row in rows {
        match lead_of.get(&row.lease_token) {
            Some(&lead) => claims[lead].gathered.push(row),
            None => {
                lead_of.insert(row.lease_token, claims.len());
                claims.push(Claim {
                    lead: row,
                    gathered: Vec::new(),
                    slot: None,
                });
            }
        }
    }
    claims
}
