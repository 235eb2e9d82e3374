//! The in-site inbox of a recipient, over the inbox functions of `sql/schema/11_inbox.sql`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{RecipientKey, TypeKey, Urgency};
use crate::{Db, Error, Result, sql_record};

sql_record! {
    /// An inbox message as pages show it: `msgpool.inbox_entry`.
    #[derive(Debug, Clone, Serialize, sqlx::FromRow)]
    pub struct InboxEntry: "msgpool.inbox_entry" {
        pub id: i64,
        pub recipient_key: String,
        pub message_id: Option<i64>,
        pub delivery_id: Option<i64>,
        pub type_key: TypeKey,
        pub urgency: Urgency,
        pub subject: String,
        pub body: String,
        pub created_at: DateTime<Utc>,
        pub read_at: Option<DateTime<Utc>>,
        pub archived_at: Option<DateTime<Utc>>,
        /// Repeats of the message counted by dedup, also after this row was written.
        pub duplicate_count: i32,
        pub last_seen_at: DateTime<Utc>,
    }
}

/// Which page of whose inbox.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub unread_only: bool,
    /// The archived messages instead of the inbox.
    pub archived: bool,
    /// From 1.
    pub number: i32,
    pub size: i32,
}

/// One page of a recipient's inbox, unread first, then newest first.
pub async fn list(pool: &Db, recipient: &RecipientKey, page: Page) -> Result<Vec<InboxEntry>> {
    sqlx::query_as("SELECT * FROM msgpool.inbox_list($1, $2, $3, $4, $5)")
        .bind(recipient.as_str())
        .bind(page.unread_only)
        .bind(page.number)
        .bind(page.size)
        .bind(page.archived)
        .fetch_all(pool)
        .await
        .map_err(Error::from_database(format!(
            "reading the inbox of {recipient}"
        )))
}

pub async fn unread_count(pool: &Db, recipient: &RecipientKey) -> Result<i64> {
    sqlx::query_scalar("SELECT msgpool.inbox_unread_count($1)")
        .bind(recipient.as_str())
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "counting the unread inbox of {recipient}"
        )))
}

/// Marks the given inbox messages (or all, for `None`) read; returns how many changed.
pub async fn mark_read(pool: &Db, recipient: &RecipientKey, ids: Option<&[i64]>) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.inbox_mark_read($1, $2)")
        .bind(recipient.as_str())
        .bind(ids)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "marking the inbox of {recipient} read"
        )))
}

/// One inbox message in full; opening it marks it read.
pub async fn show(pool: &Db, recipient: &RecipientKey, id: i64) -> Result<InboxEntry> {
    sqlx::query_as("SELECT * FROM msgpool.inbox_show($1, $2)")
        .bind(recipient.as_str())
        .bind(id)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "reading inbox message {id} of {recipient}"
        )))
}

/// Archives (or, with `archived: false`, brings back) inbox messages; returns how many changed.
pub async fn archive(
    pool: &Db,
    recipient: &RecipientKey,
    ids: &[i64],
    archived: bool,
) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.inbox_archive($1, $2, $3)")
        .bind(recipient.as_str())
        .bind(ids)
        .bind(archived)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "archiving in the inbox of {recipient}"
        )))
}

/// Deletes inbox messages for good; returns how many.
pub async fn delete(pool: &Db, recipient: &RecipientKey, ids: &[i64]) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.inbox_delete($1, $2)")
        .bind(recipient.as_str())
        .bind(ids)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "deleting from the inbox of {recipient}"
        )))
}
