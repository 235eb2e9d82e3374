//! Chat robots' limits (`msgpool.robot_limit`): at most so many posts per window to one robot,
//! by flavor. The defaults are what each platform documents; over a limit, posts wait.

use serde::Serialize;

use crate::domain::WebhookFlavor;
use crate::{Db, Error, Result};

/// At most `max_sends` per `per` to one robot of `flavor`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RobotLimit {
    #[sqlx(try_from = "String")]
    pub flavor: WebhookFlavor,
    pub max_sends: i32,
    /// A PostgreSQL interval, e.g. `00:01:00`.
    pub per: String,
}

const COLUMNS: &str = "flavor::text AS flavor, max_sends, per::text AS per";

/// Sets the limit of `flavor` for the window `per` (a PostgreSQL interval, e.g. `1 minute`).
pub async fn set(
    pool: &Db,
    flavor: WebhookFlavor,
    max_sends: i32,
    per: &str,
) -> Result<RobotLimit> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO msgpool.robot_limit AS l (flavor, max_sends, per)
         VALUES ($1::text::msgpool.webhook_flavor, $2, $3::interval)
         ON CONFLICT (flavor, per) DO UPDATE SET max_sends = excluded.max_sends
         RETURNING {COLUMNS}"
    )))
    .bind(flavor.as_str())
    .bind(max_sends)
    .bind(per)
    .fetch_one(pool)
    .await
    .map_err(Error::from_database(format!(
        "setting the robot limit of {flavor}"
    )))
}

pub async fn list(pool: &Db) -> Result<Vec<RobotLimit>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM msgpool.robot_limit ORDER BY flavor, per DESC"
    )))
    .fetch_all(pool)
    .await
    .map_err(Error::from_database("listing robot limits"))
}

/// Lifts the limit of `flavor` for the window `per`.
pub async fn remove(pool: &Db, flavor: WebhookFlavor, per: &str) -> Result<()> {
    let removed = sqlx::query(
        "DELETE FROM msgpool.robot_limit
          WHERE flavor = $1::text::msgpool.webhook_flavor AND per = $2::interval",
    )
    .bind(flavor.as_str())
    .bind(per)
    .execute(pool)
    .await
    .map_err(Error::from_database(format!(
        "removing the robot limit of {flavor}"
    )))?;
    if removed.rows_affected() == 0 {
        return Err(Error::not_found(
            format!("{flavor} has no robot limit per {per}"),
            Some("see them with: msgpool rate-limit list".to_owned()),
        ));
    }
    Ok(())
}
