//! Administration: thin typed wrappers over the configuration tables of `sql/`. The tables'
//! constraints and the SQL functions are the rules, and word the refusals ("did you mean",
//! "disable instead"); these functions map rows to types.

pub mod console_users;
pub mod groups;
pub mod message_types;
pub mod producers;
pub mod quiet_hours;
pub mod rate_limits;
pub mod recipients;
pub mod robot_limits;
pub mod subscriptions;
pub mod templates;
pub mod type_form;

use sqlx::{PgConnection, PgExecutor};

use crate::{Db, Error, Result};

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

    /// The SQL function that refuses a key naming nothing, with the nearest key as the hint.
    fn require_sql(self) -> &'static str {
        match self {
            Keyed::MessageType => "SELECT msgpool.require_type($1)",
            Keyed::Recipient => "SELECT msgpool.require_recipient($1)",
            Keyed::Group => "SELECT msgpool.require_group($1)",
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
        pool: &crate::Db,
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

    /// The refusal of a key that names nothing, as the database words it ("unknown message
    /// type 'x'", with the nearest key as the hint).
    pub(crate) async fn not_found<'e>(self, db: impl PgExecutor<'e>, key: &str) -> Error {
        match self.require(db, key).await {
            Err(refused) => refused,
            // it was added meanwhile
            Ok(()) => Error::not_found(format!("{} {key} changed meanwhile", self.noun()), None),
        }
    }

    /// The row a lookup found, or the not-found error with its suggestion.
    pub(crate) async fn found<T>(self, pool: &Db, key: &str, row: Option<T>) -> Result<T> {
        match row {
            Some(row) => Ok(row),
            None => Err(self.not_found(pool, key).await),
        }
    }

    /// Ok when `key` names a row, else the database's refusal with its suggestion.
    pub(crate) async fn require<'e>(self, db: impl PgExecutor<'e>, key: &str) -> Result<()> {
        sqlx::query(self.require_sql())
            .bind(key)
            .execute(db)
            .await
            .map(drop)
            .map_err(Error::from_database(format!(
                "looking up {} {key}",
                self.noun()
            )))
    }

    /// Adds the row `key` with its `name` and, in the same transaction, the rest of its
    /// settings (`apply`, which reads the row back); returns the row as it then is.
    pub(crate) async fn add<T>(
        self,
        pool: &Db,
        key: &str,
        name: Option<&str>,
        apply: impl AsyncFnOnce(&mut PgConnection) -> sqlx::Result<Option<T>>,
    ) -> Result<T> {
        let noun = self.noun();
        let name = name
            .ok_or_else(|| Error::invalid(format!("a new {noun} needs a name"), "give --name"))?;
        let context = format!("adding {noun} {key}");
        let mut tx = pool.begin().await.map_err(Error::from_database(&context))?;
        sqlx::query(self.insert_sql())
            .bind(key)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_database(&context))?;
        let added = apply(&mut tx)
            .await
            .map_err(Error::from_database(&context))?;
        tx.commit().await.map_err(Error::from_database(&context))?;
        added.ok_or_else(|| {
            Error::not_found(format!("{noun} {key} vanished while being added"), None)
        })
    }

    /// Changes the row `key` with `apply` (which reads it back) in one transaction; a key
    /// that names nothing is refused with the nearest one.
    pub(crate) async fn edit<T>(
        self,
        pool: &Db,
        key: &str,
        apply: impl AsyncFnOnce(&mut PgConnection) -> sqlx::Result<Option<T>>,
    ) -> Result<T> {
        let context = format!("changing {} {key}", self.noun());
        let mut tx = pool.begin().await.map_err(Error::from_database(&context))?;
        let changed = apply(&mut tx)
            .await
            .map_err(Error::from_database(&context))?;
        tx.commit().await.map_err(Error::from_database(&context))?;
        self.found(pool, key, changed).await
    }

    pub(crate) fn insert_sql(self) -> &'static str {
        match self {
            Keyed::MessageType => "INSERT INTO msgpool.message_type (key, name) VALUES ($1, $2)",
            Keyed::Recipient => "INSERT INTO msgpool.recipient (key, name) VALUES ($1, $2)",
            Keyed::Group => "INSERT INTO msgpool.recipient_group (key, name) VALUES ($1, $2)",
        }
    }
}
