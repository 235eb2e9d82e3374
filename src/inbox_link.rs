//! Signed links to one recipient's inbox, over the token functions of
//! `sql/schema/11_inbox.sql`: a back-office application hands its user
//! `/inbox/{recipient}?token=…`, and whoever holds the token reaches that inbox, for what the
//! token's scope grants, until it ends, and nothing else.

use crate::domain::RecipientKey;
use crate::inbox::InboxEntry;
use crate::url::percent_encode;
use crate::{Db, Error, Result};

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read the inbox and mark messages read.
    Inbox,
    /// Only count the unread: the bell, which other pages embed.
    Count,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Inbox => "inbox",
            Scope::Count => "count",
        }
    }
}

/// The token of `recipient`'s inbox link: an HMAC, with the recipient's own secret, of the
/// key, the scope and when it ends (`valid_for`, a PostgreSQL interval; `None`: never).
pub async fn token(
    pool: &Db,
    recipient: &RecipientKey,
    scope: Scope,
    valid_for: Option<&str>,
) -> Result<String> {
    sqlx::query_scalar("SELECT msgpool.inbox_token($1, $2, $3::interval)")
        .bind(recipient.as_str())
        .bind(scope.as_str())
        .bind(valid_for)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!(
            "making the inbox link of {recipient}"
        )))
}

/// The path of `recipient`'s inbox page with its token, as the console serves it
/// (`/inbox/{recipient}?token=…`); prefix it with where the console is reached.
pub fn path(recipient: &str, token: &str) -> String {
    format!(
        "/inbox/{}?token={}",
        percent_encode(recipient),
        percent_encode(token)
    )
}

/// A new secret for `recipient` (or, with `None`, everyone): every link given out so far
/// stops working. Returns how many recipients got one.
pub async fn rotate_secret(pool: &Db, recipient: Option<&RecipientKey>) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.inbox_rotate_secret($1)")
        .bind(recipient.map(RecipientKey::as_str))
        .fetch_one(pool)
        .await
        .map_err(Error::from_database("rotating the inbox links' secret"))
}

/// One recipient's inbox as its link reaches it: every call checks the token first (MP017).
#[derive(Debug, Clone)]
pub struct LinkedInbox<'a> {
    pub recipient: &'a str,
    pub token: &'a str,
}

impl LinkedInbox<'_> {
    /// A page (from 1), unread first, then newest first.
    pub async fn list(&self, pool: &Db, page: i32, page_size: i32) -> Result<Vec<InboxEntry>> {
        sqlx::query_as("SELECT * FROM msgpool.signed_inbox_list($1, $2, $3, $4)")
            .bind(self.recipient)
            .bind(self.token)
            .bind(page)
            .bind(page_size)
            .fetch_all(pool)
            .await
            .map_err(self.context("reading"))
    }

    pub async fn unread_count(&self, pool: &Db) -> Result<i64> {
        sqlx::query_scalar("SELECT msgpool.signed_inbox_unread_count($1, $2)")
            .bind(self.recipient)
            .bind(self.token)
            .fetch_one(pool)
            .await
            .map_err(self.context("counting"))
    }

    /// One message in full; opening it marks it read.
    pub async fn show(&self, pool: &Db, id: i64) -> Result<InboxEntry> {
        sqlx::query_as("SELECT * FROM msgpool.signed_inbox_show($1, $2, $3)")
            .bind(self.recipient)
            .bind(self.token)
            .bind(id)
            .fetch_one(pool)
            .await
            .map_err(self.context("opening a message of"))
    }

    /// Marks the given messages (all, for `None`) read; returns how many changed.
    pub async fn mark_read(&self, pool: &Db, ids: Option<&[i64]>) -> Result<i32> {
        sqlx::query_scalar("SELECT msgpool.signed_inbox_mark_read($1, $2, $3)")
            .bind(self.recipient)
            .bind(self.token)
            .bind(ids)
            .fetch_one(pool)
            .await
            .map_err(self.context("marking read"))
    }

    fn context(&self, doing: &str) -> impl FnOnce(sqlx::Error) -> Error {
        Error::from_database(format!("{doing} the inbox of {}", self.recipient))
    }
}
