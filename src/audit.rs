//! The configuration's history (`msgpool.audit`, kept by triggers): who changed what, when,
//! from what to what.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{RecipientKey, TypeKey};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Change {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who made it: the console user the console acted for, else the login role.
    pub actor: String,
    /// The session's login role, and its application_name (msgpool-cli, psql, ...).
    pub login_role: String,
    pub application: Option<String>,
    /// The table changed, e.g. `message_type`.
    pub subject: String,
    /// `insert`, `update` or `delete`.
    pub action: String,
    pub type_key: Option<String>,
    pub recipient_key: Option<String>,
    pub group_key: Option<String>,
    pub channel: Option<String>,
    /// The fields that changed, `field: before -> after`, for an update.
    pub changed: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The newest `limit` changes, of one type and/or one recipient when given.
pub async fn list(
    pool: &Db,
    type_key: Option<&TypeKey>,
    recipient: Option<&RecipientKey>,
    limit: i64,
) -> Result<Vec<Change>> {
    sqlx::query_as(
        "SELECT a.id, a.at, a.actor, a.login_role, a.application, a.subject, a.action, a.type_key, a.recipient_key,
                a.group_key, a.channel::text AS channel,
                (SELECT string_agg(format('%s: %s -> %s', k, coalesce(a.before->>k, 'null'),
                                          coalesce(a.after->>k, 'null')), ', ' ORDER BY k)
                   FROM jsonb_object_keys(a.after) k
                  WHERE a.before->k IS DISTINCT FROM a.after->k AND a.action = 'update') AS changed,
                a.before, a.after
           FROM msgpool.audit a
          WHERE ($1::text IS NULL OR a.type_key = $1)
            AND ($2::text IS NULL OR a.recipient_key = $2)
          ORDER BY a.id DESC
          LIMIT $3",
    )
    .bind(type_key.map(TypeKey::as_str))
    .bind(recipient.map(RecipientKey::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("reading the audit trail"))
}
