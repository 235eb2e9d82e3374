//! Administration: thin typed wrappers over the configuration tables of `sql/`. The tables'
//! constraints are the rules; these functions add the "did you mean" and "disable instead"
//! that make a refusal useful.

pub mod groups;
pub mod message_types;
pub mod quiet_hours;
pub mod rate_limits;
pub mod recipients;
pub mod subscriptions;
pub mod templates;

use sqlx::PgExecutor;

use crate::{Error, Result};

/// The configuration tables whose rows are named by a key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keyed {
    MessageType,
    Recipient,
    Group,
}

impl Keyed {
    fn noun(self) -> &'static str {
        match self {
            Keyed::MessageType => "message type",
            Keyed::Recipient => "recipient",
            Keyed::Group => "group",
        }
    }

    fn list_command(self) -> &'static str {
        match self {
            Keyed::MessageType => "msgpool type list",
            Keyed::Recipient => "msgpool recipient list",
            Keyed::Group => "msgpool group list",
        }
    }

    fn nearest_sql(self) -> &'static str {
        match self {
            Keyed::MessageType => {
                "SELECT msgpool.nearest_key($1, ARRAY(SELECT key::text FROM msgpool.message_type))"
            }
            Keyed::Recipient => {
                "SELECT msgpool.nearest_key($1, ARRAY(SELECT key::text FROM msgpool.recipient))"
            }
            Keyed::Group => {
                "SELECT msgpool.nearest_key($1, ARRAY(SELECT key::text FROM msgpool.recipient_group))"
            }
        }
    }

    fn exists_sql(self) -> &'static str {
        match self {
            Keyed::MessageType => {
                "SELECT EXISTS (SELECT 1 FROM msgpool.message_type WHERE key = $1)"
            }
            Keyed::Recipient => "SELECT EXISTS (SELECT 1 FROM msgpool.recipient WHERE key = $1)",
            Keyed::Group => "SELECT EXISTS (SELECT 1 FROM msgpool.recipient_group WHERE key = $1)",
        }
    }

    fn set_enabled_sql(self) -> Option<&'static str> {
        match self {
            Keyed::MessageType => {
                Some("UPDATE msgpool.message_type SET enabled = $2 WHERE key = $1")
            }
            Keyed::Recipient => Some("UPDATE msgpool.recipient SET enabled = $2 WHERE key = $1"),
            Keyed::Group => None,
        }
    }

    /// Enables or disables the row `key` names (types and recipients).
    pub(crate) async fn set_enabled(
        self,
        pool: &sqlx::PgPool,
        key: &str,
        enabled: bool,
    ) -> Result<()> {
        let Some(sql) = self.set_enabled_sql() else {
            return Err(Error::invalid(
                format!("a {} cannot be disabled", self.noun()),
                "remove it, or remove its members, instead",
            ));
        };
        let changed = sqlx::query(sql)
            .bind(key)
            .bind(enabled)
            .execute(pool)
            .await
            .map_err(Error::from_database(format!(
                "changing {} {key}",
                self.noun()
            )))?;
        if changed.rows_affected() == 0 {
            return Err(self.not_found(pool, key).await);
        }
        Ok(())
    }

    /// "unknown message type 'x'", with the nearest existing key as the hint.
    pub(crate) async fn not_found<'e>(self, db: impl PgExecutor<'e>, key: &str) -> Error {
        let nearest: Option<String> = sqlx::query_scalar(self.nearest_sql())
            .bind(key)
            .fetch_one(db)
            .await
            .unwrap_or_default();
        let hint = match nearest {
            Some(n) => format!("did you mean '{n}'?"),
            None => format!("see them with: {}", self.list_command()),
        };
        Error::not_found(format!("unknown {} '{key}'", self.noun()), Some(hint))
    }

    /// The row a lookup found, or the not-found error with its suggestion.
    pub(crate) async fn found<T>(
        self,
        pool: &sqlx::PgPool,
        key: &str,
        row: Option<T>,
    ) -> Result<T> {
        match row {
            Some(row) => Ok(row),
            None => Err(self.not_found(pool, key).await),
        }
    }

    /// Ok when `key` names a row, else the not-found error with its suggestion.
    pub(crate) async fn require(self, pool: &sqlx::PgPool, key: &str) -> Result<()> {
        let exists: bool = sqlx::query_scalar(self.exists_sql())
            .bind(key)
            .fetch_one(pool)
            .await
            .map_err(Error::from_database(format!(
                "looking up {} {key}",
                self.noun()
            )))?;
        if exists {
            Ok(())
        } else {
            Err(self.not_found(pool, key).await)
        }
    }
}
