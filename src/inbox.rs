//! The in-site inbox of a recipient, over the inbox functions of `sql/schema/06_inbox.sql`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::domain::{RecipientKey, Urgency};
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InboxItem {
    pub id: i64,
    pub recipient_key: String,
    pub message_id: Option<i64>,
    pub type_key: String,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// Repeats of the message counted by dedup, also after this row was written.
    pub duplicate_count: i32,
    pub last_seen_at: DateTime<Utc>,
}

/// One page (from 1) of a recipient's inbox, unread first, then newest first.
pub async fn list(
    pool: &PgPool,
    recipient: &RecipientKey,
    unread_only: bool,
    page: i32,
    page_size: i32,
) -> Result<Vec<InboxItem>> {
    sqlx::query_as(
        "SELECT id, recipient_key, message_id, type_key, urgency::text AS urgency, subject, body, created_at, read_at,
                duplicate_count, last_seen_at
           FROM msgpool.inbox_list($1, $2, $3, $4)",
    )
    .bind(recipient.as_str())
    .bind(unread_only)
    .bind(page)
    .bind(page_size)
    .fetch_all(pool)
    .await
    .map_err(Error::from_database(format!("reading the inbox of {recipient}")))
}

pub async fn unread_count(pool: &PgPool, recipient: &RecipientKey) -> Result<i64> {
    sqlx::query_scalar("SELECT msgpool.inbox_unread_count($1)")
        .bind(recipient.as_str())
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "counting the unread inbox of {recipient}"
        )))
}

/// Marks the given inbox messages (or all, for `None`) read; returns how many changed.
pub async fn mark_read(
    pool: &PgPool,
    recipient: &RecipientKey,
    ids: Option<&[i64]>,
) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.inbox_mark_read($1, $2)")
        .bind(recipient.as_str())
        .bind(ids)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "marking the inbox of {recipient} read"
        )))
}
