//! Cancelling a message (`msgpool.cancel`): its unsent deliveries stop, what was sent stays.

use crate::{Db, Error, Result};

/// Cancels message `id`; returns how many deliveries were cancelled. An unknown id is
/// refused with SQLSTATE MP011.
pub async fn cancel(pool: &Db, id: i64) -> Result<i32> {
    sqlx::query_scalar("SELECT msgpool.cancel($1)")
        .bind(id)
        .fetch_one(pool)
        .await
        .map_err(Error::from_database(format!("cancelling message {id}")))
}
